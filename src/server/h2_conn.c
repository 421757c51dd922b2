/* h2_conn.c: an HTTP/2 connection: the nghttp2 server session, feeding it what the socket reads,
 * writing what it produces, delivering on_cancel/on_drain, the idle GOAWAY and graceful shutdown.
 *
 * Reading. Every byte read goes to nghttp2_session_mem_recv(), which calls back into grpc_call.c
 * (and through it the handler). nghttp2 acknowledges SETTINGS and PING itself and sends
 * WINDOW_UPDATE as DATA is received (automatic window update): request memory is bounded by
 * SL_H2_INPUT_BOUND in grpc_call.c instead of by withholding window.
 *
 * Writing. nghttp2_session_mem_send() produces frames while the socket's write queue is under
 * SL_H2_WRITE_BOUND; DATA comes from each call's queue through its data provider, within the
 * peer's windows. When a write completes the connection is kicked and production goes on.
 *
 * Memory. nghttp2 allocates through counting functions capped at SL_H2_SESSION_BOUND; it refuses
 * streams past SL_H2_MAX_STREAMS (REFUSED_STREAM while our SETTINGS are unacknowledged; a client
 * that exceeds them after acknowledging gets a connection error), floods of PING/SETTINGS and
 * rapid resets (its own limits). A session that fails closes its connection.
 *
 * Ending. A connection without calls gets a PING after idle_timeout_ms, and is closed (GOAWAY) only
 * when a whole idle period passes without its answer: the client is gone or deaf. A live client's
 * connection is not closed, because no GOAWAY is safe for it: a call it starts while one is on its way
 * fails (RFC 9113 §6.8: no new streams after a GOAWAY; tonic/hyper, the KurrentDB client's reads, do not
 * retry it on a new connection). One with calls, however quiet, never times out: subscriptions are
 * long. On shutdown: a GOAWAY notice and a PING;
 * once the PING is answered (the client has seen the notice) and no call is held, the last GOAWAY names the
 * last stream served. When nghttp2 wants neither to read nor to write, the session is over: the connection
 * flushes and half-closes. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "server/http_internal.h"
#include "util/log.h"

static const uint8_t drain_ping[8] = {'s', 'l', '-', 'd', 'r', 'a', 'i', 'n'};
static const uint8_t probe_ping[8] = {'s', 'l', '-', 'p', 'r', 'o', 'b', 'e'};

/* ---- nghttp2's memory, counted against SL_H2_SESSION_BOUND -------------------------------- */

static void *h2_malloc(size_t size, void *mem_user_data)
{
    struct sl_grpc_conn *h2 = mem_user_data;
    if (size > SL_H2_SESSION_BOUND || h2->session_bytes + size > SL_H2_SESSION_BOUND)
        return NULL;
    void *p = malloc(size);
    if (p != NULL)
        h2->session_bytes += malloc_usable_size(p);
    return p;
}

static void h2_free(void *ptr, void *mem_user_data)
{
    struct sl_grpc_conn *h2 = mem_user_data;
    if (ptr == NULL)
        return;
    h2->session_bytes -= malloc_usable_size(ptr);
    free(ptr);
}

static void *h2_calloc(size_t nmemb, size_t size, void *mem_user_data)
{
    if (size != 0 && nmemb > SL_H2_SESSION_BOUND / size)
        return NULL;
    void *p = h2_malloc(nmemb * size, mem_user_data);
    if (p != NULL)
        memset(p, 0, nmemb * size);
    return p;
}

static void *h2_realloc(void *ptr, size_t size, void *mem_user_data)
{
    struct sl_grpc_conn *h2 = mem_user_data;
    size_t old = ptr != NULL ? malloc_usable_size(ptr) : 0;
    if (size > SL_H2_SESSION_BOUND || (size > old && h2->session_bytes - old + size > SL_H2_SESSION_BOUND))
        return NULL;
    void *p = realloc(ptr, size);
    if (p == NULL)
        return NULL;
    h2->session_bytes = h2->session_bytes - old + malloc_usable_size(p);
    return p;
}

/* ---- notifications ----------------------------------------------------------------------- */

void sl_h2_notify(struct sl_grpc_stream *s, bool is_cancel)
{
    struct sl_grpc_conn *h2 = s->h2;
    if (is_cancel)
        s->wants_cancel = true;
    else
        s->wants_drain = true;
    if (s->is_queued)
        return;
    s->is_queued = true;
    s->notify_next = NULL;
    s->notify_prev = h2->notify_tail;
    if (h2->notify_tail != NULL)
        h2->notify_tail->notify_next = s;
    else
        h2->notify_head = s;
    h2->notify_tail = s;
}

void sl_h2_unnotify(struct sl_grpc_stream *s)
{
    struct sl_grpc_conn *h2 = s->h2;
    if (!s->is_queued)
        return;
    if (s->notify_prev != NULL)
        s->notify_prev->notify_next = s->notify_next;
    else
        h2->notify_head = s->notify_next;
    if (s->notify_next != NULL)
        s->notify_next->notify_prev = s->notify_prev;
    else
        h2->notify_tail = s->notify_prev;
    s->notify_prev = s->notify_next = NULL;
    s->is_queued = false;
}

/* Calls on_cancel and on_drain as queued. The handler may finish (and so free) any call meanwhile,
 * which unqueues it: the queue's head is taken afresh each time. */
static void deliver(struct sl_grpc_conn *h2)
{
    if (h2->is_delivering)
        return;
    h2->is_delivering = true;
    struct sl_grpc_stream *s;
    while ((s = h2->notify_head) != NULL) {
        sl_h2_unnotify(s);
        bool is_cancel = s->wants_cancel;
        s->wants_cancel = s->wants_drain = false;
        if (!s->is_dispatched || s->is_finished)
            continue;
        if (is_cancel) {
            if (s->pub.on_cancel != NULL)
                s->pub.on_cancel(&s->pub);
        } else if (!s->pub.is_cancelled && s->pub.on_drain != NULL) {
            s->pub.on_drain(&s->pub);
        }
    }
    h2->is_delivering = false;
}

/* ---- nghttp2 callbacks ------------------------------------------------------------------- */

static struct sl_grpc_stream *stream_of(nghttp2_session *session, int32_t stream_id)
{
    return stream_id > 0 ? nghttp2_session_get_stream_user_data(session, stream_id) : NULL;
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    struct sl_grpc_conn *h2 = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct sl_grpc_stream *s = sl_grpc_stream_new(h2, frame->hd.stream_id);
    if (s == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* the stream is reset */
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, s);
    return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
    (void)flags;
    (void)user_data;
    /* Only the request head is kept: a client's trailers carry nothing gRPC uses. */
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct sl_grpc_stream *s = stream_of(session, frame->hd.stream_id);
    if (s == NULL)
        return 0;
    if (!sl_grpc_stream_header(s, name, namelen, value, valuelen))
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

/* Debug log of the frames that end a connection or a call, `direction` "sent" or "received". */
static void log_ending_frame(const nghttp2_frame *frame, const char *direction)
{
    if (frame->hd.type == NGHTTP2_GOAWAY)
        sl_debug("h2", "GOAWAY %s: last stream %d, error %u (%s)", direction, frame->goaway.last_stream_id,
                 frame->goaway.error_code, nghttp2_http2_strerror(frame->goaway.error_code));
    else if (frame->hd.type == NGHTTP2_RST_STREAM)
        sl_debug("h2", "RST_STREAM %s: stream %d, error %u (%s)", direction, frame->hd.stream_id,
                 frame->rst_stream.error_code, nghttp2_http2_strerror(frame->rst_stream.error_code));
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    struct sl_grpc_conn *h2 = user_data;
    if (frame->hd.type == NGHTTP2_PING) {
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) && memcmp(frame->ping.opaque_data, drain_ping, 8) == 0) {
            h2->is_drain_acked = true;
            sl_h2_conn_maybe_goaway(h2);
        }
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) && memcmp(frame->ping.opaque_data, probe_ping, 8) == 0)
            h2->is_probing = false;
        return 0;
    }
    log_ending_frame(frame, "received");
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    struct sl_grpc_stream *s = stream_of(session, frame->hd.stream_id);
    if (s == NULL)
        return 0;
    if (frame->hd.type == NGHTTP2_DATA && !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        nghttp2_session_get_stream_local_close(session, frame->hd.stream_id) == 1) {
        /* The response ended before the request: RST_STREAM(NO_ERROR) tells a client that keeps
         * sending to stop (RFC 9113 §8.1), and frees the stream's slot. Not at once: hyper (tonic,
         * the KurrentDB client's reads) may end its request with an empty DATA frame after the
         * response, and fails the call if the reset arrives before it has read the trailers. */
        size_t before = s->late_bytes;
        s->late_bytes += frame->hd.length;
        if (before <= SL_H2_LATE_BOUND && s->late_bytes > SL_H2_LATE_BOUND)
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
        return 0;
    }
    /* Neither call below frees `s`: its stream holds it until nghttp2 closes the stream. */
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
        sl_grpc_stream_begin(s);
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
        sl_grpc_stream_half_close(s);
    return 0;
}

static int on_data_chunk_recv(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
                              size_t len, void *user_data)
{
    (void)flags;
    (void)user_data;
    struct sl_grpc_stream *s = stream_of(session, stream_id);
    if (s != NULL)
        sl_grpc_stream_data(s, data, len);
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
    (void)error_code;
    (void)user_data;
    struct sl_grpc_stream *s = stream_of(session, stream_id);
    if (s != NULL) {
        nghttp2_session_set_stream_user_data(session, stream_id, NULL);
        sl_grpc_stream_closed(s);
    }
    return 0;
}

/* A broken request whose response has ended: RST_STREAM(NO_ERROR) tells the client to stop sending
 * (RFC 9113 §8.1), and frees the stream's slot. A request merely slower than its response gets
 * one only if it goes on long (on_frame_recv). */
static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    (void)user_data;
    log_ending_frame(frame, "sent");
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        struct sl_grpc_stream *s = stream_of(session, frame->hd.stream_id);
        if (s != NULL && s->is_broken &&
            nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id) == 0)
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
    }
    return 0;
}

static int on_error(nghttp2_session *session, int lib_error_code, const char *msg, size_t len,
                    void *user_data)
{
    (void)session;
    (void)user_data;
    sl_debug("h2", "protocol error from a client (%s): %.*s", nghttp2_strerror(lib_error_code), (int)len,
             msg);
    return 0;
}

/* ---- the session ------------------------------------------------------------------------- */

static bool new_session(struct sl_grpc_conn *h2)
{
    nghttp2_session_callbacks *cbs = NULL;
    nghttp2_option *opt = NULL;
    bool is_ok = false;
    if (nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&opt) != 0)
        goto out;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_error_callback2(cbs, on_error);
    /* Closed streams are kept only for the RFC 7540 priority tree, which gRPC does not use. */
    nghttp2_option_set_no_closed_streams(opt, 1);

    nghttp2_mem mem = {h2, h2_malloc, h2_free, h2_calloc, h2_realloc};
    if (nghttp2_session_server_new3(&h2->session, cbs, h2, opt, &mem) != 0) {
        h2->session = NULL;
        goto out;
    }
    size_t max_head = h2->http->srv->limits.max_header_bytes;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, SL_H2_MAX_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (uint32_t)SL_H2_STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, max_head > UINT32_MAX ? UINT32_MAX : (uint32_t)max_head},
    };
    if (nghttp2_submit_settings(h2->session, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0 ||
        nghttp2_session_set_local_window_size(h2->session, NGHTTP2_FLAG_NONE, 0, SL_H2_CONN_WINDOW) != 0)
        goto out;
    is_ok = true;
out:
    if (!is_ok && h2->session != NULL) {
        nghttp2_session_del(h2->session);
        h2->session = NULL;
    }
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    return is_ok;
}

/* The session goes; every call loses its stream, and those the handler holds are cancelled.
 * Delivers on_cancel when `may_call_handlers`. Deferred while nghttp2 is on the stack. */
static void teardown(struct sl_http_conn *c, bool may_call_handlers)
{
    struct sl_grpc_conn *h2 = c->h2;
    if (h2->is_in_session) {
        h2->is_dead = true;
        return;
    }
    h2->is_dead = false;
    if (h2->session != NULL) {
        nghttp2_session_del(h2->session);
        h2->session = NULL;
    }
    /* No handler code runs in this walk; a call it frees is never the next one. */
    struct sl_grpc_stream *s = h2->calls;
    while (s != NULL) {
        struct sl_grpc_stream *next = s->next;
        if (s->has_stream)
            sl_grpc_stream_closed(s);
        s = next;
    }
    if (may_call_handlers)
        deliver(h2);
}

static void write_out(struct sl_http_conn *c, struct sl_buf *out)
{
    if (out->len == 0)
        return;
    size_t len = 0;
    char *data = sl_buf_steal(out, &len);
    if (data != NULL)
        sl_http_conn_write(c, data, len);
}

/* Hands what nghttp2 has to send to the socket, while the socket's queue is short. From the kick
 * only. */
static void produce(struct sl_http_conn *c)
{
    struct sl_grpc_conn *h2 = c->h2;
    if (c->state != SL_CONN_OPEN || c->is_failed || h2->session == NULL || h2->is_in_session)
        return;
    struct sl_buf out;
    sl_buf_init(&out);
    bool is_failed = false;
    h2->is_in_session = true;
    while (!c->is_failed &&
           uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) + out.len < SL_H2_WRITE_BOUND) {
        const uint8_t *p = NULL;
        ssize_t n = nghttp2_session_mem_send(h2->session, &p);
        if (n < 0) {
            sl_warn("h2", "closing an HTTP/2 connection: producing frames failed: %s",
                    nghttp2_strerror((int)n));
            is_failed = true;
            break;
        }
        if (n == 0)
            break;
        sl_buf_append(&out, p, (size_t)n);
        if (out.failed) {
            sl_warn("h2", "closing an HTTP/2 connection: no memory for %zd bytes of output", n);
            is_failed = true;
            break;
        }
        if (out.len >= SL_H2_WRITE_CHUNK)
            write_out(c, &out);
    }
    h2->is_in_session = false;
    write_out(c, &out);
    sl_buf_free(&out);
    if (is_failed)
        sl_http_conn_fail_later(c);
    if (h2->is_dead)
        teardown(c, true);
}

static void update_timer(struct sl_http_conn *c)
{
    struct sl_grpc_conn *h2 = c->h2;
    if (c->state != SL_CONN_OPEN || c->is_failed || c->timer_kind == SL_TIMER_H2_KICK)
        return;
    if (h2->n_calls == 0) {
        if (c->timer_kind != SL_TIMER_H2_IDLE)
            sl_http_conn_set_timer(c, SL_TIMER_H2_IDLE, (uint64_t)c->srv->limits.idle_timeout_ms);
    } else if (c->timer_kind != SL_TIMER_NONE) {
        sl_http_conn_clear_timer(c);
    }
}

/* Writes, delivers on_cancel/on_drain, and ends the connection once the session is over (nghttp2
 * wants neither to read nor to write). An entry point: calls handlers. */
void sl_h2_conn_kick(struct sl_http_conn *c)
{
    struct sl_grpc_conn *h2 = c->h2;
    if (h2 == NULL || c->state != SL_CONN_OPEN || h2->session == NULL || h2->is_in_session ||
        h2->is_delivering)
        return;
    for (;;) {
        produce(c);
        if (h2->notify_head == NULL || c->state != SL_CONN_OPEN || h2->session == NULL)
            break;
        deliver(h2);
    }
    if (c->state != SL_CONN_OPEN || h2->session == NULL)
        return;
    if (!nghttp2_session_want_read(h2->session) && !nghttp2_session_want_write(h2->session)) {
        sl_debug("h2", "HTTP/2 session over (%s); closing the connection",
                 h2->is_goaway_queued ? "GOAWAY sent" : "ended by the client");
        teardown(c, true);
        if (c->state == SL_CONN_OPEN)
            sl_http_conn_finish(c);
        return;
    }
    update_timer(c);
}

/* From the API: the kick runs from the timer, on the next turn of the loop, so that the messages a
 * handler sends in one go leave in as few writes as possible, and no handler code runs inside
 * sl_grpc_send() or sl_grpc_finish(). Inside nghttp2 nothing is armed: the read that called the
 * handler kicks once nghttp2 returns. */
void sl_h2_conn_flush(struct sl_http_conn *c)
{
    struct sl_grpc_conn *h2 = c->h2;
    if (h2 == NULL || c->state != SL_CONN_OPEN || h2->session == NULL || h2->is_in_session ||
        c->timer_kind == SL_TIMER_H2_KICK)
        return;
    sl_http_conn_set_timer(c, SL_TIMER_H2_KICK, 0);
}

void sl_h2_conn_start(struct sl_http_conn *c, const char *data, size_t len)
{
    struct sl_server *srv = c->srv;
    c->proto = SL_PROTO_H2;
    srv->stats.h2_connections++;
    srv->stats.h2_connections_open++;
    struct sl_grpc_conn *h2 = calloc(1, sizeof(*h2));
    if (h2 == NULL) {
        sl_warn("h2", "no memory for an HTTP/2 connection; closing it");
        sl_http_conn_close(c);
        return;
    }
    h2->http = c;
    c->h2 = h2;
    h2->is_refusing = srv->grpc_handler == NULL;
    if (!new_session(h2)) {
        sl_warn("h2", "cannot start an HTTP/2 session (no memory); closing the connection");
        sl_http_conn_close(c);
        return;
    }
    if (h2->is_refusing) {
        static const char why[] = "gRPC is not served here; use HTTP/1.1";
        nghttp2_submit_goaway(h2->session, NGHTTP2_FLAG_NONE, 0, NGHTTP2_HTTP_1_1_REQUIRED,
                              (const uint8_t *)why, sizeof(why) - 1);
        h2->is_goaway_queued = true;
        sl_h2_conn_kick(c);
        return;
    }
    sl_h2_conn_feed(c, data, len);
}

void sl_h2_conn_feed(struct sl_http_conn *c, const char *data, size_t len)
{
    struct sl_grpc_conn *h2 = c->h2;
    if (h2 == NULL || c->state != SL_CONN_OPEN || h2->session == NULL || h2->is_refusing || len == 0)
        return;
    h2->is_in_session = true;
    ssize_t n = nghttp2_session_mem_recv(h2->session, (const uint8_t *)data, len);
    h2->is_in_session = false;
    if (h2->is_dead) {
        teardown(c, true);
        return;
    }
    if (n < 0) {
        /* Fatal for the session (a bad preface, a flood, no memory): nothing more can be sent. */
        sl_info("h2", "closing an HTTP/2 connection: %s", nghttp2_strerror((int)n));
        sl_http_conn_close(c);
        return;
    }
    sl_h2_conn_kick(c);
}

void sl_h2_conn_on_idle(struct sl_http_conn *c)
{
    struct sl_grpc_conn *h2 = c->h2;
    if (h2 == NULL || h2->session == NULL || c->state != SL_CONN_OPEN || h2->n_calls > 0)
        return;
    if (h2->is_draining || h2->is_probing) {
        /* A whole idle period without the PING answered: the client is gone or deaf. */
        sl_debug("h2", "closing an HTTP/2 connection: no answer to a PING within %d ms",
                 c->srv->limits.idle_timeout_ms);
        h2->is_draining = true;
        h2->is_drain_acked = true;
        sl_h2_conn_maybe_goaway(h2);
    } else if (nghttp2_submit_ping(h2->session, NGHTTP2_FLAG_NONE, probe_ping) == 0) {
        /* Not a GOAWAY, which a call the client starts meanwhile would fail on (see the top). */
        h2->is_probing = true;
    }
    sl_h2_conn_kick(c);
}

void sl_h2_conn_maybe_goaway(struct sl_grpc_conn *h2)
{
    if (!h2->is_draining || !h2->is_drain_acked || h2->n_held > 0 || h2->is_goaway_queued ||
        h2->session == NULL)
        return;
    nghttp2_submit_goaway(h2->session, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(h2->session), NGHTTP2_NO_ERROR, NULL, 0);
    h2->is_goaway_queued = true;
}

void sl_h2_conn_drain(struct sl_http_conn *c)
{
    struct sl_grpc_conn *h2 = c->h2;
    if (h2 == NULL || h2->session == NULL || h2->is_draining)
        return;
    h2->is_draining = true;
    if (h2->is_goaway_queued) {
        h2->is_drain_acked = true;
    } else {
        /* The notice says "finish what you started, start nothing new"; the PING's answer says it
         * arrived, so that the last GOAWAY does not cut off requests already on their way. */
        nghttp2_submit_shutdown_notice(h2->session);
        if (nghttp2_submit_ping(h2->session, NGHTTP2_FLAG_NONE, drain_ping) != 0)
            h2->is_drain_acked = true;
    }
    sl_h2_conn_maybe_goaway(h2);
    sl_h2_conn_flush(c);
}

/* Bytes the goodbye may try to write: enough for a GOAWAY behind what nghttp2 had queued. */
#define GOODBYE_MAX ((size_t)64 * 1024)

void sl_h2_conn_goodbye(struct sl_http_conn *c)
{
    struct sl_grpc_conn *h2 = c->h2;
    if (h2->session == NULL || h2->is_in_session || c->is_failed || c->state == SL_CONN_CLOSING ||
        uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > 0)
        return;
    if (!h2->is_goaway_queued) {
        nghttp2_submit_goaway(h2->session, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(h2->session), NGHTTP2_NO_ERROR, NULL,
                              0);
        h2->is_goaway_queued = true;
    }
    size_t written = 0;
    h2->is_in_session = true;
    while (written < GOODBYE_MAX) {
        const uint8_t *p = NULL;
        ssize_t n = nghttp2_session_mem_send(h2->session, &p);
        if (n <= 0)
            break;
        uv_buf_t buf = uv_buf_init((char *)p, (unsigned int)n);
        int rc = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
        if (rc != (int)n)
            break;
        written += (size_t)n;
    }
    h2->is_in_session = false;
}

void sl_h2_conn_closed(struct sl_http_conn *c)
{
    teardown(c, true);
}

void sl_h2_conn_free(struct sl_grpc_conn *h2)
{
    if (h2 == NULL)
        return;
    if (h2->session != NULL) {
        nghttp2_session_del(h2->session);
        h2->session = NULL;
    }
    while (h2->calls != NULL)
        sl_grpc_stream_free(h2->calls);
    free(h2);
}
