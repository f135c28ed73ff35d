/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Where a follower of the store's change feed is (store.h, events_since).
 * On a server backend event ids come from a sequence: a transaction takes
 * its id when it writes and commits later, so a smaller id can become
 * visible after a larger one. A follower that only remembered the largest
 * id it saw would skip such an event for ever. This one remembers the ids
 * missing below the largest (the gaps), reads again from below the oldest
 * gap, and applies each id once. A gap that stays empty longer than
 * STITCH_FEED_GAP_WAIT_USEC was a transaction that rolled back (its id is
 * never used) and is given up. Not thread-safe: one follower owns it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longer than any store transaction that writes events can stay open. */
#define STITCH_FEED_GAP_WAIT_USEC (30 * UINT64_C(1000000))
/* Gaps remembered at most; beyond, the oldest are given up (logged). */
#define STITCH_FEED_GAPS_MAX 1024

struct stitch_feed_gap {
        int64_t id;
        uint64_t seen_usec; /* when the id was first found missing */
};

struct stitch_feed_cursor {
        int64_t high; /* the largest id applied (or the start) */
        struct stitch_feed_gap gaps[STITCH_FEED_GAPS_MAX]; /* ascending ids, all below high */
        size_t n_gaps;
        uint64_t given_up; /* gaps dropped unfilled, for logs and tests */
};

/* Starts after 'id' (events_last_id() read before the memory was rebuilt). */
void stitch_feed_cursor_init(struct stitch_feed_cursor *c, int64_t id);
/* The id to pass to events_since(): below every gap still awaited (gaps
 * older than the wait are given up first). */
int64_t stitch_feed_cursor_read_after(struct stitch_feed_cursor *c, uint64_t now_usec);
/* Whether an event read with that id is new (apply it) or applied already
 * (skip it). Records the ids between the largest seen and this one as gaps.
 * Call for each event in the order events_since() gives them (ascending). */
bool stitch_feed_cursor_take(struct stitch_feed_cursor *c, int64_t id, uint64_t now_usec);
