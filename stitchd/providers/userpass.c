/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* local-userpass: email/password users, argon2id hashes. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "core/address.h"
#include "core/password.h"
#include "providers/provider.h"
#include "store/store.h"

static bool userpass_enabled(const struct stitch_config *c) {
        return c->userpass_enabled;
}

int stitch_user_find_by_login_name(struct stitch_manager *m, const char *name, struct stitch_user **ret) {
        int r = m->store_ops->user_find(m->store, STITCH_USER_BY_UNIX_NAME, name, ret);
        if (r != -ENOENT || isempty(m->config.email_domain))
                return r;
        char email[512];
        if ((size_t) snprintf(email, sizeof(email), "%s@%s", name, m->config.email_domain) >= sizeof(email))
                return -ENOENT;
        return m->store_ops->user_find(m->store, STITCH_USER_BY_EMAIL, email, ret);
}

int stitch_user_find_for_login(struct stitch_manager *m, const struct stitch_login *l, struct stitch_user **ret) {
        if (l->app)
                return isempty(l->user) ? -ENOENT : m->store_ops->user_find(m->store, STITCH_USER_BY_EMAIL, l->user, ret);
        return stitch_user_find_by_login_name(m, l->user, ret);
}

void stitch_limit_key_for_user(const char *user_id, char ret[static STITCH_LIMIT_KEY_MAX]) {
        snprintf(ret, STITCH_LIMIT_KEY_MAX, "user:%s", user_id);
}

void stitch_limit_key_for_address(const struct stitch_config *c, const char *address,
                                  char ret[static STITCH_LIMIT_KEY_MAX]) {
        char prefix[STITCH_ADDRESS_PREFIX_MAX];
        stitch_address_limit_name(c, address, prefix);
        snprintf(ret, STITCH_LIMIT_KEY_MAX, "addr:%s", prefix);
}

int stitch_limit_key_for_login(struct stitch_manager *m, const struct stitch_login *l,
                               char ret[static STITCH_LIMIT_KEY_MAX]) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        const char *name = l->user ? l->user : "";
        if (l->app && isempty(name)) {
                ret[0] = 0;
                return 0;
        }
        int r = stitch_user_find_for_login(m, l, &u);
        if (r >= 0) {
                stitch_limit_key_for_user(u->id, ret);
                return 0;
        }
        if (r != -ENOENT)
                return r;
        /* Longer names never reach a provider (the wire caps them at 256). */
        snprintf(ret, STITCH_LIMIT_KEY_MAX, "%s:%s", l->app ? "email" : "name", name);
        return 0;
}

/* Checks password against u's (NULL: no such user; taken either way). */
static int verify_password(struct stitch_manager *m, struct stitch_user *found, const char *password,
                           struct stitch_user **ret_user) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = found;
        _cleanup_free_ char *hash = NULL;
        int r;

        if (u) {
                r = m->store_ops->password_get(m->store, u->id, &hash);
                if (r < 0 && r != -ENOENT)
                        return r;
        }

        /* Always pay for one verification, against a dummy hash when there is
         * no user or no password, so timing does not tell them apart. */
        r = stitch_password_verify(hash ? hash : m->dummy_hash, password);
        __atomic_fetch_add(&m->password_verifications, 1, __ATOMIC_RELAXED);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !u || !hash || u->disabled)
                return -EACCES;

        struct stitch_argon2_params want = {m->config.argon2_m_kib, m->config.argon2_t, m->config.argon2_p};
        if (stitch_password_needs_rehash(hash, &want)) {
                _cleanup_free_ char *fresh = NULL;
                if (stitch_password_hash(password, &want, &fresh) >= 0) {
                        r = m->store_ops->password_set(m->store, u->id, fresh);
                        if (r < 0)
                                log_warning_errno(r, "Could not upgrade the password hash of user %s: %m", u->id);
                        else
                                log_info("Upgraded the password hash of user %s to the configured parameters.", u->id);
                }
        }

        *ret_user = TAKE_PTR(u);
        return 0;
}

int stitch_userpass_verify(struct stitch_manager *m, const char *name, const char *password,
                           struct stitch_user **ret_user) {
        struct stitch_user *u = NULL;
        if (!password)
                return -EINVAL;
        int r = stitch_user_find_by_login_name(m, name, &u);
        if (r < 0 && r != -ENOENT)
                return r;
        return verify_password(m, u, password, ret_user);
}

static int userpass_begin(struct stitch_manager *m, const struct stitch_login *l, struct stitch_provider_result *ret) {
        const char *password = stitch_credentials_get(l->credentials, "password");
        const char *reason;

        if (!password) {
                int r = stitch_ask_prompt(&ret->ask, "password", "Password: ", false, true);
                return r < 0 ? r : STITCH_PROVIDER_ASK;
        }
        /* Out-of-policy lengths can never match a stored password: refuse
         * them before paying for a hash (this tells an attacker nothing). */
        if (stitch_password_check_policy(password, 6, &reason) < 0) {
                log_info("Login for %s via %s refused: %s.", l->user, l->service, reason);
                return -EACCES;
        }
        struct stitch_user *u = NULL;
        int r = stitch_user_find_for_login(m, l, &u);
        if (r < 0 && r != -ENOENT)
                return r;
        r = verify_password(m, u, password, &ret->user);
        return r < 0 ? r : STITCH_PROVIDER_DONE;
}

const struct stitch_provider stitch_provider_userpass = {
        .name = "local-userpass",
        .enabled = userpass_enabled,
        .begin = userpass_begin,
        .linkable = true,
        .identity_is_email = true,
        .app_fields = {{"username", "user", false}, {"password", "password", false}},
        .app_failure_code = "InvalidPassword",
        .app_failure_message = "invalid username/password",
};
