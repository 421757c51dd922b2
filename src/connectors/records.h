/* records.h: turning events of the log into the records a sink receives
 * (spec §5): payload, content type and the `esdb-*` headers, plus one
 * `esdb-record-headers-<key>` per top-level key of the event's JSON metadata.
 *
 * A struct sl_record_batch owns copies of everything its records point to,
 * so records outlive the cursor batch they came from (the runtime gathers
 * several cursor batches into one sink batch). Slots are reused across
 * batches to avoid allocation churn. One owner thread.
 *
 * Building a record is on the hot path of every connector (a batched
 * connector builds 100 000s a second), so the batch also owns what makes
 * that cheap: its own generator for the `esdb-request-id` UUIDs (seeded from
 * the system on the first record; no system call per id) and the formatted
 * date and time of the last second it stamped, for the two RFC 3339 headers.
 * A zeroed struct is an empty batch. */
#ifndef SL_CONNECTORS_RECORDS_H
#define SL_CONNECTORS_RECORDS_H

#include "sinks/sink.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/fastrand.h"

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
    struct sl_fastrand request_ids;
    bool has_request_ids; /* request_ids is seeded */
    struct sl_rfc3339_cache now_text, created_text;
};

void sl_record_batch_reset(struct sl_record_batch *b);
void sl_record_batch_free(struct sl_record_batch *b);

/* Copies `ev` in as a record; reads the clock once, for esdb-request-date.
 * False when out of memory. */
bool sl_record_batch_add(struct sl_record_batch *b, const char *connector_id, const struct sl_event *ev,
                         bool ignore_system_headers);

#endif
