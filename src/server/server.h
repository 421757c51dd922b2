/* server.h: the network loop: a libuv loop on one thread, one listening socket.
 *
 * sl_server_run() blocks the calling thread (which becomes the loop thread)
 * until sl_server_stop() or SIGINT/SIGTERM; then it stops accepting, lets
 * in-flight requests finish (up to a grace period of 5 s; a second signal cuts
 * it short), closes every connection and returns. It ignores SIGPIPE for the
 * whole process, as servers must. */
#ifndef SL_SERVER_SERVER_H
#define SL_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/grpc.h"
#include "server/http.h"
#include "util/error.h"

struct uv_loop_s;

struct sl_server_limits {
    size_t max_header_bytes; /* header block; over it: 431. Default 64 KiB */
    size_t max_body_bytes;   /* request body; over it: 413. Default 16 MiB */
    int header_timeout_ms;   /* from a request's first byte to its last header. Default 10 s */
    int request_timeout_ms;  /* from a request's first byte to its last body byte. Default 60 s */
    int idle_timeout_ms;     /* keep-alive connection with no request; HTTP/2: PINGed, closed if it does not
                                answer in as long again. Default 60 s */
    size_t max_connections;  /* over it, new connections are closed. Default 10 000 */
};

struct sl_server_options {
    const char *host;               /* an IPv4 or IPv6 literal ("127.0.0.1", "::1", "[::1]") or "localhost" */
    int port;                       /* 0: any free port; see sl_server_port() */
    struct sl_server_limits limits; /* zeros take the defaults */
    sl_http_handler handler;
    void *handler_arg;
    /* gRPC over HTTP/2 on the same port (server/grpc.h); NULL = HTTP/2 refused. */
    sl_grpc_handler grpc_handler;
    void *grpc_handler_arg;
};

struct sl_server;

enum sl_code sl_server_new(const struct sl_server_options *opts, struct sl_server **out,
                           struct sl_error *err);

/* Binds and runs the loop on the calling thread. Returns when stopped. */
enum sl_code sl_server_run(struct sl_server *srv, struct sl_error *err);

/* Asks the loop to stop; any thread, async-signal-safe is not required. */
void sl_server_stop(struct sl_server *srv);

/* Runs fn(arg) on the loop thread soon. Any thread. Calls are run in the order
 * they were posted. Posts keep working while in-flight requests drain during
 * shutdown; once the server has stopped, returns false (fn will not run). */
bool sl_server_post(struct sl_server *srv, void (*fn)(void *arg), void *arg);

/* The loop, for handlers that need timers or async handles of their own. Loop thread only. */
struct uv_loop_s *sl_server_loop(struct sl_server *srv);

/* Registers fn(arg) to run on the loop thread during shutdown, before
 * connections are closed (e.g. so subscriptions end their streams). */
void sl_server_on_shutdown(struct sl_server *srv, void (*fn)(void *arg), void *arg);

/* Counters for /metrics. Loop thread. */
struct sl_server_stats {
    uint64_t connections_accepted;
    uint64_t connections_open;
    uint64_t requests;
    uint64_t responses_4xx;
    uint64_t responses_5xx;
    uint64_t timeouts;
    uint64_t h2_connections;       /* connections that spoke HTTP/2 */
    uint64_t h2_connections_open;  /* of those, still open */
    uint64_t grpc_calls;           /* calls given to the gRPC handler */
    uint64_t grpc_calls_open;      /* of those, not yet finished by it */
    uint64_t grpc_calls_cancelled; /* reset by the client, or its connection lost, before finishing */
    uint64_t grpc_errors;          /* calls ended with a status other than OK, refusals included */
};
void sl_server_get_stats(const struct sl_server *srv, struct sl_server_stats *out);

/* The port the server listens on (useful with port 0): 0 until sl_server_run()
 * has started listening. Any thread. */
int sl_server_port(const struct sl_server *srv);

/* NULL-safe; after run returned. Frees, too, requests a handler never ended. */
void sl_server_free(struct sl_server *srv);

#endif
