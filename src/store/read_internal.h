/* read_internal.h: the pieces of reading shared by read.c and cursor.c. */
#ifndef SL_STORE_READ_INTERNAL_H
#define SL_STORE_READ_INTERNAL_H

#include <lmdb.h>

#include "store/store.h"

void sl_read_result_reset(struct sl_read_result *r);
/* Copies one record into the result (decoded later by _finish). False on OOM. */
bool sl_read_result_add(struct sl_read_result *r, uint64_t pos, const void *rec, size_t len);
/* Decodes every copied record into r->events. On a damaged record it returns
 * the error and leaves r->count at the intact events before it. */
enum sl_code sl_read_result_finish(struct sl_read_result *r, struct sl_error *err);

/* Scans the log from `from` (forwards: >= from; backwards: < from, or from the
 * head for SL_POSITION_END), adding matching events to `r` until it holds
 * `count` or `max_scan` events were examined (0 = no limit). *last_scanned is
 * the last position examined (left as is when none); *more tells whether the
 * log goes on past it. */
enum sl_code sl_store_scan_log(MDB_txn *txn, const struct sl_store *store, uint64_t from, bool backwards,
                               size_t count, const struct sl_filter *filter, size_t max_scan,
                               struct sl_read_result *r, uint64_t *last_scanned, bool *more,
                               struct sl_error *err);

#endif
