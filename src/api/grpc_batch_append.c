/* grpc_batch_append.c: Streams/BatchAppend: many appends multiplexed on one long-lived call.
 *
 * Each append is named by a correlation id. Its first message carries the
 * options (stream, expectation, deadline), any message may carry events, and
 * the one with `is_final` completes it: then it goes to the writer, and one
 * BatchAppendResp answers it, with the correlation id, the stream and the echo
 * of the expectation in both outcomes. Failures travel inside the reply as a
 * google.rpc.Status whose detail the client unpacks (WrongExpectedVersion,
 * StreamDeleted, ...); the call itself stays open for the next appends, as the
 * client expects, until the client half-closes or cancels it. */
#include <stdlib.h>
#include <string.h>

#include "api/grpc_handlers.h"
#include "util/clock.h"

/* Appends that may be collecting messages at once on one call. */
#define MAX_OPEN_APPENDS 1024

struct batch_call;

/* One append: collecting its messages, then in the writer. */
struct pending {
    struct batch_call *owner;
    struct pending *next; /* in the owner's list of collecting appends */
    uint8_t cid[16];
    char *stream;
    size_t stream_len;
    struct sl_expected expected;
    bool has_deadline;
    int64_t deadline_us;              /* microseconds since the epoch, when has_deadline */
    struct sl_grpc_batch_part *parts; /* own the events' memory */
    size_t n_parts, cap_parts;
    size_t n_events;
    size_t payload_bytes;
    struct sl_new_event *events;
    struct sl_write w;
};

struct batch_call {
    struct sl_api *api;
    struct sl_grpc_call *call; /* NULL once finished */
    struct pending *collecting;
    size_t n_collecting;
    size_t collecting_bytes; /* payload held by the collecting appends */
    size_t n_writing;
    bool is_half_closed;
    bool is_cancelled;
};

static void pending_free(struct pending *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_parts; i++)
        sl_grpc_batch_part_free(&p->parts[i]);
    free(p->parts);
    free(p->events);
    free(p->stream);
    free(p);
}

static void drop_collecting(struct batch_call *b)
{
    while (b->collecting) {
        struct pending *p = b->collecting;
        b->collecting = p->next;
        pending_free(p);
    }
    b->n_collecting = 0;
    b->collecting_bytes = 0;
}

/* Ends the call (once) when nothing is left to answer, and frees it. */
static void maybe_close(struct batch_call *b)
{
    if (!(b->is_half_closed || b->is_cancelled) || b->n_writing > 0)
        return;
    drop_collecting(b);
    if (b->call)
        sl_api_grpc_finish(b->call, b->is_cancelled ? SL_GRPC_CANCELLED : SL_GRPC_OK,
                           b->is_cancelled ? "cancelled by the client" : NULL, NULL, 0);
    free(b);
}

/* Ends the whole call with an error (a message that cannot be tied to an append). */
static void fail_call(struct batch_call *b, enum sl_grpc_status status, const char *message)
{
    sl_api_grpc_finish(b->call, status, message, NULL, 0);
    b->call = NULL;
    b->is_cancelled = true; /* nothing more is sent; the writes in flight still come back */
    maybe_close(b);
}

static void send_reply(struct batch_call *b, const struct sl_buf *out, bool is_packed)
{
    if (b->call == NULL || b->is_cancelled)
        return;
    if (is_packed)
        sl_api_grpc_send(b->call, out);
    else
        fail_call(b, SL_GRPC_RESOURCE_EXHAUSTED, "out of memory encoding a reply");
}

static void reply_error(struct batch_call *b, const uint8_t cid[16], const char *stream, size_t stream_len,
                        const struct sl_expected *expected, const struct sl_grpc_batch_error *e)
{
    struct sl_buf out;
    sl_buf_init(&out);
    send_reply(
        b, &out,
        sl_grpc_encode_batch_error(&out, cid, stream ? stream : "", stream ? stream_len : 0, expected, e));
    sl_buf_free(&out);
}

/* The reply's error for a store failure. */
static void reply_failure(struct batch_call *b, const struct pending *p, enum sl_code code,
                          const struct sl_error *err, int64_t actual)
{
    struct sl_grpc_batch_error e = {.status = sl_api_grpc_status_of(code),
                                    .message = err->message,
                                    .detail = SL_GRPC_DETAIL_UNKNOWN,
                                    .actual_revision = actual};
    switch (code) {
    case SL_E_WRONG_REVISION:
        e.detail = SL_GRPC_DETAIL_WRONG_EXPECTED_VERSION;
        break;
    case SL_E_DELETED:
        e.detail = SL_GRPC_DETAIL_STREAM_DELETED;
        break;
    case SL_E_TOO_LARGE:
        e.detail = SL_GRPC_DETAIL_MAXIMUM_APPEND_SIZE_EXCEEDED;
        e.max_append_size = (uint32_t)SL_GRPC_MAX_APPEND_BYTES;
        break;
    case SL_E_TIMEOUT:
        e.detail = SL_GRPC_DETAIL_TIMEOUT;
        break;
    default:
        break;
    }
    reply_error(b, p->cid, p->stream, p->stream_len, &p->expected, &e);
}

static void reply_success(struct batch_call *b, const struct pending *p, int64_t revision, uint64_t position)
{
    struct sl_buf out;
    sl_buf_init(&out);
    send_reply(b, &out,
               sl_grpc_encode_batch_success(&out, p->cid, p->stream, p->stream_len, &p->expected, revision,
                                            position));
    sl_buf_free(&out);
}

/* ---- completing an append ---- */

static void write_answered(void *arg)
{
    struct pending *p = arg;
    struct batch_call *b = p->owner;
    struct sl_write *w = &p->w;
    if (w->code == SL_OK)
        reply_success(b, p, w->last_revision, w->position);
    else
        reply_failure(b, p, w->code, &w->err, w->actual_revision);
    pending_free(p);
    b->n_writing--;
    maybe_close(b);
}

static void write_done(struct sl_write *w)
{
    struct pending *p = w->user;
    struct batch_call *b = p->owner;
    if (sl_server_post(b->api->server, write_answered, p))
        return;
    /* The loop is gone, and the call with it: nobody else touches `b` now. */
    pending_free(p);
    if (--b->n_writing == 0 && (b->is_half_closed || b->is_cancelled)) {
        drop_collecting(b);
        free(b);
    }
}

/* The final message arrived: write the append (it leaves the collecting list first). */
static void complete(struct batch_call *b, struct pending *p)
{
    struct sl_error err = {0};
    if (p->has_deadline && sl_now_us() > p->deadline_us) {
        sl_errorf(&err, SL_E_TIMEOUT, "the append's deadline passed before it was complete");
        reply_failure(b, p, SL_E_TIMEOUT, &err, SL_REVISION_NONE);
        pending_free(p);
        return;
    }
    if (p->n_events == 0) {
        bool holds;
        int64_t current;
        enum sl_code code = sl_api_grpc_check_expected(b->api->store, p->stream, p->stream_len, &p->expected,
                                                       &holds, &current, &err);
        if (code == SL_OK && !holds) {
            code = sl_errorf(&err, SL_E_WRONG_REVISION, "the expected revision does not match");
        }
        if (code == SL_OK)
            reply_success(b, p, current, 0);
        else
            reply_failure(b, p, code, &err, current);
        pending_free(p);
        return;
    }
    p->events = malloc(p->n_events * sizeof(*p->events));
    if (p->events == NULL) {
        sl_errorf(&err, SL_E_NOMEM, "out of memory");
        reply_failure(b, p, SL_E_NOMEM, &err, SL_REVISION_NONE);
        pending_free(p);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < p->n_parts; i++)
        for (size_t j = 0; j < p->parts[i].n_events; j++)
            p->events[k++] = p->parts[i].events[j];
    p->w.kind = SL_WRITE_APPEND;
    p->w.stream = p->stream;
    p->w.stream_len = p->stream_len;
    p->w.expected = p->expected;
    p->w.events = p->events;
    p->w.n_events = p->n_events;
    p->w.done = write_done;
    p->w.user = p;
    enum sl_code code = sl_store_submit(b->api->store, &p->w, &err);
    if (code != SL_OK) {
        reply_failure(b, p, code, &err, SL_REVISION_NONE);
        pending_free(p);
        return;
    }
    b->n_writing++;
}

/* ---- collecting messages ---- */

static struct pending *take_collecting(struct batch_call *b, const uint8_t cid[16])
{
    for (struct pending **pp = &b->collecting; *pp; pp = &(*pp)->next) {
        if (memcmp((*pp)->cid, cid, 16) == 0) {
            struct pending *p = *pp;
            *pp = p->next;
            b->n_collecting--;
            b->collecting_bytes -= p->payload_bytes;
            p->next = NULL;
            return p;
        }
    }
    return NULL;
}

static struct pending *open_append(struct batch_call *b, const struct sl_grpc_batch_part *part)
{
    struct pending *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->stream = malloc(part->stream_len + 1);
    if (p->stream == NULL) {
        free(p);
        return NULL;
    }
    if (part->stream_len)
        memcpy(p->stream, part->stream, part->stream_len);
    p->stream[part->stream_len] = '\0';
    p->stream_len = part->stream_len;
    p->owner = b;
    memcpy(p->cid, part->correlation_id, 16);
    p->expected = part->expected;
    if (part->has_deadline) {
        p->has_deadline = true;
        p->deadline_us = part->deadline_us;
    } else if (part->has_timeout) {
        /* The decoder saturates a timeout too long to count (INT64_MAX): so does the deadline. */
        int64_t now = sl_now_us();
        int64_t timeout = part->timeout_us > 0 ? part->timeout_us : 0;
        p->has_deadline = true;
        p->deadline_us = timeout > INT64_MAX - now ? INT64_MAX : now + timeout;
    }
    return p;
}

/* Adds `part` (taken over) to `p`. Returns false when the append is over a limit (then `part` is freed). */
static bool add_part(struct pending *p, struct sl_grpc_batch_part *part)
{
    p->payload_bytes += part->payload_bytes;
    if (p->payload_bytes > SL_GRPC_MAX_APPEND_BYTES) {
        sl_grpc_batch_part_free(part);
        return false;
    }
    if (p->n_parts == p->cap_parts) {
        size_t cap = p->cap_parts ? p->cap_parts * 2 : 4;
        struct sl_grpc_batch_part *parts = realloc(p->parts, cap * sizeof(*parts));
        if (parts == NULL) {
            sl_grpc_batch_part_free(part);
            return false;
        }
        p->parts = parts;
        p->cap_parts = cap;
    }
    p->n_events += part->n_events;
    p->parts[p->n_parts++] = *part;
    return true;
}

static void on_message(struct sl_grpc_call *call, const uint8_t *msg, size_t len)
{
    struct batch_call *b = call->user;
    struct sl_grpc_batch_part part;
    struct sl_error err = {0};
    static const uint8_t no_id[16];
    static const struct sl_expected any = {SL_EXPECT_ANY, 0};
    if (sl_grpc_decode_batch_append(msg, len, &part, &err) != SL_OK) {
        if (memcmp(part.correlation_id, no_id, 16) == 0) {
            fail_call(b, SL_GRPC_INVALID_ARGUMENT, err.message);
            return;
        }
        /* A bad message ends its own append only. */
        struct pending *p = take_collecting(b, part.correlation_id);
        struct sl_grpc_batch_error e = {
            .status = SL_GRPC_INVALID_ARGUMENT, .message = err.message, .detail = SL_GRPC_DETAIL_UNKNOWN};
        reply_error(b, part.correlation_id, p ? p->stream : NULL, p ? p->stream_len : 0,
                    p ? &p->expected : &any, &e);
        pending_free(p);
        return;
    }
    struct pending *p = take_collecting(b, part.correlation_id);
    if (p == NULL) {
        struct sl_grpc_batch_error e = {.status = SL_GRPC_INVALID_ARGUMENT, .detail = SL_GRPC_DETAIL_UNKNOWN};
        if (!part.has_options) {
            e.message = "the first message of an append must carry its options";
            reply_error(b, part.correlation_id, NULL, 0, &any, &e);
            sl_grpc_batch_part_free(&part);
            return;
        }
        if (b->n_collecting >= MAX_OPEN_APPENDS) {
            e.message = "too many appends are open on this call";
            reply_error(b, part.correlation_id, part.stream, part.stream_len, &part.expected, &e);
            sl_grpc_batch_part_free(&part);
            return;
        }
        p = open_append(b, &part);
        if (p == NULL) {
            sl_grpc_batch_part_free(&part);
            fail_call(b, SL_GRPC_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
    }
    bool is_final = part.is_final;
    if (!add_part(p, &part)) {
        sl_errorf(&err, SL_E_TOO_LARGE, "the append is over %zu bytes", SL_GRPC_MAX_APPEND_BYTES);
        reply_failure(b, p, SL_E_TOO_LARGE, &err, SL_REVISION_NONE);
        pending_free(p);
        return;
    }
    if (is_final) {
        complete(b, p);
        return;
    }
    if (b->collecting_bytes + p->payload_bytes > SL_GRPC_MAX_APPEND_BYTES) {
        sl_errorf(&err, SL_E_TOO_LARGE, "the appends open on this call hold over %zu bytes",
                  SL_GRPC_MAX_APPEND_BYTES);
        reply_failure(b, p, SL_E_TOO_LARGE, &err, SL_REVISION_NONE);
        pending_free(p);
        return;
    }
    p->next = b->collecting;
    b->collecting = p;
    b->n_collecting++;
    b->collecting_bytes += p->payload_bytes;
}

static void on_half_close(struct sl_grpc_call *call)
{
    struct batch_call *b = call->user;
    call->on_message = NULL;
    call->on_half_close = NULL;
    b->is_half_closed = true;
    maybe_close(b);
}

static void on_cancel(struct sl_grpc_call *call)
{
    struct batch_call *b = call->user;
    b->is_cancelled = true;
    maybe_close(b);
}

void sl_api_grpc_batch_append(struct sl_api *api, struct sl_grpc_call *call)
{
    struct batch_call *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        sl_api_grpc_finish(call, SL_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        return;
    }
    b->api = api;
    b->call = call;
    call->user = b;
    call->on_message = on_message;
    call->on_half_close = on_half_close;
    call->on_cancel = on_cancel;
}
