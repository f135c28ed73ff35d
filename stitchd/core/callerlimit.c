/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#include "core/callerlimit.h"
#include "core/pages.h"
#include "macro.h"

#define WINDOW_USEC (60 * USEC_PER_SEC)

struct caller {
        uid_t uid;
        bool used;
        unsigned count;
        uint64_t window_start;
};

/* From stitch_pages_new(): of the 96 KiB only the pages holding callers
 * seen are resident (callers fill the table from its start). */
struct stitch_callerlimit {
        pthread_mutex_t lock;
        unsigned per_minute;
        struct caller slots[STITCH_CALLERLIMIT_MAX_ENTRIES];
};

int stitch_callerlimit_new(unsigned per_minute, struct stitch_callerlimit **ret) {
        struct stitch_callerlimit *cl = stitch_pages_new(sizeof(*cl));
        if (!cl)
                return -ENOMEM;
        cl->per_minute = per_minute;
        pthread_mutex_init(&cl->lock, NULL);
        *ret = cl;
        return 0;
}

struct stitch_callerlimit *stitch_callerlimit_free(struct stitch_callerlimit *cl) {
        if (!cl)
                return NULL;
        pthread_mutex_destroy(&cl->lock);
        return stitch_pages_free(cl, sizeof(*cl));
}

static bool expired(const struct caller *c, uint64_t now) {
        return c->window_start + WINDOW_USEC <= now;
}

/* The slot of uid, or a free or expired one to take; NULL when every slot
 * holds another caller inside its window. A linear scan: the table is
 * small and only logins (which cost a hash) come here. */
static struct caller *find(struct stitch_callerlimit *cl, uid_t uid, uint64_t now, bool *ret_found) {
        struct caller *spare = NULL;

        for (size_t i = 0; i < STITCH_CALLERLIMIT_MAX_ENTRIES; i++) {
                struct caller *c = &cl->slots[i];
                if (c->used && c->uid == uid) {
                        *ret_found = true;
                        return c;
                }
                if (!spare && (!c->used || expired(c, now)))
                        spare = c;
        }
        *ret_found = false;
        return spare;
}

int stitch_callerlimit_check(struct stitch_callerlimit *cl, uid_t uid, uint64_t now,
                             uint64_t *ret_retry_after_usec) {
        int r = 0;
        bool found;

        if (cl->per_minute == 0 || uid == 0)
                return 0;
        pthread_mutex_lock(&cl->lock);
        struct caller *c = find(cl, uid, now, &found);
        if (!c) {
                *ret_retry_after_usec = USEC_PER_SEC;
                r = -EBUSY;
        } else if (found && !expired(c, now) && c->count >= cl->per_minute) {
                *ret_retry_after_usec = c->window_start + WINDOW_USEC - now;
                r = -EBUSY;
        }
        pthread_mutex_unlock(&cl->lock);
        return r;
}

void stitch_callerlimit_count(struct stitch_callerlimit *cl, uid_t uid, uint64_t now) {
        bool found;

        if (cl->per_minute == 0 || uid == 0)
                return;
        pthread_mutex_lock(&cl->lock);
        struct caller *c = find(cl, uid, now, &found);
        if (c) {
                if (!found || expired(c, now))
                        *c = (struct caller) {.uid = uid, .used = true, .window_start = now};
                c->count++;
        }
        pthread_mutex_unlock(&cl->lock);
}
