/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Users of identities another issuer vouches for (custom-token, Google,
 * Facebook): made at a first login when the provider allows it, and given
 * the issuer's metadata at every login. Stitch keeps the metadata twice:
 * as the identity's data and merged into the user's data. */

#include <cjson/cJSON.h>

#include "core/core.h"
#include "store/store.h"

/* The id of an issuer's identity in the store, whose ids are STITCH_ID_LEN
 * characters while an issuer's ids may be longer (a JWT's sub: 255 bytes):
 * the first STITCH_ID_LEN hex digits of SHA-256(provider_type NUL
 * external_id), 96 bits; the prefix keeps one provider's ids apart from
 * another's. The same id always gives the same result. -EINVAL if
 * external_id is longer than STITCH_EXTERNAL_ID_MAX. */
#define STITCH_EXTERNAL_ID_MAX 1024
int stitch_external_identity_id(const char *provider_type, const char *external_id,
                                char ret[static STITCH_ID_LEN + 1]);

/* The user's data (a JSON object, or NULL) with every field of metadata
 * set on it. NULL when out of memory. */
char *stitch_external_user_data_with(const char *data_json, const cJSON *metadata);

/* Creates a user with one identity (identity_id of provider_type, its
 * data metadata_json), its data from metadata, its name from metadata's
 * "name" (a string) and unix_name (NULL: none; with [Accounts] UserDB=yes
 * the account gets its uid at once). -EEXIST when the identity or the Unix
 * name is taken meanwhile. Logs the creation. */
int stitch_external_user_create(struct stitch_core *core, const char *provider_type, const char *identity_id,
                                const char *unix_name, const char *metadata_json, const cJSON *metadata,
                                struct stitch_user **ret);

/* Writes this login's metadata into u's identity identity_id and into u's
 * data (and new_unix_name, when not NULL), if anything changed. -EACCES if
 * u has no such identity. */
int stitch_external_user_refresh(struct stitch_core *core, struct stitch_user *u, const char *identity_id,
                                 const char *metadata_json, const cJSON *metadata, const char *new_unix_name);
