/* http_request.c: a request as the parser fills it in, and the lookups handlers make on it. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/http_internal.h"

struct sl_http_req *sl_http_req_new(struct sl_http_conn *c)
{
    struct sl_http_req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    sl_buf_init(&r->url);
    sl_buf_init(&r->body);
    sl_buf_init(&r->field);
    sl_buf_init(&r->value);
    r->pub.method = "";
    r->pub.path = r->empty;
    r->pub.query = r->empty;
    r->pub.body = r->empty;
    r->pub.conn = c;
    return r;
}

void sl_http_req_free(struct sl_http_req *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->pub.n_headers; i++) {
        free(r->pub.headers[i].name);
        free(r->pub.headers[i].value);
    }
    free(r->pub.headers);
    sl_buf_free(&r->url);
    sl_buf_free(&r->body);
    sl_buf_free(&r->field);
    sl_buf_free(&r->value);
    free(r->target);
    free(r);
}

static char *steal_string(struct sl_buf *b)
{
    if (b->data == NULL && !b->failed)
        return strdup("");
    return sl_buf_steal(b, NULL);
}

/* Moves the header just read (r->field, r->value) into r->pub.headers, the name lower-cased and
 * the value without the trailing blanks the parser leaves on it. */
bool sl_http_req_end_header(struct sl_http_req *r)
{
    r->is_in_value = false;
    if (r->pub.n_headers == r->headers_cap) {
        size_t cap = r->headers_cap ? r->headers_cap * 2 : 16;
        struct sl_http_header *h = realloc(r->pub.headers, cap * sizeof(*h));
        if (h == NULL)
            return false;
        r->pub.headers = h;
        r->headers_cap = cap;
    }
    while (r->value.len > 0 &&
           (r->value.data[r->value.len - 1] == ' ' || r->value.data[r->value.len - 1] == '\t'))
        r->value.data[--r->value.len] = '\0';
    for (size_t i = 0; i < r->field.len; i++) {
        char ch = r->field.data[i];
        if (ch >= 'A' && ch <= 'Z')
            r->field.data[i] = (char)(ch - 'A' + 'a');
    }
    char *name = steal_string(&r->field);
    char *value = steal_string(&r->value);
    if (name == NULL || value == NULL) {
        free(name);
        free(value);
        return false;
    }
    r->pub.headers[r->pub.n_headers].name = name;
    r->pub.headers[r->pub.n_headers].value = value;
    r->pub.n_headers++;
    return true;
}

/* Splits the request target into path and query, in place. Origin form ("/p?q") is what clients
 * send to a server; absolute form ("http://host/p?q") is accepted as RFC 9112 asks, and "*" is
 * kept as the path. Anything else (CONNECT's host:port) is refused. The fragment, which clients
 * should not send, is dropped. */
bool sl_http_req_split_target(struct sl_http_req *r)
{
    if (r->url.failed || r->url.data == NULL)
        return false;
    char *t = sl_buf_steal(&r->url, NULL);
    if (t == NULL)
        return false;
    r->target = t;

    char *path = t;
    if (t[0] != '/' && strcmp(t, "*") != 0) {
        char *scheme_end = strstr(t, "://");
        if (scheme_end == NULL)
            return false;
        char *authority = scheme_end + 3;
        path = authority + strcspn(authority, "/?#");
        if (path == authority)
            return false; /* no host */
        if (*path != '/') {
            /* "http://host" or "http://host?q": the path is "/"; make room for it. */
            size_t rest = strlen(path);
            memmove(authority + 1, path, rest + 1);
            path = authority;
            path[0] = '/';
        }
    }
    char *hash = strchr(path, '#');
    if (hash != NULL)
        *hash = '\0';
    char *question = strchr(path, '?');
    if (question != NULL) {
        *question = '\0';
        r->pub.query = question + 1;
    }
    r->pub.path = path;
    return true;
}

const char *sl_http_header(const struct sl_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    }
    return NULL;
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..len) into a malloc'd string, '+' as a space. A '%' not followed by two
 * hex digits is kept as it is. */
static char *form_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[n++] = ' ';
        } else if (s[i] == '%' && i + 2 < len && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out[n++] = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out[n++] = s[i];
        }
    }
    out[n] = '\0';
    return out;
}

char *sl_http_query_param(const struct sl_http_request *req, const char *name)
{
    const char *q = req->query;
    if (q == NULL)
        return NULL;
    while (*q != '\0') {
        size_t pair_len = strcspn(q, "&");
        const char *eq = memchr(q, '=', pair_len);
        size_t key_len = eq ? (size_t)(eq - q) : pair_len;
        char *key = form_decode(q, key_len);
        if (key == NULL)
            return NULL;
        bool is_match = strcmp(key, name) == 0;
        free(key);
        if (is_match)
            return eq ? form_decode(eq + 1, pair_len - key_len - 1) : strdup("");
        q += pair_len;
        if (*q == '&')
            q++;
    }
    return NULL;
}
