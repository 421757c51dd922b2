/* streams.c: append, read, delete and metadata of streams (docs/http-api.md). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/event_json.h"
#include "api/request.h"
#include "api/respond.h"
#include "api/write_request.h"
#include "store/filter.h"
#include "util/codec.h"
#include "util/json_check.h"
#include "util/json_text.h"

#define CT_JSON "application/json"
#define CT_BINARY "application/octet-stream"
/* A filtered $all read examines at most this many events per request. */
#define MAX_SCAN_PER_READ 100000

static bool starts_with(const char *s, const char *prefix)
{
    return s && strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- append ---- */

/* Answers 400 for a body (or part) that is not one JSON text. */
static bool check_json(struct sl_http_request *req, const char *text, size_t len, const char *what)
{
    struct sl_json_problem problem;
    if (sl_json_check(text, len, &problem))
        return true;
    sl_api_error(req, 400, "invalid-json", "body",
                 "%s is not valid JSON: %s at line %zu column %zu (byte %zu)", what, problem.rule,
                 problem.line, problem.column, problem.offset);
    return false;
}

/* The single-event form: ES-EventType header and the raw body. */
static void append_single(struct sl_api *api, struct sl_http_request *req, const char *name, size_t len,
                          const char *type, const struct sl_expected *expected)
{
    bool is_json = starts_with(sl_http_header(req, "content-type"), CT_JSON);
    if (is_json) {
        if (!check_json(req, req->body, req->body_len, "the body"))
            return;
        sl_json_one_line(req->body, req->body_len);
    }
    struct sl_pending_write *p = sl_pending_write_new(api, req, name, len, 1);
    if (p == NULL) {
        sl_api_error(req, 500, "out-of-memory", NULL, "out of memory");
        return;
    }
    struct sl_new_event *ev = &p->events[0];
    const char *id = sl_http_header(req, "es-eventid");
    if (id == NULL) {
        sl_uuid_generate(ev->id);
    } else if (!sl_uuid_parse(id, strlen(id), ev->id)) {
        sl_pending_write_free(p);
        sl_api_error(req, 400, "invalid-argument", "ES-EventId", "ES-EventId must be a UUID");
        return;
    }
    ev->type = type;
    ev->type_len = strlen(type);
    ev->flags = is_json ? SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON : 0;
    ev->data = req->body;
    ev->data_len = req->body_len;
    p->w.kind = SL_WRITE_APPEND;
    p->w.expected = *expected;
    sl_api_submit_write(p);
}

/* The members of one element of an append body, as raw text (text == NULL: absent). */
struct event_members {
    struct sl_json_slice type, id, content_type, data, metadata;
};

static bool is_null(struct sl_json_slice v)
{
    return v.text == NULL || (v.len == 4 && memcmp(v.text, "null", 4) == 0);
}

static bool is_string(struct sl_json_slice v)
{
    return v.text != NULL && v.len >= 2 && v.text[0] == '"';
}

/* The text between a string value's quotes. */
static struct sl_json_slice string_inside(struct sl_json_slice v)
{
    struct sl_json_slice in = {v.text + 1, v.len - 2};
    return in;
}

/* True when the member name `raw` (escapes not decoded) reads `word`. */
static bool name_is(struct sl_json_slice raw, const char *word)
{
    size_t n = strlen(word);
    if (!sl_json_has_escapes(raw))
        return raw.len == n && memcmp(raw.text, word, n) == 0;
    char decoded[32];
    if (raw.len >= sizeof(decoded))
        return false;
    return sl_json_unescape(raw, decoded) == n && memcmp(decoded, word, n) == 0;
}

/* Sorts the members of element `i` into `m`; a known member given twice is refused. */
static bool collect_members(struct sl_http_request *req, struct sl_json_slice obj, size_t i,
                            struct event_members *m)
{
    static const char *const names[] = {"eventType", "eventId", "contentType", "data", "metadata"};
    struct sl_json_slice *slots[] = {&m->type, &m->id, &m->content_type, &m->data, &m->metadata};
    memset(m, 0, sizeof(*m));
    struct sl_json_slice name, value;
    size_t pos = 0;
    while (sl_json_next_member(obj, &pos, &name, &value)) {
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
            if (!name_is(name, names[k]))
                continue;
            if (slots[k]->text != NULL) {
                char field[48];
                snprintf(field, sizeof(field), "[%zu].%s", i, names[k]);
                sl_api_error(req, 400, "invalid-argument", field, "event %zu has the member %s twice", i,
                             names[k]);
                return false;
            }
            *slots[k] = value;
            break;
        }
    }
    return true;
}

/* The decoded text of string value `v`: a pointer into the body when it has
 * no escapes, else a decoded copy the write owns. NULL only when out of memory. */
static const char *string_value(struct sl_pending_write *p, struct sl_json_slice v, size_t *len)
{
    struct sl_json_slice in = string_inside(v);
    if (!sl_json_has_escapes(in)) {
        *len = in.len;
        return in.text;
    }
    char *copy = malloc(in.len + 1);
    if (copy == NULL || !sl_pending_write_own(p, copy))
        return NULL;
    *len = sl_json_unescape(in, copy);
    return copy;
}

/* Decodes a base64 string member of a binary event into bytes the write owns. */
static bool binary_member(struct sl_http_request *req, struct sl_pending_write *p, struct sl_json_slice v,
                          size_t i, const char *name, const void **out, size_t *out_len)
{
    char field[48];
    size_t text_len = 0;
    const char *text = is_string(v) ? string_value(p, v, &text_len) : NULL;
    uint8_t *bytes = text ? sl_base64_decode(text, text_len, out_len) : NULL;
    if (bytes == NULL) {
        snprintf(field, sizeof(field), "[%zu].%s", i, name);
        sl_api_error(req, 400, "invalid-argument", field,
                     "event %zu is application/octet-stream, so %s must be a base64 string", i, name);
        return false;
    }
    if (!sl_pending_write_own(p, bytes)) {
        sl_api_error(req, 500, "out-of-memory", NULL, "out of memory");
        return false;
    }
    *out = bytes;
    return true;
}

/* Fills `ev` from element `i` of the array (its checked JSON text); on failure ends the request. */
static bool parse_event(struct sl_http_request *req, struct sl_pending_write *p, struct sl_json_slice obj,
                        size_t i, struct sl_new_event *ev)
{
    char field[48];
    if (obj.text[0] != '{') {
        snprintf(field, sizeof(field), "[%zu]", i);
        sl_api_error(req, 400, "invalid-argument", field, "event %zu must be a JSON object", i);
        return false;
    }
    struct event_members m;
    if (!collect_members(req, obj, i, &m))
        return false;

    if (!is_string(m.type) || m.type.len == 2) {
        snprintf(field, sizeof(field), "[%zu].eventType", i);
        sl_api_error(req, 400, "invalid-argument", field, "event %zu needs an eventType: a non-empty string",
                     i);
        return false;
    }
    ev->type = string_value(p, m.type, &ev->type_len);
    if (ev->type == NULL)
        goto oom;

    if (is_null(m.id)) {
        sl_uuid_generate(ev->id);
    } else {
        size_t id_len = 0;
        const char *id = is_string(m.id) ? string_value(p, m.id, &id_len) : "";
        if (id == NULL)
            goto oom;
        if (!sl_uuid_parse(id, id_len, ev->id)) {
            snprintf(field, sizeof(field), "[%zu].eventId", i);
            sl_api_error(req, 400, "invalid-argument", field, "event %zu has an eventId that is not a UUID",
                         i);
            return false;
        }
    }

    bool is_json = true;
    if (!is_null(m.content_type)) {
        size_t ct_len = 0;
        const char *ct = is_string(m.content_type) ? string_value(p, m.content_type, &ct_len) : "";
        if (ct == NULL)
            goto oom;
        if (ct_len == strlen(CT_BINARY) && memcmp(ct, CT_BINARY, ct_len) == 0) {
            is_json = false;
        } else if (ct_len != strlen(CT_JSON) || memcmp(ct, CT_JSON, ct_len) != 0) {
            snprintf(field, sizeof(field), "[%zu].contentType", i);
            sl_api_error(req, 400, "invalid-argument", field, "event %zu: contentType must be %s or %s", i,
                         CT_JSON, CT_BINARY);
            return false;
        }
    }

    if (m.data.text == NULL) {
        snprintf(field, sizeof(field), "[%zu].data", i);
        sl_api_error(req, 400, "invalid-argument", field, "event %zu has no data", i);
        return false;
    }
    bool has_metadata = !is_null(m.metadata);
    if (is_json) {
        /* Stored as written: the body was checked as a whole. */
        ev->flags = SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON | (has_metadata ? SL_EVENT_META_IS_JSON : 0);
        ev->data = m.data.text;
        ev->data_len = m.data.len;
        if (has_metadata) {
            ev->metadata = m.metadata.text;
            ev->metadata_len = m.metadata.len;
        }
        return true;
    }
    ev->flags = 0;
    if (!binary_member(req, p, m.data, i, "data", &ev->data, &ev->data_len))
        return false;
    return !has_metadata ||
           binary_member(req, p, m.metadata, i, "metadata", &ev->metadata, &ev->metadata_len);
oom:
    sl_api_error(req, 500, "out-of-memory", NULL, "out of memory");
    return false;
}

/* Counts the elements of a checked JSON array. */
static size_t count_items(struct sl_json_slice array)
{
    struct sl_json_slice item;
    size_t pos = 0, n = 0;
    while (sl_json_next_item(array, &pos, &item))
        n++;
    return n;
}

void sl_api_append(struct sl_api *api, struct sl_http_request *req, const char *name, size_t len)
{
    struct sl_expected expected;
    if (!sl_api_expected_revision(req, &expected))
        return;
    const char *type = sl_http_header(req, "es-eventtype");
    if (type != NULL) {
        append_single(api, req, name, len, type, &expected);
        return;
    }

    /* The body is checked once; events then point into it (payloads are
     * stored as written, so integers of any size are kept). */
    if (!check_json(req, req->body, req->body_len, "the body"))
        return;
    struct sl_json_slice body = {req->body, req->body_len};
    size_t n = count_items(body);
    if (n == 0) {
        sl_api_error(req, 400, "invalid-argument", "body",
                     "the body must be a non-empty JSON array of events");
        return;
    }
    struct sl_pending_write *p = sl_pending_write_new(api, req, name, len, n);
    if (p == NULL) {
        sl_api_error(req, 500, "out-of-memory", NULL, "out of memory");
        return;
    }
    struct sl_json_slice item;
    size_t pos = 0;
    for (size_t i = 0; i < n && sl_json_next_item(body, &pos, &item); i++) {
        if (!parse_event(req, p, item, i, &p->events[i])) {
            sl_pending_write_free(p);
            return;
        }
    }
    /* The body's CR/LF are JSON white space: making payloads one line keeps
     * Server-Sent Events framing intact. Spans stay where they were. */
    sl_json_one_line(req->body, req->body_len);
    p->w.kind = SL_WRITE_APPEND;
    p->w.expected = expected;
    sl_api_submit_write(p);
}

/* ---- reads ---- */

static void respond_events(struct sl_http_request *req, const struct sl_read_result *r)
{
    struct sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, "{\"events\":[");
    for (size_t i = 0; i < r->count; i++) {
        if (i)
            sl_buf_putc(&b, ',');
        sl_event_to_json(&b, &r->events[i]);
    }
    if (r->has_next)
        sl_buf_printf(&b, "],\"next\":%lld}", (long long)r->next);
    else
        sl_buf_puts(&b, "],\"next\":null}");
    sl_api_json(req, 200, &b);
    sl_buf_free(&b);
}

void sl_api_read_stream(struct sl_api *api, struct sl_http_request *req, const char *name, size_t len)
{
    struct sl_read_params rp;
    if (!sl_api_read_params(req, &rp))
        return;
    int64_t from = rp.from_start ? 0 : rp.from_end ? SL_REVISION_END : rp.from;
    struct sl_read_result r = {0};
    struct sl_error err = {0};
    if (sl_store_read_stream(api->store, name, len, from, rp.backwards, rp.count, &r, &err) != SL_OK)
        sl_api_fail(req, &err);
    else
        respond_events(req, &r);
    sl_read_result_free(&r);
}

void sl_api_read_all(struct sl_api *api, struct sl_http_request *req)
{
    struct sl_read_params rp;
    struct sl_filter *filter;
    if (!sl_api_read_params(req, &rp) || !sl_api_filter_param(req, &filter))
        return;
    uint64_t from = rp.from_start ? 0
                    : rp.from_end ? (rp.backwards ? SL_POSITION_END : sl_store_head(api->store) + 1)
                                  : (uint64_t)rp.from;
    struct sl_read_result r = {0};
    struct sl_error err = {0};
    if (sl_store_read_all(api->store, from, rp.backwards, rp.count, filter, filter ? MAX_SCAN_PER_READ : 0,
                          &r, &err) != SL_OK)
        sl_api_fail(req, &err);
    else
        respond_events(req, &r);
    sl_read_result_free(&r);
    sl_filter_free(filter);
}

/* ---- delete ---- */

void sl_api_delete_stream(struct sl_api *api, struct sl_http_request *req, const char *name, size_t len)
{
    struct sl_expected expected;
    if (!sl_api_expected_revision(req, &expected))
        return;
    char *hard = sl_http_query_param(req, "hard");
    bool is_hard = hard && (strcmp(hard, "true") == 0 || strcmp(hard, "1") == 0);
    bool bad = hard && !is_hard && strcmp(hard, "false") != 0 && strcmp(hard, "0") != 0;
    free(hard);
    if (bad) {
        sl_api_error(req, 400, "invalid-argument", "hard", "hard must be true or false");
        return;
    }
    struct sl_pending_write *p = sl_pending_write_new(api, req, name, len, 0);
    if (p == NULL) {
        sl_api_error(req, 500, "out-of-memory", NULL, "out of memory");
        return;
    }
    p->w.kind = is_hard ? SL_WRITE_TOMBSTONE : SL_WRITE_DELETE;
    p->w.expected = expected;
    p->success_status = 204;
    sl_api_submit_write(p);
}

/* ---- metadata ---- */

void sl_api_get_metadata(struct sl_api *api, struct sl_http_request *req, const char *name, size_t len)
{
    char *json = NULL;
    int64_t rev;
    struct sl_error err = {0};
    if (sl_store_get_metadata(api->store, name, len, &json, &rev, &err) != SL_OK) {
        sl_api_fail(req, &err);
        return;
    }
    sl_http_respond(req, 200, "application/json", json, strlen(json), NULL);
    free(json);
}

static bool check_limit(struct sl_http_request *req, json_t *meta, const char *key, json_int_t min)
{
    json_t *v = json_object_get(meta, key);
    if (v == NULL || json_is_null(v))
        return true;
    if (json_is_integer(v) && json_integer_value(v) >= min)
        return true;
    sl_api_error(req, 400, "invalid-argument", key, "%s must be an integer >= %lld", key, (long long)min);
    return false;
}

void sl_api_put_metadata(struct sl_api *api, struct sl_http_request *req, const char *name, size_t len)
{
    struct sl_expected expected;
    if (!sl_api_expected_revision(req, &expected))
        return;
    json_error_t jerr;
    json_t *meta = json_loadb(req->body, req->body_len, 0, &jerr);
    if (meta == NULL) {
        sl_api_error(req, 400, "invalid-json", "body", "the metadata is not valid JSON: %s", jerr.text);
        return;
    }
    bool ok = json_is_object(meta);
    if (!ok)
        sl_api_error(req, 400, "invalid-argument", "body", "the metadata must be a JSON object");
    ok = ok && check_limit(req, meta, "$maxCount", 1) && check_limit(req, meta, "$maxAge", 1) &&
         check_limit(req, meta, "$tb", 0);
    json_decref(meta);
    if (!ok)
        return;
    if (len > SL_MAX_STREAM_NAME) {
        sl_api_error(req, 400, "invalid-argument", "stream", "the stream name is %zu bytes; the limit is %d",
                     len, SL_MAX_STREAM_NAME);
        return;
    }

    char meta_name[SL_MAX_STREAM_NAME + 3] = "$$";
    memcpy(meta_name + 2, name, len);
    struct sl_pending_write *p = sl_pending_write_new(api, req, meta_name, len + 2, 1);
    if (p == NULL) {
        sl_api_error(req, 500, "out-of-memory", NULL, "out of memory");
        return;
    }
    sl_json_one_line(req->body, req->body_len);
    struct sl_new_event *ev = &p->events[0];
    sl_uuid_generate(ev->id);
    ev->type = "$metadata";
    ev->type_len = strlen("$metadata");
    ev->flags = SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON;
    ev->data = req->body;
    ev->data_len = req->body_len;
    p->w.kind = SL_WRITE_APPEND;
    p->w.expected = expected;
    sl_api_submit_write(p);
}
