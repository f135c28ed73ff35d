/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "daemon/workers.h"

struct job {
        stitch_work_fn work, done;
        void *userdata;
        struct job *next;
};

struct stitch_workers {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct job *queue_head, *queue_tail;
        size_t queued, max_queue;
        struct job *done_head, *done_tail;
        bool stopping;
        pthread_t *threads;
        unsigned n_threads;
        int efd;
        sd_event_source *source;
        unsigned running;        /* jobs being worked on */
        sd_event_source *trim;   /* when the pool has been idle a while */
        stitch_work_fn idle;
        void *idle_userdata;
};

/* Slow work keeps memory for the next job (a password hash's slot holds
 * its 19 MiB): once the pool has had nothing to do for this long, the idle
 * callback gives it back, and the allocator's free memory goes back to the
 * system. Never on the hot path: a busy pool keeps its memory. */
#define IDLE_TRIM_USEC (2 * 1000 * 1000)

static void *worker_main(void *p) {
        struct stitch_workers *w = p;

        pthread_mutex_lock(&w->lock);
        for (;;) {
                while (!w->queue_head && !w->stopping)
                        pthread_cond_wait(&w->cond, &w->lock);
                struct job *j = w->queue_head;
                if (!j)
                        break; /* stopping and drained */
                w->queue_head = j->next;
                if (!w->queue_head)
                        w->queue_tail = NULL;
                w->queued--;
                w->running++;
                pthread_mutex_unlock(&w->lock);

                j->work(j->userdata);

                pthread_mutex_lock(&w->lock);
                w->running--;
                j->next = NULL;
                if (w->done_tail)
                        w->done_tail->next = j;
                else
                        w->done_head = j;
                w->done_tail = j;
                uint64_t one = 1;
                (void) !write(w->efd, &one, sizeof(one));
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

static void run_done(struct stitch_workers *w) {
        pthread_mutex_lock(&w->lock);
        struct job *j = w->done_head;
        w->done_head = w->done_tail = NULL;
        pthread_mutex_unlock(&w->lock);

        while (j) {
                struct job *next = j->next;
                if (j->done)
                        j->done(j->userdata);
                free(j);
                j = next;
        }
}

static bool pool_idle(struct stitch_workers *w) {
        pthread_mutex_lock(&w->lock);
        bool idle = w->queued == 0 && w->running == 0;
        pthread_mutex_unlock(&w->lock);
        return idle;
}

static int on_trim(sd_event_source *s, uint64_t usec, void *userdata) {
        struct stitch_workers *w = userdata;
        (void) s;
        (void) usec;
        if (!pool_idle(w))
                return 0;
        if (w->idle)
                w->idle(w->idle_userdata);
        (void) malloc_trim(0);
        return 0;
}

static int on_eventfd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct stitch_workers *w = userdata;
        uint64_t v;
        (void) !read(fd, &v, sizeof(v));
        run_done(w);
        /* (Re)start the idle countdown after every batch of finished jobs. */
        if (w->trim && sd_event_source_set_time_relative(w->trim, IDLE_TRIM_USEC) >= 0)
                (void) sd_event_source_set_enabled(w->trim, SD_EVENT_ONESHOT);
        return 0;
}

int stitch_workers_new(sd_event *event, unsigned n_threads, size_t max_queue, struct stitch_workers **ret) {
        return stitch_workers_new_named(event, NULL, n_threads, max_queue, ret);
}

int stitch_workers_new_named(sd_event *event, const char *name, unsigned n_threads, size_t max_queue,
                             struct stitch_workers **ret) {
        struct stitch_workers *w = calloc(1, sizeof(*w));
        int r;

        if (!w)
                return -ENOMEM;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->cond, NULL);
        w->max_queue = max_queue;
        w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->efd < 0) {
                r = -errno;
                free(w);
                return r;
        }
        r = sd_event_add_io(event, &w->source, w->efd, EPOLLIN, on_eventfd, w);
        if (r < 0) {
                close(w->efd);
                free(w);
                return r;
        }
        /* Optional: without it memory is only returned less eagerly. */
        if (sd_event_add_time_relative(event, &w->trim, CLOCK_MONOTONIC, IDLE_TRIM_USEC, 100 * 1000, on_trim, w) >= 0)
                (void) sd_event_source_set_enabled(w->trim, SD_EVENT_OFF);
        w->threads = calloc(n_threads, sizeof(pthread_t));
        if (!w->threads) {
                stitch_workers_free(w);
                return -ENOMEM;
        }

        /* Workers never handle signals: block them all while spawning. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        for (unsigned i = 0; i < n_threads; i++) {
                r = pthread_create(&w->threads[i], NULL, worker_main, w);
                if (r != 0) {
                        pthread_sigmask(SIG_SETMASK, &old, NULL);
                        stitch_workers_free(w);
                        return log_error_errno(r, "Failed to start worker thread: %m");
                }
                if (name)
                        (void) pthread_setname_np(w->threads[i], name); /* for ps, gdb, and tests */
                w->n_threads++;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        *ret = w;
        return 0;
}

void stitch_workers_set_idle(struct stitch_workers *w, stitch_work_fn idle, void *userdata) {
        w->idle = idle;
        w->idle_userdata = userdata;
}

struct stitch_workers *stitch_workers_free(struct stitch_workers *w) {
        if (!w)
                return NULL;
        pthread_mutex_lock(&w->lock);
        w->stopping = true;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        for (unsigned i = 0; i < w->n_threads; i++)
                pthread_join(w->threads[i], NULL);
        run_done(w);
        free(w->threads);
        sd_event_source_disable_unref(w->source);
        sd_event_source_disable_unref(w->trim);
        if (w->efd >= 0)
                close(w->efd);
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
}

int stitch_workers_submit(struct stitch_workers *w, stitch_work_fn work, stitch_work_fn done, void *userdata) {
        struct job *j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->work = work;
        j->done = done;
        j->userdata = userdata;

        pthread_mutex_lock(&w->lock);
        if (w->queued >= w->max_queue || w->stopping) {
                pthread_mutex_unlock(&w->lock);
                free(j);
                return -EBUSY;
        }
        if (w->queue_tail)
                w->queue_tail->next = j;
        else
                w->queue_head = j;
        w->queue_tail = j;
        w->queued++;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        return 0;
}

size_t stitch_workers_queued(struct stitch_workers *w) {
        pthread_mutex_lock(&w->lock);
        size_t n = w->queued;
        pthread_mutex_unlock(&w->lock);
        return n;
}

unsigned stitch_workers_threads(struct stitch_workers *w) {
        return w->n_threads;
}
