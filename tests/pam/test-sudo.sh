#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sudo authenticating its invoking user through pam_stitch.so.
#
# Safety: sudo is setuid, so pam_wrapper cannot be preloaded into it, and it
# reads its PAM service from /etc/pam.d. This test leaves /etc/pam.d/sudo
# and /etc/sudoers alone: it adds a PAM service under a unique name,
# /etc/pam.d/stitch-test-sudo-*, and a sudoers drop-in,
# /etc/sudoers.d/stitch-test-*, checked with visudo before it is put in
# place, that applies only to the account "nobody" (which cannot use sudo
# otherwise): it points sudo at that service and allows nobody to run
# /usr/bin/env as root. Both files are removed on exit. The stitch user
# has unix_name nobody and a random password.
. "$(dirname "$0")/pam-lib.sh"
need_stitchd

[ "$(id -u)" = 0 ] || skip "needs root to add a sudoers drop-in"
command -v sudo >/dev/null || skip "sudo is not installed"
command -v visudo >/dev/null || skip "visudo is not installed"
command -v setpriv >/dev/null || skip "setpriv is not installed"
command -v jq >/dev/null || skip "jq is not installed"
id nobody >/dev/null 2>&1 || skip "no user nobody"
[ -d /etc/sudoers.d ] && grep -Eq '^[@#]includedir[[:space:]]+/etc/sudoers.d' /etc/sudoers \
        || skip "/etc/sudoers does not include /etc/sudoers.d"
if readelf -d "$PAM_STITCH_SO" 2>/dev/null | grep -q 'libasan'; then
        skip "the module is built with sanitizers and sudo, setuid, ignores LD_PRELOAD of the ASan runtime"
fi

NAME=stitch-test-sudo-$$-$RANDOM
PAM_FILE=/etc/pam.d/$NAME
SUDOERS_FILE=/etc/sudoers.d/${NAME//-/_}
sudo_cleanup() {
        rm -f "$SUDOERS_FILE" "$PAM_FILE"
        pam_cleanup
}
trap sudo_cleanup EXIT

stitch_config </dev/null
stitch_start
PW=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
stitch_user nobody-sudo@example.com nobody "$PW"

cat > "$T/pam" <<X
auth     required $PAM_STITCH_SO socket=$STITCH_SOCKET timeout=5
account  required $PAM_STITCH_SO socket=$STITCH_SOCKET timeout=5
session  required $PAM_STITCH_SO socket=$STITCH_SOCKET timeout=5
X
cat > "$T/sudoers" <<X
Defaults:nobody pam_service=$NAME, pam_login_service=$NAME, timestamp_timeout=0, passwd_tries=1, lecture=never
nobody ALL=(root) /usr/bin/env
X
visudo -cqf "$T/sudoers" || fail "the sudoers drop-in does not parse"
install -m 0644 "$T/pam" "$PAM_FILE.tmp" && mv -f "$PAM_FILE.tmp" "$PAM_FILE" || fail "cannot install $PAM_FILE"
install -m 0440 "$T/sudoers" "$T/sudoers.ready" && mv -f "$T/sudoers.ready" "$SUDOERS_FILE" \
        || fail "cannot install $SUDOERS_FILE"
visudo -cq || fail "sudoers no longer parses"

as_nobody_sudo() {
        printf '%s\n' "$1" | setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
                sudo -S -k -p 'sudo-prompt:' /usr/bin/env 2>"$T/sudo.err"
}

out=$(as_nobody_sudo "$PW") || fail "sudo with the stitch password failed: $(cat "$T/sudo.err")"
printf '%s\n' "$out" | grep -q '^SUDO_USER=nobody$' || fail "the command did not run through sudo"
ok "sudo with the stitch password runs the command"
if printf '%s\n' "$out" | grep -q '^STITCH_SESSION='; then
        ok "the command sees STITCH_SESSION"
fi
open=$(sctl session list --user nobody --json | jq '[.sessions[] | select(.revoked != true)] | length')
expect_eq "live sessions after sudo" 0 "$open"
ok "the stitch session ends with the sudo command"

if as_nobody_sudo "not-$PW" >/dev/null; then
        fail "sudo with a wrong password succeeded"
fi
grep -q 'incorrect password' "$T/sudo.err" || fail "unexpected sudo failure: $(cat "$T/sudo.err")"
ok "sudo with a wrong password is refused"

sctl user disable nobody-sudo@example.com >/dev/null || fail "disable failed"
if as_nobody_sudo "$PW" >/dev/null; then
        fail "sudo for a disabled stitch user succeeded"
fi
ok "sudo for a disabled stitch user is refused"
