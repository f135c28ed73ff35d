/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* io.stitch.Admin: users, API keys, sessions, signing keys, status. Admin socket only. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/revocations.h"
#include "core/tokens.h"
#include "core/keys.h"
#include "core/ratelimit.h"
#include "core/apikeys.h"
#include "core/link.h"
#include "core/conversations.h"
#include "frontends/varlink/call.h"
#include "log.h"
#include "frontends/varlink/objects-json.h"
#include "core/password.h"
#include "providers/provider.h"
#include "redact.h"
#include "daemon/refresher.h"
#include "frontends/varlink/server.h"
#include "core/sessions.h"
#include "core/users.h"
#include "clock.h"
#include "core/ids.h"
#include "validate.h"
#include "wire.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

/* A user named by id, email or Unix name; answers NotFound itself. */
static int resolve_user(struct stitch_call *c, const char *spec, struct stitch_user **ret) {
        struct stitch_manager *m = c->manager;
        enum stitch_user_key by = stitch_objectid_valid(spec) ? STITCH_USER_BY_ID
                                  : strchr(spec, '@')          ? STITCH_USER_BY_EMAIL
                                                               : STITCH_USER_BY_UNIX_NAME;
        int r = m->core->store_ops->user_find(m->core->store, by, spec, ret);
        if (r == -ENOENT) {
                stitch_call_error(c, STITCH_ERROR_NOT_FOUND, "no such user: %s", spec);
                return r;
        }
        if (r < 0) {
                stitch_call_errno(c, r, "user lookup");
                return r;
        }
        return 0;
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
        _cleanup_free_ char *store = stitch_redact_url(m->core->config.store);
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
        struct stitch_manager *m = c->manager;
        struct create_params p = {0};
        _cleanup_free_ char *hash = NULL;
        int r;

        if (stitch_call_decode(c, table, ELEMENTSOF(table), &p) < 0)
                return 0;
        if (!p.email && !p.unix_name)
                return stitch_call_invalid_parameter(c, "email", "a user needs an email or a unix_name");
        if (p.email && !stitch_email_valid(p.email))
                return stitch_call_invalid_parameter(c, "email", "invalid email address");
        if (p.unix_name && !stitch_unix_name_valid(p.unix_name))
                return stitch_call_invalid_parameter(c, "unix_name", "invalid Unix name (lowercase letters, digits, '_', '-', '.'; at most 32)");
        if (p.email && !p.password)
                return stitch_call_invalid_parameter(c, "password", "an email user needs a password");
        if (p.password && !p.email)
                return stitch_call_invalid_parameter(c, "password", "a password needs an email (local-userpass identity)");
        if (p.password) {
                const char *reason;
                if (stitch_password_check_policy(p.password, m->core->config.min_password_length, &reason) < 0)
                        return stitch_call_invalid_parameter(c, "password",
                                                             "password must be between %u and 128 characters long",
                                                             m->core->config.min_password_length);
                struct stitch_argon2_params a = {m->core->config.argon2_m_kib, m->core->config.argon2_t, m->core->config.argon2_p};
                r = stitch_password_hash(p.password, &a, &hash);
                if (r < 0)
                        return stitch_call_errno(c, r, "hashing the password");
        }

        struct stitch_user u = {0};
        struct stitch_identity ident = {0};
        r = stitch_objectid_new(u.id);
        if (r < 0)
                return stitch_call_errno(c, r, "id");
        u.type = (char *) "normal";
        u.email = (char *) p.email;
        u.name = (char *) p.name;
        u.unix_name = (char *) p.unix_name;
        u.creation_date = stitch_now();
        cJSON *data = cJSON_CreateObject();
        if (p.email)
                cJSON_AddStringToObject(data, "email", p.email);
        if (p.name)
                cJSON_AddStringToObject(data, "name", p.name);
        _cleanup_free_ char *data_json = cJSON_PrintUnformatted(data);
        cJSON_Delete(data);
        if (!data_json)
                return stitch_call_errno(c, -ENOMEM, "user");
        u.data_json = data_json;
        _cleanup_free_ char *ident_json = NULL;
        if (p.email) {
                cJSON *idd = cJSON_CreateObject();
                cJSON_AddStringToObject(idd, "email", p.email);
                ident_json = cJSON_PrintUnformatted(idd);
                cJSON_Delete(idd);
                r = stitch_objectid_new(ident.id);
                if (r < 0)
                        return stitch_call_errno(c, r, "id");
                ident.provider_type = ident.provider_id = (char *) "local-userpass";
                ident.data_json = ident_json;
                u.identities = &ident;
                u.n_identities = 1;
        }
        r = m->core->store_ops->user_create(m->core->store, &u, hash);
        if (r == -EEXIST)
                return stitch_call_invalid_parameter(c, p.email ? "email" : "unix_name",
                                                     "a user with this email or unix_name already exists");
        if (r < 0)
                return stitch_call_errno(c, r, "creating the user");
        log_info("Created user %s (%s%s%s) by uid %u.", u.id, p.email ? p.email : "", p.email && p.unix_name ? ", " : "",
                 p.unix_name ? p.unix_name : "", (unsigned) c->cred.uid);

        _cleanup_(stitch_user_freep) struct stitch_user *stored = NULL;
        r = m->core->store_ops->user_find(m->core->store, STITCH_USER_BY_ID, u.id, &stored);
        if (r < 0)
                return stitch_call_errno(c, r, "reading the new user");
        cJSON *reply = cJSON_CreateObject();
        cJSON_AddItemToObject(reply, "user", stitch_user_to_json(stored));
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

int stitch_method_admin_user_get(struct stitch_call *c) {
        struct stitch_manager *m = c->manager;
        struct user_params p = {0};
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        struct stitch_session **sessions = NULL;
        size_t n = 0;

        if (stitch_call_decode(c, user_table, ELEMENTSOF(user_table), &p) < 0)
                return 0;
        if (resolve_user(c, p.user, &u) < 0)
                return 0;
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

static int reply_revoked(struct stitch_call *c, const char *user_id, char **revoked) {
        cJSON *reply = cJSON_CreateObject();
        cJSON_AddStringToObject(reply, "user_id", user_id);
        cJSON_AddItemToObject(reply, "revoked_sessions", strv_to_json(revoked));
        stitch_strv_free(revoked);
        return stitch_call_reply(c, reply);
}

static int set_disabled(struct stitch_call *c, bool disabled) {
        struct stitch_manager *m = c->manager;
        struct user_params p = {0};
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        char **revoked = NULL;

        if (stitch_call_decode(c, user_table, ELEMENTSOF(user_table), &p) < 0)
                return 0;
        if (resolve_user(c, p.user, &u) < 0)
                return 0;
        int r = stitch_user_set_disabled(m->core, u->id, disabled, &revoked);
        if (r < 0)
                return stitch_call_errno(c, r, disabled ? "disabling the user" : "enabling the user");
        log_info("User %s %s by uid %u.", u->id, disabled ? "disabled" : "enabled", (unsigned) c->cred.uid);
        return reply_revoked(c, u->id, revoked);
}

int stitch_method_admin_user_disable(struct stitch_call *c) {
        return set_disabled(c, true);
}

int stitch_method_admin_user_enable(struct stitch_call *c) {
        return set_disabled(c, false);
}

int stitch_method_admin_user_delete(struct stitch_call *c) {
        struct stitch_manager *m = c->manager;
        struct user_params p = {0};
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        char **revoked = NULL;

        if (stitch_call_decode(c, user_table, ELEMENTSOF(user_table), &p) < 0)
                return 0;
        if (resolve_user(c, p.user, &u) < 0)
                return 0;
        int r = stitch_user_delete(m->core, u->id, &revoked);
        if (r < 0)
                return stitch_call_errno(c, r, "deleting the user");
        char limit_key[STITCH_LIMIT_KEY_MAX];
        stitch_limit_key_for_user(u->id, limit_key);
        (void) stitch_ratelimit_unlock(m->core->ratelimit, limit_key);
        log_info("User %s deleted by uid %u.", u->id, (unsigned) c->cred.uid);
        return reply_revoked(c, u->id, revoked);
}

int stitch_method_admin_user_revoke(struct stitch_call *c) {
        struct stitch_manager *m = c->manager;
        struct user_params p = {0};
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        char **revoked = NULL;

        if (stitch_call_decode(c, user_table, ELEMENTSOF(user_table), &p) < 0)
                return 0;
        if (resolve_user(c, p.user, &u) < 0)
                return 0;
        int r = stitch_user_revoke_sessions(m->core, u->id, &revoked);
        if (r < 0)
                return stitch_call_errno(c, r, "revoking sessions");
        log_info("All sessions of user %s revoked by uid %u.", u->id, (unsigned) c->cred.uid);
        return reply_revoked(c, u->id, revoked);
}

int stitch_method_admin_user_unlock(struct stitch_call *c) {
        struct stitch_manager *m = c->manager;
        struct user_params p = {0};
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;

        if (stitch_call_decode(c, user_table, ELEMENTSOF(user_table), &p) < 0)
                return 0;
        if (resolve_user(c, p.user, &u) < 0)
                return 0;
        /* Failed logins count per account (every name of it shares one budget). */
        char limit_key[STITCH_LIMIT_KEY_MAX];
        stitch_limit_key_for_user(u->id, limit_key);
        (void) stitch_ratelimit_unlock(m->core->ratelimit, limit_key);
        log_info("User %s unlocked by uid %u.", u->id, (unsigned) c->cred.uid);
        cJSON *reply = cJSON_CreateObject();
        cJSON_AddStringToObject(reply, "user_id", u->id);
        return stitch_call_reply(c, reply);
}

struct setpw_params {
        const char *user, *password;
};

int stitch_method_admin_user_set_password(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"user", STITCH_PARAM_STRING, offsetof(struct setpw_params, user), true, 256},
                {"password", STITCH_PARAM_STRING, offsetof(struct setpw_params, password), true, 4 * 128},
        };
        struct stitch_manager *m = c->manager;
        struct setpw_params p = {0};
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        _cleanup_free_ char *hash = NULL;
        const char *reason;

        if (stitch_call_decode(c, table, ELEMENTSOF(table), &p) < 0)
                return 0;
        if (resolve_user(c, p.user, &u) < 0)
                return 0;
        if (!u->email)
                return stitch_call_invalid_parameter(c, "user", "user has no local-userpass identity (no email)");
        if (stitch_password_check_policy(p.password, m->core->config.min_password_length, &reason) < 0)
                return stitch_call_invalid_parameter(c, "password", "password must be between %u and 128 characters long",
                                                     m->core->config.min_password_length);
        struct stitch_argon2_params a = {m->core->config.argon2_m_kib, m->core->config.argon2_t, m->core->config.argon2_p};
        int r = stitch_password_hash(p.password, &a, &hash);
        if (r < 0)
                return stitch_call_errno(c, r, "hashing the password");
        r = m->core->store_ops->password_set(m->core->store, u->id, hash);
        if (r < 0)
                return stitch_call_errno(c, r, "storing the password");
        log_info("Password of user %s set by uid %u.", u->id, (unsigned) c->cred.uid);
        /* A reset must lock out whoever holds a stolen refresh token. */
        size_t ended = 0;
        if (m->core->config.end_on_password_change) {
                r = stitch_sessions_end_user(m->core, u->id, NULL, STITCH_END_PASSWORD, &ended);
                if (r < 0)
                        return stitch_call_errno(c, r, "ending the user's sessions");
        }
        cJSON *reply = cJSON_CreateObject();
        cJSON_AddStringToObject(reply, "user_id", u->id);
        cJSON_AddNumberToObject(reply, "ended_sessions", (double) ended);
        return stitch_call_reply(c, reply);
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
                struct stitch_user su = {0};
                struct stitch_identity ident = {0};
                r = stitch_objectid_new(su.id);
                if (r >= 0)
                        r = stitch_objectid_new(ident.id);
                if (r < 0)
                        return stitch_call_errno(c, r, "id");
                cJSON *d = cJSON_CreateObject();
                cJSON_AddStringToObject(d, "name", p.name);
                _cleanup_free_ char *dj = cJSON_PrintUnformatted(d);
                cJSON_Delete(d);
                if (!dj)
                        return stitch_call_errno(c, -ENOMEM, "user");
                su.type = (char *) STITCH_USER_TYPE_SERVER;
                su.name = (char *) p.name;
                su.unix_name = (char *) p.unix_name;
                su.data_json = dj;
                su.creation_date = stitch_now();
                ident.provider_type = ident.provider_id = (char *) "api-key";
                ident.data_json = dj;
                su.identities = &ident;
                su.n_identities = 1;
                r = m->core->store_ops->user_create(m->core->store, &su, NULL);
                if (r == -EEXIST)
                        return stitch_call_invalid_parameter(c, "unix_name", "unix_name is already used by another user");
                if (r < 0)
                        return stitch_call_errno(c, r, "creating the server user");
                memcpy(user_id, su.id, sizeof(user_id));
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

int stitch_method_admin_apikey_list(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"user", STITCH_PARAM_STRING, offsetof(struct opt_user_params, user), false, 256},
        };
        struct stitch_manager *m = c->manager;
        struct opt_user_params p = {0};
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        struct stitch_apikey **keys = NULL;
        size_t n = 0;

        if (stitch_call_decode(c, table, ELEMENTSOF(table), &p) < 0)
                return 0;
        if (p.user && resolve_user(c, p.user, &u) < 0)
                return 0;
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

int stitch_method_admin_session_list(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"user", STITCH_PARAM_STRING, offsetof(struct opt_user_params, user), false, 256},
                {"include_revoked", STITCH_PARAM_BOOL, offsetof(struct opt_user_params, include_revoked), false, 0},
        };
        struct stitch_manager *m = c->manager;
        struct opt_user_params p = {0};
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        struct stitch_session **list = NULL;
        size_t n = 0;

        if (stitch_call_decode(c, table, ELEMENTSOF(table), &p) < 0)
                return 0;
        if (p.user && resolve_user(c, p.user, &u) < 0)
                return 0;
        int r = m->core->store_ops->session_list(m->core->store, u ? u->id : NULL, p.include_revoked, stitch_now(), &list, &n);
        if (r < 0)
                return stitch_call_errno(c, r, "listing sessions");
        cJSON *reply = cJSON_CreateObject();
        cJSON *a = cJSON_AddArrayToObject(reply, "sessions");
        for (size_t i = 0; i < n; i++)
                cJSON_AddItemToArray(a, stitch_session_to_json(list[i]));
        stitch_session_array_free(list, n);
        return stitch_call_reply(c, reply);
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
        const char *user, *provider, *email, *password, *key;
};

int stitch_method_admin_user_link(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"user", STITCH_PARAM_STRING, offsetof(struct link_params, user), true, 256},
                {"provider", STITCH_PARAM_STRING, offsetof(struct link_params, provider), true, 64},
                {"email", STITCH_PARAM_STRING, offsetof(struct link_params, email), false, 254},
                {"password", STITCH_PARAM_STRING, offsetof(struct link_params, password), false, 4 * 128},
                {"key", STITCH_PARAM_STRING, offsetof(struct link_params, key), false, 256},
        };
        struct stitch_manager *m = c->manager;
        struct link_params p = {0};
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        struct stitch_credentials creds = {0};
        struct stitch_link_result res;

        if (stitch_call_decode(c, table, ELEMENTSOF(table), &p) < 0)
                return 0;
        if (resolve_user(c, p.user, &u) < 0)
                return 0;
        if (!stitch_provider_type_known(p.provider))
                return stitch_call_invalid_parameter(c, "provider", "unknown provider '%s'", p.provider);
        if ((p.password && stitch_credentials_put(&creds, "password", p.password) < 0) ||
            (p.key && stitch_credentials_put(&creds, "key", p.key) < 0))
                return stitch_call_errno(c, -E2BIG, "credentials");
        /* The credential names its account as an app login does (by email). */
        struct stitch_login_request req = {
                .provider = p.provider,
                .login = {
                        .app = true,
                        .user = p.email ? p.email : "",
                        .service = "stitchctl",
                        .rhost = "admin",
                        .cred = c->cred,
                        .credentials = &creds,
                },
        };
        int r = stitch_link_run(m->core, u->id, &req, &res);
        if (r < 0) {
                stitch_link_result_done(&res);
                return stitch_call_errno(c, r, "linking");
        }
        switch (res.outcome) {
        case STITCH_LINK_LINKED:
        case STITCH_LINK_ALREADY: {
                log_info("Identity (%s) linked onto user %s by uid %u%s.", p.provider, u->id, (unsigned) c->cred.uid,
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

struct unlink_params {
        const char *user, *identity_id;
};

int stitch_method_admin_user_unlink(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"user", STITCH_PARAM_STRING, offsetof(struct unlink_params, user), true, 256},
                {"identity_id", STITCH_PARAM_STRING, offsetof(struct unlink_params, identity_id), true, 64},
        };
        struct stitch_manager *m = c->manager;
        struct unlink_params p = {0};
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;

        if (stitch_call_decode(c, table, ELEMENTSOF(table), &p) < 0)
                return 0;
        if (resolve_user(c, p.user, &u) < 0)
                return 0;
        int r = stitch_identity_unlink(m->core, u->id, p.identity_id);
        if (r == -ENOENT)
                return stitch_call_error(c, STITCH_ERROR_NOT_FOUND, "user %s has no identity %s", u->id, p.identity_id);
        if (r == -EPERM)
                return stitch_call_invalid_parameter(c, "identity_id", "the last identity of a user cannot be removed");
        if (r < 0)
                return stitch_call_errno(c, r, "unlinking");
        log_info("Identity %s unlinked from user %s by uid %u.", p.identity_id, u->id, (unsigned) c->cred.uid);
        cJSON *reply = cJSON_CreateObject();
        cJSON_AddStringToObject(reply, "user_id", u->id);
        return stitch_call_reply(c, reply);
}
