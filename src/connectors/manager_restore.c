/* manager_restore.c: opening the connectors of a store (rebuilding the
 * registry from `$connectors/{id}` and restarting those that were running)
 * and closing them. */
#include <stdlib.h>
#include <string.h>

#include "connectors/checkpoint.h"
#include "connectors/definition.h"
#include "connectors/manager_internal.h"
#include "util/log.h"

#define PREFIX "$connectors/"

static void apply_settings(struct connector *c, json_t *settings)
{
    struct sl_settings s;
    sl_settings_init(&s);
    struct sl_error err;
    if (sl_settings_from_flat_json(&s, settings, &err) != SL_OK) {
        sl_settings_free(&s);
        return;
    }
    sl_settings_free(&c->settings);
    c->settings = s;
    const char *type = sl_settings_get(&s, "instanceTypeName");
    c->sink = type ? sl_sink_find(type) : NULL;
}

/* Folds one management event into the connector. */
static void apply_event(struct connector *c, const struct sl_event *ev)
{
    json_t *data = json_loadb(ev->data, ev->data_len, 0, NULL);
    const char *type = ev->type;
    size_t len = ev->type_len;
#define IS(t) (len == strlen(t) && memcmp(type, t, len) == 0)
    int64_t at = ev->created_us;
    c->update_us = at;
    if (IS("$conn-mngt-connector-created")) {
        free(c->name);
        c->name = strdup(json_string_value(json_object_get(data, "name")) ?: c->id);
        apply_settings(c, json_object_get(data, "settings"));
        c->state = STOPPED;
        c->is_deleted = false;
        c->has_error = false;
        c->create_us = c->state_us = c->settings_us = at;
    } else if (IS("$conn-mngt-connector-reconfigured")) {
        apply_settings(c, json_object_get(data, "settings"));
        c->settings_us = at;
    } else if (IS("$conn-mngt-connector-renamed")) {
        const char *name = json_string_value(json_object_get(data, "name"));
        if (name) {
            free(c->name);
            c->name = strdup(name);
        }
    } else if (IS("$conn-mngt-connector-activating")) {
        c->state = ACTIVATING;
        c->state_us = at;
    } else if (IS("$conn-mngt-connector-running")) {
        c->state = RUNNING;
        c->has_error = false;
        c->state_us = at;
    } else if (IS("$conn-mngt-connector-deactivating")) {
        c->state = DEACTIVATING;
        c->state_us = at;
    } else if (IS("$conn-mngt-connector-stopped")) {
        c->state = STOPPED;
        c->state_us = at;
    } else if (IS("$conn-mngt-connector-failed")) {
        json_t *details = json_object_get(data, "errorDetails");
        c->state = STOPPED;
        c->state_us = at;
        c->has_error = true;
        snprintf(c->error_code, sizeof(c->error_code), "%s",
                 json_string_value(json_object_get(details, "code")) ?: "failed");
        snprintf(c->error_message, sizeof(c->error_message), "%s",
                 json_string_value(json_object_get(details, "message")) ?: "");
    } else if (IS("$conn-mngt-connector-deleted")) {
        c->is_deleted = true;
        c->delete_us = at;
    }
#undef IS
    json_decref(data);
}

struct restore {
    struct sl_connectors *m;
    enum sl_code code;
    struct sl_error err;
};

static bool restore_one(const char *name, size_t len, void *arg)
{
    struct restore *r = arg;
    const char *id = name + strlen(PREFIX);
    size_t id_len = len - strlen(PREFIX);
    if (memchr(id, '/', id_len) || id_len == 0 || id_len >= 64)
        return true; /* checkpoints and dead letters */
    char id_copy[64];
    memcpy(id_copy, id, id_len);
    id_copy[id_len] = '\0';
    if (!sl_connector_id_is_valid(id_copy))
        return true; /* not written by the manager */
    struct connector *c = sl_manager_add(r->m, id_copy);
    if (c == NULL) {
        r->code = sl_errorf(&r->err, SL_E_NOMEM, "out of memory restoring connectors");
        return false;
    }
    struct sl_read_result rr = {0};
    int64_t from = 0;
    for (;;) {
        r->code = sl_store_read_stream(r->m->store, name, len, from, false, 1000, &rr, &r->err);
        if (r->code)
            break;
        for (size_t i = 0; i < rr.count; i++)
            apply_event(c, &rr.events[i]);
        if (!rr.has_next)
            break;
        from = rr.next;
    }
    sl_read_result_free(&rr);
    if (r->code == SL_E_NOT_FOUND)
        r->code = SL_OK;
    if (r->code == SL_OK) {
        bool found;
        r->code = sl_checkpoint_load(r->m->store, c->id, &c->position, &found, &r->err);
        c->has_position = found;
    }
    return r->code == SL_OK;
}

enum sl_code sl_connectors_open(struct sl_store *store, struct sl_connectors **out, struct sl_error *err)
{
    *out = NULL;
    struct sl_connectors *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return sl_errorf(err, SL_E_NOMEM, "out of memory");
    m->store = store;
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->queue_lock, NULL);
    pthread_cond_init(&m->queue_cond, NULL);

    struct restore r = {.m = m};
    enum sl_code code = sl_store_list_streams(store, PREFIX, restore_one, &r, err);
    if (code == SL_OK && r.code) {
        code = r.code;
        if (err)
            *err = r.err;
    }
    if (code) {
        sl_connectors_close(m);
        return code;
    }
    /* Those that were running run again, from their checkpoints. */
    size_t restarted = 0;
    for (size_t i = 0; i < m->count; i++) {
        struct connector *c = m->items[i];
        if (c->is_deleted)
            continue;
        if (c->state == DEACTIVATING) {
            struct sl_error ignored;
            sl_manager_record(m, c, "$conn-mngt-connector-stopped", json_object(), &ignored);
            c->state = STOPPED;
        } else if (c->state == RUNNING || c->state == ACTIVATING) {
            struct sl_error e;
            if (c->sink && sl_manager_activate(m, c, json_pack("{s:b}", "restart", 1), &e) == SL_OK)
                restarted++;
            else if (c->sink == NULL)
                sl_warn("connectors", "%s: cannot restart: unknown sink type", c->id);
        }
    }
    int rc = pthread_create(&m->thread, NULL, sl_manager_main, m);
    if (rc) {
        sl_connectors_close(m);
        return sl_errorf(err, SL_E_INTERNAL, "cannot start the connectors thread");
    }
    m->has_thread = true;
    sl_info("connectors", "%zu connector%s, %zu restarted", m->count, m->count == 1 ? "" : "s", restarted);
    *out = m;
    return SL_OK;
}

void sl_connectors_close(struct sl_connectors *m)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->queue_lock);
    m->is_stopping = true;
    pthread_cond_signal(&m->queue_cond);
    pthread_mutex_unlock(&m->queue_lock);
    if (m->has_thread)
        pthread_join(m->thread, NULL);
    /* Stopped without recording it: they run again at the next open. */
    for (size_t i = 0; i < m->count; i++) {
        struct connector *c = m->items[i];
        sl_manager_stop_worker(m, c);
        free(c->name);
        sl_settings_free(&c->settings);
        free(c);
    }
    struct queued *q = m->head;
    while (q) {
        struct queued *next = q->next;
        free(q);
        q = next;
    }
    free(m->items);
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->queue_lock);
    pthread_cond_destroy(&m->queue_cond);
    free(m);
}
