#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# custom-token through PAM against a real stitchd: the JWT typed at
# "Password: " (provider=auto knows its shape) or at "Token: "
# (provider=custom-token) logs in only as the Unix account an admin gave
# the user that has the identity (stitchctl user add --unix-name, then
# stitchctl user link --provider custom-token); never for an unknown
# identity, never as another account; a password of the same user still
# works; no token in the log.
. "$(dirname "$0")/pam-lib.sh"
need_stitchd
command -v jq >/dev/null || skip "jq is not installed"

SECRET='pam-custom-token-secret-0123456789abcdefABCDEF'
printf '%s' "$SECRET" >"$T/jwt.secret"
chmod 0600 "$T/jwt.secret"
AUD='"stitch"'
mint() { stitch_jwt_hs256 "$1" '{}' "${2:-600}" "$AUD" "${3:-$SECRET}"; }

stitch_config <<X
[Pam]
Services=stitch-test tokens-only
[Provider.custom-token]
Enabled=yes
SigningKeyFile=$T/jwt.secret
X
stitch_start
stitch_user bob@example.com bob 'battery staple'
sctl user add --unix-name ada --name Ada >/dev/null || fail "could not create ada"
pam_service stitch-test "$PAM_ARGS"
pam_service tokens-only "$PAM_ARGS provider=custom-token"

TOKEN=$(mint ada-at-issuer)
[ -n "$TOKEN" ] || fail "no token"

pam_run --user ada auth <<<"$TOKEN"
expect_out "auth: PAM_AUTH_ERR"
[ "$(sctl user list --json | jq '.users | length')" = 2 ] || fail "a PAM login made a user"
ok "an identity no user has is refused, and makes no user"

printf '%s\n' "$TOKEN" | sctl user link ada --provider custom-token >/dev/null || fail "could not link the token onto ada"
sctl user show ada --json | jq -e '[.user.identities[].provider_type] == ["custom-token"]' >/dev/null \
        || fail "ada has no custom-token identity: $(sctl user show ada --json)"
ok "an admin links a custom-token identity onto a user with a Unix account"

pam_run --user ada auth acct <<<"$TOKEN"
expect_out "prompt: Password: "
expect_out "auth: PAM_SUCCESS"
expect_out "acct: PAM_SUCCESS"
ok "the JWT at Password: logs in as that account (provider=auto)"

pam_run --service tokens-only --user ada auth <<<"$TOKEN"
expect_out "prompt: Token: "
expect_out "auth: PAM_SUCCESS"
ok "provider=custom-token asks for the token and logs in"

BIG=$(stitch_jwt_hs256 ada-at-issuer "{\"pad\":\"$(printf 'p%.0s' $(seq 1 1500))\"}" 600 "$AUD" "$SECRET")
[ "${#BIG}" -gt 2000 ] || fail "the big token is only ${#BIG} bytes"
pam_run --user ada auth <<<"$BIG"
expect_out "auth: PAM_SUCCESS"
ok "a token of ${#BIG} bytes (an RS256 signature alone is 342) goes through the module and the daemon"

pam_run --user bob auth <<<"$TOKEN"
expect_out "auth: PAM_AUTH_ERR"
pam_run --service tokens-only --user bob auth <<<"$TOKEN"
expect_out "auth: PAM_AUTH_ERR"
ok "the same token is refused for another account"

pam_run --user ada auth <<<"$(mint ada-at-issuer 600 'another-secret-nobody-configured-0123456789')"
expect_out "auth: PAM_AUTH_ERR"
pam_run --user ada auth <<<"$(mint ada-at-issuer -3600)"
expect_out "auth: PAM_AUTH_ERR"
ok "a token signed with another key, and an expired one, are refused"

pam_run --user bob auth <<<"battery staple"
expect_out "auth: PAM_SUCCESS"
ok "passwords still log in"

! grep -qF "$TOKEN" "$STITCHD_LOG" || fail "the token is in the daemon log"
! grep -qF "$SECRET" "$STITCHD_LOG" || fail "the secret is in the daemon log"
ok "no token or secret in the daemon log"
