#!/bin/bash
# Finding R2 (docs/security.md): [Http] Timeout= was libmicrohttpd's idle
# timeout, and a request's clock only started once its headers were in: a
# client sending one header line a second held its connection for ever, and
# MaxConnections= such connections (from a few addresses) shut everyone else
# out. Now Timeout= bounds each request from the moment its connection is
# ready for it to its last byte, and when MaxConnections= are open a new
# connection evicts the oldest incomplete request.
#
# A real stitchd on a free port; the attacker's connections come from
# 127.0.0.2..9 (all of 127/8 is loopback), the honest client from 127.0.0.1.
. "$TESTS_LIB"
. "$top_srcdir/tests/http/http-lib.sh"
command -v curl >/dev/null || skip "curl is not installed"
LOC=/api/client/v2.0/app/stitch/location

# trickle.py PORT N WARMUP SECONDS: N connections from 127.0.0.2..9. With
# WARMUP=1 each first completes one request (so it is surely accepted), then
# all start a request and send one more header line every 0.25 s. Prints
# "ready" once all hold a slot, then, after SECONDS or when all were closed
# by the server, "closed K of N, last after T s".
cat >"$T/trickle.py" <<'PY'
import socket, sys, time, select
port, n, warmup, secs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", float(sys.argv[4])
loc = b"GET /api/client/v2.0/app/stitch/location HTTP/1.1\r\nHost: x\r\n"
conns = []
for i in range(n):
    s = socket.socket()
    s.bind(("127.0.0.%d" % (2 + i % 8), 0))
    s.connect(("127.0.0.1", port))
    if warmup:
        s.sendall(loc + b"\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf or not buf.rstrip().endswith(b"}"):
            d = s.recv(4096)
            if not d:
                sys.exit("warm-up request %d got no answer" % i)
            buf += d
    conns.append(s)
start = time.monotonic()
for s in conns:
    s.sendall(loc)
print("ready", flush=True)
closed = {}
while time.monotonic() - start < secs and len(closed) < n:
    for i, s in enumerate(conns):
        if i in closed:
            continue
        try:
            r, _, _ = select.select([s], [], [], 0)
            if r and not s.recv(4096):
                raise OSError("eof")
            s.sendall(b"X-Slow: %d\r\n" % i)
        except OSError:
            closed[i] = time.monotonic() - start
    time.sleep(0.25)  # the attack's pace: one header line per connection per 0.25 s
last = max(closed.values()) if closed else 0
print("closed %d of %d, last after %.1f s" % (len(closed), n, last), flush=True)
PY

# trickle NAME N WARMUP SECONDS: trickle.py against this daemon, in the
# background (its output in $T/NAME.out, its pid in TRICKLE); returns once
# all its connections hold a slot.
trickle() {
        local out=$T/$1.out
        python3 "$T/trickle.py" "$PORT" "$2" "$3" "$4" >"$out" 2>&1 &
        TRICKLE=$!
        for _ in $(seq 100); do grep -q ready "$out" && break; read -r -t 0.1 <> <(:) || true; done
        grep -q ready "$out" || fail "the trickling client did not start: $(cat "$out")"
}

# ---- the deadline: trickled requests are closed after Timeout= ----------------------------
http_start <<EOF
Timeout=2s
MaxConnections=64
MaxConnectionsPerAddress=64
EOF
trickle deadline 16 0 8
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$LOC")
[ "$code" = 200 ] || fail "an honest client during the attack got HTTP $code"
wait "$TRICKLE"
result=$(grep closed "$T/deadline.out")
case $result in
"closed 16 of 16, last after "[0-3].*) ;;
*) fail "trickled requests outlived Timeout=2s: $result" ;;
esac
stitch_stop
ok "requests trickled one header line at a time are closed at Timeout=2s ($result)"

# ---- eviction: a full server still answers a new client ---------------------------------------
http_start <<EOF
Timeout=30s
MaxConnections=16
MaxConnectionsPerAddress=16
EOF
trickle evict 16 1 10
# Every slot is held by a request that is still being trickled; Timeout=30s
# is far away. The honest client must be answered now, not in 30 s.
code=$(curl -s -m 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$LOC")
[ "$code" = 200 ] || fail "with MaxConnections= held by trickled requests, a new client got HTTP $code"
grep -q "closing a connection from 127.0.0.2: the oldest incomplete request" "$STITCHD_LOG" \
        || fail "no eviction of the oldest connection in the log"
kill "$TRICKLE" 2>/dev/null; wait "$TRICKLE" 2>/dev/null
stitch_stop
ok "with MaxConnections= held by trickled requests a new client is answered (the oldest is evicted)"
