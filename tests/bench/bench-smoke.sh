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
# store_login WHAT [VAR=VALUE] CLIENTS SECONDS USERS: one run on a throw-away store.
store_login() {
        local what=$1 d line rc err
        shift
        d=$(mktemp -d)
        line=$(env "${@:1:$#-3}" "$STORE_LOGIN" "sqlite:$d/store.db" "${@: -3}" 2>"$d/err")
        rc=$?
        err=$(grep -v 'migrated to schema version' "$d/err")
        rm -rf "$d"
        [ $rc -eq 0 ] && [[ "$line" =~ ^logins_per_sec=[1-9][0-9]*\ .*failed=0$ ]] \
                || { echo "FAIL: bench-store-login ($what): rc=$rc '$line'"; echo "$err"; exit 1; }
        echo "bench-store-login (SQLite, $what): $line"
}
if [ -x "$STORE_LOGIN" ]; then
        store_login "API-key logins, 2 clients" 2 0.3 16
        # The calls of a PAM password login (pam.own's floor).
        store_login "password logins" BENCH_STORE_LOGIN=password 1 0.3 8
fi
echo "ok - stitch-bench --smoke"
