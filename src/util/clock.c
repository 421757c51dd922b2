#include "util/clock.h"

#include <stdio.h>
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

void sl_format_rfc3339_us(int64_t us, char out[32])
{
    time_t sec = (time_t)(us / 1000000);
    long frac = (long)(us % 1000000);
    if (frac < 0) {
        frac += 1000000;
        sec -= 1;
    }
    struct tm tm;
    gmtime_r(&sec, &tm);
    /* The year is clamped so the text always fits 32 bytes. */
    int year = tm.tm_year + 1900;
    if (year < 0 || year > 9999)
        year = year < 0 ? 0 : 9999;
    char text[96]; /* room for any int fields, as the compiler cannot see they are small */
    snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", year, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    snprintf(out, 32, "%.31s", text);
}
