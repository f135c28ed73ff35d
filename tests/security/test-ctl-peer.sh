#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# stitchctl sends nothing, and above all no password, to a socket whose
# listener is neither root, the caller, nor the daemon user (finding 13):
# an unprivileged user binds the path STITCH_SOCKET names, root runs
# "stitchctl login" with a password, and the listener must get nothing.
. "$top_srcdir/tests/security/security-lib.sh"

sec_local_user EVIL
# A python3 the unprivileged account may run (root's PATH may lead to one it cannot).
PY=
for p in /usr/bin/python3 /usr/local/bin/python3 "$(command -v python3)"; do
        [ -x "$p" ] && sec_as "$EVIL" "$p" -c '' 2>/dev/null && { PY=$p; break; }
done
[ -n "$PY" ] || skip "no python3 that $EVIL can run"
mkdir "$T/evil"
chown "$EVIL:$(id -g "$EVIL")" "$T/evil"
SOCK=$T/evil/io.stitch.Auth
LOG=$T/evil/received

# The listener: serves one connection at a time, answers each message with
# a plausible Login reply (a Login that begins gets the daemon's question) and logs, when the connection ends, every byte it
# got (as hex). "ready" on the FIFO once it listens; a connection that sends
# "PROBE" gets "ok" only after every earlier connection was read to its end,
# so the log is complete when the probe returns.
cat > "$T/listen.py" <<'X'
import os, socket, sys
path, log, ready = sys.argv[1:4]
reply = b'{"parameters":{"user_id":"u","session_id":"s","access_token":"a","refresh_token":"r","device_id":"d"}}\0'
ask = b'{"parameters":{"conversation":"c1","prompts":[{"id":"password","text":"Password: ","echo":false}]}}\0'
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
os.chmod(path, 0o666)
srv.listen(16)
with open(ready, "w") as f:
    f.write("ready\n")
with open(log, "a", buffering=1) as out:
    while True:
        conn, _ = srv.accept()
        got = b""
        while True:
            data = conn.recv(65536)
            if not data:
                break
            got += data
            if got == b"PROBE\0":
                break
            if data.endswith(b"\0"):
                last = got.rstrip(b"\0").split(b"\0")[-1]
                begins = b"io.stitch.Auth.Login" in last and b'"conversation"' not in last
                conn.sendall(ask if begins else reply)
        if got == b"PROBE\0":
            conn.sendall(b"ok\0")
        else:
            out.write("conn %s\n" % got.hex())
        conn.close()
X
mkfifo "$T/ready"
chmod 0666 "$T/ready"
exec {ready}<>"$T/ready"   # read-write: opening does not wait for the writer
sec_as "$EVIL" "$PY" "$T/listen.py" "$SOCK" "$LOG" "$T/ready" 2>"$T/listen.err" &
LISTENER=$!
line=
read -r -t 30 -u "$ready" line   # a bound for a listener that died, not a readiness delay
[ "$line" = ready ] || fail "the listener did not start: $(cat "$T/listen.err")"
[ "$(stat -c %U "$SOCK")" = "$EVIL" ] || fail "the socket is not $EVIL's"

# Waits until the listener has read every earlier connection to its end.
probe() {
        "$PY" - "$SOCK" <<'X' || fail "the listener does not answer the probe"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b"PROBE\0")
assert s.recv(16) == b"ok\0"
X
}

# Every byte the listener received since the last call, as text ("" if none).
received() {
        probe
        "$PY" - "$LOG" <<'X'
import sys
for line in open(sys.argv[1]):
    sys.stdout.write(bytes.fromhex(line.split()[1] if len(line.split()) > 1 else "").decode("utf-8", "replace").replace("\0", "\n"))
X
        : > "$LOG"
}

# refused WHAT CMD...: CMD exits 3 with one line naming the socket, and the
# listener got nothing.
refused() {
        local what=$1 rc=0
        shift
        "$@" >"$T/out" 2>"$T/err" || rc=$?
        local got
        got=$(received) || fail "$what: the listener did not answer the probe"
        [ -z "$got" ] || fail "$what: the listener run by $EVIL received: $got"
        [ "$rc" = 3 ] || fail "$what: exit status $rc, expected 3 (daemon unreachable); stderr: $(cat "$T/err")"
        [ "$(wc -l < "$T/err")" = 1 ] || fail "$what: expected one line on stderr, got: $(cat "$T/err")"
        grep -q "refusing to talk to $SOCK" "$T/err" || fail "$what: unclear message: $(cat "$T/err")"
        grep -q "uid $(id -u "$EVIL")" "$T/err" || fail "$what: the message does not name the listener: $(cat "$T/err")"
}

export STITCH_SOCKET=$SOCK STITCH_ADMIN_SOCKET=$SOCK
unset STITCH_DAEMON_USER

refused "login" sh -c 'printf "hunter22-secret" | "$1" login --user ada --provider local-userpass' sh "$STITCHCTL"
ok "root's stitchctl login sends no password to a socket $EVIL listens on"

refused "login --json" sh -c 'printf "hunter22-secret" | "$1" --json login --user ada' sh "$STITCHCTL"
refused "api-key login" sh -c 'printf "stk_AAAAAAAAAAAAAAAAAAAA" | "$1" login --user ada --provider api-key' sh "$STITCHCTL"
refused "user add" sh -c 'printf "hunter22-secret" | "$1" user add --email ada@example.com --password-stdin' sh "$STITCHCTL"
refused "user passwd" sh -c 'printf "hunter22-secret" | "$1" user passwd ada --password-stdin' sh "$STITCHCTL"
refused "call" "$STITCHCTL" call io.stitch.Auth.Login '{"user":"ada","service":"login","password":"hunter22-secret"}'
refused "--socket" sh -c 'printf "hunter22-secret" | STITCH_SOCKET=/nonexistent "$1" --socket "$2" login --user ada' sh "$STITCHCTL" "$SOCK"
refused "status" "$STITCHCTL" status
ok "no command sends anything there (login, user add, user passwd, call, status)"

# A daemon user that does not exist trusts only root and the caller.
refused "unknown daemon user" sh -c 'printf "hunter22-secret" | STITCH_DAEMON_USER=no-such-user-$$ "$1" login --user ada' sh "$STITCHCTL"
ok "an unknown STITCH_DAEMON_USER trusts only root and the caller"

# The check is what refused: naming the listener's account as the daemon
# user, or running stitchctl as that account, is trusted.
printf 'hunter22-secret' | STITCH_DAEMON_USER=$EVIL "$STITCHCTL" login --user ada --provider local-userpass >/dev/null \
        || fail "login to a trusted STITCH_DAEMON_USER failed"
got=$(received) || fail "the listener did not answer the probe"
grep -q 'hunter22-secret' <<<"$got" || fail "the listener trusted through STITCH_DAEMON_USER did not get the login"
ok "STITCH_DAEMON_USER names the account the daemon runs as"

printf 'own-secret' | sec_as "$EVIL" "$STITCHCTL" login --user "$EVIL" --provider local-userpass >/dev/null \
        || fail "$EVIL's login to its own listener failed"
got=$(received) || fail "the listener did not answer the probe"
grep -q 'own-secret' <<<"$got" || fail "the caller's own listener did not get the login"
ok "a listener of the caller's own uid is trusted"

kill "$LISTENER" 2>/dev/null
wait "$LISTENER" 2>/dev/null
exit 0
