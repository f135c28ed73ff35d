/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The follower of a shared store's change feed (DESIGN.md "Fleet store";
 * store.h, feed_open...): a thread of its own that listens for the store's
 * notifications and, on each, and at least every heartbeat, reads the
 * events other daemons wrote and applies them to this daemon's memory
 * (core/store-events.h), marking each catch-up (core/fleet.h). When the
 * store cannot be reached it retries with a growing pause; once the feed
 * has been unheard for [Fleet] MaxStale=, the core's checks ask the store
 * or fail closed. Nothing runs for a store without push (SQLite). */

#include "core/core.h"

struct stitch_fleet_follower;

/* *ret is NULL (and 0 returned) when the store has no feed to follow. */
int stitch_fleet_follower_start(struct stitch_core *core, struct stitch_fleet_follower **ret);
/* Stops the thread (waiting for a store call in progress) and frees. */
struct stitch_fleet_follower *stitch_fleet_follower_free(struct stitch_fleet_follower *f);
