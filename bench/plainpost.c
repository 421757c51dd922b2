/* plainpost.c: the baseline of the connector benchmark: a plain HTTP/1.1
 * client that POSTs the same body with the headers an http-sink request
 * carries, on one keep-alive connection, one request at a time, for a fixed
 * time. Its request rate is what the receiver sustains from a simple client:
 * the connector's per-event delivery is reported as a fraction of it.
 *
 * The request is built once and sent with one send() each time; the answer is
 * read with blocking recv() until its head and Content-Length body are in. No
 * library sits between the loop and the socket, so the rate is about as high
 * as one connection with one request in flight gets on this machine.
 *
 * --records-per-request 1 (the default): the body is one event's data
 * ({"t":...,"pad":"..."}, --event-bytes long) with Content-Type and the
 * esdb-* headers of http-sink with batching:maxRecords=1. K > 1: the body is a
 * JSON array of K records in the sink's batch form
 * ({"headers":{...},"contentType":...,"data":...}) with esdb-batch-size: K.
 *
 * Usage: plainpost --url http://HOST:PORT/PATH [--seconds S] [--event-bytes B]
 *                  [--records-per-request K] [--json]
 * Prints requests/s, records/s, the per-request round trip (p50, p99) and the
 * client's own CPU time per request. */
#include <getopt.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connbench.h"
#include "util/buf.h"
#include "util/version.h"

struct options {
    struct cb_url url;
    double seconds;
    int event_bytes;
    int records;
    bool is_json;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: plainpost --url http://HOST:PORT/PATH [--seconds S] [--event-bytes B]\n"
               "                 [--records-per-request K] [--json]\n");
}

static bool parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},
        {"seconds", required_argument, NULL, 's'},
        {"event-bytes", required_argument, NULL, 'b'},
        {"records-per-request", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool has_url = false;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'u':
            has_url = cb_parse_url(optarg, &o->url);
            if (!has_url) {
                fprintf(stderr, "plainpost: --url %s: expected http://HOST:PORT/PATH\n", optarg);
                return false;
            }
            break;
        case 's':
            o->seconds = atof(optarg);
            break;
        case 'b':
            o->event_bytes = atoi(optarg);
            break;
        case 'k':
            o->records = atoi(optarg);
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
    if (optind != argc || !has_url || !(o->seconds > 0) || o->event_bytes < 0 || o->records < 1 ||
        o->records > 100000) {
        usage(stderr);
        return false;
    }
    return true;
}

/* Fills h with the esdb-* headers of record i as http-sink sends them (see
 * src/connectors/records.c); returns how many. */
struct header {
    const char *name;
    char value[64];
};

static size_t record_headers(struct header *h, long i)
{
    static const char *const names[] = {
        "esdb-connector-id",           "esdb-request-id",
        "esdb-request-date",           "esdb-record-id",
        "esdb-record-timestamp",       "esdb-record-stream-id",
        "esdb-record-stream-revision", "esdb-record-log-position",
        "esdb-record-schema-subject",  "esdb-record-schema-type",
    };
    static const char *const values[] = {
        "bench-single",
        "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
        "2026-11-25T15:45:32.123456Z",
        "6fa459ea-ee8a-4ca4-894e-db77e160355e",
        "2026-11-25T15:45:30.654321Z",
        "bench-7",
        NULL,
        NULL,
        "BenchEvent",
        "Json",
    };
    size_t n = sizeof names / sizeof names[0];
    for (size_t k = 0; k < n; k++) {
        h[k].name = names[k];
        if (values[k])
            snprintf(h[k].value, sizeof h[k].value, "%s", values[k]);
        else
            snprintf(h[k].value, sizeof h[k].value, "%ld", k == 6 ? 10000 + i : 100000 + i);
    }
    return n;
}

static bool build_request(const struct options *o, struct sl_buf *req)
{
    struct sl_buf body, data;
    sl_buf_init(&body);
    sl_buf_init(&data);
    cb_event_data(&data, cb_now_us(), -1, (size_t)o->event_bytes);
    struct header h[16];
    if (o->records == 1) {
        sl_buf_append(&body, data.data, data.len);
    } else {
        sl_buf_putc(&body, '[');
        for (int i = 0; i < o->records; i++) {
            size_t n = record_headers(h, i);
            sl_buf_puts(&body, i ? ",{\"headers\":{" : "{\"headers\":{");
            for (size_t k = 0; k < n; k++)
                sl_buf_printf(&body, "%s\"%s\":\"%s\"", k ? "," : "", h[k].name, h[k].value);
            sl_buf_puts(&body, "},\"contentType\":\"application/json\",\"data\":");
            sl_buf_append(&body, data.data, data.len);
            sl_buf_putc(&body, '}');
        }
        sl_buf_putc(&body, ']');
    }
    /* The head curl writes for http-sink: request line, Host, User-Agent, Accept, then the sink's headers. */
    sl_buf_printf(req, "POST %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: sluice/%s\r\nAccept: */*\r\n",
                  o->url.path, o->url.host, o->url.port, SL_VERSION);
    sl_buf_puts(req, "Content-Type: application/json\r\n");
    if (o->records == 1) {
        size_t n = record_headers(h, 0);
        for (size_t k = 0; k < n; k++)
            sl_buf_printf(req, "%s: %s\r\n", h[k].name, h[k].value);
    } else {
        sl_buf_printf(req, "esdb-batch-size: %d\r\n", o->records);
    }
    sl_buf_printf(req, "Content-Length: %zu\r\n\r\n", body.len);
    sl_buf_append(req, body.data, body.len);
    bool ok = !body.failed && !data.failed && !req->failed;
    sl_buf_free(&body);
    sl_buf_free(&data);
    return ok;
}

int main(int argc, char **argv)
{
    struct options o = {.seconds = 5, .event_bytes = 1024, .records = 1};
    if (!parse_options(argc, argv, &o))
        return 2;
    struct sl_buf req;
    sl_buf_init(&req);
    if (!build_request(&o, &req)) {
        fprintf(stderr, "plainpost: out of memory\n");
        return 1;
    }
    int fd = cb_connect(&o.url);
    if (fd < 0) {
        fprintf(stderr, "plainpost: cannot connect to %s:%s: %s\n", o.url.host, o.url.port, strerror(errno));
        return 1;
    }
    size_t cap = 1 << 20, n = 0;
    int64_t *rtt = malloc(cap * sizeof *rtt);
    struct cb_inbuf in = {0};
    long errors = 0;
    int64_t t0 = cb_mono_ns(), stop = t0 + (int64_t)(o.seconds * 1e9), now = t0;
    while (now < stop && rtt) {
        int64_t sent = now;
        if (!cb_send_all(fd, req.data, req.len)) {
            fprintf(stderr, "plainpost: send: %s\n", strerror(errno));
            return 1;
        }
        const char *body;
        size_t body_len;
        int status = cb_read_response(fd, &in, &body, &body_len);
        if (status < 0) {
            fprintf(stderr, "plainpost: the connection broke after %zu requests\n", n);
            return 1;
        }
        if (status < 200 || status > 299)
            errors++;
        now = cb_mono_ns();
        if (n == cap) {
            int64_t *grown = realloc(rtt, 2 * cap * sizeof *rtt);
            if (grown == NULL)
                break;
            rtt = grown;
            cap *= 2;
        }
        rtt[n++] = now - sent;
    }
    double secs = (double)(now - t0) / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                   (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    qsort(rtt, n, sizeof *rtt, cb_cmp_i64);
    double rps = (double)n / secs;
    if (o.is_json)
        printf("{\"requests\":%zu,\"seconds\":%.3f,\"requests_per_s\":%.0f,\"records_per_s\":%.0f,"
               "\"request_bytes\":%zu,\"p50_us\":%.1f,\"p99_us\":%.1f,\"cpu_us_per_request\":%.1f,"
               "\"errors\":%ld}\n",
               n, secs, rps, rps * o.records, req.len, (double)cb_quantile(rtt, n, 0.5) / 1e3,
               (double)cb_quantile(rtt, n, 0.99) / 1e3, n ? cpu_s * 1e6 / (double)n : 0.0, errors);
    else
        printf(
            "plainpost: %zu requests of %zu bytes (%d records each) in %.2f s = %.0f requests/s, "
            "%.0f records/s; round trip p50 %.1f us, p99 %.1f us; %.1f us of CPU per request; %ld not 2xx\n",
            n, req.len, o.records, secs, rps, rps * o.records, (double)cb_quantile(rtt, n, 0.5) / 1e3,
            (double)cb_quantile(rtt, n, 0.99) / 1e3, n ? cpu_s * 1e6 / (double)n : 0.0, errors);
    free(rtt);
    cb_inbuf_free(&in);
    sl_buf_free(&req);
    close(fd);
    return errors ? 1 : 0;
}
