/* test_open.c: the store's life: opening (and refusing to), what survives a
 * close, close finishing queued writes, the map growing on demand, and the
 * counters (store.h). */
#include "store_fixture.h"

static void test_open_creates_a_missing_data_dir(void **state)
{
    (void)state;
    char parent[PATH_MAX], dir[PATH_MAX + 16];
    make_temp_dir(parent, "parent");
    snprintf(dir, sizeof(dir), "%s/data", parent);
    struct sl_store_options opts = {.data_dir = dir};
    struct sl_store *store = NULL;
    struct sl_error err;
    assert_code(sl_store_open(&opts, &store, &err), SL_OK, &err);
    assert_non_null(store);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(sl_store_head(store), 0);
    sl_store_close(store);
    remove_tree(parent);
}

static void test_open_without_a_data_dir_fails_with_a_message(void **state)
{
    (void)state;
    struct sl_store_options opts = {.data_dir = NULL};
    struct sl_store *store = NULL;
    struct sl_error err;
    memset(&err, 0, sizeof(err));
    enum sl_code code = sl_store_open(&opts, &store, &err);
    assert_true(code != SL_OK);
    assert_null(store);
    assert_true(err.message[0] != '\0');
}

static void test_open_on_a_regular_file_fails_with_a_message(void **state)
{
    (void)state;
    char parent[PATH_MAX], file[PATH_MAX + 16];
    make_temp_dir(parent, "file");
    snprintf(file, sizeof(file), "%s/not-a-dir", parent);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fputs("x", fp);
    fclose(fp);
    struct sl_store_options opts = {.data_dir = file};
    struct sl_store *store = NULL;
    struct sl_error err;
    memset(&err, 0, sizeof(err));
    enum sl_code code = sl_store_open(&opts, &store, &err);
    assert_true(code != SL_OK);
    assert_null(store);
    assert_true(err.message[0] != '\0');
    remove_tree(parent);
}

static void test_close_is_null_safe(void **state)
{
    (void)state;
    sl_store_close(NULL);
}

static void test_an_empty_store_has_head_zero(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(sl_store_head(f->store), 0);
    struct sl_store_stats stats;
    memset(&stats, 0xff, sizeof(stats));
    sl_store_get_stats(f->store, &stats);
    assert_int_equal(stats.head, 0);
    assert_int_equal(stats.events_written, 0);
    fixture_reopen(f);
    assert_int_equal(sl_store_head(f->store), 0);
    struct sl_write w = append_ok(f->store, "first", 1);
    assert_int_equal(w.position, 1);
    assert_int_equal(sl_store_head(f->store), 1);
}

static void test_head_and_revisions_continue_after_reopen(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "a", 3);
    struct sl_write last = append_ok(f->store, "b", 2);
    fixture_reopen(f);
    assert_int_equal(sl_store_head(f->store), last.position);
    struct sl_write w = append_ok(f->store, "a", 1);
    assert_int_equal(w.last_revision, 3);
    assert_true(w.position > last.position);
    w = append_ok(f->store, "b", 1);
    assert_int_equal(w.last_revision, 2);
    struct sl_stream_info info = stream_info_of(f->store, "a");
    assert_true(info.exists);
    assert_int_equal(info.last_revision, 3);
}

static void test_close_finishes_every_queued_write(void **state)
{
    struct fixture *f = *state;
    enum { N = 300 };
    struct sl_write *w = calloc(N, sizeof(*w));
    assert_non_null(w);
    struct done_counter counter;
    done_counter_init(&counter);
    struct sl_error err;
    for (int i = 0; i < N; i++) {
        char *name = malloc(16);
        snprintf(name, 16, "q-%d", i % 5);
        write_init_append(&w[i], name, rev_any(), 9900, (uint32_t)i, 1);
        w[i].done = count_done;
        w[i].user = &counter;
        assert_code(sl_store_submit(f->store, &w[i], &err), SL_OK, &err);
    }
    fixture_close(f);
    /* Every `done` ran before close returned. */
    assert_int_equal(counter.n, N);
    for (int i = 0; i < N; i++) {
        assert_code(w[i].code, SL_OK, &w[i].err);
        write_release(&w[i]);
        free((char *)w[i].stream);
    }
    free(w);
    done_counter_destroy(&counter);

    fixture_open(f);
    struct log_copy log;
    log_copy_read(f->store, 1000, &log);
    assert_int_equal(log.n, N);
    for (int s = 0; s < 5; s++) {
        char name[16];
        snprintf(name, sizeof(name), "q-%d", s);
        assert_int_equal(log_count_stream(&log, name), N / 5);
    }
    log_copy_free(&log);
}

static int setup_small_map(void **state)
{
    struct fixture *f = fixture_new(0, 0);
    f->opts.map_size = (size_t)1 << 20;
    *state = f;
    fixture_open(f);
    return 0;
}

static void test_the_map_grows_when_the_data_outgrows_it(void **state)
{
    struct fixture *f = *state;
    enum { EVENT_BYTES = 128 * 1024, EVENTS = 80 }; /* 10 MiB in a 1 MiB map */
    struct sl_store_stats before;
    sl_store_get_stats(f->store, &before);

    char *data = malloc(EVENT_BYTES);
    assert_non_null(data);
    for (int i = 0; i < EVENTS; i++) {
        memset(data, 'a' + i % 26, EVENT_BYTES);
        struct sl_new_event ev;
        make_event(&ev, 4242, (uint32_t)i);
        ev.flags = 0;
        ev.data = data;
        ev.data_len = EVENT_BYTES;
        struct sl_write w;
        memset(&w, 0, sizeof(w));
        w.kind = SL_WRITE_APPEND;
        w.stream = "big";
        w.stream_len = 3;
        w.expected = rev_any();
        w.events = &ev;
        w.n_events = 1;
        enum sl_code code = sl_store_write(f->store, &w);
        if (code != SL_OK)
            fail_msg("append %d of %d (%d bytes each, map %llu) returned %s: %s", i + 1, EVENTS, EVENT_BYTES,
                     (unsigned long long)before.map_size, sl_code_name(code), w.err.message);
    }
    struct sl_store_stats after;
    sl_store_get_stats(f->store, &after);
    assert_true(after.map_size >= (uint64_t)EVENT_BYTES * EVENTS);
    if (before.map_size < (uint64_t)EVENT_BYTES * EVENTS)
        assert_true(after.map_resizes >= 1);
    assert_false(after.last_commit_failed);

    fixture_reopen(f);
    struct sl_read_result r;
    read_stream_ok(f->store, "big", 0, false, 1000, &r);
    assert_int_equal(r.count, EVENTS);
    for (size_t i = 0; i < r.count; i++) {
        assert_int_equal(r.events[i].data_len, EVENT_BYTES);
        const char *d = r.events[i].data;
        assert_int_equal(d[0], 'a' + (int)i % 26);
        assert_int_equal(d[EVENT_BYTES - 1], 'a' + (int)i % 26);
    }
    sl_read_result_free(&r);
    free(data);
}

static void test_stats_count_commits_writes_and_events(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 3; i++)
        append_ok(f->store, "counted", 2);
    struct sl_store_stats stats;
    sl_store_get_stats(f->store, &stats);
    assert_int_equal(stats.writes, 3);
    assert_int_equal(stats.events_written, 6);
    assert_true(stats.commits >= 1 && stats.commits <= 3);
    assert_true(stats.max_batch >= 1);
    assert_int_equal(stats.head, sl_store_head(f->store));
    assert_true(stats.map_size > 0);
    assert_false(stats.last_commit_failed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_creates_a_missing_data_dir),
        cmocka_unit_test(test_open_without_a_data_dir_fails_with_a_message),
        cmocka_unit_test(test_open_on_a_regular_file_fails_with_a_message),
        cmocka_unit_test(test_close_is_null_safe),
        STORE_TEST(test_an_empty_store_has_head_zero),
        STORE_TEST(test_head_and_revisions_continue_after_reopen),
        STORE_TEST(test_close_finishes_every_queued_write),
        cmocka_unit_test_setup_teardown(test_the_map_grows_when_the_data_outgrows_it, setup_small_map,
                                        fixture_teardown),
        STORE_TEST(test_stats_count_commits_writes_and_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
