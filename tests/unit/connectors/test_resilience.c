/* test_resilience.c: when a failed delivery is retried and when the
 * connector gives up: KurrentDB's staircase, sluice's exponential backoff
 * with full jitter, maxRetries, and a delay the sink asked for. */
#include "connector_test.h"

#include "connectors/resilience.h"

#define SECOND 1000
#define MINUTE (60 * SECOND)
#define HOUR (60 * MINUTE)

/* The backoff of settings given as NULL-terminated pairs. */
static struct sl_backoff backoff_of(const char *key, ...)
{
    struct sl_settings s;
    sl_settings_init(&s);
    va_list ap;
    va_start(ap, key);
    for (const char *k = key; k != NULL; k = va_arg(ap, const char *))
        assert_true(sl_settings_set(&s, k, va_arg(ap, const char *)));
    va_end(ap);
    struct sl_backoff b;
    memset(&b, 0xab, sizeof(b));
    sl_backoff_from_settings(&s, &b);
    sl_settings_free(&s);
    return b;
}

static uint64_t rng_seed = 0x9e3779b97f4a7c15ull;

static int64_t delay_at(const struct sl_backoff *b, int64_t attempt, int64_t elapsed_ms)
{
    return sl_backoff_delay(b, attempt, elapsed_ms, -1, &rng_seed);
}

static void test_defaults_are_kurrentdb_staircase_retrying_forever_then_stop(void **state)
{
    (void)state;
    struct sl_backoff b = backoff_of(NULL);
    assert_true(b.is_enabled);
    assert_int_equal(b.kind, SL_BACKOFF_STAIRCASE);
    assert_int_equal(b.step_upper_ms[0], MINUTE);
    assert_int_equal(b.step_delay_ms[0], 5 * SECOND);
    assert_int_equal(b.step_upper_ms[1], HOUR);
    assert_int_equal(b.step_delay_ms[1], 10 * MINUTE);
    assert_int_equal(b.step_upper_ms[2], -1);
    assert_int_equal(b.step_delay_ms[2], HOUR);
    assert_int_equal(b.initial_delay_ms, 500);
    assert_int_equal(b.max_delay_ms, MINUTE);
    assert_int_equal(b.max_retries, -1);
    assert_int_equal(b.on_exhausted, SL_EXHAUSTED_STOP);
}

static void test_staircase_steps_change_exactly_at_their_upper_limits(void **state)
{
    (void)state;
    struct sl_backoff b = backoff_of(NULL);
    static const struct {
        int64_t elapsed_ms, delay_ms;
    } cases[] = {
        {0, 5 * SECOND},       {30 * SECOND, 5 * SECOND},       {MINUTE - 1, 5 * SECOND},
        {MINUTE, 10 * MINUTE}, {30 * MINUTE, 10 * MINUTE},      {HOUR - 1, 10 * MINUTE},
        {HOUR, HOUR},          {10 * 24 * (int64_t)HOUR, HOUR},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        int64_t got = delay_at(&b, (int64_t)i + 1, cases[i].elapsed_ms);
        if (got != cases[i].delay_ms)
            fail_msg("after %lld ms the delay is %lld ms, expected %lld", (long long)cases[i].elapsed_ms,
                     (long long)got, (long long)cases[i].delay_ms);
    }
}

static void test_staircase_without_limits_never_exhausts(void **state)
{
    (void)state;
    struct sl_backoff b = backoff_of(NULL);
    assert_int_equal(delay_at(&b, 100000, 365 * 24 * (int64_t)HOUR), HOUR);
}

static void test_staircase_takes_its_steps_from_the_settings(void **state)
{
    (void)state;
    struct sl_backoff b = backoff_of(
        "resilience:firstDelayBound:upperLimitMs", "1000", "resilience:firstDelayBound:delayMs", "100",
        "resilience:secondDelayBound:upperLimitMs", "5000", "resilience:secondDelayBound:delayMs", "700",
        "resilience:thirdDelayBound:delayMs", "2500", NULL);
    assert_int_equal(delay_at(&b, 1, 999), 100);
    assert_int_equal(delay_at(&b, 2, 1000), 700);
    assert_int_equal(delay_at(&b, 3, 4999), 700);
    assert_int_equal(delay_at(&b, 4, 5000), 2500);
}

static void test_third_step_upper_limit_exhausts_the_retries(void **state)
{
    (void)state;
    struct sl_backoff b = backoff_of("resilience:thirdDelayBound:upperLimitMs", "7200000", NULL);
    assert_int_equal(b.step_upper_ms[2], 2 * HOUR);
    assert_int_equal(delay_at(&b, 1, 2 * HOUR - 1), HOUR);
    assert_int_equal(delay_at(&b, 2, 2 * HOUR), -1);
    assert_int_equal(delay_at(&b, 3, 5 * HOUR), -1);
}

/* Draws `n` delays for `attempt`; fails unless each is in [0, ceiling]. */
static void draw(const struct sl_backoff *b, int64_t attempt, int64_t ceiling, size_t n, int64_t *min,
                 int64_t *max, size_t *distinct)
{
    static bool seen[100001];
    assert_true(ceiling < (int64_t)ARRAY_LEN(seen));
    memset(seen, 0, sizeof(seen));
    *min = INT64_MAX;
    *max = -1;
    *distinct = 0;
    uint64_t rng = 12345;
    for (size_t i = 0; i < n; i++) {
        int64_t d = sl_backoff_delay(b, attempt, (int64_t)i * 10, -1, &rng);
        if (d < 0 || d > ceiling)
            fail_msg("retry %lld: delay %lld ms is outside [0, %lld]", (long long)attempt, (long long)d,
                     (long long)ceiling);
        assert_int_not_equal(rng, 0);
        *min = d < *min ? d : *min;
        *max = d > *max ? d : *max;
        if (!seen[d]) {
            seen[d] = true;
            (*distinct)++;
        }
    }
}

static void test_exponential_ceiling_doubles_from_the_initial_delay_up_to_the_maximum(void **state)
{
    (void)state;
    struct sl_backoff b = backoff_of("resilience:backoff", "exponential", "resilience:initialDelayMs", "100",
                                     "resilience:maxDelayMs", "1000", NULL);
    assert_int_equal(b.kind, SL_BACKOFF_EXPONENTIAL);
    static const int64_t ceilings[] = {100, 200, 400, 800, 1000, 1000, 1000};
    int64_t previous_max = -1;
    for (size_t i = 0; i < ARRAY_LEN(ceilings); i++) {
        int64_t min, max;
        size_t distinct;
        draw(&b, (int64_t)i + 1, ceilings[i], 4000, &min, &max, &distinct);
        /* Full jitter: the draws reach close to the ceiling and spread down to near 0. */
        if (max < ceilings[i] * 9 / 10 || min > ceilings[i] / 10)
            fail_msg("retry %zu: delays spread over [%lld, %lld], expected most of [0, %lld]", i + 1,
                     (long long)min, (long long)max, (long long)ceilings[i]);
        assert_true(distinct > (size_t)(ceilings[i] / 4));
        if (i > 0 && ceilings[i] > ceilings[i - 1])
            assert_true(max > previous_max);
        previous_max = max;
    }
}

static void test_exponential_ceiling_stays_at_the_maximum_after_many_retries(void **state)
{
    (void)state;
    struct sl_backoff b = backoff_of("resilience:backoff", "Exponential", "resilience:initialDelayMs", "3",
                                     "resilience:maxDelayMs", "50000", NULL);
    int64_t min, max;
    size_t distinct;
    draw(&b, 1000000, 50000, 4000, &min, &max, &distinct);
    assert_true(max > 45000);
}

static void test_exponential_delays_differ_between_random_states(void **state)
{
    (void)state;
    struct sl_backoff b = backoff_of("resilience:backoff", "exponential", NULL);
    uint64_t a = 1, c = 0xdeadbeefull;
    int differences = 0;
    for (int i = 0; i < 50; i++)
        differences += sl_backoff_delay(&b, 8, 0, -1, &a) != sl_backoff_delay(&b, 8, 0, -1, &c);
    assert_true(differences > 40);
}

static void test_max_retries_exhausts_after_that_many_retries(void **state)
{
    (void)state;
    static const char *const kinds[] = {"staircase", "exponential"};
    for (size_t k = 0; k < ARRAY_LEN(kinds); k++) {
        struct sl_backoff b = backoff_of("resilience:backoff", kinds[k], "resilience:maxRetries", "3", NULL);
        assert_int_equal(b.max_retries, 3);
        for (int64_t attempt = 1; attempt <= 3; attempt++)
            assert_true(delay_at(&b, attempt, attempt * 10) >= 0);
        assert_int_equal(delay_at(&b, 4, 40), -1);
        assert_int_equal(delay_at(&b, 5, 50), -1);
    }
}

static void test_zero_max_retries_gives_up_at_the_first_failure(void **state)
{
    (void)state;
    struct sl_backoff b = backoff_of("resilience:maxRetries", "0", NULL);
    assert_int_equal(delay_at(&b, 1, 0), -1);
}

static void test_disabled_resilience_gives_up_at_once(void **state)
{
    (void)state;
    struct sl_backoff b = backoff_of("resilience:enabled", "false", NULL);
    assert_false(b.is_enabled);
    assert_int_equal(delay_at(&b, 1, 0), -1);
    assert_int_equal(sl_backoff_delay(&b, 1, 0, 3000, &rng_seed), -1);
}

static void test_retry_after_longer_than_the_schedule_wins(void **state)
{
    (void)state;
    struct sl_backoff stairs = backoff_of(NULL);
    assert_int_equal(sl_backoff_delay(&stairs, 1, 0, 30 * SECOND, &rng_seed), 30 * SECOND);
    assert_int_equal(sl_backoff_delay(&stairs, 1, 0, 1 * SECOND, &rng_seed), 5 * SECOND);
    assert_int_equal(sl_backoff_delay(&stairs, 1, 0, 0, &rng_seed), 5 * SECOND);

    struct sl_backoff expo = backoff_of("resilience:backoff", "exponential", "resilience:initialDelayMs",
                                        "10", "resilience:maxDelayMs", "100", NULL);
    for (int i = 0; i < 100; i++)
        assert_int_equal(sl_backoff_delay(&expo, 3, 0, 2500, &rng_seed), 2500);
}

static void test_retry_after_does_not_revive_exhausted_retries(void **state)
{
    (void)state;
    struct sl_backoff b = backoff_of("resilience:maxRetries", "1", NULL);
    assert_int_equal(sl_backoff_delay(&b, 2, 0, 1000, &rng_seed), -1);
}

static void test_on_exhausted_reads_stop_or_dead_letter_ignoring_case(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        enum sl_exhausted_action action;
    } cases[] = {
        {NULL, SL_EXHAUSTED_STOP},
        {"stop", SL_EXHAUSTED_STOP},
        {"STOP", SL_EXHAUSTED_STOP},
        {"dead-letter", SL_EXHAUSTED_DEAD_LETTER},
        {"Dead-Letter", SL_EXHAUSTED_DEAD_LETTER},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct sl_backoff b =
            cases[i].value ? backoff_of("resilience:onExhausted", cases[i].value, NULL) : backoff_of(NULL);
        if (b.on_exhausted != cases[i].action)
            fail_msg("onExhausted=%s read as %d", cases[i].value ? cases[i].value : "(absent)",
                     (int)b.on_exhausted);
    }
}

/* The settings allow any maxDelayMs up to INT64_MAX: a long outage must not
 * overflow the doubling (keep this test last: an overflow under the
 * sanitizers ends the process). */
static void test_exponential_ceiling_never_overflows_with_the_largest_allowed_maximum(void **state)
{
    (void)state;
    struct sl_backoff b = backoff_of("resilience:backoff", "exponential", "resilience:initialDelayMs", "1",
                                     "resilience:maxDelayMs", "9223372036854775807", NULL);
    assert_int_equal(b.max_delay_ms, INT64_MAX);
    for (int64_t attempt = 60; attempt <= 70; attempt++)
        assert_true(delay_at(&b, attempt, 0) >= 0);
    struct sl_backoff top =
        backoff_of("resilience:backoff", "exponential", "resilience:initialDelayMs", "9223372036854775807",
                   "resilience:maxDelayMs", "9223372036854775807", NULL);
    assert_true(delay_at(&top, 1, 0) >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_kurrentdb_staircase_retrying_forever_then_stop),
        cmocka_unit_test(test_staircase_steps_change_exactly_at_their_upper_limits),
        cmocka_unit_test(test_staircase_without_limits_never_exhausts),
        cmocka_unit_test(test_staircase_takes_its_steps_from_the_settings),
        cmocka_unit_test(test_third_step_upper_limit_exhausts_the_retries),
        cmocka_unit_test(test_exponential_ceiling_doubles_from_the_initial_delay_up_to_the_maximum),
        cmocka_unit_test(test_exponential_ceiling_stays_at_the_maximum_after_many_retries),
        cmocka_unit_test(test_exponential_delays_differ_between_random_states),
        cmocka_unit_test(test_max_retries_exhausts_after_that_many_retries),
        cmocka_unit_test(test_zero_max_retries_gives_up_at_the_first_failure),
        cmocka_unit_test(test_disabled_resilience_gives_up_at_once),
        cmocka_unit_test(test_retry_after_longer_than_the_schedule_wins),
        cmocka_unit_test(test_retry_after_does_not_revive_exhausted_retries),
        cmocka_unit_test(test_on_exhausted_reads_stop_or_dead_letter_ignoring_case),
        cmocka_unit_test(test_exponential_ceiling_never_overflows_with_the_largest_allowed_maximum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
