/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchd/core/pages.c: zeroed memory that is resident only where written,
 * and given back (reading zeros again) by stitch_pages_zero(). Residency is
 * what mincore(2) reports for the mapping's pages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/pages.h"

#define PAGES 16

static unsigned resident(void *p, size_t pages) {
        unsigned char vec[PAGES];
        assert_true(pages <= PAGES);
        assert_int_equal(mincore(p, pages * (size_t) sysconf(_SC_PAGESIZE), vec), 0);
        unsigned n = 0;
        for (size_t i = 0; i < pages; i++)
                n += vec[i] & 1;
        return n;
}

static void test_written_pages_only(void **state) {
        size_t page = (size_t) sysconf(_SC_PAGESIZE), size = PAGES * page - 100; /* rounded up to PAGES */
        (void) state;

        uint8_t *p = stitch_pages_new(size);
        assert_non_null(p);
        assert_int_equal(resident(p, PAGES), 0);
        p[0] = 1;
        p[5 * page + 7] = 2;
        p[size - 1] = 3;
        assert_int_equal(resident(p, PAGES), 3);

        stitch_pages_zero(p, size);
        assert_int_equal(resident(p, PAGES), 0);
        for (size_t i = 0; i < size; i++)
                if (p[i] != 0)
                        fail_msg("byte %zu is %u after stitch_pages_zero", i, p[i]);

        /* Usable as before. */
        memset(p + page, 0xaa, page);
        assert_int_equal(p[page + page - 1], 0xaa);
        assert_null(stitch_pages_free(p, size));
        assert_null(stitch_pages_free(NULL, size));
        stitch_pages_zero(NULL, size);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_written_pages_only),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
