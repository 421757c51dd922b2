#include "util/fastrand.h"

#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util/codec.h"

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* splitmix64: spreads a weak seed over the whole state (the seeding Vigna
 * recommends for xoshiro). */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Fills `out` from getrandom(2); false when it cannot (old kernel, seccomp). */
static bool system_random(void *out, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom((char *)out + got, len - got, 0);
        if (n <= 0)
            return false; /* EINTR included: the fallback is good enough for ids */
        got += (size_t)n;
    }
    return true;
}

static void fallback_seed(struct sl_fastrand *r)
{
    struct timespec real, mono;
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    uint64_t x = (uint64_t)real.tv_sec * 1000000000u + (uint64_t)real.tv_nsec;
    x ^= rotl((uint64_t)mono.tv_nsec, 32) ^ ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)r;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

void sl_fastrand_seed(struct sl_fastrand *r)
{
    if (!system_random(r->s, sizeof(r->s)))
        fallback_seed(r);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        r->s[0] = 1;
}

/* xoshiro256** 1.0 (Blackman and Vigna, public domain). */
uint64_t sl_fastrand_next(struct sl_fastrand *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void sl_fastrand_uuid(struct sl_fastrand *r, uint8_t out[16])
{
    uint64_t a = sl_fastrand_next(r), b = sl_fastrand_next(r);
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x40); /* version 4 */
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80); /* variant 10xx */
}

void sl_fastrand_uuid_text(struct sl_fastrand *r, char out[37])
{
    uint8_t id[16];
    sl_fastrand_uuid(r, id);
    sl_uuid_format(id, out);
}
