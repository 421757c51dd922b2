/* resilience.h: when to retry a delivery that failed, and when to give up.
 *
 * Two schedules. `staircase` is KurrentDB's: a fixed delay per step of time
 * since the first failure (5 s for a minute, then 10 min for an hour, then
 * hourly). `exponential` doubles from initialDelayMs up to maxDelayMs with
 * full jitter (a uniform random delay in [0, ceiling]), which spreads the
 * retries of many connectors after a shared outage instead of synchronising
 * them. Either may be bounded by maxRetries, and the staircase also by its
 * third step's upper limit. A delay the sink asked for (Retry-After) wins when
 * it is longer.
 * Pure functions; the random state belongs to the caller. */
#ifndef SL_CONNECTORS_RESILIENCE_H
#define SL_CONNECTORS_RESILIENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "connectors/settings.h"

enum sl_backoff_kind { SL_BACKOFF_STAIRCASE, SL_BACKOFF_EXPONENTIAL };
enum sl_exhausted_action { SL_EXHAUSTED_STOP, SL_EXHAUSTED_DEAD_LETTER };

struct sl_backoff {
    bool is_enabled;
    enum sl_backoff_kind kind;
    int64_t step_upper_ms[3]; /* -1 = no limit */
    int64_t step_delay_ms[3];
    int64_t initial_delay_ms, max_delay_ms;
    int64_t max_retries; /* -1 = unlimited */
    enum sl_exhausted_action on_exhausted;
};

void sl_backoff_from_settings(const struct sl_settings *s, struct sl_backoff *out);

/* The delay before retry `attempt` (1 = the first retry), `elapsed_ms` after
 * the first failure, honouring `retry_after_ms` (-1 = none). Returns -1 when
 * the retries are exhausted. `rng` is a xorshift state, never 0. */
int64_t sl_backoff_delay(const struct sl_backoff *b, int64_t attempt, int64_t elapsed_ms,
                         int64_t retry_after_ms, uint64_t *rng);

#endif
