/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* stitchd/core/mail.c: the messages (headers, encoded subjects, CRLF, lines
 * within 998 bytes, the link as it is), refused header injections, the
 * templates with their placeholders and file:line errors, and the locale
 * fallback. */

#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "macro.h"
#include "stitchd/core/config.h"
#include "stitchd/core/mail.h"

#define LINK "https://auth.example.com/confirm?token=abc_DEF-123&tokenId=0123456789abcdef01234567"

static void config_init(struct stitch_config *c) {
        assert_int_equal(stitch_config_init_defaults(c), 0);
        c->smtp_url = strdup("smtp://127.0.0.1:2525");
        c->smtp_from = strdup("noreply@mail.example.com");
        assert_non_null(c->smtp_url);
        assert_non_null(c->smtp_from);
}

static char *compose(const struct stitch_mail_templates *t, const struct stitch_config *c,
                     enum stitch_mail_kind kind, const char *to, const char *link, const char *locale, int expect) {
        struct stitch_mail_request m = { .kind = kind, .to = to, .link = link, .locale = locale };
        char *msg = NULL;
        size_t len = 0;

        int r = stitch_mail_compose(t, c, &m, 1700000000, &msg, &len);
        assert_int_equal(r, expect);
        if (r < 0) {
                assert_null(msg);
                return NULL;
        }
        assert_non_null(msg);
        assert_int_equal(strlen(msg), len);
        return msg;
}

/* Every line ends in CRLF, no bare CR or LF, none longer than 998 bytes. */
static void assert_crlf(const char *msg) {
        size_t line = 0;
        for (const char *p = msg; *p; p++) {
                if (*p == '\r') {
                        assert_int_equal(p[1], '\n');
                        assert_true(line <= 998);
                        line = 0;
                        p++;
                } else {
                        assert_int_not_equal(*p, '\n');
                        line++;
                }
        }
        assert_int_equal(line, 0); /* ends with CRLF */
}

static const char *header(const char *msg, const char *name, char *buf, size_t size) {
        size_t n = strlen(name);
        for (const char *p = msg; *p && !(p[0] == '\r' && p[1] == '\n');) {
                const char *end = strstr(p, "\r\n");
                assert_non_null(end);
                if (strncmp(p, name, n) == 0 && p[n] == ':') {
                        snprintf(buf, size, "%.*s", (int) (end - p - n - 2), p + n + 2);
                        return buf;
                }
                p = end + 2;
        }
        return NULL;
}

static void test_headers(void **state) {
        _cleanup_(stitch_mail_templates_freep) struct stitch_mail_templates *t = NULL;
        struct stitch_config c;
        char buf[512];

        config_init(&c);
        assert_int_equal(stitch_mail_templates_load(NULL, stderr, &t), 0);

        _cleanup_free_ char *msg = compose(t, &c, STITCH_MAIL_CONFIRM, "user@example.org", LINK, NULL, 0);
        assert_crlf(msg);
        assert_string_equal(header(msg, "From", buf, sizeof(buf)), "noreply@mail.example.com");
        assert_string_equal(header(msg, "To", buf, sizeof(buf)), "user@example.org");
        assert_string_equal(header(msg, "Subject", buf, sizeof(buf)), "Confirm your email address");
        assert_string_equal(header(msg, "Date", buf, sizeof(buf)), "Tue, 14 Nov 2023 22:13:20 +0000");
        assert_string_equal(header(msg, "MIME-Version", buf, sizeof(buf)), "1.0");
        assert_string_equal(header(msg, "Content-Type", buf, sizeof(buf)), "text/plain; charset=UTF-8");
        assert_string_equal(header(msg, "Content-Transfer-Encoding", buf, sizeof(buf)), "7bit");
        const char *id = header(msg, "Message-ID", buf, sizeof(buf));
        assert_int_equal(strlen(id), 1 + 32 + 1 + strlen("mail.example.com") + 1);
        assert_true(id[0] == '<' && strstr(id, "@mail.example.com>") == id + 33);

        /* the body: the link on a line of its own, as it is; the placeholders filled in */
        const char *body = strstr(msg, "\r\n\r\n");
        assert_non_null(body);
        assert_non_null(strstr(body, "\r\n" LINK "\r\n"));
        assert_non_null(strstr(body, "user@example.org was registered with stitch"));
        assert_non_null(strstr(body, "within 30 minutes"));
        assert_null(strstr(body, "{{"));

        /* a fresh Message-ID each time */
        _cleanup_free_ char *again = compose(t, &c, STITCH_MAIL_RESET, "user@example.org", LINK, NULL, 0);
        char buf2[512];
        assert_string_not_equal(header(again, "Message-ID", buf2, sizeof(buf2)), id);
        assert_string_equal(header(again, "Subject", buf2, sizeof(buf2)), "Reset your password");
        assert_non_null(strstr(again, "A new password was asked for user@example.org"));
        stitch_config_done(&c);
}

static void test_subject_encoding(void **state) {
        _cleanup_(stitch_mail_templates_freep) struct stitch_mail_templates *t = NULL;
        struct stitch_config c;
        char buf[512];

        config_init(&c);
        assert_int_equal(stitch_mail_templates_load(NULL, NULL, &t), 0);

        assert_int_equal(stitch_config_set(&c, "Provider.local-userpass", "ConfirmEmailSubject", "Bestätigen Sie Ihre Adresse", true), 0);
        _cleanup_free_ char *msg = compose(t, &c, STITCH_MAIL_CONFIRM, "a@example.org", LINK, NULL, 0);
        assert_crlf(msg);
        /* base64 of the UTF-8 text, in one encoded-word */
        assert_string_equal(header(msg, "Subject", buf, sizeof(buf)), "=?UTF-8?B?QmVzdMOkdGlnZW4gU2llIElocmUgQWRyZXNzZQ==?=");

        /* a long one: encoded-words of at most 75 characters on folded lines, never splitting a
         * UTF-8 character (each word decodes on its own) */
        assert_int_equal(stitch_config_set(&c, "Provider.local-userpass", "ConfirmEmailSubject", "ääääääääääääääääääääääääääääääääääääääääääääääääääää€€€€€€€€€€€€€€€€€€€€", true), 0);
        _cleanup_free_ char *longer = compose(t, &c, STITCH_MAIL_CONFIRM, "a@example.org", LINK, NULL, 0);
        assert_crlf(longer);
        const char *s = strstr(longer, "\r\nSubject: ");
        assert_non_null(s);
        s += 2;
        const char *end = strstr(s, "\r\nDate:");
        assert_non_null(end);
        unsigned words = 0;
        for (const char *w = strstr(s, "=?UTF-8?B?"); w && w < end; w = strstr(w + 1, "=?UTF-8?B?")) {
                const char *close = strstr(w + 10, "?=");
                assert_true(close - w + 2 <= 75);
                /* 45 bytes or fewer: a multiple of 2-byte ä or 3-byte € never cut */
                words++;
        }
        assert_true(words >= 3);
        assert_non_null(strstr(s, "?=\r\n =?UTF-8?B?")); /* folded */

        /* plain ASCII but long: encoded too, so the header line stays short */
        assert_int_equal(stitch_config_set(&c, "Provider.local-userpass", "ConfirmEmailSubject", "A subject that is plain ASCII but far longer than the seventy-eight "
                                         "characters a header line should keep to", true), 0);
        _cleanup_free_ char *ascii = compose(t, &c, STITCH_MAIL_CONFIRM, "a@example.org", LINK, NULL, 0);
        assert_non_null(strstr(ascii, "Subject: =?UTF-8?B?"));
        stitch_config_done(&c);
}

static void test_injection_refused(void **state) {
        _cleanup_(stitch_mail_templates_freep) struct stitch_mail_templates *t = NULL;
        struct stitch_config c;

        config_init(&c);
        assert_int_equal(stitch_mail_templates_load(NULL, NULL, &t), 0);

        static const char *const bad_to[] = {
                "a@example.org\r\nBcc: victim@example.net",
                "a@example.org\nBcc: victim@example.net",
                "a@example.org\r",
                "a@example.org>, <b@example.net",
                "<a@example.org>",
                "a b@example.org",
                "",
                "a@example.org\tx",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_to); i++)
                compose(t, &c, STITCH_MAIL_CONFIRM, bad_to[i], LINK, NULL, -EINVAL);

        /* the link: printable ASCII, no space, not empty */
        compose(t, &c, STITCH_MAIL_CONFIRM, "a@example.org", LINK "\r\nBcc: x@example.net", NULL, -EINVAL);
        compose(t, &c, STITCH_MAIL_CONFIRM, "a@example.org", LINK "\n.\r\nRCPT TO:<x@example.net>", NULL, -EINVAL);
        compose(t, &c, STITCH_MAIL_CONFIRM, "a@example.org", "", NULL, -EINVAL);
        compose(t, &c, STITCH_MAIL_CONFIRM, "a@example.org", "https://x.example/ a", NULL, -EINVAL);

        /* a subject, From= or AppId= with a line break (a config filled by hand) */
        assert_int_equal(stitch_config_set(&c, "Provider.local-userpass", "ResetPasswordSubject", "Reset\r\nBcc: victim@example.net", false), 0);
        compose(t, &c, STITCH_MAIL_RESET, "a@example.org", LINK, NULL, -EINVAL);
        free(c.smtp_from);
        c.smtp_from = strdup("noreply@example.com\r\nBcc: victim@example.net");
        compose(t, &c, STITCH_MAIL_CONFIRM, "a@example.org", LINK, NULL, -EINVAL);
        free(c.smtp_from);
        c.smtp_from = strdup("noreply@example.com");
        free(c.http_app_id);
        c.http_app_id = strdup("app\nBcc: victim@example.net");
        compose(t, &c, STITCH_MAIL_CONFIRM, "a@example.org", LINK, NULL, -EINVAL);

        /* a link too long for one line of the body */
        char long_link[1100] = "https://x.example/?token=";
        memset(long_link + strlen(long_link), 'a', 1000);
        free(c.http_app_id);
        c.http_app_id = strdup("stitch");
        compose(t, &c, STITCH_MAIL_CONFIRM, "a@example.org", long_link, NULL, -E2BIG);
        stitch_config_done(&c);
}

/* ---- templates on disk -------------------------------------------------------------------------- */

static char *mfree_helper(char *p) {
        free(p);
        return NULL;
}

static char *make_dir(void) {
        char *d = strdup("/tmp/test-mail.XXXXXX");
        assert_non_null(d);
        assert_non_null(mkdtemp(d));
        return d;
}

static void write_file(const char *dir, const char *name, const char *text) {
        _cleanup_free_ char *path = NULL;
        assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        (void) st, (void) type, (void) ftw;
        return remove(path);
}

static void remove_tree(const char *dir) {
        assert_int_equal(nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static int load(const char *dir, char **ret_errors, struct stitch_mail_templates **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        assert_non_null(f);
        int r = stitch_mail_templates_load(dir, f, ret);
        assert_int_equal(fclose(f), 0);
        *ret_errors = buf;
        return r;
}

static void test_templates(void **state) {
        _cleanup_free_ char *dir = make_dir(), *errors = NULL;
        struct stitch_mail_templates *t = NULL;
        struct stitch_config c;
        char buf[512];

        config_init(&c);
        write_file(dir, "confirm.txt", "Hi {{email}},\r\nconfirm for {{app}} ({{expires}}):\r\n{{link}}\r\nGrüße\r\n");
        write_file(dir, "reset.txt", "Reset: {{link}}{{link}}");
        write_file(dir, "README", "not a template {{nonsense}}");
        assert_int_equal(load(dir, &errors, &t), 0);
        assert_string_equal(errors, "");

        _cleanup_free_ char *msg = compose(t, &c, STITCH_MAIL_CONFIRM, "u@example.org", LINK, NULL, 0);
        assert_crlf(msg);
        const char *body = strstr(msg, "\r\n\r\n") + 4;
        assert_string_equal(body, "Hi u@example.org,\r\nconfirm for stitch (30 minutes):\r\n" LINK "\r\nGrüße\r\n");
        assert_string_equal(header(msg, "Content-Transfer-Encoding", buf, sizeof(buf)), "8bit");
        _cleanup_free_ char *reset = compose(t, &c, STITCH_MAIL_RESET, "u@example.org", LINK, NULL, 0);
        assert_string_equal(strstr(reset, "\r\n\r\n") + 4, "Reset: " LINK LINK "\r\n"); /* a final CRLF added */
        t = stitch_mail_templates_free(t);
        errors = mfree_helper(errors);

        /* problems, each with its file and line */
        write_file(dir, "confirm.txt", "line one\n{{link}} and {{token}}\nthird {{ link\n{{}}\n");
        write_file(dir, "reset.txt", "ok {{link}}\nbad \x01 byte\nbad \xc3\x28 utf8\n");
        assert_int_equal(load(dir, &errors, &t), -EINVAL);
        assert_null(t);
        _cleanup_free_ char *expected = NULL;
        assert_true(asprintf(&expected,
                             "%1$s/confirm.txt:2: unknown placeholder {{token}} (known: {{link}}, {{email}}, {{app}}, {{expires}})\n"
                             "%1$s/confirm.txt:3: \"{{\" without \"}}\" on the same line\n"
                             "%1$s/confirm.txt:4: unknown placeholder {{}} (known: {{link}}, {{email}}, {{app}}, {{expires}})\n"
                             "%1$s/reset.txt:2: control character 0x01\n"
                             "%1$s/reset.txt:3: not UTF-8\n",
                             dir) > 0);
        assert_string_equal(errors, expected);
        errors = mfree_helper(errors);

        /* a line over 998 bytes; a missing or unreadable file */
        char big[1100];
        memset(big, 'x', 999);
        big[999] = 0;
        write_file(dir, "confirm.txt", big);
        _cleanup_free_ char *reset_path = NULL;
        assert_true(asprintf(&reset_path, "%s/reset.txt", dir) > 0);
        assert_int_equal(unlink(reset_path), 0);
        assert_int_equal(load(dir, &errors, &t), -EINVAL);
        free(expected);
        assert_true(asprintf(&expected,
                             "%1$s/confirm.txt:1: line longer than 998 bytes\n"
                             "%1$s/reset.txt: No such file or directory\n",
                             dir) > 0);
        assert_string_equal(errors, expected);
        errors = mfree_helper(errors);

        _cleanup_free_ char *missing = NULL;
        assert_true(asprintf(&missing, "%s/none", dir) > 0);
        assert_int_equal(load(missing, &errors, &t), -EINVAL);
        free(expected);
        assert_true(asprintf(&expected, "%s: No such file or directory\n", missing) > 0);
        assert_string_equal(errors, expected);

        remove_tree(dir);
        stitch_config_done(&c);
}

static void test_locales(void **state) {
        _cleanup_free_ char *dir = make_dir(), *errors = NULL, *sub = NULL;
        _cleanup_(stitch_mail_templates_freep) struct stitch_mail_templates *t = NULL;
        struct stitch_config c;

        config_init(&c);
        write_file(dir, "confirm.txt", "EN confirm {{link}}\n");
        write_file(dir, "reset.txt", "EN reset {{link}}\n");
        assert_true(asprintf(&sub, "%s/de", dir) > 0);
        assert_int_equal(mkdir(sub, 0755), 0);
        write_file(dir, "de/confirm.txt", "DE bestätigen {{link}}\n"); /* no de/reset.txt */
        free(sub);
        assert_true(asprintf(&sub, "%s/pt-BR", dir) > 0);
        assert_int_equal(mkdir(sub, 0755), 0);
        write_file(dir, "pt-BR/reset.txt", "PT-BR reset {{link}}\n");
        free(sub);
        assert_true(asprintf(&sub, "%s/not_a.locale", dir) > 0); /* not a locale name: not ours */
        assert_int_equal(mkdir(sub, 0755), 0);
        write_file(dir, "not_a.locale/confirm.txt", "{{bad}}\n");
        assert_int_equal(load(dir, &errors, &t), 0);
        assert_string_equal(errors, "");

        assert_string_equal(stitch_mail_templates_pick(t, STITCH_MAIL_CONFIRM, "de"), "de");
        assert_string_equal(stitch_mail_templates_pick(t, STITCH_MAIL_CONFIRM, "DE"), "de");
        assert_string_equal(stitch_mail_templates_pick(t, STITCH_MAIL_CONFIRM, "de-AT"), "de"); /* the language */
        assert_string_equal(stitch_mail_templates_pick(t, STITCH_MAIL_RESET, "de"), "");        /* no de/reset.txt */
        assert_string_equal(stitch_mail_templates_pick(t, STITCH_MAIL_RESET, "pt-br"), "pt-BR");
        assert_string_equal(stitch_mail_templates_pick(t, STITCH_MAIL_RESET, "pt"), "");
        assert_string_equal(stitch_mail_templates_pick(t, STITCH_MAIL_CONFIRM, "fr"), "");
        assert_string_equal(stitch_mail_templates_pick(t, STITCH_MAIL_CONFIRM, NULL), "");
        /* invalid locales: the default */
        assert_string_equal(stitch_mail_templates_pick(t, STITCH_MAIL_CONFIRM, "../de"), "");
        assert_string_equal(stitch_mail_templates_pick(t, STITCH_MAIL_CONFIRM, "de\r\n"), "");
        assert_string_equal(stitch_mail_templates_pick(t, STITCH_MAIL_CONFIRM, "abcdefghijklmnopq"), "");
        assert_string_equal(stitch_mail_templates_pick(t, STITCH_MAIL_CONFIRM, ""), "");
        assert_true(stitch_mail_locale_valid("abcdefghijklmnop"));
        assert_false(stitch_mail_locale_valid("abcdefghijklmnopq"));

        _cleanup_free_ char *de = compose(t, &c, STITCH_MAIL_CONFIRM, "u@example.org", LINK, "de-CH", 0);
        assert_non_null(strstr(de, "\r\n\r\nDE bestätigen " LINK "\r\n"));
        _cleanup_free_ char *en = compose(t, &c, STITCH_MAIL_RESET, "u@example.org", LINK, "de", 0);
        assert_non_null(strstr(en, "\r\n\r\nEN reset " LINK "\r\n"));
        _cleanup_free_ char *pt = compose(t, &c, STITCH_MAIL_RESET, "u@example.org", LINK, "pt-BR", 0);
        assert_non_null(strstr(pt, "\r\n\r\nPT-BR reset " LINK "\r\n"));

        remove_tree(dir);
        stitch_config_done(&c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_headers),
                cmocka_unit_test(test_subject_encoding),
                cmocka_unit_test(test_injection_refused),
                cmocka_unit_test(test_templates),
                cmocka_unit_test(test_locales),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
