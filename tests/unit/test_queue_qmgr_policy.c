/*
 * Unit tests for qmgr's retry policy: the exponential back-off between
 * minimal_backoff_time and maximal_backoff_time, and when a deferred
 * recipient is given up (lifetime, null-sender lifetime, oneshot's 0,
 * forced expiry).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "queue/qmgr.h"

static void test_backoff(void **state)
{
    static const struct {
        time_t now, arrival;
        long min, max;
        time_t want;
    } t[] = {
        {1000, 1000, 300, 4000, 1300},      /* new: minimal */
        {1000, 999, 300, 4000, 1300},
        {1300, 1000, 300, 4000, 1600},      /* age 300: doubles */
        {1600, 1000, 300, 4000, 2200},      /* age 600 */
        {2200, 1000, 300, 4000, 3400},      /* age 1200 */
        {100000, 1000, 300, 4000, 104000},  /* capped: maximal */
        {1000, 5000, 300, 4000, 1300},      /* clock went back */
        {10, 9, 1, 2, 11},                  /* the tests' settings */
        {20, 9, 1, 2, 22},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        assert_int_equal(qmgr_backoff(t[i].now, t[i].arrival, t[i].min,
                                      t[i].max), t[i].want);
}

static void test_expired(void **state)
{
    static const struct {
        time_t now, arrival;
        long lifetime;
        bool forced, want;
    } t[] = {
        {1000, 1000, 0, false, true},       /* oneshot: one attempt */
        {1000, 1000, 432000, false, false}, /* 5d: young */
        {1000 + 432000, 1000, 432000, false, true},
        {1000 + 431999, 1000, 432000, false, false},
        {1000, 1000, 432000, true, true},   /* tern queue expire */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        assert_int_equal(qmgr_expired(t[i].now, t[i].arrival, t[i].lifetime,
                                      t[i].forced), t[i].want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_expired),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
