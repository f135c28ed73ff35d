/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <inttypes.h>
#include <string.h>

#include "core/feed-cursor.h"
#include "log.h"

void stitch_feed_cursor_init(struct stitch_feed_cursor *c, int64_t id) {
        assert(c);
        c->high = id;
        c->n_gaps = 0;
        c->given_up = 0;
}

static void drop_gaps(struct stitch_feed_cursor *c, size_t n) {
        memmove(c->gaps, c->gaps + n, (c->n_gaps - n) * sizeof(c->gaps[0]));
        c->n_gaps -= n;
        c->given_up += n;
}

int64_t stitch_feed_cursor_read_after(struct stitch_feed_cursor *c, uint64_t now_usec) {
        size_t old = 0;

        assert(c);
        /* Gaps are recorded in ascending id order, and an id is found missing
         * no later than any larger one: the oldest come first. */
        while (old < c->n_gaps && now_usec - c->gaps[old].seen_usec > STITCH_FEED_GAP_WAIT_USEC)
                old++;
        if (old > 0) {
                log_debug("Store events %" PRIi64 "..%" PRIi64 " never came (rolled back): %zu ids given up.",
                          c->gaps[0].id, c->gaps[old - 1].id, old);
                drop_gaps(c, old);
        }
        return c->n_gaps > 0 ? c->gaps[0].id - 1 : c->high;
}

static bool gap_fill(struct stitch_feed_cursor *c, int64_t id) {
        size_t lo = 0, hi = c->n_gaps;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (c->gaps[mid].id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo == c->n_gaps || c->gaps[lo].id != id)
                return false;
        memmove(c->gaps + lo, c->gaps + lo + 1, (c->n_gaps - lo - 1) * sizeof(c->gaps[0]));
        c->n_gaps--;
        return true;
}

bool stitch_feed_cursor_take(struct stitch_feed_cursor *c, int64_t id, uint64_t now_usec) {
        assert(c);
        if (id <= c->high)
                return gap_fill(c, id); /* late: new only if it was awaited */
        /* The ids between are missing so far. A jump wider than the memory
         * keeps the newest; the rest is given up at once (logged). */
        int64_t first = c->high + 1;
        if (id - first > (int64_t) STITCH_FEED_GAPS_MAX) {
                log_warning("Store event ids jumped from %" PRIi64 " to %" PRIi64
                            ": not awaiting more than %d missing ids.",
                            c->high, id, STITCH_FEED_GAPS_MAX);
                first = id - STITCH_FEED_GAPS_MAX;
                c->given_up += (uint64_t) (first - c->high - 1);
        }
        for (int64_t g = first; g < id; g++) {
                if (c->n_gaps == STITCH_FEED_GAPS_MAX)
                        drop_gaps(c, 1);
                c->gaps[c->n_gaps++] = (struct stitch_feed_gap) {.id = g, .seen_usec = now_usec};
        }
        c->high = id;
        return true;
}
