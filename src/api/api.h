/* api.h: the HTTP request handlers and the state they share.
 *
 * sl_api_handle() is the server's request handler: it routes a request to the
 * handler of its path and method. Every handler runs on the loop thread and
 * ends its request exactly once (see server/http.h); handlers that wait for
 * the store's writer hand their completion back to the loop with
 * sl_server_post(). */
#ifndef SL_API_API_H
#define SL_API_API_H

#include <stdatomic.h>

#include "server/server.h"
#include "store/store.h"

struct sl_subscriptions;
struct sl_connectors;
struct sl_grpc_streams;

struct sl_api {
    struct sl_store *store;
    struct sl_server *server;
    struct sl_subscriptions *subs;
    struct sl_grpc_streams *grpc_streams; /* gRPC reads and subscriptions in progress */
    struct sl_connectors *connectors;
    const char *admin_token;     /* bearer token that may see secrets; NULL = nobody */
    _Atomic bool commit_pending; /* a head change is posted to the loop and not yet handled */
    int64_t started_us;
};

void sl_api_handle(struct sl_http_request *req, void *arg);

/* Wires `api` to its server as `sluice serve` does (serve.c): after a commit that moves the head
 * the loop wakes once, however many commits there were, and the HTTP and gRPC subscriptions read
 * on; when the server shuts down they end. Needs api->store, ->server, ->subs and ->grpc_streams;
 * call it once, on the thread that will run the loop, before it runs. SL_E_TOO_LARGE when the
 * store has no room for another commit watcher. */
enum sl_code sl_api_follow_store(struct sl_api *api, struct sl_error *err);

/* Handlers, by resource. `name` is the percent-decoded stream name. */
void sl_api_append(struct sl_api *api, struct sl_http_request *req, const char *name, size_t len);
void sl_api_read_stream(struct sl_api *api, struct sl_http_request *req, const char *name, size_t len);
void sl_api_read_all(struct sl_api *api, struct sl_http_request *req);
void sl_api_delete_stream(struct sl_api *api, struct sl_http_request *req, const char *name, size_t len);
void sl_api_get_metadata(struct sl_api *api, struct sl_http_request *req, const char *name, size_t len);
void sl_api_put_metadata(struct sl_api *api, struct sl_http_request *req, const char *name, size_t len);
void sl_api_subscribe(struct sl_api *api, struct sl_http_request *req, const char *name, size_t len);
void sl_api_health_live(struct sl_api *api, struct sl_http_request *req);
void sl_api_health_ready(struct sl_api *api, struct sl_http_request *req);
void sl_api_metrics(struct sl_api *api, struct sl_http_request *req);
/* /connectors[/...]: `seg` holds the n raw path segments, seg[0] = "connectors". */
void sl_api_connectors(struct sl_api *api, struct sl_http_request *req, const char *const *seg,
                       const size_t *len, size_t n);

/* Subscriptions (subscriptions.c). */
struct sl_subscriptions *sl_subscriptions_new(struct sl_api *api);
void sl_subscriptions_on_commit(struct sl_subscriptions *subs); /* loop thread: the head moved */
void sl_subscriptions_end_all(struct sl_subscriptions *subs);   /* loop thread: shutdown */
size_t sl_subscriptions_count(const struct sl_subscriptions *subs);
void sl_subscriptions_free(struct sl_subscriptions *subs);

/* gRPC (grpc_*.c): the call handler for server/grpc.h (`arg` is the struct
 * sl_api), and the server-streaming calls that outlive one loop turn: reads
 * that wait for the client to drain, and subscriptions that follow the head. */
void sl_api_grpc_handle(struct sl_grpc_call *call, void *arg);
struct sl_grpc_streams *sl_api_grpc_streams_new(struct sl_api *api);
void sl_api_grpc_streams_on_commit(struct sl_grpc_streams *streams); /* loop thread: the head moved */
void sl_api_grpc_streams_end_all(struct sl_grpc_streams *streams);   /* loop thread: shutdown */
size_t sl_api_grpc_streams_count(const struct sl_grpc_streams *streams);
void sl_api_grpc_streams_free(struct sl_grpc_streams *streams); /* NULL-safe; after end_all */

#endif
