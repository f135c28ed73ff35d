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

/* Deletes the users of providers with an idle lifetime (anon-user: 90
 * days, as in Stitch) that have not been used for that long; *ret_n = how
 * many went. */
int stitch_users_delete_idle(struct stitch_core *core, int64_t now, size_t *ret_n);
