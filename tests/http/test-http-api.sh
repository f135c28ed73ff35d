#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Stitch/Realm HTTP client API (docs/http.md) against a real stitchd
# with [Http] on, with curl: every route and every error case, the exact
# Content-Type of JSON replies and the error body, sessions shared with
# stitchctl (service "http", rhost), revocation at once (logout, disable,
# session revoke, delete), API keys, identity linking, rate limiting with
# Retry-After, the access log without secrets, CORS, /metrics, AppId=,
# PublicURL= and X-Forwarded-For from trusted proxies.
#
# Each check reports "ok - WHAT" or "not ok - WHAT: why" and the test goes
# on (so one server bug does not hide the others); a missing prerequisite
# (a login that must work for the next checks) ends it at once. The test
# fails if any check failed. Nothing here depends on timing.
. "${TESTS_LIB:?run through make check}" || exit 99
. "$top_srcdir/tests/http/http-lib.sh"
command -v jq >/dev/null || skip "jq is not installed"
command -v curl >/dev/null || skip "curl is not installed"

SECRETS=$T/secrets          # every password, token and key sent or received: must never be logged
: >"$SECRETS"
secret() { local s; for s in "$@"; do [ -n "$s" ] && printf '%s\n' "$s" >>"$SECRETS"; done; }

# ---- reporting (bad: tests/http/http-lib.sh) ------------------------------------
GROUP= GROUP_FAILED=0
begin() { GROUP=$1; GROUP_FAILED=$FAILED; }
end() { if [ "$FAILED" = "$GROUP_FAILED" ]; then ok "$GROUP"; else echo "not ok - $GROUP" >&2; fi; }

# ---- requests ------------------------------------------------------------------
# req METHOD PATH [CURL ARGS...]: sets STATUS, CTYPE (the Content-Type, empty
# when there is none) and BODY; the headers are in $T/headers. Every reply
# with a body must be JSON with Content-Type: application/json exactly (pass
# NOJSON=1 for /metrics).
req() {
        local method=$1 path=$2 w
        shift 2
        rm -f "$T/body" "$T/headers"
        w=$(curl -s -g "${CURL_TLS[@]}" -o "$T/body" -D "$T/headers" -X "$method" -w '%{http_code} %{content_type}' "$@" "$URL$path")
        STATUS=${w%% *}
        CTYPE=${w#* }
        BODY=$(cat "$T/body" 2>/dev/null)
        LAST="$method $path"
        [ "$STATUS" != 000 ] || { bad "$LAST: no HTTP reply (curl: $w)"; return 1; }
        if [ -s "$T/body" ] && [ -z "${NOJSON:-}" ]; then
                [ "$CTYPE" = application/json ] || bad "$LAST: $STATUS reply with Content-Type '$CTYPE', expected exactly 'application/json'"
                jq -e . "$T/body" >/dev/null 2>&1 || bad "$LAST: $STATUS reply is not JSON: ${BODY:0:200}"
        fi
        return 0
}
# post PATH JSON [CURL ARGS...]
post() { local p=$1 j=$2; shift 2; req POST "$p" -H 'Content-Type: application/json;charset=utf-8' --data-binary "$j" "$@"; }
bearer() { printf 'Authorization: Bearer %s' "$1"; }

# hdr NAME: the value of the last NAME: header of the reply (exit 1 if none)
hdr() {
        tr -d '\r' <"$T/headers" | awk -v n="$1" '
                { i = index($0, ":"); if (i > 1 && tolower(substr($0, 1, i - 1)) == tolower(n)) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v); val = v; found = 1 } }
                END { if (found) print val; else exit 1 }'
}
has_hdr() { hdr "$1" >/dev/null; }
cors_headers() { tr -d '\r' <"$T/headers" | grep -i '^access-control-' ; }

# expect_json WHAT STATUS [JQ_FILTER]: a JSON reply with that status for which the filter holds
expect_json() {
        local what=$1 st=$2 filter=${3:-.}
        [ "$STATUS" = "$st" ] || { bad "$what: $LAST gave $STATUS, expected $st: ${BODY:0:300}"; return 1; }
        [ "$CTYPE" = application/json ] || { bad "$what: Content-Type '$CTYPE', expected exactly 'application/json'"; return 1; }
        jq -e "$filter" <<<"$BODY" >/dev/null 2>&1 || { bad "$what: reply does not satisfy $filter: ${BODY:0:300}"; return 1; }
}
# expect_error WHAT STATUS CODE: {"error": non-empty, "error_code": CODE, "link": ""} and nothing else
expect_error() {
        local what=$1 st=$2 code=$3
        [ "$STATUS" = "$st" ] || { bad "$what: $LAST gave $STATUS, expected $st $code: ${BODY:0:300}"; return 1; }
        [ "$CTYPE" = application/json ] || { bad "$what: error with Content-Type '$CTYPE', expected exactly 'application/json'"; return 1; }
        jq -e --arg c "$code" '(keys == ["error", "error_code", "link"]) and (.error | type == "string" and length > 0)
                               and .error_code == $c and .link == ""' <<<"$BODY" >/dev/null 2>&1 \
                || { bad "$what: error body ${BODY:0:300}, expected {error, error_code: $code, link: \"\"}"; return 1; }
}
# expect_204 WHAT: 204, no body, no Content-Type
expect_204() {
        local what=$1
        [ "$STATUS" = 204 ] || { bad "$what: $LAST gave $STATUS, expected 204: ${BODY:0:300}"; return 1; }
        [ ! -s "$T/body" ] || { bad "$what: 204 with a body: ${BODY:0:200}"; return 1; }
        ! has_hdr Content-Type || { bad "$what: 204 with Content-Type: $(hdr Content-Type)"; return 1; }
}
# expect_allow WHAT METHOD...: a 405 MethodNotAllowed whose Allow: lists these methods and not the one tried
expect_allow() {
        local what=$1 tried=${LAST%% *} allow m
        shift
        expect_error "$what" 405 MethodNotAllowed || return 1
        allow=$(hdr Allow) || { bad "$what: 405 without an Allow header"; return 1; }
        allow=",$(tr -d ' \t' <<<"$allow"),"
        for m in "$@"; do
                [[ $allow == *",$m,"* ]] || { bad "$what: Allow: ${allow//,/ } lacks $m"; return 1; }
        done
        [[ $allow != *",$tried,"* ]] || { bad "$what: Allow: ${allow//,/ } lists $tried, the method refused"; return 1; }
}
jget() { jq -r "$1" <<<"$BODY"; }

# b64url_json PART: a JWT part decoded
b64url_json() {
        local s=$1; s=${s//-/+}; s=${s//_//}; while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done
        printf '%s' "$s" | base64 -d 2>/dev/null
}
claim() { local p; p=$(cut -d. -f2 <<<"$1"); b64url_json "$p" | jq -r --arg c "$2" '.[$c] // empty'; }

# verify_ok TOKEN: io.stitch.Token.Verify accepts it
verify_ok() { sctl token verify - >/dev/null 2>&1 <<<"$1"; }
# session JSON of a session id (empty when it is not live)
live_session() { sctl session list --json | jq -c --arg s "$1" '.sessions[] | select(.session_id == $s and .revoked == false)'; }
user_id_of() { sctl user show "$1" --json | jq -r .user.id; }

upjson() { jq -cn --arg u "$1" --arg p "$2" '{username: $u, password: $p}'; }
# login_up EMAIL PASSWORD [CURL ARGS]: local-userpass login; on 200 sets AT RT UID DEV
login_up() {
        local u=$1 p=$2
        shift 2
        AT= RT= UID_= DEV=
        post "$APP/auth/providers/local-userpass/login" "$(upjson "$u" "$p")" "$@" || return 1
        if [ "$STATUS" = 200 ]; then
                AT=$(jget '.access_token // empty'); RT=$(jget '.refresh_token // empty')
                UID_=$(jget '.user_id // empty'); DEV=$(jget '.device_id // empty')
                secret "$AT" "$RT"
        fi
        return 0
}
login_key() {
        local k=$1
        shift
        AT= RT= UID_= DEV=
        post "$APP/auth/providers/api-key/login" "$(jq -cn --arg k "$k" '{key: $k}')" "$@" || return 1
        if [ "$STATUS" = 200 ]; then
                AT=$(jget '.access_token // empty'); RT=$(jget '.refresh_token // empty'); UID_=$(jget '.user_id // empty')
                DEV=$(jget '.device_id // empty')
                secret "$AT" "$RT"
        fi
        return 0
}
login_anon() {
        AT= RT= UID_= DEV=
        post "$APP/auth/providers/anon-user/login" '{}' "$@" || return 1
        if [ "$STATUS" = 200 ]; then
                AT=$(jget '.access_token // empty'); RT=$(jget '.refresh_token // empty'); UID_=$(jget '.user_id // empty')
                DEV=$(jget '.device_id // empty')
                secret "$AT" "$RT"
        fi
        return 0
}
LOGIN_REPLY='(.access_token | type == "string" and length > 0) and (.refresh_token | type == "string" and length > 0)
             and (.user_id | test("^[0-9a-f]{24}$")) and (.device_id | test("^[0-9a-f]{24}$"))
             and .access_token != .refresh_token'
profile() { req GET "$BASE/auth/profile" -H "$(bearer "$1")"; }
refresh() { req POST "$BASE/auth/session" -H "$(bearer "$1")"; }
logout() { req DELETE "$BASE/auth/session" -H "$(bearer "$1")"; }
# need WHAT: ends the test when the last request did not succeed (a prerequisite)
need() { case $STATUS in 2??) ;; *) fail "$1: $LAST gave $STATUS: ${BODY:0:300}" ;; esac; }

# =================================================================================
# Daemon A: AppId=stitch, anonymous logins on, CORS for https://app.example,
# no trusted proxies, no metrics, a large failure budget (the rate limit has
# its own daemon below), every request in the access log (AccessLog=all: so
# that the check for secrets in the log sees a line per request).
http_start <<'X'
AllowOrigins=https://app.example
AccessLog=all
[Provider.anon-user]
Enabled=yes
UnixUser=guest
Services=login
[Limits]
MaxFailures=1000
X

ADA_PW='Ada-Secret-pw-41'; BOB_PW='Bob-Secret-pw-42'; CAROL_PW='Carol-Secret-pw-43'
DAVE_PW='Dave-Secret-pw-44'; ERIN_PW='Erin-Secret-pw-45'; DEL_PW='Del-Secret-pw-46'
WRONG_PW='Wrong-Guess-pw-47'
secret "$ADA_PW" "$BOB_PW" "$CAROL_PW" "$DAVE_PW" "$ERIN_PW" "$DEL_PW" "$WRONG_PW"
printf '%s' "$ADA_PW" | sctl user add --email ada@example.com --unix-name ada --name 'Ada L' --password-stdin >/dev/null \
        || fail "could not create ada"
stitch_user bob@example.com bob "$BOB_PW"
ADA=$(user_id_of ada@example.com); BOB=$(user_id_of bob@example.com)
ADA_IDENT=$(sctl user show "$ADA" --json | jq -r '.user.identities[0].id')

# ---- location ---------------------------------------------------------------------
begin "GET APP/location answers the deployment and PublicURL (default http://Listen)"
req GET "$APP/location"
expect_json location 200 ".deployment_model == \"GLOBAL\" and .location == \"US-VA\"
                          and .hostname == \"http://127.0.0.1:$PORT\" and .ws_hostname == \"ws://127.0.0.1:$PORT\""
end

begin "another app id and unknown routes are 404 NotFound"
req GET "$BASE/app/other/location"; expect_error "other app id, location" 404 NotFound
post "$BASE/app/other/auth/providers/local-userpass/login" "$(upjson ada@example.com "$ADA_PW")"
expect_error "other app id, login" 404 NotFound
for p in / /nope "$BASE" "$BASE/nope" "$APP" "$APP/nope" "$BASE/auth" "$BASE/auth/nope" "$APP/auth/providers/local-userpass/nope" \
         "$BASE/auth/api_keys/0123456789abcdef01234567/nope"; do
        req GET "$p"; expect_error "GET $p" 404 NotFound
done
req POST "$BASE/nope" --data-binary '{}'; expect_error "POST $BASE/nope" 404 NotFound
end

begin "a known route with another method is 405 MethodNotAllowed with Allow:"
req POST "$APP/location" --data-binary '{}'; expect_allow "POST location" GET
req GET "$APP/auth/providers/local-userpass/login"; expect_allow "GET login" POST
req PUT "$BASE/auth/session"; expect_allow "PUT session" POST DELETE
req POST "$BASE/auth/profile"; expect_allow "POST profile" GET
req GET "$BASE/auth/delete"; expect_allow "GET delete" DELETE
req DELETE "$BASE/auth/api_keys"; expect_allow "DELETE api_keys" GET POST
req POST "$BASE/auth/api_keys/0123456789abcdef01234567" --data-binary '{}'; expect_allow "POST api_keys/:id" GET DELETE
req GET "$BASE/auth/api_keys/0123456789abcdef01234567/enable"; expect_allow "GET api_keys/:id/enable" PUT
req DELETE "$BASE/auth/api_keys/0123456789abcdef01234567/disable"; expect_allow "DELETE api_keys/:id/disable" PUT
end

# ---- local-userpass login ---------------------------------------------------------------
begin "local-userpass login: 200 {access_token, refresh_token, user_id, device_id}"
login_up ada@example.com "$ADA_PW"
need "ada's login"
expect_json "ada's login" 200 "$LOGIN_REPLY"
[ "$UID_" = "$ADA" ] || bad "login user_id $UID_, expected ada's $ADA"
AT_A=$AT RT_A=$RT DEV_A=$DEV
end

begin "an HTTP access token verifies with io.stitch.Token.Verify (stitchctl token verify)"
V=$(sctl token verify - --json <<<"$AT_A") || bad "stitchctl token verify refused an HTTP access token: $V"
[ "$(jq -r .claims.sub <<<"$V" 2>/dev/null)" = "$ADA" ] || bad "verified claims.sub is not ada: $V"
[ "$(jq -r .claims.baas_device_id <<<"$V" 2>/dev/null)" = "$DEV_A" ] || bad "claims.baas_device_id differs from the login's device_id $DEV_A"
SID_A=$(jq -r .claims.sid <<<"$V" 2>/dev/null)
end

begin "an HTTP login is a stitch session with service http and rhost 127.0.0.1"
S=$(live_session "$SID_A")
[ -n "$S" ] || bad "session $SID_A of the HTTP login is not in stitchctl session list --json"
jq -e --arg u "$ADA" --arg d "$DEV_A" '.service == "http" and .rhost == "127.0.0.1" and .user_id == $u
        and .provider_type == "local-userpass" and .device_id == $d' <<<"$S" >/dev/null 2>&1 \
        || bad "session list entry: $S (expected service http, rhost 127.0.0.1, ada, local-userpass, device $DEV_A)"
end

begin "login bodies: unknown keys ignored; options.device.deviceId kept when valid"
post "$APP/auth/providers/local-userpass/login" "$(jq -cn --arg p "$ADA_PW" '{username: "ada@example.com", password: $p,
        provider: "local-userpass", options: {device: {deviceId: "0123456789abcdef01234567", platform: "node", sdkVersion: "2.0.1"}}, extra: [1, {"x": null}]}')"
expect_json "login with options and unknown keys" 200 "$LOGIN_REPLY and .device_id == \"0123456789abcdef01234567\""
AT=$(jget '.access_token // empty'); secret "$AT" "$(jget '.refresh_token // empty')"
[ "$(claim "$AT" baas_device_id)" = 0123456789abcdef01234567 ] || bad "the access token's baas_device_id is not the given deviceId"
for d in 000000000000000000000000 0123456789abcdef0123456 nothexnothexnothexnothex; do
        post "$APP/auth/providers/local-userpass/login" "$(jq -cn --arg p "$ADA_PW" --arg d "$d" '{username: "ada@example.com", password: $p, options: {device: {deviceId: $d}}}')"
        expect_json "login with deviceId $d" 200 "$LOGIN_REPLY and .device_id != \"$d\" and .device_id != \"000000000000000000000000\""
        secret "$(jget '.access_token // empty')" "$(jget '.refresh_token // empty')"
done
end

begin "wrong password, unknown user: the same 401 InvalidPassword, same body"
login_up ada@example.com "$WRONG_PW"; expect_error "wrong password" 401 InvalidPassword; B_WRONG=$BODY
login_up nobody@example.com "$WRONG_PW"; expect_error "unknown user" 401 InvalidPassword; B_UNKNOWN=$BODY
[ "$B_WRONG" = "$B_UNKNOWN" ] || bad "wrong password and unknown user differ: '$B_WRONG' vs '$B_UNKNOWN'"
login_up ada@example.com ""; expect_error "empty password" 401 InvalidPassword
end

begin "malformed bodies are 400 BadRequest"
L=$APP/auth/providers/local-userpass/login
for body in '{bad' '' '[1,2]' '"a string"' 'null' '42' '{"username":"ada@example.com","password":"x"} trailing' \
            '{"username":"ada@example.com"}' '{"password":"x"}' '{"username":1,"password":"x"}' \
            '{"username":"ada@example.com","password":["x"]}'; do
        post "$L" "$body"; expect_error "login body '$body'" 400 BadRequest
done
post "$L" '{"username":"ada@example.com\u0000evil","password":"x"}'; expect_error "\\u0000 in username" 400 BadRequest
post "$L" "{\"username\":\"ada@example.com\",\"password\":\"${ADA_PW}\\u0000\"}"; expect_error "\\u0000 in the (right) password" 400 BadRequest
printf '{"username":"ada@example.com","password":"%s\0"}' "$ADA_PW" >"$T/nul.json"
req POST "$L" --data-binary @"$T/nul.json"; expect_error "a raw NUL byte in the body" 400 BadRequest
post "$APP/auth/providers/api-key/login" '{}'; expect_error "api-key login without key" 400 BadRequest
post "$APP/auth/providers/api-key/login" '{"key":"a\u0000b"}'; expect_error "api-key login with \\u0000" 400 BadRequest
end

begin "hostile requests: deep nesting is 400, a huge header is refused, the daemon still answers"
deep=$(printf '[%.0s' $(seq 20000))$(printf ']%.0s' $(seq 20000))
post "$L" "{\"username\":\"ada@example.com\",\"password\":\"x\",\"x\":$deep}"; expect_error "20000 nested arrays" 400 BadRequest
huge=$(head -c 100000 /dev/zero | tr '\0' A)
# (libmicrohttpd answers this one itself, before stitchd sees the request: any 4xx)
NOJSON=1 req GET "$BASE/auth/profile" -H "Authorization: Bearer $huge"
case $STATUS in 4??) ;; *) bad "a 100 kB Authorization header: $STATUS" ;; esac
req GET "$APP/location?x=1&link=true"; expect_json "location with a query string" 200 '.hostname | type == "string"'
end

begin "bodies over 64 KiB are 413 BadRequest; 64 KiB exactly is read"
mkbody() { # mkbody SIZE FILE: a login body of exactly SIZE bytes
        local pre='{"username":"nobody@example.com","password":"'"$WRONG_PW"'","pad":"' post='"}'
        local n=$(( $1 - ${#pre} - ${#post} ))
        { printf '%s' "$pre"; head -c "$n" /dev/zero | tr '\0' a; printf '%s' "$post"; } >"$2"
        [ "$(stat -c %s "$2")" = "$1" ] || fail "could not make a $1-byte body"
}
mkbody 65536 "$T/64k.json"; mkbody 65537 "$T/64k1.json"; mkbody 1048576 "$T/1m.json"
req POST "$L" --data-binary @"$T/64k.json"; expect_error "a 65536-byte body" 401 InvalidPassword
req POST "$L" --data-binary @"$T/64k1.json"; expect_error "a 65537-byte body" 413 BadRequest
req POST "$L" --data-binary @"$T/1m.json"; expect_error "a 1 MiB body" 413 BadRequest
# A huge announced body is refused before it is sent (not read through).
req POST "$L" --max-time 10 -H 'Expect: 100-continue' -H 'Content-Length: 1000000000' --data-binary @"$T/64k1.json"
expect_error "an announced 1 GB body" 413 BadRequest
req POST "$L" -H 'Transfer-Encoding: chunked' --data-binary @"$T/64k1.json"; expect_error "a chunked 65537-byte body" 413 BadRequest
req POST "$BASE/auth/api_keys" -H "$(bearer "$RT_A")" --data-binary @"$T/1m.json"; expect_error "1 MiB to api_keys" 413 BadRequest
end

begin "unknown provider is 404 AuthProviderNotFound"
for p in nope custom-function local-userpass2 LOCAL-USERPASS; do
        post "$APP/auth/providers/$p/login" '{}'
        expect_error "provider $p" 404 AuthProviderNotFound
done
end

# ---- tokens: refresh, profile, wrong token kinds -------------------------------------------
begin "POST BASE/auth/session with the refresh token: 201 {access_token}"
refresh "$RT_A"
expect_json refresh 201 'keys == ["access_token"] and (.access_token | type == "string" and length > 0)'
AT_A2=$(jget '.access_token // empty'); secret "$AT_A2"
verify_ok "$AT_A2" || bad "the refreshed access token does not verify"
[ "$(claim "$AT_A2" sid)" = "$SID_A" ] || bad "the refreshed token is of another session ($(claim "$AT_A2" sid), expected $SID_A)"
end

begin "GET BASE/auth/profile: user_id, domain_id, type, data, identities"
profile "$AT_A2"
expect_json profile 200 "(keys - [\"user_id\",\"domain_id\",\"type\",\"data\",\"identities\"]) == [] and .user_id == \"$ADA\"
        and (.domain_id | type == \"string\" and length > 0) and .type == \"normal\"
        and .data.email == \"ada@example.com\" and .data.unix_name == \"ada\" and .data.name == \"Ada L\"
        and (.identities | length == 1) and .identities[0].id == \"$ADA_IDENT\"
        and .identities[0].provider_type == \"local-userpass\" and .identities[0].provider_id == \"local-userpass\"
        and (.identities[0].provider_data | type == \"object\")"
[ "$(jget .domain_id)" = "$(claim "$AT_A2" baas_domain_id)" ] || bad "profile domain_id $(jget .domain_id) differs from the token's baas_domain_id"
end

begin "missing, malformed or wrong-kind tokens are 401 InvalidSession"
req GET "$BASE/auth/profile"; expect_error "profile without Authorization" 401 InvalidSession
req POST "$BASE/auth/session"; expect_error "refresh without Authorization" 401 InvalidSession
req DELETE "$BASE/auth/session"; expect_error "logout without Authorization" 401 InvalidSession
req GET "$BASE/auth/api_keys"; expect_error "api_keys without Authorization" 401 InvalidSession
req DELETE "$BASE/auth/delete"; expect_error "delete without Authorization" 401 InvalidSession
for h in "Authorization: Bearer" "Authorization: Bearer not-a-token" "Authorization: Basic YWRhOnB3" \
         "Authorization: $AT_A2" "Authorization: Bearer ${AT_A2%?}x"; do
        req GET "$BASE/auth/profile" -H "$h"; expect_error "profile with '${h:0:30}'" 401 InvalidSession
done
profile "$RT_A"; expect_error "profile with the refresh token" 401 InvalidSession
refresh "$AT_A2"; expect_error "refresh with the access token" 401 InvalidSession
req GET "$BASE/auth/api_keys" -H "$(bearer "$AT_A2")"; expect_error "api_keys with the access token" 401 InvalidSession
post "$BASE/auth/api_keys" '{"name":"via-access"}' -H "$(bearer "$AT_A2")"; expect_error "api key create with the access token" 401 InvalidSession
req DELETE "$BASE/auth/delete" -H "$(bearer "$RT_A")"; expect_error "delete with the refresh token" 401 InvalidSession
sctl user show "$ADA" >/dev/null 2>&1 || bad "DELETE auth/delete with a refresh token deleted the user"
sctl apikey list --user "$ADA" --json | jq -e '.api_keys | map(.name) | index("via-access") == null' >/dev/null \
        || bad "an API key was created with an access token"
end

# ---- logout ------------------------------------------------------------------------
begin "DELETE BASE/auth/session: 204, the session's tokens fail at once; twice is 204"
login_up ada@example.com "$ADA_PW"; need "login for logout"
AT_L=$AT RT_L=$RT; SID_L=$(claim "$AT_L" sid)
profile "$AT_L"; expect_json "profile before logout" 200
logout "$RT_L"; expect_204 logout
profile "$AT_L"; expect_error "profile after logout" 401 InvalidSession
verify_ok "$AT_L" && bad "io.stitch.Token.Verify accepts the access token after logout"
refresh "$RT_L"; expect_error "refresh after logout" 401 InvalidSession
[ -z "$(live_session "$SID_L")" ] || bad "session $SID_L is still live after logout"
logout "$RT_L"; expect_204 "logout again"
logout "garbage"; expect_error "logout with a malformed token" 401 InvalidSession
profile "$AT_A2"; expect_json "another session of the user is not affected" 200
end

# ---- API keys ------------------------------------------------------------------------
begin "POST BASE/auth/api_keys: 201 {_id, key, name, disabled:false}, the key shown only there"
post "$BASE/auth/api_keys" '{"name":"k1"}' -H "$(bearer "$RT_A")"
expect_json "create k1" 201 '(keys == ["_id", "disabled", "key", "name"]) and (._id | type == "string" and length > 0)
        and (.key | type == "string" and length > 0) and .name == "k1" and .disabled == false'
K1=$(jget '.key // empty'); K1ID=$(jget '._id // empty'); secret "$K1"
[ -n "$K1" ] && [ -n "$K1ID" ] || fail "no API key to test with: $BODY"
sctl apikey list --user "$ADA" --json | jq -e --arg i "$K1ID" '.api_keys | any(._id == $i and .name == "k1")' >/dev/null \
        || bad "stitchctl apikey list does not show the key made over HTTP"
req GET "$BASE/auth/api_keys" -H "$(bearer "$RT_A")"
expect_json "list" 200 "type == \"array\" and any(.[]; ._id == \"$K1ID\" and .name == \"k1\" and .disabled == false)
        and all(.[]; has(\"key\") | not) and all(.[]; (keys - [\"_id\",\"name\",\"disabled\"]) == [])"
req GET "$BASE/auth/api_keys/$K1ID" -H "$(bearer "$RT_A")"
expect_json "get" 200 "keys == [\"_id\", \"disabled\", \"name\"] and ._id == \"$K1ID\" and .name == \"k1\" and .disabled == false"
grep -qF -- "$K1" "$T/body" && bad "GET api_keys/:id shows the key"
end

begin "an API key logs in as its user over HTTP"
login_key "$K1"
expect_json "key login" 200 "$LOGIN_REPLY and .user_id == \"$ADA\""
S=$(live_session "$(claim "$AT" sid)")
jq -e '.service == "http" and .provider_type == "api-key"' <<<"$S" >/dev/null 2>&1 || bad "key session: $S"
end

begin "PUT api_keys/:id/disable and /enable: 204; a disabled key cannot log in"
req PUT "$BASE/auth/api_keys/$K1ID/disable" -H "$(bearer "$RT_A")"; expect_204 disable
req GET "$BASE/auth/api_keys/$K1ID" -H "$(bearer "$RT_A")"; expect_json "get disabled" 200 '.disabled == true'
login_key "$K1"; expect_error "disabled key login" 401 AuthError; B_DISABLED=$BODY
login_key "stk_$(printf 'A%.0s' $(seq 43))"; expect_error "unknown key login" 401 AuthError
[ "$B_DISABLED" = "$BODY" ] || bad "a disabled key and an unknown key answer differently: '$B_DISABLED' vs '$BODY'"
login_key "x"; expect_error "malformed key login" 401 AuthError
req PUT "$BASE/auth/api_keys/$K1ID/enable" -H "$(bearer "$RT_A")"; expect_204 enable
req GET "$BASE/auth/api_keys/$K1ID" -H "$(bearer "$RT_A")"; expect_json "get enabled" 200 '.disabled == false'
login_key "$K1"; expect_json "re-enabled key login" 200 "$LOGIN_REPLY and .user_id == \"$ADA\""
end

begin "API key names: [A-Za-z0-9_-]{1,64}, unique per user (409 APIKeyAlreadyExists)"
post "$BASE/auth/api_keys" '{"name":"k1"}' -H "$(bearer "$RT_A")"; expect_error "duplicate name" 409 APIKeyAlreadyExists
N64=$(printf 'n%.0s' $(seq 64)); N65=${N64}x
for body in '{"name":"bad name"}' '{"name":""}' "{\"name\":\"$N65\"}" '{"name":"semi;colon"}' '{"name":"a/b"}' \
            '{"name":"k\u0000"}' '{"name":"café"}' '{}' '{"name":42}' '{"name":null}' '{bad' '[]'; do
        post "$BASE/auth/api_keys" "$body" -H "$(bearer "$RT_A")"; expect_error "name ${body:0:40}" 400 BadRequest
done
post "$BASE/auth/api_keys" "{\"name\":\"$N64\"}" -H "$(bearer "$RT_A")"
expect_json "a 64-character name" 201 ".name == \"$N64\""
K64ID=$(jget '._id // empty'); secret "$(jget '.key // empty')"
post "$BASE/auth/api_keys" '{"name":"Az09_-"}' -H "$(bearer "$RT_A")"; expect_json "name Az09_-" 201 '.name == "Az09_-"'
secret "$(jget '.key // empty')"
end

begin "another user's key id, or none, is 404 APIKeyNotFound"
login_up bob@example.com "$BOB_PW"; need "bob's login"
AT_B=$AT RT_B=$RT
NOKEY=0123456789abcdef01234567
for id in "$K1ID" "$NOKEY"; do
        req GET "$BASE/auth/api_keys/$id" -H "$(bearer "$RT_B")"; expect_error "bob GET $id" 404 APIKeyNotFound
        req PUT "$BASE/auth/api_keys/$id/disable" -H "$(bearer "$RT_B")"; expect_error "bob disable $id" 404 APIKeyNotFound
        req PUT "$BASE/auth/api_keys/$id/enable" -H "$(bearer "$RT_B")"; expect_error "bob enable $id" 404 APIKeyNotFound
        req DELETE "$BASE/auth/api_keys/$id" -H "$(bearer "$RT_B")"; expect_error "bob DELETE $id" 404 APIKeyNotFound
done
req GET "$BASE/auth/api_keys" -H "$(bearer "$RT_B")"; expect_json "bob's list" 200 "type == \"array\" and all(.[]; ._id != \"$K1ID\")"
req GET "$BASE/auth/api_keys/$K1ID" -H "$(bearer "$RT_A")"; expect_json "ada's key untouched by bob" 200 '.disabled == false'
login_key "$K1"; expect_json "ada's key still logs in" 200 ".user_id == \"$ADA\""
end

begin "the 21st key is 400 MaxAPIKeysReached"
req GET "$BASE/auth/api_keys" -H "$(bearer "$RT_A")"; need "list"
n=$(jget length)
for i in $(seq $((n + 1)) 20); do
        post "$BASE/auth/api_keys" "{\"name\":\"many$i\"}" -H "$(bearer "$RT_A")"
        [ "$STATUS" = 201 ] || { bad "key $i of 20: $STATUS $BODY"; break; }
        secret "$(jget '.key // empty')"
done
post "$BASE/auth/api_keys" '{"name":"many21"}' -H "$(bearer "$RT_A")"; expect_error "21st key" 400 MaxAPIKeysReached
[ "$(sctl apikey list --user "$ADA" --json | jq '.api_keys | length')" = 20 ] \
        || bad "ada has $(sctl apikey list --user "$ADA" --json | jq '.api_keys | length') keys, expected 20"
end

begin "DELETE api_keys/:id: 204, then gone and it cannot log in"
req DELETE "$BASE/auth/api_keys/$K1ID" -H "$(bearer "$RT_A")"; expect_204 "delete k1"
req GET "$BASE/auth/api_keys/$K1ID" -H "$(bearer "$RT_A")"; expect_error "get deleted" 404 APIKeyNotFound
req DELETE "$BASE/auth/api_keys/$K1ID" -H "$(bearer "$RT_A")"; expect_error "delete again" 404 APIKeyNotFound
login_key "$K1"; expect_error "deleted key login" 401 AuthError
sctl apikey list --user "$ADA" --json | jq -e --arg i "$K1ID" 'all(.api_keys[]; ._id != $i)' >/dev/null \
        || bad "stitchctl still lists the deleted key"
post "$BASE/auth/api_keys" '{"name":"k1"}' -H "$(bearer "$RT_A")"; expect_json "the name is free again" 201 '.name == "k1"'
secret "$(jget '.key // empty')"
end

begin "a server key logs in over HTTP as a server user"
SK=$(sctl apikey add --server --name deploy-bot --unix-name deploy --json) || fail "server key"
SKEY=$(jq -r .key <<<"$SK"); SUID=$(jq -r .user_id <<<"$SK"); secret "$SKEY"
login_key "$SKEY"; expect_json "server key login" 200 ".user_id == \"$SUID\""
profile "$AT"; expect_json "server user profile" 200 '.type == "server" and .identities[0].provider_type == "api-key"'
end

# ---- anonymous users ------------------------------------------------------------------------
begin "anon-user login: a new anonymous user each time"
login_anon; expect_json "anon login" 200 "$LOGIN_REPLY"; ANON1=$UID_
login_anon; expect_json "second anon login" 200 "$LOGIN_REPLY"
[ -n "$ANON1" ] && [ "$ANON1" != "$UID_" ] || bad "two anonymous logins gave the same user $UID_"
profile "$AT"
expect_json "anon profile" 200 ".user_id == \"$UID_\" and (.identities | length == 1) and .identities[0].provider_type == \"anon-user\""
S=$(live_session "$(claim "$AT" sid)")
jq -e '.service == "http" and .provider_type == "anon-user"' <<<"$S" >/dev/null 2>&1 || bad "anon session: $S"
end

# ---- revocation from stitchctl -----------------------------------------------------------
begin "stitchctl user disable: the next profile call is 401 InvalidSession; logins refused"
K_B=$(sctl apikey add --user "$BOB" --name bobkey --json | jq -r .key); secret "$K_B"
profile "$AT_B"; expect_json "bob's profile" 200
sctl user disable "$BOB" >/dev/null || fail "user disable"
profile "$AT_B"; expect_error "profile of a disabled user" 401 InvalidSession
refresh "$RT_B"; expect_error "refresh of a disabled user" 401 InvalidSession
login_up bob@example.com "$BOB_PW"; expect_error "a disabled user's login" 401 InvalidPassword
[ "$BODY" = "$B_WRONG" ] || bad "a disabled user's login answers differently from a wrong password: $BODY"
login_key "$K_B"; expect_error "a disabled user's key" 401 AuthError
sctl user enable "$BOB" >/dev/null || fail "user enable"
profile "$AT_B"; expect_error "profile after disable+enable (the sessions ended)" 401 InvalidSession
login_up bob@example.com "$BOB_PW"; expect_json "bob again" 200 "$LOGIN_REPLY"
AT_B=$AT RT_B=$RT
end

begin "stitchctl session revoke: the next profile call is 401 InvalidSession"
SID_B=$(claim "$AT_B" sid)
[ -n "$(live_session "$SID_B")" ] || bad "bob's session is not listed"
sctl session revoke "$SID_B" >/dev/null || bad "session revoke $SID_B failed"
profile "$AT_B"; expect_error "profile of a revoked session" 401 InvalidSession
refresh "$RT_B"; expect_error "refresh of a revoked session" 401 InvalidSession
verify_ok "$AT_B" && bad "Token.Verify accepts a revoked HTTP session's token"
end

# ---- delete the user -----------------------------------------------------------------------
begin "DELETE BASE/auth/delete: 204, the user is gone, its tokens fail"
stitch_user del@example.com deluser "$DEL_PW"
DEL=$(user_id_of del@example.com)
login_up del@example.com "$DEL_PW"; need "del's login"
AT_D=$AT RT_D=$RT
login_up del@example.com "$DEL_PW"; AT_D2=$AT
post "$BASE/auth/api_keys" '{"name":"delkey"}' -H "$(bearer "$RT_D")"; K_D=$(jget '.key // empty'); secret "$K_D"
req DELETE "$BASE/auth/delete" -H "$(bearer "$AT_D")"; expect_204 "delete user"
sctl user show "$DEL" >/dev/null 2>&1 && bad "stitchctl user show still finds the deleted user"
profile "$AT_D"; expect_error "profile after delete" 401 InvalidSession
profile "$AT_D2"; expect_error "another session's profile after delete" 401 InvalidSession
refresh "$RT_D"; expect_error "refresh after delete" 401 InvalidSession
login_up del@example.com "$DEL_PW"; expect_error "login after delete" 401 InvalidPassword
[ -n "$K_D" ] && { login_key "$K_D"; expect_error "the deleted user's key" 401 AuthError; }
end

# ---- identity linking ----------------------------------------------------------------------
begin "linking email/password of a never-logged-in user onto an anonymous user"
stitch_user carol@example.com carol "$CAROL_PW"
CAROL_OLD=$(user_id_of carol@example.com)
login_anon; need "anon login for linking"
ANON=$UID_ AT_N=$AT RT_N=$RT SID_N=$(claim "$AT" sid)
post "$APP/auth/providers/local-userpass/login?link=true" "$(upjson carol@example.com "$CAROL_PW")" -H "$(bearer "$AT_N")"
expect_json "link" 200 "(keys - [\"access_token\",\"user_id\",\"device_id\"]) == [] and (has(\"refresh_token\") | not)
        and .user_id == \"$ANON\" and (.access_token | type == \"string\" and length > 0) and (.device_id | type == \"string\")"
AT_N2=$(jget '.access_token // empty'); secret "$AT_N2"
verify_ok "$AT_N2" || bad "the link reply's access token does not verify"
[ "$(claim "$AT_N2" sid)" = "$SID_N" ] || bad "linking did not keep the current session"
profile "$AT_N2"
expect_json "linked profile" 200 ".user_id == \"$ANON\" and (.identities | length == 2)
        and (.identities | map(.provider_type) | sort == [\"anon-user\", \"local-userpass\"]) and .data.email == \"carol@example.com\""
refresh "$RT_N"; expect_json "the anon refresh token still works" 201 '.access_token | type == "string"'
secret "$(jget '.access_token // empty')"
sctl user show "$CAROL_OLD" >/dev/null 2>&1 && bad "the empty account $CAROL_OLD was not removed"
[ "$(user_id_of carol@example.com)" = "$ANON" ] || bad "stitchctl user show carol@example.com is not the linking user"
login_up carol@example.com "$CAROL_PW"; expect_json "login with the linked credential" 200 "$LOGIN_REPLY and .user_id == \"$ANON\""
end

begin "linking a credential the user already has is a no-op 200"
post "$APP/auth/providers/local-userpass/login?link=true" "$(upjson carol@example.com "$CAROL_PW")" -H "$(bearer "$AT_N2")"
expect_json "link again" 200 ".user_id == \"$ANON\" and (has(\"refresh_token\") | not)"
secret "$(jget '.access_token // empty')"
profile "$AT_N2"; expect_json "still two identities" 200 '.identities | length == 2'
end

begin "linking a credential of another (used) account is 409 IdentityInUse"
stitch_user dave@example.com dave "$DAVE_PW"
DAVE=$(user_id_of dave@example.com)
login_up dave@example.com "$DAVE_PW"; need "dave's login"
login_anon; need "second anon login"
ANON2=$UID_ AT_N3=$AT
post "$APP/auth/providers/local-userpass/login?link=true" "$(upjson dave@example.com "$DAVE_PW")" -H "$(bearer "$AT_N3")"
expect_error "link dave's used credential" 409 IdentityInUse
post "$APP/auth/providers/local-userpass/login?link=true" "$(upjson carol@example.com "$CAROL_PW")" -H "$(bearer "$AT_N3")"
expect_error "link carol's (already linked) credential onto another user" 409 IdentityInUse
[ "$(user_id_of dave@example.com)" = "$DAVE" ] || bad "dave's identity moved"
profile "$AT_N3"; expect_json "the anonymous user is unchanged" 200 ".user_id == \"$ANON2\" and (.identities | length == 1)"
login_up dave@example.com "$DAVE_PW"; expect_json "dave still logs in as himself" 200 ".user_id == \"$DAVE\""
end

begin "linking: anonymous identities and API keys are 400; wrong password 401 InvalidPassword; bad token 401 InvalidSession"
post "$APP/auth/providers/anon-user/login?link=true" '{}' -H "$(bearer "$AT_N3")"; expect_error "link anon-user" 400 BadRequest
post "$APP/auth/providers/api-key/login?link=true" "$(jq -cn --arg k "$SKEY" '{key: $k}')" -H "$(bearer "$AT_N3")"
expect_error "link an API key" 400 BadRequest
stitch_user erin@example.com erin "$ERIN_PW"
ERIN=$(user_id_of erin@example.com)
post "$APP/auth/providers/local-userpass/login?link=true" "$(upjson erin@example.com "$WRONG_PW")" -H "$(bearer "$AT_N3")"
expect_error "link with a wrong password" 401 InvalidPassword
post "$APP/auth/providers/local-userpass/login?link=true" "$(upjson nobody@example.com "$WRONG_PW")" -H "$(bearer "$AT_N3")"
expect_error "link an unknown user" 401 InvalidPassword
profile "$AT_N3"; expect_json "the linking session survives a failed link" 200 '.identities | length == 1'
[ "$(user_id_of erin@example.com)" = "$ERIN" ] || bad "erin's account changed after a failed link"
post "$APP/auth/providers/local-userpass/login?link=true" "$(upjson erin@example.com "$ERIN_PW")"
expect_error "link without Authorization" 401 InvalidSession
post "$APP/auth/providers/local-userpass/login?link=true" "$(upjson erin@example.com "$ERIN_PW")" -H "$(bearer "$RT_N")"
expect_error "link with a refresh token" 401 InvalidSession
post "$APP/auth/providers/local-userpass/login?link=true" "$(upjson erin@example.com "$ERIN_PW")" -H "Authorization: Bearer garbage"
expect_error "link with a malformed token" 401 InvalidSession
[ "$(user_id_of erin@example.com)" = "$ERIN" ] || bad "erin's account moved by a link without a valid token"
end

# ---- X-Forwarded-For without trusted proxies -----------------------------------------------
begin "X-Forwarded-For is ignored without TrustedProxies= (rhost 127.0.0.1)"
login_up ada@example.com "$ADA_PW" -H 'X-Forwarded-For: 203.0.113.7'; need "login with X-Forwarded-For"
S=$(live_session "$(claim "$AT" sid)")
jq -e '.rhost == "127.0.0.1"' <<<"$S" >/dev/null 2>&1 || bad "untrusted X-Forwarded-For was used: $S"
end

# ---- CORS ----------------------------------------------------------------------------------
begin "CORS: a preflight from an allowed origin is 204 with the Access-Control-* headers"
# PATH METHOD METHODS-THAT-MUST-BE-ALLOWED
while read -r p meth want; do
        req OPTIONS "$p" -H 'Origin: https://app.example' -H "Access-Control-Request-Method: $meth" \
                -H 'Access-Control-Request-Headers: authorization,content-type'
        expect_204 "preflight $p"
        [ "$(hdr Access-Control-Allow-Origin)" = https://app.example ] || bad "preflight $p: Access-Control-Allow-Origin '$(hdr Access-Control-Allow-Origin)'"
        m=$(hdr Access-Control-Allow-Methods | tr -d ' ') || bad "preflight $p: no Access-Control-Allow-Methods"
        for x in ${want//,/ }; do [[ ,$m, == *,$x,* ]] || bad "preflight $p: Access-Control-Allow-Methods '$m' lacks $x"; done
        h=$(hdr Access-Control-Allow-Headers | tr 'A-Z' 'a-z' | tr -d ' ')
        [[ ,$h, == *,authorization,* && ,$h, == *,content-type,* ]] || bad "preflight $p: Access-Control-Allow-Headers '$h'"
        [ "$(hdr Access-Control-Max-Age)" = 600 ] || bad "preflight $p: Access-Control-Max-Age '$(hdr Access-Control-Max-Age)'"
        hdr Vary | grep -qi origin || bad "preflight $p: no Vary: Origin"
done <<X
$APP/auth/providers/local-userpass/login POST POST
$APP/location GET GET
$BASE/auth/profile GET GET
$BASE/auth/session POST POST,DELETE
$BASE/auth/api_keys POST GET,POST
$BASE/auth/api_keys/$K64ID DELETE GET,DELETE
$BASE/auth/api_keys/$K64ID/enable PUT PUT
X
end

begin "CORS: a preflight from another origin is 403 without Access-Control-* headers"
for o in https://evil.example http://app.example https://app.example.evil.example null; do
        req OPTIONS "$APP/auth/providers/local-userpass/login" -H "Origin: $o" -H 'Access-Control-Request-Method: POST'
        [ "$STATUS" = 403 ] || bad "preflight from $o: $STATUS, expected 403"
        [ -z "$(cors_headers)" ] || bad "preflight from $o carries $(cors_headers | tr '\n' ' ')"
done
end

begin "CORS: requests from the allowed origin carry Access-Control-Allow-Origin, others none"
req GET "$APP/location" -H 'Origin: https://app.example'; expect_json "location from app.example" 200
[ "$(hdr Access-Control-Allow-Origin)" = https://app.example ] || bad "location: Access-Control-Allow-Origin '$(hdr Access-Control-Allow-Origin)'"
hdr Vary | grep -qi origin || bad "location: no Vary: Origin"
login_up ada@example.com "$WRONG_PW" -H 'Origin: https://app.example'; expect_error "error from app.example" 401 InvalidPassword
[ "$(hdr Access-Control-Allow-Origin)" = https://app.example ] || bad "an error reply lacks Access-Control-Allow-Origin (browsers cannot read it)"
login_up ada@example.com "$ADA_PW" -H 'Origin: https://app.example'; expect_json "login from app.example" 200
[ "$(hdr Access-Control-Allow-Origin)" = https://app.example ] || bad "login: Access-Control-Allow-Origin '$(hdr Access-Control-Allow-Origin)'"
req GET "$APP/location" -H 'Origin: https://evil.example'; expect_json "location from evil.example" 200
[ -z "$(cors_headers)" ] || bad "a request from another origin carries $(cors_headers | tr '\n' ' ')"
req GET "$APP/location"; [ -z "$(cors_headers)" ] || bad "a request without Origin carries $(cors_headers | tr '\n' ' ')"
end

begin "GET /metrics is 404 with Metrics=no"
req GET /metrics; expect_error "/metrics off" 404 NotFound
end

# ---- the access log -----------------------------------------------------------------------
begin "the log has one line per request with the route template, never a secret"
req GET "$BASE/auth/api_keys/$K64ID" -H "$(bearer "$RT_A")"; expect_json "get for the log" 200
line=$(grep -F "$BASE/auth/api_keys/:id" "$STITCHD_LOG" | grep -w GET | grep -w 200 | grep -F 127.0.0.1 | tail -n 1)
[ -n "$line" ] || bad "no access log line with GET, $BASE/auth/api_keys/:id, 200 and 127.0.0.1: $(grep -F api_keys "$STITCHD_LOG" | tail -n 3)"
grep -F "$K64ID" <<<"$line" >/dev/null && bad "the access log line has the key id instead of the template: $line"
grep -F /auth/providers/ "$STITCHD_LOG" | grep -w POST | grep -qw 401 || bad "no access log line for a failed login (POST ... 401)"
n=$(sort -u "$SECRETS" | grep -c .)
[ "$n" -gt 50 ] || bad "only $n secrets collected"
leaks=$(sort -u "$SECRETS" | grep -v '^$' | grep -F -f - "$STITCHD_LOG" | head -n 3)
[ -z "$leaks" ] || bad "the stitchd log contains a password, token or key: ${leaks:0:300}"
end

# =================================================================================
# Daemon B: AppId=myapp, PublicURL=, TrustedProxies=127.0.0.1, Metrics=yes,
# no CORS, anonymous logins off, api-key off, refresh tokens rotated, MaxFailures=3.
stitch_stop
APP=$BASE/app/myapp
http_start <<'X'
AppId=myapp
PublicURL=https://auth.example.com
TrustedProxies=127.0.0.1
Metrics=yes
[Provider.api-key]
Enabled=no
[Tokens]
RotateRefreshTokens=yes
[Limits]
MaxFailures=3
FailureWindow=10min
X

begin "AppId= and PublicURL=: location under the new id, wss:// for https://, the old id 404"
req GET "$APP/location"
expect_json location 200 '.hostname == "https://auth.example.com" and .ws_hostname == "wss://auth.example.com"'
req GET "$BASE/app/stitch/location"; expect_error "the default app id when AppId=myapp" 404 NotFound
login_up ada@example.com "$ADA_PW"; expect_json "login under myapp" 200 "$LOGIN_REPLY and .user_id == \"$ADA\""
end

begin "disabled providers are 404 AuthProviderNotFound (anon-user off by default, api-key Enabled=no)"
login_anon; expect_error "anon login, provider off" 404 AuthProviderNotFound
login_key "$SKEY"; expect_error "api-key login, provider off" 404 AuthProviderNotFound
end

begin "RotateRefreshTokens=yes: the refresh reply also has the new refresh token"
login_up ada@example.com "$ADA_PW"; need "login for rotation"
refresh "$RT"
expect_json "rotating refresh" 201 'keys == ["access_token", "refresh_token"] and (.refresh_token | type == "string" and length > 0)'
RT2=$(jget '.refresh_token // empty'); secret "$(jget '.access_token // empty')" "$RT2"
[ "$RT2" != "$RT" ] || bad "the rotated refresh token is the old one"
refresh "$RT2"; expect_json "refresh with the rotated token" 201 '.access_token | type == "string"'
secret "$(jget '.access_token // empty')" "$(jget '.refresh_token // empty')"
end

begin "no CORS headers without AllowOrigins="
req GET "$APP/location" -H 'Origin: https://app.example'; expect_json location 200
[ -z "$(cors_headers)" ] || bad "CORS headers without AllowOrigins=: $(cors_headers | tr '\n' ' ')"
req OPTIONS "$APP/auth/providers/local-userpass/login" -H 'Origin: https://app.example' -H 'Access-Control-Request-Method: POST'
[ -z "$(cors_headers)" ] || bad "a preflight without AllowOrigins= got $(cors_headers | tr '\n' ' ')"
end

begin "X-Forwarded-For from a trusted proxy: the session's rhost is the last hop"
login_up ada@example.com "$ADA_PW" -H 'X-Forwarded-For: 203.0.113.7'; need "login via a proxy"
S=$(live_session "$(claim "$AT" sid)")
jq -e '.service == "http" and .rhost == "203.0.113.7"' <<<"$S" >/dev/null 2>&1 || bad "X-Forwarded-For 203.0.113.7: $S"
login_up ada@example.com "$ADA_PW" -H 'X-Forwarded-For: 198.51.100.1, 203.0.113.8'; need "login via two proxies"
S=$(live_session "$(claim "$AT" sid)")
jq -e '.rhost == "203.0.113.8"' <<<"$S" >/dev/null 2>&1 || bad "X-Forwarded-For '198.51.100.1, 203.0.113.8': $S"
login_up ada@example.com "$ADA_PW"; need "login without the header"
S=$(live_session "$(claim "$AT" sid)")
jq -e '.rhost == "127.0.0.1"' <<<"$S" >/dev/null 2>&1 || bad "no X-Forwarded-For from the proxy: $S"
end

begin "GET /metrics with Metrics=yes: Prometheus text with counters"
NOJSON=1 req GET /metrics
[ "$STATUS" = 200 ] || bad "/metrics: $STATUS"
[[ $CTYPE == text/plain* && $CTYPE == *version=0.0.4* ]] || bad "/metrics Content-Type '$CTYPE', expected text/plain; version=0.0.4"
counters=$(awk '$1 == "#" && $2 == "TYPE" && $4 == "counter" { print $3 }' "$T/body")
[ -n "$counters" ] || bad "/metrics has no '# TYPE NAME counter' line: $(head -c 300 "$T/body")"
found=
for c in $counters; do
        grep -Eq "^${c}(_total)?(\{[^}]*\})? [0-9][0-9.eE+-]*( [0-9]+)?$" "$T/body" && { found=$c; break; }
done
[ -n "$found" ] || bad "/metrics declares counters ($counters) but has no sample line for any"
grep -q '/api/client/v2.0' "$T/body" || bad "/metrics has no request counter by route"
end

# ---- rate limiting --------------------------------------------------------------------------
# Per account: each attempt from another (forwarded) address, so only the
# account's budget counts. MaxFailures=3 failures are answered 401; a further
# failure locks the account for at least 1 s, doubling; the loop stops at the
# first 429 (bounded, so it cannot take long whatever the timing).
begin "after MaxFailures wrong passwords: 429 TooManyRequests with Retry-After (per account)"
i=0; got429=
while [ $i -lt 12 ]; do
        i=$((i + 1))
        login_up ada@example.com "$WRONG_PW" -H "X-Forwarded-For: 192.0.2.$i"
        [ "$STATUS" = 429 ] && { got429=$i; break; }
        expect_error "failure $i" 401 InvalidPassword || break
done
if [ -z "$got429" ]; then
        bad "no 429 after $i wrong passwords with MaxFailures=3"
else
        [ "$got429" -gt 3 ] || bad "429 already at attempt $got429 (MaxFailures=3 failures are allowed)"
        expect_error "locked account" 429 TooManyRequests
        ra=$(hdr Retry-After) || bad "429 without Retry-After"
        [[ ${ra:-} =~ ^[1-9][0-9]*$ ]] || bad "Retry-After '${ra:-}' is not a positive number of seconds"
fi
sctl user unlock "$ADA" >/dev/null || bad "user unlock"
login_up ada@example.com "$ADA_PW" -H 'X-Forwarded-For: 192.0.2.200'; expect_json "login after unlock" 200 "$LOGIN_REPLY"
end

# Per client address: wrong passwords for many accounts from one address.
begin "after MaxFailures failed logins from one address: 429 TooManyRequests for that address"
i=0; got429=
while [ $i -lt 12 ]; do
        i=$((i + 1))
        login_up "nobody$i@example.com" "$WRONG_PW" -H 'X-Forwarded-For: 198.51.100.77'
        [ "$STATUS" = 429 ] && { got429=$i; break; }
        expect_error "failure $i from one address" 401 InvalidPassword || break
done
if [ -z "$got429" ]; then
        bad "no 429 after $i failed logins from one address with MaxFailures=3"
else
        [ "$got429" -gt 3 ] || bad "429 already at attempt $got429 from one address"
        expect_error "locked address" 429 TooManyRequests
        [[ $(hdr Retry-After) =~ ^[1-9][0-9]*$ ]] || bad "Retry-After '$(hdr Retry-After)' for a locked address"
fi
login_up bob@example.com "$BOB_PW" -H 'X-Forwarded-For: 198.51.100.78'; expect_json "another address is not locked" 200 "$LOGIN_REPLY"
end

begin "daemon B's log has no secret either"
leaks=$(sort -u "$SECRETS" | grep -v '^$' | grep -F -f - "$STITCHD_LOG" | head -n 3)
[ -z "$leaks" ] || bad "the stitchd log contains a password, token or key: ${leaks:0:300}"
end

# =================================================================================
# Daemon C: TLS (CertificateFile= and KeyFile=), with a self-signed certificate.
if command -v openssl >/dev/null; then
        begin "TLS: with CertificateFile= and KeyFile= the API is served over https"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
                -addext subjectAltName=IP:127.0.0.1 -keyout "$T/tls.key" -out "$T/tls.crt" >/dev/null 2>&1 \
                || fail "openssl could not make a certificate"
        chmod 0600 "$T/tls.key"
        stitch_stop
        APP=$BASE/app/stitch SCHEME=https CURL_TLS=(--cacert "$T/tls.crt")
        http_start <<X
CertificateFile=$T/tls.crt
KeyFile=$T/tls.key
X
        req GET "$APP/location"; expect_json "location over https" 200 '.hostname | startswith("http")'
        login_up ada@example.com "$ADA_PW"; expect_json "login over https" 200 "$LOGIN_REPLY and .user_id == \"$ADA\""
        profile "$AT"; expect_json "profile over https" 200 ".user_id == \"$ADA\""
        w=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$APP/location")
        [ "$w" != 200 ] || bad "plain http is served on the TLS port"
        leaks=$(sort -u "$SECRETS" | grep -v '^$' | grep -F -f - "$STITCHD_LOG" | head -n 3)
        [ -z "$leaks" ] || bad "the stitchd log contains a password, token or key: ${leaks:0:300}"
        end
else
        echo "# TLS not checked: openssl is not installed"
fi

[ "$FAILED" = 0 ] || fail "$FAILED checks failed (see 'not ok' above)"
echo "all HTTP API checks passed"
