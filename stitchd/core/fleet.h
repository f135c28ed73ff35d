/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* How fresh this daemon's memory is when other daemons share its store (a
 * fleet, DESIGN.md "Fleet store"). The revocation set, the caches of users
 * and the keyring follow the store's change feed (core/store-events.h),
 * read by the daemon's follower (daemon/fleet-follower.c), which marks
 * each time it has read the feed to its end. When that has not happened
 * for longer than [Fleet] MaxStale=, a logout or revoke made on another
 * host may be missing here, so checks that would answer from memory ask
 * the store instead, and refuse when the store does not answer either:
 * fail closed. A store that no other host writes (SQLite) has no follower
 * and is never stale. */

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

/* The follower starts: from now on the memory is stale once it has not
 * caught up for MaxStale (it gets that long for its first read). */
void stitch_fleet_follow_start(struct stitch_core *core, uint64_t now_usec);
/* The follower read the feed to its end at now_usec (CLOCK_MONOTONIC). */
void stitch_fleet_caught_up(struct stitch_core *core, uint64_t now_usec);
/* The follower could not reach the store (true) or reached it again (false). */
void stitch_fleet_set_store_down(struct stitch_core *core, bool down);
/* Whether answers from memory may miss what another host did. */
bool stitch_fleet_stale(const struct stitch_core *core, uint64_t now_usec);

/* For a stale memory: whether the session may still act, asked of the
 * store itself. 0 if it is live; -EACCES with *ret_why if it ended, is
 * unknown, or the store cannot be asked (fail closed; at once when the
 * follower found the store down, without waiting for it). Any thread. */
int stitch_fleet_session_check(struct stitch_core *core, const char *session_id, int64_t now, const char **ret_why);
