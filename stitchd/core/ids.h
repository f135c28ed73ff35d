/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Randomness, new ids and new secrets (OpenSSL's CSPRNG). */

#include <stddef.h>

#include "validate.h" /* STITCH_ID_LEN and the id checks */

/* Fills buf with cryptographically secure random bytes. */
int stitch_random_bytes(void *buf, size_t n);

/* A new ObjectId (12 bytes: 4 seconds, 5 random per process, 3 counter) as 24 hex chars. */
int stitch_objectid_new(char ret[STITCH_ID_LEN + 1]);
/* The device id Stitch clients send for "none". */
#define STITCH_DEVICE_NONE "000000000000000000000000"

/* A new session id: STITCH_ID_LEN characters from [A-Za-z0-9], uniformly
 * random (about 142 bits), so that knowing one's own session ids says
 * nothing about anyone else's. Same length as an ObjectId, so stored
 * sessions from before (ObjectId ids) still parse. */
int stitch_session_id_new(char ret[STITCH_ID_LEN + 1]);

/* A new random secret: prefix + base64url(32 random bytes). Malloc'd. */
int stitch_secret_new(const char *prefix, char **ret);

#define STITCH_APIKEY_PREFIX "stk_"
#define STITCH_REFRESH_PREFIX "str_"
#define STITCH_BINDING_PREFIX "stb_" /* session binding: proves a caller got the session from Login */
#define STITCH_SECRET_B64_LEN 43 /* base64url of 32 bytes */
