/* filter.h: which events of the log a reader wants.
 *
 * A filter matches on the stream name or the event type, by a list of
 * prefixes, one exact name, or a PCRE2 regular expression; and may exclude
 * system events (a `$`-prefixed stream or type). Built once, then read-only:
 * sl_filter_matches may be called from several threads at once (PCRE2 match
 * data is allocated per call for that reason, only for regex filters). */
#ifndef SL_STORE_FILTER_H
#define SL_STORE_FILTER_H

#include <stdbool.h>

#include "store/store.h"

enum sl_filter_on { SL_FILTER_ALL, SL_FILTER_STREAM, SL_FILTER_TYPE };
enum sl_filter_kind { SL_FILTER_PREFIX, SL_FILTER_REGEX, SL_FILTER_EXACT };

/* Builds a filter. `expression` is comma-separated prefixes (PREFIX), a
 * regex (REGEX) or one name (EXACT); ignored with SL_FILTER_ALL. Returns NULL
 * with `err` filled (e.g. a regex that does not compile, with its offset). */
struct sl_filter *sl_filter_new(enum sl_filter_on on, enum sl_filter_kind kind, const char *expression,
                                bool exclude_system, struct sl_error *err);

/* A prefix filter from a list of `n` >= 1 prefixes taken exactly as given (no
 * splitting at commas, no trimming; an empty prefix matches every name), for
 * protocols that send prefixes as a list, such as gRPC reads of $all. `on` is
 * SL_FILTER_STREAM or SL_FILTER_TYPE. Returns NULL with `err` filled. */
struct sl_filter *sl_filter_new_prefixes(enum sl_filter_on on, const char *const *prefixes, size_t n,
                                         bool exclude_system, struct sl_error *err);

bool sl_filter_matches(const struct sl_filter *f, const struct sl_event *ev);

void sl_filter_free(struct sl_filter *f); /* NULL-safe */

#endif
