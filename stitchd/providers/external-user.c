/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "core/ids.h"
#include "core/sha256.h"
#include "core/unix-accounts.h"
#include "log.h"
#include "macro.h"
#include "providers/external-user.h"

int stitch_external_identity_id(const char *provider_type, const char *external_id,
                                char ret[static STITCH_ID_LEN + 1]) {
        size_t p = strlen(provider_type) + 1, n = strlen(external_id);
        uint8_t hash[32];

        if (n > STITCH_EXTERNAL_ID_MAX)
                return -EINVAL;
        _cleanup_free_ char *buf = malloc(p + n);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, provider_type, p); /* with its NUL */
        memcpy(buf + p, external_id, n);
        int r = stitch_sha256(buf, p + n, hash);
        if (r < 0)
                return r;
        for (size_t i = 0; i < STITCH_ID_LEN / 2; i++)
                snprintf(ret + 2 * i, 3, "%02x", hash[i]);
        ret[STITCH_ID_LEN] = 0;
        return 0;
}

char *stitch_external_user_data_with(const char *data_json, const cJSON *metadata) {
        cJSON *d = data_json ? cJSON_Parse(data_json) : NULL;
        if (!cJSON_IsObject(d)) {
                cJSON_Delete(d);
                d = cJSON_CreateObject();
        }
        if (!d)
                return NULL;
        const cJSON *m;
        cJSON_ArrayForEach(m, metadata) {
                cJSON *copy = cJSON_Duplicate(m, true);
                cJSON_DeleteItemFromObjectCaseSensitive(d, m->string);
                if (!copy || !cJSON_AddItemToObject(d, m->string, copy)) {
                        cJSON_Delete(copy);
                        cJSON_Delete(d);
                        return NULL;
                }
        }
        char *s = cJSON_PrintUnformatted(d);
        cJSON_Delete(d);
        return s;
}

int stitch_external_user_create(struct stitch_core *core, const char *provider_type, const char *identity_id,
                                const char *unix_name, const char *metadata_json, const cJSON *metadata,
                                struct stitch_user **ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        struct stitch_identity *ident = calloc(1, sizeof(*ident));
        if (!ident)
                return -ENOMEM;
        u->identities = ident;
        u->n_identities = 1;
        int r = stitch_objectid_new(u->id);
        if (r < 0)
                return r;
        snprintf(ident->id, sizeof(ident->id), "%s", identity_id);
        u->type = strdup(STITCH_USER_TYPE_NORMAL);
        u->data_json = stitch_external_user_data_with(NULL, metadata);
        ident->provider_type = strdup(provider_type);
        ident->provider_id = strdup(provider_type);
        ident->data_json = strdup(metadata_json);
        if (!u->type || !u->data_json || !ident->provider_type || !ident->provider_id || !ident->data_json)
                return -ENOMEM;
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(metadata, "name");
        if (cJSON_IsString(name) && !(u->name = strdup(name->valuestring)))
                return -ENOMEM;
        if (unix_name && !(u->unix_name = strdup(unix_name)))
                return -ENOMEM;
        /* Never used until its session starts: a user made to be linked
         * (core/link.c) merges. */
        u->creation_date = stitch_now();
        r = core->store_ops->user_create(core->store, u, NULL);
        if (r < 0)
                return r;
        log_info("%s: created user %s for identity %s%s%s.", provider_type, u->id, identity_id,
                 unix_name ? " with Unix name " : "", unix_name ?: "");
        if (unix_name && core->config.accounts_userdb)
                (void) stitch_unix_account_assign(core, u->id, &(int64_t) {0}); /* logs; the upkeep retries */
        *ret = TAKE_PTR(u);
        return 0;
}

int stitch_external_user_refresh(struct stitch_core *core, struct stitch_user *u, const char *identity_id,
                                 const char *metadata_json, const cJSON *metadata, const char *new_unix_name) {
        struct stitch_identity *ident = NULL;
        for (size_t k = 0; k < u->n_identities; k++)
                if (streq(u->identities[k].id, identity_id))
                        ident = &u->identities[k];
        if (!ident)
                return -EACCES;
        _cleanup_free_ char *data = stitch_external_user_data_with(u->data_json, metadata);
        if (!data)
                return -ENOMEM;
        if (streq_ptr(ident->data_json, metadata_json) && streq_ptr(u->data_json, data) && !new_unix_name)
                return 0;
        char *identity_data = strdup(metadata_json);
        if (!identity_data)
                return -ENOMEM;
        free(ident->data_json);
        ident->data_json = identity_data;
        free(u->data_json);
        u->data_json = TAKE_PTR(data);
        if (new_unix_name) {
                char *n = strdup(new_unix_name);
                if (!n)
                        return -ENOMEM;
                free(u->unix_name);
                u->unix_name = n;
        }
        return core->store_ops->user_update(core->store, u);
}
