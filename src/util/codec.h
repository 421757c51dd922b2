/* codec.h: UUIDs, base64, decimal parsing and formatting. Pure functions
 * (but sl_uuid_generate), any thread. */
#ifndef SL_UTIL_CODEC_H
#define SL_UTIL_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void sl_uuid_generate(uint8_t out[16]);
/* Parses the 36-char canonical form (case-insensitive). */
bool sl_uuid_parse(const char *s, size_t len, uint8_t out[16]);
/* Writes 36 chars + NUL, lower case. */
void sl_uuid_format(const uint8_t id[16], char out[37]);

/* Decodes standard base64 (padding optional, no whitespace). Returns a malloc'd
 * buffer the caller frees, or NULL when `in` is not valid base64 (or on OOM). */
uint8_t *sl_base64_decode(const char *in, size_t len, size_t *out_len);

/* Parses a whole string as a non-negative decimal that fits in int64. */
bool sl_parse_u63(const char *s, size_t len, int64_t *out);

/* Write `v` in decimal (as printf's %llu / %lld) + NUL; return the number of
 * chars before the NUL (at most 20). For hot paths where snprintf's parsing
 * of the format costs more than the digits. */
#define SL_DECIMAL_MAX 21
size_t sl_format_u64(uint64_t v, char out[SL_DECIMAL_MAX]);
size_t sl_format_i64(int64_t v, char out[SL_DECIMAL_MAX]);

#endif
