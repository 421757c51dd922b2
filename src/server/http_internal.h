/* http_internal.h: what the server's own files share, and nothing outside src/server/ may use.
 *
 * Lifetimes. A connection is freed when its reference count drops to zero. It holds one reference
 * for its TCP handle and one for its timer (each dropped in the handle's close callback), and one
 * while the handler holds a request (dropped when the handler ends it). So a request the handler
 * still holds keeps its connection's memory valid after the socket is gone; only the handler's
 * sl_http_respond()/sl_http_stream_end() or sl_server_free() release it. On an HTTP/2 connection
 * each gRPC call the handler holds is such a reference, dropped by sl_grpc_finish().
 *
 * Protocols. A connection starts as SL_PROTO_UNKNOWN and buffers its first bytes (in c->in) while
 * they could still be the HTTP/2 client preface; the first byte that differs makes it HTTP/1.1
 * (SL_PROTO_HTTP1, everything in http_conn.c), 24 matching bytes make it HTTP/2 (SL_PROTO_H2:
 * h2_conn.c drives an nghttp2 session, grpc_call.c the calls on it).
 *
 * Everything here runs on the loop thread, except the post queue, which the mutex guards. */
#ifndef SL_SERVER_HTTP_INTERNAL_H
#define SL_SERVER_HTTP_INTERNAL_H

#include <http_parser.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "server/http.h"
#include "server/server.h"
#include "util/buf.h"

/* Pipelined input a connection buffers while it cannot parse it (its current request is with the
 * handler, or its responses pile up); past it the server stops reading that socket. */
#define SL_HTTP_INPUT_BOUND ((size_t)64 * 1024)
/* Responses queued but not yet taken by a client that keeps pipelining requests: past this the
 * server stops reading that client until it catches up. Not applied to streamed responses. */
#define SL_HTTP_OUTPUT_BOUND ((size_t)1024 * 1024)
/* A streamed response whose write queue grew past this gets on_drain once the queue is empty. */
#define SL_HTTP_DRAIN_MARK ((size_t)256 * 1024)
/* After the last response on a connection: how long to read and discard what the client still
 * sends before closing, so that closing does not reset the connection under an unread response. */
#define SL_HTTP_LINGER_MS 2000
/* How long in-flight requests may take to finish once shutdown begins. */
#define SL_SERVER_GRACE_MS 5000
/* How often the server checks, while shutting down, whether every connection is done. */
#define SL_SERVER_DRAIN_TICK_MS 20
/* All reads land in one buffer per server: the loop runs one read callback at a time. */
#define SL_SERVER_READ_BUF ((size_t)64 * 1024)

struct sl_http_req {
    struct sl_http_request pub; /* first: handlers see only this */
    struct sl_buf url;
    char *target; /* the URL split in place: pub.path and pub.query point into it */
    struct sl_buf body;
    struct sl_buf field; /* the header being read */
    struct sl_buf value;
    bool is_in_value; /* the last header callback carried a value */
    size_t headers_cap;
    bool is_keep_alive;
    bool is_streaming;
    char empty[1]; /* "" for path, query and body until the parser has them */
};

enum sl_conn_state {
    SL_CONN_OPEN,      /* reading and answering requests */
    SL_CONN_FINISHING, /* last response queued: flushing, then half-close and linger */
    SL_CONN_CLOSING,   /* handles closing; may outlive them while a handler holds its request */
};

enum sl_conn_timer {
    SL_TIMER_NONE,
    SL_TIMER_WAIT,    /* no request started: close silently */
    SL_TIMER_HEAD,    /* headers not complete: 408 */
    SL_TIMER_BODY,    /* body not complete: 408 */
    SL_TIMER_LINGER,  /* closing: close */
    SL_TIMER_H2_IDLE, /* HTTP/2 without calls: GOAWAY, then close */
    SL_TIMER_H2_KICK, /* HTTP/2: deliver what an API call left to do (sl_h2_conn_kick) */
};

enum sl_conn_proto {
    SL_PROTO_UNKNOWN, /* no byte that tells yet */
    SL_PROTO_HTTP1,
    SL_PROTO_H2,
};

struct sl_http_conn {
    struct sl_server *srv;
    struct sl_http_conn *prev, *next; /* srv->conns */
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown_req;
    http_parser parser;
    enum sl_conn_state state;
    enum sl_conn_timer timer_kind;
    enum sl_conn_proto proto;
    struct sl_grpc_conn *h2; /* SL_PROTO_H2 only */
    int refs;

    struct sl_http_req *req;    /* being read */
    struct sl_http_req *active; /* with the handler, not yet ended */

    char *in; /* input not yet parsed (pipelined behind `active`) */
    size_t in_len, in_cap;

    size_t head_bytes;      /* bytes of the current request's header block so far */
    uint64_t started_ms;    /* the current request's first byte, loop time */
    bool has_headers;       /* the current request's header block is complete */
    size_t writes_pending;  /* uv_write requests not yet called back */
    int fail_status;        /* set by a parser callback that refused the request */
    const char *fail_code;  /* kebab-case */
    char fail_message[160]; /* what and why */

    bool is_reading;
    bool is_parsing; /* inside conn_parse(): a response must not re-enter it */
    bool is_done_reading_requests;
    bool is_backpressured; /* streamed output passed SL_HTTP_DRAIN_MARK */
    bool is_failed;        /* a write failed: close on the next loop iteration */
    bool is_shut_down;     /* the write side is closed and flushed */
    bool saw_eof;
};

enum sl_server_state {
    SL_SRV_NEW,
    SL_SRV_RUNNING,
    SL_SRV_DRAINING, /* not accepting; waiting for in-flight requests */
    SL_SRV_CLOSED,   /* every handle closed or closing */
};

struct sl_server_post {
    void (*fn)(void *arg);
    void *arg;
    struct sl_server_post *next;
};

struct sl_server_hook {
    void (*fn)(void *arg);
    void *arg;
};

struct sl_server {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_signal_t sigint, sigterm;
    uv_async_t wake; /* posts and stop requests */
    uv_timer_t drain_timer;
    bool is_loop_ready;
    bool is_listener_open, is_signals_open, is_drain_timer_open, is_wake_open;

    char *host;
    int port;
    struct sockaddr_storage addr;
    struct sl_server_limits limits;
    sl_http_handler handler;
    void *handler_arg;
    sl_grpc_handler grpc_handler; /* NULL: HTTP/2 is answered with GOAWAY */
    void *grpc_handler_arg;
    enum sl_server_state state;
    uint64_t drain_started_ms;
    atomic_int bound_port;

    pthread_mutex_t mu; /* guards the fields down to the next blank line */
    struct sl_server_post *posts, *posts_tail;
    bool is_stop_requested;
    bool is_post_closed;

    struct sl_server_hook *hooks;
    size_t n_hooks, hooks_cap;

    struct sl_http_conn *conns; /* every connection not yet freed */
    bool is_saturated;          /* a connection was refused since the count last dropped */
    struct sl_server_stats stats;
    char read_buf[SL_SERVER_READ_BUF];
};

/* http_conn.c */
void sl_http_conn_accept(struct sl_server *srv);
/* Serves `sock`, a connected stream socket, as if the listener had accepted it (tests and fuzzing
 * drive a connection through one end of a socketpair this way). Ignores max_connections. NULL when
 * it cannot: `sock` then stays the caller's to close. */
struct sl_http_conn *sl_http_conn_open(struct sl_server *srv, uv_os_sock_t sock);
/* Takes bytes read from the client: parses and hands requests to the handler as far as it may,
 * and buffers the rest (see http_conn.c on pipelining). The read callback's path for data, and
 * the seam a fuzzer feeds raw bytes through; dropped once the connection takes no more requests. */
void sl_http_conn_feed(struct sl_http_conn *c, const char *data, size_t len);
void sl_http_conn_close(struct sl_http_conn *c);
void sl_http_conn_finish(struct sl_http_conn *c);
void sl_http_conn_fail_later(struct sl_http_conn *c);
void sl_http_conn_resume(struct sl_http_conn *c);
bool sl_http_conn_is_busy(const struct sl_http_conn *c);
bool sl_http_conn_keeps_alive(const struct sl_http_conn *c, const struct sl_http_req *r);
void sl_http_conn_release(struct sl_http_conn *c, struct sl_http_req *r, char *out, size_t out_len,
                          bool is_keep_alive);
void sl_http_conn_destroy(struct sl_http_conn *c);
/* Drops one reference (see Lifetimes above); frees the connection when it was the last. */
void sl_http_conn_unref(struct sl_http_conn *c);
/* The connection's one timer: (re)armed for `kind` in `ms`, or stopped. Not while closing. */
void sl_http_conn_set_timer(struct sl_http_conn *c, enum sl_conn_timer kind, uint64_t ms);
void sl_http_conn_clear_timer(struct sl_http_conn *c);

/* http_response.c */
void sl_http_head(struct sl_buf *b, int status, const char *content_type, int64_t content_length,
                  bool is_keep_alive, const char *extra_headers);
bool sl_http_conn_write(struct sl_http_conn *c, char *data, size_t len);
void sl_http_conn_fail(struct sl_http_conn *c, int status, const char *code, const char *message);
void sl_http_count_status(struct sl_server *srv, int status);

/* http_request.c */
struct sl_http_req *sl_http_req_new(struct sl_http_conn *c);
void sl_http_req_free(struct sl_http_req *r);
bool sl_http_req_end_header(struct sl_http_req *r);
bool sl_http_req_split_target(struct sl_http_req *r);

/* ---- HTTP/2 and gRPC ------------------------------------------------------------------------
 *
 * Who calls handler code, and when. The grpc handler, on_message and on_half_close run from inside
 * nghttp2_session_mem_recv() (nghttp2 allows submitting frames there; sending waits until it
 * returns). on_cancel and on_drain are queued on the connection and delivered only from the
 * server's own entry points: a read, a write completing, the connection's timer, closing. The API
 * (sl_grpc_send/finish) never calls back into handler code and never writes: it arms the timer at
 * 0 ms (SL_TIMER_H2_KICK), whose kick writes and delivers. A connection is never closed from
 * inside nghttp2.
 *
 * A call has two owners: its nghttp2 stream (`has_stream`, from its first HEADERS until the stream
 * closes or the session goes) and the handler (from dispatch until sl_grpc_finish()). It is freed
 * when both are done. */

/* The client connection preface; a request line of HTTP/1.x never starts with all of it. */
#define SL_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define SL_H2_PREFACE_LEN 24
/* SETTINGS_MAX_CONCURRENT_STREAMS we advertise. */
#define SL_H2_MAX_STREAMS 1000
/* SETTINGS_INITIAL_WINDOW_SIZE we advertise (per stream), and the connection's receive window. */
#define SL_H2_STREAM_WINDOW ((int32_t)1024 * 1024)
#define SL_H2_CONN_WINDOW ((int32_t)16 * 1024 * 1024)
/* Request bytes a client may send after the response ended before it is reset: a request's end
 * racing the response is never reset (a reset there fails the call in some clients); a client
 * still uploading is told to stop. */
#define SL_H2_LATE_BOUND ((size_t)64 * 1024)
/* Request bytes one connection may hold at once: unfinished messages plus the metadata of its
 * calls. A call that would pass it ends with RESOURCE_EXHAUSTED. */
#define SL_H2_INPUT_BOUND ((size_t)64 * 1024 * 1024)
/* What nghttp2 itself may allocate for one connection (streams, HPACK tables, queued frames);
 * past it the session fails and the connection closes. */
#define SL_H2_SESSION_BOUND ((size_t)16 * 1024 * 1024)
/* Frames are produced while fewer bytes than this wait in the socket's write queue. */
#define SL_H2_WRITE_BOUND ((size_t)512 * 1024)
/* Frames are gathered into writes of about this size. */
#define SL_H2_WRITE_CHUNK ((size_t)64 * 1024)

enum sl_grpc_response {
    SL_GRPC_RESP_NONE,      /* nothing submitted */
    SL_GRPC_RESP_STREAMING, /* headers submitted with the data provider */
    SL_GRPC_RESP_CLOSING,   /* trailers decided: submitted once the queue is sent */
    SL_GRPC_RESP_DONE,      /* the last frame of the response is submitted */
};

/* One queued response message, prefix included. */
struct sl_grpc_out {
    struct sl_grpc_out *next;
    size_t len;
    uint8_t data[];
};

/* Header fields being built for nghttp2: text in one buffer, offsets until sl_h2_fields_nv(). */
struct sl_h2_fields {
    struct sl_buf text;
    size_t *offs; /* 4 per field: name offset, name length, value offset, value length */
    size_t n, cap;
    bool failed;
    nghttp2_nv *nv; /* filled by sl_h2_fields_nv(); points into `text` */
};

struct sl_grpc_stream {
    struct sl_grpc_call pub; /* first: handlers see only this */
    struct sl_grpc_conn *h2;
    struct sl_grpc_stream *prev, *next;               /* h2->calls */
    struct sl_grpc_stream *notify_prev, *notify_next; /* h2->notify_* while is_queued */
    int32_t stream_id;

    /* Request head. */
    char *path;
    size_t metadata_cap;
    size_t head_bytes; /* name + value + 32 per field, as HTTP/2 counts a header list */
    bool is_post;
    bool is_head_too_large;

    /* Request messages. */
    uint8_t prefix[5];
    size_t prefix_len;
    uint32_t msg_want; /* the message's length, once the prefix is complete */
    uint8_t *msg;      /* what has arrived of it */
    size_t msg_len, msg_cap;
    size_t in_bytes;   /* this call's share of h2->in_bytes */
    size_t late_bytes; /* request bytes that came after the response ended (SL_H2_LATE_BOUND) */

    /* Response. */
    enum sl_grpc_response resp;
    struct sl_grpc_out *out_head, *out_tail;
    size_t out_off;               /* bytes of out_head already given to nghttp2 */
    size_t pending;               /* queued bytes not yet given to nghttp2 */
    struct sl_h2_fields trailers; /* for SL_GRPC_RESP_CLOSING */

    bool has_stream;    /* the nghttp2 stream still exists */
    bool is_dispatched; /* the handler was given it */
    bool is_finished;   /* the handler ended it */
    bool is_discarding; /* request data is dropped from now on */
    bool is_broken;     /* the request is at fault: reset it as soon as the response ends */
    bool is_half_closed;
    bool is_deferred; /* the data provider is waiting for nghttp2_session_resume_data() */
    bool is_above_high;
    bool is_queued; /* in the notify queue */
    bool wants_cancel, wants_drain;
};

struct sl_grpc_conn {
    struct sl_http_conn *http;
    nghttp2_session *session;                         /* NULL once torn down */
    struct sl_grpc_stream *calls;                     /* every call not yet freed */
    struct sl_grpc_stream *notify_head, *notify_tail; /* calls with on_cancel/on_drain due */
    size_t n_calls;
    size_t n_held;        /* dispatched and not finished */
    size_t in_bytes;      /* request bytes held (SL_H2_INPUT_BOUND) */
    size_t session_bytes; /* what nghttp2 holds (SL_H2_SESSION_BOUND) */
    bool is_in_session;   /* inside nghttp2_session_mem_recv() or _mem_send() */
    bool is_dead;         /* to be torn down as soon as nghttp2 returns */
    bool is_delivering;
    bool is_probing;       /* idle: a PING sent to see whether the client is still there */
    bool is_draining;      /* the server is shutting down: shutdown notice and PING sent */
    bool is_drain_acked;   /* that PING came back: the client has seen the notice */
    bool is_goaway_queued; /* the last GOAWAY is submitted */
    bool is_refusing;      /* no gRPC handler: GOAWAY at once */
};

/* h2_conn.c */
/* Switches `c` to HTTP/2 (its preface is in the first bytes `data`, which this feeds on). */
void sl_h2_conn_start(struct sl_http_conn *c, const char *data, size_t len);
void sl_h2_conn_feed(struct sl_http_conn *c, const char *data, size_t len);
/* Writes what nghttp2 has to send and delivers what is due. An entry point: may call handlers. */
void sl_h2_conn_kick(struct sl_http_conn *c);
/* From the API or the shutdown walk: arms SL_TIMER_H2_KICK at 0 ms. Calls no handler. */
void sl_h2_conn_flush(struct sl_http_conn *c);
void sl_h2_conn_on_idle(struct sl_http_conn *c);
/* Shutdown began: shutdown notice now, the last GOAWAY once no call is held. Calls no handler. */
void sl_h2_conn_drain(struct sl_http_conn *c);
/* Submits the last GOAWAY once the server drains, the client has answered the drain PING and no
 * call is held any more. */
void sl_h2_conn_maybe_goaway(struct sl_grpc_conn *h2);
/* Before closing the socket: a GOAWAY, if it can be written at once. Calls no handler. */
void sl_h2_conn_goodbye(struct sl_http_conn *c);
/* The connection is closing: the session goes, held calls are cancelled (on_cancel runs). */
void sl_h2_conn_closed(struct sl_http_conn *c);
/* Frees everything, calls a handler never ended too. */
void sl_h2_conn_free(struct sl_grpc_conn *h2);
/* Queues on_cancel (is_cancel) or on_drain for `s`; unqueues it. */
void sl_h2_notify(struct sl_grpc_stream *s, bool is_cancel);
void sl_h2_unnotify(struct sl_grpc_stream *s);

/* grpc_call.c */
struct sl_grpc_stream *sl_grpc_stream_new(struct sl_grpc_conn *h2, int32_t stream_id);
/* Unlinks and frees (both owners are done). */
void sl_grpc_stream_free(struct sl_grpc_stream *s);
/* A request header field; false if the field is refused for good (no memory). */
bool sl_grpc_stream_header(struct sl_grpc_stream *s, const uint8_t *name, size_t namelen,
                           const uint8_t *value, size_t valuelen);
/* The request head is complete: refuse it, or hand the call to the handler. */
void sl_grpc_stream_begin(struct sl_grpc_stream *s);
void sl_grpc_stream_data(struct sl_grpc_stream *s, const uint8_t *data, size_t len);
void sl_grpc_stream_half_close(struct sl_grpc_stream *s);
/* The nghttp2 stream is gone (reset, closed, or the session ended). May free `s`. */
void sl_grpc_stream_closed(struct sl_grpc_stream *s);
/* nghttp2's data provider for a call's response: its queue, then the trailers. */
ssize_t sl_grpc_stream_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                            uint32_t *data_flags, nghttp2_data_source *source, void *user_data);

void sl_h2_fields_init(struct sl_h2_fields *f);
void sl_h2_fields_free(struct sl_h2_fields *f);
void sl_h2_fields_add(struct sl_h2_fields *f, const char *name, const char *value, size_t value_len);
/* The nghttp2 view of the fields; NULL when building them failed. Valid until the next add/free. */
nghttp2_nv *sl_h2_fields_nv(struct sl_h2_fields *f);

static inline struct sl_grpc_stream *sl_grpc_stream_of(struct sl_grpc_call *pub)
{
    return (struct sl_grpc_stream *)pub;
}

static inline struct sl_http_req *sl_http_req_of(struct sl_http_request *pub)
{
    return (struct sl_http_req *)pub;
}

#endif
