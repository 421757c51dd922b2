/* fuzz_http_request.c: the server's request path, from raw bytes to the handler and back.
 *
 * Each input drives one real connection (server/http_conn.c) on a real loop: the server end of a
 * socketpair is served with sl_http_conn_open(), the input is fed to it through
 * sl_http_conn_feed() in chunks, and the loop runs between chunks so that writes complete,
 * timers at 0 ms fire and half-closes are seen. The handler answers at once, later, as a stream
 * or through the API's parameter parsers (api/request.c), and checks every request it is given.
 *
 * Input: byte 0 picks the limits, the handler's habits, the chunking and how the connection ends;
 * byte 1 seeds the choices; the rest is what the client sends.
 *
 * Properties checked:
 *   - the handler holds at most one request of the connection at a time;
 *   - a request's path has no '?' or '#', header names are lower case and values have no
 *     trailing blanks, the body is NUL-terminated and within the body limit;
 *   - sl_http_query_param() agrees with a reference form decoder, on the request's query and on
 *     its body taken as a query string;
 *   - the router's path splitting (api/router.c) gives segments inside the path without '/', and
 *     sl_api_percent_decode() agrees with a reference decoder on each;
 *   - what the server writes parses as a sequence of HTTP/1.1 responses, nothing after a
 *     `Connection: close` one: one per request the handler answered while the connection was
 *     open, plus at most one error of the server's own;
 *   - the connection is freed once it is closed and the handler ended its request.
 * An input that opens with the HTTP/2 preface takes the HTTP/2 path of the same connection; its
 * output is not HTTP/1.1 and is not checked, only that nothing crashes or leaks.
 *
 * Seeds: tests/fuzz/corpus/fuzz_http_request/ (two control bytes, then requests). */
#include <fcntl.h>
#include <http_parser.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/request.h"
#include "api/respond.h"
#include "server/http_internal.h"
#include "fuzz_conn.h"
#include "store/filter.h"
#include "util/buf.h"
#include "util/log.h"

/* The router keeps its path splitting to itself: compile router.c into this target, its handler
 * renamed so it does not clash with the library's, to fuzz the very split_path() it uses. */
#define sl_api_handle fuzz_router_handle
#include "../../src/api/router.c"
#undef sl_api_handle

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond);                      \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

#define MAX_REQUESTS 4096

/* ---- one run's state --------------------------------------------------------------------------- */

static struct sl_server *g_srv;

struct run {
    uint32_t rng;
    int habit;                    /* what the handler does: see handle() */
    struct sl_http_conn *conn;    /* NULL once freed */
    struct sl_http_request *held; /* answered later */
    bool is_held_stream;          /* `held` has begun a streamed response */
    size_t dispatched, expected;  /* requests handed over; responses they should produce */
    bool is_head[MAX_REQUESTS];   /* by dispatch order, for the response parser */
    size_t aborts;

    /* The client's view: everything read from its end, parsed as responses. */
    int peer;
    struct sl_buf out;
    size_t out_parsed;
    http_parser parser;
    size_t responses, interim, heads_seen;
    bool is_peer_broken;
    bool is_h2; /* the client sent the HTTP/2 preface: the output is not HTTP/1.1 */
};

static struct run R;

static uint32_t next_rand(void)
{
    R.rng = R.rng * 1103515245u + 12345u;
    return R.rng >> 16;
}

static bool conn_is_alive(void)
{
    return fuzz_conn_is_open(g_srv, &R.conn);
}

/* ---- references ------------------------------------------------------------------------------- */

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* application/x-www-form-urlencoded: '+' is a space, %XX a byte, a stray '%' stays. */
static char *ref_form_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    CHECK(out != NULL);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[n++] = ' ';
        } else if (s[i] == '%' && len - i >= 3 && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out[n++] = (char)(hex(s[i + 1]) << 4 | hex(s[i + 2]));
            i += 2;
        } else {
            out[n++] = s[i];
        }
    }
    out[n] = '\0';
    return out;
}

/* The first pair whose decoded key is `name`: its decoded value ("" without '='), else NULL. */
static char *ref_query_param(const char *q, const char *name)
{
    size_t len = strlen(q);
    size_t start = 0;
    while (start < len) {
        size_t end = start;
        while (end < len && q[end] != '&')
            end++;
        const char *eq = memchr(q + start, '=', end - start);
        size_t key_end = eq ? (size_t)(eq - q) : end;
        char *key = ref_form_decode(q + start, key_end - start);
        bool is_match = strcmp(key, name) == 0;
        free(key);
        if (is_match)
            return eq ? ref_form_decode(eq + 1, end - key_end - 1) : strdup("");
        start = end + 1;
    }
    return NULL;
}

/* RFC 3986 percent-decoding for path segments: a '%' must start %XX. */
static bool ref_percent_decode(const char *s, size_t len, char *out, size_t *out_len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            out[n++] = s[i];
            continue;
        }
        if (len - i < 3 || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0)
            return false;
        out[n++] = (char)(hex(s[i + 1]) << 4 | hex(s[i + 2]));
        i += 2;
    }
    *out_len = n;
    return true;
}

static void check_param(const struct sl_http_request *req, const char *name)
{
    char *want = ref_query_param(req->query, name);
    char *got = sl_http_query_param(req, name);
    CHECK((want == NULL) == (got == NULL));
    if (want != NULL)
        CHECK(strcmp(want, got) == 0);
    free(want);
    free(got);
}

/* Looks up the fixed names the API uses, and the decoded keys of the first pairs present. */
static void check_query(const struct sl_http_request *req)
{
    static const char *const names[] = {"from", "count", "direction", "filter", "", "a b"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        check_param(req, names[i]);
    const char *q = req->query;
    for (int k = 0; k < 4 && *q; k++) {
        size_t pair = strcspn(q, "&");
        size_t key_len = strcspn(q, "=&");
        char *key = ref_form_decode(q, key_len);
        check_param(req, key);
        free(key);
        q += pair;
        if (*q == '&')
            q++;
    }
}

static void check_path(const char *path)
{
    const char *seg[4];
    size_t len[4];
    size_t n = split_path(path, seg, len, 4);
    /* Reference: the non-empty run after leading slashes, cut at every '/'. */
    const char *p = path;
    while (*p == '/')
        p++;
    size_t want = 0;
    if (*p) {
        want = 1;
        for (const char *q = p; *q; q++)
            if (*q == '/' && q[1] != '\0')
                want++;
    }
    CHECK(n == (want < 5 ? want : 5));
    size_t path_len = strlen(path);
    char *decoded = malloc(path_len + 1);
    CHECK(decoded != NULL);
    for (size_t i = 0; i < n && i < 4; i++) {
        CHECK(seg[i] >= path && seg[i] + len[i] <= path + path_len);
        CHECK(memchr(seg[i], '/', len[i]) == NULL);
        size_t want_len = 0, got_len = 0;
        bool is_valid = ref_percent_decode(seg[i], len[i], decoded, &want_len);
        char *got = sl_api_percent_decode(seg[i], len[i], &got_len);
        CHECK((got != NULL) == is_valid);
        if (got != NULL) {
            CHECK(got_len == want_len && memcmp(got, decoded, got_len) == 0 && got[got_len] == '\0');
            free(got);
        }
    }
    free(decoded);
}

static void check_request(struct sl_http_request *req)
{
    CHECK(req->method != NULL && req->method[0] != '\0');
    CHECK(req->path != NULL && req->query != NULL);
    CHECK(strpbrk(req->path, "?#") == NULL && strchr(req->query, '#') == NULL);
    CHECK(req->path[0] == '/' || strcmp(req->path, "*") == 0);
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct sl_http_header *h = &req->headers[i];
        for (const char *p = h->name; *p; p++)
            CHECK(!(*p >= 'A' && *p <= 'Z'));
        size_t n = strlen(h->value);
        CHECK(n == 0 || (h->value[n - 1] != ' ' && h->value[n - 1] != '\t'));
        const char *first = sl_http_header(req, h->name);
        CHECK(first != NULL);
    }
    CHECK(req->body != NULL && req->body[req->body_len] == '\0');
    CHECK(req->body_len <= g_srv->limits.max_body_bytes);
    check_query(req);
    check_path(req->path);

    /* The body as a query string (up to its first NUL), as a client could send it in the URL. */
    struct sl_http_request as_query = {.query = req->body};
    check_param(&as_query, "filter");
    size_t key_len = strcspn(req->body, "=&");
    char *key = ref_form_decode(req->body, key_len);
    check_param(&as_query, key);
    free(key);
}

/* ---- the handler ------------------------------------------------------------------------------- */

static void on_abort(struct sl_http_request *req)
{
    CHECK(req->is_aborted);
    R.aborts++;
}

static void on_drain(struct sl_http_request *req)
{
    (void)req;
}

/* Whether ending `req` now writes a response. */
static bool will_write(const struct sl_http_request *req)
{
    const struct sl_http_conn *c = req->conn;
    return !req->is_aborted && c->state == SL_CONN_OPEN && !c->is_failed;
}

static void respond(struct sl_http_request *req)
{
    static const int statuses[] = {200, 201, 204, 304, 400, 404, 409, 413, 500, 503, 99, 1000};
    int status = statuses[next_rand() % (sizeof(statuses) / sizeof(statuses[0]))];
    R.expected += will_write(req);
    char body[256];
    int n = snprintf(body, sizeof(body), "%s %.200s", req->method, req->path);
    const char *extra = next_rand() % 4 == 0 ? "X-Fuzz: yes\r\nCache-Control: no-store\r\n" : NULL;
    sl_http_respond(req, status, "text/plain", body,
                    (size_t)(n < (int)sizeof(body) ? n : (int)sizeof(body) - 1), extra);
}

/* The API's parameter parsers, which answer 400 themselves. */
static void respond_through_api(struct sl_http_request *req)
{
    R.expected += will_write(req);
    struct sl_expected expected;
    struct sl_read_params rp;
    struct sl_filter *filter = NULL;
    if (!sl_api_expected_revision(req, &expected) || !sl_api_read_params(req, &rp) ||
        !sl_api_filter_param(req, &filter))
        return;
    CHECK(rp.count >= 1 && rp.count <= 10000);
    CHECK(!(rp.from_start && rp.from_end));
    sl_filter_free(filter);
    struct sl_buf b;
    sl_buf_init(&b);
    sl_buf_printf(&b, "{\"count\":%zu}", rp.count);
    sl_api_json(req, 200, &b);
    sl_buf_free(&b);
}

static void stream_some(struct sl_http_request *req)
{
    static const char event[] = "event: x\ndata: {}\n\n";
    int n = (int)(next_rand() % 4);
    for (int i = 0; i < n; i++)
        sl_http_stream_write(req, event, sizeof(event) - 1);
}

static void handle(struct sl_http_request *req, void *arg)
{
    (void)arg;
    CHECK(R.held == NULL); /* one request of a connection at a time */
    CHECK(R.conn != NULL && req->conn == R.conn && !req->is_aborted);
    if (R.dispatched < MAX_REQUESTS)
        R.is_head[R.dispatched] = strcmp(req->method, "HEAD") == 0;
    R.dispatched++;
    check_request(req);
    req->on_abort = on_abort;
    req->on_drain = on_drain;

    int what = R.habit == 3 ? (int)(next_rand() % 5) : R.habit;
    if (strcmp(req->method, "HEAD") == 0 && (what == 2 || what == 4))
        what = 0; /* a streamed body has no end a HEAD client could find */
    switch (what) {
    case 0:
        respond(req);
        break;
    case 1:
        R.held = req;
        break;
    case 2:
        R.expected += will_write(req);
        sl_http_stream_begin(req, 200, "text/event-stream", "Cache-Control: no-cache\r\n");
        stream_some(req);
        if (next_rand() % 2) {
            R.held = req;
            R.is_held_stream = true;
        } else {
            sl_http_stream_end(req);
        }
        break;
    case 3:
        respond_through_api(req);
        break;
    default:
        /* sl_http_respond() on a streamed response ends the stream. */
        R.expected += will_write(req);
        sl_http_stream_begin(req, 200, "text/event-stream", NULL);
        sl_http_respond(req, 200, "text/plain", "x", 1, NULL);
        break;
    }
}

/* Ends the request the handler holds; the server may hand over the next one from inside. */
static void answer_held(void)
{
    while (R.held != NULL) {
        struct sl_http_request *req = R.held;
        bool is_stream = R.is_held_stream;
        R.held = NULL;
        R.is_held_stream = false;
        if (is_stream) {
            stream_some(req);
            sl_http_stream_end(req);
        } else {
            respond(req);
        }
    }
}

/* ---- the client's end -------------------------------------------------------------------------- */

static int on_response_headers(http_parser *p)
{
    if (p->status_code / 100 == 1) {
        R.interim++;
        return 0;
    }
    size_t i = R.heads_seen++;
    return i < R.dispatched && i < MAX_REQUESTS && R.is_head[i] ? 1 : 0; /* 1: no body (HEAD) */
}

static int on_response_complete(http_parser *p)
{
    if (p->status_code / 100 != 1)
        R.responses++;
    return 0;
}

static const http_parser_settings response_settings = {
    .on_headers_complete = on_response_headers,
    .on_message_complete = on_response_complete,
};

static void parse_output(const char *data, size_t len)
{
    if (R.is_peer_broken || R.is_h2)
        return;
    size_t n = http_parser_execute(&R.parser, &response_settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&R.parser);
    if (e != HPE_OK || n != len) {
        fprintf(stderr, "the server wrote what is not HTTP/1.1 responses: %s, %zu bytes in:\n%s\n",
                http_errno_description(e), R.out_parsed + n, R.out.data ? R.out.data : "");
        R.is_peer_broken = true;
        CHECK(!"valid responses");
    }
    R.out_parsed += len;
}

static void drain_peer(void)
{
    char buf[16384];
    while (R.peer >= 0) {
        ssize_t n = read(R.peer, buf, sizeof(buf));
        if (n <= 0)
            return;
        sl_buf_append(&R.out, buf, (size_t)n);
        parse_output(buf, (size_t)n);
    }
}

static void run_loop(void)
{
    uv_run(&g_srv->loop, UV_RUN_NOWAIT);
    conn_is_alive();
    drain_peer();
}

/* ---- set-up and one input ---------------------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sl_log_set_level(SL_LOG_ERROR);
    signal(SIGPIPE, SIG_IGN);
    struct sl_server_options o = {.host = "127.0.0.1", .port = 0, .handler = handle};
    struct sl_error err = {0};
    if (sl_server_new(&o, &g_srv, &err) != SL_OK) {
        fprintf(stderr, "cannot create the server: %s\n", err.message);
        abort();
    }
    g_srv->state = SL_SRV_RUNNING; /* so responses may keep the connection alive */
    return 0;
}

static void set_limits(int profile)
{
    struct sl_server_limits *l = &g_srv->limits;
    static const struct sl_server_limits profiles[4] = {
        {.max_header_bytes = 1024, .max_body_bytes = 4096},
        {.max_header_bytes = 96, .max_body_bytes = 16},
        {.max_header_bytes = 8192, .max_body_bytes = 65536},
        {.max_header_bytes = 1024, .max_body_bytes = 4096},
    };
    *l = profiles[profile];
    l->max_connections = 16;
    /* Profile 3 has every timeout at 0 ms: a timer fires at the next loop run, so the 408 and
     * idle paths run deterministically. The others never fire within one input. */
    int ms = profile == 3 ? 0 : 3600 * 1000;
    l->header_timeout_ms = l->request_timeout_ms = l->idle_timeout_ms = ms;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t ctl = data[0];
    memset(&R, 0, sizeof(R));
    R.rng = data[1] * 2654435761u + 1;
    R.habit = (ctl >> 2) & 3;
    int chunking = (ctl >> 4) & 3;
    int ending = (ctl >> 6) & 3;
    set_limits(ctl & 3);
    const char *in = (const char *)data + 2;
    size_t len = size - 2;
    static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    R.is_h2 = len >= sizeof(h2_preface) - 1 && memcmp(in, h2_preface, sizeof(h2_preface) - 1) == 0;

    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
        return 0;
    R.peer = fds[1];
    fcntl(R.peer, F_SETFL, fcntl(R.peer, F_GETFL) | O_NONBLOCK);
    http_parser_init(&R.parser, HTTP_RESPONSE);
    sl_buf_init(&R.out);
    R.conn = sl_http_conn_open(g_srv, fds[0]);
    if (R.conn == NULL) {
        close(fds[0]);
        close(fds[1]);
        return 0;
    }

    /* The client sends, in chunks; between them the loop may run and held requests be answered. */
    size_t off = 0;
    while (off < len && conn_is_alive()) {
        size_t chunk = len - off;
        if (chunking == 1)
            chunk = 1 + next_rand() % 7;
        else if (chunking == 2)
            chunk = 1 + next_rand() % 256;
        else if (chunking == 3)
            chunk = next_rand() % 2 ? 1 : 1 + next_rand() % 4096;
        if (chunk > len - off)
            chunk = len - off;
        sl_http_conn_feed(R.conn, in + off, chunk);
        off += chunk;
        if (chunking != 0 && next_rand() % 4 == 0)
            run_loop();
        if (next_rand() % 2)
            answer_held();
        drain_peer();
    }

    /* The client goes, in one of four ways. */
    if (ending == 0 || ending == 3)
        answer_held();
    if (ending >= 2 && R.conn != NULL) {
        if (ending == 2 && next_rand() % 4 == 0) {
            /* The client vanishes: no more reads, and writes to it fail. */
            close(R.peer);
            R.peer = -1;
        } else {
            shutdown(R.peer, SHUT_WR); /* the read callback sees EOF */
        }
        for (int i = 0; i < 4; i++)
            run_loop();
    }
    if (ending == 2)
        answer_held();
    run_loop();
    if (conn_is_alive() && R.conn->state != SL_CONN_CLOSING)
        sl_http_conn_close(R.conn);
    if (R.held != NULL)
        CHECK(R.held->is_aborted);
    answer_held(); /* after the close: aborted requests end without output */
    for (int i = 0; i < 64 && g_srv->conns != NULL; i++)
        run_loop();
    CHECK(g_srv->conns == NULL); /* closed and freed */

    if (R.peer < 0 || R.is_h2) {
        /* What the client did not stay for, or HTTP/2 frames, are not checked here. */
        if (R.peer >= 0)
            close(R.peer);
        sl_buf_free(&R.out);
        return 0;
    }
    drain_peer();
    close(R.peer);
    parse_output(NULL, 0); /* EOF: a response without Content-Length ends here */
    if (R.responses < R.expected || R.responses > R.expected + 1)
        fprintf(stderr, "%zu requests dispatched, %zu responses expected, %zu written:\n%s\n", R.dispatched,
                R.expected, R.responses, R.out.data ? R.out.data : "");
    CHECK(R.responses >= R.expected && R.responses <= R.expected + 1);
    sl_buf_free(&R.out);
    return 0;
}
