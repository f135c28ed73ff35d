/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* JWK Sets (RFC 7517) of other issuers' public keys: custom-token's
 * JWKSURL= and Google's certificates. Parsing only; fetching, caching and
 * the refetch rate limit are the caller's (docs/tokens-external.md). A set
 * is immutable once parsed and reference-counted, so a verification on a
 * worker can keep using the set a refetch has just replaced. */

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "core/jose.h"

#define STITCH_JWKS_MAX_DOCUMENT 65536 /* bytes of JSON text */
#define STITCH_JWKS_MAX_ENTRIES 32     /* members of "keys", usable or not */
#define STITCH_JWKS_MAX_KEYS 16        /* usable keys kept */
#define STITCH_JWKS_KID_MAX STITCH_JOSE_KID_MAX /* bytes of a kid */

struct stitch_jwks;

/* Parses a JWK Set and keeps the keys that can verify alg (RS256: kty RSA;
 * ES256: kty EC, crv P-256): with a kid (1..STITCH_JWKS_KID_MAX printable
 * ASCII characters), "use" absent or "sig", "alg" absent or alg, "key_ops"
 * absent or containing "verify", and key material that builds a valid
 * public key (RSA 2048..8192 bits). Other entries are skipped, as RFC 7517
 * §5 asks. Errors: -EINVAL for HS256 (secrets are never fetched), -E2BIG
 * for a document or "keys" array over the limits, -EBADMSG for anything
 * that is not a JWK Set or has two usable keys with one kid, -ENOKEY when
 * no key is usable. */
int stitch_jwks_parse(const char *text, size_t len, enum stitch_jose_alg alg, struct stitch_jwks **ret);

struct stitch_jwks *stitch_jwks_ref(struct stitch_jwks *jwks);
struct stitch_jwks *stitch_jwks_unref(struct stitch_jwks *jwks);
static inline void stitch_jwks_unrefp(struct stitch_jwks **p) {
        stitch_jwks_unref(*p);
}

enum stitch_jose_alg stitch_jwks_alg(const struct stitch_jwks *jwks);
size_t stitch_jwks_size(const struct stitch_jwks *jwks);
/* The key with this kid (borrowed: valid while the set is), or NULL. */
EVP_PKEY *stitch_jwks_find(const struct stitch_jwks *jwks, const char *kid);
/* The i-th key's kid, in document order; NULL past the end. */
const char *stitch_jwks_kid(const struct stitch_jwks *jwks, size_t i);

/* How long a fetched set may be used, in seconds, from the response's
 * Cache-Control header (NULL when absent): max-age=N clamped to
 * [STITCH_JWKS_CACHE_MIN, STITCH_JWKS_CACHE_MAX] (the smallest if given
 * twice); no-store or no-cache give 0 (fetch again before the next use;
 * the caller's refetch rate limit still applies); no usable directive
 * gives STITCH_JWKS_CACHE_DEFAULT. */
#define STITCH_JWKS_CACHE_MIN 60
#define STITCH_JWKS_CACHE_MAX 86400
#define STITCH_JWKS_CACHE_DEFAULT 3600
uint64_t stitch_jwks_cache_lifetime(const char *cache_control);
