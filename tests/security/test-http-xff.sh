#!/bin/bash
# Finding R3 (docs/security.md): only the first X-Forwarded-For line was
# read. A trusted proxy that appends a line of its own (HAProxy's option
# forwardfor) leaves the client's forged line first, so the client chose its
# own address: the per-address failure limit never triggered and the
# recorded client address was the forged one. Every line is now read, in
# order, and the joined list is walked from the right as before.
#
# A real stitchd with TrustedProxies=127.0.0.1 and MaxFailures=3; curl plays
# the proxy and sends the client's forged line first, then the proxy's line
# naming the real client (203.0.113.7).
. "$TESTS_LIB"
. "$top_srcdir/tests/http/http-lib.sh"
command -v curl >/dev/null || skip "curl is not installed"

http_start <<EOF
TrustedProxies=127.0.0.1
[Limits]
MaxFailures=3
EOF
LOGIN=$URL/api/client/v2.0/app/stitch/auth/providers/local-userpass/login

# One wrong password per made-up account (so that only the address limit
# can trigger), each with a fresh forged first line.
for i in 1 2 3 4 5 6; do
        code=$(curl -s -o "$T/b" -w '%{http_code}' -H "X-Forwarded-For: 198.51.100.$i" \
                -H "X-Forwarded-For: 203.0.113.7" -d "{\"username\":\"nobody$i@example.com\",\"password\":\"wrong-password\"}" "$LOGIN")
        # The limiter lets MaxFailures= attempts through, locks with the next
        # (1 s, doubling) and refuses during the lock.
        if [ "$i" -le 4 ]; then
                [ "$code" = 401 ] || fail "failed login $i: HTTP $code $(cat "$T/b")"
        else
                [ "$code" = 429 ] || fail "failed login $i from 203.0.113.7 with a forged first X-Forwarded-For line: HTTP $code (not limited)"
        fi
done
# The address recorded is the one the proxy saw, never the forged one.
grep -q "http: POST .*/login 401 .* 203.0.113.7$" "$STITCHD_LOG" || fail "the real client address was not recorded"
grep -q "198.51.100" "$STITCHD_LOG" && fail "a forged X-Forwarded-For address was recorded"
ok "a forged first X-Forwarded-For line neither picks the address nor escapes MaxFailures="

# Lines and commas are one list: a hop list split over lines is walked as
# a whole from the right, trusted proxies skipped.
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Forwarded-For: 198.51.100.9, 203.0.113.8" \
        -H "X-Forwarded-For: 127.0.0.1" -d '{"username":"x@example.com","password":"wrong-password"}' "$LOGIN")
[ "$code" = 401 ] || fail "a login via two trusted hops: HTTP $code"
grep -q "http: POST .*/login 401 .* 203.0.113.8$" "$STITCHD_LOG" || fail "a hop list over two lines was not walked as one"
# From an untrusted peer, X-Forwarded-For is ignored (as before).
code=$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 -H "X-Forwarded-For: 203.0.113.9" \
        -d '{"username":"y@example.com","password":"wrong-password"}' "$LOGIN")
[ "$code" = 401 ] || fail "a login from an untrusted peer: HTTP $code"
grep -q "http: POST .*/login 401 .* 127.0.0.2$" "$STITCHD_LOG" || fail "an untrusted peer's X-Forwarded-For was believed"
ok "X-Forwarded-For lines are joined in order; trusted hops skipped from the right; untrusted peers ignored"

# [Http] AccessLog=: by default only failures get a line (the 401s above);
# a request that succeeds gets one with AccessLog=all, none with no.
LOCATION=$BASE/app/stitch/location
http GET "$LOCATION"
[ "$STATUS" = 200 ] || fail "location: HTTP $STATUS"
grep -q "http: GET .*/location 200 " "$STITCHD_LOG" && fail "AccessLog=errors (the default) logged a 200"
stitch_stop
for mode in all no; do
        : > "$STITCHD_LOG"
        http_start <<X
AccessLog=$mode
X
        LOGIN=$URL/api/client/v2.0/app/stitch/auth/providers/local-userpass/login
        http GET "$LOCATION"
        [ "$STATUS" = 200 ] || fail "location with AccessLog=$mode: HTTP $STATUS"
        code=$(curl -s -o /dev/null -w '%{http_code}' -d '{"username":"z@example.com","password":"wrong-password"}' "$LOGIN")
        [ "$code" = 401 ] || fail "a failed login with AccessLog=$mode: HTTP $code"
        n=$(grep -c "http: \(GET\|POST\) " "$STITCHD_LOG")
        case $mode in
        all) [ "$n" -ge 2 ] || fail "AccessLog=all logged $n requests: $(grep 'http: ' "$STITCHD_LOG")" ;;
        no) [ "$n" = 0 ] || fail "AccessLog=no logged $n requests: $(grep 'http: ' "$STITCHD_LOG")" ;;
        esac
        stitch_stop
done
ok "AccessLog=: errors (default) logs failures only, all logs every request, no logs none"
