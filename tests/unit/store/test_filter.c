/* test_filter.c: sl_filter_matches on single events (filter.h): prefixes
 * lists, exact names, PCRE2 regexes, the system-event exclusion, errors, and
 * matching from several threads at once. */
#include "store_fixture.h"

#include "store/filter.h"

static struct sl_event event_of(const char *stream, const char *type)
{
    struct sl_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.stream = stream;
    ev.stream_len = strlen(stream);
    ev.type = type;
    ev.type_len = strlen(type);
    ev.position = 1;
    return ev;
}

static struct sl_filter *filter_ok(enum sl_filter_on on, enum sl_filter_kind kind, const char *expression,
                                   bool exclude_system)
{
    struct sl_error err;
    memset(&err, 0, sizeof(err));
    struct sl_filter *f = sl_filter_new(on, kind, expression, exclude_system, &err);
    if (f == NULL)
        fail_msg("sl_filter_new(\"%s\") failed: %s", expression ? expression : "", err.message);
    return f;
}

static bool matches(const struct sl_filter *f, const char *stream, const char *type)
{
    struct sl_event ev = event_of(stream, type);
    return sl_filter_matches(f, &ev);
}

static void test_stream_prefix_list_matches_any_listed_prefix(void **state)
{
    (void)state;
    struct sl_filter *f = filter_ok(SL_FILTER_STREAM, SL_FILTER_PREFIX, "ord-,pay-", false);
    assert_true(matches(f, "ord-1", "t"));
    assert_true(matches(f, "pay-", "t"));
    assert_true(matches(f, "pay-99", "t"));
    assert_false(matches(f, "ord", "t"));
    assert_false(matches(f, "xord-1", "t"));
    assert_false(matches(f, "user-1", "ord-"));
    sl_filter_free(f);
}

static void test_stream_exact_matches_only_that_name(void **state)
{
    (void)state;
    struct sl_filter *f = filter_ok(SL_FILTER_STREAM, SL_FILTER_EXACT, "ord-1", false);
    assert_true(matches(f, "ord-1", "t"));
    assert_false(matches(f, "ord-10", "t"));
    assert_false(matches(f, "ord-", "t"));
    assert_false(matches(f, "$$ord-1", "t"));
    sl_filter_free(f);
}

static void test_exact_name_containing_a_comma_is_one_name(void **state)
{
    (void)state;
    struct sl_filter *f = filter_ok(SL_FILTER_STREAM, SL_FILTER_EXACT, "a,b", false);
    assert_true(matches(f, "a,b", "t"));
    assert_false(matches(f, "a", "t"));
    assert_false(matches(f, "b", "t"));
    sl_filter_free(f);
}

static void test_stream_regex_matches_the_stream_name(void **state)
{
    (void)state;
    struct sl_filter *f = filter_ok(SL_FILTER_STREAM, SL_FILTER_REGEX, "^ord-[0-9]+$", false);
    assert_true(matches(f, "ord-1", "t"));
    assert_true(matches(f, "ord-123", "t"));
    assert_false(matches(f, "ord-12a", "t"));
    assert_false(matches(f, "user-1", "ord-1"));
    sl_filter_free(f);
}

static void test_type_filters_look_at_the_event_type(void **state)
{
    (void)state;
    struct sl_filter *prefix = filter_ok(SL_FILTER_TYPE, SL_FILTER_PREFIX, "Order,User", false);
    assert_true(matches(prefix, "any", "OrderPlaced"));
    assert_true(matches(prefix, "any", "UserCreated"));
    assert_false(matches(prefix, "Order-stream", "PaymentTaken"));
    sl_filter_free(prefix);

    struct sl_filter *regex = filter_ok(SL_FILTER_TYPE, SL_FILTER_REGEX, "Placed$", false);
    assert_true(matches(regex, "s", "OrderPlaced"));
    assert_false(matches(regex, "Placed", "OrderPlacedAgain"));
    sl_filter_free(regex);

    struct sl_filter *exact = filter_ok(SL_FILTER_TYPE, SL_FILTER_EXACT, "OrderPlaced", false);
    assert_true(matches(exact, "s", "OrderPlaced"));
    assert_false(matches(exact, "s", "OrderPlaced2"));
    sl_filter_free(exact);
}

static void test_exclude_system_drops_dollar_streams_and_types(void **state)
{
    (void)state;
    struct sl_filter *all = filter_ok(SL_FILTER_ALL, SL_FILTER_PREFIX, NULL, true);
    assert_true(matches(all, "orders", "OrderPlaced"));
    assert_false(matches(all, "$$orders", "$metadata"));
    assert_false(matches(all, "$connectors/1", "Started"));
    assert_false(matches(all, "orders", "$snapshot"));
    sl_filter_free(all);

    struct sl_filter *everything = filter_ok(SL_FILTER_ALL, SL_FILTER_PREFIX, NULL, false);
    assert_true(matches(everything, "$$orders", "$metadata"));
    assert_true(matches(everything, "orders", "OrderPlaced"));
    sl_filter_free(everything);

    struct sl_filter *prefix = filter_ok(SL_FILTER_STREAM, SL_FILTER_PREFIX, "$$", true);
    assert_false(matches(prefix, "$$orders", "Custom"));
    sl_filter_free(prefix);
}

static void test_regex_match_uses_the_whole_name_not_a_c_string(void **state)
{
    (void)state;
    struct sl_filter *f = filter_ok(SL_FILTER_STREAM, SL_FILTER_REGEX, "^ab$", false);
    /* A name that is not NUL-terminated at stream_len: only "ab" counts. */
    struct sl_event ev = event_of("abc", "t");
    ev.stream_len = 2;
    assert_true(sl_filter_matches(f, &ev));
    sl_filter_free(f);

    struct sl_filter *p = filter_ok(SL_FILTER_STREAM, SL_FILTER_PREFIX, "abc", false);
    ev = event_of("abc", "t");
    ev.stream_len = 2;
    assert_false(sl_filter_matches(p, &ev));
    sl_filter_free(p);
}

static void test_bad_regex_is_refused_with_a_message(void **state)
{
    (void)state;
    struct sl_error err;
    memset(&err, 0, sizeof(err));
    struct sl_filter *f = sl_filter_new(SL_FILTER_STREAM, SL_FILTER_REGEX, "ord-(", false, &err);
    assert_null(f);
    assert_int_equal(err.code, SL_E_INVALID);
    assert_true(err.message[0] != '\0');
    memset(&err, 0, sizeof(err));
    f = sl_filter_new(SL_FILTER_TYPE, SL_FILTER_REGEX, "[a-", false, &err);
    assert_null(f);
    assert_true(err.message[0] != '\0');
}

static void test_filter_free_is_null_safe(void **state)
{
    (void)state;
    sl_filter_free(NULL);
}

struct matcher {
    const struct sl_filter *filter;
    int mismatches;
};

static void *match_many(void *arg)
{
    struct matcher *m = arg;
    char name[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof(name), i % 2 ? "ord-%d" : "user-%d", i);
        struct sl_event ev = event_of(name, "t");
        if (sl_filter_matches(m->filter, &ev) != (i % 2 == 1))
            m->mismatches++;
    }
    return NULL;
}

static void test_regex_filter_may_be_used_from_several_threads(void **state)
{
    (void)state;
    struct sl_filter *f = filter_ok(SL_FILTER_STREAM, SL_FILTER_REGEX, "^ord-[0-9]+$", false);
    struct matcher m[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        m[i].filter = f;
        m[i].mismatches = 0;
        pthread_create(&threads[i], NULL, match_many, &m[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(m[i].mismatches, 0);
    }
    sl_filter_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_prefix_list_matches_any_listed_prefix),
        cmocka_unit_test(test_stream_exact_matches_only_that_name),
        cmocka_unit_test(test_exact_name_containing_a_comma_is_one_name),
        cmocka_unit_test(test_stream_regex_matches_the_stream_name),
        cmocka_unit_test(test_type_filters_look_at_the_event_type),
        cmocka_unit_test(test_exclude_system_drops_dollar_streams_and_types),
        cmocka_unit_test(test_regex_match_uses_the_whole_name_not_a_c_string),
        cmocka_unit_test(test_bad_regex_is_refused_with_a_message),
        cmocka_unit_test(test_filter_free_is_null_safe),
        cmocka_unit_test(test_regex_filter_may_be_used_from_several_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
