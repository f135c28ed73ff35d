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

for i in 1 2 3 4; do
        expect_eq "attempt $i" io.stitch.Error.InvalidCredentials "$(err "$(login ada wrong-pw-$i)")"
done
out=$(login ada ada-password)
expect_eq "locked" io.stitch.Error.TooManyAttempts "$(err "$out")"
expect_eq "retry_after" 1 "$(jq -r .parameters.retry_after <<<"$out")"
ok "after MaxFailures failures the account is locked, even for the right password"

# The lock doubles per failure and is capped at BackoffMax.
wait_unlocked() { # polls until the lock has passed (time must pass; bounded)
        local i=0
        while [ "$(err "$(login ada probe-only-while-locked)")" = io.stitch.Error.TooManyAttempts ]; do
                i=$((i + 1)); [ $i -gt 100 ] && fail "lock never lifted"; sleep 0.1
        done
}
wait_unlocked            # that probe was the 5th failure: lock 2 s
out=$(login ada x-wrong-x); expect_eq "locked again" io.stitch.Error.TooManyAttempts "$(err "$out")"
expect_eq "doubled" 2 "$(jq -r .parameters.retry_after <<<"$out")"
wait_unlocked            # 6th failure: 4 s, capped to 3
out=$(login ada x-wrong-x); expect_eq "cap" 3 "$(jq -r .parameters.retry_after <<<"$out")"
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
sctl user unlock ada >/dev/null
for i in $(seq 1 24); do login ada "parallel-$i" > "$T/par.$i" & done
wait
checked=$(cat "$T"/par.* | jq -r .error | grep -c InvalidCredentials)
limited=$(cat "$T"/par.* | jq -r .error | grep -c TooManyAttempts)
expect_eq "all answered" 24 $((checked + limited))
[ "$checked" -le 4 ] || fail "$checked parallel guesses were checked (limit 3+1)"
ok "parallel guessing: $checked of 24 guesses checked, $limited refused"

# Unknown accounts are limited the same way (no enumeration by lock behaviour).
for i in 1 2 3 4; do login nosuch wrong-$i >/dev/null; done
expect_eq "unknown locked" io.stitch.Error.TooManyAttempts "$(err "$(login nosuch wrong-5)")"
ok "unknown accounts lock like real ones"
