/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>

#include "clock.h"
#include "core/fleet.h"
#include "log.h"
#include "macro.h"

void stitch_fleet_follow_start(struct stitch_core *core, uint64_t now_usec) {
        __atomic_store_n(&core->fleet_fresh_usec, now_usec, __ATOMIC_RELEASE);
        __atomic_store_n(&core->fleet_followed, true, __ATOMIC_RELEASE);
}

void stitch_fleet_caught_up(struct stitch_core *core, uint64_t now_usec) {
        __atomic_store_n(&core->fleet_fresh_usec, now_usec, __ATOMIC_RELEASE);
}

void stitch_fleet_set_store_down(struct stitch_core *core, bool down) {
        __atomic_store_n(&core->fleet_store_down, down, __ATOMIC_RELEASE);
}

bool stitch_fleet_stale(const struct stitch_core *core, uint64_t now_usec) {
        if (!__atomic_load_n(&core->fleet_followed, __ATOMIC_ACQUIRE))
                return false;
        uint64_t fresh = __atomic_load_n(&core->fleet_fresh_usec, __ATOMIC_ACQUIRE);
        return now_usec > fresh && now_usec - fresh > core->config.fleet_max_stale_usec;
}

int stitch_fleet_session_check(struct stitch_core *core, const char *session_id, int64_t now, const char **ret_why) {
        _cleanup_(stitch_session_freep) struct stitch_session *s = NULL;

        assert(ret_why);
        if (__atomic_load_n(&core->fleet_store_down, __ATOMIC_ACQUIRE)) {
                *ret_why = "the fleet store is unreachable: cannot confirm the session";
                return -EACCES;
        }
        int r = core->store_ops->session_get(core->store, session_id, &s);
        if (r == -ENOENT) {
                *ret_why = "session unknown";
                return -EACCES;
        }
        if (r < 0) {
                log_warning_errno(r, "Cannot confirm a session with the store while the change feed is stale: %m");
                *ret_why = "the fleet store is unreachable: cannot confirm the session";
                return -EACCES;
        }
        if (s->revoked || s->refresh_expires <= now) {
                *ret_why = "session revoked";
                return -EACCES;
        }
        return 0;
}
