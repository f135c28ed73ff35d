#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# An idle daemon keeps no token caches (issue 27: idle memory): once no call
# has come for a while, Token.Verify's caches and the checked-token cache
# are emptied (logged at debug level), and a token verified before still
# verifies afterwards, and a revoked one is still refused. The HTTP front end
# does the same for its requests (profile replies, the store's page caches,
# malloc_trim), and a profile is answered as before afterwards.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"

stitch_config <<'X'
[Daemon]
LogLevel=debug
X
stitch_start
stitch_user alice@example.com alice 'correct horse battery'
L=$(sctl call io.stitch.Auth.Login "$(jq -cn '{user:"alice", service:"login", password:"correct horse battery"}')") \
        || fail "login: $L"
verify() { sctl call io.stitch.Token.Verify "$(jq -cn --arg t "$1" '{access_token:$t}')"; }
at=$(jq -r .parameters.access_token <<<"$L")
for i in 1 2 3; do verify "$at" >/dev/null || fail "Verify $i"; done
ok "a token verified three times (the later ones from the cache)"

# Waiting for an event the daemon logs (at most 20 s), not for readiness.
for i in $(seq 1 200); do
        grep -q 'Token caches emptied' "$STITCHD_LOG" && break
        sleep 0.1
done
grep -q 'Token caches emptied' "$STITCHD_LOG" || fail "the token caches were not emptied after 20 s without calls"
ok "after a few seconds without calls the token caches are emptied"

out=$(verify "$at") || fail "Verify after the caches were emptied: $out"
expect_eq "subject" "$(jq -r .parameters.user_id <<<"$L")" "$(jq -r .parameters.claims.sub <<<"$out")"
sctl session revoke "$(jq -r .parameters.session_id <<<"$L")" >/dev/null || fail "cannot revoke the session"
out=$(verify "$at") && fail "a revoked token verified: $out"
ok "an emptied cache is rebuilt: the token still verifies, and no longer once revoked"

# ---- HTTP ------------------------------------------------------------------------
command -v curl >/dev/null || { echo "# curl is not installed: the HTTP part is skipped"; exit 0; }
stitch_stop
. "$top_srcdir/tests/http/http-lib.sh"
http_start <<'X'
[Daemon]
LogLevel=debug
X
since=$(wc -l <"$STITCHD_LOG")
http POST "$APP/auth/providers/local-userpass/login" "" "$(jq -cn '{username: "alice@example.com", password: "correct horse battery"}')"
[ "$STATUS" = 200 ] || fail "HTTP login: $STATUS $BODY"
hat=$(jq -r .access_token <<<"$BODY")
for i in 1 2 3; do
        http GET "$BASE/auth/profile" "$hat"
        [ "$STATUS" = 200 ] || fail "profile $i: $STATUS $BODY"
done
idle_logged() { tail -n +"$((since + 1))" "$STITCHD_LOG" | grep -q 'HTTP idle: profile and token caches emptied'; }
for i in $(seq 1 200); do   # waiting for an event the daemon logs (at most 20 s), not for readiness
        idle_logged && break
        sleep 0.1
done
idle_logged || fail "the HTTP front end did not give its memory back after 20 s without requests"
http GET "$BASE/auth/profile" "$hat"
[ "$STATUS" = 200 ] || fail "profile after the idle trim: $STATUS $BODY"
[ "$(jq -r .user_id <<<"$BODY")" = "$(jq -r .parameters.user_id <<<"$L")" ] || fail "profile after the idle trim: $BODY"
ok "HTTP: a few seconds after the last request its caches are emptied; a profile is answered as before"
exit 0
