/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* local-userpass: email/password users, argon2id hashes. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "core/accounts.h"
#include "core/offline.h"
#include "core/password.h"
#include "core/sha256.h"
#include "clock.h"
#include "providers/provider.h"
#include "providers/userpass.h"
#include "store/store.h"

static bool userpass_enabled(const struct stitch_config *c) {
        return stitch_userpass_enabled(c);
}

/* The store cannot be reached: a recent login of this name here may stand
 * in (core/offline.h). Without one, the store's error stands. */
static int offline_login(struct stitch_core *core, const struct stitch_login *l, const char *password, int error,
                         struct stitch_provider_result *ret) {
        char id[STITCH_ID_LEN + 1];
        int r = stitch_offline_verify(core, l->user, password, stitch_now(), id);
        if (r == -ENOENT) {
                log_notice("Login for %s via %s: the store is unreachable and no recent login here allows an "
                           "offline one.", l->user, l->service);
                return error;
        }
        if (r < 0)
                return r; /* -EACCES: wrong password or disabled, as online */
        struct stitch_user *u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        memcpy(u->id, id, sizeof(u->id));
        u->unix_name = strdup(l->user);
        u->type = strdup(STITCH_USER_TYPE_NORMAL);
        u->data_json = strdup("{}");
        if (!u->unix_name || !u->type || !u->data_json) {
                stitch_user_free(u);
                return -ENOMEM;
        }
        ret->user = u;
        ret->offline = true;
        return STITCH_PROVIDER_DONE;
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
        if (r < 0 && r != -ENOENT) {
                if (core->offline && !l->app && stitch_offline_store_unreachable(r))
                        return offline_login(core, l, password, r, ret);
                return r;
        }
        /* What an offline login will compare with (the store's hash is
         * consumed by the check). */
        uint8_t store_hash[32];
        bool remember = core->offline && !l->app && u && u->login_read && u->login_password_hash &&
                        stitch_sha256(u->login_password_hash, strlen(u->login_password_hash), store_hash) >= 0;
        r = stitch_account_verify_password(core, u, password, &ret->user);
        if (r < 0)
                return r;
        if (remember)
                (void) stitch_offline_remember(core, l->user, ret->user->id, password, store_hash, stitch_now());
        return STITCH_PROVIDER_DONE;
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
