#!/bin/bash
# stitchctl store migrate (stitchd --migrate-store): a store copied into an
# empty one serves as the original did. On the copy: the same passwords log
# in, API keys log in (a disabled one does not), access tokens issued before
# the move verify (the signing keys came along), a refresh token of a live
# session refreshes, a logged-out session stays ended, a disabled user stays
# disabled, uids are kept. A non-empty target, a bad spec and the same store
# twice are refused and change nothing.
# The target is sqlite:$T/copy.db, or $STITCH_TEST_MIGRATE_TARGET (a store
# spec; tests/store/test-fleet.sh passes a PostgreSQL one).
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"

TARGET=${STITCH_TEST_MIGRATE_TARGET:-sqlite:$T/copy.db}
export STITCHCTL_STITCHD=$STITCHD
OUT=$T/out
ERR=$T/err
run() { # EXPECTED_STATUS CMD...
        local want=$1 rc=0
        shift
        "$@" >"$OUT" 2>"$ERR" || rc=$?
        [ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want: $(cat "$OUT" "$ERR")"
}
login() { # USER PASSWORD
        sctl call io.stitch.Auth.Login "$(jq -cn --arg u "$1" --arg p "$2" \
                '{user:$u, password:$p, service:"login", provider:"local-userpass"}')"
}
keylogin() { sctl call io.stitch.Auth.Login "$(jq -cn --arg u "$1" --arg k "$2" '{user:$u, key:$k, service:"sshd"}')"; }
verify() { sctl call io.stitch.Token.Verify "$(jq -cn --arg t "$1" '{access_token:$t}')"; }
refresh() { sctl call io.stitch.Token.Refresh "$(jq -cn --arg t "$1" '{refresh_token:$t}')"; }

# A store with a bit of everything.
stitch_config <<X
[Accounts]
UserDB=yes
UIDRange=61000-61999
X
stitch_start
stitch_user ada@example.com ada 'ada-secret'
stitch_user bob@example.com bob 'bob-secret'
stitch_user eve@example.com eve 'eve-secret'
K=$(sctl apikey add --user ada --name laptop --json) || fail "apikey add"
KEY=$(jq -r .key <<<"$K")
K2=$(sctl apikey add --user bob --name old --json) || fail "apikey add"
KEY2=$(jq -r .key <<<"$K2"); KID2=$(jq -r ._id <<<"$K2")
sctl apikey disable "$KID2" >/dev/null || fail "apikey disable"
sctl key rotate >/dev/null || fail "key rotate"
live=$(login ada 'ada-secret') || fail "login: $live"
ended=$(login ada 'ada-secret') || fail "login: $ended"
refresh "$(jq -r .parameters.refresh_token <<<"$ended")" >/dev/null || fail "refresh"
sctl session revoke "$(jq -r .parameters.session_id <<<"$ended")" >/dev/null || fail "session revoke"
sctl user disable eve >/dev/null || fail "user disable"
stitch_user zed@example.com zed 'zed-secret'
sctl user delete zed >/dev/null || fail "user delete"
before=$(sctl --json key list | jq -c '[.keys[].kid] | sort')
stitch_stop

# Usage errors: nothing opened.
run 2 sctl store migrate --from "sqlite:$T/stitch.db"
grep -q -- "--from SPEC --to SPEC" "$ERR" || fail "no usage hint: $(cat "$ERR")"
run 1 sctl store migrate --from "sqlite:$T/stitch.db" --to "sqlite:$T/stitch.db"
grep -q "two different stores" "$ERR" || fail "same store twice: $(cat "$ERR")"
run 1 sctl store migrate --from "sqlite:relative.db" --to "$TARGET"
grep -q "source store" "$ERR" || fail "bad source spec: $(cat "$ERR")"
run 1 sctl store migrate --from "sqlite:$T/stitch.db" --to "nosuch:/x"
grep -q "target store" "$ERR" || fail "bad target spec: $(cat "$ERR")"
ok "missing options, the same store twice and bad specs are refused"

run 0 sctl store migrate --from "sqlite:$T/stitch.db" --to "$TARGET"
grep -q "Copied; the counts match." "$OUT" || fail "no success line: $(cat "$OUT")"
src=$(grep '^source' "$OUT" | sed 's/^source *//'); dst=$(grep '^target' "$OUT" | sed 's/^target *//')
expect_eq "counts" "$src" "$dst"
grep -q " 3 users .* 3 passwords .* 2 API keys .* 2 sessions .* 2 signing keys .* 1 retired uids" <<<"source $src" \
        || fail "unexpected counts: $src"
ok "the copy holds what the source held: $src"

# Again into the now non-empty target: refused, nothing changed.
run 1 sctl store migrate --from "sqlite:$T/stitch.db" --to "$TARGET"
grep -q "not empty" "$ERR" || fail "non-empty target: $(cat "$ERR")"
ok "a non-empty target is refused"

# The daemon on the copy.
sed -i "s|^Store=.*|Store=$TARGET|" "$STITCHD_CONF"
stitch_start
expect_eq "signing keys" "$before" "$(sctl --json key list | jq -c '[.keys[].kid] | sort')"
verify "$(jq -r .parameters.access_token <<<"$live")" >/dev/null || fail "a token issued before the move does not verify"
out=$(verify "$(jq -r .parameters.access_token <<<"$ended")"); [ $? -ne 0 ] || fail "a revoked session's token verifies: $out"
refresh "$(jq -r .parameters.refresh_token <<<"$live")" >/dev/null || fail "a live session does not refresh"
out=$(refresh "$(jq -r .parameters.refresh_token <<<"$ended")"); [ $? -ne 0 ] || fail "an ended session refreshes: $out"
ok "tokens issued before the move: live ones verify and refresh, ended ones stay ended"

login ada 'ada-secret' >/dev/null || fail "ada's password no longer logs in"
login bob 'wrong' >/dev/null 2>&1 && fail "a wrong password logs in"
login eve 'eve-secret' >/dev/null 2>&1 && fail "a disabled user logs in"
keylogin ada "$KEY" >/dev/null || fail "an API key no longer logs in"
keylogin bob "$KEY2" >/dev/null 2>&1 && fail "a disabled API key logs in"
ok "passwords, API keys and disabled states came along"
if [[ $TARGET == sqlite:* ]] && command -v sqlite3 >/dev/null; then
        q() { sqlite3 "$1" "$2" || fail "sqlite3 $1"; }
        expect_eq "uids" "$(q "$T/stitch.db" 'SELECT unix_name, unix_uid FROM users ORDER BY unix_uid')" \
                "$(q "${TARGET#sqlite:}" 'SELECT unix_name, unix_uid FROM users ORDER BY unix_uid')"
        expect_eq "retired uids" 61003 "$(q "${TARGET#sqlite:}" 'SELECT uid FROM retired_unix_uids')"
        # A new account gets a new uid, never the deleted user's.
        stitch_user amy@example.com amy 'amy-secret'
        expect_eq "new uid" 61004 "$(q "${TARGET#sqlite:}" "SELECT unix_uid FROM users WHERE unix_name = 'amy'")"
        ok "uids came along, and a deleted user's uid is not given again"
fi
stitch_stop
