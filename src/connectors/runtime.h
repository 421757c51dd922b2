/* runtime.h: one running connector: a thread that reads the log, filters,
 * hands records to its sink in order, retries, dead-letters, and commits
 * checkpoints.
 *
 *   cursor(start) -> batch of events -> filter -> records -> sink.write
 *   -> per-record outcome -> (retry with backoff | dead-letter | stop) -> checkpoint
 *
 * The checkpoint is the position up to which every matching event was
 * acknowledged by the sink, filtered-out events included; it is committed
 * after `autocommit:recordsThreshold` records, every `autocommit:interval`
 * ms, when caught up, and on a requested stop (so a clean stop re-delivers
 * nothing). Those but the last are written in the background while delivery
 * goes on, one at a time; the last (stop, failure) is waited for, so it is
 * durable once sl_worker_stop returns. on_checkpoint reports a checkpoint
 * once it is durable.
 *
 * Threads: sl_worker_start and sl_worker_stop are called by the connectors
 * manager. The callbacks in struct sl_worker_events run on the worker thread
 * and must not call sl_worker_stop. */
#ifndef SL_CONNECTORS_RUNTIME_H
#define SL_CONNECTORS_RUNTIME_H

#include <stdatomic.h>
#include <stdint.h>

#include "connectors/settings.h"
#include "sinks/sink.h"
#include "store/store.h"
#include "util/histogram.h"

/* Figures a connector keeps across its runs; owned by the manager, updated by
 * the worker, read by the API. */
struct sl_connector_counters {
    _Atomic uint64_t delivered;
    _Atomic uint64_t filtered;
    _Atomic uint64_t failed; /* records that could not be delivered (dead-lettered or fatal) */
    _Atomic uint64_t dead_lettered;
    _Atomic uint64_t retries;
    _Atomic uint64_t errors;             /* failed write attempts */
    _Atomic uint64_t processed_position; /* last position read and handled (delivered or filtered) */
    _Atomic int64_t last_error_us;
    struct sl_histogram write_latency;  /* event created -> sink acknowledged */
    struct sl_histogram commit_latency; /* checkpoint commit */
};

struct sl_worker_events {
    void (*on_running)(void *arg);
    /* The worker stopped on its own (a record could not be delivered, the sink
     * could not be created): `code` and `message` say why. */
    void (*on_failed)(void *arg, const char *code, const char *message);
    void (*on_checkpoint)(void *arg, uint64_t position);
    void *arg;
};

struct sl_worker_options {
    struct sl_store *store;
    const char *connector_id;           /* copied */
    const struct sl_settings *settings; /* copied */
    const struct sl_sink_type *sink;
    uint64_t start_after;                   /* deliver events with position > this */
    struct sl_connector_counters *counters; /* must outlive the worker */
    struct sl_worker_events events;
};

struct sl_worker;

enum sl_code sl_worker_start(const struct sl_worker_options *opts, struct sl_worker **out,
                             struct sl_error *err);

/* Asks the worker to stop (it commits its checkpoint first) and joins it.
 * NULL-safe. Also right after on_failed, to reap the thread. */
void sl_worker_stop(struct sl_worker *w);

#endif
