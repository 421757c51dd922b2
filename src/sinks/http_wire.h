/* http_wire.h: one kept-alive HTTP/1.1 connection that carries requests the
 * caller has framed, and reads their answers.
 *
 * libcurl sets the connection up (name resolution, connect timeout, proxy
 * tunnel, TLS) with CURLOPT_CONNECT_ONLY; the request bytes go out through
 * curl_easy_send and the answer, read with curl_easy_recv, is parsed by
 * http-parser. Why not libcurl's own transfers: for the small requests a
 * connector sends one after another, libcurl's per-transfer work (parsing the
 * URL again, formatting the head, matching every header against its own,
 * searching its connection cache) cost several times the round trip itself;
 * the head of a sink request is a handful of lines the sink writes anyway.
 *
 * Threads: one owner thread per struct sl_http_wire. Calls block for at most
 * the timeout given at creation, and return within HTTP_WIRE_POLL_MS of
 * `*cancel` becoming true (a connect in progress looks at it about once a
 * second: libcurl's progress callback).
 *
 * Ownership: the caller owns everything it passes; the wire keeps copies. */
#ifndef SL_SINKS_HTTP_WIRE_H
#define SL_SINKS_HTTP_WIRE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_HTTP_SNIPPET_MAX 120 /* bytes of an answer's body kept, to quote in an error */

struct sl_http_wire;

struct sl_http_wire_options {
    long timeout_ms;      /* for one exchange, connecting included */
    bool is_tls_verified; /* check the server's certificate and name */
    const char *ca_file;  /* PEM file of trusted CAs, NULL or "" for the system's */
};

/* What came back for one request. */
struct sl_http_answer {
    int status;
    int64_t retry_after_ms;                /* from Retry-After (seconds or an HTTP date), -1 without */
    char snippet[SL_HTTP_SNIPPET_MAX + 1]; /* the body's start, control characters as spaces */
    size_t snippet_len;
};

enum sl_http_exchange {
    SL_HTTP_ANSWERED,  /* `answer` holds the final (non-1xx) answer */
    SL_HTTP_FAILED,    /* no answer: connection or timeout; `error` says why; worth a retry */
    SL_HTTP_BAD_URL,   /* the origin cannot be reached as written (scheme, syntax); no retry mends it */
    SL_HTTP_CANCELLED, /* `*cancel` became true */
};

/* A wire with no connection yet; NULL when out of memory. */
struct sl_http_wire *sl_http_wire_new(const struct sl_http_wire_options *options);

/* Frees the buffer kept for writing requests through TLS; the connection
 * stays. NULL-safe. */
void sl_http_wire_release(struct sl_http_wire *w);

/* Closes the connection and frees the wire. NULL-safe. */
void sl_http_wire_free(struct sl_http_wire *w);

/* Sends `head` (request line and header lines, ending in an empty line) and
 * then `body` to `origin` ("scheme://authority", NUL-terminated), on the
 * connection kept from the last exchange when it went to the same origin, else
 * on a new one, and reads the answer. When a kept connection turns out to be
 * closed before any byte of an answer arrives, the request is sent once more
 * on a new connection (it may then reach the server twice). The connection is
 * dropped after an answer that does not keep it alive and after any failure. */
enum sl_http_exchange sl_http_wire_exchange(struct sl_http_wire *w, const char *origin, const char *head,
                                            size_t head_len, const void *body, size_t body_len,
                                            const _Atomic bool *cancel, struct sl_http_answer *answer,
                                            char *error, size_t error_size);

/* A Retry-After value (delta seconds or an HTTP date) as milliseconds from
 * now; -1 when it is neither. */
int64_t sl_http_retry_after_ms(const char *value, size_t len);

#endif
