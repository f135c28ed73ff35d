/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The store's change feed (store.h, struct stitch_store_event), applied to
 * what this daemon keeps in memory: the revocation set, the caches keyed
 * by users_generation, the keyring. Another stitchd on the same store (a
 * fleet) made the change; this one hears of it through the feed and must
 * end up as if it had made it itself. Every apply is idempotent: an event
 * applied twice, or one this daemon wrote itself, or one whose change the
 * memory already has (rebuilt from the rows at start), changes nothing
 * more. */

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "core/feed-cursor.h"

/* How long the store keeps events (stitch_core_maintain prunes older
 * ones). A follower away for longer rebuilds from the rows instead. */
#define STITCH_STORE_EVENTS_KEEP_SEC (7 * 24 * 3600)

/* Applies one event. Unknown kinds (a newer stitchd's) are skipped: 0.
 * -EBADMSG if its data cannot be what its kind says. Any thread. */
int stitch_core_apply_store_event(struct stitch_core *core, const struct stitch_store_event *e, int64_t now);

/* Reads the events the cursor has not had from the store and applies them,
 * oldest first, each once (core/feed-cursor.h: ids that commit out of order
 * are awaited a while). An event that cannot be applied is logged and
 * skipped. *ret_n (optional): how many were applied. 'now' is the wall
 * clock (seconds), now_usec a monotonic clock for the cursor's waits.
 * Returns the store's error when it cannot be read (the cursor keeps what
 * was applied). Start the cursor at core->store_events_cursor. */
int stitch_core_follow_store_events(struct stitch_core *core, struct stitch_feed_cursor *cursor, int64_t now,
                                    uint64_t now_usec, size_t *ret_n);
