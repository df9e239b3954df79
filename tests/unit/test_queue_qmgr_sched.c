/*
 * Unit tests for queue/qmgr_sched, the scheduler as pure logic: window
 * growth and shrink, recipient-limit batching (one message per job),
 * round-robin fairness with one huge and several small destinations,
 * dead destinations (suspension, revival, flush), requeue, and relaylim's
 * single connection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "queue/qmgr_sched.h"

/* Limits by transport name, as main.cf would give them. */
static void limits(void *ctx, const char *transport, qmgr_limits *out)
{
    (void)ctx;
    *out = (qmgr_limits){5, 20, 50, 1, 300};
    if (strcmp(transport, "relaylim") == 0)
        out->max = 1;
    else if (strcmp(transport, "small") == 0)
        out->rcpt_limit = 2;
    else if (strcmp(transport, "nodeath") == 0)
        out->cohort_limit = 0;
}

static char msg_a, msg_b;              /* message identities */

/* start_all - start every job the scheduler allows now; how many. */
static size_t start_all(qmgr_sched *s, time_t now, qmgr_job *jobs, size_t max)
{
    size_t n = 0;

    while (n < max && qmgr_sched_next(s, now, &jobs[n]))
        n++;
    return n;
}

static void test_window_growth_and_shrink(void **state)
{
    static const struct {
        bool fail;
        int window_after;
    } steps[] = {
        {false, 6}, {false, 7}, {true, 6}, {true, 5}, {false, 6},
    };
    qmgr_sched *s = qmgr_sched_new(limits, NULL);
    qmgr_job jobs[64];
    qmgr_dest *d;

    (void)state;
    for (size_t i = 0; i < 1000; i++)
        qmgr_sched_add(s, "nodeath", "example.com", (char *)&msg_a + 0, i);
    /* A window of 5 at first: 5 jobs (of 50 recipients), then no more. */
    assert_int_equal(start_all(s, 100, jobs, 64), 5);
    d = qmgr_sched_find(s, "nodeath", "example.com");
    assert_non_null(d);
    assert_int_equal(qmgr_dest_window(d), 5);
    assert_int_equal(qmgr_dest_active(d), 5);
    assert_int_equal(jobs[0].nrcpt, 50);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        qmgr_sched_done(s, d, steps[i].fail, "4.4.1", "refused", 100);
        assert_int_equal(qmgr_dest_window(d), steps[i].window_after);
    }
    /* 5 done, window 6: six may start again. */
    assert_int_equal(start_all(s, 100, jobs + 5, 59), 6);
    assert_int_equal(qmgr_dest_active(d), 6);
    for (size_t i = 0; i < 11; i++)
        qmgr_job_free(&jobs[i]);
    qmgr_sched_free(s);
}

static void test_window_bounds(void **state)
{
    qmgr_sched *s = qmgr_sched_new(limits, NULL);
    qmgr_job job;
    qmgr_dest *d;

    (void)state;
    for (size_t i = 0; i < 10000; i++)
        qmgr_sched_add(s, "nodeath", "big.example", &msg_a, i);
    d = qmgr_sched_find(s, "nodeath", "big.example");
    for (int i = 0; i < 40; i++) {              /* never past the limit */
        assert_true(qmgr_sched_next(s, 1, &job));
        qmgr_job_free(&job);
        qmgr_sched_done(s, d, false, NULL, NULL, 1);
    }
    assert_int_equal(qmgr_dest_window(d), 20);
    for (int i = 0; i < 40; i++) {              /* never below 1 */
        assert_true(qmgr_sched_next(s, 1, &job));
        qmgr_job_free(&job);
        qmgr_sched_done(s, d, true, "4.4.1", "x", 1);
    }
    assert_int_equal(qmgr_dest_window(d), 1);
    assert_false(qmgr_dest_dead(d, 1));         /* cohort limit 0: never */
    qmgr_sched_free(s);
}

static void test_recipient_limit_batching(void **state)
{
    qmgr_sched *s = qmgr_sched_new(limits, NULL);
    qmgr_job jobs[8];
    size_t n;

    (void)state;
    /* 3 of message a, 2 of b, 1 of a again: limit 2, one message a job. */
    for (size_t i = 0; i < 3; i++)
        qmgr_sched_add(s, "small", "x.example", &msg_a, i);
    qmgr_sched_add(s, "small", "x.example", &msg_b, 0);
    qmgr_sched_add(s, "small", "x.example", &msg_b, 1);
    qmgr_sched_add(s, "small", "x.example", &msg_a, 3);
    n = start_all(s, 1, jobs, 8);
    assert_int_equal(n, 4);
    assert_ptr_equal(jobs[0].msg, &msg_a);
    assert_int_equal(jobs[0].nrcpt, 2);
    assert_int_equal(jobs[0].rcpt[0], 0);
    assert_int_equal(jobs[0].rcpt[1], 1);
    assert_ptr_equal(jobs[1].msg, &msg_a);
    assert_int_equal(jobs[1].nrcpt, 1);
    assert_int_equal(jobs[1].rcpt[0], 2);
    assert_ptr_equal(jobs[2].msg, &msg_b);
    assert_int_equal(jobs[2].nrcpt, 2);
    assert_ptr_equal(jobs[3].msg, &msg_a);
    assert_int_equal(jobs[3].rcpt[0], 3);
    assert_string_equal(jobs[3].transport, "small");
    assert_string_equal(jobs[3].nexthop, "x.example");
    assert_int_equal(qmgr_sched_queued(s), 0);
    assert_int_equal(qmgr_sched_in_flight(s), 4);
    for (size_t i = 0; i < n; i++)
        qmgr_job_free(&jobs[i]);
    qmgr_sched_free(s);
}

static void test_round_robin_fairness(void **state)
{
    static const char *const small[] = {"a.example", "b.example",
                                        "c.example", "d.example"};
    qmgr_sched *s = qmgr_sched_new(limits, NULL);
    qmgr_job job;
    size_t seen[5] = {0}, turn;

    (void)state;
    /* One huge destination queued first, then four with one recipient. */
    for (size_t i = 0; i < 5000; i++)
        qmgr_sched_add(s, "smtp", "huge.example", &msg_a, i);
    for (size_t i = 0; i < 4; i++)
        qmgr_sched_add(s, "smtp", small[i], &msg_b, i);
    /* Within the first five jobs every small destination got its turn. */
    for (turn = 0; turn < 5; turn++) {
        assert_true(qmgr_sched_next(s, 1, &job));
        if (strcmp(job.nexthop, "huge.example") == 0)
            seen[4]++;
        for (size_t i = 0; i < 4; i++)
            if (strcmp(job.nexthop, small[i]) == 0)
                seen[i]++;
        qmgr_sched_done(s, job.dest, false, NULL, NULL, 1);
        qmgr_job_free(&job);
    }
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(seen[4], 1);
    qmgr_sched_free(s);
}

static void test_dead_destination(void **state)
{
    qmgr_sched *s = qmgr_sched_new(limits, NULL);
    qmgr_job jobs[8], dead;
    const char *reason, *dsn;
    qmgr_dest *d;
    size_t n;

    (void)state;
    for (size_t i = 0; i < 400; i++)
        qmgr_sched_add(s, "smtp", "down.example", &msg_a, i);
    n = start_all(s, 1000, jobs, 8);
    assert_int_equal(n, 5);
    d = qmgr_sched_find(s, "smtp", "down.example");
    /* Failures: cohorts 1/5 + 1/4 + 1/3 + 1/2 >= 1 after four. */
    for (size_t i = 0; i < 3; i++) {
        qmgr_sched_done(s, d, true, "4.4.1", "connect refused", 1000);
        assert_false(qmgr_dest_dead(d, 1000));
    }
    qmgr_sched_done(s, d, true, "4.4.1", "connect refused", 1000);
    assert_true(qmgr_dest_dead(d, 1000));
    /* Dead: nothing starts, the queue is handed back for deferral. */
    assert_false(qmgr_sched_next(s, 1000, &jobs[5]));
    assert_true(qmgr_sched_next_dead(s, 1000, &dead, &reason, &dsn));
    assert_string_equal(reason, "connect refused");
    assert_string_equal(dsn, "4.4.1");
    assert_int_equal(dead.nrcpt, 150);
    assert_int_equal(qmgr_sched_in_flight(s), 1);
    qmgr_job_free(&dead);
    assert_false(qmgr_sched_next_dead(s, 1000, &dead, &reason, &dsn));
    /* The last one in flight ends; new mail while dead is deferred too. */
    qmgr_sched_done(s, d, false, NULL, NULL, 1000);
    qmgr_sched_add(s, "smtp", "down.example", &msg_b, 0);
    assert_true(qmgr_sched_next_dead(s, 1200, &dead, &reason, &dsn));
    qmgr_job_free(&dead);
    /* After minimal_backoff_time (300 s) it is alive, window initial. */
    qmgr_sched_add(s, "smtp", "down.example", &msg_b, 1);
    assert_false(qmgr_sched_next_dead(s, 1300, &dead, &reason, &dsn));
    assert_true(qmgr_sched_next(s, 1300, &jobs[5]));
    assert_false(qmgr_dest_dead(jobs[5].dest, 1300));
    assert_int_equal(qmgr_dest_window(jobs[5].dest), 5);
    for (size_t i = 0; i < 6; i++)
        qmgr_job_free(&jobs[i]);
    qmgr_sched_free(s);
}

static void test_flush_revives(void **state)
{
    qmgr_sched *s = qmgr_sched_new(limits, NULL);
    qmgr_job job;
    qmgr_dest *d;

    (void)state;
    qmgr_sched_add(s, "relaylim", "r.example", &msg_a, 0);
    qmgr_sched_add(s, "relaylim", "r.example", &msg_b, 1);   /* a 2nd job */
    assert_true(qmgr_sched_next(s, 10, &job));
    qmgr_job_free(&job);
    d = qmgr_sched_find(s, "relaylim", "r.example");
    qmgr_sched_done(s, d, true, "4.4.2", "lost connection", 10);
    assert_true(qmgr_dest_dead(d, 10));         /* 1/1 cohort at window 1 */
    qmgr_sched_revive(s);
    assert_false(qmgr_dest_dead(d, 10));
    assert_true(qmgr_sched_next(s, 10, &job));
    qmgr_job_free(&job);
    qmgr_sched_free(s);
}

static void test_relaylim_one_at_a_time(void **state)
{
    qmgr_sched *s = qmgr_sched_new(limits, NULL);
    qmgr_job jobs[4];

    (void)state;
    for (size_t i = 0; i < 3; i++)
        qmgr_sched_add(s, "relaylim", "r.example", (i == 1) ? &msg_b : &msg_a, i);
    for (size_t round = 0; round < 3; round++) {
        assert_true(qmgr_sched_next(s, 1, &jobs[round]));
        assert_false(qmgr_sched_next(s, 1, &jobs[3]));  /* window 1 */
        qmgr_sched_done(s, jobs[round].dest, false, NULL, NULL, 1);
        assert_int_equal(qmgr_dest_window(jobs[round].dest), 1);
        qmgr_job_free(&jobs[round]);
    }
    assert_false(qmgr_sched_next(s, 1, &jobs[3]));
    /* The idle destination is forgotten. */
    assert_null(qmgr_sched_find(s, "relaylim", "r.example"));
    qmgr_sched_free(s);
}

static void test_requeue(void **state)
{
    qmgr_sched *s = qmgr_sched_new(limits, NULL);
    qmgr_job job;

    (void)state;
    for (size_t i = 0; i < 3; i++)
        qmgr_sched_add(s, "small", "q.example", &msg_a, i);
    assert_true(qmgr_sched_next(s, 1, &job));
    assert_int_equal(job.nrcpt, 2);
    qmgr_sched_requeue(s, &job);
    assert_int_equal(qmgr_sched_queued(s), 3);
    assert_int_equal(qmgr_sched_in_flight(s), 0);
    assert_true(qmgr_sched_next(s, 1, &job));  /* the same two again */
    assert_int_equal(job.rcpt[0], 0);
    assert_int_equal(job.rcpt[1], 1);
    qmgr_job_free(&job);
    qmgr_sched_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_growth_and_shrink),
        cmocka_unit_test(test_window_bounds),
        cmocka_unit_test(test_recipient_limit_batching),
        cmocka_unit_test(test_round_robin_fairness),
        cmocka_unit_test(test_dead_destination),
        cmocka_unit_test(test_flush_revives),
        cmocka_unit_test(test_relaylim_one_at_a_time),
        cmocka_unit_test(test_requeue),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
