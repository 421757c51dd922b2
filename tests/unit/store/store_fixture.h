/* store_fixture.h: what every store test needs: a fresh store in its own
 * temporary directory, generated events with recognisable ids, and assertions
 * that say which code, revision or position was expected.
 *
 * Each test gets a data directory made with mkdtemp under $SLUICE_TEST_TMP
 * (or /tmp), and the directory is removed when the test ends. Helpers that may
 * run on other threads never call cmocka's asserts (cmocka is not
 * thread-safe); they record what they saw and the test thread checks it. */
#ifndef SL_TEST_STORE_FIXTURE_H
#define SL_TEST_STORE_FIXTURE_H

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

/* `"abc"` → `"abc", 3` for the (name, length) argument pairs. */
#define STR_ARGS(s) (s), strlen(s)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define TEST_EVENT_TYPE "test-event"

/* ---- temporary directories ---- */

static inline const char *test_tmp_root(void)
{
    const char *root = getenv("SLUICE_TEST_TMP");
    return root != NULL && root[0] != '\0' ? root : "/tmp";
}

/* mkdir -p, for $SLUICE_TEST_TMP which may not exist yet. */
static inline void make_dirs(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(tmp, 0755);
        *p = '/';
    }
    mkdir(tmp, 0755);
}

static inline void make_temp_dir(char out[PATH_MAX], const char *label)
{
    make_dirs(test_tmp_root());
    snprintf(out, PATH_MAX, "%s/store-%s-XXXXXX", test_tmp_root(), label);
    if (mkdtemp(out) == NULL)
        fail_msg("mkdtemp(%s): %s", out, strerror(errno));
}

static inline int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static inline void remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the fixture ---- */

struct fixture {
    char dir[PATH_MAX];
    struct sl_store_options opts;
    struct sl_store *store;
};

static inline void fixture_open(struct fixture *f)
{
    struct sl_error err;
    memset(&err, 0, sizeof(err));
    f->store = NULL;
    enum sl_code code = sl_store_open(&f->opts, &f->store, &err);
    if (code != SL_OK || f->store == NULL)
        fail_msg("sl_store_open(%s) returned %s: %s", f->dir, sl_code_name(code), err.message);
}

static inline void fixture_close(struct fixture *f)
{
    sl_store_close(f->store);
    f->store = NULL;
}

/* Closes the store and opens the same data directory again. */
static inline void fixture_reopen(struct fixture *f)
{
    fixture_close(f);
    fixture_open(f);
}

static inline struct fixture *fixture_new(size_t max_event_bytes, size_t max_append_events)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        fail_msg("out of memory");
    make_temp_dir(f->dir, "t");
    f->opts.data_dir = f->dir;
    f->opts.max_event_bytes = max_event_bytes;
    f->opts.max_append_events = max_append_events;
    return f;
}

static inline int fixture_setup(void **state)
{
    struct fixture *f = fixture_new(0, 0);
    *state = f;
    fixture_open(f);
    return 0;
}

static inline int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    if (f == NULL)
        return 0;
    fixture_close(f);
    remove_tree(f->dir);
    free(f);
    *state = NULL;
    return 0;
}

#define STORE_TEST(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

/* ---- expected revisions ---- */

static inline struct sl_expected rev_any(void)
{
    return (struct sl_expected){.kind = SL_EXPECT_ANY};
}

static inline struct sl_expected rev_no_stream(void)
{
    return (struct sl_expected){.kind = SL_EXPECT_NO_STREAM};
}

static inline struct sl_expected rev_exists(void)
{
    return (struct sl_expected){.kind = SL_EXPECT_EXISTS};
}

static inline struct sl_expected rev_exact(int64_t revision)
{
    return (struct sl_expected){.kind = SL_EXPECT_REVISION, .revision = revision};
}

static inline const char *expected_name(struct sl_expected e, char buf[32])
{
    switch (e.kind) {
    case SL_EXPECT_ANY:
        return "any";
    case SL_EXPECT_NO_STREAM:
        return "no_stream";
    case SL_EXPECT_EXISTS:
        return "stream_exists";
    case SL_EXPECT_REVISION:
        snprintf(buf, 32, "%lld", (long long)e.revision);
        return buf;
    }
    return "?";
}

/* ---- generated events ---- */

/* A recognisable id: "sltest" + seed + index, so a test can tell which
 * append an event came from. */
static inline void make_id(uint8_t id[16], uint32_t seed, uint32_t index)
{
    memcpy(id, "sltest\0\0", 8);
    for (int i = 0; i < 4; i++) {
        id[8 + i] = (uint8_t)(seed >> (24 - 8 * i));
        id[12 + i] = (uint8_t)(index >> (24 - 8 * i));
    }
}

static inline bool id_is(const uint8_t id[16], uint32_t seed, uint32_t index)
{
    uint8_t want[16];
    make_id(want, seed, index);
    return memcmp(id, want, 16) == 0;
}

/* A seed no other append in this process has used. */
static inline uint32_t fresh_seed(void)
{
    static atomic_uint next = 1000000;
    return atomic_fetch_add(&next, 1);
}

static inline void make_event(struct sl_new_event *ev, uint32_t seed, uint32_t index)
{
    memset(ev, 0, sizeof(*ev));
    make_id(ev->id, seed, index);
    ev->type = TEST_EVENT_TYPE;
    ev->type_len = strlen(TEST_EVENT_TYPE);
    ev->flags = SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON;
    ev->data = "{}";
    ev->data_len = 2;
}

/* Fills `w` as an append of `n` generated events with ids (seed, first + i).
 * The events array is malloc'd: release it with write_release() once `done`
 * has run. */
static inline void write_init_append(struct sl_write *w, const char *stream, struct sl_expected expected,
                                     uint32_t seed, uint32_t first, size_t n)
{
    memset(w, 0, sizeof(*w));
    struct sl_new_event *ev = calloc(n > 0 ? n : 1, sizeof(*ev));
    if (ev == NULL)
        abort();
    for (size_t i = 0; i < n; i++)
        make_event(&ev[i], seed, first + (uint32_t)i);
    w->kind = SL_WRITE_APPEND;
    w->stream = stream;
    w->stream_len = strlen(stream);
    w->expected = expected;
    w->events = ev;
    w->n_events = n;
}

static inline void write_release(struct sl_write *w)
{
    free((void *)w->events);
    w->events = NULL;
}

/* Appends `n` generated events synchronously; `w` holds the outcome. */
static inline enum sl_code append_generated(struct sl_store *store, const char *stream,
                                            struct sl_expected expected, uint32_t seed, uint32_t first,
                                            size_t n, struct sl_write *w)
{
    write_init_append(w, stream, expected, seed, first, n);
    enum sl_code code = sl_store_write(store, w);
    write_release(w);
    return code;
}

#define append_ok(store, stream, n) append_ok_at((store), (stream), (n), __FILE__, __LINE__)

/* Appends `n` fresh events with `any` and fails the test unless it works.
 * Returns the write (last_revision, position). */
static inline struct sl_write append_ok_at(struct sl_store *store, const char *stream, size_t n,
                                           const char *file, int line)
{
    struct sl_write w;
    enum sl_code code = append_generated(store, stream, rev_any(), fresh_seed(), 0, n, &w);
    if (code != SL_OK) {
        print_error("appending %zu events to %s returned %s: %s\n", n, stream, sl_code_name(code),
                    w.err.message);
        _fail(file, line);
    }
    return w;
}

/* Appends one JSON event of type `type` with `data` synchronously. */
static inline enum sl_code append_json(struct sl_store *store, const char *stream,
                                       struct sl_expected expected, const char *type, const char *data,
                                       struct sl_write *w)
{
    struct sl_new_event ev;
    memset(&ev, 0, sizeof(ev));
    make_id(ev.id, fresh_seed(), 0);
    ev.type = type;
    ev.type_len = strlen(type);
    ev.flags = SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON;
    ev.data = data;
    ev.data_len = strlen(data);
    memset(w, 0, sizeof(*w));
    w->kind = SL_WRITE_APPEND;
    w->stream = stream;
    w->stream_len = strlen(stream);
    w->expected = expected;
    w->events = &ev;
    w->n_events = 1;
    enum sl_code code = sl_store_write(store, w);
    w->events = NULL;
    return code;
}

static inline enum sl_code delete_stream(struct sl_store *store, const char *stream,
                                         struct sl_expected expected, bool tombstone, struct sl_write *w)
{
    memset(w, 0, sizeof(*w));
    w->kind = tombstone ? SL_WRITE_TOMBSTONE : SL_WRITE_DELETE;
    w->stream = stream;
    w->stream_len = strlen(stream);
    w->expected = expected;
    return sl_store_write(store, w);
}

/* ---- async completion ---- */

struct done_counter {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    size_t n;
    size_t n_off_caller_thread; /* `done` calls that ran on another thread than the submitter */
    pthread_t submitter;
};

static inline void done_counter_init(struct done_counter *c)
{
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->n = 0;
    c->n_off_caller_thread = 0;
    c->submitter = pthread_self();
}

static inline void done_counter_destroy(struct done_counter *c)
{
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cond);
}

/* A `done` callback: w->user is a struct done_counter. */
static inline void count_done(struct sl_write *w)
{
    struct done_counter *c = w->user;
    pthread_mutex_lock(&c->mu);
    c->n++;
    if (!pthread_equal(pthread_self(), c->submitter))
        c->n_off_caller_thread++;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

static inline void deadline_after_ms(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Waits until `n` callbacks have run; false on timeout. */
static inline bool done_counter_wait(struct done_counter *c, size_t n, int timeout_ms)
{
    struct timespec deadline;
    deadline_after_ms(&deadline, timeout_ms);
    pthread_mutex_lock(&c->mu);
    while (c->n < n) {
        if (pthread_cond_timedwait(&c->cond, &c->mu, &deadline) == ETIMEDOUT)
            break;
    }
    bool reached = c->n >= n;
    pthread_mutex_unlock(&c->mu);
    return reached;
}

static inline void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- assertions ---- */

#define assert_code(got, want, err) check_code((got), (want), (err), #got, __FILE__, __LINE__)

static inline void check_code(enum sl_code got, enum sl_code want, const struct sl_error *err,
                              const char *expr, const char *file, int line)
{
    if (got == want)
        return;
    print_error("%s returned %s%s%s%s, expected %s\n", expr, sl_code_name(got),
                got != SL_OK && err ? " (" : "", got != SL_OK && err ? err->message : "",
                got != SL_OK && err ? ")" : "", sl_code_name(want));
    _fail(file, line);
}

static inline void format_revisions(char *out, size_t cap, const int64_t *revs, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used + 24 < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%lld", i ? "," : "", (long long)revs[i]);
}

static inline void check_revisions(const struct sl_read_result *r, const int64_t *want, size_t n_want,
                                   const char *file, int line)
{
    bool same = r->count == n_want;
    for (size_t i = 0; same && i < n_want; i++)
        same = r->events[i].revision == want[i];
    if (same)
        return;
    int64_t got[256];
    size_t n_got = r->count < ARRAY_LEN(got) ? r->count : ARRAY_LEN(got);
    for (size_t i = 0; i < n_got; i++)
        got[i] = r->events[i].revision;
    char got_s[1024], want_s[1024];
    format_revisions(got_s, sizeof(got_s), got, n_got);
    format_revisions(want_s, sizeof(want_s), want, n_want);
    print_error("read revisions [%s] (%zu events), expected [%s]\n", got_s, r->count, want_s);
    _fail(file, line);
}

/* assert_revisions(&result, 3, 4): the read returned exactly revisions 3, 4. */
#define assert_revisions(r, ...)                                                                             \
    do {                                                                                                     \
        const int64_t want_revisions_[] = {__VA_ARGS__};                                                     \
        check_revisions((r), want_revisions_, ARRAY_LEN(want_revisions_), __FILE__, __LINE__);               \
    } while (0)

/* ---- reads ---- */

#define read_stream_ok(store, stream, from, backwards, count, out)                                           \
    read_stream_ok_at((store), (stream), (from), (backwards), (count), (out), __FILE__, __LINE__)

static inline void read_stream_ok_at(struct sl_store *store, const char *stream, int64_t from, bool backwards,
                                     size_t count, struct sl_read_result *out, const char *file, int line)
{
    struct sl_error err;
    memset(&err, 0, sizeof(err));
    memset(out, 0, sizeof(*out));
    enum sl_code code = sl_store_read_stream(store, STR_ARGS(stream), from, backwards, count, out, &err);
    if (code != SL_OK) {
        print_error("reading %s from %lld %s returned %s: %s\n", stream, (long long)from,
                    backwards ? "backwards" : "forwards", sl_code_name(code), err.message);
        _fail(file, line);
    }
}

/* The code of a forwards read of the whole stream (the result is freed). */
static inline enum sl_code read_stream_code(struct sl_store *store, const char *stream, bool backwards)
{
    struct sl_read_result r;
    struct sl_error err;
    memset(&r, 0, sizeof(r));
    enum sl_code code = sl_store_read_stream(store, STR_ARGS(stream), backwards ? SL_REVISION_END : 0,
                                             backwards, 1000, &r, &err);
    sl_read_result_free(&r);
    return code;
}

/* A copy of the whole log, read forwards page by page. */
struct log_copy {
    size_t n;
    size_t cap;
    uint64_t *position;
    int64_t *revision;
    uint8_t (*id)[16];
    char **stream;
};

static inline void log_copy_free(struct log_copy *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->stream[i]);
    free(l->position);
    free(l->revision);
    free(l->id);
    free(l->stream);
    memset(l, 0, sizeof(*l));
}

static inline void log_copy_push(struct log_copy *l, const struct sl_event *ev)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->position = realloc(l->position, l->cap * sizeof(*l->position));
        l->revision = realloc(l->revision, l->cap * sizeof(*l->revision));
        l->id = realloc(l->id, l->cap * sizeof(*l->id));
        l->stream = realloc(l->stream, l->cap * sizeof(*l->stream));
        if (!l->position || !l->revision || !l->id || !l->stream)
            abort();
    }
    l->position[l->n] = ev->position;
    l->revision[l->n] = ev->revision;
    memcpy(l->id[l->n], ev->id, 16);
    l->stream[l->n] = strndup(ev->stream, ev->stream_len);
    l->n++;
}

/* Reads $all forwards from position 0 in pages of `page`, following `next`.
 * Fails the test on an error or when paging does not end. */
static inline void log_copy_read(struct sl_store *store, size_t page, struct log_copy *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t from = 0;
    for (int guard = 0; guard < 1000000; guard++) {
        struct sl_read_result r;
        struct sl_error err;
        memset(&r, 0, sizeof(r));
        enum sl_code code = sl_store_read_all(store, from, false, page, NULL, 0, &r, &err);
        if (code != SL_OK)
            fail_msg("read_all from %llu returned %s: %s", (unsigned long long)from, sl_code_name(code),
                     err.message);
        for (size_t i = 0; i < r.count; i++)
            log_copy_push(out, &r.events[i]);
        bool more = r.has_next && r.count > 0;
        uint64_t next = (uint64_t)r.next;
        sl_read_result_free(&r);
        if (!more)
            return;
        if (next <= from)
            fail_msg("read_all from %llu: next %llu does not advance", (unsigned long long)from,
                     (unsigned long long)next);
        from = next;
    }
    fail_msg("read_all paging did not end");
}

static inline size_t log_count_stream(const struct log_copy *l, const char *stream)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += strcmp(l->stream[i], stream) == 0;
    return n;
}

static inline struct sl_stream_info stream_info_of(struct sl_store *store, const char *stream)
{
    struct sl_stream_info info;
    struct sl_error err;
    memset(&info, 0, sizeof(info));
    enum sl_code code = sl_store_stream_info(store, STR_ARGS(stream), &info, &err);
    if (code != SL_OK)
        fail_msg("stream_info(%s) returned %s: %s", stream, sl_code_name(code), err.message);
    return info;
}

#endif
