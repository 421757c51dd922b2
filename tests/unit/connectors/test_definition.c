/* test_definition.c: the settings every connector has, checked as a whole:
 * the filter the subscription settings describe (spec §2), the features this
 * version refuses, and the sink named by instanceTypeName. */
#include "connector_test.h"

#include "connectors/definition.h"
#include "sinks/sink.h"
#include "store/filter.h"

/* The filter of settings given as NULL-terminated pairs; fails the test when
 * the settings do not describe one. */
static struct sl_filter *filter_of(const char *key, ...)
{
    struct sl_settings s;
    sl_settings_init(&s);
    va_list ap;
    va_start(ap, key);
    for (const char *k = key; k != NULL; k = va_arg(ap, const char *))
        assert_true(sl_settings_set(&s, k, va_arg(ap, const char *)));
    va_end(ap);
    struct sl_error err = {0};
    struct sl_filter *f = sl_connector_filter(&s, &err);
    sl_settings_free(&s);
    if (f == NULL)
        fail_msg("sl_connector_filter returned NULL: %s", err.message);
    return f;
}

static bool matches(const struct sl_filter *f, const char *stream, const char *type)
{
    struct sl_event ev = event_of(stream, type);
    return sl_filter_matches(f, &ev);
}

/* ---- the filter ---- */

static void test_empty_expression_without_scope_matches_every_event_but_system_ones(void **state)
{
    (void)state;
    struct sl_filter *f = filter_of(NULL);
    assert_true(matches(f, "orders-1", "OrderPlaced"));
    assert_true(matches(f, "customers-7", "CustomerRenamed"));
    assert_false(matches(f, "$ce-orders", "OrderPlaced"));
    assert_false(matches(f, "orders-1", "$metadata"));
    assert_false(matches(f, "$connectors/a/checkpoints", "$conn-ctrl-checkpoint"));
    sl_filter_free(f);

    f = filter_of("subscription:filter:scope", "unspecified", "subscription:filter:expression", "", NULL);
    assert_true(matches(f, "orders-1", "OrderPlaced"));
    assert_false(matches(f, "$ce-orders", "OrderPlaced"));
    sl_filter_free(f);
}

static void test_empty_expression_with_a_scope_matches_system_events_too(void **state)
{
    (void)state;
    static const char *const scopes[] = {"stream", "record", "Stream"};
    for (size_t i = 0; i < ARRAY_LEN(scopes); i++) {
        struct sl_filter *f = filter_of("subscription:filter:scope", scopes[i], NULL);
        assert_true(matches(f, "orders-1", "OrderPlaced"));
        assert_true(matches(f, "$ce-orders", "OrderPlaced"));
        assert_true(matches(f, "orders-1", "$metadata"));
        sl_filter_free(f);
    }
}

static void test_stream_id_filter_matches_exactly_one_stream(void **state)
{
    (void)state;
    struct sl_filter *f = filter_of("subscription:filter:scope", "stream", "subscription:filter:filterType",
                                    "streamId", "subscription:filter:expression", "orders-1", NULL);
    assert_true(matches(f, "orders-1", "OrderPlaced"));
    assert_false(matches(f, "orders-10", "OrderPlaced"));
    assert_false(matches(f, "orders-", "OrderPlaced"));
    assert_false(matches(f, "my-orders-1", "OrderPlaced"));
    assert_false(matches(f, "other", "orders-1"));
    sl_filter_free(f);
}

static void test_prefix_filter_matches_any_of_comma_separated_prefixes(void **state)
{
    (void)state;
    struct sl_filter *f = filter_of("subscription:filter:scope", "stream", "subscription:filter:filterType",
                                    "prefix", "subscription:filter:expression", "orders-,invoices-", NULL);
    assert_true(matches(f, "orders-1", "x"));
    assert_true(matches(f, "invoices-9", "x"));
    assert_false(matches(f, "customers-1", "x"));
    assert_false(matches(f, "my-orders-1", "x"));
    assert_false(matches(f, "orders", "x"));
    sl_filter_free(f);
}

static void test_prefix_filter_with_record_scope_matches_event_types(void **state)
{
    (void)state;
    struct sl_filter *f = filter_of("subscription:filter:scope", "record", "subscription:filter:filterType",
                                    "prefix", "subscription:filter:expression", "Order,Invoice", NULL);
    assert_true(matches(f, "anything", "OrderPlaced"));
    assert_true(matches(f, "anything", "InvoiceSent"));
    assert_false(matches(f, "Orders-1", "CustomerRenamed"));
    sl_filter_free(f);
}

static void test_explicit_scope_with_a_system_prefix_matches_system_streams(void **state)
{
    (void)state;
    struct sl_filter *f = filter_of("subscription:filter:scope", "stream", "subscription:filter:filterType",
                                    "prefix", "subscription:filter:expression", "$ce-", NULL);
    assert_true(matches(f, "$ce-orders", "OrderPlaced"));
    assert_false(matches(f, "orders-1", "OrderPlaced"));
    sl_filter_free(f);
}

static void test_regex_with_stream_scope_matches_stream_names_only(void **state)
{
    (void)state;
    struct sl_filter *f = filter_of("subscription:filter:scope", "stream", "subscription:filter:filterType",
                                    "regex", "subscription:filter:expression", "^orders-[0-9]+$", NULL);
    assert_true(matches(f, "orders-12", "x"));
    assert_false(matches(f, "orders-x", "x"));
    assert_false(matches(f, "other", "orders-12"));
    sl_filter_free(f);
}

static void test_regex_with_record_scope_matches_event_types_only(void **state)
{
    (void)state;
    struct sl_filter *f =
        filter_of("subscription:filter:scope", "record", "subscription:filter:filterType", "regex",
                  "subscription:filter:expression", "^Order(Placed|Shipped)$", NULL);
    assert_true(matches(f, "s-1", "OrderPlaced"));
    assert_true(matches(f, "s-1", "OrderShipped"));
    assert_false(matches(f, "s-1", "OrderCancelled"));
    assert_false(matches(f, "OrderPlaced", "Other"));
    sl_filter_free(f);
}

static void test_unspecified_filter_type_is_regex_when_the_expression_compiles(void **state)
{
    (void)state;
    /* As a literal prefix, "^orders-\d+$" would match none of these. */
    struct sl_filter *f = filter_of("subscription:filter:scope", "stream", "subscription:filter:expression",
                                    "^orders-\\d+$", NULL);
    assert_true(matches(f, "orders-12", "x"));
    assert_false(matches(f, "orders-12a", "x"));
    sl_filter_free(f);
}

static void test_unspecified_filter_type_is_prefix_when_the_expression_is_not_a_regex(void **state)
{
    (void)state;
    struct sl_filter *f =
        filter_of("subscription:filter:scope", "stream", "subscription:filter:expression", "orders[", NULL);
    assert_true(matches(f, "orders[eu]-1", "x"));
    assert_false(matches(f, "orders-1", "x"));
    sl_filter_free(f);

    struct sl_settings s;
    settings_of(&s, "instanceTypeName", "serilog-sink", "subscription:filter:expression", "orders[", NULL);
    struct sl_violations v = {0};
    const struct sl_sink_type *sink;
    sl_connector_validate(&s, &v, &sink);
    assert_no_violations(&v);
    sl_violations_free(&v);
    sl_settings_free(&s);
}

static void test_expression_starting_with_a_dollar_is_refused_as_a_json_path(void **state)
{
    (void)state;
    struct sl_settings s;
    settings_of(&s, "instanceTypeName", "serilog-sink", "subscription:filter:scope", "record",
                "subscription:filter:expression", "$[?(@.schemaInfo.subject == 'OrderPlaced')]", NULL);
    struct sl_error err = {0};
    assert_null(sl_connector_filter(&s, &err));
    assert_int_equal(err.code, SL_E_INVALID);
    assert_non_null(strcasestr(err.message, "jsonPath"));

    struct sl_violations v = {0};
    const struct sl_sink_type *sink;
    sl_connector_validate(&s, &v, &sink);
    assert_int_equal(v.count, 1);
    assert_non_null(strcasestr(v.items[0].description, "jsonPath"));
    assert_non_null(strcasestr(v.items[0].field, "subscription:filter"));
    sl_violations_free(&v);
    sl_settings_free(&s);
}

static void test_explicit_json_path_filter_type_is_refused(void **state)
{
    (void)state;
    struct sl_settings s;
    settings_of(&s, "instanceTypeName", "serilog-sink", "subscription:filter:filterType", "JsonPath",
                "subscription:filter:expression", "$.value.kind", NULL);
    struct sl_violations v = {0};
    const struct sl_sink_type *sink;
    sl_connector_validate(&s, &v, &sink);
    assert_violation_mentions(&v, "subscription:filter:filterType", "jsonPath");
    sl_violations_free(&v);
    sl_settings_free(&s);
}

static void test_regex_that_does_not_compile_is_a_violation(void **state)
{
    (void)state;
    struct sl_settings s;
    settings_of(&s, "instanceTypeName", "serilog-sink", "subscription:filter:scope", "stream",
                "subscription:filter:filterType", "regex", "subscription:filter:expression", "orders-(",
                NULL);
    struct sl_error err = {0};
    assert_null(sl_connector_filter(&s, &err));
    assert_int_equal(err.code, SL_E_INVALID);
    struct sl_violations v = {0};
    const struct sl_sink_type *sink;
    sl_connector_validate(&s, &v, &sink);
    assert_int_equal(v.count, 1);
    sl_violations_free(&v);
    sl_settings_free(&s);
}

/* ---- the definition as a whole ---- */

static void test_enabled_transformer_is_refused(void **state)
{
    (void)state;
    struct sl_settings s;
    settings_of(&s, "instanceTypeName", "serilog-sink", "transformer:enabled", "true", "transformer:function",
                "ZnVuY3Rpb24gdHJhbnNmb3JtKHIpIHt9", NULL);
    struct sl_violations v = {0};
    const struct sl_sink_type *sink;
    sl_connector_validate(&s, &v, &sink);
    assert_violation(&v, "transformer:enabled");
    assert_int_equal(v.count, 1);
    sl_violations_free(&v);
    sl_settings_free(&s);

    settings_of(&s, "instanceTypeName", "serilog-sink", "transformer:enabled", "false", NULL);
    sl_connector_validate(&s, &v, &sink);
    assert_no_violations(&v);
    sl_violations_free(&v);
    sl_settings_free(&s);
}

static void test_unknown_instance_type_is_listed_with_the_known_ones(void **state)
{
    (void)state;
    struct sl_settings s;
    settings_of(&s, "instanceTypeName", "carrier-pigeon-sink", NULL);
    struct sl_violations v = {0};
    const struct sl_sink_type *sink = sl_sink_find("http-sink"); /* to see it reset */
    sl_connector_validate(&s, &v, &sink);
    assert_null(sink);
    assert_violation_mentions(&v, "instanceTypeName", "carrier-pigeon-sink");
    assert_violation_mentions(&v, "instanceTypeName", "http-sink");
    assert_violation_mentions(&v, "instanceTypeName", "serilog-sink");
    sl_violations_free(&v);
    sl_settings_free(&s);
}

static void test_missing_instance_type_is_required(void **state)
{
    (void)state;
    struct sl_settings s;
    settings_of(&s, "subscription:filter:scope", "stream", NULL);
    struct sl_violations v = {0};
    const struct sl_sink_type *sink;
    sl_connector_validate(&s, &v, &sink);
    assert_null(sink);
    assert_violation(&v, "instanceTypeName");
    sl_violations_free(&v);
    sl_settings_free(&s);
}

static void test_sink_names_and_pascal_case_aliases_name_the_same_sink(void **state)
{
    (void)state;
    const struct sl_sink_type *http = sl_sink_find("http-sink");
    const struct sl_sink_type *log = sl_sink_find("serilog-sink");
    assert_non_null(http);
    assert_non_null(log);
    static const struct {
        const char *name;
        bool is_http;
    } cases[] = {{"HttpSink", true}, {"HTTP-SINK", true}, {"log-sink", false}, {"SerilogSink", false}};
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct sl_settings s;
        settings_of(&s, "instanceTypeName", cases[i].name, NULL);
        if (cases[i].is_http)
            sl_settings_set(&s, "url", "http://127.0.0.1:9/x");
        struct sl_violations v = {0};
        const struct sl_sink_type *sink;
        sl_connector_validate(&s, &v, &sink);
        assert_no_violations(&v);
        assert_ptr_equal(sink, cases[i].is_http ? http : log);
        sl_violations_free(&v);
        sl_settings_free(&s);
    }
}

static void test_connector_tables_put_the_common_settings_first(void **state)
{
    (void)state;
    const struct sl_sink_type *http = sl_sink_find("http-sink");
    const struct sl_setting *tables[3];
    sl_connector_tables(http, tables);
    assert_ptr_equal(tables[0], sl_connector_settings);
    assert_ptr_equal(tables[1], http->settings);
    assert_null(tables[2]);
    sl_connector_tables(NULL, tables);
    assert_ptr_equal(tables[0], sl_connector_settings);
    assert_null(tables[1]);
}

static void test_full_valid_http_sink_definition_passes_with_no_violations(void **state)
{
    (void)state;
    struct sl_settings s;
    settings_of(
        &s, "instanceTypeName", "http-sink", "url", "https://example.com/events/{stream}", "method", "put",
        "subscription:filter:scope", "stream", "subscription:filter:filterType", "prefix",
        "subscription:filter:expression", "orders-,invoices-", "subscription:initialPosition", "Earliest",
        "transformer:enabled", "false", "resilience:enabled", "true", "resilience:backoff", "exponential",
        "resilience:initialDelayMs", "250", "resilience:maxDelayMs", "30000", "resilience:maxRetries", "10",
        "resilience:onExhausted", "dead-letter", "resilience:firstDelayBound:upperLimitMs", "60000",
        "resilience:firstDelayBound:delayMs", "5000", "resilience:secondDelayBound:upperLimitMs", "3600000",
        "resilience:secondDelayBound:delayMs", "600000", "resilience:thirdDelayBound:upperLimitMs", "-1",
        "resilience:thirdDelayBound:delayMs", "3600000", "autocommit:enabled", "true", "autocommit:interval",
        "5000", "autocommit:recordsThreshold", "1000", "headers:ignoreSystem", "false", "logging:enabled",
        "true", "defaultHeaders:X-Source", "sluice", "authentication:method", "bearer",
        "authentication:bearer:token", "s3cret", NULL);
    struct sl_violations v = {0};
    const struct sl_sink_type *sink = NULL;
    sl_connector_validate(&s, &v, &sink);
    assert_no_violations(&v);
    assert_ptr_equal(sink, sl_sink_find("http-sink"));
    struct sl_error err = {0};
    struct sl_filter *f = sl_connector_filter(&s, &err);
    assert_non_null(f);
    assert_true(matches(f, "invoices-3", "InvoiceSent"));
    assert_false(matches(f, "customers-3", "CustomerAdded"));
    sl_filter_free(f);
    sl_violations_free(&v);
    sl_settings_free(&s);
}

static void test_invalid_definition_lists_every_violation(void **state)
{
    (void)state;
    struct sl_settings s;
    settings_of(&s, "instanceTypeName", "http-sink", "url", "ftp://example.com/x", "resilience:maxRetries",
                "lots", "subscription:filter:scope", "everything", "transformer:enabled", "true", "colour",
                "blue", NULL);
    struct sl_violations v = {0};
    const struct sl_sink_type *sink;
    sl_connector_validate(&s, &v, &sink);
    assert_violation(&v, "url");
    assert_violation(&v, "resilience:maxRetries");
    assert_violation(&v, "subscription:filter:scope");
    assert_violation(&v, "transformer:enabled");
    assert_violation(&v, "colour");
    assert_int_equal(v.count, 5);
    sl_violations_free(&v);
    sl_settings_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_expression_without_scope_matches_every_event_but_system_ones),
        cmocka_unit_test(test_empty_expression_with_a_scope_matches_system_events_too),
        cmocka_unit_test(test_stream_id_filter_matches_exactly_one_stream),
        cmocka_unit_test(test_prefix_filter_matches_any_of_comma_separated_prefixes),
        cmocka_unit_test(test_prefix_filter_with_record_scope_matches_event_types),
        cmocka_unit_test(test_explicit_scope_with_a_system_prefix_matches_system_streams),
        cmocka_unit_test(test_regex_with_stream_scope_matches_stream_names_only),
        cmocka_unit_test(test_regex_with_record_scope_matches_event_types_only),
        cmocka_unit_test(test_unspecified_filter_type_is_regex_when_the_expression_compiles),
        cmocka_unit_test(test_unspecified_filter_type_is_prefix_when_the_expression_is_not_a_regex),
        cmocka_unit_test(test_expression_starting_with_a_dollar_is_refused_as_a_json_path),
        cmocka_unit_test(test_explicit_json_path_filter_type_is_refused),
        cmocka_unit_test(test_regex_that_does_not_compile_is_a_violation),
        cmocka_unit_test(test_enabled_transformer_is_refused),
        cmocka_unit_test(test_unknown_instance_type_is_listed_with_the_known_ones),
        cmocka_unit_test(test_missing_instance_type_is_required),
        cmocka_unit_test(test_sink_names_and_pascal_case_aliases_name_the_same_sink),
        cmocka_unit_test(test_connector_tables_put_the_common_settings_first),
        cmocka_unit_test(test_full_valid_http_sink_definition_passes_with_no_violations),
        cmocka_unit_test(test_invalid_definition_lists_every_violation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
