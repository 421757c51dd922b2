/* grpc_stream.c: server-streaming gRPC calls sent in batches, with back-pressure (grpc_stream.h). */
#include "api/grpc_stream.h"

#include <stdlib.h>
#include <string.h>

/* Batches per stream per loop turn, so that long reads share the loop. */
#define STEPS_PER_TURN 8

struct sl_grpc_streams {
    struct sl_api *api;
    struct sl_grpc_stream *head;
    size_t count;
};

struct sl_grpc_streams *sl_api_grpc_streams_new(struct sl_api *api)
{
    struct sl_grpc_streams *streams = calloc(1, sizeof(*streams));
    if (streams)
        streams->api = api;
    return streams;
}

size_t sl_api_grpc_streams_count(const struct sl_grpc_streams *streams)
{
    return streams ? streams->count : 0;
}

void sl_api_grpc_streams_free(struct sl_grpc_streams *streams)
{
    free(streams);
}

static void link_stream(struct sl_grpc_stream *s)
{
    struct sl_grpc_streams *streams = s->api->grpc_streams;
    if (streams == NULL)
        return;
    s->prev = NULL;
    s->next = streams->head;
    if (streams->head)
        streams->head->prev = s;
    streams->head = s;
    streams->count++;
}

static void unlink_stream(struct sl_grpc_stream *s)
{
    struct sl_grpc_streams *streams = s->api->grpc_streams;
    if (streams == NULL)
        return;
    if (s->prev)
        s->prev->next = s->next;
    else if (streams->head == s)
        streams->head = s->next;
    else
        return; /* never linked */
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    streams->count--;
}

/* Frees the owner's state once nothing refers to the stream any more. */
static void maybe_release(struct sl_grpc_stream *s)
{
    if (!s->is_ended || s->is_resume_posted || s->depth > 0)
        return;
    sl_buf_free(&s->out);
    s->release(s);
}

/* Marks the stream ended and hands back its call; NULL when it had ended already. */
static struct sl_grpc_call *take_call(struct sl_grpc_stream *s)
{
    if (s->is_ended)
        return NULL;
    s->is_ended = true;
    unlink_stream(s);
    struct sl_grpc_call *call = s->call;
    s->call = NULL;
    return call;
}

void sl_grpc_stream_end(struct sl_grpc_stream *s, enum sl_grpc_status status, const char *message)
{
    struct sl_grpc_call *call = take_call(s);
    if (call == NULL)
        return;
    sl_api_grpc_finish(call, status, message, NULL, 0);
    maybe_release(s);
}

void sl_grpc_stream_fail(struct sl_grpc_stream *s, const struct sl_error *err, const char *stream, size_t len)
{
    struct sl_grpc_call *call = take_call(s);
    if (call == NULL)
        return;
    sl_api_grpc_fail(call, err, stream, len);
    maybe_release(s);
}

void sl_grpc_stream_send(struct sl_grpc_stream *s)
{
    if (!s->is_ended)
        sl_api_grpc_send(s->call, &s->out);
}

/* Reads the target of a link event into `target`; false when it is not a link or the target is gone. */
static bool resolve_link(struct sl_store *store, const struct sl_event *ev, struct sl_read_result *target)
{
    int64_t revision;
    const char *stream;
    size_t stream_len;
    if (ev->type_len != 2 || memcmp(ev->type, "$>", 2) != 0 ||
        !sl_grpc_parse_link(ev->data, ev->data_len, &revision, &stream, &stream_len))
        return false;
    struct sl_error err;
    return sl_store_read_stream(store, stream, stream_len, revision, false, 1, target, &err) == SL_OK &&
           target->count == 1 && target->events[0].revision == revision;
}

bool sl_grpc_stream_send_event(struct sl_grpc_stream *s, const struct sl_event *ev, bool uuid_structured,
                               bool resolve_links)
{
    struct sl_read_result target = {0};
    bool ok;
    if (resolve_links && resolve_link(s->api->store, ev, &target))
        ok = sl_grpc_encode_resolved(&s->out, &target.events[0], ev, uuid_structured);
    else
        ok = sl_grpc_encode_event(&s->out, ev, uuid_structured);
    sl_read_result_free(&target);
    if (!ok) {
        sl_grpc_stream_end(s, SL_GRPC_RESOURCE_EXHAUSTED, "out of memory encoding an event");
        return false;
    }
    sl_grpc_stream_send(s);
    return true;
}

static void on_resume(void *arg)
{
    struct sl_grpc_stream *s = arg;
    s->is_resume_posted = false;
    if (s->is_ended)
        maybe_release(s);
    else
        sl_grpc_stream_pump(s);
}

void sl_grpc_stream_pump(struct sl_grpc_stream *s)
{
    if (s->is_ended)
        return;
    s->depth++;
    bool is_turn_over = false;
    for (int steps = 0; !s->is_ended; steps++) {
        /* Over the high-water mark the server promises on_drain, which resumes. */
        if (sl_grpc_pending(s->call) > SL_GRPC_HIGH_WATER)
            break;
        if (steps == STEPS_PER_TURN) {
            is_turn_over = true;
            break;
        }
        if (!s->step(s))
            break;
    }
    if (is_turn_over && !s->is_ended && !s->is_resume_posted)
        s->is_resume_posted = sl_server_post(s->api->server, on_resume, s);
    s->depth--;
    maybe_release(s);
}

static void on_cancel(struct sl_grpc_call *call)
{
    if (call->user)
        sl_grpc_stream_end(call->user, SL_GRPC_CANCELLED, "cancelled by the client");
}

static void on_drain(struct sl_grpc_call *call)
{
    if (call->user)
        sl_grpc_stream_pump(call->user);
}

void sl_grpc_stream_start(struct sl_grpc_stream *s, struct sl_api *api, struct sl_grpc_call *call)
{
    s->api = api;
    s->call = call;
    s->is_ended = false;
    s->is_resume_posted = false;
    s->depth = 0;
    sl_buf_init(&s->out);
    link_stream(s);
    call->user = s;
    call->on_message = NULL;
    call->on_half_close = NULL;
    call->on_cancel = on_cancel;
    call->on_drain = on_drain;
    sl_grpc_stream_pump(s);
}

void sl_api_grpc_streams_on_commit(struct sl_grpc_streams *streams)
{
    if (streams == NULL || streams->count == 0)
        return;
    /* Pin the live streams first: pumping one may end others (a connection
     * that fails cancels all its calls), and a pinned stream is not released. */
    struct sl_grpc_stream **live = malloc(streams->count * sizeof(*live));
    if (live == NULL)
        return; /* they catch up at the next commit */
    size_t n = 0;
    for (struct sl_grpc_stream *s = streams->head; s && n < streams->count; s = s->next) {
        if (s->is_live) {
            s->depth++;
            live[n++] = s;
        }
    }
    for (size_t i = 0; i < n; i++)
        sl_grpc_stream_pump(live[i]);
    for (size_t i = 0; i < n; i++) {
        live[i]->depth--;
        maybe_release(live[i]);
    }
    free(live);
}

void sl_api_grpc_streams_end_all(struct sl_grpc_streams *streams)
{
    if (streams == NULL)
        return;
    while (streams->head)
        sl_grpc_stream_end(streams->head, SL_GRPC_UNAVAILABLE, "Server is shutting down");
}
