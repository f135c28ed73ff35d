#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Files the daemon must not trust, beyond tests/integration/test-daemon.sh
# (which covers a symlink at the socket or store path and a group/world-
# readable store):
#   - a store database, -wal, -shm or -journal owned by another uid is
#     refused at startup, with a message naming the file and the reason;
#   - the sockets come up with the documented modes (auth 0666, admin 0660
#     group root without AdminGroup), owned by the daemon's uid;
#   - hardening (known gaps, XFAIL until fixed): a store directory or socket
#     directory that another uid owns or may write to, and a configuration
#     file others may write to, should be refused at startup.
# The PAM module's side (a socket served by a non-root, non-daemon peer gets
# no secret) is tests/pam/test-peer.sh.
. "$top_srcdir/tests/reliability/rel-lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (chown)"
id nobody >/dev/null 2>&1 || skip "no user nobody"
KNOWN_BUGS=${STITCH_ACCESS_KNOWN_BUGS-}

mkdir -p "$T/db" "$T/run"
chmod 0700 "$T/db"; chmod 0755 "$T/run"
export STITCH_SOCKET=$T/run/io.stitch.Auth STITCH_ADMIN_SOCKET=$T/run/io.stitch.Admin
stitch_config </dev/null
sed -i -e "s|^Store=.*|Store=sqlite:$T/db/stitch.db|" -e "s|^AuthSocket=.*|AuthSocket=$STITCH_SOCKET|" \
        -e "s|^AdminSocket=.*|AdminSocket=$STITCH_ADMIN_SOCKET|" "$STITCHD_CONF"

# Starts the daemon; prints "started" or "refused", the log in $T/try.log.
try_start() {
        local pid
        if pid=$("$STITCH_SPAWN" --timeout 20 -- "$STITCHD" --foreground --config "$STITCHD_CONF" 2>"$T/try.log" 3>&- </dev/null); then
                kill -TERM "$pid"
                while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
                echo started
        else
                echo refused
        fi
}
xfail_or_fail() { # BUG MESSAGE
        if [[ " $KNOWN_BUGS " == *" $1 "* ]]; then echo "XFAIL ($1): $2"; else fail "$2"; fi
}

expect_eq "clean start" started "$(try_start)"

# --- sockets -----------------------------------------------------------------------
stitch_start
expect_eq "auth socket mode" "srw-rw-rw- 0" "$(stat -c '%A %u' "$STITCH_SOCKET")"
expect_eq "admin socket mode" "srw-rw---- 0 0" "$(stat -c '%A %u %g' "$STITCH_ADMIN_SOCKET")"
expect_eq "store mode" "-rw------- 0" "$(stat -c '%A %u' "$T/db/stitch.db")"
stitch_stop
ok "sockets 0666 (auth) and 0660 root:root (admin, no AdminGroup), store 0600, all owned by the daemon's uid"

# --- store files owned by someone else ----------------------------------------------
chown nobody "$T/db/stitch.db"
expect_eq "store owned by nobody" refused "$(try_start)"
grep -q "Refusing store database $T/db/stitch.db: owned by uid" "$T/try.log" || fail "no clear reason: $(cat "$T/try.log")"
chown root "$T/db/stitch.db"
for suffix in -wal -shm -journal; do
        setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null || break
        : > "$T/db/stitch.db$suffix"; chown nobody "$T/db/stitch.db$suffix"
        expect_eq "$suffix owned by nobody" refused "$(try_start)"
        grep -q "Refusing store file $T/db/stitch.db$suffix: owned by uid" "$T/try.log" || fail "no clear reason for $suffix: $(cat "$T/try.log")"
        rm -f "$T/db/stitch.db$suffix"
done
expect_eq "clean start again" started "$(try_start)"
ok "a store database, -wal, -shm or -journal owned by another uid is refused, naming file and owner"

# --- hardening: directories and the configuration --------------------------------------
# BUG-STOREDIR: stitchd/store/sqlite.c prepare_db_file() checks the database
# file but not its directory. A directory another uid may write to lets it
# delete the store, or plant a -wal between the startup check and SQLite's
# first read (the check of companion files is a snapshot).
for how in "chmod 0777" "chown nobody"; do
        $how "$T/db"
        r=$(try_start)
        [ "$r" = refused ] || xfail_or_fail BUG-STOREDIR "the store directory after '$how' is accepted"
        chmod 0700 "$T/db"; chown root "$T/db"
done
# BUG-SOCKDIR: stitchd/frontends/varlink/server.c binds in a directory that another uid may
# write to; that uid can then replace the socket between daemon restarts.
# pam_stitch checks its peer (test-peer.sh), but stitchctl does not, and
# stitchctl sends passwords (user add/passwd --password-stdin, login).
for how in "chmod 0777" "chown nobody"; do
        $how "$T/run"
        r=$(try_start)
        [ "$r" = refused ] || xfail_or_fail BUG-SOCKDIR "the socket directory after '$how' is accepted"
        chmod 0755 "$T/run"; chown root "$T/run"
done
# BUG-CONFMODE: a configuration file others may write to (or that another
# uid owns) names the store and the sockets; sshd's StrictModes refuses such.
for how in "chmod 0666" "chown nobody"; do
        $how "$STITCHD_CONF"
        r=$(try_start)
        [ "$r" = refused ] || xfail_or_fail BUG-CONFMODE "the configuration file after '$how' is accepted"
        chmod 0644 "$STITCHD_CONF"; chown root "$STITCHD_CONF"
done
ok "directory and configuration checks (known gaps reported as XFAIL: $KNOWN_BUGS)"
