/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/pages.h"

static size_t rounded(size_t size) {
        size_t page = (size_t) sysconf(_SC_PAGESIZE);
        return (size + page - 1) / page * page;
}

void *stitch_pages_new(size_t size) {
        if (size == 0)
                size = 1;
        void *p = mmap(NULL, rounded(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
}

void *stitch_pages_free(void *p, size_t size) {
        if (p)
                (void) munmap(p, rounded(size ?: 1));
        return NULL;
}

void stitch_pages_zero(void *p, size_t size) {
        if (!p)
                return;
        /* On a private anonymous mapping the next read of a dropped page
         * gives zeros. Should the kernel refuse, clear it by hand. */
        if (madvise(p, rounded(size ?: 1), MADV_DONTNEED) < 0)
                memset(p, 0, size);
}
