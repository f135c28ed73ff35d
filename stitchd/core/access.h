/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a bearer of a token may do, whatever front end it came through: the
 * refresh token's session (refresh, logout, acting for its user) and the
 * access token's claims (verify). Failures are one kind for the front end
 * ("the token is no good": SessionInvalid, HTTP 401 InvalidSession) with a
 * reason for the message; anything else is an internal error. */

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "core/generation-cache.h"
#include "store/store.h"
#include "core/tokens.h"

/* -EACCES: the token is no good (*ret_why says why); other -errno: the
 * store failed. On success *ret is the live session (not revoked, not
 * expired, not in the revocation set). A rotated-away refresh token is
 * reuse: its session ends. */
int stitch_session_by_refresh(struct stitch_core *core, const char *refresh_token, struct stitch_session **ret,
                              const char **ret_why);

/* The live session's user, if it may still act: -EACCES when deleted or
 * disabled (the session ends then). */
int stitch_session_user(struct stitch_core *core, const struct stitch_session *s, struct stitch_user **ret,
                        const char **ret_why);

struct stitch_refreshed {
        char session_id[STITCH_ID_LEN + 1];
        char *access_token;  /* wiped when done */
        char *refresh_token; /* the new one if tokens rotate, else NULL; wiped when done */
        int64_t expires;
};
void stitch_refreshed_done(struct stitch_refreshed *r);

/* A new access token for the refresh token's session (and a new refresh
 * token with RotateRefreshTokens=yes). Same errors. */
int stitch_session_refresh(struct stitch_core *core, const char *refresh_token, struct stitch_refreshed *ret,
                           const char **ret_why);

/* Ends the refresh token's session (logout). Same errors. */
int stitch_session_logout(struct stitch_core *core, const char *refresh_token, const char **ret_why);

/* Checks an access token: signature, time, lifetime against
 * AccessTokenLifetime, and the revocation set. Does not look at the user.
 * -EACCES with *ret_why, or -ENOMEM. *ret filled on success
 * (stitch_claims_done). Any thread. */
int stitch_access_check(struct stitch_core *core, const char *access_token, int64_t now, struct stitch_claims *ret,
                        const char **ret_why);

/* A new cache of checked tokens, for core->checked_tokens. */
int stitch_access_cache_new(struct stitch_cache **ret);
