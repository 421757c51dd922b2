/* test_delete.c: soft delete hides a stream until the next append, whose
 * revisions continue; a tombstone is permanent, also across a reopen
 * (spec/streams.md, docs/http-api.md). */
#include "store_fixture.h"

static void soft_delete_ok(struct sl_store *store, const char *stream)
{
    struct sl_write w;
    assert_code(delete_stream(store, stream, rev_any(), false, &w), SL_OK, &w.err);
}

static void tombstone_ok(struct sl_store *store, const char *stream)
{
    struct sl_write w;
    assert_code(delete_stream(store, stream, rev_any(), true, &w), SL_OK, &w.err);
}

static void test_soft_delete_hides_the_stream(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "cart", 3);
    append_ok(f->store, "other", 1);
    soft_delete_ok(f->store, "cart");

    assert_code(read_stream_code(f->store, "cart", false), SL_E_NOT_FOUND, NULL);
    assert_code(read_stream_code(f->store, "cart", true), SL_E_NOT_FOUND, NULL);
    struct sl_stream_info info = stream_info_of(f->store, "cart");
    assert_true(info.exists);
    assert_true(info.is_deleted);
    assert_false(info.is_tombstoned);
    assert_int_equal(info.last_revision, 2);
    /* Other streams are untouched. */
    assert_code(read_stream_code(f->store, "other", false), SL_OK, NULL);
    assert_false(stream_info_of(f->store, "other").is_deleted);
}

static void test_append_after_soft_delete_continues_revisions(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "cart", 3);
    soft_delete_ok(f->store, "cart");

    struct sl_write w = append_ok(f->store, "cart", 1);
    assert_int_equal(w.last_revision, 3);

    struct sl_read_result r;
    read_stream_ok(f->store, "cart", 0, false, 100, &r);
    assert_revisions(&r, 3);
    assert_int_equal(r.events[0].position, w.position);
    sl_read_result_free(&r);
    read_stream_ok(f->store, "cart", SL_REVISION_END, true, 100, &r);
    assert_revisions(&r, 3);
    sl_read_result_free(&r);
    read_stream_ok(f->store, "cart", 1, false, 100, &r);
    assert_revisions(&r, 3);
    sl_read_result_free(&r);

    struct sl_stream_info info = stream_info_of(f->store, "cart");
    assert_true(info.exists);
    assert_false(info.is_deleted);
    assert_int_equal(info.last_revision, 3);

    w = append_ok(f->store, "cart", 2);
    assert_int_equal(w.last_revision, 5);
    read_stream_ok(f->store, "cart", 0, false, 100, &r);
    assert_revisions(&r, 3, 4, 5);
    sl_read_result_free(&r);
}

static void test_no_stream_is_allowed_on_a_soft_deleted_stream(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    append_ok(f->store, "cart", 3);
    soft_delete_ok(f->store, "cart");
    assert_code(append_generated(f->store, "cart", rev_no_stream(), fresh_seed(), 0, 2, &w), SL_OK, &w.err);
    assert_int_equal(w.last_revision, 4);
    struct sl_read_result r;
    read_stream_ok(f->store, "cart", 0, false, 100, &r);
    assert_revisions(&r, 3, 4);
    sl_read_result_free(&r);
}

static void test_soft_delete_with_the_current_revision_succeeds(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    append_ok(f->store, "cart", 3);
    assert_code(delete_stream(f->store, "cart", rev_exact(2), false, &w), SL_OK, &w.err);
    assert_code(read_stream_code(f->store, "cart", false), SL_E_NOT_FOUND, NULL);

    append_ok(f->store, "cart2", 1);
    assert_code(delete_stream(f->store, "cart2", rev_exists(), false, &w), SL_OK, &w.err);
    assert_code(read_stream_code(f->store, "cart2", false), SL_E_NOT_FOUND, NULL);
}

static void test_delete_with_wrong_expected_revision_fails_and_deletes_nothing(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    append_ok(f->store, "cart", 3);
    uint64_t head = sl_store_head(f->store);

    assert_code(delete_stream(f->store, "cart", rev_exact(1), false, &w), SL_E_WRONG_REVISION, &w.err);
    assert_int_equal(w.actual_revision, 2);
    assert_code(delete_stream(f->store, "cart", rev_exact(7), true, &w), SL_E_WRONG_REVISION, &w.err);
    assert_int_equal(w.actual_revision, 2);
    assert_code(delete_stream(f->store, "cart", rev_no_stream(), false, &w), SL_E_WRONG_REVISION, &w.err);
    assert_int_equal(w.actual_revision, 2);
    assert_code(delete_stream(f->store, "cart", rev_no_stream(), true, &w), SL_E_WRONG_REVISION, &w.err);
    assert_int_equal(w.actual_revision, 2);

    assert_int_equal(sl_store_head(f->store), head);
    struct sl_read_result r;
    read_stream_ok(f->store, "cart", 0, false, 100, &r);
    assert_revisions(&r, 0, 1, 2);
    sl_read_result_free(&r);
    struct sl_stream_info info = stream_info_of(f->store, "cart");
    assert_false(info.is_deleted);
    assert_false(info.is_tombstoned);
}

static void test_delete_of_a_missing_stream_is_not_found(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    assert_code(delete_stream(f->store, "ghost", rev_any(), false, &w), SL_E_NOT_FOUND, &w.err);
    assert_true(w.err.message[0] != '\0');
    struct sl_stream_info info = stream_info_of(f->store, "ghost");
    assert_false(info.exists);
    assert_false(info.is_deleted);
    assert_false(info.is_tombstoned);
    assert_int_equal(info.last_revision, SL_REVISION_NONE);
    /* The stream can still be created normally. */
    assert_code(append_generated(f->store, "ghost", rev_no_stream(), fresh_seed(), 0, 1, &w), SL_OK, &w.err);
    assert_int_equal(w.last_revision, 0);
}

static void test_soft_delete_survives_close_and_reopen(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "cart", 3);
    soft_delete_ok(f->store, "cart");
    fixture_reopen(f);

    assert_code(read_stream_code(f->store, "cart", false), SL_E_NOT_FOUND, NULL);
    assert_true(stream_info_of(f->store, "cart").is_deleted);
    struct sl_write w = append_ok(f->store, "cart", 1);
    assert_int_equal(w.last_revision, 3);
    struct sl_read_result r;
    read_stream_ok(f->store, "cart", 0, false, 100, &r);
    assert_revisions(&r, 3);
    sl_read_result_free(&r);
}

/* Every later read and append answers "stream deleted", whatever the expected revision. */
static void assert_tombstoned(struct sl_store *store, const char *stream)
{
    struct sl_write w;
    struct sl_read_result r;
    struct sl_error err;

    assert_code(read_stream_code(store, stream, false), SL_E_DELETED, NULL);
    assert_code(read_stream_code(store, stream, true), SL_E_DELETED, NULL);
    memset(&r, 0, sizeof(r));
    assert_code(sl_store_read_stream(store, STR_ARGS(stream), 2, false, 10, &r, &err), SL_E_DELETED, &err);
    sl_read_result_free(&r);

    const struct sl_expected all[] = {rev_any(), rev_no_stream(), rev_exists(), rev_exact(2), rev_exact(0)};
    for (size_t i = 0; i < ARRAY_LEN(all); i++) {
        char buf[32];
        enum sl_code code = append_generated(store, stream, all[i], fresh_seed(), 0, 1, &w);
        if (code != SL_E_DELETED)
            fail_msg("append with expected %s to tombstoned %s returned %s, wanted stream-deleted",
                     expected_name(all[i], buf), stream, sl_code_name(code));
    }
    struct sl_stream_info info = stream_info_of(store, stream);
    assert_true(info.exists);
    assert_true(info.is_tombstoned);
}

static void test_tombstone_makes_reads_and_appends_answer_deleted(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "cart", 3);
    tombstone_ok(f->store, "cart");
    uint64_t head = sl_store_head(f->store);
    assert_tombstoned(f->store, "cart");
    assert_int_equal(sl_store_head(f->store), head);
}

static void test_tombstone_is_permanent_across_reopen(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "cart", 3);
    tombstone_ok(f->store, "cart");
    fixture_reopen(f);
    assert_tombstoned(f->store, "cart");
    fixture_reopen(f);
    assert_tombstoned(f->store, "cart");
}

static void test_deleting_a_tombstoned_stream_answers_deleted(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    append_ok(f->store, "cart", 1);
    tombstone_ok(f->store, "cart");
    assert_code(delete_stream(f->store, "cart", rev_any(), false, &w), SL_E_DELETED, &w.err);
    assert_code(delete_stream(f->store, "cart", rev_any(), true, &w), SL_E_DELETED, &w.err);
    assert_tombstoned(f->store, "cart");
}

static void test_tombstone_of_a_soft_deleted_stream_is_permanent(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    append_ok(f->store, "cart", 3);
    soft_delete_ok(f->store, "cart");
    enum sl_code code = delete_stream(f->store, "cart", rev_any(), true, &w);
    if (code == SL_OK)
        assert_tombstoned(f->store, "cart");
    else
        print_message("tombstoning a soft-deleted stream returned %s: %s\n", sl_code_name(code),
                      w.err.message);
}

static void test_soft_deleting_one_stream_leaves_similar_names_alone(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "cart", 2);
    append_ok(f->store, "cart-1", 2);
    append_ok(f->store, "car", 2);
    soft_delete_ok(f->store, "cart");
    tombstone_ok(f->store, "car");
    assert_code(read_stream_code(f->store, "cart-1", false), SL_OK, NULL);
    struct sl_read_result r;
    read_stream_ok(f->store, "cart-1", 0, false, 100, &r);
    assert_revisions(&r, 0, 1);
    sl_read_result_free(&r);
    assert_code(read_stream_code(f->store, "cart", false), SL_E_NOT_FOUND, NULL);
    assert_code(read_stream_code(f->store, "car", false), SL_E_DELETED, NULL);
}

/* Soft delete hides a stream until the next append to the stream itself;
 * writing its metadata is not such an append. */
static void test_metadata_written_after_soft_delete_does_not_bring_back_old_events(void **state)
{
    struct fixture *f = *state;
    struct sl_write w;
    append_ok(f->store, "cart", 3);
    soft_delete_ok(f->store, "cart");
    assert_code(
        append_json(f->store, "$$cart", rev_any(), "$metadata", "{\"$maxCount\":10,\"owner\":\"x\"}", &w),
        SL_OK, &w.err);
    assert_code(read_stream_code(f->store, "cart", false), SL_E_NOT_FOUND, NULL);
    assert_true(stream_info_of(f->store, "cart").is_deleted);

    w = append_ok(f->store, "cart", 1);
    assert_int_equal(w.last_revision, 3);
    struct sl_read_result r;
    read_stream_ok(f->store, "cart", 0, false, 100, &r);
    assert_revisions(&r, 3);
    sl_read_result_free(&r);
}

/* Queued together, writes are checked in order against the state the
 * earlier ones leave, even inside one commit. */
static void test_delete_and_appends_queued_together_apply_in_order(void **state)
{
    struct fixture *f = *state;
    struct done_counter counter;
    done_counter_init(&counter);
    struct sl_write w[5];
    struct sl_error err;
    write_init_append(&w[0], "burst", rev_no_stream(), 600, 0, 3);
    memset(&w[1], 0, sizeof(w[1]));
    w[1].kind = SL_WRITE_DELETE;
    w[1].stream = "burst";
    w[1].stream_len = 5;
    w[1].expected = rev_exact(2);
    write_init_append(&w[2], "burst", rev_no_stream(), 601, 0, 1);
    memset(&w[3], 0, sizeof(w[3]));
    w[3].kind = SL_WRITE_TOMBSTONE;
    w[3].stream = "burst";
    w[3].stream_len = 5;
    w[3].expected = rev_exact(3);
    write_init_append(&w[4], "burst", rev_any(), 602, 0, 1);
    for (int i = 0; i < 5; i++) {
        w[i].done = count_done;
        w[i].user = &counter;
        assert_code(sl_store_submit(f->store, &w[i], &err), SL_OK, &err);
    }
    assert_true(done_counter_wait(&counter, 5, 10000));
    assert_code(w[0].code, SL_OK, &w[0].err);
    assert_int_equal(w[0].last_revision, 2);
    assert_code(w[1].code, SL_OK, &w[1].err);
    assert_code(w[2].code, SL_OK, &w[2].err);
    assert_int_equal(w[2].last_revision, 3);
    assert_code(w[3].code, SL_OK, &w[3].err);
    assert_code(w[4].code, SL_E_DELETED, &w[4].err);
    for (int i = 0; i < 5; i++)
        if (w[i].kind == SL_WRITE_APPEND)
            write_release(&w[i]);
    assert_tombstoned(f->store, "burst");
    done_counter_destroy(&counter);
}

/* `$$` + a name of the maximum length is a valid (metadata) stream name of
 * 1026 bytes; deleting it must work or fail cleanly like any other. */
static void test_deleting_a_metadata_stream_with_the_longest_name_is_safe(void **state)
{
    struct fixture *f = *state;
    static char name[SL_MAX_STREAM_NAME + 3];
    name[0] = '$';
    name[1] = '$';
    memset(name + 2, 'L', SL_MAX_STREAM_NAME);
    name[SL_MAX_STREAM_NAME + 2] = '\0';
    struct sl_write w;
    assert_code(append_json(f->store, name, rev_any(), "$metadata", "{\"$maxCount\":3}", &w), SL_OK, &w.err);
    for (int tombstone = 0; tombstone <= 1; tombstone++) {
        enum sl_code code = delete_stream(f->store, name, rev_any(), tombstone, &w);
        print_message("%s of a %zu-byte $$ stream: %s\n", tombstone ? "tombstone" : "soft delete",
                      strlen(name), sl_code_name(code));
        assert_true(code == SL_OK || code == SL_E_INVALID || code == SL_E_NOT_FOUND);
    }
    assert_code(read_stream_code(f->store, name, false), SL_E_DELETED, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        STORE_TEST(test_soft_delete_hides_the_stream),
        STORE_TEST(test_append_after_soft_delete_continues_revisions),
        STORE_TEST(test_no_stream_is_allowed_on_a_soft_deleted_stream),
        STORE_TEST(test_soft_delete_with_the_current_revision_succeeds),
        STORE_TEST(test_delete_with_wrong_expected_revision_fails_and_deletes_nothing),
        STORE_TEST(test_delete_of_a_missing_stream_is_not_found),
        STORE_TEST(test_soft_delete_survives_close_and_reopen),
        STORE_TEST(test_tombstone_makes_reads_and_appends_answer_deleted),
        STORE_TEST(test_tombstone_is_permanent_across_reopen),
        STORE_TEST(test_deleting_a_tombstoned_stream_answers_deleted),
        STORE_TEST(test_tombstone_of_a_soft_deleted_stream_is_permanent),
        STORE_TEST(test_soft_deleting_one_stream_leaves_similar_names_alone),
        STORE_TEST(test_metadata_written_after_soft_delete_does_not_bring_back_old_events),
        STORE_TEST(test_delete_and_appends_queued_together_apply_in_order),
        STORE_TEST(test_deleting_a_metadata_stream_with_the_longest_name_is_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
