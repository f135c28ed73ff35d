/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchd/daemon/workers.c on a real sd-event loop: work runs on the pool's
 * threads and its completion on the loop's, in order with one thread; the
 * queue is bounded; the idle callback comes after the last completion;
 * freeing the pool runs what is still queued and every pending completion.
 * Readiness comes from eventfds and the loop, never from sleeping. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/workers.h"

#define WATCHDOG_USEC (20ULL * 1000 * 1000)

struct job {
        unsigned index;
        pthread_t worker;
        bool worked;
        bool done;
        int block_fd;   /* >= 0: the work waits for this eventfd (after writing started_fd) */
        int started_fd;
};

struct ctx {
        sd_event *event;
        struct stitch_workers *workers;
        pthread_t loop_thread;
        unsigned n_done, expect_done;
        unsigned order[64];
        unsigned idle_calls;
        unsigned done_at_idle;
        int resubmit; /* result of a submit made from a completion */
        bool resubmit_tried;
        bool timed_out;
};

static struct ctx ctx;

static void work_fn(void *userdata) {
        struct job *j = userdata;
        j->worker = pthread_self();
        if (j->block_fd >= 0) {
                uint64_t one = 1, v;
                (void) !write(j->started_fd, &one, sizeof(one));
                (void) !read(j->block_fd, &v, sizeof(v)); /* blocking eventfd: until released */
        }
        j->worked = true;
}

static void done_fn(void *userdata) {
        struct job *j = userdata;
        /* Completions run on the thread that runs the loop (or frees the pool). */
        assert_true(pthread_equal(pthread_self(), ctx.loop_thread));
        assert_true(j->worked);
        assert_false(j->done);
        j->done = true;
        if (ctx.n_done < 64)
                ctx.order[ctx.n_done] = j->index;
        ctx.n_done++;
}

static void done_resubmit_fn(void *userdata) {
        done_fn(userdata);
        ctx.resubmit = stitch_workers_submit(ctx.workers, work_fn, NULL, userdata);
        ctx.resubmit_tried = true;
}

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        (void) userdata;
        ctx.timed_out = true;
        return 0;
}

static void setup_pool(unsigned threads, size_t max_queue) {
        memset(&ctx, 0, sizeof(ctx));
        ctx.loop_thread = pthread_self();
        assert_int_equal(sd_event_new(&ctx.event), 0);
        assert_int_equal(sd_event_add_time_relative(ctx.event, NULL, CLOCK_MONOTONIC, WATCHDOG_USEC, 0, on_watchdog,
                                                    NULL),
                         0);
        assert_int_equal(stitch_workers_new(ctx.event, threads, max_queue, &ctx.workers), 0);
        assert_int_equal(stitch_workers_threads(ctx.workers), threads);
}

static void teardown_pool(void) {
        ctx.workers = stitch_workers_free(ctx.workers);
        ctx.event = sd_event_unref(ctx.event);
}

static bool all_done(void) {
        return ctx.n_done >= ctx.expect_done;
}

static bool idle_called(void) {
        return ctx.idle_calls > 0;
}

/* Runs the loop, an iteration at a time, until cond() holds. */
static void run_until(bool (*cond)(void)) {
        while (!cond()) {
                assert_false(ctx.timed_out);
                assert_true(sd_event_run(ctx.event, UINT64_MAX) >= 0);
        }
}

static void run_loop(void) {
        run_until(all_done);
}

static void init_jobs(struct job *jobs, size_t n) {
        for (size_t i = 0; i < n; i++)
                jobs[i] = (struct job){.index = (unsigned) i, .block_fd = -1, .started_fd = -1};
}

static void test_jobs_complete_on_loop(void **state) {
        (void) state;
        struct job jobs[50];
        init_jobs(jobs, 50);
        setup_pool(4, 100);
        ctx.expect_done = 50;
        for (unsigned i = 0; i < 50; i++)
                assert_int_equal(stitch_workers_submit(ctx.workers, work_fn, done_fn, &jobs[i]), 0);
        run_loop();
        assert_int_equal(ctx.n_done, 50);
        for (unsigned i = 0; i < 50; i++) {
                assert_true(jobs[i].done);
                assert_false(pthread_equal(jobs[i].worker, ctx.loop_thread));
        }
        assert_int_equal(stitch_workers_queued(ctx.workers), 0);
        teardown_pool();
}

static void test_one_thread_keeps_order(void **state) {
        (void) state;
        struct job jobs[20];
        init_jobs(jobs, 20);
        setup_pool(1, 100);
        ctx.expect_done = 20;
        for (unsigned i = 0; i < 20; i++)
                assert_int_equal(stitch_workers_submit(ctx.workers, work_fn, done_fn, &jobs[i]), 0);
        run_loop();
        for (unsigned i = 0; i < 20; i++)
                assert_int_equal(ctx.order[i], i);
        /* No completion callback is fine too. */
        struct job quiet;
        init_jobs(&quiet, 1);
        assert_int_equal(stitch_workers_submit(ctx.workers, work_fn, NULL, &quiet), 0);
        teardown_pool(); /* runs it */
        assert_true(quiet.worked);
}

static void test_queue_bound(void **state) {
        (void) state;
        struct job jobs[4];
        int started = eventfd(0, EFD_CLOEXEC), release = eventfd(0, EFD_CLOEXEC);
        assert_true(started >= 0 && release >= 0);
        init_jobs(jobs, 4);
        jobs[0].block_fd = release;
        jobs[0].started_fd = started;
        setup_pool(1, 2);
        ctx.expect_done = 3;

        assert_int_equal(stitch_workers_submit(ctx.workers, work_fn, done_fn, &jobs[0]), 0);
        uint64_t v;
        assert_int_equal(read(started, &v, sizeof(v)), sizeof(v)); /* the only thread holds job 0 */
        assert_int_equal(stitch_workers_queued(ctx.workers), 0);
        assert_int_equal(stitch_workers_submit(ctx.workers, work_fn, done_fn, &jobs[1]), 0);
        assert_int_equal(stitch_workers_submit(ctx.workers, work_fn, done_fn, &jobs[2]), 0);
        assert_int_equal(stitch_workers_queued(ctx.workers), 2);
        assert_int_equal(stitch_workers_submit(ctx.workers, work_fn, done_fn, &jobs[3]), -EBUSY);
        assert_int_equal(stitch_workers_queued(ctx.workers), 2);

        uint64_t one = 1;
        assert_int_equal(write(release, &one, sizeof(one)), sizeof(one));
        run_loop();
        assert_int_equal(ctx.n_done, 3);
        assert_false(jobs[3].worked);
        /* Room again. */
        ctx.expect_done = 4;
        assert_int_equal(stitch_workers_submit(ctx.workers, work_fn, done_fn, &jobs[3]), 0);
        run_loop();
        assert_true(jobs[3].done);
        teardown_pool();
        close(started);
        close(release);
}

static void idle_fn(void *userdata) {
        assert_ptr_equal(userdata, &ctx);
        assert_true(pthread_equal(pthread_self(), ctx.loop_thread));
        ctx.idle_calls++;
        ctx.done_at_idle = ctx.n_done;
        assert_int_equal(stitch_workers_queued(ctx.workers), 0);
}

static void test_idle_after_work(void **state) {
        (void) state;
        struct job jobs[3];
        init_jobs(jobs, 3);
        setup_pool(2, 10);
        stitch_workers_set_idle(ctx.workers, idle_fn, &ctx);
        for (unsigned i = 0; i < 3; i++)
                assert_int_equal(stitch_workers_submit(ctx.workers, work_fn, done_fn, &jobs[i]), 0);
        run_until(idle_called);
        assert_int_equal(ctx.idle_calls, 1);
        assert_int_equal(ctx.done_at_idle, 3); /* after every completion */
        teardown_pool();
        assert_int_equal(ctx.idle_calls, 1); /* freeing does not call it */
}

static void test_free_runs_pending(void **state) {
        (void) state;
        struct job jobs[6];
        int started = eventfd(0, EFD_CLOEXEC), release = eventfd(0, EFD_CLOEXEC);
        assert_true(started >= 0 && release >= 0);
        init_jobs(jobs, 6);
        jobs[0].block_fd = release;
        jobs[0].started_fd = started;
        setup_pool(1, 10);
        stitch_workers_set_idle(ctx.workers, idle_fn, &ctx);

        assert_int_equal(stitch_workers_submit(ctx.workers, work_fn, done_fn, &jobs[0]), 0);
        uint64_t v, one = 1;
        assert_int_equal(read(started, &v, sizeof(v)), sizeof(v));
        for (unsigned i = 1; i < 6; i++)
                assert_int_equal(
                        stitch_workers_submit(ctx.workers, work_fn, i == 5 ? done_resubmit_fn : done_fn, &jobs[i]),
                        0);
        assert_int_equal(stitch_workers_queued(ctx.workers), 5);
        /* The loop never ran: every completion is still pending, and five
         * jobs wait behind the blocked one. Freeing drains it all. */
        assert_int_equal(write(release, &one, sizeof(one)), sizeof(one));
        ctx.workers = stitch_workers_free(ctx.workers);
        assert_null(ctx.workers);
        assert_int_equal(ctx.n_done, 6);
        for (unsigned i = 0; i < 6; i++) {
                assert_true(jobs[i].worked);
                assert_true(jobs[i].done);
                assert_int_equal(ctx.order[i], i);
        }
        /* A completion that submits while the pool stops is refused. */
        assert_true(ctx.resubmit_tried);
        assert_int_equal(ctx.resubmit, -EBUSY);
        assert_int_equal(ctx.idle_calls, 0);
        ctx.event = sd_event_unref(ctx.event);
        close(started);
        close(release);
}

static void test_free_idle_pool(void **state) {
        (void) state;
        setup_pool(3, 10);
        stitch_workers_set_idle(ctx.workers, idle_fn, &ctx);
        teardown_pool();
        assert_int_equal(ctx.n_done, 0);
        assert_int_equal(ctx.idle_calls, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_jobs_complete_on_loop),
                cmocka_unit_test(test_one_thread_keeps_order),
                cmocka_unit_test(test_queue_bound),
                cmocka_unit_test(test_idle_after_work),
                cmocka_unit_test(test_free_runs_pending),
                cmocka_unit_test(test_free_idle_pool),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
