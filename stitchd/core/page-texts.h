/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The words of the built-in confirm and reset pages (frontends/http/pages.c):
 * English built in, each replaceable, and translated per locale, from
 * [Smtp] TemplateDirectory= (the same directory as the mail texts):
 *
 *   DIR/pages.txt          replaces the English words (optional)
 *   DIR/LOCALE/pages.txt   the words for links made with that locale (optional)
 *
 * A pages.txt holds "name = text" lines ('#' starts a comment); the names
 * are those of enum stitch_page_text (stitch_page_text_name()), a text is
 * 1-512 bytes of printable UTF-8, and {{min}} (the shortest password) is the
 * one placeholder. Names left out keep the English words. Checked once at
 * start, with file:line errors. */

#include <stdio.h>

#include "macro.h"

enum stitch_page_text {
        STITCH_PAGE_CONFIRM_TITLE,
        STITCH_PAGE_CONFIRM_INTRO,
        STITCH_PAGE_CONFIRM_BUTTON,
        STITCH_PAGE_CONFIRMED,
        STITCH_PAGE_RESET_TITLE,
        STITCH_PAGE_RESET_INTRO,     /* {{min}} */
        STITCH_PAGE_NEW_PASSWORD,
        STITCH_PAGE_REPEAT_PASSWORD,
        STITCH_PAGE_RESET_BUTTON,
        STITCH_PAGE_RESET_DONE,
        STITCH_PAGE_LINK_INCOMPLETE,
        STITCH_PAGE_FORM_INCOMPLETE,
        STITCH_PAGE_LINK_INVALID,
        STITCH_PAGE_PASSWORDS_DIFFER,
        STITCH_PAGE_PASSWORD_LENGTH, /* {{min}} */
        STITCH_PAGE_OTHER_ORIGIN,
        STITCH_PAGE_FAILED,
        _STITCH_PAGE_TEXT_MAX,
};

#define STITCH_PAGE_TEXT_MAX 512

struct stitch_page_texts;

const char *stitch_page_text_name(enum stitch_page_text t);

/* directory NULL or empty: English only. Problems go to 'errors' (may be
 * NULL) as "file:line: message". 0, -EINVAL (problems reported), -ENOMEM. */
int stitch_page_texts_load(const char *directory, FILE *errors, struct stitch_page_texts **ret);
struct stitch_page_texts *stitch_page_texts_free(struct stitch_page_texts *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct stitch_page_texts *, stitch_page_texts_free);

/* The text in 'locale' ("pt-BR", then "pt"), else the default; {{min}} not
 * yet replaced. The language of what it returns goes to *ret_lang ("en"
 * for the built-in words) when ret_lang is not NULL. */
const char *stitch_page_text(const struct stitch_page_texts *t, enum stitch_page_text id, const char *locale,
                             const char **ret_lang);
