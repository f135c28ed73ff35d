/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* provider=auto (the default): a password, an API key or (when
 * [Provider.custom-token] is enabled) a custom JWT, whichever the person
 * presents. It asks one "Password: " question and tells the answer apart by
 * its look (an API key has a fixed format no password policy forbids, but
 * no person picks; a JWT is "eyJ" and three base64url segments); a caller
 * that names its credential ("password", "key" or "token") gets that
 * provider. With custom-token disabled a JWT-shaped answer stays a
 * password. */
#include "macro.h"
#include "providers/provider.h"

static int auto_choose(const struct stitch_config *c, const struct stitch_login *l,
                       struct stitch_credentials *credentials, struct stitch_provider_result *ret,
                       const struct stitch_provider **ret_provider) {
        const char *secret = stitch_credentials_get(credentials, "secret");
        bool tokens = stitch_provider_custom_token.enabled(c);

        if (stitch_credentials_get(credentials, "key")) {
                *ret_provider = &stitch_provider_apikey;
                return STITCH_PROVIDER_DONE;
        }
        if (tokens && stitch_credentials_get(credentials, "token")) {
                *ret_provider = &stitch_provider_custom_token;
                return STITCH_PROVIDER_DONE;
        }
        if (secret && stitch_apikey_format_valid(secret)) {
                ret->authtok_is_not_password = true; /* never hand an API key to the next module */
                *ret_provider = &stitch_provider_apikey;
                return stitch_credentials_put(credentials, "key", secret) ?: STITCH_PROVIDER_DONE;
        }
        if (secret && tokens && stitch_jwt_shape(secret)) {
                ret->authtok_is_not_password = true; /* never hand a token to the next module */
                *ret_provider = &stitch_provider_custom_token;
                return stitch_credentials_put(credentials, "token", secret) ?: STITCH_PROVIDER_DONE;
        }
        if (secret) {
                *ret_provider = &stitch_provider_userpass;
                return stitch_credentials_put(credentials, "password", secret) ?: STITCH_PROVIDER_DONE;
        }
        if (stitch_credentials_get(credentials, "password") || !l->interactive) {
                /* A caller that cannot answer learns what the default wants. */
                *ret_provider = &stitch_provider_userpass;
                return STITCH_PROVIDER_DONE;
        }
        int r = stitch_ask_prompt(&ret->ask, "secret", "Password: ", false, true);
        return r < 0 ? r : STITCH_PROVIDER_ASK;
}

static bool auto_enabled(const struct stitch_config *c) {
        (void) c;
        return true; /* what it picks must be enabled */
}

const struct stitch_provider stitch_provider_auto = {
        .name = "auto",
        .enabled = auto_enabled,
        .choose = auto_choose,
};
