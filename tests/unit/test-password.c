/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchd/password.c: our PHC strings are libargon2's, both ways; hash slots
 * bound concurrency; malformed strings are refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <argon2.h>
#include <cmocka.h>
#include <openssl/evp.h>

#include "core/password.h"

static const struct stitch_argon2_params params = {.m_kib = 1024, .t = 1, .p = 1};

/* The salt of a PHC string, decoded (test-side, with OpenSSL). */
static size_t phc_salt(const char *phc, uint8_t *out) {
        const char *s = strrchr(phc, '$');
        assert_non_null(s);
        const char *e = s;
        s--;
        while (*s != '$')
                s--;
        s++;
        char b64[128] = {0};
        size_t n = (size_t) (e - s), chars = n;
        assert_true(n + 3 < sizeof(b64));
        memcpy(b64, s, n);
        while (n % 4)
                b64[n++] = '=';
        assert_true(EVP_DecodeBlock(out, (const unsigned char *) b64, (int) n) > 0);
        return chars * 3 / 4; /* EVP_DecodeBlock counts the padding's zero bytes too */
}

static void test_same_strings_as_libargon2(void **state) {
        (void) state;
        char *ours = NULL;
        assert_int_equal(stitch_password_hash("correct horse", &params, &ours), 0);
        assert_true(strncmp(ours, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);

        /* libargon2 makes the identical string from the same salt. */
        uint8_t salt[64];
        size_t salt_len = phc_salt(ours, salt);
        assert_int_equal(salt_len, 16);
        char theirs[256];
        assert_int_equal(argon2id_hash_encoded(1, 1024, 1, "correct horse", 13, salt, salt_len, 32, theirs,
                                               sizeof(theirs)),
                         ARGON2_OK);
        assert_string_equal(ours, theirs);

        /* Each verifies the other's. */
        assert_int_equal(argon2id_verify(ours, "correct horse", 13), ARGON2_OK);
        assert_int_equal(argon2id_verify(ours, "correct horsE", 13), ARGON2_VERIFY_MISMATCH);
        assert_int_equal(stitch_password_verify(theirs, "correct horse"), 0);
        assert_int_equal(stitch_password_verify(theirs, "correct hors"), -EACCES);
        assert_int_equal(stitch_password_verify(theirs, ""), -EACCES);
        free(ours);
}

static void test_other_parameters_and_lengths(void **state) {
        (void) state;
        /* Salt and hash lengths other than ours, p=2: parsed the same way. */
        uint8_t salt[24] = "0123456789abcdefghijklm";
        char theirs[256];
        assert_int_equal(argon2id_hash_encoded(2, 256, 2, "pw-other", 8, salt, sizeof(salt), 40, theirs, sizeof(theirs)),
                         ARGON2_OK);
        assert_int_equal(stitch_password_verify(theirs, "pw-other"), 0);
        assert_int_equal(stitch_password_verify(theirs, "pw-othe"), -EACCES);
}

static void test_malformed(void **state) {
        (void) state;
        static const char *const bad[] = {
                "",
                "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
                "$argon2id$v=19$m=1024,t=1,p=1$!!!!$aGFzaGhhc2hoYXNoaGFzaA",
                "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0",
                "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$",
                "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA==",
                "$argon2id$v=19$m=x,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(stitch_password_verify(bad[i], "whatever"), -EINVAL);
        assert_int_equal(stitch_password_verify(NULL, "whatever"), -EINVAL);
}

#define THREADS 6
static const char *shared_hash;
static void *verify_thread(void *userdata) {
        int *result = userdata;
        *result = 0;
        for (int i = 0; i < 4; i++)
                if (stitch_password_verify(shared_hash, i % 2 ? "concurrent" : "wrong") != (i % 2 ? 0 : -EACCES))
                        *result = -1;
        return NULL;
}

static void test_slots(void **state) {
        (void) state;
        char *h = NULL;
        assert_int_equal(stitch_password_set_concurrency(2), 0);
        assert_int_equal(stitch_password_hash("concurrent", &params, &h), 0);
        shared_hash = h;
        pthread_t t[THREADS];
        int results[THREADS];
        for (int i = 0; i < THREADS; i++)
                assert_int_equal(pthread_create(&t[i], NULL, verify_thread, &results[i]), 0);
        for (int i = 0; i < THREADS; i++) {
                assert_int_equal(pthread_join(t[i], NULL), 0);
                assert_int_equal(results[i], 0);
        }
        /* A bigger m than the slots have seen: the slot grows. */
        struct stitch_argon2_params big = {.m_kib = 4096, .t = 1, .p = 1};
        char *h2 = NULL;
        assert_int_equal(stitch_password_hash("bigger", &big, &h2), 0);
        assert_int_equal(stitch_password_verify(h2, "bigger"), 0);
        assert_int_equal(stitch_password_verify(h, "concurrent"), 0);
        stitch_password_done();
        assert_int_equal(stitch_password_verify(h2, "bigger"), 0); /* no slots: plain allocation */
        free(h);
        free(h2);
}

/* The floor of failed logins: the parameters of our strings, their work,
 * and the padded check answering exactly as the plain one. */
static void test_padded(void **state) {
        (void) state;
        static const struct stitch_argon2_params cheap = {.m_kib = 8, .t = 1, .p = 1};
        static const struct stitch_argon2_params floor = {.m_kib = 2048, .t = 3, .p = 2};
        struct stitch_argon2_params got;
        char *h = NULL;

        assert_int_equal(stitch_password_hash("padded", &cheap, &h), 0);
        assert_int_equal(stitch_password_params(h, &got), 0);
        assert_int_equal(got.m_kib, 8);
        assert_int_equal(got.t, 1);
        assert_int_equal(got.p, 1);
        assert_int_equal(stitch_password_work(&floor), 2048 * 3);
        assert_int_equal(stitch_password_params("$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", &got),
                         -EINVAL);
        assert_int_equal(stitch_password_params(NULL, &got), -EINVAL);

        assert_int_equal(stitch_password_verify_padded(h, "padded", false, &floor), 0);
        assert_int_equal(stitch_password_verify_padded(h, "padded", true, &floor), 0); /* the caller refuses */
        assert_int_equal(stitch_password_verify_padded(h, "padde", false, &floor), -EACCES);
        assert_int_equal(stitch_password_verify_padded(h, "padde", false, NULL), -EACCES);
        assert_int_equal(stitch_password_verify_padded(h, "padde", false, &cheap), -EACCES);
        assert_int_equal(stitch_password_verify_padded("$argon2id$junk", "padded", false, &floor), -EINVAL);
        assert_int_equal(stitch_password_verify_padded(NULL, "padded", true, &floor), -EINVAL);
        free(h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_same_strings_as_libargon2),
                cmocka_unit_test(test_other_parameters_and_lengths),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_slots),
                cmocka_unit_test(test_padded),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
