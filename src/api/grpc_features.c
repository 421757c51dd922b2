/* grpc_features.c: ServerFeatures/GetSupportedMethods: the server version and
 * the methods that work, lower case, as the clients look them up.
 *
 * Only what really works is listed: once `batchappend` is listed, the Node
 * client sends every appendToStream through BatchAppend. */
#include "api/grpc_handlers.h"

#define STREAMS "event_store.client.streams.streams"
#define FEATURES "event_store.client.server_features.serverfeatures"

static const char *const read_features[] = {"position", "events", NULL};
static const char *const batch_append_features[] = {"deadline_duration", NULL};

static const struct sl_grpc_method methods[] = {
    /* method                service   features */
    {"read", STREAMS, read_features},
    {"append", STREAMS, NULL},
    {"batchappend", STREAMS, batch_append_features},
    {"delete", STREAMS, NULL},
    {"tombstone", STREAMS, NULL},
    {"getsupportedmethods", FEATURES, NULL},
};

static void answer(struct sl_grpc_call *call)
{
    struct sl_buf out;
    sl_buf_init(&out);
    if (sl_grpc_encode_supported_methods(&out, methods, sizeof(methods) / sizeof(methods[0]),
                                         SL_GRPC_SERVER_VERSION)) {
        sl_api_grpc_send(call, &out);
        sl_api_grpc_finish(call, SL_GRPC_OK, NULL, NULL, 0);
    } else {
        sl_api_grpc_finish(call, SL_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
    }
    sl_buf_free(&out);
}

/* The request is an empty message; its content does not matter. */
static void on_message(struct sl_grpc_call *call, const uint8_t *msg, size_t len)
{
    (void)msg;
    (void)len;
    answer(call);
}

static void on_half_close(struct sl_grpc_call *call)
{
    answer(call); /* no message at all: answer anyway */
}

static void on_cancel(struct sl_grpc_call *call)
{
    sl_api_grpc_finish(call, SL_GRPC_CANCELLED, "cancelled", NULL, 0);
}

void sl_api_grpc_features(struct sl_api *api, struct sl_grpc_call *call)
{
    (void)api;
    call->on_message = on_message;
    call->on_half_close = on_half_close;
    call->on_cancel = on_cancel;
}
