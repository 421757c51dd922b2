/* test_http_sink.c: the HTTP sink against a real HTTP receiver on 127.0.0.1:
 * what each request carries, URL templates, authentication, the outcome of
 * every kind of answer, keep-alive, batching, and cancellation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_receiver.h"
#include "sinks/http.h"
#include "sinks/sink.h"
#include "util/clock.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static struct receiver *rx;

static int start_receiver(void **state)
{
    (void)state;
    rx = rx_start();
    return rx ? 0 : -1;
}

static int stop_receiver(void **state)
{
    (void)state;
    rx_stop(rx);
    rx = NULL;
    return 0;
}

/* ---- sinks and records ---- */

/* An HTTP sink for `url` and NULL-terminated key, value pairs; fails the test if it cannot be made. */
static void *sink_at(const char *url, ...)
{
    struct sl_settings s;
    sl_settings_init(&s);
    assert_true(sl_settings_set(&s, "instanceTypeName", "http-sink"));
    assert_true(sl_settings_set(&s, "url", url));
    va_list ap;
    va_start(ap, url);
    for (const char *key = va_arg(ap, const char *); key; key = va_arg(ap, const char *))
        assert_true(sl_settings_set(&s, key, va_arg(ap, const char *)));
    va_end(ap);
    struct sl_error err = {0};
    void *ctx = NULL;
    enum sl_code code = sl_http_sink.create(&s, "orders-to-http", &ctx, &err);
    sl_settings_free(&s);
    if (code != SL_OK)
        fail_msg("create failed: %s", err.message);
    return ctx;
}

/* The receiver's URL for `path`. */
static const char *url_of(const char *path)
{
    static char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", rx->port, path);
    return url;
}

#define sink_for(path, ...) sink_at(url_of(path), __VA_ARGS__)

static const struct sl_header standard_headers[] = {
    {"esdb-connector-id", "orders-to-http"}, {"esdb-record-id", "0b8e7c52-4c5f-4d1e-9a53-0c3b2d1e0f11"},
    {"esdb-record-stream-id", "order-1"},    {"esdb-record-stream-revision", "4"},
    {"esdb-record-log-position", "1234"},    {"esdb-record-schema-subject", "OrderPlaced"},
    {"esdb-record-headers-trace", "abc"},
};

/* A JSON record on `stream` of `type` with the standard headers. */
static struct sl_sink_record json_record(const char *stream, const char *type, const char *json)
{
    return (struct sl_sink_record){
        .position = 1234,
        .revision = 4,
        .record_id = "0b8e7c52-4c5f-4d1e-9a53-0c3b2d1e0f11",
        .stream = stream,
        .stream_len = strlen(stream),
        .type = type,
        .type_len = strlen(type),
        .content_type = "application/json",
        .is_json = true,
        .payload = json,
        .payload_len = strlen(json),
        .headers = standard_headers,
        .n_headers = ARRAY_LEN(standard_headers),
    };
}

static void write_records(void *sink, const struct sl_sink_record *records, size_t n,
                          struct sl_sink_result *results)
{
    _Atomic bool cancel = false;
    memset(results, 0xa5, n * sizeof(*results)); /* so that an unfilled result shows */
    sl_http_sink.write(sink, records, n, results, &cancel);
}

/* Writes one record and returns its result. */
static struct sl_sink_result write_one(void *sink, const struct sl_sink_record *record)
{
    struct sl_sink_result r;
    write_records(sink, record, 1, &r);
    return r;
}

static void assert_header(const struct rx_request *req, const char *name, const char *expected)
{
    char value[1024];
    if (!rx_header(req->head, name, value, sizeof(value)))
        fail_msg("no %s header in\n%s", name, req->head);
    assert_string_equal(value, expected);
}

static void assert_mentions(const char *text, const char *needle)
{
    if (strstr(text, needle) == NULL)
        fail_msg("'%s' does not mention '%s'", text, needle);
}

static void assert_delivered(const struct sl_sink_result *r)
{
    if (r->outcome != SL_SINK_DELIVERED)
        fail_msg("not delivered (%d): %s", (int)r->outcome, r->error);
    assert_int_equal(r->retry_after_ms, -1);
    assert_string_equal(r->error, "");
}

/* ---- what a request carries ---- */

static void test_one_record_is_one_request_with_its_payload_content_type_and_every_header(void **state)
{
    (void)state;
    void *sink = sink_for("/in", "defaultHeaders:X-Env", "prod", "defaultHeaders:X-Team", "billing", NULL);
    struct sl_sink_record rec = json_record("order-1", "OrderPlaced", "{\"total\":42}");

    struct sl_sink_result r = write_one(sink, &rec);

    assert_delivered(&r);
    assert_int_equal(rx_count(rx), 1);
    const struct rx_request *req = rx_request(rx, 0);
    assert_true(strncmp(req->head, "POST /in HTTP/1.1\r\n", 19) == 0);
    assert_int_equal(req->body_len, strlen("{\"total\":42}"));
    assert_string_equal(req->body, "{\"total\":42}");
    assert_header(req, "Content-Type", "application/json");
    for (size_t i = 0; i < ARRAY_LEN(standard_headers); i++)
        assert_header(req, standard_headers[i].name, standard_headers[i].value);
    assert_header(req, "X-Env", "prod");
    assert_header(req, "X-Team", "billing");
    assert_int_equal(rx_header_count(req->head, "Content-Type"), 1);
    assert_int_equal(rx_header_count(req->head, "Expect"), 0);
    assert_int_equal(rx_header_count(req->head, "Authorization"), 0);
    sl_http_sink.destroy(sink);
}

static void test_binary_record_goes_as_is_with_put_and_its_own_content_type(void **state)
{
    (void)state;
    void *sink = sink_for("/bin", "method", "put", NULL);
    static const char bytes[] = {'\x00', '\x01', '\xff', '\r', '\n', 'z'};
    struct sl_sink_record rec = json_record("order-1", "Blob", "");
    rec.is_json = false;
    rec.content_type = "application/octet-stream";
    rec.payload = bytes;
    rec.payload_len = sizeof(bytes);

    struct sl_sink_result r = write_one(sink, &rec);

    assert_delivered(&r);
    const struct rx_request *req = rx_request(rx, 0);
    assert_true(strncmp(req->head, "PUT /bin HTTP/1.1\r\n", 19) == 0);
    assert_int_equal(req->body_len, sizeof(bytes));
    assert_memory_equal(req->body, bytes, sizeof(bytes));
    assert_header(req, "Content-Type", "application/octet-stream");
    sl_http_sink.destroy(sink);
}

static void test_metadata_cannot_inject_headers_and_empty_values_are_sent(void **state)
{
    (void)state;
    void *sink = sink_for("/in", NULL);
    static const struct sl_header tricky[] = {
        {"esdb-record-headers-note", "a\r\nX-Injected: 1"},
        {"esdb-record-headers-two words", "v"},
        {"esdb-record-headers-empty", ""},
    };
    struct sl_sink_record rec = json_record("order-1", "OrderPlaced", "{}");
    rec.headers = tricky;
    rec.n_headers = ARRAY_LEN(tricky);

    struct sl_sink_result r = write_one(sink, &rec);

    assert_delivered(&r);
    const struct rx_request *req = rx_request(rx, 0);
    assert_header(req, "esdb-record-headers-note", "a  X-Injected: 1");
    assert_int_equal(rx_header_count(req->head, "X-Injected"), 0);
    assert_header(req, "esdb-record-headers-two_words", "v");
    assert_header(req, "esdb-record-headers-empty", "");
    sl_http_sink.destroy(sink);
}

static void test_default_headers_never_replace_the_records_own(void **state)
{
    (void)state;
    void *sink = sink_for("/in", "defaultHeaders:Content-Type", "text/plain",
                          "defaultHeaders:esdb-record-stream-id", "other", NULL);
    struct sl_sink_record rec = json_record("order-1", "OrderPlaced", "{}");

    struct sl_sink_result r = write_one(sink, &rec);

    assert_delivered(&r);
    const struct rx_request *req = rx_request(rx, 0);
    assert_int_equal(rx_header_count(req->head, "Content-Type"), 1);
    assert_header(req, "Content-Type", "application/json");
    assert_int_equal(rx_header_count(req->head, "esdb-record-stream-id"), 1);
    assert_header(req, "esdb-record-stream-id", "order-1");
    sl_http_sink.destroy(sink);
}

/* ---- URL templates ---- */

static void test_url_templates_expand_the_stream_and_the_event_type_in_kebab_case_escaped(void **state)
{
    (void)state;
    void *sink = sink_for("/s/{stream}/t/{event-type}/u/{schema-subject}?x=1", NULL);
    struct sl_sink_record recs[] = {
        json_record("orders/eu 1", "OrderPlaced", "{}"),
        json_record("a&b?c#d", "order_placed", "{}"),
        json_record("$system", "HTTPRequestV2", "{}"),
        json_record("caf\xc3\xa9", "Order Placed.v1", "{}"),
    };
    struct sl_sink_result results[ARRAY_LEN(recs)];

    write_records(sink, recs, ARRAY_LEN(recs), results);

    for (size_t i = 0; i < ARRAY_LEN(recs); i++)
        assert_delivered(&results[i]);
    assert_int_equal(rx_count(rx), 4);
    static const char *const expected[] = {
        "POST /s/orders%2Feu%201/t/order-placed/u/order-placed?x=1 HTTP/1.1\r\n",
        "POST /s/a%26b%3Fc%23d/t/order-placed/u/order-placed?x=1 HTTP/1.1\r\n",
        "POST /s/%24system/t/http-request-v2/u/http-request-v2?x=1 HTTP/1.1\r\n",
        "POST /s/caf%C3%A9/t/order-placed.v1/u/order-placed.v1?x=1 HTTP/1.1\r\n",
    };
    for (size_t i = 0; i < ARRAY_LEN(expected); i++) {
        const char *head = rx_request(rx, i)->head;
        if (strncmp(head, expected[i], strlen(expected[i])) != 0)
            fail_msg("request %zu: expected %s got %.120s", i, expected[i], head);
    }
    sl_http_sink.destroy(sink);
}

/* ---- authentication ---- */

static void test_basic_authentication_sends_the_credentials(void **state)
{
    (void)state;
    void *sink = sink_for("/in", "authentication:method", "Basic", "authentication:basic:username", "aladdin",
                          "authentication:basic:password", "open sesame", NULL);
    struct sl_sink_record rec = json_record("order-1", "OrderPlaced", "{}");

    struct sl_sink_result r = write_one(sink, &rec);

    assert_delivered(&r);
    assert_header(rx_request(rx, 0), "Authorization", "Basic YWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    sl_http_sink.destroy(sink);
}

static void test_bearer_authentication_sends_the_token(void **state)
{
    (void)state;
    void *sink =
        sink_for("/in", "authentication:method", "bearer", "authentication:bearer:token", "t0k3n.x-y", NULL);
    struct sl_sink_record rec = json_record("order-1", "OrderPlaced", "{}");

    struct sl_sink_result r = write_one(sink, &rec);

    assert_delivered(&r);
    assert_header(rx_request(rx, 0), "Authorization", "Bearer t0k3n.x-y");
    sl_http_sink.destroy(sink);
}

/* Runs the sink's own validation over NULL-terminated key, value pairs. */
static void validate(struct sl_violations *out, ...)
{
    struct sl_settings s;
    sl_settings_init(&s);
    va_list ap;
    va_start(ap, out);
    for (const char *key = va_arg(ap, const char *); key; key = va_arg(ap, const char *))
        assert_true(sl_settings_set(&s, key, va_arg(ap, const char *)));
    va_end(ap);
    sl_http_sink.validate(&s, out);
    sl_settings_free(&s);
}

static void assert_violation(const struct sl_violations *v, const char *field, const char *needle)
{
    for (size_t i = 0; i < v->count; i++)
        if (strcmp(v->items[i].field, field) == 0 && strstr(v->items[i].description, needle))
            return;
    fail_msg("no violation of %s mentioning '%s' among %zu", field, needle, v->count);
}

static void test_validation_asks_for_the_credentials_of_the_chosen_authentication(void **state)
{
    (void)state;
    struct sl_violations v = {0};
    validate(&v, "url", "http://h/x", "authentication:method", "basic", NULL);
    assert_int_equal(v.count, 1);
    assert_violation(&v, "authentication:basic:username", "basic");
    sl_violations_free(&v);

    validate(&v, "url", "http://h/x", "authentication:method", "BEARER", "authentication:bearer:token", "",
             NULL);
    assert_int_equal(v.count, 1);
    assert_violation(&v, "authentication:bearer:token", "bearer");
    sl_violations_free(&v);

    validate(&v, "url", "http://h/x", "authentication:method", "basic", "authentication:basic:username", "u",
             "authentication:bearer:token", "", NULL);
    assert_int_equal(v.count, 0);
    sl_violations_free(&v);
}

static void test_validation_lists_unknown_templates_and_bad_default_headers(void **state)
{
    (void)state;
    struct sl_violations v = {0};
    validate(&v, "url", "http://h/{stream}/{eventType}", "defaultHeaders:Bad Name", "x",
             "defaultHeaders:X-Ok", "a\nb", NULL);
    assert_int_equal(v.count, 3);
    assert_violation(&v, "url", "{eventType}");
    assert_violation(&v, "defaultHeaders:Bad Name", "HTTP header");
    assert_violation(&v, "defaultHeaders:X-Ok", "line break");
    sl_violations_free(&v);
}

static void test_sink_table_declares_every_setting_with_its_default(void **state)
{
    (void)state;
    static const struct {
        const char *key, *default_value;
    } expected[] = {
        {"url", NULL},
        {"method", "POST"},
        {"authentication:method", "none"},
        {"timeoutMs", "30000"},
        {"batching:maxRecords", "1"},
        {"batching:maxBytes", "1048576"},
        {"batching:maxDelayMs", "0"},
        {"tls:verify", "true"},
    };
    const struct sl_setting *tables[] = {sl_http_sink.settings, NULL};
    for (size_t i = 0; i < ARRAY_LEN(expected); i++) {
        const struct sl_setting *d = sl_settings_find(tables, expected[i].key);
        assert_non_null(d);
        if (expected[i].default_value)
            assert_string_equal(d->default_value, expected[i].default_value);
    }
    assert_true(sl_settings_find(tables, "url")->flags & SL_SETTING_REQUIRED);
    assert_true(sl_settings_find(tables, "defaultHeaders:X-Anything")->flags & SL_SETTING_PREFIX);
    assert_true(sl_settings_find(tables, "authentication:basic:password")->flags & SL_SETTING_SECRET);
    assert_true(sl_settings_find(tables, "authentication:bearer:token")->flags & SL_SETTING_SECRET);
}

/* ---- outcomes ---- */

/* Scripts `action` for the next request and writes one record to /out. */
static struct sl_sink_result answer_with(struct rx_action action, const char *timeout_ms)
{
    rx_script(rx, &action, 1);
    void *sink = sink_for("/out", "timeoutMs", timeout_ms, NULL);
    struct sl_sink_record rec = json_record("order-1", "OrderPlaced", "{}");
    struct sl_sink_result r = write_one(sink, &rec);
    sl_http_sink.destroy(sink);
    return r;
}

static void test_200_is_delivered(void **state)
{
    (void)state;
    struct sl_sink_result r = answer_with(RX_OK(200), "5000");
    assert_delivered(&r);
}

static void test_201_is_delivered(void **state)
{
    (void)state;
    struct sl_sink_result r = answer_with(RX_OK(201), "5000");
    assert_delivered(&r);
}

static void test_503_retries_and_says_which_status_came_from_where(void **state)
{
    (void)state;
    struct sl_sink_result r = answer_with(RX_OK(503), "5000");
    assert_int_equal(r.outcome, SL_SINK_RETRY);
    assert_int_equal(r.retry_after_ms, -1);
    char expected[128];
    snprintf(expected, sizeof(expected), "HTTP 503 from http://127.0.0.1:%u/out", rx->port);
    assert_mentions(r.error, expected);
}

static void test_429_retries_after_the_seconds_in_retry_after(void **state)
{
    (void)state;
    struct sl_sink_result r =
        answer_with((struct rx_action){RX_STATUS, 429, "Retry-After: 2\r\n", 0}, "5000");
    assert_int_equal(r.outcome, SL_SINK_RETRY);
    assert_int_equal(r.retry_after_ms, 2000);
    assert_mentions(r.error, "HTTP 429 from");
}

static void test_retry_after_as_an_http_date_is_the_time_until_then(void **state)
{
    (void)state;
    time_t then = time(NULL) + 5;
    struct tm tm;
    gmtime_r(&then, &tm);
    char header[96];
    strftime(header, sizeof(header), "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    struct sl_sink_result r = answer_with((struct rx_action){RX_STATUS, 503, header, 0}, "5000");
    assert_int_equal(r.outcome, SL_SINK_RETRY);
    assert_in_range(r.retry_after_ms, 3000, 6000);
}

static void test_408_retries(void **state)
{
    (void)state;
    struct sl_sink_result r = answer_with(RX_OK(408), "5000");
    assert_int_equal(r.outcome, SL_SINK_RETRY);
    assert_mentions(r.error, "HTTP 408 from");
}

static void test_400_fails_and_quotes_the_answer(void **state)
{
    (void)state;
    struct sl_sink_result r = answer_with(RX_OK(400), "5000");
    assert_int_equal(r.outcome, SL_SINK_FAILED);
    assert_int_equal(r.retry_after_ms, -1);
    assert_mentions(r.error, "HTTP 400 from http://127.0.0.1:");
    assert_mentions(r.error, "field x is missing");
}

static void test_301_fails_because_redirects_are_not_followed(void **state)
{
    (void)state;
    struct sl_sink_result r = answer_with(
        (struct rx_action){RX_STATUS, 301, "Location: http://127.0.0.1:1/elsewhere\r\n", 0}, "5000");
    assert_int_equal(r.outcome, SL_SINK_FAILED);
    assert_mentions(r.error, "HTTP 301 from");
    assert_mentions(r.error, "redirects are not followed");
    assert_int_equal(rx_count(rx), 1);
}

static void test_no_answer_within_timeout_ms_retries(void **state)
{
    (void)state;
    int64_t start = sl_monotonic_ms();
    struct sl_sink_result r = answer_with((struct rx_action){RX_HANG, 0, NULL, 10000}, "300");
    int64_t took = sl_monotonic_ms() - start;
    assert_int_equal(r.outcome, SL_SINK_RETRY);
    assert_mentions(r.error, "timed out");
    assert_in_range(took, 250, 3000);
}

static void test_connection_closed_without_an_answer_retries(void **state)
{
    (void)state;
    struct sl_sink_result r = answer_with(RX_DROP, "5000");
    assert_int_equal(r.outcome, SL_SINK_RETRY);
    assert_mentions(r.error, "POST http://127.0.0.1:");
    assert_mentions(r.error, "Empty reply");
}

static void test_refused_connection_retries(void **state)
{
    (void)state;
    /* A port nobody listens on: bind one, and let it go. */
    struct receiver *gone = rx_start();
    assert_non_null(gone);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/x", gone->port);
    rx_stop(gone);
    void *sink = sink_at(url, NULL);
    struct sl_sink_record rec = json_record("order-1", "OrderPlaced", "{}");

    struct sl_sink_result r = write_one(sink, &rec);

    assert_int_equal(r.outcome, SL_SINK_RETRY);
    assert_mentions(r.error, url);
    sl_http_sink.destroy(sink);
}

static void test_credentials_in_the_url_stay_out_of_errors(void **state)
{
    (void)state;
    rx_script(rx, &RX_OK(500), 1);
    char url[128];
    snprintf(url, sizeof(url), "http://user:s3cret@127.0.0.1:%u/x", rx->port);
    void *sink = sink_at(url, NULL);
    struct sl_sink_record rec = json_record("order-1", "OrderPlaced", "{}");

    struct sl_sink_result r = write_one(sink, &rec);

    assert_int_equal(r.outcome, SL_SINK_RETRY);
    assert_null(strstr(r.error, "s3cret"));
    assert_mentions(r.error, "http://***@127.0.0.1:");
    sl_http_sink.destroy(sink);
}

static void test_first_undelivered_record_stops_the_write_and_later_ones_get_its_outcome(void **state)
{
    (void)state;
    rx_script(rx, (struct rx_action[]){RX_OK(200), RX_OK(400)}, 2);
    void *sink = sink_for("/in", NULL);
    struct sl_sink_record recs[] = {
        json_record("s", "A", "{\"n\":1}"),
        json_record("s", "A", "{\"n\":2}"),
        json_record("s", "A", "{\"n\":3}"),
        json_record("s", "A", "{\"n\":4}"),
    };
    struct sl_sink_result results[4];

    write_records(sink, recs, 4, results);

    assert_delivered(&results[0]);
    for (size_t i = 1; i < 4; i++) {
        assert_int_equal(results[i].outcome, SL_SINK_FAILED);
        assert_mentions(results[i].error, "HTTP 400");
    }
    assert_int_equal(rx_count(rx), 2);
    assert_string_equal(rx_request(rx, 1)->body, "{\"n\":2}");
    sl_http_sink.destroy(sink);
}

/* ---- connections ---- */

static void test_many_requests_share_one_kept_alive_connection(void **state)
{
    (void)state;
    rx_script(rx, (struct rx_action[]){RX_OK(200), RX_OK(503), RX_OK(404)}, 3);
    void *sink = sink_for("/in", NULL);
    struct sl_sink_record rec = json_record("order-1", "OrderPlaced", "{}");
    for (int i = 0; i < 25; i++)
        write_one(sink, &rec);
    struct sl_sink_record recs[10];
    struct sl_sink_result results[10];
    for (size_t i = 0; i < 10; i++)
        recs[i] = rec;
    write_records(sink, recs, 10, results);

    assert_int_equal(rx_count(rx), 35);
    assert_int_equal(rx_connections(rx), 1);
    assert_int_equal(rx_request(rx, 34)->connection, 1);
    sl_http_sink.destroy(sink);
}

static void test_after_a_dropped_connection_the_next_write_connects_again(void **state)
{
    (void)state;
    rx_script(rx, (struct rx_action[]){RX_OK(200), RX_DROP, RX_OK(200)}, 3);
    void *sink = sink_for("/in", NULL);
    struct sl_sink_record rec = json_record("order-1", "OrderPlaced", "{}");

    assert_delivered((struct sl_sink_result[]){write_one(sink, &rec)});
    struct sl_sink_result dropped = write_one(sink, &rec);
    assert_delivered((struct sl_sink_result[]){write_one(sink, &rec)});

    /* The drop came on a kept-alive connection, which the sink retries once on
     * a new one: then the receiver saw that request twice (at least once). */
    if (dropped.outcome == SL_SINK_DELIVERED) {
        assert_int_equal(rx_count(rx), 4);
    } else {
        assert_int_equal(dropped.outcome, SL_SINK_RETRY);
        assert_int_equal(rx_count(rx), 3);
    }
    assert_int_equal(rx_connections(rx), 2);
    sl_http_sink.destroy(sink);
}

/* ---- batching ---- */

/* Request `i`'s body as JSON; fails the test unless it is an array of `n` elements. */
static json_t *batch_body(size_t i, size_t n)
{
    const struct rx_request *req = rx_request(rx, i);
    assert_non_null(req);
    json_error_t jerr;
    json_t *body = json_loadb(req->body, req->body_len, 0, &jerr);
    if (body == NULL)
        fail_msg("request %zu body is not JSON (%s): %s", i, jerr.text, req->body);
    assert_true(json_is_array(body));
    assert_int_equal(json_array_size(body), n);
    char size[16];
    snprintf(size, sizeof(size), "%zu", n);
    assert_header(req, "esdb-batch-size", size);
    assert_header(req, "Content-Type", "application/json");
    return body;
}

static void test_batches_hold_max_records_in_order_as_a_json_array(void **state)
{
    (void)state;
    void *sink = sink_for("/batch", "batching:maxRecords", "3", "defaultHeaders:X-Env", "prod", NULL);
    assert_int_equal(sl_http_sink.batch_size(sink), 3);
    char payloads[7][32];
    struct sl_sink_record recs[7];
    for (size_t i = 0; i < 7; i++) {
        snprintf(payloads[i], sizeof(payloads[i]), "{\"n\":%zu}", i);
        recs[i] = json_record("order-1", "OrderPlaced", payloads[i]);
    }
    static const char bytes[] = {'\x00', 'b', 'i', 'n'};
    recs[4].is_json = false;
    recs[4].content_type = "application/octet-stream";
    recs[4].payload = bytes;
    recs[4].payload_len = sizeof(bytes);
    struct sl_sink_result results[7];

    write_records(sink, recs, 7, results);

    for (size_t i = 0; i < 7; i++)
        assert_delivered(&results[i]);
    assert_int_equal(rx_count(rx), 3); /* ceil(7 / 3) */
    static const size_t sizes[] = {3, 3, 1};
    size_t n = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *body = batch_body(i, sizes[i]);
        assert_header(rx_request(rx, i), "X-Env", "prod");
        for (size_t k = 0; k < sizes[i]; k++, n++) {
            json_t *el = json_array_get(body, k);
            json_t *headers = json_object_get(el, "headers");
            assert_int_equal(json_object_size(headers), ARRAY_LEN(standard_headers));
            for (size_t h = 0; h < ARRAY_LEN(standard_headers); h++)
                assert_string_equal(json_string_value(json_object_get(headers, standard_headers[h].name)),
                                    standard_headers[h].value);
            json_t *data = json_object_get(el, "data");
            if (n == 4) {
                assert_string_equal(json_string_value(json_object_get(el, "contentType")),
                                    "application/octet-stream");
                assert_string_equal(json_string_value(data), "AGJpbg==");
            } else {
                assert_string_equal(json_string_value(json_object_get(el, "contentType")),
                                    "application/json");
                assert_int_equal(json_integer_value(json_object_get(data, "n")), n);
            }
        }
        json_decref(body);
    }
    assert_int_equal(rx_connections(rx), 1);
    sl_http_sink.destroy(sink);
}

static void test_batches_split_before_max_bytes_and_send_a_larger_record_alone(void **state)
{
    (void)state;
    /* One element is about 340 bytes: two fit in 1000, three do not. */
    void *sink = sink_for("/batch", "batching:maxRecords", "100", "batching:maxBytes", "1000", NULL);
    char big[2000];
    memset(big, 'x', sizeof(big));
    memcpy(big, "\"", 1);
    memcpy(big + sizeof(big) - 2, "\"", 2);
    char payloads[5][32];
    struct sl_sink_record recs[6];
    for (size_t i = 0; i < 5; i++) {
        snprintf(payloads[i], sizeof(payloads[i]), "{\"n\":%zu}", i);
        recs[i] = json_record("order-1", "OrderPlaced", payloads[i]);
    }
    recs[5] = json_record("order-1", "OrderPlaced", big);
    struct sl_sink_result results[6];

    write_records(sink, recs, 6, results);

    for (size_t i = 0; i < 6; i++)
        assert_delivered(&results[i]);
    assert_int_equal(rx_count(rx), 4);
    static const size_t sizes[] = {2, 2, 1, 1};
    for (size_t i = 0; i < 4; i++) {
        json_decref(batch_body(i, sizes[i]));
        if (i < 3)
            assert_true(rx_request(rx, i)->body_len <= 1000);
    }
    assert_true(rx_request(rx, 3)->body_len > 2000);
    sl_http_sink.destroy(sink);
}

static void test_batches_split_where_the_url_changes(void **state)
{
    (void)state;
    void *sink = sink_for("/to/{stream}", "batching:maxRecords", "10", NULL);
    struct sl_sink_record recs[] = {
        json_record("a", "T", "{\"n\":0}"), json_record("a", "T", "{\"n\":1}"),
        json_record("b", "T", "{\"n\":2}"), json_record("b", "T", "{\"n\":3}"),
        json_record("a", "T", "{\"n\":4}"),
    };
    struct sl_sink_result results[ARRAY_LEN(recs)];

    write_records(sink, recs, ARRAY_LEN(recs), results);

    for (size_t i = 0; i < ARRAY_LEN(recs); i++)
        assert_delivered(&results[i]);
    assert_int_equal(rx_count(rx), 3);
    static const char *const targets[] = {"POST /to/a ", "POST /to/b ", "POST /to/a "};
    static const size_t sizes[] = {2, 2, 1};
    for (size_t i = 0; i < 3; i++) {
        assert_true(strncmp(rx_request(rx, i)->head, targets[i], strlen(targets[i])) == 0);
        json_decref(batch_body(i, sizes[i]));
    }
    sl_http_sink.destroy(sink);
}

static void test_an_undelivered_batch_gives_its_outcome_to_its_records_and_all_later_ones(void **state)
{
    (void)state;
    rx_script(rx, (struct rx_action[]){RX_OK(200), {RX_STATUS, 429, "Retry-After: 7\r\n", 0}}, 2);
    void *sink = sink_for("/batch", "batching:maxRecords", "2", NULL);
    struct sl_sink_record recs[5];
    for (size_t i = 0; i < 5; i++)
        recs[i] = json_record("s", "T", "{}");
    struct sl_sink_result results[5];

    write_records(sink, recs, 5, results);

    assert_delivered(&results[0]);
    assert_delivered(&results[1]);
    for (size_t i = 2; i < 5; i++) {
        assert_int_equal(results[i].outcome, SL_SINK_RETRY);
        assert_int_equal(results[i].retry_after_ms, 7000);
        assert_mentions(results[i].error, "HTTP 429");
    }
    assert_int_equal(rx_count(rx), 2);
    sl_http_sink.destroy(sink);
}

static void test_one_record_per_request_by_default_and_max_delay_is_exposed(void **state)
{
    (void)state;
    void *sink = sink_for("/in", NULL);
    assert_int_equal(sl_http_sink.batch_size(sink), 1);
    assert_int_equal(sl_http_sink_max_delay_ms(sink), 0);
    sl_http_sink.destroy(sink);
    sink = sink_for("/in", "batching:maxRecords", "50", "batching:maxDelayMs", "250", NULL);
    assert_int_equal(sl_http_sink.batch_size(sink), 50);
    assert_int_equal(sl_http_sink_max_delay_ms(sink), 250);
    sl_http_sink.destroy(sink);
}

/* ---- cancellation ---- */

struct canceller {
    _Atomic bool *cancel;
    int after_ms;
};

static void *cancel_later(void *arg)
{
    struct canceller *c = arg;
    struct timespec ts = {c->after_ms / 1000, (long)(c->after_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    atomic_store(c->cancel, true);
    return NULL;
}

static void test_cancel_aborts_a_hanging_request_quickly(void **state)
{
    (void)state;
    rx_script(rx, &(struct rx_action){RX_HANG, 0, NULL, 20000}, 1);
    void *sink = sink_for("/slow", "timeoutMs", "20000", NULL);
    struct sl_sink_record recs[] = {json_record("s", "T", "{}"), json_record("s", "T", "{}")};
    struct sl_sink_result results[2];
    _Atomic bool cancel = false;
    struct canceller c = {&cancel, 200};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &c), 0);

    int64_t start = sl_monotonic_ms();
    sl_http_sink.write(sink, recs, 2, results, &cancel);
    int64_t took = sl_monotonic_ms() - start;
    pthread_join(t, NULL);

    assert_in_range(took, 150, 700);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(results[i].outcome, SL_SINK_RETRY);
        assert_mentions(results[i].error, "cancelled");
    }
    assert_int_equal(rx_count(rx), 1);
    sl_http_sink.destroy(sink);
}

static void test_cancel_before_write_sends_nothing(void **state)
{
    (void)state;
    void *sink = sink_for("/in", NULL);
    struct sl_sink_record rec = json_record("s", "T", "{}");
    struct sl_sink_result r;
    _Atomic bool cancel = true;

    sl_http_sink.write(sink, &rec, 1, &r, &cancel);

    assert_int_equal(r.outcome, SL_SINK_RETRY);
    assert_int_equal(rx_count(rx), 0);
    sl_http_sink.destroy(sink);
}

/* ---- the wire ---- */

static void test_the_request_head_names_the_host_the_length_and_the_path_with_its_query(void **state)
{
    (void)state;
    void *sink = sink_for("/in/orders?tenant=a#fragment", NULL);
    struct sl_sink_record rec = json_record("order-1", "OrderPlaced", "{\"n\":12345}");

    assert_delivered((struct sl_sink_result[]){write_one(sink, &rec)});

    const struct rx_request *req = rx_request(rx, 0);
    assert_non_null(req);
    assert_int_equal(strncmp(req->head, "POST /in/orders?tenant=a HTTP/1.1\r\n", 35), 0);
    char host[64];
    snprintf(host, sizeof(host), "127.0.0.1:%u", rx->port);
    assert_header(req, "Host", host);
    assert_header(req, "Content-Length", "11");
    assert_int_equal(rx_header_count(req->head, "Content-Length"), 1);
    assert_string_equal(req->body, "{\"n\":12345}");
    char agent[64];
    assert_true(rx_header(req->head, "User-Agent", agent, sizeof(agent)));
    assert_int_equal(strncmp(agent, "sluice/", 7), 0);
    sl_http_sink.destroy(sink);
}

static void test_a_url_without_a_path_asks_for_the_root(void **state)
{
    (void)state;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u?x=1", rx->port);
    void *sink = sink_at(url, NULL);
    struct sl_sink_record rec = json_record("order-1", "OrderPlaced", "{}");

    assert_delivered((struct sl_sink_result[]){write_one(sink, &rec)});

    assert_int_equal(strncmp(rx_request(rx, 0)->head, "POST /?x=1 HTTP/1.1\r\n", 21), 0);
    sl_http_sink.destroy(sink);
}

static void test_credentials_in_the_url_go_as_basic_authentication(void **state)
{
    (void)state;
    char url[128];
    snprintf(url, sizeof(url), "http://us%%65r:s3cret@127.0.0.1:%u/x", rx->port);
    void *sink = sink_at(url, NULL);
    struct sl_sink_record rec = json_record("order-1", "OrderPlaced", "{}");

    assert_delivered((struct sl_sink_result[]){write_one(sink, &rec)});

    assert_header(rx_request(rx, 0), "Authorization", "Basic dXNlcjpzM2NyZXQ=");
    char host[64];
    snprintf(host, sizeof(host), "127.0.0.1:%u", rx->port);
    assert_header(rx_request(rx, 0), "Host", host);
    sl_http_sink.destroy(sink);
}

static void test_default_headers_cannot_change_how_the_request_is_framed(void **state)
{
    (void)state;
    struct sl_violations v = {0};
    validate(&v, "url", "http://h/x", "defaultHeaders:Content-Length", "1",
             "defaultHeaders:transfer-encoding", "chunked", "defaultHeaders:Host", "elsewhere",
             "defaultHeaders:X-Fine", "yes", NULL);
    assert_int_equal(v.count, 3);
    assert_violation(&v, "defaultHeaders:Content-Length", "set by the sink");
    assert_violation(&v, "defaultHeaders:transfer-encoding", "set by the sink");
    assert_violation(&v, "defaultHeaders:Host", "set by the sink");
    sl_violations_free(&v);

    /* A definition that skipped validation still cannot break the framing. */
    void *sink = sink_for("/in", "defaultHeaders:Content-Length", "1", "defaultHeaders:Transfer-Encoding",
                          "chunked", "defaultHeaders:X-Fine", "yes", NULL);
    struct sl_sink_record rec = json_record("order-1", "OrderPlaced", "{\"a\":1}");
    assert_delivered((struct sl_sink_result[]){write_one(sink, &rec)});
    const struct rx_request *req = rx_request(rx, 0);
    assert_header(req, "Content-Length", "7");
    assert_int_equal(rx_header_count(req->head, "Content-Length"), 1);
    assert_int_equal(rx_header_count(req->head, "Transfer-Encoding"), 0);
    assert_header(req, "X-Fine", "yes");
    sl_http_sink.destroy(sink);
}

static void test_an_interim_answer_is_skipped_for_the_final_one(void **state)
{
    (void)state;
    struct sl_sink_result r = answer_with(
        RX_RAW_ANSWER("HTTP/1.1 100 Continue\r\n\r\n"
                      "HTTP/1.1 503 Busy\r\nRetry-After: 2\r\nContent-Length: 9\r\n\r\ntoo\x01 busy"),
        "5000");
    assert_int_equal(r.outcome, SL_SINK_RETRY);
    assert_int_equal(r.retry_after_ms, 2000);
    assert_mentions(r.error, "HTTP 503");
    assert_mentions(r.error, "too  busy");
}

static void test_a_chunked_answer_is_read_and_the_connection_kept(void **state)
{
    (void)state;
    rx_script(rx,
              (struct rx_action[]){RX_RAW_ANSWER("HTTP/1.1 422 No\r\nTransfer-Encoding: chunked\r\n\r\n"
                                                 "6\r\nbad da\r\n2\r\nta\r\n0\r\n\r\n"),
                                   RX_OK(200)},
              2);
    void *sink = sink_for("/in", NULL);
    struct sl_sink_record rec = json_record("order-1", "OrderPlaced", "{}");

    struct sl_sink_result first = write_one(sink, &rec);
    assert_int_equal(first.outcome, SL_SINK_FAILED);
    assert_mentions(first.error, "HTTP 422");
    assert_mentions(first.error, "bad data");
    assert_delivered((struct sl_sink_result[]){write_one(sink, &rec)});
    assert_int_equal(rx_connections(rx), 1);
    sl_http_sink.destroy(sink);
}

static void test_an_answer_ended_by_closing_is_read_and_the_next_write_connects_again(void **state)
{
    (void)state;
    rx_script(
        rx,
        (struct rx_action[]){RX_RAW_THEN_CLOSE("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nfine, no length"),
                             RX_OK(200)},
        2);
    void *sink = sink_for("/in", NULL);
    struct sl_sink_record rec = json_record("order-1", "OrderPlaced", "{}");

    assert_delivered((struct sl_sink_result[]){write_one(sink, &rec)});
    assert_delivered((struct sl_sink_result[]){write_one(sink, &rec)});

    assert_int_equal(rx_count(rx), 2);
    assert_int_equal(rx_connections(rx), 2);
    sl_http_sink.destroy(sink);
}

static void test_an_answer_that_is_not_http_retries(void **state)
{
    (void)state;
    struct sl_sink_result r = answer_with(RX_RAW_THEN_CLOSE("SSH-2.0-OpenSSH_9.2\r\n\r\n"), "5000");
    assert_int_equal(r.outcome, SL_SINK_RETRY);
    assert_mentions(r.error, "not HTTP/1.1");
}

static void test_a_connection_closed_in_the_middle_of_an_answer_retries(void **state)
{
    (void)state;
    struct sl_sink_result r =
        answer_with(RX_RAW_THEN_CLOSE("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"), "5000");
    assert_int_equal(r.outcome, SL_SINK_RETRY);
    assert_mentions(r.error, "middle of the answer");
}

static void test_create_refuses_an_unreadable_ca_file(void **state)
{
    (void)state;
    struct sl_settings s;
    sl_settings_init(&s);
    sl_settings_set(&s, "url", "https://example.invalid/");
    sl_settings_set(&s, "tls:caFile", "/nonexistent/ca.pem");
    struct sl_error err = {0};
    void *ctx = (void *)1;
    assert_int_equal(sl_http_sink.create(&s, "c1", &ctx, &err), SL_E_INVALID);
    assert_null(ctx);
    assert_string_equal(err.field, "tls:caFile");
    assert_mentions(err.message, "/nonexistent/ca.pem");
    sl_settings_free(&s);
    sl_http_sink.destroy(NULL);
}

#define RX_TEST(f) cmocka_unit_test_setup_teardown(f, start_receiver, stop_receiver)

int main(void)
{
    const struct CMUnitTest tests[] = {
        RX_TEST(test_one_record_is_one_request_with_its_payload_content_type_and_every_header),
        RX_TEST(test_binary_record_goes_as_is_with_put_and_its_own_content_type),
        RX_TEST(test_metadata_cannot_inject_headers_and_empty_values_are_sent),
        RX_TEST(test_default_headers_never_replace_the_records_own),
        RX_TEST(test_url_templates_expand_the_stream_and_the_event_type_in_kebab_case_escaped),
        RX_TEST(test_basic_authentication_sends_the_credentials),
        RX_TEST(test_bearer_authentication_sends_the_token),
        cmocka_unit_test(test_validation_asks_for_the_credentials_of_the_chosen_authentication),
        cmocka_unit_test(test_validation_lists_unknown_templates_and_bad_default_headers),
        cmocka_unit_test(test_sink_table_declares_every_setting_with_its_default),
        RX_TEST(test_200_is_delivered),
        RX_TEST(test_201_is_delivered),
        RX_TEST(test_503_retries_and_says_which_status_came_from_where),
        RX_TEST(test_429_retries_after_the_seconds_in_retry_after),
        RX_TEST(test_retry_after_as_an_http_date_is_the_time_until_then),
        RX_TEST(test_408_retries),
        RX_TEST(test_400_fails_and_quotes_the_answer),
        RX_TEST(test_301_fails_because_redirects_are_not_followed),
        RX_TEST(test_no_answer_within_timeout_ms_retries),
        RX_TEST(test_connection_closed_without_an_answer_retries),
        RX_TEST(test_refused_connection_retries),
        RX_TEST(test_credentials_in_the_url_stay_out_of_errors),
        RX_TEST(test_first_undelivered_record_stops_the_write_and_later_ones_get_its_outcome),
        RX_TEST(test_many_requests_share_one_kept_alive_connection),
        RX_TEST(test_after_a_dropped_connection_the_next_write_connects_again),
        RX_TEST(test_batches_hold_max_records_in_order_as_a_json_array),
        RX_TEST(test_batches_split_before_max_bytes_and_send_a_larger_record_alone),
        RX_TEST(test_batches_split_where_the_url_changes),
        RX_TEST(test_an_undelivered_batch_gives_its_outcome_to_its_records_and_all_later_ones),
        RX_TEST(test_one_record_per_request_by_default_and_max_delay_is_exposed),
        RX_TEST(test_cancel_aborts_a_hanging_request_quickly),
        RX_TEST(test_cancel_before_write_sends_nothing),
        cmocka_unit_test(test_create_refuses_an_unreadable_ca_file),
        RX_TEST(test_the_request_head_names_the_host_the_length_and_the_path_with_its_query),
        RX_TEST(test_a_url_without_a_path_asks_for_the_root),
        RX_TEST(test_credentials_in_the_url_go_as_basic_authentication),
        RX_TEST(test_default_headers_cannot_change_how_the_request_is_framed),
        RX_TEST(test_an_interim_answer_is_skipped_for_the_final_one),
        RX_TEST(test_a_chunked_answer_is_read_and_the_connection_kept),
        RX_TEST(test_an_answer_ended_by_closing_is_read_and_the_next_write_connects_again),
        RX_TEST(test_an_answer_that_is_not_http_retries),
        RX_TEST(test_a_connection_closed_in_the_middle_of_an_answer_retries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
