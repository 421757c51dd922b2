/* client.h: the HTTP plumbing the CLI commands share, on libcurl's easy interface.
 *
 * One struct sl_client per command, used by one thread; it keeps one
 * connection alive across the requests of a command (e.g. the pages of a
 * read). curl_global_init() must have run before sl_client_init().
 *
 * sl_client_perform() returns SL_OK whenever the server answered, whatever the
 * status: the caller decides what a 4xx means. It returns SL_E_UNAVAILABLE
 * when the server could not be reached ("cannot reach URL: reason") or the
 * connection broke during the answer ("lost the connection to URL: reason"),
 * and SL_E_NOMEM when memory ran out. */
#ifndef SL_CLI_CLIENT_H
#define SL_CLI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/error.h"

#define SL_CLIENT_DEFAULT_SERVER "http://127.0.0.1:2113"

struct sl_client {
    void *curl;   /* CURL * */
    char *server; /* base URL, without a trailing '/' */
    char errbuf[256];
};

/* Called with each piece of a 2xx body as it arrives; returns false to stop the transfer. */
typedef bool (*sl_client_sink)(const char *data, size_t len, void *arg);

struct sl_request {
    const char *method;         /* "GET" or "POST" */
    const char *url;            /* absolute, as built by sl_client_url() */
    const char *const *headers; /* NULL-terminated "Name: value" strings, or NULL */
    const char *body;           /* for POST */
    size_t body_len;
    sl_client_sink sink; /* NULL: the body is gathered in resp->body */
    void *sink_arg;
};

struct sl_response {
    long status;        /* 0 until the status line arrived */
    struct sl_buf body; /* the whole body, unless a sink took a 2xx body */
    bool is_stopped;    /* the sink asked to stop */
};

/* `server` is a base URL such as "http://127.0.0.1:2113" (a trailing '/' is dropped). */
enum sl_code sl_client_init(struct sl_client *c, const char *server, struct sl_error *err);
void sl_client_free(struct sl_client *c); /* NULL-safe */

/* Appends "<server>/<prefix>/<stream>" to `url`, with the stream name
 * percent-encoded; "$all" is kept as it is. */
void sl_client_url(struct sl_client *c, struct sl_buf *url, const char *prefix, const char *stream);

/* Appends "?name=value" (or "&name=value" after the first) with `value` percent-encoded. */
void sl_client_query(struct sl_client *c, struct sl_buf *url, const char *name, const char *value);

/* Sends the request and waits for the whole answer (or the end of the stream,
 * for a sink). `resp` is initialised here; free its body with sl_response_free(). */
enum sl_code sl_client_perform(struct sl_client *c, const struct sl_request *req, struct sl_response *resp,
                               struct sl_error *err);

void sl_response_free(struct sl_response *resp);

static inline bool sl_response_is_success(const struct sl_response *resp)
{
    return resp->status >= 200 && resp->status < 300;
}

/* What to tell the user about a failed answer: the "message" of the JSON error
 * body, else the body itself (trimmed, one line), else "HTTP <status>".
 * Writes into out[size]. */
void sl_response_message(const struct sl_response *resp, char *out, size_t size);

#endif
