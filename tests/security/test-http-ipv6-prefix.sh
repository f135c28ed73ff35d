#!/bin/bash
# Finding R4 (docs/security.md): per-address limits keyed on the whole
# address. One IPv6 client owns a /64 at least, so it had 2^64 budgets:
# 20 failed logins with MaxFailures=3 and 40 anonymous users with
# CallerLoginsPerMinute=5, never a 429. Every per-address limit now counts
# per prefix ([Http] AddressPrefixIPv6=64, AddressPrefixIPv4=32; an
# IPv4-mapped address is IPv4), MaxConnectionsPerAddress= included.
#
# ::1 is one address, so the client addresses come through X-Forwarded-For
# from a trusted proxy (curl on 127.0.0.1); the connection cap is checked
# with real IPv4 source addresses of 127.0.1.0/24 and AddressPrefixIPv4=24.
. "$TESTS_LIB"
. "$top_srcdir/tests/http/http-lib.sh"
command -v curl >/dev/null || skip "curl is not installed"

# A stitchd from before the fix does not know AddressPrefixIPv4=: run
# without it, so that the test shows the old hole.
stitch_config <<<$'[Http]\nListen=127.0.0.1:1\nAddressPrefixIPv4=32'
if "$STITCHD" --check-config --config "$STITCHD_CONF" 2>&1 | grep -q "Unknown key 'AddressPrefix"; then
        echo "# stitchd without AddressPrefixIPv4=/IPv6= (before the fix)"
        start_with() { local conf; conf=$(grep -v '^AddressPrefix'); http_start <<<"$conf"; }
else
        start_with() { http_start; }
fi

start_with <<EOF
TrustedProxies=127.0.0.1
[Provider.anon-user]
Enabled=yes
[Limits]
MaxFailures=3
CallerLoginsPerMinute=5
EOF
APP=http://127.0.0.1:$PORT/api/client/v2.0/app/stitch/auth/providers
# login PROVIDER CLIENT BODY: prints the HTTP status.
login() {
        curl -s -o /dev/null -w '%{http_code}' -H "X-Forwarded-For: $2" -d "$3" "$APP/$1/login"
}

# ---- failed logins: one budget per /64 -----------------------------------------------------
# wrong_password I CLIENT USER WHY: the I-th failed login in a row of one
# budget, from CLIENT as USER. MaxFailures= attempts pass, the next locks
# for 1 s, the ones after are refused; WHY: what an unlimited 5th means.
wrong_password() {
        local code
        code=$(login local-userpass "$2" "{\"username\":\"$3\",\"password\":\"wrong-password\"}")
        if [ "$1" -le 4 ]; then
                [ "$code" = 401 ] || fail "failed login $1 from $2: HTTP $code"
        else
                [ "$code" = 429 ] || fail "$4: HTTP $code"
        fi
}
for i in 1 2 3 4 5 6 7 8; do
        wrong_password "$i" "2001:db8:1:2::$i" "n$i@example.com" \
                "failed login $i from another address of 2001:db8:1:2::/64 (not limited)"
done
code=$(login local-userpass "2001:db8:1:3::1" '{"username":"m@example.com","password":"wrong-password"}')
[ "$code" = 401 ] || fail "a failed login from another /64 was limited too: HTTP $code"
# An IPv4-mapped address is its IPv4 address.
for i in 1 2 3 4 5; do
        if [ $((i % 2)) = 0 ]; then client=192.0.2.1; else client=::ffff:192.0.2.1; fi
        wrong_password "$i" "$client" "v$i@example.com" "192.0.2.1 and ::ffff:192.0.2.1 have two budgets"
done
ok "failed app logins are limited per IPv6 /64 (MaxFailures=), IPv4-mapped counted as IPv4"

# ---- anonymous logins: CallerLoginsPerMinute= per /64 ------------------------------------------
for i in 1 2 3 4 5; do
        code=$(login anon-user "2001:db8:5:6::a$i" '{}')
        [ "$code" = 200 ] || fail "anonymous login $i: HTTP $code"
done
code=$(login anon-user "2001:db8:5:6:ffff:ffff:ffff:ffff" '{}')
[ "$code" = 429 ] || fail "a 6th anonymous login from 2001:db8:5:6::/64 in a minute: HTTP $code (not limited)"
code=$(login anon-user "2001:db8:5:7::1" '{}')
[ "$code" = 200 ] || fail "an anonymous login from another /64: HTTP $code"
stitch_stop
ok "anonymous app logins are limited per IPv6 /64 (CallerLoginsPerMinute=)"

# ---- MaxConnectionsPerAddress= per prefix -------------------------------------------------------
start_with <<EOF
AddressPrefixIPv4=24
MaxConnectionsPerAddress=4
EOF
# Four connections from four addresses of 127.0.1.0/24, each proven
# accepted by a full request; a fifth address of the same /24 must be
# closed without an answer, while 127.0.0.1 (another /24) is served.
python3 - "$PORT" >"$T/cap.out" 2>&1 <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
req = b"GET /api/client/v2.0/app/stitch/location HTTP/1.1\r\nHost: x\r\n\r\n"
def connect(last):
    s = socket.socket(); s.bind(("127.0.1.%d" % last, 0)); s.connect(("127.0.0.1", port)); s.settimeout(5)
    return s
def ask(s):
    try:
        s.sendall(req)
        return s.recv(4096).split(b"\r\n")[0].decode() or "closed"
    except OSError as e:
        return "closed"
held = [connect(i) for i in range(2, 6)]
print("held:", [ask(s) for s in held], flush=True)
print("fifth:", ask(connect(6)), flush=True)
time.sleep(3)  # keep the four open while the shell checks another /24
PY
CAP=$!
for _ in $(seq 100); do grep -q fifth "$T/cap.out" && break; read -r -t 0.1 <> <(:) || true; done
grep -q "held: \['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK', 'HTTP/1.1 200 OK', 'HTTP/1.1 200 OK'\]" "$T/cap.out" \
        || fail "four connections of one /24 were not all served: $(cat "$T/cap.out")"
grep -q "fifth: closed" "$T/cap.out" || fail "a fifth connection from the same /24 was served: $(cat "$T/cap.out")"
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/client/v2.0/app/stitch/location")
[ "$code" = 200 ] || fail "a client of another /24 got HTTP $code"
kill "$CAP" 2>/dev/null; wait "$CAP" 2>/dev/null
stitch_stop
ok "MaxConnectionsPerAddress= counts per prefix (AddressPrefixIPv4=24)"
