#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Password changes through pam_chauthtok().
. "$(dirname "$0")/pam-lib.sh"
need_stitchd

stitch_config </dev/null
stitch_start
stitch_user ada@example.com ada 'correct horse'
pam_service stitch-test "$PAM_ARGS"

pam_run --user ada chauthtok <<<$'correct horse\nnew battery\nnew battery'
expect_out "prompt: Current password: "
expect_out "prompt: New password: "
expect_out "prompt: Retype new password: "
expect_out "chauthtok: PAM_SUCCESS"
pam_run --user ada auth <<<"new battery"
expect_out "auth: PAM_SUCCESS"
pam_run --user ada auth <<<"correct horse"
expect_out "auth: PAM_AUTH_ERR"
ok "the password is changed; the old one stops working"

pam_run --user ada chauthtok <<<$'not my password'
expect_out "chauthtok: PAM_AUTH_ERR"
expect_no_out "prompt: New password: "
ok "a wrong current password is refused before asking for a new one"

pam_run --user ada chauthtok <<<$'new battery\nanother one\nanother two'
expect_out "error: Passwords do not match."
expect_out "chauthtok: PAM_AUTHTOK_ERR"
pam_run --user ada chauthtok <<<$'new battery\nabc\nabc'
expect_out "chauthtok: PAM_AUTHTOK_ERR"
printf '%s\n' "$PAM_OUT" | grep -q '^error: .*characters' || fail "the password rule was not shown"
pam_run --user ada auth <<<"new battery"
expect_out "auth: PAM_SUCCESS"
ok "mismatch and a too short password are refused with a message, nothing changed"

# A user stitch does not know: PAM_USER_UNKNOWN if the daemon says NotFound,
# PAM_AUTH_ERR if it answers like a wrong password.
answer=$(stitch_call io.stitch.Auth.ChangePassword '{"user":"root","old_password":"whatever1","check_only":true}' 2>&1)
pam_run --user root chauthtok <<<"whatever1"
case $answer in
*NotFound*) expect_out "chauthtok: PAM_USER_UNKNOWN" ;;
*) expect_out "chauthtok: PAM_AUTH_ERR" ;;
esac
ok "not a stitch user: $(printf '%s\n' "$PAM_OUT" | tail -n 1)"
