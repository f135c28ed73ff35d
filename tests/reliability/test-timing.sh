#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Login timing: wrong password vs unknown user vs disabled user, with the
# default argon2id parameters (m=19456,t=2,p=1). A measurement for
# docs/reliability.md, NOT a pass/fail test on time: it fails only if the
# harness breaks (a class gets an answer other than InvalidCredentials, or
# the client cannot talk to the daemon).
# Each class spreads its attempts over 4 accounts (or 4 unknown names) and
# MaxFailures is at its maximum, so rate limiting never answers; the classes
# are interleaved attempt by attempt (rel-client login-times), so drifting
# machine load hits all three alike. Prints per class n and median, and per
# pair the two-sample Kolmogorov-Smirnov statistic D with its critical value
# at alpha = 0.01 (about 0.073 for n = m = 1000).
# STITCH_TIMING_ATTEMPTS per class: 20 by default (checks the harness),
# 1000 under make check-reliability.
. "$top_srcdir/tests/reliability/rel-lib.sh"
CLIENT=$top_builddir/tests/reliability/rel-client
[ -x "$CLIENT" ] || skip "rel-client not built"
N=${STITCH_TIMING_ATTEMPTS:-20}
[ -n "$REL_LONG" ] && N=${STITCH_TIMING_ATTEMPTS:-1000}

stitch_config <<'X'
[Limits]
MaxFailures=1000
[Provider.local-userpass]
PasswordHash=argon2id:m=19456,t=2,p=1
X
stitch_start
for i in 1 2 3 4; do
        stitch_user "wrong$i@example.com" "wrong$i" "right-password-$i"
        stitch_user "off$i@example.com" "off$i" "off-password-$i"
        sctl user disable "off$i" >/dev/null || fail "disable off$i"
done
# One round = 12 attempts: classes 0-3 wrong password, 4-7 unknown user,
# 8-11 disabled user (with its right password). N/4 rounds give N per class.
rounds=$(( (N + 3) / 4 ))
args=()
for i in 1 2 3 4; do args+=("wrong$i" "not-the-password-$i"); done
for i in 1 2 3 4; do args+=("nobody-here-$i" "not-the-password-$i"); done
for i in 1 2 3 4; do args+=("off$i" "off-password-$i"); done
# Reorder so the classes alternate: w1 u1 d1 w2 u2 d2 ...
ordered=()
for i in 0 1 2 3; do
        ordered+=("${args[@]:$((2 * i)):2}" "${args[@]:$((2 * (i + 4))):2}" "${args[@]:$((2 * (i + 8))):2}")
done
start=$(date +%s)
"$CLIENT" login-times "$STITCH_SOCKET" "$rounds" "${ordered[@]}" > "$T/times" || fail "login-times failed"
elapsed=$(( $(date +%s) - start ))
# Pair index k: class = k % 3 (0 wrong password, 1 unknown user, 2 disabled).
bad=$(awk '$3 != "io.stitch.Error.InvalidCredentials"' "$T/times" | head -n 3)
[ -z "$bad" ] || fail "an attempt was not answered InvalidCredentials (rate limited or broken): $bad"
for c in 0 1 2; do awk -v c=$c '$1 % 3 == c {print $2}' "$T/times" > "$T/class$c"; done
names=("wrong password" "unknown user" "disabled user")
echo "# $N attempts per class in ${elapsed} s, argon2id m=19456,t=2,p=1, $(nproc) CPUs, microseconds:"
for pair in "0 1" "0 2" "1 2"; do
        set -- $pair
        r=$("$CLIENT" ks "$T/class$1" "$T/class$2") || fail "ks"
        echo "# ${names[$1]} vs ${names[$2]}: $r"
done
ok "timing harness: $N attempts per class measured (a measurement, see docs/reliability.md)"
