/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Keys are built with OpenSSL 3's provider APIs (OSSL_PARAM_BLD and
 * EVP_PKEY_fromdata), never the deprecated RSA_* and EC_KEY_* calls. An EC
 * point is checked to lie on the curve (EVP_PKEY_public_check) before the
 * key is kept. */

#include <ctype.h>
#include <strings.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "base64url.h"
#include "core/jwks.h"
#include "macro.h"
#include "wire.h"

/* Decoded sizes of the key members we accept. */
#define RSA_N_MAX_BYTES (STITCH_JOSE_RSA_MAX_BITS / 8 + 1) /* one leading zero tolerated */
#define RSA_E_MAX_BYTES 8
#define EC_COORDINATE_BYTES 32

struct jwks_key {
        char kid[STITCH_JWKS_KID_MAX + 1];
        EVP_PKEY *pkey;
};

struct stitch_jwks {
        atomic_uint refs;
        enum stitch_jose_alg alg;
        size_t n_keys;
        struct jwks_key keys[STITCH_JWKS_MAX_KEYS];
};

static struct stitch_jwks *jwks_free(struct stitch_jwks *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_keys; i++)
                EVP_PKEY_free(s->keys[i].pkey);
        free(s);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct stitch_jwks *, jwks_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY_CTX *, EVP_PKEY_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM_BLD *, OSSL_PARAM_BLD_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM *, OSSL_PARAM_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free);

struct stitch_jwks *stitch_jwks_ref(struct stitch_jwks *s) {
        if (s)
                atomic_fetch_add(&s->refs, 1);
        return s;
}

struct stitch_jwks *stitch_jwks_unref(struct stitch_jwks *s) {
        if (s && atomic_fetch_sub(&s->refs, 1) == 1)
                jwks_free(s);
        return NULL;
}

enum stitch_jose_alg stitch_jwks_alg(const struct stitch_jwks *s) {
        return s->alg;
}

size_t stitch_jwks_size(const struct stitch_jwks *s) {
        return s ? s->n_keys : 0;
}

EVP_PKEY *stitch_jwks_find(const struct stitch_jwks *s, const char *kid) {
        if (!s || !kid)
                return NULL;
        for (size_t i = 0; i < s->n_keys; i++)
                if (streq(s->keys[i].kid, kid))
                        return s->keys[i].pkey;
        return NULL;
}

const char *stitch_jwks_kid(const struct stitch_jwks *s, size_t i) {
        return s && i < s->n_keys ? s->keys[i].kid : NULL;
}

/* A string member decoded from base64url into buf; its length, or -1. */
static ssize_t member_b64(const cJSON *jwk, const char *name, uint8_t *buf, size_t size) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(jwk, name);
        if (!cJSON_IsString(m))
                return -1;
        size_t len = strlen(m->valuestring);
        if (len == 0 || stitch_base64url_decoded_len(len) > size)
                return -1;
        ssize_t n = stitch_base64url_decode(m->valuestring, len, buf, size);
        return n > 0 ? n : -1;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld) {
        _cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
        EVP_PKEY *pkey = NULL;

        if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
                return NULL;
        return pkey;
}

static EVP_PKEY *rsa_from_jwk(const cJSON *jwk) {
        uint8_t n[RSA_N_MAX_BYTES + 2], e[RSA_E_MAX_BYTES + 2];
        ssize_t n_len = member_b64(jwk, "n", n, sizeof(n)), e_len = member_b64(jwk, "e", e, sizeof(e));

        if (n_len < 0 || e_len < 0 || (size_t) n_len > RSA_N_MAX_BYTES || (size_t) e_len > RSA_E_MAX_BYTES)
                return NULL;
        /* e odd and at least 3; 1 would make every signature its own message. */
        if (!(e[e_len - 1] & 1) || (e_len == 1 && e[0] < 3))
                return NULL;

        _cleanup_(BN_freep) BIGNUM *bn_n = BN_bin2bn(n, (int) n_len, NULL);
        _cleanup_(BN_freep) BIGNUM *bn_e = BN_bin2bn(e, (int) e_len, NULL);
        _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (!bn_n || !bn_e || !bld || BN_is_zero(bn_e) || BN_cmp(bn_e, bn_n) >= 0 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1)
                return NULL;
        return pkey_from_params("RSA", bld);
}

static EVP_PKEY *ec_from_jwk(const cJSON *jwk) {
        uint8_t point[1 + 2 * EC_COORDINATE_BYTES], x[EC_COORDINATE_BYTES + 2], y[EC_COORDINATE_BYTES + 2];
        const cJSON *crv = cJSON_GetObjectItemCaseSensitive(jwk, "crv");

        if (!cJSON_IsString(crv) || !streq(crv->valuestring, "P-256"))
                return NULL;
        /* RFC 7518 §6.2.1.2: coordinates are always the full field size. */
        if (member_b64(jwk, "x", x, sizeof(x)) != EC_COORDINATE_BYTES ||
            member_b64(jwk, "y", y, sizeof(y)) != EC_COORDINATE_BYTES)
                return NULL;
        point[0] = 0x04; /* uncompressed */
        memcpy(point + 1, x, EC_COORDINATE_BYTES);
        memcpy(point + 1 + EC_COORDINATE_BYTES, y, EC_COORDINATE_BYTES);

        _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) != 1)
                return NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = pkey_from_params("EC", bld);
        if (!pkey)
                return NULL;
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        if (!ctx || EVP_PKEY_public_check(ctx) != 1)
                return NULL;
        return TAKE_PTR(pkey);
}

/* Whether an entry is meant for verifying alg signatures; the kid if so. */
static const char *entry_usable(const cJSON *jwk, enum stitch_jose_alg alg) {
        const cJSON *kty = cJSON_GetObjectItemCaseSensitive(jwk, "kty");
        const cJSON *use = cJSON_GetObjectItemCaseSensitive(jwk, "use");
        const cJSON *jalg = cJSON_GetObjectItemCaseSensitive(jwk, "alg");
        const cJSON *ops = cJSON_GetObjectItemCaseSensitive(jwk, "key_ops");
        const cJSON *kid = cJSON_GetObjectItemCaseSensitive(jwk, "kid");

        if (!cJSON_IsString(kty) || !streq(kty->valuestring, alg == STITCH_JOSE_RS256 ? "RSA" : "EC"))
                return NULL;
        if (use && (!cJSON_IsString(use) || !streq(use->valuestring, "sig")))
                return NULL;
        if (jalg && (!cJSON_IsString(jalg) || !streq(jalg->valuestring, stitch_jose_alg_to_string(alg))))
                return NULL;
        if (ops) {
                bool verify = false;
                const cJSON *op;
                if (!cJSON_IsArray(ops))
                        return NULL;
                cJSON_ArrayForEach(op, ops)
                        if (cJSON_IsString(op) && streq(op->valuestring, "verify"))
                                verify = true;
                if (!verify)
                        return NULL;
        }
        if (!cJSON_IsString(kid) || !stitch_jose_kid_valid(kid->valuestring))
                return NULL;
        return kid->valuestring;
}

int stitch_jwks_parse(const char *text, size_t len, enum stitch_jose_alg alg, struct stitch_jwks **ret) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        _cleanup_(jwks_freep) struct stitch_jwks *s = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        const cJSON *keys, *jwk;
        int r;

        if (!text || !ret)
                return -EINVAL;
        if (alg != STITCH_JOSE_RS256 && alg != STITCH_JOSE_ES256)
                return -EINVAL;
        if (len > STITCH_JWKS_MAX_DOCUMENT)
                return -E2BIG;

        buf = malloc(len + 1);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, text, len);
        r = stitch_jose_json_object_parse(buf, len, &doc);
        if (r < 0)
                return r;

        keys = cJSON_GetObjectItemCaseSensitive(doc, "keys");
        if (!cJSON_IsArray(keys))
                return -EBADMSG;
        if ((size_t) cJSON_GetArraySize(keys) > STITCH_JWKS_MAX_ENTRIES)
                return -E2BIG;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->alg = alg;
        atomic_init(&s->refs, 1);

        cJSON_ArrayForEach(jwk, keys) {
                if (!cJSON_IsObject(jwk))
                        continue;
                const char *kid = entry_usable(jwk, alg);
                if (!kid)
                        continue;
                EVP_PKEY *pkey = alg == STITCH_JOSE_RS256 ? rsa_from_jwk(jwk) : ec_from_jwk(jwk);
                if (!pkey || stitch_jose_public_key_check(pkey, alg) < 0) {
                        EVP_PKEY_free(pkey);
                        continue;
                }
                /* Two keys under one name: which one a token means is not
                 * knowable, so the set is refused rather than guessed at. */
                if (stitch_jwks_find(s, kid)) {
                        EVP_PKEY_free(pkey);
                        ERR_clear_error();
                        return -EBADMSG;
                }
                if (s->n_keys == STITCH_JWKS_MAX_KEYS) {
                        EVP_PKEY_free(pkey);
                        break;
                }
                memcpy(s->keys[s->n_keys].kid, kid, strlen(kid) + 1);
                s->keys[s->n_keys++].pkey = pkey;
        }
        ERR_clear_error();

        if (s->n_keys == 0)
                return -ENOKEY;
        *ret = TAKE_PTR(s);
        return 0;
}

/* ---- Cache-Control ---------------------------------------------------------- */

static bool token_eq(const char *s, size_t n, const char *word) {
        return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

uint64_t stitch_jwks_cache_lifetime(const char *cc) {
        uint64_t best = UINT64_MAX;
        bool no_cache = false;

        if (!cc)
                return STITCH_JWKS_CACHE_DEFAULT;

        /* directive *( "," directive ), directive = token [ "=" ( token / quoted-string ) ] */
        const char *p = cc;
        while (*p) {
                while (*p == ' ' || *p == '\t' || *p == ',')
                        p++;
                if (!*p)
                        break;
                const char *name = p;
                while (*p && *p != '=' && *p != ',' && *p != ' ' && *p != '\t')
                        p++;
                size_t name_len = (size_t) (p - name);
                while (*p == ' ' || *p == '\t')
                        p++;

                const char *value = NULL;
                size_t value_len = 0;
                if (*p == '=') {
                        p++;
                        while (*p == ' ' || *p == '\t')
                                p++;
                        if (*p == '"') {
                                value = ++p;
                                while (*p && *p != '"')
                                        p++;
                                value_len = (size_t) (p - value);
                                if (*p == '"')
                                        p++;
                        } else {
                                value = p;
                                while (*p && *p != ',' && *p != ' ' && *p != '\t')
                                        p++;
                                value_len = (size_t) (p - value);
                        }
                }
                /* Skip to the next directive. */
                while (*p && *p != ',')
                        p++;

                if (token_eq(name, name_len, "no-store") || token_eq(name, name_len, "no-cache"))
                        no_cache = true;
                else if (token_eq(name, name_len, "max-age") && value && value_len > 0) {
                        uint64_t v = 0;
                        bool ok = true;
                        for (size_t i = 0; i < value_len; i++) {
                                if (!isdigit((unsigned char) value[i])) {
                                        ok = false;
                                        break;
                                }
                                /* Saturate: anything past the maximum is the maximum. */
                                v = v > STITCH_JWKS_CACHE_MAX ? v : v * 10 + (uint64_t) (value[i] - '0');
                        }
                        if (ok)
                                best = MIN(best, v);
                }
        }

        if (no_cache)
                return 0;
        if (best == UINT64_MAX)
                return STITCH_JWKS_CACHE_DEFAULT;
        return MAX(MIN(best, (uint64_t) STITCH_JWKS_CACHE_MAX), (uint64_t) STITCH_JWKS_CACHE_MIN);
}
