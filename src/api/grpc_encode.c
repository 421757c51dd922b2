/* grpc_encode.c: response messages of the Streams and ServerFeatures services (grpc_codec.h).
 *
 * Messages are built on the stack, pointing at the caller's data, then packed
 * once into the output buffer. Every oneof member chosen gets its case and,
 * for empty members, a pointer to an empty message, so protobuf-c writes it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/grpc_codec.h"
#include "serverfeatures.pb-c.h"
#include "streams.pb-c.h"
#include "util/codec.h"

typedef EventStore__Client__Empty EmptyMsg;
typedef EventStore__Client__UUID UuidMsg;
typedef EventStore__Client__UUID__Structured UuidHalves;
typedef EventStore__Client__StreamIdentifier StreamIdMsg;
typedef EventStore__Client__Streams__ReadResp ReadResp;
typedef EventStore__Client__Streams__ReadResp__ReadEvent ReadEvent;
typedef EventStore__Client__Streams__ReadResp__ReadEvent__RecordedEvent RecordedEvent;
typedef EventStore__Client__Streams__ReadResp__ReadEvent__RecordedEvent__MetadataEntry MetadataEntry;
typedef EventStore__Client__Streams__ReadResp__Position ReadPosition;
typedef EventStore__Client__Streams__AppendResp AppendResp;
typedef EventStore__Client__Streams__AppendResp__Success AppendSuccess;
typedef EventStore__Client__Streams__AppendResp__WrongExpectedVersion AppendWrongVersion;
typedef EventStore__Client__Streams__BatchAppendResp BatchResp;
typedef Sluice__Wire__Empty WireEmpty;

/* Stream names, event types and UUID text up to this size are copied on the stack. */
#define SMALL_TEXT 256

/* ---- plain values ---- */

int64_t sl_grpc_ticks_from_us(int64_t us)
{
    if (us > INT64_MAX / 10)
        return INT64_MAX;
    if (us < INT64_MIN / 10)
        return INT64_MIN;
    return us * 10;
}

int64_t sl_grpc_expected_number(const struct sl_expected *expected)
{
    switch (expected->kind) {
    case SL_EXPECT_ANY:
        return -2;
    case SL_EXPECT_NO_STREAM:
        return -1;
    case SL_EXPECT_EXISTS:
        return -4;
    case SL_EXPECT_REVISION:
        return expected->revision;
    }
    return -2;
}

void sl_grpc_uuid_halves(const uint8_t id[16], int64_t *most, int64_t *least)
{
    uint64_t m = 0, l = 0;
    for (int i = 0; i < 8; i++) {
        m = (m << 8) | id[i];
        l = (l << 8) | id[8 + i];
    }
    *most = (int64_t)m;
    *least = (int64_t)l;
}

void sl_grpc_uuid_from_halves(int64_t most, int64_t least, uint8_t id[16])
{
    uint64_t m = (uint64_t)most, l = (uint64_t)least;
    for (int i = 7; i >= 0; i--) {
        id[i] = (uint8_t)(m & 0xff);
        id[8 + i] = (uint8_t)(l & 0xff);
        m >>= 8;
        l >>= 8;
    }
}

/* ---- packing ---- */

static bool pack(struct sl_buf *out, const ProtobufCMessage *m)
{
    sl_buf_reset(out);
    size_t n = protobuf_c_message_get_packed_size(m);
    if (!sl_buf_reserve(out, n))
        return false;
    size_t written = protobuf_c_message_pack(m, (uint8_t *)out->data);
    out->len = written;
    out->data[written] = '\0';
    return true;
}

/* A NUL-terminated copy of `len` bytes: in `small` when it fits, else malloc'd
 * (*heap set, for the caller to free). NULL when out of memory. */
static char *terminated(const char *s, size_t len, char small[SMALL_TEXT], char **heap)
{
    *heap = NULL;
    char *p = small;
    if (len >= SMALL_TEXT) {
        p = *heap = malloc(len + 1);
        if (p == NULL)
            return NULL;
    }
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static StreamIdMsg stream_id(const char *stream, size_t len)
{
    StreamIdMsg id = EVENT_STORE__CLIENT__STREAM_IDENTIFIER__INIT;
    id.stream_name.data = (uint8_t *)stream;
    id.stream_name.len = len;
    return id;
}

static Sluice__Wire__Timestamp timestamp_of(int64_t us)
{
    Sluice__Wire__Timestamp ts = SLUICE__WIRE__TIMESTAMP__INIT;
    int64_t s = us / 1000000, rem = us % 1000000;
    if (rem < 0) {
        s--;
        rem += 1000000;
    }
    ts.seconds = s;
    ts.nanos = (int32_t)(rem * 1000);
    return ts;
}

/* ---- Read ---- */

/* A RecordedEvent built in place: it points into its own fields, so it is never copied. */
struct recorded {
    RecordedEvent rec;
    UuidMsg id;
    UuidHalves halves;
    char id_text[37];
    StreamIdMsg sid;
    MetadataEntry entries[3];
    MetadataEntry *entry_ptrs[3];
    char created[24];
    char small[SMALL_TEXT];
    char *heap;
};

static bool recorded_init(struct recorded *r, const struct sl_event *ev, bool uuid_structured)
{
    r->heap = NULL;
    r->id = (UuidMsg)EVENT_STORE__CLIENT__UUID__INIT;
    if (uuid_structured) {
        r->halves = (UuidHalves)EVENT_STORE__CLIENT__UUID__STRUCTURED__INIT;
        sl_grpc_uuid_halves(ev->id, &r->halves.most_significant_bits, &r->halves.least_significant_bits);
        r->id.value_case = EVENT_STORE__CLIENT__UUID__VALUE_STRUCTURED;
        r->id.structured = &r->halves;
    } else {
        sl_uuid_format(ev->id, r->id_text);
        r->id.value_case = EVENT_STORE__CLIENT__UUID__VALUE_STRING;
        r->id.string = r->id_text;
    }
    char *type = terminated(ev->type, ev->type_len, r->small, &r->heap);
    if (type == NULL)
        return false;
    snprintf(r->created, sizeof(r->created), "%" PRId64, sl_grpc_ticks_from_us(ev->created_us));
    for (int i = 0; i < 3; i++) {
        r->entries[i] = (MetadataEntry)
            EVENT_STORE__CLIENT__STREAMS__READ_RESP__READ_EVENT__RECORDED_EVENT__METADATA_ENTRY__INIT;
        r->entry_ptrs[i] = &r->entries[i];
    }
    r->entries[0].key = "type";
    r->entries[0].value = type;
    r->entries[1].key = "created";
    r->entries[1].value = r->created;
    r->entries[2].key = "content-type";
    r->entries[2].value = (ev->flags & SL_EVENT_JSON) ? "application/json" : "application/octet-stream";

    r->sid = stream_id(ev->stream, ev->stream_len);
    r->rec = (RecordedEvent)EVENT_STORE__CLIENT__STREAMS__READ_RESP__READ_EVENT__RECORDED_EVENT__INIT;
    r->rec.id = &r->id;
    r->rec.stream_identifier = &r->sid;
    r->rec.stream_revision = (uint64_t)ev->revision;
    r->rec.prepare_position = ev->position;
    r->rec.commit_position = ev->position;
    r->rec.n_metadata = 3;
    r->rec.metadata = r->entry_ptrs;
    r->rec.custom_metadata.data = (uint8_t *)ev->metadata;
    r->rec.custom_metadata.len = ev->metadata_len;
    r->rec.data.data = (uint8_t *)ev->data;
    r->rec.data.len = ev->data_len;
    return true;
}

bool sl_grpc_encode_resolved(struct sl_buf *out, const struct sl_event *event, const struct sl_event *link,
                             bool uuid_structured)
{
    struct recorded ev_rec, link_rec;
    bool ok = recorded_init(&ev_rec, event, uuid_structured);
    link_rec.heap = NULL;
    if (ok && link)
        ok = recorded_init(&link_rec, link, uuid_structured);
    if (ok) {
        ReadEvent re = EVENT_STORE__CLIENT__STREAMS__READ_RESP__READ_EVENT__INIT;
        re.event = &ev_rec.rec;
        re.link = link ? &link_rec.rec : NULL;
        re.position_case = EVENT_STORE__CLIENT__STREAMS__READ_RESP__READ_EVENT__POSITION_COMMIT_POSITION;
        re.commit_position = link ? link->position : event->position;
        ReadResp resp = EVENT_STORE__CLIENT__STREAMS__READ_RESP__INIT;
        resp.content_case = EVENT_STORE__CLIENT__STREAMS__READ_RESP__CONTENT_EVENT;
        resp.event = &re;
        ok = pack(out, &resp.base);
    }
    free(ev_rec.heap);
    free(link_rec.heap);
    return ok;
}

bool sl_grpc_encode_event(struct sl_buf *out, const struct sl_event *ev, bool uuid_structured)
{
    return sl_grpc_encode_resolved(out, ev, NULL, uuid_structured);
}

bool sl_grpc_encode_confirmation(struct sl_buf *out, const char *subscription_id)
{
    EventStore__Client__Streams__ReadResp__SubscriptionConfirmation c =
        EVENT_STORE__CLIENT__STREAMS__READ_RESP__SUBSCRIPTION_CONFIRMATION__INIT;
    c.subscription_id = (char *)subscription_id;
    ReadResp resp = EVENT_STORE__CLIENT__STREAMS__READ_RESP__INIT;
    resp.content_case = EVENT_STORE__CLIENT__STREAMS__READ_RESP__CONTENT_CONFIRMATION;
    resp.confirmation = &c;
    return pack(out, &resp.base);
}

bool sl_grpc_encode_checkpoint(struct sl_buf *out, uint64_t position, int64_t now_us)
{
    Sluice__Wire__Timestamp ts = timestamp_of(now_us);
    EventStore__Client__Streams__ReadResp__Checkpoint c =
        EVENT_STORE__CLIENT__STREAMS__READ_RESP__CHECKPOINT__INIT;
    c.commit_position = position;
    c.prepare_position = position;
    c.timestamp = &ts;
    ReadResp resp = EVENT_STORE__CLIENT__STREAMS__READ_RESP__INIT;
    resp.content_case = EVENT_STORE__CLIENT__STREAMS__READ_RESP__CONTENT_CHECKPOINT;
    resp.checkpoint = &c;
    return pack(out, &resp.base);
}

bool sl_grpc_encode_caught_up(struct sl_buf *out, int64_t now_us, int64_t revision, uint64_t position)
{
    Sluice__Wire__Timestamp ts = timestamp_of(now_us);
    ReadPosition pos = EVENT_STORE__CLIENT__STREAMS__READ_RESP__POSITION__INIT;
    EventStore__Client__Streams__ReadResp__CaughtUp c =
        EVENT_STORE__CLIENT__STREAMS__READ_RESP__CAUGHT_UP__INIT;
    c.timestamp = &ts;
    if (revision >= 0) {
        c.stream_revision_option_case =
            EVENT_STORE__CLIENT__STREAMS__READ_RESP__CAUGHT_UP__STREAM_REVISION_OPTION_STREAM_REVISION;
        c.stream_revision = revision;
    } else if (position > 0) {
        pos.commit_position = position;
        pos.prepare_position = position;
        c.position_option_case = EVENT_STORE__CLIENT__STREAMS__READ_RESP__CAUGHT_UP__POSITION_OPTION_POSITION;
        c.position = &pos;
    }
    ReadResp resp = EVENT_STORE__CLIENT__STREAMS__READ_RESP__INIT;
    resp.content_case = EVENT_STORE__CLIENT__STREAMS__READ_RESP__CONTENT_CAUGHT_UP;
    resp.caught_up = &c;
    return pack(out, &resp.base);
}

bool sl_grpc_encode_stream_not_found(struct sl_buf *out, const char *stream, size_t len)
{
    StreamIdMsg sid = stream_id(stream, len);
    EventStore__Client__Streams__ReadResp__StreamNotFound nf =
        EVENT_STORE__CLIENT__STREAMS__READ_RESP__STREAM_NOT_FOUND__INIT;
    nf.stream_identifier = &sid;
    ReadResp resp = EVENT_STORE__CLIENT__STREAMS__READ_RESP__INIT;
    resp.content_case = EVENT_STORE__CLIENT__STREAMS__READ_RESP__CONTENT_STREAM_NOT_FOUND;
    resp.stream_not_found = &nf;
    return pack(out, &resp.base);
}

/* ---- Append ---- */

bool sl_grpc_encode_append_success(struct sl_buf *out, int64_t last_revision, uint64_t position)
{
    EmptyMsg empty = EVENT_STORE__CLIENT__EMPTY__INIT;
    EventStore__Client__Streams__AppendResp__Position pos =
        EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__POSITION__INIT;
    AppendSuccess s = EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__SUCCESS__INIT;
    if (last_revision >= 0) {
        s.current_revision_option_case =
            EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__SUCCESS__CURRENT_REVISION_OPTION_CURRENT_REVISION;
        s.current_revision = (uint64_t)last_revision;
    } else {
        s.current_revision_option_case =
            EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__SUCCESS__CURRENT_REVISION_OPTION_NO_STREAM;
        s.no_stream = &empty;
    }
    if (position > 0) {
        pos.commit_position = position;
        pos.prepare_position = position;
        s.position_option_case = EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__SUCCESS__POSITION_OPTION_POSITION;
        s.position = &pos;
    } else {
        s.position_option_case =
            EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__SUCCESS__POSITION_OPTION_NO_POSITION;
        s.no_position = &empty;
    }
    AppendResp resp = EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__INIT;
    resp.result_case = EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__RESULT_SUCCESS;
    resp.success = &s;
    return pack(out, &resp.base);
}

bool sl_grpc_encode_append_wrong_version(struct sl_buf *out, const struct sl_expected *expected,
                                         int64_t actual)
{
    EmptyMsg empty = EVENT_STORE__CLIENT__EMPTY__INIT;
    AppendWrongVersion w = EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__INIT;
    if (actual >= 0) {
        w.current_revision_option_case =
            EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__CURRENT_REVISION_OPTION_CURRENT_REVISION;
        w.current_revision = (uint64_t)actual;
    } else {
        w.current_revision_option_case =
            EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__CURRENT_REVISION_OPTION_CURRENT_NO_STREAM;
        w.current_no_stream = &empty;
    }
    switch (expected->kind) {
    case SL_EXPECT_REVISION:
        w.expected_revision_option_case =
            EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__EXPECTED_REVISION_OPTION_EXPECTED_REVISION;
        w.expected_revision = (uint64_t)expected->revision;
        break;
    case SL_EXPECT_ANY:
        w.expected_revision_option_case =
            EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__EXPECTED_REVISION_OPTION_EXPECTED_ANY;
        w.expected_any = &empty;
        break;
    case SL_EXPECT_EXISTS:
        w.expected_revision_option_case =
            EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__EXPECTED_REVISION_OPTION_EXPECTED_STREAM_EXISTS;
        w.expected_stream_exists = &empty;
        break;
    case SL_EXPECT_NO_STREAM:
        w.expected_revision_option_case =
            EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__WRONG_EXPECTED_VERSION__EXPECTED_REVISION_OPTION_EXPECTED_NO_STREAM;
        w.expected_no_stream = &empty;
        break;
    }
    AppendResp resp = EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__INIT;
    resp.result_case = EVENT_STORE__CLIENT__STREAMS__APPEND_RESP__RESULT_WRONG_EXPECTED_VERSION;
    resp.wrong_expected_version = &w;
    return pack(out, &resp.base);
}

/* ---- Delete and Tombstone ---- */

bool sl_grpc_encode_delete(struct sl_buf *out, bool is_tombstone, uint64_t position)
{
    EmptyMsg empty = EVENT_STORE__CLIENT__EMPTY__INIT;
    if (is_tombstone) {
        EventStore__Client__Streams__TombstoneResp__Position pos =
            EVENT_STORE__CLIENT__STREAMS__TOMBSTONE_RESP__POSITION__INIT;
        EventStore__Client__Streams__TombstoneResp resp = EVENT_STORE__CLIENT__STREAMS__TOMBSTONE_RESP__INIT;
        if (position > 0) {
            pos.commit_position = pos.prepare_position = position;
            resp.position_option_case =
                EVENT_STORE__CLIENT__STREAMS__TOMBSTONE_RESP__POSITION_OPTION_POSITION;
            resp.position = &pos;
        } else {
            resp.position_option_case =
                EVENT_STORE__CLIENT__STREAMS__TOMBSTONE_RESP__POSITION_OPTION_NO_POSITION;
            resp.no_position = &empty;
        }
        return pack(out, &resp.base);
    }
    EventStore__Client__Streams__DeleteResp__Position pos =
        EVENT_STORE__CLIENT__STREAMS__DELETE_RESP__POSITION__INIT;
    EventStore__Client__Streams__DeleteResp resp = EVENT_STORE__CLIENT__STREAMS__DELETE_RESP__INIT;
    if (position > 0) {
        pos.commit_position = pos.prepare_position = position;
        resp.position_option_case = EVENT_STORE__CLIENT__STREAMS__DELETE_RESP__POSITION_OPTION_POSITION;
        resp.position = &pos;
    } else {
        resp.position_option_case = EVENT_STORE__CLIENT__STREAMS__DELETE_RESP__POSITION_OPTION_NO_POSITION;
        resp.no_position = &empty;
    }
    return pack(out, &resp.base);
}

/* ---- ServerFeatures ---- */

bool sl_grpc_encode_supported_methods(struct sl_buf *out, const struct sl_grpc_method *methods, size_t n,
                                      const char *version)
{
    EventStore__Client__ServerFeatures__SupportedMethod *items = calloc(n ? n : 1, sizeof(*items));
    EventStore__Client__ServerFeatures__SupportedMethod **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
    bool ok = items && ptrs;
    for (size_t i = 0; ok && i < n; i++) {
        EventStore__Client__ServerFeatures__SupportedMethod m =
            EVENT_STORE__CLIENT__SERVER_FEATURES__SUPPORTED_METHOD__INIT;
        m.method_name = (char *)methods[i].method;
        m.service_name = (char *)methods[i].service;
        size_t nf = 0;
        while (methods[i].features && methods[i].features[nf])
            nf++;
        m.n_features = nf;
        m.features = (char **)methods[i].features;
        items[i] = m;
        ptrs[i] = &items[i];
    }
    if (ok) {
        EventStore__Client__ServerFeatures__SupportedMethods sm =
            EVENT_STORE__CLIENT__SERVER_FEATURES__SUPPORTED_METHODS__INIT;
        sm.n_methods = n;
        sm.methods = ptrs;
        sm.event_store_server_version = (char *)version;
        ok = pack(out, &sm.base);
    }
    free(items);
    free(ptrs);
    return ok;
}

/* ---- BatchAppend ---- */

/* Fills the fields every BatchAppendResp carries. `cid_text` holds the id's text. */
static void batch_common(BatchResp *resp, UuidMsg *cid, char cid_text[37], const uint8_t correlation_id[16],
                         StreamIdMsg *sid, const struct sl_expected *expected, WireEmpty *empty)
{
    sl_uuid_format(correlation_id, cid_text);
    cid->value_case = EVENT_STORE__CLIENT__UUID__VALUE_STRING;
    cid->string = cid_text;
    resp->correlation_id = cid;
    resp->stream_identifier = sid;
    switch (expected->kind) {
    case SL_EXPECT_REVISION:
        resp->expected_stream_position_case =
            EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__EXPECTED_STREAM_POSITION_STREAM_POSITION;
        resp->stream_position = (uint64_t)expected->revision;
        break;
    case SL_EXPECT_NO_STREAM:
        resp->expected_stream_position_case =
            EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__EXPECTED_STREAM_POSITION_NO_STREAM;
        resp->no_stream = empty;
        break;
    case SL_EXPECT_ANY:
        resp->expected_stream_position_case =
            EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__EXPECTED_STREAM_POSITION_ANY;
        resp->any = empty;
        break;
    case SL_EXPECT_EXISTS:
        resp->expected_stream_position_case =
            EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__EXPECTED_STREAM_POSITION_STREAM_EXISTS;
        resp->stream_exists = empty;
        break;
    }
}

bool sl_grpc_encode_batch_success(struct sl_buf *out, const uint8_t correlation_id[16], const char *stream,
                                  size_t stream_len, const struct sl_expected *expected,
                                  int64_t last_revision, uint64_t position)
{
    WireEmpty empty = SLUICE__WIRE__EMPTY__INIT;
    UuidMsg cid = EVENT_STORE__CLIENT__UUID__INIT;
    char cid_text[37];
    StreamIdMsg sid = stream_id(stream, stream_len);
    EventStore__Client__AllStreamPosition pos = EVENT_STORE__CLIENT__ALL_STREAM_POSITION__INIT;
    EventStore__Client__Streams__BatchAppendResp__Success s =
        EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__SUCCESS__INIT;
    if (last_revision >= 0) {
        s.current_revision_option_case =
            EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__SUCCESS__CURRENT_REVISION_OPTION_CURRENT_REVISION;
        s.current_revision = (uint64_t)last_revision;
    } else {
        s.current_revision_option_case =
            EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__SUCCESS__CURRENT_REVISION_OPTION_NO_STREAM;
        s.no_stream = &empty;
    }
    if (position > 0) {
        pos.commit_position = pos.prepare_position = position;
        s.position_option_case =
            EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__SUCCESS__POSITION_OPTION_POSITION;
        s.position = &pos;
    } else {
        s.position_option_case =
            EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__SUCCESS__POSITION_OPTION_NO_POSITION;
        s.no_position = &empty;
    }
    BatchResp resp = EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__INIT;
    batch_common(&resp, &cid, cid_text, correlation_id, &sid, expected, &empty);
    resp.result_case = EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__RESULT_SUCCESS;
    resp.success = &s;
    return pack(out, &resp.base);
}

/* Packs the detail message of a BatchAppend error; *type names it. */
static bool pack_detail(struct sl_buf *detail, const char **type, const char *stream, size_t stream_len,
                        const struct sl_expected *expected, const struct sl_grpc_batch_error *e)
{
    EmptyMsg empty = EVENT_STORE__CLIENT__EMPTY__INIT;
    switch (e->detail) {
    case SL_GRPC_DETAIL_WRONG_EXPECTED_VERSION: {
        *type = "event_store.client.WrongExpectedVersion";
        EventStore__Client__WrongExpectedVersion w = EVENT_STORE__CLIENT__WRONG_EXPECTED_VERSION__INIT;
        if (e->actual_revision >= 0) {
            w.current_stream_revision_option_case =
                EVENT_STORE__CLIENT__WRONG_EXPECTED_VERSION__CURRENT_STREAM_REVISION_OPTION_CURRENT_STREAM_REVISION;
            w.current_stream_revision = (uint64_t)e->actual_revision;
        } else {
            w.current_stream_revision_option_case =
                EVENT_STORE__CLIENT__WRONG_EXPECTED_VERSION__CURRENT_STREAM_REVISION_OPTION_CURRENT_NO_STREAM;
            w.current_no_stream = &empty;
        }
        switch (expected->kind) {
        case SL_EXPECT_REVISION:
            w.expected_stream_position_option_case =
                EVENT_STORE__CLIENT__WRONG_EXPECTED_VERSION__EXPECTED_STREAM_POSITION_OPTION_EXPECTED_STREAM_POSITION;
            w.expected_stream_position = (uint64_t)expected->revision;
            break;
        case SL_EXPECT_ANY:
            w.expected_stream_position_option_case =
                EVENT_STORE__CLIENT__WRONG_EXPECTED_VERSION__EXPECTED_STREAM_POSITION_OPTION_EXPECTED_ANY;
            w.expected_any = &empty;
            break;
        case SL_EXPECT_EXISTS:
            w.expected_stream_position_option_case =
                EVENT_STORE__CLIENT__WRONG_EXPECTED_VERSION__EXPECTED_STREAM_POSITION_OPTION_EXPECTED_STREAM_EXISTS;
            w.expected_stream_exists = &empty;
            break;
        case SL_EXPECT_NO_STREAM:
            w.expected_stream_position_option_case =
                EVENT_STORE__CLIENT__WRONG_EXPECTED_VERSION__EXPECTED_STREAM_POSITION_OPTION_EXPECTED_NO_STREAM;
            w.expected_no_stream = &empty;
            break;
        }
        return pack(detail, &w.base);
    }
    case SL_GRPC_DETAIL_STREAM_DELETED: {
        *type = "event_store.client.StreamDeleted";
        StreamIdMsg sid = stream_id(stream, stream_len);
        EventStore__Client__StreamDeleted d = EVENT_STORE__CLIENT__STREAM_DELETED__INIT;
        d.stream_identifier = &sid;
        return pack(detail, &d.base);
    }
    case SL_GRPC_DETAIL_MAXIMUM_APPEND_SIZE_EXCEEDED: {
        *type = "event_store.client.MaximumAppendSizeExceeded";
        EventStore__Client__MaximumAppendSizeExceeded m =
            EVENT_STORE__CLIENT__MAXIMUM_APPEND_SIZE_EXCEEDED__INIT;
        m.maxappendsize = e->max_append_size;
        return pack(detail, &m.base);
    }
    case SL_GRPC_DETAIL_TIMEOUT: {
        *type = "event_store.client.Timeout";
        EventStore__Client__Timeout t = EVENT_STORE__CLIENT__TIMEOUT__INIT;
        return pack(detail, &t.base);
    }
    case SL_GRPC_DETAIL_UNKNOWN:
        break;
    }
    *type = "event_store.client.Unknown";
    EventStore__Client__Unknown u = EVENT_STORE__CLIENT__UNKNOWN__INIT;
    return pack(detail, &u.base);
}

bool sl_grpc_encode_batch_error(struct sl_buf *out, const uint8_t correlation_id[16], const char *stream,
                                size_t stream_len, const struct sl_expected *expected,
                                const struct sl_grpc_batch_error *e)
{
    struct sl_buf detail;
    sl_buf_init(&detail);
    const char *type = NULL;
    char type_url[96];
    bool ok = pack_detail(&detail, &type, stream, stream_len, expected, e);
    if (ok) {
        snprintf(type_url, sizeof(type_url), "type.googleapis.com/%s", type);
        Sluice__Wire__Any any = SLUICE__WIRE__ANY__INIT;
        any.type_url = type_url;
        any.value.data = (uint8_t *)detail.data;
        any.value.len = detail.len;
        Sluice__Wire__Status status = SLUICE__WIRE__STATUS__INIT;
        status.code = e->status;
        status.message = (char *)(e->message ? e->message : "");
        status.details = &any;

        WireEmpty empty = SLUICE__WIRE__EMPTY__INIT;
        UuidMsg cid = EVENT_STORE__CLIENT__UUID__INIT;
        char cid_text[37];
        StreamIdMsg sid = stream_id(stream, stream_len);
        BatchResp resp = EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__INIT;
        batch_common(&resp, &cid, cid_text, correlation_id, &sid, expected, &empty);
        resp.result_case = EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_RESP__RESULT_ERROR;
        resp.error = &status;
        ok = pack(out, &resp.base);
    }
    sl_buf_free(&detail);
    return ok;
}
