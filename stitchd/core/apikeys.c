/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "core/apikeys.h"
#include "core/end-reason.h"
#include "core/sessions.h"
#include "clock.h"
#include "core/ids.h"
#include "core/sha256.h"
#include "validate.h"
#include "log.h"
#include "providers/provider.h"

int stitch_apikey_issue(struct stitch_core *core, const char *user_id, const char *name,
                        char ret_id[STITCH_ID_LEN + 1], char **ret_key) {
        _cleanup_erase_ char *key = NULL;
        struct stitch_apikey k = {0};
        int r;

        if (!stitch_apikey_name_valid(name))
                return -EINVAL;
        r = stitch_objectid_new(k.id);
        if (r < 0)
                return r;
        memcpy(k.user_id, user_id, sizeof(k.user_id));
        r = stitch_secret_new(STITCH_APIKEY_PREFIX, &key);
        if (r < 0)
                return r;
        r = stitch_sha256(key, strlen(key), k.hash);
        if (r < 0)
                return r;
        k.name = (char *) name;
        k.creation_date = stitch_now();
        r = core->store_ops->apikey_create(core->store, &k);
        if (r < 0)
                return r;
        log_info("API key %s (%s) created for user %s.", k.id, name, k.user_id);
        memcpy(ret_id, k.id, STITCH_ID_LEN + 1);
        *ret_key = TAKE_PTR(key);
        return 0;
}

int stitch_apikey_create_allowed(const struct stitch_user *u, const struct stitch_session *s, const char **ret_why) {
        /* A key minted by a key would outlive it: deleting a leaked key
         * must be the end of it. Stitch scopes user keys to user sessions. */
        if (!isempty(s->apikey_id) || streq_ptr(s->provider_type, stitch_provider_apikey.name)) {
                *ret_why = "API keys cannot be created by a session that an API key opened";
                return -EPERM;
        }
        if (streq_ptr(u->type, STITCH_USER_TYPE_SERVER)) {
                *ret_why = "server users cannot create API keys";
                return -EPERM;
        }
        return 0;
}

struct key_change {
        const char *key_id;
        bool delete;
};

/* Inside a transaction: the key's sessions end, then the key changes. */
static int end_sessions_and(struct stitch_core *core, struct stitch_store *tx, const void *userdata,
                            char ***ret_revoked) {
        const struct key_change *c = userdata;
        int r = core->store_ops->session_revoke_apikey(tx, c->key_id, stitch_provider_apikey.name, stitch_now(),
                                                    stitch_end_reason_to_string(STITCH_END_APIKEY), ret_revoked);
        if (r < 0)
                return r;
        r = c->delete ? core->store_ops->apikey_delete(tx, c->key_id)
                      : core->store_ops->apikey_set_disabled(tx, c->key_id, true);
        if (r < 0) {
                *ret_revoked = stitch_strv_free(*ret_revoked);
                return r;
        }
        return 0;
}

/* As a disabled or deleted user's (core/users.c): memory first, so that no
 * token of those sessions verifies while the store catches up, then the
 * sessions and the key in one transaction. */
static int change(struct stitch_core *core, const char *key_id, bool delete, char ***ret_revoked) {
        _cleanup_(stitch_apikey_freep) struct stitch_apikey *k = NULL;
        int r;

        r = core->store_ops->apikey_get(core->store, key_id, &k);
        if (r < 0)
                return r;
        const struct key_change c = {.key_id = k->id, .delete = delete};
        stitch_sessions_end_apikey_in_memory(core, k->user_id, k->id, stitch_provider_apikey.name, STITCH_END_APIKEY);
        r = stitch_sessions_end_in_store(core, STITCH_END_APIKEY, end_sessions_and, &c, ret_revoked);
        if (r < 0)
                return r;
        log_info("API key %s of user %s %s; %d session%s it opened ended.", k->id, k->user_id,
                 delete ? "deleted" : "disabled", r, r == 1 ? "" : "s");
        return 0;
}

int stitch_apikey_set_disabled(struct stitch_core *core, const char *key_id, bool disabled, char ***ret_revoked) {
        if (disabled)
                return change(core, key_id, false, ret_revoked);

        /* Enabling ends nothing. */
        int r = core->store_ops->apikey_set_disabled(core->store, key_id, false);
        if (r < 0)
                return r;
        return stitch_sessions_ended_none(ret_revoked);
}

int stitch_apikey_delete(struct stitch_core *core, const char *key_id, char ***ret_revoked) {
        return change(core, key_id, true, ret_revoked);
}
