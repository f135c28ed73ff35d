/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "core/access.h"
#include "core/sessions.h"
#include "core/util.h"
#include "log.h"

/* A refresh token that was already rotated away: someone kept a copy.
 * Treat it as theft and end the whole session. */
static void refresh_token_reused(struct stitch_manager *m, const uint8_t hash[STITCH_HASH_LEN]) {
        struct stitch_session *s = NULL;

        if (m->store_ops->session_find_by_retired_refresh_hash(m->store, hash, &s) < 0)
                return;
        if (!s->revoked) {
                log_warning("Reuse of a rotated refresh token for session %s of user %s: revoking the session.",
                            s->id, s->user_id);
                (void) stitch_session_end(m, s, STITCH_END_REUSE);
        }
        stitch_session_free(s);
}

int stitch_session_by_refresh(struct stitch_manager *m, const char *refresh_token, struct stitch_session **ret,
                              const char **ret_why) {
        uint8_t hash[STITCH_HASH_LEN];
        struct stitch_session *s = NULL;

        if (isempty(refresh_token) || strlen(refresh_token) > 256) {
                *ret_why = "invalid refresh token";
                return -EACCES;
        }
        int r = stitch_sha256(refresh_token, strlen(refresh_token), hash);
        if (r < 0)
                return r;
        r = m->store_ops->session_find_by_refresh_hash(m->store, hash, &s);
        if (r == -ENOENT) {
                refresh_token_reused(m, hash);
                *ret_why = "invalid refresh token";
                return -EACCES;
        }
        if (r < 0)
                return r;
        if (s->revoked || s->refresh_expires <= stitch_now() || stitch_revocations_contains(m->revocations, s->id)) {
                stitch_session_free(s);
                *ret_why = "session has ended";
                return -EACCES;
        }
        *ret = s;
        return 0;
}

int stitch_session_user(struct stitch_manager *m, const struct stitch_session *s, struct stitch_user **ret,
                        const char **ret_why) {
        struct stitch_user *u = NULL;
        int r = m->store_ops->user_find(m->store, STITCH_USER_BY_ID, s->user_id, &u);
        if (r == -ENOENT || (r >= 0 && u->disabled)) {
                (void) stitch_session_end(m, s, r == -ENOENT ? STITCH_END_DELETE : STITCH_END_DISABLE);
                stitch_user_free(u);
                *ret_why = "user disabled or deleted";
                return -EACCES;
        }
        if (r < 0)
                return r;
        *ret = u;
        return 0;
}

void stitch_refreshed_done(struct stitch_refreshed *r) {
        if (r->access_token)
                erase_and_free(r->access_token);
        if (r->refresh_token)
                erase_and_free(r->refresh_token);
        *r = (struct stitch_refreshed) {0};
}

int stitch_session_refresh(struct stitch_manager *m, const char *refresh_token, struct stitch_refreshed *ret,
                           const char **ret_why) {
        _cleanup_(stitch_session_freep) struct stitch_session *s = NULL;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        _cleanup_erase_ char *token = NULL, *new_refresh = NULL;
        uint8_t new_hash[STITCH_HASH_LEN];
        int64_t expires, now = stitch_now();
        int r;

        r = stitch_session_by_refresh(m, refresh_token, &s, ret_why);
        if (r < 0)
                return r;
        r = stitch_session_user(m, s, &u, ret_why);
        if (r < 0)
                return r;
        r = stitch_access_token_issue(m, u, s->id, s->device_id, now, &token, &expires);
        if (r < 0)
                return r;
        if (m->config.rotate_refresh_tokens) {
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
                r = m->store_ops->session_refreshed(m->store, s->id, expires, now, s->refresh_hash, new_hash);
                if (r == -ESTALE) {
                        refresh_token_reused(m, s->refresh_hash);
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

int stitch_session_logout(struct stitch_manager *m, const char *refresh_token, const char **ret_why) {
        _cleanup_(stitch_session_freep) struct stitch_session *s = NULL;
        int r = stitch_session_by_refresh(m, refresh_token, &s, ret_why);
        if (r < 0)
                return r;
        return stitch_session_end(m, s, STITCH_END_LOGOUT);
}

int stitch_access_check(struct stitch_manager *m, const char *access_token, int64_t now, struct stitch_claims *ret,
                        const char **ret_why) {
        struct stitch_claims claims = {0};
        int r = stitch_jwt_verify(m->keyring, access_token, now, &claims);
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
        /* Tokens never outlive the configured lifetime: the revocation set
         * is rebuilt on that assumption. */
        int64_t lifetime = (int64_t) (m->config.access_token_lifetime_usec / USEC_PER_SEC);
        if (claims.exp - claims.iat > lifetime + STITCH_JWT_LEEWAY_SEC) {
                stitch_claims_done(&claims);
                *ret_why = "token lifetime exceeds AccessTokenLifetime";
                return -EACCES;
        }
        if (stitch_revocations_contains(m->revocations, claims.sid)) {
                stitch_claims_done(&claims);
                *ret_why = "session revoked";
                return -EACCES;
        }
        *ret = claims;
        return 0;
}
