/* fuzz_connector_settings.c: a connector's settings from the management API's JSON to a validated
 * definition and back (connectors/settings.h, connectors/definition.h).
 *
 * The input is a JSON text. As the API does on create and reconfigure, it is read both as the
 * flat form (`settings`) and as the nested one (`configuration`); each result is validated with
 * sl_connector_validate(), its event filter is built and tried on a few events, it is shown as
 * flat and nested JSON (secrets masked and not), and, when it passed validation, its sink is
 * created and destroyed. Nothing may crash or leak, and:
 *   - every value read back equals the one set (keys compare ignoring case);
 *   - validated settings survive the flat JSON the manager persists them as: reading that JSON
 *     again gives the same map, so a connector restarts with the settings it was created with;
 *   - masked output shows "***" for every secret, and no secret's value;
 *   - settings that pass validation make a sink (create succeeds) and a sane retry schedule.
 *
 * Seeds: tests/fuzz/corpus/fuzz_connector_settings/, the settings of docs/connectors.md. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connectors/definition.h"
#include "connectors/resilience.h"
#include "connectors/settings.h"
#include "sinks/sink.h"
#include "store/filter.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond);                      \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sl_log_set_level(SL_LOG_ERROR);
    return 0;
}

static void try_filter(const struct sl_settings *s)
{
    static const struct {
        const char *stream, *type;
    } events[] = {
        {"orders-1", "OrderPlaced"},
        {"$ce-orders", "$>"},
        {"", ""},
        {"caf\xc3\xa9", "\xff\xfe"},
        {"customers/42", "customer-registered"},
    };
    struct sl_error err = {0};
    struct sl_filter *f = sl_connector_filter(s, &err);
    if (f == NULL) {
        CHECK(err.code != SL_OK && err.message[0] != '\0');
        return;
    }
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        struct sl_event ev = {
            .stream = events[i].stream,
            .stream_len = strlen(events[i].stream),
            .type = events[i].type,
            .type_len = strlen(events[i].type),
        };
        (void)sl_filter_matches(f, &ev);
    }
    sl_filter_free(f);
}

/* The retry schedule of validated settings: a delay that is never negative (-1: give up), within
 * the exponential ceiling, and at least what the sink asked for. */
static void check_backoff(const struct sl_settings *s)
{
    struct sl_backoff b;
    sl_backoff_from_settings(s, &b);
    uint64_t rng = 0x9e3779b97f4a7c15u;
    static const int64_t elapsed[] = {0, 1, 59999, 60000, 3600000, INT64_MAX / 2};
    for (int64_t attempt = 1; attempt <= 70; attempt += 3) {
        for (size_t i = 0; i < sizeof(elapsed) / sizeof(elapsed[0]); i++) {
            int64_t retry_after = (attempt % 2) ? -1 : attempt * 1000;
            int64_t d = sl_backoff_delay(&b, attempt, elapsed[i], retry_after, &rng);
            CHECK(d >= -1);
            if (d == -1)
                continue;
            CHECK(d >= retry_after);
            if (b.kind == SL_BACKOFF_EXPONENTIAL)
                CHECK(d <= (b.max_delay_ms > retry_after ? b.max_delay_ms : retry_after));
        }
    }
}

/* Secrets are masked, and only secrets. */
static void check_masking(const struct sl_settings *s, const struct sl_setting *const *tables, json_t *masked)
{
    for (size_t i = 0; i < s->count; i++) {
        const struct sl_setting *d = sl_settings_find(tables, s->keys[i]);
        json_t *v = json_object_get(masked, s->keys[i]);
        if (v == NULL)
            continue; /* a key or value jansson cannot hold; see check_persisted */
        if (d && (d->flags & SL_SETTING_SECRET))
            CHECK(strcmp(json_string_value(v), "***") == 0);
        else
            CHECK(strcmp(json_string_value(v), s->values[i]) == 0);
    }
}

/* What the manager stores on create (sl_settings_to_flat_json with every value shown), read back
 * as on restart (sl_settings_from_flat_json), must be the same map. */
static void check_persisted(const struct sl_settings *s)
{
    json_t *stored = sl_settings_to_flat_json(s, NULL, true);
    CHECK(stored != NULL);
    struct sl_settings back;
    sl_settings_init(&back);
    struct sl_error err = {0};
    CHECK(sl_settings_from_flat_json(&back, stored, &err) == SL_OK);
    if (back.count != s->count) {
        for (size_t i = 0; i < s->count; i++)
            if (sl_settings_get(&back, s->keys[i]) == NULL)
                fprintf(stderr, "a valid setting is lost when stored: key \"%s\" (%zu bytes)\n", s->keys[i],
                        strlen(s->keys[i]));
    }
    CHECK(back.count == s->count);
    for (size_t i = 0; i < s->count; i++) {
        const char *v = sl_settings_get(&back, s->keys[i]);
        CHECK(v != NULL && strcmp(v, s->values[i]) == 0);
    }
    sl_settings_free(&back);
    json_decref(stored);
}

static void check_settings(const struct sl_settings *s)
{
    for (size_t i = 0; i < s->count; i++) {
        const char *v = sl_settings_get(s, s->keys[i]);
        CHECK(v == s->values[i]);
    }
    struct sl_settings copy;
    CHECK(sl_settings_copy(&copy, s));
    CHECK(copy.count == s->count);

    struct sl_violations violations = {0};
    const struct sl_sink_type *sink = NULL;
    sl_connector_validate(&copy, &violations, &sink);
    for (size_t i = 0; i < violations.count; i++)
        CHECK(violations.items[i].description[0] != '\0');
    try_filter(&copy);

    /* Typed reads of every common setting: a bad value reads as the default. */
    for (const struct sl_setting *d = sl_connector_settings; d->key; d++) {
        (void)sl_settings_str(&copy, sl_connector_settings, d->key);
        (void)sl_settings_int(&copy, sl_connector_settings, d->key);
        (void)sl_settings_bool(&copy, sl_connector_settings, d->key);
    }

    const struct sl_setting *tables[3];
    sl_connector_tables(sink, tables);
    for (int show = 0; show < 2; show++) {
        json_t *flat = sl_settings_to_flat_json(&copy, tables, show);
        json_t *nested = sl_settings_to_nested_json(&copy, tables, show);
        CHECK(flat != NULL && nested != NULL);
        if (!show)
            check_masking(&copy, tables, flat);
        char *text = json_dumps(nested, JSON_COMPACT);
        free(text);
        json_decref(flat);
        json_decref(nested);
    }

    if (violations.count == 0) {
        CHECK(sink != NULL);
        check_persisted(&copy);
        check_backoff(&copy);
        /* Settings that passed validation make a sink: creating one reads them into its context
         * and touches no network. A CA file would be opened, which a fuzzer should not make it do. */
        const char *ca = sl_settings_get(&copy, "tls:caFile");
        if (ca == NULL || ca[0] == '\0') {
            void *ctx = NULL;
            struct sl_error err = {0};
            enum sl_code code = sink->create(&copy, "fuzz-connector", &ctx, &err);
            if (code != SL_OK)
                fprintf(stderr, "valid settings, yet %s refused them: %s\n", sink->name, err.message);
            CHECK(code == SL_OK);
            if (sink->batch_size)
                CHECK(sink->batch_size(ctx) >= 1);
            sink->destroy(ctx);
        }
    }
    sl_violations_free(&violations);
    sl_settings_free(&copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    if (root == NULL)
        return 0;
    for (int nested = 0; nested < 2; nested++) {
        struct sl_settings s;
        sl_settings_init(&s);
        struct sl_error err = {0};
        enum sl_code code = nested ? sl_settings_from_nested_json(&s, root, &err)
                                   : sl_settings_from_flat_json(&s, root, &err);
        if (code == SL_OK)
            check_settings(&s);
        else
            CHECK(err.message[0] != '\0');
        sl_settings_free(&s);
    }
    json_decref(root);
    return 0;
}
