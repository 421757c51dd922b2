/* request.h: reading the parts of a request that several handlers share:
 * path segments, the Expected-Revision header, `from`/`count`/`direction`
 * and `filter` query parameters. Each returns false after ending the request
 * with a 400 that names the input at fault. Loop thread. */
#ifndef SL_API_REQUEST_H
#define SL_API_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "server/http.h"
#include "store/filter.h"
#include "store/store.h"

/* Percent-decodes `len` bytes of `in` into a malloc'd, NUL-terminated string.
 * NULL on a malformed escape. */
char *sl_api_percent_decode(const char *in, size_t len, size_t *out_len);

bool sl_api_expected_revision(struct sl_http_request *req, struct sl_expected *out);

struct sl_read_params {
    bool backwards;
    bool from_start, from_end;
    int64_t from; /* when neither */
    size_t count;
};

/* `from`, `direction`, `count` (default 20, at most 10 000). */
bool sl_api_read_params(struct sl_http_request *req, struct sl_read_params *out);

/* The `filter` parameter of $all reads and subscriptions; *out = NULL when none. */
bool sl_api_filter_param(struct sl_http_request *req, struct sl_filter **out);

#endif
