#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# stitchctl against a real stitchd: exit statuses, --json output, users,
# API keys, sessions, tokens, raw calls, secrets kept off argv.
. "${TESTS_LIB:?run through make check}" || exit 99

command -v python3 >/dev/null || skip "python3 is needed to check JSON output"

OUT=$T/out
ERR=$T/err

# run EXPECTED_STATUS CMD...: runs CMD with stdout in $OUT, stderr in $ERR
run() {
        local want=$1 rc=0
        shift
        "$@" >"$OUT" 2>"$ERR" || rc=$?
        if [ "$rc" != "$want" ]; then
                echo "--- stdout:" >&2; cat "$OUT" >&2
                echo "--- stderr:" >&2; cat "$ERR" >&2
                fail "'$*' exited $rc, expected $want"
        fi
}

# json_ok FILE: FILE holds exactly one JSON document
json_ok() { python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" || fail "not JSON: $(cat "$1")"; }

# json_get FILE KEY...: prints the value at the path (lists take indexes)
json_get() {
        python3 - "$@" <<'X'
import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    d = d[int(k)] if isinstance(d, list) else d[k]
if isinstance(d, bool):
    print("true" if d else "false")
elif isinstance(d, (dict, list)):
    print(json.dumps(d))
else:
    print(d)
X
}

# one_line: the reason on stderr is a single line starting with "stitchctl: "
one_line() {
        [ "$(wc -l <"$ERR")" = 1 ] || fail "expected one line on stderr, got: $(cat "$ERR")"
        grep -q '^stitchctl: ' "$ERR" || fail "stderr does not start with 'stitchctl: ': $(cat "$ERR")"
}

# ---- no daemon yet: exit status 3 ------------------------------------------
run 3 sctl status
grep -q "cannot reach stitchd at $STITCH_ADMIN_SOCKET" "$ERR" || fail "unexpected message: $(cat "$ERR")"
one_line
run 3 sctl token verify some.token.here
grep -q "$STITCH_SOCKET" "$ERR" || fail "auth socket not named: $(cat "$ERR")"
run 3 sctl --json user list
run 3 sctl call io.stitch.Token.Jwks
ok "unreachable daemon: exit 3"

# ---- usage errors: exit status 2, whether or not a daemon runs ----------------
run 2 sctl
run 2 sctl frobnicate
run 2 sctl user
run 2 sctl user frobnicate
run 2 sctl user show
run 2 sctl user show a b
run 2 sctl user list --server
run 2 sctl --timeout nonsense status
run 2 sctl --no-such-option status
run 2 sctl user add --email ada@example.com          # no --password-stdin
run 2 sctl user add --name Someone                   # neither email nor unix name
run 2 sctl apikey add --name k                       # neither --user nor --server
# secrets are never accepted on argv
run 2 sctl user add --email ada@example.com --password 'hunter22'
grep -q 'password-stdin' "$ERR" || fail "no hint to --password-stdin: $(cat "$ERR")"
run 2 sctl user add --email ada@example.com --password=hunter22 --password-stdin
run 2 sctl user passwd ada --password hunter22
run 2 sctl login --user ada --password hunter22
# raw calls: parameters must be a JSON object
run 2 sctl call io.stitch.Admin.Status '{bad'
run 2 sctl call io.stitch.Admin.Status '[1,2]'
run 2 sctl call io.stitch.Admin.Status '{} trailing'
run 2 sctl call io.stitch.Admin.Status - < <(echo '{"not": closed')
# token needs a session
run 2 env -u STITCH_SESSION "$STITCHCTL" token
grep -q 'no session: set STITCH_SESSION or pass --session' "$ERR" || fail "unexpected message: $(cat "$ERR")"
run 0 sctl --help
grep -q 'user add' "$OUT" || fail "--help does not list commands"
run 0 sctl user add --help
run 0 sctl --version
grep -q '^stitchctl ' "$OUT" || fail "--version: $(cat "$OUT")"
ok "usage errors: exit 2"

# ---- with a daemon --------------------------------------------------------------
[ -x "$STITCHD" ] || skip "stitchd is not built"
ME=$(id -un)
# the caller may use the admin socket even when not root
stitch_config <<X
AdminGroup=$(id -gn)
X
stitch_start

run 0 sctl status --json
json_ok "$OUT"
[ -n "$(json_get "$OUT" version)" ] || fail "status without version"
run 0 sctl status
grep -q '^Version:' "$OUT" || fail "human status: $(cat "$OUT")"
ok "status"

# users
run 0 sctl user add --email ada@example.com --unix-name "$ME" --name 'Ada L' --password-stdin --json < <(printf 'correct horse\n')
json_ok "$OUT"
ADA=$(json_get "$OUT" user id)
[[ $ADA =~ ^[0-9a-f]{24}$ ]] || fail "user id '$ADA'"
expect_eq "email" ada@example.com "$(json_get "$OUT" user data email)"
expect_eq "unix_name" "$ME" "$(json_get "$OUT" user unix_name)"
expect_eq "name" "Ada L" "$(json_get "$OUT" user data name)"

run 0 sctl --json user add --unix-name stitch-svc1
SVC=$(json_get "$OUT" user id)
run 1 sctl user add --email ada@example.com --password-stdin < <(printf 'correct horse')
one_line
run 1 sctl user add --email short@example.com --password-stdin < <(printf 'abc\n')
one_line
run 1 sctl user add --email empty@example.com --password-stdin </dev/null
ok "user add"

run 0 sctl user list --json
json_ok "$OUT"
expect_eq "number of users" 2 "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["users"]))' "$OUT")"
run 0 sctl user list
head -n1 "$OUT" | grep -q '^ID  *EMAIL  *UNIX NAME  *TYPE  *DISABLED  *PENDING  *LAST LOGIN$' || fail "table header: $(head -n1 "$OUT")"
grep -q "^$ADA  *ada@example.com  *$ME  *normal  *no  " "$OUT" || fail "table row: $(cat "$OUT")"
ok "user list"

for who in "$ADA" ada@example.com; do
        run 0 sctl --json user show "$who"
        json_ok "$OUT"
        expect_eq "user show $who" "$ADA" "$(json_get "$OUT" user id)"
done
run 0 sctl user show ada@example.com
grep -q "^ID: *$ADA$" "$OUT" || fail "human user show: $(cat "$OUT")"
grep -q "local-userpass" "$OUT" || fail "identities missing: $(cat "$OUT")"
run 1 sctl user show nobody@example.com
one_line
ok "user show"

run 0 sctl --json user disable ada@example.com
json_ok "$OUT"
expect_eq "disable user_id" "$ADA" "$(json_get "$OUT" user_id)"
run 0 sctl --json user show "$ADA"
expect_eq "disabled" true "$(json_get "$OUT" user disabled)"
run 0 sctl user enable "$ADA"
run 0 sctl --json user show "$ADA"
expect_eq "enabled again" false "$(json_get "$OUT" user disabled)"
run 0 sctl user revoke "$ADA"
run 0 sctl user unlock "$ADA"
run 0 sctl user passwd "$ADA" --password-stdin < <(printf 'battery staple\n')
run 1 sctl user passwd "$ADA" --password-stdin < <(printf 'x\n')
run 1 sctl user disable nobody@example.com
ok "user disable/enable/revoke/unlock/passwd"

# API keys: the key is shown once
run 0 sctl --json apikey add --user "$ADA" --name laptop
json_ok "$OUT"
KEY_ID=$(json_get "$OUT" _id)
[ -n "$(json_get "$OUT" key)" ] || fail "no key in the reply"
run 0 sctl apikey add --user "$ADA" --name desktop
grep -q 'will not be shown again' "$OUT" || fail "no warning: $(cat "$OUT")"
run 0 sctl --json apikey list --user "$ADA"
json_ok "$OUT"
grep -q "$KEY_ID" "$OUT" || fail "key not listed"
python3 -c 'import json,sys; assert all("key" not in k for k in json.load(open(sys.argv[1]))["api_keys"])' "$OUT" \
        || fail "apikey list shows a key"
run 0 sctl apikey list
grep -q laptop "$OUT" || fail "human apikey list: $(cat "$OUT")"
run 0 sctl apikey disable "$KEY_ID"
run 0 sctl apikey enable "$KEY_ID"
run 0 sctl apikey delete "$KEY_ID"
run 1 sctl apikey delete "$KEY_ID"
run 0 sctl --json apikey add --server --name backup --unix-name stitch-backup
json_ok "$OUT"
ok "apikey"

# signing keys
run 0 sctl --json key list
json_ok "$OUT"
run 0 sctl --json key jwks
json_ok "$OUT"
run 0 sctl --json key rotate
json_ok "$OUT"
ok "key"

# raw calls
run 0 sctl call io.stitch.Admin.Status
json_ok "$OUT"
[ -n "$(json_get "$OUT" parameters version)" ] || fail "call: $(cat "$OUT")"
run 0 sctl call io.stitch.Admin.UserGet - < <(echo '{"user": "ada@example.com"}')
expect_eq "call via stdin" "$ADA" "$(json_get "$OUT" parameters user id)"
run 1 sctl call io.stitch.NoSuch.Method '{}'
json_ok "$OUT"
expect_eq "unknown method" org.varlink.service.MethodNotFound "$(json_get "$OUT" error)"
run 1 sctl call io.stitch.Admin.UserGet '{"user": "nobody@example.com"}'
expect_eq "error reply" io.stitch.Error.NotFound "$(json_get "$OUT" error)"
ok "call"

# tokens
run 1 sctl token verify not.a.token
one_line
run 1 sctl --json token verify not.a.token
run 1 sctl token verify - < <(echo 'not.a.token')
run 1 sctl token --session 000000000000000000000000

run 0 sctl --json login --user "$ME" --service login < <(printf 'battery staple\n')
json_ok "$OUT"
SID=$(json_get "$OUT" session_id)
TOKEN=$(json_get "$OUT" access_token)
expect_eq "login user_id" "$ADA" "$(json_get "$OUT" user_id)"
run 1 sctl login --user "$ME" --service login < <(printf 'wrong password\n')
one_line
run 0 sctl --json token verify - < <(printf '%s\n' "$TOKEN")
json_ok "$OUT"
expect_eq "claims.sub" "$ADA" "$(json_get "$OUT" claims sub)"
expect_eq "claims.sid" "$SID" "$(json_get "$OUT" claims sid)"
run 0 sctl token verify "$TOKEN"
grep -q '^Token is valid' "$OUT" || fail "human verify: $(cat "$OUT")"
run 0 sctl --json token --session "$SID"
json_ok "$OUT"
expect_eq "token session" "$SID" "$(json_get "$OUT" session_id)"
run 0 env STITCH_SESSION="$SID" "$STITCHCTL" token
[ "$(wc -l <"$OUT")" = 1 ] && [ -n "$(cat "$OUT")" ] || fail "token: $(cat "$OUT")"
ok "login and token"

# sessions
run 0 sctl --json session list
json_ok "$OUT"
grep -q "$SID" "$OUT" || fail "session not listed"
run 0 sctl session list --user "$ADA"
grep -q "$SID" "$OUT" || fail "human session list: $(cat "$OUT")"
run 0 sctl session revoke "$SID"
run 1 sctl token verify - < <(printf '%s\n' "$TOKEN")
run 0 sctl --json session list --all
json_ok "$OUT"
ok "session"

# delete
run 0 sctl user delete "$SVC"
run 1 sctl user show "$SVC"
ok "user delete"

# options before or after the command
run 0 sctl --json user list
json_ok "$OUT"
run 0 sctl user --json list
json_ok "$OUT"

stitch_stop
run 3 sctl status
ok "stopped daemon: exit 3"
