#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The fleet store on PostgreSQL 15 (Debian), each figure next to a baseline
# measured in the same run on the same server (docs/performance.md):
#   - API-key and password logins/s of stitchd on PostgreSQL, against a raw
#     libpq INSERT+COMMIT of one row (pgbench, prepared, same concurrency)
#     and against the same stitch-bench rows on SQLite;
#   - the ceiling of that ratio: the store's own calls of an API-key login
#     (its read and its write, and the write alone), made in a loop by
#     tests/bench/bench-store-login with nothing else around them;
#   - Token.Verify's rate on PostgreSQL against SQLite (it answers from
#     memory: the store should not show);
#   - how long a logout on one stitchd takes to hold on a second one on the
#     same store (change feed: NOTIFY/LISTEN), p50/p99 over 300 logouts.
#
#   make bench-fleet            (root; PostgreSQL 15 from apt)
#   BENCH_DURATION=5            seconds per pgbench row
#
# Prints a table; record it in docs/performance.md with the machine and date.
set -euo pipefail
: "${top_builddir:=$(pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
STITCHD=${STITCHD:-$top_builddir/stitchd/stitchd}
STITCHCTL=${STITCHCTL:-$top_builddir/stitchctl/stitchctl}
BENCH=$top_builddir/tests/bench/stitch-bench
STORE_LOGIN=$top_builddir/tests/bench/bench-store-login
SPAWN=$top_builddir/tests/helpers/stitch-spawn
DUR=${BENCH_DURATION:-5}
PGBIN=
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/initdb" ] && [ -x "$d/pgbench" ] && { PGBIN=$d; break; }
done

skip() { echo "bench-fleet: SKIP: $*" >&2; exit 77; }
die() { echo "bench-fleet: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || skip "needs root (PostgreSQL runs as the postgres account)"
[ -n "$PGBIN" ] || skip "PostgreSQL with pgbench is not installed (apt-get install postgresql)"
id postgres >/dev/null 2>&1 || skip "no postgres account"
command -v jq >/dev/null || skip "jq is needed"
[ -x "$STITCHD" ] && [ -x "$BENCH" ] && [ -x "$STORE_LOGIN" ] && [ -x "$SPAWN" ] \
        || die "build first (stitchd, tests/bench/stitch-bench, tests/bench/bench-store-login, tests/helpers/stitch-spawn)"

T=$(mktemp -d /var/tmp/bench-fleet.XXXXXX)
chmod 0755 "$T"
PIDS=()
cleanup() {
        local p
        for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
        [ -d "$T/pg/data" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/pg/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$T/pg" && chown postgres "$T/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$T/pg/data" -A trust -E UTF8 --locale=C.UTF-8 >"$T/initdb.log" 2>&1 \
        || die "initdb failed"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/pg/data" -l "$T/pg/server.log" -w -t 60 \
        -o "-c listen_addresses='' -k $T/pg -c max_connections=200" start >/dev/null || die "PostgreSQL did not start"
psql_su() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -h "$T/pg" "$@"; }
psql_su -d postgres -c "CREATE ROLE stitch LOGIN" -c "CREATE DATABASE stitch OWNER stitch" \
        -c "CREATE DATABASE stitch2 OWNER stitch" -c "CREATE DATABASE baseline OWNER stitch"
# bench-store-login's: an empty database for each of its runs.
for d in stitch3_1 stitch3_16 stitch4_1 stitch4_16; do
        psql_su -d postgres -c "CREATE DATABASE $d OWNER stitch"
done
SPEC_OF() { echo "postgresql://stitch@/$1?host=${T//\//%2F}%2Fpg"; }

echo "# machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC'); PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), fsync on, Unix socket"

# Baseline: one row INSERT and its COMMIT, through libpq (pgbench, prepared).
psql_su -d baseline -c "CREATE TABLE rows (id bigserial PRIMARY KEY, client int NOT NULL, at timestamptz NOT NULL DEFAULT now())" \
        -c "ALTER TABLE rows OWNER TO stitch"
echo 'INSERT INTO rows (client) VALUES (:client_id);' >"$T/insert.sql"
declare -A RAW
for c in 1 16; do
        RAW[$c]=$("$PGBIN/pgbench" -n -M prepared -h "$T/pg" -U stitch -f "$T/insert.sql" -c "$c" -j "$c" -T "$DUR" baseline 2>/dev/null \
                | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1)
        [ -n "${RAW[$c]}" ] || die "pgbench gave no rate"
done

# And one read by primary key, the same way: a login also reads (its key
# and user) before it writes, so a login that did nothing but one such read
# and one such write, serially, would reach RAW_INSERT x t_write /
# (t_read + t_write): the ceiling printed next to the ratio.
echo '\set id random(1, 1000)' >"$T/select.sql"
echo 'SELECT client FROM rows WHERE id = :id;' >>"$T/select.sql"
declare -A READ
for c in 1 16; do
        READ[$c]=$("$PGBIN/pgbench" -n -M prepared -h "$T/pg" -U stitch -f "$T/select.sql" -c "$c" -j "$c" -T "$DUR" baseline 2>/dev/null \
                | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1)
        [ -n "${READ[$c]}" ] || die "pgbench gave no read rate"
done

# stitchd's rows on SQLite, then on PostgreSQL (fresh database).
run_bench() { # OUTPUT [--store SPEC]
        local out=$1
        shift
        "$BENCH" --json --only apikey,login-concurrency,verify --tmpdir "$T" "$@" >"$out" 2>"$out.log" \
                || die "stitch-bench failed: $(tail -n 5 "$out.log")"
}
run_bench "$T/sqlite.json"
run_bench "$T/pg.json" --store "$(SPEC_OF stitch)"
# The store's own part of an API-key login, called in a loop with nothing
# else (tests/bench/bench-store-login.c): the read and the write stitchd
# makes, and the write alone. Whatever the daemon does, its logins cannot
# go faster than this: the ceiling of the ratio. At most 8 callers: the
# store's pool has 8 connections (PG_POOL_MAX) and the daemon 8 workers
# here; more threads would only queue for a connection and measure less.
declare -A STORE WRITE
for c in 1 16; do
        sc=$((c < 8 ? c : 8))
        STORE[$c]=$("$STORE_LOGIN" "$(SPEC_OF "stitch3_$c")" "$sc" "$DUR" 2>>"$T/store-login.log" | sed -n 's/^logins_per_sec=\([0-9]*\).*/\1/p')
        WRITE[$c]=$(BENCH_STORE_WRITE_ONLY=1 "$STORE_LOGIN" "$(SPEC_OF "stitch4_$c")" "$sc" "$DUR" 2>>"$T/store-login.log" \
                | sed -n 's/^logins_per_sec=\([0-9]*\).*/\1/p')
        [ -n "${STORE[$c]}" ] && [ -n "${WRITE[$c]}" ] || die "bench-store-login failed: $(tail -n 3 "$T/store-login.log")"
done
val() { jq -r --arg id "$2" '[.results[] | select(.id == $id) | .median][0] // "nan"' "$1"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "nan") printf "%.2f", a / b; else print "-" }'; }
printf '\n%-44s %12s %12s %12s %8s %s\n' "figure" "PostgreSQL" "SQLite" "baseline" "ratio" "target"
for c in 1 16; do
        ak=$(val "$T/pg.json" "apikey.c$c"); aks=$(val "$T/sqlite.json" "apikey.c$c")
        printf '%-44s %12.0f %12.0f %12.0f %8s %s\n' "API-key logins/s, $c client(s) vs INSERT+COMMIT/s" \
                "$ak" "$aks" "${RAW[$c]}" "$(ratio "$ak" "${RAW[$c]}")" ">= 0.5"
        printf '%-44s %12s %12s %12.0f %8s %s\n' "  one read + one INSERT+COMMIT, nothing else" "-" "-" "${READ[$c]}" \
                "$(awk -v r="${READ[$c]}" -v w="${RAW[$c]}" 'BEGIN { printf "%.2f", (1 / (1 / r + 1 / w)) / w }')" \
                "(ceiling; reads/s as baseline)"
        printf '%-44s %12.0f %12s %12.0f %8s %s\n' "  the store's calls alone: key+user read, write" "${STORE[$c]}" "-" "${RAW[$c]}" \
                "$(ratio "${STORE[$c]}" "${RAW[$c]}")" "(ceiling of stitchd's ratio)"
        printf '%-44s %12.0f %12s %12.0f %8s %s\n' "  the login's write alone" "${WRITE[$c]}" "-" "${RAW[$c]}" \
                "$(ratio "${WRITE[$c]}" "${RAW[$c]}")" "(ceiling without the read)"
        printf '%-44s %12s %12s %12s %8s %s\n' "  stitchd's share of the store's ceiling" "-" "-" "-" \
                "$(ratio "$ak" "${STORE[$c]}")" ""
done
for c in 1 8; do
        lp=$(val "$T/pg.json" "login.c$c"); ls=$(val "$T/sqlite.json" "login.c$c")
        printf '%-44s %12.1f %12.1f %12s %8s %s\n' "password logins/s, $c client(s), PG vs SQLite" "$lp" "$ls" "-" \
                "$(ratio "$lp" "$ls")" "(hash-bound)"
done
for id in verify.rps.c1 verify.rps.c32; do
        vp=$(val "$T/pg.json" "$id"); vs=$(val "$T/sqlite.json" "$id")
        printf '%-44s %12.0f %12.0f %12s %8s %s\n' "Token.Verify/s ($id), PG vs SQLite" "$vp" "$vs" "-" \
                "$(ratio "$vp" "$vs")" "~1.0"
done

# Two daemons on one database: logout on A, refused on B.
SPEC=$(SPEC_OF stitch2)
for n in a b; do
        mkdir -p "$T/$n"
        cat >"$T/$n.conf" <<X
[Daemon]
Store=$SPEC
AuthSocket=$T/$n/io.stitch.Auth
AdminSocket=$T/$n/io.stitch.Admin
Workers=2
[Pam]
Services=login
[Provider.local-userpass]
PasswordHash=argon2id:m=64,t=1,p=1
X
        pid=$("$SPAWN" --timeout 30 -- "$STITCHD" --foreground --config "$T/$n.conf" 2>>"$T/$n.log" 3>&- </dev/null) \
                || die "stitchd $n did not start: $(tail -n 3 "$T/$n.log")"
        PIDS+=("$pid")
done
printf 'fleet-Passw0rd' | "$STITCHCTL" --socket "$T/a/io.stitch.Auth" --admin-socket "$T/a/io.stitch.Admin" \
        user add --email fleet@example.com --unix-name fleet --password-stdin >/dev/null || die "user add"
prop=$(python3 "$top_srcdir/tests/helpers/fleet-propagation.py" "$T/a/io.stitch.Auth" "$T/b/io.stitch.Auth" \
        fleet fleet-Passw0rd 300) || die "propagation: $prop"
p99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$prop")
printf '%-44s %s   target p99 < 100 ms: %s\n' "logout on A -> refused on B" "$prop" \
        "$(awk -v p="$p99" 'BEGIN { print (p < 100) ? "met" : "MISSED" }')"
