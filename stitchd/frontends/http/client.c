/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Client API routes: location, login (and linking), session, profile,
 * user delete. Translate HTTP to the core and back. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/access.h"
#include "core/fleet.h"
#include "core/link.h"
#include "core/login.h"
#include "core/sessions.h"
#include "core/users.h"
#include "clock.h"
#include "core/ids.h"
#include "validate.h"
#include "frontends/http/metrics.h"
#include "core/generation-cache.h"
#include "frontends/http/request.h"
#include "fnv.h"
#include "log.h"
#include "providers/provider.h"
#include "wire.h"

#define CREDENTIAL_MAX 4096

void http_location(struct http_request *r) {
        const char *url = http_location_url(r->http);
        char ws[300];
        if (strncmp(url, "https://", 8) == 0)
                snprintf(ws, sizeof(ws), "wss://%s", url + 8);
        else
                snprintf(ws, sizeof(ws), "ws://%s", url + (strncmp(url, "http://", 7) == 0 ? 7 : 0));
        cJSON *j = cJSON_CreateObject();
        if (j && (!cJSON_AddStringToObject(j, "deployment_model", "GLOBAL") ||
                  !cJSON_AddStringToObject(j, "location", "US-VA") || !cJSON_AddStringToObject(j, "hostname", url) ||
                  !cJSON_AddStringToObject(j, "ws_hostname", ws))) {
                cJSON_Delete(j);
                j = NULL;
        }
        http_reply_json(r, 200, j);
}

/* ---- login ------------------------------------------------------------------------ */

static const char *device_id_of(const struct http_request *r) {
        const cJSON *o = r->body ? cJSON_GetObjectItemCaseSensitive(r->body, "options") : NULL;
        const cJSON *d = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "device") : NULL;
        const cJSON *id = cJSON_IsObject(d) ? cJSON_GetObjectItemCaseSensitive(d, "deviceId") : NULL;
        return cJSON_IsString(id) && stitch_objectid_valid(id->valuestring) ? id->valuestring : NULL;
}

/* The provider named in the route, if it exists here and is on. */
static const struct stitch_provider *route_provider(struct http_request *r) {
        const struct stitch_provider *p = stitch_provider_find(r->params[0]);
        if (!p || p->choose || !stitch_provider_type_known(p->name) || !p->enabled(&r->manager->core->config)) {
                http_reply_error(r, 404, "AuthProviderNotFound", "authentication provider not found");
                return NULL;
        }
        return p;
}

/* The login request the body describes (borrowing from it). */
static int login_request(struct http_request *r, const struct stitch_provider *p, struct stitch_credentials *creds,
                         struct stitch_login_request *ret) {
        const char *user = "";
        *creds = (struct stitch_credentials) {0};
        for (size_t i = 0; i < ELEMENTSOF(p->app_fields) && p->app_fields[i].member; i++) {
                const char *v;
                if (http_body_string(r, p->app_fields[i].member, CREDENTIAL_MAX, false, &v) < 0) {
                        http_reply_error(r, 400, "BadRequest", "'%s' must be a string of at most %d bytes",
                                         p->app_fields[i].member, CREDENTIAL_MAX);
                        return -EINVAL;
                }
                if (!v && !p->app_fields[i].optional) {
                        http_reply_error(r, 400, "BadRequest", "'%s' is required", p->app_fields[i].member);
                        return -EINVAL;
                }
                if (!v)
                        continue;
                if (streq(p->app_fields[i].credential, "user"))
                        user = v;
                else if (stitch_credentials_put(creds, p->app_fields[i].credential, v) < 0) {
                        http_reply_error(r, 400, "BadRequest", "too many credentials");
                        return -EINVAL;
                }
        }
        *ret = (struct stitch_login_request) {
                .provider = p->name,
                .login = {
                        .app = true,
                        .user = user,
                        .service = "http",
                        .rhost = r->client,
                        .cred = {.pid = 0, .uid = (uid_t) -1, .gid = (gid_t) -1},
                        .interactive = false,
                        .credentials = creds,
                        .device_id = device_id_of(r),
                },
        };
        return 0;
}

/* A login that did not end in a session, as HTTP says it. */
static void reply_login_failure(struct http_request *r, const struct stitch_provider *p,
                                const struct stitch_login_result *res) {
        switch (res->failure) {
        case STITCH_LOGIN_INVALID_CREDENTIALS:
        case STITCH_LOGIN_PERMISSION_DENIED:
        case STITCH_LOGIN_CONVERSATION_GONE:
                http_reply_error(r, 401, p->app_failure_code ? p->app_failure_code : "AuthError", "%s",
                                 p->app_failure_message ? p->app_failure_message : "authentication failed");
                return;
        case STITCH_LOGIN_INVALID_PARAMETER:
                http_reply_error(r, 400, "BadRequest", "%s", res->message);
                return;
        case STITCH_LOGIN_CONFIRMATION_REQUIRED:
                /* Only ever after the right password (core/login.c). */
                http_reply_error(r, 401, "AuthError", "confirmation required");
                return;
        case STITCH_LOGIN_TOO_MANY_ATTEMPTS:
                r->retry_after_sec = (res->retry_after_usec + USEC_PER_SEC - 1) / USEC_PER_SEC;
                http_reply_error(r, 429, "TooManyRequests", "too many failed attempts; try again later");
                return;
        case STITCH_LOGIN_BUSY:
                http_reply_error(r, 503, "ServiceUnavailable", "too many logins in progress; try again later");
                return;
        case STITCH_LOGIN_INTERNAL:
        default:
                http_reply_errno(r, res->error ? res->error : -EIO, "login");
                return;
        }
}

static void link_identity(struct http_request *r, const struct stitch_provider *p) {
        struct stitch_manager *m = r->manager;
        struct stitch_claims claims = {0};
        struct stitch_credentials creds;
        struct stitch_login_request req;
        struct stitch_link_result res;
        const char *why = NULL;
        int rc;

        if (!r->bearer) {
                http_reply_invalid_session(r, "linking needs an access token");
                return;
        }
        rc = stitch_access_check(m->core, r->bearer, stitch_now(), &claims, &why);
        if (rc < 0) {
                if (rc == -EACCES)
                        http_reply_invalid_session(r, why);
                else
                        http_reply_errno(r, rc, "link");
                return;
        }
        if (login_request(r, p, &creds, &req) < 0) {
                stitch_claims_done(&claims);
                return;
        }
        rc = stitch_link_run(m->core, claims.sub, &req, &res);
        if (rc < 0) {
                http_reply_errno(r, rc, "link");
                goto done;
        }
        switch (res.outcome) {
        case STITCH_LINK_LINKED:
        case STITCH_LINK_ALREADY: {
                _cleanup_erase_ char *token = NULL;
                int64_t expires;
                /* A fresh access token for the same session: the user's data may have changed. */
                rc = stitch_access_token_issue(m->core, res.user, claims.sid, claims.device_id, stitch_now(), &token,
                                               &expires);
                if (rc < 0) {
                        http_reply_errno(r, rc, "signing");
                        break;
                }
                http_metrics_add(&r->metrics->links, 1);
                cJSON *j = cJSON_CreateObject();
                if (j && (!cJSON_AddStringToObject(j, "access_token", token) ||
                          !cJSON_AddStringToObject(j, "user_id", res.user->id) ||
                          !cJSON_AddStringToObject(j, "device_id", claims.device_id))) {
                        stitch_json_wipe_and_delete(j);
                        j = NULL;
                }
                http_reply_secret_json(r, 200, j);
                break;
        }
        case STITCH_LINK_IN_USE:
                /* Not 401 InvalidSession: realm-web would retry it forever. */
                http_reply_error(r, 409, "IdentityInUse", "a user already exists with the specified provider");
                break;
        case STITCH_LINK_NOT_LINKABLE:
                http_reply_error(r, 400, "BadRequest", "%s", res.message);
                break;
        case STITCH_LINK_KEY_NAME_TAKEN:
                http_reply_error(r, 409, "APIKeyAlreadyExists", "%s", res.message);
                break;
        case STITCH_LINK_TOO_MANY_KEYS:
                http_reply_error(r, 400, "MaxAPIKeysReached", "%s", res.message);
                break;
        case STITCH_LINK_NO_USER:
                http_reply_invalid_session(r, "user disabled or deleted");
                break;
        case STITCH_LINK_LOGIN_FAILED:
                reply_login_failure(r, p, &res.login);
                break;
        }
done:
        stitch_link_result_done(&res);
        stitch_claims_done(&claims);
        explicit_bzero(&creds, sizeof(creds));
}

void http_login(struct http_request *r) {
        struct http_metrics *mt = r->metrics;
        struct stitch_credentials creds;
        struct stitch_login_request req;
        struct stitch_login_result res;

        const struct stitch_provider *p = route_provider(r);
        if (!p)
                return;
        if (r->link) {
                link_identity(r, p);
                return;
        }
        if (login_request(r, p, &creds, &req) < 0)
                return;
        int rc = stitch_login_run(r->manager->core, &req, &res);
        if (rc < 0)
                http_reply_errno(r, rc, "login");
        else if (res.outcome == STITCH_LOGIN_SESSION) {
                http_metrics_add(&mt->logins_succeeded, 1);
                if (!res.tokens.access_token || !res.tokens.refresh_token)
                        http_reply_json(r, 200, NULL); /* cannot happen: a 500, as cJSON's refusal was */
                else
                        http_reply_strings(
                                r, 200, 4, (const char *const[]) {"access_token", "refresh_token", "user_id", "device_id"},
                                (const char *const[]) {res.tokens.access_token, res.tokens.refresh_token,
                                                       res.tokens.user_id, res.tokens.device_id},
                                true);
        } else {
                http_metrics_add(&mt->logins_failed, 1);
                if (res.outcome == STITCH_LOGIN_ASK) /* not for non-interactive logins; be safe */
                        http_reply_error(r, 400, "BadRequest", "more credentials are needed");
                else if (res.outcome == STITCH_LOGIN_PENDING) /* likewise: the core refuses it for apps */
                        http_reply_error(r, 400, "BadRequest", "this login completes on another device");
                else
                        reply_login_failure(r, p, &res);
        }
        stitch_login_result_done(&res);
        explicit_bzero(&creds, sizeof(creds));
}

/* ---- session ------------------------------------------------------------------------ */

void http_session_refresh(struct http_request *r) {
        struct http_metrics *mt = r->metrics;
        struct stitch_refreshed t = {0};
        const char *why = NULL;

        int rc = stitch_session_refresh(r->manager->core, r->bearer, &t, &why);
        if (rc < 0) {
                http_metrics_add(&mt->refreshes_failed, 1);
                if (rc == -EACCES)
                        http_reply_invalid_session(r, why);
                else
                        http_reply_errno(r, rc, "refresh");
                return;
        }
        http_metrics_add(&mt->refreshes, 1);
        http_reply_strings(r, 201, 2, (const char *const[]) {"access_token", "refresh_token"},
                           (const char *const[]) {t.access_token, t.refresh_token}, true);
        stitch_refreshed_done(&t);
}

/* Our refresh tokens' shape: prefix and 43 base64url characters. */
static bool refresh_token_well_formed(const char *t) {
        size_t pl = strlen(STITCH_REFRESH_PREFIX);
        if (!t || strncmp(t, STITCH_REFRESH_PREFIX, pl) != 0 || strlen(t) != pl + STITCH_SECRET_B64_LEN)
                return false;
        for (t += pl; *t; t++)
                if (!((*t >= 'A' && *t <= 'Z') || (*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') || *t == '-' ||
                      *t == '_'))
                        return false;
        return true;
}

void http_session_logout(struct http_request *r) {
        const char *why = NULL;
        if (!refresh_token_well_formed(r->bearer)) {
                http_reply_invalid_session(r, r->bearer ? "malformed refresh token" : "no refresh token");
                return;
        }
        int rc = stitch_session_logout(r->manager->core, r->bearer, &why);
        /* Logging out of a session that has ended already is done. */
        if (rc >= 0 || rc == -EACCES)
                http_reply_empty(r, 204);
        else
                http_reply_errno(r, rc, "logout");
}

/* ---- the user --------------------------------------------------------------------- */

/* The access token's user, or an answer. */
static int access_user(struct http_request *r, struct stitch_claims *claims, struct stitch_user **ret) {
        struct http_metrics *mt = r->metrics;
        struct stitch_manager *m = r->manager;
        const char *why = "no access token";
        int rc = r->bearer ? stitch_access_check(m->core, r->bearer, stitch_now(), claims, &why) : -EACCES;
        if (rc < 0) {
                http_metrics_add(&mt->verifies_failed, 1);
                rc == -EACCES ? http_reply_invalid_session(r, why) : http_reply_errno(r, rc, "verify");
                return -EACCES;
        }
        rc = m->core->store_ops->user_find(m->core->store, STITCH_USER_BY_ID, claims->sub, ret);
        if (rc == -ENOENT || (rc >= 0 && (*ret)->disabled)) {
                http_metrics_add(&mt->verifies_failed, 1);
                if (rc >= 0)
                        *ret = stitch_user_free(*ret);
                stitch_claims_done(claims);
                http_reply_invalid_session(r, rc == -ENOENT ? "user deleted" : "user disabled");
                return -EACCES;
        }
        if (rc < 0) {
                stitch_claims_done(claims);
                http_reply_errno(r, rc, "user lookup");
                return rc;
        }
        http_metrics_add(&mt->verifies, 1);
        return 0;
}

static cJSON *profile_json(const struct stitch_user *u, const char *domain_id) {
        cJSON *j = cJSON_CreateObject();
        cJSON *data = u->data_json ? cJSON_Parse(u->data_json) : NULL;
        if (!data)
                data = cJSON_CreateObject();
        if (data && u->unix_name && !cJSON_GetObjectItemCaseSensitive(data, "unix_name"))
                cJSON_AddStringToObject(data, "unix_name", u->unix_name);
        cJSON *ids = cJSON_CreateArray();
        if (!j || !data || !ids) {
                cJSON_Delete(j);
                cJSON_Delete(data);
                cJSON_Delete(ids);
                return NULL;
        }
        cJSON_AddStringToObject(j, "user_id", u->id);
        cJSON_AddStringToObject(j, "domain_id", domain_id);
        cJSON_AddStringToObject(j, "type", u->type ? u->type : "normal");
        cJSON_AddItemToObject(j, "data", data);
        for (size_t i = 0; i < u->n_identities; i++) {
                const struct stitch_identity *id = &u->identities[i];
                cJSON *o = cJSON_CreateObject();
                if (!o)
                        break;
                cJSON_AddStringToObject(o, "id", id->id);
                cJSON_AddStringToObject(o, "provider_type", id->provider_type);
                cJSON_AddStringToObject(o, "provider_id", id->provider_id ? id->provider_id : id->provider_type);
                cJSON *pd = id->data_json ? cJSON_Parse(id->data_json) : NULL;
                cJSON_AddItemToObject(o, "provider_data", pd ? pd : cJSON_CreateObject());
                cJSON_AddItemToArray(ids, o);
        }
        cJSON_AddItemToObject(j, "identities", ids);
        return j;
}

/* Profile replies by user (r->profiles). A reply depends only on the stored
 * user, and every change to any stored user moves users_generation: an entry
 * is good while the generation it was built at is current. The token is
 * checked on every request all the same (signature once, then time and
 * revocation). Shared by libmicrohttpd's thread and the workers. */
static void *string_copy(const void *v) {
        return strdup(v);
}

int http_profile_cache_new(struct stitch_cache **ret) {
        static const struct stitch_cache_type profiles = {
                .slots = 1024, .shared = true, .value_free = free, .value_copy = string_copy};
        return stitch_cache_new(&profiles, ret);
}

void http_profile(struct http_request *r) {
        struct stitch_manager *m = r->manager;
        struct stitch_claims claims = {0};
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        const char *why = "no access token";

        /* Read before looking anything up: a change racing with this
         * request leaves the entry stale rather than wrongly fresh. */
        struct stitch_generation g = {.users = __atomic_load_n(&m->core->users_generation, __ATOMIC_ACQUIRE)};
        int rc = r->bearer ? stitch_access_check(m->core, r->bearer, stitch_now(), &claims, &why) : -EACCES;
        /* While a fleet store's feed is stale, a change made on another host
         * may be missing from the cache: read the store. */
        bool stale = stitch_fleet_stale(m->core, stitch_now_usec(CLOCK_MONOTONIC));
        if (rc >= 0 && !stale) {
                char *body = stitch_cache_get(r->profiles, claims.sub, strlen(claims.sub), &g);
                stitch_claims_done(&claims);
                if (body) {
                        http_metrics_add(&r->metrics->verifies, 1);
                        r->status = 200;
                        r->response = body;
                        r->response_len = strlen(body);
                        r->content_type = "application/json";
                        return;
                }
        }
        if (access_user(r, &claims, &u) < 0)
                return;
        http_reply_json(r, 200, profile_json(u, m->core->domain_id));
        char *copy = r->status == 200 && r->response && !stale ? strdup(r->response) : NULL;
        if (copy)
                stitch_cache_put(r->profiles, u->id, strlen(u->id), &g, copy);
        stitch_claims_done(&claims);
}

void http_user_delete(struct http_request *r) {
        struct stitch_claims claims = {0};
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        _cleanup_(stitch_strv_freep) char **revoked = NULL;
        if (access_user(r, &claims, &u) < 0)
                return;
        int rc = stitch_user_delete(r->manager->core, u->id, &revoked);
        stitch_claims_done(&claims);
        if (rc < 0 && rc != -ENOENT) {
                http_reply_errno(r, rc, "deleting the user");
                return;
        }
        log_info("User %s deleted itself over HTTP (from %s).", u->id, r->client);
        http_reply_empty(r, 204);
}
