/* runtime.c: the worker thread of one running connector (see runtime.h). */
#include "connectors/runtime.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/checkpoint.h"
#include "connectors/definition.h"
#include "connectors/records.h"
#include "connectors/resilience.h"
#include "store/cursor.h"
#include "store/filter.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/codec.h"
#include "util/log.h"

/* A read takes at least this many events (rounded up to whole requests). */
#define READ_BATCH 512

/* A gather that already holds records reads on without waiting while the log
 * has more, but stops after this many reads' worth of events examined, so that
 * a sparse filter does not hold the records it found for long. */
#define GATHER_MAX_READS 8

/* A caught-up connector that read nothing for this long frees its buffers. */
#define IDLE_RELEASE_MS 2000

struct sl_worker {
    struct sl_store *store;
    char *id;
    struct sl_settings settings;
    const struct sl_sink_type *sink_type;
    void *sink;
    struct sl_connector_counters *counters;
    struct sl_worker_events events;
    struct sl_filter *filter;
    struct sl_cursor *cursor;
    struct sl_backoff backoff;
    uint64_t rng;

    /* Checkpointing. */
    bool autocommit;
    int64_t commit_interval_ms;
    int64_t commit_records;
    uint64_t acked;         /* everything up to here is handled */
    uint64_t committed;     /* the last checkpoint known durable */
    uint64_t pending_after; /* cursor position once the gathered batch is handled */
    int64_t records_since_commit;
    bool has_progress;    /* something other than connectors' checkpoints was handled since the last commit */
    bool is_commit_retry; /* the last checkpoint write failed: the next commit() writes again */
    bool has_checkpoint_stream; /* sl_checkpoint_prepare succeeded in this run */
    int64_t last_commit_ms;

    /* The periodic checkpoint is written in the background (at most one at a
     * time) so that delivery does not wait for its fsync. The store's writer
     * thread only flags its completion (checkpoint_written); the worker thread
     * takes the outcome from there (finish_checkpoint). `checkpoint` must stay
     * put while is_checkpoint_in_flight. */
    struct sl_checkpoint_write checkpoint;
    bool is_checkpoint_in_flight; /* worker thread only */
    int64_t checkpoint_submitted_us;
    pthread_mutex_t checkpoint_mutex;
    pthread_cond_t checkpoint_cond;
    bool is_checkpoint_done;    /* under checkpoint_mutex: `done` ran */
    int64_t checkpoint_done_us; /* under checkpoint_mutex */

    size_t batch_size;
    size_t read_size;       /* events per read: a multiple of batch_size */
    bool is_released;       /* idle: the buffers below, the cursor's and the sink's are freed */
    int64_t last_events_ms; /* when the cursor last returned records or progress */
    int64_t max_delay_ms;
    bool ignore_system_headers;
    bool is_logging;
    struct sl_record_batch batch;
    struct sl_sink_result *results;
    size_t results_cap;

    pthread_t thread;
    _Atomic bool stop;   /* finish the write in flight, commit, exit */
    _Atomic bool cancel; /* abort the write in flight too */
    pthread_mutex_t sleep_mutex;
    pthread_cond_t sleep_cond;
};

/* Sleeps `ms` unless asked to stop; returns false when stopping. */
static bool sleep_unless_stopped(struct sl_worker *w, int64_t ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ms / 1000;
    deadline.tv_nsec += (ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->sleep_mutex);
    while (!atomic_load(&w->stop)) {
        if (pthread_cond_timedwait(&w->sleep_cond, &w->sleep_mutex, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&w->sleep_mutex);
    return !atomic_load(&w->stop);
}

/* Store writer thread: the background checkpoint is committed or failed.
 * It only flags that: the rest happens on the worker thread, because `done`
 * must not block and on_checkpoint takes the manager's lock, which API
 * threads hold while they list connectors. */
static void checkpoint_written(struct sl_write *wr)
{
    struct sl_worker *w = wr->user;
    pthread_mutex_lock(&w->checkpoint_mutex);
    w->checkpoint_done_us = sl_monotonic_us();
    w->is_checkpoint_done = true;
    pthread_cond_signal(&w->checkpoint_cond);
    pthread_mutex_unlock(&w->checkpoint_mutex);
}

/* A checkpoint at `position` is durable. */
static void note_committed(struct sl_worker *w, uint64_t position, int64_t took_us)
{
    sl_histogram_observe_us(&w->counters->commit_latency, took_us);
    w->committed = position;
    if (w->events.on_checkpoint)
        w->events.on_checkpoint(w->events.arg, position);
}

/* A checkpoint could not be written: the next commit() writes what is
 * acknowledged by then. */
static void note_commit_failed(struct sl_worker *w, uint64_t position, const char *why)
{
    sl_warn("connector", "%s: cannot commit checkpoint %llu: %s", w->id, (unsigned long long)position, why);
    w->is_commit_retry = true;
    w->has_progress = true;
}

/* Takes the outcome of the background checkpoint, if one was submitted:
 * waits for it when `wait`, else only looks whether it is done. */
static void finish_checkpoint(struct sl_worker *w, bool wait)
{
    if (!w->is_checkpoint_in_flight)
        return;
    pthread_mutex_lock(&w->checkpoint_mutex);
    while (wait && !w->is_checkpoint_done)
        pthread_cond_wait(&w->checkpoint_cond, &w->checkpoint_mutex);
    bool is_done = w->is_checkpoint_done;
    int64_t done_us = w->checkpoint_done_us;
    pthread_mutex_unlock(&w->checkpoint_mutex);
    if (!is_done)
        return;
    w->is_checkpoint_in_flight = false;
    const struct sl_write *wr = &w->checkpoint.write;
    if (wr->code != SL_OK)
        note_commit_failed(w, w->checkpoint.position, wr->err.message);
    else
        note_committed(w, w->checkpoint.position, done_us - w->checkpoint_submitted_us);
}

/* What was acknowledged so far is on its way to a checkpoint. */
static void note_commit_started(struct sl_worker *w, int64_t now_ms)
{
    w->records_since_commit = 0;
    w->has_progress = false;
    w->is_commit_retry = false;
    w->last_commit_ms = now_ms;
}

/* Writes checkpoint `acked` and waits for it: on stop and failure, so that
 * the checkpoint is durable once sl_worker_stop returns. */
static void commit_now(struct sl_worker *w, int64_t now_ms)
{
    struct sl_error err = {0};
    uint64_t position = w->acked;
    int64_t t0 = sl_monotonic_us();
    if (sl_checkpoint_save(w->store, w->id, position, &err) != SL_OK) {
        note_commit_failed(w, position, err.message);
        return;
    }
    note_commit_started(w, now_ms);
    w->has_checkpoint_stream = true;
    note_committed(w, position, sl_monotonic_us() - t0);
}

/* Submits checkpoint `acked` and returns without waiting for it. The
 * metadata of the checkpoints stream is written first, once per run and
 * synchronously (a no-op but for a connector's very first checkpoint). */
static void commit_in_background(struct sl_worker *w, int64_t now_ms)
{
    struct sl_error err = {0};
    uint64_t position = w->acked;
    if (!w->has_checkpoint_stream) {
        if (sl_checkpoint_prepare(w->store, w->id, &err) != SL_OK) {
            note_commit_failed(w, position, err.message);
            return;
        }
        w->has_checkpoint_stream = true;
    }
    pthread_mutex_lock(&w->checkpoint_mutex);
    w->is_checkpoint_done = false;
    pthread_mutex_unlock(&w->checkpoint_mutex);
    w->checkpoint_submitted_us = sl_monotonic_us();
    if (sl_checkpoint_submit(w->store, w->id, position, &w->checkpoint, checkpoint_written, w, &err) !=
        SL_OK) {
        note_commit_failed(w, position, err.message);
        return;
    }
    w->is_checkpoint_in_flight = true;
    note_commit_started(w, now_ms);
}

/* Commits the checkpoint when forced (stop), after recordsThreshold records,
 * when caught up after delivering, or every interval. Only real progress
 * counts: each checkpoint is itself an event in the log, and committing past
 * it alone would write a checkpoint for every checkpoint, forever.
 *
 * The checkpoint is `acked`, so it never passes a record the sink has not
 * acknowledged. A periodic one is written in the background, one at a time
 * (what is acknowledged meanwhile goes into the next); a forced one waits
 * for the one in flight, then is written and waited for. */
static void commit(struct sl_worker *w, bool force, bool caught_up)
{
    finish_checkpoint(w, force);
    if (!w->autocommit || w->acked <= w->committed || !w->has_progress || w->is_checkpoint_in_flight)
        return;
    int64_t now = sl_monotonic_ms();
    bool due = force || w->is_commit_retry || w->records_since_commit >= w->commit_records ||
               (caught_up && w->records_since_commit > 0) || now - w->last_commit_ms >= w->commit_interval_ms;
    if (!due)
        return;
    if (force)
        commit_now(w, now);
    else
        commit_in_background(w, now);
}

/* Appends an undeliverable record to `$connectors/{id}/dlq`: the payload as
 * it was, and what went wrong in the metadata. */
static enum sl_code dead_letter(struct sl_worker *w, const struct sl_sink_record *r, const char *why,
                                int64_t attempts, struct sl_error *err)
{
    char stream[128];
    int len = snprintf(stream, sizeof(stream), "$connectors/%s/dlq", w->id);
    struct sl_buf meta;
    sl_buf_init(&meta);
    sl_buf_puts(&meta, "{\"error\":");
    sl_buf_json_string(&meta, why, strlen(why));
    sl_buf_puts(&meta, ",\"recordId\":");
    sl_buf_json_string(&meta, r->record_id, strlen(r->record_id));
    sl_buf_puts(&meta, ",\"streamId\":");
    sl_buf_json_string(&meta, r->stream, r->stream_len);
    sl_buf_printf(&meta, ",\"streamRevision\":%lld,\"logPosition\":%llu,\"attempts\":%lld,\"schemaSubject\":",
                  (long long)r->revision, (unsigned long long)r->position, (long long)attempts);
    sl_buf_json_string(&meta, r->type, r->type_len);
    sl_buf_putc(&meta, '}');
    struct sl_new_event ev = {
        .type = r->type,
        .type_len = r->type_len,
        .flags = (r->is_json ? SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON : 0) | SL_EVENT_META_IS_JSON,
        .data = r->payload,
        .data_len = r->payload_len,
        .metadata = meta.data,
        .metadata_len = meta.len,
    };
    sl_uuid_generate(ev.id);
    struct sl_write wr = {
        .kind = SL_WRITE_APPEND, .stream = stream, .stream_len = (size_t)len, .events = &ev, .n_events = 1};
    enum sl_code code = meta.failed ? SL_E_NOMEM : sl_store_write(w->store, &wr);
    if (code && err)
        *err = wr.err;
    sl_buf_free(&meta);
    return code;
}

static void acknowledge(struct sl_worker *w, const struct sl_sink_record *r)
{
    w->acked = r->position;
    w->records_since_commit++;
    w->has_progress = true;
    atomic_store(&w->counters->processed_position, r->position);
}

/* Delivers the batch in order. Returns false when the connector must stop:
 * asked to, or a record could not be delivered and onExhausted is `stop`
 * (then `failure` says why). */
static bool deliver(struct sl_worker *w, char *failure, size_t failure_size)
{
    size_t n = w->batch.count;
    if (n > w->results_cap) {
        struct sl_sink_result *res = realloc(w->results, n * sizeof(*res));
        if (res == NULL) {
            snprintf(failure, failure_size, "out of memory delivering %zu records", n);
            return false;
        }
        w->results = res;
        w->results_cap = n;
    }
    const struct sl_sink_record *recs = w->batch.records;
    size_t i = 0;
    int64_t attempt = 0, first_failure_ms = 0;
    while (i < n) {
        if (atomic_load(&w->stop))
            return false;
        /* One request's worth per call: a stop is noticed between requests,
         * and checkpoints keep their recordsThreshold granularity. */
        size_t chunk = n - i < w->batch_size ? n - i : w->batch_size;
        for (size_t k = i; k < i + chunk; k++) {
            w->results[k].outcome = SL_SINK_RETRY;
            w->results[k].retry_after_ms = -1;
            w->results[k].error[0] = '\0';
        }
        w->sink_type->write(w->sink, recs + i, chunk, w->results + i, &w->cancel);
        int64_t now_us = sl_now_us();
        size_t end = i + chunk;
        while (i < end && w->results[i].outcome == SL_SINK_DELIVERED) {
            sl_histogram_observe_us(&w->counters->write_latency, now_us - recs[i].created_us);
            atomic_fetch_add(&w->counters->delivered, 1);
            acknowledge(w, &recs[i]);
            i++;
            attempt = 0;
            first_failure_ms = 0;
        }
        commit(w, false, false);
        if (i == n)
            break;
        if (i == end)
            continue;
        if (atomic_load(&w->stop))
            return false;

        const struct sl_sink_result *res = &w->results[i];
        atomic_fetch_add(&w->counters->errors, 1);
        atomic_store(&w->counters->last_error_us, now_us);
        int64_t delay = -1;
        if (res->outcome == SL_SINK_RETRY) {
            int64_t now_ms = sl_monotonic_ms();
            if (first_failure_ms == 0)
                first_failure_ms = now_ms;
            attempt++;
            delay = sl_backoff_delay(&w->backoff, attempt, now_ms - first_failure_ms, res->retry_after_ms,
                                     &w->rng);
        }
        if (delay >= 0) {
            atomic_fetch_add(&w->counters->retries, 1);
            if (w->is_logging && (attempt == 1 || attempt % 10 == 0))
                sl_warn("connector", "%s: record at %llu not delivered (%s); retry %lld in %lld ms", w->id,
                        (unsigned long long)recs[i].position, res->error, (long long)attempt,
                        (long long)delay);
            if (!sleep_unless_stopped(w, delay))
                return false;
            continue;
        }

        /* Exhausted or not retryable. */
        atomic_fetch_add(&w->counters->failed, 1);
        if (w->backoff.on_exhausted == SL_EXHAUSTED_DEAD_LETTER) {
            struct sl_error err = {0};
            if (dead_letter(w, &recs[i], res->error, attempt + 1, &err) != SL_OK) {
                snprintf(failure, failure_size, "cannot dead-letter the record at %llu: %s",
                         (unsigned long long)recs[i].position, err.message);
                return false;
            }
            atomic_fetch_add(&w->counters->dead_lettered, 1);
            if (w->is_logging)
                sl_warn("connector", "%s: dead-lettered the record at %llu: %s", w->id,
                        (unsigned long long)recs[i].position, res->error);
            acknowledge(w, &recs[i]);
            i++;
            attempt = 0;
            first_failure_ms = 0;
            continue;
        }
        snprintf(failure, failure_size, "the record at position %llu (%s) could not be delivered: %s",
                 (unsigned long long)recs[i].position, recs[i].record_id, res->error);
        return false;
    }
    return true;
}

/* Events per read: the smallest multiple of the sink's batch size that is at
 * least READ_BATCH, so that a catch-up hands the sink full requests only
 * (with 100 records per request: 600 = 6 x 100, not 512 = 5 x 100 + 12). */
static size_t read_size_for(size_t batch_size)
{
    if (batch_size >= READ_BATCH)
        return batch_size;
    return (READ_BATCH + batch_size - 1) / batch_size * batch_size;
}

/* Adds the events the filter lets through to the batch; counts the others. */
static bool take_events(struct sl_worker *w, const struct sl_event *evs, size_t n)
{
    bool is_activity = false;
    for (size_t i = 0; i < n; i++) {
        if (!sl_filter_matches(w->filter, &evs[i])) {
            atomic_fetch_add(&w->counters->filtered, 1);
            /* Connectors' checkpoints are not progress, ours or another's: else
             * idle connectors would write checkpoints for each other for ever. */
            if (!sl_checkpoint_is_stream(evs[i].stream, evs[i].stream_len)) {
                w->has_progress = true;
                is_activity = true;
            }
            if (w->batch.count == 0) {
                /* Nothing pending before it: a filtered event is handled at once. */
                w->acked = evs[i].position;
                atomic_store(&w->counters->processed_position, evs[i].position);
            }
            continue;
        }
        is_activity = true;
        if (!sl_record_batch_add(&w->batch, w->id, &evs[i], w->ignore_system_headers))
            return false;
    }
    if (is_activity) {
        w->last_events_ms = sl_monotonic_ms();
        w->is_released = false;
    }
    return true;
}

/* Called once a caught-up connector has read nothing for IDLE_RELEASE_MS. It
 * would otherwise keep its largest batch for ever: about 2 MB of records, log
 * copies and request body with 1 KB events. Not sooner, so that a connector
 * fed a trickle of events does not free and allocate for each of them. */
static void release_buffers(struct sl_worker *w)
{
    if (w->is_released)
        return;
    sl_record_batch_free(&w->batch);
    free(w->results);
    w->results = NULL;
    w->results_cap = 0;
    sl_cursor_release(w->cursor);
    if (w->sink_type->release)
        w->sink_type->release(w->sink);
    /* glibc keeps freed memory in the thread's arena; give it back. */
    malloc_trim(0);
    w->is_released = true;
}

/* Reads the next events and turns the matching ones into records, up to
 * read_size records. While the log has more at hand it reads on without
 * waiting; once it has given all it had, the records gathered go out, unless
 * they are fewer than the sink's batch size: then they wait for more until
 * batching:maxDelayMs after the first of them was read. Returns false when
 * stopping or on a store error. */
static bool gather(struct sl_worker *w, bool *caught_up, char *failure, size_t failure_size)
{
    sl_record_batch_reset(&w->batch);
    *caught_up = false;
    int64_t deadline = 0;
    size_t examined = 0;
    for (;;) {
        finish_checkpoint(w, false);
        size_t count = w->batch.count;
        size_t want = w->read_size - count;
        int wait_ms = 200;
        if (count > 0) {
            /* Records in hand wait for more only while they are fewer than
             * one request, until the deadline; else top up with what is there. */
            int64_t left = count < w->batch_size ? deadline - sl_monotonic_ms() : 0;
            wait_ms = left <= 0 ? 0 : (int)(left < 200 ? left : 200);
        }
        const struct sl_event *evs;
        size_t n;
        struct sl_error err = {0};
        enum sl_code code = sl_cursor_next(w->cursor, want, wait_ms, &evs, &n, &err);
        if (atomic_load(&w->stop))
            return false;
        if (code == SL_E_TIMEOUT) {
            *caught_up = count == 0;
            if (*caught_up && sl_monotonic_ms() - w->last_events_ms >= IDLE_RELEASE_MS)
                release_buffers(w);
            return true;
        }
        if (code != SL_OK) {
            snprintf(failure, failure_size, "cannot read the log: %s", err.message);
            return false;
        }
        if (!take_events(w, evs, n)) {
            snprintf(failure, failure_size, "out of memory building records");
            return false;
        }
        w->pending_after = sl_cursor_position(w->cursor);
        examined += n;
        count = w->batch.count;
        if (count == 0)
            continue;
        if (deadline == 0)
            deadline = sl_monotonic_ms() + w->max_delay_ms;
        if (count >= w->read_size)
            return true;
        bool has_more = n == want && examined < GATHER_MAX_READS * w->read_size;
        if (has_more)
            continue;
        if (count >= w->batch_size || sl_monotonic_ms() >= deadline)
            return true;
    }
}

static void *worker_main(void *arg)
{
    struct sl_worker *w = arg;
    char failure[512] = "";
    /* "c:" and the id's start, so that top -H tells connectors apart (names are 15 bytes at most). */
    char name[16];
    snprintf(name, sizeof(name), "c:%s", w->id);
    pthread_setname_np(pthread_self(), name);
    if (w->events.on_running)
        w->events.on_running(w->events.arg);
    for (;;) {
        bool caught_up;
        if (!gather(w, &caught_up, failure, sizeof(failure)))
            break;
        if (w->batch.count > 0) {
            if (!deliver(w, failure, sizeof(failure)))
                break;
            /* Every record of the batch is handled: so is every filtered event read with them. */
            w->acked = w->pending_after;
            atomic_store(&w->counters->processed_position, w->acked);
        }
        commit(w, false, caught_up);
    }
    /* A requested stop commits what was acknowledged; a failure too, so that
     * what was delivered before it is not delivered again. A forced commit
     * first waits for the checkpoint write in flight: past this point there
     * is none, and free_worker may free what it points to. */
    commit(w, true, false);
    if (failure[0] && !atomic_load(&w->stop)) {
        sl_warn("connector", "%s: stopped: %s", w->id, failure);
        if (w->events.on_failed)
            w->events.on_failed(w->events.arg, "delivery-failed", failure);
    }
    return NULL;
}

static void free_worker(struct sl_worker *w)
{
    if (w->sink_type && w->sink)
        w->sink_type->destroy(w->sink);
    sl_cursor_close(w->cursor);
    sl_filter_free(w->filter);
    sl_record_batch_free(&w->batch);
    free(w->results);
    sl_settings_free(&w->settings);
    pthread_mutex_destroy(&w->sleep_mutex);
    pthread_cond_destroy(&w->sleep_cond);
    pthread_mutex_destroy(&w->checkpoint_mutex);
    pthread_cond_destroy(&w->checkpoint_cond);
    free(w->id);
    free(w);
}

enum sl_code sl_worker_start(const struct sl_worker_options *o, struct sl_worker **out, struct sl_error *err)
{
    *out = NULL;
    struct sl_worker *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return sl_errorf(err, SL_E_NOMEM, "out of memory starting a connector");
    pthread_mutex_init(&w->sleep_mutex, NULL);
    pthread_mutex_init(&w->checkpoint_mutex, NULL);
    pthread_cond_init(&w->checkpoint_cond, NULL);
    pthread_condattr_t cattr;
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->sleep_cond, &cattr);
    pthread_condattr_destroy(&cattr);
    w->store = o->store;
    w->id = strdup(o->connector_id);
    w->sink_type = o->sink;
    w->counters = o->counters;
    w->events = o->events;
    w->acked = w->committed = w->pending_after = o->start_after;
    w->rng = (uint64_t)sl_now_us() | 1;
    enum sl_code code = SL_OK;
    if (w->id == NULL || !sl_settings_copy(&w->settings, o->settings)) {
        code = sl_errorf(err, SL_E_NOMEM, "out of memory starting a connector");
        goto fail;
    }
    const struct sl_setting *t = sl_connector_settings;
    w->autocommit = sl_settings_bool(&w->settings, t, "autocommit:enabled");
    w->commit_interval_ms = sl_settings_int(&w->settings, t, "autocommit:interval");
    w->commit_records = sl_settings_int(&w->settings, t, "autocommit:recordsThreshold");
    w->ignore_system_headers = sl_settings_bool(&w->settings, t, "headers:ignoreSystem");
    w->is_logging = sl_settings_bool(&w->settings, t, "logging:enabled");
    w->last_commit_ms = sl_monotonic_ms();
    sl_backoff_from_settings(&w->settings, &w->backoff);

    w->filter = sl_connector_filter(&w->settings, err);
    if (w->filter == NULL) {
        code = err ? err->code : SL_E_INVALID;
        goto fail;
    }
    code = w->sink_type->create(&w->settings, w->id, &w->sink, err);
    if (code)
        goto fail;
    w->batch_size = w->sink_type->batch_size ? w->sink_type->batch_size(w->sink) : 1;
    if (w->batch_size == 0)
        w->batch_size = 1;
    w->read_size = read_size_for(w->batch_size);
    w->max_delay_ms = sl_settings_int(&w->settings, w->sink_type->settings, "batching:maxDelayMs");
    w->cursor = sl_cursor_open(w->store, o->start_after, NULL);
    if (w->cursor == NULL) {
        code = sl_errorf(err, SL_E_NOMEM, "out of memory opening a cursor");
        goto fail;
    }
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    if (rc) {
        code = sl_errorf(err, SL_E_INTERNAL, "cannot start a connector thread: %s", strerror(rc));
        goto fail;
    }
    *out = w;
    return SL_OK;
fail:
    free_worker(w);
    return code;
}

/* A write in flight gets this long to finish before it is aborted: a clean
 * stop should not leave a record delivered but unacknowledged (it would be
 * delivered again), yet a hanging sink must not hold a stop for long. */
#define STOP_GRACE_MS 3000

void sl_worker_stop(struct sl_worker *w)
{
    if (w == NULL)
        return;
    atomic_store(&w->stop, true);
    sl_cursor_interrupt(w->cursor);
    pthread_mutex_lock(&w->sleep_mutex);
    pthread_cond_broadcast(&w->sleep_cond);
    pthread_mutex_unlock(&w->sleep_mutex);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += STOP_GRACE_MS / 1000;
    if (pthread_timedjoin_np(w->thread, NULL, &deadline) != 0) {
        atomic_store(&w->cancel, true);
        pthread_join(w->thread, NULL);
    }
    free_worker(w);
}
