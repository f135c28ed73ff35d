#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A real OpenSSH server using pam_stitch.so: keyboard-interactive (PAM in a
# child process) and password (PAM in the monitor) logins with the stitch
# password, STITCH_SESSION and a valid access token inside the
# session, logout ends the session; wrong password and disabled user fail.
#
# Safety: nothing in /etc/pam.d or /etc/ssh is touched. sshd runs in the
# foreground on 127.0.0.1 on a free port with its own host key and config,
# and reads its PAM service from this test's directory through pam_wrapper
# (LD_PRELOAD; sshd is not setuid). The login is as root, the only account
# that surely exists with a usable shell, through a stitch user whose
# unix_name is root and whose password is random; the server lives only as
# long as the test. The one system change: /run/sshd (sshd's privilege
# separation directory, empty) is created if missing, and left in place
# since another sshd may be using it by then.
. "$(dirname "$0")/pam-lib.sh"
need_stitchd

[ "$(id -u)" = 0 ] || skip "needs root to run sshd"
SSHD_BIN=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD_BIN" ] || skip "sshd is not installed"
command -v ssh >/dev/null || skip "ssh is not installed"
command -v ssh-keygen >/dev/null || skip "ssh-keygen is not installed"
PAM_WRAPPER_SO=
for d in $(pkg-config --variable=libdir pam_wrapper 2>/dev/null) /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
        [ -f "$d/libpam_wrapper.so" ] && { PAM_WRAPPER_SO=$d/libpam_wrapper.so; break; }
done
[ -n "$PAM_WRAPPER_SO" ] || skip "pam_wrapper (libpam-wrapper) is not installed"
# A module built with sanitizers (configure --enable-sanitizers) needs the
# ASan runtime first in the process: preload it into sshd as well (sshd's
# own allocations are then the sanitizer's, its leaks are not ours).
SAN_PRELOAD=
if readelf -d "$PAM_STITCH_SO" 2>/dev/null | grep -q 'libasan'; then
        SAN_PRELOAD=$(ldd "$PAM_STITCH_SO" | awk '/libasan\.so/ { print $3 }')
        [ -f "$SAN_PRELOAD" ] || skip "the module is built with sanitizers and libasan was not found to preload into sshd"
fi

SSHD_PID=
sshd_cleanup() {
        [ -n "$SSHD_PID" ] && kill -TERM "$SSHD_PID" 2>/dev/null
        pam_cleanup
}
trap sshd_cleanup EXIT
[ -d /run/sshd ] || mkdir -p -m 0755 /run/sshd || skip "cannot create /run/sshd"

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

ssh-keygen -q -t ed25519 -N '' -f "$T/ssh_host_ed25519_key" || fail "ssh-keygen failed"
SSHD_LOG=$T/sshd.log
start_sshd() {
        cat > "$T/sshd_config" <<X
Port $1
ListenAddress 127.0.0.1
HostKey $T/ssh_host_ed25519_key
PidFile none
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication yes
PubkeyAuthentication no
HostbasedAuthentication no
AuthorizedKeysFile none
PermitRootLogin yes
StrictModes no
UseDNS no
MaxAuthTries 3
LogLevel VERBOSE
X
        SSHD_PID=$(LD_PRELOAD="${SAN_PRELOAD:+$SAN_PRELOAD }$PAM_WRAPPER_SO" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$PAM_DIR \
                "$STITCH_SPAWN" --timeout 20 -- "$SSHD_BIN" -D -e -f "$T/sshd_config" 2>>"$SSHD_LOG" </dev/null)
}
# A free port: pick at random, let sshd try to bind it, try another if taken.
for attempt in 1 2 3 4 5 6 7 8; do
        PORT=$((20000 + RANDOM % 40000))
        start_sshd "$PORT" && break
        SSHD_PID=
done
[ -n "$SSHD_PID" ] || fail "sshd did not start: $(tail -n 5 "$SSHD_LOG")"

printf '#!/bin/sh\ncat %s\n' "$T/answer" > "$T/askpass"
chmod 0700 "$T/askpass"
# ssh_login PASSWORD USER COMMAND: one attempt with $METHOD.
METHOD=keyboard-interactive
ssh_login() {
        printf '%s\n' "$1" > "$T/answer"
        chmod 0600 "$T/answer"
        SSH_ASKPASS=$T/askpass SSH_ASKPASS_REQUIRE=force DISPLAY= \
        timeout 30 ssh -F /dev/null -p "$PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
                -o LogLevel=ERROR -o PreferredAuthentications=$METHOD \
                -o NumberOfPasswordPrompts=1 -o BatchMode=no "$2@127.0.0.1" "$3" </dev/null
}

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
