#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# API keys through PAM: the owner's key logs in as the owner's unix_name only.
. "$(dirname "$0")/pam-lib.sh"
need_stitchd
command -v jq >/dev/null || skip "jq is not installed"

stitch_config </dev/null
stitch_start
stitch_user ada@example.com ada 'correct horse'
stitch_user bob@example.com bob 'battery staple'
pam_service stitch-test "$PAM_ARGS"
pam_service keys-only "$PAM_ARGS provider=api-key"

ADA_KEY=$(sctl apikey add --user ada --name laptop --json | jq -r .key)
[ -n "$ADA_KEY" ] && [ "$ADA_KEY" != null ] || fail "no key for ada"
ADA_KEY_ID=$(sctl apikey list --user ada --json | jq -r '.api_keys[0]._id')

pam_run --user ada auth acct <<<"$ADA_KEY"
[ "$PAM_RC" = 0 ] || fail "ada's key did not log her in"
expect_out "prompt: Password: "
pam_run --service keys-only --user ada auth <<<"$ADA_KEY"
expect_out "prompt: API key: "
expect_out "auth: PAM_SUCCESS"
ok "the owner's API key logs in (provider=auto and provider=api-key)"

pam_run --user bob auth <<<"$ADA_KEY"
expect_out "auth: PAM_AUTH_ERR"
pam_run --service keys-only --user bob auth <<<"$ADA_KEY"
expect_out "auth: PAM_AUTH_ERR"
ok "another user's API key is refused"

pam_run --user ada auth <<<"stk_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' | cut -c1-43)"
expect_out "auth: PAM_AUTH_ERR"
pam_run --service keys-only --user ada auth <<<"correct horse"
expect_out "auth: PAM_AUTH_ERR"
ok "a made-up key, and a password where a key is required, are refused"

sctl apikey disable "$ADA_KEY_ID" >/dev/null || fail "could not disable the key"
pam_run --user ada auth <<<"$ADA_KEY"
expect_out "auth: PAM_AUTH_ERR"
sctl apikey enable "$ADA_KEY_ID" >/dev/null || fail "could not enable the key"
pam_run --user ada auth <<<"$ADA_KEY"
expect_out "auth: PAM_SUCCESS"
ok "a disabled key is refused until enabled again"

SERVER_KEY=$(sctl apikey add --server --name backup --unix-name backup --json | jq -r .key)
[ -n "$SERVER_KEY" ] && [ "$SERVER_KEY" != null ] || fail "no server key"
pam_run --user backup auth <<<"$SERVER_KEY"
expect_out "auth: PAM_SUCCESS"
pam_run --user ada auth <<<"$SERVER_KEY"
expect_out "auth: PAM_AUTH_ERR"
ok "a server key logs in only as its unix_name"

! grep -qF "$ADA_KEY" "$STITCHD_LOG" || fail "the key is in the daemon log"
ok "no key in the daemon log"
