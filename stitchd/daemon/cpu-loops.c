/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "daemon/cpu-loops.h"
#include "log.h"
#include "macro.h"

/* A lease with no call for this long goes back to the main loop (its idle
 * timeout and everything else is the main loop's). Checked this often. */
#define LINGER_USEC (200 * 1000)
#define CHECK_USEC (20 * 1000)
#define BATCH 64

struct cpu_thread {
        struct stitch_cpu_loops *loops;
        pthread_t thread;
        bool started;
        int epoll_fd, inbox_fd; /* inbox_fd (an eventfd) is in epoll_fd with data.ptr NULL */
        pthread_mutex_t lock;   /* inbox, stopping */
        struct stitch_lease *inbox;
        bool stopping;
        struct stitch_lease *leases; /* watched; this thread's only */
        unsigned load;               /* leases it holds (atomic) */
};

struct stitch_cpu_loops {
        struct cpu_thread *threads;
        unsigned n_threads;
        pthread_mutex_t lock; /* the returned list */
        struct stitch_lease *returned_head, *returned_tail;
        int efd;
        size_t lent;   /* lender only */
        bool stopping; /* lender only */
};

static void give_back(struct cpu_thread *t, struct stitch_lease *l) {
        struct stitch_cpu_loops *p = t->loops;

        if (l->watched) {
                (void) epoll_ctl(t->epoll_fd, EPOLL_CTL_DEL, l->fd, NULL);
                l->watched = false;
                if (l->prev)
                        l->prev->next = l->next;
                else
                        t->leases = l->next;
                if (l->next)
                        l->next->prev = l->prev;
        }
        l->next = l->prev = NULL;
        __atomic_fetch_sub(&t->load, 1, __ATOMIC_RELAXED);

        pthread_mutex_lock(&p->lock);
        /* The lender empties the list after reading the eventfd: one
         * wake-up per batch of returns is enough. */
        bool wake = !p->returned_head;
        if (p->returned_tail)
                p->returned_tail->next = l;
        else
                p->returned_head = l;
        p->returned_tail = l;
        if (wake) {
                uint64_t one = 1;
                (void) !write(p->efd, &one, sizeof(one));
        }
        pthread_mutex_unlock(&p->lock);
}

static void watch(struct cpu_thread *t, struct stitch_lease *l, uint64_t now) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
        if (epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, l->fd, &ev) < 0) {
                give_back(t, l);
                return;
        }
        l->watched = true;
        l->deadline = now + LINGER_USEC;
        l->prev = NULL;
        l->next = t->leases;
        if (l->next)
                l->next->prev = l;
        t->leases = l;
}

static void *thread_main(void *userdata) {
        struct cpu_thread *t = userdata;
        struct epoll_event events[BATCH];
        uint64_t next_check = 0;

        for (;;) {
                int n = epoll_wait(t->epoll_fd, events, BATCH, t->leases ? (int) (CHECK_USEC / 1000) : -1);
                if (n < 0 && errno != EINTR) {
                        log_error_errno(errno, "epoll_wait in a CPU loop: %m");
                        n = 0;
                }
                uint64_t now = stitch_now_usec(CLOCK_MONOTONIC);
                bool stopping = false;
                for (int i = 0; i < n; i++) {
                        struct stitch_lease *l = events[i].data.ptr;
                        if (l) {
                                if (l->run(l, events[i].events))
                                        l->deadline = now + LINGER_USEC;
                                else
                                        give_back(t, l);
                                continue;
                        }
                        uint64_t v;
                        (void) !read(t->inbox_fd, &v, sizeof(v));
                        pthread_mutex_lock(&t->lock);
                        struct stitch_lease *new = t->inbox;
                        t->inbox = NULL;
                        stopping = t->stopping;
                        pthread_mutex_unlock(&t->lock);
                        while (new) {
                                l = new;
                                new = l->next;
                                l->next = NULL;
                                if (l->run(l, 0))
                                        watch(t, l, now);
                                else
                                        give_back(t, l);
                        }
                }
                if (stopping) {
                        while (t->leases)
                                give_back(t, t->leases);
                        return NULL;
                }
                if (now >= next_check) {
                        for (struct stitch_lease *l = t->leases, *next; l; l = next) {
                                next = l->next;
                                if (l->deadline <= now)
                                        give_back(t, l);
                        }
                        next_check = now + CHECK_USEC;
                }
        }
}

int stitch_cpu_loops_new(unsigned n, struct stitch_cpu_loops **ret) {
        struct stitch_cpu_loops *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        pthread_mutex_init(&p->lock, NULL);
        p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        p->threads = n > 0 ? calloc(n, sizeof(struct cpu_thread)) : NULL;
        if (p->efd < 0 || (n > 0 && !p->threads)) {
                int r = p->efd < 0 ? -errno : -ENOMEM;
                stitch_cpu_loops_free(p);
                return r;
        }

        /* Only the main loop's thread handles signals. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        int r = 0;
        for (unsigned i = 0; i < n && r >= 0; i++) {
                struct cpu_thread *t = &p->threads[i];
                t->loops = p;
                pthread_mutex_init(&t->lock, NULL);
                p->n_threads++;
                t->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
                t->inbox_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
                if (t->epoll_fd < 0 || t->inbox_fd < 0 || epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, t->inbox_fd, &ev) < 0)
                        r = -errno;
                else {
                        r = -pthread_create(&t->thread, NULL, thread_main, t);
                        t->started = r >= 0;
                }
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0) {
                stitch_cpu_loops_free(p);
                return log_error_errno(r, "Cannot start the CPU loops: %m");
        }
        *ret = p;
        return 0;
}

struct stitch_cpu_loops *stitch_cpu_loops_free(struct stitch_cpu_loops *p) {
        if (!p)
                return NULL;
        p->stopping = true;
        for (unsigned i = 0; i < p->n_threads; i++) {
                struct cpu_thread *t = &p->threads[i];
                if (!t->started)
                        continue;
                pthread_mutex_lock(&t->lock);
                t->stopping = true;
                uint64_t one = 1;
                (void) !write(t->inbox_fd, &one, sizeof(one));
                pthread_mutex_unlock(&t->lock);
        }
        for (unsigned i = 0; i < p->n_threads; i++) {
                struct cpu_thread *t = &p->threads[i];
                if (t->started)
                        pthread_join(t->thread, NULL);
                if (t->epoll_fd >= 0)
                        close(t->epoll_fd);
                if (t->inbox_fd >= 0)
                        close(t->inbox_fd);
                pthread_mutex_destroy(&t->lock);
        }
        stitch_cpu_loops_run_returned(p);
        free(p->threads);
        if (p->efd >= 0)
                close(p->efd);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
}

int stitch_cpu_loops_lend(struct stitch_cpu_loops *p, struct stitch_lease *l) {
        if (p->stopping || p->n_threads == 0)
                return -EBUSY;
        struct cpu_thread *t = &p->threads[0];
        for (unsigned i = 1; i < p->n_threads; i++)
                if (__atomic_load_n(&p->threads[i].load, __ATOMIC_RELAXED) <
                    __atomic_load_n(&t->load, __ATOMIC_RELAXED))
                        t = &p->threads[i];
        l->watched = false;
        l->prev = NULL;
        __atomic_fetch_add(&t->load, 1, __ATOMIC_RELAXED);
        pthread_mutex_lock(&t->lock);
        bool wake = !t->inbox;
        l->next = t->inbox;
        t->inbox = l;
        if (wake) {
                uint64_t one = 1;
                (void) !write(t->inbox_fd, &one, sizeof(one));
        }
        pthread_mutex_unlock(&t->lock);
        p->lent++;
        return 0;
}

int stitch_cpu_loops_fd(const struct stitch_cpu_loops *p) {
        return p->efd;
}

void stitch_cpu_loops_run_returned(struct stitch_cpu_loops *p) {
        uint64_t v;
        (void) !read(p->efd, &v, sizeof(v));

        pthread_mutex_lock(&p->lock);
        struct stitch_lease *l = p->returned_head;
        p->returned_head = p->returned_tail = NULL;
        pthread_mutex_unlock(&p->lock);

        while (l) {
                struct stitch_lease *next = l->next;
                l->next = NULL;
                p->lent--;
                l->returned(l);
                l = next;
        }
}

size_t stitch_cpu_loops_lent(const struct stitch_cpu_loops *p) {
        return p->lent;
}

unsigned stitch_cpu_loops_threads(const struct stitch_cpu_loops *p) {
        return p->n_threads;
}
