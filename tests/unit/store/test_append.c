/* test_append.c: appends against store.h and spec/streams.md: the expected
 * revision matrix, atomic and contiguous multi-event appends, strictly
 * increasing positions, and input validation with its limits. */
#include "store_fixture.h"

#include "util/codec.h"

/* ---- the expected-revision matrix ---- */

enum stream_state { STATE_MISSING, STATE_AT_2, STATE_SOFT_DELETED_AT_2, STATE_TOMBSTONED };

static const char *state_name(enum stream_state s)
{
    switch (s) {
    case STATE_MISSING:
        return "missing stream";
    case STATE_AT_2:
        return "stream at revision 2";
    case STATE_SOFT_DELETED_AT_2:
        return "soft-deleted stream (was at revision 2)";
    case STATE_TOMBSTONED:
        return "tombstoned stream";
    }
    return "?";
}

struct revision_case {
    struct sl_expected expected;
    enum sl_code code;       /* the wanted outcome */
    int64_t last_revision;   /* on SL_OK: the revision the appended event gets */
    int64_t actual_revision; /* on SL_E_WRONG_REVISION: the revision reported */
};

/* Puts stream `name` into `state`: three events (revisions 0..2), then a
 * soft delete or a tombstone. */
static void make_state(struct sl_store *store, const char *name, enum stream_state state)
{
    struct sl_write w;
    if (state == STATE_MISSING)
        return;
    append_ok(store, name, 3);
    if (state == STATE_SOFT_DELETED_AT_2)
        assert_code(delete_stream(store, name, rev_any(), false, &w), SL_OK, &w.err);
    if (state == STATE_TOMBSTONED)
        assert_code(delete_stream(store, name, rev_any(), true, &w), SL_OK, &w.err);
}

/* What a reader sees of a stream, to prove a failed append changed nothing. */
struct stream_view {
    enum sl_code code;
    size_t count;
    int64_t revisions[8];
    struct sl_stream_info info;
};

static struct stream_view view_stream(struct sl_store *store, const char *name)
{
    struct stream_view v;
    struct sl_read_result r;
    struct sl_error err;
    memset(&v, 0, sizeof(v));
    memset(&r, 0, sizeof(r));
    v.code = sl_store_read_stream(store, STR_ARGS(name), 0, false, 100, &r, &err);
    if (v.code == SL_OK) {
        v.count = r.count;
        for (size_t i = 0; i < r.count && i < ARRAY_LEN(v.revisions); i++)
            v.revisions[i] = r.events[i].revision;
    }
    sl_read_result_free(&r);
    sl_store_stream_info(store, STR_ARGS(name), &v.info, &err);
    return v;
}

static bool views_equal(const struct stream_view *a, const struct stream_view *b)
{
    return a->code == b->code && a->count == b->count &&
           memcmp(a->revisions, b->revisions, sizeof(a->revisions)) == 0 &&
           a->info.exists == b->info.exists && a->info.is_deleted == b->info.is_deleted &&
           a->info.is_tombstoned == b->info.is_tombstoned && a->info.last_revision == b->info.last_revision;
}

/* Runs one case on a fresh stream; prints what went wrong and returns false
 * when the store does not behave as the case says. */
static bool run_revision_case(struct sl_store *store, enum stream_state state, const struct revision_case *c,
                              int index)
{
    char name[64], exp_buf[32];
    snprintf(name, sizeof(name), "matrix-%d-%d", (int)state, index);
    const char *exp = expected_name(c->expected, exp_buf);
    make_state(store, name, state);

    struct stream_view before = view_stream(store, name);
    uint64_t head_before = sl_store_head(store);
    uint32_t seed = fresh_seed();
    struct sl_write w;
    enum sl_code code = append_generated(store, name, c->expected, seed, 0, 1, &w);
    bool ok = true;

    if (code != c->code || w.code != c->code) {
        print_error("%s, expected %s: returned %s (w.code %s, %s), wanted %s\n", state_name(state), exp,
                    sl_code_name(code), sl_code_name(w.code), w.err.message, sl_code_name(c->code));
        return false;
    }
    if (code != SL_OK) {
        if (code == SL_E_WRONG_REVISION) {
            bool actual_ok = w.actual_revision == c->actual_revision;
            /* A soft-deleted stream reads as absent, so -1 is a fair answer too. */
            if (state == STATE_SOFT_DELETED_AT_2 && w.actual_revision == SL_REVISION_NONE)
                actual_ok = true;
            if (!actual_ok) {
                print_error("%s, expected %s: actual_revision %lld, wanted %lld\n", state_name(state), exp,
                            (long long)w.actual_revision, (long long)c->actual_revision);
                ok = false;
            }
        }
        if (w.err.message[0] == '\0') {
            print_error("%s, expected %s: %s without a message\n", state_name(state), exp,
                        sl_code_name(code));
            ok = false;
        }
        struct stream_view after = view_stream(store, name);
        if (sl_store_head(store) != head_before || !views_equal(&before, &after)) {
            print_error("%s, expected %s: the failed append changed the store (head %llu -> %llu)\n",
                        state_name(state), exp, (unsigned long long)head_before,
                        (unsigned long long)sl_store_head(store));
            ok = false;
        }
        return ok;
    }

    if (w.last_revision != c->last_revision || w.was_idempotent) {
        print_error("%s, expected %s: last_revision %lld (idempotent %d), wanted %lld\n", state_name(state),
                    exp, (long long)w.last_revision, w.was_idempotent, (long long)c->last_revision);
        ok = false;
    }
    if (w.position != sl_store_head(store) || w.position <= head_before) {
        print_error("%s, expected %s: position %llu, head before %llu, head now %llu\n", state_name(state),
                    exp, (unsigned long long)w.position, (unsigned long long)head_before,
                    (unsigned long long)sl_store_head(store));
        ok = false;
    }
    struct sl_read_result r;
    struct sl_error err;
    memset(&r, 0, sizeof(r));
    code = sl_store_read_stream(store, STR_ARGS(name), 0, false, 100, &r, &err);
    /* On a soft-deleted stream the old events stay hidden: only the new one is visible. */
    size_t want_count = state == STATE_AT_2 ? (size_t)c->last_revision + 1 : 1;
    const struct sl_event *last = code == SL_OK && r.count > 0 ? &r.events[r.count - 1] : NULL;
    if (code != SL_OK || r.count != want_count || last->revision != c->last_revision ||
        !id_is(last->id, seed, 0) || last->position != w.position) {
        print_error("%s, expected %s: reading back returned %s with %zu events (first revision %lld), "
                    "wanted %zu ending with the new one at revision %lld\n",
                    state_name(state), exp, sl_code_name(code), r.count,
                    (long long)(r.count ? r.events[0].revision : -99), want_count,
                    (long long)c->last_revision);
        ok = false;
    }
    sl_read_result_free(&r);
    return ok;
}

static void run_revision_cases(struct sl_store *store, enum stream_state state,
                               const struct revision_case *cases, size_t n)
{
    int failures = 0;
    for (size_t i = 0; i < n; i++)
        failures += !run_revision_case(store, state, &cases[i], (int)i);
    if (failures > 0)
        fail_msg("%d of %zu cases against a %s failed", failures, n, state_name(state));
}

static void test_expected_revision_against_missing_stream(void **state)
{
    struct fixture *f = *state;
    const struct revision_case cases[] = {
        {rev_any(), SL_OK, 0, 0},
        {rev_no_stream(), SL_OK, 0, 0},
        {rev_exists(), SL_E_WRONG_REVISION, 0, SL_REVISION_NONE},
        {rev_exact(0), SL_E_WRONG_REVISION, 0, SL_REVISION_NONE},
        {rev_exact(5), SL_E_WRONG_REVISION, 0, SL_REVISION_NONE},
    };
    run_revision_cases(f->store, STATE_MISSING, cases, ARRAY_LEN(cases));
}

static void test_expected_revision_against_existing_stream(void **state)
{
    struct fixture *f = *state;
    const struct revision_case cases[] = {
        {rev_any(), SL_OK, 3, 0},
        {rev_no_stream(), SL_E_WRONG_REVISION, 0, 2},
        {rev_exists(), SL_OK, 3, 0},
        {rev_exact(2), SL_OK, 3, 0},
        {rev_exact(0), SL_E_WRONG_REVISION, 0, 2},
        {rev_exact(1), SL_E_WRONG_REVISION, 0, 2},
        {rev_exact(3), SL_E_WRONG_REVISION, 0, 2},
        {rev_exact(100), SL_E_WRONG_REVISION, 0, 2},
    };
    run_revision_cases(f->store, STATE_AT_2, cases, ARRAY_LEN(cases));
}

static void test_expected_revision_against_soft_deleted_stream(void **state)
{
    struct fixture *f = *state;
    const struct revision_case cases[] = {
        {rev_any(), SL_OK, 3, 0},
        {rev_no_stream(), SL_OK, 3, 0},
        {rev_exists(), SL_E_WRONG_REVISION, 0, 2},
        {rev_exact(0), SL_E_WRONG_REVISION, 0, 2},
        {rev_exact(1), SL_E_WRONG_REVISION, 0, 2},
        {rev_exact(3), SL_E_WRONG_REVISION, 0, 2},
        {rev_exact(100), SL_E_WRONG_REVISION, 0, 2},
    };
    run_revision_cases(f->store, STATE_SOFT_DELETED_AT_2, cases, ARRAY_LEN(cases));
}

static void test_expected_revision_against_tombstoned_stream(void **state)
{
    struct fixture *f = *state;
    const struct revision_case cases[] = {
        {rev_any(), SL_E_DELETED, 0, 0},    {rev_no_stream(), SL_E_DELETED, 0, 0},
        {rev_exists(), SL_E_DELETED, 0, 0}, {rev_exact(2), SL_E_DELETED, 0, 0},
        {rev_exact(0), SL_E_DELETED, 0, 0},
    };
    run_revision_cases(f->store, STATE_TOMBSTONED, cases, ARRAY_LEN(cases));
}

/* The spec leaves open whether the old last revision matches a soft-deleted
 * stream; either way the append must not reuse an old revision. */
static void test_exact_revision_on_soft_deleted_stream_never_reuses_a_revision(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    make_state(f->store, "soft", STATE_SOFT_DELETED_AT_2);
    uint64_t head = sl_store_head(f->store);
    enum sl_code code = append_generated(f->store, "soft", rev_exact(2), fresh_seed(), 0, 1, &w);
    if (code == SL_OK) {
        assert_int_equal(w.last_revision, 3);
        struct sl_read_result r;
        read_stream_ok(f->store, "soft", 0, false, 10, &r);
        assert_revisions(&r, 3);
        sl_read_result_free(&r);
    } else {
        assert_code(code, SL_E_WRONG_REVISION, &w.err);
        assert_int_equal(sl_store_head(f->store), head);
    }
}

static void test_append_with_stale_expected_revision_writes_nothing(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    append_ok(f->store, "orders", 5);
    uint64_t head = sl_store_head(f->store);

    assert_code(append_generated(f->store, "orders", rev_exact(3), fresh_seed(), 0, 4, &w),
                SL_E_WRONG_REVISION, &w.err);
    assert_int_equal(w.actual_revision, 4);
    assert_int_equal(sl_store_head(f->store), head);

    struct sl_read_result r;
    read_stream_ok(f->store, "orders", 0, false, 100, &r);
    assert_revisions(&r, 0, 1, 2, 3, 4);
    assert_int_equal(r.events[4].position, head);
    sl_read_result_free(&r);

    struct log_copy log;
    log_copy_read(f->store, 100, &log);
    assert_int_equal(log.n, 5);
    log_copy_free(&log);
}

/* ---- shape of what is written ---- */

static void test_multi_event_append_gets_consecutive_revisions_and_increasing_positions(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    assert_code(append_generated(f->store, "batch", rev_no_stream(), 7, 0, 4, &w), SL_OK, &w.err);
    assert_int_equal(w.last_revision, 3);
    assert_false(w.was_idempotent);
    assert_int_equal(w.position, sl_store_head(f->store));

    struct sl_read_result r;
    read_stream_ok(f->store, "batch", 0, false, 100, &r);
    assert_revisions(&r, 0, 1, 2, 3);
    assert_true(r.events[0].position >= 1);
    for (size_t i = 0; i < r.count; i++) {
        assert_true(id_is(r.events[i].id, 7, (uint32_t)i));
        if (i > 0)
            assert_true(r.events[i].position > r.events[i - 1].position);
    }
    assert_int_equal(r.events[3].position, w.position);
    sl_read_result_free(&r);
}

static void test_positions_strictly_increase_across_appends(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(sl_store_head(f->store), 0);
    uint64_t last = 0;
    for (int i = 0; i < 30; i++) {
        char name[32];
        snprintf(name, sizeof(name), "s-%d", i % 4);
        struct sl_write w = append_ok(f->store, name, (size_t)(1 + i % 3));
        assert_true(w.position > last);
        assert_int_equal(w.position, sl_store_head(f->store));
        last = w.position;
    }
    struct log_copy log;
    log_copy_read(f->store, 7, &log);
    assert_true(log.n > 0);
    assert_true(log.position[0] >= 1);
    for (size_t i = 1; i < log.n; i++)
        assert_true(log.position[i] > log.position[i - 1]);
    assert_int_equal(log.position[log.n - 1], last);
    log_copy_free(&log);
}

struct batch_writer {
    struct sl_store *store;
    const char *stream;
    int batches;
    int failures;
};

#define BATCH_EVENTS 10

static void *write_batches(void *arg)
{
    struct batch_writer *bw = arg;
    for (int i = 0; i < bw->batches; i++) {
        struct sl_write w;
        if (append_generated(bw->store, bw->stream, rev_any(), fresh_seed(), 0, BATCH_EVENTS, &w) != SL_OK)
            bw->failures++;
    }
    return NULL;
}

static uint32_t id_seed(const uint8_t id[16])
{
    return (uint32_t)id[8] << 24 | (uint32_t)id[9] << 16 | (uint32_t)id[10] << 8 | id[11];
}

static uint32_t id_index(const uint8_t id[16])
{
    return (uint32_t)id[12] << 24 | (uint32_t)id[13] << 16 | (uint32_t)id[14] << 8 | id[15];
}

static void test_concurrent_multi_event_appends_are_contiguous_in_the_log(void **state)
{
    struct fixture *f = *state;
    struct batch_writer writers[3] = {
        {f->store, "left", 40, 0},
        {f->store, "right", 40, 0},
        {f->store, "middle", 40, 0},
    };
    pthread_t threads[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&threads[i], NULL, write_batches, &writers[i]);
    for (int i = 0; i < 3; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(writers[i].failures, 0);
    }

    struct log_copy log;
    log_copy_read(f->store, 64, &log);
    assert_int_equal(log.n, 3 * 40 * BATCH_EVENTS);
    for (size_t i = 0; i < log.n; i++) {
        uint32_t index = id_index(log.id[i]);
        if (index == 0) {
            /* A batch starts only after the previous one is complete. */
            if (i > 0 && id_index(log.id[i - 1]) != BATCH_EVENTS - 1)
                fail_msg("batch interleaved at log entry %zu (position %llu)", i,
                         (unsigned long long)log.position[i]);
            assert_int_equal(log.revision[i] % BATCH_EVENTS, 0);
            continue;
        }
        if (i == 0 || id_seed(log.id[i]) != id_seed(log.id[i - 1]) || id_index(log.id[i - 1]) != index - 1)
            fail_msg("event %u of a batch is not next to event %u (log entry %zu, position %llu)", index,
                     index - 1, i, (unsigned long long)log.position[i]);
        assert_int_equal(log.revision[i], log.revision[i - 1] + 1);
        assert_string_equal(log.stream[i], log.stream[i - 1]);
    }
    log_copy_free(&log);
}

/* An append of no events is either refused as invalid or a no-op; it never
 * writes anything. */
static void test_empty_append_writes_nothing(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "s", 1);
    uint64_t head = sl_store_head(f->store);
    struct sl_write w;
    memset(&w, 0, sizeof(w));
    w.kind = SL_WRITE_APPEND;
    w.stream = "s";
    w.stream_len = 1;
    w.expected = rev_any();
    w.events = NULL;
    w.n_events = 0;
    enum sl_code code = sl_store_write(f->store, &w);
    print_message("an append of no events returned %s\n", sl_code_name(code));
    assert_true(code == SL_OK || code == SL_E_INVALID);
    assert_int_equal(sl_store_head(f->store), head);
    if (code == SL_OK)
        assert_int_equal(w.last_revision, 0);
}

static void test_event_without_data_reads_back_empty(void **state)
{
    struct fixture *f = *state;
    struct sl_new_event ev;
    make_event(&ev, 73, 0);
    ev.flags = 0;
    ev.data = NULL;
    ev.data_len = 0;
    struct sl_write w;
    memset(&w, 0, sizeof(w));
    w.kind = SL_WRITE_APPEND;
    w.stream = "empty";
    w.stream_len = 5;
    w.expected = rev_no_stream();
    w.events = &ev;
    w.n_events = 1;
    assert_code(sl_store_write(f->store, &w), SL_OK, &w.err);
    struct sl_read_result r;
    read_stream_ok(f->store, "empty", 0, false, 10, &r);
    assert_revisions(&r, 0);
    assert_int_equal(r.events[0].data_len, 0);
    assert_int_equal(r.events[0].metadata_len, 0);
    sl_read_result_free(&r);
}

static void test_append_to_all_is_refused(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    assert_code(append_generated(f->store, "$all", rev_any(), fresh_seed(), 0, 1, &w), SL_E_INVALID, &w.err);
    assert_true(w.err.message[0] != '\0');
    assert_int_equal(sl_store_head(f->store), 0);
    assert_code(delete_stream(f->store, "$all", rev_any(), false, &w), SL_E_INVALID, &w.err);
    assert_code(delete_stream(f->store, "$all", rev_any(), true, &w), SL_E_INVALID, &w.err);
}

static void test_done_runs_once_on_the_writer_thread_after_commit(void **state)
{
    struct fixture *f = *state;
    struct done_counter counter;
    done_counter_init(&counter);
    struct sl_write w[5];
    struct sl_error err;
    for (int i = 0; i < 5; i++) {
        write_init_append(&w[i], "async", rev_any(), fresh_seed(), 0, 2);
        w[i].done = count_done;
        w[i].user = &counter;
        assert_code(sl_store_submit(f->store, &w[i], &err), SL_OK, &err);
    }
    assert_true(done_counter_wait(&counter, 5, 10000));
    sleep_ms(50);
    assert_int_equal(counter.n, 5);
    assert_int_equal(counter.n_off_caller_thread, 5);
    int64_t revisions_seen = 0;
    for (int i = 0; i < 5; i++) {
        assert_code(w[i].code, SL_OK, &w[i].err);
        assert_true(w[i].position <= sl_store_head(f->store));
        revisions_seen |= (int64_t)1 << w[i].last_revision;
        write_release(&w[i]);
    }
    /* Each append of two events ends at an odd revision: 1, 3, 5, 7, 9. */
    assert_int_equal(revisions_seen, 0x2aa);
    done_counter_destroy(&counter);
}

/* ---- validation ---- */

static int setup_small_limits(void **state)
{
    struct fixture *f = fixture_new(1000, 5);
    *state = f;
    fixture_open(f);
    return 0;
}

static char payload[2048];

struct input_case {
    const char *what;
    const char *stream;
    size_t stream_len;
    const char *type;
    size_t type_len;
    size_t n_events;
    size_t data_len;
    size_t metadata_len;
    enum sl_code code;
};

static void build_write(const struct input_case *c, struct sl_write *w, struct sl_new_event *ev)
{
    memset(w, 0, sizeof(*w));
    for (size_t i = 0; i < c->n_events; i++) {
        memset(&ev[i], 0, sizeof(ev[i]));
        sl_uuid_generate(ev[i].id);
        ev[i].type = c->type;
        ev[i].type_len = c->type_len;
        ev[i].data = payload;
        ev[i].data_len = c->data_len;
        ev[i].metadata = c->metadata_len ? payload : NULL;
        ev[i].metadata_len = c->metadata_len;
    }
    w->kind = SL_WRITE_APPEND;
    w->stream = c->stream;
    w->stream_len = c->stream_len;
    w->expected = rev_any();
    w->events = ev;
    w->n_events = c->n_events;
}

/* Checks one input through sl_store_validate, sl_store_submit and
 * sl_store_write; prints and returns false on any difference. */
static bool check_input(struct sl_store *store, const struct input_case *c, struct done_counter *counter)
{
    struct sl_new_event ev[8];
    struct sl_write w;
    struct sl_error err;
    bool ok = true;

    build_write(c, &w, ev);
    memset(&err, 0, sizeof(err));
    enum sl_code code = sl_store_validate(store, &w, &err);
    if (code != c->code || (code != SL_OK && err.message[0] == '\0')) {
        print_error("%s: sl_store_validate returned %s (\"%s\"), wanted %s\n", c->what, sl_code_name(code),
                    err.message, sl_code_name(c->code));
        ok = false;
    }
    if (c->code == SL_OK)
        return ok;

    build_write(c, &w, ev);
    w.done = count_done;
    w.user = counter;
    memset(&err, 0, sizeof(err));
    code = sl_store_submit(store, &w, &err);
    if (code != c->code || err.message[0] == '\0') {
        print_error("%s: sl_store_submit returned %s (\"%s\"), wanted %s\n", c->what, sl_code_name(code),
                    err.message, sl_code_name(c->code));
        if (code == SL_OK)
            done_counter_wait(counter, counter->n + 1, 5000);
        ok = false;
    }

    build_write(c, &w, ev);
    code = sl_store_write(store, &w);
    if (code != c->code || w.code != c->code || w.err.message[0] == '\0') {
        print_error("%s: sl_store_write returned %s (w.code %s, \"%s\"), wanted %s\n", c->what,
                    sl_code_name(code), sl_code_name(w.code), w.err.message, sl_code_name(c->code));
        ok = false;
    }
    return ok;
}

static void run_input_cases(struct fixture *f, const struct input_case *cases, size_t n)
{
    struct done_counter counter;
    done_counter_init(&counter);
    memset(payload, 'x', sizeof(payload));
    int failures = 0;
    for (size_t i = 0; i < n; i++)
        failures += !check_input(f->store, &cases[i], &counter);
    /* A write behind the refused ones: once it is done, a queued refused write would have run too. */
    append_ok(f->store, "after-validation", 1);
    if (counter.n != 0) {
        print_error("`done` ran %zu times for writes that sl_store_submit refused\n", counter.n);
        failures++;
    }
    done_counter_destroy(&counter);
    if (failures > 0)
        fail_msg("%d of %zu input cases failed", failures, n);
}

static char long_name[SL_MAX_STREAM_NAME + 2];

static void test_invalid_appends_are_refused_with_a_message(void **state)
{
    struct fixture *f = *state;
    memset(long_name, 'n', sizeof(long_name) - 1);
    const struct input_case cases[] = {
        {"empty event type", STR_ARGS("s"), "", 0, 1, 2, 0, SL_E_INVALID},
        {"empty type in two events", STR_ARGS("s"), "", 0, 2, 2, 0, SL_E_INVALID},
        {"empty stream name", "", 0, STR_ARGS("t"), 1, 2, 0, SL_E_INVALID},
        {"stream name of 1025 bytes", long_name, SL_MAX_STREAM_NAME + 1, STR_ARGS("t"), 1, 2, 0,
         SL_E_INVALID},
        {"stream name with a NUL", "ab\0cd", 5, STR_ARGS("t"), 1, 2, 0, SL_E_INVALID},
        {"stream name with a stray byte 0xff", "bad\xff", 4, STR_ARGS("t"), 1, 2, 0, SL_E_INVALID},
        {"stream name with an overlong encoding", "a\xc0\xaf", 3, STR_ARGS("t"), 1, 2, 0, SL_E_INVALID},
        {"stream name with a surrogate", "a\xed\xa0\x80", 4, STR_ARGS("t"), 1, 2, 0, SL_E_INVALID},
        {"stream name with a truncated sequence", "a\xe3\x81", 3, STR_ARGS("t"), 1, 2, 0, SL_E_INVALID},
        {"the log itself", STR_ARGS("$all"), STR_ARGS("t"), 1, 2, 0, SL_E_INVALID},
        {"six events over a limit of five", STR_ARGS("s"), STR_ARGS("t"), 6, 2, 0, SL_E_TOO_LARGE},
        {"data of 1001 bytes over a limit of 1000", STR_ARGS("s"), STR_ARGS("t"), 1, 1001, 0, SL_E_TOO_LARGE},
        {"data and metadata of 1001 bytes", STR_ARGS("s"), STR_ARGS("t"), 1, 601, 400, SL_E_TOO_LARGE},
        {"two events of 1500 bytes", STR_ARGS("s"), STR_ARGS("t"), 2, 1500, 0, SL_E_TOO_LARGE},
    };
    run_input_cases(f, cases, ARRAY_LEN(cases));
    /* Only the one write behind the refused ones reached the log. */
    struct log_copy log;
    log_copy_read(f->store, 100, &log);
    assert_int_equal(log.n, 1);
    log_copy_free(&log);
}

static void test_appends_at_the_limits_are_accepted(void **state)
{
    struct fixture *f = *state;
    const struct input_case cases[] = {
        {"multi-byte UTF-8 stream name", STR_ARGS("caf\xc3\xa9-\xe3\x82\xb9\xf0\x9f\x8c\x8a"), STR_ARGS("t"),
         1, 2, 0, SL_OK},
        {"five events at a limit of five", STR_ARGS("s"), STR_ARGS("t"), 5, 2, 0, SL_OK},
        {"data of 1000 bytes at a limit of 1000", STR_ARGS("s"), STR_ARGS("t"), 1, 1000, 0, SL_OK},
        {"data and metadata of 1000 bytes", STR_ARGS("s"), STR_ARGS("t"), 1, 600, 400, SL_OK},
    };
    memset(payload, 'x', sizeof(payload));
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct sl_new_event ev[8];
        struct sl_write w;
        build_write(&cases[i], &w, ev);
        enum sl_code code = sl_store_write(f->store, &w);
        if (code != SL_OK)
            fail_msg("%s: sl_store_write returned %s: %s", cases[i].what, sl_code_name(code), w.err.message);
    }
    struct sl_read_result r;
    read_stream_ok(f->store, "s", 0, false, 10, &r);
    assert_revisions(&r, 0, 1, 2, 3, 4, 5, 6);
    assert_int_equal(r.events[5].data_len, 1000);
    assert_int_equal(r.events[6].data_len + r.events[6].metadata_len, 1000);
    sl_read_result_free(&r);
}

static void test_stream_name_of_1024_bytes_is_accepted_and_read_back(void **state)
{
    struct fixture *f = *state;
    memset(long_name, 'n', sizeof(long_name) - 1);
    const struct input_case c = {
        "stream name of 1024 bytes", long_name, SL_MAX_STREAM_NAME, STR_ARGS("t"), 1, 2, 0, SL_OK};
    struct sl_new_event ev[1];
    struct sl_write w;
    struct sl_error err;
    build_write(&c, &w, ev);
    assert_code(sl_store_validate(f->store, &w, &err), SL_OK, &err);
    assert_code(sl_store_write(f->store, &w), SL_OK, &w.err);

    struct sl_read_result r;
    memset(&r, 0, sizeof(r));
    assert_code(sl_store_read_stream(f->store, long_name, SL_MAX_STREAM_NAME, 0, false, 10, &r, &err), SL_OK,
                &err);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.events[0].stream_len, SL_MAX_STREAM_NAME);
    assert_memory_equal(r.events[0].stream, long_name, SL_MAX_STREAM_NAME);
    sl_read_result_free(&r);

    /* A different name with the same first 1023 bytes is a different stream. */
    long_name[SL_MAX_STREAM_NAME - 1] = 'm';
    build_write(&c, &w, ev);
    assert_code(sl_store_write(f->store, &w), SL_OK, &w.err);
    assert_int_equal(w.last_revision, 0);
}

/* Two 1000-byte names that differ only in their last bytes. */
static void make_long_name(char *out, size_t len, char last)
{
    memset(out, 'p', len);
    out[len - 1] = last;
    out[len] = '\0';
}

static void test_long_stream_names_sharing_a_prefix_are_distinct_streams(void **state)
{
    struct fixture *f = *state;
    char a[1001], b[1001];
    make_long_name(a, 1000, 'a');
    make_long_name(b, 1000, 'b');
    struct sl_write w;
    assert_code(append_generated(f->store, a, rev_no_stream(), 70, 0, 3, &w), SL_OK, &w.err);
    assert_code(append_generated(f->store, b, rev_no_stream(), 71, 0, 1, &w), SL_OK, &w.err);
    assert_int_equal(w.last_revision, 0);
    assert_code(append_generated(f->store, b, rev_exact(0), 71, 1, 1, &w), SL_OK, &w.err);
    assert_int_equal(w.last_revision, 1);

    /* Each name reads back its own events, with its full name. */
    struct sl_read_result r;
    read_stream_ok(f->store, a, 0, false, 10, &r);
    assert_revisions(&r, 0, 1, 2);
    assert_true(id_is(r.events[0].id, 70, 0));
    assert_int_equal(r.events[0].stream_len, 1000);
    assert_memory_equal(r.events[0].stream, a, 1000);
    sl_read_result_free(&r);
    read_stream_ok(f->store, b, 0, false, 10, &r);
    assert_revisions(&r, 0, 1);
    assert_true(id_is(r.events[0].id, 71, 0));
    sl_read_result_free(&r);

    /* The log names them in full too. */
    struct log_copy log;
    log_copy_read(f->store, 100, &log);
    assert_int_equal(log_count_stream(&log, a), 3);
    assert_int_equal(log_count_stream(&log, b), 2);
    log_copy_free(&log);

    /* Deleting one leaves the other. */
    assert_code(delete_stream(f->store, a, rev_any(), true, &w), SL_OK, &w.err);
    assert_code(read_stream_code(f->store, a, false), SL_E_DELETED, NULL);
    assert_code(read_stream_code(f->store, b, false), SL_OK, NULL);
    assert_false(stream_info_of(f->store, b).is_tombstoned);

    fixture_reopen(f);
    assert_code(read_stream_code(f->store, a, false), SL_E_DELETED, NULL);
    read_stream_ok(f->store, b, 0, false, 10, &r);
    assert_revisions(&r, 0, 1);
    sl_read_result_free(&r);
}

static void test_default_limits_are_ten_thousand_events_and_eight_mebibytes(void **state)
{
    struct fixture *f = *state;
    const size_t mib8 = (size_t)8 << 20;
    char *big = malloc(mib8 + 1);
    struct sl_new_event *ev = calloc(10001, sizeof(*ev));
    assert_non_null(big);
    assert_non_null(ev);
    memset(big, 'x', mib8 + 1);
    for (uint32_t i = 0; i < 10001; i++)
        make_event(&ev[i], 42, i);

    struct sl_write w;
    struct sl_error err;
    memset(&w, 0, sizeof(w));
    w.kind = SL_WRITE_APPEND;
    w.stream = "limits";
    w.stream_len = 6;
    w.expected = rev_any();
    w.events = ev;

    w.n_events = 10000;
    assert_code(sl_store_validate(f->store, &w, &err), SL_OK, &err);
    w.n_events = 10001;
    assert_code(sl_store_validate(f->store, &w, &err), SL_E_TOO_LARGE, &err);

    ev[0].flags = 0;
    ev[0].data = big;
    ev[0].data_len = mib8;
    w.n_events = 1;
    assert_code(sl_store_validate(f->store, &w, &err), SL_OK, &err);
    ev[0].data_len = mib8 + 1;
    assert_code(sl_store_validate(f->store, &w, &err), SL_E_TOO_LARGE, &err);
    ev[0].data_len = mib8 - 10;
    ev[0].metadata = big;
    ev[0].metadata_len = 11;
    assert_code(sl_store_validate(f->store, &w, &err), SL_E_TOO_LARGE, &err);
    assert_int_equal(sl_store_head(f->store), 0);
    free(ev);
    free(big);
}

static void test_invalid_delete_is_refused(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    memset(&w, 0, sizeof(w));
    w.kind = SL_WRITE_DELETE;
    w.stream = "";
    w.stream_len = 0;
    w.expected = rev_any();
    assert_code(sl_store_write(f->store, &w), SL_E_INVALID, &w.err);
    memset(&w, 0, sizeof(w));
    w.kind = SL_WRITE_TOMBSTONE;
    w.stream = "bad\xff";
    w.stream_len = 4;
    w.expected = rev_any();
    assert_code(sl_store_write(f->store, &w), SL_E_INVALID, &w.err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        STORE_TEST(test_expected_revision_against_missing_stream),
        STORE_TEST(test_expected_revision_against_existing_stream),
        STORE_TEST(test_expected_revision_against_soft_deleted_stream),
        STORE_TEST(test_expected_revision_against_tombstoned_stream),
        STORE_TEST(test_exact_revision_on_soft_deleted_stream_never_reuses_a_revision),
        STORE_TEST(test_append_with_stale_expected_revision_writes_nothing),
        STORE_TEST(test_multi_event_append_gets_consecutive_revisions_and_increasing_positions),
        STORE_TEST(test_positions_strictly_increase_across_appends),
        STORE_TEST(test_concurrent_multi_event_appends_are_contiguous_in_the_log),
        STORE_TEST(test_empty_append_writes_nothing),
        STORE_TEST(test_event_without_data_reads_back_empty),
        STORE_TEST(test_append_to_all_is_refused),
        STORE_TEST(test_done_runs_once_on_the_writer_thread_after_commit),
        cmocka_unit_test_setup_teardown(test_invalid_appends_are_refused_with_a_message, setup_small_limits,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_appends_at_the_limits_are_accepted, setup_small_limits,
                                        fixture_teardown),
        STORE_TEST(test_stream_name_of_1024_bytes_is_accepted_and_read_back),
        STORE_TEST(test_long_stream_names_sharing_a_prefix_are_distinct_streams),
        STORE_TEST(test_default_limits_are_ten_thousand_events_and_eight_mebibytes),
        STORE_TEST(test_invalid_delete_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
