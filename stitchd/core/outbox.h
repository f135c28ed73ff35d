/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Mail the core asks to have sent (confirmation and reset links). The core
 * decides what and to whom; the daemon's mailer (daemon/mailer.c) composes
 * it from the templates (core/mail.c) and sends it over SMTP on a thread of
 * its own, off the event loop and off the hash workers, retrying with
 * backoff. The core never waits for a mail to go out and never learns
 * whether it did: what a caller is told cannot depend on it. */

#include <stddef.h>

enum stitch_mail_kind {
        STITCH_MAIL_CONFIRM, /* "confirm your email address": the link confirms */
        STITCH_MAIL_RESET,   /* "reset your password": the link opens the reset */
        _STITCH_MAIL_KIND_MAX,
};

#define STITCH_MAIL_LOCALE_MAX 16 /* "en", "pt-BR"; [A-Za-z0-9-] */

struct stitch_mail_request {
        enum stitch_mail_kind kind;
        const char *to;     /* the address, as registered */
        const char *link;   /* the whole link, token and tokenId in it (a secret: wiped by the mailer) */
        const char *locale; /* the link's locale, or NULL: English */
};

/* Filled by the daemon (stitch_core.outbox); tests fill it with a capture.
 * send() copies what it needs and returns at once: 0 queued, -ENOSPC the
 * queue is full, -ENOTCONN no mailer ([Smtp] URL= empty). Any thread. */
struct stitch_outbox {
        int (*send)(void *userdata, const struct stitch_mail_request *m);
        void *userdata;
};
