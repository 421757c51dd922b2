/* manager_internal.h: the registry's data, shared by the manager's files only.
 * `lock` guards every connector's fields (except the atomic counters) and the
 * item array; only the manager thread changes them. */
#ifndef SL_CONNECTORS_MANAGER_INTERNAL_H
#define SL_CONNECTORS_MANAGER_INTERNAL_H

#include <pthread.h>

#include "connectors/manager.h"
#include "connectors/runtime.h"
#include "sinks/sink.h"

enum state { ACTIVATING, RUNNING, DEACTIVATING, STOPPED };

extern const char *const sl_connector_state_names[];

struct connector;

/* What a worker's callbacks need: a generation, so that a report from an old
 * run is not taken for the current one. */
struct worker_link {
    struct sl_connectors *m;
    struct connector *c;
    uint64_t generation;
};

struct connector {
    char id[64];
    char *name;
    struct sl_settings settings;
    const struct sl_sink_type *sink;
    enum state state;
    bool is_deleted;
    int64_t create_us, update_us, state_us, settings_us, delete_us, position_us;
    bool has_position;
    uint64_t position; /* last committed checkpoint */
    bool has_error;
    char error_code[64];
    char error_message[512];
    struct sl_connector_counters counters;
    struct sl_worker *worker;
    struct worker_link *link;
    uint64_t generation;
    int64_t recorded_us; /* commit time of the last management event: the times shown come from it */
};

/* Reports from workers travel through the same queue as commands. */
enum report_kind { REPORT_NONE, REPORT_RUNNING, REPORT_FAILED };

struct queued {
    struct sl_connector_command *cmd; /* or a report: */
    enum report_kind report;
    struct connector *c;
    uint64_t generation;
    char message[512];
    struct queued *next;
};

struct sl_connectors {
    struct sl_store *store;
    pthread_mutex_t lock; /* guards the registry: connectors and their fields */
    struct connector **items;
    size_t count, cap;

    pthread_mutex_t queue_lock;
    pthread_cond_t queue_cond;
    struct queued *head, *tail;
    bool is_stopping;
    pthread_t thread;
    bool has_thread;
};

/* Manager thread only. */
struct connector *sl_manager_find(struct sl_connectors *m, const char *id);
struct connector *sl_manager_add(struct sl_connectors *m, const char *id);
enum sl_code sl_manager_record(struct sl_connectors *m, struct connector *c, const char *type, json_t *data,
                               struct sl_error *err);
enum sl_code sl_manager_activate(struct sl_connectors *m, struct connector *c, json_t *details,
                                 struct sl_error *err);
void sl_manager_set_state(struct sl_connectors *m, struct connector *c, enum state s);
void *sl_manager_main(void *arg);
void sl_manager_stop_worker(struct sl_connectors *m, struct connector *c);

#endif
