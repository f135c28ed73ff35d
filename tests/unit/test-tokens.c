/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for stitchd/core/tokens.c: keys, keyring, JWKS, JWT sign and verify.
 * Tokens for the rejection tests are built here, independently of the code
 * under test (own base64url, own HMAC/ECDSA), so that each rejection is due
 * to the one property under test and not to a broken signature. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "macro.h"
#include "core/tokens.h"

#define NOW INT64_C(1700000000)
#define SUB "0123456789abcdef01234567"
#define SID "89abcdef0123456789abcdef"
#define DEV "000000000000000000000000"
#define DOM "5f1d00000000000000000000"

#define CLAIMS_FMT                                                                                  \
        "{\"sub\":\"" SUB "\",\"typ\":\"access\",\"iat\":%s,\"nbf\":%s,\"exp\":%s,\"sid\":\"" SID \
        "\",\"baas_device_id\":\"" DEV "\",\"baas_domain_id\":\"" DOM "\",\"user_data\":%s}"

static const char valid_claims[] =
        "{\"sub\":\"" SUB "\",\"typ\":\"access\",\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700001800,"
        "\"sid\":\"" SID "\",\"baas_device_id\":\"" DEV "\",\"baas_domain_id\":\"" DOM "\",\"user_data\":{}}";

static struct stitch_signing_key *key_new(const char *alg, int64_t created) {
        struct stitch_signing_key *k = NULL;
        assert_int_equal(stitch_signing_key_generate(alg, created, &k), 0);
        assert_non_null(k);
        return k;
}

/* Fixture keys: es and hs live in the main ring; es2 is never in it. */
static struct stitch_signing_key *es, *hs, *es2;
static EVP_PKEY *es_pkey, *es2_pkey;
static char hdr_es[256], hdr_hs[256];

/* ---- independent helpers ------------------------------------------------- */

static char *b64url(const void *data, size_t n) {
        char *out = malloc(4 * ((n + 2) / 3) + 1);
        assert_non_null(out);
        int len = EVP_EncodeBlock((unsigned char *) out, data, (int) n);
        assert_true(len >= 0);
        while (len > 0 && out[len - 1] == '=')
                len--;
        out[len] = 0;
        for (char *p = out; *p; p++)
                if (*p == '+')
                        *p = '-';
                else if (*p == '/')
                        *p = '_';
        return out;
}

static size_t unb64url(const char *s, size_t n, uint8_t *out, size_t out_size) {
        char tmp[12000];
        size_t j = 0;
        assert_true(n + 4 < sizeof(tmp));
        for (size_t i = 0; i < n; i++)
                tmp[j++] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
        size_t pad = (4 - n % 4) % 4;
        for (size_t i = 0; i < pad; i++)
                tmp[j++] = '=';
        uint8_t buf[12000];
        int len = EVP_DecodeBlock(buf, (unsigned char *) tmp, (int) j);
        assert_true(len >= 0);
        len -= (int) pad;
        assert_true((size_t) len <= out_size);
        memcpy(out, buf, (size_t) len);
        return (size_t) len;
}

static EVP_PKEY *pkey_from_pem(const struct stitch_signing_key *k) {
        BIO *bio = BIO_new_mem_buf(k->secret, (int) k->secret_len);
        assert_non_null(bio);
        EVP_PKEY *p = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        BIO_free(bio);
        assert_non_null(p);
        return p;
}

/* The P-256 group order n and floor(n/2), from OpenSSL rather than from the
 * constants in tokens.c. */
static BIGNUM *p256_order(void) {
        EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
        assert_non_null(g);
        BIGNUM *n = BN_dup(EC_GROUP_get0_order(g));
        assert_non_null(n);
        EC_GROUP_free(g);
        return n;
}

static bool es256_raw_s_is_high(const uint8_t raw[64]) {
        BIGNUM *n = p256_order(), *half = BN_new(), *s = BN_bin2bn(raw + 32, 32, NULL);
        assert_non_null(half);
        assert_non_null(s);
        assert_int_equal(BN_rshift1(half, n), 1);
        bool high = BN_cmp(s, half) > 0;
        BN_free(n);
        BN_free(half);
        BN_free(s);
        return high;
}

/* (r, s) -> (r, n - s): the other signature that verifies just as well. */
static void es256_raw_flip_s(uint8_t raw[64]) {
        BIGNUM *n = p256_order(), *s = BN_bin2bn(raw + 32, 32, NULL);
        assert_non_null(s);
        assert_int_equal(BN_sub(s, n, s), 1);
        assert_int_equal(BN_bn2binpad(s, raw + 32, 32), 32);
        BN_free(n);
        BN_free(s);
}

/* A plain OpenSSL ECDSA signature as raw r||s, s in the high half if
 * want_high, else in the low half (the only form stitch accepts). */
static void es256_raw_sign_form(EVP_PKEY *pkey, const char *input, size_t n, uint8_t raw[64], bool want_high) {
        uint8_t der[80];
        size_t der_len = sizeof(der);
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, pkey, NULL), 1);
        assert_int_equal(EVP_DigestSign(m, der, &der_len, (const uint8_t *) input, n), 1);
        EVP_MD_CTX_free(m);
        const uint8_t *p = der;
        ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long) der_len);
        assert_non_null(sig);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32), 32);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32), 32);
        ECDSA_SIG_free(sig);
        if (es256_raw_s_is_high(raw) != want_high)
                es256_raw_flip_s(raw);
}

static void es256_raw_sign(EVP_PKEY *pkey, const char *input, size_t n, uint8_t raw[64]) {
        es256_raw_sign_form(pkey, input, n, raw, false);
}

static bool es256_raw_verify(EVP_PKEY *pkey, const char *input, size_t n, const uint8_t raw[64]) {
        ECDSA_SIG *sig = ECDSA_SIG_new();
        assert_non_null(sig);
        assert_int_equal(ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL)), 1);
        uint8_t *der = NULL;
        int der_len = i2d_ECDSA_SIG(sig, &der);
        assert_true(der_len > 0);
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestVerifyInit_ex(m, NULL, "SHA256", NULL, NULL, pkey, NULL), 1);
        int r = EVP_DigestVerify(m, der, (size_t) der_len, (const uint8_t *) input, n);
        EVP_MD_CTX_free(m);
        OPENSSL_free(der);
        ECDSA_SIG_free(sig);
        return r == 1;
}

enum signer {
        SIGN_HS,   /* HMAC-SHA256 with (key, key_len) */
        SIGN_ES,   /* ECDSA P-256 with pkey */
        SIGN_NONE, /* raw signature bytes (key, key_len) */
};

/* Builds b64(h).b64(p).sig from raw header/payload bytes. */
static char *craft_n(const void *h, size_t hl, const void *p, size_t pl, enum signer s, const void *key,
                     size_t key_len, EVP_PKEY *pkey) {
        _cleanup_free_ char *hb = b64url(h, hl), *pb = b64url(p, pl), *sb = NULL;
        size_t input_len = strlen(hb) + 1 + strlen(pb);
        _cleanup_free_ char *input = malloc(input_len + 1);
        assert_non_null(input);
        snprintf(input, input_len + 1, "%s.%s", hb, pb);

        if (s == SIGN_HS) {
                uint8_t mac[32];
                unsigned mac_len = 0;
                assert_non_null(HMAC(EVP_sha256(), key, (int) key_len, (const uint8_t *) input, input_len, mac, &mac_len));
                assert_int_equal(mac_len, 32);
                sb = b64url(mac, 32);
        } else if (s == SIGN_ES) {
                uint8_t raw[64];
                es256_raw_sign(pkey, input, input_len, raw);
                sb = b64url(raw, 64);
        } else
                sb = b64url(key, key_len);

        size_t total = input_len + 1 + strlen(sb) + 1;
        char *t = malloc(total);
        assert_non_null(t);
        snprintf(t, total, "%s.%s", input, sb);
        return t;
}

static char *craft(const char *h, const char *p, enum signer s, const void *key, size_t key_len, EVP_PKEY *pkey) {
        return craft_n(h, strlen(h), p, strlen(p), s, key, key_len, pkey);
}

static char *craft_hs(const char *h, const char *p) {
        return craft(h, p, SIGN_HS, hs->secret, hs->secret_len, NULL);
}

static char *craft_es(const char *h, const char *p) {
        return craft(h, p, SIGN_ES, NULL, 0, es_pkey);
}

static struct stitch_keyring *ring_of(struct stitch_signing_key *a, struct stitch_signing_key *b) {
        struct stitch_signing_key *keys[2] = { a, b };
        struct stitch_keyring *kr = NULL;
        assert_int_equal(stitch_keyring_new(keys, b ? 2 : a ? 1 : 0, &kr), 0);
        assert_non_null(kr);
        return kr;
}

static void fill_claims(struct stitch_claims *c) {
        *c = (struct stitch_claims) {
                .sub = SUB, .sid = SID, .device_id = DEV, .domain_id = DOM, .typ = "access",
                .iat = NOW, .nbf = NOW, .exp = NOW + 1800,
        };
}

static int verify_str(struct stitch_keyring *kr, const char *token) {
        struct stitch_claims c = {};
        int r = stitch_jwt_verify(kr, token, NOW, &c);
        if (r >= 0)
                stitch_claims_done(&c);
        return r;
}

/* Crafted-with-HS256 (valid signature) header+claims; returns verify's result. */
static int verify_crafted_hs(struct stitch_keyring *kr, const char *h, const char *p) {
        _cleanup_free_ char *t = craft_hs(h, p);
        return verify_str(kr, t);
}

static int verify_claims_hs(struct stitch_keyring *kr, const char *p) {
        return verify_crafted_hs(kr, hdr_hs, p);
}

static int verify_claims_es(struct stitch_keyring *kr, const char *p) {
        _cleanup_free_ char *t = craft_es(hdr_es, p);
        return verify_str(kr, t);
}

/* ---- fixture ------------------------------------------------------------- */

static int group_setup(void **state) {
        es = key_new("ES256", NOW - 100);
        hs = key_new("HS256", NOW - 200);
        es2 = key_new("ES256", NOW - 300);
        hs->retired = NOW - 100;
        es_pkey = pkey_from_pem(es);
        es2_pkey = pkey_from_pem(es2);
        snprintf(hdr_es, sizeof(hdr_es), "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", es->kid);
        snprintf(hdr_hs, sizeof(hdr_hs), "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", hs->kid);
        return 0;
}

static int group_teardown(void **state) {
        EVP_PKEY_free(es_pkey);
        EVP_PKEY_free(es2_pkey);
        es = stitch_signing_key_free(es);
        hs = stitch_signing_key_free(hs);
        es2 = stitch_signing_key_free(es2);
        return 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_generate(void **state) {
        struct stitch_signing_key *k = NULL;

        k = key_new("ES256", 42);
        assert_string_equal(k->alg, "ES256");
        assert_int_equal(k->created, 42);
        assert_int_equal(k->retired, 0);
        assert_true(k->secret_len > 100);
        assert_memory_equal(k->secret, "-----BEGIN PRIVATE KEY-----", 27);
        assert_int_equal(strlen(k->kid), 22);
        assert_int_equal(strspn(k->kid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 22);
        struct stitch_signing_key *k2 = key_new("ES256", 42);
        assert_string_not_equal(k->kid, k2->kid);
        stitch_signing_key_free(k2);
        stitch_signing_key_free(k);

        k = key_new("HS256", 7);
        assert_string_equal(k->alg, "HS256");
        assert_int_equal(k->secret_len, 32);
        assert_int_equal(strlen(k->kid), 22);
        stitch_signing_key_free(k);

        k = NULL;
        assert_int_equal(stitch_signing_key_generate("none", 1, &k), -EINVAL);
        assert_int_equal(stitch_signing_key_generate("es256", 1, &k), -EINVAL);
        assert_int_equal(stitch_signing_key_generate("RS256", 1, &k), -EINVAL);
        assert_int_equal(stitch_signing_key_generate(NULL, 1, &k), -EINVAL);
        assert_null(k);
}

static void test_es256_round_trip(void **state) {
        _cleanup_(stitch_keyring_freep) struct stitch_keyring *kr = ring_of(es, hs);
        struct stitch_claims c, v = {};
        _cleanup_free_ char *t = NULL;

        fill_claims(&c);
        c.user_data_json = (char *) "{\"email\":\"ada@example.com\",\"n\":[1,2,{\"x\":null}]}";
        assert_int_equal(stitch_jwt_sign(kr, &c, &t), 0);

        assert_int_equal(stitch_jwt_verify(kr, t, NOW, &v), 0);
        assert_string_equal(v.sub, SUB);
        assert_string_equal(v.sid, SID);
        assert_string_equal(v.device_id, DEV);
        assert_string_equal(v.domain_id, DOM);
        assert_string_equal(v.typ, "access");
        assert_int_equal(v.iat, NOW);
        assert_int_equal(v.nbf, NOW);
        assert_int_equal(v.exp, NOW + 1800);
        assert_string_equal(v.kid, es->kid);
        assert_string_equal(v.alg, "ES256");
        assert_string_equal(v.user_data_json, c.user_data_json);
        stitch_claims_done(&v);
        assert_null(v.user_data_json);

        /* Known answer: the header is exactly Stitch's (alg, typ, kid in that order), the signature raw R||S. */
        const char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');
        uint8_t buf[8192];
        size_t n = unb64url(t, (size_t) (d1 - t), buf, sizeof(buf));
        char expect[256];
        snprintf(expect, sizeof(expect), "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", es->kid);
        assert_int_equal(n, strlen(expect));
        assert_memory_equal(buf, expect, n);
        assert_int_equal(strlen(d2 + 1), 86);
        assert_int_equal(unb64url(d2 + 1, strlen(d2 + 1), buf, sizeof(buf)), 64);
        assert_true(es256_raw_verify(es_pkey, t, (size_t) (d2 - t), buf));

        /* Payload carries the Stitch claim names. */
        n = unb64url(d1 + 1, (size_t) (d2 - d1 - 1), buf, sizeof(buf));
        buf[n] = 0;
        cJSON *j = cJSON_Parse((char *) buf);
        assert_non_null(j);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "baas_device_id")->valuestring, DEV);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "baas_domain_id")->valuestring, DOM);
        assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "user_data")));
        assert_int_equal((int64_t) cJSON_GetObjectItemCaseSensitive(j, "exp")->valuedouble, NOW + 1800);
        cJSON_Delete(j);

        /* Verifying the same token again (cache hit) gives the same answer. */
        assert_int_equal(verify_str(kr, t), 0);
        assert_int_equal(verify_str(kr, t), 0);

        /* Independently crafted ES256 tokens verify too. */
        assert_int_equal(verify_claims_es(kr, valid_claims), 0);
}

static void test_hs256_round_trip(void **state) {
        hs->retired = 0;
        _cleanup_(stitch_keyring_freep) struct stitch_keyring *kr = ring_of(hs, NULL);
        hs->retired = NOW - 100;
        struct stitch_claims c, v = {};
        _cleanup_free_ char *t = NULL, *expect_sig = NULL;

        fill_claims(&c);
        c.nbf = 0; /* signer uses iat */
        c.domain_id[0] = 0;
        c.typ[0] = 0; /* signer uses "access" */
        assert_int_equal(stitch_jwt_sign(kr, &c, &t), 0);

        /* Known answer: the MAC equals an independently computed HMAC-SHA256. */
        const char *d2 = strrchr(t, '.');
        uint8_t mac[32];
        unsigned mac_len = 0;
        assert_non_null(HMAC(EVP_sha256(), hs->secret, (int) hs->secret_len, (const uint8_t *) t, (size_t) (d2 - t),
                             mac, &mac_len));
        expect_sig = b64url(mac, mac_len);
        assert_string_equal(d2 + 1, expect_sig);
        assert_int_equal(strlen(d2 + 1), 43);

        assert_int_equal(stitch_jwt_verify(kr, t, NOW, &v), 0);
        assert_string_equal(v.alg, "HS256");
        assert_string_equal(v.kid, hs->kid);
        assert_int_equal(v.nbf, NOW);
        assert_string_equal(v.typ, "access");
        assert_string_equal(v.domain_id, "");
        assert_string_equal(v.user_data_json, "{}");
        stitch_claims_done(&v);

        assert_int_equal(verify_claims_hs(kr, valid_claims), 0);
}

static void test_sign_rejects(void **state) {
        _cleanup_(stitch_keyring_freep) struct stitch_keyring *kr = ring_of(es, NULL);
        struct stitch_claims c;
        char *t = NULL;

        static const char *bad_user_data[] = {
                "[1]", "\"s\"", "1", "null", "{", "{\"a\":1}x", "{\"a\":1,\"a\":2}", "{\"o\":{\"b\":1,\"b\":1}}",
                "{\"a\":\"\xff\"}", "{\"a\":\"\xc3\"}", "{\"\xed\xa0\x80\":1}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_user_data); i++) {
                fill_claims(&c);
                c.user_data_json = (char *) bad_user_data[i];
                assert_int_equal(stitch_jwt_sign(kr, &c, &t), -EINVAL);
        }

        fill_claims(&c);
        memcpy(c.sub, "0123456789ABCDEF01234567", 25);
        assert_int_equal(stitch_jwt_sign(kr, &c, &t), -EINVAL);
        fill_claims(&c);
        c.sid[23] = 0;
        assert_int_equal(stitch_jwt_sign(kr, &c, &t), -EINVAL);
        fill_claims(&c);
        c.device_id[0] = 'g';
        assert_int_equal(stitch_jwt_sign(kr, &c, &t), -EINVAL);
        fill_claims(&c);
        memcpy(c.typ, "refresh", 8);
        assert_int_equal(stitch_jwt_sign(kr, &c, &t), -EINVAL);
        fill_claims(&c);
        c.exp = -1;
        assert_int_equal(stitch_jwt_sign(kr, &c, &t), -EINVAL);

        /* Too large to ever verify. */
        size_t big = STITCH_JWT_MAX_LEN;
        _cleanup_free_ char *ud = malloc(big + 32);
        assert_non_null(ud);
        memset(ud, 'a', big + 32);
        memcpy(ud, "{\"a\":\"", 6);
        memcpy(ud + big + 32 - 3, "\"}", 3);
        fill_claims(&c);
        c.user_data_json = ud;
        assert_int_equal(stitch_jwt_sign(kr, &c, &t), -E2BIG);
        assert_null(t);

        /* No active key. */
        _cleanup_(stitch_keyring_freep) struct stitch_keyring *empty = ring_of(NULL, NULL);
        fill_claims(&c);
        assert_int_equal(stitch_jwt_sign(empty, &c, &t), -ENOKEY);
        assert_int_equal(stitch_keyring_active(empty, NULL, 0, NULL, 0), -ENOKEY);
        assert_int_equal(verify_claims_es(empty, valid_claims), -ENOKEY);
}

static void test_structure(void **state) {
        _cleanup_(stitch_keyring_freep) struct stitch_keyring *kr = ring_of(es, hs);
        _cleanup_free_ char *good = craft_hs(hdr_hs, valid_claims);
        char buf[STITCH_JWT_MAX_LEN * 2];

        assert_int_equal(verify_str(kr, good), 0);

        static const char *bad[] = { "", ".", "..", "...", "a", "a.b", "a..c", ".b.c", "a.b.", "a.b.c.d" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(verify_str(kr, bad[i]), -EBADMSG);

        /* Four parts built from a good token. */
        snprintf(buf, sizeof(buf), "%s.%s", good, "AAAA");
        assert_int_equal(verify_str(kr, buf), -EBADMSG);

        /* Padding, '+', '/', whitespace, in each part. */
        const char *d1 = strchr(good, '.'), *d2 = strrchr(good, '.');
        size_t positions[] = { 0, (size_t) (d1 - good) + 1, (size_t) (d2 - good) + 1 };
        static const char inject[] = { '=', '+', '/', ' ', '\n', '%', '\x80', '\xff' };
        for (size_t p = 0; p < ELEMENTSOF(positions); p++)
                for (size_t i = 0; i < ELEMENTSOF(inject); i++) {
                        snprintf(buf, sizeof(buf), "%s", good);
                        buf[positions[p]] = inject[i];
                        assert_int_equal(verify_str(kr, buf), -EBADMSG);
                }
        snprintf(buf, sizeof(buf), "%s=", good);
        assert_int_equal(verify_str(kr, buf), -EBADMSG);
        snprintf(buf, sizeof(buf), "%.*s=.%s", (int) (d1 - good), good, d1 + 1);
        assert_int_equal(verify_str(kr, buf), -EBADMSG);

        /* Non-canonical base64url: same bytes, different trailing bits. The
         * HS256 signature is 43 characters, so its last one carries 2 unused bits. */
        snprintf(buf, sizeof(buf), "%s", good);
        size_t last = strlen(buf) - 1;
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        size_t v = (size_t) (strchr(alphabet, buf[last]) - alphabet);
        buf[last] = alphabet[v | 1];
        if (buf[last] == good[last])
                buf[last] = alphabet[v | 2];
        assert_int_equal(verify_str(kr, buf), -EBADMSG);

        /* Length % 4 == 1 is never valid base64. */
        size_t hl = (size_t) (d1 - good), k = (5 - hl % 4) % 4;
        snprintf(buf, sizeof(buf), "%.*s%.*s%s", (int) hl, good, (int) (k ? k : 4), "AAAA", d1);
        assert_int_equal(strcspn(buf, ".") % 4, 1);
        assert_int_equal(verify_str(kr, buf), -EBADMSG);

        /* Too long: over the cap, even if otherwise fine. */
        memset(buf, 'A', STITCH_JWT_MAX_LEN + 1);
        buf[10] = '.';
        buf[20] = '.';
        buf[STITCH_JWT_MAX_LEN + 1] = 0;
        assert_int_equal(verify_str(kr, buf), -EBADMSG);

        /* A validly signed token just over the cap. */
        char pad[6121], ud[sizeof(pad) + 16], claims[sizeof(ud) + 512];
        memset(pad, 'x', sizeof(pad) - 1);
        pad[sizeof(pad) - 1] = 0;
        snprintf(ud, sizeof(ud), "{\"p\":\"%s\"}", pad);
        snprintf(claims, sizeof(claims), CLAIMS_FMT, "1700000000", "1700000000", "1700001800", ud);
        _cleanup_free_ char *long_token = craft_hs(hdr_hs, claims);
        assert_true(strlen(long_token) > STITCH_JWT_MAX_LEN);
        assert_int_equal(verify_str(kr, long_token), -EBADMSG);

        /* NUL: a token string truncated by an embedded NUL is just broken. */
        snprintf(buf, sizeof(buf), "%s", good);
        buf[d2 - good + 5] = 0;
        assert_int_equal(verify_str(kr, buf), -EKEYREJECTED);

        assert_int_equal(stitch_jwt_verify(kr, NULL, NOW, &(struct stitch_claims) {}), -EINVAL);
}

static void test_header_rejects(void **state) {
        _cleanup_(stitch_keyring_freep) struct stitch_keyring *kr = ring_of(es, hs);
        char h[512];
        int n;

        /* Not an object. */
        static const char *not_object[] = { "[]", "\"JWT\"", "1", "null", "garbage", "{", "{}x", "" };
        for (size_t i = 0; i < ELEMENTSOF(not_object); i++)
                assert_int_equal(verify_crafted_hs(kr, not_object[i], valid_claims), -EBADMSG);

        /* alg none and friends: rejected with or without a signature. */
        static const char *algs[] = { "none", "None", "NONE", "nOnE", "RS256", "HS512", "ES384", "es256", "hs256",
                                      "ES256 ", "" };
        for (size_t i = 0; i < ELEMENTSOF(algs); i++) {
                snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", algs[i], hs->kid);
                assert_int_equal(verify_crafted_hs(kr, h, valid_claims), -EKEYREJECTED);
                _cleanup_free_ char *t = craft(h, valid_claims, SIGN_NONE, "", 0, NULL);
                assert_int_equal(verify_str(kr, t), -EBADMSG); /* empty signature part */
        }
        snprintf(h, sizeof(h), "{\"typ\":\"JWT\",\"kid\":\"%s\"}", hs->kid);
        assert_int_equal(verify_crafted_hs(kr, h, valid_claims), -EBADMSG);
        snprintf(h, sizeof(h), "{\"alg\":null,\"typ\":\"JWT\",\"kid\":\"%s\"}", hs->kid);
        assert_int_equal(verify_crafted_hs(kr, h, valid_claims), -EBADMSG);
        snprintf(h, sizeof(h), "{\"ALG\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", hs->kid);
        assert_int_equal(verify_crafted_hs(kr, h, valid_claims), -EBADMSG);

        /* kid: missing, unknown, wrong type, too long. */
        assert_int_equal(verify_crafted_hs(kr, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", valid_claims), -ENOKEY);
        assert_int_equal(verify_crafted_hs(kr, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"nope\"}", valid_claims),
                         -ENOKEY);
        assert_int_equal(verify_crafted_hs(kr, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"\"}", valid_claims), -ENOKEY);
        assert_int_equal(verify_crafted_hs(kr, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":1}", valid_claims), -EBADMSG);
        snprintf(h, sizeof(h), "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s%s%s\"}", hs->kid, hs->kid, hs->kid);
        assert_int_equal(verify_crafted_hs(kr, h, valid_claims), -ENOKEY);
        /* A kid that matches only up to a "\u0000" must not select the key. */
        snprintf(h, sizeof(h), "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\\u0000x\"}", hs->kid);
        assert_int_equal(verify_crafted_hs(kr, h, valid_claims), -EBADMSG);
        /* Case matters for kids. */
        n = snprintf(h, sizeof(h), "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", hs->kid);
        char *kid_start = h + n - 2 - strlen(hs->kid);
        for (char *p = kid_start; *p; p++)
                if (*p >= 'a' && *p <= 'z') {
                        *p = (char) (*p - 'a' + 'A');
                        assert_int_equal(verify_crafted_hs(kr, h, valid_claims), -ENOKEY);
                        break;
                }

        /* typ, crit and other parameters. */
        snprintf(h, sizeof(h), "{\"alg\":\"HS256\",\"kid\":\"%s\"}", hs->kid);
        assert_int_equal(verify_crafted_hs(kr, h, valid_claims), 0); /* typ is optional */
        snprintf(h, sizeof(h), "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", hs->kid);
        assert_int_equal(verify_crafted_hs(kr, h, valid_claims), -EBADMSG);
        snprintf(h, sizeof(h), "{\"alg\":\"HS256\",\"typ\":1,\"kid\":\"%s\"}", hs->kid);
        assert_int_equal(verify_crafted_hs(kr, h, valid_claims), -EBADMSG);
        static const char *extra[] = { "\"crit\":[\"exp\"]", "\"crit\":[]", "\"jku\":\"https://evil\"",
                                       "\"jwk\":{}", "\"x5u\":\"https://evil\"", "\"cty\":\"JWT\"", "\"b64\":false" };
        for (size_t i = 0; i < ELEMENTSOF(extra); i++) {
                snprintf(h, sizeof(h), "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\",%s}", hs->kid, extra[i]);
                assert_int_equal(verify_crafted_hs(kr, h, valid_claims), -EBADMSG);
        }

        /* Duplicate header keys. */
        snprintf(h, sizeof(h), "{\"alg\":\"HS256\",\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", hs->kid);
        assert_int_equal(verify_crafted_hs(kr, h, valid_claims), -EBADMSG);
        snprintf(h, sizeof(h), "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\",\"kid\":\"%s\"}", es->kid, hs->kid);
        assert_int_equal(verify_crafted_hs(kr, h, valid_claims), -EBADMSG);

        /* NUL bytes inside the header JSON, and raw control characters. */
        char raw[256];
        n = snprintf(raw, sizeof(raw), "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}  ", hs->kid);
        raw[n - 1] = 0;
        _cleanup_free_ char *t1 = craft_n(raw, (size_t) n, valid_claims, strlen(valid_claims), SIGN_HS, hs->secret,
                                          hs->secret_len, NULL);
        assert_int_equal(verify_str(kr, t1), -EBADMSG);
        raw[n - 1] = ' ';
        _cleanup_free_ char *t2 = craft_n(raw, (size_t) n, valid_claims, strlen(valid_claims), SIGN_HS, hs->secret,
                                          hs->secret_len, NULL);
        assert_int_equal(verify_str(kr, t2), 0); /* the same with a space instead is fine */
        snprintf(h, sizeof(h), "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\x01\"}", hs->kid);
        assert_int_equal(verify_crafted_hs(kr, h, valid_claims), -EBADMSG);
}

static void test_algorithm_confusion(void **state) {
        _cleanup_(stitch_keyring_freep) struct stitch_keyring *kr = ring_of(es, hs);
        char h[256];

        /* HS256 "signed" with the ES256 public key (PEM and raw point) under the ES256 kid. */
        BIO *bio = BIO_new(BIO_s_mem());
        assert_non_null(bio);
        assert_int_equal(PEM_write_bio_PUBKEY(bio, es_pkey), 1);
        char *pem = NULL;
        long pem_len = BIO_get_mem_data(bio, &pem);
        assert_true(pem_len > 0);
        uint8_t point[65];
        size_t point_len = 0;
        assert_int_equal(EVP_PKEY_get_octet_string_param(es_pkey, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
                                                         &point_len),
                         1);

        snprintf(h, sizeof(h), "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", es->kid);
        _cleanup_free_ char *t1 = craft(h, valid_claims, SIGN_HS, pem, (size_t) pem_len, NULL);
        _cleanup_free_ char *t2 = craft(h, valid_claims, SIGN_HS, point, point_len, NULL);
        _cleanup_free_ char *t3 = craft(h, valid_claims, SIGN_HS, es->secret, es->secret_len, NULL);
        assert_int_equal(verify_str(kr, t1), -EKEYREJECTED);
        assert_int_equal(verify_str(kr, t2), -EKEYREJECTED);
        assert_int_equal(verify_str(kr, t3), -EKEYREJECTED);
        BIO_free(bio);

        /* ES256 header naming the HS256 key, with a real ES256 signature. */
        snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", hs->kid);
        _cleanup_free_ char *t4 = craft_es(h, valid_claims);
        assert_int_equal(verify_str(kr, t4), -EKEYREJECTED);
        /* ... and an HS256 MAC with the HS256 key behind an ES256 header. */
        _cleanup_free_ char *t5 = craft_hs(h, valid_claims);
        assert_int_equal(verify_str(kr, t5), -EKEYREJECTED);
}

static void test_signature_rejects(void **state) {
        _cleanup_(stitch_keyring_freep) struct stitch_keyring *kr = ring_of(es, hs);
        char h[256];

        /* Flipped bits in a good signature / payload. */
        _cleanup_free_ char *te = craft_es(hdr_es, valid_claims), *th = craft_hs(hdr_hs, valid_claims);
        assert_int_equal(verify_str(kr, te), 0); /* now cached */
        for (char *t = te; t; t = t == te ? th : NULL) {
                char *d2 = strrchr(t, '.');
                char save = d2[3];
                d2[3] = save == 'A' ? 'B' : 'A';
                assert_int_equal(verify_str(kr, t), -EKEYREJECTED);
                d2[3] = save;
                char *d1 = strchr(t, '.');
                save = d1[5];
                d1[5] = save == 'A' ? 'B' : 'A';
                assert_int_equal(verify_str(kr, t), -EKEYREJECTED);
                d1[5] = save;
                assert_int_equal(verify_str(kr, t), 0);
        }

        /* Signed by a key that is not the one named. */
        _cleanup_free_ char *t1 = craft(hdr_es, valid_claims, SIGN_ES, NULL, 0, es2_pkey);
        assert_int_equal(verify_str(kr, t1), -EKEYREJECTED);
        uint8_t other[32] = { 1, 2, 3 };
        _cleanup_free_ char *t2 = craft(hdr_hs, valid_claims, SIGN_HS, other, sizeof(other), NULL);
        assert_int_equal(verify_str(kr, t2), -EKEYREJECTED);

        /* Wrong signature lengths. */
        uint8_t zeros[128] = {};
        static const size_t lens[] = { 1, 31, 32, 33, 63, 64, 65, 72, 128 };
        for (size_t i = 0; i < ELEMENTSOF(lens); i++) {
                _cleanup_free_ char *a = craft(hdr_es, valid_claims, SIGN_NONE, zeros, lens[i], NULL);
                _cleanup_free_ char *b = craft(hdr_hs, valid_claims, SIGN_NONE, zeros, lens[i], NULL);
                assert_int_equal(verify_str(kr, a), -EKEYREJECTED);
                assert_int_equal(verify_str(kr, b), -EKEYREJECTED);
        }
        /* An ES256 DER signature (what a naive signer emits) is not a JWS signature. */
        snprintf(h, sizeof(h), "%s", hdr_es);
        {
                _cleanup_free_ char *hb = b64url(h, strlen(h)), *pb = b64url(valid_claims, strlen(valid_claims));
                char input[2048];
                snprintf(input, sizeof(input), "%s.%s", hb, pb);
                uint8_t der[80];
                size_t der_len = sizeof(der);
                EVP_MD_CTX *m = EVP_MD_CTX_new();
                assert_int_equal(EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, es_pkey, NULL), 1);
                assert_int_equal(EVP_DigestSign(m, der, &der_len, (uint8_t *) input, strlen(input)), 1);
                EVP_MD_CTX_free(m);
                _cleanup_free_ char *sb = b64url(der, der_len);
                char t[4096];
                snprintf(t, sizeof(t), "%s.%s", input, sb);
                assert_int_equal(verify_str(kr, t), -EKEYREJECTED);
        }
        /* r = 0 or s = 0, and r,s = n (out of range). */
        uint8_t rs[64] = {};
        memset(rs + 32, 1, 32);
        _cleanup_free_ char *t3 = craft(hdr_es, valid_claims, SIGN_NONE, rs, 64, NULL);
        assert_int_equal(verify_str(kr, t3), -EKEYREJECTED);
        memset(rs, 0xff, 64);
        _cleanup_free_ char *t4 = craft(hdr_es, valid_claims, SIGN_NONE, rs, 64, NULL);
        assert_int_equal(verify_str(kr, t4), -EKEYREJECTED);
}

/* The token t with its ES256 signature (r, s) replaced by (r, n - s). */
static char *with_flipped_s(const char *t) {
        const char *d2 = strrchr(t, '.');
        uint8_t raw[64];
        assert_non_null(d2);
        assert_int_equal(unb64url(d2 + 1, strlen(d2 + 1), raw, sizeof(raw)), 64);
        es256_raw_flip_s(raw);
        _cleanup_free_ char *sb = b64url(raw, 64);
        size_t total = (size_t) (d2 - t) + 1 + strlen(sb) + 1;
        char *out = malloc(total);
        assert_non_null(out);
        snprintf(out, total, "%.*s.%s", (int) (d2 - t), t, sb);
        return out;
}

static void test_es256_malleability(void **state) {
        _cleanup_(stitch_keyring_freep) struct stitch_keyring *kr = ring_of(es, hs);
        struct stitch_claims c;

        /* Every signature we make has s <= n/2, and its twin (r, n - s), which
         * OpenSSL alone would accept, is refused, cached original or not. With
         * 64 tokens a signer that leaves s as it comes fails with
         * probability 1 - 2^-64. */
        fill_claims(&c);
        for (int i = 0; i < 64; i++) {
                _cleanup_free_ char *t = NULL, *twin = NULL;
                uint8_t raw[64];
                assert_int_equal(stitch_jwt_sign(kr, &c, &t), 0);
                const char *d2 = strrchr(t, '.');
                assert_int_equal(unb64url(d2 + 1, strlen(d2 + 1), raw, sizeof(raw)), 64);
                assert_false(es256_raw_s_is_high(raw));
                assert_true(es256_raw_verify(es_pkey, t, (size_t) (d2 - t), raw));

                twin = with_flipped_s(t);
                const char *e2 = strrchr(twin, '.');
                assert_int_equal(unb64url(e2 + 1, strlen(e2 + 1), raw, sizeof(raw)), 64);
                assert_true(es256_raw_s_is_high(raw));
                assert_true(es256_raw_verify(es_pkey, twin, (size_t) (e2 - twin), raw)); /* valid ECDSA */
                if (i % 2)
                        assert_int_equal(verify_str(kr, t), 0); /* the original is now in the cache */
                assert_int_equal(verify_str(kr, twin), -EKEYREJECTED);
                assert_int_equal(verify_str(kr, t), 0);
                assert_int_equal(verify_str(kr, twin), -EKEYREJECTED);
        }

        /* Signed elsewhere: the low form verifies, the high form of the same
         * claims does not. */
        _cleanup_free_ char *hb = b64url(hdr_es, strlen(hdr_es)), *pb = b64url(valid_claims, strlen(valid_claims));
        char input[2048];
        snprintf(input, sizeof(input), "%s.%s", hb, pb);
        for (int high = 0; high < 2; high++) {
                uint8_t raw[64];
                es256_raw_sign_form(es_pkey, input, strlen(input), raw, high);
                _cleanup_free_ char *sb = b64url(raw, 64);
                char t[4096];
                snprintf(t, sizeof(t), "%s.%s", input, sb);
                assert_int_equal(verify_str(kr, t), high ? -EKEYREJECTED : 0);
        }

        /* s = floor(n/2) is the largest low s; one more is high. Neither
         * verifies (r is not from a signature), but only the high one is
         * refused before the curve arithmetic: both must say EKEYREJECTED. */
        uint8_t rs[64];
        memset(rs, 0x11, 32);
        BIGNUM *n = p256_order(), *half = BN_new();
        assert_non_null(half);
        assert_int_equal(BN_rshift1(half, n), 1);
        assert_int_equal(BN_bn2binpad(half, rs + 32, 32), 32);
        assert_false(es256_raw_s_is_high(rs));
        _cleanup_free_ char *t1 = craft(hdr_es, valid_claims, SIGN_NONE, rs, 64, NULL);
        assert_int_equal(verify_str(kr, t1), -EKEYREJECTED);
        assert_int_equal(BN_add_word(half, 1), 1);
        assert_int_equal(BN_bn2binpad(half, rs + 32, 32), 32);
        assert_true(es256_raw_s_is_high(rs));
        _cleanup_free_ char *t2 = craft(hdr_es, valid_claims, SIGN_NONE, rs, 64, NULL);
        assert_int_equal(verify_str(kr, t2), -EKEYREJECTED);
        BN_free(n);
        BN_free(half);
}

static void test_claims_rejects(void **state) {
        _cleanup_(stitch_keyring_freep) struct stitch_keyring *kr = ring_of(es, hs);
        char p[4096];

        /* Each required claim missing, or wrongly typed. */
        static const char *names[] = { "sub", "typ", "iat", "nbf", "exp", "sid", "baas_device_id", "baas_domain_id",
                                       "user_data" };
        static const char *wrong[] = { "1", "null", "true", "[]", "{}", "\"x\"", "1.5", "-1", "1e300", "\"1700000000\"" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                cJSON *j = cJSON_Parse(valid_claims);
                assert_non_null(j);
                cJSON_DeleteItemFromObjectCaseSensitive(j, names[i]);
                char *s = cJSON_PrintUnformatted(j);
                assert_int_equal(verify_claims_hs(kr, s), -EBADMSG);
                assert_int_equal(verify_claims_es(kr, s), -EBADMSG);
                free(s);

                for (size_t w = 0; w < ELEMENTSOF(wrong); w++) {
                        bool is_time = streq(names[i], "iat") || streq(names[i], "nbf") || streq(names[i], "exp");
                        bool is_obj = streq(names[i], "user_data");
                        if ((is_obj && streq(wrong[w], "{}")) ||
                            (is_time && (streq(wrong[w], "1"))))
                                continue; /* valid values */
                        cJSON *v = cJSON_Parse(wrong[w]), *j2 = cJSON_Parse(valid_claims);
                        assert_non_null(v);
                        assert_true(cJSON_ReplaceItemInObjectCaseSensitive(j2, names[i], v));
                        s = cJSON_PrintUnformatted(j2);
                        int r = verify_claims_hs(kr, s);
                        if (r != -EBADMSG)
                                fail_msg("claim %s = %s: got %d", names[i], wrong[w], r);
                        free(s);
                        cJSON_Delete(j2);
                }
                cJSON_Delete(j);
        }

        /* typ must be "access". */
        static const char *typs[] = { "refresh", "Access", "access ", "" };
        for (size_t i = 0; i < ELEMENTSOF(typs); i++) {
                cJSON *j = cJSON_Parse(valid_claims);
                cJSON_ReplaceItemInObjectCaseSensitive(j, "typ", cJSON_CreateString(typs[i]));
                char *s = cJSON_PrintUnformatted(j);
                assert_int_equal(verify_claims_hs(kr, s), -EBADMSG);
                free(s);
                cJSON_Delete(j);
        }

        /* ids: 24 lowercase hex. */
        static const char *ids[] = { "0123456789ABCDEF01234567", "0123456789abcdef0123456", "0123456789abcdef012345678",
                                     "0123456789abcdef0123456g", "", " 123456789abcdef01234567" };
        static const char *id_claims[] = { "sub", "sid", "baas_device_id", "baas_domain_id" };
        for (size_t c = 0; c < ELEMENTSOF(id_claims); c++)
                for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                        if (streq(id_claims[c], "baas_domain_id") && ids[i][0] == 0)
                                continue; /* the domain may be empty */
                        if (streq(id_claims[c], "sid") && (i == 0 || i == 3))
                                continue; /* session ids are 24 random [A-Za-z0-9]: below */
                        cJSON *j = cJSON_Parse(valid_claims);
                        cJSON_ReplaceItemInObjectCaseSensitive(j, id_claims[c], cJSON_CreateString(ids[i]));
                        char *s = cJSON_PrintUnformatted(j);
                        assert_int_equal(verify_claims_hs(kr, s), -EBADMSG);
                        free(s);
                        cJSON_Delete(j);
                }

        /* A session id is 24 characters of [A-Za-z0-9] and nothing else. */
        static const char *sids[] = { "0123456789abcdefABCDEF0-", "0123456789abcdefABCDEF0", "0123456789abcdefABCDEF0_",
                                      "0123456789abcdefABCDEF0 ", "0123456789abcdefABCDEF012" };
        for (size_t i = 0; i < ELEMENTSOF(sids); i++) {
                cJSON *j = cJSON_Parse(valid_claims);
                cJSON_ReplaceItemInObjectCaseSensitive(j, "sid", cJSON_CreateString(sids[i]));
                char *s = cJSON_PrintUnformatted(j);
                assert_int_equal(verify_claims_hs(kr, s), -EBADMSG);
                free(s);
                cJSON_Delete(j);
        }
        {
                cJSON *j = cJSON_Parse(valid_claims);
                cJSON_ReplaceItemInObjectCaseSensitive(j, "sid", cJSON_CreateString("0123456789ABCDEFabcdefXY"));
                char *s = cJSON_PrintUnformatted(j);
                assert_int_equal(verify_claims_hs(kr, s), 0);
                free(s);
                cJSON_Delete(j);
        }

        /* Duplicate claims, at the top and nested in user_data (both dedup paths). */
        snprintf(p, sizeof(p), "{\"sub\":\"%s\",%s", "ffffffffffffffffffffffff", valid_claims + 1);
        assert_int_equal(verify_claims_hs(kr, p), -EBADMSG);
        snprintf(p, sizeof(p), CLAIMS_FMT, "1700000000", "1700000000", "1700001800", "{\"a\":1,\"b\":{\"c\":1,\"c\":2}}");
        assert_int_equal(verify_claims_hs(kr, p), -EBADMSG);
        snprintf(p, sizeof(p), CLAIMS_FMT, "1700000000", "1700000000", "1700001800",
                 "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"e\":11}");
        assert_int_equal(verify_claims_hs(kr, p), -EBADMSG);
        snprintf(p, sizeof(p), CLAIMS_FMT, "1700000000", "1700000000", "1700001800",
                 "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"k\":[{\"x\":1}]}");
        assert_int_equal(verify_claims_hs(kr, p), 0);
        snprintf(p, sizeof(p), CLAIMS_FMT, "1700000000", "1700000000", "1700001800", "{\"l\":[{\"x\":1,\"x\":1}]}");
        assert_int_equal(verify_claims_hs(kr, p), -EBADMSG);

        /* Unknown extra claims are tolerated (only we can sign), times in exponent form too. */
        snprintf(p, sizeof(p), "{\"extra\":1,%s", valid_claims + 1);
        assert_int_equal(verify_claims_hs(kr, p), 0);
        snprintf(p, sizeof(p), CLAIMS_FMT, "1.7e9", "1700000000", "1700001800", "{}");
        assert_int_equal(verify_claims_hs(kr, p), 0);

        /* "\u0000" and control characters inside user_data strings; deep nesting. */
        snprintf(p, sizeof(p), CLAIMS_FMT, "1700000000", "1700000000", "1700001800", "{\"a\":\"x\\u0000y\"}");
        assert_int_equal(verify_claims_hs(kr, p), -EBADMSG);
        snprintf(p, sizeof(p), CLAIMS_FMT, "1700000000", "1700000000", "1700001800", "{\"a\\u0000\":1}");
        assert_int_equal(verify_claims_hs(kr, p), -EBADMSG);
        snprintf(p, sizeof(p), CLAIMS_FMT, "1700000000", "1700000000", "1700001800", "{\"a\":\"\\\\u0000\"}");
        assert_int_equal(verify_claims_hs(kr, p), 0); /* an escaped backslash, then text */
        snprintf(p, sizeof(p), CLAIMS_FMT, "1700000000", "1700000000", "1700001800", "{\"a\":\"\t\"}");
        assert_int_equal(verify_claims_hs(kr, p), -EBADMSG);
        char deep[256] = "{\"a\":";
        for (int i = 0; i < 40; i++)
                strncat(deep, "[", sizeof(deep) - strlen(deep) - 1);
        for (int i = 0; i < 40; i++)
                strncat(deep, "]", sizeof(deep) - strlen(deep) - 1);
        strncat(deep, "}", sizeof(deep) - strlen(deep) - 1);
        snprintf(p, sizeof(p), CLAIMS_FMT, "1700000000", "1700000000", "1700001800", deep);
        assert_int_equal(verify_claims_hs(kr, p), -EBADMSG);

        /* Invalid UTF-8; valid UTF-8 and escapes are fine. */
        snprintf(p, sizeof(p), CLAIMS_FMT, "1700000000", "1700000000", "1700001800", "{\"a\":\"\xc3\x28\"}");
        assert_int_equal(verify_claims_hs(kr, p), -EBADMSG);
        snprintf(p, sizeof(p), CLAIMS_FMT, "1700000000", "1700000000", "1700001800", "{\"a\":\"\xc3\xa9\\u00e9\"}");
        assert_int_equal(verify_claims_hs(kr, p), 0);

        /* A raw NUL byte in the payload. */
        snprintf(p, sizeof(p), "%s ", valid_claims);
        size_t n = strlen(p);
        p[n - 1] = 0;
        _cleanup_free_ char *t = craft_n(hdr_hs, strlen(hdr_hs), p, n, SIGN_HS, hs->secret, hs->secret_len, NULL);
        assert_int_equal(verify_str(kr, t), -EBADMSG);

        /* Payload not an object. */
        assert_int_equal(verify_claims_hs(kr, "[]"), -EBADMSG);
        assert_int_equal(verify_claims_hs(kr, "\"access\""), -EBADMSG);
}

static void test_times(void **state) {
        _cleanup_(stitch_keyring_freep) struct stitch_keyring *kr = ring_of(es, hs);
        char p[2048], iat[32], nbf[32], exp[32];
        struct {
                int64_t iat, nbf, exp;
                int r;
        } cases[] = {
                { NOW, NOW, NOW + 1, 0 },
                { NOW, NOW, NOW, -ETIME },
                { NOW - 3600, NOW - 3600, NOW - 1, -ETIME },
                { NOW, NOW + STITCH_JWT_LEEWAY_SEC, NOW + 100, 0 },
                { NOW, NOW + STITCH_JWT_LEEWAY_SEC + 1, NOW + 100, -EAGAIN },
                { NOW + STITCH_JWT_LEEWAY_SEC, NOW, NOW + 100, 0 },
                { NOW + STITCH_JWT_LEEWAY_SEC + 1, NOW, NOW + 100, -EAGAIN },
                { NOW + 10000, NOW + 10000, NOW + 20000, -EAGAIN },
                { 0, 0, NOW + 1, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                snprintf(iat, sizeof(iat), "%lld", (long long) cases[i].iat);
                snprintf(nbf, sizeof(nbf), "%lld", (long long) cases[i].nbf);
                snprintf(exp, sizeof(exp), "%lld", (long long) cases[i].exp);
                snprintf(p, sizeof(p), CLAIMS_FMT, iat, nbf, exp, "{}");
                assert_int_equal(verify_claims_hs(kr, p), cases[i].r);
                assert_int_equal(verify_claims_es(kr, p), cases[i].r);
        }

        /* Signed by us, checked at other times. */
        struct stitch_claims c, v = {};
        _cleanup_free_ char *t = NULL;
        fill_claims(&c);
        assert_int_equal(stitch_jwt_sign(kr, &c, &t), 0);
        assert_int_equal(stitch_jwt_verify(kr, t, NOW + 1799, &v), 0);
        stitch_claims_done(&v);
        assert_int_equal(stitch_jwt_verify(kr, t, NOW + 1800, &v), -ETIME);
        assert_int_equal(stitch_jwt_verify(kr, t, NOW - STITCH_JWT_LEEWAY_SEC, &v), 0);
        stitch_claims_done(&v);
        assert_int_equal(stitch_jwt_verify(kr, t, NOW - STITCH_JWT_LEEWAY_SEC - 1, &v), -EAGAIN);
        assert_int_equal(stitch_jwt_verify(kr, t, INT64_MAX, &v), -ETIME);
        assert_int_equal(stitch_jwt_verify(kr, t, INT64_MIN, &v), -EAGAIN);
        assert_null(v.user_data_json);
}

static void test_rotation(void **state) {
        struct stitch_signing_key *a = key_new("ES256", NOW - 1000), *b = NULL;
        _cleanup_(stitch_keyring_freep) struct stitch_keyring *kr = ring_of(a, NULL);
        struct stitch_claims c;
        _cleanup_free_ char *ta = NULL, *tb = NULL;
        char kid[64], alg[8];

        fill_claims(&c);
        assert_int_equal(stitch_jwt_sign(kr, &c, &ta), 0);
        assert_int_equal(stitch_keyring_active(kr, kid, sizeof(kid), alg, sizeof(alg)), 0);
        assert_string_equal(kid, a->kid);
        assert_string_equal(alg, "ES256");

        /* Rotate to an HS256 key (the store lists newest first). */
        b = key_new("HS256", NOW - 10);
        a->retired = NOW - 10;
        struct stitch_signing_key *both[] = { b, a };
        assert_int_equal(stitch_keyring_reload(kr, both, 2), 0);
        assert_int_equal(stitch_keyring_active(kr, kid, sizeof(kid), alg, sizeof(alg)), 0);
        assert_string_equal(kid, b->kid);
        assert_string_equal(alg, "HS256");
        assert_int_equal(stitch_jwt_sign(kr, &c, &tb), 0);
        struct stitch_claims v = {};
        assert_int_equal(stitch_jwt_verify(kr, tb, NOW, &v), 0);
        assert_string_equal(v.kid, b->kid);
        stitch_claims_done(&v);
        assert_int_equal(verify_str(kr, ta), 0); /* old key still trusted */
        assert_int_equal(verify_str(kr, ta), 0);

        /* A failed reload changes nothing. */
        struct stitch_signing_key broken = { .kid = "broken", .alg = (char *) "ES256", .secret = (uint8_t *) "nope",
                                             .secret_len = 4 };
        struct stitch_signing_key *with_broken[] = { b, &broken };
        assert_int_equal(stitch_keyring_reload(kr, with_broken, 2), -EINVAL);
        assert_int_equal(verify_str(kr, ta), 0);
        assert_int_equal(verify_str(kr, tb), 0);

        /* Pruned: old tokens die at once (even though ta's signature is cached). */
        struct stitch_signing_key *only_b[] = { b };
        assert_int_equal(stitch_keyring_reload(kr, only_b, 1), 0);
        assert_int_equal(verify_str(kr, ta), -ENOKEY);
        assert_int_equal(verify_str(kr, tb), 0);

        /* Re-adding the same key brings its tokens back. */
        assert_int_equal(stitch_keyring_reload(kr, both, 2), 0);
        assert_int_equal(verify_str(kr, ta), 0);

        /* Several unretired keys: the newest created signs. */
        a->retired = 0;
        struct stitch_signing_key *c2 = key_new("ES256", NOW - 5);
        struct stitch_signing_key *three[] = { a, c2, b };
        assert_int_equal(stitch_keyring_reload(kr, three, 3), 0);
        assert_int_equal(stitch_keyring_active(kr, kid, sizeof(kid), NULL, 0), 0);
        assert_string_equal(kid, c2->kid);
        assert_int_equal(stitch_keyring_active(kr, kid, 5, alg, sizeof(alg)), -ENOBUFS);
        assert_int_equal(stitch_keyring_active(kr, kid, sizeof(kid), alg, 5), -ENOBUFS);

        /* All retired: nothing signs, everything still verifies. */
        a->retired = b->retired = c2->retired = NOW;
        assert_int_equal(stitch_keyring_reload(kr, three, 3), 0);
        _cleanup_free_ char *tc = NULL;
        assert_int_equal(stitch_jwt_sign(kr, &c, &tc), -ENOKEY);
        assert_int_equal(verify_str(kr, ta), 0);
        assert_int_equal(verify_str(kr, tb), 0);

        stitch_signing_key_free(a);
        stitch_signing_key_free(b);
        stitch_signing_key_free(c2);
}

static void test_keyring_errors(void **state) {
        struct stitch_keyring *kr = NULL;

        struct stitch_signing_key bad_pem = { .kid = "k1", .alg = (char *) "ES256",
                                              .secret = (uint8_t *) "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                                              .secret_len = 0 };
        bad_pem.secret_len = strlen((char *) bad_pem.secret);
        struct stitch_signing_key *l1[] = { &bad_pem };
        assert_int_equal(stitch_keyring_new(l1, 1, &kr), -EINVAL);

        uint8_t short_secret[16] = {};
        struct stitch_signing_key short_hs = { .kid = "k2", .alg = (char *) "HS256", .secret = short_secret,
                                               .secret_len = sizeof(short_secret) };
        struct stitch_signing_key *l2[] = { &short_hs };
        assert_int_equal(stitch_keyring_new(l2, 1, &kr), -EINVAL);

        struct stitch_signing_key unknown = { .kid = "k3", .alg = (char *) "none", .secret = short_secret,
                                              .secret_len = sizeof(short_secret) };
        struct stitch_signing_key *l3[] = { &unknown };
        assert_int_equal(stitch_keyring_new(l3, 1, &kr), -EINVAL);

        struct stitch_signing_key *l4[] = { es, es };
        assert_int_equal(stitch_keyring_new(l4, 2, &kr), -EINVAL);

        /* An EC key on another curve. */
        EVP_PKEY *p384 = EVP_EC_gen("P-384");
        assert_non_null(p384);
        BIO *bio = BIO_new(BIO_s_mem());
        assert_int_equal(PEM_write_bio_PrivateKey(bio, p384, NULL, NULL, 0, NULL, NULL), 1);
        char *pem = NULL;
        long pem_len = BIO_get_mem_data(bio, &pem);
        struct stitch_signing_key k384 = { .kid = "k384", .alg = (char *) "ES256", .secret = (uint8_t *) pem,
                                           .secret_len = (size_t) pem_len };
        struct stitch_signing_key *l5[] = { &k384 };
        assert_int_equal(stitch_keyring_new(l5, 1, &kr), -EINVAL);
        BIO_free(bio);
        EVP_PKEY_free(p384);

        /* A good ring survives a failed reload. */
        struct stitch_signing_key *l6[] = { hs, es };
        assert_int_equal(stitch_keyring_new(l6, 2, &kr), 0);
        assert_int_equal(stitch_keyring_reload(kr, l4, 2), -EINVAL);
        assert_int_equal(verify_claims_es(kr, valid_claims), 0);
        assert_int_equal(verify_claims_hs(kr, valid_claims), 0);
        kr = stitch_keyring_free(kr);
        assert_null(kr);
        assert_null(stitch_keyring_free(NULL));
}

static void test_jwks(void **state) {
        _cleanup_(stitch_keyring_freep) struct stitch_keyring *kr = ring_of(es, hs);
        _cleanup_free_ char *json = NULL, *t = NULL;
        struct stitch_claims c;

        assert_int_equal(stitch_keyring_jwks(kr, &json), 0);
        assert_null(strstr(json, hs->kid));
        cJSON *doc = cJSON_Parse(json);
        assert_non_null(doc);
        const cJSON *keys = cJSON_GetObjectItemCaseSensitive(doc, "keys");
        assert_true(cJSON_IsArray(keys));
        assert_int_equal(cJSON_GetArraySize(keys), 1);
        const cJSON *k = cJSON_GetArrayItem(keys, 0);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(k, "kty")->valuestring, "EC");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(k, "crv")->valuestring, "P-256");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(k, "alg")->valuestring, "ES256");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(k, "use")->valuestring, "sig");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(k, "kid")->valuestring, es->kid);
        assert_null(cJSON_GetObjectItemCaseSensitive(k, "d"));
        const char *x = cJSON_GetObjectItemCaseSensitive(k, "x")->valuestring;
        const char *y = cJSON_GetObjectItemCaseSensitive(k, "y")->valuestring;
        assert_int_equal(strlen(x), 43);
        assert_int_equal(strlen(y), 43);

        /* Rebuild the public key from x and y alone and check a token with it. */
        uint8_t point[65] = { 0x04 };
        assert_int_equal(unb64url(x, 43, point + 1, 32), 32);
        assert_int_equal(unb64url(y, 43, point + 33, 32), 32);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        assert_int_equal(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0), 1);
        assert_int_equal(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)), 1);
        OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
        EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        EVP_PKEY *pub = NULL;
        assert_int_equal(EVP_PKEY_fromdata_init(pctx), 1);
        assert_int_equal(EVP_PKEY_fromdata(pctx, &pub, EVP_PKEY_PUBLIC_KEY, params), 1);

        fill_claims(&c);
        assert_int_equal(stitch_jwt_sign(kr, &c, &t), 0);
        const char *d2 = strrchr(t, '.');
        uint8_t sig[64];
        assert_int_equal(unb64url(d2 + 1, strlen(d2 + 1), sig, sizeof(sig)), 64);
        assert_true(es256_raw_verify(pub, t, (size_t) (d2 - t), sig));
        sig[10] ^= 1;
        assert_false(es256_raw_verify(pub, t, (size_t) (d2 - t), sig));

        EVP_PKEY_free(pub);
        EVP_PKEY_CTX_free(pctx);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        cJSON_Delete(doc);

        /* Both ES256 keys published, HS256 never; empty ring gives an empty list. */
        struct stitch_signing_key *three[] = { es, hs, es2 };
        _cleanup_(stitch_keyring_freep) struct stitch_keyring *kr3 = NULL;
        assert_int_equal(stitch_keyring_new(three, 3, &kr3), 0);
        _cleanup_free_ char *json3 = NULL;
        assert_int_equal(stitch_keyring_jwks(kr3, &json3), 0);
        doc = cJSON_Parse(json3);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "keys")), 2);
        assert_non_null(strstr(json3, es2->kid));
        assert_null(strstr(json3, hs->kid));
        cJSON_Delete(doc);

        _cleanup_(stitch_keyring_freep) struct stitch_keyring *empty = ring_of(NULL, NULL);
        _cleanup_free_ char *json0 = NULL;
        assert_int_equal(stitch_keyring_jwks(empty, &json0), 0);
        assert_string_equal(json0, "{\"keys\":[]}");
}

/* ---- concurrency ---------------------------------------------------------- */

struct worker {
        struct stitch_keyring *kr;
        char *tokens[2]; /* one per key, signed before the threads start */
        bool sign;
        int failures;
        int iterations;
};

/* ---- claims written without cJSON ------------------------------------------ */

/* What tokens.c wrote before it wrote JSON itself: the claims built with
 * cJSON and printed. The direct rendering must give the same bytes. */
static char *claims_by_cjson(const struct stitch_claims *c) {
        cJSON *user_data = c->user_data_json ? cJSON_ParseWithOpts(c->user_data_json, NULL, true) : cJSON_CreateObject();
        cJSON *j = cJSON_CreateObject();
        assert_non_null(user_data);
        assert_non_null(j);
        int64_t nbf = c->nbf != 0 ? c->nbf : c->iat;
        cJSON_AddStringToObject(j, "sub", c->sub);
        cJSON_AddStringToObject(j, "typ", "access");
        cJSON_AddNumberToObject(j, "iat", (double) c->iat);
        cJSON_AddNumberToObject(j, "nbf", (double) nbf);
        cJSON_AddNumberToObject(j, "exp", (double) c->exp);
        cJSON_AddStringToObject(j, "sid", c->sid);
        cJSON_AddStringToObject(j, "baas_device_id", c->device_id);
        cJSON_AddStringToObject(j, "baas_domain_id", c->domain_id);
        cJSON_AddItemToObject(j, "user_data", user_data);
        char *text = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        assert_non_null(text);
        return text;
}

static void assert_claims_as_cjson(const struct stitch_claims *c) {
        _cleanup_free_ char *want = claims_by_cjson(c);
        _cleanup_free_ char *got = NULL;
        assert_int_equal(stitch_jwt_claims_text(c, &got), 0);
        assert_string_equal(got, want);
}

static void test_claims_text(void **state) {
        static const int64_t times[] = {
                0, 1, 9, 10, 99, 1700000000, 2147483647, 2147483648, 4294967296, 99999999999999,
                999999999999999, 1000000000000000, 1000000000000001, 1234567890123456, 4503599627370496,
                9007199254740990, 9007199254740991,
        };
        static const char *user_data[] = {
                NULL, "{}", "{\"email\":\"ada@example.com\"}",
                "{\"email\":\"ada@example.com\",\"name\":\"Ada L\xc3\xb6velace\",\"unix_name\":\"ada\"}",
                "{\"\":\"\"}", "{\"a\":\"\x7f\"}", "{\"a\":\"/<>&'\"}", "{\"k\xe2\x82\xac\":\"\xf0\x9f\x98\x80\"}",
                /* not copied as they are: escapes, white space, other types, nesting */
                "{\"name\":\"Ada \\\"the\\\" first\"}", "{\"a\":\"\\u00e9\\/\\n\\t\\u001f\"}", "{\"a\":\"\\ud83d\\ude00\"}",
                " {\"a\":\"b\"} ", "{ \"a\" : \"b\" , \"c\":\"d\" }", "{\"a\":1}", "{\"a\":1.5,\"b\":-0,\"c\":1e300}",
                "{\"a\":true,\"b\":false,\"c\":null}", "{\"a\":[1,\"x\",{}]}", "{\"o\":{\"p\":{\"q\":\"r\"}}}",
                "{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\",\"f\":\"6\",\"g\":\"7\",\"h\":\"8\","
                "\"i\":\"9\",\"j\":\"10\",\"k\":\"11\",\"l\":\"12\",\"m\":\"13\",\"n\":\"14\",\"o\":\"15\",\"p\":\"16\","
                "\"q\":\"17\"}",
        };
        struct stitch_claims c;

        for (size_t i = 0; i < ELEMENTSOF(times); i++) {
                fill_claims(&c);
                c.iat = times[i];
                c.exp = times[ELEMENTSOF(times) - 1 - i];
                assert_claims_as_cjson(&c);
                c.nbf = 0; /* nbf = iat */
                assert_claims_as_cjson(&c);
        }
        for (size_t i = 0; i < ELEMENTSOF(user_data); i++) {
                fill_claims(&c);
                c.user_data_json = (char *) user_data[i];
                assert_claims_as_cjson(&c);
        }
        fill_claims(&c);
        c.domain_id[0] = 0;
        assert_claims_as_cjson(&c);

        /* Refused on both paths: duplicates (also among 17 members), bad
         * UTF-8, not an object, trailing bytes. */
        static const char *bad[] = {
                "{\"a\":\"1\",\"a\":\"2\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\\u00e9\",\"a\":\"x\"}", "{\"a\":\"b\"}x", "[]",
                "{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\",\"f\":\"6\",\"g\":\"7\",\"h\":\"8\","
                "\"i\":\"9\",\"j\":\"10\",\"k\":\"11\",\"l\":\"12\",\"m\":\"13\",\"n\":\"14\",\"o\":\"15\",\"p\":\"16\","
                "\"a\":\"17\"}",
                "{\"a\":\"b\",}", "{\"a\":\"b\"", "{\"a\"\"b\"}", "{\"a\":\"b\",\"c\"}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *t = NULL;
                fill_claims(&c);
                c.user_data_json = (char *) bad[i];
                assert_int_equal(stitch_jwt_claims_text(&c, &t), -EINVAL);
                assert_null(t);
        }

        /* And the signed token carries exactly that text. */
        _cleanup_(stitch_keyring_freep) struct stitch_keyring *kr = ring_of(es, NULL);
        fill_claims(&c);
        c.user_data_json = (char *) user_data[3];
        _cleanup_free_ char *want = claims_by_cjson(&c), *token = NULL;
        assert_int_equal(stitch_jwt_sign(kr, &c, &token), 0);
        const char *p = strchr(token, '.') + 1;
        uint8_t decoded[1024];
        size_t n = unb64url(p, (size_t) (strchr(p, '.') - p), decoded, sizeof(decoded) - 1);
        decoded[n] = 0;
        assert_string_equal((char *) decoded, want);
}

static void test_json_string_render(void **state) {
        char s[2] = {0, 0}, out[STITCH_JSON_STRING_MAX(1) + 1];
        for (unsigned b = 1; b < 256; b++) {
                s[0] = (char) b;
                cJSON *j = cJSON_CreateString(s);
                assert_non_null(j);
                _cleanup_free_ char *want = cJSON_PrintUnformatted(j);
                cJSON_Delete(j);
                size_t n = stitch_json_string_render(s, 1, out);
                assert_true(n <= STITCH_JSON_STRING_MAX(1));
                assert_int_equal(stitch_json_string_render(s, 1, NULL), n);
                out[n] = 0;
                assert_string_equal(out, want);
        }
        static const char *strings[] = {"", "plain", "a\"b\\c/d", "\x01\x1f\x7f", "line\nbreak\r\ttab\b\f",
                                        "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80"};
        for (size_t i = 0; i < ELEMENTSOF(strings); i++) {
                cJSON *j = cJSON_CreateString(strings[i]);
                _cleanup_free_ char *want = cJSON_PrintUnformatted(j);
                cJSON_Delete(j);
                size_t len = strlen(strings[i]);
                _cleanup_free_ char *got = malloc(STITCH_JSON_STRING_MAX(len) + 1);
                assert_non_null(got);
                got[stitch_json_string_render(strings[i], len, got)] = 0;
                assert_string_equal(got, want);
        }
}

/* A kid may hold any printable character: the header escapes it as cJSON
 * would, and the token verifies. */
static void test_header_kid_escaped(void **state) {
        struct stitch_signing_key *k = key_new("ES256", NOW - 100);
        snprintf(k->kid, sizeof(k->kid), "%s", "a\"b\\c'd");
        _cleanup_(stitch_keyring_freep) struct stitch_keyring *kr = ring_of(k, NULL);
        struct stitch_claims c;
        fill_claims(&c);
        _cleanup_free_ char *token = NULL;
        assert_int_equal(stitch_jwt_sign(kr, &c, &token), 0);

        cJSON *h = cJSON_CreateObject();
        cJSON_AddStringToObject(h, "alg", "ES256");
        cJSON_AddStringToObject(h, "typ", "JWT");
        cJSON_AddStringToObject(h, "kid", k->kid);
        _cleanup_free_ char *want = cJSON_PrintUnformatted(h);
        cJSON_Delete(h);
        uint8_t decoded[256];
        size_t n = unb64url(token, (size_t) (strchr(token, '.') - token), decoded, sizeof(decoded) - 1);
        decoded[n] = 0;
        assert_string_equal((char *) decoded, want);
        assert_int_equal(verify_str(kr, token), 0);
        stitch_signing_key_free(k);
}

static void *worker_run(void *userdata) {
        struct worker *w = userdata;
        struct stitch_claims c;
        fill_claims(&c);

        for (int i = 0; i < w->iterations; i++) {
                if (w->sign) {
                        char *t = NULL;
                        if (stitch_jwt_sign(w->kr, &c, &t) < 0) {
                                w->failures++;
                                continue;
                        }
                        if (verify_str(w->kr, t) < 0)
                                w->failures++;
                        free(t);
                } else if (verify_str(w->kr, w->tokens[i % 2]) < 0)
                        w->failures++;
        }
        return NULL;
}

static void test_concurrency(void **state) {
        struct stitch_signing_key *a = key_new("ES256", NOW - 20), *b = key_new("HS256", NOW - 10);
        a->retired = NOW - 10;
        struct stitch_signing_key *ab[] = { b, a };
        _cleanup_(stitch_keyring_freep) struct stitch_keyring *kr = NULL;
        assert_int_equal(stitch_keyring_new(ab, 2, &kr), 0);

        /* Tokens under each key. */
        char *tokens[2] = {};
        struct stitch_claims c;
        fill_claims(&c);
        assert_int_equal(stitch_jwt_sign(kr, &c, &tokens[0]), 0); /* b */
        a->retired = 0;
        b->retired = NOW - 5;
        struct stitch_signing_key *ba[] = { a, b };
        assert_int_equal(stitch_keyring_reload(kr, ba, 2), 0);
        assert_int_equal(stitch_jwt_sign(kr, &c, &tokens[1]), 0); /* a */

        struct worker w[4];
        pthread_t th[4];
        for (size_t i = 0; i < ELEMENTSOF(w); i++) {
                w[i] = (struct worker) { .kr = kr, .tokens = { tokens[0], tokens[1] }, .sign = i % 2 == 0,
                                         .iterations = 300 };
                assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
        }
        /* Rotate back and forth while they work: both keys stay trusted throughout. */
        for (int i = 0; i < 200; i++) {
                bool flip = i % 2;
                a->retired = flip ? NOW : 0;
                b->retired = flip ? 0 : NOW;
                assert_int_equal(stitch_keyring_reload(kr, flip ? ab : ba, 2), 0);
                char kid[64];
                assert_int_equal(stitch_keyring_active(kr, kid, sizeof(kid), NULL, 0), 0);
                _cleanup_free_ char *jwks = NULL;
                assert_int_equal(stitch_keyring_jwks(kr, &jwks), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(w); i++) {
                assert_int_equal(pthread_join(th[i], NULL), 0);
                assert_int_equal(w[i].failures, 0);
        }

        free(tokens[0]);
        free(tokens[1]);
        stitch_signing_key_free(a);
        stitch_signing_key_free(b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_generate),
                cmocka_unit_test(test_es256_round_trip),
                cmocka_unit_test(test_hs256_round_trip),
                cmocka_unit_test(test_sign_rejects),
                cmocka_unit_test(test_structure),
                cmocka_unit_test(test_header_rejects),
                cmocka_unit_test(test_algorithm_confusion),
                cmocka_unit_test(test_signature_rejects),
                cmocka_unit_test(test_es256_malleability),
                cmocka_unit_test(test_claims_rejects),
                cmocka_unit_test(test_times),
                cmocka_unit_test(test_rotation),
                cmocka_unit_test(test_keyring_errors),
                cmocka_unit_test(test_jwks),
                cmocka_unit_test(test_concurrency),
                cmocka_unit_test(test_claims_text),
                cmocka_unit_test(test_json_string_render),
                cmocka_unit_test(test_header_kid_escaped),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
