/* test_sink_registry.c: every sink type is listed once and found by any of
 * its names, ignoring case; its settings table is well formed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>
#include <strings.h>

#include "sinks/http.h"
#include "sinks/sink.h"

static void test_http_sink_answers_to_its_name_and_aliases_in_any_case(void **state)
{
    (void)state;
    static const char *const names[] = {"http-sink", "HttpSink", "http", "HTTP-SINK", "httpsink", "Http"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_ptr_equal(sl_sink_find(names[i]), &sl_http_sink);
}

static void test_unknown_names_find_nothing(void **state)
{
    (void)state;
    assert_null(sl_sink_find("kafka-sink"));
    assert_null(sl_sink_find("http-sink "));
    assert_null(sl_sink_find(""));
    assert_null(sl_sink_find(NULL));
}

static void test_every_sink_type_is_listed_once_and_complete(void **state)
{
    (void)state;
    size_t n = 0;
    bool has_http = false, has_log = false;
    for (const struct sl_sink_type *const *t = sl_sink_types(); *t; t++, n++) {
        const struct sl_sink_type *type = *t;
        assert_non_null(type->name);
        assert_non_null(type->settings);
        assert_non_null(type->create);
        assert_non_null(type->write);
        assert_non_null(type->destroy);
        assert_ptr_equal(sl_sink_find(type->name), type);
        for (const char *const *alias = type->aliases; alias && *alias; alias++)
            assert_ptr_equal(sl_sink_find(*alias), type);
        for (const struct sl_setting *d = type->settings; d->key; d++)
            assert_non_null(d->help);
        has_http |= strcmp(type->name, "http-sink") == 0;
        has_log |= strcmp(type->name, "serilog-sink") == 0;
    }
    assert_int_equal(n, 2);
    assert_true(has_http);
    assert_true(has_log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_sink_answers_to_its_name_and_aliases_in_any_case),
        cmocka_unit_test(test_unknown_names_find_nothing),
        cmocka_unit_test(test_every_sink_type_is_listed_once_and_complete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
