/* checkpoint.h: a connector's committed position, kept in the store.
 *
 * Checkpoints are events of type `$conn-ctrl-checkpoint` in
 * `$connectors/{id}/checkpoints` whose data is `{"position": N}`: N is the
 * log position up to which every matching event was acknowledged by the sink
 * (filtered-out events included), so delivery resumes strictly after N. The
 * stream keeps its last 10 events ($maxCount, set by a `$metadata` event in
 * `$$$connectors/{id}/checkpoints` written before the first checkpoint).
 *
 * sl_checkpoint_load, sl_checkpoint_prepare and sl_checkpoint_save block
 * (they wait for the commit): call them from a connector's own thread or the
 * manager's. sl_checkpoint_submit does not: a connector worker uses it to go
 * on delivering while its checkpoint is written. */
#ifndef SL_CONNECTORS_CHECKPOINT_H
#define SL_CONNECTORS_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* Writes the name of the connector's checkpoint stream into `out`; returns
 * its length as snprintf does. */
int sl_checkpoint_stream_name(char *out, size_t size, const char *connector_id);

/* Whether `stream` is some connector's checkpoint stream, or that stream's
 * metadata stream ($$...). */
bool sl_checkpoint_is_stream(const char *stream, size_t len);

/* *found is false (and *position 0) when the connector has no checkpoint. */
enum sl_code sl_checkpoint_load(struct sl_store *store, const char *connector_id, uint64_t *position,
                                bool *found, struct sl_error *err);

/* Gives the checkpoints stream its metadata ($maxCount) unless it has some
 * already. Needed once before the first sl_checkpoint_submit. */
enum sl_code sl_checkpoint_prepare(struct sl_store *store, const char *connector_id, struct sl_error *err);

/* sl_checkpoint_prepare, then writes checkpoint `position` and waits for it. */
enum sl_code sl_checkpoint_save(struct sl_store *store, const char *connector_id, uint64_t position,
                                struct sl_error *err);

/* One checkpoint append in flight: the write, its event and the bytes they
 * point to. The caller owns it and must keep it, unmoved, until `done` ran. */
struct sl_checkpoint_write {
    struct sl_write write;
    struct sl_new_event event;
    char stream[128];
    char data[48];
    uint64_t position;
};

/* Queues checkpoint `position` into `cw` without waiting. On SL_OK,
 * done(&cw->write) runs once on the store's writer thread after the commit or
 * the failure (cw->write.code says which; see struct sl_write for what `done`
 * may do), with cw->write.user = `user`. On an error, `err` is filled and
 * `done` does not run. */
enum sl_code sl_checkpoint_submit(struct sl_store *store, const char *connector_id, uint64_t position,
                                  struct sl_checkpoint_write *cw, void (*done)(struct sl_write *), void *user,
                                  struct sl_error *err);

#endif
