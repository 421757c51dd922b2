/* loadgen.c: a small HTTP/1.1 load generator for sluice's append endpoint.
 *
 * N clients, each one keep-alive connection, each with at most one request in
 * flight (no pipelining). A request is `POST /streams/{stream}` with a JSON
 * array of K events of about B bytes of `data` each and a fresh eventId per
 * event. One thread drives every connection with epoll and non-blocking
 * sockets, so the generator costs at most one core; it reports its own CPU time
 * so a reader can tell how much of the machine it took from the server.
 *
 * Latency is measured per request from the first byte sent to the last byte of
 * the response, and kept in a log-bucket histogram (HDR-like: 64 linear
 * sub-buckets per power of two, so a percentile is within ~1.6 %).
 *
 * Usage: loadgen --url http://127.0.0.1:2113 [--clients N] [--duration S]
 *                [--events-per-request K] [--event-bytes B] [--streams M]
 *                [--stream-prefix P] [--path P --expect-status S] [--json]
 * --path sends the very same requests elsewhere: with `--path /health/ready
 * --expect-status 405` the server reads each request and answers without
 * parsing or storing it, which measures the HTTP floor under the same load.
 * --streams 0 (the default) gives every client a stream of its own; M > 0
 * makes client i append to shared stream i % M. Expected-Revision is `any`.
 * Exit status: 0 when at least one append succeeded and none failed, 1 when
 * some failed, 2 on bad usage or when nothing could be sent. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/codec.h"

#include "fastid.h"

/* ---- latency histogram ---- */

#define HIST_SUB_BITS 6
#define HIST_SUB (1u << HIST_SUB_BITS) /* 64 sub-buckets per power of two */
#define HIST_MAX_BITS 44               /* 2^44 ns ~ 4.9 h: anything longer is clamped */
#define HIST_LEN ((HIST_MAX_BITS - HIST_SUB_BITS) * HIST_SUB + 2 * HIST_SUB)

struct hist {
    uint64_t counts[HIST_LEN];
    uint64_t total;
    uint64_t min_ns;
    uint64_t max_ns;
    long double sum_ns;
};

static size_t hist_index(uint64_t v)
{
    if (v < 2 * HIST_SUB)
        return (size_t)v;
    if (v >= ((uint64_t)1 << HIST_MAX_BITS))
        v = ((uint64_t)1 << HIST_MAX_BITS) - 1;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - HIST_SUB_BITS;
    return (size_t)shift * HIST_SUB + (size_t)(v >> shift);
}

/* The middle of bucket `i`'s value range. */
static uint64_t hist_value(size_t i)
{
    if (i < 2 * HIST_SUB)
        return i;
    int shift = (int)(i / HIST_SUB) - 1;
    uint64_t low = (uint64_t)(i - (size_t)shift * HIST_SUB) << shift;
    return low + (((uint64_t)1 << shift) >> 1);
}

static void hist_record(struct hist *h, uint64_t ns)
{
    h->counts[hist_index(ns)]++;
    if (h->total == 0 || ns < h->min_ns)
        h->min_ns = ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
    h->total++;
    h->sum_ns += ns;
}

/* The value at quantile q (0 < q <= 1), in nanoseconds; 0 when empty. */
static uint64_t hist_quantile(const struct hist *h, double q)
{
    if (h->total == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->total + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < HIST_LEN; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = hist_value(i);
            return v > h->max_ns ? h->max_ns : v;
        }
    }
    return h->max_ns;
}

/* ---- event ids ---- */

static struct fastid ids;

/* ---- options ---- */

struct options {
    char host[256];
    char port[16];
    int clients;
    double duration_s;
    int events_per_request;
    int event_bytes;
    int streams; /* 0 = one stream per client */
    char stream_prefix[128];
    char path[256];    /* "" = /streams/{stream} */
    int expect_status; /* the answer that counts as success */
    bool is_json;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: loadgen --url http://HOST:PORT [--clients N] [--duration S]\n"
               "               [--events-per-request K] [--event-bytes B] [--streams M]\n"
               "               [--stream-prefix P] [--json]\n"
               "  --clients N              concurrent keep-alive connections (default 16)\n"
               "  --duration S             seconds to send for (default 10)\n"
               "  --events-per-request K   events in each append (default 1)\n"
               "  --event-bytes B          bytes of each event's JSON data (default 1024)\n"
               "  --streams M              0: a stream per client (default); M: M shared streams\n"
               "  --stream-prefix P        stream names are P-c<i> or P-s<i> (default bench-<pid>)\n"
               "  --path P                 send the same requests to path P instead of /streams/{stream}\n"
               "  --expect-status S        the status that counts as success (default 201)\n"
               "  --json                   print one JSON line instead of the text report\n");
}

static bool parse_url(const char *url, struct options *o)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) != 0)
        return false;
    p += 7;
    const char *end = p + strcspn(p, "/");
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *host_end = colon ? colon : end;
    size_t host_len = (size_t)(host_end - p);
    if (host_len == 0 || host_len >= sizeof o->host)
        return false;
    memcpy(o->host, p, host_len);
    o->host[host_len] = '\0';
    if (colon) {
        size_t port_len = (size_t)(end - colon - 1);
        if (port_len == 0 || port_len >= sizeof o->port)
            return false;
        memcpy(o->port, colon + 1, port_len);
        o->port[port_len] = '\0';
    } else {
        strcpy(o->port, "80");
    }
    return true;
}

static bool parse_int(const char *s, int min, int max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max)
        return false;
    *out = (int)v;
    return true;
}

static bool parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},
        {"clients", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'},
        {"events-per-request", required_argument, NULL, 'k'},
        {"event-bytes", required_argument, NULL, 'b'},
        {"streams", required_argument, NULL, 'm'},
        {"stream-prefix", required_argument, NULL, 'p'},
        {"path", required_argument, NULL, 't'},
        {"expect-status", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool has_url = false;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'u':
            if (!parse_url(optarg, o)) {
                fprintf(stderr, "loadgen: --url %s: expected http://HOST:PORT\n", optarg);
                return false;
            }
            has_url = true;
            break;
        case 'c':
            if (!parse_int(optarg, 1, 100000, &o->clients)) {
                fprintf(stderr, "loadgen: --clients %s: expected 1..100000\n", optarg);
                return false;
            }
            break;
        case 'd':
            o->duration_s = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(o->duration_s > 0) || o->duration_s > 86400) {
                fprintf(stderr, "loadgen: --duration %s: expected seconds > 0\n", optarg);
                return false;
            }
            break;
        case 'k':
            if (!parse_int(optarg, 1, 10000, &o->events_per_request)) {
                fprintf(stderr, "loadgen: --events-per-request %s: expected 1..10000\n", optarg);
                return false;
            }
            break;
        case 'b':
            if (!parse_int(optarg, 0, 8 << 20, &o->event_bytes)) {
                fprintf(stderr, "loadgen: --event-bytes %s: expected 0..8388608\n", optarg);
                return false;
            }
            break;
        case 'm':
            if (!parse_int(optarg, 0, 1000000, &o->streams)) {
                fprintf(stderr, "loadgen: --streams %s: expected 0..1000000\n", optarg);
                return false;
            }
            break;
        case 'p':
            if (strlen(optarg) == 0 || strlen(optarg) >= sizeof o->stream_prefix ||
                strspn(optarg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
                    strlen(optarg)) {
                fprintf(stderr, "loadgen: --stream-prefix %s: expected 1-127 of [A-Za-z0-9._-]\n", optarg);
                return false;
            }
            strcpy(o->stream_prefix, optarg);
            break;
        case 't':
            if (optarg[0] != '/' || strlen(optarg) >= sizeof o->path || strpbrk(optarg, " \r\n") != NULL) {
                fprintf(stderr, "loadgen: --path %s: expected an absolute path without spaces\n", optarg);
                return false;
            }
            strcpy(o->path, optarg);
            break;
        case 's':
            if (!parse_int(optarg, 100, 599, &o->expect_status)) {
                fprintf(stderr, "loadgen: --expect-status %s: expected 100..599\n", optarg);
                return false;
            }
            break;
        case 'j':
            o->is_json = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return false;
        }
    }
    if (optind != argc || !has_url) {
        usage(stderr);
        return false;
    }
    return true;
}

/* ---- clients ---- */

enum client_state { C_IDLE, C_CONNECTING, C_SENDING, C_RECEIVING, C_BACKOFF };

struct client {
    int index;
    int fd;
    enum client_state state;
    char *req; /* the whole request, headers and body; only the event ids change */
    size_t req_len;
    size_t sent;
    size_t *id_at; /* offsets of the events' 36-char ids in req */
    size_t n_ids;
    char *rbuf; /* response bytes */
    size_t rlen, rcap;
    uint64_t started_ns;
    uint64_t retry_at_ns;
};

struct run {
    struct options opt;
    struct addrinfo *addr;
    int ep;
    struct client *clients;
    bool is_stopping;
    size_t busy; /* clients not idle */
    struct hist hist;
    uint64_t ok;
    uint64_t failed_status[600]; /* non-201 answers by status */
    uint64_t conn_errors;
    uint64_t ok_at_any_time; /* successes, for the exit status */
    char first_error[320];
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Builds client `c`'s request with placeholder ids and remembers where they are. */
static bool build_request(struct run *r, struct client *c)
{
    const struct options *o = &r->opt;
    struct sl_buf body, req;
    sl_buf_init(&body);
    sl_buf_init(&req);
    size_t pad = o->event_bytes > 16 ? (size_t)o->event_bytes - 16 : 0; /* {"pad":"...","n":0} */
    c->id_at = calloc((size_t)o->events_per_request, sizeof *c->id_at);
    char *filler = malloc(pad + 1);
    if (c->id_at == NULL || filler == NULL) {
        free(filler);
        return false;
    }
    for (size_t i = 0; i < pad; i++)
        filler[i] = (char)('a' + i % 26);
    filler[pad] = '\0';
    c->n_ids = (size_t)o->events_per_request;
    sl_buf_putc(&body, '[');
    for (int i = 0; i < o->events_per_request; i++) {
        if (i > 0)
            sl_buf_putc(&body, ',');
        sl_buf_puts(&body, "{\"eventId\":\"");
        c->id_at[i] = body.len;
        sl_buf_puts(&body, "00000000-0000-4000-8000-000000000000");
        sl_buf_printf(&body, "\",\"eventType\":\"bench-event\",\"data\":{\"pad\":\"%s\",\"n\":%d}}", filler,
                      i % 10);
    }
    sl_buf_putc(&body, ']');
    free(filler);

    char stream[192];
    if (o->streams == 0)
        snprintf(stream, sizeof stream, "%s-c%d", o->stream_prefix, c->index);
    else
        snprintf(stream, sizeof stream, "%s-s%d", o->stream_prefix, c->index % o->streams);
    sl_buf_printf(&req,
                  "POST %s%s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                  "Expected-Revision: any\r\nContent-Length: %zu\r\n\r\n",
                  o->path[0] ? o->path : "/streams/", o->path[0] ? "" : stream, o->host, o->port, body.len);
    size_t head = req.len;
    sl_buf_append(&req, body.data, body.len);
    bool failed = body.failed || req.failed;
    sl_buf_free(&body);
    if (failed) {
        sl_buf_free(&req);
        return false;
    }
    for (size_t i = 0; i < c->n_ids; i++)
        c->id_at[i] += head;
    c->req = sl_buf_steal(&req, &c->req_len);
    return c->req != NULL;
}

static void client_close(struct run *r, struct client *c)
{
    if (c->fd >= 0) {
        epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
}

static void set_idle(struct run *r, struct client *c)
{
    if (c->state != C_IDLE)
        r->busy--;
    c->state = C_IDLE;
}

static void set_busy(struct run *r, struct client *c, enum client_state s)
{
    if (c->state == C_IDLE)
        r->busy++;
    c->state = s;
}

/* A connection failed or broke: count it, close, and retry in 100 ms. */
static void client_fail(struct run *r, struct client *c, const char *what, int err)
{
    r->conn_errors++;
    if (r->first_error[0] == '\0')
        snprintf(r->first_error, sizeof r->first_error, "%s: %s", what, strerror(err));
    client_close(r, c);
    if (r->is_stopping) {
        set_idle(r, c);
        return;
    }
    set_busy(r, c, C_BACKOFF);
    c->retry_at_ns = now_ns() + 100000000u;
}

static void client_drive(struct run *r, struct client *c);

static void client_connect(struct run *r, struct client *c)
{
    c->fd =
        socket(r->addr->ai_family, r->addr->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, r->addr->ai_protocol);
    if (c->fd < 0) {
        client_fail(r, c, "socket", errno);
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(r->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        client_fail(r, c, "epoll_ctl", errno);
        return;
    }
    c->rlen = 0;
    if (connect(c->fd, r->addr->ai_addr, r->addr->ai_addrlen) != 0 && errno != EINPROGRESS) {
        client_fail(r, c, "connect", errno);
        return;
    }
    set_busy(r, c, C_CONNECTING);
}

/* Starts the next request on an open connection, or goes idle when stopping. */
static void client_start_request(struct run *r, struct client *c)
{
    if (r->is_stopping) {
        set_idle(r, c);
        return;
    }
    for (size_t i = 0; i < c->n_ids; i++)
        fastid_uuid_text(&ids, c->req + c->id_at[i]);
    c->sent = 0;
    c->rlen = 0;
    c->started_ns = now_ns();
    set_busy(r, c, C_SENDING);
    client_drive(r, c);
}

/* Case-insensitive search for header `name` (with the colon) in the header block. */
static const char *find_header(const char *head, size_t head_len, const char *name)
{
    size_t n = strlen(name);
    const char *p = memchr(head, '\n', head_len);
    const char *end = head + head_len;
    while (p != NULL && p + 1 + n <= end) {
        p++;
        if (strncasecmp(p, name, n) == 0) {
            p += n;
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            return p;
        }
        p = memchr(p, '\n', (size_t)(end - p));
    }
    return NULL;
}

/* Whether a chunked body starting at `b` is complete; sets *used to its length. */
static bool chunked_complete(const char *b, size_t len, size_t *used)
{
    size_t at = 0;
    for (;;) {
        const char *crlf = memmem(b + at, len - at, "\r\n", 2);
        if (crlf == NULL)
            return false;
        unsigned long size = strtoul(b + at, NULL, 16);
        at = (size_t)(crlf - b) + 2;
        if (size == 0) {
            /* trailers end with an empty line */
            const char *fin = memmem(b + at - 2, len - (at - 2), "\r\n\r\n", 4);
            if (fin == NULL)
                return false;
            *used = (size_t)(fin - b) + 4;
            return true;
        }
        if (len - at < size + 2)
            return false;
        at += size + 2;
    }
}

/* Checks whether the response in c->rbuf is complete (`is_eof`: the peer
 * closed after it); when it is, records it and returns true. *keep_alive says whether the connection may be
 * reused. */
static bool response_complete(struct run *r, struct client *c, bool is_eof, bool *keep_alive)
{
    const char *hend = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
    if (hend == NULL)
        return false;
    size_t head_len = (size_t)(hend - c->rbuf) + 4;
    int status = 0;
    if (c->rlen < 12 || strncmp(c->rbuf, "HTTP/1.", 7) != 0 || sscanf(c->rbuf + 9, "%3d", &status) != 1)
        status = 0;
    const char *te = find_header(c->rbuf, head_len, "transfer-encoding:");
    const char *cl = find_header(c->rbuf, head_len, "content-length:");
    const char *conn = find_header(c->rbuf, head_len, "connection:");
    size_t body_len = 0;
    if (te != NULL && strncasecmp(te, "chunked", 7) == 0) {
        if (!chunked_complete(c->rbuf + head_len, c->rlen - head_len, &body_len))
            return false;
    } else if (cl != NULL) {
        body_len = (size_t)strtoull(cl, NULL, 10);
        if (c->rlen - head_len < body_len)
            return false;
    } else if (status >= 200 && status != 204 && status != 304) {
        if (!is_eof)
            return false; /* the body runs to the close */
        body_len = c->rlen - head_len;
    }
    *keep_alive = !(conn != NULL && strncasecmp(conn, "close", 5) == 0);

    uint64_t t = now_ns() - c->started_ns;
    if (status == r->opt.expect_status) {
        r->ok++;
        r->ok_at_any_time++;
        hist_record(&r->hist, t);
    } else {
        r->failed_status[status > 0 && status < 600 ? status : 0]++;
        if (r->first_error[0] == '\0') {
            size_t show = body_len < 256 ? body_len : 256;
            snprintf(r->first_error, sizeof r->first_error, "HTTP %d: %.*s", status, (int)show,
                     c->rbuf + head_len);
        }
    }
    return true;
}

/* Advances client `c` as far as its socket allows (edge-triggered). */
static void client_drive(struct run *r, struct client *c)
{
    if (c->state == C_CONNECTING) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
            soerr = errno;
        if (soerr == EINPROGRESS || soerr == EALREADY)
            return;
        if (soerr != 0) {
            client_fail(r, c, "connect", soerr);
            return;
        }
        /* connected only when writable; a zero SO_ERROR before that means still in progress */
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        if (getpeername(c->fd, (struct sockaddr *)&peer, &plen) != 0)
            return;
        client_start_request(r, c);
        return;
    }
    while (c->state == C_SENDING) {
        ssize_t n = send(c->fd, c->req + c->sent, c->req_len - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            client_fail(r, c, "send", errno);
            return;
        }
        c->sent += (size_t)n;
        if (c->sent == c->req_len)
            c->state = C_RECEIVING;
    }
    while (c->state == C_RECEIVING) {
        if (c->rcap - c->rlen < 4096) {
            size_t cap = c->rcap ? c->rcap * 2 : 16384;
            char *nb = realloc(c->rbuf, cap);
            if (nb == NULL) {
                client_fail(r, c, "realloc", ENOMEM);
                return;
            }
            c->rbuf = nb;
            c->rcap = cap;
        }
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen - 1, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            client_fail(r, c, "recv", errno);
            return;
        }
        if (n == 0) {
            bool keep = false;
            if (!response_complete(r, c, true, &keep)) {
                client_fail(r, c, "recv", ECONNRESET);
                return;
            }
            client_close(r, c);
            if (r->is_stopping)
                set_idle(r, c);
            else
                client_connect(r, c);
            return;
        }
        c->rlen += (size_t)n;
        c->rbuf[c->rlen] = '\0';
        bool keep = true;
        if (response_complete(r, c, false, &keep)) {
            if (keep) {
                client_start_request(r, c);
            } else {
                client_close(r, c);
                if (r->is_stopping)
                    set_idle(r, c);
                else
                    client_connect(r, c);
            }
            return;
        }
    }
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static void report(const struct run *r, double elapsed_s, double cpu_s)
{
    const struct options *o = &r->opt;
    uint64_t failed = r->conn_errors;
    for (int s = 0; s < 600; s++)
        failed += r->failed_status[s];
    double rps = (double)r->ok / elapsed_s;
    double eps = rps * o->events_per_request;
    double mean = r->hist.total ? (double)(r->hist.sum_ns / r->hist.total) : 0;
    if (o->is_json) {
        printf("{\"clients\":%d,\"events_per_request\":%d,\"event_bytes\":%d,\"streams\":%d,"
               "\"elapsed_s\":%.3f,\"requests\":%" PRIu64 ",\"events\":%" PRIu64 ",\"errors\":%" PRIu64
               ",\"connection_errors\":%" PRIu64 ",\"requests_per_s\":%.1f,\"events_per_s\":%.1f,"
               "\"mean_ms\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,"
               "\"loadgen_cpu_s\":%.2f}\n",
               o->clients, o->events_per_request, o->event_bytes, o->streams, elapsed_s, r->ok,
               r->ok * (uint64_t)o->events_per_request, failed, r->conn_errors, rps, eps, mean / 1e6,
               ms(hist_quantile(&r->hist, 0.50)), ms(hist_quantile(&r->hist, 0.99)),
               ms(hist_quantile(&r->hist, 0.999)), ms(r->hist.max_ns), cpu_s);
    } else {
        printf("clients %d, %d event(s) of %d B per request, %s, %.2f s\n", o->clients, o->events_per_request,
               o->event_bytes, o->streams ? "shared streams" : "a stream per client", elapsed_s);
        if (o->streams)
            printf("  streams:      %d shared\n", o->streams);
        printf("  requests/s:   %.1f (%" PRIu64 " appends answered 201)\n", rps, r->ok);
        printf("  events/s:     %.1f\n", eps);
        printf("  latency ms:   p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n",
               ms(hist_quantile(&r->hist, 0.50)), ms(hist_quantile(&r->hist, 0.99)),
               ms(hist_quantile(&r->hist, 0.999)), ms(r->hist.max_ns), mean / 1e6);
        printf("  errors:       %" PRIu64 " (connection %" PRIu64 ")\n", failed, r->conn_errors);
        for (int s = 0; s < 600; s++)
            if (r->failed_status[s])
                printf("    status %d: %" PRIu64 "\n", s, r->failed_status[s]);
        printf("  loadgen cpu:  %.2f s (%.0f %% of one core)\n", cpu_s, 100.0 * cpu_s / elapsed_s);
    }
    if (r->first_error[0] != '\0')
        fprintf(stderr, "loadgen: first error: %s\n", r->first_error);
}

int main(int argc, char **argv)
{
    static struct run run; /* the histogram is large: keep it off the stack */
    struct run *r = &run;
    struct options *o = &r->opt;
    o->clients = 16;
    o->duration_s = 10;
    o->events_per_request = 1;
    o->expect_status = 201;
    o->event_bytes = 1024;
    snprintf(o->stream_prefix, sizeof o->stream_prefix, "bench-%ld-%ld", (long)getpid(), (long)time(NULL));
    if (!parse_options(argc, argv, o))
        return 2;
    signal(SIGPIPE, SIG_IGN);
    fastid_seed(&ids);

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int gai = getaddrinfo(o->host, o->port, &hints, &r->addr);
    if (gai != 0) {
        fprintf(stderr, "loadgen: %s:%s: %s\n", o->host, o->port, gai_strerror(gai));
        return 2;
    }
    r->ep = epoll_create1(EPOLL_CLOEXEC);
    r->clients = calloc((size_t)o->clients, sizeof *r->clients);
    if (r->ep < 0 || r->clients == NULL) {
        fprintf(stderr, "loadgen: cannot set up: %s\n", strerror(errno));
        return 2;
    }
    for (int i = 0; i < o->clients; i++) {
        struct client *c = &r->clients[i];
        c->index = i;
        c->fd = -1;
        c->state = C_IDLE;
        if (!build_request(r, c)) {
            fprintf(stderr, "loadgen: out of memory building requests\n");
            return 2;
        }
    }

    double cpu0 = cpu_seconds();
    uint64_t start = now_ns();
    uint64_t deadline = start + (uint64_t)(o->duration_s * 1e9);
    uint64_t grace_end = 0;
    for (int i = 0; i < o->clients; i++)
        client_connect(r, &r->clients[i]);

    struct epoll_event evs[256];
    for (;;) {
        uint64_t now = now_ns();
        if (!r->is_stopping && now >= deadline) {
            r->is_stopping = true;
            grace_end = now + 30000000000u; /* in-flight requests get 30 s to finish */
            for (int i = 0; i < o->clients; i++) {
                struct client *c = &r->clients[i];
                if (c->state == C_BACKOFF || c->state == C_CONNECTING) {
                    client_close(r, c);
                    set_idle(r, c);
                }
            }
        }
        if (r->is_stopping && (r->busy == 0 || now >= grace_end))
            break;
        uint64_t next = r->is_stopping ? grace_end : deadline;
        for (int i = 0; i < o->clients; i++) {
            struct client *c = &r->clients[i];
            if (c->state != C_BACKOFF)
                continue;
            if (c->retry_at_ns <= now)
                client_connect(r, c);
            else if (c->retry_at_ns < next)
                next = c->retry_at_ns;
        }
        int timeout_ms = next > now ? (int)((next - now + 999999) / 1000000) : 0;
        int n = epoll_wait(r->ep, evs, 256, timeout_ms);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "loadgen: epoll_wait: %s\n", strerror(errno));
            return 2;
        }
        for (int i = 0; i < n; i++) {
            struct client *c = evs[i].data.ptr;
            if (c->fd < 0)
                continue;
            client_drive(r, c);
        }
    }
    uint64_t end = now_ns();
    double cpu_s = cpu_seconds() - cpu0;
    report(r, (double)(end - start) / 1e9, cpu_s);

    for (int i = 0; i < o->clients; i++) {
        client_close(r, &r->clients[i]);
        free(r->clients[i].req);
        free(r->clients[i].id_at);
        free(r->clients[i].rbuf);
    }
    free(r->clients);
    freeaddrinfo(r->addr);
    close(r->ep);

    uint64_t failed = r->conn_errors;
    for (int s = 0; s < 600; s++)
        failed += r->failed_status[s];
    if (r->ok_at_any_time == 0)
        return 2;
    return failed ? 1 : 0;
}
