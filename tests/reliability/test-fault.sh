#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault injection: tests/reliability/stitchd-fault (stitchd with its own
# allocations, reads, sends, accepts, SQLite calls, SQLite file I/O, random
# bytes, hashes, signatures and argon2 calls wrapped; see fault.c) runs one
# operation while the Nth wrapped call fails. For every operation and N:
#   - the daemon does not crash and does not hang; SIGTERM ends it with 0
#     (or 1 after a persistent fault), never by a signal;
#   - the operation answers (success or an error) or drops the connection;
#   - nothing is granted wrongly: a wrong password, a disabled user, a
#     logged-out token never pass, and a revocation that was acknowledged is
#     in force at once and after a restart;
#   - what was acknowledged is real: a token verifies, a refresh token
#     refreshes, a created user or API key logs in, now and after a restart;
#   - with a one-shot fault the daemon serves normally afterwards;
#   - the store passes PRAGMA integrity_check.
# STITCH_RELIABILITY_LONG=1: for every operation N walks "any:N" (the Nth
# wrapped call of any kind) from 1 until the fault no longer fires during the
# operation, then every kind the operation uses fails persistently
# ("KIND:1+"). Short version (make check): a fixed sample of seven cases.
# STITCH_FAULT_OPS="op op..." limits the operations (names below).
. "$top_srcdir/tests/reliability/rel-lib.sh"
command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"
FAULTD=$top_builddir/tests/reliability/stitchd-fault
[ -x "$FAULTD" ] || skip "stitchd-fault is not built"

ALL_OPS="login-ok login-wrong login-disabled login-apikey user-add user-revoke session-revoke key-create verify refresh logout"
OPS=${STITCH_FAULT_OPS:-$ALL_OPS}
KINDS="malloc calloc realloc strdup read send send-short accept sqlite3_step sqlite3_exec sqlite3_prepare RAND_bytes RAND_priv_bytes SHA256 EVP_PKEY_sign EVP_PKEY_verify EVP_MAC_final argon2id_hash_encoded argon2id_verify vfs-read vfs-write vfs-sync"

# Known bugs: the test reports them and goes on (XFAIL), so the suite stays
# green until they are fixed; see docs/reliability.md.
# (BUG-SHA256, fixed: stitch_sha256() ignored a failing SHA256(), and a login
# or key creation was acknowledged with a secret that never worked; the
# sample below fails SHA256 in both.)
KNOWN_BUGS=${STITCH_FAULT_KNOWN_BUGS-}

stitch_config <<'X'
[Tokens]
AccessTokenLifetime=12h
[Limits]
MaxFailures=1000
X

# --- the store every case starts from -----------------------------------------
rel_start "$FAULTD" || fail "stitchd-fault does not start"
stitch_user ada@example.com ada 'ada-password'
stitch_user carol@example.com carol 'carol-password'
sctl user disable carol >/dev/null || fail "disable carol"
L=$(rel_call io.stitch.Auth.Login "$(rel_login_json ada ada-password)")
AT1=$(rel_param "$L" access_token); RT1=$(rel_param "$L" refresh_token); S1=$(rel_param "$L" session_id)
L=$(rel_call io.stitch.Auth.Login "$(rel_login_json ada ada-password)")
AT2=$(rel_param "$L" access_token); RT2=$(rel_param "$L" refresh_token)
[ -n "$AT1" ] && [ -n "$AT2" ] || fail "setup logins: $L"
rel_call io.stitch.Token.Logout "$(jq -cn --arg t "$RT2" '{refresh_token:$t}')" >/dev/null
K=$(rel_call io.stitch.Admin.ApiKeyCreate '{"user":"ada","name":"k1"}')
KEY1=$(rel_param "$K" key)
[ -n "$KEY1" ] || fail "setup key: $K"
expect_eq "setup stop" 0 "$(rel_stop)"
mkdir -p "$T/base"
cp "$T"/stitch.db* "$T/base/"
expect_eq "base integrity" ok "$(rel_integrity)"

# --- calls used by the checks ------------------------------------------------------
verify_ok() { [ -n "$(rel_param "$(rel_call io.stitch.Token.Verify "$(jq -cn --arg t "$1" '{access_token:$t}')")" claims)" ]; }
refresh_ok() { [ -n "$(rel_param "$(rel_call io.stitch.Token.Refresh "$(jq -cn --arg t "$1" '{refresh_token:$t}')")" access_token)" ]; }
login_ok() { [ -n "$(rel_param "$(rel_call io.stitch.Auth.Login "$(rel_login_json "$1" "$2")")" access_token)" ]; }
key_login_ok() { [ -n "$(rel_param "$(rel_call io.stitch.Auth.Login "$(jq -cn --arg k "$1" '{user:"ada",key:$k,service:"login"}')")" access_token)" ]; }

XFAILS=0
FAILURES=0
CASE=
problem() { # problem [BUG-ID] MESSAGE
        local bug=
        case "$1" in BUG-*) bug=$1; shift ;; esac
        if [ -n "$bug" ] && [[ " $KNOWN_BUGS " == *" $bug "* ]]; then
                echo "XFAIL ($bug): $CASE: $*"
                XFAILS=$((XFAILS + 1))
        else
                echo "FAIL: $CASE: $*"
                FAILURES=$((FAILURES + 1))
        fi
}
fired() { if [ -f "$T/report" ]; then grep -c '^fired' "$T/report"; else echo 0; fi; }
fired_kinds() { grep '^fired' "$T/report" 2>/dev/null | cut -d' ' -f2 | sort -u | tr '\n' ' '; }

# Runs the operation; sets ACK (1 if acknowledged) and REPLY.
run_op() {
        local op=$1
        ACK=0 REPLY=
        case $op in
        login-ok) REPLY=$(rel_call io.stitch.Auth.Login "$(rel_login_json ada ada-password)") ;;
        login-wrong) REPLY=$(rel_call io.stitch.Auth.Login "$(rel_login_json ada wrong-password)") ;;
        login-disabled) REPLY=$(rel_call io.stitch.Auth.Login "$(rel_login_json carol carol-password)") ;;
        login-apikey) REPLY=$(rel_call io.stitch.Auth.Login "$(jq -cn --arg k "$KEY1" '{user:"ada",key:$k,service:"login"}')") ;;
        user-add) REPLY=$(rel_call io.stitch.Admin.UserCreate '{"email":"dave@example.com","unix_name":"dave","password":"dave-password"}') ;;
        user-revoke) REPLY=$(rel_call io.stitch.Admin.UserRevoke '{"user":"ada"}') ;;
        session-revoke) REPLY=$(rel_call io.stitch.Admin.SessionRevoke "$(jq -cn --arg s "$S1" '{session_id:$s}')") ;;
        key-create) REPLY=$(rel_call io.stitch.Admin.ApiKeyCreate '{"user":"ada","name":"k2"}') ;;
        verify) REPLY=$(rel_call io.stitch.Token.Verify "$(jq -cn --arg t "$AT1" '{access_token:$t}')") ;;
        refresh) REPLY=$(rel_call io.stitch.Token.Refresh "$(jq -cn --arg t "$RT1" '{refresh_token:$t}')") ;;
        logout) REPLY=$(rel_call io.stitch.Token.Logout "$(jq -cn --arg t "$RT1" '{refresh_token:$t}')") ;;
        esac
        if [ -n "$REPLY" ] && [ -z "$(rel_err "$REPLY")" ] && jq -e .parameters >/dev/null 2>&1 <<<"$REPLY"; then
                ACK=1
        fi
        # Every accept() failing: nobody can connect, so no answer is the
        # expected outcome (what matters then is no crash and a clean stop).
        [ "$(rel_err "$REPLY")" = rel.Timeout ] && [[ $CASE != *" accept:"*+ ]] && problem "no answer within 30 s (hang)"
        return 0
}

# Security invariants: hold whatever the fault did.
check_never() {
        local op=$1
        case $op in
        login-wrong|login-disabled) [ $ACK = 1 ] && problem "$op was granted: $REPLY" ;;
        esac
        verify_ok "$AT2" && problem "a logged-out access token verifies"
        refresh_ok "$RT2" && problem "a logged-out refresh token refreshes"
        login_ok ada wrong-password && problem "a wrong password logs in"
        login_ok carol carol-password && problem "a disabled user logs in"
        return 0
}

# What an acknowledgement promises, checked on the running daemon (live=1)
# or after a restart (live=0).
check_ack() {
        local op=$1 live=$2 t
        [ $ACK = 1 ] || return 0
        case $op in
        login-ok|login-apikey|refresh)
                [ $live = 1 ] || return 0
                t=$(rel_param "$REPLY" access_token)
                verify_ok "$t" || problem "acknowledged $op: its access token does not verify"
                if [ $op != refresh ]; then
                        t=$(rel_param "$REPLY" refresh_token)
                        refresh_ok "$t" || problem BUG-SHA256 "acknowledged $op: its refresh token does not refresh"
                fi
                ;;
        user-add)
                login_ok dave dave-password || problem "acknowledged user-add: dave cannot log in (live=$live)" ;;
        user-revoke|session-revoke|logout)
                verify_ok "$AT1" && problem "acknowledged $op: the session's access token still verifies (live=$live)"
                refresh_ok "$RT1" && problem "acknowledged $op: the session's refresh token still refreshes (live=$live)"
                ;;
        key-create)
                t=$(rel_param "$REPLY" key)
                key_login_ok "$t" || problem BUG-SHA256 "acknowledged key-create: the new key does not log in (live=$live)"
                ;;
        esac
        return 0
}

# One case: op with STITCH_FAULT=spec. Prints "beyond" when a one-shot fault
# did not fire during the operation.
CASE_RESULT=
run_case() {
        local op=$1 spec=$2 sticky=$3 status off findings n
        CASE="$op $spec"
        CASE_RESULT=
        rm -f "$T"/stitch.db* "$T/report"
        cp "$T"/base/stitch.db* "$T/"
        off=$(rel_log_size)
        REL_CALL_TIMEOUT=30
        [[ $spec == accept:*+ ]] && REL_CALL_TIMEOUT=3
        rel_start STITCH_FAULT="$spec" STITCH_FAULT_REPORT="$T/report" "$FAULTD" || { problem "did not start"; return; }
        run_op "$op"
        n=$(fired)
        if [ "$sticky" = 0 ] && [ "$n" = 0 ]; then
                CASE_RESULT=beyond
        fi
        kill -0 "$STITCHD_PID" 2>/dev/null || problem "the daemon died during the operation (status $(cat "$REL_STATUS_FILE" 2>/dev/null))"
        check_never "$op"
        if [ "$sticky" = 0 ] && [ -z "$CASE_RESULT" ]; then
                check_ack "$op" 1
                login_ok ada ada-password || problem "the daemon does not serve normally after a one-shot fault"
        fi
        status=$(rel_stop)
        case $status in
        0) ;;
        1) [ "$sticky" = 1 ] || problem "exit status 1 after a one-shot fault" ;;
        *) problem "exit status $status (crash or hang)" ;;
        esac
        findings=$(rel_log_findings "$off")
        [ -z "$findings" ] || problem "sanitizer: $findings"
        [ "$(rel_integrity)" = ok ] || problem "integrity_check: $(rel_integrity)"
        # Acknowledged changes survive a restart (the fault is gone then).
        if [ $ACK = 1 ] && [[ $op == user-add || $op == *revoke || $op == logout || $op == key-create ]]; then
                rel_start "$FAULTD" || { problem "no restart after the case"; return; }
                check_ack "$op" 0
                check_never "$op"
                [ "$(rel_stop)" = 0 ] || problem "restart did not stop cleanly"
        fi
        echo "case $op $spec: fired [$(fired_kinds)] ack=$ACK ${CASE_RESULT:-}"
}

# How many wrapped calls an operation makes: a dry run that never fires.
calls_of() { # calls_of OP KIND
        grep "^calls $2 " "$T/dry.$1" | cut -d' ' -f3
}
dry_run() {
        local op=$1
        rm -f "$T"/stitch.db* "$T/report"
        cp "$T"/base/stitch.db* "$T/"
        rel_start STITCH_FAULT=any:999999999 STITCH_FAULT_REPORT="$T/report" "$FAULTD" || fail "dry run $op did not start"
        run_op "$op"
        # Counted up to here: stop now, the checks would add calls.
        [ "$(rel_stop)" = 0 ] || fail "dry run $op did not stop cleanly"
        cp "$T/report" "$T/dry.$op"
}

cases=0
if [ -n "$REL_LONG" ]; then
        for op in $OPS; do
                dry_run "$op"
                total=$(calls_of "$op" any)
                [ "${total:-0}" -gt 0 ] || fail "dry run $op: no wrapped calls counted"
                echo "# $op: $total wrapped calls while serving it"
                n=1
                while :; do
                        run_case "$op" "any:$n" 0
                        cases=$((cases + 1))
                        [ "$CASE_RESULT" = beyond ] && break
                        n=$((n + 1))
                done
                for kind in $KINDS; do
                        [ "$(calls_of "$op" "$kind")" -gt 0 ] 2>/dev/null || continue
                        # Every accept() failing makes stitchd spin and log
                        # (BUG-EMFILE, test-load.sh): once is enough.
                        [ "$kind" = accept ] && [ "$op" != login-ok ] && continue
                        run_case "$op" "$kind:1+" 1
                        cases=$((cases + 1))
                done
        done
else
        # A fixed sample (make check): calls in the middle of the work
        # (store, hashing, signing) and one persistent fault. user-revoke's
        # 10th strdup() is BUG-STRV: the first strdup() of the revoked
        # session ids failing left the fresh id array unterminated, and
        # freeing it crashed the daemon (SIGSEGV; fixed).
        for c in login-ok:any:37 login-wrong:any:22 user-revoke:any:33 key-create:any:31 \
                 verify:any:18 logout:any:18 login-ok:vfs-write:1+ login-ok:SHA256:1 key-create:SHA256:1 \
                 user-revoke:strdup:10; do
                op=${c%%:*}; spec=${c#*:}
                [[ " $OPS " == *" $op "* ]] || continue
                sticky=0; [[ $spec == *+ ]] && sticky=1
                run_case "$op" "$spec" "$sticky"
                cases=$((cases + 1))
        done
        OPS="a sample"
fi

[ $FAILURES = 0 ] || fail "$FAILURES problems in $cases fault cases (and $XFAILS known-bug results)"
xf=; [ $XFAILS = 0 ] || xf=" ($XFAILS XFAIL results from known bugs: $KNOWN_BUGS)"
ok "$cases fault cases over: $OPS; no crash, no wrong grant, no lost acknowledgement, integrity ok$xf"
