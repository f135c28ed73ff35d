/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/revocations.h"
#include "core/access.h"
#include "core/fleet.h"
#include "core/sessions.h"
#include "clock.h"
#include "core/ids.h"
#include "core/sha256.h"
#include "validate.h"
#include "fnv.h"
#include "log.h"

/* A refresh token that was already rotated away: someone kept a copy.
 * Treat it as theft and end the whole session. */
static void refresh_token_reused(struct stitch_core *core, const uint8_t hash[STITCH_HASH_LEN]) {
        struct stitch_session *s = NULL;

        if (core->store_ops->session_find_by_retired_refresh_hash(core->store, hash, &s) < 0)
                return;
        if (!s->revoked) {
                log_warning("Reuse of a rotated refresh token for session %s of user %s: revoking the session.",
                            s->id, s->user_id);
                (void) stitch_session_end(core, s, STITCH_END_REUSE);
        }
        stitch_session_free(s);
}

/* The live session a refresh token names, and with ret_user its user
 * (without identities; NULL if gone) from the same statement. */
static int find_by_refresh(struct stitch_core *core, const char *refresh_token, struct stitch_session **ret,
                           struct stitch_user **ret_user, const char **ret_why) {
        uint8_t hash[STITCH_HASH_LEN];
        struct stitch_session *s = NULL;
        struct stitch_user *u = NULL;

        if (isempty(refresh_token) || strlen(refresh_token) > 256) {
                *ret_why = "invalid refresh token";
                return -EACCES;
        }
        int r = stitch_sha256(refresh_token, strlen(refresh_token), hash);
        if (r < 0)
                return r;
        r = ret_user ? core->store_ops->session_find_with_user(core->store, NULL, hash, &s, &u)
                     : core->store_ops->session_find_by_refresh_hash(core->store, hash, &s);
        if (r == -ENOENT) {
                refresh_token_reused(core, hash);
                *ret_why = "invalid refresh token";
                return -EACCES;
        }
        if (r < 0)
                return r;
        if (s->revoked || s->refresh_expires <= stitch_now() || stitch_revocations_contains(core->revocations, s->id)) {
                stitch_session_free(s);
                stitch_user_free(u);
                *ret_why = "session has ended";
                return -EACCES;
        }
        *ret = s;
        if (ret_user)
                *ret_user = u;
        return 0;
}

int stitch_session_by_refresh(struct stitch_core *core, const char *refresh_token, struct stitch_session **ret,
                              const char **ret_why) {
        return find_by_refresh(core, refresh_token, ret, NULL, ret_why);
}

/* A live session's user, found (or not, r = -ENOENT) by the caller: a
 * deleted or disabled user ends the session. */
static int session_user_check(struct stitch_core *core, const struct stitch_session *s, int r, struct stitch_user *u,
                              struct stitch_user **ret, const char **ret_why) {
        if (r == -ENOENT || (r >= 0 && u->disabled)) {
                (void) stitch_session_end(core, s, r == -ENOENT ? STITCH_END_DELETE : STITCH_END_DISABLE);
                stitch_user_free(u);
                *ret_why = "user disabled or deleted";
                return -EACCES;
        }
        if (r < 0)
                return r;
        *ret = u;
        return 0;
}

int stitch_session_user(struct stitch_core *core, const struct stitch_session *s, struct stitch_user **ret,
                        const char **ret_why) {
        struct stitch_user *u = NULL;
        int r = core->store_ops->user_find(core->store, STITCH_USER_BY_ID, s->user_id, &u);
        return session_user_check(core, s, r, u, ret, ret_why);
}

/* stitch_session_by_refresh() and stitch_session_user() in one read: the
 * session and its user (without identities) come from one statement. */
static int session_and_user_by_refresh(struct stitch_core *core, const char *refresh_token,
                                       struct stitch_session **ret_session, struct stitch_user **ret_user,
                                       const char **ret_why) {
        _cleanup_(stitch_session_freep) struct stitch_session *s = NULL;
        struct stitch_user *u = NULL;

        int r = find_by_refresh(core, refresh_token, &s, &u, ret_why);
        if (r < 0)
                return r;
        r = session_user_check(core, s, u ? 0 : -ENOENT, u, ret_user, ret_why);
        if (r < 0)
                return r;
        *ret_session = TAKE_PTR(s);
        return 0;
}

void stitch_refreshed_done(struct stitch_refreshed *r) {
        if (r->access_token)
                erase_and_free(r->access_token);
        if (r->refresh_token)
                erase_and_free(r->refresh_token);
        *r = (struct stitch_refreshed) {0};
}

int stitch_session_refresh(struct stitch_core *core, const char *refresh_token, struct stitch_refreshed *ret,
                           const char **ret_why) {
        _cleanup_(stitch_session_freep) struct stitch_session *s = NULL;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        _cleanup_erase_ char *token = NULL, *new_refresh = NULL;
        uint8_t new_hash[STITCH_HASH_LEN];
        int64_t expires, now = stitch_now();
        int r;

        r = session_and_user_by_refresh(core, refresh_token, &s, &u, ret_why);
        if (r < 0)
                return r;
        r = stitch_access_token_issue(core, u, s->id, s->device_id, now, &token, &expires);
        if (r < 0)
                return r;
        if (core->config.rotate_refresh_tokens) {
                r = stitch_secret_new(STITCH_REFRESH_PREFIX, &new_refresh);
                if (r < 0)
                        return r;
                r = stitch_sha256(new_refresh, strlen(new_refresh), new_hash);
                if (r < 0)
                        return r;
                /* Only a rotation needs a durable write (the new refresh
                 * token must survive a crash); a plain refresh just signs.
                 * The rotation swaps only if the token is still the one
                 * looked up: of concurrent refreshes with one token, one
                 * wins, and for the others the token has been rotated away
                 * meanwhile, which is reuse as if they had come after it. */
                r = core->store_ops->session_refreshed(core->store, s->id, expires, now, s->refresh_hash, new_hash);
                if (r == -ESTALE) {
                        refresh_token_reused(core, s->refresh_hash);
                        *ret_why = "invalid refresh token";
                        return -EACCES;
                }
                if (r == -ENOENT) {
                        *ret_why = "session has ended";
                        return -EACCES;
                }
                if (r < 0)
                        return r;
        }
        *ret = (struct stitch_refreshed) {
                .access_token = TAKE_PTR(token),
                .refresh_token = TAKE_PTR(new_refresh),
                .expires = expires,
        };
        memcpy(ret->session_id, s->id, sizeof(ret->session_id));
        return 0;
}

int stitch_session_logout(struct stitch_core *core, const char *refresh_token, const char **ret_why) {
        _cleanup_(stitch_session_freep) struct stitch_session *s = NULL;
        int r = stitch_session_by_refresh(core, refresh_token, &s, ret_why);
        if (r < 0)
                return r;
        return stitch_session_end(core, s, STITCH_END_LOGOUT);
}

/* Checked tokens (core->checked_tokens). An access token is presented again
 * and again during its life, and whether its signature is good depends only
 * on the token and the keyring: so the signature check (an ECDSA
 * verification) is done once per token and keyring generation. Everything
 * that can change is checked on every hit: the time window,
 * AccessTokenLifetime and the revocation set. */
static void claims_free(void *v) {
        stitch_claims_done(v);
        free(v);
}

static void *claims_copy(const void *v) {
        const struct stitch_claims *from = v;
        struct stitch_claims *c = malloc(sizeof(*c));
        if (!c)
                return NULL;
        *c = *from;
        c->user_data_json = from->user_data_json ? strdup(from->user_data_json) : NULL;
        if (from->user_data_json && !c->user_data_json) {
                free(c);
                return NULL;
        }
        return c;
}

static const struct stitch_cache_type checked_tokens_type = {
        .slots = 2048,
        .bearer_keys = true,
        .shared = true, /* the loop's Verify and the HTTP thread's routes */
        .value_free = claims_free,
        .value_copy = claims_copy,
};

int stitch_access_cache_new(struct stitch_cache **ret) {
        return stitch_cache_new(&checked_tokens_type, ret);
}

/* 1 and *ret filled if the token's signature was checked with this keyring. */
static int checked_find(struct stitch_core *core, const struct stitch_generation *g, const char *token, size_t len,
                        struct stitch_claims *ret) {
        struct stitch_claims *c = stitch_cache_get(core->checked_tokens, token, len, g);
        if (!c)
                return 0;
        *ret = *c;
        free(c);
        return 1;
}

static void checked_store(struct stitch_core *core, const struct stitch_generation *g, const char *token, size_t len,
                          const struct stitch_claims *claims) {
        struct stitch_claims *c = claims_copy(claims);
        if (c)
                stitch_cache_put(core->checked_tokens, token, len, g, c);
}

int stitch_access_check(struct stitch_core *core, const char *access_token, int64_t now, struct stitch_claims *ret,
                        const char **ret_why) {
        struct stitch_claims claims = {0};
        size_t len = strlen(access_token);
        struct stitch_generation g = {.keys = stitch_keyring_generation(core->keyring)};
        if (len > 0 && len <= STITCH_JWT_MAX_LEN && checked_find(core, &g, access_token, len, &claims) > 0) {
                /* The time window, as stitch_jwt_verify checks it. */
                const char *why = claims.exp <= now                                           ? "token expired"
                                  : MAX(claims.iat, claims.nbf) - STITCH_JWT_LEEWAY_SEC > now ? "token not yet valid"
                                                                                            : NULL;
                if (why) {
                        stitch_claims_done(&claims);
                        *ret_why = why;
                        return -EACCES;
                }
                goto checked;
        }
        int r = stitch_jwt_verify(core->keyring, access_token, now, &claims);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                *ret_why = r == -ETIME          ? "token expired"
                           : r == -EAGAIN       ? "token not yet valid"
                           : r == -ENOKEY       ? "unknown signing key"
                           : r == -EKEYREJECTED ? "bad signature or algorithm"
                                                : "malformed token";
                return -EACCES;
        }
        if (len <= STITCH_JWT_MAX_LEN)
                checked_store(core, &g, access_token, len, &claims);
checked:;
        /* Tokens never outlive the configured lifetime: the revocation set
         * is rebuilt on that assumption. */
        int64_t lifetime = (int64_t) (core->config.access_token_lifetime_usec / USEC_PER_SEC);
        if (claims.exp - claims.iat > lifetime + STITCH_JWT_LEEWAY_SEC) {
                stitch_claims_done(&claims);
                *ret_why = "token lifetime exceeds AccessTokenLifetime";
                return -EACCES;
        }
        if (stitch_revocations_contains(core->revocations, claims.sid)) {
                stitch_claims_done(&claims);
                *ret_why = "session revoked";
                return -EACCES;
        }
        /* Another host may have ended it and this one not heard yet. */
        if (stitch_fleet_stale(core, stitch_now_usec(CLOCK_MONOTONIC)) &&
            stitch_fleet_session_check(core, claims.sid, now, ret_why) < 0) {
                stitch_claims_done(&claims);
                return -EACCES;
        }
        *ret = claims;
        return 0;
}
