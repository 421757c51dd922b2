/* event_json.h: an event as the HTTP API shows it.
 * `{"streamId", "revision", "position", "eventId", "eventType", "contentType",
 *   "created", "data", "metadata"}`: JSON payloads are embedded as stored,
 * binary ones as base64 strings. Pure, any thread. */
#ifndef SL_API_EVENT_JSON_H
#define SL_API_EVENT_JSON_H

#include "store/store.h"
#include "util/buf.h"

void sl_event_to_json(struct sl_buf *b, const struct sl_event *ev);

#endif
