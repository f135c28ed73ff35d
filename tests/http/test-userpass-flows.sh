#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Stitch's email/password lifecycle over the HTTP API with a real SMTP
# server (aiosmtpd, tests/helpers/smtp-sink.py): register, the mailed link,
# the built-in confirm page (GET shows a form, POST confirms), a pending
# user refused at login until then, reset/send and the reset page ending
# the user's sessions, reused, superseded and forged tokens (expiry:
# tests/unit/test-userpass-flows.c, as TokenLifetime= is at least a minute), the same answer
# for unknown addresses, the per-address limits, command mode
# (ConfirmationCommand= success/pending/fail/hanging, ResetCommand=), and
# the page headers (CSP, no referrer, no framing, other origins refused).
. "${TESTS_LIB:?run through make check}" || exit 99
. "$top_srcdir/tests/http/http-lib.sh"
command -v curl >/dev/null || skip "curl is not installed"
command -v jq >/dev/null || skip "jq is not installed"
smtp_sink_start stitch_cleanup

query() { sed -n "s/.*[?&]$1=\([^&]*\).*/\1/p" <<<"$2"; }
form() { # form PATH DATA [ORIGIN]: POST a form, sets STATUS and BODY
        local extra=()
        [ -n "${3:-}" ] && extra=(-H "Origin: $3")
        STATUS=$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "${extra[@]}" -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$2" "$URL$1")
        BODY=$(cat "$T/body")
}
login() { http POST "$APP/auth/providers/local-userpass/login" "" "{\"username\":\"$1\",\"password\":\"$2\"}"; }

cat > "$T/confirm-success" <<'X'
#!/bin/sh
cat > /dev/null; echo '{"status":"success"}'
X
chmod 0755 "$T/confirm-success"

http_start <<X
[Provider.local-userpass]
Registration=yes
[Smtp]
URL=smtp://127.0.0.1:$SINK_PORT
From=noreply@example.com
X

# ---- register, the mail, the confirm page ---------------------------------------------
http POST "$APP/auth/providers/local-userpass/register" "" '{"email":"ann@example.org","password":"ann-first-pw"}'
check "register answers 201" [ "$STATUS" = 201 ]
m=$(mail_n 1)
expect_eq "To" "ann@example.org" "$(sed -n 's/^To: \(.*\)\r$/\1/p' "$m")"
expect_eq "Subject" "Confirm your email address" "$(sed -n 's/^Subject: \(.*\)\r$/\1/p' "$m")"
LINK=$(link_of "$m")
case $LINK in "$URL/confirm?token="*"&tokenId="*) ;; *) fail "the confirmation link is not the built-in page: $LINK" ;; esac
grep -q "tokenId" "$STITCHD_LOG" && fail "the link reached the log"
login ann@example.org ann-first-pw
{ [ "$STATUS" = 401 ] && [ "$(jq -r .error <<<"$BODY")" = "confirmation required" ]; } && ok "a pending user is refused: 401 confirmation required" || bad "a pending user is refused: 401 confirmation required"
login ann@example.org wrong-password-1
{ [ "$STATUS" = 401 ] && [ "$(jq -r .error_code <<<"$BODY")" = InvalidPassword ]; } && ok "a wrong password for a pending user says nothing of confirmation" || bad "a wrong password for a pending user says nothing of confirmation"
http POST "$APP/auth/providers/local-userpass/register" "" '{"email":"ann@example.org","password":"ann-other-pw"}'
# A pending address registered again: AccountNameInUse, and a new link
# (within the per-recipient limit) that supersedes the first.
OLD_LINK=$LINK
LINK=$(link_of "$(mail_n 2)")
[ "$LINK" != "$OLD_LINK" ] || fail "the second mail has the same link"
{ [ "$STATUS" = 409 ] && [ "$(jq -r .error_code <<<"$BODY")" = AccountNameInUse ]; } && ok "registering twice: 409 AccountNameInUse" || bad "registering twice: 409 AccountNameInUse"

STATUS=$(curl -s -o "$T/page" -D "$T/headers" -w '%{http_code}' "$LINK")
{ [ "$STATUS" = 200 ] && grep -q '<form method="post" action="/confirm">' "$T/page"; } && ok "GET of the link shows the form (no confirmation on GET)" || bad "GET of the link shows the form (no confirmation on GET)"
login ann@example.org ann-first-pw
check "still pending after the GET" [ "$STATUS" = 401 ]
grep -qi '^Content-Security-Policy: default-src .none.; style-src .self.; form-action .self.' "$T/headers" || bad "no strict CSP on the page"
grep -qi '^Referrer-Policy: same-origin' "$T/headers" || bad "the page may leak its link in Referer"
grep -qi '^X-Frame-Options: DENY' "$T/headers" || bad "the page may be framed"
grep -qi '^Content-Type: text/html; charset=utf-8' "$T/headers" || bad "the page is not text/html"
TOKEN=$(query token "$LINK"); TOKEN_ID=$(query tokenId "$LINK")
form /confirm "token=$(query token "$OLD_LINK")&tokenId=$(query tokenId "$OLD_LINK")"
{ [ "$STATUS" = 400 ] && grep -q "expired, was used" "$T/body"; } && ok "the superseded first link is refused" || bad "the superseded first link is refused"
form /confirm "token=$TOKEN&tokenId=$TOKEN_ID" "http://evil.example"
check "a post from another origin is refused" [ "$STATUS" = 403 ]
form /confirm "token=$TOKEN&tokenId=$TOKEN_ID" "$URL"
{ [ "$STATUS" = 200 ] && grep -q "is confirmed" "$T/body"; } && ok "POST /confirm confirms" || bad "POST /confirm confirms"
login ann@example.org ann-first-pw
check "the confirmed user logs in" [ "$STATUS" = 200 ]
form /confirm "token=$TOKEN&tokenId=$TOKEN_ID"
{ [ "$STATUS" = 400 ] && grep -q "expired, was used" "$T/body"; } && ok "a used link is refused" || bad "a used link is refused"
http POST "$APP/auth/providers/local-userpass/confirm" "" "{\"token\":\"$TOKEN\",\"tokenId\":\"$TOKEN_ID\"}"
{ [ "$STATUS" = 400 ] && [ "$(jq -r .error_code <<<"$BODY")" = UserpassTokenInvalid ]; } && ok "confirm with a used token: UserpassTokenInvalid" || bad "confirm with a used token: UserpassTokenInvalid"
http POST "$APP/auth/providers/local-userpass/confirm" "" "{\"token\":\"forged$TOKEN\",\"tokenId\":\"$TOKEN_ID\"}"
check "a forged token: UserpassTokenInvalid" [ "$(jq -r .error_code <<<"$BODY")" = UserpassTokenInvalid ]

# ---- reset: the mail, the page, the sessions end ------------------------------------------
# bob is an admin's user (he also has a Unix login name): resets are not
# only for self-registered users.
printf '%s' 'bob-first-pw' | sctl user add --email bob@example.org --unix-name bob --password-stdin >/dev/null \
        || fail "could not create bob"
login bob@example.org bob-first-pw
BOB_REFRESH=$(jq -r .refresh_token <<<"$BODY")
before=$(mails)
http POST "$APP/auth/providers/local-userpass/reset/send" "" '{"email":"bob@example.org"}'
check "reset/send for a user: 200" [ "$STATUS" = 200 ]
R1=$(link_of "$(mail_n $((before + 1)))")
http POST "$APP/auth/providers/local-userpass/reset/send" "" '{"email":"nobody@example.org"}'
{ [ "$STATUS" = 200 ] && [ "$BODY" = "{}" ]; } && ok "reset/send for an unknown address answers the same" || bad "reset/send for an unknown address answers the same"
http POST "$APP/auth/providers/local-userpass/confirm/send" "" '{"email":"nobody@example.org"}'
check "confirm/send for an unknown address answers the same" [ "$STATUS" = 200 ]
http POST "$APP/auth/providers/local-userpass/reset/send" "" '{"email":"bob@example.org"}'
R2=$(link_of "$(mail_n $((before + 2)))")
expect_eq "mails: only the known address got one" $((before + 2)) "$(mails)"
case $R1 in "$URL/reset?token="*) ;; *) fail "the reset link is not the built-in page: $R1" ;; esac
form /reset "token=$(query token "$R1")&tokenId=$(query tokenId "$R1")&password=bob-second-pw&repeat=bob-second-pw"
{ [ "$STATUS" = 400 ] && grep -q "expired, was used" "$T/body"; } && ok "a superseded reset link is refused" || bad "a superseded reset link is refused"
curl -s "$R2" -o "$T/page"
grep -q 'name="password"' "$T/page" || bad "the reset page has no password field"
T2=$(query token "$R2"); T2ID=$(query tokenId "$R2")
form /reset "token=$T2&tokenId=$T2ID&password=bob-second-pw&repeat=another-pw"
{ [ "$STATUS" = 400 ] && grep -q "differ" "$T/body"; } && ok "two different passwords: the form again, with the error" || bad "two different passwords: the form again, with the error"
form /reset "token=$T2&tokenId=$T2ID&password=abc&repeat=abc"
check "a too short password: refused, the link still works" [ "$STATUS" = 400 ]
form /reset "token=$T2&tokenId=$T2ID&password=bob-second-pw&repeat=bob-second-pw"
{ [ "$STATUS" = 200 ] && grep -q "password is changed" "$T/body"; } && ok "POST /reset sets the password" || bad "POST /reset sets the password"
http POST "$BASE/auth/session" "$BOB_REFRESH"
check "the reset ended the user's sessions (EndOnPasswordChange)" [ "$STATUS" = 401 ]
login bob@example.org bob-first-pw
check "the old password no longer works" [ "$STATUS" = 401 ]
login bob@example.org bob-second-pw
check "the new password works" [ "$STATUS" = 200 ]

# ---- limits: per address --------------------------------------------------------------------
codes=
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
        http POST "$APP/auth/providers/local-userpass/reset/send" "" "{\"email\":\"flood$i@example.org\"}"
        codes="$codes$STATUS "
done
case $codes in *429*) ok "reset/send is limited per client address ($codes)" ;; *) bad "no limit per client address: $codes" ;; esac
stitch_stop

# ---- command mode -----------------------------------------------------------------
cat > "$T/confirm-cmd" <<'X'
#!/bin/sh
# ConfirmationCommand: the address decides (a stand-in for a real policy).
input=$(cat)
case $input in
*'"username":"ok@'*) echo '{"status":"success"}' ;;
*'"username":"later@'*) echo "$input" > "$0.pending"; echo '{"status":"pending"}' ;;
*'"username":"hang@'*) sleep 600 ;;
*) echo '{"status":"fail"}' ;;
esac
X
chmod 0755 "$T/confirm-cmd"
http_start <<X
[Provider.local-userpass]
Registration=yes
ConfirmationCommand=$T/confirm-cmd
[Smtp]
URL=smtp://127.0.0.1:$SINK_PORT
From=noreply@example.com
X
reg() { http POST "$APP/auth/providers/local-userpass/register" "" "{\"email\":\"$1\",\"password\":\"pw-of-$1\"}"; }
reg ok@example.org
check "command success: registered" [ "$STATUS" = 201 ]
login ok@example.org pw-of-ok@example.org
check "command success: confirmed at once" [ "$STATUS" = 200 ]
reg no@example.org
{ [ "$STATUS" = 400 ] && [ "$(jq -r .error <<<"$BODY")" = 'failed to confirm user "no@example.org"' ]; } && ok "command fail: 400 failed to confirm user" || bad "command fail: 400 failed to confirm user"
login no@example.org pw-of-no@example.org
{ [ "$STATUS" = 401 ] && [ "$(jq -r .error_code <<<"$BODY")" = InvalidPassword ]; } && ok "command fail: no user left" || bad "command fail: no user left"
start=$SECONDS
reg hang@example.org
{ [ "$STATUS" = 400 ] && [ $((SECONDS - start)) -lt 60 ]; } && ok "a hanging command is cut off ($((SECONDS - start)) s)" || bad "a hanging command is cut off ($((SECONDS - start)) s)"
reg later@example.org
check "command pending: registered" [ "$STATUS" = 201 ]
login later@example.org pw-of-later@example.org
check "command pending: still pending" [ "$STATUS" = 401 ]
PT=$(jq -r .token "$T/confirm-cmd.pending"); PTID=$(jq -r .tokenId "$T/confirm-cmd.pending")
http POST "$APP/auth/providers/local-userpass/confirm" "" "{\"token\":\"$PT\",\"tokenId\":\"$PTID\"}"
check "command pending: the client confirms with the command's token" [ "$STATUS" = 200 ]
login later@example.org pw-of-later@example.org
check "command pending, then confirmed: logs in" [ "$STATUS" = 200 ]
stitch_stop

# ---- replaced texts and a locale carried in the link -------------------------------------
# TemplateDirectory=: the mails' texts, and the pages' words (pages.txt),
# each per locale; a registration made with "locale": "de" gets the German
# mail, whose link opens the page in German and keeps it German after the post.
TPL=$T/templates
mkdir -p "$TPL/de"
printf 'Confirm {{email}} for {{app}}: {{link}} (good for {{expires}})\n' > "$TPL/confirm.txt"
printf 'Reset for {{email}}: {{link}}\n' > "$TPL/reset.txt"
printf 'Bitte bestätigen Sie {{email}}: {{link}}\n' > "$TPL/de/confirm.txt"
cat > "$TPL/de/pages.txt" <<'X'
# German words for the built-in pages
confirm_title = E-Mail-Adresse bestätigen
confirm_button = Adresse bestätigen
confirmed = Ihre Adresse ist bestätigt.
X
printf 'confirm_title = Confirm it, {{max}}\n' > "$T/bad-pages.txt"
http_start <<X
[Provider.local-userpass]
Registration=yes
[Smtp]
URL=smtp://127.0.0.1:$SINK_PORT
From=noreply@example.com
TemplateDirectory=$TPL
X
before=$(mails)
http POST "$APP/auth/providers/local-userpass/register" "" '{"email":"gert@example.org","password":"gert-pw-123","locale":"de"}'
check "register with a locale" [ "$STATUS" = 201 ]
m=$(mail_n $((before + 1)))
grep -q "Bitte bestätigen Sie gert@example.org" "$m" || bad "the German mail text was not used: $(cat "$m")"
DE_LINK=$(link_of "$m")
case $DE_LINK in *"&locale=de"*) ok "the link carries the locale" ;; *) bad "no locale in the link: $DE_LINK" ;; esac
curl -s "$DE_LINK" -o "$T/page"
{ grep -q '<html lang="de">' "$T/page" && grep -q "E-Mail-Adresse bestätigen" "$T/page" \
        && grep -q 'name="locale" value="de"' "$T/page"; } && ok "the page is in German" || bad "the page is not German: $(cat "$T/page")"
form /confirm "token=$(query token "$DE_LINK")&tokenId=$(query tokenId "$DE_LINK")&locale=de" "$URL"
{ [ "$STATUS" = 200 ] && grep -q "Ihre Adresse ist bestätigt." "$T/body"; } && ok "the answer to the post is German too" \
        || bad "the answer is not German: $STATUS $(cat "$T/body")"
before=$(mails)
http POST "$APP/auth/providers/local-userpass/register" "" '{"email":"hal@example.org","password":"hal-pw-1234"}'
m=$(mail_n $((before + 1)))
grep -q "^Confirm hal@example.org for stitch: http" "$m" || bad "the replaced default text was not used: $(cat "$m")"
stitch_stop
# A bad pages.txt stops the start, with file:line.
cp "$T/bad-pages.txt" "$TPL/de/pages.txt"
out=$("$STITCHD" --check-config --config "$STITCHD_CONF" 2>&1) && bad "--check-config took a bad pages.txt"
case $out in *"$TPL/de/pages.txt:1: confirm_title: unknown placeholder"*) ok "a bad pages.txt is reported with file:line" ;;
        *) bad "--check-config said: $out" ;; esac

[ "$FAILED" = 0 ] || fail "$FAILED check(s) failed"
