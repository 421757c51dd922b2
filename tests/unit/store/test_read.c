/* test_read.c: stream reads (direction, start, count, paging), log reads
 * ($all forwards from an inclusive position, backwards before an exclusive
 * one), filters and the scan limit, and reads at one position (store.h). */
#include <lmdb.h>

#include "store_fixture.h"

#include "store/filter.h"
#include "store/record.h"

/* ---- stream reads ---- */

/* "numbers" gets revisions 0..9, interleaved with "noise" so that its
 * positions are not consecutive. */
static void write_numbers(struct sl_store *store)
{
    for (int i = 0; i < 10; i++) {
        append_ok(store, "numbers", 1);
        append_ok(store, "noise", 1);
    }
}

static void test_read_forwards_from_start_returns_every_event_in_order(void **state)
{
    struct fixture *f = *state;
    write_numbers(f->store);
    struct sl_read_result r;
    read_stream_ok(f->store, "numbers", 0, false, 100, &r);
    assert_revisions(&r, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    assert_false(r.has_next);
    assert_int_equal(r.last_revision, 9);
    for (size_t i = 1; i < r.count; i++)
        assert_true(r.events[i].position > r.events[i - 1].position);
    for (size_t i = 0; i < r.count; i++) {
        assert_int_equal(r.events[i].stream_len, strlen("numbers"));
        assert_memory_equal(r.events[i].stream, "numbers", strlen("numbers"));
    }
    sl_read_result_free(&r);
}

static void test_read_forwards_with_count_pages_through_next(void **state)
{
    struct fixture *f = *state;
    write_numbers(f->store);
    struct sl_read_result r;

    read_stream_ok(f->store, "numbers", 0, false, 4, &r);
    assert_revisions(&r, 0, 1, 2, 3);
    assert_true(r.has_next);
    assert_int_equal(r.next, 4);
    sl_read_result_free(&r);

    read_stream_ok(f->store, "numbers", 4, false, 4, &r);
    assert_revisions(&r, 4, 5, 6, 7);
    assert_true(r.has_next);
    assert_int_equal(r.next, 8);
    sl_read_result_free(&r);

    read_stream_ok(f->store, "numbers", 8, false, 4, &r);
    assert_revisions(&r, 8, 9);
    assert_false(r.has_next);
    sl_read_result_free(&r);

    read_stream_ok(f->store, "numbers", 3, false, 2, &r);
    assert_revisions(&r, 3, 4);
    assert_true(r.has_next);
    assert_int_equal(r.next, 5);
    sl_read_result_free(&r);
}

static void test_read_backwards_from_end_returns_newest_first(void **state)
{
    struct fixture *f = *state;
    write_numbers(f->store);
    struct sl_read_result r;

    read_stream_ok(f->store, "numbers", SL_REVISION_END, true, 3, &r);
    assert_revisions(&r, 9, 8, 7);
    assert_true(r.has_next);
    assert_int_equal(r.next, 6);
    assert_int_equal(r.last_revision, 9);
    sl_read_result_free(&r);

    read_stream_ok(f->store, "numbers", 5, true, 3, &r);
    assert_revisions(&r, 5, 4, 3);
    assert_true(r.has_next);
    assert_int_equal(r.next, 2);
    sl_read_result_free(&r);

    read_stream_ok(f->store, "numbers", 2, true, 10, &r);
    assert_revisions(&r, 2, 1, 0);
    assert_false(r.has_next);
    sl_read_result_free(&r);

    read_stream_ok(f->store, "numbers", SL_REVISION_END, true, 100, &r);
    assert_revisions(&r, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    assert_false(r.has_next);
    sl_read_result_free(&r);
}

static void test_paging_a_stream_both_ways_sees_every_revision_once(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "long", 23);
    for (int backwards = 0; backwards <= 1; backwards++) {
        int64_t from = backwards ? SL_REVISION_END : 0;
        int64_t want = backwards ? 22 : 0;
        for (int pages = 0;; pages++) {
            assert_true(pages < 20);
            struct sl_read_result r;
            read_stream_ok(f->store, "long", from, backwards, 5, &r);
            for (size_t i = 0; i < r.count; i++) {
                assert_int_equal(r.events[i].revision, want);
                want += backwards ? -1 : 1;
            }
            bool more = r.has_next;
            from = r.next;
            sl_read_result_free(&r);
            if (!more)
                break;
        }
        assert_int_equal(want, backwards ? -1 : 23);
    }
}

static void test_read_forwards_from_end_returns_the_last_event(void **state)
{
    struct fixture *f = *state;
    write_numbers(f->store);
    struct sl_read_result r;
    read_stream_ok(f->store, "numbers", SL_REVISION_END, false, 10, &r);
    assert_revisions(&r, 9);
    sl_read_result_free(&r);
}

static void test_read_from_past_the_last_revision_returns_nothing(void **state)
{
    struct fixture *f = *state;
    write_numbers(f->store);
    struct sl_read_result r;
    read_stream_ok(f->store, "numbers", 50, false, 10, &r);
    assert_int_equal(r.count, 0);
    assert_false(r.has_next);
    assert_int_equal(r.last_revision, 9);
    sl_read_result_free(&r);
}

static void test_read_of_a_missing_stream_is_not_found(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "present", 1);
    assert_code(read_stream_code(f->store, "absent", false), SL_E_NOT_FOUND, NULL);
    assert_code(read_stream_code(f->store, "absent", true), SL_E_NOT_FOUND, NULL);
    assert_code(read_stream_code(f->store, "presen", false), SL_E_NOT_FOUND, NULL);
}

enum { CHECK_READ = 1, CHECK_INFO = 2, CHECK_METADATA = 4 };

/* Calls the chosen read functions with invalid names; each must answer SL_E_INVALID. */
static void check_invalid_names(struct fixture *f, int which)
{
    static char too_long[SL_MAX_STREAM_NAME + 1];
    memset(too_long, 'n', sizeof(too_long));
    const struct {
        const char *what;
        const char *name;
        size_t len;
    } cases[] = {
        {"an empty name", "", 0},
        {"a stray byte 0xff", "b\xff", 2},
        {"a NUL", "a\0b", 3},
        {"1025 bytes", too_long, sizeof(too_long)},
    };
    /* "a" exists, so a name cut at its NUL would find it. */
    append_ok(f->store, "a", 1);
    int failures = 0;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct sl_read_result r;
        struct sl_error err;
        memset(&r, 0, sizeof(r));
        memset(&err, 0, sizeof(err));
        enum sl_code code = which & CHECK_READ ? sl_store_read_stream(f->store, cases[i].name, cases[i].len,
                                                                      0, false, 10, &r, &err)
                                               : SL_E_INVALID;
        size_t count = r.count;
        sl_read_result_free(&r);
        if (code != SL_E_INVALID) {
            print_error("sl_store_read_stream with %s returned %s with %zu events (%.100s), wanted "
                        "invalid-argument\n",
                        cases[i].what, sl_code_name(code), count, err.message);
            failures++;
        }
        struct sl_stream_info info;
        memset(&err, 0, sizeof(err));
        code = which & CHECK_INFO ? sl_store_stream_info(f->store, cases[i].name, cases[i].len, &info, &err)
                                  : SL_E_INVALID;
        if (code != SL_E_INVALID) {
            print_error("sl_store_stream_info with %s returned %s (%.100s), wanted invalid-argument\n",
                        cases[i].what, sl_code_name(code), err.message);
            failures++;
        }
        char *json = NULL;
        int64_t meta_revision;
        memset(&err, 0, sizeof(err));
        code = which & CHECK_METADATA
                   ? sl_store_get_metadata(f->store, cases[i].name, cases[i].len, &json, &meta_revision, &err)
                   : SL_E_INVALID;
        free(json);
        if (code != SL_E_INVALID) {
            print_error("sl_store_get_metadata with %s returned %s (%.100s), wanted invalid-argument\n",
                        cases[i].what, sl_code_name(code), err.message);
            failures++;
        }
    }
    if (failures > 0)
        fail_msg("%d calls with invalid names were not refused as invalid", failures);
}

/* store.h lists SL_E_INVALID among sl_store_read_stream's errors. */
static void test_read_stream_with_an_invalid_name_is_invalid(void **state)
{
    check_invalid_names(*state, CHECK_READ);
}

/* error.h: bad input is SL_E_INVALID, never an I/O error or a silent answer. */
static void test_stream_info_and_metadata_with_an_invalid_name_are_invalid(void **state)
{
    check_invalid_names(*state, CHECK_INFO | CHECK_METADATA);
}

static void test_read_event_carries_everything_that_was_written(void **state)
{
    struct fixture *f = *state;
    static const char json_data[] = "{\"amount\":12.5,\"items\":[1,2]}";
    static const char json_meta[] = "{\"correlation\":\"abc\"}";
    static const uint8_t binary[] = {0x00, 0x01, 0x02, 0xff, 0x00, 'z'};
    struct sl_new_event ev[2];
    memset(ev, 0, sizeof(ev));
    make_id(ev[0].id, 77, 0);
    ev[0].type = "OrderPlaced";
    ev[0].type_len = strlen("OrderPlaced");
    ev[0].flags = SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON | SL_EVENT_META_IS_JSON;
    ev[0].data = json_data;
    ev[0].data_len = strlen(json_data);
    ev[0].metadata = json_meta;
    ev[0].metadata_len = strlen(json_meta);
    make_id(ev[1].id, 77, 1);
    ev[1].type = "blob";
    ev[1].type_len = 4;
    ev[1].flags = 0;
    ev[1].data = binary;
    ev[1].data_len = sizeof(binary);

    struct sl_write w;
    memset(&w, 0, sizeof(w));
    w.kind = SL_WRITE_APPEND;
    w.stream = "caf\xc3\xa9";
    w.stream_len = 5;
    w.expected = rev_no_stream();
    w.events = ev;
    w.n_events = 2;
    int64_t before = sl_now_us();
    assert_code(sl_store_write(f->store, &w), SL_OK, &w.err);
    int64_t after = sl_now_us();

    struct sl_read_result r;
    read_stream_ok(f->store, "caf\xc3\xa9", 0, false, 10, &r);
    assert_revisions(&r, 0, 1);
    const struct sl_event *a = &r.events[0], *b = &r.events[1];

    assert_true(id_is(a->id, 77, 0));
    assert_int_equal(a->stream_len, 5);
    assert_memory_equal(a->stream, "caf\xc3\xa9", 5);
    assert_int_equal(a->type_len, strlen("OrderPlaced"));
    assert_memory_equal(a->type, "OrderPlaced", a->type_len);
    assert_int_equal(a->flags, SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON | SL_EVENT_META_IS_JSON);
    assert_int_equal(a->data_len, strlen(json_data));
    assert_memory_equal(a->data, json_data, a->data_len);
    assert_int_equal(a->metadata_len, strlen(json_meta));
    assert_memory_equal(a->metadata, json_meta, a->metadata_len);
    /* Commit time: between the call and its return (1 ms of slack for clock granularity). */
    assert_in_range(a->created_us, before - 1000, after + 1000);

    assert_true(id_is(b->id, 77, 1));
    assert_int_equal(b->flags, 0);
    assert_int_equal(b->data_len, sizeof(binary));
    assert_memory_equal(b->data, binary, sizeof(binary));
    assert_int_equal(b->metadata_len, 0);
    assert_int_equal(b->position, w.position);
    assert_true(b->created_us >= a->created_us);
    assert_in_range(b->created_us, before - 1000, after + 1000);
    sl_read_result_free(&r);

    /* The same event read from the log and at its position. */
    memset(&r, 0, sizeof(r));
    struct sl_error err;
    assert_code(sl_store_read_at(f->store, w.position, &r, &err), SL_OK, &err);
    assert_int_equal(r.count, 1);
    assert_true(id_is(r.events[0].id, 77, 1));
    assert_int_equal(r.events[0].revision, 1);
    assert_memory_equal(r.events[0].data, binary, sizeof(binary));
    sl_read_result_free(&r);
}

static void test_reads_survive_close_and_reopen(void **state)
{
    struct fixture *f = *state;
    write_numbers(f->store);
    struct log_copy before, after;
    log_copy_read(f->store, 100, &before);
    fixture_reopen(f);
    log_copy_read(f->store, 100, &after);
    assert_int_equal(after.n, before.n);
    for (size_t i = 0; i < before.n; i++) {
        assert_int_equal(after.position[i], before.position[i]);
        assert_int_equal(after.revision[i], before.revision[i]);
        assert_memory_equal(after.id[i], before.id[i], 16);
        assert_string_equal(after.stream[i], before.stream[i]);
    }
    /* New events come after the old head, and revisions continue. */
    uint64_t head = sl_store_head(f->store);
    assert_int_equal(head, before.position[before.n - 1]);
    struct sl_write w = append_ok(f->store, "numbers", 1);
    assert_true(w.position > head);
    assert_int_equal(w.last_revision, 10);
    log_copy_free(&before);
    log_copy_free(&after);
}

static void test_reads_with_the_largest_count_return_everything(void **state)
{
    struct fixture *f = *state;
    write_numbers(f->store);
    struct sl_read_result r;
    read_stream_ok(f->store, "numbers", 0, false, SIZE_MAX, &r);
    assert_int_equal(r.count, 10);
    assert_false(r.has_next);
    sl_read_result_free(&r);
    read_stream_ok(f->store, "numbers", SL_REVISION_END, true, SIZE_MAX, &r);
    assert_int_equal(r.count, 10);
    sl_read_result_free(&r);
    struct sl_error err;
    memset(&r, 0, sizeof(r));
    assert_code(sl_store_read_all(f->store, 0, false, SIZE_MAX, NULL, 0, &r, &err), SL_OK, &err);
    assert_int_equal(r.count, 20);
    sl_read_result_free(&r);
    memset(&r, 0, sizeof(r));
    assert_code(sl_store_read_all(f->store, SL_POSITION_END, true, SIZE_MAX, NULL, SIZE_MAX, &r, &err), SL_OK,
                &err);
    assert_int_equal(r.count, 20);
    sl_read_result_free(&r);
}

static void test_read_from_a_negative_revision_is_invalid(void **state)
{
    struct fixture *f = *state;
    write_numbers(f->store);
    struct sl_read_result r;
    struct sl_error err;
    memset(&r, 0, sizeof(r));
    assert_code(sl_store_read_stream(f->store, STR_ARGS("numbers"), -5, false, 10, &r, &err), SL_E_INVALID,
                &err);
    sl_read_result_free(&r);
}

/* ---- the log ---- */

static void read_all_ok(struct sl_store *store, uint64_t from, bool backwards, size_t count,
                        const struct sl_filter *filter, size_t max_scan, struct sl_read_result *r)
{
    struct sl_error err;
    memset(r, 0, sizeof(*r));
    enum sl_code code = sl_store_read_all(store, from, backwards, count, filter, max_scan, r, &err);
    if (code != SL_OK)
        fail_msg("read_all from %llu %s returned %s: %s", (unsigned long long)from,
                 backwards ? "backwards" : "forwards", sl_code_name(code), err.message);
}

static void test_read_all_forwards_includes_from(void **state)
{
    struct fixture *f = *state;
    write_numbers(f->store);
    struct log_copy log;
    log_copy_read(f->store, 1000, &log);
    assert_int_equal(log.n, 20);

    struct sl_read_result r;
    read_all_ok(f->store, 0, false, 100, NULL, 0, &r);
    assert_int_equal(r.count, 20);
    assert_int_equal(r.events[0].position, log.position[0]);
    assert_false(r.has_next);
    sl_read_result_free(&r);

    read_all_ok(f->store, log.position[3], false, 2, NULL, 0, &r);
    assert_int_equal(r.count, 2);
    assert_int_equal(r.events[0].position, log.position[3]);
    assert_int_equal(r.events[1].position, log.position[4]);
    assert_true(r.has_next);
    sl_read_result_free(&r);

    read_all_ok(f->store, log.position[19], false, 100, NULL, 0, &r);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.events[0].position, log.position[19]);
    sl_read_result_free(&r);

    read_all_ok(f->store, log.position[19] + 1, false, 100, NULL, 0, &r);
    assert_int_equal(r.count, 0);
    assert_false(r.has_next);
    sl_read_result_free(&r);
    log_copy_free(&log);
}

static void test_read_all_backwards_excludes_from_and_end_includes_the_head(void **state)
{
    struct fixture *f = *state;
    write_numbers(f->store);
    struct log_copy log;
    log_copy_read(f->store, 1000, &log);

    struct sl_read_result r;
    read_all_ok(f->store, SL_POSITION_END, true, 3, NULL, 0, &r);
    assert_int_equal(r.count, 3);
    assert_int_equal(r.events[0].position, sl_store_head(f->store));
    assert_int_equal(r.events[0].position, log.position[19]);
    assert_int_equal(r.events[1].position, log.position[18]);
    assert_int_equal(r.events[2].position, log.position[17]);
    assert_true(r.has_next);
    sl_read_result_free(&r);

    read_all_ok(f->store, log.position[5], true, 2, NULL, 0, &r);
    assert_int_equal(r.count, 2);
    assert_int_equal(r.events[0].position, log.position[4]);
    assert_int_equal(r.events[1].position, log.position[3]);
    sl_read_result_free(&r);

    read_all_ok(f->store, log.position[0], true, 10, NULL, 0, &r);
    assert_int_equal(r.count, 0);
    assert_false(r.has_next);
    sl_read_result_free(&r);

    read_all_ok(f->store, log.position[19] + 1, true, 1, NULL, 0, &r);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.events[0].position, log.position[19]);
    sl_read_result_free(&r);
    log_copy_free(&log);
}

static void test_read_all_pages_both_ways_through_next(void **state)
{
    struct fixture *f = *state;
    write_numbers(f->store);
    append_ok(f->store, "bulk", 17);
    struct log_copy log;
    log_copy_read(f->store, 1000, &log);
    assert_int_equal(log.n, 37);

    for (int backwards = 0; backwards <= 1; backwards++) {
        uint64_t from = backwards ? SL_POSITION_END : 0;
        size_t seen = 0;
        for (int pages = 0;; pages++) {
            assert_true(pages < 40);
            struct sl_read_result r;
            read_all_ok(f->store, from, backwards, 4, NULL, 0, &r);
            for (size_t i = 0; i < r.count; i++, seen++) {
                assert_true(seen < log.n);
                size_t want = backwards ? log.n - 1 - seen : seen;
                if (r.events[i].position != log.position[want])
                    fail_msg("%s page %d: event %zu at position %llu, wanted %llu",
                             backwards ? "backwards" : "forwards", pages, i,
                             (unsigned long long)r.events[i].position,
                             (unsigned long long)log.position[want]);
            }
            bool more = r.has_next;
            from = (uint64_t)r.next;
            sl_read_result_free(&r);
            if (!more)
                break;
        }
        assert_int_equal(seen, log.n);
    }
    log_copy_free(&log);
}

static void test_read_all_of_an_empty_store_returns_nothing(void **state)
{
    struct fixture *f = *state;
    struct sl_read_result r;
    read_all_ok(f->store, 0, false, 10, NULL, 0, &r);
    assert_int_equal(r.count, 0);
    assert_false(r.has_next);
    sl_read_result_free(&r);
    read_all_ok(f->store, SL_POSITION_END, true, 10, NULL, 0, &r);
    assert_int_equal(r.count, 0);
    assert_false(r.has_next);
    sl_read_result_free(&r);
}

/* ---- filters on the log ---- */

static const struct {
    const char *stream;
    const char *type;
} filter_log[] = {
    {"ord-1", "OrderPlaced"},   /* 0 */
    {"pay-1", "PaymentTaken"},  /* 1 */
    {"ord-10", "OrderShipped"}, /* 2 */
    {"user-1", "UserCreated"},  /* 3 */
    {"$$ord-1", "$metadata"},   /* 4: a system stream */
    {"ord-1", "OrderPlaced"},   /* 5 */
    {"xord-1", "Other"},        /* 6 */
    {"ord-2", "$snapshot"},     /* 7: a system event type */
    {"pay-1", "PaymentTaken"},  /* 8 */
};

struct filter_case {
    enum sl_filter_on on;
    enum sl_filter_kind kind;
    const char *expression;
    bool exclude_system;
    const char *matches; /* one char per filter_log entry: 'x' = matches */
};

static const struct filter_case filter_cases[] = {
    {SL_FILTER_ALL, SL_FILTER_PREFIX, NULL, false, "xxxxxxxxx"},
    {SL_FILTER_ALL, SL_FILTER_PREFIX, NULL, true, "xxxx.xx.x"},
    {SL_FILTER_STREAM, SL_FILTER_PREFIX, "ord-", false, "x.x..x.x."},
    {SL_FILTER_STREAM, SL_FILTER_PREFIX, "ord-,pay-", false, "xxx..x.xx"},
    {SL_FILTER_STREAM, SL_FILTER_PREFIX, "ord-", true, "x.x..x..."},
    {SL_FILTER_STREAM, SL_FILTER_REGEX, "^ord-[0-9]$", false, "x....x.x."},
    {SL_FILTER_STREAM, SL_FILTER_REGEX, "-1$", false, "xx.xxxx.x"},
    {SL_FILTER_STREAM, SL_FILTER_EXACT, "ord-1", false, "x....x..."},
    {SL_FILTER_STREAM, SL_FILTER_EXACT, "$$ord-1", false, "....x...."},
    {SL_FILTER_TYPE, SL_FILTER_PREFIX, "Order", false, "x.x..x..."},
    {SL_FILTER_TYPE, SL_FILTER_PREFIX, "Order,User", false, "x.xx.x..."},
    {SL_FILTER_TYPE, SL_FILTER_REGEX, "^(Order|Payment)", false, "xxx..x..x"},
    {SL_FILTER_TYPE, SL_FILTER_EXACT, "PaymentTaken", false, ".x......x"},
    {SL_FILTER_TYPE, SL_FILTER_PREFIX, "$", false, "....x..x."},
};

static void write_filter_log(struct sl_store *store, uint64_t *positions)
{
    for (size_t i = 0; i < ARRAY_LEN(filter_log); i++) {
        struct sl_write w;
        enum sl_code code = append_json(store, filter_log[i].stream, rev_any(), filter_log[i].type, "{}", &w);
        if (code != SL_OK)
            fail_msg("append to %s returned %s: %s", filter_log[i].stream, sl_code_name(code), w.err.message);
        positions[i] = w.position;
    }
}

static void format_positions(char *out, size_t cap, const uint64_t *p, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used + 24 < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%llu", i ? "," : "", (unsigned long long)p[i]);
}

static bool check_filter_case(struct sl_store *store, const struct filter_case *c, const uint64_t *positions)
{
    struct sl_error err;
    struct sl_filter *filter = sl_filter_new(c->on, c->kind, c->expression, c->exclude_system, &err);
    if (filter == NULL) {
        print_error("filter %s: sl_filter_new failed: %s\n", c->expression ? c->expression : "(all)",
                    err.message);
        return false;
    }
    uint64_t want[ARRAY_LEN(filter_log)];
    size_t n_want = 0;
    for (size_t i = 0; i < ARRAY_LEN(filter_log); i++)
        if (c->matches[i] == 'x')
            want[n_want++] = positions[i];

    bool ok = true;
    for (int backwards = 0; backwards <= 1; backwards++) {
        struct sl_read_result r;
        memset(&r, 0, sizeof(r));
        enum sl_code code =
            sl_store_read_all(store, backwards ? SL_POSITION_END : 0, backwards, 100, filter, 0, &r, &err);
        uint64_t got[ARRAY_LEN(filter_log) + 8];
        size_t n_got = 0;
        bool same = code == SL_OK && r.count == n_want;
        for (size_t i = 0; code == SL_OK && i < r.count && n_got < ARRAY_LEN(got); i++) {
            got[n_got++] = r.events[i].position;
            size_t k = backwards ? n_want - 1 - i : i;
            if (same && r.events[i].position != want[k])
                same = false;
        }
        if (!same) {
            char got_s[512], want_s[512];
            format_positions(got_s, sizeof(got_s), got, n_got);
            format_positions(want_s, sizeof(want_s), want, n_want);
            print_error("filter on %d kind %d \"%s\" exclude_system %d, %s: %s [%s], wanted [%s]%s\n", c->on,
                        c->kind, c->expression ? c->expression : "", c->exclude_system,
                        backwards ? "backwards" : "forwards", sl_code_name(code), got_s, want_s,
                        backwards ? " reversed" : "");
            ok = false;
        }
        sl_read_result_free(&r);
    }
    sl_filter_free(filter);
    return ok;
}

static void test_filtered_read_all_returns_only_matching_events(void **state)
{
    struct fixture *f = *state;
    uint64_t positions[ARRAY_LEN(filter_log)];
    write_filter_log(f->store, positions);
    int failures = 0;
    for (size_t i = 0; i < ARRAY_LEN(filter_cases); i++)
        failures += !check_filter_case(f->store, &filter_cases[i], positions);
    if (failures > 0)
        fail_msg("%d of %zu filters returned the wrong events", failures, ARRAY_LEN(filter_cases));
}

static void test_filtered_read_all_pages_with_a_small_count(void **state)
{
    struct fixture *f = *state;
    uint64_t positions[ARRAY_LEN(filter_log)];
    write_filter_log(f->store, positions);
    struct sl_error err;
    struct sl_filter *filter = sl_filter_new(SL_FILTER_STREAM, SL_FILTER_PREFIX, "ord-,pay-", false, &err);
    assert_non_null(filter);
    const int want[] = {0, 1, 2, 5, 7, 8};
    size_t seen = 0;
    uint64_t from = 0;
    for (int pages = 0;; pages++) {
        assert_true(pages < 20);
        struct sl_read_result r;
        read_all_ok(f->store, from, false, 2, filter, 0, &r);
        for (size_t i = 0; i < r.count; i++, seen++) {
            assert_true(seen < ARRAY_LEN(want));
            assert_int_equal(r.events[i].position, positions[want[seen]]);
        }
        bool more = r.has_next;
        from = (uint64_t)r.next;
        sl_read_result_free(&r);
        if (!more)
            break;
    }
    assert_int_equal(seen, ARRAY_LEN(want));
    sl_filter_free(filter);
}

/* Follows `next` until `want` shows up; returns the number of reads. */
static int read_until_found(struct sl_store *store, bool backwards, const struct sl_filter *filter,
                            uint64_t want)
{
    uint64_t from = backwards ? SL_POSITION_END : 0;
    int found = 0;
    for (int reads = 1; reads <= 50; reads++) {
        struct sl_read_result r;
        read_all_ok(store, from, backwards, 10, filter, 50, &r);
        for (size_t i = 0; i < r.count; i++) {
            if (r.events[i].position != want)
                fail_msg("filtered read returned position %llu, wanted only %llu",
                         (unsigned long long)r.events[i].position, (unsigned long long)want);
            found++;
        }
        if (reads == 1 && (r.count != 0 || !r.has_next))
            fail_msg(
                "the first read with max_scan 50 returned %zu events, has_next %d: wanted 0 and more to come",
                r.count, r.has_next);
        if (r.has_next && (backwards ? (uint64_t)r.next >= from : (uint64_t)r.next <= from))
            fail_msg("next %lld does not move on from %llu", (long long)r.next, (unsigned long long)from);
        bool more = r.has_next;
        from = (uint64_t)r.next;
        sl_read_result_free(&r);
        if (!more) {
            assert_int_equal(found, 1);
            return reads;
        }
    }
    fail_msg("paging did not end within 50 reads");
    return 0;
}

static void test_max_scan_returns_early_with_has_next(void **state)
{
    struct fixture *f = *state;
    struct sl_write w = append_ok(f->store, "early", 1);
    uint64_t early = w.position;
    append_ok(f->store, "noise", 200);
    w = append_ok(f->store, "late", 1);
    uint64_t late = w.position;

    struct sl_error err;
    struct sl_filter *late_filter = sl_filter_new(SL_FILTER_STREAM, SL_FILTER_EXACT, "late", false, &err);
    struct sl_filter *early_filter = sl_filter_new(SL_FILTER_STREAM, SL_FILTER_EXACT, "early", false, &err);
    assert_non_null(late_filter);
    assert_non_null(early_filter);

    int reads = read_until_found(f->store, false, late_filter, late);
    assert_true(reads >= 4); /* 202 events, at most 50 examined per read */
    reads = read_until_found(f->store, true, early_filter, early);
    assert_true(reads >= 4);

    /* Without a limit, one read finds it. */
    struct sl_read_result r;
    read_all_ok(f->store, 0, false, 10, late_filter, 0, &r);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.events[0].position, late);
    sl_read_result_free(&r);
    sl_filter_free(late_filter);
    sl_filter_free(early_filter);
}

/* ---- one position ---- */

static void test_read_at_returns_the_event_at_that_position(void **state)
{
    struct fixture *f = *state;
    write_numbers(f->store);
    struct log_copy log;
    log_copy_read(f->store, 1000, &log);
    struct sl_error err;
    struct sl_read_result r;
    for (size_t i = 0; i < log.n; i++) {
        memset(&r, 0, sizeof(r));
        assert_code(sl_store_read_at(f->store, log.position[i], &r, &err), SL_OK, &err);
        assert_int_equal(r.count, 1);
        assert_int_equal(r.events[0].position, log.position[i]);
        assert_int_equal(r.events[0].revision, log.revision[i]);
        assert_memory_equal(r.events[0].id, log.id[i], 16);
        assert_int_equal(r.events[0].stream_len, strlen(log.stream[i]));
        sl_read_result_free(&r);
    }
    const uint64_t missing[] = {0, sl_store_head(f->store) + 1, sl_store_head(f->store) + 1000,
                                SL_POSITION_END};
    for (size_t i = 0; i < ARRAY_LEN(missing); i++) {
        memset(&r, 0, sizeof(r));
        enum sl_code code = sl_store_read_at(f->store, missing[i], &r, &err);
        if (code != SL_E_NOT_FOUND)
            fail_msg("read_at(%llu) returned %s, wanted not-found", (unsigned long long)missing[i],
                     sl_code_name(code));
        sl_read_result_free(&r);
    }
    log_copy_free(&log);
}

/* ---- damage the checksums cannot see ---- */

/* Removes one key from table `table` of the closed store in `dir`, as a
 * damaged page would lose it. */
static void remove_key(const char *dir, const char *table, const void *key, size_t key_len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, table, 0, &dbi), 0);
    MDB_val k = {key_len, (void *)key};
    assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* A stream whose index lost a revision is not served as a shorter stream:
 * the gap is reported, whichever way the stream is read. */
static void test_a_revision_missing_from_the_stream_index_is_corrupt_data(void **state)
{
    struct fixture *f = *state;
    write_numbers(f->store); /* "numbers" is the first stream: id 1 */
    fixture_close(f);
    uint8_t key[16];
    sl_put_be64(key, 1);
    sl_put_be64(key + 8, 9); /* its last revision: a read would just end early */
    remove_key(f->dir, "stream_index", key, sizeof(key));
    fixture_open(f);

    struct sl_read_result r = {0};
    struct sl_error err = {0};
    assert_int_equal(sl_store_read_stream(f->store, STR_ARGS("numbers"), 0, false, 100, &r, &err),
                     SL_E_CORRUPT);
    assert_non_null(strstr(err.message, "revision 9 is missing"));
    sl_read_result_free(&r);
    assert_int_equal(
        sl_store_read_stream(f->store, STR_ARGS("numbers"), SL_REVISION_END, true, 100, &r, &err),
        SL_E_CORRUPT);
    sl_read_result_free(&r);
    /* A page that stops before the gap is served as it is. */
    read_stream_ok(f->store, "numbers", 0, false, 5, &r);
    assert_revisions(&r, 0, 1, 2, 3, 4);
    sl_read_result_free(&r);
}

/* The log's positions have no gap: a key out of sequence is damage. The
 * events before it are handed out with `next` at the damage, and the read
 * from there reports it. */
static void test_a_position_missing_from_the_log_is_corrupt_data(void **state)
{
    struct fixture *f = *state;
    write_numbers(f->store);
    fixture_close(f);
    uint8_t key[8];
    sl_put_be64(key, 4);
    remove_key(f->dir, "events", key, sizeof(key));
    fixture_open(f);

    struct sl_read_result r = {0};
    struct sl_error err = {0};
    read_all_ok(f->store, 0, false, 100, NULL, 0, &r);
    assert_int_equal(r.count, 3);
    assert_true(r.has_next);
    assert_int_equal(r.next, 4);
    sl_read_result_free(&r);
    assert_int_equal(sl_store_read_all(f->store, 4, false, 100, NULL, 0, &r, &err), SL_E_CORRUPT);
    assert_non_null(strstr(err.message, "position 4 was expected"));
    sl_read_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        STORE_TEST(test_read_forwards_from_start_returns_every_event_in_order),
        STORE_TEST(test_a_revision_missing_from_the_stream_index_is_corrupt_data),
        STORE_TEST(test_a_position_missing_from_the_log_is_corrupt_data),
        STORE_TEST(test_read_forwards_with_count_pages_through_next),
        STORE_TEST(test_read_backwards_from_end_returns_newest_first),
        STORE_TEST(test_paging_a_stream_both_ways_sees_every_revision_once),
        STORE_TEST(test_read_forwards_from_end_returns_the_last_event),
        STORE_TEST(test_read_from_past_the_last_revision_returns_nothing),
        STORE_TEST(test_read_of_a_missing_stream_is_not_found),
        STORE_TEST(test_read_stream_with_an_invalid_name_is_invalid),
        STORE_TEST(test_stream_info_and_metadata_with_an_invalid_name_are_invalid),
        STORE_TEST(test_read_event_carries_everything_that_was_written),
        STORE_TEST(test_reads_survive_close_and_reopen),
        STORE_TEST(test_reads_with_the_largest_count_return_everything),
        STORE_TEST(test_read_from_a_negative_revision_is_invalid),
        STORE_TEST(test_read_all_forwards_includes_from),
        STORE_TEST(test_read_all_backwards_excludes_from_and_end_includes_the_head),
        STORE_TEST(test_read_all_pages_both_ways_through_next),
        STORE_TEST(test_read_all_of_an_empty_store_returns_nothing),
        STORE_TEST(test_filtered_read_all_returns_only_matching_events),
        STORE_TEST(test_filtered_read_all_pages_with_a_small_count),
        STORE_TEST(test_max_scan_returns_early_with_has_next),
        STORE_TEST(test_read_at_returns_the_event_at_that_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
