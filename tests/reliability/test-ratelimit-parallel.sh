#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Rate limiting against a parallel guessing attack: 64 connections guess
# one account's password at once. Counts, does not time: the number of
# guesses the daemon checked (InvalidCredentials replies, and its own
# password_verifications counter) must not exceed MaxFailures + 1 in the
# first lock window, plus one per lock window that ended while the attack
# ran (locks of 1, 2, 4, ... s); everything else gets TooManyAttempts; and
# the right password, sent in the middle of the attack as soon as the first
# TooManyAttempts arrives, is refused (strictly when its reply came within
# 0.9 s of the start, inside the first lock window for certain).
# STITCH_RELIABILITY_LONG=1: 4096 guesses instead of 512, and 5 rounds with
# an unlock in between.
. "$top_srcdir/tests/reliability/rel-lib.sh"
CLIENT=$top_builddir/tests/reliability/rel-client
[ -x "$CLIENT" ] || skip "rel-client not built"
MAX_FAILURES=10
GUESSES=512; ROUNDS=1
[ -n "$REL_LONG" ] && GUESSES=4096 ROUNDS=5

stitch_config <<X
[Limits]
MaxFailures=$MAX_FAILURES
FailureWindow=15min
BackoffMax=15min
X
stitch_start
stitch_user ada@example.com ada ada-password
verifications() { sctl status --json | jq .password_verifications; }

total_checked=0; strict=0
for round in $(seq 1 "$ROUNDS"); do
        v0=$(verifications)
        out=$("$CLIENT" guess "$STITCH_SOCKET" 64 "$GUESSES" ada ada-password) || fail "guess: $out"
        v1=$(verifications)
        read -r _ checked _ limited _ other _ secs _ right _ right_ms <<<"$out"
        # Lock windows that can have ended during the attack: 1 + 2 + ... <= secs.
        windows=$(awk -v s="$secs" 'BEGIN { n = 0; t = 1; while (t - 1 <= s) { n++; t *= 2 } print n - 1 }')
        bound=$((MAX_FAILURES + 1 + windows))
        echo "# round $round: $out; daemon verifications $((v1 - v0)); bound $bound"
        [ "$checked" -le "$bound" ] || fail "round $round: $checked guesses checked, more than $bound"
        # The right-password login is one more verification only when the lock had expired.
        extra=0; [ "$right" = ok ] && extra=1
        [ $((v1 - v0 - extra)) -le "$bound" ] || fail "round $round: the daemon ran $((v1 - v0)) password verifications, more than $bound"
        [ $((checked + limited)) = "$GUESSES" ] || fail "round $round: unexpected answers: $out"
        # The right password, sent by the client as soon as it saw the first
        # TooManyAttempts, in the middle of the attack. The first lock lasts
        # 1 s from the (MaxFailures+1)th failure, which came after the start
        # of the attack: a reply within 0.9 s of the start was certainly
        # given while the account was locked, and must refuse.
        case $right in
        none) fail "round $round: no TooManyAttempts, so the account was never locked: $out" ;;
        io.stitch.Error.TooManyAttempts) strict=$((strict + 1)) ;;
        *)
                if awk -v ms="$right_ms" 'BEGIN { exit !(ms < 900) }'; then
                        fail "round $round: the right password got '$right' $right_ms ms into the attack, while the account was locked"
                fi
                echo "# round $round: the right password came $right_ms ms into the attack, after the first lock could have ended ($right); test-ratelimit.sh checks the lock sequentially" ;;
        esac
        total_checked=$((total_checked + checked))
        sctl user unlock ada >/dev/null || fail "unlock"
done
[ -n "$(rel_param "$(rel_call io.stitch.Auth.Login "$(rel_login_json ada ada-password)")" access_token)" ] || fail "login after unlock"
ok "$ROUNDS x $GUESSES parallel guesses from 64 connections: $total_checked checked in all, at most MaxFailures+1 (+1 per elapsed lock window) per round; the rest TooManyAttempts; the right password refused while locked in $strict of $ROUNDS rounds"
