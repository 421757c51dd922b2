/* grpc_call.c: gRPC calls on HTTP/2 streams: the request head and its checks, request messages
 * reassembled from DATA frames, response messages queued for nghttp2's data provider, trailers,
 * and the API of grpc.h.
 *
 * Request messages. The 5-byte prefix (compressed flag, big-endian length) may be split anywhere
 * across DATA frames. A message that arrives whole in one chunk goes to on_message straight from
 * nghttp2's buffer; otherwise it is gathered in a buffer that grows as bytes arrive (a length
 * announced but never sent costs nothing). Buffers and metadata count against the connection's
 * SL_H2_INPUT_BOUND.
 *
 * Responses. The first sl_grpc_send() submits the response headers with a data provider that
 * reads the call's queue; an empty queue defers it until the next send or the finish. The finish
 * decides the trailers: when the queue is empty the provider ends the DATA without END_STREAM
 * and submits them (nghttp2_submit_trailer). With no message sent, one HEADERS frame carries
 * status, content type and trailers, with END_STREAM (trailers-only). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/http_internal.h"
#include "util/log.h"

#define NV_LITERAL(name, value)                                                                              \
    {                                                                                                        \
        (uint8_t *)(name), (uint8_t *)(value), sizeof(name) - 1, sizeof(value) - 1, NGHTTP2_NV_FLAG_NONE     \
    }

/* ---- header fields for nghttp2 ----------------------------------------------------------- */

void sl_h2_fields_init(struct sl_h2_fields *f)
{
    memset(f, 0, sizeof(*f));
    sl_buf_init(&f->text);
}

void sl_h2_fields_free(struct sl_h2_fields *f)
{
    sl_buf_free(&f->text);
    free(f->offs);
    free(f->nv);
    sl_h2_fields_init(f);
}

void sl_h2_fields_add(struct sl_h2_fields *f, const char *name, const char *value, size_t value_len)
{
    if (f->failed)
        return;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        size_t *offs = realloc(f->offs, cap * 4 * sizeof(*offs));
        if (offs == NULL) {
            f->failed = true;
            return;
        }
        f->offs = offs;
        f->cap = cap;
    }
    size_t name_len = strlen(name);
    size_t *o = f->offs + f->n * 4;
    o[0] = f->text.len;
    o[1] = name_len;
    sl_buf_append(&f->text, name, name_len);
    o[2] = f->text.len;
    o[3] = value_len;
    sl_buf_append(&f->text, value, value_len);
    f->n++;
}

nghttp2_nv *sl_h2_fields_nv(struct sl_h2_fields *f)
{
    if (f->failed || f->text.failed || f->n == 0)
        return NULL;
    free(f->nv);
    f->nv = calloc(f->n, sizeof(*f->nv));
    if (f->nv == NULL)
        return NULL;
    uint8_t *text = (uint8_t *)f->text.data;
    for (size_t i = 0; i < f->n; i++) {
        const size_t *o = f->offs + i * 4;
        f->nv[i].name = text + o[0];
        f->nv[i].namelen = o[1];
        f->nv[i].value = text + o[2];
        f->nv[i].valuelen = o[3];
        f->nv[i].flags = NGHTTP2_NV_FLAG_NONE;
    }
    return f->nv;
}

/* ---- a call's life ----------------------------------------------------------------------- */

static struct sl_server *server_of(const struct sl_grpc_stream *s)
{
    return s->h2->http->srv;
}

/* Counts request bytes held (`add` more, `sub` fewer) for the call and its connection. */
static void account(struct sl_grpc_stream *s, size_t add, size_t sub)
{
    s->in_bytes = s->in_bytes + add - sub;
    s->h2->in_bytes = s->h2->in_bytes + add - sub;
}

struct sl_grpc_stream *sl_grpc_stream_new(struct sl_grpc_conn *h2, int32_t stream_id)
{
    struct sl_grpc_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->h2 = h2;
    s->stream_id = stream_id;
    s->has_stream = true;
    s->pub.conn = h2;
    s->pub.path = "";
    sl_h2_fields_init(&s->trailers);
    s->next = h2->calls;
    if (h2->calls != NULL)
        h2->calls->prev = s;
    h2->calls = s;
    h2->n_calls++;
    return s;
}

static void free_message(struct sl_grpc_stream *s)
{
    account(s, 0, s->msg_cap);
    free(s->msg);
    s->msg = NULL;
    s->msg_len = s->msg_cap = 0;
}

static void drop_output(struct sl_grpc_stream *s, bool is_keeping_current)
{
    struct sl_grpc_out *o = s->out_head;
    if (is_keeping_current && o != NULL && s->out_off > 0) {
        /* The client has the start of this message: it gets the rest, so the framing holds. */
        s->pending = o->len - s->out_off;
        o = o->next;
        s->out_head->next = NULL;
        s->out_tail = s->out_head;
    } else {
        s->out_head = s->out_tail = NULL;
        s->out_off = 0;
        s->pending = 0;
    }
    while (o != NULL) {
        struct sl_grpc_out *next = o->next;
        free(o);
        o = next;
    }
}

void sl_grpc_stream_free(struct sl_grpc_stream *s)
{
    struct sl_grpc_conn *h2 = s->h2;
    sl_h2_unnotify(s);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        h2->calls = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    h2->n_calls--;
    h2->in_bytes -= s->in_bytes;
    for (size_t i = 0; i < s->pub.n_metadata; i++) {
        free(s->pub.metadata[i].name);
        free(s->pub.metadata[i].value);
    }
    free(s->pub.metadata);
    free(s->path);
    free(s->msg);
    drop_output(s, false);
    sl_h2_fields_free(&s->trailers);
    free(s);
}

void sl_grpc_stream_closed(struct sl_grpc_stream *s)
{
    s->has_stream = false;
    s->is_discarding = true;
    drop_output(s, false);
    free_message(s);
    sl_h2_fields_free(&s->trailers);
    if (s->is_dispatched && !s->is_finished) {
        if (!s->pub.is_cancelled) {
            s->pub.is_cancelled = true;
            server_of(s)->stats.grpc_calls_cancelled++;
            sl_h2_notify(s, true);
        }
        return; /* the handler's still */
    }
    sl_grpc_stream_free(s);
}

/* ---- responses --------------------------------------------------------------------------- */

static bool is_token_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
}

/* The grpc-message value: bytes outside printable ASCII, and '%', as %XX (gRPC over HTTP/2). */
static void add_message(struct sl_h2_fields *f, const char *message)
{
    static const char hex[] = "0123456789ABCDEF";
    struct sl_buf b;
    sl_buf_init(&b);
    for (const unsigned char *p = (const unsigned char *)message; *p != '\0'; p++) {
        if (*p < 0x20 || *p > 0x7e || *p == '%') {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            sl_buf_append(&b, esc, 3);
        } else {
            sl_buf_putc(&b, (char)*p);
        }
    }
    if (b.failed)
        f->failed = true;
    else
        sl_h2_fields_add(f, "grpc-message", b.data != NULL ? b.data : "", b.len);
    sl_buf_free(&b);
}

/* A handler's extra trailer: lower-cased; dropped when not a token or when it would replace one
 * of the fields the server sets; control characters in the value become spaces. */
static void add_extra(struct sl_grpc_stream *s, struct sl_h2_fields *f, const struct sl_http_header *h)
{
    char name[128];
    size_t len = h->name != NULL ? strlen(h->name) : 0;
    bool is_valid = len > 0 && len < sizeof(name);
    for (size_t i = 0; is_valid && i < len; i++) {
        unsigned char ch = (unsigned char)h->name[i];
        name[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
        is_valid = is_token_char((unsigned char)name[i]);
    }
    if (is_valid) {
        name[len] = '\0';
        is_valid = strcmp(name, "grpc-status") != 0 && strcmp(name, "grpc-message") != 0 &&
                   strcmp(name, "content-type") != 0;
    }
    if (!is_valid) {
        sl_warn("grpc", "%s: trailer \"%.64s\" dropped: not a token, or one the server sets", s->pub.path,
                h->name != NULL ? h->name : "(null)");
        return;
    }
    const char *value = h->value != NULL ? h->value : "";
    size_t value_len = strlen(value);
    char *clean = malloc(value_len + 1);
    if (clean == NULL) {
        f->failed = true;
        return;
    }
    for (size_t i = 0; i < value_len; i++) {
        unsigned char ch = (unsigned char)value[i];
        clean[i] = (char)((ch < 0x20 || ch == 0x7f) ? ' ' : ch);
    }
    sl_h2_fields_add(f, name, clean, value_len);
    free(clean);
}

static void reset_stream(struct sl_grpc_stream *s)
{
    s->resp = SL_GRPC_RESP_DONE;
    nghttp2_submit_rst_stream(s->h2->session, NGHTTP2_FLAG_NONE, s->stream_id, NGHTTP2_INTERNAL_ERROR);
}

/* Ends the response: trailers-only (with `http_status`) when nothing was sent, else trailers after
 * what is queued. Does nothing once the response is ending or the stream is gone. */
static void end_response(struct sl_grpc_stream *s, int http_status, enum sl_grpc_status status,
                         const char *message, const struct sl_http_header *extras, size_t n_extras)
{
    struct sl_grpc_conn *h2 = s->h2;
    if (!s->has_stream || h2->session == NULL || s->resp >= SL_GRPC_RESP_CLOSING)
        return;
    struct sl_h2_fields *f = &s->trailers;
    sl_h2_fields_free(f);
    char num[16];
    if (s->resp == SL_GRPC_RESP_NONE) {
        snprintf(num, sizeof(num), "%d", http_status);
        sl_h2_fields_add(f, ":status", num, strlen(num));
        sl_h2_fields_add(f, "content-type", "application/grpc", 16);
    }
    snprintf(num, sizeof(num), "%d", (int)status);
    sl_h2_fields_add(f, "grpc-status", num, strlen(num));
    if (message != NULL && message[0] != '\0')
        add_message(f, message);
    for (size_t i = 0; extras != NULL && i < n_extras; i++)
        add_extra(s, f, &extras[i]);
    nghttp2_nv *nv = sl_h2_fields_nv(f);
    if (nv == NULL) {
        sl_warn("grpc", "%s: no memory for the trailers; resetting the stream", s->pub.path);
        sl_h2_fields_free(f);
        reset_stream(s);
        return;
    }
    if (s->resp == SL_GRPC_RESP_NONE) {
        int rv = nghttp2_submit_response(h2->session, s->stream_id, nv, f->n, NULL);
        sl_h2_fields_free(f);
        s->resp = SL_GRPC_RESP_DONE;
        if (rv != 0)
            reset_stream(s);
        return;
    }
    s->resp = SL_GRPC_RESP_CLOSING;
    if (s->is_deferred) {
        s->is_deferred = false;
        nghttp2_session_resume_data(h2->session, s->stream_id);
    }
}

/* The server ends a call for a fault of the client's: error trailers, the rest of the request
 * dropped, and the handler told through on_cancel (later: this runs inside nghttp2). */
static void fail_call(struct sl_grpc_stream *s, enum sl_grpc_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_call(struct sl_grpc_stream *s, enum sl_grpc_status status, const char *fmt, ...)
{
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    sl_info("grpc", "%s: ended by the server: %s", s->pub.path, message);
    s->is_discarding = true;
    s->is_broken = true;
    s->prefix_len = 0;
    free_message(s);
    server_of(s)->stats.grpc_errors++;
    drop_output(s, true);
    end_response(s, 200, status, message, NULL, 0);
    if (s->is_dispatched && !s->is_finished && !s->pub.is_cancelled) {
        s->pub.is_cancelled = true;
        sl_h2_notify(s, true);
    }
}

/* A request that never reaches the handler. */
static void refuse(struct sl_grpc_stream *s, int http_status, enum sl_grpc_status status, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

static void refuse(struct sl_grpc_stream *s, int http_status, enum sl_grpc_status status, const char *fmt,
                   ...)
{
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    sl_debug("grpc", "%s: refused with %d: %s", s->pub.path, http_status, message);
    s->is_discarding = true;
    server_of(s)->stats.grpc_errors++;
    end_response(s, http_status, status, message, NULL, 0);
}

ssize_t sl_grpc_stream_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                            uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
    (void)user_data;
    struct sl_grpc_stream *s = source->ptr;
    size_t n = 0;
    while (n < length && s->out_head != NULL) {
        struct sl_grpc_out *o = s->out_head;
        size_t take = o->len - s->out_off;
        if (take > length - n)
            take = length - n;
        memcpy(buf + n, o->data + s->out_off, take);
        n += take;
        s->out_off += take;
        if (s->out_off == o->len) {
            s->out_head = o->next;
            if (s->out_head == NULL)
                s->out_tail = NULL;
            s->out_off = 0;
            free(o);
        }
    }
    s->pending -= n;
    if (s->is_above_high && s->pending <= SL_GRPC_LOW_WATER) {
        s->is_above_high = false;
        if (s->is_dispatched && !s->is_finished && !s->pub.is_cancelled)
            sl_h2_notify(s, false);
    }
    if (s->out_head == NULL && s->resp == SL_GRPC_RESP_CLOSING) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        int rv = nghttp2_submit_trailer(session, stream_id, s->trailers.nv, s->trailers.n);
        sl_h2_fields_free(&s->trailers);
        s->resp = SL_GRPC_RESP_DONE;
        if (rv != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        return (ssize_t)n;
    }
    if (n == 0) {
        s->is_deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

/* ---- requests ---------------------------------------------------------------------------- */

bool sl_grpc_stream_header(struct sl_grpc_stream *s, const uint8_t *name, size_t namelen,
                           const uint8_t *value, size_t valuelen)
{
    if (s->is_head_too_large)
        return true;
    size_t bytes = namelen + valuelen + 32;
    if (s->head_bytes + bytes > server_of(s)->limits.max_header_bytes ||
        s->h2->in_bytes + bytes > SL_H2_INPUT_BOUND) {
        s->is_head_too_large = true;
        return true;
    }
    s->head_bytes += bytes;
    account(s, bytes, 0);
    if (namelen > 0 && name[0] == ':') {
        if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
            s->is_post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
        } else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
            free(s->path);
            s->path = strndup((const char *)value, valuelen);
            if (s->path == NULL)
                return false;
        }
        return true;
    }
    if (s->pub.n_metadata == s->metadata_cap) {
        size_t cap = s->metadata_cap ? s->metadata_cap * 2 : 8;
        struct sl_http_header *m = realloc(s->pub.metadata, cap * sizeof(*m));
        if (m == NULL)
            return false;
        s->pub.metadata = m;
        s->metadata_cap = cap;
    }
    char *n = strndup((const char *)name, namelen);
    char *v = strndup((const char *)value, valuelen);
    if (n == NULL || v == NULL) {
        free(n);
        free(v);
        return false;
    }
    for (char *p = n; *p != '\0'; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + ('a' - 'A'));
    }
    s->pub.metadata[s->pub.n_metadata].name = n;
    s->pub.metadata[s->pub.n_metadata].value = v;
    s->pub.n_metadata++;
    return true;
}

/* application/grpc, application/grpc+proto, application/grpc;charset=... */
static bool is_grpc_content_type(const char *ct)
{
    static const char grpc[] = "application/grpc";
    if (ct == NULL || strncasecmp(ct, grpc, sizeof(grpc) - 1) != 0)
        return false;
    char next = ct[sizeof(grpc) - 1];
    return next == '\0' || next == '+' || next == ';';
}

void sl_grpc_stream_begin(struct sl_grpc_stream *s)
{
    struct sl_grpc_conn *h2 = s->h2;
    struct sl_http_conn *c = h2->http;
    struct sl_server *srv = c->srv;
    s->pub.path = s->path != NULL ? s->path : "";
    if (s->is_head_too_large) {
        refuse(s, 431, SL_GRPC_RESOURCE_EXHAUSTED,
               "the request's header block is over the limit of %zu bytes", srv->limits.max_header_bytes);
        return;
    }
    if (!s->is_post) {
        refuse(s, 405, SL_GRPC_INVALID_ARGUMENT, "gRPC requests must be POST");
        return;
    }
    const char *ct = sl_grpc_metadata(&s->pub, "content-type");
    if (!is_grpc_content_type(ct)) {
        refuse(s, 415, SL_GRPC_INVALID_ARGUMENT, "content-type must be application/grpc, not \"%.64s\"",
               ct != NULL ? ct : "");
        return;
    }
    s->is_dispatched = true;
    h2->n_held++;
    c->refs++; /* until sl_grpc_finish() */
    srv->stats.grpc_calls++;
    srv->stats.grpc_calls_open++;
    srv->grpc_handler(&s->pub, srv->grpc_handler_arg);
}

static void deliver_message(struct sl_grpc_stream *s, const uint8_t *msg, size_t len)
{
    s->prefix_len = 0;
    s->msg_want = 0;
    if (s->is_dispatched && !s->is_finished && !s->pub.is_cancelled && s->pub.on_message != NULL)
        s->pub.on_message(&s->pub, msg, len);
}

/* Room for `need` bytes of the message being gathered, within the connection's bound. */
static bool reserve_message(struct sl_grpc_stream *s, size_t need)
{
    if (need <= s->msg_cap)
        return true;
    size_t cap = s->msg_cap ? s->msg_cap * 2 : 16 * 1024;
    if (cap > s->msg_want)
        cap = s->msg_want;
    if (cap < need)
        cap = need;
    if (s->h2->in_bytes - s->msg_cap + cap > SL_H2_INPUT_BOUND)
        return false;
    uint8_t *p = realloc(s->msg, cap);
    if (p == NULL)
        return false;
    account(s, cap, s->msg_cap);
    s->msg = p;
    s->msg_cap = cap;
    return true;
}

void sl_grpc_stream_data(struct sl_grpc_stream *s, const uint8_t *data, size_t len)
{
    while (len > 0 && !s->is_discarding) {
        if (s->prefix_len < 5) {
            size_t take = 5 - s->prefix_len;
            if (take > len)
                take = len;
            memcpy(s->prefix + s->prefix_len, data, take);
            s->prefix_len += take;
            data += take;
            len -= take;
            if (s->prefix_len < 5)
                return;
            uint32_t want = (uint32_t)s->prefix[1] << 24 | (uint32_t)s->prefix[2] << 16 |
                            (uint32_t)s->prefix[3] << 8 | (uint32_t)s->prefix[4];
            if (s->prefix[0] != 0) {
                fail_call(s, SL_GRPC_UNIMPLEMENTED,
                          "compressed request messages are not supported; send them uncompressed");
                return;
            }
            if (want > SL_GRPC_MAX_MESSAGE_BYTES) {
                fail_call(s, SL_GRPC_RESOURCE_EXHAUSTED,
                          "a request message of %u bytes is over the limit of %zu bytes", (unsigned)want,
                          SL_GRPC_MAX_MESSAGE_BYTES);
                return;
            }
            s->msg_want = want;
            if (len >= want) { /* all here: no copy */
                deliver_message(s, data, want);
                data += want;
                len -= want;
            }
            continue;
        }
        size_t take = s->msg_want - s->msg_len;
        if (take > len)
            take = len;
        if (!reserve_message(s, s->msg_len + take)) {
            fail_call(s, SL_GRPC_RESOURCE_EXHAUSTED,
                      "the connection holds %zu bytes of unfinished requests, the most it may (%zu bytes)",
                      s->h2->in_bytes, SL_H2_INPUT_BOUND);
            return;
        }
        memcpy(s->msg + s->msg_len, data, take);
        s->msg_len += take;
        data += take;
        len -= take;
        if (s->msg_len == s->msg_want) {
            deliver_message(s, s->msg, s->msg_len);
            free_message(s);
        }
    }
}

void sl_grpc_stream_half_close(struct sl_grpc_stream *s)
{
    if (s->is_half_closed)
        return;
    s->is_half_closed = true;
    if (s->is_discarding)
        return;
    if (s->prefix_len > 0) {
        fail_call(s, SL_GRPC_INTERNAL, "the request ended inside a message (%zu of %u bytes)",
                  s->prefix_len < 5 ? s->prefix_len : 5 + s->msg_len, 5 + (unsigned)s->msg_want);
        return;
    }
    if (s->is_dispatched && !s->is_finished && !s->pub.is_cancelled && s->pub.on_half_close != NULL)
        s->pub.on_half_close(&s->pub);
}

/* ---- the API ----------------------------------------------------------------------------- */

const char *sl_grpc_metadata(const struct sl_grpc_call *call, const char *name)
{
    for (size_t i = 0; i < call->n_metadata; i++) {
        if (strcasecmp(call->metadata[i].name, name) == 0)
            return call->metadata[i].value;
    }
    return NULL;
}

size_t sl_grpc_pending(const struct sl_grpc_call *call)
{
    const struct sl_grpc_stream *s = (const struct sl_grpc_stream *)call;
    return call->is_cancelled || !s->has_stream ? 0 : s->pending;
}

void sl_grpc_send(struct sl_grpc_call *call, const uint8_t *msg, size_t len)
{
    struct sl_grpc_stream *s = sl_grpc_stream_of(call);
    struct sl_grpc_conn *h2 = s->h2;
    if (s->is_finished) {
        sl_warn("grpc", "%s: a message sent after sl_grpc_finish() was dropped", call->path);
        return;
    }
    if (call->is_cancelled || !s->has_stream || h2->session == NULL || s->resp >= SL_GRPC_RESP_CLOSING)
        return;
    if (len > UINT32_MAX - 5) {
        sl_warn("grpc", "%s: a response message of %zu bytes cannot be framed; dropped", call->path, len);
        return;
    }
    struct sl_grpc_out *o = malloc(sizeof(*o) + 5 + len);
    if (o == NULL) {
        fail_call(s, SL_GRPC_RESOURCE_EXHAUSTED,
                  "the server has no memory for a response message of %zu bytes", len);
        sl_h2_conn_flush(h2->http);
        return;
    }
    o->next = NULL;
    o->len = 5 + len;
    o->data[0] = 0;
    o->data[1] = (uint8_t)(len >> 24);
    o->data[2] = (uint8_t)(len >> 16);
    o->data[3] = (uint8_t)(len >> 8);
    o->data[4] = (uint8_t)len;
    if (len > 0)
        memcpy(o->data + 5, msg, len);
    if (s->out_tail != NULL)
        s->out_tail->next = o;
    else
        s->out_head = o;
    s->out_tail = o;
    s->pending += o->len;
    if (s->pending > SL_GRPC_HIGH_WATER)
        s->is_above_high = true;

    if (s->resp == SL_GRPC_RESP_NONE) {
        nghttp2_nv nv[] = {NV_LITERAL(":status", "200"), NV_LITERAL("content-type", "application/grpc")};
        nghttp2_data_provider provider = {.source.ptr = s, .read_callback = sl_grpc_stream_read};
        s->resp = SL_GRPC_RESP_STREAMING;
        if (nghttp2_submit_response(h2->session, s->stream_id, nv, 2, &provider) != 0) {
            sl_warn("grpc", "%s: cannot submit the response headers; resetting the stream", call->path);
            drop_output(s, false);
            reset_stream(s);
        }
    } else if (s->is_deferred) {
        s->is_deferred = false;
        nghttp2_session_resume_data(h2->session, s->stream_id);
    }
    sl_h2_conn_flush(h2->http);
}

void sl_grpc_finish(struct sl_grpc_call *call, enum sl_grpc_status status, const char *message,
                    const struct sl_http_header *trailers, size_t n_trailers)
{
    struct sl_grpc_stream *s = sl_grpc_stream_of(call);
    struct sl_grpc_conn *h2 = s->h2;
    struct sl_http_conn *c = h2->http;
    struct sl_server *srv = c->srv;
    if (!s->is_dispatched || s->is_finished) {
        sl_warn("grpc", "%s: sl_grpc_finish() on a call already finished; ignored", call->path);
        return;
    }
    s->is_finished = true;
    s->is_discarding = true;
    h2->n_held--;
    srv->stats.grpc_calls_open--;
    if (!call->is_cancelled) {
        if (status != SL_GRPC_OK)
            srv->stats.grpc_errors++;
        end_response(s, 200, status, message, trailers, n_trailers);
    }
    sl_h2_conn_maybe_goaway(h2);
    if (!s->has_stream)
        sl_grpc_stream_free(s);
    sl_h2_conn_flush(c);
    sl_http_conn_unref(c); /* may free the connection, when it had closed */
}
