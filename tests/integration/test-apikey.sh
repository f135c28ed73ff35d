#!/bin/bash
# api-key provider: user keys and server keys, shown once, stored hashed,
# owner-only mapping, the 20-key limit, enable/disable/delete/list.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"
stitch_start
stitch_user ada@example.com ada 'ada-password'
stitch_user bob@example.com bob 'bob-password'

keylogin() { sctl call io.stitch.Auth.Login "$(jq -cn --arg u "$1" --arg k "$2" '{user:$u, key:$k, service:"sshd"}')"; }

K=$(sctl apikey add --user ada --name laptop --json) || fail "apikey add"
KEY=$(jq -r .key <<<"$K"); KID=$(jq -r ._id <<<"$K")
[[ $KEY =~ ^stk_[A-Za-z0-9_-]{43}$ ]] || fail "unexpected key format: ${KEY:0:8}..."
out=$(keylogin ada "$KEY") || fail "key login as its owner failed: $out"
expect_eq provider api-key "$(jq -r .parameters.provider_type <<<"$out")"
ok "a user key logs in as its owner"

wrong=$(keylogin bob "$KEY"); rc=$?
[ $rc -ne 0 ] || fail "ada's key logged in as bob"
expect_eq "error" io.stitch.Error.InvalidCredentials "$(jq -r .error <<<"$wrong")"
bad=$(keylogin ada "stk_$(printf 'A%.0s' $(seq 43))")
expect_eq "unknown key answers like a wrong user" "$wrong" "$bad"
ok "a key of user A cannot log in as B; unknown keys get the same answer"

# The key is never shown again and is stored only as a hash.
sctl apikey list --user ada --json | jq -e 'all(.api_keys[]; has("key") | not)' >/dev/null || fail "list shows keys"
sctl apikey list --user ada --json | jq -e --arg i "$KID" '.api_keys[0]._id == $i and .api_keys[0].name == "laptop"' >/dev/null \
        || fail "list lacks the key's id and name"
grep -c -- "${KEY}" "$T/stitch.db" "$T"/stitch.db-wal 2>/dev/null | grep -qv ':0$' && fail "key found in the store file"
ok "keys are listed without the secret and stored only as a hash"

sctl apikey disable "$KID" >/dev/null || fail "disable"
keylogin ada "$KEY" >/dev/null && fail "disabled key logged in"
sctl apikey enable "$KID" >/dev/null || fail "enable"
keylogin ada "$KEY" >/dev/null || fail "re-enabled key refused"
sctl apikey delete "$KID" >/dev/null || fail "delete"
keylogin ada "$KEY" >/dev/null && fail "deleted key logged in"
ok "keys can be disabled, enabled and deleted"

# A disabled user's keys do not work.
K2=$(sctl apikey add --user bob --name ci --json | jq -r .key)
keylogin bob "$K2" >/dev/null || fail "bob's key"
sctl user disable bob >/dev/null
keylogin bob "$K2" >/dev/null && fail "disabled user's key logged in"
ok "a disabled user's keys are refused"

# Names: letters, digits, '_' and '-'; unique per user.
sctl apikey add --user ada --name 'bad name' >/dev/null 2>&1 && fail "space in key name accepted"
sctl apikey add --user ada --name 'semi;colon' >/dev/null 2>&1 && fail "';' in key name accepted"
sctl apikey add --user ada --name dup >/dev/null || fail "dup 1"
sctl apikey add --user ada --name dup >/dev/null 2>&1 && fail "duplicate key name accepted"
ok "key names are validated and unique per user"

# At most 20 keys per user.
n=$(sctl apikey list --user ada --json | jq '.api_keys | length')
for i in $(seq $((n + 1)) 20); do sctl apikey add --user ada --name "k$i" >/dev/null || fail "key $i refused"; done
expect_eq "keys" 20 "$(sctl apikey list --user ada --json | jq '.api_keys | length')"
out=$(sctl apikey add --user ada --name k21 2>&1) && fail "21st key accepted"
grep -q 'at most 20' <<<"$out" || fail "no clear reason for the 21st key: $out"
ok "the 21st user key is refused"

# Server keys create a user of type "server" that logs in as its unix_name.
S=$(sctl apikey add --server --name deploy-bot --unix-name deploy --json) || fail "server key"
SKEY=$(jq -r .key <<<"$S"); SUID=$(jq -r .user_id <<<"$S")
expect_eq "server user type" server "$(sctl user show "$SUID" --json | jq -r .user.type)"
expect_eq "identity provider" api-key "$(sctl user show "$SUID" --json | jq -r '.user.identities[0].provider_type')"
expect_eq "identity name" deploy-bot "$(sctl user show "$SUID" --json | jq -r '.user.identities[0].data.name')"
keylogin deploy "$SKEY" >/dev/null || fail "server key login"
keylogin ada "$SKEY" >/dev/null && fail "server key logged in as another name"
ok "server keys create a server user and log in only as its unix_name"

# provider=auto recognises the key format.
K3=$(sctl apikey add --user bob --name auto --json | jq -r .key)
sctl user enable bob >/dev/null
out=$(sctl call io.stitch.Auth.Login "$(jq -cn --arg k "$K3" '{user:"bob", key:$k, provider:"auto", service:"login"}')") \
        || fail "auto provider with a key: $out"
expect_eq provider api-key "$(jq -r .parameters.provider_type <<<"$out")"
ok "provider=auto picks api-key for a key"

# A disabled provider refuses.
stitch_stop
stitch_config <<'X'
[Provider.api-key]
Enabled=no
X
stitch_start
out=$(keylogin bob "$K3") && fail "disabled provider accepted a key"
expect_eq "error" io.stitch.Error.PermissionDenied "$(jq -r .error <<<"$out")"
ok "Enabled=no turns the provider off"
