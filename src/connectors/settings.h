/* settings.h: a connector's settings: a flat map of string -> string with
 * `:`-separated keys, and the tables that declare and validate them.
 *
 * Keys and enum values compare case-insensitively; keys keep the spelling
 * they were given in. A nested JSON configuration is flattened into the same
 * map (objects -> `a:b`, arrays -> `a:0`, numbers and booleans -> strings).
 *
 * Each setting is declared once, in a struct sl_setting table (the common
 * connector settings here, each sink's own in its file): validation, masking of
 * secrets and the documentation all come from those tables.
 *
 * A struct sl_settings owns its strings. Not thread-safe; connectors copy
 * their settings before handing them to a worker thread. */
#ifndef SL_CONNECTORS_SETTINGS_H
#define SL_CONNECTORS_SETTINGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

enum sl_setting_type {
    SL_SET_STRING,
    SL_SET_INT,  /* decimal integer within [min, max] */
    SL_SET_BOOL, /* true | false */
    SL_SET_ENUM, /* one of `choices`, `|`-separated */
    SL_SET_URL,  /* http:// or https:// URL */
    SL_SET_BASE64,
};

#define SL_SETTING_REQUIRED 0x1u
#define SL_SETTING_SECRET 0x2u /* masked as "***" when shown */
/* `key` is a prefix: any `key<name>` is this setting (e.g. defaultHeaders:) */
#define SL_SETTING_PREFIX 0x4u

struct sl_setting {
    const char *key;
    enum sl_setting_type type;
    const char *default_value; /* NULL = no default */
    unsigned flags;
    const char *choices; /* SL_SET_ENUM */
    int64_t min, max;    /* SL_SET_INT; both 0 = any */
    const char *help;
};

struct sl_settings {
    size_t count, cap;
    char **keys;
    char **values;
};

void sl_settings_init(struct sl_settings *s);
void sl_settings_free(struct sl_settings *s);
bool sl_settings_copy(struct sl_settings *dst, const struct sl_settings *src);

/* Sets key = value, replacing a key that compares equal ignoring case. */
bool sl_settings_set(struct sl_settings *s, const char *key, const char *value);
/* The value of `key` (ignoring case), or NULL. */
const char *sl_settings_get(const struct sl_settings *s, const char *key);

/* Typed reads with the table's default when absent. Values are assumed
 * validated; a bad one reads as the default. */
const char *sl_settings_str(const struct sl_settings *s, const struct sl_setting *table, const char *key);
int64_t sl_settings_int(const struct sl_settings *s, const struct sl_setting *table, const char *key);
bool sl_settings_bool(const struct sl_settings *s, const struct sl_setting *table, const char *key);

/* From a JSON object of strings (the flat form). Non-string values are
 * turned into strings as in the nested form. SL_E_INVALID names the key. */
enum sl_code sl_settings_from_flat_json(struct sl_settings *s, json_t *obj, struct sl_error *err);
/* From a nested JSON object (the `configuration` form), flattened. */
enum sl_code sl_settings_from_nested_json(struct sl_settings *s, json_t *obj, struct sl_error *err);

/* The flat JSON object; secrets (per the tables, NULL-terminated list) are
 * masked unless `show_secrets`. New reference. */
json_t *sl_settings_to_flat_json(const struct sl_settings *s, const struct sl_setting *const *tables,
                                 bool show_secrets);
/* The nested form: `a:b:c` keys become nested objects. New reference. */
json_t *sl_settings_to_nested_json(const struct sl_settings *s, const struct sl_setting *const *tables,
                                   bool show_secrets);

/* One broken rule. */
struct sl_violation {
    char field[128];
    char description[256];
};

struct sl_violations {
    struct sl_violation *items;
    size_t count, cap;
};

void sl_violations_add(struct sl_violations *v, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sl_violations_free(struct sl_violations *v);

/* Checks every key of `s` against the tables (NULL-terminated list): unknown
 * keys, missing required ones, and values that break their type. Adds every
 * violation found, not only the first. */
void sl_settings_validate(const struct sl_settings *s, const struct sl_setting *const *tables,
                          struct sl_violations *out);

/* Appends a Markdown table of `table` (key, type, default, required/secret,
 * description): the settings reference in the docs is printed from it. */
void sl_settings_write_markdown(struct sl_buf *b, const struct sl_setting *table);

/* The declaration of `key` in the tables, or NULL. */
const struct sl_setting *sl_settings_find(const struct sl_setting *const *tables, const char *key);

#endif
