/* http_internal.h: what the server's own files share, and nothing outside src/server/ may use.
 *
 * Lifetimes. A connection is freed when its reference count drops to zero. It holds one reference
 * for its TCP handle and one for its timer (each dropped in the handle's close callback), and one
 * while the handler holds a request (dropped when the handler ends it). So a request the handler
 * still holds keeps its connection's memory valid after the socket is gone; only the handler's
 * sl_http_respond()/sl_http_stream_end() or sl_server_free() release it.
 *
 * Everything here runs on the loop thread, except the post queue, which the mutex guards. */
#ifndef SL_SERVER_HTTP_INTERNAL_H
#define SL_SERVER_HTTP_INTERNAL_H

#include <http_parser.h>
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
    SL_TIMER_WAIT,   /* no request started: close silently */
    SL_TIMER_HEAD,   /* headers not complete: 408 */
    SL_TIMER_BODY,   /* body not complete: 408 */
    SL_TIMER_LINGER, /* closing: close */
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

static inline struct sl_http_req *sl_http_req_of(struct sl_http_request *pub)
{
    return (struct sl_http_req *)pub;
}

#endif
