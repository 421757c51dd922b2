#include "api/event_json.h"

#include "util/clock.h"
#include "util/codec.h"

static void payload(struct sl_buf *b, const void *data, size_t len, bool is_json)
{
    if (len == 0)
        sl_buf_puts(b, "null");
    else if (is_json)
        sl_buf_append(b, data, len);
    else
        sl_buf_json_base64(b, data, len);
}

void sl_event_to_json(struct sl_buf *b, const struct sl_event *ev)
{
    char id[37], created[32];
    sl_uuid_format(ev->id, id);
    sl_format_rfc3339_us(ev->created_us, created);
    sl_buf_puts(b, "{\"streamId\":");
    sl_buf_json_string(b, ev->stream, ev->stream_len);
    sl_buf_printf(b, ",\"revision\":%lld,\"position\":%llu,\"eventId\":\"%s\",\"eventType\":",
                  (long long)ev->revision, (unsigned long long)ev->position, id);
    sl_buf_json_string(b, ev->type, ev->type_len);
    sl_buf_printf(b, ",\"contentType\":\"%s\",\"created\":\"%s\",\"data\":",
                  (ev->flags & SL_EVENT_JSON) ? "application/json" : "application/octet-stream", created);
    payload(b, ev->data, ev->data_len, ev->flags & SL_EVENT_DATA_IS_JSON);
    sl_buf_puts(b, ",\"metadata\":");
    payload(b, ev->metadata, ev->metadata_len, ev->flags & SL_EVENT_META_IS_JSON);
    sl_buf_putc(b, '}');
}
