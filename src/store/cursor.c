/* cursor.c: the in-process subscription: batches of the log after a position,
 * waiting for the writer when caught up. */
#include "store/cursor.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "store/internal.h"
#include "store/read_internal.h"
#include "util/clock.h"

/* A filtered cursor examines at most this many events per call, so a call
 * returns (and its position moves) even across long runs that do not match. */
#define MAX_SCAN_PER_CALL 65536

struct sl_cursor {
    struct sl_store *store;
    const struct sl_filter *filter;
    uint64_t position;
    struct sl_read_result batch;
    _Atomic bool interrupted;
};

struct sl_cursor *sl_cursor_open(struct sl_store *store, uint64_t after, const struct sl_filter *filter)
{
    struct sl_cursor *cur = calloc(1, sizeof(*cur));
    if (cur == NULL)
        return NULL;
    cur->store = store;
    cur->filter = filter;
    cur->position = after;
    return cur;
}

uint64_t sl_cursor_position(const struct sl_cursor *cur)
{
    return cur->position;
}

void sl_cursor_interrupt(struct sl_cursor *cur)
{
    atomic_store(&cur->interrupted, true);
    pthread_mutex_lock(&cur->store->head_mutex);
    pthread_cond_broadcast(&cur->store->head_cond);
    pthread_mutex_unlock(&cur->store->head_mutex);
}

/* Waits until the head passes the cursor, the store closes (returns true), the
 * cursor is interrupted or `timeout_ms` passes (-1 = forever). */
static bool wait_for_head(struct sl_cursor *cur, int timeout_ms)
{
    struct sl_store *store = cur->store;
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
    while (atomic_load(&store->head) <= cur->position && !store->closing && !atomic_load(&cur->interrupted)) {
        if (timeout_ms < 0)
            pthread_cond_wait(&store->head_cond, &store->head_mutex);
        else if (pthread_cond_timedwait(&store->head_cond, &store->head_mutex, &deadline) == ETIMEDOUT)
            break;
    }
    bool closing = store->closing;
    pthread_mutex_unlock(&store->head_mutex);
    return closing;
}

enum sl_code sl_cursor_next(struct sl_cursor *cur, size_t max, int wait_ms, const struct sl_event **events,
                            size_t *n, struct sl_error *err)
{
    *events = NULL;
    *n = 0;
    if (max == 0)
        max = 1;
    int64_t deadline = wait_ms > 0 ? sl_monotonic_ms() + wait_ms : 0;
    for (;;) {
        sl_read_result_reset(&cur->batch);
        uint64_t head = sl_store_head(cur->store);
        if (head > cur->position) {
            MDB_txn *txn;
            enum sl_code code = sl_store_begin_read(cur->store, &txn, err);
            if (code)
                return code;
            uint64_t last = cur->position;
            bool more;
            code = sl_store_scan_log(txn, cur->store, cur->position + 1, false, max, cur->filter,
                                     cur->filter ? MAX_SCAN_PER_CALL : 0, &cur->batch, &last, &more, err);
            sl_store_end_read(cur->store, txn);
            if (code == SL_OK)
                code = sl_read_result_finish(&cur->batch, err);
            if (last > head) {
                /* The writer publishes the head just after its commit, so a read may
                 * already see events past it. They are durable, but a consumer that
                 * waits on the head must not get them before it: the next call. */
                while (cur->batch.count > 0 && cur->batch.events[cur->batch.count - 1].position > head)
                    cur->batch.count--;
                last = head;
                more = false;
            }
            if (code && cur->batch.count > 0) {
                /* Deliver the intact events before a damaged one; the next call reports it. */
                cur->position = cur->batch.events[cur->batch.count - 1].position;
                *events = cur->batch.events;
                *n = cur->batch.count;
                return SL_OK;
            }
            if (code)
                return code;
            cur->position = last;
            if (cur->batch.count > 0) {
                *events = cur->batch.events;
                *n = cur->batch.count;
                return SL_OK;
            }
            if (more)
                continue; /* a long filtered-out run: keep scanning */
        }
        if (atomic_exchange(&cur->interrupted, false))
            return SL_E_TIMEOUT;
        int remaining = -1;
        if (wait_ms == 0)
            return SL_E_TIMEOUT;
        if (wait_ms > 0) {
            int64_t left = deadline - sl_monotonic_ms();
            if (left <= 0)
                return SL_E_TIMEOUT;
            remaining = (int)left;
        }
        if (wait_for_head(cur, remaining))
            return sl_errorf(err, SL_E_SHUTDOWN, "the store is closing");
    }
}

void sl_cursor_release(struct sl_cursor *cur)
{
    sl_read_result_free(&cur->batch);
}

void sl_cursor_close(struct sl_cursor *cur)
{
    if (cur == NULL)
        return;
    sl_read_result_free(&cur->batch);
    free(cur);
}
