/* grpc_read.c: Streams/Read with a count: a stream or $all, forwards or backwards.
 *
 * The request is one ReadReq; subscriptions go on to grpc_subscribe.c. A
 * read sends one ReadResp per event, in batches that respect the client's
 * pace (grpc_stream.h), then ends with OK. A stream read starts at its
 * revision inclusive; a missing or soft-deleted stream gives one
 * `stream_not_found` message and OK, a tombstoned one the stream-deleted
 * error. A $all read forwards includes its position, backwards excludes it. */
#include <stdlib.h>

#include "api/grpc_stream.h"
#include "store/filter.h"

#define READ_BATCH 128
/* A filtered $all read examines at most this many events per batch. */
#define MAX_SCAN_PER_STEP 8192

struct read_job {
    struct sl_grpc_stream base; /* first: the stream's callbacks get &base */
    struct sl_grpc_read_req req;
    struct sl_filter *filter;
    uint64_t left;     /* events still to send */
    int64_t next_rev;  /* a stream: where the next batch starts */
    uint64_t next_pos; /* $all: where the next batch starts */
    bool is_empty;     /* nothing can come (e.g. $all forwards from the end) */
    bool is_started;
};

static void release(struct sl_grpc_stream *s)
{
    struct read_job *j = (struct read_job *)s;
    sl_grpc_read_req_free(&j->req);
    sl_filter_free(j->filter);
    free(j);
}

static size_t batch_size(const struct read_job *j)
{
    return j->left < READ_BATCH ? (size_t)j->left : READ_BATCH;
}

/* Sends the events of `r`; false (and the call ended) when memory ran out. */
static bool send_events(struct read_job *j, const struct sl_read_result *r)
{
    for (size_t i = 0; i < r->count; i++)
        if (!sl_grpc_stream_send_event(&j->base, &r->events[i], j->req.uuid_structured, j->req.resolve_links))
            return false;
    return true;
}

static bool step_stream(struct sl_grpc_stream *s)
{
    struct read_job *j = (struct read_job *)s;
    struct sl_read_result r = {0};
    struct sl_error err = {0};
    /* With nothing to send, a read of 0 events still says whether the stream is there. */
    size_t n = j->is_empty ? 0 : batch_size(j);
    enum sl_code code = sl_store_read_stream(s->api->store, j->req.stream, j->req.stream_len, j->next_rev,
                                             j->req.backwards, n, &r, &err);
    bool is_first = !j->is_started;
    j->is_started = true;
    bool more = false;
    if (code == SL_E_NOT_FOUND) {
        if (is_first && sl_grpc_encode_stream_not_found(&s->out, j->req.stream, j->req.stream_len))
            sl_grpc_stream_send(s);
        sl_grpc_stream_end(s, SL_GRPC_OK, NULL);
    } else if (code != SL_OK) {
        sl_grpc_stream_fail(s, &err, j->req.stream, j->req.stream_len);
    } else if (send_events(j, &r)) {
        j->left -= r.count;
        if (j->is_empty || !r.has_next || j->left == 0) {
            sl_grpc_stream_end(s, SL_GRPC_OK, NULL);
        } else {
            j->next_rev = r.next;
            more = true;
        }
    }
    sl_read_result_free(&r);
    return more;
}

static bool step_all(struct sl_grpc_stream *s)
{
    struct read_job *j = (struct read_job *)s;
    if (j->is_empty || j->left == 0) {
        sl_grpc_stream_end(s, SL_GRPC_OK, NULL);
        return false;
    }
    struct sl_read_result r = {0};
    struct sl_error err = {0};
    enum sl_code code = sl_store_read_all(s->api->store, j->next_pos, j->req.backwards, batch_size(j),
                                          j->filter, j->filter ? MAX_SCAN_PER_STEP : 0, &r, &err);
    bool more = false;
    if (code != SL_OK) {
        sl_grpc_stream_fail(s, &err, NULL, 0);
    } else if (send_events(j, &r)) {
        j->left -= r.count;
        if (!r.has_next || j->left == 0) {
            sl_grpc_stream_end(s, SL_GRPC_OK, NULL);
        } else {
            j->next_pos = (uint64_t)r.next;
            more = true;
        }
    }
    sl_read_result_free(&r);
    return more;
}

/* Where the read starts, in the store's terms. */
static void start_point(struct read_job *j)
{
    const struct sl_grpc_read_req *q = &j->req;
    if (!q->is_all) {
        if (q->from == SL_GRPC_FROM_START)
            j->next_rev = 0;
        else if (q->from == SL_GRPC_FROM_END)
            j->next_rev = SL_REVISION_END;
        else
            j->next_rev = q->revision > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)q->revision;
        j->is_empty = q->from == SL_GRPC_FROM_END && !q->backwards;
        return;
    }
    switch (q->from) {
    case SL_GRPC_FROM_START:
        j->next_pos = 0;
        j->is_empty = q->backwards;
        break;
    case SL_GRPC_FROM_END:
        j->next_pos = SL_POSITION_END;
        j->is_empty = !q->backwards;
        break;
    case SL_GRPC_FROM_POINT:
        j->next_pos = q->position;
        break;
    }
}

/* Takes `req` over. */
static void start_read(struct sl_api *api, struct sl_grpc_call *call, struct sl_grpc_read_req *req)
{
    struct read_job *j = calloc(1, sizeof(*j));
    struct sl_error err = {0};
    if (j == NULL) {
        sl_grpc_read_req_free(req);
        sl_api_grpc_finish(call, SL_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        return;
    }
    j->req = *req;
    if (!sl_grpc_read_filter(&j->req, &j->filter, &err)) {
        sl_grpc_read_req_free(&j->req);
        free(j);
        sl_api_grpc_fail(call, &err, NULL, 0);
        return;
    }
    j->left = j->req.count;
    start_point(j);
    j->base.step = j->req.is_all ? step_all : step_stream;
    j->base.release = release;
    sl_grpc_stream_start(&j->base, api, call);
}

static void on_message(struct sl_grpc_call *call, const uint8_t *msg, size_t len)
{
    struct sl_api *api = call->user;
    struct sl_grpc_read_req req;
    struct sl_error err = {0};
    if (sl_grpc_decode_read(msg, len, &req, &err) != SL_OK) {
        sl_api_grpc_fail(call, &err, NULL, 0);
        return;
    }
    if (req.is_subscription)
        sl_api_grpc_subscribe(api, call, &req);
    else
        start_read(api, call, &req);
}

static void on_half_close(struct sl_grpc_call *call)
{
    sl_api_grpc_finish(call, SL_GRPC_INVALID_ARGUMENT, "the read request has no message", NULL, 0);
}

static void on_cancel(struct sl_grpc_call *call)
{
    sl_api_grpc_finish(call, SL_GRPC_CANCELLED, "cancelled by the client", NULL, 0);
}

void sl_api_grpc_read(struct sl_api *api, struct sl_grpc_call *call)
{
    call->user = api;
    call->on_message = on_message;
    call->on_half_close = on_half_close;
    call->on_cancel = on_cancel;
}
