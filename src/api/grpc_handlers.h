/* grpc_handlers.h: the gRPC methods sluice serves, and what their handlers share.
 *
 * sl_api_grpc_handle() (grpc_router.c) hands each new call to the handler of
 * its method. A handler takes the call over: it sets the callbacks it needs,
 * or ends the call at once. Everything runs on the loop thread; writes go to
 * the store's writer and come back with sl_server_post().
 *
 * Every call is ended exactly once through sl_api_grpc_finish() or one of the
 * error helpers below, which clear the call's callbacks first so that nothing
 * reaches a handler's state after it is gone. */
#ifndef SL_API_GRPC_HANDLERS_H
#define SL_API_GRPC_HANDLERS_H

#include "api/api.h"
#include "api/grpc_codec.h"
#include "server/grpc.h"

/* ---- the methods ---- */

void sl_api_grpc_features(struct sl_api *api,
                          struct sl_grpc_call *call); /* ServerFeatures/GetSupportedMethods */
/* Ends a call whose method path this server does not serve: UNIMPLEMENTED. */
void sl_api_grpc_unknown_method(struct sl_grpc_call *call);
void sl_api_grpc_append(struct sl_api *api, struct sl_grpc_call *call);       /* Streams/Append */
void sl_api_grpc_batch_append(struct sl_api *api, struct sl_grpc_call *call); /* Streams/BatchAppend */
void sl_api_grpc_read(struct sl_api *api, struct sl_grpc_call *call);         /* Streams/Read */
void sl_api_grpc_delete(struct sl_api *api, struct sl_grpc_call *call,
                        bool is_tombstone); /* Delete, Tombstone */

/* An append of no events writes nothing: *holds says whether `expected` holds
 * for the stream now, and *current is its last visible revision (-1 = none).
 * SL_E_DELETED when the stream is tombstoned. */
enum sl_code sl_api_grpc_check_expected(struct sl_store *store, const char *stream, size_t len,
                                        const struct sl_expected *expected, bool *holds, int64_t *current,
                                        struct sl_error *err);

/* Streams/Read with subscription options (grpc_subscribe.c). Takes `req` over. */
void sl_api_grpc_subscribe(struct sl_api *api, struct sl_grpc_call *call, struct sl_grpc_read_req *req);

/* ---- ending calls (grpc_errors.c) ---- */

/* Clears the call's callbacks and ends it. */
void sl_api_grpc_finish(struct sl_grpc_call *call, enum sl_grpc_status status, const char *message,
                        const struct sl_http_header *trailers, size_t n_trailers);

/* Sends the message an encoder packed into `msg`. */
void sl_api_grpc_send(struct sl_grpc_call *call, const struct sl_buf *msg);

/* Ends the call with the status and trailers that fit a store or validation
 * error, as KurrentDB answers it: a deleted stream is FAILED_PRECONDITION with
 * `exception: stream-deleted` and `stream-name`, a size limit is
 * INVALID_ARGUMENT with `exception: maximum-append-size-exceeded`, and so on.
 * `stream` may be NULL when the error concerns no stream. */
void sl_api_grpc_fail(struct sl_grpc_call *call, const struct sl_error *err, const char *stream,
                      size_t stream_len);

/* FAILED_PRECONDITION with `exception: wrong-expected-version`, `stream-name`,
 * `expected-version` and `actual-version` (-1 when there is no stream). */
void sl_api_grpc_fail_wrong_version(struct sl_grpc_call *call, const char *stream, size_t stream_len,
                                    const struct sl_expected *expected, int64_t actual);

/* INVALID_ARGUMENT with `exception: missing-required-metadata-property`. */
void sl_api_grpc_fail_missing_metadata(struct sl_grpc_call *call);

/* INVALID_ARGUMENT with `exception: maximum-append-size-exceeded` and `maximum-append-size`. */
void sl_api_grpc_fail_too_large(struct sl_grpc_call *call, const char *message, size_t max_bytes);

/* The gRPC status for a store error code. */
enum sl_grpc_status sl_api_grpc_status_of(enum sl_code code);

/* The most bytes of data and metadata one Append or BatchAppend may carry. */
#define SL_GRPC_MAX_APPEND_BYTES ((size_t)64 << 20)

#endif
