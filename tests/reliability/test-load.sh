#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Load and hostile callers.
# 1. Every method of docs/wire.md (tests/reliability/wire-methods.awk), every
#    parameter the daemon takes as a string, gets every hostile payload: SQL
#    metacharacters, format strings, NUL (escaped and raw), invalid and
#    overlong UTF-8, lone surrogates, control characters, wildcards, the
#    1024/1025-byte string limit, a 1 MiB field, a 64 KiB + 1 message, deep
#    nesting, wrong types. Each gets an answer (or, over the cap, a close),
#    never a hang; afterwards the canary users, their passwords and their
#    sessions are untouched (no injection, no wildcard match).
# 2. A well-behaved client (rel-client verify: Token.Verify in a loop on one
#    connection) is measured alone, then while 1000 connections (idle,
#    half-sent, never-reading), slow readers, connect/close churn, 64 KiB + 1
#    messages and the hostile batch above hammer the daemon; then a client
#    connecting per call while another churns connections. Prints p50/p99
#    and the daemon's VmHWM/VmRSS; fails only if the client sees an error or
#    a call over 10 s, the daemon dies, or its peak RSS exceeds
#    STITCH_LOAD_MAX_RSS_MB (default 1024; not checked under sanitizers).
# Short version: 200 connections, 3 s, a subset of payloads. Long
# (STITCH_RELIABILITY_LONG=1): 1000 connections, 60 s, everything, twice.
. "$top_srcdir/tests/reliability/rel-lib.sh"
CLIENT=$top_builddir/tests/reliability/rel-client
ABUSE=$top_builddir/tests/reliability/abuse
FLOOD=$top_builddir/tests/helpers/conn-flood
[ -x "$CLIENT" ] && [ -x "$ABUSE" ] && [ -x "$FLOOD" ] || skip "helpers not built"
if [ -n "$REL_LONG" ]; then
        SECONDS_UNDER_LOAD=${STITCH_LOAD_SECONDS:-60}; IDLE=400 PARTIAL=300 NOREAD=300; LOOPS=2
else
        SECONDS_UNDER_LOAD=${STITCH_LOAD_SECONDS:-3}; IDLE=80 PARTIAL=60 NOREAD=60; LOOPS=1
fi
MAX_RSS_MB=${STITCH_LOAD_MAX_RSS_MB:-1024}
sanitized=
ldd "$STITCHD" 2>/dev/null | grep -q 'libasan' && sanitized=1
nm "$STITCHD" 2>/dev/null | grep -q '__asan_init' && sanitized=1

stitch_config <<'X'
[Tokens]
AccessTokenLifetime=12h
[Limits]
MaxFailures=1000
X
stitch_start
stitch_user ada@example.com ada ada-password
stitch_user bob@example.com bob bob-password
L=$(rel_call io.stitch.Auth.Login "$(rel_login_json ada ada-password)")
AT=$(rel_param "$L" access_token); RT=$(rel_param "$L" refresh_token)
[ -n "$AT" ] || fail "canary login: $L"
USERS_BEFORE=$(sctl status --json | jq .users)

# --- 1. the hostile batch -------------------------------------------------------------
dummy_for() { # a benign value for the other string fields of a method
        case $1 in
        password|old_password|new_password) echo "benign-password-1" ;;
        email) echo "benign@example.invalid" ;;
        *) echo "benign-value-1" ;;
        esac
}
# Which documented parameters the daemon takes as strings, per method.
awk -f "$top_srcdir/tests/reliability/wire-methods.awk" "$top_srcdir/docs/wire.md" > "$T/methods"
[ "$(wc -l < "$T/methods")" -ge 25 ] || fail "could not read the methods from docs/wire.md: $(cat "$T/methods")"
: > "$T/fields"
while read -r method fields; do
        strings=
        for f in $fields; do
                out=$(rel_call "$method" "$(jq -cn --arg f "$f" --arg v "$(dummy_for "$f")" '{($f):$v}')")
                [ "$(rel_err "$out")" = io.stitch.Error.InvalidParameter ] && [ "$(rel_param "$out" parameter)" = "$f" ] && continue
                strings="$strings $f"
        done
        echo "$method$strings" >> "$T/fields"
done < "$T/methods"
echo "# string parameters per method (from docs/wire.md, as the daemon takes them):"
sed 's/^/#   /' "$T/fields"

# Payloads: JSON string contents (may hold raw bytes) or, prefixed "@", a
# raw JSON value in place of the string.
big=$(head -c 1048576 /dev/zero | tr '\0' a)
limit1024=$(head -c 1024 /dev/zero | tr '\0' b)
limit1025=$(head -c 1025 /dev/zero | tr '\0' b)
deep="@$(printf '[%.0s' $(seq 100))$(printf ']%.0s' $(seq 100))"
payloads=(
        "' OR '1'='1" "\\\"; DROP TABLE users; --" "ada' --" "%s%s%s%s%n%n%x%x%p" "%99999999s%.99999999d"
        "\\u0000" "ada\\u0000x" $'\xff\xfe\xfd' $'\xc0\xaf' $'\xed\xa0\x80' "\\ud800" "\\udc00\\ud800"
        "\\u001b[2J\\r\\n\\t" "../../../../etc/passwd" "*" "%" "_" "ada%" "" " "
        "\\u202egnp.exe" "😀🙂" "$limit1024" "$limit1025"
        "@null" "@1" "@-1" "@1e308" "@true" "@{}" "@[]" "$deep"
)
[ -n "$REL_LONG" ] || payloads=("${payloads[@]:0:12}" "$limit1025" "@null" "$deep")
gen_batch() { # gen_batch auth|admin: NUL-terminated messages on stdout
        local kind=$1 method strings f g p params json val n=0
        while read -r method strings; do
                case $method in io.stitch.Admin.*) [ "$kind" = admin ] || continue ;; *) [ "$kind" = auth ] || continue ;; esac
                [ -n "$strings" ] || strings=x   # no parameters: an unknown one
                for f in $strings; do
                        for p in "${payloads[@]}"; do
                                params=
                                for g in $strings; do
                                        [ "$g" = "$f" ] && continue
                                        params="$params\"$g\":\"$(dummy_for "$g")\","
                                done
                                if [[ $p == @* ]]; then val=${p#@}; else val="\"$p\""; fi
                                printf '{"method":"%s","parameters":{%s"%s":%s}}\0' "$method" "$params" "$f" "$val"
                                n=$((n + 1))
                        done
                        # The 1 MiB field, once per method.
                        if [ "$f" = "${strings%% *}" ]; then
                                printf '{"method":"%s","parameters":{"%s":"%s"}}\0' "$method" "$f" "$big"
                        fi
                done
        done < "$T/fields"
        # 64 KiB + 1 (the cap is 64 KiB without the NUL), raw NUL inside a
        # message, garbage, an empty message.
        printf '{"method":"io.stitch.Token.Verify","parameters":{"access_token":"%s"}}\0' "$(head -c 65469 /dev/zero | tr '\0' c)"
        printf '{"method":"io.stitch.Token.Verify","parameters":{"access_token":"ab\0cd"}}\0'
        printf '\x00\x01\x02garbage\xff\0'
        printf '\0'
}
gen_batch auth > "$T/batch.auth"
gen_batch admin > "$T/batch.admin"
run_batch() { # run_batch SOCKET FILE OUT
        "$ABUSE" batch "$1" "$LOOPS" < "$2" > "$3" || fail "hostile batch on $1: $(tail -n 1 "$3")"
}
run_batch "$STITCH_SOCKET" "$T/batch.auth" "$T/out.auth"
run_batch "$STITCH_ADMIN_SOCKET" "$T/batch.admin" "$T/out.admin"
kill -0 "$STITCHD_PID" || fail "stitchd died in the hostile batch"
summary=$(cat "$T/out.auth" "$T/out.admin" | grep -v '^batch' | sort | uniq -c | sort -rn | awk '{printf "%s %s, ", $1, $2}')
echo "# hostile batch answers: $summary"
grep -q '^timeout' "$T/out.auth" "$T/out.admin" && fail "a hostile message got no answer within 10 s"
nmsg=$(( $(tail -n 1 "$T/out.auth" | cut -d' ' -f2) + $(tail -n 1 "$T/out.admin" | cut -d' ' -f2) ))

# The canaries: nothing matched them, nothing changed them.
sctl user show ada >/dev/null && sctl user show bob >/dev/null || fail "a canary user is gone"
[ -n "$(rel_param "$(rel_call io.stitch.Auth.Login "$(rel_login_json ada ada-password)")" access_token)" ] || fail "ada's password changed"
[ -n "$(rel_param "$(rel_call io.stitch.Auth.Login "$(rel_login_json bob bob-password)")" access_token)" ] || fail "bob's password changed"
[ -n "$(rel_param "$(rel_call io.stitch.Token.Verify "$(jq -cn --arg t "$AT" '{access_token:$t}')")" claims)" ] \
        || fail "the canary session was revoked by a hostile call"
[ -n "$(rel_param "$(rel_call io.stitch.Token.Refresh "$(jq -cn --arg t "$RT" '{refresh_token:$t}')")" access_token)" ] \
        || fail "the canary refresh token stopped working"
[ "$(sctl user show ada --json | jq .user.disabled)" = false ] || fail "ada was disabled by a hostile call"
grep -aq 'ada-password\|bob-password\|benign-password-1' "$STITCHD_LOG" && fail "a password reached the log"
users_after=$(sctl status --json | jq .users)
ok "$nmsg hostile messages over $(wc -l < "$T/fields") methods: all answered, canaries untouched (users $USERS_BEFORE -> $users_after)"

# --- 2. latency of a well-behaved client under abuse ---------------------------------------
vm() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$STITCHD_PID/status"; }
base=$("$CLIENT" verify "$STITCH_SOCKET" "$AT" "$SECONDS_UNDER_LOAD") || fail "baseline client failed: $base"
echo "# alone, one connection: $base"
base_re=$("$CLIENT" verify "$STITCH_SOCKET" "$AT" "$SECONDS_UNDER_LOAD" --reconnect) || fail "baseline client (reconnecting) failed: $base_re"
echo "# alone, a connection per call: $base_re"
hwm0=$(vm VmHWM); rss0=$(vm VmRSS)

# The floods hold their connections until stdin (a FIFO) reaches EOF; they
# open it before we do, so that they never hold its write end themselves.
mkfifo "$T/hold"
pids=()
for spec in idle:$IDLE partial:$PARTIAL noread:$NOREAD; do
        mode=${spec%%:*}; n=${spec#*:}
        "$FLOOD" "$STITCH_SOCKET" "$n" "$mode" < "$T/hold" > "$T/flood.$mode" 2>&1 &
        pids+=($!)
done
exec {hold}>"$T/hold"
for i in $(seq 1 1200); do
        [ "$(cat "$T"/flood.* 2>/dev/null | grep -c '^connected')" = 3 ] && break
        sleep 0.05
done
[ "$(cat "$T"/flood.* | grep -c '^connected')" = 3 ] || fail "the floods did not connect: $(cat "$T"/flood.*)"
"$ABUSE" slowread "$STITCH_SOCKET" "$SECONDS_UNDER_LOAD" & pids+=($!)
"$ABUSE" slowread "$STITCH_SOCKET" "$SECONDS_UNDER_LOAD" & pids+=($!)
"$ABUSE" oversize "$STITCH_SOCKET" "$SECONDS_UNDER_LOAD" & pids+=($!)
( end=$(( $(date +%s) + SECONDS_UNDER_LOAD ))
  while [ "$(date +%s)" -lt "$end" ]; do "$ABUSE" batch "$STITCH_SOCKET" 1 < "$T/batch.auth" >/dev/null || exit 1; done ) & batchpid=$!
# Two clients at once: one connection, and a connection per call (as PAM).
"$CLIENT" verify "$STITCH_SOCKET" "$AT" "$SECONDS_UNDER_LOAD" --reconnect > "$T/loaded.re" &
repid=$!
loaded=$("$CLIENT" verify "$STITCH_SOCKET" "$AT" "$SECONDS_UNDER_LOAD"); rc=$?
wait "$repid"; rc_re=$?
loaded_re=$(cat "$T/loaded.re")
hwm1=$(vm VmHWM); rss1=$(vm VmRSS)
wait "$batchpid" || fail "the hostile batch under load got no answer within 10 s"
exec {hold}>&-
for p in "${pids[@]}"; do wait "$p"; done
kill -0 "$STITCHD_PID" || fail "stitchd died under load"
echo "# under load, one connection: $loaded"
echo "# under load, a connection per call: $loaded_re"
[ $rc = 0 ] || fail "the well-behaved client saw errors or a call over 10 s under load: $loaded"
[ $rc_re = 0 ] || fail "the reconnecting client saw errors (other than Busy) or a call over 10 s under load: $loaded_re"
rss2=$(vm VmRSS)
echo "# daemon memory: VmHWM ${hwm0} -> ${hwm1} kB; VmRSS ${rss0} -> ${rss1} kB under load, ${rss2} kB after"
if [ -z "$sanitized" ] && [ "$hwm1" -gt $((MAX_RSS_MB * 1024)) ]; then
        fail "peak RSS ${hwm1} kB exceeds ${MAX_RSS_MB} MiB"
fi
sctl status >/dev/null || fail "status after the load"

# --- 3. connect/close churn --------------------------------------------------------------
# BUG-CHURN: one unprivileged process that connects and closes in a loop
# keeps every connection slot taken (stitchd/server.c on_accept() accepts
# until EAGAIN at the same event priority as the connections, whose
# hang-ups are dispatched one per loop iteration), so everyone else gets
# io.stitch.Error.Busy: PAM logins fail while it runs.
KNOWN_BUGS=${STITCH_LOAD_KNOWN_BUGS-BUG-CHURN}
as_nobody=
id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null && as_nobody="setpriv --reuid=nobody --regid=nogroup --clear-groups"
$as_nobody "$ABUSE" churn "$STITCH_SOCKET" $((SECONDS_UNDER_LOAD + 1)) & churnpid=$!
churned=$("$CLIENT" verify "$STITCH_SOCKET" "$AT" "$SECONDS_UNDER_LOAD" --reconnect); rc=$?
wait "$churnpid"
kill -0 "$STITCHD_PID" || fail "stitchd died under churn"
who=root; [ -n "$as_nobody" ] && who="uid nobody"
echo "# during connect/close churn by $who, a connection per call: $churned"
[ $rc = 0 ] || fail "the reconnecting client saw errors (other than Busy) during churn: $churned"
calls=$(awk '{print $2}' <<<"$churned"); busy=$(awk '{print $6}' <<<"$churned"); worst=$(awk '{print $14}' <<<"$churned")
# Starved: refused (Busy) more than one call in ten, or waited over 2 s for
# one (a liveness bound, three orders of magnitude above the idle p99), or
# fewer than 20 calls went through at all.
if [ "$busy" -gt $((calls / 10)) ] || [ "$worst" -gt 2000000 ] || [ "$calls" -lt 20 ]; then
        if [[ " $KNOWN_BUGS " == *" BUG-CHURN "* ]]; then
                echo "XFAIL (BUG-CHURN): while one $who process churned connections the client got $calls calls through in ${SECONDS_UNDER_LOAD} s, $busy refused with Busy, the slowest took $((worst / 1000)) ms"
        else
                fail "starved during churn: $churned"
        fi
else
        echo "# churn: the client was not starved${KNOWN_BUGS:+ (BUG-CHURN looks fixed: drop it from STITCH_LOAD_KNOWN_BUGS)}"
fi
ok "well-behaved client: alone [$base] / [$base_re]; with $((IDLE + PARTIAL + NOREAD)) abusive connections, slow readers, oversize and hostile messages [$loaded] / [$loaded_re]; VmHWM ${hwm1} kB"
