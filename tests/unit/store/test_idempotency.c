/* test_idempotency.c: re-appending events that are already there returns the
 * original result and writes nothing (spec/streams.md, docs/http-api.md),
 * also after the store is closed and opened again; a partly overlapping
 * append never writes an event id a second time among a stream's recent
 * events (SL_STORE_ID_WINDOW); and stores whose stream index predates the
 * ids in it keep all of this. */
#include <lmdb.h>

#include "store_fixture.h"

/* Fails unless every event id of `stream` is distinct. */
static void assert_ids_unique_in_stream(struct sl_store *store, const char *stream)
{
    struct sl_read_result r;
    read_stream_ok(store, stream, 0, false, 10000, &r);
    int64_t first = -1, second = -1;
    for (size_t i = 0; i < r.count && first < 0; i++)
        for (size_t j = i + 1; j < r.count && first < 0; j++)
            if (memcmp(r.events[i].id, r.events[j].id, 16) == 0) {
                first = r.events[i].revision;
                second = r.events[j].revision;
            }
    sl_read_result_free(&r);
    if (first >= 0)
        fail_msg("stream %s holds the same event id at revisions %lld and %lld", stream, (long long)first,
                 (long long)second);
}

static void assert_idempotent(const struct sl_write *w, enum sl_code code, const struct sl_write *original,
                              const char *what)
{
    if (code != SL_OK || !w->was_idempotent || w->last_revision != original->last_revision ||
        w->position != original->position)
        fail_msg("%s: returned %s (%s), was_idempotent %d, last_revision %lld, position %llu; "
                 "wanted the original result: last_revision %lld, position %llu",
                 what, sl_code_name(code), w->err.message, w->was_idempotent, (long long)w->last_revision,
                 (unsigned long long)w->position, (long long)original->last_revision,
                 (unsigned long long)original->position);
}

static void test_first_append_is_not_idempotent(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    assert_code(append_generated(f->store, "s", rev_no_stream(), 1, 0, 3, &w), SL_OK, &w.err);
    assert_false(w.was_idempotent);
    assert_code(append_generated(f->store, "s", rev_any(), 2, 0, 1, &w), SL_OK, &w.err);
    assert_false(w.was_idempotent);
}

static void test_reappend_with_no_stream_returns_the_original_result_and_writes_nothing(void **state)
{
    struct fixture *f = *state;
    struct sl_write first, again;
    assert_code(append_generated(f->store, "orders", rev_no_stream(), 1, 0, 3, &first), SL_OK, &first.err);
    append_ok(f->store, "orders", 2);
    uint64_t head = sl_store_head(f->store);

    enum sl_code code = append_generated(f->store, "orders", rev_no_stream(), 1, 0, 3, &again);
    assert_idempotent(&again, code, &first, "re-append at no_stream");
    assert_int_equal(sl_store_head(f->store), head);
    struct sl_read_result r;
    read_stream_ok(f->store, "orders", 0, false, 100, &r);
    assert_revisions(&r, 0, 1, 2, 3, 4);
    sl_read_result_free(&r);
}

static void test_reappend_with_same_exact_revision_returns_the_original_result(void **state)
{
    struct fixture *f = *state;
    struct sl_write first, again;
    append_ok(f->store, "orders", 3);
    assert_code(append_generated(f->store, "orders", rev_exact(2), 5, 0, 2, &first), SL_OK, &first.err);
    assert_int_equal(first.last_revision, 4);
    append_ok(f->store, "orders", 1);
    uint64_t head = sl_store_head(f->store);

    enum sl_code code = append_generated(f->store, "orders", rev_exact(2), 5, 0, 2, &again);
    assert_idempotent(&again, code, &first, "re-append at exact revision 2");
    assert_int_equal(sl_store_head(f->store), head);
    struct sl_read_result r;
    read_stream_ok(f->store, "orders", 0, false, 100, &r);
    assert_revisions(&r, 0, 1, 2, 3, 4, 5);
    sl_read_result_free(&r);
}

static void test_reappend_of_a_single_event_at_its_revision_is_idempotent(void **state)
{
    struct fixture *f = *state;
    struct sl_write first, again;
    assert_code(append_generated(f->store, "one", rev_no_stream(), 9, 0, 1, &first), SL_OK, &first.err);
    uint64_t head = sl_store_head(f->store);
    enum sl_code code = append_generated(f->store, "one", rev_no_stream(), 9, 0, 1, &again);
    assert_idempotent(&again, code, &first, "re-append of one event at no_stream");
    assert_int_equal(sl_store_head(f->store), head);
}

static void test_reappend_with_any_of_the_last_events_is_idempotent(void **state)
{
    struct fixture *f = *state;
    struct sl_write first, again;
    append_ok(f->store, "tail", 2);
    assert_code(append_generated(f->store, "tail", rev_any(), 11, 0, 3, &first), SL_OK, &first.err);
    uint64_t head = sl_store_head(f->store);

    enum sl_code code = append_generated(f->store, "tail", rev_any(), 11, 0, 3, &again);
    assert_idempotent(&again, code, &first, "re-append with any of the stream's last three events");
    assert_int_equal(sl_store_head(f->store), head);
    struct sl_read_result r;
    read_stream_ok(f->store, "tail", 0, false, 100, &r);
    assert_revisions(&r, 0, 1, 2, 3, 4);
    sl_read_result_free(&r);
}

/* docs/http-api.md: "with `any`, ids that already stand consecutively in the
 * stream are recognised too", not only the last ones. */
static void test_reappend_with_any_of_earlier_consecutive_events_is_idempotent(void **state)
{
    struct fixture *f = *state;
    struct sl_write first, again;
    append_ok(f->store, "middle", 1);
    assert_code(append_generated(f->store, "middle", rev_any(), 12, 0, 2, &first), SL_OK, &first.err);
    append_ok(f->store, "middle", 2);
    uint64_t head = sl_store_head(f->store);

    enum sl_code code = append_generated(f->store, "middle", rev_any(), 12, 0, 2, &again);
    assert_idempotent(&again, code, &first, "re-append with any of revisions 1..2 of 0..4");
    assert_int_equal(sl_store_head(f->store), head);
    assert_ids_unique_in_stream(f->store, "middle");
}

static void test_same_event_id_in_another_stream_is_written(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    assert_code(append_generated(f->store, "first", rev_no_stream(), 21, 0, 1, &w), SL_OK, &w.err);
    assert_code(append_generated(f->store, "second", rev_no_stream(), 21, 0, 1, &w), SL_OK, &w.err);
    assert_false(w.was_idempotent);
    assert_int_equal(w.last_revision, 0);
    struct sl_read_result r;
    read_stream_ok(f->store, "second", 0, false, 10, &r);
    assert_revisions(&r, 0);
    assert_true(id_is(r.events[0].id, 21, 0));
    sl_read_result_free(&r);
}

/* Appends a1, a2 (revisions 0, 1), then `overlap` events starting with id
 * index `from_index`, at `expected`. Whatever the store answers, the stream
 * must not hold an id twice, and a refusal must write nothing. */
static enum sl_code append_overlapping(struct sl_store *store, const char *stream,
                                       struct sl_expected expected, uint32_t from_index, size_t n,
                                       struct sl_write *w)
{
    struct sl_write setup;
    assert_code(append_generated(store, stream, rev_no_stream(), 31, 0, 2, &setup), SL_OK, &setup.err);
    uint64_t head = sl_store_head(store);
    enum sl_code code = append_generated(store, stream, expected, 31, from_index, n, w);
    char buf[32];
    print_message("partial overlap on %s (ids %u..%zu at %s): %s%s%s, last_revision %lld, idempotent %d\n",
                  stream, from_index, from_index + n - 1, expected_name(expected, buf), sl_code_name(code),
                  code != SL_OK ? ": " : "", code != SL_OK ? w->err.message : "", (long long)w->last_revision,
                  w->was_idempotent);
    if (code != SL_OK && sl_store_head(store) != head)
        fail_msg("the refused append moved the head from %llu to %llu", (unsigned long long)head,
                 (unsigned long long)sl_store_head(store));
    assert_ids_unique_in_stream(store, stream);
    return code;
}

static void test_partial_overlap_at_the_original_revision_writes_no_duplicate(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    /* a0 a1 a2 at no_stream, where a0 a1 stand already. */
    enum sl_code code = append_overlapping(f->store, "overlap-start", rev_no_stream(), 0, 3, &w);
    assert_true(code == SL_OK || code == SL_E_WRONG_REVISION);
}

static void test_partial_overlap_at_a_middle_revision_writes_no_duplicate(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    /* a1 a2 at exact 0, where a1 stands at revision 1. */
    enum sl_code code = append_overlapping(f->store, "overlap-middle", rev_exact(0), 1, 2, &w);
    assert_true(code == SL_OK || code == SL_E_WRONG_REVISION);
}

static void test_append_at_the_current_revision_repeating_the_last_id_writes_no_duplicate(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    /* a1 a2 at exact 1: the revision matches, but a1 already stands at revision 1. */
    append_overlapping(f->store, "overlap-current", rev_exact(1), 1, 2, &w);
}

/* The spec does not say what `any` does with a partial overlap; this only
 * records the behaviour (see the test's output). */
static void test_partial_overlap_with_any_is_reported(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    struct sl_write setup;
    assert_code(append_generated(f->store, "overlap-any", rev_no_stream(), 31, 0, 2, &setup), SL_OK,
                &setup.err);
    enum sl_code code = append_generated(f->store, "overlap-any", rev_any(), 31, 1, 2, &w);
    struct sl_read_result r;
    read_stream_ok(f->store, "overlap-any", 0, false, 100, &r);
    print_message("partial overlap with any (a1 a2 onto a0 a1): %s%s%s, stream now has %zu events\n",
                  sl_code_name(code), code != SL_OK ? ": " : "", code != SL_OK ? w.err.message : "", r.count);
    sl_read_result_free(&r);
}

static void test_idempotency_holds_after_close_and_reopen(void **state)
{
    struct fixture *f = *state;
    struct sl_write first, tail, again;
    assert_code(append_generated(f->store, "durable", rev_no_stream(), 41, 0, 3, &first), SL_OK, &first.err);
    assert_code(append_generated(f->store, "durable", rev_exact(2), 42, 0, 2, &tail), SL_OK, &tail.err);
    uint64_t head = sl_store_head(f->store);

    fixture_reopen(f);
    assert_int_equal(sl_store_head(f->store), head);

    enum sl_code code = append_generated(f->store, "durable", rev_no_stream(), 41, 0, 3, &again);
    assert_idempotent(&again, code, &first, "re-append at no_stream after reopen");
    code = append_generated(f->store, "durable", rev_exact(2), 42, 0, 2, &again);
    assert_idempotent(&again, code, &tail, "re-append at exact 2 after reopen");
    code = append_generated(f->store, "durable", rev_any(), 42, 0, 2, &again);
    assert_idempotent(&again, code, &tail, "re-append with any of the last events after reopen");
    assert_int_equal(sl_store_head(f->store), head);

    struct sl_read_result r;
    read_stream_ok(f->store, "durable", 0, false, 100, &r);
    assert_revisions(&r, 0, 1, 2, 3, 4);
    sl_read_result_free(&r);
}

/* Two identical appends queued together may land in the same commit: the
 * second must see the first and be recognised, never written twice. */
static void test_identical_appends_in_one_commit_are_written_once(void **state)
{
    struct fixture *f = *state;
    struct done_counter counter;
    done_counter_init(&counter);
    struct sl_write w[4];
    struct sl_error err;
    for (int i = 0; i < 4; i++) {
        write_init_append(&w[i], "twice", rev_no_stream(), 51, 0, 3);
        w[i].done = count_done;
        w[i].user = &counter;
    }
    for (int i = 0; i < 4; i++)
        assert_code(sl_store_submit(f->store, &w[i], &err), SL_OK, &err);
    assert_true(done_counter_wait(&counter, 4, 10000));

    int written = 0;
    for (int i = 0; i < 4; i++) {
        assert_code(w[i].code, SL_OK, &w[i].err);
        assert_int_equal(w[i].last_revision, 2);
        written += !w[i].was_idempotent;
        write_release(&w[i]);
    }
    assert_int_equal(written, 1);
    for (int i = 1; i < 4; i++)
        assert_int_equal(w[i].position, w[0].position);
    struct sl_read_result r;
    read_stream_ok(f->store, "twice", 0, false, 100, &r);
    assert_revisions(&r, 0, 1, 2);
    sl_read_result_free(&r);
    done_counter_destroy(&counter);
}

/* A different id at an already-used revision is a conflict, not a re-append. */
static void test_different_ids_at_a_used_revision_are_a_conflict(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    assert_code(append_generated(f->store, "conflict", rev_no_stream(), 61, 0, 2, &w), SL_OK, &w.err);
    uint64_t head = sl_store_head(f->store);
    assert_code(append_generated(f->store, "conflict", rev_no_stream(), 62, 0, 2, &w), SL_E_WRONG_REVISION,
                &w.err);
    assert_int_equal(w.actual_revision, 1);
    assert_false(w.was_idempotent);
    assert_int_equal(sl_store_head(f->store), head);
}

/* A retry with `any` after others wrote to the stream: the first id stands
 * among the stream's recent events, not at its end. */
static void test_reappend_with_any_after_others_wrote_is_idempotent(void **state)
{
    struct fixture *f = *state;
    struct sl_write first, again;
    append_ok(f->store, "retry", 3);
    assert_code(append_generated(f->store, "retry", rev_any(), 13, 0, 2, &first), SL_OK, &first.err);
    append_ok(f->store, "retry", SL_STORE_ID_WINDOW - 3); /* the original's first id is still in the window */
    uint64_t head = sl_store_head(f->store);

    enum sl_code code = append_generated(f->store, "retry", rev_any(), 13, 0, 2, &again);
    assert_idempotent(&again, code, &first, "re-append with any, 61 events later");
    assert_int_equal(sl_store_head(f->store), head);
}

/* Past the window an id may be used again, as KurrentDB allows: the append
 * is written as new events (a retry is expected to come sooner). */
static void test_id_older_than_the_window_is_written_again(void **state)
{
    struct fixture *f = *state;
    struct sl_write first, again;
    assert_code(append_generated(f->store, "old-ids", rev_any(), 14, 0, 1, &first), SL_OK, &first.err);
    append_ok(f->store, "old-ids", SL_STORE_ID_WINDOW);

    assert_code(append_generated(f->store, "old-ids", rev_any(), 14, 0, 1, &again), SL_OK, &again.err);
    assert_false(again.was_idempotent);
    assert_int_equal(again.last_revision, SL_STORE_ID_WINDOW + 1);
    /* At its original revision the same append is still recognised, at any depth. */
    assert_code(append_generated(f->store, "old-ids", rev_no_stream(), 14, 0, 1, &again), SL_OK, &again.err);
    assert_idempotent(&again, SL_OK, &first, "re-append at no_stream of revision 0, 65 events deep");
}

/* A new event whose id stands among the stream's recent events is refused,
 * whatever the expected revision: written, the stream would hold the id
 * twice and a later retry would be ambiguous. */
static void test_new_event_reusing_a_recent_id_is_refused(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    assert_code(append_generated(f->store, "reuse", rev_no_stream(), 15, 0, 3, &w), SL_OK, &w.err);
    uint64_t head = sl_store_head(f->store);
    /* ids 2 then 9 at the current revision: 2 stands at revision 2 */
    assert_code(append_generated(f->store, "reuse", rev_exact(2), 15, 2, 1, &w), SL_E_EXISTS, &w.err);
    assert_non_null(strstr(w.err.message, "revision 2"));
    assert_int_equal(sl_store_head(f->store), head);
    assert_ids_unique_in_stream(f->store, "reuse");
}

/* Soft-deleted events are gone: re-appending their ids brings the stream back
 * with new events instead of answering with a deleted revision. */
static void test_reappend_after_soft_delete_writes_the_events_again(void **state)
{
    struct fixture *f = *state;
    struct sl_write first, again;
    assert_code(append_generated(f->store, "gone", rev_any(), 16, 0, 2, &first), SL_OK, &first.err);
    assert_code(delete_stream(f->store, "gone", rev_any(), false, &again), SL_OK, &again.err);
    assert_code(append_generated(f->store, "gone", rev_any(), 16, 0, 2, &again), SL_OK, &again.err);
    assert_false(again.was_idempotent);
    assert_int_equal(again.last_revision, 3);
    struct sl_read_result r;
    read_stream_ok(f->store, "gone", 0, false, 100, &r);
    assert_revisions(&r, 2, 3);
    sl_read_result_free(&r);
}

/* Rewrites every stream_index value of the closed store in `dir` to the
 * position alone, as stores written before the index held ids have them:
 * the entries are read, the table emptied and the entries put back. */
static size_t strip_ids_from_stream_index(const char *dir)
{
    enum { MAX_ENTRIES = 64 };
    uint8_t keys[MAX_ENTRIES][16], positions[MAX_ENTRIES][8];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "stream_index", 0, &dbi), 0);
    assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
    MDB_val k, v;
    size_t n = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        assert_true(n < MAX_ENTRIES);
        assert_int_equal(k.mv_size, 16);
        assert_int_equal(v.mv_size, 24);
        memcpy(keys[n], k.mv_data, 16);
        memcpy(positions[n], v.mv_data, 8);
        n++;
    }
    mdb_cursor_close(cur);
    assert_int_equal(mdb_drop(txn, dbi, 0), 0);
    for (size_t i = 0; i < n; i++) {
        MDB_val nk = {16, keys[i]}, nv = {8, positions[i]};
        assert_int_equal(mdb_put(txn, dbi, &nk, &nv, 0), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    return n;
}

static void test_stream_index_without_ids_keeps_reads_and_idempotency(void **state)
{
    struct fixture *f = *state;
    struct sl_write first, tail, again;
    assert_code(append_generated(f->store, "older", rev_no_stream(), 17, 0, 3, &first), SL_OK, &first.err);
    assert_code(append_generated(f->store, "older", rev_any(), 18, 0, 2, &tail), SL_OK, &tail.err);
    fixture_close(f);
    assert_int_equal(strip_ids_from_stream_index(f->dir), 5);
    fixture_open(f);
    uint64_t head = sl_store_head(f->store);

    enum sl_code code = append_generated(f->store, "older", rev_no_stream(), 17, 0, 3, &again);
    assert_idempotent(&again, code, &first, "re-append at no_stream over an index without ids");
    code = append_generated(f->store, "older", rev_any(), 18, 0, 2, &again);
    assert_idempotent(&again, code, &tail, "re-append with any over an index without ids");
    code = append_generated(f->store, "older", rev_exact(4), 17, 1, 1, &again);
    assert_int_equal(code, SL_E_EXISTS);
    assert_int_equal(sl_store_head(f->store), head);

    append_ok(f->store, "older", 2); /* new entries carry ids, old ones do not: both read */
    struct sl_read_result r;
    read_stream_ok(f->store, "older", 0, false, 100, &r);
    assert_revisions(&r, 0, 1, 2, 3, 4, 5, 6);
    assert_true(id_is(r.events[1].id, 17, 1));
    sl_read_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        STORE_TEST(test_first_append_is_not_idempotent),
        STORE_TEST(test_reappend_with_no_stream_returns_the_original_result_and_writes_nothing),
        STORE_TEST(test_reappend_with_same_exact_revision_returns_the_original_result),
        STORE_TEST(test_reappend_of_a_single_event_at_its_revision_is_idempotent),
        STORE_TEST(test_reappend_with_any_of_the_last_events_is_idempotent),
        STORE_TEST(test_reappend_with_any_of_earlier_consecutive_events_is_idempotent),
        STORE_TEST(test_same_event_id_in_another_stream_is_written),
        STORE_TEST(test_partial_overlap_at_the_original_revision_writes_no_duplicate),
        STORE_TEST(test_partial_overlap_at_a_middle_revision_writes_no_duplicate),
        STORE_TEST(test_append_at_the_current_revision_repeating_the_last_id_writes_no_duplicate),
        STORE_TEST(test_partial_overlap_with_any_is_reported),
        STORE_TEST(test_idempotency_holds_after_close_and_reopen),
        STORE_TEST(test_identical_appends_in_one_commit_are_written_once),
        STORE_TEST(test_different_ids_at_a_used_revision_are_a_conflict),
        STORE_TEST(test_reappend_with_any_after_others_wrote_is_idempotent),
        STORE_TEST(test_id_older_than_the_window_is_written_again),
        STORE_TEST(test_new_event_reusing_a_recent_id_is_refused),
        STORE_TEST(test_reappend_after_soft_delete_writes_the_events_again),
        STORE_TEST(test_stream_index_without_ids_keeps_reads_and_idempotency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
