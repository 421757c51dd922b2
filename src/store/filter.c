#include "store/filter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

struct sl_filter {
    enum sl_filter_on on;
    enum sl_filter_kind kind;
    bool exclude_system;
    char **prefixes; /* PREFIX: each one owned; EXACT: one */
    size_t *prefix_lens;
    size_t n_prefixes;
    pcre2_code *re;
};

static bool add_prefix(struct sl_filter *f, const char *s, size_t len)
{
    char **p = realloc(f->prefixes, (f->n_prefixes + 1) * sizeof(*p));
    if (p == NULL)
        return false;
    f->prefixes = p;
    size_t *l = realloc(f->prefix_lens, (f->n_prefixes + 1) * sizeof(*l));
    if (l == NULL)
        return false;
    f->prefix_lens = l;
    f->prefixes[f->n_prefixes] = strndup(s, len);
    if (f->prefixes[f->n_prefixes] == NULL)
        return false;
    f->prefix_lens[f->n_prefixes++] = len;
    return true;
}

struct sl_filter *sl_filter_new(enum sl_filter_on on, enum sl_filter_kind kind, const char *expression,
                                bool exclude_system, struct sl_error *err)
{
    struct sl_filter *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        sl_errorf(err, SL_E_NOMEM, "out of memory building a filter");
        return NULL;
    }
    f->on = on;
    f->kind = kind;
    f->exclude_system = exclude_system;
    if (on == SL_FILTER_ALL)
        return f;
    if (expression == NULL)
        expression = "";

    if (kind == SL_FILTER_REGEX) {
        int code;
        PCRE2_SIZE offset;
        f->re = pcre2_compile((PCRE2_SPTR)expression, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code, &offset, NULL);
        if (f->re == NULL) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(code, msg, sizeof(msg));
            sl_field_errorf(err, SL_E_INVALID, "filter",
                            "the regular expression does not compile at offset %zu: %s", (size_t)offset,
                            (const char *)msg);
            sl_filter_free(f);
            return NULL;
        }
        pcre2_jit_compile(f->re, PCRE2_JIT_COMPLETE); /* best effort: matching works without it */
        return f;
    }
    if (kind == SL_FILTER_EXACT) {
        if (!add_prefix(f, expression, strlen(expression)))
            goto oom;
        return f;
    }
    /* Comma-separated prefixes; spaces around each are ignored, empty ones dropped. */
    const char *s = expression;
    while (*s) {
        const char *end = strchr(s, ',');
        if (end == NULL)
            end = s + strlen(s);
        const char *a = s, *b = end;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        if (b > a && !add_prefix(f, a, (size_t)(b - a)))
            goto oom;
        s = *end ? end + 1 : end;
    }
    if (f->n_prefixes == 0) {
        sl_field_errorf(err, SL_E_INVALID, "filter", "a prefix filter needs at least one prefix");
        sl_filter_free(f);
        return NULL;
    }
    return f;
oom:
    sl_errorf(err, SL_E_NOMEM, "out of memory building a filter");
    sl_filter_free(f);
    return NULL;
}

struct sl_filter *sl_filter_new_prefixes(enum sl_filter_on on, const char *const *prefixes, size_t n,
                                         bool exclude_system, struct sl_error *err)
{
    if (on == SL_FILTER_ALL || n == 0) {
        sl_field_errorf(err, SL_E_INVALID, "filter", "a prefix filter needs at least one prefix");
        return NULL;
    }
    struct sl_filter *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        sl_errorf(err, SL_E_NOMEM, "out of memory building a filter");
        return NULL;
    }
    f->on = on;
    f->kind = SL_FILTER_PREFIX;
    f->exclude_system = exclude_system;
    for (size_t i = 0; i < n; i++) {
        if (!add_prefix(f, prefixes[i], strlen(prefixes[i]))) {
            sl_errorf(err, SL_E_NOMEM, "out of memory building a filter");
            sl_filter_free(f);
            return NULL;
        }
    }
    return f;
}

bool sl_filter_matches(const struct sl_filter *f, const struct sl_event *ev)
{
    if (f->exclude_system &&
        ((ev->stream_len && ev->stream[0] == '$') || (ev->type_len && ev->type[0] == '$')))
        return false;
    if (f->on == SL_FILTER_ALL)
        return true;
    const char *s = f->on == SL_FILTER_STREAM ? ev->stream : ev->type;
    size_t len = f->on == SL_FILTER_STREAM ? ev->stream_len : ev->type_len;

    switch (f->kind) {
    case SL_FILTER_EXACT:
        return len == f->prefix_lens[0] && memcmp(s, f->prefixes[0], len) == 0;
    case SL_FILTER_PREFIX:
        for (size_t i = 0; i < f->n_prefixes; i++)
            if (len >= f->prefix_lens[i] && memcmp(s, f->prefixes[i], f->prefix_lens[i]) == 0)
                return true;
        return false;
    case SL_FILTER_REGEX: {
        pcre2_match_data *md = pcre2_match_data_create(1, NULL);
        if (md == NULL)
            return false;
        int rc = pcre2_match(f->re, (PCRE2_SPTR)s, len, 0, 0, md, NULL);
        pcre2_match_data_free(md);
        return rc >= 0;
    }
    }
    return false;
}

void sl_filter_free(struct sl_filter *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n_prefixes; i++)
        free(f->prefixes[i]);
    free(f->prefixes);
    free(f->prefix_lens);
    pcre2_code_free(f->re);
    free(f);
}
