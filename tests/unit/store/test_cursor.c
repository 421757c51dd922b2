/* test_cursor.c: cursors read the log in order, wait for new events, never
 * skip or repeat one, never pass the durable head (cursor.h); and the
 * store's head waiting and commit watchers (store.h). */
#include "store_fixture.h"

#include "store/cursor.h"
#include "store/filter.h"

/* Reads the cursor until it times out with wait 0; appends what it returned to `out`. */
static void drain(struct sl_cursor *cur, size_t max, struct log_copy *out)
{
    struct sl_error err;
    for (int guard = 0; guard < 100000; guard++) {
        const struct sl_event *events = NULL;
        size_t n = 0;
        enum sl_code code = sl_cursor_next(cur, max, 0, &events, &n, &err);
        if (code == SL_E_TIMEOUT)
            return;
        if (code != SL_OK)
            fail_msg("sl_cursor_next returned %s: %s", sl_code_name(code), err.message);
        if (n < 1 || n > max)
            fail_msg("sl_cursor_next returned SL_OK with %zu events (max %zu)", n, max);
        for (size_t i = 0; i < n; i++)
            log_copy_push(out, &events[i]);
        if (sl_cursor_position(cur) < events[n - 1].position)
            fail_msg("cursor position %llu is behind the last returned event %llu",
                     (unsigned long long)sl_cursor_position(cur), (unsigned long long)events[n - 1].position);
    }
    fail_msg("the cursor never ran dry");
}

static void assert_same_events(const struct log_copy *got, const struct log_copy *want, size_t want_from)
{
    if (got->n != want->n - want_from)
        fail_msg("the cursor returned %zu events, the log holds %zu after the start", got->n,
                 want->n - want_from);
    for (size_t i = 0; i < got->n; i++) {
        size_t k = want_from + i;
        if (got->position[i] != want->position[k] || memcmp(got->id[i], want->id[k], 16) != 0 ||
            got->revision[i] != want->revision[k] || strcmp(got->stream[i], want->stream[k]) != 0)
            fail_msg("cursor event %zu: position %llu %s@%lld, the log has position %llu %s@%lld", i,
                     (unsigned long long)got->position[i], got->stream[i], (long long)got->revision[i],
                     (unsigned long long)want->position[k], want->stream[k], (long long)want->revision[k]);
    }
}

static void write_mixed(struct sl_store *store, int appends)
{
    for (int i = 0; i < appends; i++) {
        char name[16];
        snprintf(name, sizeof(name), "mix-%d", i % 3);
        append_ok(store, name, (size_t)(1 + i % 4));
    }
}

static void test_cursor_from_zero_returns_every_event_in_order(void **state)
{
    struct fixture *f = *state;
    write_mixed(f->store, 20);
    struct log_copy log, got;
    log_copy_read(f->store, 1000, &log);
    memset(&got, 0, sizeof(got));

    struct sl_cursor *cur = sl_cursor_open(f->store, 0, NULL);
    assert_non_null(cur);
    assert_int_equal(sl_cursor_position(cur), 0);
    drain(cur, 7, &got);
    assert_same_events(&got, &log, 0);
    assert_int_equal(sl_cursor_position(cur), sl_store_head(f->store));
    sl_cursor_close(cur);
    log_copy_free(&log);
    log_copy_free(&got);
}

static void test_cursor_after_a_position_returns_strictly_later_events(void **state)
{
    struct fixture *f = *state;
    write_mixed(f->store, 10);
    struct log_copy log, got;
    log_copy_read(f->store, 1000, &log);
    memset(&got, 0, sizeof(got));

    struct sl_cursor *cur = sl_cursor_open(f->store, log.position[6], NULL);
    assert_non_null(cur);
    drain(cur, 100, &got);
    assert_same_events(&got, &log, 7);
    sl_cursor_close(cur);

    /* At the head, there is nothing yet. */
    cur = sl_cursor_open(f->store, sl_store_head(f->store), NULL);
    log_copy_free(&got);
    drain(cur, 100, &got);
    assert_int_equal(got.n, 0);
    sl_cursor_close(cur);
    log_copy_free(&log);
    log_copy_free(&got);
}

static void test_cursor_times_out_when_nothing_new_arrives(void **state)
{
    struct fixture *f = *state;
    struct sl_error err;
    const struct sl_event *events = NULL;
    size_t n = 0;
    struct sl_cursor *cur = sl_cursor_open(f->store, 0, NULL);
    assert_non_null(cur);

    int64_t start = sl_monotonic_ms();
    assert_code(sl_cursor_next(cur, 10, 0, &events, &n, &err), SL_E_TIMEOUT, &err);
    assert_true(sl_monotonic_ms() - start < 500);

    start = sl_monotonic_ms();
    assert_code(sl_cursor_next(cur, 10, 100, &events, &n, &err), SL_E_TIMEOUT, &err);
    int64_t waited = sl_monotonic_ms() - start;
    assert_in_range(waited, 80, 2000);

    /* Also once it has caught up with existing events. */
    append_ok(f->store, "s", 2);
    assert_code(sl_cursor_next(cur, 10, 100, &events, &n, &err), SL_OK, &err);
    assert_int_equal(n, 2);
    start = sl_monotonic_ms();
    assert_code(sl_cursor_next(cur, 10, 100, &events, &n, &err), SL_E_TIMEOUT, &err);
    assert_in_range(sl_monotonic_ms() - start, 80, 2000);
    sl_cursor_close(cur);
}

static void test_cursor_batch_stays_valid_while_the_store_changes(void **state)
{
    struct fixture *f = *state;
    struct sl_write first;
    assert_code(append_generated(f->store, "kept", rev_no_stream(), 88, 0, 5, &first), SL_OK, &first.err);
    struct sl_cursor *cur = sl_cursor_open(f->store, 0, NULL);
    const struct sl_event *events = NULL;
    size_t n = 0;
    struct sl_error err;
    assert_code(sl_cursor_next(cur, 5, 0, &events, &n, &err), SL_OK, &err);
    assert_int_equal(n, 5);

    /* Many writes between two calls: the batch is a copy, not a view of LMDB pages. */
    for (int i = 0; i < 20; i++)
        append_ok(f->store, "churn", 50);
    for (size_t i = 0; i < n; i++) {
        assert_true(id_is(events[i].id, 88, (uint32_t)i));
        assert_int_equal(events[i].revision, (int64_t)i);
        assert_int_equal(events[i].stream_len, 4);
        assert_memory_equal(events[i].stream, "kept", 4);
        assert_int_equal(events[i].type_len, strlen(TEST_EVENT_TYPE));
        assert_memory_equal(events[i].type, TEST_EVENT_TYPE, events[i].type_len);
        assert_int_equal(events[i].data_len, 2);
        assert_memory_equal(events[i].data, "{}", 2);
    }
    sl_cursor_close(cur);
}

/* ---- waiting ---- */

struct waiter {
    struct sl_cursor *cur;
    int wait_ms;
    enum sl_code code;
    size_t n;
    uint64_t first_position;
    int64_t waited_ms;
    atomic_bool is_done;
};

static void *wait_once(void *arg)
{
    struct waiter *w = arg;
    struct sl_error err;
    const struct sl_event *events = NULL;
    int64_t start = sl_monotonic_ms();
    w->code = sl_cursor_next(w->cur, 10, w->wait_ms, &events, &w->n, &err);
    w->waited_ms = sl_monotonic_ms() - start;
    if (w->code == SL_OK && w->n > 0)
        w->first_position = events[0].position;
    atomic_store(&w->is_done, true);
    return NULL;
}

static void test_cursor_wakes_for_an_event_written_while_it_waits(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "before", 1);
    struct waiter w = {.cur = sl_cursor_open(f->store, sl_store_head(f->store), NULL), .wait_ms = 10000};
    pthread_t thread;
    pthread_create(&thread, NULL, wait_once, &w);
    sleep_ms(150);
    assert_false(atomic_load(&w.is_done));
    struct sl_write written = append_ok(f->store, "during", 1);
    pthread_join(thread, NULL);
    assert_code(w.code, SL_OK, NULL);
    assert_int_equal(w.n, 1);
    assert_int_equal(w.first_position, written.position);
    assert_true(w.waited_ms < 5000);
    sl_cursor_close(w.cur);
}

static void test_cursor_interrupt_wakes_a_waiter(void **state)
{
    struct fixture *f = *state;
    struct waiter w = {.cur = sl_cursor_open(f->store, 0, NULL), .wait_ms = 10000};
    pthread_t thread;
    pthread_create(&thread, NULL, wait_once, &w);
    sleep_ms(100);
    assert_false(atomic_load(&w.is_done));
    /* Repeat the interrupt in case the first one came before the thread slept. */
    for (int i = 0; i < 40 && !atomic_load(&w.is_done); i++) {
        sl_cursor_interrupt(w.cur);
        sleep_ms(50);
    }
    pthread_join(thread, NULL);
    assert_code(w.code, SL_E_TIMEOUT, NULL);
    assert_true(w.waited_ms < 3000);
    sl_cursor_close(w.cur);
}

#define APPENDERS 4
#define EVENTS_PER_APPENDER 2000

struct appender {
    struct sl_store *store;
    char stream[16];
    uint32_t seed;
    int failures;
};

static void *append_batches(void *arg)
{
    struct appender *a = arg;
    uint32_t written = 0;
    for (int k = 0; written < EVENTS_PER_APPENDER; k++) {
        uint32_t n = (uint32_t)(1 + k % 5);
        if (n > EVENTS_PER_APPENDER - written)
            n = EVENTS_PER_APPENDER - written;
        struct sl_write w;
        if (append_generated(a->store, a->stream, rev_any(), a->seed, written, n, &w) != SL_OK)
            a->failures++;
        written += n;
    }
    return NULL;
}

struct consumer {
    struct sl_store *store;
    struct sl_cursor *cur;
    size_t want;
    struct log_copy got;
    enum sl_code error;
    char message[448];
    size_t past_head; /* events returned beyond the head seen right after the call */
    size_t timeouts;
};

static void *consume(void *arg)
{
    struct consumer *c = arg;
    struct sl_error err;
    int64_t deadline = sl_monotonic_ms() + 40000;
    while (c->got.n < c->want && sl_monotonic_ms() < deadline) {
        const struct sl_event *events = NULL;
        size_t n = 0;
        enum sl_code code = sl_cursor_next(c->cur, 100, 100, &events, &n, &err);
        if (code == SL_E_TIMEOUT) {
            c->timeouts++;
            continue;
        }
        if (code != SL_OK) {
            c->error = code;
            snprintf(c->message, sizeof(c->message), "%s", err.message);
            return NULL;
        }
        uint64_t head = sl_store_head(c->store);
        for (size_t i = 0; i < n; i++) {
            if (events[i].position > head)
                c->past_head++;
            log_copy_push(&c->got, &events[i]);
        }
    }
    return NULL;
}

static void test_cursor_sees_every_concurrent_append_exactly_once_in_order(void **state)
{
    struct fixture *f = *state;
    struct consumer c;
    memset(&c, 0, sizeof(c));
    c.store = f->store;
    c.cur = sl_cursor_open(f->store, 0, NULL);
    c.want = APPENDERS * EVENTS_PER_APPENDER;
    assert_non_null(c.cur);
    pthread_t consumer_thread, threads[APPENDERS];
    struct appender a[APPENDERS];
    pthread_create(&consumer_thread, NULL, consume, &c);
    sleep_ms(20);
    for (int i = 0; i < APPENDERS; i++) {
        a[i].store = f->store;
        snprintf(a[i].stream, sizeof(a[i].stream), "cur-%d", i);
        a[i].seed = 500 + (uint32_t)i;
        a[i].failures = 0;
        pthread_create(&threads[i], NULL, append_batches, &a[i]);
    }
    for (int i = 0; i < APPENDERS; i++)
        pthread_join(threads[i], NULL);
    pthread_join(consumer_thread, NULL);
    for (int i = 0; i < APPENDERS; i++)
        assert_int_equal(a[i].failures, 0);
    if (c.error != SL_OK)
        fail_msg("the cursor failed with %s: %s", sl_code_name(c.error), c.message);
    assert_int_equal(c.past_head, 0);

    struct log_copy log;
    log_copy_read(f->store, 1000, &log);
    assert_int_equal(log.n, APPENDERS * EVENTS_PER_APPENDER);
    assert_same_events(&c.got, &log, 0);
    /* Each stream's events arrive in revision order, with the ids in the order appended. */
    int64_t next_revision[APPENDERS] = {0};
    for (size_t i = 0; i < c.got.n; i++) {
        int s = c.got.stream[i][4] - '0';
        assert_in_range(s, 0, APPENDERS - 1);
        assert_int_equal(c.got.revision[i], next_revision[s]);
        assert_true(id_is(c.got.id[i], 500 + (uint32_t)s, (uint32_t)next_revision[s]));
        next_revision[s]++;
    }
    for (int s = 0; s < APPENDERS; s++)
        assert_int_equal(next_revision[s], EVENTS_PER_APPENDER);
    sl_cursor_close(c.cur);
    log_copy_free(&c.got);
    log_copy_free(&log);
}

/* ---- filtered cursors ---- */

static void test_filtered_cursor_moves_its_position_past_skipped_events(void **state)
{
    struct fixture *f = *state;
    struct sl_error err;
    struct sl_filter *filter = sl_filter_new(SL_FILTER_STREAM, SL_FILTER_EXACT, "wanted", false, &err);
    assert_non_null(filter);
    append_ok(f->store, "other", 5);
    struct sl_write wanted = append_ok(f->store, "wanted", 1);
    append_ok(f->store, "other", 5);

    struct sl_cursor *cur = sl_cursor_open(f->store, 0, filter);
    assert_non_null(cur);
    const struct sl_event *events = NULL;
    size_t n = 0;
    assert_code(sl_cursor_next(cur, 10, 0, &events, &n, &err), SL_OK, &err);
    assert_int_equal(n, 1);
    assert_int_equal(events[0].position, wanted.position);
    assert_true(sl_cursor_position(cur) >= wanted.position);

    assert_code(sl_cursor_next(cur, 10, 0, &events, &n, &err), SL_E_TIMEOUT, &err);
    assert_int_equal(sl_cursor_position(cur), sl_store_head(f->store));

    /* Only unwanted events arrive: the position still moves on. */
    append_ok(f->store, "other", 300);
    assert_code(sl_cursor_next(cur, 10, 50, &events, &n, &err), SL_E_TIMEOUT, &err);
    assert_int_equal(sl_cursor_position(cur), sl_store_head(f->store));

    struct sl_write later = append_ok(f->store, "wanted", 1);
    assert_code(sl_cursor_next(cur, 10, 1000, &events, &n, &err), SL_OK, &err);
    assert_int_equal(n, 1);
    assert_int_equal(events[0].position, later.position);
    sl_cursor_close(cur);
    sl_filter_free(filter);
}

static void test_filtered_cursor_returns_matching_events_in_order(void **state)
{
    struct fixture *f = *state;
    struct sl_error err;
    struct sl_filter *filter = sl_filter_new(SL_FILTER_STREAM, SL_FILTER_PREFIX, "mix-1", false, &err);
    assert_non_null(filter);
    write_mixed(f->store, 30);
    struct log_copy log, got;
    log_copy_read(f->store, 1000, &log);
    memset(&got, 0, sizeof(got));
    struct sl_cursor *cur = sl_cursor_open(f->store, 0, filter);
    drain(cur, 3, &got);
    size_t k = 0;
    for (size_t i = 0; i < log.n; i++) {
        if (strcmp(log.stream[i], "mix-1") != 0)
            continue;
        assert_true(k < got.n);
        assert_int_equal(got.position[k], log.position[i]);
        k++;
    }
    assert_int_equal(k, got.n);
    assert_int_equal(got.n, log_count_stream(&log, "mix-1"));
    sl_cursor_close(cur);
    sl_filter_free(filter);
    log_copy_free(&log);
    log_copy_free(&got);
}

static void test_cursor_close_is_null_safe(void **state)
{
    (void)state;
    sl_cursor_close(NULL);
}

/* ---- the head ---- */

struct delayed_append {
    struct sl_store *store;
    int delay_ms;
};

static void *append_later(void *arg)
{
    struct delayed_append *d = arg;
    sleep_ms(d->delay_ms);
    struct sl_write w;
    append_generated(d->store, "later", rev_any(), fresh_seed(), 0, 1, &w);
    return NULL;
}

static void test_store_wait_returns_when_the_head_moves(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "s", 1);
    uint64_t head = sl_store_head(f->store);

    /* Already past: no waiting. */
    int64_t start = sl_monotonic_ms();
    assert_int_equal(sl_store_wait(f->store, head - 1, 5000), head);
    assert_true(sl_monotonic_ms() - start < 500);

    /* Nothing new: the timeout, then the same head. */
    start = sl_monotonic_ms();
    assert_int_equal(sl_store_wait(f->store, head, 100), head);
    assert_in_range(sl_monotonic_ms() - start, 80, 2000);

    struct delayed_append d = {f->store, 100};
    pthread_t thread;
    pthread_create(&thread, NULL, append_later, &d);
    start = sl_monotonic_ms();
    uint64_t moved = sl_store_wait(f->store, head, 10000);
    int64_t waited = sl_monotonic_ms() - start;
    pthread_join(thread, NULL);
    assert_true(moved > head);
    assert_true(moved <= sl_store_head(f->store));
    assert_true(waited < 5000);
}

static atomic_int watch_calls;
static void *watch_arg_seen;

static void on_commit(void *arg)
{
    watch_arg_seen = arg;
    atomic_fetch_add(&watch_calls, 1);
}

static void noop_watch(void *arg)
{
    (void)arg;
}

static void test_watcher_runs_after_each_commit_that_moves_the_head(void **state)
{
    struct fixture *f = *state;
    static int marker;
    atomic_store(&watch_calls, 0);
    assert_code(sl_store_watch(f->store, on_commit, &marker), SL_OK, NULL);
    for (int i = 0; i < 3; i++) {
        append_ok(f->store, "watched", 1);
        /* The watcher may run just after the writer acknowledges the write. */
        for (int t = 0; t < 200 && atomic_load(&watch_calls) < i + 1; t++)
            sleep_ms(10);
        assert_int_equal(atomic_load(&watch_calls), i + 1);
    }
    assert_ptr_equal(watch_arg_seen, &marker);
}

static void test_watchers_are_limited(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < SL_STORE_MAX_WATCHERS; i++)
        assert_code(sl_store_watch(f->store, noop_watch, NULL), SL_OK, NULL);
    assert_code(sl_store_watch(f->store, noop_watch, NULL), SL_E_TOO_LARGE, NULL);
    append_ok(f->store, "s", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        STORE_TEST(test_cursor_from_zero_returns_every_event_in_order),
        STORE_TEST(test_cursor_after_a_position_returns_strictly_later_events),
        STORE_TEST(test_cursor_times_out_when_nothing_new_arrives),
        STORE_TEST(test_cursor_batch_stays_valid_while_the_store_changes),
        STORE_TEST(test_cursor_wakes_for_an_event_written_while_it_waits),
        STORE_TEST(test_cursor_interrupt_wakes_a_waiter),
        STORE_TEST(test_cursor_sees_every_concurrent_append_exactly_once_in_order),
        STORE_TEST(test_filtered_cursor_moves_its_position_past_skipped_events),
        STORE_TEST(test_filtered_cursor_returns_matching_events_in_order),
        cmocka_unit_test(test_cursor_close_is_null_safe),
        STORE_TEST(test_store_wait_returns_when_the_head_moves),
        STORE_TEST(test_watcher_runs_after_each_commit_that_moves_the_head),
        STORE_TEST(test_watchers_are_limited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
