/* grpc.h: gRPC calls over HTTP/2, as seen by call handlers.
 *
 * The server tells HTTP/1.1 from HTTP/2 on each connection by the client's
 * first bytes: the HTTP/2 connection preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
 * h2c with prior knowledge) switches the connection to nghttp2. Every HTTP/2
 * stream that is a `POST` with `content-type: application/grpc...` becomes a
 * struct sl_grpc_call; other requests get an HTTP/2 error response.
 *
 * Threads: everything here runs on, and must be called from, the loop thread
 * (use sl_server_post() from other threads).
 *
 * Ownership: the server owns each call. The handler must end every call
 * exactly once with sl_grpc_finish(), now or later. If the client cancels (RST_STREAM)
 * or the connection goes away first, the server sets `is_cancelled`, calls
 * `on_cancel` (when set), and keeps the call valid until the handler ends it;
 * whatever is sent after that is discarded. Call handlers never see HTTP/2
 * frames, flow control or the 5-byte gRPC message prefix.
 *
 * The server ends a call itself, and sets `is_cancelled` and calls `on_cancel`
 * as above, when the client breaks the framing: a compressed message
 * (UNIMPLEMENTED: sluice neither sends nor accepts compression), a message over
 * SL_GRPC_MAX_MESSAGE_BYTES or more unfinished request bytes on the connection
 * than it buffers (RESOURCE_EXHAUSTED), or a request that ends inside a message
 * (INTERNAL). Requests that are not a `POST` (405) or not `application/grpc`
 * (415) are answered with grpc-status INVALID_ARGUMENT and never reach the
 * handler. `grpc-timeout` is left in the metadata and not enforced: no
 * deadline ends a call (subscriptions live as long as the client wants).
 *
 * When the server shuts down, HTTP/2 clients get a GOAWAY notice at once, and
 * the last GOAWAY when the calls in flight have been finished (within the
 * grace period of server.h; on_cancel for those still held after it).
 *
 * Callbacks: the handler, on_message and on_half_close are called while the
 * server reads; on_cancel and on_drain a little later, never from inside
 * sl_grpc_send() or sl_grpc_finish(). */
#ifndef SL_SERVER_GRPC_H
#define SL_SERVER_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/http.h"

/* gRPC status codes used by sluice. */
enum sl_grpc_status {
    SL_GRPC_OK = 0,
    SL_GRPC_CANCELLED = 1,
    SL_GRPC_UNKNOWN = 2,
    SL_GRPC_INVALID_ARGUMENT = 3,
    SL_GRPC_DEADLINE_EXCEEDED = 4,
    SL_GRPC_NOT_FOUND = 5,
    SL_GRPC_ALREADY_EXISTS = 6,
    SL_GRPC_PERMISSION_DENIED = 7,
    SL_GRPC_RESOURCE_EXHAUSTED = 8,
    SL_GRPC_FAILED_PRECONDITION = 9,
    SL_GRPC_ABORTED = 10,
    SL_GRPC_OUT_OF_RANGE = 11,
    SL_GRPC_UNIMPLEMENTED = 12,
    SL_GRPC_INTERNAL = 13,
    SL_GRPC_UNAVAILABLE = 14,
};

/* Request messages over this are refused (both client stacks allow 17 MiB). */
#define SL_GRPC_MAX_MESSAGE_BYTES ((size_t)17 * 1024 * 1024)
/* Back-pressure: a call whose sl_grpc_pending() went over SL_GRPC_HIGH_WATER gets
 * on_drain once it is down to SL_GRPC_LOW_WATER. Handlers that stream should
 * stop sending above the high-water mark and go on in on_drain. */
#define SL_GRPC_HIGH_WATER ((size_t)1024 * 1024)
#define SL_GRPC_LOW_WATER ((size_t)256 * 1024)

struct sl_grpc_conn;

struct sl_grpc_call {
    const char *path;                /* e.g. "/event_store.client.streams.Streams/Read" */
    struct sl_http_header *metadata; /* request headers, names lower-cased (":path" etc. excluded) */
    size_t n_metadata;

    /* Set by the handler when the call starts (all optional). */
    void *user;
    /* One whole request message (prefix removed). `msg` is valid during the call only. */
    void (*on_message)(struct sl_grpc_call *call, const uint8_t *msg, size_t len);
    /* The client sent its last message (END_STREAM). */
    void (*on_half_close)(struct sl_grpc_call *call);
    /* The client went away or reset the stream before the call was finished. */
    void (*on_cancel)(struct sl_grpc_call *call);
    /* Queued response bytes fell below the low-water mark after being above it. */
    void (*on_drain)(struct sl_grpc_call *call);

    bool is_cancelled;
    struct sl_grpc_conn *conn; /* the server's */
};

/* Called on the loop thread for each new call, once its request headers have
 * arrived and before any message; the handler sets the callbacks (or finishes
 * the call at once, e.g. UNIMPLEMENTED). */
typedef void (*sl_grpc_handler)(struct sl_grpc_call *call, void *arg);

/* The value of request metadata `name` (lower-case), or NULL. */
const char *sl_grpc_metadata(const struct sl_grpc_call *call, const char *name);

/* Queues one response message (the 5-byte prefix is added; the bytes are
 * copied). The first message also sends the response headers
 * (`:status 200`, `content-type: application/grpc`). Messages go out as the
 * client's flow-control window allows; nothing bounds the queue but the
 * handler's use of sl_grpc_pending() and on_drain. */
void sl_grpc_send(struct sl_grpc_call *call, const uint8_t *msg, size_t len);

/* Response bytes queued and not yet handed to the socket (for back-pressure). */
size_t sl_grpc_pending(const struct sl_grpc_call *call);

/* Ends the call with trailers `grpc-status`, `grpc-message` (percent-encoded
 * here) and the extra `trailers` (NULL or n pairs, e.g. "exception" and
 * "stream-name"). Without any message sent first, a trailers-only response is
 * sent. The call must not be used afterwards.
 *
 * Trailer names are lower-cased; names that are not tokens or that would
 * replace grpc-status, grpc-message or content-type are dropped (with a warning),
 * and control characters in values become spaces. Values of `-bin` keys must
 * already be base64. */
void sl_grpc_finish(struct sl_grpc_call *call, enum sl_grpc_status status, const char *message,
                    const struct sl_http_header *trailers, size_t n_trailers);

#endif
