/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* store/postgresql-library.c: libpq is mapped only once a PostgreSQL store
 * spec is judged (or a store opened), and then with every function the
 * store calls. This binary links the core without libpq, as stitchd does. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "store/postgresql-library.h"
#include "store/store.h"

static bool libpq_mapped(void) {
        FILE *f = fopen("/proc/self/maps", "re");
        assert_non_null(f);
        char line[4096];
        bool found = false;
        while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, "/libpq.so") != NULL;
        fclose(f);
        return found;
}

static void test_loaded_when_needed(void **state) {
        const char *error = NULL;

        /* Not linked, and a SQLite spec does not bring it in. */
        assert_false(libpq_mapped());
        assert_null(sym_PQstatus);
        assert_int_equal(stitch_store_validate_spec("sqlite:/var/lib/stitch/stitch.db", &error), 0);
        /* Refused before libpq is asked: a password in the URI. */
        assert_true(stitch_store_validate_spec("postgresql://stitch:hunter2@db.example.com/stitch", &error) < 0);
        assert_false(libpq_mapped());

        /* A PostgreSQL spec is judged by libpq: loaded, every function set. */
        error = NULL;
        assert_int_equal(stitch_store_validate_spec("postgresql://stitch@db.example.com/stitch", &error), 0);
        assert_null(error);
        assert_true(libpq_mapped());
#define ASSERT_SET(f) assert_non_null(sym_##f);
        PG_LIBRARY_FUNCTIONS(ASSERT_SET)
#undef ASSERT_SET

        /* Once: the same answer and the same functions after. */
        PGconn *(*connect)(const char *const *, const char *const *, int) = sym_PQconnectdbParams;
        assert_int_equal(pg_library_load(), 0);
        assert_ptr_equal(sym_PQconnectdbParams, connect);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_loaded_when_needed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
