#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# ES256 malleability (finding 6): if (r, s) is a valid ECDSA signature, so
# is (r, n - s). stitchd must issue only low-s signatures (s <= n/2) and
# refuse the high-s twin of any token, so that every token has one string
# only. Real tokens from a real stitchd; the twin is made by
# tests/helpers/jwt-malleate (OpenSSL BIGNUM).
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"
# (a helper that is new: take it from this build even when STITCHD is another one)
MALLEATE=${JWT_MALLEATE:-$top_builddir/tests/helpers/jwt-malleate}
[ -x "$MALLEATE" ] || fail "$MALLEATE is not built (make check builds it)"

stitch_start
stitch_user ada@example.com ada 'ada-password'

login() { sctl call io.stitch.Auth.Login "$(jq -cn '{user:"ada", password:"ada-password", service:"login"}')"; }
verify() { sctl call io.stitch.Token.Verify "$(jq -cn --arg t "$1" '{access_token:$t}')"; }
b64url_json() { # decode a JWT part
        local s=$1; s=${s//-/+}; s=${s//_//}; while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done
        printf '%s' "$s" | base64 -d 2>/dev/null
}

# Sixteen tokens: a signer that does not normalize s gets all of them low
# with probability 2^-16.
for i in $(seq 1 16); do
        L=$(login) || fail "login $i: $L"
        AT=$(jq -r .parameters.access_token <<<"$L")
        expect_eq "alg of token $i" ES256 "$(jq -r .alg <<<"$(b64url_json "${AT%%.*}")")"
        TWIN=$(printf '%s' "$AT" | "$MALLEATE") || fail "jwt-malleate failed on token $i"
        [ "$TWIN" != "$AT" ] || fail "the twin of token $i is the token itself"
        [ "${TWIN%.*}" = "${AT%.*}" ] || fail "jwt-malleate changed more than the signature"

        out=$(verify "$TWIN" 2>/dev/null) && fail "the high-s twin (r, n-s) of token $i verifies: $out"
        expect_eq "error for the twin of token $i" io.stitch.Error.SessionInvalid "$(jq -r .error <<<"$out")"
        out=$(verify "$AT") || fail "token $i no longer verifies after its twin was tried: $out"
        expect_eq "user of token $i" ada "$(jq -r .parameters.user.unix_name <<<"$out")"
        # The twin again, now that the original is in the verified-signature cache.
        verify "$TWIN" >/dev/null 2>&1 && fail "the twin of token $i verifies once the token is cached"
        sctl token verify "$TWIN" >/dev/null 2>&1
        expect_eq "stitchctl token verify of the twin of token $i (exit)" 1 $?

        printf '%s' "$AT" | "$MALLEATE" --high && fail "stitchd issued a high-s signature (token $i)"
        printf '%s' "$TWIN" | "$MALLEATE" --high || fail "the twin of token $i is not high-s"
done
ok "the (r, n-s) twin of a real access token is refused as io.stitch.Error.SessionInvalid; the original verifies"
ok "every signature stitchd issued has s <= n/2"
