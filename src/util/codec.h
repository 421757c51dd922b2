/* codec.h: UUIDs, base64 and decimal parsing. Pure functions, any thread. */
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

#endif
