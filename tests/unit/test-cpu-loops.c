/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchd/daemon/cpu-loops.c: a lent fd is served on a thread of the pool,
 * first for the call it was lent for, then whenever it is readable; it
 * comes back to the lender (through the pool's fd, on the lender's thread)
 * when its run says so, when nothing comes for a while, and at shutdown.
 * Readiness comes from poll() on the fds, never from sleeping. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/cpu-loops.h"

struct lease {
        struct stitch_lease l; /* first: the callbacks get &l */
        int peer;              /* the test's end of the socket pair */
        pthread_t runner;
        unsigned runs, reads;
        unsigned keep_runs;    /* run returns true this many times */
        bool returned;
};

static pthread_t lender;

static bool run(struct stitch_lease *l, uint32_t revents) {
        struct lease *x = (struct lease *) l;
        x->runner = pthread_self();
        x->runs++;
        if (revents) {
                char buf[64];
                ssize_t n = read(l->fd, buf, sizeof(buf));
                if (n > 0)
                        __atomic_fetch_add(&x->reads, 1, __ATOMIC_RELEASE); /* the test waits for it */
                if (n == 0)
                        return false; /* EOF */
        }
        return x->runs <= x->keep_runs;
}

static void returned(struct stitch_lease *l) {
        struct lease *x = (struct lease *) l;
        assert_true(pthread_equal(pthread_self(), lender));
        assert_false(x->returned);
        x->returned = true;
}

static void lease_init(struct lease *x, unsigned keep_runs) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        *x = (struct lease) {
                .l = {.fd = sv[0], .run = run, .returned = returned},
                .peer = sv[1],
                .keep_runs = keep_runs,
        };
}

static void lease_done(struct lease *x) {
        close(x->l.fd);
        close(x->peer);
}

/* Waits (20 s at most) for the pool's fd and runs what came back, until x has. */
static void wait_returned(struct stitch_cpu_loops *p, struct lease *x) {
        for (int i = 0; i < 200 && !x->returned; i++) {
                struct pollfd pfd = {.fd = stitch_cpu_loops_fd(p), .events = POLLIN};
                if (poll(&pfd, 1, 100) > 0)
                        stitch_cpu_loops_run_returned(p);
        }
        assert_true(x->returned);
}

static void test_runs_on_a_thread_until_it_gives_back(void **state) {
        struct stitch_cpu_loops *p = NULL;
        struct lease x;
        (void) state;

        lender = pthread_self();
        assert_int_equal(stitch_cpu_loops_new(2, &p), 0);
        assert_int_equal(stitch_cpu_loops_threads(p), 2);
        lease_init(&x, 3); /* the first call, then two reads kept; the third read gives it back */
        assert_int_equal(stitch_cpu_loops_lend(p, &x.l), 0);
        assert_int_equal(stitch_cpu_loops_lent(p), 1);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(write(x.peer, "x", 1), 1);
                /* One byte at a time: the next only once this one was read. */
                for (int k = 0; k < 200 && __atomic_load_n(&x.reads, __ATOMIC_ACQUIRE) == (unsigned) i && !x.returned;
                     k++) {
                        struct pollfd pfd = {.fd = stitch_cpu_loops_fd(p), .events = POLLIN};
                        if (poll(&pfd, 1, 10) > 0)
                                stitch_cpu_loops_run_returned(p);
                }
        }
        wait_returned(p, &x);
        assert_int_equal(x.runs, 4);
        assert_int_equal(x.reads, 3);
        assert_false(pthread_equal(x.runner, lender));
        assert_int_equal(stitch_cpu_loops_lent(p), 0);
        p = stitch_cpu_loops_free(p);
        lease_done(&x);
}

static void test_given_back_at_once_at_eof_and_idle(void **state) {
        struct stitch_cpu_loops *p = NULL;
        struct lease now, eof, idle;
        (void) state;

        lender = pthread_self();
        assert_int_equal(stitch_cpu_loops_new(1, &p), 0);
        lease_init(&now, 0);
        lease_init(&eof, 100);
        lease_init(&idle, 100);
        assert_int_equal(stitch_cpu_loops_lend(p, &now.l), 0);
        assert_int_equal(stitch_cpu_loops_lend(p, &eof.l), 0);
        assert_int_equal(stitch_cpu_loops_lend(p, &idle.l), 0);
        wait_returned(p, &now);
        assert_int_equal(now.runs, 1);
        shutdown(eof.peer, SHUT_WR);
        wait_returned(p, &eof);
        /* Nothing comes on this one: it goes back after the linger time. */
        wait_returned(p, &idle);
        assert_int_equal(idle.runs, 1);
        assert_int_equal(stitch_cpu_loops_lent(p), 0);
        p = stitch_cpu_loops_free(p);
        lease_done(&now);
        lease_done(&eof);
        lease_done(&idle);
}

static void test_free_gives_every_lease_back(void **state) {
        struct stitch_cpu_loops *p = NULL;
        struct lease x[8];
        (void) state;

        lender = pthread_self();
        assert_int_equal(stitch_cpu_loops_new(3, &p), 0);
        for (int i = 0; i < 8; i++) {
                lease_init(&x[i], 100);
                assert_int_equal(stitch_cpu_loops_lend(p, &x[i].l), 0);
        }
        p = stitch_cpu_loops_free(p); /* runs the returned callbacks here */
        for (int i = 0; i < 8; i++) {
                assert_true(x[i].returned);
                assert_int_equal(x[i].runs, 1); /* lent, its first call ran */
                lease_done(&x[i]);
        }
}

static void test_no_threads_lends_nothing(void **state) {
        struct stitch_cpu_loops *p = NULL;
        struct lease x;
        (void) state;

        assert_int_equal(stitch_cpu_loops_new(0, &p), 0);
        lease_init(&x, 1);
        assert_int_equal(stitch_cpu_loops_lend(p, &x.l), -EBUSY);
        assert_int_equal(stitch_cpu_loops_lent(p), 0);
        p = stitch_cpu_loops_free(p);
        assert_false(x.returned);
        lease_done(&x);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_runs_on_a_thread_until_it_gives_back),
                cmocka_unit_test(test_given_back_at_once_at_eof_and_idle),
                cmocka_unit_test(test_free_gives_every_lease_back),
                cmocka_unit_test(test_no_threads_lends_nothing),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
