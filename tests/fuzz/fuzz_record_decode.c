/* fuzz_record_decode.c: the LMDB value layout of an event (store/record.h).
 *
 * Two properties, on every input:
 *   1. sl_record_decode() on arbitrary bytes either refuses them with SL_E_CORRUPT or returns an
 *      event whose every field lies inside the input; encoding that event again gives back the
 *      input byte for byte. It accepts exactly the inputs whose version, lengths and checksum are
 *      right. Each input is also tried with its checksum made right, so that the fuzzer gets past
 *      it, and then with one byte changed, which must be caught. The decoded event then goes where stored
 * events go: the HTTP API's JSON (sl_event_to_json, which must be valid JSON whenever the payloads it embeds
 * are) and a connector's sink record (sl_record_batch_add).
 *   2. An event built from the input (stream, type, metadata and data cut out of it) survives
 *      encode -> decode unchanged.
 *
 * Seeds: tests/fuzz/corpus/fuzz_record_decode/, records written by sl_record_encode(). */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/event_json.h"
#include "connectors/records.h"
#include "store/record.h"
#include "util/buf.h"
#include "util/codec.h"
#include "util/utf8.h"

/* Where the checksum sits in the header (see store/record.h). */
#define CRC_OFFSET 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond);                      \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

static bool is_inside(const void *p, size_t len, const uint8_t *base, size_t size)
{
    const uint8_t *q = p;
    return q >= base && q <= base + size && len <= (size_t)(base + size - q);
}

/* Whether `p` is empty or a JSON text jansson accepts: sl_event_to_json embeds such payloads verbatim. */
static bool is_json_or_empty(const void *p, size_t len)
{
    if (len == 0)
        return true;
    json_t *v = json_loadb(p, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, NULL);
    json_decref(v);
    return v != NULL;
}

/* A JSON string member equals `s` when `s` is valid UTF-8 (otherwise U+FFFD stands in for bad bytes). */
static void check_string_member(json_t *obj, const char *key, const char *s, size_t len)
{
    json_t *v = json_object_get(obj, key);
    CHECK(json_is_string(v));
    if (sl_utf8_is_valid(s, len))
        CHECK(json_string_length(v) == len && memcmp(json_string_value(v), s, len) == 0);
}

static void check_event_json(const struct sl_event *ev)
{
    struct sl_buf b;
    sl_buf_init(&b);
    sl_event_to_json(&b, ev);
    CHECK(!b.failed);
    bool is_data_json = ev->flags & SL_EVENT_DATA_IS_JSON;
    bool is_meta_json = ev->flags & SL_EVENT_META_IS_JSON;
    if ((!is_data_json || is_json_or_empty(ev->data, ev->data_len)) &&
        (!is_meta_json || is_json_or_empty(ev->metadata, ev->metadata_len))) {
        json_error_t jerr;
        /* Appends take integers of any size, so reads must give them back. */
        json_t *root = json_loadb(b.data, b.len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
        if (root == NULL)
            fprintf(stderr, "sl_event_to_json wrote invalid JSON (%s): %s\n", jerr.text, b.data);
        CHECK(json_is_object(root));
        check_string_member(root, "streamId", ev->stream, ev->stream_len);
        check_string_member(root, "eventType", ev->type, ev->type_len);
        CHECK(json_number_value(json_object_get(root, "revision")) == (double)ev->revision);
        json_t *d = json_object_get(root, "data");
        if (ev->data_len == 0) {
            CHECK(json_is_null(d));
        } else if (!is_data_json) {
            CHECK(json_is_string(d));
            size_t n = 0;
            uint8_t *bytes = sl_base64_decode(json_string_value(d), json_string_length(d), &n);
            CHECK(bytes != NULL && n == ev->data_len && memcmp(bytes, ev->data, n) == 0);
            free(bytes);
        }
        json_decref(root);
    }
    sl_buf_free(&b);
}

static void check_sink_record(const struct sl_event *ev)
{
    struct sl_record_batch batch = {0};
    if (sl_record_batch_add(&batch, "fuzz-connector", ev, ev->revision & 1)) {
        CHECK(batch.count == 1);
        const struct sl_sink_record *r = &batch.records[0];
        CHECK(r->position == ev->position && r->revision == ev->revision);
        CHECK(r->stream_len == ev->stream_len && memcmp(r->stream, ev->stream, ev->stream_len) == 0);
        CHECK(r->type_len == ev->type_len && memcmp(r->type, ev->type, ev->type_len) == 0);
        CHECK(r->payload_len == ev->data_len &&
              (ev->data_len == 0 || memcmp(r->payload, ev->data, ev->data_len) == 0));
        CHECK(r->n_headers >= 10);
        for (size_t i = 0; i < r->n_headers; i++)
            CHECK(r->headers[i].name != NULL && r->headers[i].value != NULL);
    }
    sl_record_batch_free(&batch);
}

/* CRC-32 as zlib computes it (reflected, polynomial 0xEDB88320), bit by bit: a reference written
 * apart from the store's. `crc` is the value so far, 0 to start. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* The checksum field of a record of `len` bytes: the CRC-32 of every byte but its own. */
static uint32_t record_crc(const uint8_t *rec, size_t len)
{
    uint32_t crc = crc32_update(0, rec, CRC_OFFSET);
    return crc32_update(crc, rec + SL_RECORD_HEADER_SIZE, len - SL_RECORD_HEADER_SIZE);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Whether the header's lengths and version describe exactly `size` bytes. */
static bool is_well_formed(const uint8_t *p, size_t size)
{
    if (size < SL_RECORD_HEADER_SIZE || p[0] != SL_RECORD_VERSION)
        return false;
    uint64_t total = SL_RECORD_HEADER_SIZE + (uint64_t)(p[2] | p[3] << 8) + get_le32(p + 4) +
                     get_le32(p + 8) + get_le32(p + 12);
    return total == size;
}

/* A decoded record: inside its bytes, and encoded again it is the same bytes. */
static void check_decoded(const uint8_t *data, size_t size, const struct sl_event *ev_in, uint64_t position)
{
    const struct sl_event ev = *ev_in;
    CHECK(ev.position == position);
    CHECK(is_inside(ev.stream, ev.stream_len, data, size));
    CHECK(is_inside(ev.type, ev.type_len, data, size));
    CHECK(is_inside(ev.metadata, ev.metadata_len, data, size));
    CHECK(is_inside(ev.data, ev.data_len, data, size));
    CHECK(SL_RECORD_HEADER_SIZE + ev.stream_len + ev.type_len + ev.metadata_len + ev.data_len == size);

    struct sl_new_event ne = {
        .type = ev.type,
        .type_len = ev.type_len,
        .flags = ev.flags,
        .data = ev.data,
        .data_len = ev.data_len,
        .metadata = ev.metadata,
        .metadata_len = ev.metadata_len,
    };
    memcpy(ne.id, ev.id, 16);
    size_t n = sl_record_size(ev.stream_len, &ne);
    CHECK(n == size);
    uint8_t *again = malloc(n);
    CHECK(again != NULL);
    sl_record_encode(again, ev.stream, ev.stream_len, &ne, ev.revision, ev.created_us);
    CHECK(memcmp(again, data, n) == 0);
    free(again);

    check_event_json(&ev);
    check_sink_record(&ev);
}

/* Property 1: arbitrary bytes as a stored value, as they are and with their checksum made right
 * (else the fuzzer would hardly get past it). */
static void decode_arbitrary(const uint8_t *data, size_t size)
{
    struct sl_event ev;
    struct sl_error err = {0};
    uint64_t position = size * 7919u;
    bool is_formed = is_well_formed(data, size);
    bool has_crc = is_formed && get_le32(data + CRC_OFFSET) == record_crc(data, size);
    enum sl_code code = sl_record_decode(data, size, position, &ev, &err);
    CHECK((code == SL_OK) == has_crc);
    if (code != SL_OK)
        CHECK(code == SL_E_CORRUPT && err.code == SL_E_CORRUPT && err.message[0] != '\0');
    else
        check_decoded(data, size, &ev, position);
    if (!is_formed || has_crc)
        return;

    uint8_t *fixed = malloc(size);
    CHECK(fixed != NULL);
    memcpy(fixed, data, size);
    uint32_t crc = record_crc(fixed, size);
    for (int i = 0; i < 4; i++)
        fixed[CRC_OFFSET + i] = (uint8_t)(crc >> (8 * i));
    CHECK(sl_record_decode(fixed, size, position, &ev, &err) == SL_OK);
    check_decoded(fixed, size, &ev, position);

    /* Any one byte changed afterwards is caught. */
    size_t at = (size_t)crc % size;
    fixed[at] ^= (uint8_t)(1u << (crc >> 29));
    CHECK(sl_record_decode(fixed, size, position, &ev, &err) == SL_E_CORRUPT);
    free(fixed);
}

/* Takes the next `want` bytes (fewer at the end) of the input. */
static const uint8_t *take(const uint8_t **p, size_t *left, size_t want, size_t *got)
{
    *got = want < *left ? want : *left;
    const uint8_t *out = *p;
    *p += *got;
    *left -= *got;
    return out;
}

/* Property 2: an event cut out of the input, encoded and decoded. */
static void round_trip(const uint8_t *data, size_t size)
{
    if (size < 8)
        return;
    const uint8_t *p = data + 8;
    size_t left = size - 8;
    size_t stream_len, type_len, meta_len, data_len;
    const uint8_t *stream = take(&p, &left, data[0] % 64, &stream_len);
    const uint8_t *type = take(&p, &left, data[1] % 32, &type_len);
    const uint8_t *meta = take(&p, &left, data[2] % 128, &meta_len);
    const uint8_t *body = take(&p, &left, left, &data_len);

    struct sl_new_event ne = {
        .type = (const char *)type,
        .type_len = type_len,
        .flags = data[3],
        .data = body,
        .data_len = data_len,
        .metadata = meta,
        .metadata_len = meta_len,
    };
    for (int i = 0; i < 16; i++)
        ne.id[i] = (uint8_t)(data[4 + i % 4] * (i + 1));
    int64_t revision = (int64_t)((uint64_t)data[5] << 56 | (uint64_t)data[6] << 8 | data[7]);
    int64_t created_us = (int64_t)((uint64_t)revision * 1000003u);

    size_t n = sl_record_size(stream_len, &ne);
    uint8_t *rec = malloc(n);
    CHECK(rec != NULL);
    sl_record_encode(rec, (const char *)stream, stream_len, &ne, revision, created_us);
    struct sl_event ev;
    CHECK(sl_record_decode(rec, n, 42, &ev, NULL) == SL_OK);
    CHECK(ev.position == 42 && ev.revision == revision && ev.created_us == created_us);
    CHECK(ev.flags == (ne.flags & 0xffu) && memcmp(ev.id, ne.id, 16) == 0);
    CHECK(ev.stream_len == stream_len && memcmp(ev.stream, stream, stream_len) == 0);
    CHECK(ev.type_len == type_len && memcmp(ev.type, type, type_len) == 0);
    CHECK(ev.metadata_len == meta_len && memcmp(ev.metadata, meta, meta_len) == 0);
    CHECK(ev.data_len == data_len && memcmp(ev.data, body, data_len) == 0);
    check_event_json(&ev);
    free(rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_arbitrary(data, size);
    round_trip(data, size);
    return 0;
}
