/* internal.h: the store's private state, shared by its own files only.
 *
 * LMDB tables (one environment in the data directory):
 *   events       position (be64)                 -> record (record.h)
 *   streams      stream name bytes               -> struct stream_row (32 bytes, LE)
 *   stream_index stream id (be64) + revision (be64) -> position (be64) + event id (16)
 *                (entries written by sluice before 0.2 hold the position only)
 *   event_ids    no longer written: an id index by random UUID dirtied a page per
 *                event; idempotency reads stream_index (opened so old stores open)
 *   meta         "next-stream-id"                -> be64
 *
 * Locking: `resize_lock` is held shared by every transaction (read or write)
 * and exclusively only while the writer grows the map, because LMDB requires
 * that no transaction is open in the process when mdb_env_set_mapsize runs.
 * `head_mutex` guards `closing` and pairs with `head_cond` for waiters. */
#ifndef SL_STORE_INTERNAL_H
#define SL_STORE_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>

#include "store/store.h"
#include "util/histogram.h"

#define SL_STREAM_INDEX_VALUE_SIZE 24

struct stream_row {
    uint64_t id;
    int64_t last_revision;  /* -1 when it never had an event */
    int64_t deleted_before; /* soft delete: revisions below this are gone; -1 when never deleted */
    uint32_t flags;         /* STREAM_TOMBSTONED */
};
#define STREAM_ROW_SIZE 32
#define STREAM_TOMBSTONED 0x1u

/* The parts of a stream's metadata that reads honour. -1 = not set. */
struct stream_limits {
    int64_t max_count;
    int64_t max_age_s;
    int64_t truncate_before;
};

struct watcher {
    void (*fn)(void *arg);
    void *arg;
};

struct sl_store {
    MDB_env *env;
    MDB_dbi events, streams, stream_index, event_ids, meta;
    _Atomic size_t map_size;
    size_t max_event_bytes;
    size_t max_append_events;
    char *data_dir;

    pthread_rwlock_t resize_lock;

    /* The writer's queue. */
    pthread_mutex_t queue_mutex;
    pthread_cond_t queue_cond;
    struct sl_write *queue_head, *queue_tail;
    bool stopping;
    pthread_t writer;
    bool writer_started;

    /* The durable head and those who wait for it. */
    _Atomic uint64_t head;
    pthread_mutex_t head_mutex;
    pthread_cond_t head_cond;
    bool closing;
    struct watcher watchers[SL_STORE_MAX_WATCHERS];
    _Atomic int n_watchers;

    /* Writer-only state. */
    uint64_t next_stream_id;

    struct {
        _Atomic uint64_t commits, writes, events_written, write_errors, map_resizes, max_batch,
            commit_us_total;
        _Atomic bool last_commit_failed;
        _Atomic bool is_broken; /* LMDB panicked: only a restart recovers */
        struct sl_histogram commit_latency, write_latency;
    } stats;
};

/* Creates and opens the LMDB environment of `store->data_dir` and its tables
 * (also used to reopen it after an LMDB panic, under the exclusive lock). */
enum sl_code sl_store_open_env(struct sl_store *store, struct sl_error *err);

/* A read-only transaction with the resize lock held shared. */
enum sl_code sl_store_begin_read(struct sl_store *store, MDB_txn **txn, struct sl_error *err);
void sl_store_end_read(struct sl_store *store, MDB_txn *txn);

/* Translates an LMDB error into a sluice code and message. */
enum sl_code sl_store_mdb_error(struct sl_error *err, int rc, const char *what);

/* Stream rows. get returns MDB_NOTFOUND when absent. */
int sl_stream_row_get(MDB_txn *txn, const struct sl_store *store, const char *name, size_t len,
                      struct stream_row *row);
int sl_stream_row_put(MDB_txn *txn, const struct sl_store *store, const char *name, size_t len,
                      const struct stream_row *row);

/* Position of revision `rev` of stream `id`; MDB_NOTFOUND when absent. */
int sl_stream_index_get(MDB_txn *txn, const struct sl_store *store, uint64_t id, int64_t rev, uint64_t *pos);

/* Fetches and decodes the event at `pos`; the event points into LMDB memory
 * valid until the transaction ends. */
enum sl_code sl_store_get_event(MDB_txn *txn, const struct sl_store *store, uint64_t pos, struct sl_event *ev,
                                struct sl_error *err);

/* The metadata JSON of stream `name` inside `txn`: the data of the last event
 * of `$$name`. *json points into LMDB memory; *json = NULL when none. */
enum sl_code sl_store_metadata_raw(MDB_txn *txn, const struct sl_store *store, const char *name, size_t len,
                                   const char **json, size_t *json_len, int64_t *meta_revision,
                                   struct sl_error *err);

/* Parses the limits out of metadata JSON; unparsable or absent = no limits. */
void sl_stream_limits_parse(const char *json, size_t len, struct stream_limits *out);

/* Calls every watcher and wakes every waiter; writer thread. */
void sl_store_publish_head(struct sl_store *store, uint64_t head);

#endif
