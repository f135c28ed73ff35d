# SPDX-License-Identifier: LGPL-2.1-or-later
# A stand-in Graph API for oauth2-facebook's tests: a test CA and a server
# certificate for 127.0.0.1 made with the openssl CLI, the app's secret and
# client token files, and tests/helpers/fake-facebook.py serving $T/fb on
# $FB_PORT. Source it after tests/lib.sh; then fb_up / fb_stop,
# fb_token TOKEN ID EMAIL [APP_ID] [TYPE] [IS_VALID] [EXPIRES_AT] adds a
# user's token to $T/fb/tokens.json, fb_config prints the provider's
# section (extra keys on stdin) and [Network] for the stand-in.
command -v jq >/dev/null || skip "jq is not installed"
command -v openssl >/dev/null || skip "openssl is not installed"
python3 -c 'import ssl, http.server' 2>/dev/null || skip "python3 without ssl"

FB_APP_ID=1234567890123456
FB_APP_SECRET=0f1e2d3c4b5a69788796a5b4c3d2e1f0
FB_CLIENT_TOKEN=c0ffee00c0ffee00c0ffee00c0ffee00
(
cd "$T" || exit 1
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=stitch test CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null \
        || fail "cannot make the test CA"
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
        -extfile server.ext 2>/dev/null || fail "cannot make the server certificate"
mkdir -p fb && echo '{}' >fb/tokens.json
printf '%s\n' "$FB_APP_SECRET" >fb-secret && chmod 0600 fb-secret
printf '%s\n' "$FB_CLIENT_TOKEN" >fb-client-token && chmod 0600 fb-client-token
) || exit 1

FB_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
FB_URL=https://127.0.0.1:$FB_PORT
FB_JOB=
# fb_up [ARGS for fake-facebook.py]
fb_up() {
        coproc FB { exec python3 "$top_srcdir/tests/helpers/fake-facebook.py" --dir "$T/fb" --cert "$T/server.pem" \
                --key "$T/server.key" --port "$FB_PORT" --app-id "$FB_APP_ID" --app-secret "$FB_APP_SECRET" \
                --client-token "$FB_CLIENT_TOKEN" --require-appsecret-proof "$@" 2>>"$T/fb.log"; }
        FB_JOB=$FB_PID
        read -r -t 20 _ <&"${FB[0]}" || fail "the stand-in Graph API did not start: $(tail -n 5 "$T/fb.log")"
}
fb_stop() { [ -n "$FB_JOB" ] && kill "$FB_JOB" 2>/dev/null && wait "$FB_JOB" 2>/dev/null; FB_JOB=; }
fb_token() {
        local f=$T/fb/tokens.json
        jq --arg t "$1" --arg id "$2" --arg email "$3" --arg app "${4:-$FB_APP_ID}" --arg type "${5:-USER}" \
                --argjson valid "${6:-true}" --argjson exp "${7:-0}" \
                '.[$t] = {app_id: $app, type: $type, is_valid: $valid, expires_at: $exp,
                          user: ({id: $id, name: "Test User \($id)", first_name: "Test", last_name: "User \($id)"}
                                 + (if $email == "" then {} else {email: $email} end))}' "$f" >"$f.new" \
                && mv "$f.new" "$f"
}
# fb_control WHAT QUERY [METHOD]: the stand-in's test hand; prints its answer
fb_control() { curl -s --cacert "$T/ca.pem" -X "${3:-POST}" "$FB_URL/_control/$1?$2"; }
fb_requests() { cat "$T/fb/requests" 2>/dev/null | grep -c -- "${1:-.}"; }
fb_config() {
        cat <<X
[Provider.oauth2-facebook]
Enabled=yes
ClientID=$FB_APP_ID
ClientSecretFile=$T/fb-secret
ClientTokenFile=$T/fb-client-token
GraphURL=$FB_URL/v19.0
$([ -t 0 ] || cat)
[Network]
CAFile=$T/ca.pem
X
}
