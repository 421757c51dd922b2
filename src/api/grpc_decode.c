/* grpc_decode.c: request messages of the Streams service into plain C values (grpc_codec.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/grpc_codec.h"
#include "streams.pb-c.h"
#include "util/codec.h"
#include "util/json_check.h"

typedef EventStore__Client__UUID UuidMsg;
typedef EventStore__Client__StreamIdentifier StreamIdMsg;
typedef EventStore__Client__Streams__ReadReq ReadReq;
typedef EventStore__Client__Streams__ReadReq__Options ReadOptions;
typedef EventStore__Client__Streams__ReadReq__Options__FilterOptions FilterOptions;
typedef EventStore__Client__Streams__ReadReq__Options__FilterOptions__Expression Expression;
typedef EventStore__Client__Streams__AppendReq AppendReq;
typedef EventStore__Client__Streams__AppendReq__ProposedMessage ProposedMessage;
typedef EventStore__Client__Streams__BatchAppendReq BatchAppendReq;
typedef EventStore__Client__Streams__BatchAppendReq__ProposedMessage BatchProposedMessage;

#define CT_JSON "application/json"

/* ---- shared pieces ---- */

static enum sl_code invalid(struct sl_error *err, const char *field, const char *message)
{
    return sl_field_errorf(err, SL_E_INVALID, field, "%s", message);
}

/* A copy of the stream name, NUL-terminated. */
static enum sl_code copy_stream(const StreamIdMsg *id, char **out, size_t *out_len, struct sl_error *err)
{
    if (id == NULL)
        return invalid(err, "stream_identifier", "the request has no stream identifier");
    char *s = malloc(id->stream_name.len + 1);
    if (s == NULL)
        return sl_errorf(err, SL_E_NOMEM, "out of memory decoding a request");
    if (id->stream_name.len)
        memcpy(s, id->stream_name.data, id->stream_name.len);
    s[id->stream_name.len] = '\0';
    *out = s;
    *out_len = id->stream_name.len;
    return SL_OK;
}

/* The expected revision of Append, Delete and Tombstone options (the same
 * oneof numbers in each: revision 2, no_stream 3, any 4, stream_exists 5). */
static enum sl_code expected_of(int which, uint64_t revision, struct sl_expected *out, struct sl_error *err)
{
    switch (which) {
    case 2:
        if (revision > (uint64_t)INT64_MAX - 1)
            return invalid(err, "expected_stream_revision", "the expected revision is out of range");
        *out = (struct sl_expected){SL_EXPECT_REVISION, (int64_t)revision};
        return SL_OK;
    case 3:
        *out = (struct sl_expected){SL_EXPECT_NO_STREAM, 0};
        return SL_OK;
    case 4:
        *out = (struct sl_expected){SL_EXPECT_ANY, 0};
        return SL_OK;
    case 5:
        *out = (struct sl_expected){SL_EXPECT_EXISTS, 0};
        return SL_OK;
    default:
        return invalid(err, "expected_stream_revision", "the request has no expected stream revision");
    }
}

static enum sl_code uuid_of(const UuidMsg *u, uint8_t out[16], struct sl_error *err)
{
    if (u == NULL) {
        sl_uuid_generate(out);
        return SL_OK;
    }
    switch (u->value_case) {
    case EVENT_STORE__CLIENT__UUID__VALUE_STRING:
        if (u->string && sl_uuid_parse(u->string, strlen(u->string), out))
            return SL_OK;
        return invalid(err, "id", "an event id is not a UUID");
    case EVENT_STORE__CLIENT__UUID__VALUE_STRUCTURED:
        if (u->structured == NULL)
            return invalid(err, "id", "an event id is empty");
        sl_grpc_uuid_from_halves(u->structured->most_significant_bits, u->structured->least_significant_bits,
                                 out);
        return SL_OK;
    default:
        return invalid(err, "id", "an event id has neither the string nor the structured form");
    }
}

/* ---- Read ---- */

static enum sl_code read_stream_options(const ReadOptions *o, struct sl_grpc_read_req *out,
                                        struct sl_error *err)
{
    const EventStore__Client__Streams__ReadReq__Options__StreamOptions *so = o->stream;
    if (so == NULL)
        return invalid(err, "stream", "the stream options are empty");
    enum sl_code code = copy_stream(so->stream_identifier, &out->stream, &out->stream_len, err);
    if (code)
        return code;
    switch (so->revision_option_case) {
    case EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__STREAM_OPTIONS__REVISION_OPTION_REVISION:
        out->from = SL_GRPC_FROM_POINT;
        out->revision = so->revision;
        return SL_OK;
    case EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__STREAM_OPTIONS__REVISION_OPTION_START:
        out->from = SL_GRPC_FROM_START;
        return SL_OK;
    case EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__STREAM_OPTIONS__REVISION_OPTION_END:
        out->from = SL_GRPC_FROM_END;
        return SL_OK;
    default:
        return invalid(err, "revision_option", "the stream options have no revision, start or end");
    }
}

static enum sl_code read_all_options(const ReadOptions *o, struct sl_grpc_read_req *out, struct sl_error *err)
{
    const EventStore__Client__Streams__ReadReq__Options__AllOptions *ao = o->all;
    if (ao == NULL)
        return invalid(err, "all", "the $all options are empty");
    out->is_all = true;
    switch (ao->all_option_case) {
    case EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__ALL_OPTIONS__ALL_OPTION_POSITION:
        if (ao->position == NULL || ao->position->prepare_position > ao->position->commit_position)
            return invalid(err, "position", "Trying to read from an invalid position.");
        out->from = SL_GRPC_FROM_POINT;
        out->position = ao->position->commit_position;
        return SL_OK;
    case EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__ALL_OPTIONS__ALL_OPTION_START:
        out->from = SL_GRPC_FROM_START;
        return SL_OK;
    case EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__ALL_OPTIONS__ALL_OPTION_END:
        out->from = SL_GRPC_FROM_END;
        return SL_OK;
    default:
        return invalid(err, "all_option", "the $all options have no position, start or end");
    }
}

static enum sl_code read_filter(const FilterOptions *f, struct sl_grpc_read_req *out, struct sl_error *err)
{
    if (f == NULL)
        return invalid(err, "filter", "the filter options are empty");
    const Expression *e;
    switch (f->filter_case) {
    case EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__FILTER_OPTIONS__FILTER_STREAM_IDENTIFIER:
        out->filter_on = SL_FILTER_STREAM;
        e = f->stream_identifier;
        break;
    case EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__FILTER_OPTIONS__FILTER_EVENT_TYPE:
        out->filter_on = SL_FILTER_TYPE;
        e = f->event_type;
        break;
    default:
        return invalid(err, "filter", "the filter is on neither stream names nor event types");
    }
    if (e == NULL)
        return invalid(err, "filter", "the filter expression is empty");
    out->has_filter = true;
    if (e->regex && e->regex[0]) {
        out->regex = strdup(e->regex);
        if (out->regex == NULL)
            return sl_errorf(err, SL_E_NOMEM, "out of memory decoding a filter");
    } else if (e->n_prefix == 0) {
        return invalid(err, "filter", "the filter has neither a regular expression nor a prefix");
    } else {
        out->prefixes = calloc(e->n_prefix, sizeof(*out->prefixes));
        if (out->prefixes == NULL)
            return sl_errorf(err, SL_E_NOMEM, "out of memory decoding a filter");
        out->n_prefixes = e->n_prefix;
        for (size_t i = 0; i < e->n_prefix; i++) {
            out->prefixes[i] = strdup(e->prefix[i] ? e->prefix[i] : "");
            if (out->prefixes[i] == NULL)
                return sl_errorf(err, SL_E_NOMEM, "out of memory decoding a filter");
        }
    }
    out->checkpoint_window = SL_GRPC_DEFAULT_CHECKPOINT_WINDOW;
    if (f->window_case == EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__FILTER_OPTIONS__WINDOW_MAX &&
        f->max > 0)
        out->checkpoint_window = f->max;
    out->checkpoint_multiplier = f->checkpointintervalmultiplier ? f->checkpointintervalmultiplier : 1;
    return SL_OK;
}

static enum sl_code read_options(const ReadOptions *o, struct sl_grpc_read_req *out, struct sl_error *err)
{
    enum sl_code code;
    switch (o->stream_option_case) {
    case EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__STREAM_OPTION_STREAM:
        code = read_stream_options(o, out, err);
        break;
    case EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__STREAM_OPTION_ALL:
        code = read_all_options(o, out, err);
        break;
    default:
        return invalid(err, "stream_option", "the read names neither a stream nor $all");
    }
    if (code)
        return code;

    switch (o->read_direction) {
    case EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__READ_DIRECTION__Forwards:
        break;
    case EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__READ_DIRECTION__Backwards:
        out->backwards = true;
        break;
    default:
        return invalid(err, "read_direction", "the read direction is neither forwards nor backwards");
    }
    out->resolve_links = o->resolve_links;

    switch (o->count_option_case) {
    case EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__COUNT_OPTION_COUNT:
        out->count = o->count;
        break;
    case EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__COUNT_OPTION_SUBSCRIPTION:
        out->is_subscription = true;
        if (out->backwards)
            return invalid(err, "read_direction", "a subscription cannot go backwards");
        break;
    default:
        return invalid(err, "count_option", "the read has neither a count nor subscription options");
    }

    switch (o->filter_option_case) {
    case EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__FILTER_OPTION_FILTER:
        if (!out->is_all)
            return invalid(err, "filter", "only reads and subscriptions of $all can be filtered");
        code = read_filter(o->filter, out, err);
        if (code)
            return code;
        break;
    default:
        break; /* no_filter, or none given */
    }

    if (o->uuid_option == NULL ||
        o->uuid_option->content_case ==
            EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__UUIDOPTION__CONTENT__NOT_SET)
        return invalid(err, "uuid_option", "the read does not say which form of UUID to send");
    out->uuid_structured = o->uuid_option->content_case ==
                           EVENT_STORE__CLIENT__STREAMS__READ_REQ__OPTIONS__UUIDOPTION__CONTENT_STRUCTURED;
    return SL_OK;
}

enum sl_code sl_grpc_decode_read(const uint8_t *msg, size_t len, struct sl_grpc_read_req *out,
                                 struct sl_error *err)
{
    memset(out, 0, sizeof(*out));
    ReadReq *req = event_store__client__streams__read_req__unpack(NULL, len, msg);
    if (req == NULL)
        return invalid(err, "ReadReq", "the read request is not a valid ReadReq message");
    enum sl_code code = req->options ? read_options(req->options, out, err)
                                     : invalid(err, "options", "the read request has no options");
    event_store__client__streams__read_req__free_unpacked(req, NULL);
    if (code)
        sl_grpc_read_req_free(out);
    return code;
}

void sl_grpc_read_req_free(struct sl_grpc_read_req *r)
{
    if (r == NULL)
        return;
    free(r->stream);
    free(r->regex);
    for (size_t i = 0; i < r->n_prefixes; i++)
        free(r->prefixes[i]);
    free(r->prefixes);
    memset(r, 0, sizeof(*r));
}

bool sl_grpc_read_filter(const struct sl_grpc_read_req *r, struct sl_filter **out, struct sl_error *err)
{
    *out = NULL;
    if (!r->has_filter)
        return true;
    if (r->regex)
        *out = sl_filter_new(r->filter_on, SL_FILTER_REGEX, r->regex, false, err);
    else
        *out =
            sl_filter_new_prefixes(r->filter_on, (const char *const *)r->prefixes, r->n_prefixes, false, err);
    return *out != NULL;
}

bool sl_grpc_parse_link(const void *data, size_t len, int64_t *revision, const char **stream,
                        size_t *stream_len)
{
    const char *text = data;
    const char *at = len ? memchr(text, '@', len) : NULL;
    if (at == NULL || at == text || (size_t)(at - text) + 1 >= len)
        return false;
    if (!sl_parse_u63(text, (size_t)(at - text), revision))
        return false;
    *stream = at + 1;
    *stream_len = len - (size_t)(at - text) - 1;
    return true;
}

/* ---- Append ---- */

/* The value of `key` in a metadata map, or NULL. */
static const char *map_get(EventStore__Client__Streams__AppendReq__ProposedMessage__MetadataEntry **entries,
                           size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (entries[i]->key && strcmp(entries[i]->key, key) == 0)
            return entries[i]->value ? entries[i]->value : "";
    return NULL;
}

static bool is_json_content_type(const char *ct)
{
    size_t n = strlen(CT_JSON);
    return strncasecmp(ct, CT_JSON, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* True when `bytes` are one JSON text that the HTTP API may embed as it is:
 * valid JSON (and so valid UTF-8) on one line, because Server-Sent Events
 * frames end at a line break. Anything else is shown as base64. */
static bool is_embeddable_json(const void *bytes, size_t len)
{
    if (len == 0 || memchr(bytes, '\n', len) || memchr(bytes, '\r', len))
        return false;
    struct sl_json_problem problem;
    return sl_json_check(bytes, len, &problem);
}

/* Fills `ev` from the fields every proposed message has (Append and BatchAppend). */
static enum sl_code proposed_event(const UuidMsg *id, const char *type, const char *content_type,
                                   ProtobufCBinaryData data, ProtobufCBinaryData meta,
                                   struct sl_new_event *ev, bool *is_missing_metadata, struct sl_error *err)
{
    if (type == NULL || content_type == NULL) {
        *is_missing_metadata = true;
        return invalid(err, "metadata", "an event needs the metadata properties type and content-type");
    }
    enum sl_code code = uuid_of(id, ev->id, err);
    if (code)
        return code;
    ev->type = type;
    ev->type_len = strlen(type);
    ev->data = data.data;
    ev->data_len = data.len;
    ev->metadata = meta.data;
    ev->metadata_len = meta.len;
    ev->flags = 0;
    if (is_json_content_type(content_type)) {
        ev->flags = SL_EVENT_JSON;
        if (is_embeddable_json(data.data, data.len))
            ev->flags |= SL_EVENT_DATA_IS_JSON;
        if (is_embeddable_json(meta.data, meta.len))
            ev->flags |= SL_EVENT_META_IS_JSON;
    }
    return SL_OK;
}

enum sl_code sl_grpc_decode_append(const uint8_t *msg, size_t len, struct sl_grpc_append_part *out,
                                   struct sl_error *err)
{
    memset(out, 0, sizeof(*out));
    AppendReq *req = event_store__client__streams__append_req__unpack(NULL, len, msg);
    if (req == NULL)
        return invalid(err, "AppendReq", "the append request is not a valid AppendReq message");
    enum sl_code code;
    if (req->content_case == EVENT_STORE__CLIENT__STREAMS__APPEND_REQ__CONTENT_OPTIONS && req->options) {
        out->is_options = true;
        const EventStore__Client__Streams__AppendReq__Options *o = req->options;
        if (o->stream_identifier == NULL) {
            code = invalid(err, "stream_identifier", "the append options have no stream identifier");
        } else {
            out->stream = (const char *)o->stream_identifier->stream_name.data;
            out->stream_len = o->stream_identifier->stream_name.len;
            code = expected_of((int)o->expected_stream_revision_case, o->revision, &out->expected, err);
        }
    } else if (req->content_case == EVENT_STORE__CLIENT__STREAMS__APPEND_REQ__CONTENT_PROPOSED_MESSAGE &&
               req->proposed_message) {
        const ProposedMessage *m = req->proposed_message;
        code = proposed_event(m->id, map_get(m->metadata, m->n_metadata, "type"),
                              map_get(m->metadata, m->n_metadata, "content-type"), m->data,
                              m->custom_metadata, &out->event, &out->is_missing_metadata, err);
        out->payload_bytes = m->data.len + m->custom_metadata.len;
    } else {
        code = invalid(err, "content", "the append request has neither options nor a proposed message");
    }
    if (code) {
        bool missing = out->is_missing_metadata;
        event_store__client__streams__append_req__free_unpacked(req, NULL);
        memset(out, 0, sizeof(*out));
        out->is_missing_metadata = missing;
        return code;
    }
    out->owner = req;
    return SL_OK;
}

void sl_grpc_append_part_free(struct sl_grpc_append_part *p)
{
    if (p == NULL)
        return;
    if (p->owner)
        event_store__client__streams__append_req__free_unpacked(p->owner, NULL);
    memset(p, 0, sizeof(*p));
}

/* ---- Delete and Tombstone ---- */

enum sl_code sl_grpc_decode_delete(const uint8_t *msg, size_t len, bool is_tombstone,
                                   struct sl_grpc_delete_req *out, struct sl_error *err)
{
    memset(out, 0, sizeof(*out));
    const StreamIdMsg *id = NULL;
    int which = 0;
    uint64_t revision = 0;
    void *req;
    if (is_tombstone) {
        EventStore__Client__Streams__TombstoneReq *t =
            event_store__client__streams__tombstone_req__unpack(NULL, len, msg);
        req = t;
        if (t && t->options) {
            id = t->options->stream_identifier;
            which = (int)t->options->expected_stream_revision_case;
            revision = t->options->revision;
        }
    } else {
        EventStore__Client__Streams__DeleteReq *d =
            event_store__client__streams__delete_req__unpack(NULL, len, msg);
        req = d;
        if (d && d->options) {
            id = d->options->stream_identifier;
            which = (int)d->options->expected_stream_revision_case;
            revision = d->options->revision;
        }
    }
    if (req == NULL)
        return invalid(err, "request", "the request is not a valid DeleteReq or TombstoneReq message");
    enum sl_code code = expected_of(which, revision, &out->expected, err);
    if (code == SL_OK)
        code = copy_stream(id, &out->stream, &out->stream_len, err);
    if (is_tombstone)
        event_store__client__streams__tombstone_req__free_unpacked(req, NULL);
    else
        event_store__client__streams__delete_req__free_unpacked(req, NULL);
    if (code)
        sl_grpc_delete_req_free(out);
    return code;
}

void sl_grpc_delete_req_free(struct sl_grpc_delete_req *r)
{
    if (r == NULL)
        return;
    free(r->stream);
    memset(r, 0, sizeof(*r));
}

/* ---- BatchAppend ---- */

static const char *
batch_map_get(EventStore__Client__Streams__BatchAppendReq__ProposedMessage__MetadataEntry **entries, size_t n,
              const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (entries[i]->key && strcmp(entries[i]->key, key) == 0)
            return entries[i]->value ? entries[i]->value : "";
    return NULL;
}

/* Seconds and nanoseconds as microseconds, saturated. The nanoseconds are not checked against
 * their documented range (under one second), so they can still carry the sum over. */
static int64_t us_of(int64_t seconds, int32_t nanos)
{
    if (seconds > INT64_MAX / 1000000 - 1)
        return INT64_MAX;
    if (seconds < INT64_MIN / 1000000 + 1)
        return INT64_MIN;
    int64_t us = seconds * 1000000;
    int64_t frac = nanos / 1000;
    if (frac > 0 && us > INT64_MAX - frac)
        return INT64_MAX;
    if (frac < 0 && us < INT64_MIN - frac)
        return INT64_MIN;
    return us + frac;
}

static enum sl_code batch_fill(const BatchAppendReq *req, struct sl_grpc_batch_part *out,
                               struct sl_error *err)
{
    const UuidMsg *cid = req->correlation_id;
    if (cid == NULL)
        return invalid(err, "correlation_id", "the batch append request has no correlation id");
    enum sl_code code = uuid_of(cid, out->correlation_id, err);
    if (code) {
        memset(out->correlation_id, 0, 16); /* no reply can name this append */
        return invalid(err, "correlation_id", "the correlation id is not a UUID");
    }
    if (req->options) {
        const EventStore__Client__Streams__BatchAppendReq__Options *o = req->options;
        out->has_options = true;
        if (o->stream_identifier == NULL)
            return invalid(err, "stream_identifier", "the batch append options have no stream identifier");
        out->stream = (const char *)o->stream_identifier->stream_name.data;
        out->stream_len = o->stream_identifier->stream_name.len;
        code = expected_of((int)o->expected_stream_position_case, o->stream_position, &out->expected, err);
        if (code)
            return code;
        if (o->deadline_option_case ==
                EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_REQ__OPTIONS__DEADLINE_OPTION_DEADLINE_21_10_0 &&
            o->deadline_21_10_0) {
            out->has_deadline = true;
            out->deadline_us = us_of(o->deadline_21_10_0->seconds, o->deadline_21_10_0->nanos);
        } else if (o->deadline_option_case ==
                       EVENT_STORE__CLIENT__STREAMS__BATCH_APPEND_REQ__OPTIONS__DEADLINE_OPTION_DEADLINE &&
                   o->deadline) {
            out->has_timeout = true;
            out->timeout_us = us_of(o->deadline->seconds, o->deadline->nanos);
        }
    }
    out->is_final = req->is_final;
    if (req->n_proposed_messages == 0)
        return SL_OK;
    out->events = calloc(req->n_proposed_messages, sizeof(*out->events));
    if (out->events == NULL)
        return sl_errorf(err, SL_E_NOMEM, "out of memory decoding a batch append");
    for (size_t i = 0; i < req->n_proposed_messages; i++) {
        const BatchProposedMessage *m = req->proposed_messages[i];
        code = proposed_event(m->id, batch_map_get(m->metadata, m->n_metadata, "type"),
                              batch_map_get(m->metadata, m->n_metadata, "content-type"), m->data,
                              m->custom_metadata, &out->events[i], &out->is_missing_metadata, err);
        if (code)
            return code;
        out->payload_bytes += m->data.len + m->custom_metadata.len;
        out->n_events++;
    }
    return SL_OK;
}

enum sl_code sl_grpc_decode_batch_append(const uint8_t *msg, size_t len, struct sl_grpc_batch_part *out,
                                         struct sl_error *err)
{
    memset(out, 0, sizeof(*out));
    BatchAppendReq *req = event_store__client__streams__batch_append_req__unpack(NULL, len, msg);
    if (req == NULL)
        return invalid(err, "BatchAppendReq", "the request is not a valid BatchAppendReq message");
    out->owner = req;
    enum sl_code code = batch_fill(req, out, err);
    if (code) {
        /* Keep what the caller needs to answer: the correlation id and the failure kind. */
        uint8_t cid[16];
        memcpy(cid, out->correlation_id, 16);
        bool missing = out->is_missing_metadata;
        sl_grpc_batch_part_free(out);
        memcpy(out->correlation_id, cid, 16);
        out->is_missing_metadata = missing;
    }
    return code;
}

void sl_grpc_batch_part_free(struct sl_grpc_batch_part *p)
{
    if (p == NULL)
        return;
    free(p->events);
    if (p->owner)
        event_store__client__streams__batch_append_req__free_unpacked(p->owner, NULL);
    memset(p, 0, sizeof(*p));
}
