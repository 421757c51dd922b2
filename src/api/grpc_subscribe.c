/* grpc_subscribe.c: Streams/Read with subscription options: follow a stream or $all.
 *
 * A subscription sends `confirmation` (with a new subscription id), then the
 * events strictly after its start point (catch-up), then `caught_up`, then
 * every new event as it is committed, until the client cancels. It follows
 * the head like the Server-Sent Events subscriptions do: each commit wakes
 * the loop once, and each subscription reads on from exactly where it
 * stopped, so catch-up and live events meet with no gap and no duplicate.
 *
 * A stream subscription waits quietly while its stream does not exist, and
 * ends with the stream-deleted error once the stream is tombstoned. A $all
 * subscription reads the log with a cursor and applies its filter itself, so
 * it can count every event it considers: a filtered one sends a `checkpoint`
 * after every window × multiplier events considered (matching or not) and
 * once when catch-up reaches the end. */
#include <stdlib.h>

#include "api/grpc_stream.h"
#include "store/cursor.h"
#include "store/filter.h"
#include "util/clock.h"
#include "util/codec.h"

#define SUBSCRIPTION_BATCH 256

struct subscription {
    struct sl_grpc_stream base; /* first: the stream's callbacks get &base */
    struct sl_grpc_read_req req;
    struct sl_filter *filter;  /* $all, when filtered */
    struct sl_cursor *cursor;  /* $all */
    int64_t next_rev;          /* a stream: the next revision to send */
    int64_t last_sent;         /* a stream: the last revision sent, -1 = none */
    uint64_t checkpoint_every; /* filtered $all: events considered between checkpoints */
    uint64_t considered;       /* since the last checkpoint */
    bool is_caught_up;
};

static void release(struct sl_grpc_stream *s)
{
    struct subscription *sub = (struct subscription *)s;
    sl_cursor_close(sub->cursor);
    sl_filter_free(sub->filter);
    sl_grpc_read_req_free(&sub->req);
    free(sub);
}

/* Sends the packed message, or ends the call when packing ran out of memory. */
static bool send_packed(struct subscription *sub, bool is_packed)
{
    if (!is_packed) {
        sl_grpc_stream_end(&sub->base, SL_GRPC_RESOURCE_EXHAUSTED, "out of memory encoding a message");
        return false;
    }
    sl_grpc_stream_send(&sub->base);
    return true;
}

static bool send_event(struct subscription *sub, const struct sl_event *ev)
{
    return sl_grpc_stream_send_event(&sub->base, ev, sub->req.uuid_structured, sub->req.resolve_links);
}

static bool send_checkpoint(struct subscription *sub, uint64_t position)
{
    sub->considered = 0;
    return send_packed(sub, sl_grpc_encode_checkpoint(&sub->base.out, position, sl_now_us()));
}

/* ---- a stream ---- */

static bool step_stream(struct sl_grpc_stream *s)
{
    struct subscription *sub = (struct subscription *)s;
    struct sl_read_result r = {0};
    struct sl_error err = {0};
    enum sl_code code = sl_store_read_stream(s->api->store, sub->req.stream, sub->req.stream_len,
                                             sub->next_rev, false, SUBSCRIPTION_BATCH, &r, &err);
    bool more = false;
    if (code == SL_OK) {
        for (size_t i = 0; i < r.count; i++) {
            if (!send_event(sub, &r.events[i]))
                goto out;
            sub->last_sent = r.events[i].revision;
            sub->next_rev = r.events[i].revision + 1;
        }
        more = r.has_next;
    } else if (code != SL_E_NOT_FOUND) {
        sl_grpc_stream_fail(s, &err, sub->req.stream, sub->req.stream_len); /* tombstoned, or worse */
        goto out;
    }
    if (!more && !sub->is_caught_up) {
        sub->is_caught_up = true;
        send_packed(sub, sl_grpc_encode_caught_up(&s->out, sl_now_us(), sub->last_sent, 0));
    }
out:
    sl_read_result_free(&r);
    return more;
}

/* ---- $all ---- */

static bool step_all(struct sl_grpc_stream *s)
{
    struct subscription *sub = (struct subscription *)s;
    const struct sl_event *evs;
    size_t n;
    struct sl_error err = {0};
    enum sl_code code = sl_cursor_next(sub->cursor, SUBSCRIPTION_BATCH, 0, &evs, &n, &err);
    if (code == SL_E_TIMEOUT) {
        if (!sub->is_caught_up) {
            sub->is_caught_up = true;
            uint64_t at = sl_cursor_position(sub->cursor);
            if (sub->filter && !send_checkpoint(sub, at))
                return false;
            send_packed(sub, sl_grpc_encode_caught_up(&s->out, sl_now_us(), -1, at));
        }
        return false;
    }
    if (code != SL_OK) {
        sl_grpc_stream_fail(s, &err, NULL, 0);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if ((sub->filter == NULL || sl_filter_matches(sub->filter, &evs[i])) && !send_event(sub, &evs[i]))
            return false;
        if (sub->filter && ++sub->considered >= sub->checkpoint_every &&
            !send_checkpoint(sub, evs[i].position))
            return false;
    }
    return true;
}

/* ---- starting ---- */

/* Sets where the subscription starts: strictly after the point the client gave. */
static bool start_point(struct sl_api *api, struct subscription *sub, struct sl_error *err)
{
    const struct sl_grpc_read_req *q = &sub->req;
    sub->last_sent = SL_REVISION_NONE;
    if (!q->is_all) {
        if (q->from == SL_GRPC_FROM_START) {
            sub->next_rev = 0;
        } else if (q->from == SL_GRPC_FROM_POINT) {
            sub->next_rev = q->revision >= (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)q->revision + 1;
        } else {
            struct sl_stream_info info;
            if (sl_store_stream_info(api->store, q->stream, q->stream_len, &info, err) != SL_OK)
                return false;
            sub->next_rev = info.last_revision + 1;
        }
        return true;
    }
    uint64_t after = 0;
    if (q->from == SL_GRPC_FROM_END)
        after = sl_store_head(api->store);
    else if (q->from == SL_GRPC_FROM_POINT)
        after = q->position;
    if (!sl_grpc_read_filter(q, &sub->filter, err))
        return false;
    sub->checkpoint_every = (uint64_t)q->checkpoint_window * q->checkpoint_multiplier;
    sub->cursor = sl_cursor_open(api->store, after, NULL);
    if (sub->cursor == NULL) {
        sl_errorf(err, SL_E_NOMEM, "out of memory opening a subscription");
        return false;
    }
    return true;
}

void sl_api_grpc_subscribe(struct sl_api *api, struct sl_grpc_call *call, struct sl_grpc_read_req *req)
{
    struct subscription *sub = calloc(1, sizeof(*sub));
    struct sl_error err = {0};
    if (sub == NULL) {
        sl_grpc_read_req_free(req);
        sl_api_grpc_finish(call, SL_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        return;
    }
    sub->req = *req;
    if (!start_point(api, sub, &err)) {
        sl_api_grpc_fail(call, &err, sub->req.stream, sub->req.stream_len);
        sl_filter_free(sub->filter);
        sl_grpc_read_req_free(&sub->req);
        free(sub);
        return;
    }
    sub->base.step = sub->req.is_all ? step_all : step_stream;
    sub->base.release = release;
    sub->base.is_live = true;

    /* The confirmation goes first, before any event. */
    uint8_t id[16];
    char id_text[37];
    sl_uuid_generate(id);
    sl_uuid_format(id, id_text);
    struct sl_buf first;
    sl_buf_init(&first);
    if (!sl_grpc_encode_confirmation(&first, id_text)) {
        sl_buf_free(&first);
        release(&sub->base);
        sl_api_grpc_finish(call, SL_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        return;
    }
    sl_api_grpc_send(call, &first);
    sl_buf_free(&first);
    sl_grpc_stream_start(&sub->base, api, call);
}
