/* http_receiver.h: a tiny real HTTP/1.1 server for the HTTP sink's tests.
 *
 * rx_start() listens on 127.0.0.1 on a free port and serves from a thread, one
 * connection at a time (as the sink uses one), keeping connections alive. It
 * records every request (head and body, and which TCP connection it came on)
 * and answers the n-th request with the n-th scripted action: a status with
 * optional extra header lines, a hang (no answer until the client gives up,
 * the hang ends or the receiver stops, then the connection is closed), or a
 * close without an answer, or raw bytes sent as they are (then, optionally, a
 * close). Requests beyond the script get 200.
 *
 * The thread never calls cmocka (which is not thread-safe): tests read what it
 * recorded, under its mutex, once the sink's write has returned. */
#ifndef SL_TEST_HTTP_RECEIVER_H
#define SL_TEST_HTTP_RECEIVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/clock.h"

#define RX_MAX_REQUESTS 256
#define RX_MAX_SCRIPT 32

enum rx_kind { RX_STATUS, RX_HANG, RX_CLOSE, RX_RAW, RX_RAW_CLOSE };

struct rx_action {
    enum rx_kind kind;
    int status;        /* RX_STATUS */
    const char *extra; /* RX_STATUS: header lines, each ending in \r\n; RX_RAW*: the whole answer */
    int hang_ms;       /* RX_HANG */
};

#define RX_OK(code) ((struct rx_action){RX_STATUS, (code), NULL, 0})
#define RX_DROP ((struct rx_action){RX_CLOSE, 0, NULL, 0})
#define RX_RAW_ANSWER(bytes) ((struct rx_action){RX_RAW, 0, (bytes), 0})
#define RX_RAW_THEN_CLOSE(bytes) ((struct rx_action){RX_RAW_CLOSE, 0, (bytes), 0})

struct rx_request {
    char *head; /* request line and header lines, \r\n-separated, NUL-terminated */
    char *body;
    size_t body_len;
    int connection; /* 1 for the first TCP connection accepted, 2 for the next, ... */
};

struct receiver {
    int listen_fd;
    unsigned port;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu;
    struct rx_action script[RX_MAX_SCRIPT];
    size_t n_script;
    struct rx_request requests[RX_MAX_REQUESTS];
    size_t n_requests;
    int n_connections;
};

/* The value of header `name` (ignoring case) in `head`, copied into `out`;
 * `skip` = how many earlier matches to pass over. False when absent. */
static inline bool rx_header_at(const char *head, const char *name, size_t skip, char *out, size_t cap)
{
    size_t n = strlen(name);
    const char *line = strstr(head, "\r\n");
    while (line) {
        line += 2;
        const char *end = strstr(line, "\r\n");
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > n && strncasecmp(line, name, n) == 0 && line[n] == ':' && skip-- == 0) {
            const char *v = line + n + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t vlen = (size_t)(line + len - v);
            if (vlen >= cap)
                vlen = cap - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return true;
        }
        line = end;
    }
    return false;
}

static inline bool rx_header(const char *head, const char *name, char *out, size_t cap)
{
    return rx_header_at(head, name, 0, out, cap);
}

static inline size_t rx_header_count(const char *head, const char *name)
{
    char ignored[8];
    size_t n = 0;
    while (rx_header_at(head, name, n, ignored, sizeof(ignored)))
        n++;
    return n;
}

/* Reads more of the connection into `in`; false at EOF, on error or on stop. */
static inline bool rx_read_more(struct receiver *rx, int fd, struct sl_buf *in)
{
    while (!atomic_load(&rx->stop)) {
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, 20);
        if (r == 0 || (r < 0 && errno == EINTR))
            continue;
        if (r < 0)
            return false;
        char tmp[4096];
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n <= 0)
            return false;
        sl_buf_append(in, tmp, (size_t)n);
        return !in->failed;
    }
    return false;
}

static inline void rx_send(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

static inline void rx_respond(int fd, const struct rx_action *a)
{
    const char *body = a->status >= 300 ? "{\"error\":\"field x is missing\"}" : "ok";
    char resp[1024];
    int n = snprintf(resp, sizeof(resp), "HTTP/1.1 %d Scripted\r\nContent-Length: %zu\r\n%s\r\n%s", a->status,
                     strlen(body), a->extra ? a->extra : "", body);
    rx_send(fd, resp, (size_t)n);
}

/* Waits `ms`, or until the client closes or the receiver stops. */
static inline void rx_hang(struct receiver *rx, int fd, int ms)
{
    int64_t until = sl_monotonic_ms() + ms;
    while (!atomic_load(&rx->stop) && sl_monotonic_ms() < until) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 20) > 0) {
            char tmp[256];
            if (read(fd, tmp, sizeof(tmp)) <= 0)
                return;
        }
    }
}

/* Serves requests on one connection until it closes or an action closes it. */
static inline void rx_serve(struct receiver *rx, int fd, int connection)
{
    struct sl_buf in;
    sl_buf_init(&in);
    for (;;) {
        char *end;
        while ((end = in.len ? memmem(in.data, in.len, "\r\n\r\n", 4) : NULL) == NULL)
            if (!rx_read_more(rx, fd, &in))
                goto out;
        size_t head_len = (size_t)(end - in.data);
        char *head = strndup(in.data, head_len);
        char length[32];
        size_t body_len = head && rx_header(head, "Content-Length", length, sizeof(length))
                              ? (size_t)strtoull(length, NULL, 10)
                              : 0;
        while (in.len < head_len + 4 + body_len)
            if (!rx_read_more(rx, fd, &in)) {
                free(head);
                goto out;
            }
        char *body = malloc(body_len + 1);
        if (body) {
            memcpy(body, in.data + head_len + 4, body_len);
            body[body_len] = '\0';
        }
        size_t used = head_len + 4 + body_len;
        memmove(in.data, in.data + used, in.len - used);
        in.len -= used;

        pthread_mutex_lock(&rx->mu);
        size_t index = rx->n_requests;
        struct rx_action action = index < rx->n_script ? rx->script[index] : RX_OK(200);
        if (index < RX_MAX_REQUESTS) {
            rx->requests[index] = (struct rx_request){head, body, body_len, connection};
            rx->n_requests++;
        } else {
            free(head);
            free(body);
        }
        pthread_mutex_unlock(&rx->mu);

        if (action.kind == RX_CLOSE)
            goto out;
        if (action.kind == RX_HANG) {
            rx_hang(rx, fd, action.hang_ms);
            goto out;
        }
        if (action.kind == RX_RAW || action.kind == RX_RAW_CLOSE) {
            rx_send(fd, action.extra, strlen(action.extra));
            if (action.kind == RX_RAW_CLOSE)
                goto out;
            continue;
        }
        rx_respond(fd, &action);
    }
out:
    sl_buf_free(&in);
}

static inline void *rx_main(void *arg)
{
    struct receiver *rx = arg;
    while (!atomic_load(&rx->stop)) {
        struct pollfd p = {rx->listen_fd, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(rx->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&rx->mu);
        int connection = ++rx->n_connections;
        pthread_mutex_unlock(&rx->mu);
        rx_serve(rx, fd, connection);
        close(fd);
    }
    return NULL;
}

/* A receiver listening on 127.0.0.1 on a free port, or NULL. */
static inline struct receiver *rx_start(void)
{
    struct receiver *rx = calloc(1, sizeof(*rx));
    if (rx == NULL)
        return NULL;
    pthread_mutex_init(&rx->mu, NULL);
    rx->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    if (rx->listen_fd < 0 || bind(rx->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(rx->listen_fd, 16) != 0 || getsockname(rx->listen_fd, (struct sockaddr *)&addr, &len) != 0 ||
        pthread_create(&rx->thread, NULL, rx_main, rx) != 0) {
        if (rx->listen_fd >= 0)
            close(rx->listen_fd);
        pthread_mutex_destroy(&rx->mu);
        free(rx);
        return NULL;
    }
    rx->port = ntohs(addr.sin_port);
    return rx;
}

static inline void rx_stop(struct receiver *rx)
{
    if (rx == NULL)
        return;
    atomic_store(&rx->stop, true);
    pthread_join(rx->thread, NULL);
    close(rx->listen_fd);
    for (size_t i = 0; i < rx->n_requests; i++) {
        free(rx->requests[i].head);
        free(rx->requests[i].body);
    }
    pthread_mutex_destroy(&rx->mu);
    free(rx);
}

/* Sets the answers to the next requests, in order; call before the sink writes. */
static inline void rx_script(struct receiver *rx, const struct rx_action *actions, size_t n)
{
    pthread_mutex_lock(&rx->mu);
    for (size_t i = 0; i < n && rx->n_requests + i < RX_MAX_SCRIPT; i++)
        rx->script[rx->n_requests + i] = actions[i];
    rx->n_script = rx->n_requests + n < RX_MAX_SCRIPT ? rx->n_requests + n : RX_MAX_SCRIPT;
    pthread_mutex_unlock(&rx->mu);
}

static inline size_t rx_count(struct receiver *rx)
{
    pthread_mutex_lock(&rx->mu);
    size_t n = rx->n_requests;
    pthread_mutex_unlock(&rx->mu);
    return n;
}

static inline int rx_connections(struct receiver *rx)
{
    pthread_mutex_lock(&rx->mu);
    int n = rx->n_connections;
    pthread_mutex_unlock(&rx->mu);
    return n;
}

/* Request `i`, for reading once the sink's write has returned. */
static inline const struct rx_request *rx_request(struct receiver *rx, size_t i)
{
    pthread_mutex_lock(&rx->mu);
    const struct rx_request *r = i < rx->n_requests ? &rx->requests[i] : NULL;
    pthread_mutex_unlock(&rx->mu);
    return r;
}

#endif
