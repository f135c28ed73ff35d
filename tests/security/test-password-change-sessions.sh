#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Finding 10: changing or resetting a password (PAM passwd, admin
# UserSetPassword) left every other session alive, so a stolen refresh
# token survived the reset. Now ([Sessions] EndOnPasswordChange=yes, the
# default) the user's other sessions end; the session that changed the
# password (STITCH_SESSION of the login `passwd` runs in) stays.
. "$top_srcdir/tests/pam/pam-lib.sh"
command -v jq >/dev/null || skip "jq is not installed"
need_stitchd

stitch_start
stitch_user ada@example.com ada 'correct horse'
pam_service stitch-test "$PAM_ARGS"
login() { sctl call io.stitch.Auth.Login '{"user":"ada","password":"'"$1"'","service":"login"}'; }
refresh_ok() { sctl call io.stitch.Token.Refresh "$(jq -c '{refresh_token:.parameters.refresh_token}' <<<"$1")" >/dev/null 2>&1; }
verify_ok() { sctl call io.stitch.Token.Verify "$(jq -c '{access_token:.parameters.access_token}' <<<"$1")" >/dev/null 2>&1; }

STOLEN=$(login 'correct horse')     # the thief's copy
MINE=$(login 'correct horse')       # the login the owner runs passwd in
refresh_ok "$STOLEN" || fail "setup"
# passwd through PAM, inside the owner's login (STITCH_SESSION in its environment).
STITCH_SESSION=$(jq -r .parameters.session_id <<<"$MINE") \
        pam_run --user ada chauthtok <<<$'correct horse\nnew battery\nnew battery'
expect_out "chauthtok: PAM_SUCCESS"
refresh_ok "$STOLEN" && fail "the stolen refresh token survived the password change"
verify_ok "$STOLEN" && fail "the stolen session's access token survived the password change"
refresh_ok "$MINE" || fail "the session that changed the password was ended"
grep -q "ended (password)" "$STITCHD_LOG" || fail "the ended session was not logged"
ok "a password change through PAM ends the other sessions at once and keeps the changing one"

# An administrator's reset ends them all.
A=$(login 'new battery'); B=$(login 'new battery')
printf 'reset password' | sctl user passwd ada --password-stdin >/dev/null || fail "admin reset"
refresh_ok "$A" && fail "a session survived the admin reset"
refresh_ok "$B" && fail "a session survived the admin reset"
refresh_ok "$MINE" && fail "a session survived the admin reset"
ok "an admin password reset ends every session of the user"

# EndOnPasswordChange=no keeps the old behaviour for those who want it.
stitch_stop
stitch_config <<'X'
[Sessions]
EndOnPasswordChange=no
X
stitch_start
KEEP=$(login 'reset password')
pam_run --user ada chauthtok <<<$'reset password\nnew battery\nnew battery'
expect_out "chauthtok: PAM_SUCCESS"
refresh_ok "$KEEP" || fail "EndOnPasswordChange=no ended a session"
ok "EndOnPasswordChange=no keeps the other sessions"
