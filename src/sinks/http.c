/* http.c: the HTTP sink (`http-sink`): each record, or each batch of records,
 * becomes one HTTP/1.1 request on a kept-alive connection (sinks/http_wire.h).
 *
 * This file turns records into requests (URL templates, the request head,
 * batch bodies) and answers into outcomes (the status table). Redirects are
 * not followed: a 3xx is a configuration error, reported as such.
 *
 * Headers are made safe for the wire: a name's characters that HTTP does not
 * allow become `_`, and control characters in a value become spaces, so event
 * metadata can never inject a header. Default headers never replace a header
 * the record or the sink sets (Content-Type, Authorization, esdb-*), and never
 * the ones that frame the request (Host, Content-Length, Transfer-Encoding...). */
#include "sinks/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sinks/http_wire.h"
#include "util/buf.h"
#include "util/codec.h"
#include "util/version.h"

#define DEFAULT_HEADERS "defaultHeaders:"

/* clang-format off */
static const struct sl_setting http_settings[] = {
    /* key                              type           default    flags                choices             min  max          help */
    {"url",                             SL_SET_URL,    NULL,      SL_SETTING_REQUIRED, NULL,               0, 0,          "target URL; {stream}, {schema-subject} and {event-type} (the event type in kebab case) expand, URL-escaped"},
    {"method",                          SL_SET_ENUM,   "POST",    0,                   "POST|PUT|PATCH",   0, 0,          "HTTP method"},
    {DEFAULT_HEADERS,                   SL_SET_STRING, NULL,      SL_SETTING_PREFIX,   NULL,               0, 0,          "defaultHeaders:<Name> = <value>: a header sent with every request"},
    {"authentication:method",           SL_SET_ENUM,   "none",    0,                   "none|basic|bearer", 0, 0,         "how to authenticate to the target"},
    {"authentication:basic:username",   SL_SET_STRING, "",        0,                   NULL,               0, 0,          "basic authentication: user name"},
    {"authentication:basic:password",   SL_SET_STRING, "",        SL_SETTING_SECRET,   NULL,               0, 0,          "basic authentication: password"},
    {"authentication:bearer:token",     SL_SET_STRING, "",        SL_SETTING_SECRET,   NULL,               0, 0,          "bearer authentication: token"},
    {"timeoutMs",                       SL_SET_INT,    "30000",   0,                   NULL,               1, 86400000,   "give up on a request after this long (connecting included), then retry"},
    {"batching:maxRecords",             SL_SET_INT,    "1",       0,                   NULL,               1, 10000,      "records per request; above 1 the body is a JSON array of records"},
    {"batching:maxBytes",               SL_SET_INT,    "1048576", 0,                   NULL,               1, 1073741824, "largest batch body; a single larger record is sent alone"},
    {"batching:maxDelayMs",             SL_SET_INT,    "0",       0,                   NULL,               0, 3600000,    "how long to wait for more records to fill a batch"},
    {"tls:caFile",                      SL_SET_STRING, "",        0,                   NULL,               0, 0,          "PEM file of the CAs to trust instead of the system's"},
    {"tls:verify",                      SL_SET_BOOL,   "true",    0,                   NULL,               0, 0,          "verify the server's certificate and name"},
    {NULL},
};
/* clang-format on */

/* The URL templates, and what they expand to. */
enum http_template { TEMPLATE_STREAM, TEMPLATE_TYPE };
static const struct {
    const char *text;
    enum http_template what;
} templates[] = {
    {"{stream}", TEMPLATE_STREAM},
    {"{schema-subject}", TEMPLATE_TYPE},
    {"{event-type}", TEMPLATE_TYPE},
};

struct http_sink {
    struct sl_http_wire *wire;
    char *url_template;
    bool has_templates;
    char method[8];
    char *auth_value; /* "Basic ..." or "Bearer ...", NULL without authentication */
    struct sl_header *defaults;
    size_t n_defaults;
    size_t max_records;
    size_t max_bytes;
    int64_t max_delay_ms;

    /* Per request. */
    struct sl_buf url, next_url, scratch, body, head, origin;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void init_curl(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* A setting's value or default, "" when it has neither. */
static const char *setting(const struct sl_settings *s, const char *key)
{
    const char *v = sl_settings_str(s, http_settings, key);
    return v ? v : "";
}

static bool is_cancelled(const _Atomic bool *cancel)
{
    return cancel != NULL && atomic_load(cancel);
}

/* ---- headers ---- */

/* RFC 9110's tchar. A switch, not strchr: it runs for every byte of every header name. */
static bool is_token_char(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

/* Headers that frame the request or the connection: the sink writes them, and
 * a default header may not change them. */
static const char *const framing_headers[] = {
    "Host",    "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "TE",
    "Trailer", "Expect",         "Proxy-Connection",  NULL};

static bool is_framing_header(const char *name)
{
    for (const char *const *f = framing_headers; *f; f++)
        if (strcasecmp(name, *f) == 0)
            return true;
    return false;
}

/* Appends `name: value` and CRLF to h->head, made safe for the wire (see the
 * top of the file). Clean runs are copied whole: most headers need no change. */
static void put_header(struct http_sink *h, const char *name, const char *value)
{
    struct sl_buf *b = &h->head;
    const char *clean = name;
    for (const char *p = name;; p++) {
        if (*p != '\0' && is_token_char((unsigned char)*p))
            continue;
        sl_buf_append(b, clean, (size_t)(p - clean));
        if (*p == '\0')
            break;
        sl_buf_putc(b, '_');
        clean = p + 1;
    }
    sl_buf_append(b, ": ", 2);
    const char *run = value;
    for (const char *p = value;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\0' || (c < 0x20 && c != '\t') || c == 0x7f) {
            sl_buf_append(b, run, (size_t)(p - run));
            if (c == '\0')
                break;
            sl_buf_putc(b, ' ');
            run = p + 1;
        }
    }
    sl_buf_append(b, "\r\n", 2);
}

/* Whether h->head, from `from` on, holds a header named `name` (ignoring case). */
static bool has_header(const struct http_sink *h, size_t from, const char *name)
{
    size_t n = strlen(name);
    const char *end = h->head.data + h->head.len;
    for (const char *line = h->head.data + from; line < end;) {
        if ((size_t)(end - line) > n && strncasecmp(line, name, n) == 0 && line[n] == ':')
            return true;
        const char *next = memchr(line, '\n', (size_t)(end - line));
        if (next == NULL)
            break;
        line = next + 1;
    }
    return false;
}

/* Splits h->url into the origin (into h->origin: scheme://host[:port],
 * without credentials), the authority for the Host header and the path with
 * its query. */
struct url_parts {
    const char *authority, *path;
    size_t authority_len, path_len;
    bool has_credentials;
};

static void split_url(struct http_sink *h, struct url_parts *u)
{
    const char *url = h->url.data;
    const char *sep = strstr(url, "://");
    const char *auth = sep ? sep + 3 : url;
    size_t auth_len = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', auth_len);
    u->has_credentials = at != NULL;
    u->authority = at ? at + 1 : auth;
    u->authority_len = auth_len - (size_t)(u->authority - auth);
    u->path = auth + auth_len;
    u->path_len = strcspn(u->path, "#");
    sl_buf_reset(&h->origin);
    sl_buf_append(&h->origin, url, (size_t)(auth - url));
    sl_buf_append(&h->origin, u->authority, u->authority_len);
}

/* "Basic base64(user:password)" from credentials written in the URL, as a
 * browser or curl would send them; NULL when there are none or on OOM. */
/* "Basic base64(user:password)", malloc'd; NULL on OOM. */
static char *basic_credentials(const char *user, const char *password)
{
    struct sl_buf pair, b;
    sl_buf_init(&pair);
    sl_buf_init(&b);
    sl_buf_printf(&pair, "%s:%s", user, password);
    sl_buf_puts(&b, "Basic ");
    size_t at = b.len;
    sl_buf_json_base64(&b, pair.data, pair.len);
    char *value = NULL;
    if (!pair.failed && !b.failed) {
        /* Unquote what sl_buf_json_base64 wrote. */
        memmove(b.data + at, b.data + at + 1, b.len - at - 2);
        b.len -= 2;
        b.data[b.len] = '\0';
        value = sl_buf_steal(&b, NULL);
    }
    sl_buf_free(&pair);
    sl_buf_free(&b);
    return value;
}

static char *url_credentials(const char *url)
{
    CURLU *u = curl_url();
    char *user = NULL, *password = NULL, *value = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE) == CURLUE_OK) {
        if (curl_url_get(u, CURLUPART_PASSWORD, &password, CURLU_URLDECODE) != CURLUE_OK)
            password = NULL;
        value = basic_credentials(user, password ? password : "");
    }
    curl_free(user);
    curl_free(password);
    curl_url_cleanup(u);
    return value;
}

/* Writes into h->head the request for h->url carrying `body_len` bytes: for
 * one record (`rec`), its content type and headers; for a batch (`rec` NULL),
 * the JSON content type and the batch size. Then authentication, and the
 * default headers not already set. False on OOM. */
static bool build_head(struct http_sink *h, const struct sl_sink_record *rec, size_t batch_n, size_t body_len)
{
    struct url_parts u;
    split_url(h, &u);
    struct sl_buf *b = &h->head;
    sl_buf_reset(b);
    sl_buf_puts(b, h->method);
    sl_buf_putc(b, ' ');
    if (u.path_len == 0 || u.path[0] != '/')
        sl_buf_putc(b, '/');
    sl_buf_append(b, u.path, u.path_len);
    sl_buf_append(b, " HTTP/1.1\r\nHost: ", 17);
    sl_buf_append(b, u.authority, u.authority_len);
    sl_buf_puts(b, "\r\nUser-Agent: sluice/" SL_VERSION "\r\nAccept: */*\r\nContent-Length: ");
    char length[SL_DECIMAL_MAX];
    sl_buf_append(b, length, sl_format_u64(body_len, length));
    sl_buf_append(b, "\r\n", 2);
    size_t own = b->len;
    if (rec) {
        const char *ct = rec->content_type && rec->content_type[0] ? rec->content_type
                         : rec->is_json                            ? "application/json"
                                                                   : "application/octet-stream";
        put_header(h, "Content-Type", ct);
        for (size_t i = 0; i < rec->n_headers; i++)
            put_header(h, rec->headers[i].name, rec->headers[i].value ? rec->headers[i].value : "");
    } else {
        char n[24];
        snprintf(n, sizeof(n), "%zu", batch_n);
        put_header(h, "Content-Type", "application/json");
        put_header(h, "esdb-batch-size", n);
    }
    if (h->auth_value) {
        put_header(h, "Authorization", h->auth_value);
    } else if (u.has_credentials) {
        char *basic = url_credentials(h->url.data);
        if (basic)
            put_header(h, "Authorization", basic);
        free(basic);
    }
    for (size_t i = 0; i < h->n_defaults; i++)
        if (!is_framing_header(h->defaults[i].name) && !has_header(h, own, h->defaults[i].name))
            put_header(h, h->defaults[i].name, h->defaults[i].value);
    sl_buf_append(b, "\r\n", 2);
    return !b->failed && !h->origin.failed;
}

/* ---- URL templates ---- */

/* Appends `s` percent-encoded: everything but RFC 3986's unreserved characters. */
static void put_escaped(struct sl_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '.' || c == '_' || c == '~') {
            sl_buf_putc(b, (char)c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            sl_buf_append(b, esc, 3);
        }
    }
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_lower_or_digit(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Appends `s` in lower kebab case, as Humanizer's Kebaberize (which KurrentDB
 * uses): a word starts at an upper-case letter that follows a lower-case
 * letter or digit, or that ends a run of capitals before a lower-case letter;
 * `_`, `-` and white space become `-`. OrderPlaced -> order-placed,
 * order_placed -> order-placed, HTTPRequest -> http-request. */
static void put_kebab(struct sl_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (i > 0 && is_upper(c) &&
            (is_lower_or_digit(s[i - 1]) ||
             (is_upper(s[i - 1]) && i + 1 < n && s[i + 1] >= 'a' && s[i + 1] <= 'z')))
            sl_buf_putc(b, '-');
        if (c == '_' || c == ' ' || c == '\t')
            c = '-';
        sl_buf_putc(b, is_upper(c) ? (char)(c - 'A' + 'a') : c);
    }
}

/* The template at `p`, or -1 if none starts there. */
static int template_at(const char *p)
{
    for (size_t t = 0; t < sizeof(templates) / sizeof(templates[0]); t++)
        if (strncasecmp(p, templates[t].text, strlen(templates[t].text)) == 0)
            return (int)t;
    return -1;
}

/* Writes into `out` the URL for `rec`: the template with its placeholders expanded. */
static void expand_url(struct http_sink *h, const struct sl_sink_record *rec, struct sl_buf *out)
{
    sl_buf_reset(out);
    for (const char *p = h->url_template; *p;) {
        int t = *p == '{' ? template_at(p) : -1;
        if (t < 0) {
            sl_buf_putc(out, *p++);
            continue;
        }
        p += strlen(templates[t].text);
        if (templates[t].what == TEMPLATE_STREAM) {
            put_escaped(out, rec->stream ? rec->stream : "", rec->stream ? rec->stream_len : 0);
        } else {
            sl_buf_reset(&h->scratch);
            put_kebab(&h->scratch, rec->type ? rec->type : "", rec->type ? rec->type_len : 0);
            put_escaped(out, h->scratch.data ? h->scratch.data : "", h->scratch.len);
        }
    }
}

/* Copies `url` into `out` for an error message, with any user:password@ masked. */
static void display_url(const char *url, char *out, size_t cap)
{
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    size_t authority = strcspn(host, "/?#");
    const char *at = memchr(host, '@', authority);
    if (at == NULL) {
        snprintf(out, cap, "%s", url);
        return;
    }
    snprintf(out, cap, "%.*s***%s", (int)(host - url), url, at);
}

/* ---- batches ---- */

/* Appends one record as a batch element: {"headers", "contentType", "data"}. */
static void put_record_json(struct sl_buf *b, const struct sl_sink_record *rec)
{
    sl_buf_puts(b, "{\"headers\":{");
    for (size_t i = 0; i < rec->n_headers; i++) {
        const char *name = rec->headers[i].name;
        const char *value = rec->headers[i].value ? rec->headers[i].value : "";
        if (i)
            sl_buf_putc(b, ',');
        sl_buf_json_string(b, name, strlen(name));
        sl_buf_putc(b, ':');
        sl_buf_json_string(b, value, strlen(value));
    }
    sl_buf_puts(b, "},\"contentType\":");
    const char *ct = rec->content_type ? rec->content_type : "";
    sl_buf_json_string(b, ct, strlen(ct));
    sl_buf_puts(b, ",\"data\":");
    if (!rec->is_json)
        sl_buf_json_base64(b, rec->payload, rec->payload_len);
    else if (rec->payload_len == 0)
        sl_buf_puts(b, "null");
    else
        sl_buf_append(b, rec->payload, rec->payload_len);
    sl_buf_putc(b, '}');
}

static bool same_bytes(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

/* True when `rec` certainly expands to the URL of `first`: a URL depends only on
 * the stream and the event type, so equal ones need no expansion to compare. */
static bool has_url_of(const struct sl_sink_record *rec, const struct sl_sink_record *first)
{
    return same_bytes(rec->stream, rec->stream ? rec->stream_len : 0, first->stream,
                      first->stream ? first->stream_len : 0) &&
           same_bytes(rec->type, rec->type ? rec->type_len : 0, first->type,
                      first->type ? first->type_len : 0);
}

/* Builds in h->body the JSON array of the first records that go to h->url,
 * within maxRecords and maxBytes (a first record larger than maxBytes goes
 * alone). Returns how many it holds: at least 1. */
static size_t build_batch(struct http_sink *h, const struct sl_sink_record *recs, size_t n)
{
    sl_buf_reset(&h->body);
    sl_buf_putc(&h->body, '[');
    size_t count = 0;
    while (count < n && count < h->max_records) {
        const struct sl_sink_record *rec = &recs[count];
        if (count > 0 && h->has_templates && !has_url_of(rec, &recs[0])) {
            expand_url(h, rec, &h->next_url);
            if (h->next_url.failed || strcmp(h->next_url.data, h->url.data) != 0)
                break;
        }
        size_t mark = h->body.len;
        if (count > 0)
            sl_buf_putc(&h->body, ',');
        put_record_json(&h->body, rec);
        if (count > 0 && !h->body.failed && h->body.len + 1 > h->max_bytes) {
            h->body.len = mark;
            h->body.data[mark] = '\0';
            break;
        }
        count++;
    }
    sl_buf_putc(&h->body, ']');
    return count;
}

/* ---- one request ---- */

/* Says why in res->error, cut to fit. */
__attribute__((format(printf, 2, 3))) static void set_error(struct sl_sink_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof(res->error), fmt, ap);
    va_end(ap);
}

/* Sends h->head and `body` to h->origin, and says what came of it: the status
 * table of the sink (2xx delivered; 408, 429, 5xx and no answer retried, with
 * Retry-After honoured; anything else failed). */
static void send_request(struct http_sink *h, const void *body, size_t len, const _Atomic bool *cancel,
                         struct sl_sink_result *res)
{
    res->retry_after_ms = -1;
    res->error[0] = '\0';
    struct sl_http_answer answer;
    char why[200];
    enum sl_http_exchange x = sl_http_wire_exchange(h->wire, h->origin.data, h->head.data, h->head.len,
                                                    body ? body : "", len, cancel, &answer, why, sizeof(why));
    char url[160] = "";
    if (x != SL_HTTP_ANSWERED || answer.status < 200 || answer.status >= 300)
        display_url(h->url.data, url, sizeof(url)); /* only for an error message */
    switch (x) {
    case SL_HTTP_CANCELLED:
        res->outcome = SL_SINK_RETRY;
        set_error(res, "cancelled while sending to %s", url);
        return;
    case SL_HTTP_FAILED:
    case SL_HTTP_BAD_URL:
        res->outcome = x == SL_HTTP_BAD_URL ? SL_SINK_FAILED : SL_SINK_RETRY;
        set_error(res, "%s %s: %s", h->method, url, why);
        return;
    case SL_HTTP_ANSWERED:
        break;
    }
    long status = answer.status;
    if (status >= 200 && status < 300) {
        res->outcome = SL_SINK_DELIVERED;
        return;
    }
    bool is_transient = status == 408 || status == 429 || status >= 500 || status < 100;
    res->outcome = is_transient ? SL_SINK_RETRY : SL_SINK_FAILED;
    if (is_transient)
        res->retry_after_ms = answer.retry_after_ms;
    set_error(res, "HTTP %ld from %s%s%s%s", status, url,
              status >= 300 && status < 400 ? " (redirects are not followed)" : "",
              answer.snippet_len ? ": " : "", answer.snippet);
}

/* Gives results[from..to) the outcome `r`. */
static void fill_results(struct sl_sink_result *results, size_t from, size_t to,
                         const struct sl_sink_result *r)
{
    for (size_t i = from; i < to; i++)
        results[i] = *r;
}

/* Sends records in order: one per request, or in batches to one URL each.
 * Stops at the first request not delivered; it and every later record get its
 * outcome. */
static void http_write(void *ctx, const struct sl_sink_record *records, size_t n,
                       struct sl_sink_result *results, const _Atomic bool *cancel)
{
    struct http_sink *h = ctx;
    struct sl_sink_result r;
    size_t i = 0;
    while (i < n) {
        memset(&r, 0, sizeof(r));
        r.retry_after_ms = -1;
        if (is_cancelled(cancel)) {
            r.outcome = SL_SINK_RETRY;
            set_error(&r, "cancelled before sending");
            break;
        }
        expand_url(h, &records[i], &h->url);
        size_t count = 1;
        const void *body;
        size_t len;
        bool ok;
        if (h->max_records > 1) {
            count = build_batch(h, records + i, n - i);
            body = h->body.data;
            len = h->body.len;
            ok = !h->body.failed && build_head(h, NULL, count, len);
        } else {
            body = records[i].payload;
            len = records[i].payload_len;
            ok = build_head(h, &records[i], 1, len);
        }
        if (!ok || h->url.failed) {
            r.outcome = SL_SINK_RETRY;
            set_error(&r, "out of memory building a request of %zu records", count);
            break;
        }
        send_request(h, body, len, cancel, &r);
        if (r.outcome != SL_SINK_DELIVERED)
            break;
        fill_results(results, i, i + count, &r);
        i += count;
    }
    fill_results(results, i, n, &r);
}

/* ---- life cycle ---- */

/* Frees the sink and closes its connection. NULL-safe. */
static void http_destroy(void *ctx)
{
    struct http_sink *h = ctx;
    if (h == NULL)
        return;
    sl_http_wire_free(h->wire);
    for (size_t i = 0; i < h->n_defaults; i++) {
        free((char *)h->defaults[i].name);
        free((char *)h->defaults[i].value);
    }
    free(h->defaults);
    free(h->url_template);
    free(h->auth_value);
    sl_buf_free(&h->url);
    sl_buf_free(&h->next_url);
    sl_buf_free(&h->scratch);
    sl_buf_free(&h->body);
    sl_buf_free(&h->head);
    sl_buf_free(&h->origin);
    free(h);
}

/* Collects the defaultHeaders:<Name> settings. */
static bool read_default_headers(struct http_sink *h, const struct sl_settings *s)
{
    size_t prefix = strlen(DEFAULT_HEADERS);
    for (size_t i = 0; i < s->count; i++) {
        if (strncasecmp(s->keys[i], DEFAULT_HEADERS, prefix) != 0 || s->keys[i][prefix] == '\0')
            continue;
        struct sl_header *grown = realloc(h->defaults, (h->n_defaults + 1) * sizeof(*grown));
        if (grown == NULL)
            return false;
        h->defaults = grown;
        char *name = strdup(s->keys[i] + prefix);
        char *value = strdup(s->values[i]);
        if (name == NULL || value == NULL) {
            free(name);
            free(value);
            return false;
        }
        h->defaults[h->n_defaults++] = (struct sl_header){name, value};
    }
    return true;
}

/* "Basic ..." or "Bearer token", or NULL with *ok true when there is no
 * authentication. */
static char *auth_value(const struct sl_settings *s, bool *ok)
{
    const char *method = setting(s, "authentication:method");
    char *value = NULL;
    if (strcasecmp(method, "basic") == 0) {
        value = basic_credentials(setting(s, "authentication:basic:username"),
                                  setting(s, "authentication:basic:password"));
    } else if (strcasecmp(method, "bearer") == 0) {
        struct sl_buf b;
        sl_buf_init(&b);
        sl_buf_printf(&b, "Bearer %s", setting(s, "authentication:bearer:token"));
        value = b.failed ? NULL : sl_buf_steal(&b, NULL);
        sl_buf_free(&b);
    } else {
        *ok = true;
        return NULL;
    }
    *ok = value != NULL;
    return value;
}

/* Settings -> a sink with its curl handle set up; connects on the first write. */
static enum sl_code http_create(const struct sl_settings *s, const char *connector_id, void **ctx,
                                struct sl_error *err)
{
    (void)connector_id;
    *ctx = NULL;
    pthread_once(&curl_once, init_curl);
    if (curl_init_result != CURLE_OK)
        return sl_errorf(err, SL_E_INTERNAL, "libcurl failed to start: %s",
                         curl_easy_strerror(curl_init_result));
    const char *url = setting(s, "url");
    if (url[0] == '\0')
        return sl_field_errorf(err, SL_E_INVALID, "url", "url is required");
    const char *method = setting(s, "method");
    if (strcasecmp(method, "POST") != 0 && strcasecmp(method, "PUT") != 0 && strcasecmp(method, "PATCH") != 0)
        return sl_field_errorf(err, SL_E_INVALID, "method", "method must be POST, PUT or PATCH, not %s",
                               method);
    const char *ca_file = setting(s, "tls:caFile");
    if (ca_file[0]) {
        FILE *f = fopen(ca_file, "r");
        if (f == NULL)
            return sl_field_errorf(err, SL_E_INVALID, "tls:caFile", "cannot read %s: %s", ca_file,
                                   strerror(errno));
        fclose(f);
    }

    enum sl_code code = SL_OK;
    struct http_sink *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return sl_errorf(err, SL_E_NOMEM, "out of memory creating an HTTP sink");
    for (size_t i = 0; i < sizeof(h->method) - 1 && method[i]; i++)
        h->method[i] = (char)(method[i] >= 'a' && method[i] <= 'z' ? method[i] - 'a' + 'A' : method[i]);
    int64_t max_records = sl_settings_int(s, http_settings, "batching:maxRecords");
    int64_t max_bytes = sl_settings_int(s, http_settings, "batching:maxBytes");
    h->max_records = max_records >= 1 ? (size_t)max_records : 1;
    h->max_bytes = max_bytes >= 1 ? (size_t)max_bytes : 1;
    h->max_delay_ms = sl_settings_int(s, http_settings, "batching:maxDelayMs");
    h->url_template = strdup(url);
    h->has_templates = strchr(url, '{') != NULL;
    bool ok;
    h->auth_value = auth_value(s, &ok);
    struct sl_http_wire_options wire = {
        .timeout_ms = (long)sl_settings_int(s, http_settings, "timeoutMs"),
        .is_tls_verified = sl_settings_bool(s, http_settings, "tls:verify"),
        .ca_file = ca_file,
    };
    h->wire = sl_http_wire_new(&wire);
    if (h->url_template == NULL || !ok || h->wire == NULL || !read_default_headers(h, s)) {
        code = sl_errorf(err, SL_E_NOMEM, "out of memory creating an HTTP sink");
        goto fail;
    }
    *ctx = h;
    return SL_OK;
fail:
    http_destroy(h);
    return code;
}

/* batching:maxRecords: the runtime hands over up to this many records per write. */
/* An idle connector keeps its connection, not its largest request body. */
static void http_release(void *ctx)
{
    struct http_sink *h = ctx;
    sl_buf_free(&h->body);
    sl_http_wire_release(h->wire);
}

static size_t http_batch_size(void *ctx)
{
    struct http_sink *h = ctx;
    return h->max_records;
}

int64_t sl_http_sink_max_delay_ms(void *ctx)
{
    struct http_sink *h = ctx;
    return h ? h->max_delay_ms : 0;
}

/* Rules across settings: credentials for the chosen authentication, known
 * URL templates, and default headers that HTTP can carry. */
static void http_validate(const struct sl_settings *s, struct sl_violations *out)
{
    const char *auth = setting(s, "authentication:method");
    if (strcasecmp(auth, "basic") == 0 && setting(s, "authentication:basic:username")[0] == '\0')
        sl_violations_add(out, "authentication:basic:username",
                          "is required when authentication:method is basic");
    if (strcasecmp(auth, "bearer") == 0 && setting(s, "authentication:bearer:token")[0] == '\0')
        sl_violations_add(out, "authentication:bearer:token",
                          "is required when authentication:method is bearer");

    for (const char *p = strchr(setting(s, "url"), '{'); p; p = strchr(p + 1, '{')) {
        if (template_at(p) >= 0)
            continue;
        size_t len = strcspn(p, "}");
        sl_violations_add(out, "url",
                          "has an unknown template %.*s%s; known: {stream}, {schema-subject}, {event-type}",
                          (int)(len > 40 ? 40 : len), p, len <= 40 && p[len] == '}' ? "}" : "");
    }

    size_t prefix = strlen(DEFAULT_HEADERS);
    for (size_t i = 0; i < s->count; i++) {
        const char *key = s->keys[i];
        if (strncasecmp(key, DEFAULT_HEADERS, prefix) != 0 || key[prefix] == '\0')
            continue;
        for (const char *p = key + prefix; *p; p++) {
            if (!is_token_char((unsigned char)*p)) {
                sl_violations_add(out, key,
                                  "must name an HTTP header: letters, digits and !#$%%&'*+-.^_`|~ only");
                break;
            }
        }
        if (is_framing_header(key + prefix))
            sl_violations_add(out, key, "is set by the sink for each request and cannot be a default header");
        if (strpbrk(s->values[i], "\r\n"))
            sl_violations_add(out, key, "must not contain a line break");
    }
}

const struct sl_sink_type sl_http_sink = {
    .name = "http-sink",
    .aliases = (const char *const[]){"HttpSink", "http", NULL},
    .settings = http_settings,
    .validate = http_validate,
    .create = http_create,
    .write = http_write,
    .destroy = http_destroy,
    .batch_size = http_batch_size,
    .release = http_release,
};
