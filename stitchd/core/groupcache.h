/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Who is in a group ([Daemon] AdminGroup), remembered for a while. The
 * uncached check (stitch_uid_in_group) asks NSS, which may block on a
 * directory server; the admin socket asks on every call, on the event loop.
 * A member stays one for STITCH_GROUPCACHE_TTL_USEC, a non-member for the
 * shorter STITCH_GROUPCACHE_NEGATIVE_TTL_USEC, so someone just added to the
 * group is let in soon; a change to /etc/group or /etc/passwd (a stat per
 * check, which never waits on NSS) forgets everything at once. Removal from
 * a group kept in a directory service takes up to the TTL. uid 0 is always
 * a member, without a lookup. Thread-safe. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STITCH_GROUPCACHE_TTL_USEC (60ULL * 1000 * 1000)
#define STITCH_GROUPCACHE_NEGATIVE_TTL_USEC (5ULL * 1000 * 1000)
#define STITCH_GROUPCACHE_SIZE 64 /* (uid, gid) pairs; the oldest goes first */
#define STITCH_GROUPCACHE_WATCH_MAX 4

struct stitch_groupcache;

/* Overrides for tests; a NULL hooks pointer or member means the default. */
struct stitch_groupcache_hooks {
        /* The uncached check (default: stitch_uid_in_group). */
        bool (*lookup)(uid_t uid, gid_t primary_gid, const char *group);
        /* CLOCK_MONOTONIC microseconds (default: the real clock). */
        uint64_t (*now)(void);
        /* Files whose change flushes the cache, NULL-terminated, at most
         * STITCH_GROUPCACHE_WATCH_MAX (default: /etc/group, /etc/passwd). */
        const char *const *watch;
};

/* 'group' NULL or empty: only root is a member (nothing is looked up). */
int stitch_groupcache_new(const char *group, const struct stitch_groupcache_hooks *hooks,
                          struct stitch_groupcache **ret);
struct stitch_groupcache *stitch_groupcache_free(struct stitch_groupcache *c);

/* Whether uid (whose process runs with primary_gid) is in the group. */
bool stitch_groupcache_contains(struct stitch_groupcache *c, uid_t uid, gid_t primary_gid);

/* Remembered answers, expired ones included (for tests). */
size_t stitch_groupcache_size(struct stitch_groupcache *c);
