/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "base64url.h"
#include "log.h"
#include "fnv.h"
#include "macro.h"
#include "core/util.h"

int stitch_random_bytes(void *buf, size_t n) {
        if (n > INT32_MAX)
                return -EINVAL;
        if (RAND_bytes(buf, (int) n) != 1)
                return log_error_errno(EIO, "RAND_bytes failed.");
        return 0;
}

static pthread_mutex_t objectid_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t objectid_process[5];
static uint32_t objectid_counter;
static bool objectid_initialised;

int stitch_objectid_new(char ret[STITCH_ID_LEN + 1]) {
        uint8_t b[12];
        uint32_t t = (uint32_t) time(NULL);
        int r = 0;

        pthread_mutex_lock(&objectid_lock);
        if (!objectid_initialised) {
                uint8_t seed[8];
                r = stitch_random_bytes(seed, sizeof(seed));
                if (r >= 0) {
                        memcpy(objectid_process, seed, 5);
                        objectid_counter = (uint32_t) seed[5] << 16 | (uint32_t) seed[6] << 8 | seed[7];
                        objectid_initialised = true;
                }
        }
        uint32_t c = objectid_counter++;
        pthread_mutex_unlock(&objectid_lock);
        if (r < 0)
                return r;

        b[0] = t >> 24, b[1] = t >> 16, b[2] = t >> 8, b[3] = t;
        memcpy(b + 4, objectid_process, 5);
        b[9] = c >> 16, b[10] = c >> 8, b[11] = c;
        static const char hex[] = "0123456789abcdef";
        for (size_t i = 0; i < 12; i++) {
                ret[2 * i] = hex[b[i] >> 4];
                ret[2 * i + 1] = hex[b[i] & 15];
        }
        ret[STITCH_ID_LEN] = 0;
        return 0;
}

int stitch_session_id_new(char ret[STITCH_ID_LEN + 1]) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        size_t n = 0;

        /* Rejection sampling: bytes >= 248 (4 * 62) would bias the choice. */
        while (n < STITCH_ID_LEN) {
                uint8_t b[32];
                int r = stitch_random_bytes(b, sizeof(b));
                if (r < 0)
                        return r;
                for (size_t i = 0; i < sizeof(b) && n < STITCH_ID_LEN; i++)
                        if (b[i] < 4 * 62)
                                ret[n++] = alphabet[b[i] % 62];
                explicit_bzero(b, sizeof(b));
        }
        ret[STITCH_ID_LEN] = 0;
        return 0;
}

int stitch_secret_new(const char *prefix, char **ret) {
        uint8_t raw[32];
        size_t pl = strlen(prefix);
        char *s = malloc(pl + STITCH_SECRET_B64_LEN + 2);
        if (!s)
                return -ENOMEM;
        int r = stitch_random_bytes(raw, sizeof(raw));
        if (r < 0) {
                free(s);
                return r;
        }
        memcpy(s, prefix, pl);
        stitch_base64url_encode(raw, sizeof(raw), s + pl); /* and the NUL */
        explicit_bzero(raw, sizeof(raw));
        *ret = s;
        return 0;
}

int stitch_sha256(const void *data, size_t n, uint8_t ret[STITCH_HASH_LEN]) {
        /* A failure must not leave ret as it was: a hash stored from
         * uninitialised bytes would acknowledge a secret that never works. */
        if (!SHA256(data, n, ret)) {
                explicit_bzero(ret, STITCH_HASH_LEN);
                return log_error_errno(EIO, "SHA-256 failed.");
        }
        return 0;
}

int64_t stitch_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec;
}

uint64_t stitch_now_usec(int clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* Every login records the uid of its Unix account, and NSS can be slow: a
 * name that is not in /etc/passwd costs nss-systemd a scan of the userdb
 * directories, or a varlink call to systemd-userdbd (0.15-0.25 ms here, more
 * with userdbd). Answers (found or not found; never errors) are kept for a few
 * seconds, like nscd does for much longer. */
#define UID_CACHE_SLOTS 256
#define UID_CACHE_USEC (5 * USEC_PER_SEC)
static struct {
        char name[33];
        int error; /* 0 or -ENOENT */
        uid_t uid;
        uint64_t expires; /* CLOCK_MONOTONIC usec; 0 = empty */
} uid_cache[UID_CACHE_SLOTS];
static pthread_mutex_t uid_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t monotonic_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

int stitch_check_trusted(const char *path, bool directory, const char *what) {
        struct stat st;
        if (stat(path, &st) < 0)
                return log_error_errno(errno, "Cannot check %s %s: %m", what, path);
        if (directory ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
                return log_error_errno(EPERM, "Refusing %s %s: not a %s.", what, path,
                                       directory ? "directory" : "regular file");
        if (st.st_uid != 0 && st.st_uid != geteuid())
                return log_error_errno(EPERM, "Refusing %s %s: owned by uid %u, not by root or uid %u.", what, path,
                                       (unsigned) st.st_uid, (unsigned) geteuid());
        if (st.st_mode & 0022)
                return log_error_errno(EPERM, "Refusing %s %s: writable by group or others (mode %04o).", what, path,
                                       (unsigned) (st.st_mode & 07777));
        return 0;
}

int stitch_lookup_uid(const char *name, uid_t *ret) {
        size_t len = name ? strlen(name) : 0;
        bool cacheable = len > 0 && len < sizeof(uid_cache[0].name);
        unsigned k = stitch_fnv1a32(STITCH_FNV32_BASIS, name, len) % UID_CACHE_SLOTS;
        uint64_t now = monotonic_usec();

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
