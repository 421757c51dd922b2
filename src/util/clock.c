#include "util/clock.h"

#include <string.h>
#include <time.h>

int64_t sl_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sl_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sl_monotonic_ms(void)
{
    return sl_monotonic_us() / 1000;
}

/* Floor division: seconds and days before the epoch belong to the earlier unit. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b < 0) ? q - 1 : q;
}

/* Year, month and day of day `z` since 1970-01-01 in the proleptic Gregorian
 * calendar (Howard Hinnant's civil_from_days): what gmtime_r computes, without
 * its time-zone machinery. Exact for every int64 microsecond time. */
static void civil_from_days(int64_t z, int64_t *year, int *month, int *day)
{
    z += 719468; /* days from 0000-03-01, the start of an era's first year */
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365], from March */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11], March = 0 */
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

static char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/* "YYYY-MM-DDTHH:MM:SS" of second `sec` since the epoch into prefix[19]. */
static void format_second(int64_t sec, char prefix[19])
{
    int64_t days = floor_div(sec, 86400);
    int64_t in_day = sec - days * 86400;
    int64_t year;
    int month, day;
    civil_from_days(days, &year, &month, &day);
    /* The year is clamped so the text always has the same length. */
    int y = year < 0 ? 0 : year > 9999 ? 9999 : (int)year;
    char *p = prefix;
    p = put2(p, y / 100);
    p = put2(p, y % 100);
    *p++ = '-';
    p = put2(p, month);
    *p++ = '-';
    p = put2(p, day);
    *p++ = 'T';
    p = put2(p, (int)(in_day / 3600));
    *p++ = ':';
    p = put2(p, (int)(in_day / 60 % 60));
    *p++ = ':';
    put2(p, (int)(in_day % 60));
}

/* Splits `us` into whole seconds (floor) and the microseconds after them. */
static int64_t split_us(int64_t us, int *frac)
{
    int64_t sec = us / 1000000;
    int f = (int)(us % 1000000);
    if (f < 0) {
        f += 1000000;
        sec -= 1;
    }
    *frac = f;
    return sec;
}

/* ".ffffffZ" and the NUL after the 19 chars of the prefix. */
static void format_fraction(int frac, char out[32])
{
    char *p = out + 19;
    *p++ = '.';
    for (int i = 6; i > 0; i--) {
        p[i - 1] = (char)('0' + frac % 10);
        frac /= 10;
    }
    p += 6;
    *p++ = 'Z';
    *p = '\0';
}

void sl_format_rfc3339_us(int64_t us, char out[32])
{
    int frac;
    int64_t sec = split_us(us, &frac);
    format_second(sec, out);
    format_fraction(frac, out);
}

void sl_format_rfc3339_us_cached(struct sl_rfc3339_cache *cache, int64_t us, char out[32])
{
    int frac;
    int64_t sec = split_us(us, &frac);
    if (!cache->is_valid || cache->second != sec) {
        format_second(sec, cache->prefix);
        cache->second = sec;
        cache->is_valid = true;
    }
    memcpy(out, cache->prefix, sizeof(cache->prefix));
    format_fraction(frac, out);
}
