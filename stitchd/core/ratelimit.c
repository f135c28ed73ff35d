/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* An open-addressing table (linear probing, no tombstones) of the accounts
 * being counted, keyed by SipHash-2-4 with a key drawn at start, so that an
 * attacker cannot pick names that share a probe chain.
 *
 * Invariants, kept under rl->lock:
 *   used == the number of occupied slots,
 *   used <= max_accounts and 2 * used <= n_slots (so a probe always meets a
 *   free slot and every loop below ends),
 *   every occupied slot is reachable from its home slot without crossing a
 *   free one (removal shifts the rest of the chain back, Knuth's algorithm R),
 *   no tracked account turns idle before next_idle. */

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "macro.h"
#include "core/ratelimit.h"
#include "siphash.h"

#define INITIAL_SLOTS 1024

struct account {
        char *name; /* NULL = free slot */
        uint64_t hash;
        unsigned count;
        uint64_t last_attempt;
        uint64_t locked_until;
};

struct stitch_ratelimit {
        pthread_mutex_t lock;
        unsigned max_failures;
        uint64_t window, backoff_max;
        uint8_t key[STITCH_SIPHASH_KEY_SIZE];
        struct account *slots;
        size_t n_slots;      /* a power of two */
        size_t max_slots;    /* the power of two n_slots stops at, >= 2 * max_accounts */
        size_t max_accounts;
        size_t used;
        uint64_t next_idle;
};

static int random_key(uint8_t *key, size_t n) {
        while (n > 0) {
                ssize_t k = getrandom(key, n, 0);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                key += k;
                n -= (size_t) k;
        }
        return 0;
}

int stitch_ratelimit_new(unsigned max_failures, uint64_t window_usec, uint64_t backoff_max_usec,
                         size_t max_accounts, struct stitch_ratelimit **ret) {
        assert(ret);
        if (max_accounts < STITCH_RATELIMIT_TRACKED_MIN || max_accounts > STITCH_RATELIMIT_TRACKED_MAX)
                return -EINVAL;

        struct stitch_ratelimit *rl = calloc(1, sizeof(*rl));
        if (!rl)
                return -ENOMEM;
        rl->max_failures = max_failures;
        rl->window = window_usec;
        rl->backoff_max = backoff_max_usec;
        rl->max_accounts = max_accounts;
        rl->max_slots = 1;
        while (rl->max_slots < 2 * max_accounts)
                rl->max_slots *= 2;
        rl->n_slots = MIN((size_t) INITIAL_SLOTS, rl->max_slots);
        rl->next_idle = UINT64_MAX;

        int r = random_key(rl->key, sizeof(rl->key));
        if (r < 0) {
                free(rl);
                return r;
        }
        rl->slots = calloc(rl->n_slots, sizeof(struct account));
        if (!rl->slots) {
                explicit_bzero(rl->key, sizeof(rl->key));
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
        explicit_bzero(rl->key, sizeof(rl->key));
        pthread_mutex_destroy(&rl->lock);
        free(rl);
        return NULL;
}

static uint64_t hash_name(const struct stitch_ratelimit *rl, const char *name) {
        return stitch_siphash24(name, strlen(name), rl->key);
}

/* The first free slot of hash's probe chain. */
static size_t free_slot(const struct account *slots, size_t n_slots, uint64_t hash) {
        size_t mask = n_slots - 1;
        size_t i = hash & mask;
        while (slots[i].name)
                i = (i + 1) & mask;
        return i;
}

static struct account *lookup(struct stitch_ratelimit *rl, const char *name, uint64_t hash) {
        size_t mask = rl->n_slots - 1;
        size_t i = hash & mask;
        /* Bounded anyway: the load factor never exceeds 1/2, so a free slot ends every chain. */
        for (size_t probes = 0; probes < rl->n_slots; probes++, i = (i + 1) & mask) {
                struct account *a = &rl->slots[i];
                if (!a->name)
                        return NULL;
                if (a->hash == hash && streq(a->name, name))
                        return a;
        }
        assert(!"rate limit table without a free slot");
        return NULL;
}

/* Frees slot 'hole' and moves later entries of the chain back into it, so
 * that every entry stays reachable from its home slot. */
static void remove_at(struct stitch_ratelimit *rl, size_t hole) {
        size_t mask = rl->n_slots - 1;

        assert(rl->slots[hole].name);
        assert(rl->used > 0);
        free(rl->slots[hole].name);
        rl->slots[hole] = (struct account) { .name = NULL };
        rl->used--;

        for (size_t j = (hole + 1) & mask; rl->slots[j].name; j = (j + 1) & mask) {
                size_t home = rl->slots[j].hash & mask;
                /* An entry whose home lies in (hole, j] must stay: the hole is before its chain. */
                if (((j - home) & mask) < ((j - hole) & mask))
                        continue;
                rl->slots[hole] = rl->slots[j];
                rl->slots[j] = (struct account) { .name = NULL };
                hole = j;
        }
}

/* When an account stops mattering: no lock, and its window has passed. */
static uint64_t idle_at(const struct stitch_ratelimit *rl, const struct account *a) {
        return MAX(a->locked_until, a->last_attempt + rl->window + 1);
}

static void evict_idle(struct stitch_ratelimit *rl, uint64_t now) {
        /* Removing at i only moves entries from later in the chain into [i, ...),
         * so re-examining i until it holds a kept entry visits every entry once. */
        for (size_t i = 0; i < rl->n_slots; i++)
                while (rl->slots[i].name && idle_at(rl, &rl->slots[i]) <= now)
                        remove_at(rl, i);

        rl->next_idle = UINT64_MAX;
        for (size_t i = 0; i < rl->n_slots; i++)
                if (rl->slots[i].name)
                        rl->next_idle = MIN(rl->next_idle, idle_at(rl, &rl->slots[i]));
}

static int grow(struct stitch_ratelimit *rl) {
        size_t n = rl->n_slots * 2;
        assert(n <= rl->max_slots);
        struct account *s = calloc(n, sizeof(struct account));
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < rl->n_slots; i++)
                if (rl->slots[i].name)
                        s[free_slot(s, n, rl->slots[i].hash)] = rl->slots[i];
        free(rl->slots);
        rl->slots = s;
        rl->n_slots = n;
        return 0;
}

static bool has_room(const struct stitch_ratelimit *rl) {
        return rl->used < rl->max_accounts && (rl->used + 1) * 2 <= rl->n_slots;
}

/* Returns -EBUSY when every tracked account is still active and the table
 * may not grow: nothing is evicted then, the caller refuses the attempt. */
static int insert(struct stitch_ratelimit *rl, const char *name, uint64_t hash, uint64_t now,
                  struct account **ret) {
        if (!has_room(rl) && now >= rl->next_idle)
                evict_idle(rl, now);
        if (rl->used >= rl->max_accounts)
                return -EBUSY;
        if (!has_room(rl)) {
                int r = grow(rl);
                if (r < 0)
                        return r;
        }
        assert(has_room(rl));

        char *copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        size_t i = free_slot(rl->slots, rl->n_slots, hash);
        rl->slots[i] = (struct account) { .name = copy, .hash = hash };
        rl->used++;
        *ret = &rl->slots[i];
        return 0;
}

int stitch_ratelimit_begin(struct stitch_ratelimit *rl, const char *account, uint64_t now,
                           uint64_t *ret_retry_after_usec) {
        int r = 0;

        assert(rl);
        assert(account);
        assert(ret_retry_after_usec);
        if (rl->max_failures == 0)
                return 0; /* MaxFailures=0 disables the limit */

        uint64_t hash = hash_name(rl, account);
        pthread_mutex_lock(&rl->lock);
        struct account *a = lookup(rl, account, hash);
        if (!a) {
                r = insert(rl, account, hash, now, &a);
                if (r == -EBUSY) {
                        /* Full of active accounts: fail closed until the first one turns idle. */
                        assert(rl->next_idle > now);
                        *ret_retry_after_usec = rl->next_idle - now;
                        goto finish;
                }
                if (r < 0) {
                        /* Out of memory: fail closed. */
                        *ret_retry_after_usec = USEC_PER_SEC;
                        r = -EBUSY;
                        goto finish;
                }
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
        /* An account's idle time only moves later, except for a new one. */
        rl->next_idle = MIN(rl->next_idle, idle_at(rl, a));
finish:
        pthread_mutex_unlock(&rl->lock);
        return r;
}

/* Removes the account; returns 1 if it was tracked. */
static int forget(struct stitch_ratelimit *rl, const char *account) {
        assert(rl);
        assert(account);
        uint64_t hash = hash_name(rl, account);
        pthread_mutex_lock(&rl->lock);
        struct account *a = lookup(rl, account, hash);
        if (a)
                remove_at(rl, (size_t) (a - rl->slots));
        pthread_mutex_unlock(&rl->lock);
        return a ? 1 : 0;
}

void stitch_ratelimit_success(struct stitch_ratelimit *rl, const char *account) {
        (void) forget(rl, account);
}

void stitch_ratelimit_refund(struct stitch_ratelimit *rl, const char *account) {
        assert(rl);
        assert(account);
        if (rl->max_failures == 0)
                return;
        uint64_t hash = hash_name(rl, account);
        pthread_mutex_lock(&rl->lock);
        struct account *a = lookup(rl, account, hash);
        if (a && a->count > 0) {
                a->count--;
                /* The attempt ran, so the account was not locked when it
                 * began: a lock there is now is the one its count set. */
                if (a->count <= rl->max_failures)
                        a->locked_until = 0;
        }
        pthread_mutex_unlock(&rl->lock);
}

int stitch_ratelimit_unlock(struct stitch_ratelimit *rl, const char *account) {
        return forget(rl, account);
}

size_t stitch_ratelimit_count(struct stitch_ratelimit *rl) {
        assert(rl);
        pthread_mutex_lock(&rl->lock);
        size_t n = rl->used;
        pthread_mutex_unlock(&rl->lock);
        return n;
}
