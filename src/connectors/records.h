/* records.h: turning events of the log into the records a sink receives
 * (spec §5): payload, content type and the `esdb-*` headers, plus one
 * `esdb-record-headers-<key>` per top-level key of the event's JSON metadata.
 *
 * A struct sl_record_batch owns copies of everything its records point to,
 * so records outlive the cursor batch they came from (the runtime gathers
 * several cursor batches into one sink batch). Slots are reused across
 * batches to avoid allocation churn. One owner thread. */
#ifndef SL_CONNECTORS_RECORDS_H
#define SL_CONNECTORS_RECORDS_H

#include "sinks/sink.h"
#include "store/store.h"
#include "util/buf.h"

struct sl_record_slot {
    struct sl_buf strings;
    struct sl_header *headers;
    size_t n_headers, cap_headers;
    size_t *offsets; /* name and value offset of each header in `strings` */
    size_t payload_off, payload_len;
};

struct sl_record_batch {
    struct sl_record_slot *slots;
    struct sl_sink_record *records;
    size_t count, cap;
    size_t payload_bytes;
};

void sl_record_batch_reset(struct sl_record_batch *b);
void sl_record_batch_free(struct sl_record_batch *b);

/* Copies `ev` in as a record. False when out of memory. */
bool sl_record_batch_add(struct sl_record_batch *b, const char *connector_id, const struct sl_event *ev,
                         bool ignore_system_headers);

#endif
