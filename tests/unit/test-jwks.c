/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for stitchd/core/jwks.c: JWK Sets and Cache-Control. The keys
 * are made with OpenSSL here and written out as JWKs by the test helper. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jwks.h"
#include "jose-test-util.h"
#include "macro.h"

static EVP_PKEY *rsa, *rsa_small, *ec;
static char *rsa_m, *rsa_small_m, *ec_m;

static int setup(void **state) {
        rsa = tu_rsa_new(2048);
        rsa_small = tu_rsa_new(1024);
        ec = tu_ec_new();
        rsa_m = tu_jwk_members(rsa);
        rsa_small_m = tu_jwk_members(rsa_small);
        ec_m = tu_jwk_members(ec);
        return 0;
}

static int teardown(void **state) {
        EVP_PKEY_free(rsa);
        EVP_PKEY_free(rsa_small);
        EVP_PKEY_free(ec);
        free(rsa_m);
        free(rsa_small_m);
        free(ec_m);
        return 0;
}

static int parse(const char *doc, enum stitch_jose_alg alg, struct stitch_jwks **ret) {
        return stitch_jwks_parse(doc, strlen(doc), alg, ret);
}

/* {"keys":[ {members,extra} ]} */
static int parse_one(const char *members, const char *extra, enum stitch_jose_alg alg, size_t *ret_n) {
        char doc[8192];
        struct stitch_jwks *s = NULL;
        snprintf(doc, sizeof(doc), "{\"keys\":[{%s%s}]}", members, extra);
        int r = parse(doc, alg, &s);
        *ret_n = stitch_jwks_size(s);
        stitch_jwks_unref(s);
        return r;
}

static void test_rsa_and_ec_sets(void **state) {
        char doc[8192];
        struct stitch_jwks *s = NULL;

        snprintf(doc, sizeof(doc), "{\"keys\":[{%s,\"kid\":\"r1\",\"alg\":\"RS256\",\"use\":\"sig\"},{%s,\"kid\":\"e1\"}]}",
                 rsa_m, ec_m);
        assert_int_equal(parse(doc, STITCH_JOSE_RS256, &s), 0);
        assert_int_equal(stitch_jwks_size(s), 1);
        assert_string_equal(stitch_jwks_kid(s, 0), "r1");
        assert_null(stitch_jwks_kid(s, 1));
        assert_non_null(stitch_jwks_find(s, "r1"));
        assert_null(stitch_jwks_find(s, "e1"));
        assert_int_equal(EVP_PKEY_eq(stitch_jwks_find(s, "r1"), rsa), 1);
        assert_int_equal(stitch_jwks_alg(s), STITCH_JOSE_RS256);
        stitch_jwks_unref(s);

        assert_int_equal(parse(doc, STITCH_JOSE_ES256, &s), 0);
        assert_int_equal(stitch_jwks_size(s), 1);
        assert_int_equal(EVP_PKEY_eq(stitch_jwks_find(s, "e1"), ec), 1);
        /* References: the set lives until the last one goes. */
        struct stitch_jwks *ref = stitch_jwks_ref(s);
        stitch_jwks_unref(s);
        assert_non_null(stitch_jwks_find(ref, "e1"));
        stitch_jwks_unref(ref);
}

static void test_use_alg_key_ops(void **state) {
        size_t n;
        assert_int_equal(parse_one(rsa_m, ",\"kid\":\"a\",\"use\":\"enc\"", STITCH_JOSE_RS256, &n), -ENOKEY);
        assert_int_equal(parse_one(rsa_m, ",\"kid\":\"a\",\"use\":1", STITCH_JOSE_RS256, &n), -ENOKEY);
        assert_int_equal(parse_one(rsa_m, ",\"kid\":\"a\",\"alg\":\"RS512\"", STITCH_JOSE_RS256, &n), -ENOKEY);
        assert_int_equal(parse_one(rsa_m, ",\"kid\":\"a\",\"alg\":\"PS256\"", STITCH_JOSE_RS256, &n), -ENOKEY);
        assert_int_equal(parse_one(rsa_m, ",\"kid\":\"a\",\"key_ops\":[\"encrypt\"]", STITCH_JOSE_RS256, &n), -ENOKEY);
        assert_int_equal(parse_one(rsa_m, ",\"kid\":\"a\",\"key_ops\":[\"sign\",\"verify\"]", STITCH_JOSE_RS256, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(parse_one(rsa_m, ",\"kid\":\"a\",\"use\":\"sig\",\"alg\":\"RS256\"", STITCH_JOSE_RS256, &n), 0);
        assert_int_equal(parse_one(ec_m, ",\"kid\":\"a\",\"alg\":\"ES384\"", STITCH_JOSE_ES256, &n), -ENOKEY);
        assert_int_equal(parse_one(ec_m, ",\"kid\":\"a\",\"alg\":\"ES256\"", STITCH_JOSE_ES256, &n), 0);
}

static void test_kid_required(void **state) {
        size_t n;
        assert_int_equal(parse_one(rsa_m, "", STITCH_JOSE_RS256, &n), -ENOKEY);
        assert_int_equal(parse_one(rsa_m, ",\"kid\":\"\"", STITCH_JOSE_RS256, &n), -ENOKEY);
        assert_int_equal(parse_one(rsa_m, ",\"kid\":5", STITCH_JOSE_RS256, &n), -ENOKEY);
        assert_int_equal(parse_one(rsa_m, ",\"kid\":\"a b\"", STITCH_JOSE_RS256, &n), -ENOKEY);
        char kid[200];
        memset(kid, 'k', sizeof(kid));
        kid[STITCH_JWKS_KID_MAX + 1] = 0;
        char extra[300];
        snprintf(extra, sizeof(extra), ",\"kid\":\"%s\"", kid);
        assert_int_equal(parse_one(rsa_m, extra, STITCH_JOSE_RS256, &n), -ENOKEY);
        kid[STITCH_JWKS_KID_MAX] = 0;
        snprintf(extra, sizeof(extra), ",\"kid\":\"%s\"", kid);
        assert_int_equal(parse_one(rsa_m, extra, STITCH_JOSE_RS256, &n), 0);
}

static void test_bad_key_material(void **state) {
        size_t n;
        /* RSA below 2048 bits */
        assert_int_equal(parse_one(rsa_small_m, ",\"kid\":\"a\"", STITCH_JOSE_RS256, &n), -ENOKEY);
        /* e = 1, e even, e missing, n padded base64 */
        assert_int_equal(parse_one("\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQ\"", ",\"kid\":\"a\"", STITCH_JOSE_RS256, &n),
                         -ENOKEY);
        char m[4096];
        const char *nstart = strstr(rsa_m, "\"n\":\"") + 5;
        int nlen = (int) (strchr(nstart, '"') - nstart);
        snprintf(m, sizeof(m), "\"kty\":\"RSA\",\"n\":\"%.*s\",\"e\":\"AQAA\"", nlen, nstart);
        assert_int_equal(parse_one(m, ",\"kid\":\"a\"", STITCH_JOSE_RS256, &n), -ENOKEY);
        snprintf(m, sizeof(m), "\"kty\":\"RSA\",\"n\":\"%.*s\"", nlen, nstart);
        assert_int_equal(parse_one(m, ",\"kid\":\"a\"", STITCH_JOSE_RS256, &n), -ENOKEY);
        snprintf(m, sizeof(m), "\"kty\":\"RSA\",\"n\":\"%.*s==\",\"e\":\"AQAB\"", nlen, nstart);
        assert_int_equal(parse_one(m, ",\"kid\":\"a\"", STITCH_JOSE_RS256, &n), -ENOKEY);
        snprintf(m, sizeof(m), "\"kty\":\"RSA\",\"n\":\"%.*s\",\"e\":\"AQAB\"", nlen, nstart);
        assert_int_equal(parse_one(m, ",\"kid\":\"a\"", STITCH_JOSE_RS256, &n), 0);

        /* EC: other curve, short coordinate, a point not on the curve */
        char e[1024];
        const char *x = strstr(ec_m, "\"x\":\"") + 5, *y = strstr(ec_m, "\"y\":\"") + 5;
        snprintf(e, sizeof(e), "\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"%.43s\",\"y\":\"%.43s\"", x, y);
        assert_int_equal(parse_one(e, ",\"kid\":\"a\"", STITCH_JOSE_ES256, &n), -ENOKEY);
        snprintf(e, sizeof(e), "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%.42s\",\"y\":\"%.43s\"", x, y);
        assert_int_equal(parse_one(e, ",\"kid\":\"a\"", STITCH_JOSE_ES256, &n), -ENOKEY);
        snprintf(e, sizeof(e), "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%.43s\",\"y\":\"%.43s\"", x, x);
        assert_int_equal(parse_one(e, ",\"kid\":\"a\"", STITCH_JOSE_ES256, &n), -ENOKEY);
        snprintf(e, sizeof(e), "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%.43s\",\"y\":\"%.43s\"", x, y);
        assert_int_equal(parse_one(e, ",\"kid\":\"a\"", STITCH_JOSE_ES256, &n), 0);
        /* oct keys are secrets, and HS256 sets are not a thing */
        struct stitch_jwks *s = NULL;
        assert_int_equal(parse("{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\",\"kid\":\"a\"}]}", STITCH_JOSE_HS256, &s),
                         -EINVAL);
}

static void test_skips_unusable_keeps_rest(void **state) {
        char doc[8192];
        struct stitch_jwks *s = NULL;
        snprintf(doc, sizeof(doc),
                 "{\"keys\":[1,\"x\",{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\",\"kid\":\"ed\"},"
                 "{%s,\"kid\":\"enc\",\"use\":\"enc\"},{%s,\"kid\":\"good\"}],\"other\":true}",
                 rsa_m, rsa_m);
        assert_int_equal(parse(doc, STITCH_JOSE_RS256, &s), 0);
        assert_int_equal(stitch_jwks_size(s), 1);
        assert_non_null(stitch_jwks_find(s, "good"));
        assert_null(stitch_jwks_find(s, "enc"));
        stitch_jwks_unref(s);
}

static void test_duplicate_kid(void **state) {
        char doc[8192];
        struct stitch_jwks *s = NULL;
        snprintf(doc, sizeof(doc), "{\"keys\":[{%s,\"kid\":\"a\"},{%s,\"kid\":\"a\"}]}", rsa_m, rsa_m);
        assert_int_equal(parse(doc, STITCH_JOSE_RS256, &s), -EBADMSG);
        /* one of them unusable: no ambiguity */
        snprintf(doc, sizeof(doc), "{\"keys\":[{%s,\"kid\":\"a\",\"use\":\"enc\"},{%s,\"kid\":\"a\"}]}", rsa_m, rsa_m);
        assert_int_equal(parse(doc, STITCH_JOSE_RS256, &s), 0);
        stitch_jwks_unref(s);
}

static void test_document_shape(void **state) {
        struct stitch_jwks *s = NULL;
        const char *bad[] = { "", "[]", "{}", "{\"keys\":{}}", "{\"keys\":\"x\"}", "{\"keys\":[]", "nonsense",
                              "{\"keys\":[],\"keys\":[]}" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(parse(bad[i], STITCH_JOSE_RS256, &s), -EBADMSG);
        assert_int_equal(parse("{\"keys\":[]}", STITCH_JOSE_RS256, &s), -ENOKEY);
        /* a NUL byte inside the length */
        assert_int_equal(stitch_jwks_parse("{\"keys\":[]}\0", 12, STITCH_JOSE_RS256, &s), -EBADMSG);

        /* limits */
        char *big = malloc(STITCH_JWKS_MAX_DOCUMENT + 2);
        memset(big, ' ', STITCH_JWKS_MAX_DOCUMENT + 1);
        big[STITCH_JWKS_MAX_DOCUMENT + 1] = 0;
        assert_int_equal(parse(big, STITCH_JOSE_RS256, &s), -E2BIG);
        free(big);
        char many[1024] = "{\"keys\":[";
        for (int i = 0; i <= STITCH_JWKS_MAX_ENTRIES; i++)
                strncat(many, i ? ",{}" : "{}", sizeof(many) - strlen(many) - 1);
        strncat(many, "]}", sizeof(many) - strlen(many) - 1);
        assert_int_equal(parse(many, STITCH_JOSE_RS256, &s), -E2BIG);
}

static void test_max_keys_kept(void **state) {
        size_t cap = 40 * 1024;
        char *doc = malloc(cap);
        size_t n = (size_t) snprintf(doc, cap, "{\"keys\":[");
        for (int i = 0; i < STITCH_JWKS_MAX_KEYS + 2; i++)
                n += (size_t) snprintf(doc + n, cap - n, "%s{%s,\"kid\":\"k%d\"}", i ? "," : "", ec_m, i);
        n += (size_t) snprintf(doc + n, cap - n, "]}");
        struct stitch_jwks *s = NULL;
        assert_int_equal(stitch_jwks_parse(doc, n, STITCH_JOSE_ES256, &s), 0);
        assert_int_equal(stitch_jwks_size(s), STITCH_JWKS_MAX_KEYS);
        stitch_jwks_unref(s);
        free(doc);
}

static void test_cache_control(void **state) {
        assert_int_equal(stitch_jwks_cache_lifetime(NULL), STITCH_JWKS_CACHE_DEFAULT);
        assert_int_equal(stitch_jwks_cache_lifetime(""), STITCH_JWKS_CACHE_DEFAULT);
        /* Google's header */
        assert_int_equal(stitch_jwks_cache_lifetime("public, max-age=19845, must-revalidate, no-transform"), 19845);
        assert_int_equal(stitch_jwks_cache_lifetime("MAX-AGE=600"), 600);
        assert_int_equal(stitch_jwks_cache_lifetime("max-age=\"600\""), 600);
        assert_int_equal(stitch_jwks_cache_lifetime("max-age=5"), STITCH_JWKS_CACHE_MIN);
        assert_int_equal(stitch_jwks_cache_lifetime("max-age=0"), STITCH_JWKS_CACHE_MIN);
        assert_int_equal(stitch_jwks_cache_lifetime("max-age=31536000"), STITCH_JWKS_CACHE_MAX);
        assert_int_equal(stitch_jwks_cache_lifetime("max-age=99999999999999999999999999"), STITCH_JWKS_CACHE_MAX);
        assert_int_equal(stitch_jwks_cache_lifetime("max-age=600, max-age=300"), 300);
        assert_int_equal(stitch_jwks_cache_lifetime("max-age=-5"), STITCH_JWKS_CACHE_DEFAULT);
        assert_int_equal(stitch_jwks_cache_lifetime("max-age=12a"), STITCH_JWKS_CACHE_DEFAULT);
        assert_int_equal(stitch_jwks_cache_lifetime("max-age="), STITCH_JWKS_CACHE_DEFAULT);
        assert_int_equal(stitch_jwks_cache_lifetime("s-maxage=600"), STITCH_JWKS_CACHE_DEFAULT);
        assert_int_equal(stitch_jwks_cache_lifetime("no-store"), 0);
        assert_int_equal(stitch_jwks_cache_lifetime("max-age=600, no-cache"), 0);
        assert_int_equal(stitch_jwks_cache_lifetime("private, No-Cache=\"set-cookie\", max-age=600"), 0);
        assert_int_equal(stitch_jwks_cache_lifetime("x-max-age=600"), STITCH_JWKS_CACHE_DEFAULT);
        assert_int_equal(stitch_jwks_cache_lifetime(" , ,max-age = 700 ,"), 700);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rsa_and_ec_sets),
                cmocka_unit_test(test_use_alg_key_ops),
                cmocka_unit_test(test_kid_required),
                cmocka_unit_test(test_bad_key_material),
                cmocka_unit_test(test_skips_unusable_keeps_rest),
                cmocka_unit_test(test_duplicate_kid),
                cmocka_unit_test(test_document_shape),
                cmocka_unit_test(test_max_keys_kept),
                cmocka_unit_test(test_cache_control),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
