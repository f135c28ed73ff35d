/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* local-userpass: email/password users, argon2id hashes. */
#include <pthread.h>
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

int stitch_user_find_by_login_name(struct stitch_core *core, const char *name, struct stitch_user **ret) {
        int r = core->store_ops->user_find(core->store, STITCH_USER_BY_UNIX_NAME, name, ret);
        if (r != -ENOENT || isempty(core->config.email_domain))
                return r;
        char email[512];
        if ((size_t) snprintf(email, sizeof(email), "%s@%s", name, core->config.email_domain) >= sizeof(email))
                return -ENOENT;
        return core->store_ops->user_find(core->store, STITCH_USER_BY_EMAIL, email, ret);
}

int stitch_user_find_for_login(struct stitch_core *core, const struct stitch_login *l, struct stitch_user **ret) {
        if (l->app)
                return isempty(l->user) ? -ENOENT : core->store_ops->user_find(core->store, STITCH_USER_BY_EMAIL, l->user, ret);
        return stitch_user_find_by_login_name(core, l->user, ret);
}

int stitch_user_find_by_any_name(struct stitch_core *core, const char *name, struct stitch_user **ret) {
        /* Unix names never hold an '@' (stitch_unix_name_valid) and emails
         * always do, so the two kinds of names cannot be confused. */
        if (strchr(name, '@'))
                return core->store_ops->user_find(core->store, STITCH_USER_BY_EMAIL, name, ret);
        return stitch_user_find_by_login_name(core, name, ret);
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

int stitch_limit_key_for_login(struct stitch_core *core, const struct stitch_login *l,
                               char ret[static STITCH_LIMIT_KEY_MAX]) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        const char *name = l->user ? l->user : "";
        if (l->app && isempty(name)) {
                ret[0] = 0;
                return 0;
        }
        /* Every name of the account, whichever path it comes by: a name the
         * provider would not resolve here (the full email through PAM) can
         * never log in, but while the account is locked it must be refused
         * like the others, before any hash. */
        int r = stitch_user_find_by_any_name(core, name, &u);
        if (r >= 0) {
                stitch_limit_key_for_user(u->id, ret);
                return 0;
        }
        if (r != -ENOENT)
                return r;
        /* Longer names never reach a provider (the wire caps them at 256). */
        snprintf(ret, STITCH_LIMIT_KEY_MAX, "name:%s", name);
        return 0;
}

/* What a failed login must cost: one hash with PasswordHash=, or with the
 * parameters of the costliest stored hash met since the start. After
 * PasswordHash= was lowered, older hashes cost more until their users log
 * in again (and get rehashed); from the first failure against one of them
 * on, unknown users and every other failure cost as much. */
static struct stitch_argon2_params failure_floor(struct stitch_core *core, const char *hash) {
        struct stitch_argon2_params stored, floor;
        bool raised = false;

        pthread_mutex_lock(&core->password_floor_lock);
        if (hash && stitch_password_params(hash, &stored) >= 0 &&
            stitch_password_work(&stored) > stitch_password_work(&core->password_floor)) {
                core->password_floor = stored;
                raised = true;
        }
        floor = core->password_floor;
        pthread_mutex_unlock(&core->password_floor_lock);
        if (raised)
                log_notice("A stored password hash costs more than PasswordHash=: failed logins now cost as much as "
                           "argon2id:m=%u,t=%u,p=%u, until the daemon restarts.",
                           (unsigned) floor.m_kib, (unsigned) floor.t, (unsigned) floor.p);
        return floor;
}

/* Checks password against u's (NULL: no such user; taken either way). */
static int verify_password(struct stitch_core *core, struct stitch_user *found, const char *password,
                           struct stitch_user **ret_user) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = found;
        _cleanup_free_ char *hash = NULL;
        int r;

        if (u) {
                r = core->store_ops->password_get(core->store, u->id, &hash);
                if (r < 0 && r != -ENOENT)
                        return r;
        }

        /* Always pay for one verification, against a dummy hash when there is
         * no user or no password, and make every failure cost one hash at
         * the floor whatever parameters the stored hash has, so timing does
         * not tell them apart. */
        struct stitch_argon2_params floor = failure_floor(core, hash);
        r = stitch_password_verify_padded(hash ? hash : core->dummy_hash, password, !u || !hash || u->disabled, &floor);
        __atomic_fetch_add(&core->password_verifications, 1, __ATOMIC_RELAXED);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !u || !hash || u->disabled)
                return -EACCES;

        struct stitch_argon2_params want = {core->config.argon2_m_kib, core->config.argon2_t, core->config.argon2_p};
        if (stitch_password_needs_rehash(hash, &want)) {
                _cleanup_free_ char *fresh = NULL;
                if (stitch_password_hash(password, &want, &fresh) >= 0) {
                        r = core->store_ops->password_set(core->store, u->id, fresh);
                        if (r < 0)
                                log_warning_errno(r, "Could not upgrade the password hash of user %s: %m", u->id);
                        else
                                log_info("Upgraded the password hash of user %s to the configured parameters.", u->id);
                }
        }

        *ret_user = TAKE_PTR(u);
        return 0;
}

int stitch_userpass_verify(struct stitch_core *core, const char *name, const char *password,
                           struct stitch_user **ret_user) {
        struct stitch_user *u = NULL;
        if (!password)
                return -EINVAL;
        int r = stitch_user_find_by_login_name(core, name, &u);
        if (r < 0 && r != -ENOENT)
                return r;
        return verify_password(core, u, password, ret_user);
}

static int userpass_begin(struct stitch_core *core, const struct stitch_login *l, struct stitch_provider_result *ret) {
        const char *password = stitch_credentials_get(l->credentials, "password");
        const char *reason;

        if (!password) {
                int r = stitch_ask_prompt(&ret->ask, "password", "Password: ", false, true);
                return r < 0 ? r : STITCH_PROVIDER_ASK;
        }
        /* Out-of-policy lengths can never match a stored password: refuse
         * them before paying for a hash (this tells an attacker nothing). */
        if (stitch_password_check_policy(password, STITCH_PASSWORD_MIN_LENGTH, &reason) < 0) {
                log_info("Login for %s via %s refused: %s.", l->user, l->service, reason);
                return -EACCES;
        }
        struct stitch_user *u = NULL;
        int r = stitch_user_find_for_login(core, l, &u);
        if (r < 0 && r != -ENOENT)
                return r;
        r = verify_password(core, u, password, &ret->user);
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
