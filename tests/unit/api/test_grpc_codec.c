/* test_grpc_codec.c: the gRPC messages sluice sends are complete, with every chosen
 * oneof member on the wire, and the requests clients send decode into what they meant. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/grpc_codec.h"
#include "serverfeatures.pb-c.h"
#include "streams.pb-c.h"
#include "util/codec.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

typedef EventStore__Client__Streams__ReadResp ReadResp;
typedef EventStore__Client__Streams__ReadResp__ReadEvent__RecordedEvent RecordedEvent;
typedef EventStore__Client__Streams__AppendResp AppendResp;

static const char *const TEST_ID = "00112233-4455-6677-8899-aabbccddeeff";

/* ---- helpers ---- */

static const char *metadata_value(const RecordedEvent *rec, const char *key)
{
    for (size_t i = 0; i < rec->n_metadata; i++)
        if (strcmp(rec->metadata[i]->key, key) == 0)
            return rec->metadata[i]->value;
    return NULL;
}

static struct sl_event test_event(uint8_t id[16])
{
    assert_true(sl_uuid_parse(TEST_ID, strlen(TEST_ID), id));
    struct sl_event ev = {
        .position = 42,
        .revision = 7,
        .created_us = 1700000000123456,
        .flags = SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON,
        .stream = "orders-1",
        .stream_len = 8,
        .type = "order-placed",
        .type_len = 12,
        .data = "{\"n\":1}",
        .data_len = 7,
        .metadata = "\x00\x01\x02",
        .metadata_len = 3,
    };
    memcpy(ev.id, id, 16);
    return ev;
}

static void expect_bytes(const struct sl_buf *b, const uint8_t *expected, size_t len)
{
    if (b->len != len || memcmp(b->data, expected, len) != 0) {
        char got[256] = "";
        for (size_t i = 0; i < b->len && i < 60; i++)
            snprintf(got + strlen(got), sizeof(got) - strlen(got), "%02x ", (uint8_t)b->data[i]);
        fail_msg("encoded %zu bytes: %s", b->len, got);
    }
}

/* Packs any protobuf-c message into a malloc'd buffer. */
static uint8_t *packed(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(*len ? *len : 1);
    assert_non_null(buf);
    protobuf_c_message_pack(m, buf);
    return buf;
}

/* ---- plain values ---- */

static void test_created_is_ticks_of_100ns_since_the_unix_epoch(void **state)
{
    (void)state;
    assert_int_equal(sl_grpc_ticks_from_us(0), 0);
    assert_int_equal(sl_grpc_ticks_from_us(1), 10);
    assert_int_equal(sl_grpc_ticks_from_us(1700000000123456), 17000000001234560);
    assert_int_equal(sl_grpc_ticks_from_us(INT64_MAX), INT64_MAX); /* saturates, never wraps */
}

static void test_expectations_have_kurrentdb_numbers(void **state)
{
    (void)state;
    struct sl_expected any = {SL_EXPECT_ANY, 0}, none = {SL_EXPECT_NO_STREAM, 0},
                       exists = {SL_EXPECT_EXISTS, 0}, rev = {SL_EXPECT_REVISION, 5};
    assert_int_equal(sl_grpc_expected_number(&any), -2);
    assert_int_equal(sl_grpc_expected_number(&none), -1);
    assert_int_equal(sl_grpc_expected_number(&exists), -4);
    assert_int_equal(sl_grpc_expected_number(&rev), 5);
}

static void test_structured_uuid_halves_are_big_endian(void **state)
{
    (void)state;
    uint8_t id[16], back[16];
    assert_true(sl_uuid_parse(TEST_ID, strlen(TEST_ID), id));
    int64_t most, least;
    sl_grpc_uuid_halves(id, &most, &least);
    assert_int_equal((uint64_t)most, 0x0011223344556677ull);
    assert_int_equal((uint64_t)least, 0x8899aabbccddeeffull);
    sl_grpc_uuid_from_halves(most, least, back);
    assert_memory_equal(id, back, 16);
}

/* ---- ReadResp ---- */

static void test_event_message_sets_every_recorded_event_field(void **state)
{
    (void)state;
    uint8_t id[16];
    struct sl_event ev = test_event(id);
    struct sl_buf b;
    sl_buf_init(&b);
    assert_true(sl_grpc_encode_event(&b, &ev, false));
    ReadResp *r = event_store__client__streams__read_resp__unpack(NULL, b.len, (uint8_t *)b.data);
    assert_non_null(r);
    assert_int_equal(r->content_case, EVENT_STORE__CLIENT__STREAMS__READ_RESP__CONTENT_EVENT);
    assert_int_equal(r->event->position_case,
                     EVENT_STORE__CLIENT__STREAMS__READ_RESP__READ_EVENT__POSITION_COMMIT_POSITION);
    assert_int_equal(r->event->commit_position, 42);
    assert_null(r->event->link);
    RecordedEvent *rec = r->event->event;
    assert_non_null(rec);
    assert_non_null(rec->id);
    assert_int_equal(rec->id->value_case, EVENT_STORE__CLIENT__UUID__VALUE_STRING);
    assert_string_equal(rec->id->string, TEST_ID);
    assert_non_null(rec->stream_identifier);
    assert_int_equal(rec->stream_identifier->stream_name.len, 8);
    assert_memory_equal(rec->stream_identifier->stream_name.data, "orders-1", 8);
    assert_int_equal(rec->stream_revision, 7);
    assert_int_equal(rec->prepare_position, 42);
    assert_int_equal(rec->commit_position, 42);
    assert_int_equal(rec->n_metadata, 3);
    assert_string_equal(metadata_value(rec, "type"), "order-placed");
    assert_string_equal(metadata_value(rec, "created"), "17000000001234560");
    assert_string_equal(metadata_value(rec, "content-type"), "application/json");
    assert_int_equal(rec->data.len, 7);
    assert_memory_equal(rec->data.data, "{\"n\":1}", 7);
    assert_int_equal(rec->custom_metadata.len, 3);
    assert_memory_equal(rec->custom_metadata.data, "\x00\x01\x02", 3);
    event_store__client__streams__read_resp__free_unpacked(r, NULL);
    sl_buf_free(&b);
}

static void test_event_message_gives_structured_ids_and_binary_content_type_when_asked(void **state)
{
    (void)state;
    uint8_t id[16];
    struct sl_event ev = test_event(id);
    ev.flags = 0;
    ev.revision = 0;
    struct sl_buf b;
    sl_buf_init(&b);
    assert_true(sl_grpc_encode_event(&b, &ev, true));
    ReadResp *r = event_store__client__streams__read_resp__unpack(NULL, b.len, (uint8_t *)b.data);
    assert_non_null(r);
    RecordedEvent *rec = r->event->event;
    assert_int_equal(rec->id->value_case, EVENT_STORE__CLIENT__UUID__VALUE_STRUCTURED);
    assert_int_equal((uint64_t)rec->id->structured->most_significant_bits, 0x0011223344556677ull);
    assert_int_equal((uint64_t)rec->id->structured->least_significant_bits, 0x8899aabbccddeeffull);
    assert_int_equal(rec->stream_revision, 0);
    assert_string_equal(metadata_value(rec, "content-type"), "application/octet-stream");
    event_store__client__streams__read_resp__free_unpacked(r, NULL);
    sl_buf_free(&b);
}

static void test_event_message_copes_with_a_long_event_type(void **state)
{
    (void)state;
    uint8_t id[16];
    struct sl_event ev = test_event(id);
    char type[1000];
    memset(type, 't', sizeof(type));
    ev.type = type;
    ev.type_len = sizeof(type);
    struct sl_buf b;
    sl_buf_init(&b);
    assert_true(sl_grpc_encode_event(&b, &ev, false));
    ReadResp *r = event_store__client__streams__read_resp__unpack(NULL, b.len, (uint8_t *)b.data);
    assert_non_null(r);
    assert_int_equal(strlen(metadata_value(r->event->event, "type")), sizeof(type));
    event_store__client__streams__read_resp__free_unpacked(r, NULL);
    sl_buf_free(&b);
}

static void test_resolved_link_carries_target_link_and_the_link_position(void **state)
{
    (void)state;
    uint8_t id[16];
    struct sl_event target = test_event(id);
    struct sl_event link = test_event(id);
    link.stream = "$ce-orders";
    link.stream_len = 10;
    link.type = "$>";
    link.type_len = 2;
    link.data = "7@orders-1";
    link.data_len = 10;
    link.position = 99;
    link.revision = 3;
    struct sl_buf b;
    sl_buf_init(&b);
    assert_true(sl_grpc_encode_resolved(&b, &target, &link, false));
    ReadResp *r = event_store__client__streams__read_resp__unpack(NULL, b.len, (uint8_t *)b.data);
    assert_non_null(r);
    assert_int_equal(r->event->commit_position, 99);
    assert_int_equal(r->event->event->stream_revision, 7);
    assert_string_equal(metadata_value(r->event->event, "type"), "order-placed");
    assert_non_null(r->event->link);
    assert_int_equal(r->event->link->stream_revision, 3);
    assert_string_equal(metadata_value(r->event->link, "type"), "$>");
    assert_non_null(r->event->link->id);
    event_store__client__streams__read_resp__free_unpacked(r, NULL);
    sl_buf_free(&b);
}

static void test_link_data_is_revision_at_stream(void **state)
{
    (void)state;
    int64_t rev;
    const char *stream;
    size_t len;
    assert_true(sl_grpc_parse_link("12@orders-1", 11, &rev, &stream, &len));
    assert_int_equal(rev, 12);
    assert_int_equal(len, 8);
    assert_memory_equal(stream, "orders-1", 8);
    assert_true(sl_grpc_parse_link("0@a@b", 5, &rev, &stream, &len)); /* the first @ splits */
    assert_int_equal(len, 3);
    assert_false(sl_grpc_parse_link("@orders", 7, &rev, &stream, &len));
    assert_false(sl_grpc_parse_link("12@", 3, &rev, &stream, &len));
    assert_false(sl_grpc_parse_link("x@orders", 8, &rev, &stream, &len));
    assert_false(sl_grpc_parse_link("", 0, &rev, &stream, &len));
    assert_false(sl_grpc_parse_link(NULL, 0, &rev, &stream, &len));
}

static void test_caught_up_sends_revision_zero_and_leaves_out_what_is_unknown(void **state)
{
    (void)state;
    struct sl_buf b;
    sl_buf_init(&b);
    assert_true(sl_grpc_encode_caught_up(&b, 1700000000123456, 0, 0));
    ReadResp *r = event_store__client__streams__read_resp__unpack(NULL, b.len, (uint8_t *)b.data);
    assert_int_equal(r->content_case, EVENT_STORE__CLIENT__STREAMS__READ_RESP__CONTENT_CAUGHT_UP);
    assert_int_equal(
        r->caught_up->stream_revision_option_case,
        EVENT_STORE__CLIENT__STREAMS__READ_RESP__CAUGHT_UP__STREAM_REVISION_OPTION_STREAM_REVISION);
    assert_int_equal(r->caught_up->stream_revision, 0);
    assert_int_equal(r->caught_up->position_option_case,
                     EVENT_STORE__CLIENT__STREAMS__READ_RESP__CAUGHT_UP__POSITION_OPTION__NOT_SET);
    assert_int_equal(r->caught_up->timestamp->seconds, 1700000000);
    assert_int_equal(r->caught_up->timestamp->nanos, 123456000);
    event_store__client__streams__read_resp__free_unpacked(r, NULL);

    assert_true(sl_grpc_encode_caught_up(&b, 1, -1, 9));
    r = event_store__client__streams__read_resp__unpack(NULL, b.len, (uint8_t *)b.data);
    assert_int_equal(r->caught_up->stream_revision_option_case,
                     EVENT_STORE__CLIENT__STREAMS__READ_RESP__CAUGHT_UP__STREAM_REVISION_OPTION__NOT_SET);
    assert_int_equal(r->caught_up->position_option_case,
                     EVENT_STORE__CLIENT__STREAMS__READ_RESP__CAUGHT_UP__POSITION_OPTION_POSITION);
    assert_int_equal(r->caught_up->position->commit_position, 9);
    assert_int_equal(r->caught_up->position->prepare_position, 9);
    event_store__client__streams__read_resp__free_unpacked(r, NULL);

    /* An empty log: neither. The timestamp is always there. */
    assert_true(sl_grpc_encode_caught_up(&b, 1, -1, 0));
    r = event_store__client__streams__read_resp__unpack(NULL, b.len, (uint8_t *)b.data);
    assert_int_equal(r->caught_up->stream_revision_option_case,
                     EVENT_STORE__CLIENT__STREAMS__READ_RESP__CAUGHT_UP__STREAM_REVISION_OPTION__NOT_SET);
    assert_int_equal(r->caught_up->position_option_case,
                     EVENT_STORE__CLIENT__STREAMS__READ_RESP__CAUGHT_UP__POSITION_OPTION__NOT_SET);
    assert_non_null(r->caught_up->timestamp);
    event_store__client__streams__read_resp__free_unpacked(r, NULL);
    sl_buf_free(&b);
}

static void test_checkpoint_confirmation_and_not_found_are_their_own_members(void **state)
{
    (void)state;
    struct sl_buf b;
    sl_buf_init(&b);
    assert_true(sl_grpc_encode_checkpoint(&b, 64, 2500000));
    ReadResp *r = event_store__client__streams__read_resp__unpack(NULL, b.len, (uint8_t *)b.data);
    assert_int_equal(r->content_case, EVENT_STORE__CLIENT__STREAMS__READ_RESP__CONTENT_CHECKPOINT);
    assert_int_equal(r->checkpoint->commit_position, 64);
    assert_int_equal(r->checkpoint->prepare_position, 64);
    assert_int_equal(r->checkpoint->timestamp->seconds, 2);
    assert_int_equal(r->checkpoint->timestamp->nanos, 500000000);
    event_store__client__streams__read_resp__free_unpacked(r, NULL);

    /* A checkpoint at position 0 is still a checkpoint: an empty member on the wire. */
    assert_true(sl_grpc_encode_checkpoint(&b, 0, 0));
    r = event_store__client__streams__read_resp__unpack(NULL, b.len, (uint8_t *)b.data);
    assert_int_equal(r->content_case, EVENT_STORE__CLIENT__STREAMS__READ_RESP__CONTENT_CHECKPOINT);
    event_store__client__streams__read_resp__free_unpacked(r, NULL);

    assert_true(sl_grpc_encode_confirmation(&b, "sub-1"));
    r = event_store__client__streams__read_resp__unpack(NULL, b.len, (uint8_t *)b.data);
    assert_int_equal(r->content_case, EVENT_STORE__CLIENT__STREAMS__READ_RESP__CONTENT_CONFIRMATION);
    assert_string_equal(r->confirmation->subscription_id, "sub-1");
    event_store__client__streams__read_resp__free_unpacked(r, NULL);

    assert_true(sl_grpc_encode_stream_not_found(&b, "s1", 2));
    static const uint8_t not_found[] = {0x22, 0x06, 0x0a, 0x04, 0x1a, 0x02, 's', '1'};
    expect_bytes(&b, not_found, sizeof(not_found));
    sl_buf_free(&b);
}

/* ---- AppendResp, DeleteResp ---- */

static void test_append_success_encodes_empty_members(void **state)
{
    (void)state;
    struct sl_buf b;
    sl_buf_init(&b);
    /* success{ no_stream{}, no_position{} }: each empty member is tag + length 0. */
    assert_true(sl_grpc_encode_append_success(&b, -1, 0));
    static const uint8_t empty_members[] = {0x0a, 0x04, 0x12, 0x00, 0x22, 0x00};
    expect_bytes(&b, empty_members, sizeof(empty_members));

    /* Revision 0 is a value, not "no stream". */
    assert_true(sl_grpc_encode_append_success(&b, 0, 5));
    AppendResp *r = event_store__client__streams__append_resp__unpack(NULL, b.len, (uint8_t *)b.data);
    assert_int_equal(r->result_case, EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__RESULT_SUCCESS);
    assert_int_equal(
        r->success->current_revision_option_case,
        EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__SUCCESS__CURRENT_REVISION_OPTION_CURRENT_REVISION);
    assert_int_equal(r->success->current_revision, 0);
    assert_int_equal(r->success->position_option_case,
                     EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__SUCCESS__POSITION_OPTION_POSITION);
    assert_int_equal(r->success->position->commit_position, 5);
    assert_int_equal(r->success->position->prepare_position, 5);
    event_store__client__streams__append_resp__free_unpacked(r, NULL);
    sl_buf_free(&b);
}

static void test_wrong_expected_version_uses_the_current_fields(void **state)
{
    (void)state;
    static const struct {
        struct sl_expected expected;
        int64_t actual;
        int expected_case;
        int current_case;
    } cases[] = {
        {{SL_EXPECT_NO_STREAM, 0},
         3,
         EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__EXPECTED_REVISION_OPTION_EXPECTED_NO_STREAM,
         EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__CURRENT_REVISION_OPTION_CURRENT_REVISION},
        {{SL_EXPECT_EXISTS, 0},
         -1,
         EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__EXPECTED_REVISION_OPTION_EXPECTED_STREAM_EXISTS,
         EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__CURRENT_REVISION_OPTION_CURRENT_NO_STREAM},
        {{SL_EXPECT_ANY, 0},
         0,
         EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__EXPECTED_REVISION_OPTION_EXPECTED_ANY,
         EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__CURRENT_REVISION_OPTION_CURRENT_REVISION},
        {{SL_EXPECT_REVISION, 0},
         -1,
         EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__EXPECTED_REVISION_OPTION_EXPECTED_REVISION,
         EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__CURRENT_REVISION_OPTION_CURRENT_NO_STREAM},
    };
    struct sl_buf b;
    sl_buf_init(&b);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        assert_true(sl_grpc_encode_append_wrong_version(&b, &cases[i].expected, cases[i].actual));
        AppendResp *r = event_store__client__streams__append_resp__unpack(NULL, b.len, (uint8_t *)b.data);
        assert_non_null(r);
        assert_int_equal(r->result_case,
                         EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__RESULT_WRONG_EXPECTED_VERSION);
        EventStore__Client__Streams__AppendResp__WrongExpectedVersion *w = r->wrong_expected_version;
        assert_int_equal(w->expected_revision_option_case, cases[i].expected_case);
        assert_int_equal(w->current_revision_option_case, cases[i].current_case);
        if (cases[i].actual >= 0)
            assert_int_equal(w->current_revision, cases[i].actual);
        if (cases[i].expected.kind == SL_EXPECT_REVISION)
            assert_int_equal(w->expected_revision, 0);
        event_store__client__streams__append_resp__free_unpacked(r, NULL);
    }
    sl_buf_free(&b);
}

static void test_delete_and_tombstone_replies_carry_a_position_or_no_position(void **state)
{
    (void)state;
    struct sl_buf b;
    sl_buf_init(&b);
    assert_true(sl_grpc_encode_delete(&b, false, 12));
    EventStore__Client__Streams__DeleteResp *d =
        event_store__client__streams__delete_resp__unpack(NULL, b.len, (uint8_t *)b.data);
    assert_int_equal(d->position_option_case,
                     EVENT_STORE__CLIENT__STREAMS__DELETE_RESP__POSITION_OPTION_POSITION);
    assert_int_equal(d->position->commit_position, 12);
    assert_int_equal(d->position->prepare_position, 12);
    event_store__client__streams__delete_resp__free_unpacked(d, NULL);

    assert_true(sl_grpc_encode_delete(&b, true, 0));
    static const uint8_t no_position[] = {0x12, 0x00};
    expect_bytes(&b, no_position, sizeof(no_position));
    sl_buf_free(&b);
}

/* ---- SupportedMethods, BatchAppendResp ---- */

static void test_supported_methods_carry_the_version_and_features(void **state)
{
    (void)state;
    static const char *const features[] = {"position", "events", NULL};
    const struct sl_grpc_method methods[] = {{"read", "event_store.client.streams.streams", features},
                                             {"append", "event_store.client.streams.streams", NULL}};
    struct sl_buf b;
    sl_buf_init(&b);
    assert_true(sl_grpc_encode_supported_methods(&b, methods, 2, SL_GRPC_SERVER_VERSION));
    EventStore__Client__ServerFeatures__SupportedMethods *m =
        event_store__client__server_features__supported_methods__unpack(NULL, b.len, (uint8_t *)b.data);
    assert_non_null(m);
    assert_string_equal(m->event_store_server_version, "24.10.0");
    assert_int_equal(m->n_methods, 2);
    assert_string_equal(m->methods[0]->method_name, "read");
    assert_string_equal(m->methods[0]->service_name, "event_store.client.streams.streams");
    assert_int_equal(m->methods[0]->n_features, 2);
    assert_string_equal(m->methods[0]->features[1], "events");
    assert_int_equal(m->methods[1]->n_features, 0);
    event_store__client__server_features__supported_methods__free_unpacked(m, NULL);
    sl_buf_free(&b);
}

static void test_batch_replies_echo_the_append_and_pack_error_details(void **state)
{
    (void)state;
    uint8_t cid[16];
    assert_true(sl_uuid_parse(TEST_ID, strlen(TEST_ID), cid));
    struct sl_expected none = {SL_EXPECT_NO_STREAM, 0};
    struct sl_buf b;
    sl_buf_init(&b);

    assert_true(sl_grpc_encode_batch_success(&b, cid, "s1", 2, &none, 0, 3));
    EventStore__Client__Streams__BatchAppendResp *r =
        event_store__client__streams__batch_append_resp__unpack(NULL, b.len, (uint8_t *)b.data);
    assert_non_null(r);
    assert_string_equal(r->correlation_id->string, TEST_ID);
    assert_memory_equal(r->stream_identifier->stream_name.data, "s1", 2);
    assert_int_equal(r->expected_stream_position_case,
                     EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__EXPECTED_STREAM_POSITION_NO_STREAM);
    assert_int_equal(r->result_case, EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__RESULT_SUCCESS);
    assert_int_equal(
        r->success->current_revision_option_case,
        EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__SUCCESS__CURRENT_REVISION_OPTION_CURRENT_REVISION);
    assert_int_equal(r->success->position->commit_position, 3);
    event_store__client__streams__batch_append_resp__free_unpacked(r, NULL);

    struct sl_grpc_batch_error e = {.status = 9,
                                    .message = "wrong",
                                    .detail = SL_GRPC_DETAIL_WRONG_EXPECTED_VERSION,
                                    .actual_revision = 4};
    assert_true(sl_grpc_encode_batch_error(&b, cid, "s1", 2, &none, &e));
    r = event_store__client__streams__batch_append_resp__unpack(NULL, b.len, (uint8_t *)b.data);
    assert_non_null(r);
    assert_int_equal(r->result_case, EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__RESULT_ERROR);
    assert_non_null(r->stream_identifier);
    assert_int_equal(r->error->code, 9);
    assert_string_equal(r->error->details->type_url,
                        "type.googleapis.com/event_store.client.WrongExpectedVersion");
    EventStore__Client__WrongExpectedVersion *w = event_store__client__wrong_expected_version__unpack(
        NULL, r->error->details->value.len, r->error->details->value.data);
    assert_non_null(w);
    assert_int_equal(
        w->current_stream_revision_option_case,
        EVENT_STORE__CLIENT__WRONG_EXPECTED_VERSION__CURRENT_STREAM_REVISION_OPTION_CURRENT_STREAM_REVISION);
    assert_int_equal(w->current_stream_revision, 4);
    assert_int_equal(
        w->expected_stream_position_option_case,
        EVENT_STORE__CLIENT__WRONG_EXPECTED_VERSION__EXPECTED_STREAM_POSITION_OPTION_EXPECTED_NO_STREAM);
    event_store__client__wrong_expected_version__free_unpacked(w, NULL);
    event_store__client__streams__batch_append_resp__free_unpacked(r, NULL);
    sl_buf_free(&b);
}

/* ---- ReadReq ---- */

static void test_read_request_from_the_rust_client_decodes(void **state)
{
    (void)state;
    /* readStream("s1", {maxCount: 10}) as the Rust stack sends it. */
    static const uint8_t msg[] = {0x0a, 0x16, 0x0a, 0x08, 0x0a, 0x04, 0x1a, 0x02, 0x73, 0x31, 0x1a, 0x00,
                                  0x28, 0x0a, 0x42, 0x00, 0x4a, 0x02, 0x12, 0x00, 0x52, 0x02, 0x08, 0x01};
    struct sl_grpc_read_req r;
    struct sl_error err;
    assert_int_equal(sl_grpc_decode_read(msg, sizeof(msg), &r, &err), SL_OK);
    assert_false(r.is_all);
    assert_string_equal(r.stream, "s1");
    assert_int_equal(r.stream_len, 2);
    assert_int_equal(r.from, SL_GRPC_FROM_START);
    assert_false(r.backwards);
    assert_false(r.is_subscription);
    assert_int_equal(r.count, 10);
    assert_false(r.has_filter);
    assert_false(r.uuid_structured);
    sl_grpc_read_req_free(&r);
}

/* A stream read request built with protobuf-c; `revision` < 0 means `end`. */
static uint8_t *stream_read(int64_t revision, bool backwards, bool subscription, bool with_uuid, size_t *len)
{
    EventStore__Client__Empty empty = EVENT_STORE__CLIENT__EMPTY__INIT;
    EventStore__Client__StreamIdentifier sid = EVENT_STORE__CLIENT__STREAM_IDENTIFIER__INIT;
    sid.stream_name.data = (uint8_t *)"s1";
    sid.stream_name.len = 2;
    EventStore__Client__Streams__ReadReq__Options__StreamOptions so =
        EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__STREAM_OPTIONS__INIT;
    so.stream_identifier = &sid;
    if (revision >= 0) {
        so.revision_option_case =
            EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__STREAM_OPTIONS__REVISION_OPTION_REVISION;
        so.revision = (uint64_t)revision;
    } else {
        so.revision_option_case =
            EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__STREAM_OPTIONS__REVISION_OPTION_END;
        so.end = &empty;
    }
    EventStore__Client__Streams__ReadReq__Options__SubscriptionOptions sub =
        EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__SUBSCRIPTION_OPTIONS__INIT;
    EventStore__Client__Streams__ReadReq__Options__UUIDOption uuid =
        EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__UUIDOPTION__INIT;
    uuid.content_case = EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__UUIDOPTION__CONTENT_STRUCTURED;
    uuid.structured = &empty;
    EventStore__Client__Streams__ReadReq__Options o = EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__INIT;
    o.stream_option_case = EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__STREAM_OPTION_STREAM;
    o.stream = &so;
    o.read_direction = backwards ? EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__READ_DIRECTION__Backwards
                                 : EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__READ_DIRECTION__Forwards;
    if (subscription) {
        o.count_option_case = EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__COUNT_OPTION_SUBSCRIPTION;
        o.subscription = &sub;
    } else {
        o.count_option_case = EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__COUNT_OPTION_COUNT;
        o.count = 3;
    }
    o.filter_option_case = EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__FILTER_OPTION_NO_FILTER;
    o.no_filter = &empty;
    if (with_uuid)
        o.uuid_option = &uuid;
    EventStore__Client__Streams__ReadReq req = EVENT_STORE__CLIENT__STREAMS__READ_REQ__INIT;
    req.options = &o;
    return packed(&req.base, len);
}

static void test_read_request_tells_revision_zero_from_start_and_end(void **state)
{
    (void)state;
    size_t len;
    struct sl_grpc_read_req r;
    struct sl_error err;
    uint8_t *msg = stream_read(0, true, false, true, &len);
    assert_int_equal(sl_grpc_decode_read(msg, len, &r, &err), SL_OK);
    assert_int_equal(r.from, SL_GRPC_FROM_POINT);
    assert_int_equal(r.revision, 0);
    assert_true(r.backwards);
    assert_true(r.uuid_structured);
    sl_grpc_read_req_free(&r);
    free(msg);

    msg = stream_read(-1, false, true, true, &len);
    assert_int_equal(sl_grpc_decode_read(msg, len, &r, &err), SL_OK);
    assert_int_equal(r.from, SL_GRPC_FROM_END);
    assert_true(r.is_subscription);
    sl_grpc_read_req_free(&r);
    free(msg);
}

static void test_read_request_refuses_what_the_real_server_refuses(void **state)
{
    (void)state;
    size_t len;
    struct sl_grpc_read_req r;
    struct sl_error err;
    uint8_t *msg = stream_read(0, false, false, false, &len); /* no uuid_option */
    assert_int_equal(sl_grpc_decode_read(msg, len, &r, &err), SL_E_INVALID);
    assert_string_equal(err.field, "uuid_option");
    free(msg);

    msg = stream_read(0, true, true, true, &len); /* a subscription backwards */
    assert_int_equal(sl_grpc_decode_read(msg, len, &r, &err), SL_E_INVALID);
    free(msg);

    static const uint8_t garbage[] = {0x0a, 0x10, 0x0a};
    assert_int_equal(sl_grpc_decode_read(garbage, sizeof(garbage), &r, &err), SL_E_INVALID);
    assert_int_equal(sl_grpc_decode_read(NULL, 0, &r, &err), SL_E_INVALID); /* no options */

    /* A filter on a stream read. */
    static const uint8_t filtered_stream[] = {0x0a, 0x18, 0x0a, 0x08, 0x0a, 0x04, 0x1a, 0x02, 0x73,
                                              0x31, 0x1a, 0x00, 0x28, 0x01, 0x3a, 0x06, 0x12, 0x04,
                                              0x12, 0x02, 0x61, 0x62, 0x4a, 0x02, 0x12, 0x00};
    assert_int_equal(sl_grpc_decode_read(filtered_stream, sizeof(filtered_stream), &r, &err), SL_E_INVALID);
    assert_string_equal(err.field, "filter");
}

/* A $all request with a filter, as grpc-js sends for subscribeToAll. */
static uint8_t *all_read(bool by_type, const char *regex, char **prefixes, size_t n, bool has_max,
                         size_t *len)
{
    EventStore__Client__Empty empty = EVENT_STORE__CLIENT__EMPTY__INIT;
    EventStore__Client__Streams__ReadReq__Options__Position pos =
        EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__POSITION__INIT;
    pos.commit_position = pos.prepare_position = 17;
    EventStore__Client__Streams__ReadReq__Options__AllOptions ao =
        EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__ALL_OPTIONS__INIT;
    ao.all_option_case = EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__ALL_OPTIONS__ALL_OPTION_POSITION;
    ao.position = &pos;
    EventStore__Client__Streams__ReadReq__Options__FilterOptions__Expression e =
        EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__FILTER_OPTIONS__EXPRESSION__INIT;
    e.regex = (char *)(regex ? regex : "");
    e.n_prefix = n;
    e.prefix = prefixes;
    EventStore__Client__Streams__ReadReq__Options__FilterOptions f =
        EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__FILTER_OPTIONS__INIT;
    if (by_type) {
        f.filter_case = EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__FILTER_OPTIONS__FILTER_EVENT_TYPE;
        f.event_type = &e;
    } else {
        f.filter_case =
            EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__FILTER_OPTIONS__FILTER_STREAM_IDENTIFIER;
        f.stream_identifier = &e;
    }
    if (has_max) {
        f.window_case = EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__FILTER_OPTIONS__WINDOW_MAX;
        f.max = 5;
        f.checkpointintervalmultiplier = 2;
    } else {
        f.window_case = EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__FILTER_OPTIONS__WINDOW_COUNT;
        f.count = &empty;
    }
    EventStore__Client__Streams__ReadReq__Options__SubscriptionOptions sub =
        EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__SUBSCRIPTION_OPTIONS__INIT;
    EventStore__Client__Streams__ReadReq__Options__UUIDOption uuid =
        EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__UUIDOPTION__INIT;
    uuid.content_case = EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__UUIDOPTION__CONTENT_STRING;
    uuid.string = &empty;
    EventStore__Client__Streams__ReadReq__Options o = EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__INIT;
    o.stream_option_case = EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__STREAM_OPTION_ALL;
    o.all = &ao;
    o.count_option_case = EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__COUNT_OPTION_SUBSCRIPTION;
    o.subscription = &sub;
    o.filter_option_case = EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__FILTER_OPTION_FILTER;
    o.filter = &f;
    o.uuid_option = &uuid;
    EventStore__Client__Streams__ReadReq req = EVENT_STORE__CLIENT__STREAMS__READ_REQ__INIT;
    req.options = &o;
    return packed(&req.base, len);
}

static bool filter_takes(const struct sl_filter *f, const char *stream, const char *type)
{
    struct sl_event ev = {
        .stream = stream, .stream_len = strlen(stream), .type = type, .type_len = strlen(type)};
    return sl_filter_matches(f, &ev);
}

static void test_all_subscription_filters_decode_with_their_checkpoint_window(void **state)
{
    (void)state;
    size_t len;
    struct sl_grpc_read_req r;
    struct sl_error err;
    struct sl_filter *f;
    char *prefixes[] = {"order", "ship,ment"};

    uint8_t *msg = all_read(true, NULL, prefixes, 2, true, &len);
    assert_int_equal(sl_grpc_decode_read(msg, len, &r, &err), SL_OK);
    assert_true(r.is_all);
    assert_null(r.stream);
    assert_int_equal(r.from, SL_GRPC_FROM_POINT);
    assert_int_equal(r.position, 17);
    assert_true(r.is_subscription);
    assert_true(r.has_filter);
    assert_int_equal(r.filter_on, SL_FILTER_TYPE);
    assert_null(r.regex);
    assert_int_equal(r.n_prefixes, 2);
    assert_int_equal(r.checkpoint_window, 5);
    assert_int_equal(r.checkpoint_multiplier, 2);
    assert_true(sl_grpc_read_filter(&r, &f, &err));
    assert_true(filter_takes(f, "x", "order-placed"));
    assert_true(filter_takes(f, "x", "ship,ment-sent")); /* a prefix is taken whole, commas included */
    assert_false(filter_takes(f, "order-1", "ship"));
    sl_filter_free(f);
    sl_grpc_read_req_free(&r);
    free(msg);

    msg = all_read(false, "^acc.*-[0-9]+$", NULL, 0, false, &len);
    assert_int_equal(sl_grpc_decode_read(msg, len, &r, &err), SL_OK);
    assert_int_equal(r.filter_on, SL_FILTER_STREAM);
    assert_string_equal(r.regex, "^acc.*-[0-9]+$");
    assert_int_equal(r.checkpoint_window, SL_GRPC_DEFAULT_CHECKPOINT_WINDOW);
    assert_int_equal(r.checkpoint_multiplier, 1);
    assert_true(sl_grpc_read_filter(&r, &f, &err));
    assert_true(filter_takes(f, "account-12", "t"));
    assert_false(filter_takes(f, "account-x", "t"));
    sl_filter_free(f);
    sl_grpc_read_req_free(&r);
    free(msg);

    msg = all_read(false, "(unclosed", NULL, 0, false, &len);
    assert_int_equal(sl_grpc_decode_read(msg, len, &r, &err), SL_OK);
    assert_false(sl_grpc_read_filter(&r, &f, &err)); /* a bad regex fails when the filter is built */
    assert_int_equal(err.code, SL_E_INVALID);
    sl_grpc_read_req_free(&r);
    free(msg);

    msg = all_read(false, NULL, NULL, 0, false, &len); /* neither regex nor prefix */
    assert_int_equal(sl_grpc_decode_read(msg, len, &r, &err), SL_E_INVALID);
    free(msg);
}

/* ---- AppendReq, DeleteReq, BatchAppendReq ---- */

static uint8_t *append_options(int which, uint64_t revision, size_t *len)
{
    EventStore__Client__Empty empty = EVENT_STORE__CLIENT__EMPTY__INIT;
    EventStore__Client__StreamIdentifier sid = EVENT_STORE__CLIENT__STREAM_IDENTIFIER__INIT;
    sid.stream_name.data = (uint8_t *)"orders";
    sid.stream_name.len = 6;
    EventStore__Client__Streams__AppendReq__Options o =
        EVENT_STORE__CLIENT__STREAMS__APPEND_REQ__OPTIONS__INIT;
    o.stream_identifier = &sid;
    o.expected_stream_revision_case = which;
    switch (which) {
    case 2:
        o.revision = revision;
        break;
    case 3:
        o.no_stream = &empty;
        break;
    case 4:
        o.any = &empty;
        break;
    case 5:
        o.stream_exists = &empty;
        break;
    }
    EventStore__Client__Streams__AppendReq req = EVENT_STORE__CLIENT__STREAMS__APPEND_REQ__INIT;
    req.content_case = EVENT_STORE__CLIENT__STREAMS__APPEND_REQ__CONTENT_OPTIONS;
    req.options = &o;
    return packed(&req.base, len);
}

static void test_append_options_decode_all_four_expectations(void **state)
{
    (void)state;
    static const struct {
        int which;
        uint64_t revision;
        enum sl_expected_kind kind;
    } cases[] = {{2, 0, SL_EXPECT_REVISION},
                 {2, 9, SL_EXPECT_REVISION},
                 {3, 0, SL_EXPECT_NO_STREAM},
                 {4, 0, SL_EXPECT_ANY},
                 {5, 0, SL_EXPECT_EXISTS}};
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t len;
        uint8_t *msg = append_options(cases[i].which, cases[i].revision, &len);
        struct sl_grpc_append_part p;
        struct sl_error err;
        assert_int_equal(sl_grpc_decode_append(msg, len, &p, &err), SL_OK);
        assert_true(p.is_options);
        assert_int_equal(p.stream_len, 6);
        assert_memory_equal(p.stream, "orders", 6);
        assert_int_equal(p.expected.kind, cases[i].kind);
        if (cases[i].kind == SL_EXPECT_REVISION)
            assert_int_equal(p.expected.revision, (int64_t)cases[i].revision);
        sl_grpc_append_part_free(&p);
        free(msg);
    }
    size_t len;
    uint8_t *msg = append_options(0, 0, &len); /* no expectation at all */
    struct sl_grpc_append_part p;
    struct sl_error err;
    assert_int_equal(sl_grpc_decode_append(msg, len, &p, &err), SL_E_INVALID);
    free(msg);
}

/* A proposed message; NULL `type` or `content_type` leaves the key out. */
static uint8_t *proposed(const char *id, const char *type, const char *content_type, const char *data,
                         size_t data_len, const char *meta, size_t *len)
{
    EventStore__Client__UUID uuid = EVENT_STORE__CLIENT__UUID__INIT;
    uuid.value_case = EVENT_STORE__CLIENT__UUID__VALUE_STRING;
    uuid.string = (char *)id;
    EventStore__Client__Streams__AppendReq__ProposedMessage__MetadataEntry e[2] = {
        EVENT_STORE__CLIENT__STREAMS__APPEND_REQ__PROPOSED_MESSAGE__METADATA_ENTRY__INIT,
        EVENT_STORE__CLIENT__STREAMS__APPEND_REQ__PROPOSED_MESSAGE__METADATA_ENTRY__INIT};
    EventStore__Client__Streams__AppendReq__ProposedMessage__MetadataEntry *entries[2];
    size_t n = 0;
    if (type) {
        e[n].key = "type";
        e[n].value = (char *)type;
        entries[n] = &e[n];
        n++;
    }
    if (content_type) {
        e[n].key = "content-type";
        e[n].value = (char *)content_type;
        entries[n] = &e[n];
        n++;
    }
    EventStore__Client__Streams__AppendReq__ProposedMessage m =
        EVENT_STORE__CLIENT__STREAMS__APPEND_REQ__PROPOSED_MESSAGE__INIT;
    m.id = &uuid;
    m.n_metadata = n;
    m.metadata = entries;
    m.data.data = (uint8_t *)data;
    m.data.len = data_len;
    m.custom_metadata.data = (uint8_t *)meta;
    m.custom_metadata.len = meta ? strlen(meta) : 0;
    EventStore__Client__Streams__AppendReq req = EVENT_STORE__CLIENT__STREAMS__APPEND_REQ__INIT;
    req.content_case = EVENT_STORE__CLIENT__STREAMS__APPEND_REQ__CONTENT_PROPOSED_MESSAGE;
    req.proposed_message = &m;
    return packed(&req.base, len);
}

static void test_proposed_events_keep_their_bytes_and_say_what_is_json(void **state)
{
    (void)state;
    static const struct {
        const char *content_type;
        const char *data;
        const char *meta;
        uint32_t flags;
    } cases[] = {
        {"application/json", "{\"a\":1}", "{\"m\":true}",
         SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON | SL_EVENT_META_IS_JSON},
        {"application/json", "{\"a\":123456789012345678901234567890}", NULL,
         SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON},
        {"application/json", "not json", "also not", SL_EVENT_JSON},
        {"application/json", "{\"a\":\n1}", NULL, SL_EVENT_JSON}, /* JSON, but not on one line */
        {"application/octet-stream", "{\"a\":1}", "{}", 0},
        {"text/plain", "hello", NULL, 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t len;
        uint8_t *msg = proposed(TEST_ID, "thing-happened", cases[i].content_type, cases[i].data,
                                strlen(cases[i].data), cases[i].meta, &len);
        struct sl_grpc_append_part p;
        struct sl_error err;
        assert_int_equal(sl_grpc_decode_append(msg, len, &p, &err), SL_OK);
        free(msg); /* the part points into its own decoded copy */
        assert_false(p.is_options);
        char id[37];
        sl_uuid_format(p.event.id, id);
        assert_string_equal(id, TEST_ID);
        assert_int_equal(p.event.type_len, strlen("thing-happened"));
        assert_memory_equal(p.event.type, "thing-happened", p.event.type_len);
        assert_int_equal(p.event.data_len, strlen(cases[i].data));
        assert_memory_equal(p.event.data, cases[i].data, p.event.data_len);
        assert_int_equal(p.event.metadata_len, cases[i].meta ? strlen(cases[i].meta) : 0);
        if (cases[i].meta)
            assert_memory_equal(p.event.metadata, cases[i].meta, p.event.metadata_len);
        if (p.event.flags != cases[i].flags)
            fail_msg("case %zu: flags %u, expected %u", i, p.event.flags, cases[i].flags);
        sl_grpc_append_part_free(&p);
    }
}

static void test_proposed_events_need_type_content_type_and_a_valid_id(void **state)
{
    (void)state;
    size_t len;
    struct sl_grpc_append_part p;
    struct sl_error err;
    uint8_t *msg = proposed(TEST_ID, "t", NULL, "x", 1, NULL, &len);
    assert_int_equal(sl_grpc_decode_append(msg, len, &p, &err), SL_E_INVALID);
    assert_true(p.is_missing_metadata);
    free(msg);

    msg = proposed(TEST_ID, NULL, "application/json", "{}", 2, NULL, &len);
    assert_int_equal(sl_grpc_decode_append(msg, len, &p, &err), SL_E_INVALID);
    assert_true(p.is_missing_metadata);
    free(msg);

    msg = proposed("not-a-uuid", "t", "application/json", "{}", 2, NULL, &len);
    assert_int_equal(sl_grpc_decode_append(msg, len, &p, &err), SL_E_INVALID);
    assert_false(p.is_missing_metadata);
    free(msg);

    /* An event with no data still decodes. */
    msg = proposed(TEST_ID, "t", "application/json", NULL, 0, NULL, &len);
    assert_int_equal(sl_grpc_decode_append(msg, len, &p, &err), SL_OK);
    assert_int_equal(p.event.data_len, 0);
    assert_int_equal(p.event.flags, SL_EVENT_JSON);
    sl_grpc_append_part_free(&p);
    free(msg);

    static const uint8_t neither[] = {0x18, 0x01}; /* a field that is not in AppendReq */
    assert_int_equal(sl_grpc_decode_append(neither, sizeof(neither), &p, &err), SL_E_INVALID);
}

static void test_delete_and_tombstone_requests_decode(void **state)
{
    (void)state;
    EventStore__Client__Empty empty = EVENT_STORE__CLIENT__EMPTY__INIT;
    EventStore__Client__StreamIdentifier sid = EVENT_STORE__CLIENT__STREAM_IDENTIFIER__INIT;
    sid.stream_name.data = (uint8_t *)"gone";
    sid.stream_name.len = 4;
    EventStore__Client__Streams__DeleteReq__Options o =
        EVENT_STORE__CLIENT__STREAMS__DELETE_REQ__OPTIONS__INIT;
    o.stream_identifier = &sid;
    o.expected_stream_revision_case =
        EVENT_STORE__CLIENT__STREAMS__DELETE_REQ__OPTIONS__EXPECTED_STREAM_REVISION_NO_STREAM;
    o.no_stream = &empty;
    EventStore__Client__Streams__DeleteReq req = EVENT_STORE__CLIENT__STREAMS__DELETE_REQ__INIT;
    req.options = &o;
    size_t len;
    uint8_t *msg = packed(&req.base, &len);
    struct sl_grpc_delete_req d;
    struct sl_error err;
    /* Delete and Tombstone share their layout. */
    for (int is_tombstone = 0; is_tombstone < 2; is_tombstone++) {
        assert_int_equal(sl_grpc_decode_delete(msg, len, is_tombstone, &d, &err), SL_OK);
        assert_string_equal(d.stream, "gone");
        assert_int_equal(d.expected.kind, SL_EXPECT_NO_STREAM);
        sl_grpc_delete_req_free(&d);
    }
    free(msg);
    assert_int_equal(sl_grpc_decode_delete(NULL, 0, false, &d, &err), SL_E_INVALID);
}

/* The correlation id (TEST_ID, as a string) and the stream ("b") of the BatchAppend requests below. */
static void batch_ids(EventStore__Client__UUID *cid, EventStore__Client__StreamIdentifier *sid)
{
    *cid = (EventStore__Client__UUID)EVENT_STORE__CLIENT__UUID__INIT;
    cid->value_case = EVENT_STORE__CLIENT__UUID__VALUE_STRING;
    cid->string = (char *)TEST_ID;
    *sid = (EventStore__Client__StreamIdentifier)EVENT_STORE__CLIENT__STREAM_IDENTIFIER__INIT;
    sid->stream_name.data = (uint8_t *)"b";
    sid->stream_name.len = 1;
}

static void test_batch_append_request_decodes_its_parts(void **state)
{
    (void)state;
    EventStore__Client__UUID cid;
    EventStore__Client__StreamIdentifier sid;
    batch_ids(&cid, &sid);
    Sluice__Wire__Timestamp deadline = SLUICE__WIRE__TIMESTAMP__INIT;
    deadline.seconds = 1700000000;
    deadline.nanos = 5000;
    EventStore__Client__Streams__BatchAppendReq__Options o =
        EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_REQ__OPTIONS__INIT;
    o.stream_identifier = &sid;
    o.expected_stream_position_case =
        EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_REQ__OPTIONS__EXPECTED_STREAM_POSITION_STREAM_POSITION;
    o.stream_position = 0;
    o.deadline_option_case =
        EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_REQ__OPTIONS__DEADLINE_OPTION_DEADLINE_21_10_0;
    o.deadline_21_10_0 = &deadline;
    EventStore__Client__Streams__BatchAppendReq__ProposedMessage__MetadataEntry e[2] = {
        EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_REQ__PROPOSED_MESSAGE__METADATA_ENTRY__INIT,
        EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_REQ__PROPOSED_MESSAGE__METADATA_ENTRY__INIT};
    e[0].key = "content-type";
    e[0].value = "application/octet-stream";
    e[1].key = "type";
    e[1].value = "t";
    EventStore__Client__Streams__BatchAppendReq__ProposedMessage__MetadataEntry *entries[] = {&e[0], &e[1]};
    EventStore__Client__Streams__BatchAppendReq__ProposedMessage m[2] = {
        EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_REQ__PROPOSED_MESSAGE__INIT,
        EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_REQ__PROPOSED_MESSAGE__INIT};
    EventStore__Client__Streams__BatchAppendReq__ProposedMessage *ms[] = {&m[0], &m[1]};
    for (int i = 0; i < 2; i++) {
        m[i].id = &cid;
        m[i].n_metadata = 2;
        m[i].metadata = entries;
        m[i].data.data = (uint8_t *)"abc";
        m[i].data.len = 3;
    }
    EventStore__Client__Streams__BatchAppendReq req = EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_REQ__INIT;
    req.correlation_id = &cid;
    req.options = &o;
    req.n_proposed_messages = 2;
    req.proposed_messages = ms;
    req.is_final = true;
    size_t len;
    uint8_t *msg = packed(&req.base, &len);
    struct sl_grpc_batch_part p;
    struct sl_error err;
    assert_int_equal(sl_grpc_decode_batch_append(msg, len, &p, &err), SL_OK);
    free(msg);
    char text[37];
    sl_uuid_format(p.correlation_id, text);
    assert_string_equal(text, TEST_ID);
    assert_true(p.has_options);
    assert_int_equal(p.stream_len, 1);
    assert_int_equal(p.expected.kind, SL_EXPECT_REVISION);
    assert_int_equal(p.expected.revision, 0);
    assert_true(p.has_deadline);
    assert_int_equal(p.deadline_us, 1700000000000005);
    assert_true(p.is_final);
    assert_int_equal(p.n_events, 2);
    assert_int_equal(p.payload_bytes, 6);
    assert_int_equal(p.events[1].flags, 0);
    assert_int_equal(p.events[1].data_len, 3);
    sl_grpc_batch_part_free(&p);

    /* A bad event fails its append, whose id is kept for the reply. */
    e[1].key = "not-type";
    msg = packed(&req.base, &len);
    assert_int_equal(sl_grpc_decode_batch_append(msg, len, &p, &err), SL_E_INVALID);
    assert_true(p.is_missing_metadata);
    sl_uuid_format(p.correlation_id, text);
    assert_string_equal(text, TEST_ID);
    assert_null(p.events);
    free(msg);

    /* Without a readable correlation id nothing can be answered. */
    static const uint8_t zero[16];
    cid.string = "nope";
    msg = packed(&req.base, &len);
    assert_int_equal(sl_grpc_decode_batch_append(msg, len, &p, &err), SL_E_INVALID);
    assert_memory_equal(p.correlation_id, zero, 16);
    free(msg);
    req.correlation_id = NULL;
    msg = packed(&req.base, &len);
    assert_int_equal(sl_grpc_decode_batch_append(msg, len, &p, &err), SL_E_INVALID);
    assert_memory_equal(p.correlation_id, zero, 16);
    free(msg);
}

/* Decodes BatchAppend options carrying `seconds` and `nanos` as a deadline (a Timestamp) or a
 * timeout (a Duration), and returns the microseconds the part holds. */
static int64_t decoded_deadline_us(int64_t seconds, int32_t nanos, bool is_timeout)
{
    EventStore__Client__UUID cid;
    EventStore__Client__StreamIdentifier sid;
    batch_ids(&cid, &sid);
    Sluice__Wire__Timestamp deadline = SLUICE__WIRE__TIMESTAMP__INIT;
    deadline.seconds = seconds;
    deadline.nanos = nanos;
    Sluice__Wire__Duration timeout = SLUICE__WIRE__DURATION__INIT;
    timeout.seconds = seconds;
    timeout.nanos = nanos;
    EventStore__Client__Streams__BatchAppendReq__Options o =
        EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_REQ__OPTIONS__INIT;
    o.stream_identifier = &sid;
    o.expected_stream_position_case =
        EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_REQ__OPTIONS__EXPECTED_STREAM_POSITION_ANY;
    o.any = &(Sluice__Wire__Empty)SLUICE__WIRE__EMPTY__INIT;
    if (is_timeout) {
        o.deadline_option_case =
            EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_REQ__OPTIONS__DEADLINE_OPTION_DEADLINE;
        o.deadline = &timeout;
    } else {
        o.deadline_option_case =
            EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_REQ__OPTIONS__DEADLINE_OPTION_DEADLINE_21_10_0;
        o.deadline_21_10_0 = &deadline;
    }
    EventStore__Client__Streams__BatchAppendReq req = EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_REQ__INIT;
    req.correlation_id = &cid;
    req.options = &o;
    size_t len;
    uint8_t *msg = packed(&req.base, &len);
    struct sl_grpc_batch_part p;
    struct sl_error err;
    assert_int_equal(sl_grpc_decode_batch_append(msg, len, &p, &err), SL_OK);
    free(msg);
    assert_true(is_timeout ? p.has_timeout : p.has_deadline);
    int64_t us = is_timeout ? p.timeout_us : p.deadline_us;
    sl_grpc_batch_part_free(&p);
    return us;
}

/* The last whole second before the microseconds overflow, plus nanoseconds that push it over: the
 * sum saturates (it used to overflow, which UBSan reports and which wrapped to the other end). */
static void test_batch_append_deadlines_saturate_at_the_ends_of_int64(void **state)
{
    (void)state;
    for (int is_timeout = 0; is_timeout < 2; is_timeout++) {
        assert_int_equal(decoded_deadline_us(INT64_MAX / 1000000 - 1, 2000000000, is_timeout), INT64_MAX);
        assert_int_equal(decoded_deadline_us(INT64_MIN / 1000000 + 1, -2000000000, is_timeout), INT64_MIN);
        assert_int_equal(decoded_deadline_us(INT64_MAX, INT32_MAX, is_timeout), INT64_MAX);
        assert_int_equal(decoded_deadline_us(INT64_MIN, INT32_MIN, is_timeout), INT64_MIN);
        /* Within range, the sum is exact. */
        assert_int_equal(decoded_deadline_us(INT64_MAX / 1000000 - 1, 999999999, is_timeout),
                         (INT64_MAX / 1000000 - 1) * 1000000 + 999999);
        assert_int_equal(decoded_deadline_us(-5, 250000000, is_timeout), -4750000);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_created_is_ticks_of_100ns_since_the_unix_epoch),
        cmocka_unit_test(test_expectations_have_kurrentdb_numbers),
        cmocka_unit_test(test_structured_uuid_halves_are_big_endian),
        cmocka_unit_test(test_event_message_sets_every_recorded_event_field),
        cmocka_unit_test(test_event_message_gives_structured_ids_and_binary_content_type_when_asked),
        cmocka_unit_test(test_event_message_copes_with_a_long_event_type),
        cmocka_unit_test(test_resolved_link_carries_target_link_and_the_link_position),
        cmocka_unit_test(test_link_data_is_revision_at_stream),
        cmocka_unit_test(test_caught_up_sends_revision_zero_and_leaves_out_what_is_unknown),
        cmocka_unit_test(test_checkpoint_confirmation_and_not_found_are_their_own_members),
        cmocka_unit_test(test_append_success_encodes_empty_members),
        cmocka_unit_test(test_wrong_expected_version_uses_the_current_fields),
        cmocka_unit_test(test_delete_and_tombstone_replies_carry_a_position_or_no_position),
        cmocka_unit_test(test_supported_methods_carry_the_version_and_features),
        cmocka_unit_test(test_batch_replies_echo_the_append_and_pack_error_details),
        cmocka_unit_test(test_read_request_from_the_rust_client_decodes),
        cmocka_unit_test(test_read_request_tells_revision_zero_from_start_and_end),
        cmocka_unit_test(test_read_request_refuses_what_the_real_server_refuses),
        cmocka_unit_test(test_all_subscription_filters_decode_with_their_checkpoint_window),
        cmocka_unit_test(test_append_options_decode_all_four_expectations),
        cmocka_unit_test(test_proposed_events_keep_their_bytes_and_say_what_is_json),
        cmocka_unit_test(test_proposed_events_need_type_content_type_and_a_valid_id),
        cmocka_unit_test(test_delete_and_tombstone_requests_decode),
        cmocka_unit_test(test_batch_append_request_decodes_its_parts),
        cmocka_unit_test(test_batch_append_deadlines_saturate_at_the_ends_of_int64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
