#include "util/codec.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

void sl_uuid_generate(uint8_t out[16])
{
    uuid_generate_random(out);
}

bool sl_uuid_parse(const char *s, size_t len, uint8_t out[16])
{
    char tmp[37];
    if (len != 36)
        return false;
    memcpy(tmp, s, 36);
    tmp[36] = '\0';
    return uuid_parse(tmp, out) == 0;
}

void sl_uuid_format(const uint8_t id[16], char out[37])
{
    uuid_unparse_lower(id, out);
}

static bool is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

uint8_t *sl_base64_decode(const char *in, size_t len, size_t *out_len)
{
    size_t pad = 0;
    while (len > 0 && in[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if (len % 4 == 1 || len > (size_t)1 << 30)
        return NULL;
    for (size_t i = 0; i < len; i++)
        if (!is_b64(in[i]))
            return NULL;

    /* EVP_DecodeBlock wants whole, padded quads. */
    size_t padded = (len + 3) / 4 * 4;
    char *quad = malloc(padded + 1);
    uint8_t *out = malloc(padded / 4 * 3 + 1);
    if (quad == NULL || out == NULL) {
        free(quad);
        free(out);
        return NULL;
    }
    memcpy(quad, in, len);
    memset(quad + len, '=', padded - len);
    int n = padded ? EVP_DecodeBlock(out, (const unsigned char *)quad, (int)padded) : 0;
    free(quad);
    if (n < 0) {
        free(out);
        return NULL;
    }
    /* EVP_DecodeBlock counts the bytes that padding stands for: drop them. */
    *out_len = (size_t)n - (padded - len);
    return out;
}

bool sl_parse_u63(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 19)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Writes the digits of `v` and a NUL at `out`; returns how many digits. */
static size_t put_digits(uint64_t v, char *out)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    for (size_t i = 0; i < n; i++)
        out[i] = digits[n - 1 - i];
    out[n] = '\0';
    return n;
}

size_t sl_format_u64(uint64_t v, char out[SL_DECIMAL_MAX])
{
    return put_digits(v, out);
}

size_t sl_format_i64(int64_t v, char out[SL_DECIMAL_MAX])
{
    if (v >= 0)
        return put_digits((uint64_t)v, out);
    /* The magnitude as unsigned: -INT64_MIN does not fit in int64. */
    out[0] = '-';
    return 1 + put_digits(~(uint64_t)v + 1, out + 1);
}
