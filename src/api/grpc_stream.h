/* grpc_stream.h: a server-streaming gRPC call that sends in batches over many loop turns.
 *
 * Reads and subscriptions embed a struct sl_grpc_stream and give it a `step`
 * that sends one batch. The stream calls `step` until it says there is
 * nothing more to send now, but never while the call has more than
 * SL_GRPC_HIGH_WATER bytes of response queued (the call's on_drain resumes it),
 * and for a few batches per loop turn only, so one long read does not starve
 * other connections. Live streams are stepped again after every commit
 * (sl_api_grpc_streams_on_commit). A client that cancels, and server shutdown,
 * end the stream.
 *
 * `release` frees the owner's state. It runs exactly once, after the stream
 * ended and once no step or resume is pending, so `step` may end the stream.
 * Loop thread only. */
#ifndef SL_API_GRPC_STREAM_H
#define SL_API_GRPC_STREAM_H

#include "api/grpc_handlers.h"

struct sl_grpc_stream {
    /* set by the owner before sl_grpc_stream_start */
    bool (*step)(struct sl_grpc_stream *s); /* sends a batch; true when more may be sent now */
    void (*release)(struct sl_grpc_stream *s);
    bool is_live; /* step again after every commit */

    /* the stream's */
    struct sl_api *api;
    struct sl_grpc_call *call; /* NULL once ended */
    struct sl_grpc_stream *prev, *next;
    bool is_ended;
    bool is_resume_posted;
    int depth;         /* steps in progress */
    struct sl_buf out; /* packing buffer for the owner's messages */
};

/* Registers the stream, takes over the call's on_cancel and on_drain, and sends the first batches. */
void sl_grpc_stream_start(struct sl_grpc_stream *s, struct sl_api *api, struct sl_grpc_call *call);

/* Sends the message packed in s->out (nothing once the stream ended). */
void sl_grpc_stream_send(struct sl_grpc_stream *s);

/* Sends `ev` as a ReadResp. With `resolve_links`, a link event (type `$>`,
 * data `<revision>@<stream>`) goes out with the event it points to; one whose
 * target is gone goes out as it is. Returns false, with the call ended, when
 * memory ran out. */
bool sl_grpc_stream_send_event(struct sl_grpc_stream *s, const struct sl_event *ev, bool uuid_structured,
                               bool resolve_links);

/* Ends the call with `status` and unregisters the stream; later calls do nothing. */
void sl_grpc_stream_end(struct sl_grpc_stream *s, enum sl_grpc_status status, const char *message);

/* Ends the call with the error that fits `err` (see sl_api_grpc_fail). */
void sl_grpc_stream_fail(struct sl_grpc_stream *s, const struct sl_error *err, const char *stream,
                         size_t len);

/* Sends what there is to send now (e.g. after the owner changed its state). */
void sl_grpc_stream_pump(struct sl_grpc_stream *s);

#endif
