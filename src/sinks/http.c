/* http.c: the HTTP sink (`http-sink`): each record, or each batch of records,
 * becomes one HTTP request on a kept-alive connection.
 *
 * One libcurl easy handle per sink instance, driven by a private multi handle
 * so that a waiting request looks at `*cancel` every HTTP_POLL_MS and the
 * connection stays in the multi handle's cache between requests. Redirects
 * are not followed: a 3xx is a configuration error, reported as such.
 *
 * Headers are made safe for the wire: a name's characters that HTTP does not
 * allow become `_`, and control characters in a value become spaces, so event
 * metadata can never inject a header. Default headers never replace a header
 * the record or the sink sets (Content-Type, Authorization, esdb-*). */
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

#include "util/buf.h"
#include "util/codec.h"
#include "util/version.h"

#define HTTP_POLL_MS 50      /* how often a waiting request looks at *cancel */
#define HTTP_SNIPPET_MAX 120 /* bytes of a response body quoted in an error */
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
    CURL *curl;
    CURLM *multi;
    char *url_template;
    bool has_templates;
    char method[8];
    char *auth_value; /* "Basic ..." or "Bearer ...", NULL without authentication */
    struct sl_header *defaults;
    size_t n_defaults;
    long timeout_ms;
    size_t max_records;
    size_t max_bytes;
    int64_t max_delay_ms;

    /* Per request. */
    struct sl_buf url, next_url, scratch, body, line;
    const _Atomic bool *cancel;
    int64_t retry_after_ms;
    char snippet[HTTP_SNIPPET_MAX + 1];
    size_t snippet_len;
    char errbuf[CURL_ERROR_SIZE];
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

static bool is_token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Appends `name: value` to `*list`, made safe for the wire (see the top of
 * the file). An empty value is sent as `name:` (curl's `name;` form). */
static bool add_header(struct http_sink *h, struct curl_slist **list, const char *name, const char *value)
{
    struct sl_buf *b = &h->line;
    sl_buf_reset(b);
    for (const char *p = name; *p; p++)
        sl_buf_putc(b, is_token_char((unsigned char)*p) ? *p : '_');
    if (value[0] == '\0') {
        sl_buf_putc(b, ';');
    } else {
        sl_buf_puts(b, ": ");
        for (const char *p = value; *p; p++)
            sl_buf_putc(b, ((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f ? ' ' : *p);
    }
    if (b->failed)
        return false;
    struct curl_slist *grown = curl_slist_append(*list, b->data);
    if (grown == NULL)
        return false;
    *list = grown;
    return true;
}

/* Whether `list` already holds a header named `name` (ignoring case). */
static bool has_header(const struct curl_slist *list, const char *name)
{
    size_t n = strlen(name);
    for (; list; list = list->next)
        if (strncasecmp(list->data, name, n) == 0 && (list->data[n] == ':' || list->data[n] == ';'))
            return true;
    return false;
}

/* The headers of one request: for one record (`rec`), its content type and
 * headers; for a batch (`rec` NULL), the JSON content type and the batch size.
 * Then authentication, and the default headers not already set. NULL on OOM. */
static struct curl_slist *request_headers(struct http_sink *h, const struct sl_sink_record *rec,
                                          size_t batch_n)
{
    struct curl_slist *list = NULL;
    bool ok = true;
    if (rec) {
        const char *ct = rec->content_type && rec->content_type[0] ? rec->content_type
                         : rec->is_json                            ? "application/json"
                                                                   : "application/octet-stream";
        ok = add_header(h, &list, "Content-Type", ct);
        for (size_t i = 0; ok && i < rec->n_headers; i++)
            ok = add_header(h, &list, rec->headers[i].name,
                            rec->headers[i].value ? rec->headers[i].value : "");
    } else {
        char n[24];
        snprintf(n, sizeof(n), "%zu", batch_n);
        ok = add_header(h, &list, "Content-Type", "application/json") &&
             add_header(h, &list, "esdb-batch-size", n);
    }
    if (ok && h->auth_value)
        ok = add_header(h, &list, "Authorization", h->auth_value);
    for (size_t i = 0; ok && i < h->n_defaults; i++)
        if (!has_header(list, h->defaults[i].name))
            ok = add_header(h, &list, h->defaults[i].name, h->defaults[i].value);
    if (ok) {
        /* No `Expect: 100-continue`: it costs a round trip (or a second) per large body. */
        struct curl_slist *grown = curl_slist_append(list, "Expect:");
        ok = grown != NULL;
        list = grown ? grown : list;
    }
    if (!ok) {
        curl_slist_free_all(list);
        return NULL;
    }
    return list;
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
        if (count > 0 && h->has_templates) {
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

/* Notes Retry-After (seconds or an HTTP-date) as milliseconds from now. */
static size_t on_header(char *line, size_t size, size_t nitems, void *arg)
{
    struct http_sink *h = arg;
    size_t len = size * nitems;
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue, say): forget the last one's. */
        h->retry_after_ms = -1;
        h->snippet_len = 0;
        return len;
    }
    static const char name[] = "Retry-After:";
    if (len <= sizeof(name) - 1 || strncasecmp(line, name, sizeof(name) - 1) != 0)
        return len;
    char value[64];
    size_t start = sizeof(name) - 1, end = len;
    while (start < end && (line[start] == ' ' || line[start] == '\t'))
        start++;
    while (end > start && (line[end - 1] == '\r' || line[end - 1] == '\n' || line[end - 1] == ' '))
        end--;
    if (end - start >= sizeof(value))
        return len;
    memcpy(value, line + start, end - start);
    value[end - start] = '\0';
    int64_t seconds;
    if (sl_parse_u63(value, end - start, &seconds)) {
        h->retry_after_ms = seconds > INT64_MAX / 1000 ? INT64_MAX : seconds * 1000;
    } else {
        time_t when = curl_getdate(value, NULL);
        if (when != (time_t)-1) {
            time_t now = time(NULL);
            h->retry_after_ms = when > now ? (int64_t)(when - now) * 1000 : 0;
        }
    }
    return len;
}

/* Keeps the start of the response body, to quote it in an error. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct http_sink *h = arg;
    size_t len = size * nmemb;
    for (size_t i = 0; i < len && h->snippet_len < HTTP_SNIPPET_MAX; i++) {
        unsigned char c = (unsigned char)data[i];
        h->snippet[h->snippet_len++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    h->snippet[h->snippet_len] = '\0';
    return len;
}

/* Aborts the transfer (CURLE_ABORTED_BY_CALLBACK) once the caller cancels. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    struct http_sink *h = arg;
    return is_cancelled(h->cancel) ? 1 : 0;
}

/* Runs the transfer set up on h->curl until it ends or `*cancel` becomes
 * true (`*cancelled`). The connection goes back to the multi handle's cache. */
static CURLcode perform(struct http_sink *h, bool *cancelled)
{
    *cancelled = false;
    CURLMcode mc = curl_multi_add_handle(h->multi, h->curl);
    if (mc != CURLM_OK) {
        snprintf(h->errbuf, sizeof(h->errbuf), "%s", curl_multi_strerror(mc));
        return CURLE_FAILED_INIT;
    }
    CURLcode result = CURLE_FAILED_INIT;
    for (;;) {
        int running = 0;
        mc = curl_multi_perform(h->multi, &running);
        if (mc != CURLM_OK)
            break;
        bool is_done = false;
        int left;
        for (CURLMsg *msg; (msg = curl_multi_info_read(h->multi, &left)) != NULL;) {
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == h->curl) {
                result = msg->data.result;
                is_done = true;
            }
        }
        if (is_done || running == 0)
            break;
        if (is_cancelled(h->cancel)) {
            *cancelled = true;
            result = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        mc = curl_multi_poll(h->multi, NULL, 0, HTTP_POLL_MS, NULL);
        if (mc != CURLM_OK)
            break;
    }
    if (mc != CURLM_OK)
        snprintf(h->errbuf, sizeof(h->errbuf), "%s", curl_multi_strerror(mc));
    curl_multi_remove_handle(h->multi, h->curl);
    return result;
}

/* Errors that no retry will mend. */
static bool is_permanent(CURLcode rc)
{
    return rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_NOT_BUILT_IN ||
           rc == CURLE_BAD_FUNCTION_ARGUMENT;
}

/* Says why in res->error, cut to fit. */
__attribute__((format(printf, 2, 3))) static void set_error(struct sl_sink_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof(res->error), fmt, ap);
    va_end(ap);
}

/* Sends `body` to h->url with `headers`, and says what came of it. */
static void send_request(struct http_sink *h, const void *body, size_t len, struct curl_slist *headers,
                         struct sl_sink_result *res)
{
    res->retry_after_ms = -1;
    res->error[0] = '\0';
    h->errbuf[0] = '\0';
    h->snippet_len = 0;
    h->snippet[0] = '\0';
    h->retry_after_ms = -1;

    curl_easy_setopt(h->curl, CURLOPT_URL, h->url.data);
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body ? body : "");
    bool cancelled;
    CURLcode rc = perform(h, &cancelled);
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);

    char url[160];
    display_url(h->url.data, url, sizeof(url));
    if (cancelled || rc == CURLE_ABORTED_BY_CALLBACK) {
        res->outcome = SL_SINK_RETRY;
        set_error(res, "cancelled while sending to %s", url);
        return;
    }
    if (rc != CURLE_OK) {
        res->outcome = is_permanent(rc) ? SL_SINK_FAILED : SL_SINK_RETRY;
        set_error(res, "%s %s: %s", h->method, url, h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
        return;
    }
    long status = 0;
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
        res->outcome = SL_SINK_DELIVERED;
        return;
    }
    bool is_transient = status == 408 || status == 429 || status >= 500 || status < 100;
    res->outcome = is_transient ? SL_SINK_RETRY : SL_SINK_FAILED;
    if (is_transient)
        res->retry_after_ms = h->retry_after_ms;
    set_error(res, "HTTP %ld from %s%s%s%s", status, url,
              status >= 300 && status < 400 ? " (redirects are not followed)" : "",
              h->snippet_len ? ": " : "", h->snippet);
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
    h->cancel = cancel;
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
        struct curl_slist *headers;
        const void *body;
        size_t len;
        if (h->max_records > 1) {
            count = build_batch(h, records + i, n - i);
            headers = request_headers(h, NULL, count);
            body = h->body.data;
            len = h->body.len;
        } else {
            headers = request_headers(h, &records[i], 1);
            body = records[i].payload;
            len = records[i].payload_len;
        }
        if (headers == NULL || h->url.failed || (h->max_records > 1 && h->body.failed)) {
            curl_slist_free_all(headers);
            r.outcome = SL_SINK_RETRY;
            set_error(&r, "out of memory building a request of %zu records", count);
            break;
        }
        send_request(h, body, len, headers, &r);
        curl_slist_free_all(headers);
        if (r.outcome != SL_SINK_DELIVERED)
            break;
        fill_results(results, i, i + count, &r);
        i += count;
    }
    fill_results(results, i, n, &r);
    h->cancel = NULL;
}

/* ---- life cycle ---- */

/* Frees the sink and closes its connection. NULL-safe. */
static void http_destroy(void *ctx)
{
    struct http_sink *h = ctx;
    if (h == NULL)
        return;
    if (h->multi)
        curl_multi_cleanup(h->multi);
    if (h->curl)
        curl_easy_cleanup(h->curl);
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
    sl_buf_free(&h->line);
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

/* "Basic base64(user:password)" or "Bearer token", or NULL with *ok true
 * when there is no authentication. */
static char *auth_value(const struct sl_settings *s, bool *ok)
{
    const char *method = setting(s, "authentication:method");
    *ok = true;
    struct sl_buf b;
    sl_buf_init(&b);
    if (strcasecmp(method, "basic") == 0) {
        struct sl_buf pair;
        sl_buf_init(&pair);
        sl_buf_printf(&pair, "%s:%s", setting(s, "authentication:basic:username"),
                      setting(s, "authentication:basic:password"));
        sl_buf_puts(&b, "Basic ");
        size_t at = b.len;
        sl_buf_json_base64(&b, pair.data, pair.len);
        *ok = !pair.failed && !b.failed;
        if (*ok) {
            /* Unquote what sl_buf_json_base64 wrote. */
            memmove(b.data + at, b.data + at + 1, b.len - at - 2);
            b.len -= 2;
            b.data[b.len] = '\0';
        }
        sl_buf_free(&pair);
    } else if (strcasecmp(method, "bearer") == 0) {
        sl_buf_printf(&b, "Bearer %s", setting(s, "authentication:bearer:token"));
        *ok = !b.failed;
    } else {
        return NULL;
    }
    if (!*ok) {
        sl_buf_free(&b);
        return NULL;
    }
    return sl_buf_steal(&b, NULL);
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
    for (size_t i = 0; method[i] && i < sizeof(h->method) - 1; i++)
        h->method[i] = (char)(method[i] >= 'a' && method[i] <= 'z' ? method[i] - 'a' + 'A' : method[i]);
    h->timeout_ms = (long)sl_settings_int(s, http_settings, "timeoutMs");
    int64_t max_records = sl_settings_int(s, http_settings, "batching:maxRecords");
    int64_t max_bytes = sl_settings_int(s, http_settings, "batching:maxBytes");
    h->max_records = max_records >= 1 ? (size_t)max_records : 1;
    h->max_bytes = max_bytes >= 1 ? (size_t)max_bytes : 1;
    h->max_delay_ms = sl_settings_int(s, http_settings, "batching:maxDelayMs");
    if (h->timeout_ms < 1)
        h->timeout_ms = 30000;
    h->url_template = strdup(url);
    h->has_templates = strchr(url, '{') != NULL;
    bool ok;
    h->auth_value = auth_value(s, &ok);
    h->curl = curl_easy_init();
    h->multi = curl_multi_init();
    if (h->url_template == NULL || !ok || h->curl == NULL || h->multi == NULL ||
        !read_default_headers(h, s)) {
        code = sl_errorf(err, SL_E_NOMEM, "out of memory creating an HTTP sink");
        goto fail;
    }

    CURL *c = h->curl;
    bool verify = sl_settings_bool(s, http_settings, "tls:verify");
    CURLcode rc = CURLE_OK;
#define SET(opt, value)                                                                                      \
    do {                                                                                                     \
        if (rc == CURLE_OK)                                                                                  \
            rc = curl_easy_setopt(c, opt, value);                                                            \
    } while (0)
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_TIMEOUT_MS, h->timeout_ms);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    SET(CURLOPT_USERAGENT, "sluice/" SL_VERSION);
    SET(CURLOPT_ERRORBUFFER, h->errbuf);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, h);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, h);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_XFERINFODATA, h);
    SET(CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
    SET(CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
    if (ca_file[0])
        SET(CURLOPT_CAINFO, ca_file);
    if (strcmp(h->method, "POST") != 0)
        SET(CURLOPT_CUSTOMREQUEST, h->method);
#undef SET
    if (rc != CURLE_OK) {
        code = sl_errorf(err, SL_E_INTERNAL, "libcurl refused an option: %s", curl_easy_strerror(rc));
        goto fail;
    }
    *ctx = h;
    return SL_OK;
fail:
    http_destroy(h);
    return code;
}

/* batching:maxRecords: the runtime hands over up to this many records per write. */
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
                          (int)(len > 40 ? 40 : len), p, p[len] == '}' && len <= 40 ? "}" : "");
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
};
