/* manager.h: the connectors of a store: their definitions, their states and
 * their workers.
 *
 * Every command (create, reconfigure, start, stop, reset, rename, delete) is
 * applied by one manager thread, in the order submitted: it checks the
 * command against the current state, appends the management event to
 * `$connectors/{id}` (spec §4), updates the in-memory registry and starts or
 * stops the worker, then calls the command's `done` on the manager thread.
 * A query made after `done` ran sees the command's effect.
 *
 * At open the registry is rebuilt from the `$connectors/{id}` streams, and
 * connectors that were running (or activating) are started again from their
 * checkpoints. Close stops the workers without recording them as stopped, so
 * they run again at the next open.
 *
 * Queries (list, get, settings, metrics) may be called from any thread; they
 * read a consistent snapshot under the registry lock. */
#ifndef SL_CONNECTORS_MANAGER_H
#define SL_CONNECTORS_MANAGER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "connectors/settings.h"
#include "store/store.h"
#include "util/buf.h"

enum sl_connector_command_kind {
    SL_CMD_CREATE,
    SL_CMD_RECONFIGURE,
    SL_CMD_START,
    SL_CMD_STOP,
    SL_CMD_RESET,
    SL_CMD_RENAME,
    SL_CMD_DELETE,
};

struct sl_connector_command {
    /* in: owned by the caller until `done` */
    enum sl_connector_command_kind kind;
    char id[64];
    const char *name;            /* create (may be NULL or ""), rename */
    struct sl_settings settings; /* create, reconfigure */
    bool has_position;           /* start, reset */
    uint64_t position;

    /* out, valid in `done` */
    enum sl_code code;
    struct sl_error err;
    struct sl_violations violations; /* settings rules broken; freed by the caller */

    void (*done)(struct sl_connector_command *cmd); /* manager thread; must not block */
    void *user;
    struct sl_connector_command *next_in_queue; /* the manager's */
};

struct sl_connectors;

enum sl_code sl_connectors_open(struct sl_store *store, struct sl_connectors **out, struct sl_error *err);
void sl_connectors_close(struct sl_connectors *m); /* NULL-safe */

/* Queues `cmd`. SL_E_SHUTDOWN (and `done` never runs) when closing. */
enum sl_code sl_connectors_submit(struct sl_connectors *m, struct sl_connector_command *cmd,
                                  struct sl_error *err);

struct sl_connector_query {
    const char *states;         /* comma-separated CONNECTOR_STATE_* names, or NULL */
    const char *instance_types; /* comma-separated, or NULL */
    const char *ids;            /* comma-separated, or NULL */
    bool include_settings;
    bool show_deleted;
    bool show_secrets;
    size_t page;      /* from 1 */
    size_t page_size; /* at least 1 */
};

/* {"items": [...], "totalSize": N}. New reference; NULL on OOM. */
json_t *sl_connectors_list(struct sl_connectors *m, const struct sl_connector_query *q);

/* One connector as in the list (with settings). SL_E_NOT_FOUND for unknown or deleted. */
enum sl_code sl_connectors_get(struct sl_connectors *m, const char *id, bool show_secrets, json_t **out,
                               struct sl_error *err);

/* {"settings": {...}, "settingsUpdateTime"} or, when `nested`,
 * {"configuration": {...}, "settingsUpdateTime"}. */
enum sl_code sl_connectors_settings(struct sl_connectors *m, const char *id, bool nested, bool show_secrets,
                                    json_t **out, struct sl_error *err);

/* Prometheus text for every connector (spec §8). */
void sl_connectors_write_metrics(struct sl_connectors *m, struct sl_buf *b);

/* True when every comma-separated item names a state (CONNECTOR_STATE_RUNNING
 * or RUNNING, ignoring case). */
bool sl_connector_states_are_valid(const char *list);

/* True when `id` is 5-50 characters of [A-Za-z0-9_-]. */
bool sl_connector_id_is_valid(const char *id);

#endif
