/* grpc_router.c: which handler answers which gRPC method. */
#include <stdio.h>
#include <string.h>

#include "api/grpc_connectors.h"
#include "api/grpc_handlers.h"

static void delete_stream(struct sl_api *api, struct sl_grpc_call *call)
{
    sl_api_grpc_delete(api, call, false);
}

static void tombstone_stream(struct sl_api *api, struct sl_grpc_call *call)
{
    sl_api_grpc_delete(api, call, true);
}

static const struct {
    const char *path;
    void (*handle)(struct sl_api *api, struct sl_grpc_call *call);
} routes[] = {
    {"/event_store.client.streams.Streams/Read", sl_api_grpc_read},
    {"/event_store.client.streams.Streams/Append", sl_api_grpc_append},
    {"/event_store.client.streams.Streams/BatchAppend", sl_api_grpc_batch_append},
    {"/event_store.client.streams.Streams/Delete", delete_stream},
    {"/event_store.client.streams.Streams/Tombstone", tombstone_stream},
    {"/event_store.client.server_features.ServerFeatures/GetSupportedMethods", sl_api_grpc_features},
    {"/eventstore.connectors.v1.ConnectorsCommandService/Create", sl_api_grpc_connectors},
    {"/eventstore.connectors.v1.ConnectorsCommandService/Reconfigure", sl_api_grpc_connectors},
    {"/eventstore.connectors.v1.ConnectorsCommandService/Delete", sl_api_grpc_connectors},
    {"/eventstore.connectors.v1.ConnectorsCommandService/Start", sl_api_grpc_connectors},
    {"/eventstore.connectors.v1.ConnectorsCommandService/Reset", sl_api_grpc_connectors},
    {"/eventstore.connectors.v1.ConnectorsCommandService/Stop", sl_api_grpc_connectors},
    {"/eventstore.connectors.v1.ConnectorsCommandService/Rename", sl_api_grpc_connectors},
    {"/eventstore.connectors.v1.ConnectorsQueryService/List", sl_api_grpc_connectors},
    {"/eventstore.connectors.v1.ConnectorsQueryService/GetSettings", sl_api_grpc_connectors},
    {"/eventstore.connectors.v1.ConnectorsQueryService/GetConfiguration", sl_api_grpc_connectors},
};

void sl_api_grpc_handle(struct sl_grpc_call *call, void *arg)
{
    struct sl_api *api = arg;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (call->path && strcmp(call->path, routes[i].path) == 0) {
            routes[i].handle(api, call);
            return;
        }
    }
    sl_api_grpc_unknown_method(call);
}

void sl_api_grpc_unknown_method(struct sl_grpc_call *call)
{
    char message[300];
    snprintf(message, sizeof(message), "Method %.256s is not served by sluice", call->path ? call->path : "");
    sl_api_grpc_finish(call, SL_GRPC_UNIMPLEMENTED, message, NULL, 0);
}
