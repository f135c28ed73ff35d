/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/generation-cache.h"
#include "core/pages.h"
#include "fnv.h"

struct slot {
        void *key; /* NULL: empty */
        size_t len;
        struct stitch_generation generation;
        void *value;
};

/* The slots from stitch_pages_new(): only the pages of slots ever filled
 * are resident, and an emptied cache gives them back. */
struct stitch_cache {
        struct stitch_cache_type type;
        pthread_mutex_t lock;
        struct slot *slots;
};

int stitch_cache_new(const struct stitch_cache_type *type, struct stitch_cache **ret) {
        if (type->slots == 0 || !type->value_free || (type->shared && !type->value_copy))
                return -EINVAL;
        struct stitch_cache *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->slots = stitch_pages_new(type->slots * sizeof(struct slot));
        if (!c->slots) {
                free(c);
                return -ENOMEM;
        }
        c->type = *type;
        pthread_mutex_init(&c->lock, NULL);
        *ret = c;
        return 0;
}

static void lock(struct stitch_cache *c) {
        if (c->type.shared)
                pthread_mutex_lock(&c->lock);
}

static void unlock(struct stitch_cache *c) {
        if (c->type.shared)
                pthread_mutex_unlock(&c->lock);
}

static void slot_clear(struct stitch_cache *c, struct slot *s) {
        if (s->key) {
                if (c->type.bearer_keys)
                        explicit_bzero(s->key, s->len);
                free(s->key);
        }
        if (s->value)
                c->type.value_free(s->value);
        *s = (struct slot) {0};
}

void stitch_cache_clear(struct stitch_cache *c) {
        if (!c)
                return;
        lock(c);
        for (size_t i = 0; i < c->type.slots; i++)
                if (c->slots[i].key || c->slots[i].value)
                        slot_clear(c, &c->slots[i]);
        stitch_pages_zero(c->slots, c->type.slots * sizeof(struct slot));
        unlock(c);
}

struct stitch_cache *stitch_cache_free(struct stitch_cache *c) {
        if (!c)
                return NULL;
        stitch_cache_clear(c);
        pthread_mutex_destroy(&c->lock);
        stitch_pages_free(c->slots, c->type.slots * sizeof(struct slot));
        free(c);
        return NULL;
}

static struct slot *slot_of(struct stitch_cache *c, const void *key, size_t len) {
        /* Tokens differ in their last characters (signature or random part);
         * ids anywhere: the same fold serves both. */
        return &c->slots[stitch_token_slot_hash(key, len) % c->type.slots];
}

static bool key_equal(const struct stitch_cache *c, const struct slot *s, const void *key, size_t len) {
        if (!s->key || s->len != len)
                return false;
        return c->type.bearer_keys ? CRYPTO_memcmp(s->key, key, len) == 0 : memcmp(s->key, key, len) == 0;
}

/* The slot's value if it holds key at generation g; a stale entry is dropped. Locked. */
static void *find(struct stitch_cache *c, const void *key, size_t len, const struct stitch_generation *g) {
        struct slot *s = slot_of(c, key, len);
        if (!key_equal(c, s, key, len))
                return NULL;
        if (s->generation.users != g->users || s->generation.keys != g->keys) {
                slot_clear(c, s);
                return NULL;
        }
        return s->value;
}

void *stitch_cache_get(struct stitch_cache *c, const void *key, size_t len, const struct stitch_generation *g) {
        lock(c);
        void *v = find(c, key, len, g);
        void *copy = v ? c->type.value_copy(v) : NULL;
        unlock(c);
        return copy;
}

void *stitch_cache_peek(struct stitch_cache *c, const void *key, size_t len, const struct stitch_generation *g) {
        if (c->type.shared)
                return NULL; /* another thread could free it under us */
        return find(c, key, len, g);
}

void stitch_cache_put(struct stitch_cache *c, const void *key, size_t len, const struct stitch_generation *g,
                      void *value) {
        void *k = malloc(len > 0 ? len : 1);
        if (!k) {
                c->type.value_free(value);
                return;
        }
        memcpy(k, key, len);
        lock(c);
        struct slot *s = slot_of(c, key, len);
        slot_clear(c, s);
        *s = (struct slot) {.key = k, .len = len, .generation = *g, .value = value};
        unlock(c);
}

void stitch_cache_drop(struct stitch_cache *c, const void *key, size_t len) {
        lock(c);
        struct slot *s = slot_of(c, key, len);
        if (key_equal(c, s, key, len))
                slot_clear(c, s);
        unlock(c);
}
