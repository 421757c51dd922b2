/* serve.c: `sluice serve`: the store, the API and the network loop, wired. */
#include "api/serve.h"

#include <limits.h>
#include <stdatomic.h>

#include "api/api.h"
#include "connectors/manager.h"
#include "util/clock.h"
#include "util/log.h"

/* Writer thread: one wake-up in flight at a time, however many commits. */
static void on_commit(void *arg);

static void wake_subscriptions(void *arg)
{
    struct sl_api *api = arg;
    atomic_store(&api->commit_pending, false);
    sl_subscriptions_on_commit(api->subs);
    sl_api_grpc_streams_on_commit(api->grpc_streams);
}

static void on_commit(void *arg)
{
    struct sl_api *api = arg;
    if (!atomic_exchange(&api->commit_pending, true) && !sl_server_post(api->server, wake_subscriptions, api))
        atomic_store(&api->commit_pending, false);
}

static void on_shutdown(void *arg)
{
    struct sl_api *api = arg;
    sl_subscriptions_end_all(api->subs);
    sl_api_grpc_streams_end_all(api->grpc_streams);
}

enum sl_code sl_api_follow_store(struct sl_api *api, struct sl_error *err)
{
    sl_server_on_shutdown(api->server, on_shutdown, api);
    enum sl_code code = sl_store_watch(api->store, on_commit, api);
    if (code != SL_OK)
        return sl_errorf(err, code, "the store takes no more commit watchers (at most %d)",
                         SL_STORE_MAX_WATCHERS);
    return SL_OK;
}

static int clamp_ms(size_t ms)
{
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

int sl_serve_main(const struct sl_config *cfg)
{
    struct sl_error err = {0};
    struct sl_api api = {.started_us = sl_now_us()};
    struct sl_store_options so = {
        .data_dir = cfg->data_dir,
        .map_size = cfg->map_size,
        .max_event_bytes = cfg->max_event_bytes,
        .max_append_events = cfg->max_append_events,
    };
    if (sl_store_open(&so, &api.store, &err) != SL_OK) {
        sl_error("serve", "%s", err.message);
        return 1;
    }
    if (sl_connectors_open(api.store, &api.connectors, &err) != SL_OK) {
        sl_error("serve", "cannot open the connectors: %s", err.message);
        sl_store_close(api.store);
        return 1;
    }
    api.admin_token = cfg->admin_token;
    api.subs = sl_subscriptions_new(&api);
    api.grpc_streams = sl_api_grpc_streams_new(&api);
    struct sl_server_options o = {
        .host = cfg->listen_host,
        .port = cfg->listen_port,
        .limits = {.max_header_bytes = cfg->max_header_bytes,
                   .max_body_bytes = cfg->max_body_bytes,
                   .header_timeout_ms = clamp_ms(cfg->header_timeout_ms),
                   .request_timeout_ms = clamp_ms(cfg->request_timeout_ms),
                   .idle_timeout_ms = clamp_ms(cfg->idle_timeout_ms)},
        .handler = sl_api_handle,
        .handler_arg = &api,
        .grpc_handler = sl_api_grpc_handle,
        .grpc_handler_arg = &api,
    };
    int rc = 1;
    if (api.subs == NULL || api.grpc_streams == NULL || sl_server_new(&o, &api.server, &err) != SL_OK) {
        sl_error("serve", "%s", api.subs && api.grpc_streams ? err.message : "out of memory");
        goto out;
    }
    if (sl_api_follow_store(&api, &err) != SL_OK || sl_server_run(api.server, &err) != SL_OK) {
        sl_error("serve", "%s", err.message);
        goto out;
    }
    rc = 0;
out:
    /* Connectors first (they write checkpoints), then the store: its last
     * commits may still call on_commit, which needs the server. */
    sl_connectors_close(api.connectors);
    sl_store_close(api.store);
    sl_server_free(api.server);
    sl_subscriptions_free(api.subs);
    sl_api_grpc_streams_free(api.grpc_streams);
    sl_info("serve", "stopped");
    return rc;
}
