/* test_fastrand.c: the generator behind request ids is xoshiro256**, its
 * UUIDs are version 4 in canonical text, and seeded generators neither
 * repeat nor agree with one another. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/codec.h"
#include "util/fastrand.h"

static void test_stream_is_xoshiro256_starstar(void **state)
{
    (void)state;
    /* The reference implementation's first outputs from the state {1, 2, 3, 4}. */
    struct sl_fastrand r = {{1, 2, 3, 4}};
    assert_int_equal(sl_fastrand_next(&r), UINT64_C(11520));
    assert_int_equal(sl_fastrand_next(&r), UINT64_C(0));
    assert_int_equal(sl_fastrand_next(&r), UINT64_C(1509978240));
    assert_int_equal(sl_fastrand_next(&r), UINT64_C(1215971899390074240));
}

static void test_uuids_are_version_4_with_the_rfc_4122_variant(void **state)
{
    (void)state;
    struct sl_fastrand r;
    sl_fastrand_seed(&r);
    for (int i = 0; i < 10000; i++) {
        uint8_t id[16];
        sl_fastrand_uuid(&r, id);
        assert_int_equal(id[6] >> 4, 4);
        assert_int_equal(id[8] >> 6, 2);
    }
}

static void test_uuid_text_is_the_canonical_form_of_a_version_4_uuid(void **state)
{
    (void)state;
    struct sl_fastrand r = {{5, 6, 7, 8}}, copy = r;
    char text[37];
    memset(text, 'x', sizeof(text));
    sl_fastrand_uuid_text(&r, text);
    assert_int_equal(strlen(text), 36);
    uint8_t id[16], parsed[16];
    sl_fastrand_uuid(&copy, id);
    char want[37];
    sl_uuid_format(id, want);
    assert_string_equal(text, want);
    assert_true(sl_uuid_parse(text, 36, parsed));
    assert_memory_equal(parsed, id, 16);
    assert_int_equal(text[14], '4');
    assert_non_null(strchr("89ab", text[19]));
}

static int by_bytes(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static void test_seeded_generators_do_not_repeat_ids(void **state)
{
    (void)state;
    enum { N = 100000 };
    uint8_t(*ids)[16] = malloc(2 * N * sizeof(*ids));
    assert_non_null(ids);
    struct sl_fastrand a, b;
    sl_fastrand_seed(&a);
    sl_fastrand_seed(&b);
    assert_memory_not_equal(a.s, b.s, sizeof(a.s));
    for (size_t i = 0; i < N; i++) {
        sl_fastrand_uuid(&a, ids[i]);
        sl_fastrand_uuid(&b, ids[N + i]);
    }
    qsort(ids, 2 * N, sizeof(*ids), by_bytes);
    for (size_t i = 1; i < 2 * N; i++)
        if (memcmp(ids[i - 1], ids[i], 16) == 0)
            fail_msg("id %zu repeats", i);
    free(ids);
}

static void test_seed_never_leaves_the_all_zero_state(void **state)
{
    (void)state;
    for (int i = 0; i < 100; i++) {
        struct sl_fastrand r = {{0, 0, 0, 0}};
        sl_fastrand_seed(&r);
        assert_true((r.s[0] | r.s[1] | r.s[2] | r.s[3]) != 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_is_xoshiro256_starstar),
        cmocka_unit_test(test_uuids_are_version_4_with_the_rfc_4122_variant),
        cmocka_unit_test(test_uuid_text_is_the_canonical_form_of_a_version_4_uuid),
        cmocka_unit_test(test_seeded_generators_do_not_repeat_ids),
        cmocka_unit_test(test_seed_never_leaves_the_all_zero_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
