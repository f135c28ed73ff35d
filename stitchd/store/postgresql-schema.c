/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PostgreSQL store's schema: its migrations (this backend counts its
 * own versions, from 1) and its integrity check.
 *
 * The tables go in the schema the connection's search_path names first
 * (made if missing: a test passes options=-csearch_path=NAME for a fresh
 * one), so one database can hold several stores. Ids are text, times
 * bigint epoch seconds, hashes and secrets bytea, JSON text (kept byte for
 * byte as the core wrote it). Migrations run under an advisory lock, in
 * one transaction with the version bump, so that two daemons starting at
 * once do not both migrate. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "macro.h"
#include "store/postgresql.h"

static const char *const migrations[] = {
        /* 0 -> 1: everything sqlite.c's schema 7 has. */
        "CREATE TABLE users ("
        "  id text PRIMARY KEY,"
        "  type text NOT NULL,"
        "  email text UNIQUE,"
        "  name text,"
        "  unix_name text UNIQUE,"
        "  data text NOT NULL,"
        "  disabled boolean NOT NULL DEFAULT false,"
        "  creation_date bigint NOT NULL,"
        "  last_authentication_date bigint NOT NULL DEFAULT 0,"
        "  pending boolean NOT NULL DEFAULT false,"
        "  self_registered boolean NOT NULL DEFAULT false,"
        "  unix_uid bigint UNIQUE CHECK (unix_uid IS NULL OR unix_uid > 0)"
        ");"
        "CREATE INDEX users_unix_unassigned ON users (creation_date, id) "
        "  WHERE unix_name IS NOT NULL AND unix_uid IS NULL;"

        /* seq: identities come back in insertion order. */
        "CREATE TABLE identities ("
        "  seq bigserial NOT NULL,"
        "  id text PRIMARY KEY,"
        "  user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
        "  provider_type text NOT NULL,"
        "  provider_id text NOT NULL,"
        "  data text"
        ");"
        "CREATE INDEX identities_user_id ON identities (user_id, seq);"
        "CREATE INDEX identities_provider_type ON identities (provider_type, user_id);"

        "CREATE TABLE passwords ("
        "  user_id text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,"
        "  hash text NOT NULL"
        ");"

        "CREATE TABLE api_keys ("
        "  id text PRIMARY KEY,"
        "  user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
        "  name text NOT NULL,"
        "  hash bytea NOT NULL UNIQUE CHECK (length(hash) = 32),"
        "  disabled boolean NOT NULL DEFAULT false,"
        "  creation_date bigint NOT NULL,"
        "  UNIQUE (user_id, name)"
        ");"

        /* No foreign key on user_id: a deleted user's revoked sessions stay
         * until their tokens are dead (the revocation set's source). */
        "CREATE TABLE sessions ("
        "  id text PRIMARY KEY,"
        "  user_id text NOT NULL,"
        "  device_id text NOT NULL,"
        "  provider_type text NOT NULL,"
        "  service text,"
        "  rhost text,"
        "  tty text,"
        "  refresh_hash bytea NOT NULL UNIQUE CHECK (length(refresh_hash) = 32),"
        "  creation_date bigint NOT NULL,"
        "  refresh_expires bigint NOT NULL,"
        "  access_expires bigint NOT NULL,"
        "  last_used bigint NOT NULL,"
        "  revoked boolean NOT NULL DEFAULT false,"
        "  revoked_at bigint NOT NULL DEFAULT 0,"
        "  revoked_reason text,"
        "  open boolean NOT NULL DEFAULT false,"
        "  leader_pid bigint NOT NULL DEFAULT 0,"
        "  uid bigint NOT NULL DEFAULT -1,"
        "  binding_hash bytea CHECK (binding_hash IS NULL OR length(binding_hash) = 32),"
        "  created_usec bigint NOT NULL DEFAULT 0,"
        "  apikey_id text"
        ");"
        "CREATE INDEX sessions_user_id ON sessions (user_id);"
        "CREATE INDEX sessions_revoked ON sessions (access_expires) WHERE revoked;"
        "CREATE INDEX sessions_open ON sessions (open) WHERE open;"
        "CREATE INDEX sessions_refresh_expires ON sessions (refresh_expires);"
        "CREATE INDEX sessions_apikey_id ON sessions (apikey_id) WHERE apikey_id IS NOT NULL;"

        "CREATE TABLE retired_refresh_tokens ("
        "  hash bytea PRIMARY KEY CHECK (length(hash) = 32),"
        "  session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE"
        ");"
        "CREATE INDEX retired_refresh_tokens_session ON retired_refresh_tokens (session_id);"

        "CREATE TABLE signing_keys ("
        "  kid text PRIMARY KEY,"
        "  alg text NOT NULL,"
        "  secret bytea NOT NULL,"
        "  created bigint NOT NULL,"
        "  retired bigint NOT NULL DEFAULT 0"
        ");"
        "CREATE UNIQUE INDEX signing_keys_active ON signing_keys (retired) WHERE retired = 0;"

        "CREATE TABLE retired_unix_uids ("
        "  uid bigint PRIMARY KEY"
        ");"

        "CREATE TABLE email_tokens ("
        "  id text PRIMARY KEY,"
        "  user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
        "  kind text NOT NULL CHECK (kind IN ('confirm', 'reset')),"
        "  hash bytea NOT NULL CHECK (length(hash) = 32),"
        "  expires bigint NOT NULL"
        ");"
        "CREATE INDEX email_tokens_user ON email_tokens (user_id, kind);"
        "CREATE INDEX email_tokens_expires ON email_tokens (expires);"

        /* The change feed. The sequence never gives an id twice, not even
         * after the newest events were pruned. */
        "CREATE TABLE events ("
        "  id bigserial PRIMARY KEY,"
        "  time bigint NOT NULL,"
        "  kind text NOT NULL,"
        "  subject text NOT NULL,"
        "  data text"
        ");"
        "CREATE INDEX events_time ON events (time);"
        /* Every statement that writes events tells the listeners, at commit. */
        "CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS "
        "  $$BEGIN PERFORM pg_notify('stitch_events', ''); RETURN NULL; END$$;"
        "CREATE TRIGGER events_notify AFTER INSERT ON events "
        "  FOR EACH STATEMENT EXECUTE FUNCTION events_notify();",

        /* 1 -> 2: a user's live sessions, oldest first, without its ended
         * ones: what a login counts for MaxPerUser and ends past it (ended
         * sessions stay until pruned: a busy API key leaves thousands). */
        "CREATE INDEX sessions_live_of_user ON sessions (user_id, creation_date, created_usec, id) "
        "WHERE NOT revoked;",

        /* 2 -> 3: the same index, with what a login's live count filters
         * on, so that an index-only scan can answer it (the SQLite store's
         * 8 -> 9). */
        "DROP INDEX sessions_live_of_user;"
        "CREATE INDEX sessions_live_of_user ON sessions (user_id, creation_date, created_usec, id) "
        "INCLUDE (refresh_expires) WHERE NOT revoked;",
};

const int pg_schema_latest = (int) ELEMENTSOF(migrations);

/* The first schema of search_path, made if it does not exist ("$user": the
 * role's; unquoted, lower case, as the server reads search_path). */
#define CREATE_SCHEMA                                                                                   \
        "DO $$DECLARE raw text := trim(split_part(current_setting('search_path'), ',', 1)); n text; "   \
        "BEGIN IF current_schema() IS NULL AND raw <> '' THEN "                                         \
        "  IF left(raw, 1) = '\"' THEN n := replace(substr(raw, 2, length(raw) - 2), '\"\"', '\"'); "      \
        "  ELSE n := lower(raw); END IF; "                                                              \
        "  IF n = '$user' THEN n := current_user; END IF; "                                             \
        "  EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', n); "                                       \
        "END IF; END$$"

int pg_schema_version_of(struct pg_conn *c, int *ret_version) {
        int64_t v = 0;
        int r = pg_query(c, PQ_SCHEMA_VERSION, PG_NO_ARGS, &v);
        if (r < 0)
                return r;
        *ret_version = r == 0 ? 0 : v < 0 || v > INT32_MAX ? INT32_MAX : (int) v;
        return 0;
}

static int migrate_tx(struct pg_conn *c, const char *described) {
        int version = 0, r;

        /* One migration at a time per database, whichever host starts. */
        r = pg_exec_sql(c, "SELECT pg_advisory_xact_lock(hashtext('stitchd schema'))", "schema lock");
        if (r >= 0)
                r = pg_exec_sql(c, CREATE_SCHEMA, "create schema");
        if (r >= 0)
                r = pg_exec_sql(c,
                                "CREATE TABLE IF NOT EXISTS schema_version ("
                                "  id integer PRIMARY KEY CHECK (id = 1),"
                                "  version integer NOT NULL)",
                                "schema_version");
        if (r >= 0)
                r = pg_schema_version_of(c, &version);
        if (r < 0)
                return r;
        if (version > pg_schema_latest)
                return log_error_errno(EIO,
                                       "Store %s has schema version %d, newer than this stitchd supports (%d); "
                                       "refusing to use it.",
                                       described, version, pg_schema_latest);
        for (int v = version; v < pg_schema_latest; v++) {
                char sql[128];
                r = pg_exec_sql(c, migrations[v], "migration");
                if (r < 0)
                        return log_error_errno(r, "Store %s: migration to schema version %d failed: %m", described,
                                               v + 1);
                (void) snprintf(sql, sizeof(sql),
                                "INSERT INTO schema_version (id, version) VALUES (1, %d) "
                                "ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                                v + 1);
                r = pg_exec_sql(c, sql, "schema version");
                if (r < 0)
                        return r;
                log_info("Store %s: migrated to schema version %d.", described, v + 1);
        }
        return 0;
}

int pg_migrate(struct pg_conn *c, const char *described) {
        int r = pg_exec_sql(c, "BEGIN ISOLATION LEVEL READ COMMITTED", "begin");
        if (r < 0)
                return r;
        r = migrate_tx(c, described);
        if (r >= 0)
                r = pg_exec_sql(c, "COMMIT", "commit");
        if (r < 0 && sym_PQstatus(c->pg) == CONNECTION_OK && sym_PQtransactionStatus(c->pg) != PQTRANS_IDLE)
                (void) pg_exec_sql(c, "ROLLBACK", "rollback");
        return r;
}

/* Each check: a count of rows that should not exist, and what they are. */
static const struct {
        const char *sql;
        const char *what;
} checks[] = {
        {"SELECT count(*) FROM identities i WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = i.user_id)",
         "identities of users that do not exist"},
        {"SELECT count(*) FROM passwords p WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = p.user_id)",
         "passwords of users that do not exist"},
        {"SELECT count(*) FROM api_keys k WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = k.user_id)",
         "API keys of users that do not exist"},
        {"SELECT count(*) FROM email_tokens t WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id)",
         "email tokens of users that do not exist"},
        /* A deleted user's sessions stay, but revoked: a live one is a hole. */
        {"SELECT count(*) FROM sessions s WHERE NOT s.revoked "
         "AND s.refresh_expires > extract(epoch FROM now())::bigint "
         "AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)",
         "live sessions of users that do not exist"},
        {"SELECT count(*) FROM retired_refresh_tokens t "
         "WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = t.session_id)",
         "retired refresh tokens of sessions that do not exist"},
        {"SELECT count(*) FROM users u JOIN retired_unix_uids r ON r.uid = u.unix_uid",
         "users holding a retired (deleted user's) uid"},
        {"SELECT greatest(count(*) - 1, 0) FROM signing_keys WHERE retired = 0", "extra active signing keys"},
        {"SELECT count(*) FROM users WHERE data IS NULL OR data = ''", "users without data"},
};

int pg_integrity_check(struct pg_conn *c, struct stitch_strv_builder *problems) {
        int version = 0, r;

        r = pg_schema_version_of(c, &version);
        if (r < 0)
                return r;
        if (version != pg_schema_latest) {
                char m[128];
                (void) snprintf(m, sizeof(m), "schema version %d, expected %d", version, pg_schema_latest);
                r = stitch_strv_builder_add(problems, m);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
                _cleanup_pgresult_ PGresult *res = sym_PQexec(c->pg, checks[i].sql);
                if (sym_PQresultStatus(res) != PGRES_TUPLES_OK || sym_PQntuples(res) != 1) {
                        r = stitch_strv_builder_add(problems, "a check could not run (is the schema complete?)");
                        if (r < 0)
                                return r;
                        return sym_PQstatus(c->pg) == CONNECTION_BAD ? -ENOTCONN : 0;
                }
                int64_t n = pg_col_int(res, 0, 0);
                if (n > 0) {
                        char m[160];
                        (void) snprintf(m, sizeof(m), "%lld %s", (long long) n, checks[i].what);
                        r = stitch_strv_builder_add(problems, m);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}
