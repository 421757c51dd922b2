/* manager.c: the connectors registry, its command thread and its queries. */
#include "connectors/manager.h"
#include "connectors/manager_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connectors/checkpoint.h"
#include "connectors/definition.h"
#include "connectors/runtime.h"
#include "sinks/sink.h"
#include "util/clock.h"
#include "util/codec.h"
#include "util/log.h"
#include "util/utf8.h"

const char *const sl_connector_state_names[] = {
    "CONNECTOR_STATE_ACTIVATING",
    "CONNECTOR_STATE_RUNNING",
    "CONNECTOR_STATE_DEACTIVATING",
    "CONNECTOR_STATE_STOPPED",
};

bool sl_connector_id_is_valid(const char *id)
{
    size_t n = strlen(id);
    if (n < 5 || n > 50)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-'))
            return false;
    }
    return true;
}

struct connector *sl_manager_find(struct sl_connectors *m, const char *id)
{
    for (size_t i = 0; i < m->count; i++)
        if (strcmp(m->items[i]->id, id) == 0)
            return m->items[i];
    return NULL;
}

struct connector *sl_manager_add(struct sl_connectors *m, const char *id)
{
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct connector **items = realloc(m->items, cap * sizeof(*items));
        if (items == NULL)
            return NULL;
        m->items = items;
        m->cap = cap;
    }
    struct connector *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->state = STOPPED;
    m->items[m->count++] = c;
    return c;
}

/* ---- management events ---- */

enum sl_code sl_manager_record(struct sl_connectors *m, struct connector *c, const char *type, json_t *data,
                               struct sl_error *err)
{
    char stream[96];
    int len = snprintf(stream, sizeof(stream), "$connectors/%s", c->id);
    char ts[32];
    sl_format_rfc3339_us(sl_now_us(), ts);
    json_object_set_new(data, "connectorId", json_string(c->id));
    json_object_set_new(data, "timestamp", json_string(ts));
    char *text = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    if (text == NULL)
        return sl_errorf(err, SL_E_NOMEM, "out of memory recording %s", type);
    struct sl_new_event ev = {.type = type,
                              .type_len = strlen(type),
                              .flags = SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON,
                              .data = text,
                              .data_len = strlen(text)};
    sl_uuid_generate(ev.id);
    struct sl_write w = {
        .kind = SL_WRITE_APPEND, .stream = stream, .stream_len = (size_t)len, .events = &ev, .n_events = 1};
    enum sl_code code = sl_store_write(m->store, &w);
    if (code && err)
        *err = w.err;
    if (code == SL_OK)
        c->recorded_us = w.created_us;
    free(text);
    return code;
}

void sl_manager_set_state(struct sl_connectors *m, struct connector *c, enum state s)
{
    pthread_mutex_lock(&m->lock);
    c->state = s;
    c->state_us = c->update_us = c->recorded_us;
    if (s == RUNNING)
        c->has_error = false;
    pthread_mutex_unlock(&m->lock);
}

static void set_error(struct sl_connectors *m, struct connector *c, const char *code, const char *message)
{
    pthread_mutex_lock(&m->lock);
    c->has_error = true;
    snprintf(c->error_code, sizeof(c->error_code), "%s", code);
    snprintf(c->error_message, sizeof(c->error_message), "%s", message);
    atomic_store(&c->counters.last_error_us, sl_now_us());
    pthread_mutex_unlock(&m->lock);
}

/* ---- worker callbacks (worker threads) ---- */

static void enqueue(struct sl_connectors *m, struct queued *q)
{
    pthread_mutex_lock(&m->queue_lock);
    if (m->tail)
        m->tail->next = q;
    else
        m->head = q;
    m->tail = q;
    pthread_cond_signal(&m->queue_cond);
    pthread_mutex_unlock(&m->queue_lock);
}

static void report(struct worker_link *link, enum report_kind kind, const char *message)
{
    struct queued *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return;
    q->report = kind;
    q->c = link->c;
    q->generation = link->generation;
    snprintf(q->message, sizeof(q->message), "%s", message ? message : "");
    enqueue(link->m, q);
}

static void on_running(void *arg)
{
    report(arg, REPORT_RUNNING, NULL);
}

static void on_failed(void *arg, const char *code, const char *message)
{
    (void)code;
    report(arg, REPORT_FAILED, message);
}

static void on_checkpoint(void *arg, uint64_t position)
{
    struct worker_link *link = arg;
    pthread_mutex_lock(&link->m->lock);
    link->c->has_position = true;
    link->c->position = position;
    link->c->position_us = sl_now_us();
    pthread_mutex_unlock(&link->m->lock);
}

/* ---- starting and stopping workers (manager thread) ---- */

void sl_manager_stop_worker(struct sl_connectors *m, struct connector *c)
{
    if (c->worker == NULL)
        return;
    sl_worker_stop(c->worker);
    pthread_mutex_lock(&m->lock);
    c->worker = NULL;
    pthread_mutex_unlock(&m->lock);
    free(c->link);
    c->link = NULL;
}

static enum sl_code start_worker(struct sl_connectors *m, struct connector *c, struct sl_error *err)
{
    uint64_t after = 0;
    bool found;
    enum sl_code code = sl_checkpoint_load(m->store, c->id, &after, &found, err);
    if (code)
        return code;
    if (!found) {
        const char *initial =
            sl_settings_str(&c->settings, sl_connector_settings, "subscription:initialPosition");
        after = strcasecmp(initial, "earliest") == 0 ? 0 : sl_store_head(m->store);
    }
    struct worker_link *link = calloc(1, sizeof(*link));
    if (link == NULL)
        return sl_errorf(err, SL_E_NOMEM, "out of memory starting connector %s", c->id);
    link->m = m;
    link->c = c;
    link->generation = ++c->generation;
    struct sl_worker_options o = {
        .store = m->store,
        .connector_id = c->id,
        .settings = &c->settings,
        .sink = c->sink,
        .start_after = after,
        .counters = &c->counters,
        .events = {.on_running = on_running,
                   .on_failed = on_failed,
                   .on_checkpoint = on_checkpoint,
                   .arg = link},
    };
    atomic_store(&c->counters.processed_position, after);
    struct sl_worker *w;
    code = sl_worker_start(&o, &w, err);
    if (code) {
        free(link);
        return code;
    }
    pthread_mutex_lock(&m->lock);
    c->worker = w;
    c->link = link;
    pthread_mutex_unlock(&m->lock);
    sl_info("connectors", "%s: started after position %llu", c->id, (unsigned long long)after);
    return SL_OK;
}

/* Activating -> worker; a worker that cannot start leaves the connector
 * Stopped with the reason in errorDetails. */
enum sl_code sl_manager_activate(struct sl_connectors *m, struct connector *c, json_t *details,
                                 struct sl_error *err)
{
    enum sl_code code = sl_manager_record(m, c, "$conn-mngt-connector-activating", details, err);
    if (code)
        return code;
    sl_manager_set_state(m, c, ACTIVATING);
    code = start_worker(m, c, err);
    if (code) {
        set_error(m, c, "activation-failed", err->message);
        sl_manager_set_state(m, c, STOPPED);
        pthread_mutex_lock(&m->lock);
        c->has_error = true;
        pthread_mutex_unlock(&m->lock);
        json_t *d =
            json_pack("{s:{s:s,s:s}}", "errorDetails", "code", "activation-failed", "message", err->message);
        struct sl_error ignored;
        sl_manager_record(m, c, "$conn-mngt-connector-failed", d, &ignored);
    }
    return code;
}

static enum sl_code save_start(struct sl_connectors *m, struct connector *c, uint64_t position,
                               struct sl_error *err)
{
    /* Deliver from `position` inclusive: the checkpoint is the position before it. */
    return sl_checkpoint_save(m->store, c->id, position > 0 ? position - 1 : 0, err);
}

/* ---- commands (manager thread) ---- */

static enum sl_code check_name(const char *name, struct sl_error *err)
{
    size_t len = strlen(name);
    if (!sl_utf8_is_valid(name, len))
        return sl_field_errorf(err, SL_E_INVALID, "name", "the name must be valid UTF-8");
    size_t chars = 0;
    for (size_t i = 0; i < len; i += sl_utf8_sequence_length(name + i, len - i))
        chars++;
    if (chars < 3 || chars > 50)
        return sl_field_errorf(err, SL_E_INVALID, "name", "the name must be 3 to 50 characters; it is %zu",
                               chars);
    return SL_OK;
}

static enum sl_code check_settings(struct sl_connector_command *cmd, const struct sl_sink_type **sink)
{
    sl_connector_validate(&cmd->settings, &cmd->violations, sink);
    if (cmd->violations.count == 0)
        return SL_OK;
    return sl_field_errorf(&cmd->err, SL_E_INVALID, cmd->violations.items[0].field,
                           "the settings break %zu rule%s", cmd->violations.count,
                           cmd->violations.count == 1 ? "" : "s");
}

static enum sl_code do_create(struct sl_connectors *m, struct sl_connector_command *cmd)
{
    struct sl_error *err = &cmd->err;
    if (!sl_connector_id_is_valid(cmd->id))
        return sl_field_errorf(err, SL_E_INVALID, "connectorId",
                               "the id must be 5 to 50 characters of A-Z, a-z, 0-9, _ and -");
    const char *name = cmd->name && cmd->name[0] ? cmd->name : cmd->id;
    enum sl_code code = check_name(name, err);
    if (code)
        return code;
    struct connector *c = sl_manager_find(m, cmd->id);
    if (c && !c->is_deleted)
        return sl_errorf(err, SL_E_EXISTS, "connector %s already exists", cmd->id);
    const struct sl_sink_type *sink;
    code = check_settings(cmd, &sink);
    if (code)
        return code;

    struct sl_settings copy;
    char *name_copy = strdup(name);
    if (name_copy == NULL || !sl_settings_copy(&copy, &cmd->settings)) {
        free(name_copy);
        return sl_errorf(err, SL_E_NOMEM, "out of memory");
    }
    pthread_mutex_lock(&m->lock);
    if (c == NULL)
        c = sl_manager_add(m, cmd->id);
    pthread_mutex_unlock(&m->lock);
    if (c == NULL) {
        free(name_copy);
        sl_settings_free(&copy);
        return sl_errorf(err, SL_E_NOMEM, "out of memory");
    }
    json_t *data = json_pack("{s:s,s:s,s:o}", "name", name, "instanceTypeName",
                             sl_settings_get(&copy, "instanceTypeName"), "settings",
                             sl_settings_to_flat_json(&copy, NULL, true));
    code = sl_manager_record(m, c, "$conn-mngt-connector-created", data, err);
    int64_t now = c->recorded_us;
    pthread_mutex_lock(&m->lock);
    if (code == SL_OK) {
        free(c->name);
        sl_settings_free(&c->settings);
        c->name = name_copy;
        c->settings = copy;
        c->sink = sink;
        c->state = STOPPED;
        c->is_deleted = false;
        c->has_error = false;
        c->has_position = false;
        c->create_us = c->update_us = c->state_us = c->settings_us = now;
        c->delete_us = 0;
        memset(&c->counters, 0, sizeof(c->counters));
    } else {
        free(name_copy);
        sl_settings_free(&copy);
    }
    pthread_mutex_unlock(&m->lock);
    if (code == SL_OK)
        sl_info("connectors", "%s: created (%s)", c->id, sink->name);
    return code;
}

static struct connector *existing(struct sl_connectors *m, const char *id, struct sl_error *err)
{
    struct connector *c = sl_manager_find(m, id);
    if (c == NULL || c->is_deleted) {
        sl_errorf(err, SL_E_NOT_FOUND, "connector %s does not exist", id);
        return NULL;
    }
    return c;
}

static enum sl_code do_reconfigure(struct sl_connectors *m, struct sl_connector_command *cmd)
{
    struct connector *c = existing(m, cmd->id, &cmd->err);
    if (c == NULL)
        return SL_E_NOT_FOUND;
    const struct sl_sink_type *sink;
    enum sl_code code = check_settings(cmd, &sink);
    if (code)
        return code;
    struct sl_settings copy;
    if (!sl_settings_copy(&copy, &cmd->settings))
        return sl_errorf(&cmd->err, SL_E_NOMEM, "out of memory");
    json_t *data = json_pack("{s:o}", "settings", sl_settings_to_flat_json(&copy, NULL, true));
    code = sl_manager_record(m, c, "$conn-mngt-connector-reconfigured", data, &cmd->err);
    if (code) {
        sl_settings_free(&copy);
        return code;
    }
    pthread_mutex_lock(&m->lock);
    sl_settings_free(&c->settings);
    c->settings = copy;
    c->sink = sink;
    c->settings_us = c->update_us = c->recorded_us;
    pthread_mutex_unlock(&m->lock);
    return SL_OK;
}

static enum sl_code do_start(struct sl_connectors *m, struct sl_connector_command *cmd)
{
    struct connector *c = existing(m, cmd->id, &cmd->err);
    if (c == NULL)
        return SL_E_NOT_FOUND;
    if (c->state != STOPPED) {
        if (cmd->has_position)
            return sl_errorf(&cmd->err, SL_E_INVALID, "connector %s must be stopped to start at a position",
                             c->id);
        return SL_OK; /* already running */
    }
    if (cmd->has_position) {
        enum sl_code code = save_start(m, c, cmd->position, &cmd->err);
        if (code)
            return code;
    }
    json_t *details =
        cmd->has_position ? json_pack("{s:I}", "startPosition", (json_int_t)cmd->position) : json_object();
    return sl_manager_activate(m, c, details, &cmd->err);
}

static enum sl_code do_stop(struct sl_connectors *m, struct sl_connector_command *cmd)
{
    struct connector *c = existing(m, cmd->id, &cmd->err);
    if (c == NULL)
        return SL_E_NOT_FOUND;
    if (c->state == STOPPED)
        return SL_OK;
    enum sl_code code =
        sl_manager_record(m, c, "$conn-mngt-connector-deactivating", json_object(), &cmd->err);
    if (code)
        return code;
    sl_manager_set_state(m, c, DEACTIVATING);
    sl_manager_stop_worker(m, c);
    code = sl_manager_record(m, c, "$conn-mngt-connector-stopped", json_object(), &cmd->err);
    sl_manager_set_state(m, c, STOPPED);
    sl_info("connectors", "%s: stopped", c->id);
    return code;
}

static enum sl_code do_reset(struct sl_connectors *m, struct sl_connector_command *cmd)
{
    struct connector *c = existing(m, cmd->id, &cmd->err);
    if (c == NULL)
        return SL_E_NOT_FOUND;
    if (c->state != STOPPED)
        return sl_errorf(&cmd->err, SL_E_INVALID, "connector %s must be stopped to be reset", c->id);
    enum sl_code code = save_start(m, c, cmd->has_position ? cmd->position : 0, &cmd->err);
    if (code)
        return code;
    pthread_mutex_lock(&m->lock);
    c->has_position = true;
    c->position = cmd->has_position && cmd->position > 0 ? cmd->position - 1 : 0;
    c->position_us = sl_now_us();
    pthread_mutex_unlock(&m->lock);
    json_t *details = json_pack("{s:I,s:b}", "startPosition",
                                (json_int_t)(cmd->has_position ? cmd->position : 0), "reset", 1);
    return sl_manager_activate(m, c, details, &cmd->err);
}

static enum sl_code do_rename(struct sl_connectors *m, struct sl_connector_command *cmd)
{
    struct connector *c = existing(m, cmd->id, &cmd->err);
    if (c == NULL)
        return SL_E_NOT_FOUND;
    const char *name = cmd->name ? cmd->name : "";
    enum sl_code code = check_name(name, &cmd->err);
    if (code)
        return code;
    char *copy = strdup(name);
    if (copy == NULL)
        return sl_errorf(&cmd->err, SL_E_NOMEM, "out of memory");
    code =
        sl_manager_record(m, c, "$conn-mngt-connector-renamed", json_pack("{s:s}", "name", name), &cmd->err);
    if (code) {
        free(copy);
        return code;
    }
    pthread_mutex_lock(&m->lock);
    free(c->name);
    c->name = copy;
    c->update_us = c->recorded_us;
    pthread_mutex_unlock(&m->lock);
    return SL_OK;
}

static enum sl_code do_delete(struct sl_connectors *m, struct sl_connector_command *cmd)
{
    struct connector *c = existing(m, cmd->id, &cmd->err);
    if (c == NULL)
        return SL_E_NOT_FOUND;
    if (c->state != STOPPED)
        return sl_errorf(&cmd->err, SL_E_INVALID, "connector %s must be stopped to be deleted", c->id);
    enum sl_code code = sl_manager_record(m, c, "$conn-mngt-connector-deleted", json_object(), &cmd->err);
    if (code)
        return code;
    /* A connector created later under the same id starts afresh, not from this one's checkpoint. */
    char stream[96];
    int len = sl_checkpoint_stream_name(stream, sizeof(stream), c->id);
    struct sl_write w = {.kind = SL_WRITE_DELETE, .stream = stream, .stream_len = (size_t)len};
    if (sl_store_write(m->store, &w) != SL_OK && w.code != SL_E_NOT_FOUND)
        sl_warn("connectors", "%s: cannot drop its checkpoints: %s", c->id, w.err.message);
    pthread_mutex_lock(&m->lock);
    c->is_deleted = true;
    c->delete_us = c->update_us = c->recorded_us;
    pthread_mutex_unlock(&m->lock);
    sl_info("connectors", "%s: deleted", c->id);
    return SL_OK;
}

static void handle_report(struct sl_connectors *m, struct queued *q)
{
    struct connector *c = q->c;
    if (q->generation != c->generation || c->worker == NULL)
        return; /* from a run that has been stopped since */
    struct sl_error err = {0};
    if (q->report == REPORT_RUNNING) {
        if (c->state == ACTIVATING &&
            sl_manager_record(m, c, "$conn-mngt-connector-running", json_object(), &err) == SL_OK)
            sl_manager_set_state(m, c, RUNNING);
        return;
    }
    sl_manager_stop_worker(m, c);
    json_t *d = json_pack("{s:{s:s,s:s}}", "errorDetails", "code", "delivery-failed", "message", q->message);
    sl_manager_record(m, c, "$conn-mngt-connector-failed", d, &err);
    set_error(m, c, "delivery-failed", q->message);
    sl_manager_set_state(m, c, STOPPED);
    pthread_mutex_lock(&m->lock);
    c->has_error = true; /* set_state(STOPPED) keeps it; RUNNING would clear it */
    pthread_mutex_unlock(&m->lock);
}

static void handle_command(struct sl_connectors *m, struct sl_connector_command *cmd)
{
    sl_error_clear(&cmd->err);
    switch (cmd->kind) {
    case SL_CMD_CREATE:
        cmd->code = do_create(m, cmd);
        break;
    case SL_CMD_RECONFIGURE:
        cmd->code = do_reconfigure(m, cmd);
        break;
    case SL_CMD_START:
        cmd->code = do_start(m, cmd);
        break;
    case SL_CMD_STOP:
        cmd->code = do_stop(m, cmd);
        break;
    case SL_CMD_RESET:
        cmd->code = do_reset(m, cmd);
        break;
    case SL_CMD_RENAME:
        cmd->code = do_rename(m, cmd);
        break;
    case SL_CMD_DELETE:
        cmd->code = do_delete(m, cmd);
        break;
    }
    cmd->err.code = cmd->code;
}

void *sl_manager_main(void *arg)
{
    struct sl_connectors *m = arg;
    pthread_setname_np(pthread_self(), "sl-connectors");
    for (;;) {
        pthread_mutex_lock(&m->queue_lock);
        while (m->head == NULL && !m->is_stopping)
            pthread_cond_wait(&m->queue_cond, &m->queue_lock);
        struct queued *q = m->head;
        if (q) {
            m->head = q->next;
            if (m->head == NULL)
                m->tail = NULL;
        }
        pthread_mutex_unlock(&m->queue_lock);
        if (q == NULL)
            break;
        if (q->cmd) {
            if (m->is_stopping) {
                q->cmd->code = sl_errorf(&q->cmd->err, SL_E_SHUTDOWN, "the server is shutting down");
            } else {
                handle_command(m, q->cmd);
            }
            q->cmd->done(q->cmd);
        } else if (!m->is_stopping) {
            handle_report(m, q);
        }
        free(q);
    }
    return NULL;
}

enum sl_code sl_connectors_submit(struct sl_connectors *m, struct sl_connector_command *cmd,
                                  struct sl_error *err)
{
    struct queued *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return sl_errorf(err, SL_E_NOMEM, "out of memory");
    q->cmd = cmd;
    pthread_mutex_lock(&m->queue_lock);
    if (m->is_stopping) {
        pthread_mutex_unlock(&m->queue_lock);
        free(q);
        return sl_errorf(err, SL_E_SHUTDOWN, "the server is shutting down");
    }
    if (m->tail)
        m->tail->next = q;
    else
        m->head = q;
    m->tail = q;
    pthread_cond_signal(&m->queue_cond);
    pthread_mutex_unlock(&m->queue_lock);
    return SL_OK;
}
