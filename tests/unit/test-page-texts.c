/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchd/core/page-texts.c: the built-in pages' words, replaced and
 * translated from TemplateDirectory= (pages.txt, LOCALE/pages.txt), checked
 * with file:line errors; the locale's words, its language's, else the
 * default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/page-texts.h"

static char dir[256];

static void write_file(const char *rel, const char *text) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        char *slash = strrchr(path, '/');
        *slash = 0;
        (void) mkdir(path, 0755);
        *slash = '/';
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static int rm_cb(const char *p, const struct stat *s, int t, struct FTW *w) {
        (void) s, (void) t, (void) w;
        return remove(p);
}

static int setup(void **state) {
        (void) state;
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof(dir), "%s/test-page-texts-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
        (void) state;
        return nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_builtin(void **state) {
        struct stitch_page_texts *t = NULL;
        const char *lang = NULL;
        (void) state;

        assert_int_equal(stitch_page_texts_load(NULL, stderr, &t), 0);
        assert_string_equal(stitch_page_text(t, STITCH_PAGE_RESET_TITLE, "de", &lang), "Reset your password");
        assert_string_equal(lang, "en");
        assert_non_null(strstr(stitch_page_text(t, STITCH_PAGE_RESET_INTRO, NULL, NULL), "{{min}}"));
        assert_string_equal(stitch_page_text_name(STITCH_PAGE_LINK_INVALID), "link_invalid");
        for (int i = 0; i < _STITCH_PAGE_TEXT_MAX; i++)
                assert_true(strlen(stitch_page_text(t, (enum stitch_page_text) i, NULL, NULL)) > 0);
        t = stitch_page_texts_free(t);
}

static void test_translations(void **state) {
        struct stitch_page_texts *t = NULL;
        const char *lang = NULL;
        (void) state;

        write_file("pages.txt", "# our own words\nreset_title = Choose a new password\n\n");
        write_file("de/pages.txt", "reset_title = Passwort zurücksetzen\n"
                                   "reset_intro = Mindestens {{min}} Zeichen.\n");
        write_file("pt-BR/pages.txt", "confirm_title = Confirme seu e-mail\n");
        write_file("not a locale/pages.txt", "this is = never read\n");
        assert_int_equal(stitch_page_texts_load(dir, stderr, &t), 0);
        assert_string_equal(stitch_page_text(t, STITCH_PAGE_RESET_TITLE, NULL, NULL), "Choose a new password");
        assert_string_equal(stitch_page_text(t, STITCH_PAGE_RESET_TITLE, "de", &lang), "Passwort zurücksetzen");
        assert_string_equal(lang, "de");
        /* a region falls back to its language, a case difference is no difference */
        assert_string_equal(stitch_page_text(t, STITCH_PAGE_RESET_TITLE, "DE-at", NULL), "Passwort zurücksetzen");
        assert_string_equal(stitch_page_text(t, STITCH_PAGE_CONFIRM_TITLE, "pt-BR", NULL), "Confirme seu e-mail");
        /* words a translation leaves out: the default's */
        assert_string_equal(stitch_page_text(t, STITCH_PAGE_CONFIRM_TITLE, "de", NULL), "Confirm your email address");
        /* an unknown or invalid locale: the default */
        assert_string_equal(stitch_page_text(t, STITCH_PAGE_RESET_TITLE, "fr", NULL), "Choose a new password");
        assert_string_equal(stitch_page_text(t, STITCH_PAGE_RESET_TITLE, "../de", NULL), "Choose a new password");
        t = stitch_page_texts_free(t);
}

static void test_errors(void **state) {
        struct stitch_page_texts *t = NULL;
        char *out = NULL;
        size_t len = 0;
        (void) state;

        write_file("pages.txt", "reset_title = fine\n"
                                "no_such_text = x\n"
                                "reset_intro = {{max}} characters\n"
                                "reset_title = again\n"
                                "just words\n"
                                "failed =\n");
        FILE *f = open_memstream(&out, &len);
        assert_non_null(f);
        assert_int_equal(stitch_page_texts_load(dir, f, &t), -EINVAL);
        fclose(f);
        assert_null(t);
        char want[512];
        snprintf(want, sizeof(want), "%s/pages.txt:2: no_such_text: unknown name", dir);
        assert_non_null(strstr(out, want));
        snprintf(want, sizeof(want), "%s/pages.txt:3: reset_intro: unknown placeholder", dir);
        assert_non_null(strstr(out, want));
        snprintf(want, sizeof(want), "%s/pages.txt:4: reset_title given twice", dir);
        assert_non_null(strstr(out, want));
        snprintf(want, sizeof(want), "%s/pages.txt:5: expected \"name = text\"", dir);
        assert_non_null(strstr(out, want));
        snprintf(want, sizeof(want), "%s/pages.txt:6: failed: empty text", dir);
        assert_non_null(strstr(out, want));
        free(out);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_builtin),
                cmocka_unit_test_setup_teardown(test_translations, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
