#!/bin/bash
# stitchd as a process: configuration errors, defaults without a config file,
# clean shutdown, who may call what (SO_PEERCRED), refusing planted symlinks
# and loose file modes, and staying responsive under hostile clients.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"
RAW=$top_builddir/tests/helpers/wire-raw
FLOOD=$top_builddir/tests/helpers/conn-flood

# --- configuration -----------------------------------------------------------
printf '[Daemon]\nWorkers=two\nBogus=1\n[Nope]\nX=1\n' > "$T/bad.conf"
out=$("$STITCHD" --check-config --config "$T/bad.conf" 2>&1) && fail "--check-config accepted a bad file"
grep -q "^$T/bad.conf:2: " <<<"$out" || fail "no file:line for the bad value: $out"
grep -q "^$T/bad.conf:3: " <<<"$out" || fail "not every error reported: $out"
grep -q "^$T/bad.conf:4: " <<<"$out" || fail "unknown section not reported: $out"
"$STITCHD" --foreground --config "$T/bad.conf" >/dev/null 2>&1; rc=$?
[ $rc -ne 0 ] || fail "stitchd started with a bad config"
"$STITCHD" --check-config --config "$T/does-not-exist.conf" >/dev/null 2>&1 && fail "missing explicit config accepted"
# The floods below come from one uid: they are about stalling, not MaxConnectionsPerUser=.
stitch_config <<'X'
[Limits]
MaxConnectionsPerUser=0
X
"$STITCHD" --check-config --config "$STITCHD_CONF" >/dev/null || fail "--check-config refused a good file"
ok "configuration errors are file:line messages and stop startup"

# --- no config file at all: the built-in defaults (paths under /run and /var/lib) ---
# In a private mount namespace on empty /run and /var/lib: the machine's own
# (a quick start's store and sockets) are neither used nor created.
if [ "$(id -u)" = 0 ] && unshare --mount --propagation private true 2>/dev/null; then
        out=$(unshare --mount --propagation private bash -c '
                set -e
                mount -t tmpfs -o mode=0755 tmpfs /run; mount -t tmpfs -o mode=0755 tmpfs /var/lib
                mkdir -m 0755 /run/stitchd; mkdir -m 0700 /var/lib/stitchd
                mkdir -p "$1/etc"; mount -t tmpfs tmpfs /etc/stitch 2>/dev/null || true
                pid=$("$2" --timeout 30 -- env -u STITCHD_CONFIG "$3" --foreground 2>"$1/defaults.log")
                STITCH_SOCKET= STITCH_ADMIN_SOCKET= "$4" status --json
                kill -TERM "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
                ls -l /var/lib/stitchd/stitch.db
        ' _ "$T" "$STITCH_SPAWN" "$STITCHD" "$STITCHCTL" 2>&1) || fail "defaults run failed: $out"
        grep -q '"store":"sqlite:/var/lib/stitchd/stitch.db"' <<<"$out" || fail "defaults not used: $out"
        grep -q '^-rw------- ' <<<"$out" || fail "store not 0600: $out"
        ok "without a config file stitchd runs on the defaults (embedded SQLite)"
else
        echo "# skipped the defaults check: needs root and unshare --mount"
fi

# --- running, shutdown ---------------------------------------------------------
stitch_start
sctl status >/dev/null || fail "status"
pid=$STITCHD_PID
kill -TERM "$pid"
for i in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && fail "stitchd did not exit on SIGTERM"
wait "$pid" 2>/dev/null; STITCHD_PID=
[ ! -e "$STITCH_SOCKET" ] || fail "socket left behind after a clean shutdown"
grep -q 'shutting down' "$STITCHD_LOG" || fail "no shutdown log line"
ok "SIGTERM shuts down cleanly and removes the sockets"

# --- files it must not trust ---------------------------------------------------
ln -s /etc/passwd "$STITCH_SOCKET"
"$STITCH_SPAWN" --timeout 10 -- "$STITCHD" --foreground --config "$STITCHD_CONF" >/dev/null 2>"$T/symlink.log" \
        && { stitch_stop; fail "started with a symlink planted at the socket path"; }
grep -q 'symlink' "$T/symlink.log" || fail "no clear reason for the symlink refusal: $(cat "$T/symlink.log")"
[ -f /etc/passwd ] && [ ! -S /etc/passwd ] || fail "followed the symlink"
rm -f "$STITCH_SOCKET"
chmod 0644 "$T/stitch.db"
"$STITCH_SPAWN" --timeout 10 -- "$STITCHD" --foreground --config "$STITCHD_CONF" >/dev/null 2>"$T/mode.log" \
        && { stitch_stop; fail "started with a world-readable store"; }
chmod 0600 "$T/stitch.db"
mv "$T/stitch.db" "$T/real.db"; ln -s "$T/real.db" "$T/stitch.db"
"$STITCH_SPAWN" --timeout 10 -- "$STITCHD" --foreground --config "$STITCHD_CONF" >/dev/null 2>"$T/dbsym.log" \
        && { stitch_stop; fail "started with a symlinked store"; }
rm "$T/stitch.db"; mv "$T/real.db" "$T/stitch.db"
ok "a symlink at the socket or store path and a group/world-readable store are refused"

# --- who may call what -----------------------------------------------------------
stitch_start
stitch_user ada@example.com ada 'ada-password'
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
        as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
        chmod 0666 "$STITCH_ADMIN_SOCKET"   # let the daemon's own check answer
        out=$(as_nobody "$STITCHCTL" call io.stitch.Admin.Status '{}') && fail "nobody used the admin socket"
        expect_eq "admin refusal" io.stitch.Error.PermissionDenied "$(jq -r .error <<<"$out")"
        out=$(as_nobody "$STITCHCTL" call io.stitch.Auth.Login '{"user":"ada","password":"ada-password","service":"login"}') \
                && fail "nobody logged in as ada"
        expect_eq "login refusal" io.stitch.Error.PermissionDenied "$(jq -r .error <<<"$out")"
        L=$(sctl call io.stitch.Auth.Login '{"user":"ada","password":"ada-password","service":"login"}')
        SID=$(jq -r .parameters.session_id <<<"$L")
        out=$(as_nobody "$STITCHCTL" call io.stitch.Token.Get "{\"session_id\":\"$SID\"}") && fail "nobody read ada's token"
        # Someone else's session looks exactly like one that does not exist.
        expect_eq "token refusal" io.stitch.Error.SessionInvalid "$(jq -r .error <<<"$out")"
        out2=$(as_nobody "$STITCHCTL" call io.stitch.Token.Get '{"session_id":"AAAAAAAAAAAAAAAAAAAAAAAA"}')
        expect_eq "another's session and no session answer alike" "$(jq -c .parameters <<<"$out2")" "$(jq -c .parameters <<<"$out")"
        out=$(as_nobody "$STITCHCTL" call io.stitch.Auth.CloseSession "$(jq -c '{session_id:.parameters.session_id,binding:.parameters.binding}' <<<"$L")") \
                && fail "nobody closed ada's session, even with its binding"
        sctl call io.stitch.Token.Get "{\"session_id\":\"$SID\"}" >/dev/null || fail "root cannot read the token"
        out=$(printf '{"method":"io.stitch.Admin.Status"}\0' | "$RAW" "$STITCH_SOCKET")
        expect_eq "admin method on the auth socket" io.stitch.Error.PermissionDenied "$(jq -r .error <<<"$out")"
        ok "callers are identified by SO_PEERCRED: no admin, no other uid's logins or tokens"
else
        echo "# skipped the caller checks: no nobody user or setpriv"
fi

# --- hostile input -----------------------------------------------------------------
call_raw() { printf '%s\0' "$1" | "$RAW" "$STITCH_SOCKET"; }
err_of() { jq -r .error <<<"$1" 2>/dev/null; }
expect_invalid() { expect_eq "$1" io.stitch.Error.InvalidParameter "$(err_of "$2")"; }
expect_invalid "NUL escape in user" "$(call_raw '{"method":"io.stitch.Auth.Login","parameters":{"user":"ada\u0000x","password":"ada-password","service":"login"}}')"
expect_invalid "NUL escape in password" "$(call_raw '{"method":"io.stitch.Auth.Login","parameters":{"user":"ada","password":"ada-pass\u0000word","service":"login"}}')"
expect_invalid "unknown key" "$(call_raw '{"method":"io.stitch.Auth.Login","parameters":{"user":"ada","password":"x","usr":"y"}}')"
expect_invalid "duplicate key" "$(call_raw '{"method":"io.stitch.Auth.Login","parameters":{"user":"ada","user":"bob","password":"x"}}')"
expect_invalid "wrong type" "$(call_raw '{"method":"io.stitch.Auth.Login","parameters":{"user":42,"password":"x"}}')"
expect_invalid "case-sensitive keys" "$(call_raw '{"method":"io.stitch.Auth.Login","parameters":{"User":"ada","password":"x"}}')"
expect_invalid "not JSON" "$(call_raw 'not json at all')"
expect_invalid "deep nesting" "$(call_raw "{\"method\":\"io.stitch.Token.Verify\",\"parameters\":{\"access_token\":$(printf '[%.0s' $(seq 5000))}}")"
expect_invalid "invalid UTF-8" "$(printf '{"method":"io.stitch.Auth.Login","parameters":{"user":"\xff\xfe","password":"x"}}\0' | "$RAW" "$STITCH_SOCKET")"
big=$(head -c 1048576 /dev/zero | tr '\0' 'a')
expect_invalid "1 MiB field" "$(printf '{"method":"io.stitch.Auth.Login","parameters":{"user":"%s","password":"x"}}\0' "$big" | "$RAW" "$STITCH_SOCKET")"
expect_invalid "64 KiB + 1" "$( { printf '{"method":"io.stitch.Token.Verify","parameters":{"access_token":"'; head -c 65536 /dev/zero | tr '\0' 'a'; printf '"}}\0'; } | "$RAW" "$STITCH_SOCKET")"
out=$(call_raw '{"method":"io.stitch.Auth.Login","parameters":{"user":"ada'"'"'; DROP TABLE users; --","password":"%s%s%n%n","service":"%x%x"}}')
expect_eq "SQL metacharacters" io.stitch.Error.InvalidCredentials "$(err_of "$out")"
sctl user show ada >/dev/null || fail "users table damaged"
out=$(call_raw '{"method":"io.stitch.Nope","parameters":{}}')
expect_eq "unknown method" org.varlink.service.MethodNotFound "$(err_of "$out")"
sctl status >/dev/null || fail "daemon stopped serving after hostile input"
grep -q 'ada-password' "$STITCHD_LOG" && fail "a password reached the log"
ok "malformed, oversized, nested, NUL-laden and injection inputs get InvalidParameter; the daemon keeps serving"

# --- clients that stall -------------------------------------------------------------
# (under valgrind, 100: a thousand never-reading clients queue more calls
# than memcheck's speed serves within stitchctl's 30 s)
FLOOD_N=1000; [ -n "$STITCH_VALGRIND" ] && FLOOD_N=100
for mode in idle partial noread; do
        mkfifo "$T/flood.$mode"
        "$FLOOD" "$STITCH_SOCKET" "$FLOOD_N" "$mode" < "$T/flood.$mode" > "$T/flood.$mode.out" 2>&1 &
        fpid=$!
        exec {hold}> "$T/flood.$mode"
        for i in $(seq 1 600); do grep -q '^connected' "$T/flood.$mode.out" 2>/dev/null && break; kill -0 $fpid 2>/dev/null || break; sleep 0.05; done
        grep -q "^connected $FLOOD_N" "$T/flood.$mode.out" || fail "flood ($mode) did not connect: $(cat "$T/flood.$mode.out")"
        start=$(date +%s%N)
        sctl status >/dev/null || fail "status refused while $FLOOD_N $mode clients are connected"
        sctl call io.stitch.Auth.Login '{"user":"ada","password":"ada-password","service":"login"}' >/dev/null \
                || fail "login refused while $FLOOD_N $mode clients are connected"
        ms=$(( ($(date +%s%N) - start) / 1000000 ))
        exec {hold}>&-
        wait $fpid
        ok "$FLOOD_N $mode connections do not stall others (status + login took ${ms} ms)"
done
sctl status --json | jq -e '.connections <= 2' >/dev/null || fail "connections not released"

# Idle connections are closed after IdleTimeout.
stitch_stop
stitch_config <<'X'
[Limits]
IdleTimeout=1s
MaxConnections=50
X
stitch_start
mkfifo "$T/idle.fifo"
"$FLOOD" "$STITCH_SOCKET" 10 partial < "$T/idle.fifo" > "$T/idle.out" 2>&1 &
fpid=$!
exec {hold}> "$T/idle.fifo"
for i in $(seq 1 100); do grep -q '^connected' "$T/idle.out" && break; sleep 0.05; done
sleep 2   # longer than IdleTimeout: time must pass for the timeout to fire
exec {hold}>&-
wait $fpid
grep -q '^closed 0 alive' "$T/idle.out" || fail "idle connections were not closed: $(cat "$T/idle.out")"
ok "connections idle longer than IdleTimeout are closed"

# The timeout counts from the last call, not from the connection: one that
# keeps calling outlives it many times over, then goes once it stops.
out=$("$STITCH_PYTHON" - "$STITCH_SOCKET" <<'PY' 2>&1
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(10)
call = b'{"method":"io.stitch.Token.Jwks","parameters":{}}\0'
def ask():
    buf = b""
    while not buf.endswith(b"\0"):
        data = s.recv(65536)
        if not data:
            return False
        buf += data
    return True
for i in range(10):  # 3 s of calls, 0.3 s apart, against IdleTimeout=1s
    s.sendall(call)
    if not ask():
        print("closed while active after %d calls" % i)
        sys.exit(1)
    time.sleep(0.3)
time.sleep(2.5)  # longer than IdleTimeout: time must pass for it to fire
try:
    s.sendall(call)
    gone = not ask()
except (BrokenPipeError, ConnectionResetError):
    gone = True
print("ok" if gone else "still open after IdleTimeout without calls")
PY
)
[ "$out" = ok ] || fail "idle timeout of an active connection: $out"
ok "a connection that keeps calling is not idle; once it stops, it is closed"

# MaxConnections: the 51st gets a clear Busy answer, others keep working.
mkfifo "$T/max.fifo"
"$FLOOD" "$STITCH_SOCKET" 50 idle < "$T/max.fifo" > "$T/max.out" 2>&1 &
fpid=$!
exec {hold}> "$T/max.fifo"
for i in $(seq 1 100); do grep -q '^connected' "$T/max.out" && break; sleep 0.05; done
out=$(printf '{"method":"io.stitch.Token.Jwks"}\0' | "$RAW" "$STITCH_SOCKET")
expect_eq "over the limit" io.stitch.Error.Busy "$(err_of "$out")"
exec {hold}>&-
wait $fpid
printf '{"method":"io.stitch.Token.Jwks"}\0' | "$RAW" "$STITCH_SOCKET" | grep -q '"keys"' || fail "not serving after the flood"
ok "connections beyond MaxConnections get io.stitch.Error.Busy"
