/* readbench.c: catch-up read of the whole log, in process, against raw file I/O on the same disk.
 *
 * 1. Opens a store in a fresh directory and loads N events of B bytes of JSON
 *    data each through sl_store_submit(), with W appends of K events in
 *    flight, so the writer's group commit carries many appends per fsync.
 *    Prints the load rate and the store's own counters (commits, events per
 *    commit).
 * 2. Closes and reopens the store, then reads every event with a cursor
 *    (sl_cursor_open at 0, sl_cursor_next up to `page` events at a time),
 *    checking that positions strictly increase and that none is missing.
 *    Done `passes` times; each pass is printed.
 * 3. Reads every event again with sl_store_read_all() pages, for comparison.
 * 4. The baselines, in the same run: before the load, the disk's durable
 *    sequential write rate (8 MiB pwrite + fdatasync, growing a file, for
 *    3 s) for the load rate; after the reads, the LMDB data file (data.mdb) read
 *    sequentially with read(2) into a 1 MiB buffer. Both the cursor and this
 *    read run warm (nothing is dropped from the page cache), and the share of
 *    the file resident in the page cache (mincore) is printed before each.
 *
 * MB/s of a cursor counts the bytes of event data and metadata delivered.
 * The ratio printed is cursor MB/s over raw read MB/s of the file.
 *
 * Usage: readbench [--dir D] [--events N] [--event-bytes B] [--batch K]
 *                  [--in-flight W] [--streams S] [--page P] [--passes R] [--keep]
 * The store is created in a new directory under D (default $TMPDIR or /tmp)
 * and removed at the end unless --keep. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/cursor.h"
#include "store/store.h"
#include "util/codec.h"
#include "util/error.h"

#include "fastid.h"

struct options {
    const char *dir;
    long events;
    long event_bytes;
    long batch;
    long in_flight;
    long streams;
    long page;
    long passes;
    bool keep;
};

/* One append in flight during the load: its write, its events, its stream. */
struct slot {
    struct sl_write w;
    struct sl_new_event *events;
    char stream[64];
    bool is_busy;
    struct loader *loader;
};

struct loader {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t busy;
    uint64_t failed;
    char first_error[512];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: readbench [--dir D] [--events N] [--event-bytes B] [--batch K] [--in-flight W]\n"
               "                 [--streams S] [--page P] [--passes R] [--keep]\n"
               "  --dir D          parent of the store's fresh directory (default $TMPDIR or /tmp)\n"
               "  --events N       events to load and read (default 1000000)\n"
               "  --event-bytes B  bytes of JSON data per event (default 1024)\n"
               "  --batch K        events per append while loading (default 1000)\n"
               "  --in-flight W    appends queued at once while loading (default 32)\n"
               "  --streams S      streams the appends go to, round robin (default 100)\n"
               "  --page P         events per sl_cursor_next / sl_store_read_all (default 1000)\n"
               "  --passes R       cursor passes over the log (default 2)\n"
               "  --keep           keep the store directory\n");
}

static bool parse_long(const char *name, const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "readbench: --%s %s: expected %ld..%ld\n", name, s, min, max);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"events", required_argument, NULL, 'n'},
        {"event-bytes", required_argument, NULL, 'b'},
        {"batch", required_argument, NULL, 'k'},
        {"in-flight", required_argument, NULL, 'w'},
        {"streams", required_argument, NULL, 's'},
        {"page", required_argument, NULL, 'p'},
        {"passes", required_argument, NULL, 'r'},
        {"keep", no_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    bool ok = true;
    while (ok && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->dir = optarg;
            break;
        case 'n':
            ok = parse_long("events", optarg, 1, 1000000000L, &o->events);
            break;
        case 'b':
            ok = parse_long("event-bytes", optarg, 16, 8L << 20, &o->event_bytes);
            break;
        case 'k':
            ok = parse_long("batch", optarg, 1, 10000, &o->batch);
            break;
        case 'w':
            ok = parse_long("in-flight", optarg, 1, 4096, &o->in_flight);
            break;
        case 's':
            ok = parse_long("streams", optarg, 1, 1000000, &o->streams);
            break;
        case 'p':
            ok = parse_long("page", optarg, 1, 10000, &o->page);
            break;
        case 'r':
            ok = parse_long("passes", optarg, 1, 100, &o->passes);
            break;
        case 'K':
            o->keep = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return false;
        }
    }
    if (ok && optind != argc) {
        usage(stderr);
        return false;
    }
    return ok;
}

/* ---- files ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0)
        fprintf(stderr, "readbench: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

static char found_mdb[4096];

static int find_data_mdb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    if (flag == FTW_F && strcmp(path + ftw->base, "data.mdb") == 0) {
        snprintf(found_mdb, sizeof found_mdb, "%s", path);
        return 1;
    }
    return 0;
}

/* Share (0..1) of `path`'s pages in the page cache; -1 when it cannot tell. */
static double cached_share(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    double share = -1;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        size_t len = (size_t)st.st_size;
        long pg = sysconf(_SC_PAGESIZE);
        size_t pages = (len + (size_t)pg - 1) / (size_t)pg;
        void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
        unsigned char *vec = malloc(pages);
        if (map != MAP_FAILED && vec != NULL && mincore(map, len, vec) == 0) {
            size_t in = 0;
            for (size_t i = 0; i < pages; i++)
                in += vec[i] & 1;
            share = (double)in / (double)pages;
        }
        free(vec);
        if (map != MAP_FAILED)
            munmap(map, len);
    }
    close(fd);
    return share;
}

/* ---- load ---- */

static void load_done(struct sl_write *w)
{
    struct slot *s = w->user;
    struct loader *l = s->loader;
    pthread_mutex_lock(&l->mu);
    if (w->code != SL_OK) {
        l->failed++;
        if (l->first_error[0] == '\0')
            snprintf(l->first_error, sizeof l->first_error, "%s: %s", sl_code_name(w->code), w->err.message);
    }
    s->is_busy = false;
    l->busy--;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* Appends o->events events; returns false (with a message printed) on failure. */
static bool load(struct sl_store *store, const struct options *o, const char *data, size_t data_len)
{
    struct loader l = {.busy = 0};
    pthread_mutex_init(&l.mu, NULL);
    pthread_cond_init(&l.cv, NULL);
    bool ok = false;
    struct slot *slots = calloc((size_t)o->in_flight, sizeof *slots);
    if (slots == NULL)
        goto out;
    for (long i = 0; i < o->in_flight; i++) {
        slots[i].events = calloc((size_t)o->batch, sizeof *slots[i].events);
        slots[i].loader = &l;
        if (slots[i].events == NULL)
            goto out;
        for (long j = 0; j < o->batch; j++) {
            struct sl_new_event *e = &slots[i].events[j];
            e->type = "bench-event";
            e->type_len = strlen(e->type);
            e->flags = SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON;
            e->data = data;
            e->data_len = data_len;
        }
    }

    struct fastid ids;
    fastid_seed(&ids);
    long left = o->events;
    long next_stream = 0;
    while (left > 0) {
        pthread_mutex_lock(&l.mu);
        while (l.busy == (size_t)o->in_flight && l.failed == 0)
            pthread_cond_wait(&l.cv, &l.mu);
        if (l.failed > 0) {
            pthread_mutex_unlock(&l.mu);
            break;
        }
        struct slot *s = NULL;
        for (long i = 0; i < o->in_flight; i++)
            if (!slots[i].is_busy) {
                s = &slots[i];
                break;
            }
        s->is_busy = true;
        l.busy++;
        pthread_mutex_unlock(&l.mu);

        long n = left < o->batch ? left : o->batch;
        for (long j = 0; j < n; j++)
            fastid_uuid(&ids, s->events[j].id);
        snprintf(s->stream, sizeof s->stream, "load-%ld", next_stream++ % o->streams);
        memset(&s->w, 0, sizeof s->w);
        s->w.kind = SL_WRITE_APPEND;
        s->w.stream = s->stream;
        s->w.stream_len = strlen(s->stream);
        s->w.expected.kind = SL_EXPECT_ANY;
        s->w.events = s->events;
        s->w.n_events = (size_t)n;
        s->w.done = load_done;
        s->w.user = s;
        struct sl_error err;
        if (sl_store_submit(store, &s->w, &err) != SL_OK) {
            fprintf(stderr, "readbench: submit failed: %s\n", err.message);
            pthread_mutex_lock(&l.mu);
            s->is_busy = false;
            l.busy--;
            pthread_mutex_unlock(&l.mu);
            goto drain;
        }
        left -= n;
    }
    ok = true;
drain:
    pthread_mutex_lock(&l.mu);
    while (l.busy > 0)
        pthread_cond_wait(&l.cv, &l.mu);
    pthread_mutex_unlock(&l.mu);
    if (l.failed > 0) {
        fprintf(stderr, "readbench: %" PRIu64 " appends failed; first: %s\n", l.failed, l.first_error);
        ok = false;
    }
out:
    if (slots != NULL)
        for (long i = 0; i < o->in_flight; i++)
            free(slots[i].events);
    free(slots);
    pthread_cond_destroy(&l.cv);
    pthread_mutex_destroy(&l.mu);
    if (!ok && slots == NULL)
        fprintf(stderr, "readbench: out of memory\n");
    return ok;
}

/* ---- reads ---- */

struct read_tally {
    uint64_t events;
    uint64_t bytes; /* data + metadata */
    uint64_t last_position;
    uint64_t checksum;
    double seconds;
};

/* Reads the whole log with a cursor; false on error or on a broken order. */
static bool read_with_cursor(struct sl_store *store, size_t page, struct read_tally *t)
{
    memset(t, 0, sizeof *t);
    struct sl_cursor *cur = sl_cursor_open(store, 0, NULL);
    if (cur == NULL) {
        fprintf(stderr, "readbench: sl_cursor_open: out of memory\n");
        return false;
    }
    bool ok = true;
    double t0 = now_s();
    for (;;) {
        const struct sl_event *evs;
        size_t n = 0;
        struct sl_error err;
        enum sl_code rc = sl_cursor_next(cur, page, 0, &evs, &n, &err);
        if (rc == SL_E_TIMEOUT)
            break;
        if (rc != SL_OK) {
            fprintf(stderr, "readbench: sl_cursor_next after position %" PRIu64 ": %s\n", t->last_position,
                    err.message);
            ok = false;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            const struct sl_event *e = &evs[i];
            if (e->position <= t->last_position) {
                fprintf(stderr, "readbench: cursor went from position %" PRIu64 " to %" PRIu64 "\n",
                        t->last_position, e->position);
                ok = false;
            }
            t->last_position = e->position;
            t->bytes += e->data_len + e->metadata_len;
            if (e->data_len > 0)
                t->checksum += ((const unsigned char *)e->data)[e->data_len - 1];
        }
        t->events += n;
        if (!ok)
            break;
    }
    t->seconds = now_s() - t0;
    sl_cursor_close(cur);
    return ok;
}

/* Reads the whole log with sl_store_read_all pages. */
static bool read_with_pages(struct sl_store *store, size_t page, struct read_tally *t)
{
    memset(t, 0, sizeof *t);
    bool ok = true;
    uint64_t from = 0;
    double t0 = now_s();
    for (;;) {
        struct sl_read_result res;
        struct sl_error err;
        memset(&res, 0, sizeof res);
        if (sl_store_read_all(store, from, false, page, NULL, 0, &res, &err) != SL_OK) {
            fprintf(stderr, "readbench: sl_store_read_all from %" PRIu64 ": %s\n", from, err.message);
            sl_read_result_free(&res);
            ok = false;
            break;
        }
        for (size_t i = 0; i < res.count; i++) {
            const struct sl_event *e = &res.events[i];
            if (e->position <= t->last_position)
                ok = false;
            t->last_position = e->position;
            t->bytes += e->data_len + e->metadata_len;
            if (e->data_len > 0)
                t->checksum += ((const unsigned char *)e->data)[e->data_len - 1];
        }
        t->events += res.count;
        bool has_next = res.has_next && res.count > 0;
        from = (uint64_t)res.next;
        sl_read_result_free(&res);
        if (!ok) {
            fprintf(stderr, "readbench: sl_store_read_all returned positions out of order\n");
            break;
        }
        if (!has_next)
            break;
    }
    t->seconds = now_s() - t0;
    return ok;
}

static volatile uint64_t read_sink; /* keeps the reads' results observable */

/* The disk's durable sequential write rate in `dir`: 8 MiB pwrite + fdatasync
 * at the end of a growing file (about what one group commit of the load
 * writes), for about `seconds`. Returns bytes/s, or -1. */
static double write_file_raw(const char *dir, double seconds)
{
    enum { BUF = 8 << 20 };
    char path[4200];
    snprintf(path, sizeof path, "%s/write-baseline.XXXXXX", dir);
    char *buf = malloc(BUF);
    int fd = mkstemp(path);
    double rate = -1;
    if (buf == NULL || fd < 0) {
        fprintf(stderr, "readbench: cannot write in %s: %s\n", dir, strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < BUF; i++)
        buf[i] = (char)(i * 131u);
    uint64_t total = 0;
    double t0 = now_s(), t = t0;
    while (t - t0 < seconds) {
        if (pwrite(fd, buf, BUF, (off_t)total) != BUF || fdatasync(fd) != 0) {
            fprintf(stderr, "readbench: writing %s: %s\n", path, strerror(errno));
            goto out;
        }
        total += BUF;
        t = now_s();
    }
    rate = (double)total / (t - t0);
out:
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    free(buf);
    return rate;
}

/* Reads `path` with read(2) into a 1 MiB buffer; returns bytes/s, or -1. */
static double read_file_raw(const char *path, uint64_t *bytes, double *seconds)
{
    enum { BUF = 1 << 20 };
    char *buf = malloc(BUF);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    double rate = -1;
    if (buf == NULL || fd < 0) {
        fprintf(stderr, "readbench: cannot read %s: %s\n", path, strerror(errno));
        goto out;
    }
    uint64_t total = 0, sum = 0;
    double t0 = now_s();
    for (;;) {
        ssize_t n = read(fd, buf, BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "readbench: read %s: %s\n", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        total += (uint64_t)n;
        sum += (unsigned char)buf[n - 1];
    }
    *seconds = now_s() - t0;
    *bytes = total;
    rate = (double)total / *seconds;
    read_sink += sum;
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rate;
}

static double mb(double bytes)
{
    return bytes / 1e6;
}

int main(int argc, char **argv)
{
    struct options o = {.events = 1000000,
                        .event_bytes = 1024,
                        .batch = 1000,
                        .in_flight = 32,
                        .streams = 100,
                        .page = 1000,
                        .passes = 2};
    o.dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if (!parse_options(argc, argv, &o))
        return 2;

    int rc = 1;
    struct sl_store *store = NULL;
    char *data = NULL;
    char root[4096];
    bool has_root = false;
    if (snprintf(root, sizeof root, "%s/sluice-readbench.XXXXXX", o.dir) >= (int)sizeof root ||
        mkdtemp(root) == NULL) {
        fprintf(stderr, "readbench: cannot make a directory in %s: %s\n", o.dir, strerror(errno));
        return 2;
    }
    has_root = true;
    char data_dir[4200];
    snprintf(data_dir, sizeof data_dir, "%s/data", root);

    /* the event: {"pad":"abc...","i":0}, exactly event_bytes long */
    size_t data_len = (size_t)o.event_bytes;
    data = malloc(data_len + 1);
    if (data == NULL)
        goto out;
    size_t pad = data_len - 16;
    memcpy(data, "{\"pad\":\"", 8);
    for (size_t i = 0; i < pad; i++)
        data[8 + i] = (char)('a' + i % 26);
    memcpy(data + 8 + pad, "\",\"i\":0}", 8);
    data[data_len] = '\0';

    struct sl_store_options so = {.data_dir = data_dir};
    struct sl_error err;
    if (sl_store_open(&so, &store, &err) != SL_OK) {
        fprintf(stderr, "readbench: sl_store_open %s: %s\n", data_dir, err.message);
        goto out;
    }

    printf("readbench: %ld events of %ld B data, appends of %ld events, %ld in flight, %ld streams\n",
           o.events, o.event_bytes, o.batch, o.in_flight, o.streams);
    printf("store: %s\n", data_dir);

    /* 0. the baseline of the load: the disk's durable sequential write rate */
    double write_rate = write_file_raw(root, 3.0);
    if (write_rate < 0)
        goto out;
    printf("\nbaseline: 8 MiB pwrite + fdatasync at the end of a growing file: %.1f MB/s\n", mb(write_rate));

    /* 1. load */
    struct sl_store_stats s0, s1;
    sl_store_get_stats(store, &s0);
    double t0 = now_s();
    if (!load(store, &o, data, data_len))
        goto out;
    double load_s = now_s() - t0;
    sl_store_get_stats(store, &s1);
    uint64_t commits = s1.commits - s0.commits;
    printf("\nload\n");
    printf("  %ld events in %.2f s: %.0f events/s, %.1f MB/s of event data\n", o.events, load_s,
           (double)o.events / load_s, mb((double)o.events * (double)data_len) / load_s);
    printf("  commits %" PRIu64 " (%.1f/s), %.0f events per commit, %.1f appends per commit, "
           "largest commit %" PRIu64 " appends, mean commit %.2f ms, map resizes %" PRIu64 "\n",
           commits, (double)commits / load_s,
           commits ? (double)(s1.events_written - s0.events_written) / commits : 0,
           commits ? (double)(s1.writes - s0.writes) / commits : 0, s1.max_batch,
           commits ? (double)(s1.commit_us_total - s0.commit_us_total) / commits / 1e3 : 0,
           s1.map_resizes - s0.map_resizes);
    sl_store_close(store);
    store = NULL;

    found_mdb[0] = '\0';
    nftw(data_dir, find_data_mdb, 16, FTW_PHYS);
    struct stat st;
    if (found_mdb[0] == '\0' || stat(found_mdb, &st) != 0) {
        fprintf(stderr, "readbench: no data.mdb under %s\n", data_dir);
        goto out;
    }
    double file_rate = (double)st.st_size / load_s;
    printf("  %s: %.1f MB (%.0f B per event), written at %.1f MB/s: %.2f of the raw write rate\n", found_mdb,
           mb((double)st.st_size), (double)st.st_size / (double)o.events, mb(file_rate),
           file_rate / write_rate);

    /* 2. reopen and read with a cursor */
    t0 = now_s();
    if (sl_store_open(&so, &store, &err) != SL_OK) {
        fprintf(stderr, "readbench: reopening %s: %s\n", data_dir, err.message);
        goto out;
    }
    printf("\nreopen: %.3f s, head %" PRIu64 "\n", now_s() - t0, sl_store_head(store));

    struct read_tally best = {.seconds = 0};
    printf("\ncursor: sl_cursor_next(max %ld) from position 0\n", o.page);
    for (long p = 1; p <= o.passes; p++) {
        struct read_tally t;
        double cached = cached_share(found_mdb);
        if (!read_with_cursor(store, (size_t)o.page, &t))
            goto out;
        if (t.events != (uint64_t)o.events) {
            fprintf(stderr, "readbench: the cursor returned %" PRIu64 " events, %ld were written\n", t.events,
                    o.events);
            goto out;
        }
        printf("  pass %ld: %" PRIu64 " events in %.3f s: %.0f events/s, %.1f MB/s (data.mdb %.0f %% cached "
               "before)\n",
               p, t.events, t.seconds, (double)t.events / t.seconds, mb((double)t.bytes) / t.seconds,
               cached * 100);
        if (best.seconds == 0 || t.seconds < best.seconds)
            best = t;
    }

    /* 3. the same with sl_store_read_all pages */
    struct read_tally pages;
    if (!read_with_pages(store, (size_t)o.page, &pages))
        goto out;
    printf("\nread_all: sl_store_read_all pages of %ld\n", o.page);
    printf("  %" PRIu64 " events in %.3f s: %.0f events/s, %.1f MB/s\n", pages.events, pages.seconds,
           (double)pages.events / pages.seconds, mb((double)pages.bytes) / pages.seconds);
    if (pages.events != (uint64_t)o.events || pages.checksum != best.checksum) {
        fprintf(stderr, "readbench: read_all returned %" PRIu64 " events (checksum %s the cursor's)\n",
                pages.events, pages.checksum == best.checksum ? "equal to" : "unlike");
        goto out;
    }

    /* 4. the baseline: the file itself */
    double cached = cached_share(found_mdb);
    uint64_t raw_bytes = 0;
    double raw_s = 0;
    double raw_rate = read_file_raw(found_mdb, &raw_bytes, &raw_s);
    if (raw_rate < 0)
        goto out;
    double cur_rate = (double)best.bytes / best.seconds;
    printf("\nbaseline: read(2) of data.mdb, 1 MiB at a time (%.0f %% cached before)\n", cached * 100);
    printf("  %.1f MB in %.3f s: %.1f MB/s\n", mb((double)raw_bytes), raw_s, mb(raw_rate));
    printf("\nsummary\n");
    printf("  load:     %.0f events/s, data.mdb grew at %.1f MB/s; raw durable write %.1f MB/s; ratio %.2f\n",
           (double)o.events / load_s, mb(file_rate), mb(write_rate), file_rate / write_rate);
    printf("  cursor:   %.0f events/s, %.1f MB/s (best pass)\n", (double)best.events / best.seconds,
           mb(cur_rate));
    printf("  read_all: %.0f events/s, %.1f MB/s\n", (double)pages.events / pages.seconds,
           mb((double)pages.bytes) / pages.seconds);
    printf("  raw read: %.1f MB/s\n", mb(raw_rate));
    printf("  ratio cursor MB/s / raw MB/s: %.3f  (whole file read in %.3f s, cursor pass %.3f s)\n",
           cur_rate / raw_rate, raw_s, best.seconds);
    rc = 0;
out:
    sl_store_close(store);
    free(data);
    if (has_root && !o.keep)
        nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    else if (has_root)
        printf("kept %s\n", root);
    return rc;
}
