/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The email/password lifecycle of local-userpass, written once for every
 * front end (the HTTP routes register, confirm, confirm/send, confirm/call,
 * reset/send, reset, reset/call; io.stitch.Admin and stitchctl): who may
 * register, how a registration is confirmed ([Provider.local-userpass]
 * AutoConfirm=, ConfirmationCommand=, or a mailed link), and how a password
 * is reset (a mailed link, or ResetCommand=).
 *
 * Tokens: 32 random bytes (base64url) with a random id, kept only as their
 * SHA-256 (store: email_token_*), single use, TokenLifetime=, superseded by
 * a newer one of the same kind for the same user.
 *
 * Registered users are self-registered for ever (store.h): they have only
 * their email and password identity, never a unix_name of their own making,
 * and [Pam] EmailDomain= never maps a login name to them, so registering
 * root@EmailDomain makes nobody root. An admin may give one a unix_name.
 *
 * Enumeration: confirm_send and reset_send answer the same for unknown,
 * confirmed and pending addresses (a deliberate difference from Stitch,
 * which answers "already confirmed" and "user not found"); they mail only
 * when there is something to mail. confirm_call and reset_call answer
 * USER_NOT_FOUND as Stitch does (Realm's routes; they run a command the
 * operator wrote). Mails are limited per recipient and per client address.
 *
 * Every function hashes, writes durably or runs a command: worker threads. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

enum stitch_userpass_problem {
        STITCH_USERPASS_OK = 0,
        STITCH_USERPASS_REGISTRATION_DISABLED, /* Registration=no (or the provider is off) */
        STITCH_USERPASS_INVALID_EMAIL,
        STITCH_USERPASS_PASSWORD_POLICY,       /* the new password is out of the length rules */
        STITCH_USERPASS_NAME_IN_USE,           /* Stitch's AccountNameInUse "name already in use" */
        STITCH_USERPASS_TOKEN_INVALID,         /* UserpassTokenInvalid: expired, used, forged alike */
        STITCH_USERPASS_ALREADY_CONFIRMED,     /* confirm/call, admin confirm and send-confirmation */
        STITCH_USERPASS_USER_NOT_FOUND,        /* confirm/call, reset/call, the admin calls */
        STITCH_USERPASS_FUNCTION_FAILED,       /* the command said fail (or failed); or none configured */
        STITCH_USERPASS_PENDING,               /* not an error: the command said "pending" */
        STITCH_USERPASS_TOO_MANY_REQUESTS,     /* retry_after_usec */
        STITCH_USERPASS_MAILER_UNAVAILABLE,    /* admin calls only: the mail could not be queued */
        _STITCH_USERPASS_PROBLEM_MAX,
};

#define STITCH_USERPASS_MESSAGE_MAX 160

/* Always filled. The functions return 0 when the request is done (problem
 * OK, or PENDING), a negative errno with problem set when the request was
 * refused (-EPERM REGISTRATION_DISABLED, -EINVAL INVALID_EMAIL,
 * PASSWORD_POLICY, -EEXIST NAME_IN_USE, -ENOENT TOKEN_INVALID and
 * USER_NOT_FOUND, -EALREADY ALREADY_CONFIRMED, -EPROTO FUNCTION_FAILED,
 * -EBUSY TOO_MANY_REQUESTS, -ENOTCONN MAILER_UNAVAILABLE), and another
 * -errno with problem OK when something of ours failed (message names the
 * step). */
struct stitch_userpass_result {
        enum stitch_userpass_problem problem;
        char message[STITCH_USERPASS_MESSAGE_MAX]; /* for a person; Stitch's words where it has some */
        uint64_t retry_after_usec;                 /* TOO_MANY_REQUESTS */
        char user_id[STITCH_ID_LEN + 1];           /* the user acted on, once known (never told to strangers) */
        size_t ended_sessions;                     /* reset, reset_call: the sessions a new password ended */
};

/* Mails per recipient and per client address (prefix, core/address.h), a
 * one-minute window each. */
#define STITCH_USERPASS_MAILS_PER_RECIPIENT 5
#define STITCH_USERPASS_REQUESTS_PER_ADDRESS 10

/* The limiters and anything else the flows keep; stitch_core_start() makes them. */
int stitch_userpass_flows_start(struct stitch_core *core);
void stitch_userpass_flows_stop(struct stitch_core *core);

/* The public base URL of the HTTP front end: [Http] PublicURL=, or
 * http(s)://Listen= (https with CertificateFile=/KeyFile=). Malloc'd; -ENOENT
 * when neither is set. */
int stitch_public_url(const struct stitch_config *c, char **ret);

struct stitch_userpass_registration {
        const char *email;
        const char *password;
        const char *locale;         /* the link's locale ([A-Za-z0-9-], < 16), or NULL; others are dropped */
        const char *client_address; /* for the per-address limit; NULL: not limited (admins) */
        bool by_admin;              /* io.stitch.Admin: allowed with Registration=no, not limited */
        const char *unix_name;      /* by_admin only: the Unix name an admin gives the user, or NULL */
};

/* register: a pending, self-registered user with only the email/password
 * identity, then AutoConfirm= (confirmed at once), ConfirmationCommand=
 * (success: confirmed; pending: stays pending, the client confirms with
 * the token the command got; fail: the user is deleted again,
 * FUNCTION_FAILED), or a confirmation mail. An address that is taken
 * answers NAME_IN_USE; if its user is still pending, the confirmation
 * mail goes again (within the limits). */
int stitch_userpass_register(struct stitch_core *core, const struct stitch_userpass_registration *req,
                             struct stitch_userpass_result *ret);

/* confirm: takes a confirmation token; the user is confirmed. TOKEN_INVALID otherwise. */
int stitch_userpass_confirm(struct stitch_core *core, const char *token, const char *token_id,
                            struct stitch_userpass_result *ret);

/* confirm/send: the same answer (0) for unknown, confirmed and pending
 * addresses; a pending user gets a new link (the older ones stop working).
 * INVALID_EMAIL, TOO_MANY_REQUESTS. */
int stitch_userpass_confirm_send(struct stitch_core *core, const char *email, const char *locale,
                                 const char *client_address, struct stitch_userpass_result *ret);

/* confirm/call: runs ConfirmationCommand= again for a pending user.
 * USER_NOT_FOUND, ALREADY_CONFIRMED, FUNCTION_FAILED (also when no command
 * is configured), PENDING, TOO_MANY_REQUESTS. */
int stitch_userpass_confirm_call(struct stitch_core *core, const char *email, const char *client_address,
                                 struct stitch_userpass_result *ret);

/* reset/send: the same answer (0) for unknown and known addresses; a user
 * with a password gets a reset link. INVALID_EMAIL, TOO_MANY_REQUESTS. */
int stitch_userpass_reset_send(struct stitch_core *core, const char *email, const char *locale,
                               const char *client_address, struct stitch_userpass_result *ret);

/* reset: takes a reset token and sets new_password (stitch_account_reset_password:
 * the policy, the hash, EndOnPasswordChange=). The policy is checked first,
 * so a refused password leaves the token usable. A pending user stays
 * pending. PASSWORD_POLICY, TOKEN_INVALID. */
int stitch_userpass_reset(struct stitch_core *core, const char *token, const char *token_id, const char *new_password,
                          struct stitch_userpass_result *ret);

/* reset/call: UNAUTHENTICATED, as in Stitch: anyone may call it for any
 * address, and ResetCommand= alone decides (from the arguments the client
 * sent: a second factor, a security answer). It gets {username, password,
 * token, tokenId, currentPasswordValid: false, arguments} on stdin;
 * success: the password is set at once; pending: the token stays, and the
 * client calls reset with it later (the command delivers it); fail:
 * FUNCTION_FAILED. arguments_json is a JSON array or NULL ([]).
 * USER_NOT_FOUND, PASSWORD_POLICY, FUNCTION_FAILED (also when no command
 * is configured), PENDING, TOO_MANY_REQUESTS. */
int stitch_userpass_reset_call(struct stitch_core *core, const char *email, const char *password,
                               const char *arguments_json, const char *client_address,
                               struct stitch_userpass_result *ret);

/* ---- for admins (io.stitch.Admin, stitchctl): users by id, no limits ---- */

/* Confirms a pending user. USER_NOT_FOUND, ALREADY_CONFIRMED. */
int stitch_userpass_admin_confirm(struct stitch_core *core, const char *user_id, struct stitch_userpass_result *ret);
/* Mails a pending user a new confirmation link. USER_NOT_FOUND (also: no
 * email), ALREADY_CONFIRMED, MAILER_UNAVAILABLE. */
int stitch_userpass_admin_send_confirmation(struct stitch_core *core, const char *user_id, const char *locale,
                                            struct stitch_userpass_result *ret);
/* Mails a user with an email a reset link. USER_NOT_FOUND (also: no
 * email), MAILER_UNAVAILABLE. */
int stitch_userpass_admin_send_reset(struct stitch_core *core, const char *user_id, const char *locale,
                                     struct stitch_userpass_result *ret);

const char *stitch_userpass_problem_to_string(enum stitch_userpass_problem p);
