/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/end-reason.h"
#include "core/events.h"
#include "core/sessions.h"
#include "core/unix-accounts.h"
#include "core/users.h"
#include "clock.h"
#include "validate.h"
#include "log.h"
#include "providers/provider.h"

/* Ends transaction tx: commits if r >= 0, else rolls back. */
static int finish(struct stitch_core *core, struct stitch_store *tx, int r) {
        if (r >= 0)
                return core->store_ops->commit(tx);
        core->store_ops->rollback(tx);
        return r;
}

struct user_change {
        const char *user_id;
        enum stitch_end_reason reason;
        bool delete;
};

/* Inside a transaction: the user's live sessions end, then the user changes
 * (disabled, or gone). */
static int end_sessions_and(struct stitch_core *core, struct stitch_store *tx, const void *userdata,
                            char ***ret_revoked) {
        const struct user_change *c = userdata;
        int r = core->store_ops->session_revoke_user(tx, c->user_id, stitch_now(),
                                                  stitch_end_reason_to_string(c->reason), ret_revoked);
        if (r < 0)
                return r;
        if (c->delete)
                r = core->store_ops->user_delete(tx, c->user_id);
        else
                r = core->store_ops->user_set_disabled(tx, c->user_id, true);
        if (r < 0) {
                *ret_revoked = stitch_strv_free(*ret_revoked);
                return r;
        }
        return 0;
}

static int change(struct stitch_core *core, const char *user_id, enum stitch_end_reason reason, bool delete,
                  char ***ret_revoked) {
        const struct user_change c = {.user_id = user_id, .reason = reason, .delete = delete};
        int r;

        stitch_sessions_end_user_in_memory(core, NULL, user_id, reason);
        r = stitch_sessions_end_in_store(core, reason, end_sessions_and, &c, ret_revoked);
        stitch_events_users_changed(&core->events); /* also on failure: the memory side is already ahead */
        return r < 0 ? r : 0;
}

int stitch_user_set_disabled(struct stitch_core *core, const char *user_id, bool disabled, char ***ret_revoked) {
        if (disabled)
                return change(core, user_id, STITCH_END_DISABLE, false, ret_revoked);

        /* Enabling ends nothing. */
        int r = core->store_ops->user_set_disabled(core->store, user_id, false);
        stitch_events_users_changed(&core->events);
        if (r < 0)
                return r;
        return stitch_sessions_ended_none(ret_revoked);
}

int stitch_user_delete(struct stitch_core *core, const char *user_id, char ***ret_revoked) {
        return change(core, user_id, STITCH_END_DELETE, true, ret_revoked);
}

/* u's data with "name" set to name (NULL: removed); malloc'd JSON text. */
static char *data_with_name(const struct stitch_user *u, const char *name) {
        cJSON *d = cJSON_Parse(u->data_json ? u->data_json : "{}");
        char *s = NULL;

        if (!cJSON_IsObject(d)) {
                cJSON_Delete(d);
                d = cJSON_CreateObject();
        }
        if (!d)
                return NULL;
        cJSON_DeleteItemFromObjectCaseSensitive(d, "name");
        if (!name || cJSON_AddStringToObject(d, "name", name))
                s = cJSON_PrintUnformatted(d);
        cJSON_Delete(d);
        return s;
}

static const char *empty_to_null(const char *s) {
        return s && *s ? s : NULL;
}

int stitch_user_set_names(struct stitch_core *core, const char *user_id, const struct stitch_user_names *n,
                          char **ret_old_unix_name, char ***ret_revoked) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        _cleanup_(stitch_strv_freep) char **revoked = NULL;
        _cleanup_free_ char *data = NULL, *old_unix_name = NULL;
        struct stitch_store *tx = NULL;
        const char *unix_name = n->set_unix_name ? empty_to_null(n->unix_name) : NULL;
        const char *name = n->set_name ? empty_to_null(n->name) : NULL;
        bool renamed = false;
        int r;

        if (unix_name && !stitch_unix_name_valid(unix_name))
                return -EINVAL;

        /* Read, decide and write under one write lock: a concurrent change
         * of the same user (a login's metadata, another admin) cannot be
         * lost in between. */
        r = core->store_ops->begin(core->store, &tx);
        if (r < 0)
                return r;
        r = core->store_ops->user_find(tx, STITCH_USER_BY_ID, user_id, &u);
        if (r >= 0 && u->unix_name && !(old_unix_name = strdup(u->unix_name)))
                r = -ENOMEM;
        if (r >= 0 && n->set_unix_name && !streq_ptr(u->unix_name, unix_name)) {
                renamed = true;
                free(u->unix_name);
                u->unix_name = unix_name ? strdup(unix_name) : NULL;
                if (unix_name && !u->unix_name)
                        r = -ENOMEM;
        }
        if (r >= 0 && n->set_name) {
                free(u->name);
                u->name = name ? strdup(name) : NULL;
                data = data_with_name(u, name);
                if ((name && !u->name) || !data)
                        r = -ENOMEM;
                else {
                        free(u->data_json);
                        u->data_json = TAKE_PTR(data);
                }
        }
        /* The identities' data stays as it is. */
        if (r >= 0) {
                struct stitch_identity *identities = u->identities;
                size_t n_identities = u->n_identities;
                u->identities = NULL;
                u->n_identities = 0;
                r = core->store_ops->user_update(tx, u);
                u->identities = identities;
                u->n_identities = n_identities;
        }
        /* Sessions opened as the old Unix account end: memory first (a
         * token must not verify in between), then the store, in the same
         * transaction as the rename. */
        if (r >= 0 && renamed) {
                stitch_sessions_end_user_in_memory(core, tx, user_id, STITCH_END_REVOKE);
                r = core->store_ops->session_revoke_user(tx, user_id, stitch_now(),
                                                         stitch_end_reason_to_string(STITCH_END_REVOKE), &revoked);
        }
        if (r >= 0)
                r = core->store_ops->commit(tx);
        else
                core->store_ops->rollback(tx);
        stitch_events_users_changed(&core->events); /* also on failure: memory may be ahead */
        if (r < 0)
                return r;
        stitch_sessions_ended_in_memory(core, revoked, STITCH_END_REVOKE);

        /* A new Unix account resolves at once, as a created one does (a
         * full range or a store error: the upkeep tries again). */
        if (unix_name && renamed && core->config.accounts_userdb)
                (void) stitch_unix_account_assign(core, user_id, &(int64_t) {0});

        if (!revoked) {
                r = stitch_sessions_ended_none(&revoked);
                if (r < 0)
                        return r;
        }
        if (ret_old_unix_name)
                *ret_old_unix_name = TAKE_PTR(old_unix_name);
        *ret_revoked = TAKE_PTR(revoked);
        return 0;
}

#define IDLE_BATCH 100

/* One batch of one provider's idle users, in one transaction: listed and
 * deleted under the same write lock, so that a user who logs in meanwhile
 * is either not listed or its login fails (the user is gone). */
static int delete_idle_batch(struct stitch_core *core, const char *provider_type, int64_t cutoff, size_t *ret_n) {
        struct stitch_store *tx = NULL;
        char **ids = NULL;
        size_t n = 0;
        int r;

        r = core->store_ops->begin(core->store, &tx);
        if (r < 0)
                return r;
        r = core->store_ops->user_list_idle(tx, provider_type, cutoff, IDLE_BATCH, &ids);
        for (char **id = ids; r >= 0 && id && *id; id++) {
                const struct user_change c = {.user_id = *id, .reason = STITCH_END_DELETE, .delete = true};
                char **revoked = NULL;
                stitch_sessions_end_user_in_memory(core, tx, *id, STITCH_END_DELETE);
                r = end_sessions_and(core, tx, &c, &revoked);
                if (r >= 0) {
                        stitch_sessions_ended_in_memory(core, revoked, STITCH_END_DELETE);
                        n++;
                }
                stitch_strv_free(revoked);
        }
        stitch_strv_free(ids);
        r = finish(core, tx, r);
        if (r < 0)
                return r;
        *ret_n = n;
        return 0;
}

int stitch_users_delete_idle(struct stitch_core *core, int64_t now, size_t *ret_n) {
        size_t total = 0;
        int r = 0;

        for (const struct stitch_provider *const *p = stitch_providers(); *p && r >= 0; p++) {
                if ((*p)->idle_user_lifetime_sec <= 0)
                        continue;
                for (;;) {
                        size_t n = 0;
                        r = delete_idle_batch(core, (*p)->name, now - (*p)->idle_user_lifetime_sec, &n);
                        if (r < 0) {
                                log_warning_errno(r, "Cannot delete idle %s users: %m", (*p)->name);
                                break;
                        }
                        total += n;
                        if (n < IDLE_BATCH)
                                break;
                }
        }
        if (total > 0)
                stitch_events_users_changed(&core->events);
        *ret_n = total;
        return r;
}
