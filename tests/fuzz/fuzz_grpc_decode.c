/* fuzz_grpc_decode.c: the request messages of the gRPC Streams service (api/grpc_codec.h).
 *
 * Every input is one gRPC message body (what follows the 5-byte length prefix), given to each
 * request decoder in turn, as a client could send any bytes to any method:
 *   1. sl_grpc_decode_read(), sl_grpc_decode_append(), sl_grpc_decode_batch_append() and
 *      sl_grpc_decode_delete() (as Delete and as Tombstone) either refuse the bytes with `err`
 *      filled and nothing left to free, or return values that keep the header's promises: a
 *      stream name NUL-terminated at its length, an event's pointers inside the decoded message,
 *      payload sizes that add up, a filter that can be built (or is refused with a reason) and
 *      then matched. Everything is freed, so LeakSanitizer sees any leak on either path.
 *   2. protobuf-c's own unpack of the five request messages: whatever it accepts packs to
 *      exactly get_packed_size() bytes, unpacks again, and packs the second time to the same
 *      bytes.
 *
 * Seeds: tests/fuzz/corpus/fuzz_grpc_decode/, requests as the official Node client encodes them. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/grpc_codec.h"
#include "store/filter.h"
#include "streams.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond);                      \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

static bool is_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* A refusal names its reason and leaves the output empty. */
static void check_refusal(enum sl_code code, const struct sl_error *err)
{
    CHECK(code != SL_OK && err->code == code && err->message[0] != '\0');
}

static void check_expected(const struct sl_expected *e)
{
    CHECK(e->kind != SL_EXPECT_REVISION || e->revision >= 0);
}

/* A decoded event: its type is a C string of type_len bytes; the sizes are the message's. */
static void check_event(const struct sl_new_event *ev)
{
    CHECK(ev->type != NULL && strlen(ev->type) == ev->type_len);
    CHECK(ev->data_len == 0 || ev->data != NULL);
    CHECK(ev->metadata_len == 0 || ev->metadata != NULL);
    if (ev->flags & (SL_EVENT_DATA_IS_JSON | SL_EVENT_META_IS_JSON))
        CHECK(ev->flags & SL_EVENT_JSON);
    CHECK((ev->flags & SL_EVENT_DATA_IS_JSON) == 0 || ev->data_len > 0);
    CHECK((ev->flags & SL_EVENT_META_IS_JSON) == 0 || ev->metadata_len > 0);
}

/* Streams.Read: then the filter it asks for, matched against an event named by the request. */
static void decode_read(const uint8_t *data, size_t size)
{
    struct sl_grpc_read_req r;
    struct sl_error err = {0};
    enum sl_code code = sl_grpc_decode_read(data, size, &r, &err);
    if (code != SL_OK) {
        check_refusal(code, &err);
        CHECK(is_zero(&r, sizeof(r)));
        sl_grpc_read_req_free(&r);
        return;
    }
    CHECK(r.is_all == (r.stream == NULL));
    if (r.stream)
        CHECK(r.stream[r.stream_len] == '\0');
    CHECK(!r.has_filter || r.is_all);
    CHECK(!r.has_filter || r.regex != NULL || r.n_prefixes > 0);
    CHECK(r.n_prefixes == 0 || r.prefixes != NULL);
    CHECK(!r.has_filter || r.filter_on == SL_FILTER_STREAM || r.filter_on == SL_FILTER_TYPE);
    CHECK(!r.is_subscription || !r.has_filter || r.checkpoint_multiplier >= 1);

    struct sl_filter *f = NULL;
    struct sl_error ferr = {0};
    if (sl_grpc_read_filter(&r, &f, &ferr)) {
        CHECK(r.has_filter == (f != NULL));
        if (f) {
            const char *name = r.regex ? r.regex : r.prefixes[0];
            struct sl_event ev = {
                .stream = name, .stream_len = strlen(name), .type = name, .type_len = strlen(name)};
            (void)sl_filter_matches(f, &ev);
            if (r.n_prefixes > 0) /* a name matches the prefix it starts with */
                CHECK(sl_filter_matches(f, &ev));
        }
        sl_filter_free(f);
    } else {
        CHECK(f == NULL && ferr.code != SL_OK && ferr.message[0] != '\0');
    }
    sl_grpc_read_req_free(&r);
    CHECK(is_zero(&r, sizeof(r)));
}

/* One message of Streams.Append. */
static void decode_append(const uint8_t *data, size_t size)
{
    struct sl_grpc_append_part p;
    struct sl_error err = {0};
    enum sl_code code = sl_grpc_decode_append(data, size, &p, &err);
    if (code != SL_OK) {
        check_refusal(code, &err);
        CHECK(p.owner == NULL && p.stream == NULL && p.event.type == NULL);
        CHECK(!p.is_missing_metadata || code == SL_E_INVALID);
        sl_grpc_append_part_free(&p);
        return;
    }
    CHECK(p.owner != NULL);
    if (p.is_options) {
        CHECK(p.stream_len == 0 || p.stream != NULL);
        check_expected(&p.expected);
    } else {
        check_event(&p.event);
        CHECK(p.payload_bytes == p.event.data_len + p.event.metadata_len);
    }
    sl_grpc_append_part_free(&p);
    CHECK(is_zero(&p, sizeof(p)));
}

/* One message of Streams.BatchAppend. */
static void decode_batch_append(const uint8_t *data, size_t size)
{
    struct sl_grpc_batch_part p;
    struct sl_error err = {0};
    enum sl_code code = sl_grpc_decode_batch_append(data, size, &p, &err);
    if (code != SL_OK) {
        check_refusal(code, &err);
        CHECK(p.owner == NULL && p.events == NULL && p.n_events == 0 && p.stream == NULL);
        sl_grpc_batch_part_free(&p);
        return;
    }
    CHECK(p.owner != NULL);
    CHECK(p.n_events == 0 || p.events != NULL);
    if (p.has_options) {
        CHECK(p.stream_len == 0 || p.stream != NULL);
        check_expected(&p.expected);
    }
    CHECK(!(p.has_deadline && p.has_timeout));
    size_t payload = 0;
    for (size_t i = 0; i < p.n_events; i++) {
        check_event(&p.events[i]);
        payload += p.events[i].data_len + p.events[i].metadata_len;
    }
    CHECK(payload == p.payload_bytes);
    sl_grpc_batch_part_free(&p);
    CHECK(is_zero(&p, sizeof(p)));
}

/* Streams.Delete or Streams.Tombstone. */
static void decode_delete(const uint8_t *data, size_t size, bool is_tombstone)
{
    struct sl_grpc_delete_req r;
    struct sl_error err = {0};
    enum sl_code code = sl_grpc_decode_delete(data, size, is_tombstone, &r, &err);
    if (code != SL_OK) {
        check_refusal(code, &err);
        CHECK(r.stream == NULL);
        sl_grpc_delete_req_free(&r);
        return;
    }
    CHECK(r.stream != NULL && r.stream[r.stream_len] == '\0');
    check_expected(&r.expected);
    sl_grpc_delete_req_free(&r);
}

/* Whether `m` or a message inside it kept an unknown field numbered 0. protobuf-c 1.4.1 refuses a
 * key whose field number is 0 when the key is one byte, but accepts it written as a longer varint
 * (0x85 0x00); it keeps the field and packs it back as the one-byte key it refuses, so such a
 * message does not unpack again. The decoders never pack what they unpack, so that is let through. */
static bool has_field_zero(const ProtobufCMessage *m)
{
    for (size_t i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return true;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *at = (const char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)at;
            for (size_t k = 0; k < n; k++)
                if (has_field_zero(items[k]))
                    return true;
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
            continue;
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)at;
        if (sub && has_field_zero(sub))
            return true;
    }
    return false;
}

/* Property 2 for one message type: what unpacks packs to its stated size, and packs stably. */
static void repack(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, size, data);
    if (m == NULL)
        return;
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *once = malloc(n + 1);
    CHECK(once != NULL);
    CHECK(protobuf_c_message_pack(m, once) == n);
    bool is_refused_again = has_field_zero(m);
    protobuf_c_message_free_unpacked(m, NULL);

    ProtobufCMessage *again = protobuf_c_message_unpack(desc, NULL, n, once);
    if (is_refused_again && again == NULL) {
        free(once);
        return;
    }
    CHECK(again != NULL);
    size_t n2 = protobuf_c_message_get_packed_size(again);
    CHECK(n2 == n);
    uint8_t *twice = malloc(n2 + 1);
    CHECK(twice != NULL);
    CHECK(protobuf_c_message_pack(again, twice) == n2);
    CHECK(memcmp(once, twice, n) == 0);
    protobuf_c_message_free_unpacked(again, NULL);
    free(once);
    free(twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_read(data, size);
    decode_append(data, size);
    decode_batch_append(data, size);
    decode_delete(data, size, false);
    decode_delete(data, size, true);

    repack(&event_store__client__streams__read_req__descriptor, data, size);
    repack(&event_store__client__streams__append_req__descriptor, data, size);
    repack(&event_store__client__streams__batch_append_req__descriptor, data, size);
    repack(&event_store__client__streams__delete_req__descriptor, data, size);
    repack(&event_store__client__streams__tombstone_req__descriptor, data, size);
    return 0;
}
