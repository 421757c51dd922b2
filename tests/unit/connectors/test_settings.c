/* test_settings.c: a connector's settings: a flat map with case-insensitive
 * keys, the nested configuration form, JSON output with secrets masked, and
 * validation that lists every broken rule. */
#include "connector_test.h"

#include <jansson.h>

#include "connectors/definition.h"
#include "sinks/sink.h"

/* A sink-like table with one setting of each type. */
/* clang-format off */
static const struct sl_setting sample_settings[] = {
    /* key               type           default  flags                choices               min max  help */
    {"url",              SL_SET_URL,    NULL,    SL_SETTING_REQUIRED, NULL,                 0, 0,    "target"},
    {"topic",            SL_SET_STRING, NULL,    SL_SETTING_REQUIRED, NULL,                 0, 0,    "where to"},
    {"batch:size",       SL_SET_INT,    "10",    0,                   NULL,                 1, 100,  "records per write"},
    {"offset",           SL_SET_INT,    "-1",    0,                   NULL,                 0, 0,    "any integer"},
    {"compress",         SL_SET_BOOL,   "false", 0,                   NULL,                 0, 0,    "gzip"},
    {"mode",             SL_SET_ENUM,   "fast",  0,                   "fast|slow|careful",  0, 0,    "how"},
    {"script",           SL_SET_BASE64, "",      0,                   NULL,                 0, 0,    "code"},
    {"auth:password",    SL_SET_STRING, "",      SL_SETTING_SECRET,   NULL,                 0, 0,    "secret"},
    {"defaultHeaders:",  SL_SET_STRING, NULL,    SL_SETTING_PREFIX,   NULL,                 0, 0,    "extra headers"},
    {NULL},
};
/* clang-format on */

static const struct sl_setting *const sample_tables[] = {sample_settings, NULL};

/* ---- the flat map ---- */

static void test_set_then_get_ignores_the_case_of_the_key(void **state)
{
    (void)state;
    struct sl_settings s;
    settings_of(&s, "Subscription:Filter:Scope", "stream", NULL);
    assert_string_equal(sl_settings_get(&s, "subscription:filter:scope"), "stream");
    assert_string_equal(sl_settings_get(&s, "SUBSCRIPTION:FILTER:SCOPE"), "stream");
    assert_null(sl_settings_get(&s, "subscription:filter"));
    sl_settings_free(&s);
}

static void test_set_replaces_a_key_that_differs_only_in_case(void **state)
{
    (void)state;
    struct sl_settings s;
    settings_of(&s, "resilience:maxRetries", "3", "RESILIENCE:MAXRETRIES", "7", NULL);
    assert_int_equal(s.count, 1);
    assert_string_equal(sl_settings_get(&s, "resilience:maxretries"), "7");
    sl_settings_free(&s);
}

static void test_copy_owns_its_strings(void **state)
{
    (void)state;
    struct sl_settings s, copy;
    settings_of(&s, "a", "1", "b", "2", NULL);
    assert_true(sl_settings_copy(&copy, &s));
    sl_settings_set(&s, "a", "changed");
    sl_settings_free(&s);
    assert_int_equal(copy.count, 2);
    assert_string_equal(sl_settings_get(&copy, "a"), "1");
    assert_string_equal(sl_settings_get(&copy, "b"), "2");
    sl_settings_free(&copy);
}

static void test_typed_reads_fall_back_to_the_table_default(void **state)
{
    (void)state;
    struct sl_settings s;
    settings_of(&s, "offset", "42", "compress", "true", NULL);
    assert_int_equal(sl_settings_int(&s, sample_settings, "offset"), 42);
    assert_int_equal(sl_settings_int(&s, sample_settings, "batch:size"), 10);
    assert_true(sl_settings_bool(&s, sample_settings, "compress"));
    assert_string_equal(sl_settings_str(&s, sample_settings, "mode"), "fast");
    sl_settings_set(&s, "offset", "not a number");
    assert_int_equal(sl_settings_int(&s, sample_settings, "offset"), -1);
    sl_settings_free(&s);
}

/* ---- JSON forms ---- */

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    if (doc == NULL)
        fail_msg("bad JSON in the test: %s", jerr.text);
    return doc;
}

static void test_nested_configuration_is_flattened_with_colons_and_indexes(void **state)
{
    (void)state;
    json_t *doc =
        parse("{\"instanceTypeName\": \"kafka-sink\","
              " \"subscription\": {\"filter\": {\"scope\": \"stream\", \"expression\": \"orders-\"}},"
              " \"resilience\": {\"enabled\": false, \"maxRetries\": 3, \"factor\": 1.5},"
              " \"brokers\": [\"a:9092\", {\"host\": \"b\"}]}");
    struct sl_settings s;
    sl_settings_init(&s);
    struct sl_error err = {0};
    assert_int_equal(sl_settings_from_nested_json(&s, doc, &err), SL_OK);
    assert_int_equal(s.count, 8);
    assert_string_equal(sl_settings_get(&s, "instanceTypeName"), "kafka-sink");
    assert_string_equal(sl_settings_get(&s, "subscription:filter:scope"), "stream");
    assert_string_equal(sl_settings_get(&s, "subscription:filter:expression"), "orders-");
    assert_string_equal(sl_settings_get(&s, "resilience:enabled"), "false");
    assert_string_equal(sl_settings_get(&s, "resilience:maxRetries"), "3");
    assert_float_equal(strtod(sl_settings_get(&s, "resilience:factor"), NULL), 1.5, 1e-9);
    assert_string_equal(sl_settings_get(&s, "brokers:0"), "a:9092");
    assert_string_equal(sl_settings_get(&s, "brokers:1:host"), "b");
    sl_settings_free(&s);
    json_decref(doc);
}

static void test_nested_configuration_must_be_an_object(void **state)
{
    (void)state;
    json_t *doc = parse("[\"a\"]");
    struct sl_settings s;
    sl_settings_init(&s);
    struct sl_error err = {0};
    assert_int_equal(sl_settings_from_nested_json(&s, doc, &err), SL_E_INVALID);
    assert_int_equal(s.count, 0);
    sl_settings_free(&s);
    json_decref(doc);
}

static void test_flat_json_turns_numbers_and_booleans_into_strings(void **state)
{
    (void)state;
    json_t *doc = parse("{\"url\": \"http://h/x\", \"batch:size\": 5, \"compress\": true}");
    struct sl_settings s;
    sl_settings_init(&s);
    struct sl_error err = {0};
    assert_int_equal(sl_settings_from_flat_json(&s, doc, &err), SL_OK);
    assert_int_equal(s.count, 3);
    assert_string_equal(sl_settings_get(&s, "url"), "http://h/x");
    assert_string_equal(sl_settings_get(&s, "batch:size"), "5");
    assert_string_equal(sl_settings_get(&s, "compress"), "true");
    sl_settings_free(&s);
    json_decref(doc);
}

static void test_flat_json_with_an_object_value_is_refused_naming_the_key(void **state)
{
    (void)state;
    json_t *doc = parse("{\"url\": \"http://h/x\", \"subscription\": {\"filter\": {}}}");
    struct sl_settings s;
    sl_settings_init(&s);
    struct sl_error err = {0};
    assert_int_equal(sl_settings_from_flat_json(&s, doc, &err), SL_E_INVALID);
    assert_string_equal(err.field, "subscription");
    sl_settings_free(&s);
    json_decref(doc);
}

static void test_flat_json_output_has_every_key_as_given(void **state)
{
    (void)state;
    struct sl_settings s;
    settings_of(&s, "url", "http://h/x", "Batch:Size", "5", "defaultHeaders:X-Trace", "on", NULL);
    json_t *out = sl_settings_to_flat_json(&s, sample_tables, false);
    assert_non_null(out);
    assert_int_equal(json_object_size(out), 3);
    assert_string_equal(json_string_value(json_object_get(out, "url")), "http://h/x");
    assert_string_equal(json_string_value(json_object_get(out, "Batch:Size")), "5");
    assert_string_equal(json_string_value(json_object_get(out, "defaultHeaders:X-Trace")), "on");
    json_decref(out);
    sl_settings_free(&s);
}

static void test_nested_json_output_turns_colons_into_objects(void **state)
{
    (void)state;
    struct sl_settings s;
    settings_of(&s, "url", "http://h/x", "batch:size", "5", "auth:password", "hunter2", NULL);
    json_t *out = sl_settings_to_nested_json(&s, sample_tables, true);
    assert_non_null(out);
    assert_string_equal(json_string_value(json_object_get(out, "url")), "http://h/x");
    json_t *batch = json_object_get(out, "batch");
    assert_true(json_is_object(batch));
    assert_string_equal(json_string_value(json_object_get(batch, "size")), "5");
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "auth"), "password")),
                        "hunter2");
    json_decref(out);
    sl_settings_free(&s);
}

static void test_nested_output_read_back_gives_the_same_map(void **state)
{
    (void)state;
    struct sl_settings s, back;
    settings_of(&s, "url", "http://h/x", "batch:size", "5", "defaultHeaders:X-Trace", "on", NULL);
    json_t *out = sl_settings_to_nested_json(&s, sample_tables, true);
    sl_settings_init(&back);
    struct sl_error err = {0};
    assert_int_equal(sl_settings_from_nested_json(&back, out, &err), SL_OK);
    assert_int_equal(back.count, s.count);
    for (size_t i = 0; i < s.count; i++)
        assert_string_equal(sl_settings_get(&back, s.keys[i]), s.values[i]);
    json_decref(out);
    sl_settings_free(&s);
    sl_settings_free(&back);
}

static void test_secrets_are_masked_in_both_forms_unless_shown(void **state)
{
    (void)state;
    struct sl_settings s;
    settings_of(&s, "url", "http://h/x", "Auth:Password", "hunter2", NULL);

    json_t *flat = sl_settings_to_flat_json(&s, sample_tables, false);
    assert_string_equal(json_string_value(json_object_get(flat, "Auth:Password")), "***");
    assert_string_equal(json_string_value(json_object_get(flat, "url")), "http://h/x");
    json_decref(flat);

    json_t *nested = sl_settings_to_nested_json(&s, sample_tables, false);
    assert_string_equal(json_string_value(json_object_get(json_object_get(nested, "Auth"), "Password")),
                        "***");
    json_decref(nested);

    flat = sl_settings_to_flat_json(&s, sample_tables, true);
    assert_string_equal(json_string_value(json_object_get(flat, "Auth:Password")), "hunter2");
    json_decref(flat);
    sl_settings_free(&s);
}

static void test_http_sink_tokens_are_masked_with_the_connector_tables(void **state)
{
    (void)state;
    const struct sl_sink_type *http = sl_sink_find("http-sink");
    assert_non_null(http);
    const struct sl_setting *tables[3];
    sl_connector_tables(http, tables);
    struct sl_settings s;
    settings_of(&s, "instanceTypeName", "http-sink", "url", "http://h/x", "authentication:bearer:token",
                "t0ken", "authentication:basic:password", "pa55", NULL);
    json_t *flat = sl_settings_to_flat_json(&s, tables, false);
    assert_string_equal(json_string_value(json_object_get(flat, "authentication:bearer:token")), "***");
    assert_string_equal(json_string_value(json_object_get(flat, "authentication:basic:password")), "***");
    assert_string_equal(json_string_value(json_object_get(flat, "instanceTypeName")), "http-sink");
    json_decref(flat);
    sl_settings_free(&s);
}

/* ---- validation ---- */

static void test_validation_lists_every_violation_not_only_the_first(void **state)
{
    (void)state;
    struct sl_settings s;
    /* "topic" (required) is missing. */
    settings_of(&s, "url", "ftp://example.com/x", "batch:size", "500", "offset", "12abc", "compress", "yes",
                "mode", "sometimes", "script", "not base64!", "colour", "blue", NULL);
    struct sl_violations v = {0};
    sl_settings_validate(&s, sample_tables, &v);
    assert_violation_mentions(&v, "url", "http");
    assert_violation(&v, "topic");
    assert_violation_mentions(&v, "batch:size", "100");
    assert_violation(&v, "offset");
    assert_violation(&v, "compress");
    assert_violation_mentions(&v, "mode", "careful");
    assert_violation(&v, "script");
    assert_violation(&v, "colour");
    assert_int_equal(v.count, 8);
    sl_violations_free(&v);
    sl_settings_free(&s);
}

static void test_valid_values_of_every_type_raise_no_violation(void **state)
{
    (void)state;
    struct sl_settings s;
    settings_of(&s, "URL", "https://example.com/in", "topic", "orders", "batch:size", "100", "offset", "-12",
                "compress", "false", "mode", "Careful", "script", "ZnVuY3Rpb24gdHJhbnNmb3JtKHIpIHt9", NULL);
    struct sl_violations v = {0};
    sl_settings_validate(&s, sample_tables, &v);
    assert_no_violations(&v);
    sl_violations_free(&v);
    sl_settings_free(&s);
}

static void test_enum_values_compare_ignoring_case(void **state)
{
    (void)state;
    static const char *const good[] = {"fast", "FAST", "Slow", "cAREFUL"};
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        struct sl_settings s;
        settings_of(&s, "url", "http://h/", "topic", "t", "mode", good[i], NULL);
        struct sl_violations v = {0};
        sl_settings_validate(&s, sample_tables, &v);
        assert_no_violations(&v);
        sl_violations_free(&v);
        sl_settings_free(&s);
    }
    struct sl_settings s;
    settings_of(&s, "url", "http://h/", "topic", "t", "mode", "fas", NULL);
    struct sl_violations v = {0};
    sl_settings_validate(&s, sample_tables, &v);
    assert_violation(&v, "mode");
    sl_violations_free(&v);
    sl_settings_free(&s);
}

static void test_integer_range_bounds_are_inclusive(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        bool is_valid;
    } cases[] = {{"1", true}, {"100", true}, {"0", false}, {"101", false}, {"-5", false}, {"", false}};
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct sl_settings s;
        settings_of(&s, "url", "http://h/", "topic", "t", "batch:size", cases[i].value, NULL);
        struct sl_violations v = {0};
        sl_settings_validate(&s, sample_tables, &v);
        if (cases[i].is_valid)
            assert_no_violations(&v);
        else
            assert_violation(&v, "batch:size");
        sl_violations_free(&v);
        sl_settings_free(&s);
    }
}

static void test_prefix_setting_accepts_any_name_after_the_prefix(void **state)
{
    (void)state;
    struct sl_settings s;
    settings_of(&s, "url", "http://h/", "topic", "t", "defaultHeaders:X-Tenant", "acme",
                "DefaultHeaders:Trace-Id", "on", NULL);
    struct sl_violations v = {0};
    sl_settings_validate(&s, sample_tables, &v);
    assert_no_violations(&v);
    sl_violations_free(&v);
    sl_settings_free(&s);

    const struct sl_setting *d = sl_settings_find(sample_tables, "defaultHeaders:X-Tenant");
    assert_non_null(d);
    assert_true(d->flags & SL_SETTING_PREFIX);
    assert_null(sl_settings_find(sample_tables, "defaultHeaders:"));
    assert_null(sl_settings_find(sample_tables, "defaultHeadersX"));
}

static void test_find_looks_through_every_table_ignoring_case(void **state)
{
    (void)state;
    const struct sl_sink_type *http = sl_sink_find("http-sink");
    assert_non_null(http);
    const struct sl_setting *tables[3];
    sl_connector_tables(http, tables);
    const struct sl_setting *common = sl_settings_find(tables, "RESILIENCE:ENABLED");
    assert_non_null(common);
    assert_string_equal(common->key, "resilience:enabled");
    const struct sl_setting *own = sl_settings_find(tables, "URL");
    assert_non_null(own);
    assert_true(own->flags & SL_SETTING_REQUIRED);
    assert_null(sl_settings_find(tables, "no:such:setting"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_then_get_ignores_the_case_of_the_key),
        cmocka_unit_test(test_set_replaces_a_key_that_differs_only_in_case),
        cmocka_unit_test(test_copy_owns_its_strings),
        cmocka_unit_test(test_typed_reads_fall_back_to_the_table_default),
        cmocka_unit_test(test_nested_configuration_is_flattened_with_colons_and_indexes),
        cmocka_unit_test(test_nested_configuration_must_be_an_object),
        cmocka_unit_test(test_flat_json_turns_numbers_and_booleans_into_strings),
        cmocka_unit_test(test_flat_json_with_an_object_value_is_refused_naming_the_key),
        cmocka_unit_test(test_flat_json_output_has_every_key_as_given),
        cmocka_unit_test(test_nested_json_output_turns_colons_into_objects),
        cmocka_unit_test(test_nested_output_read_back_gives_the_same_map),
        cmocka_unit_test(test_secrets_are_masked_in_both_forms_unless_shown),
        cmocka_unit_test(test_http_sink_tokens_are_masked_with_the_connector_tables),
        cmocka_unit_test(test_validation_lists_every_violation_not_only_the_first),
        cmocka_unit_test(test_valid_values_of_every_type_raise_no_violation),
        cmocka_unit_test(test_enum_values_compare_ignoring_case),
        cmocka_unit_test(test_integer_range_bounds_are_inclusive),
        cmocka_unit_test(test_prefix_setting_accepts_any_name_after_the_prefix),
        cmocka_unit_test(test_find_looks_through_every_table_ignoring_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
