#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The store contract suite (tests/unit/test-store) and the PostgreSQL
# backend's own cases (tests/unit/test-store-postgresql) against a real
# PostgreSQL server: a cluster of our own made with initdb in a temp dir,
# run as the unprivileged postgres user, listening only on a Unix socket
# in that dir (no TCP: nothing to collide with a cluster the package
# started), one schema per test. Skips only when the server's binaries
# are missing.
set -eu

: "${top_builddir:?}"

pgbin=
for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/pg_isready" ]; then
                pgbin=$d
                break
        fi
done
[ -n "$pgbin" ] || { echo "SKIP: no PostgreSQL server binaries under /usr/lib/postgresql"; exit 77; }

# initdb refuses to run as root: the cluster belongs to an unprivileged user.
if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || { echo "FAIL: running as root and there is no postgres user" >&2; exit 1; }
        as_pg_prefix="setpriv --reuid=postgres --regid=postgres --clear-groups --"
        pg_user=postgres
else
        as_pg_prefix=
        pg_user=$(id -un)
fi
as_pg() { $as_pg_prefix "$@"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/test-store-pg.XXXXXX")
chmod 0755 "$work"
mkdir "$work/data" "$work/sock"
[ "$(id -u)" -ne 0 ] || chown postgres: "$work/data" "$work/sock"
pgdata=$work/data
sock=$work/sock

stop_server() {
        as_pg "$pgbin/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true
}
cleanup() {
        stop_server
        rm -rf "$work"
}
trap cleanup EXIT

# Waits (polling, with a deadline) until the server accepts connections.
wait_ready() {
        local deadline=$((SECONDS + 60))
        until "$pgbin/pg_isready" -q -h "$sock" -d postgres -U "$pg_user"; do
                if [ "$SECONDS" -ge "$deadline" ]; then
                        echo "FAIL: the PostgreSQL server did not become ready" >&2
                        cat "$sock/server.log" >&2 || true
                        return 1
                fi
                sleep 0.1
        done
}

server_options="-c listen_addresses= -k $sock -c fsync=off -c max_connections=100"
start_server() {
        as_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$sock/server.log" -W -o "$server_options" start >/dev/null
        wait_ready
}

as_pg "$pgbin/initdb" -D "$pgdata" -U "$pg_user" -A trust -E UTF8 --locale=C --no-sync >"$work/initdb.log" 2>&1 ||
        { cat "$work/initdb.log" >&2; exit 1; }
start_server
as_pg "$pgbin/createdb" -h "$sock" -U "$pg_user" stitch_test

# Each test of the suite gets a fresh schema (@NAME@), made by the store.
base="postgresql://$pg_user@/stitch_test?host=$sock"
STITCH_TEST_STORE_SPEC="$base&options=-csearch_path%3D@NAME@" "$top_builddir/tests/unit/test-store"

# The backend's own cases; they stop and start the server themselves.
export STITCH_TEST_PG_SPEC="$base&options=-csearch_path%3D@NAME@"
export STITCH_TEST_PG_BAD_SPEC="postgresql://$pg_user@/stitch_test?host=$work/nosuch&connect_timeout=2"
# Shell commands: a killed server (immediate stop: no goodbye to clients),
# and the same server again (pg_ctl -w polls until it accepts connections).
export STITCH_TEST_PG_STOP="$as_pg_prefix $pgbin/pg_ctl -D $pgdata -m immediate -w stop >/dev/null"
export STITCH_TEST_PG_START="$as_pg_prefix $pgbin/pg_ctl -D $pgdata -l $sock/server.log -w -t 60 \
        -o '$server_options' start >/dev/null"
"$top_builddir/tests/unit/test-store-postgresql"
