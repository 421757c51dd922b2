/* clock.h: wall-clock and monotonic time, and RFC 3339 formatting. Any thread;
 * a struct sl_rfc3339_cache belongs to one owner. */
#ifndef SL_UTIL_CLOCK_H
#define SL_UTIL_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int64_t sl_now_us(void);       /* microseconds since the Unix epoch, UTC */
int64_t sl_monotonic_ms(void); /* milliseconds, monotonic */
int64_t sl_monotonic_us(void);

/* The length of every text sl_format_rfc3339_us writes. */
#define SL_RFC3339_US_LEN 27

/* Writes `2026-11-25T15:45:32.123456Z` (27 chars + NUL) into out[32], for any
 * `us`: UTC, proleptic Gregorian calendar (as gmtime), the year clamped to
 * 0000-9999 so the text always has the same length. */
void sl_format_rfc3339_us(int64_t us, char out[32]);

/* The date and time of the second a caller formatted last, so that times in
 * the same second (the records of one batch) skip the calendar arithmetic.
 * A zeroed struct is an empty cache. */
struct sl_rfc3339_cache {
    int64_t second;
    bool is_valid;
    char prefix[19]; /* "YYYY-MM-DDTHH:MM:SS", no NUL */
};

/* The same text as sl_format_rfc3339_us, through `cache`. */
void sl_format_rfc3339_us_cached(struct sl_rfc3339_cache *cache, int64_t us, char out[32]);

#endif
