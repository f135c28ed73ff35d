#!/bin/bash
# local-userpass logins: who may log in as whom, equal answers for every
# kind of failure, password rules, EmailDomain mapping, hash upgrades,
# ChangePassword.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"

stitch_config <<'X'
[Pam]
EmailDomain=example.org
X
stitch_start

login() { # USER PASSWORD [SERVICE]
        sctl call io.stitch.Auth.Login "$(jq -cn --arg u "$1" --arg p "$2" --arg s "${3:-login}" \
                '{user:$u, password:$p, service:$s, provider:"local-userpass"}')"
}
verifications() { sctl status --json | jq .password_verifications; }

stitch_user ada@example.com ada 'correct horse'
stitch_user bob@example.com bob 'bob-secret'
printf 'carol-secret' | sctl user add --email carol@example.org --password-stdin >/dev/null || fail "user without unix_name"

# Correct password.
out=$(login ada 'correct horse') || fail "login with the right password failed: $out"
for f in user_id session_id access_token refresh_token device_id; do
        [ -n "$(jq -r ".parameters.$f // empty" <<<"$out")" ] || fail "Login reply lacks $f"
done
expect_eq "provider_type" local-userpass "$(jq -r .parameters.provider_type <<<"$out")"
ok "correct password logs in"

# Wrong password, unknown user, disabled user, unix_name mismatch: one answer.
wrong=$(login ada 'wrong horse'); rc1=$?
unknown=$(login nosuchuser 'wrong horse'); rc2=$?
sctl user add --unix-name dave >/dev/null || fail "user add --unix-name"
printf 'dave-secret' | sctl user passwd dave --password-stdin >/dev/null 2>&1 # no email: must be refused
sctl user disable bob >/dev/null || fail "disable"
disabled=$(login bob 'bob-secret'); rc3=$?
mismatch=$(login bob2 'bob-secret'); rc4=$?
expect_eq "exit codes" "1 1 1 1" "$rc1 $rc2 $rc3 $rc4"
expect_eq "unknown vs wrong" "$wrong" "$unknown"
expect_eq "disabled vs wrong" "$wrong" "$disabled"
expect_eq "mismatch vs wrong" "$wrong" "$mismatch"
expect_eq "error" io.stitch.Error.InvalidCredentials "$(jq -r .error <<<"$wrong")"
ok "wrong password, unknown user, disabled user and name mismatch answer identically"

# Unknown users still pay for a hash (dummy hash), like a wrong password.
before=$(verifications); login nosuchuser 'whatever1' >/dev/null; after=$(verifications)
expect_eq "dummy verification for unknown user" $((before + 1)) "$after"
before=$(verifications); login bob 'bob-secret' >/dev/null; after=$(verifications)
expect_eq "disabled user also verifies" $((before + 1)) "$after"
ok "unknown and disabled users cost one argon2id verification"

# Passwords outside 6..128 characters are refused without hashing.
before=$(verifications)
short=$(login ada '12345'); long=$(login ada "$(printf 'a%.0s' $(seq 129))")
after=$(verifications)
expect_eq "no hashing for out-of-policy passwords" "$before" "$after"
expect_eq "short password answer" "$wrong" "$short"
expect_eq "long password answer" "$wrong" "$long"
ok "5- and 129-character passwords are refused cheaply"

# EmailDomain: carol has no unix_name but carol@example.org maps to "carol".
login carol 'carol-secret' >/dev/null || fail "EmailDomain mapping"
out=$(login carol@example.org 'carol-secret') && fail "logging in by raw email must not work"
ok "EmailDomain maps NAME to NAME@EmailDomain"

# Services= restricts which PAM services may use stitch.
stitch_stop
stitch_config <<'X'
[Pam]
Services=login sshd
X
stitch_start
login ada 'correct horse' login >/dev/null || fail "login service allowed"
out=$(login ada 'correct horse' sudo) && fail "service not in Services= must be refused"
expect_eq "service refusal" io.stitch.Error.PermissionDenied "$(jq -r .error <<<"$out")"
ok "Services= restricts PAM services"

# Password hashes made with other parameters are upgraded on the next login.
old_hash=$(sqlite3 "$T/stitch.db" "SELECT hash FROM passwords p JOIN users u ON u.id=p.user_id WHERE u.unix_name='ada'")
stitch_stop
stitch_config <<'X'
[Provider.local-userpass]
PasswordHash=argon2id:m=2048,t=1,p=1
X
stitch_start
login ada 'correct horse' >/dev/null || fail "login after parameter change"
new_hash=$(sqlite3 "$T/stitch.db" "SELECT hash FROM passwords p JOIN users u ON u.id=p.user_id WHERE u.unix_name='ada'")
case $old_hash in '$argon2id$v=19$m=1024,t=1,p=1$'*) ;; *) fail "unexpected old hash format" ;; esac
case $new_hash in '$argon2id$v=19$m=2048,t=1,p=1$'*) ;; *) fail "hash was not upgraded: ${new_hash:0:30}" ;; esac
login ada 'correct horse' >/dev/null || fail "login with upgraded hash"
ok "outdated argon2id parameters are upgraded on login"

# ChangePassword by the owner (root acts for anyone here), with end_other_sessions.
s1=$(login ada 'correct horse' | jq -r .parameters.session_id)
s2json=$(login ada 'correct horse'); s2=$(jq -r .parameters.session_id <<<"$s2json")
out=$(sctl call io.stitch.Auth.ChangePassword "$(jq -cn '{user:"ada", old_password:"nope-nope", new_password:"brand new pw"}')") \
        && fail "ChangePassword with a wrong old password must fail"
out=$(sctl call io.stitch.Auth.ChangePassword "$(jq -cn '{user:"ada", old_password:"correct horse", new_password:"12345"}')") \
        && fail "too-short new password must be refused"
expect_eq "policy error" io.stitch.Error.InvalidParameter "$(jq -r .error <<<"$out")"
jq -r .parameters.message <<<"$out" | grep -q 'between 6 and 128' || fail "rule not stated in words: $out"
sctl call io.stitch.Auth.ChangePassword "$(jq -cn --arg s "$s2" '{user:"ada", old_password:"correct horse", new_password:"brand new pw", end_other_sessions:true, session_id:$s}')" >/dev/null \
        || fail "ChangePassword failed"
login ada 'correct horse' >/dev/null && fail "old password still works"
login ada 'brand new pw' >/dev/null || fail "new password does not work"
sctl session list --user ada --json | jq -e --arg s "$s1" 'all(.sessions[]; .session_id != $s)' >/dev/null \
        || fail "other session survived end_other_sessions"
sctl session list --user ada --json | jq -e --arg s "$s2" 'any(.sessions[]; .session_id == $s)' >/dev/null \
        || fail "the caller's own session was ended"
ok "ChangePassword checks the old password, states the rules, ends other sessions"

# passwd for an account stitch does not know: NotFound, so pam_unix can take over.
out=$(sctl call io.stitch.Auth.ChangePassword '{"user":"localonly","old_password":"whatever1","new_password":"whatever2"}') \
        && fail "ChangePassword for a non-stitch user succeeded"
expect_eq "not a stitch user" io.stitch.Error.NotFound "$(jq -r .error <<<"$out")"
ok "ChangePassword says NotFound for accounts that are not stitch users"

# Admin password reset.
printf 'reset-by-admin' | sctl user passwd ada --password-stdin >/dev/null || fail "user passwd"
login ada 'reset-by-admin' >/dev/null || fail "admin reset password"
printf '12345' | sctl user passwd ada --password-stdin >/dev/null 2>&1 && fail "admin reset must apply the rules"
ok "stitchctl user passwd resets passwords within the rules"
