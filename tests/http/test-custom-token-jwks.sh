#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# custom-token with JWKSURL= against a real HTTPS JWKS server
# (tests/helpers/jwks-server.py, a test CA and server certificate made here
# with the openssl CLI, [Network] CAFile=): RS256 tokens signed with the
# openssl CLI log in over HTTP; a rotated set is refetched for its new kid,
# an unknown kid within the minute is refused without another fetch; the
# daemon starts while the server is down and logs in once it is up; an
# untrusted certificate, an oversized set (with or without a length), a
# redirect, a 404, a timeout and plain http without the test switch are
# refused; a slow server delays no password login; stitchctl user link
# (varlink, the network pool) fetches the set too; no token in the
# daemon's log.
. "${TESTS_LIB:?run through make check}" || exit 99
. "$top_srcdir/tests/http/http-lib.sh"
command -v curl >/dev/null || skip "curl is not installed"
. "$top_srcdir/tests/http/jwks-lib.sh"
cd "$T"
trap '[ -n "$JWKS_JOB" ] && kill $JWKS_JOB 2>/dev/null; stitch_cleanup' EXIT
requests() { cat "$T/jwks/requests" 2>/dev/null | grep -c "${1:-.}"; }

LOGIN=$APP/auth/providers/custom-token/login
login() { http POST "$LOGIN" "" "$(jq -cn --arg t "$1" '{token: $t, options: {device: {}}}')"; }
refused() { [ "$STATUS" = 401 ] && jq -e '.error_code == "AuthError"' <<<"$BODY" >/dev/null; }
# No keys to be had (the issuer down or unusable): not the token's fault, and no failed attempt.
unavailable() { [ "$STATUS" = 503 ] && jq -e '.error_code == "ServiceUnavailable"' <<<"$BODY" >/dev/null; }
logged() { grep -qF -- "$1" "$STITCHD_LOG"; }
# daemon PATH [NO-CA] [TIMEOUT]: restarts stitchd with JWKSURL= at that path of the server
daemon() {
        stitch_stop
        http_start <<X
[Provider.custom-token]
Enabled=yes
SigningAlgorithm=RS256
JWKSURL=https://127.0.0.1:$JWKS_PORT/$1
[Network]
Timeout=${3:-10s}
${2:+#}CAFile=$T/ca.pem
[Limits]
MaxFailures=1000
X
}

# ---- plain http needs the test switch ------------------------------------------
stitch_config <<X
[Provider.custom-token]
Enabled=yes
SigningAlgorithm=RS256
JWKSURL=http://127.0.0.1:$JWKS_PORT/keys.json
X
out=$("$STITCHD" --check-config --config "$STITCHD_CONF" 2>&1) && bad "a plain http JWKSURL= passed the config check"
check "plain http:// without AllowInsecureLoopback=yes is a config error" grep -q "AllowInsecureLoopback=yes" <<<"$out"

# ---- the server is down when the daemon starts ----------------------------------
T1=$(mint k1.key k1 alice)
daemon keys.json
check "the daemon starts while the JWKS server is down (nothing fetched at start)" test -n "$STITCHD_PID"
login "$T1"
check "a login while the server is down is unavailable (503), not refused" unavailable
check "the log says the fetch failed and from where" logged "JWKS fetch from 127.0.0.1 failed: cannot connect"
jwks_up
login "$T1"
check "once the server is up the token logs in (200)" test "$STATUS" = 200
check "one request so far" test "$(requests)" = 1
login "$T1"
check "the cached set serves the next login (no request)" test "$(requests)" = 1

# ---- rotation: a new set with a new kid ----------------------------------------
set_of k2 >jwks/keys.json
T2=$(mint k2.key k2 alice)
login "$T2"
check "a token with the rotated key's kid logs in (refetch for an unknown kid)" test "$STATUS" = 200
check "that took one more request" test "$(requests)" = 2
set_of k2 k3 >jwks/keys.json
T3=$(mint k3.key k3 alice)
login "$T3"
check "another unknown kid within the minute is refused" refused
check "... without another request" test "$(requests)" = 2
login "$T2"
check "the current kid still logs in" test "$STATUS" = 200

# ---- a set over 64 KiB ------------------------------------------------------------
python3 -c 'import json; print(json.dumps({"keys": [], "pad": "x" * 70000}))' >jwks/big.json
daemon big.json
login "$T2"
check "a response over 64 KiB gives no keys (503)" unavailable
check "the log says it was too large" logged "JWKS fetch from 127.0.0.1 failed: response too large"

cp jwks/big.json jwks/stream.json; touch jwks/stream.json.nolength
daemon stream.json
login "$T2"
check "over 64 KiB without a Content-Length too (cut off while receiving)" unavailable
check "... logged as too large" logged "JWKS fetch from 127.0.0.1 failed: response too large"

# ---- no redirects, only 200, a timeout ------------------------------------------
printf 'https://127.0.0.1:%s/keys.json\n' "$JWKS_PORT" >jwks/moved.json.redirect
daemon moved.json
login "$T2"
check "a redirect is not followed (503)" unavailable
check "... logged with its status" logged "JWKS fetch from 127.0.0.1 failed: HTTP status 302"
check "... and its target was not asked for" test "$(requests keys.json)" = 2
daemon missing.json
login "$T2"
check "a 404 is refused and logged" logged "JWKS fetch from 127.0.0.1 failed: HTTP status 404"
cp jwks/keys.json jwks/late.json; echo 3 >jwks/late.json.delay
daemon late.json "" 1s
start=$(date +%s%N)
login "$T2"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "a server slower than Timeout=1s gives no keys (503)" unavailable
check "... after about a second (took ${ms} ms)" test "$ms" -lt 2500
check "... logged as timed out" logged "JWKS fetch from 127.0.0.1 failed: timed out"
# ---- a server the daemon does not trust ----------------------------------------
daemon keys.json no-ca
login "$T2"
check "without CAFile= the test CA's server is not trusted (503)" unavailable
check "the log says TLS failed" logged "JWKS fetch from 127.0.0.1 failed: TLS failed"

# ---- a slow server delays no password login ------------------------------------
cp jwks/keys.json jwks/slow.json
echo 5 >jwks/slow.json.delay
daemon slow.json
PW='a-password-for-the-jwks-test-0123'
stitch_user bob@example.com bob "$PW"
before=$(requests slow)
curl -s -o "$T/slow.body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data-binary "$(jq -cn --arg t "$T2" '{token: $t}')" "$URL$LOGIN" >"$T/slow.status" &
SLOW=$!
for i in $(seq 1 100); do [ "$(requests slow)" -gt "$before" ] && break; sleep 0.05; done
start=$(date +%s%N)
http POST "$APP/auth/providers/local-userpass/login" "" \
        "$(jq -cn --arg p "$PW" '{username: "bob@example.com", password: $p}')"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "a password login succeeds while a JWKS fetch is pending" test "$STATUS" = 200
check "... in under 2 s (took ${ms} ms)" test "$ms" -lt 2000
check "the JWKS login was still pending then" kill -0 $SLOW
wait $SLOW
check "the slow JWKS login succeeds once the set arrives" test "$(cat "$T/slow.status")" = 200

# ---- over varlink: an admin links a token (the network pool fetches) ------------
daemon keys.json
sctl user add --unix-name carol --name Carol >/dev/null || fail "could not create carol"
before=$(requests keys.json)
T4=$(mint k2.key k2 carol-at-issuer)
printf '%s\n' "$T4" | sctl user link carol --provider custom-token >/dev/null
linked() { sctl user show carol --json | jq -e '[.user.identities[].provider_type] == ["custom-token"]' >/dev/null; }
check "stitchctl user link verifies a token against the fetched set" linked
check "... fetching it once" test "$(requests keys.json)" = $((before + 1))

# ---- no token in the log ------------------------------------------------------------
for t in "$T1" "$T2" "$T3" "$T4"; do
        ! grep -qF -- "${t##*.}" "$STITCHD_LOG" || bad "a token is in the daemon log"
        ! grep -qF -- "${t%%.*}.${t#*.}" "$STITCHD_LOG" || bad "a token is in the daemon log"
done
ok "no token in the daemon log"

stitch_stop
[ "$FAILED" = 0 ] || fail "$FAILED check(s) failed"
