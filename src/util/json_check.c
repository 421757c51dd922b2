#include "util/json_check.h"

#include <stdint.h>
#include <string.h>

#include "util/utf8.h"

/* Hand-written: Debian's JSON libraries (jansson, json-c, yajl) all decode
 * into values or callbacks; none answers "is this valid, and where not" in one
 * allocation-free pass, which is what a store that keeps payloads as written
 * needs on every append. */

struct scan {
    const unsigned char *s;
    size_t len;
    size_t i;
    const char *rule;
};

/* A byte a string holds as it is: printable ASCII but the quote and the backslash. */
static bool is_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* The same test for eight bytes at once, so long strings are crossed a word at
 * a time. (w - 0x01..) & ~w has a high bit set where a byte of w is zero (and
 * no false alarm when none is); with 0x20.. in place of 0x01.. it flags a byte
 * below 0x20. XOR with '"' or '\\' in every byte turns those bytes into zeros. */
static bool word_is_plain(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
    uint64_t control = (w - ones * 0x20) & ~w;
    uint64_t quotes = (quote - ones) & ~quote;
    uint64_t backslashes = (backslash - ones) & ~backslash;
    return ((control | quotes | backslashes | w) & highs) == 0;
}

static bool fail(struct scan *sc, const char *rule)
{
    sc->rule = rule;
    return false;
}

static void skip_ws(struct scan *sc)
{
    while (sc->i < sc->len) {
        unsigned char c = sc->s[sc->i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            return;
        sc->i++;
    }
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Reads the four hex digits after "\u" at s[i]; -1 when they are not four hex digits. */
static long read_u_escape(const struct scan *sc, size_t i)
{
    if (sc->len - i < 6 || sc->s[i] != '\\' || sc->s[i + 1] != 'u')
        return -1;
    long cp = 0;
    for (size_t k = 2; k < 6; k++) {
        int h = hex_value(sc->s[i + k]);
        if (h < 0)
            return -1;
        cp = cp * 16 + h;
    }
    return cp;
}

/* An escape at the backslash s[i]; advances past it. */
static bool scan_escape(struct scan *sc)
{
    if (sc->i + 1 >= sc->len)
        return fail(sc, "a string is not terminated");
    switch (sc->s[sc->i + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        sc->i += 2;
        return true;
    case 'u':
        break;
    default:
        sc->i++;
        return fail(sc, "a backslash in a string is not followed by a valid escape");
    }
    long cp = read_u_escape(sc, sc->i);
    if (cp < 0)
        return fail(sc, "\\u is not followed by four hex digits");
    if (cp == 0)
        return fail(sc, "\\u0000 is not allowed in a string");
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(sc, "\\u escape of a low surrogate without a high surrogate before it");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        long low = read_u_escape(sc, sc->i + 6);
        if (low < 0xDC00 || low > 0xDFFF)
            return fail(sc, "\\u escape of a high surrogate without a low surrogate after it");
        sc->i += 12;
        return true;
    }
    sc->i += 6;
    return true;
}

/* A string at its opening quote; advances past the closing quote. */
static bool scan_string(struct scan *sc)
{
    const unsigned char *s = sc->s;
    sc->i++;
    for (;;) {
        size_t i = sc->i;
        for (uint64_t w; sc->len - i >= 8; i += 8) {
            memcpy(&w, s + i, 8);
            if (!word_is_plain(w))
                break;
        }
        while (i < sc->len && is_plain(s[i]))
            i++;
        sc->i = i;
        if (i >= sc->len)
            return fail(sc, "a string is not terminated");
        unsigned char c = s[i];
        if (c == '"') {
            sc->i = i + 1;
            return true;
        }
        if (c == '\\') {
            if (!scan_escape(sc))
                return false;
            continue;
        }
        if (c < 0x20)
            return fail(sc, "a control character must be escaped in a string");
        size_t n = sl_utf8_sequence_length((const char *)s + i, sc->len - i);
        if (n == 0)
            return fail(sc, "a string is not valid UTF-8");
        sc->i = i + n;
    }
}

static bool is_digit(const struct scan *sc)
{
    return sc->i < sc->len && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9';
}

static void skip_digits(struct scan *sc)
{
    while (is_digit(sc))
        sc->i++;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool scan_number(struct scan *sc)
{
    if (sc->s[sc->i] == '-')
        sc->i++;
    if (!is_digit(sc))
        return fail(sc, "a number needs a digit here");
    if (sc->s[sc->i] == '0') {
        sc->i++;
        if (is_digit(sc))
            return fail(sc, "a number does not start with 0 followed by digits");
    } else {
        skip_digits(sc);
    }
    if (sc->i < sc->len && sc->s[sc->i] == '.') {
        sc->i++;
        if (!is_digit(sc))
            return fail(sc, "a number needs a digit after the decimal point");
        skip_digits(sc);
    }
    if (sc->i < sc->len && (sc->s[sc->i] == 'e' || sc->s[sc->i] == 'E')) {
        sc->i++;
        if (sc->i < sc->len && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-'))
            sc->i++;
        if (!is_digit(sc))
            return fail(sc, "a number needs a digit in its exponent");
        skip_digits(sc);
    }
    return true;
}

static bool scan_literal(struct scan *sc, const char *word)
{
    size_t n = strlen(word);
    if (sc->len - sc->i < n || memcmp(sc->s + sc->i, word, n) != 0)
        return fail(sc, "expected a value (object, array, string, number, true, false or null)");
    sc->i += n;
    return true;
}

/* A scalar value at s[i] (not an object or array). */
static bool scan_scalar(struct scan *sc)
{
    switch (sc->s[sc->i]) {
    case '"':
        return scan_string(sc);
    case 't':
        return scan_literal(sc, "true");
    case 'f':
        return scan_literal(sc, "false");
    case 'n':
        return scan_literal(sc, "null");
    default:
        if (sc->s[sc->i] == '-' || (sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9'))
            return scan_number(sc);
        return fail(sc, "expected a value (object, array, string, number, true, false or null)");
    }
}

/* A member name and its colon; leaves sc->i at the value. */
static bool scan_name(struct scan *sc)
{
    skip_ws(sc);
    if (sc->i >= sc->len || sc->s[sc->i] != '"')
        return fail(sc, "expected a member name (a string) in an object");
    if (!scan_string(sc))
        return false;
    skip_ws(sc);
    if (sc->i >= sc->len || sc->s[sc->i] != ':')
        return fail(sc, "expected ':' after a member name");
    sc->i++;
    return true;
}

/* Iterative, so that nesting costs a bit per level instead of a stack frame. */
static bool scan_text(struct scan *sc)
{
    uint8_t is_object[SL_JSON_MAX_DEPTH / 8] = {0};
    size_t depth = 0;
    for (;;) {
        /* A value is expected at sc->i. */
        skip_ws(sc);
        if (sc->i >= sc->len)
            return fail(sc, "the text ends where a value is expected");
        unsigned char c = sc->s[sc->i];
        if (c == '{' || c == '[') {
            if (depth == SL_JSON_MAX_DEPTH)
                return fail(sc, "objects and arrays are nested more than 2048 deep");
            sc->i++;
            skip_ws(sc);
            bool is_obj = c == '{';
            unsigned char close = is_obj ? '}' : ']';
            if (sc->i < sc->len && sc->s[sc->i] == close) {
                sc->i++;
            } else {
                if (is_obj)
                    is_object[depth / 8] |= (uint8_t)(1u << (depth % 8));
                else
                    is_object[depth / 8] &= (uint8_t) ~(1u << (depth % 8));
                depth++;
                if (is_obj && !scan_name(sc))
                    return false;
                continue;
            }
        } else if (!scan_scalar(sc)) {
            return false;
        }
        /* After a value: close containers, or go on to the next element. */
        for (;;) {
            skip_ws(sc);
            if (depth == 0) {
                if (sc->i < sc->len)
                    return fail(sc, "unexpected text after the JSON value");
                return true;
            }
            bool in_object = is_object[(depth - 1) / 8] & (1u << ((depth - 1) % 8));
            if (sc->i >= sc->len)
                return fail(sc,
                            in_object ? "the text ends inside an object" : "the text ends inside an array");
            c = sc->s[sc->i];
            if (c == ',') {
                sc->i++;
                if (in_object && !scan_name(sc))
                    return false;
                break;
            }
            if (c != (in_object ? '}' : ']'))
                return fail(sc, in_object ? "expected ',' or '}' in an object"
                                          : "expected ',' or ']' in an array");
            sc->i++;
            depth--;
        }
    }
}

bool sl_json_check(const char *s, size_t len, struct sl_json_problem *problem)
{
    struct scan sc = {(const unsigned char *)s, len, 0, NULL};
    if (scan_text(&sc))
        return true;
    size_t at = sc.i < len ? sc.i : len;
    problem->offset = at;
    problem->rule = sc.rule;
    problem->line = 1;
    problem->column = 1;
    for (size_t k = 0; k < at; k++) {
        if (s[k] == '\n') {
            problem->line++;
            problem->column = 1;
        } else {
            problem->column++;
        }
    }
    return false;
}
