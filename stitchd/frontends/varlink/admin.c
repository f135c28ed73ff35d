/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* io.stitch.Admin: users, API keys, sessions, signing keys, status. Admin socket only. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/revocations.h"
#include "providers/userpass.h"
#include "core/tokens.h"
#include "core/keys.h"
#include "core/apikeys.h"
#include "core/link.h"
#include "core/conversations.h"
#include "frontends/varlink/call.h"
#include "log.h"
#include "frontends/varlink/objects-json.h"
#include "core/accounts.h"
#include "providers/provider.h"
#include "redact.h"
#include "daemon/mailer.h"
#include "daemon/refresher.h"
#include "frontends/varlink/server.h"
#include "core/sessions.h"
#include "core/users.h"
#include "core/userpass-flows.h"
#include "clock.h"
#include "core/ids.h"
#include "validate.h"
#include "wire.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

/* A user named by id, email or Unix name; answers NotFound itself. */
static int resolve_user(struct stitch_call *c, const char *reference, struct stitch_user **ret) {
        int r = stitch_user_find_by_reference(c->manager->core, reference, ret);
        if (r == -ENOENT)
                return stitch_call_error(c, STITCH_ERROR_NOT_FOUND, "no such user: %s", reference), r;
        if (r < 0)
                return stitch_call_errno(c, r, "user lookup"), r;
        return 0;
}

/* What an admin call does to the user it names, once decoded and resolved
 * (u is NULL when the call's user is optional and not given). Answers
 * itself; returns what the stitch_call_*() answer returned. */
typedef int (*user_action)(struct stitch_call *c, struct stitch_user *u, const void *params, const void *data);

/* The skeleton every call on one user shares: decode params (whose first
 * member is the user's reference, NULL if optional and absent), resolve
 * the user, run the action. */
static int on_user(struct stitch_call *c, const struct stitch_param *table, size_t n_table, void *params,
                   user_action act, const void *data) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;

        if (stitch_call_decode(c, table, n_table, params) < 0)
                return 0;
        const char *reference = *(const char *const *) params;
        if (reference && resolve_user(c, reference, &u) < 0)
                return 0;
        return act(c, u, params, data);
}

static cJSON *strv_to_json(char *const *l) {
        cJSON *a = cJSON_CreateArray();
        for (; l && *l; l++)
                cJSON_AddItemToArray(a, cJSON_CreateString(*l));
        return a;
}

int stitch_method_admin_status(struct stitch_call *c) {
        struct stitch_manager *m = c->manager;
        uint64_t users = 0, sessions = 0;
        char kid[64] = "", alg[16] = "";

        if (stitch_call_decode(c, NULL, 0, &(int){0}) < 0)
                return 0;
        (void) m->core->store_ops->user_count(m->core->store, &users);
        (void) m->core->store_ops->session_count(m->core->store, &sessions);
        (void) stitch_keyring_active(m->core->keyring, kid, sizeof(kid), alg, sizeof(alg));
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "version", PACKAGE_VERSION);
        cJSON_AddNumberToObject(p, "users", (double) users);
        cJSON_AddNumberToObject(p, "sessions", (double) sessions);
        cJSON_AddNumberToObject(p, "revoked_live", (double) stitch_revocations_size(m->core->revocations));
        cJSON_AddNumberToObject(p, "uptime", (double) (stitch_now() - m->core->start_time));
        _cleanup_free_ char *store = stitch_store_describe_spec(m->core->config.store);
        cJSON_AddStringToObject(p, "store", store ?: STITCH_REDACTED);
        cJSON_AddStringToObject(p, "signing_algorithm", alg);
        cJSON_AddStringToObject(p, "active_kid", kid);
        cJSON_AddNumberToObject(p, "workers", stitch_workers_threads(m->workers));
        cJSON_AddNumberToObject(p, "connections", (double) m->connections);
        cJSON_AddNumberToObject(p, "logins_waiting", (double) stitch_conversations_count(m->core->conversations));
        cJSON_AddNumberToObject(p, "open_sessions", (double) stitch_refresher_size(m->refresher));
        cJSON_AddNumberToObject(p, "refreshes", (double) stitch_refresher_refreshes(m->refresher));
        cJSON_AddNumberToObject(p, "refreshes_late", (double) stitch_refresher_late(m->refresher));
        cJSON_AddNumberToObject(p, "open_sessions_lapsed", (double) stitch_refresher_lapsed(m->refresher));
        cJSON_AddNumberToObject(p, "password_verifications",
                                (double) __atomic_load_n(&m->core->password_verifications, __ATOMIC_RELAXED));
        cJSON_AddNumberToObject(p, "logins_succeeded", (double) __atomic_load_n(&m->core->logins_succeeded, __ATOMIC_RELAXED));
        cJSON_AddNumberToObject(p, "logins_failed", (double) __atomic_load_n(&m->core->logins_failed, __ATOMIC_RELAXED));
        struct stitch_mailer_counters mail;
        stitch_mailer_get_counters(m->mailer, &mail);
        cJSON_AddNumberToObject(p, "mails_sent", (double) mail.sent);
        cJSON_AddNumberToObject(p, "mails_failed", (double) mail.failed);
        cJSON_AddNumberToObject(p, "mails_queued", (double) mail.queued);
        return stitch_call_reply(c, p);
}

struct create_params {
        const char *email, *password, *unix_name, *name;
};

int stitch_method_admin_user_create(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"email", STITCH_PARAM_STRING, offsetof(struct create_params, email), false, 254},
                {"password", STITCH_PARAM_STRING, offsetof(struct create_params, password), false, 4 * 128},
                {"unix_name", STITCH_PARAM_STRING, offsetof(struct create_params, unix_name), false, 32},
                {"name", STITCH_PARAM_STRING, offsetof(struct create_params, name), false, 256},
        };
        struct create_params p = {0};
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        struct stitch_account_result res;
        static const char *const fields[] = {
                [STITCH_ACCOUNT_FIELD_NONE] = NULL,
                [STITCH_ACCOUNT_FIELD_USER] = "user",
                [STITCH_ACCOUNT_FIELD_EMAIL] = "email",
                [STITCH_ACCOUNT_FIELD_UNIX_NAME] = "unix_name",
                [STITCH_ACCOUNT_FIELD_PASSWORD] = "password",
        };

        if (stitch_call_decode(c, table, ELEMENTSOF(table), &p) < 0)
                return 0;
        struct stitch_account_new a = {.email = p.email, .password = p.password, .unix_name = p.unix_name, .name = p.name};
        int r = stitch_account_create(c->manager->core, &a, &u, &res);
        if (res.problem != STITCH_ACCOUNT_OK)
                return stitch_call_invalid_parameter(c, fields[res.field], "%s", res.message);
        if (r < 0)
                return stitch_call_errno(c, r, res.message);
        log_info("Created user %s (%s%s%s) by uid %u.", u->id, p.email ? p.email : "", p.email && p.unix_name ? ", " : "",
                 p.unix_name ? p.unix_name : "", (unsigned) c->cred.uid);
        cJSON *reply = cJSON_CreateObject();
        cJSON_AddItemToObject(reply, "user", stitch_user_to_json(u));
        return stitch_call_reply(c, reply);
}

struct list_params {
        const char *after;
        int64_t limit;
};

int stitch_method_admin_user_list(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"after", STITCH_PARAM_STRING, offsetof(struct list_params, after), false, 64},
                {"limit", STITCH_PARAM_INT, offsetof(struct list_params, limit), false, 0},
        };
        struct stitch_manager *m = c->manager;
        struct list_params p = {.limit = 100};
        struct stitch_user **users = NULL;
        size_t n = 0;

        if (stitch_call_decode(c, table, ELEMENTSOF(table), &p) < 0)
                return 0;
        if (p.limit < 1 || p.limit > 100)
                return stitch_call_invalid_parameter(c, "limit", "limit must be between 1 and 100");
        int r = m->core->store_ops->user_list(m->core->store, p.after, (size_t) p.limit, &users, &n);
        if (r < 0)
                return stitch_call_errno(c, r, "listing users");
        cJSON *reply = cJSON_CreateObject();
        cJSON *a = cJSON_AddArrayToObject(reply, "users");
        for (size_t i = 0; i < n; i++)
                cJSON_AddItemToArray(a, stitch_user_to_json(users[i]));
        if (n == (size_t) p.limit)
                cJSON_AddStringToObject(reply, "next", users[n - 1]->id);
        stitch_user_array_free(users, n);
        return stitch_call_reply(c, reply);
}

struct user_params {
        const char *user;
};
static const struct stitch_param user_table[] = {
        {"user", STITCH_PARAM_STRING, offsetof(struct user_params, user), true, 256},
};

static int user_get(struct stitch_call *c, struct stitch_user *u, const void *params, const void *data) {
        struct stitch_manager *m = c->manager;
        struct stitch_session **sessions = NULL;
        size_t n = 0;

        int r = m->core->store_ops->session_list(m->core->store, u->id, false, stitch_now(), &sessions, &n);
        if (r < 0)
                return stitch_call_errno(c, r, "listing sessions");
        cJSON *reply = cJSON_CreateObject();
        cJSON_AddItemToObject(reply, "user", stitch_user_to_json(u));
        cJSON *a = cJSON_AddArrayToObject(reply, "sessions");
        for (size_t i = 0; i < n; i++)
                cJSON_AddItemToArray(a, stitch_session_to_json(sessions[i]));
        stitch_session_array_free(sessions, n);
        return stitch_call_reply(c, reply);
}

int stitch_method_admin_user_get(struct stitch_call *c) {
        return on_user(c, user_table, ELEMENTSOF(user_table), &(struct user_params) {}, user_get, NULL);
}

/* The changes that end sessions and answer with the ids of those that ended. */
struct revoking_change {
        int (*change)(struct stitch_core *core, const char *user_id, char ***ret_revoked);
        const char *doing;            /* for an error: "disabling the user" */
        const char *subject, *done;   /* for the log: "User " ID " disabled" */
};

static int disable_user(struct stitch_core *core, const char *user_id, char ***ret_revoked) {
        return stitch_user_set_disabled(core, user_id, true, ret_revoked);
}

static int enable_user(struct stitch_core *core, const char *user_id, char ***ret_revoked) {
        return stitch_user_set_disabled(core, user_id, false, ret_revoked);
}

static int delete_user(struct stitch_core *core, const char *user_id, char ***ret_revoked) {
        int r = stitch_user_delete(core, user_id, ret_revoked);
        if (r >= 0)
                stitch_account_unlock(core, user_id);
        return r;
}

enum { CHANGE_DISABLE, CHANGE_ENABLE, CHANGE_DELETE, CHANGE_REVOKE };
static const struct revoking_change revoking_changes[] = {
        [CHANGE_DISABLE] = {disable_user, "disabling the user", "User ", "disabled"},
        [CHANGE_ENABLE] = {enable_user, "enabling the user", "User ", "enabled"},
        [CHANGE_DELETE] = {delete_user, "deleting the user", "User ", "deleted"},
        [CHANGE_REVOKE] = {stitch_user_revoke_sessions, "revoking sessions", "All sessions of user ", "revoked"},
};

static int user_revoking_change(struct stitch_call *c, struct stitch_user *u, const void *params, const void *data) {
        const struct revoking_change *change = data;
        _cleanup_(stitch_strv_freep) char **revoked = NULL;

        int r = change->change(c->manager->core, u->id, &revoked);
        if (r < 0)
                return stitch_call_errno(c, r, change->doing);
        log_info("%s%s %s by uid %u.", change->subject, u->id, change->done, (unsigned) c->cred.uid);
        cJSON *reply = cJSON_CreateObject();
        cJSON_AddStringToObject(reply, "user_id", u->id);
        cJSON_AddItemToObject(reply, "revoked_sessions", strv_to_json(revoked));
        return stitch_call_reply(c, reply);
}

static int on_user_revoking(struct stitch_call *c, size_t change) {
        return on_user(c, user_table, ELEMENTSOF(user_table), &(struct user_params) {}, user_revoking_change,
                       &revoking_changes[change]);
}

int stitch_method_admin_user_disable(struct stitch_call *c) {
        return on_user_revoking(c, CHANGE_DISABLE);
}

int stitch_method_admin_user_enable(struct stitch_call *c) {
        return on_user_revoking(c, CHANGE_ENABLE);
}

int stitch_method_admin_user_delete(struct stitch_call *c) {
        return on_user_revoking(c, CHANGE_DELETE);
}

int stitch_method_admin_user_revoke(struct stitch_call *c) {
        return on_user_revoking(c, CHANGE_REVOKE);
}

static int reply_user_id(struct stitch_call *c, const struct stitch_user *u) {
        cJSON *reply = cJSON_CreateObject();
        cJSON_AddStringToObject(reply, "user_id", u->id);
        return stitch_call_reply(c, reply);
}

static int user_unlock(struct stitch_call *c, struct stitch_user *u, const void *params, const void *data) {
        /* Failed logins count per account (every name of it shares one budget). */
        stitch_account_unlock(c->manager->core, u->id);
        log_info("User %s unlocked by uid %u.", u->id, (unsigned) c->cred.uid);
        return reply_user_id(c, u);
}

int stitch_method_admin_user_unlock(struct stitch_call *c) {
        return on_user(c, user_table, ELEMENTSOF(user_table), &(struct user_params) {}, user_unlock, NULL);
}

struct update_params {
        const char *user, *unix_name, *name;
};

static bool param_given(const struct stitch_call *c, const char *name) {
        return cJSON_GetObjectItemCaseSensitive(c->params, name) != NULL; /* null too: it removes */
}

static int user_update(struct stitch_call *c, struct stitch_user *u, const void *params, const void *data) {
        const struct update_params *p = params;
        struct stitch_core *core = c->manager->core;
        _cleanup_(stitch_strv_freep) char **revoked = NULL;
        _cleanup_(stitch_user_freep) struct stitch_user *updated = NULL;
        _cleanup_free_ char *old_unix_name = NULL;
        const struct stitch_user_names n = {
                .set_unix_name = param_given(c, "unix_name"),
                .unix_name = p->unix_name,
                .set_name = param_given(c, "name"),
                .name = p->name,
        };

        if (!n.set_unix_name && !n.set_name)
                return stitch_call_invalid_parameter(c, NULL, "nothing to change: give unix_name or name");
        int r = stitch_user_set_names(core, u->id, &n, &old_unix_name, &revoked);
        if (r == -EINVAL)
                return stitch_call_invalid_parameter(c, "unix_name", "invalid Unix name (lowercase letters, digits, "
                                                                     "'_', '-', '.'; at most 32)");
        if (r == -EEXIST)
                return stitch_call_invalid_parameter(c, "unix_name", "a user with this unix_name already exists");
        if (r == -ENOENT) /* deleted since it was resolved */
                return stitch_call_error(c, STITCH_ERROR_NOT_FOUND, "no such user: %s", p->user);
        if (r < 0)
                return stitch_call_errno(c, r, "updating the user");
        const char *unix_name = n.set_unix_name && !isempty(p->unix_name) ? p->unix_name : NULL;
        if (n.set_unix_name && !streq_ptr(old_unix_name, unix_name))
                log_info("User %s: unix name %s -> %s by uid %u; %zu session%s revoked.", u->id,
                         old_unix_name ?: "(none)", unix_name ?: "(none)", (unsigned) c->cred.uid,
                         stitch_strv_length(revoked), stitch_strv_length(revoked) == 1 ? "" : "s");
        if (n.set_name)
                log_info("User %s: display name %s by uid %u.", u->id, isempty(p->name) ? "removed" : "set",
                         (unsigned) c->cred.uid);
        r = core->store_ops->user_find(core->store, STITCH_USER_BY_ID, u->id, &updated);
        if (r < 0)
                return stitch_call_errno(c, r, "reading the updated user");
        cJSON *reply = cJSON_CreateObject();
        cJSON_AddItemToObject(reply, "user", stitch_user_to_json(updated));
        cJSON_AddItemToObject(reply, "revoked_sessions", strv_to_json(revoked));
        return stitch_call_reply(c, reply);
}

int stitch_method_admin_user_update(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"user", STITCH_PARAM_STRING, offsetof(struct update_params, user), true, 256},
                /* Longer than any Unix name: a bad one is refused by the name rules, with their words. */
                {"unix_name", STITCH_PARAM_STRING, offsetof(struct update_params, unix_name), false, 256},
                {"name", STITCH_PARAM_STRING, offsetof(struct update_params, name), false, 256},
        };
        return on_user(c, table, ELEMENTSOF(table), &(struct update_params) {}, user_update, NULL);
}

struct setpw_params {
        const char *user, *password;
};

static int user_set_password(struct stitch_call *c, struct stitch_user *u, const void *params, const void *data) {
        const struct setpw_params *p = params;
        struct stitch_account_result res;

        int r = stitch_account_set_password(c->manager->core, u->id, p->password, &res);
        switch (res.problem) {
        case STITCH_ACCOUNT_OK:
                break;
        case STITCH_ACCOUNT_NOT_FOUND: /* deleted since it was resolved */
                return stitch_call_error(c, STITCH_ERROR_NOT_FOUND, "no such user: %s", p->user);
        case STITCH_ACCOUNT_NO_PASSWORD_IDENTITY:
                return stitch_call_invalid_parameter(c, "user", "%s", res.message);
        default:
                return stitch_call_invalid_parameter(c, "password", "%s", res.message);
        }
        if (r < 0)
                return stitch_call_errno(c, r, res.message);
        log_info("Password of user %s set by uid %u.", u->id, (unsigned) c->cred.uid);
        cJSON *reply = cJSON_CreateObject();
        cJSON_AddStringToObject(reply, "user_id", u->id);
        cJSON_AddNumberToObject(reply, "ended_sessions", (double) res.ended_sessions);
        return stitch_call_reply(c, reply);
}

int stitch_method_admin_user_set_password(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"user", STITCH_PARAM_STRING, offsetof(struct setpw_params, user), true, 256},
                {"password", STITCH_PARAM_STRING, offsetof(struct setpw_params, password), true, 4 * 128},
        };
        return on_user(c, table, ELEMENTSOF(table), &(struct setpw_params) {}, user_set_password, NULL);
}

struct apikey_create_params {
        const char *user, *name, *unix_name;
        bool server;
};

int stitch_method_admin_apikey_create(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"user", STITCH_PARAM_STRING, offsetof(struct apikey_create_params, user), false, 256},
                {"name", STITCH_PARAM_STRING, offsetof(struct apikey_create_params, name), true, 64},
                {"server", STITCH_PARAM_BOOL, offsetof(struct apikey_create_params, server), false, 0},
                {"unix_name", STITCH_PARAM_STRING, offsetof(struct apikey_create_params, unix_name), false, 32},
        };
        struct stitch_manager *m = c->manager;
        struct apikey_create_params p = {0};
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        _cleanup_erase_ char *key = NULL;
        int r;

        if (stitch_call_decode(c, table, ELEMENTSOF(table), &p) < 0)
                return 0;
        if (!stitch_apikey_name_valid(p.name))
                return stitch_call_invalid_parameter(c, "name", "key names are 1-64 letters, digits, '_' or '-'");
        if (p.server == !!p.user)
                return stitch_call_invalid_parameter(c, p.server ? "user" : "server", "give either user or server=true");
        if (p.unix_name && (!p.server || !stitch_unix_name_valid(p.unix_name)))
                return stitch_call_invalid_parameter(c, "unix_name", "unix_name is for server keys and must be a valid Unix name");

        char user_id[STITCH_ID_LEN + 1], key_id[STITCH_ID_LEN + 1];
        if (p.server) {
                /* A server key creates its own user of type "server". */
                r = stitch_account_create_server(m->core, p.name, p.unix_name, user_id);
                if (r == -EEXIST)
                        return stitch_call_invalid_parameter(c, "unix_name", "unix_name is already used by another user");
                if (r < 0)
                        return stitch_call_errno(c, r, "creating the server user");
        } else {
                if (resolve_user(c, p.user, &u) < 0)
                        return 0;
                memcpy(user_id, u->id, sizeof(user_id));
        }

        r = stitch_apikey_issue(m->core, user_id, p.name, key_id, &key);
        if (r == -EDQUOT)
                return stitch_call_error(c, STITCH_ERROR_PERMISSION_DENIED, "a user may have at most %d API keys",
                                         STITCH_MAX_USER_APIKEYS);
        if (r == -EEXIST)
                return stitch_call_invalid_parameter(c, "name", "this user already has a key named %s", p.name);
        if (r < 0)
                return stitch_call_errno(c, r, "storing the key");
        log_info("API key %s was created by uid %u.", key_id, (unsigned) c->cred.uid);

        cJSON *reply = cJSON_CreateObject();
        cJSON_AddStringToObject(reply, "_id", key_id);
        cJSON_AddStringToObject(reply, "key", key);
        cJSON_AddStringToObject(reply, "name", p.name);
        cJSON_AddStringToObject(reply, "user_id", user_id);
        cJSON_AddBoolToObject(reply, "disabled", false);
        return stitch_call_reply(c, reply);
}

struct opt_user_params {
        const char *user;
        bool include_revoked;
};

static int user_apikey_list(struct stitch_call *c, struct stitch_user *u, const void *params, const void *data) {
        struct stitch_manager *m = c->manager;
        struct stitch_apikey **keys = NULL;
        size_t n = 0;

        int r = m->core->store_ops->apikey_list(m->core->store, u ? u->id : NULL, &keys, &n);
        if (r < 0)
                return stitch_call_errno(c, r, "listing keys");
        cJSON *reply = cJSON_CreateObject();
        cJSON *a = cJSON_AddArrayToObject(reply, "api_keys");
        for (size_t i = 0; i < n; i++)
                cJSON_AddItemToArray(a, stitch_apikey_to_json(keys[i]));
        stitch_apikey_array_free(keys, n);
        return stitch_call_reply(c, reply);
}

int stitch_method_admin_apikey_list(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"user", STITCH_PARAM_STRING, offsetof(struct opt_user_params, user), false, 256},
        };
        return on_user(c, table, ELEMENTSOF(table), &(struct opt_user_params) {}, user_apikey_list, NULL);
}

struct id_params {
        const char *id;
};
static const struct stitch_param id_table[] = {
        {"id", STITCH_PARAM_STRING, offsetof(struct id_params, id), true, 64},
};

static int apikey_op(struct stitch_call *c, int op) {
        struct stitch_manager *m = c->manager;
        struct id_params p = {0};
        int r;

        if (stitch_call_decode(c, id_table, ELEMENTSOF(id_table), &p) < 0)
                return 0;
        if (!stitch_objectid_valid(p.id))
                return stitch_call_error(c, STITCH_ERROR_NOT_FOUND, "no such API key: %s", p.id);
        /* Deleting or disabling a key ends the sessions it opened. */
        _cleanup_(stitch_strv_freep) char **revoked = NULL;
        r = op == 2 ? stitch_apikey_delete(m->core, p.id, &revoked) : stitch_apikey_set_disabled(m->core, p.id, op == 1, &revoked);
        if (r == -ENOENT)
                return stitch_call_error(c, STITCH_ERROR_NOT_FOUND, "no such API key: %s", p.id);
        if (r < 0)
                return stitch_call_errno(c, r, "updating the key");
        log_info("API key %s %s by uid %u.", p.id, op == 2 ? "deleted" : op == 1 ? "disabled" : "enabled",
                 (unsigned) c->cred.uid);
        cJSON *reply = cJSON_CreateObject();
        cJSON_AddStringToObject(reply, "_id", p.id);
        cJSON_AddItemToObject(reply, "revoked_sessions", strv_to_json(revoked));
        return stitch_call_reply(c, reply);
}

int stitch_method_admin_apikey_enable(struct stitch_call *c) {
        return apikey_op(c, 0);
}
int stitch_method_admin_apikey_disable(struct stitch_call *c) {
        return apikey_op(c, 1);
}
int stitch_method_admin_apikey_delete(struct stitch_call *c) {
        return apikey_op(c, 2);
}

static int user_session_list(struct stitch_call *c, struct stitch_user *u, const void *params, const void *data) {
        const struct opt_user_params *p = params;
        struct stitch_manager *m = c->manager;
        struct stitch_session **list = NULL;
        size_t n = 0;

        int r = m->core->store_ops->session_list(m->core->store, u ? u->id : NULL, p->include_revoked, stitch_now(), &list, &n);
        if (r < 0)
                return stitch_call_errno(c, r, "listing sessions");
        cJSON *reply = cJSON_CreateObject();
        cJSON *a = cJSON_AddArrayToObject(reply, "sessions");
        for (size_t i = 0; i < n; i++)
                cJSON_AddItemToArray(a, stitch_session_to_json(list[i]));
        stitch_session_array_free(list, n);
        return stitch_call_reply(c, reply);
}

int stitch_method_admin_session_list(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"user", STITCH_PARAM_STRING, offsetof(struct opt_user_params, user), false, 256},
                {"include_revoked", STITCH_PARAM_BOOL, offsetof(struct opt_user_params, include_revoked), false, 0},
        };
        return on_user(c, table, ELEMENTSOF(table), &(struct opt_user_params) {}, user_session_list, NULL);
}

struct sid_params {
        const char *session_id;
};

int stitch_method_admin_session_revoke(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"session_id", STITCH_PARAM_STRING, offsetof(struct sid_params, session_id), true, 64},
        };
        struct stitch_manager *m = c->manager;
        struct sid_params p = {0};
        _cleanup_(stitch_session_freep) struct stitch_session *s = NULL;

        if (stitch_call_decode(c, table, ELEMENTSOF(table), &p) < 0)
                return 0;
        int r = stitch_session_id_valid(p.session_id) ? m->core->store_ops->session_get(m->core->store, p.session_id, &s) : -ENOENT;
        if (r == -ENOENT)
                return stitch_call_error(c, STITCH_ERROR_NOT_FOUND, "no such session: %s", p.session_id);
        if (r < 0)
                return stitch_call_errno(c, r, "session lookup");
        r = stitch_session_end(m->core, s, STITCH_END_REVOKE);
        if (r < 0)
                return stitch_call_errno(c, r, "revoking the session");
        cJSON *reply = cJSON_CreateObject();
        cJSON_AddStringToObject(reply, "session_id", s->id);
        return stitch_call_reply(c, reply);
}

int stitch_method_admin_key_rotate(struct stitch_call *c) {
        char kid[64];
        if (stitch_call_decode(c, NULL, 0, &(int){0}) < 0)
                return 0;
        int r = stitch_core_rotate_key(c->manager->core, kid, sizeof(kid));
        if (r < 0)
                return stitch_call_errno(c, r, "key rotation");
        log_info("Signing key rotated by uid %u: new kid %s.", (unsigned) c->cred.uid, kid);
        cJSON *reply = cJSON_CreateObject();
        cJSON_AddStringToObject(reply, "kid", kid);
        return stitch_call_reply(c, reply);
}

int stitch_method_admin_key_list(struct stitch_call *c) {
        struct stitch_manager *m = c->manager;
        struct stitch_signing_key **keys = NULL;
        size_t n = 0;
        if (stitch_call_decode(c, NULL, 0, &(int){0}) < 0)
                return 0;
        int r = m->core->store_ops->key_list(m->core->store, &keys, &n);
        if (r < 0)
                return stitch_call_errno(c, r, "listing keys");
        cJSON *reply = cJSON_CreateObject();
        cJSON *a = cJSON_AddArrayToObject(reply, "keys");
        for (size_t i = 0; i < n; i++) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "kid", keys[i]->kid);
                cJSON_AddStringToObject(o, "alg", keys[i]->alg);
                cJSON_AddNumberToObject(o, "created", (double) keys[i]->created);
                cJSON_AddNumberToObject(o, "retired", (double) keys[i]->retired);
                cJSON_AddItemToArray(a, o);
        }
        stitch_signing_key_array_free(keys, n);
        return stitch_call_reply(c, reply);
}

int stitch_method_admin_key_jwks(struct stitch_call *c) {
        return stitch_method_token_jwks(c);
}

struct link_params {
        const char *user, *provider, *email, *password, *key, *token, *id_token;
};

static int user_link(struct stitch_call *c, struct stitch_user *u, const void *params, const void *data) {
        const struct link_params *p = params;
        struct stitch_credentials creds = {0};
        struct stitch_link_result res;

        if (!stitch_provider_type_known(p->provider))
                return stitch_call_invalid_parameter(c, "provider", "unknown provider '%s'", p->provider);
        if ((p->password && stitch_credentials_put(&creds, "password", p->password) < 0) ||
            (p->key && stitch_credentials_put(&creds, "key", p->key) < 0) ||
            (p->token && stitch_credentials_put(&creds, "token", p->token) < 0) ||
            (p->id_token && stitch_credentials_put(&creds, "id_token", p->id_token) < 0))
                return stitch_call_errno(c, -E2BIG, "credentials");
        /* The credential names its account as an app login does (by email). */
        struct stitch_login_request req = {
                .provider = p->provider,
                .login = {
                        .app = true,
                        .user = p->email ? p->email : "",
                        .service = "stitchctl",
                        .rhost = "admin",
                        .cred = c->cred,
                        .credentials = &creds,
                },
        };
        int r = stitch_link_run(c->manager->core, u->id, &req, &res);
        if (r < 0) {
                stitch_link_result_done(&res);
                return stitch_call_errno(c, r, "linking");
        }
        switch (res.outcome) {
        case STITCH_LINK_LINKED:
        case STITCH_LINK_ALREADY: {
                log_info("Identity (%s) linked onto user %s by uid %u%s.", p->provider, u->id, (unsigned) c->cred.uid,
                         res.outcome == STITCH_LINK_ALREADY ? " (it was already)" : "");
                cJSON *reply = cJSON_CreateObject();
                cJSON_AddStringToObject(reply, "user_id", u->id);
                cJSON_AddBoolToObject(reply, "linked", res.outcome == STITCH_LINK_LINKED);
                cJSON_AddItemToObject(reply, "user", stitch_user_to_json(res.user));
                stitch_call_reply(c, reply);
                break;
        }
        case STITCH_LINK_IN_USE:
                stitch_call_error(c, STITCH_ERROR_IDENTITY_IN_USE, "the identity belongs to another user");
                break;
        case STITCH_LINK_NOT_LINKABLE:
                stitch_call_invalid_parameter(c, "provider", "%s", res.message);
                break;
        case STITCH_LINK_KEY_NAME_TAKEN:
        case STITCH_LINK_TOO_MANY_KEYS:
                stitch_call_error(c, STITCH_ERROR_PERMISSION_DENIED, "%s", res.message);
                break;
        case STITCH_LINK_NO_USER:
                stitch_call_error(c, STITCH_ERROR_USER_DISABLED, "user %s is disabled", u->id);
                break;
        case STITCH_LINK_LOGIN_FAILED:
                switch (res.login.failure) {
                case STITCH_LOGIN_TOO_MANY_ATTEMPTS:
                        stitch_call_too_many_attempts(c, res.login.retry_after_usec);
                        break;
                case STITCH_LOGIN_INVALID_PARAMETER:
                        stitch_call_invalid_parameter(c, res.login.parameter[0] ? res.login.parameter : NULL, "%s",
                                                      res.login.message);
                        break;
                case STITCH_LOGIN_INTERNAL:
                        stitch_call_errno(c, res.login.error ? res.login.error : -EIO, "linking");
                        break;
                default:
                        stitch_call_error(c, STITCH_ERROR_INVALID_CREDENTIALS, "invalid credentials");
                }
                break;
        }
        stitch_link_result_done(&res);
        return 0;
}

/* Linking runs the provider's first round: one that reaches the network
 * runs on the network pool, as its logins do. */
bool stitch_method_admin_user_link_on_network(const struct stitch_call *c) {
        const cJSON *name = cJSON_IsObject(c->params) ? cJSON_GetObjectItemCaseSensitive(c->params, "provider") : NULL;
        const struct stitch_provider *p = cJSON_IsString(name) ? stitch_provider_find(name->valuestring) : NULL;
        return p && p->network;
}

int stitch_method_admin_user_link(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"user", STITCH_PARAM_STRING, offsetof(struct link_params, user), true, 256},
                {"provider", STITCH_PARAM_STRING, offsetof(struct link_params, provider), true, 64},
                {"email", STITCH_PARAM_STRING, offsetof(struct link_params, email), false, 254},
                {"password", STITCH_PARAM_STRING, offsetof(struct link_params, password), false, 4 * 128},
                {"key", STITCH_PARAM_STRING, offsetof(struct link_params, key), false, 256},
                /* custom-token's JWT (core/jwt-verifier.h STITCH_JWT_VERIFIER_MAX_TOKEN) */
                {"token", STITCH_PARAM_STRING, offsetof(struct link_params, token), false, 16384},
                /* oauth2-google's ID token */
                {"id_token", STITCH_PARAM_STRING, offsetof(struct link_params, id_token), false, 16384},
        };
        return on_user(c, table, ELEMENTSOF(table), &(struct link_params) {}, user_link, NULL);
}

struct unlink_params {
        const char *user, *identity_id;
};

static int user_unlink(struct stitch_call *c, struct stitch_user *u, const void *params, const void *data) {
        const struct unlink_params *p = params;

        int r = stitch_identity_unlink(c->manager->core, u->id, p->identity_id);
        if (r == -ENOENT)
                return stitch_call_error(c, STITCH_ERROR_NOT_FOUND, "user %s has no identity %s", u->id, p->identity_id);
        if (r == -EPERM)
                return stitch_call_invalid_parameter(c, "identity_id", "the last identity of a user cannot be removed");
        if (r < 0)
                return stitch_call_errno(c, r, "unlinking");
        log_info("Identity %s unlinked from user %s by uid %u.", p->identity_id, u->id, (unsigned) c->cred.uid);
        return reply_user_id(c, u);
}

int stitch_method_admin_user_unlink(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"user", STITCH_PARAM_STRING, offsetof(struct unlink_params, user), true, 256},
                {"identity_id", STITCH_PARAM_STRING, offsetof(struct unlink_params, identity_id), true, 64},
        };
        return on_user(c, table, ELEMENTSOF(table), &(struct unlink_params) {}, user_unlink, NULL);
}

/* ---- the email/password lifecycle (core/userpass-flows.h) ---------------------------- */

/* What a lifecycle call mails, if anything. */
enum mail_kind { MAIL_NONE, MAIL_CONFIRMATION, MAIL_RESET };

/* Why a link could not be mailed, and what to set: no mailer first (a link
 * without one is of no use), then no base for the link; else the queue. */
static const char *mail_problem(const struct stitch_core *core, enum mail_kind kind) {
        _cleanup_free_ char *public_url = NULL;

        if (!core->config.smtp_url)
                return "no mailer: set [Smtp] URL=";
        const char *base = kind == MAIL_RESET ? stitch_userpass_reset_url(&core->config)
                                              : stitch_userpass_confirmation_url(&core->config);
        if (!base && stitch_public_url(&core->config, &public_url) == -ENOENT)
                return kind == MAIL_RESET ? "no link for the mail: set [Provider.local-userpass] ResetPasswordURL= "
                                            "or [Http] PublicURL="
                                          : "no link for the mail: set [Provider.local-userpass] "
                                            "EmailConfirmationURL= or [Http] PublicURL=";
        return "the mail queue is full: try again later";
}

/* Answers a lifecycle call the core refused (problem set) or that failed
 * (problem OK: doing names the step). Returns 0. */
static int reply_userpass_refused(struct stitch_call *c, int r, const struct stitch_userpass_result *res,
                                  const char *reference, const char *doing, enum mail_kind mail) {
        /* The core tells "no link base" only by its -ENOENT (and its log). */
        if (mail != MAIL_NONE && res->problem == STITCH_USERPASS_OK && r == -ENOENT)
                return stitch_call_error(c, STITCH_ERROR_BUSY, "%s", mail_problem(c->manager->core, mail));
        switch (res->problem) {
        case STITCH_USERPASS_USER_NOT_FOUND:
                return stitch_call_error(c, STITCH_ERROR_NOT_FOUND, "%s", res->message);
        case STITCH_USERPASS_ALREADY_CONFIRMED:
                return stitch_call_invalid_parameter(c, "user", "user %s has already confirmed their email address",
                                                     reference);
        case STITCH_USERPASS_INVALID_EMAIL:
                return stitch_call_invalid_parameter(c, "email", "%s", res->message);
        case STITCH_USERPASS_NAME_IN_USE:
                return stitch_call_invalid_parameter(c, "email", "name already in use: another user has email %s",
                                                     reference);
        case STITCH_USERPASS_PASSWORD_POLICY:
                return stitch_call_invalid_parameter(c, "password", "%s", res->message);
        case STITCH_USERPASS_FUNCTION_FAILED:
                return stitch_call_invalid_parameter(c, "email",
                                                     "%s: ConfirmationCommand= said fail (or could not run); "
                                                     "the user was deleted again",
                                                     res->message);
        case STITCH_USERPASS_MAILER_UNAVAILABLE:
                /* Busy rather than Internal: nothing of ours broke, and a full queue drains. */
                return stitch_call_error(c, STITCH_ERROR_BUSY, "%s", mail_problem(c->manager->core, mail));
        case STITCH_USERPASS_REGISTRATION_DISABLED: /* by_admin: only when the provider is off */
                return stitch_call_error(c, STITCH_ERROR_PERMISSION_DENIED,
                                         "the local-userpass provider is disabled ([Provider.local-userpass])");
        default:
                return stitch_call_errno(c, r < 0 ? r : -EIO, res->message[0] ? res->message : doing);
        }
}

struct register_params {
        const char *email, *password, *locale, *unix_name;
};

int stitch_method_admin_user_register(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"email", STITCH_PARAM_STRING, offsetof(struct register_params, email), true, 254},
                {"password", STITCH_PARAM_STRING, offsetof(struct register_params, password), true, 4 * 128},
                {"locale", STITCH_PARAM_STRING, offsetof(struct register_params, locale), false, 16},
                {"unix_name", STITCH_PARAM_STRING, offsetof(struct register_params, unix_name), false, 32},
        };
        struct stitch_core *core = c->manager->core;
        struct register_params p = {0};
        struct stitch_userpass_result res;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;

        if (stitch_call_decode(c, table, ELEMENTSOF(table), &p) < 0)
                return 0;
        if (p.unix_name && !stitch_unix_name_valid(p.unix_name))
                return stitch_call_invalid_parameter(c, "unix_name", "invalid unix_name");
        int r = stitch_userpass_register(core,
                                         &(struct stitch_userpass_registration) {
                                                 .email = p.email,
                                                 .password = p.password,
                                                 .locale = p.locale,
                                                 .by_admin = true,
                                                 .unix_name = p.unix_name,
                                         },
                                         &res);
        /* Registered, but the link could not be queued: the user exists
         * (pending), so say so and what went wrong, rather than an error
         * that invites a retry which would answer "name already in use". */
        bool unmailed = res.problem == STITCH_USERPASS_MAILER_UNAVAILABLE && res.user_id[0];
        if (r < 0 && res.problem == STITCH_USERPASS_NAME_IN_USE && p.unix_name)
                return stitch_call_invalid_parameter(c, NULL, "name already in use: another user has email %s or "
                                                     "unix_name %s", p.email, p.unix_name);
        if (r < 0 && !unmailed)
                return reply_userpass_refused(c, r, &res, p.email, "registering", MAIL_CONFIRMATION);
        r = core->store_ops->user_find(core->store, STITCH_USER_BY_ID, res.user_id, &u);
        if (r < 0)
                return stitch_call_errno(c, r, "reading the registered user");
        log_info("User %s registered by uid %u%s.", u->id, (unsigned) c->cred.uid,
                 u->pending ? " (pending confirmation)" : "");
        cJSON *reply = cJSON_CreateObject();
        cJSON_AddItemToObject(reply, "user", stitch_user_to_json(u));
        if (unmailed) {
                char warning[160];
                (void) snprintf(warning, sizeof(warning), "the confirmation mail could not be queued (%s)",
                                mail_problem(core, MAIL_CONFIRMATION));
                cJSON_AddStringToObject(reply, "warning", warning);
        }
        return stitch_call_reply(c, reply);
}

static int user_confirm(struct stitch_call *c, struct stitch_user *u, const void *params, const void *data) {
        const struct user_params *p = params;
        struct stitch_userpass_result res;

        int r = stitch_userpass_admin_confirm(c->manager->core, u->id, &res);
        if (r < 0)
                return reply_userpass_refused(c, r, &res, p->user, "confirming the user", MAIL_NONE);
        log_info("User %s confirmed by uid %u.", u->id, (unsigned) c->cred.uid);
        return reply_user_id(c, u);
}

int stitch_method_admin_user_confirm(struct stitch_call *c) {
        return on_user(c, user_table, ELEMENTSOF(user_table), &(struct user_params) {}, user_confirm, NULL);
}

struct send_params {
        const char *user, *locale;
};

static int user_send(struct stitch_call *c, struct stitch_user *u, const void *params, const void *data) {
        const struct send_params *p = params;
        const bool reset = data != NULL;
        struct stitch_userpass_result res;

        int r = reset ? stitch_userpass_admin_send_reset(c->manager->core, u->id, p->locale, &res)
                      : stitch_userpass_admin_send_confirmation(c->manager->core, u->id, p->locale, &res);
        if (r < 0)
                return reply_userpass_refused(c, r, &res, p->user,
                                              reset ? "sending the reset link" : "sending the confirmation link",
                                              reset ? MAIL_RESET : MAIL_CONFIRMATION);
        log_info("%s link for user %s queued by uid %u.", reset ? "Password reset" : "Confirmation", u->id,
                 (unsigned) c->cred.uid);
        return reply_user_id(c, u);
}

static const struct stitch_param send_table[] = {
        {"user", STITCH_PARAM_STRING, offsetof(struct send_params, user), true, 256},
        {"locale", STITCH_PARAM_STRING, offsetof(struct send_params, locale), false, 16},
};

int stitch_method_admin_user_send_confirmation(struct stitch_call *c) {
        return on_user(c, send_table, ELEMENTSOF(send_table), &(struct send_params) {}, user_send, NULL);
}

int stitch_method_admin_user_send_reset(struct stitch_call *c) {
        static const bool reset = true;
        return on_user(c, send_table, ELEMENTSOF(send_table), &(struct send_params) {}, user_send, &reset);
}
