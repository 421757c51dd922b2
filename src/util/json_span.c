#include "util/json_span.h"

#include <jansson.h>
#include <string.h>

static void skip_ws(const char *s, size_t len, size_t *pos)
{
    while (*pos < len && (s[*pos] == ' ' || s[*pos] == '\t' || s[*pos] == '\n' || s[*pos] == '\r'))
        (*pos)++;
}

static bool skip_string(const char *s, size_t len, size_t *pos)
{
    if (*pos >= len || s[*pos] != '"')
        return false;
    for (size_t i = *pos + 1; i < len; i++) {
        if (s[i] == '\\') {
            i++;
        } else if (s[i] == '"') {
            *pos = i + 1;
            return true;
        }
    }
    return false;
}

bool sl_json_skip_value(const char *s, size_t len, size_t *pos)
{
    skip_ws(s, len, pos);
    if (*pos >= len)
        return false;
    char c = s[*pos];
    if (c == '"')
        return skip_string(s, len, pos);
    if (c == '{' || c == '[') {
        size_t depth = 0;
        while (*pos < len) {
            char d = s[*pos];
            if (d == '"') {
                if (!skip_string(s, len, pos))
                    return false;
                continue;
            }
            if (d == '{' || d == '[')
                depth++;
            else if (d == '}' || d == ']')
                depth--;
            (*pos)++;
            if (depth == 0)
                return true;
        }
        return false;
    }
    /* A number, true, false or null: up to the next delimiter. */
    size_t start = *pos;
    while (*pos < len && !strchr(",]} \t\r\n", s[*pos]))
        (*pos)++;
    return *pos > start;
}

/* True when the key token s[start..end) (quotes included) spells `name`. */
static bool key_is(const char *s, size_t start, size_t end, const char *name)
{
    size_t n = strlen(name);
    if (memchr(s + start, '\\', end - start) == NULL)
        return end - start == n + 2 && memcmp(s + start + 1, name, n) == 0;
    json_t *k = json_loadb(s + start, end - start, JSON_DECODE_ANY, NULL);
    bool same = json_is_string(k) && strcmp(json_string_value(k), name) == 0;
    json_decref(k);
    return same;
}

bool sl_json_member_spans(const char *s, size_t len, size_t index, const char *a, struct sl_json_span *a_span,
                          const char *b, struct sl_json_span *b_span)
{
    memset(a_span, 0, sizeof(*a_span));
    memset(b_span, 0, sizeof(*b_span));
    size_t pos = 0;
    skip_ws(s, len, &pos);
    if (pos >= len || s[pos] != '[')
        return false;
    pos++;
    for (size_t i = 0; i < index; i++) {
        if (!sl_json_skip_value(s, len, &pos))
            return false;
        skip_ws(s, len, &pos);
        if (pos >= len || s[pos] != ',')
            return false;
        pos++;
    }
    skip_ws(s, len, &pos);
    if (pos >= len || s[pos] != '{')
        return false;
    pos++;
    for (;;) {
        skip_ws(s, len, &pos);
        if (pos < len && s[pos] == '}')
            return true;
        size_t key_start = pos;
        if (!skip_string(s, len, &pos))
            return false;
        size_t key_end = pos;
        skip_ws(s, len, &pos);
        if (pos >= len || s[pos] != ':')
            return false;
        pos++;
        skip_ws(s, len, &pos);
        size_t value_start = pos;
        if (!sl_json_skip_value(s, len, &pos))
            return false;
        struct sl_json_span span = {value_start, pos - value_start};
        if (key_is(s, key_start, key_end, a))
            *a_span = span;
        else if (key_is(s, key_start, key_end, b))
            *b_span = span;
        skip_ws(s, len, &pos);
        if (pos < len && s[pos] == ',') {
            pos++;
            continue;
        }
        return pos < len && s[pos] == '}';
    }
}

void sl_json_one_line(char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n' || s[i] == '\r')
            s[i] = ' ';
}
