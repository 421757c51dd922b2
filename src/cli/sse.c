#include "cli/sse.h"

#include <string.h>

static const char bom[] = "\xEF\xBB\xBF";

void sl_sse_init(struct sl_sse_parser *p, sl_sse_handler on_event, void *arg)
{
    memset(p, 0, sizeof(*p));
    p->on_event = on_event;
    p->arg = arg;
    p->is_first = true;
    sl_buf_init(&p->line);
    sl_buf_init(&p->data);
    sl_buf_init(&p->type);
    sl_buf_init(&p->id);
}

void sl_sse_free(struct sl_sse_parser *p)
{
    if (p == NULL)
        return;
    sl_buf_free(&p->line);
    sl_buf_free(&p->data);
    sl_buf_free(&p->type);
    sl_buf_free(&p->id);
}

/* A blank line: hands the gathered event to the handler, then starts a new one. */
static bool dispatch(struct sl_sse_parser *p)
{
    bool keep_going = true;
    if (p->has_data) {
        /* Each data line appended a '\n'; the last one is not part of the data. */
        p->data.data[--p->data.len] = '\0';
        struct sl_sse_event ev = {
            .data = p->data.data,
            .data_len = p->data.len,
            .id = p->id.data ? p->id.data : "",
            .type = p->type.len ? p->type.data : "message",
        };
        keep_going = p->on_event(&ev, p->arg);
    }
    sl_buf_reset(&p->data);
    sl_buf_reset(&p->type);
    p->has_data = false;
    return keep_going;
}

/* One complete line, without its end. */
static bool process_line(struct sl_sse_parser *p, const char *line, size_t len)
{
    if (len == 0)
        return dispatch(p);
    if (line[0] == ':')
        return true;

    const char *colon = memchr(line, ':', len);
    size_t name_len = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : line + len;
    size_t value_len = (size_t)(line + len - value);
    if (value_len > 0 && value[0] == ' ') {
        value++;
        value_len--;
    }

    if (name_len == 4 && memcmp(line, "data", 4) == 0) {
        sl_buf_append(&p->data, value, value_len);
        sl_buf_putc(&p->data, '\n');
        p->has_data = true;
        return !p->data.failed;
    }
    if (name_len == 5 && memcmp(line, "event", 5) == 0) {
        sl_buf_reset(&p->type);
        sl_buf_append(&p->type, value, value_len);
        return !p->type.failed;
    }
    if (name_len == 2 && memcmp(line, "id", 2) == 0) {
        if (memchr(value, '\0', value_len) != NULL)
            return true; /* the standard ignores such an id */
        sl_buf_reset(&p->id);
        sl_buf_append(&p->id, value, value_len);
        return !p->id.failed;
    }
    return true; /* retry: and unknown fields do not matter here */
}

bool sl_sse_feed(struct sl_sse_parser *p, const char *bytes, size_t len)
{
    size_t i = 0;

    /* Skip a UTF-8 BOM at the very start, even when it arrives in pieces. */
    while (p->is_first && i < len) {
        if (bytes[i] == bom[p->bom_seen]) {
            i++;
            if (++p->bom_seen == 3)
                p->is_first = false;
            continue;
        }
        /* Not a BOM after all: what matched so far is content. */
        sl_buf_append(&p->line, bom, p->bom_seen);
        p->is_first = false;
    }

    while (i < len) {
        if (p->after_cr && bytes[i] == '\n') {
            p->after_cr = false;
            i++;
            continue;
        }
        p->after_cr = false;

        const char *end = bytes + i;
        size_t n = 0;
        while (i + n < len && end[n] != '\n' && end[n] != '\r')
            n++;
        if (i + n == len) {
            sl_buf_append(&p->line, end, n);
            return !p->line.failed;
        }

        bool ok;
        if (p->line.len == 0) {
            ok = process_line(p, end, n);
        } else {
            sl_buf_append(&p->line, end, n);
            if (p->line.failed)
                return false;
            ok = process_line(p, p->line.data, p->line.len);
            sl_buf_reset(&p->line);
        }
        p->after_cr = end[n] == '\r';
        i += n + 1;
        if (!ok)
            return false;
    }
    return true;
}
