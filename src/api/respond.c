#include "api/respond.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sl_api_json(struct sl_http_request *req, int status, struct sl_buf *body)
{
    if (body->failed) {
        sl_buf_reset(body);
        sl_api_error(req, 500, "out-of-memory", NULL, "the answer did not fit in memory");
        return;
    }
    sl_http_respond(req, status, "application/json", body->data ? body->data : "", body->len, NULL);
    sl_buf_reset(body);
}

static void error_body(struct sl_buf *b, const char *code, const char *field, const char *message)
{
    sl_buf_puts(b, "{\"error\":");
    sl_buf_json_string(b, code, strlen(code));
    sl_buf_puts(b, ",\"message\":");
    sl_buf_json_string(b, message, strlen(message));
    if (field && field[0]) {
        sl_buf_puts(b, ",\"field\":");
        sl_buf_json_string(b, field, strlen(field));
    }
    sl_buf_putc(b, '}');
}

void sl_api_error(struct sl_http_request *req, int status, const char *code, const char *field,
                  const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    struct sl_buf b;
    sl_buf_init(&b);
    error_body(&b, code, field, message);
    sl_http_respond(req, status, "application/json", b.data, b.len, NULL);
    sl_buf_free(&b);
}

int sl_api_status_of(enum sl_code code)
{
    switch (code) {
    case SL_OK:
        return 200;
    case SL_E_INVALID:
        return 400;
    case SL_E_NOT_FOUND:
        return 404;
    case SL_E_WRONG_REVISION:
        return 409;
    case SL_E_EXISTS:
        return 409;
    case SL_E_DELETED:
        return 410;
    case SL_E_TOO_LARGE:
        return 413;
    case SL_E_TIMEOUT:
        return 504;
    case SL_E_FULL:
        return 507;
    case SL_E_IO:
    case SL_E_SHUTDOWN:
    case SL_E_UNAVAILABLE:
        return 503;
    case SL_E_CORRUPT:
    case SL_E_NOMEM:
    case SL_E_INTERNAL:
        return 500;
    }
    return 500;
}

void sl_api_fail(struct sl_http_request *req, const struct sl_error *err)
{
    const char *code = sl_code_name(err->code);
    if (err->code == SL_E_NOT_FOUND)
        code = "stream-not-found";
    sl_api_error(req, sl_api_status_of(err->code), code, err->field, "%s", err->message);
}
