/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* API keys: issuing one (the key is shown once; only its SHA-256 is kept). */

#include "manager.h"
#include "store/store.h"

/* Creates a key named 'name' for user_id. *ret_id: its id; *ret_key: the
 * key itself (wipe it). -EDQUOT the user has STITCH_MAX_USER_APIKEYS keys,
 * -EEXIST the name is taken, -EINVAL a bad name. */
int stitch_apikey_issue(struct stitch_manager *m, const char *user_id, const char *name,
                        char ret_id[STITCH_ID_LEN + 1], char **ret_key);
