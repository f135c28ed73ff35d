#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The official realm-web SDK (npm realm-web@2.0.1, run by node) logs in
# against stitchd's HTTP API unchanged: email/password, refresh, API keys,
# anonymous login and linking, logout, revocation, deleteUser, profile,
# Credentials.jwt (custom-token), Credentials.google({idToken}) and
# ({authCode}) against the stand-in Google, Credentials.facebook against the
# stand-in Graph API
# (tests/http/realm-web-client.js does the checks, one line each).
. "${TESTS_LIB:?run through make check}" || exit 99
. "$top_srcdir/tests/http/http-lib.sh"
command -v node >/dev/null || skip "node is not installed (Debian: apt-get install nodejs)"
command -v npm >/dev/null || skip "npm is not installed (Debian: apt-get install npm)"
command -v jq >/dev/null || skip "jq is not installed"
CLIENT=$top_srcdir/tests/http/realm-web-client.js
[ -f "$CLIENT" ] || fail "$CLIENT is missing"

# The SDK, from the npm registry, into this test's temp dir (a failed
# install is a failure: CI reaches the registry).
mkdir -p "$T/npm"
printf '{"name": "stitch-realm-web-test", "private": true}\n' >"$T/npm/package.json"
if ! (cd "$T/npm" && timeout 300 npm install --no-audit --no-fund --no-save --loglevel=error realm-web@2.0.1) >"$T/npm.log" 2>&1; then
        cat "$T/npm.log" >&2
        fail "npm install realm-web@2.0.1 failed"
fi
REALM_WEB_MODULE=$T/npm/node_modules/realm-web
[ -f "$REALM_WEB_MODULE/package.json" ] || fail "realm-web is not where npm was to put it"
expect_eq "realm-web version" 2.0.1 "$(jq -r .version "$REALM_WEB_MODULE/package.json")"

JWT_SECRET='realm-web-custom-token-secret-0123456789abcdef'
printf '%s' "$JWT_SECRET" >"$T/jwt.secret"
chmod 0600 "$T/jwt.secret"
JWT_TOKEN=$(stitch_jwt_hs256 realm-web-jwt '{"name":"Jay"}' 600 '"stitch"' "$JWT_SECRET")
JWT_FORGED=$(stitch_jwt_hs256 realm-web-jwt '{"name":"Jay"}' 600 '"stitch"' 'not-the-secret-0123456789abcdefghijkl')

# The stand-in Google and Graph API, each with its own test CA: the daemon
# trusts both (one bundle).
. "$top_srcdir/tests/http/google-lib.sh"
. "$top_srcdir/tests/http/facebook-lib.sh"
trap 'google_stop; fb_stop; stitch_cleanup' EXIT
google_up
fb_up
cat "$T/gca.pem" "$T/ca.pem" >"$T/idp-cas.pem"
GOOGLE_ID_TOKEN=$(gctl "mint?sub=104242424242424242424&email=grace@example.com&name=Grace%20H&aud=$WEB_CLIENT" | jq -r .id_token)
[ -n "$GOOGLE_ID_TOKEN" ] && [ "$GOOGLE_ID_TOKEN" != null ] || fail "the fake Google minted no token"
gctl "auth_code?code=4/0Realm-web-code&sub=104242424242424242424&email=grace@example.com" >/dev/null \
        || fail "the fake Google took no auth code"
FB_TOKEN=EAArealmweb0001
fb_token "$FB_TOKEN" 10042 linus@example.com

http_start <<X
[Provider.anon-user]
Enabled=yes
UnixUser=guest
Services=login
[Provider.custom-token]
Enabled=yes
SigningKeyFile=$T/jwt.secret
MetadataFields=name
$(google_conf <<<"CreateUsers=yes")
$(fb_config <<<"CreateUsers=yes")
[Network]
CAFile=$T/idp-cas.pem
X

ADA_PW='Ada-Realm-pw-51'; CAROL_PW='Carol-Realm-pw-52'
printf '%s' "$ADA_PW" | sctl user add --email ada@example.com --unix-name ada --name 'Ada L' --password-stdin >/dev/null \
        || fail "could not create ada"
stitch_user carol@example.com carol "$CAROL_PW"
ADA=$(sctl user show ada@example.com --json | jq -r .user.id)
CAROL=$(sctl user show carol@example.com --json | jq -r .user.id)

rc=0
env REALM_WEB_MODULE="$REALM_WEB_MODULE" STITCH_URL="$URL" STITCH_APP_ID=stitch STITCHCTL="$STITCHCTL" \
        ADA_EMAIL=ada@example.com ADA_PASSWORD="$ADA_PW" ADA_ID="$ADA" \
        CAROL_EMAIL=carol@example.com CAROL_PASSWORD="$CAROL_PW" CAROL_ID="$CAROL" \
        JWT_TOKEN="$JWT_TOKEN" JWT_FORGED="$JWT_FORGED" \
        GOOGLE_ID_TOKEN="$GOOGLE_ID_TOKEN" GOOGLE_AUTH_CODE=4/0Realm-web-code FB_TOKEN="$FB_TOKEN" \
        timeout 120 node "$CLIENT" >"$T/node.out" 2>"$T/node.err" || rc=$?

while IFS= read -r line; do
        case $line in
        "ok "*) ok "realm-web: ${line#ok }" ;;
        "not ok "*) echo "not ok - realm-web: ${line#not ok }" >&2 ;;
        *) echo "$line" ;;
        esac
done <"$T/node.out"
[ -s "$T/node.err" ] && { echo "--- node stderr:" >&2; grep -v ExperimentalWarning "$T/node.err" | head -n 40 >&2; }
[ "$rc" = 124 ] && fail "the realm-web client timed out after 120 s"
n=$(grep -c '^ok ' "$T/node.out")
bad=$(grep -c '^not ok ' "$T/node.out")
[ "$rc" = 0 ] && [ "$bad" = 0 ] || fail "realm-web client: $bad checks failed (exit $rc)"
[ "$n" -ge 20 ] || fail "realm-web client ran only $n checks"

# The SDK never made the daemon log a secret.
for s in "$ADA_PW" "$CAROL_PW" "$JWT_TOKEN" "$JWT_SECRET" "$GOOGLE_ID_TOKEN" "$FB_TOKEN" "$FB_APP_SECRET"; do
        grep -qF -- "$s" "$STITCHD_LOG" && fail "the stitchd log contains a password"
done
ok "realm-web 2.0.1 works against stitchd ($n checks)"

# ---- the email/password lifecycle through realm-web -----------------------------------
# registerUser, confirmUser, resendConfirmationEmail, sendResetPasswordEmail,
# resetPassword and callResetPasswordFunction, with a real SMTP server
# (aiosmtpd) delivering the links and a ResetCommand= that checks the
# client's argument.
stitch_stop
smtp_sink_start stitch_cleanup
cat > "$T/reset-cmd" <<'X'
#!/bin/sh
# ResetCommand: success only when the client's argument is "let-me-in".
case $(cat) in *'"arguments":["let-me-in"]'*) echo '{"status":"success"}' ;; *) echo '{"status":"fail"}' ;; esac
X
chmod 0755 "$T/reset-cmd"
http_start <<X
[Provider.anon-user]
Enabled=yes
[Provider.local-userpass]
Registration=yes
ResetCommand=$T/reset-cmd
[Smtp]
URL=smtp://127.0.0.1:$SINK_PORT
From=noreply@example.com
X
rc=0
env REALM_WEB_MODULE="$REALM_WEB_MODULE" STITCH_URL="$URL" STITCH_APP_ID=stitch MAIL_DIR="$T/mail" \
        timeout 120 node "$top_srcdir/tests/http/realm-web-userpass.js" >"$T/node2.out" 2>"$T/node2.err" || rc=$?
while IFS= read -r line; do
        case $line in
        "ok "*) ok "realm-web: ${line#ok }" ;;
        "not ok "*) echo "not ok - realm-web: ${line#not ok }" >&2 ;;
        *) echo "$line" ;;
        esac
done <"$T/node2.out"
[ -s "$T/node2.err" ] && { echo "--- node stderr:" >&2; grep -v ExperimentalWarning "$T/node2.err" | head -n 40 >&2; }
[ "$rc" = 0 ] && ! grep -q '^not ok ' "$T/node2.out" || fail "realm-web email/password functions failed (exit $rc)"
ok "realm-web's email/password functions work against stitchd ($(grep -c '^ok ' "$T/node2.out") checks)"
