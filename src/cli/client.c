#include "cli/client.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/version.h"

#if CURL_ERROR_SIZE > 256
#error "struct sl_client's errbuf is smaller than CURL_ERROR_SIZE"
#endif

enum sl_code sl_client_init(struct sl_client *c, const char *server, struct sl_error *err)
{
    memset(c, 0, sizeof(*c));
    size_t len = strlen(server);
    while (len > 0 && server[len - 1] == '/')
        len--;
    c->server = strndup(server, len);
    c->curl = curl_easy_init();
    if (c->server == NULL || c->curl == NULL) {
        sl_client_free(c);
        return sl_errorf(err, SL_E_NOMEM, "cannot set up an HTTP client: out of memory");
    }
    return SL_OK;
}

void sl_client_free(struct sl_client *c)
{
    if (c == NULL)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->server);
    memset(c, 0, sizeof(*c));
}

static void append_escaped(struct sl_client *c, struct sl_buf *url, const char *s)
{
    char *esc = curl_easy_escape(c->curl, s, (int)strlen(s));
    if (esc == NULL) {
        url->failed = true;
        return;
    }
    sl_buf_puts(url, esc);
    curl_free(esc);
}

void sl_client_url(struct sl_client *c, struct sl_buf *url, const char *prefix, const char *stream)
{
    sl_buf_puts(url, c->server);
    sl_buf_putc(url, '/');
    sl_buf_puts(url, prefix);
    sl_buf_putc(url, '/');
    if (strcmp(stream, "$all") == 0)
        sl_buf_puts(url, stream);
    else
        append_escaped(c, url, stream);
}

void sl_client_query(struct sl_client *c, struct sl_buf *url, const char *name, const char *value)
{
    bool has_query = url->data != NULL && strchr(url->data, '?') != NULL;
    sl_buf_putc(url, has_query ? '&' : '?');
    sl_buf_puts(url, name);
    sl_buf_putc(url, '=');
    append_escaped(c, url, value);
}

struct transfer {
    struct sl_client *client;
    const struct sl_request *req;
    struct sl_response *resp;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    size_t n = size * nmemb;
    if (t->resp->status == 0)
        curl_easy_getinfo(t->client->curl, CURLINFO_RESPONSE_CODE, &t->resp->status);

    if (t->req->sink != NULL && sl_response_is_success(t->resp)) {
        if (t->req->sink(ptr, n, t->req->sink_arg))
            return n;
        t->resp->is_stopped = true;
        return 0;
    }
    sl_buf_append(&t->resp->body, ptr, n);
    return t->resp->body.failed ? 0 : n;
}

/* Why the transfer failed, in the words a user knows ("Connection refused"). */
static const char *failure_reason(struct sl_client *c, CURLcode code)
{
    long os_errno = 0;
    curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
    if (os_errno != 0 &&
        (code == CURLE_COULDNT_CONNECT || code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR))
        return strerror((int)os_errno);
    if (c->errbuf[0] != '\0')
        return c->errbuf;
    return curl_easy_strerror(code);
}

enum sl_code sl_client_perform(struct sl_client *c, const struct sl_request *req, struct sl_response *resp,
                               struct sl_error *err)
{
    enum sl_code rc = SL_OK;
    CURL *curl = c->curl;
    struct curl_slist *headers = NULL;
    struct transfer t = {.client = c, .req = req, .resp = resp};

    memset(resp, 0, sizeof(*resp));
    sl_buf_init(&resp->body);

    bool has_accept = false;
    for (const char *const *h = req->headers; h != NULL && *h != NULL; h++) {
        has_accept |= strncasecmp(*h, "Accept:", 7) == 0;
        struct curl_slist *next = curl_slist_append(headers, *h);
        if (next == NULL) {
            rc = sl_errorf(err, SL_E_NOMEM, "cannot build the request: out of memory");
            goto out;
        }
        headers = next;
    }
    /* The server does not need "100 Continue" round trips; curl asks for them on large bodies. */
    const char *defaults[] = {has_accept ? NULL : "Accept: application/json", "Expect:"};
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        if (defaults[i] == NULL)
            continue;
        struct curl_slist *next = curl_slist_append(headers, defaults[i]);
        if (next == NULL) {
            rc = sl_errorf(err, SL_E_NOMEM, "cannot build the request: out of memory");
            goto out;
        }
        headers = next;
    }

    c->errbuf[0] = '\0';
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, req->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "sluice/" SL_VERSION);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
    }

    CURLcode code = curl_easy_perform(curl);
    if (resp->status == 0)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);

    if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && resp->is_stopped))
        goto out;
    if (code == CURLE_WRITE_ERROR && resp->body.failed) {
        rc = sl_errorf(err, SL_E_NOMEM, "out of memory reading the answer of %s", c->server);
        goto out;
    }
    if (resp->status == 0)
        rc = sl_errorf(err, SL_E_UNAVAILABLE, "cannot reach %s: %s", c->server, failure_reason(c, code));
    else
        rc = sl_errorf(err, SL_E_UNAVAILABLE, "lost the connection to %s: %s", c->server,
                       failure_reason(c, code));

out:
    curl_slist_free_all(headers);
    return rc;
}

void sl_response_free(struct sl_response *resp)
{
    if (resp == NULL)
        return;
    sl_buf_free(&resp->body);
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

void sl_response_message(const struct sl_response *resp, char *out, size_t size)
{
    const char *body = resp->body.data ? resp->body.data : "";
    size_t len = resp->body.len;

    json_t *root = json_loadb(body, len, 0, NULL);
    const char *message = json_string_value(json_object_get(root, "message"));
    if (message != NULL && message[0] != '\0') {
        snprintf(out, size, "%s", message);
        json_decref(root);
        return;
    }
    json_decref(root);

    /* Not our JSON: show the body on one line, or the status when there is none. */
    while (len > 0 && is_space(body[0])) {
        body++;
        len--;
    }
    while (len > 0 && is_space(body[len - 1]))
        len--;
    if (len == 0) {
        snprintf(out, size, "the server answered HTTP %ld", resp->status);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < size; i++)
        out[n++] = (body[i] == '\n' || body[i] == '\r' || body[i] == '\0') ? ' ' : body[i];
    out[n] = '\0';
}
