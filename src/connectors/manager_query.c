/* manager_query.c: what the API shows of the connectors (spec §3, §8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connectors/definition.h"
#include "connectors/manager_internal.h"
#include "util/clock.h"
#include "util/histogram.h"

static json_t *time_or_null(int64_t us)
{
    if (us == 0)
        return json_null();
    char text[32];
    sl_format_rfc3339_us(us, text);
    return json_string(text);
}

/* True when `value` is one of the comma-separated `list` (ignoring case). */
static bool in_list(const char *list, const char *value)
{
    size_t n = strlen(value);
    const char *p = list;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && *p == ' ') {
            p++;
            len--;
        }
        while (len && p[len - 1] == ' ')
            len--;
        if (len == n && strncasecmp(p, value, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* Aliases name the same sink: `HttpSink` matches a connector created as `http-sink`. */
static bool type_in_list(const char *list, const struct connector *c)
{
    char item[128];
    const char *p = list;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        snprintf(item, sizeof(item), "%.*s", (int)len, p);
        if (c->sink && sl_sink_find(item) == c->sink)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

static const char *instance_type(const struct connector *c)
{
    const char *t = sl_settings_get(&c->settings, "instanceTypeName");
    return t ? t : "";
}

/* Caller holds the lock. */
static json_t *item(struct sl_connectors *m, const struct connector *c, bool with_settings, bool show_secrets)
{
    json_t *o = json_object();
    json_object_set_new(o, "connectorId", json_string(c->id));
    json_object_set_new(o, "instanceTypeName", json_string(instance_type(c)));
    json_object_set_new(o, "name", json_string(c->name ? c->name : c->id));
    json_object_set_new(o, "state", json_string(sl_connector_state_names[c->state]));
    json_object_set_new(o, "stateUpdateTime", time_or_null(c->state_us));
    if (with_settings) {
        const struct sl_setting *tables[3];
        sl_connector_tables(c->sink, tables);
        json_object_set_new(o, "settings", sl_settings_to_flat_json(&c->settings, tables, show_secrets));
    }
    json_object_set_new(o, "settingsUpdateTime", time_or_null(c->settings_us));
    json_object_set_new(o, "position", c->has_position ? json_integer((json_int_t)c->position) : json_null());
    json_object_set_new(o, "positionUpdateTime", time_or_null(c->position_us));
    json_object_set_new(o, "createTime", time_or_null(c->create_us));
    json_object_set_new(o, "updateTime", time_or_null(c->update_us));
    json_object_set_new(o, "deleteTime", time_or_null(c->is_deleted ? c->delete_us : 0));
    if (c->has_error)
        json_object_set_new(o, "errorDetails",
                            json_pack("{s:s,s:s}", "code", c->error_code, "message", c->error_message));
    else
        json_object_set_new(o, "errorDetails", json_null());
    uint64_t head = sl_store_head(m->store);
    uint64_t done = c->state == STOPPED ? c->position : atomic_load(&c->counters.processed_position);
    json_object_set_new(o, "lag", json_integer((json_int_t)(head > done ? head - done : 0)));
    json_object_set_new(o, "delivered", json_integer((json_int_t)atomic_load(&c->counters.delivered)));
    json_object_set_new(o, "filtered", json_integer((json_int_t)atomic_load(&c->counters.filtered)));
    json_object_set_new(o, "failed", json_integer((json_int_t)atomic_load(&c->counters.failed)));
    json_object_set_new(o, "deadLettered", json_integer((json_int_t)atomic_load(&c->counters.dead_lettered)));
    json_object_set_new(o, "lastErrorTime", time_or_null(atomic_load(&c->counters.last_error_us)));
    return o;
}

static int by_id(const void *a, const void *b)
{
    const struct connector *x = *(struct connector *const *)a, *y = *(struct connector *const *)b;
    return strcmp(x->id, y->id);
}

json_t *sl_connectors_list(struct sl_connectors *m, const struct sl_connector_query *q)
{
    json_t *items = json_array();
    size_t total = 0;
    size_t first = (q->page ? q->page - 1 : 0) * q->page_size;
    pthread_mutex_lock(&m->lock);
    struct connector **sorted = malloc((m->count ? m->count : 1) * sizeof(*sorted));
    if (sorted && m->count)
        memcpy(sorted, m->items, m->count * sizeof(*sorted));
    size_t n = sorted ? m->count : 0;
    if (n > 1)
        qsort(sorted, n, sizeof(*sorted), by_id);
    for (size_t i = 0; i < n; i++) {
        const struct connector *c = sorted[i];
        if (c->is_deleted && !q->show_deleted)
            continue;
        if (q->states && q->states[0] && !in_list(q->states, sl_connector_state_names[c->state]) &&
            !in_list(q->states, sl_connector_state_names[c->state] + strlen("CONNECTOR_STATE_")))
            continue;
        if (q->instance_types && q->instance_types[0] && !type_in_list(q->instance_types, c))
            continue;
        if (q->ids && q->ids[0] && !in_list(q->ids, c->id))
            continue;
        if (total >= first && total < first + q->page_size)
            json_array_append_new(items, item(m, c, q->include_settings, q->show_secrets));
        total++;
    }
    pthread_mutex_unlock(&m->lock);
    free(sorted);
    return json_pack("{s:o,s:I}", "items", items, "totalSize", (json_int_t)total);
}

enum sl_code sl_connectors_get(struct sl_connectors *m, const char *id, bool show_secrets, json_t **out,
                               struct sl_error *err)
{
    *out = NULL;
    pthread_mutex_lock(&m->lock);
    struct connector *c = sl_manager_find(m, id);
    if (c && !c->is_deleted)
        *out = item(m, c, true, show_secrets);
    pthread_mutex_unlock(&m->lock);
    return *out ? SL_OK : sl_errorf(err, SL_E_NOT_FOUND, "connector %s does not exist", id);
}

enum sl_code sl_connectors_settings(struct sl_connectors *m, const char *id, bool nested, bool show_secrets,
                                    json_t **out, struct sl_error *err)
{
    *out = NULL;
    pthread_mutex_lock(&m->lock);
    struct connector *c = sl_manager_find(m, id);
    if (c && !c->is_deleted) {
        const struct sl_setting *tables[3];
        sl_connector_tables(c->sink, tables);
        json_t *s = nested ? sl_settings_to_nested_json(&c->settings, tables, show_secrets)
                           : sl_settings_to_flat_json(&c->settings, tables, show_secrets);
        *out = json_pack("{s:o,s:o}", nested ? "configuration" : "settings", s, "settingsUpdateTime",
                         time_or_null(c->settings_us));
    }
    pthread_mutex_unlock(&m->lock);
    return *out ? SL_OK : sl_errorf(err, SL_E_NOT_FOUND, "connector %s does not exist", id);
}

static void series_header(struct sl_buf *b, const char *name, const char *type, const char *help)
{
    sl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void sl_connectors_write_metrics(struct sl_connectors *m, struct sl_buf *b)
{
    static const struct {
        const char *name, *type, *help;
    } series[] = {
        {"kurrent_connector_active_total", "gauge", "1 while the connector runs"},
        {"kurrent_sink_written_total_records", "counter", "records the sink acknowledged"},
        {"kurrent_sink_errors_total", "counter", "failed sink writes"},
        {"messaging_kurrent_consumer_lag", "gauge", "events between the log head and the connector"},
        {"sluice_connector_filtered_total", "counter", "events the filter left out"},
        {"sluice_connector_dead_lettered_total", "counter", "records written to the dead-letter stream"},
        {"sluice_connector_retries_total", "counter", "delivery retries"},
    };
    pthread_mutex_lock(&m->lock);
    uint64_t head = sl_store_head(m->store);
    for (size_t s = 0; s < sizeof(series) / sizeof(series[0]); s++) {
        series_header(b, series[s].name, series[s].type, series[s].help);
        for (size_t i = 0; i < m->count; i++) {
            struct connector *c = m->items[i];
            if (c->is_deleted)
                continue;
            uint64_t done = c->state == STOPPED ? c->position : atomic_load(&c->counters.processed_position);
            uint64_t values[] = {
                c->state == RUNNING,
                atomic_load(&c->counters.delivered),
                atomic_load(&c->counters.errors),
                head > done ? head - done : 0,
                atomic_load(&c->counters.filtered),
                atomic_load(&c->counters.dead_lettered),
                atomic_load(&c->counters.retries),
            };
            sl_buf_printf(b, "%s{connector=\"%s\",sink=\"%s\"} %llu\n", series[s].name, c->id,
                          c->sink ? c->sink->name : "", (unsigned long long)values[s]);
        }
    }
    series_header(b, "kurrent_sink_write_latency_s", "histogram",
                  "event created to sink acknowledged, seconds");
    char labels[160];
    for (size_t i = 0; i < m->count; i++) {
        struct connector *c = m->items[i];
        if (c->is_deleted)
            continue;
        snprintf(labels, sizeof(labels), "connector=\"%s\",sink=\"%s\"", c->id, c->sink ? c->sink->name : "");
        sl_histogram_write(b, "kurrent_sink_write_latency_s", labels, &c->counters.write_latency);
    }
    series_header(b, "messaging_kurrent_consumer_commit_latency_s", "histogram",
                  "checkpoint commit time, seconds");
    for (size_t i = 0; i < m->count; i++) {
        struct connector *c = m->items[i];
        if (c->is_deleted)
            continue;
        snprintf(labels, sizeof(labels), "connector=\"%s\",sink=\"%s\"", c->id, c->sink ? c->sink->name : "");
        sl_histogram_write(b, "messaging_kurrent_consumer_commit_latency_s", labels,
                           &c->counters.commit_latency);
    }
    pthread_mutex_unlock(&m->lock);
}

bool sl_connector_states_are_valid(const char *list)
{
    const char *p = list;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        bool known = false;
        for (int i = 0; i < 4 && !known; i++) {
            const char *full = sl_connector_state_names[i], *brief = full + strlen("CONNECTOR_STATE_");
            known = (len == strlen(full) && strncasecmp(p, full, len) == 0) ||
                    (len == strlen(brief) && strncasecmp(p, brief, len) == 0);
        }
        if (!known)
            return false;
        p = end ? end + 1 : NULL;
    }
    return true;
}
