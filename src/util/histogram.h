/* histogram.h: a fixed-bucket latency histogram for Prometheus.
 * Any thread may observe; readers see approximate (not atomic as a whole) values. */
#ifndef SL_UTIL_HISTOGRAM_H
#define SL_UTIL_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

#include "util/buf.h"

#define SL_HISTOGRAM_BUCKETS 14

struct sl_histogram {
    _Atomic uint64_t buckets[SL_HISTOGRAM_BUCKETS]; /* counts <= each bound, not cumulative */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
};

void sl_histogram_observe_us(struct sl_histogram *h, int64_t us);

/* Writes the `_bucket`, `_sum` and `_count` series of `name` in seconds, each
 * with `labels` (e.g. `connector="a",sink="http-sink"`). */
void sl_histogram_write(struct sl_buf *b, const char *name, const char *labels, const struct sl_histogram *h);

#endif
