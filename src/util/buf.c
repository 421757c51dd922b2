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

/* Eight copies of byte `c`. */
#define BYTES8(c) (UINT64_C(0x0101010101010101) * (c))

/* True when one of the 8 bytes of `x` needs a look: a control below 0x20, '"',
 * '\\', or 0x80 and up (a UTF-8 sequence to check). Bit tricks from "Bit
 * Twiddling Hacks" (hasless/haszero): each term is exact as a yes/no. */
static bool word_needs_care(uint64_t x)
{
    uint64_t high = BYTES8(0x80);
    uint64_t below_space = (x - BYTES8(0x20)) & ~x;
    uint64_t quote = (x ^ BYTES8('"')) - BYTES8(0x01);
    quote &= ~(x ^ BYTES8('"'));
    uint64_t backslash = (x ^ BYTES8('\\')) - BYTES8(0x01);
    backslash &= ~(x ^ BYTES8('\\'));
    return ((x | below_space | quote | backslash) & high) != 0;
}

static bool byte_is_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* The end of the run from `i` that is copied as it is: printable ASCII other
 * than '"' and '\\', and valid UTF-8 sequences. Eight bytes at a time while
 * they are plain ASCII, which header names and values nearly always are. */
static size_t clean_run_end(const char *s, size_t i, size_t len)
{
    for (;;) {
        while (i + 8 <= len) {
            uint64_t word;
            memcpy(&word, s + i, 8);
            if (word_needs_care(word))
                break;
            i += 8;
        }
        while (i < len && byte_is_plain((unsigned char)s[i]))
            i++;
        if (i == len || (unsigned char)s[i] < 0x80)
            return i;
        size_t n = sl_utf8_sequence_length(s + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
}

/* Appends the escape for byte `c`, which ends a clean run. */
static void append_escape(struct sl_buf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '"':
        sl_buf_append(b, "\\\"", 2);
        break;
    case '\\':
        sl_buf_append(b, "\\\\", 2);
        break;
    case '\n':
        sl_buf_append(b, "\\n", 2);
        break;
    case '\r':
        sl_buf_append(b, "\\r", 2);
        break;
    case '\t':
        sl_buf_append(b, "\\t", 2);
        break;
    default:
        if (c >= 0x80) {
            sl_buf_append(b, "\\ufffd", 6); /* a byte that starts no valid UTF-8 sequence */
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sl_buf_append(b, esc, sizeof(esc));
        }
    }
}

void sl_buf_json_string(struct sl_buf *b, const char *s, size_t len)
{
    if (!sl_buf_reserve(b, len + 2))
        return;
    size_t i = clean_run_end(s, 0, len);
    if (i == len) {
        /* Nothing to escape, as nearly always: quote and copy into the room reserved. */
        char *p = b->data + b->len;
        p[0] = '"';
        if (len > 0)
            memcpy(p + 1, s, len);
        p[len + 1] = '"';
        p[len + 2] = '\0';
        b->len += len + 2;
        return;
    }
    sl_buf_putc(b, '"');
    sl_buf_append(b, s, i);
    while (i < len) {
        append_escape(b, (unsigned char)s[i++]);
        size_t end = clean_run_end(s, i, len);
        sl_buf_append(b, s + i, end - i);
        i = end;
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
