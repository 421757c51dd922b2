/* http_response.c: writing responses: the head, complete responses, the server's own errors,
 * and the write requests that carry them. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "server/http_internal.h"
#include "util/log.h"

/* One uv_write and the bytes it owns; both freed in on_write. */
struct conn_write {
    uv_write_t uv;
    struct sl_http_conn *conn;
    char *data;
};

static const char *reason_phrase(int status)
{
    const char *s = http_status_str((enum http_status)status);
    return (s == NULL || s[0] == '<') ? "Unknown" : s;
}

void sl_http_count_status(struct sl_server *srv, int status)
{
    if (status >= 400 && status < 500)
        srv->stats.responses_4xx++;
    else if (status >= 500)
        srv->stats.responses_5xx++;
}

/* Appends a response head. content_length < 0 leaves Content-Length out. */
void sl_http_head(struct sl_buf *b, int status, const char *content_type, int64_t content_length,
                  bool is_keep_alive, const char *extra_headers)
{
    sl_buf_printf(b, "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
    if (content_type != NULL)
        sl_buf_printf(b, "Content-Type: %s\r\n", content_type);
    if (content_length >= 0)
        sl_buf_printf(b, "Content-Length: %lld\r\n", (long long)content_length);
    sl_buf_puts(b, is_keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
    if (extra_headers != NULL)
        sl_buf_puts(b, extra_headers);
    sl_buf_puts(b, "\r\n");
}

static void on_write(uv_write_t *uv, int status)
{
    struct conn_write *w = (struct conn_write *)uv;
    struct sl_http_conn *c = w->conn;
    free(w->data);
    free(w);
    c->writes_pending--;
    if (status < 0) {
        /* The peer went away (or the handle is closing and the write was cancelled). */
        sl_http_conn_close(c);
        return;
    }
    if (c->is_backpressured && c->state == SL_CONN_OPEN &&
        uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0) {
        c->is_backpressured = false;
        struct sl_http_req *r = c->active;
        if (r != NULL && r->is_streaming && !r->pub.is_aborted && r->pub.on_drain != NULL)
            r->pub.on_drain(&r->pub);
    }
    /* A pipelining client that stopped reading may have held up parsing and reading. */
    sl_http_conn_resume(c);
}

/* Queues `data` (malloc'd, taken in every case) on the connection. A write that fails at once
 * marks the connection failed rather than closing it here: this may run inside a handler, which
 * must not see its own request aborted in the middle of a call. */
bool sl_http_conn_write(struct sl_http_conn *c, char *data, size_t len)
{
    if (c->state == SL_CONN_CLOSING || c->is_failed) {
        free(data);
        return false;
    }
    struct conn_write *w = len <= UINT_MAX ? malloc(sizeof(*w)) : NULL;
    if (w == NULL) {
        free(data);
        sl_http_conn_fail_later(c);
        return false;
    }
    w->conn = c;
    w->data = data;
    uv_buf_t buf = uv_buf_init(data, (unsigned int)len);
    int rc = uv_write(&w->uv, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
    if (rc != 0) {
        free(data);
        free(w);
        sl_http_conn_fail_later(c);
        return false;
    }
    c->writes_pending++;
    return true;
}

void sl_http_respond(struct sl_http_request *req, int status, const char *content_type, const char *body,
                     size_t body_len, const char *extra_headers)
{
    struct sl_http_req *r = sl_http_req_of(req);
    struct sl_http_conn *c = req->conn;
    if (r->is_streaming) {
        sl_warn("http", "%s %s: a streamed response was ended with sl_http_respond()", req->method,
                req->path);
        sl_http_stream_end(req);
        return;
    }
    if (req->is_aborted || c->state != SL_CONN_OPEN) {
        sl_http_conn_release(c, r, NULL, 0, false);
        return;
    }
    if (status < 200 || status > 599) {
        sl_warn("http", "%s %s: the handler answered with status %d; sending 500", req->method, req->path,
                status);
        status = 500;
    }
    /* RFC 9110: 204 and 304 carry neither a body nor a Content-Length. A response to HEAD has the
     * head a GET would get and no body: a client reads none, and would take one for the next response. */
    bool has_body = status != 204 && status != 304;
    bool is_head = strcmp(req->method, "HEAD") == 0;
    bool is_keep_alive = sl_http_conn_keeps_alive(c, r);

    struct sl_buf out;
    sl_buf_init(&out);
    sl_buf_reserve(&out, 256 + body_len);
    sl_http_head(&out, status, has_body ? content_type : NULL, has_body ? (int64_t)body_len : -1,
                 is_keep_alive, extra_headers);
    if (has_body && !is_head)
        sl_buf_append(&out, body, body_len);
    sl_http_count_status(c->srv, status);

    size_t len = 0;
    char *data = sl_buf_steal(&out, &len);
    if (data == NULL) {
        sl_warn("http", "%s %s: no memory for a response of %zu bytes; closing the connection", req->method,
                req->path, body_len);
        sl_http_conn_release(c, r, NULL, 0, false);
        return;
    }
    sl_http_conn_release(c, r, data, len, is_keep_alive);
}

/* Answers with one of the server's own errors and ends the connection. Only when no request is
 * with the handler: responses go out in request order. */
void sl_http_conn_fail(struct sl_http_conn *c, int status, const char *code, const char *message)
{
    if (c->state != SL_CONN_OPEN)
        return;
    if (c->active != NULL) {
        sl_http_conn_close(c);
        return;
    }
    struct sl_buf body;
    sl_buf_init(&body);
    sl_buf_puts(&body, "{\"error\":");
    sl_buf_json_string(&body, code, strlen(code));
    sl_buf_puts(&body, ",\"message\":");
    sl_buf_json_string(&body, message, strlen(message));
    sl_buf_puts(&body, "}");

    struct sl_buf out;
    sl_buf_init(&out);
    sl_http_head(&out, status, "application/json", (int64_t)body.len, false, NULL);
    sl_buf_append(&out, body.data, body.len);
    sl_buf_free(&body);
    sl_http_count_status(c->srv, status);

    size_t len = 0;
    char *data = sl_buf_steal(&out, &len);
    if (data != NULL)
        sl_http_conn_write(c, data, len);
    sl_http_conn_finish(c);
}
