/* writer.c: the single writer thread and its group commit.
 *
 * Callers queue struct sl_write operations. The writer takes every queued
 * operation at once, applies them in order inside one LMDB write transaction
 * (each one checked against the state left by the ones before it), commits
 * with one fsync, publishes the new head, and only then calls each
 * operation's `done`. The more callers wait during an fsync, the more the
 * next fsync carries. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "store/record.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/codec.h"
#include "util/utf8.h"

#define MAX_EVENT_TYPE_BYTES 1024

/* State of one batch inside its transaction. */
struct batch {
    MDB_txn *txn;
    uint64_t head;
    uint64_t next_stream_id;
    int64_t created_us;
    size_t events_written;
    int mdb_failure; /* an LMDB error that dooms the whole transaction */
};

/* ---- validation (any thread) ---- */

enum sl_code sl_store_validate_name(const char *name, size_t len, struct sl_error *err)
{
    size_t max = SL_MAX_STREAM_NAME;
    if (len >= 2 && name[0] == '$' && name[1] == '$')
        max += 2; /* the metadata stream of a name of the maximum length */
    if (name == NULL || len == 0)
        return sl_field_errorf(err, SL_E_INVALID, "stream", "the stream name is empty");
    if (len > max)
        return sl_field_errorf(err, SL_E_INVALID, "stream", "the stream name is %zu bytes; the limit is %d",
                               len, SL_MAX_STREAM_NAME);
    if (memchr(name, '\0', len))
        return sl_field_errorf(err, SL_E_INVALID, "stream", "the stream name contains a NUL byte");
    if (!sl_utf8_is_valid(name, len))
        return sl_field_errorf(err, SL_E_INVALID, "stream", "the stream name is not valid UTF-8");
    return SL_OK;
}

enum sl_code sl_store_validate(const struct sl_store *store, const struct sl_write *w, struct sl_error *err)
{
    enum sl_code code = sl_store_validate_name(w->stream, w->stream_len, err);
    if (code)
        return code;
    if (w->stream_len == 4 && memcmp(w->stream, "$all", 4) == 0)
        return sl_field_errorf(err, SL_E_INVALID, "stream",
                               "$all is the log itself and cannot be written to");
    if (w->expected.kind == SL_EXPECT_REVISION && w->expected.revision < 0)
        return sl_field_errorf(err, SL_E_INVALID, "expectedRevision", "an expected revision must be >= 0");
    if (w->kind != SL_WRITE_APPEND)
        return SL_OK;
    if (w->n_events == 0)
        return sl_field_errorf(err, SL_E_INVALID, "events", "an append needs at least one event");
    if (w->n_events > store->max_append_events)
        return sl_field_errorf(err, SL_E_TOO_LARGE, "events", "the append has %zu events; the limit is %zu",
                               w->n_events, store->max_append_events);
    char field[64];
    for (size_t i = 0; i < w->n_events; i++) {
        const struct sl_new_event *ev = &w->events[i];
        snprintf(field, sizeof(field), "[%zu].eventType", i);
        if (ev->type_len == 0)
            return sl_field_errorf(err, SL_E_INVALID, field, "event %zu has an empty event type", i);
        if (ev->type_len > MAX_EVENT_TYPE_BYTES)
            return sl_field_errorf(err, SL_E_INVALID, field,
                                   "event %zu has an event type of %zu bytes; the limit is %d", i,
                                   ev->type_len, MAX_EVENT_TYPE_BYTES);
        if (memchr(ev->type, '\0', ev->type_len) || !sl_utf8_is_valid(ev->type, ev->type_len))
            return sl_field_errorf(err, SL_E_INVALID, field,
                                   "event %zu has an event type that is not valid UTF-8", i);
        if (ev->data_len + ev->metadata_len > store->max_event_bytes) {
            snprintf(field, sizeof(field), "[%zu].data", i);
            return sl_field_errorf(err, SL_E_TOO_LARGE, field, "event %zu is %zu bytes; the limit is %zu", i,
                                   ev->data_len + ev->metadata_len, store->max_event_bytes);
        }
    }
    return SL_OK;
}

/* ---- queueing (any thread) ---- */

enum sl_code sl_store_submit(struct sl_store *store, struct sl_write *w, struct sl_error *err)
{
    enum sl_code code = sl_store_validate(store, w, err);
    if (code)
        return code;
    w->next_in_queue = NULL;
    w->queued_us = sl_monotonic_us();
    pthread_mutex_lock(&store->queue_mutex);
    if (store->stopping) {
        pthread_mutex_unlock(&store->queue_mutex);
        return sl_errorf(err, SL_E_SHUTDOWN, "the store is shutting down");
    }
    if (store->queue_tail)
        store->queue_tail->next_in_queue = w;
    else
        store->queue_head = w;
    store->queue_tail = w;
    pthread_cond_signal(&store->queue_cond);
    pthread_mutex_unlock(&store->queue_mutex);
    return SL_OK;
}

struct sync_wait {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool done;
};

static void sync_done(struct sl_write *w)
{
    struct sync_wait *sw = w->user;
    pthread_mutex_lock(&sw->mutex);
    sw->done = true;
    pthread_cond_signal(&sw->cond);
    pthread_mutex_unlock(&sw->mutex);
}

enum sl_code sl_store_write(struct sl_store *store, struct sl_write *w)
{
    struct sync_wait sw = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    w->done = sync_done;
    /* The caller waits below until `done` ran, so `sw` outlives its use. */
    w->user = &sw; // cppcheck-suppress autoVariables
    enum sl_code code = sl_store_submit(store, w, &w->err);
    if (code) {
        w->code = code;
        return code;
    }
    pthread_mutex_lock(&sw.mutex);
    while (!sw.done)
        pthread_cond_wait(&sw.cond, &sw.mutex);
    pthread_mutex_unlock(&sw.mutex);
    pthread_cond_destroy(&sw.cond);
    pthread_mutex_destroy(&sw.mutex);
    return w->code;
}

/* ---- applying operations (writer thread) ---- */

static bool record_mdb(struct batch *b, int rc)
{
    if (rc && !b->mdb_failure)
        b->mdb_failure = rc;
    return rc == 0;
}

/* The id of the event at revision `rev` of the stream: from its stream_index
 * entry, or from the record itself for entries written before the index held
 * ids. False when there is no such revision (or on an LMDB error, recorded). */
static bool id_at(struct batch *b, const struct sl_store *store, uint64_t stream_id, int64_t rev,
                  uint8_t id[16])
{
    uint8_t key[16];
    sl_put_be64(key, stream_id);
    sl_put_be64(key + 8, (uint64_t)rev);
    MDB_val k = {sizeof(key), key}, v;
    int rc = mdb_get(b->txn, store->stream_index, &k, &v);
    if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size < 8))
        return false;
    if (!record_mdb(b, rc))
        return false;
    if (v.mv_size == SL_STREAM_INDEX_VALUE_SIZE) {
        memcpy(id, (const uint8_t *)v.mv_data + 8, 16);
        return true;
    }
    struct sl_event ev;
    struct sl_error err;
    if (sl_store_get_event(b->txn, store, sl_get_be64(v.mv_data), &ev, &err) != SL_OK)
        return false;
    memcpy(id, ev.id, 16);
    return true;
}

/* The first revision of a stream that reads can see (0, or where a soft delete left it). */
static int64_t first_visible(const struct stream_row *row)
{
    return row->deleted_before > 0 ? row->deleted_before : 0;
}

/* True when the events' ids stand in the stream at revisions start, start+1, ... */
static bool ids_stand_at(struct batch *b, const struct sl_store *store, const struct stream_row *row,
                         int64_t start, const struct sl_write *w)
{
    if (start < first_visible(row) || start + (int64_t)w->n_events - 1 > row->last_revision)
        return false;
    uint8_t id[16];
    for (size_t i = 0; i < w->n_events; i++)
        if (!id_at(b, store, row->id, start + (int64_t)i, id) || memcmp(id, w->events[i].id, 16) != 0)
            return false;
    return true;
}

/* The ids of the stream's last visible events, up to SL_STORE_ID_WINDOW of
 * them: ids[k] stands at revision first + k. Read walking the stream's index
 * backwards, so it costs a few pages already in memory. */
struct recent_ids {
    int64_t first;
    size_t n;
    uint8_t ids[SL_STORE_ID_WINDOW][16];
};

static void load_recent_ids(struct batch *b, const struct sl_store *store, const struct stream_row *row,
                            struct recent_ids *recent)
{
    int64_t lowest = first_visible(row);
    int64_t count = row->last_revision - lowest + 1;
    if (count > SL_STORE_ID_WINDOW)
        count = SL_STORE_ID_WINDOW;
    recent->n = 0;
    recent->first = row->last_revision + 1;
    if (count <= 0)
        return;
    MDB_cursor *cur;
    if (!record_mdb(b, mdb_cursor_open(b->txn, store->stream_index, &cur)))
        return;
    int64_t first = row->last_revision - count + 1;
    uint8_t key[16];
    sl_put_be64(key, row->id);
    sl_put_be64(key + 8, (uint64_t)row->last_revision);
    MDB_val k = {sizeof(key), key}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
    for (int64_t rev = row->last_revision; rc == 0 && rev >= first; rev--) {
        /* Stop at a hole (a damaged index): the contiguous tail is kept. */
        if (k.mv_size != 16 || sl_get_be64(k.mv_data) != row->id ||
            (int64_t)sl_get_be64((const uint8_t *)k.mv_data + 8) != rev)
            break;
        uint8_t *slot = recent->ids[rev - first];
        if (v.mv_size == SL_STREAM_INDEX_VALUE_SIZE)
            memcpy(slot, (const uint8_t *)v.mv_data + 8, 16);
        else if (!id_at(b, store, row->id, rev, slot))
            break;
        recent->first = rev;
        recent->n++;
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        record_mdb(b, rc);
    mdb_cursor_close(cur);
    if (recent->n > 0 && recent->first != first)
        memmove(recent->ids, recent->ids[recent->first - first], recent->n * 16);
}

/* The revision at which `id` stands among `recent`, or -1. */
static int64_t find_recent_id(const struct recent_ids *recent, const uint8_t id[16])
{
    for (size_t k = 0; k < recent->n; k++)
        if (memcmp(recent->ids[k], id, 16) == 0)
            return recent->first + (int64_t)k;
    return -1;
}

static void succeed_idempotent(struct batch *b, const struct sl_store *store, const struct stream_row *row,
                               int64_t last, struct sl_write *w)
{
    uint64_t pos = 0;
    record_mdb(b, sl_stream_index_get(b->txn, store, row->id, last, &pos));
    w->code = SL_OK;
    w->was_idempotent = true;
    w->last_revision = last;
    w->position = pos;
}

static void fail_wrong_revision(struct sl_write *w, int64_t actual, const char *why)
{
    w->actual_revision = actual;
    w->code =
        sl_errorf(&w->err, SL_E_WRONG_REVISION, "%s (the stream's revision is %lld)", why, (long long)actual);
}

/* Writes one event; `revision` is the stream revision it takes. */
static bool put_event(struct batch *b, const struct sl_store *store, const char *stream, size_t stream_len,
                      uint64_t stream_id, const struct sl_new_event *ev, int64_t revision)
{
    uint64_t pos = b->head + 1;
    uint8_t pos_key[8];
    sl_put_be64(pos_key, pos);
    MDB_val k = {sizeof(pos_key), pos_key}, v = {sl_record_size(stream_len, ev), NULL};
    if (!record_mdb(b, mdb_put(b->txn, store->events, &k, &v, MDB_RESERVE | MDB_APPEND)))
        return false;
    sl_record_encode(v.mv_data, stream, stream_len, ev, revision, b->created_us);

    /* The index entry carries the event's id, so that idempotency checks
     * read the stream's index alone. */
    uint8_t idx_key[16], idx_val[SL_STREAM_INDEX_VALUE_SIZE];
    sl_put_be64(idx_key, stream_id);
    sl_put_be64(idx_key + 8, (uint64_t)revision);
    memcpy(idx_val, pos_key, 8);
    memcpy(idx_val + 8, ev->id, 16);
    MDB_val ik = {sizeof(idx_key), idx_key}, iv = {sizeof(idx_val), idx_val};
    if (!record_mdb(b, mdb_put(b->txn, store->stream_index, &ik, &iv, 0)))
        return false;
    b->head = pos;
    b->events_written++;
    return true;
}

/* Appends `n` events to the stream whose row is `row` (created when !exists). */
static bool append_events(struct batch *b, const struct sl_store *store, const char *stream,
                          size_t stream_len, struct stream_row *row, bool exists,
                          const struct sl_new_event *events, size_t n)
{
    if (!exists) {
        memset(row, 0, sizeof(*row));
        row->id = b->next_stream_id++;
        row->last_revision = SL_REVISION_NONE;
        row->deleted_before = -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!put_event(b, store, stream, stream_len, row->id, &events[i], row->last_revision + 1))
            return false;
        row->last_revision++;
    }
    return record_mdb(b, sl_stream_row_put(b->txn, store, stream, stream_len, row));
}

struct stream_state {
    struct stream_row row;
    bool exists;     /* has a row */
    bool is_visible; /* exists, has events, and is not soft-deleted */
    int64_t current; /* last revision, -1 when none */
};

static bool load_stream(struct batch *b, const struct sl_store *store, const char *name, size_t len,
                        struct stream_state *st)
{
    memset(st, 0, sizeof(*st));
    int rc = sl_stream_row_get(b->txn, store, name, len, &st->row);
    if (rc == MDB_NOTFOUND) {
        st->current = SL_REVISION_NONE;
        return true;
    }
    if (!record_mdb(b, rc))
        return false;
    st->exists = true;
    st->current = st->row.last_revision;
    st->is_visible = st->current >= 0 && st->row.deleted_before <= st->current;
    return true;
}

/* An event id stands at most once among a stream's last SL_STORE_ID_WINDOW
 * events, so that a retry with `any` is recognised without doubt: a new event
 * that reuses such an id is refused rather than written twice. */
static bool has_recent_id(const struct recent_ids *recent, struct sl_write *w)
{
    for (size_t i = 0; i < w->n_events; i++) {
        int64_t at = find_recent_id(recent, w->events[i].id);
        if (at >= 0) {
            char id[37];
            sl_uuid_format(w->events[i].id, id);
            w->code = sl_field_errorf(&w->err, SL_E_EXISTS, "eventId",
                                      "event %zu: id %s is already in the stream at revision %lld", i, id,
                                      (long long)at);
            return true;
        }
    }
    return false;
}

static int compare_ids(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static bool has_repeated_id(struct sl_write *w)
{
    if (w->n_events < 2)
        return false;
    uint8_t(*ids)[16] = malloc(w->n_events * 16);
    if (ids == NULL)
        return false; /* the index write below still keeps one entry per id */
    for (size_t i = 0; i < w->n_events; i++)
        memcpy(ids[i], w->events[i].id, 16);
    qsort(ids, w->n_events, 16, compare_ids);
    bool repeated = false;
    for (size_t i = 1; i < w->n_events && !repeated; i++)
        repeated = memcmp(ids[i - 1], ids[i], 16) == 0;
    if (repeated) {
        char id[37];
        for (size_t i = 1; i < w->n_events; i++)
            if (memcmp(ids[i - 1], ids[i], 16) == 0) {
                sl_uuid_format(ids[i], id);
                break;
            }
        w->code = sl_field_errorf(&w->err, SL_E_INVALID, "eventId",
                                  "event id %s appears more than once in the append", id);
    }
    free(ids);
    return repeated;
}

static void apply_append(struct batch *b, const struct sl_store *store, struct sl_write *w)
{
    struct recent_ids recent = {.first = 0, .n = 0};
    struct stream_state st;
    if (!load_stream(b, store, w->stream, w->stream_len, &st))
        return;
    if (st.row.flags & STREAM_TOMBSTONED) {
        w->code = sl_errorf(&w->err, SL_E_DELETED, "stream %.*s is deleted", (int)w->stream_len, w->stream);
        return;
    }
    w->actual_revision = st.is_visible ? st.current : SL_REVISION_NONE;

    bool may_write = false;
    switch (w->expected.kind) {
    case SL_EXPECT_REVISION: {
        int64_t e = w->expected.revision;
        if (st.exists && e == st.current) {
            may_write = true;
        } else if (st.exists && e < st.current && ids_stand_at(b, store, &st.row, e + 1, w)) {
            succeed_idempotent(b, store, &st.row, e + (int64_t)w->n_events, w);
            return;
        } else {
            fail_wrong_revision(w, st.exists ? st.current : SL_REVISION_NONE,
                                "the expected revision does not match");
            return;
        }
        break;
    }
    case SL_EXPECT_NO_STREAM: {
        int64_t first = first_visible(&st.row);
        if (!st.is_visible) {
            may_write = true;
        } else if (ids_stand_at(b, store, &st.row, first, w)) {
            succeed_idempotent(b, store, &st.row, first + (int64_t)w->n_events - 1, w);
            return;
        } else {
            fail_wrong_revision(w, st.current, "the stream was expected not to exist");
            return;
        }
        break;
    }
    case SL_EXPECT_EXISTS:
    case SL_EXPECT_ANY: {
        if (w->expected.kind == SL_EXPECT_EXISTS && !st.is_visible) {
            fail_wrong_revision(w, SL_REVISION_NONE, "the stream was expected to exist");
            return;
        }
        /* A retry: the ids are the stream's last events, or the first id
         * stands among its recent events (others may have written since). */
        int64_t last_n = st.current - (int64_t)w->n_events + 1;
        if (st.exists && ids_stand_at(b, store, &st.row, last_n, w)) {
            succeed_idempotent(b, store, &st.row, st.current, w);
            return;
        }
        if (st.exists)
            load_recent_ids(b, store, &st.row, &recent);
        int64_t at = st.exists ? find_recent_id(&recent, w->events[0].id) : -1;
        if (at >= 0) {
            if (ids_stand_at(b, store, &st.row, at, w)) {
                succeed_idempotent(b, store, &st.row, at + (int64_t)w->n_events - 1, w);
                return;
            }
            fail_wrong_revision(w, st.current, "the events partially match events already in the stream");
            return;
        }
        may_write = true;
        break;
    }
    }
    if (!may_write || b->mdb_failure)
        return;
    if (st.exists && w->expected.kind != SL_EXPECT_ANY && w->expected.kind != SL_EXPECT_EXISTS)
        load_recent_ids(b, store, &st.row, &recent);
    if (has_recent_id(&recent, w))
        return;
    if (has_repeated_id(w))
        return;
    if (!append_events(b, store, w->stream, w->stream_len, &st.row, st.exists, w->events, w->n_events))
        return;
    w->code = SL_OK;
    w->last_revision = st.row.last_revision;
    w->position = b->head;
    w->created_us = b->created_us;
}

/* Soft delete: the stream's metadata gets `$tb` = last revision + 1, as
 * KurrentDB does, so a later append brings the stream back from there. */
static void apply_delete(struct batch *b, const struct sl_store *store, struct sl_write *w)
{
    struct stream_state st;
    if (!load_stream(b, store, w->stream, w->stream_len, &st))
        return;
    if (st.row.flags & STREAM_TOMBSTONED) {
        w->code = sl_errorf(&w->err, SL_E_DELETED, "stream %.*s is deleted", (int)w->stream_len, w->stream);
        return;
    }
    w->actual_revision = st.is_visible ? st.current : SL_REVISION_NONE;
    if (w->stream_len + 2 > SL_MAX_STREAM_NAME + 2) {
        /* Its metadata stream would need a name over the limit. */
        w->code = sl_field_errorf(
            &w->err, SL_E_INVALID, "stream",
            "a stream name this long (%zu bytes) cannot be soft-deleted; tombstone it instead",
            w->stream_len);
        return;
    }
    if (!st.is_visible) {
        if (w->expected.kind == SL_EXPECT_NO_STREAM || w->expected.kind == SL_EXPECT_ANY)
            w->code = sl_errorf(&w->err, SL_E_NOT_FOUND, "stream %.*s does not exist", (int)w->stream_len,
                                w->stream);
        else
            fail_wrong_revision(w, SL_REVISION_NONE, "the stream does not exist");
        return;
    }
    if (w->expected.kind == SL_EXPECT_NO_STREAM ||
        (w->expected.kind == SL_EXPECT_REVISION && w->expected.revision != st.current)) {
        fail_wrong_revision(w, st.current, "the expected revision does not match");
        return;
    }

    const char *old_json;
    size_t old_len;
    int64_t meta_rev;
    struct sl_error merr;
    if (sl_store_metadata_raw(b->txn, store, w->stream, w->stream_len, &old_json, &old_len, &meta_rev,
                              &merr)) {
        w->code = merr.code;
        w->err = merr;
        return;
    }
    json_t *meta = old_json ? json_loadb(old_json, old_len, 0, NULL) : NULL;
    if (!json_is_object(meta)) {
        json_decref(meta);
        meta = json_object();
    }
    json_object_set_new(meta, "$tb", json_integer(st.current + 1));
    char *text = json_dumps(meta, JSON_COMPACT);
    json_decref(meta);
    if (text == NULL) {
        w->code = sl_errorf(&w->err, SL_E_NOMEM, "out of memory deleting a stream");
        return;
    }

    char meta_name[SL_MAX_STREAM_NAME + 3] = "$$";
    memcpy(meta_name + 2, w->stream, w->stream_len);
    struct stream_state ms;
    struct sl_new_event ev = {.type = "$metadata",
                              .type_len = 9,
                              .flags = SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON,
                              .data = text,
                              .data_len = strlen(text)};
    sl_uuid_generate(ev.id);
    bool ok = load_stream(b, store, meta_name, w->stream_len + 2, &ms) &&
              append_events(b, store, meta_name, w->stream_len + 2, &ms.row, ms.exists, &ev, 1);
    free(text);
    if (!ok)
        return;
    st.row.deleted_before = st.current + 1;
    if (!record_mdb(b, sl_stream_row_put(b->txn, store, w->stream, w->stream_len, &st.row)))
        return;
    w->code = SL_OK;
    w->last_revision = st.current;
    w->position = b->head;
}

/* Tombstone: a `$streamDeleted` event at revision INT64_MAX, as KurrentDB writes it. */
static void apply_tombstone(struct batch *b, const struct sl_store *store, struct sl_write *w)
{
    struct stream_state st;
    if (!load_stream(b, store, w->stream, w->stream_len, &st))
        return;
    if (st.row.flags & STREAM_TOMBSTONED) {
        w->code =
            sl_errorf(&w->err, SL_E_DELETED, "stream %.*s is already deleted", (int)w->stream_len, w->stream);
        return;
    }
    w->actual_revision = st.is_visible ? st.current : SL_REVISION_NONE;
    bool ok = true;
    switch (w->expected.kind) {
    case SL_EXPECT_ANY:
        break;
    case SL_EXPECT_NO_STREAM:
        ok = !st.is_visible;
        break;
    case SL_EXPECT_EXISTS:
        ok = st.is_visible;
        break;
    case SL_EXPECT_REVISION:
        ok = st.exists && st.current == w->expected.revision;
        break;
    }
    if (!ok) {
        fail_wrong_revision(w, w->actual_revision, "the expected revision does not match");
        return;
    }
    if (!st.exists) {
        memset(&st.row, 0, sizeof(st.row));
        st.row.id = b->next_stream_id++;
        st.row.last_revision = SL_REVISION_NONE;
        st.row.deleted_before = -1;
    }
    struct sl_new_event ev = {.type = "$streamDeleted", .type_len = 14, .flags = SL_EVENT_JSON};
    sl_uuid_generate(ev.id);
    if (!put_event(b, store, w->stream, w->stream_len, st.row.id, &ev, SL_TOMBSTONE_REVISION))
        return;
    st.row.flags |= STREAM_TOMBSTONED;
    if (!record_mdb(b, sl_stream_row_put(b->txn, store, w->stream, w->stream_len, &st.row)))
        return;
    w->code = SL_OK;
    w->last_revision = st.current;
    w->position = b->head;
}

static void reset_outcome(struct sl_write *w)
{
    w->code = SL_E_INTERNAL;
    sl_error_clear(&w->err);
    w->last_revision = SL_REVISION_NONE;
    w->actual_revision = SL_REVISION_NONE;
    w->position = 0;
    w->was_idempotent = false;
}

static bool grow_map(struct sl_store *store)
{
    pthread_rwlock_wrlock(&store->resize_lock);
    size_t size = atomic_load(&store->map_size) * 2;
    int rc = mdb_env_set_mapsize(store->env, size);
    if (rc == 0)
        atomic_store(&store->map_size, size);
    pthread_rwlock_unlock(&store->resize_lock);
    if (rc) {
        sl_error("store", "cannot grow the map to %zu bytes: %s", size, mdb_strerror(rc));
        return false;
    }
    atomic_fetch_add(&store->stats.map_resizes, 1);
    sl_info("store", "grew the map to %zu MiB", size >> 20);
    return true;
}

static void fail_batch(struct sl_write *list, int rc, const char *what)
{
    /* Every outcome was decided against state that is now thrown away. */
    for (struct sl_write *w = list; w; w = w->next_in_queue) {
        w->code = sl_store_mdb_error(&w->err, rc, what);
        w->was_idempotent = false;
    }
}

static bool reopen_env(struct sl_store *store);

static void commit_batch(struct sl_store *store, struct sl_write *list)
{
    size_t n_ops = 0;
    for (;;) {
        struct batch b = {.head = atomic_load(&store->head),
                          .next_stream_id = store->next_stream_id,
                          .created_us = sl_now_us()};
        n_ops = 0;
        if ((store->env == NULL || atomic_load(&store->stats.is_broken)) && !reopen_env(store)) {
            fail_batch(list, MDB_PANIC, "the store is recovering from a failed write");
            break;
        }
        int rc = mdb_txn_begin(store->env, NULL, 0, &b.txn);
        if (rc) {
            /* A commit that failed may have left LMDB panicked: only reopening helps. */
            if (rc == MDB_PANIC)
                atomic_store(&store->stats.is_broken, true);
            atomic_store(&store->stats.last_commit_failed, true);
            fail_batch(list, rc, "cannot begin a write");
            break;
        }
        for (struct sl_write *w = list; w && !b.mdb_failure; w = w->next_in_queue) {
            reset_outcome(w);
            n_ops++;
            switch (w->kind) {
            case SL_WRITE_APPEND:
                apply_append(&b, store, w);
                break;
            case SL_WRITE_DELETE:
                apply_delete(&b, store, w);
                break;
            case SL_WRITE_TOMBSTONE:
                apply_tombstone(&b, store, w);
                break;
            }
        }
        if (!b.mdb_failure && b.next_stream_id != store->next_stream_id) {
            uint8_t val[8];
            sl_put_be64(val, b.next_stream_id);
            MDB_val k = {strlen("next-stream-id"), "next-stream-id"}, v = {sizeof(val), val};
            record_mdb(&b, mdb_put(b.txn, store->meta, &k, &v, 0));
        }
        if (b.mdb_failure) {
            mdb_txn_abort(b.txn);
            if (b.mdb_failure == MDB_MAP_FULL && grow_map(store))
                continue;
            if (b.mdb_failure == MDB_PANIC)
                atomic_store(&store->stats.is_broken, true);
            fail_batch(list, b.mdb_failure, "cannot write");
            atomic_store(&store->stats.last_commit_failed, true);
            break;
        }
        int64_t t0 = sl_monotonic_us();
        rc = mdb_txn_commit(b.txn);
        if (rc == MDB_MAP_FULL && grow_map(store))
            continue;
        if (rc == MDB_PANIC)
            atomic_store(&store->stats.is_broken, true);
        if (rc) {
            sl_error("store", "commit failed: %s", mdb_strerror(rc));
            fail_batch(list, rc, "cannot commit");
            atomic_store(&store->stats.last_commit_failed, true);
            break;
        }
        int64_t took_us = sl_monotonic_us() - t0;
        atomic_fetch_add(&store->stats.commit_us_total, (uint64_t)took_us);
        sl_histogram_observe_us(&store->stats.commit_latency, took_us);
        atomic_fetch_add(&store->stats.commits, 1);
        atomic_fetch_add(&store->stats.events_written, b.events_written);
        atomic_store(&store->stats.last_commit_failed, false);
        store->next_stream_id = b.next_stream_id;
        if (n_ops > atomic_load(&store->stats.max_batch))
            atomic_store(&store->stats.max_batch, n_ops);
        if (b.head != atomic_load(&store->head))
            sl_store_publish_head(store, b.head);
        break;
    }

    struct sl_write *w = list;
    int64_t now_us = sl_monotonic_us();
    while (w) {
        struct sl_write *next = w->next_in_queue; /* `done` may free `w` */
        sl_histogram_observe_us(&store->stats.write_latency, now_us - w->queued_us);
        if (w->code == SL_OK)
            atomic_fetch_add(&store->stats.writes, 1);
        else
            atomic_fetch_add(&store->stats.write_errors, 1);
        w->done(w);
        w = next;
    }
}

/* While the disk refuses commits, a small write to the `meta` table once a
 * second tells when it works again, so readiness recovers without waiting
 * for a client's append. */
/* LMDB refuses every transaction after a failed meta-page write (MDB_PANIC)
 * until the environment is opened again. No transaction is open while the
 * writer holds the lock exclusively, so it can reopen it in place. */
static bool reopen_env(struct sl_store *store)
{
    pthread_rwlock_wrlock(&store->resize_lock);
    mdb_env_close(store->env);
    store->env = NULL;
    struct sl_error err = {0};
    enum sl_code code = sl_store_open_env(store, &err);
    if (code != SL_OK && store->env) {
        mdb_env_close(store->env);
        store->env = NULL;
    }
    pthread_rwlock_unlock(&store->resize_lock);
    if (code != SL_OK) {
        sl_warn("store", "cannot reopen the store yet: %s", err.message);
        return false;
    }
    atomic_store(&store->stats.is_broken, false);
    sl_info("store", "reopened the store after a failed write");
    return true;
}

static void probe_disk(struct sl_store *store)
{
    if (atomic_load(&store->stats.is_broken) && !reopen_env(store))
        return;
    if (store->env == NULL)
        return;
    MDB_txn *txn;
    int begun = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (begun == MDB_PANIC)
        atomic_store(&store->stats.is_broken, true);
    if (begun != 0)
        return;
    uint8_t val[8];
    sl_put_be64(val, (uint64_t)sl_now_us());
    MDB_val k = {strlen("disk-probe"), "disk-probe"}, v = {sizeof(val), val};
    int rc = mdb_put(txn, store->meta, &k, &v, 0);
    rc = rc == 0 ? mdb_txn_commit(txn) : (mdb_txn_abort(txn), rc);
    if (rc == MDB_PANIC)
        atomic_store(&store->stats.is_broken, true);
    if (rc == 0) {
        atomic_store(&store->stats.last_commit_failed, false);
        sl_info("store", "the disk accepts commits again");
    }
}

void *sl_store_writer_main(void *arg)
{
    struct sl_store *store = arg;
    pthread_setname_np(pthread_self(), "sl-writer"); /* as top -H and gdb show it */
    for (;;) {
        pthread_mutex_lock(&store->queue_mutex);
        while (store->queue_head == NULL && !store->stopping &&
               atomic_load(&store->stats.last_commit_failed)) {
            struct timespec t;
            clock_gettime(CLOCK_REALTIME, &t);
            t.tv_sec += 1;
            if (pthread_cond_timedwait(&store->queue_cond, &store->queue_mutex, &t) == ETIMEDOUT &&
                store->queue_head == NULL) {
                pthread_mutex_unlock(&store->queue_mutex);
                probe_disk(store);
                pthread_mutex_lock(&store->queue_mutex);
            }
        }
        while (store->queue_head == NULL && !store->stopping)
            pthread_cond_wait(&store->queue_cond, &store->queue_mutex);
        struct sl_write *list = store->queue_head;
        store->queue_head = store->queue_tail = NULL;
        bool stopping = store->stopping;
        pthread_mutex_unlock(&store->queue_mutex);
        if (list)
            commit_batch(store, list);
        else if (stopping)
            break;
    }
    return NULL;
}
