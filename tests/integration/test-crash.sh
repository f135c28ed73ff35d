#!/bin/bash
# Crash consistency through the daemon: SIGKILL stitchd in the middle of a
# burst of acknowledged writes (user creation, logins, logouts); after each
# restart every acknowledged write is there, no logged-out token verifies,
# and the database passes PRAGMA integrity_check.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"
command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"
ROUNDS=${STITCH_CRASH_ROUNDS:-6}
stitch_start
stitch_user ada@example.com ada 'ada-password'

writer() { # N: creates users and logs in/out until the daemon dies; records acknowledgements
        local n=$1 i=0
        while :; do
                i=$((i + 1))
                if printf 'pw-%s-%s' "$n" "$i" | "$STITCHCTL" user add --email "u$n-$i-$RANDOM@crash.test" --password-stdin --json \
                        > "$T/w$n.last" 2>/dev/null; then
                        jq -r .user.data.email "$T/w$n.last" >> "$T/acked.users"
                else
                        break
                fi
                L=$("$STITCHCTL" call io.stitch.Auth.Login '{"user":"ada","password":"ada-password","service":"login"}' 2>/dev/null) || break
                rt=$(jq -r .parameters.refresh_token <<<"$L"); at=$(jq -r .parameters.access_token <<<"$L")
                if "$STITCHCTL" call io.stitch.Token.Logout "$(jq -cn --arg t "$rt" '{refresh_token:$t}')" >/dev/null 2>&1; then
                        echo "$at" >> "$T/acked.logouts"
                else
                        break
                fi
        done
}

total_users=0; total_logouts=0
for round in $(seq 1 "$ROUNDS"); do
        writer 1 & w1=$!
        writer 2 & w2=$!
        # Let a random number of acknowledgements happen, then kill mid-burst.
        target=$(( (RANDOM % 15) + 5 + $(cat "$T/acked.users" 2>/dev/null | wc -l) ))
        for i in $(seq 1 600); do
                [ "$(cat "$T/acked.users" 2>/dev/null | wc -l)" -ge "$target" ] && break
                sleep 0.02
        done
        stitch_kill9
        wait $w1 $w2 2>/dev/null
        expect_eq "integrity (round $round)" ok "$(sqlite3 "$T/stitch.db" 'PRAGMA integrity_check')"
        stitch_start
        while read -r email; do
                sctl user show "$email" >/dev/null 2>&1 || fail "round $round: acknowledged user $email is missing"
        done < "$T/acked.users"
        if [ -f "$T/acked.logouts" ]; then
                while read -r at; do
                        sctl call io.stitch.Token.Verify "$(jq -cn --arg t "$at" '{access_token:$t}')" >/dev/null 2>&1 \
                                && fail "round $round: a logged-out token verifies after the crash"
                done < "$T/acked.logouts"
        fi
done
ok "$ROUNDS SIGKILLs: $(wc -l < "$T/acked.users") acknowledged users and $(wc -l < "$T/acked.logouts" 2>/dev/null || echo 0) logouts all survived; integrity_check ok"
