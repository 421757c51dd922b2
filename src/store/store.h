/* store.h: the event store: durable streams on LMDB.
 *
 * One struct sl_store per data directory. It owns the LMDB environment and the
 * writer thread. Every function here may be called from any thread unless it
 * says otherwise.
 *
 * Writes (append, delete, tombstone) are queued to the single writer thread,
 * which checks each against the current state, writes every queued operation
 * in one LMDB transaction and commits it with one fsync (group commit). Each
 * operation's `done` callback runs on the writer thread after that commit, or
 * after the failure; nothing is acknowledged before it is on disk. Readers use
 * their own read-only transactions and never wait for the writer.
 *
 * Positions are 64-bit, start at 1 and strictly increase along the log ($all).
 * Position 0 means "before the first event". Revisions start at 0 per stream;
 * -1 means "no stream". */
#ifndef SL_STORE_STORE_H
#define SL_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

struct sl_store;

#define SL_REVISION_NONE ((int64_t)-1)
#define SL_REVISION_END ((int64_t)-2) /* as a read start: the last revision */
#define SL_TOMBSTONE_REVISION INT64_MAX
#define SL_POSITION_END UINT64_MAX
#define SL_MAX_STREAM_NAME 1024

struct sl_store_options {
    const char *data_dir;     /* required; created if missing */
    size_t map_size;          /* initial LMDB map size in bytes; 0 = default; grows on demand */
    size_t max_event_bytes;   /* data + metadata of one event; 0 = 8 MiB */
    size_t max_append_events; /* events in one append; 0 = 10 000 */
};

/* Opens (creating if needed) the store in opts->data_dir and starts its writer
 * thread. On failure returns an error code, fills `err` and *out stays NULL. */
enum sl_code sl_store_open(const struct sl_store_options *opts, struct sl_store **out, struct sl_error *err);

/* Finishes every queued write (each gets its `done`), stops the writer and
 * closes the environment. Later writes would be refused with SL_E_SHUTDOWN, but
 * the caller must not use `store` after this returns. NULL-safe. */
void sl_store_close(struct sl_store *store);

/* ---- writes ---- */

enum sl_expected_kind { SL_EXPECT_ANY, SL_EXPECT_NO_STREAM, SL_EXPECT_EXISTS, SL_EXPECT_REVISION };

struct sl_expected {
    enum sl_expected_kind kind;
    int64_t revision; /* for SL_EXPECT_REVISION */
};

#define SL_EVENT_JSON 0x01u         /* content type application/json */
#define SL_EVENT_DATA_IS_JSON 0x02u /* data bytes parse as JSON */
#define SL_EVENT_META_IS_JSON 0x04u /* metadata bytes parse as JSON */

/* An event to append. The caller owns every pointer until `done` runs. */
struct sl_new_event {
    uint8_t id[16];
    const char *type;
    size_t type_len;
    uint32_t flags; /* SL_EVENT_* */
    const void *data;
    size_t data_len;
    const void *metadata;
    size_t metadata_len;
};

enum sl_write_kind { SL_WRITE_APPEND, SL_WRITE_DELETE, SL_WRITE_TOMBSTONE };

/* Idempotency (spec/streams.md): a re-append of the same ids at the same
 * expected revision returns the original result and writes nothing, at any
 * depth in the stream. With `any` (or stream_exists), a re-append is
 * recognised when its ids are the stream's last events, or when its first id
 * stands among the stream's last SL_STORE_ID_WINDOW events (a retry after
 * others wrote). Within that window an id stands at most once: a new event
 * reusing one is refused with SL_E_EXISTS. Older ids may be used again. */
#define SL_STORE_ID_WINDOW 64

/* One write operation: filled by the caller, completed by the writer.
 * The caller owns the struct and every pointer in it until `done` runs. */
struct sl_write {
    /* in */
    enum sl_write_kind kind;
    const char *stream;
    size_t stream_len;
    struct sl_expected expected;
    const struct sl_new_event *events; /* SL_WRITE_APPEND only */
    size_t n_events;

    /* out, valid in `done` */
    enum sl_code code;     /* SL_OK or the failure */
    struct sl_error err;   /* when code != SL_OK */
    int64_t last_revision; /* revision of the stream's last event after the write */
    uint64_t position;     /* log position of the last event written (or of the original, when idempotent) */
    int64_t actual_revision; /* on SL_E_WRONG_REVISION: the stream's revision, -1 = no stream */
    bool was_idempotent;     /* true when the events were already there and nothing was written */
    int64_t created_us;      /* the commit time stamped on the events written */

    /* Called once, on the writer thread, after commit or failure. Must not
     * block and must not call the store's write functions synchronously. */
    void (*done)(struct sl_write *w);
    void *user;

    struct sl_write *next_in_queue; /* the store's, do not touch */
    int64_t queued_us;              /* the store's: when it was queued (monotonic) */
};

/* Queues `w`. Returns SL_OK when queued (then `done` will run), or an error
 * (validation, shutdown) with `err` filled, in which case `done` does not run. */
enum sl_code sl_store_submit(struct sl_store *store, struct sl_write *w, struct sl_error *err);

/* Submits and waits for the commit. Returns w->code; w->err holds the error. */
enum sl_code sl_store_write(struct sl_store *store, struct sl_write *w);

/* Checks a stream name: 1-1024 bytes of UTF-8 without NUL (1026 for `$$` names). */
enum sl_code sl_store_validate_name(const char *name, size_t len, struct sl_error *err);

/* Checks a write's input without touching the store (names, sizes, counts). */
enum sl_code sl_store_validate(const struct sl_store *store, const struct sl_write *w, struct sl_error *err);

/* ---- reads ---- */

/* A stored event as read. Pointers refer to memory owned by whoever produced
 * the event (a struct sl_read_result or a cursor) and stay valid as long as it. */
struct sl_event {
    uint64_t position;
    int64_t revision;
    int64_t created_us; /* commit time, microseconds since the Unix epoch, UTC */
    uint32_t flags;     /* SL_EVENT_* */
    uint8_t id[16];
    const char *stream;
    size_t stream_len;
    const char *type;
    size_t type_len;
    const void *data;
    size_t data_len;
    const void *metadata;
    size_t metadata_len;
};

/* The result of a read: owns its events' memory. */
struct sl_read_result {
    struct sl_event *events;
    size_t count;
    bool has_next;         /* more events may follow in the read direction */
    int64_t next;          /* next revision (stream reads) or position ($all) to read from */
    int64_t last_revision; /* stream reads: the stream's last revision */
    struct sl_buf raw;     /* record bytes the events point into */
    size_t cap;            /* private: room in `events` and `spans` */
    size_t *spans;         /* private: offset and length of each record in `raw` */
};

void sl_read_result_free(struct sl_read_result *r);

struct sl_filter;

/* Reads up to `count` events of one stream starting at revision `from`
 * (inclusive; SL_REVISION_END = the last one), honouring $maxCount, $maxAge
 * and $tb. Errors: SL_E_NOT_FOUND (no stream or soft-deleted), SL_E_DELETED
 * (tombstoned), SL_E_INVALID. */
enum sl_code sl_store_read_stream(struct sl_store *store, const char *stream, size_t stream_len, int64_t from,
                                  bool backwards, size_t count, struct sl_read_result *out,
                                  struct sl_error *err);

/* Reads up to `count` events of the log. Forwards: positions >= from.
 * Backwards: positions < from (SL_POSITION_END = from the head, inclusive).
 * `filter` may be NULL. At most `max_scan` events are examined (0 = no limit),
 * so a sparse filter returns early with has_next set. */
enum sl_code sl_store_read_all(struct sl_store *store, uint64_t from, bool backwards, size_t count,
                               const struct sl_filter *filter, size_t max_scan, struct sl_read_result *out,
                               struct sl_error *err);

/* Reads the event at `position`. SL_E_NOT_FOUND if there is none. */
enum sl_code sl_store_read_at(struct sl_store *store, uint64_t position, struct sl_read_result *out,
                              struct sl_error *err);

struct sl_stream_info {
    bool exists;     /* has ever had an event */
    bool is_deleted; /* soft-deleted and not written since */
    bool is_tombstoned;
    int64_t last_revision; /* -1 when it never had an event */
};

enum sl_code sl_store_stream_info(struct sl_store *store, const char *stream, size_t stream_len,
                                  struct sl_stream_info *out, struct sl_error *err);

/* The stream's metadata JSON (the data of the last event of `$$stream`), as a
 * malloc'd NUL-terminated string the caller frees, "{}" when none.
 * *meta_revision is the revision of that event, -1 when none. */
enum sl_code sl_store_get_metadata(struct sl_store *store, const char *stream, size_t stream_len, char **json,
                                   int64_t *meta_revision, struct sl_error *err);

/* Calls fn(name, len, arg) for each stream whose name starts with `prefix`,
 * in byte order, until fn returns false. Only names up to 480 bytes are
 * listed (longer ones are keyed by a hash). Used to find system streams such
 * as `$connectors/...`. */
enum sl_code sl_store_list_streams(struct sl_store *store, const char *prefix,
                                   bool (*fn)(const char *name, size_t len, void *arg), void *arg,
                                   struct sl_error *err);

/* ---- the head and waiting for it ---- */

/* Position of the last committed event (0 when the log is empty). */
uint64_t sl_store_head(const struct sl_store *store);

/* Blocks until the head is past `after` or `timeout_ms` passes (-1 = forever)
 * or the store closes. Returns the head. */
uint64_t sl_store_wait(struct sl_store *store, uint64_t after, int timeout_ms);

/* Registers `fn(arg)` to be called on the writer thread after every commit
 * that moves the head (e.g. to wake an event loop with uv_async_send). It must
 * be quick and must not call back into the store's write path. At most
 * SL_STORE_MAX_WATCHERS. Returns SL_E_TOO_LARGE when full. */
#define SL_STORE_MAX_WATCHERS 8
enum sl_code sl_store_watch(struct sl_store *store, void (*fn)(void *arg), void *arg);

/* Counters for /metrics. Read without locks: values are approximate. */
struct sl_store_stats {
    uint64_t commits;
    uint64_t writes; /* write operations committed */
    uint64_t events_written;
    uint64_t write_errors;
    uint64_t map_resizes;
    uint64_t head;
    uint64_t map_size;
    uint64_t max_batch; /* most operations in one commit */
    uint64_t commit_us_total;
    bool last_commit_failed; /* the disk refused the last commit (full or I/O error) */
    bool is_broken;          /* the environment panicked after a failed write: restart the process */
};
void sl_store_get_stats(const struct sl_store *store, struct sl_store_stats *out);

/* Latency histograms, alive as long as the store: the time of each
 * mdb_txn_commit (its page writes and both syncs), and of each write from
 * being queued to its `done` (waiting for the writer, applying, committing). */
struct sl_histogram;
const struct sl_histogram *sl_store_commit_histogram(const struct sl_store *store);
const struct sl_histogram *sl_store_write_histogram(const struct sl_store *store);

#endif
