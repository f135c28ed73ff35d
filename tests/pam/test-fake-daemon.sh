#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The module's side of the protocol, against fake-stitchd: what each hook
# sends, how it prompts, and how every answer maps to a PAM code.
. "$(dirname "$0")/pam-lib.sh"

command -v jq >/dev/null || skip "jq is not installed"

N=0
# with_fake REPLY [fake-stitchd options]: a fresh fake daemon answering REPLY
# to everything (a Login that begins gets FAKE_ASK, by default the daemon's
# "Password: " prompt), and service "fake" (all four types) pointing at it.
with_fake() {
        N=$((N + 1))
        FAKE_SOCK=$T/fake-$N.sock
        FAKE_LOG=$T/fake-$N.log
        : > "$FAKE_LOG"
        fake_start "$FAKE_SOCK" "$FAKE_LOG" --reply "$1" ${FAKE_ASK:+--ask "$FAKE_ASK"}
        pam_service fake "socket=$FAKE_SOCK timeout=3 ${FAKE_ARGS:-}"
}
# Parameters of the calls to METHOD, one JSON object per line.
sent() {
        fake_messages "$FAKE_LOG" | jq -c --arg m "$1" 'select(.method == $m) | .parameters'
}
sent_count() {
        fake_messages "$FAKE_LOG" | jq -c --arg m "$1" 'select(.method == $m)' | wc -l
}
sent_keys() {
        sent "$1" | jq -c 'keys' | head -n 1
}

err() { printf '{"error":"io.stitch.Error.%s","parameters":{"message":"%s"%s}}' "$1" "${2:-nope}" "${3:+,$3}"; }
LOGIN_OK='{"parameters":{"user_id":"5f1d00000000000000000001","session_id":"sess_abc-123","binding":"stb_binding-1","access_token":"h.p.s","refresh_token":"rt_not_a_real_secret","device_id":"000000000000000000000000","provider_type":"local-userpass","expires":1790000000,"allowed":true}}'
API_KEY=stk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA

# ---- a whole login with a password ------------------------------------------
with_fake "$LOGIN_OK"
pam_run --service fake --user ada --rhost 192.0.2.1 --tty pts/7 --ruser eve \
        auth acct setcred open env refresh close env delcred <<<"hunter22"
[ "$PAM_RC" = 0 ] || fail "login failed"
expect_out "prompt: Password: "
expect_out "env: STITCH_SESSION=sess_abc-123"
expect_out "env: STITCH_SESSION unset"
expect_out "env: STITCH_SESSION_BINDING unset"
expect_eq "Login keys" '["interactive","rhost","ruser","service","tty","user"]' "$(sent_keys io.stitch.Auth.Login)"
expect_eq "Login" '{"interactive":true,"rhost":"192.0.2.1","ruser":"eve","service":"fake","tty":"pts/7","user":"ada"}' \
        "$(sent io.stitch.Auth.Login | head -n 1 | jq -cS .)"
expect_eq "Login answers" '{"answers":{"secret":"hunter22"},"conversation":"conv_fake-1"}' \
        "$(sent io.stitch.Auth.Login | sed -n 2p | jq -cS .)"
expect_eq "Authorize" '{"binding":"stb_binding-1","service":"fake","session_id":"sess_abc-123","user":"ada"}' "$(sent io.stitch.Auth.Authorize | jq -cS .)"
# No pid: the daemon takes the caller's from SO_PEERCRED.
expect_eq "OpenSession keys" '["binding","service","session_id","tty","user"]' "$(sent_keys io.stitch.Auth.OpenSession)"
expect_eq "OpenSession session" "sess_abc-123" "$(sent io.stitch.Auth.OpenSession | jq -r .session_id)"
expect_eq "Refresh" '{"refresh_token":"rt_not_a_real_secret"}' "$(sent io.stitch.Token.Refresh | jq -cS .)"
expect_eq "CloseSession" '{"binding":"stb_binding-1","session_id":"sess_abc-123","user":"ada"}' "$(sent io.stitch.Auth.CloseSession | jq -cS .)"
expect_eq "calls" 6 "$(fake_messages "$FAKE_LOG" | wc -l)"
ok "password login: Login (asked, answered), Authorize, OpenSession, Refresh, CloseSession with the right parameters"

# The session id is in the PAM environment right after authentication, so a
# hook in another process (sshd's keyboard-interactive child) finds it.
# With its binding, which leaves the environment once the session is open.
pam_run --service fake --user ada auth env open env <<<"hunter22"
expect_out "env: STITCH_SESSION=sess_abc-123"
expect_out "env: STITCH_SESSION_BINDING=stb_binding-1"
expect_out "env: STITCH_SESSION_BINDING unset"
# ... and close_session in another process uses it, naming PAM_USER.
: > "$FAKE_LOG"
pam_run --service fake --user ada --env STITCH_SESSION=sess_other-1 --env STITCH_SESSION_BINDING=stb_other-1 close env
[ "$PAM_RC" = 0 ] || fail "close from the environment failed"
expect_eq "CloseSession from env" '{"binding":"stb_other-1","session_id":"sess_other-1","user":"ada"}' "$(sent io.stitch.Auth.CloseSession | jq -cS .)"
expect_out "env: STITCH_SESSION unset"
# A session id in the environment without its binding is not acted on.
: > "$FAKE_LOG"
pam_run --service fake --user ada --env STITCH_SESSION=sess_victim open close
expect_eq "nothing sent for a bare session id" 0 "$(fake_messages "$FAKE_LOG" | wc -l)"
# A session found in the environment at open is the one closed, even if a
# later module (pam_env user_readenv=1) rewrites the variables.
: > "$FAKE_LOG"
pam_run --service fake --user ada --env STITCH_SESSION=sess_opened --env STITCH_SESSION_BINDING=stb_opened \
        open putenv:STITCH_SESSION=sess_victim putenv:STITCH_SESSION_BINDING=stb_victim close
[ "$PAM_RC" = 0 ] || fail "open/close from the environment failed"
expect_eq "OpenSession from env" sess_opened "$(sent io.stitch.Auth.OpenSession | jq -r .session_id)"
expect_eq "CloseSession after rewrite" '{"binding":"stb_opened","session_id":"sess_opened","user":"ada"}' "$(sent io.stitch.Auth.CloseSession | jq -cS .)"
: > "$FAKE_LOG"
pam_service_file fake-session <<X
session optional @PAM_STITCH@ socket=$FAKE_SOCK
session required pam_permit.so
auth optional @PAM_STITCH@ socket=$FAKE_SOCK
auth required pam_permit.so
X
pam_run --service fake-session --user ada --env 'STITCH_SESSION=../../etc' close
expect_out "close: PAM_SUCCESS"
expect_eq "nothing sent for a malformed id" 0 "$(fake_messages "$FAKE_LOG" | wc -l)"
ok "STITCH_SESSION from the PAM environment (and malformed ones ignored)"

# sudo sets PAM_USER to the target user after the account check: the
# session is still registered and ended; an account check for another user
# than the one authenticated does not use the session.
: > "$FAKE_LOG"
pam_run --service fake --user ada auth acct user:root acct open close <<<"hunter22"
[ "$PAM_RC" = 0 ] || fail "changing PAM_USER broke the transaction"
expect_eq "Authorize calls" '{"binding":"stb_binding-1","service":"fake","session_id":"sess_abc-123","user":"ada"} {"service":"fake","user":"root"}' \
        "$(sent io.stitch.Auth.Authorize | jq -cS . | xargs -d '\n')"
expect_eq "OpenSession" sess_abc-123 "$(sent io.stitch.Auth.OpenSession | jq -r .session_id)"
expect_eq "CloseSession" sess_abc-123 "$(sent io.stitch.Auth.CloseSession | jq -r .session_id)"
ok "PAM_USER changed after authentication (sudo): session kept, account judged alone"

# No stitch session: session hooks and setcred ignore the login.
: > "$FAKE_LOG"
pam_run --service fake-session --user ada setcred open close
[ "$PAM_RC" = 0 ] || fail "session without a stitch session failed"
expect_eq "nothing sent without a session" 0 "$(fake_messages "$FAKE_LOG" | wc -l)"
ok "no stitch session: setcred/open/close ignore the login"

# sshd calls PAM_REINITIALIZE_CRED in the session's child, where only the
# environment may know the session: that must succeed, without a call.
: > "$FAKE_LOG"
pam_run --service fake --user ada --env STITCH_SESSION=sess_abc-123 reinit setcred delcred
[ "$PAM_RC" = 0 ] || fail "setcred with a session from the environment failed"
pam_run --service fake --user ada --env STITCH_SESSION=sess_abc-123 refresh
expect_out "refresh: PAM_PERM_DENIED"
expect_eq "nothing sent" 0 "$(fake_messages "$FAKE_LOG" | wc -l)"
ok "setcred: establish/reinitialize/delete succeed for a known session; refresh needs the refresh token"

# ---- stacking: PAM_AUTHTOK for passwords, never for API keys ----------------
: > "$FAKE_LOG"
pam_service_file stacked <<X
auth required @PAM_STITCH@ socket=$FAKE_SOCK
auth required @PAM_STITCH@ socket=$FAKE_SOCK use_first_pass
X
pam_run --service stacked --user ada auth <<<"hunter22"
expect_out "auth: PAM_SUCCESS"
expect_eq "one prompt" 1 "$(printf '%s\n' "$PAM_OUT" | grep -c '^prompt:')"
expect_eq "two logins of two rounds" 4 "$(sent_count io.stitch.Auth.Login)"
expect_eq "same password" "hunter22 hunter22" "$(sent io.stitch.Auth.Login | jq -r '.answers.secret // empty' | xargs)"
ok "a prompted password is handed to stacked modules"

# The daemon says when what was typed at "Password: " was no password.
LOGIN_KEY=$(jq -c '.parameters.authtok = false' <<<"$LOGIN_OK")
with_fake "$LOGIN_KEY"
pam_service_file stacked <<X
auth required @PAM_STITCH@ socket=$FAKE_SOCK
auth required @PAM_STITCH@ socket=$FAKE_SOCK use_first_pass
X
pam_run --service stacked --user ada auth <<<"$API_KEY"
expect_out "auth: PAM_AUTH_ERR"
expect_eq "logins: two rounds, then the second module's first" 3 "$(sent_count io.stitch.Auth.Login)"
expect_eq "the key went once" "$API_KEY" "$(sent io.stitch.Auth.Login | jq -r '.answers.secret // empty' | xargs)"
with_fake "$(err InvalidCredentials | jq -c '.parameters.authtok = false')"
pam_service_file stacked <<X
auth optional @PAM_STITCH@ socket=$FAKE_SOCK
auth required @PAM_STITCH@ socket=$FAKE_SOCK use_first_pass
X
pam_run --service stacked --user ada auth <<<"$API_KEY"
expect_out "auth: PAM_AUTH_ERR"
expect_eq "not handed on after a failure either" 3 "$(sent_count io.stitch.Auth.Login)"
ok "an answer the daemon calls no password (an API key) is not handed on"

# ---- what the daemon asks is what the module asks --------------------------
FAKE_ARGS=provider=api-key FAKE_ASK='{"parameters":{"conversation":"c1","prompts":[{"id":"key","text":"API key: ","echo":false,"authtok":false}]}}' \
        with_fake "$LOGIN_OK"
pam_run --service fake --user ada auth <<<"$API_KEY"
expect_out "prompt: API key: "
expect_out "auth: PAM_SUCCESS"
expect_eq "api-key provider" api-key "$(sent io.stitch.Auth.Login | head -n 1 | jq -r .provider)"
expect_eq "key answer" "$API_KEY" "$(sent io.stitch.Auth.Login | sed -n 2p | jq -r .answers.key)"
FAKE_ARGS=provider=local-userpass with_fake "$LOGIN_OK"
pam_run --service fake --user ada auth <<<"hunter22"
expect_eq "local-userpass provider" local-userpass "$(sent io.stitch.Auth.Login | head -n 1 | jq -r .provider)"
FAKE_ARGS=provider=anon-user FAKE_ASK=none with_fake "$LOGIN_OK"
pam_run --service fake --user guest auth </dev/null
expect_out "auth: PAM_SUCCESS"
expect_no_out "prompt:"
expect_eq "anon login" '{"interactive":true,"provider":"anon-user","service":"fake","user":"guest"}' "$(sent io.stitch.Auth.Login | jq -cS .)"
# Any provider name the daemon knows; messages, echo and several prompts.
FAKE_ARGS=provider=oauth2-example FAKE_ASK='{"parameters":{"conversation":"c2","messages":[{"text":"Open https://example.test/device and enter WXYZ-1234\u001b[2J","error":false},{"text":"Mind the clock.","error":true}],"prompts":[{"id":"code","text":"Code: ","echo":true,"authtok":false},{"id":"otp","text":"One-time password: ","echo":false,"authtok":false}]}}' \
        with_fake "$LOGIN_OK"
pam_run --service fake --user ada auth <<<$'abc\n123456'
expect_out "info: Open https://example.test/device and enter WXYZ-1234?[2J"
expect_out "error: Mind the clock."
expect_out "prompt-echo: Code: "
expect_out "prompt: One-time password: "
expect_out "auth: PAM_SUCCESS"
expect_eq "answers" '{"answers":{"code":"abc","otp":"123456"},"conversation":"c2"}' "$(sent io.stitch.Auth.Login | sed -n 2p | jq -cS .)"
expect_eq "provider passed through" oauth2-example "$(sent io.stitch.Auth.Login | head -n 1 | jq -r .provider)"
ok "the module renders what the daemon asks: prompts (echo on/off), info and error text; providers by name only"

# Malformed questions and endless questioning fail closed.
for ask in '{"parameters":{"conversation":"c1","prompts":"x"}}' \
           '{"parameters":{"conversation":"c 1","prompts":[]}}' \
           '{"parameters":{"conversation":"c1","prompts":[{"id":"a b","text":"?"}]}}' \
           '{"parameters":{"conversation":"c1","prompts":[{"id":"a"}]}}'; do
        FAKE_ASK=$ask with_fake "$LOGIN_OK"
        pam_run --service fake --user ada auth <<<"hunter22"
        expect_out "auth: PAM_AUTHINFO_UNAVAIL"
done
ENDLESS='{"parameters":{"conversation":"c9","prompts":[{"id":"again","text":"Again: ","echo":false}]}}'
FAKE_ASK=$ENDLESS with_fake "$ENDLESS"
pam_run --service fake --user ada auth <<<$'1\n2\n3\n4\n5\n6\n7\n8\n9\n10'
expect_out "auth: PAM_AUTHINFO_UNAVAIL"
expect_eq "rounds" 8 "$(sent_count io.stitch.Auth.Login)"
ok "malformed questions and more than 8 rounds fail closed"

# try_first_pass uses an earlier password, or prompts.
with_fake "$LOGIN_OK"
pam_service_file try <<X
auth optional @PAM_STITCH@ socket=$FAKE_SOCK try_first_pass
X
pam_run --service try --user ada auth <<<"hunter22"
expect_out "prompt: Password: "
expect_out "auth: PAM_SUCCESS"
FAKE_ARGS=use_first_pass with_fake "$LOGIN_OK"
pam_run --service fake --user ada auth </dev/null
expect_out "auth: PAM_AUTH_ERR"
expect_no_out "prompt:"
expect_eq "only the question was asked" 1 "$(fake_messages "$FAKE_LOG" | wc -l)"
ok "try_first_pass prompts when alone; use_first_pass fails without a password"

# ---- local refusals: after the prompt, before the daemon ------------------
with_fake "$LOGIN_OK"
long=$(printf 'x%.0s' $(seq 1 257))
longer=$(printf 'x%.0s' $(seq 1 16385))
pam_run --service fake --user ada auth <<<"$longer"
expect_out "prompt: Password: "
expect_out "auth: PAM_AUTH_ERR"
pam_run --service fake --user ada auth <<<""
expect_out "auth: PAM_AUTH_ERR"
expect_eq "no answer sent" 0 "$(sent io.stitch.Auth.Login | jq -c 'select(.answers)' | wc -l)"
: > "$FAKE_LOG"
pam_run --service fake --user "$long" auth <<<"hunter22"
expect_out "prompt: Password: "
expect_out "auth: PAM_AUTH_ERR"
expect_eq "nothing sent" 0 "$(fake_messages "$FAKE_LOG" | wc -l)"
ok "over-long user names (without a call) and over-long or empty answers (never sent) fail after a prompt"

# ---- arguments ----------------------------------------------------------------
for bad in provider= provider=Bogus provider=a/b provider=$(printf 'p%.0s' $(seq 1 65)) timeout=0 timeout=301 timeout=-1 timeout=5s socket=relative/path daemon_user=; do
        FAKE_ARGS=$bad with_fake "$LOGIN_OK"
        pam_run --service fake --user ada auth </dev/null
        expect_out "auth: PAM_SERVICE_ERR"
done
FAKE_ARGS="frobnicate debug" with_fake "$LOGIN_OK"
pam_run --service fake --user ada auth <<<"hunter22"
expect_out "auth: PAM_SUCCESS"
ok "bad values are configuration errors; unknown arguments are ignored"

# ---- error replies at authentication ---------------------------------------
auth_maps() {
        with_fake "$1"
        pam_run --service fake --user ada auth <<<"hunter22"
        expect_out "auth: $2"
}
auth_maps "$(err InvalidCredentials)" PAM_AUTH_ERR
expect_no_out "error:"
auth_maps "$(err UserDisabled)" PAM_AUTH_ERR
auth_maps "$(err NotFound)" PAM_AUTH_ERR
auth_maps "$(err PermissionDenied 'service not allowed')" PAM_AUTH_ERR
auth_maps "$(err InvalidParameter)" PAM_AUTH_ERR
FAKE_ASK="$(err InvalidParameter "unknown provider 'bogus'" '"parameter":"provider"')" auth_maps "$(err InvalidParameter)" PAM_SERVICE_ERR
auth_maps "$(err TooManyAttempts 'slow down' '"retry_after":30')" PAM_MAXTRIES
expect_out "error: Too many failed attempts; try again in 30 seconds."
auth_maps "$(err Busy)" PAM_AUTHINFO_UNAVAIL
auth_maps "$(err Internal)" PAM_AUTHINFO_UNAVAIL
auth_maps '{"error":"org.example.Surprise","parameters":{}}' PAM_AUTHINFO_UNAVAIL
auth_maps '{"parameters":{}}' PAM_AUTHINFO_UNAVAIL
auth_maps '{"parameters":{"session_id":"x y","refresh_token":"r","user_id":"u"}}' PAM_AUTHINFO_UNAVAIL
auth_maps '{"parameters":{"session_id":"abc","user_id":"u"}}' PAM_AUTHINFO_UNAVAIL
auth_maps '{"parameters":{"session_id":"abc","refresh_token":"r","user_id":"u"},"extra":1}' PAM_AUTHINFO_UNAVAIL
ok "authentication errors map to AUTH_ERR/MAXTRIES/AUTHINFO_UNAVAIL; odd replies fail closed"

# ---- account -------------------------------------------------------------------
acct_maps() {
        with_fake "$1"
        pam_run --service fake --user ada acct
        expect_out "acct: $2"
}
acct_maps '{"parameters":{"user_id":"u","allowed":true}}' PAM_SUCCESS
expect_eq "Authorize without a session" '{"service":"fake","user":"ada"}' "$(sent io.stitch.Auth.Authorize | jq -cS .)"
acct_maps '{"parameters":{"user_id":"u","allowed":false}}' PAM_PERM_DENIED
acct_maps '{"parameters":{"user_id":"u","allowed":"yes"}}' PAM_PERM_DENIED
acct_maps '{"parameters":{}}' PAM_PERM_DENIED
acct_maps "$(err NotFound)" PAM_USER_UNKNOWN
expect_no_out "error:"
acct_maps "$(err UserDisabled)" PAM_ACCT_EXPIRED
expect_out "error: Your stitch account is disabled."
acct_maps "$(err PermissionDenied)" PAM_PERM_DENIED
expect_out "error: Your stitch account may not log in through this service."
acct_maps "$(err SessionInvalid)" PAM_PERM_DENIED
acct_maps "$(err Busy)" PAM_AUTHINFO_UNAVAIL
acct_maps '{"error":"org.example.Surprise","parameters":{}}' PAM_AUTHINFO_UNAVAIL
with_fake "$(err UserDisabled)"
pam_run --silent --service fake --user ada acct
expect_out "acct: PAM_ACCT_EXPIRED"
expect_no_out "error:"
ok "account answers map to SUCCESS/USER_UNKNOWN/ACCT_EXPIRED/PERM_DENIED/AUTHINFO_UNAVAIL; PAM_SILENT is honoured"

# ---- sessions and credentials: failures ----------------------------------------
with_fake "$(err SessionInvalid)"
pam_run --service fake --user ada --env STITCH_SESSION=sess_gone --env STITCH_SESSION_BINDING=stb_gone open
expect_out "open: PAM_SESSION_ERR"
pam_run --service fake --user ada --env STITCH_SESSION=sess_gone --env STITCH_SESSION_BINDING=stb_gone close
expect_out "close: PAM_SUCCESS"
with_fake "$(err Internal)"
pam_run --service fake --user ada --env STITCH_SESSION=sess_x --env STITCH_SESSION_BINDING=stb_x close
expect_out "close: PAM_SESSION_ERR"
ok "open fails on an ended session; closing an ended session succeeds"

# ---- password change ------------------------------------------------------------
with_fake '{"parameters":{}}'
pam_run --service fake --user ada chauthtok <<<$'old-secret\nnew-secret\nnew-secret'
expect_out "prompt: Current password: "
expect_out "prompt: New password: "
expect_out "prompt: Retype new password: "
expect_out "chauthtok: PAM_SUCCESS"
expect_eq "check" '{"check_only":true,"old_password":"old-secret","service":"fake","user":"ada"}' \
        "$(sent io.stitch.Auth.ChangePassword | head -n 1 | jq -cS .)"
expect_eq "change" '{"new_password":"new-secret","old_password":"old-secret","service":"fake","user":"ada"}' \
        "$(sent io.stitch.Auth.ChangePassword | sed -n 2p | jq -cS .)"
expect_eq "prompts" 3 "$(printf '%s\n' "$PAM_OUT" | grep -c '^prompt:')"
ok "chauthtok: a check with the current password, then the change"

with_fake '{"parameters":{}}'
pam_run --service fake --user ada chauthtok <<<$'old-secret\nnew-secret\nother-secret'
expect_out "error: Passwords do not match."
expect_out "chauthtok: PAM_AUTHTOK_ERR"
expect_eq "only the check was sent" 1 "$(sent_count io.stitch.Auth.ChangePassword)"
with_fake "$(err InvalidCredentials)"
pam_run --service fake --user ada chauthtok <<<$'wrong'
expect_out "chauthtok: PAM_AUTH_ERR"
with_fake "$(err NotFound)"
pam_run --service fake --user ada chauthtok <<<$'whatever'
expect_out "chauthtok: PAM_USER_UNKNOWN"
ok "chauthtok: mismatch, rejected current password, not a stitch user"

# The daemon's password rule is shown, with control characters neutralised.
with_fake "$(err InvalidParameter 'Passwords must be 6 to 128 characters long.\u001b[2J' '"parameter":"new_password"')"
pam_run --service fake --user ada chauthtok <<<$'old-secret'
expect_out "error: Passwords must be 6 to 128 characters long.?[2J"
expect_out "chauthtok: PAM_AUTHTOK_ERR"
ok "the daemon's password rule is shown, sanitised"

# No secret ever reaches the transcript, i.e. what the user's terminal shows.
expect_no_out "old-secret"
