/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for stitchd/core/jwt-verifier.c: tokens of other issuers.
 * Tokens and keys are made here with OpenSSL (tests/unit/jose-test-util.c),
 * independently of the code under test. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ec.h>

#include "core/jwt-verifier.h"
#include "jose-test-util.h"
#include "log.h"
#include "macro.h"

#define NOW INT64_C(1700000000)
#define APP "stitch-app"

static EVP_PKEY *rsa[3], *ec[3], *rsa_other, *ec_other, *rsa_small, *ec_p384;
static char *rsa_pem[3], *ec_pem[3];
static const char *hs[3] = {
        "0123456789abcdef0123456789abcdef-one",
        "0123456789abcdef0123456789abcdef-two",
        "0123456789abcdef0123456789abcdef-three",
};
static const char hs_other[] = "another-secret-another-secret-another";

static int setup(void **state) {
        stitch_log_set_max_level(LOG_CRIT);
        for (int i = 0; i < 3; i++) {
                rsa[i] = tu_rsa_new(2048);
                ec[i] = tu_ec_new();
                rsa_pem[i] = tu_public_pem(rsa[i]);
                ec_pem[i] = tu_public_pem(ec[i]);
        }
        rsa_other = tu_rsa_new(2048);
        ec_other = tu_ec_new();
        rsa_small = tu_rsa_new(1024);
        ec_p384 = EVP_EC_gen("P-384");
        assert_non_null(ec_p384);
        return 0;
}

static int teardown(void **state) {
        for (int i = 0; i < 3; i++) {
                EVP_PKEY_free(rsa[i]);
                EVP_PKEY_free(ec[i]);
                free(rsa_pem[i]);
                free(ec_pem[i]);
        }
        EVP_PKEY_free(rsa_other);
        EVP_PKEY_free(ec_other);
        EVP_PKEY_free(rsa_small);
        EVP_PKEY_free(ec_p384);
        return 0;
}

static const char *algs[] = { "HS256", "RS256", "ES256" };

/* A verifier for alg with key i (the AppId rule). */
static struct stitch_jwt_verifier *verifier_n(const char *alg, int n_keys) {
        struct stitch_jwt_verifier *v = NULL;
        int a = stitch_jose_alg_from_string(alg);
        assert_true(a >= 0);
        assert_int_equal(stitch_jwt_verifier_new(a, &v), 0);
        for (int i = 0; i < n_keys; i++) {
                if (a == STITCH_JOSE_HS256)
                        assert_int_equal(stitch_jwt_verifier_add_key(v, hs[i], strlen(hs[i])), 0);
                else {
                        const char *pem = a == STITCH_JOSE_RS256 ? rsa_pem[i] : ec_pem[i];
                        assert_int_equal(stitch_jwt_verifier_add_key(v, pem, strlen(pem)), 0);
                }
        }
        assert_int_equal(stitch_jwt_verifier_set_audience(v, NULL, false, APP), 0);
        return v;
}

static struct stitch_jwt_verifier *verifier(const char *alg) {
        return verifier_n(alg, 1);
}

/* A token for alg signed with key i (3: the key no verifier has). */
static char *token_i(const char *alg, int i, const char *header, const char *payload) {
        if (strcmp(alg, "HS256") == 0) {
                const char *s = i < 3 ? hs[i] : hs_other;
                return tu_token(header, payload, alg, NULL, s, strlen(s));
        }
        EVP_PKEY *k = strcmp(alg, "RS256") == 0 ? (i < 3 ? rsa[i] : rsa_other) : (i < 3 ? ec[i] : ec_other);
        return tu_token(header, payload, alg, k, NULL, 0);
}

static char *header_for(const char *alg) {
        static char h[128];
        snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
        return h;
}

static const char good_payload[] =
        "{\"sub\":\"24601\",\"aud\":\"" APP "\",\"iat\":1699999990,\"exp\":1700000600,\"name\":\"Jean\"}";

static int verify(struct stitch_jwt_verifier *v, const struct stitch_jwks *jwks, const char *token, int64_t now) {
        struct stitch_jwt_verified t = {};
        int r = stitch_jwt_verifier_verify(v, jwks, token, strlen(token), now, &t);
        if (r < 0)
                assert_null(t.claims); /* untouched on failure */
        stitch_jwt_verified_done(&t);
        return r;
}

/* payload with the given extra/overriding members appended after sub/aud. */
static char *payload_with(const char *members) {
        char *p = malloc(4096);
        assert_non_null(p);
        snprintf(p, 4096, "{%s}", members);
        return p;
}

/* ---- valid ------------------------------------------------------------------- */

static void test_valid_each_alg(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                struct stitch_jwt_verifier *v = verifier(algs[a]);
                char *t = token_i(algs[a], 0, header_for(algs[a]), good_payload);
                struct stitch_jwt_verified out = {};
                assert_int_equal(stitch_jwt_verifier_verify(v, NULL, t, strlen(t), NOW, &out), 0);
                assert_string_equal(out.subject, "24601");
                assert_int_equal(out.exp, 1700000600);
                assert_int_equal(out.iat, 1699999990);
                assert_int_equal(out.nbf, 0);
                assert_string_equal(out.key_id, "");
                assert_string_equal(cJSON_GetObjectItemCaseSensitive(out.claims, "name")->valuestring, "Jean");
                stitch_jwt_verified_done(&out);
                free(t);
                stitch_jwt_verifier_free(v);
        }
}

static void test_valid_hs256(void **state) {
        struct stitch_jwt_verifier *v = verifier("HS256");
        char *t = token_i("HS256", 0, "{\"alg\":\"HS256\"}", good_payload);
        assert_int_equal(verify(v, NULL, t, NOW), 0);
        free(t);
        stitch_jwt_verifier_free(v);
}

static void test_valid_rs256_and_es256_with_kid_in_file_mode(void **state) {
        /* With key files the kid is not needed and not used to pick. */
        for (size_t a = 1; a < ELEMENTSOF(algs); a++) {
                struct stitch_jwt_verifier *v = verifier(algs[a]);
                char h[128];
                snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"kid\":\"whatever\"}", algs[a]);
                char *t = token_i(algs[a], 0, h, good_payload);
                assert_int_equal(verify(v, NULL, t, NOW), 0);
                free(t);
                stitch_jwt_verifier_free(v);
        }
}

/* ---- wrong key, tampering ------------------------------------------------------ */

static void test_wrong_key(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                struct stitch_jwt_verifier *v = verifier(algs[a]);
                char *t = token_i(algs[a], 3, header_for(algs[a]), good_payload);
                assert_int_equal(verify(v, NULL, t, NOW), STITCH_JWT_SIGNATURE_INVALID);
                free(t);
                stitch_jwt_verifier_free(v);
        }
}

/* Replaces part (0 header, 1 payload) of a signed token by the encoding of text. */
static char *replace_part(const char *token, int part, const char *text) {
        const char *d1 = strchr(token, '.'), *d2 = strchr(d1 + 1, '.');
        char *enc = tu_b64url(text, strlen(text));
        char *out = malloc(strlen(token) + strlen(enc) + 4);
        assert_non_null(out);
        if (part == 0)
                snprintf(out, strlen(token) + strlen(enc) + 4, "%s%s", enc, d1);
        else
                snprintf(out, strlen(token) + strlen(enc) + 4, "%.*s.%s%s", (int) (d1 - token), token, enc, d2);
        free(enc);
        return out;
}

static void test_tampered_payload(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                struct stitch_jwt_verifier *v = verifier(algs[a]);
                char *t = token_i(algs[a], 0, header_for(algs[a]), good_payload);
                char *bad = replace_part(t, 1,
                                         "{\"sub\":\"1\",\"aud\":\"" APP "\",\"iat\":1699999990,\"exp\":1700000600}");
                assert_int_equal(verify(v, NULL, bad, NOW), STITCH_JWT_SIGNATURE_INVALID);
                free(bad);
                free(t);
                stitch_jwt_verifier_free(v);
        }
}

static void test_tampered_header(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                struct stitch_jwt_verifier *v = verifier(algs[a]);
                char *t = token_i(algs[a], 0, header_for(algs[a]), good_payload);
                char h[128];
                snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"x\"}", algs[a]);
                char *bad = replace_part(t, 0, h);
                assert_int_equal(verify(v, NULL, bad, NOW), STITCH_JWT_SIGNATURE_INVALID);
                free(bad);
                free(t);
                stitch_jwt_verifier_free(v);
        }
}

static void test_tampered_signature(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                struct stitch_jwt_verifier *v = verifier(algs[a]);
                char *t = token_i(algs[a], 0, header_for(algs[a]), good_payload);
                char *s = strrchr(t, '.') + 1;
                s[0] = s[0] == 'A' ? 'B' : 'A';
                assert_int_equal(verify(v, NULL, t, NOW), STITCH_JWT_SIGNATURE_INVALID);
                /* Truncated by one character: no longer the right length. */
                t[strlen(t) - 1] = 0;
                assert_true(verify(v, NULL, t, NOW) < 0);
                free(t);
                stitch_jwt_verifier_free(v);
        }
}

/* ---- algorithms ---------------------------------------------------------------- */

static void test_alg_none(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                struct stitch_jwt_verifier *v = verifier(algs[a]);
                char *t = tu_token("{\"alg\":\"none\"}", good_payload, "none", NULL, NULL, 0);
                assert_int_equal(verify(v, NULL, t, NOW), STITCH_JWT_ALGORITHM_NOT_ALLOWED);
                free(t);
                /* "none" with a signature stuck on (a real one for another header) */
                char *real = token_i(algs[a], 0, header_for(algs[a]), good_payload);
                char *bad = replace_part(real, 0, "{\"alg\":\"none\"}");
                assert_int_equal(verify(v, NULL, bad, NOW), STITCH_JWT_ALGORITHM_NOT_ALLOWED);
                free(bad);
                free(real);
                stitch_jwt_verifier_free(v);
        }
}

static void test_alg_case_and_spelling(void **state) {
        struct stitch_jwt_verifier *v = verifier("HS256");
        const char *headers[] = { "{\"alg\":\"hs256\"}", "{\"alg\":\"HS256 \"}", "{\"alg\":\"HS384\"}",
                                  "{\"alg\":\"HS512\"}", "{\"alg\":\"None\"}", "{\"alg\":\"\"}" };
        for (size_t i = 0; i < ELEMENTSOF(headers); i++) {
                char *t = tu_token(headers[i], good_payload, "HS256", NULL, hs[0], strlen(hs[0]));
                assert_int_equal(verify(v, NULL, t, NOW), STITCH_JWT_ALGORITHM_NOT_ALLOWED);
                free(t);
        }
        /* alg missing or not a string */
        char *t = tu_token("{\"typ\":\"JWT\"}", good_payload, "HS256", NULL, hs[0], strlen(hs[0]));
        assert_int_equal(verify(v, NULL, t, NOW), STITCH_JWT_MALFORMED);
        free(t);
        t = tu_token("{\"alg\":256}", good_payload, "HS256", NULL, hs[0], strlen(hs[0]));
        assert_int_equal(verify(v, NULL, t, NOW), STITCH_JWT_MALFORMED);
        free(t);
        stitch_jwt_verifier_free(v);
}

static void test_alg_mismatch(void **state) {
        /* An RS256 (or ES256) token where HS256 is configured, and every other pair. */
        for (size_t c = 0; c < ELEMENTSOF(algs); c++)
                for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                        if (a == c)
                                continue;
                        struct stitch_jwt_verifier *v = verifier(algs[c]);
                        char *t = token_i(algs[a], 0, header_for(algs[a]), good_payload);
                        assert_int_equal(verify(v, NULL, t, NOW), STITCH_JWT_ALGORITHM_NOT_ALLOWED);
                        free(t);
                        stitch_jwt_verifier_free(v);
                }
}

static void test_key_confusion(void **state) {
        /* The attacker knows the RSA public key and MACs a token with its PEM
         * text as the HMAC secret, as in the classic attack. */
        struct stitch_jwt_verifier *v = verifier("RS256");
        char *t = tu_token("{\"alg\":\"HS256\"}", good_payload, "HS256", NULL, rsa_pem[0], strlen(rsa_pem[0]));
        assert_int_equal(verify(v, NULL, t, NOW), STITCH_JWT_ALGORITHM_NOT_ALLOWED);
        stitch_jwt_verifier_free(v);

        /* And the configuration cannot make the public key an HMAC secret. */
        assert_int_equal(stitch_jwt_verifier_new(STITCH_JOSE_HS256, &v), 0);
        assert_int_equal(stitch_jwt_verifier_add_key(v, rsa_pem[0], strlen(rsa_pem[0])), -EKEYREJECTED);
        assert_int_equal(stitch_jwt_verifier_add_key(v, hs[0], strlen(hs[0])), 0);
        assert_int_equal(stitch_jwt_verifier_set_audience(v, NULL, false, APP), 0);
        assert_int_equal(verify(v, NULL, t, NOW), STITCH_JWT_SIGNATURE_INVALID);
        free(t);
        stitch_jwt_verifier_free(v);
}

static void test_es256_signature_forms(void **state) {
        struct stitch_jwt_verifier *v = verifier("ES256");
        char *t = token_i("ES256", 0, header_for("ES256"), good_payload);
        char *dot = strrchr(t, '.');

        /* The DER form OpenSSL produces is not a JWS signature. */
        uint8_t der[80];
        size_t der_len = sizeof(der);
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, ec[0], NULL), 1);
        assert_int_equal(EVP_DigestSign(m, der, &der_len, (const uint8_t *) t, (size_t) (dot - t)), 1);
        EVP_MD_CTX_free(m);
        char *der_b64 = tu_b64url(der, der_len);
        char bad[2048];
        snprintf(bad, sizeof(bad), "%.*s.%s", (int) (dot - t), t, der_b64);
        assert_int_equal(verify(v, NULL, bad, NOW), STITCH_JWT_SIGNATURE_INVALID);
        free(der_b64);

        /* 63 and 65 bytes */
        uint8_t raw[65] = { 1 };
        for (size_t n = 63; n <= 65; n += 2) {
                char *s = tu_b64url(raw, n);
                snprintf(bad, sizeof(bad), "%.*s.%s", (int) (dot - t), t, s);
                assert_int_equal(verify(v, NULL, bad, NOW), STITCH_JWT_SIGNATURE_INVALID);
                free(s);
        }
        /* All zero r and s */
        memset(raw, 0, sizeof(raw));
        char *s = tu_b64url(raw, 64);
        snprintf(bad, sizeof(bad), "%.*s.%s", (int) (dot - t), t, s);
        assert_int_equal(verify(v, NULL, bad, NOW), STITCH_JWT_SIGNATURE_INVALID);
        free(s);
        free(t);
        stitch_jwt_verifier_free(v);
}

static void test_key_kinds_refused(void **state) {
        struct stitch_jwt_verifier *v = NULL;
        char *small = tu_public_pem(rsa_small), *p384 = tu_public_pem(ec_p384);

        assert_int_equal(stitch_jwt_verifier_new(STITCH_JOSE_RS256, &v), 0);
        assert_int_equal(stitch_jwt_verifier_add_key(v, small, strlen(small)), -EKEYREJECTED);
        assert_int_equal(stitch_jwt_verifier_add_key(v, ec_pem[0], strlen(ec_pem[0])), -EKEYREJECTED);
        assert_int_equal(stitch_jwt_verifier_add_key(v, hs[0], strlen(hs[0])), -EKEYREJECTED);
        assert_int_equal(stitch_jwt_verifier_add_key(v, "", 0), -EKEYREJECTED);
        stitch_jwt_verifier_free(v);

        assert_int_equal(stitch_jwt_verifier_new(STITCH_JOSE_ES256, &v), 0);
        assert_int_equal(stitch_jwt_verifier_add_key(v, p384, strlen(p384)), -EKEYREJECTED);
        assert_int_equal(stitch_jwt_verifier_add_key(v, rsa_pem[0], strlen(rsa_pem[0])), -EKEYREJECTED);
        stitch_jwt_verifier_free(v);

        assert_int_equal(stitch_jwt_verifier_new(STITCH_JOSE_HS256, &v), 0);
        assert_int_equal(stitch_jwt_verifier_add_key(v, "short-secret", 12), -EKEYREJECTED);
        assert_int_equal(stitch_jwt_verifier_add_key(v, "0123456789abcdef0123456789abcde", 31), -EKEYREJECTED);
        assert_int_equal(stitch_jwt_verifier_add_key(v, "0123456789abcdef0123456789abcdef", 32), 0);
        assert_int_equal(stitch_jwt_verifier_use_jwks(v), -EINVAL); /* HS256 keys are never fetched */
        stitch_jwt_verifier_free(v);

        /* Not set up: no keys, no audience rule. */
        assert_int_equal(stitch_jwt_verifier_new(STITCH_JOSE_HS256, &v), 0);
        assert_int_equal(verify(v, NULL, "a.b.c", NOW), -EINVAL);
        assert_int_equal(stitch_jwt_verifier_add_key(v, hs[0], strlen(hs[0])), 0);
        assert_int_equal(verify(v, NULL, "a.b.c", NOW), -EINVAL);
        assert_int_equal(stitch_jwt_verifier_set_audience(v, NULL, false, NULL), -EINVAL);
        assert_int_equal(stitch_jwt_verifier_set_audience(v, NULL, false, ""), -EINVAL);
        stitch_jwt_verifier_free(v);
        assert_int_equal(stitch_jwt_verifier_new(_STITCH_JOSE_ALG_MAX, &v), -EINVAL);
        free(small);
        free(p384);
}

/* ---- times --------------------------------------------------------------------- */

static int verify_payload(const char *alg, const char *members, int64_t now) {
        struct stitch_jwt_verifier *v = verifier(alg);
        char *p = payload_with(members);
        char *t = token_i(alg, 0, header_for(alg), p);
        int r = verify(v, NULL, t, now);
        free(t);
        free(p);
        stitch_jwt_verifier_free(v);
        return r;
}

#define BASE "\"sub\":\"s\",\"aud\":\"" APP "\""

static void test_expired(void **state) {
        assert_int_equal(verify_payload("HS256", BASE ",\"exp\":1699990000", NOW), STITCH_JWT_EXPIRED);
        assert_int_equal(verify_payload("RS256", BASE ",\"exp\":1699990000", NOW), STITCH_JWT_EXPIRED);
        /* Exactly at exp + leeway: expired; one second before: fine. */
        assert_int_equal(verify_payload("HS256", BASE ",\"exp\":1699999940", NOW), STITCH_JWT_EXPIRED);
        assert_int_equal(verify_payload("HS256", BASE ",\"exp\":1699999941", NOW), 0);
}

static void test_exp_required_and_typed(void **state) {
        assert_int_equal(verify_payload("HS256", BASE, NOW), STITCH_JWT_CLAIM_INVALID);
        assert_int_equal(verify_payload("HS256", BASE ",\"exp\":\"1700000600\"", NOW), STITCH_JWT_CLAIM_INVALID);
        assert_int_equal(verify_payload("HS256", BASE ",\"exp\":1700000600.5", NOW), STITCH_JWT_CLAIM_INVALID);
        assert_int_equal(verify_payload("HS256", BASE ",\"exp\":-1", NOW), STITCH_JWT_CLAIM_INVALID);
        assert_int_equal(verify_payload("HS256", BASE ",\"exp\":1e300", NOW), STITCH_JWT_CLAIM_INVALID);
        assert_int_equal(verify_payload("HS256", BASE ",\"exp\":null", NOW), STITCH_JWT_CLAIM_INVALID);
        assert_int_equal(verify_payload("HS256", BASE ",\"exp\":1700000600,\"nbf\":\"x\"", NOW),
                         STITCH_JWT_CLAIM_INVALID);
        assert_int_equal(verify_payload("HS256", BASE ",\"exp\":1700000600,\"iat\":true", NOW),
                         STITCH_JWT_CLAIM_INVALID);
}

static void test_nbf(void **state) {
        assert_int_equal(verify_payload("ES256", BASE ",\"exp\":1700000600,\"nbf\":1700000100", NOW),
                         STITCH_JWT_NOT_YET_VALID);
        /* within the leeway */
        assert_int_equal(verify_payload("ES256", BASE ",\"exp\":1700000600,\"nbf\":1700000060", NOW), 0);
        assert_int_equal(verify_payload("ES256", BASE ",\"exp\":1700000600,\"nbf\":1700000061", NOW),
                         STITCH_JWT_NOT_YET_VALID);
}

static void test_iat_future(void **state) {
        assert_int_equal(verify_payload("RS256", BASE ",\"exp\":1700000600,\"iat\":1700000500", NOW),
                         STITCH_JWT_ISSUED_IN_FUTURE);
        assert_int_equal(verify_payload("RS256", BASE ",\"exp\":1700000600,\"iat\":1700000060", NOW), 0);
        assert_int_equal(verify_payload("RS256", BASE ",\"exp\":1700000600,\"iat\":1700000061", NOW),
                         STITCH_JWT_ISSUED_IN_FUTURE);
}

static void test_leeway_setting(void **state) {
        struct stitch_jwt_verifier *v = verifier("HS256");
        char *t = token_i("HS256", 0, header_for("HS256"), "{" BASE ",\"exp\":1699999990}");
        assert_int_equal(verify(v, NULL, t, NOW), 0);
        assert_int_equal(stitch_jwt_verifier_set_leeway(v, 0), 0);
        assert_int_equal(verify(v, NULL, t, NOW), STITCH_JWT_EXPIRED);
        assert_int_equal(verify(v, NULL, t, 1699999989), 0);
        assert_int_equal(stitch_jwt_verifier_set_leeway(v, STITCH_JWT_VERIFIER_LEEWAY_MAX + 1), -EINVAL);
        assert_int_equal(stitch_jwt_verifier_set_leeway(v, -1), -EINVAL);
        free(t);
        stitch_jwt_verifier_free(v);
}

/* ---- audience ------------------------------------------------------------------ */

static int verify_aud(char **audiences, bool any, const char *aud_json) {
        struct stitch_jwt_verifier *v = verifier("HS256");
        char members[1024];
        assert_int_equal(stitch_jwt_verifier_set_audience(v, audiences, any, APP), 0);
        if (aud_json)
                snprintf(members, sizeof(members), "\"sub\":\"s\",\"exp\":1700000600,\"aud\":%s", aud_json);
        else
                snprintf(members, sizeof(members), "\"sub\":\"s\",\"exp\":1700000600");
        char *p = payload_with(members);
        char *t = token_i("HS256", 0, header_for("HS256"), p);
        int r = verify(v, NULL, t, NOW);
        free(t);
        free(p);
        stitch_jwt_verifier_free(v);
        return r;
}

static void test_aud_app_id_rule(void **state) {
        assert_int_equal(verify_aud(NULL, false, "\"" APP "\""), 0);
        assert_int_equal(verify_aud(NULL, false, "[\"other\",\"" APP "\"]"), 0);
        assert_int_equal(verify_aud(NULL, false, "\"other\""), STITCH_JWT_AUDIENCE_MISMATCH);
        assert_int_equal(verify_aud(NULL, false, "[\"other\"]"), STITCH_JWT_AUDIENCE_MISMATCH);
        assert_int_equal(verify_aud(NULL, false, "\"STITCH-APP\""), STITCH_JWT_AUDIENCE_MISMATCH);
        /* RequireAnyAudience does not matter without Audience= */
        assert_int_equal(verify_aud(NULL, true, "\"other\""), STITCH_JWT_AUDIENCE_MISMATCH);
}

static void test_aud_types(void **state) {
        assert_int_equal(verify_aud(NULL, false, NULL), STITCH_JWT_CLAIM_INVALID);
        assert_int_equal(verify_aud(NULL, false, "[]"), STITCH_JWT_CLAIM_INVALID);
        assert_int_equal(verify_aud(NULL, false, "[\"" APP "\",1]"), STITCH_JWT_CLAIM_INVALID);
        assert_int_equal(verify_aud(NULL, false, "{\"" APP "\":true}"), STITCH_JWT_CLAIM_INVALID);
        assert_int_equal(verify_aud(NULL, false, "null"), STITCH_JWT_CLAIM_INVALID);
}

static void test_aud_all_configured(void **state) {
        char *want[] = { (char *) "api", (char *) "web", NULL };
        assert_int_equal(verify_aud(want, false, "[\"web\",\"api\"]"), 0);
        assert_int_equal(verify_aud(want, false, "[\"web\",\"api\",\"extra\"]"), 0);
        assert_int_equal(verify_aud(want, false, "[\"web\"]"), STITCH_JWT_AUDIENCE_MISMATCH);
        assert_int_equal(verify_aud(want, false, "\"api\""), STITCH_JWT_AUDIENCE_MISMATCH);
        /* With Audience= set the AppId plays no part. */
        assert_int_equal(verify_aud(want, false, "\"" APP "\""), STITCH_JWT_AUDIENCE_MISMATCH);
        char *one[] = { (char *) "api", NULL };
        assert_int_equal(verify_aud(one, false, "\"api\""), 0);
}

static void test_aud_require_any(void **state) {
        char *want[] = { (char *) "api", (char *) "web", NULL };
        assert_int_equal(verify_aud(want, true, "\"web\""), 0);
        assert_int_equal(verify_aud(want, true, "[\"x\",\"api\"]"), 0);
        assert_int_equal(verify_aud(want, true, "[\"x\",\"y\"]"), STITCH_JWT_AUDIENCE_MISMATCH);
        assert_int_equal(verify_aud(want, true, "\"" APP "\""), STITCH_JWT_AUDIENCE_MISMATCH);
}

static void test_google_issuer(void **state) {
        const char *cases[][2] = {
                { "\"iss\":\"accounts.google.com\",", "0" },
                { "\"iss\":\"https://accounts.google.com\",", "0" },
                { "\"iss\":\"http://accounts.google.com\",", "1" },
                { "\"iss\":\"https://accounts.google.com.evil\",", "1" },
                { "\"iss\":[\"accounts.google.com\"],", "1" },
                { "", "1" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct stitch_jwt_verifier *v = verifier("RS256");
                char *client[] = { (char *) "web.apps.googleusercontent.com", (char *) "tv.apps.googleusercontent.com",
                                   NULL };
                assert_int_equal(stitch_jwt_verifier_set_issuers(v, stitch_google_issuers), 0);
                assert_int_equal(stitch_jwt_verifier_set_audience(v, client, true, NULL), 0);
                char p[512];
                snprintf(p, sizeof(p), "{%s\"sub\":\"1093\",\"aud\":\"tv.apps.googleusercontent.com\",\"exp\":1700000600}",
                         cases[i][0]);
                char *t = token_i("RS256", 0, header_for("RS256"), p);
                assert_int_equal(verify(v, NULL, t, NOW), cases[i][1][0] == '0' ? 0 : STITCH_JWT_ISSUER_MISMATCH);
                free(t);
                stitch_jwt_verifier_free(v);
        }
}

/* ---- sub ----------------------------------------------------------------------- */

static void test_sub(void **state) {
        assert_int_equal(verify_payload("HS256", "\"aud\":\"" APP "\",\"exp\":1700000600", NOW), STITCH_JWT_CLAIM_INVALID);
        assert_int_equal(verify_payload("HS256", "\"sub\":24601,\"aud\":\"" APP "\",\"exp\":1700000600", NOW),
                         STITCH_JWT_CLAIM_INVALID);
        assert_int_equal(verify_payload("HS256", "\"sub\":\"\",\"aud\":\"" APP "\",\"exp\":1700000600", NOW),
                         STITCH_JWT_CLAIM_INVALID);
        assert_int_equal(verify_payload("HS256", "\"sub\":\"a\\u0001b\",\"aud\":\"" APP "\",\"exp\":1700000600", NOW),
                         STITCH_JWT_CLAIM_INVALID);
        assert_int_equal(verify_payload("HS256", "\"sub\":\"a\\u0000b\",\"aud\":\"" APP "\",\"exp\":1700000600", NOW),
                         STITCH_JWT_MALFORMED);

        char members[1024], sub[300];
        memset(sub, 'x', sizeof(sub));
        sub[STITCH_JWT_SUBJECT_MAX] = 0;
        snprintf(members, sizeof(members), "\"sub\":\"%s\",\"aud\":\"" APP "\",\"exp\":1700000600", sub);
        assert_int_equal(verify_payload("HS256", members, NOW), 0);
        sub[STITCH_JWT_SUBJECT_MAX] = 'x';
        sub[STITCH_JWT_SUBJECT_MAX + 1] = 0;
        snprintf(members, sizeof(members), "\"sub\":\"%s\",\"aud\":\"" APP "\",\"exp\":1700000600", sub);
        assert_int_equal(verify_payload("HS256", members, NOW), STITCH_JWT_CLAIM_INVALID);
}

/* ---- JWKS ---------------------------------------------------------------------- */

static struct stitch_jwks *jwks_of(enum stitch_jose_alg alg, const char *extra_entry) {
        char doc[16384];
        size_t n = 0;
        n += (size_t) snprintf(doc + n, sizeof(doc) - n, "{\"keys\":[");
        for (int i = 0; i < 2; i++) {
                char *m = tu_jwk_members(alg == STITCH_JOSE_RS256 ? rsa[i] : ec[i]);
                n += (size_t) snprintf(doc + n, sizeof(doc) - n, "%s{%s,\"kid\":\"k%d\",\"use\":\"sig\"}", i ? "," : "",
                                       m, i);
                free(m);
        }
        if (extra_entry)
                n += (size_t) snprintf(doc + n, sizeof(doc) - n, ",%s", extra_entry);
        n += (size_t) snprintf(doc + n, sizeof(doc) - n, "]}");
        assert_true(n < sizeof(doc));
        struct stitch_jwks *s = NULL;
        assert_int_equal(stitch_jwks_parse(doc, n, alg, &s), 0);
        return s;
}

static struct stitch_jwt_verifier *jwks_verifier(enum stitch_jose_alg alg) {
        struct stitch_jwt_verifier *v = NULL;
        assert_int_equal(stitch_jwt_verifier_new(alg, &v), 0);
        assert_int_equal(stitch_jwt_verifier_use_jwks(v), 0);
        assert_int_equal(stitch_jwt_verifier_add_key(v, rsa_pem[0], strlen(rsa_pem[0])), -EINVAL);
        assert_int_equal(stitch_jwt_verifier_set_audience(v, NULL, false, APP), 0);
        return v;
}

static void test_jwks_kid_selection(void **state) {
        for (size_t a = 1; a < ELEMENTSOF(algs); a++) {
                enum stitch_jose_alg alg = (enum stitch_jose_alg) stitch_jose_alg_from_string(algs[a]);
                struct stitch_jwks *s = jwks_of(alg, NULL);
                struct stitch_jwt_verifier *v = jwks_verifier(alg);
                char h[128];

                snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"kid\":\"k1\"}", algs[a]);
                char *t = token_i(algs[a], 1, h, good_payload);
                struct stitch_jwt_verified out = {};
                assert_int_equal(stitch_jwt_verifier_verify(v, s, t, strlen(t), NOW, &out), 0);
                assert_string_equal(out.key_id, "k1");
                stitch_jwt_verified_done(&out);
                free(t);

                /* kid names k0, signed by k1's key: k0 is used, and fails. */
                snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"kid\":\"k0\"}", algs[a]);
                t = token_i(algs[a], 1, h, good_payload);
                assert_int_equal(verify(v, s, t, NOW), STITCH_JWT_SIGNATURE_INVALID);
                free(t);

                snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"kid\":\"k9\"}", algs[a]);
                t = token_i(algs[a], 2, h, good_payload);
                assert_int_equal(verify(v, s, t, NOW), STITCH_JWT_UNKNOWN_KEY_ID);
                /* No set yet: the same answer, so the caller fetches one. */
                assert_int_equal(verify(v, NULL, t, NOW), STITCH_JWT_UNKNOWN_KEY_ID);
                free(t);

                t = token_i(algs[a], 0, header_for(algs[a]), good_payload);
                assert_int_equal(verify(v, s, t, NOW), STITCH_JWT_KEY_ID_MISSING);
                free(t);

                snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"kid\":7}", algs[a]);
                t = token_i(algs[a], 0, h, good_payload);
                assert_int_equal(verify(v, s, t, NOW), STITCH_JWT_MALFORMED);
                free(t);

                stitch_jwt_verifier_free(v);
                stitch_jwks_unref(s);
        }
}

static void test_jwks_use_enc_skipped(void **state) {
        char *m = tu_jwk_members(rsa[2]);
        char entry[4096];
        snprintf(entry, sizeof(entry), "{%s,\"kid\":\"enc\",\"use\":\"enc\"}", m);
        free(m);
        struct stitch_jwks *s = jwks_of(STITCH_JOSE_RS256, entry);
        assert_int_equal(stitch_jwks_size(s), 2);
        struct stitch_jwt_verifier *v = jwks_verifier(STITCH_JOSE_RS256);
        char *t = token_i("RS256", 2, "{\"alg\":\"RS256\",\"kid\":\"enc\"}", good_payload);
        assert_int_equal(verify(v, s, t, NOW), STITCH_JWT_UNKNOWN_KEY_ID);
        free(t);
        stitch_jwt_verifier_free(v);
        stitch_jwks_unref(s);
}

static void test_jwks_alg_of_set_must_match(void **state) {
        struct stitch_jwks *s = jwks_of(STITCH_JOSE_ES256, NULL);
        struct stitch_jwt_verifier *v = jwks_verifier(STITCH_JOSE_RS256);
        char *t = token_i("RS256", 0, "{\"alg\":\"RS256\",\"kid\":\"k0\"}", good_payload);
        assert_int_equal(verify(v, s, t, NOW), -EINVAL);
        free(t);
        stitch_jwt_verifier_free(v);
        stitch_jwks_unref(s);
}

/* ---- rotation ------------------------------------------------------------------ */

static void test_rotation_three_keys(void **state) {
        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                struct stitch_jwt_verifier *v = verifier_n(algs[a], 3);
                for (int i = 0; i < 3; i++) {
                        char *t = token_i(algs[a], i, header_for(algs[a]), good_payload);
                        assert_int_equal(verify(v, NULL, t, NOW), 0);
                        free(t);
                }
                char *t = token_i(algs[a], 3, header_for(algs[a]), good_payload);
                assert_int_equal(verify(v, NULL, t, NOW), STITCH_JWT_SIGNATURE_INVALID);
                free(t);
                /* A fourth key is refused. */
                if (a == 0)
                        assert_int_equal(stitch_jwt_verifier_add_key(v, hs_other, strlen(hs_other)), -E2BIG);
                else
                        assert_int_equal(stitch_jwt_verifier_add_key(v, rsa_pem[0], strlen(rsa_pem[0])), -E2BIG);
                stitch_jwt_verifier_free(v);
        }
}

/* ---- malformed ----------------------------------------------------------------- */

static void test_malformed_segments(void **state) {
        struct stitch_jwt_verifier *v = verifier("HS256");
        char *t = token_i("HS256", 0, header_for("HS256"), good_payload);
        char buf[4096];
        const char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');

        /* two segments */
        snprintf(buf, sizeof(buf), "%.*s", (int) (d2 - t), t);
        assert_int_equal(verify(v, NULL, buf, NOW), STITCH_JWT_MALFORMED);
        /* four segments */
        snprintf(buf, sizeof(buf), "%s.AAAA", t);
        assert_int_equal(verify(v, NULL, buf, NOW), STITCH_JWT_MALFORMED);
        /* five (a JWE) */
        snprintf(buf, sizeof(buf), "%s.AAAA.AAAA", t);
        assert_int_equal(verify(v, NULL, buf, NOW), STITCH_JWT_MALFORMED);
        /* empty header or payload */
        snprintf(buf, sizeof(buf), "%s", d1);
        assert_int_equal(verify(v, NULL, buf, NOW), STITCH_JWT_MALFORMED);
        snprintf(buf, sizeof(buf), "%.*s.%s", (int) (d1 - t), t, d2);
        assert_int_equal(verify(v, NULL, buf, NOW), STITCH_JWT_MALFORMED);
        assert_int_equal(verify(v, NULL, "", NOW), STITCH_JWT_MALFORMED);
        assert_int_equal(verify(v, NULL, "..", NOW), STITCH_JWT_MALFORMED);
        free(t);
        stitch_jwt_verifier_free(v);
}

static void test_malformed_base64(void **state) {
        struct stitch_jwt_verifier *v = verifier("HS256");
        char *t = token_i("HS256", 0, header_for("HS256"), good_payload);
        char buf[4096];
        const char *d1 = strchr(t, '.');

        /* padding, standard alphabet, white space, bad characters */
        const char *inserts[] = { "=", "==", "+", "/", " ", "\n", "%", "\xc3\xa9" };
        for (size_t i = 0; i < ELEMENTSOF(inserts); i++) {
                snprintf(buf, sizeof(buf), "%.*s%s%s", (int) (d1 - t), t, inserts[i], d1);
                assert_int_equal(verify(v, NULL, buf, NOW), STITCH_JWT_MALFORMED);
        }
        /* padding on the signature */
        snprintf(buf, sizeof(buf), "%s=", t);
        assert_int_equal(verify(v, NULL, buf, NOW), STITCH_JWT_MALFORMED);
        /* a length no base64 has (4k+1) */
        snprintf(buf, sizeof(buf), "%.*sA%s", (int) (d1 - t), t, d1);
        assert_true(verify(v, NULL, buf, NOW) < 0);
        /* Non-canonical: "{}" is e30, "e31" decodes the same with stray low bits. */
        char *sig = tu_token("{\"alg\":\"HS256\"}", "{}", "HS256", NULL, hs[0], strlen(hs[0]));
        char *p = strstr(sig, ".e30.");
        assert_non_null(p);
        p[3] = '1';
        assert_int_equal(verify(v, NULL, sig, NOW), STITCH_JWT_SIGNATURE_INVALID); /* input changed */
        free(sig);
        free(t);
        stitch_jwt_verifier_free(v);
}

static void test_malformed_json(void **state) {
        struct stitch_jwt_verifier *v = verifier("HS256");
        const char *bad_headers[] = {
                "not json", "[\"HS256\"]", "\"HS256\"", "{\"alg\":\"HS256\"", "{\"alg\":\"HS256\"} x",
                "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", "{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}",
                "{\"alg\":\"HS256\",\"typ\":1}", "{\"alg\":\"HS256\",\"zip\":\"DEF\"}", "{\"alg\":\"HS256\",\"kid\":\"\"}",
                "{\"alg\":\"HS256\",\"kid\":\"a b\"}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_headers); i++) {
                char *t = tu_token(bad_headers[i], good_payload, "HS256", NULL, hs[0], strlen(hs[0]));
                assert_int_equal(verify(v, NULL, t, NOW), STITCH_JWT_MALFORMED);
                free(t);
        }
        /* Signed payloads that are not one JSON object. */
        const char *bad_payloads[] = {
                "[]", "\"x\"", "12", "{\"sub\":\"a\",\"sub\":\"b\",\"aud\":\"" APP "\",\"exp\":1700000600}",
                "{\"sub\":\"a\",\"aud\":\"" APP "\",\"exp\":1700000600", "{\"a\":\"\xff\"}",
                "{\"a\":\"x\ty\"}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_payloads); i++) {
                char *t = tu_token("{\"alg\":\"HS256\"}", bad_payloads[i], "HS256", NULL, hs[0], strlen(hs[0]));
                assert_int_equal(verify(v, NULL, t, NOW), STITCH_JWT_MALFORMED);
                free(t);
        }
        stitch_jwt_verifier_free(v);
}

static void test_nul_and_huge(void **state) {
        struct stitch_jwt_verifier *v = verifier("HS256");
        char *t = token_i("HS256", 0, header_for("HS256"), good_payload);
        size_t n = strlen(t);
        struct stitch_jwt_verified out = {};

        /* The token followed by a NUL and more: the length says it all counts. */
        char *withnul = malloc(n + 3);
        memcpy(withnul, t, n);
        withnul[n] = 0;
        withnul[n + 1] = 'A';
        assert_int_equal(stitch_jwt_verifier_verify(v, NULL, withnul, n + 2, NOW, &out), STITCH_JWT_MALFORMED);
        assert_int_equal(stitch_jwt_verifier_verify(v, NULL, withnul, n, NOW, &out), 0);
        stitch_jwt_verified_done(&out);
        free(withnul);

        /* Over the limit: refused before anything is decoded. */
        char *big = malloc(STITCH_JWT_VERIFIER_MAX_TOKEN + 2);
        memset(big, 'A', STITCH_JWT_VERIFIER_MAX_TOKEN + 1);
        big[STITCH_JWT_VERIFIER_MAX_TOKEN + 1] = 0;
        assert_int_equal(verify(v, NULL, big, NOW), STITCH_JWT_TOO_LARGE);
        free(big);

        /* A signed token with a payload just under the limit still works. */
        char *p = malloc(STITCH_JWT_VERIFIER_MAX_TOKEN);
        int k = snprintf(p, STITCH_JWT_VERIFIER_MAX_TOKEN, "{" BASE ",\"exp\":1700000600,\"pad\":\"");
        memset(p + k, 'p', 11000);
        snprintf(p + k + 11000, STITCH_JWT_VERIFIER_MAX_TOKEN - (size_t) k - 11000, "\"}");
        char *t2 = token_i("HS256", 0, header_for("HS256"), p);
        assert_true(strlen(t2) < STITCH_JWT_VERIFIER_MAX_TOKEN);
        assert_int_equal(verify(v, NULL, t2, NOW), 0);
        free(t2);
        /* and over it */
        memset(p + k, 'p', 13000);
        snprintf(p + k + 13000, STITCH_JWT_VERIFIER_MAX_TOKEN - (size_t) k - 13000, "\"}");
        t2 = token_i("HS256", 0, header_for("HS256"), p);
        assert_int_equal(verify(v, NULL, t2, NOW), STITCH_JWT_TOO_LARGE);
        free(t2);
        free(p);

        /* Deep nesting in the claims. */
        char deep[600];
        int d = snprintf(deep, sizeof(deep), "{" BASE ",\"exp\":1700000600,\"x\":");
        for (int i = 0; i < 40; i++)
                deep[d++] = '[';
        for (int i = 0; i < 40; i++)
                deep[d++] = ']';
        deep[d++] = '}';
        deep[d] = 0;
        t2 = token_i("HS256", 0, header_for("HS256"), deep);
        assert_int_equal(verify(v, NULL, t2, NOW), STITCH_JWT_MALFORMED);
        free(t2);
        free(t);
        stitch_jwt_verifier_free(v);
}

/* ---- messages, key files ----------------------------------------------------------- */

static void test_error_messages(void **state) {
        const int codes[] = { STITCH_JWT_MALFORMED, STITCH_JWT_TOO_LARGE, STITCH_JWT_ALGORITHM_NOT_ALLOWED,
                              STITCH_JWT_KEY_ID_MISSING, STITCH_JWT_UNKNOWN_KEY_ID, STITCH_JWT_SIGNATURE_INVALID,
                              STITCH_JWT_CLAIM_INVALID, STITCH_JWT_EXPIRED, STITCH_JWT_NOT_YET_VALID,
                              STITCH_JWT_ISSUED_IN_FUTURE, STITCH_JWT_AUDIENCE_MISMATCH, STITCH_JWT_ISSUER_MISMATCH };
        for (size_t i = 0; i < ELEMENTSOF(codes); i++) {
                assert_true(codes[i] < 0);
                for (size_t j = 0; j < i; j++) {
                        assert_int_not_equal(codes[i], codes[j]);
                        assert_string_not_equal(stitch_jwt_error_to_string(codes[i]),
                                                stitch_jwt_error_to_string(codes[j]));
                }
        }
        assert_string_equal(stitch_jwt_error_to_string(STITCH_JWT_EXPIRED), "token expired");
        assert_string_equal(stitch_jwt_error_to_string(STITCH_JWT_UNKNOWN_KEY_ID), "unknown key id");
        assert_string_equal(stitch_jwt_error_to_string(-EIO), "token verification failed");
}

static void test_key_files(void **state) {
        struct stitch_jwt_verifier *v = NULL;
        char with_nl[128], with_crlf[128];
        snprintf(with_nl, sizeof(with_nl), "%s\n", hs[0]);
        snprintf(with_crlf, sizeof(with_crlf), "%s\r\n", hs[1]);

        char *f_nl = tu_write_file("secret", with_nl, strlen(with_nl), 0600);
        char *f_crlf = tu_write_file("secret", with_crlf, strlen(with_crlf), 0640);
        char *f_raw = tu_write_file("secret", hs[2], strlen(hs[2]), 0400);
        char *f_world = tu_write_file("secret", hs[0], strlen(hs[0]), 0644);
        char *f_gw = tu_write_file("secret", hs[0], strlen(hs[0]), 0620);
        char *f_pem = tu_write_file("key.pem", rsa_pem[0], strlen(rsa_pem[0]), 0644);

        assert_int_equal(stitch_jwt_verifier_new(STITCH_JOSE_HS256, &v), 0);
        assert_int_equal(stitch_jwt_verifier_add_key_file(v, f_world), -EPERM);
        assert_int_equal(stitch_jwt_verifier_add_key_file(v, f_gw), -EPERM);
        assert_int_equal(stitch_jwt_verifier_add_key_file(v, f_pem), -EPERM); /* world-readable secret */
        assert_int_equal(stitch_jwt_verifier_add_key_file(v, "/nonexistent/secret"), -ENOENT);
        assert_int_equal(stitch_jwt_verifier_add_key_file(v, f_nl), 0);
        assert_int_equal(stitch_jwt_verifier_add_key_file(v, f_crlf), 0);
        assert_int_equal(stitch_jwt_verifier_add_key_file(v, f_raw), 0);
        assert_int_equal(stitch_jwt_verifier_set_audience(v, NULL, false, APP), 0);
        /* The newline is not part of the secret; every key verifies. */
        for (int i = 0; i < 3; i++) {
                char *t = token_i("HS256", i, header_for("HS256"), good_payload);
                assert_int_equal(verify(v, NULL, t, NOW), 0);
                free(t);
        }
        char *t = tu_token(header_for("HS256"), good_payload, "HS256", NULL, with_nl, strlen(with_nl));
        assert_int_equal(verify(v, NULL, t, NOW), STITCH_JWT_SIGNATURE_INVALID);
        free(t);
        stitch_jwt_verifier_free(v);

        /* PEM public keys may be world-readable. */
        assert_int_equal(stitch_jwt_verifier_new(STITCH_JOSE_RS256, &v), 0);
        assert_int_equal(stitch_jwt_verifier_add_key_file(v, f_pem), 0);
        assert_int_equal(stitch_jwt_verifier_add_key_file(v, f_nl), -EKEYREJECTED);
        assert_int_equal(stitch_jwt_verifier_set_audience(v, NULL, false, APP), 0);
        t = token_i("RS256", 0, header_for("RS256"), good_payload);
        assert_int_equal(verify(v, NULL, t, NOW), 0);
        free(t);
        stitch_jwt_verifier_free(v);

        char *files[] = { f_nl, f_crlf, f_raw, f_world, f_gw, f_pem };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                unlink(files[i]);
                *strrchr(files[i], '/') = 0;
                rmdir(files[i]);
                free(files[i]);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid_each_alg),
                cmocka_unit_test(test_valid_hs256),
                cmocka_unit_test(test_valid_rs256_and_es256_with_kid_in_file_mode),
                cmocka_unit_test(test_wrong_key),
                cmocka_unit_test(test_tampered_payload),
                cmocka_unit_test(test_tampered_header),
                cmocka_unit_test(test_tampered_signature),
                cmocka_unit_test(test_alg_none),
                cmocka_unit_test(test_alg_case_and_spelling),
                cmocka_unit_test(test_alg_mismatch),
                cmocka_unit_test(test_key_confusion),
                cmocka_unit_test(test_es256_signature_forms),
                cmocka_unit_test(test_key_kinds_refused),
                cmocka_unit_test(test_expired),
                cmocka_unit_test(test_exp_required_and_typed),
                cmocka_unit_test(test_nbf),
                cmocka_unit_test(test_iat_future),
                cmocka_unit_test(test_leeway_setting),
                cmocka_unit_test(test_aud_app_id_rule),
                cmocka_unit_test(test_aud_types),
                cmocka_unit_test(test_aud_all_configured),
                cmocka_unit_test(test_aud_require_any),
                cmocka_unit_test(test_google_issuer),
                cmocka_unit_test(test_sub),
                cmocka_unit_test(test_jwks_kid_selection),
                cmocka_unit_test(test_jwks_use_enc_skipped),
                cmocka_unit_test(test_jwks_alg_of_set_must_match),
                cmocka_unit_test(test_rotation_three_keys),
                cmocka_unit_test(test_malformed_segments),
                cmocka_unit_test(test_malformed_base64),
                cmocka_unit_test(test_malformed_json),
                cmocka_unit_test(test_nul_and_huge),
                cmocka_unit_test(test_error_messages),
                cmocka_unit_test(test_key_files),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
