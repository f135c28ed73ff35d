/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "ratelimit.h"

struct account {
        char *name; /* NULL = free slot */
        unsigned count;
        uint64_t last_attempt;
        uint64_t locked_until;
};

struct stitch_ratelimit {
        pthread_mutex_t lock;
        unsigned max_failures;
        uint64_t window, backoff_max;
        struct account *slots;
        size_t n_slots;
        size_t used;
};

int stitch_ratelimit_new(unsigned max_failures, uint64_t window_usec, uint64_t backoff_max_usec,
                         struct stitch_ratelimit **ret) {
        struct stitch_ratelimit *rl = calloc(1, sizeof(*rl));
        if (!rl)
                return -ENOMEM;
        rl->max_failures = max_failures;
        rl->window = window_usec;
        rl->backoff_max = backoff_max_usec;
        rl->n_slots = 1024;
        rl->slots = calloc(rl->n_slots, sizeof(struct account));
        if (!rl->slots) {
                free(rl);
                return -ENOMEM;
        }
        pthread_mutex_init(&rl->lock, NULL);
        *ret = rl;
        return 0;
}

struct stitch_ratelimit *stitch_ratelimit_free(struct stitch_ratelimit *rl) {
        if (!rl)
                return NULL;
        for (size_t i = 0; i < rl->n_slots; i++)
                free(rl->slots[i].name);
        free(rl->slots);
        pthread_mutex_destroy(&rl->lock);
        free(rl);
        return NULL;
}

static uint64_t hash_name(const char *s) {
        uint64_t h = 1469598103934665603ULL;
        for (; *s; s++) {
                h ^= (unsigned char) *s;
                h *= 1099511628211ULL;
        }
        return h ^ (h >> 29);
}

/* Linear probing without deletion markers: removal re-inserts the rest of the cluster. */
static struct account *lookup(struct stitch_ratelimit *rl, const char *name) {
        size_t mask = rl->n_slots - 1;
        for (size_t i = hash_name(name) & mask;; i = (i + 1) & mask) {
                if (!rl->slots[i].name)
                        return NULL;
                if (streq(rl->slots[i].name, name))
                        return &rl->slots[i];
        }
}

static void remove_slot(struct stitch_ratelimit *rl, struct account *a) {
        size_t mask = rl->n_slots - 1;
        size_t i = (size_t) (a - rl->slots);
        free(a->name);
        a->name = NULL;
        rl->used--;
        for (size_t j = (i + 1) & mask; rl->slots[j].name; j = (j + 1) & mask) {
                struct account moved = rl->slots[j];
                rl->slots[j].name = NULL;
                size_t k = hash_name(moved.name) & mask;
                while (rl->slots[k].name)
                        k = (k + 1) & mask;
                rl->slots[k] = moved;
        }
}

static bool idle(struct stitch_ratelimit *rl, const struct account *a, uint64_t now) {
        return a->locked_until <= now && a->last_attempt + rl->window < now;
}

static void evict_idle(struct stitch_ratelimit *rl, uint64_t now) {
        struct account *fresh = calloc(rl->n_slots, sizeof(struct account));
        if (!fresh)
                return;
        size_t mask = rl->n_slots - 1;
        rl->used = 0;
        for (size_t i = 0; i < rl->n_slots; i++) {
                struct account *a = &rl->slots[i];
                if (!a->name)
                        continue;
                if (idle(rl, a, now)) {
                        free(a->name);
                        continue;
                }
                size_t k = hash_name(a->name) & mask;
                while (fresh[k].name)
                        k = (k + 1) & mask;
                fresh[k] = *a;
                rl->used++;
        }
        free(rl->slots);
        rl->slots = fresh;
}

static int grow(struct stitch_ratelimit *rl) {
        size_t n = rl->n_slots * 2;
        struct account *s = calloc(n, sizeof(struct account));
        if (!s)
                return -ENOMEM;
        struct account *old = rl->slots;
        size_t on = rl->n_slots;
        rl->slots = s;
        rl->n_slots = n;
        for (size_t i = 0; i < on; i++)
                if (old[i].name) {
                        size_t k = hash_name(old[i].name) & (n - 1);
                        while (s[k].name)
                                k = (k + 1) & (n - 1);
                        s[k] = old[i];
                }
        free(old);
        return 0;
}

static struct account *insert(struct stitch_ratelimit *rl, const char *name, uint64_t now) {
        if ((rl->used + 1) * 2 > rl->n_slots) {
                evict_idle(rl, now);
                if ((rl->used + 1) * 2 > rl->n_slots) {
                        if (rl->n_slots * 2 > 2 * STITCH_RATELIMIT_MAX_ENTRIES) {
                                /* Full of active accounts: drop the one in our probe start. */
                                struct account *victim = &rl->slots[hash_name(name) & (rl->n_slots - 1)];
                                remove_slot(rl, victim);
                        } else if (grow(rl) < 0)
                                return NULL;
                }
        }
        char *copy = strdup(name);
        if (!copy)
                return NULL;
        size_t mask = rl->n_slots - 1;
        size_t i = hash_name(name) & mask;
        while (rl->slots[i].name)
                i = (i + 1) & mask;
        rl->slots[i] = (struct account){.name = copy};
        rl->used++;
        return &rl->slots[i];
}

int stitch_ratelimit_begin(struct stitch_ratelimit *rl, const char *account, uint64_t now,
                           uint64_t *ret_retry_after_usec) {
        int r = 0;
        if (rl->max_failures == 0)
                return 0; /* MaxFailures=0 disables the limit */

        pthread_mutex_lock(&rl->lock);
        struct account *a = lookup(rl, account);
        if (!a)
                a = insert(rl, account, now);
        if (!a) {
                /* Out of memory: fail closed. */
                *ret_retry_after_usec = USEC_PER_SEC;
                r = -EBUSY;
                goto finish;
        }
        if (a->locked_until > now) {
                *ret_retry_after_usec = a->locked_until - now;
                r = -EBUSY;
                goto finish;
        }
        if (a->last_attempt + rl->window < now)
                a->count = 0;
        a->last_attempt = now;
        a->count++;
        if (a->count > rl->max_failures) {
                unsigned over = a->count - rl->max_failures - 1;
                uint64_t backoff = over >= 40 ? rl->backoff_max : USEC_PER_SEC << over;
                if (backoff > rl->backoff_max)
                        backoff = rl->backoff_max;
                a->locked_until = now + backoff;
        }
finish:
        pthread_mutex_unlock(&rl->lock);
        return r;
}

void stitch_ratelimit_success(struct stitch_ratelimit *rl, const char *account) {
        pthread_mutex_lock(&rl->lock);
        struct account *a = lookup(rl, account);
        if (a)
                remove_slot(rl, a);
        pthread_mutex_unlock(&rl->lock);
}

int stitch_ratelimit_unlock(struct stitch_ratelimit *rl, const char *account) {
        pthread_mutex_lock(&rl->lock);
        struct account *a = lookup(rl, account);
        if (a)
                remove_slot(rl, a);
        pthread_mutex_unlock(&rl->lock);
        return a ? 1 : 0;
}
