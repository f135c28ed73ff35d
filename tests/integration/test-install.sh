#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `make install DESTDIR=...` from the build dir puts every file where it
# belongs; `make uninstall` leaves nothing but empty directories; an
# administrator's configuration is never overwritten nor removed.
. "${TESTS_LIB:?run through make check}" || exit 99

command -v make >/dev/null || skip "make is not installed"

# A clean make: nothing inherited from the `make check` that runs us
# (TESTS=..., -j job server, -k, -n).
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES make -C "$top_builddir" "$@"; }

dirs=$(mk -s --no-print-directory print-install-dirs) || fail "make print-install-dirs failed"
eval "$(printf '%s\n' "$dirs" | grep -E "^[a-z]+='[^']*'\$")"
for v in bindir sbindir sysconfdir mandir docdir pammoddir systemdsystemunitdir sysusersdir tmpfilesdir bashcompletiondir; do
        [ -n "${!v}" ] || fail "$v is empty"
        case ${!v} in /*) ;; *) fail "$v is not absolute: ${!v}" ;; esac
done

D=$T/destdir
SHIPPED_CONF=$top_srcdir/etc/stitchd.conf
CONF=$D$sysconfdir/stitch/stitchd.conf

install_to() {
        mk install DESTDIR="$D" >"$T/install.log" 2>&1 || { tail -n 40 "$T/install.log" >&2; fail "make install failed"; }
}
uninstall_from() {
        mk uninstall DESTDIR="$D" >"$T/uninstall.log" 2>&1 || { tail -n 40 "$T/uninstall.log" >&2; fail "make uninstall failed"; }
}
# left_over: every file and symlink under $D
left_over() { (cd "$D" && find . ! -type d | sort); }

expect_file() { # expect_file PATH [MODE]
        [ -f "$D$1" ] || fail "not installed: $1"
        [ -s "$D$1" ] || fail "installed empty: $1"
        if [ -n "${2:-}" ]; then expect_eq "mode of $1" "$2" "$(stat -c %a "$D$1")"; fi
}

# ---- install ---------------------------------------------------------------------
install_to

expect_file "$sbindir/stitchd" 755
expect_file "$bindir/stitchctl" 755
expect_file "$pammoddir/pam_stitch.so"
[ ! -e "$D$pammoddir/pam_stitch.la" ] || fail "libtool's pam_stitch.la was installed next to the module"
expect_file "$systemdsystemunitdir/stitchd.service" 644
expect_file "$systemdsystemunitdir/stitchd.socket" 644
expect_file "$systemdsystemunitdir/stitchd-admin.socket" 644
expect_file "$sysusersdir/stitchd.conf" 644
expect_file "$tmpfilesdir/stitchd.conf" 644
expect_file "$sysconfdir/stitch/stitchd.conf" 644
expect_file "$mandir/man8/stitchd.8" 644
expect_file "$mandir/man5/stitchd.conf.5" 644
expect_file "$mandir/man1/stitchctl.1" 644
expect_file "$mandir/man8/pam_stitch.8" 644
expect_file "$bashcompletiondir/stitchctl" 644

# contents
expect_eq "ExecStart" "$sbindir/stitchd" "$(sed -n 's/^ExecStart=//p' "$D$systemdsystemunitdir/stitchd.service")"
cmp -s "$SHIPPED_CONF" "$CONF" || fail "installed stitchd.conf differs from etc/stitchd.conf"
cmp -s "$top_srcdir/etc/sysusers.d-stitchd.conf" "$D$sysusersdir/stitchd.conf" || fail "sysusers.d file differs"
cmp -s "$top_srcdir/etc/tmpfiles.d-stitchd.conf" "$D$tmpfilesdir/stitchd.conf" || fail "tmpfiles.d file differs"
"$D$sbindir/stitchd" --check-config --config "$CONF" >/dev/null || fail "the installed daemon rejects the installed config"
if command -v nm >/dev/null; then
        nm -D --defined-only "$D$pammoddir/pam_stitch.so" | grep -q ' pam_sm_authenticate$' \
                || fail "the installed module does not export pam_sm_authenticate"
fi

# The pam-auth-update profile ships, under whatever documentation path the
# PAM fragment chose; nothing at all goes to pam.d: stitch is never enabled
# by installing it.
profile=$(cd "$D" && find . -path '*/pam-configs/stitch' -type f | head -n 1)
[ -n "$profile" ] || fail "no pam-configs/stitch profile installed"
grep -q '^Name:' "$D/$profile" || fail "$profile is not a pam-auth-update profile"
if (cd "$D" && find . -path '*/pam.d/*' ! -path '*/doc/*' | grep -q .); then
        fail "files installed into a pam.d directory: $(cd "$D" && find . -path '*/pam.d/*' ! -path '*/doc/*')"
fi
ok "install: daemon, client, module, units, sysusers.d, tmpfiles.d, config, man pages, completion, pam-configs profile ($(left_over | wc -l) files)"

# A second install over the first changes nothing and does not fail.
before=$(cd "$D" && find . -type f -exec md5sum {} + | sort)
install_to
after=$(cd "$D" && find . -type f -exec md5sum {} + | sort)
[ "$before" = "$after" ] || fail "a second make install changed files"
ok "install is idempotent"

# ---- uninstall: only empty directories remain -----------------------------------------
uninstall_from
rest=$(left_over)
[ -z "$rest" ] || fail "make uninstall left files behind: $rest"
ok "uninstall removes everything (the unmodified config included)"

# ---- an administrator's configuration ----------------------------------------------------
mkdir -p "$(dirname "$CONF")"
printf '# mine\n[Daemon]\nWorkers=3\n' >"$CONF"
cp "$CONF" "$T/mine.conf"
install_to
cmp -s "$T/mine.conf" "$CONF" || fail "make install overwrote a modified stitchd.conf"
grep -q 'not overwritten' "$T/install.log" || fail "make install did not say it kept the config"
uninstall_from
cmp -s "$T/mine.conf" "$CONF" || fail "make uninstall removed or changed a modified stitchd.conf"
rest=$(left_over)
expect_eq "files left after uninstall" "./${sysconfdir#/}/stitch/stitchd.conf" "$rest"
ok "a modified stitchd.conf survives install and uninstall"

# A symlink in its place (e.g. to a config kept elsewhere) is left alone too.
rm -f "$CONF"
ln -s /nonexistent/stitchd.conf "$CONF"
install_to
[ -L "$CONF" ] || fail "make install replaced a symlinked stitchd.conf"
uninstall_from
[ -L "$CONF" ] || fail "make uninstall removed a symlinked stitchd.conf"
rm -f "$CONF"
ok "a symlinked stitchd.conf is left alone"
exit 0
