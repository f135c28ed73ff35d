# SPDX-License-Identifier: LGPL-2.1-or-later
# A real PostgreSQL server for a test: initdb in the test's temp dir, run by
# an unprivileged account (postgres refuses root), listening only on a Unix
# socket in that dir, stopped at exit. Source it after tests/lib.sh:
#   . "$top_srcdir/tests/store/pg-lib.sh"
#   pg_need; pg_start; ... Store=$(pg_spec)
# pg_start waits for readiness with pg_ctl -w (it polls the server), never a sleep.

pg_need() {
        PG_BIN=
        local d
        for d in ${STITCH_PG_BINDIR:-} $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
                [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { PG_BIN=$d; break; }
        done
        [ -n "$PG_BIN" ] || skip "the PostgreSQL server is not installed (apt-get install postgresql)"
        command -v psql >/dev/null || skip "psql is not installed"
        PG_DIR=$T/pg
        PG_DATA=$PG_DIR/data
        PG_SOCKDIR=$PG_DIR
        PG_DB=stitch
        PG_USER=stitch
        if [ "$(id -u)" = 0 ]; then
                id postgres >/dev/null 2>&1 || skip "no postgres account to run the server as"
                PG_AS=(runuser -u postgres --)
        else
                PG_AS=()
        fi
        mkdir -p "$PG_DIR"
        [ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
        chmod 0755 "$T"
        trap pg_cleanup EXIT
}

pg_cleanup() {
        pg_stop_now
        if declare -F pam_cleanup >/dev/null; then pam_cleanup; else stitch_cleanup; fi
}

# Runs psql as the server's superuser on the test database (or DB).
pg_psql() {
        "${PG_AS[@]}" psql -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKDIR" -d "${PG_PSQL_DB:-$PG_DB}" "$@"
}

pg_start() {
        if [ ! -f "$PG_DATA/PG_VERSION" ]; then
                "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -A trust -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
                        || fail "initdb failed: $(tail -n 5 "$PG_DIR/initdb.log")"
                PG_FRESH=1
        fi
        "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/server.log" -w -t 60 \
                -o "-c listen_addresses='' -k $PG_SOCKDIR -c fsync=on" start >/dev/null \
                || fail "PostgreSQL did not start: $(tail -n 5 "$PG_DIR/server.log")"
        PG_PID=$(head -n 1 "$PG_DATA/postmaster.pid")
        if [ -n "${PG_FRESH:-}" ]; then
                PG_PSQL_DB=postgres pg_psql -c "CREATE ROLE $PG_USER LOGIN" -c "CREATE DATABASE $PG_DB OWNER $PG_USER" \
                        || fail "cannot create the test database"
                PG_FRESH=
        fi
}

# The server crashes: SIGKILL to the postmaster and all its processes at
# once (as when its host dies), then waits until every one is gone.
pg_kill9() {
        [ -n "${PG_PID:-}" ] || return 0
        local pids p i=0
        pids="$PG_PID $(pgrep -P "$PG_PID" | tr '\n' ' ')"
        kill -KILL $pids 2>/dev/null
        for p in $pids; do
                while kill -0 "$p" 2>/dev/null; do
                        i=$((i + 1)); [ $i -gt 1000 ] && fail "postgres process $p did not die"
                        sleep 0.01   # waiting for an exit, not for readiness
                done
        done
        PG_PID=
}

pg_stop_now() {
        [ -n "${PG_DATA:-}" ] && [ -f "$PG_DATA/postmaster.pid" ] && \
                "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1
        PG_PID=
}

# The store spec for stitchd: a libpq URI over the Unix socket.
pg_spec() {
        local dir=${PG_SOCKDIR//\//%2F}
        echo "postgresql://$PG_USER@/$PG_DB?host=$dir${1:+&$1}"
}
