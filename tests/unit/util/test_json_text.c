/* test_json_text.c: cutting the server's JSON into raw parts keeps every byte of each event,
 * and decoding a string's escapes gives what jansson gives, never longer than the raw text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util/fastrand.h"
#include "util/json_check.h"
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

static void test_members_have_raw_names_and_exact_values(void **state)
{
    (void)state;
    const char *json =
        " { \"a\\\"b\" : 1.50 ,\n\"c\\u0041\":{\"x\":[1, \"}\"]},\"e\":\"s\\\"}\",  \"\" :null,"
        "\"n\":123456789012345678901234567890\t,\"k\\\\\":\"\\\\\\\"\\\\\"} ";
    struct sl_json_slice obj = {json, strlen(json)};
    static const char *const names[] = {"a\\\"b", "c\\u0041", "e", "", "n", "k\\\\"};
    static const char *const values[] = {"1.50",
                                         "{\"x\":[1, \"}\"]}",
                                         "\"s\\\"}\"",
                                         "null",
                                         "123456789012345678901234567890",
                                         "\"\\\\\\\"\\\\\""};
    size_t pos = 0;
    struct sl_json_slice name, value;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_true(sl_json_next_member(obj, &pos, &name, &value));
        expect_slice(name, names[i]);
        expect_slice(value, values[i]);
        assert_true(pos <= obj.len);
    }
    assert_false(sl_json_next_member(obj, &pos, &name, &value));
}

static void test_repeated_names_are_each_a_member(void **state)
{
    (void)state;
    const char *json = "{\"a\":1,\"a\":[2]}";
    struct sl_json_slice obj = {json, strlen(json)}, name, value;
    size_t pos = 0;
    assert_true(sl_json_next_member(obj, &pos, &name, &value));
    expect_slice(name, "a");
    expect_slice(value, "1");
    assert_true(sl_json_next_member(obj, &pos, &name, &value));
    expect_slice(name, "a");
    expect_slice(value, "[2]");
    assert_false(sl_json_next_member(obj, &pos, &name, &value));
}

static void test_empty_object_has_no_members(void **state)
{
    (void)state;
    struct sl_json_slice obj = {" {\r\n\t } ", 8}, name, value;
    size_t pos = 0;
    assert_false(sl_json_next_member(obj, &pos, &name, &value));
    struct sl_json_slice arr = {"[1]", 3};
    pos = 0;
    assert_false(sl_json_next_member(arr, &pos, &name, &value));
}

static void test_has_escapes_looks_for_a_backslash(void **state)
{
    (void)state;
    struct sl_json_slice plain = {"data \xc3\xa9/", 8}, escaped = {"d\\u0061ta", 9}, empty = {"", 0};
    assert_false(sl_json_has_escapes(plain));
    assert_true(sl_json_has_escapes(escaped));
    assert_false(sl_json_has_escapes(empty));
}

/* Decodes the raw text `raw` into a buffer of exactly raw.len + 1 bytes (ASan sees any overrun). */
static void expect_unescaped(const char *raw, const char *want, size_t want_len)
{
    struct sl_json_slice in = {raw, strlen(raw)};
    char *out = malloc(in.len + 1);
    assert_non_null(out);
    size_t n = sl_json_unescape(in, out);
    if (n != want_len || memcmp(out, want, n) != 0)
        fail_msg("'%s' decoded to %zu bytes '%.*s'", raw, n, (int)n, out);
    assert_true(n <= in.len);
    assert_int_equal(out[n], '\0');
    free(out);
}

#define expect_unescaped_of(raw, literal) expect_unescaped((raw), (literal), sizeof(literal) - 1)

static void test_unescape_decodes_every_simple_escape(void **state)
{
    (void)state;
    expect_unescaped_of("\\\"\\\\\\/\\b\\f\\n\\r\\t", "\"\\/\b\f\n\r\t");
    expect_unescaped_of("a\\nb\\tc", "a\nb\tc");
    expect_unescaped_of("no escapes \xc3\xa9", "no escapes \xc3\xa9");
    expect_unescaped_of("", "");
    expect_unescaped_of("\\\\u0041", "\\u0041");
}

static void test_unescape_writes_u_escapes_as_utf8(void **state)
{
    (void)state;
    expect_unescaped_of("\\u0041", "A");
    expect_unescaped_of("\\u0001\\u001f\\u007f", "\x01\x1f\x7f");
    expect_unescaped_of("\\u0080", "\xc2\x80");
    expect_unescaped_of("\\u00e9", "\xc3\xa9");
    expect_unescaped_of("caf\\u00E9", "caf\xc3\xa9");
    expect_unescaped_of("\\u07ff", "\xdf\xbf");
    expect_unescaped_of("\\u0800", "\xe0\xa0\x80");
    expect_unescaped_of("\\u20ac", "\xe2\x82\xac");
    expect_unescaped_of("\\ud7ff\\ue000", "\xed\x9f\xbf\xee\x80\x80");
    expect_unescaped_of("\\uffff", "\xef\xbf\xbf");
    expect_unescaped_of("\\ud83d\\ude00", "\xf0\x9f\x98\x80");
    expect_unescaped_of("\\uD83D\\uDE00!", "\xf0\x9f\x98\x80!");
    expect_unescaped_of("\\ud800\\udc00", "\xf0\x90\x80\x80");
    expect_unescaped_of("\\udbff\\udfff", "\xf4\x8f\xbf\xbf");
    expect_unescaped_of("d\\u0061ta", "data");
}

/* Raw string text from pieces: plain bytes, every escape form, UTF-8. */
static size_t random_raw(struct sl_fastrand *r, char *out, size_t cap)
{
    static const char *const pieces[] = {
        "a",
        "xyz",
        " ",
        "\x7f",
        "\\\"",
        "\\\\",
        "\\/",
        "\\b",
        "\\f",
        "\\n",
        "\\r",
        "\\t",
        "\\u0041",
        "\\u0001",
        "\\u007f",
        "\\u0080",
        "\\u00e9",
        "\\u07FF",
        "\\u0800",
        "\\u20ac",
        "\\uffff",
        "\\u005c",
        "\\u0022",
        "\\ud83d\\ude00",
        "\\uDBFF\\uDFFF",
        "\\ud800\\udc00",
        "\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
        "u",
        "\\u00",
        "0041",
    };
    size_t n = 0;
    for (uint64_t k = sl_fastrand_next(r) % 12; k > 0; k--) {
        const char *p = pieces[sl_fastrand_next(r) % (sizeof(pieces) / sizeof(pieces[0]))];
        size_t len = strlen(p);
        if (n + len > cap)
            break;
        memcpy(out + n, p, len);
        n += len;
    }
    return n;
}

static void test_unescape_agrees_with_jansson_and_never_grows(void **state)
{
    (void)state;
    struct sl_fastrand r = {{0x9e3779b97f4a7c15u, 3, 5, 8}};
    char quoted[256];
    size_t checked = 0;
    for (int round = 0; round < 50000; round++) {
        size_t len = random_raw(&r, quoted + 1, sizeof(quoted) - 2);
        quoted[0] = '"';
        quoted[len + 1] = '"';
        struct sl_json_problem problem;
        if (!sl_json_check(quoted, len + 2, &problem))
            continue; /* "\\u00" followed by what is not two hex digits */
        json_t *v = json_loadb(quoted, len + 2, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        struct sl_json_slice raw = {quoted + 1, len};
        char *out = malloc(len + 1);
        assert_non_null(out);
        size_t n = sl_json_unescape(raw, out);
        assert_true(n <= len);
        assert_int_equal(out[n], '\0');
        assert_int_equal(sl_json_has_escapes(raw), memchr(raw.text, '\\', len) != NULL);
        if (n != json_string_length(v) || memcmp(out, json_string_value(v), n) != 0)
            fail_msg("'%.*s' decoded to '%.*s', jansson '%s'", (int)len, raw.text, (int)n, out,
                     json_string_value(v));
        free(out);
        json_decref(v);
        checked++;
    }
    print_message("decoded %zu random strings as jansson does\n", checked);
    assert_true(checked > 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_member_finds_top_level_key_only),
        cmocka_unit_test(test_member_rejects_what_is_not_an_object),
        cmocka_unit_test(test_items_keep_numbers_and_strings_exactly),
        cmocka_unit_test(test_empty_array_has_no_items),
        cmocka_unit_test(test_compact_drops_whitespace_outside_strings_only),
        cmocka_unit_test(test_members_have_raw_names_and_exact_values),
        cmocka_unit_test(test_repeated_names_are_each_a_member),
        cmocka_unit_test(test_empty_object_has_no_members),
        cmocka_unit_test(test_has_escapes_looks_for_a_backslash),
        cmocka_unit_test(test_unescape_decodes_every_simple_escape),
        cmocka_unit_test(test_unescape_writes_u_escapes_as_utf8),
        cmocka_unit_test(test_unescape_agrees_with_jansson_and_never_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
