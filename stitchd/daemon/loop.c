/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>

#include "daemon/loop.h"
#include "log.h"

/* Ready fds handed over per epoll_wait(): a full batch only means the
 * rest come in the next turn. */
#define LOOP_BATCH 64

/* sd-event driven from outside (sd_event_wait(3)): sd_event_prepare() arms
 * its timers and says whether something is pending already; the thread
 * then sleeps on the top-level set only. sd-event stays armed while only
 * connections are ready, so a turn that answers calls costs one
 * epoll_wait() and no sd-event bookkeeping (sd_event_prepare() alone costs
 * a gettid() on the default loop); it is woken (sd_event_wait(e, 0), which
 * collects its fd's events, then sd_event_dispatch()) when its fd is
 * readable or when a batch says it changed sd-event's sources. sd-event
 * dispatches one source per turn; each turn also looks at the connections
 * first (without sleeping while sd-event has more pending), so the
 * connections' events keep their precedence over accepting new ones. */
int stitch_loop_run(sd_event *e, const struct stitch_loop_client *client) {
        struct epoll_event events[LOOP_BATCH];
        int event_fd = sd_event_get_fd(e), r, code = 0;

        assert(client && client->epoll_fd >= 0 && client->dispatch);
        if (event_fd < 0)
                return log_error_errno(event_fd, "Cannot get the event loop's fd: %m");
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        if (epoll_ctl(client->epoll_fd, EPOLL_CTL_ADD, event_fd, &ev) < 0)
                return log_error_errno(errno, "Cannot watch the event loop's fd: %m");

        for (;;) {
                r = sd_event_get_state(e);
                if (r == SD_EVENT_FINISHED)
                        break;
                if (r == SD_EVENT_INITIAL) {
                        r = sd_event_prepare(e);
                        if (r < 0)
                                break;
                }
                bool pending = sd_event_get_state(e) == SD_EVENT_PENDING;

                int n = epoll_wait(client->epoll_fd, events, LOOP_BATCH, pending ? 0 : -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = log_error_errno(errno, "epoll_wait: %m");
                        break;
                }
                /* Take sd-event's fd out of the batch; the rest is the client's. */
                bool event_ready = false;
                size_t k = 0;
                for (int i = 0; i < n; i++) {
                        if (!events[i].data.ptr)
                                event_ready = true;
                        else
                                events[k++] = events[i];
                }
                bool changed = k > 0 && client->dispatch(client->userdata, events, k);

                if (!pending && (event_ready || changed)) {
                        r = sd_event_wait(e, 0);
                        if (r < 0)
                                break;
                        pending = r > 0;
                }
                if (pending) {
                        r = sd_event_dispatch(e);
                        if (r < 0)
                                break;
                }
        }
        if (r < 0)
                log_error_errno(r, "Event loop failed: %m");
        (void) epoll_ctl(client->epoll_fd, EPOLL_CTL_DEL, event_fd, NULL);
        if (r < 0)
                return r;
        r = sd_event_get_exit_code(e, &code);
        return r < 0 ? r : code;
}
