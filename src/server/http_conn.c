/* http_conn.c: one client connection: reading, telling HTTP/1.1 from HTTP/2, the http-parser
 * glue, limits and timeouts, handing requests to the handler one at a time, and closing. An HTTP/2
 * connection is handed to h2_conn.c once its preface has arrived; this file still owns its socket,
 * its timer and its closing.
 *
 * Pipelining. The parser is paused at the end of every request, so that request goes to the
 * handler before the next one is parsed. Bytes behind it wait in c->in; past
 * SL_HTTP_INPUT_BOUND the socket is not read until the handler has answered. The answer may come
 * at once (from inside the handler call) or later (from a posted callback); either way parsing
 * resumes from c->in once it is written.
 *
 * Timeouts. One timer per connection, armed at a deadline and never pushed back by the bytes
 * that trickle in: a request's header block has header_timeout_ms from its first byte, its body
 * request_timeout_ms from that same first byte. While the handler holds a request (and for a
 * streamed response) there is no timer. Between requests the idle timeout runs; a fresh
 * connection gets the header timeout to send anything at all.
 *
 * Closing. After the last response the connection flushes, half-closes (FIN), reads and drops
 * what the client still sends for up to SL_HTTP_LINGER_MS and only then closes: closing a socket
 * with unread input makes the kernel send a reset, which can destroy the response (a 413 or 431
 * is typically sent while the client is still sending). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/http_internal.h"
#include "util/log.h"

static size_t conn_parse(struct sl_http_conn *c, const char *data, size_t len);

/* ---- lifetime ---------------------------------------------------------------------------- */

static void conn_unref(struct sl_http_conn *c)
{
    if (--c->refs > 0)
        return;
    sl_http_conn_destroy(c);
}

void sl_http_conn_unref(struct sl_http_conn *c)
{
    conn_unref(c);
}

/* Frees a connection whose handles are closed, with the request a handler may still hold. */
void sl_http_conn_destroy(struct sl_http_conn *c)
{
    struct sl_server *srv = c->srv;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    sl_http_req_free(c->req);
    sl_http_req_free(c->active);
    sl_h2_conn_free(c->h2);
    free(c->in);
    free(c);
}

static void on_handle_close(uv_handle_t *h)
{
    conn_unref(h->data);
}

static void on_refused_close(uv_handle_t *h)
{
    free(h);
}

/* Accepts and at once closes a connection the server will not serve: left unaccepted, it would
 * stall the listener. */
static void refuse(struct sl_server *srv)
{
    uv_tcp_t *t = malloc(sizeof(*t));
    if (t == NULL)
        return;
    if (uv_tcp_init(&srv->loop, t) != 0) {
        free(t);
        return;
    }
    uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, on_refused_close);
}

/* ---- timers and reading ------------------------------------------------------------------ */

static void on_timer(uv_timer_t *t);

static void arm_timer(struct sl_http_conn *c, enum sl_conn_timer kind, uint64_t ms)
{
    if (c->state == SL_CONN_CLOSING)
        return;
    if (c->is_failed) {
        kind = SL_TIMER_LINGER;
        ms = 0;
    }
    c->timer_kind = kind;
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void stop_timer(struct sl_http_conn *c)
{
    if (c->state == SL_CONN_CLOSING || c->is_failed)
        return;
    c->timer_kind = SL_TIMER_NONE;
    uv_timer_stop(&c->timer);
}

void sl_http_conn_set_timer(struct sl_http_conn *c, enum sl_conn_timer kind, uint64_t ms)
{
    arm_timer(c, kind, ms);
}

void sl_http_conn_clear_timer(struct sl_http_conn *c)
{
    stop_timer(c);
}

/* A write failed where closing at once is unsafe: close on the next loop iteration. */
void sl_http_conn_fail_later(struct sl_http_conn *c)
{
    if (c->state == SL_CONN_CLOSING)
        return;
    c->is_failed = true;
    c->is_done_reading_requests = true;
    arm_timer(c, SL_TIMER_LINGER, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct sl_http_conn *c = h->data;
    *buf = uv_buf_init(c->srv->read_buf, (unsigned int)sizeof(c->srv->read_buf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static bool is_output_backlogged(const struct sl_http_conn *c)
{
    return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) > SL_HTTP_OUTPUT_BOUND;
}

/* Reads unless the peer is gone, or a client that pipelines has too much waiting on either side:
 * input behind a request the handler holds, or responses it has not read yet. */
static void update_reading(struct sl_http_conn *c)
{
    /* Not HTTP/2: its peer must be read to see WINDOW_UPDATE and RST_STREAM; nghttp2 bounds what
     * a peer that does not read in turn can make it queue. */
    bool is_backlogged = c->state == SL_CONN_OPEN && !c->is_done_reading_requests &&
                         c->proto != SL_PROTO_H2 &&
                         (c->in_len >= SL_HTTP_INPUT_BOUND || is_output_backlogged(c));
    bool is_wanted = c->state != SL_CONN_CLOSING && !c->saw_eof && !is_backlogged;
    if (is_wanted && !c->is_reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->is_reading = true;
        else
            sl_http_conn_fail_later(c);
    } else if (!is_wanted && c->is_reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->is_reading = false;
    }
}

/* ---- closing ----------------------------------------------------------------------------- */

/* Closes now. A request the handler holds is marked aborted and stays valid until it is ended. */
void sl_http_conn_close(struct sl_http_conn *c)
{
    if (c->state == SL_CONN_CLOSING)
        return;
    struct sl_server *srv = c->srv;
    if (c->h2 != NULL)
        sl_h2_conn_goodbye(c);
    c->state = SL_CONN_CLOSING;
    c->is_reading = false;
    srv->stats.connections_open--;
    if (c->proto == SL_PROTO_H2)
        srv->stats.h2_connections_open--;
    if (srv->stats.connections_open < srv->limits.max_connections)
        srv->is_saturated = false;
    sl_http_req_free(c->req);
    c->req = NULL;
    c->in_len = 0;
    uv_close((uv_handle_t *)&c->tcp, on_handle_close);
    uv_close((uv_handle_t *)&c->timer, on_handle_close);

    struct sl_http_req *r = c->active;
    if (r != NULL && !r->pub.is_aborted) {
        r->pub.is_aborted = true;
        if (r->pub.on_abort != NULL)
            r->pub.on_abort(&r->pub);
    }
    if (c->h2 != NULL)
        sl_h2_conn_closed(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct sl_http_conn *c = req->data;
    if (c->state == SL_CONN_CLOSING)
        return;
    c->is_shut_down = true;
    if (status < 0 || c->saw_eof) {
        sl_http_conn_close(c);
        return;
    }
    arm_timer(c, SL_TIMER_LINGER, SL_HTTP_LINGER_MS);
}

/* No more requests: flush what is queued, half-close, linger, close. */
void sl_http_conn_finish(struct sl_http_conn *c)
{
    if (c->state != SL_CONN_OPEN)
        return;
    c->state = SL_CONN_FINISHING;
    c->is_done_reading_requests = true;
    sl_http_req_free(c->req);
    c->req = NULL;
    c->in_len = 0;
    /* Bounds the flush too: a client that never reads must not hold the connection forever. */
    int flush_ms = c->srv->limits.request_timeout_ms;
    arm_timer(c, SL_TIMER_LINGER, (uint64_t)(flush_ms > SL_HTTP_LINGER_MS ? flush_ms : SL_HTTP_LINGER_MS));
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        sl_http_conn_close(c);
        return;
    }
    update_reading(c);
}

/* Still has work the server should wait for when shutting down gracefully. */
bool sl_http_conn_is_busy(const struct sl_http_conn *c)
{
    return c->state == SL_CONN_OPEN || (c->state == SL_CONN_FINISHING && !c->is_shut_down);
}

static void on_timer(uv_timer_t *t)
{
    struct sl_http_conn *c = t->data;
    const struct sl_server_limits *lim = &c->srv->limits;
    char message[160];
    enum sl_conn_timer kind = c->timer_kind;
    c->timer_kind = SL_TIMER_NONE;
    switch (kind) {
    case SL_TIMER_NONE:
        break;
    case SL_TIMER_WAIT:
    case SL_TIMER_LINGER:
        sl_http_conn_close(c);
        break;
    case SL_TIMER_HEAD:
        c->srv->stats.timeouts++;
        snprintf(message, sizeof(message),
                 "the request's headers did not arrive within %d ms of its first byte",
                 lim->header_timeout_ms);
        sl_http_conn_fail(c, 408, "request-timeout", message);
        break;
    case SL_TIMER_BODY:
        c->srv->stats.timeouts++;
        snprintf(message, sizeof(message), "the request's body did not arrive within %d ms of its first byte",
                 lim->request_timeout_ms);
        sl_http_conn_fail(c, 408, "request-timeout", message);
        break;
    case SL_TIMER_H2_IDLE:
        sl_h2_conn_on_idle(c);
        break;
    case SL_TIMER_H2_KICK:
        sl_h2_conn_kick(c);
        break;
    }
}

/* ---- accepting --------------------------------------------------------------------------- */

/* A connection on an initialised TCP handle that is not connected yet; NULL when out of memory. */
static struct sl_http_conn *conn_new(struct sl_server *srv)
{
    struct sl_http_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    if (uv_tcp_init(&srv->loop, &c->tcp) != 0) {
        free(c);
        return NULL;
    }
    uv_timer_init(&srv->loop, &c->timer);
    c->srv = srv;
    c->tcp.data = c;
    c->timer.data = c;
    c->refs = 2; /* the two handles */
    c->state = SL_CONN_OPEN;
    c->next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->prev = c;
    srv->conns = c;
    srv->stats.connections_open++;
    return c;
}

/* Starts serving a connection whose TCP handle is connected. */
static void conn_start(struct sl_http_conn *c)
{
    struct sl_server *srv = c->srv;
    srv->stats.connections_accepted++;
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    arm_timer(c, SL_TIMER_WAIT, (uint64_t)srv->limits.header_timeout_ms);
    update_reading(c);
}

void sl_http_conn_accept(struct sl_server *srv)
{
    if (srv->stats.connections_open >= srv->limits.max_connections) {
        if (!srv->is_saturated)
            sl_warn("server", "%" PRIu64 " connections open, the limit: refusing new ones",
                    srv->stats.connections_open);
        srv->is_saturated = true;
        refuse(srv);
        return;
    }
    struct sl_http_conn *c = conn_new(srv);
    if (c == NULL) {
        refuse(srv);
        return;
    }
    if (uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&c->tcp) != 0) {
        sl_http_conn_close(c);
        return;
    }
    conn_start(c);
}

struct sl_http_conn *sl_http_conn_open(struct sl_server *srv, uv_os_sock_t sock)
{
    struct sl_http_conn *c = conn_new(srv);
    if (c == NULL)
        return NULL;
    if (uv_tcp_open(&c->tcp, sock) != 0) {
        sl_http_conn_close(c);
        return NULL;
    }
    conn_start(c);
    return c;
}

/* ---- requests in and out ----------------------------------------------------------------- */

/* Whether the response to `r` may leave the connection open for another request. */
bool sl_http_conn_keeps_alive(const struct sl_http_conn *c, const struct sl_http_req *r)
{
    return r->is_keep_alive && !c->is_done_reading_requests && !c->is_failed && c->state == SL_CONN_OPEN &&
           c->srv->state == SL_SRV_RUNNING;
}

static void dispatch(struct sl_http_conn *c)
{
    struct sl_http_req *r = c->req;
    if (r == NULL)
        return;
    c->req = NULL;
    c->active = r;
    c->refs++; /* until the handler ends it */
    stop_timer(c);
    c->srv->stats.requests++;
    c->srv->handler(&r->pub, c->srv->handler_arg);
}

/* Parses what is buffered, as far as the handler and the client let it, and reads again if it
 * had stopped. Not from inside conn_parse(). */
void sl_http_conn_resume(struct sl_http_conn *c)
{
    if (c->state != SL_CONN_OPEN || c->is_parsing)
        return;
    if (c->proto == SL_PROTO_H2) {
        sl_h2_conn_kick(c);
        return;
    }
    if (c->in_len > 0 && c->active == NULL && !c->is_done_reading_requests) {
        size_t n = conn_parse(c, c->in, c->in_len);
        if (c->state == SL_CONN_OPEN && !c->is_done_reading_requests) {
            memmove(c->in, c->in + n, c->in_len - n);
            c->in_len -= n;
        } else {
            c->in_len = 0;
        }
    }
    if (c->is_done_reading_requests)
        c->in_len = 0;
    update_reading(c);
}

/* Ends request `r` (which the handler held): queues `out` (taken; NULL for nothing), then either
 * goes on with the next request or finishes the connection. Frees `r`, and `c` too when this was
 * the last thing keeping a closed connection alive. */
void sl_http_conn_release(struct sl_http_conn *c, struct sl_http_req *r, char *out, size_t out_len,
                          bool is_keep_alive)
{
    if (c->active == r)
        c->active = NULL;
    sl_http_req_free(r);
    if (out != NULL)
        sl_http_conn_write(c, out, out_len);
    if (c->state == SL_CONN_OPEN) {
        if (is_keep_alive) {
            arm_timer(c, SL_TIMER_WAIT, (uint64_t)c->srv->limits.idle_timeout_ms);
            sl_http_conn_resume(c);
        } else {
            sl_http_conn_finish(c);
        }
    }
    conn_unref(c);
}

static bool buffer_input(struct sl_http_conn *c, const char *data, size_t len)
{
    if (c->in_len + len > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : 4096;
        while (cap < c->in_len + len)
            cap *= 2;
        char *p = realloc(c->in, cap);
        if (p == NULL)
            return false;
        c->in = p;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, data, len);
    c->in_len += len;
    return true;
}

static void on_read_end(struct sl_http_conn *c, ssize_t status)
{
    c->saw_eof = true;
    update_reading(c);
    if (c->state == SL_CONN_FINISHING) {
        if (c->is_shut_down || status != UV_EOF)
            sl_http_conn_close(c);
        return;
    }
    /* An HTTP/2 client that stops sending cannot acknowledge settings or window updates: gone. */
    if (c->proto == SL_PROTO_H2) {
        sl_http_conn_close(c);
        return;
    }
    /* A client that half-closes after its request still gets the responses already queued; one
     * whose request is still with the handler is taken to have gone (as Node does): the handler
     * learns of it through on_abort. */
    if (status == UV_EOF && c->active == NULL && c->writes_pending > 0) {
        sl_http_conn_finish(c);
        return;
    }
    sl_http_conn_close(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct sl_http_conn *c = s->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        on_read_end(c, nread);
        return;
    }
    sl_http_conn_feed(c, buf->base, (size_t)nread);
}

/* Buffers the first bytes while they match the HTTP/2 preface. Returns true when it took them all
 * (still undecided, or switched to HTTP/2); false when the connection is HTTP/1.1 from now on, with
 * what was buffered still in c->in, in front of `data`. */
static bool detect_protocol(struct sl_http_conn *c, const char *data, size_t len)
{
    size_t have = c->in_len;
    size_t take = len < SL_H2_PREFACE_LEN - have ? len : SL_H2_PREFACE_LEN - have;
    if (memcmp(data, &SL_H2_PREFACE[have], take) != 0) {
        c->proto = SL_PROTO_HTTP1;
        return false;
    }
    if (have + take < SL_H2_PREFACE_LEN) {
        if (!buffer_input(c, data, len))
            sl_http_conn_close(c);
        update_reading(c);
        return true;
    }
    /* The whole preface: nghttp2 reads it again, with whatever follows. */
    if (have == 0) {
        sl_h2_conn_start(c, data, len);
        return true;
    }
    if (!buffer_input(c, data, len)) {
        sl_http_conn_close(c);
        return true;
    }
    char *in = c->in;
    size_t in_len = c->in_len;
    c->in = NULL;
    c->in_len = c->in_cap = 0;
    sl_h2_conn_start(c, in, in_len);
    free(in);
    return true;
}

void sl_http_conn_feed(struct sl_http_conn *c, const char *data, size_t len)
{
    if (c->proto == SL_PROTO_H2) {
        sl_h2_conn_feed(c, data, len);
        return;
    }
    if (c->state != SL_CONN_OPEN || c->is_done_reading_requests)
        return; /* lingering or streaming: dropped */
    if (c->proto == SL_PROTO_UNKNOWN && len > 0 && detect_protocol(c, data, len))
        return;
    if (c->active == NULL && c->in_len == 0) {
        size_t n = conn_parse(c, data, len);
        data += n;
        len -= n;
    }
    if (len == 0 || c->state != SL_CONN_OPEN || c->is_done_reading_requests) {
        update_reading(c);
        return;
    }
    if (!buffer_input(c, data, len)) {
        sl_http_conn_fail(c, 503, "out-of-memory", "the server has no memory to buffer the request");
        return;
    }
    sl_http_conn_resume(c);
}

/* ---- http-parser callbacks --------------------------------------------------------------- */

/* Refuses the request being parsed: parse() answers with `status` once the parser returns. */
static int refuse_request(struct sl_http_conn *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse_request(struct sl_http_conn *c, int status, const char *code, const char *fmt, ...)
{
    c->fail_status = status;
    c->fail_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->fail_message, sizeof(c->fail_message), fmt, ap);
    va_end(ap);
    return -1;
}

static int no_memory(struct sl_http_conn *c)
{
    return refuse_request(c, 503, "out-of-memory", "the server has no memory to read the request");
}

static int on_message_begin(http_parser *p)
{
    struct sl_http_conn *c = p->data;
    sl_http_req_free(c->req);
    c->req = sl_http_req_new(c);
    if (c->req == NULL)
        return no_memory(c);
    c->started_ms = uv_now(&c->srv->loop);
    c->has_headers = false;
    arm_timer(c, SL_TIMER_HEAD, (uint64_t)c->srv->limits.header_timeout_ms);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct sl_http_conn *c = p->data;
    sl_buf_append(&c->req->url, at, len);
    return c->req->url.failed ? no_memory(c) : 0;
}

/* The header callbacks also carry a chunked body's trailer fields, after the header block: those
 * are dropped, so that nothing a client puts in a trailer passes for a request header. */
static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct sl_http_conn *c = p->data;
    struct sl_http_req *r = c->req;
    if (c->has_headers)
        return 0;
    if (r->is_in_value && !sl_http_req_end_header(r))
        return no_memory(c);
    sl_buf_append(&r->field, at, len);
    return r->field.failed ? no_memory(c) : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct sl_http_conn *c = p->data;
    struct sl_http_req *r = c->req;
    if (c->has_headers)
        return 0;
    r->is_in_value = true;
    sl_buf_append(&r->value, at, len);
    return r->value.failed ? no_memory(c) : 0;
}

static bool has_body(const http_parser *p)
{
    return (p->flags & F_CHUNKED) || ((p->flags & F_CONTENTLENGTH) && p->content_length > 0);
}

static int on_headers_complete(http_parser *p)
{
    struct sl_http_conn *c = p->data;
    struct sl_http_req *r = c->req;
    const struct sl_server_limits *lim = &c->srv->limits;
    if (r->is_in_value && !sl_http_req_end_header(r))
        return no_memory(c);
    if (!sl_http_req_split_target(r))
        return refuse_request(c, 400, "bad-request", "the request target must be a path such as /streams/x");
    r->pub.method = http_method_str((enum http_method)p->method);
    c->has_headers = true;

    uint64_t now = uv_now(&c->srv->loop);
    uint64_t deadline = c->started_ms + (uint64_t)lim->request_timeout_ms;
    arm_timer(c, SL_TIMER_BODY, deadline > now ? deadline - now : 0);

    if ((p->flags & F_CONTENTLENGTH) && p->content_length > lim->max_body_bytes)
        return refuse_request(c, 413, "too-large",
                              "the request body of %" PRIu64 " bytes is over the limit of %zu bytes",
                              (uint64_t)p->content_length, lim->max_body_bytes);

    /* curl and others wait (about a second) for this before sending a larger body. */
    const char *expect = sl_http_header(&r->pub, "expect");
    if (expect != NULL && strcasecmp(expect, "100-continue") == 0 && p->http_major == 1 &&
        p->http_minor >= 1 && has_body(p)) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        char *copy = strdup(cont);
        if (copy != NULL)
            sl_http_conn_write(c, copy, sizeof(cont) - 1);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct sl_http_conn *c = p->data;
    struct sl_http_req *r = c->req;
    size_t max = c->srv->limits.max_body_bytes;
    if (len > max || r->body.len > max - len)
        return refuse_request(c, 413, "too-large", "the request body is over the limit of %zu bytes", max);
    sl_buf_append(&r->body, at, len);
    return r->body.failed ? no_memory(c) : 0;
}

static int on_message_complete(http_parser *p)
{
    struct sl_http_conn *c = p->data;
    struct sl_http_req *r = c->req;
    r->is_keep_alive = http_should_keep_alive(p) && !p->upgrade;
    if (!r->is_keep_alive)
        c->is_done_reading_requests = true;
    if (r->body.data != NULL) {
        r->pub.body = r->body.data;
        r->pub.body_len = r->body.len;
    }
    /* The handler gets this request before the next one is parsed. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void parse_failed(struct sl_http_conn *c, enum http_errno e)
{
    char message[160];
    if (c->fail_status != 0) {
        sl_http_conn_fail(c, c->fail_status, c->fail_code, c->fail_message);
    } else if (e == HPE_HEADER_OVERFLOW) {
        snprintf(message, sizeof(message), "the request's header block is over the limit of %zu bytes",
                 c->srv->limits.max_header_bytes);
        sl_http_conn_fail(c, 431, "request-header-too-large", message);
    } else {
        snprintf(message, sizeof(message), "the request is not valid HTTP/1.1: %s",
                 http_errno_description(e));
        sl_http_conn_fail(c, 400, "bad-request", message);
    }
}

/* Feeds data[0..len) to the parser until it is used up, a request is with the handler, or the
 * connection stops taking requests. Returns how many bytes were used. The header block is fed at
 * most up to the limit, so the limit holds however the bytes are split across reads. */
static size_t conn_parse(struct sl_http_conn *c, const char *data, size_t len)
{
    size_t max_head = c->srv->limits.max_header_bytes;
    size_t off = 0;
    c->is_parsing = true;
    while (off < len && c->state == SL_CONN_OPEN && c->active == NULL && !c->is_done_reading_requests &&
           !is_output_backlogged(c)) {
        size_t chunk = len - off;
        bool is_head = !c->has_headers;
        if (is_head && chunk > max_head - c->head_bytes)
            chunk = max_head - c->head_bytes;
        size_t n = http_parser_execute(&c->parser, &parser_settings, data + off, chunk);
        off += n;
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            c->head_bytes = 0;
            c->has_headers = false;
            dispatch(c);
            continue;
        }
        if (e != HPE_OK) {
            parse_failed(c, e);
            break;
        }
        if (is_head) {
            c->head_bytes += n;
            if (!c->has_headers && c->head_bytes >= max_head) {
                parse_failed(c, HPE_HEADER_OVERFLOW);
                break;
            }
        }
        if (n < chunk) {
            /* The parser stopped short without an error: an upgrade. Not supported. */
            c->is_done_reading_requests = true;
            break;
        }
    }
    c->is_parsing = false;
    return off;
}
