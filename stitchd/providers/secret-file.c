/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "providers/secret-file.h"
#include "trusted-path.h"

static bool printable_line(const char *s) {
        for (; *s; s++)
                if (*s < 0x21 || *s > 0x7e)
                        return false;
        return true;
}

int stitch_secret_file_read(const char *who, const char *what, const char *path, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        char buf[STITCH_SECRET_FILE_MAX + 2];
        struct stat st;
        size_t n = 0;
        int r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0)
                return log_error_errno(errno, "%s: cannot open %s %s: %m", who, what, path);
        if (fstat(fd, &st) < 0)
                return log_error_errno(errno, "%s: cannot stat %s %s: %m", who, what, path);
        r = stitch_check_trusted(path, false, what); /* logs why */
        if (r < 0)
                return r;
        if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 0077))
                return log_error_errno(EPERM, "%s: refusing %s %s: not a regular file of root or stitchd with "
                                       "mode 0600 (mode %04o).", who, what, path, (unsigned) (st.st_mode & 07777));
        for (;;) {
                ssize_t k = read(fd, buf + n, sizeof(buf) - 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = log_error_errno(errno, "%s: cannot read %s %s: %m", who, what, path);
                        goto finish;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n >= sizeof(buf) - 1) {
                        r = log_error_errno(EFBIG, "%s: %s %s is longer than %d bytes.", who, what, path,
                                            STITCH_SECRET_FILE_MAX);
                        goto finish;
                }
        }
        buf[n] = 0;
        if (n > 0 && buf[n - 1] == '\n')
                buf[--n] = 0;
        if (n > 0 && buf[n - 1] == '\r')
                buf[--n] = 0;
        if (n == 0 || strlen(buf) != n || !printable_line(buf)) {
                r = log_error_errno(EINVAL, "%s: %s %s is not one line of printable characters.", who, what, path);
                goto finish;
        }
        *ret = strdup(buf);
        r = *ret ? 0 : -ENOMEM;
finish:
        explicit_bzero(buf, sizeof(buf));
        return r;
}
