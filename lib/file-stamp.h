/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What stat() says of a file, to tell cheaply whether it changed since it
 * was read (/etc/passwd and /etc/group, for the caches built from them):
 * device, inode, size and both times, or the error stat gave. */

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

struct stitch_file_stamp {
        int error; /* errno of a failed stat(), else 0 */
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtim, ctim;
};

void stitch_file_stamp_get(const char *path, struct stitch_file_stamp *ret);
bool stitch_file_stamp_equal(const struct stitch_file_stamp *a, const struct stitch_file_stamp *b);
