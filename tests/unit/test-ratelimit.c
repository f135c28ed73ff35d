/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for stitchd/ratelimit.c: the backoff schedule, the window, resets,
 * and the bounded table: a full table of active accounts refuses new names
 * and never evicts them, idle accounts make room, the count stays exact and
 * every lookup ends. Time is passed in, so every test is deterministic. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>

#include "macro.h"
#include "core/ratelimit.h"

#define SEC USEC_PER_SEC
#define T0 (UINT64_C(1000) * SEC) /* a monotonic clock that has run for a while */
#define WINDOW (600 * SEC)
#define BACKOFF_MAX (60 * SEC)

static struct stitch_ratelimit *limiter_with(unsigned max_failures, uint64_t window, size_t max_accounts) {
        struct stitch_ratelimit *rl = NULL;
        assert_int_equal(stitch_ratelimit_new(max_failures, window, BACKOFF_MAX, max_accounts, &rl), 0);
        assert_non_null(rl);
        return rl;
}

static struct stitch_ratelimit *limiter(unsigned max_failures, size_t max_accounts) {
        return limiter_with(max_failures, WINDOW, max_accounts);
}

static int attempt(struct stitch_ratelimit *rl, const char *name, uint64_t now, uint64_t *retry) {
        uint64_t r = UINT64_MAX;
        int ret = stitch_ratelimit_begin(rl, name, now, &r);
        if (retry)
                *retry = ret < 0 ? r : 0;
        return ret;
}

static const char *name_of(char buf[static 32], const char *prefix, unsigned i) {
        snprintf(buf, 32, "%s%u", prefix, i);
        return buf;
}

/* Locks 'name' at 'now' with max_failures + 1 attempts: the last one sets a 1 s lock. */
static void lock_account(struct stitch_ratelimit *rl, unsigned max_failures, const char *name, uint64_t now) {
        for (unsigned i = 0; i <= max_failures; i++)
                assert_int_equal(attempt(rl, name, now, NULL), 0);
        uint64_t retry;
        assert_int_equal(attempt(rl, name, now, &retry), -EBUSY);
        assert_true(retry == SEC);
}

static void test_new_rejects_sizes(void **state) {
        (void) state;
        struct stitch_ratelimit *rl = NULL;
        assert_int_equal(stitch_ratelimit_new(3, WINDOW, BACKOFF_MAX, STITCH_RATELIMIT_TRACKED_MIN - 1, &rl), -EINVAL);
        assert_int_equal(stitch_ratelimit_new(3, WINDOW, BACKOFF_MAX, STITCH_RATELIMIT_TRACKED_MAX + 1, &rl), -EINVAL);
        assert_null(rl);
        rl = limiter(3, STITCH_RATELIMIT_TRACKED_DEFAULT);
        assert_int_equal(stitch_ratelimit_count(rl), 0);
        stitch_ratelimit_free(rl);
        assert_null(stitch_ratelimit_free(NULL));
}

/* After max_failures attempts each further one locks for 1, 2, 4, ... s, capped at backoff_max;
 * attempts during a lock are refused with the time left and not counted. */
static void test_backoff_doubles_and_caps(void **state) {
        (void) state;
        struct stitch_ratelimit *rl = limiter(3, 64);
        uint64_t now = T0, retry;

        for (int i = 0; i < 3; i++)
                assert_int_equal(attempt(rl, "ada", now, NULL), 0);
        uint64_t expected = SEC;
        for (int i = 0; i < 12; i++) {
                assert_int_equal(attempt(rl, "ada", now, NULL), 0); /* the attempt that sets the lock proceeds */
                assert_int_equal(attempt(rl, "ada", now, &retry), -EBUSY);
                assert_true(retry == expected);
                assert_int_equal(attempt(rl, "ada", now + expected - 1, &retry), -EBUSY);
                assert_true(retry == 1);
                now += expected;
                expected = MIN(2 * expected, BACKOFF_MAX);
        }
        assert_true(expected == BACKOFF_MAX); /* 1, 2, 4, 8, 16, 32, 60, 60, ... */
        stitch_ratelimit_free(rl);
}

static void test_window_resets_count(void **state) {
        (void) state;
        struct stitch_ratelimit *rl = limiter(3, 64);

        for (int i = 0; i < 3; i++)
                assert_int_equal(attempt(rl, "ada", T0, NULL), 0);
        /* Exactly one window later the failures still count: the next one locks. */
        assert_int_equal(attempt(rl, "ada", T0 + WINDOW, NULL), 0);
        assert_int_equal(attempt(rl, "ada", T0 + WINDOW, NULL), -EBUSY);

        /* More than a window after the last attempt, counting starts over. */
        uint64_t later = T0 + 2 * WINDOW + 1;
        for (int i = 0; i < 3; i++)
                assert_int_equal(attempt(rl, "ada", later, NULL), 0);
        assert_int_equal(attempt(rl, "ada", later, NULL), 0);
        assert_int_equal(attempt(rl, "ada", later, NULL), -EBUSY);
        stitch_ratelimit_free(rl);
}

static void test_success_resets(void **state) {
        (void) state;
        struct stitch_ratelimit *rl = limiter(3, 64);

        for (int i = 0; i < 3; i++)
                assert_int_equal(attempt(rl, "ada", T0, NULL), 0);
        stitch_ratelimit_success(rl, "ada");
        assert_int_equal(stitch_ratelimit_count(rl), 0);
        for (int i = 0; i < 4; i++)
                assert_int_equal(attempt(rl, "ada", T0, NULL), 0);
        assert_int_equal(attempt(rl, "ada", T0, NULL), -EBUSY);
        stitch_ratelimit_success(rl, "nobody"); /* not tracked: nothing happens */
        assert_int_equal(stitch_ratelimit_count(rl), 1);
        stitch_ratelimit_free(rl);
}

static void test_unlock(void **state) {
        (void) state;
        struct stitch_ratelimit *rl = limiter(3, 64);

        lock_account(rl, 3, "ada", T0);
        lock_account(rl, 3, "bob", T0);
        assert_int_equal(stitch_ratelimit_unlock(rl, "ada"), 1);
        assert_int_equal(stitch_ratelimit_unlock(rl, "ada"), 0);
        assert_int_equal(stitch_ratelimit_unlock(rl, "carol"), 0);
        assert_int_equal(attempt(rl, "ada", T0, NULL), 0);
        assert_int_equal(attempt(rl, "bob", T0, NULL), -EBUSY); /* only ada was unlocked */
        assert_int_equal(stitch_ratelimit_count(rl), 2);
        stitch_ratelimit_free(rl);
}

static void test_max_failures_zero_disables(void **state) {
        (void) state;
        struct stitch_ratelimit *rl = limiter(0, 16);

        for (unsigned i = 0; i < 1000; i++) {
                char buf[32];
                assert_int_equal(attempt(rl, "ada", T0, NULL), 0);
                assert_int_equal(attempt(rl, name_of(buf, "n", i), T0, NULL), 0);
        }
        assert_int_equal(stitch_ratelimit_count(rl), 0);
        assert_int_equal(stitch_ratelimit_unlock(rl, "ada"), 0);
        stitch_ratelimit_free(rl);
}

/* The attack of the review: a table full of locked accounts, then a flood of
 * other names. Nothing may be evicted; new names are refused (fail closed)
 * with the time until the first tracked account turns idle. */
static void test_full_of_locked_refuses_new_names(void **state) {
        (void) state;
        enum { MAX = 64 };
        struct stitch_ratelimit *rl = limiter(3, MAX);
        char buf[32];
        uint64_t retry;

        for (unsigned i = 0; i < MAX; i++)
                lock_account(rl, 3, name_of(buf, "victim", i), T0);
        assert_int_equal(stitch_ratelimit_count(rl), MAX);

        for (unsigned i = 0; i < 20000; i++) {
                assert_int_equal(attempt(rl, name_of(buf, "flood", i), T0 + 1, &retry), -EBUSY);
                /* All were last tried at T0: idle once the window has passed. */
                assert_true(retry == WINDOW);
        }
        assert_int_equal(stitch_ratelimit_count(rl), MAX);
        for (unsigned i = 0; i < MAX; i++) {
                assert_int_equal(attempt(rl, name_of(buf, "victim", i), T0 + 2, &retry), -EBUSY);
                assert_true(retry == SEC - 2);
        }

        /* Still counting failures inside the window (the lock has passed) is not idle either. */
        uint64_t now = T0 + WINDOW;
        for (unsigned i = 0; i < 20000; i++)
                assert_int_equal(attempt(rl, name_of(buf, "flood", i), now, &retry), -EBUSY);
        for (unsigned i = 0; i < MAX; i++) /* tracked: the next failure locks again for 2 s */
                assert_int_equal(attempt(rl, name_of(buf, "victim", i), now, NULL), 0);
        for (unsigned i = 0; i < MAX; i++) {
                assert_int_equal(attempt(rl, name_of(buf, "victim", i), now, &retry), -EBUSY);
                assert_true(retry == 2 * SEC);
        }
        assert_int_equal(attempt(rl, "flood-x", now + 1, &retry), -EBUSY);
        assert_true(retry == WINDOW);
        stitch_ratelimit_free(rl);
}

/* Accounts that are idle (no lock, window over) make room for new ones; a
 * success or an unlock makes room at once. */
static void test_idle_eviction_frees_room(void **state) {
        (void) state;
        enum { MAX = 64 };
        struct stitch_ratelimit *rl = limiter(3, MAX);
        char buf[32];

        for (unsigned i = 0; i < MAX; i++)
                assert_int_equal(attempt(rl, name_of(buf, "old", i), T0 + i, NULL), 0);
        assert_int_equal(attempt(rl, "new", T0 + MAX, NULL), -EBUSY);

        /* A success frees one slot. */
        stitch_ratelimit_success(rl, "old0");
        assert_int_equal(attempt(rl, "new", T0 + MAX, NULL), 0);
        assert_int_equal(attempt(rl, "new2", T0 + MAX, NULL), -EBUSY);

        /* old1 turns idle at T0 + 1 + WINDOW + 1, the others later, one microsecond apart.
         * (The first refusal may name an earlier time: old0's, gone by success.) */
        uint64_t retry;
        assert_int_equal(attempt(rl, "new2", T0 + WINDOW, &retry), -EBUSY);
        assert_true(retry >= 1 && retry <= 2);
        assert_int_equal(attempt(rl, "new2", T0 + WINDOW + 1, &retry), -EBUSY);
        assert_true(retry == 1);
        assert_int_equal(attempt(rl, "new2", T0 + WINDOW + 2, NULL), 0);
        assert_int_equal(attempt(rl, "new3", T0 + WINDOW + 2, NULL), -EBUSY);
        assert_int_equal(stitch_ratelimit_count(rl), MAX);

        /* Once all old ones are idle, every one of them can be replaced. */
        uint64_t later = T0 + WINDOW + MAX; /* old63 turns idle now, "new" one microsecond later */
        for (unsigned i = 2; i < MAX; i++)
                assert_int_equal(attempt(rl, name_of(buf, "fresh", i), later, NULL), 0);
        assert_int_equal(stitch_ratelimit_count(rl), MAX);
        for (unsigned i = 0; i < MAX; i++)
                assert_int_equal(stitch_ratelimit_unlock(rl, name_of(buf, "old", i)), 0);
        assert_int_equal(stitch_ratelimit_unlock(rl, "new"), 1);
        assert_int_equal(stitch_ratelimit_unlock(rl, "new2"), 1);
        for (unsigned i = 2; i < MAX; i++)
                assert_int_equal(stitch_ratelimit_unlock(rl, name_of(buf, "fresh", i)), 1);
        assert_int_equal(stitch_ratelimit_count(rl), 0);
        stitch_ratelimit_free(rl);
}

/* A locked account among idle ones survives the eviction that frees the others. */
static void test_eviction_keeps_locked(void **state) {
        (void) state;
        enum { MAX = 16 };
        struct stitch_ratelimit *rl = limiter_with(3, 100 * SEC, MAX); /* the lock can outlast the window */
        char buf[32];
        uint64_t retry;

        for (unsigned i = 0; i < MAX - 1; i++)
                assert_int_equal(attempt(rl, name_of(buf, "idle", i), T0, NULL), 0);
        /* Locked for BACKOFF_MAX, long after the others turn idle. */
        uint64_t t = T0;
        for (unsigned i = 0; i < 4; i++)
                assert_int_equal(attempt(rl, "victim", t, NULL), 0);
        for (;;) {
                assert_int_equal(attempt(rl, "victim", t, &retry), -EBUSY);
                if (retry == BACKOFF_MAX)
                        break;
                t += retry;
                assert_int_equal(attempt(rl, "victim", t, NULL), 0);
        }
        uint64_t locked_until = t + BACKOFF_MAX;

        uint64_t now = MAX(T0 + 100 * SEC + 1, t + 1);
        assert_true(now < locked_until);
        for (unsigned i = 0; i < MAX - 1; i++)
                assert_int_equal(attempt(rl, name_of(buf, "flood", i), now, NULL), 0);
        assert_int_equal(attempt(rl, "flood-last", now, NULL), -EBUSY);
        assert_int_equal(attempt(rl, "victim", now, &retry), -EBUSY);
        assert_true(retry == locked_until - now);
        stitch_ratelimit_free(rl);
}

/* `used` is exact: inserts and removals in every order, through growth and
 * eviction, and every tracked name stays reachable (unlock finds it). */
static void test_count_exact_after_cycles(void **state) {
        (void) state;
        enum { MAX = 4096, LIVE = 3000 };
        struct stitch_ratelimit *rl = limiter(1000, MAX);
        static bool tracked[LIVE];
        size_t n = 0;
        uint32_t x = 12345;
        char buf[32];

        for (unsigned round = 0; round < 200000; round++) {
                x = x * 1103515245 + 12345; /* a fixed pseudo-random sequence */
                unsigned i = (x >> 8) % LIVE;
                name_of(buf, "u", i);
                switch ((x >> 4) % 3) {
                case 0:
                case 1:
                        assert_int_equal(attempt(rl, buf, T0, NULL), 0);
                        if (!tracked[i]) {
                                tracked[i] = true;
                                n++;
                        }
                        break;
                default:
                        if ((x >> 6) & 1)
                                assert_int_equal(stitch_ratelimit_unlock(rl, buf), tracked[i] ? 1 : 0);
                        else
                                stitch_ratelimit_success(rl, buf);
                        if (tracked[i]) {
                                tracked[i] = false;
                                n--;
                        }
                }
                if (round % 997 == 0)
                        assert_int_equal(stitch_ratelimit_count(rl), n);
        }
        assert_int_equal(stitch_ratelimit_count(rl), n);
        for (unsigned i = 0; i < LIVE; i++)
                assert_int_equal(stitch_ratelimit_unlock(rl, name_of(buf, "u", i)), tracked[i] ? 1 : 0);
        assert_int_equal(stitch_ratelimit_count(rl), 0);
        /* Removing what is not there leaves the count alone (it used to go down). */
        for (unsigned i = 0; i < 1000; i++)
                stitch_ratelimit_success(rl, name_of(buf, "u", i));
        assert_int_equal(stitch_ratelimit_count(rl), 0);
        stitch_ratelimit_free(rl);
}

/* The harness that used to hang after about 7,000 names: 200,000 distinct
 * names against a small table, first all active (refused once full), then
 * spread over time so that old ones turn idle and are replaced. Every call
 * returns and the count never exceeds the table. */
static void test_flood_terminates(void **state) {
        (void) state;
        enum { MAX = 256, NAMES = 200000 };
        struct stitch_ratelimit *rl = limiter(3, MAX);
        char buf[32];
        unsigned admitted = 0, refused = 0;

        for (unsigned i = 0; i < NAMES; i++) {
                if (attempt(rl, name_of(buf, "flood", i), T0, NULL) == 0)
                        admitted++;
                else
                        refused++;
        }
        assert_int_equal(admitted, MAX);
        assert_int_equal(refused, NAMES - MAX);
        assert_int_equal(stitch_ratelimit_count(rl), MAX);

        /* One name per 10 ms: a window holds 60,000 of them, more than the table. */
        admitted = 0;
        for (unsigned i = 0; i < NAMES; i++) {
                uint64_t now = T0 + WINDOW + 1 + (uint64_t) i * 10000;
                if (attempt(rl, name_of(buf, "spread", i), now, NULL) == 0)
                        admitted++;
                assert_true(stitch_ratelimit_count(rl) <= MAX);
        }
        /* Each batch of MAX names fills the table, and it frees again one window later. */
        assert_true(admitted >= MAX * (NAMES / 60000));
        assert_int_equal(stitch_ratelimit_count(rl), MAX);
        /* After all those evictions every tracked name is still found. */
        unsigned found = 0;
        for (unsigned i = 0; i < NAMES; i++)
                found += (unsigned) stitch_ratelimit_unlock(rl, name_of(buf, "spread", i));
        assert_int_equal(found, MAX);
        assert_int_equal(stitch_ratelimit_count(rl), 0);
        stitch_ratelimit_free(rl);
}

/* A refunded attempt (a provider's pending round: nothing checked) leaves
 * no count and no lock behind; real failures around it still count. */
static void test_refund(void **state) {
        (void) state;
        struct stitch_ratelimit *rl = limiter(3, 64);
        uint64_t retry;

        for (int i = 0; i < 50; i++) {
                assert_int_equal(attempt(rl, "ada", T0 + (uint64_t) i, NULL), 0);
                stitch_ratelimit_refund(rl, "ada");
        }
        for (int i = 0; i < 3; i++)
                assert_int_equal(attempt(rl, "ada", T0 + 100, NULL), 0);
        /* The fourth attempt proceeds and sets the lock; refunded, the lock goes with it. */
        assert_int_equal(attempt(rl, "ada", T0 + 100, NULL), 0);
        stitch_ratelimit_refund(rl, "ada");
        assert_int_equal(attempt(rl, "ada", T0 + 100, NULL), 0);
        /* Not refunded: locked. */
        assert_int_equal(attempt(rl, "ada", T0 + 100, &retry), -EBUSY);
        assert_true(retry == SEC);
        /* Refunding a name never seen, or one at zero, does nothing. */
        stitch_ratelimit_refund(rl, "bob");
        assert_int_equal(attempt(rl, "bob", T0, NULL), 0);
        stitch_ratelimit_refund(rl, "bob");
        stitch_ratelimit_refund(rl, "bob");
        for (int i = 0; i < 3; i++)
                assert_int_equal(attempt(rl, "bob", T0, NULL), 0);
        assert_int_equal(attempt(rl, "bob", T0, NULL), 0);
        assert_int_equal(attempt(rl, "bob", T0, NULL), -EBUSY);
        stitch_ratelimit_free(rl);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_refund),
                cmocka_unit_test(test_new_rejects_sizes),
                cmocka_unit_test(test_backoff_doubles_and_caps),
                cmocka_unit_test(test_window_resets_count),
                cmocka_unit_test(test_success_resets),
                cmocka_unit_test(test_unlock),
                cmocka_unit_test(test_max_failures_zero_disables),
                cmocka_unit_test(test_full_of_locked_refuses_new_names),
                cmocka_unit_test(test_idle_eviction_frees_room),
                cmocka_unit_test(test_eviction_keeps_locked),
                cmocka_unit_test(test_count_exact_after_cycles),
                cmocka_unit_test(test_flood_terminates),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
