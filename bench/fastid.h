/* fastid.h: random event ids for the load tools, cheaper than libuuid's.
 *
 * uuid_generate_random() (behind sl_uuid_generate) costs about 2.5 us per id
 * on the reference machine: a getrandom() and a srandom() per call. A load
 * tool that makes 100 000 ids a second would spend a quarter of a core on
 * them, taken from the server it measures. A xoshiro256** stream seeded once
 * from the system generator gives ids that are as unique for this purpose.
 * One generator per thread: the state is not shared. */
#ifndef SL_BENCH_FASTID_H
#define SL_BENCH_FASTID_H

#include <stdint.h>
#include <string.h>

#include "util/codec.h"

struct fastid {
    uint64_t s[4];
};

static inline uint64_t fastid_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t fastid_next(struct fastid *g)
{
    uint64_t result = fastid_rotl(g->s[1] * 5, 7) * 9;
    uint64_t t = g->s[1] << 17;
    g->s[2] ^= g->s[0];
    g->s[3] ^= g->s[1];
    g->s[1] ^= g->s[2];
    g->s[0] ^= g->s[3];
    g->s[2] ^= t;
    g->s[3] = fastid_rotl(g->s[3], 45);
    return result;
}

static inline void fastid_seed(struct fastid *g)
{
    uint8_t seed[32];
    sl_uuid_generate(seed);
    sl_uuid_generate(seed + 16);
    memcpy(g->s, seed, sizeof seed);
    if ((g->s[0] | g->s[1] | g->s[2] | g->s[3]) == 0)
        g->s[0] = 1;
}

/* A random (version 4) UUID as 16 bytes. */
static inline void fastid_uuid(struct fastid *g, uint8_t out[16])
{
    uint64_t a = fastid_next(g), b = fastid_next(g);
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x40);
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}

/* The same, in the canonical lower-case text form: 36 chars at `out`, no NUL. */
static inline void fastid_uuid_text(struct fastid *g, char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    fastid_uuid(g, b);
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
}

#endif
