/* parsebench.c: what parsing an append body costs the network loop.
 *
 * The server parses every append body with jansson on its loop thread. This
 * tool builds the same bodies bench/loadgen sends (K events of B bytes of JSON
 * data each, with eventId and eventType), parses each with json_loadb() the
 * way the append handler does (JSON_REJECT_DUPLICATES) for about a second, and
 * prints µs per body and MB/s. The baseline of the same run is one plain pass
 * over the same bytes that finds the string boundaries (a loop over every byte
 * that tracks quotes and escapes, as any JSON scanner must at the least), so
 * the ratio says how far the parser is from the cost of reading the text.
 *
 * Usage: parsebench [--event-bytes B] [--events K[,K...]] (default 1024; 1,10,100,1000) */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The body bench/loadgen sends: K events, each with B bytes of data. */
static char *build_body(int k, int event_bytes, size_t *len)
{
    struct sl_buf b;
    sl_buf_init(&b);
    size_t pad = event_bytes > 16 ? (size_t)event_bytes - 16 : 0;
    char *filler = malloc(pad + 1);
    if (filler == NULL)
        return NULL;
    for (size_t i = 0; i < pad; i++)
        filler[i] = (char)('a' + i % 26);
    filler[pad] = '\0';
    sl_buf_putc(&b, '[');
    for (int i = 0; i < k; i++) {
        sl_buf_printf(&b,
                      "%s{\"eventId\":\"%08x-0000-4000-8000-000000000000\",\"eventType\":\"bench-event\","
                      "\"data\":{\"pad\":\"%s\",\"n\":%d}}",
                      i ? "," : "", (unsigned)i, filler, i % 10);
    }
    sl_buf_putc(&b, ']');
    free(filler);
    if (b.failed) {
        sl_buf_free(&b);
        return NULL;
    }
    return sl_buf_steal(&b, len);
}

/* One pass over the text that tracks strings and escapes; returns the
 * number of string tokens so the work cannot be skipped. */
static size_t scan_strings(const char *s, size_t len)
{
    size_t strings = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
            strings++;
        }
    }
    return strings;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"event-bytes", required_argument, NULL, 'b'},
        {"events", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int event_bytes = 1024;
    char counts[256] = "1,10,100,1000";
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            event_bytes = atoi(optarg);
            if (event_bytes < 0 || event_bytes > (8 << 20)) {
                fprintf(stderr, "parsebench: --event-bytes %s: expected 0..8388608\n", optarg);
                return 2;
            }
            break;
        case 'k':
            snprintf(counts, sizeof counts, "%s", optarg);
            break;
        case 'h':
            printf("usage: parsebench [--event-bytes B] [--events K[,K...]]\n");
            return 0;
        default:
            fprintf(stderr, "usage: parsebench [--event-bytes B] [--events K[,K...]]\n");
            return 2;
        }
    }

    printf("parsebench: json_loadb(JSON_REJECT_DUPLICATES) of append bodies with %d-byte events\n",
           event_bytes);
    printf("%7s %10s %12s %10s %12s %10s %8s\n", "events", "body_B", "parse_us", "parse_MB/s", "scan_us",
           "scan_MB/s", "ratio");
    char *save = NULL;
    for (char *tok = strtok_r(counts, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int k = atoi(tok);
        if (k < 1 || k > 10000) {
            fprintf(stderr, "parsebench: --events %s: expected 1..10000 each\n", tok);
            return 2;
        }
        size_t len = 0;
        char *body = build_body(k, event_bytes, &len);
        if (body == NULL) {
            fprintf(stderr, "parsebench: out of memory\n");
            return 1;
        }

        /* jansson, as the append handler calls it */
        long n = 0;
        double t0 = now_s(), t = t0;
        while (t - t0 < 1.0 || n < 3) {
            json_error_t jerr;
            json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
            if (v == NULL) {
                fprintf(stderr, "parsebench: the body does not parse: %s\n", jerr.text);
                free(body);
                return 1;
            }
            json_decref(v);
            n++;
            t = now_s();
        }
        double parse_s = (t - t0) / (double)n;

        /* the baseline: one pass over the same bytes */
        long m = 0;
        size_t sink = 0;
        t0 = now_s();
        t = t0;
        while (t - t0 < 0.5 || m < 3) {
            sink += scan_strings(body, len);
            m++;
            t = now_s();
        }
        double scan_s = (t - t0) / (double)m;
        if (sink == 0)
            fprintf(stderr, "parsebench: no strings found\n");

        printf("%7d %10zu %12.1f %10.1f %12.2f %10.1f %8.3f\n", k, len, parse_s * 1e6,
               (double)len / parse_s / 1e6, scan_s * 1e6, (double)len / scan_s / 1e6, scan_s / parse_s);
        free(body);
    }
    printf("(ratio: parse MB/s over scan MB/s)\n");
    return 0;
}
