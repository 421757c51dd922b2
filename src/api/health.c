/* health.c: liveness, readiness and Prometheus metrics. */
#include <string.h>

#include "api/api.h"
#include "api/respond.h"
#include "connectors/manager.h"
#include "util/clock.h"
#include "util/histogram.h"

void sl_api_health_live(struct sl_api *api, struct sl_http_request *req)
{
    (void)api;
    static const char body[] = "{\"status\":\"live\"}";
    sl_http_respond(req, 200, "application/json", body, sizeof(body) - 1, NULL);
}

/* Not ready while the disk refuses commits: a load balancer should move
 * writers elsewhere, and the reason is in the log and in /metrics. */
void sl_api_health_ready(struct sl_api *api, struct sl_http_request *req)
{
    struct sl_store_stats st;
    sl_store_get_stats(api->store, &st);
    if (st.last_commit_failed) {
        sl_api_error(req, 503, "storage-failing", NULL, "the last commit failed (disk full or I/O error)");
        return;
    }
    static const char body[] = "{\"status\":\"ready\"}";
    sl_http_respond(req, 200, "application/json", body, sizeof(body) - 1, NULL);
}

static void metric(struct sl_buf *b, const char *name, const char *type, const char *help, double value)
{
    sl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, value);
}

void sl_api_metrics(struct sl_api *api, struct sl_http_request *req)
{
    struct sl_store_stats st;
    struct sl_server_stats ss;
    sl_store_get_stats(api->store, &st);
    sl_server_get_stats(api->server, &ss);
    struct sl_buf b;
    sl_buf_init(&b);
    metric(&b, "sluice_store_commits_total", "counter", "LMDB commits (one fsync each)", (double)st.commits);
    metric(&b, "sluice_store_writes_total", "counter", "write operations committed", (double)st.writes);
    metric(&b, "sluice_store_events_written_total", "counter", "events written", (double)st.events_written);
    metric(&b, "sluice_store_write_errors_total", "counter", "write operations that failed",
           (double)st.write_errors);
    metric(&b, "sluice_store_commit_seconds_total", "counter", "time spent committing",
           (double)st.commit_us_total / 1e6);
    sl_buf_puts(&b,
                "# HELP sluice_store_commit_duration_seconds one LMDB commit: page writes and both syncs\n"
                "# TYPE sluice_store_commit_duration_seconds histogram\n");
    sl_histogram_write(&b, "sluice_store_commit_duration_seconds", "", sl_store_commit_histogram(api->store));
    sl_buf_puts(&b,
                "# HELP sluice_store_write_duration_seconds one write from queued to answered: waiting for "
                "the writer, applying, committing\n"
                "# TYPE sluice_store_write_duration_seconds histogram\n");
    sl_histogram_write(&b, "sluice_store_write_duration_seconds", "", sl_store_write_histogram(api->store));
    metric(&b, "sluice_store_max_batch", "gauge", "most write operations in one commit",
           (double)st.max_batch);
    metric(&b, "sluice_store_head_position", "gauge", "position of the last committed event",
           (double)st.head);
    metric(&b, "sluice_store_map_size_bytes", "gauge", "LMDB map size", (double)st.map_size);
    metric(&b, "sluice_store_map_resizes_total", "counter", "times the map grew", (double)st.map_resizes);
    metric(&b, "sluice_store_ready", "gauge", "1 when the last commit succeeded",
           st.last_commit_failed ? 0 : 1);
    metric(&b, "sluice_http_connections_accepted_total", "counter", "connections accepted",
           (double)ss.connections_accepted);
    metric(&b, "sluice_http_connections_open", "gauge", "connections open", (double)ss.connections_open);
    metric(&b, "sluice_http_requests_total", "counter", "requests handled", (double)ss.requests);
    metric(&b, "sluice_http_responses_4xx_total", "counter", "client error responses",
           (double)ss.responses_4xx);
    metric(&b, "sluice_http_responses_5xx_total", "counter", "server error responses",
           (double)ss.responses_5xx);
    metric(&b, "sluice_http_timeouts_total", "counter", "connections cut for a timeout", (double)ss.timeouts);
    metric(&b, "sluice_subscriptions_active", "gauge", "open Server-Sent Events subscriptions",
           (double)sl_subscriptions_count(api->subs));
    if (api->connectors)
        sl_connectors_write_metrics(api->connectors, &b);
    metric(&b, "sluice_uptime_seconds", "gauge", "time since start",
           (double)(sl_now_us() - api->started_us) / 1e6);
    if (b.failed) {
        sl_buf_free(&b);
        sl_api_error(req, 500, "out-of-memory", NULL, "out of memory");
        return;
    }
    sl_http_respond(req, 200, "text/plain; version=0.0.4", b.data, b.len, NULL);
    sl_buf_free(&b);
}
