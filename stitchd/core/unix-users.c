/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "core/unix-users.h"
#include "fnv.h"
#include "macro.h"

/* Every login records the uid of its Unix account, and NSS can be slow: a
 * name that is not in /etc/passwd costs nss-systemd a scan of the userdb
 * directories, or a varlink call to systemd-userdbd (0.15-0.25 ms here, more
 * with userdbd). Answers (found or not found; never errors) are kept for a few
 * seconds, like nscd does for much longer. 4096 slots (192 KiB, resident only
 * where written): a host where thousands of accounts log in within those
 * seconds (a bastion; API-key clients) still finds most of them. */
#define UID_CACHE_SLOTS 4096
#define UID_CACHE_USEC (5 * USEC_PER_SEC)
static struct {
        char name[33];
        int error; /* 0 or -ENOENT */
        uid_t uid;
        uint64_t expires; /* CLOCK_MONOTONIC usec; 0 = empty */
} uid_cache[UID_CACHE_SLOTS];
static pthread_mutex_t uid_cache_lock = PTHREAD_MUTEX_INITIALIZER;

int stitch_lookup_uid(const char *name, uid_t *ret) {
        size_t len = name ? strlen(name) : 0;
        bool cacheable = len > 0 && len < sizeof(uid_cache[0].name);
        unsigned k = stitch_fnv1a32(STITCH_FNV32_BASIS, name, len) % UID_CACHE_SLOTS;
        uint64_t now = stitch_now_usec(CLOCK_MONOTONIC);

        if (!name)
                return -EINVAL;
        if (cacheable) {
                int r = 1;
                pthread_mutex_lock(&uid_cache_lock);
                if (uid_cache[k].expires > now && streq(uid_cache[k].name, name)) {
                        r = uid_cache[k].error;
                        if (r == 0)
                                *ret = uid_cache[k].uid;
                }
                pthread_mutex_unlock(&uid_cache_lock);
                if (r <= 0)
                        return r;
        }

        struct passwd pw, *result = NULL;
        char buf[4096];
        int r = getpwnam_r(name, &pw, buf, sizeof(buf), &result);
        if (r != 0)
                return -r; /* a failing lookup is not an answer: not cached */
        r = result ? 0 : -ENOENT;
        if (cacheable) {
                pthread_mutex_lock(&uid_cache_lock);
                memcpy(uid_cache[k].name, name, len + 1);
                uid_cache[k].error = r;
                uid_cache[k].uid = result ? pw.pw_uid : (uid_t) -1;
                uid_cache[k].expires = now + UID_CACHE_USEC;
                pthread_mutex_unlock(&uid_cache_lock);
        }
        if (r < 0)
                return r;
        *ret = pw.pw_uid;
        return 0;
}

bool stitch_uid_in_group(uid_t uid, gid_t primary_gid, const char *group) {
        if (uid == 0)
                return true;
        if (isempty(group))
                return false;

        struct group gr, *gresult = NULL;
        char *buf = malloc(65536);
        if (!buf)
                return false;
        bool found = false;
        if (getgrnam_r(group, &gr, buf, 65536, &gresult) == 0 && gresult) {
                if (gr.gr_gid == primary_gid)
                        found = true;
                else {
                        struct passwd pw, *presult = NULL;
                        char pbuf[4096];
                        if (getpwuid_r(uid, &pw, pbuf, sizeof(pbuf), &presult) == 0 && presult) {
                                if (pw.pw_gid == gr.gr_gid)
                                        found = true;
                                for (char **m = gr.gr_mem; !found && m && *m; m++)
                                        if (streq(*m, pw.pw_name))
                                                found = true;
                        }
                }
        }
        free(buf);
        return found;
}

int stitch_process_uid(pid_t pid, uid_t *ret) {
        char path[64], line[256];
        int r = -EIO;

        if (pid <= 0)
                return -ESRCH;
        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? -ESRCH : -errno;
        while (fgets(line, sizeof(line), f)) {
                unsigned long real, effective;
                if (sscanf(line, "Uid: %lu %lu", &real, &effective) == 2) {
                        if (real != effective)
                                r = -EPERM;
                        else {
                                *ret = (uid_t) real;
                                r = 0;
                        }
                        break;
                }
        }
        fclose(f);
        return r;
}
