/* open.c: opening and closing the store, and the helpers every other store
 * file shares (transactions, stream rows, metadata, the head). */
#include <errno.h>
#include <jansson.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>

#include "store/internal.h"
#include "store/record.h"
#include "util/clock.h"
#include "util/log.h"

#define DEFAULT_MAP_SIZE ((size_t)64 << 30) /* virtual; the file grows only as data is written */
#define DEFAULT_MAX_EVENT_BYTES ((size_t)8 << 20)
#define DEFAULT_MAX_APPEND_EVENTS 10000

void *sl_store_writer_main(void *arg); /* writer.c */

enum sl_code sl_store_mdb_error(struct sl_error *err, int rc, const char *what)
{
    enum sl_code code = SL_E_IO;
    if (rc == MDB_MAP_FULL || rc == ENOSPC)
        code = SL_E_FULL;
    else if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID ||
             rc == MDB_VERSION_MISMATCH)
        code = SL_E_CORRUPT;
    else if (rc == ENOMEM)
        code = SL_E_NOMEM;
    return sl_errorf(err, code, "%s: %s", what, mdb_strerror(rc));
}

static enum sl_code make_dir(const char *path, struct sl_error *err)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return SL_OK;
    return sl_errorf(err, SL_E_IO, "cannot create data directory %s: %s", path, strerror(errno));
}

static enum sl_code open_tables(struct sl_store *store, struct sl_error *err)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc)
        return sl_store_mdb_error(err, rc, "cannot begin the opening transaction");
    struct {
        const char *name;
        MDB_dbi *dbi;
    } tables[] = {
        {"events", &store->events},
        {"streams", &store->streams},
        {"stream_index", &store->stream_index},
        {"event_ids", &store->event_ids},
        {"meta", &store->meta},
    };
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        rc = mdb_dbi_open(txn, tables[i].name, MDB_CREATE, tables[i].dbi);
        if (rc) {
            mdb_txn_abort(txn);
            return sl_store_mdb_error(err, rc, "cannot open a table");
        }
    }

    /* The head is the last key of `events`; the next stream id lives in `meta`. */
    MDB_cursor *cur;
    MDB_val k, v;
    rc = mdb_cursor_open(txn, store->events, &cur);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        if (rc == 0 && k.mv_size == 8)
            atomic_store(&store->head, sl_get_be64(k.mv_data));
        mdb_cursor_close(cur);
    }
    if (rc && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return sl_store_mdb_error(err, rc, "cannot read the log head");
    }
    k.mv_data = "next-stream-id";
    k.mv_size = strlen("next-stream-id");
    rc = mdb_get(txn, store->meta, &k, &v);
    store->next_stream_id = 1;
    if (rc == 0 && v.mv_size == 8)
        store->next_stream_id = sl_get_be64(v.mv_data);
    rc = mdb_txn_commit(txn);
    if (rc)
        return sl_store_mdb_error(err, rc, "cannot commit the opening transaction");
    return SL_OK;
}

/* Checks at open that the data file is whole and that the newest records are
 * intact, so a damaged store is refused with a message naming the file rather
 * than served (or crashing on a read past a truncated map). Every read checks
 * each record's checksum as well. */
#define TAIL_RECORDS_CHECKED 10000

/* Before any page is read: a file shorter than its last page would fault
 * (SIGBUS) on the first access past its end. */
static enum sl_code check_file_size(struct sl_store *store, struct sl_error *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/data.mdb", store->data_dir);
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(store->env, &info);
    mdb_env_stat(store->env, &st);
    struct stat fs;
    if (stat(path, &fs) != 0)
        return sl_errorf(err, SL_E_IO, "cannot stat %s: %s", path, strerror(errno));
    uint64_t needed = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    if ((uint64_t)fs.st_size < needed)
        return sl_errorf(
            err, SL_E_CORRUPT,
            "%s is truncated: it has %lld bytes but its last page ends at byte %llu; restore it from a "
            "backup",
            path, (long long)fs.st_size, (unsigned long long)needed);
    return SL_OK;
}

/* A data file that exists but is empty was truncated: LMDB would silently
 * start a new store in it. */
static enum sl_code check_not_emptied(const char *data_dir, struct sl_error *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/data.mdb", data_dir);
    struct stat fs;
    if (stat(path, &fs) == 0 && fs.st_size == 0)
        return sl_errorf(err, SL_E_CORRUPT,
                         "%s is empty: the store was truncated; restore it from a backup, or "
                         "remove the file to start a new store",
                         path);
    return SL_OK;
}

static enum sl_code sl_store_check(struct sl_store *store, struct sl_error *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/data.mdb", store->data_dir);
    MDB_txn *txn;
    enum sl_code code = sl_store_begin_read(store, &txn, err);
    if (code)
        return code;
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, store->events, &cur);
    MDB_val k, v;
    size_t checked = 0;
    for (rc = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == 0 && checked < TAIL_RECORDS_CHECKED;
         rc = mdb_cursor_get(cur, &k, &v, MDB_PREV), checked++) {
        struct sl_event ev;
        struct sl_error rerr;
        if (k.mv_size != 8 ||
            sl_record_decode(v.mv_data, v.mv_size, sl_get_be64(k.mv_data), &ev, &rerr) != SL_OK) {
            code = sl_errorf(err, SL_E_CORRUPT, "%s is damaged: %s", path,
                             k.mv_size == 8 ? rerr.message : "a key of the events table is malformed");
            break;
        }
    }
    if (code == SL_OK && rc != 0 && rc != MDB_NOTFOUND)
        code = sl_errorf(err, SL_E_CORRUPT, "%s is damaged: %s", path, mdb_strerror(rc));
    if (cur)
        mdb_cursor_close(cur);
    sl_store_end_read(store, txn);
    return code;
}

enum sl_code sl_store_open_env(struct sl_store *store, struct sl_error *err)
{
    int rc = mdb_env_create(&store->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(store->env, 8);
    if (rc == 0)
        rc = mdb_env_set_maxreaders(store->env, 1024);
    if (rc == 0)
        rc = mdb_env_set_mapsize(store->env, atomic_load(&store->map_size));
    /* MDB_NOTLS: read transactions are tied to the transaction, not the thread,
     * so any thread may read. Commits fsync (no MDB_NOSYNC): durability first. */
    if (rc == 0)
        rc = mdb_env_open(store->env, store->data_dir, MDB_NOTLS, 0644);
    if (rc) {
        enum sl_code code = sl_store_mdb_error(err, rc, "cannot open the store");
        return sl_errorf(err, code, "cannot open the store in %s: %s", store->data_dir, mdb_strerror(rc));
    }
    /* The map may have been grown by an earlier run: use the file's size. */
    MDB_envinfo info;
    mdb_env_info(store->env, &info);
    atomic_store(&store->map_size, info.me_mapsize);

    enum sl_code code = check_file_size(store, err);
    if (code == SL_OK)
        code = open_tables(store, err);
    return code;
}

enum sl_code sl_store_open(const struct sl_store_options *opts, struct sl_store **out, struct sl_error *err)
{
    *out = NULL;
    if (opts == NULL || opts->data_dir == NULL || opts->data_dir[0] == '\0')
        return sl_errorf(err, SL_E_INVALID, "a data directory is required");
    enum sl_code code = make_dir(opts->data_dir, err);
    if (code)
        return code;

    code = check_not_emptied(opts->data_dir, err);
    if (code)
        return code;
    struct sl_store *store = calloc(1, sizeof(*store));
    if (store == NULL)
        return sl_errorf(err, SL_E_NOMEM, "out of memory opening the store");
    store->data_dir = strdup(opts->data_dir);
    store->map_size = opts->map_size ? opts->map_size : DEFAULT_MAP_SIZE;
    store->max_event_bytes = opts->max_event_bytes ? opts->max_event_bytes : DEFAULT_MAX_EVENT_BYTES;
    store->max_append_events = opts->max_append_events ? opts->max_append_events : DEFAULT_MAX_APPEND_EVENTS;

    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    /* The writer must get the lock to grow the map even while readers keep coming. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&store->resize_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&store->queue_mutex, NULL);
    pthread_cond_init(&store->queue_cond, NULL);
    pthread_mutex_init(&store->head_mutex, NULL);
    pthread_condattr_t cattr;
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&store->head_cond, &cattr);
    pthread_condattr_destroy(&cattr);

    code = sl_store_open_env(store, err);
    if (code == SL_OK)
        code = sl_store_check(store, err);
    if (code)
        goto fail;

    int rc = pthread_create(&store->writer, NULL, sl_store_writer_main, store);
    if (rc) {
        code = sl_errorf(err, SL_E_INTERNAL, "cannot start the writer thread: %s", strerror(rc));
        goto fail;
    }
    store->writer_started = true;
    sl_info("store", "opened %s (head position %llu)", store->data_dir,
            (unsigned long long)atomic_load(&store->head));
    *out = store;
    return SL_OK;

fail:
    sl_store_close(store);
    return code;
}

void sl_store_close(struct sl_store *store)
{
    if (store == NULL)
        return;
    if (store->writer_started) {
        pthread_mutex_lock(&store->queue_mutex);
        store->stopping = true;
        pthread_cond_signal(&store->queue_cond);
        pthread_mutex_unlock(&store->queue_mutex);
        pthread_join(store->writer, NULL);
    }
    pthread_mutex_lock(&store->head_mutex);
    store->closing = true;
    pthread_cond_broadcast(&store->head_cond);
    pthread_mutex_unlock(&store->head_mutex);

    if (store->env)
        mdb_env_close(store->env);
    pthread_rwlock_destroy(&store->resize_lock);
    pthread_mutex_destroy(&store->queue_mutex);
    pthread_cond_destroy(&store->queue_cond);
    pthread_mutex_destroy(&store->head_mutex);
    pthread_cond_destroy(&store->head_cond);
    if (store->writer_started)
        sl_info("store", "closed %s", store->data_dir);
    free(store->data_dir);
    free(store);
}

enum sl_code sl_store_begin_read(struct sl_store *store, MDB_txn **txn, struct sl_error *err)
{
    pthread_rwlock_rdlock(&store->resize_lock);
    if (store->env == NULL) {
        pthread_rwlock_unlock(&store->resize_lock);
        return sl_errorf(err, SL_E_IO, "the store is being reopened after a failed write");
    }
    int rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, txn);
    if (rc) {
        pthread_rwlock_unlock(&store->resize_lock);
        return sl_store_mdb_error(err, rc, "cannot begin a read");
    }
    return SL_OK;
}

void sl_store_end_read(struct sl_store *store, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&store->resize_lock);
}

static void le64_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* LMDB keys are at most 511 bytes and names up to 1026: a long name is keyed
 * by its first bytes and the SHA-256 of the whole, which keeps prefix order
 * for listing and makes a collision practically impossible. */
#define STREAM_KEY_MAX 480
#define STREAM_KEY_PREFIX (STREAM_KEY_MAX - SHA256_DIGEST_LENGTH)

static MDB_val stream_key(const char *name, size_t len, uint8_t buf[STREAM_KEY_MAX])
{
    if (len <= STREAM_KEY_MAX)
        return (MDB_val){len, (void *)name};
    memcpy(buf, name, STREAM_KEY_PREFIX);
    SHA256((const unsigned char *)name, len, buf + STREAM_KEY_PREFIX);
    return (MDB_val){STREAM_KEY_MAX, buf};
}

int sl_stream_row_get(MDB_txn *txn, const struct sl_store *store, const char *name, size_t len,
                      struct stream_row *row)
{
    uint8_t kbuf[STREAM_KEY_MAX];
    MDB_val k = stream_key(name, len, kbuf), v;
    int rc = mdb_get(txn, store->streams, &k, &v);
    if (rc)
        return rc;
    if (v.mv_size != STREAM_ROW_SIZE)
        return MDB_CORRUPTED;
    const uint8_t *p = v.mv_data;
    row->id = le64_get(p);
    row->last_revision = (int64_t)le64_get(p + 8);
    row->deleted_before = (int64_t)le64_get(p + 16);
    row->flags = (uint32_t)le64_get(p + 24);
    return 0;
}

int sl_stream_row_put(MDB_txn *txn, const struct sl_store *store, const char *name, size_t len,
                      const struct stream_row *row)
{
    uint8_t buf[STREAM_ROW_SIZE];
    le64_put(buf, row->id);
    le64_put(buf + 8, (uint64_t)row->last_revision);
    le64_put(buf + 16, (uint64_t)row->deleted_before);
    le64_put(buf + 24, row->flags);
    uint8_t kbuf[STREAM_KEY_MAX];
    MDB_val k = stream_key(name, len, kbuf), v = {sizeof(buf), buf};
    return mdb_put(txn, store->streams, &k, &v, 0);
}

int sl_stream_index_get(MDB_txn *txn, const struct sl_store *store, uint64_t id, int64_t rev, uint64_t *pos)
{
    uint8_t key[16];
    sl_put_be64(key, id);
    sl_put_be64(key + 8, (uint64_t)rev);
    MDB_val k = {sizeof(key), key}, v;
    int rc = mdb_get(txn, store->stream_index, &k, &v);
    if (rc)
        return rc;
    if (v.mv_size != 8 && v.mv_size != SL_STREAM_INDEX_VALUE_SIZE)
        return MDB_CORRUPTED;
    *pos = sl_get_be64(v.mv_data);
    return 0;
}

enum sl_code sl_store_get_event(MDB_txn *txn, const struct sl_store *store, uint64_t pos, struct sl_event *ev,
                                struct sl_error *err)
{
    uint8_t key[8];
    sl_put_be64(key, pos);
    MDB_val k = {sizeof(key), key}, v;
    int rc = mdb_get(txn, store->events, &k, &v);
    if (rc == MDB_NOTFOUND)
        return sl_errorf(err, SL_E_NOT_FOUND, "no event at position %llu", (unsigned long long)pos);
    if (rc)
        return sl_store_mdb_error(err, rc, "cannot read an event");
    return sl_record_decode(v.mv_data, v.mv_size, pos, ev, err);
}

enum sl_code sl_store_metadata_raw(MDB_txn *txn, const struct sl_store *store, const char *name, size_t len,
                                   const char **json, size_t *json_len, int64_t *meta_revision,
                                   struct sl_error *err)
{
    *json = NULL;
    *json_len = 0;
    *meta_revision = SL_REVISION_NONE;
    char meta_name[SL_MAX_STREAM_NAME + 3];
    if (len + 2 > sizeof(meta_name) - 1)
        return SL_OK;
    meta_name[0] = '$';
    meta_name[1] = '$';
    memcpy(meta_name + 2, name, len);

    struct stream_row row;
    int rc = sl_stream_row_get(txn, store, meta_name, len + 2, &row);
    if (rc == MDB_NOTFOUND || (rc == 0 && row.last_revision < 0))
        return SL_OK;
    if (rc)
        return sl_store_mdb_error(err, rc, "cannot read stream metadata");
    uint64_t pos;
    rc = sl_stream_index_get(txn, store, row.id, row.last_revision, &pos);
    if (rc)
        return sl_store_mdb_error(err, rc, "cannot find the stream's metadata event");
    struct sl_event ev;
    enum sl_code code = sl_store_get_event(txn, store, pos, &ev, err);
    if (code)
        return code;
    *json = ev.data;
    *json_len = ev.data_len;
    *meta_revision = row.last_revision;
    return SL_OK;
}

static int64_t limit_value(json_t *obj, const char *key, int64_t min)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < min)
        return -1;
    return json_integer_value(v);
}

void sl_stream_limits_parse(const char *json, size_t len, struct stream_limits *out)
{
    out->max_count = out->max_age_s = out->truncate_before = -1;
    if (json == NULL || len == 0)
        return;
    json_t *obj = json_loadb(json, len, 0, NULL);
    if (json_is_object(obj)) {
        out->max_count = limit_value(obj, "$maxCount", 1);
        out->max_age_s = limit_value(obj, "$maxAge", 1);
        out->truncate_before = limit_value(obj, "$tb", 0);
    }
    json_decref(obj);
}

void sl_store_publish_head(struct sl_store *store, uint64_t head)
{
    pthread_mutex_lock(&store->head_mutex);
    atomic_store(&store->head, head);
    pthread_cond_broadcast(&store->head_cond);
    pthread_mutex_unlock(&store->head_mutex);
    int n = atomic_load(&store->n_watchers);
    for (int i = 0; i < n; i++)
        store->watchers[i].fn(store->watchers[i].arg);
}

uint64_t sl_store_head(const struct sl_store *store)
{
    return atomic_load(&((struct sl_store *)store)->head);
}

uint64_t sl_store_wait(struct sl_store *store, uint64_t after, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (timeout_ms > 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&store->head_mutex);
    while (atomic_load(&store->head) <= after && !store->closing && timeout_ms != 0) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&store->head_cond, &store->head_mutex);
        } else if (pthread_cond_timedwait(&store->head_cond, &store->head_mutex, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    uint64_t head = atomic_load(&store->head);
    pthread_mutex_unlock(&store->head_mutex);
    return head;
}

enum sl_code sl_store_watch(struct sl_store *store, void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&store->head_mutex);
    int n = atomic_load(&store->n_watchers);
    if (n >= SL_STORE_MAX_WATCHERS) {
        pthread_mutex_unlock(&store->head_mutex);
        return SL_E_TOO_LARGE;
    }
    store->watchers[n].fn = fn;
    store->watchers[n].arg = arg;
    atomic_store(&store->n_watchers, n + 1);
    pthread_mutex_unlock(&store->head_mutex);
    return SL_OK;
}

void sl_store_get_stats(const struct sl_store *store, struct sl_store_stats *out)
{
    struct sl_store *s = (struct sl_store *)store;
    out->commits = atomic_load(&s->stats.commits);
    out->writes = atomic_load(&s->stats.writes);
    out->events_written = atomic_load(&s->stats.events_written);
    out->write_errors = atomic_load(&s->stats.write_errors);
    out->map_resizes = atomic_load(&s->stats.map_resizes);
    out->max_batch = atomic_load(&s->stats.max_batch);
    out->commit_us_total = atomic_load(&s->stats.commit_us_total);
    out->last_commit_failed = atomic_load(&s->stats.last_commit_failed);
    out->is_broken = atomic_load(&s->stats.is_broken);
    out->head = atomic_load(&s->head);
    out->map_size = s->map_size;
}

const struct sl_histogram *sl_store_commit_histogram(const struct sl_store *store)
{
    return &store->stats.commit_latency;
}

const struct sl_histogram *sl_store_write_histogram(const struct sl_store *store)
{
    return &store->stats.write_latency;
}
