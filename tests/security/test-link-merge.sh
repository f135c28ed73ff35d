#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# R9b of the second review (docs/security.md): linking an unused account
# moved its API keys with UPDATE OR IGNORE, so a user could end up with
# more than 20 keys, and a key whose name the linking user already had
# stayed behind and was deleted with the emptied account, silently.
#
# Through the real path: a real stitchd with [Http], curl (POST
# .../login?link=true with the linking user's access token) and the admin
# wire (io.stitch.Admin.UserLink through stitchctl call). A link whose keys
# do not fit is refused, says why and changes nothing; with room, every
# key moves and logs in as the linking user. (R9a, a first login racing
# the link, needs an interleaving a shell cannot force: tests/unit/test-core.c
# test_link_races_first_login and tests/unit/test-store.c
# test_user_merge_guards.) No sleeps, no timing.
. "${TESTS_LIB:?run through make check}" || exit 99
. "$top_srcdir/tests/http/http-lib.sh"
command -v jq >/dev/null || skip "jq is not installed"
command -v curl >/dev/null || skip "curl is not installed"

http_start <<X
AppId=stitch
X

keys_of() { sctl apikey list --user "$1" --json | jq -r '[.api_keys[].name] | sort | join(" ")'; }
count_of() { sctl apikey list --user "$1" --json | jq '.api_keys | length'; }
id_of() { sctl apikey list --user "$1" --json | jq -r --arg n "$2" '.api_keys[] | select(.name == $n) | ._id'; }

# alice: a Unix name, 20 keys (one named "laptop"), logged in over HTTP with
# a19 (deleting a key ends the sessions it opened: R5). bob: registered by the admin, never logged in, two keys.
sctl user add --unix-name alice >/dev/null || fail "user add alice"
for i in $(seq 1 18); do sctl apikey add --user alice --name "a$i" >/dev/null || fail "key a$i"; done
AKEY=$(sctl apikey add --user alice --name a19 --json | jq -r .key)
sctl apikey add --user alice --name laptop >/dev/null || fail "key laptop"
printf 'bob-secret-1' | sctl user add --email bob@example.com --password-stdin >/dev/null || fail "user add bob"
BKEY=$(sctl apikey add --user bob@example.com --name laptop --json | jq -r .key)
sctl apikey add --user bob@example.com --name extra >/dev/null || fail "key extra"
ALICE=$(sctl apikey list --user alice --json | jq -r '.api_keys[0].user_id')
BOB_KEYS=$(keys_of bob@example.com)
http POST "$APP/auth/providers/api-key/login" "" "$(jq -cn --arg k "$AKEY" '{key: $k}')"
[ "$STATUS" = 200 ] || fail "alice's key login: $STATUS $BODY"
AT=$(jq -r .access_token <<<"$BODY")
LINK_BODY='{"username":"bob@example.com","password":"bob-secret-1"}'

# 1. Over HTTP, a key name both have: refused, nothing lost.
http POST "$APP/auth/providers/local-userpass/login?link=true" "$AT" "$LINK_BODY"
check "a link whose keys clash by name is refused (409 APIKeyAlreadyExists)" \
        test "$STATUS $(jq -r .error_code <<<"$BODY")" = "409 APIKeyAlreadyExists"
check "the refusal names the clash" grep -q "'laptop'" <<<"$BODY"
check "bob keeps both keys" test "$(keys_of bob@example.com)" = "$BOB_KEYS"
check "alice keeps 20 keys" test "$(count_of alice)" = 20

# 2. Over the admin wire, one key past the limit: refused, nothing moved.
sctl apikey delete "$(id_of alice laptop)" >/dev/null || fail "delete alice's laptop"
rc=0
stitch_call io.stitch.Admin.UserLink \
        '{"user":"alice","provider":"local-userpass","email":"bob@example.com","password":"bob-secret-1"}' \
        >"$T/link.out" 2>&1 || rc=$?
check "a link to 21 keys is refused by UserLink" test "$rc" != 0
check "UserLink says PermissionDenied and why" grep -q "PermissionDenied\|more than 20" "$T/link.out"
check "alice still has 19 keys" test "$(count_of alice)" = 19
check "bob still has his keys" test "$(keys_of bob@example.com)" = "$BOB_KEYS"

# 3. With room for both, every key moves and logs in as alice.
sctl apikey delete "$(id_of alice a1)" >/dev/null || fail "delete alice's a1"
http POST "$APP/auth/providers/local-userpass/login?link=true" "$AT" "$LINK_BODY"
check "with room the link succeeds" test "$STATUS" = 200
[ "$STATUS" = 200 ] || echo "# $STATUS $BODY" >&2
check "alice has 20 keys, bob's among them" \
        test "$(count_of alice)" = 20 -a -n "$(id_of alice laptop)" -a -n "$(id_of alice extra)"
http POST "$APP/auth/providers/api-key/login" "" "$(jq -cn --arg k "$BKEY" '{key: $k}')"
check "bob's moved key logs in as alice" test "$STATUS $(jq -r .user_id <<<"$BODY")" = "200 $ALICE"

[ "$FAILED" = 0 ] || fail "$FAILED check(s) failed"
