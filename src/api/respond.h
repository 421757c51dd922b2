/* respond.h: JSON answers and errors, the same shape everywhere.
 * Loop thread (they end the request). */
#ifndef SL_API_RESPOND_H
#define SL_API_RESPOND_H

#include "server/http.h"
#include "util/buf.h"
#include "util/error.h"

/* Ends `req` with `status` and the JSON in `body` (which is reset, not freed). */
void sl_api_json(struct sl_http_request *req, int status, struct sl_buf *body);

/* Ends `req` with `{"error": code, "message": ..., "field"?: field}`. */
void sl_api_error(struct sl_http_request *req, int status, const char *code, const char *field,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Ends `req` with the HTTP status and body that fit a store or validation error. */
void sl_api_fail(struct sl_http_request *req, const struct sl_error *err);

/* The HTTP status for an error code. */
int sl_api_status_of(enum sl_code code);

#endif
