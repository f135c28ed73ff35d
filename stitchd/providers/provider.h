/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Authentication providers, one file each behind this vtable, registered in
 * providers/registry.c. A provider turns credentials into a stitch user; the
 * login code around it does rate limiting, sessions and tokens. */

#include <stdbool.h>
#include <sys/socket.h>

#include "manager.h"

struct stitch_login {
        const char *user;     /* Unix name asked for (PAM_USER) */
        const char *service;  /* PAM service */
        const char *password; /* local-userpass */
        const char *key;      /* api-key */
        const char *rhost, *tty, *ruser;
        struct ucred cred;
};

struct stitch_provider {
        const char *name; /* Stitch's provider_type */
        bool (*enabled)(const struct stitch_config *c);
        /* On success *ret_user is a user that is not disabled and may log in as
         * l->user. Errors: -EACCES bad credentials (unknown user, wrong secret,
         * disabled user, mapping mismatch: indistinguishable), -EPERM not
         * allowed here (service), -EINVAL credentials missing or malformed,
         * other -errno internal failures. */
        int (*authenticate)(struct stitch_manager *m, const struct stitch_login *l, struct stitch_user **ret_user);
};

extern const struct stitch_provider stitch_provider_userpass;
extern const struct stitch_provider stitch_provider_apikey;
extern const struct stitch_provider stitch_provider_anon;

const struct stitch_provider *stitch_provider_find(const char *name);

/* The user a Unix login name refers to: unix_name first, then
 * NAME@EmailDomain (local-userpass mapping). -ENOENT if none. */
int stitch_user_find_by_login_name(struct stitch_manager *m, const char *name, struct stitch_user **ret);

/* Keys of the failed-login limiter. Failures count per account, so that one
 * account reachable by several names (unix_name, the email's local part)
 * has one budget: "user:ID" when the login name resolves to a user,
 * "name:NAME" otherwise (unknown names are limited the same way, so the
 * limiter tells nothing about which names exist). */
#define STITCH_LIMIT_KEY_MAX (5 + 256 + 1)
void stitch_limit_key_for_user(const char *user_id, char ret[static STITCH_LIMIT_KEY_MAX]);
/* Resolves name (store lookup); -errno only when the store fails. */
int stitch_limit_key_for_login(struct stitch_manager *m, const char *name, char ret[static STITCH_LIMIT_KEY_MAX]);

/* True if an API key has our format (prefix + 43 base64url characters). */
bool stitch_apikey_format_valid(const char *key);
