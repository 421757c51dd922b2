/* http_stream.c: streamed responses (Server-Sent Events): a head without Content-Length, then
 * bytes as they come, then the connection closes. No chunked encoding: the connection is not
 * reused, so the end of the body is the end of the connection. */
#include <stdlib.h>
#include <string.h>

#include "server/http_internal.h"
#include "util/log.h"

void sl_http_stream_begin(struct sl_http_request *req, int status, const char *content_type,
                          const char *extra_headers)
{
    struct sl_http_req *r = sl_http_req_of(req);
    struct sl_http_conn *c = req->conn;
    if (r->is_streaming)
        return;
    r->is_streaming = true;
    if (req->is_aborted || c->state != SL_CONN_OPEN)
        return;
    /* Whatever the client sends from now on is read (to notice it leaving) and dropped. */
    c->is_done_reading_requests = true;

    struct sl_buf out;
    sl_buf_init(&out);
    sl_http_head(&out, status, content_type, -1, false, extra_headers);
    sl_http_count_status(c->srv, status);
    size_t len = 0;
    char *data = sl_buf_steal(&out, &len);
    if (data == NULL) {
        sl_http_conn_fail_later(c);
        return;
    }
    sl_http_conn_write(c, data, len);
}

void sl_http_stream_write(struct sl_http_request *req, const char *data, size_t len)
{
    struct sl_http_req *r = sl_http_req_of(req);
    struct sl_http_conn *c = req->conn;
    if (!r->is_streaming) {
        sl_warn("http", "%s %s: sl_http_stream_write() before sl_http_stream_begin(); dropped", req->method,
                req->path);
        return;
    }
    if (req->is_aborted || c->state != SL_CONN_OPEN || len == 0)
        return;
    char *copy = malloc(len);
    if (copy == NULL) {
        sl_http_conn_fail_later(c);
        return;
    }
    memcpy(copy, data, len);
    if (sl_http_conn_write(c, copy, len) &&
        uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > SL_HTTP_DRAIN_MARK)
        c->is_backpressured = true;
}

size_t sl_http_stream_pending(const struct sl_http_request *req)
{
    const struct sl_http_conn *c = req->conn;
    if (req->is_aborted || c->state == SL_CONN_CLOSING)
        return 0;
    return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
}

void sl_http_stream_end(struct sl_http_request *req)
{
    struct sl_http_req *r = sl_http_req_of(req);
    /* Not keep-alive: the connection flushes what is queued, half-closes and goes. */
    sl_http_conn_release(req->conn, r, NULL, 0, false);
}
