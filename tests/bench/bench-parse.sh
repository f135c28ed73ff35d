#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# stitchd's HTTP API side by side with Parse Server (npm parse-server 9, the
# closest self-hosted peer), on PostgreSQL 15 from Debian, both on this
# machine in the same run: the session check (GET /auth/profile vs GET
# /parse/users/me) and the password login at the same concurrency, with
# p50/p99 and the servers' RSS, measured with wrk. Each side's password
# hash cost is measured too, so the login rows compare fairly.
#
#   make bench-parse            (root; PostgreSQL 15, wrk, node and npm from apt)
#   BENCH_PARSE_DIR=DIR         reuse an npm install of parse-server in DIR
#   BENCH_DURATION=5            seconds per row
#
# Prints a table; record it in docs/performance.md with the machine and date.
set -euo pipefail
: "${top_builddir:=$(pwd)}"
STITCHD=${STITCHD:-$top_builddir/stitchd/stitchd}
STITCHCTL=${STITCHCTL:-$top_builddir/stitchctl/stitchctl}
DUR=${BENCH_DURATION:-5}
PGBIN=/usr/lib/postgresql/15/bin

skip() { echo "bench-parse: SKIP: $*" >&2; exit 77; }
die() { echo "bench-parse: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || skip "needs root (PostgreSQL runs as the postgres account)"
[ -x "$PGBIN/initdb" ] || skip "PostgreSQL 15 is not installed (apt-get install postgresql)"
command -v wrk >/dev/null || skip "wrk is not installed (apt-get install wrk)"
command -v node >/dev/null && command -v npm >/dev/null || skip "node and npm are needed"
id postgres >/dev/null 2>&1 || skip "no postgres account"
[ -x "$STITCHD" ] || die "no stitchd at $STITCHD"

T=$(mktemp -d /var/tmp/bench-parse.XXXXXX)
chmod 0755 "$T"
PIDS=()
cleanup() {
        local p
        for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
        [ -d "$T/pg" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/pg" -m immediate stop >/dev/null 2>&1 || true
        wait 2>/dev/null || true
        rm -rf "$T"
}
trap cleanup EXIT

free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
# wait_http URL: until it answers (the servers start in the background).
wait_http() {
        local i
        for i in $(seq 600); do
                curl -s -o /dev/null --max-time 1 "$@" && return 0
                read -r -t 0.1 <> <(:) || true
        done
        die "no answer from $*"
}
rss_mib() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
# run_wrk CONNS URL [wrk args]: prints "rate p50_ms p99_ms"
run_wrk() {
        local c=$1 url=$2 threads
        shift 2
        threads=$(( c < $(nproc) ? c : $(nproc) ))
        wrk -t "$threads" -c "$c" -d "${DUR}s" --latency "$@" "$url" >"$T/wrk.out" 2>&1 || die "wrk failed: $(cat "$T/wrk.out")"
        if grep -q "Non-2xx" "$T/wrk.out"; then
                die "non-2xx replies from $url: $(grep Non-2xx "$T/wrk.out")"
        fi
        awk '
                function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
                /Requests\/sec:/ { rate = $2 }
                $1 == "50%" { p50 = ms($2) }
                $1 == "99%" { p99 = ms($2) }
                END { printf "%.0f %.2f %.2f\n", rate, p50, p99 }' "$T/wrk.out"
}

# ---- PostgreSQL 15 in a temp dir ---------------------------------------------------------------
PGPORT=$(free_port)
mkdir -p "$T/pg" "$T/pgsock"
chown postgres: "$T/pg" "$T/pgsock"
runuser -u postgres -- "$PGBIN/initdb" -D "$T/pg" -U postgres --auth=trust >"$T/initdb.log" 2>&1 || die "initdb failed"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/pg" -l "$T/pg/log" -w \
        -o "-p $PGPORT -k $T/pgsock -c listen_addresses=127.0.0.1" start >/dev/null || die "postgres did not start"
runuser -u postgres -- "$PGBIN/psql" -h "$T/pgsock" -p "$PGPORT" -qc "CREATE DATABASE parse" || die "createdb failed"

# ---- Parse Server ----------------------------------------------------------------------------------
PDIR=${BENCH_PARSE_DIR:-$T/parse}
if [ ! -x "$PDIR/node_modules/.bin/parse-server" ]; then
        mkdir -p "$PDIR"
        echo "# installing parse-server@9 from npm into $PDIR" >&2
        (cd "$PDIR" && npm install --no-audit --no-fund --loglevel=error parse-server@9 >"$T/npm.log" 2>&1) \
                || die "npm install parse-server failed: $(tail -5 "$T/npm.log")"
fi
PARSE_VERSION=$(node -p "require('$PDIR/node_modules/parse-server/package.json').version")
PPORT=$(free_port)
"$PDIR/node_modules/.bin/parse-server" --appId bench --masterKey bench-master-key \
        --databaseURI "postgres://postgres@127.0.0.1:$PGPORT/parse" --port "$PPORT" --mountPath /parse \
        >"$T/parse.log" 2>&1 &
PARSE_PID=$!
PIDS+=("$PARSE_PID")
wait_http "http://127.0.0.1:$PPORT/parse/health"
PH=(-H "X-Parse-Application-Id: bench" -H "Content-Type: application/json")
PW=bench-Passw0rd-1
curl -sS "${PH[@]}" -d "{\"username\":\"ada\",\"password\":\"$PW\"}" "http://127.0.0.1:$PPORT/parse/users" >"$T/puser.json"
PTOKEN=$(jq -r .sessionToken "$T/puser.json")
[ -n "$PTOKEN" ] && [ "$PTOKEN" != null ] || die "Parse user creation failed: $(cat "$T/puser.json")"

# ---- stitchd ---------------------------------------------------------------------------------------
SPORT=$(free_port)
mkdir -p "$T/stitch"
cat >"$T/stitch/stitchd.conf" <<EOF
[Daemon]
Store=sqlite:$T/stitch/db
AuthSocket=$T/stitch/auth
AdminSocket=$T/stitch/admin
LogLevel=notice
[Http]
Listen=127.0.0.1:$SPORT
MaxConnectionsPerAddress=1024
MaxConnections=1024
[Limits]
MaxFailures=1000
EOF
chmod 600 "$T/stitch/stitchd.conf"
"$STITCHD" --foreground --config "$T/stitch/stitchd.conf" 2>"$T/stitch/log" &
STITCHD_PID=$!
PIDS+=("$STITCHD_PID")
wait_http "http://127.0.0.1:$SPORT/api/client/v2.0/app/stitch/location"
export STITCH_ADMIN_SOCKET=$T/stitch/admin STITCH_SOCKET=$T/stitch/auth
printf '%s\n' "$PW" | "$STITCHCTL" user add --email ada@example.com --password-stdin >/dev/null
SBASE=http://127.0.0.1:$SPORT/api/client/v2.0
curl -sS -d "{\"username\":\"ada@example.com\",\"password\":\"$PW\"}" \
        "$SBASE/app/stitch/auth/providers/local-userpass/login" >"$T/slogin.json"
SACCESS=$(jq -r .access_token "$T/slogin.json")
[ -n "$SACCESS" ] && [ "$SACCESS" != null ] || die "stitchd login failed: $(cat "$T/slogin.json")"

# ---- hash costs ---------------------------------------------------------------------------------------
# Parse Server hashes with bcrypt (its own dependency, cost 10); stitchd with argon2id m=19456,t=2,p=1.
BCRYPT_MS=$(cd "$PDIR" && node -e '
        let b; try { b = require("@node-rs/bcrypt"); } catch (e) { b = require("bcryptjs"); }
        const h = b.hashSync("'"$PW"'", 10), n = 20, t0 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) b.compareSync("'"$PW"'", h);
        console.log((Number(process.hrtime.bigint() - t0) / 1e6 / n).toFixed(1));' 2>/dev/null || echo "?")
ARGON_MS=$(python3 - <<'EOF' 2>/dev/null || echo "?"
import ctypes, ctypes.util, time
lib = ctypes.CDLL(ctypes.util.find_library("argon2") or "libargon2.so.1")
out = ctypes.create_string_buffer(32)
pw, salt = b"bench-Passw0rd-1", b"0123456789abcdef"
n = 20
t0 = time.perf_counter()
for _ in range(n):
    lib.argon2id_hash_raw(2, 19456, 1, pw, len(pw), salt, len(salt), out, 32)
print("%.1f" % ((time.perf_counter() - t0) * 1000 / n))
EOF
)

# ---- the rows ------------------------------------------------------------------------------------------
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), ${DUR} s per row"
echo "# stitchd $("$STITCHD" --version | awk '{print $2}'), Parse Server $PARSE_VERSION on PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), node $(node --version), wrk"
echo "# password hash, one verification: stitchd argon2id m=19456,t=2,p=1 ${ARGON_MS} ms; Parse bcrypt cost 10 ${BCRYPT_MS} ms"
printf '%-34s %6s %12s %9s %9s %12s %9s %9s %8s\n' row conns "stitchd/s" "p50 ms" "p99 ms" "parse/s" "p50 ms" "p99 ms" ratio
cat >"$T/slogin.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"username":"ada@example.com","password":"$PW"}'
wrk.headers["Content-Type"] = "application/json"
EOF
cat >"$T/plogin.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"username":"ada","password":"$PW"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Parse-Application-Id"] = "bench"
EOF
row() {
        local name=$1 c=$2 s p
        shift 2
        s=$(run_wrk "$c" "${SURL}" "${SARGS[@]}")
        p=$(run_wrk "$c" "${PURL}" "${PARGS[@]}")
        read -r sr s50 s99 <<<"$s"
        read -r pr p50 p99 <<<"$p"
        printf '%-34s %6s %12s %9s %9s %12s %9s %9s %8s\n' "$name" "$c" "$sr" "$s50" "$s99" "$pr" "$p50" "$p99" \
                "$(awk -v a="$sr" -v b="$pr" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }')"
}
# Both servers' VmRSS every 0.2 s while the rows run; the peaks are printed at the end.
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
(
        sp=0 pp=0
        while [ -e "$T/sampling" ]; do
                s=$(rss_kib "$STITCHD_PID") p=$(rss_kib "$PARSE_PID")
                [ "$s" -gt "$sp" ] && sp=$s
                [ "$p" -gt "$pp" ] && pp=$p
                echo "$sp $pp" >"$T/peaks.tmp" && mv "$T/peaks.tmp" "$T/peaks"
                read -r -t 0.2 <> <(:) || true
        done
) &
touch "$T/sampling"
SAMPLER=$!
PIDS+=("$SAMPLER")
SURL=$SBASE/auth/profile; SARGS=(-H "Authorization: Bearer $SACCESS")
PURL=http://127.0.0.1:$PPORT/parse/users/me; PARGS=(-H "X-Parse-Application-Id: bench" -H "X-Parse-Session-Token: $PTOKEN")
for c in 1 8 64; do row "session check (profile | users/me)" "$c"; done
SURL=$SBASE/app/stitch/auth/providers/local-userpass/login; SARGS=(-s "$T/slogin.lua")
PURL=http://127.0.0.1:$PPORT/parse/login; PARGS=(-s "$T/plogin.lua")
for c in 1 8 64; do row "password login" "$c"; done
S_BUSY=$(rss_mib "$STITCHD_PID") P_BUSY=$(rss_mib "$PARSE_PID")
rm -f "$T/sampling"
wait "$SAMPLER" 2>/dev/null || true
read -r S_PEAK P_PEAK <"$T/peaks"
# Idle: 5 s after the last request (stitchd returns a hash's memory after 2 s idle).
sleep 5
S_IDLE=$(rss_mib "$STITCHD_PID") P_IDLE=$(rss_mib "$PARSE_PID")
echo "# RSS right after the runs: stitchd $S_BUSY MiB, Parse Server (node) $P_BUSY MiB;" \
     "5 s idle: stitchd $S_IDLE MiB, Parse Server $P_IDLE MiB (PostgreSQL's processes not counted)"
# Issue 27's memory figure: stitchd apart from its password-hash slots
# (Workers x m, one per CPU by default; a memory-hard hash needs them by
# design) against Parse Server's node process; target <= 0.10.
SLOTS=$(awk -v n="$(nproc)" 'BEGIN { printf "%.1f", n * 19456 / 1024 }')
awk -v sp="$S_PEAK" -v pp="$P_PEAK" -v sb="$S_BUSY" -v pb="$P_BUSY" -v si="$S_IDLE" -v pi="$P_IDLE" -v slots="$SLOTS" 'BEGIN {
        sp /= 1024; pp /= 1024
        printf "# RSS peak during the runs: stitchd %.1f MiB, Parse Server %.1f MiB\n", sp, pp
        printf "# stitchd minus its hash slots (%s MiB) / Parse Server (target <= 0.10): during %.3f, after %.3f, idle %.3f\n",
               slots, (sp - slots) / pp, (sb - slots) / pb, si / pi
}'
