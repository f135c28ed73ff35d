/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the basics every component links from lib/: string vectors
 * (strv.c), base64url (base64url.c) and the name and id checks (validate.c). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64url.h"
#include "macro.h"
#include "strv.h"
#include "validate.h"

/* ---- strv ---------------------------------------------------------------- */

static void test_strv_basics(void **state) {
        _cleanup_(stitch_strv_freep) char **empty = stitch_strv_new_empty();
        char *const list[] = { (char *) "login", (char *) "sshd", (char *) "su", NULL };

        assert_int_equal(stitch_strv_length(NULL), 0);
        assert_non_null(empty);
        assert_null(empty[0]);
        assert_int_equal(stitch_strv_length(empty), 0);
        assert_int_equal(stitch_strv_length(list), 3);

        assert_true(stitch_strv_contains(list, "sshd"));
        assert_false(stitch_strv_contains(list, "ssh"));
        assert_false(stitch_strv_contains(list, ""));
        assert_false(stitch_strv_contains(empty, "login"));
        assert_false(stitch_strv_contains(NULL, "login"));

        assert_null(stitch_strv_free(NULL));
}

static void test_strv_copy(void **state) {
        char *const list[] = { (char *) "a", (char *) "", (char *) "ccc", NULL };
        _cleanup_(stitch_strv_freep) char **copy = stitch_strv_copy(list);
        _cleanup_(stitch_strv_freep) char **none = stitch_strv_copy(NULL);

        assert_non_null(copy);
        assert_int_equal(stitch_strv_length(copy), 3);
        for (size_t i = 0; i < 3; i++) {
                assert_string_equal(copy[i], list[i]);
                assert_ptr_not_equal(copy[i], list[i]); /* deep */
        }
        assert_null(copy[3]);

        /* NULL copies as an empty vector, not as NULL. */
        assert_non_null(none);
        assert_null(none[0]);
}

static void test_strv_builder(void **state) {
        struct stitch_strv_builder b = {};
        char name[32];

        /* Nothing added: an empty vector. */
        char **l = stitch_strv_builder_finish(&b);
        assert_non_null(l);
        assert_int_equal(stitch_strv_length(l), 0);
        l = stitch_strv_free(l);
        assert_null(l);

        /* Many: terminated after every add, then handed out whole. */
        for (unsigned i = 0; i < 1000; i++) {
                snprintf(name, sizeof(name), "id-%u", i);
                assert_int_equal(stitch_strv_builder_add(&b, name), 0);
                assert_int_equal(b.n, i + 1);
                assert_null(b.l[b.n]);
                assert_string_equal(b.l[i], name);
        }
        l = stitch_strv_builder_finish(&b);
        assert_null(b.l);
        assert_int_equal(b.n, 0);
        assert_int_equal(stitch_strv_length(l), 1000);
        assert_string_equal(l[0], "id-0");
        assert_string_equal(l[999], "id-999");
        assert_true(stitch_strv_contains(l, "id-500"));
        stitch_strv_free(l);

        /* Given up halfway: done frees what was added. */
        assert_int_equal(stitch_strv_builder_add(&b, "x"), 0);
        assert_int_equal(stitch_strv_builder_add(&b, "y"), 0);
        stitch_strv_builder_done(&b);
        assert_null(b.l);
        assert_int_equal(b.n, 0);
        stitch_strv_builder_done(&b); /* twice is fine */
}

/* ---- base64url ----------------------------------------------------------- */

static void assert_encodes(const void *data, size_t n, const char *expect) {
        char buf[128];
        uint8_t back[96];

        memset(buf, 'X', sizeof(buf));
        assert_true(strlen(expect) < sizeof(buf));
        assert_int_equal(stitch_base64url_encoded_len(n), strlen(expect));
        assert_int_equal(STITCH_BASE64URL_ENCODED_LEN(n), strlen(expect));
        assert_int_equal(stitch_base64url_encode(data, n, buf), strlen(expect));
        assert_string_equal(buf, expect); /* NUL-terminated */

        assert_int_equal(stitch_base64url_decoded_len(strlen(expect)), n);
        assert_int_equal(stitch_base64url_decode(expect, strlen(expect), back, sizeof(back)), (ssize_t) n);
        assert_memory_equal(back, data, n);
}

static void test_base64url_vectors(void **state) {
        /* RFC 4648 §10 (the same in both alphabets: no '+', '/' or padding here). */
        assert_encodes("", 0, "");
        assert_encodes("f", 1, "Zg");
        assert_encodes("fo", 2, "Zm8");
        assert_encodes("foo", 3, "Zm9v");
        assert_encodes("foob", 4, "Zm9vYg");
        assert_encodes("fooba", 5, "Zm9vYmE");
        assert_encodes("foobar", 6, "Zm9vYmFy");

        /* The URL-safe characters: 62 is '-', 63 is '_' (§5). */
        assert_encodes((const uint8_t[]) { 0xfb, 0xff }, 2, "-_8");
        assert_encodes((const uint8_t[]) { 0xfb, 0xef, 0xbe }, 3, "----");
        assert_encodes((const uint8_t[]) { 0xff, 0xff, 0xff }, 3, "____");
        assert_encodes((const uint8_t[]) { 0x00, 0x00, 0x00 }, 3, "AAAA");
        assert_encodes((const uint8_t[]) { 0x00 }, 1, "AA");
        /* RFC 7515 appendix C: the example octets. */
        assert_encodes((const uint8_t[]) { 3, 236, 255, 224, 193 }, 5, "A-z_4ME");
}

static void test_base64url_round_trips(void **state) {
        uint8_t data[64], back[64];
        char text[STITCH_BASE64URL_ENCODED_LEN(64) + 1];

        for (size_t n = 0; n <= 64; n++) {
                for (size_t i = 0; i < n; i++)
                        data[i] = (uint8_t) (i * 37 + n * 11 + 5);
                size_t len = stitch_base64url_encode(data, n, text);
                assert_int_equal(len, stitch_base64url_encoded_len(n));
                assert_int_equal(strlen(text), len);
                assert_int_not_equal(len % 4, 1);
                for (size_t i = 0; i < len; i++)
                        assert_true(stitch_base64url_is_char(text[i]));

                memset(back, 0xaa, sizeof(back));
                assert_int_equal(stitch_base64url_decode(text, len, back, n), (ssize_t) n);
                assert_memory_equal(back, data, n);
                if (n > 0)
                        assert_int_equal(stitch_base64url_decode(text, len, back, n - 1), -ENOBUFS);
        }

        /* Every byte value, in every position of a group of three. */
        uint8_t all[258], all_back[258];
        char all_text[STITCH_BASE64URL_ENCODED_LEN(258) + 1];
        for (size_t i = 0; i < sizeof(all); i++)
                all[i] = (uint8_t) i;
        for (size_t shift = 0; shift < 3; shift++) {
                size_t n = sizeof(all) - shift;
                size_t len = stitch_base64url_encode(all + shift, n, all_text);
                assert_int_equal(stitch_base64url_decode(all_text, len, all_back, sizeof(all_back)), (ssize_t) n);
                assert_memory_equal(all_back, all + shift, n);
        }
}

static void assert_rejected(const char *s, size_t n) {
        uint8_t buf[64];
        assert_int_equal(stitch_base64url_decode(s, n, buf, sizeof(buf)), -EBADMSG);
}
#define assert_rejected_str(s) assert_rejected((s), strlen(s))

static void test_base64url_rejects(void **state) {
        /* Padding, either alphabet's other characters, whitespace. */
        assert_rejected_str("Zg==");
        assert_rejected_str("Zm8=");
        assert_rejected_str("Zg=");
        assert_rejected_str("+_8");
        assert_rejected_str("-/8");
        assert_rejected_str("Zm9v\n");
        assert_rejected_str("Zm9v Yg");
        assert_rejected_str(" Zm9v");
        assert_rejected_str("Zm9v\t");
        assert_rejected_str("Zm9v.Yg");
        assert_rejected_str("Zm9\xc3\xa9");
        assert_rejected("Zm\0v", 4); /* a NUL is not the end of the input */
        assert_rejected("Zm9v\0\0", 6);

        /* A length that no byte string encodes to. */
        assert_rejected_str("Z");
        assert_rejected_str("Zm9vY");

        /* Non-canonical: the same bytes, unused low bits set. */
        assert_rejected_str("Zh");   /* "f" is "Zg" */
        assert_rejected_str("Zm9");  /* "fo" is "Zm8" */
        assert_rejected_str("Zm9vYh");
        assert_rejected_str("-_9");  /* 0xfb 0xff is "-_8" */

        /* Every byte that is not in the alphabet, in each position. */
        for (unsigned c = 0; c < 256; c++) {
                bool in = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                          c == '_';
                assert_int_equal(stitch_base64url_is_char((char) c), in);
                if (in)
                        continue;
                for (size_t pos = 0; pos < 4; pos++) {
                        char s[] = "AAAA";
                        s[pos] = (char) c;
                        assert_rejected(s, 4);
                }
        }

        /* The empty string is the encoding of nothing. */
        uint8_t none;
        assert_int_equal(stitch_base64url_decode("", 0, &none, 0), 0);
}

/* ---- validators ---------------------------------------------------------- */

static void test_unix_name(void **state) {
        static const char *const good[] = {
                "a", "_", "root", "guest", "first.last", "a.b.c", "a..b", "a.", "www-data", "_apt",
                "systemd-timesync", "user1", "a1-b2_c3.d4", "guest$", "host.example$", "_$", "a$",
                "abcdefghijklmnopqrstuvwxyz012345",  /* 32 */
                "abcdefghijklmnopqrstuvwxyz01234$",  /* 32 with the '$' */
        };
        static const char *const bad[] = {
                "", ".", "..", "...", ".hidden", "-a", "1a", "0", "123", "1000", "1.5", "$", "$a",
                "A", "Root", "aB", "a$b", "a$$", "a b", " a", "a ", "a\t", "a\n", "a/b", "a:b", "a,b",
                "a@b", "a+b", "a\\b", "\xc3\xa9t\xc3\xa9", "a\xc3\xa9",
                "abcdefghijklmnopqrstuvwxyz0123456", /* 33 */
                "abcdefghijklmnopqrstuvwxyz012345$", /* 33 with the '$' */
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                if (!stitch_unix_name_valid(good[i]))
                        fail_msg("\"%s\" should be a valid Unix name", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (stitch_unix_name_valid(bad[i]))
                        fail_msg("\"%s\" should not be a valid Unix name", bad[i]);
        assert_false(stitch_unix_name_valid(NULL));

        /* A long name is not read to its end to be refused. */
        char longname[4096];
        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = 0;
        assert_false(stitch_unix_name_valid(longname));
}

static void test_email(void **state) {
        assert_true(stitch_email_valid("a@b"));
        assert_true(stitch_email_valid("user@example.com"));
        assert_true(stitch_email_valid("first.last+tag@sub.example.org"));
        assert_false(stitch_email_valid(NULL));
        assert_false(stitch_email_valid(""));
        assert_false(stitch_email_valid("ab"));
        assert_false(stitch_email_valid("@ab"));
        assert_false(stitch_email_valid("ab@"));
        assert_false(stitch_email_valid("abc"));
        assert_false(stitch_email_valid("a@b@c"));
        assert_false(stitch_email_valid("a b@c"));
        assert_false(stitch_email_valid("a@b\x7f"));
        assert_false(stitch_email_valid("a@b\n"));

        char email[256];
        memset(email, 'a', sizeof(email));
        email[1] = '@';
        email[254] = 0; /* 254 bytes */
        assert_true(stitch_email_valid(email));
        email[254] = 'a';
        email[255] = 0; /* 255 */
        assert_false(stitch_email_valid(email));
}

static void test_apikey_name(void **state) {
        char name[66];

        assert_true(stitch_apikey_name_valid("a"));
        assert_true(stitch_apikey_name_valid("ci-deploy_Key1"));
        assert_false(stitch_apikey_name_valid(NULL));
        assert_false(stitch_apikey_name_valid(""));
        assert_false(stitch_apikey_name_valid("a.b"));
        assert_false(stitch_apikey_name_valid("a b"));
        assert_false(stitch_apikey_name_valid("a/b"));
        assert_false(stitch_apikey_name_valid("cl\xc3\xa9"));

        memset(name, 'k', sizeof(name));
        name[64] = 0;
        assert_true(stitch_apikey_name_valid(name));
        name[64] = 'k';
        name[65] = 0;
        assert_false(stitch_apikey_name_valid(name));
}

static void test_ids(void **state) {
        assert_true(stitch_objectid_valid("0123456789abcdef01234567"));
        assert_true(stitch_objectid_valid("000000000000000000000000"));
        assert_false(stitch_objectid_valid(NULL));
        assert_false(stitch_objectid_valid(""));
        assert_false(stitch_objectid_valid("0123456789abcdef0123456"));   /* 23 */
        assert_false(stitch_objectid_valid("0123456789abcdef012345678")); /* 25 */
        assert_false(stitch_objectid_valid("0123456789ABCDEF01234567"));  /* upper case */
        assert_false(stitch_objectid_valid("0123456789abcdeg01234567"));
        assert_false(stitch_objectid_valid("0123456789abcdef0123456 "));

        assert_true(stitch_session_id_valid("0123456789abcdef01234567")); /* an older ObjectId */
        assert_true(stitch_session_id_valid("aZ09bY18cX27dW36eV45fU54"));
        assert_false(stitch_session_id_valid(NULL));
        assert_false(stitch_session_id_valid(""));
        assert_false(stitch_session_id_valid("aZ09bY18cX27dW36eV45fU5"));   /* 23 */
        assert_false(stitch_session_id_valid("aZ09bY18cX27dW36eV45fU543")); /* 25 */
        assert_false(stitch_session_id_valid("aZ09bY18cX27dW36eV45fU-4"));
        assert_false(stitch_session_id_valid("aZ09bY18cX27dW36eV45fU_4"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_strv_basics),
                cmocka_unit_test(test_strv_copy),
                cmocka_unit_test(test_strv_builder),
                cmocka_unit_test(test_base64url_vectors),
                cmocka_unit_test(test_base64url_round_trips),
                cmocka_unit_test(test_base64url_rejects),
                cmocka_unit_test(test_unix_name),
                cmocka_unit_test(test_email),
                cmocka_unit_test(test_apikey_name),
                cmocka_unit_test(test_ids),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
