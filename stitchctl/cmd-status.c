/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchctl status: io.stitch.Admin.Status */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "output.h"
#include "stitchctl.h"
#include "wire.h"

/* "password_verifications" -> "Password verifications" */
static char *label_from_key(const char *key) {
        char *s = strdup(key);
        if (!s)
                return NULL;
        for (char *p = s; *p; p++)
                if (*p == '_')
                        *p = ' ';
        if (*s >= 'a' && *s <= 'z')
                *s = (char) (*s - 'a' + 'A');
        return s;
}

int cmd_status(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(cJSON_Deletep) cJSON *params = cJSON_CreateObject();
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        cJSON *rp = NULL;
        int64_t uptime;
        int r;

        if (!params)
                return stitchctl_oom();
        r = stitchctl_call(ctl, "io.stitch.Admin.Status", params, &reply, &rp);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                return output_json(rp);

        _cleanup_(table_freep) struct table *kv = table_new_kv();
        if (!kv)
                return stitchctl_oom();

        static const struct {
                const char *key, *label;
        } fields[] = {
                { "version", "Version" },
                { "store", "Store" },
                { "users", "Users" },
                { "sessions", "Sessions" },
                { "signing_algorithm", "Signing" },
                { "active_kid", "Active key" },
                { "workers", "Workers" },
                { "connections", "Connections" },
        };
        r = 0;
        for (size_t i = 0; i < ELEMENTSOF(fields) && r == 0; i++)
                r = table_add_kv_json(kv, fields[i].label, cJSON_GetObjectItemCaseSensitive(rp, fields[i].key));
        if (r == 0) {
                char buf[FORMAT_DURATION_MAX];
                r = table_add_kv(kv, "Uptime", json_int(rp, "uptime", &uptime) ? format_duration(buf, uptime) : NULL);
        }
        /* whatever else a newer daemon reports */
        const cJSON *item;
        cJSON_ArrayForEach(item, rp) {
                if (r != 0)
                        break;
                bool known = streq_ptr(item->string, "uptime");
                for (size_t i = 0; i < ELEMENTSOF(fields) && !known; i++)
                        known = streq_ptr(item->string, fields[i].key);
                if (!known && item->string) {
                        _cleanup_free_ char *label = label_from_key(item->string);
                        r = label ? table_add_kv_json(kv, label, item) : -ENOMEM;
                }
        }
        if (r < 0)
                return stitchctl_oom();
        table_print(kv, stdout);
        return EXIT_OK;
}
