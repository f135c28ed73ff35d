/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Daemon-side helpers: randomness, new ids, hashing, time, accounts. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "store/store.h"
#include "validate.h" /* the name and id checks, for this header's users */

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

/* 0, or -EIO (logged) when OpenSSL fails; ret is then zeroed. */
int stitch_sha256(const void *data, size_t n, uint8_t ret[STITCH_HASH_LEN]) _warn_unused_result_;

int64_t stitch_now(void);             /* epoch seconds, CLOCK_REALTIME */
uint64_t stitch_now_usec(int clock);  /* clock_gettime in usec */

/* Whether a file (or directory) that decides what the daemon trusts cannot be
 * changed by anyone else: owned by root or by us, not writable by group or
 * others (like sshd's StrictModes). 0, or -errno logged with 'what'. */
int stitch_check_trusted(const char *path, bool directory, const char *what);
/* The real and effective uid of a running process (from /proc): 0 when
 * both equal, -EPERM when they differ (a set-uid program), -ESRCH if there
 * is no such process. */
int stitch_process_uid(pid_t pid, uid_t *ret);
/* The uid of a local Unix account, -ENOENT if none. */
int stitch_lookup_uid(const char *name, uid_t *ret);
/* Whether uid is root or a member of 'group' (primary or supplementary). */
bool stitch_uid_in_group(uid_t uid, gid_t primary_gid, const char *group);

#define STITCH_APIKEY_PREFIX "stk_"
#define STITCH_REFRESH_PREFIX "str_"
#define STITCH_BINDING_PREFIX "stb_" /* session binding: proves a caller got the session from Login */
#define STITCH_SECRET_B64_LEN 43 /* base64url of 32 bytes */
