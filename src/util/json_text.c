#include "util/json_text.h"

#include <string.h>

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len && is_ws(s[i]))
        i++;
    return i;
}

/* Skips a string starting at the quote s[i]; returns the index after the closing quote, or 0.
 * Jumps from quote to quote (memchr): a quote ends the string unless an odd run of backslashes
 * stands before it. */
static size_t skip_string(const char *s, size_t len, size_t i)
{
    for (i++; i < len;) {
        const char *q = memchr(s + i, '"', len - i);
        if (q == NULL)
            return 0;
        size_t at = (size_t)(q - s), backslashes = 0;
        while (at - backslashes > i && s[at - backslashes - 1] == '\\')
            backslashes++;
        if (backslashes % 2 == 0)
            return at + 1;
        i = at + 1;
    }
    return 0;
}

/* Skips one value starting at s[i] (no leading whitespace); returns the index after it, or 0.
 * Containers are skipped by counting brackets outside strings, without recursion. */
static size_t skip_value(const char *s, size_t len, size_t i)
{
    if (i >= len)
        return 0;
    if (s[i] == '"')
        return skip_string(s, len, i);
    if (s[i] != '{' && s[i] != '[') {
        size_t start = i;
        while (i < len && !is_ws(s[i]) && s[i] != ',' && s[i] != ']' && s[i] != '}' && s[i] != ':')
            i++;
        return i > start ? i : 0;
    }
    size_t depth = 0;
    while (i < len) {
        char c = s[i];
        if (c == '"') {
            i = skip_string(s, len, i);
            if (i == 0)
                return 0;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0)
                return i + 1;
        }
        i++;
    }
    return 0;
}

bool sl_json_member(const char *json, size_t len, const char *key, struct sl_json_slice *value)
{
    size_t key_len = strlen(key);
    size_t i = skip_ws(json, len, 0);
    if (i >= len || json[i] != '{')
        return false;
    i = skip_ws(json, len, i + 1);
    while (i < len && json[i] == '"') {
        size_t key_end = skip_string(json, len, i);
        if (key_end == 0)
            return false;
        bool is_match = key_end - i - 2 == key_len && memcmp(json + i + 1, key, key_len) == 0;
        i = skip_ws(json, len, key_end);
        if (i >= len || json[i] != ':')
            return false;
        i = skip_ws(json, len, i + 1);
        size_t end = skip_value(json, len, i);
        if (end == 0)
            return false;
        if (is_match) {
            value->text = json + i;
            value->len = end - i;
            return true;
        }
        i = skip_ws(json, len, end);
        if (i >= len || json[i] != ',')
            return false;
        i = skip_ws(json, len, i + 1);
    }
    return false;
}

bool sl_json_next_item(struct sl_json_slice array, size_t *pos, struct sl_json_slice *item)
{
    const char *s = array.text;
    size_t len = array.len;
    size_t i = *pos;
    if (i == 0) {
        i = skip_ws(s, len, 0);
        if (i >= len || s[i] != '[')
            return false;
        i++;
    } else {
        i = skip_ws(s, len, i);
        if (i >= len || s[i] != ',')
            return false;
        i++;
    }
    i = skip_ws(s, len, i);
    if (i >= len || s[i] == ']')
        return false;
    size_t end = skip_value(s, len, i);
    if (end == 0)
        return false;
    item->text = s + i;
    item->len = end - i;
    *pos = end;
    return true;
}

bool sl_json_next_member(struct sl_json_slice object, size_t *pos, struct sl_json_slice *name,
                         struct sl_json_slice *value)
{
    const char *s = object.text;
    size_t len = object.len;
    size_t i = *pos;
    if (i == 0) {
        i = skip_ws(s, len, 0);
        if (i >= len || s[i] != '{')
            return false;
    } else {
        i = skip_ws(s, len, i);
        if (i >= len || s[i] != ',')
            return false;
    }
    i = skip_ws(s, len, i + 1);
    if (i >= len || s[i] != '"')
        return false;
    size_t name_end = skip_string(s, len, i);
    if (name_end == 0)
        return false;
    name->text = s + i + 1;
    name->len = name_end - i - 2;
    i = skip_ws(s, len, name_end);
    if (i >= len || s[i] != ':')
        return false;
    i = skip_ws(s, len, i + 1);
    size_t end = skip_value(s, len, i);
    if (end == 0)
        return false;
    value->text = s + i;
    value->len = end - i;
    *pos = end;
    return true;
}

bool sl_json_has_escapes(struct sl_json_slice raw)
{
    return memchr(raw.text, '\\', raw.len) != NULL;
}

static unsigned hex4(const char *s)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t sl_json_unescape(struct sl_json_slice raw, char *out)
{
    const char *s = raw.text;
    size_t n = 0;
    for (size_t i = 0; i < raw.len;) {
        if (s[i] != '\\' || i + 1 >= raw.len) {
            out[n++] = s[i++];
            continue;
        }
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case 'b':
            out[n++] = '\b';
            break;
        case 'f':
            out[n++] = '\f';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'u': {
            if (raw.len - i < 4)
                break; /* not checked text: drop the broken escape */
            unsigned cp = hex4(s + i);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && raw.len - i >= 6 && s[i] == '\\' && s[i + 1] == 'u') {
                unsigned low = hex4(s + i + 2);
                if (low >= 0xDC00 && low <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    i += 6;
                }
            }
            n += put_utf8(out + n, cp);
            break;
        }
        default: /* '"', '\\', '/' */
            out[n++] = e;
            break;
        }
    }
    out[n] = '\0';
    return n;
}

void sl_json_compact(struct sl_buf *out, const char *s, size_t len)
{
    size_t run = 0; /* start of the pending run of bytes to copy */
    for (size_t i = 0; i < len;) {
        if (s[i] == '"') {
            size_t end = skip_string(s, len, i);
            i = end ? end : len;
            continue;
        }
        if (is_ws(s[i])) {
            sl_buf_append(out, s + run, i - run);
            while (i < len && is_ws(s[i]))
                i++;
            run = i;
            continue;
        }
        i++;
    }
    sl_buf_append(out, s + run, len - run);
}

void sl_json_one_line(char *s, size_t len)
{
    static const char breaks[] = {'\n', '\r'};
    if (len == 0)
        return;
    for (size_t k = 0; k < sizeof(breaks); k++)
        for (char *p = memchr(s, breaks[k], len); p != NULL;
             p = memchr(p + 1, breaks[k], len - (size_t)(p + 1 - s)))
            *p = ' ';
}
