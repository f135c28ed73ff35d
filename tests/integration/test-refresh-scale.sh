#!/bin/bash
# Scale: N open sessions (default 10,000; STITCH_SCALE_SESSIONS) with a 10 s
# access-token lifetime and a 4 s margin. Checks that no refresh lands after
# the token it replaces expired, that every session is refreshed (>= 3 times
# in 22 s), and that the daemon's memory stays bounded. Prints the figures
# for docs/performance.md.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"
# Under ASan (configure --enable-sanitizers) the point is memory errors, not
# scale: 2,000 sessions by default, and the RSS bound is not checked (the
# sanitizer's quarantine and shadow memory dominate it).
N=${STITCH_SCALE_SESSIONS:-10000}
SANITIZED=
if stitch_sanitized; then SANITIZED=1; N=${STITCH_SCALE_SESSIONS:-2000}; fi
stitch_config <<'X'
[Tokens]
AccessTokenLifetime=10s
RefreshMargin=4s
[Sessions]
MaxPerUser=100000
[Limits]
MaxFailures=1000
X
stitch_start
# The leader runs as the sessions' Unix account (stitchd watches no other uid's process).
stitch_local_account LOADTEST
sctl user add --unix-name "$LOADTEST" >/dev/null || fail "user"
KEY=$(sctl apikey add --user "$LOADTEST" --name load --json | jq -r .key)
stitch_spawn_as "$LOADTEST" sleep 100000 >/dev/null 2>&1; LEADER=$STITCH_AS_PID
trap 'kill -9 $LEADER 2>/dev/null; stitch_cleanup' EXIT
rss() { awk '/VmRSS/ {print $2}' "/proc/$STITCHD_PID/status"; }
rss0=$(rss)

out=$("$top_builddir/tests/helpers/session-load" "$STITCH_SOCKET" "$LOADTEST" "$KEY" "$N" "$LEADER" 4) || fail "opening sessions: $out"
echo "# $out"
expect_eq "open sessions" "$N" "$(sctl status --json | jq .open_sessions)"
rss1=$(rss)

# Over two lifetimes: every refresh must land before the token it replaces
# expires (the daemon counts late ones), and every session is refreshed.
before=$(sctl status --json | jq .refreshes)
lapsed_max=0
for i in $(seq 1 11); do
        sleep 2   # sampling over two lifetimes: time has to pass
        l=$(sctl status --json | jq .open_sessions_lapsed)
        [ "$l" -gt "$lapsed_max" ] && lapsed_max=$l
done
st=$(sctl status --json)
refreshes=$(( $(jq .refreshes <<<"$st") - before ))
late=$(jq .refreshes_late <<<"$st")
rss2=$(rss)
echo "# sessions=$N refreshes_in_22s=$refreshes late=$late lapsed_max=$lapsed_max rss_kib: start=$rss0 after_open=$rss1 after_refresh=$rss2"
expect_eq "late refreshes" 0 "$late"
expect_eq "sessions without a valid token at any sample" 0 "$lapsed_max"
[ "$refreshes" -ge $((N * 2)) ] || fail "only $refreshes refreshes for $N sessions in 22 s (want >= 2 each)"
expect_eq "open sessions" "$N" "$(jq .open_sessions <<<"$st")"
# Bounded: well under 10 KiB per open session plus the baseline.
if [ -n "$SANITIZED" ]; then
        echo "# built with sanitizers: the RSS bound is not checked"
else
        [ $((rss2 - rss0)) -lt $((N * 10 + 65536)) ] || fail "memory grew by $((rss2 - rss0)) KiB for $N sessions"
fi
ok "$N open sessions all refreshed on time ($refreshes refreshes, RSS ${rss0} -> ${rss2} KiB)"
