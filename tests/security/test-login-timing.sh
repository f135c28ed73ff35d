#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Second review, R6: unknown names were checked against a dummy hash made
# with the current PasswordHash=, while an existing account's hash keeps the
# parameters it was made with until its user next logs in. After an
# operator changed PasswordHash=, a failed login told "exists" from "does
# not exist" by its time (old daemon, default parameters lowered to the
# tests' m=1024,t=1: 20.45 ms against 0.57 ms; raised: 0.72 ms against
# 20.46 ms, docs/security.md).
# Now every failure costs one hash at the floor: PasswordHash=, raised to
# the costliest stored hash met since the start.
#
# Real logins (Auth.Login on fresh connections, as the PAM module makes
# them, timed by tests/reliability/rel-client), the classes interleaved
# attempt by attempt so that machine load hits them alike; medians of
# ROUNDS attempts per class must agree within a factor of 3 (the old daemon:
# a factor of 20 and more with this pair of parameters).
. "$TESTS_LIB"
CLIENT=$top_builddir/tests/reliability/rel-client
[ -x "$CLIENT" ] || skip "rel-client is not built"
ROUNDS=${STITCH_TIMING_ROUNDS:-15}
CHEAP=argon2id:m=8,t=1,p=1
COSTLY=argon2id:m=16384,t=2,p=1

config() {
        stitch_config <<X
[Limits]
MaxFailures=1000
[Provider.local-userpass]
PasswordHash=$1
X
}
median() { "$CLIENT" ks "$1" "$1" | awk '{print $6}'; }
# measure NAME PASSWORD ...: ROUNDS interleaved rounds; class k's times
# (microseconds) in $T/class.k; every attempt must be InvalidCredentials.
measure() {
        local k
        "$CLIENT" login-times "$STITCH_SOCKET" "$ROUNDS" "$@" > "$T/times" || fail "rel-client login-times failed"
        bad=$(awk '$3 != "io.stitch.Error.InvalidCredentials"' "$T/times" | head -n 3)
        [ -z "$bad" ] || fail "an attempt was not answered InvalidCredentials: $bad"
        for ((k = 0; k < $# / 2; k++)); do awk -v k=$k '$1 == k {print $2}' "$T/times" > "$T/class.$k"; done
}
# within3 WHAT A B: medians A and B (microseconds) within a factor of 3.
within3() {
        awk -v a="$2" -v b="$3" 'BEGIN { exit !(a <= 3 * b && b <= 3 * a) }' \
                || fail "$1: median $2 us against $3 us, more than a factor of 3 apart"
}

# Before the change: an account whose hash has the cheap parameters.
config "$CHEAP"
stitch_start
stitch_user early@example.com early 'early password'
stitch_stop

# PasswordHash= raised: "early" keeps its cheap hash, "late" gets the new one.
config "$COSTLY"
stitch_start
stitch_user late@example.com late 'late password'
measure early 'wrong password 1' nobody-here 'wrong password 2' late 'wrong password 3'
early=$(median "$T/class.0") unknown=$(median "$T/class.1") late=$(median "$T/class.2")
echo "# raised to $COSTLY: stored $CHEAP ${early} us, unknown ${unknown} us, stored $COSTLY ${late} us (medians of $ROUNDS)"
within3 "raised: an account with the older, cheaper hash vs an unknown name" "$early" "$unknown"
within3 "raised: an account with the current hash vs an unknown name" "$late" "$unknown"
ok "PasswordHash= raised: failures cost the same for old hashes, new hashes and unknown names"
stitch_stop

# PasswordHash= lowered again: now "late" has the costlier hash. The first
# failure against it raises every failure to its cost (one notice line);
# the attempts measured come after it.
config "$CHEAP"
stitch_start
measure late 'wrong password 4' nobody-here 'wrong password 5' early 'wrong password 6'
late=$(median "$T/class.0") unknown=$(median "$T/class.1") early=$(median "$T/class.2")
echo "# lowered to $CHEAP: stored $COSTLY ${late} us, unknown ${unknown} us, stored $CHEAP ${early} us (medians of $ROUNDS)"
within3 "lowered: an account with the older, costlier hash vs an unknown name" "$late" "$unknown"
within3 "lowered: an account with the current hash vs an unknown name" "$early" "$unknown"
grep -q 'A stored password hash costs more than PasswordHash=' "$STITCHD_LOG" \
        || fail "no notice that failed logins now cost as much as the older hash"
ok "PasswordHash= lowered: once an older, costlier hash was met, every failure costs as much"

# A success is not padded (the floor is for failures): a figure, not a
# check, as a success also commits a session to disk.
"$CLIENT" login-times "$STITCH_SOCKET" 5 early 'early password' > "$T/times" || fail "rel-client login-times failed"
awk '$3 != "ok"' "$T/times" | grep -q . && fail "early could not log in: $(head -n 1 "$T/times")"
awk '{print $2}' "$T/times" > "$T/success"
echo "# a successful login with stored $CHEAP: $(median "$T/success") us (median of 5)"
ok "the right password still logs in"
