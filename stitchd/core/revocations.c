/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "fnv.h"
#include "core/revocations.h"
#include "store/store.h"

/* Open addressing with linear probing and tombstones; keys are 24-char ids. */
struct entry {
        char id[STITCH_ID_LEN + 1];
        uint8_t state; /* 0 empty, 1 used, 2 deleted */
        int64_t until;
};

struct stitch_revocations {
        pthread_mutex_t lock;
        struct entry *table;
        size_t cap;  /* power of two */
        size_t used; /* state == 1 */
        size_t filled; /* state != 0 */
};

static uint64_t hash_id(const char *s) {
        return stitch_fnv1a64(STITCH_FNV64_BASIS, s, strlen(s)); /* ids are random, not attacker-chosen */
}

int stitch_revocations_new(struct stitch_revocations **ret) {
        struct stitch_revocations *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->cap = 256;
        r->table = calloc(r->cap, sizeof(struct entry));
        if (!r->table) {
                free(r);
                return -ENOMEM;
        }
        pthread_mutex_init(&r->lock, NULL);
        *ret = r;
        return 0;
}

struct stitch_revocations *stitch_revocations_free(struct stitch_revocations *r) {
        if (!r)
                return NULL;
        pthread_mutex_destroy(&r->lock);
        free(r->table);
        free(r);
        return NULL;
}

static struct entry *find(struct stitch_revocations *r, const char *id, bool for_insert) {
        size_t mask = r->cap - 1;
        struct entry *tomb = NULL;
        for (size_t i = hash_id(id) & mask, n = 0; n < r->cap; i = (i + 1) & mask, n++) {
                struct entry *e = &r->table[i];
                if (e->state == 0)
                        return for_insert ? (tomb ? tomb : e) : NULL;
                if (e->state == 2) {
                        if (!tomb)
                                tomb = e;
                        continue;
                }
                if (streq(e->id, id))
                        return e;
        }
        return for_insert ? tomb : NULL;
}

static int grow(struct stitch_revocations *r) {
        size_t ncap = r->used * 4 > r->cap ? r->cap * 2 : r->cap; /* rehash drops tombstones */
        struct entry *old = r->table;
        size_t ocap = r->cap;
        struct entry *t = calloc(ncap, sizeof(struct entry));
        if (!t)
                return -ENOMEM;
        r->table = t;
        r->cap = ncap;
        r->used = r->filled = 0;
        for (size_t i = 0; i < ocap; i++)
                if (old[i].state == 1) {
                        struct entry *e = find(r, old[i].id, true);
                        *e = old[i];
                        r->used++;
                        r->filled++;
                }
        free(old);
        return 0;
}

int stitch_revocations_add(struct stitch_revocations *r, const char *session_id, int64_t until) {
        if (strlen(session_id) != STITCH_ID_LEN)
                return -EINVAL;
        int ret = 0;
        pthread_mutex_lock(&r->lock);
        if ((r->filled + 1) * 2 > r->cap)
                ret = grow(r);
        if (ret >= 0) {
                struct entry *e = find(r, session_id, true);
                if (e->state == 1) {
                        if (until > e->until)
                                e->until = until;
                } else {
                        if (e->state == 0)
                                r->filled++;
                        memcpy(e->id, session_id, STITCH_ID_LEN + 1);
                        e->state = 1;
                        e->until = until;
                        r->used++;
                }
        }
        pthread_mutex_unlock(&r->lock);
        return ret;
}

bool stitch_revocations_contains(struct stitch_revocations *r, const char *session_id) {
        if (strlen(session_id) != STITCH_ID_LEN)
                return false;
        pthread_mutex_lock(&r->lock);
        bool found = find(r, session_id, false) != NULL;
        pthread_mutex_unlock(&r->lock);
        return found;
}

size_t stitch_revocations_prune(struct stitch_revocations *r, int64_t now) {
        size_t n = 0;
        pthread_mutex_lock(&r->lock);
        for (size_t i = 0; i < r->cap; i++)
                if (r->table[i].state == 1 && r->table[i].until < now) {
                        r->table[i].state = 2;
                        r->used--;
                        n++;
                }
        pthread_mutex_unlock(&r->lock);
        return n;
}

size_t stitch_revocations_size(struct stitch_revocations *r) {
        pthread_mutex_lock(&r->lock);
        size_t n = r->used;
        pthread_mutex_unlock(&r->lock);
        return n;
}
