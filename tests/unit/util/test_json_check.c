/* test_json_check.c: sl_json_check() passes exactly the JSON texts the append
 * path used to take from jansson, and names the byte where a refused one goes wrong.
 *
 * A table of valid texts passes; a table of invalid ones fails, each at the
 * expected offset with the expected rule, and line and column always agree
 * with that offset. Nesting passes at 2048 levels and fails at 2049, for
 * arrays and objects. Then 200 000 random texts (random JSON, mostly mutated
 * by a byte or three from the bytes JSON syntax turns on) get the same verdict
 * from sl_json_check() as from json_loadb(). The differences from jansson 2.14
 * are pinned by their own tests and are the only ones the random texts may show:
 *   - numbers beyond a double's range pass (jansson: "real number overflow");
 *   - a NUL byte right after a number or a literal is refused (jansson's lexer
 *     loses that byte when it puts it back, so "[1\0]" passes there);
 *   - nesting counts containers while jansson counts every value, so a scalar
 *     inside 2048 containers passes here and not there (too deep to be random). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/fastrand.h"
#include "util/json_check.h"
#include "../../common/jansson_quirks.h"

/* The flags the append path gave json_loadb() for a JSON body. */
#define JANSSON_FLAGS (JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL)

struct text {
    const char *s;
    size_t len;
};

struct refused {
    const char *s;
    size_t len;
    size_t offset;
    const char *rule; /* a part of the expected rule */
};

/* clang-format off */
#define TEXT(lit) {(lit), sizeof(lit) - 1}
#define REFUSED(lit, offset, rule) {(lit), sizeof(lit) - 1, (offset), (rule)}
/* clang-format on */
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void print_bytes(const char *what, const char *s, size_t len)
{
    print_error("%s (%zu bytes):", what, len);
    for (size_t i = 0; i < len; i++)
        print_error(" %02x", (unsigned char)s[i]);
    print_error("\n");
}

/* Line and column are those of byte `offset`, counted from the text. */
static void expect_consistent_position(const char *s, size_t len, const struct sl_json_problem *p)
{
    assert_true(p->offset <= len);
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < p->offset; i++) {
        if (s[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    assert_int_equal(p->line, line);
    assert_int_equal(p->column, p->offset - line_start + 1);
    assert_non_null(p->rule);
    assert_true(p->rule[0] != '\0');
}

static void expect_pass(const char *s, size_t len)
{
    struct sl_json_problem p = {0};
    if (!sl_json_check(s, len, &p)) {
        print_bytes("refused", s, len);
        fail_msg("refused at byte %zu: %s", p.offset, p.rule);
    }
}

static void expect_refused(const struct refused *r)
{
    struct sl_json_problem p = {0};
    if (sl_json_check(r->s, r->len, &p)) {
        print_bytes("passed", r->s, r->len);
        fail_msg("passed, expected '%s' at byte %zu", r->rule, r->offset);
    }
    if (p.offset != r->offset || p.rule == NULL || strstr(p.rule, r->rule) == NULL) {
        print_bytes("input", r->s, r->len);
        fail_msg("refused at byte %zu with '%s', expected byte %zu with '%s'", p.offset,
                 p.rule ? p.rule : "(null)", r->offset, r->rule);
    }
    expect_consistent_position(r->s, r->len, &p);
}

static void expect_all_refused(const struct refused *table, size_t n)
{
    for (size_t i = 0; i < n; i++)
        expect_refused(&table[i]);
}

/* ---- what passes -------------------------------------------------------------------------------- */

static void test_scalars_containers_and_surrounding_whitespace_pass(void **state)
{
    (void)state;
    static const struct text valid[] = {
        TEXT("0"),
        TEXT("-0"),
        TEXT("1"),
        TEXT("true"),
        TEXT("false"),
        TEXT("null"),
        TEXT("\"\""),
        TEXT("\"a string\""),
        TEXT("[]"),
        TEXT("{}"),
        TEXT("[ ]"),
        TEXT("{ \n }"),
        TEXT(" \t\r\n1 \t\r\n"),
        TEXT("\n\n[\n1\n,\n2\n]\n\n"),
        TEXT("[1,\"a\",true,false,null,[],{},[[]],{\"a\":{}}]"),
        TEXT("{\"a\":[1,{\"b\":[null,{\"c\":\"d\"}]}],\"e\":-2.5}"),
        TEXT("{ \"a\" : 1 , \"b\" : [ 2 , 3 ] }"),
        TEXT("[[[[[[[[[[\"deep\"]]]]]]]]]]"),
        TEXT("\"\x7f\""),
        TEXT("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf\""),
        TEXT("{\"\xc3\xa9\":\"\xe2\x82\xac\"}"),
    };
    for (size_t i = 0; i < COUNT(valid); i++)
        expect_pass(valid[i].s, valid[i].len);
}

static void test_every_escape_and_surrogate_pairs_pass(void **state)
{
    (void)state;
    static const struct text valid[] = {
        TEXT("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\""),
        TEXT("\"\\u0001\\u001f\\u0020\\u007f\\u0080\\u00e9\\u00E9\\u07ff\\u0800\\uffff\\uFFFF\""),
        TEXT("\"\\ud7ff\\ue000\""),
        TEXT("\"\\ud83d\\ude00\""),
        TEXT("\"\\uD83D\\uDE00\""),
        TEXT("\"\\ud800\\udc00\\udbff\\udfff\""),
        TEXT("\"x\\ud83d\\ude00y\\ud83d\\ude00\""),
        TEXT("{\"na\\u006de\":\"\\\"quoted\\\"\"}"),
    };
    for (size_t i = 0; i < COUNT(valid); i++)
        expect_pass(valid[i].s, valid[i].len);
}

static void test_numbers_of_any_size_pass(void **state)
{
    (void)state;
    static const struct text valid[] = {
        TEXT("1e400"),
        TEXT("-1e400"),
        TEXT("1E+400"),
        TEXT("1e-400"),
        TEXT("123456789012345678901234567890"),
        TEXT("-123456789012345678901234567890.123456789012345678901234567890e-123456789"),
        TEXT("0.0"),
        TEXT("0e0"),
        TEXT("0E-0"),
        TEXT("-0.5e+10"),
        TEXT("10.25"),
        TEXT("[1e400,-0,1.5E3]"),
    };
    for (size_t i = 0; i < COUNT(valid); i++)
        expect_pass(valid[i].s, valid[i].len);
}

static void test_repeated_member_names_pass(void **state)
{
    (void)state;
    static const struct text valid[] = {
        TEXT("{\"a\":1,\"a\":2}"),
        TEXT("{\"a\":1,\"\\u0061\":2}"),
        TEXT("[{\"data\":1,\"data\":{\"x\":1,\"x\":1}}]"),
    };
    for (size_t i = 0; i < COUNT(valid); i++)
        expect_pass(valid[i].s, valid[i].len);
}

/* ---- what fails, and where ---------------------------------------------------------------------- */

static void test_trailing_and_missing_commas_are_refused(void **state)
{
    (void)state;
    static const struct refused table[] = {
        REFUSED("[1,]", 3, "expected a value"),
        REFUSED("[1, ]", 4, "expected a value"),
        REFUSED("{\"a\":1,}", 7, "expected a member name"),
        REFUSED("{\"a\":1 , }", 9, "expected a member name"),
        REFUSED("[,1]", 1, "expected a value"),
        REFUSED("[1,,2]", 3, "expected a value"),
        REFUSED("{,}", 1, "expected a member name"),
        REFUSED("[1 2]", 3, "expected ',' or ']' in an array"),
        REFUSED("{\"a\":1 \"b\":2}", 7, "expected ',' or '}' in an object"),
        REFUSED("[1}", 2, "expected ',' or ']' in an array"),
        REFUSED("{\"a\":1]", 6, "expected ',' or '}' in an object"),
    };
    expect_all_refused(table, COUNT(table));
}

static void test_numbers_outside_the_grammar_are_refused(void **state)
{
    (void)state;
    static const struct refused table[] = {
        REFUSED("01", 1, "does not start with 0 followed by digits"),
        REFUSED("-01", 2, "does not start with 0 followed by digits"),
        REFUSED("[00]", 2, "does not start with 0 followed by digits"),
        REFUSED("-", 1, "a number needs a digit"),
        REFUSED("-a", 1, "a number needs a digit"),
        REFUSED("[-]", 2, "a number needs a digit"),
        REFUSED("1.", 2, "a digit after the decimal point"),
        REFUSED("1.e5", 2, "a digit after the decimal point"),
        REFUSED("[1.]", 3, "a digit after the decimal point"),
        REFUSED("1e", 2, "a digit in its exponent"),
        REFUSED("1e+", 3, "a digit in its exponent"),
        REFUSED("1E-x", 3, "a digit in its exponent"),
        REFUSED(".5", 0, "expected a value"),
        REFUSED("+1", 0, "expected a value"),
        REFUSED("[+1]", 1, "expected a value"),
        REFUSED("1.5.", 3, "unexpected text after the JSON value"),
        REFUSED("0x10", 1, "unexpected text after the JSON value"),
    };
    expect_all_refused(table, COUNT(table));
}

static void test_unterminated_strings_and_raw_control_characters_are_refused(void **state)
{
    (void)state;
    static const struct refused table[] = {
        REFUSED("\"abc", 4, "a string is not terminated"),
        REFUSED("\"", 1, "a string is not terminated"),
        REFUSED("[\"a", 3, "a string is not terminated"),
        REFUSED("\"abc\\\"", 6, "a string is not terminated"),
        REFUSED("\"abc\\", 4, "a string is not terminated"),
        REFUSED("\"a\x01z\"", 2, "a control character must be escaped"),
        REFUSED("\"a\nz\"", 2, "a control character must be escaped"),
        REFUSED("\"\tz\"", 1, "a control character must be escaped"),
        REFUSED("\"\x1f\"", 1, "a control character must be escaped"),
        REFUSED("\"\0\"", 1, "a control character must be escaped"),
    };
    expect_all_refused(table, COUNT(table));
}

static void test_bad_and_short_escapes_are_refused(void **state)
{
    (void)state;
    static const struct refused table[] = {
        REFUSED("\"\\x\"", 2, "not followed by a valid escape"),
        REFUSED("\"ab\\a\"", 4, "not followed by a valid escape"),
        REFUSED("\"\\U0041\"", 2, "not followed by a valid escape"),
        REFUSED("\"\\'\"", 2, "not followed by a valid escape"),
        REFUSED("\"\\u12\"", 1, "\\u is not followed by four hex digits"),
        REFUSED("\"\\u12G4\"", 1, "\\u is not followed by four hex digits"),
        REFUSED("\"\\u\"", 1, "\\u is not followed by four hex digits"),
        REFUSED("\"\\u123", 1, "\\u is not followed by four hex digits"),
    };
    expect_all_refused(table, COUNT(table));
}

static void test_lone_high_surrogate_escape_is_refused(void **state)
{
    (void)state;
    static const struct refused table[] = {
        REFUSED("\"\\ud83d\"", 1, "high surrogate without a low surrogate"),
        REFUSED("\"a\\ud83dz\"", 2, "high surrogate without a low surrogate"),
        REFUSED("\"\\ud83d\\u0041\"", 1, "high surrogate without a low surrogate"),
        REFUSED("\"\\ud83d\\ud83d\"", 1, "high surrogate without a low surrogate"),
        REFUSED("\"\\udbff\\n\"", 1, "high surrogate without a low surrogate"),
        REFUSED("\"\\ud800\\udc0", 1, "high surrogate without a low surrogate"),
    };
    expect_all_refused(table, COUNT(table));
}

static void test_lone_low_surrogate_escape_is_refused(void **state)
{
    (void)state;
    static const struct refused table[] = {
        REFUSED("\"\\ude00\"", 1, "low surrogate without a high surrogate"),
        REFUSED("\"\\udc00\"", 1, "low surrogate without a high surrogate"),
        REFUSED("\"\\udfff\"", 1, "low surrogate without a high surrogate"),
        REFUSED("\"a\\ude00\\ud83d\"", 2, "low surrogate without a high surrogate"),
        REFUSED("\"\\ud83d\\ude00\\ude00\"", 13, "low surrogate without a high surrogate"),
    };
    expect_all_refused(table, COUNT(table));
}

static void test_nul_escape_is_refused(void **state)
{
    (void)state;
    static const struct refused table[] = {
        REFUSED("\"\\u0000\"", 1, "\\u0000 is not allowed"),
        REFUSED("{\"a\\u0000\":1}", 3, "\\u0000 is not allowed"),
    };
    expect_all_refused(table, COUNT(table));
}

static void test_invalid_utf8_is_refused(void **state)
{
    (void)state;
    static const struct refused table[] = {
        REFUSED("\"\xc0\x80\"", 1, "not valid UTF-8"),         /* overlong U+0000 */
        REFUSED("\"\xc1\xbf\"", 1, "not valid UTF-8"),         /* overlong U+007F */
        REFUSED("\"\xe0\x80\xaf\"", 1, "not valid UTF-8"),     /* overlong '/' in three bytes */
        REFUSED("\"\xf0\x8f\xbf\xbf\"", 1, "not valid UTF-8"), /* overlong U+FFFF in four bytes */
        REFUSED("\"\xed\xa0\x80\"", 1, "not valid UTF-8"),     /* U+D800, a surrogate */
        REFUSED("\"\xed\xbf\xbf\"", 1, "not valid UTF-8"),     /* U+DFFF */
        REFUSED("\"\xf4\x90\x80\x80\"", 1, "not valid UTF-8"), /* U+110000 */
        REFUSED("\"\xf5\x80\x80\x80\"", 1, "not valid UTF-8"),
        REFUSED("\"\xff\"", 1, "not valid UTF-8"),
        REFUSED("\"ab\x80\"", 3, "not valid UTF-8"),   /* a lone continuation byte */
        REFUSED("\"\xe2\x82\"", 1, "not valid UTF-8"), /* cut short by the quote */
        REFUSED("\"\xc3z\"", 1, "not valid UTF-8"),
        REFUSED("\"\xf0\x9f\x98", 1, "not valid UTF-8"),  /* cut short by the end */
        REFUSED("\xef\xbb\xbf{}", 0, "expected a value"), /* a byte order mark */
        REFUSED("[\xc3\xa9]", 1, "expected a value"),     /* valid UTF-8, outside a string */
    };
    expect_all_refused(table, COUNT(table));
}

static void test_text_after_the_value_is_refused(void **state)
{
    (void)state;
    static const struct refused table[] = {
        REFUSED("1 2", 2, "unexpected text after the JSON value"),
        REFUSED("{} x", 3, "unexpected text after the JSON value"),
        REFUSED("[1]]", 3, "unexpected text after the JSON value"),
        REFUSED("\"a\"\"b\"", 3, "unexpected text after the JSON value"),
        REFUSED("null,", 4, "unexpected text after the JSON value"),
        REFUSED("1\0", 1, "unexpected text after the JSON value"),
        REFUSED("[] \x0b", 3, "unexpected text after the JSON value"), /* VT is not JSON white space */
        REFUSED("nulll", 4, "unexpected text after the JSON value"),
        REFUSED("truefalse", 4, "unexpected text after the JSON value"),
    };
    expect_all_refused(table, COUNT(table));
}

static void test_empty_and_blank_inputs_are_refused(void **state)
{
    (void)state;
    static const struct refused table[] = {
        REFUSED("", 0, "the text ends where a value is expected"),
        REFUSED(" ", 1, "the text ends where a value is expected"),
        REFUSED(" \t\r\n", 4, "the text ends where a value is expected"),
        REFUSED("\f1", 0, "expected a value"), /* form feed is not JSON white space */
    };
    expect_all_refused(table, COUNT(table));
    struct sl_json_problem p = {0};
    assert_false(sl_json_check(NULL, 0, &p));
    assert_int_equal(p.offset, 0);
    assert_int_equal(p.line, 1);
    assert_int_equal(p.column, 1);
}

static void test_misspelled_literals_are_refused(void **state)
{
    (void)state;
    static const struct refused table[] = {
        REFUSED("tru", 0, "expected a value"),      REFUSED("nul", 0, "expected a value"),
        REFUSED("fals", 0, "expected a value"),     REFUSED("True", 0, "expected a value"),
        REFUSED("NULL", 0, "expected a value"),     REFUSED("[fals]", 1, "expected a value"),
        REFUSED("[1,tRue]", 3, "expected a value"), REFUSED("undefined", 0, "expected a value"),
        REFUSED("NaN", 0, "expected a value"),      REFUSED("-Infinity", 1, "a number needs a digit"),
        REFUSED("'a'", 0, "expected a value"),
    };
    expect_all_refused(table, COUNT(table));
}

static void test_unfinished_and_malformed_objects_are_refused(void **state)
{
    (void)state;
    static const struct refused table[] = {
        REFUSED("{\"a\" 1}", 5, "expected ':' after a member name"),
        REFUSED("{\"a\"}", 4, "expected ':' after a member name"),
        REFUSED("{\"a\"", 4, "expected ':' after a member name"),
        REFUSED("{\"a\"::1}", 5, "expected a value"),
        REFUSED("{\"a\":}", 5, "expected a value"),
        REFUSED("{1:2}", 1, "expected a member name"),
        REFUSED("{a:1}", 1, "expected a member name"),
        REFUSED("{null:1}", 1, "expected a member name"),
        REFUSED("{[]:1}", 1, "expected a member name"),
        REFUSED("{\"a\":1,2:3}", 7, "expected a member name"),
        REFUSED("{\"a\":1", 6, "the text ends inside an object"),
        REFUSED("{\"a\":{\"b\":[1]}", 14, "the text ends inside an object"),
        REFUSED("[1", 2, "the text ends inside an array"),
        REFUSED("[[1] ", 5, "the text ends inside an array"),
        REFUSED("[", 1, "the text ends where a value is expected"),
        REFUSED("{", 1, "expected a member name"),
        REFUSED("{\"a\":", 5, "the text ends where a value is expected"),
        REFUSED("[\"a\":1]", 4, "expected ',' or ']' in an array"),
        REFUSED("]", 0, "expected a value"),
        REFUSED("}", 0, "expected a value"),
    };
    expect_all_refused(table, COUNT(table));
}

static void test_problem_on_the_third_line_has_its_line_and_column(void **state)
{
    (void)state;
    static const char text[] = "{\n  \"a\": 1,\n  \"b\": tru\n}\n";
    struct sl_json_problem p = {0};
    assert_false(sl_json_check(text, sizeof(text) - 1, &p));
    assert_int_equal(p.offset, 19);
    assert_int_equal(p.line, 3);
    assert_int_equal(p.column, 8);
    assert_non_null(strstr(p.rule, "expected a value"));

    /* A CR is a byte of its line; the line starts after the LF. */
    static const char crlf[] = "[1,\r\n\r\n]";
    assert_false(sl_json_check(crlf, sizeof(crlf) - 1, &p));
    assert_int_equal(p.offset, 7);
    assert_int_equal(p.line, 3);
    assert_int_equal(p.column, 1);

    /* The end of the text, after a last newline. */
    static const char open[] = "[\n1,\n2\n";
    assert_false(sl_json_check(open, sizeof(open) - 1, &p));
    assert_int_equal(p.offset, 7);
    assert_int_equal(p.line, 4);
    assert_int_equal(p.column, 1);
    assert_non_null(strstr(p.rule, "the text ends inside an array"));
}

/* ---- nesting ------------------------------------------------------------------------------------ */

/* `levels` containers, each an array or the value of member "k" of an object, around `inner`. */
static char *nested(size_t levels, bool is_object, const char *inner, size_t *len)
{
    const char *open = is_object ? "{\"k\":" : "[";
    size_t open_len = strlen(open), inner_len = strlen(inner);
    char *s = malloc(levels * (open_len + 1) + inner_len + 1);
    assert_non_null(s);
    size_t n = 0;
    for (size_t i = 0; i < levels; i++, n += open_len)
        memcpy(s + n, open, open_len);
    memcpy(s + n, inner, inner_len);
    n += inner_len;
    memset(s + n, is_object ? '}' : ']', levels);
    n += levels;
    s[n] = '\0';
    *len = n;
    return s;
}

/* PASSES, or the offset where the first container too many opens. */
#define PASSES SIZE_MAX

static void expect_nesting(size_t levels, bool is_object, const char *inner, size_t fail_at)
{
    size_t len = 0;
    char *s = nested(levels, is_object, inner, &len);
    struct sl_json_problem p = {0};
    bool ok = sl_json_check(s, len, &p);
    bool is_expected = ok == (fail_at == PASSES);
    if (!is_expected)
        print_error("%zu levels of %s around '%s': %s\n", levels, is_object ? "objects" : "arrays", inner,
                    ok ? "passed" : p.rule);
    if (is_expected && !ok) {
        assert_int_equal(p.offset, fail_at);
        assert_non_null(strstr(p.rule, "nested more than 2048 deep"));
        expect_consistent_position(s, len, &p);
    }
    free(s);
    assert_true(is_expected);
}

static void test_arrays_nested_2048_deep_pass_and_2049_fail(void **state)
{
    (void)state;
    const size_t max = SL_JSON_MAX_DEPTH;
    expect_nesting(max - 1, false, "[]", PASSES);
    expect_nesting(max, false, "", PASSES);
    expect_nesting(max, false, "1", PASSES);
    expect_nesting(max, false, "\"s\",null", PASSES);
    expect_nesting(max, false, "\"s\",{}", max + 4);
    expect_nesting(max + 1, false, "", max);
    expect_nesting(max + 1, false, "1", max);
    expect_nesting(max - 1, false, "{\"a\":1}", PASSES);
    expect_nesting(max, false, "{\"a\":1}", max);
    expect_nesting(100000, false, "", max);
}

static void test_objects_nested_2048_deep_pass_and_2049_fail(void **state)
{
    (void)state;
    const size_t max = SL_JSON_MAX_DEPTH, open_len = strlen("{\"k\":");
    expect_nesting(max, true, "null", PASSES);
    expect_nesting(max - 1, true, "{}", PASSES);
    expect_nesting(max + 1, true, "null", max * open_len);
    expect_nesting(max, true, "[1]", max * open_len);
    expect_nesting(100000, true, "1", max * open_len);
}

static bool jansson_passes(const char *s, size_t len, json_error_t *jerr)
{
    json_t *v = json_loadb(s, len, JANSSON_FLAGS, jerr);
    json_decref(v);
    return v != NULL;
}

/* jansson counts every value toward its limit of 2048, the scalar in the middle too;
 * sl_json_check() counts containers. Only the innermost level differs. */
static void test_depth_counts_containers_not_the_scalar_inside_unlike_jansson(void **state)
{
    (void)state;
    json_error_t jerr;
    size_t len = 0;
    char *s = nested(SL_JSON_MAX_DEPTH, false, "", &len);
    assert_true(jansson_passes(s, len, &jerr));
    expect_pass(s, len);
    free(s);

    s = nested(SL_JSON_MAX_DEPTH, false, "1", &len);
    assert_false(jansson_passes(s, len, &jerr));
    assert_int_equal(json_error_code(&jerr), json_error_stack_overflow);
    expect_pass(s, len);
    free(s);

    s = nested(SL_JSON_MAX_DEPTH + 1, false, "", &len);
    assert_false(jansson_passes(s, len, &jerr));
    assert_int_equal(json_error_code(&jerr), json_error_stack_overflow);
    free(s);
}

/* jansson reads every number into a double and refuses what overflows one. */
static void test_numbers_beyond_a_double_pass_unlike_jansson(void **state)
{
    (void)state;
    static const struct text big[] = {TEXT("1e400"), TEXT("[-1E+309]")};
    json_error_t jerr;
    for (size_t i = 0; i < COUNT(big); i++) {
        assert_false(jansson_passes(big[i].s, big[i].len, &jerr));
        assert_int_equal(json_error_code(&jerr), json_error_numeric_overflow);
        expect_pass(big[i].s, big[i].len);
    }
    /* Big integers and underflow jansson takes too (as doubles). */
    assert_true(jansson_passes("123456789012345678901234567890", 30, &jerr));
    assert_true(jansson_passes("1e-400", 6, &jerr));
}

/* jansson's lexer reads one byte past a number or literal and puts it back into a
 * NUL-terminated buffer; a NUL byte put back reads as "nothing buffered" and is lost. */
static void test_nul_byte_after_a_number_or_literal_is_refused_though_jansson_skips_it(void **state)
{
    (void)state;
    static const struct text texts[] = {
        TEXT("1\0"),         TEXT("[1\0]"), TEXT("true\0"), TEXT("{\"a\":null\0}"),
        TEXT("[1.5e3\0,2]"), TEXT("-0\0 "),
    };
    json_error_t jerr;
    for (size_t i = 0; i < COUNT(texts); i++) {
        assert_true(jansson_passes(texts[i].s, texts[i].len, &jerr));
        struct sl_json_problem p = {0};
        assert_false(sl_json_check(texts[i].s, texts[i].len, &p));
        assert_int_equal(p.offset,
                         (size_t)((const char *)memchr(texts[i].s, '\0', texts[i].len) - texts[i].s));
    }
    /* After a string or a container jansson refuses the NUL too. */
    assert_false(jansson_passes("\"a\"\0", 4, &jerr));
    assert_false(jansson_passes("[]\0", 3, &jerr));
}

/* ---- random texts against jansson --------------------------------------------------------------- */

struct gen {
    struct sl_fastrand r;
    char *s;
    size_t len, cap;
};

static uint64_t below(struct gen *g, uint64_t n)
{
    return sl_fastrand_next(&g->r) % n;
}

static void put(struct gen *g, const char *s, size_t n)
{
    if (g->len + n > g->cap)
        n = g->cap - g->len;
    memcpy(g->s + g->len, s, n);
    g->len += n;
}

static void put_str(struct gen *g, const char *s)
{
    put(g, s, strlen(s));
}

static void put_char(struct gen *g, char c)
{
    put(g, &c, 1);
}

static void gen_ws(struct gen *g)
{
    static const char ws[] = " \t\n\r";
    if (below(g, 3) != 0)
        return;
    for (uint64_t n = 1 + below(g, 2); n > 0; n--)
        put_char(g, ws[below(g, 4)]);
}

static void gen_digits(struct gen *g, uint64_t n, bool is_first_nonzero)
{
    for (uint64_t i = 0; i < n; i++)
        put_char(g, (char)((is_first_nonzero && i == 0) ? '1' + below(g, 9) : '0' + below(g, 10)));
}

static void gen_number(struct gen *g)
{
    if (below(g, 3) == 0)
        put_char(g, '-');
    if (below(g, 4) == 0) {
        put_char(g, '0');
    } else {
        uint64_t n = below(g, 12) == 0 ? 20 + below(g, 20) : 1 + below(g, 4);
        gen_digits(g, n, true);
    }
    if (below(g, 3) == 0) {
        put_char(g, '.');
        gen_digits(g, 1 + below(g, 4), false);
    }
    if (below(g, 4) == 0) {
        put_char(g, below(g, 2) ? 'e' : 'E');
        uint64_t sign = below(g, 3);
        if (sign < 2)
            put_char(g, sign ? '+' : '-');
        if (below(g, 50) == 0)
            put_str(g, "400"); /* beyond a double when positive: jansson refuses it */
        else
            gen_digits(g, 1 + below(g, 2), false);
    }
}

static void gen_string(struct gen *g)
{
    static const char *const pieces[] = {
        "a",
        "key",
        "data",
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
        "\\u00E9",
        "\\u20ac",
        "\\uffff",
        "\\u001f",
        "\\ud83d\\ude00",
        "\\uDBFF\\uDFFF",
        "\xc3\xa9",
        "\xe2\x82\xac",
        "\xef\xbf\xbf",
        "\xf0\x9f\x98\x80",
        "\xf4\x8f\xbf\xbf",
        "e",
        "u",
    };
    put_char(g, '"');
    for (uint64_t n = below(g, 5); n > 0; n--)
        put_str(g, pieces[below(g, COUNT(pieces))]);
    put_char(g, '"');
}

static void gen_value(struct gen *g, int depth)
{
    static const char *const literals[] = {"true", "false", "null"};
    uint64_t kind = below(g, depth < 5 ? 7 : 4);
    switch (kind) {
    case 0:
        gen_number(g);
        break;
    case 1:
        gen_string(g);
        break;
    case 2:
    case 3:
        put_str(g, literals[below(g, 3)]);
        break;
    case 4:
    case 5: {
        put_char(g, '[');
        gen_ws(g);
        for (uint64_t n = below(g, 4), i = 0; i < n; i++) {
            if (i > 0) {
                put_char(g, ',');
                gen_ws(g);
            }
            gen_value(g, depth + 1);
            gen_ws(g);
        }
        put_char(g, ']');
        break;
    }
    default: {
        put_char(g, '{');
        gen_ws(g);
        for (uint64_t n = below(g, 4), i = 0; i < n; i++) {
            if (i > 0) {
                put_char(g, ',');
                gen_ws(g);
            }
            gen_string(g);
            gen_ws(g);
            put_char(g, ':');
            gen_ws(g);
            gen_value(g, depth + 1);
            gen_ws(g);
        }
        put_char(g, '}');
        break;
    }
    }
}

/* Inserts, deletes or replaces one byte, the new one from the bytes JSON syntax turns on. */
static void mutate(struct gen *g)
{
    static const char alphabet[] = "{}[]:,\"\\ u0123456789eE.+-tfnrl\x00\x1f\x80\xc0\xed\xf4\xff";
    char c = alphabet[below(g, sizeof(alphabet) - 1)];
    uint64_t op = below(g, 3);
    if (op == 0 && g->len < g->cap) {
        size_t at = (size_t)below(g, g->len + 1);
        memmove(g->s + at + 1, g->s + at, g->len - at);
        g->s[at] = c;
        g->len++;
    } else if (g->len > 0) {
        size_t at = (size_t)below(g, g->len);
        if (op == 1) {
            memmove(g->s + at, g->s + at + 1, g->len - at - 1);
            g->len--;
        } else {
            g->s[at] = c;
        }
    }
}

static void test_random_texts_get_the_verdict_jansson_gives(void **state)
{
    (void)state;
    char buf[4096];
    struct gen g = {.r = {{0x243f6a8885a308d3u, 0x13198a2e03707344u, 0xa4093822299f31d0u, 7}},
                    .s = buf,
                    .cap = sizeof(buf)};
    size_t compared = 0, valid = 0, invalid = 0, beyond_double = 0, nul_after_token = 0;
    for (int round = 0; round < 200000; round++) {
        g.len = 0;
        gen_ws(&g);
        gen_value(&g, 0);
        gen_ws(&g);
        for (uint64_t n = below(&g, 5); n > 1; n--) /* no mutation in 2 of 5 texts */
            mutate(&g);

        struct sl_json_problem p = {0};
        bool ok = sl_json_check(g.s, g.len, &p);
        if (!ok)
            expect_consistent_position(g.s, g.len, &p);
        json_error_t jerr;
        bool jansson_ok = jansson_passes(g.s, g.len, &jerr);
        if (!jansson_ok && json_error_code(&jerr) == json_error_numeric_overflow) {
            beyond_double++;
            continue;
        }
        if (!ok && jansson_ok && sl_test_passes_without_nul_after_token(g.s, g.len)) {
            nul_after_token++;
            continue;
        }
        if (ok != jansson_ok) {
            print_bytes("input", g.s, g.len);
            fail_msg("sl_json_check: %s (byte %zu: %s); jansson: %s", ok ? "passes" : "refuses", p.offset,
                     ok ? "-" : p.rule, jansson_ok ? "passes" : jerr.text);
        }
        compared++;
        if (ok)
            valid++;
        else
            invalid++;
    }
    print_message("compared %zu texts with jansson: %zu valid, %zu invalid, all agree; skipped %zu with "
                  "a number beyond a double, %zu with a NUL byte jansson skips\n",
                  compared, valid, invalid, beyond_double, nul_after_token);
    assert_true(valid > compared / 4 && invalid > compared / 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_containers_and_surrounding_whitespace_pass),
        cmocka_unit_test(test_every_escape_and_surrogate_pairs_pass),
        cmocka_unit_test(test_numbers_of_any_size_pass),
        cmocka_unit_test(test_repeated_member_names_pass),
        cmocka_unit_test(test_trailing_and_missing_commas_are_refused),
        cmocka_unit_test(test_numbers_outside_the_grammar_are_refused),
        cmocka_unit_test(test_unterminated_strings_and_raw_control_characters_are_refused),
        cmocka_unit_test(test_bad_and_short_escapes_are_refused),
        cmocka_unit_test(test_lone_high_surrogate_escape_is_refused),
        cmocka_unit_test(test_lone_low_surrogate_escape_is_refused),
        cmocka_unit_test(test_nul_escape_is_refused),
        cmocka_unit_test(test_invalid_utf8_is_refused),
        cmocka_unit_test(test_text_after_the_value_is_refused),
        cmocka_unit_test(test_empty_and_blank_inputs_are_refused),
        cmocka_unit_test(test_misspelled_literals_are_refused),
        cmocka_unit_test(test_unfinished_and_malformed_objects_are_refused),
        cmocka_unit_test(test_problem_on_the_third_line_has_its_line_and_column),
        cmocka_unit_test(test_arrays_nested_2048_deep_pass_and_2049_fail),
        cmocka_unit_test(test_objects_nested_2048_deep_pass_and_2049_fail),
        cmocka_unit_test(test_depth_counts_containers_not_the_scalar_inside_unlike_jansson),
        cmocka_unit_test(test_numbers_beyond_a_double_pass_unlike_jansson),
        cmocka_unit_test(test_nul_byte_after_a_number_or_literal_is_refused_though_jansson_skips_it),
        cmocka_unit_test(test_random_texts_get_the_verdict_jansson_gives),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
