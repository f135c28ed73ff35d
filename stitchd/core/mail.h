/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The confirmation and reset mails as RFC 5322 messages: the texts (built in,
 * or [Smtp] TemplateDirectory=), checked once at start, and a message made
 * from one of them and a request (core/outbox.h). Pure: no network, no
 * threads; the daemon's mailer (daemon/mailer.c) sends what this makes. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/config.h"
#include "core/outbox.h"
#include "macro.h"

#define STITCH_MAIL_LINE_MAX 998               /* RFC 5322 2.1.1, without the CRLF */
#define STITCH_MAIL_TEMPLATE_MAX (64 * 1024)   /* bytes per template file */
#define STITCH_MAIL_LOCALES_MAX 256            /* locale directories under TemplateDirectory= */
#define STITCH_MAIL_LINK_MAX 2048

struct stitch_mail_templates;

/* The name of a kind's template file ("confirm.txt") and of the kind in log lines ("confirm"). */
const char *stitch_mail_kind_to_string(enum stitch_mail_kind kind);

/* Reads and checks the texts: with directory NULL or empty, the built-in English ones; else
 * directory/confirm.txt and reset.txt (required) and LOCALE/confirm.txt, LOCALE/reset.txt
 * (optional) for each subdirectory named like a locale. Each problem goes to 'errors' (may be
 * NULL) as "file:line: message" or "file: message". Returns 0, -EINVAL (problems reported) or
 * -ENOMEM. */
int stitch_mail_templates_load(const char *directory, FILE *errors, struct stitch_mail_templates **ret);
struct stitch_mail_templates *stitch_mail_templates_free(struct stitch_mail_templates *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct stitch_mail_templates *, stitch_mail_templates_free);

/* Which locale's text a mail of 'kind' in 'locale' gets: the locale ("pt-BR", compared without
 * case), its language ("pt"), else the default (""). A locale that is not 1-16 characters of
 * [A-Za-z0-9-] gets the default. */
const char *stitch_mail_templates_pick(const struct stitch_mail_templates *t, enum stitch_mail_kind kind,
                                       const char *locale);

bool stitch_mail_locale_valid(const char *locale);

/* The whole message for m, CRLF line endings, NUL-terminated: From ([Smtp] From=), To, Subject
 * (the kind's subject from [Provider.local-userpass], RFC 2047 encoded where it is not short
 * plain ASCII), Date (from 'now', epoch seconds), Message-ID (<random@domain of From>),
 * MIME-Version and a text/plain UTF-8 body with the link as it is. No header value may hold a
 * CR, an LF or another control character, the addresses must be valid and the link printable
 * ASCII. The message holds the link: free it with erase_and_free(). Returns 0, -EINVAL (a bad
 * address, link or header value), -E2BIG (a body line longer than STITCH_MAIL_LINE_MAX after
 * the placeholders are replaced) or -ENOMEM. */
int stitch_mail_compose(const struct stitch_mail_templates *t, const struct stitch_config *c,
                        const struct stitch_mail_request *m, int64_t now, char **ret, size_t *ret_len);
