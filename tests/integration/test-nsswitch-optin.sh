#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian package's postinst adds "systemd" to nsswitch.conf's passwd and
# group lines only where the administrator turned Unix accounts on
# ([Accounts] UserDB=yes), keeps "files" first, and leaves a line that has it
# alone. Runs the real maintainer script on copies (STITCH_CONF,
# STITCH_NSSWITCH), never on /etc.
. "${TESTS_LIB:?run through make check}"
POSTINST=$top_srcdir/debian/stitchd.postinst
[ -f "$POSTINST" ] || skip "no debian/ in this tree"

cat > "$T/nsswitch.conf" <<'X'
passwd:         files
group:          files
shadow:         files
hosts:          files dns
X
cp "$T/nsswitch.conf" "$T/nsswitch.orig"
run() { STITCH_CONF=$T/stitchd.conf STITCH_NSSWITCH=$T/nsswitch.conf sh "$POSTINST" configure >"$T/out" 2>&1 || fail "postinst failed: $(cat "$T/out")"; }

printf '[Daemon]\nWorkers=2\n' > "$T/stitchd.conf"
run
cmp -s "$T/nsswitch.conf" "$T/nsswitch.orig" || fail "nsswitch.conf changed without UserDB=yes"
printf '[Daemon]\nUserDB=yes\n[Accounts]\nUserDB=no\n' > "$T/stitchd.conf"
run
cmp -s "$T/nsswitch.conf" "$T/nsswitch.orig" || fail "nsswitch.conf changed with UserDB=no"
ok "nsswitch.conf untouched unless [Accounts] UserDB=yes"

printf '[Accounts]\n  UserDB = yes\n' > "$T/stitchd.conf"
run
expect_eq "passwd line" "passwd:         files systemd" "$(grep '^passwd:' "$T/nsswitch.conf")"
expect_eq "group line" "group:          files systemd" "$(grep '^group:' "$T/nsswitch.conf")"
expect_eq "shadow line" "shadow:         files" "$(grep '^shadow:' "$T/nsswitch.conf")"
expect_eq "hosts line" "hosts:          files dns" "$(grep '^hosts:' "$T/nsswitch.conf")"
cp "$T/nsswitch.conf" "$T/nsswitch.once"
run
cmp -s "$T/nsswitch.conf" "$T/nsswitch.once" || fail "a second configure changed nsswitch.conf again"
ok "with UserDB=yes: systemd after files on passwd and group, once"
