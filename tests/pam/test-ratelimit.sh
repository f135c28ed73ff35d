#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Repeated failures make the daemon rate-limit the account: PAM_MAXTRIES
# with a message, even for the right password, until an admin unlocks it.
. "$(dirname "$0")/pam-lib.sh"
need_stitchd

stitch_config <<'X'
[Limits]
MaxFailures=2
FailureWindow=15min
X
stitch_start
stitch_user ada@example.com ada 'correct horse'
pam_service stitch-test "$PAM_ARGS"

# Locks double (1 s, 2 s, 4 s, ...). Fail until the daemon refuses, wait
# out short locks, and stop at a lock long enough (>= 3 s) to check that
# the right password is refused too, however slow this machine is.
limited=
for i in $(seq 1 20); do
        pam_run --user ada auth <<<"wrong horse"
        if printf '%s\n' "$PAM_OUT" | grep -qxF "auth: PAM_MAXTRIES"; then
                [ -n "$limited" ] || limited=$i
                wait_s=$(printf '%s\n' "$PAM_OUT" | sed -n 's/^error: Too many failed attempts; try again in \([0-9]*\) seconds\.$/\1/p')
                [ -n "$wait_s" ] || fail "no retry time in the message"
                [ "$wait_s" -ge 3 ] && break
                sleep "$wait_s"   # waiting out the lock, so that the next failure doubles it
                continue
        fi
        expect_out "auth: PAM_AUTH_ERR"
done
[ -n "$limited" ] || fail "never rate limited"
[ "$limited" -gt 2 ] || fail "limited after only $limited attempts"
pam_run --user ada auth <<<"correct horse"
expect_out "auth: PAM_MAXTRIES"
ok "rate limited after $limited attempts: PAM_MAXTRIES with the wait, also for the right password"

sctl user unlock ada >/dev/null || fail "unlock failed"
pam_run --user ada auth <<<"correct horse"
expect_out "auth: PAM_SUCCESS"
ok "an admin unlock lets the user in again"
