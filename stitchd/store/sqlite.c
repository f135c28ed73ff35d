/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The embedded SQLite store.
 *
 * Connections to one WAL database: a write connection (every write, and the
 * multi-statement or bulk reads that must see one snapshot) and read
 * connections for the point look-ups (one per CPU, 2 to READERS_MAX), so
 * that those never queue behind a write's fsync nor behind each other when
 * several threads read at once (the event loop, the CPU loops, the HTTP
 * threads, the workers). Each connection has its own mutex; SQLite's own
 * per-connection mutexes are off (SQLITE_OPEN_NOMUTEX).
 *
 * Every write is one BEGIN IMMEDIATE ... COMMIT transaction with
 * synchronous=FULL; an op returns 0 only after its COMMIT succeeded. The one
 * exception is marking a session open (session_set_open), which only has to
 * survive the daemon, not the machine, and is committed without fsync.
 *
 * SQL text is constant: every value is bound. Statements are prepared once
 * per connection (SQLITE_PREPARE_PERSISTENT) and reused.
 *
 * Memory: the writer's page cache is bounded by WRITER_CACHE_KIB and each
 * reader's by READER_CACHE_KIB, and release_memory gives back what the
 * caches hold when the daemon is idle.
 *
 * The spec is "sqlite:/absolute/path/to/database". The files: open()
 * refuses a database file that is a symlink, not a regular file, not owned
 * by the current euid, or readable by group or others, and a directory that
 * anyone but root and us may write (-EPERM, with a log line saying which);
 * it creates a new database 0600, and makes an existing -wal, -shm or
 * -journal next to it 0600 (refusing symlinked ones). prepare() makes the
 * database's directory (0700) when it is missing, for runs outside systemd's
 * StateDirectory=.
 *
 * integrity_check() is PRAGMA integrity_check: its rows are the problems,
 * none when it says "ok". */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "trusted-path.h"
#include "validate.h"
#include "macro.h"
#include "store/store.h"

/* ---------------------------------------------------------------------------
 * Schema. migrations[i] takes the database from version i to version i + 1;
 * each step runs in its own transaction together with the version bump. */

static const char *const migrations[] = {
        /* 0 -> 1 */
        "CREATE TABLE users ("
        "  id TEXT PRIMARY KEY NOT NULL,"
        "  type TEXT NOT NULL,"
        "  email TEXT UNIQUE,"
        "  name TEXT,"
        "  unix_name TEXT UNIQUE,"
        "  data TEXT NOT NULL,"
        "  disabled INTEGER NOT NULL DEFAULT 0,"
        "  creation_date INTEGER NOT NULL,"
        "  last_authentication_date INTEGER NOT NULL DEFAULT 0"
        ") WITHOUT ROWID;"

        /* A rowid table: identities come back in insertion order. */
        "CREATE TABLE identities ("
        "  id TEXT PRIMARY KEY NOT NULL,"
        "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        "  provider_type TEXT NOT NULL,"
        "  provider_id TEXT NOT NULL,"
        "  data TEXT"
        ");"
        "CREATE INDEX identities_user_id ON identities(user_id);"
        "CREATE INDEX identities_provider_type ON identities(provider_type, user_id);"

        "CREATE TABLE passwords ("
        "  user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        "  hash TEXT NOT NULL"
        ") WITHOUT ROWID;"

        "CREATE TABLE api_keys ("
        "  id TEXT PRIMARY KEY NOT NULL,"
        "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        "  name TEXT NOT NULL,"
        "  hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),"
        "  disabled INTEGER NOT NULL DEFAULT 0,"
        "  creation_date INTEGER NOT NULL,"
        "  UNIQUE (user_id, name)"
        ") WITHOUT ROWID;"

        /* No foreign key on user_id: a deleted user's sessions stay, revoked,
         * until their access tokens are dead, so that the revocation set can
         * be rebuilt from them after a restart. */
        "CREATE TABLE sessions ("
        "  id TEXT PRIMARY KEY NOT NULL,"
        "  user_id TEXT NOT NULL,"
        "  device_id TEXT NOT NULL,"
        "  provider_type TEXT NOT NULL,"
        "  service TEXT,"
        "  rhost TEXT,"
        "  tty TEXT,"
        "  refresh_hash BLOB NOT NULL UNIQUE CHECK (length(refresh_hash) = 32),"
        "  creation_date INTEGER NOT NULL,"
        "  refresh_expires INTEGER NOT NULL,"
        "  access_expires INTEGER NOT NULL,"
        "  last_used INTEGER NOT NULL,"
        "  revoked INTEGER NOT NULL DEFAULT 0,"
        "  revoked_at INTEGER NOT NULL DEFAULT 0,"
        "  revoked_reason TEXT,"
        "  open INTEGER NOT NULL DEFAULT 0,"
        "  leader_pid INTEGER NOT NULL DEFAULT 0,"
        "  uid INTEGER NOT NULL DEFAULT -1"
        ") WITHOUT ROWID;"
        "CREATE INDEX sessions_user_id ON sessions(user_id);"
        /* Partial indexes: a new, live, closed session touches neither. */
        "CREATE INDEX sessions_revoked ON sessions(revoked, access_expires) WHERE revoked = 1;"
        "CREATE INDEX sessions_open ON sessions(open) WHERE open = 1;"
        "CREATE INDEX sessions_refresh_expires ON sessions(refresh_expires);"

        "CREATE TABLE signing_keys ("
        "  kid TEXT PRIMARY KEY NOT NULL,"
        "  alg TEXT NOT NULL,"
        "  secret BLOB NOT NULL,"
        "  created INTEGER NOT NULL,"
        "  retired INTEGER NOT NULL DEFAULT 0"
        ") WITHOUT ROWID;"
        /* At most one active key. */
        "CREATE UNIQUE INDEX signing_keys_active ON signing_keys(retired) WHERE retired = 0;",

        /* 1 -> 2: refresh tokens replaced by rotation, so that presenting one
         * again is recognised as theft (the whole session is revoked). They
         * go with their session. */
        "CREATE TABLE retired_refresh_tokens ("
        "  hash BLOB PRIMARY KEY NOT NULL CHECK (length(hash) = 32),"
        "  session_id TEXT NOT NULL"
        ") WITHOUT ROWID;"
        "CREATE INDEX retired_refresh_tokens_session ON retired_refresh_tokens(session_id);"
        "CREATE TRIGGER sessions_delete_retired_refresh AFTER DELETE ON sessions BEGIN"
        "  DELETE FROM retired_refresh_tokens WHERE session_id = OLD.id;"
        " END;",

        /* 2 -> 3: the hash of the session binding, a secret issued at login
         * that OpenSession and CloseSession must present (a session id alone
         * is never enough). NULL for sessions from before: they cannot be
         * opened or closed by id any more, only logged out or revoked. */
        "ALTER TABLE sessions ADD COLUMN binding_hash BLOB "
        "CHECK (binding_hash IS NULL OR length(binding_hash) = 32);"
        /* Creation time in microseconds: orders the sessions of one second
         * (MaxPerUser ends the oldest first). 0 for sessions from before. */
        "ALTER TABLE sessions ADD COLUMN created_usec INTEGER NOT NULL DEFAULT 0;",

        /* 3 -> 4: the API key that opened a session, so that deleting or
         * disabling the key ends it. NULL for other sessions, and for key
         * sessions from before (those end with any key of their user). */
        "ALTER TABLE sessions ADD COLUMN apikey_id TEXT;"
        "CREATE INDEX sessions_apikey_id ON sessions(apikey_id) WHERE apikey_id IS NOT NULL;",

        /* 4 -> 5: Unix accounts (core/unix-accounts.c). A user's uid, also
         * the gid of its user-private group; NULL until one is given. A
         * deleted user's uid stays taken in retired_unix_uids: given to
         * someone else, it would hand them the files left behind. */
        "ALTER TABLE users ADD COLUMN unix_uid INTEGER CHECK (unix_uid IS NULL OR unix_uid > 0);"
        "CREATE UNIQUE INDEX users_unix_uid ON users(unix_uid) WHERE unix_uid IS NOT NULL;"
        "CREATE INDEX users_unix_unassigned ON users(creation_date, id) "
        "WHERE unix_name IS NOT NULL AND unix_uid IS NULL;"
        "CREATE TABLE retired_unix_uids ("
        "  uid INTEGER PRIMARY KEY NOT NULL"
        ");"
        "CREATE TRIGGER users_delete_retire_unix_uid AFTER DELETE ON users WHEN OLD.unix_uid IS NOT NULL BEGIN"
        "  INSERT OR IGNORE INTO retired_unix_uids (uid) VALUES (OLD.unix_uid);"
        " END;",

        /* 5 -> 6: the email/password lifecycle (core/userpass-flows.c). A
         * registered user is pending until confirmed; a self-registered one
         * is never reached through [Pam] EmailDomain=. Confirmation and
         * reset tokens, kept as SHA-256 hashes, go with their user. */
        "ALTER TABLE users ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE users ADD COLUMN self_registered INTEGER NOT NULL DEFAULT 0;"
        "CREATE TABLE email_tokens ("
        "  id TEXT PRIMARY KEY NOT NULL,"
        "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        "  kind TEXT NOT NULL CHECK (kind IN ('confirm', 'reset')),"
        "  hash BLOB NOT NULL CHECK (length(hash) = 32),"
        "  expires INTEGER NOT NULL"
        ") WITHOUT ROWID;"
        "CREATE INDEX email_tokens_user ON email_tokens(user_id, kind);"
        "CREATE INDEX email_tokens_expires ON email_tokens(expires);",

        /* 6 -> 7: the change feed (store.h, struct stitch_store_event).
         * AUTOINCREMENT: an id is never given twice, not even after the
         * newest events were pruned, so "after id N" stays meaningful. */
        "CREATE TABLE events ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  time INTEGER NOT NULL,"
        "  kind TEXT NOT NULL,"
        "  subject TEXT NOT NULL,"
        "  data TEXT"
        ");"
        "CREATE INDEX events_time ON events(time);",

        /* 7 -> 8: a user's live sessions, oldest first, without its ended
         * ones: what a login counts for MaxPerUser and ends past it (ended
         * sessions stay until pruned: a busy API key leaves thousands). */
        "CREATE INDEX sessions_live_of_user ON sessions(user_id, creation_date, created_usec, id) "
        "WHERE revoked = 0;",

        /* 8 -> 9: the same index, covering what a login reads of it (the
         * live count, and which sessions a login past MaxPerUser ends): with
         * refresh_expires and revoked in it, SQLite answers from the index
         * alone. Without them (SQLite 3.40 does not count a partial index's
         * WHERE as covered), the count looked up every live session's row
         * by its text primary key: a login cost ~0.7 us more per live
         * session of its user (up to MaxPerUser, 100 by default). */
        "DROP INDEX sessions_live_of_user;"
        "CREATE INDEX sessions_live_of_user "
        "ON sessions(user_id, creation_date, created_usec, id, refresh_expires, revoked) WHERE revoked = 0;",
};

#define SCHEMA_VERSION ((int) ELEMENTSOF(migrations))

/* ---------------------------------------------------------------------------
 * Statements, prepared lazily and cached per connection. */

/* What user_create writes; a read also gets unix_uid (USER_COLUMNS). */
#define USER_INSERT_COLUMNS                                                                           \
        "id, type, email, name, unix_name, data, disabled, creation_date, last_authentication_date, "        \
        "pending, self_registered"
#define USER_COLUMNS USER_INSERT_COLUMNS ", unix_uid"
/* Every uid ever given to a user (?1..?2 of them), deleted users' included. */
#define UNIX_UIDS_IN_RANGE                                                                            \
        "SELECT unix_uid AS uid FROM users WHERE unix_uid BETWEEN ?1 AND ?2 "                        \
        "UNION ALL SELECT uid FROM retired_unix_uids WHERE uid BETWEEN ?1 AND ?2"
#define APIKEY_COLUMNS "id, user_id, name, hash, disabled, creation_date"
#define SESSION_COLUMNS                                                                       \
        "id, user_id, device_id, provider_type, service, rhost, tty, refresh_hash, "          \
        "creation_date, refresh_expires, access_expires, last_used, revoked, revoked_at, "    \
        "revoked_reason, open, leader_pid, uid, binding_hash, created_usec, apikey_id"
#define KEY_COLUMNS "kid, alg, secret, created, retired"
/* SESSION_COLUMNS and USER_COLUMNS of a join of sessions s and users u, in
 * the same order (read_session() and read_user_at() go by position). */
#define JOINED_SESSION_COLUMNS                                                                        \
        "s.id, s.user_id, s.device_id, s.provider_type, s.service, s.rhost, s.tty, s.refresh_hash, "  \
        "s.creation_date, s.refresh_expires, s.access_expires, s.last_used, s.revoked, s.revoked_at, " \
        "s.revoked_reason, s.open, s.leader_pid, s.uid, s.binding_hash, s.created_usec, s.apikey_id"
#define JOINED_SESSION_N_COLUMNS 21
#define JOINED_USER_COLUMNS                                                                           \
        "u.id, u.type, u.email, u.name, u.unix_name, u.data, u.disabled, u.creation_date, "           \
        "u.last_authentication_date, u.pending, u.self_registered, u.unix_uid"
#define SESSION_WITH_USER "SELECT " JOINED_SESSION_COLUMNS ", " JOINED_USER_COLUMNS " FROM sessions s LEFT JOIN users u ON u.id = s.user_id "
/* Sessions whose tokens may still be accepted: what revoking must catch. */
#define SESSION_LIVE_OF_USER "user_id = ?1 AND revoked = 0 AND (refresh_expires > ?2 OR access_expires > ?2)"
/* The live sessions API key ?1 opened, and those of its owner's sessions of
 * provider ?4 that name no key (opened before sessions recorded it). */
#define SESSION_LIVE_OF_APIKEY                                                                        \
        "revoked = 0 AND (refresh_expires > ?2 OR access_expires > ?2) AND (apikey_id = ?1 OR "      \
        "(apikey_id IS NULL AND provider_type = ?4 AND user_id = (SELECT user_id FROM api_keys WHERE id = ?1)))"

enum stmt_id {
        ST_BEGIN,
        ST_BEGIN_IMMEDIATE,
        ST_COMMIT,
        ST_ROLLBACK,
        ST_SAVEPOINT,
        ST_RELEASE,
        ST_ROLLBACK_TO,
        ST_SCHEMA_VERSION,
        ST_SCHEMA_VERSION_SET,
        ST_INTEGRITY_CHECK,

        ST_USER_INSERT,
        ST_IDENTITY_INSERT,
        ST_USER_BY_ID,
        ST_USER_BY_EMAIL,
        ST_USER_BY_UNIX_NAME,
        ST_USER_BY_UNIX_UID,
        ST_USER_BY_IDENTITY,
        ST_USER_EXISTS,
        ST_USER_MERGEABLE,
        ST_IDENTITIES_OF_USER,
        ST_USER_LIST,
        ST_USER_COUNT,
        ST_USER_SET_DISABLED,
        ST_USER_UPDATE,
        ST_USER_DELETE,
        ST_USER_MERGE_FLAGS,
        ST_USER_TOUCH,
        ST_USER_IDLE_OF_PROVIDER,
        ST_IDENTITIES_MOVE,
        ST_PASSWORD_MOVE,
        ST_APIKEYS_MOVE,
        ST_APIKEYS_MERGED_COUNT,
        ST_APIKEYS_NAME_CLASH,
        ST_IDENTITY_DELETE,
        ST_IDENTITY_SET_DATA,
        ST_IDENTITY_COUNT_OF_USER,
        ST_PASSWORD_DELETE,

        ST_USER_UNIX_UID,
        ST_UNIX_UID_TAKEN,
        ST_USER_ASSIGN_UNIX_UID,
        ST_USER_LIST_UNIX,
        ST_USER_LIST_UNIX_UNASSIGNED,
        ST_UNIX_UID_MAX,
        ST_UNIX_UID_NEXT_FREE,
        ST_UNIX_UID_RETIRED_LIST,
        ST_UNIX_UID_RETIRE,
        ST_USER_UNIX_UID_HOLDER,

        ST_PASSWORD_GET,
        ST_PASSWORD_SET,

        ST_USER_SET_PENDING,
        ST_EMAIL_TOKENS_DELETE_OF_USER,
        ST_EMAIL_TOKEN_INSERT,
        ST_EMAIL_TOKEN_BY_ID,
        ST_EMAIL_TOKEN_DELETE,
        ST_EMAIL_TOKEN_PRUNE,

        ST_APIKEY_COUNT_OF_USER,
        ST_APIKEY_INSERT,
        ST_APIKEY_BY_HASH,
        ST_APIKEY_BY_ID,
        ST_APIKEY_LIST_ALL,
        ST_APIKEY_LIST_OF_USER,
        ST_APIKEY_SET_DISABLED,
        ST_APIKEY_DELETE,

        ST_SESSION_INSERT,
        ST_SESSION_EXCESS_IDS,
        ST_SESSION_BY_ID,
        ST_SESSION_BY_REFRESH_HASH,
        ST_SESSION_WITH_USER_BY_ID,
        ST_SESSION_WITH_USER_BY_REFRESH_HASH,
        ST_SESSION_LIVE_COUNT_OF_USER,
        ST_SESSION_EXISTS,
        ST_SESSION_LIST_ALL,
        ST_SESSION_LIST_OF_USER,
        ST_SESSION_REVOKE,
        ST_SESSION_LIVE_IDS_OF_USER,
        ST_SESSION_REVOKE_USER,
        ST_SESSION_LIVE_IDS_OF_APIKEY,
        ST_SESSION_REVOKE_APIKEY,
        ST_SESSION_REFRESHED,
        ST_SESSION_RETIRE_REFRESH,
        ST_SESSION_BY_RETIRED_REFRESH,
        ST_SESSION_SET_OPEN,
        ST_SESSION_REVOKED_LIVE,
        ST_SESSION_OPEN_LIVE,
        ST_SESSION_PRUNE_REVOKED,
        ST_SESSION_PRUNE_EXPIRED,
        ST_SESSION_COUNT,

        ST_EVENT_INSERT,
        ST_EVENTS_SESSION,
        ST_EVENTS_SESSIONS_OF_USER,
        ST_EVENTS_SESSIONS_OF_APIKEY,
        ST_EVENTS_SINCE,
        ST_EVENTS_LAST_ID,
        ST_EVENTS_PRUNE,
        ST_KEY_LIST,
        ST_KEY_RETIRE_ACTIVE,
        ST_KEY_INSERT,
        ST_KEY_PRUNE,

        _ST_MAX,
};

static const char *const stmt_sql[_ST_MAX] = {
        [ST_BEGIN] = "BEGIN",
        [ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
        [ST_COMMIT] = "COMMIT",
        [ST_ROLLBACK] = "ROLLBACK",
        [ST_SAVEPOINT] = "SAVEPOINT item",
        [ST_RELEASE] = "RELEASE item",
        [ST_ROLLBACK_TO] = "ROLLBACK TO item",
        [ST_SCHEMA_VERSION] = "SELECT version FROM schema_version WHERE id = 1",
        [ST_SCHEMA_VERSION_SET] =
                "INSERT INTO schema_version (id, version) VALUES (1, ?1) "
                "ON CONFLICT (id) DO UPDATE SET version = excluded.version",
        [ST_INTEGRITY_CHECK] = "PRAGMA integrity_check",

        [ST_USER_INSERT] =
                "INSERT INTO users (" USER_INSERT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        [ST_IDENTITY_INSERT] =
                "INSERT INTO identities (id, user_id, provider_type, provider_id, data) VALUES (?1, ?2, ?3, ?4, ?5)",
        [ST_USER_BY_ID] = "SELECT " USER_COLUMNS " FROM users WHERE id = ?1",
        [ST_USER_BY_EMAIL] = "SELECT " USER_COLUMNS " FROM users WHERE email = ?1",
        [ST_USER_BY_UNIX_NAME] = "SELECT " USER_COLUMNS " FROM users WHERE unix_name = ?1",
        [ST_USER_BY_UNIX_UID] = "SELECT " USER_COLUMNS " FROM users WHERE unix_uid = ?1",
        [ST_USER_BY_IDENTITY] = "SELECT " USER_COLUMNS " FROM users WHERE id = (SELECT user_id FROM identities WHERE id = ?1)",
        [ST_USER_EXISTS] = "SELECT 1 FROM users WHERE id = ?1",
        /* Only an account that was never used merges: checked in the merge's
         * own transaction, so that a first login cannot slip in between. */
        [ST_USER_MERGEABLE] =
                "SELECT 1 FROM users WHERE id = ?1 AND last_authentication_date = 0 AND disabled = 0 "
                "AND NOT EXISTS (SELECT 1 FROM sessions WHERE user_id = ?1)",
        [ST_IDENTITIES_OF_USER] =
                "SELECT id, provider_type, provider_id, data FROM identities WHERE user_id = ?1 ORDER BY rowid",
        [ST_USER_LIST] = "SELECT " USER_COLUMNS " FROM users WHERE id > ?1 ORDER BY id LIMIT ?2",
        [ST_USER_COUNT] = "SELECT count(*) FROM users",
        [ST_USER_SET_DISABLED] = "UPDATE users SET disabled = ?2 WHERE id = ?1",
        [ST_USER_UPDATE] = "UPDATE users SET email = ?2, name = ?3, unix_name = ?4, data = ?5 WHERE id = ?1",
        [ST_USER_DELETE] = "DELETE FROM users WHERE id = ?1",
        /* What a merged account's identity came with travels with it: a
         * self-registered email stays self-registered (no EmailDomain
         * mapping, ever) on the user it is linked onto. */
        [ST_USER_MERGE_FLAGS] = "UPDATE users SET "
                                "self_registered = max(self_registered, (SELECT self_registered FROM users WHERE id = ?1)), "
                                "pending = max(pending, (SELECT pending FROM users WHERE id = ?1)) WHERE id = ?2",
        /* Moved identities go last (after the user's own), in their order. */
        [ST_IDENTITIES_MOVE] = "UPDATE identities SET user_id = ?2, rowid = rowid + (SELECT max(rowid) FROM identities) "
                               "WHERE user_id = ?1",
        [ST_PASSWORD_MOVE] = "UPDATE OR IGNORE passwords SET user_id = ?2 WHERE user_id = ?1",
        /* No OR IGNORE: a clash is refused before (ST_APIKEYS_NAME_CLASH),
         * never a key silently left behind to go with the deleted user. */
        [ST_APIKEYS_MOVE] = "UPDATE api_keys SET user_id = ?2 WHERE user_id = ?1",
        [ST_APIKEYS_MERGED_COUNT] = "SELECT count(*) FROM api_keys WHERE user_id = ?1 OR user_id = ?2",
        [ST_APIKEYS_NAME_CLASH] =
                "SELECT 1 FROM api_keys a JOIN api_keys b ON a.name = b.name WHERE a.user_id = ?1 AND b.user_id = ?2",
        [ST_IDENTITY_DELETE] = "DELETE FROM identities WHERE id = ?2 AND user_id = ?1",
        [ST_IDENTITY_SET_DATA] = "UPDATE identities SET data = ?3 WHERE id = ?2 AND user_id = ?1",
        [ST_IDENTITY_COUNT_OF_USER] = "SELECT count(*) FROM identities WHERE user_id = ?1",
        [ST_PASSWORD_DELETE] = "DELETE FROM passwords WHERE user_id = ?1",
        [ST_USER_TOUCH] = "UPDATE users SET last_authentication_date = ?2 WHERE id = ?1",
        /* Idle: no login since the cutoff, and no live session used since the
         * cutoff either (a long PAM login keeps refreshing without a new login). */
        [ST_USER_IDLE_OF_PROVIDER] =
                "SELECT DISTINCT u.id FROM identities i JOIN users u ON u.id = i.user_id "
                "WHERE i.provider_type = ?1 "
                "AND (CASE WHEN u.last_authentication_date > 0 THEN u.last_authentication_date "
                "          ELSE u.creation_date END) < ?2 "
                "AND NOT EXISTS (SELECT 1 FROM identities j WHERE j.user_id = u.id AND j.provider_type <> ?1) "
                "AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = u.id AND s.revoked = 0 AND s.last_used >= ?2) "
                "ORDER BY u.id LIMIT ?3",

        [ST_USER_UNIX_UID] = "SELECT unix_uid FROM users WHERE id = ?1",
        [ST_UNIX_UID_TAKEN] = "SELECT 1 FROM users WHERE unix_uid = ?1 UNION ALL SELECT 1 FROM retired_unix_uids WHERE uid = ?1",
        [ST_USER_ASSIGN_UNIX_UID] = "UPDATE users SET unix_uid = ?2 WHERE id = ?1 AND unix_uid IS NULL",
        [ST_USER_LIST_UNIX] =
                "SELECT " USER_COLUMNS " FROM users WHERE unix_uid > ?1 AND unix_name IS NOT NULL ORDER BY unix_uid LIMIT ?2",
        [ST_USER_LIST_UNIX_UNASSIGNED] =
                "SELECT id FROM users WHERE unix_name IS NOT NULL AND unix_uid IS NULL ORDER BY creation_date, id LIMIT ?1",
        [ST_UNIX_UID_MAX] = "SELECT max(uid) FROM (" UNIX_UIDS_IN_RANGE ")",
        /* The lowest free uid is ?1 itself or one above a taken one. */
        [ST_UNIX_UID_NEXT_FREE] =
                "SELECT c FROM (SELECT ?1 AS c UNION ALL SELECT uid + 1 FROM (" UNIX_UIDS_IN_RANGE ") WHERE uid < ?2) "
                "WHERE NOT EXISTS (SELECT 1 FROM users WHERE unix_uid = c) "
                "AND NOT EXISTS (SELECT 1 FROM retired_unix_uids WHERE uid = c) ORDER BY c LIMIT 1",

        [ST_UNIX_UID_RETIRED_LIST] = "SELECT uid FROM retired_unix_uids WHERE uid > ?1 ORDER BY uid LIMIT ?2",
        [ST_USER_UNIX_UID_HOLDER] = "SELECT 1 FROM users WHERE unix_uid = ?1",
        [ST_UNIX_UID_RETIRE] = "INSERT OR IGNORE INTO retired_unix_uids (uid) "
                               "SELECT ?1 WHERE NOT EXISTS (SELECT 1 FROM users WHERE unix_uid = ?1)",

        [ST_PASSWORD_GET] = "SELECT hash FROM passwords WHERE user_id = ?1",
        [ST_PASSWORD_SET] =
                "INSERT INTO passwords (user_id, hash) VALUES (?1, ?2) "
                "ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash",

        [ST_USER_SET_PENDING] = "UPDATE users SET pending = ?2 WHERE id = ?1",
        [ST_EMAIL_TOKENS_DELETE_OF_USER] = "DELETE FROM email_tokens WHERE user_id = ?1 AND kind = ?2",
        [ST_EMAIL_TOKEN_INSERT] = "INSERT INTO email_tokens (id, user_id, kind, hash, expires) VALUES (?1, ?2, ?3, ?4, ?5)",
        [ST_EMAIL_TOKEN_BY_ID] = "SELECT user_id, kind, hash, expires FROM email_tokens WHERE id = ?1",
        [ST_EMAIL_TOKEN_DELETE] = "DELETE FROM email_tokens WHERE id = ?1",
        [ST_EMAIL_TOKEN_PRUNE] = "DELETE FROM email_tokens WHERE expires <= ?1",

        [ST_APIKEY_COUNT_OF_USER] = "SELECT count(*) FROM api_keys WHERE user_id = ?1",
        [ST_APIKEY_INSERT] = "INSERT INTO api_keys (" APIKEY_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        [ST_APIKEY_BY_HASH] = "SELECT " APIKEY_COLUMNS " FROM api_keys WHERE hash = ?1",
        [ST_APIKEY_BY_ID] = "SELECT " APIKEY_COLUMNS " FROM api_keys WHERE id = ?1",
        [ST_APIKEY_LIST_ALL] = "SELECT " APIKEY_COLUMNS " FROM api_keys ORDER BY creation_date, id",
        [ST_APIKEY_LIST_OF_USER] =
                "SELECT " APIKEY_COLUMNS " FROM api_keys WHERE user_id = ?1 ORDER BY creation_date, id",
        [ST_APIKEY_SET_DISABLED] = "UPDATE api_keys SET disabled = ?2 WHERE id = ?1",
        [ST_APIKEY_DELETE] = "DELETE FROM api_keys WHERE id = ?1",

        /* A session for a user that does not exist (any more) inserts nothing. */
        [ST_SESSION_INSERT] =
                "INSERT INTO sessions (" SESSION_COLUMNS ") "
                "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21 "
                "WHERE EXISTS (SELECT 1 FROM users WHERE id = ?2) "
                /* nor one opened by a key deleted or disabled meanwhile */
                "AND (?21 IS NULL OR EXISTS (SELECT 1 FROM api_keys WHERE id = ?21 AND user_id = ?2 AND disabled = 0))",
        /* The user's live sessions (as session_list counts them) beyond the
         * newest ?3, oldest last: what a login past MaxPerUser ends. */
        [ST_SESSION_EXCESS_IDS] =
                "SELECT id FROM sessions WHERE user_id = ?1 AND revoked = 0 AND refresh_expires > ?2 "
                "ORDER BY creation_date DESC, created_usec DESC, id DESC LIMIT -1 OFFSET ?3",
        [ST_SESSION_BY_ID] = "SELECT " SESSION_COLUMNS " FROM sessions WHERE id = ?1",
        [ST_SESSION_BY_REFRESH_HASH] = "SELECT " SESSION_COLUMNS " FROM sessions WHERE refresh_hash = ?1",
        [ST_SESSION_WITH_USER_BY_ID] = SESSION_WITH_USER "WHERE s.id = ?1",
        [ST_SESSION_WITH_USER_BY_REFRESH_HASH] = SESSION_WITH_USER "WHERE s.refresh_hash = ?1",
        /* What MaxPerUser counts (session_list's live ones). */
        [ST_SESSION_LIVE_COUNT_OF_USER] =
                "SELECT count(*) FROM sessions WHERE user_id = ?1 AND revoked = 0 AND refresh_expires > ?2",
        [ST_SESSION_EXISTS] = "SELECT 1 FROM sessions WHERE id = ?1",
        [ST_SESSION_LIST_ALL] =
                "SELECT " SESSION_COLUMNS " FROM sessions "
                "WHERE ?1 OR (revoked = 0 AND refresh_expires > ?2) ORDER BY creation_date, created_usec, id",
        [ST_SESSION_LIST_OF_USER] =
                "SELECT " SESSION_COLUMNS " FROM sessions "
                "WHERE user_id = ?3 AND (?1 OR (revoked = 0 AND refresh_expires > ?2)) ORDER BY creation_date, created_usec, id",
        [ST_SESSION_REVOKE] =
                "UPDATE sessions SET revoked = 1, revoked_at = ?2, revoked_reason = ?3, open = 0 WHERE id = ?1 AND revoked = 0",
        [ST_SESSION_LIVE_IDS_OF_USER] =
                "SELECT id FROM sessions WHERE " SESSION_LIVE_OF_USER " ORDER BY creation_date, id",
        [ST_SESSION_REVOKE_USER] =
                "UPDATE sessions SET revoked = 1, revoked_at = ?2, revoked_reason = ?3 WHERE " SESSION_LIVE_OF_USER,
        [ST_SESSION_LIVE_IDS_OF_APIKEY] =
                "SELECT id FROM sessions WHERE " SESSION_LIVE_OF_APIKEY " ORDER BY creation_date, id",
        [ST_SESSION_REVOKE_APIKEY] =
                "UPDATE sessions SET revoked = 1, revoked_at = ?2, revoked_reason = ?3 WHERE " SESSION_LIVE_OF_APIKEY,
        /* Compare-and-swap: only while ?5 (if given) is still the refresh hash. */
        [ST_SESSION_REFRESHED] =
                "UPDATE sessions SET access_expires = MAX(access_expires, ?2), last_used = ?3, "
                "refresh_hash = COALESCE(?4, refresh_hash) "
                "WHERE id = ?1 AND revoked = 0 AND (?5 IS NULL OR refresh_hash = ?5)",
        /* Run after the swap above changed the row: ?2 was the refresh hash. */
        [ST_SESSION_RETIRE_REFRESH] =
                "INSERT OR IGNORE INTO retired_refresh_tokens (hash, session_id) VALUES (?2, ?1)",
        [ST_SESSION_BY_RETIRED_REFRESH] =
                "SELECT " SESSION_COLUMNS " FROM sessions WHERE id = "
                "(SELECT session_id FROM retired_refresh_tokens WHERE hash = ?1)",
        [ST_SESSION_SET_OPEN] = "UPDATE sessions SET open = ?2, leader_pid = ?3, uid = ?4 WHERE id = ?1",
        [ST_SESSION_REVOKED_LIVE] =
                "SELECT id, MAX(access_expires, revoked_at + ?2) FROM sessions "
                "WHERE revoked = 1 AND (access_expires > ?1 OR revoked_at + ?2 > ?1)",
        [ST_SESSION_OPEN_LIVE] =
                "SELECT " SESSION_COLUMNS " FROM sessions "
                "WHERE open = 1 AND revoked = 0 AND refresh_expires > ?1 ORDER BY creation_date, id",
        [ST_SESSION_PRUNE_REVOKED] = "DELETE FROM sessions WHERE revoked = 1 AND access_expires < ?1 AND revoked_at < ?1",
        [ST_SESSION_PRUNE_EXPIRED] = "DELETE FROM sessions WHERE refresh_expires < ?1 AND access_expires < ?1",
        [ST_SESSION_COUNT] = "SELECT count(*) FROM sessions",

        /* The change feed. A session's end carries what the revocation set
         * needs; written before the UPDATE that ends it (same transaction),
         * with the same WHERE, so the two name the same sessions. */
        [ST_EVENT_INSERT] = "INSERT INTO events (time, kind, subject, data) VALUES (?1, ?2, ?3, ?4)",
        [ST_EVENTS_SESSION] =
                "INSERT INTO events (time, kind, subject, data) SELECT ?2, 'session.ended', id, "
                "json_object('access_expires', access_expires, 'reason', ?3) FROM sessions WHERE id = ?1",
        [ST_EVENTS_SESSIONS_OF_USER] =
                "INSERT INTO events (time, kind, subject, data) SELECT ?2, 'session.ended', id, "
                "json_object('access_expires', access_expires, 'reason', ?3) FROM sessions "
                "WHERE " SESSION_LIVE_OF_USER " ORDER BY creation_date, id",
        [ST_EVENTS_SESSIONS_OF_APIKEY] =
                "INSERT INTO events (time, kind, subject, data) SELECT ?2, 'session.ended', id, "
                "json_object('access_expires', access_expires, 'reason', ?3) FROM sessions "
                "WHERE " SESSION_LIVE_OF_APIKEY " ORDER BY creation_date, id",
        [ST_EVENTS_SINCE] = "SELECT id, time, kind, subject, data FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
        [ST_EVENTS_LAST_ID] = "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
        [ST_EVENTS_PRUNE] = "DELETE FROM events WHERE time < ?1",

        [ST_KEY_LIST] = "SELECT " KEY_COLUMNS " FROM signing_keys ORDER BY created DESC, kid DESC",
        [ST_KEY_RETIRE_ACTIVE] = "UPDATE signing_keys SET retired = ?1 WHERE retired = 0",
        [ST_KEY_INSERT] = "INSERT INTO signing_keys (" KEY_COLUMNS ") VALUES (?1, ?2, ?3, ?4, 0)",
        [ST_KEY_PRUNE] = "DELETE FROM signing_keys WHERE retired <> 0 AND retired < ?1",
};

/* ---------------------------------------------------------------------------
 * Connections */

/* The page cache of each connection, in KiB. A reader's hot set (the
 * b-tree interior pages of users, sessions, identities and passwords for
 * point look-ups) is a few dozen pages even with 100,000 users, and every
 * commit by the writer empties a reader's cache anyway. The writer inserts
 * sessions into indexes keyed by random values (ids, refresh hashes), whose
 * pages a small cache keeps re-reading: at 2 MiB, API-key logins at 4 and
 * 16 clients ran 19% slower than at 8 MiB. SQLite's default is 2000 KiB. */
#define WRITER_CACHE_KIB 8192
#define READER_CACHE_KIB 2048
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

struct conn {
        pthread_mutex_t lock;
        sqlite3 *db;
        sqlite3_stmt *stmts[_ST_MAX];
        const char *name; /* "write" or "read", for log lines */
        bool relaxed;     /* synchronous=NORMAL still set: restore before the next write */
        unsigned depth;   /* open transactions: 1 = BEGIN, each one more = a SAVEPOINT inside it */
};

/* A session_create waiting for a group commit. */
struct create_request {
        const struct stitch_session *session;
        unsigned max_live;
        struct stitch_strv_builder ended; /* what it ended (MaxPerUser) */
        int result;
        bool done;
        struct create_request *next;
};

#define READERS_MAX 8

struct stitch_store {
        /* Set in a caller transaction's handle (sqlite_begin): the store it
         * runs on. Such a handle has nothing else of its own. */
        struct stitch_store *tx_of;

        char *path;
        struct conn write;
        struct conn read[READERS_MAX];
        unsigned n_readers;

        /* Group commit of session_create (logins): see sqlite_session_create. */
        pthread_mutex_t create_lock;
        pthread_cond_t create_done;
        struct create_request *create_queue, **create_tail;
        bool create_leader;

        /* The caller transaction (sqlite_begin), at most one at a time: the
         * writer is SQLite's only one. While it is open the write
         * connection is in its BEGIN, and every op but those called with
         * its handle waits for tx_ended before it takes the writer. Both
         * guarded by write.lock. */
        bool tx_open;
        pthread_cond_t tx_ended;
        pthread_t tx_thread; /* which began it: see writer_lock() */
        struct stitch_store *tx_handle;
};

static struct conn *conn_lock(struct conn *c) {
        pthread_mutex_lock(&c->lock);
        return c;
}

/* The write connection, locked, for one op. Called with a caller
 * transaction's handle, the op joins that transaction (as a savepoint of
 * it: see tx_begin); called with the store, it waits until no caller
 * transaction is open. */
static struct conn *writer_lock(struct stitch_store *s) {
        if (s->tx_of) {
                struct stitch_store *base = s->tx_of;
                pthread_mutex_lock(&base->write.lock);
                assert(base->tx_open); /* a handle is dead after commit or rollback */
                return &base->write;
        }
        pthread_mutex_lock(&s->write.lock);
        /* The thread that began a transaction and then calls an op with the
         * store instead of its handle would wait for itself forever. */
        assert(!s->tx_open || !pthread_equal(s->tx_thread, pthread_self()));
        while (s->tx_open)
                pthread_cond_wait(&s->tx_ended, &s->write.lock);
        return &s->write;
}

/* Each thread starts looking for a free reader at its own one. */
static _Thread_local unsigned thread_reader = UINT_MAX;
static atomic_uint next_reader;

/* A read connection, locked: the first free one from this thread's own, or
 * else this thread's own once it is free. Reads inside a caller transaction
 * go to the writer, to see its writes. */
static struct conn *reader_lock(struct stitch_store *s) {
        if (s->tx_of)
                return writer_lock(s);
        if (thread_reader == UINT_MAX)
                thread_reader = atomic_fetch_add_explicit(&next_reader, 1, memory_order_relaxed);
        unsigned home = thread_reader % s->n_readers;
        for (unsigned i = 0; i < s->n_readers; i++) {
                struct conn *c = &s->read[(home + i) % s->n_readers];
                if (pthread_mutex_trylock(&c->lock) == 0)
                        return c;
        }
        return conn_lock(&s->read[home]);
}

static void conn_unlockp(struct conn **c) {
        if (*c)
                pthread_mutex_unlock(&(*c)->lock);
}
#define _cleanup_unlock_ _cleanup_(conn_unlockp)

/* Maps an SQLite result code to -errno; anything unexpected is logged. */
static int sql_error(struct conn *c, int rc, const char *what) {
        switch (rc) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
                log_debug("Store %s: %s", what, sqlite3_errmsg(c->db));
                return -EEXIST;
        case SQLITE_CONSTRAINT_FOREIGNKEY:
                /* The referenced user does not exist. */
                log_debug("Store %s: %s", what, sqlite3_errmsg(c->db));
                return -ENOENT;
        case SQLITE_IOERR_NOMEM:
                return -ENOMEM;
        }

        switch (rc & 0xff) {
        case SQLITE_FULL:
                log_error("Store %s failed: %s", what, sqlite3_errmsg(c->db));
                return -ENOSPC;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                log_warning("Store %s failed: %s", what, sqlite3_errmsg(c->db));
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        }

        /* Values are always bound, never part of the SQL text, so the message
         * cannot carry a secret. */
        log_error("Store %s failed on the %s connection: %s (%d)", what, c->name, sqlite3_errmsg(c->db), rc);
        return -EIO;
}

static int conn_stmt(struct conn *c, enum stmt_id id, sqlite3_stmt **ret) {
        if (!c->stmts[id]) {
                int rc = sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmts[id],
                                            NULL);
                if (rc != SQLITE_OK) {
                        c->stmts[id] = NULL;
                        return sql_error(c, rc, "prepare");
                }
        }
        *ret = c->stmts[id];
        return 0;
}

/* Statements are reset (and their bindings dropped, so no pointer to a
 * caller's buffer outlives the call) when they go out of scope. */
static void stmt_resetp(sqlite3_stmt **st) {
        if (*st) {
                (void) sqlite3_reset(*st);
                (void) sqlite3_clear_bindings(*st);
        }
}
#define _cleanup_stmt_ _cleanup_(stmt_resetp)

/* 1 on a row, 0 when done, -errno on failure. */
static int step(struct conn *c, sqlite3_stmt *st, const char *what) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return sql_error(c, rc, what);
}

static int bind_failed(struct conn *c, const char *what) {
        return sql_error(c, sqlite3_errcode(c->db), what);
}

/* A value bound to one parameter of a statement. */
struct arg {
        enum { ARG_NONE, ARG_TEXT, ARG_INT, ARG_BOOL, ARG_BLOB } kind;
        int64_t i;
        const void *p; /* text or blob; NULL binds NULL */
        int len;       /* of a blob */
};
#define NO_ARG ((struct arg) {.kind = ARG_NONE}) /* leaves the parameter unbound (NULL) */
#define ARG_TEXT(v) ((struct arg) {.kind = ARG_TEXT, .p = (v)})
#define ARG_INT(v) ((struct arg) {.kind = ARG_INT, .i = (v)})
#define ARG_BOOL(v) ((struct arg) {.kind = ARG_BOOL, .i = (v)})
#define ARG_BLOB(v, n) ((struct arg) {.kind = ARG_BLOB, .p = (v), .len = (n)})
#define ARG_HASH(v) ARG_BLOB(v, STITCH_HASH_LEN)
/* The values for ?1, ?2, ... as the (args, n_args) parameters below. */
#define ARGS(...) (const struct arg[]) {__VA_ARGS__}, ELEMENTSOF(((const struct arg[]) {__VA_ARGS__}))

static int bind_arg(sqlite3_stmt *st, int i, const struct arg *a) {
        switch (a->kind) {
        case ARG_NONE:
                return SQLITE_OK;
        case ARG_TEXT:
                return sqlite3_bind_text(st, i, a->p, -1, SQLITE_STATIC);
        case ARG_INT:
                return sqlite3_bind_int64(st, i, a->i);
        case ARG_BOOL:
                return sqlite3_bind_int(st, i, a->i ? 1 : 0);
        case ARG_BLOB:
                if (!a->p)
                        return sqlite3_bind_null(st, i);
                return sqlite3_bind_blob(st, i, a->p, a->len, SQLITE_STATIC);
        }
        return SQLITE_MISUSE;
}

/* The cached statement id with args bound to ?1, ?2, ...; *ret is set even
 * when binding fails, for the caller's _cleanup_stmt_ to reset. */
static int prepare(struct conn *c, enum stmt_id id, const char *what, const struct arg *args, size_t n_args,
                   sqlite3_stmt **ret) {
        int r = conn_stmt(c, id, ret);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_args; i++)
                if (bind_arg(*ret, (int) i + 1, args + i) != SQLITE_OK)
                        return bind_failed(c, what);
        return 0;
}

/* prepare() and the first step(): 1 on a row, 0 when none, -errno. */
static int prepare_step(struct conn *c, enum stmt_id id, const char *what, const struct arg *args, size_t n_args,
                        sqlite3_stmt **ret) {
        int r = prepare(c, id, what, args, n_args, ret);
        if (r < 0)
                return r;
        return step(c, *ret, what);
}

/* The helpers below reset their statement before they return, so that none
 * stays active across the caller's COMMIT. */

/* Runs a statement that returns no rows. *ret_changes (optional) = rows changed. */
static int run(struct conn *c, enum stmt_id id, const char *what, const struct arg *args, size_t n_args,
               int *ret_changes) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = prepare_step(c, id, what, args, n_args, &st);
        if (r < 0)
                return r;
        if (ret_changes)
                *ret_changes = sqlite3_changes(c->db);
        return 0;
}

/* run() for an UPDATE/DELETE/INSERT that must change a row: -ENOENT if none. */
static int run_one(struct conn *c, enum stmt_id id, const char *what, const struct arg *args, size_t n_args) {
        int changes = 0;
        int r = run(c, id, what, args, n_args, &changes);
        if (r < 0)
                return r;
        return changes > 0 ? 0 : -ENOENT;
}

/* 1 if the statement returns a row, 0 if not; *ret_value (optional) = the
 * row's first column. */
static int query(struct conn *c, enum stmt_id id, const char *what, const struct arg *args, size_t n_args,
                 int64_t *ret_value) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = prepare_step(c, id, what, args, n_args, &st);
        if (r > 0 && ret_value)
                *ret_value = sqlite3_column_int64(st, 0);
        return r;
}

static int exec_simple(struct conn *c, enum stmt_id id) {
        sqlite3_stmt *st = NULL;
        int r, rc;

        r = conn_stmt(c, id, &st);
        if (r < 0)
                return r;
        rc = sqlite3_step(st);
        r = rc == SQLITE_DONE ? 0 : sql_error(c, rc, stmt_sql[id]);
        (void) sqlite3_reset(st);
        return r;
}

/* Read-only transactions (a snapshot) use BEGIN; writes BEGIN IMMEDIATE, so
 * that the write lock is taken up front and never upgraded midway. */
static int tx_begin(struct conn *c, bool write) {
        if (c->depth > 0) {
                /* Inside a caller's transaction: this op is one savepoint of it. */
                int r = exec_simple(c, ST_SAVEPOINT);
                if (r >= 0)
                        c->depth++;
                return r;
        }
        if (write && c->relaxed) {
                /* Every write but one kind is acknowledged only when durable. */
                if (sqlite3_exec(c->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK)
                        return log_error_errno(EIO, "Store: cannot restore synchronous=FULL: %s",
                                               sqlite3_errmsg(c->db));
                c->relaxed = false;
        }
        int r = exec_simple(c, write ? ST_BEGIN_IMMEDIATE : ST_BEGIN);
        if (r >= 0)
                c->depth = 1;
        return r;
}

/* A write transaction whose COMMIT is not fsynced (see session_set_open). The
 * connection stays relaxed until the next tx_begin(c, true) restores FULL. If
 * NORMAL cannot be set, the transaction is simply durable. */
static int tx_begin_relaxed(struct conn *c) {
        if (c->depth > 0)
                return tx_begin(c, true); /* durable with the caller's transaction */
        if (!c->relaxed && sqlite3_exec(c->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) == SQLITE_OK)
                c->relaxed = true;
        int r = exec_simple(c, ST_BEGIN_IMMEDIATE);
        if (r >= 0)
                c->depth = 1;
        return r;
}

/* Commits if r >= 0, else rolls back. Returns r, or the COMMIT failure. */
static int tx_end(struct conn *c, int r) {
        assert(c->depth > 0);
        if (c->depth > 1) {
                /* A savepoint: a failed op leaves nothing behind, the caller's
                 * transaction goes on and decides. */
                c->depth--;
                if (r < 0) {
                        int q = exec_simple(c, ST_ROLLBACK_TO);
                        if (q < 0)
                                log_error_errno(q, "Store: rollback to savepoint failed: %m");
                }
                int q = exec_simple(c, ST_RELEASE);
                return r >= 0 && q < 0 ? q : r;
        }
        c->depth = 0;
        if (r >= 0) {
                int q = exec_simple(c, ST_COMMIT);
                if (q >= 0)
                        return r;
                r = q;
        }
        if (!sqlite3_get_autocommit(c->db)) {
                int q = exec_simple(c, ST_ROLLBACK);
                if (q < 0)
                        log_error_errno(q, "Store: rollback failed: %m");
        }
        return r;
}

/* ---------------------------------------------------------------------------
 * Small containers */

static int grow(void **array, size_t *allocated, size_t need, size_t size) {
        size_t n;
        void *p;

        if (need <= *allocated)
                return 0;
        n = MAX(need, MAX(*allocated * 2, (size_t) 8));
        if (n > SIZE_MAX / size)
                return -ENOMEM;
        p = realloc(*array, n * size);
        if (!p)
                return -ENOMEM;
        *array = p;
        *allocated = n;
        return 0;
}

/* ---------------------------------------------------------------------------
 * Column readers */

static int col_strdup(sqlite3_stmt *st, int i, char **ret) {
        const unsigned char *t;
        char *d;

        if (sqlite3_column_type(st, i) == SQLITE_NULL) {
                *ret = NULL;
                return 0;
        }
        t = sqlite3_column_text(st, i);
        if (!t)
                return -ENOMEM;
        d = strdup((const char *) t);
        if (!d)
                return -ENOMEM;
        *ret = d;
        return 0;
}

static int col_id(sqlite3_stmt *st, int i, char dst[static STITCH_ID_LEN + 1]) {
        const unsigned char *t;
        int n;

        t = sqlite3_column_text(st, i);
        if (!t)
                return sqlite3_column_type(st, i) == SQLITE_NULL ? -EIO : -ENOMEM;
        n = sqlite3_column_bytes(st, i);
        if (n < 0 || n > STITCH_ID_LEN)
                return log_error_errno(EIO, "Store: malformed id in the database (%d bytes).", n);
        memcpy(dst, t, (size_t) n);
        dst[n] = 0;
        return 0;
}

static int col_hash(sqlite3_stmt *st, int i, uint8_t dst[static STITCH_HASH_LEN]) {
        const void *b = sqlite3_column_blob(st, i);
        int n = sqlite3_column_bytes(st, i);

        if (!b || n != STITCH_HASH_LEN)
                return log_error_errno(EIO, "Store: malformed hash in the database (%d bytes).", n);
        memcpy(dst, b, STITCH_HASH_LEN);
        return 0;
}

static bool col_bool(sqlite3_stmt *st, int i) {
        return sqlite3_column_int64(st, i) != 0;
}

/* ---------------------------------------------------------------------------
 * Row readers: one per table, each reading the current row of a statement
 * into *ret (a struct, or a pointer to a new one). On failure they leave
 * nothing to free and *ret unwritten. */

typedef int (*read_row_fn)(sqlite3_stmt *st, void *ret);

/* The USER_COLUMNS of a row from column i on, without identities. */
static int read_user_at(sqlite3_stmt *st, int i, struct stitch_user **ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        int r;

        u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        r = col_id(st, i, u->id);
        if (r < 0)
                return r;
        if ((r = col_strdup(st, i + 1, &u->type)) < 0 || (r = col_strdup(st, i + 2, &u->email)) < 0 ||
            (r = col_strdup(st, i + 3, &u->name)) < 0 || (r = col_strdup(st, i + 4, &u->unix_name)) < 0 ||
            (r = col_strdup(st, i + 5, &u->data_json)) < 0)
                return r;
        u->disabled = col_bool(st, i + 6);
        u->creation_date = sqlite3_column_int64(st, i + 7);
        u->last_authentication_date = sqlite3_column_int64(st, i + 8);
        u->pending = col_bool(st, i + 9);
        u->self_registered = col_bool(st, i + 10);
        u->unix_uid = sqlite3_column_type(st, i + 11) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, i + 11);
        *ret = TAKE_PTR(u);
        return 0;
}

/* Row of USER_COLUMNS, without identities; ret: struct stitch_user **. */
static int read_user(sqlite3_stmt *st, void *ret) {
        return read_user_at(st, 0, ret);
}

/* Row of ST_IDENTITIES_OF_USER; ret: struct stitch_identity *. */
static int read_identity(sqlite3_stmt *st, void *ret) {
        _cleanup_(stitch_identity_done) struct stitch_identity i = {};
        int r;

        if ((r = col_id(st, 0, i.id)) < 0 || (r = col_strdup(st, 1, &i.provider_type)) < 0 ||
            (r = col_strdup(st, 2, &i.provider_id)) < 0 || (r = col_strdup(st, 3, &i.data_json)) < 0)
                return r;
        *(struct stitch_identity *) ret = i;
        i = (struct stitch_identity) {}; /* handed over */
        return 0;
}

/* ret: char ** (a password hash, never NULL). */
static int read_password(sqlite3_stmt *st, void *ret) {
        char *h = NULL;
        int r;

        r = col_strdup(st, 0, &h);
        if (r < 0)
                return r;
        if (!h)
                return -EIO;
        *(char **) ret = h;
        return 0;
}

/* Row of APIKEY_COLUMNS; ret: struct stitch_apikey **. */
static int read_apikey(sqlite3_stmt *st, void *ret) {
        _cleanup_(stitch_apikey_freep) struct stitch_apikey *k = NULL;
        int r;

        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        if ((r = col_id(st, 0, k->id)) < 0 || (r = col_id(st, 1, k->user_id)) < 0 ||
            (r = col_strdup(st, 2, &k->name)) < 0 || (r = col_hash(st, 3, k->hash)) < 0)
                return r;
        k->disabled = col_bool(st, 4);
        k->creation_date = sqlite3_column_int64(st, 5);
        *(struct stitch_apikey **) ret = TAKE_PTR(k);
        return 0;
}

/* Row of SESSION_COLUMNS; ret: struct stitch_session **. */
static int read_session(sqlite3_stmt *st, void *ret) {
        _cleanup_(stitch_session_freep) struct stitch_session *s = NULL;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        if ((r = col_id(st, 0, s->id)) < 0 || (r = col_id(st, 1, s->user_id)) < 0 ||
            (r = col_id(st, 2, s->device_id)) < 0 || (r = col_strdup(st, 3, &s->provider_type)) < 0 ||
            (r = col_strdup(st, 4, &s->service)) < 0 || (r = col_strdup(st, 5, &s->rhost)) < 0 ||
            (r = col_strdup(st, 6, &s->tty)) < 0 || (r = col_hash(st, 7, s->refresh_hash)) < 0)
                return r;
        s->creation_date = sqlite3_column_int64(st, 8);
        s->refresh_expires = sqlite3_column_int64(st, 9);
        s->access_expires = sqlite3_column_int64(st, 10);
        s->last_used = sqlite3_column_int64(st, 11);
        s->revoked = col_bool(st, 12);
        s->revoked_at = sqlite3_column_int64(st, 13);
        r = col_strdup(st, 14, &s->revoked_reason);
        if (r < 0)
                return r;
        s->open = col_bool(st, 15);
        s->leader_pid = sqlite3_column_int64(st, 16);
        s->uid = sqlite3_column_int64(st, 17);
        if (sqlite3_column_type(st, 18) != SQLITE_NULL) {
                r = col_hash(st, 18, s->binding_hash);
                if (r < 0)
                        return r;
                s->has_binding = true;
        }
        s->created_usec = sqlite3_column_int64(st, 19);
        if (sqlite3_column_type(st, 20) != SQLITE_NULL) {
                r = col_id(st, 20, s->apikey_id);
                if (r < 0)
                        return r;
        }
        *(struct stitch_session **) ret = TAKE_PTR(s);
        return 0;
}

/* A revoked session whose tokens may still be live (ST_SESSION_REVOKED_LIVE). */
struct revoked_entry {
        char id[STITCH_ID_LEN + 1];
        int64_t access_expires;
};

/* ret: struct revoked_entry *. */
static int read_revoked(sqlite3_stmt *st, void *ret) {
        struct revoked_entry *e = ret;
        int r;

        r = col_id(st, 0, e->id);
        if (r < 0)
                return r;
        e->access_expires = sqlite3_column_int64(st, 1);
        return 0;
}

/* Row of KEY_COLUMNS; ret: struct stitch_signing_key **. */
static int read_signing_key(sqlite3_stmt *st, void *ret) {
        _cleanup_(stitch_signing_key_freep) struct stitch_signing_key *k = NULL;
        const unsigned char *kid;
        const void *secret;
        int n, r;

        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;

        kid = sqlite3_column_text(st, 0);
        n = sqlite3_column_bytes(st, 0);
        if (!kid || n <= 0 || (size_t) n >= sizeof(k->kid))
                return log_error_errno(EIO, "Store: malformed signing key id in the database.");
        memcpy(k->kid, kid, (size_t) n);

        r = col_strdup(st, 1, &k->alg);
        if (r < 0)
                return r;
        if (!k->alg)
                return -EIO;

        secret = sqlite3_column_blob(st, 2);
        n = sqlite3_column_bytes(st, 2);
        if (!secret || n <= 0)
                return log_error_errno(EIO, "Store: signing key %s has no secret.", k->kid);
        /* One spare NUL so that a PEM secret can be used as a C string. */
        k->secret = malloc((size_t) n + 1);
        if (!k->secret)
                return -ENOMEM;
        memcpy(k->secret, secret, (size_t) n);
        k->secret[n] = 0;
        k->secret_len = (size_t) n;

        k->created = sqlite3_column_int64(st, 3);
        k->retired = sqlite3_column_int64(st, 4);
        *(struct stitch_signing_key **) ret = TAKE_PTR(k);
        return 0;
}

/* ---------------------------------------------------------------------------
 * Lists of rows */

/* What a list holds: elements of 'size' bytes, each filled by 'read' and
 * freed by 'done' (NULL: nothing to free). */
struct row_type {
        size_t size;
        read_row_fn read;
        void (*done)(void *element);
};

static void user_done(void *p) {
        stitch_user_free(*(struct stitch_user **) p);
}

static void identity_done(void *p) {
        stitch_identity_done(p);
}

static void apikey_done(void *p) {
        stitch_apikey_free(*(struct stitch_apikey **) p);
}

static void session_done(void *p) {
        stitch_session_free(*(struct stitch_session **) p);
}

static void signing_key_done(void *p) {
        stitch_signing_key_free(*(struct stitch_signing_key **) p);
}

/* Row of ST_EVENTS_SINCE; ret: struct stitch_store_event **. A kind this
 * stitchd does not know (a newer one wrote it) reads as _INVALID. */
static int read_event(sqlite3_stmt *st, void *ret) {
        _cleanup_(stitch_store_event_freep) struct stitch_store_event *e = NULL;
        const unsigned char *subject;
        int n, r;

        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->id = sqlite3_column_int64(st, 0);
        e->time = sqlite3_column_int64(st, 1);
        e->kind = stitch_store_event_kind_from_string((const char *) sqlite3_column_text(st, 2));
        subject = sqlite3_column_text(st, 3);
        n = sqlite3_column_bytes(st, 3);
        if (!subject || n <= 0 || (size_t) n >= sizeof(e->subject))
                return log_error_errno(EIO, "Store: malformed event subject in the database.");
        memcpy(e->subject, subject, (size_t) n);
        r = col_strdup(st, 4, &e->data_json);
        if (r < 0)
                return r;
        *(struct stitch_store_event **) ret = TAKE_PTR(e);
        return 0;
}

static void event_done(void *p) {
        stitch_store_event_free(*(struct stitch_store_event **) p);
}

static const struct row_type user_rows = {sizeof(struct stitch_user *), read_user, user_done};
static const struct row_type identity_rows = {sizeof(struct stitch_identity), read_identity, identity_done};
static const struct row_type apikey_rows = {sizeof(struct stitch_apikey *), read_apikey, apikey_done};
static const struct row_type session_rows = {sizeof(struct stitch_session *), read_session, session_done};
static const struct row_type revoked_rows = {sizeof(struct revoked_entry), read_revoked, NULL};
static const struct row_type signing_key_rows = {sizeof(struct stitch_signing_key *), read_signing_key,
                                                 signing_key_done};
static const struct row_type event_rows = {sizeof(struct stitch_store_event *), read_event, event_done};

/* n elements of a row_type. */
struct rows {
        void *a;
        size_t n, allocated;
};

static void rows_done(struct rows *v, const struct row_type *type) {
        for (size_t i = 0; type->done && i < v->n; i++)
                type->done((uint8_t *) v->a + i * type->size);
        free(v->a);
        *v = (struct rows) {};
}

/* Appends every row of the statement to *out; on failure frees *out. */
static int read_list(struct conn *c, enum stmt_id id, const char *what, const struct arg *args, size_t n_args,
                     const struct row_type *type, struct rows *out) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = prepare(c, id, what, args, n_args, &st);
        while (r >= 0) {
                r = step(c, st, what);
                if (r <= 0)
                        break;
                r = grow(&out->a, &out->allocated, out->n + 1, type->size);
                if (r < 0)
                        break;
                r = type->read(st, (uint8_t *) out->a + out->n * type->size);
                if (r >= 0)
                        out->n++;
        }
        if (r < 0)
                rows_done(out, type);
        return r;
}

/* read_list() on the write connection, as bulk reads go (see the top). */
static int read_list_writer(struct stitch_store *s, enum stmt_id id, const char *what, const struct arg *args,
                            size_t n_args, const struct row_type *type, struct rows *out) {
        _cleanup_unlock_ struct conn *c = writer_lock(s);
        return read_list(c, id, what, args, n_args, type, out);
}

/* Appends the ids (first column) of every row of the statement to *ids. */
static int read_ids(struct conn *c, enum stmt_id id, const char *what, const struct arg *args, size_t n_args,
                    struct stitch_strv_builder *ids) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = prepare(c, id, what, args, n_args, &st);
        while (r >= 0) {
                char row_id[STITCH_ID_LEN + 1];

                r = step(c, st, what);
                if (r <= 0)
                        break;
                r = col_id(st, 0, row_id);
                if (r >= 0)
                        r = stitch_strv_builder_add(ids, row_id);
        }
        return r;
}

/* The one row the statement returns, read into *ret; -ENOENT if none. */
static int read_one(struct conn *c, enum stmt_id id, const char *what, const struct arg *args, size_t n_args,
                    read_row_fn read_row, void *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = prepare_step(c, id, what, args, n_args, &st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return read_row(st, ret);
}

/* ---------------------------------------------------------------------------
 * Opening */

static int conn_exec(struct conn *c, const char *sql, const char *what) {
        int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : sql_error(c, rc, what);
}

static void conn_close(struct conn *c) {
        for (size_t i = 0; i < _ST_MAX; i++) {
                sqlite3_finalize(c->stmts[i]);
                c->stmts[i] = NULL;
        }
        if (c->db) {
                int rc = sqlite3_close(c->db);
                if (rc != SQLITE_OK)
                        log_error("Store: closing the %s connection failed: %s", c->name, sqlite3_errstr(rc));
                c->db = NULL;
        }
}

static int conn_open(struct conn *c, const char *path, bool writer) {
        sqlite3 *db = NULL;
        int rc, r;

        /* NOMUTEX: each connection is serialised by our own mutex. NOFOLLOW:
         * refuse a path that turned into a symlink after our own check. */
        rc = sqlite3_open_v2(path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW |
                                     SQLITE_OPEN_PRIVATECACHE,
                             NULL);
        if (rc != SQLITE_OK) {
                log_error("Failed to open store database %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
                sqlite3_close(db);
                return rc == SQLITE_NOMEM ? -ENOMEM : (rc & 0xff) == SQLITE_CANTOPEN ? -EPERM : -EIO;
        }
        c->db = db;
        c->name = writer ? "write" : "read";

        (void) sqlite3_extended_result_codes(db, 1);
        (void) sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
        (void) sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
        (void) sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
        (void) sqlite3_busy_timeout(db, 5000);

        r = conn_exec(c,
                      "PRAGMA busy_timeout = 5000;"
                      "PRAGMA foreign_keys = ON;"
                      "PRAGMA synchronous = FULL;"
                      "PRAGMA secure_delete = ON;",
                      "PRAGMA");
        if (r >= 0)
                r = conn_exec(c,
                              writer ? "PRAGMA cache_size = -" STRINGIFY(WRITER_CACHE_KIB) ";"
                                     : "PRAGMA cache_size = -" STRINGIFY(READER_CACHE_KIB) ";",
                              "PRAGMA");
        if (r < 0)
                return r;

        if (writer) {
                sqlite3_stmt *st = NULL;
                const unsigned char *mode;
                bool wal;

                /* Keep a WAL that grew during a burst from staying huge. */
                r = conn_exec(c, "PRAGMA journal_size_limit = 67108864;", "PRAGMA");
                if (r < 0)
                        return r;

                rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
                if (rc != SQLITE_OK)
                        return sql_error(c, rc, "PRAGMA journal_mode");
                rc = sqlite3_step(st);
                if (rc != SQLITE_ROW) {
                        r = sql_error(c, rc, "PRAGMA journal_mode");
                        sqlite3_finalize(st);
                        return r;
                }
                mode = sqlite3_column_text(st, 0);
                wal = mode && strcmp((const char *) mode, "wal") == 0;
                sqlite3_finalize(st);
                if (!wal)
                        return log_error_errno(EIO, "Store database %s: cannot switch to WAL journal mode.", path);
        } else {
                r = conn_exec(c, "PRAGMA query_only = ON;", "PRAGMA");
                if (r < 0)
                        return r;
        }

        return 0;
}

static int migrate(struct conn *c, const char *path) {
        for (;;) {
                int version = 0, r;

                r = tx_begin(c, true);
                if (r < 0)
                        return r;

                r = conn_exec(c,
                              "CREATE TABLE IF NOT EXISTS schema_version ("
                              "  id INTEGER PRIMARY KEY CHECK (id = 1),"
                              "  version INTEGER NOT NULL)",
                              "schema_version");
                if (r >= 0) {
                        int64_t v = 0;

                        r = query(c, ST_SCHEMA_VERSION, "schema version", NULL, 0, &v);
                        if (r > 0)
                                version = v < 0 || v > INT32_MAX ? INT32_MAX : (int) v;
                }
                if (r < 0)
                        return tx_end(c, r);

                if (version > SCHEMA_VERSION)
                        return tx_end(c, log_error_errno(EIO,
                                                         "Store database %s has schema version %d, newer than this "
                                                         "stitchd supports (%d); refusing to use it.",
                                                         path, version, SCHEMA_VERSION));
                if (version == SCHEMA_VERSION)
                        return tx_end(c, 0);

                r = conn_exec(c, migrations[version], "migration");
                if (r >= 0)
                        r = run(c, ST_SCHEMA_VERSION_SET, "schema version", ARGS(ARG_INT(version + 1)), NULL);
                r = tx_end(c, r);
                if (r < 0)
                        return log_error_errno(r, "Store database %s: migration to schema version %d failed: %m", path,
                                               version + 1);
                log_info("Store database %s: migrated to schema version %d.", path, version + 1);
        }
}

/* "sqlite:" + an absolute path to a file (not a directory: "/" or
 * "/var/lib/"), without control characters. */
static int sqlite_validate_location(const char *location, const char **ret_error) {
        static const char *const expected = "expected sqlite:/absolute/path/to/database";
        size_t n = location ? strlen(location) : 0;

        if (n == 0 || location[0] != '/' || location[n - 1] == '/' || n >= PATH_MAX) {
                if (ret_error)
                        *ret_error = expected;
                return -EINVAL;
        }
        for (const char *c = location; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f) {
                        if (ret_error)
                                *ret_error = expected;
                        return -EINVAL;
                }
        return 0;
}

/* The directory of the database, made 0700 if missing (one level, as
 * systemd's StateDirectory= would). open() checks it is trusted. */
static int sqlite_prepare(const char *location) {
        int r = sqlite_validate_location(location, NULL);
        if (r < 0)
                return r;

        _cleanup_free_ char *dir = strdup(location);
        if (!dir)
                return log_oom();
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return 0; /* in "/": nothing to make */
        *slash = 0;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Cannot create the store directory %s: %m", dir);
        return 0;
}

static int check_owned_private(const char *path, const struct stat *st, const char *what) {
        if (S_ISLNK(st->st_mode))
                return log_error_errno(EPERM, "Refusing store %s %s: it is a symbolic link.", what, path);
        if (!S_ISREG(st->st_mode))
                return log_error_errno(EPERM, "Refusing store %s %s: not a regular file.", what, path);
        if (st->st_uid != geteuid())
                return log_error_errno(EPERM, "Refusing store %s %s: owned by uid %u, not by uid %u.", what, path,
                                       (unsigned) st->st_uid, (unsigned) geteuid());
        return 0;
}

/* The database file: an existing one must be ours and private; a new one is
 * created 0600 here, before SQLite sees it. *ret_st describes the file. */
static int prepare_db_file(const char *path, struct stat *ret_st) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        char *slash;
        int r;

        /* Whoever may write the directory may delete or replace the store,
         * or plant a -wal between our checks and SQLite's first read. */
        dir = strdup(path);
        if (!dir)
                return log_oom();
        slash = strrchr(dir, '/');
        if (!slash) {
                free(dir);
                dir = strdup(".");
                if (!dir)
                        return log_oom();
        } else if (slash == dir)
                slash[1] = 0;
        else
                slash[0] = 0;
        if (stat(dir, &st) >= 0) {
                r = stitch_check_trusted(dir, true, "store directory");
                if (r < 0)
                        return r;
        }

        if (lstat(path, &st) >= 0) {
                r = check_owned_private(path, &st, "database");
                if (r < 0)
                        return r;
                if (st.st_mode & 0077)
                        return log_error_errno(EPERM,
                                               "Refusing store database %s: accessible by group or others (mode %04o); "
                                               "it must be 0600.",
                                               path, (unsigned) (st.st_mode & 07777));
                *ret_st = st;
                return 0;
        }
        if (errno != ENOENT)
                return log_error_errno(errno, "Failed to check store database %s: %m", path);

        if (stat(dir, &st) < 0) {
                if (errno == ENOENT)
                        return log_error_errno(ENOENT,
                                               "Directory %s of the store database does not exist; create it first "
                                               "(the unit's StateDirectory= does).",
                                               dir);
                return log_error_errno(errno, "Failed to check directory %s of the store database: %m", dir);
        }
        if (!S_ISDIR(st.st_mode))
                return log_error_errno(ENOTDIR, "Store database parent %s is not a directory.", dir);

        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create store database %s: %m", path);
        if (fchmod(fd, 0600) < 0 || fstat(fd, &st) < 0)
                return log_error_errno(errno, "Failed to set up store database %s: %m", path);
        /* Closed before SQLite opens the file: closing any descriptor of a
         * file drops the process's POSIX locks on it, SQLite's included. */
        *ret_st = st;
        return 0;
}

/* -wal, -shm, -journal next to the database: if present, they must be ours,
 * regular files, and end up 0600. */
static int check_companion_files(const char *path) {
        static const char *const suffixes[] = { "-wal", "-shm", "-journal" };

        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                char p[4096];
                struct stat st;
                int r;

                r = snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
                if (r < 0 || (size_t) r >= sizeof(p))
                        return log_error_errno(ENAMETOOLONG, "Store database path is too long.");

                if (lstat(p, &st) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return log_error_errno(errno, "Failed to check %s: %m", p);
                }
                r = check_owned_private(p, &st, "file");
                if (r < 0)
                        return r;
                if (st.st_mode & 0077) {
                        _cleanup_close_ int fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
                        if (fd < 0 || fchmod(fd, 0600) < 0)
                                return log_error_errno(errno, "Failed to make %s private: %m", p);
                        log_warning("Store file %s was accessible by group or others; made it 0600.", p);
                }
        }
        return 0;
}

static void store_free(struct stitch_store *s) {
        if (!s)
                return;
        for (unsigned i = 0; i < s->n_readers; i++)
                conn_close(&s->read[i]);
        if (s->write.db)
                /* Bounded: refreshing statistics must not stall shutdown. */
                (void) sqlite3_exec(s->write.db, "PRAGMA analysis_limit = 400; PRAGMA optimize;", NULL, NULL,
                                    NULL);
        conn_close(&s->write);
        for (unsigned i = 0; i < s->n_readers; i++)
                pthread_mutex_destroy(&s->read[i].lock);
        pthread_mutex_destroy(&s->write.lock);
        pthread_cond_destroy(&s->tx_ended);
        free(s->tx_handle);
        pthread_mutex_destroy(&s->create_lock);
        pthread_cond_destroy(&s->create_done);
        free(s->path);
        free(s);
}

static void store_freep(struct stitch_store **s) {
        store_free(*s);
}

static int sqlite_open(const char *location, struct stitch_store **ret) {
        _cleanup_(store_freep) struct stitch_store *s = NULL;
        struct stat checked = {}, now;
        int r;

        if (!location || !ret)
                return -EINVAL;
        if (location[0] != '/')
                return log_error_errno(EINVAL, "Store database path \"%s\" is not absolute.", location);
        if (strlen(location) > 4000)
                return log_error_errno(ENAMETOOLONG, "Store database path is too long.");

        r = prepare_db_file(location, &checked);
        if (r < 0)
                return r;
        r = check_companion_files(location);
        if (r < 0)
                return r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return log_oom();
        pthread_mutex_init(&s->write.lock, NULL);
        pthread_cond_init(&s->tx_ended, NULL);
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        s->n_readers = (unsigned) MIN(MAX(cpus, 2L), (long) READERS_MAX);
        for (unsigned i = 0; i < s->n_readers; i++)
                pthread_mutex_init(&s->read[i].lock, NULL);
        pthread_mutex_init(&s->create_lock, NULL);
        pthread_cond_init(&s->create_done, NULL);
        s->create_tail = &s->create_queue;
        s->tx_handle = calloc(1, sizeof(*s->tx_handle));
        if (!s->tx_handle)
                return log_oom();
        s->tx_handle->tx_of = s;
        s->path = strdup(location);
        if (!s->path)
                return log_oom();

        r = conn_open(&s->write, location, true);
        if (r < 0)
                return r;

        /* What SQLite opened must be what we checked. */
        if (lstat(location, &now) < 0 || now.st_dev != checked.st_dev || now.st_ino != checked.st_ino)
                return log_error_errno(EPERM, "Refusing store database %s: it was replaced while being opened.",
                                       location);

        r = migrate(&s->write, location);
        if (r < 0)
                return r;

        for (unsigned i = 0; i < s->n_readers; i++) {
                r = conn_open(&s->read[i], location, false);
                if (r < 0)
                        return r;
        }

        r = check_companion_files(location);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(s);
        return 0;
}

static void sqlite_close(struct stitch_store *s) {
        assert(!s || !s->tx_of); /* a transaction's handle ends with commit or rollback */
        store_free(s);
}

/* PRAGMA integrity_check: one row "ok" when sound, else a row per problem. */
static int sqlite_integrity_check(struct stitch_store *s, char ***ret_problems) {
        struct stitch_strv_builder problems = {};
        int r;

        if (!ret_problems)
                return -EINVAL;
        {
                _cleanup_unlock_ struct conn *c = writer_lock(s);
                _cleanup_stmt_ sqlite3_stmt *st = NULL; /* reset before the unlock */
                r = conn_stmt(c, ST_INTEGRITY_CHECK, &st);
                while (r >= 0) {
                        r = step(c, st, "integrity_check");
                        if (r <= 0)
                                break;
                        const char *t = (const char *) sqlite3_column_text(st, 0);
                        if (t && !streq(t, "ok"))
                                r = stitch_strv_builder_add(&problems, t);
                }
        }
        if (r < 0) {
                stitch_strv_builder_done(&problems);
                return r;
        }
        *ret_problems = stitch_strv_builder_finish(&problems);
        return *ret_problems ? 0 : -ENOMEM;
}

static int sqlite_schema_version(struct stitch_store *s, int *ret_version) {
        _cleanup_unlock_ struct conn *c = writer_lock(s);
        int64_t version = 0;
        int r;

        r = query(c, ST_SCHEMA_VERSION, "schema_version", NULL, 0, &version);
        if (r < 0)
                return r;
        *ret_version = r == 0 ? 0 : (int) version;
        return 0;
}

/* ---------------------------------------------------------------------------
 * The change feed: an event goes in the transaction of its change. */

static int64_t event_now(void) {
        return (int64_t) time(NULL);
}

static int event_tx(struct conn *c, enum stitch_store_event_kind kind, const char *subject, const char *data_json) {
        return run(c, ST_EVENT_INSERT, "event",
                   ARGS(ARG_INT(event_now()), ARG_TEXT(stitch_store_event_kind_to_string(kind)), ARG_TEXT(subject),
                        ARG_TEXT(data_json)),
                   NULL);
}

/* ---------------------------------------------------------------------------
 * Users */

static int user_exists(struct conn *c, const char *id) {
        return query(c, ST_USER_EXISTS, "user_exists", ARGS(ARG_TEXT(id)), NULL);
}

static int user_create_tx(struct conn *c, const struct stitch_user *u, const char *password_hash) {
        int r;

        r = run(c, ST_USER_INSERT, "user_create",
                ARGS(ARG_TEXT(u->id), ARG_TEXT(u->type), ARG_TEXT(u->email), ARG_TEXT(u->name),
                     ARG_TEXT(u->unix_name), ARG_TEXT(u->data_json ?: "{}"), ARG_BOOL(u->disabled),
                     ARG_INT(u->creation_date), ARG_INT(u->last_authentication_date), ARG_BOOL(u->pending),
                     ARG_BOOL(u->self_registered)),
                NULL);
        if (r < 0)
                return r;

        for (size_t i = 0; i < u->n_identities; i++) {
                const struct stitch_identity *id = u->identities + i;

                r = run(c, ST_IDENTITY_INSERT, "user_create (identity)",
                        ARGS(ARG_TEXT(id->id), ARG_TEXT(u->id), ARG_TEXT(id->provider_type),
                             ARG_TEXT(id->provider_id), ARG_TEXT(id->data_json)),
                        NULL);
                if (r < 0)
                        return r;
        }

        if (password_hash)
                return run(c, ST_PASSWORD_SET, "user_create (password)",
                           ARGS(ARG_TEXT(u->id), ARG_TEXT(password_hash)), NULL);
        return 0;
}

static int sqlite_user_create(struct stitch_store *s, const struct stitch_user *u, const char *password_hash) {
        if (!u || isempty(u->id) || !u->type || (u->n_identities > 0 && !u->identities))
                return -EINVAL;
        for (size_t i = 0; i < u->n_identities; i++)
                if (isempty(u->identities[i].id) || !u->identities[i].provider_type ||
                    !u->identities[i].provider_id)
                        return -EINVAL;

        _cleanup_unlock_ struct conn *c = writer_lock(s);
        int r = tx_begin(c, true);
        if (r < 0)
                return r;
        return tx_end(c, user_create_tx(c, u, password_hash));
}

static int read_identities(struct conn *c, struct stitch_user *u) {
        struct rows out = {};
        int r;

        r = read_list(c, ST_IDENTITIES_OF_USER, "read_identities", ARGS(ARG_TEXT(u->id)), &identity_rows, &out);
        if (r < 0)
                return r;
        u->identities = out.a;
        u->n_identities = out.n;
        return 0;
}

/* A uid in decimal, as STITCH_USER_BY_UNIX_UID takes it: digits only, 1..2^31-1. */
static int parse_uid(const char *s, int64_t *ret) {
        int64_t v = 0;

        if (!*s || strlen(s) > 10)
                return -EINVAL;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                v = v * 10 + (*s - '0');
        }
        if (v <= 0 || v > INT32_MAX)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int user_find_tx(struct conn *c, enum stitch_user_key by, const char *value, struct stitch_user **ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        int64_t uid = 0;
        int r;

        if (by == STITCH_USER_BY_UNIX_UID) {
                r = parse_uid(value, &uid);
                if (r < 0)
                        return r;
                r = read_one(c, ST_USER_BY_UNIX_UID, "user_find", ARGS(ARG_INT(uid)), read_user, &u);
        } else {
                enum stmt_id id = by == STITCH_USER_BY_ID         ? ST_USER_BY_ID
                                  : by == STITCH_USER_BY_EMAIL    ? ST_USER_BY_EMAIL
                                  : by == STITCH_USER_BY_IDENTITY ? ST_USER_BY_IDENTITY
                                                                  : ST_USER_BY_UNIX_NAME;
                r = read_one(c, id, "user_find", ARGS(ARG_TEXT(value)), read_user, &u);
        }
        if (r < 0)
                return r;
        r = read_identities(c, u);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(u);
        return 0;
}

/* The login_* fields of u, inside the caller's read transaction. */
static int read_login_extras(struct conn *c, struct stitch_user *u, int64_t now) {
        int64_t live = 0;
        int r;

        r = read_one(c, ST_PASSWORD_GET, "user_find_for_login", ARGS(ARG_TEXT(u->id)), read_password,
                     &u->login_password_hash);
        if (r < 0 && r != -ENOENT)
                return r;
        r = query(c, ST_SESSION_LIVE_COUNT_OF_USER, "user_find_for_login", ARGS(ARG_TEXT(u->id), ARG_INT(now)), &live);
        if (r < 0)
                return r;
        u->login_live_sessions = (uint64_t) MAX(live, (int64_t) 0);
        u->login_read = true;
        return 0;
}

/* A user and its identities from one reader snapshot; with login, also
 * what a login reads (read_login_extras), in the same snapshot. */
static int user_find_read(struct stitch_store *s, enum stitch_user_key by, const char *value, bool login,
                          int64_t now, struct stitch_user **ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        int r;

        if (!value || !ret)
                return -EINVAL;
        if (by != STITCH_USER_BY_ID && by != STITCH_USER_BY_EMAIL && by != STITCH_USER_BY_UNIX_NAME &&
            by != STITCH_USER_BY_UNIX_UID && by != STITCH_USER_BY_IDENTITY)
                return -EINVAL;

        {
                _cleanup_unlock_ struct conn *c = reader_lock(s);
                r = tx_begin(c, false);
                if (r < 0)
                        return r;
                r = user_find_tx(c, by, value, &u);
                if (r >= 0 && login)
                        r = read_login_extras(c, u, now);
                r = tx_end(c, r);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(u);
        return 0;
}

static int sqlite_user_find(struct stitch_store *s, enum stitch_user_key by, const char *value,
                            struct stitch_user **ret) {
        return user_find_read(s, by, value, false, 0, ret);
}

static int sqlite_user_find_for_login(struct stitch_store *s, enum stitch_user_key by, const char *value, int64_t now,
                                      struct stitch_user **ret) {
        return user_find_read(s, by, value, true, now, ret);
}

static int user_list_tx(struct conn *c, const char *after_id, size_t limit, struct rows *out) {
        int r;

        r = read_list(c, ST_USER_LIST, "user_list",
                      ARGS(ARG_TEXT(after_id ?: ""), ARG_INT((int64_t) MIN(limit, (size_t) INT64_MAX))), &user_rows,
                      out);
        for (size_t i = 0; r >= 0 && i < out->n; i++)
                r = read_identities(c, ((struct stitch_user **) out->a)[i]);
        return r;
}

static int sqlite_user_list(struct stitch_store *s, const char *after_id, size_t limit, struct stitch_user ***ret,
                            size_t *ret_n) {
        struct rows out = {};
        int r;

        if (!ret || !ret_n)
                return -EINVAL;

        {
                _cleanup_unlock_ struct conn *c = writer_lock(s);
                r = tx_begin(c, false);
                if (r >= 0)
                        r = tx_end(c, user_list_tx(c, after_id, limit, &out));
        }
        if (r < 0) {
                rows_done(&out, &user_rows);
                return r;
        }
        *ret = out.a;
        *ret_n = out.n;
        return 0;
}

static int count_rows(struct stitch_store *s, enum stmt_id id, uint64_t *ret) {
        _cleanup_unlock_ struct conn *c = writer_lock(s);
        int64_t n = 0;
        int r;

        if (!ret)
                return -EINVAL;
        r = query(c, id, "count", NULL, 0, &n);
        if (r < 0)
                return r;
        if (r == 0)
                return -EIO;
        *ret = (uint64_t) MAX(n, (int64_t) 0);
        return 0;
}

static int sqlite_user_count(struct stitch_store *s, uint64_t *ret) {
        return count_rows(s, ST_USER_COUNT, ret);
}

/* Revokes the live sessions that list_ids names and revoke ends (?1 = key,
 * ?2 = now, ?3 = reason, ?4 = extra if not NULL), recording their ends with
 * events (the same WHERE, before the UPDATE changes it); their ids are
 * appended to 'ids' (optional). */
static int revoke_sessions_tx(struct conn *c, enum stmt_id list_ids, enum stmt_id events, enum stmt_id revoke,
                              const char *key, const char *extra, int64_t now, const char *reason,
                              struct stitch_strv_builder *ids) {
        struct arg extra_arg = extra ? ARG_TEXT(extra) : NO_ARG;
        int r;

        if (ids) {
                r = read_ids(c, list_ids, "revoke sessions", ARGS(ARG_TEXT(key), ARG_INT(now), NO_ARG, extra_arg),
                             ids);
                if (r < 0)
                        return r;
        }
        r = run(c, events, "revoke sessions (events)",
                ARGS(ARG_TEXT(key), ARG_INT(now), ARG_TEXT(reason), extra_arg), NULL);
        if (r < 0)
                return r;
        return run(c, revoke, "revoke sessions", ARGS(ARG_TEXT(key), ARG_INT(now), ARG_TEXT(reason), extra_arg),
                   NULL);
}

/* One write keyed by ?1 = key (and ?2 = arg), in its own transaction (a
 * savepoint inside the caller's), with the event 'kind' about key if kind
 * >= 0. If must_match, -ENOENT when no row matched. */
static int write_one(struct stitch_store *s, enum stmt_id id, const char *what, const char *key, struct arg arg,
                     bool must_match, enum stitch_store_event_kind kind) {
        int r;

        if (!key || (arg.kind == ARG_TEXT && !arg.p))
                return -EINVAL;

        _cleanup_unlock_ struct conn *c = writer_lock(s);
        r = tx_begin(c, true);
        if (r < 0)
                return r;
        if (must_match)
                r = run_one(c, id, what, ARGS(ARG_TEXT(key), arg));
        else
                r = run(c, id, what, ARGS(ARG_TEXT(key), arg), NULL);
        if (r >= 0 && kind >= 0)
                r = event_tx(c, kind, key, NULL);
        return tx_end(c, r);
}

static int sqlite_user_set_disabled(struct stitch_store *s, const char *id, bool disabled) {
        return write_one(s, ST_USER_SET_DISABLED, "user_set_disabled", id, ARG_INT(disabled), true,
                         disabled ? STITCH_STORE_EVENT_USER_DISABLED : STITCH_STORE_EVENT_USER_ENABLED);
}

static int user_update_tx(struct conn *c, const struct stitch_user *u) {
        return run_one(c, ST_USER_UPDATE, "user_update",
                       ARGS(ARG_TEXT(u->id), ARG_TEXT(u->email), ARG_TEXT(u->name), ARG_TEXT(u->unix_name),
                            ARG_TEXT(u->data_json ?: "{}")));
}

static int sqlite_user_update(struct stitch_store *s, const struct stitch_user *u) {
        if (!u || isempty(u->id))
                return -EINVAL;

        _cleanup_unlock_ struct conn *c = writer_lock(s);
        int r = tx_begin(c, true);
        if (r < 0)
                return r;
        r = user_update_tx(c, u);
        /* The data of the identities u has (metadata a login refreshed);
         * one that went meanwhile is not written back. */
        for (size_t i = 0; r >= 0 && i < u->n_identities; i++)
                r = run(c, ST_IDENTITY_SET_DATA, "user_update (identity)",
                        ARGS(ARG_TEXT(u->id), ARG_TEXT(u->identities[i].id), ARG_TEXT(u->identities[i].data_json)),
                        NULL);
        if (r >= 0)
                r = event_tx(c, STITCH_STORE_EVENT_USER_UPDATED, u->id, NULL);
        return tx_end(c, r);
}

/* Inside the merge's transaction: from_id is still an account nobody has
 * used, and the keys of both fit on one user. */
static int merge_allowed_tx(struct conn *c, const char *from_id, const char *into_id) {
        int64_t n = 0;
        int r = query(c, ST_USER_MERGEABLE, "user_merge", ARGS(ARG_TEXT(from_id)), NULL);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOTEMPTY;
        r = query(c, ST_APIKEYS_NAME_CLASH, "user_merge", ARGS(ARG_TEXT(from_id), ARG_TEXT(into_id)), NULL);
        if (r < 0)
                return r;
        if (r > 0)
                return -EEXIST;
        r = query(c, ST_APIKEYS_MERGED_COUNT, "user_merge", ARGS(ARG_TEXT(from_id), ARG_TEXT(into_id)), &n);
        if (r < 0)
                return r;
        return n > STITCH_MAX_USER_APIKEYS ? -EDQUOT : 0;
}

static int sqlite_user_merge(struct stitch_store *s, const char *from_id, const struct stitch_user *into) {
        int r;

        if (isempty(from_id) || !into || isempty(into->id) || streq(from_id, into->id))
                return -EINVAL;
        _cleanup_unlock_ struct conn *c = writer_lock(s);
        r = tx_begin(c, true);
        if (r < 0)
                return r;
        r = user_exists(c, from_id);
        if (r == 0)
                r = -ENOENT;
        if (r > 0)
                r = user_exists(c, into->id) > 0 ? 0 : -ENOENT;
        if (r >= 0)
                r = merge_allowed_tx(c, from_id, into->id);
        if (r >= 0)
                r = run(c, ST_IDENTITIES_MOVE, "user_merge identities", ARGS(ARG_TEXT(from_id), ARG_TEXT(into->id)),
                        NULL);
        if (r >= 0)
                r = run(c, ST_PASSWORD_MOVE, "user_merge password", ARGS(ARG_TEXT(from_id), ARG_TEXT(into->id)), NULL);
        if (r >= 0)
                r = run(c, ST_APIKEYS_MOVE, "user_merge api keys", ARGS(ARG_TEXT(from_id), ARG_TEXT(into->id)), NULL);
        if (r >= 0)
                r = run(c, ST_USER_MERGE_FLAGS, "user_merge flags", ARGS(ARG_TEXT(from_id), ARG_TEXT(into->id)), NULL);
        /* The emptied account goes first: its email and unix_name are unique. */
        if (r >= 0)
                r = run(c, ST_USER_DELETE, "user_merge delete", ARGS(ARG_TEXT(from_id)), NULL);
        if (r >= 0)
                r = user_update_tx(c, into);
        if (r >= 0) {
                char data[64 + STITCH_ID_LEN];
                (void) snprintf(data, sizeof(data), "{\"merged_into\":\"%s\"}", into->id); /* an id: [0-9a-f] */
                r = event_tx(c, STITCH_STORE_EVENT_USER_DELETED, from_id, data);
        }
        if (r >= 0)
                r = event_tx(c, STITCH_STORE_EVENT_USER_UPDATED, into->id, NULL);
        return tx_end(c, r);
}

static int sqlite_identity_remove(struct stitch_store *s, const struct stitch_user *updated, const char *identity_id,
                                  bool drop_password, size_t expected_identities) {
        int64_t n = 0;
        int r;

        if (!updated || isempty(updated->id) || isempty(identity_id) || expected_identities == 0)
                return -EINVAL;
        _cleanup_unlock_ struct conn *c = writer_lock(s);
        r = tx_begin(c, true);
        if (r < 0)
                return r;
        r = run_one(c, ST_IDENTITY_DELETE, "identity_remove", ARGS(ARG_TEXT(updated->id), ARG_TEXT(identity_id)));
        if (r >= 0) {
                r = query(c, ST_IDENTITY_COUNT_OF_USER, "identity_remove", ARGS(ARG_TEXT(updated->id)), &n);
                if (r > 0)
                        r = (uint64_t) n + 1 == expected_identities ? 0 : -ESTALE; /* the caller decided on other rows */
                else if (r == 0)
                        r = -EIO;
        }
        if (r >= 0 && drop_password)
                r = run(c, ST_PASSWORD_DELETE, "identity_remove password", ARGS(ARG_TEXT(updated->id)), NULL);
        if (r >= 0)
                r = user_update_tx(c, updated);
        if (r >= 0)
                r = event_tx(c, STITCH_STORE_EVENT_USER_UPDATED, updated->id, NULL);
        return tx_end(c, r);
}

/* The user row; identities, password and API keys go with it (ON DELETE
 * CASCADE). Sessions are the core's: it ends them first. */
static int sqlite_user_delete(struct stitch_store *s, const char *id) {
        return write_one(s, ST_USER_DELETE, "user_delete", id, NO_ARG, true, STITCH_STORE_EVENT_USER_DELETED);
}

static int sqlite_user_touch(struct stitch_store *s, const char *id, int64_t now) {
        return write_one(s, ST_USER_TOUCH, "user_touch", id, ARG_INT(now), true, _STITCH_STORE_EVENT_KIND_INVALID);
}

static int sqlite_user_list_idle(struct stitch_store *s, const char *provider_type, int64_t cutoff, size_t limit,
                                 char ***ret_ids) {
        struct stitch_strv_builder ids = {};
        int r;

        if (!provider_type || !ret_ids || limit == 0)
                return -EINVAL;
        {
                _cleanup_unlock_ struct conn *c = reader_lock(s);
                r = tx_begin(c, false);
                if (r < 0)
                        return r;
                r = tx_end(c, read_ids(c, ST_USER_IDLE_OF_PROVIDER, "user_list_idle",
                                       ARGS(ARG_TEXT(provider_type), ARG_INT(cutoff),
                                            ARG_INT((int64_t) MIN(limit, (size_t) INT64_MAX))),
                                       &ids));
        }
        if (r < 0) {
                stitch_strv_builder_done(&ids);
                return r;
        }
        *ret_ids = stitch_strv_builder_finish(&ids);
        return *ret_ids ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------------------
 * Unix accounts */

static int assign_unix_uid_tx(struct conn *c, const char *user_id, int64_t uid) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = prepare_step(c, ST_USER_UNIX_UID, "user_assign_unix_uid", ARGS(ARG_TEXT(user_id)), &st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        if (sqlite3_column_type(st, 0) != SQLITE_NULL)
                return -EALREADY;
        stmt_resetp(&st);
        st = NULL;

        r = query(c, ST_UNIX_UID_TAKEN, "user_assign_unix_uid", ARGS(ARG_INT(uid)), NULL);
        if (r < 0)
                return r;
        if (r > 0)
                return -EEXIST;
        return run_one(c, ST_USER_ASSIGN_UNIX_UID, "user_assign_unix_uid", ARGS(ARG_TEXT(user_id), ARG_INT(uid)));
}

static int sqlite_user_assign_unix_uid(struct stitch_store *s, const char *user_id, int64_t uid) {
        int r;

        if (isempty(user_id) || uid <= 0 || uid > INT32_MAX)
                return -EINVAL;
        _cleanup_unlock_ struct conn *c = writer_lock(s);
        r = tx_begin(c, true);
        if (r < 0)
                return r;
        r = assign_unix_uid_tx(c, user_id, uid);
        if (r >= 0)
                r = event_tx(c, STITCH_STORE_EVENT_USER_UPDATED, user_id, NULL);
        return tx_end(c, r);
}

static int sqlite_user_list_unix(struct stitch_store *s, int64_t after_uid, size_t limit, struct stitch_user ***ret,
                                 size_t *ret_n) {
        struct rows out = {};
        int r;

        if (!ret || !ret_n)
                return -EINVAL;
        {
                _cleanup_unlock_ struct conn *c = reader_lock(s);
                r = read_list(c, ST_USER_LIST_UNIX, "user_list_unix",
                              ARGS(ARG_INT(after_uid), ARG_INT((int64_t) MIN(limit, (size_t) INT64_MAX))), &user_rows,
                              &out);
        }
        if (r < 0)
                return r;
        *ret = out.a;
        *ret_n = out.n;
        return 0;
}

static int sqlite_user_list_unix_unassigned(struct stitch_store *s, size_t limit, char ***ret_ids) {
        struct stitch_strv_builder ids = {};
        int r;

        if (!ret_ids)
                return -EINVAL;
        {
                _cleanup_unlock_ struct conn *c = reader_lock(s);
                r = read_ids(c, ST_USER_LIST_UNIX_UNASSIGNED, "user_list_unix_unassigned",
                             ARGS(ARG_INT((int64_t) MIN(limit, (size_t) INT64_MAX))), &ids);
        }
        if (r < 0) {
                stitch_strv_builder_done(&ids);
                return r;
        }
        *ret_ids = stitch_strv_builder_finish(&ids);
        return *ret_ids ? 0 : -ENOMEM;
}

/* The first column of the one row of statement id over [min, max]; -ENOENT if NULL or none. */
static int uid_query(struct stitch_store *s, enum stmt_id id, const char *what, int64_t min, int64_t max,
                     int64_t *ret_uid) {
        int r;

        if (!ret_uid || min > max)
                return -EINVAL;
        _cleanup_unlock_ struct conn *c = reader_lock(s);
        _cleanup_stmt_ sqlite3_stmt *st = NULL; /* reset before the unlock */
        r = prepare_step(c, id, what, ARGS(ARG_INT(min), ARG_INT(max)), &st);
        if (r < 0)
                return r;
        if (r == 0 || sqlite3_column_type(st, 0) == SQLITE_NULL)
                return -ENOENT;
        *ret_uid = sqlite3_column_int64(st, 0);
        return 0;
}

static int sqlite_unix_uid_max(struct stitch_store *s, int64_t min, int64_t max, int64_t *ret_uid) {
        return uid_query(s, ST_UNIX_UID_MAX, "unix_uid_max", min, max, ret_uid);
}

static int sqlite_unix_uid_next_free(struct stitch_store *s, int64_t from, int64_t to, int64_t *ret_uid) {
        return uid_query(s, ST_UNIX_UID_NEXT_FREE, "unix_uid_next_free", from, to, ret_uid);
}

static int sqlite_unix_uid_list_retired(struct stitch_store *s, int64_t after, size_t limit, int64_t **ret,
                                        size_t *ret_n) {
        _cleanup_free_ int64_t *a = NULL;
        size_t n = 0, allocated = 0;
        int r;

        if (!ret || !ret_n)
                return -EINVAL;
        _cleanup_unlock_ struct conn *c = reader_lock(s);
        _cleanup_stmt_ sqlite3_stmt *st = NULL; /* reset before the unlock */
        r = prepare(c, ST_UNIX_UID_RETIRED_LIST, "unix_uid_list_retired",
                    ARGS(ARG_INT(after), ARG_INT((int64_t) MIN(limit, (size_t) INT64_MAX))), &st);
        while (r >= 0) {
                r = step(c, st, "unix_uid_list_retired");
                if (r <= 0)
                        break;
                r = grow((void **) &a, &allocated, n + 1, sizeof(*a));
                if (r >= 0)
                        a[n++] = sqlite3_column_int64(st, 0);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        *ret_n = n;
        return 0;
}

static int sqlite_unix_uid_retire(struct stitch_store *s, int64_t uid) {
        int changes = 0, r;

        if (uid <= 0 || uid > INT32_MAX)
                return -EINVAL;
        _cleanup_unlock_ struct conn *c = writer_lock(s);
        r = tx_begin(c, true);
        if (r < 0)
                return r;
        r = run(c, ST_UNIX_UID_RETIRE, "unix_uid_retire", ARGS(ARG_INT(uid)), &changes);
        /* Retired already is fine; a live user's uid is not. */
        if (r >= 0 && changes == 0 &&
            query(c, ST_USER_UNIX_UID_HOLDER, "unix_uid_retire", ARGS(ARG_INT(uid)), NULL) > 0)
                r = -EEXIST;
        return tx_end(c, r);
}

/* ---------------------------------------------------------------------------
 * Point look-ups on the read connection: the row of statement id whose ?1
 * is the text 'key', or else 'hash'; -ENOENT if none. */

static int find_row(struct stitch_store *s, enum stmt_id id, const char *what, const char *key, const uint8_t *hash,
                    read_row_fn read_row, void *ret) {
        _cleanup_unlock_ struct conn *c = reader_lock(s);
        return read_one(c, id, what, ARGS(key ? ARG_TEXT(key) : ARG_HASH(hash)), read_row, ret);
}

/* ---------------------------------------------------------------------------
 * Passwords */

static int sqlite_password_get(struct stitch_store *s, const char *user_id, char **ret_hash) {
        if (!user_id || !ret_hash)
                return -EINVAL;
        return find_row(s, ST_PASSWORD_GET, "password_get", user_id, NULL, read_password, ret_hash);
}

static int sqlite_password_set(struct stitch_store *s, const char *user_id, const char *hash) {
        /* An upsert; an unknown user fails the foreign key: -ENOENT. */
        return write_one(s, ST_PASSWORD_SET, "password_set", user_id, ARG_TEXT(hash), false,
                         STITCH_STORE_EVENT_USER_PASSWORD);
}

/* ---------------------------------------------------------------------------
 * Email tokens */

static int sqlite_user_set_pending(struct stitch_store *s, const char *id, bool pending) {
        return write_one(s, ST_USER_SET_PENDING, "user_set_pending", id, ARG_BOOL(pending), true,
                         _STITCH_STORE_EVENT_KIND_INVALID);
}

static const char *const email_token_kinds[_STITCH_EMAIL_TOKEN_KIND_MAX] = {
        [STITCH_EMAIL_TOKEN_CONFIRM] = "confirm",
        [STITCH_EMAIL_TOKEN_RESET] = "reset",
};

static bool email_token_kind_valid(enum stitch_email_token_kind kind) {
        return (unsigned) kind < _STITCH_EMAIL_TOKEN_KIND_MAX;
}

static int email_token_put_tx(struct conn *c, const struct stitch_email_token *t) {
        const char *kind = email_token_kinds[t->kind];
        int r = user_exists(c, t->user_id);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        r = run(c, ST_EMAIL_TOKENS_DELETE_OF_USER, "email_token_put", ARGS(ARG_TEXT(t->user_id), ARG_TEXT(kind)),
                NULL);
        if (r < 0)
                return r;
        return run(c, ST_EMAIL_TOKEN_INSERT, "email_token_put",
                   ARGS(ARG_TEXT(t->id), ARG_TEXT(t->user_id), ARG_TEXT(kind), ARG_HASH(t->hash), ARG_INT(t->expires)),
                   NULL);
}

static int sqlite_email_token_put(struct stitch_store *s, const struct stitch_email_token *t) {
        if (!t || isempty(t->id) || isempty(t->user_id) || !email_token_kind_valid(t->kind))
                return -EINVAL;
        _cleanup_unlock_ struct conn *c = writer_lock(s);
        int r = tx_begin(c, true);
        if (r < 0)
                return r;
        return tx_end(c, email_token_put_tx(c, t));
}

static int email_token_take_tx(struct conn *c, const char *id, enum stitch_email_token_kind kind,
                               const uint8_t hash[STITCH_HASH_LEN], int64_t now,
                               char ret_user_id[static STITCH_ID_LEN + 1]) {
        char user_id[STITCH_ID_LEN + 1];
        uint8_t stored[STITCH_HASH_LEN];
        bool usable;
        int r;

        {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                r = prepare_step(c, ST_EMAIL_TOKEN_BY_ID, "email_token_take", ARGS(ARG_TEXT(id)), &st);
                if (r <= 0)
                        return r < 0 ? r : -ENOENT;
                const unsigned char *k = sqlite3_column_text(st, 1);
                if ((r = col_id(st, 0, user_id)) < 0 || (r = col_hash(st, 2, stored)) < 0)
                        return r;
                usable = k && streq((const char *) k, email_token_kinds[kind]) && sqlite3_column_int64(st, 3) > now;
        }
        /* Compared in full whatever else is wrong: the time says nothing. */
        if (CRYPTO_memcmp(stored, hash, STITCH_HASH_LEN) != 0 || !usable)
                return -ENOENT;
        r = run_one(c, ST_EMAIL_TOKEN_DELETE, "email_token_take", ARGS(ARG_TEXT(id)));
        if (r < 0)
                return r;
        memcpy(ret_user_id, user_id, STITCH_ID_LEN + 1);
        return 0;
}

static int sqlite_email_token_take(struct stitch_store *s, const char *id, enum stitch_email_token_kind kind,
                                   const uint8_t hash[STITCH_HASH_LEN], int64_t now,
                                   char ret_user_id[static STITCH_ID_LEN + 1]) {
        if (isempty(id) || !hash || !email_token_kind_valid(kind))
                return -EINVAL;
        _cleanup_unlock_ struct conn *c = writer_lock(s);
        int r = tx_begin(c, true);
        if (r < 0)
                return r;
        return tx_end(c, email_token_take_tx(c, id, kind, hash, now, ret_user_id));
}

static int sqlite_email_token_prune(struct stitch_store *s, int64_t now, size_t *ret_n) {
        int changes = 0, r;

        {
                _cleanup_unlock_ struct conn *c = writer_lock(s);
                r = tx_begin(c, true);
                if (r < 0)
                        return r;
                r = tx_end(c, run(c, ST_EMAIL_TOKEN_PRUNE, "email_token_prune", ARGS(ARG_INT(now)), &changes));
        }
        if (r < 0)
                return r;
        if (ret_n)
                *ret_n = (size_t) MAX(changes, 0);
        return 0;
}

/* ---------------------------------------------------------------------------
 * API keys */

static int apikey_create_tx(struct conn *c, const struct stitch_apikey *k) {
        int64_t n = 0;
        int r;

        r = user_exists(c, k->user_id);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;

        r = query(c, ST_APIKEY_COUNT_OF_USER, "apikey_create", ARGS(ARG_TEXT(k->user_id)), &n);
        if (r < 0)
                return r;
        if (r > 0 && n >= STITCH_MAX_USER_APIKEYS)
                return -EDQUOT;

        return run(c, ST_APIKEY_INSERT, "apikey_create",
                   ARGS(ARG_TEXT(k->id), ARG_TEXT(k->user_id), ARG_TEXT(k->name), ARG_HASH(k->hash),
                        ARG_BOOL(k->disabled), ARG_INT(k->creation_date)),
                   NULL);
}

static int sqlite_apikey_create(struct stitch_store *s, const struct stitch_apikey *k) {
        if (!k || isempty(k->id) || isempty(k->user_id) || !k->name)
                return -EINVAL;

        _cleanup_unlock_ struct conn *c = writer_lock(s);
        int r = tx_begin(c, true);
        if (r < 0)
                return r;
        r = apikey_create_tx(c, k);
        if (r >= 0) {
                char data[64 + STITCH_ID_LEN];
                (void) snprintf(data, sizeof(data), "{\"user_id\":\"%s\"}", k->user_id); /* an id: [0-9a-f] */
                r = event_tx(c, STITCH_STORE_EVENT_APIKEY_CREATED, k->id, data);
        }
        return tx_end(c, r);
}

static int sqlite_apikey_find_by_hash(struct stitch_store *s, const uint8_t hash[STITCH_HASH_LEN],
                                      struct stitch_apikey **ret) {
        if (!hash || !ret)
                return -EINVAL;
        return find_row(s, ST_APIKEY_BY_HASH, "apikey lookup", NULL, hash, read_apikey, ret);
}

static int sqlite_apikey_find_for_login(struct stitch_store *s, const uint8_t hash[STITCH_HASH_LEN], int64_t now,
                                        struct stitch_apikey **ret_key, struct stitch_user **ret_user) {
        _cleanup_(stitch_apikey_freep) struct stitch_apikey *k = NULL;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        int r;

        if (!hash || !ret_key || !ret_user)
                return -EINVAL;
        {
                _cleanup_unlock_ struct conn *c = reader_lock(s);
                r = tx_begin(c, false);
                if (r < 0)
                        return r;
                r = read_one(c, ST_APIKEY_BY_HASH, "apikey_find_for_login", ARGS(ARG_HASH(hash)), read_apikey, &k);
                if (r >= 0)
                        r = user_find_tx(c, STITCH_USER_BY_ID, k->user_id, &u);
                if (r >= 0)
                        r = read_login_extras(c, u, now);
                r = tx_end(c, r);
                if (r < 0)
                        return r;
        }
        *ret_key = TAKE_PTR(k);
        *ret_user = TAKE_PTR(u);
        return 0;
}

static int sqlite_apikey_get(struct stitch_store *s, const char *id, struct stitch_apikey **ret) {
        if (!id || !ret)
                return -EINVAL;
        return find_row(s, ST_APIKEY_BY_ID, "apikey lookup", id, NULL, read_apikey, ret);
}

static int sqlite_apikey_list(struct stitch_store *s, const char *user_id, struct stitch_apikey ***ret,
                              size_t *ret_n) {
        struct rows out = {};
        int r;

        if (!ret || !ret_n)
                return -EINVAL;

        r = read_list_writer(s, user_id ? ST_APIKEY_LIST_OF_USER : ST_APIKEY_LIST_ALL, "apikey_list",
                             ARGS(user_id ? ARG_TEXT(user_id) : NO_ARG), &apikey_rows, &out);
        if (r < 0)
                return r;
        *ret = out.a;
        *ret_n = out.n;
        return 0;
}

static int sqlite_apikey_set_disabled(struct stitch_store *s, const char *id, bool disabled) {
        return write_one(s, ST_APIKEY_SET_DISABLED, "apikey_set_disabled", id, ARG_INT(disabled), true,
                         disabled ? STITCH_STORE_EVENT_APIKEY_DISABLED : STITCH_STORE_EVENT_APIKEY_ENABLED);
}

static int sqlite_apikey_delete(struct stitch_store *s, const char *id) {
        return write_one(s, ST_APIKEY_DELETE, "apikey_delete", id, NO_ARG, true, STITCH_STORE_EVENT_APIKEY_DELETED);
}

/* ---------------------------------------------------------------------------
 * Sessions */

static int session_revoke_tx(struct conn *c, const char *id, int64_t now, const char *reason);

/* The session row and the user's last authentication time, inside the
 * caller's transaction; then, with max_live > 0, the user's oldest live
 * sessions beyond max_live (this one included) end, into *ended. */
static int session_insert(struct conn *c, const struct stitch_session *se, unsigned max_live,
                          struct stitch_strv_builder *ended) {
        int r;

        /* Nothing inserted (-ENOENT): no such user (or key). */
        r = run_one(c, ST_SESSION_INSERT, "session_create",
                    ARGS(ARG_TEXT(se->id), ARG_TEXT(se->user_id), ARG_TEXT(se->device_id), ARG_TEXT(se->provider_type),
                         ARG_TEXT(se->service), ARG_TEXT(se->rhost), ARG_TEXT(se->tty), ARG_HASH(se->refresh_hash),
                         ARG_INT(se->creation_date), ARG_INT(se->refresh_expires), ARG_INT(se->access_expires),
                         ARG_INT(se->last_used), ARG_BOOL(se->revoked), ARG_INT(se->revoked_at),
                         ARG_TEXT(se->revoked_reason), ARG_BOOL(se->open), ARG_INT(se->leader_pid), ARG_INT(se->uid),
                         ARG_HASH(se->has_binding ? se->binding_hash : NULL), ARG_INT(se->created_usec),
                         ARG_TEXT(isempty(se->apikey_id) ? NULL : se->apikey_id)));
        if (r < 0)
                return r;
        /* A login is also the user's last authentication: same transaction, same fsync. */
        r = run(c, ST_USER_TOUCH, "session_create", ARGS(ARG_TEXT(se->user_id), ARG_INT(se->creation_date)), NULL);
        if (r < 0 || max_live == 0)
                return r;

        struct stitch_strv_builder excess = {};
        r = read_ids(c, ST_SESSION_EXCESS_IDS, "session_create (MaxPerUser)",
                     ARGS(ARG_TEXT(se->user_id), ARG_INT(se->creation_date), ARG_INT(max_live)), &excess);
        for (size_t i = 0; r >= 0 && i < excess.n; i++) {
                r = session_revoke_tx(c, excess.l[i], se->creation_date, "limit");
                if (r > 0)
                        r = stitch_strv_builder_add(ended, excess.l[i]);
        }
        stitch_strv_builder_done(&excess);
        return r < 0 ? r : 0;
}

/* Commits a batch of session inserts in one transaction: each in its own
 * savepoint, so one that fails (say, its user was just deleted) is rolled
 * back alone and gets its own error; if the COMMIT fails, all fail. */
static void session_create_batch(struct stitch_store *s, struct create_request *batch) {
        _cleanup_unlock_ struct conn *c = writer_lock(s);
        int r = tx_begin(c, true);
        for (struct create_request *q = batch; q; q = q->next) {
                if (r < 0) {
                        q->result = r;
                        continue;
                }
                int k = exec_simple(c, ST_SAVEPOINT);
                if (k >= 0) {
                        k = session_insert(c, q->session, q->max_live, &q->ended);
                        if (k < 0) {
                                stitch_strv_builder_done(&q->ended);
                                int u = exec_simple(c, ST_ROLLBACK_TO);
                                if (u < 0)
                                        r = u; /* the transaction is in an unknown state: fail the rest */
                        }
                        int u = exec_simple(c, ST_RELEASE);
                        if (u < 0 && r >= 0)
                                r = u;
                }
                q->result = k;
        }
        if (r >= 0) {
                r = tx_end(c, 0);
                if (r < 0)
                        for (struct create_request *q = batch; q; q = q->next)
                                q->result = r;
        } else {
                (void) tx_end(c, r);
                for (struct create_request *q = batch; q; q = q->next)
                        if (q->result >= 0)
                                q->result = r;
        }
}

/* Group commit: logins arriving while a commit is in flight queue up, and the
 * next commit takes them all, so N concurrent logins pay for about one fsync
 * instead of N. The first thread to find no commit running leads: it commits
 * batches until the queue is empty; the others wait for their result. Each
 * caller still returns only after its own row is durable. */
/* The ids a create ended, handed out (or dropped on failure). */
static int create_finish(int r, struct stitch_strv_builder *ended, char ***ret_ended) {
        if (r < 0 || !ret_ended) {
                stitch_strv_builder_done(ended);
                return r;
        }
        *ret_ended = stitch_strv_builder_finish(ended);
        return *ret_ended ? r : -ENOMEM;
}

static int sqlite_session_create(struct stitch_store *s, const struct stitch_session *se, unsigned max_live,
                                 char ***ret_ended) {
        if (ret_ended)
                *ret_ended = NULL;
        if (!se || isempty(se->id) || isempty(se->user_id) || !se->provider_type || (max_live > 0 && !ret_ended))
                return -EINVAL;

        if (s->tx_of) {
                /* Inside the caller's transaction, durable with it; not in a
                 * batch, which would tie other logins to its fate. */
                struct stitch_strv_builder ended = {};
                int r;
                {
                        _cleanup_unlock_ struct conn *c = writer_lock(s);
                        r = tx_begin(c, true);
                        if (r >= 0)
                                r = tx_end(c, session_insert(c, se, max_live, &ended));
                }
                return create_finish(r, &ended, ret_ended);
        }

        struct create_request me = {.session = se, .max_live = max_live};
        pthread_mutex_lock(&s->create_lock);
        *s->create_tail = &me;
        s->create_tail = &me.next;
        if (s->create_leader) {
                while (!me.done)
                        pthread_cond_wait(&s->create_done, &s->create_lock);
                pthread_mutex_unlock(&s->create_lock);
                return create_finish(me.result, &me.ended, ret_ended);
        }
        s->create_leader = true;
        while (s->create_queue) {
                struct create_request *batch = s->create_queue;
                s->create_queue = NULL;
                s->create_tail = &s->create_queue;
                pthread_mutex_unlock(&s->create_lock);

                session_create_batch(s, batch);

                pthread_mutex_lock(&s->create_lock);
                for (struct create_request *q = batch, *next; q; q = next) {
                        next = q->next; /* q may return and vanish once done */
                        q->done = true;
                }
                pthread_cond_broadcast(&s->create_done);
        }
        s->create_leader = false;
        pthread_mutex_unlock(&s->create_lock);
        return create_finish(me.result, &me.ended, ret_ended);
}

static int sqlite_session_get(struct stitch_store *s, const char *id, struct stitch_session **ret) {
        if (!id || !ret)
                return -EINVAL;
        return find_row(s, ST_SESSION_BY_ID, "session lookup", id, NULL, read_session, ret);
}

static int sqlite_session_find_by_refresh_hash(struct stitch_store *s, const uint8_t hash[STITCH_HASH_LEN],
                                               struct stitch_session **ret) {
        if (!hash || !ret)
                return -EINVAL;
        return find_row(s, ST_SESSION_BY_REFRESH_HASH, "session lookup", NULL, hash, read_session, ret);
}

static int sqlite_session_find_with_user(struct stitch_store *s, const char *id, const uint8_t *refresh_hash,
                                         struct stitch_session **ret_session, struct stitch_user **ret_user) {
        _cleanup_(stitch_session_freep) struct stitch_session *se = NULL;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        int r;

        if ((!id == !refresh_hash) || !ret_session || !ret_user)
                return -EINVAL;

        {
                /* One statement: one snapshot, one read transaction. */
                _cleanup_unlock_ struct conn *c = reader_lock(s);
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                r = prepare_step(c, id ? ST_SESSION_WITH_USER_BY_ID : ST_SESSION_WITH_USER_BY_REFRESH_HASH,
                                 "session lookup", ARGS(id ? ARG_TEXT(id) : ARG_HASH(refresh_hash)), &st);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -ENOENT;
                r = read_session(st, &se);
                if (r < 0)
                        return r;
                /* LEFT JOIN: no user row, NULL columns. */
                if (sqlite3_column_type(st, JOINED_SESSION_N_COLUMNS) != SQLITE_NULL) {
                        r = read_user_at(st, JOINED_SESSION_N_COLUMNS, &u);
                        if (r < 0)
                                return r;
                }
        }
        *ret_session = TAKE_PTR(se);
        *ret_user = TAKE_PTR(u);
        return 0;
}

static int sqlite_session_find_by_retired_refresh_hash(struct stitch_store *s, const uint8_t hash[STITCH_HASH_LEN],
                                                       struct stitch_session **ret) {
        if (!hash || !ret)
                return -EINVAL;
        return find_row(s, ST_SESSION_BY_RETIRED_REFRESH, "session lookup", NULL, hash, read_session, ret);
}

static int sqlite_session_list(struct stitch_store *s, const char *user_id, bool include_revoked, int64_t now,
                               struct stitch_session ***ret, size_t *ret_n) {
        struct rows out = {};
        int r;

        if (!ret || !ret_n)
                return -EINVAL;

        r = read_list_writer(s, user_id ? ST_SESSION_LIST_OF_USER : ST_SESSION_LIST_ALL, "session_list",
                             ARGS(ARG_BOOL(include_revoked), ARG_INT(now), user_id ? ARG_TEXT(user_id) : NO_ARG),
                             &session_rows, &out);
        if (r < 0)
                return r;
        *ret = out.a;
        *ret_n = out.n;
        return 0;
}

static int session_revoke_tx(struct conn *c, const char *id, int64_t now, const char *reason) {
        int changes = 0, r;

        r = run(c, ST_SESSION_REVOKE, "session_revoke", ARGS(ARG_TEXT(id), ARG_INT(now), ARG_TEXT(reason)), &changes);
        if (r < 0)
                return r;
        if (changes > 0) {
                r = run(c, ST_EVENTS_SESSION, "session_revoke", ARGS(ARG_TEXT(id), ARG_INT(now), ARG_TEXT(reason)),
                        NULL);
                return r < 0 ? r : 1;
        }

        /* Not revoked now: already revoked, or unknown? */
        r = query(c, ST_SESSION_EXISTS, "session_revoke", ARGS(ARG_TEXT(id)), NULL);
        if (r < 0)
                return r;
        return r > 0 ? 0 : -ENOENT;
}

static int sqlite_session_revoke(struct stitch_store *s, const char *id, int64_t now, const char *reason) {
        if (!id)
                return -EINVAL;

        _cleanup_unlock_ struct conn *c = writer_lock(s);
        int r = tx_begin(c, true);
        if (r < 0)
                return r;
        return tx_end(c, session_revoke_tx(c, id, now, reason));
}

/* revoke_sessions_tx() in a write transaction of its own; *ret_revoked
 * (optional): the ids of the sessions it revoked. */
static int revoke_sessions(struct stitch_store *s, enum stmt_id list_ids, enum stmt_id events, enum stmt_id revoke, const char *key,
                           const char *extra, int64_t now, const char *reason, char ***ret_revoked) {
        struct stitch_strv_builder ids = {};
        int r;

        {
                _cleanup_unlock_ struct conn *c = writer_lock(s);
                r = tx_begin(c, true);
                if (r >= 0)
                        r = tx_end(c, revoke_sessions_tx(c, list_ids, events, revoke, key, extra, now, reason,
                                                         ret_revoked ? &ids : NULL));
        }
        if (r < 0) {
                stitch_strv_builder_done(&ids);
                return r;
        }
        if (ret_revoked) {
                *ret_revoked = stitch_strv_builder_finish(&ids);
                if (!*ret_revoked)
                        return -ENOMEM;
        }
        return 0;
}

static int sqlite_session_revoke_user(struct stitch_store *s, const char *user_id, int64_t now, const char *reason,
                                      char ***ret_revoked) {
        if (!user_id)
                return -EINVAL;
        return revoke_sessions(s, ST_SESSION_LIVE_IDS_OF_USER, ST_EVENTS_SESSIONS_OF_USER, ST_SESSION_REVOKE_USER, user_id, NULL, now, reason,
                               ret_revoked);
}

static int sqlite_session_revoke_apikey(struct stitch_store *s, const char *key_id, const char *provider_type,
                                        int64_t now, const char *reason, char ***ret_revoked) {
        if (!key_id || !provider_type)
                return -EINVAL;
        return revoke_sessions(s, ST_SESSION_LIVE_IDS_OF_APIKEY, ST_EVENTS_SESSIONS_OF_APIKEY, ST_SESSION_REVOKE_APIKEY, key_id, provider_type, now,
                               reason, ret_revoked);
}

/* Rotation is a compare-and-swap on the refresh hash: of two refreshes that
 * looked the session up by the same token, only the first to get here
 * rotates; the other finds the hash changed (-ESTALE) and its token is then a
 * rotated-away one, which the caller treats as reuse. */
static int session_refreshed_tx(struct conn *c, const char *id, int64_t access_expires, int64_t now,
                                const uint8_t *expected_refresh_hash, const uint8_t *new_refresh_hash) {
        _cleanup_(stitch_session_freep) struct stitch_session *se = NULL;
        int changes = 0, r;

        r = run(c, ST_SESSION_REFRESHED, "session_refreshed",
                ARGS(ARG_TEXT(id), ARG_INT(access_expires), ARG_INT(now), ARG_HASH(new_refresh_hash),
                     ARG_HASH(expected_refresh_hash)),
                &changes);
        if (r < 0)
                return r;

        if (changes > 0) {
                if (!new_refresh_hash)
                        return 0;
                /* Remember the token just replaced (same transaction). */
                return run(c, ST_SESSION_RETIRE_REFRESH, "session_refreshed",
                           ARGS(ARG_TEXT(id), ARG_HASH(expected_refresh_hash)), NULL);
        }
        if (!expected_refresh_hash)
                return -ENOENT;

        /* Nothing changed: gone or revoked, or the swap was lost? */
        r = read_one(c, ST_SESSION_BY_ID, "session_refreshed", ARGS(ARG_TEXT(id)), read_session, &se);
        if (r < 0)
                return r;
        return se->revoked ? -ENOENT : -ESTALE;
}

static int sqlite_session_refreshed(struct stitch_store *s, const char *id, int64_t access_expires, int64_t now,
                                    const uint8_t *expected_refresh_hash, const uint8_t *new_refresh_hash) {
        int r;

        if (!id || (new_refresh_hash && !expected_refresh_hash))
                return -EINVAL;

        _cleanup_unlock_ struct conn *c = writer_lock(s);
        r = tx_begin(c, true);
        if (r < 0)
                return r;
        r = session_refreshed_tx(c, id, access_expires, now, expected_refresh_hash, new_refresh_hash);
        return tx_end(c, r);
}

static int sqlite_session_set_open(struct stitch_store *s, const char *id, bool open, int64_t leader_pid,
                                   int64_t uid) {
        int r;

        if (!id)
                return -EINVAL;

        _cleanup_unlock_ struct conn *c = writer_lock(s);
        /* Marking a session open only has to outlive a crash of the daemon,
         * not of the machine: it names live processes, and an OS crash ends
         * them all. So this commit is not fsynced (WAL + synchronous=NORMAL:
         * in the page cache at COMMIT, on disk with the next synced commit or
         * checkpoint). Closing stays FULL: it is part of a logout. */
        r = open ? tx_begin_relaxed(c) : tx_begin(c, true);
        if (r < 0)
                return r;
        r = run_one(c, ST_SESSION_SET_OPEN, "session_set_open",
                    ARGS(ARG_TEXT(id), ARG_BOOL(open), ARG_INT(leader_pid), ARG_INT(uid)));
        return tx_end(c, r);
}

/* Callbacks run after the lock is dropped: they may call back into the store. */
static int sqlite_session_foreach_revoked(struct stitch_store *s, int64_t now, int64_t lifetime,
                                          stitch_store_revocation_cb cb, void *userdata) {
        struct rows out = {};
        int r;

        if (!cb)
                return -EINVAL;
        r = read_list_writer(s, ST_SESSION_REVOKED_LIVE, "session_foreach_revoked",
                             ARGS(ARG_INT(now), ARG_INT(lifetime)), &revoked_rows, &out);
        const struct revoked_entry *a = out.a;
        for (size_t i = 0; r >= 0 && i < out.n; i++)
                r = cb(a[i].id, a[i].access_expires, userdata);
        rows_done(&out, &revoked_rows);
        return r < 0 ? r : 0;
}

static int sqlite_session_foreach_open(struct stitch_store *s, int64_t now, stitch_store_session_cb cb,
                                       void *userdata) {
        struct rows out = {};
        int r;

        if (!cb)
                return -EINVAL;
        r = read_list_writer(s, ST_SESSION_OPEN_LIVE, "session_foreach_open", ARGS(ARG_INT(now)), &session_rows,
                             &out);
        struct stitch_session **a = out.a;
        for (size_t i = 0; r >= 0 && i < out.n; i++)
                r = cb(a[i], userdata);
        rows_done(&out, &session_rows);
        return r < 0 ? r : 0;
}

static int session_prune_tx(struct conn *c, int64_t now, size_t *ret_n) {
        static const enum stmt_id ids[] = { ST_SESSION_PRUNE_REVOKED, ST_SESSION_PRUNE_EXPIRED };
        size_t total = 0;

        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                int changes = 0;
                int r = run(c, ids[i], "session_prune", ARGS(ARG_INT(now)), &changes);
                if (r < 0)
                        return r;
                total += (size_t) MAX(changes, 0);
        }
        *ret_n = total;
        return 0;
}

static int sqlite_session_prune(struct stitch_store *s, int64_t now, size_t *ret_n) {
        size_t n = 0;
        int r;

        {
                _cleanup_unlock_ struct conn *c = writer_lock(s);
                r = tx_begin(c, true);
                if (r < 0)
                        return r;
                r = tx_end(c, session_prune_tx(c, now, &n));
        }
        if (r < 0)
                return r;
        if (ret_n)
                *ret_n = n;
        return 0;
}

static int sqlite_session_count(struct stitch_store *s, uint64_t *ret) {
        return count_rows(s, ST_SESSION_COUNT, ret);
}

/* ---------------------------------------------------------------------------
 * Signing keys */

static int sqlite_key_list(struct stitch_store *s, struct stitch_signing_key ***ret, size_t *ret_n) {
        struct rows out = {};
        int r;

        if (!ret || !ret_n)
                return -EINVAL;

        r = read_list_writer(s, ST_KEY_LIST, "key_list", NULL, 0, &signing_key_rows, &out);
        if (r < 0)
                return r;
        *ret = out.a;
        *ret_n = out.n;
        return 0;
}

static int key_rotate_tx(struct conn *c, const struct stitch_signing_key *k) {
        int r;

        r = run(c, ST_KEY_RETIRE_ACTIVE, "key_rotate", ARGS(ARG_INT(k->created)), NULL);
        if (r < 0)
                return r;
        return run(c, ST_KEY_INSERT, "key_rotate",
                   ARGS(ARG_TEXT(k->kid), ARG_TEXT(k->alg), ARG_BLOB(k->secret, (int) k->secret_len),
                        ARG_INT(k->created)),
                   NULL);
}

static int sqlite_key_rotate(struct stitch_store *s, const struct stitch_signing_key *k) {
        if (!k || isempty(k->kid) || strnlen(k->kid, sizeof(k->kid)) >= sizeof(k->kid) || !k->alg || !k->secret ||
            k->secret_len == 0 || k->secret_len > INT32_MAX || k->created <= 0)
                return -EINVAL;

        _cleanup_unlock_ struct conn *c = writer_lock(s);
        int r = tx_begin(c, true);
        if (r < 0)
                return r;
        r = key_rotate_tx(c, k);
        if (r >= 0)
                r = event_tx(c, STITCH_STORE_EVENT_KEY_ROTATED, k->kid, NULL);
        return tx_end(c, r);
}

static int sqlite_key_prune(struct stitch_store *s, int64_t cutoff, size_t *ret_n) {
        int changes = 0, r;

        {
                _cleanup_unlock_ struct conn *c = writer_lock(s);
                r = tx_begin(c, true);
                if (r < 0)
                        return r;
                r = tx_end(c, run(c, ST_KEY_PRUNE, "key_prune", ARGS(ARG_INT(cutoff)), &changes));
        }
        if (r < 0)
                return r;
        if (ret_n)
                *ret_n = (size_t) MAX(changes, 0);
        return 0;
}

/* ---------------------------------------------------------------------------
 * The change feed */

static int sqlite_events_since(struct stitch_store *s, int64_t after_id, size_t limit,
                               struct stitch_store_event ***ret, size_t *ret_n) {
        struct rows out = {};
        int r;

        if (!ret || !ret_n || limit == 0)
                return -EINVAL;
        {
                _cleanup_unlock_ struct conn *c = reader_lock(s);
                r = read_list(c, ST_EVENTS_SINCE, "events_since",
                              ARGS(ARG_INT(after_id), ARG_INT((int64_t) MIN(limit, (size_t) INT64_MAX))), &event_rows,
                              &out);
        }
        if (r < 0)
                return r;
        *ret = out.a;
        *ret_n = out.n;
        return 0;
}

static int sqlite_events_last_id(struct stitch_store *s, int64_t *ret_id) {
        int64_t id = 0;
        int r;

        if (!ret_id)
                return -EINVAL;
        _cleanup_unlock_ struct conn *c = reader_lock(s);
        r = query(c, ST_EVENTS_LAST_ID, "events_last_id", NULL, 0, &id);
        if (r < 0)
                return r;
        *ret_id = r > 0 ? id : 0;
        return 0;
}

static int sqlite_events_prune(struct stitch_store *s, int64_t before, size_t *ret_n) {
        int changes = 0, r;

        {
                _cleanup_unlock_ struct conn *c = writer_lock(s);
                r = tx_begin(c, true);
                if (r < 0)
                        return r;
                r = tx_end(c, run(c, ST_EVENTS_PRUNE, "events_prune", ARGS(ARG_INT(before)), &changes));
        }
        if (r < 0)
                return r;
        if (ret_n)
                *ret_n = (size_t) MAX(changes, 0);
        return 0;
}

/* ---------------------------------------------------------------------------
 * Memory */

static size_t sqlite_release_memory(struct stitch_store *s) {
        size_t freed = 0;

        for (unsigned i = 0; i <= s->n_readers; i++) {
                _cleanup_unlock_ struct conn *c = i < s->n_readers ? conn_lock(&s->read[i]) : writer_lock(s);
                int before = 0, after = 0, highwater = 0;

                /* Only pages no statement holds go; the next reads fetch
                 * them again (from the OS page cache). */
                (void) sqlite3_db_status(c->db, SQLITE_DBSTATUS_CACHE_USED, &before, &highwater, 0);
                if (sqlite3_db_release_memory(c->db) != SQLITE_OK)
                        continue;
                (void) sqlite3_db_status(c->db, SQLITE_DBSTATUS_CACHE_USED, &after, &highwater, 0);
                if (before > after)
                        freed += (size_t) (before - after);
        }
        return freed;
}

/* ---------------------------------------------------------------------------
 * Caller transactions: one BEGIN IMMEDIATE on the write connection from
 * begin to commit or rollback; the ops called with its handle join it as
 * savepoints, every other write waits (SQLite has one writer), reads on the
 * read connections see the state before it. The handle is the store's one
 * tx_handle; any thread may use it, one at a time. */

static int sqlite_begin(struct stitch_store *s, struct stitch_store **ret_tx) {
        if (!ret_tx)
                return -EINVAL;
        if (s->tx_of)
                return -EBUSY; /* not nestable */

        pthread_mutex_lock(&s->write.lock);
        if (s->tx_open && pthread_equal(s->tx_thread, pthread_self())) {
                pthread_mutex_unlock(&s->write.lock);
                return -EBUSY; /* this thread holds one already: waiting would never end */
        }
        while (s->tx_open)
                pthread_cond_wait(&s->tx_ended, &s->write.lock);
        int r = tx_begin(&s->write, true);
        if (r >= 0) {
                s->tx_open = true;
                s->tx_thread = pthread_self();
        }
        pthread_mutex_unlock(&s->write.lock);
        if (r < 0)
                return r;
        *ret_tx = s->tx_handle;
        return 0;
}

static int finish(struct stitch_store *tx, int r) {
        if (!tx || !tx->tx_of)
                return -EINVAL;
        struct stitch_store *s = tx->tx_of;
        pthread_mutex_lock(&s->write.lock);
        if (!s->tx_open) {
                pthread_mutex_unlock(&s->write.lock);
                return -EINVAL;
        }
        r = tx_end(&s->write, r);
        s->tx_open = false;
        pthread_cond_broadcast(&s->tx_ended);
        pthread_mutex_unlock(&s->write.lock);
        return r;
}

static int sqlite_commit(struct stitch_store *tx) {
        return finish(tx, 0);
}

static void sqlite_rollback(struct stitch_store *tx) {
        (void) finish(tx, -ECANCELED);
}

const struct stitch_store_ops stitch_store_sqlite = {
        .scheme = "sqlite",
        .validate_location = sqlite_validate_location,
        .prepare = sqlite_prepare,
        .open = sqlite_open,
        .close = sqlite_close,
        .integrity_check = sqlite_integrity_check,
        .schema_version = sqlite_schema_version,
        .begin = sqlite_begin,
        .commit = sqlite_commit,
        .rollback = sqlite_rollback,

        .user_create = sqlite_user_create,
        .user_find = sqlite_user_find,
        .user_find_for_login = sqlite_user_find_for_login,
        .user_list = sqlite_user_list,
        .user_count = sqlite_user_count,
        .user_set_disabled = sqlite_user_set_disabled,
        .user_update = sqlite_user_update,
        .user_merge = sqlite_user_merge,
        .identity_remove = sqlite_identity_remove,
        .user_delete = sqlite_user_delete,
        .user_touch = sqlite_user_touch,
        .user_list_idle = sqlite_user_list_idle,
        .user_assign_unix_uid = sqlite_user_assign_unix_uid,
        .user_list_unix = sqlite_user_list_unix,
        .user_list_unix_unassigned = sqlite_user_list_unix_unassigned,
        .unix_uid_max = sqlite_unix_uid_max,
        .unix_uid_next_free = sqlite_unix_uid_next_free,
        .unix_uid_list_retired = sqlite_unix_uid_list_retired,
        .unix_uid_retire = sqlite_unix_uid_retire,

        .password_get = sqlite_password_get,
        .password_set = sqlite_password_set,

        .user_set_pending = sqlite_user_set_pending,
        .email_token_put = sqlite_email_token_put,
        .email_token_take = sqlite_email_token_take,
        .email_token_prune = sqlite_email_token_prune,

        .apikey_create = sqlite_apikey_create,
        .apikey_find_by_hash = sqlite_apikey_find_by_hash,
        .apikey_find_for_login = sqlite_apikey_find_for_login,
        .apikey_get = sqlite_apikey_get,
        .apikey_list = sqlite_apikey_list,
        .apikey_set_disabled = sqlite_apikey_set_disabled,
        .apikey_delete = sqlite_apikey_delete,

        .session_create = sqlite_session_create,
        .session_get = sqlite_session_get,
        .session_find_by_refresh_hash = sqlite_session_find_by_refresh_hash,
        .session_find_with_user = sqlite_session_find_with_user,
        .session_list = sqlite_session_list,
        .session_revoke = sqlite_session_revoke,
        .session_revoke_user = sqlite_session_revoke_user,
        .session_revoke_apikey = sqlite_session_revoke_apikey,
        .session_refreshed = sqlite_session_refreshed,
        .session_find_by_retired_refresh_hash = sqlite_session_find_by_retired_refresh_hash,
        .session_set_open = sqlite_session_set_open,
        .session_foreach_revoked = sqlite_session_foreach_revoked,
        .session_foreach_open = sqlite_session_foreach_open,
        .session_prune = sqlite_session_prune,
        .session_count = sqlite_session_count,

        .key_list = sqlite_key_list,
        .key_rotate = sqlite_key_rotate,
        .key_prune = sqlite_key_prune,

        .events_since = sqlite_events_since,
        .events_last_id = sqlite_events_last_id,
        .events_prune = sqlite_events_prune,

        .release_memory = sqlite_release_memory,
};
