/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for stitchd/core/jose.c: the helpers our own tokens and
 * other issuers' share. The ES256 DER form is compared with OpenSSL's own
 * i2d_ECDSA_SIG for edge values. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "core/jose.h"
#include "macro.h"

static void check_der(const uint8_t raw[64]) {
        uint8_t der[STITCH_JOSE_ES256_DER_MAX], *p;
        size_t len = 0;
        ECDSA_SIG *sig = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
        assert_non_null(sig);
        assert_int_equal(ECDSA_SIG_set0(sig, r, s), 1);
        int want_len = i2d_ECDSA_SIG(sig, NULL);
        uint8_t *want = malloc((size_t) want_len);
        p = want;
        assert_int_equal(i2d_ECDSA_SIG(sig, &p), want_len);

        assert_int_equal(stitch_jose_es256_raw_to_der(raw, der, &len), 0);
        assert_int_equal(len, (size_t) want_len);
        assert_memory_equal(der, want, len);
        free(want);
        ECDSA_SIG_free(sig);
}

static void test_es256_der(void **state) {
        uint8_t raw[64];
        memset(raw, 0, sizeof(raw));
        check_der(raw); /* r = s = 0 */
        memset(raw, 0xff, sizeof(raw));
        check_der(raw); /* both need a leading zero byte: 70 bytes of body */
        memset(raw, 0, sizeof(raw));
        raw[31] = 1;
        raw[32] = 0x80;
        check_der(raw);
        raw[32] = 0x7f;
        raw[0] = 0x01;
        check_der(raw);
        for (int i = 0; i < 2000; i++) {
                assert_int_equal(RAND_bytes(raw, sizeof(raw)), 1);
                /* leading zero bytes now and then */
                if (i % 3 == 0)
                        memset(raw, 0, (size_t) (i % 7));
                if (i % 5 == 0)
                        memset(raw + 32, 0, (size_t) (i % 9));
                check_der(raw);
        }
}

static void test_alg_names(void **state) {
        assert_int_equal(stitch_jose_alg_from_string("HS256"), STITCH_JOSE_HS256);
        assert_int_equal(stitch_jose_alg_from_string("RS256"), STITCH_JOSE_RS256);
        assert_int_equal(stitch_jose_alg_from_string("ES256"), STITCH_JOSE_ES256);
        const char *bad[] = { "none", "None", "hs256", "HS384", "RS512", "PS256", "ES256K", "", " HS256" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(stitch_jose_alg_from_string(bad[i]), -EINVAL);
        assert_int_equal(stitch_jose_alg_from_string(NULL), -EINVAL);
        assert_string_equal(stitch_jose_alg_to_string(STITCH_JOSE_ES256), "ES256");
        assert_null(stitch_jose_alg_to_string(_STITCH_JOSE_ALG_MAX));
}

static int parse(const char *text, cJSON **ret) {
        size_t n = strlen(text);
        uint8_t *buf = malloc(n + 1);
        memcpy(buf, text, n);
        int r = stitch_jose_json_object_parse(buf, n, ret);
        free(buf);
        return r;
}

/* {"a":[[...]]} with n arrays */
static int parse_nested(int n, cJSON **ret) {
        char text[128];
        size_t k = 0;
        memcpy(text, "{\"a\":", 5);
        k = 5;
        for (int i = 0; i < n; i++)
                text[k++] = '[';
        for (int i = 0; i < n; i++)
                text[k++] = ']';
        text[k++] = '}';
        text[k] = 0;
        return parse(text, ret);
}

static void test_json_strict(void **state) {
        cJSON *j = NULL;
        assert_int_equal(parse("{\"a\":{\"b\":[1,{\"c\":\"\\u00e9\"}]}}", &j), 0);
        cJSON_Delete(j);
        const char *bad[] = {
                "[]", "1", "{\"a\":1,\"a\":2}", "{\"x\":{\"a\":1,\"a\":2}}", "{\"a\":\"\\u0000\"}", "{\"a\":\"x\ny\"}",
                "{} {}", "{\"a\":\"\xc3\"}", "{\"a\":1,}",
                /* duplicates among more than 8 members (the sorted path) */
                "{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1,\"e\":2}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                j = NULL;
                assert_int_equal(parse(bad[i], &j), -EBADMSG);
                assert_null(j);
        }
        /* a NUL byte inside the length */
        uint8_t nul[] = "{\"a\":1}\0";
        assert_int_equal(stitch_jose_json_object_parse(nul, 8, &j), -EBADMSG);

        /* nesting: 32 levels below the top are fine, 33 not */
        assert_int_equal(parse_nested(32, &j), 0);
        cJSON_Delete(j);
        assert_int_equal(parse_nested(33, &j), -EBADMSG);
}

static void test_json_time(void **state) {
        const struct {
                const char *text;
                int64_t want; /* -1: refused */
        } cases[] = {
                { "0", 0 },           { "1700000000", 1700000000 },  { "9007199254740991", 9007199254740991 },
                { "9007199254740992", -1 }, { "-1", -1 },           { "1.5", -1 },
                { "1e3", 1000 },      { "\"1\"", -1 },               { "true", -1 },
                { "null", -1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                cJSON *j = cJSON_Parse(cases[i].text);
                int64_t t = -2;
                assert_non_null(j);
                bool ok = stitch_jose_json_time(j, &t);
                if (cases[i].want < 0)
                        assert_false(ok);
                else {
                        assert_true(ok);
                        assert_int_equal(t, cases[i].want);
                }
                cJSON_Delete(j);
        }
}

static void test_public_key_check(void **state) {
        EVP_PKEY *ec = EVP_EC_gen("P-256"), *p384 = EVP_EC_gen("P-384"), *rsa = EVP_RSA_gen(2048),
                 *small = EVP_RSA_gen(1024);
        assert_int_equal(stitch_jose_public_key_check(ec, STITCH_JOSE_ES256), 0);
        assert_int_equal(stitch_jose_public_key_check(ec, STITCH_JOSE_RS256), -EKEYREJECTED);
        assert_int_equal(stitch_jose_public_key_check(ec, STITCH_JOSE_HS256), -EKEYREJECTED);
        assert_int_equal(stitch_jose_public_key_check(p384, STITCH_JOSE_ES256), -EKEYREJECTED);
        assert_int_equal(stitch_jose_public_key_check(rsa, STITCH_JOSE_RS256), 0);
        assert_int_equal(stitch_jose_public_key_check(rsa, STITCH_JOSE_ES256), -EKEYREJECTED);
        assert_int_equal(stitch_jose_public_key_check(small, STITCH_JOSE_RS256), -EKEYREJECTED);
        assert_int_equal(stitch_jose_public_key_check(NULL, STITCH_JOSE_RS256), -EINVAL);
        EVP_PKEY_free(ec);
        EVP_PKEY_free(p384);
        EVP_PKEY_free(rsa);
        EVP_PKEY_free(small);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_es256_der),
                cmocka_unit_test(test_alg_names),
                cmocka_unit_test(test_json_strict),
                cmocka_unit_test(test_json_time),
                cmocka_unit_test(test_public_key_check),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
