#include "util/buf.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

void sl_buf_init(struct sl_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void sl_buf_free(struct sl_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void sl_buf_reset(struct sl_buf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data)
        b->data[0] = '\0';
}

bool sl_buf_reserve(struct sl_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void sl_buf_append(struct sl_buf *b, const void *data, size_t len)
{
    if (!sl_buf_reserve(b, len))
        return;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void sl_buf_puts(struct sl_buf *b, const char *s)
{
    sl_buf_append(b, s, strlen(s));
}

void sl_buf_putc(struct sl_buf *b, char c)
{
    sl_buf_append(b, &c, 1);
}

void sl_buf_printf(struct sl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        sl_buf_append(b, small, (size_t)n);
        return;
    }
    if (!sl_buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *sl_buf_steal(struct sl_buf *b, size_t *len)
{
    if (!sl_buf_reserve(b, 0)) {
        sl_buf_free(b);
        if (len)
            *len = 0;
        return NULL;
    }
    char *p = b->data;
    if (len)
        *len = b->len;
    memset(b, 0, sizeof(*b));
    return p;
}

void sl_buf_json_string(struct sl_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (!sl_buf_reserve(b, len + 2))
        return;
    sl_buf_putc(b, '"');
    size_t i = 0;
    while (i < len) {
        /* Copy the longest run that needs no escaping in one go. */
        size_t run = i;
        while (run < len && (unsigned char)s[run] >= 0x20 && (unsigned char)s[run] < 0x80 && s[run] != '"' &&
               s[run] != '\\')
            run++;
        if (run > i) {
            sl_buf_append(b, s + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t n = sl_utf8_sequence_length(s + i, len - i);
            if (n == 0) {
                sl_buf_puts(b, "\\ufffd");
                i++;
            } else {
                sl_buf_append(b, s + i, n);
                i += n;
            }
            continue;
        }
        switch (c) {
        case '"':
            sl_buf_puts(b, "\\\"");
            break;
        case '\\':
            sl_buf_puts(b, "\\\\");
            break;
        case '\n':
            sl_buf_puts(b, "\\n");
            break;
        case '\r':
            sl_buf_puts(b, "\\r");
            break;
        case '\t':
            sl_buf_puts(b, "\\t");
            break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sl_buf_append(b, esc, sizeof(esc));
        }
        }
        i++;
    }
    sl_buf_putc(b, '"');
}

void sl_buf_json_base64(struct sl_buf *b, const void *data, size_t len)
{
    size_t out = 4 * ((len + 2) / 3);
    if (!sl_buf_reserve(b, out + 3))
        return;
    sl_buf_putc(b, '"');
    /* EVP_EncodeBlock takes an int length: encode in slices. */
    const unsigned char *p = data;
    while (len > 0) {
        size_t slice = len > (size_t)3 * 1024 * 1024 ? (size_t)3 * 1024 * 1024 : len;
        int n = EVP_EncodeBlock((unsigned char *)b->data + b->len, p, (int)slice);
        b->len += (size_t)n;
        p += slice;
        len -= slice;
    }
    b->data[b->len] = '\0';
    sl_buf_putc(b, '"');
}
