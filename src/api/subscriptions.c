/* subscriptions.c: Server-Sent Events subscriptions to a stream or to $all.
 *
 * All on the loop thread. A subscription reads history in batches, then
 * follows the head: every commit posts one wake-up to the loop (coalesced),
 * and each subscription reads on from where it stopped, so there is no gap
 * and no duplicate between history and live events. A slow client is not
 * fed past a high-water mark of queued bytes; it resumes when the socket
 * drains. Long catch-ups yield to other connections between rounds. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "api/api.h"
#include "api/event_json.h"
#include "api/request.h"
#include "api/respond.h"
#include "store/cursor.h"
#include "store/filter.h"
#include "util/codec.h"

#define BATCH_EVENTS 256
#define ROUNDS_PER_TURN 8
#define HIGH_WATER_BYTES (256 * 1024)
#define KEEPALIVE_MS 15000

struct subscription {
    struct sl_subscriptions *owner;
    struct sl_http_request *req;
    struct subscription *prev, *next;
    bool is_all;
    char *stream;
    size_t stream_len;
    struct sl_filter *filter;
    struct sl_cursor *cursor; /* $all */
    int64_t next_rev;         /* a stream: the next revision to send */
    uint64_t skip_through;    /* a stream: events at or before this position were sent already */
    uv_timer_t keepalive;
    uv_timer_t resume; /* fires on the next loop turn to continue a long catch-up */
    int open_handles;
    bool is_ended;
    struct sl_buf out;
};

struct sl_subscriptions {
    struct sl_api *api;
    struct subscription *head;
    size_t count;
};

struct sl_subscriptions *sl_subscriptions_new(struct sl_api *api)
{
    struct sl_subscriptions *subs = calloc(1, sizeof(*subs));
    if (subs)
        subs->api = api;
    return subs;
}

size_t sl_subscriptions_count(const struct sl_subscriptions *subs)
{
    return subs ? subs->count : 0;
}

static void handle_closed(uv_handle_t *h)
{
    struct subscription *sub = h->data;
    if (--sub->open_handles == 0) {
        sl_buf_free(&sub->out);
        free(sub->stream);
        free(sub);
    }
}

static void end_subscription(struct subscription *sub)
{
    if (sub->is_ended)
        return;
    sub->is_ended = true;
    struct sl_subscriptions *subs = sub->owner;
    if (sub->prev)
        sub->prev->next = sub->next;
    else
        subs->head = sub->next;
    if (sub->next)
        sub->next->prev = sub->prev;
    subs->count--;
    sl_cursor_close(sub->cursor);
    sl_filter_free(sub->filter);
    sub->cursor = NULL;
    sub->filter = NULL;
    sub->req->user = NULL;
    sl_http_stream_end(sub->req);
    uv_timer_stop(&sub->keepalive);
    uv_timer_stop(&sub->resume);
    uv_close((uv_handle_t *)&sub->keepalive, handle_closed);
    uv_close((uv_handle_t *)&sub->resume, handle_closed);
}

static void send_events(struct subscription *sub, const struct sl_event *evs, size_t n)
{
    sl_buf_reset(&sub->out);
    for (size_t i = 0; i < n; i++) {
        if (!sub->is_all && evs[i].position <= sub->skip_through)
            continue;
        sl_buf_printf(&sub->out, "id: %llu\ndata: ", (unsigned long long)evs[i].position);
        sl_event_to_json(&sub->out, &evs[i]);
        sl_buf_puts(&sub->out, "\n\n");
    }
    if (sub->out.len)
        sl_http_stream_write(sub->req, sub->out.data, sub->out.len);
}

/* Reads and sends one batch. Returns true when there may be more to send now. */
static bool send_batch(struct subscription *sub)
{
    struct sl_store *store = sub->owner->api->store;
    struct sl_error err = {0};
    if (sub->is_all) {
        const struct sl_event *evs;
        size_t n;
        enum sl_code code = sl_cursor_next(sub->cursor, BATCH_EVENTS, 0, &evs, &n, &err);
        if (code == SL_E_TIMEOUT)
            return false;
        if (code != SL_OK) {
            end_subscription(sub);
            return false;
        }
        send_events(sub, evs, n);
        return true;
    }
    struct sl_read_result r = {0};
    enum sl_code code = sl_store_read_stream(store, sub->stream, sub->stream_len, sub->next_rev, false,
                                             BATCH_EVENTS, &r, &err);
    bool more = false;
    if (code == SL_OK && r.count > 0) {
        send_events(sub, r.events, r.count);
        sub->next_rev = r.events[r.count - 1].revision + 1;
        more = r.has_next;
    } else if (code == SL_E_DELETED) {
        static const char msg[] = "event: stream-deleted\ndata: {}\n\n";
        sl_http_stream_write(sub->req, msg, sizeof(msg) - 1);
        end_subscription(sub);
    } else if (code != SL_OK && code != SL_E_NOT_FOUND) {
        end_subscription(sub);
    }
    sl_read_result_free(&r);
    return more;
}

static void on_resume(uv_timer_t *t);

static void pump(struct subscription *sub)
{
    for (int round = 0; round < ROUNDS_PER_TURN; round++) {
        if (sub->is_ended || sl_http_stream_pending(sub->req) > HIGH_WATER_BYTES)
            return; /* on_drain resumes */
        if (!send_batch(sub))
            return;
    }
    if (!sub->is_ended)
        uv_timer_start(&sub->resume, on_resume, 0, 0);
}

static void on_resume(uv_timer_t *t)
{
    pump(t->data);
}

static void on_keepalive(uv_timer_t *t)
{
    struct subscription *sub = t->data;
    static const char ping[] = ": keep-alive\n\n";
    sl_http_stream_write(sub->req, ping, sizeof(ping) - 1);
}

static void on_abort(struct sl_http_request *req)
{
    if (req->user)
        end_subscription(req->user);
}

static void on_drain(struct sl_http_request *req)
{
    if (req->user)
        pump(req->user);
}

void sl_subscriptions_on_commit(struct sl_subscriptions *subs)
{
    struct subscription *sub = subs->head;
    while (sub) {
        struct subscription *next = sub->next; /* pump may end `sub` */
        pump(sub);
        sub = next;
    }
}

void sl_subscriptions_end_all(struct sl_subscriptions *subs)
{
    while (subs->head)
        end_subscription(subs->head);
}

void sl_subscriptions_free(struct sl_subscriptions *subs)
{
    free(subs);
}

/* Where a new subscription starts. Ends the request on bad input. */
static bool start_point(struct sl_api *api, struct sl_http_request *req, struct subscription *sub)
{
    const char *last_id = sl_http_header(req, "last-event-id");
    if (last_id) {
        int64_t p;
        if (!sl_parse_u63(last_id, strlen(last_id), &p)) {
            sl_api_error(req, 400, "invalid-argument", "Last-Event-ID", "Last-Event-ID must be a position");
            return false;
        }
        sub->skip_through = (uint64_t)p;
        if (!sub->is_all) {
            struct sl_read_result r = {0};
            struct sl_error err;
            if (sl_store_read_at(api->store, (uint64_t)p, &r, &err) == SL_OK && r.count == 1 &&
                r.events[0].stream_len == sub->stream_len &&
                memcmp(r.events[0].stream, sub->stream, sub->stream_len) == 0)
                sub->next_rev = r.events[0].revision + 1;
            sl_read_result_free(&r);
        }
        return true;
    }
    char *from = sl_http_query_param(req, "from");
    int64_t n = 0;
    bool ok = true;
    if (from == NULL || strcmp(from, "end") == 0) {
        if (sub->is_all) {
            sub->skip_through = sl_store_head(api->store);
        } else {
            struct sl_stream_info info;
            struct sl_error err;
            if (sl_store_stream_info(api->store, sub->stream, sub->stream_len, &info, &err) == SL_OK)
                sub->next_rev = info.last_revision + 1;
        }
    } else if (strcmp(from, "start") == 0) {
        sub->skip_through = 0;
    } else if (sl_parse_u63(from, strlen(from), &n)) {
        if (sub->is_all)
            sub->skip_through = n > 0 ? (uint64_t)n - 1 : 0;
        else
            sub->next_rev = n;
    } else {
        sl_api_error(req, 400, "invalid-argument", "from", "from must be start, end or a number >= 0");
        ok = false;
    }
    free(from);
    return ok;
}

void sl_api_subscribe(struct sl_api *api, struct sl_http_request *req, const char *name, size_t len)
{
    struct subscription *sub = calloc(1, sizeof(*sub));
    if (sub == NULL) {
        sl_api_error(req, 500, "out-of-memory", NULL, "out of memory");
        return;
    }
    sub->owner = api->subs;
    sub->req = req;
    sub->is_all = len == 4 && memcmp(name, "$all", 4) == 0;
    sub->stream = strndup(name, len);
    sub->stream_len = len;
    if (sub->stream == NULL || !start_point(api, req, sub) ||
        (sub->is_all && !sl_api_filter_param(req, &sub->filter))) {
        if (sub->stream == NULL)
            sl_api_error(req, 500, "out-of-memory", NULL, "out of memory");
        free(sub->stream);
        sl_filter_free(sub->filter);
        free(sub);
        return;
    }
    if (sub->is_all) {
        sub->cursor = sl_cursor_open(api->store, sub->skip_through, sub->filter);
        if (sub->cursor == NULL) {
            sl_filter_free(sub->filter);
            free(sub->stream);
            free(sub);
            sl_api_error(req, 500, "out-of-memory", NULL, "out of memory");
            return;
        }
    }
    uv_loop_t *loop = sl_server_loop(api->server);
    uv_timer_init(loop, &sub->keepalive);
    uv_timer_init(loop, &sub->resume);
    sub->keepalive.data = sub->resume.data = sub;
    sub->open_handles = 2;
    uv_timer_start(&sub->keepalive, on_keepalive, KEEPALIVE_MS, KEEPALIVE_MS);

    struct sl_subscriptions *subs = api->subs;
    sub->next = subs->head;
    if (subs->head)
        subs->head->prev = sub;
    subs->head = sub;
    subs->count++;

    req->user = sub;
    req->on_abort = on_abort;
    req->on_drain = on_drain;
    sl_http_stream_begin(req, 200, "text/event-stream",
                         "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
    static const char hello[] = ": subscribed\n\n";
    sl_http_stream_write(req, hello, sizeof(hello) - 1);
    pump(sub);
}
