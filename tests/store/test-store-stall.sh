#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A PostgreSQL store that stops answering (its processes stopped with
# SIGSTOP: a server that hangs, or a network that drops packets, without
# closing anything) holds up the calls that read it, on the daemon's
# workers, and nothing else: while an account check (Authorize) and a
# Refresh wait for the store, Token.Verify of a known token is still
# answered from memory at once. When the server runs again the waiting
# calls complete.
. "$(dirname "$0")/../lib.sh"
. "$top_srcdir/tests/store/pg-lib.sh"
need_stitchd
command -v jq >/dev/null || skip "jq is not installed"
pg_need
pg_start
SPEC=$(pg_spec)

STOPPED=
pg_processes() { echo "$PG_PID"; pgrep -P "$PG_PID"; }
pg_resume() { [ -n "$STOPPED" ] && kill -CONT $(pg_processes) 2>/dev/null; STOPPED=; }
stall_cleanup() {
        pg_resume
        pg_cleanup
}
trap stall_cleanup EXIT

stitch_config <<X
[Daemon]
Store=$SPEC
[Fleet]
MaxStale=1h
X
stitch_start
stitch_user ada@example.com ada 'ada-secret'
login=$(sctl call io.stitch.Auth.Login \
        '{"user":"ada","password":"ada-secret","service":"login","provider":"local-userpass"}') || fail "login: $login"
at=$(jq -r .parameters.access_token <<<"$login")
rt=$(jq -r .parameters.refresh_token <<<"$login")
verify() { sctl call io.stitch.Token.Verify "$(jq -cn --arg t "$at" '{access_token:$t}')"; }
verify >/dev/null || fail "the token does not verify"
sctl call io.stitch.Auth.Authorize '{"user":"ada","service":"login"}' >/dev/null || fail "Authorize with the store up"
ok "a login, a Verify and an account check on a PostgreSQL store"

# The server stops answering; the connections stay open.
kill -STOP $(pg_processes) || fail "cannot stop PostgreSQL"
STOPPED=1
# sent PID: waits (10 s at most) until client PID has sent its call and
# waits for the answer: blocked in poll(2), syscall 7 on x86-64 (the
# client connects and writes without polling).
sent() {
        local start=$SECONDS
        until [ "$(cut -d' ' -f1 "/proc/$1/syscall" 2>/dev/null)" = 7 ]; do
                kill -0 "$1" 2>/dev/null || return 1
                [ $((SECONDS - start)) -ge 10 ] && return 1
                sleep 0.01
        done
}
[ "$(uname -m)" = x86_64 ] || skip "the check that a call was sent reads x86-64 syscall numbers"
"$STITCHCTL" call io.stitch.Auth.Authorize '{"user":"ada","service":"login"}' >"$T/authorize.out" 2>&1 &
authorize=$!
sent "$authorize" || fail "Authorize was not sent: $(cat "$T/authorize.out")"
"$STITCHCTL" call io.stitch.Token.Refresh "$(jq -cn --arg t "$rt" '{refresh_token:$t}')" >"$T/refresh.out" 2>&1 &
refresh=$!
sent "$refresh" || fail "Refresh was not sent: $(cat "$T/refresh.out")"
# Both calls are in the daemon, neither answered while the server is
# stopped; a Verify sent after them must not wait behind them.
for _ in 1 2 3 4 5; do
        timeout 5 "$STITCHCTL" call io.stitch.Token.Verify "$(jq -cn --arg t "$at" '{access_token:$t}')" >/dev/null \
                || fail "Verify waited for a stopped store (a call that reads the store held up the event loop)"
done
t0=$(date +%s%N)
timeout 5 "$STITCHCTL" call io.stitch.Token.Verify "$(jq -cn --arg t "$at" '{access_token:$t}')" >/dev/null \
        || fail "Verify waited for a stopped store (an account check held up the event loop)"
t1=$(date +%s%N)
kill -0 "$authorize" 2>/dev/null || fail "Authorize answered while the store was stopped: $(cat "$T/authorize.out")"
ok "Verify answered in $(((t1 - t0) / 1000000)) ms while Authorize and Refresh waited for a stopped store"

pg_resume
wait "$authorize" || fail "Authorize failed after the store came back: $(cat "$T/authorize.out")"
wait "$refresh" || fail "Refresh failed after the store came back: $(cat "$T/refresh.out")"
jq -e '.parameters.access_token' "$T/refresh.out" >/dev/null || fail "no token from the Refresh: $(cat "$T/refresh.out")"
verify >/dev/null || fail "the token does not verify after the store came back"
ok "the waiting calls complete when the server runs again"
