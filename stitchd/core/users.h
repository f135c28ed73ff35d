/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Changes to users that reach further than their own rows: a disabled or
 * deleted user's sessions end, idle users of providers that expire them
 * go. The store writes rows; these put the rows of one change into one
 * transaction (begin/commit), and end the sessions in memory first. Any
 * thread (durable writes: workers, or the maintenance job). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* *ret_revoked: the ids of the sessions that ended (strv, may be empty). */
int stitch_user_set_disabled(struct stitch_core *core, const char *user_id, bool disabled, char ***ret_revoked);
int stitch_user_delete(struct stitch_core *core, const char *user_id, char ***ret_revoked);

/* An admin's change of a user's names (the email is not one of them: it is
 * the local-userpass identity's, and changes with that identity). */
struct stitch_user_names {
        bool set_unix_name;
        const char *unix_name; /* NULL or "": the user has none any more */
        bool set_name;
        const char *name;      /* display name (user.name and data.name); NULL or "": none */
};

/* Writes the names of user_id, in one transaction. A unix_name that
 * changes (set, renamed or removed) ends every session of the user
 * (reason "revoke"): they were opened as the old Unix account. The uid
 * stays the user's (core/unix-accounts.c): the account is served under
 * the new name with the same uid; a user without one gets one now. A
 * name equal to the current one changes nothing and ends nothing.
 * *ret_old_unix_name (optional): the unix_name before (NULL if none).
 * Returns 0; -EINVAL an invalid unix_name, -EEXIST another user has it,
 * -ENOENT no such user, other -errno. */
int stitch_user_set_names(struct stitch_core *core, const char *user_id, const struct stitch_user_names *n,
                          char **ret_old_unix_name, char ***ret_revoked);

/* Deletes the users of providers with an idle lifetime (anon-user: 90
 * days, as in Stitch) that have not been used for that long; *ret_n = how
 * many went. */
int stitch_users_delete_idle(struct stitch_core *core, int64_t now, size_t *ret_n);
