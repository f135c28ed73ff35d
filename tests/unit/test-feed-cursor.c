/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchd/core/feed-cursor.c: a follower of a feed whose ids commit out of
 * order applies each event once, awaits the ids missing below the largest
 * it saw, reads again from below them, and gives up on ids that never come. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "core/feed-cursor.h"

#define SEC UINT64_C(1000000)

static struct stitch_feed_cursor *cursor_new(int64_t start) {
        struct stitch_feed_cursor *c = malloc(sizeof(*c));
        assert_non_null(c);
        stitch_feed_cursor_init(c, start);
        return c;
}

static void test_in_order(void **state) {
        (void) state;
        struct stitch_feed_cursor *c = cursor_new(10);

        assert_int_equal(stitch_feed_cursor_read_after(c, 1 * SEC), 10);
        for (int64_t id = 11; id <= 15; id++)
                assert_true(stitch_feed_cursor_take(c, id, 1 * SEC));
        assert_int_equal(c->n_gaps, 0);
        assert_int_equal(stitch_feed_cursor_read_after(c, 2 * SEC), 15);
        /* Read again (a notification with nothing new): applied once only. */
        for (int64_t id = 11; id <= 15; id++)
                assert_false(stitch_feed_cursor_take(c, id, 2 * SEC));
        /* What the cursor started after was applied (rebuilt from the rows). */
        assert_false(stitch_feed_cursor_take(c, 10, 2 * SEC));
        assert_false(stitch_feed_cursor_take(c, 3, 2 * SEC));
        free(c);
}

static void test_late_commit(void **state) {
        (void) state;
        struct stitch_feed_cursor *c = cursor_new(0);

        /* 2 and 3 are taken by transactions still open: 1 and 4 come first. */
        assert_true(stitch_feed_cursor_take(c, 1, 1 * SEC));
        assert_true(stitch_feed_cursor_take(c, 4, 1 * SEC));
        assert_int_equal(c->n_gaps, 2);
        /* The next read starts below the oldest awaited id. */
        assert_int_equal(stitch_feed_cursor_read_after(c, 2 * SEC), 1);
        /* 3 commits; 4 is read again and skipped. */
        assert_true(stitch_feed_cursor_take(c, 3, 2 * SEC));
        assert_false(stitch_feed_cursor_take(c, 4, 2 * SEC));
        assert_int_equal(c->n_gaps, 1);
        assert_int_equal(stitch_feed_cursor_read_after(c, 3 * SEC), 1);
        assert_true(stitch_feed_cursor_take(c, 2, 3 * SEC));
        assert_false(stitch_feed_cursor_take(c, 2, 3 * SEC)); /* only once */
        assert_int_equal(c->n_gaps, 0);
        assert_int_equal(stitch_feed_cursor_read_after(c, 3 * SEC), 4);
        assert_int_equal(c->given_up, 0);
        free(c);
}

static void test_rolled_back(void **state) {
        (void) state;
        struct stitch_feed_cursor *c = cursor_new(100);

        assert_true(stitch_feed_cursor_take(c, 103, 10 * SEC)); /* 101, 102 rolled back */
        assert_int_equal(stitch_feed_cursor_read_after(c, 10 * SEC), 100);
        /* Still awaited at the wait's end... */
        assert_int_equal(stitch_feed_cursor_read_after(c, 10 * SEC + STITCH_FEED_GAP_WAIT_USEC), 100);
        /* ...given up after it. */
        assert_int_equal(stitch_feed_cursor_read_after(c, 11 * SEC + STITCH_FEED_GAP_WAIT_USEC), 103);
        assert_int_equal(c->given_up, 2);
        assert_int_equal(c->n_gaps, 0);
        /* A rolled-back id that shows up after all is not applied twice,
         * nor at all: it was given up (logged), as a rollback would be. */
        assert_false(stitch_feed_cursor_take(c, 101, 12 * SEC + STITCH_FEED_GAP_WAIT_USEC));
        free(c);
}

static void test_gaps_give_up_oldest_first(void **state) {
        (void) state;
        struct stitch_feed_cursor *c = cursor_new(0);

        assert_true(stitch_feed_cursor_take(c, 3, 1 * SEC));  /* 1, 2 missing since 1 s */
        assert_true(stitch_feed_cursor_take(c, 6, 20 * SEC)); /* 4, 5 missing since 20 s */
        assert_int_equal(c->n_gaps, 4);
        assert_int_equal(stitch_feed_cursor_read_after(c, 2 * SEC + STITCH_FEED_GAP_WAIT_USEC), 3);
        assert_int_equal(c->n_gaps, 2);
        assert_true(stitch_feed_cursor_take(c, 5, 21 * SEC));
        assert_int_equal(stitch_feed_cursor_read_after(c, 21 * SEC), 3);
        assert_int_equal(stitch_feed_cursor_read_after(c, 21 * SEC + STITCH_FEED_GAP_WAIT_USEC), 6);
        assert_int_equal(c->given_up, 3);
        free(c);
}

static void test_wide_jump(void **state) {
        (void) state;
        struct stitch_feed_cursor *c = cursor_new(0);

        /* More missing ids than remembered: the newest are awaited. */
        int64_t far = (int64_t) STITCH_FEED_GAPS_MAX * 3;
        assert_true(stitch_feed_cursor_take(c, far, 1 * SEC));
        assert_int_equal(c->n_gaps, STITCH_FEED_GAPS_MAX);
        assert_int_equal(c->gaps[0].id, far - STITCH_FEED_GAPS_MAX);
        assert_int_equal(c->gaps[STITCH_FEED_GAPS_MAX - 1].id, far - 1);
        assert_int_equal(c->given_up, far - STITCH_FEED_GAPS_MAX - 1);
        assert_true(stitch_feed_cursor_take(c, far - 1, 1 * SEC));
        assert_false(stitch_feed_cursor_take(c, 5, 1 * SEC));
        /* Another jump while the memory is full drops the oldest awaited ids. */
        assert_true(stitch_feed_cursor_take(c, far + 3, 2 * SEC));
        assert_int_equal(c->n_gaps, STITCH_FEED_GAPS_MAX);
        assert_int_equal(c->gaps[STITCH_FEED_GAPS_MAX - 1].id, far + 2);
        free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_in_order),
                cmocka_unit_test(test_late_commit),
                cmocka_unit_test(test_rolled_back),
                cmocka_unit_test(test_gaps_give_up_oldest_first),
                cmocka_unit_test(test_wide_jump),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
