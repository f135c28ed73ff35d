/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Local Unix accounts and processes, through NSS and /proc. */

#include <stdbool.h>
#include <sys/types.h>

/* The real and effective uid of a running process (from /proc): 0 when
 * both equal, -EPERM when they differ (a set-uid program), -ESRCH if there
 * is no such process. */
int stitch_process_uid(pid_t pid, uid_t *ret);
/* The uid of a local Unix account, -ENOENT if none. */
int stitch_lookup_uid(const char *name, uid_t *ret);
/* Whether uid is root or a member of 'group' (primary or supplementary). */
bool stitch_uid_in_group(uid_t uid, gid_t primary_gid, const char *group);
