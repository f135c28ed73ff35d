#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Refresh-token rotation is a compare-and-swap (finding 9): with
# RotateRefreshTokens=yes, concurrent io.stitch.Token.Refresh calls with one
# refresh token must not all succeed. Each round logs in afresh and fires
# the same Refresh on many connections at once (tests/helpers/refresh-race:
# connect all, write all, read all), so that the daemon's workers run them
# side by side. At most one may get a new refresh token; every other one is
# reuse of a rotated token: io.stitch.Error.SessionInvalid, and the session
# ends (the winner's new tokens die with it), as when the calls come one
# after the other.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"
# The helper comes from the build under test, or from REFRESH_RACE (to run
# this test against another stitchd).
REFRESH_RACE=${REFRESH_RACE:-$top_builddir/tests/helpers/refresh-race}
[ -x "$REFRESH_RACE" ] || fail "helper $REFRESH_RACE is not built"

ROUNDS=${REFRESH_RACE_ROUNDS:-20}
CALLS=8

stitch_config <<'X'
[Tokens]
RotateRefreshTokens=yes
X
grep -q '^Workers=[2-9]' "$STITCHD_CONF" || fail "the race needs Workers=2 or more"
stitch_start
stitch_user ada@example.com ada 'ada-password'

login() { sctl call io.stitch.Auth.Login "$(jq -cn --arg u "$1" --arg p "$2" '{user:$u, password:$p, service:"login"}')"; }
verify() { sctl call io.stitch.Token.Verify "$(jq -cn --arg t "$1" '{access_token:$t}')"; }
refresh() { sctl call io.stitch.Token.Refresh "$(jq -cn --arg t "$1" '{refresh_token:$t}')"; }
field() { jq -r ".parameters.$1" <<<"$2"; }

doubled=0
for round in $(seq 1 "$ROUNDS"); do
        L=$(login ada ada-password) || fail "round $round: login: $L"
        RT=$(field refresh_token "$L"); AT=$(field access_token "$L")
        out=$(printf '%s\n' "$RT" | "$REFRESH_RACE" "$STITCH_SOCKET" "$CALLS") \
                || fail "round $round: not every call got a reply:"$'\n'"$out"
        expect_eq "round $round: replies" "$CALLS" "$(grep -c . <<<"$out")"
        won=$(grep -c '^rotated ' <<<"$out")
        lost=$(grep -c '^error io\.stitch\.Error\.SessionInvalid$' <<<"$out")
        if [ "$won" -gt 1 ]; then
                doubled=$((doubled + 1))
                echo "# round $round: $won of $CALLS concurrent refreshes got a new refresh token" >&2
                continue
        fi
        expect_eq "round $round: refreshes that rotated" 1 "$won"
        expect_eq "round $round: refreshes refused as reuse (SessionInvalid)" $((CALLS - 1)) "$lost"
        # The losers presented a rotated-away token: theft detection ended
        # the session, so the winner's new tokens are dead too.
        NEW_RT=$(sed -n 's/^rotated //p' <<<"$out")
        r=$(refresh "$NEW_RT" 2>/dev/null) && fail "round $round: the session survived a raced reuse: $r"
        expect_eq "round $round: winner's refresh token" io.stitch.Error.SessionInvalid "$(jq -r .error <<<"$r")"
        verify "$AT" >/dev/null 2>&1 && fail "round $round: the access token of a raced session still verifies"
        refresh "$RT" >/dev/null 2>&1 && fail "round $round: the raced refresh token still works"
done
[ "$doubled" -eq 0 ] || fail "$doubled of $ROUNDS rounds let two or more concurrent refreshes with one token rotate it"
ok "$ROUNDS rounds of $CALLS concurrent refreshes with one token: one rotates, the rest end the session as reuse"
