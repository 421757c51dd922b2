/* test_clock.c: RFC 3339 times written by hand are the text gmtime_r and
 * snprintf wrote before, for every microsecond time, with or without the
 * per-second cache. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/fastrand.h"

/* The formatter as it was (gmtime_r and snprintf): the reference. */
static void reference_rfc3339_us(int64_t us, char out[32])
{
    time_t sec = (time_t)(us / 1000000);
    long frac = (long)(us % 1000000);
    if (frac < 0) {
        frac += 1000000;
        sec -= 1;
    }
    struct tm tm;
    gmtime_r(&sec, &tm);
    int year = tm.tm_year + 1900;
    if (year < 0 || year > 9999)
        year = year < 0 ? 0 : 9999;
    char text[96];
    snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", year, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    snprintf(out, 32, "%.31s", text);
}

/* Fails unless both formatters, and the cached one through `cache`, write
 * the reference text for `us`. */
static void check_time(struct sl_rfc3339_cache *cache, int64_t us)
{
    char want[32], got[32], cached[32];
    reference_rfc3339_us(us, want);
    memset(got, 'x', sizeof(got));
    sl_format_rfc3339_us(us, got);
    if (strcmp(got, want) != 0)
        fail_msg("%lld: got %s, expected %s", (long long)us, got, want);
    memset(cached, 'x', sizeof(cached));
    sl_format_rfc3339_us_cached(cache, us, cached);
    if (strcmp(cached, want) != 0)
        fail_msg("%lld through the cache: got %s, expected %s", (long long)us, cached, want);
    assert_int_equal(strlen(got), SL_RFC3339_US_LEN);
}

static void expect_text(int64_t us, const char *want)
{
    char got[32];
    sl_format_rfc3339_us(us, got);
    assert_string_equal(got, want);
}

static void test_known_times_are_written_in_rfc3339(void **state)
{
    (void)state;
    expect_text(0, "1970-01-01T00:00:00.000000Z");
    expect_text(INT64_C(1764085532123456), "2025-11-25T15:45:32.123456Z");
    expect_text(INT64_C(951782400000000), "2000-02-29T00:00:00.000000Z");
    expect_text(INT64_C(4107456000000000), "2100-02-28T00:00:00.000000Z");
    expect_text(INT64_C(4107542400000000), "2100-03-01T00:00:00.000000Z");
    expect_text(INT64_C(253402300799999999), "9999-12-31T23:59:59.999999Z");
}

static void test_microseconds_are_padded_to_six_digits(void **state)
{
    (void)state;
    expect_text(1, "1970-01-01T00:00:00.000001Z");
    expect_text(10, "1970-01-01T00:00:00.000010Z");
    expect_text(1000, "1970-01-01T00:00:00.001000Z");
    expect_text(999999, "1970-01-01T00:00:00.999999Z");
    expect_text(1000000, "1970-01-01T00:00:01.000000Z");
}

static void test_times_before_the_epoch_count_back_from_it(void **state)
{
    (void)state;
    expect_text(-1, "1969-12-31T23:59:59.999999Z");
    expect_text(-1000000, "1969-12-31T23:59:59.000000Z");
    expect_text(-1000001, "1969-12-31T23:59:58.999999Z");
    expect_text(INT64_C(-86400000000), "1969-12-31T00:00:00.000000Z");
    expect_text(INT64_C(-62135596800000000), "0001-01-01T00:00:00.000000Z");
    expect_text(INT64_C(-62167219200000000), "0000-01-01T00:00:00.000000Z");
}

static void test_year_is_clamped_to_four_digits(void **state)
{
    (void)state;
    /* 10000-01-01 and a day before year 0: the year clamps, the rest is the real date. */
    expect_text(INT64_C(253402300800000000), "9999-01-01T00:00:00.000000Z");
    expect_text(INT64_C(-62167219200000001), "0000-12-31T23:59:59.999999Z");
    struct sl_rfc3339_cache cache = {0};
    check_time(&cache, INT64_MAX);
    check_time(&cache, INT64_MIN);
    check_time(&cache, INT64_MIN + 1);
    check_time(&cache, INT64_MAX - 999999);
}

static void test_every_kind_of_time_matches_gmtime(void **state)
{
    (void)state;
    struct sl_fastrand r = {{1, 2, 3, 4}};
    struct sl_rfc3339_cache cache = {0};
    for (int i = 0; i < 200000; i++) {
        uint64_t x = sl_fastrand_next(&r);
        int64_t us;
        switch (i % 4) {
        case 0: /* anywhere in int64 */
            us = (int64_t)x;
            break;
        case 1: /* years 0000-9999 */
            us = (int64_t)(x % UINT64_C(315569520000000000)) - INT64_C(62167219200000000);
            break;
        case 2: /* around now, a second at a time: the cache is used */
            us = INT64_C(1764085532000000) + (int64_t)(x % UINT64_C(3600000000));
            break;
        default: /* a day's edges, either side of the epoch */
            us = ((int64_t)(x % 200000) - 100000) * INT64_C(86400000000) + (int64_t)(x % 3) - 1;
        }
        check_time(&cache, us);
    }
}

static void test_cache_follows_the_second_across_boundaries(void **state)
{
    (void)state;
    struct sl_rfc3339_cache cache = {0};
    const int64_t base[] = {0, INT64_C(1764085532000000), INT64_C(-1000000), INT64_C(951868800000000)};
    for (size_t b = 0; b < sizeof(base) / sizeof(base[0]); b++) {
        /* Forwards and back over a second's edge, and the same second again. */
        const int64_t offsets[] = {-1, 0, 1, -1, 999999, 1000000, -1000000, -999999, 0, 0};
        for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++)
            check_time(&cache, base[b] + offsets[i]);
    }
}

static void test_zeroed_cache_is_empty_not_the_epoch(void **state)
{
    (void)state;
    /* second == 0 in a zeroed cache must not pass for 1970-01-01T00:00:00. */
    struct sl_rfc3339_cache cache = {0};
    char text[32];
    memset(cache.prefix, 'x', sizeof(cache.prefix));
    sl_format_rfc3339_us_cached(&cache, 5, text);
    assert_string_equal(text, "1970-01-01T00:00:00.000005Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_times_are_written_in_rfc3339),
        cmocka_unit_test(test_microseconds_are_padded_to_six_digits),
        cmocka_unit_test(test_times_before_the_epoch_count_back_from_it),
        cmocka_unit_test(test_year_is_clamped_to_four_digits),
        cmocka_unit_test(test_every_kind_of_time_matches_gmtime),
        cmocka_unit_test(test_cache_follows_the_second_across_boundaries),
        cmocka_unit_test(test_zeroed_cache_is_empty_not_the_epoch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
