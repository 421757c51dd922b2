/* checkpoint.h: a connector's committed position, kept in the store.
 *
 * Checkpoints are events of type `$conn-ctrl-checkpoint` in
 * `$connectors/{id}/checkpoints` whose data is `{"position": N}`: N is the
 * log position up to which every matching event was acknowledged by the sink
 * (filtered-out events included), so delivery resumes strictly after N. The
 * stream keeps its last 10 events ($maxCount). Blocking (waits for the
 * commit): call from a connector's own thread or the manager's. */
#ifndef SL_CONNECTORS_CHECKPOINT_H
#define SL_CONNECTORS_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* *found is false (and *position 0) when the connector has no checkpoint. */
enum sl_code sl_checkpoint_load(struct sl_store *store, const char *connector_id, uint64_t *position,
                                bool *found, struct sl_error *err);

enum sl_code sl_checkpoint_save(struct sl_store *store, const char *connector_id, uint64_t position,
                                struct sl_error *err);

#endif
