/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Stitch users as Unix accounts ([Accounts] in stitchd.conf): every user
 * with a unix_name gets a uid from UIDRange=, kept in the store so that it
 * never changes (and is the same on every host of a shared store), and a
 * user-private group whose gid is the uid. The io.systemd.UserDatabase
 * responder serves what the functions below build.
 *
 * A uid is never 65534 or 65535, never one /etc/passwd has as a uid or
 * /etc/group as a gid, and never one the store ever gave a user (deleted
 * users' included). /etc/passwd and /etc/group are read as files, never
 * through NSS: with "passwd: files systemd" an NSS call from stitchd would
 * come back to our own userdb socket. They are parsed once and again only
 * when stat says they changed.
 *
 * The look-ups read the store's read connection and the two files, nothing
 * else: they are meant for the event loop (an NSS lookup waits on them).
 * Allocation writes: run it on a worker. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "store/store.h"

struct stitch_core;

/* The "service" of every record: also the socket's name in /run/systemd/userdb/. */
#define STITCH_USERDB_SERVICE "io.stitch.UserDatabase"
#define STITCH_UNIX_PASSWD "/etc/passwd"
#define STITCH_UNIX_GROUP "/etc/group"
/* Group names read from one user's data ("groups": [...]); more are ignored. */
#define STITCH_UNIX_DATA_GROUPS_MAX 64
/* Members listed for one group (stitch_unix_account_members). */
#define STITCH_UNIX_MEMBERS_MAX 65536

/* The parsed /etc/passwd and /etc/group (struct stitch_core.unix_files). */
struct stitch_unix_files;

/* NULL paths: STITCH_UNIX_PASSWD and STITCH_UNIX_GROUP. Nothing is read yet. */
int stitch_unix_files_new(const char *passwd_path, const char *group_path, struct stitch_unix_files **ret);
struct stitch_unix_files *stitch_unix_files_free(struct stitch_unix_files *f);

/* Tests: read these files instead. Before stitch_core_start(), or while no other thread uses the core. */
int stitch_unix_accounts_set_files(struct stitch_core *core, const char *passwd_path, const char *group_path);

/* Whether an account of this name or uid would clash with the local files: the name is a user
 * in /etc/passwd or a group in /etc/group, or the uid is a uid in /etc/passwd or a gid in
 * /etc/group. Also true when a file cannot be read (never serve what might clash). */
bool stitch_unix_account_collides(struct stitch_core *core, const char *name, int64_t uid);

/* Allocation (durable writes: a worker) ---------------------------------------------------- */

/* The uid of user_id: the one it has, or a new one from UIDRange= (the next above the highest
 * ever given, wrapping to the start of the range and searching upward when the top is reached).
 * Logs an allocation and emits users-changed. Returns 1 if it allocated now, 0 if the user had
 * one; -ENOENT no such user, -ENODATA the user has no unix_name, -ENOSPC the range is full
 * (logged), or a store error. */
int stitch_unix_account_assign(struct stitch_core *core, const char *user_id, int64_t *ret_uid);
/* Gives every user with a unix_name and no uid one (at start and in the periodic upkeep).
 * *ret_n = how many it gave. Stops at the first -ENOSPC or store failure. */
int stitch_unix_accounts_assign_missing(struct stitch_core *core, size_t *ret_n);

/* Records, in the shape of io.systemd.UserDatabase (systemd's USER_RECORD.md and GROUP_RECORD.md) */

/* {"userName","uid","gid","realName","homeDirectory","shell","disposition":"regular",
 *  "service","locked"}: realName is the user's name when it is a valid GECOS field, else the
 * unix_name; locked is true when the stitch user is disabled. -EINVAL if u has no unix_name
 * or uid. */
int stitch_unix_account_user_record(struct stitch_core *core, const struct stitch_user *u, cJSON **ret);
/* The user-private group: {"groupName" (the unix_name),"gid" (the uid),"service"}. */
int stitch_unix_account_group_record(struct stitch_core *core, const struct stitch_user *u, cJSON **ret);

/* Memberships: the supplementary groups of an account are [Accounts] Groups= and then the
 * valid names of a "groups" array of strings in the user's data (invalid ones, its own
 * user-private group and repeats are left out), at most STITCH_UNIX_DATA_GROUPS_MAX of those.
 * Their records come from elsewhere (/etc/group): only user-private groups are ours. */
int stitch_unix_account_groups(struct stitch_core *core, const struct stitch_user *u, char ***ret_groups);
/* The user names of the accounts (collisions left out) whose supplementary groups include
 * 'group', in uid order, at most STITCH_UNIX_MEMBERS_MAX: every account for a group of
 * Groups=, else those whose data names it. A walk of the accounts in the store. */
int stitch_unix_account_members(struct stitch_core *core, const char *group, char ***ret_user_names);

/* Look-ups for the responder (reads only: the event loop) ------------------------------------ */

/* The account of a user name or uid: a user with that unix_name (or uid) and a uid, whose
 * name and uid do not collide with the local files (a collision is logged once per user and
 * change of the files). -ENOENT otherwise, -EINVAL for a name no account can have. */
int stitch_unix_account_find_by_name(struct stitch_core *core, const char *name, struct stitch_user **ret);
int stitch_unix_account_find_by_uid(struct stitch_core *core, int64_t uid, struct stitch_user **ret);
/* The same, as records; a group is found by its name (the unix_name) or gid (the uid). */
int stitch_unix_account_user_by_name(struct stitch_core *core, const char *name, cJSON **ret);
int stitch_unix_account_user_by_uid(struct stitch_core *core, int64_t uid, cJSON **ret);
int stitch_unix_account_group_by_name(struct stitch_core *core, const char *name, cJSON **ret);
int stitch_unix_account_group_by_gid(struct stitch_core *core, int64_t gid, cJSON **ret);
/* Enumeration (Enumerate=yes): the accounts with a uid above after_uid, in uid order, at most
 * 'limit' looked at, collisions left out. *ret_next_uid is the cursor for the next page (the
 * last uid looked at); *ret_n == 0 with a cursor unchanged means the end. */
int stitch_unix_accounts_list(struct stitch_core *core, int64_t after_uid, size_t limit, struct stitch_user ***ret,
                              size_t *ret_n, int64_t *ret_next_uid);
