/* test_grpc_transport.c: gRPC over HTTP/2 (h2c, prior knowledge) on the server's one port.
 *
 * Each test starts a server on 127.0.0.1 (port 0) on a thread of its own, with the gRPC handler
 * below, and talks to it with a client built on nghttp2's client session over a plain socket (or
 * with raw bytes, for what a well-behaved client never sends). The handler picks by path:
 *   /test.Echo/Echo        each request message back, OK at the client's half-close
 *   /test.Stream/Many      request "N SIZE": N messages of SIZE bytes, paced by pending/on_drain
 *   /test.Async/Later      at half-close, a thread waits, then posts: one message and OK
 *   /test.Error/Trailers   at once: FAILED_PRECONDITION with extra trailers (trailers-only)
 *   /test.Error/After      at half-close: one message, then NOT_FOUND with extra trailers
 *   /test.Hold/Forever     never finishes; on_cancel posts the finish
 *   /test.Meta/Dump        the request metadata, as one text message
 *   anything else          UNIMPLEMENTED
 * The HTTP/1.1 handler answers "hello" to everything. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/grpc.h"
#include "server/http.h"
#include "server/server.h"

/* ---- time ---------------------------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the server under test ---------------------------------------------------------------- */

#define MAX_WORKERS 256

struct test_server {
    struct sl_server *srv;
    pthread_t thread;
    enum sl_code run_code;
    struct sl_error run_err;
    int port;

    pthread_mutex_t mu;
    pthread_t workers[MAX_WORKERS];
    int n_workers;

    atomic_int calls;      /* calls the handler was given */
    atomic_int messages;   /* request messages it saw */
    atomic_int cancels;    /* on_cancel calls */
    atomic_int drains;     /* on_drain calls */
    atomic_int finished;   /* calls it finished */
    atomic_int held;       /* /test.Hold calls not yet finished */
    atomic_long big_bytes; /* bytes of the largest request message */
};

static struct test_server *g_ts; /* the one running; handlers reach it through call->user too */

static void finish_ok(struct sl_grpc_call *call)
{
    struct test_server *ts = g_ts;
    atomic_fetch_add(&ts->finished, 1);
    sl_grpc_finish(call, SL_GRPC_OK, NULL, NULL, 0);
}

/* /test.Echo/Echo */
static void echo_message(struct sl_grpc_call *call, const uint8_t *msg, size_t len)
{
    atomic_fetch_add(&g_ts->messages, 1);
    if ((long)len > atomic_load(&g_ts->big_bytes))
        atomic_store(&g_ts->big_bytes, (long)len);
    sl_grpc_send(call, msg, len);
}

/* /test.Stream/Many */
struct many {
    int left;
    size_t size;
    int sent;
};

static void many_pump(struct sl_grpc_call *call)
{
    struct many *m = call->user;
    uint8_t *buf = malloc(m->size ? m->size : 1);
    while (m->left > 0 && sl_grpc_pending(call) <= SL_GRPC_HIGH_WATER) {
        memset(buf, 'a' + m->sent % 26, m->size);
        sl_grpc_send(call, buf, m->size);
        m->left--;
        m->sent++;
    }
    free(buf);
    if (m->left == 0) {
        free(m);
        call->user = NULL;
        finish_ok(call);
    }
}

static void many_drain(struct sl_grpc_call *call)
{
    atomic_fetch_add(&g_ts->drains, 1);
    many_pump(call);
}

static void many_cancel(struct sl_grpc_call *call)
{
    atomic_fetch_add(&g_ts->cancels, 1);
    free(call->user);
    call->user = NULL;
    finish_ok(call);
}

static void many_message(struct sl_grpc_call *call, const uint8_t *msg, size_t len)
{
    char text[64];
    snprintf(text, sizeof(text), "%.*s", (int)(len < 63 ? len : 63), (const char *)msg);
    if (call->user != NULL)
        return;
    struct many *m = calloc(1, sizeof(*m));
    int n = 0;
    size_t size = 0;
    sscanf(text, "%d %zu", &n, &size);
    m->left = n;
    m->size = size;
    call->user = m;
    many_pump(call);
}

/* /test.Async/Later */
struct later {
    struct sl_grpc_call *call;
    int ms;
};

static void later_answer(void *arg)
{
    struct later *l = arg;
    sl_grpc_send(l->call, (const uint8_t *)"later", 5);
    finish_ok(l->call);
    free(l);
}

static void *later_worker(void *arg)
{
    struct later *l = arg;
    sleep_ms(l->ms);
    if (!sl_server_post(g_ts->srv, later_answer, l))
        free(l); /* the server is gone, and the call with it */
    return NULL;
}

static void count_cancel(struct sl_grpc_call *call)
{
    (void)call;
    atomic_fetch_add(&g_ts->cancels, 1);
}

static void later_half_close(struct sl_grpc_call *call)
{
    struct test_server *ts = g_ts;
    struct later *l = calloc(1, sizeof(*l));
    l->call = call;
    const char *ms = sl_grpc_metadata(call, "x-delay-ms");
    l->ms = ms != NULL ? atoi(ms) : 50;
    pthread_mutex_lock(&ts->mu);
    bool is_started = ts->n_workers < MAX_WORKERS &&
                      pthread_create(&ts->workers[ts->n_workers], NULL, later_worker, l) == 0;
    if (is_started)
        ts->n_workers++;
    pthread_mutex_unlock(&ts->mu);
    if (!is_started)
        later_answer(l);
}

/* /test.Error/... */
static const char error_message[] = "Event stream 'x' is deleted. 100% sure\nna\xc3\xafve";

static void error_after_half_close(struct sl_grpc_call *call)
{
    struct sl_http_header extra[] = {
        {"exception", "stream-deleted"}, {"stream-name", "x"}, {"X-Upper", "line1\nline2"},
        {"bad name!", "dropped"},        {"grpc-status", "0"},
    };
    sl_grpc_send(call, (const uint8_t *)"partial", 7);
    atomic_fetch_add(&g_ts->finished, 1);
    sl_grpc_finish(call, SL_GRPC_NOT_FOUND, error_message, extra, sizeof(extra) / sizeof(extra[0]));
}

/* /test.Hold/Forever: the finish comes from a posted callback, after on_cancel returned. */
static void hold_finish(void *arg)
{
    struct sl_grpc_call *call = arg;
    atomic_fetch_sub(&g_ts->held, 1);
    sl_grpc_send(call, (const uint8_t *)"too late", 8); /* discarded */
    finish_ok(call);
}

static void hold_cancel(struct sl_grpc_call *call)
{
    atomic_fetch_add(&g_ts->cancels, 1);
    if (!sl_server_post(g_ts->srv, hold_finish, call))
        hold_finish(call);
}

/* /test.Meta/Dump */
static void meta_half_close(struct sl_grpc_call *call)
{
    char out[4096];
    size_t off = (size_t)snprintf(out, sizeof(out), "path=%s n=%zu", call->path, call->n_metadata);
    for (size_t i = 0; i < call->n_metadata && off < sizeof(out); i++)
        off += (size_t)snprintf(out + off, sizeof(out) - off, "\n%s=%s", call->metadata[i].name,
                                call->metadata[i].value);
    sl_grpc_send(call, (const uint8_t *)out, strlen(out));
    finish_ok(call);
}

static void grpc_handler(struct sl_grpc_call *call, void *arg)
{
    struct test_server *ts = arg;
    atomic_fetch_add(&ts->calls, 1);
    if (strcmp(call->path, "/test.Echo/Echo") == 0) {
        call->on_message = echo_message;
        call->on_half_close = finish_ok;
        call->on_cancel = count_cancel;
    } else if (strcmp(call->path, "/test.Stream/Many") == 0) {
        call->on_message = many_message;
        call->on_drain = many_drain;
        call->on_cancel = many_cancel;
    } else if (strcmp(call->path, "/test.Async/Later") == 0) {
        call->on_half_close = later_half_close;
        call->on_cancel = count_cancel;
    } else if (strcmp(call->path, "/test.Error/Trailers") == 0) {
        struct sl_http_header extra[] = {{"exception", "stream-deleted"}, {"stream-name", "x"}};
        atomic_fetch_add(&ts->finished, 1);
        sl_grpc_finish(call, SL_GRPC_FAILED_PRECONDITION, error_message, extra, 2);
    } else if (strcmp(call->path, "/test.Error/After") == 0) {
        call->on_half_close = error_after_half_close;
        call->on_cancel = count_cancel;
    } else if (strcmp(call->path, "/test.Hold/Forever") == 0) {
        atomic_fetch_add(&ts->held, 1);
        call->on_cancel = hold_cancel;
    } else if (strcmp(call->path, "/test.Meta/Dump") == 0) {
        call->on_half_close = meta_half_close;
    } else {
        atomic_fetch_add(&ts->finished, 1);
        sl_grpc_finish(call, SL_GRPC_UNIMPLEMENTED, "no such method", NULL, 0);
    }
}

static void http_handler(struct sl_http_request *req, void *arg)
{
    (void)arg;
    sl_http_respond(req, 200, "text/plain", "hello", 5, NULL);
}

static void *run_server(void *arg)
{
    struct test_server *ts = arg;
    ts->run_code = sl_server_run(ts->srv, &ts->run_err);
    return NULL;
}

static void start_server_with(struct test_server *ts, const struct sl_server_limits *limits, bool has_grpc)
{
    memset(ts, 0, sizeof(*ts));
    pthread_mutex_init(&ts->mu, NULL);
    g_ts = ts;
    struct sl_server_options opts = {
        .host = "127.0.0.1",
        .port = 0,
        .handler = http_handler,
        .handler_arg = ts,
        .grpc_handler = has_grpc ? grpc_handler : NULL,
        .grpc_handler_arg = ts,
    };
    if (limits != NULL)
        opts.limits = *limits;
    struct sl_error err = {0};
    assert_int_equal(sl_server_new(&opts, &ts->srv, &err), SL_OK);
    assert_int_equal(pthread_create(&ts->thread, NULL, run_server, ts), 0);
    int64_t deadline = now_ms() + 5000;
    while ((ts->port = sl_server_port(ts->srv)) == 0 && now_ms() < deadline)
        sleep_ms(5);
    assert_int_not_equal(ts->port, 0);
}

static void start_server(struct test_server *ts)
{
    start_server_with(ts, NULL, true);
}

/* Stats are the loop thread's: read them there. */
struct stats_job {
    struct test_server *ts;
    struct sl_server_stats stats;
    atomic_int done;
};

static void read_stats(void *arg)
{
    struct stats_job *job = arg;
    sl_server_get_stats(job->ts->srv, &job->stats);
    atomic_store(&job->done, 1);
}

static struct sl_server_stats get_stats(struct test_server *ts)
{
    struct stats_job job = {.ts = ts};
    atomic_init(&job.done, 0);
    assert_true(sl_server_post(ts->srv, read_stats, &job));
    int64_t deadline = now_ms() + 5000;
    while (!atomic_load(&job.done) && now_ms() < deadline)
        sleep_ms(2);
    assert_true(atomic_load(&job.done));
    return job.stats;
}

/* Waits until `*counter` reaches `want` (or 5 s pass); returns its value. */
static int wait_count(atomic_int *counter, int want)
{
    int64_t deadline = now_ms() + 5000;
    while (atomic_load(counter) < want && now_ms() < deadline)
        sleep_ms(2);
    return atomic_load(counter);
}

static void wait_stopped(struct test_server *ts)
{
    pthread_join(ts->thread, NULL);
    pthread_mutex_lock(&ts->mu);
    int n = ts->n_workers;
    pthread_mutex_unlock(&ts->mu);
    for (int i = 0; i < n; i++)
        pthread_join(ts->workers[i], NULL);
    assert_int_equal(ts->run_code, SL_OK);
    sl_server_free(ts->srv);
    pthread_mutex_destroy(&ts->mu);
    g_ts = NULL;
}

static void stop_server(struct test_server *ts)
{
    sl_server_stop(ts->srv);
    wait_stopped(ts);
}

/* ---- an HTTP/2 client on nghttp2 ----------------------------------------------------------- */

struct fields {
    char **names, **values;
    size_t n, cap;
};

static void fields_add(struct fields *f, const uint8_t *name, size_t namelen, const uint8_t *value,
                       size_t valuelen)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->names = realloc(f->names, f->cap * sizeof(char *));
        f->values = realloc(f->values, f->cap * sizeof(char *));
    }
    f->names[f->n] = strndup((const char *)name, namelen);
    f->values[f->n] = strndup((const char *)value, valuelen);
    f->n++;
}

static const char *fields_get(const struct fields *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->names[i], name) == 0)
            return f->values[i];
    }
    return NULL;
}

static void fields_free(struct fields *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->names[i]);
        free(f->values[i]);
    }
    free(f->names);
    free(f->values);
}

struct tc_stream {
    int32_t id;
    struct tc *tc;
    struct fields headers;  /* the first HEADERS */
    struct fields trailers; /* a later HEADERS */
    int header_frames;
    bool is_trailers_only; /* the first HEADERS ended the stream */
    uint8_t *body;         /* DATA received */
    size_t body_len, body_cap;
    bool is_closed;
    uint32_t close_error;
    int rsts;          /* RST_STREAM frames received */
    size_t unconsumed; /* manual-window clients */
    /* What we send. */
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    bool is_out_ended, is_out_deferred;
};

struct tc {
    int fd;
    nghttp2_session *s;
    uint8_t *wbuf;
    size_t wlen, wcap;
    bool is_eof, is_error;
    int goaways;
    int32_t goaway_last_id, first_goaway_last_id;
    uint32_t goaway_error;
    int ping_acks;
    int pings;           /* from the server, ACKs excluded */
    int settings_frames; /* from the server, ACKs excluded */
    bool is_manual_window;
    size_t unconsumed, max_unconsumed;
    struct tc_stream **streams;
    size_t n_streams, streams_cap;
    int slow_bytes; /* the first bytes go out one at a time */
};

static void tc_body_append(struct tc_stream *st, const uint8_t *data, size_t len)
{
    if (st->body_len + len > st->body_cap) {
        size_t cap = st->body_cap ? st->body_cap : 4096;
        while (cap < st->body_len + len)
            cap *= 2;
        st->body = realloc(st->body, cap);
        st->body_cap = cap;
    }
    memcpy(st->body + st->body_len, data, len);
    st->body_len += len;
}

static int tc_on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                        size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
    (void)flags;
    (void)user_data;
    struct tc_stream *st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (st == NULL || frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (frame->headers.cat == NGHTTP2_HCAT_RESPONSE)
        fields_add(&st->headers, name, namelen, value, valuelen);
    else
        fields_add(&st->trailers, name, namelen, value, valuelen);
    return 0;
}

static int tc_on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    struct tc *c = user_data;
    switch (frame->hd.type) {
    case NGHTTP2_GOAWAY:
        if (c->goaways == 0)
            c->first_goaway_last_id = frame->goaway.last_stream_id;
        c->goaways++;
        c->goaway_last_id = frame->goaway.last_stream_id;
        c->goaway_error = frame->goaway.error_code;
        break;
    case NGHTTP2_PING:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK)
            c->ping_acks++;
        else
            c->pings++;
        break;
    case NGHTTP2_SETTINGS:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK))
            c->settings_frames++;
        break;
    case NGHTTP2_RST_STREAM: {
        struct tc_stream *st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (st != NULL)
            st->rsts++;
        break;
    }
    case NGHTTP2_HEADERS: {
        struct tc_stream *st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (st == NULL)
            break;
        st->header_frames++;
        if (st->header_frames == 1 && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
            st->is_trailers_only = true;
        break;
    }
    default:
        break;
    }
    return 0;
}

static int tc_on_data(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
                      size_t len, void *user_data)
{
    (void)flags;
    struct tc *c = user_data;
    struct tc_stream *st = nghttp2_session_get_stream_user_data(session, stream_id);
    if (st != NULL)
        tc_body_append(st, data, len);
    if (c->is_manual_window) {
        if (st != NULL)
            st->unconsumed += len;
        c->unconsumed += len;
        if (c->unconsumed > c->max_unconsumed)
            c->max_unconsumed = c->unconsumed;
    }
    return 0;
}

static int tc_on_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
    (void)user_data;
    struct tc_stream *st = nghttp2_session_get_stream_user_data(session, stream_id);
    if (st != NULL) {
        st->is_closed = true;
        st->close_error = error_code;
    }
    return 0;
}

static ssize_t tc_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                       uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
    (void)session;
    (void)stream_id;
    (void)user_data;
    struct tc_stream *st = source->ptr;
    size_t n = st->out_len - st->out_off;
    if (n > length)
        n = length;
    if (n > 0)
        memcpy(buf, st->out + st->out_off, n);
    st->out_off += n;
    if (st->out_off == st->out_len) {
        if (st->is_out_ended) {
            *data_flags |= NGHTTP2_DATA_FLAG_EOF;
            return (ssize_t)n;
        }
        if (n == 0) {
            st->is_out_deferred = true;
            return NGHTTP2_ERR_DEFERRED;
        }
    }
    return (ssize_t)n;
}

struct tc_options {
    int32_t window;            /* our initial stream window; 0: the protocol's 65535 */
    bool is_manual_window;     /* consume only in tc_consume_all() */
    uint32_t peer_max_streams; /* before the server's SETTINGS; 0: nghttp2's 100 */
    int slow_bytes;
};

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static struct tc *tc_open_with(int port, const struct tc_options *o)
{
    struct tc *c = calloc(1, sizeof(*c));
    c->fd = tcp_connect(port);
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    c->is_manual_window = o->is_manual_window;
    c->slow_bytes = o->slow_bytes;

    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, tc_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, tc_on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, tc_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, tc_on_close);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    if (o->is_manual_window)
        nghttp2_option_set_no_auto_window_update(opt, 1);
    if (o->peer_max_streams > 0)
        nghttp2_option_set_peer_max_concurrent_streams(opt, o->peer_max_streams);
    nghttp2_option_set_max_send_header_block_length(opt, 1024 * 1024);
    assert_int_equal(nghttp2_session_client_new2(&c->s, cbs, c, opt), 0);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);

    nghttp2_settings_entry iv[2] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
    size_t n_iv = 1;
    if (o->window > 0)
        iv[n_iv++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (uint32_t)o->window};
    assert_int_equal(nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, iv, n_iv), 0);
    if (o->window > 0)
        nghttp2_session_set_local_window_size(c->s, NGHTTP2_FLAG_NONE, 0, o->window * 4);
    return c;
}

static struct tc *tc_open(int port)
{
    struct tc_options o = {0};
    return tc_open_with(port, &o);
}

static void tc_close(struct tc *c)
{
    if (c == NULL)
        return;
    nghttp2_session_del(c->s);
    if (c->fd >= 0)
        close(c->fd);
    for (size_t i = 0; i < c->n_streams; i++) {
        struct tc_stream *st = c->streams[i];
        fields_free(&st->headers);
        fields_free(&st->trailers);
        free(st->body);
        free(st->out);
        free(st);
    }
    free(c->streams);
    free(c->wbuf);
    free(c);
}

/* Drops the connection at once, without a GOAWAY. */
static void tc_drop(struct tc *c)
{
    close(c->fd);
    c->fd = -1;
    c->is_eof = true;
}

static void tc_wbuf_append(struct tc *c, const uint8_t *p, size_t n)
{
    if (c->wlen + n > c->wcap) {
        size_t cap = c->wcap ? c->wcap : 65536;
        while (cap < c->wlen + n)
            cap *= 2;
        c->wbuf = realloc(c->wbuf, cap);
        c->wcap = cap;
    }
    memcpy(c->wbuf + c->wlen, p, n);
    c->wlen += n;
}

/* Consumes what was received, so window updates go out (manual-window clients). */
static void tc_consume_all(struct tc *c)
{
    if (!c->is_manual_window || c->unconsumed == 0)
        return;
    for (size_t i = 0; i < c->n_streams; i++) {
        struct tc_stream *st = c->streams[i];
        if (!st->is_closed && st->unconsumed > 0)
            nghttp2_session_consume_stream(c->s, st->id, st->unconsumed);
        st->unconsumed = 0;
    }
    nghttp2_session_consume_connection(c->s, c->unconsumed);
    c->unconsumed = 0;
}

/* One round: produce, write what the socket takes, wait up to `ms` to read, read. */
static void tc_pump(struct tc *c, int ms)
{
    if (c->fd < 0)
        return;
    while (c->wlen < 1024 * 1024) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(c->s, &p);
        if (n < 0)
            c->is_error = true;
        if (n <= 0)
            break;
        tc_wbuf_append(c, p, (size_t)n);
    }
    struct pollfd pfd = {c->fd, (short)(POLLIN | (c->wlen > 0 ? POLLOUT : 0)), 0};
    if (poll(&pfd, 1, ms) <= 0)
        return;
    if ((pfd.revents & POLLOUT) && c->wlen > 0) {
        size_t want = c->wlen;
        if (c->slow_bytes > 0) {
            want = 1;
            c->slow_bytes--;
            sleep_ms(2);
        }
        ssize_t n = send(c->fd, c->wbuf, want, MSG_NOSIGNAL);
        if (n > 0) {
            memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
            c->wlen -= (size_t)n;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            c->is_error = true;
        }
    }
    if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
        uint8_t buf[65536];
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n == 0) {
            c->is_eof = true;
        } else if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                c->is_eof = true; /* reset */
        } else if (nghttp2_session_mem_recv(c->s, buf, (size_t)n) < 0) {
            c->is_error = true;
        }
    }
}

typedef bool (*tc_done_fn)(struct tc *c, void *arg);

/* Pumps until done(), the connection ends, or `ms` pass; returns done(). Manual-window clients
 * consume what they received after each round unless `is_holding_window`. */
static bool tc_run_until(struct tc *c, tc_done_fn done, void *arg, int ms, bool is_holding_window)
{
    int64_t deadline = now_ms() + ms;
    while (!done(c, arg)) {
        if (now_ms() >= deadline || c->is_eof || c->is_error)
            return done(c, arg);
        tc_pump(c, 10);
        if (!is_holding_window)
            tc_consume_all(c);
    }
    return true;
}

static bool is_stream_closed(struct tc *c, void *arg)
{
    (void)c;
    return ((struct tc_stream *)arg)->is_closed;
}

static bool are_all_closed(struct tc *c, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < c->n_streams; i++) {
        if (!c->streams[i]->is_closed)
            return false;
    }
    return true;
}

static bool is_eof(struct tc *c, void *arg)
{
    (void)arg;
    return c->is_eof;
}

static bool never(struct tc *c, void *arg)
{
    (void)c;
    (void)arg;
    return false;
}

/* Pumps until `*counter` (the server's) reaches `want`, or 5 s pass; returns its value. */
static int tc_wait_count(struct tc *c, atomic_int *counter, int want, bool is_holding_window)
{
    int64_t deadline = now_ms() + 5000;
    while (atomic_load(counter) < want && now_ms() < deadline && !c->is_eof && !c->is_error) {
        tc_pump(c, 5);
        if (!is_holding_window)
            tc_consume_all(c);
    }
    return atomic_load(counter);
}

static void tc_wait_closed(struct tc *c, struct tc_stream *st)
{
    assert_true(tc_run_until(c, is_stream_closed, st, 10000, false));
}

/* A request: headers (and `extra` name/value pairs, NULL-ended), a body to come. */
static struct tc_stream *tc_request(struct tc *c, const char *method, const char *path,
                                    const char *content_type, const char *const *extra, bool is_ended)
{
    struct tc_stream *st = calloc(1, sizeof(*st));
    st->tc = c;
    nghttp2_nv nv[32];
    size_t n = 0;
#define ADD_NV(nm, val)                                                                                      \
    nv[n++] = (nghttp2_nv){(uint8_t *)(nm), (uint8_t *)(val), strlen(nm), strlen(val), NGHTTP2_NV_FLAG_NONE}
    ADD_NV(":method", method);
    ADD_NV(":scheme", "http");
    ADD_NV(":authority", "localhost");
    ADD_NV(":path", path);
    if (content_type != NULL)
        ADD_NV("content-type", content_type);
    ADD_NV("te", "trailers");
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 30; i += 2)
        ADD_NV(extra[i], extra[i + 1]);
#undef ADD_NV
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = tc_read};
    st->is_out_ended = is_ended;
    st->id = nghttp2_submit_request(c->s, NULL, nv, n, is_ended ? NULL : &prd, st);
    assert_true(st->id > 0);
    if (c->n_streams == c->streams_cap) {
        c->streams_cap = c->streams_cap ? c->streams_cap * 2 : 16;
        c->streams = realloc(c->streams, c->streams_cap * sizeof(*c->streams));
    }
    c->streams[c->n_streams++] = st;
    return st;
}

static struct tc_stream *tc_call(struct tc *c, const char *path)
{
    return tc_request(c, "POST", path, "application/grpc", NULL, false);
}

/* Queues raw request body bytes; `is_end` ends the request after them. */
static void tc_send_raw(struct tc_stream *st, const void *data, size_t len, bool is_end)
{
    if (st->out_len + len > st->out_cap) {
        size_t cap = st->out_cap ? st->out_cap : 4096;
        while (cap < st->out_len + len)
            cap *= 2;
        st->out = realloc(st->out, cap);
        st->out_cap = cap;
    }
    if (len > 0)
        memcpy(st->out + st->out_len, data, len);
    st->out_len += len;
    if (is_end)
        st->is_out_ended = true;
    if (st->is_out_deferred) {
        st->is_out_deferred = false;
        nghttp2_session_resume_data(st->tc->s, st->id);
    }
}

/* Queues one gRPC message (prefix added). */
static void tc_send(struct tc_stream *st, const void *msg, size_t len, bool is_end)
{
    uint8_t prefix[5] = {0, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    tc_send_raw(st, prefix, 5, false);
    tc_send_raw(st, msg, len, is_end);
}

/* The response's messages: how many, checked to be well framed; the i-th in msg and len. */
static int tc_messages(const struct tc_stream *st, int want_index, const uint8_t **msg, size_t *len)
{
    size_t off = 0;
    int count = 0;
    while (off < st->body_len) {
        assert_true(st->body_len - off >= 5);
        assert_int_equal(st->body[off], 0);
        size_t n = (size_t)st->body[off + 1] << 24 | (size_t)st->body[off + 2] << 16 |
                   (size_t)st->body[off + 3] << 8 | st->body[off + 4];
        assert_true(st->body_len - off - 5 >= n);
        if (count == want_index && msg != NULL) {
            *msg = st->body + off + 5;
            *len = n;
        }
        off += 5 + n;
        count++;
    }
    return count;
}

/* grpc-status of a finished call, from the trailers or a trailers-only HEADERS. */
static const char *tc_status(const struct tc_stream *st)
{
    const char *s = fields_get(&st->trailers, "grpc-status");
    return s != NULL ? s : fields_get(&st->headers, "grpc-status");
}

static const char *tc_trailer(const struct tc_stream *st, const char *name)
{
    const char *s = fields_get(&st->trailers, name);
    return s != NULL ? s : (st->is_trailers_only ? fields_get(&st->headers, name) : NULL);
}

/* ---- raw sockets, for what nghttp2 would not send ------------------------------------------ */

static void raw_send(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return; /* the server may close first; that is allowed */
        p += n;
        len -= (size_t)n;
    }
}

/* Reads until EOF or `ms` pass; returns the bytes (malloc'd), length in *len. */
static uint8_t *raw_read_all(int fd, int ms, size_t *len)
{
    size_t cap = 65536, n = 0;
    uint8_t *buf = malloc(cap);
    int64_t deadline = now_ms() + ms;
    while (now_ms() < deadline) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 10) <= 0)
            continue;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t r = recv(fd, buf + n, cap - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return buf;
}

/* Whether `data` holds a frame of `type` (frames walked from the start; the server's first bytes are
 * frames since it sends no preface of its own). */
static bool has_frame(const uint8_t *data, size_t len, uint8_t type, uint32_t *goaway_error)
{
    size_t off = 0;
    while (len - off >= 9) {
        size_t flen = (size_t)data[off] << 16 | (size_t)data[off + 1] << 8 | data[off + 2];
        if (data[off + 3] == type) {
            if (goaway_error != NULL && type == 7 && len - off >= 9 + 8) {
                const uint8_t *e = data + off + 9 + 4;
                *goaway_error = (uint32_t)e[0] << 24 | (uint32_t)e[1] << 16 | (uint32_t)e[2] << 8 | e[3];
            }
            return true;
        }
        off += 9 + flen;
        if (off > len)
            break;
    }
    return false;
}

static const uint8_t client_settings[] = {0, 0, 0, 4, 0, 0, 0, 0, 0}; /* empty SETTINGS */

/* ---- tests: calls -------------------------------------------------------------------------- */

static void test_unary_echo_returns_the_message_and_ok_trailers(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc *c = tc_open(ts.port);
    struct tc_stream *st = tc_call(c, "/test.Echo/Echo");
    tc_send(st, "ping", 4, true);
    tc_wait_closed(c, st);

    assert_string_equal(fields_get(&st->headers, ":status"), "200");
    assert_string_equal(fields_get(&st->headers, "content-type"), "application/grpc");
    assert_null(fields_get(&st->headers, "grpc-encoding"));
    const uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(tc_messages(st, 0, &msg, &len), 1);
    assert_int_equal(len, 4);
    assert_memory_equal(msg, "ping", 4);
    assert_int_equal(st->header_frames, 2); /* headers, then trailers */
    assert_false(st->is_trailers_only);
    assert_string_equal(tc_status(st), "0");
    assert_int_equal(st->close_error, NGHTTP2_NO_ERROR);
    tc_close(c);
    stop_server(&ts);
}

static void test_messages_split_anywhere_across_data_frames_are_reassembled(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc *c = tc_open(ts.port);
    struct tc_stream *st = tc_call(c, "/test.Echo/Echo");
    /* Three messages (one empty), sent a byte per round so each lands in DATA frames of its own. */
    uint8_t wire[64];
    size_t n = 0;
    const char *parts[] = {"abc", "", "hello world"};
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(parts[i]);
        uint8_t prefix[5] = {0, 0, 0, 0, (uint8_t)len};
        memcpy(wire + n, prefix, 5);
        memcpy(wire + n + 5, parts[i], len);
        n += 5 + len;
    }
    for (size_t i = 0; i < n; i++) {
        tc_send_raw(st, wire + i, 1, i + 1 == n);
        tc_pump(c, 1);
    }
    tc_wait_closed(c, st);
    assert_int_equal(tc_messages(st, -1, NULL, NULL), 3);
    const uint8_t *msg;
    size_t len;
    tc_messages(st, 2, &msg, &len);
    assert_int_equal(len, 11);
    assert_memory_equal(msg, "hello world", 11);
    tc_messages(st, 1, &msg, &len);
    assert_int_equal(len, 0);
    assert_string_equal(tc_status(st), "0");
    tc_close(c);
    stop_server(&ts);
}

static void test_sixteen_mib_message_travels_both_ways(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc_options o = {.window = 2 * 1024 * 1024}; /* as the Rust client */
    struct tc *c = tc_open_with(ts.port, &o);
    size_t size = 16 * 1024 * 1024;
    uint8_t *big = malloc(size);
    for (size_t i = 0; i < size; i++)
        big[i] = (uint8_t)(i * 7 + i / 65536);
    struct tc_stream *st = tc_call(c, "/test.Echo/Echo");
    tc_send(st, big, size, true);
    assert_true(tc_run_until(c, is_stream_closed, st, 60000, false));
    assert_int_equal(atomic_load(&ts.big_bytes), (long)size);
    const uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(tc_messages(st, 0, &msg, &len), 1);
    assert_int_equal(len, size);
    assert_true(memcmp(msg, big, size) == 0);
    assert_string_equal(tc_status(st), "0");
    free(big);
    tc_close(c);
    stop_server(&ts);
}

static void test_two_thousand_concurrent_calls_on_one_connection_are_all_answered(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc *c = tc_open(ts.port);
    enum { N = 2000 };
    struct tc_stream *sts[N];
    for (int i = 0; i < N; i++) {
        char msg[32];
        int len = snprintf(msg, sizeof(msg), "call-%d", i);
        sts[i] = tc_call(c, "/test.Echo/Echo");
        tc_send(sts[i], msg, (size_t)len, true);
    }
    assert_true(tc_run_until(c, are_all_closed, NULL, 30000, false));
    for (int i = 0; i < N; i++) {
        char want[32];
        int want_len = snprintf(want, sizeof(want), "call-%d", i);
        const uint8_t *msg = NULL;
        size_t len = 0;
        assert_int_equal(tc_messages(sts[i], 0, &msg, &len), 1);
        assert_int_equal(len, (size_t)want_len);
        assert_memory_equal(msg, want, len);
        assert_string_equal(tc_status(sts[i]), "0");
    }
    struct sl_server_stats s = get_stats(&ts);
    assert_int_equal(s.h2_connections, 1);
    assert_int_equal(s.grpc_calls, N);
    assert_int_equal(s.grpc_calls_open, 0);
    tc_close(c);
    stop_server(&ts);
}

static void test_streams_over_the_limit_are_refused_and_the_connection_lives(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    /* Ignores the limit: all 3000 HEADERS leave before the server's SETTINGS are read. */
    struct tc_options o = {.peer_max_streams = 100000};
    struct tc *c = tc_open_with(ts.port, &o);
    enum { N = 3000 };
    for (int i = 0; i < N; i++)
        tc_request(c, "POST", "/test.Hold/Forever", "application/grpc", NULL, false);
    assert_int_equal(tc_wait_count(c, &ts.held, 1000, false), 1000);
    /* Let every refusal arrive. */
    int64_t deadline = now_ms() + 5000;
    size_t refused = 0;
    while (now_ms() < deadline) {
        tc_pump(c, 10);
        refused = 0;
        for (size_t i = 0; i < c->n_streams; i++)
            refused += c->streams[i]->is_closed && c->streams[i]->close_error == NGHTTP2_REFUSED_STREAM;
        if (refused == N - 1000)
            break;
    }
    assert_int_equal(refused, N - 1000);
    assert_int_equal(c->goaways, 0);
    assert_int_equal(atomic_load(&ts.calls), 1000);

    /* One slot freed: the connection serves a new call in it. */
    nghttp2_submit_rst_stream(c->s, NGHTTP2_FLAG_NONE, c->streams[0]->id, NGHTTP2_CANCEL);
    assert_int_equal(tc_wait_count(c, &ts.cancels, 1, false), 1);
    struct tc_stream *st = tc_call(c, "/test.Echo/Echo");
    tc_send(st, "room", 4, true);
    tc_wait_closed(c, st);
    assert_string_equal(tc_status(st), "0");

    /* Held calls are cancelled with the connection, and finished later by their handler. */
    tc_drop(c);
    assert_int_equal(wait_count(&ts.cancels, 1000), 1000);
    deadline = now_ms() + 5000;
    while (atomic_load(&ts.held) > 0 && now_ms() < deadline)
        sleep_ms(5);
    assert_int_equal(atomic_load(&ts.held), 0);
    struct sl_server_stats s = get_stats(&ts);
    assert_int_equal(s.grpc_calls_open, 0);
    assert_int_equal(s.grpc_calls_cancelled, 1000);
    assert_int_equal(s.grpc_calls, 1001);
    assert_int_equal(s.h2_connections_open, 0);
    tc_close(c);
    stop_server(&ts);
}

static bool has_65535_unconsumed(struct tc *c, void *arg)
{
    (void)arg;
    return c->unconsumed >= 65535;
}

static void test_server_stream_honours_a_small_client_window(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc_options o = {.is_manual_window = true}; /* windows of 65535, as grpc-js */
    struct tc *c = tc_open_with(ts.port, &o);
    struct tc_stream *st = tc_call(c, "/test.Stream/Many");
    tc_send(st, "100 65536", 9, true);

    /* Nothing consumed: the server stops at the window, to the byte. */
    assert_true(tc_run_until(c, has_65535_unconsumed, NULL, 5000, true));
    tc_run_until(c, never, NULL, 300, true);
    assert_int_equal(c->unconsumed, 65535);
    assert_int_equal(st->body_len, 65535);

    /* Consuming as it comes, the rest arrives, never more than a window ahead. */
    assert_true(tc_run_until(c, is_stream_closed, st, 60000, false));
    assert_true(c->max_unconsumed <= 65535);
    assert_int_equal(tc_messages(st, -1, NULL, NULL), 100);
    for (int i = 0; i < 100; i += 33) {
        const uint8_t *msg;
        size_t len;
        tc_messages(st, i, &msg, &len);
        assert_int_equal(len, 65536);
        assert_int_equal(msg[0], 'a' + i % 26);
        assert_int_equal(msg[65535], 'a' + i % 26);
    }
    assert_string_equal(tc_status(st), "0");
    assert_true(atomic_load(&ts.drains) > 0); /* the handler was paced by on_drain */
    tc_close(c);
    stop_server(&ts);
}

static void test_error_after_a_message_sends_status_encoded_message_and_custom_trailers(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc *c = tc_open(ts.port);
    struct tc_stream *st = tc_call(c, "/test.Error/After");
    tc_send_raw(st, NULL, 0, true);
    tc_wait_closed(c, st);
    assert_int_equal(st->header_frames, 2);
    assert_int_equal(tc_messages(st, -1, NULL, NULL), 1);
    assert_string_equal(fields_get(&st->trailers, "grpc-status"), "5");
    assert_string_equal(fields_get(&st->trailers, "grpc-message"),
                        "Event stream 'x' is deleted. 100%25 sure%0Ana%C3%AFve");
    assert_string_equal(fields_get(&st->trailers, "exception"), "stream-deleted");
    assert_string_equal(fields_get(&st->trailers, "stream-name"), "x");
    assert_string_equal(fields_get(&st->trailers, "x-upper"), "line1 line2");
    assert_null(fields_get(&st->trailers, "bad name!"));
    assert_int_equal(st->trailers.n, 5); /* grpc-status once: the handler's copy was dropped */
    assert_null(fields_get(&st->headers, "grpc-status"));
    tc_close(c);
    stop_server(&ts);
}

static bool has_response_headers(struct tc *c, void *arg)
{
    (void)c;
    const struct tc_stream *st = arg;
    return st->header_frames > 0;
}

/* A response that ends before the request: the request's end, even with a message before it, is
 * not reset (hyper, the KurrentDB client's reads, ends a request with an empty DATA frame, and
 * fails a call reset before it has read the trailers); a client that keeps uploading is. */
static void test_a_request_ending_after_its_response_is_not_reset_but_a_long_upload_is(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc *c = tc_open(ts.port);
    struct tc_stream *st = tc_call(c, "/test.Error/Trailers");
    assert_true(tc_run_until(c, has_response_headers, st, 3000, false));
    assert_true(st->is_trailers_only);
    tc_send(st, "x", 1, false);
    tc_run_until(c, never, NULL, 100, false);
    assert_false(st->is_closed);
    tc_send_raw(st, NULL, 0, true);
    tc_wait_closed(c, st);
    assert_int_equal(st->rsts, 0);
    assert_int_equal(st->close_error, NGHTTP2_NO_ERROR);
    assert_string_equal(tc_status(st), "9");

    struct tc_stream *up = tc_call(c, "/test.Error/Trailers");
    assert_true(tc_run_until(c, has_response_headers, up, 3000, false));
    size_t big = (size_t)80 * 1024; /* past SL_H2_LATE_BOUND */
    uint8_t *msg = calloc(1, big);
    assert_non_null(msg);
    tc_send(up, msg, big, false);
    free(msg);
    tc_wait_closed(c, up);
    assert_int_equal(up->rsts, 1);
    assert_int_equal(up->close_error, NGHTTP2_NO_ERROR);
    tc_close(c);
    stop_server(&ts);
}

static void test_error_without_messages_is_one_trailers_only_headers_frame(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc *c = tc_open(ts.port);
    struct tc_stream *st = tc_call(c, "/test.Error/Trailers");
    tc_send(st, "x", 1, true);
    tc_wait_closed(c, st);
    assert_int_equal(st->header_frames, 1);
    assert_true(st->is_trailers_only);
    assert_int_equal(st->body_len, 0);
    assert_string_equal(fields_get(&st->headers, ":status"), "200");
    assert_string_equal(fields_get(&st->headers, "content-type"), "application/grpc");
    assert_string_equal(fields_get(&st->headers, "grpc-status"), "9");
    assert_string_equal(fields_get(&st->headers, "grpc-message"),
                        "Event stream 'x' is deleted. 100%25 sure%0Ana%C3%AFve");
    assert_string_equal(fields_get(&st->headers, "exception"), "stream-deleted");
    assert_string_equal(fields_get(&st->headers, "stream-name"), "x");
    /* The call was finished before the client's message: the stream is reset with NO_ERROR. */
    assert_int_equal(st->close_error, NGHTTP2_NO_ERROR);

    struct tc_stream *un = tc_call(c, "/no.Such/Method");
    tc_send_raw(un, NULL, 0, true);
    tc_wait_closed(c, un);
    assert_true(un->is_trailers_only);
    assert_string_equal(tc_status(un), "12");
    assert_string_equal(tc_trailer(un, "grpc-message"), "no such method");
    tc_close(c);
    stop_server(&ts);
}

static void test_call_finished_later_from_another_thread_is_answered(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc *c = tc_open(ts.port);
    struct tc_stream *a = tc_call(c, "/test.Async/Later");
    struct tc_stream *b = tc_call(c, "/test.Echo/Echo");
    tc_send_raw(a, NULL, 0, true);
    tc_send(b, "quick", 5, true);
    tc_wait_closed(c, a);
    assert_true(b->is_closed); /* the quick one was not held up by the slow one */
    const uint8_t *msg;
    size_t len;
    assert_int_equal(tc_messages(a, 0, &msg, &len), 1);
    assert_memory_equal(msg, "later", 5);
    assert_string_equal(tc_status(a), "0");
    tc_close(c);
    stop_server(&ts);
}

static void test_metadata_reaches_the_handler_without_pseudo_headers(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc *c = tc_open(ts.port);
    const char *extra[] = {"connection-name", "conn-1", "grpc-timeout", "9998m", "authorization",
                           "Basic YTpi",      NULL};
    struct tc_stream *st = tc_request(c, "POST", "/test.Meta/Dump", "application/grpc+proto", extra, false);
    tc_send_raw(st, NULL, 0, true);
    tc_wait_closed(c, st);
    const uint8_t *msg;
    size_t len;
    assert_int_equal(tc_messages(st, 0, &msg, &len), 1);
    char *text = strndup((const char *)msg, len);
    assert_non_null(strstr(text, "path=/test.Meta/Dump n=5"));
    assert_non_null(strstr(text, "\ncontent-type=application/grpc+proto"));
    assert_non_null(strstr(text, "\nte=trailers"));
    assert_non_null(strstr(text, "\nconnection-name=conn-1"));
    assert_non_null(strstr(text, "\ngrpc-timeout=9998m"));
    assert_non_null(strstr(text, "\nauthorization=Basic YTpi"));
    assert_null(strstr(text, ":path"));
    assert_null(strstr(text, ":method"));
    free(text);
    tc_close(c);
    stop_server(&ts);
}

/* ---- tests: cancelling ---------------------------------------------------------------------- */

static void test_client_reset_calls_on_cancel_and_the_late_finish_is_safe(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc_options o = {.is_manual_window = true};
    struct tc *c = tc_open_with(ts.port, &o);
    struct tc_stream *hold = tc_call(c, "/test.Hold/Forever");
    const char *slow[] = {"x-delay-ms", "200", NULL};
    struct tc_stream *later = tc_request(c, "POST", "/test.Async/Later", "application/grpc", slow, false);
    tc_send_raw(later, NULL, 0, true);
    struct tc_stream *many = tc_call(c, "/test.Stream/Many");
    tc_send(many, "100 65536", 9, false); /* more than the window, which the client holds */
    assert_int_equal(tc_wait_count(c, &ts.calls, 3, true), 3);
    tc_run_until(c, never, NULL, 100, true);

    nghttp2_submit_rst_stream(c->s, NGHTTP2_FLAG_NONE, hold->id, NGHTTP2_CANCEL);
    nghttp2_submit_rst_stream(c->s, NGHTTP2_FLAG_NONE, later->id, NGHTTP2_CANCEL);
    nghttp2_submit_rst_stream(c->s, NGHTTP2_FLAG_NONE, many->id, NGHTTP2_CANCEL);
    tc_run_until(c, never, NULL, 100, false);
    assert_int_equal(wait_count(&ts.cancels, 3), 3);
    /* The async answer lands on a cancelled call, after its stream is gone. */
    sleep_ms(300);
    struct sl_server_stats s = get_stats(&ts);
    assert_int_equal(s.grpc_calls_open, 0);
    assert_int_equal(s.grpc_calls_cancelled, 3);

    /* The connection still serves. */
    struct tc_stream *st = tc_call(c, "/test.Echo/Echo");
    tc_send(st, "after", 5, true);
    tc_wait_closed(c, st);
    assert_string_equal(tc_status(st), "0");
    tc_close(c);
    stop_server(&ts);
}

static void test_connection_loss_cancels_held_calls_which_stay_valid_until_finished(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc_options o = {.is_manual_window = true};
    struct tc *c = tc_open_with(ts.port, &o);
    for (int i = 0; i < 20; i++)
        tc_call(c, "/test.Hold/Forever");
    const char *slow[] = {"x-delay-ms", "200", NULL};
    struct tc_stream *later = tc_request(c, "POST", "/test.Async/Later", "application/grpc", slow, false);
    tc_send_raw(later, NULL, 0, true);
    struct tc_stream *big = tc_call(c, "/test.Stream/Many");
    tc_send(big, "100 65536", 9, false);
    assert_int_equal(tc_wait_count(c, &ts.calls, 22, true), 22);
    tc_run_until(c, never, NULL, 50, true);
    tc_drop(c);
    assert_int_equal(wait_count(&ts.cancels, 22), 22);
    sleep_ms(300); /* the async answer comes after the connection is gone */
    assert_int_equal(atomic_load(&ts.held), 0);
    struct sl_server_stats s = get_stats(&ts);
    assert_int_equal(s.grpc_calls_open, 0);
    assert_int_equal(s.connections_open, 0);
    tc_close(c);
    stop_server(&ts);
}

/* ---- tests: refusals and hostile input ------------------------------------------------------ */

static void test_requests_that_are_not_grpc_get_405_or_415_with_invalid_argument(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc *c = tc_open(ts.port);
    struct tc_stream *get = tc_request(c, "GET", "/test.Echo/Echo", NULL, NULL, true);
    struct tc_stream *json = tc_request(c, "POST", "/test.Echo/Echo", "application/json", NULL, false);
    tc_send_raw(json, "{}", 2, true);
    struct tc_stream *grpcweb = tc_request(c, "POST", "/test.Echo/Echo", "application/grpc-web", NULL, false);
    tc_send_raw(grpcweb, NULL, 0, true);
    assert_true(tc_run_until(c, are_all_closed, NULL, 5000, false));
    assert_string_equal(fields_get(&get->headers, ":status"), "405");
    assert_string_equal(fields_get(&get->headers, "grpc-status"), "3");
    assert_string_equal(fields_get(&json->headers, ":status"), "415");
    assert_string_equal(fields_get(&json->headers, "grpc-status"), "3");
    assert_string_equal(fields_get(&grpcweb->headers, ":status"), "415");
    assert_int_equal(atomic_load(&ts.calls), 0);
    struct sl_server_stats s = get_stats(&ts);
    assert_int_equal(s.grpc_errors, 3);
    tc_close(c);
    stop_server(&ts);
}

static void test_compressed_message_ends_the_call_with_unimplemented(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc *c = tc_open(ts.port);
    struct tc_stream *st = tc_call(c, "/test.Echo/Echo");
    uint8_t wire[] = {1, 0, 0, 0, 3, 'a', 'b', 'c'};
    tc_send_raw(st, wire, sizeof(wire), false); /* not ended: the server resets the rest */
    tc_wait_closed(c, st);
    assert_true(st->is_trailers_only);
    assert_string_equal(tc_status(st), "12");
    assert_non_null(strstr(tc_trailer(st, "grpc-message"), "compressed"));
    assert_int_equal(wait_count(&ts.cancels, 1), 1);
    assert_int_equal(atomic_load(&ts.messages), 0);
    tc_close(c);
    stop_server(&ts);
}

static void test_message_over_17_mib_ends_the_call_with_resource_exhausted(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc *c = tc_open(ts.port);
    struct tc_stream *echo = tc_call(c, "/test.Echo/Echo");
    tc_send(echo, "first", 5, false);
    tc_run_until(c, never, NULL, 100, false);
    uint32_t len = 17 * 1024 * 1024 + 1;
    uint8_t prefix[5] = {0, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    tc_send_raw(echo, prefix, 5, false);
    tc_wait_closed(c, echo);
    assert_false(echo->is_trailers_only); /* the echo had begun: trailers after it */
    assert_int_equal(tc_messages(echo, -1, NULL, NULL), 1);
    assert_string_equal(tc_status(echo), "8");
    assert_non_null(strstr(fields_get(&echo->trailers, "grpc-message"), "over the limit"));
    tc_close(c);
    stop_server(&ts);
}

static void test_request_ending_inside_a_message_ends_with_internal(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc *c = tc_open(ts.port);
    struct tc_stream *st = tc_call(c, "/test.Echo/Echo");
    uint8_t wire[] = {0, 0, 0, 0, 100, 'a', 'b'};
    tc_send_raw(st, wire, sizeof(wire), true);
    tc_wait_closed(c, st);
    assert_string_equal(tc_status(st), "13");
    assert_int_equal(atomic_load(&ts.messages), 0);
    tc_close(c);
    stop_server(&ts);
}

static void test_header_block_over_the_limit_is_refused_with_431(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc *c = tc_open(ts.port);
    char *big = malloc(20001);
    memset(big, 'v', 20000);
    big[20000] = '\0';
    const char *extra[] = {"x-a", big, "x-b", big, "x-c", big, "x-d", big, NULL}; /* 80 KB > 64 KiB */
    struct tc_stream *st = tc_request(c, "POST", "/test.Echo/Echo", "application/grpc", extra, true);
    tc_wait_closed(c, st);
    assert_string_equal(fields_get(&st->headers, ":status"), "431");
    assert_string_equal(tc_status(st), "8");
    assert_int_equal(atomic_load(&ts.calls), 0);
    /* The connection still serves. */
    struct tc_stream *ok = tc_call(c, "/test.Echo/Echo");
    tc_send(ok, "x", 1, true);
    tc_wait_closed(c, ok);
    assert_string_equal(tc_status(ok), "0");
    free(big);
    tc_close(c);
    stop_server(&ts);
}

static void test_garbage_frames_get_goaway_and_the_server_lives(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    /* A DATA frame on stream 0, a frame longer than SETTINGS_MAX_FRAME_SIZE, a bad SETTINGS size. */
    static const uint8_t bad[][18] = {
        {0, 0, 4, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c', 'd'},
        {0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1, 0},
        {0, 0, 5, 4, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0},
    };
    static const size_t bad_len[] = {13, 10, 14};
    for (int i = 0; i < 3; i++) {
        int fd = tcp_connect(ts.port);
        raw_send(fd, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
        raw_send(fd, client_settings, sizeof(client_settings));
        raw_send(fd, bad[i], bad_len[i]);
        size_t len = 0;
        uint8_t *out = raw_read_all(fd, 3000, &len);
        uint32_t error = 0;
        assert_true(has_frame(out, len, 4, NULL)); /* our SETTINGS */
        assert_true(has_frame(out, len, 7, &error));
        assert_int_not_equal(error, 0);
        free(out);
        close(fd);
    }
    /* A preface that goes wrong after 18 bytes is HTTP/1.1 (not valid: refused or closed). */
    int fd = tcp_connect(ts.port);
    raw_send(fd, "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", 24);
    size_t len = 0;
    uint8_t *out = raw_read_all(fd, 3000, &len);
    assert_true(len == 0 || (len > 12 && memcmp(out, "HTTP/1.1 4", 10) == 0));
    free(out);
    close(fd);

    /* Random bytes after a good preface and SETTINGS. */
    unsigned seed = 12345;
    for (int round = 0; round < 100; round++) {
        fd = tcp_connect(ts.port);
        uint8_t junk[512];
        for (size_t i = 0; i < sizeof(junk); i++) {
            seed = seed * 1103515245u + 12345u;
            junk[i] = (uint8_t)(seed >> 16);
        }
        raw_send(fd, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
        raw_send(fd, client_settings, sizeof(client_settings));
        raw_send(fd, junk, (size_t)(seed % sizeof(junk)));
        if (round % 2 == 0) {
            out = raw_read_all(fd, 50, &len);
            free(out);
        }
        close(fd);
    }
    struct tc *c = tc_open(ts.port);
    struct tc_stream *st = tc_call(c, "/test.Echo/Echo");
    tc_send(st, "alive", 5, true);
    tc_wait_closed(c, st);
    assert_string_equal(tc_status(st), "0");
    tc_close(c);
    stop_server(&ts);
}

static void test_endless_continuation_frames_are_cut_off(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    int fd = tcp_connect(ts.port);
    raw_send(fd, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    raw_send(fd, client_settings, sizeof(client_settings));
    /* HEADERS without END_HEADERS on stream 1, then CONTINUATIONs of literal headers forever. */
    uint8_t frame[9 + 1024];
    uint8_t block[1024];
    size_t n = 0;
    while (n + 10 < sizeof(block)) { /* literal without indexing, new name "x-a", value 5 bytes */
        static const uint8_t field[] = {0x00, 3, 'x', '-', 'a', 5, 'v', 'v', 'v', 'v', 'v'};
        memcpy(block + n, field, sizeof(field));
        n += sizeof(field);
    }
    for (int i = 0; i < 2000; i++) {
        uint8_t type = i == 0 ? 1 : 9;
        frame[0] = (uint8_t)(n >> 16);
        frame[1] = (uint8_t)(n >> 8);
        frame[2] = (uint8_t)n;
        frame[3] = type;
        frame[4] = 0;
        frame[5] = frame[6] = frame[7] = 0;
        frame[8] = 1;
        memcpy(frame + 9, block, n);
        raw_send(fd, frame, 9 + n);
    }
    size_t len = 0;
    uint8_t *out = raw_read_all(fd, 3000, &len);
    assert_true(has_frame(out, len, 7, NULL));
    free(out);
    close(fd);
    assert_int_equal(atomic_load(&ts.calls), 0);
    struct sl_server_stats s = get_stats(&ts);
    assert_int_equal(s.connections_open, 0);
    stop_server(&ts);
}

/* ---- tests: the connection -------------------------------------------------------------------- */

static void test_http11_is_still_served_on_the_same_port(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc *h2 = tc_open(ts.port); /* an HTTP/2 connection open meanwhile */
    struct tc_stream *st = tc_call(h2, "/test.Echo/Echo");
    tc_send(st, "x", 1, true);
    tc_wait_closed(h2, st);

    static const char *requests[] = {
        "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nPRI",
    };
    for (int i = 0; i < 2; i++) {
        int fd = tcp_connect(ts.port);
        raw_send(fd, requests[i], strlen(requests[i]));
        size_t len = 0;
        uint8_t *out = raw_read_all(fd, 3000, &len);
        assert_true(len > 12);
        assert_memory_equal(out, "HTTP/1.1 200", 12);
        assert_memory_equal(out + len - 5, "hello", 5);
        free(out);
        close(fd);
    }
    int fd = tcp_connect(ts.port);
    const char *slow = "PUT /y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    for (size_t i = 0; i < strlen(slow); i++) {
        raw_send(fd, slow + i, 1);
        sleep_ms(1);
    }
    size_t len = 0;
    uint8_t *out = raw_read_all(fd, 3000, &len);
    assert_true(len > 12);
    assert_memory_equal(out, "HTTP/1.1 200", 12);
    free(out);
    close(fd);
    struct sl_server_stats s = get_stats(&ts);
    assert_int_equal(s.requests, 3);
    assert_int_equal(s.h2_connections, 1);
    tc_close(h2);
    stop_server(&ts);
}

static void test_preface_arriving_a_byte_at_a_time_is_http2(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc_options o = {.slow_bytes = 30};
    struct tc *c = tc_open_with(ts.port, &o);
    struct tc_stream *st = tc_call(c, "/test.Echo/Echo");
    tc_send(st, "slow", 4, true);
    tc_wait_closed(c, st);
    assert_string_equal(tc_status(st), "0");
    tc_close(c);
    stop_server(&ts);
}

static bool has_ping_ack(struct tc *c, void *arg)
{
    (void)arg;
    return c->ping_acks > 0;
}

static void test_ping_is_acknowledged_during_a_long_call(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc *c = tc_open(ts.port);
    struct tc_stream *hold = tc_call(c, "/test.Hold/Forever");
    assert_int_equal(tc_wait_count(c, &ts.calls, 1, false), 1);
    uint8_t opaque[8] = "keepaliv";
    nghttp2_submit_ping(c->s, NGHTTP2_FLAG_NONE, opaque);
    assert_true(tc_run_until(c, has_ping_ack, NULL, 3000, false));
    assert_false(hold->is_closed);
    assert_int_equal(c->goaways, 0);
    tc_close(c);
    stop_server(&ts);
}

static bool has_goaway(struct tc *c, void *arg)
{
    (void)arg;
    return c->goaways > 0;
}

static bool has_two_pings(struct tc *c, void *arg)
{
    (void)arg;
    return c->pings >= 2;
}

/* No GOAWAY for a client that answers: a call it starts while one is on its way fails (the
 * KurrentDB client's reads, over tonic/hyper, do not retry it on a new connection). */
static void test_an_idle_connection_is_pinged_and_kept_while_its_client_answers(void **state)
{
    (void)state;
    struct test_server ts;
    struct sl_server_limits limits = {.idle_timeout_ms = 300};
    start_server_with(&ts, &limits, true);
    struct tc *idle = tc_open(ts.port);
    struct tc *busy = tc_open(ts.port);
    struct tc_stream *hold = tc_call(busy, "/test.Hold/Forever");
    assert_int_equal(tc_wait_count(busy, &ts.calls, 1, false), 1);
    int64_t started = now_ms();
    assert_true(tc_run_until(idle, has_two_pings, NULL, 3000, false));
    assert_true(now_ms() - started >= 500);
    tc_run_until(idle, never, NULL, 700, false); /* two idle periods more */
    assert_int_equal(idle->goaways, 0);
    assert_false(idle->is_eof);
    /* Still served at once. */
    struct tc_stream *st = tc_call(idle, "/test.Echo/Echo");
    tc_send(st, "ping", 4, true);
    tc_wait_closed(idle, st);
    assert_string_equal(tc_status(st), "0");
    assert_int_equal(idle->goaways, 0);

    /* A quiet call is not even pinged. */
    assert_false(hold->is_closed);
    assert_int_equal(busy->goaways, 0);
    assert_int_equal(busy->pings, 0);
    tc_close(idle);
    tc_close(busy);
    stop_server(&ts);
}

/* The GOAWAY frames in `data`: how many, and the last stream id of each (up to 4). */
static size_t goaway_ids(const uint8_t *data, size_t len, int32_t ids[4])
{
    size_t off = 0, n = 0;
    while (len - off >= 9) {
        size_t flen = (size_t)data[off] << 16 | (size_t)data[off + 1] << 8 | data[off + 2];
        if (off + 9 + flen > len)
            break;
        if (data[off + 3] == 7 && flen >= 8 && n < 4) {
            const uint8_t *p = data + off + 9;
            ids[n++] =
                (int32_t)(((uint32_t)p[0] & 0x7f) << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
        }
        off += 9 + flen;
    }
    return n;
}

static void test_an_idle_client_that_never_answers_the_ping_is_closed_one_idle_period_later(void **state)
{
    (void)state;
    struct test_server ts;
    struct sl_server_limits limits = {.idle_timeout_ms = 300};
    start_server_with(&ts, &limits, true);
    int fd = tcp_connect(ts.port);
    static const uint8_t empty_settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
    raw_send(fd, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    raw_send(fd, empty_settings, sizeof(empty_settings));
    int64_t started = now_ms();

    size_t len = 0;
    uint8_t *out = raw_read_all(fd, 5000, &len); /* never acknowledges anything */
    int64_t took = now_ms() - started;

    int32_t ids[4];
    assert_int_equal(goaway_ids(out, len, ids), 1);
    assert_int_equal(ids[0], 0);
    assert_true(has_frame(out, len, 6, NULL)); /* the PING */
    assert_in_range(took, 500, 3000);
    free(out);
    close(fd);
    stop_server(&ts);
}

static void test_without_a_grpc_handler_http2_is_answered_with_goaway(void **state)
{
    (void)state;
    struct test_server ts;
    start_server_with(&ts, NULL, false);
    struct tc *c = tc_open(ts.port);
    struct tc_stream *st = tc_call(c, "/test.Echo/Echo");
    tc_send(st, "x", 1, true);
    assert_true(tc_run_until(c, is_eof, NULL, 5000, false));
    assert_true(c->goaways > 0);
    assert_int_equal(c->goaway_error, NGHTTP2_HTTP_1_1_REQUIRED);
    assert_int_equal(c->goaway_last_id, 0);
    /* HTTP/1.1 is still served. */
    int fd = tcp_connect(ts.port);
    const char *req = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    raw_send(fd, req, strlen(req));
    size_t len = 0;
    uint8_t *out = raw_read_all(fd, 3000, &len);
    assert_true(len > 12);
    assert_memory_equal(out, "HTTP/1.1 200", 12);
    free(out);
    close(fd);
    tc_close(c);
    stop_server(&ts);
}

struct stopper {
    struct test_server *ts;
    int after_ms;
};

static void *stop_later(void *arg)
{
    struct stopper *s = arg;
    sleep_ms(s->after_ms);
    sl_server_stop(s->ts->srv);
    return NULL;
}

static void test_stop_sends_goaway_lets_the_call_in_flight_finish_then_closes(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc *idle = tc_open(ts.port);
    struct tc_stream *first = tc_call(idle, "/test.Echo/Echo");
    tc_send(first, "x", 1, true);
    tc_wait_closed(idle, first);

    struct tc *c = tc_open(ts.port);
    const char *slow[] = {"x-delay-ms", "400", NULL};
    struct tc_stream *st = tc_request(c, "POST", "/test.Async/Later", "application/grpc", slow, false);
    tc_send_raw(st, NULL, 0, true);
    assert_int_equal(tc_wait_count(c, &ts.calls, 2, false), 2);
    tc_run_until(c, never, NULL, 50, false);

    struct stopper stopper = {&ts, 0};
    pthread_t t;
    pthread_create(&t, NULL, stop_later, &stopper);
    /* The busy connection: a notice first, the answer, the last GOAWAY naming its stream, the end. */
    assert_true(tc_run_until(c, has_goaway, NULL, 3000, false));
    assert_int_equal(c->first_goaway_last_id, INT32_MAX);
    assert_false(st->is_closed);
    assert_true(tc_run_until(c, is_eof, NULL, 5000, false));
    assert_true(st->is_closed);
    assert_string_equal(tc_status(st), "0");
    assert_int_equal(tc_messages(st, -1, NULL, NULL), 1);
    assert_true(c->goaways >= 2);
    assert_int_equal(c->goaway_last_id, st->id);
    assert_int_equal(c->goaway_error, NGHTTP2_NO_ERROR);
    /* The idle one was told and closed too. (An nghttp2 client with no stream open reads nothing
     * after the first GOAWAY, so the last one is not seen here.) */
    assert_true(tc_run_until(idle, is_eof, NULL, 3000, false));
    assert_true(idle->goaways > 0);
    assert_int_equal(idle->goaway_error, NGHTTP2_NO_ERROR);
    pthread_join(t, NULL);
    wait_stopped(&ts);
    tc_close(c);
    tc_close(idle);
}

static void test_stop_cancels_calls_still_held_after_the_grace_period(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts);
    struct tc *c = tc_open(ts.port);
    struct tc_stream *hold = tc_call(c, "/test.Hold/Forever");
    assert_int_equal(tc_wait_count(c, &ts.calls, 1, false), 1);
    int64_t started = now_ms();
    sl_server_stop(ts.srv);
    assert_true(tc_run_until(c, has_goaway, NULL, 3000, false));
    assert_true(tc_run_until(c, is_eof, NULL, 10000, false));
    assert_true(now_ms() - started >= 4500);
    pthread_join(ts.thread, NULL);
    assert_int_equal(atomic_load(&ts.cancels), 1);
    assert_int_equal(atomic_load(&ts.held), 0); /* finished by the post queued while closing */
    (void)hold;
    sl_server_free(ts.srv);
    pthread_mutex_destroy(&ts.mu);
    g_ts = NULL;
    tc_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unary_echo_returns_the_message_and_ok_trailers),
        cmocka_unit_test(test_messages_split_anywhere_across_data_frames_are_reassembled),
        cmocka_unit_test(test_sixteen_mib_message_travels_both_ways),
        cmocka_unit_test(test_two_thousand_concurrent_calls_on_one_connection_are_all_answered),
        cmocka_unit_test(test_streams_over_the_limit_are_refused_and_the_connection_lives),
        cmocka_unit_test(test_server_stream_honours_a_small_client_window),
        cmocka_unit_test(test_error_after_a_message_sends_status_encoded_message_and_custom_trailers),
        cmocka_unit_test(test_error_without_messages_is_one_trailers_only_headers_frame),
        cmocka_unit_test(test_a_request_ending_after_its_response_is_not_reset_but_a_long_upload_is),
        cmocka_unit_test(test_call_finished_later_from_another_thread_is_answered),
        cmocka_unit_test(test_metadata_reaches_the_handler_without_pseudo_headers),
        cmocka_unit_test(test_client_reset_calls_on_cancel_and_the_late_finish_is_safe),
        cmocka_unit_test(test_connection_loss_cancels_held_calls_which_stay_valid_until_finished),
        cmocka_unit_test(test_requests_that_are_not_grpc_get_405_or_415_with_invalid_argument),
        cmocka_unit_test(test_compressed_message_ends_the_call_with_unimplemented),
        cmocka_unit_test(test_message_over_17_mib_ends_the_call_with_resource_exhausted),
        cmocka_unit_test(test_request_ending_inside_a_message_ends_with_internal),
        cmocka_unit_test(test_header_block_over_the_limit_is_refused_with_431),
        cmocka_unit_test(test_garbage_frames_get_goaway_and_the_server_lives),
        cmocka_unit_test(test_endless_continuation_frames_are_cut_off),
        cmocka_unit_test(test_http11_is_still_served_on_the_same_port),
        cmocka_unit_test(test_preface_arriving_a_byte_at_a_time_is_http2),
        cmocka_unit_test(test_ping_is_acknowledged_during_a_long_call),
        cmocka_unit_test(test_an_idle_connection_is_pinged_and_kept_while_its_client_answers),
        cmocka_unit_test(test_an_idle_client_that_never_answers_the_ping_is_closed_one_idle_period_later),
        cmocka_unit_test(test_without_a_grpc_handler_http2_is_answered_with_goaway),
        cmocka_unit_test(test_stop_sends_goaway_lets_the_call_in_flight_finish_then_closes),
        cmocka_unit_test(test_stop_cancels_calls_still_held_after_the_grace_period),
    };
    const char *filter = getenv("SLUICE_TEST_FILTER"); /* e.g. "*stop*" */
    if (filter != NULL)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
