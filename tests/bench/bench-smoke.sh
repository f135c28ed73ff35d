#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# make check: stitch-bench --smoke (tiny counts, a few seconds) runs every
# benchmark once, the scale path included, and prints its table; the figures
# are not judged here. Then --json must print one JSON document.
set -u
: "${top_builddir:?run through make check}"
BENCH=$top_builddir/tests/bench/stitch-bench
[ -x "$BENCH" ] || { echo "SKIP: $BENCH is not built"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: stitch-bench needs root (admin socket, PAM, a temporary local account)"; exit 77; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$BENCH" --smoke --scale >"$out"
rc=$?
cat "$out"
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || { echo "FAIL: stitch-bench --smoke exited $rc"; exit 1; }
for id in argon2.verify pam.login pam_unix.login login.c2 verify.latency verify.rps.c32 apikey.c1 refresh.c1 \
          idp.custom_token.c1 idp.password_while_slow scale.login.2k-users; do
        grep -q "^$id " "$out" || { echo "FAIL: no row '$id' in the table"; exit 1; }
done
grep -q '^targets: ' "$out" || { echo "FAIL: no summary line"; exit 1; }

"$BENCH" --smoke --json --only argon2 >"$out"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: stitch-bench --smoke --json exited $rc"; exit 1; }
if command -v python3 >/dev/null; then
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["results"][0]["id"]=="argon2.verify"' "$out" \
                || { echo "FAIL: --json did not print the expected JSON document"; cat "$out"; exit 1; }
else
        grep -q '"results"' "$out" || { echo "FAIL: --json printed no results"; exit 1; }
fi
# bench-fleet's store-only ceiling, on SQLite: it runs, and every login went through.
STORE_LOGIN=$top_builddir/tests/bench/bench-store-login
if [ -x "$STORE_LOGIN" ]; then
        d=$(mktemp -d)
        line=$("$STORE_LOGIN" "sqlite:$d/store.db" 2 0.3 16 2>"$d/err")
        rc=$?
        err=$(grep -v 'migrated to schema version' "$d/err")
        rm -rf "$d"
        [ $rc -eq 0 ] && [[ "$line" =~ ^logins_per_sec=[1-9][0-9]*\ .*failed=0$ ]] \
                || { echo "FAIL: bench-store-login: rc=$rc '$line'"; echo "$err"; exit 1; }
        echo "bench-store-login (SQLite, 2 clients): $line"
        # The calls of a PAM password login (pam.own's floor).
        d=$(mktemp -d)
        line=$(BENCH_STORE_LOGIN=password "$STORE_LOGIN" "sqlite:$d/store.db" 1 0.3 8 2>"$d/err")
        rc=$?
        err=$(grep -v 'migrated to schema version' "$d/err")
        rm -rf "$d"
        [ $rc -eq 0 ] && [[ "$line" =~ ^logins_per_sec=[1-9][0-9]*\ .*failed=0$ ]] \
                || { echo "FAIL: bench-store-login (password): rc=$rc '$line'"; echo "$err"; exit 1; }
        echo "bench-store-login (SQLite, password logins): $line"
fi
echo "ok - stitch-bench --smoke"
