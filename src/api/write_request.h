/* write_request.h: one write (append, delete, metadata) in flight from an HTTP
 * request to the store's writer and back.
 *
 * The pending write owns its events and their buffers. sl_api_submit_write()
 * queues it; the writer's `done` posts it back to the loop thread, which ends
 * the request and frees everything. Loop thread, except the internal `done`. */
#ifndef SL_API_WRITE_REQUEST_H
#define SL_API_WRITE_REQUEST_H

#include "api/api.h"

struct sl_pending_write {
    struct sl_write w;
    struct sl_api *api;
    struct sl_http_request *req;
    struct sl_new_event *events;
    void **owned; /* buffers the events point into */
    size_t n_owned;
    char *stream; /* owned copy of the stream name */
    char expected_text[32];
    int success_status; /* 201, or 204 for deletes */
};

struct sl_pending_write *sl_pending_write_new(struct sl_api *api, struct sl_http_request *req,
                                              const char *stream, size_t stream_len, size_t n_events);
/* Makes `p` free `buf` with the write. Returns false (and frees buf) on OOM. */
bool sl_pending_write_own(struct sl_pending_write *p, void *buf);
void sl_pending_write_free(struct sl_pending_write *p);

/* Queues the write; the request is ended when it completes (or now, when it
 * cannot be queued). Takes ownership of `p` in every case. */
void sl_api_submit_write(struct sl_pending_write *p);

#endif
