/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchctl login: a real login through io.stitch.Auth.Login */

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "output.h"
#include "stitchctl.h"
#include "wire.h"

#define DEFAULT_SERVICE "stitchctl"
/* What the daemon's API keys start with; only used to pick the field for provider=auto. */
#define APIKEY_PREFIX "stk_"

int cmd_login(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = cJSON_CreateObject();
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *reply = NULL;
        _cleanup_erase_ char *secret = NULL;
        const char *user = ctl->user, *provider = ctl->provider;
        cJSON *rp = NULL;
        int r;

        if (!params)
                return stitchctl_oom();

        if (!user) {
                struct passwd *pw = getpwuid(getuid());
                if (!pw)
                        return stitchctl_usage_error(ctl, "cannot tell the caller's user name; pass --user");
                user = pw->pw_name;
        }

        if (!cJSON_AddStringToObject(params, "user", user) ||
            !cJSON_AddStringToObject(params, "service", ctl->service ? ctl->service : DEFAULT_SERVICE) ||
            (provider && !cJSON_AddStringToObject(params, "provider", provider)) ||
            (ctl->rhost && !cJSON_AddStringToObject(params, "rhost", ctl->rhost)) ||
            (ctl->tty && !cJSON_AddStringToObject(params, "tty", ctl->tty)))
                return stitchctl_oom();

        if (!streq_ptr(provider, "anon-user")) {
                bool key = streq_ptr(provider, "api-key");
                bool guess = streq_ptr(provider, "auto");

                r = stitchctl_read_secret_line(key ? "API key: " : guess ? "Password or API key: " : "Password: ",
                                               &secret);
                if (r != EXIT_OK)
                        return r;
                if (guess && strncmp(secret, APIKEY_PREFIX, strlen(APIKEY_PREFIX)) == 0)
                        key = true;
                if (!cJSON_AddStringToObject(params, key ? "key" : "password", secret))
                        return stitchctl_oom();
        }

        r = stitchctl_call(ctl, "io.stitch.Auth.Login", params, &reply, &rp);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                return output_json(rp);

        /* the caller's own new session: show everything, tokens included */
        _cleanup_(table_freep) struct table *kv = table_new_kv();
        if (!kv)
                return stitchctl_oom();
        r = 0;
        r = r ?: table_add_kv(kv, "User ID", json_string(rp, "user_id"));
        r = r ?: table_add_kv(kv, "Session ID", json_string(rp, "session_id"));
        r = r ?: table_add_kv(kv, "Provider", json_string(rp, "provider_type"));
        r = r ?: table_add_kv(kv, "Device ID", json_string(rp, "device_id"));
        r = r ?: table_add_kv_time(kv, "Expires", cJSON_GetObjectItemCaseSensitive(rp, "expires"));
        r = r ?: table_add_kv(kv, "Access token", json_string(rp, "access_token"));
        r = r ?: table_add_kv(kv, "Refresh token", json_string(rp, "refresh_token"));
        if (r < 0)
                return stitchctl_oom();
        table_print(kv, stdout);
        return EXIT_OK;
}
