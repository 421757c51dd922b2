/* test_json_text.c: cutting the server's JSON into raw parts keeps every byte of each event. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "util/json_text.h"

static void expect_slice(struct sl_json_slice s, const char *text)
{
    if (s.len != strlen(text) || memcmp(s.text, text, s.len) != 0)
        fail_msg("got '%.*s', expected '%s'", (int)s.len, s.text, text);
}

static void test_member_finds_top_level_key_only(void **state)
{
    (void)state;
    const char *json = " { \"x\" : {\"next\": 1, \"s\": \"}\\\"next\"}, \"events\":[1, 2],\n\"next\" : 42 } ";
    struct sl_json_slice v;
    assert_true(sl_json_member(json, strlen(json), "next", &v));
    expect_slice(v, "42");
    assert_true(sl_json_member(json, strlen(json), "events", &v));
    expect_slice(v, "[1, 2]");
    assert_false(sl_json_member(json, strlen(json), "s", &v));
    assert_false(sl_json_member(json, strlen(json), "nope", &v));
}

static void test_member_rejects_what_is_not_an_object(void **state)
{
    (void)state;
    struct sl_json_slice v;
    assert_false(sl_json_member("[1]", 3, "a", &v));
    assert_false(sl_json_member("", 0, "a", &v));
    assert_false(sl_json_member("{\"a\"", 4, "a", &v));
    assert_false(sl_json_member("{\"a\":\"unterminated", 18, "a", &v));
    assert_false(sl_json_member("{\"b\":1 \"a\":2}", 13, "a", &v));
}

static void test_items_keep_numbers_and_strings_exactly(void **state)
{
    (void)state;
    const char *array = "[ {\"n\": 0.1, \"big\": 123456789012345678901234567890, \"s\": \"a],\\\"b\"},\n"
                        "  [1,[2]], \"x\", null, -1.5e10 ]";
    struct sl_json_slice arr = {array, strlen(array)};
    static const char *const expected[] = {
        "{\"n\": 0.1, \"big\": 123456789012345678901234567890, \"s\": \"a],\\\"b\"}", "[1,[2]]", "\"x\"",
        "null", "-1.5e10"};
    size_t pos = 0;
    struct sl_json_slice item;
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        assert_true(sl_json_next_item(arr, &pos, &item));
        expect_slice(item, expected[i]);
    }
    assert_false(sl_json_next_item(arr, &pos, &item));
}

static void test_empty_array_has_no_items(void **state)
{
    (void)state;
    struct sl_json_slice arr = {" [ \n ] ", 7};
    size_t pos = 0;
    struct sl_json_slice item;
    assert_false(sl_json_next_item(arr, &pos, &item));
}

static void test_compact_drops_whitespace_outside_strings_only(void **state)
{
    (void)state;
    const char *in = "{\n  \"a b\" : [ 1 , 2 ],\r\n\t\"c\": \"x \\\" \\n y\" }\n";
    struct sl_buf out;
    sl_buf_init(&out);
    sl_json_compact(&out, in, strlen(in));
    assert_string_equal(out.data, "{\"a b\":[1,2],\"c\":\"x \\\" \\n y\"}");
    sl_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_member_finds_top_level_key_only),
        cmocka_unit_test(test_member_rejects_what_is_not_an_object),
        cmocka_unit_test(test_items_keep_numbers_and_strings_exactly),
        cmocka_unit_test(test_empty_array_has_no_items),
        cmocka_unit_test(test_compact_drops_whitespace_outside_strings_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
