/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* FNV-1a, for the slots of in-memory tables whose keys an attacker does
 * not choose (random ids, our own tokens); keys that come from outside
 * (account names) use SipHash with a per-start key (siphash.h). */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define STITCH_FNV32_BASIS UINT32_C(2166136261)
#define STITCH_FNV32_PRIME UINT32_C(16777619)
#define STITCH_FNV64_BASIS UINT64_C(14695981039346656037)
#define STITCH_FNV64_PRIME UINT64_C(1099511628211)

static inline uint32_t stitch_fnv1a32(uint32_t h, const void *data, size_t n) {
        const uint8_t *p = data;
        for (size_t i = 0; i < n; i++)
                h = (h ^ p[i]) * STITCH_FNV32_PRIME;
        return h;
}

static inline uint32_t stitch_fnv1a32_string(const char *s) {
        return stitch_fnv1a32(STITCH_FNV32_BASIS, s, s ? strlen(s) : 0);
}

static inline uint64_t stitch_fnv1a64(uint64_t h, const void *data, size_t n) {
        const uint8_t *p = data;
        for (size_t i = 0; i < n; i++)
                h = (h ^ p[i]) * STITCH_FNV64_PRIME;
        return h;
}

/* A slot for a bearer token: its length and its last 32 characters (the
 * signature's, or the random part's), folded to 32 bits. */
static inline uint32_t stitch_token_slot_hash(const char *token, size_t len) {
        uint64_t h = (STITCH_FNV64_BASIS ^ len) * STITCH_FNV64_PRIME;
        size_t from = len > 32 ? len - 32 : 0;
        h = stitch_fnv1a64(h, token + from, len - from);
        return (uint32_t) (h ^ (h >> 32));
}
