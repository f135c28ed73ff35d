/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Identity linking: adding the identity a credential names to an existing
 * user, so that logging in with it later gives that user. The same rules
 * for every front end (HTTP ?link=true, io.stitch.Admin.UserLink):
 *  - a credential the user already has: nothing changes (ALREADY);
 *  - an account that has never logged in (an email registered or added by
 *    an admin, no session yet) is merged into the user: its identities,
 *    password and API keys move, the empty account goes (LINKED); that it
 *    is still unused is checked again inside the merge's transaction (a
 *    first login racing the link wins: IN_USE);
 *  - unless its API keys do not fit: a name the user's keys have too, or
 *    more than STITCH_MAX_USER_APIKEYS in all (KEY_NAME_TAKEN,
 *    TOO_MANY_KEYS: refused; a key is never dropped or renamed);
 *  - a credential of another user that has logged in: IN_USE;
 *  - anonymous identities and API keys: NOT_LINKABLE. */

#include "core/login.h"

enum stitch_link_outcome {
        STITCH_LINK_LINKED,
        STITCH_LINK_ALREADY,
        STITCH_LINK_IN_USE,
        STITCH_LINK_NOT_LINKABLE, /* message says why */
        STITCH_LINK_NO_USER,      /* the user to link onto is gone or disabled */
        STITCH_LINK_LOGIN_FAILED, /* login says why (bad credentials, rate limit, ...) */
        /* The merge would move API keys that do not fit (message says
         * which): one named as one of the user's, or more than
         * STITCH_MAX_USER_APIKEYS in all. Nothing changed. */
        STITCH_LINK_KEY_NAME_TAKEN,
        STITCH_LINK_TOO_MANY_KEYS,
};

struct stitch_link_result {
        enum stitch_link_outcome outcome;
        char message[160];
        struct stitch_login_result login;
        struct stitch_user *user; /* LINKED, ALREADY: the user as it is now */
};
void stitch_link_result_done(struct stitch_link_result *r);

/* Runs req (its credentials, identify_only set here) and links what it
 * names onto user_id. Always fills *ret; returns 0 or -errno when the store
 * failed (ret->outcome then is meaningless). Worker thread (it may hash). */
int stitch_link_run(struct stitch_core *core, const char *user_id, const struct stitch_login_request *req,
                    struct stitch_link_result *ret);

/* Removes identity_id from the user: -ENOENT not theirs, -EPERM the last
 * one. A local-userpass identity takes the email and password with it. */
int stitch_identity_unlink(struct stitch_core *core, const char *user_id, const char *identity_id);
