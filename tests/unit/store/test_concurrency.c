/* test_concurrency.c: many threads writing at once through the one writer:
 * every stream stays contiguous, nothing is lost or duplicated, optimistic
 * concurrency lets exactly one of several conflicting appends through, and
 * waiting writers share commits (store.h: group commit). */
#include "store_fixture.h"

#define THREADS 8
#define OPS_PER_THREAD 500
#define EVENTS_PER_OP_MAX 2

struct worker {
    struct sl_store *store;
    int index;
    char own_stream[16];
    struct sl_write *writes; /* OPS_PER_THREAD, each kept until its `done` */
    struct done_counter async_done;
    size_t n_async;
    size_t n_events;
    int submit_failures;
    int write_failures;
};

static const char *shared_streams[] = {"shared-0", "shared-1", "shared-2"};

static size_t events_for_op(int op)
{
    return op % 7 == 0 ? 2 : 1;
}

static void *work(void *arg)
{
    struct worker *wk = arg;
    done_counter_init(&wk->async_done);
    for (int op = 0; op < OPS_PER_THREAD; op++) {
        struct sl_write *w = &wk->writes[op];
        const char *stream = op % 2 == 0 ? wk->own_stream : shared_streams[op % 3];
        size_t n = events_for_op(op);
        write_init_append(w, stream, rev_any(), 7000 + (uint32_t)wk->index, (uint32_t)op * EVENTS_PER_OP_MAX,
                          n);
        wk->n_events += n;
        if (op % 5 == 0) {
            struct sl_error err;
            w->done = count_done;
            w->user = &wk->async_done;
            if (sl_store_submit(wk->store, w, &err) == SL_OK)
                wk->n_async++;
            else
                wk->submit_failures++;
        } else {
            if (sl_store_write(wk->store, w) != SL_OK)
                wk->write_failures++;
        }
    }
    done_counter_wait(&wk->async_done, wk->n_async, 30000);
    return NULL;
}

static int compare_ids(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static void test_concurrent_appends_keep_every_stream_contiguous(void **state)
{
    struct fixture *f = *state;
    struct worker workers[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        memset(&workers[t], 0, sizeof(workers[t]));
        workers[t].store = f->store;
        workers[t].index = t;
        snprintf(workers[t].own_stream, sizeof(workers[t].own_stream), "own-%d", t);
        workers[t].writes = calloc(OPS_PER_THREAD, sizeof(struct sl_write));
        assert_non_null(workers[t].writes);
    }
    for (int t = 0; t < THREADS; t++)
        pthread_create(&threads[t], NULL, work, &workers[t]);
    size_t total_events = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        struct worker *wk = &workers[t];
        assert_int_equal(wk->submit_failures, 0);
        assert_int_equal(wk->write_failures, 0);
        assert_int_equal(wk->async_done.n, wk->n_async);
        assert_int_equal(wk->async_done.n_off_caller_thread, wk->n_async);
        total_events += wk->n_events;
        for (int op = 0; op < OPS_PER_THREAD; op++) {
            struct sl_write *w = &wk->writes[op];
            assert_code(w->code, SL_OK, &w->err);
            assert_false(w->was_idempotent);
        }
    }

    struct log_copy log;
    log_copy_read(f->store, 1000, &log);
    assert_int_equal(log.n, total_events);
    assert_int_equal(log.position[log.n - 1], sl_store_head(f->store));

    /* Positions strictly increase; each stream's revisions run 0, 1, 2, ... along the log. */
    const char *names[THREADS + 3];
    int64_t next_revision[THREADS + 3];
    for (int t = 0; t < THREADS; t++)
        names[t] = workers[t].own_stream;
    for (int s = 0; s < 3; s++)
        names[THREADS + s] = shared_streams[s];
    memset(next_revision, 0, sizeof(next_revision));
    for (size_t i = 0; i < log.n; i++) {
        if (i > 0 && log.position[i] <= log.position[i - 1])
            fail_msg("position %llu follows %llu", (unsigned long long)log.position[i],
                     (unsigned long long)log.position[i - 1]);
        size_t s = 0;
        while (s < ARRAY_LEN(names) && strcmp(names[s], log.stream[i]) != 0)
            s++;
        if (s == ARRAY_LEN(names))
            fail_msg("unexpected stream %s in the log", log.stream[i]);
        if (log.revision[i] != next_revision[s])
            fail_msg("%s: revision %lld at position %llu, wanted %lld", names[s], (long long)log.revision[i],
                     (unsigned long long)log.position[i], (long long)next_revision[s]);
        next_revision[s]++;
    }
    for (size_t s = 0; s < ARRAY_LEN(names); s++) {
        struct sl_stream_info info = stream_info_of(f->store, names[s]);
        assert_int_equal(info.last_revision, next_revision[s] - 1);
    }

    /* No event id twice. */
    uint8_t(*ids)[16] = malloc(log.n * 16);
    assert_non_null(ids);
    memcpy(ids, log.id, log.n * 16);
    qsort(ids, log.n, 16, compare_ids);
    for (size_t i = 1; i < log.n; i++)
        if (memcmp(ids[i], ids[i - 1], 16) == 0)
            fail_msg("an event id appears twice in the log");
    free(ids);

    /* Each write's result points at its own last event. */
    struct sl_error err;
    for (int t = 0; t < THREADS; t++) {
        for (int op = 0; op < OPS_PER_THREAD; op += 37) {
            struct sl_write *w = &workers[t].writes[op];
            struct sl_read_result r;
            memset(&r, 0, sizeof(r));
            assert_code(sl_store_read_at(f->store, w->position, &r, &err), SL_OK, &err);
            assert_int_equal(r.count, 1);
            assert_int_equal(r.events[0].revision, w->last_revision);
            assert_memory_equal(r.events[0].id, w->events[w->n_events - 1].id, 16);
            sl_read_result_free(&r);
        }
    }

    struct sl_store_stats stats;
    memset(&stats, 0, sizeof(stats));
    sl_store_get_stats(f->store, &stats);
    print_message("stats: %llu writes in %llu commits, max batch %llu, %llu events\n",
                  (unsigned long long)stats.writes, (unsigned long long)stats.commits,
                  (unsigned long long)stats.max_batch, (unsigned long long)stats.events_written);
    assert_true(stats.writes >= THREADS * OPS_PER_THREAD);
    assert_true(stats.events_written >= total_events);
    assert_true(stats.commits >= 1);
    if (!(stats.writes > stats.commits))
        fail_msg("no group commit: %llu writes took %llu commits", (unsigned long long)stats.writes,
                 (unsigned long long)stats.commits);
    assert_true(stats.max_batch > 1);
    assert_int_equal(stats.head, sl_store_head(f->store));
    assert_false(stats.last_commit_failed);

    for (int t = 0; t < THREADS; t++) {
        for (int op = 0; op < OPS_PER_THREAD; op++)
            write_release(&workers[t].writes[op]);
        free(workers[t].writes);
        done_counter_destroy(&workers[t].async_done);
    }
    log_copy_free(&log);
}

/* ---- optimistic concurrency ---- */

#define RACE_SUCCESSES 40

struct racer {
    struct sl_store *store;
    int index;
    int64_t won[RACE_SUCCESSES]; /* last_revision of each successful append */
    int attempts;
    int anomalies; /* a refusal that reported the revision we expected, or a wrong code */
};

static void *race(void *arg)
{
    struct racer *r = arg;
    for (int wins = 0; wins < RACE_SUCCESSES && r->attempts < 100000;) {
        struct sl_stream_info info;
        struct sl_error err;
        enum sl_code info_code = sl_store_stream_info(r->store, STR_ARGS("race"), &info, &err);
        if (info_code == SL_E_NOT_FOUND) {
            info.last_revision = SL_REVISION_NONE;
        } else if (info_code != SL_OK) {
            r->anomalies++;
            return NULL;
        }
        struct sl_write w;
        r->attempts++;
        enum sl_code code = append_generated(
            r->store, "race", info.last_revision < 0 ? rev_no_stream() : rev_exact(info.last_revision),
            8000 + (uint32_t)r->index, (uint32_t)wins, 1, &w);
        if (code == SL_OK) {
            if (w.last_revision != info.last_revision + 1)
                r->anomalies++;
            r->won[wins++] = w.last_revision;
        } else if (code != SL_E_WRONG_REVISION || w.actual_revision == info.last_revision) {
            r->anomalies++;
        }
    }
    return NULL;
}

static void test_concurrent_appends_at_the_same_revision_let_exactly_one_through(void **state)
{
    struct fixture *f = *state;
    struct racer racers[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        memset(&racers[t], 0, sizeof(racers[t]));
        racers[t].store = f->store;
        racers[t].index = t;
        pthread_create(&threads[t], NULL, race, &racers[t]);
    }
    bool *taken = calloc(THREADS * RACE_SUCCESSES, sizeof(bool));
    assert_non_null(taken);
    int attempts = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        assert_int_equal(racers[t].anomalies, 0);
        attempts += racers[t].attempts;
        for (int k = 0; k < RACE_SUCCESSES; k++) {
            int64_t rev = racers[t].won[k];
            assert_in_range(rev, 0, THREADS * RACE_SUCCESSES - 1);
            if (taken[rev])
                fail_msg("two appends both succeeded at revision %lld", (long long)rev);
            taken[rev] = true;
        }
    }
    free(taken);
    print_message("%d successful appends took %d attempts\n", THREADS * RACE_SUCCESSES, attempts);

    struct sl_read_result r;
    read_stream_ok(f->store, "race", 0, false, 10000, &r);
    assert_int_equal(r.count, THREADS * RACE_SUCCESSES);
    for (size_t i = 0; i < r.count; i++)
        assert_int_equal(r.events[i].revision, (int64_t)i);
    sl_read_result_free(&r);
}

struct creator {
    struct sl_store *store;
    pthread_barrier_t *start;
    const char *stream;
    int index;
    enum sl_code code;
    int64_t actual_revision;
};

static void *create_stream(void *arg)
{
    struct creator *c = arg;
    struct sl_write w;
    pthread_barrier_wait(c->start);
    c->code = append_generated(c->store, c->stream, rev_no_stream(), 9000 + (uint32_t)c->index, 0, 1, &w);
    c->actual_revision = w.actual_revision;
    return NULL;
}

static void test_concurrent_no_stream_appends_create_the_stream_once(void **state)
{
    struct fixture *f = *state;
    for (int round = 0; round < 20; round++) {
        char stream[32];
        snprintf(stream, sizeof(stream), "fresh-%d", round);
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, THREADS);
        struct creator c[THREADS];
        pthread_t threads[THREADS];
        for (int t = 0; t < THREADS; t++) {
            c[t] = (struct creator){.store = f->store, .start = &start, .stream = stream, .index = t};
            pthread_create(&threads[t], NULL, create_stream, &c[t]);
        }
        int created = 0;
        for (int t = 0; t < THREADS; t++) {
            pthread_join(threads[t], NULL);
            if (c[t].code == SL_OK) {
                created++;
            } else {
                assert_code(c[t].code, SL_E_WRONG_REVISION, NULL);
                assert_int_equal(c[t].actual_revision, 0);
            }
        }
        pthread_barrier_destroy(&start);
        assert_int_equal(created, 1);
        struct sl_read_result r;
        read_stream_ok(f->store, stream, 0, false, 100, &r);
        assert_revisions(&r, 0);
        sl_read_result_free(&r);
    }
}

/* Submitted writes are applied in submission order when they come from one thread. */
static void test_writes_submitted_by_one_thread_apply_in_order(void **state)
{
    struct fixture *f = *state;
    enum { N = 200 };
    struct sl_write *w = calloc(N, sizeof(*w));
    assert_non_null(w);
    struct done_counter counter;
    done_counter_init(&counter);
    struct sl_error err;
    for (int i = 0; i < N; i++) {
        /* Exact revisions only work if the store keeps the order. */
        write_init_append(&w[i], "ordered", i == 0 ? rev_no_stream() : rev_exact(i - 1), 9500, (uint32_t)i,
                          1);
        w[i].done = count_done;
        w[i].user = &counter;
        assert_code(sl_store_submit(f->store, &w[i], &err), SL_OK, &err);
    }
    assert_true(done_counter_wait(&counter, N, 30000));
    for (int i = 0; i < N; i++) {
        assert_code(w[i].code, SL_OK, &w[i].err);
        assert_int_equal(w[i].last_revision, i);
        if (i > 0)
            assert_true(w[i].position > w[i - 1].position);
        write_release(&w[i]);
    }
    free(w);
    done_counter_destroy(&counter);
}

/* One refused write in a group commit does not take the others with it. */
static void test_a_refused_write_in_a_batch_leaves_the_others_written(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "b", 2);
    struct done_counter counter;
    done_counter_init(&counter);
    enum { N = 30 };
    struct sl_write w[N];
    struct sl_error err;
    for (int i = 0; i < N; i++) {
        char *name = malloc(8);
        snprintf(name, 8, "%c", "abc"[i % 3]);
        /* Every stream "b" write expects revision 0, which is stale: refused. */
        write_init_append(&w[i], name, name[0] == 'b' ? rev_exact(0) : rev_any(), 9700, (uint32_t)i, 2);
        w[i].done = count_done;
        w[i].user = &counter;
        assert_code(sl_store_submit(f->store, &w[i], &err), SL_OK, &err);
    }
    assert_true(done_counter_wait(&counter, N, 10000));
    for (int i = 0; i < N; i++) {
        if (w[i].stream[0] == 'b') {
            assert_code(w[i].code, SL_E_WRONG_REVISION, &w[i].err);
            assert_int_equal(w[i].actual_revision, 1);
        } else {
            assert_code(w[i].code, SL_OK, &w[i].err);
        }
        write_release(&w[i]);
        free((char *)w[i].stream);
    }
    struct sl_read_result r;
    read_stream_ok(f->store, "a", 0, false, 100, &r);
    assert_int_equal(r.count, 2 * N / 3);
    sl_read_result_free(&r);
    read_stream_ok(f->store, "c", 0, false, 100, &r);
    assert_int_equal(r.count, 2 * N / 3);
    sl_read_result_free(&r);
    read_stream_ok(f->store, "b", 0, false, 100, &r);
    assert_revisions(&r, 0, 1);
    sl_read_result_free(&r);
    done_counter_destroy(&counter);
}

struct reader {
    struct sl_store *store;
    atomic_bool *stop;
    int reads;
    int torn_reads;      /* a stream read that saw part of an append */
    int unreadable_head; /* the published head could not be read */
    int read_errors;
};

#define TORN_BATCH 10

static void *read_while_writing(void *arg)
{
    struct reader *rd = arg;
    while (!atomic_load(rd->stop)) {
        struct sl_read_result r;
        struct sl_error err;
        uint64_t head = sl_store_head(rd->store);
        if (head > 0) {
            memset(&r, 0, sizeof(r));
            if (sl_store_read_at(rd->store, head, &r, &err) != SL_OK || r.count != 1)
                rd->unreadable_head++;
            sl_read_result_free(&r);
        }
        memset(&r, 0, sizeof(r));
        enum sl_code code = sl_store_read_stream(rd->store, STR_ARGS("atomic"), 0, false, 100000, &r, &err);
        if (code == SL_OK) {
            if (r.count % TORN_BATCH != 0)
                rd->torn_reads++;
        } else if (code != SL_E_NOT_FOUND) {
            rd->read_errors++;
        }
        sl_read_result_free(&r);
        rd->reads++;
    }
    return NULL;
}

static void test_readers_never_see_part_of_an_append_or_an_unreadable_head(void **state)
{
    struct fixture *f = *state;
    atomic_bool stop = false;
    struct reader readers[2] = {{f->store, &stop, 0, 0, 0, 0}, {f->store, &stop, 0, 0, 0, 0}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, read_while_writing, &readers[i]);
    for (int i = 0; i < 150; i++) {
        struct sl_write w;
        assert_code(append_generated(f->store, "atomic", rev_any(), fresh_seed(), 0, TORN_BATCH, &w), SL_OK,
                    &w.err);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        print_message("reader %d: %d reads\n", i, readers[i].reads);
        assert_int_equal(readers[i].torn_reads, 0);
        assert_int_equal(readers[i].unreadable_head, 0);
        assert_int_equal(readers[i].read_errors, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        STORE_TEST(test_concurrent_appends_keep_every_stream_contiguous),
        STORE_TEST(test_concurrent_appends_at_the_same_revision_let_exactly_one_through),
        STORE_TEST(test_concurrent_no_stream_appends_create_the_stream_once),
        STORE_TEST(test_writes_submitted_by_one_thread_apply_in_order),
        STORE_TEST(test_a_refused_write_in_a_batch_leaves_the_others_written),
        STORE_TEST(test_readers_never_see_part_of_an_append_or_an_unreadable_head),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
