#!/bin/bash
# Scale: N open sessions (default 10,000; STITCH_SCALE_SESSIONS) with a 10 s
# access-token lifetime. Checks that no open session's token ever lapses
# (every one is refreshed on time) over two lifetimes, and that the
# daemon's memory stays bounded. Prints the figures for docs/performance.md.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"
command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"
N=${STITCH_SCALE_SESSIONS:-10000}
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
sctl user add --unix-name loadtest >/dev/null || fail "user"
KEY=$(sctl apikey add --user loadtest --name load --json | jq -r .key)
sleep 100000 >/dev/null 2>&1 & LEADER=$!
trap 'kill -9 $LEADER 2>/dev/null; stitch_cleanup' EXIT
rss() { awk '/VmRSS/ {print $2}' "/proc/$STITCHD_PID/status"; }
rss0=$(rss)

out=$("$top_builddir/tests/helpers/session-load" "$STITCH_SOCKET" loadtest "$KEY" "$N" "$LEADER" 4) || fail "opening sessions: $out"
echo "# $out"
expect_eq "open sessions" "$N" "$(sctl status --json | jq .open_sessions)"
rss1=$(rss)

# Over two lifetimes, sample: no open session may have an expired access token.
lapsed_max=0
end=$(( $(date +%s) + 22 ))
while [ "$(date +%s)" -lt "$end" ]; do
        lapsed=$(sqlite3 "file:$T/stitch.db?mode=ro" \
                "SELECT count(*) FROM sessions WHERE open = 1 AND revoked = 0 AND access_expires <= strftime('%s','now')")
        [ "$lapsed" -gt "$lapsed_max" ] && lapsed_max=$lapsed
        sleep 1   # sampling interval: time has to pass
done
refreshes=$(sctl status --json | jq .refreshes)
rss2=$(rss)
echo "# sessions=$N refreshes=$refreshes lapsed_max=$lapsed_max rss_kib: start=$rss0 after_open=$rss1 after_refresh=$rss2"
expect_eq "sessions with a lapsed token" 0 "$lapsed_max"
[ "$refreshes" -ge $((N * 2)) ] || fail "only $refreshes refreshes for $N sessions over two lifetimes"
# Bounded: well under 10 KiB per open session plus the baseline.
[ $((rss2 - rss0)) -lt $((N * 10 + 65536)) ] || fail "memory grew by $((rss2 - rss0)) KiB for $N sessions"
ok "$N open sessions all refreshed on time ($refreshes refreshes, RSS ${rss0} -> ${rss2} KiB)"
