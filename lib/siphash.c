/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* SipHash-2-4 from the paper's description: four 64-bit words of state,
 * initialised from the key and four constants; each 8-byte little-endian
 * message word is xored into v3, mixed by two SipRounds and xored into v0;
 * the last word carries the remaining bytes and the length (mod 256) in its
 * top byte; finalisation xors 0xff into v2 and runs four SipRounds. */

#include "siphash.h"

static inline uint64_t rotl64(uint64_t x, unsigned b) {
        return (x << b) | (x >> (64 - b));
}

static inline uint64_t load64_le(const uint8_t *p) {
        return (uint64_t) p[0] | (uint64_t) p[1] << 8 | (uint64_t) p[2] << 16 | (uint64_t) p[3] << 24 |
               (uint64_t) p[4] << 32 | (uint64_t) p[5] << 40 | (uint64_t) p[6] << 48 | (uint64_t) p[7] << 56;
}

struct sipstate {
        uint64_t v0, v1, v2, v3;
};

static inline void sipround(struct sipstate *s) {
        s->v0 += s->v1;
        s->v1 = rotl64(s->v1, 13);
        s->v1 ^= s->v0;
        s->v0 = rotl64(s->v0, 32);
        s->v2 += s->v3;
        s->v3 = rotl64(s->v3, 16);
        s->v3 ^= s->v2;
        s->v0 += s->v3;
        s->v3 = rotl64(s->v3, 21);
        s->v3 ^= s->v0;
        s->v2 += s->v1;
        s->v1 = rotl64(s->v1, 17);
        s->v1 ^= s->v2;
        s->v2 = rotl64(s->v2, 32);
}

static inline void compress(struct sipstate *s, uint64_t m) {
        s->v3 ^= m;
        sipround(s);
        sipround(s);
        s->v0 ^= m;
}

uint64_t stitch_siphash24(const void *data, size_t len, const uint8_t key[static STITCH_SIPHASH_KEY_SIZE]) {
        const uint8_t *p = data;
        uint64_t k0 = load64_le(key), k1 = load64_le(key + 8);
        struct sipstate s = {
                .v0 = k0 ^ UINT64_C(0x736f6d6570736575), /* "somepseu" */
                .v1 = k1 ^ UINT64_C(0x646f72616e646f6d), /* "dorandom" */
                .v2 = k0 ^ UINT64_C(0x6c7967656e657261), /* "lygenera" */
                .v3 = k1 ^ UINT64_C(0x7465646279746573), /* "tedbytes" */
        };
        size_t n = len;

        for (; n >= 8; n -= 8, p += 8)
                compress(&s, load64_le(p));

        uint64_t last = (uint64_t) (len & 0xff) << 56;
        for (size_t i = 0; i < n; i++)
                last |= (uint64_t) p[i] << (8 * i);
        compress(&s, last);

        s.v2 ^= 0xff;
        for (int i = 0; i < 4; i++)
                sipround(&s);
        return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
