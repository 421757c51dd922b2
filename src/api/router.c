/* router.c: which handler answers which method and path. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/request.h"
#include "api/respond.h"

/* Splits "/a/b/c" into at most `max` raw (still percent-encoded) segments. */
static size_t split_path(const char *path, const char *seg[], size_t seg_len[], size_t max)
{
    size_t n = 0;
    const char *p = path;
    while (*p == '/')
        p++;
    while (*p && n < max + 1) {
        const char *end = strchr(p, '/');
        if (end == NULL)
            end = p + strlen(p);
        if (n < max) {
            seg[n] = p;
            seg_len[n] = (size_t)(end - p);
        }
        n++;
        p = *end ? end + 1 : end;
    }
    return n;
}

static bool is(const char *seg, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(seg, word, len) == 0;
}

static void method_not_allowed(struct sl_http_request *req, const char *allowed)
{
    sl_api_error(req, 405, "method-not-allowed", NULL, "%s is not allowed here; use %s", req->method,
                 allowed);
}

static void route_stream(struct sl_api *api, struct sl_http_request *req, const char *raw, size_t raw_len,
                         bool is_metadata, bool is_subscription)
{
    size_t len;
    char *name = sl_api_percent_decode(raw, raw_len, &len);
    if (name == NULL) {
        sl_api_error(req, 400, "invalid-argument", "stream",
                     "the stream name has a malformed percent-escape");
        return;
    }
    const char *m = req->method;
    bool is_all = len == 4 && memcmp(name, "$all", 4) == 0;
    if (is_subscription) {
        if (strcmp(m, "GET") == 0)
            sl_api_subscribe(api, req, name, len);
        else
            method_not_allowed(req, "GET");
    } else if (is_metadata) {
        if (strcmp(m, "GET") == 0)
            sl_api_get_metadata(api, req, name, len);
        else if (strcmp(m, "PUT") == 0)
            sl_api_put_metadata(api, req, name, len);
        else
            method_not_allowed(req, "GET or PUT");
    } else if (is_all) {
        if (strcmp(m, "GET") == 0)
            sl_api_read_all(api, req);
        else
            method_not_allowed(req, "GET");
    } else if (strcmp(m, "GET") == 0) {
        sl_api_read_stream(api, req, name, len);
    } else if (strcmp(m, "POST") == 0) {
        sl_api_append(api, req, name, len);
    } else if (strcmp(m, "DELETE") == 0) {
        sl_api_delete_stream(api, req, name, len);
    } else {
        method_not_allowed(req, "GET, POST or DELETE");
    }
    free(name);
}

void sl_api_handle(struct sl_http_request *req, void *arg)
{
    struct sl_api *api = arg;
    const char *seg[4];
    size_t len[4];
    size_t n = split_path(req->path, seg, len, 4);

    if (n >= 1 && n <= 4 && is(seg[0], len[0], "connectors")) {
        sl_api_connectors(api, req, seg, len, n);
        return;
    }
    if (n >= 2 && n <= 3 && is(seg[0], len[0], "streams")) {
        if (n == 2 || is(seg[2], len[2], "metadata")) {
            route_stream(api, req, seg[1], len[1], n == 3, false);
            return;
        }
    } else if (n == 2 && is(seg[0], len[0], "subscriptions")) {
        route_stream(api, req, seg[1], len[1], false, true);
        return;
    } else if (n == 2 && is(seg[0], len[0], "health") &&
               (is(seg[1], len[1], "live") || is(seg[1], len[1], "ready"))) {
        if (strcmp(req->method, "GET") != 0)
            method_not_allowed(req, "GET");
        else if (is(seg[1], len[1], "live"))
            sl_api_health_live(api, req);
        else
            sl_api_health_ready(api, req);
        return;
    } else if (n == 1 && is(seg[0], len[0], "metrics")) {
        if (strcmp(req->method, "GET") != 0)
            method_not_allowed(req, "GET");
        else
            sl_api_metrics(api, req);
        return;
    }
    sl_api_error(req, 404, "not-found", "path", "no resource at this path");
}
