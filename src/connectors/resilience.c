#include "connectors/resilience.h"

#include <stdio.h>
#include <strings.h>

#include "connectors/definition.h"

void sl_backoff_from_settings(const struct sl_settings *s, struct sl_backoff *out)
{
    const struct sl_setting *t = sl_connector_settings;
    static const char *const steps[3] = {"first", "second", "third"};
    char key[96];
    out->is_enabled = sl_settings_bool(s, t, "resilience:enabled");
    out->kind = strcasecmp(sl_settings_str(s, t, "resilience:backoff"), "exponential") == 0
                    ? SL_BACKOFF_EXPONENTIAL
                    : SL_BACKOFF_STAIRCASE;
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof(key), "resilience:%sDelayBound:upperLimitMs", steps[i]);
        out->step_upper_ms[i] = sl_settings_int(s, t, key);
        snprintf(key, sizeof(key), "resilience:%sDelayBound:delayMs", steps[i]);
        out->step_delay_ms[i] = sl_settings_int(s, t, key);
    }
    out->initial_delay_ms = sl_settings_int(s, t, "resilience:initialDelayMs");
    out->max_delay_ms = sl_settings_int(s, t, "resilience:maxDelayMs");
    out->max_retries = sl_settings_int(s, t, "resilience:maxRetries");
    out->on_exhausted = strcasecmp(sl_settings_str(s, t, "resilience:onExhausted"), "dead-letter") == 0
                            ? SL_EXHAUSTED_DEAD_LETTER
                            : SL_EXHAUSTED_STOP;
}

static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

int64_t sl_backoff_delay(const struct sl_backoff *b, int64_t attempt, int64_t elapsed_ms,
                         int64_t retry_after_ms, uint64_t *rng)
{
    if (!b->is_enabled || (b->max_retries >= 0 && attempt > b->max_retries))
        return -1;
    int64_t delay;
    if (b->kind == SL_BACKOFF_EXPONENTIAL) {
        int64_t ceiling = b->initial_delay_ms;
        for (int64_t i = 1; i < attempt && ceiling < b->max_delay_ms; i++)
            ceiling = ceiling > b->max_delay_ms / 2 ? b->max_delay_ms : ceiling * 2;
        if (ceiling > b->max_delay_ms)
            ceiling = b->max_delay_ms;
        uint64_t span = (uint64_t)ceiling + 1; /* ceiling <= INT64_MAX, so this fits */
        delay = (int64_t)(next_random(rng) % span);
    } else {
        int step = 0;
        while (step < 2 && b->step_upper_ms[step] >= 0 && elapsed_ms >= b->step_upper_ms[step])
            step++;
        if (step == 2 && b->step_upper_ms[2] >= 0 && elapsed_ms >= b->step_upper_ms[2])
            return -1;
        delay = b->step_delay_ms[step];
    }
    if (retry_after_ms > delay)
        delay = retry_after_ms;
    return delay;
}
