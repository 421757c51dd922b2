/* clock.h: wall-clock and monotonic time, and RFC 3339 formatting. Any thread. */
#ifndef SL_UTIL_CLOCK_H
#define SL_UTIL_CLOCK_H

#include <stddef.h>
#include <stdint.h>

int64_t sl_now_us(void);       /* microseconds since the Unix epoch, UTC */
int64_t sl_monotonic_ms(void); /* milliseconds, monotonic */
int64_t sl_monotonic_us(void);

/* Writes `2026-11-25T15:45:32.123456Z` (27 chars + NUL) into out[32]. */
void sl_format_rfc3339_us(int64_t us, char out[32]);

#endif
