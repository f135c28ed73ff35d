/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchctl key ...: the token signing keys (io.stitch.Admin.Key*) */

#include <stdio.h>

#include "macro.h"
#include "output.h"
#include "stitchctl.h"
#include "wire.h"

static int call_no_params(struct stitchctl *ctl, const char *method, cJSON **ret_reply, cJSON **ret_params) {
        _cleanup_(cJSON_Deletep) cJSON *params = cJSON_CreateObject();
        if (!params)
                return stitchctl_oom();
        return stitchctl_call(ctl, method, params, ret_reply, ret_params);
}

int cmd_key_rotate(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        cJSON *rp = NULL;
        int r;

        r = call_no_params(ctl, "io.stitch.Admin.KeyRotate", &reply, &rp);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                return output_json(rp);

        const char *kid = json_string(rp, "kid");
        _cleanup_free_ char *safe = output_sanitize(kid ? kid : "-");
        if (!safe)
                return stitchctl_oom();
        printf("New signing key %s is now active.\n", safe);
        return EXIT_OK;
}

/* "retired" may be a timestamp, a boolean or null */
static const char *retired_text(const cJSON *k, char buf[static FORMAT_TIMESTAMP_MAX]) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(k, "retired");
        if (cJSON_IsBool(v))
                return cJSON_IsTrue(v) ? "yes" : "no";
        return format_json_timestamp(buf, v);
}

int cmd_key_list(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        cJSON *rp = NULL;
        int r;

        r = call_no_params(ctl, "io.stitch.Admin.KeyList", &reply, &rp);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                return output_json(rp);

        const cJSON *keys = cJSON_GetObjectItemCaseSensitive(rp, "keys");
        if (cJSON_GetArraySize(keys) == 0) {
                printf("No signing keys.\n");
                return EXIT_OK;
        }
        _cleanup_(table_freep) struct table *t = table_new(4, "KID", "ALG", "CREATED", "RETIRED");
        if (!t)
                return stitchctl_oom();
        const cJSON *k;
        cJSON_ArrayForEach(k, keys) {
                char created[FORMAT_TIMESTAMP_MAX], retired[FORMAT_TIMESTAMP_MAX];
                if (table_add_row(t, json_string(k, "kid"), json_string(k, "alg"),
                                  format_json_timestamp(created, cJSON_GetObjectItemCaseSensitive(k, "created")),
                                  retired_text(k, retired)) < 0)
                        return stitchctl_oom();
        }
        table_print(t, stdout);
        return EXIT_OK;
}

int cmd_key_jwks(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        cJSON *rp = NULL;
        int r;

        r = call_no_params(ctl, "io.stitch.Admin.KeyJwks", &reply, &rp);
        if (r != EXIT_OK)
                return r;
        /* a JWKS is JSON by nature: the same document either way */
        return output_json(rp);
}
