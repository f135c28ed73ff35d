#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Interop: tokens signed by the openssl command line tool (not by OpenSSL
# calls of ours) verify with core/jwt-verifier.c, and a changed one does not.
set -eu

: "${top_builddir:?}"
verify="$top_builddir/tests/helpers/jwt-verify"
command -v openssl >/dev/null || { echo "SKIP: no openssl"; exit 77; }
command -v xxd >/dev/null || { echo "SKIP: no xxd"; exit 77; }
[ -x "$verify" ] || { echo "SKIP: $verify not built"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/jwt-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=1700000000
payload=$(printf '{"sub":"cli-user","aud":"app","iat":%d,"exp":%d}' "$now" $((now + 600)) | b64url)

# RS256: PKCS#1 v1.5 signature straight from openssl dgst.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null
openssl pkey -in rsa.key -pubout -out rsa.pub
header=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
sig=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -sign rsa.key -binary | b64url)
[ "$(printf '%s.%s.%s' "$header" "$payload" "$sig" | "$verify" RS256 rsa.pub app "$now")" = "ok cli-user" ]
out=$(printf '%s.%sx.%s' "$header" "$payload" "$sig" | "$verify" RS256 rsa.pub app "$now" || true)
[ "$out" != "ok cli-user" ]

# ES256: openssl writes DER; the JWS form is r || s, 32 bytes each.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key 2>/dev/null
openssl pkey -in ec.key -pubout -out ec.pub
header=$(printf '{"alg":"ES256"}' | b64url)
printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -sign ec.key -binary > sig.der
# r and s from the asn1parse dump, left-padded to 64 hex digits
rs=$(openssl asn1parse -inform DER -in sig.der | awk -F: '/INTEGER/ { printf "%064s", $NF }' | tr ' ' 0)
[ ${#rs} -eq 128 ]
sig=$(printf '%s' "$rs" | xxd -r -p | b64url)
[ "$(printf '%s.%s.%s' "$header" "$payload" "$sig" | "$verify" ES256 ec.pub app "$now")" = "ok cli-user" ]
# The DER signature itself is refused.
sig=$(b64url < sig.der)
[ "$(printf '%s.%s.%s' "$header" "$payload" "$sig" | "$verify" ES256 ec.pub app "$now" || true)" = "signature invalid" ]

# HS256: openssl dgst -hmac with the secret file's contents minus its newline.
echo "cli-secret-0123456789abcdef0123456789" > secret
chmod 600 secret
header=$(printf '{"alg":"HS256"}' | b64url)
sig=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -hmac "cli-secret-0123456789abcdef0123456789" -binary | b64url)
[ "$(printf '%s.%s.%s' "$header" "$payload" "$sig" | "$verify" HS256 secret app "$now")" = "ok cli-user" ]
# Expired an hour later.
[ "$(printf '%s.%s.%s' "$header" "$payload" "$sig" | "$verify" HS256 secret app $((now + 3600)) || true)" = "token expired" ]
echo "openssl CLI interop: RS256, ES256, HS256 ok"
