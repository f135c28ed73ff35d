#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Finding 12: successful logins were not limited, so one local user could
# create sessions without bound (each costs a hash and a 60-day row). Now
# [Sessions] MaxPerUser bounds every live session of a user (the oldest
# end first), and [Limits] CallerLoginsPerMinute bounds successful logins
# per non-root caller uid.
. "$top_srcdir/tests/security/security-lib.sh"
command -v jq >/dev/null || skip "jq is not installed"
stitch_config <<'X'
[Sessions]
MaxPerUser=3
X
stitch_start
sec_local_user ME
stitch_user me@example.com "$ME" 'my password'
login() { sec_as "$ME" "$STITCHCTL" call io.stitch.Auth.Login "$(jq -cn --arg u "$ME" '{user:$u,password:"my password",service:"login"}')"; }
live() { sctl session list --user "$ME" --json | jq '.sessions | length'; }
verify_ok() { sctl call io.stitch.Token.Verify "$(jq -c '{access_token:.parameters.access_token}' <<<"$1")" >/dev/null 2>&1; }

declare -a L
for i in 1 2 3 4 5; do L[$i]=$(login) || fail "login $i"; done
expect_eq "live sessions after 5 logins with MaxPerUser=3" 3 "$(live)"
verify_ok "${L[1]}" && fail "the oldest session survived"
verify_ok "${L[2]}" && fail "the second oldest session survived"
verify_ok "${L[5]}" || fail "the newest session was ended"
grep -q "MaxPerUser=3" "$STITCHD_LOG" || fail "the eviction was not logged"
ok "MaxPerUser bounds all of a user's live sessions, oldest ended first"

stitch_stop
stitch_config <<'X'
[Limits]
CallerLoginsPerMinute=4
X
stitch_start
for i in 1 2 3 4; do login >/dev/null || fail "login $i within the budget"; done
out=$(login) && fail "a fifth login within a minute succeeded"
expect_eq "fifth login" io.stitch.Error.TooManyAttempts "$(jq -r .error <<<"$out")"
jq -e '.parameters.retry_after >= 1' <<<"$out" >/dev/null || fail "no retry_after: $out"
# root (sshd, su, login) is not bound by it: it logs other people in.
sctl call io.stitch.Auth.Login "$(jq -cn --arg u "$ME" '{user:$u,password:"my password",service:"login"}')" >/dev/null \
        || fail "root was limited"
ok "CallerLoginsPerMinute bounds a non-root caller's successful logins; root is not bound"
