/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* JOSE basics shared by our own access tokens (core/tokens.c) and the
 * tokens other issuers sign (core/jwt-verifier.c, core/jwks.c): strict JSON
 * for token parts and key sets, NumericDate, and the ES256 signature form.
 * One copy, so the two verifiers cannot disagree on what "strict" means. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <openssl/types.h>

/* The signature algorithms stitch verifies in tokens other issuers sign.
 * The configuration names one; a token's header must name the same. */
enum stitch_jose_alg {
        STITCH_JOSE_HS256, /* HMAC-SHA256, a shared secret */
        STITCH_JOSE_RS256, /* RSASSA-PKCS1-v1_5 with SHA-256 */
        STITCH_JOSE_ES256, /* ECDSA P-256 with SHA-256, r || s */
        _STITCH_JOSE_ALG_MAX,
};
/* Exact, case-sensitive names ("none", "hs256" are not algorithms). -EINVAL
 * for anything else. */
int stitch_jose_alg_from_string(const char *s);
const char *stitch_jose_alg_to_string(enum stitch_jose_alg a);

/* A "kid" we accept from other issuers: 1..STITCH_JOSE_KID_MAX printable
 * ASCII characters, no space. */
#define STITCH_JOSE_KID_MAX 128
bool stitch_jose_kid_valid(const char *s);

/* RSA public keys must have 2048 .. 8192 bits (the upper bound caps what
 * one verification may cost). */
#define STITCH_JOSE_RSA_MIN_BITS 2048
#define STITCH_JOSE_RSA_MAX_BITS 8192
/* Whether a public key may verify alg: an RSA key of the sizes above for
 * RS256, a P-256 key for ES256, nothing for HS256. -EKEYREJECTED if not. */
int stitch_jose_public_key_check(EVP_PKEY *pkey, enum stitch_jose_alg alg);

/* Nesting deeper than this is refused (cJSON's own limit is 1000). */
#define STITCH_JOSE_JSON_MAX_DEPTH 32
/* Times are integers a JSON double carries exactly: 0 .. 2^53 - 1. */
#define STITCH_JOSE_TIME_MAX INT64_C(9007199254740991)

/* Lexical checks cJSON does not do: no NUL bytes, no "\u0000" escapes
 * (cJSON would truncate the string there), no raw control characters in
 * strings. */
bool stitch_jose_json_text_is_clean(const uint8_t *s, size_t n);

/* No duplicate member names in any object of the tree (cJSON keeps them
 * and would answer lookups with the first), and at most
 * STITCH_JOSE_JSON_MAX_DEPTH levels below depth. */
bool stitch_jose_json_tree_is_sane(const cJSON *item, unsigned depth);

/* A NumericDate: a JSON number that is an integer in 0 .. STITCH_JOSE_TIME_MAX. */
bool stitch_jose_json_time(const cJSON *item, int64_t *ret);

/* Parses n bytes of JSON text that must be one object: clean (above), valid
 * UTF-8, nothing after the value, sane tree. buf must hold n + 1 bytes and
 * start with the text; a NUL is written at buf[n]. -EBADMSG otherwise. */
int stitch_jose_json_object_parse(uint8_t *buf, size_t n, cJSON **ret);

/* Decodes one base64url part of a compact JWS (canonical, unpadded) into
 * buf (size bytes, which must hold the decoded text and a NUL) and parses
 * it as above. -EBADMSG for anything else, or if it does not fit. */
int stitch_jose_decode_json_part(const char *part, size_t len, uint8_t *buf, size_t size, cJSON **ret);

/* ES256 signatures are r || s, 32 bytes each (RFC 7518 §3.4); OpenSSL
 * wants DER. Writes at most STITCH_JOSE_ES256_DER_MAX bytes. */
#define STITCH_JOSE_ES256_RAW_BYTES 64
#define STITCH_JOSE_ES256_DER_MAX 72
int stitch_jose_es256_raw_to_der(const uint8_t raw[static STITCH_JOSE_ES256_RAW_BYTES],
                                 uint8_t der[static STITCH_JOSE_ES256_DER_MAX], size_t *ret_len);
