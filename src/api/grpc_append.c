/* grpc_append.c: Streams/Append: the options, then one message per event, then half-close.
 *
 * The decoded messages are kept until the write is done: the events point
 * into them, so data and custom metadata reach the store as the client sent
 * them. A wrong expected revision is an OK reply carrying
 * `wrong_expected_version`; a tombstoned stream and the size limits are gRPC
 * errors. Retried appends with the same event ids are answered from the
 * store's idempotency check. An append of no events writes nothing and
 * answers whether the expectation holds. */
#include <stdlib.h>
#include <string.h>

#include "api/grpc_handlers.h"

struct append_call {
    struct sl_api *api;
    struct sl_grpc_call *call;
    bool has_options;
    struct sl_grpc_append_part options; /* owns the stream name */
    struct sl_grpc_append_part *parts;  /* the proposed events, each owning its memory */
    size_t n_parts, cap_parts;
    size_t payload_bytes;
    struct sl_new_event *events;
    struct sl_write w;
    bool is_writing;
    bool is_cancelled;
};

static void append_free(struct append_call *a)
{
    sl_grpc_append_part_free(&a->options);
    for (size_t i = 0; i < a->n_parts; i++)
        sl_grpc_append_part_free(&a->parts[i]);
    free(a->parts);
    free(a->events);
    free(a);
}

/* Ends the call with `status` (after the reply in `reply`, when not NULL) and frees the append. */
static void finish_with(struct append_call *a, const struct sl_buf *reply)
{
    if (reply)
        sl_api_grpc_send(a->call, reply);
    sl_api_grpc_finish(a->call, SL_GRPC_OK, NULL, NULL, 0);
    append_free(a);
}

static void fail(struct append_call *a, const struct sl_error *err)
{
    sl_api_grpc_fail(a->call, err, a->options.stream, a->options.stream_len);
    append_free(a);
}

/* Sends the AppendResp for an outcome: success, or wrong expected version. */
static void answer(struct append_call *a, bool is_success, int64_t revision, uint64_t position)
{
    struct sl_buf out;
    sl_buf_init(&out);
    bool ok = is_success ? sl_grpc_encode_append_success(&out, revision, position)
                         : sl_grpc_encode_append_wrong_version(&out, &a->options.expected, revision);
    if (ok) {
        finish_with(a, &out);
    } else {
        sl_api_grpc_finish(a->call, SL_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        append_free(a);
    }
    sl_buf_free(&out);
}

static void write_answered(void *arg)
{
    struct append_call *a = arg;
    struct sl_write *w = &a->w;
    if (a->is_cancelled) {
        sl_api_grpc_finish(a->call, SL_GRPC_CANCELLED, "cancelled by the client", NULL, 0);
        append_free(a);
    } else if (w->code == SL_OK) {
        answer(a, true, w->last_revision, w->position);
    } else if (w->code == SL_E_WRONG_REVISION) {
        answer(a, false, w->actual_revision, 0);
    } else {
        fail(a, &w->err);
    }
}

static void write_done(struct sl_write *w)
{
    struct append_call *a = w->user;
    if (!sl_server_post(a->api->server, write_answered, a))
        append_free(a); /* the loop is gone, and the call with it */
}

enum sl_code sl_api_grpc_check_expected(struct sl_store *store, const char *stream, size_t len,
                                        const struct sl_expected *expected, bool *holds, int64_t *current,
                                        struct sl_error *err)
{
    struct sl_stream_info info;
    enum sl_code code = sl_store_stream_info(store, stream, len, &info, err);
    if (code)
        return code;
    if (info.is_tombstoned)
        return sl_errorf(err, SL_E_DELETED, "stream %.*s is deleted", (int)len, stream);
    *current = info.exists && !info.is_deleted ? info.last_revision : SL_REVISION_NONE;
    *holds = expected->kind == SL_EXPECT_ANY || (expected->kind == SL_EXPECT_NO_STREAM && *current < 0) ||
             (expected->kind == SL_EXPECT_EXISTS && *current >= 0) ||
             (expected->kind == SL_EXPECT_REVISION && *current == expected->revision);
    return SL_OK;
}

/* No events: nothing is written; the reply says whether the expectation holds now. */
static void answer_empty(struct append_call *a)
{
    struct sl_error err = {0};
    bool holds = false;
    int64_t current = SL_REVISION_NONE;
    if (sl_api_grpc_check_expected(a->api->store, a->options.stream, a->options.stream_len,
                                   &a->options.expected, &holds, &current, &err) != SL_OK)
        fail(a, &err);
    else
        answer(a, holds, current, 0);
}

static void submit(struct append_call *a)
{
    a->events = calloc(a->n_parts, sizeof(*a->events));
    if (a->events == NULL) {
        sl_api_grpc_finish(a->call, SL_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        append_free(a);
        return;
    }
    for (size_t i = 0; i < a->n_parts; i++)
        a->events[i] = a->parts[i].event;
    a->w.kind = SL_WRITE_APPEND;
    a->w.stream = a->options.stream;
    a->w.stream_len = a->options.stream_len;
    a->w.expected = a->options.expected;
    a->w.events = a->events;
    a->w.n_events = a->n_parts;
    a->w.done = write_done;
    a->w.user = a;
    struct sl_error err = {0};
    if (sl_store_submit(a->api->store, &a->w, &err) != SL_OK) {
        fail(a, &err);
        return;
    }
    a->is_writing = true;
}

static void on_message(struct sl_grpc_call *call, const uint8_t *msg, size_t len)
{
    struct append_call *a = call->user;
    struct sl_grpc_append_part part;
    struct sl_error err = {0};
    if (sl_grpc_decode_append(msg, len, &part, &err) != SL_OK) {
        if (part.is_missing_metadata)
            sl_api_grpc_fail_missing_metadata(call);
        else
            sl_api_grpc_fail(call, &err, NULL, 0);
        append_free(a);
        return;
    }
    if (part.is_options) {
        if (a->has_options) {
            sl_grpc_append_part_free(&part);
            sl_api_grpc_finish(call, SL_GRPC_INVALID_ARGUMENT, "the append options came twice", NULL, 0);
            append_free(a);
            return;
        }
        a->options = part;
        a->has_options = true;
        return;
    }
    if (!a->has_options) {
        sl_grpc_append_part_free(&part);
        sl_api_grpc_finish(call, SL_GRPC_INVALID_ARGUMENT, "the append options must come first", NULL, 0);
        append_free(a);
        return;
    }
    a->payload_bytes += part.payload_bytes;
    if (a->payload_bytes > SL_GRPC_MAX_APPEND_BYTES) {
        sl_grpc_append_part_free(&part);
        sl_api_grpc_fail_too_large(call, "Maximum Append Size Exceeded", SL_GRPC_MAX_APPEND_BYTES);
        append_free(a);
        return;
    }
    if (a->n_parts == a->cap_parts) {
        size_t cap = a->cap_parts ? a->cap_parts * 2 : 16;
        struct sl_grpc_append_part *parts = realloc(a->parts, cap * sizeof(*parts));
        if (parts == NULL) {
            sl_grpc_append_part_free(&part);
            sl_api_grpc_finish(call, SL_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
            append_free(a);
            return;
        }
        a->parts = parts;
        a->cap_parts = cap;
    }
    a->parts[a->n_parts++] = part;
}

static void on_half_close(struct sl_grpc_call *call)
{
    struct append_call *a = call->user;
    if (!a->has_options) {
        sl_api_grpc_finish(call, SL_GRPC_INVALID_ARGUMENT, "the append has no options", NULL, 0);
        append_free(a);
        return;
    }
    /* From here on the call only waits for the answer. */
    call->on_message = NULL;
    call->on_half_close = NULL;
    if (a->n_parts == 0)
        answer_empty(a);
    else
        submit(a);
}

static void on_cancel(struct sl_grpc_call *call)
{
    struct append_call *a = call->user;
    if (a->is_writing) {
        a->is_cancelled = true; /* the write's answer ends the call */
        return;
    }
    sl_api_grpc_finish(call, SL_GRPC_CANCELLED, "cancelled by the client", NULL, 0);
    append_free(a);
}

void sl_api_grpc_append(struct sl_api *api, struct sl_grpc_call *call)
{
    struct append_call *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        sl_api_grpc_finish(call, SL_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        return;
    }
    a->api = api;
    a->call = call;
    call->user = a;
    call->on_message = on_message;
    call->on_half_close = on_half_close;
    call->on_cancel = on_cancel;
}
