/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The offline account cache, for offline=deny.
 *
 * While stitchd is down the account hook cannot ask it; by default it
 * answers PAM_AUTHINFO_UNAVAIL and the shipped stacks leave the decision to
 * the next modules, so that a down daemon locks out no local account. That
 * also lets a disabled stitch user in with an SSH key. With offline=deny the
 * hook tells the two apart by what the daemon last said about the Unix name:
 * every authoritative Authorize answer (allowed, UserDisabled, NotFound) is
 * remembered here, and a name the cache knows as a stitch account is refused
 * while the daemon cannot be asked.
 *
 * The file decides who may log in, so it is root's alone: read and written
 * only with euid 0; reached from "/" one directory at a time without
 * following a symlink, every directory above it root's and writable by
 * nobody else (or sticky, like /tmp); its own directory root's with mode
 * 0700; the file regular, root's, writable by nobody else. Updates replace
 * it whole (temporary file in the same directory, fsync, rename, fsync of
 * the directory) under flock() on the directory; readers take no lock.
 *
 * Format: a header line, then one line per account, sorted bytewise by name
 * without duplicates (so a lookup is a binary search and a duplicate is a
 * parse error):
 *     # pam_stitch account cache 1
 *     disabled bob
 *     managed alice
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modutil.h>

#include "macro.h"
#include "pam_stitch.h"
#include "wire.h"

#define CACHE_HEADER "# pam_stitch account cache 1\n"
/* A missing or unsafe cache; other failures are other -errno values. */
#define CACHE_UNSAFE (-EPERM)
/* Updates wait this long for another process's update to finish. */
#define LOCK_WAIT_MS 1000
#define LOCK_POLL_MS 10

static const char *const state_words[] = {
        [PAM_STITCH_ACCOUNT_MANAGED] = "managed",
        [PAM_STITCH_ACCOUNT_DISABLED] = "disabled",
};

struct entry {
        const char *name; /* into cache.data, or the caller's */
        enum pam_stitch_account_state state;
};

struct cache {
        char *data;
        struct entry *entries; /* sorted by name */
        size_t n;
};

static void cache_done(struct cache *c) {
        free(c->data);
        free(c->entries);
        *c = (struct cache) {};
}

static const char *errno_string(int error, char *buf, size_t size) {
        return strerror_r(error < 0 ? -error : error, buf, size);
}

static int log_errno(pam_handle_t *pamh, int error, const char *what, const char *path) {
        char buf[128];

        pam_syslog(pamh, LOG_ERR, "%s %s: %s", what, path, errno_string(error, buf, sizeof(buf)));
        return error;
}

static int log_unsafe(pam_handle_t *pamh, const char *path, const char *why) {
        pam_syslog(pamh, LOG_ERR, "The account cache %s is not safe to use: %s.", path, why);
        return CACHE_UNSAFE;
}

/* The names the module sends to the daemon (1..PAM_STITCH_USER_MAX bytes of
 * UTF-8), without control characters: a name is the rest of its line. */
static bool name_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > PAM_STITCH_USER_MAX || !stitch_utf8_is_valid(s, n))
                return false;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

static const char *printable(const char *s, char *buf, size_t size) {
        pam_stitch_sanitize_text(s, buf, size);
        return buf;
}

static const char *cache_file_name(const char *path) {
        const char *slash = strrchr(path, '/');

        assert(slash);
        return slash + 1;
}

static bool ancestor_is_safe(const struct stat *st) {
        return S_ISDIR(st->st_mode) && st->st_uid == 0 &&
               ((st->st_mode & (S_IWGRP | S_IWOTH)) == 0 || (st->st_mode & S_ISVTX));
}

/* Opens the directory of the cache at 'path' (args.c checked: absolute, no
 * "." or ".." components). 'create' makes the last directory (mode 0700) if
 * it is missing. Returns the fd, -ENOENT if a directory is missing,
 * CACHE_UNSAFE or another -errno (both logged). */
static int open_cache_dir(pam_handle_t *pamh, const char *path, bool create) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        char *c;

        dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        *strrchr(dir, '/') = 0; /* the directory part; "" for "/" */

        fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return log_errno(pamh, -errno, "Cannot open / for the account cache", path);

        for (c = dir + strspn(dir, "/"); *c; c += strspn(c, "/")) {
                size_t len = strcspn(c, "/");
                bool last = c[len + strspn(c + len, "/")] == 0;
                int sub;

                if (c[len])
                        c[len++] = 0;

                if (fstat(fd, &st) < 0)
                        return log_errno(pamh, -errno, "Cannot check a directory above the account cache", path);
                if (!ancestor_is_safe(&st))
                        return log_unsafe(pamh, path, "a directory above it is not root's, or others may write to it");

                sub = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0 && errno == ENOENT && last && create) {
                        if (mkdirat(fd, c, 0700) < 0 && errno != EEXIST)
                                return log_errno(pamh, -errno, "Cannot create the directory of the account cache", path);
                        sub = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                }
                if (sub < 0) {
                        if (errno == ENOENT)
                                return -ENOENT;
                        if (errno == ELOOP || errno == ENOTDIR)
                                return log_unsafe(pamh, path, "its path has a symbolic link or something else than a directory");
                        return log_errno(pamh, -errno, "Cannot open the directory of the account cache", path);
                }
                closep(&fd);
                fd = sub;
                c += len;
        }

        if (fstat(fd, &st) < 0)
                return log_errno(pamh, -errno, "Cannot check the directory of the account cache", path);
        if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077) != 0)
                return log_unsafe(pamh, path, "its directory must be root's with mode 0700");
        return TAKE_FD(fd);
}

static int find(const struct cache *c, const char *name, size_t *ret_index) {
        size_t lo = 0, hi = c->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int d = strcmp(c->entries[mid].name, name);

                if (d == 0) {
                        *ret_index = mid;
                        return 1;
                }
                if (d < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret_index = lo; /* where it would go */
        return 0;
}

/* Parses 'data' (size bytes, NUL-terminated), which c takes over. Returns 0,
 * or -EBADMSG with *ret_line the first bad line. */
static int parse_cache(char *data, size_t size, struct cache *c, size_t *ret_line) {
        const size_t header = strlen(CACHE_HEADER);
        char *p, *end = data + size;
        size_t lines = 0, line = 1;

        c->data = data;
        if (size < header || memcmp(data, CACHE_HEADER, header) != 0 || memchr(data, 0, size)) {
                *ret_line = 1;
                return -EBADMSG;
        }
        for (p = data + header; p < end; p++)
                lines += *p == '\n';
        if (lines > PAM_STITCH_CACHE_MAX_ENTRIES) {
                *ret_line = PAM_STITCH_CACHE_MAX_ENTRIES + 2;
                return -EBADMSG;
        }
        c->entries = calloc(lines + 1, sizeof(struct entry));
        if (!c->entries)
                return -ENOMEM;

        for (p = data + header; p < end;) {
                char *eol = memchr(p, '\n', (size_t) (end - p)), *space;
                struct entry e = {};

                *ret_line = ++line;
                if (!eol)
                        return -EBADMSG; /* cut short */
                *eol = 0;
                space = strchr(p, ' ');
                if (!space)
                        return -EBADMSG;
                *space = 0;
                if (streq(p, state_words[PAM_STITCH_ACCOUNT_MANAGED]))
                        e.state = PAM_STITCH_ACCOUNT_MANAGED;
                else if (streq(p, state_words[PAM_STITCH_ACCOUNT_DISABLED]))
                        e.state = PAM_STITCH_ACCOUNT_DISABLED;
                else
                        return -EBADMSG;
                e.name = space + 1;
                if (!name_is_valid(e.name) || (c->n > 0 && strcmp(c->entries[c->n - 1].name, e.name) >= 0))
                        return -EBADMSG;
                c->entries[c->n++] = e;
                p = eol + 1;
        }
        return 0;
}

/* Reads the cache file in dir_fd. Returns 0, -ENOENT if there is none yet,
 * CACHE_UNSAFE or another -errno (both logged). */
static int read_cache(pam_handle_t *pamh, const char *path, int dir_fd, struct cache *ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *data = NULL;
        struct cache c = {};
        struct stat st;
        size_t size = 0, line = 0;
        int r;

        fd = openat(dir_fd, cache_file_name(path), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT)
                        return -ENOENT;
                if (errno == ELOOP)
                        return log_unsafe(pamh, path, "it is a symbolic link");
                return log_errno(pamh, -errno, "Cannot open the account cache", path);
        }
        if (fstat(fd, &st) < 0)
                return log_errno(pamh, -errno, "Cannot check the account cache", path);
        if (!S_ISREG(st.st_mode))
                return log_unsafe(pamh, path, "it is not a regular file");
        if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
                return log_unsafe(pamh, path, "it must be root's and writable by nobody else");
        if (st.st_size > PAM_STITCH_CACHE_MAX_SIZE) {
                pam_syslog(pamh, LOG_ERR, "The account cache %s is larger than %d bytes.", path,
                           PAM_STITCH_CACHE_MAX_SIZE);
                return -EFBIG;
        }

        /* One byte more than fstat said, to notice a file that grows. */
        data = malloc((size_t) st.st_size + 2);
        if (!data)
                return -ENOMEM;
        while (size <= (size_t) st.st_size) {
                ssize_t k = read(fd, data + size, (size_t) st.st_size + 1 - size);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return log_errno(pamh, -errno, "Cannot read the account cache", path);
                if (k == 0)
                        break;
                size += (size_t) k;
        }
        if (size != (size_t) st.st_size) {
                pam_syslog(pamh, LOG_ERR, "The account cache %s changed while it was read.", path);
                return -EBADMSG;
        }
        data[size] = 0;

        r = parse_cache(TAKE_PTR(data), size, &c, &line);
        if (r < 0) {
                cache_done(&c);
                if (r == -EBADMSG)
                        pam_syslog(pamh, LOG_ERR, "The account cache %s is malformed (line %zu).", path, line);
                return r;
        }
        *ret = c;
        return 0;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Replaces the cache file with 'entries': a temporary file beside it,
 * fsync, rename over it, fsync of the directory. The caller holds the lock. */
static int write_cache(pam_handle_t *pamh, const char *path, int dir_fd, const struct entry *entries, size_t n) {
        const char *name = cache_file_name(path);
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        char tmp[PAM_STITCH_CACHE_NAME_MAX + 8];
        size_t size = strlen(CACHE_HEADER), at;
        int r;

        for (size_t i = 0; i < n; i++)
                size += strlen(state_words[entries[i].state]) + 1 + strlen(entries[i].name) + 1;
        if (size > PAM_STITCH_CACHE_MAX_SIZE)
                return -EFBIG;
        text = malloc(size + 1);
        if (!text)
                return -ENOMEM;
        at = (size_t) snprintf(text, size + 1, "%s", CACHE_HEADER);
        for (size_t i = 0; i < n; i++)
                at += (size_t) snprintf(text + at, size + 1 - at, "%s %s\n", state_words[entries[i].state],
                                        entries[i].name);
        assert(at == size);

        r = snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
        if (r < 0 || (size_t) r >= sizeof(tmp))
                return -ENAMETOOLONG;

        /* Ours alone under the lock: one left behind by a crash goes. */
        (void) unlinkat(dir_fd, tmp, 0);
        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        if (fchown(fd, 0, 0) < 0 || fchmod(fd, 0600) < 0)
                r = -errno;
        else
                r = write_all(fd, text, size);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (close(TAKE_FD(fd)) < 0 && r >= 0)
                r = -errno;
        if (r >= 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        /* The rename itself is durable only once the directory is. */
        if (fsync(dir_fd) < 0)
                return -errno;
        return 0;
}

/* Waits at most LOCK_WAIT_MS for another process's update. */
static int lock_cache_dir(int dir_fd) {
        const struct timespec poll = {.tv_nsec = LOCK_POLL_MS * 1000000L};

        for (unsigned waited = 0;;) {
                if (flock(dir_fd, LOCK_EX | LOCK_NB) == 0)
                        return 0;
                if (errno == EINTR)
                        continue;
                if (errno != EWOULDBLOCK)
                        return -errno;
                if (waited >= LOCK_WAIT_MS)
                        return -ETIMEDOUT;
                (void) nanosleep(&poll, NULL);
                waited += LOCK_POLL_MS;
        }
}

/* The state 'c' records for 'name'. */
static enum pam_stitch_account_state cache_state(const struct cache *c, const char *name) {
        size_t i;

        return find(c, name, &i) ? c->entries[i].state : PAM_STITCH_ACCOUNT_UNKNOWN;
}

/* Applies the new state of 'user' to 'c' and writes the result. Returns 1
 * if the file changed, 0 if it already said so, -ENOSPC when full. */
static int update_cache(pam_handle_t *pamh, const char *path, int dir_fd, const struct cache *c, const char *user,
                        enum pam_stitch_account_state state) {
        _cleanup_free_ struct entry *entries = NULL;
        size_t i, n = c->n;
        bool found;
        int r;

        found = find(c, user, &i);
        if ((found ? c->entries[i].state : PAM_STITCH_ACCOUNT_UNKNOWN) == state)
                return 0;
        if (!found && c->n >= PAM_STITCH_CACHE_MAX_ENTRIES)
                return -ENOSPC;

        entries = calloc(c->n + 1, sizeof(struct entry));
        if (!entries)
                return -ENOMEM;
        if (c->n > 0)
                memcpy(entries, c->entries, c->n * sizeof(struct entry));
        if (state == PAM_STITCH_ACCOUNT_UNKNOWN) {
                memmove(entries + i, entries + i + 1, (n - i - 1) * sizeof(struct entry));
                n--;
        } else if (found)
                entries[i].state = state;
        else {
                memmove(entries + i + 1, entries + i, (n - i) * sizeof(struct entry));
                entries[i] = (struct entry) {.name = user, .state = state};
                n++;
        }

        r = write_cache(pamh, path, dir_fd, entries, n);
        return r < 0 ? r : 1;
}

void pam_stitch_cache_record(pam_handle_t *pamh, const struct pam_stitch_args *args, const char *user,
                             enum pam_stitch_account_state state) {
        _cleanup_close_ int dir_fd = -EBADF;
        struct cache c = {};
        char ubuf[64], ebuf[128];
        int r;

        assert(user);
        if (args->offline != PAM_STITCH_OFFLINE_DENY && !args->cache_given)
                return;
        if (geteuid() != 0) {
                if (args->debug)
                        pam_syslog(pamh, LOG_DEBUG, "Not running as root: the account cache is left alone.");
                return;
        }
        if (!name_is_valid(user)) {
                pam_syslog(pamh, LOG_NOTICE, "User name \"%s\" cannot be kept in the account cache.",
                           printable(user, ubuf, sizeof(ubuf)));
                return;
        }

        /* Not a stitch account and no cache yet: nothing to create. */
        dir_fd = open_cache_dir(pamh, args->cache, state != PAM_STITCH_ACCOUNT_UNKNOWN);
        if (dir_fd == -ENOENT && state != PAM_STITCH_ACCOUNT_UNKNOWN)
                pam_syslog(pamh, LOG_ERR, "Cannot update the account cache %s: a directory above it does not exist.",
                           args->cache);
        if (dir_fd < 0)
                return; /* the reason is logged */

        /* Most answers change nothing: no lock, no write. */
        r = read_cache(pamh, args->cache, dir_fd, &c);
        if (r < 0 && r != -ENOENT)
                goto unusable;
        if (cache_state(&c, user) == state) {
                cache_done(&c);
                return;
        }
        cache_done(&c);

        r = lock_cache_dir(dir_fd);
        if (r < 0) {
                pam_syslog(pamh, LOG_ERR, "Cannot lock the account cache %s: %s; \"%s\" is not recorded as %s.",
                           args->cache, errno_string(r, ebuf, sizeof(ebuf)), printable(user, ubuf, sizeof(ubuf)),
                           state == PAM_STITCH_ACCOUNT_UNKNOWN ? "unknown" : state_words[state]);
                return;
        }
        r = read_cache(pamh, args->cache, dir_fd, &c); /* again: another update may have come first */
        if (r < 0 && r != -ENOENT)
                goto unusable;
        r = update_cache(pamh, args->cache, dir_fd, &c, user, state);
        cache_done(&c);
        if (r < 0) {
                if (r == -ENOSPC)
                        pam_syslog(pamh, LOG_WARNING, "The account cache %s is full (%d accounts); \"%s\" is not recorded.",
                                   args->cache, PAM_STITCH_CACHE_MAX_ENTRIES, printable(user, ubuf, sizeof(ubuf)));
                else
                        pam_syslog(pamh, LOG_ERR, "Cannot update the account cache %s: %s.", args->cache,
                                   errno_string(r, ebuf, sizeof(ebuf)));
                return;
        }
        if (r > 0)
                pam_syslog(pamh, LOG_INFO, "Account cache: \"%s\" is %s.", printable(user, ubuf, sizeof(ubuf)),
                           state == PAM_STITCH_ACCOUNT_UNKNOWN ? "not a stitch account" : state_words[state]);
        return;

unusable:
        /* Not rewritten: an unsafe or broken cache is the administrator's to look at. */
        pam_syslog(pamh, LOG_ERR, "Not updating the account cache %s.", args->cache);
}

/* The state the cache records for 'user': 0, -ENOENT if there is no cache
 * yet, another negative value (logged) if it cannot be used. */
static int cache_lookup(pam_handle_t *pamh, const char *path, const char *user,
                        enum pam_stitch_account_state *ret) {
        _cleanup_close_ int dir_fd = -EBADF;
        struct cache c = {};
        int r;

        dir_fd = open_cache_dir(pamh, path, false);
        if (dir_fd < 0)
                return dir_fd;
        r = read_cache(pamh, path, dir_fd, &c);
        if (r < 0)
                return r;
        *ret = cache_state(&c, user);
        cache_done(&c);
        return 0;
}

static bool user_is_root(pam_handle_t *pamh, const char *user) {
        const struct passwd *pw = pam_modutil_getpwnam(pamh, user);

        return pw && pw->pw_uid == 0;
}

int pam_stitch_account_offline(pam_handle_t *pamh, const struct pam_stitch_args *args, const char *user) {
        enum pam_stitch_account_state state = PAM_STITCH_ACCOUNT_UNKNOWN;
        char ubuf[64];
        int r;

        assert(user);
        if (args->offline != PAM_STITCH_OFFLINE_DENY)
                return PAM_AUTHINFO_UNAVAIL;

        printable(user, ubuf, sizeof(ubuf));
        if (geteuid() != 0) {
                /* The caller already runs as the user it checks (a screen
                 * locker): it cannot start a login as anyone else. */
                pam_syslog(pamh, LOG_NOTICE,
                           "offline=deny: not running as root, so the account cache cannot be read; \"%s\" is left to the other modules.",
                           ubuf);
                return PAM_AUTHINFO_UNAVAIL;
        }
        if (!name_is_valid(user))
                return PAM_AUTHINFO_UNAVAIL; /* never recorded, so never a known stitch account */

        r = cache_lookup(pamh, args->cache, user, &state);
        if (r == -ENOENT) {
                if (args->debug)
                        pam_syslog(pamh, LOG_DEBUG, "There is no account cache %s yet.", args->cache);
                state = PAM_STITCH_ACCOUNT_UNKNOWN;
        } else if (r < 0) {
                /* We cannot tell stitch accounts from local ones. The
                 * administrator asked for stitch accounts to be refused;
                 * refuse every account but root's, which stays the way in
                 * to repair things. */
                if (user_is_root(pamh, user)) {
                        pam_syslog(pamh, LOG_ERR,
                                   "stitchd is unavailable and the account cache %s cannot be used; root (\"%s\") is left to the other modules.",
                                   args->cache, ubuf);
                        return PAM_AUTHINFO_UNAVAIL;
                }
                pam_syslog(pamh, LOG_ERR,
                           "stitchd is unavailable and the account cache %s cannot be used: refusing \"%s\" (offline=deny).",
                           args->cache, ubuf);
                pam_stitch_error_msg(pamh, args, "The stitch service is unavailable; try again later.");
                return PAM_PERM_DENIED;
        }

        switch (state) {
        case PAM_STITCH_ACCOUNT_MANAGED:
                pam_syslog(pamh, LOG_NOTICE, "stitchd is unavailable and \"%s\" is a stitch account: refused (offline=deny).",
                           ubuf);
                pam_stitch_error_msg(pamh, args, "The stitch service is unavailable; try again later.");
                return PAM_PERM_DENIED;
        case PAM_STITCH_ACCOUNT_DISABLED:
                pam_syslog(pamh, LOG_NOTICE,
                           "stitchd is unavailable and \"%s\" is a disabled stitch account: refused (offline=deny).", ubuf);
                pam_stitch_error_msg(pamh, args, "Your stitch account is disabled.");
                return PAM_ACCT_EXPIRED;
        case PAM_STITCH_ACCOUNT_UNKNOWN:
        default:
                if (args->debug)
                        pam_syslog(pamh, LOG_DEBUG, "stitchd is unavailable and \"%s\" is not a known stitch account.",
                                   ubuf);
                return PAM_AUTHINFO_UNAVAIL;
        }
}
