#include "connectors/records.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/codec.h"

void sl_record_batch_reset(struct sl_record_batch *b)
{
    b->count = 0;
    b->payload_bytes = 0;
}

void sl_record_batch_free(struct sl_record_batch *b)
{
    for (size_t i = 0; i < b->cap; i++) {
        sl_buf_free(&b->slots[i].strings);
        free(b->slots[i].headers);
        free(b->slots[i].offsets);
    }
    free(b->slots);
    free(b->records);
    memset(b, 0, sizeof(*b));
}

static bool add_header(struct sl_record_slot *s, const char *name, const char *value, size_t value_len)
{
    if (s->n_headers == s->cap_headers) {
        size_t cap = s->cap_headers ? s->cap_headers * 2 : 16;
        size_t *offsets = realloc(s->offsets, cap * 2 * sizeof(*offsets));
        if (offsets == NULL)
            return false;
        s->offsets = offsets;
        struct sl_header *h = realloc(s->headers, cap * sizeof(*h));
        if (h == NULL)
            return false;
        s->headers = h;
        s->cap_headers = cap;
    }
    s->offsets[2 * s->n_headers] = s->strings.len;
    sl_buf_append(&s->strings, name, strlen(name) + 1);
    s->offsets[2 * s->n_headers + 1] = s->strings.len;
    sl_buf_append(&s->strings, value, value_len);
    sl_buf_putc(&s->strings, '\0');
    s->n_headers++;
    return !s->strings.failed;
}

static bool add_metadata_headers(struct sl_record_slot *s, const struct sl_event *ev, bool ignore_system)
{
    if (!(ev->flags & SL_EVENT_META_IS_JSON) || ev->metadata_len == 0)
        return true;
    json_t *meta = json_loadb(ev->metadata, ev->metadata_len, 0, NULL);
    if (!json_is_object(meta)) {
        json_decref(meta);
        return true;
    }
    bool ok = true;
    const char *key;
    json_t *v;
    char name[320];
    json_object_foreach(meta, key, v)
    {
        if (ignore_system && key[0] == '$')
            continue;
        snprintf(name, sizeof(name), "esdb-record-headers-%s", key);
        if (json_is_string(v)) {
            ok = add_header(s, name, json_string_value(v), json_string_length(v));
        } else {
            char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            ok = text && add_header(s, name, text, strlen(text));
            free(text);
        }
        if (!ok)
            break;
    }
    json_decref(meta);
    return ok;
}

/* A fresh UUID per record, from the batch's own generator: request ids must
 * be unique, not secret, and libuuid makes five system calls per id. */
static void make_request_id(struct sl_record_batch *b, char out[37])
{
    if (!b->has_request_ids) {
        sl_fastrand_seed(&b->request_ids);
        b->has_request_ids = true;
    }
    sl_fastrand_uuid_text(&b->request_ids, out);
}

bool sl_record_batch_add(struct sl_record_batch *b, const char *connector_id, const struct sl_event *ev,
                         bool ignore_system_headers)
{
    if (b->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct sl_record_slot *slots = realloc(b->slots, cap * sizeof(*slots));
        if (slots == NULL)
            return false;
        memset(slots + b->cap, 0, (cap - b->cap) * sizeof(*slots));
        b->slots = slots;
        struct sl_sink_record *recs = realloc(b->records, cap * sizeof(*recs));
        if (recs == NULL)
            return false;
        b->records = recs;
        b->cap = cap;
    }
    struct sl_record_slot *s = &b->slots[b->count];
    sl_buf_reset(&s->strings);
    s->n_headers = 0;

    /* Hand-formatted: libuuid and snprintf took most of the time a record took to build. */
    char id[37], request_id[37], created[32], now[32], revision[SL_DECIMAL_MAX], position[SL_DECIMAL_MAX];
    sl_uuid_format(ev->id, id);
    make_request_id(b, request_id);
    sl_format_rfc3339_us_cached(&b->created_text, ev->created_us, created);
    sl_format_rfc3339_us_cached(&b->now_text, sl_now_us(), now);
    size_t revision_len = sl_format_i64(ev->revision, revision);
    size_t position_len = sl_format_u64(ev->position, position);
    bool is_json = ev->flags & SL_EVENT_JSON;

    bool ok = add_header(s, "esdb-connector-id", connector_id, strlen(connector_id)) &&
              add_header(s, "esdb-request-id", request_id, 36) &&
              add_header(s, "esdb-request-date", now, SL_RFC3339_US_LEN) &&
              add_header(s, "esdb-record-id", id, 36) &&
              add_header(s, "esdb-record-timestamp", created, SL_RFC3339_US_LEN) &&
              add_header(s, "esdb-record-stream-id", ev->stream, ev->stream_len) &&
              add_header(s, "esdb-record-stream-revision", revision, revision_len) &&
              add_header(s, "esdb-record-log-position", position, position_len) &&
              add_header(s, "esdb-record-schema-subject", ev->type, ev->type_len) &&
              add_header(s, "esdb-record-schema-type", is_json ? "Json" : "Bytes", is_json ? 4 : 5) &&
              add_metadata_headers(s, ev, ignore_system_headers);
    /* Strings that the record points to, after the headers. */
    size_t stream_off = s->strings.len;
    sl_buf_append(&s->strings, ev->stream, ev->stream_len);
    sl_buf_putc(&s->strings, '\0');
    size_t type_off = s->strings.len;
    sl_buf_append(&s->strings, ev->type, ev->type_len);
    sl_buf_putc(&s->strings, '\0');
    size_t id_off = s->strings.len;
    sl_buf_append(&s->strings, id, 37);
    s->payload_off = s->strings.len;
    s->payload_len = ev->data_len;
    sl_buf_append(&s->strings, ev->data, ev->data_len);
    if (!ok || s->strings.failed)
        return false;

    /* `strings` is complete: now its pointers are stable. */
    const char *base = s->strings.data;
    for (size_t i = 0; i < s->n_headers; i++) {
        s->headers[i].name = base + s->offsets[2 * i];
        s->headers[i].value = base + s->offsets[2 * i + 1];
    }
    struct sl_sink_record *r = &b->records[b->count];
    memset(r, 0, sizeof(*r));
    r->position = ev->position;
    r->revision = ev->revision;
    r->created_us = ev->created_us;
    r->record_id = base + id_off;
    r->stream = base + stream_off;
    r->stream_len = ev->stream_len;
    r->type = base + type_off;
    r->type_len = ev->type_len;
    r->is_json = is_json;
    r->content_type = is_json ? "application/json" : "application/octet-stream";
    r->payload = base + s->payload_off;
    r->payload_len = ev->data_len;
    r->headers = s->headers;
    r->n_headers = s->n_headers;
    b->payload_bytes += ev->data_len;
    b->count++;
    return true;
}
