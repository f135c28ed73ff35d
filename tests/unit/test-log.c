/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/log.c: whatever a caller formats into a message (user
 * names, services and remote hosts from the network), each log call reaches
 * the sink as exactly one line with no byte a terminal acts on. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

#include "log.h"

static char last[16384];
static bool have_utf8_locale;
static unsigned calls;
static int last_error;

static void capture_sink(int priority, int error, const char *file, int line, const char *func,
                         const char *message) {
        (void) priority, (void) file, (void) line, (void) func;
        snprintf(last, sizeof(last), "%s", message);
        last_error = error;
        calls++;
}

static int setup(void **state) {
        stitch_log_set_sink(capture_sink);
        stitch_log_set_max_level(LOG_DEBUG);
        calls = 0;
        last[0] = 0;
        return 0;
}

static int teardown(void **state) {
        stitch_log_set_sink(NULL);
        stitch_log_set_max_level(LOG_INFO);
        return 0;
}

/* Escapes one string through a log call; returns what the sink got. */
static const char *logged(const char *s) {
        unsigned before = calls;
        log_info("%s", s);
        assert_int_equal(calls, before + 1);
        return last;
}

/* The property every sink relies on: no byte below 0x20, no DEL, and what
 * is not ASCII is well-formed UTF-8 that is not a C1 control. Checked with
 * the C library's UTF-8 decoder, not with the code under test. */
static void assert_one_printable_line(const char *s) {
        mbstate_t st = {};
        size_t n = strlen(s);
        for (size_t i = 0; i < n;) {
                unsigned char c = (unsigned char) s[i];
                assert_false(c < 0x20 || c == 0x7f);
                if (c < 0x80 || !have_utf8_locale) {
                        i++;
                        continue;
                }
                wchar_t wc;
                size_t k = mbrtowc(&wc, s + i, n - i, &st);
                assert_true(k != (size_t) -1 && k != (size_t) -2 && k >= 2);
                assert_false(wc >= 0x80 && wc <= 0x9f);
                assert_false(wc >= 0xd800 && wc <= 0xdfff);
                i += k;
        }
}

static void test_plain(void **state) {
        assert_string_equal(logged("Login of ada (user 0123) via sshd with local-userpass."),
                            "Login of ada (user 0123) via sshd with local-userpass.");
        assert_string_equal(logged(""), "");
        /* Backslashes stay as they are (as in OpenSSH's log). */
        assert_string_equal(logged("DOMAIN\\ada"), "DOMAIN\\ada");
}

static void test_controls(void **state) {
        assert_string_equal(logged("a\nb"), "a\\nb");
        assert_string_equal(logged("a\rb"), "a\\rb");
        assert_string_equal(logged("a\tb"), "a\\tb");
        assert_string_equal(logged("\x1b[2J\x1b]0;owned\x07"), "\\x1b[2J\\x1b]0;owned\\x07");
        assert_string_equal(logged("\x01\x1f\x7f"), "\\x01\\x1f\\x7f");
        assert_string_equal(logged("\b\b\b\broot"), "\\x08\\x08\\x08\\x08root");
}

static void test_forged_line(void **state) {
        /* What a hostile sshd client or PAM service puts into the names. */
        const char *service = "sshd\nLogin of root (user 000000000000000000000000) via sshd with local-userpass.";
        unsigned before = calls;
        log_notice("Login for %s via %s with %s failed (rhost %s).", "mallory", service, "local-userpass",
                   "10.0.0.1\r\nLogin of root (user X) via sshd");
        assert_int_equal(calls, before + 1);
        assert_null(strchr(last, '\n'));
        assert_null(strchr(last, '\r'));
        assert_string_equal(last, "Login for mallory via sshd\\nLogin of root (user 000000000000000000000000) via "
                                  "sshd with local-userpass. with local-userpass failed (rhost "
                                  "10.0.0.1\\r\\nLogin of root (user X) via sshd).");
}

static void test_utf8(void **state) {
        /* Well-formed UTF-8 is text: names are not only ASCII. */
        assert_string_equal(logged("J\xc3\xbcrgen \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x94\x91 \xc2\xa0"),
                            "J\xc3\xbcrgen \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x94\x91 \xc2\xa0");
        assert_string_equal(logged("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
        assert_string_equal(logged("\xed\x9f\xbf"), "\xed\x9f\xbf");         /* U+D7FF */
        /* C1 controls: U+009B is CSI, U+0085 NEL (a line break to some). */
        assert_string_equal(logged("\xc2\x9b" "2J"), "\\xc2\\x9b2J");
        assert_string_equal(logged("a\xc2\x85" "b"), "a\\xc2\\x85b");
        assert_string_equal(logged("\xc2\x80\xc2\x9f"), "\\xc2\\x80\\xc2\\x9f");
        /* Raw 8-bit C1 and other bytes that are not UTF-8. */
        assert_string_equal(logged("\x9b" "2J"), "\\x9b2J");
        assert_string_equal(logged("\x80\xbf\xfe\xff"), "\\x80\\xbf\\xfe\\xff");
        assert_string_equal(logged("\xc0\xaf"), "\\xc0\\xaf");                 /* overlong '/' */
        assert_string_equal(logged("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");         /* overlong, 3 bytes */
        assert_string_equal(logged("\xf0\x80\x80\xaf"), "\\xf0\\x80\\x80\\xaf"); /* overlong, 4 bytes */
        assert_string_equal(logged("\xed\xa0\x80"), "\\xed\\xa0\\x80");         /* surrogate U+D800 */
        assert_string_equal(logged("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); /* above U+10FFFF */
        assert_string_equal(logged("\xe6\x97"), "\\xe6\\x97");                 /* cut short */
        assert_string_equal(logged("\xe6\x97" "a"), "\\xe6\\x97a");
        assert_string_equal(logged("\xe6\x97\n"), "\\xe6\\x97\\n");
}

static void test_every_byte(void **state) {
        for (unsigned c = 1; c < 256; c++) {
                char in[4] = {'<', (char) c, '>', 0};
                const char *out = logged(in);
                assert_one_printable_line(out);
                if (c >= 0x20 && c < 0x7f)
                        assert_int_equal(strlen(out), 3);
                else
                        assert_true(strlen(out) >= 4 && out[1] == '\\');
        }
}

static void test_random(void **state) {
        /* Deterministic: a fixed LCG, biased towards bytes that start or
         * continue UTF-8 sequences so that near-valid input is common. */
        uint32_t x = 12345;
        char in[64];
        for (int round = 0; round < 20000; round++) {
                size_t n = 1 + round % (sizeof(in) - 1);
                for (size_t i = 0; i < n - 1; i++) {
                        x = x * 1103515245u + 12345u;
                        unsigned b = (x >> 16) & 0xff;
                        static const unsigned char pick[] = {0x0a, 0x1b, 0x7f, 0x80, 0x9b, 0xbf, 0xc2, 0xc3,
                                                             0xe0, 0xe6, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff};
                        in[i] = (char) ((x >> 8) & 1 ? pick[b & 15] : (b ? b : 'a'));
                }
                in[n - 1] = 0;
                assert_one_printable_line(logged(in));
        }
}

static void test_escape_bounds(void **state) {
        char buf[8];

        assert_int_equal(stitch_log_escape("abc", buf, sizeof(buf)), 3);
        assert_string_equal(buf, "abc");
        /* Never cut inside an escape or a character. */
        assert_int_equal(stitch_log_escape("abcdef\n", buf, sizeof(buf)), 6);
        assert_string_equal(buf, "abcdef");
        assert_int_equal(stitch_log_escape("abcde\n", buf, sizeof(buf)), 7);
        assert_string_equal(buf, "abcde\\n");
        assert_int_equal(stitch_log_escape("abcd\x1b", buf, sizeof(buf)), 4);
        assert_string_equal(buf, "abcd");
        assert_int_equal(stitch_log_escape("abc\x1b", buf, sizeof(buf)), 7);
        assert_string_equal(buf, "abc\\x1b");
        assert_int_equal(stitch_log_escape("abcde\xe6\x97\xa5", buf, sizeof(buf)), 5);
        assert_string_equal(buf, "abcde");
        assert_int_equal(stitch_log_escape("abcd\xe6\x97\xa5", buf, sizeof(buf)), 7);
        assert_string_equal(buf, "abcd\xe6\x97\xa5");
        assert_int_equal(stitch_log_escape("\n", buf, 1), 0);
        assert_string_equal(buf, "");
}

static void test_long_message(void **state) {
        /* The longest message (2047 bytes), all escapes: delivered whole. */
        char *in = malloc(3000);
        assert_non_null(in);
        memset(in, 0x1b, 2999);
        in[2999] = 0;
        log_info("%s", in);
        assert_int_equal(strlen(last), 4 * 2047);
        assert_one_printable_line(last);
        free(in);
}

static void test_errno(void **state) {
        assert_int_equal(log_error_errno(ENOENT, "open %s: %m", "a\nb"), -ENOENT);
        assert_string_equal(last, "open a\\nb: No such file or directory");
        assert_int_equal(last_error, ENOENT);
        assert_int_equal(log_error_errno(-EACCES, "%s", "x"), -EACCES);
        assert_int_equal(last_error, EACCES);
        /* Below the level: nothing reaches the sink. */
        unsigned before = calls;
        stitch_log_set_max_level(LOG_INFO);
        log_debug("%s", "hidden\n");
        assert_int_equal(calls, before);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_plain, setup, teardown),
                cmocka_unit_test_setup_teardown(test_controls, setup, teardown),
                cmocka_unit_test_setup_teardown(test_forged_line, setup, teardown),
                cmocka_unit_test_setup_teardown(test_utf8, setup, teardown),
                cmocka_unit_test_setup_teardown(test_every_byte, setup, teardown),
                cmocka_unit_test_setup_teardown(test_random, setup, teardown),
                cmocka_unit_test_setup_teardown(test_escape_bounds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_long_message, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errno, setup, teardown),
        };
        have_utf8_locale = setlocale(LC_CTYPE, "C.UTF-8") != NULL;
        if (!have_utf8_locale)
                fprintf(stderr, "warning: no C.UTF-8 locale; the UTF-8 property checks are weaker\n");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
