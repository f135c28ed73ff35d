/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mail.h" /* stitch_mail_locale_valid() */
#include "core/page-texts.h"
#include "log.h"

static const char *const names[_STITCH_PAGE_TEXT_MAX] = {
        [STITCH_PAGE_CONFIRM_TITLE] = "confirm_title",
        [STITCH_PAGE_CONFIRM_INTRO] = "confirm_intro",
        [STITCH_PAGE_CONFIRM_BUTTON] = "confirm_button",
        [STITCH_PAGE_CONFIRMED] = "confirmed",
        [STITCH_PAGE_RESET_TITLE] = "reset_title",
        [STITCH_PAGE_RESET_INTRO] = "reset_intro",
        [STITCH_PAGE_NEW_PASSWORD] = "new_password",
        [STITCH_PAGE_REPEAT_PASSWORD] = "repeat_password",
        [STITCH_PAGE_RESET_BUTTON] = "reset_button",
        [STITCH_PAGE_RESET_DONE] = "reset_done",
        [STITCH_PAGE_LINK_INCOMPLETE] = "link_incomplete",
        [STITCH_PAGE_FORM_INCOMPLETE] = "form_incomplete",
        [STITCH_PAGE_LINK_INVALID] = "link_invalid",
        [STITCH_PAGE_PASSWORDS_DIFFER] = "passwords_differ",
        [STITCH_PAGE_PASSWORD_LENGTH] = "password_length",
        [STITCH_PAGE_OTHER_ORIGIN] = "other_origin",
        [STITCH_PAGE_FAILED] = "failed",
};

static const char *const english[_STITCH_PAGE_TEXT_MAX] = {
        [STITCH_PAGE_CONFIRM_TITLE] = "Confirm your email address",
        [STITCH_PAGE_CONFIRM_INTRO] = "Confirm the email address of your account.",
        [STITCH_PAGE_CONFIRM_BUTTON] = "Confirm my email address",
        [STITCH_PAGE_CONFIRMED] = "Your email address is confirmed. You can log in now.",
        [STITCH_PAGE_RESET_TITLE] = "Reset your password",
        [STITCH_PAGE_RESET_INTRO] = "Choose a new password: {{min}} to 128 characters.",
        [STITCH_PAGE_NEW_PASSWORD] = "New password",
        [STITCH_PAGE_REPEAT_PASSWORD] = "Repeat it",
        [STITCH_PAGE_RESET_BUTTON] = "Set the new password",
        [STITCH_PAGE_RESET_DONE] = "Your password is changed. Log in with the new one.",
        [STITCH_PAGE_LINK_INCOMPLETE] =
                "This link is incomplete. Open the whole link from the mail, or ask for a new one.",
        [STITCH_PAGE_FORM_INCOMPLETE] = "The form is incomplete. Open the link from the mail again.",
        [STITCH_PAGE_LINK_INVALID] = "This link has expired, was used already, or is not valid. Ask for a new one; "
                                     "a link works once, for a limited time.",
        [STITCH_PAGE_PASSWORDS_DIFFER] = "The two passwords differ. Type the same new password twice.",
        [STITCH_PAGE_PASSWORD_LENGTH] = "The password must be {{min}} to 128 characters long.",
        [STITCH_PAGE_OTHER_ORIGIN] = "This form can only be sent from this site.",
        [STITCH_PAGE_FAILED] = "Something went wrong on our side. Try again later.",
};

struct locale_texts {
        char locale[STITCH_MAIL_LOCALE_MAX + 1]; /* "" for the default */
        char *texts[_STITCH_PAGE_TEXT_MAX];      /* NULL: not given */
};

struct stitch_page_texts {
        struct locale_texts *locales;
        size_t n;
};

const char *stitch_page_text_name(enum stitch_page_text t) {
        return t < _STITCH_PAGE_TEXT_MAX ? names[t] : NULL;
}

struct stitch_page_texts *stitch_page_texts_free(struct stitch_page_texts *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n; i++)
                for (size_t k = 0; k < _STITCH_PAGE_TEXT_MAX; k++)
                        free(t->locales[i].texts[k]);
        free(t->locales);
        free(t);
        return NULL;
}

static char *strip(char *s) {
        while (*s == ' ' || *s == '\t')
                s++;
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
                s[--n] = 0;
        return s;
}

/* A text: printable (no control characters), and {{min}} its only placeholder. */
static const char *text_problem(const char *s) {
        if (!*s)
                return "empty text";
        if (strlen(s) > STITCH_PAGE_TEXT_MAX)
                return "text longer than 512 bytes";
        for (const unsigned char *c = (const unsigned char *) s; *c; c++)
                if (*c < 0x20 || *c == 0x7f)
                        return "control character in the text";
        for (const char *p = strstr(s, "{{"); p; p = strstr(p + 2, "{{"))
                if (strncmp(p, "{{min}}", 7) != 0)
                        return "unknown placeholder (known: {{min}})";
        return NULL;
}

#define PROBLEM(...) (errors ? fprintf(errors, __VA_ARGS__) : 0, bad = true)

/* Reads one pages.txt into l; false if it had problems (reported). A missing
 * file is no problem. */
static int read_file(const char *path, struct locale_texts *l, FILE *errors) {
        FILE *f = fopen(path, "re");
        bool bad = false;
        if (!f) {
                if (errno == ENOENT)
                        return 0;
                PROBLEM("%s: cannot read: %s\n", path, strerror(errno));
                return -EINVAL;
        }
        char line[2048];
        for (unsigned n = 1; fgets(line, sizeof(line), f); n++) {
                if (!strchr(line, '\n') && !feof(f)) {
                        PROBLEM("%s:%u: line too long\n", path, n);
                        break;
                }
                char *s = strip(line);
                if (!*s || *s == '#')
                        continue;
                char *eq = strchr(s, '=');
                if (!eq) {
                        PROBLEM("%s:%u: expected \"name = text\"\n", path, n);
                        continue;
                }
                *eq = 0;
                char *name = strip(s), *text = strip(eq + 1);
                size_t k = 0;
                while (k < _STITCH_PAGE_TEXT_MAX && strcmp(names[k], name) != 0)
                        k++;
                const char *problem = k == _STITCH_PAGE_TEXT_MAX ? "unknown name" : text_problem(text);
                if (problem) {
                        PROBLEM("%s:%u: %s: %s\n", path, n, name, problem);
                        continue;
                }
                if (l->texts[k]) {
                        PROBLEM("%s:%u: %s given twice\n", path, n, name);
                        continue;
                }
                l->texts[k] = strdup(text);
                if (!l->texts[k]) {
                        fclose(f);
                        return -ENOMEM;
                }
        }
        fclose(f);
        return bad ? -EINVAL : 0;
}

static int add_locale(struct stitch_page_texts *t, const char *locale, const char *path, FILE *errors) {
        struct locale_texts *n = realloc(t->locales, (t->n + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        t->locales = n;
        struct locale_texts *l = &t->locales[t->n++];
        *l = (struct locale_texts) {};
        snprintf(l->locale, sizeof(l->locale), "%s", locale);
        return read_file(path, l, errors);
}

int stitch_page_texts_load(const char *directory, FILE *errors, struct stitch_page_texts **ret) {
        _cleanup_(stitch_page_texts_freep) struct stitch_page_texts *t = calloc(1, sizeof(*t));
        char path[4096];
        int r = 0;

        if (!t)
                return -ENOMEM;
        if (directory && *directory) {
                snprintf(path, sizeof(path), "%s/pages.txt", directory);
                r = add_locale(t, "", path, errors);
                DIR *d = opendir(directory);
                for (struct dirent *e; r != -ENOMEM && d && (e = readdir(d));) {
                        if (e->d_name[0] == '.' || !stitch_mail_locale_valid(e->d_name))
                                continue;
                        if ((size_t) snprintf(path, sizeof(path), "%s/%s/pages.txt", directory, e->d_name) >=
                            sizeof(path))
                                continue;
                        int k = add_locale(t, e->d_name, path, errors);
                        if (k < 0 && r >= 0)
                                r = k;
                }
                if (d)
                        closedir(d);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

static const char *lookup(const struct stitch_page_texts *t, enum stitch_page_text id, const char *locale,
                          size_t n) {
        for (size_t i = 0; t && i < t->n; i++)
                if (strlen(t->locales[i].locale) == n && strncasecmp(t->locales[i].locale, locale, n) == 0 &&
                    t->locales[i].texts[id])
                        return t->locales[i].texts[id];
        return NULL;
}

const char *stitch_page_text(const struct stitch_page_texts *t, enum stitch_page_text id, const char *locale,
                             const char **ret_lang) {
        const char *s = NULL, *lang = "en";
        if (id >= _STITCH_PAGE_TEXT_MAX)
                return "";
        if (locale && stitch_mail_locale_valid(locale)) {
                const char *dash = strchr(locale, '-');
                s = lookup(t, id, locale, strlen(locale));
                if (!s && dash)
                        s = lookup(t, id, locale, (size_t) (dash - locale));
                if (s)
                        lang = locale;
        }
        if (!s)
                s = lookup(t, id, "", 0);
        if (!s) {
                s = english[id];
                lang = "en";
        }
        if (ret_lang)
                *ret_lang = lang;
        return s;
}
