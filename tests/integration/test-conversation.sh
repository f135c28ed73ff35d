#!/bin/bash
# Login as a conversation the daemon drives: what it asks, who may answer
# (the caller's uid, on the connection it was asked on), that a conversation
# works once and ends with its connection, that asking costs no attempt, and
# that stitchctl login renders it.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"

stitch_config <<'X'
[Limits]
MaxFailures=3
X
stitch_start
stitch_user ada@example.com ada 'correct horse'
key=$(sctl apikey add --user ada --name conv --json | jq -r .key) || fail "apikey add"

# The rounds of a login go over one connection, as pam_stitch sends them.
stitch_wire_open W
begin() { # USER [PROVIDER]
        stitch_wire W io.stitch.Auth.Login "$(jq -cn --arg u "$1" --arg p "${2:-auto}" \
                '{user:$u, service:"login", provider:$p, interactive:true}')"
}
answer() { # CONVERSATION ANSWERS_JSON
        stitch_wire W io.stitch.Auth.Login "$(jq -cn --arg c "$1" --argjson a "$2" '{conversation:$c, answers:$a}')"
}

# The first round asks; the same question for users who do not exist.
ask=$(begin ada) || fail "begin: $ask"
expect_eq "auto asks" '[{"id":"secret","text":"Password: ","echo":false,"authtok":true}]' "$(jq -c .parameters.prompts <<<"$ask")"
conv=$(jq -r .parameters.conversation <<<"$ask")
[[ $conv =~ ^[A-Za-z0-9]{24}$ ]] || fail "conversation id: $conv"
nobody=$(begin nosuchuser) || fail "begin for an unknown user"
expect_eq "same question for an unknown user" "$(jq -c .parameters.prompts <<<"$ask")" "$(jq -c .parameters.prompts <<<"$nobody")"
expect_eq "api-key asks" '[{"id":"key","text":"API key: ","echo":false,"authtok":false}]' "$(begin ada api-key | jq -c .parameters.prompts)"
expect_eq "local-userpass asks" password "$(begin ada local-userpass | jq -r '.parameters.prompts[0].id')"
ok "the daemon asks: auto, api-key and local-userpass questions; unknown users get the same one"

# Answering logs in; the id then is spent.
out=$(answer "$conv" '{"secret":"correct horse"}') || fail "answer: $out"
expect_eq "provider" local-userpass "$(jq -r .parameters.provider_type <<<"$out")"
[ -n "$(jq -r '.parameters.session_id // empty' <<<"$out")" ] || fail "no session: $out"
expect_eq "no authtok hint for a password" null "$(jq -c .parameters.authtok <<<"$out")"
again=$(answer "$conv" '{"secret":"correct horse"}') && fail "a spent conversation worked again"
expect_eq "spent" io.stitch.Error.SessionInvalid "$(jq -r .error <<<"$again")"
expect_eq "made-up id" io.stitch.Error.SessionInvalid "$(answer AAAAAAAAAAAAAAAAAAAAAAAA '{"secret":"x"}' | jq -r .error)"
ok "an answered conversation logs in once; spent and made-up ids are SessionInvalid"

# An API key typed at "Password: " logs in with api-key, and is marked as no password.
conv=$(begin ada | jq -r .parameters.conversation)
out=$(answer "$conv" "$(jq -cn --arg k "$key" '{secret:$k}')") || fail "key answer: $out"
expect_eq "api-key via auto" "api-key false" "$(jq -r '.parameters.provider_type, .parameters.authtok' <<<"$out" | xargs)"
conv=$(begin ada | jq -r .parameters.conversation)
bad=$(answer "$conv" '{"secret":"stk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}')
expect_eq "wrong key: failure, still no password" "io.stitch.Error.InvalidCredentials false" "$(jq -r '.error, .parameters.authtok' <<<"$bad" | xargs)"
conv=$(begin ada | jq -r .parameters.conversation)
near=$(answer "$conv" '{"secret":"stk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+"}')
expect_eq "a near-miss is a password" "io.stitch.Error.InvalidCredentials null" "$(jq -r '.error, .parameters.authtok' <<<"$near" | xargs)"
ok "auto: an API key at the password prompt logs in with api-key and is never called a password"

# Only what was asked may be answered; only answers may continue.
conv=$(begin ada | jq -r .parameters.conversation)
out=$(answer "$conv" '{"password":"correct horse"}')
expect_eq "unasked answer" "io.stitch.Error.InvalidParameter answers" "$(jq -r '.error, .parameters.parameter' <<<"$out" | xargs)"
out=$(stitch_wire W io.stitch.Auth.Login "$(jq -cn --arg c "$conv" '{conversation:$c, password:"x"}')")
expect_eq "password with a conversation" io.stitch.Error.InvalidParameter "$(jq -r .error <<<"$out")"
out=$(sctl call io.stitch.Auth.Login '{"user":"ada","service":"login","answers":{"secret":"x"}}')
expect_eq "answers without a conversation" "io.stitch.Error.InvalidParameter answers" "$(jq -r '.error, .parameters.parameter' <<<"$out" | xargs)"
conv=$(begin ada | jq -r .parameters.conversation)
out=$(stitch_wire W io.stitch.Auth.Login "$(jq -cn --arg c "$conv" '{conversation:$c, user:"bob", answers:{secret:"correct horse"}}')")
expect_eq "another user for the conversation" io.stitch.Error.SessionInvalid "$(jq -r .error <<<"$out")"
ok "unasked answers, credentials beside a conversation and a changed user are refused"

# A caller that cannot answer questions is told what is missing, as before.
out=$(sctl call io.stitch.Auth.Login '{"user":"ada","service":"login"}')
expect_eq "non-interactive" "io.stitch.Error.InvalidParameter password" "$(jq -r '.error, .parameters.parameter' <<<"$out" | xargs)"
out=$(sctl call io.stitch.Auth.Login '{"user":"ada","service":"login","provider":"api-key"}')
expect_eq "non-interactive api-key" "io.stitch.Error.InvalidParameter key" "$(jq -r '.error, .parameters.parameter' <<<"$out" | xargs)"
ok "non-interactive callers get InvalidParameter naming the credential"

# Asking is not an attempt: with MaxFailures=3, counted questions would lock
# the account (and refuse the next questions) long before the answer.
for i in 1 2 3 4 5 6 7 8; do
        out=$(begin ada) || fail "question $i refused: $out"
done
conv=$(begin ada | jq -r .parameters.conversation)
out=$(answer "$conv" '{"secret":"correct horse"}') || fail "login after many questions: $out"
for i in 1 2 3; do
        conv=$(begin ada | jq -r .parameters.conversation)
        expect_eq "failure $i" io.stitch.Error.InvalidCredentials "$(answer "$conv" '{"secret":"wrong horse"}' | jq -r .error)"
done
sctl user unlock ada >/dev/null || fail "unlock"
ok "questions cost no attempt; answers count as attempts"

# Another uid cannot continue someone else's conversation, nor another
# connection of the same uid; a closed connection ends what it was asked.
stitch_local_account EVE
conv=$(begin ada | jq -r .parameters.conversation)
out=$(stitch_as "$EVE" "$STITCHCTL" call io.stitch.Auth.Login "$(jq -cn --arg c "$conv" '{conversation:$c, answers:{secret:"correct horse"}}')")
expect_eq "other uid" io.stitch.Error.SessionInvalid "$(jq -r .error <<<"$out")"
out=$(sctl call io.stitch.Auth.Login "$(jq -cn --arg c "$conv" '{conversation:$c, answers:{secret:"correct horse"}}')")
expect_eq "other connection of the same uid" io.stitch.Error.SessionInvalid "$(jq -r .error <<<"$out")"
out=$(answer "$conv" '{"secret":"correct horse"}') || fail "the owner could not continue after strangers tried: $out"
conv=$(begin ada | jq -r .parameters.conversation)
stitch_wire_close W
stitch_wire_open W
out=$(answer "$conv" '{"secret":"correct horse"}') && fail "a conversation outlived its connection: $out"
expect_eq "closed connection" io.stitch.Error.SessionInvalid "$(jq -r .error <<<"$out")"
ok "conversations belong to their caller uid and connection, and end when it closes"

# 32 waiting per caller: more push out the caller's own oldest, never
# anyone else's, and a new login is never refused.
stitch_wire_open E "$EVE"
eve_begin() { stitch_wire E io.stitch.Auth.Login "$(jq -cn --arg u "$EVE" '{user:$u, service:"login", interactive:true}')"; }
first=$(eve_begin | jq -r .parameters.conversation) || fail "eve's first question"
for i in $(seq 2 40); do
        eve_begin >/dev/null || fail "eve's question $i was refused"
done
ada_conv=$(begin ada | jq -r .parameters.conversation)
out=$(stitch_wire E io.stitch.Auth.Login "$(jq -cn --arg c "$first" '{conversation:$c, answers:{secret:"x"}}')")
expect_eq "eve's oldest question made room" io.stitch.Error.SessionInvalid "$(jq -r .error <<<"$out")"
out=$(answer "$ada_conv" '{"secret":"correct horse"}') || fail "another caller's conversation was pushed out: $out"
grep -q "ended the longest-waiting unanswered login" "$STITCHD_LOG" || fail "the eviction was not logged"
stitch_wire_close E
stitch_wire_close W
ok "a full share makes room from its own oldest; other callers are untouched"

# stitchctl login renders the questions: a password, then a key, at the same prompt.
out=$(printf 'correct horse\n' | sctl login --user ada --json) || fail "stitchctl login (password): $out"
expect_eq "stitchctl login password" local-userpass "$(jq -r .provider_type <<<"$out")"
out=$(printf '%s\n' "$key" | sctl login --user ada --json) || fail "stitchctl login (key): $out"
expect_eq "stitchctl login key" api-key "$(jq -r .provider_type <<<"$out")"
ok "stitchctl login answers the daemon's questions"
