/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <sys/stat.h>

#include "file-stamp.h"

void stitch_file_stamp_get(const char *path, struct stitch_file_stamp *ret) {
        struct stat st;

        *ret = (struct stitch_file_stamp) {};
        if (stat(path, &st) < 0) {
                ret->error = errno;
                return;
        }
        ret->dev = st.st_dev;
        ret->ino = st.st_ino;
        ret->size = st.st_size;
        ret->mtim = st.st_mtim;
        ret->ctim = st.st_ctim;
}

static bool timespec_equal(const struct timespec *a, const struct timespec *b) {
        return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

bool stitch_file_stamp_equal(const struct stitch_file_stamp *a, const struct stitch_file_stamp *b) {
        return a->error == b->error && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
               timespec_equal(&a->mtim, &b->mtim) && timespec_equal(&a->ctim, &b->ctim);
}
