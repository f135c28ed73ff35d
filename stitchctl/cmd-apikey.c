/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchctl apikey ...: io.stitch.Admin.ApiKey* */

#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "output.h"
#include "stitchctl.h"
#include "wire.h"

int cmd_apikey_add(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(cJSON_Deletep) cJSON *params = cJSON_CreateObject();
        /* the reply carries the key: wipe it */
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *reply = NULL;
        cJSON *rp = NULL;
        int r;

        if (!params)
                return stitchctl_oom();
        if (!ctl->name)
                return stitchctl_usage_error(ctl, "'apikey add' needs --name");
        if (!!ctl->user == ctl->server)
                return stitchctl_usage_error(ctl, "'apikey add' needs exactly one of --user or --server");
        if (ctl->unix_name && !ctl->server)
                return stitchctl_usage_error(ctl, "--unix-name applies to server keys (--server) only");

        if (!cJSON_AddStringToObject(params, "name", ctl->name) ||
            (ctl->user && !cJSON_AddStringToObject(params, "user", ctl->user)) ||
            (ctl->server && !cJSON_AddTrueToObject(params, "server")) ||
            (ctl->unix_name && !cJSON_AddStringToObject(params, "unix_name", ctl->unix_name)))
                return stitchctl_oom();

        r = stitchctl_call(ctl, "io.stitch.Admin.ApiKeyCreate", params, &reply, &rp);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                return output_json(rp);

        _cleanup_(table_freep) struct table *kv = table_new_kv();
        if (!kv)
                return stitchctl_oom();
        r = 0;
        r = r ?: table_add_kv(kv, "ID", json_string(rp, "_id"));
        r = r ?: table_add_kv(kv, "Name", json_string(rp, "name"));
        r = r ?: table_add_kv(kv, "User ID", json_string(rp, "user_id"));
        r = r ?: table_add_kv(kv, "Disabled", json_yesno(rp, "disabled"));
        r = r ?: table_add_kv(kv, "Key", json_string(rp, "key"));
        if (r < 0)
                return stitchctl_oom();
        table_print(kv, stdout);
        printf("\nStore the key now: it will not be shown again.\n");
        return EXIT_OK;
}

int cmd_apikey_list(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(cJSON_Deletep) cJSON *params = cJSON_CreateObject();
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        cJSON *rp = NULL;
        int r;

        if (!params || (ctl->user && !cJSON_AddStringToObject(params, "user", ctl->user)))
                return stitchctl_oom();

        r = stitchctl_call(ctl, "io.stitch.Admin.ApiKeyList", params, &reply, &rp);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                return output_json(rp);

        const cJSON *keys = cJSON_GetObjectItemCaseSensitive(rp, "api_keys");
        if (cJSON_GetArraySize(keys) == 0) {
                printf("No API keys.\n");
                return EXIT_OK;
        }

        _cleanup_(table_freep) struct table *t = table_new(5, "ID", "NAME", "USER ID", "DISABLED", "CREATED");
        if (!t)
                return stitchctl_oom();
        const cJSON *k;
        cJSON_ArrayForEach(k, keys) {
                char when[FORMAT_TIMESTAMP_MAX];
                if (table_add_row(t, json_string(k, "_id"), json_string(k, "name"), json_string(k, "user_id"),
                                  json_yesno(k, "disabled"),
                                  format_json_timestamp(when, cJSON_GetObjectItemCaseSensitive(k, "creation_date"))) < 0)
                        return stitchctl_oom();
        }
        table_print(t, stdout);
        return EXIT_OK;
}

static int apikey_simple(struct stitchctl *ctl, const char *method, const char *id, const char *done) {
        _cleanup_(cJSON_Deletep) cJSON *params = cJSON_CreateObject();
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        cJSON *rp = NULL;
        int r;

        if (!params || !cJSON_AddStringToObject(params, "id", id))
                return stitchctl_oom();
        r = stitchctl_call(ctl, method, params, &reply, &rp);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                return output_json(rp);

        const char *got = json_string(rp, "_id");
        _cleanup_free_ char *safe = output_sanitize(got ? got : id);
        if (!safe)
                return stitchctl_oom();
        /* Deleting or disabling a key ends the sessions it opened. */
        const cJSON *revoked = cJSON_GetObjectItemCaseSensitive(rp, "revoked_sessions");
        if (cJSON_IsArray(revoked) && !streq(method, "io.stitch.Admin.ApiKeyEnable")) {
                int n = cJSON_GetArraySize(revoked);
                printf("%s API key %s; %d session%s it opened ended.\n", done, safe, n, n == 1 ? "" : "s");
        } else
                printf("%s API key %s.\n", done, safe);
        return EXIT_OK;
}

int cmd_apikey_enable(struct stitchctl *ctl, char **args, size_t n_args) {
        return apikey_simple(ctl, "io.stitch.Admin.ApiKeyEnable", args[0], "Enabled");
}

int cmd_apikey_disable(struct stitchctl *ctl, char **args, size_t n_args) {
        return apikey_simple(ctl, "io.stitch.Admin.ApiKeyDisable", args[0], "Disabled");
}

int cmd_apikey_delete(struct stitchctl *ctl, char **args, size_t n_args) {
        return apikey_simple(ctl, "io.stitch.Admin.ApiKeyDelete", args[0], "Deleted");
}
