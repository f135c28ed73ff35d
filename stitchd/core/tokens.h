/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Access tokens: JWTs signed ES256 (default) or HS256, with a keyring that
 * holds the active signing key and the retired keys whose tokens may still be
 * live. Thread-safe: signing (workers) and verifying (event loop) may run
 * concurrently with a rotation. Depends on OpenSSL 3 and cJSON. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct stitch_keyring;

struct stitch_claims {
        char sub[STITCH_ID_LEN + 1];       /* user id */
        char sid[STITCH_ID_LEN + 1];       /* session id */
        char device_id[STITCH_ID_LEN + 1]; /* baas_device_id */
        char domain_id[STITCH_ID_LEN + 1]; /* baas_domain_id */
        char typ[16];                      /* "access" */
        int64_t iat, nbf, exp;             /* epoch seconds; nbf = iat when signing */
        char *user_data_json;              /* "user_data" object as JSON text, or NULL */
        char kid[64];                      /* header kid (filled by verify) */
        char alg[8];                       /* header alg (filled by verify) */
};
void stitch_claims_done(struct stitch_claims *c);

/* Generates a new signing key of the given algorithm ("ES256": P-256 key as PEM;
 * "HS256": 32 random bytes) with a fresh random kid. */
int stitch_signing_key_generate(const char *alg, int64_t now, struct stitch_signing_key **ret);

/* Builds a keyring from store rows (the active one has retired == 0).
 * Returns -EINVAL if a key cannot be loaded. */
int stitch_keyring_new(struct stitch_signing_key *const *keys, size_t n, struct stitch_keyring **ret);
/* Replaces the keyring's contents atomically (after a rotation). */
int stitch_keyring_reload(struct stitch_keyring *kr, struct stitch_signing_key *const *keys, size_t n);
/* Frees the calling thread's cached OpenSSL contexts (other threads' go when
 * they exit). */
void stitch_tokens_thread_done(void);
/* Moves on every reload: anything derived from a verification made before
 * (a cached Verify reply) is stale once it has moved. */
uint64_t stitch_keyring_generation(struct stitch_keyring *kr);
struct stitch_keyring *stitch_keyring_free(struct stitch_keyring *kr);
static inline void stitch_keyring_freep(struct stitch_keyring **p) { stitch_keyring_free(*p); }

/* The active key's kid and alg (copies). */
int stitch_keyring_active(struct stitch_keyring *kr, char *ret_kid, size_t kid_size, char *ret_alg,
                          size_t alg_size);

/* JWKS document {"keys":[...]} with the public parts of every ES256 key
 * (HS256 keys are secret and are never published). Malloc'd JSON text. */
int stitch_keyring_jwks(struct stitch_keyring *kr, char **ret_json);

/* The JSON text of the claims as stitch_jwt_sign signs them (malloc'd):
 * the members in the order sub, typ, iat, nbf, exp, sid, baas_device_id,
 * baas_domain_id, user_data, byte for byte what cJSON_PrintUnformatted
 * writes for them. -EINVAL for claims we would not sign. */
int stitch_jwt_claims_text(const struct stitch_claims *c, char **ret_text);

/* A string as JSON text, the quotes included, as cJSON_PrintUnformatted
 * writes it: '"', '\\' and \b \f \n \r \t escaped with a backslash, the
 * other control characters as \u00XX, every other byte as it is (the
 * caller checks UTF-8). Writes at most STITCH_JSON_STRING_MAX(n) bytes to
 * out, no NUL; with out NULL only measures. Returns the length. */
size_t stitch_json_string_render(const char *s, size_t n, char *out);
#define STITCH_JSON_STRING_MAX(n) (6 * (n) + 2)

/* Signs claims with the active key. Malloc'd compact JWS. */
int stitch_jwt_sign(struct stitch_keyring *kr, const struct stitch_claims *c, char **ret_token);

/* Verifies a compact JWS: structure, header (typ JWT if present, alg must
 * equal the alg of the key named by kid; "none" and unknown algs rejected),
 * signature (constant-time for HS256), claims types, nbf/iat <= now + leeway,
 * exp > now. Fills *ret (caller calls stitch_claims_done).
 * Errors: -EBADMSG malformed, -ENOKEY unknown kid, -EKEYREJECTED bad alg or
 * signature, -ETIME expired, -EAGAIN not yet valid. */
int stitch_jwt_verify(struct stitch_keyring *kr, const char *token, int64_t now, struct stitch_claims *ret);

#define STITCH_JWT_LEEWAY_SEC 30
#define STITCH_JWT_MAX_LEN 8192
