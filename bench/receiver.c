/* receiver.c: the far end of the connector benchmark: an HTTP/1.1 server that
 * answers every request `200` with `Content-Length: 0`, and counts what came.
 *
 * One thread, epoll, non-blocking sockets, keep-alive and pipelining. A request
 * costs a memmem for the end of its head and one pass over its header lines; a
 * batched body (a JSON array of records, as http-sink sends with
 * batching:maxRecords > 1) costs a memmem per record. So that it is never the
 * bottleneck, it allocates nothing per request and answers every request read
 * in one go with a single send().
 *
 * For every record it reads the log position (the `esdb-record-log-position`
 * header, or the same key in each element of a batch) and counts positions that
 * do not increase (a re-delivery or a reordering), and it reads the send time
 * "t" (CLOCK_REALTIME µs) and sequence number "s" at the start of the event
 * data (see connbench.h): receive time − t goes into a latency histogram, and
 * the receive time of sequence s is kept for `GET /_bench/samples`, so that the
 * appender can join it with the times its appends were acknowledged.
 *
 * Control endpoints, not counted as records:
 *   GET  /_bench/stats                         counters and latency as JSON
 *   GET  /_bench/wait?records=N&timeout_ms=T   the same, once N records came or T ms passed
 *   GET  /_bench/samples                       "seq receive_us" lines
 *   GET  /_bench/head                          the head of the first request since the reset
 *   POST /_bench/reset                         zero everything
 * SIGUSR1 prints the stats on stderr; SIGTERM and SIGINT end it.
 *
 * Usage: receiver [--listen HOST:PORT]   (default 127.0.0.1:0, any free port;
 * the bound address is printed on stdout as `listening on HOST:PORT`) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include <unistd.h>

#include "connbench.h"
#include "util/buf.h"

#define READ_CHUNK 65536
#define MAX_HEAD 65536
#define MAX_WAITERS 16
#define MAX_SAMPLES (1u << 26) /* sequence numbers past this are not kept */
#define HEAD_KEEP 8192

static const char OK_RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
static const char POSITION_KEY[] = "\"esdb-record-log-position\":\"";

/* ---- latency histogram: 64 linear sub-buckets per power of two (~1.6 %) ---- */

#define HIST_SUB_BITS 6
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_BITS 40 /* 2^40 µs ~ 12.7 days: longer is clamped */
#define HIST_LEN ((HIST_MAX_BITS - HIST_SUB_BITS) * HIST_SUB + 2 * HIST_SUB)

struct hist {
    uint64_t counts[HIST_LEN];
    uint64_t total;
    uint64_t max;
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

/* The middle of bucket i's range. */
static uint64_t hist_value(size_t i)
{
    if (i < 2 * HIST_SUB)
        return i;
    int shift = (int)(i / HIST_SUB) - 1;
    uint64_t low = (uint64_t)(i - (size_t)shift * HIST_SUB) << shift;
    return low + (((uint64_t)1 << shift) >> 1);
}

static void hist_record(struct hist *h, uint64_t v)
{
    h->counts[hist_index(v)]++;
    h->total++;
    if (v > h->max)
        h->max = v;
}

static uint64_t hist_quantile(const struct hist *h, double q)
{
    if (h->total == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->total + 0.999999), seen = 0;
    if (rank < 1)
        rank = 1;
    for (size_t i = 0; i < HIST_LEN; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = hist_value(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* ---- state ---- */

struct conn {
    int fd;
    char *in;
    size_t in_len, in_cap;
    struct sl_buf out;
    size_t out_sent;
    bool has_epollout;
    bool is_closing; /* close once `out` is sent */
    bool is_waiting; /* parked in /_bench/wait */
    uint64_t wait_records;
    int64_t wait_deadline_ns;
};

struct counters {
    uint64_t requests; /* sink requests: every request but /_bench/ ones */
    uint64_t records;  /* records in them */
    uint64_t body_bytes;
    uint64_t last_position;
    uint64_t out_of_order;   /* records whose position did not increase */
    uint64_t no_position;    /* records without a position */
    uint64_t batch_mismatch; /* batches whose esdb-batch-size differs from the records counted */
    int64_t first_record_us, last_record_us;
    struct hist latency; /* receive - t, µs; negative values count as 0 */
    int64_t *samples;    /* receive time by sequence number, 0 = not seen */
    size_t samples_cap;
    uint64_t samples_seen;
    char head[HEAD_KEEP];
    size_t head_len;
};

static struct counters stats;
static struct conn *waiters[MAX_WAITERS];
static int epfd;
static volatile sig_atomic_t is_stopping, wants_stats;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        wants_stats = 1;
    else
        is_stopping = 1;
}

static void reset_stats(void)
{
    free(stats.samples);
    memset(&stats, 0, sizeof stats);
}

static void keep_sample(int64_t seq, int64_t now)
{
    if (seq < 0 || (uint64_t)seq >= MAX_SAMPLES)
        return;
    if ((size_t)seq >= stats.samples_cap) {
        size_t cap = stats.samples_cap ? stats.samples_cap : 65536;
        while (cap <= (size_t)seq)
            cap *= 2;
        int64_t *grown = realloc(stats.samples, cap * sizeof *grown);
        if (grown == NULL)
            return;
        memset(grown + stats.samples_cap, 0, (cap - stats.samples_cap) * sizeof *grown);
        stats.samples = grown;
        stats.samples_cap = cap;
    }
    if (stats.samples[seq] == 0)
        stats.samples_seen++;
    stats.samples[seq] = now;
}

/* A decimal at p (before end), or -1. */
static int64_t parse_i64(const char *p, const char *end)
{
    if (p >= end || *p < '0' || *p > '9')
        return -1;
    int64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9')
        v = v * 10 + (*p++ - '0');
    return v;
}

/* Finds "t" and "s" at the start of event data {"t":T,"s":S,...}. */
static void parse_data_prefix(const char *data, const char *end, int64_t *t, int64_t *s)
{
    *t = *s = -1;
    if (end - data > 96)
        end = data + 96;
    const char *p = memmem(data, (size_t)(end - data), "\"t\":", 4);
    if (p)
        *t = parse_i64(p + 4, end);
    p = memmem(data, (size_t)(end - data), "\"s\":", 4);
    if (p)
        *s = parse_i64(p + 4, end);
}

static void count_record(int64_t position, int64_t t, int64_t s, int64_t now)
{
    stats.records++;
    if (position <= 0) {
        stats.no_position++;
    } else {
        if ((uint64_t)position <= stats.last_position)
            stats.out_of_order++;
        stats.last_position = (uint64_t)position;
    }
    if (t > 0)
        hist_record(&stats.latency, now > t ? (uint64_t)(now - t) : 0);
    if (s >= 0)
        keep_sample(s, now);
    if (stats.first_record_us == 0)
        stats.first_record_us = now;
    stats.last_record_us = now;
}

/* A batch body: a JSON array whose elements are {"headers":{..., POSITION_KEY...},
 * "contentType":..., "data":{"t":...}}. Returns the records counted. */
static uint64_t count_batch(const char *body, size_t len, int64_t now)
{
    const char *end = body + len, *p = body;
    uint64_t n = 0;
    while ((p = memmem(p, (size_t)(end - p), POSITION_KEY, sizeof POSITION_KEY - 1)) != NULL) {
        p += sizeof POSITION_KEY - 1;
        int64_t position = parse_i64(p, end), t = -1, s = -1;
        const char *data = memmem(p, (size_t)(end - p), "\"data\":", 7);
        if (data) {
            parse_data_prefix(data + 7, end, &t, &s);
            p = data + 7;
        }
        count_record(position, t, s, now);
        n++;
    }
    return n;
}

/* ---- responses ---- */

static void write_stats(struct sl_buf *b)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 (double)ru.ru_stime.tv_usec / 1e6;
    const struct hist *h = &stats.latency;
    sl_buf_printf(b,
                  "{\"requests\":%" PRIu64 ",\"records\":%" PRIu64 ",\"body_bytes\":%" PRIu64
                  ",\"last_position\":%" PRIu64 ",\"out_of_order\":%" PRIu64 ",\"no_position\":%" PRIu64
                  ",\"batch_mismatch\":%" PRIu64 ",\"first_record_us\":%" PRId64
                  ",\"last_record_us\":%" PRId64 ",\"samples\":%" PRIu64
                  ",\"head_bytes\":%zu,\"cpu_s\":%.3f,\"latency_count\":%" PRIu64
                  ",\"latency_p50_us\":%" PRIu64 ",\"latency_p99_us\":%" PRIu64
                  ",\"latency_p999_us\":%" PRIu64 ",\"latency_max_us\":%" PRIu64 "}\n",
                  stats.requests, stats.records, stats.body_bytes, stats.last_position, stats.out_of_order,
                  stats.no_position, stats.batch_mismatch, stats.first_record_us, stats.last_record_us,
                  stats.samples_seen, stats.head_len, cpu, h->total, hist_quantile(h, 0.5),
                  hist_quantile(h, 0.99), hist_quantile(h, 0.999), h->max);
}

static void respond(struct conn *c, int status, const char *content_type, const char *body, size_t len)
{
    sl_buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n", status,
                  status == 200 ? "OK" : "Error", content_type, len);
    sl_buf_append(&c->out, body, len);
}

static void respond_stats(struct conn *c)
{
    struct sl_buf b;
    sl_buf_init(&b);
    write_stats(&b);
    respond(c, 200, "application/json", b.data ? b.data : "", b.len);
    sl_buf_free(&b);
}

/* The value of query parameter `name` in `query` (up to `end`), or `fallback`. */
static int64_t query_int(const char *query, const char *end, const char *name, int64_t fallback)
{
    size_t n = strlen(name);
    for (const char *p = query ? query + 1 : NULL; p && p < end;) {
        if ((size_t)(end - p) > n && strncmp(p, name, n) == 0 && p[n] == '=') {
            int64_t v = parse_i64(p + n + 1, end);
            return v >= 0 ? v : fallback;
        }
        p = memchr(p, '&', (size_t)(end - p));
        if (p)
            p++;
    }
    return fallback;
}

static bool park(struct conn *c, uint64_t records, int64_t timeout_ms)
{
    for (int i = 0; i < MAX_WAITERS; i++) {
        if (waiters[i] == NULL) {
            waiters[i] = c;
            c->is_waiting = true;
            c->wait_records = records;
            c->wait_deadline_ns = cb_mono_ns() + timeout_ms * 1000000;
            return true;
        }
    }
    return false;
}

/* A request to /_bench/...; `path` runs to `path_end`, the query included. */
static void control(struct conn *c, const char *method, const char *path, const char *path_end)
{
    const char *query = memchr(path, '?', (size_t)(path_end - path));
    size_t name_len = (size_t)((query ? query : path_end) - path);
    bool is_get = strncmp(method, "GET ", 4) == 0;
#define IS(p) (name_len == sizeof(p) - 1 && memcmp(path, p, name_len) == 0)
    if (is_get && IS("/_bench/stats")) {
        respond_stats(c);
    } else if (is_get && IS("/_bench/wait")) {
        uint64_t want = (uint64_t)query_int(query, path_end, "records", 0);
        int64_t timeout_ms = query_int(query, path_end, "timeout_ms", 60000);
        if (stats.records >= want || !park(c, want, timeout_ms))
            respond_stats(c);
    } else if (is_get && IS("/_bench/samples")) {
        struct sl_buf b;
        sl_buf_init(&b);
        for (size_t i = 0; i < stats.samples_cap; i++)
            if (stats.samples[i])
                sl_buf_printf(&b, "%zu %" PRId64 "\n", i, stats.samples[i]);
        respond(c, 200, "text/plain", b.data ? b.data : "", b.len);
        sl_buf_free(&b);
    } else if (is_get && IS("/_bench/head")) {
        respond(c, 200, "text/plain", stats.head, stats.head_len);
    } else if (strncmp(method, "POST ", 5) == 0 && IS("/_bench/reset")) {
        reset_stats();
        respond(c, 200, "application/json", "{}\n", 3);
    } else {
        respond(c, 404, "text/plain", "unknown control endpoint\n", 25);
    }
#undef IS
}

/* ---- requests ---- */

/* Handles the request at the start of c->in[off..]; returns its length, 0 when
 * it is not complete yet, -1 when the connection must close. */
static long handle_one(struct conn *c, size_t off, int64_t now)
{
    const char *start = c->in + off;
    size_t avail = c->in_len - off;
    const char *end = memmem(start, avail, "\r\n\r\n", 4);
    if (end == NULL)
        return avail > MAX_HEAD ? -1 : 0;
    size_t head_len = (size_t)(end - start) + 4;
    const char *line_end = memchr(start, '\r', head_len);
    const char *sp1 = memchr(start, ' ', (size_t)(line_end - start));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
    if (sp2 == NULL)
        return -1;

    uint64_t content_length = 0;
    int64_t position = -1, batch_size = -1;
    bool is_chunked = false;
    for (const char *line = line_end + 2; line < end;) {
        const char *eol = memchr(line, '\r', (size_t)(end + 2 - line));
        size_t len = (size_t)(eol - line);
        const char *colon = memchr(line, ':', len);
        if (colon) {
            size_t name_len = (size_t)(colon - line);
            const char *v = colon + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
#define NAME(n) (name_len == sizeof(n) - 1 && strncasecmp(line, n, name_len) == 0)
            if (NAME("content-length"))
                content_length = (uint64_t)parse_i64(v, eol);
            else if (NAME("esdb-record-log-position"))
                position = parse_i64(v, eol);
            else if (NAME("esdb-batch-size"))
                batch_size = parse_i64(v, eol);
            else if (NAME("transfer-encoding"))
                is_chunked = true;
            else if (NAME("connection") && eol - v >= 5 && strncasecmp(v, "close", 5) == 0)
                c->is_closing = true;
#undef NAME
        }
        line = eol + 2;
    }
    if (is_chunked) {
        respond(c, 501, "text/plain", "chunked bodies are not supported\n", 33);
        c->is_closing = true;
        return (long)avail;
    }
    if (content_length > ((uint64_t)1 << 30))
        return -1;
    if (avail < head_len + content_length) {
        /* Make room for the whole body at once. */
        size_t need = off + head_len + content_length;
        if (need > c->in_cap) {
            char *grown = realloc(c->in, need);
            if (grown == NULL)
                return -1;
            c->in = grown;
            c->in_cap = need;
        }
        return 0;
    }

    const char *body = start + head_len;
    if (strncmp(sp1 + 1, "/_bench/", 8) == 0) {
        control(c, start, sp1 + 1, sp2);
    } else {
        if (stats.requests == 0) {
            stats.head_len = head_len < HEAD_KEEP ? head_len : HEAD_KEEP;
            memcpy(stats.head, start, stats.head_len);
        }
        stats.requests++;
        stats.body_bytes += content_length;
        if (position < 0 && content_length > 0 && body[0] == '[') {
            uint64_t n = count_batch(body, content_length, now);
            if (batch_size >= 0 && (uint64_t)batch_size != n)
                stats.batch_mismatch++;
        } else {
            int64_t t, s;
            parse_data_prefix(body, body + content_length, &t, &s);
            count_record(position, t, s, now);
        }
        sl_buf_append(&c->out, OK_RESPONSE, sizeof OK_RESPONSE - 1);
    }
    return (long)(head_len + content_length);
}

static void conn_close(struct conn *c)
{
    for (int i = 0; i < MAX_WAITERS; i++)
        if (waiters[i] == c)
            waiters[i] = NULL;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in);
    sl_buf_free(&c->out);
    free(c);
}

/* Sends what `out` holds; returns false when the connection is gone. */
static bool conn_flush(struct conn *c)
{
    while (c->out_sent < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0)
            return false;
        c->out_sent += (size_t)n;
    }
    bool is_pending = c->out_sent < c->out.len;
    if (!is_pending) {
        sl_buf_reset(&c->out);
        c->out_sent = 0;
        if (c->is_closing)
            return false;
    }
    if (is_pending != c->has_epollout) {
        struct epoll_event ev = {.events = EPOLLIN | (is_pending ? EPOLLOUT : 0), .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->has_epollout = is_pending;
    }
    return !c->out.failed;
}

/* Handles every complete request buffered on c, then sends the answers. */
static bool conn_process(struct conn *c)
{
    size_t off = 0;
    int64_t now = cb_now_us();
    while (off < c->in_len && !c->is_waiting && !c->is_closing) {
        long n = handle_one(c, off, now);
        if (n < 0)
            return false;
        if (n == 0)
            break;
        off += (size_t)n;
    }
    if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    return conn_flush(c);
}

static bool conn_read(struct conn *c)
{
    for (;;) {
        if (c->in_cap - c->in_len < READ_CHUNK / 4) {
            size_t cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK;
            char *grown = realloc(c->in, cap);
            if (grown == NULL)
                return false;
            c->in = grown;
            c->in_cap = cap;
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0)
            return false;
        c->in_len += (size_t)n;
        if ((size_t)n < c->in_cap - c->in_len + (size_t)n)
            break; /* the socket is drained: a short read */
    }
    return conn_process(c);
}

/* Answers the parked /_bench/wait requests that are due; returns the ms until
 * the next deadline, or -1. */
static int wake_waiters(void)
{
    int64_t now = cb_mono_ns(), next = -1;
    for (int i = 0; i < MAX_WAITERS; i++) {
        struct conn *c = waiters[i];
        if (c == NULL)
            continue;
        if (stats.records >= c->wait_records || now >= c->wait_deadline_ns) {
            waiters[i] = NULL;
            c->is_waiting = false;
            respond_stats(c);
            if (!conn_process(c))
                conn_close(c);
            continue;
        }
        int64_t left = (c->wait_deadline_ns - now) / 1000000 + 1;
        if (next < 0 || left < next)
            next = left;
    }
    return (int)next;
}

static bool parse_listen(const char *s, struct sockaddr_in *addr)
{
    const char *colon = strrchr(s, ':');
    char host[64];
    if (colon == NULL || (size_t)(colon - s) >= sizeof host)
        return false;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        return false;
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &addr->sin_addr) == 1;
}

int main(int argc, char **argv)
{
    const char *listen_at = "127.0.0.1:0";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen_at = argv[++i];
        } else {
            fprintf(stderr, "usage: receiver [--listen HOST:PORT]\n");
            return 2;
        }
    }
    struct sockaddr_in addr;
    if (!parse_listen(listen_at, &addr)) {
        fprintf(stderr, "receiver: --listen %s: expected IPv4:PORT\n", listen_at);
        return 2;
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t alen = sizeof addr;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 1024) != 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0) {
        fprintf(stderr, "receiver: cannot listen on %s: %s\n", listen_at, strerror(errno));
        return 1;
    }
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &addr.sin_addr, host, sizeof host);
    printf("listening on %s:%d\n", host, ntohs(addr.sin_port));
    fflush(stdout);

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);
    struct epoll_event events[64];
    int timeout = -1;
    while (!is_stopping) {
        int n = epoll_wait(epfd, events, 64, timeout);
        if (n < 0 && errno != EINTR) {
            perror("receiver: epoll_wait");
            return 1;
        }
        if (wants_stats) {
            wants_stats = 0;
            struct sl_buf b;
            sl_buf_init(&b);
            write_stats(&b);
            fputs(b.data ? b.data : "", stderr);
            sl_buf_free(&b);
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *nc = calloc(1, sizeof *nc);
                    if (nc == NULL) {
                        close(fd);
                        continue;
                    }
                    nc->fd = fd;
                    sl_buf_init(&nc->out);
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            bool is_alive = true;
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                is_alive = conn_read(c);
            else if (events[i].events & EPOLLOUT)
                is_alive = conn_flush(c);
            if (!is_alive)
                conn_close(c);
        }
        timeout = wake_waiters();
    }
    close(lfd);
    return 0;
}
