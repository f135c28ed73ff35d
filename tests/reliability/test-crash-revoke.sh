#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Crash consistency with revocations in the mix: three writers (user
# creation; logins, half of them revoked one by one with SessionRevoke; users
# that log in and are then revoked with UserRevoke or disabled) run until
# stitchd is SIGKILLed at a random moment. After each restart:
#   - every acknowledged user exists;
#   - every acknowledged login that was not revoked still refreshes;
#   - no session whose revocation was acknowledged verifies or refreshes;
#   - no user whose disabling was acknowledged logs in;
#   - PRAGMA integrity_check is ok.
# STITCH_CRASH_ROUNDS rounds (default 2; 100 under make check-reliability).
. "$top_srcdir/tests/reliability/rel-lib.sh"
command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"
ROUNDS=${STITCH_CRASH_ROUNDS:-2}
stitch_config <<'X'
[Tokens]
AccessTokenLifetime=12h
X
stitch_start

j_at() { jq -cn --arg t "$1" '{access_token:$t}'; }
j_rt() { jq -cn --arg t "$1" '{refresh_token:$t}'; }

# 1: creates users.
writer_users() {
        local i=0
        while :; do
                i=$((i + 1))
                out=$(rel_call io.stitch.Admin.UserCreate "{\"email\":\"u$round-$i@crash.test\",\"password\":\"pw-$round-$i\"}")
                [ -n "$(rel_param "$out" user)" ] || break
                echo "u$round-$i@crash.test" >> "$T/acked.users"
        done
}

# 2: logs in as live$round; every other session is revoked with SessionRevoke.
writer_sessions() {
        local i=0 out at rt sid
        while :; do
                i=$((i + 1))
                out=$(rel_call io.stitch.Auth.Login "$(rel_login_json "live$round" live-password)")
                at=$(rel_param "$out" access_token); rt=$(rel_param "$out" refresh_token); sid=$(rel_param "$out" session_id)
                [ -n "$at" ] || break
                if [ $((i % 2)) = 0 ]; then
                        echo "$at $rt" >> "$T/acked.live"
                        continue
                fi
                echo "$at $rt" >> "$T/pending.revoke.$round"
                out=$(rel_call io.stitch.Admin.SessionRevoke "$(jq -cn --arg s "$sid" '{session_id:$s}')")
                [ -n "$(rel_param "$out" session_id)" ] || break
                echo "$at $rt" >> "$T/acked.revoked"
        done
}

# 3: creates a user, logs in twice, then revokes (odd) or disables (even) it.
writer_revoke_users() {
        local i=0 out u at1 rt1 at2 rt2
        while :; do
                i=$((i + 1)); u="r$round-$i"
                out=$(rel_call io.stitch.Admin.UserCreate "{\"email\":\"$u@crash.test\",\"unix_name\":\"$u\",\"password\":\"$u-password\"}")
                [ -n "$(rel_param "$out" user)" ] || break
                echo "$u@crash.test" >> "$T/acked.users"
                out=$(rel_call io.stitch.Auth.Login "$(rel_login_json "$u" "$u-password")")
                at1=$(rel_param "$out" access_token); rt1=$(rel_param "$out" refresh_token)
                out=$(rel_call io.stitch.Auth.Login "$(rel_login_json "$u" "$u-password")")
                at2=$(rel_param "$out" access_token); rt2=$(rel_param "$out" refresh_token)
                [ -n "$at1" ] && [ -n "$at2" ] || break
                if [ $((i % 2)) = 1 ]; then
                        out=$(rel_call io.stitch.Admin.UserRevoke "{\"user\":\"$u\"}")
                        [ -n "$(rel_param "$out" user_id)" ] || break
                        printf '%s %s\n%s %s\n' "$at1" "$rt1" "$at2" "$rt2" >> "$T/acked.revoked"
                else
                        out=$(rel_call io.stitch.Admin.UserDisable "{\"user\":\"$u\"}")
                        [ -n "$(rel_param "$out" user_id)" ] || break
                        printf '%s %s\n%s %s\n' "$at1" "$rt1" "$at2" "$rt2" >> "$T/acked.revoked"
                        echo "$u" >> "$T/acked.disabled"
                fi
        done
}

count() { cat "$@" 2>/dev/null | wc -l; }

# The checks, on the lists of one round (acked.*) or of all rounds (all.*).
check_users() {
        while read -r email; do
                sctl user show "$email" >/dev/null 2>&1 || fail "$1: acknowledged user $email is missing"
        done < "$2"
}
check_revoked() {
        while read -r at rt; do
                [ -n "$(rel_param "$(rel_call io.stitch.Token.Verify "$(j_at "$at")")" claims)" ] \
                        && fail "$1: a revoked session's access token verifies after the crash"
                [ -n "$(rel_param "$(rel_call io.stitch.Token.Refresh "$(j_rt "$rt")")" access_token)" ] \
                        && fail "$1: a revoked session's refresh token refreshes after the crash"
        done < "$2"
}
check_live() {
        while read -r at rt; do
                [ -n "$(rel_param "$(rel_call io.stitch.Token.Refresh "$(j_rt "$rt")")" access_token)" ] \
                        || fail "$1: an acknowledged login's refresh token was lost in the crash"
        done < "$2"
}
check_disabled() {
        while read -r u; do
                [ -n "$(rel_param "$(rel_call io.stitch.Auth.Login "$(rel_login_json "$u" "$u-password")")" access_token)" ] \
                        && fail "$1: disabled user $u logs in after the crash"
        done < "$2"
}

for f in users live revoked disabled; do : > "$T/all.$f"; done
for round in $(seq 1 "$ROUNDS"); do
        for f in users live revoked disabled; do : > "$T/acked.$f"; done
        stitch_user "live$round@crash.test" "live$round" live-password
        writer_users & w1=$!
        writer_sessions & w2=$!
        writer_revoke_users & w3=$!
        # A random number of acknowledgements, then SIGKILL in the middle of the burst.
        # (Counted on the slower writers: sessions, revocations, disabled users.)
        target=$(( (RANDOM % 8) + 3 ))
        for i in $(seq 1 1500); do
                [ "$(count "$T"/acked.live "$T"/acked.revoked "$T"/acked.disabled)" -ge "$target" ] && break
                sleep 0.02
        done
        stitch_kill9
        wait $w1 $w2 $w3 2>/dev/null
        expect_eq "integrity (round $round)" ok "$(rel_integrity)"
        stitch_start
        check_users "round $round" "$T/acked.users"
        check_revoked "round $round" "$T/acked.revoked"
        check_live "round $round" "$T/acked.live"
        check_disabled "round $round" "$T/acked.disabled"
        for f in users live revoked disabled; do cat "$T/acked.$f" >> "$T/all.$f"; done
        echo "# round $round: $(count "$T/acked.users") users, $(count "$T/acked.live") logins, $(count "$T/acked.revoked") revoked sessions, $(count "$T/acked.disabled") disabled users acknowledged"
done
# Nothing of an earlier round came back or went away in a later crash.
check_users "after all rounds" "$T/all.users"
check_revoked "after all rounds" "$T/all.revoked"
check_disabled "after all rounds" "$T/all.disabled"
expect_eq "final integrity" ok "$(rel_integrity)"
ok "$ROUNDS SIGKILLs with revocations in the mix: $(count "$T/all.users") users, $(count "$T/all.live") logins, $(count "$T/all.revoked") revoked sessions and $(count "$T/all.disabled") disabled users acknowledged, all in force after each restart and at the end; integrity_check ok"
