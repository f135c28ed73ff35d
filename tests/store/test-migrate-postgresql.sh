#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# stitchctl store migrate from SQLite into a real PostgreSQL server: the
# whole of tests/integration/test-store-migrate.sh (a store with a bit of
# everything copied, then served by a daemon on the copy: passwords, API
# keys, tokens issued before, ended sessions, disabled users; a non-empty
# target refused) with the PostgreSQL database as the target.
. "$TESTS_LIB"
. "$top_srcdir/tests/store/pg-lib.sh"
pg_need
pg_start
STITCH_TEST_MIGRATE_TARGET=$(pg_spec) bash "$top_srcdir/tests/integration/test-store-migrate.sh" \
        || fail "the migration into PostgreSQL failed (output above)"
# The rows are in the server, not anywhere else.
n=$(pg_psql -At -c "SELECT count(*) FROM users") || fail "cannot count the users in PostgreSQL"
[ "$n" -ge 3 ] || fail "PostgreSQL holds $n users after the migration"
ok "a SQLite store migrated into PostgreSQL serves as the original did ($n users in the server)"
