# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared helpers for the shell tests. Source it:  . "$TESTS_LIB"
# Each test gets a private temp dir with its own sockets, store and config,
# so many daemons run side by side. Readiness comes from sd_notify(READY=1)
# through tests/helpers/stitch-spawn, never from sleeping.

set -u
: "${top_builddir:?run through make check}"
: "${top_srcdir:?run through make check}"
STITCHD=${STITCHD:-$top_builddir/stitchd/stitchd}
STITCHCTL=${STITCHCTL:-$top_builddir/stitchctl/stitchctl}
STITCH_SPAWN=$top_builddir/tests/helpers/stitch-spawn

T=$(mktemp -d "${TMPDIR:-/tmp}/stitch-test.XXXXXX")
chmod 0755 "$T"
STITCHD_PID=
export STITCH_SOCKET=$T/io.stitch.Auth
export STITCH_ADMIN_SOCKET=$T/io.stitch.Admin
# OnRevoke=terminate asks logind to end a revoked login's session: never the
# real one of the machine running the tests (it could end the tester's own
# session). No bus listens here, so the daemon takes the signal fallback.
export STITCH_TEST_LOGIND_BUS=${STITCH_TEST_LOGIND_BUS:-unix:path=$T/no-logind-bus}
STITCHD_CONF=$T/stitchd.conf
STITCHD_LOG=$T/stitchd.log

# STITCH_VALGRIND=1 (make check-valgrind): every stitchd that stitch_start
# starts runs under valgrind memcheck; a memcheck error or a definitely lost
# block in any of them fails the test when it ends.
STITCH_VALGRIND=${STITCH_VALGRIND:-}
# The memcheck command line (here and tests/reliability/valgrind-daemon.sh):
# errors and definitely lost blocks, one log per process, exit 1 on either.
STITCH_MEMCHECK=(valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite
                 --show-leak-kinds=definite --error-exitcode=1 --track-fds=no
                 --num-callers=30 --log-file="$T/valgrind.%p.log")

# Memcheck reports of this test's daemons: the "==PID==" lines (with
# --quiet there are none when clean). valgrind's own "--PID--" notes, such
# as a syscall it does not know (pidfd_open in valgrind 3.19: stitchd then
# takes its fallback path), are not findings.
stitch_valgrind_findings() {
        local f
        for f in "$T"/valgrind.*.log; do
                grep -q '^==[0-9]*==' "$f" 2>/dev/null || continue
                echo "--- $f:"
                grep '^==[0-9]*==' "$f" | head -n 60
        done
}

# Temporary local Unix accounts (root only; removed at exit), for tests whose
# login processes must run as the session's Unix account.
#   stitch_local_account VAR   creates an account with a fresh name, stores it in VAR
#   stitch_as NAME CMD...      runs CMD as that account
STITCH_ACCOUNTS=
stitch_local_account() {
        local name
        [ "$(id -u)" = 0 ] && command -v useradd >/dev/null && command -v setpriv >/dev/null \
                || skip "needs root, useradd and setpriv for a temporary Unix account"
        name=st$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
        useradd -M -N -s /bin/sh "$name" >/dev/null 2>&1 || fail "useradd $name failed"
        STITCH_ACCOUNTS="$STITCH_ACCOUNTS $name"
        printf -v "$1" '%s' "$name"
}
stitch_as() {
        local u=$1
        shift
        setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups -- "$@"
}

# stitch_spawn_as NAME CMD...: starts CMD in the background as account NAME
# and waits until it runs as NAME; its pid is then in STITCH_AS_PID.
stitch_spawn_as() {
        local u=$1 uid i
        shift
        uid=$(id -u "$u")
        setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups -- "$@" &
        STITCH_AS_PID=$!
        for i in $(seq 1 500); do
                [ "$(awk '/^Uid:/ {print $2; exit}' "/proc/$STITCH_AS_PID/status" 2>/dev/null)" = "$uid" ] && return 0
                sleep 0.01   # waiting for setpriv to switch users, a condition checked each round
        done
        fail "process $STITCH_AS_PID never ran as $u"
}

# stitch_isolate_system: for a test that installs (make install, dpkg -i,
# useradd --create-home) or otherwise writes under /usr, /etc, /var. Runs
# the rest of the test in a throwaway root: private mount and PID
# namespaces where /usr, /etc, /var, /home, /opt, /srv and /root are
# overlays whose writes go to a tmpfs, and /run is an empty tmpfs. What the
# test installs, changes or deletes there vanishes with the namespace, and
# every process it leaves behind is killed with it. The machine's own
# files (a stitch installed by scripts/quickstart.sh and its store
# included) are never written, and its services are never reached: no
# systemd (maintainer scripts start nothing), no /run/stitchd sockets.
# Call it right after sourcing this file: the caller continues in the
# namespace; on the machine itself the test ends with the namespace's
# status. Skips where it cannot isolate (needs root, unshare and overlayfs).
stitch_isolate_system() {
        local d real scratch=${STITCH_ISOLATE_SCRATCH:-}
        if [ -z "${STITCH_ISOLATING:-}" ]; then
                [ "$(id -u)" = 0 ] || skip "needs root to isolate the system (mount namespace, overlayfs)"
                command -v unshare >/dev/null || skip "unshare (util-linux) is not installed: cannot isolate the system"
                grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null \
                        || skip "no overlayfs here: cannot isolate the system"
                real=$(readlink -f "$T")
                for d in /usr /etc /var /home /opt /srv /root /run; do
                        case $real/ in "$d"/*) fail "the test directory $real is under $d, which the isolation replaces: set TMPDIR elsewhere" ;; esac
                done
                mkdir "$T/isolated" || fail "mkdir $T/isolated"
                STITCH_ISOLATING=1 STITCH_ISOLATE_SCRATCH=$T/isolated \
                        unshare --mount --propagation private --pid --fork --mount-proc -- "$BASH" "$0" "$@"
                exit $?
        fi
        # In the namespace. Unset at once: a test this one runs (e.g.
        # test-deb.sh from test-quickstart-survives.sh) isolates itself again.
        unset STITCH_ISOLATING STITCH_ISOLATE_SCRATCH
        local outer=${STITCH_ISOLATED_ROOT:-} lowers
        mount -t tmpfs -o mode=0700 stitch-isolated "$scratch" || fail "cannot mount a tmpfs on $scratch"
        for d in usr etc var home opt srv root; do
                [ -d "/$d" ] && [ ! -L "/$d" ] || continue
                mkdir -p "$scratch/$d/upper" "$scratch/$d/work" "$scratch/$d/base"
                if [ -n "$outer" ] && [ -f "$outer/$d/lowers" ]; then
                        # Inside another test's throwaway root: on its layers,
                        # not on its overlay (overlayfs stacks two deep at most,
                        # and a container's root may be one already).
                        lowers=$outer/$d/upper:$(cat "$outer/$d/lowers")
                else
                        mount --bind "/$d" "$scratch/$d/base" || fail "cannot bind-mount /$d"
                        lowers=$scratch/$d/base
                fi
                echo "$lowers" >"$scratch/$d/lowers"
                mount -t overlay -o "lowerdir=$lowers,upperdir=$scratch/$d/upper,workdir=$scratch/$d/work" \
                        "stitch-isolated-$d" "/$d" || fail "cannot mount an overlay on /$d"
        done
        export STITCH_ISOLATED_ROOT=$scratch
        mount -t tmpfs -o mode=0755 stitch-isolated-run /run || fail "cannot mount a tmpfs on /run"
        mkdir -m 1777 /run/lock
        echo "# isolated: /usr /etc /var /home /opt /srv /root are throwaway overlays, /run an empty tmpfs, in new mount and PID namespaces"
}

# stitch_copy_source DIR: copies the source tree to DIR (created), without
# build output: what git would commit (tracked, and new files not ignored),
# or outside git everything but objects and caches.
stitch_copy_source() {
        mkdir -p "$1" || fail "mkdir $1"
        if [ -e "$top_srcdir/.git" ] && command -v git >/dev/null; then
                (cd "$top_srcdir" && git ls-files -z -c -o --exclude-standard) \
                        | (cd "$top_srcdir" && tar --null -T - -cf -) | tar -C "$1" -xf - \
                        || fail "copying the source tree failed"
        else
                tar -C "$top_srcdir" --exclude=.git --exclude=autom4te.cache --exclude='*.o' --exclude='*.lo' \
                        --exclude=.libs --exclude=.deps -cf - . | tar -C "$1" -xf - || fail "copying the source tree failed"
        fi
}

stitch_cleanup() {
        local findings= u
        stitch_stop
        for u in $STITCH_ACCOUNTS; do
                pkill -KILL -u "$u" 2>/dev/null
                userdel -f "$u" >/dev/null 2>&1
        done
        if [ -n "$STITCH_VALGRIND" ]; then
                findings=$(stitch_valgrind_findings)
                if [ -n "$findings" ]; then
                        echo "FAIL: valgrind memcheck reported errors or definite leaks in stitchd:" >&2
                        echo "$findings" >&2
                fi
        fi
        if [ -n "${STITCH_KEEP_TMP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
        # (an EXIT trap keeps the script's status unless it exits itself)
        [ -z "$findings" ] || exit 1
}
trap stitch_cleanup EXIT

fail() { echo "FAIL: $*" >&2; [ -f "$STITCHD_LOG" ] && { echo "--- stitchd log:" >&2; tail -n 30 "$STITCHD_LOG" >&2; }; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
ok() { echo "ok - $*"; }

# Writes a config for this test dir. Extra lines (sections and keys) come on stdin, e.g.
#   stitch_config <<'X'
#   [Provider.anon-user]
#   Enabled=yes
#   X
# The fast argon2 parameters keep tests quick; tests that need the defaults override PasswordHash.
stitch_config() {
        {
                echo "[Daemon]"
                echo "Store=sqlite:$T/stitch.db"
                echo "AuthSocket=$STITCH_SOCKET"
                echo "AdminSocket=$STITCH_ADMIN_SOCKET"
                echo "Workers=2"
                if [ ! -t 0 ]; then cat; fi
        } > "$STITCHD_CONF"
        # Merge duplicate sections is not needed: later sections just continue.
        if ! grep -q '^PasswordHash=' "$STITCHD_CONF"; then
                printf '\n[Provider.local-userpass]\nPasswordHash=argon2id:m=1024,t=1,p=1\n' >> "$STITCHD_CONF"
        fi
}

stitch_start() {
        local wrap=() timeout=30
        [ -f "$STITCHD_CONF" ] || stitch_config </dev/null
        if [ -n "$STITCH_VALGRIND" ]; then
                command -v valgrind >/dev/null || skip "STITCH_VALGRIND is set and valgrind is not installed"
                stitch_sanitized && skip "STITCH_VALGRIND needs a build without sanitizers"
                wrap=("${STITCH_MEMCHECK[@]}")
                timeout=300
        fi
        STITCHD_PID=$("$STITCH_SPAWN" --timeout "$timeout" -- "${wrap[@]}" "$STITCHD" --foreground --config "$STITCHD_CONF" "$@" 2>>"$STITCHD_LOG" 3>&- </dev/null) \
                || fail "stitchd did not become ready"
}

# Stops the daemon with SIGTERM and waits for it (and checks it exited 0).
stitch_stop() {
        local limit=300
        [ -n "$STITCH_VALGRIND" ] && limit=2400   # valgrind's leak check at exit takes seconds
        if [ -n "${STITCHD_PID:-}" ] && kill -0 "$STITCHD_PID" 2>/dev/null; then
                kill -TERM "$STITCHD_PID" 2>/dev/null
                local i=0
                while kill -0 "$STITCHD_PID" 2>/dev/null; do
                        i=$((i + 1)); [ $i -gt "$limit" ] && { kill -KILL "$STITCHD_PID"; break; }
                        sleep 0.05   # waiting for an exit, not for readiness
                done
        fi
        STITCHD_PID=
}

stitch_kill9() {
        [ -n "${STITCHD_PID:-}" ] && kill -KILL "$STITCHD_PID" 2>/dev/null
        while [ -n "${STITCHD_PID:-}" ] && kill -0 "$STITCHD_PID" 2>/dev/null; do sleep 0.01; done
        STITCHD_PID=
}

sctl() { "$STITCHCTL" "$@"; }

# True when stitchd is built with AddressSanitizer (configure
# --enable-sanitizers): memory figures are then the sanitizer's, not ours.
stitch_sanitized() {
        readelf -d "$STITCHD" 2>/dev/null | grep -q 'libasan' || grep -aq '__asan_init' "$STITCHD" 2>/dev/null
}

# Creates a user: stitch_user EMAIL UNIXNAME PASSWORD
stitch_user() {
        printf '%s' "$3" | "$STITCHCTL" user add --email "$1" --unix-name "$2" --password-stdin >/dev/null \
                || fail "could not create user $1"
}

# Raw wire call, prints the reply JSON: stitch_call METHOD JSON [--admin]
stitch_call() {
        "$STITCHCTL" call "$@"
}

# One connection to the auth socket kept open across calls, as pam_stitch
# keeps one for the rounds of a login (what a login asks ends when its
# connection closes): stitch_wire_open VAR [ACCOUNT], then
# stitch_wire VAR METHOD JSON (prints the reply; fails on an error reply, as
# stitchctl call does), stitch_wire_close VAR. Several may be open at once.
# (the system's python3: one under /root is not for other accounts)
STITCH_PYTHON=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3 )
stitch_wire_open() {
        local d=$T/wire.$1 fin fout
        mkdir -p "$d" && mkfifo "$d/in" "$d/out" || fail "stitch_wire_open: fifos"
        if [ -n "${2:-}" ]; then
                stitch_as "$2" "$STITCH_PYTHON" "$top_srcdir/tests/helpers/wire-session.py" "$STITCH_SOCKET" <"$d/in" >"$d/out" &
        else
                "$STITCH_PYTHON" "$top_srcdir/tests/helpers/wire-session.py" "$STITCH_SOCKET" <"$d/in" >"$d/out" &
        fi
        local pid=$!
        exec {fin}>"$d/in" {fout}<"$d/out"
        printf -v "$1" '%s %s %s' "$fin" "$fout" "$pid"
}
stitch_wire() {
        local fds line
        read -r -a fds <<<"${!1}"
        jq -cn --arg m "$2" --argjson p "$3" '{method:$m, parameters:$p}' >&"${fds[0]}" || return 2
        IFS= read -r -t 60 line <&"${fds[1]}" || { echo "no reply on the connection $1" >&2; return 2; }
        printf '%s\n' "$line"
        jq -e 'has("error") | not' >/dev/null <<<"$line"
}
stitch_wire_close() {
        local fds
        read -r -a fds <<<"${!1}"
        eval "exec ${fds[0]}>&- ${fds[1]}<&-"
        wait "${fds[2]}" 2>/dev/null
        rm -rf "$T/wire.$1"
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() { [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"; }

# A JWT as a custom-token issuer signs it (HS256 with python3's hmac, or
# "none" unsigned), printed:
#   stitch_jwt_hs256 SUB EXTRA_CLAIMS_JSON EXP_OFFSET_SECONDS AUD_JSON SECRET [ALG]
# The claims are sub, aud, iat (now), exp (now + offset) and the extra ones.
stitch_jwt_hs256() {
        SUB=$1 EXTRA=$2 EXPOFF=$3 AUD=$4 KEY=$5 ALG=${6:-HS256} "$STITCH_PYTHON" - <<'PY'
import base64, hashlib, hmac, json, os, time
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
now = int(time.time())
claims = {"sub": os.environ["SUB"], "aud": json.loads(os.environ["AUD"]), "iat": now,
          "exp": now + int(os.environ["EXPOFF"])}
claims.update(json.loads(os.environ["EXTRA"]))
alg = os.environ["ALG"]
signing = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
sig = "" if alg == "none" else b64(hmac.new(os.environ["KEY"].encode(), signing.encode(), hashlib.sha256).digest())
print(signing + "." + sig)
PY
}
