#include "connectors/definition.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"

/* clang-format off */
const struct sl_setting sl_connector_settings[] = {
    /* key                                          type          default    flags                choices / range  help */
    {"instanceTypeName",                            SL_SET_STRING, NULL,     SL_SETTING_REQUIRED, NULL, 0, 0, "the sink: http-sink, serilog-sink (log-sink), ..."},
    {"subscription:filter:scope",                   SL_SET_ENUM,  "unspecified", 0, "stream|record|unspecified", 0, 0, "match on the stream name (stream) or the event type (record)"},
    {"subscription:filter:filterType",              SL_SET_ENUM,  "unspecified", 0, "streamId|regex|prefix|jsonPath|unspecified", 0, 0, "how to read the expression"},
    {"subscription:filter:expression",              SL_SET_STRING, "",       0, NULL, 0, 0, "regex, comma-separated prefixes or one stream name; empty = all non-system events"},
    {"subscription:initialPosition",                SL_SET_ENUM,  "latest",  0, "latest|earliest", 0, 0, "where to start without a checkpoint"},
    {"transformer:enabled",                         SL_SET_BOOL,  "false",   0, NULL, 0, 0, "transform records with a JavaScript function"},
    {"transformer:function",                        SL_SET_BASE64, "",       0, NULL, 0, 0, "base64 of the JavaScript source"},
    {"resilience:enabled",                          SL_SET_BOOL,  "true",    0, NULL, 0, 0, "retry failed deliveries"},
    {"resilience:backoff",                          SL_SET_ENUM,  "staircase", 0, "staircase|exponential", 0, 0, "the retry schedule"},
    {"resilience:firstDelayBound:upperLimitMs",     SL_SET_INT,   "60000",   0, NULL, 0, INT64_MAX, "staircase: first step lasts this long"},
    {"resilience:firstDelayBound:delayMs",          SL_SET_INT,   "5000",    0, NULL, 0, INT64_MAX, "staircase: delay during the first step"},
    {"resilience:secondDelayBound:upperLimitMs",    SL_SET_INT,   "3600000", 0, NULL, -1, INT64_MAX, "staircase: second step lasts until this long"},
    {"resilience:secondDelayBound:delayMs",         SL_SET_INT,   "600000",  0, NULL, 0, INT64_MAX, "staircase: delay during the second step"},
    {"resilience:thirdDelayBound:upperLimitMs",     SL_SET_INT,   "-1",      0, NULL, -1, INT64_MAX, "staircase: retry until this long; -1 = forever"},
    {"resilience:thirdDelayBound:delayMs",          SL_SET_INT,   "3600000", 0, NULL, 0, INT64_MAX, "staircase: delay during the third step"},
    {"resilience:initialDelayMs",                   SL_SET_INT,   "500",     0, NULL, 1, INT64_MAX, "exponential: first delay"},
    {"resilience:maxDelayMs",                       SL_SET_INT,   "60000",   0, NULL, 1, INT64_MAX, "exponential: longest delay"},
    {"resilience:maxRetries",                       SL_SET_INT,   "-1",      0, NULL, -1, INT64_MAX, "retries before giving up; -1 = unlimited"},
    {"resilience:onExhausted",                      SL_SET_ENUM,  "stop",    0, "stop|dead-letter", 0, 0, "what to do with a record that cannot be delivered"},
    {"autocommit:enabled",                          SL_SET_BOOL,  "true",    0, NULL, 0, 0, "commit checkpoints"},
    {"autocommit:interval",                         SL_SET_INT,   "5000",    0, NULL, 1, INT64_MAX, "checkpoint at least this often (ms)"},
    {"autocommit:recordsThreshold",                 SL_SET_INT,   "1000",    0, NULL, 1, INT64_MAX, "checkpoint after this many acknowledged records"},
    {"headers:ignoreSystem",                        SL_SET_BOOL,  "true",    0, NULL, 0, 0, "drop $-prefixed metadata keys from record headers"},
    {"logging:enabled",                             SL_SET_BOOL,  "true",    0, NULL, 0, 0, "log the connector's notable events"},
    {NULL},
};
/* clang-format on */

void sl_connector_tables(const struct sl_sink_type *sink, const struct sl_setting *tables[3])
{
    tables[0] = sl_connector_settings;
    tables[1] = sink ? sink->settings : NULL;
    tables[2] = NULL;
}

static const char *get(const struct sl_settings *s, const char *key)
{
    return sl_settings_str(s, sl_connector_settings, key);
}

/* The filter kind the settings ask for, inferred when unspecified:
 * JSONPath if it starts with `$`, else regex if it compiles, else prefix. */
static const char *filter_type(const struct sl_settings *s)
{
    const char *type = get(s, "subscription:filter:filterType");
    const char *expr = get(s, "subscription:filter:expression");
    if (strcasecmp(type, "unspecified") != 0)
        return type;
    if (expr[0] == '\0')
        return "unspecified";
    if (expr[0] == '$')
        return "jsonPath";
    struct sl_filter *f = sl_filter_new(SL_FILTER_STREAM, SL_FILTER_REGEX, expr, false, NULL);
    sl_filter_free(f);
    return f ? "regex" : "prefix";
}

struct sl_filter *sl_connector_filter(const struct sl_settings *s, struct sl_error *err)
{
    const char *scope = get(s, "subscription:filter:scope");
    const char *expr = get(s, "subscription:filter:expression");
    const char *type = filter_type(s);
    bool scope_given = strcasecmp(scope, "unspecified") != 0;
    if (expr[0] == '\0')
        return sl_filter_new(SL_FILTER_ALL, SL_FILTER_PREFIX, NULL, !scope_given, err);
    enum sl_filter_on on = strcasecmp(scope, "record") == 0 ? SL_FILTER_TYPE : SL_FILTER_STREAM;
    enum sl_filter_kind kind;
    if (strcasecmp(type, "streamId") == 0) {
        on = SL_FILTER_STREAM;
        kind = SL_FILTER_EXACT;
    } else if (strcasecmp(type, "regex") == 0) {
        kind = SL_FILTER_REGEX;
    } else if (strcasecmp(type, "prefix") == 0) {
        kind = SL_FILTER_PREFIX;
    } else {
        sl_field_errorf(
            err, SL_E_INVALID, "subscription:filter:filterType",
            "jsonPath filters are not available in this version of sluice; use streamId, prefix or regex");
        return NULL;
    }
    /* Without an explicit scope, system events stay out, as with no expression. */
    return sl_filter_new(on, kind, expr, !scope_given, err);
}

static void check_rules(const struct sl_settings *s, struct sl_violations *out)
{
    const char *scope = sl_settings_get(s, "subscription:filter:scope");
    const char *type = sl_settings_get(s, "subscription:filter:filterType");
    if (scope && strcasecmp(scope, "record") == 0 && type && strcasecmp(type, "streamId") == 0)
        sl_violations_add(out, "subscription:filter:filterType",
                          "streamId needs scope stream (or unspecified)");
    struct sl_error err = {0};
    struct sl_filter *f = sl_connector_filter(s, &err);
    if (f == NULL)
        sl_violations_add(out, err.field[0] ? err.field : "subscription:filter:expression", "%s",
                          err.message);
    sl_filter_free(f);
    if (sl_settings_bool(s, sl_connector_settings, "transformer:enabled"))
        sl_violations_add(
            out, "transformer:enabled",
            "JavaScript transforms are not available in this version of sluice; set it to false");
}

void sl_connector_validate(const struct sl_settings *s, struct sl_violations *out,
                           const struct sl_sink_type **sink)
{
    *sink = NULL;
    const char *type = sl_settings_get(s, "instanceTypeName");
    if (type && type[0]) {
        *sink = sl_sink_find(type);
        if (*sink == NULL) {
            struct sl_buf names;
            sl_buf_init(&names);
            for (const struct sl_sink_type *const *t = sl_sink_types(); *t; t++)
                sl_buf_printf(&names, "%s%s", names.len ? ", " : "", (*t)->name);
            sl_violations_add(out, "instanceTypeName", "unknown sink type %s; known: %s", type,
                              names.data ? names.data : "");
            sl_buf_free(&names);
        }
    }
    const struct sl_setting *tables[3];
    sl_connector_tables(*sink, tables);
    if (type && type[0] && *sink == NULL) {
        /* Without a sink, its keys cannot be checked: check only the common ones. */
        struct sl_settings common;
        sl_settings_init(&common);
        for (size_t i = 0; i < s->count; i++)
            if (sl_settings_find(tables, s->keys[i]))
                sl_settings_set(&common, s->keys[i], s->values[i]);
        sl_settings_validate(&common, tables, out);
        sl_settings_free(&common);
    } else {
        sl_settings_validate(s, tables, out);
    }
    check_rules(s, out);
    if (*sink && (*sink)->validate)
        (*sink)->validate(s, out);
}
