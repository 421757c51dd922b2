/* read.c: reading streams and the log, inside read-only transactions.
 * Any thread. Results copy the records out, so no transaction outlives a call. */
#include <stdlib.h>
#include <string.h>

#include "store/filter.h"
#include "store/internal.h"
#include "store/read_internal.h"
#include "store/record.h"
#include "util/clock.h"

void sl_read_result_free(struct sl_read_result *r)
{
    if (r == NULL)
        return;
    free(r->events);
    free(r->spans);
    sl_buf_free(&r->raw);
    memset(r, 0, sizeof(*r));
}

void sl_read_result_reset(struct sl_read_result *r)
{
    r->count = 0;
    r->has_next = false;
    r->next = 0;
    r->last_revision = SL_REVISION_NONE;
    sl_buf_reset(&r->raw);
}

bool sl_read_result_add(struct sl_read_result *r, uint64_t pos, const void *rec, size_t len)
{
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        struct sl_event *events = realloc(r->events, cap * sizeof(*events));
        if (events == NULL)
            return false;
        r->events = events;
        size_t *spans = realloc(r->spans, cap * 2 * sizeof(*spans));
        if (spans == NULL)
            return false;
        r->spans = spans;
        r->cap = cap;
    }
    r->spans[2 * r->count] = r->raw.len;
    r->spans[2 * r->count + 1] = len;
    sl_buf_append(&r->raw, rec, len);
    if (r->raw.failed)
        return false;
    r->events[r->count].position = pos;
    r->count++;
    return true;
}

enum sl_code sl_read_result_finish(struct sl_read_result *r, struct sl_error *err)
{
    for (size_t i = 0; i < r->count; i++) {
        enum sl_code code = sl_record_decode(r->raw.data + r->spans[2 * i], r->spans[2 * i + 1],
                                             r->events[i].position, &r->events[i], err);
        if (code) {
            r->count = i; /* the intact events before the damaged one stay usable */
            return code;
        }
    }
    return SL_OK;
}

enum sl_code sl_store_scan_log(MDB_txn *txn, const struct sl_store *store, uint64_t from, bool backwards,
                               size_t count, const struct sl_filter *filter, size_t max_scan,
                               struct sl_read_result *r, uint64_t *last_scanned, bool *more,
                               struct sl_error *err)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store->events, &cur);
    if (rc)
        return sl_store_mdb_error(err, rc, "cannot open a log cursor");
    uint8_t key[8];
    sl_put_be64(key, from);
    MDB_val k = {sizeof(key), key}, v;
    if (!backwards) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    } else if (from == SL_POSITION_END) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    } else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        rc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : mdb_cursor_get(cur, &k, &v, MDB_LAST);
    }
    MDB_cursor_op step = backwards ? MDB_PREV : MDB_NEXT;
    size_t scanned = 0;
    enum sl_code code = SL_OK;
    *more = false;
    /* Positions run 1, 2, 3, ... without a gap (the writer takes head + 1 and
     * nothing removes an event), and a record's checksum does not cover its
     * key: a position out of that sequence is a damaged key, never an event. */
    uint64_t expected = backwards ? 0 : (from < 1 ? 1 : from);
    while (rc == 0) {
        if (r->count >= count || (max_scan && scanned >= max_scan)) {
            *more = true;
            break;
        }
        uint64_t pos = k.mv_size == 8 ? sl_get_be64(k.mv_data) : 0;
        if (expected != 0 && pos != expected) {
            if (r->count > 0) { /* hand out what came before; the next scan meets the damage first */
                *more = true;
                break;
            }
            code = sl_errorf(err, SL_E_CORRUPT,
                             "the log is damaged: position %llu was expected, a record is keyed %llu",
                             (unsigned long long)expected, (unsigned long long)pos);
            break;
        }
        expected = backwards ? pos - 1 : pos + 1;
        if (filter) {
            struct sl_event ev;
            code = sl_record_decode(v.mv_data, v.mv_size, pos, &ev, err);
            if (code && r->count > 0) {
                /* Hand out what came before; the next scan meets the damage first. */
                code = SL_OK;
                *more = true;
                break;
            }
            if (code)
                break;
            if (!sl_filter_matches(filter, &ev)) {
                scanned++;
                *last_scanned = pos;
                rc = mdb_cursor_get(cur, &k, &v, step);
                continue;
            }
        }
        if (!sl_read_result_add(r, pos, v.mv_data, v.mv_size)) {
            code = sl_errorf(err, SL_E_NOMEM, "out of memory reading the log");
            break;
        }
        scanned++;
        *last_scanned = pos;
        rc = mdb_cursor_get(cur, &k, &v, step);
    }
    mdb_cursor_close(cur);
    if (code == SL_OK && rc && rc != MDB_NOTFOUND)
        code = sl_store_mdb_error(err, rc, "cannot read the log");
    return code;
}

enum sl_code sl_store_read_all(struct sl_store *store, uint64_t from, bool backwards, size_t count,
                               const struct sl_filter *filter, size_t max_scan, struct sl_read_result *out,
                               struct sl_error *err)
{
    sl_read_result_reset(out);
    MDB_txn *txn;
    enum sl_code code = sl_store_begin_read(store, &txn, err);
    if (code)
        return code;
    uint64_t last = 0;
    bool more = false;
    code = sl_store_scan_log(txn, store, from, backwards, count, filter, max_scan, out, &last, &more, err);
    sl_store_end_read(store, txn);
    if (code == SL_OK)
        code = sl_read_result_finish(out, err);
    out->has_next = more;
    out->next = more ? (int64_t)(backwards ? last : last + 1) : 0;
    return code;
}

enum sl_code sl_store_read_at(struct sl_store *store, uint64_t position, struct sl_read_result *out,
                              struct sl_error *err)
{
    sl_read_result_reset(out);
    MDB_txn *txn;
    enum sl_code code = sl_store_begin_read(store, &txn, err);
    if (code)
        return code;
    uint8_t key[8];
    sl_put_be64(key, position);
    MDB_val k = {sizeof(key), key}, v;
    int rc = mdb_get(txn, store->events, &k, &v);
    if (rc == MDB_NOTFOUND)
        code = sl_errorf(err, SL_E_NOT_FOUND, "no event at position %llu", (unsigned long long)position);
    else if (rc)
        code = sl_store_mdb_error(err, rc, "cannot read an event");
    else if (!sl_read_result_add(out, position, v.mv_data, v.mv_size))
        code = sl_errorf(err, SL_E_NOMEM, "out of memory reading an event");
    sl_store_end_read(store, txn);
    if (code == SL_OK)
        code = sl_read_result_finish(out, err);
    return code;
}

/* The first revision a reader may see, from soft delete and metadata. */
static int64_t first_visible(const struct stream_row *row, const struct stream_limits *lim)
{
    int64_t first = 0;
    if (row->deleted_before > first)
        first = row->deleted_before;
    if (lim->truncate_before > first)
        first = lim->truncate_before;
    if (lim->max_count > 0 && row->last_revision - lim->max_count + 1 > first)
        first = row->last_revision - lim->max_count + 1;
    return first;
}

static enum sl_code open_stream(MDB_txn *txn, const struct sl_store *store, const char *stream, size_t len,
                                struct stream_row *row, struct sl_error *err)
{
    int rc = sl_stream_row_get(txn, store, stream, len, row);
    if (rc == MDB_NOTFOUND || (rc == 0 && row->last_revision < 0 && !(row->flags & STREAM_TOMBSTONED)))
        return sl_errorf(err, SL_E_NOT_FOUND, "stream %.*s does not exist", (int)len, stream);
    if (rc)
        return sl_store_mdb_error(err, rc, "cannot read a stream");
    if (row->flags & STREAM_TOMBSTONED)
        return sl_errorf(err, SL_E_DELETED, "stream %.*s is deleted", (int)len, stream);
    if (row->deleted_before > row->last_revision)
        return sl_errorf(err, SL_E_NOT_FOUND, "stream %.*s was deleted", (int)len, stream);
    return SL_OK;
}

static enum sl_code collect_stream(MDB_txn *txn, const struct sl_store *store, const char *name,
                                   size_t name_len, const struct stream_row *row, int64_t from,
                                   bool backwards, size_t count, int64_t first, int64_t min_created,
                                   struct sl_read_result *out, struct sl_error *err)
{
    int64_t last = row->last_revision;
    int64_t start = from == SL_REVISION_END ? last : from;
    if (!backwards && start < first)
        start = first;
    if (backwards && start > last)
        start = last;
    if (start > last || start < first)
        return SL_OK;

    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store->stream_index, &cur);
    if (rc)
        return sl_store_mdb_error(err, rc, "cannot open a stream cursor");
    uint8_t key[16];
    sl_put_be64(key, row->id);
    sl_put_be64(key + 8, (uint64_t)start);
    MDB_val k = {sizeof(key), key}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
    enum sl_code code = SL_OK;
    int64_t rev = start;
    /* Every revision from 0 to the row's last has an index entry (nothing
     * removes one), so the walk must meet start, start +- 1, ... up to the end
     * of the visible range: a revision out of that sequence, or an end short of
     * it, is a damaged index, not a shorter stream. */
    int64_t expected = start;
    bool is_stopped_by_age = false;
    while (rc == 0) {
        if (k.mv_size != 16 || sl_get_be64(k.mv_data) != row->id)
            break;
        rev = (int64_t)sl_get_be64((const uint8_t *)k.mv_data + 8);
        if (rev > last || rev < first)
            break;
        if (rev != expected) {
            code = sl_errorf(err, SL_E_CORRUPT, "the stream index is damaged: revision %lld is missing",
                             (long long)expected);
            break;
        }
        expected = backwards ? rev - 1 : rev + 1;
        if (out->count >= count) {
            out->has_next = true;
            out->next = rev;
            break;
        }
        if (v.mv_size != 8 && v.mv_size != SL_STREAM_INDEX_VALUE_SIZE) {
            code = sl_errorf(err, SL_E_CORRUPT,
                             "the stream index is damaged: revision %lld has a value of %zu bytes",
                             (long long)rev, v.mv_size);
            break;
        }
        uint64_t pos = sl_get_be64(v.mv_data);
        MDB_val ek = {8, v.mv_data}, rec;
        rc = mdb_get(txn, store->events, &ek, &rec);
        if (rc == MDB_NOTFOUND) {
            code = sl_errorf(
                err, SL_E_CORRUPT,
                "the stream index is damaged: revision %lld points at position %llu, which is missing",
                (long long)rev, (unsigned long long)pos);
            break;
        }
        if (rc)
            break;
        struct sl_event ev;
        code = sl_record_decode(rec.mv_data, rec.mv_size, pos, &ev, err);
        if (code)
            break;
        if (ev.revision != rev || ev.stream_len != name_len || memcmp(ev.stream, name, name_len) != 0) {
            code =
                sl_errorf(err, SL_E_CORRUPT,
                          "the stream index is damaged: revision %lld points at position %llu, which holds "
                          "another event",
                          (long long)rev, (unsigned long long)pos);
            break;
        }
        if (ev.created_us < min_created) {
            if (backwards) {
                is_stopped_by_age = true;
                break; /* everything before is older still */
            }
        } else if (!sl_read_result_add(out, pos, rec.mv_data, rec.mv_size)) {
            code = sl_errorf(err, SL_E_NOMEM, "out of memory reading a stream");
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, backwards ? MDB_PREV : MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (code == SL_OK && rc && rc != MDB_NOTFOUND)
        code = sl_store_mdb_error(err, rc, "cannot read a stream");
    bool is_short = backwards ? expected >= first : expected <= last;
    if (code == SL_OK && !out->has_next && !is_stopped_by_age && is_short)
        code = sl_errorf(err, SL_E_CORRUPT, "the stream index is damaged: revision %lld is missing",
                         (long long)expected);
    return code;
}

enum sl_code sl_store_read_stream(struct sl_store *store, const char *stream, size_t stream_len, int64_t from,
                                  bool backwards, size_t count, struct sl_read_result *out,
                                  struct sl_error *err)
{
    sl_read_result_reset(out);
    if (from < 0 && from != SL_REVISION_END)
        return sl_errorf(err, SL_E_INVALID, "a read starts at a revision >= 0");
    enum sl_code code = sl_store_validate_name(stream, stream_len, err);
    if (code)
        return code;
    MDB_txn *txn;
    code = sl_store_begin_read(store, &txn, err);
    if (code)
        return code;
    struct stream_row row;
    code = open_stream(txn, store, stream, stream_len, &row, err);
    if (code == SL_OK) {
        const char *meta;
        size_t meta_len;
        int64_t meta_rev;
        struct stream_limits lim;
        code = sl_store_metadata_raw(txn, store, stream, stream_len, &meta, &meta_len, &meta_rev, err);
        sl_stream_limits_parse(meta, meta_len, &lim);
        int64_t now = sl_now_us();
        /* A $maxAge longer than the epoch hides nothing (and must not overflow). */
        int64_t min_created =
            lim.max_age_s > 0 && lim.max_age_s < now / 1000000 ? now - lim.max_age_s * 1000000 : INT64_MIN;
        out->last_revision = row.last_revision;
        if (code == SL_OK)
            code = collect_stream(txn, store, stream, stream_len, &row, from, backwards, count,
                                  first_visible(&row, &lim), min_created, out, err);
    }
    sl_store_end_read(store, txn);
    if (code == SL_OK)
        code = sl_read_result_finish(out, err);
    return code;
}

enum sl_code sl_store_stream_info(struct sl_store *store, const char *stream, size_t stream_len,
                                  struct sl_stream_info *out, struct sl_error *err)
{
    memset(out, 0, sizeof(*out));
    out->last_revision = SL_REVISION_NONE;
    enum sl_code code = sl_store_validate_name(stream, stream_len, err);
    if (code)
        return code;
    MDB_txn *txn;
    code = sl_store_begin_read(store, &txn, err);
    if (code)
        return code;
    struct stream_row row;
    int rc = sl_stream_row_get(txn, store, stream, stream_len, &row);
    if (rc == 0) {
        out->exists = row.last_revision >= 0 || (row.flags & STREAM_TOMBSTONED);
        out->is_tombstoned = row.flags & STREAM_TOMBSTONED;
        out->is_deleted = !out->is_tombstoned && row.deleted_before > row.last_revision;
        out->last_revision = row.last_revision;
    } else if (rc != MDB_NOTFOUND) {
        code = sl_store_mdb_error(err, rc, "cannot read a stream");
    }
    sl_store_end_read(store, txn);
    return code;
}

enum sl_code sl_store_get_metadata(struct sl_store *store, const char *stream, size_t stream_len, char **json,
                                   int64_t *meta_revision, struct sl_error *err)
{
    *json = NULL;
    enum sl_code code = sl_store_validate_name(stream, stream_len, err);
    if (code)
        return code;
    MDB_txn *txn;
    code = sl_store_begin_read(store, &txn, err);
    if (code)
        return code;
    const char *raw;
    size_t len;
    code = sl_store_metadata_raw(txn, store, stream, stream_len, &raw, &len, meta_revision, err);
    if (code == SL_OK) {
        if (raw == NULL) {
            raw = "{}";
            len = 2;
        }
        *json = malloc(len + 1);
        if (*json == NULL) {
            code = sl_errorf(err, SL_E_NOMEM, "out of memory reading metadata");
        } else {
            memcpy(*json, raw, len);
            (*json)[len] = '\0';
        }
    }
    sl_store_end_read(store, txn);
    return code;
}

enum sl_code sl_store_list_streams(struct sl_store *store, const char *prefix,
                                   bool (*fn)(const char *name, size_t len, void *arg), void *arg,
                                   struct sl_error *err)
{
    MDB_txn *txn;
    enum sl_code code = sl_store_begin_read(store, &txn, err);
    if (code)
        return code;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store->streams, &cur);
    if (rc) {
        sl_store_end_read(store, txn);
        return sl_store_mdb_error(err, rc, "cannot list streams");
    }
    size_t plen = strlen(prefix);
    MDB_val k = {plen, (void *)prefix}, v;
    /* Names are copied out first: fn may read the store (a new transaction). */
    struct sl_buf names;
    sl_buf_init(&names);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if (k.mv_size >= 480)
            continue;
        sl_buf_append(&names, k.mv_data, k.mv_size);
        sl_buf_putc(&names, '\0');
    }
    mdb_cursor_close(cur);
    sl_store_end_read(store, txn);
    if (names.failed) {
        sl_buf_free(&names);
        return sl_errorf(err, SL_E_NOMEM, "out of memory listing streams");
    }
    for (size_t off = 0; off < names.len;) {
        size_t len = strlen(names.data + off);
        if (!fn(names.data + off, len, arg))
            break;
        off += len + 1;
    }
    sl_buf_free(&names);
    return SL_OK;
}
