#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# stitchd as systemd starts it: sockets passed by socket activation (matched
# by FileDescriptorName=, or by path), readiness through NOTIFY_SOCKET,
# WATCHDOG=1 pings when WATCHDOG_USEC is set, STOPPING=1 and exit 0 on
# SIGTERM. systemd-socket-activate(1) stands in for systemd; the
# notifications are read by tests/helpers/notify-listen.
. "${TESTS_LIB:?run through make check}" || exit 99

command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate is not installed"
NOTIFY_LISTEN=$top_builddir/tests/helpers/notify-listen
WIRE_RAW=$top_builddir/tests/helpers/wire-raw
[ -x "$NOTIFY_LISTEN" ] && [ -x "$WIRE_RAW" ] || fail "test helpers not built"

# The configuration names sockets that must stay unused: the daemon has to
# take the ones passed in.
stitch_config </dev/null
mkdir -p "$T/act"
ACT_AUTH=$T/act/auth.sock
ACT_ADMIN=$T/act/admin.sock
ACT_EXTRA=$T/act/extra.sock

STATUS_CALL='{"method":"io.stitch.Admin.Status"}'
JWKS_CALL='{"method":"io.stitch.Token.Jwks"}'

# call SOCKET JSON [TIMEOUT_MS]: one raw call, reply on stdout
call() { printf '%s\0' "$2" | "$WIRE_RAW" "$1" "${3:-10000}"; }

RUN=                # name of the current run
NFD= EFD=           # read ends of its notification and stderr fifos
LISTENER_PID= DRAIN_PID=

# activate NAME FDNAMES SOCKET... [-- EXTRA systemd-socket-activate OPTIONS]:
# starts stitchd under systemd-socket-activate through notify-listen, in the
# background, and returns once every socket is listening. The daemon itself
# starts on the first connection, as under systemd.
activate() {
        RUN=$1
        local fdnames=$2 n=0 line
        shift 2
        local args=()
        while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=(-l "$1"); n=$((n + 1)); shift; done
        [ $# -gt 0 ] && shift
        args+=("$@")
        [ -n "$fdnames" ] && args+=(--fdname="$fdnames")
        mkfifo "$T/$RUN.notify" "$T/$RUN.err"
        # Read-write opens: never block, and the pipes never lose their reader.
        exec {NFD}<>"$T/$RUN.notify" {EFD}<>"$T/$RUN.err"
        "$NOTIFY_LISTEN" --timeout 120 --pidfile "$T/$RUN.pid" -- \
                systemd-socket-activate "${args[@]}" -E NOTIFY_SOCKET -- \
                "$STITCHD" --foreground --config "$STITCHD_CONF" >&$NFD 2>&$EFD </dev/null {NFD}>&- {EFD}>&- &
        LISTENER_PID=$!
        local listening=0
        while [ $listening -lt $n ]; do
                IFS= read -r -t 30 -u $EFD line || fail "$RUN: systemd-socket-activate is not listening"
                echo "$line" >>"$STITCHD_LOG"
                case $line in "Listening on "*) listening=$((listening + 1)) ;; esac
        done
        # From here on cat keeps the log; it ends when the last writer (the
        # daemon, then notify-listen) is gone.
        cat <"$T/$RUN.err" >>"$STITCHD_LOG" {NFD}>&- {EFD}>&- &
        DRAIN_PID=$!
        exec {EFD}<&-
}

# wait_notify MESSAGE [COUNT]: reads notifications until MESSAGE has come
# COUNT times; all are kept in $T/$RUN.notify.log.
wait_notify() {
        local want=$1 count=${2:-1} seen=0 line
        while [ $seen -lt "$count" ]; do
                IFS= read -r -t 30 -u $NFD line || fail "$RUN: no $want (seen $seen of $count)"
                echo "$line" >>"$T/$RUN.notify.log"
                [ "$line" = "$want" ] && seen=$((seen + 1))
                case $line in EXIT_STATUS=*) [ "$want" = "$line" ] || fail "$RUN: daemon exited ($line) before $want" ;; esac
        done
        return 0
}

# deactivate: SIGTERM, then STOPPING=1 and exit status 0
deactivate() {
        local pid line
        pid=$(cat "$T/$RUN.pid") || fail "$RUN: no pid file"
        kill -TERM "$pid"
        while IFS= read -r -t 30 -u $NFD line; do
                echo "$line" >>"$T/$RUN.notify.log"
                case $line in EXIT_STATUS=*) break ;; esac
        done
        grep -qx 'STOPPING=1' "$T/$RUN.notify.log" || fail "$RUN: no STOPPING=1 on SIGTERM"
        expect_eq "$RUN: exit status after SIGTERM" EXIT_STATUS=0 "$(tail -n 1 "$T/$RUN.notify.log")"
        wait "$LISTENER_PID" || fail "$RUN: notify-listen failed"
        LISTENER_PID=
        STITCHD_PID=
        wait "$DRAIN_PID"
        DRAIN_PID=
        exec {NFD}<&-
}

activation_cleanup() {
        if [ -n "$LISTENER_PID" ]; then
                [ -f "$T/$RUN.pid" ] && kill -KILL "$(cat "$T/$RUN.pid")" 2>/dev/null
                kill "$LISTENER_PID" 2>/dev/null; wait "$LISTENER_PID" 2>/dev/null
        fi
        [ -n "$DRAIN_PID" ] && { kill "$DRAIN_PID" 2>/dev/null; wait "$DRAIN_PID" 2>/dev/null; }
        stitch_cleanup
}
trap activation_cleanup EXIT

# check_roles AUTH ADMIN: the auth socket serves io.stitch.Token but refuses
# io.stitch.Admin; the admin socket serves io.stitch.Admin.
check_roles() {
        local r
        r=$(call "$2" "$STATUS_CALL") || fail "$RUN: no reply on the admin socket"
        case $r in '{"parameters":{"version":'*) ;; *) fail "$RUN: admin Status replied: $r" ;; esac
        r=$(call "$1" "$JWKS_CALL") || fail "$RUN: no reply on the auth socket"
        case $r in *'"keys":[{'*) ;; *) fail "$RUN: Jwks replied: $r" ;; esac
        r=$(call "$1" "$STATUS_CALL") || fail "$RUN: no reply to Status on the auth socket"
        case $r in *'"error":"io.stitch.Error.PermissionDenied"'*) ;; *) fail "$RUN: Status on the auth socket: $r" ;; esac
        # and none of the sockets named in the configuration was created
        [ ! -e "$STITCH_SOCKET" ] && [ ! -e "$STITCH_ADMIN_SOCKET" ] \
                || fail "$RUN: the daemon bound the configured sockets instead of using the passed ones"
}

# ---- readiness through NOTIFY_SOCKET, without socket activation ----------------------
out=$("$NOTIFY_LISTEN" --timeout 60 --until READY=1 -- \
        "$STITCHD" --foreground --config "$STITCHD_CONF" 2>>"$STITCHD_LOG" </dev/null) \
        || fail "no READY=1 from a plainly started daemon: $out"
echo "$out" | grep -qx 'READY=1' || fail "READY=1 missing: $out"
echo "$out" | grep -q '^STATUS=' || fail "no STATUS= message: $out"
echo "$out" | grep -qx 'STOPPING=1' || fail "no STOPPING=1 on SIGTERM: $out"
expect_eq "exit status after SIGTERM" EXIT_STATUS=0 "$(echo "$out" | tail -n 1)"
[ ! -e "$STITCH_SOCKET" ] && [ ! -e "$STITCH_ADMIN_SOCKET" ] || fail "the daemon left its sockets behind"
ok "READY=1 and STATUS= through NOTIFY_SOCKET; STOPPING=1 and exit 0 on SIGTERM; sockets removed"

printf '[Daemon]\nNoSuchKey=1\n' >"$T/bad.conf"
rc=0
out=$("$NOTIFY_LISTEN" --timeout 60 --until READY=1 -- \
        "$STITCHD" --foreground --config "$T/bad.conf" 2>>"$STITCHD_LOG" </dev/null) || rc=$?
expect_eq "notify-listen on an invalid config" 1 "$rc"
echo "$out" | grep -qx 'READY=1' && fail "READY=1 sent with an invalid configuration"
expect_eq "exit status on an invalid config" EXIT_STATUS=78 "$(echo "$out" | tail -n 1)"
ok "invalid configuration: no READY=1, exit status 78"

# ---- 1: sockets matched by name; the watchdog ------------------------------------------
activate named io.stitch.Auth:io.stitch.Admin "$ACT_AUTH" "$ACT_ADMIN" -- -E WATCHDOG_USEC=200000
# The first connection starts the daemon; its reply proves it is serving.
r=$(call "$ACT_ADMIN" "$STATUS_CALL" 60000) || fail "named: no reply to the first call"
wait_notify READY=1
STITCHD_PID=$(cat "$T/$RUN.pid")
check_roles "$ACT_AUTH" "$ACT_ADMIN"
STITCH_ADMIN_SOCKET=$ACT_ADMIN STITCH_SOCKET=$ACT_AUTH sctl status >/dev/null || fail "stitchctl status through the passed socket"
ok "socket activation by FileDescriptorName=: auth and admin roles kept, configured paths unused"
wait_notify WATCHDOG=1 3
ok "WATCHDOG_USEC=200000: the daemon sends WATCHDOG=1"
deactivate
[ -S "$ACT_AUTH" ] && [ -S "$ACT_ADMIN" ] || fail "the daemon removed sockets that systemd owns"
grep -q 'Using 2 socket(s) passed by systemd' "$STITCHD_LOG" || fail "no log line about the passed sockets"
ok "SIGTERM: STOPPING=1, exit 0, passed sockets left to their owner"
rm -f "$ACT_AUTH" "$ACT_ADMIN"

# ---- 2: names, not order; an unexpected socket is closed -------------------------------
activate reversed io.stitch.Admin:bogus:io.stitch.Auth "$ACT_ADMIN" "$ACT_EXTRA" "$ACT_AUTH"
r=$(call "$ACT_AUTH" "$JWKS_CALL" 60000) || fail "reversed: no reply to the first call"
wait_notify READY=1
STITCHD_PID=$(cat "$T/$RUN.pid")
check_roles "$ACT_AUTH" "$ACT_ADMIN"
rc=0
call "$ACT_EXTRA" "$STATUS_CALL" 2000 >/dev/null 2>&1 || rc=$?
expect_eq "connecting to the unexpected socket" 2 "$rc"
deactivate
grep -q 'Ignoring unexpected socket passed by systemd (name bogus)' "$STITCHD_LOG" || fail "no warning about the unexpected socket"
ok "sockets matched by name in any order; an unexpected one is closed with a warning"
rm -f "$ACT_AUTH" "$ACT_ADMIN" "$ACT_EXTRA"

# ---- 3: no names: matched by path ------------------------------------------------------------
sed -i -e "s|^AuthSocket=.*|AuthSocket=$ACT_AUTH|" -e "s|^AdminSocket=.*|AdminSocket=$ACT_ADMIN|" "$STITCHD_CONF"
STITCH_SOCKET=$T/unused-auth STITCH_ADMIN_SOCKET=$T/unused-admin
activate bypath "" "$ACT_ADMIN" "$ACT_AUTH"
r=$(call "$ACT_ADMIN" "$STATUS_CALL" 60000) || fail "bypath: no reply to the first call"
wait_notify READY=1
STITCHD_PID=$(cat "$T/$RUN.pid")
check_roles "$ACT_AUTH" "$ACT_ADMIN"
deactivate
[ -S "$ACT_AUTH" ] && [ -S "$ACT_ADMIN" ] || fail "the daemon removed sockets passed by path"
ok "sockets without names matched by their path"
exit 0
