/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Why a session ended. One enum for the whole daemon: the store keeps the
 * string (sessions.revoked_reason), the log and the admin interface show it,
 * the refresher decides by it whether OnRevoke=terminate ends the login. */

#include <errno.h>
#include <stdbool.h>

enum stitch_end_reason {
        STITCH_END_LOGOUT,   /* the user logged out (CloseSession, Token.Logout) */
        STITCH_END_EXITED,   /* the login's leader process exited */
        STITCH_END_REVOKE,   /* an administrator revoked it */
        STITCH_END_DISABLE,  /* its user was disabled */
        STITCH_END_DELETE,   /* its user was deleted */
        STITCH_END_REUSE,    /* a rotated refresh token was presented again (theft) */
        STITCH_END_EXPIRED,  /* its refresh token expired */
        STITCH_END_LIMIT,    /* [Sessions] MaxPerUser: a newer login took its place */
        STITCH_END_PASSWORD, /* the user's password was changed or reset */
        STITCH_END_APIKEY,   /* the API key that opened it was deleted or disabled */
        _STITCH_END_REASON_MAX,
        _STITCH_END_REASON_INVALID = -EINVAL,
};

/* "logout", "exited", "revoke", ...; NULL for a value outside the enum. */
const char *stitch_end_reason_to_string(enum stitch_end_reason r);
/* The reverse; _STITCH_END_REASON_INVALID for NULL or an unknown string. */
enum stitch_end_reason stitch_end_reason_from_string(const char *s);

/* False when the user ended the login themselves (logout, the process
 * exited): then OnRevoke=terminate has nothing to end. */
bool stitch_end_reason_is_revocation(enum stitch_end_reason r);
