# SPDX-License-Identifier: LGPL-2.1-or-later
# A stand-in Google (tests/helpers/fake-google.py) over real HTTPS: a test
# CA and a certificate for 127.0.0.1 made with the openssl CLI, a web
# client and a "TVs and Limited Input devices" client with their secrets.
# Source it after tests/lib.sh:
#   . "$top_srcdir/tests/http/google-lib.sh"
# then google_up [--interval N] [--expires-in N]; google_conf prints the
# [Provider.oauth2-google] and [Network] lines for it (more keys on stdin);
# gctl PATH asks its control endpoint (JSON on stdout).
command -v jq >/dev/null || skip "jq is not installed"
command -v openssl >/dev/null || skip "openssl is not installed"
command -v curl >/dev/null || skip "curl is not installed"
python3 -c 'import ssl, http.server, cryptography' 2>/dev/null || skip "python3 without ssl or cryptography"

WEB_CLIENT=web-client-1.apps.googleusercontent.com
WEB_SECRET=GOCSPX-web-secret-0123456789
TV_CLIENT=tv-client-1.apps.googleusercontent.com
TV_SECRET=GOCSPX-tv-secret-9876543210
(
cd "$T" || exit 1
openssl req -x509 -newkey rsa:2048 -nodes -keyout gca.key -out gca.pem -days 2 -subj "/CN=stitch test CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null \
        || fail "cannot make the test CA"
openssl req -newkey rsa:2048 -nodes -keyout gserver.key -out gserver.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >gserver.ext
openssl x509 -req -in gserver.csr -CA gca.pem -CAkey gca.key -CAcreateserial -out gserver.pem -days 2 \
        -extfile gserver.ext 2>/dev/null || fail "cannot make the server certificate"
jq -n --arg w "$WEB_CLIENT" --arg ws "$WEB_SECRET" --arg t "$TV_CLIENT" --arg ts "$TV_SECRET" \
        '{web: {($w): $ws}, device: {($t): $ts}}' >gclients.json
printf '%s\n' "$WEB_SECRET" >web.secret
printf '%s\n' "$TV_SECRET" >tv.secret
chmod 0600 web.secret tv.secret
mkdir -p google
) || exit 1

GOOGLE_PORT=
GOOGLE_JOB=
google_up() {
        coproc GOOGLE { exec python3 "$top_srcdir/tests/helpers/fake-google.py" --cert "$T/gserver.pem" \
                --key "$T/gserver.key" --clients "$T/gclients.json" --dir "$T/google" "$@" 2>>"$T/google.log"; }
        GOOGLE_JOB=$GOOGLE_PID
        read -r -t 30 GOOGLE_PORT <&"${GOOGLE[0]}" || fail "the fake Google did not start: $(tail -n 5 "$T/google.log")"
        GOOGLE=https://127.0.0.1:$GOOGLE_PORT
}
google_stop() { [ -n "$GOOGLE_JOB" ] && kill "$GOOGLE_JOB" 2>/dev/null; GOOGLE_JOB=; }
gctl() { curl -sf --cacert "$T/gca.pem" "$GOOGLE/control/$1"; }

# The provider's section pointing at the fake Google; extra keys on stdin.
google_conf() {
        cat <<X
[Provider.oauth2-google]
Enabled=yes
ClientID=$WEB_CLIENT other-web-client.apps.googleusercontent.com
ClientSecretFile=$T/web.secret
DeviceClientID=$TV_CLIENT
DeviceClientSecretFile=$T/tv.secret
DeviceAuthorizationURL=$GOOGLE/device/code
TokenURL=$GOOGLE/token
JWKSURL=$GOOGLE/certs
X
        [ -t 0 ] || cat
        cat <<X
[Network]
CAFile=$T/gca.pem
Timeout=${GOOGLE_TIMEOUT:-5s}
X
}
