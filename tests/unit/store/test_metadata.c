/* test_metadata.c: stream metadata is the last event of `$$name`, and reads
 * of `name` honour its $maxCount, $maxAge and $tb (spec/streams.md). */
#include "store_fixture.h"

static void set_metadata(struct sl_store *store, const char *stream, const char *json)
{
    char meta_stream[SL_MAX_STREAM_NAME + 3];
    struct sl_write w;
    snprintf(meta_stream, sizeof(meta_stream), "$$%s", stream);
    enum sl_code code = append_json(store, meta_stream, rev_any(), "$metadata", json, &w);
    if (code != SL_OK)
        fail_msg("writing metadata %s to %s returned %s: %s", json, meta_stream, sl_code_name(code),
                 w.err.message);
}

/* Returns the metadata JSON (caller frees) and its revision. */
static char *get_metadata(struct sl_store *store, const char *stream, int64_t *revision)
{
    char *json = NULL;
    struct sl_error err;
    *revision = -99;
    enum sl_code code = sl_store_get_metadata(store, STR_ARGS(stream), &json, revision, &err);
    if (code != SL_OK)
        fail_msg("get_metadata(%s) returned %s: %s", stream, sl_code_name(code), err.message);
    if (json == NULL)
        fail_msg("get_metadata(%s) returned no string", stream);
    return json;
}

static void test_metadata_is_an_empty_object_when_none_was_written(void **state)
{
    struct fixture *f = *state;
    int64_t revision;
    char *json = get_metadata(f->store, "never-written", &revision);
    assert_string_equal(json, "{}");
    assert_int_equal(revision, SL_REVISION_NONE);
    free(json);

    append_ok(f->store, "plain", 2);
    json = get_metadata(f->store, "plain", &revision);
    assert_string_equal(json, "{}");
    assert_int_equal(revision, SL_REVISION_NONE);
    free(json);
}

static void test_metadata_is_the_last_event_of_the_metadata_stream(void **state)
{
    struct fixture *f = *state;
    int64_t revision;
    append_ok(f->store, "orders", 1);
    set_metadata(f->store, "orders", "{\"owner\":\"ops\"}");
    set_metadata(f->store, "orders",
                 "{\"$maxCount\": 50, \"team\": \"billing\", \"nested\": {\"a\": [1, 2]}}");

    char *json = get_metadata(f->store, "orders", &revision);
    assert_string_equal(json, "{\"$maxCount\": 50, \"team\": \"billing\", \"nested\": {\"a\": [1, 2]}}");
    assert_int_equal(revision, 1);
    free(json);

    /* The metadata stream is an ordinary (system) stream. */
    struct sl_read_result r;
    read_stream_ok(f->store, "$$orders", 0, false, 10, &r);
    assert_revisions(&r, 0, 1);
    assert_int_equal(r.events[0].type_len, strlen("$metadata"));
    assert_memory_equal(r.events[0].type, "$metadata", strlen("$metadata"));
    sl_read_result_free(&r);

    /* Metadata does not add events to the stream itself. */
    read_stream_ok(f->store, "orders", 0, false, 10, &r);
    assert_revisions(&r, 0);
    sl_read_result_free(&r);
}

static void test_metadata_survives_close_and_reopen(void **state)
{
    struct fixture *f = *state;
    int64_t revision;
    append_ok(f->store, "orders", 5);
    set_metadata(f->store, "orders", "{\"$maxCount\":2}");
    fixture_reopen(f);
    char *json = get_metadata(f->store, "orders", &revision);
    assert_string_equal(json, "{\"$maxCount\":2}");
    assert_int_equal(revision, 0);
    free(json);
    struct sl_read_result r;
    read_stream_ok(f->store, "orders", 0, false, 100, &r);
    assert_revisions(&r, 3, 4);
    sl_read_result_free(&r);
}

static void test_metadata_of_a_stream_with_a_1024_byte_name_applies(void **state)
{
    struct fixture *f = *state;
    static char name[SL_MAX_STREAM_NAME + 1];
    memset(name, 'm', SL_MAX_STREAM_NAME);
    name[SL_MAX_STREAM_NAME] = '\0';
    append_ok(f->store, name, 5);
    set_metadata(f->store, name, "{\"$maxCount\":2}");
    int64_t revision;
    char *json = get_metadata(f->store, name, &revision);
    assert_string_equal(json, "{\"$maxCount\":2}");
    assert_int_equal(revision, 0);
    free(json);
    struct sl_read_result r;
    read_stream_ok(f->store, name, 0, false, 100, &r);
    assert_revisions(&r, 3, 4);
    sl_read_result_free(&r);

    /* A name one byte different has no metadata. */
    name[SL_MAX_STREAM_NAME - 1] = 'x';
    append_ok(f->store, name, 3);
    read_stream_ok(f->store, name, 0, false, 100, &r);
    assert_revisions(&r, 0, 1, 2);
    sl_read_result_free(&r);
}

static void test_max_count_shows_only_the_last_events(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "orders", 5);
    set_metadata(f->store, "orders", "{\"$maxCount\":2}");
    struct sl_read_result r;

    read_stream_ok(f->store, "orders", 0, false, 100, &r);
    assert_revisions(&r, 3, 4);
    assert_int_equal(r.last_revision, 4);
    sl_read_result_free(&r);

    read_stream_ok(f->store, "orders", 1, false, 100, &r);
    assert_revisions(&r, 3, 4);
    sl_read_result_free(&r);

    read_stream_ok(f->store, "orders", SL_REVISION_END, true, 100, &r);
    assert_revisions(&r, 4, 3);
    sl_read_result_free(&r);

    read_stream_ok(f->store, "orders", 2, true, 100, &r);
    assert_int_equal(r.count, 0);
    sl_read_result_free(&r);

    /* New events push older ones out. */
    append_ok(f->store, "orders", 1);
    read_stream_ok(f->store, "orders", 0, false, 100, &r);
    assert_revisions(&r, 4, 5);
    sl_read_result_free(&r);

    struct sl_stream_info info = stream_info_of(f->store, "orders");
    assert_int_equal(info.last_revision, 5);
}

static void test_max_count_written_before_the_stream_applies_to_it(void **state)
{
    struct fixture *f = *state;
    set_metadata(f->store, "later", "{\"$maxCount\":3}");
    append_ok(f->store, "later", 10);
    struct sl_read_result r;
    read_stream_ok(f->store, "later", 0, false, 100, &r);
    assert_revisions(&r, 7, 8, 9);
    sl_read_result_free(&r);
}

static void test_truncate_before_hides_earlier_revisions(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "orders", 5);
    set_metadata(f->store, "orders", "{\"$tb\":3}");
    struct sl_read_result r;

    read_stream_ok(f->store, "orders", 0, false, 100, &r);
    assert_revisions(&r, 3, 4);
    sl_read_result_free(&r);

    read_stream_ok(f->store, "orders", SL_REVISION_END, true, 100, &r);
    assert_revisions(&r, 4, 3);
    sl_read_result_free(&r);

    read_stream_ok(f->store, "orders", 2, true, 100, &r);
    assert_int_equal(r.count, 0);
    sl_read_result_free(&r);

    read_stream_ok(f->store, "orders", 4, false, 100, &r);
    assert_revisions(&r, 4);
    sl_read_result_free(&r);
}

static void test_truncate_before_past_the_end_hides_everything_until_new_events(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "orders", 3);
    set_metadata(f->store, "orders", "{\"$tb\":5}");
    struct sl_read_result r;
    read_stream_ok(f->store, "orders", 0, false, 100, &r);
    assert_int_equal(r.count, 0);
    assert_false(r.has_next);
    sl_read_result_free(&r);

    append_ok(f->store, "orders", 3); /* revisions 3, 4, 5 */
    read_stream_ok(f->store, "orders", 0, false, 100, &r);
    assert_revisions(&r, 5);
    sl_read_result_free(&r);
}

static void test_max_count_and_truncate_before_combine(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "a", 10);
    append_ok(f->store, "b", 10);
    set_metadata(f->store, "a", "{\"$maxCount\":5,\"$tb\":7}");
    set_metadata(f->store, "b", "{\"$maxCount\":5,\"$tb\":2}");
    struct sl_read_result r;
    read_stream_ok(f->store, "a", 0, false, 100, &r);
    assert_revisions(&r, 7, 8, 9);
    sl_read_result_free(&r);
    read_stream_ok(f->store, "b", 0, false, 100, &r);
    assert_revisions(&r, 5, 6, 7, 8, 9);
    sl_read_result_free(&r);
}

static void test_metadata_change_takes_effect_on_the_next_read(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "orders", 4);
    set_metadata(f->store, "orders", "{\"$maxCount\":1}");
    struct sl_read_result r;
    read_stream_ok(f->store, "orders", 0, false, 100, &r);
    assert_revisions(&r, 3);
    sl_read_result_free(&r);

    set_metadata(f->store, "orders", "{}");
    read_stream_ok(f->store, "orders", 0, false, 100, &r);
    assert_revisions(&r, 0, 1, 2, 3);
    sl_read_result_free(&r);
}

static void test_metadata_of_one_stream_leaves_others_alone(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "orders", 4);
    append_ok(f->store, "orders-archive", 4);
    set_metadata(f->store, "orders", "{\"$maxCount\":1}");
    struct sl_read_result r;
    read_stream_ok(f->store, "orders-archive", 0, false, 100, &r);
    assert_revisions(&r, 0, 1, 2, 3);
    sl_read_result_free(&r);
}

/* Events cannot be backdated, so this waits a little over a second. */
static void test_max_age_hides_events_older_than_its_seconds(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "old", 3);
    append_ok(f->store, "kept", 3);
    set_metadata(f->store, "old", "{\"$maxAge\":3600}");
    struct sl_read_result r;
    read_stream_ok(f->store, "old", 0, false, 100, &r);
    assert_revisions(&r, 0, 1, 2);
    sl_read_result_free(&r);

    set_metadata(f->store, "old", "{\"$maxAge\":1}");
    set_metadata(f->store, "kept", "{\"$maxAge\":3600}");
    sleep_ms(1200);

    read_stream_ok(f->store, "old", 0, false, 100, &r);
    assert_int_equal(r.count, 0);
    sl_read_result_free(&r);
    read_stream_ok(f->store, "old", SL_REVISION_END, true, 100, &r);
    assert_int_equal(r.count, 0);
    sl_read_result_free(&r);
    read_stream_ok(f->store, "kept", 0, false, 100, &r);
    assert_revisions(&r, 0, 1, 2);
    sl_read_result_free(&r);

    /* A fresh event is young enough. */
    append_ok(f->store, "old", 1);
    read_stream_ok(f->store, "old", 0, false, 100, &r);
    assert_revisions(&r, 3);
    sl_read_result_free(&r);
}

static void test_max_count_pages_through_the_visible_events(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "orders", 10);
    set_metadata(f->store, "orders", "{\"$maxCount\":5}");
    struct sl_read_result r;
    read_stream_ok(f->store, "orders", 0, false, 2, &r);
    assert_revisions(&r, 5, 6);
    assert_true(r.has_next);
    assert_int_equal(r.next, 7);
    sl_read_result_free(&r);
    read_stream_ok(f->store, "orders", 6, true, 10, &r);
    assert_revisions(&r, 6, 5);
    assert_false(r.has_next);
    sl_read_result_free(&r);
}

/* The metadata is the data of the last event of `$$name`, whatever its type. */
static void test_metadata_is_read_from_the_last_event_whatever_its_type(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    int64_t revision;
    append_ok(f->store, "orders", 4);
    assert_code(append_json(f->store, "$$orders", rev_no_stream(), "settings", "{\"$maxCount\":1}", &w),
                SL_OK, &w.err);
    char *json = get_metadata(f->store, "orders", &revision);
    assert_string_equal(json, "{\"$maxCount\":1}");
    assert_int_equal(revision, 0);
    free(json);
    struct sl_read_result r;
    read_stream_ok(f->store, "orders", 0, false, 100, &r);
    assert_revisions(&r, 3);
    sl_read_result_free(&r);
}

/* Writes each metadata value in turn; after each, reads of `stream` (4
 * events) must still work and return at most those 4 events. */
static void check_reads_with_metadata(struct sl_store *store, const char *stream, const char *const *values,
                                      size_t n)
{
    char meta_stream[64];
    snprintf(meta_stream, sizeof(meta_stream), "$$%s", stream);
    append_ok(store, stream, 4);
    for (size_t i = 0; i < n; i++) {
        struct sl_write w;
        enum sl_code code = append_json(store, meta_stream, rev_any(), "$metadata", values[i], &w);
        if (code != SL_OK) {
            print_message("metadata %s refused: %s\n", values[i], sl_code_name(code));
            continue;
        }
        for (int backwards = 0; backwards <= 1; backwards++) {
            struct sl_read_result r;
            struct sl_error err;
            memset(&r, 0, sizeof(r));
            code = sl_store_read_stream(store, STR_ARGS(stream), backwards ? SL_REVISION_END : 0, backwards,
                                        100, &r, &err);
            size_t count = r.count;
            sl_read_result_free(&r);
            if (code != SL_OK || count > 4)
                fail_msg("with metadata %s, reading returned %s and %zu events", values[i],
                         sl_code_name(code), count);
        }
        int64_t revision;
        free(get_metadata(store, stream, &revision));
    }
}

/* Metadata is written by clients; odd values must not break reads. */
static void test_odd_metadata_values_do_not_break_reads(void **state)
{
    struct fixture *f = *state;
    static const char *const odd[] = {
        "not json",
        "[1,2,3]",
        "\"a string\"",
        "{\"$maxCount\":0}",
        "{\"$maxCount\":-1}",
        "{\"$maxCount\":\"3\"}",
        "{\"$maxCount\":1e300}",
        "{\"$maxCount\":2.5}",
        "{\"$tb\":-3}",
        "{\"$tb\":null}",
        "{\"$maxAge\":0}",
        "{\"$maxAge\":-5}",
        "{\"$maxAge\":{}}",
        "",
    };
    check_reads_with_metadata(f->store, "odd", odd, ARRAY_LEN(odd));
}

/* The largest integers must not overflow when turned into times or
 * revisions (run last: under the sanitizers an overflow ends the program). */
static void test_huge_metadata_limits_do_not_overflow(void **state)
{
    struct fixture *f = *state;
    static const char *const huge[] = {
        "{\"$maxCount\":9223372036854775807}",
        "{\"$tb\":9223372036854775807}",
        "{\"$maxAge\":9223372036854775807}",
        "{\"$maxAge\":9223372036855}",
        "{\"$maxCount\":-9223372036854775808,\"$tb\":-9223372036854775808,\"$maxAge\":-9223372036854775808}",
    };
    check_reads_with_metadata(f->store, "huge", huge, ARRAY_LEN(huge));
    /* A limit that large hides nothing. */
    append_json(f->store, "$$huge2", rev_any(), "$metadata", "{\"$maxAge\":9223372036854775807}",
                &(struct sl_write){0});
    append_ok(f->store, "huge2", 2);
    struct sl_read_result r;
    read_stream_ok(f->store, "huge2", 0, false, 100, &r);
    assert_revisions(&r, 0, 1);
    sl_read_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        STORE_TEST(test_metadata_is_an_empty_object_when_none_was_written),
        STORE_TEST(test_metadata_is_the_last_event_of_the_metadata_stream),
        STORE_TEST(test_metadata_survives_close_and_reopen),
        STORE_TEST(test_metadata_of_a_stream_with_a_1024_byte_name_applies),
        STORE_TEST(test_max_count_shows_only_the_last_events),
        STORE_TEST(test_max_count_written_before_the_stream_applies_to_it),
        STORE_TEST(test_truncate_before_hides_earlier_revisions),
        STORE_TEST(test_truncate_before_past_the_end_hides_everything_until_new_events),
        STORE_TEST(test_max_count_and_truncate_before_combine),
        STORE_TEST(test_metadata_change_takes_effect_on_the_next_read),
        STORE_TEST(test_metadata_of_one_stream_leaves_others_alone),
        STORE_TEST(test_max_count_pages_through_the_visible_events),
        STORE_TEST(test_metadata_is_read_from_the_last_event_whatever_its_type),
        STORE_TEST(test_odd_metadata_values_do_not_break_reads),
        STORE_TEST(test_max_age_hides_events_older_than_its_seconds),
        STORE_TEST(test_huge_metadata_limits_do_not_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
