#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The socket directory (finding 7): outside systemd (scripts/quickstart.sh)
# stitchd creates the directory of the auth socket itself. Its umask is
# 0077, which made the directory 0700 and kept every local user away from
# the auth socket ("Permission denied"). The directory must be 0755
# whatever the umask; the admin socket stays closed to ordinary users.
. "$top_srcdir/tests/security/security-lib.sh"

# The parent exists, the socket directory does not (as /run and /run/stitchd).
mkdir -m 0755 "$T/run"
export STITCH_SOCKET=$T/run/sub/io.stitch.Auth
export STITCH_ADMIN_SOCKET=$T/run/admin/io.stitch.Admin
[ -e "$T/run/sub" ] && fail "$T/run/sub exists before the test"
stitch_config </dev/null
grep -qx "AuthSocket=$STITCH_SOCKET" "$STITCHD_CONF" || fail "config does not name $STITCH_SOCKET"

umask 0077
stitch_start
umask 0022

sec_local_user U
out=$(sec_as "$U" "$STITCHCTL" token verify x 2>&1)
rc=$?
case $out in *"ermission denied"*) fail "user $U cannot reach the auth socket (exit $rc): $out" ;; esac
expect_eq "exit status of 'stitchctl token verify x' as $U (1: the daemon refused the token; 3: unreachable)" 1 "$rc"
expect_eq "mode of the auth socket directory" 755 "$(stat -c %a "$T/run/sub")"
expect_eq "mode of the auth socket" 666 "$(stat -c %a "$STITCH_SOCKET")"
ok "an unprivileged user reaches the auth socket in a directory stitchd created under umask 0077"

# The admin socket: in a directory of its own (0755, so AdminGroup members
# get through), guarded by the socket's 0660 and the peer check.
expect_eq "mode of the admin socket directory" 755 "$(stat -c %a "$T/run/admin")"
expect_eq "mode of the admin socket" 660 "$(stat -c %a "$STITCH_ADMIN_SOCKET")"
sec_as "$U" "$STITCHCTL" status >/dev/null 2>&1 && fail "user $U may use the admin socket"
"$STITCHCTL" status >/dev/null || fail "root cannot use the admin socket"
ok "the admin socket stays restricted"
