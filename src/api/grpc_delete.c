/* grpc_delete.c: Streams/Delete (soft delete) and Streams/Tombstone (hard delete), unary.
 *
 * A soft delete writes `$tb` into the stream's metadata (`$$stream`); reads
 * then say stream-not-found, and a later append brings the stream back. A
 * tombstone writes `$streamDeleted` at revision 2^63-1, after which every
 * read, append and delete of the stream fails with stream-deleted. Unlike
 * Append, a wrong expected revision here is a gRPC error (FAILED_PRECONDITION
 * with the wrong-expected-version trailers). Soft-deleting a stream that has
 * no events is a wrong expected version too, except with `no_stream` when the
 * stream exists only through its metadata, which succeeds as KurrentDB's does. */
#include <stdlib.h>
#include <string.h>

#include "api/grpc_handlers.h"

struct delete_call {
    struct sl_api *api;
    struct sl_grpc_call *call;
    bool is_tombstone;
    bool has_request;
    bool is_writing;
    bool is_cancelled;
    struct sl_grpc_delete_req req;
    struct sl_write w;
};

static void delete_free(struct delete_call *d)
{
    sl_grpc_delete_req_free(&d->req);
    free(d);
}

static void answer_position(struct delete_call *d, uint64_t position)
{
    struct sl_buf out;
    sl_buf_init(&out);
    if (sl_grpc_encode_delete(&out, d->is_tombstone, position)) {
        sl_api_grpc_send(d->call, &out);
        sl_api_grpc_finish(d->call, SL_GRPC_OK, NULL, NULL, 0);
    } else {
        sl_api_grpc_finish(d->call, SL_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
    }
    sl_buf_free(&out);
}

/* True when the stream has metadata (`$$stream` exists). */
static bool has_metadata(struct delete_call *d)
{
    size_t len = d->req.stream_len + 2;
    char *meta = malloc(len + 1);
    if (meta == NULL)
        return false;
    meta[0] = meta[1] = '$';
    memcpy(meta + 2, d->req.stream, d->req.stream_len + 1);
    struct sl_stream_info info;
    bool exists = sl_store_stream_info(d->api->store, meta, len, &info, NULL) == SL_OK && info.exists;
    free(meta);
    return exists;
}

static void write_answered(void *arg)
{
    struct delete_call *d = arg;
    struct sl_write *w = &d->w;
    if (d->is_cancelled)
        sl_api_grpc_finish(d->call, SL_GRPC_CANCELLED, "cancelled by the client", NULL, 0);
    else if (w->code == SL_OK)
        answer_position(d, w->position);
    else if (w->code == SL_E_NOT_FOUND && w->expected.kind == SL_EXPECT_NO_STREAM && has_metadata(d))
        answer_position(d, 0);
    else if (w->code == SL_E_WRONG_REVISION || w->code == SL_E_NOT_FOUND)
        sl_api_grpc_fail_wrong_version(d->call, d->req.stream, d->req.stream_len, &w->expected,
                                       w->code == SL_E_NOT_FOUND ? SL_REVISION_NONE : w->actual_revision);
    else
        sl_api_grpc_fail(d->call, &w->err, d->req.stream, d->req.stream_len);
    delete_free(d);
}

static void write_done(struct sl_write *w)
{
    struct delete_call *d = w->user;
    if (!sl_server_post(d->api->server, write_answered, d))
        delete_free(d); /* the loop is gone, and the call with it */
}

static void on_message(struct sl_grpc_call *call, const uint8_t *msg, size_t len)
{
    struct delete_call *d = call->user;
    struct sl_error err = {0};
    if (d->has_request)
        return; /* a unary call has one message; a second one is ignored */
    if (sl_grpc_decode_delete(msg, len, d->is_tombstone, &d->req, &err) != SL_OK) {
        sl_api_grpc_fail(call, &err, NULL, 0);
        delete_free(d);
        return;
    }
    d->has_request = true;
    d->w.kind = d->is_tombstone ? SL_WRITE_TOMBSTONE : SL_WRITE_DELETE;
    d->w.stream = d->req.stream;
    d->w.stream_len = d->req.stream_len;
    d->w.expected = d->req.expected;
    d->w.done = write_done;
    d->w.user = d;
    if (sl_store_submit(d->api->store, &d->w, &err) != SL_OK) {
        sl_api_grpc_fail(call, &err, d->req.stream, d->req.stream_len);
        delete_free(d);
        return;
    }
    d->is_writing = true;
    call->on_message = NULL;
    call->on_half_close = NULL;
}

static void on_half_close(struct sl_grpc_call *call)
{
    struct delete_call *d = call->user;
    sl_api_grpc_finish(call, SL_GRPC_INVALID_ARGUMENT, "the request has no message", NULL, 0);
    delete_free(d);
}

static void on_cancel(struct sl_grpc_call *call)
{
    struct delete_call *d = call->user;
    if (d->is_writing) {
        d->is_cancelled = true; /* the write's answer ends the call */
        return;
    }
    sl_api_grpc_finish(call, SL_GRPC_CANCELLED, "cancelled by the client", NULL, 0);
    delete_free(d);
}

void sl_api_grpc_delete(struct sl_api *api, struct sl_grpc_call *call, bool is_tombstone)
{
    struct delete_call *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        sl_api_grpc_finish(call, SL_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        return;
    }
    d->api = api;
    d->call = call;
    d->is_tombstone = is_tombstone;
    call->user = d;
    call->on_message = on_message;
    call->on_half_close = on_half_close;
    call->on_cancel = on_cancel;
}
