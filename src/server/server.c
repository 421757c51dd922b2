/* server.c: the loop, the listening socket, signals, the post queue and graceful shutdown.
 *
 * Shutdown runs in two steps. Draining (SIGINT/SIGTERM or sl_server_stop()): the listener
 * closes, the on_shutdown hooks run, connections with no request at the handler finish, and the
 * others finish as soon as their response is written; HTTP/2 connections get a GOAWAY notice, and
 * their last GOAWAY once the calls they carry are finished. Posts still run, since that is how answers
 * from other threads arrive. Closing (once nothing is busy, after SL_SERVER_GRACE_MS, or on a
 * second signal): the post queue closes, what is queued runs, every connection is closed (a
 * request still at the handler is aborted) and the loop ends. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "server/http_internal.h"
#include "server/server.h"
#include "util/log.h"

static const struct sl_server_limits default_limits = {
    .max_header_bytes = 64 * 1024,
    .max_body_bytes = 16 * 1024 * 1024,
    .header_timeout_ms = 10 * 1000,
    .request_timeout_ms = 60 * 1000,
    .idle_timeout_ms = 60 * 1000,
    .max_connections = 10000,
};

static void finish_shutdown(struct sl_server *srv);

/* ---- set-up ------------------------------------------------------------------------------ */

static enum sl_code parse_address(const char *host, int port, struct sockaddr_storage *out,
                                  struct sl_error *err)
{
    char literal[64];
    size_t len = strlen(host);
    /* "[::1]" as in URLs, or plain "::1". */
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(literal))
        return sl_field_errorf(err, SL_E_INVALID, "host", "host \"%s\" is not an IPv4 or IPv6 address", host);
    memcpy(literal, host, len);
    literal[len] = '\0';
    if (strcmp(literal, "localhost") == 0)
        strcpy(literal, "127.0.0.1");

    memset(out, 0, sizeof(*out));
    if (uv_ip4_addr(literal, port, (struct sockaddr_in *)out) == 0)
        return SL_OK;
    if (uv_ip6_addr(literal, port, (struct sockaddr_in6 *)out) == 0)
        return SL_OK;
    return sl_field_errorf(err, SL_E_INVALID, "host",
                           "host \"%s\" is not an IPv4 or IPv6 address literal (such as 127.0.0.1 or ::1)",
                           literal);
}

static enum sl_code take_limits(const struct sl_server_limits *in, struct sl_server_limits *out,
                                struct sl_error *err)
{
    if (in->header_timeout_ms < 0 || in->request_timeout_ms < 0 || in->idle_timeout_ms < 0)
        return sl_errorf(err, SL_E_INVALID,
                         "server timeouts must not be negative (header %d, request %d, idle %d ms)",
                         in->header_timeout_ms, in->request_timeout_ms, in->idle_timeout_ms);
    *out = *in;
    if (out->max_header_bytes == 0)
        out->max_header_bytes = default_limits.max_header_bytes;
    if (out->max_body_bytes == 0)
        out->max_body_bytes = default_limits.max_body_bytes;
    if (out->header_timeout_ms == 0)
        out->header_timeout_ms = default_limits.header_timeout_ms;
    if (out->request_timeout_ms == 0)
        out->request_timeout_ms = default_limits.request_timeout_ms;
    if (out->idle_timeout_ms == 0)
        out->idle_timeout_ms = default_limits.idle_timeout_ms;
    if (out->max_connections == 0)
        out->max_connections = default_limits.max_connections;
    if (out->max_header_bytes > UINT32_MAX / 2)
        return sl_errorf(err, SL_E_INVALID, "max_header_bytes %zu is over the most the parser takes (%u)",
                         out->max_header_bytes, (unsigned)(UINT32_MAX / 2));
    return SL_OK;
}

static void on_wake(uv_async_t *h);

enum sl_code sl_server_new(const struct sl_server_options *opts, struct sl_server **out, struct sl_error *err)
{
    *out = NULL;
    if (opts->handler == NULL)
        return sl_errorf(err, SL_E_INVALID, "the server needs a request handler");
    if (opts->host == NULL)
        return sl_field_errorf(err, SL_E_INVALID, "host", "the server needs a host to listen on");
    if (opts->port < 0 || opts->port > 65535)
        return sl_field_errorf(err, SL_E_INVALID, "port", "port %d is not between 0 and 65535", opts->port);
    struct sockaddr_storage addr;
    enum sl_code code = parse_address(opts->host, opts->port, &addr, err);
    if (code != SL_OK)
        return code;
    struct sl_server_limits limits;
    code = take_limits(&opts->limits, &limits, err);
    if (code != SL_OK)
        return code;

    struct sl_server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return sl_errorf(err, SL_E_NOMEM, "no memory for the server");
    srv->host = strdup(opts->host);
    if (srv->host == NULL) {
        free(srv);
        return sl_errorf(err, SL_E_NOMEM, "no memory for the server");
    }
    srv->port = opts->port;
    srv->addr = addr;
    srv->limits = limits;
    srv->handler = opts->handler;
    srv->handler_arg = opts->handler_arg;
    srv->grpc_handler = opts->grpc_handler;
    srv->grpc_handler_arg = opts->grpc_handler_arg;
    srv->state = SL_SRV_NEW;
    atomic_init(&srv->bound_port, 0);
    pthread_mutex_init(&srv->mu, NULL);

    int rc = uv_loop_init(&srv->loop);
    if (rc != 0) {
        code = sl_errorf(err, SL_E_INTERNAL, "cannot create the event loop: %s", uv_strerror(rc));
        pthread_mutex_destroy(&srv->mu);
        free(srv->host);
        free(srv);
        return code;
    }
    srv->is_loop_ready = true;
    uv_async_init(&srv->loop, &srv->wake, on_wake);
    srv->wake.data = srv;
    srv->is_wake_open = true;

    /* The parser has a compiled-in cap of its own (80 KiB); lift it when ours is larger. It is
     * process-wide, and only ever raised here. */
    if (limits.max_header_bytes > 80 * 1024)
        http_parser_set_max_header_size((uint32_t)limits.max_header_bytes * 2);

    *out = srv;
    return SL_OK;
}

/* ---- posts and stop requests ------------------------------------------------------------- */

bool sl_server_post(struct sl_server *srv, void (*fn)(void *arg), void *arg)
{
    if (fn == NULL)
        return false;
    struct sl_server_post *p = malloc(sizeof(*p));
    if (p == NULL)
        return false;
    p->fn = fn;
    p->arg = arg;
    p->next = NULL;

    pthread_mutex_lock(&srv->mu);
    bool is_closed = srv->is_post_closed;
    if (!is_closed) {
        if (srv->posts_tail != NULL)
            srv->posts_tail->next = p;
        else
            srv->posts = p;
        srv->posts_tail = p;
        /* Under the lock: once the queue is closed the handle may be closed, and must not be sent to. */
        uv_async_send(&srv->wake);
    }
    pthread_mutex_unlock(&srv->mu);
    if (is_closed)
        free(p);
    return !is_closed;
}

void sl_server_stop(struct sl_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    if (!srv->is_post_closed) {
        srv->is_stop_requested = true;
        uv_async_send(&srv->wake);
    }
    pthread_mutex_unlock(&srv->mu);
}

static struct sl_server_post *take_posts(struct sl_server *srv, bool *is_stop_requested)
{
    pthread_mutex_lock(&srv->mu);
    struct sl_server_post *p = srv->posts;
    srv->posts = srv->posts_tail = NULL;
    if (is_stop_requested != NULL)
        *is_stop_requested = srv->is_stop_requested;
    pthread_mutex_unlock(&srv->mu);
    return p;
}

static void run_posts(struct sl_server_post *p)
{
    while (p != NULL) {
        struct sl_server_post *next = p->next;
        p->fn(p->arg);
        free(p);
        p = next;
    }
}

static void begin_shutdown(struct sl_server *srv);

static void on_wake(uv_async_t *h)
{
    struct sl_server *srv = h->data;
    bool is_stop_requested = false;
    run_posts(take_posts(srv, &is_stop_requested));
    if (is_stop_requested)
        begin_shutdown(srv);
}

/* ---- accepting and signals --------------------------------------------------------------- */

static void on_connection(uv_stream_t *listener, int status)
{
    struct sl_server *srv = listener->data;
    if (status < 0) {
        sl_warn("server", "accepting a connection failed: %s", uv_strerror(status));
        return;
    }
    sl_http_conn_accept(srv);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct sl_server *srv = h->data;
    const char *name = signum == SIGINT ? "SIGINT" : "SIGTERM";
    if (srv->state == SL_SRV_RUNNING) {
        sl_info("server", "%s received", name);
        begin_shutdown(srv);
    } else if (srv->state == SL_SRV_DRAINING) {
        sl_warn("server", "%s received again: closing every connection now", name);
        finish_shutdown(srv);
    }
}

/* ---- shutdown ---------------------------------------------------------------------------- */

static void close_handle(uv_handle_t *h, bool *is_open)
{
    if (!*is_open)
        return;
    *is_open = false;
    uv_close(h, NULL);
}

static void on_drain_tick(uv_timer_t *t)
{
    struct sl_server *srv = t->data;
    if (srv->state != SL_SRV_DRAINING)
        return;
    uint64_t busy = 0;
    for (struct sl_http_conn *c = srv->conns; c != NULL; c = c->next)
        busy += sl_http_conn_is_busy(c);
    if (busy == 0) {
        sl_info("server", "every request finished");
        finish_shutdown(srv);
        return;
    }
    if (uv_now(&srv->loop) - srv->drain_started_ms >= SL_SERVER_GRACE_MS) {
        sl_warn("server", "grace period of %d ms over: closing %" PRIu64 " connections still busy",
                SL_SERVER_GRACE_MS, busy);
        finish_shutdown(srv);
    }
}

static void begin_shutdown(struct sl_server *srv)
{
    if (srv->state != SL_SRV_RUNNING)
        return;
    srv->state = SL_SRV_DRAINING;
    sl_info("server", "shutting down: no new connections; %" PRIu64 " open, up to %d ms for them to finish",
            srv->stats.connections_open, SL_SERVER_GRACE_MS);
    close_handle((uv_handle_t *)&srv->listener, &srv->is_listener_open);

    for (size_t i = 0; i < srv->n_hooks; i++)
        srv->hooks[i].fn(srv->hooks[i].arg);

    /* Connections without a request at the handler have nothing to wait for; HTTP/2 ones get a
     * shutdown notice and their last GOAWAY once their calls are finished. Neither calls handler
     * code, so the list cannot change under this walk. */
    for (struct sl_http_conn *c = srv->conns; c != NULL; c = c->next) {
        if (c->state != SL_CONN_OPEN)
            continue;
        if (c->proto == SL_PROTO_H2)
            sl_h2_conn_drain(c);
        else if (c->active == NULL)
            sl_http_conn_finish(c);
    }
    srv->drain_started_ms = uv_now(&srv->loop);
    uv_timer_start(&srv->drain_timer, on_drain_tick, 0, SL_SERVER_DRAIN_TICK_MS);
}

/* Closes every connection. Closing one may call a handler's on_abort or on_cancel, which may end
 * requests of other connections and so free them: after each such call the walk starts over. */
static void close_connections(struct sl_server *srv)
{
    bool is_restarting = true;
    while (is_restarting) {
        is_restarting = false;
        for (struct sl_http_conn *c = srv->conns; c != NULL; c = c->next) {
            if (c->state == SL_CONN_CLOSING)
                continue;
            bool has_handler_code = c->active != NULL || (c->h2 != NULL && c->h2->n_held > 0);
            sl_http_conn_close(c);
            if (has_handler_code) {
                is_restarting = true;
                break;
            }
        }
    }
}

static void finish_shutdown(struct sl_server *srv)
{
    if (srv->state == SL_SRV_CLOSED)
        return;
    srv->state = SL_SRV_CLOSED;
    close_handle((uv_handle_t *)&srv->listener, &srv->is_listener_open);
    if (srv->is_signals_open) {
        srv->is_signals_open = false;
        uv_close((uv_handle_t *)&srv->sigint, NULL);
        uv_close((uv_handle_t *)&srv->sigterm, NULL);
    }
    close_handle((uv_handle_t *)&srv->drain_timer, &srv->is_drain_timer_open);

    pthread_mutex_lock(&srv->mu);
    srv->is_post_closed = true;
    pthread_mutex_unlock(&srv->mu);
    /* Whatever was posted before the queue closed still runs, as sl_server_post() promised. */
    run_posts(take_posts(srv, NULL));

    close_connections(srv);
    close_handle((uv_handle_t *)&srv->wake, &srv->is_wake_open);
}

/* ---- running ----------------------------------------------------------------------------- */

static void format_address(const struct sl_server *srv, int port, char *out, size_t size)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (srv->addr.ss_family == AF_INET6) {
        uv_ip6_name((const struct sockaddr_in6 *)&srv->addr, ip, sizeof(ip));
        snprintf(out, size, "[%s]:%d", ip, port);
    } else {
        uv_ip4_name((const struct sockaddr_in *)&srv->addr, ip, sizeof(ip));
        snprintf(out, size, "%s:%d", ip, port);
    }
}

static int bound_port(struct sl_server *srv)
{
    struct sockaddr_storage sa;
    int len = (int)sizeof(sa);
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&sa, &len) != 0)
        return srv->port;
    if (sa.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
    return ntohs(((struct sockaddr_in *)&sa)->sin_port);
}

enum sl_code sl_server_run(struct sl_server *srv, struct sl_error *err)
{
    if (srv->state != SL_SRV_NEW)
        return sl_errorf(err, SL_E_INVALID, "the server has already run; create a new one");
    /* A peer that closes while a response is being written must not kill the process. */
    signal(SIGPIPE, SIG_IGN);

    uv_tcp_init(&srv->loop, &srv->listener);
    srv->listener.data = srv;
    srv->is_listener_open = true;
    int rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&srv->addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection);
    if (rc != 0) {
        char where[96];
        format_address(srv, srv->port, where, sizeof(where));
        enum sl_code code = sl_errorf(err, rc == UV_EADDRINUSE ? SL_E_EXISTS : SL_E_UNAVAILABLE,
                                      "cannot listen on %s: %s", where, uv_strerror(rc));
        finish_shutdown(srv);
        uv_run(&srv->loop, UV_RUN_DEFAULT);
        return code;
    }

    uv_signal_init(&srv->loop, &srv->sigint);
    uv_signal_init(&srv->loop, &srv->sigterm);
    srv->sigint.data = srv;
    srv->sigterm.data = srv;
    srv->is_signals_open = true;
    uv_signal_start(&srv->sigint, on_signal, SIGINT);
    uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
    uv_timer_init(&srv->loop, &srv->drain_timer);
    srv->drain_timer.data = srv;
    srv->is_drain_timer_open = true;

    srv->state = SL_SRV_RUNNING;
    int port = bound_port(srv);
    atomic_store(&srv->bound_port, port);
    char where[96];
    format_address(srv, port, where, sizeof(where));
    sl_info("server", "listening on http://%s", where);

    uv_run(&srv->loop, UV_RUN_DEFAULT);
    /* uv_stop() from a handler ends uv_run early: shut down from wherever things are. */
    if (srv->state != SL_SRV_CLOSED) {
        finish_shutdown(srv);
        uv_run(&srv->loop, UV_RUN_DEFAULT);
    }
    sl_info("server",
            "stopped: %" PRIu64 " connections, %" PRIu64 " requests and %" PRIu64 " gRPC calls served",
            srv->stats.connections_accepted, srv->stats.requests, srv->stats.grpc_calls);
    return SL_OK;
}

/* ---- accessors and teardown -------------------------------------------------------------- */

struct uv_loop_s *sl_server_loop(struct sl_server *srv)
{
    return &srv->loop;
}

int sl_server_port(const struct sl_server *srv)
{
    return atomic_load(&((struct sl_server *)srv)->bound_port);
}

void sl_server_on_shutdown(struct sl_server *srv, void (*fn)(void *arg), void *arg)
{
    if (fn == NULL)
        return;
    if (srv->n_hooks == srv->hooks_cap) {
        size_t cap = srv->hooks_cap ? srv->hooks_cap * 2 : 8;
        struct sl_server_hook *h = realloc(srv->hooks, cap * sizeof(*h));
        if (h == NULL) {
            sl_error("server", "no memory to register a shutdown hook; it will not run");
            return;
        }
        srv->hooks = h;
        srv->hooks_cap = cap;
    }
    srv->hooks[srv->n_hooks].fn = fn;
    srv->hooks[srv->n_hooks].arg = arg;
    srv->n_hooks++;
}

void sl_server_get_stats(const struct sl_server *srv, struct sl_server_stats *out)
{
    *out = srv->stats;
}

void sl_server_free(struct sl_server *srv)
{
    if (srv == NULL)
        return;
    if (srv->is_loop_ready) {
        if (srv->state == SL_SRV_NEW) {
            /* Never ran: only the wake handle is open. */
            pthread_mutex_lock(&srv->mu);
            srv->is_post_closed = true;
            pthread_mutex_unlock(&srv->mu);
            close_handle((uv_handle_t *)&srv->wake, &srv->is_wake_open);
            uv_run(&srv->loop, UV_RUN_DEFAULT);
        }
        /* Connections whose request a handler never ended. */
        while (srv->conns != NULL)
            sl_http_conn_destroy(srv->conns);
        int rc = uv_loop_close(&srv->loop);
        if (rc != 0)
            sl_warn("server", "the loop still has open handles at exit: %s", uv_strerror(rc));
    }
    struct sl_server_post *p = srv->posts;
    while (p != NULL) {
        struct sl_server_post *next = p->next;
        free(p);
        p = next;
    }
    free(srv->hooks);
    free(srv->host);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}
