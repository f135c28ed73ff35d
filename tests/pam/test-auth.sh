#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Authentication and account checks against a real stitchd: passwords,
# unknown users, disabled users, unix_name and EmailDomain mapping, services.
. "$(dirname "$0")/pam-lib.sh"
need_stitchd

stitch_config <<'X'
[Pam]
EmailDomain=example.com
Services=stitch-test login sshd
X
stitch_start
stitch_user ada@example.com ada 'correct horse'
printf '%s' 'battery staple' | sctl user add --email bob@example.com --password-stdin >/dev/null \
        || fail "could not create bob"
printf '%s' 'carol-secret' | sctl user add --email carol@elsewhere.org --unix-name carol --password-stdin >/dev/null \
        || fail "could not create carol"

pam_service stitch-test "$PAM_ARGS"
pam_service login "$PAM_ARGS"
pam_service other "$PAM_ARGS"

pam_run --user ada --rhost 192.0.2.7 --tty pts/3 auth acct <<<"correct horse"
[ "$PAM_RC" = 0 ] || fail "ada could not log in"
expect_out "prompt: Password: "
ok "correct password: auth and account succeed"

pam_run --user ada auth <<<"wrong horse"
expect_out "auth: PAM_AUTH_ERR"
wrong=$PAM_OUT
pam_run --user nosuchuser auth <<<"wrong horse"
expect_out "auth: PAM_AUTH_ERR"
expect_eq "unknown user looks like a wrong password" "$wrong" "$PAM_OUT"
ok "wrong password and unknown user: the same PAM_AUTH_ERR, the same transcript"

# ada's password does not make her eve; bob's email maps bob, carol's does not.
pam_run --user eve auth <<<"correct horse"
expect_out "auth: PAM_AUTH_ERR"
pam_run --user bob auth acct <<<"battery staple"
expect_out "auth: PAM_SUCCESS"
pam_run --user carol auth <<<"carol-secret"
expect_out "auth: PAM_SUCCESS"
pam_run --user carol@elsewhere.org auth <<<"carol-secret"
expect_out "auth: PAM_AUTH_ERR"
pam_run --user elsewhere auth <<<"carol-secret"
expect_out "auth: PAM_AUTH_ERR"
ok "unix_name must match; NAME@EmailDomain maps to a user without one"

pam_run --service login --user ada auth <<<"correct horse"
expect_out "auth: PAM_SUCCESS"
pam_run --service other --user ada auth <<<"correct horse"
expect_out "auth: PAM_AUTH_ERR"
pam_run --service other --user ada acct
expect_out "acct: PAM_PERM_DENIED"
ok "a service not in [Pam] Services= is refused"

pam_run --user root acct
expect_out "acct: PAM_USER_UNKNOWN"
expect_no_out "error:"
ok "account: a user stitch does not know is PAM_USER_UNKNOWN"

sctl user disable ada >/dev/null || fail "could not disable ada"
pam_run --user ada auth <<<"correct horse"
expect_out "auth: PAM_AUTH_ERR"
expect_eq "disabled looks like a wrong password" "$wrong" "$PAM_OUT"
pam_run --user ada acct
expect_out "acct: PAM_ACCT_EXPIRED"
expect_out "error: Your stitch account is disabled."
sctl user enable ada >/dev/null || fail "could not enable ada"
pam_run --user ada auth acct <<<"correct horse"
[ "$PAM_RC" = 0 ] || fail "ada could not log in after enable"
ok "disabled user: authentication fails alike, account says PAM_ACCT_EXPIRED with a message"

# A session revoked between authentication and the account check.
pam_run --user ada auth "run:$STITCHCTL user revoke ada >/dev/null" acct <<<"correct horse"
expect_out "run: 0"
expect_out "acct: PAM_PERM_DENIED"
expect_out "error: Your stitch session has ended."
ok "account refuses a session revoked after authentication"

# The secret never shows up in the daemon's log.
! grep -q 'correct horse' "$STITCHD_LOG" || fail "the password is in the daemon log"
ok "no password in the daemon log"
