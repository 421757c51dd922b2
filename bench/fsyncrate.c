/* fsyncrate.c: how many durable writes per second the disk under a directory takes.
 *
 * A loop of pwrite(4 KiB) + fdatasync() on one file for S seconds, one write in
 * flight at a time: the rate a single writer that waits for every commit can
 * reach. It is the baseline for sluice's append benchmark, where the writer
 * thread does the same (LMDB writes the transaction's pages, syncs them, then
 * writes and syncs its meta page), so events per fsync tell how much group
 * commit gained.
 *
 * By default the writes cycle over the 256 blocks of a 1 MiB file that is
 * written and synced first, so that no sync also has to record a new file
 * size or allocate blocks; --append writes at the end of the growing file
 * instead, as a log file without preallocation would.
 *
 * Usage: fsyncrate [--dir D] [--seconds S] [--block-bytes N] [--append] [--json]
 * The file is created in D (default .) and removed at the end. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PREFILL_BYTES (1u << 20)

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: fsyncrate [--dir D] [--seconds S] [--block-bytes N] [--append] [--json]\n"
               "  --dir D           directory whose file system is measured (default .)\n"
               "  --seconds S       how long to measure (default 5)\n"
               "  --block-bytes N   bytes written before each fdatasync (default 4096)\n"
               "  --append          write at the end of a growing file instead of rewriting blocks\n"
               "  --json            print one JSON line instead of the text report\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"seconds", required_argument, NULL, 's'},
        {"block-bytes", required_argument, NULL, 'b'},
        {"append", no_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = ".";
    double seconds = 5;
    long block = 4096;
    bool is_append = false, is_json = false;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 's':
            seconds = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(seconds > 0) || seconds > 3600) {
                fprintf(stderr, "fsyncrate: --seconds %s: expected 0 < S <= 3600\n", optarg);
                return 2;
            }
            break;
        case 'b':
            block = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || block < 1 || block > (long)PREFILL_BYTES) {
                fprintf(stderr, "fsyncrate: --block-bytes %s: expected 1..%u\n", optarg, PREFILL_BYTES);
                return 2;
            }
            break;
        case 'a':
            is_append = true;
            break;
        case 'j':
            is_json = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    int rc = 1;
    int fd = -1;
    char *buf = NULL;
    uint64_t *lat = NULL;
    size_t lat_cap = 1 << 16, n = 0;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/fsyncrate.XXXXXX", dir) >= (int)sizeof path) {
        fprintf(stderr, "fsyncrate: --dir is too long\n");
        return 2;
    }
    fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "fsyncrate: cannot create a file in %s: %s\n", dir, strerror(errno));
        return 2;
    }
    buf = malloc(PREFILL_BYTES);
    lat = malloc(lat_cap * sizeof *lat);
    if (buf == NULL || lat == NULL) {
        fprintf(stderr, "fsyncrate: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < PREFILL_BYTES; i++)
        buf[i] = (char)(i * 131u);
    if (!is_append) {
        if (pwrite(fd, buf, PREFILL_BYTES, 0) != (ssize_t)PREFILL_BYTES || fsync(fd) != 0) {
            fprintf(stderr, "fsyncrate: cannot prefill %s: %s\n", path, strerror(errno));
            goto out;
        }
    }

    size_t slots = PREFILL_BYTES / (size_t)block;
    uint64_t start = now_ns();
    uint64_t stop = start + (uint64_t)(seconds * 1e9);
    uint64_t t = start;
    while (t < stop) {
        off_t off = is_append ? (off_t)n * block : (off_t)(n % slots) * block;
        buf[0] = (char)n;
        if (pwrite(fd, buf, (size_t)block, off) != block) {
            fprintf(stderr, "fsyncrate: pwrite %s: %s\n", path, strerror(errno));
            goto out;
        }
        if (fdatasync(fd) != 0) {
            fprintf(stderr, "fsyncrate: fdatasync %s: %s\n", path, strerror(errno));
            goto out;
        }
        uint64_t t2 = now_ns();
        if (n == lat_cap) {
            uint64_t *nl = realloc(lat, 2 * lat_cap * sizeof *lat);
            if (nl == NULL) {
                fprintf(stderr, "fsyncrate: out of memory\n");
                goto out;
            }
            lat = nl;
            lat_cap *= 2;
        }
        lat[n++] = t2 - t;
        t = t2;
    }
    double elapsed = (double)(t - start) / 1e9;
    qsort(lat, n, sizeof *lat, cmp_u64);
    double rate = (double)n / elapsed;
    double p50 = (double)lat[n / 2] / 1e6;
    double p99 = (double)lat[(size_t)((double)(n - 1) * 0.99)] / 1e6;
    if (is_json)
        printf("{\"dir\":\"%s\",\"mode\":\"%s\",\"block_bytes\":%ld,\"seconds\":%.3f,\"fsyncs\":%zu,"
               "\"fsyncs_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n",
               dir, is_append ? "append" : "overwrite", block, elapsed, n, rate, p50, p99);
    else
        printf("fsyncrate: %s, %ld-byte pwrite + fdatasync (%s): %zu in %.2f s = %.1f fsyncs/s, "
               "p50 %.3f ms, p99 %.3f ms\n",
               dir, block, is_append ? "append" : "overwrite", n, elapsed, rate, p50, p99);
    rc = 0;
out:
    free(buf);
    free(lat);
    close(fd);
    unlink(path);
    return rc;
}
