#include "api/request.h"

#include <stdlib.h>
#include <string.h>

#include "api/respond.h"
#include "util/codec.h"

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *sl_api_percent_decode(const char *in, size_t len, size_t *out_len)
{
    char *out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] != '%') {
            out[n++] = in[i];
            continue;
        }
        int hi = i + 2 < len ? hex_value(in[i + 1]) : -1;
        int lo = i + 2 < len ? hex_value(in[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[n++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

bool sl_api_expected_revision(struct sl_http_request *req, struct sl_expected *out)
{
    const char *h = sl_http_header(req, "expected-revision");
    out->kind = SL_EXPECT_ANY;
    out->revision = 0;
    if (h == NULL || strcmp(h, "any") == 0)
        return true;
    if (strcmp(h, "no_stream") == 0 || strcmp(h, "-1") == 0) {
        out->kind = SL_EXPECT_NO_STREAM;
        return true;
    }
    if (strcmp(h, "stream_exists") == 0) {
        out->kind = SL_EXPECT_EXISTS;
        return true;
    }
    if (sl_parse_u63(h, strlen(h), &out->revision)) {
        out->kind = SL_EXPECT_REVISION;
        return true;
    }
    sl_api_error(req, 400, "invalid-argument", "Expected-Revision",
                 "Expected-Revision must be any, no_stream, stream_exists or a revision >= 0");
    return false;
}

static bool parse_from(struct sl_http_request *req, struct sl_read_params *out)
{
    char *from = sl_http_query_param(req, "from");
    bool ok = true;
    if (from == NULL || strcmp(from, (out->backwards ? "end" : "start")) == 0) {
        out->from_start = !out->backwards;
        out->from_end = out->backwards;
    } else if (strcmp(from, "start") == 0) {
        out->from_start = true;
    } else if (strcmp(from, "end") == 0) {
        out->from_end = true;
    } else if (!sl_parse_u63(from, strlen(from), &out->from)) {
        sl_api_error(req, 400, "invalid-argument", "from", "from must be start, end or a number >= 0");
        ok = false;
    }
    free(from);
    return ok;
}

bool sl_api_read_params(struct sl_http_request *req, struct sl_read_params *out)
{
    memset(out, 0, sizeof(*out));
    out->count = 20;
    char *dir = sl_http_query_param(req, "direction");
    if (dir && strcmp(dir, "backwards") == 0) {
        out->backwards = true;
    } else if (dir && strcmp(dir, "forwards") != 0) {
        free(dir);
        sl_api_error(req, 400, "invalid-argument", "direction", "direction must be forwards or backwards");
        return false;
    }
    free(dir);
    if (!parse_from(req, out))
        return false;
    char *count = sl_http_query_param(req, "count");
    if (count) {
        int64_t n;
        bool ok = sl_parse_u63(count, strlen(count), &n) && n >= 1 && n <= 10000;
        free(count);
        if (!ok) {
            sl_api_error(req, 400, "invalid-argument", "count", "count must be a number from 1 to 10000");
            return false;
        }
        out->count = (size_t)n;
    }
    return true;
}

bool sl_api_filter_param(struct sl_http_request *req, struct sl_filter **out)
{
    static const struct {
        const char *prefix;
        enum sl_filter_on on;
        enum sl_filter_kind kind;
    } forms[] = {
        {"streamPrefix:", SL_FILTER_STREAM, SL_FILTER_PREFIX},
        {"streamRegex:", SL_FILTER_STREAM, SL_FILTER_REGEX},
        {"eventTypePrefix:", SL_FILTER_TYPE, SL_FILTER_PREFIX},
        {"eventTypeRegex:", SL_FILTER_TYPE, SL_FILTER_REGEX},
    };
    *out = NULL;
    char *f = sl_http_query_param(req, "filter");
    if (f == NULL)
        return true;
    struct sl_error err = {0};
    if (strcmp(f, "excludeSystemEvents") == 0) {
        *out = sl_filter_new(SL_FILTER_ALL, SL_FILTER_PREFIX, NULL, true, &err);
    } else {
        bool known = false;
        for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
            size_t n = strlen(forms[i].prefix);
            if (strncmp(f, forms[i].prefix, n) == 0) {
                known = true;
                *out = sl_filter_new(forms[i].on, forms[i].kind, f + n, false, &err);
                break;
            }
        }
        if (!known) {
            free(f);
            sl_api_error(req, 400, "invalid-argument", "filter",
                         "filter must be streamPrefix:<p,...>, streamRegex:<re>, eventTypePrefix:<p,...>, "
                         "eventTypeRegex:<re> or excludeSystemEvents");
            return false;
        }
    }
    free(f);
    if (*out == NULL) {
        sl_api_error(req, 400, "invalid-argument", "filter", "%s", err.message);
        return false;
    }
    return true;
}
