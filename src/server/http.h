/* http.h: the HTTP/1.1 server on libuv, as seen by request handlers.
 *
 * The server parses requests with Debian's http-parser, enforces the limits
 * (header block, body size, per-request and idle timeouts), keeps connections
 * alive and answers pipelined requests in order: it hands a connection's next
 * request to the handler only after the previous response is complete.
 *
 * Threads: everything here runs on, and must be called from, the loop thread,
 * except sl_server_post(), which any thread may call.
 *
 * Ownership: the server owns each struct sl_http_request. A handler must end
 * every request exactly once with sl_http_respond() (or, for a streamed
 * response, sl_http_stream_end()), now or later. If the client disconnects
 * before that, the request stays valid until the handler ends it; the server
 * calls req->on_abort (when set) so long-lived handlers can stop early, and
 * discards whatever is written after. */
#ifndef SL_SERVER_HTTP_H
#define SL_SERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_server;
struct sl_http_conn;

struct sl_http_header {
    char *name; /* lower-cased */
    char *value;
};

struct sl_http_request {
    const char *method; /* "GET", "POST", ... */
    char *path;         /* raw path, percent-encoding kept, without the query */
    char *query;        /* raw query string without '?', "" when none */
    struct sl_http_header *headers;
    size_t n_headers;
    char *body; /* NUL-terminated for convenience; may contain NULs */
    size_t body_len;

    /* For the handler's own use. */
    void *user;
    /* Called on the loop thread when the client goes away before the request
     * was ended; the handler must still end it. */
    void (*on_abort)(struct sl_http_request *req);
    /* Called on the loop thread when a streamed response's queued bytes have
     * been written and it can take more (back-pressure). */
    void (*on_drain)(struct sl_http_request *req);

    struct sl_http_conn *conn; /* the server's */
    bool is_aborted;           /* the client went away */
};

/* The value of header `name` (lower-case), or NULL. */
const char *sl_http_header(const struct sl_http_request *req, const char *name);

/* The value of query parameter `name`, percent-decoded, in a malloc'd string
 * the caller frees; NULL when absent. */
char *sl_http_query_param(const struct sl_http_request *req, const char *name);

/* Ends the request with a complete response. `extra_headers` is NULL or a block of
 * "Name: value\r\n" lines. The body is copied. */
void sl_http_respond(struct sl_http_request *req, int status, const char *content_type, const char *body,
                     size_t body_len, const char *extra_headers);

/* Streamed responses (Server-Sent Events): begin, write any number of times,
 * end. The connection is not reused afterwards. */
void sl_http_stream_begin(struct sl_http_request *req, int status, const char *content_type,
                          const char *extra_headers);
void sl_http_stream_write(struct sl_http_request *req, const char *data, size_t len);
/* Bytes queued on the socket and not yet written. */
size_t sl_http_stream_pending(const struct sl_http_request *req);
void sl_http_stream_end(struct sl_http_request *req);

/* The request handler, called on the loop thread once a whole request has been read. */
typedef void (*sl_http_handler)(struct sl_http_request *req, void *arg);

#endif
