/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "trusted-path.h"

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
