/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* API keys: issuing one (the key is shown once; only its SHA-256 is kept),
 * who may, and what ends with a key. Any thread (durable writes: workers). */

#include "core/core.h"
#include "store/store.h"

/* Creates a key named 'name' for user_id. *ret_id: its id; *ret_key: the
 * key itself (wipe it). -EDQUOT the user has STITCH_MAX_USER_APIKEYS keys,
 * -EEXIST the name is taken, -EINVAL a bad name. */
int stitch_apikey_issue(struct stitch_core *core, const char *user_id, const char *name,
                        char ret_id[STITCH_ID_LEN + 1], char **ret_key);

/* Whether session s of user u may create API keys for u (the HTTP API's
 * POST auth/api_keys): not a session an API key opened (a key minted with
 * a leaked key would survive its deletion), not a server user. -EPERM
 * with *ret_why (static) if not. */
int stitch_apikey_create_allowed(const struct stitch_user *u, const struct stitch_session *s, const char **ret_why);

/* Disabling or deleting a key ends every session it opened, at once (in
 * memory first, then the sessions and the key in one store transaction),
 * with the reason "apikey"; key sessions from before sessions recorded
 * their key end with any key of their user. Enabling ends nothing.
 * *ret_revoked (optional): the ids of the sessions that ended (strv).
 * -ENOENT no such key. */
int stitch_apikey_set_disabled(struct stitch_core *core, const char *key_id, bool disabled, char ***ret_revoked);
int stitch_apikey_delete(struct stitch_core *core, const char *key_id, char ***ret_revoked);
