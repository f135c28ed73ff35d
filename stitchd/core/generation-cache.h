/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A small direct-mapped cache whose entries are good while the generations
 * they were stored at are current: the users' generation (any change to a
 * stored user moves it, core/core.h) and the keyring's (any key reload).
 * One helper for every cache of derived answers (checked tokens, Verify
 * replies, users, HTTP profiles), so the rules live once: a collision only
 * costs a miss, a stale entry is dropped when met, keys that are bearer
 * tokens are compared in constant time and wiped, values are freed (and
 * wiped) by the owner's value_free. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stitch_generation {
        uint64_t users, keys;
};

struct stitch_cache_type {
        size_t slots;
        /* Keys are bearer tokens: compared in constant time, wiped when dropped. */
        bool bearer_keys;
        /* Used from several threads: every operation takes the cache's lock,
         * and only stitch_cache_get (a copy) may read values. */
        bool shared;
        void (*value_free)(void *value);
        /* A copy the caller owns, for stitch_cache_get; NULL when out of memory. */
        void *(*value_copy)(const void *value);
};

struct stitch_cache;

int stitch_cache_new(const struct stitch_cache_type *type, struct stitch_cache **ret);
/* Drops (and wipes) every entry. */
struct stitch_cache *stitch_cache_free(struct stitch_cache *c);
/* The same, keeping the cache; the slots' memory goes back to the system
 * (only slots filled since take memory again). */
void stitch_cache_clear(struct stitch_cache *c);

/* A copy of the value stored under key at generation g, or NULL: not there,
 * stale (then dropped), or out of memory. */
void *stitch_cache_get(struct stitch_cache *c, const void *key, size_t len, const struct stitch_generation *g);
/* The same without a copy, for caches used by one thread only (not shared):
 * the stored value itself, valid until the next put, drop or clear. */
void *stitch_cache_peek(struct stitch_cache *c, const void *key, size_t len, const struct stitch_generation *g);
/* Stores value (taken over; freed at once if it cannot be kept), replacing
 * whatever held its slot. */
void stitch_cache_put(struct stitch_cache *c, const void *key, size_t len, const struct stitch_generation *g,
                      void *value);
/* Drops the entry for key, if it is there. */
void stitch_cache_drop(struct stitch_cache *c, const void *key, size_t len);
