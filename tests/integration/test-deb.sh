#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian packages, for real: build stitchd and libpam-stitch from a copy
# of the source tree (dpkg-buildpackage -us -uc -b), check them with lintian,
# install them with dpkg -i, and check what an administrator relies on: the
# stitchd user and directories, the conffile, the enabled sockets,
# --check-config, the daemon running as stitchd, a PAM login through the
# installed module with pamtester, pam-auth-update never enabling stitch by
# itself and removal taking it out of the PAM stack. Everything is purged at
# the end.
#
# Installs and purges in a throwaway root (tests/lib.sh's
# stitch_isolate_system: overlays over /usr, /etc and /var, an empty /run),
# never on the machine itself: a stitch installed there (the README's
# scripts/quickstart.sh), its store under /var/lib/stitchd and its running
# daemon are neither seen nor touched (security review 2, finding 8).
# Slow (about two minutes): runs only with STITCH_TEST_DEB=1, as root.
# STITCH_TEST_DEB_CHECK=1 also runs the package's unit tests during the build.
. "${TESTS_LIB:?run through make check}" || exit 99

[ "${STITCH_TEST_DEB:-}" = 1 ] || skip "set STITCH_TEST_DEB=1 to build and install the Debian packages (slow)"
[ "$(id -u)" = 0 ] || skip "needs root (dpkg -i)"
[ -f "$top_srcdir/debian/control" ] || skip "no debian/ directory in $top_srcdir (a release tarball)"
for tool in dpkg-buildpackage dh dpkg-architecture pamtester setpriv; do
        command -v "$tool" >/dev/null || skip "$tool is not installed"
done
stitch_isolate_system "$@"

# Installed on the machine (by dpkg): purged here first, in the throwaway
# root only, so that this test starts from a machine without stitch.
for p in libpam-stitch stitchd; do
        if dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qv '^not-installed$'; then
                echo "# $p is installed on this machine: purged in the test's throwaway root only"
                dpkg --purge "$p" >>"$T/prepurge.log" 2>&1 || { cat "$T/prepurge.log" >&2; fail "dpkg --purge $p (in the throwaway root) failed"; }
        fi
done

MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
MODULE=/usr/lib/$MA/security/pam_stitch.so
PAM_SERVICE=stitch-test-deb-$$
start=$(date +%s)

# ---- build from a copy of the source tree ----------------------------------------------
SRC=$T/src/stitch
stitch_copy_source "$SRC"
opts="parallel=$(nproc)"
[ "${STITCH_TEST_DEB_CHECK:-}" = 1 ] || opts="$opts nocheck"
(cd "$SRC" && env -u STITCH_TEST_DEB -u MAKEFLAGS -u MFLAGS -u MAKELEVEL DEB_BUILD_OPTIONS="$opts" \
        dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1 \
        || { tail -n 60 "$T/build.log" >&2; fail "dpkg-buildpackage failed"; }
DEB_STITCHD=$(ls "$T"/src/stitchd_*.deb)
DEB_PAM=$(ls "$T"/src/libpam-stitch_*.deb)
[ -f "$DEB_STITCHD" ] && [ -f "$DEB_PAM" ] || fail "the build did not produce both packages"
ok "dpkg-buildpackage -us -uc -b ($opts): $(basename "$DEB_STITCHD") $(basename "$DEB_PAM") in $(($(date +%s) - start))s"

# ---- what the packages contain --------------------------------------------------------------
contents() { dpkg-deb -c "$1" | awk '{ print $6 }' | sed 's|^\./|/|'; }
contents "$DEB_STITCHD" >"$T/stitchd.list"
contents "$DEB_PAM" >"$T/pam.list"
for f in /usr/sbin/stitchd /usr/bin/stitchctl /etc/stitch/stitchd.conf \
        /lib/systemd/system/stitchd.service /lib/systemd/system/stitchd.socket /lib/systemd/system/stitchd-admin.socket \
        /usr/lib/sysusers.d/stitchd.conf /usr/lib/tmpfiles.d/stitchd.conf \
        /usr/share/man/man8/stitchd.8.gz /usr/share/man/man5/stitchd.conf.5.gz /usr/share/man/man1/stitchctl.1.gz \
        /usr/share/bash-completion/completions/stitchctl /usr/share/doc/stitchd/copyright; do
        grep -qxF "$f" "$T/stitchd.list" || fail "stitchd does not ship $f"
done
for f in "$MODULE" /usr/share/pam-configs/stitch /usr/share/man/man8/pam_stitch.8.gz /usr/share/doc/libpam-stitch/copyright; do
        grep -qxF "$f" "$T/pam.list" || fail "libpam-stitch does not ship $f"
done
if grep -q '^/etc/pam\.d/' "$T/pam.list" "$T/stitchd.list"; then fail "a package ships files in /etc/pam.d"; fi
if grep -q '\.la$' "$T/pam.list"; then fail "libpam-stitch ships a libtool archive"; fi
dpkg-deb -f "$DEB_PAM" Depends | grep -q 'libpam-runtime' || fail "libpam-stitch does not depend on libpam-runtime"
mkdir -p "$T/ctl"
dpkg-deb -e "$DEB_PAM" "$T/ctl/pam"
if grep -q -- '--enable' "$T/ctl/pam/postinst"; then fail "libpam-stitch's postinst enables the profile"; fi
grep -q 'pam-auth-update --package --remove stitch' "$T/ctl/pam/prerm" || fail "libpam-stitch's prerm does not remove the profile"
grep -qx 'Default: no' "$SRC/debian/libpam-stitch/usr/share/pam-configs/stitch" || fail "the pam-configs profile is not Default: no"
ok "package contents: daemon, client, units, sysusers.d, tmpfiles.d, conffile, man pages; module and profile (Default: no)"

# ---- lintian ---------------------------------------------------------------------------------------------
if command -v lintian >/dev/null; then
        changes=$(ls "$T"/src/stitch_*.changes)
        lintian --allow-root -I "$changes" >"$T/lintian.out" 2>&1 || true
        echo "# lintian $(lintian --version | awk '{print $2}'):"
        sed 's/^/#   /' "$T/lintian.out"
        if grep -q '^E: ' "$T/lintian.out"; then fail "lintian reports errors"; fi
        ok "lintian: no errors ($(grep -c '^W: ' "$T/lintian.out") warnings)"
else
        echo "# lintian is not installed: not run"
fi

# ---- install ------------------------------------------------------------------------------------------------
dpkg -i "$DEB_STITCHD" "$DEB_PAM" >"$T/install.log" 2>&1 || { cat "$T/install.log" >&2; fail "dpkg -i failed"; }
expect_eq "stitchd status" "install ok installed" "$(dpkg-query -W -f='${Status}' stitchd)"
expect_eq "libpam-stitch status" "install ok installed" "$(dpkg-query -W -f='${Status}' libpam-stitch)"

pw=$(getent passwd stitchd) || fail "postinst did not create the stitchd user"
uid=$(echo "$pw" | cut -d: -f3)
[ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] || fail "stitchd is not a system user: $pw"
expect_eq "stitchd's shell" /usr/sbin/nologin "$(echo "$pw" | cut -d: -f7)"
expect_eq "/var/lib/stitchd" "700 stitchd stitchd" "$(stat -c '%a %U %G' /var/lib/stitchd)"
dpkg-query -W -f='${Conffiles}\n' stitchd | grep -q '^ /etc/stitch/stitchd.conf ' || fail "/etc/stitch/stitchd.conf is not a conffile"
for u in sockets.target.wants/stitchd.socket sockets.target.wants/stitchd-admin.socket multi-user.target.wants/stitchd.service; do
        [ -L "/etc/systemd/system/$u" ] || fail "$u is not enabled"
done
[ -f "$MODULE" ] || fail "$MODULE is missing"
# The throwaway root's /run has no systemd: the postinst enabled the units
# without starting them (a started socket would be the machine's, outside).
ok "dpkg -i: stitchd system user (uid $uid), /var/lib/stitchd 0700, conffile, sockets and service enabled"

if grep -qs pam_stitch /etc/pam.d/common-*; then fail "installing libpam-stitch enabled it in the common PAM stack"; fi
ok "installing libpam-stitch leaves the PAM stack alone"

out=$(/usr/sbin/stitchd --check-config) || fail "stitchd --check-config rejects the shipped configuration"
expect_eq "--check-config" "/etc/stitch/stitchd.conf: OK" "$out"
if command -v man >/dev/null; then
        man -w stitchd >/dev/null 2>&1 && man -w 5 stitchd.conf >/dev/null 2>&1 && man -w pam_stitch >/dev/null 2>&1 \
                || fail "man pages not found by man"
fi
if command -v systemd-analyze >/dev/null; then
        systemd-analyze verify /lib/systemd/system/stitchd.service /lib/systemd/system/stitchd.socket \
                /lib/systemd/system/stitchd-admin.socket >"$T/verify.out" 2>&1 || true
        if grep -q stitchd "$T/verify.out"; then cat "$T/verify.out" >&2; fail "systemd-analyze verify: installed units"; fi
fi
ok "stitchd --check-config accepts /etc/stitch/stitchd.conf; man pages and installed units check out"

# ---- the installed daemon as the stitchd user, on temporary sockets ------------------------------------
R=$T/run
mkdir -p "$R"
chown stitchd:stitchd "$R"
chmod 0700 "$R"
SOCK=$R/io.stitch.Auth
ADMIN=$R/io.stitch.Admin
cat >"$T/deb.conf" <<X
[Daemon]
Store=sqlite:$R/stitch.db
AuthSocket=$SOCK
AdminSocket=$ADMIN
Workers=2

[Provider.local-userpass]
PasswordHash=argon2id:m=1024,t=1,p=1
X
chmod 0644 "$T/deb.conf"
STITCHD_PID=$("$STITCH_SPAWN" --timeout 60 -- setpriv --reuid=stitchd --regid=stitchd --init-groups -- \
        /usr/sbin/stitchd --foreground --config "$T/deb.conf" 2>>"$STITCHD_LOG" 3>&- </dev/null) \
        || fail "the installed stitchd did not become ready as the stitchd user"
expect_eq "daemon user" stitchd "$(ps -o user= -p "$STITCHD_PID" | tr -d ' ')"
expect_eq "store owner and mode" "600 stitchd" "$(stat -c '%a %U' "$R/stitch.db")"
printf '%s' 'deb-test-pass' | /usr/bin/stitchctl --admin-socket "$ADMIN" user add --email debtest@example.com \
        --unix-name stitchdebtest --password-stdin >/dev/null || fail "stitchctl user add through the installed client"
ok "the installed stitchd runs as stitchd on temporary sockets; the installed stitchctl administers it"

# ---- a PAM login through the installed module ------------------------------------------------------------
cat >"/etc/pam.d/$PAM_SERVICE" <<X
auth     required $MODULE socket=$SOCK
account  required $MODULE socket=$SOCK
session  optional $MODULE socket=$SOCK
X
echo 'deb-test-pass' | pamtester -v "$PAM_SERVICE" stitchdebtest authenticate acct_mgmt open_session close_session \
        >"$T/pamtester.out" 2>&1 || { cat "$T/pamtester.out" >&2; fail "pamtester login through $MODULE failed"; }
if echo 'wrong-pass' | pamtester "$PAM_SERVICE" stitchdebtest authenticate >"$T/pamtester-bad.out" 2>&1; then
        fail "pamtester accepted a wrong password"
fi
ok "pamtester: login (authenticate, acct_mgmt, open/close session) through $MODULE; wrong password refused"

# ---- pam-auth-update: enabled only by the administrator, removed with the package ----------------------
if pam-auth-update --enable stitch >"$T/pam-auth-update.out" 2>&1 && grep -qs pam_stitch /etc/pam.d/common-auth; then
        # The common stack now tries stitch after pam_unix.
        cat >"/etc/pam.d/$PAM_SERVICE-common" <<X
@include common-auth
X
        sed -i "s|pam_stitch.so|pam_stitch.so socket=$SOCK|" /etc/pam.d/common-auth
        echo 'deb-test-pass' | pamtester "$PAM_SERVICE-common" stitchdebtest authenticate >"$T/pamtester-common.out" 2>&1 \
                || { cat "$T/pamtester-common.out" >&2; fail "login through the common stack with stitch enabled failed"; }
        # Put the line back as pam-auth-update wrote it, so it recognises its file.
        sed -i "s|pam_stitch.so socket=$SOCK|pam_stitch.so|" /etc/pam.d/common-auth
        stitch_stop
        dpkg --remove libpam-stitch >"$T/remove.log" 2>&1 || { cat "$T/remove.log" >&2; fail "dpkg --remove libpam-stitch failed"; }
        if grep -qs pam_stitch /etc/pam.d/common-*; then fail "removing libpam-stitch left pam_stitch in /etc/pam.d/common-*"; fi
        ok "pam-auth-update --enable stitch works; dpkg --remove libpam-stitch takes it out of the common stack"
else
        echo "# pam-auth-update --enable stitch changed nothing (locally modified common-* files?): removal check skipped"
        sed 's/^/#   /' "$T/pam-auth-update.out"
fi

# ---- purge ----------------------------------------------------------------------------------------------------
stitch_stop
rm -f "/etc/pam.d/$PAM_SERVICE" "/etc/pam.d/$PAM_SERVICE-common"
dpkg --purge libpam-stitch stitchd >"$T/purge.log" 2>&1 || { cat "$T/purge.log" >&2; fail "dpkg --purge failed"; }
for f in /usr/sbin/stitchd /usr/bin/stitchctl "$MODULE" /etc/stitch /var/lib/stitchd /usr/share/pam-configs/stitch \
        /lib/systemd/system/stitchd.service /etc/systemd/system/sockets.target.wants/stitchd.socket; do
        [ ! -e "$f" ] || fail "$f is still there after dpkg --purge"
done
if grep -qs pam_stitch /etc/pam.d/common-*; then fail "pam_stitch still in the PAM stack after purge"; fi
ok "dpkg --purge removes every file, the conffile, the store and the enabled units"
echo "# test-deb took $(($(date +%s) - start))s"
exit 0
