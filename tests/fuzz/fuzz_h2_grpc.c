/* fuzz_h2_grpc.c: gRPC over HTTP/2 end to end, from structured frames to the API's handlers, a real
 * store and back.
 *
 * Each input drives one real HTTP/2 connection (server/http_conn.c, h2_conn.c, grpc_call.c) on a
 * real loop, served by the API's own gRPC router and handlers (api/grpc_*.c) on a real store and
 * connectors manager, made once per process in a temporary data directory and wired as `sluice
 * serve` wires them (sl_api_follow_store). The store starts with events enough for reads and
 * subscriptions to take many turns of the loop and outgrow the client's windows (seed_store()).
 * The client is this file: it writes the connection preface and its SETTINGS itself, then reads
 * the input as a sequence of operations, each turned into one or a few well-formed HTTP/2 frames
 * (or slightly malformed ones, when the operation's variant byte says so), fed to the server
 * through sl_http_conn_feed(). A message's payload is input bytes (MESSAGE), or a valid request
 * for the call's method built from input values (REQUEST). The loop runs between
 * operations, so that responses are written, store writes come back and reads and subscriptions
 * make progress. What the server writes is read back and parsed by an nghttp2 client session that
 * mirrors the client's state (its SETTINGS, the streams it opened, the windows it gave), and by
 * the gRPC checks below.
 *
 * Input: byte 0 picks the limits (bits 0-1), how the connection ends (2-3: the server closes it,
 * the client half-closes, the client vanishes, the client sends GOAWAY then half-closes), whether
 * operations are fed in small chunks (4), whether the client never acknowledges the server's
 * SETTINGS (5), a larger initial window (6) and an HPACK table of 0 (7); byte 1 seeds the choices;
 * then at most MAX_OPS operations, each an opcode byte (modulo N_OPS, see enum op), a variant byte
 * (below 192: well-formed, its bits choose flags; from 192: a malformation) and its arguments.
 * A stream argument counts back from the newest stream the client opened (0 = the newest). OPEN
 * picks its method from methods[] below: every method the server serves, and one it does not.
 *
 * Properties checked:
 *   - what the server writes is valid HTTP/2 for the client's state: the nghttp2 client session
 *     takes it without an invalid frame or any error (first a SETTINGS, HPACK that decodes, no
 *     frame on a stream the client never opened, no DATA beyond the windows the client gave,
 *     valid response header fields);
 *   - every response is a gRPC response: headers with :status and an application/grpc
 *     content-type, then only with :status 200 messages, then trailers with END_STREAM and one
 *     grpc-status of 0-16 (or all of that in one trailers-only HEADERS); grpc-message is
 *     percent-encoded printable ASCII;
 *   - response DATA is a sequence of whole, uncompressed, length-prefixed messages, and each
 *     unpacks as the method's response type (ReadResp, AppendResp, BatchAppendResp with its
 *     correlation id, DeleteResp, SupportedMethods, the connectors results); a unary method sends
 *     at most one, exactly one with grpc-status OK; a subscription's confirmation comes first;
 *     a method the server does not serve gets UNIMPLEMENTED and no message; a request refused
 *     for its method or content type gets 405 or 415;
 *   - a well-formed unary call whose request the client ended is answered (within 2 s), unless
 *     either side reset it or sent GOAWAY, or a window has no room for the answer;
 *   - at the end the connection is closed (as byte 0 says) and, once the loop has run, freed:
 *     every call the handlers were given was finished, no read or subscription is left
 *     registered, the server's counters of open connections and calls are back to zero, and
 *     LeakSanitizer finds nothing.
 * A RAW operation (bytes fed as they are) may do what the checking session cannot mirror: from
 * the first one on, what the server writes is read and dropped, not checked.
 *
 * Connectors Start and Reset would run a sink named by the input (an HTTP request to any URL, a
 * file appended to at any path): they go to the same router with an API that has no connectors,
 * and are answered UNAVAILABLE. Every other method reaches the real manager.
 *
 * The store lives as long as the process, so an input can meet what earlier inputs wrote: a
 * finding may need the corpus run before it to show again.
 *
 * Seeds: tests/fuzz/corpus/fuzz_h2_grpc/ (make_corpus.py: one valid request per method, and
 * some of every operation). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <nghttp2/nghttp2.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api.h"
#include "connectors/manager.h"
#include "connectors/queries.pb-c.h"
#include "server/http_internal.h"
#include "fuzz_conn.h"
#include "serverfeatures.pb-c.h"
#include "store/store.h"
#include "streams.pb-c.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"
#include "wire_types.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static void dump_run(void);

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond);                      \
            dump_run();                                                                                      \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

#define MAX_OPS 64
#define MAX_STREAMS 80 /* one per OPEN at most, and a few the client knows nothing about */
/* The server's SETTINGS_MAX_FRAME_SIZE: it announces none, so the default. */
#define FRAME_MAX 16384
#define ADMIN_TOKEN "fuzz-admin-token"
/* Well-formed window increments and initial windows stay under this, so that no window the
 * client gives can pass 2^31-1 in MAX_OPS operations: the server and the checking session then
 * agree on every window. */
#define WINDOW_STEP_MAX ((uint32_t)1 << 24)

/* ---- what the client may ask for ------------------------------------------------------------ */

#define STREAMS "/event_store.client.streams.Streams/"
#define COMMANDS "/eventstore.connectors.v1.ConnectorsCommandService/"
#define QUERIES "/eventstore.connectors.v1.ConnectorsQueryService/"

enum method_kind {
    M_READ,
    M_APPEND,
    M_BATCH_APPEND,
    M_DELETE,
    M_TOMBSTONE,
    M_FEATURES,
    M_CREATE,
    M_RECONFIGURE,
    M_CONNECTOR_DELETE,
    M_START,
    M_RESET,
    M_STOP,
    M_RENAME,
    M_LIST,
    M_GET_SETTINGS,
    M_GET_CONFIGURATION,
    M_UNKNOWN,
};

/* In enum method_kind's order. */
static const struct method {
    const char *path;
    enum method_kind kind;
    const ProtobufCMessageDescriptor *response; /* what every response message unpacks as */
    bool is_unary;                              /* at most one response message */
    bool is_unknown;                            /* not served: UNIMPLEMENTED */
} methods[] = {
    /* path, kind, the response message, unary, unknown */
    {STREAMS "Read", M_READ, &event_store__client__streams__read_resp__descriptor, false, false},
    {STREAMS "Append", M_APPEND, &event_store__client__streams__append_resp__descriptor, true, false},
    {STREAMS "BatchAppend", M_BATCH_APPEND, &event_store__client__streams__batch_append_resp__descriptor,
     false, false},
    {STREAMS "Delete", M_DELETE, &event_store__client__streams__delete_resp__descriptor, true, false},
    {STREAMS "Tombstone", M_TOMBSTONE, &event_store__client__streams__tombstone_resp__descriptor, true,
     false},
    {"/event_store.client.server_features.ServerFeatures/GetSupportedMethods", M_FEATURES,
     &event_store__client__server_features__supported_methods__descriptor, true, false},
    {COMMANDS "Create", M_CREATE, &sluice__wire__empty__descriptor, true, false},
    {COMMANDS "Reconfigure", M_RECONFIGURE, &sluice__wire__empty__descriptor, true, false},
    {COMMANDS "Delete", M_CONNECTOR_DELETE, &sluice__wire__empty__descriptor, true, false},
    {COMMANDS "Start", M_START, &sluice__wire__empty__descriptor, true, false},
    {COMMANDS "Reset", M_RESET, &sluice__wire__empty__descriptor, true, false},
    {COMMANDS "Stop", M_STOP, &sluice__wire__empty__descriptor, true, false},
    {COMMANDS "Rename", M_RENAME, &sluice__wire__empty__descriptor, true, false},
    {QUERIES "List", M_LIST, &eventstore__connectors__v1__list_connectors_result__descriptor, true, false},
    {QUERIES "GetSettings", M_GET_SETTINGS,
     &eventstore__connectors__v1__get_connector_settings_result__descriptor, true, false},
    {QUERIES "GetConfiguration", M_GET_CONFIGURATION,
     &eventstore__connectors__v1__get_connector_configuration_result__descriptor, true, false},
    {STREAMS "Subscribe", M_UNKNOWN, NULL, true, true},
};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))
static const struct method *const unknown_method = &methods[N_METHODS - 1];

/* The method a path names (as the server reads it: up to a NUL), or the unknown one. */
static const struct method *method_of(const char *path, size_t len)
{
    len = strnlen(path, len);
    for (size_t i = 0; i + 1 < N_METHODS; i++)
        if (strlen(methods[i].path) == len && memcmp(methods[i].path, path, len) == 0)
            return &methods[i];
    return unknown_method;
}

/* ---- the process's server ------------------------------------------------------------------- */

static struct sl_api g_api;       /* as `sluice serve` wires it */
static struct sl_api g_api_inert; /* the same, without connectors: see grpc_handle() */
static struct sl_server *g_srv;
static char g_dir[PATH_MAX];
static bool g_is_verbose;  /* FUZZ_H2_GRPC_VERBOSE set: each input's streams on stderr */
static uv_timer_t g_guard; /* bounds a blocking turn of the loop */
static bool g_guard_fired;

static bool is_activating(const char *path)
{
    return strcmp(path, COMMANDS "Start") == 0 || strcmp(path, COMMANDS "Reset") == 0;
}

static void grpc_handle(struct sl_grpc_call *call, void *arg)
{
    sl_api_grpc_handle(call, call->path != NULL && is_activating(call->path) ? &g_api_inert : arg);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_dir(void)
{
    if (g_dir[0] != '\0')
        nftw(g_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *what, const struct sl_error *err)
{
    fprintf(stderr, "fuzz_h2_grpc: %s: %s\n", what, err->message);
    exit(1);
}

static void write_or_die(struct sl_write *w)
{
    if (sl_store_write(g_api.store, w) != SL_OK)
        die("cannot seed the store", &w->err);
}

/* Appends `n` events of `type` with `data` to `stream`, each with an id of its own. */
static void seed_events(const char *stream, size_t n, const char *type, const char *data, size_t data_len)
{
    static uint32_t next_id;
    struct sl_new_event ev[100];
    for (size_t done = 0; done < n;) {
        size_t k = n - done < 100 ? n - done : 100;
        for (size_t i = 0; i < k; i++) {
            memset(&ev[i], 0, sizeof(ev[i]));
            uint32_t id = ++next_id;
            memcpy(ev[i].id, "fuzz-seed-id", 12);
            memcpy(ev[i].id + 12, &id, 4);
            ev[i].type = type;
            ev[i].type_len = strlen(type);
            ev[i].flags = data[0] == '{' ? SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON : 0;
            ev[i].data = data;
            ev[i].data_len = data_len;
        }
        struct sl_write w = {.kind = SL_WRITE_APPEND,
                             .stream = stream,
                             .stream_len = strlen(stream),
                             .expected = {SL_EXPECT_ANY, 0},
                             .events = ev,
                             .n_events = k};
        write_or_die(&w);
        done += k;
    }
}

/* What every input finds in the store, however it starts: more events than a read sends in one turn
 * of the loop (8 batches of 128), events big enough that a read outgrows SL_GRPC_HIGH_WATER and waits
 * for on_drain, links to resolve, a stream with $maxCount, a soft-deleted and a tombstoned stream. */
static void seed_store(void)
{
    static const char small[] = "{\"orderId\":\"o-1\",\"total\":12.5}";
    static char big[4096];
    memset(big, 'x', sizeof(big));
    memcpy(big, "{\"pad\":\"", 8);
    memcpy(big + sizeof(big) - 2, "\"}", 2);
    char name[32];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "seed-%d", i);
        seed_events(name, 300, "OrderPlaced", small, sizeof(small) - 1);
    }
    seed_events("seed-big", 400, "Blob", big, sizeof(big));
    seed_events("seed-binary", 20, "Bytes", "\x00\x01\x02\xff", 4);
    seed_events("seed-links", 1, "$>", "0@seed-0", 8);
    seed_events("seed-links", 1, "$>", "299@seed-1", 10);
    seed_events("seed-links", 1, "$>", "7@nowhere", 9);
    seed_events("seed-links", 1, "$>", "not a link", 10);
    seed_events("$$seed-2", 1, "$metadata", "{\"$maxCount\":5}", 15);
    seed_events("seed-deleted", 3, "OrderPlaced", small, sizeof(small) - 1);
    seed_events("seed-tombstoned", 3, "OrderPlaced", small, sizeof(small) - 1);
    struct sl_write del = {.kind = SL_WRITE_DELETE, .stream = "seed-deleted", .stream_len = 12};
    write_or_die(&del);
    struct sl_write tomb = {.kind = SL_WRITE_TOMBSTONE, .stream = "seed-tombstoned", .stream_len = 15};
    write_or_die(&tomb);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sl_log_set_level(SL_LOG_ERROR);
    signal(SIGPIPE, SIG_IGN);
    g_is_verbose = getenv("FUZZ_H2_GRPC_VERBOSE") != NULL;
    /* tmpfs when there is one: every commit is an fsync. */
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(g_dir, sizeof(g_dir), "%s/sluice-fuzz_h2_grpc.XXXXXX", base != NULL ? base : "/tmp");
    if (mkdtemp(g_dir) == NULL) {
        fprintf(stderr, "fuzz_h2_grpc: mkdtemp(%s): %s\n", g_dir, strerror(errno));
        exit(1);
    }
    atexit(remove_dir);

    struct sl_error err = {0};
    struct sl_store_options so = {.data_dir = g_dir};
    if (sl_store_open(&so, &g_api.store, &err) != SL_OK)
        die("cannot open the store", &err);
    seed_store();
    if (sl_connectors_open(g_api.store, &g_api.connectors, &err) != SL_OK)
        die("cannot open the connectors", &err);
    g_api.admin_token = ADMIN_TOKEN;
    g_api.started_us = sl_now_us();
    g_api.subs = sl_subscriptions_new(&g_api);
    g_api.grpc_streams = sl_api_grpc_streams_new(&g_api);
    if (g_api.subs == NULL || g_api.grpc_streams == NULL) {
        fprintf(stderr, "fuzz_h2_grpc: out of memory\n");
        exit(1);
    }
    struct sl_server_options o = {
        .host = "127.0.0.1",
        .port = 0,
        .handler = sl_api_handle,
        .handler_arg = &g_api,
        .grpc_handler = grpc_handle,
        .grpc_handler_arg = &g_api,
    };
    if (sl_server_new(&o, &g_api.server, &err) != SL_OK)
        die("cannot create the server", &err);
    g_srv = g_api.server;
    g_srv->state = SL_SRV_RUNNING; /* as if sl_server_run() had started it */
    if (sl_api_follow_store(&g_api, &err) != SL_OK)
        die("cannot follow the store", &err);

    g_api_inert.store = g_api.store;
    g_api_inert.server = g_api.server;
    g_api_inert.subs = g_api.subs;
    g_api_inert.grpc_streams = g_api.grpc_streams;
    g_api_inert.admin_token = g_api.admin_token;
    g_api_inert.started_us = g_api.started_us;
    uv_timer_init(&g_srv->loop, &g_guard);
    return 0;
}

/* ---- one run's state ------------------------------------------------------------------------ */

enum block { BLOCK_NONE, BLOCK_RESPONSE, BLOCK_TRAILERS };

/* A stream the client opened, and the server's answer on it as the checking session reads it. */
struct stream {
    int32_t id;
    const struct method *method; /* NULL: what the server made of the request is not known */
    bool is_well_formed;         /* the request head was valid */
    int expect_status;           /* the :status a complete answer must have; 0 = any */
    bool is_client_done;         /* the client sent END_STREAM */
    bool is_client_reset;        /* the client sent RST_STREAM */

    enum block block; /* the header block being read */
    int status;       /* :status, 0 until seen */
    bool is_grpc_type;
    int grpc_status; /* -1 until seen */
    bool has_response, has_trailers, is_ended, is_reset;

    uint8_t prefix[5]; /* the response message being read */
    size_t prefix_len;
    uint32_t want;
    struct sl_buf msg;
    size_t n_messages;
};

struct input {
    const uint8_t *p;
    size_t left;
};

static struct {
    uint32_t rng;
    bool is_chunked;
    bool is_acking;            /* the client acknowledges the server's SETTINGS */
    struct sl_http_conn *conn; /* NULL once freed */
    int peer;                  /* the client's end of the socket */
    bool saw_eof;
    bool is_paused; /* the client does not read what the server writes */
    nghttp2_hd_deflater *deflater;

    nghttp2_session *check; /* client session: what the server writes must be valid for it */
    bool is_checking;       /* the checking session still mirrors the client */
    int32_t mirrored_id;    /* highest stream the checking session opened */
    int settings_to_ack;    /* SETTINGS from the server the client has not acknowledged */
    bool got_goaway;        /* from the server */
    bool sent_goaway;       /* by the client */
    size_t out_bytes;       /* read from the server so far */

    struct stream streams[MAX_STREAMS];
    size_t n_streams;
    int32_t next_id; /* the next stream id the client opens */
    int last_op, n_ops;
    struct sl_buf frame; /* the bytes of the operation being built */
} R;

static void dump_run(void)
{
    fprintf(stderr, "after %d operations (the last opcode %d); %zu bytes from the server; streams:\n",
            R.n_ops, R.last_op, R.out_bytes);
    for (size_t i = 0; i < R.n_streams; i++) {
        const struct stream *st = &R.streams[i];
        fprintf(stderr, "  %d %s: :status %d grpc-status %d, %zu messages%s%s%s\n", st->id,
                st->method ? st->method->path : "(unknown)", st->status, st->grpc_status, st->n_messages,
                st->is_ended ? ", ended" : "", st->is_reset ? ", reset" : "",
                st->is_client_done ? ", sent" : "");
    }
}

static uint32_t next_rand(void)
{
    R.rng = R.rng * 1103515245u + 12345u;
    return R.rng >> 16;
}

static uint8_t take_byte(struct input *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

/* Up to `want` bytes of the input; how many there were. */
static size_t take_bytes(struct input *in, size_t want, const uint8_t **out)
{
    size_t n = want < in->left ? want : in->left;
    *out = in->p;
    in->p += n;
    in->left -= n;
    return n;
}

static uint32_t take_u32(struct input *in)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | take_byte(in);
    return v;
}

static struct stream *find_stream(int32_t id)
{
    for (size_t i = 0; i < R.n_streams; i++)
        if (R.streams[i].id == id)
            return &R.streams[i];
    return NULL;
}

/* The stream a selector byte names: 0 the newest the client opened, 1 the one before... NULL when
 * it opened none. */
static struct stream *pick_stream(struct input *in)
{
    uint8_t sel = take_byte(in);
    if (R.n_streams == 0)
        return NULL;
    return &R.streams[R.n_streams - 1 - sel % R.n_streams];
}

static bool conn_is_alive(void)
{
    return fuzz_conn_is_open(g_srv, &R.conn);
}

/* ---- the checking session: the server's output ---------------------------------------------- */

/* Everything the checking session has to send goes nowhere: the server never sees it. */
static void flush_check(void)
{
    if (!R.is_checking)
        return;
    for (;;) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(R.check, &p);
        CHECK(n >= 0);
        if (n == 0)
            return;
    }
}

/* Opens `id` in the checking session, and every stream before it the client skipped. */
static void mirror_open(int32_t id)
{
    static const nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":path", (uint8_t *)"/", 5, 1, 0},
        {(uint8_t *)":authority", (uint8_t *)"x", 10, 1, 0},
    };
    while (R.is_checking && R.mirrored_id < id) {
        int32_t got = nghttp2_submit_headers(R.check, NGHTTP2_FLAG_NONE, -1, NULL, nv, 4, NULL);
        if (got < 0) {
            R.is_checking = false; /* the session refuses (it saw a GOAWAY): it cannot follow */
            return;
        }
        R.mirrored_id = got;
    }
    flush_check();
}

static void check_message(struct stream *st, const uint8_t *msg, size_t len)
{
    bool is_first = st->n_messages == 0;
    st->n_messages++;
    CHECK(st->method == NULL || !st->method->is_unknown);
    if (st->method == NULL)
        return;
    ProtobufCMessage *m = protobuf_c_message_unpack(st->method->response, NULL, len, msg);
    if (m == NULL)
        fprintf(stderr, "stream %d: a %zu-byte message is not a %s\n", st->id, len,
                st->method->response->name);
    CHECK(m != NULL);
    if (st->method->response == &event_store__client__streams__read_resp__descriptor) {
        const EventStore__Client__Streams__ReadResp *r = (const EventStore__Client__Streams__ReadResp *)m;
        CHECK(r->content_case != EVENT_STORE__CLIENT__STREAMS__READ_RESP__CONTENT_CONFIRMATION || is_first);
    } else if (st->method->response == &event_store__client__streams__batch_append_resp__descriptor) {
        const EventStore__Client__Streams__BatchAppendResp *r =
            (const EventStore__Client__Streams__BatchAppendResp *)m;
        CHECK(r->correlation_id != NULL);
    }
    protobuf_c_message_free_unpacked(m, NULL);
}

/* Response DATA: whole length-prefixed messages, never compressed. */
static void take_response_data(struct stream *st, const uint8_t *p, size_t n)
{
    CHECK(st->has_response && !st->has_trailers && !st->is_ended && st->status == 200);
    while (n > 0) {
        if (st->prefix_len < 5) {
            size_t take = 5 - st->prefix_len < n ? 5 - st->prefix_len : n;
            memcpy(st->prefix + st->prefix_len, p, take);
            st->prefix_len += take;
            p += take;
            n -= take;
            if (st->prefix_len < 5)
                return;
            CHECK(st->prefix[0] == 0);
            st->want = (uint32_t)st->prefix[1] << 24 | (uint32_t)st->prefix[2] << 16 |
                       (uint32_t)st->prefix[3] << 8 | st->prefix[4];
            CHECK(st->want <= (uint32_t)64 << 20);
        } else {
            size_t take = st->want - st->msg.len < n ? st->want - st->msg.len : n;
            sl_buf_append(&st->msg, p, take);
            CHECK(!st->msg.failed);
            p += take;
            n -= take;
        }
        if (st->prefix_len == 5 && st->msg.len == st->want) {
            check_message(st, (const uint8_t *)st->msg.data, st->msg.len);
            sl_buf_reset(&st->msg);
            st->prefix_len = 0;
        }
    }
}

/* The server ended the stream (END_STREAM on HEADERS). */
static void check_response_end(struct stream *st)
{
    st->is_ended = true;
    CHECK(st->status != 0 && st->is_grpc_type);
    CHECK(st->grpc_status >= 0 && st->grpc_status <= 16);
    CHECK(st->prefix_len == 0); /* no message cut short */
    if (st->status != 200)
        CHECK(st->n_messages == 0 && !st->has_trailers);
    if (st->expect_status != 0)
        CHECK(st->status == st->expect_status);
    if (!st->is_well_formed || st->status != 200 || st->method == NULL)
        return;
    if (st->method->is_unknown)
        CHECK(st->grpc_status == SL_GRPC_UNIMPLEMENTED);
    if (st->method->is_unary)
        CHECK(st->grpc_status == SL_GRPC_OK ? st->n_messages == 1 : st->n_messages <= 1);
}

static struct stream *stream_of_frame(const nghttp2_frame *frame)
{
    struct stream *st = find_stream(frame->hd.stream_id);
    if (st == NULL)
        fprintf(stderr, "the server sent a frame of type %d on stream %d, which the client never opened\n",
                frame->hd.type, frame->hd.stream_id);
    CHECK(st != NULL);
    return st;
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    (void)session;
    (void)user_data;
    CHECK(frame->hd.type == NGHTTP2_HEADERS);
    struct stream *st = stream_of_frame(frame);
    if (frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
        CHECK(!st->has_response);
        st->block = BLOCK_RESPONSE;
    } else {
        CHECK(st->has_response && !st->has_trailers);
        st->block = BLOCK_TRAILERS;
    }
    return 0;
}

static bool is_named(const uint8_t *name, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(name, want, len) == 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
    (void)session;
    (void)flags;
    (void)user_data;
    struct stream *st = stream_of_frame(frame);
    if (st->block == BLOCK_RESPONSE && is_named(name, namelen, ":status")) {
        CHECK(valuelen == 3);
        st->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
    } else if (st->block == BLOCK_RESPONSE && is_named(name, namelen, "content-type")) {
        static const char grpc[] = "application/grpc";
        st->is_grpc_type = valuelen >= sizeof(grpc) - 1 && memcmp(value, grpc, sizeof(grpc) - 1) == 0 &&
                           (valuelen == sizeof(grpc) - 1 || value[sizeof(grpc) - 1] == '+' ||
                            value[sizeof(grpc) - 1] == ';');
    } else if (is_named(name, namelen, "grpc-status")) {
        CHECK(st->grpc_status == -1);
        CHECK(valuelen >= 1 && valuelen <= 2);
        int v = 0;
        for (size_t i = 0; i < valuelen; i++) {
            CHECK(value[i] >= '0' && value[i] <= '9');
            v = v * 10 + (value[i] - '0');
        }
        st->grpc_status = v;
    } else if (is_named(name, namelen, "grpc-message")) {
        for (size_t i = 0; i < valuelen; i++)
            CHECK(value[i] >= 0x20 && value[i] <= 0x7e);
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    (void)session;
    (void)user_data;
    bool is_end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
    case NGHTTP2_SETTINGS:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK))
            R.settings_to_ack++;
        break;
    case NGHTTP2_GOAWAY:
        R.got_goaway = true;
        break;
    case NGHTTP2_HEADERS: {
        struct stream *st = stream_of_frame(frame);
        if (st->block == BLOCK_RESPONSE) {
            st->has_response = true;
            CHECK(st->status != 0);
            if (!is_end)
                CHECK(st->status == 200 && st->grpc_status == -1);
        } else {
            CHECK(is_end); /* trailers end the stream */
            st->has_trailers = true;
        }
        st->block = BLOCK_NONE;
        if (is_end)
            check_response_end(st);
        break;
    }
    case NGHTTP2_DATA: {
        struct stream *st = stream_of_frame(frame);
        if (is_end)
            fprintf(stderr, "stream %d: the response ended without trailers\n", st->id);
        CHECK(!is_end);
        break;
    }
    case NGHTTP2_RST_STREAM:
        stream_of_frame(frame)->is_reset = true;
        break;
    case NGHTTP2_PUSH_PROMISE:
        CHECK(!"no server push");
        break;
    default:
        break;
    }
    return 0;
}

static int on_data_chunk_recv(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
                              size_t len, void *user_data)
{
    (void)session;
    (void)flags;
    (void)user_data;
    struct stream *st = find_stream(stream_id);
    CHECK(st != NULL);
    take_response_data(st, data, len);
    return 0;
}

static int on_invalid_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, int lib_error_code,
                                 void *user_data)
{
    (void)session;
    (void)user_data;
    fprintf(stderr, "the server sent an invalid frame (type %d, stream %d): %s\n", frame->hd.type,
            frame->hd.stream_id, nghttp2_strerror(lib_error_code));
    CHECK(!"valid frames");
    return 0;
}

static int on_error(nghttp2_session *session, int lib_error_code, const char *msg, size_t len,
                    void *user_data)
{
    (void)session;
    (void)user_data;
    fprintf(stderr, "the client session found an error in what the server sent (%s): %.*s\n",
            nghttp2_strerror(lib_error_code), (int)len, msg);
    CHECK(!"valid HTTP/2");
    return 0;
}

static nghttp2_session *new_check_session(void)
{
    nghttp2_session_callbacks *cbs = NULL;
    nghttp2_option *opt = NULL;
    nghttp2_session *s = NULL;
    CHECK(nghttp2_session_callbacks_new(&cbs) == 0 && nghttp2_option_new(&opt) == 0);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cbs, on_invalid_frame_recv);
    nghttp2_session_callbacks_set_error_callback2(cbs, on_error);
    /* Its window grows only with the WINDOW_UPDATEs the client really sends (mirrored). */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    CHECK(nghttp2_session_client_new2(&s, cbs, NULL, opt) == 0);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    return s;
}

static void drain_peer(void)
{
    uint8_t buf[16384];
    while (R.peer >= 0 && !R.saw_eof && !R.is_paused) {
        ssize_t n = read(R.peer, buf, sizeof(buf));
        if (n == 0)
            R.saw_eof = true;
        if (n <= 0)
            return;
        R.out_bytes += (size_t)n;
        if (!R.is_checking)
            continue;
        ssize_t taken = nghttp2_session_mem_recv(R.check, buf, (size_t)n);
        if (taken != n)
            fprintf(stderr, "the client session failed: %s\n", nghttp2_strerror((int)taken));
        CHECK(taken == n);
        flush_check();
    }
}

/* ---- feeding the server --------------------------------------------------------------------- */

static void feed(const void *data, size_t len)
{
    const char *p = data;
    while (len > 0 && conn_is_alive()) {
        size_t n = R.is_chunked ? 1 + next_rand() % 64 : len;
        if (n > len)
            n = len;
        sl_http_conn_feed(R.conn, p, n);
        p += n;
        len -= n;
    }
}

static void feed_frame_buf(void)
{
    CHECK(!R.frame.failed);
    feed(R.frame.data, R.frame.len);
    sl_buf_reset(&R.frame);
}

static void put_frame_head(size_t len, uint8_t type, uint8_t flags, uint32_t stream_id)
{
    uint8_t h[9] = {(uint8_t)(len >> 16),
                    (uint8_t)(len >> 8),
                    (uint8_t)len,
                    type,
                    flags,
                    (uint8_t)(stream_id >> 24),
                    (uint8_t)(stream_id >> 16),
                    (uint8_t)(stream_id >> 8),
                    (uint8_t)stream_id};
    sl_buf_append(&R.frame, h, sizeof(h));
}

static void put_u32(uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    sl_buf_append(&R.frame, b, 4);
}

static void put_zeros(size_t n)
{
    static const uint8_t zeros[256];
    while (n > 0) {
        size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
        sl_buf_append(&R.frame, zeros, k);
        n -= k;
    }
}

static void put_settings(const nghttp2_settings_entry *iv, size_t n, uint32_t stream_id)
{
    put_frame_head(6 * n, NGHTTP2_SETTINGS, NGHTTP2_FLAG_NONE, stream_id);
    for (size_t i = 0; i < n; i++) {
        uint8_t id[2] = {(uint8_t)(iv[i].settings_id >> 8), (uint8_t)iv[i].settings_id};
        sl_buf_append(&R.frame, id, 2);
        put_u32(iv[i].value);
    }
}

/* Runs the loop without blocking, reads what the server wrote, and acknowledges its SETTINGS. */
static void run_loop(void)
{
    for (int i = 0; i < 3; i++) {
        uv_run(&g_srv->loop, UV_RUN_NOWAIT);
        conn_is_alive();
        drain_peer();
        while (R.is_acking && R.settings_to_ack > 0) {
            R.settings_to_ack--;
            put_frame_head(0, NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0);
            feed_frame_buf();
        }
    }
}

static void on_guard(uv_timer_t *t)
{
    (void)t;
    g_guard_fired = true;
}

/* One turn of the loop that may block until something happens, `ms` at most. True when nothing
 * did. */
static bool wait_loop(uint64_t ms)
{
    size_t before = R.out_bytes;
    g_guard_fired = false;
    /* Repeating: were it due already when the turn starts (the loop's clock is cached), it would
     * fire before the poll, and the poll would then wait for the next timer, an hour away. */
    uv_update_time(&g_srv->loop);
    uv_timer_start(&g_guard, on_guard, ms, ms);
    uv_run(&g_srv->loop, UV_RUN_ONCE);
    uv_timer_stop(&g_guard);
    run_loop();
    return g_guard_fired && R.out_bytes == before;
}

/* ---- operations ----------------------------------------------------------------------------- */

enum op {
    OP_OPEN,     /* method: HEADERS (and CONTINUATION) opening a call */
    OP_MESSAGE,  /* stream, length (1 byte, 2 with variant bit 5), bytes: DATA with one gRPC message */
    OP_END,      /* stream: END_STREAM, on an empty DATA or on trailers (variant bit 0) */
    OP_RST,      /* stream, code: RST_STREAM */
    OP_WINDOW,   /* stream, 3 bytes: WINDOW_UPDATE (variant bit 0: the connection's) */
    OP_PING,     /* 8 bytes: PING (variant bit 0: an ACK) */
    OP_SETTINGS, /* count, count * (id, 4-byte value): SETTINGS (variant bit 0: an ACK) */
    OP_GOAWAY,   /* code, length, debug bytes: GOAWAY */
    OP_PRIORITY, /* stream, stream, weight: PRIORITY */
    OP_RAW,      /* length, bytes: fed as they are */
    OP_WAIT,     /* the loop runs until something happens, 1-4 ms at most; variant bit 7: the client
                  * stops reading what the server writes, or starts again */
    OP_REQUEST,  /* stream, shape, 3 * 8 bytes, length, bytes: a valid request for the stream's method,
                  * its values taken from the input (build_request()) */
    N_OPS
};

/* Notes that the client sent a HEADERS frame on `id`: when that is a new odd id, it opens a stream
 * (whatever the server makes of the rest), in the checking session too. */
static struct stream *open_stream(int32_t id, const struct method *m, bool is_well_formed)
{
    if (id <= 0 || !(id & 1) || id < R.next_id || R.n_streams == MAX_STREAMS)
        return NULL;
    struct stream *st = &R.streams[R.n_streams++];
    memset(st, 0, sizeof(*st));
    sl_buf_init(&st->msg);
    st->id = id;
    st->method = m;
    st->is_well_formed = is_well_formed;
    st->grpc_status = -1;
    R.next_id = id + 2;
    mirror_open(id);
    return st;
}

/* Malformations of OPEN, from variant 192 on. */
enum bad_open {
    BAD_OPEN_NONE,
    BAD_OPEN_TEXT_PLAIN,  /* content-type text/plain: 415 */
    BAD_OPEN_GET,         /* :method GET: 405 */
    BAD_OPEN_NO_PATH,     /* no :path */
    BAD_OPEN_UPPER_NAME,  /* a field name with upper case */
    BAD_OPEN_CONNECTION,  /* a connection-specific field */
    BAD_OPEN_BIG,         /* a header block over max_header_bytes: 431 */
    BAD_OPEN_EVEN_ID,     /* a stream id the client may not use */
    BAD_OPEN_OLD_ID,      /* the id of a stream opened before */
    BAD_OPEN_SELF_PRIO,   /* PRIORITY flag, the stream depending on itself */
    BAD_OPEN_PAD,         /* a pad length past the payload */
    BAD_OPEN_HPACK,       /* the header block is input bytes */
    BAD_OPEN_NO_CONT,     /* no END_HEADERS, and a PING where CONTINUATION must be */
    BAD_OPEN_ZERO_ID,     /* stream 0 */
    BAD_OPEN_INPUT_PATH,  /* :path is input bytes (length byte, bytes) */
    BAD_OPEN_TE,          /* te: gzip */
    BAD_OPEN_SPACE,       /* a value with a leading space */
    BAD_OPEN_PSEUDO_LAST, /* a pseudo-header after a regular field */
    BAD_OPEN_CONTENT_LEN, /* content-length 1 with END_STREAM and no body */
    N_BAD_OPEN
};

/* Which of the operation's `n_kinds - 1` malformations the variant asks for; 0: none. */
static int malformation(uint8_t variant, int n_kinds)
{
    return variant < 192 ? 0 : 1 + (variant - 192) % (n_kinds - 1);
}

/* The flags a well-formed variant sets; a malformed one sets none. */
static uint8_t flags_of(uint8_t variant)
{
    return variant < 192 ? variant : 0;
}

struct fields {
    nghttp2_nv nv[16];
    size_t n;
};

static void add_field(struct fields *f, const char *name, const void *value, size_t value_len)
{
    if (f->n == sizeof(f->nv) / sizeof(f->nv[0]))
        return;
    f->nv[f->n++] =
        (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, strlen(name), value_len, NGHTTP2_NV_FLAG_NONE};
}

static void add_text(struct fields *f, const char *name, const char *value)
{
    add_field(f, name, value, strlen(value));
}

/* The header block of `f`, HPACK-encoded by the client's deflater into `out`. */
static void deflate_fields(const struct fields *f, struct sl_buf *out)
{
    size_t bound = nghttp2_hd_deflate_bound(R.deflater, f->nv, f->n);
    CHECK(sl_buf_reserve(out, bound));
    ssize_t n = nghttp2_hd_deflate_hd(R.deflater, (uint8_t *)out->data + out->len, bound, f->nv, f->n);
    CHECK(n >= 0);
    out->len += (size_t)n;
}

/* A header block as HEADERS (with padding and priority as asked) and CONTINUATION frames. */
static void put_header_frames(const struct sl_buf *block, uint32_t id, uint8_t flags, bool is_split, int pad,
                              bool has_priority, uint32_t depends_on)
{
    size_t extra = (pad >= 0 ? 1 + (size_t)(pad > 255 ? 0 : pad) : 0) + (has_priority ? 5 : 0);
    size_t first = block->len;
    if (is_split)
        first = block->len / 2;
    if (first + extra > FRAME_MAX)
        first = FRAME_MAX - extra;
    if (pad > 255 && first > 200)
        first = 200; /* so that the pad length byte can say more than the payload */
    bool is_one = first == block->len;
    uint8_t hflags = flags | (is_one ? NGHTTP2_FLAG_END_HEADERS : 0) | (pad >= 0 ? NGHTTP2_FLAG_PADDED : 0) |
                     (has_priority ? NGHTTP2_FLAG_PRIORITY : 0);
    put_frame_head(first + extra, NGHTTP2_HEADERS, hflags, id);
    if (pad >= 0) {
        uint8_t pl = (uint8_t)(pad > 255 ? first + extra : (size_t)pad); /* > 255: past the payload */
        sl_buf_append(&R.frame, &pl, 1);
    }
    if (has_priority) {
        put_u32(depends_on);
        uint8_t weight = (uint8_t)next_rand();
        sl_buf_append(&R.frame, &weight, 1);
    }
    sl_buf_append(&R.frame, block->data, first);
    if (pad >= 0 && pad <= 255)
        put_zeros((size_t)pad);
    for (size_t off = first; off < block->len;) {
        size_t n = block->len - off < FRAME_MAX ? block->len - off : FRAME_MAX;
        put_frame_head(n, NGHTTP2_CONTINUATION, off + n == block->len ? NGHTTP2_FLAG_END_HEADERS : 0, id);
        sl_buf_append(&R.frame, block->data + off, n);
        off += n;
    }
}

static void op_open(struct input *in, uint8_t variant)
{
    const struct method *m = &methods[take_byte(in) % N_METHODS];
    int bad = malformation(variant, N_BAD_OPEN);
    variant = flags_of(variant);
    struct fields f = {.n = 0};
    const char *path = m->path;
    size_t path_len = strlen(path);
    if (bad == BAD_OPEN_INPUT_PATH) {
        const uint8_t *p;
        path_len = take_bytes(in, take_byte(in), &p);
        path = (const char *)p;
        m = method_of(path, path_len);
    }
    add_text(&f, ":method", bad == BAD_OPEN_GET ? "GET" : "POST");
    add_text(&f, ":scheme", "http");
    if (bad != BAD_OPEN_NO_PATH)
        add_field(&f, ":path", path, path_len);
    add_text(&f, ":authority", "localhost");
    add_text(&f, "content-type",
             bad == BAD_OPEN_TEXT_PLAIN ? "text/plain"
             : (variant & 0x20)         ? "application/grpc+proto"
                                        : "application/grpc");
    add_text(&f, "te", bad == BAD_OPEN_TE ? "gzip" : "trailers");
    if (variant & 0x10) {
        add_text(&f, "user-agent", "grpc-node-js/1.11.1");
        add_text(&f, "grpc-timeout", "4999m");
        add_text(&f, "authorization", "Bearer " ADMIN_TOKEN);
        add_text(&f, "x-trace-bin", "AAEC");
    }
    char *big = NULL;
    switch (bad) {
    case BAD_OPEN_UPPER_NAME:
        add_text(&f, "X-Upper", "1");
        break;
    case BAD_OPEN_CONNECTION:
        add_text(&f, "connection", "close");
        break;
    case BAD_OPEN_BIG: {
        /* Over the limit with the fields above, under nghttp2's own limit for one field. */
        size_t n = g_srv->limits.max_header_bytes - 60;
        big = malloc(n);
        CHECK(big != NULL);
        memset(big, 'b', n);
        add_field(&f, "x-big", big, n);
        break;
    }
    case BAD_OPEN_SPACE:
        add_text(&f, "x-space", " leading");
        break;
    case BAD_OPEN_PSEUDO_LAST:
        add_text(&f, ":protocol", "grpc");
        break;
    case BAD_OPEN_CONTENT_LEN:
        add_text(&f, "content-length", "1");
        break;
    default:
        break;
    }

    int32_t id = R.next_id;
    if (variant & 0x40)
        id += 2 * (int32_t)(1 + next_rand() % 3); /* skips some: they are closed */
    if (bad == BAD_OPEN_EVEN_ID)
        id = R.next_id + 1;
    else if (bad == BAD_OPEN_ZERO_ID)
        id = 0;
    else if (bad == BAD_OPEN_OLD_ID && R.n_streams > 0)
        id = R.streams[next_rand() % R.n_streams].id;

    struct sl_buf block;
    sl_buf_init(&block);
    if (bad == BAD_OPEN_HPACK) {
        const uint8_t *p;
        size_t n = take_bytes(in, take_byte(in), &p);
        sl_buf_append(&block, p, n);
        m = NULL;
    } else {
        deflate_fields(&f, &block);
    }
    free(big);
    uint8_t flags = (variant & 0x01) || bad == BAD_OPEN_CONTENT_LEN ? NGHTTP2_FLAG_END_STREAM : 0;
    int pad = bad == BAD_OPEN_PAD ? 256 : (variant & 0x04) ? (int)(next_rand() % 16) : -1;
    bool has_priority = (variant & 0x08) || bad == BAD_OPEN_SELF_PRIO;
    uint32_t depends_on = bad == BAD_OPEN_SELF_PRIO ? (uint32_t)id : 0;
    if (bad == BAD_OPEN_NO_CONT) {
        put_frame_head(block.len, NGHTTP2_HEADERS, flags, (uint32_t)id);
        sl_buf_append(&R.frame, block.data, block.len);
        put_frame_head(8, NGHTTP2_PING, 0, 0);
        put_zeros(8);
    } else {
        put_header_frames(&block, (uint32_t)id, flags, (variant & 0x02) != 0, pad, has_priority, depends_on);
    }
    sl_buf_free(&block);

    struct stream *st = open_stream(id, m, bad == BAD_OPEN_NONE || bad == BAD_OPEN_INPUT_PATH);
    if (st != NULL) {
        st->expect_status = bad == BAD_OPEN_TEXT_PLAIN ? 415 : bad == BAD_OPEN_GET ? 405 : 0;
        st->is_client_done = (flags & NGHTTP2_FLAG_END_STREAM) != 0;
    }
    feed_frame_buf();
}

enum bad_message {
    BAD_MSG_NONE,
    BAD_MSG_LONGER,     /* the prefix says one byte more than follows */
    BAD_MSG_SHORTER,    /* one byte less */
    BAD_MSG_HUGE,       /* 0xffffffff */
    BAD_MSG_OVER,       /* one byte over SL_GRPC_MAX_MESSAGE_BYTES */
    BAD_MSG_COMPRESSED, /* the compressed flag */
    BAD_MSG_IDLE,       /* on a stream the client never opened */
    BAD_MSG_ZERO_ID,    /* on stream 0 */
    BAD_MSG_PAD,        /* a pad length past the payload */
    BAD_MSG_TOO_BIG,    /* a frame over SETTINGS_MAX_FRAME_SIZE */
    BAD_MSG_AFTER_END,  /* END_STREAM, then more DATA */
    N_BAD_MSG
};

/* `bytes` as DATA frames: `n_frames` of them (split at random points, some maybe empty), more
 * when one frame cannot hold the rest; END_STREAM on the last one when `is_end`. */
static void put_data_frames(const struct sl_buf *bytes, uint32_t id, int n_frames, bool is_end,
                            bool is_padded, int bad)
{
    size_t off = 0;
    for (int i = 0;; i++) {
        size_t left = bytes->len - off;
        size_t n = i + 1 < n_frames && left > 0 ? next_rand() % (left + 1) : left;
        if (n > FRAME_MAX - 16)
            n = FRAME_MAX - 16; /* room for padding */
        if (bad == BAD_MSG_PAD && n > 200)
            n = 200; /* so that the pad length byte can say more than the payload */
        bool is_last = off + n == bytes->len && i + 1 >= n_frames;
        uint8_t flags = is_last && is_end ? NGHTTP2_FLAG_END_STREAM : 0;
        if (bad == BAD_MSG_PAD) {
            uint8_t pl = (uint8_t)(n + 1);
            put_frame_head(n + 1, NGHTTP2_DATA, flags | NGHTTP2_FLAG_PADDED, id);
            sl_buf_append(&R.frame, &pl, 1);
            sl_buf_append(&R.frame, bytes->data + off, n);
        } else if (is_padded) {
            uint8_t pl = (uint8_t)(next_rand() % 16);
            put_frame_head(n + 1 + pl, NGHTTP2_DATA, flags | NGHTTP2_FLAG_PADDED, id);
            sl_buf_append(&R.frame, &pl, 1);
            sl_buf_append(&R.frame, bytes->data + off, n);
            put_zeros(pl);
        } else {
            put_frame_head(n, NGHTTP2_DATA, flags, id);
            sl_buf_append(&R.frame, bytes->data + off, n);
        }
        off += n;
        if (is_last)
            return;
    }
}

static void op_message(struct input *in, uint8_t variant)
{
    struct stream *st = pick_stream(in);
    int bad = malformation(variant, N_BAD_MSG);
    variant = flags_of(variant);
    size_t want = take_byte(in);
    if (variant & 0x20)
        want = want << 8 | take_byte(in);
    const uint8_t *payload;
    size_t len = take_bytes(in, want, &payload);

    uint32_t declared = (uint32_t)len;
    if (bad == BAD_MSG_LONGER)
        declared = (uint32_t)len + 1;
    else if (bad == BAD_MSG_SHORTER && len > 0)
        declared = (uint32_t)len - 1;
    else if (bad == BAD_MSG_HUGE)
        declared = UINT32_MAX;
    else if (bad == BAD_MSG_OVER)
        declared = (uint32_t)SL_GRPC_MAX_MESSAGE_BYTES + 1;
    uint8_t prefix[5] = {bad == BAD_MSG_COMPRESSED ? 1 : 0, (uint8_t)(declared >> 24),
                         (uint8_t)(declared >> 16), (uint8_t)(declared >> 8), (uint8_t)declared};
    struct sl_buf bytes;
    sl_buf_init(&bytes);
    sl_buf_append(&bytes, prefix, 5);
    sl_buf_append(&bytes, payload, len);
    CHECK(!bytes.failed);

    uint32_t id = st != NULL ? (uint32_t)st->id : (uint32_t)R.next_id;
    if (bad == BAD_MSG_IDLE)
        id = (uint32_t)R.next_id;
    else if (bad == BAD_MSG_ZERO_ID)
        id = 0;
    bool is_end = (variant & 0x01) || bad == BAD_MSG_AFTER_END;
    if (bad == BAD_MSG_TOO_BIG) {
        put_frame_head(FRAME_MAX + 1, NGHTTP2_DATA, 0, id);
        sl_buf_append(&R.frame, bytes.data, bytes.len < FRAME_MAX + 1 ? bytes.len : FRAME_MAX + 1);
        put_zeros(bytes.len < FRAME_MAX + 1 ? FRAME_MAX + 1 - bytes.len : 0);
    } else {
        put_data_frames(&bytes, id, 1 + ((variant >> 1) & 3), is_end, (variant & 0x08) != 0, bad);
    }
    if (bad == BAD_MSG_AFTER_END)
        put_data_frames(&bytes, id, 1, false, false, BAD_MSG_NONE);
    sl_buf_free(&bytes);
    if (st != NULL && is_end && id == (uint32_t)st->id)
        st->is_client_done = true;
    feed_frame_buf();
}

static void op_end(struct input *in, uint8_t variant)
{
    struct stream *st = pick_stream(in);
    int bad = malformation(variant, 4); /* 1: idle stream, 2: stream 0, 3: trailers without END_STREAM */
    variant = flags_of(variant);
    uint32_t id = st != NULL && bad != 1 ? (uint32_t)st->id : (uint32_t)R.next_id;
    if (bad == 2)
        id = 0;
    if ((variant & 0x01) || bad == 3) {
        struct fields f = {.n = 0};
        add_text(&f, "x-client-trailer", "1");
        struct sl_buf block;
        sl_buf_init(&block);
        deflate_fields(&f, &block);
        put_header_frames(&block, id, bad == 3 ? 0 : NGHTTP2_FLAG_END_STREAM, false, -1, false, 0);
        sl_buf_free(&block);
        open_stream((int32_t)id, NULL, false); /* on a new id, a request without a head */
    } else {
        put_frame_head(0, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, id);
    }
    if (st != NULL && bad == 0)
        st->is_client_done = true;
    feed_frame_buf();
}

static void op_rst(struct input *in, uint8_t variant)
{
    struct stream *st = pick_stream(in);
    uint32_t code = take_byte(in) % 16;
    int bad = malformation(variant, 4); /* 1: stream 0, 2: idle stream, 3: 3 bytes long */
    uint32_t id = st != NULL ? (uint32_t)st->id : (uint32_t)R.next_id;
    if (bad == 1)
        id = 0;
    else if (bad == 2)
        id = (uint32_t)R.next_id;
    if (st != NULL && id == (uint32_t)st->id)
        st->is_client_reset = true;
    put_frame_head(bad == 3 ? 3 : 4, NGHTTP2_RST_STREAM, 0, id);
    put_u32(code);
    if (bad == 3)
        R.frame.len--;
    feed_frame_buf();
}

static void op_window(struct input *in, uint8_t variant)
{
    struct stream *st = pick_stream(in);
    uint32_t inc = 1 + ((uint32_t)take_byte(in) << 16 | (uint32_t)take_byte(in) << 8 | take_byte(in));
    int bad = malformation(variant, 5); /* 1: increment 0, 2: 2^31-1, 3: 5 bytes long, 4: idle stream */
    variant = flags_of(variant);
    bool is_conn = (variant & 0x01) || st == NULL;
    uint32_t id = is_conn ? 0 : (uint32_t)st->id;
    if (bad == 1)
        inc = 0;
    else if (bad == 2)
        inc = 0x7fffffff;
    else if (bad == 4)
        id = (uint32_t)R.next_id;
    put_frame_head(bad == 3 ? 5 : 4, NGHTTP2_WINDOW_UPDATE, 0, id);
    put_u32(inc);
    if (bad == 3)
        put_zeros(1);
    if (bad == 0 && R.is_checking) {
        /* The server's send window grows by `inc`: so does the checking session's receive window. */
        nghttp2_submit_window_update(R.check, NGHTTP2_FLAG_NONE, (int32_t)id, (int32_t)inc);
        flush_check();
    }
    feed_frame_buf();
}

static void op_ping(struct input *in, uint8_t variant)
{
    const uint8_t *opaque;
    size_t n = take_bytes(in, 8, &opaque);
    int bad = malformation(variant, 3); /* 1: 7 bytes long, 2: on a stream */
    variant = flags_of(variant);
    put_frame_head(bad == 1 ? 7 : 8, NGHTTP2_PING, (variant & 0x01) ? NGHTTP2_FLAG_ACK : 0, bad == 2 ? 1 : 0);
    sl_buf_append(&R.frame, opaque, n);
    put_zeros(8 - n);
    if (bad == 1)
        R.frame.len--;
    feed_frame_buf();
}

/* A well-formed setting from an id byte and a value: each known one within its valid range. */
static nghttp2_settings_entry setting_of(uint8_t id_byte, uint32_t v)
{
    switch (id_byte % 7) {
    case 0:
        return (nghttp2_settings_entry){NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, v % 65537};
    case 1:
        return (nghttp2_settings_entry){NGHTTP2_SETTINGS_ENABLE_PUSH, v & 1};
    case 2:
        return (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, v};
    case 3:
        return (nghttp2_settings_entry){NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, v % WINDOW_STEP_MAX};
    case 4:
        return (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 16384 + v % (16777215 - 16384 + 1)};
    case 5:
        return (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, v};
    default:
        return (nghttp2_settings_entry){0x20 + id_byte % 16, v}; /* unknown: ignored */
    }
}

static void op_settings(struct input *in, uint8_t variant)
{
    size_t n = take_byte(in) % 4;
    nghttp2_settings_entry iv[4];
    for (size_t i = 0; i < n; i++) {
        uint8_t id = take_byte(in);
        iv[i] = setting_of(id, take_u32(in));
    }
    /* 1: 5 bytes long, 2: an ACK with a payload, 3: on a stream, 4: ENABLE_PUSH 2,
     * 5: INITIAL_WINDOW_SIZE 2^31, 6: MAX_FRAME_SIZE 100 */
    int bad = malformation(variant, 7);
    variant = flags_of(variant);
    if ((variant & 0x01) || bad == 2) {
        put_frame_head(bad == 2 ? 6 : 0, NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0);
        if (bad == 2)
            put_zeros(6);
        feed_frame_buf();
        return;
    }
    if (bad >= 4) {
        static const nghttp2_settings_entry wrong[] = {
            {NGHTTP2_SETTINGS_ENABLE_PUSH, 2},
            {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0x80000000u},
            {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 100},
        };
        iv[n++] = wrong[bad - 4];
    }
    if (bad == 1) {
        put_frame_head(5, NGHTTP2_SETTINGS, 0, 0);
        put_zeros(5);
        feed_frame_buf();
        return;
    }
    put_settings(iv, n, bad == 3 ? 1 : 0);
    if (bad == 0 && R.is_checking) {
        /* The server applies them now and acknowledges them; the checking session applies
         * them when it reads that ACK, as the client would. */
        CHECK(nghttp2_submit_settings(R.check, NGHTTP2_FLAG_NONE, iv, n) == 0);
        flush_check();
    }
    feed_frame_buf();
}

static void op_goaway(struct input *in, uint8_t variant)
{
    uint32_t code = take_byte(in) % 16;
    const uint8_t *debug;
    size_t n = take_bytes(in, take_byte(in) % 32, &debug);
    int bad = malformation(variant, 3); /* 1: 7 bytes long, 2: on a stream */
    variant = flags_of(variant);
    uint32_t last = R.n_streams > 0 ? (uint32_t)R.streams[R.n_streams - 1].id : 0;
    R.sent_goaway = true;
    if (variant & 0x01)
        last = 0x7fffffff;
    put_frame_head(bad == 1 ? 7 : 8 + n, NGHTTP2_GOAWAY, 0, bad == 2 ? 1 : 0);
    put_u32(last);
    put_u32(code);
    if (bad == 1)
        R.frame.len--;
    else
        sl_buf_append(&R.frame, debug, n);
    feed_frame_buf();
}

static void op_priority(struct input *in, uint8_t variant)
{
    struct stream *st = pick_stream(in);
    struct stream *dep = pick_stream(in);
    uint8_t weight = take_byte(in);
    int bad = malformation(variant, 4); /* 1: on itself, 2: on stream 0, 3: 4 bytes long */
    variant = flags_of(variant);
    uint32_t id = st != NULL ? (uint32_t)st->id : (uint32_t)R.next_id;
    uint32_t on = dep != NULL && dep != st ? (uint32_t)dep->id : 0;
    if (bad == 1)
        on = id;
    else if (bad == 2)
        id = 0;
    if (variant & 0x01)
        on |= 0x80000000u; /* exclusive */
    put_frame_head(bad == 3 ? 4 : 5, NGHTTP2_PRIORITY, 0, id);
    put_u32(on);
    if (bad != 3)
        sl_buf_append(&R.frame, &weight, 1);
    feed_frame_buf();
}

/* ---- requests built from input values (REQUEST) ------------------------------------------- */

/* A protobuf encoder, enough for the requests: keys, varints, bytes, sub-messages. */
static void pb_varint(struct sl_buf *b, uint64_t v)
{
    uint8_t out[10];
    size_t n = 0;
    do {
        out[n++] = (uint8_t)(v & 0x7f) | (v > 0x7f ? 0x80 : 0);
        v >>= 7;
    } while (v != 0);
    sl_buf_append(b, out, n);
}

static void pb_uint(struct sl_buf *b, unsigned field, uint64_t v)
{
    pb_varint(b, field << 3);
    pb_varint(b, v);
}

static void pb_bytes(struct sl_buf *b, unsigned field, const void *p, size_t n)
{
    pb_varint(b, field << 3 | 2);
    pb_varint(b, n);
    sl_buf_append(b, p, n);
}

static void pb_text(struct sl_buf *b, unsigned field, const char *text)
{
    pb_bytes(b, field, text, strlen(text));
}

/* `inner` as sub-message `field`; `inner` is emptied. */
static void pb_sub(struct sl_buf *b, unsigned field, struct sl_buf *inner)
{
    pb_bytes(b, field, inner->data, inner->len);
    sl_buf_reset(inner);
}

static void pb_empty(struct sl_buf *b, unsigned field)
{
    pb_bytes(b, field, NULL, 0);
}

/* The values a REQUEST gives the method's request message. */
struct request_values {
    uint8_t shape; /* which fields and members: bits per method, see build_request() */
    uint64_t a, b, c;
    const uint8_t *name; /* stream name, connector id, event type and data, filter expression */
    size_t name_len;
};

/* UUID{structured{a, b}} or UUID{string} with a and b as hex. */
static void pb_uuid(struct sl_buf *b, unsigned field, uint64_t hi, uint64_t lo, bool is_structured)
{
    struct sl_buf u;
    sl_buf_init(&u);
    if (is_structured) {
        struct sl_buf halves;
        sl_buf_init(&halves);
        pb_uint(&halves, 1, hi);
        pb_uint(&halves, 2, lo);
        pb_sub(&u, 1, &halves);
        sl_buf_free(&halves);
    } else {
        char text[40];
        snprintf(text, sizeof(text), "%08x-%04x-%04x-%04x-%012llx", (unsigned)(hi >> 32),
                 (unsigned)(hi >> 16 & 0xffff), (unsigned)(hi & 0xffff), (unsigned)(lo >> 48),
                 (unsigned long long)(lo & 0xffffffffffffULL));
        pb_text(&u, 2, text);
    }
    pb_sub(b, field, &u);
    sl_buf_free(&u);
}

/* StreamIdentifier{stream_name} as `field`. */
static void pb_stream(struct sl_buf *b, unsigned field, const struct request_values *v)
{
    struct sl_buf id;
    sl_buf_init(&id);
    pb_bytes(&id, 3, v->name, v->name_len);
    pb_sub(b, field, &id);
    sl_buf_free(&id);
}

/* An expected revision, numbered as in AppendReq, DeleteReq and BatchAppendReq options:
 * revision (2), no_stream (3), any (4), stream_exists (5). */
static void pb_expected(struct sl_buf *b, unsigned kind, uint64_t revision)
{
    if (kind % 4 == 0)
        pb_uint(b, 2, revision);
    else
        pb_empty(b, 2 + kind % 4);
}

/* One proposed event (AppendReq.ProposedMessage, BatchAppendReq.ProposedMessage). */
static void pb_event(struct sl_buf *b, unsigned field, const struct request_values *v, uint64_t id,
                     bool is_json, bool has_content_type)
{
    struct sl_buf ev, entry;
    sl_buf_init(&ev);
    sl_buf_init(&entry);
    pb_uuid(&ev, 1, v->a ^ id, v->c + id, (v->shape & 0x40) != 0);
    pb_text(&entry, 1, "type");
    pb_bytes(&entry, 2, v->name, v->name_len);
    pb_sub(&ev, 2, &entry);
    if (has_content_type) {
        pb_text(&entry, 1, "content-type");
        pb_text(&entry, 2, is_json ? "application/json" : "application/octet-stream");
        pb_sub(&ev, 2, &entry);
    }
    pb_bytes(&ev, 3, v->name, v->name_len / 2);
    pb_bytes(&ev, 4, v->name, v->name_len);
    pb_sub(b, field, &ev);
    sl_buf_free(&ev);
    sl_buf_free(&entry);
}

static void build_read(struct sl_buf *out, const struct request_values *v)
{
    struct sl_buf o, where, from, inner;
    sl_buf_init(&o);
    sl_buf_init(&where);
    sl_buf_init(&from);
    sl_buf_init(&inner);
    bool is_all = v->shape & 0x01;
    unsigned start = (v->shape >> 1) & 3; /* start, end, a point, none */
    if (is_all) {
        if (start == 2) {
            pb_uint(&from, 1, v->a);
            pb_uint(&from, 2, v->b);
            pb_sub(&where, 1, &from);
        } else if (start < 2) {
            pb_empty(&where, 2 + start);
        }
        pb_sub(&o, 2, &where);
    } else {
        pb_stream(&where, 1, v);
        if (start == 2)
            pb_uint(&where, 2, v->a);
        else if (start < 2)
            pb_empty(&where, 3 + start);
        pb_sub(&o, 1, &where);
    }
    pb_uint(&o, 3, (v->shape >> 3) & 1); /* backwards */
    pb_uint(&o, 4, (v->shape >> 4) & 1); /* resolve_links */
    if (v->shape & 0x20)
        pb_empty(&o, 6); /* subscription */
    else
        pb_uint(&o, 5, v->b); /* count */
    unsigned filter = v->shape >> 6;
    if (filter == 0) {
        pb_empty(&o, 8);
    } else {
        /* 1: stream prefixes, 2: event type regex, 3: stream regex; window max and multiplier from c */
        if (filter == 1) {
            pb_bytes(&inner, 2, v->name, v->name_len);
            pb_bytes(&inner, 2, v->name, v->name_len / 2);
        } else {
            pb_bytes(&inner, 1, v->name, v->name_len);
        }
        pb_sub(&from, filter == 2 ? 2 : 1, &inner);
        if (v->c & 1)
            pb_empty(&from, 4);
        else
            pb_uint(&from, 3, (uint32_t)(v->c >> 32));
        pb_uint(&from, 5, (uint32_t)v->c >> 1);
        pb_sub(&o, 7, &from);
    }
    pb_empty(&inner, v->c & 2 ? 1 : 2); /* uuid_option: structured or string */
    pb_sub(&o, 9, &inner);
    pb_sub(out, 1, &o);
    sl_buf_free(&o);
    sl_buf_free(&where);
    sl_buf_free(&from);
    sl_buf_free(&inner);
}

static void build_batch_append(struct sl_buf *out, const struct request_values *v)
{
    struct sl_buf o, when;
    sl_buf_init(&o);
    sl_buf_init(&when);
    pb_uuid(out, 1, v->c, v->c >> 7, (v->shape & 0x40) != 0); /* correlation id */
    if (v->shape & 0x01) {
        pb_stream(&o, 1, v);
        pb_expected(&o, v->shape >> 1, v->a);
        unsigned deadline = (v->shape >> 3) & 3; /* none, a Timestamp, a Duration, none */
        if (deadline == 1 || deadline == 2) {
            pb_uint(&when, 1, v->b);                   /* seconds (int64: two's complement) */
            pb_uint(&when, 2, (int64_t)(int32_t)v->a); /* nanos */
            pb_sub(&o, deadline == 1 ? 6 : 7, &when);
        }
        pb_sub(out, 2, &o);
    }
    for (unsigned i = 0; i < ((v->shape >> 5) & 1) + (v->name_len & 1); i++)
        pb_event(out, 3, v, i, v->name_len > 0 && v->name[0] == '{', true);
    pb_uint(out, 4, v->shape >> 7); /* is_final */
    sl_buf_free(&o);
    sl_buf_free(&when);
}

/* Connector settings as map<string, StringValue> entries numbered `field`. */
static void pb_connector_settings(struct sl_buf *b, unsigned field, const struct request_values *v)
{
    static const char *const types[] = {"log-sink", "serilog-sink", "http-sink", "no-such-sink"};
    const char *pairs[8];
    size_t n = 0;
    pairs[n++] = "instanceTypeName";
    pairs[n++] = types[(v->shape >> 1) & 3];
    pairs[n++] = "includeRecordData";
    pairs[n++] = v->shape & 0x08 ? "false" : "maybe";
    if (((v->shape >> 1) & 3) == 2) {
        pairs[n++] = "url";
        pairs[n++] = "http://127.0.0.1:9/{stream}";
    }
    struct sl_buf entry, value;
    sl_buf_init(&entry);
    sl_buf_init(&value);
    for (size_t i = 0; i + 1 < n; i += 2) {
        pb_text(&entry, 1, pairs[i]);
        pb_text(&value, 1, pairs[i + 1]);
        pb_sub(&entry, 2, &value);
        pb_sub(b, field, &entry);
    }
    if (v->shape & 0x10) { /* one more, its key and value from the input */
        pb_bytes(&entry, 1, v->name, v->name_len / 2);
        pb_bytes(&value, 1, v->name + v->name_len / 2, v->name_len - v->name_len / 2);
        pb_sub(&entry, 2, &value);
        pb_sub(b, field, &entry);
    }
    sl_buf_free(&entry);
    sl_buf_free(&value);
}

static void build_list(struct sl_buf *out, const struct request_values *v)
{
    struct sl_buf value;
    sl_buf_init(&value);
    if (v->shape & 0x01)
        pb_uint(out, 1, v->a % 6); /* state */
    if (v->shape & 0x02) {
        pb_bytes(&value, 1, v->name, v->name_len);
        pb_sub(out, 2, &value); /* instance_type_name */
    }
    if (v->shape & 0x04) {
        pb_bytes(&value, 1, v->name, v->name_len);
        pb_sub(out, 3, &value); /* connector_id */
    }
    pb_uint(out, 4, (v->shape >> 3) & 1); /* include_settings */
    pb_uint(out, 5, (v->shape >> 4) & 1); /* show_deleted */
    if (v->shape & 0x20) {
        pb_uint(&value, 1, (uint64_t)(int64_t)(int32_t)v->a); /* page */
        pb_uint(&value, 2, (uint64_t)(int64_t)(int32_t)v->b); /* page_size */
        pb_sub(out, 6, &value);
    }
    pb_uint(out, 7, (v->shape >> 6) & 1); /* include_configuration */
    sl_buf_free(&value);
}

/* The request message of `kind` made of `v`. */
static void build_request(struct sl_buf *out, enum method_kind kind, const struct request_values *v)
{
    struct sl_buf inner;
    sl_buf_init(&inner);
    switch (kind) {
    case M_READ:
        build_read(out, v);
        break;
    case M_APPEND:
        if (v->shape & 0x01) { /* the options: stream, expectation */
            pb_stream(&inner, 1, v);
            pb_expected(&inner, v->shape >> 1, v->a);
            pb_sub(out, 1, &inner);
        } else { /* an event: JSON or not, content type or not */
            pb_event(out, 2, v, v->b, v->shape & 0x04, !(v->shape & 0x08));
        }
        break;
    case M_BATCH_APPEND:
        build_batch_append(out, v);
        break;
    case M_DELETE:
    case M_TOMBSTONE:
        pb_stream(&inner, 1, v);
        pb_expected(&inner, v->shape, v->a);
        pb_sub(out, 1, &inner);
        break;
    case M_CREATE:
    case M_RECONFIGURE:
        pb_bytes(out, 1, v->name, v->name_len);
        if (kind == M_CREATE && (v->shape & 0x01))
            pb_bytes(out, 3, v->name, v->name_len);
        pb_connector_settings(out, kind == M_CREATE ? 5 : 3, v);
        break;
    case M_START:
    case M_RESET:
        pb_bytes(out, 1, v->name, v->name_len);
        if (v->shape & 0x01) {
            pb_uint(&inner, 1, v->a);
            pb_sub(out, 3, &inner); /* start_position */
        }
        break;
    case M_RENAME:
        pb_bytes(out, 1, v->name, v->name_len / 2);
        pb_bytes(out, 3, v->name + v->name_len / 2, v->name_len - v->name_len / 2);
        break;
    case M_CONNECTOR_DELETE:
    case M_STOP:
    case M_GET_SETTINGS:
    case M_GET_CONFIGURATION:
        pb_bytes(out, 1, v->name, v->name_len);
        break;
    case M_LIST:
        build_list(out, v);
        break;
    case M_FEATURES:
    case M_UNKNOWN:
        break; /* Empty */
    }
    sl_buf_free(&inner);
}

/* A valid request for the stream's method, its values from the input, as one gRPC message in DATA
 * frames (variant bit 0: END_STREAM; bits 1-2: how many frames). */
static void op_request(struct input *in, uint8_t variant)
{
    struct stream *st = pick_stream(in);
    variant = flags_of(variant);
    struct request_values v = {.shape = take_byte(in)};
    v.a = (uint64_t)take_u32(in) << 32 | take_u32(in);
    v.b = (uint64_t)take_u32(in) << 32 | take_u32(in);
    v.c = (uint64_t)take_u32(in) << 32 | take_u32(in);
    v.name_len = take_bytes(in, take_byte(in), &v.name);
    if (v.name_len == 0)
        v.name = (const uint8_t *)"";

    struct sl_buf msg, bytes;
    sl_buf_init(&msg);
    sl_buf_init(&bytes);
    if (st != NULL && st->method != NULL)
        build_request(&msg, st->method->kind, &v);
    uint8_t prefix[5] = {0, (uint8_t)(msg.len >> 24), (uint8_t)(msg.len >> 16), (uint8_t)(msg.len >> 8),
                         (uint8_t)msg.len};
    sl_buf_append(&bytes, prefix, 5);
    sl_buf_append(&bytes, msg.data, msg.len);
    CHECK(!msg.failed && !bytes.failed);
    uint32_t id = st != NULL ? (uint32_t)st->id : (uint32_t)R.next_id;
    bool is_end = variant & 0x01;
    put_data_frames(&bytes, id, 1 + ((variant >> 1) & 3), is_end, false, BAD_MSG_NONE);
    if (st != NULL && is_end)
        st->is_client_done = true;
    sl_buf_free(&msg);
    sl_buf_free(&bytes);
    feed_frame_buf();
}

static void op_raw(struct input *in)
{
    const uint8_t *p;
    size_t n = take_bytes(in, take_byte(in), &p);
    R.is_checking = false; /* the checking session cannot know what these do */
    feed(p, n);
}

/* ---- one input ------------------------------------------------------------------------------ */

static void set_limits(int profile)
{
    struct sl_server_limits *l = &g_srv->limits;
    l->max_header_bytes = profile == 1 ? 512 : 64 * 1024;
    l->max_body_bytes = 16 * 1024 * 1024;
    l->max_connections = 16;
    /* Profile 2 has the idle timeout at 0 ms: a connection without calls gets its PING at the
     * next turn of the loop, and its GOAWAY at the turn after if the PING is not answered. The
     * others never fire within one input. */
    l->header_timeout_ms = l->request_timeout_ms = 3600 * 1000;
    l->idle_timeout_ms = profile == 2 ? 0 : 3600 * 1000;
}

/* The client's first bytes: the preface and its SETTINGS, mirrored in the checking session. */
static void start_client(uint8_t ctl)
{
    nghttp2_settings_entry iv[3] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (ctl & 0x40) ? 1024 * 1024 : 65535},
        {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, (ctl & 0x80) ? 0 : 4096},
    };
    CHECK(nghttp2_submit_settings(R.check, NGHTTP2_FLAG_NONE, iv, 3) == 0);
    flush_check();
    sl_buf_append(&R.frame, SL_H2_PREFACE, SL_H2_PREFACE_LEN);
    put_settings(iv, 3, 0);
    feed_frame_buf();
}

static void do_op(struct input *in)
{
    uint8_t op = take_byte(in) % N_OPS;
    uint8_t variant = take_byte(in);
    R.last_op = op;
    R.n_ops++;
    switch ((enum op)op) {
    case OP_OPEN:
        op_open(in, variant);
        break;
    case OP_MESSAGE:
        op_message(in, variant);
        break;
    case OP_END:
        op_end(in, variant);
        break;
    case OP_RST:
        op_rst(in, variant);
        break;
    case OP_WINDOW:
        op_window(in, variant);
        break;
    case OP_PING:
        op_ping(in, variant);
        break;
    case OP_SETTINGS:
        op_settings(in, variant);
        break;
    case OP_GOAWAY:
        op_goaway(in, variant);
        break;
    case OP_PRIORITY:
        op_priority(in, variant);
        break;
    case OP_RAW:
        op_raw(in);
        break;
    case OP_REQUEST:
        op_request(in, variant);
        break;
    case OP_WAIT:
        if (variant >= 128 && variant < 192)
            R.is_paused = !R.is_paused;
        wait_loop(1 + variant % 4);
        break;
    case N_OPS:
        break;
    }
    run_loop();
}

/* Whether the server owes `st` an answer by now: a well-formed unary call (List aside: its answer
 * can outgrow a window) whose request the client ended and neither side reset, with room in both
 * windows for a small answer. */
static bool is_owed(const struct stream *st)
{
    if (!st->is_well_formed || st->method == NULL || !st->method->is_unary || !st->is_client_done ||
        st->is_ended || st->is_reset || st->is_client_reset || strcmp(st->method->path, QUERIES "List") == 0)
        return false;
    int32_t conn_window = nghttp2_session_get_local_window_size(R.check);
    int32_t window = nghttp2_session_get_stream_local_window_size(R.check, st->id);
    return conn_window >= 16384 && window >= 16384;
}

/* The first stream owed an answer, when the connection is in a state to give it: open, no GOAWAY
 * either way, and the checking session still following. NULL when none is. */
static const struct stream *owed_stream(void)
{
    if (!R.is_checking || R.got_goaway || R.sent_goaway || !conn_is_alive() || R.conn->state != SL_CONN_OPEN)
        return NULL;
    for (size_t i = 0; i < R.n_streams; i++)
        if (is_owed(&R.streams[i]))
            return &R.streams[i];
    return NULL;
}

/* Before the client goes: it reads again, store writes come back and what they answer is written.
 * The loop runs while calls are held and something happens, and while an answer is owed (two
 * seconds at most: then it is lost). */
static void settle(void)
{
    R.is_paused = false;
    int64_t until = sl_now_us() + 2 * 1000 * 1000;
    for (int quiet = 0; conn_is_alive() && sl_now_us() < until;) {
        bool is_held = R.conn->h2 != NULL && R.conn->h2->n_held > 0;
        if (owed_stream() == NULL && (!is_held || quiet > 0))
            break;
        quiet = wait_loop(2) ? quiet + 1 : 0;
    }
    const struct stream *st = owed_stream();
    if (st != NULL)
        fprintf(stderr, "stream %d (%s): the request is complete, and no answer came within 2 s\n", st->id,
                st->method->path);
    CHECK(st == NULL);
}

/* The client goes, in one of four ways; then the loop runs until the connection is freed, which
 * waits for the handlers to finish every call (writes in flight come back first). */
static void end_connection(int ending)
{
    R.is_paused = false;
    if (ending == 3 && conn_is_alive()) {
        put_frame_head(8, NGHTTP2_GOAWAY, 0, 0);
        put_u32((uint32_t)(R.next_id > 1 ? R.next_id - 2 : 0));
        put_u32(NGHTTP2_NO_ERROR);
        feed_frame_buf();
        run_loop();
    }
    if (ending == 0 && conn_is_alive() && R.conn->state != SL_CONN_CLOSING)
        sl_http_conn_close(R.conn);
    else if (ending == 1 || ending == 3)
        shutdown(R.peer, SHUT_WR); /* the server reads EOF */
    else if (ending == 2) {
        close(R.peer); /* the client vanishes: the server reads EOF, and its writes fail */
        R.peer = -1;
    }
    for (int i = 0; i < 400 && g_srv->conns != NULL; i++) {
        /* A connection that lingers after its GOAWAY (finishing) is closed by its timer in real
         * life; here, at once. */
        if (i == 8 && conn_is_alive() && R.conn->state != SL_CONN_CLOSING)
            sl_http_conn_close(R.conn);
        wait_loop(5);
    }
    if (g_srv->conns != NULL)
        fprintf(stderr, "the connection was not freed: %zu calls held\n",
                g_srv->conns->h2 != NULL ? g_srv->conns->h2->n_held : 0);
    CHECK(g_srv->conns == NULL); /* closed, and every call finished */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t ctl = data[0];
    memset(&R, 0, sizeof(R));
    R.rng = data[1] * 2654435761u + 1;
    R.is_chunked = (ctl & 0x10) != 0;
    R.is_acking = (ctl & 0x20) == 0;
    R.next_id = 1;
    R.is_checking = true;
    sl_buf_init(&R.frame);
    set_limits(ctl & 3);
    struct input in = {data + 2, size - 2};

    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
        return 0;
    R.peer = fds[1];
    fcntl(R.peer, F_SETFL, fcntl(R.peer, F_GETFL) | O_NONBLOCK);
    R.conn = sl_http_conn_open(g_srv, fds[0]);
    if (R.conn == NULL) {
        close(fds[0]);
        close(fds[1]);
        return 0;
    }
    CHECK(nghttp2_hd_deflate_new(&R.deflater, 4096) == 0);
    R.check = new_check_session();

    start_client(ctl);
    run_loop();
    while (R.n_ops < MAX_OPS && in.left > 0 && conn_is_alive())
        do_op(&in);

    settle();
    end_connection((ctl >> 2) & 3);
    drain_peer();
    struct sl_server_stats stats;
    sl_server_get_stats(g_srv, &stats);
    CHECK(stats.connections_open == 0 && stats.h2_connections_open == 0);
    CHECK(stats.grpc_calls_open == 0);
    CHECK(sl_api_grpc_streams_count(g_api.grpc_streams) == 0);
    for (int i = 0; i < 4; i++)
        uv_run(&g_srv->loop, UV_RUN_NOWAIT); /* what ended streams posted */

    if (g_is_verbose)
        dump_run();

    if (R.peer >= 0)
        close(R.peer);
    for (size_t i = 0; i < R.n_streams; i++)
        sl_buf_free(&R.streams[i].msg);
    nghttp2_session_del(R.check);
    nghttp2_hd_deflate_del(R.deflater);
    sl_buf_free(&R.frame);
    return 0;
}
