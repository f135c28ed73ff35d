/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target for JWK Set parsing and the Cache-Control helper
 * (stitchd/core/jwks.c). The input is parsed as a set for RS256 and for
 * ES256; whatever is accepted must hold usable keys of the right kind,
 * each findable by its kid. The input's first line is also read as a
 * Cache-Control header. */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/jwks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_set(const uint8_t *data, size_t size, enum stitch_jose_alg alg) {
        struct stitch_jwks *s = NULL;
        int r = stitch_jwks_parse((const char *) data, size, alg, &s);
        if (r < 0) {
                if (s || (r != -EBADMSG && r != -E2BIG && r != -ENOKEY && r != -ENOMEM))
                        abort();
                return;
        }
        size_t n = stitch_jwks_size(s);
        if (n == 0 || n > STITCH_JWKS_MAX_KEYS || stitch_jwks_alg(s) != alg || stitch_jwks_kid(s, n))
                abort();
        for (size_t i = 0; i < n; i++) {
                const char *kid = stitch_jwks_kid(s, i);
                EVP_PKEY *k = stitch_jwks_find(s, kid);
                if (!kid || !kid[0] || strlen(kid) > STITCH_JWKS_KID_MAX || !k ||
                    stitch_jose_public_key_check(k, alg) < 0)
                        abort();
                for (size_t j = 0; j < i; j++)
                        if (strcmp(stitch_jwks_kid(s, j), kid) == 0)
                                abort();
        }
        struct stitch_jwks *ref = stitch_jwks_ref(s);
        stitch_jwks_unref(s);
        stitch_jwks_unref(ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 2 * STITCH_JWKS_MAX_DOCUMENT)
                return 0;

        check_set(data, size, STITCH_JOSE_RS256);
        check_set(data, size, STITCH_JOSE_ES256);

        const uint8_t *nl = memchr(data, '\n', size);
        char *header = strndup((const char *) data, nl ? (size_t) (nl - data) : size);
        if (header) {
                uint64_t t = stitch_jwks_cache_lifetime(header);
                if (t != 0 && t != STITCH_JWKS_CACHE_DEFAULT && (t < STITCH_JWKS_CACHE_MIN || t > STITCH_JWKS_CACHE_MAX))
                        abort();
                free(header);
        }
        return 0;
}
