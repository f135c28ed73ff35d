/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's side of core/outbox.h: a bounded queue of mails and one
 * sender thread of its own (never the event loop, never the workers) that
 * composes each mail (core/mail.h) and hands it to the [Smtp] server through
 * libcurl, retrying with backoff. Links are secrets: never logged, wiped
 * when their mail is done. */

#include <stdint.h>
#include <stdio.h>

#include "core/config.h"
#include "core/outbox.h"

#define STITCH_MAILER_QUEUE_MAX 1024

struct stitch_mailer;

/* Timings; tests shorten them. Zeroes take the defaults. */
struct stitch_mailer_options {
        uint64_t first_retry_usec; /* 5s, doubled after each failure ... */
        uint64_t max_retry_usec;   /* ... up to 10min apart */
        uint64_t give_up_usec;     /* 1h after the first attempt */
        uint64_t timeout_usec;     /* 30s: connecting, and a whole SMTP exchange */
        uint64_t grace_usec;       /* 5s: what a stop waits for mails due now */
};

struct stitch_mailer_counters {
        uint64_t sent;   /* accepted by the server */
        uint64_t failed; /* given up on: refused for good, too old, or dropped at stop */
        uint64_t queued; /* waiting now (first attempts and retries) */
};

/* What start-up checks before it sends anything, for --check-config too: [Smtp] URL= (STARTTLS
 * is required unless the host is loopback), the password file (trusted, not readable by
 * others) and the templates. Problems go to 'errors' as lines; returns 0 or -EINVAL. */
int stitch_mailer_check_config(const struct stitch_config *c, FILE *errors);

/* Checks as above, reads the password, loads the templates and starts the thread. The config
 * must outlive the mailer. */
int stitch_mailer_new(const struct stitch_config *c, const struct stitch_mailer_options *options,
                      struct stitch_mailer **ret);
/* Gives mails due now the grace period, drops the rest (logged), joins the thread and wipes
 * every link and the password. */
struct stitch_mailer *stitch_mailer_free(struct stitch_mailer *m);

/* Queues a copy of r: 0, -ENOSPC (full), -EINVAL (no address or link), -ESHUTDOWN (stopping),
 * -ENOMEM. Any thread; never blocks on the network. */
int stitch_mailer_send(struct stitch_mailer *m, const struct stitch_mail_request *r);
/* The same, as struct stitch_outbox's send (userdata is the mailer). */
int stitch_mailer_outbox_send(void *userdata, const struct stitch_mail_request *r);

/* For Status; m may be NULL (all zero). Any thread. */
void stitch_mailer_get_counters(struct stitch_mailer *m, struct stitch_mailer_counters *ret);

/* Whether an SMTP host (a name or a numeric address, without brackets) is this machine:
 * 127.0.0.0/8, ::1 or "localhost". Names are not resolved. */
bool stitch_smtp_host_is_loopback(const char *host);
