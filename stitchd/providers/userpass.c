/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* local-userpass: email/password users, argon2id hashes. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "core/accounts.h"
#include "core/password.h"
#include "providers/provider.h"
#include "providers/userpass.h"
#include "store/store.h"

static bool userpass_enabled(const struct stitch_config *c) {
        return stitch_userpass_enabled(c);
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
        r = stitch_account_verify_password(core, u, password, &ret->user);
        return r < 0 ? r : STITCH_PROVIDER_DONE;
}

const struct stitch_provider stitch_provider_userpass = {
        .name = "local-userpass",
        .config = &stitch_userpass_section,
        .enabled = userpass_enabled,
        .begin = userpass_begin,
        .linkable = true,
        .identity_is_email = true,
        .app_fields = {{"username", "user", false}, {"password", "password", false}},
        .app_failure_code = "InvalidPassword",
        .app_failure_message = "invalid username/password",
};
