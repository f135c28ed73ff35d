#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Two stitchd on one real PostgreSQL server (a fleet of two hosts):
# a user created on A logs in through PAM on B; a logout, a revoke, a
# disable, a delete, an API-key change and a key rotation on A hold on B
# (through the change feed); the time a logout takes to hold on B is
# measured over 100 logouts (printed, never judged). Then PostgreSQL is
# killed with SIGKILL while both serve: B keeps answering from memory for
# MaxStale, then refuses every token (fail closed); nothing acknowledged
# before the kill is lost, and after a restart both follow the feed again
# and catch up on what was written meanwhile.
. "$(dirname "$0")/../pam/pam-lib.sh"
. "$top_srcdir/tests/store/pg-lib.sh"
need_stitchd
command -v jq >/dev/null || skip "jq is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"
pg_need
pg_start
SPEC=$(pg_spec)

B_SOCK=$T/b/io.stitch.Auth
B_ADMIN=$T/b/io.stitch.Admin
B_LOG=$T/b.log
B_PID=
fleet_cleanup() {
        [ -n "$B_PID" ] && kill -TERM "$B_PID" 2>/dev/null
        pg_cleanup
}
trap fleet_cleanup EXIT

stitch_config <<X
[Pam]
Services=login fleet-a fleet-b
[Fleet]
MaxStale=1s
[Daemon]
Store=$SPEC
X
mkdir -p "$T/b"
sed -e "s|^AuthSocket=.*|AuthSocket=$B_SOCK|" -e "s|^AdminSocket=.*|AdminSocket=$B_ADMIN|" "$STITCHD_CONF" >"$T/b.conf"
# A also lets recent password logins through while the store is down.
cat >>"$STITCHD_CONF" <<X
[Offline]
Enabled=yes
MaxAge=10s
CacheFile=$T/offline.db
X
stitch_start
B_PID=$("$STITCH_SPAWN" --timeout 30 -- "$STITCHD" --foreground --config "$T/b.conf" 2>>"$B_LOG" 3>&- </dev/null) \
        || fail "daemon B did not start: $(tail -n 5 "$B_LOG")"
grep -q "store postgresql://stitch@/stitch" "$STITCHD_LOG" || fail "A does not name the store: $(tail -n 3 "$STITCHD_LOG")"
ok "two daemons on one PostgreSQL store"

a() { sctl "$@"; }
b() { "$STITCHCTL" --socket "$B_SOCK" --admin-socket "$B_ADMIN" "$@"; }
login_on() { # SOCKET USER PASSWORD
        "$STITCHCTL" --socket "$1" call io.stitch.Auth.Login "$(jq -cn --arg u "$2" --arg p "$3" \
                '{user:$u, password:$p, service:"login", provider:"local-userpass"}')"
}
verify_on() { "$STITCHCTL" --socket "$1" call io.stitch.Token.Verify "$(jq -cn --arg t "$2" '{access_token:$t}')"; }
# until_on SECONDS CMD...: runs CMD until it succeeds, at most SECONDS (a
# deadline for a change to arrive, not a sleep standing in for readiness).
until_ok() {
        local limit=$1 start=$SECONDS
        shift
        until "$@" >/dev/null 2>&1; do
                [ $((SECONDS - start)) -ge "$limit" ] && return 1
                sleep 0.02
        done
}
refused() { ! "$@"; }

# A user made on A logs in through PAM on B, and tokens of each verify on the other.
stitch_user ada@example.com ada 'ada-secret'
pam_service fleet-b "socket=$B_SOCK timeout=5"
pam_run --service fleet-b --user ada auth acct <<<"ada-secret"
expect_out "auth: PAM_SUCCESS"
expect_out "acct: PAM_SUCCESS"
la=$(login_on "$STITCH_SOCKET" ada ada-secret) || fail "login on A: $la"
lb=$(login_on "$B_SOCK" ada ada-secret) || fail "login on B: $lb"
verify_on "$B_SOCK" "$(jq -r .parameters.access_token <<<"$la")" >/dev/null || fail "B does not verify A's token"
verify_on "$STITCH_SOCKET" "$(jq -r .parameters.access_token <<<"$lb")" >/dev/null || fail "A does not verify B's token"
ok "a user created on A logs in through PAM on B; tokens verify on both hosts"

# A revoke on A holds on B.
at=$(jq -r .parameters.access_token <<<"$la")
a session revoke "$(jq -r .parameters.session_id <<<"$la")" >/dev/null || fail "revoke on A"
until_ok 10 refused verify_on "$B_SOCK" "$at" || fail "B still verifies a session revoked on A"
ok "a session revoked on A is refused on B"

# Logouts on A: how long until B refuses (a figure, not a check).
figures=$("$STITCH_PYTHON" "$top_srcdir/tests/helpers/fleet-propagation.py" "$STITCH_SOCKET" "$B_SOCK" ada ada-secret 100) \
        || fail "logout propagation: $figures"
echo "# logout on A -> refused on B: $figures"
ok "100 logouts on A each held on B ($figures)"

# Disable on A: B refuses the user's tokens and logins.
lb=$(login_on "$B_SOCK" ada ada-secret) || fail "login on B: $lb"
bt=$(jq -r .parameters.access_token <<<"$lb")
a user disable ada >/dev/null || fail "disable on A"
until_ok 10 refused verify_on "$B_SOCK" "$bt" || fail "B still verifies a token of a user disabled on A"
login_on "$B_SOCK" ada ada-secret >/dev/null 2>&1 && fail "a user disabled on A logs in on B"
a user enable ada >/dev/null || fail "enable on A"
until_ok 10 login_on "$B_SOCK" ada ada-secret || fail "a user enabled again on A cannot log in on B"
ok "a user disabled on A is refused on B, and logs in again once enabled"

# A password change on A: the old password stops working on B.
printf 'ada-new-secret' | a user passwd ada --password-stdin >/dev/null || fail "passwd on A"
login_on "$B_SOCK" ada ada-secret >/dev/null 2>&1 && fail "the old password still logs in on B"
login_on "$B_SOCK" ada ada-new-secret >/dev/null || fail "the new password does not log in on B"
ok "a password changed on A holds on B"

# API keys: made on A, used on B; disabled on A, refused on B.
K=$(a apikey add --user ada --name fleet --json) || fail "apikey add on A"
KEY=$(jq -r .key <<<"$K"); KID=$(jq -r ._id <<<"$K")
keylogin_b() { "$STITCHCTL" --socket "$B_SOCK" call io.stitch.Auth.Login "$(jq -cn --arg k "$KEY" '{user:"ada", key:$k, service:"login"}')"; }
kb=$(keylogin_b) || fail "a key made on A does not log in on B: $kb"
a apikey disable "$KID" >/dev/null || fail "apikey disable on A"
keylogin_b >/dev/null 2>&1 && fail "a key disabled on A logs in on B"
until_ok 10 refused verify_on "$B_SOCK" "$(jq -r .parameters.access_token <<<"$kb")" \
        || fail "B still verifies a token of a key disabled on A"
ok "an API key made on A logs in on B; disabled on A, its logins and tokens are refused on B"

# Key rotation on A: B signs with the new key, and tokens of either verify on both.
kid=$(a key rotate --json | jq -r .kid) || fail "rotate on A"
until_ok 10 bash -c "'$STITCHCTL' --admin-socket '$B_ADMIN' --json key list | jq -e --arg k '$kid' '.keys[] | select(.kid == \$k and (.retired == null or .retired == false or .retired == 0))'" \
        || fail "B does not know the key rotated on A"
lb=$(login_on "$B_SOCK" ada ada-new-secret) || fail "login on B"
hdr=$("$STITCH_PYTHON" -c 'import base64, sys; h = sys.argv[1].split(".")[0]; print(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)).decode())' \
        "$(jq -r .parameters.access_token <<<"$lb")")
[ "$(jq -r .kid <<<"$hdr")" = "$kid" ] || fail "B does not sign with the key rotated on A: $hdr"
verify_on "$STITCH_SOCKET" "$(jq -r .parameters.access_token <<<"$lb")" >/dev/null || fail "A refuses B's new token"
ok "a key rotated on A signs on B"

# Delete on A: B refuses.
stitch_user bob@example.com bob 'bob-secret'
lb=$(login_on "$B_SOCK" bob bob-secret) || fail "bob on B: $lb"
a user delete bob >/dev/null || fail "delete on A"
until_ok 10 refused verify_on "$B_SOCK" "$(jq -r .parameters.access_token <<<"$lb")" \
        || fail "B still verifies a token of a user deleted on A"
login_on "$B_SOCK" bob bob-secret >/dev/null 2>&1 && fail "a user deleted on A logs in on B"
ok "a user deleted on A is refused on B"

# The store dies (SIGKILL) while both serve.
pam_service fleet-a "$PAM_ARGS"
pam_run --service fleet-a --user ada auth acct <<<"ada-new-secret"   # online: A keeps a verifier
expect_out "auth: PAM_SUCCESS"
la=$(login_on "$STITCH_SOCKET" ada ada-new-secret) || fail "login on A"
at=$(jq -r .parameters.access_token <<<"$la")
stitch_user cy@example.com cy 'cy-secret'   # acknowledged before the crash
pg_kill9
until_ok 10 refused verify_on "$B_SOCK" "$at" || fail "B still verifies from memory long after MaxStale with the store down"
out=$(verify_on "$B_SOCK" "$at"); grep -q "unreachable" <<<"$out" || fail "no clear reason: $out"
login_on "$B_SOCK" ada ada-new-secret >/dev/null 2>&1 && fail "a login succeeds with the store down"
grep -q "Lost the fleet store's change feed" "$B_LOG" || fail "B did not log the loss"
ok "with the store killed, B fails closed after MaxStale with a clear reason"

# Offline logins on A (and only on A, only with the right password, only through PAM).
pam_run --service fleet-a --user ada auth acct <<<"ada-new-secret"
expect_out "auth: PAM_SUCCESS"
expect_out "info: The user store cannot be reached: logged in offline, without a stitch session."
expect_out "acct: PAM_SUCCESS"
pam_run --service fleet-a --user ada auth <<<"ada-secret"
expect_out "auth: PAM_AUTH_ERR"
pam_run --service fleet-b --user ada auth <<<"ada-new-secret"
expect_no_out "auth: PAM_SUCCESS"
login_on "$STITCH_SOCKET" ada ada-new-secret >/dev/null 2>&1 || true
grep -q "Offline login of ada" "$STITCHD_LOG" || fail "the offline login was not logged"
ok "with the store down, a recent password login logs in offline through PAM on A; a wrong password does not; B has no offline cache"
# MaxAge (10s) after the last online login: no more.
offline_gone() {
        pam_run --service fleet-a --user ada auth <<<"ada-new-secret" >/dev/null
        ! printf '%s\n' "$PAM_OUT" | grep -qx "auth: PAM_SUCCESS"
}
until_ok 30 offline_gone || fail "the offline login still works after MaxAge"
ok "the offline login ends MaxAge after the last online one"

pg_start
until_ok 20 verify_on "$B_SOCK" "$at" || fail "B does not verify again after the store came back"
login_on "$B_SOCK" cy cy-secret >/dev/null || fail "a user acknowledged before the crash is lost"
grep -q "Following the fleet store's change feed again" "$B_LOG" || fail "B did not log the return"
# What happens now on A reaches B through the reopened feed.
# A may still be in its reconnect backoff (2 s at most: calls fail at once
# with "store unreachable" meanwhile); a revoke is safe to repeat.
until_ok 10 a session revoke "$(jq -r .parameters.session_id <<<"$la")" || fail "revoke on A after the restart"
until_ok 10 refused verify_on "$B_SOCK" "$at" || fail "B misses a revoke made after the restart"
ok "after a restart nothing acknowledged is lost and B follows the feed again"

grep -qiE "password=|ada-secret|ada-new-secret" "$STITCHD_LOG" "$B_LOG" && fail "a secret in a daemon's log"
ok "no secret in either log"
