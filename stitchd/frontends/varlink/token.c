/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* io.stitch.Token: Get, Refresh, Verify, Logout, Jwks. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/revocations.h"
#include "frontends/varlink/call.h"
#include "fnv.h"
#include "log.h"
#include "frontends/varlink/objects-json.h"
#include "daemon/refresher.h"
#include "core/access.h"
#include "core/fleet.h"
#include "core/generation-cache.h"
#include "core/sessions.h"
#include "clock.h"
#include "validate.h"
#include "wire.h"

struct session_params {
        const char *session_id;
        int64_t newer_than;
        bool wait;
};

/* The one Token.Get reply. */
static int reply_token(struct stitch_call *c, const char *session_id, const char *token, int64_t expires) {
        cJSON *reply = cJSON_CreateObject();
        if (!reply || !cJSON_AddStringToObject(reply, "access_token", token) ||
            !cJSON_AddNumberToObject(reply, "expires", (double) expires) ||
            !cJSON_AddStringToObject(reply, "session_id", session_id)) {
                stitch_json_wipe_and_delete(reply);
                return stitch_call_errno(c, -ENOMEM, "token");
        }
        return stitch_call_reply(c, reply);
}

/* Token.Get with wait: the refresher's next token, or the session's end. */
static void token_get_done(const char *session_id, const char *token, int64_t expires, const char *error,
                           void *userdata) {
        struct stitch_call *c = userdata;
        if (token)
                (void) reply_token(c, session_id, token, expires);
        else
                (void) stitch_call_error(c, STITCH_ERROR_SESSION_INVALID, "%s", error ? error : "session has ended");
        stitch_call_complete(c);
}

int stitch_method_token_get(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"session_id", STITCH_PARAM_STRING, offsetof(struct session_params, session_id), true, 64},
                {"newer_than", STITCH_PARAM_INT, offsetof(struct session_params, newer_than), false, 0},
                {"wait", STITCH_PARAM_BOOL, offsetof(struct session_params, wait), false, 0},
        };
        struct stitch_manager *m = c->manager;
        struct session_params p = {0};
        _cleanup_(stitch_session_freep) struct stitch_session *s = NULL;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        _cleanup_erase_ char *token = NULL;
        int64_t expires, now = stitch_now();
        int r;

        if (stitch_call_decode(c, table, ELEMENTSOF(table), &p) < 0)
                return 0;
        if (stitch_call_find_session(c, p.session_id, &s) < 0)
                return 0;
        if (s->revoked || s->refresh_expires <= now || stitch_revocations_contains(m->core->revocations, s->id))
                return stitch_call_error(c, STITCH_ERROR_SESSION_INVALID, "session has ended");
        r = m->core->store_ops->user_find(m->core->store, STITCH_USER_BY_ID, s->user_id, &u);
        if (r == -ENOENT)
                return stitch_call_error(c, STITCH_ERROR_SESSION_INVALID, "user no longer exists");
        if (r < 0)
                return stitch_call_errno(c, r, "user lookup");
        if (u->disabled)
                return stitch_call_error(c, STITCH_ERROR_SESSION_INVALID, "user is disabled");

        /* An open login: hand out the refresher's current token, or wait for the next one. */
        r = stitch_refresher_get(m->refresher, s->id, p.newer_than, p.wait, &token, &expires, token_get_done, c);
        if (r < 0)
                return stitch_call_errno(c, r, "token");
        if (r == 2) {
                stitch_call_defer(c); /* token_get_done completes it */
                return 0;
        }
        if (r == 0) {
                r = stitch_access_token_issue(m->core, u, s->id, s->device_id, now, &token, &expires);
                if (r < 0)
                        return stitch_call_errno(c, r, "signing");
        }
        return reply_token(c, s->id, token, expires);
}

struct refresh_params {
        const char *refresh_token;
};

static const struct stitch_param refresh_table[] = {
        {"refresh_token", STITCH_PARAM_STRING, offsetof(struct refresh_params, refresh_token), true, 256},
};

static int token_error(struct stitch_call *c, int r, const char *why, const char *what) {
        if (r == -EACCES)
                return stitch_call_error(c, STITCH_ERROR_SESSION_INVALID, "%s", why);
        return stitch_call_errno(c, r, what);
}

int stitch_method_token_refresh(struct stitch_call *c) {
        struct refresh_params p = {0};
        struct stitch_refreshed t = {0};
        const char *why = NULL;

        if (stitch_call_decode(c, refresh_table, ELEMENTSOF(refresh_table), &p) < 0)
                return 0;
        int r = stitch_session_refresh(c->manager->core, p.refresh_token, &t, &why);
        if (r < 0)
                return token_error(c, r, why, "refresh");
        cJSON *reply = cJSON_CreateObject();
        if (!reply || !cJSON_AddStringToObject(reply, "access_token", t.access_token) ||
            !cJSON_AddNumberToObject(reply, "expires", (double) t.expires) ||
            (t.refresh_token && !cJSON_AddStringToObject(reply, "refresh_token", t.refresh_token))) {
                stitch_json_wipe_and_delete(reply);
                stitch_refreshed_done(&t);
                return stitch_call_errno(c, -ENOMEM, "refresh");
        }
        stitch_refreshed_done(&t);
        return stitch_call_reply(c, reply);
}

int stitch_method_token_logout(struct stitch_call *c) {
        struct refresh_params p = {0};
        const char *why = NULL;

        if (stitch_call_decode(c, refresh_table, ELEMENTSOF(refresh_table), &p) < 0)
                return 0;
        int r = stitch_session_logout(c->manager->core, p.refresh_token, &why);
        if (r < 0)
                return token_error(c, r, why, "logout");
        return stitch_call_reply(c, NULL);
}

struct verify_params {
        const char *access_token;
};

/* Token.Verify's two caches (struct stitch_token_caches, owned by the server)
 * run on the event loop only, so they need no lock.
 *
 * Users: an entry is valid while users_generation has not moved since it was
 * filled; any change to any user moves it. Revocation does not depend on this
 * cache: it is checked against the revocation set first.
 *
 * Verified replies: the same access token is checked again and again during
 * its life (each service call, each PAM session check), and its Verify reply
 * depends only on the token, the signing keys and the user. So the loop keeps
 * the encoded reply of recently verified tokens, keyed by the whole token
 * (compared in constant time), and answers a repeat without parsing the call,
 * the token or JSON at all. What may change is checked on every hit: the
 * generations (any key reload or user change), the time window,
 * AccessTokenLifetime and the revocation set (so a logout or revoke is still
 * immediate). Entries hold bearer tokens and replies: wiped when dropped. */
struct cached_user {
        bool disabled;
        cJSON *user;
};

static void cached_user_free(void *v) {
        struct cached_user *u = v;
        cJSON_Delete(u->user);
        free(u);
}

struct verified {
        int64_t exp, not_before, lifetime; /* not_before = max(iat, nbf) - leeway; lifetime = exp - iat */
        char sid[STITCH_ID_LEN + 1];
        char *reply; /* the encoded message; reply_len counts its final NUL */
        size_t reply_len;
};

static void verified_free(void *v) {
        struct verified *e = v;
        if (e->reply) {
                explicit_bzero(e->reply, e->reply_len);
                free(e->reply);
        }
        free(e);
}

int stitch_token_caches_new(struct stitch_token_caches *ret) {
        static const struct stitch_cache_type users = {.slots = 1024, .value_free = cached_user_free};
        static const struct stitch_cache_type verified = {.slots = 2048, .bearer_keys = true, .value_free = verified_free};
        int r = stitch_cache_new(&users, &ret->users);
        if (r < 0)
                return r;
        r = stitch_cache_new(&verified, &ret->verified);
        if (r < 0)
                ret->users = stitch_cache_free(ret->users);
        return r;
}

void stitch_token_caches_clear(struct stitch_token_caches *c) {
        stitch_cache_clear(c->users);
        stitch_cache_clear(c->verified);
}

void stitch_token_caches_done(struct stitch_token_caches *c) {
        c->users = stitch_cache_free(c->users);
        c->verified = stitch_cache_free(c->verified);
}

static struct stitch_generation generation_now(struct stitch_manager *m) {
        return (struct stitch_generation) {
                .users = __atomic_load_n(&m->core->users_generation, __ATOMIC_ACQUIRE),
                .keys = stitch_keyring_generation(m->core->keyring),
        };
}

/* Returns a new JSON copy of the user, or NULL with *ret_error set (-ENOENT, -EACCES disabled, -errno). */
static cJSON *verify_user(struct stitch_call *c, const char *id, int *ret_error) {
        struct stitch_manager *m = c->manager;
        struct stitch_generation g = {.users = __atomic_load_n(&m->core->users_generation, __ATOMIC_ACQUIRE)};
        /* While a fleet store's feed is stale, a change made on another
         * host may be missing from the cache: read the store. */
        bool stale = stitch_fleet_stale(m->core, stitch_now_usec(CLOCK_MONOTONIC));
        struct cached_user *cu = stale ? NULL : stitch_cache_peek(c->token_caches->users, id, strlen(id), &g);
        if (!cu) {
                _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
                int r = m->core->store_ops->user_find(m->core->store, STITCH_USER_BY_ID, id, &u);
                if (r < 0) {
                        *ret_error = r;
                        return NULL;
                }
                cu = calloc(1, sizeof(*cu));
                if (cu)
                        cu->user = stitch_user_to_json(u);
                if (!cu || !cu->user) {
                        free(cu);
                        *ret_error = -ENOMEM;
                        return NULL;
                }
                cu->disabled = u->disabled;
                if (stale) {
                        int e = cu->disabled ? -EACCES : 0;
                        cJSON *user = e < 0 ? NULL : cu->user;
                        if (e < 0)
                                cJSON_Delete(cu->user);
                        free(cu);
                        *ret_error = e;
                        return user;
                }
                stitch_cache_put(c->token_caches->users, id, strlen(id), &g, cu);
        }
        if (cu->disabled) {
                *ret_error = -EACCES;
                return NULL;
        }
        cJSON *copy = cJSON_Duplicate(cu->user, true);
        if (!copy)
                *ret_error = -ENOMEM;
        return copy;
}

static const struct verified *verified_find(struct stitch_token_caches *caches, struct stitch_manager *m,
                                            const char *token, size_t len, int64_t now) {
        /* A fleet store's feed unheard for long: the full path asks the store. */
        if (stitch_fleet_stale(m->core, stitch_now_usec(CLOCK_MONOTONIC)))
                return NULL;
        struct stitch_generation g = generation_now(m);
        struct verified *v = stitch_cache_peek(caches->verified, token, len, &g);
        if (!v)
                return NULL;
        int64_t lifetime = (int64_t) (m->core->config.access_token_lifetime_usec / USEC_PER_SEC);
        if (v->exp <= now || v->not_before > now || v->lifetime > lifetime + STITCH_JWT_LEEWAY_SEC) {
                /* Stale for good, or not valid right now: take the full path. */
                stitch_cache_drop(caches->verified, token, len);
                return NULL;
        }
        if (stitch_revocations_contains(m->core->revocations, v->sid))
                return NULL; /* the full path answers "session revoked" */
        return v;
}

static void verified_store(struct stitch_token_caches *caches, const char *token, const struct stitch_generation *g,
                           const struct stitch_claims *claims, const cJSON *reply) {
        struct verified *v = calloc(1, sizeof(*v));
        if (!v)
                return;
        *v = (struct verified) {
                .exp = claims->exp,
                .not_before = MAX(claims->iat, claims->nbf) - STITCH_JWT_LEEWAY_SEC,
                .lifetime = claims->exp - claims->iat,
        };
        memcpy(v->sid, claims->sid, sizeof(v->sid));
        if (stitch_wire_encode(reply, &v->reply, &v->reply_len) < 0) {
                free(v);
                return; /* not cached; the reply itself is sent as usual */
        }
        stitch_cache_put(caches->verified, token, strlen(token), g, v);
}

int stitch_verify_fast(struct stitch_token_caches *caches, struct stitch_manager *m, const char *msg, size_t len, const char **ret_reply,
                       size_t *ret_reply_len) {
        /* Exactly the call our clients encode; any other spelling (extra keys,
         * "oneway", escapes, whitespace) takes the full path. */
        static const char head[] = "{\"method\":\"io.stitch.Token.Verify\",\"parameters\":{\"access_token\":\"";
        static const char tail[] = "\"}}";
        const size_t head_len = sizeof(head) - 1, tail_len = sizeof(tail) - 1;

        if (len <= head_len + tail_len || len > head_len + tail_len + STITCH_JWT_MAX_LEN ||
            memcmp(msg, head, head_len) != 0 || memcmp(msg + len - tail_len, tail, tail_len) != 0)
                return 0;
        /* No need to look at the characters: only a token equal to one that
         * passed the full path (base64url and dots) can match. */
        const char *token = msg + head_len;
        size_t token_len = len - head_len - tail_len;
        const struct verified *v = verified_find(caches, m, token, token_len, stitch_now());
        if (!v)
                return 0;
        *ret_reply = v->reply;
        *ret_reply_len = v->reply_len;
        return 1;
}

int stitch_method_token_verify(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"access_token", STITCH_PARAM_STRING, offsetof(struct verify_params, access_token), true, STITCH_JWT_MAX_LEN},
        };
        struct stitch_manager *m = c->manager;
        struct verify_params p = {0};
        struct stitch_claims claims = {0};
        int r;

        if (stitch_call_decode(c, table, ELEMENTSOF(table), &p) < 0)
                return 0;
        /* Read before verifying: a change racing with this call leaves the
         * entry already stale rather than wrongly fresh. */
        struct stitch_generation g = generation_now(m);
        const char *why = NULL;
        r = stitch_access_check(m->core, p.access_token, stitch_now(), &claims, &why);
        if (r < 0)
                return token_error(c, r, why, "verify");
        cJSON *user = verify_user(c, claims.sub, &r);
        if (!user) {
                stitch_claims_done(&claims);
                if (r != -ENOENT && r != -EACCES)
                        return stitch_call_errno(c, r, "user lookup");
                return stitch_call_error(c, STITCH_ERROR_SESSION_INVALID, r == -ENOENT ? "user deleted" : "user disabled");
        }

        cJSON *cl = cJSON_CreateObject();
        cJSON_AddStringToObject(cl, "sub", claims.sub);
        cJSON_AddStringToObject(cl, "typ", claims.typ);
        cJSON_AddNumberToObject(cl, "iat", (double) claims.iat);
        cJSON_AddNumberToObject(cl, "nbf", (double) claims.nbf);
        cJSON_AddNumberToObject(cl, "exp", (double) claims.exp);
        cJSON_AddStringToObject(cl, "sid", claims.sid);
        cJSON_AddStringToObject(cl, "baas_device_id", claims.device_id);
        cJSON_AddStringToObject(cl, "baas_domain_id", claims.domain_id);
        cJSON *ud = claims.user_data_json ? cJSON_Parse(claims.user_data_json) : NULL;
        cJSON_AddItemToObject(cl, "user_data", ud ? ud : cJSON_CreateObject());
        cJSON_AddStringToObject(cl, "kid", claims.kid);

        cJSON *reply = cJSON_CreateObject();
        cJSON_AddItemToObject(reply, "claims", cl);
        cJSON_AddItemToObject(reply, "user", user);
        stitch_call_reply(c, reply);
        if (c->reply && !c->oneway)
                verified_store(c->token_caches, p.access_token, &g, &claims, c->reply);
        stitch_claims_done(&claims);
        return 0;
}

int stitch_method_token_jwks(struct stitch_call *c) {
        _cleanup_free_ char *jwks = NULL;
        if (stitch_call_decode(c, NULL, 0, &(int){0}) < 0)
                return 0;
        int r = stitch_keyring_jwks(c->manager->core->keyring, &jwks);
        if (r < 0)
                return stitch_call_errno(c, r, "JWKS");
        cJSON *doc = cJSON_Parse(jwks);
        if (!doc)
                return stitch_call_errno(c, -ENOMEM, "JWKS");
        return stitch_call_reply(c, doc);
}
