# SPDX-License-Identifier: LGPL-2.1-or-later
# A real HTTPS JWK Set server for custom-token's JWKSURL= tests: a test CA
# and a server certificate for 127.0.0.1 made with the openssl CLI, RSA
# signing keys k1..k3, tokens signed by the openssl CLI, and
# tests/helpers/jwks-server.py serving $T/jwks. Source it after tests/lib.sh:
#   . "$top_srcdir/tests/http/jwks-lib.sh"
# then, from $T: jwks_up (serves jwks/keys.json, set to k1's key here, on
# $JWKS_PORT), mint k1.key k1 SUB, set_of k1 k2 >jwks/keys.json, jwks_stop.
command -v jq >/dev/null || skip "jq is not installed"
command -v openssl >/dev/null || skip "openssl is not installed"
python3 -c 'import ssl, http.server' 2>/dev/null || skip "python3 without ssl"

(
cd "$T" || exit 1
# ---- a CA, a server certificate for 127.0.0.1, three signing keys --------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=stitch test CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null \
        || fail "cannot make the test CA"
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
        -extfile server.ext 2>/dev/null || fail "cannot make the server certificate"
for k in k1 k2 k3; do
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $k.key 2>/dev/null || fail "no RSA key"
done
) || exit 1

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
# jwk KEY KID: the public key as a JWK (modulus from the openssl CLI)
jwk() {
        local n
        n=$(openssl rsa -in "$1" -modulus -noout 2>/dev/null | cut -d= -f2 | xxd -r -p | b64url)
        jq -cn --arg n "$n" --arg kid "$2" '{kty: "RSA", kid: $kid, use: "sig", alg: "RS256", n: $n, e: "AQAB"}'
}
command -v xxd >/dev/null || skip "xxd is not installed"
# mint KEY KID SUB: an RS256 token for the app "stitch", signed by the openssl CLI
mint() {
        local h p s now
        now=$(date +%s)
        h=$(jq -cn --arg kid "$2" '{alg: "RS256", typ: "JWT", kid: $kid}' | b64url)
        p=$(jq -cn --arg sub "$3" --argjson now "$now" '{sub: $sub, aud: "stitch", iat: $now, exp: ($now + 600)}' | b64url)
        s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$1" -binary | b64url)
        printf '%s.%s.%s' "$h" "$p" "$s"
}
set_of() { local k; { for k in "$@"; do jwk "$k.key" "$k"; done; } | jq -cs '{keys: .}'; }

(cd "$T" && mkdir -p jwks && set_of k1 >jwks/keys.json) || fail "cannot write the first JWK Set"
JWKS_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
JWKS_JOB=
jwks_up() {
        coproc JWKS { exec python3 "$top_srcdir/tests/helpers/jwks-server.py" --dir "$T/jwks" --cert "$T/server.pem" \
                --key "$T/server.key" --port "$JWKS_PORT" 2>>"$T/jwks.log"; }
        JWKS_JOB=$JWKS_PID
        read -r -t 20 _ <&"${JWKS[0]}" || fail "the JWKS server did not start: $(tail -n 5 "$T/jwks.log")"
}
jwks_stop() { [ -n "$JWKS_JOB" ] && kill "$JWKS_JOB" 2>/dev/null; JWKS_JOB=; }
