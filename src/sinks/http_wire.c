/* http_wire.c: a kept-alive HTTP/1.1 connection for the HTTP sink (see http_wire.h). */
#include "sinks/http_wire.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/codec.h"

#define HTTP_WIRE_POLL_MS 50     /* how often a waiting exchange looks at *cancel */
#define HTTP_WIRE_COALESCE 65536 /* through TLS, bodies up to this size go out in one write with the head */
#define HEADER_NAME_MAX 32       /* longer header names are not ones we read */
#define HEADER_VALUE_MAX 64

struct sl_http_wire {
    struct sl_http_wire_options options;
    char *ca_file;

    CURL *curl;       /* the connection, NULL when there is none */
    curl_socket_t fd; /* its socket */
    bool is_plain;    /* no TLS: the socket is read and written directly (see make_blocking) */
    char *origin;     /* what `curl` is connected to */
    bool is_reused;   /* the connection has carried an answered exchange */
    char errbuf[CURL_ERROR_SIZE];
    struct sl_buf out; /* head and body, when sent as one through TLS */

    /* The exchange in progress. */
    const _Atomic bool *cancel;
    int64_t deadline_ms;

    /* Reading its answer. */
    http_parser parser;
    struct sl_http_answer *answer;
    bool is_complete;   /* the final answer is read */
    bool is_keep_alive; /* ... and it leaves the connection open */
    bool is_in_value;   /* the parser is inside a header value */
    char field[HEADER_NAME_MAX + 1];
    size_t field_len;
    char value[HEADER_VALUE_MAX + 1];
    size_t value_len;
    bool is_field_long, is_value_long;
};

/* How one step of sending or reading ended. */
enum io_result {
    IO_OK,
    IO_CLOSED,    /* the peer closed or reset the connection */
    IO_TIMEOUT,   /* the exchange's deadline passed */
    IO_CANCELLED, /* *cancel */
    IO_BROKEN,    /* anything else, with a message */
};

static bool is_cancelled(const _Atomic bool *cancel)
{
    return cancel != NULL && atomic_load(cancel);
}

/* ---- answers ---- */

int64_t sl_http_retry_after_ms(const char *value, size_t len)
{
    while (len > 0 && (*value == ' ' || *value == '\t')) {
        value++;
        len--;
    }
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t' || value[len - 1] == '\r'))
        len--;
    char text[HEADER_VALUE_MAX + 1];
    if (len == 0 || len > HEADER_VALUE_MAX)
        return -1;
    memcpy(text, value, len);
    text[len] = '\0';
    int64_t seconds;
    if (sl_parse_u63(text, len, &seconds))
        return seconds > INT64_MAX / 1000 ? INT64_MAX : seconds * 1000;
    time_t when = curl_getdate(text, NULL);
    if (when == (time_t)-1)
        return -1;
    time_t now = time(NULL);
    return when > now ? (int64_t)(when - now) * 1000 : 0;
}

static void reset_answer(struct sl_http_answer *a)
{
    a->status = 0;
    a->retry_after_ms = -1;
    a->snippet_len = 0;
    a->snippet[0] = '\0';
}

/* Appends up to what fits of `data` to `buf`, noting when it did not fit. */
static void keep_text(char *buf, size_t cap, size_t *len, bool *is_long, const char *data, size_t n)
{
    if (*len + n > cap) {
        *is_long = true;
        n = cap - *len;
    }
    memcpy(buf + *len, data, n);
    *len += n;
}

/* A header is complete: note the one we read. */
static void end_header(struct sl_http_wire *w)
{
    if (!w->is_field_long && w->field_len == 11 && strncasecmp(w->field, "Retry-After", 11) == 0)
        w->answer->retry_after_ms = w->is_value_long ? -1 : sl_http_retry_after_ms(w->value, w->value_len);
    w->field_len = w->value_len = 0;
    w->is_field_long = w->is_value_long = false;
    w->is_in_value = false;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct sl_http_wire *w = p->data;
    if (w->is_in_value)
        end_header(w);
    keep_text(w->field, HEADER_NAME_MAX, &w->field_len, &w->is_field_long, at, n);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct sl_http_wire *w = p->data;
    w->is_in_value = true;
    keep_text(w->value, HEADER_VALUE_MAX, &w->value_len, &w->is_value_long, at, n);
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct sl_http_wire *w = p->data;
    if (w->is_in_value)
        end_header(w);
    w->answer->status = (int)p->status_code;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct sl_http_wire *w = p->data;
    struct sl_http_answer *a = w->answer;
    for (size_t i = 0; i < n && a->snippet_len < SL_HTTP_SNIPPET_MAX; i++) {
        unsigned char c = (unsigned char)at[i];
        a->snippet[a->snippet_len++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    a->snippet[a->snippet_len] = '\0';
    return 0;
}

/* An interim answer (1xx) is skipped; the final one pauses the parser, so
 * that anything the server sends after it shows as unexpected. */
static int on_message_complete(http_parser *p)
{
    struct sl_http_wire *w = p->data;
    if (p->status_code >= 100 && p->status_code < 200 && p->status_code != 101) {
        reset_answer(w->answer);
        return 0;
    }
    w->is_complete = true;
    w->is_keep_alive = http_should_keep_alive(p) != 0;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings answer_parser = {
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- the connection ---- */

static void disconnect(struct sl_http_wire *w)
{
    if (w->curl)
        curl_easy_cleanup(w->curl);
    w->curl = NULL;
    free(w->origin);
    w->origin = NULL;
    w->is_reused = false;
}

static int64_t time_left_ms(const struct sl_http_wire *w)
{
    return w->deadline_ms - sl_monotonic_ms();
}

/* Aborts a connect in progress once the caller cancels. */
static int on_connect_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                               curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    const struct sl_http_wire *w = arg;
    return is_cancelled(w->cancel) ? 1 : 0;
}

/* A plain connection (no TLS) is put in blocking mode with send and receive
 * timeouts of HTTP_WIRE_POLL_MS: a request then costs one send and one recv,
 * where a non-blocking socket needs a poll before each. Through TLS, libcurl
 * reads and writes (its TLS library may hold bytes the socket no longer has). */
static void make_blocking(struct sl_http_wire *w)
{
    int flags = fcntl(w->fd, F_GETFL);
    struct timeval slice = {.tv_sec = 0, .tv_usec = HTTP_WIRE_POLL_MS * 1000};
    w->is_plain = flags >= 0 && fcntl(w->fd, F_SETFL, flags & ~O_NONBLOCK) == 0 &&
                  setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &slice, sizeof(slice)) == 0 &&
                  setsockopt(w->fd, SOL_SOCKET, SO_SNDTIMEO, &slice, sizeof(slice)) == 0;
    if (!w->is_plain && flags >= 0)
        (void)fcntl(w->fd, F_SETFL, flags); /* back as libcurl left it */
}

/* Whether libcurl may have gone through a proxy, which may speak TLS itself. */
static bool is_proxy_configured(void)
{
    static const char *const names[] = {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = getenv(names[i]);
        if (v && v[0])
            return true;
    }
    return false;
}

/* Opens a connection to `origin` (resolving, connecting, tunnelling through a
 * proxy, TLS), within what is left of the exchange's time. */
static enum sl_http_exchange connect_to(struct sl_http_wire *w, const char *origin, char *error,
                                        size_t error_size)
{
    int64_t left = time_left_ms(w);
    if (left < 1)
        left = 1;
    w->origin = strdup(origin);
    CURL *c = curl_easy_init();
    if (c == NULL || w->origin == NULL) {
        if (c)
            curl_easy_cleanup(c);
        free(w->origin);
        w->origin = NULL;
        snprintf(error, error_size, "out of memory connecting to %s", origin);
        return SL_HTTP_FAILED;
    }
    w->errbuf[0] = '\0';
    CURLcode rc = CURLE_OK;
#define SET(opt, value)                                                                                      \
    do {                                                                                                     \
        if (rc == CURLE_OK)                                                                                  \
            rc = curl_easy_setopt(c, opt, value);                                                            \
    } while (0)
    SET(CURLOPT_URL, origin);
    SET(CURLOPT_CONNECT_ONLY, 1L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)left);
    SET(CURLOPT_TIMEOUT_MS, (long)left);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    /* Through a proxy, a tunnel: the requests written here are for the target. */
    SET(CURLOPT_HTTPPROXYTUNNEL, 1L);
    /* TLS must not agree on HTTP/2: what is written here is HTTP/1.1. */
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_ERRORBUFFER, w->errbuf);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_XFERINFOFUNCTION, on_connect_progress);
    SET(CURLOPT_XFERINFODATA, w);
    SET(CURLOPT_SSL_VERIFYPEER, w->options.is_tls_verified ? 1L : 0L);
    SET(CURLOPT_SSL_VERIFYHOST, w->options.is_tls_verified ? 2L : 0L);
    if (w->ca_file)
        SET(CURLOPT_CAINFO, w->ca_file);
#undef SET
    if (rc == CURLE_OK)
        rc = curl_easy_perform(c);
    curl_socket_t fd = CURL_SOCKET_BAD;
    if (rc == CURLE_OK && curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, &fd) == CURLE_OK &&
        fd != CURL_SOCKET_BAD) {
        w->curl = c;
        w->fd = fd;
        w->is_reused = false;
        w->is_plain = false;
        if (strncasecmp(origin, "http://", 7) == 0 && !is_proxy_configured())
            make_blocking(w);
        return SL_HTTP_ANSWERED;
    }
    if (rc == CURLE_OK)
        rc = CURLE_COULDNT_CONNECT;
    curl_easy_cleanup(c);
    free(w->origin);
    w->origin = NULL;
    if (rc == CURLE_ABORTED_BY_CALLBACK || is_cancelled(w->cancel)) {
        snprintf(error, error_size, "cancelled while connecting");
        return SL_HTTP_CANCELLED;
    }
    snprintf(error, error_size, "%s", w->errbuf[0] ? w->errbuf : curl_easy_strerror(rc));
    bool is_permanent = rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ||
                        rc == CURLE_NOT_BUILT_IN || rc == CURLE_BAD_FUNCTION_ARGUMENT;
    return is_permanent ? SL_HTTP_BAD_URL : SL_HTTP_FAILED;
}

/* Waits until the connection is ready for `events`, in slices that look at
 * the cancel flag and the deadline. */
static enum io_result wait_for(struct sl_http_wire *w, short events)
{
    for (;;) {
        if (is_cancelled(w->cancel))
            return IO_CANCELLED;
        int64_t left = time_left_ms(w);
        if (left <= 0)
            return IO_TIMEOUT;
        struct pollfd pfd = {.fd = w->fd, .events = events};
        int n = poll(&pfd, 1, (int)(left < HTTP_WIRE_POLL_MS ? left : HTTP_WIRE_POLL_MS));
        if (n > 0)
            return IO_OK;
    }
}

/* After a socket call that timed out (a plain connection) or would block: go
 * on unless cancelled or past the deadline. */
static enum io_result may_go_on(const struct sl_http_wire *w)
{
    if (is_cancelled(w->cancel))
        return IO_CANCELLED;
    return time_left_ms(w) <= 0 ? IO_TIMEOUT : IO_OK;
}

/* Through libcurl (TLS, or a proxy): writes all of `data`, waiting when the socket is full. */
static enum io_result send_all(struct sl_http_wire *w, const char *data, size_t len)
{
    while (len > 0) {
        size_t sent = 0;
        enum io_result r = may_go_on(w);
        if (r != IO_OK)
            return r;
        CURLcode rc = curl_easy_send(w->curl, data, len, &sent);
        if (rc == CURLE_AGAIN) {
            r = wait_for(w, POLLOUT);
            if (r != IO_OK)
                return r;
            continue;
        }
        if (rc != CURLE_OK)
            return rc == CURLE_SEND_ERROR || rc == CURLE_UNSUPPORTED_PROTOCOL ? IO_CLOSED : IO_BROKEN;
        data += sent;
        len -= sent;
    }
    return IO_OK;
}

/* Reads what has come, waiting for it: IO_OK with *n > 0, or with *n == 0 at
 * the end of the connection; IO_CLOSED when it was reset. */
static enum io_result receive(struct sl_http_wire *w, char *buf, size_t cap, size_t *n)
{
    for (;;) {
        *n = 0;
        /* Also between pieces: an answer that trickles in must not outlast the deadline. */
        enum io_result r = may_go_on(w);
        if (r != IO_OK)
            return r;
        if (w->is_plain) {
            ssize_t got = recv(w->fd, buf, cap, 0);
            if (got >= 0) {
                *n = (size_t)got;
                return IO_OK;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return IO_CLOSED;
            continue;
        }
        CURLcode rc = curl_easy_recv(w->curl, buf, cap, n);
        if (rc == CURLE_OK)
            return IO_OK;
        if (rc != CURLE_AGAIN)
            return IO_CLOSED;
        r = wait_for(w, POLLIN);
        if (r != IO_OK)
            return r;
    }
}

/* A plain connection: head and body in one sendmsg, without copying them together. */
static enum io_result send_plain(struct sl_http_wire *w, const char *head, size_t head_len, const void *body,
                                 size_t body_len)
{
    struct iovec iov[2] = {{.iov_base = (void *)head, .iov_len = head_len},
                           {.iov_base = (void *)body, .iov_len = body_len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    while (msg.msg_iovlen > 0) {
        enum io_result r = may_go_on(w);
        if (r != IO_OK)
            return r;
        ssize_t n = sendmsg(w->fd, &msg, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            continue;
        if (n < 0)
            return errno == EPIPE || errno == ECONNRESET ? IO_CLOSED : IO_BROKEN;
        size_t sent = (size_t)n;
        while (msg.msg_iovlen > 0 && sent >= msg.msg_iov[0].iov_len) {
            sent -= msg.msg_iov[0].iov_len;
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
        if (msg.msg_iovlen > 0) {
            msg.msg_iov[0].iov_base = (char *)msg.msg_iov[0].iov_base + sent;
            msg.msg_iov[0].iov_len -= sent;
        }
    }
    return IO_OK;
}

static enum io_result send_request(struct sl_http_wire *w, const char *head, size_t head_len,
                                   const void *body, size_t body_len)
{
    if (w->is_plain)
        return send_plain(w, head, head_len, body, body_len);
    if (body_len <= HTTP_WIRE_COALESCE) {
        sl_buf_reset(&w->out);
        sl_buf_append(&w->out, head, head_len);
        sl_buf_append(&w->out, body, body_len);
        if (!w->out.failed)
            return send_all(w, w->out.data, w->out.len);
    }
    enum io_result r = send_all(w, head, head_len);
    return r == IO_OK ? send_all(w, body, body_len) : r;
}

/* Reads until the final answer is parsed. `*got_bytes` says whether any byte
 * of an answer came (a kept connection that died before that is retried). */
static enum io_result read_answer(struct sl_http_wire *w, bool *got_bytes, char *error, size_t error_size)
{
    http_parser_init(&w->parser, HTTP_RESPONSE);
    w->parser.data = w;
    w->is_complete = w->is_keep_alive = w->is_in_value = false;
    w->field_len = w->value_len = 0;
    w->is_field_long = w->is_value_long = false;
    *got_bytes = false;
    char buf[16384];
    for (;;) {
        size_t n = 0;
        enum io_result r = receive(w, buf, sizeof(buf), &n);
        if (r == IO_CLOSED) {
            snprintf(error, error_size, "%s",
                     *got_bytes ? "connection reset in the middle of the answer"
                                : "connection reset before an answer");
            return IO_CLOSED;
        }
        if (r != IO_OK)
            return r;
        if (n == 0) {
            /* The end of the connection ends an answer without a length. */
            http_parser_execute(&w->parser, &answer_parser, NULL, 0);
            if (w->is_complete) {
                w->is_keep_alive = false;
                return IO_OK;
            }
            snprintf(error, error_size, "%s",
                     *got_bytes ? "connection closed in the middle of the answer"
                                : "Empty reply from server");
            return IO_CLOSED;
        }
        *got_bytes = true;
        size_t used = http_parser_execute(&w->parser, &answer_parser, buf, n);
        enum http_errno e = HTTP_PARSER_ERRNO(&w->parser);
        if (w->is_complete) {
            if (used < n)
                w->is_keep_alive = false; /* bytes nobody asked for: do not trust what follows */
            return IO_OK;
        }
        if (e != HPE_OK) {
            snprintf(error, error_size, "the answer is not HTTP/1.1: %s", http_errno_description(e));
            return IO_BROKEN;
        }
    }
}

/* ---- exchanges ---- */

struct sl_http_wire *sl_http_wire_new(const struct sl_http_wire_options *options)
{
    struct sl_http_wire *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->options = *options;
    if (options->ca_file && options->ca_file[0]) {
        w->ca_file = strdup(options->ca_file);
        if (w->ca_file == NULL) {
            free(w);
            return NULL;
        }
    }
    w->options.ca_file = w->ca_file;
    if (w->options.timeout_ms < 1)
        w->options.timeout_ms = 30000;
    sl_buf_init(&w->out);
    return w;
}

void sl_http_wire_release(struct sl_http_wire *w)
{
    if (w != NULL)
        sl_buf_free(&w->out);
}

void sl_http_wire_free(struct sl_http_wire *w)
{
    if (w == NULL)
        return;
    disconnect(w);
    sl_buf_free(&w->out);
    free(w->ca_file);
    free(w);
}

enum sl_http_exchange sl_http_wire_exchange(struct sl_http_wire *w, const char *origin, const char *head,
                                            size_t head_len, const void *body, size_t body_len,
                                            const _Atomic bool *cancel, struct sl_http_answer *answer,
                                            char *error, size_t error_size)
{
    reset_answer(answer);
    error[0] = '\0';
    w->answer = answer;
    w->cancel = cancel;
    w->deadline_ms = sl_monotonic_ms() + w->options.timeout_ms;
    if (w->curl && strcmp(w->origin, origin) != 0)
        disconnect(w);
    for (int attempt = 1;; attempt++) {
        if (is_cancelled(cancel)) {
            snprintf(error, error_size, "cancelled");
            return SL_HTTP_CANCELLED;
        }
        if (w->curl == NULL) {
            enum sl_http_exchange c = connect_to(w, origin, error, error_size);
            if (c != SL_HTTP_ANSWERED)
                return c;
        }
        bool was_reused = w->is_reused;
        bool got_bytes = false;
        enum io_result r = send_request(w, head, head_len, body, body_len);
        if (r == IO_CLOSED)
            snprintf(error, error_size, "connection closed while sending");
        else if (r == IO_BROKEN)
            snprintf(error, error_size, "cannot send: %s", w->errbuf[0] ? w->errbuf : "connection broken");
        if (r == IO_OK)
            r = read_answer(w, &got_bytes, error, error_size);
        if (r == IO_OK) {
            if (w->is_keep_alive)
                w->is_reused = true;
            else
                disconnect(w);
            return SL_HTTP_ANSWERED;
        }
        disconnect(w);
        /* A kept connection the server closed while it was idle: once more on a new one. */
        if (r == IO_CLOSED && was_reused && !got_bytes && attempt == 1)
            continue;
        if (r == IO_CANCELLED) {
            snprintf(error, error_size, "cancelled while waiting for the answer");
            return SL_HTTP_CANCELLED;
        }
        if (r == IO_TIMEOUT)
            snprintf(error, error_size, "timed out after %ld ms waiting for the answer",
                     w->options.timeout_ms);
        return SL_HTTP_FAILED;
    }
}
