/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Verifying JWTs that other issuers sign: custom-token's tokens
 * ([Provider.custom-token]) and Google's id_tokens. Not our own access
 * tokens (core/tokens.c): those have their own, stricter verifier.
 *
 * The algorithm comes from the configuration, never from the token: the
 * header's "alg" must name the configured one exactly. A verifier holds up
 * to three keys (a token verifies if any of them verifies it, for
 * rotation) or says that keys come from a JWK Set, which the caller fetches
 * and passes in (then "kid" is required and picks the key). Rules:
 * docs/tokens-external.md. A verifier is immutable once set up, so any
 * number of threads may verify with it at once. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/jose.h"
#include "core/jwks.h"

#define STITCH_JWT_VERIFIER_MAX_TOKEN 16384  /* bytes of compact JWS */
#define STITCH_JWT_VERIFIER_MAX_KEYS 3       /* SigningKeyFile= paths */
#define STITCH_JWT_VERIFIER_LEEWAY_DEFAULT 60 /* seconds of clock skew allowed */
#define STITCH_JWT_VERIFIER_LEEWAY_MAX 300
#define STITCH_JWT_SUBJECT_MAX 255           /* bytes of "sub" */
#define STITCH_JWT_HS256_SECRET_MIN 32       /* bytes: RFC 7518 §3.2, and Stitch's minimum */
#define STITCH_JWT_HS256_SECRET_MAX 4096
#define STITCH_JWT_KEY_FILE_MAX 65536

/* Why a token was refused. Distinct negative errno values, so they pass
 * through -errno returns; compare against these names, and show
 * stitch_jwt_error_to_string(), which never includes token or key bytes.
 * Other negative values: -ENOMEM, -EINVAL (a verifier not set up). */
enum {
        STITCH_JWT_MALFORMED = -EBADMSG,                /* not a strict compact JWS of JSON objects */
        STITCH_JWT_TOO_LARGE = -EMSGSIZE,               /* over STITCH_JWT_VERIFIER_MAX_TOKEN */
        STITCH_JWT_ALGORITHM_NOT_ALLOWED = -EPROTONOSUPPORT, /* header alg is not the configured one */
        STITCH_JWT_KEY_ID_MISSING = -ENOMSG,            /* JWKS mode and no kid in the header */
        STITCH_JWT_UNKNOWN_KEY_ID = -ENOKEY,            /* kid not in the set: the caller may refetch it */
        STITCH_JWT_SIGNATURE_INVALID = -EKEYREJECTED,   /* no configured key verifies it */
        STITCH_JWT_CLAIM_INVALID = -ENODATA,            /* exp, sub or aud missing; a claim of the wrong type */
        STITCH_JWT_EXPIRED = -ETIME,                    /* exp + leeway <= now */
        STITCH_JWT_NOT_YET_VALID = -EAGAIN,             /* nbf - leeway > now */
        STITCH_JWT_ISSUED_IN_FUTURE = -ERANGE,          /* iat - leeway > now */
        STITCH_JWT_AUDIENCE_MISMATCH = -EACCES,         /* aud does not satisfy the audience rule */
        STITCH_JWT_ISSUER_MISMATCH = -EPERM,            /* iss not one of the allowed issuers */
};
const char *stitch_jwt_error_to_string(int r);

struct stitch_jwt_verifier;

int stitch_jwt_verifier_new(enum stitch_jose_alg alg, struct stitch_jwt_verifier **ret);
struct stitch_jwt_verifier *stitch_jwt_verifier_free(struct stitch_jwt_verifier *v);
static inline void stitch_jwt_verifier_freep(struct stitch_jwt_verifier **p) {
        stitch_jwt_verifier_free(*p);
}

/* Adds a key: for HS256 the secret, exactly these bytes (32..4096 of them,
 * and not PEM text: a public key used as an HMAC secret is the classic
 * algorithm-confusion forgery); for RS256/ES256 a PEM "PUBLIC KEY"
 * (SubjectPublicKeyInfo) of the right kind (RSA 2048..8192 bits, P-256).
 * -E2BIG past STITCH_JWT_VERIFIER_MAX_KEYS, -EKEYREJECTED for a key that
 * does not fit the algorithm, -EINVAL in JWKS mode. */
int stitch_jwt_verifier_add_key(struct stitch_jwt_verifier *v, const void *data, size_t len);

/* The same from a file. The file must be a regular file owned by root or
 * us and not writable by group or others (stitch_check_trusted); an HS256
 * secret file must not be readable by others either. An HS256 secret is
 * the file's bytes with one trailing "\n" (or "\r\n") removed, nothing
 * else: Stitch used the secret string as it is, and a file written by an
 * editor or echo ends in a newline that the issuer's copy does not have.
 * Errors as above, -errno from opening or reading, -EFBIG over
 * STITCH_JWT_KEY_FILE_MAX. */
int stitch_jwt_verifier_add_key_file(struct stitch_jwt_verifier *v, const char *path);

/* Keys come from a JWK Set passed to each verification (RS256/ES256
 * only; -EINVAL otherwise or if keys were added). */
int stitch_jwt_verifier_use_jwks(struct stitch_jwt_verifier *v);

/* The audience rule (Stitch's): with no audiences, app_id must be one of
 * the token's "aud" values; with audiences, every one of them must be
 * (require_any false) or at least one (require_any true). Copies. Until
 * this is called, every verification fails with -EINVAL. */
int stitch_jwt_verifier_set_audience(struct stitch_jwt_verifier *v, char *const *audiences, bool require_any,
                                     const char *app_id);

/* When set, "iss" must be one of these (copies; NULL or empty: not
 * checked). stitch_google_issuers is Google's pair. */
int stitch_jwt_verifier_set_issuers(struct stitch_jwt_verifier *v, const char *const *issuers);
extern const char *const stitch_google_issuers[];

/* Clock skew allowed on exp, nbf and iat, 0..STITCH_JWT_VERIFIER_LEEWAY_MAX
 * seconds (default STITCH_JWT_VERIFIER_LEEWAY_DEFAULT). */
int stitch_jwt_verifier_set_leeway(struct stitch_jwt_verifier *v, int64_t seconds);

struct stitch_jwt_verified {
        cJSON *claims;             /* the payload object (owned) */
        const char *subject;       /* "sub", inside claims: the identity id */
        char key_id[STITCH_JWKS_KID_MAX + 1]; /* header "kid", "" if none */
        int64_t exp, nbf, iat;     /* nbf, iat: 0 when absent */
};
void stitch_jwt_verified_done(struct stitch_jwt_verified *t);

/* Verifies token (len bytes; a NUL byte in them is malformed) at time now:
 * structure, header, signature, then claims (exp required; nbf, iat
 * optional; iss when configured; aud by the rule above; sub a string of
 * 1..STITCH_JWT_SUBJECT_MAX bytes without control characters). jwks is
 * the current set in JWKS mode (NULL gives STITCH_JWT_UNKNOWN_KEY_ID, so
 * a caller without a set fetches one), ignored otherwise. Fills *ret only
 * on success; the caller calls stitch_jwt_verified_done(). */
int stitch_jwt_verifier_verify(const struct stitch_jwt_verifier *v, const struct stitch_jwks *jwks,
                               const char *token, size_t len, int64_t now, struct stitch_jwt_verified *ret);
