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

/* Skips a string starting at the quote s[i]; returns the index after the closing quote, or 0. */
static size_t skip_string(const char *s, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
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
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n' || s[i] == '\r')
            s[i] = ' ';
}
