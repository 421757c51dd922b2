/* log.c: the log sink (`serilog-sink`, `log-sink`): one line per record,
 *
 *   {recordId} {stream}@{logPosition} {eventType} {data}
 *
 * on the server log (module `connector/<id>`, level info) or appended to the
 * file named by `path`. The data (with includeRecordData) is JSON as stored,
 * line breaks turned into spaces so the line stays one line and the JSON stays
 * valid, or base64 for anything else. On the server log a line is cut at the
 * log's line limit (about 2 KB); a file gets it whole.
 *
 * Delivery never fails, except that a file that cannot be opened or written
 * makes the record retry; the file is opened again on the next write. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sinks/sink.h"
#include "util/buf.h"
#include "util/log.h"

/* clang-format off */
static const struct sl_setting log_settings[] = {
    /* key                  type           default  flags  choices  min max  help */
    {"path",                SL_SET_STRING, "",      0,     NULL,    0, 0,    "append the lines to this file instead of the server log"},
    {"includeRecordData",   SL_SET_BOOL,   "true",  0,     NULL,    0, 0,    "add the record's data to its line (JSON as is, anything else as base64)"},
    {NULL},
};
/* clang-format on */

struct log_sink {
    char module[96]; /* connector/<id> */
    char *path;      /* NULL = the server log */
    int fd;          /* -1 until opened */
    bool include_data;
    struct sl_buf line, data;
};

/* Appends `s` with line breaks and other control characters as spaces. */
static void put_one_line(struct sl_buf *b, const char *s, size_t n)
{
    size_t start = b->len;
    sl_buf_append(b, s, n);
    if (b->failed)
        return;
    for (size_t i = start; i < b->len; i++)
        if ((unsigned char)b->data[i] < 0x20 || b->data[i] == 0x7f)
            b->data[i] = ' ';
}

/* Writes the record's line, without its line break, into l->line. */
static void format_line(struct log_sink *l, const struct sl_sink_record *rec)
{
    struct sl_buf *b = &l->line;
    sl_buf_reset(b);
    const char *id = rec->record_id ? rec->record_id : "";
    put_one_line(b, id, strlen(id));
    sl_buf_putc(b, ' ');
    put_one_line(b, rec->stream ? rec->stream : "", rec->stream ? rec->stream_len : 0);
    sl_buf_printf(b, "@%" PRIu64 " ", rec->position);
    put_one_line(b, rec->type ? rec->type : "", rec->type ? rec->type_len : 0);
    if (!l->include_data)
        return;
    sl_buf_putc(b, ' ');
    if (rec->is_json) {
        put_one_line(b, rec->payload, rec->payload_len);
        return;
    }
    /* sl_buf_json_base64 writes a quoted string: keep what is inside the quotes. */
    sl_buf_reset(&l->data);
    sl_buf_json_base64(&l->data, rec->payload, rec->payload_len);
    if (!l->data.failed)
        sl_buf_append(b, l->data.data + 1, l->data.len - 2);
    else
        b->failed = true;
}

/* Appends the line to the file, opening it first if need be. */
static bool append_to_file(struct log_sink *l, struct sl_sink_result *res)
{
    if (l->fd < 0) {
        l->fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (l->fd < 0) {
            snprintf(res->error, sizeof(res->error), "cannot open %s: %s", l->path, strerror(errno));
            return false;
        }
    }
    sl_buf_putc(&l->line, '\n');
    const char *p = l->line.data;
    size_t left = l->line.len;
    while (left > 0) {
        ssize_t n = write(l->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(res->error, sizeof(res->error), "cannot write to %s: %s", l->path,
                     n < 0 ? strerror(errno) : "nothing written");
            close(l->fd);
            l->fd = -1;
            return false;
        }
        p += n;
        left -= (size_t)n;
    }
    return true;
}

/* Writes one line per record, in order; a file error makes that record and
 * every later one retry. */
static void log_write(void *ctx, const struct sl_sink_record *records, size_t n,
                      struct sl_sink_result *results, const _Atomic bool *cancel)
{
    (void)cancel; /* each record takes one write(2): nothing to cancel */
    struct log_sink *l = ctx;
    struct sl_sink_result r = {.outcome = SL_SINK_DELIVERED, .retry_after_ms = -1};
    size_t i = 0;
    for (; i < n; i++) {
        format_line(l, &records[i]);
        if (l->line.failed) {
            r.outcome = SL_SINK_RETRY;
            snprintf(r.error, sizeof(r.error), "out of memory formatting a line of %zu bytes",
                     records[i].payload_len);
            break;
        }
        if (l->path == NULL) {
            sl_info(l->module, "%s", l->line.data);
        } else if (!append_to_file(l, &r)) {
            r.outcome = SL_SINK_RETRY;
            break;
        }
        results[i] = r;
    }
    for (; i < n; i++)
        results[i] = r;
}

/* Closes the file and frees the sink. NULL-safe. */
static void log_destroy(void *ctx)
{
    struct log_sink *l = ctx;
    if (l == NULL)
        return;
    if (l->fd >= 0)
        close(l->fd);
    free(l->path);
    sl_buf_free(&l->line);
    sl_buf_free(&l->data);
    free(l);
}

/* Settings -> a sink; the file is opened on the first write, so that a
 * missing directory is a retry rather than a refusal. */
static enum sl_code log_create(const struct sl_settings *s, const char *connector_id, void **ctx,
                               struct sl_error *err)
{
    *ctx = NULL;
    struct log_sink *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return sl_errorf(err, SL_E_NOMEM, "out of memory creating a log sink");
    l->fd = -1;
    snprintf(l->module, sizeof(l->module), "connector/%s", connector_id ? connector_id : "");
    l->include_data = sl_settings_bool(s, log_settings, "includeRecordData");
    const char *path = sl_settings_str(s, log_settings, "path");
    if (path && path[0]) {
        l->path = strdup(path);
        if (l->path == NULL) {
            log_destroy(l);
            return sl_errorf(err, SL_E_NOMEM, "out of memory creating a log sink");
        }
    }
    *ctx = l;
    return SL_OK;
}

const struct sl_sink_type sl_log_sink = {
    .name = "serilog-sink",
    .aliases = (const char *const[]){"log-sink", "SerilogSink", "LogSink", NULL},
    .settings = log_settings,
    .create = log_create,
    .write = log_write,
    .destroy = log_destroy,
};
