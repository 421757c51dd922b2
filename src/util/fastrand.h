/* fastrand.h: a fast pseudo-random generator for ids that must be unique,
 * not secret: per-record request ids, event ids of the load tools.
 *
 * sl_uuid_generate() (libuuid's uuid_generate_random) re-seeds libc's
 * random() and makes five system calls per id. A xoshiro256** stream seeded
 * once from getrandom(2) costs a few nanoseconds per id and is as unlikely to
 * repeat: 122 random bits per UUID from a 256-bit state.
 *
 * A struct sl_fastrand belongs to one owner (a record batch, a load tool's
 * thread): there is no shared state and no locking. Not for keys or tokens:
 * its output is predictable from earlier output. */
#ifndef SL_UTIL_FASTRAND_H
#define SL_UTIL_FASTRAND_H

#include <stdint.h>

struct sl_fastrand {
    uint64_t s[4];
};

/* Seeds `r` from getrandom(2); when the system has none to give, from the
 * clocks, the process id and addresses, through splitmix64. Never leaves the
 * all-zero state (the one state xoshiro never leaves). */
void sl_fastrand_seed(struct sl_fastrand *r);

/* The next 64 bits of the stream. */
uint64_t sl_fastrand_next(struct sl_fastrand *r);

/* A random UUID (RFC 4122 version 4: the version and variant bits set). */
void sl_fastrand_uuid(struct sl_fastrand *r, uint8_t out[16]);

/* The same as 36 chars of canonical lower-case text + NUL. */
void sl_fastrand_uuid_text(struct sl_fastrand *r, char out[37]);

#endif
