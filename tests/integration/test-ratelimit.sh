#!/bin/bash
# Per-account rate limiting: MaxFailures free attempts within FailureWindow,
# then a lock that doubles per failure up to BackoffMax; success resets;
# `stitchctl user unlock` clears; parallel guessing cannot exceed the limit.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"
stitch_config <<'X'
[Limits]
MaxFailures=3
FailureWindow=10min
BackoffMax=3s
X
stitch_start
stitch_user ada@example.com ada 'ada-password'
stitch_user bob@example.com bob 'bob-password'

login() { sctl call io.stitch.Auth.Login "$(jq -cn --arg u "$1" --arg p "$2" '{user:$u, password:$p, service:"login"}')"; }
err() { jq -r '.error // "ok"' <<<"$1"; }

login_json() { jq -cn --arg u "$1" --arg p "$2" '{method:"io.stitch.Auth.Login", parameters:{user:$u, password:$p, service:"login"}}'; }
for i in 1 2 3; do
        expect_eq "attempt $i" io.stitch.Error.InvalidCredentials "$(err "$(login ada wrong-pw-$i)")"
done
# The 4th failure and the right password on one connection: the 1 s lock
# must not pass between them (separate processes can take longer than that
# on a loaded machine or under sanitizers).
out=$(printf '%s\0%s\0' "$(login_json ada wrong-pw-4)" "$(login_json ada ada-password)" | "$top_builddir/tests/helpers/wire-raw" "$STITCH_SOCKET" 3000)
expect_eq "attempt 4" io.stitch.Error.InvalidCredentials "$(err "$(sed -n 1p <<<"$out")")"
out=$(sed -n 2p <<<"$out")
expect_eq "locked" io.stitch.Error.TooManyAttempts "$(err "$out")"
expect_eq "retry_after" 1 "$(jq -r .parameters.retry_after <<<"$out")"
ok "after MaxFailures failures the account is locked, even for the right password"

# The lock doubles per failure and is capped at BackoffMax.
wait_unlocked() { # polls until the lock has passed (time must pass; bounded)
        local i=0
        PROBE_T=$(date +%s%N)
        while [ "$(err "$(login ada probe-only-while-locked)")" = io.stitch.Error.TooManyAttempts ]; do
                i=$((i + 1)); [ $i -gt 100 ] && fail "lock never lifted"; sleep 0.1
                PROBE_T=$(date +%s%N)
        done
}
# expect_lock WHAT SECONDS: a wrong password right after the probe that set
# a SECONDS lock is refused with retry_after SECONDS. A loaded or sanitized
# machine can take a second or more between two stitchctl calls: then the
# refusal may say less, or the lock may have passed (said, not failed).
expect_lock() {
        local out got ms
        out=$(login ada x-wrong-x)
        ms=$(( ($(date +%s%N) - PROBE_T) / 1000000 ))
        got=$(jq -r '.parameters.retry_after // empty' <<<"$out")
        if [ "$ms" -lt 1000 ]; then
                expect_eq "$1" "io.stitch.Error.TooManyAttempts $2" "$(err "$out") $got"
        elif [ "$(err "$out")" = io.stitch.Error.TooManyAttempts ]; then
                [ "$got" -ge 1 ] && [ "$got" -le "$2" ] || fail "$1: retry_after $got, expected 1..$2 ($ms ms after the probe)"
                echo "# $1: retry_after $got, $ms ms after the probe that set the lock"
        elif [ "$ms" -ge $(($2 * 1000)) ]; then
                echo "# $1: not checked, the $2 s lock had passed ($ms ms after the probe)"
        else
                fail "$1: $(err "$out") only $ms ms after a $2 s lock began"
        fi
}
wait_unlocked            # that probe was the 5th failure: lock 2 s
expect_lock "doubled" 2
wait_unlocked            # the next failure: 4 s, capped to 3
expect_lock "cap" 3
ok "the lock doubles per failure and never exceeds BackoffMax"

# Other accounts are not affected.
login bob bob-password >/dev/null || fail "bob affected by ada's lock"
ok "the limit is per account"

# unlock clears it.
sctl user unlock ada >/dev/null || fail "unlock"
login ada ada-password >/dev/null || fail "login after unlock"
ok "stitchctl user unlock clears the lock"

# Success resets the count.
for i in 1 2 3; do login ada wrong-$i >/dev/null; done
login ada ada-password >/dev/null || fail "3 failures must not lock"
for i in 1 2 3; do expect_eq "after reset $i" io.stitch.Error.InvalidCredentials "$(err "$(login ada wrong-$i)")"; done
ok "a successful login resets the count"

# Parallel guessing from many connections: at most MaxFailures+1 guesses are checked.
# A lock that ends while the guesses are still coming lets one more through
# (locks of 1, 2, 3, 3, ... s from BackoffMax=3s); 24 stitchctl processes
# can take longer than 1 s on a slow machine or under sanitizers.
sctl user unlock ada >/dev/null
t0=$(date +%s%N)
for i in $(seq 1 24); do login ada "parallel-$i" > "$T/par.$i" & done
wait
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
windows=$(awk -v ms="$ms" 'BEGIN { n = 0; l = 1000; t = 1000; while (t <= ms) { n++; l = (2 * l > 3000 ? 3000 : 2 * l); t += l } print n }')
checked=$(cat "$T"/par.* | jq -r .error | grep -c InvalidCredentials)
limited=$(cat "$T"/par.* | jq -r .error | grep -c TooManyAttempts)
expect_eq "all answered" 24 $((checked + limited))
[ "$checked" -le $((4 + windows)) ] || fail "$checked parallel guesses were checked (limit 3+1, +$windows for lock windows that ended in $ms ms)"
ok "parallel guessing: $checked of 24 guesses checked, $limited refused (in $ms ms, $windows lock windows ended)"

# Unknown accounts are limited the same way (no enumeration by lock behaviour).
for i in 1 2 3; do login nosuch wrong-$i >/dev/null; done
out=$(printf '%s\0%s\0' "$(login_json nosuch wrong-4)" "$(login_json nosuch wrong-5)" | "$top_builddir/tests/helpers/wire-raw" "$STITCH_SOCKET" 3000)
expect_eq "unknown locked" io.stitch.Error.TooManyAttempts "$(err "$(sed -n 2p <<<"$out")")"
ok "unknown accounts lock like real ones"
