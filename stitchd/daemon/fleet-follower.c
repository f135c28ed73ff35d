/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "core/feed-cursor.h"
#include "core/fleet.h"
#include "core/store-events.h"
#include "daemon/fleet-follower.h"
#include "log.h"
#include "macro.h"

/* The pause after a failure grows from the first to the last. */
#define RETRY_MIN_USEC (100 * USEC_PER_MSEC)
#define RETRY_MAX_USEC (2 * USEC_PER_SEC)
/* Read the feed at least this often even without a notification: a lost
 * notification costs at most this, and the read is the heartbeat that
 * keeps the memory fresh (core/fleet.h). */
#define HEARTBEAT_MAX_USEC USEC_PER_SEC
#define HEARTBEAT_MIN_USEC (50 * USEC_PER_MSEC)

struct stitch_fleet_follower {
        struct stitch_core *core;
        pthread_t thread;
        int stop_fd; /* eventfd: readable when the thread must end */
        struct stitch_feed_cursor cursor;
        uint64_t heartbeat_usec;
};

/* Waits for fd (-1: none) to be readable, the stop or the timeout.
 * 1 readable, 0 timeout, -ECANCELED stop. */
static int wait_for(struct stitch_fleet_follower *f, int fd, uint64_t timeout_usec) {
        struct pollfd p[2] = {
                {.fd = f->stop_fd, .events = POLLIN},
                {.fd = fd, .events = POLLIN},
        };
        int ms = (int) ((timeout_usec + USEC_PER_MSEC - 1) / USEC_PER_MSEC);
        for (;;) {
                int r = poll(p, fd >= 0 ? 2 : 1, ms);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (p[0].revents)
                        return -ECANCELED;
                return r > 0 ? 1 : 0;
        }
}

/* Reads the feed to its end; marks the catch-up. */
static int catch_up(struct stitch_fleet_follower *f) {
        size_t n = 0;
        int r = stitch_core_follow_store_events(f->core, &f->cursor, stitch_now(),
                                                stitch_now_usec(CLOCK_MONOTONIC), &n);
        if (r < 0)
                return r;
        stitch_fleet_caught_up(f->core, stitch_now_usec(CLOCK_MONOTONIC));
        if (n > 0)
                log_debug("Applied %zu store event(s) from the fleet.", n);
        return 0;
}

static void *follow(void *userdata) {
        struct stitch_fleet_follower *f = userdata;
        const struct stitch_store_ops *ops = f->core->store_ops;
        struct stitch_store *store = f->core->store;
        uint64_t retry = RETRY_MIN_USEC;
        bool open = false, down = false;
        int fd = -1, r;

        for (;;) {
                if (!open) {
                        r = ops->feed_open(store, &fd);
                        if (r >= 0) {
                                open = true;
                                /* Listening first, then reading: whatever
                                 * commits from here on notifies. */
                                r = catch_up(f);
                        }
                        if (r < 0) {
                                if (!down)
                                        log_warning_errno(r, "Lost the fleet store's change feed: %m; retrying. "
                                                             "Verify asks the store after MaxStale.");
                                down = true;
                                stitch_fleet_set_store_down(f->core, true);
                                if (open) {
                                        ops->feed_close(store);
                                        open = false;
                                }
                                if (wait_for(f, -1, retry) == -ECANCELED)
                                        break;
                                retry = MIN(retry * 2, RETRY_MAX_USEC);
                                continue;
                        }
                        if (down)
                                log_info("Following the fleet store's change feed again.");
                        else
                                log_debug("Following the fleet store's change feed.");
                        down = false;
                        retry = RETRY_MIN_USEC;
                        stitch_fleet_set_store_down(f->core, false);
                }

                r = wait_for(f, fd, f->heartbeat_usec);
                if (r == -ECANCELED)
                        break;
                if (r > 0)
                        r = ops->feed_drain(store);
                else if (r == 0)
                        r = ops->feed_check(store);
                if (r >= 0)
                        r = catch_up(f);
                if (r < 0) {
                        /* Reopen (which reads everything missed) at once;
                         * pauses only if that fails too. */
                        ops->feed_close(store);
                        open = false;
                        fd = -1;
                }
        }
        if (open)
                ops->feed_close(store);
        return NULL;
}

int stitch_fleet_follower_start(struct stitch_core *core, struct stitch_fleet_follower **ret) {
        const struct stitch_store_ops *ops = core->store_ops;
        sigset_t all, old;

        *ret = NULL;
        if (!ops->feed_open || !ops->feed_drain || !ops->feed_check || !ops->feed_close)
                return 0;

        struct stitch_fleet_follower *f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->core = core;
        f->heartbeat_usec = MAX(MIN(core->config.fleet_max_stale_usec / 4, HEARTBEAT_MAX_USEC), HEARTBEAT_MIN_USEC);
        stitch_feed_cursor_init(&f->cursor, core->store_events_cursor);
        f->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (f->stop_fd < 0) {
                int r = -errno;
                free(f);
                return r;
        }
        stitch_fleet_follow_start(core, stitch_now_usec(CLOCK_MONOTONIC));
        /* Signals stay with the loop's thread. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int r = -pthread_create(&f->thread, NULL, follow, f);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0) {
                close(f->stop_fd);
                free(f);
                return r;
        }
        (void) pthread_setname_np(f->thread, "stitchd-fleet");
        *ret = f;
        return 0;
}

struct stitch_fleet_follower *stitch_fleet_follower_free(struct stitch_fleet_follower *f) {
        if (!f)
                return NULL;
        uint64_t one = 1;
        if (write(f->stop_fd, &one, sizeof(one)) < 0)
                log_debug_errno(errno, "Cannot wake the fleet follower: %m");
        (void) pthread_join(f->thread, NULL);
        close(f->stop_fd);
        free(f);
        return NULL;
}
