/* test_manager.c: the connectors of a real store, driven by commands as the
 * API drives them: their checks and errors, the queries (filters, paging,
 * masked secrets), the management events of spec §4, and the registry
 * rebuilt when the store is opened again. */
#include "../store/store_fixture.h"

#include "../sinks/http_receiver.h"
#include "connector_test.h"

#include <jansson.h>

#include "connectors/manager.h"
#include "util/log.h"

#define WAIT_MS 15000

struct mfix {
    struct fixture *f;
    struct sl_connectors *m;
};

static void manager_open(struct mfix *x)
{
    struct sl_error err = {0};
    x->m = NULL;
    assert_code(sl_connectors_open(x->f->store, &x->m, &err), SL_OK, &err);
    assert_non_null(x->m);
}

static int manager_setup(void **state)
{
    struct mfix *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return -1;
    void *inner = NULL;
    fixture_setup(&inner);
    x->f = inner;
    manager_open(x);
    *state = x;
    return 0;
}

static int manager_teardown(void **state)
{
    struct mfix *x = *state;
    if (x == NULL)
        return 0;
    sl_connectors_close(x->m);
    void *inner = x->f;
    fixture_teardown(&inner);
    free(x);
    *state = NULL;
    return 0;
}

#define MANAGER_TEST(fn) cmocka_unit_test_setup_teardown(fn, manager_setup, manager_teardown)

/* ---- commands ---- */

/* A command and what its `done` (manager thread) signals. */
struct cmd {
    struct sl_connector_command c;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool is_done;
};

static void cmd_done(struct sl_connector_command *c)
{
    struct cmd *x = c->user;
    pthread_mutex_lock(&x->mu);
    x->is_done = true;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->mu);
}

static void cmd_init(struct cmd *x, enum sl_connector_command_kind kind, const char *id)
{
    memset(x, 0, sizeof(*x));
    x->c.kind = kind;
    snprintf(x->c.id, sizeof(x->c.id), "%s", id);
    sl_settings_init(&x->c.settings);
    x->c.done = cmd_done;
    x->c.user = x;
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cond, NULL);
}

static void cmd_free(struct cmd *x)
{
    sl_settings_free(&x->c.settings);
    sl_violations_free(&x->c.violations);
    pthread_mutex_destroy(&x->mu);
    pthread_cond_destroy(&x->cond);
}

static void cmd_submit(struct sl_connectors *m, struct cmd *x)
{
    struct sl_error err = {0};
    assert_code(sl_connectors_submit(m, &x->c, &err), SL_OK, &err);
}

/* Waits for `done`; returns the command's code. */
static enum sl_code cmd_wait(struct cmd *x)
{
    struct timespec deadline;
    deadline_after_ms(&deadline, WAIT_MS);
    pthread_mutex_lock(&x->mu);
    while (!x->is_done)
        if (pthread_cond_timedwait(&x->cond, &x->mu, &deadline) == ETIMEDOUT)
            break;
    bool is_done = x->is_done;
    pthread_mutex_unlock(&x->mu);
    if (!is_done)
        fail_msg("command %d on %s did not complete in %d ms", (int)x->c.kind, x->c.id, WAIT_MS);
    return x->c.code;
}

static enum sl_code cmd_run(struct sl_connectors *m, struct cmd *x)
{
    cmd_submit(m, x);
    return cmd_wait(x);
}

/* Runs a command that needs nothing but its id. */
static enum sl_code simple(struct sl_connectors *m, enum sl_connector_command_kind kind, const char *id)
{
    struct cmd x;
    cmd_init(&x, kind, id);
    enum sl_code code = cmd_run(m, &x);
    cmd_free(&x);
    return code;
}

static enum sl_code at_position(struct sl_connectors *m, enum sl_connector_command_kind kind, const char *id,
                                uint64_t position)
{
    struct cmd x;
    cmd_init(&x, kind, id);
    x.c.has_position = true;
    x.c.position = position;
    enum sl_code code = cmd_run(m, &x);
    cmd_free(&x);
    return code;
}

static enum sl_code rename_to(struct sl_connectors *m, const char *id, const char *name)
{
    struct cmd x;
    cmd_init(&x, SL_CMD_RENAME, id);
    x.c.name = name;
    enum sl_code code = cmd_run(m, &x);
    cmd_free(&x);
    return code;
}

#define assert_ok(expr) assert_int_equal((expr), SL_OK)

static void log_file(const struct mfix *x, const char *id, char out[PATH_MAX])
{
    int n = snprintf(out, PATH_MAX, "%.*s/%.64s.log", PATH_MAX - 80, x->f->dir, id);
    assert_true(n > 0 && n < PATH_MAX);
}

/* The settings of a log connector writing to its own file, from the start. */
static void log_connector_settings(const struct mfix *x, const char *id, struct sl_settings *s)
{
    char path[PATH_MAX];
    log_file(x, id, path);
    sl_settings_set(s, "instanceTypeName", "serilog-sink");
    sl_settings_set(s, "path", path);
    sl_settings_set(s, "includeRecordData", "false");
    sl_settings_set(s, "subscription:initialPosition", "earliest");
}

static enum sl_code create_log(struct mfix *x, const char *id, const char *name)
{
    struct cmd c;
    cmd_init(&c, SL_CMD_CREATE, id);
    c.c.name = name;
    log_connector_settings(x, id, &c.c.settings);
    enum sl_code code = cmd_run(x->m, &c);
    cmd_free(&c);
    return code;
}

static enum sl_code create_http(struct mfix *x, const char *id, unsigned port, const char *token)
{
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/in", port);
    struct cmd c;
    cmd_init(&c, SL_CMD_CREATE, id);
    settings_of(&c.c.settings, "instanceTypeName", "http-sink", "url", url, "subscription:initialPosition",
                "earliest", "timeoutMs", "5000", NULL);
    if (token != NULL) {
        sl_settings_set(&c.c.settings, "authentication:method", "bearer");
        sl_settings_set(&c.c.settings, "authentication:bearer:token", token);
    }
    enum sl_code code = cmd_run(x->m, &c);
    cmd_free(&c);
    return code;
}

/* ---- queries ---- */

/* The connector as the API shows it (new reference), or NULL. */
static json_t *get(struct sl_connectors *m, const char *id)
{
    json_t *out = NULL;
    struct sl_error err = {0};
    if (sl_connectors_get(m, id, false, &out, &err) != SL_OK)
        return NULL;
    return out;
}

/* Its state name, "" when it does not exist. */
static const char *state_of(struct sl_connectors *m, const char *id)
{
    static char state[64];
    json_t *c = get(m, id);
    snprintf(state, sizeof(state), "%s", c ? json_string_value(json_object_get(c, "state")) : "");
    json_decref(c);
    return state;
}

static bool is_in_state(struct sl_connectors *m, const char *id, const char *state)
{
    return strcmp(state_of(m, id), state) == 0;
}

static bool is_stopped_with_error(struct sl_connectors *m, const char *id)
{
    json_t *c = get(m, id);
    bool is_failed = c != NULL &&
                     strcmp(json_string_value(json_object_get(c, "state")), "CONNECTOR_STATE_STOPPED") == 0 &&
                     json_is_object(json_object_get(c, "errorDetails"));
    json_decref(c);
    return is_failed;
}

static json_t *list(struct sl_connectors *m, const char *states, const char *types, const char *ids,
                    size_t page, size_t page_size)
{
    struct sl_connector_query q = {
        .states = states, .instance_types = types, .ids = ids, .page = page, .page_size = page_size};
    json_t *out = sl_connectors_list(m, &q);
    assert_non_null(out);
    return out;
}

static size_t total_of(json_t *listing)
{
    json_t *total = json_object_get(listing, "totalSize");
    assert_true(json_is_integer(total));
    return (size_t)json_integer_value(total);
}

static size_t items_of(json_t *listing)
{
    json_t *items = json_object_get(listing, "items");
    assert_true(json_is_array(items));
    return json_array_size(items);
}

static size_t count_lines(const char *path)
{
    FILE *file = fopen(path, "r");
    if (file == NULL)
        return 0;
    size_t n = 0;
    int ch;
    while ((ch = fgetc(file)) != EOF)
        n += ch == '\n';
    fclose(file);
    return n;
}

/* The log positions of the lines of a log sink's file, in order. */
static size_t line_positions(const char *path, uint64_t *out, size_t cap)
{
    FILE *file = fopen(path, "r");
    if (file == NULL)
        return 0;
    char text[512];
    size_t n = 0;
    while (n < cap && fgets(text, sizeof(text), file) != NULL) {
        const char *at = strrchr(text, '@');
        unsigned long long p;
        if (at == NULL || sscanf(at + 1, "%llu", &p) != 1)
            fail_msg("line %zu of %s has no @position: %s", n + 1, path, text);
        out[n++] = p;
    }
    fclose(file);
    return n;
}

/* Appends `n` events to `stream`; returns the position of each. */
static void append_events(struct sl_store *store, const char *stream, size_t n, uint64_t *positions)
{
    for (size_t i = 0; i < n; i++) {
        struct sl_write w = append_ok(store, stream, 1);
        positions[i] = w.position;
    }
}

/* The types of the events of `$connectors/{id}`, comma-separated. */
static void management_types(struct sl_store *store, const char *id, char *out, size_t cap)
{
    char stream[96];
    snprintf(stream, sizeof(stream), "$connectors/%s", id);
    struct sl_read_result r;
    read_stream_ok(store, stream, 0, false, 1000, &r);
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < r.count; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%.*s", i ? "," : "", (int)r.events[i].type_len,
                                 r.events[i].type);
    sl_read_result_free(&r);
}

/* ---- tests ---- */

static void test_open_on_an_empty_store_has_no_connectors(void **state)
{
    struct mfix *x = *state;
    json_t *l = list(x->m, NULL, NULL, NULL, 1, 100);
    assert_int_equal(total_of(l), 0);
    assert_int_equal(items_of(l), 0);
    json_decref(l);
    assert_null(get(x->m, "orders-to-log"));
}

static void test_created_connector_is_stopped_and_visible_to_the_next_query(void **state)
{
    struct mfix *x = *state;
    assert_ok(create_log(x, "orders-to-log", NULL));
    json_t *l = list(x->m, NULL, NULL, NULL, 1, 100);
    assert_int_equal(total_of(l), 1);
    json_t *c = json_array_get(json_object_get(l, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "connectorId")), "orders-to-log");
    assert_string_equal(json_string_value(json_object_get(c, "name")), "orders-to-log");
    assert_string_equal(json_string_value(json_object_get(c, "instanceTypeName")), "serilog-sink");
    assert_string_equal(json_string_value(json_object_get(c, "state")), "CONNECTOR_STATE_STOPPED");
    assert_true(json_is_string(json_object_get(c, "createTime")));
    assert_true(json_is_null(json_object_get(c, "errorDetails")));
    assert_null(json_object_get(c, "settings"));
    json_decref(l);

    json_t *one = get(x->m, "orders-to-log");
    assert_non_null(one);
    json_t *settings = json_object_get(one, "settings");
    assert_string_equal(json_string_value(json_object_get(settings, "includeRecordData")), "false");
    json_decref(one);
}

static void test_create_with_an_existing_id_is_refused_as_existing(void **state)
{
    struct mfix *x = *state;
    assert_ok(create_log(x, "orders-to-log", "First"));
    assert_int_equal(create_log(x, "orders-to-log", "Second"), SL_E_EXISTS);
    json_t *c = get(x->m, "orders-to-log");
    assert_string_equal(json_string_value(json_object_get(c, "name")), "First");
    json_decref(c);
}

static void test_commands_on_an_unknown_connector_are_not_found(void **state)
{
    struct mfix *x = *state;
    assert_ok(create_log(x, "someone-else", NULL));
    static const enum sl_connector_command_kind kinds[] = {SL_CMD_START, SL_CMD_STOP, SL_CMD_RESET,
                                                           SL_CMD_DELETE};
    for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
        assert_int_equal(simple(x->m, kinds[i], "no-such-connector"), SL_E_NOT_FOUND);
    assert_int_equal(rename_to(x->m, "no-such-connector", "A name"), SL_E_NOT_FOUND);

    struct cmd c;
    cmd_init(&c, SL_CMD_RECONFIGURE, "no-such-connector");
    log_connector_settings(x, "no-such-connector", &c.c.settings);
    assert_int_equal(cmd_run(x->m, &c), SL_E_NOT_FOUND);
    assert_int_equal(c.c.err.code, SL_E_NOT_FOUND);
    assert_non_null(strstr(c.c.err.message, "no-such-connector"));
    cmd_free(&c);

    json_t *out = NULL;
    struct sl_error err = {0};
    assert_int_equal(sl_connectors_get(x->m, "no-such-connector", false, &out, &err), SL_E_NOT_FOUND);
    assert_int_equal(sl_connectors_settings(x->m, "no-such-connector", false, false, &out, &err),
                     SL_E_NOT_FOUND);
    assert_null(out);
}

static void test_bad_ids_and_names_are_invalid(void **state)
{
    struct mfix *x = *state;
    char long_id[52];
    memset(long_id, 'a', 51);
    long_id[51] = '\0';
    static const char *const bad_ids[] = {"", "abcd", "has space", "dots.not.allowed", "slash/no", "$system"};
    for (size_t i = 0; i < ARRAY_LEN(bad_ids); i++) {
        assert_false(sl_connector_id_is_valid(bad_ids[i]));
        if (create_log(x, bad_ids[i], "A name") != SL_E_INVALID)
            fail_msg("creating a connector with id \"%s\" was not refused as invalid", bad_ids[i]);
    }
    assert_false(sl_connector_id_is_valid(long_id));
    assert_int_equal(create_log(x, long_id, "A name"), SL_E_INVALID);
    long_id[50] = '\0';
    assert_true(sl_connector_id_is_valid(long_id));
    assert_ok(create_log(x, long_id, NULL));
    assert_true(sl_connector_id_is_valid("ab_-9"));

    char long_name[52];
    memset(long_name, 'n', 51);
    long_name[51] = '\0';
    assert_int_equal(create_log(x, "short-name", "ab"), SL_E_INVALID);
    assert_int_equal(create_log(x, "long-name", long_name), SL_E_INVALID);
    assert_ok(create_log(x, "fine-name", "abc"));
    assert_int_equal(rename_to(x->m, "fine-name", "xy"), SL_E_INVALID);
    assert_int_equal(rename_to(x->m, "fine-name", ""), SL_E_INVALID);
    json_t *l = list(x->m, NULL, NULL, NULL, 1, 100);
    assert_int_equal(total_of(l), 2);
    json_decref(l);
}

static void test_invalid_settings_are_refused_with_every_violation_listed(void **state)
{
    struct mfix *x = *state;
    struct cmd c;
    cmd_init(&c, SL_CMD_CREATE, "orders-to-http");
    settings_of(&c.c.settings, "instanceTypeName", "http-sink", "url", "ftp://example.com/x", "colour",
                "blue", "resilience:maxRetries", "many", NULL);
    assert_int_equal(cmd_run(x->m, &c), SL_E_INVALID);
    assert_violation(&c.c.violations, "url");
    assert_violation(&c.c.violations, "colour");
    assert_violation(&c.c.violations, "resilience:maxRetries");
    assert_int_equal(c.c.violations.count, 3);
    cmd_free(&c);
    assert_null(get(x->m, "orders-to-http"));

    /* Reconfigure checks the same way and keeps the old settings. */
    assert_ok(create_log(x, "orders-to-log", NULL));
    cmd_init(&c, SL_CMD_RECONFIGURE, "orders-to-log");
    settings_of(&c.c.settings, "instanceTypeName", "serilog-sink", "includeRecordData", "maybe", NULL);
    assert_int_equal(cmd_run(x->m, &c), SL_E_INVALID);
    assert_violation(&c.c.violations, "includeRecordData");
    cmd_free(&c);
    json_t *one = get(x->m, "orders-to-log");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(one, "settings"), "includeRecordData")), "false");
    json_decref(one);
}

static void test_start_runs_the_connector_and_stop_stops_it(void **state)
{
    struct mfix *x = *state;
    char path[PATH_MAX];
    log_file(x, "orders-to-log", path);
    uint64_t positions[3];
    append_events(x->f->store, "orders-1", 3, positions);
    assert_ok(create_log(x, "orders-to-log", NULL));

    assert_ok(simple(x->m, SL_CMD_START, "orders-to-log"));
    assert_true(is_in_state(x->m, "orders-to-log", "CONNECTOR_STATE_ACTIVATING") ||
                is_in_state(x->m, "orders-to-log", "CONNECTOR_STATE_RUNNING"));
    assert_true(wait_until(is_in_state(x->m, "orders-to-log", "CONNECTOR_STATE_RUNNING"), WAIT_MS));
    assert_ok(simple(x->m, SL_CMD_START, "orders-to-log")); /* already running: nothing to do */
    assert_true(wait_until(count_lines(path) == 3, WAIT_MS));

    assert_ok(simple(x->m, SL_CMD_STOP, "orders-to-log"));
    assert_string_equal(state_of(x->m, "orders-to-log"), "CONNECTOR_STATE_STOPPED");
    json_t *c = get(x->m, "orders-to-log");
    json_t *position = json_object_get(c, "position");
    assert_true(json_is_integer(position));
    assert_true((uint64_t)json_integer_value(position) >= positions[2]);
    assert_true(json_is_null(json_object_get(c, "errorDetails")));
    json_decref(c);
    assert_ok(simple(x->m, SL_CMD_STOP, "orders-to-log")); /* already stopped: a no-op */

    /* Started again, it goes on from its checkpoint. */
    uint64_t more[1];
    append_events(x->f->store, "orders-2", 1, more);
    assert_ok(simple(x->m, SL_CMD_START, "orders-to-log"));
    assert_true(wait_until(count_lines(path) == 4, WAIT_MS));
    assert_ok(simple(x->m, SL_CMD_STOP, "orders-to-log"));
    uint64_t lines[8];
    assert_int_equal(line_positions(path, lines, ARRAY_LEN(lines)), 4);
    assert_int_equal(lines[3], more[0]);
}

static void test_delete_and_reset_of_a_running_connector_are_refused(void **state)
{
    struct mfix *x = *state;
    assert_ok(create_log(x, "orders-to-log", NULL));
    assert_ok(simple(x->m, SL_CMD_START, "orders-to-log"));
    assert_true(wait_until(is_in_state(x->m, "orders-to-log", "CONNECTOR_STATE_RUNNING"), WAIT_MS));

    assert_int_equal(simple(x->m, SL_CMD_DELETE, "orders-to-log"), SL_E_INVALID);
    assert_int_equal(simple(x->m, SL_CMD_RESET, "orders-to-log"), SL_E_INVALID);
    assert_int_equal(at_position(x->m, SL_CMD_RESET, "orders-to-log", 1), SL_E_INVALID);
    assert_string_equal(state_of(x->m, "orders-to-log"), "CONNECTOR_STATE_RUNNING");

    assert_ok(simple(x->m, SL_CMD_STOP, "orders-to-log"));
    assert_ok(simple(x->m, SL_CMD_DELETE, "orders-to-log"));
    assert_null(get(x->m, "orders-to-log"));
    assert_int_equal(simple(x->m, SL_CMD_START, "orders-to-log"), SL_E_NOT_FOUND);
}

static void test_deleted_connector_is_listed_only_when_asked_for(void **state)
{
    struct mfix *x = *state;
    assert_ok(create_log(x, "orders-to-log", NULL));
    assert_ok(create_log(x, "keep-me-here", NULL));
    assert_ok(simple(x->m, SL_CMD_DELETE, "orders-to-log"));

    json_t *l = list(x->m, NULL, NULL, NULL, 1, 100);
    assert_int_equal(total_of(l), 1);
    json_decref(l);
    struct sl_connector_query q = {.show_deleted = true, .ids = "orders-to-log", .page = 1, .page_size = 10};
    l = sl_connectors_list(x->m, &q);
    assert_int_equal(total_of(l), 1);
    json_t *c = json_array_get(json_object_get(l, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "connectorId")), "orders-to-log");
    assert_true(json_is_string(json_object_get(c, "deleteTime")));
    json_decref(l);
}

static void test_reset_delivers_again_from_the_given_position_or_the_beginning(void **state)
{
    struct mfix *x = *state;
    char path[PATH_MAX];
    log_file(x, "orders-to-log", path);
    uint64_t p[4];
    append_events(x->f->store, "orders-1", 4, p);
    assert_ok(create_log(x, "orders-to-log", NULL));
    assert_ok(simple(x->m, SL_CMD_START, "orders-to-log"));
    assert_true(wait_until(count_lines(path) == 4, WAIT_MS));
    assert_ok(simple(x->m, SL_CMD_STOP, "orders-to-log"));

    /* Reset at p[2] delivers p[2] and p[3] again, and starts the connector. */
    assert_ok(at_position(x->m, SL_CMD_RESET, "orders-to-log", p[2]));
    assert_true(wait_until(count_lines(path) == 6, WAIT_MS));
    assert_true(wait_until(is_in_state(x->m, "orders-to-log", "CONNECTOR_STATE_RUNNING"), WAIT_MS));
    assert_ok(simple(x->m, SL_CMD_STOP, "orders-to-log"));
    uint64_t lines[16];
    assert_int_equal(line_positions(path, lines, ARRAY_LEN(lines)), 6);
    assert_int_equal(lines[4], p[2]);
    assert_int_equal(lines[5], p[3]);

    /* Reset without a position: from the beginning. */
    assert_ok(simple(x->m, SL_CMD_RESET, "orders-to-log"));
    assert_true(wait_until(count_lines(path) == 10, WAIT_MS));
    assert_ok(simple(x->m, SL_CMD_STOP, "orders-to-log"));
    assert_int_equal(line_positions(path, lines, ARRAY_LEN(lines)), 10);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(lines[6 + i], p[i]);
}

static void test_start_at_a_position_overrides_the_checkpoint(void **state)
{
    struct mfix *x = *state;
    char path[PATH_MAX];
    log_file(x, "orders-to-log", path);
    uint64_t p[4];
    append_events(x->f->store, "orders-1", 4, p);
    assert_ok(create_log(x, "orders-to-log", NULL));
    assert_ok(at_position(x->m, SL_CMD_START, "orders-to-log", p[1]));
    assert_true(wait_until(count_lines(path) == 3, WAIT_MS));
    assert_ok(simple(x->m, SL_CMD_STOP, "orders-to-log"));
    uint64_t lines[8];
    assert_int_equal(line_positions(path, lines, ARRAY_LEN(lines)), 3);
    assert_int_equal(lines[0], p[1]);
    assert_int_equal(lines[2], p[3]);
}

static void test_rename_changes_the_name_only(void **state)
{
    struct mfix *x = *state;
    assert_ok(create_log(x, "orders-to-log", "Orders"));
    assert_ok(rename_to(x->m, "orders-to-log", "Orders to the log"));
    json_t *c = get(x->m, "orders-to-log");
    assert_string_equal(json_string_value(json_object_get(c, "name")), "Orders to the log");
    assert_string_equal(json_string_value(json_object_get(c, "connectorId")), "orders-to-log");
    assert_string_equal(json_string_value(json_object_get(c, "instanceTypeName")), "serilog-sink");
    json_decref(c);
}

static void test_reconfigure_replaces_the_whole_settings_map(void **state)
{
    struct mfix *x = *state;
    struct cmd c;
    cmd_init(&c, SL_CMD_CREATE, "orders-to-log");
    log_connector_settings(x, "orders-to-log", &c.c.settings);
    sl_settings_set(&c.c.settings, "logging:enabled", "false");
    assert_ok(cmd_run(x->m, &c));
    cmd_free(&c);

    cmd_init(&c, SL_CMD_RECONFIGURE, "orders-to-log");
    settings_of(&c.c.settings, "instanceTypeName", "serilog-sink", "subscription:filter:scope", "stream",
                "subscription:filter:filterType", "prefix", "subscription:filter:expression", "orders-",
                NULL);
    assert_ok(cmd_run(x->m, &c));
    cmd_free(&c);

    json_t *out = NULL;
    struct sl_error err = {0};
    assert_ok(sl_connectors_settings(x->m, "orders-to-log", false, false, &out, &err));
    json_t *flat = json_object_get(out, "settings");
    assert_int_equal(json_object_size(flat), 4);
    assert_null(json_object_get(flat, "logging:enabled"));
    assert_null(json_object_get(flat, "includeRecordData"));
    assert_string_equal(json_string_value(json_object_get(flat, "subscription:filter:expression")),
                        "orders-");
    assert_true(json_is_string(json_object_get(out, "settingsUpdateTime")));
    json_decref(out);

    assert_ok(sl_connectors_settings(x->m, "orders-to-log", true, false, &out, &err));
    json_t *nested = json_object_get(out, "configuration");
    json_t *filter = json_object_get(json_object_get(nested, "subscription"), "filter");
    assert_string_equal(json_string_value(json_object_get(filter, "scope")), "stream");
    json_decref(out);
}

static void test_list_filters_by_state_type_and_id_and_pages_with_the_total(void **state)
{
    struct mfix *x = *state;
    assert_ok(create_log(x, "conn-a", NULL));
    assert_ok(create_log(x, "conn-b", NULL));
    assert_ok(create_log(x, "conn-c", NULL));
    assert_ok(create_http(x, "conn-d", 9, "t0ken"));
    assert_ok(create_http(x, "conn-e", 9, NULL));
    assert_ok(simple(x->m, SL_CMD_START, "conn-a"));
    assert_true(wait_until(is_in_state(x->m, "conn-a", "CONNECTOR_STATE_RUNNING"), WAIT_MS));

    static const struct {
        const char *states, *types, *ids;
        size_t total;
    } cases[] = {
        {NULL, NULL, NULL, 5},
        {"CONNECTOR_STATE_RUNNING", NULL, NULL, 1},
        {"CONNECTOR_STATE_STOPPED", NULL, NULL, 4},
        {"CONNECTOR_STATE_RUNNING,CONNECTOR_STATE_STOPPED", NULL, NULL, 5},
        {NULL, "http-sink", NULL, 2},
        {NULL, "serilog-sink", NULL, 3},
        {NULL, NULL, "conn-b,conn-e", 2},
        {"CONNECTOR_STATE_STOPPED", "serilog-sink", NULL, 2},
        {NULL, NULL, "conn-z", 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        json_t *l = list(x->m, cases[i].states, cases[i].types, cases[i].ids, 1, 100);
        if (total_of(l) != cases[i].total || items_of(l) != cases[i].total)
            fail_msg("list states=%s types=%s ids=%s: totalSize %zu with %zu items, expected %zu",
                     cases[i].states ? cases[i].states : "-", cases[i].types ? cases[i].types : "-",
                     cases[i].ids ? cases[i].ids : "-", total_of(l), items_of(l), cases[i].total);
        json_decref(l);
    }

    /* Pages of 2: 2 + 2 + 1, every connector once, totalSize always 5. */
    static const size_t page_items[] = {2, 2, 1, 0};
    char seen[5] = {0};
    for (size_t page = 1; page <= ARRAY_LEN(page_items); page++) {
        json_t *l = list(x->m, NULL, NULL, NULL, page, 2);
        assert_int_equal(total_of(l), 5);
        assert_int_equal(items_of(l), page_items[page - 1]);
        json_t *items = json_object_get(l, "items");
        for (size_t i = 0; i < json_array_size(items); i++) {
            const char *id = json_string_value(json_object_get(json_array_get(items, i), "connectorId"));
            assert_true(strncmp(id, "conn-", 5) == 0 && id[5] >= 'a' && id[5] <= 'e' && id[6] == '\0');
            assert_false(seen[id[5] - 'a']);
            seen[id[5] - 'a'] = 1;
        }
        json_decref(l);
    }
    for (size_t i = 0; i < 5; i++)
        assert_true(seen[i]);
}

static void test_listed_settings_mask_secrets_unless_shown(void **state)
{
    struct mfix *x = *state;
    assert_ok(create_http(x, "conn-d", 9, "t0ken"));
    struct sl_connector_query q = {.include_settings = true, .page = 1, .page_size = 10};
    json_t *l = sl_connectors_list(x->m, &q);
    json_t *settings = json_object_get(json_array_get(json_object_get(l, "items"), 0), "settings");
    assert_string_equal(json_string_value(json_object_get(settings, "authentication:bearer:token")), "***");
    assert_string_equal(json_string_value(json_object_get(settings, "authentication:method")), "bearer");
    json_decref(l);

    q.show_secrets = true;
    l = sl_connectors_list(x->m, &q);
    settings = json_object_get(json_array_get(json_object_get(l, "items"), 0), "settings");
    assert_string_equal(json_string_value(json_object_get(settings, "authentication:bearer:token")), "t0ken");
    json_decref(l);

    json_t *out = NULL;
    struct sl_error err = {0};
    assert_ok(sl_connectors_get(x->m, "conn-d", false, &out, &err));
    settings = json_object_get(out, "settings");
    assert_string_equal(json_string_value(json_object_get(settings, "authentication:bearer:token")), "***");
    json_decref(out);
    assert_ok(sl_connectors_settings(x->m, "conn-d", true, false, &out, &err));
    json_t *bearer =
        json_object_get(json_object_get(json_object_get(out, "configuration"), "authentication"), "bearer");
    assert_string_equal(json_string_value(json_object_get(bearer, "token")), "***");
    json_decref(out);
}

static void test_management_events_have_the_spec_types_in_order(void **state)
{
    struct mfix *x = *state;
    assert_ok(create_log(x, "orders-to-log", NULL));
    assert_ok(simple(x->m, SL_CMD_START, "orders-to-log"));
    assert_true(wait_until(is_in_state(x->m, "orders-to-log", "CONNECTOR_STATE_RUNNING"), WAIT_MS));
    assert_ok(simple(x->m, SL_CMD_STOP, "orders-to-log"));
    assert_ok(rename_to(x->m, "orders-to-log", "Renamed"));
    struct cmd c;
    cmd_init(&c, SL_CMD_RECONFIGURE, "orders-to-log");
    log_connector_settings(x, "orders-to-log", &c.c.settings);
    assert_ok(cmd_run(x->m, &c));
    cmd_free(&c);
    assert_ok(simple(x->m, SL_CMD_DELETE, "orders-to-log"));

    char types[1024];
    management_types(x->f->store, "orders-to-log", types, sizeof(types));
    assert_string_equal(types, "$conn-mngt-connector-created,$conn-mngt-connector-activating,"
                               "$conn-mngt-connector-running,$conn-mngt-connector-deactivating,"
                               "$conn-mngt-connector-stopped,$conn-mngt-connector-renamed,"
                               "$conn-mngt-connector-reconfigured,$conn-mngt-connector-deleted");
}

static void test_commands_submitted_together_apply_in_order(void **state)
{
    struct mfix *x = *state;
    struct cmd create, start, stop, rename;
    cmd_init(&create, SL_CMD_CREATE, "orders-to-log");
    log_connector_settings(x, "orders-to-log", &create.c.settings);
    cmd_init(&start, SL_CMD_START, "orders-to-log");
    cmd_init(&stop, SL_CMD_STOP, "orders-to-log");
    cmd_init(&rename, SL_CMD_RENAME, "orders-to-log");
    rename.c.name = "All at once";
    cmd_submit(x->m, &create);
    cmd_submit(x->m, &start);
    cmd_submit(x->m, &stop);
    cmd_submit(x->m, &rename);
    assert_ok(cmd_wait(&create));
    assert_ok(cmd_wait(&start));
    assert_ok(cmd_wait(&stop));
    assert_ok(cmd_wait(&rename));
    cmd_free(&create);
    cmd_free(&start);
    cmd_free(&stop);
    cmd_free(&rename);

    json_t *c = get(x->m, "orders-to-log");
    assert_string_equal(json_string_value(json_object_get(c, "state")), "CONNECTOR_STATE_STOPPED");
    assert_string_equal(json_string_value(json_object_get(c, "name")), "All at once");
    json_decref(c);
    char types[1024];
    management_types(x->f->store, "orders-to-log", types, sizeof(types));
    assert_true(strncmp(types, "$conn-mngt-connector-created,$conn-mngt-connector-activating,", 61) == 0);
    const char *tail =
        "$conn-mngt-connector-deactivating,$conn-mngt-connector-stopped,$conn-mngt-connector-renamed";
    assert_string_equal(types + strlen(types) - strlen(tail), tail);
}

static void test_undeliverable_record_stops_the_connector_with_error_details(void **state)
{
    struct mfix *x = *state;
    struct receiver *rx = rx_start();
    assert_non_null(rx);
    const struct rx_action script[] = {RX_OK(400)};
    rx_script(rx, script, ARRAY_LEN(script));
    uint64_t p[1];
    append_events(x->f->store, "orders-1", 1, p);
    assert_ok(create_http(x, "orders-to-http", rx->port, NULL));
    assert_ok(simple(x->m, SL_CMD_START, "orders-to-http"));

    assert_true(wait_until(is_stopped_with_error(x->m, "orders-to-http"), WAIT_MS));
    json_t *c = get(x->m, "orders-to-http");
    json_t *details = json_object_get(c, "errorDetails");
    assert_true(json_is_string(json_object_get(details, "code")));
    const char *message = json_string_value(json_object_get(details, "message"));
    assert_non_null(message);
    assert_non_null(strstr(message, "400"));
    json_decref(c);
    char types[1024];
    management_types(x->f->store, "orders-to-http", types, sizeof(types));
    assert_non_null(strstr(types, "$conn-mngt-connector-failed"));

    /* The target is fixed: the next start runs, and errorDetails clear. */
    rx_script(rx, NULL, 0);
    assert_ok(simple(x->m, SL_CMD_START, "orders-to-http"));
    assert_true(wait_until(is_in_state(x->m, "orders-to-http", "CONNECTOR_STATE_RUNNING"), WAIT_MS));
    assert_true(wait_until(rx_count(rx) == 2, WAIT_MS));
    c = get(x->m, "orders-to-http");
    assert_true(json_is_null(json_object_get(c, "errorDetails")));
    json_decref(c);
    assert_ok(simple(x->m, SL_CMD_STOP, "orders-to-http"));
    rx_stop(rx);
}

static void test_reconfigure_of_a_running_connector_applies_on_the_next_start(void **state)
{
    struct mfix *x = *state;
    char old_path[PATH_MAX], new_path[PATH_MAX];
    log_file(x, "orders-to-log", old_path);
    log_file(x, "orders-to-new", new_path);
    assert_ok(create_log(x, "orders-to-log", NULL));
    assert_ok(simple(x->m, SL_CMD_START, "orders-to-log"));
    assert_true(wait_until(is_in_state(x->m, "orders-to-log", "CONNECTOR_STATE_RUNNING"), WAIT_MS));
    uint64_t p[3];
    append_events(x->f->store, "orders-1", 1, p);
    assert_true(wait_until(count_lines(old_path) == 1, WAIT_MS));

    struct cmd c;
    cmd_init(&c, SL_CMD_RECONFIGURE, "orders-to-log");
    log_connector_settings(x, "orders-to-log", &c.c.settings);
    sl_settings_set(&c.c.settings, "path", new_path);
    assert_ok(cmd_run(x->m, &c));
    cmd_free(&c);
    assert_string_equal(state_of(x->m, "orders-to-log"), "CONNECTOR_STATE_RUNNING");

    /* The running worker keeps the settings it started with. */
    append_events(x->f->store, "orders-1", 1, p + 1);
    assert_true(wait_until(count_lines(old_path) == 2, WAIT_MS));
    assert_int_equal(count_lines(new_path), 0);

    assert_ok(simple(x->m, SL_CMD_STOP, "orders-to-log"));
    assert_ok(simple(x->m, SL_CMD_START, "orders-to-log"));
    append_events(x->f->store, "orders-1", 1, p + 2);
    assert_true(wait_until(count_lines(new_path) == 1, WAIT_MS));
    assert_ok(simple(x->m, SL_CMD_STOP, "orders-to-log"));
    assert_int_equal(count_lines(old_path), 2);
    uint64_t lines[4];
    assert_int_equal(line_positions(new_path, lines, ARRAY_LEN(lines)), 1);
    assert_int_equal(lines[0], p[2]);
}

static void test_failed_connector_stays_stopped_with_its_error_after_reopen(void **state)
{
    struct mfix *x = *state;
    struct receiver *rx = rx_start();
    assert_non_null(rx);
    const struct rx_action script[] = {RX_OK(400)};
    rx_script(rx, script, ARRAY_LEN(script));
    uint64_t p[1];
    append_events(x->f->store, "orders-1", 1, p);
    assert_ok(create_http(x, "orders-to-http", rx->port, NULL));
    assert_ok(simple(x->m, SL_CMD_START, "orders-to-http"));
    assert_true(wait_until(is_stopped_with_error(x->m, "orders-to-http"), WAIT_MS));

    sl_connectors_close(x->m);
    x->m = NULL;
    fixture_reopen(x->f);
    manager_open(x);

    assert_true(is_stopped_with_error(x->m, "orders-to-http"));
    json_t *c = get(x->m, "orders-to-http");
    const char *message = json_string_value(json_object_get(json_object_get(c, "errorDetails"), "message"));
    assert_non_null(message);
    assert_non_null(strstr(message, "400"));
    json_decref(c);
    sleep_ms(200);
    assert_int_equal(rx_count(rx), 1);
    assert_string_equal(state_of(x->m, "orders-to-http"), "CONNECTOR_STATE_STOPPED");
    rx_stop(rx);
}

static void test_reopen_rebuilds_the_registry_and_restarts_running_connectors(void **state)
{
    struct mfix *x = *state;
    char path[PATH_MAX];
    log_file(x, "run-me-again", path);
    uint64_t p[3];
    append_events(x->f->store, "orders-1", 2, p);
    assert_ok(create_log(x, "run-me-again", NULL));
    assert_ok(create_log(x, "stay-stopped", NULL));
    assert_ok(create_log(x, "gone-for-good", NULL));
    assert_ok(rename_to(x->m, "stay-stopped", "Still here"));
    assert_ok(simple(x->m, SL_CMD_DELETE, "gone-for-good"));
    assert_ok(simple(x->m, SL_CMD_START, "run-me-again"));
    assert_true(wait_until(is_in_state(x->m, "run-me-again", "CONNECTOR_STATE_RUNNING"), WAIT_MS));
    assert_true(wait_until(count_lines(path) == 2, WAIT_MS));

    sl_connectors_close(x->m);
    x->m = NULL;
    fixture_reopen(x->f);
    manager_open(x);

    json_t *l = list(x->m, NULL, NULL, NULL, 1, 100);
    assert_int_equal(total_of(l), 2);
    json_decref(l);
    assert_null(get(x->m, "gone-for-good"));
    json_t *c = get(x->m, "stay-stopped");
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "Still here");
    assert_string_equal(json_string_value(json_object_get(c, "state")), "CONNECTOR_STATE_STOPPED");
    json_decref(c);
    assert_true(wait_until(is_in_state(x->m, "run-me-again", "CONNECTOR_STATE_RUNNING"), WAIT_MS));
    c = get(x->m, "run-me-again");
    assert_true(json_is_integer(json_object_get(c, "position")));
    json_decref(c);

    /* It goes on from its checkpoint: the new event once, the old ones not again. */
    append_events(x->f->store, "orders-2", 1, p + 2);
    assert_true(wait_until(count_lines(path) >= 3, WAIT_MS));
    assert_ok(simple(x->m, SL_CMD_STOP, "run-me-again"));
    uint64_t lines[8];
    assert_int_equal(line_positions(path, lines, ARRAY_LEN(lines)), 3);
    assert_int_equal(lines[0], p[0]);
    assert_int_equal(lines[1], p[1]);
    assert_int_equal(lines[2], p[2]);
}

int main(void)
{
    sl_log_set_level(SL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        MANAGER_TEST(test_open_on_an_empty_store_has_no_connectors),
        MANAGER_TEST(test_created_connector_is_stopped_and_visible_to_the_next_query),
        MANAGER_TEST(test_create_with_an_existing_id_is_refused_as_existing),
        MANAGER_TEST(test_commands_on_an_unknown_connector_are_not_found),
        MANAGER_TEST(test_bad_ids_and_names_are_invalid),
        MANAGER_TEST(test_invalid_settings_are_refused_with_every_violation_listed),
        MANAGER_TEST(test_start_runs_the_connector_and_stop_stops_it),
        MANAGER_TEST(test_delete_and_reset_of_a_running_connector_are_refused),
        MANAGER_TEST(test_deleted_connector_is_listed_only_when_asked_for),
        MANAGER_TEST(test_reset_delivers_again_from_the_given_position_or_the_beginning),
        MANAGER_TEST(test_start_at_a_position_overrides_the_checkpoint),
        MANAGER_TEST(test_rename_changes_the_name_only),
        MANAGER_TEST(test_reconfigure_replaces_the_whole_settings_map),
        MANAGER_TEST(test_list_filters_by_state_type_and_id_and_pages_with_the_total),
        MANAGER_TEST(test_listed_settings_mask_secrets_unless_shown),
        MANAGER_TEST(test_management_events_have_the_spec_types_in_order),
        MANAGER_TEST(test_commands_submitted_together_apply_in_order),
        MANAGER_TEST(test_undeliverable_record_stops_the_connector_with_error_details),
        MANAGER_TEST(test_reconfigure_of_a_running_connector_applies_on_the_next_start),
        MANAGER_TEST(test_failed_connector_stays_stopped_with_its_error_after_reopen),
        MANAGER_TEST(test_reopen_rebuilds_the_registry_and_restarts_running_connectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
