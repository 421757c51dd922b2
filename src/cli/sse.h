/* sse.h: an incremental parser of Server-Sent Events (text/event-stream).
 *
 * Feed it the bytes of a response as they arrive, cut anywhere (in the middle
 * of a line, of a CRLF, of a UTF-8 sequence). It calls `on_event` once for each
 * complete event, that is each blank-line-terminated block holding at least
 * one `data:` line, following the WHATWG rules: lines end with LF, CRLF or CR;
 * `:` lines are comments (keep-alives); a field's value loses one leading
 * space; several `data:` lines join with '\n'; `id:` persists across events;
 * `event:` applies to one event. An event not ended by a blank line when the
 * stream ends is dropped, as the standard says.
 *
 * The event's strings are valid only during the call. One parser per stream,
 * on one thread. */
#ifndef SL_CLI_SSE_H
#define SL_CLI_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

struct sl_sse_event {
    const char *data; /* NUL-terminated; may contain '\n' when several data lines came */
    size_t data_len;
    const char *id;   /* the last id seen on this stream, "" when none */
    const char *type; /* the event: field, "message" when none */
};

/* Returns false to stop the parser: sl_sse_feed() then returns false too. */
typedef bool (*sl_sse_handler)(const struct sl_sse_event *ev, void *arg);

struct sl_sse_parser {
    sl_sse_handler on_event;
    void *arg;
    struct sl_buf line; /* the line being received */
    struct sl_buf data;
    struct sl_buf type;
    struct sl_buf id;
    bool has_data;   /* a data: line came since the last dispatch */
    bool after_cr;   /* the previous byte ended a line with CR: skip a following LF */
    bool is_first;   /* nothing received yet: a leading BOM is skipped */
    size_t bom_seen; /* bytes of a leading BOM matched so far */
};

void sl_sse_init(struct sl_sse_parser *p, sl_sse_handler on_event, void *arg);

/* Returns false when the handler asked to stop or memory ran out. */
bool sl_sse_feed(struct sl_sse_parser *p, const char *bytes, size_t len);

void sl_sse_free(struct sl_sse_parser *p); /* NULL-safe */

#endif
