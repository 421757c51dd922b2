/* connector_test.h: what the connector tests share: settings built from
 * key, value pairs, violations looked up by field, events built by hand, and
 * waiting for something another thread does.
 *
 * Helpers that may run on other threads never call cmocka's asserts (cmocka
 * is not thread-safe); they record what they saw and the test thread checks. */
#ifndef SL_TEST_CONNECTOR_TEST_H
#define SL_TEST_CONNECTOR_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>

#include "connectors/settings.h"
#include "store/store.h"
#include "util/clock.h"

#ifndef ARRAY_LEN
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* Fills `s` (initialised here) with NULL-terminated key, value pairs. */
static inline void settings_of(struct sl_settings *s, const char *key, ...)
{
    sl_settings_init(s);
    va_list ap;
    va_start(ap, key);
    for (const char *k = key; k != NULL; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        if (!sl_settings_set(s, k, v))
            fail_msg("out of memory setting %s", k);
    }
    va_end(ap);
}

/* The violation of `field` (exact spelling), or NULL. */
static inline const struct sl_violation *violation_of(const struct sl_violations *v, const char *field)
{
    for (size_t i = 0; i < v->count; i++)
        if (strcmp(v->items[i].field, field) == 0)
            return &v->items[i];
    return NULL;
}

static inline void print_violations(const struct sl_violations *v)
{
    for (size_t i = 0; i < v->count; i++)
        print_error("  violation %zu: %s: %s\n", i, v->items[i].field, v->items[i].description);
}

#define assert_violation(v, field) check_violation((v), (field), NULL, __FILE__, __LINE__)
#define assert_violation_mentions(v, field, text) check_violation((v), (field), (text), __FILE__, __LINE__)

/* Fails unless `v` has a violation of `field` whose description contains
 * `text` (ignoring case; any description when NULL). */
static inline void check_violation(const struct sl_violations *v, const char *field, const char *text,
                                   const char *file, int line)
{
    const struct sl_violation *it = violation_of(v, field);
    if (it != NULL && (text == NULL || strcasestr(it->description, text) != NULL))
        return;
    print_error("expected a violation of %s%s%s%s, got %zu:\n", field, text ? " mentioning \"" : "",
                text ? text : "", text ? "\"" : "", v->count);
    print_violations(v);
    _fail(file, line);
}

#define assert_no_violations(v) check_no_violations((v), __FILE__, __LINE__)

static inline void check_no_violations(const struct sl_violations *v, const char *file, int line)
{
    if (v->count == 0)
        return;
    print_error("expected no violations, got %zu:\n", v->count);
    print_violations(v);
    _fail(file, line);
}

/* An event of the log as a reader sees it, pointing at the given strings. */
static inline struct sl_event event_of(const char *stream, const char *type)
{
    struct sl_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.position = 1;
    ev.stream = stream;
    ev.stream_len = strlen(stream);
    ev.type = type;
    ev.type_len = strlen(type);
    ev.flags = SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON;
    ev.data = "{}";
    ev.data_len = 2;
    return ev;
}

/* Polls `cond` every 5 ms for up to `timeout_ms`; true once it holds. */
#define wait_until(cond, timeout_ms)                                                                         \
    ({                                                                                                       \
        int64_t until_ = sl_monotonic_ms() + (timeout_ms);                                                   \
        bool held_ = (cond);                                                                                 \
        while (!held_ && sl_monotonic_ms() < until_) {                                                       \
            struct timespec ts_ = {0, 5 * 1000000L};                                                         \
            nanosleep(&ts_, NULL);                                                                           \
            held_ = (cond);                                                                                  \
        }                                                                                                    \
        held_;                                                                                               \
    })

#endif
