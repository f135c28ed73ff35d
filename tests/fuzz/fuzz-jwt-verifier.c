/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target for the verifier of other issuers' tokens
 * (stitchd/core/jwt-verifier.c) and MetadataFields= (core/claim-path.c).
 *
 * The first input byte picks a mode ('0'..'4' in the seed corpus):
 *   0  the rest is a compact JWS, verified as is by an HS256, an RS256
 *      (key file mode) and an ES256 (JWKS mode) verifier;
 *   1  the rest is HEADER '\n' PAYLOAD (raw JSON bytes), which the harness
 *      encodes and MACs with the fixed HS256 secret, so the header checks
 *      and the claims checks (which only see authentic tokens) are reached;
 *   2  the same, signed ES256 with the fixed P-256 key, verified through
 *      the JWKS (the header needs "kid":"es");
 *   3  SPEC '\n' PAYLOAD: the payload signed HS256 under a fixed header;
 *      SPEC is parsed as MetadataFields= and applied to what verified;
 *   4  the same as 1, signed RS256 with the fixed RSA key.
 * Whatever verifies must satisfy the documented rules (checked here). */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "core/claim-path.h"
#include "core/jwt-verifier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW INT64_C(1700000000)
#define FUZZ_APP "fuzz-app"

static const char fuzz_es_pem[] =
        "-----BEGIN PRIVATE KEY-----\n"
        "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgBNTdGke7tqVteXEd\n"
        "5FSorxckB0tQW3rLbBLO6itg5MOhRANCAAQpSomxBGwdJY1gV5eJ6WG2VvPaSY9v\n"
        "CsiDol+GjpKoyHu062hG647xiUKiu9q4zYJr8iVCiu5rSumIpPnN+KR3\n"
        "-----END PRIVATE KEY-----\n";

static const char fuzz_rsa_pem[] =
        "-----BEGIN PRIVATE KEY-----\n"
        "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDHrqEQb0OsMbT5\n"
        "IkOshB4td58s9Vu7q5jf7PWgmNsr/f8/VPQke9gQXQ+16hj9VnyAWIYofXPG9jer\n"
        "OpCBadxfeaXl6G5vs7VTCAi1dPDOAw1/350t0HKK4hQSgcGbaLKgoneMiGmdu8wb\n"
        "lx5eyJQ7jnTLb7zDXd/cdXykUXbvsu93OwuHzmZ0qWIzE5Z2a6wDZWUCLIF8AQAN\n"
        "mcTC1B0VTBRYGUjtf7oj9IcuhI9CoQLkkX3Kn55Z5dDOhTCWRRE+Fd3RMjU1k2bP\n"
        "MInl+L+hIcAyt0dDboM0Lr8jfmNV4j0rjFxyPj0wXeBZ7w4ySXsLII4dAIPWaCc4\n"
        "VwRAJXkvAgMBAAECggEAAZw6Z0gGay6Rb4rjsdH07lfvHC00WqyVFIU0K+Hfrpij\n"
        "RM76Ews+oE8nz8c+AVj/swdDubLdSqb0pvhXbvu8D7cK6/I2Zcc0uKExdMknIfor\n"
        "UzMp8NMkAVO2ZrnOJmMvQZVd0m/NLjzz9er/jzMd4ucQsQ1LH+YzZnM6GJchlug+\n"
        "WVDoqAZxn+vu41CglbraZwoP5hTp5l8XPql+7hrbvcuSi+Zxky4X9OXMfuOMB2Wx\n"
        "mUeuBWMOZoRvjeIB6owvqzEqAsOwXoP23etEae9IY/YpezpKayDHkzfV5A56SO6S\n"
        "mtHJBTqysTl6efiFj2+ULfjWpk7qIZaSFyrp81DWiQKBgQDnvb4RzOAcOBTasVh9\n"
        "FELz08vaeDE/VTS/P1sfIksmHedd/fayW9dYcWAQc6Ki9+Y67PkExzqNuL0SCro0\n"
        "443m//Bfp8DENOyPmHnX9Wjn0o3CLnGMeQpjEt5BNNkBOLpXB9kEb89osO7pBS6B\n"
        "D1+hqMqj7MeHvSnasTYOkeh02QKBgQDclcK9sqXNFkkOiAVCYjBn1E83o4C3elwP\n"
        "hIA8tTlbZyKrd3IKRzjn4LcmOvuisRH5JTxK9sNhuqtA6U2foypYUZpf7BIxsM7c\n"
        "HTfdrdzyFnwK6AvGNo5pRiveIsgYC8ls2iBotsMm4a6Q6D/uRu7hHBcgnHPeEKsz\n"
        "OWHPi3b5RwKBgQDivNlNHUFhGtX8q2xC5SIk4uMfnF3C86EqRdjn+2u/nZ6UbjmD\n"
        "hSyL0lIFhr5n6VkP6nAy5qM5qrkDAA/0U3ixvVT4om+PCaEzViJQ1EKSH4anqT1c\n"
        "DcnF6d4fuo9gDJr1MC57ktJCQmte/rzjdaFB0J6ECNWoz8I1wRF86/Ge8QKBgQDV\n"
        "fkU7YNrEQlt3KwMcGviKpZv+V8tOyaishCuxlhzrcEjH+BVyCTj0hDP/VnsSHZst\n"
        "rnJKg8baodb6PlQYu81SKbjmOg/p9BxiQg0+CvabgFOSIsCymT8AeSAgIT3UuCO9\n"
        "rOhNMQZ0bV2NdpvZvOGbEpr3vzUNqshoDZOzUmJWJQKBgFxRk9+pUkQ6ybfzOu9W\n"
        "JPHF5lebOqTfdDhr2WKjDrkcyXVfkOn9n7d37DGIyxH9aFtHew3/Vf4i/OmpfIcI\n"
        "xadgccF4SLCLFxKja6quhhVtSNI8LElEQQ9Qc8C5jQHVSOYLN+2gkZczhp5NiiMV\n"
        "kck5MCydUFeoY2kJSZsTnEg7\n"
        "-----END PRIVATE KEY-----\n";

static const char fuzz_hs_secret[] = "stitch-fuzz-hs256-secret-0123456789abcdef";

static struct stitch_jwt_verifier *v_hs, *v_rs, *v_es;
static struct stitch_jwks *es_jwks;
static EVP_PKEY *es_key, *rsa_key;

static EVP_PKEY *private_key(const char *pem) {
        BIO *bio = BIO_new_mem_buf(pem, -1);
        EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        if (!k)
                abort();
        return k;
}

static char *public_pem(EVP_PKEY *k) {
        BIO *b = BIO_new(BIO_s_mem());
        char *data = NULL;
        if (!b || PEM_write_bio_PUBKEY(b, k) != 1)
                abort();
        long n = BIO_get_mem_data(b, &data);
        char *s = strndup(data, (size_t) n);
        BIO_free(b);
        if (!s)
                abort();
        return s;
}

static size_t b64url_to(const uint8_t *in, size_t n, char *out) {
        static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        size_t j = 0;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t) in[i] << 16;
                if (i + 1 < n)
                        v |= (uint32_t) in[i + 1] << 8;
                if (i + 2 < n)
                        v |= in[i + 2];
                out[j++] = a[(v >> 18) & 63];
                out[j++] = a[(v >> 12) & 63];
                if (i + 1 < n)
                        out[j++] = a[(v >> 6) & 63];
                if (i + 2 < n)
                        out[j++] = a[v & 63];
        }
        return j;
}

static void fuzz_setup(void) {
        es_key = private_key(fuzz_es_pem);
        rsa_key = private_key(fuzz_rsa_pem);

        if (stitch_jwt_verifier_new(STITCH_JOSE_HS256, &v_hs) < 0 ||
            stitch_jwt_verifier_add_key(v_hs, fuzz_hs_secret, strlen(fuzz_hs_secret)) < 0 ||
            stitch_jwt_verifier_set_audience(v_hs, NULL, false, FUZZ_APP) < 0)
                abort();

        char *pem = public_pem(rsa_key);
        char *aud[] = { (char *) "a1", (char *) "a2", NULL };
        if (stitch_jwt_verifier_new(STITCH_JOSE_RS256, &v_rs) < 0 ||
            stitch_jwt_verifier_add_key(v_rs, pem, strlen(pem)) < 0 ||
            stitch_jwt_verifier_set_audience(v_rs, aud, true, NULL) < 0 ||
            stitch_jwt_verifier_set_issuers(v_rs, stitch_google_issuers) < 0)
                abort();
        free(pem);

        /* The ES256 key as a JWK Set, through the parser under test. */
        BIGNUM *x = NULL, *y = NULL;
        uint8_t xy[64];
        char xs[48], ys[48], doc[512];
        if (EVP_PKEY_get_bn_param(es_key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
            EVP_PKEY_get_bn_param(es_key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 || BN_bn2binpad(x, xy, 32) != 32 ||
            BN_bn2binpad(y, xy + 32, 32) != 32)
                abort();
        BN_free(x);
        BN_free(y);
        xs[b64url_to(xy, 32, xs)] = 0;
        ys[b64url_to(xy + 32, 32, ys)] = 0;
        int n = snprintf(doc, sizeof(doc),
                         "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"es\"}]}", xs,
                         ys);
        if (stitch_jwks_parse(doc, (size_t) n, STITCH_JOSE_ES256, &es_jwks) < 0)
                abort();
        if (stitch_jwt_verifier_new(STITCH_JOSE_ES256, &v_es) < 0 || stitch_jwt_verifier_use_jwks(v_es) < 0 ||
            stitch_jwt_verifier_set_audience(v_es, NULL, false, FUZZ_APP) < 0 ||
            stitch_jwt_verifier_set_leeway(v_es, 0) < 0)
                abort();
}

static bool aud_has(const cJSON *aud, const char *s) {
        const cJSON *a;
        if (cJSON_IsString(aud))
                return strcmp(aud->valuestring, s) == 0;
        if (!cJSON_IsArray(aud))
                abort();
        cJSON_ArrayForEach(a, aud)
                if (cJSON_IsString(a) && strcmp(a->valuestring, s) == 0)
                        return true;
        return false;
}

/* Verifies and checks what was accepted against the rules. */
static int verify_and_check(const struct stitch_jwt_verifier *v, const char *t, size_t n,
                            struct stitch_jwt_verified *ret) {
        struct stitch_jwt_verified out = {};
        int64_t leeway = v == v_es ? 0 : STITCH_JWT_VERIFIER_LEEWAY_DEFAULT;
        int r = stitch_jwt_verifier_verify(v, v == v_es ? es_jwks : NULL, t, n, FUZZ_NOW, &out);
        if (r < 0) {
                if (out.claims || out.subject)
                        abort(); /* untouched on failure */
                return r;
        }
        if (!cJSON_IsObject(out.claims) || !out.subject || !out.subject[0] || strlen(out.subject) > STITCH_JWT_SUBJECT_MAX ||
            out.exp + leeway <= FUZZ_NOW || out.nbf - leeway > FUZZ_NOW || out.iat - leeway > FUZZ_NOW ||
            memchr(t, 0, n))
                abort();
        const cJSON *aud = cJSON_GetObjectItemCaseSensitive(out.claims, "aud");
        if (v == v_rs) {
                if (!aud_has(aud, "a1") && !aud_has(aud, "a2"))
                        abort();
                const cJSON *iss = cJSON_GetObjectItemCaseSensitive(out.claims, "iss");
                if (!cJSON_IsString(iss) || (strcmp(iss->valuestring, "accounts.google.com") != 0 &&
                                             strcmp(iss->valuestring, "https://accounts.google.com") != 0))
                        abort();
        } else if (!aud_has(aud, FUZZ_APP))
                abort();
        if (v == v_es && strcmp(out.key_id, "es") != 0)
                abort();
        if (ret)
                *ret = out;
        else
                stitch_jwt_verified_done(&out);
        return 0;
}

/* HEADER '\n' PAYLOAD, signed; returns the malloc'd token. */
static char *sign(const uint8_t *data, size_t size, const char *alg, const char *fixed_header, size_t *ret_len) {
        const uint8_t *nl = memchr(data, '\n', size);
        const uint8_t *h = data, *p = nl ? nl + 1 : (const uint8_t *) "{}";
        size_t hl = nl ? (size_t) (nl - data) : size, pl = nl ? size - hl - 1 : 2;
        if (fixed_header) {
                h = (const uint8_t *) fixed_header;
                hl = strlen(fixed_header);
        }
        size_t cap = (hl + 2) / 3 * 4 + (pl + 2) / 3 * 4 + 2 + 400;
        char *t = malloc(cap + 1);
        uint8_t sig[300];
        size_t sig_len = 0;

        if (!t)
                return NULL;
        size_t n = b64url_to(h, hl, t);
        t[n++] = '.';
        n += b64url_to(p, pl, t + n);

        if (strcmp(alg, "HS256") == 0) {
                unsigned len = 0;
                if (!HMAC(EVP_sha256(), fuzz_hs_secret, (int) strlen(fuzz_hs_secret), (const uint8_t *) t, n, sig, &len))
                        abort();
                sig_len = len;
        } else {
                uint8_t der[300];
                size_t der_len = sizeof(der);
                EVP_PKEY *k = strcmp(alg, "RS256") == 0 ? rsa_key : es_key;
                EVP_MD_CTX *m = EVP_MD_CTX_new();
                if (!m || EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, k, NULL) != 1 ||
                    EVP_DigestSign(m, der, &der_len, (const uint8_t *) t, n) != 1)
                        abort();
                EVP_MD_CTX_free(m);
                if (k == rsa_key) {
                        memcpy(sig, der, der_len);
                        sig_len = der_len;
                } else {
                        const uint8_t *q = der;
                        ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &q, (long) der_len);
                        if (!s || BN_bn2binpad(ECDSA_SIG_get0_r(s), sig, 32) != 32 ||
                            BN_bn2binpad(ECDSA_SIG_get0_s(s), sig + 32, 32) != 32)
                                abort();
                        ECDSA_SIG_free(s);
                        sig_len = 64;
                }
        }
        t[n++] = '.';
        n += b64url_to(sig, sig_len, t + n);
        t[n] = 0;
        *ret_len = n;
        return t;
}

static void fuzz_metadata(const uint8_t *data, size_t size) {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t sl = nl ? (size_t) (nl - data) : size;
        char *spec = strndup((const char *) data, sl);
        struct stitch_metadata_fields *f = NULL;
        char error[256];

        if (!spec)
                return;
        int r = stitch_metadata_fields_parse(spec, &f, error, sizeof(error));
        free(spec);
        if (r < 0) {
                if (f || !error[0])
                        abort();
                return;
        }
        if (f->n > STITCH_METADATA_FIELDS_MAX)
                abort();

        size_t len = 0;
        char *t = sign(nl ? nl + 1 : data + size, nl ? size - sl - 1 : 0, "HS256", "{\"alg\":\"HS256\"}", &len);
        struct stitch_jwt_verified out = {};
        if (t && verify_and_check(v_hs, t, len, &out) == 0) {
                cJSON *md = NULL;
                r = stitch_metadata_fields_apply(f, out.claims, &md, error, sizeof(error));
                if (r == 0) {
                        if (!cJSON_IsObject(md))
                                abort();
                        for (size_t i = 0; i < f->n; i++)
                                if (f->fields[i].required && !cJSON_GetObjectItemCaseSensitive(md, f->fields[i].name))
                                        abort();
                        cJSON_Delete(md);
                } else if (md || !error[0])
                        abort();
                stitch_jwt_verified_done(&out);
        }
        free(t);
        stitch_metadata_fields_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!v_hs)
                fuzz_setup();
        if (size < 1 || size > 2 * STITCH_JWT_VERIFIER_MAX_TOKEN)
                return 0;

        const uint8_t *d = data + 1;
        size_t n = size - 1, len = 0;
        char *t = NULL;
        switch (data[0] % 5) {
        case 0:
                (void) verify_and_check(v_hs, (const char *) d, n, NULL);
                (void) verify_and_check(v_rs, (const char *) d, n, NULL);
                (void) verify_and_check(v_es, (const char *) d, n, NULL);
                break;
        case 1:
                t = sign(d, n, "HS256", NULL, &len);
                if (t)
                        (void) verify_and_check(v_hs, t, len, NULL);
                break;
        case 2:
                t = sign(d, n, "ES256", NULL, &len);
                if (t)
                        (void) verify_and_check(v_es, t, len, NULL);
                break;
        case 3:
                fuzz_metadata(d, n);
                break;
        case 4:
                t = sign(d, n, "RS256", NULL, &len);
                if (t)
                        (void) verify_and_check(v_rs, t, len, NULL);
                break;
        }
        free(t);
        return 0;
}
