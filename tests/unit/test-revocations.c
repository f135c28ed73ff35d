/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchd/core/revocations.c (the revocation set: add, extend, contains,
 * prune, many entries, threads) and stitchd/core/callerlimit.c (successful
 * logins per caller and minute: window, root, bounded table). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/callerlimit.h"
#include "core/revocations.h"

#define USEC 1000000ull

static void sid(char buf[25], unsigned n) {
        snprintf(buf, 25, "s%023u", n);
}

static void test_add_contains_prune(void **state) {
        struct stitch_revocations *r = NULL;
        char a[25], b[25];
        (void) state;

        assert_int_equal(stitch_revocations_new(&r), 0);
        sid(a, 1);
        sid(b, 2);
        assert_false(stitch_revocations_contains(r, a));
        assert_int_equal(stitch_revocations_add(r, a, 100), 0);
        assert_true(stitch_revocations_contains(r, a));
        assert_false(stitch_revocations_contains(r, b));
        assert_int_equal(stitch_revocations_size(r), 1);

        /* Adding again extends, never shortens. */
        assert_int_equal(stitch_revocations_add(r, a, 200), 0);
        assert_int_equal(stitch_revocations_add(r, a, 50), 0);
        assert_int_equal(stitch_revocations_size(r), 1);
        assert_int_equal(stitch_revocations_prune(r, 150), 0);
        assert_true(stitch_revocations_contains(r, a));
        assert_int_equal(stitch_revocations_prune(r, 201), 1);
        assert_false(stitch_revocations_contains(r, a));
        assert_int_equal(stitch_revocations_size(r), 0);
        stitch_revocations_free(r);
}

static void test_many(void **state) {
        struct stitch_revocations *r = NULL;
        char id[25];
        (void) state;

        assert_int_equal(stitch_revocations_new(&r), 0);
        for (unsigned i = 0; i < 100000; i++) {
                sid(id, i);
                assert_int_equal(stitch_revocations_add(r, id, i % 2 ? 1000 : 10), 0);
        }
        assert_int_equal(stitch_revocations_size(r), 100000);
        for (unsigned i = 0; i < 100000; i += 997) {
                sid(id, i);
                assert_true(stitch_revocations_contains(r, id));
        }
        sid(id, 100001);
        assert_false(stitch_revocations_contains(r, id));
        assert_int_equal(stitch_revocations_prune(r, 11), 50000);
        for (unsigned i = 0; i < 100; i++) {
                sid(id, i);
                assert_int_equal(stitch_revocations_contains(r, id), i % 2 == 1);
        }
        stitch_revocations_free(r);
}

struct adder {
        struct stitch_revocations *r;
        unsigned base;
};

static void *add_many(void *p) {
        struct adder *a = p;
        char id[25];
        for (unsigned i = 0; i < 20000; i++) {
                sid(id, a->base + i);
                if (stitch_revocations_add(a->r, id, 1000) < 0)
                        return (void *) 1;
                if (!stitch_revocations_contains(a->r, id))
                        return (void *) 2;
        }
        return NULL;
}

static void test_threads(void **state) {
        struct stitch_revocations *r = NULL;
        pthread_t t[4];
        struct adder a[4];
        (void) state;

        assert_int_equal(stitch_revocations_new(&r), 0);
        for (unsigned i = 0; i < 4; i++) {
                a[i] = (struct adder) {r, i * 100000};
                assert_int_equal(pthread_create(&t[i], NULL, add_many, &a[i]), 0);
        }
        for (unsigned i = 0; i < 4; i++) {
                void *ret;
                assert_int_equal(pthread_join(t[i], &ret), 0);
                assert_null(ret);
        }
        assert_int_equal(stitch_revocations_size(r), 80000);
        stitch_revocations_free(r);
}

static void test_callerlimit(void **state) {
        struct stitch_callerlimit *cl = NULL;
        uint64_t retry = 0, now = 1000 * USEC;
        (void) state;

        assert_int_equal(stitch_callerlimit_new(3, &cl), 0);
        for (unsigned i = 0; i < 3; i++) {
                assert_int_equal(stitch_callerlimit_check(cl, 1000, now, &retry), 0);
                stitch_callerlimit_count(cl, 1000, now);
        }
        assert_int_equal(stitch_callerlimit_check(cl, 1000, now + USEC, &retry), -EBUSY);
        assert_true(retry > 0 && retry <= 60 * USEC);
        /* Other callers are not affected; root is never limited. */
        assert_int_equal(stitch_callerlimit_check(cl, 1001, now, &retry), 0);
        for (unsigned i = 0; i < 10; i++)
                stitch_callerlimit_count(cl, 0, now);
        assert_int_equal(stitch_callerlimit_check(cl, 0, now, &retry), 0);
        /* A new minute, a new count. */
        assert_int_equal(stitch_callerlimit_check(cl, 1000, now + 61 * USEC, &retry), 0);
        stitch_callerlimit_free(cl);

        /* 0: no limit at all. */
        assert_int_equal(stitch_callerlimit_new(0, &cl), 0);
        for (unsigned i = 0; i < 100; i++)
                stitch_callerlimit_count(cl, 1000, now);
        assert_int_equal(stitch_callerlimit_check(cl, 1000, now, &retry), 0);
        stitch_callerlimit_free(cl);
}

static void test_callerlimit_table_full(void **state) {
        struct stitch_callerlimit *cl = NULL;
        uint64_t retry = 0, now = 1000 * USEC;
        (void) state;

        assert_int_equal(stitch_callerlimit_new(1, &cl), 0);
        for (uid_t u = 1; u <= STITCH_CALLERLIMIT_MAX_ENTRIES; u++)
                stitch_callerlimit_count(cl, u, now);
        /* Every entry is inside its window: a new caller is refused (fail closed)... */
        assert_int_equal(stitch_callerlimit_check(cl, STITCH_CALLERLIMIT_MAX_ENTRIES + 1, now, &retry), -EBUSY);
        /* ...until the window has passed. */
        assert_int_equal(stitch_callerlimit_check(cl, STITCH_CALLERLIMIT_MAX_ENTRIES + 1, now + 61 * USEC, &retry), 0);
        stitch_callerlimit_free(cl);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_add_contains_prune),
                cmocka_unit_test(test_many),
                cmocka_unit_test(test_threads),
                cmocka_unit_test(test_callerlimit),
                cmocka_unit_test(test_callerlimit_table_full),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
