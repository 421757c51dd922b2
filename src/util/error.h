/* error.h: how sluice reports a failure.
 *
 * A function that can fail returns an enum sl_code (SL_OK = 0) and, when it
 * fails, fills the caller's struct sl_error with the same code and a message
 * that says what went wrong and why. The struct is plain data on the caller's
 * stack: nothing to free. `err` may be NULL when the caller does not care.
 * Thread-safe: it touches only the struct it is given. */
#ifndef SL_UTIL_ERROR_H
#define SL_UTIL_ERROR_H

#include <stddef.h>

enum sl_code {
    SL_OK = 0,
    SL_E_INVALID,        /* bad input: a field breaks a rule */
    SL_E_NOT_FOUND,      /* no such stream, event or connector */
    SL_E_WRONG_REVISION, /* expected revision does not match */
    SL_E_DELETED,        /* stream is tombstoned */
    SL_E_TOO_LARGE,      /* over a configured limit */
    SL_E_EXISTS,         /* already exists */
    SL_E_IO,             /* the disk or the OS failed */
    SL_E_FULL,           /* the disk or the map is full */
    SL_E_CORRUPT,        /* stored data failed a check */
    SL_E_TIMEOUT,        /* nothing happened in time (not always a failure) */
    SL_E_SHUTDOWN,       /* the component is stopping */
    SL_E_NOMEM,          /* allocation failed */
    SL_E_UNAVAILABLE,    /* a peer (sink, server) cannot be reached */
    SL_E_INTERNAL,       /* a bug: never for bad input */
};

struct sl_error {
    enum sl_code code;
    char field[64];    /* the input field at fault, "" when none */
    char message[448]; /* what and why, one sentence */
};

/* Fills `err` (if not NULL) and returns `code`, so callers can write
 * `return sl_errorf(err, SL_E_INVALID, "...", ...);`. */
enum sl_code sl_errorf(struct sl_error *err, enum sl_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As sl_errorf, and names the input field at fault. */
enum sl_code sl_field_errorf(struct sl_error *err, enum sl_code code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void sl_error_clear(struct sl_error *err);

/* A short kebab-case name for a code, as used in JSON error bodies. */
const char *sl_code_name(enum sl_code code);

#endif
