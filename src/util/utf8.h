/* utf8.h: UTF-8 validation (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
 * Pure functions, any thread. */
#ifndef SL_UTIL_UTF8_H
#define SL_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1-4) of the valid sequence starting at `s`, or 0 if it is invalid. */
size_t sl_utf8_sequence_length(const char *s, size_t avail);
bool sl_utf8_is_valid(const char *s, size_t len);

#endif
