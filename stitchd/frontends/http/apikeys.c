/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* User API keys over HTTP: BASE/auth/api_keys, with the refresh token. */
#include <string.h>

#include "core/access.h"
#include "core/apikeys.h"
#include "validate.h"
#include "frontends/http/request.h"
#include "wire.h"

/* The refresh token's session and user, or an answer. */
static int refresh_session(struct http_request *r, struct stitch_session **ret_session, struct stitch_user **ret_user) {
        struct stitch_manager *m = r->manager;
        _cleanup_(stitch_session_freep) struct stitch_session *s = NULL;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        const char *why = "no refresh token";
        int rc = r->bearer ? stitch_session_by_refresh(m->core, r->bearer, &s, &why) : -EACCES;
        if (rc >= 0)
                rc = stitch_session_user(m->core, s, &u, &why);
        if (rc < 0) {
                rc == -EACCES ? http_reply_invalid_session(r, why) : http_reply_errno(r, rc, "session lookup");
                return rc;
        }
        *ret_session = TAKE_PTR(s);
        *ret_user = TAKE_PTR(u);
        return 0;
}

/* The refresh token's user id, or an answer. */
static int refresh_user(struct http_request *r, char ret[STITCH_ID_LEN + 1]) {
        _cleanup_(stitch_session_freep) struct stitch_session *s = NULL;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        int rc = refresh_session(r, &s, &u);
        if (rc < 0)
                return rc;
        memcpy(ret, u->id, STITCH_ID_LEN + 1);
        return 0;
}

static cJSON *key_json(const struct stitch_apikey *k) {
        cJSON *j = cJSON_CreateObject();
        if (j && (!cJSON_AddStringToObject(j, "_id", k->id) || !cJSON_AddStringToObject(j, "name", k->name) ||
                  !cJSON_AddBoolToObject(j, "disabled", k->disabled))) {
                cJSON_Delete(j);
                return NULL;
        }
        return j;
}

/* The user's key named by the route, or an answer (another user's key is not found either). */
static int user_key(struct http_request *r, struct stitch_apikey **ret) {
        struct stitch_manager *m = r->manager;
        char user_id[STITCH_ID_LEN + 1];
        struct stitch_apikey *k = NULL;
        if (refresh_user(r, user_id) < 0)
                return -EACCES;
        int rc = stitch_objectid_valid(r->params[0]) ? m->core->store_ops->apikey_get(m->core->store, r->params[0], &k) : -ENOENT;
        if (rc >= 0 && !streq(k->user_id, user_id)) {
                k = stitch_apikey_free(k);
                rc = -ENOENT;
        }
        if (rc == -ENOENT) {
                http_reply_error(r, 404, "APIKeyNotFound", "API key not found");
                return rc;
        }
        if (rc < 0) {
                http_reply_errno(r, rc, "API key lookup");
                return rc;
        }
        *ret = k;
        return 0;
}

void http_apikey_create(struct http_request *r) {
        _cleanup_(stitch_session_freep) struct stitch_session *s = NULL;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        char key_id[STITCH_ID_LEN + 1];
        _cleanup_erase_ char *key = NULL;
        const char *name, *why = NULL;

        if (refresh_session(r, &s, &u) < 0)
                return;
        if (stitch_apikey_create_allowed(u, s, &why) < 0) {
                /* Not 401 InvalidSession: the token is fine (and realm-web would retry). */
                http_reply_error(r, 403, "AuthError", "%s", why);
                return;
        }
        if (http_body_string(r, "name", 64, true, &name) < 0 || !stitch_apikey_name_valid(name)) {
                http_reply_error(r, 400, "BadRequest", "API key names are 1-64 letters, digits, '_' or '-'");
                return;
        }
        int rc = stitch_apikey_issue(r->manager->core, u->id, name, key_id, &key);
        if (rc == -EDQUOT) {
                http_reply_error(r, 400, "MaxAPIKeysReached", "a user may have at most %d API keys",
                                 STITCH_MAX_USER_APIKEYS);
                return;
        }
        if (rc == -EEXIST) {
                http_reply_error(r, 409, "APIKeyAlreadyExists", "an API key named '%s' already exists", name);
                return;
        }
        if (rc < 0) {
                http_reply_errno(r, rc, "creating the API key");
                return;
        }
        cJSON *j = cJSON_CreateObject();
        if (j && (!cJSON_AddStringToObject(j, "_id", key_id) || !cJSON_AddStringToObject(j, "key", key) ||
                  !cJSON_AddStringToObject(j, "name", name) || !cJSON_AddBoolToObject(j, "disabled", false))) {
                stitch_json_wipe_and_delete(j);
                j = NULL;
        }
        http_reply_secret_json(r, 201, j);
}

void http_apikey_list(struct http_request *r) {
        struct stitch_manager *m = r->manager;
        char user_id[STITCH_ID_LEN + 1];
        struct stitch_apikey **keys = NULL;
        size_t n = 0;

        if (refresh_user(r, user_id) < 0)
                return;
        int rc = m->core->store_ops->apikey_list(m->core->store, user_id, &keys, &n);
        if (rc < 0) {
                http_reply_errno(r, rc, "listing API keys");
                return;
        }
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; a && i < n; i++) {
                cJSON *k = key_json(keys[i]);
                if (!k) {
                        cJSON_Delete(a);
                        a = NULL;
                        break;
                }
                cJSON_AddItemToArray(a, k);
        }
        stitch_apikey_array_free(keys, n);
        http_reply_json(r, 200, a);
}

void http_apikey_get(struct http_request *r) {
        _cleanup_(stitch_apikey_freep) struct stitch_apikey *k = NULL;
        if (user_key(r, &k) < 0)
                return;
        http_reply_json(r, 200, key_json(k));
}

/* Deleting or disabling a key ends the sessions it opened (core/apikeys.c). */
static void key_change(struct http_request *r, int op) {
        struct stitch_manager *m = r->manager;
        _cleanup_(stitch_apikey_freep) struct stitch_apikey *k = NULL;
        if (user_key(r, &k) < 0)
                return;
        int rc = op == 2 ? stitch_apikey_delete(m->core, k->id, NULL) : stitch_apikey_set_disabled(m->core, k->id, op == 1, NULL);
        if (rc == -ENOENT) {
                http_reply_error(r, 404, "APIKeyNotFound", "API key not found");
                return;
        }
        if (rc < 0) {
                http_reply_errno(r, rc, "changing the API key");
                return;
        }
        http_reply_empty(r, 204);
}

void http_apikey_delete(struct http_request *r) {
        key_change(r, 2);
}
void http_apikey_enable(struct http_request *r) {
        key_change(r, 0);
}
void http_apikey_disable(struct http_request *r) {
        key_change(r, 1);
}
