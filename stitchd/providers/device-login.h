/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A device login (an RFC 8628-style OAuth device grant) over the rounds of
 * a PAM conversation, for any provider that has one (oauth2-google,
 * oauth2-facebook). The provider knows its identity provider's endpoints
 * (struct stitch_device_login: start a grant, poll it); this module keeps
 * the grant's state between rounds and says what the person sees. It only
 * describes: the front end renders (pam_stitch draws the URL flagged qr as
 * a QR code unless noqr).
 *
 * The rounds (each arrow is a provider result the daemon sends):
 *
 *   [choice, when a password is possible (options.password_choice)]
 *     ASK  "Press Enter to sign in with Google, or type p for your password: "
 *          "p"/"password" -> ASK "Password: " -> the password provider's
 *          begin() with {password} (DONE or its error)
 *   [show]
 *     ASK  messages: "To sign in with Google, open URL ... enter the code CODE",
 *                    the URL flagged qr (unless options.qr is false);
 *          prompt "Press Enter once you have approved, or type new or cancel: "
 *          The text comes with a prompt, so it reaches a user behind sshd's
 *          keyboard-interactive (OpenSSH holds PAM_TEXT_INFO until the next
 *          prompt).
 *          ""      -> poll
 *          "new"   -> a new grant, [show] again
 *          "cancel"-> -EACCES (the login ends; nothing was presented)
 *   [poll] the provider's poll():
 *          success   -> DONE with its user
 *          pending   -> PENDING (interval), "Waiting for approval..."
 *                       once; each later round polls again
 *          slow_down -> the same, interval + 5 s (RFC 8628 §3.5)
 *          denied, expired (or the grant's expires_in passed here)
 *                    -> ASK with an error message ("The sign-in was denied.")
 *                       and "Press Enter for a new code, or type cancel: "
 *          -EACCES   -> -EACCES: the identity may not log in here (logged
 *                       by poll()); -ENOMEM likewise passed on
 *          another error (the identity provider cannot be reached, or
 *                       answered nonsense; logged by start() or poll())
 *                    -> ASK with an error message ("Google cannot be
 *                       reached right now.") and "Press Enter to try
 *                       again, or type cancel: " (the same after a failed
 *                       start())
 *
 * Rounds run on the network pool (the provider sets .network): start and
 * poll block on HTTPS. The device code is a secret: wiped with the state,
 * never logged. */

#include <stdbool.h>
#include <stdint.h>

#include "providers/provider.h"

#define STITCH_DEVICE_CODE_MAX 512
#define STITCH_DEVICE_USER_CODE_MAX 64
#define STITCH_DEVICE_URL_MAX 256
/* RFC 8628 §3.5: a slow_down adds this to the interval. */
#define STITCH_DEVICE_SLOW_DOWN_USEC (5 * USEC_PER_SEC)
/* Without an interval from the identity provider (RFC 8628 §3.2). */
#define STITCH_DEVICE_INTERVAL_DEFAULT_USEC (5 * USEC_PER_SEC)

/* A grant the identity provider started: what start() fills. */
struct stitch_device_code {
        char device_code[STITCH_DEVICE_CODE_MAX];     /* secret: sent back when polling */
        char user_code[STITCH_DEVICE_USER_CODE_MAX];  /* shown exactly as given (case matters) */
        char verification_url[STITCH_DEVICE_URL_MAX]; /* https:// */
        uint64_t interval_usec;                       /* 0: STITCH_DEVICE_INTERVAL_DEFAULT_USEC */
        uint64_t expires_in_usec;                     /* from now (start() sets it from expires_in) */
};

enum stitch_device_poll {
        STITCH_DEVICE_SUCCESS = 0, /* *ret_user is set */
        STITCH_DEVICE_PENDING,
        STITCH_DEVICE_SLOW_DOWN,
        STITCH_DEVICE_DENIED,
        STITCH_DEVICE_EXPIRED,
};

/* What a provider brings (a const of its own file). */
struct stitch_device_login {
        const char *display_name; /* "Google": in the texts */
        /* Asks for a new grant. Returns 0 with *ret filled, or -errno with
         * the reason logged (never a secret). */
        int (*start)(struct stitch_core *core, const struct stitch_login *l, struct stitch_device_code *ret);
        /* Asks whether the grant was approved: a STITCH_DEVICE_* (>= 0; on
         * SUCCESS *ret_user is the user, not disabled, who may log in as
         * l->user), or -EACCES (approved, but this identity may not log in
         * here), other -errno (logged). */
        int (*poll)(struct stitch_core *core, const struct stitch_login *l, const struct stitch_device_code *code,
                    struct stitch_user **ret_user);
};

struct stitch_device_login_options {
        bool qr;             /* send the URL flagged qr too */
        /* Offer the local password first (local-userpass is enabled): a
         * terminal user is never forced into the device flow. Shown to
         * every user alike (whether one has a password is not told). */
        bool password_choice;
};

/* A provider's begin(), step() and state_free(): delegate to these. */
int stitch_device_login_begin(struct stitch_core *core, const struct stitch_login *l,
                              const struct stitch_device_login *d, const struct stitch_device_login_options *o,
                              struct stitch_provider_result *ret);
int stitch_device_login_step(struct stitch_core *core, const struct stitch_login *l,
                             const struct stitch_device_login *d, const struct stitch_device_login_options *o,
                             void *state, struct stitch_provider_result *ret);
void stitch_device_login_state_free(void *state);

/* The text of the [show] round's first message (for tests and other front
 * ends): "To sign in with NAME, open URL on a phone or computer and enter
 * the code CODE". */
void stitch_device_login_instructions(const struct stitch_device_login *d, const struct stitch_device_code *code,
                                      char *buf, size_t size);
