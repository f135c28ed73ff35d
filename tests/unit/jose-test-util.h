/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Tokens and keys for the tests of core/jwt-verifier.c and core/jwks.c,
 * made with OpenSSL directly and an own base64url, independent of the
 * code under test. Every helper aborts on failure. */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

char *tu_b64url(const void *data, size_t n);
EVP_PKEY *tu_rsa_new(unsigned bits);
EVP_PKEY *tu_ec_new(void);
/* PEM SubjectPublicKeyInfo text. */
char *tu_public_pem(EVP_PKEY *k);
/* "alg": "HS256" signs with secret, "RS256"/"ES256" with key; "none" adds
 * no signature. Header and payload are JSON text, used as they are. */
char *tu_token(const char *header, const char *payload, const char *alg, EVP_PKEY *key, const void *secret,
               size_t secret_len);
/* A JWK of key's public part as JSON members (without braces), e.g.
 * "kty":"RSA","n":"...","e":"AQAB". */
char *tu_jwk_members(EVP_PKEY *k);
/* A file in a fresh temporary directory with these bytes and mode. */
char *tu_write_file(const char *name, const void *data, size_t n, unsigned mode);
