/* grpc_errors.c: ending gRPC calls, and errors as KurrentDB clients expect them.
 *
 * The grpc-js client picks its error class from the trailer `exception`
 * before the status code, and then reads further trailers without checking
 * them (a missing `stream-name` on stream-deleted is a TypeError inside the
 * client), so each exception here always comes with its companions. */
#include <inttypes.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

#include "api/grpc_handlers.h"

void sl_api_grpc_finish(struct sl_grpc_call *call, enum sl_grpc_status status, const char *message,
                        const struct sl_http_header *trailers, size_t n_trailers)
{
    call->on_message = NULL;
    call->on_half_close = NULL;
    call->on_cancel = NULL;
    call->on_drain = NULL;
    call->user = NULL;
    sl_grpc_finish(call, status, message ? message : "", trailers, n_trailers);
}

void sl_api_grpc_send(struct sl_grpc_call *call, const struct sl_buf *msg)
{
    sl_grpc_send(call, (const uint8_t *)msg->data, msg->len);
}

enum sl_grpc_status sl_api_grpc_status_of(enum sl_code code)
{
    switch (code) {
    case SL_OK:
        return SL_GRPC_OK;
    case SL_E_INVALID:
        return SL_GRPC_INVALID_ARGUMENT;
    case SL_E_NOT_FOUND:
        return SL_GRPC_NOT_FOUND;
    case SL_E_WRONG_REVISION:
        return SL_GRPC_FAILED_PRECONDITION;
    case SL_E_DELETED:
        return SL_GRPC_FAILED_PRECONDITION;
    case SL_E_TOO_LARGE:
        return SL_GRPC_INVALID_ARGUMENT;
    case SL_E_EXISTS:
        return SL_GRPC_ALREADY_EXISTS;
    case SL_E_TIMEOUT:
        return SL_GRPC_DEADLINE_EXCEEDED;
    case SL_E_NOMEM:
        return SL_GRPC_RESOURCE_EXHAUSTED;
    case SL_E_IO:
    case SL_E_FULL:
    case SL_E_SHUTDOWN:
    case SL_E_UNAVAILABLE:
        return SL_GRPC_UNAVAILABLE;
    case SL_E_CORRUPT:
    case SL_E_INTERNAL:
        return SL_GRPC_INTERNAL;
    }
    return SL_GRPC_INTERNAL;
}

/* The stream name for a trailer. Metadata values must be printable ASCII
 * without leading or trailing blanks (grpc-js drops any other value, and the
 * client then fails reading the missing key), so other bytes, spaces and `%`
 * are percent-encoded. Long names are cut: trailers have a size limit. */
static void name_text(char *out, size_t size, const char *stream, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)stream[i];
        bool plain = c > 0x20 && c < 0x7f && c != '%';
        if (n + (plain ? 1 : 3) >= size)
            break;
        if (plain) {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
}

void sl_api_grpc_fail(struct sl_grpc_call *call, const struct sl_error *err, const char *stream,
                      size_t stream_len)
{
    char name[1100], message[1200];
    name_text(name, sizeof(name), stream ? stream : "", stream ? stream_len : 0);
    switch (err->code) {
    case SL_E_DELETED: {
        snprintf(message, sizeof(message), "Event stream '%s' is deleted.", name);
        struct sl_http_header t[] = {{"exception", "stream-deleted"}, {"stream-name", name}};
        sl_api_grpc_finish(call, SL_GRPC_FAILED_PRECONDITION, message, t, 2);
        return;
    }
    case SL_E_NOT_FOUND: {
        if (stream == NULL)
            break;
        snprintf(message, sizeof(message), "Event stream '%s' is not found.", name);
        struct sl_http_header t[] = {{"exception", "stream-not-found"}, {"stream-name", name}};
        sl_api_grpc_finish(call, SL_GRPC_NOT_FOUND, message, t, 2);
        return;
    }
    case SL_E_TOO_LARGE:
        sl_api_grpc_fail_too_large(call, err->message, SL_GRPC_MAX_APPEND_BYTES);
        return;
    default:
        break;
    }
    sl_api_grpc_finish(call, sl_api_grpc_status_of(err->code),
                       err->message[0] ? err->message : sl_code_name(err->code), NULL, 0);
}

void sl_api_grpc_fail_wrong_version(struct sl_grpc_call *call, const char *stream, size_t stream_len,
                                    const struct sl_expected *expected, int64_t actual)
{
    char name[1100], expected_text[24], actual_text[24], message[160];
    name_text(name, sizeof(name), stream, stream_len);
    snprintf(expected_text, sizeof(expected_text), "%" PRId64, sl_grpc_expected_number(expected));
    snprintf(actual_text, sizeof(actual_text), "%" PRId64, actual < 0 ? (int64_t)-1 : actual);
    snprintf(message, sizeof(message), "Wrong expected version. Expected version: %s. Actual version: %s.",
             expected_text, actual_text);
    struct sl_http_header t[] = {{"exception", "wrong-expected-version"},
                                 {"stream-name", name},
                                 {"expected-version", expected_text},
                                 {"actual-version", actual_text}};
    sl_api_grpc_finish(call, SL_GRPC_FAILED_PRECONDITION, message, t, 4);
}

void sl_api_grpc_fail_missing_metadata(struct sl_grpc_call *call)
{
    struct sl_http_header t[] = {{"exception", "missing-required-metadata-property"},
                                 {"required-metadata-properties", "type,content-type"}};
    sl_api_grpc_finish(call, SL_GRPC_INVALID_ARGUMENT,
                       "Missing required metadata property: type, content-type", t, 2);
}

void sl_api_grpc_fail_too_large(struct sl_grpc_call *call, const char *message, size_t max_bytes)
{
    char max_text[24];
    snprintf(max_text, sizeof(max_text), "%zu", max_bytes);
    struct sl_http_header t[] = {{"exception", "maximum-append-size-exceeded"},
                                 {"maximum-append-size", max_text}};
    sl_api_grpc_finish(call, SL_GRPC_INVALID_ARGUMENT, message, t, 2);
}
