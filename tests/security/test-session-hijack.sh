#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Finding 1: a user who logs in without stitch (an SSH key) writes the
# victim's session id into ~/.pam_environment; Debian's sshd stack runs
# pam_env user_readenv=1 before pam_stitch, so the session hooks, running
# as root, used to act on the victim's session: OpenSession took over its
# watched process and CloseSession logged the victim out. Now a session from
# the environment is acted on only with its binding (a secret from Login)
# and only if it belongs to PAM_USER.
. "$top_srcdir/tests/pam/pam-lib.sh"
command -v jq >/dev/null || skip "jq is not installed"
[ "$(id -u)" = 0 ] || skip "needs root (temporary Unix accounts, PAM as sshd runs it)"
PAM_ENV_SO=$(find /lib /usr/lib -name pam_env.so 2>/dev/null | head -n 1)
[ -n "$PAM_ENV_SO" ] || skip "pam_env.so not found"

stitch_start
stitch_local_account VICTIM
stitch_local_account ATTACKER
stitch_user victim@example.com "$VICTIM" 'victim-password'
stitch_user attacker@example.com "$ATTACKER" 'attacker-password'
mkdir -p "$T/home"
chmod 0755 "$T/home"
usermod -d "$T/home" "$ATTACKER" || fail "usermod"
chown "$ATTACKER" "$T/home"

verify() { sctl call io.stitch.Token.Verify "$(jq -cn --arg t "$1" '{access_token:$t}')" >/dev/null 2>&1; }

# The victim's live login: Login and OpenSession as sshd does them (root),
# with a login process of the victim's.
stitch_spawn_as "$VICTIM" sleep 100000 >/dev/null 2>&1; VICTIM_PID=$STITCH_AS_PID
L=$(sctl call io.stitch.Auth.Login "$(jq -cn --arg u "$VICTIM" '{user:$u,password:"victim-password",service:"sshd"}')") \
        || fail "victim login"
VSID=$(jq -r .parameters.session_id <<<"$L")
VAT=$(jq -r .parameters.access_token <<<"$L")
# (Without a binding in the reply, the daemon speaks the protocol from before
# the fix: then the test shows the attack working, as on the old code.)
sctl call io.stitch.Auth.OpenSession "$(jq -c --arg u "$VICTIM" --argjson p "$VICTIM_PID" \
        '{session_id:.parameters.session_id,pid:$p,service:"sshd"} +
         if .parameters.binding then {binding:.parameters.binding,user:$u} else {} end' <<<"$L")" >/dev/null \
        || fail "victim OpenSession"
verify "$VAT" || fail "the victim's token does not verify"

# The attacker's SSH-key login: no stitch authentication; the session stack
# of Debian's sshd (pam_env user_readenv=1, then pam_stitch).
pam_service_file sshd-key <<X
auth required pam_permit.so
account required pam_permit.so
session required $PAM_ENV_SO user_readenv=1 envfile=/dev/null
session optional @PAM_STITCH@ socket=$STITCH_SOCKET
X
attack() { # attack ENV_FILE_CONTENT
        printf '%s\n' "$1" > "$T/home/.pam_environment"
        chown "$ATTACKER" "$T/home/.pam_environment"
        pam_run --service sshd-key --user "$ATTACKER" auth acct open env close
        [ "$PAM_RC" = 0 ] || fail "the attacker's own login failed: $PAM_OUT"
        verify "$VAT" || fail "attack '$1' logged the victim out"
        grep -q "Session $VSID opened (pid $VICTIM_PID" "$STITCHD_LOG" || fail "no record of the victim's open"
        if grep "Session $VSID opened" "$STITCHD_LOG" | grep -qv "pid $VICTIM_PID"; then
                fail "attack '$1' registered another process for the victim's session"
        fi
}

# 1. The bare id, as in the report.
attack "STITCH_SESSION DEFAULT=$VSID"
ok "a bare session id in ~/.pam_environment is not acted on"

# 2. The id with a guessed binding.
attack "STITCH_SESSION DEFAULT=$VSID
STITCH_SESSION_BINDING DEFAULT=stb_guessed"
grep -q "Session call for $VSID by uid 0 refused: wrong binding" "$STITCHD_LOG" || fail "wrong binding not logged"
ok "a wrong binding is refused (and logged)"

# 3. Even the real binding (should it leak) does not let root act for the
# attacker on a session that belongs to someone else.
VBIND=$(jq -r .parameters.binding <<<"$L")
attack "STITCH_SESSION DEFAULT=$VSID
STITCH_SESSION_BINDING DEFAULT=$VBIND"
grep -q "Session call for $VSID by uid 0 refused: the session does not belong to $ATTACKER" "$STITCHD_LOG" \
        || fail "user mismatch not logged"
ok "a session that does not belong to PAM_USER is refused even with its binding"

# The victim's session is intact: token, refresh and its process.
sctl call io.stitch.Token.Refresh "$(jq -c '{refresh_token:.parameters.refresh_token}' <<<"$L")" >/dev/null \
        || fail "the victim's refresh token stopped working"
kill -0 "$VICTIM_PID" || fail "the victim's login process is gone"
expect_eq "open sessions" 1 "$(sctl status --json | jq .open_sessions)"
ok "the victim's session, refresh token and login process survive every attempt"
