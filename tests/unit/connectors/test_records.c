/* test_records.c: what a sink receives for an event of the log (spec §5):
 * the payload and the `esdb-*` headers, one header per top-level key of the
 * event's JSON metadata, and records that stay valid while more are added. */
#include "connector_test.h"

#include "connectors/records.h"
#include "util/codec.h"

#define CREATED_US INT64_C(1764085532123456)
#define CREATED_TEXT "2025-11-25T15:45:32.123456Z"

static const uint8_t event_id[16] = {0x0b, 0x8e, 0x7c, 0x52, 0x4c, 0x5f, 0x4d, 0x1e,
                                     0x9a, 0x53, 0x0c, 0x3b, 0x2d, 0x1e, 0x0f, 0x11};
#define EVENT_ID_TEXT "0b8e7c52-4c5f-4d1e-9a53-0c3b2d1e0f11"

static struct sl_event sample_event(void)
{
    struct sl_event ev = event_of("orders-1", "OrderPlaced");
    ev.position = 1234;
    ev.revision = 7;
    ev.created_us = CREATED_US;
    memcpy(ev.id, event_id, 16);
    ev.data = "{\"orderId\":\"o-1\",\"total\":12.5}";
    ev.data_len = strlen(ev.data);
    return ev;
}

/* The value of header `name` of `r`, or NULL; fails when it appears twice. */
static const char *header(const struct sl_sink_record *r, const char *name)
{
    const char *value = NULL;
    for (size_t i = 0; i < r->n_headers; i++) {
        if (strcmp(r->headers[i].name, name) != 0)
            continue;
        if (value != NULL)
            fail_msg("header %s appears twice", name);
        value = r->headers[i].value;
    }
    return value;
}

static size_t count_headers_with_prefix(const struct sl_sink_record *r, const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_headers; i++)
        n += strncmp(r->headers[i].name, prefix, strlen(prefix)) == 0;
    return n;
}

#define assert_header(r, name, want)                                                                         \
    do {                                                                                                     \
        const char *got_ = header((r), (name));                                                              \
        if (got_ == NULL)                                                                                    \
            fail_msg("header %s is missing", (name));                                                        \
        assert_string_equal(got_, (want));                                                                   \
    } while (0)

static bool is_uuid_text(const char *s)
{
    uint8_t id[16];
    return s != NULL && strlen(s) == 36 && sl_uuid_parse(s, 36, id);
}

static void test_record_has_every_esdb_header_with_the_event_values(void **state)
{
    (void)state;
    struct sl_record_batch b = {0};
    struct sl_event ev = sample_event();
    assert_true(sl_record_batch_add(&b, "orders-to-http", &ev, true));
    assert_int_equal(b.count, 1);
    const struct sl_sink_record *r = &b.records[0];

    assert_header(r, "esdb-connector-id", "orders-to-http");
    assert_true(is_uuid_text(header(r, "esdb-request-id")));
    const char *date = header(r, "esdb-request-date");
    assert_non_null(date);
    assert_int_equal(strlen(date), strlen(CREATED_TEXT));
    assert_true(strncmp(date, "20", 2) == 0 && date[10] == 'T' && date[strlen(date) - 1] == 'Z');
    assert_header(r, "esdb-record-id", EVENT_ID_TEXT);
    assert_header(r, "esdb-record-timestamp", CREATED_TEXT);
    assert_header(r, "esdb-record-stream-id", "orders-1");
    assert_header(r, "esdb-record-stream-revision", "7");
    assert_header(r, "esdb-record-log-position", "1234");
    assert_header(r, "esdb-record-schema-subject", "OrderPlaced");
    assert_header(r, "esdb-record-schema-type", "Json");
    assert_int_equal(count_headers_with_prefix(r, "esdb-record-headers-"), 0);
    sl_record_batch_free(&b);
}

static void test_record_fields_and_payload_equal_the_event(void **state)
{
    (void)state;
    struct sl_record_batch b = {0};
    struct sl_event ev = sample_event();
    assert_true(sl_record_batch_add(&b, "orders-to-http", &ev, true));
    const struct sl_sink_record *r = &b.records[0];
    assert_int_equal(r->position, 1234);
    assert_int_equal(r->revision, 7);
    assert_int_equal(r->created_us, CREATED_US);
    assert_string_equal(r->record_id, EVENT_ID_TEXT);
    assert_int_equal(r->stream_len, 8);
    assert_memory_equal(r->stream, "orders-1", 8);
    assert_int_equal(r->type_len, strlen("OrderPlaced"));
    assert_memory_equal(r->type, "OrderPlaced", r->type_len);
    assert_true(r->is_json);
    assert_string_equal(r->content_type, "application/json");
    assert_int_equal(r->payload_len, ev.data_len);
    assert_memory_equal(r->payload, ev.data, ev.data_len);
    assert_ptr_not_equal(r->payload, ev.data); /* a copy: it outlives the cursor's batch */
    sl_record_batch_free(&b);
}

static void test_binary_event_has_schema_type_bytes_and_its_exact_bytes(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {0x00, 0xff, 0x10, 0x00, 0x7f};
    struct sl_record_batch b = {0};
    struct sl_event ev = sample_event();
    ev.flags = 0;
    ev.data = bytes;
    ev.data_len = sizeof(bytes);
    assert_true(sl_record_batch_add(&b, "bin", &ev, true));
    const struct sl_sink_record *r = &b.records[0];
    assert_header(r, "esdb-record-schema-type", "Bytes");
    assert_false(r->is_json);
    assert_non_null(r->content_type);
    assert_string_not_equal(r->content_type, "application/json");
    assert_int_equal(r->payload_len, sizeof(bytes));
    assert_memory_equal(r->payload, bytes, sizeof(bytes));
    sl_record_batch_free(&b);
}

static void test_stream_and_type_are_taken_by_length_not_up_to_a_nul(void **state)
{
    (void)state;
    static const char names[] = "orders-1XXXXOrderPlacedYYYY";
    struct sl_record_batch b = {0};
    struct sl_event ev = sample_event();
    ev.stream = names;
    ev.stream_len = 8;
    ev.type = names + 12;
    ev.type_len = 11;
    assert_true(sl_record_batch_add(&b, "c-12345", &ev, true));
    const struct sl_sink_record *r = &b.records[0];
    assert_header(r, "esdb-record-stream-id", "orders-1");
    assert_header(r, "esdb-record-schema-subject", "OrderPlaced");
    assert_int_equal(r->stream_len, 8);
    assert_memory_equal(r->stream, "orders-1", 8);
    assert_int_equal(r->type_len, 11);
    assert_memory_equal(r->type, "OrderPlaced", 11);
    sl_record_batch_free(&b);
}

static const char sample_metadata[] =
    "{\"$correlationId\":\"c-9\",\"$causationId\":\"c-8\",\"tenant\":\"acme\","
    "\"priority\":3,\"tags\":[\"a\",\"b\"],\"nested\":{\"k\":true},"
    "\"flag\":false,\"nothing\":null}";

static struct sl_event event_with_metadata(void)
{
    struct sl_event ev = sample_event();
    ev.flags |= SL_EVENT_META_IS_JSON;
    ev.metadata = sample_metadata;
    ev.metadata_len = strlen(sample_metadata);
    return ev;
}

static void test_each_metadata_key_becomes_a_header_and_system_keys_are_dropped(void **state)
{
    (void)state;
    struct sl_record_batch b = {0};
    struct sl_event ev = event_with_metadata();
    assert_true(sl_record_batch_add(&b, "orders-to-http", &ev, true));
    const struct sl_sink_record *r = &b.records[0];
    assert_header(r, "esdb-record-headers-tenant", "acme");
    assert_header(r, "esdb-record-headers-priority", "3");
    assert_header(r, "esdb-record-headers-tags", "[\"a\",\"b\"]");
    assert_header(r, "esdb-record-headers-nested", "{\"k\":true}");
    assert_header(r, "esdb-record-headers-flag", "false");
    assert_header(r, "esdb-record-headers-nothing", "null");
    assert_null(header(r, "esdb-record-headers-$correlationId"));
    assert_null(header(r, "esdb-record-headers-$causationId"));
    assert_int_equal(count_headers_with_prefix(r, "esdb-record-headers-"), 6);
    sl_record_batch_free(&b);
}

static void test_system_metadata_keys_are_kept_when_not_ignored(void **state)
{
    (void)state;
    struct sl_record_batch b = {0};
    struct sl_event ev = event_with_metadata();
    assert_true(sl_record_batch_add(&b, "orders-to-http", &ev, false));
    const struct sl_sink_record *r = &b.records[0];
    assert_header(r, "esdb-record-headers-$correlationId", "c-9");
    assert_header(r, "esdb-record-headers-$causationId", "c-8");
    assert_header(r, "esdb-record-headers-tenant", "acme");
    assert_int_equal(count_headers_with_prefix(r, "esdb-record-headers-"), 8);
    sl_record_batch_free(&b);
}

static void test_metadata_that_is_not_a_json_object_adds_no_header(void **state)
{
    (void)state;
    static const char *const metadata[] = {"not json at all", "[1,2]", "\"text\"", "42"};
    for (size_t i = 0; i < ARRAY_LEN(metadata); i++) {
        struct sl_record_batch b = {0};
        struct sl_event ev = sample_event();
        if (i > 0)
            ev.flags |= SL_EVENT_META_IS_JSON;
        ev.metadata = metadata[i];
        ev.metadata_len = strlen(metadata[i]);
        assert_true(sl_record_batch_add(&b, "c-12345", &ev, true));
        assert_int_equal(count_headers_with_prefix(&b.records[0], "esdb-record-headers-"), 0);
        assert_non_null(header(&b.records[0], "esdb-record-id"));
        sl_record_batch_free(&b);
    }
}

/* Event i of the growth test: its own stream, type, data and id. */
static void numbered_event(struct sl_event *ev, char stream[32], char data[64], size_t i)
{
    snprintf(stream, 32, "orders-%zu", i);
    snprintf(data, 64, "{\"n\":%zu}", i);
    *ev = event_of(stream, "OrderPlaced");
    ev->position = 100 + i;
    ev->revision = (int64_t)i;
    ev->data = data;
    ev->data_len = strlen(data);
    memcpy(ev->id, event_id, 16);
    ev->id[15] = (uint8_t)i;
}

static void test_records_stay_valid_while_more_are_added(void **state)
{
    (void)state;
    enum { N = 300 };
    struct sl_record_batch b = {0};
    struct {
        const char *record_id, *stream, *payload;
        size_t stream_len;
        const struct sl_header *headers;
        size_t n_headers;
    } first[3];
    for (size_t i = 0; i < N; i++) {
        char stream[32], data[64];
        struct sl_event ev;
        numbered_event(&ev, stream, data, i);
        assert_true(sl_record_batch_add(&b, "orders-to-http", &ev, true));
        if (i < ARRAY_LEN(first)) {
            const struct sl_sink_record *r = &b.records[i];
            first[i].record_id = r->record_id;
            first[i].stream = r->stream;
            first[i].stream_len = r->stream_len;
            first[i].payload = r->payload;
            first[i].headers = r->headers;
            first[i].n_headers = r->n_headers;
        }
        /* Overwrite the source: the records must hold copies. */
        memset(stream, 'x', sizeof(stream) - 1);
        memset(data, 'y', sizeof(data) - 1);
    }
    assert_int_equal(b.count, N);
    /* What the early records pointed to before the batch grew is still theirs. */
    for (size_t i = 0; i < ARRAY_LEN(first); i++) {
        char stream[32], data[64];
        snprintf(stream, sizeof(stream), "orders-%zu", i);
        snprintf(data, sizeof(data), "{\"n\":%zu}", i);
        assert_int_equal(first[i].stream_len, strlen(stream));
        assert_memory_equal(first[i].stream, stream, strlen(stream));
        assert_memory_equal(first[i].payload, data, strlen(data));
        assert_int_equal(strlen(first[i].record_id), 36);
        assert_ptr_equal(b.records[i].headers, first[i].headers);
        assert_ptr_equal(b.records[i].payload, first[i].payload);
        struct sl_sink_record copy = b.records[i];
        copy.headers = first[i].headers;
        copy.n_headers = first[i].n_headers;
        assert_string_equal(header(&copy, "esdb-record-stream-id"), stream);
    }
    /* And every record still says what its event said. */
    for (size_t i = 0; i < N; i++) {
        char stream[32], position[32];
        snprintf(stream, sizeof(stream), "orders-%zu", i);
        snprintf(position, sizeof(position), "%zu", 100 + i);
        const struct sl_sink_record *r = &b.records[i];
        assert_int_equal(r->position, 100 + i);
        assert_int_equal(r->stream_len, strlen(stream));
        assert_memory_equal(r->stream, stream, strlen(stream));
        assert_header(r, "esdb-record-stream-id", stream);
        assert_header(r, "esdb-record-log-position", position);
    }
    sl_record_batch_free(&b);
}

static void test_reset_batch_is_reused_for_new_records(void **state)
{
    (void)state;
    struct sl_record_batch b = {0};
    for (size_t round = 0; round < 3; round++) {
        sl_record_batch_reset(&b);
        assert_int_equal(b.count, 0);
        for (size_t i = 0; i < 5; i++) {
            char stream[32], data[64];
            struct sl_event ev;
            numbered_event(&ev, stream, data, round * 10 + i);
            assert_true(sl_record_batch_add(&b, "orders-to-http", &ev, true));
        }
        assert_int_equal(b.count, 5);
        for (size_t i = 0; i < 5; i++) {
            char stream[32];
            snprintf(stream, sizeof(stream), "orders-%zu", round * 10 + i);
            assert_memory_equal(b.records[i].stream, stream, strlen(stream));
            assert_header(&b.records[i], "esdb-record-stream-id", stream);
            assert_int_equal(count_headers_with_prefix(&b.records[i], "esdb-"), 10);
        }
    }
    sl_record_batch_free(&b);
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_request_ids_are_distinct_version_4_uuids_across_batches(void **state)
{
    (void)state;
    enum { N = 400 };
    static char ids[2 * N][37];
    const char *sorted[2 * N];
    for (size_t round = 0; round < 2; round++) {
        /* A second batch from zero: its own generator, seeded on first use. */
        struct sl_record_batch b = {0};
        for (size_t i = 0; i < N; i++) {
            struct sl_event ev = sample_event();
            assert_true(sl_record_batch_add(&b, "orders-to-http", &ev, true));
        }
        for (size_t i = 0; i < N; i++) {
            const char *id = header(&b.records[i], "esdb-request-id");
            assert_true(is_uuid_text(id));
            assert_int_equal(id[14], '4');
            assert_non_null(strchr("89ab", id[19]));
            snprintf(ids[round * N + i], 37, "%s", id);
            sorted[round * N + i] = ids[round * N + i];
        }
        sl_record_batch_free(&b);
    }
    qsort(sorted, 2 * N, sizeof(sorted[0]), by_text);
    for (size_t i = 1; i < 2 * N; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            fail_msg("request id %s was made twice", sorted[i]);
}

static void test_record_timestamp_follows_each_event_across_seconds(void **state)
{
    (void)state;
    /* Events a third of a second apart, around a second's edge and before the epoch. */
    const int64_t starts[] = {CREATED_US, INT64_C(-1500000), 0};
    struct sl_record_batch b = {0};
    for (size_t s = 0; s < ARRAY_LEN(starts); s++) {
        for (int64_t i = 0; i < 12; i++) {
            struct sl_event ev = sample_event();
            ev.created_us = starts[s] + i * 333333;
            assert_true(sl_record_batch_add(&b, "orders-to-http", &ev, true));
            char want[32];
            sl_format_rfc3339_us(ev.created_us, want);
            assert_header(&b.records[b.count - 1], "esdb-record-timestamp", want);
        }
    }
    sl_record_batch_free(&b);
}

static void test_request_date_is_the_time_the_record_was_made(void **state)
{
    (void)state;
    struct sl_record_batch b = {0};
    char before[32], after[32];
    sl_format_rfc3339_us(sl_now_us(), before);
    for (int i = 0; i < 3; i++) {
        struct sl_event ev = sample_event();
        assert_true(sl_record_batch_add(&b, "orders-to-http", &ev, true));
    }
    sl_format_rfc3339_us(sl_now_us(), after);
    for (size_t i = 0; i < b.count; i++) {
        const char *date = header(&b.records[i], "esdb-request-date");
        assert_non_null(date);
        assert_int_equal(strlen(date), strlen(CREATED_TEXT));
        /* RFC 3339 texts of one length sort as their times do. */
        assert_true(strcmp(before, date) <= 0 && strcmp(date, after) <= 0);
    }
    sl_record_batch_free(&b);
}

static void test_revision_and_position_headers_cover_their_whole_range(void **state)
{
    (void)state;
    static const struct {
        int64_t revision;
        uint64_t position;
        const char *revision_text, *position_text;
    } cases[] = {
        {0, 0, "0", "0"},
        {9, 10, "9", "10"},
        {INT64_MAX, UINT64_MAX, "9223372036854775807", "18446744073709551615"},
        {-1, 1, "-1", "1"},
        {INT64_MIN, 1000000, "-9223372036854775808", "1000000"},
    };
    struct sl_record_batch b = {0};
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct sl_event ev = sample_event();
        ev.revision = cases[i].revision;
        ev.position = cases[i].position;
        assert_true(sl_record_batch_add(&b, "orders-to-http", &ev, true));
        assert_header(&b.records[i], "esdb-record-stream-revision", cases[i].revision_text);
        assert_header(&b.records[i], "esdb-record-log-position", cases[i].position_text);
    }
    sl_record_batch_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_has_every_esdb_header_with_the_event_values),
        cmocka_unit_test(test_record_fields_and_payload_equal_the_event),
        cmocka_unit_test(test_binary_event_has_schema_type_bytes_and_its_exact_bytes),
        cmocka_unit_test(test_stream_and_type_are_taken_by_length_not_up_to_a_nul),
        cmocka_unit_test(test_each_metadata_key_becomes_a_header_and_system_keys_are_dropped),
        cmocka_unit_test(test_system_metadata_keys_are_kept_when_not_ignored),
        cmocka_unit_test(test_metadata_that_is_not_a_json_object_adds_no_header),
        cmocka_unit_test(test_records_stay_valid_while_more_are_added),
        cmocka_unit_test(test_reset_batch_is_reused_for_new_records),
        cmocka_unit_test(test_request_ids_are_distinct_version_4_uuids_across_batches),
        cmocka_unit_test(test_record_timestamp_follows_each_event_across_seconds),
        cmocka_unit_test(test_request_date_is_the_time_the_record_was_made),
        cmocka_unit_test(test_revision_and_position_headers_cover_their_whole_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
