/* connbench.h: what the connector benchmark's tools (receiver, plainpost,
 * eventfeed) share: clocks, URLs, a blocking HTTP/1.1 client connection, the
 * events' data and exact percentiles.
 *
 * The event data every tool writes or reads is a JSON object that starts with
 * the send time and, when it matters, a sequence number:
 *   {"t":<CLOCK_REALTIME microseconds>,"s":<sequence>,"pad":"abc..."}
 * padded to the requested size. The receiver finds "t" and "s" at the start of
 * the data, without parsing the rest.
 *
 * Everything is static inline: each tool is one .c file that includes this. */
#ifndef SL_BENCH_CONNBENCH_H
#define SL_BENCH_CONNBENCH_H

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"

/* ---- clocks ---- */

/* Wall-clock microseconds: comparable between processes on one machine. */
static inline int64_t cb_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t cb_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- URLs ---- */

struct cb_url {
    char host[256];
    char port[16];
    char path[1024]; /* "/" when the URL has none */
};

/* Parses http://HOST[:PORT][/PATH]. */
static inline bool cb_parse_url(const char *url, struct cb_url *u)
{
    if (strncmp(url, "http://", 7) != 0)
        return false;
    const char *p = url + 7;
    const char *end = p + strcspn(p, "/");
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *host_end = colon ? colon : end;
    size_t host_len = (size_t)(host_end - p);
    if (host_len == 0 || host_len >= sizeof u->host)
        return false;
    memcpy(u->host, p, host_len);
    u->host[host_len] = '\0';
    if (colon) {
        size_t port_len = (size_t)(end - colon - 1);
        if (port_len == 0 || port_len >= sizeof u->port)
            return false;
        memcpy(u->port, colon + 1, port_len);
        u->port[port_len] = '\0';
    } else {
        strcpy(u->port, "80");
    }
    if (strlen(end) >= sizeof u->path)
        return false;
    strcpy(u->path, *end ? end : "/");
    return true;
}

/* A connected TCP socket to u (blocking, TCP_NODELAY), or -1 with errno set. */
static inline int cb_connect(const struct cb_url *u)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(u->host, u->port, &hints, &res);
    if (rc != 0) {
        errno = EHOSTUNREACH;
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        int saved = errno;
        close(fd);
        fd = -1;
        errno = saved;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

static inline bool cb_send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* ---- responses ---- */

/* The bytes read from a connection and not yet consumed. */
struct cb_inbuf {
    char *data;
    size_t len, cap;
};

static inline void cb_inbuf_free(struct cb_inbuf *in)
{
    free(in->data);
    memset(in, 0, sizeof *in);
}

static inline bool cb_inbuf_reserve(struct cb_inbuf *in, size_t extra)
{
    if (in->cap - in->len >= extra + 1)
        return true;
    size_t cap = in->cap ? in->cap : 16384;
    while (cap - in->len < extra + 1)
        cap *= 2;
    char *p = realloc(in->data, cap);
    if (p == NULL)
        return false;
    in->data = p;
    in->cap = cap;
    return true;
}

/* Looks for one complete response at the start of `in`. Returns its total
 * length and fills *status, *body and *body_len; 0 when more bytes are needed;
 * -1 when the bytes are not an HTTP/1.1 response with a Content-Length (or none,
 * for an empty body). */
static inline long cb_parse_response(const struct cb_inbuf *in, int *status, const char **body,
                                     size_t *body_len)
{
    if (in->len < 12)
        return 0;
    const char *end = memmem(in->data, in->len, "\r\n\r\n", 4);
    if (end == NULL)
        return in->len > 65536 ? -1 : 0;
    if (strncmp(in->data, "HTTP/1.", 7) != 0)
        return -1;
    *status = atoi(in->data + 9);
    size_t head = (size_t)(end - in->data) + 4;
    size_t content_length = 0;
    for (const char *line = (const char *)memchr(in->data, '\n', head) + 1; line < end;) {
        const char *eol = memchr(line, '\n', (size_t)(end + 2 - line));
        if (eol == NULL)
            break;
        if ((size_t)(eol - line) > 15 && strncasecmp(line, "content-length:", 15) == 0)
            content_length = strtoull(line + 15, NULL, 10);
        line = eol + 1;
    }
    if (in->len < head + content_length)
        return 0;
    *body = in->data + head;
    *body_len = content_length;
    return (long)(head + content_length);
}

/* Reads one whole response from a blocking socket into `in` (which keeps
 * nothing past it: the tools never pipeline). Returns the status, or -1 when
 * the connection broke or the answer is not HTTP. */
static inline int cb_read_response(int fd, struct cb_inbuf *in, const char **body, size_t *body_len)
{
    in->len = 0;
    for (;;) {
        int status;
        long total = cb_parse_response(in, &status, body, body_len);
        if (total < 0)
            return -1;
        if (total > 0) {
            in->data[total] = '\0';
            return status;
        }
        if (!cb_inbuf_reserve(in, 65536))
            return -1;
        ssize_t n = recv(fd, in->data + in->len, in->cap - in->len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        in->len += (size_t)n;
    }
}

/* One request on a blocking connection: `method` `path` with an optional
 * JSON body. Returns the status (the body in *body, valid until the next
 * call), or -1. */
static inline int cb_request(int fd, const struct cb_url *u, const char *method, const char *path,
                             const char *body, size_t body_len, struct cb_inbuf *in, const char **out,
                             size_t *out_len)
{
    char head[2048];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, u->host, u->port, body_len);
    if (n < 0 || (size_t)n >= sizeof head)
        return -1;
    if (!cb_send_all(fd, head, (size_t)n) || (body_len && !cb_send_all(fd, body, body_len)))
        return -1;
    return cb_read_response(fd, in, out, out_len);
}

/* ---- event data ---- */

/* Appends {"t":T,"s":S,"pad":"abc..."} (no "s" when s < 0), padded so the
 * object is `bytes` long when it can be. */
static inline void cb_event_data(struct sl_buf *b, int64_t t, int64_t s, size_t bytes)
{
    size_t start = b->len;
    if (s >= 0)
        sl_buf_printf(b, "{\"t\":%lld,\"s\":%lld,\"pad\":\"", (long long)t, (long long)s);
    else
        sl_buf_printf(b, "{\"t\":%lld,\"pad\":\"", (long long)t);
    size_t used = b->len - start + 2; /* and the closing "} */
    for (size_t i = 0; used + i < bytes; i++)
        sl_buf_putc(b, (char)('a' + i % 26));
    sl_buf_puts(b, "\"}");
}

/* ---- percentiles ---- */

static inline int cb_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (0 < q <= 1) of n sorted values, nearest rank; 0 when empty. */
static inline int64_t cb_quantile(const int64_t *sorted, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)(q * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

#endif
