/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's main loop: one epoll set at the top, holding the varlink
 * connections' sockets themselves and sd-event's own epoll fd (timers,
 * signals, the listeners, the workers' completions, the refresher, the
 * watchdog). A socket readable on the top-level set wakes this thread with
 * the socket's sync hint, so the scheduler keeps the reply on the CPU the
 * client runs on (nested in sd-event, the hint was lost and each call paid
 * a wake-up of the other CPU); one epoll_wait() hands over every ready
 * connection. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/epoll.h>

#include <systemd/sd-event.h>

/* Who owns the epoll set: its fds carry data.ptr values of its own (never
 * NULL: NULL marks sd-event's fd, which the loop adds and removes). */
struct stitch_loop_client {
        int epoll_fd;
        /* Handles a batch of ready fds, on the loop thread. sd-event may be
         * armed meanwhile (its clock not read since it last woke): returns
         * true if the batch may have changed sd-event's sources in a way it
         * must see before the thread sleeps again (a source added or
         * enabled, a timer moved earlier, a deferred call); moving a timer
         * later or removing a source needs no such turn. */
        bool (*dispatch)(void *userdata, struct epoll_event *events, size_t n);
        void *userdata;
};

/* Runs until sd_event_exit(); returns the exit code, or -errno. */
int stitch_loop_run(sd_event *e, const struct stitch_loop_client *client);
