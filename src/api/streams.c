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

/* The single-event form: ES-EventType header and the raw body. */
static void append_single(struct sl_api *api, struct sl_http_request *req, const char *name, size_t len,
                          const char *type, const struct sl_expected *expected)
{
    bool is_json = starts_with(sl_http_header(req, "content-type"), CT_JSON);
    if (is_json) {
        json_error_t jerr;
        json_t *v = json_loadb(req->body, req->body_len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &jerr);
        if (v == NULL) {
            sl_api_error(req, 400, "invalid-json", "body",
                         "the body is not valid JSON: %s at line %d column %d", jerr.text, jerr.line,
                         jerr.column);
            return;
        }
        json_decref(v);
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

/* The text of member `key` exactly as the client wrote it, found in the raw
 * element. A key spelled with escapes (e.g. "d\u0061ta") is not found in the
 * raw text: then the value jansson parsed is encoded again, compactly. */
static bool raw_member(struct sl_pending_write *p, struct sl_json_slice raw, const char *key, json_t *parsed,
                       const void **out, size_t *out_len)
{
    struct sl_json_slice v;
    if (sl_json_member(raw.text, raw.len, key, &v)) {
        *out = v.text;
        *out_len = v.len;
        return true;
    }
    char *text = json_dumps(parsed, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL || !sl_pending_write_own(p, text))
        return false;
    *out = text;
    *out_len = strlen(text);
    return true;
}

/* Fills `ev` from element `i` of the array; on failure ends the request. */
static bool parse_event(struct sl_http_request *req, struct sl_pending_write *p, json_t *obj,
                        struct sl_json_slice raw, size_t i, struct sl_new_event *ev)
{
    char field[48];
    if (!json_is_object(obj)) {
        snprintf(field, sizeof(field), "[%zu]", i);
        sl_api_error(req, 400, "invalid-argument", field, "event %zu must be a JSON object", i);
        return false;
    }
    json_t *type = json_object_get(obj, "eventType");
    if (!json_is_string(type) || json_string_length(type) == 0) {
        snprintf(field, sizeof(field), "[%zu].eventType", i);
        sl_api_error(req, 400, "invalid-argument", field, "event %zu needs an eventType: a non-empty string",
                     i);
        return false;
    }
    ev->type = json_string_value(type);
    ev->type_len = json_string_length(type);

    json_t *id = json_object_get(obj, "eventId");
    if (id == NULL || json_is_null(id)) {
        sl_uuid_generate(ev->id);
    } else if (!json_is_string(id) || !sl_uuid_parse(json_string_value(id), json_string_length(id), ev->id)) {
        snprintf(field, sizeof(field), "[%zu].eventId", i);
        sl_api_error(req, 400, "invalid-argument", field, "event %zu has an eventId that is not a UUID", i);
        return false;
    }

    json_t *ct = json_object_get(obj, "contentType");
    bool is_json = true;
    if (ct != NULL && !json_is_null(ct)) {
        const char *s = json_is_string(ct) ? json_string_value(ct) : "";
        if (strcmp(s, CT_BINARY) == 0) {
            is_json = false;
        } else if (strcmp(s, CT_JSON) != 0) {
            snprintf(field, sizeof(field), "[%zu].contentType", i);
            sl_api_error(req, 400, "invalid-argument", field, "event %zu: contentType must be %s or %s", i,
                         CT_JSON, CT_BINARY);
            return false;
        }
    }

    json_t *data = json_object_get(obj, "data");
    if (data == NULL) {
        snprintf(field, sizeof(field), "[%zu].data", i);
        sl_api_error(req, 400, "invalid-argument", field, "event %zu has no data", i);
        return false;
    }
    json_t *meta = json_object_get(obj, "metadata");
    if (meta && json_is_null(meta))
        meta = NULL;

    if (is_json) {
        ev->flags = SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON;
        if (!raw_member(p, raw, "data", data, &ev->data, &ev->data_len))
            goto oom;
        if (meta) {
            ev->flags |= SL_EVENT_META_IS_JSON;
            if (!raw_member(p, raw, "metadata", meta, &ev->metadata, &ev->metadata_len))
                goto oom;
        }
        return true;
    oom:
        sl_api_error(req, 500, "out-of-memory", NULL, "out of memory");
        return false;
    }

    /* Binary: data and metadata are base64 strings. */
    json_t *parts[2] = {data, meta};
    const char *names[2] = {"data", "metadata"};
    for (int k = 0; k < 2; k++) {
        if (parts[k] == NULL)
            continue;
        size_t n = 0;
        uint8_t *bytes = json_is_string(parts[k])
                             ? sl_base64_decode(json_string_value(parts[k]), json_string_length(parts[k]), &n)
                             : NULL;
        if (bytes == NULL) {
            snprintf(field, sizeof(field), "[%zu].%s", i, names[k]);
            sl_api_error(req, 400, "invalid-argument", field,
                         "event %zu is application/octet-stream, so %s must be a base64 string", i, names[k]);
            return false;
        }
        if (!sl_pending_write_own(p, bytes)) {
            sl_api_error(req, 500, "out-of-memory", NULL, "out of memory");
            return false;
        }
        if (k == 0) {
            ev->data = bytes;
            ev->data_len = n;
        } else {
            ev->metadata = bytes;
            ev->metadata_len = n;
        }
    }
    ev->flags = 0;
    return true;
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

    /* Payloads are stored as written: numbers are only checked, so integers of
     * any size are accepted (read as reals, never encoded again). */
    json_error_t jerr;
    json_t *root =
        json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
    if (root == NULL) {
        sl_api_error(req, 400, "invalid-json", "body", "the body is not valid JSON: %s at line %d column %d",
                     jerr.text, jerr.line, jerr.column);
        return;
    }
    if (!json_is_array(root) || json_array_size(root) == 0) {
        json_decref(root);
        sl_api_error(req, 400, "invalid-argument", "body",
                     "the body must be a non-empty JSON array of events");
        return;
    }
    size_t n = json_array_size(root);
    struct sl_pending_write *p = sl_pending_write_new(api, req, name, len, n);
    if (p == NULL) {
        json_decref(root);
        sl_api_error(req, 500, "out-of-memory", NULL, "out of memory");
        return;
    }
    /* Event types point into `root`: keep it alive with the write. The raw
     * text of each element is walked alongside, once (not from the start for
     * every element). */
    struct sl_json_slice body = {req->body, req->body_len}, raw = {NULL, 0};
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (!sl_json_next_item(body, &pos, &raw))
            raw.len = 0; /* not found: raw_member falls back to jansson */
        if (!parse_event(req, p, json_array_get(root, i), raw, i, &p->events[i])) {
            json_decref(root);
            sl_pending_write_free(p);
            return;
        }
    }
    /* The body's CR/LF are JSON white space: making payloads one line keeps
     * Server-Sent Events framing intact. Spans stay where they were. */
    sl_json_one_line(req->body, req->body_len);
    p->w.kind = SL_WRITE_APPEND;
    p->w.expected = expected;
    p->root = root;
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
