/* test_buf_json.c: sl_buf_json_string, which copies clean runs in one go,
 * writes byte for byte what the escaper it replaced wrote, for every input:
 * every string of up to two bytes, every three-byte string over the bytes
 * that matter, and 300 000 random ones built to hit word boundaries,
 * UTF-8 sequences whole and broken, and escapes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/fastrand.h"
#include "util/utf8.h"

/* The escaper as it was, byte by byte: the reference. */
static void reference_json_string(struct sl_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (!sl_buf_reserve(b, len + 2))
        return;
    sl_buf_putc(b, '"');
    size_t i = 0;
    while (i < len) {
        size_t run = i;
        while (run < len && (unsigned char)s[run] >= 0x20 && (unsigned char)s[run] < 0x80 && s[run] != '"' &&
               s[run] != '\\')
            run++;
        if (run > i) {
            sl_buf_append(b, s + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t n = sl_utf8_sequence_length(s + i, len - i);
            if (n == 0) {
                sl_buf_puts(b, "\\ufffd");
                i++;
            } else {
                sl_buf_append(b, s + i, n);
                i += n;
            }
            continue;
        }
        switch (c) {
        case '"':
            sl_buf_puts(b, "\\\"");
            break;
        case '\\':
            sl_buf_puts(b, "\\\\");
            break;
        case '\n':
            sl_buf_puts(b, "\\n");
            break;
        case '\r':
            sl_buf_puts(b, "\\r");
            break;
        case '\t':
            sl_buf_puts(b, "\\t");
            break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sl_buf_append(b, esc, sizeof(esc));
        }
        }
        i++;
    }
    sl_buf_putc(b, '"');
}

static void print_bytes(const char *what, const char *s, size_t len)
{
    print_error("%s (%zu bytes):", what, len);
    for (size_t i = 0; i < len; i++)
        print_error(" %02x", (unsigned char)s[i]);
    print_error("\n");
}

/* Both escapers on the same input, after the same prefix; the outputs must be equal. */
static void check_same(const char *s, size_t len)
{
    struct sl_buf want, got;
    sl_buf_init(&want);
    sl_buf_init(&got);
    sl_buf_puts(&want, "[");
    sl_buf_puts(&got, "[");
    reference_json_string(&want, s, len);
    sl_buf_json_string(&got, s, len);
    assert_false(want.failed || got.failed);
    if (want.len != got.len || memcmp(want.data, got.data, want.len) != 0) {
        print_bytes("input", s, len);
        print_bytes("expected", want.data, want.len);
        print_bytes("got", got.data, got.len);
        fail();
    }
    assert_int_equal(got.data[got.len], '\0');
    sl_buf_free(&want);
    sl_buf_free(&got);
}

#define expect_json_of(literal, want) expect_json((literal), sizeof(literal) - 1, (want))

static void expect_json(const char *s, size_t len, const char *want)
{
    struct sl_buf b;
    sl_buf_init(&b);
    sl_buf_json_string(&b, s, len);
    assert_false(b.failed);
    assert_string_equal(b.data, want);
    sl_buf_free(&b);
}

static void test_escapes_what_json_needs_and_copies_the_rest(void **state)
{
    (void)state;
    expect_json_of("", "\"\"");
    expect_json(NULL, 0, "\"\"");
    expect_json_of("esdb-record-stream-id", "\"esdb-record-stream-id\"");
    expect_json_of("a\"b\\c", "\"a\\\"b\\\\c\"");
    expect_json_of("\n\r\t\b\f", "\"\\n\\r\\t\\u0008\\u000c\"");
    expect_json_of("\0\x1f\x7f", "\"\\u0000\\u001f\x7f\"");
    expect_json_of("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                   "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    /* A lone continuation byte, a truncated sequence, an overlong, a surrogate. */
    expect_json_of("\x80", "\"\\ufffd\"");
    expect_json_of("ab\xe2\x82", "\"ab\\ufffd\\ufffd\"");
    expect_json_of("\xc0\xaf", "\"\\ufffd\\ufffd\"");
    expect_json_of("\xed\xa0\x80z", "\"\\ufffd\\ufffd\\ufffdz\"");
}

static void test_every_string_of_up_to_two_bytes_is_escaped_as_before(void **state)
{
    (void)state;
    char s[2] = {0};
    check_same(s, 0);
    for (int a = 0; a < 256; a++) {
        s[0] = (char)a;
        check_same(s, 1);
        for (int b = 0; b < 256; b++) {
            s[1] = (char)b;
            check_same(s, 2);
        }
    }
}

/* Bytes where the escaper's decisions change: the edges of every class. */
static const unsigned char edges[] = {0x00, 0x08, 0x09, 0x0a, 0x0d, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x41,
                                      0x5b, 0x5c, 0x5d, 0x7e, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
                                      0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff};

static void test_every_three_byte_string_over_the_edge_bytes_is_escaped_as_before(void **state)
{
    (void)state;
    size_t n = sizeof(edges);
    char s[3];
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++)
            for (size_t c = 0; c < n; c++) {
                s[0] = (char)edges[a];
                s[1] = (char)edges[b];
                s[2] = (char)edges[c];
                check_same(s, 3);
            }
}

/* Appends a random piece: plain ASCII (often a word or more), one edge
 * byte, a valid UTF-8 sequence, or one cut short. */
static size_t random_piece(struct sl_fastrand *r, char *out)
{
    static const char *const utf8[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xef\xbf\xbf",
                                       "\xf4\x8f\xbf\xbf"};
    uint64_t x = sl_fastrand_next(r);
    switch (x % 8) {
    case 0:
    case 1:
    case 2: {
        size_t n = (size_t)(x >> 8) % 20;
        for (size_t i = 0; i < n; i++)
            out[i] = (char)(0x20 + (sl_fastrand_next(r) % 0x5f));
        return n;
    }
    case 3:
    case 4:
        out[0] = (char)edges[(x >> 8) % sizeof(edges)];
        return 1;
    case 5:
    case 6: {
        const char *seq = utf8[(x >> 8) % 5];
        memcpy(out, seq, strlen(seq));
        return strlen(seq);
    }
    default: {
        const char *seq = utf8[(x >> 8) % 5];
        size_t cut = 1 + (size_t)(x >> 16) % (strlen(seq) - 1);
        memcpy(out, seq, cut);
        return cut;
    }
    }
}

static void test_random_strings_are_escaped_as_before(void **state)
{
    (void)state;
    struct sl_fastrand r = {{0x9e3779b97f4a7c15u, 42, 7, 1}};
    char s[512];
    for (int round = 0; round < 300000; round++) {
        size_t len = 0, target = (size_t)(sl_fastrand_next(&r) % 64);
        while (len < target)
            len += random_piece(&r, s + len);
        check_same(s, len);
    }
}

static void test_long_clean_text_with_one_escape_anywhere_is_escaped_as_before(void **state)
{
    (void)state;
    char s[70];
    const unsigned char specials[] = {'"', '\\', 0x00, 0x1f, 0x80, 0xc3, 0xff};
    for (size_t len = 1; len <= sizeof(s); len++)
        for (size_t at = 0; at < len; at++)
            for (size_t k = 0; k < sizeof(specials); k++) {
                memset(s, 'a', len);
                s[at] = (char)specials[k];
                check_same(s, len);
            }
}

static void test_string_after_a_failed_buffer_adds_nothing(void **state)
{
    (void)state;
    struct sl_buf b;
    sl_buf_init(&b);
    b.failed = true;
    sl_buf_json_string(&b, "abc", 3);
    assert_int_equal(b.len, 0);
    sl_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes_what_json_needs_and_copies_the_rest),
        cmocka_unit_test(test_every_string_of_up_to_two_bytes_is_escaped_as_before),
        cmocka_unit_test(test_every_three_byte_string_over_the_edge_bytes_is_escaped_as_before),
        cmocka_unit_test(test_random_strings_are_escaped_as_before),
        cmocka_unit_test(test_long_clean_text_with_one_escape_anywhere_is_escaped_as_before),
        cmocka_unit_test(test_string_after_a_failed_buffer_adds_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
