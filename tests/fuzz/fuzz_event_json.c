/* fuzz_event_json.c: decoding an append body, and the text codecs events pass through.
 *
 * The input is an append body, checked and walked as POST /streams/{name} does (api/streams.c):
 *   - sl_json_check() (util/json_check.h) gives the verdict json_loadb() gives with the flags the
 *     single-event form used (JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL), but for three known
 *     differences of jansson 2.14: jansson refuses numbers beyond a double ("real number
 *     overflow"), passes a NUL byte right after a number or literal (its lexer loses the byte it
 *     puts back), and counts every value, not only containers, toward its depth of 2048. A refusal
 *     names an offset within the input, and the line and column of that offset;
 *   - for a valid body, sl_json_next_member() and sl_json_unescape() rebuild jansson's object
 *     member by member (the last of repeated names wins), and a string body decodes to jansson's
 *     string;
 *   - the raw JSON walker (util/json_text.h) never reads past the input, valid JSON or not;
 *   - for a body jansson accepts, sl_json_next_item() finds exactly the array's elements, each
 *     element's text re-parsed (JSON_DECODE_ANY) equals what jansson parsed for it, and
 *     sl_json_member() finds every member whose key is spelled without escapes, its text equal
 *     to the parsed member;
 *   - sl_json_one_line() and sl_json_compact() keep the JSON equal and leave no line breaks;
 *   - each event built as the API builds it (raw text, or jansson's encoding when the key is
 *     escaped; base64 for application/octet-stream) comes back out of sl_event_to_json() as
 *     valid JSON with the same data and metadata.
 * And on the raw bytes: sl_base64_decode() agrees with a reference decoder and round-trips
 * through sl_buf_json_base64(); sl_utf8_is_valid() agrees with a reference; sl_buf_json_string()
 * writes a JSON string that decodes to the input (U+FFFD for each bad byte).
 *
 * Seeds: tests/fuzz/corpus/fuzz_event_json/, append bodies from docs/http-api.md. */
#include <ctype.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/event_json.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/codec.h"
#include "util/json_check.h"
#include "../common/jansson_quirks.h"
#include "util/json_text.h"
#include "util/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond);                      \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

/* The flags POST /streams uses for an array of events (integers of any size are taken). */
#define BODY_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL)

static bool is_inside(const char *p, size_t len, const char *base, size_t size)
{
    return p >= base && p <= base + size && len <= (size_t)(base + size - p);
}

static json_t *parse_any(const char *s, size_t len)
{
    return json_loadb(s, len, JSON_DECODE_ANY | BODY_FLAGS, NULL);
}

static bool has_line_break(const char *s, size_t len)
{
    return memchr(s, '\n', len) != NULL || memchr(s, '\r', len) != NULL;
}

/* ---- the validator against jansson -------------------------------------------------------------- */

/* The flags the single-event form gave json_loadb() before sl_json_check() replaced it. */
#define CHECK_FLAGS (JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL)

static size_t count_openers(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == '[' || s[i] == '{';
    return n;
}

/* The decoded text of the string whose raw text (between the quotes) is `raw`; free it. */
static char *unescaped(struct sl_json_slice raw, size_t *len)
{
    char *out = malloc(raw.len + 1);
    CHECK(out != NULL);
    *len = sl_json_unescape(raw, out);
    CHECK(*len <= raw.len && out[*len] == '\0');
    return out;
}

/* A valid text cut into parts as the append path cuts it gives what jansson parsed. */
static void check_parts(const char *s, size_t len, json_t *root)
{
    struct sl_json_slice all = {s, len};
    if (json_is_object(root)) {
        json_t *rebuilt = json_object();
        CHECK(rebuilt != NULL);
        struct sl_json_slice name, value;
        size_t pos = 0;
        while (sl_json_next_member(all, &pos, &name, &value)) {
            CHECK(is_inside(name.text, name.len, s, len) && is_inside(value.text, value.len, s, len));
            size_t n = 0;
            char *key = unescaped(name, &n);
            CHECK(strlen(key) == n); /* \u0000 does not pass sl_json_check() */
            json_t *v = json_loadb(value.text, value.len, CHECK_FLAGS, NULL);
            CHECK(v != NULL);
            CHECK(json_object_set_new(rebuilt, key, v) == 0);
            free(key);
        }
        CHECK(json_equal(rebuilt, root));
        json_decref(rebuilt);
    } else if (json_is_string(root)) {
        const char *open = memchr(s, '"', len);
        const char *close = memrchr(s, '"', len);
        CHECK(open != NULL && close > open);
        struct sl_json_slice raw = {open + 1, (size_t)(close - open - 1)};
        CHECK(sl_json_has_escapes(raw) == (memchr(raw.text, '\\', raw.len) != NULL));
        size_t n = 0;
        char *text = unescaped(raw, &n);
        CHECK(n == json_string_length(root) && memcmp(text, json_string_value(root), n) == 0);
        free(text);
    }
}

static void check_verdict(const char *s, size_t len)
{
    struct sl_json_problem problem = {0};
    bool ok = sl_json_check(s, len, &problem);
    if (!ok) {
        CHECK(problem.offset <= len);
        CHECK(problem.rule != NULL && problem.rule[0] != '\0');
        size_t line = 1, line_start = 0;
        for (size_t i = 0; i < problem.offset; i++) {
            if (s[i] == '\n') {
                line++;
                line_start = i + 1;
            }
        }
        CHECK(problem.line == line && problem.column == problem.offset - line_start + 1);
    }

    json_error_t jerr;
    json_t *root = json_loadb(s, len, CHECK_FLAGS, &jerr);
    if (root == NULL) {
        enum json_error_code code = json_error_code(&jerr);
        if (code == json_error_numeric_overflow)
            return; /* a number beyond a double, which sl_json_check() takes */
        if (code == json_error_stack_overflow && ok) {
            CHECK(count_openers(s, len) >= SL_JSON_MAX_DEPTH); /* a scalar 2048 containers deep */
            return;
        }
    }
    bool agrees = ok == (root != NULL) || (root != NULL && sl_test_passes_without_nul_after_token(s, len));
    if (!agrees)
        fprintf(stderr, "sl_json_check %s (byte %zu: %s), jansson %s\n", ok ? "passes" : "refuses",
                problem.offset, ok ? "-" : problem.rule, root ? "passes" : jerr.text);
    CHECK(agrees);
    if (ok)
        check_parts(s, len, root);
    json_decref(root);
}

/* ---- the raw walker on any bytes ---------------------------------------------------------------- */

static void walk_anything(const char *s, size_t len)
{
    static const char *const keys[] = {"events", "next", "data", "metadata", "eventType", ""};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        struct sl_json_slice v;
        if (sl_json_member(s, len, keys[k], &v)) {
            CHECK(is_inside(v.text, v.len, s, len) && v.len > 0);
            size_t pos = 0, n = 0;
            struct sl_json_slice item;
            while (sl_json_next_item(v, &pos, &item) && n++ < len) {
                CHECK(is_inside(item.text, item.len, v.text, v.len) && item.len > 0);
                CHECK(pos <= v.len);
            }
        }
    }
    struct sl_json_slice all = {s, len}, item;
    size_t pos = 0, n = 0;
    while (sl_json_next_item(all, &pos, &item)) {
        CHECK(is_inside(item.text, item.len, s, len) && item.len > 0 && pos <= len);
        CHECK(++n <= len);
    }
    struct sl_buf b;
    sl_buf_init(&b);
    sl_json_compact(&b, s, len);
    CHECK(!b.failed && b.len <= len);
    sl_buf_free(&b);
}

/* ---- an append body jansson accepted ------------------------------------------------------------ */

/* The text the API stores for member `key` of the element with raw text `raw`: the raw member,
 * or jansson's compact encoding when the raw text does not spell the key plainly. */
static char *stored_member(struct sl_json_slice raw, const char *key, json_t *parsed, size_t *len)
{
    struct sl_json_slice v;
    if (sl_json_member(raw.text, raw.len, key, &v)) {
        char *copy = malloc(v.len + 1);
        CHECK(copy != NULL);
        memcpy(copy, v.text, v.len);
        copy[v.len] = '\0';
        *len = v.len;
        return copy;
    }
    char *text = json_dumps(parsed, JSON_COMPACT | JSON_ENCODE_ANY);
    CHECK(text != NULL);
    *len = strlen(text);
    return text;
}

/* sl_event_to_json() of an event with these payloads is valid JSON and carries them. */
static void check_event_out(const char *type, bool is_json, const void *data, size_t data_len,
                            const void *meta, size_t meta_len, json_t *want_data, json_t *want_meta)
{
    struct sl_event ev = {
        .position = 1,
        .revision = 0,
        .created_us = 1700000000000000,
        .flags = is_json ? SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON | (meta ? SL_EVENT_META_IS_JSON : 0) : 0,
        .stream = "fuzz-1",
        .stream_len = 6,
        .type = type,
        .type_len = strlen(type),
        .data = data,
        .data_len = data_len,
        .metadata = meta,
        .metadata_len = meta_len,
    };
    struct sl_buf b;
    sl_buf_init(&b);
    sl_event_to_json(&b, &ev);
    CHECK(!b.failed);
    CHECK(!has_line_break(b.data, b.len));
    json_error_t jerr;
    json_t *out = json_loadb(b.data, b.len, JSON_DECODE_INT_AS_REAL, &jerr);
    if (out == NULL)
        fprintf(stderr, "sl_event_to_json wrote invalid JSON (%s at %d): %s\n", jerr.text, jerr.position,
                b.data);
    CHECK(json_is_object(out));
    json_t *d = json_object_get(out, "data");
    json_t *m = json_object_get(out, "metadata");
    if (is_json) {
        CHECK(json_equal(d, want_data));
        if (want_meta != NULL)
            CHECK(json_equal(m, want_meta));
    } else {
        CHECK(data_len == 0 ? json_is_null(d) : json_is_string(d));
        if (data_len > 0) {
            size_t n = 0;
            uint8_t *bytes = sl_base64_decode(json_string_value(d), json_string_length(d), &n);
            CHECK(bytes != NULL && n == data_len && memcmp(bytes, data, n) == 0);
            free(bytes);
        }
    }
    json_decref(out);
    sl_buf_free(&b);
}

/* One element of the array, as parse_event() in api/streams.c reads it. */
static void check_element(json_t *obj, struct sl_json_slice raw)
{
    /* Every key spelled plainly is found, with the text of its value. */
    bool has_escape = memchr(raw.text, '\\', raw.len) != NULL;
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        struct sl_json_slice v;
        bool found = sl_json_member(raw.text, raw.len, key, &v);
        if (!found) {
            CHECK(has_escape);
            continue;
        }
        CHECK(is_inside(v.text, v.len, raw.text, raw.len));
        json_t *again = parse_any(v.text, v.len);
        CHECK(again != NULL && json_equal(again, value));
        json_decref(again);
    }

    json_t *type = json_object_get(obj, "eventType");
    json_t *data = json_object_get(obj, "data");
    json_t *meta = json_object_get(obj, "metadata");
    json_t *ct = json_object_get(obj, "contentType");
    if (!json_is_string(type) || data == NULL)
        return;
    if (meta != NULL && json_is_null(meta))
        meta = NULL;
    bool is_binary = json_is_string(ct) && strcmp(json_string_value(ct), "application/octet-stream") == 0;
    if (!is_binary) {
        size_t dlen = 0, mlen = 0;
        char *d = stored_member(raw, "data", data, &dlen);
        char *m = meta ? stored_member(raw, "metadata", meta, &mlen) : NULL;
        /* Stored payloads are one line, as sl_json_one_line() leaves the body. */
        sl_json_one_line(d, dlen);
        if (m)
            sl_json_one_line(m, mlen);
        check_event_out(json_string_value(type), true, d, dlen, m, mlen, data, meta);
        free(d);
        free(m);
        return;
    }
    if (!json_is_string(data))
        return;
    size_t n = 0;
    uint8_t *bytes = sl_base64_decode(json_string_value(data), json_string_length(data), &n);
    if (bytes != NULL) {
        check_event_out(json_string_value(type), false, bytes, n, NULL, 0, NULL, NULL);
        free(bytes);
    }
}

static void check_body(const char *s, size_t len)
{
    json_t *root = json_loadb(s, len, BODY_FLAGS, NULL);
    if (root == NULL)
        return;

    if (json_is_array(root)) {
        struct sl_json_slice body = {s, len}, raw;
        size_t pos = 0, n = json_array_size(root);
        for (size_t i = 0; i < n; i++) {
            CHECK(sl_json_next_item(body, &pos, &raw));
            CHECK(is_inside(raw.text, raw.len, s, len));
            json_t *elem = json_array_get(root, i);
            json_t *again = parse_any(raw.text, raw.len);
            CHECK(again != NULL && json_equal(again, elem));
            json_decref(again);
            if (json_is_object(elem))
                check_element(elem, raw);
        }
        CHECK(!sl_json_next_item(body, &pos, &raw));
    }

    /* The whole body one line, and compacted: the same JSON. */
    char *copy = malloc(len + 1);
    CHECK(copy != NULL);
    memcpy(copy, s, len);
    sl_json_one_line(copy, len);
    CHECK(!has_line_break(copy, len));
    json_t *again = json_loadb(copy, len, BODY_FLAGS, NULL);
    CHECK(again != NULL && json_equal(again, root));
    json_decref(again);
    free(copy);

    struct sl_buf b;
    sl_buf_init(&b);
    sl_json_compact(&b, s, len);
    CHECK(!b.failed);
    again = json_loadb(b.data ? b.data : "", b.len, BODY_FLAGS, NULL);
    CHECK(again != NULL && json_equal(again, root));
    json_decref(again);
    struct sl_buf twice;
    sl_buf_init(&twice);
    sl_json_compact(&twice, b.data ? b.data : "", b.len);
    CHECK(twice.len == b.len && (b.len == 0 || memcmp(twice.data, b.data, b.len) == 0));
    sl_buf_free(&twice);
    sl_buf_free(&b);
    json_decref(root);
}

/* The single-event form: any JSON value as the body, stored as it came (one line). */
static void check_single(const char *s, size_t len)
{
    json_t *v = json_loadb(s, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
    if (v == NULL)
        return;
    char *copy = malloc(len + 1);
    CHECK(copy != NULL);
    memcpy(copy, s, len);
    sl_json_one_line(copy, len);
    check_event_out("single", true, copy, len, NULL, 0, v, NULL);
    free(copy);
    json_decref(v);
}

/* ---- codecs ------------------------------------------------------------------------------------ */

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Reference: standard alphabet, up to two '=' at the end, no white space; bits past the last whole
 * byte are ignored. Returns false when `in` is not base64. */
static bool ref_base64(const char *in, size_t len, uint8_t *out, size_t *out_len)
{
    size_t pad = 0;
    while (len > 0 && in[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if (len % 4 == 1)
        return false;
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(in[i]);
        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = n;
    return true;
}

static void check_base64(const char *s, size_t len)
{
    uint8_t *want = malloc(len + 1);
    CHECK(want != NULL);
    size_t want_len = 0;
    bool is_valid = ref_base64(s, len, want, &want_len);
    size_t n = 0;
    uint8_t *got = sl_base64_decode(s, len, &n);
    CHECK((got != NULL) == is_valid);
    if (got != NULL) {
        CHECK(n == want_len && memcmp(got, want, n) == 0);
        struct sl_buf b;
        sl_buf_init(&b);
        sl_buf_json_base64(&b, got, n);
        CHECK(!b.failed && b.len >= 2 && b.data[0] == '"' && b.data[b.len - 1] == '"');
        size_t m = 0;
        uint8_t *back = sl_base64_decode(b.data + 1, b.len - 2, &m);
        CHECK(back != NULL && m == n && memcmp(back, got, n) == 0);
        free(back);
        sl_buf_free(&b);
    }
    free(got);
    free(want);

    /* Any bytes, encoded and decoded. */
    struct sl_buf b;
    sl_buf_init(&b);
    sl_buf_json_base64(&b, s, len);
    CHECK(!b.failed && b.len == 2 + 4 * ((len + 2) / 3));
    size_t m = 0;
    uint8_t *back = sl_base64_decode(b.data + 1, b.len - 2, &m);
    CHECK(back != NULL && m == len && memcmp(back, s, len) == 0);
    free(back);
    sl_buf_free(&b);
}

/* Reference: the length of the UTF-8 sequence at s (RFC 3629), 0 when invalid. */
static size_t ref_utf8_length(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        cp = c & 0x1F;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        cp = c & 0x0F;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static void check_utf8_and_strings(const char *s, size_t len)
{
    /* The reference, and the bytes sl_buf_json_string() should produce once decoded. */
    struct sl_buf want;
    sl_buf_init(&want);
    bool is_valid = true;
    for (size_t i = 0; i < len;) {
        size_t n = ref_utf8_length((const unsigned char *)s + i, len - i);
        CHECK(sl_utf8_sequence_length(s + i, len - i) == n);
        if (n == 0) {
            is_valid = false;
            sl_buf_puts(&want, "\xEF\xBF\xBD");
            i++;
        } else {
            sl_buf_append(&want, s + i, n);
            i += n;
        }
    }
    CHECK(sl_utf8_is_valid(s, len) == is_valid);

    struct sl_buf b;
    sl_buf_init(&b);
    sl_buf_json_string(&b, s, len);
    CHECK(!b.failed);
    CHECK(!has_line_break(b.data, b.len));
    json_error_t jerr;
    json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (v == NULL)
        fprintf(stderr, "sl_buf_json_string wrote invalid JSON (%s): %s\n", jerr.text, b.data);
    CHECK(json_is_string(v));
    CHECK(json_string_length(v) == want.len &&
          memcmp(json_string_value(v), want.data ? want.data : "", want.len) == 0);
    json_decref(v);
    sl_buf_free(&b);
    sl_buf_free(&want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    check_verdict(s, size);
    walk_anything(s, size);
    check_body(s, size);
    check_single(s, size);
    check_base64(s, size);
    check_utf8_and_strings(s, size);
    return 0;
}
