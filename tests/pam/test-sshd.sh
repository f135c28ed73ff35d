#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A real OpenSSH server using pam_stitch.so: keyboard-interactive (PAM in a
# child process) and password (PAM in the monitor) logins with the stitch
# password, STITCH_SESSION and a valid access token inside the
# session, logout ends the session; wrong password and disabled user fail.
#
# Safety: see sshd_need in pam-lib.sh (nothing in /etc/pam.d or /etc/ssh is
# touched; sshd runs on a free loopback port for as long as the test). The
# login is as root, the only account that surely exists with a usable
# shell, through a stitch user whose unix_name is root and whose password
# is random.
. "$(dirname "$0")/pam-lib.sh"
need_stitchd

sshd_need

stitch_config </dev/null
stitch_start
PW=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
stitch_user root-login@example.com root "$PW"

pam_service_file sshd <<X
auth     required @PAM_STITCH@ socket=$STITCH_SOCKET timeout=5
account  required @PAM_STITCH@ socket=$STITCH_SOCKET timeout=5
session  required @PAM_STITCH@ socket=$STITCH_SOCKET timeout=5
password required @PAM_STITCH@ socket=$STITCH_SOCKET timeout=5
X

sshd_start

REMOTE="echo session=\$STITCH_SESSION; t=\$($STITCHCTL --socket $STITCH_SOCKET token --session \"\$STITCH_SESSION\") && echo \"\$t\" > $T/token && $STITCHCTL --socket $STITCH_SOCKET token verify \"\$t\" >/dev/null && echo verified"
for METHOD in keyboard-interactive password; do
rm -f "$T/token"
out=$(ssh_login "$PW" root "$REMOTE" 2>&1) || fail "ssh login failed: $out
$(tail -n 20 "$SSHD_LOG")"
printf '%s\n' "$out" | sed 's/^/    | /'
SID=$(printf '%s\n' "$out" | sed -n 's/^session=//p')
[ -n "$SID" ] || fail "no STITCH_SESSION in the ssh session"
printf '%s\n' "$out" | grep -qx verified || fail "the session's access token does not verify inside the session"
ok "ssh login ($METHOD) with the stitch password: STITCH_SESSION=$SID, token valid inside"

# sshd closes the PAM session after the client has gone; wait for that.
closed=
for i in $(seq 1 100); do
        if ! sctl token verify "$(cat "$T/token")" >/dev/null 2>&1; then closed=1; break; fi
        sleep 0.05   # waiting for sshd's cleanup, not for readiness
done
[ -n "$closed" ] || fail "the token still verifies after logout"
ok "logout ends the stitch session ($METHOD)"
done

if out=$(ssh_login "not-$PW" root true 2>&1); then
        fail "ssh login with a wrong password succeeded"
fi
printf '%s\n' "$out" | grep -q "Permission denied" || fail "unexpected ssh failure: $out"
ok "wrong password: permission denied"

sctl user disable root-login@example.com >/dev/null || fail "disable failed"
if ssh_login "$PW" root true >/dev/null 2>&1; then
        fail "a disabled stitch user logged in"
fi
sctl user enable root-login@example.com >/dev/null || fail "enable failed"
ok "disabled stitch user: permission denied"

! grep -qF "$PW" "$SSHD_LOG" "$STITCHD_LOG" || fail "the password is in a log"
ok "no password in the sshd or stitchd log"

if [ -n "$SAN_PRELOAD" ]; then
        ! grep -E 'ERROR: AddressSanitizer|runtime error:' "$SSHD_LOG" || fail "sanitizer report in sshd (the module)"
        ok "no sanitizer report from the module inside sshd"
fi
