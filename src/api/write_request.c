#include "api/write_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/respond.h"

struct sl_pending_write *sl_pending_write_new(struct sl_api *api, struct sl_http_request *req,
                                              const char *stream, size_t stream_len, size_t n_events)
{
    struct sl_pending_write *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->api = api;
    p->req = req;
    p->success_status = 201;
    p->stream = malloc(stream_len + 1);
    p->events = n_events ? calloc(n_events, sizeof(*p->events)) : NULL;
    if (p->stream == NULL || (n_events && p->events == NULL)) {
        sl_pending_write_free(p);
        return NULL;
    }
    memcpy(p->stream, stream, stream_len);
    p->stream[stream_len] = '\0';
    p->w.stream = p->stream;
    p->w.stream_len = stream_len;
    p->w.events = p->events;
    p->w.n_events = n_events;
    p->w.user = p;
    snprintf(p->expected_text, sizeof(p->expected_text), "any");
    return p;
}

bool sl_pending_write_own(struct sl_pending_write *p, void *buf)
{
    void **owned = realloc(p->owned, (p->n_owned + 1) * sizeof(*owned));
    if (owned == NULL) {
        free(buf);
        return false;
    }
    p->owned = owned;
    p->owned[p->n_owned++] = buf;
    return true;
}

void sl_pending_write_free(struct sl_pending_write *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_owned; i++)
        free(p->owned[i]);
    free(p->owned);
    free(p->events);
    free(p->stream);
    free(p);
}

static void answer(struct sl_pending_write *p)
{
    struct sl_write *w = &p->w;
    struct sl_http_request *req = p->req;
    if (w->code == SL_OK) {
        if (p->success_status == 204) {
            sl_http_respond(req, 204, NULL, NULL, 0, NULL);
            return;
        }
        char body[96];
        int n = snprintf(body, sizeof(body), "{\"nextExpectedRevision\":%lld,\"position\":%llu}",
                         (long long)w->last_revision, (unsigned long long)w->position);
        sl_http_respond(req, p->success_status, "application/json", body, (size_t)n, NULL);
        return;
    }
    if (w->code == SL_E_WRONG_REVISION) {
        struct sl_buf b;
        sl_buf_init(&b);
        sl_buf_puts(&b, "{\"error\":\"wrong-expected-version\",\"message\":");
        sl_buf_json_string(&b, w->err.message, strlen(w->err.message));
        sl_buf_puts(&b, ",\"expected\":");
        sl_buf_json_string(&b, p->expected_text, strlen(p->expected_text));
        sl_buf_printf(&b, ",\"actual\":%lld}", (long long)w->actual_revision);
        sl_api_json(req, 409, &b);
        sl_buf_free(&b);
        return;
    }
    sl_api_fail(req, &w->err);
}

static void finish_on_loop(void *arg)
{
    struct sl_pending_write *p = arg;
    answer(p);
    sl_pending_write_free(p);
}

static void write_done(struct sl_write *w)
{
    struct sl_pending_write *p = w->user;
    if (!sl_server_post(p->api->server, finish_on_loop, p))
        sl_pending_write_free(p); /* the loop is gone; so is the connection */
}

void sl_api_submit_write(struct sl_pending_write *p)
{
    struct sl_error err = {0};
    p->w.done = write_done;
    switch (p->w.expected.kind) {
    case SL_EXPECT_ANY:
        break;
    case SL_EXPECT_NO_STREAM:
        snprintf(p->expected_text, sizeof(p->expected_text), "no_stream");
        break;
    case SL_EXPECT_EXISTS:
        snprintf(p->expected_text, sizeof(p->expected_text), "stream_exists");
        break;
    case SL_EXPECT_REVISION:
        snprintf(p->expected_text, sizeof(p->expected_text), "%lld", (long long)p->w.expected.revision);
        break;
    }
    if (sl_store_submit(p->api->store, &p->w, &err) != SL_OK) {
        sl_api_fail(p->req, &err);
        sl_pending_write_free(p);
    }
}
