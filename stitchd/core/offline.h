/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Offline logins ([Offline] Enabled=yes; DESIGN.md "Fleet store"): when the
 * store cannot be reached, a user who logged in on this host with their
 * password within MaxAge= may log in again with it, through PAM only.
 *
 * What is kept, per Unix name, in a SQLite file of this host's
 * ([Offline] CacheFile=, root's, mode 0600): the user's id, when they last
 * logged in online, whether the store last said they were disabled, a
 * SHA-256 of the store's password hash (to notice a new password without
 * hashing again), and a verifier: an argon2id hash (PasswordHash=, its own
 * salt) of HMAC-SHA256(host key, password). The host key is 32 random
 * bytes in CacheFile.key, root's, mode 0600, made at first use. So the
 * cache never holds the store's hash, and without the key a stolen copy
 * cannot even be guessed against.
 *
 * An offline login creates nothing: no user, no session, no token (the
 * store would never learn of them). The PAM module is told the login is
 * offline and says so to the user; the account check answers from the
 * cache. A disable, delete or password change heard through the change
 * feed updates the cache (a password change, or a delete, forgets the
 * user). Records older than MaxAge are never used and are pruned. */

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

struct stitch_offline;

/* Opens (creating) the cache and its key. -EPERM (logged) if either is
 * not a regular file of ours with mode 0600 or stricter. */
int stitch_offline_open(const char *path, struct stitch_offline **ret);
struct stitch_offline *stitch_offline_free(struct stitch_offline *o);

/* Whether a store error means the store cannot be reached (rather than
 * refusing or failing on its own). */
bool stitch_offline_store_unreachable(int error);

/* After a password login made online as unix_name: records it (and a new
 * verifier when the store's hash changed since, which costs one hash).
 * Logs failures; returns 0 or -errno. */
int stitch_offline_remember(struct stitch_core *core, const char *unix_name, const char *user_id,
                            const char *password, const uint8_t store_hash_sha256[static 32], int64_t now);

/* A login as unix_name while the store is unreachable: 0 and the user's id
 * if a fresh record (within MaxAge) says the user is enabled and the
 * password matches; -EACCES if the password does not match or the user was
 * disabled (both cost one hash); -ENOENT if there is no fresh record. */
int stitch_offline_verify(struct stitch_core *core, const char *unix_name, const char *password, int64_t now,
                          char ret_user_id[static STITCH_ID_LEN + 1]);

/* The account check while the store is unreachable: 0 and the user's id
 * and last known state, or -ENOENT if there is no fresh record. */
int stitch_offline_lookup(struct stitch_core *core, const char *unix_name, int64_t now,
                          char ret_user_id[static STITCH_ID_LEN + 1], bool *ret_disabled);

/* The change feed: what the store says of a user from now on. */
int stitch_offline_user_disabled(struct stitch_core *core, const char *user_id, bool disabled);
int stitch_offline_forget_user(struct stitch_core *core, const char *user_id);

/* Drops records older than MaxAge. */
int stitch_offline_prune(struct stitch_core *core, int64_t now, size_t *ret_n);
