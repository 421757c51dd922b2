/* cursor.h: read the log in position order, and wait for what is not written yet.
 *
 * This is the in-process subscription interface: connectors and live
 * subscriptions open a cursor at a position, read batches, and block until
 * newer durable events exist.
 *
 * A cursor belongs to one thread at a time. sl_cursor_next() fills a batch of
 * up to `max` events whose memory stays valid until the next call on the same
 * cursor (the cursor copies records out of LMDB, so no read transaction stays
 * open between calls and a slow consumer never pins the store's pages).
 * It returns SL_OK with *n >= 1, SL_E_TIMEOUT when nothing new arrived within
 * `wait_ms` (0 = do not wait, -1 = forever), SL_E_SHUTDOWN when the store is
 * closing, or another error with `err` filled. It never returns an event past
 * the durable head, never skips one and never returns one twice. */
#ifndef SL_STORE_CURSOR_H
#define SL_STORE_CURSOR_H

#include "store/store.h"

struct sl_cursor;

/* Opens a cursor that returns events with position > `after` (0 = from the
 * first event). `filter` may be NULL; the cursor does not own it, and it must
 * outlive the cursor. Returns NULL only when out of memory. */
struct sl_cursor *sl_cursor_open(struct sl_store *store, uint64_t after, const struct sl_filter *filter);

enum sl_code sl_cursor_next(struct sl_cursor *cur, size_t max, int wait_ms, const struct sl_event **events,
                            size_t *n, struct sl_error *err);

/* The position up to which the cursor has looked: the last event returned or
 * skipped by the filter. A consumer that checkpoints may store it once every
 * returned event is acknowledged. */
uint64_t sl_cursor_position(const struct sl_cursor *cur);

/* Wakes a thread blocked in sl_cursor_next on this cursor (returns SL_E_TIMEOUT). */
void sl_cursor_interrupt(struct sl_cursor *cur);

/* Frees the memory of the last batch (its events are gone); the next
 * sl_cursor_next allocates again. For a consumer that goes idle. */
void sl_cursor_release(struct sl_cursor *cur);

void sl_cursor_close(struct sl_cursor *cur); /* NULL-safe */

#endif
