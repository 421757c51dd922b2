/* test_http_server.c: the HTTP/1.1 server, driven over raw sockets.
 *
 * Each test starts a server on 127.0.0.1 (port 0) on a thread of its own, talks to it with plain
 * sockets, and stops it. The handler below answers at once (/echo, /headers, /count), from
 * another thread after a delay (/async), never (/hold) or as a stream (/stream...). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/http.h"
#include "server/server.h"

/* ---- the server under test ---------------------------------------------------------------- */

#define MAX_WORKERS 64

struct test_server {
    struct sl_server *srv;
    pthread_t thread;
    enum sl_code run_code;
    struct sl_error run_err;
    int port;

    pthread_mutex_t mu;
    pthread_t workers[MAX_WORKERS];
    int n_workers;

    atomic_int aborts;                   /* on_abort calls */
    atomic_int drains;                   /* on_drain calls */
    atomic_int async_pending;            /* /async requests not yet answered */
    struct sl_http_request *held_stream; /* loop thread only */
};

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

static void respond_text(struct sl_http_request *req, int status, const char *text)
{
    sl_http_respond(req, status, "text/plain", text, strlen(text), NULL);
}

static void handle_echo(struct sl_http_request *req)
{
    size_t cap = 64 + strlen(req->path) + strlen(req->query) + req->body_len;
    char *out = malloc(cap);
    int n = snprintf(out, cap, "%s %s q=%s body=%.*s", req->method, req->path, req->query, (int)req->body_len,
                     req->body);
    sl_http_respond(req, 200, "text/plain", out, (size_t)n, "X-Echo: yes\r\n");
    free(out);
}

static void handle_headers(struct sl_http_request *req)
{
    const char *mixed = sl_http_header(req, "x-mixed-case");
    const char *empty = sl_http_header(req, "X-Empty");
    char out[256];
    snprintf(out, sizeof(out), "n=%zu mixed=%s empty=[%s] first=%s", req->n_headers, mixed ? mixed : "(none)",
             empty ? empty : "(none)", req->n_headers ? req->headers[0].name : "(none)");
    respond_text(req, 200, out);
}

static void handle_count(struct sl_http_request *req)
{
    char out[64];
    snprintf(out, sizeof(out), "n=%zu", req->body_len);
    respond_text(req, 200, out);
}

/* /async?ms=N&tag=T: answered from another thread after N ms, through sl_server_post(). */
struct async_job {
    struct test_server *ts;
    struct sl_http_request *req;
    int ms;
    char *tag;
};

static void async_answer(void *arg)
{
    struct async_job *job = arg;
    char out[128];
    snprintf(out, sizeof(out), "async %s", job->tag);
    respond_text(job->req, 200, out);
    atomic_fetch_sub(&job->ts->async_pending, 1);
    free(job->tag);
    free(job);
}

static void *async_worker(void *arg)
{
    struct async_job *job = arg;
    sleep_ms(job->ms);
    struct test_server *ts = job->ts;
    if (!sl_server_post(ts->srv, async_answer, job)) {
        atomic_fetch_sub(&ts->async_pending, 1);
        free(job->tag);
        free(job);
    }
    return NULL;
}

static void count_abort(struct sl_http_request *req)
{
    struct test_server *ts = req->user;
    atomic_fetch_add(&ts->aborts, 1);
}

static void handle_async(struct test_server *ts, struct sl_http_request *req)
{
    struct async_job *job = calloc(1, sizeof(*job));
    char *ms = sl_http_query_param(req, "ms");
    job->ts = ts;
    job->req = req;
    job->ms = ms ? atoi(ms) : 100;
    job->tag = sl_http_query_param(req, "tag");
    if (job->tag == NULL)
        job->tag = strdup("-");
    free(ms);
    req->user = ts;
    req->on_abort = count_abort;
    atomic_fetch_add(&ts->async_pending, 1);
    pthread_mutex_lock(&ts->mu);
    bool is_started = ts->n_workers < MAX_WORKERS &&
                      pthread_create(&ts->workers[ts->n_workers], NULL, async_worker, job) == 0;
    if (is_started)
        ts->n_workers++;
    pthread_mutex_unlock(&ts->mu);
    if (!is_started)
        async_answer(job); /* too many at once for the test: answer now */
}

/* /hold: never answered; the server must free it itself. */
static void handle_hold(struct test_server *ts, struct sl_http_request *req)
{
    req->user = ts;
    req->on_abort = count_abort;
}

/* /stream?n=N: N events, then the end. */
static void handle_stream(struct sl_http_request *req)
{
    char *n_param = sl_http_query_param(req, "n");
    int n = n_param ? atoi(n_param) : 1;
    free(n_param);
    sl_http_stream_begin(req, 200, "text/event-stream", "Cache-Control: no-cache\r\n");
    for (int i = 0; i < n; i++) {
        char line[32];
        int len = snprintf(line, sizeof(line), "data: %d\n\n", i);
        sl_http_stream_write(req, line, (size_t)len);
    }
    sl_http_stream_end(req);
}

/* /stream-hold: one event, then open until the client leaves or the server stops. */
static void end_held_stream(struct sl_http_request *req)
{
    struct test_server *ts = req->user;
    atomic_fetch_add(&ts->aborts, 1);
    ts->held_stream = NULL;
    sl_http_stream_end(req);
}

static void handle_stream_hold(struct test_server *ts, struct sl_http_request *req)
{
    req->user = ts;
    req->on_abort = end_held_stream;
    ts->held_stream = req;
    sl_http_stream_begin(req, 200, "text/event-stream", NULL);
    sl_http_stream_write(req, "data: hello\n\n", 13);
}

static void on_server_shutdown(void *arg)
{
    struct test_server *ts = arg;
    if (ts->held_stream != NULL) {
        struct sl_http_request *req = ts->held_stream;
        ts->held_stream = NULL;
        sl_http_stream_end(req);
    }
}

/* /stream-big?bytes=N: N bytes, written only as fast as the client takes them. */
struct big_stream {
    struct test_server *ts;
    size_t total, written;
};

static void big_stream_pump(struct sl_http_request *req)
{
    static char chunk[64 * 1024];
    struct big_stream *bs = req->user;
    while (bs->written < bs->total && sl_http_stream_pending(req) <= 512 * 1024) {
        size_t n = bs->total - bs->written < sizeof(chunk) ? bs->total - bs->written : sizeof(chunk);
        memset(chunk, 'x', n);
        sl_http_stream_write(req, chunk, n);
        bs->written += n;
    }
    if (bs->written == bs->total) {
        free(bs);
        sl_http_stream_end(req);
    }
}

static void big_stream_drained(struct sl_http_request *req)
{
    struct big_stream *bs = req->user;
    atomic_fetch_add(&bs->ts->drains, 1);
    big_stream_pump(req);
}

static void big_stream_aborted(struct sl_http_request *req)
{
    struct big_stream *bs = req->user;
    atomic_fetch_add(&bs->ts->aborts, 1);
    free(bs);
    sl_http_stream_end(req);
}

static void handle_stream_big(struct test_server *ts, struct sl_http_request *req)
{
    struct big_stream *bs = calloc(1, sizeof(*bs));
    char *bytes = sl_http_query_param(req, "bytes");
    bs->ts = ts;
    bs->total = bytes ? (size_t)atol(bytes) : 1024;
    free(bytes);
    req->user = bs;
    req->on_drain = big_stream_drained;
    req->on_abort = big_stream_aborted;
    sl_http_stream_begin(req, 200, "application/octet-stream", NULL);
    big_stream_pump(req);
}

static void handler(struct sl_http_request *req, void *arg)
{
    struct test_server *ts = arg;
    if (strcmp(req->path, "/echo") == 0)
        handle_echo(req);
    else if (strcmp(req->path, "/headers") == 0)
        handle_headers(req);
    else if (strcmp(req->path, "/count") == 0)
        handle_count(req);
    else if (strcmp(req->path, "/async") == 0)
        handle_async(ts, req);
    else if (strcmp(req->path, "/hold") == 0)
        handle_hold(ts, req);
    else if (strcmp(req->path, "/stream") == 0)
        handle_stream(req);
    else if (strcmp(req->path, "/stream-hold") == 0)
        handle_stream_hold(ts, req);
    else if (strcmp(req->path, "/stream-big") == 0)
        handle_stream_big(ts, req);
    else
        sl_http_respond(req, 404, "application/json", "{\"error\":\"not-found\"}", 21, NULL);
}

static void *run_server(void *arg)
{
    struct test_server *ts = arg;
    ts->run_code = sl_server_run(ts->srv, &ts->run_err);
    return NULL;
}

static void start_server_on(struct test_server *ts, const char *host, const struct sl_server_limits *limits)
{
    memset(ts, 0, sizeof(*ts));
    pthread_mutex_init(&ts->mu, NULL);
    struct sl_server_options opts = {
        .host = host,
        .port = 0,
        .handler = handler,
        .handler_arg = ts,
    };
    if (limits != NULL)
        opts.limits = *limits;
    struct sl_error err = {0};
    assert_int_equal(sl_server_new(&opts, &ts->srv, &err), SL_OK);
    sl_server_on_shutdown(ts->srv, on_server_shutdown, ts);
    assert_int_equal(pthread_create(&ts->thread, NULL, run_server, ts), 0);
    int64_t deadline = now_ms() + 5000;
    while ((ts->port = sl_server_port(ts->srv)) == 0 && now_ms() < deadline)
        sleep_ms(5);
    assert_int_not_equal(ts->port, 0);
}

static void start_server(struct test_server *ts, const struct sl_server_limits *limits)
{
    start_server_on(ts, "127.0.0.1", limits);
}

static void join_workers(struct test_server *ts)
{
    pthread_mutex_lock(&ts->mu);
    int n = ts->n_workers;
    pthread_mutex_unlock(&ts->mu);
    for (int i = 0; i < n; i++)
        pthread_join(ts->workers[i], NULL);
}

static void wait_stopped(struct test_server *ts)
{
    pthread_join(ts->thread, NULL);
    join_workers(ts);
    assert_int_equal(ts->run_code, SL_OK);
    sl_server_free(ts->srv);
    pthread_mutex_destroy(&ts->mu);
}

static void stop_server(struct test_server *ts)
{
    join_workers(ts);
    sl_server_stop(ts->srv);
    wait_stopped(ts);
}

/* The loop's counters, read on the loop thread. */
struct stats_probe {
    struct test_server *ts;
    struct sl_server_stats stats;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool is_done;
};

static void read_stats(void *arg)
{
    struct stats_probe *p = arg;
    sl_server_get_stats(p->ts->srv, &p->stats);
    pthread_mutex_lock(&p->mu);
    p->is_done = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static struct sl_server_stats get_stats(struct test_server *ts)
{
    struct stats_probe p = {.ts = ts};
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    assert_true(sl_server_post(ts->srv, read_stats, &p));
    pthread_mutex_lock(&p.mu);
    while (!p.is_done)
        pthread_cond_wait(&p.cv, &p.mu);
    pthread_mutex_unlock(&p.mu);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    return p.stats;
}

static bool wait_for(atomic_int *value, int expected, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (atomic_load(value) != expected && now_ms() < deadline)
        sleep_ms(5);
    return atomic_load(value) == expected;
}

/* ---- the client --------------------------------------------------------------------------- */

struct client {
    int fd;
    char *buf;
    size_t len, cap;
};

struct response {
    int status;
    char *head; /* status line and headers */
    char *body;
    size_t body_len;
};

static void set_recv_timeout(int fd, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    set_recv_timeout(fd, 5000);
    return fd;
}

static void client_open(struct client *cl, int port)
{
    memset(cl, 0, sizeof(*cl));
    cl->fd = connect_to(port);
    assert_true(cl->fd >= 0);
}

static void client_close(struct client *cl)
{
    if (cl->fd >= 0)
        close(cl->fd);
    free(cl->buf);
    memset(cl, 0, sizeof(*cl));
    cl->fd = -1;
}

static bool send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        len -= (size_t)n;
    }
    return true;
}

static void client_send(struct client *cl, const char *text)
{
    assert_true(send_all(cl->fd, text, strlen(text)));
}

/* Reads more into the client's buffer; false at EOF, error or timeout. */
static bool client_fill(struct client *cl)
{
    if (cl->cap - cl->len < 65536) {
        cl->cap = cl->cap ? cl->cap * 2 : 131072;
        cl->buf = realloc(cl->buf, cl->cap + 1);
    }
    ssize_t n = recv(cl->fd, cl->buf + cl->len, cl->cap - cl->len, 0);
    if (n <= 0)
        return false;
    cl->len += (size_t)n;
    cl->buf[cl->len] = '\0';
    return true;
}

static void client_consume(struct client *cl, size_t n)
{
    memmove(cl->buf, cl->buf + n, cl->len - n);
    cl->len -= n;
    cl->buf[cl->len] = '\0';
}

static const char *find_header(const char *head, const char *name)
{
    size_t name_len = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, name, name_len) == 0 && line[2 + name_len] == ':')
            return line + 2 + name_len + 1 + strspn(line + 2 + name_len + 1, " ");
    }
    return NULL;
}

static bool head_has(const struct response *r, const char *name, const char *value)
{
    const char *v = find_header(r->head, name);
    return v != NULL && strncasecmp(v, value, strlen(value)) == 0 && v[strlen(value)] == '\r';
}

/* Reads one response. Without Content-Length the body runs to the end of the connection. */
static bool read_response(struct client *cl, struct response *out)
{
    memset(out, 0, sizeof(*out));
    char *end;
    while (cl->buf == NULL || (end = memmem(cl->buf, cl->len, "\r\n\r\n", 4)) == NULL) {
        if (!client_fill(cl))
            return false;
    }
    size_t head_len = (size_t)(end - cl->buf) + 4;
    out->head = strndup(cl->buf, head_len);
    sscanf(out->head, "HTTP/1.1 %d", &out->status);
    client_consume(cl, head_len);

    const char *length = find_header(out->head, "content-length");
    if (length != NULL) {
        size_t want = (size_t)atol(length);
        while (cl->len < want) {
            if (!client_fill(cl))
                return false;
        }
        out->body_len = want;
    } else {
        while (client_fill(cl))
            ;
        out->body_len = cl->len;
    }
    out->body = malloc(out->body_len + 1);
    memcpy(out->body, cl->buf, out->body_len);
    out->body[out->body_len] = '\0';
    client_consume(cl, out->body_len);
    return true;
}

static void response_free(struct response *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* True when the server closes the connection within `ms` without sending anything more. */
static bool closes_within(struct client *cl, int ms)
{
    set_recv_timeout(cl->fd, ms);
    char byte;
    ssize_t n = recv(cl->fd, &byte, 1, 0);
    set_recv_timeout(cl->fd, 5000);
    return cl->len == 0 && (n == 0 || (n < 0 && errno == ECONNRESET));
}

static void expect_response(struct client *cl, int status, const char *body)
{
    struct response r;
    assert_true(read_response(cl, &r));
    assert_int_equal(r.status, status);
    if (body != NULL)
        assert_string_equal(r.body, body);
    response_free(&r);
}

/* A request that the server answers with a JSON error and then closes the connection. */
static void expect_error_and_close(struct client *cl, int status, const char *code)
{
    struct response r;
    assert_true(read_response(cl, &r));
    assert_int_equal(r.status, status);
    assert_true(head_has(&r, "content-type", "application/json"));
    assert_true(head_has(&r, "connection", "close"));
    char expected[96];
    snprintf(expected, sizeof(expected), "{\"error\":\"%s\",\"message\":\"", code);
    assert_non_null(strstr(r.body, expected));
    response_free(&r);
    assert_true(closes_within(cl, 3000));
}

/* ---- keep-alive and pipelining ------------------------------------------------------------ */

static void test_keep_alive_connection_serves_several_requests(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    struct client cl;
    client_open(&cl, ts.port);

    client_send(&cl, "GET /echo?x=1&y=%20z HTTP/1.1\r\nHost: t\r\n\r\n");
    struct response r;
    assert_true(read_response(&cl, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "GET /echo q=x=1&y=%20z body=");
    assert_true(head_has(&r, "connection", "keep-alive"));
    assert_true(head_has(&r, "content-type", "text/plain"));
    assert_true(head_has(&r, "x-echo", "yes"));
    response_free(&r);

    client_send(&cl, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
    expect_response(&cl, 200, "POST /echo q= body=hello");

    client_send(
        &cl,
        "PUT http://example.com/echo?abs=1#frag HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    expect_response(&cl, 200, "PUT /echo q=abs=1 body=abcde");

    client_send(&cl, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_true(read_response(&cl, &r));
    assert_true(head_has(&r, "connection", "close"));
    response_free(&r);
    assert_true(closes_within(&cl, 3000));
    client_close(&cl);

    struct sl_server_stats st = get_stats(&ts);
    assert_int_equal(st.connections_accepted, 1);
    assert_int_equal(st.requests, 4);
    assert_int_equal(st.responses_4xx, 0);
    stop_server(&ts);
}

static void test_http10_connection_stays_open_only_when_asked(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    struct client cl;
    struct response r;

    client_open(&cl, ts.port);
    client_send(&cl, "GET /echo HTTP/1.0\r\n\r\n");
    assert_true(read_response(&cl, &r));
    assert_true(head_has(&r, "connection", "close"));
    response_free(&r);
    assert_true(closes_within(&cl, 3000));
    client_close(&cl);

    client_open(&cl, ts.port);
    client_send(&cl, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_true(read_response(&cl, &r));
    assert_true(head_has(&r, "connection", "keep-alive"));
    response_free(&r);
    client_send(&cl, "GET /echo?again HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    expect_response(&cl, 200, "GET /echo q=again body=");
    client_close(&cl);
    stop_server(&ts);
}

static void test_pipelined_requests_are_answered_in_order_when_the_first_is_async(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    struct client cl;
    client_open(&cl, ts.port);

    int64_t start = now_ms();
    client_send(&cl, "GET /async?ms=300&tag=first HTTP/1.1\r\nHost: t\r\n\r\n"
                     "GET /echo?tag=second HTTP/1.1\r\nHost: t\r\n\r\n"
                     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nthird"
                     "GET /async?ms=50&tag=fourth HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_response(&cl, 200, "async first");
    assert_true(now_ms() - start >= 300);
    expect_response(&cl, 200, "GET /echo q=tag=second body=");
    expect_response(&cl, 200, "POST /echo q= body=third");
    expect_response(&cl, 200, "async fourth");
    client_close(&cl);
    stop_server(&ts);
}

/* Sends a large pipelined request behind one the handler holds; records how far it got. */
struct pipeline_sender {
    int fd;
    size_t body_len;
    atomic_size_t sent;
    bool is_ok;
};

static void *send_pipeline(void *arg)
{
    struct pipeline_sender *ps = arg;
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "GET /async?ms=500&tag=first HTTP/1.1\r\nHost: t\r\n\r\n"
                     "POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n",
                     ps->body_len);
    ps->is_ok = send_all(ps->fd, head, (size_t)n);
    char *chunk = malloc(16384);
    memset(chunk, 'p', 16384);
    size_t left = ps->body_len;
    while (ps->is_ok && left > 0) {
        size_t len = left < 16384 ? left : 16384;
        ps->is_ok = send_all(ps->fd, chunk, len);
        left -= len;
        atomic_fetch_add(&ps->sent, len);
    }
    free(chunk);
    return NULL;
}

static void test_pipelined_input_behind_a_pending_request_is_bounded(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    struct client cl;
    client_open(&cl, ts.port);
    int small = 32 * 1024;
    setsockopt(cl.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));

    struct pipeline_sender ps = {.fd = cl.fd, .body_len = 12 * 1024 * 1024};
    pthread_t sender;
    pthread_create(&sender, NULL, send_pipeline, &ps);
    sleep_ms(300);
    /* The server reads a bounded amount while /async is pending; the client's send blocks. */
    size_t sent_while_pending = atomic_load(&ps.sent);
    expect_response(&cl, 200, "async first");
    expect_response(&cl, 200, "n=12582912");
    pthread_join(sender, NULL);
    assert_true(ps.is_ok);
    assert_true(sent_while_pending < (size_t)8 * 1024 * 1024);
    client_close(&cl);
    stop_server(&ts);
}

/* ---- limits ------------------------------------------------------------------------------- */

static void test_header_block_of_100_kb_is_refused_with_431(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    struct client cl;
    client_open(&cl, ts.port);

    size_t big = 100 * 1024;
    char *req = malloc(big + 128);
    int n = sprintf(req, "GET /echo HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(req + n, 'a', big);
    strcpy(req + n + big, "\r\n\r\n");
    send_all(cl.fd, req, strlen(req));
    free(req);
    expect_error_and_close(&cl, 431, "request-header-too-large");
    client_close(&cl);

    struct sl_server_stats st = get_stats(&ts);
    assert_int_equal(st.responses_4xx, 1);
    assert_int_equal(st.requests, 0);
    stop_server(&ts);
}

static void test_five_thousand_headers_are_refused_with_431(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    struct client cl;
    client_open(&cl, ts.port);

    char *req = malloc(5000 * 40 + 64);
    size_t len = (size_t)sprintf(req, "GET /echo HTTP/1.1\r\n");
    for (int i = 0; i < 5000; i++)
        len += (size_t)sprintf(req + len, "X-Filler-%04d: abcdefghij\r\n", i);
    strcpy(req + len, "\r\n");
    send_all(cl.fd, req, strlen(req));
    free(req);
    expect_error_and_close(&cl, 431, "request-header-too-large");
    client_close(&cl);
    stop_server(&ts);
}

static void test_header_block_within_a_small_limit_passes_and_one_over_fails(void **state)
{
    (void)state;
    /* "GET /echo HTTP/1.1\r\n" (20) + "X-Pad: " (7) + pad + "\r\n\r\n" (4) */
    struct sl_server_limits limits = {.max_header_bytes = 1000};
    struct test_server ts;
    start_server(&ts, &limits);
    struct client cl;
    char req[2048];

    client_open(&cl, ts.port);
    int n = sprintf(req, "GET /echo HTTP/1.1\r\nX-Pad: ");
    memset(req + n, 'p', 1000 - 31);
    strcpy(req + n + 1000 - 31, "\r\n\r\n");
    assert_int_equal(strlen(req), 1000);
    client_send(&cl, req);
    expect_response(&cl, 200, "GET /echo q= body=");
    client_close(&cl);

    client_open(&cl, ts.port);
    memset(req + n, 'p', 1001 - 31);
    strcpy(req + n + 1001 - 31, "\r\n\r\n");
    client_send(&cl, req);
    expect_error_and_close(&cl, 431, "request-header-too-large");
    client_close(&cl);
    stop_server(&ts);
}

static void test_headers_reach_the_handler_lower_cased(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    struct client cl;
    client_open(&cl, ts.port);

    char *req = malloc(1000 * 24 + 256);
    size_t len = (size_t)sprintf(req, "GET /headers HTTP/1.1\r\nX-Mixed-Case: Yes  \r\nX-Empty:\r\n");
    for (int i = 0; i < 1000; i++)
        len += (size_t)sprintf(req + len, "X-H-%d: v\r\n", i);
    strcpy(req + len, "\r\n");
    client_send(&cl, req);
    free(req);
    expect_response(&cl, 200, "n=1002 mixed=Yes empty=[] first=x-mixed-case");
    client_close(&cl);
    stop_server(&ts);
}

static void test_chunked_body_of_many_small_chunks_is_read_whole(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    struct client cl;
    client_open(&cl, ts.port);

    /* 20 000 chunk heads: framing, not header bytes, whatever their total. */
    char *req = malloc(20000 * 6 + 128);
    size_t len = (size_t)sprintf(req, "POST /count HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 20000; i++)
        len += (size_t)sprintf(req + len, "1\r\nz\r\n");
    len += (size_t)sprintf(req + len, "0\r\n\r\n");
    assert_true(send_all(cl.fd, req, len));
    free(req);
    expect_response(&cl, 200, "n=20000");
    client_close(&cl);
    stop_server(&ts);
}

static void test_expect_100_continue_is_answered_before_the_body(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    struct client cl;
    client_open(&cl, ts.port);

    client_send(&cl, "POST /count HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    while (memmem(cl.buf ? cl.buf : "", cl.len, "\r\n\r\n", 4) == NULL)
        assert_true(client_fill(&cl));
    assert_memory_equal(cl.buf, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    client_consume(&cl, 25);
    client_send(&cl, "body");
    expect_response(&cl, 200, "n=4");
    client_close(&cl);
    stop_server(&ts);
}

static void test_content_length_over_the_limit_is_refused_with_413(void **state)
{
    (void)state;
    struct sl_server_limits limits = {.max_body_bytes = 1024 * 1024};
    struct test_server ts;
    start_server(&ts, &limits);
    struct client cl;
    client_open(&cl, ts.port);

    client_send(&cl, "POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: 20000000\r\n\r\nsome of the body");
    expect_error_and_close(&cl, 413, "too-large");
    client_close(&cl);

    /* At the limit exactly is fine. */
    client_open(&cl, ts.port);
    char head[128];
    snprintf(head, sizeof(head), "POST /count HTTP/1.1\r\nContent-Length: %d\r\n\r\n", 1024 * 1024);
    client_send(&cl, head);
    char *body = calloc(1, 1024 * 1024);
    memset(body, 'b', 1024 * 1024);
    assert_true(send_all(cl.fd, body, 1024 * 1024));
    free(body);
    expect_response(&cl, 200, "n=1048576");
    client_close(&cl);
    stop_server(&ts);
}

static void test_chunked_body_over_the_limit_is_refused_with_413(void **state)
{
    (void)state;
    struct sl_server_limits limits = {.max_body_bytes = 256 * 1024};
    struct test_server ts;
    start_server(&ts, &limits);
    struct client cl;
    client_open(&cl, ts.port);

    client_send(&cl, "POST /count HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    char *chunk = malloc(65536 + 16);
    int n = sprintf(chunk, "10000\r\n");
    memset(chunk + n, 'c', 65536);
    memcpy(chunk + n + 65536, "\r\n", 2);
    for (int i = 0; i < 5; i++) {
        if (!send_all(cl.fd, chunk, (size_t)n + 65536 + 2))
            break;
    }
    free(chunk);
    expect_error_and_close(&cl, 413, "too-large");
    client_close(&cl);
    stop_server(&ts);
}

static void test_garbage_is_refused_with_400(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    struct client cl;

    client_open(&cl, ts.port);
    client_send(&cl, "\x16\x03\x01\x02 this is no HTTP\r\n\r\n");
    expect_error_and_close(&cl, 400, "bad-request");
    client_close(&cl);

    client_open(&cl, ts.port);
    client_send(&cl, "GET /echo HTTP/1.1\r\nBad Header Line\r\n\r\n");
    expect_error_and_close(&cl, 400, "bad-request");
    client_close(&cl);

    client_open(&cl, ts.port);
    client_send(&cl, "POST /echo HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
    expect_error_and_close(&cl, 400, "bad-request");
    client_close(&cl);

    client_open(&cl, ts.port);
    client_send(&cl, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n");
    expect_error_and_close(&cl, 400, "bad-request");
    client_close(&cl);
    stop_server(&ts);
}

/* One byte every 200 ms; records when and how the server cut it off. */
struct slowloris {
    int port;
    int64_t elapsed_ms;
    int status; /* 0 when closed without a response */
    bool is_cut_off;
};

static void *run_slowloris(void *arg)
{
    struct slowloris *sl = arg;
    const char *req =
        "GET /echo HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    int fd = connect_to(sl->port);
    if (fd < 0)
        return NULL;
    int64_t start = now_ms();
    char reply[512] = {0};
    size_t got = 0;
    for (size_t i = 0; i < strlen(req) && now_ms() - start < 5000; i++) {
        if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1) {
            sl->is_cut_off = true;
            break;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 200) > 0) {
            ssize_t n = recv(fd, reply + got, sizeof(reply) - 1 - got, 0);
            if (n > 0)
                got += (size_t)n;
            sl->is_cut_off = true;
            break;
        }
    }
    sl->elapsed_ms = now_ms() - start;
    sscanf(reply, "HTTP/1.1 %d", &sl->status);
    close(fd);
    return NULL;
}

static void test_slowloris_is_cut_off_at_the_header_timeout_while_others_are_served(void **state)
{
    (void)state;
    struct sl_server_limits limits = {.header_timeout_ms = 1000};
    struct test_server ts;
    start_server(&ts, &limits);

    struct slowloris sl = {.port = ts.port};
    pthread_t thread;
    pthread_create(&thread, NULL, run_slowloris, &sl);
    sleep_ms(300);
    struct client cl;
    client_open(&cl, ts.port);
    int64_t start = now_ms();
    client_send(&cl, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_response(&cl, 200, "GET /echo q= body=");
    assert_true(now_ms() - start < 500);
    client_close(&cl);
    pthread_join(thread, NULL);

    assert_true(sl.is_cut_off);
    assert_int_equal(sl.status, 408);
    assert_true(sl.elapsed_ms >= 900);
    assert_true(sl.elapsed_ms < 2000);
    struct sl_server_stats st = get_stats(&ts);
    assert_int_equal(st.timeouts, 1);
    stop_server(&ts);
}

static void test_slow_body_is_cut_off_at_the_request_timeout(void **state)
{
    (void)state;
    struct sl_server_limits limits = {.header_timeout_ms = 300, .request_timeout_ms = 600};
    struct test_server ts;
    start_server(&ts, &limits);
    struct client cl;
    client_open(&cl, ts.port);

    int64_t start = now_ms();
    client_send(&cl, "POST /count HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly ten b");
    sleep_ms(100);
    client_send(&cl, "more");
    expect_error_and_close(&cl, 408, "request-timeout");
    int64_t elapsed = now_ms() - start;
    assert_true(elapsed >= 550);
    assert_true(elapsed < 1500);
    client_close(&cl);
    stop_server(&ts);
}

static void test_idle_connections_are_closed_silently(void **state)
{
    (void)state;
    struct sl_server_limits limits = {.header_timeout_ms = 300, .idle_timeout_ms = 400};
    struct test_server ts;
    start_server(&ts, &limits);
    struct client cl;

    /* After a response: the idle timeout. */
    client_open(&cl, ts.port);
    client_send(&cl, "GET /echo HTTP/1.1\r\n\r\n");
    expect_response(&cl, 200, NULL);
    int64_t start = now_ms();
    assert_true(closes_within(&cl, 2000));
    assert_true(now_ms() - start >= 350);
    client_close(&cl);

    /* A connection that never sends anything: the header timeout. */
    client_open(&cl, ts.port);
    start = now_ms();
    assert_true(closes_within(&cl, 2000));
    assert_true(now_ms() - start >= 250);
    client_close(&cl);

    struct sl_server_stats st = get_stats(&ts);
    assert_int_equal(st.timeouts, 0);
    assert_int_equal(st.connections_open, 0);
    stop_server(&ts);
}

static void test_connections_over_the_limit_are_closed_at_once(void **state)
{
    (void)state;
    struct sl_server_limits limits = {.max_connections = 2};
    struct test_server ts;
    start_server(&ts, &limits);
    struct client a, b, c;

    client_open(&a, ts.port);
    client_send(&a, "GET /echo HTTP/1.1\r\n\r\n");
    expect_response(&a, 200, NULL);
    client_open(&b, ts.port);
    client_send(&b, "GET /echo HTTP/1.1\r\n\r\n");
    expect_response(&b, 200, NULL);

    client_open(&c, ts.port);
    assert_true(closes_within(&c, 2000));
    client_close(&c);

    client_close(&a);
    sleep_ms(100);
    client_open(&c, ts.port);
    client_send(&c, "GET /echo HTTP/1.1\r\n\r\n");
    expect_response(&c, 200, NULL);
    client_close(&c);
    client_close(&b);

    struct sl_server_stats st = get_stats(&ts);
    assert_int_equal(st.connections_accepted, 3);
    stop_server(&ts);
}

/* ---- clients that leave ------------------------------------------------------------------- */

static void test_client_leaving_during_an_async_response_aborts_the_request_safely(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    struct client cl;

    client_open(&cl, ts.port);
    client_send(&cl, "GET /async?ms=300 HTTP/1.1\r\n\r\nGET /echo HTTP/1.1\r\n\r\n");
    sleep_ms(50);
    client_close(&cl);
    assert_true(wait_for(&ts.aborts, 1, 2000));
    /* The handler answers later, on an aborted request: it is freed, nothing is written. */
    assert_true(wait_for(&ts.async_pending, 0, 2000));

    client_open(&cl, ts.port);
    client_send(&cl, "GET /echo HTTP/1.1\r\n\r\n");
    expect_response(&cl, 200, NULL);
    client_close(&cl);

    struct sl_server_stats st = get_stats(&ts);
    assert_int_equal(st.requests, 2); /* the pipelined /echo never reached the handler */
    stop_server(&ts);
}

/* ---- streamed responses ------------------------------------------------------------------- */

static void test_stream_sends_its_events_and_closes(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    struct client cl;
    client_open(&cl, ts.port);

    client_send(&cl, "GET /stream?n=3 HTTP/1.1\r\nAccept: text/event-stream\r\n\r\n");
    struct response r;
    assert_true(read_response(&cl, &r));
    assert_int_equal(r.status, 200);
    assert_null(find_header(r.head, "content-length"));
    assert_true(head_has(&r, "connection", "close"));
    assert_true(head_has(&r, "content-type", "text/event-stream"));
    assert_true(head_has(&r, "cache-control", "no-cache"));
    assert_string_equal(r.body, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
    response_free(&r);
    client_close(&cl);
    stop_server(&ts);
}

static void test_stream_back_pressure_calls_on_drain(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    struct client cl;
    client_open(&cl, ts.port);

    size_t total = 16 * 1024 * 1024;
    char req[128];
    snprintf(req, sizeof(req), "GET /stream-big?bytes=%zu HTTP/1.1\r\n\r\n", total);
    client_send(&cl, req);
    sleep_ms(300); /* not reading yet: the server's queue fills */
    struct response r;
    assert_true(read_response(&cl, &r));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, total);
    response_free(&r);
    assert_true(atomic_load(&ts.drains) >= 1);
    assert_int_equal(atomic_load(&ts.aborts), 0);
    client_close(&cl);
    stop_server(&ts);
}

static void test_stream_client_leaving_calls_on_abort(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    struct client cl;
    client_open(&cl, ts.port);

    client_send(&cl, "GET /stream-hold HTTP/1.1\r\n\r\n");
    while (strstr(cl.buf ? cl.buf : "", "data: hello\n\n") == NULL)
        assert_true(client_fill(&cl));
    client_close(&cl);
    assert_true(wait_for(&ts.aborts, 1, 2000));
    stop_server(&ts);
}

/* ---- shutdown ----------------------------------------------------------------------------- */

static void test_stop_lets_the_request_in_flight_finish_then_closes_everything(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    struct client busy, idle, stream;

    client_open(&idle, ts.port);
    client_send(&idle, "GET /echo HTTP/1.1\r\n\r\n");
    expect_response(&idle, 200, NULL);
    client_open(&stream, ts.port);
    client_send(&stream, "GET /stream-hold HTTP/1.1\r\n\r\n");
    while (strstr(stream.buf ? stream.buf : "", "data: hello\n\n") == NULL)
        assert_true(client_fill(&stream));
    client_open(&busy, ts.port);
    client_send(&busy, "GET /async?ms=400&tag=late HTTP/1.1\r\n\r\n");
    sleep_ms(100);

    int64_t start = now_ms();
    sl_server_stop(ts.srv);
    /* The idle connection and the stream (ended by the shutdown hook) go at once. */
    assert_true(closes_within(&idle, 1000));
    struct response r;
    assert_true(read_response(&stream, &r));
    response_free(&r);
    /* The request in flight is answered, with Connection: close. */
    assert_true(read_response(&busy, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "async late");
    assert_true(head_has(&r, "connection", "close"));
    response_free(&r);
    assert_true(closes_within(&busy, 2000));

    pthread_join(ts.thread, NULL);
    assert_true(now_ms() - start < 2000);
    assert_int_equal(ts.run_code, SL_OK);
    assert_int_equal(connect_to(ts.port), -1);
    assert_false(sl_server_post(ts.srv, read_stats, NULL));
    join_workers(&ts);
    sl_server_free(ts.srv);
    pthread_mutex_destroy(&ts.mu);
    client_close(&idle);
    client_close(&stream);
    client_close(&busy);
}

static void test_request_never_ended_is_aborted_after_the_grace_period(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    struct client cl;
    client_open(&cl, ts.port);
    client_send(&cl, "GET /hold HTTP/1.1\r\n\r\n");
    sleep_ms(100);

    int64_t start = now_ms();
    sl_server_stop(ts.srv);
    assert_true(closes_within(&cl, 7000));
    pthread_join(ts.thread, NULL);
    int64_t elapsed = now_ms() - start;
    assert_true(elapsed >= 4900);
    assert_true(elapsed < 7000);
    assert_int_equal(atomic_load(&ts.aborts), 1);
    /* The handler never ended it: sl_server_free() frees it. */
    sl_server_free(ts.srv);
    pthread_mutex_destroy(&ts.mu);
    client_close(&cl);
}

static void test_sigterm_stops_the_server(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    kill(getpid(), SIGTERM);
    wait_stopped(&ts);
}

static void test_stop_before_run_returns_at_once(void **state)
{
    (void)state;
    struct sl_server_options opts = {.host = "127.0.0.1", .port = 0, .handler = handler};
    struct sl_server *srv = NULL;
    assert_int_equal(sl_server_new(&opts, &srv, NULL), SL_OK);
    sl_server_stop(srv);
    assert_int_equal(sl_server_run(srv, NULL), SL_OK);
    sl_server_free(srv);

    /* Never run at all. */
    assert_int_equal(sl_server_new(&opts, &srv, NULL), SL_OK);
    sl_server_free(srv);
}

/* ---- posts -------------------------------------------------------------------------------- */

#define POSTS_PER_THREAD 2000

struct post_log {
    struct test_server *ts;
    int thread;
    int values[2 * POSTS_PER_THREAD];
    int threads[2 * POSTS_PER_THREAD];
    atomic_int n;
};

struct post_item {
    struct post_log *log;
    int thread, value;
};

static void record_post(void *arg)
{
    struct post_item *it = arg;
    int i = atomic_load(&it->log->n);
    it->log->values[i] = it->value;
    it->log->threads[i] = it->thread;
    atomic_store(&it->log->n, i + 1);
    free(it);
}

struct poster {
    struct post_log *log;
    int thread;
};

static void *post_many(void *arg)
{
    struct poster *p = arg;
    for (int i = 0; i < POSTS_PER_THREAD; i++) {
        struct post_item *it = malloc(sizeof(*it));
        *it = (struct post_item){p->log, p->thread, i};
        if (!sl_server_post(p->log->ts->srv, record_post, it))
            free(it);
    }
    return NULL;
}

static void test_posts_from_other_threads_run_in_order(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    struct post_log *log = calloc(1, sizeof(*log));
    log->ts = &ts;
    struct poster posters[2] = {{log, 0}, {log, 1}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, post_many, &posters[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    assert_true(wait_for(&log->n, 2 * POSTS_PER_THREAD, 5000));
    int next[2] = {0, 0};
    for (int i = 0; i < 2 * POSTS_PER_THREAD; i++) {
        int t = log->threads[i];
        assert_int_equal(log->values[i], next[t]);
        next[t]++;
    }
    free(log);
    stop_server(&ts);
}

/* ---- addresses ---------------------------------------------------------------------------- */

static void test_port_in_use_is_reported(void **state)
{
    (void)state;
    struct test_server ts;
    start_server(&ts, NULL);
    struct sl_server_options opts = {.host = "127.0.0.1", .port = ts.port, .handler = handler};
    struct sl_server *other = NULL;
    struct sl_error err = {0};
    assert_int_equal(sl_server_new(&opts, &other, &err), SL_OK);
    assert_int_equal(sl_server_run(other, &err), SL_E_EXISTS);
    assert_non_null(strstr(err.message, "cannot listen on 127.0.0.1:"));
    sl_server_free(other);
    stop_server(&ts);
}

static void test_bad_options_are_refused(void **state)
{
    (void)state;
    struct sl_server *srv = NULL;
    struct sl_error err = {0};
    struct sl_server_options opts = {.host = "not-an-address", .port = 80, .handler = handler};
    assert_int_equal(sl_server_new(&opts, &srv, &err), SL_E_INVALID);
    assert_string_equal(err.field, "host");
    assert_null(srv);
    opts.host = "127.0.0.1";
    opts.port = 70000;
    assert_int_equal(sl_server_new(&opts, &srv, &err), SL_E_INVALID);
    opts.port = 80;
    opts.handler = NULL;
    assert_int_equal(sl_server_new(&opts, &srv, &err), SL_E_INVALID);
    opts.handler = handler;
    opts.limits.idle_timeout_ms = -1;
    assert_int_equal(sl_server_new(&opts, &srv, &err), SL_E_INVALID);
}

static void test_ipv6_loopback_is_served(void **state)
{
    (void)state;
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool has_ipv6 = probe >= 0 && bind(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (probe >= 0)
        close(probe);
    if (!has_ipv6)
        skip();

    struct test_server ts;
    start_server_on(&ts, "[::1]", NULL);
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    sa.sin6_port = htons((uint16_t)ts.port);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    set_recv_timeout(fd, 5000);
    struct client cl = {.fd = fd};
    client_send(&cl, "GET /echo?v6 HTTP/1.1\r\n\r\n");
    expect_response(&cl, 200, "GET /echo q=v6 body=");
    client_close(&cl);
    stop_server(&ts);
}

/* ---- lookups on a request ----------------------------------------------------------------- */

static void test_query_params_are_percent_decoded(void **state)
{
    (void)state;
    char query[] = "a=1&name=hello+world%21&empty=&flag&bad=%zz%4&na%6De2=x&a=2";
    struct sl_http_request req = {.query = query};
    char *v;
    assert_string_equal(v = sl_http_query_param(&req, "a"), "1");
    free(v);
    assert_string_equal(v = sl_http_query_param(&req, "name"), "hello world!");
    free(v);
    assert_string_equal(v = sl_http_query_param(&req, "empty"), "");
    free(v);
    assert_string_equal(v = sl_http_query_param(&req, "flag"), "");
    free(v);
    assert_string_equal(v = sl_http_query_param(&req, "bad"), "%zz%4");
    free(v);
    assert_string_equal(v = sl_http_query_param(&req, "name2"), "x");
    free(v);
    assert_null(sl_http_query_param(&req, "missing"));
    assert_null(sl_http_query_param(&req, "nam"));

    char empty[] = "";
    struct sl_http_request none = {.query = empty};
    assert_null(sl_http_query_param(&none, "a"));
}

static void test_header_lookup_ignores_case(void **state)
{
    (void)state;
    struct sl_http_header headers[] = {{"content-type", "application/json"}, {"es-eventtype", "Created"}};
    struct sl_http_request req = {.headers = headers, .n_headers = 2};
    assert_string_equal(sl_http_header(&req, "content-type"), "application/json");
    assert_string_equal(sl_http_header(&req, "ES-EventType"), "Created");
    assert_null(sl_http_header(&req, "expected-revision"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_alive_connection_serves_several_requests),
        cmocka_unit_test(test_http10_connection_stays_open_only_when_asked),
        cmocka_unit_test(test_pipelined_requests_are_answered_in_order_when_the_first_is_async),
        cmocka_unit_test(test_pipelined_input_behind_a_pending_request_is_bounded),
        cmocka_unit_test(test_header_block_of_100_kb_is_refused_with_431),
        cmocka_unit_test(test_five_thousand_headers_are_refused_with_431),
        cmocka_unit_test(test_header_block_within_a_small_limit_passes_and_one_over_fails),
        cmocka_unit_test(test_headers_reach_the_handler_lower_cased),
        cmocka_unit_test(test_chunked_body_of_many_small_chunks_is_read_whole),
        cmocka_unit_test(test_expect_100_continue_is_answered_before_the_body),
        cmocka_unit_test(test_content_length_over_the_limit_is_refused_with_413),
        cmocka_unit_test(test_chunked_body_over_the_limit_is_refused_with_413),
        cmocka_unit_test(test_garbage_is_refused_with_400),
        cmocka_unit_test(test_slowloris_is_cut_off_at_the_header_timeout_while_others_are_served),
        cmocka_unit_test(test_slow_body_is_cut_off_at_the_request_timeout),
        cmocka_unit_test(test_idle_connections_are_closed_silently),
        cmocka_unit_test(test_connections_over_the_limit_are_closed_at_once),
        cmocka_unit_test(test_client_leaving_during_an_async_response_aborts_the_request_safely),
        cmocka_unit_test(test_stream_sends_its_events_and_closes),
        cmocka_unit_test(test_stream_back_pressure_calls_on_drain),
        cmocka_unit_test(test_stream_client_leaving_calls_on_abort),
        cmocka_unit_test(test_stop_lets_the_request_in_flight_finish_then_closes_everything),
        cmocka_unit_test(test_request_never_ended_is_aborted_after_the_grace_period),
        cmocka_unit_test(test_sigterm_stops_the_server),
        cmocka_unit_test(test_stop_before_run_returns_at_once),
        cmocka_unit_test(test_posts_from_other_threads_run_in_order),
        cmocka_unit_test(test_port_in_use_is_reported),
        cmocka_unit_test(test_bad_options_are_refused),
        cmocka_unit_test(test_ipv6_loopback_is_served),
        cmocka_unit_test(test_query_params_are_percent_decoded),
        cmocka_unit_test(test_header_lookup_ignores_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
