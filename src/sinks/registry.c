/* registry.c: every sink type sluice knows. To add one, write its file in
 * src/sinks/ (defining `const struct sl_sink_type sl_<name>_sink`) and add one
 * line to SINK_TYPES below. */
#include <stddef.h>
#include <strings.h>

#include "sinks/sink.h"

#define SINK_TYPES(X)                                                                                        \
    X(sl_http_sink)                                                                                          \
    X(sl_log_sink)

#define DECLARE(sink) extern const struct sl_sink_type sink;
SINK_TYPES(DECLARE)
#undef DECLARE

#define LIST(sink) &sink,
static const struct sl_sink_type *const sink_types[] = {SINK_TYPES(LIST) NULL};
#undef LIST

const struct sl_sink_type *const *sl_sink_types(void)
{
    return sink_types;
}

/* Matches the name and the aliases, ignoring case: `HTTP-SINK`, `HttpSink` and `httpsink` all name the HTTP
 * sink. */
const struct sl_sink_type *sl_sink_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (const struct sl_sink_type *const *t = sink_types; *t; t++) {
        if (strcasecmp((*t)->name, name) == 0)
            return *t;
        for (const char *const *alias = (*t)->aliases; alias && *alias; alias++)
            if (strcasecmp(*alias, name) == 0)
                return *t;
    }
    return NULL;
}
