/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Account rules, written once for every front end (io.stitch.Admin,
 * io.stitch.Auth, the HTTP API, the email reset flow): which names make a
 * user, the password policy, the one way a password is hashed, that a new
 * password ends the user's other sessions (EndOnPasswordChange=), and which
 * account a name refers to. Front ends decode, check the caller, call one
 * of these and word the answer; they write no rows themselves. Any thread
 * (hashing and durable writes: workers). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "store/store.h"

struct stitch_login;

/* What was wrong with a request, so that a front end can answer with its
 * own error (and name its own parameter) without checking again. */
enum stitch_account_problem {
        STITCH_ACCOUNT_OK = 0,
        STITCH_ACCOUNT_NO_NAME,              /* neither an email nor a unix_name */
        STITCH_ACCOUNT_EMAIL_INVALID,
        STITCH_ACCOUNT_UNIX_NAME_INVALID,
        STITCH_ACCOUNT_PASSWORD_MISSING,     /* an email (or a change) without a password */
        STITCH_ACCOUNT_EMAIL_MISSING,        /* a password without an email */
        STITCH_ACCOUNT_PASSWORD_POLICY,      /* out of the length rules */
        STITCH_ACCOUNT_TAKEN,                /* the email or unix_name is another user's */
        STITCH_ACCOUNT_NO_PASSWORD_IDENTITY, /* the user has no email and password */
        STITCH_ACCOUNT_PASSWORDS_DISABLED,   /* [Provider.local-userpass] Enabled=no */
        STITCH_ACCOUNT_NOT_FOUND,            /* no such user */
        STITCH_ACCOUNT_WRONG_PASSWORD,       /* the current password is not theirs */
        STITCH_ACCOUNT_TOO_MANY_ATTEMPTS,    /* retry_after_usec says when */
        _STITCH_ACCOUNT_PROBLEM_MAX,
};

/* The field of the request a problem is about. */
enum stitch_account_field {
        STITCH_ACCOUNT_FIELD_NONE = 0,
        STITCH_ACCOUNT_FIELD_USER,
        STITCH_ACCOUNT_FIELD_EMAIL,
        STITCH_ACCOUNT_FIELD_UNIX_NAME,
        STITCH_ACCOUNT_FIELD_PASSWORD, /* the new password */
};

#define STITCH_ACCOUNT_MESSAGE_MAX 160

/* Always filled. On -errno without a problem (the store, the hash, memory
 * failed) message names the step that failed ("storing the password"). */
struct stitch_account_result {
        enum stitch_account_problem problem;
        enum stitch_account_field field;
        char message[STITCH_ACCOUNT_MESSAGE_MAX]; /* the problem in words, for a person */
        uint64_t retry_after_usec;                /* TOO_MANY_ATTEMPTS */
        size_t ended_sessions;                    /* a password was set: the sessions that ended */
        char user_id[STITCH_ID_LEN + 1];          /* whose password, once known */
};

/* ---- the password policy ------------------------------------------------- */

/* The shortest password a new one may be (MinPasswordLength=); the longest
 * is STITCH_PASSWORD_MAX. */
unsigned stitch_account_password_min_length(const struct stitch_core *core);
/* Whether a new password keeps the rules: 0, or -EINVAL with *ret_reason. */
int stitch_account_password_check(const struct stitch_core *core, const char *password, const char **ret_reason);
/* Whether a presented password could be anyone's stored one, whatever
 * MinPasswordLength= was when it was set: lengths outside can never match,
 * so they are refused before a hash is paid for. *ret_reason (optional)
 * says why not. */
bool stitch_account_password_plausible(const char *password, const char **ret_reason);
/* Hashes with PasswordHash= (the only way a password to keep is hashed). */
int stitch_account_password_hash(const struct stitch_core *core, const char *password, char **ret_hash);

/* Checks password against found's (NULL: no such user; taken either way)
 * as a login must: always one verification, against a dummy hash when
 * there is no user or no password, and every failure padded to the cost
 * of one hash at the costliest parameters met, so timing tells nothing.
 * A hash made with other than PasswordHash= is renewed. 0 and *ret_user,
 * or -EACCES (unknown, wrong, disabled: the same), other -errno. */
int stitch_account_verify_password(struct stitch_core *core, struct stitch_user *found, const char *password,
                                   struct stitch_user **ret_user);

/* ---- creating users ------------------------------------------------------ */

struct stitch_account_new {
        const char *email;     /* with a password: the local-userpass identity */
        const char *password;
        const char *unix_name;
        const char *name;      /* display name, or NULL */
        /* The email flow's registrations (core/userpass-flows.c): not
         * confirmed yet, and never reached through [Pam] EmailDomain=. */
        bool pending;
        bool self_registered;
};

/* Creates a "normal" user: it needs an email or a unix_name, an email
 * comes with a password and a password with an email. Returns 0 and the
 * stored user; -EINVAL for a bad request, -EEXIST if the email or
 * unix_name is taken (ret->problem says which rule), other -errno. */
int stitch_account_create(struct stitch_core *core, const struct stitch_account_new *a, struct stitch_user **ret_user,
                          struct stitch_account_result *ret);
/* Creates the "server" user a server API key belongs to: named 'name',
 * with an optional unix_name. -EINVAL a bad unix_name, -EEXIST taken. */
int stitch_account_create_server(struct stitch_core *core, const char *name, const char *unix_name,
                                 char ret_id[static STITCH_ID_LEN + 1]);

/* ---- passwords ----------------------------------------------------------- */

/* An admin sets user_id's password. The user must have an email (its
 * local-userpass identity). With EndOnPasswordChange=yes every session of
 * the user ends: whoever holds a stolen refresh token is locked out.
 * -ENOENT no such user, -EINVAL NO_PASSWORD_IDENTITY or PASSWORD_POLICY. */
int stitch_account_set_password(struct stitch_core *core, const char *user_id, const char *password,
                                struct stitch_account_result *ret);
/* The email reset flow: the person proved they own user_id's email (a
 * reset token) and chose 'password'. The same rules as an admin's set. */
int stitch_account_reset_password(struct stitch_core *core, const char *user_id, const char *password,
                                  struct stitch_account_result *ret);

struct stitch_password_change {
        const char *name;         /* the Unix login name (unix_name, or NAME@EmailDomain) */
        const char *old_password;
        const char *new_password; /* NULL with check_only */
        /* The session the change comes from: it stays when the others end. */
        const char *keep_session_id;
        bool end_other_sessions;  /* end them even with EndOnPasswordChange=no */
        bool check_only;          /* verify old_password, change nothing */
};

/* A user changes their own password (the caller is allowed to act for
 * 'name': the front end checked). The current password is verified as a
 * login does (failed-login limit, padded to one hash); with check_only
 * that is all. Returns 0; -EPERM PASSWORDS_DISABLED, -EINVAL
 * PASSWORD_MISSING or PASSWORD_POLICY, -EBUSY TOO_MANY_ATTEMPTS, -ENOENT
 * NOT_FOUND, -EACCES WRONG_PASSWORD; other -errno. */
int stitch_account_change_password(struct stitch_core *core, const struct stitch_password_change *req,
                                   struct stitch_account_result *ret);

/* Forgets the user's failed logins (an admin's unlock; a deleted user). */
void stitch_account_unlock(struct stitch_core *core, const char *user_id);

/* ---- which account a name refers to --------------------------------------- */

/* The user an admin names: by id, by email (a name with an '@') or by
 * unix_name. -ENOENT if none. */
int stitch_user_find_by_reference(struct stitch_core *core, const char *reference, struct stitch_user **ret);
/* The user a Unix login name refers to: unix_name first, then
 * NAME@EmailDomain (local-userpass mapping), unless that user registered
 * itself (whoever registers root@EmailDomain must not become root).
 * -ENOENT if none. */
int stitch_user_find_by_login_name(struct stitch_core *core, const char *name, struct stitch_user **ret);
/* The user the login names: as above, or for an app login by email. */
int stitch_user_find_for_login(struct stitch_core *core, const struct stitch_login *l, struct stitch_user **ret);
/* The user any of whose names 'name' is, whatever the path: its email (a
 * name with an '@'), else as stitch_user_find_by_login_name(). For the
 * failed-login limiter, which must see one account behind all its names. */
int stitch_user_find_by_any_name(struct stitch_core *core, const char *name, struct stitch_user **ret);

/* Keys of the failed-login limiter. Failures count per account, so that one
 * account reachable by several names (unix_name, the email's local part,
 * the email) has one budget and one lock on every path: "user:ID" when the
 * login name is any name of a user (stitch_user_find_by_any_name),
 * "name:NAME" otherwise (unknown names are limited the same way, so the
 * limiter tells nothing about which names exist). */
#define STITCH_LIMIT_KEY_MAX (5 + 256 + 1)
void stitch_limit_key_for_user(const char *user_id, char ret[static STITCH_LIMIT_KEY_MAX]);
/* Resolves the login's name (store lookup, or core->limit_keys: the names
 * it resolved, good while no user's name, state or password changed);
 * -errno only when the store fails. An app login without a name (API key,
 * anonymous) has no account key: 0 with ret empty. */
int stitch_limit_key_for_login(struct stitch_core *core, const struct stitch_login *l,
                               char ret[static STITCH_LIMIT_KEY_MAX]);
/* The client address's key for app logins: "addr:" and its prefix
 * ("addr:2001:db8:1:2::/64", core/address.h), so that one client's /64 has
 * one budget. */
void stitch_limit_key_for_address(const struct stitch_config *c, const char *address,
                                  char ret[static STITCH_LIMIT_KEY_MAX]);
/* A new cache of resolved login names, for core->limit_keys. */
struct stitch_cache;
int stitch_limit_key_cache_new(struct stitch_cache **ret);
