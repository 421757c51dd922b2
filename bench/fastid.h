/* fastid.h: random event ids for the load tools, cheaper than libuuid's.
 *
 * uuid_generate_random() (behind sl_uuid_generate) costs about 2.5 us per id
 * on the reference machine: a getrandom() and a srandom() per call. A load
 * tool that makes 100 000 ids a second would spend a quarter of a core on
 * them, taken from the server it measures. The generator is the server's own
 * (util/fastrand.h, which the connectors use for request ids); this header
 * keeps the load tools' names for it. One generator per thread: the state is
 * not shared. */
#ifndef SL_BENCH_FASTID_H
#define SL_BENCH_FASTID_H

#include <stdint.h>
#include <string.h>

#include "util/fastrand.h"

struct fastid {
    struct sl_fastrand rand;
};

static inline void fastid_seed(struct fastid *g)
{
    sl_fastrand_seed(&g->rand);
}

/* A random (version 4) UUID as 16 bytes. */
static inline void fastid_uuid(struct fastid *g, uint8_t out[16])
{
    sl_fastrand_uuid(&g->rand, out);
}

/* The same, in the canonical lower-case text form: 36 chars at `out`, no NUL
 * (the load tools write ids into request templates). */
static inline void fastid_uuid_text(struct fastid *g, char *out)
{
    char text[37];
    sl_fastrand_uuid_text(&g->rand, text);
    memcpy(out, text, 36);
}

#endif
