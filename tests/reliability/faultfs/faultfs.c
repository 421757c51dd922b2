/* faultfs.c: an LD_PRELOAD shim that makes the disk under one directory fail on demand.
 *
 * It intercepts the calls that put bytes on disk or make them durable -- pwrite, pwrite64, write,
 * writev, pwritev, fdatasync, fsync, msync, ftruncate and fallocate -- and, for a file descriptor
 * whose path lies under FAULTFS_DIR (msync: any mapping while armed), counts them. The
 * FAULTFS_FAIL_AT-th counted call fails with FAULTFS_ERRNO, writing nothing, and so does every
 * counted call after it (a failed disk stays failed) until the control file says it recovered.
 *
 * Environment:
 *   FAULTFS_DIR       the directory whose files fail (required; compared after realpath)
 *   FAULTFS_FAIL_AT   N >= 1: the N-th counted call fails (default 1)
 *   FAULTFS_ERRNO     EIO, ENOSPC, EDQUOT or a number (default EIO)
 *   FAULTFS_OPS       comma-separated names of the calls that count and fail (default: all above)
 *   FAULTFS_ONCE      1: only the N-th call fails, the next ones succeed (default: the disk stays failed)
 *   FAULTFS_CONTROL   a file read at each intercepted call; its first word sets the mode:
 *                       off     (or no file) nothing is counted and nothing fails
 *                       arm     counting starts (from 0 each time the word becomes `arm`)
 *                       fail    every intercepted call fails now
 *                       recover nothing fails any more (as `off`)
 *                     Without FAULTFS_CONTROL the shim is armed from the start.
 *   FAULTFS_LOG       a file that gets one line per failure injected, and with FAULTFS_TRACE=1
 *                     one line per call counted ("<n> <call> <path> <bytes>")
 *
 * The shim's own output never goes to the process's stdout or stderr, so that what the server
 * logs about a failure is its own. It is built by the reliability tests:
 *   gcc -shared -fPIC -O2 -o faultfs.so faultfs.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum mode { MODE_OFF, MODE_ARM, MODE_FAIL };

static char dir[PATH_MAX];
static size_t dir_len;
static long fail_at = 1;
static int fail_errno = EIO;
static int is_once;
static int is_traced;
static const char *ops = NULL;
static const char *control_path = NULL;
static const char *log_path = NULL;
static atomic_long counted;
static atomic_long injected;
static atomic_int last_mode = -1;
static atomic_int is_ready;

/* Raw system calls for the shim's own I/O: never re-enters an interposed function. */
static ssize_t raw_write(int fd, const void *buf, size_t n)
{
    return syscall(SYS_write, fd, buf, n);
}

static int raw_open(const char *path, int flags, int mode)
{
    return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

static int parse_errno(const char *s)
{
    if (s == NULL || *s == '\0')
        return EIO;
    if (strcmp(s, "EIO") == 0)
        return EIO;
    if (strcmp(s, "ENOSPC") == 0)
        return ENOSPC;
    if (strcmp(s, "EDQUOT") == 0)
        return EDQUOT;
    if (strcmp(s, "EROFS") == 0)
        return EROFS;
    int v = atoi(s);
    return v > 0 ? v : EIO;
}

__attribute__((constructor)) static void faultfs_init(void)
{
    const char *d = getenv("FAULTFS_DIR");
    if (d && *d) {
        if (realpath(d, dir) == NULL)
            snprintf(dir, sizeof(dir), "%s", d);
        dir_len = strlen(dir);
        while (dir_len > 1 && dir[dir_len - 1] == '/')
            dir[--dir_len] = '\0';
    }
    const char *n = getenv("FAULTFS_FAIL_AT");
    if (n && *n)
        fail_at = atol(n);
    fail_errno = parse_errno(getenv("FAULTFS_ERRNO"));
    is_once = getenv("FAULTFS_ONCE") && strcmp(getenv("FAULTFS_ONCE"), "1") == 0;
    is_traced = getenv("FAULTFS_TRACE") && strcmp(getenv("FAULTFS_TRACE"), "1") == 0;
    ops = getenv("FAULTFS_OPS");
    control_path = getenv("FAULTFS_CONTROL");
    log_path = getenv("FAULTFS_LOG");
    atomic_store(&is_ready, 1);
}

static void note(const char *fmt, ...)
{
    if (log_path == NULL)
        return;
    char line[PATH_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    if (len > (int)sizeof(line) - 2)
        len = (int)sizeof(line) - 2;
    line[len++] = '\n';
    int fd = raw_open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    ssize_t ignored = raw_write(fd, line, (size_t)len);
    (void)ignored;
    syscall(SYS_close, fd);
}

static enum mode read_mode(void)
{
    if (control_path == NULL)
        return MODE_ARM;
    char buf[32] = {0};
    int fd = raw_open(control_path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return MODE_OFF;
    ssize_t got = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
    syscall(SYS_close, fd);
    if (got <= 0)
        return MODE_OFF;
    if (strncmp(buf, "arm", 3) == 0)
        return MODE_ARM;
    if (strncmp(buf, "fail", 4) == 0)
        return MODE_FAIL;
    return MODE_OFF;
}

static int op_counts(const char *op)
{
    if (ops == NULL || *ops == '\0')
        return 1;
    size_t n = strlen(op);
    for (const char *p = ops; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, op, n) == 0)
            return 1;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

/* The path of `fd` into `out` when it lies under the directory. */
static int fd_is_ours(int fd, char *out, size_t cap)
{
    if (dir_len == 0 || fd < 0)
        return 0;
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = syscall(SYS_readlinkat, AT_FDCWD, link, out, cap - 1);
    if (n <= 0)
        return 0;
    out[n] = '\0';
    return (size_t)n > dir_len && strncmp(out, dir, dir_len) == 0 && out[dir_len] == '/';
}

/* Decides whether this call fails; sets errno when it does. `fd` < 0: a call on memory (msync). */
static int should_fail(const char *op, int fd, size_t bytes)
{
    if (!atomic_load(&is_ready) || !op_counts(op))
        return 0;
    char path[PATH_MAX];
    if (fd >= 0) {
        if (!fd_is_ours(fd, path, sizeof(path)))
            return 0;
    } else {
        snprintf(path, sizeof(path), "(mapping)");
        if (dir_len == 0)
            return 0;
    }
    enum mode m = read_mode();
    int previous = atomic_exchange(&last_mode, (int)m);
    if (m == MODE_ARM && previous != MODE_ARM)
        atomic_store(&counted, 0);
    if (m == MODE_OFF)
        return 0;
    int is_failing;
    long nth = 0;
    if (m == MODE_FAIL) {
        is_failing = 1;
    } else {
        nth = atomic_fetch_add(&counted, 1) + 1;
        is_failing = is_once ? nth == fail_at : nth >= fail_at;
        if (is_traced)
            note("%ld %s %s %zu", nth, op, path, bytes);
    }
    if (!is_failing)
        return 0;
    long k = atomic_fetch_add(&injected, 1) + 1;
    note("faultfs: failing %s on %s (%zu bytes; call #%ld since armed; failure #%ld) with %s", op, path,
         bytes, nth, k, strerror(fail_errno));
    errno = fail_errno;
    return 1;
}

/* The next definition of `name` (the C library's, or a sanitizer's interceptor), looked up once. */
#define REAL(name, ret, args)                                                                                \
    static ret(*real_##name) args;                                                                           \
    if (real_##name == NULL)                                                                                 \
        *(void **)&real_##name = dlsym(RTLD_NEXT, #name);

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite, ssize_t, (int, const void *, size_t, off_t));
    if (should_fail("pwrite", fd, n))
        return -1;
    return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite64, ssize_t, (int, const void *, size_t, off_t));
    if (should_fail("pwrite", fd, n))
        return -1;
    return real_pwrite64(fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(write, ssize_t, (int, const void *, size_t));
    if (fd > STDERR_FILENO && should_fail("write", fd, n))
        return -1;
    return real_write(fd, buf, n);
}

static size_t iov_bytes(const struct iovec *iov, int cnt)
{
    size_t total = 0;
    for (int i = 0; i < cnt; i++)
        total += iov[i].iov_len;
    return total;
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    REAL(writev, ssize_t, (int, const struct iovec *, int));
    if (fd > STDERR_FILENO && should_fail("writev", fd, iov_bytes(iov, cnt)))
        return -1;
    return real_writev(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    REAL(pwritev, ssize_t, (int, const struct iovec *, int, off_t));
    if (should_fail("writev", fd, iov_bytes(iov, cnt)))
        return -1;
    return real_pwritev(fd, iov, cnt, off);
}

int fdatasync(int fd)
{
    REAL(fdatasync, int, (int));
    if (should_fail("fdatasync", fd, 0))
        return -1;
    return real_fdatasync(fd);
}

int fsync(int fd)
{
    REAL(fsync, int, (int));
    if (should_fail("fsync", fd, 0))
        return -1;
    return real_fsync(fd);
}

int msync(void *addr, size_t len, int flags)
{
    REAL(msync, int, (void *, size_t, int));
    if (should_fail("msync", -1, len))
        return -1;
    return real_msync(addr, len, flags);
}

int ftruncate(int fd, off_t len)
{
    REAL(ftruncate, int, (int, off_t));
    if (should_fail("ftruncate", fd, (size_t)len))
        return -1;
    return real_ftruncate(fd, len);
}

int ftruncate64(int fd, off_t len)
{
    REAL(ftruncate64, int, (int, off_t));
    if (should_fail("ftruncate", fd, (size_t)len))
        return -1;
    return real_ftruncate64(fd, len);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    REAL(fallocate, int, (int, int, off_t, off_t));
    if (should_fail("fallocate", fd, (size_t)len))
        return -1;
    return real_fallocate(fd, mode, off, len);
}

int posix_fallocate(int fd, off_t off, off_t len)
{
    REAL(posix_fallocate, int, (int, off_t, off_t));
    if (should_fail("fallocate", fd, (size_t)len))
        return fail_errno; /* posix_fallocate returns the error */
    return real_posix_fallocate(fd, off, len);
}
