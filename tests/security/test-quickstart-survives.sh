#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Second review, finding R8: the README's two commands in its order. After
# scripts/quickstart.sh (stitch installed under /usr by make install,
# stitchd running on /var/lib/stitchd/stitch.db, the demo user stitchdemo),
# the tests that install things (tests/integration/test-deb.sh: dpkg -i and
# --purge; test-install.sh: make install) used to install the packages over
# the quick start's files and purge them with its store, while its stitchd
# kept running on deleted files. Here the quick start runs for real, then
# those tests, then the demo user must still log in through the quick
# start's PAM service with the quick start's password, the same daemon must
# still run on the same, unchanged store, and the installed files must be
# the quick start's.
#
# All of it happens in a throwaway root (stitch_isolate_system): the tests
# it runs isolate themselves once more inside it, as they do on a machine.
# Builds the packages: runs only with STITCH_TEST_DEB=1 (scripts/test.sh's
# Debian step), as root. About a minute on 2 CPUs (a build of the tree
# and one of the packages, without their unit tests).
. "${TESTS_LIB:?run through make check}" || exit 99

[ "${STITCH_TEST_DEB:-}" = 1 ] || skip "set STITCH_TEST_DEB=1 (runs the quick start and builds the Debian packages)"
[ "$(id -u)" = 0 ] || skip "needs root (the quick start installs)"
[ -f "$top_srcdir/debian/control" ] || skip "no debian/ directory in $top_srcdir (a release tarball)"
for tool in pamtester sqlite3 sha256sum dpkg-buildpackage useradd; do
        command -v "$tool" >/dev/null || skip "$tool is not installed"
done
stitch_isolate_system "$@"

start=$(date +%s)

# ---- the README's first command ------------------------------------------------------------------
# As a user runs it and then uses stitch: from a checkout, in a login
# shell's environment (none of the test's sockets or make's variables).
as_user() { env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
QS=$T/checkout
stitch_copy_source "$QS"
(cd "$QS" && as_user scripts/quickstart.sh) >"$T/quickstart.log" 2>&1 \
        || { tail -n 40 "$T/quickstart.log" >&2; fail "scripts/quickstart.sh failed"; }
PASSWORD=$(sed -n 's/^password for stitchdemo: //p' "$T/quickstart.log")
[ -n "$PASSWORD" ] || fail "the quick start printed no password for stitchdemo"
ok "scripts/quickstart.sh: installed, started, demo user created and logged in ($(($(date +%s) - start))s)"

# Its daemon (started with nohup: no systemd here), found by executable in
# this test's own PID namespace.
quickstart_pid() {
        local p
        for p in /proc/[0-9]*; do
                [ "$(readlink "$p/exe" 2>/dev/null)" = /usr/sbin/stitchd ] && { echo "${p#/proc/}"; return 0; }
        done
        return 1
}
QS_PID=$(quickstart_pid) || fail "no /usr/sbin/stitchd running after the quick start"
trap '[ -n "${QS_PID:-}" ] && kill -TERM "$QS_PID" 2>/dev/null; stitch_cleanup' EXIT
DB=/var/lib/stitchd/stitch.db
[ -f "$DB" ] || fail "the quick start's store $DB is missing"
MODULE=$(find /usr/lib /usr/lib64 -path '*/security/pam_stitch.so' 2>/dev/null | head -n 1)
[ -n "$MODULE" ] || fail "the quick start installed no pam_stitch.so under /usr"
FILES="/usr/sbin/stitchd /usr/bin/stitchctl $MODULE /etc/stitch/stitchd.conf /etc/pam.d/stitch-demo"

# What must not change: the files (content and inode), the store (its
# inode and its rows), the daemon.
snapshot() {
        local f
        for f in $FILES $DB; do
                [ -e "$f" ] || { echo "$f: missing"; continue; }
                echo "$f: $(stat -c '%i %a %U' "$f")"
        done
        for f in $FILES; do [ -e "$f" ] && sha256sum "$f"; done
        sqlite3 "file:$DB?mode=ro" .dump 2>&1 | sha256sum | sed "s|-\$|rows of $DB|"
        sqlite3 "file:$DB?mode=ro" 'SELECT count(*) FROM users;' 2>&1 | sed 's/^/users: /'
        echo "daemon: $(readlink "/proc/$QS_PID/exe" 2>&1)"
        for f in "/proc/$QS_PID"/fd/*; do
                f=$(readlink "$f" 2>/dev/null) || continue
                case $f in "$DB"*) echo "store open: $f" ;; esac
        done | sort -u
}
# The administrator's own data from here on: a user of their own.
printf '%s' "$PASSWORD-ada" | as_user stitchctl user add --email ada@example.com --unix-name root --password-stdin >/dev/null \
        || fail "stitchctl user add against the quick start's daemon failed"
snapshot >"$T/before"
grep -q '^users: [1-9]' "$T/before" || fail "no user in the quick start's store: $(cat "$T/before")"
grep -q '^store open: ' "$T/before" || fail "the quick start's stitchd does not hold $DB open"

# ---- the README's second command: the tests of scripts/test.sh that install --------------------------------
# Run as make check runs them (this test's environment), one after the other.
for t in tests/integration/test-deb.sh tests/integration/test-install.sh; do
        name=${t##*/}
        t0=$(date +%s)
        env -u STITCH_TEST_DEB_CHECK "$BASH" "$top_srcdir/$t" >"$T/$name.out" 2>&1
        rc=$?
        [ "$rc" = 0 ] || { tail -n 30 "$T/$name.out" >&2; fail "$t failed or skipped (exit status $rc) after the quick start"; }
        ok "$t passes after the quick start ($(($(date +%s) - t0))s)"
done

# ---- what the quick start set up is all still there ---------------------------------------------------------
kill -0 "$QS_PID" 2>/dev/null || fail "the quick start's stitchd (pid $QS_PID) is gone"
snapshot >"$T/after"
if ! cmp -s "$T/before" "$T/after"; then
        diff "$T/before" "$T/after" >&2
        fail "the quick start's installation changed under the tests (before/after above)"
fi
if grep -q '(deleted)' "$T/after"; then fail "the quick start's stitchd runs on deleted files: $(cat "$T/after")"; fi
ok "the quick start's files, store and daemon are untouched: $(echo $FILES $DB | wc -w) files, $(sed -n 's/^users: //p' "$T/after") user(s), pid $QS_PID"

printf '%s\n' "$PASSWORD" | as_user pamtester -v stitch-demo stitchdemo authenticate acct_mgmt open_session close_session \
        >"$T/pamtester.out" 2>&1 || { cat "$T/pamtester.out" >&2; fail "stitchdemo no longer logs in with the quick start's password"; }
if printf 'not-%s\n' "$PASSWORD" | as_user pamtester stitch-demo stitchdemo authenticate >/dev/null 2>&1; then
        fail "stitchdemo logged in with a wrong password"
fi
as_user stitchctl status >/dev/null || fail "stitchctl status against the quick start's daemon failed"
ok "stitchdemo still logs in through /etc/pam.d/stitch-demo with the quick start's password; a wrong one is refused"

# ---- the quick start again: it reuses what is there --------------------------------------------------------------
inode=$(stat -c %i "$DB")
(cd "$QS" && as_user scripts/quickstart.sh) >"$T/quickstart2.log" 2>&1 \
        || { tail -n 40 "$T/quickstart2.log" >&2; fail "scripts/quickstart.sh failed when run a second time"; }
expect_eq "the store's inode after a second quick start" "$inode" "$(stat -c %i "$DB")"
# (make install replaced the binary under it: the running daemon is kept, not restarted)
kill -0 "$QS_PID" 2>/dev/null || fail "the quick start's daemon is gone after a second quick start"
as_user stitchctl user show ada@example.com >/dev/null || fail "a second quick start lost the administrator's user"
ok "a second scripts/quickstart.sh reuses the running daemon and the store; the administrator's user stays"

kill -TERM "$QS_PID"
while kill -0 "$QS_PID" 2>/dev/null; do sleep 0.05; done   # waiting for an exit, not for readiness
QS_PID=
echo "# test-quickstart-survives took $(($(date +%s) - start))s"
exit 0
