/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/conversations.h"
#include "macro.h"
#include "siphash.h"
#include "core/ids.h"
#include "validate.h"

struct stitch_conversations {
        pthread_mutex_t lock;
        uint8_t key[STITCH_SIPHASH_KEY_SIZE]; /* for shares */
        size_t n;
        struct stitch_conversation *items[STITCH_CONVERSATIONS_MAX];
        uint64_t shares[STITCH_CONVERSATIONS_MAX]; /* scratch for largest_share() */
};

int stitch_conversations_new(struct stitch_conversations **ret) {
        struct stitch_conversations *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        int r = stitch_random_bytes(t->key, sizeof(t->key));
        if (r < 0) {
                free(t);
                return r;
        }
        pthread_mutex_init(&t->lock, NULL);
        *ret = t;
        return 0;
}

uint64_t stitch_conversations_share(struct stitch_conversations *t, uid_t uid, const char *service,
                                    const char *ruser, const char *rhost) {
        /* uid, then for root each item after its length, so that no two
         * lists of items encode alike */
        char buf[sizeof(uid_t) + 3 * (sizeof(uint32_t) + 256)];
        size_t n = 0;
        memcpy(buf, &uid, sizeof(uid));
        n += sizeof(uid);
        const char *items[] = {service, ruser, rhost};
        if (uid == 0)
                for (size_t i = 0; i < ELEMENTSOF(items); i++) {
                        const char *v = items[i] ? items[i] : "";
                        uint32_t len = (uint32_t) strnlen(v, 256);
                        memcpy(buf + n, &len, sizeof(len));
                        n += sizeof(len);
                        memcpy(buf + n, v, len);
                        n += len;
                }
        return stitch_siphash24(buf, n, t->key);
}

void stitch_conversation_free(struct stitch_conversation *c) {
        if (!c)
                return;
        if (c->state && c->provider && c->provider->state_free)
                c->provider->state_free(c->state);
        free(c->user);
        free(c->service);
        free(c->rhost);
        free(c->tty);
        free(c->ruser);
        free(c);
}

struct stitch_conversations *stitch_conversations_free(struct stitch_conversations *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n; i++)
                stitch_conversation_free(t->items[i]);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return NULL;
}

static void remove_at(struct stitch_conversations *t, size_t i) {
        t->items[i] = t->items[--t->n];
        t->items[t->n] = NULL;
}

static void drop_expired(struct stitch_conversations *t, uint64_t now) {
        for (size_t i = 0; i < t->n;)
                if (t->items[i]->expires_usec <= now) {
                        stitch_conversation_free(t->items[i]);
                        remove_at(t, i);
                } else
                        i++;
}

/* The oldest conversation of share (there is one). */
static size_t oldest_of(const struct stitch_conversations *t, uint64_t share) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < t->n; i++)
                if (t->items[i]->share == share &&
                    (best == SIZE_MAX || t->items[i]->created_usec < t->items[best]->created_usec))
                        best = i;
        return best;
}

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* The share holding the most conversations (the table is full: rare). */
static uint64_t largest_share(struct stitch_conversations *t) {
        uint64_t *shares = t->shares;
        uint64_t best = 0;
        size_t best_n = 0;

        for (size_t i = 0; i < t->n; i++)
                shares[i] = t->items[i]->share;
        qsort(shares, t->n, sizeof(shares[0]), compare_u64);
        for (size_t i = 0, j; i < t->n; i = j) {
                for (j = i; j < t->n && shares[j] == shares[i]; j++)
                        ;
                if (j - i > best_n) {
                        best_n = j - i;
                        best = shares[i];
                }
        }
        return best;
}

static void evict(struct stitch_conversations *t, size_t i) {
        stitch_conversation_free(t->items[i]);
        remove_at(t, i);
}

int stitch_conversations_put(struct stitch_conversations *t, struct stitch_conversation *c, uint64_t now) {
        size_t mine = 0;
        int r, evicted = 0;

        r = stitch_session_id_new(c->id); /* 24 of [A-Za-z0-9]: 142 random bits */
        if (r < 0)
                return r;
        c->created_usec = now;
        pthread_mutex_lock(&t->lock);
        drop_expired(t, now);
        for (size_t i = 0; i < t->n; i++)
                if (t->items[i]->share == c->share)
                        mine++;
        /* A new login always gets its question asked: whoever waits longest
         * in the same share (most likely whoever opened many and answers
         * none) makes room, or when the table is full, in the largest one. */
        if (mine >= STITCH_CONVERSATIONS_PER_SHARE) {
                evict(t, oldest_of(t, c->share));
                evicted++;
        } else if (t->n >= STITCH_CONVERSATIONS_MAX) {
                evict(t, oldest_of(t, largest_share(t)));
                evicted++;
        }
        t->items[t->n++] = c;
        pthread_mutex_unlock(&t->lock);
        return evicted;
}

int stitch_conversations_take(struct stitch_conversations *t, const char *id, uid_t uid, uint64_t owner,
                              uint64_t now, struct stitch_conversation **ret) {
        int r = -ENOENT;

        if (!id || strlen(id) != STITCH_CONVERSATION_ID_LEN)
                return -ENOENT;
        pthread_mutex_lock(&t->lock);
        drop_expired(t, now);
        for (size_t i = 0; i < t->n; i++) {
                struct stitch_conversation *c = t->items[i];
                if (CRYPTO_memcmp(c->id, id, STITCH_CONVERSATION_ID_LEN) != 0)
                        continue;
                if (c->uid == uid && c->owner == owner) { /* another caller's id stays, unusable to this one */
                        remove_at(t, i);
                        *ret = c;
                        r = 0;
                }
                break;
        }
        pthread_mutex_unlock(&t->lock);
        return r;
}

size_t stitch_conversations_drop_owner(struct stitch_conversations *t, uint64_t owner) {
        size_t n = 0;

        if (owner == 0)
                return 0;
        pthread_mutex_lock(&t->lock);
        for (size_t i = 0; i < t->n;)
                if (t->items[i]->owner == owner) {
                        evict(t, i);
                        n++;
                } else
                        i++;
        pthread_mutex_unlock(&t->lock);
        return n;
}

size_t stitch_conversations_count(struct stitch_conversations *t) {
        pthread_mutex_lock(&t->lock);
        size_t n = t->n;
        pthread_mutex_unlock(&t->lock);
        return n;
}

const struct stitch_provider *stitch_conversations_provider(struct stitch_conversations *t, const char *id) {
        const struct stitch_provider *p = NULL;

        if (!id || strlen(id) != STITCH_CONVERSATION_ID_LEN)
                return NULL;
        pthread_mutex_lock(&t->lock);
        for (size_t i = 0; i < t->n; i++)
                if (CRYPTO_memcmp(t->items[i]->id, id, STITCH_CONVERSATION_ID_LEN) == 0) {
                        p = t->items[i]->provider;
                        break;
                }
        pthread_mutex_unlock(&t->lock);
        return p;
}
