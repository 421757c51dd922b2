/* eventfeed.c: the event source of the connector benchmark.
 *
 * eventfeed preload --url URL [--events N] [--event-bytes B] [--streams M]
 *                   [--stream-prefix P] [--batch K]
 *   Appends N events of B bytes of JSON data ({"t":...,"pad":"..."}, see
 *   connbench.h) to streams P0 .. P(M-1), K events per request, one request
 *   at a time on one keep-alive connection. Prints one JSON line.
 *
 * eventfeed paced --url URL [--stream S] [--rate R] [--seconds T] [--event-bytes B]
 *                 [--connections C] [--receiver RURL]
 *   Appends R events a second for T seconds, one event per request, to stream S.
 *   Event i is scheduled at start + i/R and carries that scheduled time as "t"
 *   and i as "s". It is sent on the first idle connection of C once due; when
 *   every connection is busy it waits, and its latency still counts from its
 *   scheduled time: a slow server cannot hide its stalls by slowing the
 *   appender down (no coordinated omission). The times each event was sent and
 *   its append was acknowledged (201) are kept. With --receiver, it then waits
 *   for the receiver (receiver.c) to have all R*T events, fetches their receive
 *   times (/_bench/samples) and prints, as one JSON line, exact percentiles of
 *     e2e      receive - scheduled send
 *     ack2recv receive - append acknowledged (what the connector adds)
 *     append   acknowledged - sent
 *     lag      sent - scheduled (how far the appender fell behind)
 *   The receiver must have been reset just before (POST /_bench/reset).
 *   --dump FILE writes every event's times as lines
 *   `seq scheduled sent acknowledged received` (CLOCK_REALTIME µs, 0 = never). */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include "connbench.h"
#include "util/buf.h"

struct options {
    bool is_paced;
    struct cb_url url;
    struct cb_url receiver;
    bool has_receiver;
    long events;
    int event_bytes;
    int streams;
    char stream_prefix[128];
    int batch;
    char stream[128];
    long rate;
    double seconds;
    int connections;
    const char *dump;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: eventfeed preload --url URL [--events N] [--event-bytes B] [--streams M]\n"
               "                         [--stream-prefix P] [--batch K]\n"
               "       eventfeed paced --url URL [--stream S] [--rate R] [--seconds T] [--event-bytes B]\n"
               "                       [--connections C] [--receiver RURL] [--dump FILE]\n");
}

static bool is_name(const char *s, size_t cap)
{
    size_t n = strlen(s);
    return n > 0 && n < cap &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

static bool parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},
        {"events", required_argument, NULL, 'n'},
        {"event-bytes", required_argument, NULL, 'b'},
        {"streams", required_argument, NULL, 'm'},
        {"stream-prefix", required_argument, NULL, 'p'},
        {"batch", required_argument, NULL, 'k'},
        {"stream", required_argument, NULL, 's'},
        {"rate", required_argument, NULL, 'r'},
        {"seconds", required_argument, NULL, 't'},
        {"connections", required_argument, NULL, 'c'},
        {"receiver", required_argument, NULL, 'R'},
        {"dump", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc < 2 || (strcmp(argv[1], "preload") != 0 && strcmp(argv[1], "paced") != 0)) {
        usage(stderr);
        return false;
    }
    o->is_paced = strcmp(argv[1], "paced") == 0;
    bool has_url = false;
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'u':
            has_url = cb_parse_url(optarg, &o->url);
            break;
        case 'R':
            o->has_receiver = cb_parse_url(optarg, &o->receiver);
            if (!o->has_receiver) {
                fprintf(stderr, "eventfeed: --receiver %s: expected http://HOST:PORT\n", optarg);
                return false;
            }
            break;
        case 'n':
            o->events = atol(optarg);
            break;
        case 'b':
            o->event_bytes = atoi(optarg);
            break;
        case 'm':
            o->streams = atoi(optarg);
            break;
        case 'p':
        case 's':
            if (!is_name(optarg, sizeof o->stream)) {
                fprintf(stderr, "eventfeed: %s: expected 1-127 of [A-Za-z0-9._-]\n", optarg);
                return false;
            }
            strcpy(c == 'p' ? o->stream_prefix : o->stream, optarg);
            break;
        case 'k':
            o->batch = atoi(optarg);
            break;
        case 'r':
            o->rate = atol(optarg);
            break;
        case 't':
            o->seconds = atof(optarg);
            break;
        case 'c':
            o->connections = atoi(optarg);
            break;
        case 'D':
            o->dump = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return false;
        }
    }
    if (optind != argc || !has_url || o->events < 1 || o->event_bytes < 0 || o->streams < 1 || o->batch < 1 ||
        o->batch > 10000 || o->rate < 1 || o->rate > 1000000 || !(o->seconds > 0) || o->connections < 1 ||
        o->connections > 1024) {
        usage(stderr);
        return false;
    }
    return true;
}

/* ---- preload ---- */

static int preload(const struct options *o)
{
    int fd = cb_connect(&o->url);
    if (fd < 0) {
        fprintf(stderr, "eventfeed: cannot connect to %s:%s: %s\n", o->url.host, o->url.port,
                strerror(errno));
        return 1;
    }
    struct sl_buf body;
    sl_buf_init(&body);
    struct cb_inbuf in = {0};
    char path[256];
    long written = 0, request = 0;
    int64_t t0 = cb_mono_ns();
    const char *answer = "";
    size_t answer_len = 0;
    while (written < o->events) {
        long k = o->events - written < o->batch ? o->events - written : o->batch;
        sl_buf_reset(&body);
        sl_buf_putc(&body, '[');
        int64_t now = cb_now_us();
        for (long i = 0; i < k; i++) {
            sl_buf_puts(&body, i ? ",{\"eventType\":\"BenchEvent\",\"data\":"
                                 : "{\"eventType\":\"BenchEvent\",\"data\":");
            cb_event_data(&body, now, -1, (size_t)o->event_bytes);
            sl_buf_putc(&body, '}');
        }
        sl_buf_putc(&body, ']');
        if (body.failed) {
            fprintf(stderr, "eventfeed: out of memory\n");
            return 1;
        }
        snprintf(path, sizeof path, "/streams/%s%ld", o->stream_prefix, request % o->streams);
        int status = cb_request(fd, &o->url, "POST", path, body.data, body.len, &in, &answer, &answer_len);
        if (status != 201) {
            fprintf(stderr, "eventfeed: append %ld answered %d: %.*s\n", request, status, (int)answer_len,
                    answer);
            return 1;
        }
        written += k;
        request++;
    }
    double secs = (double)(cb_mono_ns() - t0) / 1e9;
    const char *pos = strstr(answer, "\"position\":");
    printf(
        "{\"events\":%ld,\"requests\":%ld,\"seconds\":%.3f,\"events_per_s\":%.0f,\"last_position\":%lld}\n",
        written, request, secs, (double)written / secs, pos ? atoll(pos + 11) : -1LL);
    sl_buf_free(&body);
    cb_inbuf_free(&in);
    close(fd);
    return 0;
}

/* ---- paced ---- */

struct pconn {
    int fd;
    bool is_busy;
    bool has_epollout;
    long seq;
    struct sl_buf out;
    size_t out_off;
    struct cb_inbuf in;
};

struct paced {
    const struct options *o;
    int ep;
    struct pconn *conns;
    long total;
    int64_t start_us;
    int64_t *sent, *acked;
    long next_due, next_send, n_acked, errors;
};

static int64_t scheduled(const struct paced *p, long i)
{
    return p->start_us + (int64_t)i * 1000000 / p->o->rate;
}

static bool pconn_flush(struct paced *p, struct pconn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0)
            return false;
        c->out_off += (size_t)n;
    }
    bool is_pending = c->out_off < c->out.len;
    if (is_pending != c->has_epollout) {
        struct epoll_event ev = {.events = EPOLLIN | (is_pending ? EPOLLOUT : 0), .data.ptr = c};
        epoll_ctl(p->ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->has_epollout = is_pending;
    }
    return true;
}

static bool pconn_send(struct paced *p, struct pconn *c, long seq)
{
    struct sl_buf data;
    sl_buf_init(&data);
    sl_buf_puts(&data, "[{\"eventType\":\"BenchLive\",\"data\":");
    cb_event_data(&data, scheduled(p, seq), seq, (size_t)p->o->event_bytes);
    sl_buf_puts(&data, "}]");
    sl_buf_reset(&c->out);
    sl_buf_printf(&c->out,
                  "POST /streams/%s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                  "Content-Length: %zu\r\n\r\n",
                  p->o->stream, p->o->url.host, p->o->url.port, data.len);
    sl_buf_append(&c->out, data.data, data.len);
    sl_buf_free(&data);
    if (c->out.failed)
        return false;
    c->out_off = 0;
    c->seq = seq;
    c->is_busy = true;
    p->sent[seq] = cb_now_us();
    return pconn_flush(p, c);
}

/* Connects c (non-blocking once connected) and watches it. */
static bool pconn_open(struct paced *p, struct pconn *c)
{
    c->fd = cb_connect(&p->o->url);
    if (c->fd < 0) {
        fprintf(stderr, "eventfeed: cannot connect to %s:%s: %s\n", p->o->url.host, p->o->url.port,
                strerror(errno));
        return false;
    }
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    c->in.len = 0;
    c->has_epollout = false;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(p->ep, EPOLL_CTL_ADD, c->fd, &ev);
    return true;
}

/* Sends every due event that an idle connection can take; a connection the
 * server closed while idle (its idle or header timeout) is opened again. */
static bool dispatch(struct paced *p)
{
    int64_t now = cb_now_us();
    while (p->next_due < p->total && scheduled(p, p->next_due) <= now)
        p->next_due++;
    for (int i = 0; i < p->o->connections && p->next_send < p->next_due; i++) {
        struct pconn *c = &p->conns[i];
        if (c->is_busy)
            continue;
        if (c->fd < 0 && !pconn_open(p, c))
            return false;
        if (!pconn_send(p, c, p->next_send++))
            return false;
    }
    return true;
}

static bool pconn_read(struct paced *p, struct pconn *c)
{
    for (;;) {
        if (!cb_inbuf_reserve(&c->in, 16384))
            return false;
        ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n == 0 && !c->is_busy && c->in.len == 0) {
            epoll_ctl(p->ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            c->fd = -1;
            return true;
        }
        if (n <= 0)
            return false;
        c->in.len += (size_t)n;
    }
    int status;
    const char *body;
    size_t body_len;
    long total = cb_parse_response(&c->in, &status, &body, &body_len);
    if (total < 0 || (total > 0 && !c->is_busy))
        return false;
    if (total == 0)
        return true;
    p->acked[c->seq] = cb_now_us();
    p->n_acked++;
    if (status != 201 && p->errors++ == 0)
        fprintf(stderr, "eventfeed: append of event %ld answered %d: %.*s\n", c->seq, status, (int)body_len,
                body);
    memmove(c->in.data, c->in.data + total, c->in.len - (size_t)total);
    c->in.len -= (size_t)total;
    c->is_busy = false;
    return true;
}

static void arm(int tfd, int64_t at_us)
{
    struct itimerspec its = {.it_value = {.tv_sec = at_us / 1000000, .tv_nsec = (at_us % 1000000) * 1000}};
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

struct summary {
    int64_t p50, p99, p999, max;
};

static struct summary summarize(int64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cb_cmp_i64);
    return (struct summary){cb_quantile(v, n, 0.5), cb_quantile(v, n, 0.99), cb_quantile(v, n, 0.999),
                            n ? v[n - 1] : 0};
}

static void print_summary(const char *name, struct summary s)
{
    printf(",\"%s_p50_us\":%" PRId64 ",\"%s_p99_us\":%" PRId64 ",\"%s_p999_us\":%" PRId64
           ",\"%s_max_us\":%" PRId64,
           name, s.p50, name, s.p99, name, s.p999, name, s.max);
}

/* Fetches the receive time of every event from the receiver into recv[]; returns how many it has. */
static long fetch_receive_times(const struct options *o, long total, int64_t *recv_us)
{
    int fd = cb_connect(&o->receiver);
    if (fd < 0) {
        fprintf(stderr, "eventfeed: cannot connect to the receiver: %s\n", strerror(errno));
        return -1;
    }
    struct cb_inbuf in = {0};
    const char *body;
    size_t len;
    char path[128];
    snprintf(path, sizeof path, "/_bench/wait?records=%ld&timeout_ms=60000", total);
    long got = -1;
    if (cb_request(fd, &o->receiver, "GET", path, NULL, 0, &in, &body, &len) == 200 &&
        cb_request(fd, &o->receiver, "GET", "/_bench/samples", NULL, 0, &in, &body, &len) == 200) {
        got = 0;
        for (const char *p = body, *end = body + len; p < end;) {
            char *next;
            long seq = strtol(p, &next, 10);
            int64_t t = strtoll(next, &next, 10);
            if (next == p)
                break;
            if (seq >= 0 && seq < total && recv_us[seq] == 0) {
                recv_us[seq] = t;
                got++;
            }
            p = next;
            while (p < end && (*p == '\n' || *p == ' '))
                p++;
        }
    }
    cb_inbuf_free(&in);
    close(fd);
    return got;
}

static int paced(const struct options *o)
{
    struct paced p = {.o = o, .total = (long)((double)o->rate * o->seconds)};
    if (p.total < 1) {
        fprintf(stderr, "eventfeed: --rate x --seconds is less than one event\n");
        return 2;
    }
    p.sent = calloc((size_t)p.total, sizeof *p.sent);
    p.acked = calloc((size_t)p.total, sizeof *p.acked);
    p.conns = calloc((size_t)o->connections, sizeof *p.conns);
    p.ep = epoll_create1(EPOLL_CLOEXEC);
    int tfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    if (p.sent == NULL || p.acked == NULL || p.conns == NULL || p.ep < 0 || tfd < 0) {
        fprintf(stderr, "eventfeed: out of memory\n");
        return 1;
    }
    struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(p.ep, EPOLL_CTL_ADD, tfd, &tev);
    for (int i = 0; i < o->connections; i++) {
        struct pconn *c = &p.conns[i];
        sl_buf_init(&c->out);
        if (!pconn_open(&p, c))
            return 1;
    }

    p.start_us = cb_now_us() + 100000;
    arm(tfd, p.start_us);
    struct epoll_event events[64];
    while (p.n_acked < p.total) {
        if (!dispatch(&p)) {
            fprintf(stderr, "eventfeed: a connection to the server broke\n");
            return 1;
        }
        if (p.next_due < p.total)
            arm(tfd, scheduled(&p, p.next_due));
        int n = epoll_wait(p.ep, events, 64, 30000);
        if (n == 0) {
            fprintf(stderr, "eventfeed: no answer from the server for 30 s\n");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct pconn *c = events[i].data.ptr;
            if (c == NULL) {
                uint64_t expirations;
                if (read(tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
                    return 1;
                continue;
            }
            bool ok = true;
            if (events[i].events & EPOLLOUT)
                ok = pconn_flush(&p, c);
            if (ok && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                ok = pconn_read(&p, c);
            if (!ok) {
                fprintf(stderr, "eventfeed: a connection to the server broke\n");
                return 1;
            }
        }
    }
    int64_t end_us = cb_now_us();
    for (int i = 0; i < o->connections; i++) {
        if (p.conns[i].fd >= 0)
            close(p.conns[i].fd);
        sl_buf_free(&p.conns[i].out);
        cb_inbuf_free(&p.conns[i].in);
    }

    size_t n = (size_t)p.total;
    int64_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    int64_t *recv_us = calloc(n, sizeof *recv_us);
    if (a == NULL || b == NULL || recv_us == NULL)
        return 1;
    for (size_t i = 0; i < n; i++) {
        a[i] = p.acked[i] - p.sent[i];
        b[i] = p.sent[i] - scheduled(&p, (long)i);
    }
    printf("{\"events\":%ld,\"rate\":%ld,\"seconds\":%.3f,\"achieved_per_s\":%.1f,\"connections\":%d,"
           "\"append_errors\":%ld",
           p.total, o->rate, (double)(end_us - p.start_us) / 1e6,
           (double)p.total * 1e6 / (double)(end_us - p.start_us), o->connections, p.errors);
    print_summary("append", summarize(a, n));
    print_summary("lag", summarize(b, n));
    if (o->has_receiver) {
        long got = fetch_receive_times(o, p.total, recv_us);
        FILE *f = o->dump ? fopen(o->dump, "w") : NULL;
        for (size_t i = 0; f && i < n; i++)
            fprintf(f, "%zu %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 "\n", i, scheduled(&p, (long)i),
                    p.sent[i], p.acked[i], recv_us[i]);
        if (f)
            fclose(f);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (recv_us[i] == 0)
                continue;
            a[k] = recv_us[i] - scheduled(&p, (long)i);
            b[k] = recv_us[i] - p.acked[i];
            k++;
        }
        printf(",\"received\":%ld,\"missing\":%ld", got, p.total - (long)k);
        print_summary("e2e", summarize(a, k));
        print_summary("ack2recv", summarize(b, k));
    }
    printf("}\n");
    free(a);
    free(b);
    free(recv_us);
    free(p.sent);
    free(p.acked);
    free(p.conns);
    close(tfd);
    close(p.ep);
    return p.errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct options o = {.events = 100000,
                        .event_bytes = 1024,
                        .streams = 10,
                        .stream_prefix = "bench-",
                        .batch = 1000,
                        .stream = "bench-live",
                        .rate = 1000,
                        .seconds = 20,
                        .connections = 32};
    if (!parse_options(argc, argv, &o))
        return 2;
    return o.is_paced ? paced(&o) : preload(&o);
}
