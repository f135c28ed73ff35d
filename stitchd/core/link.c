/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/events.h"
#include "core/link.h"
#include "validate.h"
#include "log.h"

void stitch_link_result_done(struct stitch_link_result *r) {
        stitch_login_result_done(&r->login);
        r->user = stitch_user_free(r->user);
}

/* Stitch's user data: {"email", "name"} of those set. */
static char *user_data_json(const struct stitch_user *u) {
        cJSON *d = cJSON_CreateObject();
        if (!d || (u->email && !cJSON_AddStringToObject(d, "email", u->email)) ||
            (u->name && !cJSON_AddStringToObject(d, "name", u->name))) {
                cJSON_Delete(d);
                return NULL;
        }
        char *s = cJSON_PrintUnformatted(d);
        cJSON_Delete(d);
        return s;
}

static int not_linkable(struct stitch_link_result *ret, const char *message) {
        ret->outcome = STITCH_LINK_NOT_LINKABLE;
        snprintf(ret->message, sizeof(ret->message), "%s", message);
        return 0;
}

/* Whether an account is only a registration: it never logged in. */
static bool never_used(const struct stitch_user *u) {
        return u->last_authentication_date == 0;
}

static int keys_refused(struct stitch_link_result *ret, enum stitch_link_outcome outcome, const char *format, ...)
        _printf_(3, 4);
static int keys_refused(struct stitch_link_result *ret, enum stitch_link_outcome outcome, const char *format, ...) {
        va_list ap;
        ret->outcome = outcome;
        va_start(ap, format);
        vsnprintf(ret->message, sizeof(ret->message), format, ap);
        va_end(ap);
        return 0;
}

/* Whether from's API keys fit on target: a merge moves them all or
 * nothing (never one dropped for its name, never past the limit). Here
 * for a message that names the clash; the merge checks again in its
 * transaction. 1 and ret filled if they do not fit. */
static int keys_misfit(struct stitch_core *core, const struct stitch_user *target, const struct stitch_user *from,
                       struct stitch_link_result *ret) {
        struct stitch_apikey **mine = NULL, **theirs = NULL;
        size_t n_mine = 0, n_theirs = 0;
        int r;

        r = core->store_ops->apikey_list(core->store, from->id, &theirs, &n_theirs);
        if (r < 0 || n_theirs == 0)
                return r;
        r = core->store_ops->apikey_list(core->store, target->id, &mine, &n_mine);
        if (r < 0)
                goto done;
        for (size_t i = 0; i < n_theirs && r == 0; i++)
                for (size_t j = 0; j < n_mine && r == 0; j++)
                        if (streq(theirs[i]->name, mine[j]->name))
                                r = 1 + keys_refused(ret, STITCH_LINK_KEY_NAME_TAKEN,
                                                     "both users have an API key named '%s'; delete one of them first",
                                                     mine[j]->name);
        if (r == 0 && n_mine + n_theirs > STITCH_MAX_USER_APIKEYS)
                r = 1 + keys_refused(ret, STITCH_LINK_TOO_MANY_KEYS,
                                     "the users have %zu API keys together, more than %d; delete some first",
                                     n_mine + n_theirs, STITCH_MAX_USER_APIKEYS);
done:
        stitch_apikey_array_free(mine, n_mine);
        stitch_apikey_array_free(theirs, n_theirs);
        return r;
}

static int merge(struct stitch_core *core, struct stitch_user *target, const struct stitch_user *from,
                 struct stitch_link_result *ret) {
        int r;

        if (target->email && from->email)
                return not_linkable(ret, "linking a local-userpass identity is not allowed when one is already linked");
        if (target->unix_name && from->unix_name)
                return not_linkable(ret, "both users have a Unix name; unlink one first");

        struct stitch_user into = *target;
        if (!into.email)
                into.email = from->email;
        if (!into.unix_name)
                into.unix_name = from->unix_name;
        if (!into.name)
                into.name = from->name;
        _cleanup_free_ char *data = user_data_json(&into);
        if (!data)
                return -ENOMEM;
        into.data_json = data;

        r = keys_misfit(core, target, from, ret);
        if (r != 0)
                return r < 0 ? r : 0;
        r = core->store_ops->user_merge(core->store, from->id, &into);
        if (r == -ENOENT || r == -ENOTEMPTY) {
                /* Raced with a delete, a disable or a first login (the merge
                 * checks in its own transaction): the account is not an
                 * unused one any more. */
                log_notice("Refused to link user %s onto user %s: it was used or changed meanwhile.", from->id,
                           target->id);
                ret->outcome = STITCH_LINK_IN_USE;
                return 0;
        }
        if (r == -EEXIST)
                return keys_refused(ret, STITCH_LINK_KEY_NAME_TAKEN,
                                    "both users have an API key of the same name; delete one of them first");
        if (r == -EDQUOT)
                return keys_refused(ret, STITCH_LINK_TOO_MANY_KEYS,
                                    "the users have more than %d API keys together; delete some first",
                                    STITCH_MAX_USER_APIKEYS);
        if (r < 0)
                return r;
        stitch_events_users_changed(&core->events);
        log_info("Linked the identities of user %s onto user %s (the empty account is gone).", from->id, target->id);
        ret->outcome = STITCH_LINK_LINKED;
        return core->store_ops->user_find(core->store, STITCH_USER_BY_ID, target->id, &ret->user);
}

int stitch_link_run(struct stitch_core *core, const char *user_id, const struct stitch_login_request *req,
                    struct stitch_link_result *ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *target = NULL;
        int r;

        *ret = (struct stitch_link_result) {0};
        const struct stitch_provider *p = req->provider ? stitch_provider_find(req->provider) : NULL;
        if (p && !p->choose && !p->linkable)
                return not_linkable(ret, p->no_credentials ? "linking an anonymous identity is not allowed"
                                                           : "this kind of identity cannot be linked");

        r = core->store_ops->user_find(core->store, STITCH_USER_BY_ID, user_id, &target);
        if (r == -ENOENT || (r >= 0 && target->disabled)) {
                ret->outcome = STITCH_LINK_NO_USER;
                return 0;
        }
        if (r < 0)
                return r;

        struct stitch_login_request identify = *req;
        identify.identify_only = true;
        identify.conversation = NULL;
        r = stitch_login_run(core, &identify, &ret->login);
        if (r < 0)
                return r;
        if (ret->login.outcome != STITCH_LOGIN_IDENTIFIED) {
                ret->outcome = STITCH_LINK_LOGIN_FAILED;
                return 0;
        }
        if (!ret->login.provider->linkable)
                return not_linkable(ret, "this kind of identity cannot be linked");

        struct stitch_user *found = ret->login.user;
        if (streq(found->id, target->id)) {
                ret->outcome = STITCH_LINK_ALREADY;
                ret->user = TAKE_PTR(target);
                return 0;
        }
        if (!never_used(found) || found->disabled) {
                log_notice("Refused to link an identity of user %s onto user %s: it is in use.", found->id, target->id);
                ret->outcome = STITCH_LINK_IN_USE;
                return 0;
        }
        return merge(core, target, found, ret);
}

/* One attempt: -ESTALE if the user's identities changed since it read them. */
static int unlink_once(struct stitch_core *core, const char *user_id, const char *identity_id) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        int r = core->store_ops->user_find(core->store, STITCH_USER_BY_ID, user_id, &u);
        if (r < 0)
                return r;
        const struct stitch_identity *ident = NULL;
        for (size_t i = 0; i < u->n_identities; i++)
                if (streq(u->identities[i].id, identity_id))
                        ident = &u->identities[i];
        if (!ident)
                return -ENOENT;
        /* A user is reached through its identities: never remove the last
         * one. The store removes it only if the count is still this one. */
        if (u->n_identities <= 1)
                return -EPERM;

        /* The email is the local-userpass identity's (the login name). */
        const struct stitch_provider *p = stitch_provider_find(ident->provider_type);
        bool userpass = p && p->identity_is_email;
        struct stitch_user updated = *u;
        if (userpass)
                updated.email = NULL;
        _cleanup_free_ char *data = user_data_json(&updated);
        if (!data)
                return -ENOMEM;
        updated.data_json = data;
        r = core->store_ops->identity_remove(core->store, &updated, identity_id, userpass, u->n_identities);
        if (r < 0)
                return r;
        log_info("Unlinked identity %s (%s) from user %s.", identity_id, ident->provider_type, user_id);
        return 0;
}

#define UNLINK_ATTEMPTS 3

int stitch_identity_unlink(struct stitch_core *core, const char *user_id, const char *identity_id) {
        int r = -ESTALE;
        for (unsigned i = 0; i < UNLINK_ATTEMPTS && r == -ESTALE; i++)
                r = unlink_once(core, user_id, identity_id);
        if (r == -ESTALE)
                r = -EBUSY; /* changed under us every time */
        if (r < 0)
                return r;
        stitch_events_users_changed(&core->events);
        return 0;
}
