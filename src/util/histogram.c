#include "util/histogram.h"

/* Upper bounds in microseconds: 0.5 ms to 60 s. */
static const int64_t bounds_us[SL_HISTOGRAM_BUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 5000000, 10000000, 60000000,
};

void sl_histogram_observe_us(struct sl_histogram *h, int64_t us)
{
    if (us < 0)
        us = 0;
    for (int i = 0; i < SL_HISTOGRAM_BUCKETS; i++) {
        if (us <= bounds_us[i]) {
            atomic_fetch_add(&h->buckets[i], 1);
            break;
        }
    }
    atomic_fetch_add(&h->count, 1);
    atomic_fetch_add(&h->sum_us, (uint64_t)us);
}

void sl_histogram_write(struct sl_buf *b, const char *name, const char *labels, const struct sl_histogram *h)
{
    /* Without labels, `name_sum{}` would be legal but odd, and `{,le=` is not. */
    const char *sep = labels[0] ? "," : "";
    const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
    uint64_t cumulative = 0;
    for (int i = 0; i < SL_HISTOGRAM_BUCKETS; i++) {
        cumulative += atomic_load(&((struct sl_histogram *)h)->buckets[i]);
        sl_buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, (double)bounds_us[i] / 1e6,
                      (unsigned long long)cumulative);
    }
    uint64_t count = atomic_load(&((struct sl_histogram *)h)->count);
    sl_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)count);
    sl_buf_printf(b, "%s_sum%s%s%s %.6f\n", name, open, labels, close,
                  (double)atomic_load(&((struct sl_histogram *)h)->sum_us) / 1e6);
    sl_buf_printf(b, "%s_count%s%s%s %llu\n", name, open, labels, close, (unsigned long long)count);
}
