#!/bin/bash
# Many connections at once, calls pipelined on each: every reply comes, in
# the order of the calls, whichever thread answered it (the event loop, or
# a CPU loop that borrowed the connection for its refreshes while others
# waited: daemon/cpu-loops.h). Connections that send something else, shut
# their sending side, or send an oversized message while they may be lent
# are answered as on the loop.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"

stitch_config <<'X'
[Tokens]
RotateRefreshTokens=no
X
stitch_start
stitch_user ada@example.com ada 'ada-password'
L=$(sctl call io.stitch.Auth.Login '{"user":"ada","password":"ada-password","service":"login"}') || fail "login: $L"
RT=$(jq -r .parameters.refresh_token <<<"$L")
AT=$(jq -r .parameters.access_token <<<"$L")

out=$("$STITCH_PYTHON" - "$STITCH_SOCKET" "$RT" "$AT" <<'PY' 2>&1
import json, socket, sys

path, rt, at = sys.argv[1:4]

def call(method, **params):
    return json.dumps({"method": method, "parameters": params}, separators=(",", ":")).encode() + b"\0"

refresh = call("io.stitch.Token.Refresh", refresh_token=rt)
bad_refresh = call("io.stitch.Token.Refresh", refresh_token="not-a-token")
verify = call("io.stitch.Token.Verify", access_token=at)
jwks = call("io.stitch.Token.Jwks")
# (message, what its reply must be)
burst = [(refresh, "token"), (refresh, "token"), (verify, "claims"), (refresh, "token"), (jwks, "keys"),
         (bad_refresh, "io.stitch.Error.SessionInvalid"), (refresh, "token"), (b"{nonsense}\0", None)]
# The malformed call ends the connection (after its error): it goes last.

def check(reply, want, where):
    if want == "token":
        ok = "access_token" in reply.get("parameters", {}) and "error" not in reply
    elif want == "claims":
        ok = "claims" in reply.get("parameters", {})
    elif want == "keys":
        ok = "keys" in reply.get("parameters", {})
    elif want is None:
        ok = reply.get("error") == "io.stitch.Error.InvalidParameter"
    else:
        ok = reply.get("error") == want
    if not ok:
        print("FAIL %s: expected %s, got %s" % (where, want, json.dumps(reply)[:200]))
        sys.exit(1)

def read_replies(s, n, where):
    buf, replies = b"", []
    while len(replies) < n:
        data = s.recv(65536)
        if not data:
            print("FAIL %s: connection closed after %d of %d replies" % (where, len(replies), n))
            sys.exit(1)
        buf += data
        while b"\0" in buf:
            m, buf = buf.split(b"\0", 1)
            replies.append(json.loads(m))
    return replies, buf

def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(30)
    return s

for rnd in range(30):
    conns = [connect() for _ in range(6)]
    # Everything is written before anything is read: many connections ready at once.
    for i, s in enumerate(conns):
        n = len(burst) if i % 3 == 0 else len(burst) - 1
        s.sendall(b"".join(m for m, _ in burst[:n]))
        if i % 3 == 1:
            s.shutdown(socket.SHUT_WR)  # EOF after the calls: all answered, then closed
        if i % 3 == 2:
            s.sendall(refresh + b"x" * 70000 + b"\0")  # oversized: answered, then closed
    for i, s in enumerate(conns):
        n = len(burst) if i % 3 == 0 else len(burst) - 1
        want = [w for _, w in burst[:n]]
        if i % 3 == 2:
            want += ["token", "io.stitch.Error.InvalidParameter"]
        replies, rest = read_replies(s, len(want), "round %d connection %d" % (rnd, i))
        for k, (reply, w) in enumerate(zip(replies, want)):
            check(reply, w, "round %d connection %d reply %d" % (rnd, i, k))
        # Then the daemon closes it (with unread bytes left, as a reset).
        while True:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            rest += data
        if rest:
            print("FAIL round %d connection %d: unexpected bytes after the replies: %r" % (rnd, i, rest[:100]))
            sys.exit(1)
        s.close()
print("ok")
PY
) || fail "pipelined calls on many connections: $out"
[ "$out" = ok ] || fail "pipelined calls on many connections: $out"
ok "pipelined calls on many connections are all answered, in order"

# Long-lived connections making only refreshes, side by side, then one
# call of another kind on each: answered in order after the refreshes.
out=$("$STITCH_PYTHON" - "$STITCH_SOCKET" "$RT" "$AT" <<'PY' 2>&1
import json, socket, sys, threading
path, rt, at = sys.argv[1:4]
refresh = json.dumps({"method": "io.stitch.Token.Refresh", "parameters": {"refresh_token": rt}}).encode() + b"\0"
verify = json.dumps({"method": "io.stitch.Token.Verify", "parameters": {"access_token": at}}).encode() + b"\0"
errors = []

def one():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(30)
    buf = b""
    def reply():
        nonlocal buf
        while b"\0" not in buf:
            data = s.recv(65536)
            if not data:
                raise RuntimeError("closed")
            buf += data
        m, buf = buf.split(b"\0", 1)
        return json.loads(m)
    try:
        for _ in range(300):
            s.sendall(refresh)
            if "access_token" not in reply()["parameters"]:
                raise RuntimeError("refresh failed")
        s.sendall(verify + refresh)
        if "claims" not in reply()["parameters"] or "access_token" not in reply()["parameters"]:
            raise RuntimeError("verify then refresh out of order")
    except Exception as e:
        errors.append(repr(e))
    s.close()

threads = [threading.Thread(target=one) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("ok" if not errors else "FAIL " + "; ".join(errors))
PY
)
[ "$out" = ok ] || fail "concurrent refreshes: $out"
ok "concurrent refreshes on 8 connections, then another call on each"

# Still serving, and stops cleanly.
sctl call io.stitch.Token.Verify "$(jq -cn --arg t "$AT" '{access_token:$t}')" >/dev/null || fail "no longer serving"
pid=$STITCHD_PID
stitch_stop
wait "$pid" 2>/dev/null
ok "still serving afterwards"
