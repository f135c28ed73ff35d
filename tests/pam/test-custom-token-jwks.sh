#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# custom-token through PAM with JWKSURL=: the JWK Set comes from a real
# HTTPS server (tests/http/jwks-lib.sh, a test CA in [Network] CAFile=).
# An admin links the token's identity onto an account (stitchctl user
# link, which fetches the set on the daemon's network pool); then the JWT
# typed at "Password: " logs in as that account; a rotated set is fetched
# for its new kid; a token of a key the set does not have, or of another
# subject, does not log in; with the server gone the set fetched before
# still serves; no token in the log.
. "$(dirname "$0")/pam-lib.sh"
need_stitchd
. "$top_srcdir/tests/http/jwks-lib.sh"
cd "$T"
trap 'jwks_stop; pam_cleanup' EXIT

stitch_config <<X
[Pam]
Services=stitch-test
[Provider.custom-token]
Enabled=yes
SigningAlgorithm=RS256
JWKSURL=https://127.0.0.1:$JWKS_PORT/keys.json
[Network]
CAFile=$T/ca.pem
X
jwks_up
stitch_start
pam_service stitch-test "$PAM_ARGS"
sctl user add --unix-name ada --name Ada >/dev/null || fail "could not create ada"

TOKEN=$(mint k1.key k1 ada-at-issuer)
pam_run --user ada auth <<<"$TOKEN"
expect_out "auth: PAM_AUTH_ERR"
ok "an identity no user has is refused"

printf '%s\n' "$TOKEN" | sctl user link ada --provider custom-token >/dev/null || fail "could not link the token onto ada"
pam_run --user ada auth acct <<<"$TOKEN"
expect_out "auth: PAM_SUCCESS"
expect_out "acct: PAM_SUCCESS"
ok "a JWT verified with a fetched JWK Set logs in as the linked account"

set_of k1 k3 >jwks/keys.json
pam_run --user ada auth <<<"$(mint k3.key k3 ada-at-issuer)"
expect_out "auth: PAM_SUCCESS"
ok "a token of a new key makes the daemon fetch the rotated set"

pam_run --user ada auth <<<"$(mint k2.key k2 ada-at-issuer)"
expect_out "auth: PAM_AUTH_ERR"
pam_run --user ada auth <<<"$(mint k1.key k1 someone-else)"
expect_out "auth: PAM_AUTH_ERR"
ok "a token of a key the set lacks, or of another subject, is refused"

jwks_stop
pam_run --user ada auth <<<"$(mint k1.key k1 ada-at-issuer)"
expect_out "auth: PAM_SUCCESS"
ok "with the server gone the set fetched before still serves"

grep -qF -- "${TOKEN: -40}" "$STITCHD_LOG" && fail "a token in the daemon's log"
ok "no token in the log"
