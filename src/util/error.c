#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum sl_code fill(struct sl_error *err, enum sl_code code, const char *field, const char *fmt,
                         va_list ap)
{
    if (err == NULL)
        return code;
    err->code = code;
    snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    return code;
}

enum sl_code sl_errorf(struct sl_error *err, enum sl_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fill(err, code, NULL, fmt, ap);
    va_end(ap);
    return code;
}

enum sl_code sl_field_errorf(struct sl_error *err, enum sl_code code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fill(err, code, field, fmt, ap);
    va_end(ap);
    return code;
}

void sl_error_clear(struct sl_error *err)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof(*err));
}

const char *sl_code_name(enum sl_code code)
{
    switch (code) {
    case SL_OK:
        return "ok";
    case SL_E_INVALID:
        return "invalid-argument";
    case SL_E_NOT_FOUND:
        return "not-found";
    case SL_E_WRONG_REVISION:
        return "wrong-expected-version";
    case SL_E_DELETED:
        return "stream-deleted";
    case SL_E_TOO_LARGE:
        return "too-large";
    case SL_E_EXISTS:
        return "already-exists";
    case SL_E_IO:
        return "io-error";
    case SL_E_FULL:
        return "storage-full";
    case SL_E_CORRUPT:
        return "corrupt-data";
    case SL_E_TIMEOUT:
        return "timeout";
    case SL_E_SHUTDOWN:
        return "shutting-down";
    case SL_E_NOMEM:
        return "out-of-memory";
    case SL_E_UNAVAILABLE:
        return "unavailable";
    case SL_E_INTERNAL:
        return "internal-error";
    }
    return "unknown";
}
