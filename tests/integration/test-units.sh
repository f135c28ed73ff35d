#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The systemd units as built: systemd-analyze verify with no warning about
# them, the contract they keep (Type=notify, socket names, the stitchd user),
# sysusers.d and tmpfiles.d entries applied to a scratch root, and the
# exposure score of `systemd-analyze security --offline=yes` (at most 2.0);
# the opt-in network drop-in for [Smtp] verified too, and its score printed.
. "${TESTS_LIB:?run through make check}" || exit 99

command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"

SERVICE=$top_builddir/etc/systemd/stitchd.service
[ -f "$SERVICE" ] || fail "$SERVICE was not built"
[ -x "$STITCHD" ] || fail "$STITCHD was not built"

# ---- the generated service --------------------------------------------------
if grep -n '@[a-z_]*@' "$SERVICE"; then fail "unsubstituted @variable@ in $SERVICE"; fi
exec_start=$(sed -n 's/^ExecStart=//p' "$SERVICE")
case "$exec_start" in
/*/stitchd) ;;
*) fail "ExecStart= is '$exec_start', expected an absolute path to stitchd" ;;
esac
ok "stitchd.service generated, ExecStart=$exec_start"

# ---- the contract -------------------------------------------------------------
key() { sed -n "s/^$2=//p" "$1"; }
SOCK_AUTH=$top_srcdir/etc/systemd/stitchd.socket
SOCK_ADMIN=$top_srcdir/etc/systemd/stitchd-admin.socket
SOCK_HTTP=$top_srcdir/etc/systemd/stitchd-http.socket
SOCK_USERDB=$top_srcdir/etc/systemd/stitchd-userdb.socket
expect_eq "Type" notify "$(key "$SERVICE" Type)"
expect_eq "User" stitchd "$(key "$SERVICE" User)"
expect_eq "Group" stitchd "$(key "$SERVICE" Group)"
expect_eq "auth FileDescriptorName" io.stitch.Auth "$(key "$SOCK_AUTH" FileDescriptorName)"
expect_eq "admin FileDescriptorName" io.stitch.Admin "$(key "$SOCK_ADMIN" FileDescriptorName)"
expect_eq "auth ListenStream" /run/stitchd/io.stitch.Auth "$(key "$SOCK_AUTH" ListenStream)"
expect_eq "admin ListenStream" /run/stitchd/io.stitch.Admin "$(key "$SOCK_ADMIN" ListenStream)"
expect_eq "admin socket Service" stitchd.service "$(key "$SOCK_ADMIN" Service)"
expect_eq "admin SocketMode" 0600 "$(key "$SOCK_ADMIN" SocketMode)"
expect_eq "http FileDescriptorName" http "$(key "$SOCK_HTTP" FileDescriptorName)"
expect_eq "http ListenStream" 127.0.0.1:8080 "$(key "$SOCK_HTTP" ListenStream)"
expect_eq "http socket Service" stitchd.service "$(key "$SOCK_HTTP" Service)"
expect_eq "http socket WantedBy" sockets.target "$(key "$SOCK_HTTP" WantedBy)"
expect_eq "userdb FileDescriptorName" io.stitch.UserDatabase "$(key "$SOCK_USERDB" FileDescriptorName)"
expect_eq "userdb ListenStream" /run/systemd/userdb/io.stitch.UserDatabase "$(key "$SOCK_USERDB" ListenStream)"
expect_eq "userdb socket Service" stitchd.service "$(key "$SOCK_USERDB" Service)"
expect_eq "userdb SocketMode" 0666 "$(key "$SOCK_USERDB" SocketMode)"
expect_eq "userdb before NSS lookups" "nss-user-lookup.target sockets.target" "$(key "$SOCK_USERDB" Before)"
grep -q '^u stitchd ' "$top_srcdir/etc/sysusers.d-stitchd.conf" || fail "sysusers.d does not create the stitchd user"
ok "units keep Type=notify, the socket names and addresses, and the stitchd user"

# ---- systemd-analyze verify ------------------------------------------------------
# verify insists that ExecStart= exists: point it at the built daemon. The
# unit path puts our copies first, so Requires=stitchd.socket finds ours
# even where a stitchd package is installed.
U=$T/units
mkdir -p "$U" "$T/man/man5" "$T/man/man8"
sed "s|^ExecStart=[^ ]*|ExecStart=$STITCHD|" "$SERVICE" > "$U/stitchd.service"
cp "$SOCK_AUTH" "$SOCK_ADMIN" "$SOCK_HTTP" "$SOCK_USERDB" "$U/"
man_opt=--man=no
if command -v man >/dev/null; then
        # Documentation=man:... must resolve to the pages we ship.
        cp "$top_srcdir/man/stitchd.8" "$T/man/man8/"
        cp "$top_srcdir/man/stitchd.conf.5" "$T/man/man5/"
        man_opt=--man=yes
fi
rc=0
(cd "$U" && MANPATH=$T/man SYSTEMD_UNIT_PATH=$U: systemd-analyze verify $man_opt \
        ./stitchd.service ./stitchd.socket ./stitchd-admin.socket ./stitchd-http.socket ./stitchd-userdb.socket) >"$T/verify.out" 2>&1 || rc=$?
if [ "$rc" != 0 ] || grep -q 'stitchd' "$T/verify.out"; then
        cat "$T/verify.out" >&2
        fail "systemd-analyze verify reported problems (exit $rc)"
fi
if [ -s "$T/verify.out" ]; then
        echo "# systemd-analyze verify said, about other units:"
        sed 's/^/#   /' "$T/verify.out"
fi
ok "systemd-analyze verify $man_opt: no warnings about our units"

# The opt-in network drop-in ([Smtp]): the same units with it in place.
DROPIN=$top_srcdir/etc/systemd/stitchd-network.conf
[ -f "$DROPIN" ] || fail "$DROPIN is missing"
U2=$T/units-network
mkdir -p "$U2/stitchd.service.d"
cp "$U"/*.service "$U"/*.socket "$U2/"
cp "$DROPIN" "$U2/stitchd.service.d/network.conf"
rc=0
(cd "$U2" && MANPATH=$T/man SYSTEMD_UNIT_PATH=$U2: systemd-analyze verify $man_opt \
        ./stitchd.service ./stitchd.socket ./stitchd-admin.socket) >"$T/verify-network.out" 2>&1 || rc=$?
if [ "$rc" != 0 ] || grep -q 'stitchd' "$T/verify-network.out"; then
        cat "$T/verify-network.out" >&2
        fail "systemd-analyze verify with the network drop-in reported problems (exit $rc)"
fi
grep -q '^PrivateNetwork=no$' "$DROPIN" && grep -q '^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6$' "$DROPIN" \
        || fail "the drop-in does not open the network as documented"
grep -q '^IPAddressDeny=' "$DROPIN" && fail "the drop-in must keep the unit's IPAddressDeny=any"
ok "systemd-analyze verify: the network drop-in for [Smtp] has no warnings"

# ---- sysusers.d and tmpfiles.d into a scratch root -----------------------------
if [ "$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
        R=$T/root
        mkdir -p "$R/etc"
        systemd-sysusers --root="$R" "$top_srcdir/etc/sysusers.d-stitchd.conf" >"$T/sysusers.out" 2>&1 \
                || { cat "$T/sysusers.out" >&2; fail "systemd-sysusers rejected sysusers.d-stitchd.conf"; }
        pw=$(grep '^stitchd:' "$R/etc/passwd") || fail "no stitchd user in $R/etc/passwd"
        uid=$(echo "$pw" | cut -d: -f3)
        [ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] || fail "stitchd is not a system user: $pw"
        expect_eq "stitchd shell" /usr/sbin/nologin "$(echo "$pw" | cut -d: -f7)"
        systemd-tmpfiles --root="$R" --create "$top_srcdir/etc/tmpfiles.d-stitchd.conf" >"$T/tmpfiles.out" 2>&1 \
                || { cat "$T/tmpfiles.out" >&2; fail "systemd-tmpfiles rejected tmpfiles.d-stitchd.conf"; }
        expect_eq "/var/lib/stitchd" "700 $uid" "$(stat -c '%a %u' "$R/var/lib/stitchd")"
        expect_eq "/run/stitchd" "755 $uid" "$(stat -c '%a %u' "$R/run/stitchd")"
        ok "sysusers.d creates system user $uid; tmpfiles.d creates /var/lib/stitchd 0700 and /run/stitchd 0755 for it"
else
        echo "# skipped sysusers.d/tmpfiles.d check (needs root and systemd-sysusers, systemd-tmpfiles)"
fi

# ---- exposure score -----------------------------------------------------------------
if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
        rc=0
        (cd "$U" && SYSTEMD_UNIT_PATH=$U: systemd-analyze security --offline=yes --no-pager ./stitchd.service) \
                >"$T/security.out" 2>&1 || rc=$?
        score=$(sed -n 's/.*Overall exposure level for stitchd.service: \([0-9.]*\).*/\1/p' "$T/security.out")
        if [ -z "$score" ]; then
                cat "$T/security.out" >&2
                fail "systemd-analyze security printed no exposure level (exit $rc)"
        fi
        echo "# systemd-analyze security --offline=yes ($(systemd-analyze --version | head -n 1)):"
        grep '✗' "$T/security.out" | sed 's/^/#   /'
        awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "exposure level $score is above 2.0"
        ok "systemd-analyze security: exposure level $score (limit 2.0)"

        # With the network drop-in: only printed, it is the administrator's choice.
        rc=0
        (cd "$U2" && SYSTEMD_UNIT_PATH=$U2: systemd-analyze security --offline=yes --no-pager ./stitchd.service) \
                >"$T/security-network.out" 2>&1 || rc=$?
        score_network=$(sed -n 's/.*Overall exposure level for stitchd.service: \([0-9.]*\).*/\1/p' "$T/security-network.out")
        if [ -z "$score_network" ]; then
                cat "$T/security-network.out" >&2
                fail "systemd-analyze security printed no exposure level with the drop-in (exit $rc)"
        fi
        echo "# with the network drop-in ($DROPIN):"
        grep '✗' "$T/security-network.out" | sed 's/^/#   /'
        ok "systemd-analyze security with the network drop-in: exposure level $score_network (without: $score)"
else
        echo "# systemd-analyze security has no --offline here: exposure level not measured"
fi
exit 0
