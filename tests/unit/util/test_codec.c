/* test_codec.c: integers written by hand read as printf writes them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "util/codec.h"
#include "util/fastrand.h"

static void check_u64(uint64_t v)
{
    char want[32], got[SL_DECIMAL_MAX];
    int n = snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
    memset(got, 'x', sizeof(got));
    assert_int_equal(sl_format_u64(v, got), (size_t)n);
    assert_string_equal(got, want);
}

static void check_i64(int64_t v)
{
    char want[32], got[SL_DECIMAL_MAX];
    int n = snprintf(want, sizeof(want), "%lld", (long long)v);
    memset(got, 'x', sizeof(got));
    assert_int_equal(sl_format_i64(v, got), (size_t)n);
    assert_string_equal(got, want);
}

static void test_unsigned_integers_read_as_printf_writes_them(void **state)
{
    (void)state;
    /* Each side of every power of ten (10^19 is the last that fits), and the largest. */
    uint64_t p = 1;
    for (int exponent = 0; exponent <= 19; exponent++) {
        check_u64(p - 1);
        check_u64(p);
        check_u64(p + 1);
        if (exponent < 19)
            p *= 10;
    }
    check_u64(UINT64_MAX);
    struct sl_fastrand r = {{11, 22, 33, 44}};
    for (int i = 0; i < 100000; i++)
        check_u64(sl_fastrand_next(&r) >> (i % 64));
}

static void test_signed_integers_read_as_printf_writes_them(void **state)
{
    (void)state;
    const int64_t edges[] = {0, 1, -1, 9, -9, 10, -10, INT64_MAX, INT64_MIN, INT64_MIN + 1, -1234567};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        check_i64(edges[i]);
    struct sl_fastrand r = {{55, 66, 77, 88}};
    for (int i = 0; i < 100000; i++)
        check_i64((int64_t)sl_fastrand_next(&r) >> (i % 64));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unsigned_integers_read_as_printf_writes_them),
        cmocka_unit_test(test_signed_integers_read_as_printf_writes_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
