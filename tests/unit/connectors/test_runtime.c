/* test_runtime.c: one running connector over a real store: a worker that
 * reads the log, filters, hands records to a real sink in order, retries,
 * dead-letters or stops, and commits checkpoints that never pass a record the
 * sink has not acknowledged. The log sink writes to a file in the test's
 * directory; the HTTP sink talks to a receiver thread on 127.0.0.1. */
#include "../store/store_fixture.h"

#include "../sinks/http_receiver.h"
#include "connector_test.h"

#include <jansson.h>
#include <time.h>

#include "connectors/checkpoint.h"
#include "connectors/runtime.h"
#include "sinks/sink.h"
#include "util/codec.h"
#include "util/log.h"

#define WAIT_MS 15000

/* What the worker reported through its callbacks (worker thread), and the
 * counters it keeps. */
struct run {
    struct sl_connector_counters counters;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int n_running;
    int n_failed;
    char failure_code[64];
    char failure[512];
    int n_checkpoints;
    uint64_t last_checkpoint;
    bool are_checkpoints_increasing;
    pthread_t worker_thread;       /* where on_running ran */
    bool is_checkpoint_off_worker; /* on_checkpoint ran on another thread */
};

static void on_running(void *arg)
{
    struct run *r = arg;
    pthread_mutex_lock(&r->mu);
    r->n_running++;
    r->worker_thread = pthread_self();
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

static void on_failed(void *arg, const char *code, const char *message)
{
    struct run *r = arg;
    pthread_mutex_lock(&r->mu);
    r->n_failed++;
    snprintf(r->failure_code, sizeof(r->failure_code), "%s", code ? code : "");
    snprintf(r->failure, sizeof(r->failure), "%s", message ? message : "");
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

static void on_checkpoint(void *arg, uint64_t position)
{
    struct run *r = arg;
    pthread_mutex_lock(&r->mu);
    if (r->n_checkpoints > 0 && position <= r->last_checkpoint)
        r->are_checkpoints_increasing = false;
    if (!pthread_equal(pthread_self(), r->worker_thread))
        r->is_checkpoint_off_worker = true;
    r->n_checkpoints++;
    r->last_checkpoint = position;
    pthread_mutex_unlock(&r->mu);
}

static struct run *run_new(void)
{
    struct run *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->are_checkpoints_increasing = true;
    return r;
}

static void run_free(struct run *r)
{
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cond);
    free(r);
}

static int run_get(struct run *r, const int *field)
{
    pthread_mutex_lock(&r->mu);
    int v = *field;
    pthread_mutex_unlock(&r->mu);
    return v;
}

static uint64_t processed(struct run *r)
{
    return atomic_load(&r->counters.processed_position);
}

static struct sl_worker *start_worker(struct sl_store *store, const char *id, const struct sl_settings *s,
                                      uint64_t after, struct run *r)
{
    const struct sl_sink_type *sink = sl_sink_find(sl_settings_get(s, "instanceTypeName"));
    assert_non_null(sink);
    struct sl_worker_options o = {
        .store = store,
        .connector_id = id,
        .settings = s,
        .sink = sink,
        .start_after = after,
        .counters = &r->counters,
        .events = {.on_running = on_running,
                   .on_failed = on_failed,
                   .on_checkpoint = on_checkpoint,
                   .arg = r},
    };
    struct sl_worker *w = NULL;
    struct sl_error err = {0};
    assert_code(sl_worker_start(&o, &w, &err), SL_OK, &err);
    assert_non_null(w);
    return w;
}

static uint64_t checkpoint_of(struct sl_store *store, const char *id, bool *found)
{
    uint64_t position = 0;
    struct sl_error err = {0};
    assert_code(sl_checkpoint_load(store, id, &position, found, &err), SL_OK, &err);
    return position;
}

/* ---- events of the log ---- */

struct appended {
    uint64_t position;
    char id[37];
    char stream[64];
    char data[64];
};

/* Appends one JSON event {"n": n} to `stream` and says where it went. */
static struct appended append_numbered(struct sl_store *store, const char *stream, int n)
{
    struct appended a;
    memset(&a, 0, sizeof(a));
    snprintf(a.stream, sizeof(a.stream), "%s", stream);
    snprintf(a.data, sizeof(a.data), "{\"n\":%d}", n);
    struct sl_write w;
    enum sl_code code = append_json(store, stream, rev_any(), "OrderPlaced", a.data, &w);
    assert_code(code, SL_OK, &w.err);
    a.position = w.position;
    struct sl_read_result r = {0};
    struct sl_error err = {0};
    assert_code(sl_store_read_at(store, w.position, &r, &err), SL_OK, &err);
    sl_uuid_format(r.events[0].id, a.id);
    sl_read_result_free(&r);
    return a;
}

/* True when every event in (from, to] belongs to the connector's own
 * bookkeeping streams (its checkpoints and their metadata). */
static bool only_bookkeeping_between(struct sl_store *store, const char *id, uint64_t from, uint64_t to)
{
    char checkpoints[128], meta[136];
    snprintf(checkpoints, sizeof(checkpoints), "$connectors/%s/checkpoints", id);
    snprintf(meta, sizeof(meta), "$$%s", checkpoints);
    for (uint64_t p = from + 1; p <= to; p++) {
        struct sl_read_result r = {0};
        struct sl_error err = {0};
        if (sl_store_read_at(store, p, &r, &err) != SL_OK)
            return false;
        const struct sl_event *ev = &r.events[0];
        bool ours =
            (ev->stream_len == strlen(checkpoints) && memcmp(ev->stream, checkpoints, ev->stream_len) == 0) ||
            (ev->stream_len == strlen(meta) && memcmp(ev->stream, meta, ev->stream_len) == 0);
        sl_read_result_free(&r);
        if (!ours)
            return false;
    }
    return true;
}

/* ---- the log sink's file ---- */

struct line {
    char id[64];
    char stream[160];
    uint64_t position;
    char type[64];
};

/* Reads `path` as lines `{recordId} {stream}@{logPosition} {eventType}`. */
static size_t read_lines(const char *path, struct line *out, size_t cap)
{
    FILE *file = fopen(path, "r");
    if (file == NULL)
        return 0;
    char text[512];
    size_t n = 0;
    while (n < cap && fgets(text, sizeof(text), file) != NULL) {
        struct line *l = &out[n];
        char where[160];
        unsigned long long position;
        if (sscanf(text, "%63s %159s %63s", l->id, where, l->type) != 3)
            fail_msg("line %zu of %s is not `id stream@position type`: %s", n + 1, path, text);
        char *at = strrchr(where, '@');
        if (at == NULL || sscanf(at + 1, "%llu", &position) != 1)
            fail_msg("line %zu of %s has no @position: %s", n + 1, path, text);
        *at = '\0';
        snprintf(l->stream, sizeof(l->stream), "%s", where);
        l->position = position;
        n++;
    }
    fclose(file);
    return n;
}

static size_t count_lines(const char *path)
{
    struct line lines[64];
    return read_lines(path, lines, ARRAY_LEN(lines));
}

static void assert_lines_are(const char *path, const struct appended *want, size_t n_want)
{
    struct line lines[64];
    size_t n = read_lines(path, lines, ARRAY_LEN(lines));
    if (n != n_want)
        fail_msg("%s has %zu lines, expected %zu", path, n, n_want);
    for (size_t i = 0; i < n; i++) {
        if (lines[i].position != want[i].position || strcmp(lines[i].id, want[i].id) != 0 ||
            strcmp(lines[i].stream, want[i].stream) != 0)
            fail_msg("line %zu is %s %s@%llu, expected %s %s@%llu", i + 1, lines[i].id, lines[i].stream,
                     (unsigned long long)lines[i].position, want[i].id, want[i].stream,
                     (unsigned long long)want[i].position);
        assert_string_equal(lines[i].type, "OrderPlaced");
    }
}

static void log_settings(struct sl_settings *s, const char *path)
{
    settings_of(s, "instanceTypeName", "serilog-sink", "path", path, "includeRecordData", "false",
                "subscription:filter:scope", "stream", "subscription:filter:filterType", "prefix",
                "subscription:filter:expression", "orders-", NULL);
}

static void log_path(const struct fixture *f, char out[PATH_MAX])
{
    int n = snprintf(out, PATH_MAX, "%.*s/records.log", PATH_MAX - 16, f->dir);
    assert_true(n > 0 && n < PATH_MAX);
}

/* ---- log sink ---- */

static void test_worker_writes_matching_events_in_order_and_leaves_out_the_rest(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX];
    log_path(f, path);
    struct appended want[4];
    want[0] = append_numbered(f->store, "orders-1", 0);
    append_numbered(f->store, "customers-1", 1);
    want[1] = append_numbered(f->store, "orders-2", 2);
    want[2] = append_numbered(f->store, "orders-1", 3);
    append_numbered(f->store, "$ce-orders", 4);
    want[3] = append_numbered(f->store, "orders-3", 5);
    struct appended last = append_numbered(f->store, "customers-2", 6);

    struct sl_settings s;
    log_settings(&s, path);
    struct run *r = run_new();
    struct sl_worker *w = start_worker(f->store, "orders-to-log", &s, 0, r);
    assert_true(wait_until(count_lines(path) >= 4 && processed(r) >= last.position, WAIT_MS));
    sl_worker_stop(w);

    assert_lines_are(path, want, ARRAY_LEN(want));
    assert_int_equal(run_get(r, &r->n_running), 1);
    assert_int_equal(run_get(r, &r->n_failed), 0);
    assert_int_equal(atomic_load(&r->counters.delivered), 4);
    assert_true(atomic_load(&r->counters.filtered) >= 3);
    assert_int_equal(atomic_load(&r->counters.failed), 0);

    bool found;
    uint64_t checkpoint = checkpoint_of(f->store, "orders-to-log", &found);
    assert_true(found);
    assert_true(checkpoint >= last.position);
    assert_true(checkpoint <= sl_store_head(f->store));
    assert_true(only_bookkeeping_between(f->store, "orders-to-log", last.position, checkpoint));
    sl_settings_free(&s);
    run_free(r);
}

static void test_stop_commits_the_last_position_handled_filtered_events_included(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX];
    log_path(f, path);
    /* An earlier run left a checkpoint at 0. */
    struct sl_error err = {0};
    assert_code(sl_checkpoint_save(f->store, "orders-to-log", 0, &err), SL_OK, &err);
    append_numbered(f->store, "orders-1", 0);
    append_numbered(f->store, "orders-2", 1);
    append_numbered(f->store, "customers-1", 2);
    append_numbered(f->store, "customers-2", 3);
    struct appended last = append_numbered(f->store, "customers-3", 4);

    struct sl_settings s;
    log_settings(&s, path);
    struct run *r = run_new();
    struct sl_worker *w = start_worker(f->store, "orders-to-log", &s, 0, r);
    assert_true(wait_until(processed(r) >= last.position, WAIT_MS));
    sl_worker_stop(w);

    bool found;
    assert_int_equal(checkpoint_of(f->store, "orders-to-log", &found), last.position);
    assert_true(found);
    pthread_mutex_lock(&r->mu);
    assert_true(r->n_checkpoints >= 1);
    assert_int_equal(r->last_checkpoint, last.position);
    pthread_mutex_unlock(&r->mu);
    assert_int_equal(count_lines(path), 2);
    sl_settings_free(&s);
    run_free(r);
}

static void test_restart_from_the_checkpoint_delivers_nothing_twice(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX];
    log_path(f, path);
    struct appended want[6];
    want[0] = append_numbered(f->store, "orders-1", 0);
    want[1] = append_numbered(f->store, "orders-1", 1);
    struct appended last = append_numbered(f->store, "customers-1", 2);
    want[2] = append_numbered(f->store, "orders-2", 3);
    last = append_numbered(f->store, "customers-1", 4);

    struct sl_settings s;
    log_settings(&s, path);
    struct run *r = run_new();
    struct sl_worker *w = start_worker(f->store, "orders-to-log", &s, 0, r);
    assert_true(wait_until(count_lines(path) >= 3 && processed(r) >= last.position, WAIT_MS));
    sl_worker_stop(w);
    bool found;
    uint64_t checkpoint = checkpoint_of(f->store, "orders-to-log", &found);
    assert_true(found);
    assert_true(checkpoint >= last.position);

    /* More events while it is stopped, then the next run from the checkpoint. */
    want[3] = append_numbered(f->store, "orders-3", 5);
    append_numbered(f->store, "customers-2", 6);
    want[4] = append_numbered(f->store, "orders-1", 7);
    want[5] = append_numbered(f->store, "orders-4", 8);
    last = append_numbered(f->store, "customers-3", 9);
    run_free(r);
    r = run_new();
    w = start_worker(f->store, "orders-to-log", &s, checkpoint, r);
    assert_true(wait_until(count_lines(path) >= 6 && processed(r) >= last.position, WAIT_MS));
    sl_worker_stop(w);

    assert_lines_are(path, want, ARRAY_LEN(want));
    assert_int_equal(atomic_load(&r->counters.delivered), 3);
    checkpoint = checkpoint_of(f->store, "orders-to-log", &found);
    assert_true(checkpoint >= last.position);
    assert_true(only_bookkeeping_between(f->store, "orders-to-log", last.position, checkpoint));
    sl_settings_free(&s);
    run_free(r);
}

static void test_worker_starts_strictly_after_its_start_position(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX];
    log_path(f, path);
    append_numbered(f->store, "orders-1", 0);
    struct appended start = append_numbered(f->store, "orders-1", 1);
    struct appended want[2];
    want[0] = append_numbered(f->store, "orders-1", 2);
    want[1] = append_numbered(f->store, "orders-2", 3);

    struct sl_settings s;
    log_settings(&s, path);
    struct run *r = run_new();
    struct sl_worker *w = start_worker(f->store, "orders-to-log", &s, start.position, r);
    assert_true(wait_until(processed(r) >= want[1].position, WAIT_MS));
    sl_worker_stop(w);
    assert_lines_are(path, want, ARRAY_LEN(want));
    sl_settings_free(&s);
    run_free(r);
}

static void test_worker_delivers_events_appended_while_it_runs(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX];
    log_path(f, path);
    struct sl_settings s;
    log_settings(&s, path);
    struct run *r = run_new();
    struct sl_worker *w = start_worker(f->store, "orders-to-log", &s, 0, r);
    assert_true(wait_until(run_get(r, &r->n_running) == 1, WAIT_MS));
    struct appended want[3];
    for (int i = 0; i < 3; i++) {
        want[i] = append_numbered(f->store, "orders-live", i);
        assert_true(wait_until(count_lines(path) == (size_t)i + 1, WAIT_MS));
    }
    sl_worker_stop(w);
    assert_lines_are(path, want, ARRAY_LEN(want));
    sl_settings_free(&s);
    run_free(r);
}

/* ---- HTTP sink ---- */

static void http_settings(struct sl_settings *s, const struct receiver *rx, const char *key, ...)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/in", rx->port);
    settings_of(s, "instanceTypeName", "http-sink", "url", url, "timeoutMs", "5000",
                "resilience:firstDelayBound:delayMs", "20", NULL);
    va_list ap;
    va_start(ap, key);
    for (const char *k = key; k != NULL; k = va_arg(ap, const char *))
        assert_true(sl_settings_set(s, k, va_arg(ap, const char *)));
    va_end(ap);
}

/* The body of request `i` as a C string (it is the event's JSON). */
static const char *body_of(struct receiver *rx, size_t i)
{
    const struct rx_request *req = rx_request(rx, i);
    assert_non_null(req);
    return req->body ? req->body : "";
}

static void test_http_worker_delivers_records_in_log_order(void **state)
{
    struct fixture *f = *state;
    struct receiver *rx = rx_start();
    assert_non_null(rx);
    struct appended a[6];
    for (int i = 0; i < 6; i++)
        a[i] = append_numbered(f->store, i % 2 ? "orders-odd" : "orders-even", i);

    struct sl_settings s;
    http_settings(&s, rx, NULL);
    struct run *r = run_new();
    struct sl_worker *w = start_worker(f->store, "orders-to-http", &s, 0, r);
    assert_true(wait_until(rx_count(rx) >= 6 && processed(r) >= a[5].position, WAIT_MS));
    sl_worker_stop(w);

    assert_int_equal(rx_count(rx), 6);
    for (size_t i = 0; i < 6; i++) {
        const struct rx_request *req = rx_request(rx, i);
        assert_string_equal(body_of(rx, i), a[i].data);
        char value[128], position[32];
        snprintf(position, sizeof(position), "%llu", (unsigned long long)a[i].position);
        assert_true(rx_header(req->head, "esdb-record-log-position", value, sizeof(value)));
        assert_string_equal(value, position);
        assert_true(rx_header(req->head, "esdb-record-id", value, sizeof(value)));
        assert_string_equal(value, a[i].id);
        assert_true(rx_header(req->head, "esdb-record-stream-id", value, sizeof(value)));
        assert_string_equal(value, a[i].stream);
    }
    assert_int_equal(atomic_load(&r->counters.delivered), 6);
    sl_settings_free(&s);
    run_free(r);
    rx_stop(rx);
}

/* A connector that read nothing for 2 s frees its buffers (the batch, the
 * cursor's copy of the log, the sink's body) and builds them again for the
 * next events: nothing it delivers afterwards may point into freed memory. */
static void test_worker_idle_long_enough_to_free_its_buffers_delivers_the_next_events_intact(void **state)
{
    struct fixture *f = *state;
    struct receiver *rx = rx_start();
    assert_non_null(rx);
    struct sl_settings s;
    http_settings(&s, rx, "batching:maxRecords", "2", "batching:maxDelayMs", "10", NULL);
    struct run *r = run_new();
    struct sl_worker *w = start_worker(f->store, "orders-idle", &s, 0, r);
    struct appended a[8];
    for (int i = 0; i < 4; i++)
        a[i] = append_numbered(f->store, "orders-idle", i);
    assert_true(wait_until(processed(r) >= a[3].position, WAIT_MS));
    struct timespec idle = {.tv_sec = 2, .tv_nsec = 600 * 1000 * 1000}; /* past IDLE_RELEASE_MS */
    nanosleep(&idle, NULL);
    for (int i = 4; i < 8; i++)
        a[i] = append_numbered(f->store, "orders-idle", i);
    assert_true(wait_until(processed(r) >= a[7].position, WAIT_MS));
    sl_worker_stop(w);

    assert_int_equal(atomic_load(&r->counters.delivered), 8);
    size_t n = rx_count(rx);
    assert_true(n >= 4);
    /* Every request is a JSON array of whole records, in log order. */
    size_t seen = 0;
    for (size_t i = 0; i < n; i++) {
        const char *body = body_of(rx, i);
        for (const char *p = strstr(body, "\"data\":"); p; p = strstr(p + 1, "\"data\":")) {
            assert_true(seen < 8);
            assert_memory_equal(p + 7, a[seen].data, strlen(a[seen].data));
            seen++;
        }
    }
    assert_int_equal(seen, 8);
    sl_settings_free(&s);
    run_free(r);
    rx_stop(rx);
}

/* Each connector sees the others' checkpoint events go by. Were they progress,
 * idle connectors would write checkpoints for each other at every interval,
 * for ever. */
static void test_idle_connectors_do_not_checkpoint_each_others_checkpoints(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX];
    log_path(f, path);
    uint64_t last = append_ok(f->store, "orders-1", 5).position;
    struct sl_settings s;
    log_settings(&s, path);
    assert_true(sl_settings_set(&s, "autocommit:interval", "50"));
    struct run *ra = run_new(), *rb = run_new();
    struct sl_worker *a = start_worker(f->store, "orders-a", &s, 0, ra);
    struct sl_worker *b = start_worker(f->store, "orders-b", &s, 0, rb);
    assert_true(wait_until(processed(ra) >= last && processed(rb) >= last &&
                               run_get(ra, &ra->n_checkpoints) >= 1 && run_get(rb, &rb->n_checkpoints) >= 1,
                           WAIT_MS));
    /* Let the checkpoints of catching up go by, then watch the log stand still. */
    struct timespec settle = {.tv_sec = 0, .tv_nsec = 500 * 1000 * 1000};
    nanosleep(&settle, NULL);
    uint64_t head = sl_store_head(f->store);
    struct timespec watch = {.tv_sec = 1, .tv_nsec = 0}; /* 20 checkpoint intervals */
    nanosleep(&watch, NULL);
    assert_int_equal(sl_store_head(f->store), head);
    sl_worker_stop(a);
    sl_worker_stop(b);
    sl_settings_free(&s);
    run_free(ra);
    run_free(rb);
}

static void test_rejected_record_is_dead_lettered_and_delivery_goes_on(void **state)
{
    struct fixture *f = *state;
    struct receiver *rx = rx_start();
    assert_non_null(rx);
    const struct rx_action script[] = {RX_OK(200), RX_OK(400), RX_OK(200)};
    rx_script(rx, script, ARRAY_LEN(script));
    struct appended a[3];
    for (int i = 0; i < 3; i++)
        a[i] = append_numbered(f->store, "orders-1", i);

    struct sl_settings s;
    http_settings(&s, rx, "resilience:onExhausted", "dead-letter", NULL);
    struct run *r = run_new();
    struct sl_worker *w = start_worker(f->store, "orders-to-http", &s, 0, r);
    assert_true(wait_until(rx_count(rx) >= 3 && processed(r) >= a[2].position, WAIT_MS));
    sl_worker_stop(w);

    /* A 400 is not retried: each record was sent once, in order. */
    assert_int_equal(rx_count(rx), 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(body_of(rx, i), a[i].data);
    assert_int_equal(run_get(r, &r->n_failed), 0);
    assert_int_equal(atomic_load(&r->counters.delivered), 2);
    assert_int_equal(atomic_load(&r->counters.dead_lettered), 1);

    struct sl_read_result dlq;
    read_stream_ok(f->store, "$connectors/orders-to-http/dlq", 0, false, 10, &dlq);
    assert_int_equal(dlq.count, 1);
    const struct sl_event *ev = &dlq.events[0];
    assert_int_equal(ev->data_len, strlen(a[1].data));
    assert_memory_equal(ev->data, a[1].data, ev->data_len);
    char *meta = strndup(ev->metadata, ev->metadata_len);
    assert_non_null(meta);
    assert_non_null(strstr(meta, a[1].id));
    assert_non_null(strstr(meta, "400"));
    free(meta);
    sl_read_result_free(&dlq);

    bool found;
    uint64_t checkpoint = checkpoint_of(f->store, "orders-to-http", &found);
    assert_true(found);
    assert_true(checkpoint >= a[2].position);
    sl_settings_free(&s);
    run_free(r);
    rx_stop(rx);
}

static void test_rejected_record_with_on_exhausted_stop_fails_naming_the_record(void **state)
{
    struct fixture *f = *state;
    struct receiver *rx = rx_start();
    assert_non_null(rx);
    const struct rx_action script[] = {RX_OK(200), RX_OK(400)};
    rx_script(rx, script, ARRAY_LEN(script));
    struct sl_error err = {0};
    assert_code(sl_checkpoint_save(f->store, "orders-to-http", 0, &err), SL_OK, &err);
    struct appended a[3];
    for (int i = 0; i < 3; i++)
        a[i] = append_numbered(f->store, "orders-1", i);

    struct sl_settings s;
    http_settings(&s, rx, "resilience:onExhausted", "stop", NULL);
    struct run *r = run_new();
    struct sl_worker *w = start_worker(f->store, "orders-to-http", &s, 0, r);
    assert_true(wait_until(run_get(r, &r->n_failed) == 1, WAIT_MS));
    sl_worker_stop(w);

    char position[32];
    snprintf(position, sizeof(position), "%llu", (unsigned long long)a[1].position);
    pthread_mutex_lock(&r->mu);
    bool names_record = strstr(r->failure, a[1].id) != NULL || strstr(r->failure, position) != NULL;
    if (!names_record)
        fail_msg("the failure \"%s\" names neither record %s nor position %s", r->failure, a[1].id, position);
    pthread_mutex_unlock(&r->mu);
    /* Nothing after the rejected record was sent. */
    assert_int_equal(rx_count(rx), 2);
    assert_string_equal(body_of(rx, 1), a[1].data);
    assert_int_equal(atomic_load(&r->counters.delivered), 1);
    assert_int_equal(atomic_load(&r->counters.failed), 1);

    bool found;
    uint64_t checkpoint = checkpoint_of(f->store, "orders-to-http", &found);
    assert_true(found);
    assert_true(checkpoint >= a[0].position);
    assert_true(checkpoint < a[1].position);
    struct sl_read_result dlq = {0};
    assert_int_equal(
        sl_store_read_stream(f->store, STR_ARGS("$connectors/orders-to-http/dlq"), 0, false, 10, &dlq, &err),
        SL_E_NOT_FOUND);
    sl_read_result_free(&dlq);
    sl_settings_free(&s);
    run_free(r);
    rx_stop(rx);
}

static void test_checkpoint_never_passes_a_record_still_being_retried(void **state)
{
    struct fixture *f = *state;
    struct receiver *rx = rx_start();
    assert_non_null(rx);
    struct rx_action script[24];
    script[0] = RX_OK(200);
    for (size_t i = 1; i < ARRAY_LEN(script); i++)
        script[i] = RX_OK(503);
    rx_script(rx, script, ARRAY_LEN(script));
    struct sl_error err = {0};
    assert_code(sl_checkpoint_save(f->store, "orders-to-http", 0, &err), SL_OK, &err);
    struct appended a[3];
    for (int i = 0; i < 3; i++)
        a[i] = append_numbered(f->store, "orders-1", i);

    struct sl_settings s;
    http_settings(&s, rx, NULL);
    struct run *r = run_new();
    struct sl_worker *w = start_worker(f->store, "orders-to-http", &s, 0, r);
    assert_true(wait_until(rx_count(rx) >= 4, WAIT_MS));
    sl_worker_stop(w);

    /* In order: while a[1] is retried, a[2] is not sent. */
    size_t n = rx_count(rx);
    assert_string_equal(body_of(rx, 0), a[0].data);
    for (size_t i = 1; i < n; i++)
        assert_string_equal(body_of(rx, i), a[1].data);
    assert_true(atomic_load(&r->counters.retries) >= 2);
    assert_int_equal(run_get(r, &r->n_failed), 0);
    bool found;
    uint64_t checkpoint = checkpoint_of(f->store, "orders-to-http", &found);
    assert_true(found);
    assert_int_equal(checkpoint, a[0].position);

    /* The target recovers: the next run sends a[1] again, then a[2], and not a[0]. */
    rx_script(rx, NULL, 0);
    run_free(r);
    r = run_new();
    w = start_worker(f->store, "orders-to-http", &s, checkpoint, r);
    assert_true(wait_until(rx_count(rx) >= n + 2 && processed(r) >= a[2].position, WAIT_MS));
    sl_worker_stop(w);
    assert_int_equal(rx_count(rx), n + 2);
    assert_string_equal(body_of(rx, n), a[1].data);
    assert_string_equal(body_of(rx, n + 1), a[2].data);
    checkpoint = checkpoint_of(f->store, "orders-to-http", &found);
    assert_true(checkpoint >= a[2].position);
    sl_settings_free(&s);
    run_free(r);
    rx_stop(rx);
}

static void test_checkpoint_moves_through_a_long_run_of_filtered_events(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX];
    log_path(f, path);
    struct appended last;
    for (int i = 0; i < 200; i++)
        last = append_numbered(f->store, "customers-1", i);

    struct sl_settings s;
    log_settings(&s, path);
    sl_settings_set(&s, "autocommit:interval", "50");
    struct run *r = run_new();
    struct sl_worker *w = start_worker(f->store, "orders-to-log", &s, 0, r);
    bool found = false;
    /* While it runs, with nothing delivered. */
    assert_true(wait_until(checkpoint_of(f->store, "orders-to-log", &found) >= last.position, WAIT_MS));
    sl_worker_stop(w);
    assert_true(found);
    assert_int_equal(atomic_load(&r->counters.delivered), 0);
    assert_true(atomic_load(&r->counters.filtered) >= 200);
    assert_int_equal(count_lines(path), 0);
    sl_settings_free(&s);
    run_free(r);
}

static void test_record_failing_past_max_retries_is_dead_lettered_with_its_attempts(void **state)
{
    struct fixture *f = *state;
    struct receiver *rx = rx_start();
    assert_non_null(rx);
    const struct rx_action script[] = {RX_OK(503), RX_OK(503), RX_OK(503), RX_OK(200)};
    rx_script(rx, script, ARRAY_LEN(script));
    struct appended a[2];
    for (int i = 0; i < 2; i++)
        a[i] = append_numbered(f->store, "orders-1", i);

    struct sl_settings s;
    http_settings(&s, rx, "resilience:maxRetries", "2", "resilience:onExhausted", "dead-letter", NULL);
    struct run *r = run_new();
    struct sl_worker *w = start_worker(f->store, "orders-to-http", &s, 0, r);
    assert_true(wait_until(rx_count(rx) >= 4 && processed(r) >= a[1].position, WAIT_MS));
    sl_worker_stop(w);

    /* The first try and two retries of a[0], then a[1]. */
    assert_int_equal(rx_count(rx), 4);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(body_of(rx, i), a[0].data);
    assert_string_equal(body_of(rx, 3), a[1].data);
    assert_int_equal(atomic_load(&r->counters.retries), 2);
    assert_int_equal(atomic_load(&r->counters.dead_lettered), 1);
    assert_int_equal(atomic_load(&r->counters.delivered), 1);

    struct sl_read_result dlq;
    read_stream_ok(f->store, "$connectors/orders-to-http/dlq", 0, false, 10, &dlq);
    assert_int_equal(dlq.count, 1);
    assert_memory_equal(dlq.events[0].data, a[0].data, strlen(a[0].data));
    json_t *meta = json_loadb(dlq.events[0].metadata, dlq.events[0].metadata_len, 0, NULL);
    assert_true(json_is_object(meta));
    char *text = json_dumps(meta, JSON_COMPACT);
    assert_non_null(strstr(text, a[0].id));
    assert_non_null(strstr(text, "503"));
    free(text);
    json_decref(meta);
    sl_read_result_free(&dlq);
    sl_settings_free(&s);
    run_free(r);
    rx_stop(rx);
}

static void test_stop_is_prompt_while_a_record_waits_for_its_retry(void **state)
{
    struct fixture *f = *state;
    struct receiver *rx = rx_start();
    assert_non_null(rx);
    const struct rx_action script[] = {RX_OK(503), RX_OK(503)};
    rx_script(rx, script, ARRAY_LEN(script));
    struct sl_error err = {0};
    assert_code(sl_checkpoint_save(f->store, "orders-to-http", 0, &err), SL_OK, &err);
    struct appended a = append_numbered(f->store, "orders-1", 0);

    /* The default staircase: the next try is 5 s away. */
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/in", rx->port);
    struct sl_settings s;
    settings_of(&s, "instanceTypeName", "http-sink", "url", url, NULL);
    struct run *r = run_new();
    struct sl_worker *w = start_worker(f->store, "orders-to-http", &s, 0, r);
    assert_true(wait_until(rx_count(rx) >= 1 && atomic_load(&r->counters.retries) >= 1, WAIT_MS));
    int64_t t0 = sl_monotonic_ms();
    sl_worker_stop(w);
    int64_t took = sl_monotonic_ms() - t0;
    if (took > 1000)
        fail_msg("stopping a worker that waits for a retry took %lld ms", (long long)took);
    assert_int_equal(rx_count(rx), 1);
    bool found;
    assert_true(checkpoint_of(f->store, "orders-to-http", &found) < a.position);
    sl_settings_free(&s);
    run_free(r);
    rx_stop(rx);
}

static void test_stop_does_not_wait_forever_for_a_hanging_target(void **state)
{
    struct fixture *f = *state;
    struct receiver *rx = rx_start();
    assert_non_null(rx);
    const struct rx_action script[] = {{RX_HANG, 0, NULL, 30000}};
    rx_script(rx, script, ARRAY_LEN(script));
    struct sl_error err = {0};
    assert_code(sl_checkpoint_save(f->store, "orders-to-http", 0, &err), SL_OK, &err);
    struct appended a = append_numbered(f->store, "orders-1", 0);

    struct sl_settings s;
    http_settings(&s, rx, "timeoutMs", "60000", NULL);
    struct run *r = run_new();
    struct sl_worker *w = start_worker(f->store, "orders-to-http", &s, 0, r);
    assert_true(wait_until(rx_count(rx) >= 1, WAIT_MS));
    int64_t t0 = sl_monotonic_ms();
    sl_worker_stop(w);
    int64_t took = sl_monotonic_ms() - t0;
    if (took > 8000)
        fail_msg("stopping a worker whose target hangs took %lld ms", (long long)took);
    bool found;
    assert_true(checkpoint_of(f->store, "orders-to-http", &found) < a.position);
    assert_int_equal(atomic_load(&r->counters.delivered), 0);
    sl_settings_free(&s);
    run_free(r);
    rx_stop(rx);
}

/* ---- read sizes and background checkpoints ---- */

/* Appends `rounds` times `matching` events to orders-1 and `filtered` to
 * customers-1; returns the position of the last one. */
static uint64_t append_interleaved(struct sl_store *store, int rounds, size_t matching, size_t filtered)
{
    uint64_t last = 0;
    for (int i = 0; i < rounds; i++) {
        append_ok(store, "orders-1", matching);
        last = append_ok(store, "customers-1", filtered).position;
    }
    return last;
}

/* Reads every line of the log sink's file (heap-allocated; the caller frees). */
static size_t read_all_lines(const char *path, struct line **out)
{
    size_t cap = 4096;
    *out = calloc(cap, sizeof(**out));
    assert_non_null(*out);
    return read_lines(path, *out, cap);
}

/* Log positions of the records in batch request `i` (a JSON array). */
static size_t batch_positions(struct receiver *rx, size_t i, uint64_t *out, size_t cap)
{
    const struct rx_request *req = rx_request(rx, i);
    assert_non_null(req);
    json_t *doc = json_loadb(req->body, req->body_len, 0, NULL);
    if (!json_is_array(doc))
        fail_msg("request %zu is not a JSON array: %.*s", i, (int)req->body_len, req->body);
    size_t n = json_array_size(doc);
    for (size_t k = 0; k < n && k < cap; k++) {
        json_t *headers = json_object_get(json_array_get(doc, k), "headers");
        const char *text = json_string_value(json_object_get(headers, "esdb-record-log-position"));
        assert_non_null(text);
        out[k] = strtoull(text, NULL, 10);
    }
    json_decref(doc);
    return n;
}

static void test_catch_up_hands_the_sink_full_requests_around_filtered_events(void **state)
{
    struct fixture *f = *state;
    struct receiver *rx = rx_start();
    assert_non_null(rx);
    /* 1 000 matching events among 350 that are not: 10 requests of 100, none short. */
    uint64_t last = append_interleaved(f->store, 50, 20, 7);

    struct sl_settings s;
    http_settings(&s, rx, "batching:maxRecords", "100", "subscription:filter:scope", "stream",
                  "subscription:filter:filterType", "prefix", "subscription:filter:expression", "orders-",
                  NULL);
    struct run *r = run_new();
    struct sl_worker *w = start_worker(f->store, "orders-to-http", &s, 0, r);
    assert_true(wait_until(atomic_load(&r->counters.delivered) >= 1000 && processed(r) >= last, WAIT_MS));
    sl_worker_stop(w);

    assert_int_equal(rx_count(rx), 10);
    uint64_t previous = 0;
    for (size_t i = 0; i < 10; i++) {
        uint64_t positions[100];
        size_t n = batch_positions(rx, i, positions, ARRAY_LEN(positions));
        if (n != 100)
            fail_msg("request %zu carries %zu records, expected 100", i, n);
        for (size_t k = 0; k < n; k++) {
            assert_true(positions[k] > previous);
            previous = positions[k];
        }
    }
    sl_settings_free(&s);
    run_free(r);
    rx_stop(rx);
}

static void test_fewer_records_than_a_request_wait_for_max_delay_then_go_together(void **state)
{
    struct fixture *f = *state;
    struct receiver *rx = rx_start();
    assert_non_null(rx);
    struct sl_settings s;
    http_settings(&s, rx, "batching:maxRecords", "100", "batching:maxDelayMs", "300", NULL);
    struct run *r = run_new();
    struct sl_worker *w = start_worker(f->store, "orders-to-http", &s, 0, r);
    assert_true(wait_until(run_get(r, &r->n_running) == 1, WAIT_MS));
    uint64_t last = append_ok(f->store, "orders-1", 3).position;
    int64_t appended_ms = sl_monotonic_ms();
    assert_true(wait_until(rx_count(rx) >= 1, WAIT_MS));
    int64_t took = sl_monotonic_ms() - appended_ms;
    assert_true(wait_until(processed(r) >= last, WAIT_MS));
    sl_worker_stop(w);

    /* They waited for more (up to maxDelayMs), then went in one request. */
    if (took < 200)
        fail_msg("3 records of a 100-record batch went out %lld ms after the append; maxDelayMs is 300",
                 (long long)took);
    assert_int_equal(rx_count(rx), 1);
    uint64_t positions[8];
    assert_int_equal(batch_positions(rx, 0, positions, ARRAY_LEN(positions)), 3);
    assert_int_equal(positions[2], last);
    sl_settings_free(&s);
    run_free(r);
    rx_stop(rx);
}

static void test_periodic_checkpoints_are_reported_by_the_worker_and_the_last_is_durable_on_stop(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX];
    log_path(f, path);
    uint64_t last = append_interleaved(f->store, 30, 10, 2);

    struct sl_settings s;
    log_settings(&s, path);
    assert_true(sl_settings_set(&s, "autocommit:recordsThreshold", "10"));
    struct run *r = run_new();
    struct sl_worker *w = start_worker(f->store, "orders-to-log", &s, 0, r);
    /* At least the one after the first 10 records and the one when caught up. */
    assert_true(wait_until(processed(r) >= last && run_get(r, &r->n_checkpoints) >= 2, WAIT_MS));
    sl_worker_stop(w);

    pthread_mutex_lock(&r->mu);
    int n_checkpoints = r->n_checkpoints;
    uint64_t reported = r->last_checkpoint;
    bool are_increasing = r->are_checkpoints_increasing;
    bool is_off_worker = r->is_checkpoint_off_worker;
    pthread_mutex_unlock(&r->mu);
    assert_true(n_checkpoints >= 2);
    assert_true(are_increasing);
    assert_false(is_off_worker);
    assert_true(atomic_load(&r->counters.commit_latency.count) >= (uint64_t)n_checkpoints);

    /* Once stopped, the last checkpoint reported is the one in the store, past every record. */
    bool found;
    uint64_t checkpoint = checkpoint_of(f->store, "orders-to-log", &found);
    assert_true(found);
    assert_int_equal(checkpoint, reported);
    assert_true(checkpoint >= last);
    assert_true(only_bookkeeping_between(f->store, "orders-to-log", last, checkpoint));
    struct line *lines;
    assert_int_equal(read_all_lines(path, &lines), 300);
    free(lines);
    assert_true(stream_info_of(f->store, "$$$connectors/orders-to-log/checkpoints").exists);
    sl_settings_free(&s);
    run_free(r);
}

static void test_stop_amid_background_checkpoints_resumes_with_no_gap_and_no_duplicate(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX];
    log_path(f, path);
    uint64_t last = append_interleaved(f->store, 60, 10, 1);

    struct sl_settings s;
    log_settings(&s, path);
    assert_true(sl_settings_set(&s, "autocommit:recordsThreshold", "3"));
    uint64_t after = 0;
    for (int run_no = 0; run_no < 20 && after < last; run_no++) {
        struct run *r = run_new();
        struct sl_worker *w = start_worker(f->store, "orders-to-log", &s, after, r);
        /* Stop as soon as it has moved on, in the middle of delivering. */
        assert_true(wait_until(processed(r) > after || processed(r) >= last, WAIT_MS));
        sl_worker_stop(w);
        bool found;
        uint64_t checkpoint = checkpoint_of(f->store, "orders-to-log", &found);
        assert_true(found);
        assert_true(checkpoint >= after);
        pthread_mutex_lock(&r->mu);
        assert_int_equal(r->last_checkpoint, checkpoint);
        pthread_mutex_unlock(&r->mu);
        after = checkpoint;
        run_free(r);
    }
    assert_true(after >= last);

    /* Every matching event exactly once, in log order. */
    struct line *lines;
    size_t n = read_all_lines(path, &lines);
    assert_int_equal(n, 600);
    for (size_t i = 1; i < n; i++)
        if (lines[i].position <= lines[i - 1].position)
            fail_msg("line %zu is at %llu after %llu", i + 1, (unsigned long long)lines[i].position,
                     (unsigned long long)lines[i - 1].position);
    free(lines);
    sl_settings_free(&s);
}

static void test_background_checkpoints_never_pass_a_record_still_being_retried(void **state)
{
    struct fixture *f = *state;
    struct receiver *rx = rx_start();
    assert_non_null(rx);
    struct rx_action script[24];
    for (size_t i = 0; i < ARRAY_LEN(script); i++)
        script[i] = RX_OK(i < 3 ? 200 : 503);
    rx_script(rx, script, ARRAY_LEN(script));
    struct sl_error err = {0};
    assert_code(sl_checkpoint_save(f->store, "orders-to-http", 0, &err), SL_OK, &err);
    struct appended a[5];
    for (int i = 0; i < 5; i++)
        a[i] = append_numbered(f->store, "orders-1", i);

    struct sl_settings s;
    http_settings(&s, rx, "autocommit:recordsThreshold", "1", NULL);
    struct run *r = run_new();
    struct sl_worker *w = start_worker(f->store, "orders-to-http", &s, 0, r);
    assert_true(wait_until(rx_count(rx) >= 6, WAIT_MS));
    /* Meanwhile the checkpoint of what was delivered is written, and stops there. */
    assert_true(wait_until(run_get(r, &r->n_checkpoints) >= 1, WAIT_MS));
    bool found;
    assert_true(checkpoint_of(f->store, "orders-to-http", &found) < a[3].position);
    sl_worker_stop(w);

    assert_int_equal(atomic_load(&r->counters.delivered), 3);
    uint64_t checkpoint = checkpoint_of(f->store, "orders-to-http", &found);
    assert_true(found);
    assert_true(checkpoint >= a[2].position);
    assert_true(checkpoint < a[3].position);
    pthread_mutex_lock(&r->mu);
    assert_true(r->last_checkpoint < a[3].position);
    pthread_mutex_unlock(&r->mu);
    sl_settings_free(&s);
    run_free(r);
    rx_stop(rx);
}

int main(void)
{
    sl_log_set_level(SL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        STORE_TEST(test_worker_writes_matching_events_in_order_and_leaves_out_the_rest),
        STORE_TEST(test_stop_commits_the_last_position_handled_filtered_events_included),
        STORE_TEST(test_restart_from_the_checkpoint_delivers_nothing_twice),
        STORE_TEST(test_worker_starts_strictly_after_its_start_position),
        STORE_TEST(test_worker_delivers_events_appended_while_it_runs),
        STORE_TEST(test_http_worker_delivers_records_in_log_order),
        STORE_TEST(test_worker_idle_long_enough_to_free_its_buffers_delivers_the_next_events_intact),
        STORE_TEST(test_idle_connectors_do_not_checkpoint_each_others_checkpoints),
        STORE_TEST(test_rejected_record_is_dead_lettered_and_delivery_goes_on),
        STORE_TEST(test_rejected_record_with_on_exhausted_stop_fails_naming_the_record),
        STORE_TEST(test_checkpoint_never_passes_a_record_still_being_retried),
        STORE_TEST(test_checkpoint_moves_through_a_long_run_of_filtered_events),
        STORE_TEST(test_record_failing_past_max_retries_is_dead_lettered_with_its_attempts),
        STORE_TEST(test_stop_is_prompt_while_a_record_waits_for_its_retry),
        STORE_TEST(test_stop_does_not_wait_forever_for_a_hanging_target),
        STORE_TEST(test_catch_up_hands_the_sink_full_requests_around_filtered_events),
        STORE_TEST(test_fewer_records_than_a_request_wait_for_max_delay_then_go_together),
        STORE_TEST(test_periodic_checkpoints_are_reported_by_the_worker_and_the_last_is_durable_on_stop),
        STORE_TEST(test_stop_amid_background_checkpoints_resumes_with_no_gap_and_no_duplicate),
        STORE_TEST(test_background_checkpoints_never_pass_a_record_still_being_retried),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
