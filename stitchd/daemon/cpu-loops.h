/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Loops of their own, one thread per CPU but the main loop's, to which the
 * main loop lends a connection whose calls are short CPU-bound work (a
 * token refresh: one signature): the thread runs the call, answers it on
 * the socket itself and waits for the connection's next call in its own
 * epoll set, so the connection's round trips cost what they cost on the
 * main loop (two wake-ups, no hand-over between threads) while the main
 * loop serves the others on another CPU. The lender says when a call is
 * not for the borrowing thread; the connection then comes back, as it does
 * at EOF, on errors, after LINGER without a call and at shutdown. Nothing
 * here hashes or writes durably: that is the workers' (daemon/workers.h). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stitch_cpu_loops;

/* Embedded by the lender in what it lends. */
struct stitch_lease {
        int fd; /* watched for EPOLLIN by the borrowing thread; not closed */
        /* On the borrowing thread: first with revents 0 (the call the lease
         * was made for), then whenever fd is ready. true keeps the lease,
         * false hands it back. */
        bool (*run)(struct stitch_lease *l, uint32_t revents);
        /* On the lender's thread, once handed back (stitch_cpu_loops_run_returned()). */
        void (*returned)(struct stitch_lease *l);
        /* The loops' */
        uint64_t deadline;
        struct stitch_lease *next, *prev;
        bool watched;
};

/* n threads (0: none; lending then always fails). */
int stitch_cpu_loops_new(unsigned n, struct stitch_cpu_loops **ret);
/* Hands every lease back, joins the threads, runs the returned callbacks, frees. */
struct stitch_cpu_loops *stitch_cpu_loops_free(struct stitch_cpu_loops *p);
/* Lends l to the least busy thread. -EBUSY when stopping. Lender's thread only. */
int stitch_cpu_loops_lend(struct stitch_cpu_loops *p, struct stitch_lease *l);
/* Readable (EPOLLIN) when leases came back. */
int stitch_cpu_loops_fd(const struct stitch_cpu_loops *p);
/* Runs the returned callbacks of the leases handed back. Lender's thread only. */
void stitch_cpu_loops_run_returned(struct stitch_cpu_loops *p);
/* Leases out. Lender's thread only. */
size_t stitch_cpu_loops_lent(const struct stitch_cpu_loops *p);
unsigned stitch_cpu_loops_threads(const struct stitch_cpu_loops *p);
