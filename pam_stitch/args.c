/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Module arguments. They are read afresh on every hook, so "socket=",
 * "timeout=" and "debug" apply on whichever line they are given. */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <syslog.h>

#include <security/pam_ext.h>

#include "macro.h"
#include "pam_stitch.h"

/* A provider name as the daemon spells them; which ones exist is the
 * daemon's business (it answers InvalidParameter for an unknown one). */
static bool provider_name_is_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > PAM_STITCH_PROVIDER_MAX)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
                        return false;
        return true;
}

static int parse_timeout(const char *s, unsigned *ret) {
        char *end = NULL;
        unsigned long v;

        /* Digits only: strtoul would accept a sign and leading blanks. */
        if (!*s || strspn(s, "0123456789") != strlen(s))
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || !end || *end)
                return -EINVAL;
        if (v < 1 || v > PAM_STITCH_MAX_TIMEOUT_SEC)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

static bool socket_path_is_valid(const char *s) {
        struct sockaddr_un sa;

        return s[0] == '/' && strlen(s) < sizeof(sa.sun_path);
}

/* An absolute path to a file, without "." or ".." components: the cache is
 * opened one component at a time from "/", never following a symlink. */
static bool cache_path_is_valid(const char *s) {
        const char *name;
        size_t n = strlen(s);

        if (s[0] != '/' || n >= PATH_MAX || s[n - 1] == '/')
                return false;
        for (const char *c = s; *c;) {
                size_t len;

                c += strspn(c, "/");
                len = strcspn(c, "/");
                if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                c += len;
        }
        name = strrchr(s, '/') + 1;
        return strlen(name) <= PAM_STITCH_CACHE_NAME_MAX;
}

/* "name=value": returns value if arg starts with name and '=' */
static const char *startswith_key(const char *arg, const char *key) {
        size_t n = strlen(key);

        if (strncmp(arg, key, n) != 0 || arg[n] != '=')
                return NULL;
        return arg + n + 1;
}

int pam_stitch_args_parse(pam_handle_t *pamh, int flags, int argc, const char **argv,
                          struct pam_stitch_args *ret) {
        struct pam_stitch_args a = {
                .provider = NULL,
                .offline = PAM_STITCH_OFFLINE_IGNORE,
                .cache = PAM_STITCH_DEFAULT_CACHE,
                .socket = PAM_STITCH_DEFAULT_SOCKET,
                .timeout_sec = PAM_STITCH_DEFAULT_TIMEOUT_SEC,
                .daemon_user = PAM_STITCH_DEFAULT_DAEMON_USER,
                .silent = !!(flags & PAM_SILENT),
        };
        int r = 0;

        for (int i = 0; i < argc; i++) {
                const char *arg = argv[i], *v;

                if (!arg)
                        continue;

                if (streq(arg, "debug"))
                        a.debug = true;
                else if (streq(arg, "use_first_pass"))
                        a.use_first_pass = true;
                else if (streq(arg, "try_first_pass"))
                        a.try_first_pass = true;
                else if (streq(arg, "use_authtok"))
                        a.use_authtok = true;
                else if (streq(arg, "noqr"))
                        a.noqr = true;
                else if ((v = startswith_key(arg, "provider"))) {
                        if (!provider_name_is_valid(v)) {
                                pam_syslog(pamh, LOG_ERR,
                                           "Invalid argument \"%s\": expected provider=NAME (1-64 of [a-z0-9-], such as auto, local-userpass, api-key or anon-user).",
                                           arg);
                                r = -EINVAL;
                        } else
                                a.provider = streq(v, "auto") ? NULL : v;
                } else if ((v = startswith_key(arg, "socket"))) {
                        if (!socket_path_is_valid(v)) {
                                pam_syslog(pamh, LOG_ERR,
                                           "Invalid argument \"%s\": the socket must be an absolute path shorter than %zu bytes.",
                                           arg, sizeof(((struct sockaddr_un *) NULL)->sun_path));
                                r = -EINVAL;
                        } else
                                a.socket = v;
                } else if ((v = startswith_key(arg, "timeout"))) {
                        if (parse_timeout(v, &a.timeout_sec) < 0) {
                                pam_syslog(pamh, LOG_ERR,
                                           "Invalid argument \"%s\": expected a whole number of seconds from 1 to %d.",
                                           arg, PAM_STITCH_MAX_TIMEOUT_SEC);
                                r = -EINVAL;
                        }
                } else if ((v = startswith_key(arg, "daemon_user"))) {
                        if (isempty(v)) {
                                pam_syslog(pamh, LOG_ERR, "Invalid argument \"%s\": a user name is required.", arg);
                                r = -EINVAL;
                        } else
                                a.daemon_user = v;
                } else if ((v = startswith_key(arg, "offline"))) {
                        if (streq(v, "ignore"))
                                a.offline = PAM_STITCH_OFFLINE_IGNORE;
                        else if (streq(v, "deny"))
                                a.offline = PAM_STITCH_OFFLINE_DENY;
                        else {
                                pam_syslog(pamh, LOG_ERR, "Invalid argument \"%s\": expected offline=ignore or deny.",
                                           arg);
                                r = -EINVAL;
                        }
                } else if ((v = startswith_key(arg, "cache"))) {
                        if (!cache_path_is_valid(v)) {
                                pam_syslog(pamh, LOG_ERR,
                                           "Invalid argument \"%s\": the cache must be an absolute path to a file, without \".\" or \"..\", its name at most %d bytes.",
                                           arg, PAM_STITCH_CACHE_NAME_MAX);
                                r = -EINVAL;
                        } else {
                                a.cache = v;
                                a.cache_given = true;
                        }
                } else
                        pam_syslog(pamh, LOG_ERR, "Unknown argument \"%s\", ignored.", arg);
        }

        if (r < 0)
                return r;

        if (a.use_first_pass && a.try_first_pass)
                /* use_first_pass is the stricter of the two; keep it. */
                a.try_first_pass = false;

        *ret = a;
        return 0;
}
