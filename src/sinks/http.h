/* http.h: the HTTP sink (`http-sink`): records -> HTTP requests, on libcurl.
 *
 * One request per record (batching:maxRecords = 1, the default), or with
 * maxRecords > 1 one request per run of consecutive records that go to the
 * same URL, whose body is a JSON array of those records. The outcome of a
 * request follows its status: 2xx delivered; 408, 429, 5xx, connection errors
 * and timeouts retry (honouring Retry-After); other statuses fail.
 *
 * What the connector runtime needs beyond struct sl_sink_type is here. */
#ifndef SL_SINKS_HTTP_H
#define SL_SINKS_HTTP_H

#include <stdint.h>

#include "sinks/sink.h"

extern const struct sl_sink_type sl_http_sink;

/* batching:maxDelayMs of a sink made by sl_http_sink.create: how long the
 * runtime may wait for more records to fill a batch (0 = send what it has). */
int64_t sl_http_sink_max_delay_ms(void *ctx);

#endif
