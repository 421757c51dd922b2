/* test_checkpoint.c: a connector's committed position, kept in
 * `$connectors/{id}/checkpoints` of a real store. */
#include "../store/store_fixture.h"

#include <jansson.h>

#include "connectors/checkpoint.h"

static void load_ok(struct sl_store *store, const char *id, uint64_t *position, bool *found)
{
    struct sl_error err = {0};
    assert_code(sl_checkpoint_load(store, id, position, found, &err), SL_OK, &err);
}

static void save_ok(struct sl_store *store, const char *id, uint64_t position)
{
    struct sl_error err = {0};
    assert_code(sl_checkpoint_save(store, id, position, &err), SL_OK, &err);
}

static uint64_t position_in(const struct sl_event *ev)
{
    json_t *doc = json_loadb(ev->data, ev->data_len, 0, NULL);
    json_t *p = json_object_get(doc, "position");
    if (!json_is_integer(p))
        fail_msg("checkpoint data %.*s has no integer position", (int)ev->data_len, (const char *)ev->data);
    uint64_t position = (uint64_t)json_integer_value(p);
    json_decref(doc);
    return position;
}

static void test_connector_without_a_checkpoint_has_none(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "orders-1", 3);
    uint64_t position = 77;
    bool found = true;
    load_ok(f->store, "orders-to-http", &position, &found);
    assert_false(found);
    assert_int_equal(position, 0);
}

static void test_saved_checkpoint_is_loaded_back(void **state)
{
    struct fixture *f = *state;
    save_ok(f->store, "orders-to-http", 42);
    uint64_t position = 0;
    bool found = false;
    load_ok(f->store, "orders-to-http", &position, &found);
    assert_true(found);
    assert_int_equal(position, 42);
}

static void test_checkpoint_at_zero_is_still_a_checkpoint(void **state)
{
    struct fixture *f = *state;
    save_ok(f->store, "from-start", 0);
    uint64_t position = 99;
    bool found = false;
    load_ok(f->store, "from-start", &position, &found);
    assert_true(found);
    assert_int_equal(position, 0);
}

static void test_last_saved_checkpoint_wins(void **state)
{
    struct fixture *f = *state;
    save_ok(f->store, "orders-to-http", 10);
    save_ok(f->store, "orders-to-http", 25);
    save_ok(f->store, "orders-to-http", 31);
    uint64_t position = 0;
    bool found = false;
    load_ok(f->store, "orders-to-http", &position, &found);
    assert_true(found);
    assert_int_equal(position, 31);
}

static void test_checkpoints_of_two_connectors_are_separate(void **state)
{
    struct fixture *f = *state;
    save_ok(f->store, "connector-a", 5);
    save_ok(f->store, "connector-b", 9);
    uint64_t a = 0, b = 0;
    bool found_a = false, found_b = false;
    load_ok(f->store, "connector-a", &a, &found_a);
    load_ok(f->store, "connector-b", &b, &found_b);
    assert_true(found_a && found_b);
    assert_int_equal(a, 5);
    assert_int_equal(b, 9);
}

static void test_checkpoints_stream_keeps_its_last_ten_events(void **state)
{
    struct fixture *f = *state;
    for (uint64_t p = 1; p <= 25; p++)
        save_ok(f->store, "orders-to-http", p * 100);
    struct sl_read_result r;
    read_stream_ok(f->store, "$connectors/orders-to-http/checkpoints", 0, false, 100, &r);
    assert_int_equal(r.count, 10);
    for (size_t i = 0; i < r.count; i++) {
        const struct sl_event *ev = &r.events[i];
        assert_int_equal(ev->revision, 15 + (int64_t)i);
        assert_int_equal(ev->type_len, strlen("$conn-ctrl-checkpoint"));
        assert_memory_equal(ev->type, "$conn-ctrl-checkpoint", ev->type_len);
        assert_int_equal(position_in(ev), (16 + i) * 100);
    }
    sl_read_result_free(&r);
    uint64_t position = 0;
    bool found = false;
    load_ok(f->store, "orders-to-http", &position, &found);
    assert_int_equal(position, 2500);
}

static void test_checkpoint_survives_closing_and_reopening_the_store(void **state)
{
    struct fixture *f = *state;
    append_ok(f->store, "orders-1", 2);
    save_ok(f->store, "orders-to-http", 2);
    save_ok(f->store, "orders-to-http", 7);
    fixture_reopen(f);
    uint64_t position = 0;
    bool found = false;
    load_ok(f->store, "orders-to-http", &position, &found);
    assert_true(found);
    assert_int_equal(position, 7);
    /* And it goes on from there. */
    save_ok(f->store, "orders-to-http", 8);
    load_ok(f->store, "orders-to-http", &position, &found);
    assert_int_equal(position, 8);
}

/* Submits checkpoint `position` and waits for its `done`; returns its code. */
static enum sl_code submit_and_wait(struct sl_store *store, const char *id, uint64_t position,
                                    struct sl_checkpoint_write *cw)
{
    struct done_counter done;
    done_counter_init(&done);
    struct sl_error err = {0};
    assert_code(sl_checkpoint_submit(store, id, position, cw, count_done, &done, &err), SL_OK, &err);
    assert_true(done_counter_wait(&done, 1, 10000));
    /* `done` ran once, on the store's writer thread, with what the caller gave. */
    assert_int_equal(done.n_off_caller_thread, 1);
    assert_ptr_equal(cw->write.user, &done);
    done_counter_destroy(&done);
    return cw->write.code;
}

static void test_submitted_checkpoint_is_loaded_back_once_done_ran(void **state)
{
    struct fixture *f = *state;
    struct sl_error err = {0};
    assert_code(sl_checkpoint_prepare(f->store, "orders-to-http", &err), SL_OK, &err);
    struct sl_checkpoint_write *cw = calloc(1, sizeof(*cw));
    assert_non_null(cw);
    assert_int_equal(submit_and_wait(f->store, "orders-to-http", 42, cw), SL_OK);
    assert_int_equal(cw->position, 42);
    uint64_t position = 0;
    bool found = false;
    load_ok(f->store, "orders-to-http", &position, &found);
    assert_true(found);
    assert_int_equal(position, 42);
    /* The same struct serves the next one once `done` ran. */
    assert_int_equal(submit_and_wait(f->store, "orders-to-http", 43, cw), SL_OK);
    load_ok(f->store, "orders-to-http", &position, &found);
    assert_int_equal(position, 43);
    free(cw);
}

static void test_prepare_gives_the_stream_its_max_count_once(void **state)
{
    struct fixture *f = *state;
    struct sl_error err = {0};
    for (int i = 0; i < 3; i++)
        assert_code(sl_checkpoint_prepare(f->store, "orders-to-http", &err), SL_OK, &err);
    struct sl_read_result meta;
    read_stream_ok(f->store, "$$$connectors/orders-to-http/checkpoints", 0, false, 10, &meta);
    assert_int_equal(meta.count, 1);
    sl_read_result_free(&meta);
    /* Saving after a prepare adds no second metadata event either. */
    save_ok(f->store, "orders-to-http", 1);
    read_stream_ok(f->store, "$$$connectors/orders-to-http/checkpoints", 0, false, 10, &meta);
    assert_int_equal(meta.count, 1);
    sl_read_result_free(&meta);

    struct sl_checkpoint_write *cw = calloc(1, sizeof(*cw));
    assert_non_null(cw);
    for (uint64_t p = 2; p <= 15; p++)
        assert_int_equal(submit_and_wait(f->store, "orders-to-http", p, cw), SL_OK);
    free(cw);
    struct sl_read_result r;
    read_stream_ok(f->store, "$connectors/orders-to-http/checkpoints", 0, false, 100, &r);
    assert_int_equal(r.count, 10);
    assert_int_equal(position_in(&r.events[9]), 15);
    sl_read_result_free(&r);
}

static void test_checkpoint_streams_are_told_apart_from_others(void **state)
{
    (void)state;
    char name[128];
    int len = sl_checkpoint_stream_name(name, sizeof(name), "orders-to-http");
    assert_string_equal(name, "$connectors/orders-to-http/checkpoints");
    assert_true(sl_checkpoint_is_stream(name, (size_t)len));
    char meta[130];
    snprintf(meta, sizeof(meta), "$$%s", name);
    assert_true(sl_checkpoint_is_stream(meta, strlen(meta)));
    static const char *const others[] = {"$connectors/orders-to-http", "$connectors/orders-to-http/dlq",
                                         "$connectors//checkpoints",   "orders/checkpoints",
                                         "$connectors/x/checkpoint",   ""};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        assert_false(sl_checkpoint_is_stream(others[i], strlen(others[i])));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint_streams_are_told_apart_from_others),
        STORE_TEST(test_connector_without_a_checkpoint_has_none),
        STORE_TEST(test_saved_checkpoint_is_loaded_back),
        STORE_TEST(test_checkpoint_at_zero_is_still_a_checkpoint),
        STORE_TEST(test_last_saved_checkpoint_wins),
        STORE_TEST(test_checkpoints_of_two_connectors_are_separate),
        STORE_TEST(test_checkpoints_stream_keeps_its_last_ten_events),
        STORE_TEST(test_checkpoint_survives_closing_and_reopening_the_store),
        STORE_TEST(test_submitted_checkpoint_is_loaded_back_once_done_ran),
        STORE_TEST(test_prepare_gives_the_stream_its_max_count_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
