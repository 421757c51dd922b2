/* buf.h: a growable byte buffer, and the JSON text writer built on it.
 *
 * A struct sl_buf owns `data` (malloc'd, NUL-terminated after every append so it
 * can be used as a C string). Appends never fail silently: on allocation failure
 * the buffer is marked `failed` and further appends do nothing; check it once at
 * the end. Not thread-safe: one owner at a time. */
#ifndef SL_UTIL_BUF_H
#define SL_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
};

void sl_buf_init(struct sl_buf *b);
void sl_buf_free(struct sl_buf *b);
void sl_buf_reset(struct sl_buf *b); /* len = 0, keeps the memory */
bool sl_buf_reserve(struct sl_buf *b, size_t extra);
void sl_buf_append(struct sl_buf *b, const void *data, size_t len);
void sl_buf_puts(struct sl_buf *b, const char *s);
/* Inline: builders call it for every byte they do not copy in runs (URLs,
 * separators), and a call through append and reserve cost more than the byte. */
static inline void sl_buf_putc(struct sl_buf *b, char c)
{
    if (b->failed || (b->len + 2 > b->cap && !sl_buf_reserve(b, 1)))
        return;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}
void sl_buf_printf(struct sl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the memory to the caller (who frees it) and leaves `b` empty. */
char *sl_buf_steal(struct sl_buf *b, size_t *len);

/* Appends `s` as a quoted JSON string: '"' and '\\' are escaped, controls
 * below 0x20 too (\n, \r and \t by name, the others as \u00XX), each byte that
 * starts no valid UTF-8 sequence becomes \ufffd, and everything else (DEL and
 * valid UTF-8 included) is copied as it is, in runs. Hand-written rather
 * than via jansson because sluice embeds stored JSON payloads verbatim next to
 * escaped fields, which jansson cannot do without parsing every payload again. */
void sl_buf_json_string(struct sl_buf *b, const char *s, size_t len);

/* Appends `data` as a base64 string (standard alphabet, padded), quoted. */
void sl_buf_json_base64(struct sl_buf *b, const void *data, size_t len);

#endif
