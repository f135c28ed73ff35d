/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* local-userpass: email/password users, argon2id hashes. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "core/accounts.h"
#include "core/password.h"
#include "providers/provider.h"
#include "store/store.h"

static bool userpass_enabled(const struct stitch_config *c) {
        return c->userpass_enabled;
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
                if (stitch_account_password_hash(core, password, &fresh) >= 0) {
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
        if (!stitch_account_password_plausible(password, &reason)) {
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
