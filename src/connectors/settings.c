#include "connectors/settings.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/codec.h"

void sl_settings_init(struct sl_settings *s)
{
    memset(s, 0, sizeof(*s));
}

void sl_settings_free(struct sl_settings *s)
{
    for (size_t i = 0; i < s->count; i++) {
        free(s->keys[i]);
        free(s->values[i]);
    }
    free(s->keys);
    free(s->values);
    memset(s, 0, sizeof(*s));
}

static ssize_t index_of(const struct sl_settings *s, const char *key)
{
    for (size_t i = 0; i < s->count; i++)
        if (strcasecmp(s->keys[i], key) == 0)
            return (ssize_t)i;
    return -1;
}

bool sl_settings_set(struct sl_settings *s, const char *key, const char *value)
{
    char *v = strdup(value);
    if (v == NULL)
        return false;
    ssize_t i = index_of(s, key);
    if (i >= 0) {
        free(s->values[i]);
        s->values[i] = v;
        return true;
    }
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **k = realloc(s->keys, cap * sizeof(*k));
        if (k == NULL)
            goto oom;
        s->keys = k;
        char **vs = realloc(s->values, cap * sizeof(*vs));
        if (vs == NULL)
            goto oom;
        s->values = vs;
        s->cap = cap;
    }
    s->keys[s->count] = strdup(key);
    if (s->keys[s->count] == NULL)
        goto oom;
    s->values[s->count++] = v;
    return true;
oom:
    free(v);
    return false;
}

bool sl_settings_copy(struct sl_settings *dst, const struct sl_settings *src)
{
    sl_settings_init(dst);
    for (size_t i = 0; i < src->count; i++) {
        if (!sl_settings_set(dst, src->keys[i], src->values[i])) {
            sl_settings_free(dst);
            return false;
        }
    }
    return true;
}

const char *sl_settings_get(const struct sl_settings *s, const char *key)
{
    ssize_t i = index_of(s, key);
    return i >= 0 ? s->values[i] : NULL;
}

static const struct sl_setting *find_in(const struct sl_setting *table, const char *key)
{
    for (const struct sl_setting *d = table; d && d->key; d++) {
        if (d->flags & SL_SETTING_PREFIX) {
            size_t n = strlen(d->key);
            if (strncasecmp(key, d->key, n) == 0 && key[n] != '\0')
                return d;
        } else if (strcasecmp(key, d->key) == 0) {
            return d;
        }
    }
    return NULL;
}

const struct sl_setting *sl_settings_find(const struct sl_setting *const *tables, const char *key)
{
    for (size_t t = 0; tables[t]; t++) {
        const struct sl_setting *d = find_in(tables[t], key);
        if (d)
            return d;
    }
    return NULL;
}

const char *sl_settings_str(const struct sl_settings *s, const struct sl_setting *table, const char *key)
{
    const char *v = sl_settings_get(s, key);
    if (v)
        return v;
    const struct sl_setting *d = find_in(table, key);
    return d ? d->default_value : NULL;
}

int64_t sl_settings_int(const struct sl_settings *s, const struct sl_setting *table, const char *key)
{
    const char *v = sl_settings_str(s, table, key);
    if (v == NULL)
        return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (end == v || *end != '\0') {
        const struct sl_setting *d = find_in(table, key);
        return d && d->default_value ? strtoll(d->default_value, NULL, 10) : 0;
    }
    return n;
}

bool sl_settings_bool(const struct sl_settings *s, const struct sl_setting *table, const char *key)
{
    const char *v = sl_settings_str(s, table, key);
    return v && strcasecmp(v, "true") == 0;
}

/* ---- JSON forms ---- */

static bool scalar_text(json_t *v, char *buf, size_t size, const char **out)
{
    if (json_is_string(v)) {
        *out = json_string_value(v);
    } else if (json_is_integer(v)) {
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
        *out = buf;
    } else if (json_is_real(v)) {
        snprintf(buf, size, "%.17g", json_real_value(v));
        *out = buf;
    } else if (json_is_boolean(v)) {
        *out = json_is_true(v) ? "true" : "false";
    } else if (json_is_null(v)) {
        *out = "";
    } else {
        return false;
    }
    return true;
}

enum sl_code sl_settings_from_flat_json(struct sl_settings *s, json_t *obj, struct sl_error *err)
{
    if (!json_is_object(obj))
        return sl_field_errorf(err, SL_E_INVALID, "settings", "settings must be a JSON object of strings");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        char buf[64];
        const char *text;
        if (!scalar_text(v, buf, sizeof(buf), &text))
            return sl_field_errorf(err, SL_E_INVALID, key, "the value of %s must be a string", key);
        if (!sl_settings_set(s, key, text))
            return sl_errorf(err, SL_E_NOMEM, "out of memory");
    }
    return SL_OK;
}

static enum sl_code flatten(struct sl_settings *s, const char *prefix, json_t *v, struct sl_error *err,
                            int depth)
{
    if (depth > 16)
        return sl_field_errorf(err, SL_E_INVALID, prefix, "the configuration is nested too deeply");
    char key[512];
    if (json_is_object(v)) {
        const char *k;
        json_t *child;
        json_object_foreach(v, k, child)
        {
            snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] ? ":" : "", k);
            enum sl_code code = flatten(s, key, child, err, depth + 1);
            if (code)
                return code;
        }
        return SL_OK;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
        {
            snprintf(key, sizeof(key), "%s:%zu", prefix, i);
            enum sl_code code = flatten(s, key, child, err, depth + 1);
            if (code)
                return code;
        }
        return SL_OK;
    }
    char buf[64];
    const char *text;
    scalar_text(v, buf, sizeof(buf), &text);
    if (!sl_settings_set(s, prefix, text))
        return sl_errorf(err, SL_E_NOMEM, "out of memory");
    return SL_OK;
}

enum sl_code sl_settings_from_nested_json(struct sl_settings *s, json_t *obj, struct sl_error *err)
{
    if (!json_is_object(obj))
        return sl_field_errorf(err, SL_E_INVALID, "configuration", "configuration must be a JSON object");
    return flatten(s, "", obj, err, 0);
}

static const char *shown_value(const struct sl_settings *s, size_t i, const struct sl_setting *const *tables,
                               bool show_secrets)
{
    if (show_secrets)
        return s->values[i];
    const struct sl_setting *d = sl_settings_find(tables, s->keys[i]);
    return d && (d->flags & SL_SETTING_SECRET) ? "***" : s->values[i];
}

json_t *sl_settings_to_flat_json(const struct sl_settings *s, const struct sl_setting *const *tables,
                                 bool show_secrets)
{
    json_t *obj = json_object();
    for (size_t i = 0; obj && i < s->count; i++)
        json_object_set_new(obj, s->keys[i], json_string(shown_value(s, i, tables, show_secrets)));
    return obj;
}

json_t *sl_settings_to_nested_json(const struct sl_settings *s, const struct sl_setting *const *tables,
                                   bool show_secrets)
{
    json_t *root = json_object();
    for (size_t i = 0; root && i < s->count; i++) {
        char *path = strdup(s->keys[i]);
        if (path == NULL)
            break;
        json_t *node = root;
        char *save = NULL;
        char *part = strtok_r(path, ":", &save);
        while (part) {
            char *next = strtok_r(NULL, ":", &save);
            if (next == NULL) {
                json_object_set_new(node, part, json_string(shown_value(s, i, tables, show_secrets)));
                break;
            }
            json_t *child = json_object_get(node, part);
            if (!json_is_object(child)) {
                child = json_object();
                json_object_set_new(node, part, child);
            }
            node = child;
            part = next;
        }
        free(path);
    }
    return root;
}

/* ---- validation ---- */

void sl_violations_add(struct sl_violations *v, const char *field, const char *fmt, ...)
{
    if (v->count == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        struct sl_violation *items = realloc(v->items, cap * sizeof(*items));
        if (items == NULL)
            return;
        v->items = items;
        v->cap = cap;
    }
    struct sl_violation *it = &v->items[v->count++];
    snprintf(it->field, sizeof(it->field), "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->description, sizeof(it->description), fmt, ap);
    va_end(ap);
}

void sl_violations_free(struct sl_violations *v)
{
    free(v->items);
    memset(v, 0, sizeof(*v));
}

static bool enum_has(const char *choices, const char *value)
{
    size_t n = strlen(value);
    const char *p = choices;
    while (p && *p) {
        const char *end = strchr(p, '|');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncasecmp(p, value, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

static void check_value(const struct sl_setting *d, const char *key, const char *value,
                        struct sl_violations *out)
{
    switch (d->type) {
    case SL_SET_STRING:
        break;
    case SL_SET_INT: {
        char *end;
        long long n = strtoll(value, &end, 10);
        if (value[0] == '\0' || *end != '\0') {
            sl_violations_add(out, key, "must be an integer");
        } else if ((d->min || d->max) && (n < d->min || n > d->max)) {
            sl_violations_add(out, key, "must be from %lld to %lld", (long long)d->min, (long long)d->max);
        }
        break;
    }
    case SL_SET_BOOL:
        if (strcasecmp(value, "true") != 0 && strcasecmp(value, "false") != 0)
            sl_violations_add(out, key, "must be true or false");
        break;
    case SL_SET_ENUM:
        if (!enum_has(d->choices, value))
            sl_violations_add(out, key, "must be one of %s", d->choices);
        break;
    case SL_SET_URL:
        if (strncasecmp(value, "http://", 7) != 0 && strncasecmp(value, "https://", 8) != 0)
            sl_violations_add(out, key, "must be an http:// or https:// URL");
        else if (strchr(value, ' ') || strchr(value, '\n'))
            sl_violations_add(out, key, "must not contain white space");
        break;
    case SL_SET_BASE64: {
        size_t n;
        unsigned char *bytes = sl_base64_decode(value, strlen(value), &n);
        if (bytes == NULL && value[0] != '\0')
            sl_violations_add(out, key, "must be base64");
        free(bytes);
        break;
    }
    }
}

void sl_settings_validate(const struct sl_settings *s, const struct sl_setting *const *tables,
                          struct sl_violations *out)
{
    for (size_t i = 0; i < s->count; i++) {
        const struct sl_setting *d = sl_settings_find(tables, s->keys[i]);
        if (d == NULL) {
            sl_violations_add(out, s->keys[i], "is not a setting of this connector");
            continue;
        }
        check_value(d, s->keys[i], s->values[i], out);
    }
    for (size_t t = 0; tables[t]; t++) {
        for (const struct sl_setting *d = tables[t]; d->key; d++) {
            if (!(d->flags & SL_SETTING_REQUIRED))
                continue;
            const char *v = sl_settings_get(s, d->key);
            if (v == NULL || v[0] == '\0')
                sl_violations_add(out, d->key, "is required");
        }
    }
}

void sl_settings_write_markdown(struct sl_buf *b, const struct sl_setting *table)
{
    static const char *const type_names[] = {"string", "integer", "boolean", "enum", "URL", "base64"};
    sl_buf_puts(b, "| key | type | default | | description |\n|---|---|---|---|---|\n");
    for (const struct sl_setting *d = table; d->key; d++) {
        char type[160];
        if (d->type == SL_SET_ENUM) {
            /* `|` would end the table cell. */
            size_t n = 0;
            for (const char *c = d->choices; *c && n + 3 < sizeof(type); c++) {
                if (*c == '|') {
                    type[n++] = ',';
                    type[n++] = ' ';
                } else {
                    type[n++] = *c;
                }
            }
            type[n] = '\0';
        } else if (d->type == SL_SET_INT && (d->min || d->max) && d->max != INT64_MAX)
            snprintf(type, sizeof(type), "integer %lld..%lld", (long long)d->min, (long long)d->max);
        else
            snprintf(type, sizeof(type), "%s", type_names[d->type]);
        sl_buf_printf(
            b, "| `%s%s` | %s | %s%s%s | %s%s | %s |\n", d->key,
            (d->flags & SL_SETTING_PREFIX) ? "<Name>" : "", type,
            d->default_value && d->default_value[0] ? "`" : "", d->default_value ? d->default_value : "",
            d->default_value && d->default_value[0] ? "`" : "",
            (d->flags & SL_SETTING_REQUIRED) ? "required" : "",
            (d->flags & SL_SETTING_SECRET) ? "secret (shown as `***`)" : "", d->help ? d->help : "");
    }
}
