#!/bin/bash
# Long-lived logins: open sessions get fresh access tokens before expiry,
# across restarts; `stitchctl token` hands them out; a session that ends for
# any reason (close, revoke, disable, login process killed) fails at once;
# OnRevoke=terminate ends the login; MaxPerUser ends the oldest open session.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"
# valgrind 3.19 does not implement pidfd_open (syscall 434), which watching
# the login process needs: under it stitchd cannot keep sessions fresh.
[ -n "$STITCH_VALGRIND" ] && skip "valgrind 3.19 lacks pidfd_open, which this test needs"
stitch_config <<'X'
[Tokens]
AccessTokenLifetime=10s
RefreshMargin=4s
X
stitch_start
# The login processes run as the session's Unix account: stitchd watches
# (and with OnRevoke=terminate signals) only a process of the session's uid.
stitch_local_account U
stitch_user ada@example.com "$U" 'ada-password'

verify() { sctl call io.stitch.Token.Verify "$(jq -cn --arg t "$1" '{access_token:$t}')" >/dev/null 2>&1; }
login() { sctl call io.stitch.Auth.Login "$(jq -cn --arg u "$U" '{user:$u,password:"ada-password",service:"sshd"}')"; }
# open_session LOGIN_REPLY PID: registers the login as root does (PAM in sshd), naming the leader.
open_session() {
        sctl call io.stitch.Auth.OpenSession "$(jq -c --arg u "$U" --argjson p "$2" \
                '{session_id:.parameters.session_id, binding:.parameters.binding, user:$u, pid:$p, service:"sshd"}' <<<"$1")" >/dev/null
}
close_session() {
        sctl call io.stitch.Auth.CloseSession "$(jq -c --arg u "$U" \
                '{session_id:.parameters.session_id, binding:.parameters.binding, user:$u}' <<<"$1")" >/dev/null
}
exp_of() { sctl call io.stitch.Token.Verify "$(jq -cn --arg t "$1" '{access_token:$t}')" | jq -r .parameters.claims.exp; }
fails_within_1s() { # TOKEN WHAT
        local i
        for i in $(seq 1 20); do verify "$1" || return 0; sleep 0.05; done
        fail "$2: token still verifies after 1 s"
}
# Sets LP to a new login process running as $U.
start_login_process() { stitch_spawn_as "$U" sleep 100000 >/dev/null 2>&1; LP=$STITCH_AS_PID; LOGINS+=("$LP"); }
LOGINS=()
cleanup_logins() { for p in "${LOGINS[@]}"; do kill -9 "$p" 2>/dev/null; done; }
trap 'cleanup_logins; stitch_cleanup' EXIT

start_login_process
L=$(login) || fail "login"
SID=$(jq -r .parameters.session_id <<<"$L")
open_session "$L" "$LP" || fail "OpenSession"
export STITCH_SESSION=$SID
prev=$(sctl token) || fail "stitchctl token"
verify "$prev" || fail "the session's token does not verify"
prev_exp=$(exp_of "$prev")
start=$(date +%s)
n=0
while [ $(( $(date +%s) - start )) -lt 31 ]; do
        next=$(sctl token --wait-refresh --timeout 15) || fail "no refresh arrived"
        now=$(date +%s)
        [ "$next" != "$prev" ] || fail "wait-refresh returned the same token"
        [ "$now" -lt "$prev_exp" ] || fail "refresh came after the previous token expired ($now >= $prev_exp)"
        verify "$next" || fail "refreshed token does not verify"
        verify "$prev" || fail "previous token stopped verifying before its expiry"
        prev=$next; prev_exp=$(exp_of "$next"); n=$((n + 1))
done
[ $n -ge 4 ] || fail "only $n refreshes in 31 s"
ok "$n refreshes over three 10 s lifetimes, each before the previous token expired"

# Restart: the session resumes from the store and refreshing goes on.
stitch_stop; stitch_start
tok=$(sctl token) || fail "token after restart"
verify "$tok" || fail "token after restart does not verify"
next=$(sctl token --wait-refresh --timeout 15) || fail "no refresh after restart"
verify "$next" || fail "refresh after restart does not verify"
ok "after a restart the refresh goes on"

# Down for longer than a lifetime: refreshed at once when back.
stitch_stop
sleep 11   # time has to pass for the token to expire while the daemon is down
verify "$prev" 2>/dev/null
stitch_start
for i in $(seq 1 40); do [ "$(sctl status --json | jq .refreshes)" -ge 1 ] && break; sleep 0.05; done
[ "$(sctl status --json | jq .refreshes)" -ge 1 ] || fail "expired session was not refreshed at once after the restart"
tok=$(sctl token); verify "$tok" || fail "token after downtime"
ok "a token that expired while the daemon was down is refreshed at once"

# The login process dies without close_session: logged out at once.
tok=$(sctl token)
kill -9 "$LP"
fails_within_1s "$tok" "login process killed"
sctl token >/dev/null 2>&1 && fail "stitchctl token still works for a dead login"
ok "a login whose process was killed is logged out within a second"

# close, revoke, disable: each ends the live login's tokens at once.
for how in close revoke disable; do
        start_login_process
        L=$(login); SID=$(jq -r .parameters.session_id <<<"$L"); open_session "$L" "$LP" || fail "open ($how)"
        tok=$(STITCH_SESSION=$SID sctl token)
        case $how in
        close) close_session "$L" ;;
        revoke) sctl session revoke "$SID" >/dev/null ;;
        disable) sctl user disable ada@example.com >/dev/null ;;
        esac
        fails_within_1s "$tok" "$how"
        STITCH_SESSION=$SID sctl token >/dev/null 2>&1 && fail "token still handed out after $how"
        sctl status --json | jq -e '.open_sessions == 0' >/dev/null || fail "session still refreshed after $how"
        [ $how = disable ] && sctl user enable ada@example.com >/dev/null
        kill -0 "$LP" || fail "OnRevoke=keep must not end the login ($how)"
done
ok "close, revoke and disable end a live login's tokens at once; OnRevoke=keep leaves the process"

# Only the session's own uid (or root) gets its token.
if id nobody >/dev/null 2>&1; then
        start_login_process
        L=$(login); SID=$(jq -r .parameters.session_id <<<"$L"); open_session "$L" "$LP"
        STITCH_SESSION=$SID setpriv --reuid=nobody --regid=nogroup --clear-groups "$STITCHCTL" token >/dev/null 2>&1 \
                && fail "nobody read ada's token"
        ok "stitchctl token refuses other users' sessions"
fi

# OnRevoke=terminate: SIGHUP, then SIGTERM, to the login's leader.
stitch_stop
stitch_config <<'X'
[Tokens]
AccessTokenLifetime=10s
RefreshMargin=4s
[Sessions]
OnRevoke=terminate
MaxPerUser=2
X
stitch_start
cat > "$T/leader.sh" <<'S'
trap 'echo HUP >> "$1"' HUP
trap 'echo TERM >> "$1"; exit 0' TERM
echo started >> "$1"
while :; do sleep 0.1; done
S
touch "$T/signals"; chmod 0666 "$T/signals"; chmod 0644 "$T/leader.sh"
# (default dispositions: a shell cannot trap a signal ignored at its start,
# as SIGHUP is under nohup)
stitch_spawn_as "$U" env --default-signal=HUP,TERM bash "$T/leader.sh" "$T/signals"; LP=$STITCH_AS_PID; LOGINS+=("$LP")
for i in $(seq 1 100); do grep -q started "$T/signals" 2>/dev/null && break; sleep 0.02; done
L=$(login); SID=$(jq -r .parameters.session_id <<<"$L"); open_session "$L" "$LP" || fail "open (terminate)"
sctl session revoke "$SID" >/dev/null || fail "revoke"
for i in $(seq 1 200); do kill -0 "$LP" 2>/dev/null || break; sleep 0.05; done
kill -0 "$LP" 2>/dev/null && fail "the login survived OnRevoke=terminate"
expect_eq "signals" "started HUP TERM" "$(tr '\n' ' ' < "$T/signals" | sed 's/ $//')"
grep -q "Sent SIGHUP to login process $LP" "$STITCHD_LOG" || fail "termination not logged"
ok "OnRevoke=terminate sends SIGHUP then SIGTERM to the login and logs it"

# MaxPerUser=2: a third login ends the oldest session, which was open.
S=()
for k in 1 2 3; do
        start_login_process
        L=$(login); sid=$(jq -r .parameters.session_id <<<"$L"); S+=("$sid"); T_[$k]=$(jq -r .parameters.access_token <<<"$L")
        open_session "$L" "$LP" || fail "open $k"
done
verify "${T_[1]}" && fail "the oldest session survived MaxPerUser=2"
verify "${T_[3]}" || fail "the newest session was ended"
grep -q "MaxPerUser=2" "$STITCHD_LOG" || fail "limit not logged"
ok "MaxPerUser ends the oldest session, open or not, logged"
