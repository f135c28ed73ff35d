#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The admin side of the email/password lifecycle against a real stitchd:
# stitchctl user register / confirm / send-confirmation / send-reset, a
# pending user's PAM login through the real libpam (told to confirm only
# after the right password), self-registered addresses under [Pam]
# EmailDomain= that map to nobody, and ConfirmationCommand=.
. "$top_srcdir/tests/pam/pam-lib.sh"
need_stitchd
command -v jq >/dev/null || skip "jq is not installed"

# No [Smtp]: confirmation mode "mail", with nothing to mail with.
# Registration= stays no: admins register anyway.
stitch_config <<'X'
[Pam]
EmailDomain=example.com
Services=stitch-test
X
stitch_start
pam_service stitch-test "$PAM_ARGS"

# run STATUS CMD...: runs CMD, stdout in $OUT, stderr in $ERR, checks the exit status.
OUT=$T/out ERR=$T/err
run() {
        local want=$1 rc
        shift
        "$@" >"$OUT" 2>"$ERR"; rc=$?
        [ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want; stdout: $(cat "$OUT"); stderr: $(cat "$ERR")"
}
err_has() { grep -qF -- "$1" "$ERR" || fail "expected '$1' on stderr, got: $(cat "$ERR")"; }
register() { # EMAIL PASSWORD [OPTIONS...]
        local email=$1 password=$2
        shift 2
        printf '%s' "$password" | sctl user register --email "$email" --password-stdin "$@"
}

# ---- register: pending, told so, the mail not sent -------------------------
run 0 register dora@example.com 'dora-secret-1' --unix-name dora --json
expect_eq "pending" true "$(jq -r .user.pending "$OUT")"
expect_eq "self_registered" true "$(jq -r .user.self_registered "$OUT")"
expect_eq "unix_name" dora "$(jq -r .user.unix_name "$OUT")"
expect_eq "email" dora@example.com "$(jq -r .user.data.email "$OUT")"
DORA=$(jq -r .user.id "$OUT")
err_has "no mailer: set [Smtp] URL="
run 0 sctl user list
head -n1 "$OUT" | grep -q '^ID  *EMAIL  *UNIX NAME  *TYPE  *DISABLED  *PENDING  *LAST LOGIN$' || fail "table header: $(head -n1 "$OUT")"
grep -q "^$DORA  *dora@example.com  *dora  *normal  *no  *yes " "$OUT" || fail "pending row: $(cat "$OUT")"
run 0 sctl user show dora
grep -q '^ *Pending: *yes$' "$OUT" || fail "user show: $(cat "$OUT")"
ok "user register: a pending, self-registered user; no mailer is a warning"

run 1 register dora@example.com 'another-secret'
err_has "name already in use"
run 1 register not-an-address 'dora-secret-1'
err_has "invalid email address"
run 1 register short@example.com 'abc'
err_has "password"
run 1 sctl user show short@example.com
run 2 sctl user register --email x@example.com
run 2 sctl user register --password-stdin </dev/null
ok "user register refuses a taken address, a bad address and a short password"

# ---- a pending user's PAM login -----------------------------------------
pam_run --user dora auth <<<"dora-wrong"
expect_out "auth: PAM_AUTH_ERR"
expect_no_out "onfirm"
wrong=$PAM_OUT
pam_run --user nosuchuser auth <<<"dora-wrong"
expect_eq "unknown user looks like a wrong password" "$wrong" "$PAM_OUT"
pam_run --user dora auth <<<"dora-secret-1"
expect_out "auth: PAM_AUTH_ERR"
expect_out "error: Confirm your email address first."
ok "pending: PAM says 'confirm your email address first' only after the right password"
# An SSH key login asks PAM's account check alone: a pending user is refused there too.
pam_run --user dora acct </dev/null
expect_out "acct: PAM_PERM_DENIED"
expect_out "error: Confirm your email address first."
ok "pending: the account check alone (an SSH key login) refuses the user"

if [ "$(id -u)" = 0 ]; then
        run 1 sctl login --user dora --service stitch-test <<<"dora-wrong"
        grep -qi confirm "$ERR" && fail "a wrong password mentions confirmation: $(cat "$ERR")"
        run 1 sctl login --user dora --service stitch-test <<<"dora-secret-1"
        expect_eq "stitchctl login" "stitchctl: Confirm your email address first." "$(cat "$ERR")"
        ok "stitchctl login says 'Confirm your email address first.'"
fi

# ---- send-confirmation without a mailer, then confirm ---------------------
run 1 sctl user send-confirmation dora@example.com
err_has "no mailer: set [Smtp] URL="
run 0 sctl user confirm dora@example.com
grep -q "Confirmed the email address of user $DORA" "$OUT" || fail "confirm: $(cat "$OUT")"
run 0 sctl --json user show "$DORA"
expect_eq "pending after confirm" false "$(jq -r .user.pending "$OUT")"
pam_run --user dora auth acct <<<"dora-secret-1"
expect_out "auth: PAM_SUCCESS"
expect_out "acct: PAM_SUCCESS"
expect_no_out "onfirm"
ok "user confirm: the user logs in"

run 1 sctl user confirm dora
err_has "already confirmed"
run 1 sctl user send-confirmation dora@example.com
err_has "already confirmed"
run 1 sctl user send-reset dora@example.com --locale de
err_has "no mailer: set [Smtp] URL="
run 1 sctl user send-reset nobody@example.com
err_has "no such user"
run 1 sctl user confirm nobody@example.com
err_has "no such user"
run 1 sctl --json call io.stitch.Admin.UserSendReset '{"user":"dora"}'
[ "$(jq -r .error "$OUT")" = io.stitch.Error.Busy ] || fail "UserSendReset without a mailer: $(cat "$OUT")"
ok "send-confirmation: already confirmed; send-reset: no mailer; unknown users: not found"

# ---- root@EmailDomain is nobody's root ------------------------------------
run 0 register root@example.com 'root-secret-1'
pam_run --user root auth <<<"root-secret-1"
expect_out "auth: PAM_AUTH_ERR"
expect_no_out "onfirm"
root_pending=$PAM_OUT
run 0 sctl user confirm root@example.com
pam_run --user root auth <<<"root-secret-1"
expect_out "auth: PAM_AUTH_ERR"
expect_eq "confirmed root@ vs pending root@" "$root_pending" "$PAM_OUT"
pam_run --user nosuchuser auth <<<"root-secret-1"
expect_eq "root@ vs an unknown user" "$PAM_OUT" "$root_pending"
ok "a self-registered root@EmailDomain does not log in as root, pending or confirmed"

# ---- ConfirmationCommand= ---------------------------------------------------
cat >"$T/confirm-ok" <<X
#!/bin/sh
cat >"$T/confirm-input.json"
echo '{"status":"success"}'
X
cat >"$T/confirm-fail" <<'X'
#!/bin/sh
cat >/dev/null
echo '{"status":"fail"}'
X
chmod 0755 "$T/confirm-ok" "$T/confirm-fail"

with_command() {
        stitch_stop
        stitch_config <<X
[Pam]
EmailDomain=example.com
Services=stitch-test
[Provider.local-userpass]
ConfirmationCommand=$1
X
        stitch_start
}

with_command "$T/confirm-fail"
run 1 register erin@example.com 'erin-secret-1' --unix-name erin
err_has "failed to confirm"
run 1 sctl user show erin@example.com
err_has "no such user"
run 1 register erin@example.com 'erin-secret-1' --unix-name erin
err_has "failed to confirm"
ok "ConfirmationCommand= says fail: the user is gone again, and the address is free"

with_command "$T/confirm-ok"
run 0 register erin@example.com 'erin-secret-1' --unix-name erin --json
expect_eq "pending after the command's success" false "$(jq -r .user.pending "$OUT")"
expect_eq "the command's username" erin@example.com "$(jq -r .username "$T/confirm-input.json")"
[ -n "$(jq -r '.token // empty' "$T/confirm-input.json")" ] || fail "the command got no token"
pam_run --user erin auth <<<"erin-secret-1"
expect_out "auth: PAM_SUCCESS"
ok "ConfirmationCommand= says success: the user is confirmed and logs in"
