/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PostgreSQL store's SQL (see postgresql-statements.h). Each mirrors
 * its namesake in sqlite.c; where the two differ, a comment says why. */

#include "store/postgresql-statements.h"

#define S_COLUMNS                                                                                     \
        "s.id, s.user_id, s.device_id, s.provider_type, s.service, s.rhost, s.tty, s.refresh_hash, "  \
        "s.creation_date, s.refresh_expires, s.access_expires, s.last_used, s.revoked, s.revoked_at, " \
        "s.revoked_reason, s.open, s.leader_pid, s.uid, s.binding_hash, s.created_usec, s.apikey_id"
#define U_COLUMNS                                                                                     \
        "u.id, u.type, u.email, u.name, u.unix_name, u.data, u.disabled, u.creation_date, "           \
        "u.last_authentication_date, u.pending, u.self_registered, u.unix_uid"
/* The identities of users u, as PQ_USER_FIND_IDENTITIES_COLUMN reads them. */
#define U_IDENTITIES                                                                                  \
        "(SELECT json_agg(json_build_array(i.id, i.provider_type, i.provider_id, i.data) ORDER BY i.seq) " \
        "FROM identities i WHERE i.user_id = u.id)::text"
#define USER_FIND                                                                                     \
        "SELECT " U_COLUMNS ", " U_IDENTITIES ", "                                                    \
        "CASE WHEN $2::boolean THEN (SELECT p.hash FROM passwords p WHERE p.user_id = u.id) END, "    \
        "CASE WHEN $2::boolean THEN (SELECT count(*) FROM sessions s WHERE s.user_id = u.id "         \
        "AND NOT s.revoked AND s.refresh_expires > $3::bigint) END FROM users u "
#define SESSION_WITH_USER "SELECT " S_COLUMNS ", " U_COLUMNS " FROM sessions s LEFT JOIN users u ON u.id = s.user_id "
/* Every uid ever given to a user ($1..$2 of them), deleted users' included. */
#define UNIX_UIDS_IN_RANGE                                                                            \
        "SELECT unix_uid AS uid FROM users WHERE unix_uid BETWEEN $1 AND $2 "                        \
        "UNION ALL SELECT uid FROM retired_unix_uids WHERE uid BETWEEN $1 AND $2"
#define SESSION_LIVE_OF_USER "user_id = $1 AND NOT revoked AND (refresh_expires > $2 OR access_expires > $2)"
#define SESSION_LIVE_OF_APIKEY                                                                        \
        "NOT revoked AND (refresh_expires > $2 OR access_expires > $2) AND (apikey_id = $1 OR "      \
        "(apikey_id IS NULL AND provider_type = $4 AND user_id = (SELECT user_id FROM api_keys WHERE id = $1)))"
/* The event of a session's end, from the RETURNING of the UPDATE that ends
 * it: one statement, so the events name exactly the sessions it ended. */
#define SESSION_ENDED_EVENTS                                                                          \
        "INSERT INTO events (time, kind, subject, data) SELECT $2, 'session.ended', id, "            \
        "'{\"access_expires\":' || access_expires || ',\"reason\":' || "                              \
        "COALESCE(to_json($3::text)::text, 'null') || '}' FROM ended ORDER BY creation_date, id RETURNING subject"

const char *const pq_sql[_PQ_MAX] = {
        [PQ_SCHEMA_VERSION] = "SELECT version FROM schema_version WHERE id = 1",

        [PQ_USER_INSERT] =
                "INSERT INTO users (id, type, email, name, unix_name, data, disabled, creation_date, "
                "last_authentication_date, pending, self_registered) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        [PQ_IDENTITY_INSERT] =
                "INSERT INTO identities (id, user_id, provider_type, provider_id, data) VALUES ($1, $2, $3, $4, $5)",
        [PQ_USER_BY_ID] = USER_FIND "WHERE u.id = $1",
        [PQ_USER_BY_EMAIL] = USER_FIND "WHERE u.email = $1",
        [PQ_USER_BY_UNIX_NAME] = USER_FIND "WHERE u.unix_name = $1",
        [PQ_USER_BY_UNIX_UID] = USER_FIND "WHERE u.unix_uid = $1::bigint",
        [PQ_USER_BY_IDENTITY] = USER_FIND "WHERE u.id = (SELECT user_id FROM identities WHERE id = $1)",
        /* The row lock the checks of a write hold until its commit. */
        [PQ_USER_LOCK] = "SELECT unix_uid FROM users WHERE id = $1 FOR UPDATE",
        [PQ_USER_LOCK_TWO] = "SELECT id FROM users WHERE id = $1 OR id = $2 ORDER BY id FOR UPDATE",
        [PQ_USER_MERGEABLE] =
                "SELECT 1 FROM users WHERE id = $1 AND last_authentication_date = 0 AND NOT disabled "
                "AND NOT EXISTS (SELECT 1 FROM sessions WHERE user_id = $1)",
        [PQ_USER_LIST] = "SELECT " U_COLUMNS ", " U_IDENTITIES " FROM users u WHERE u.id > $1 ORDER BY u.id LIMIT $2",
        [PQ_USER_COUNT] = "SELECT count(*) FROM users",
        [PQ_USER_SET_DISABLED] = "UPDATE users SET disabled = $2 WHERE id = $1",
        [PQ_USER_UPDATE] = "UPDATE users SET email = $2, name = $3, unix_name = $4, data = $5 WHERE id = $1",
        /* A deleted user's uid is never given again (sqlite.c: a trigger). */
        [PQ_USER_DELETE] =
                "WITH d AS (DELETE FROM users WHERE id = $1 RETURNING unix_uid), "
                "r AS (INSERT INTO retired_unix_uids (uid) SELECT unix_uid FROM d WHERE unix_uid IS NOT NULL "
                "ON CONFLICT DO NOTHING) SELECT count(*) FROM d",
        [PQ_USER_MERGE_FLAGS] =
                "UPDATE users SET "
                "self_registered = self_registered OR (SELECT self_registered FROM users WHERE id = $1), "
                "pending = pending OR (SELECT pending FROM users WHERE id = $1) WHERE id = $2",
        [PQ_USER_TOUCH] = "UPDATE users SET last_authentication_date = $2 WHERE id = $1",
        [PQ_USER_IDLE_OF_PROVIDER] =
                "SELECT DISTINCT u.id FROM identities i JOIN users u ON u.id = i.user_id "
                "WHERE i.provider_type = $1 "
                "AND (CASE WHEN u.last_authentication_date > 0 THEN u.last_authentication_date "
                "          ELSE u.creation_date END) < $2 "
                "AND NOT EXISTS (SELECT 1 FROM identities j WHERE j.user_id = u.id AND j.provider_type <> $1) "
                "AND NOT EXISTS (SELECT 1 FROM sessions s "
                "                WHERE s.user_id = u.id AND NOT s.revoked AND s.last_used >= $2) "
                "ORDER BY u.id LIMIT $3",
        /* Moved identities go last (after the user's own), in their order. */
        [PQ_IDENTITIES_MOVE] =
                "UPDATE identities SET user_id = $2, seq = seq + (SELECT max(seq) FROM identities) WHERE user_id = $1",
        [PQ_PASSWORD_MOVE] =
                "UPDATE passwords SET user_id = $2 WHERE user_id = $1 "
                "AND NOT EXISTS (SELECT 1 FROM passwords WHERE user_id = $2)",
        [PQ_APIKEYS_MOVE] = "UPDATE api_keys SET user_id = $2 WHERE user_id = $1",
        [PQ_APIKEYS_MERGED_COUNT] = "SELECT count(*) FROM api_keys WHERE user_id = $1 OR user_id = $2",
        [PQ_APIKEYS_NAME_CLASH] =
                "SELECT 1 FROM api_keys a JOIN api_keys b ON a.name = b.name WHERE a.user_id = $1 AND b.user_id = $2",
        [PQ_IDENTITY_DELETE] = "DELETE FROM identities WHERE id = $2 AND user_id = $1",
        [PQ_IDENTITY_SET_DATA] = "UPDATE identities SET data = $3 WHERE id = $2 AND user_id = $1",
        [PQ_IDENTITY_COUNT_OF_USER] = "SELECT count(*) FROM identities WHERE user_id = $1",
        [PQ_PASSWORD_DELETE] = "DELETE FROM passwords WHERE user_id = $1",
        [PQ_USER_SET_PENDING] = "UPDATE users SET pending = $2 WHERE id = $1",

        [PQ_UNIX_UID_TAKEN] =
                "SELECT 1 FROM users WHERE unix_uid = $1 UNION ALL SELECT 1 FROM retired_unix_uids WHERE uid = $1",
        [PQ_USER_ASSIGN_UNIX_UID] = "UPDATE users SET unix_uid = $2 WHERE id = $1 AND unix_uid IS NULL",
        [PQ_USER_LIST_UNIX] =
                "SELECT " PQ_USER_COLUMNS " FROM users WHERE unix_uid > $1 AND unix_name IS NOT NULL "
                "ORDER BY unix_uid LIMIT $2",
        [PQ_USER_LIST_UNIX_UNASSIGNED] =
                "SELECT id FROM users WHERE unix_name IS NOT NULL AND unix_uid IS NULL "
                "ORDER BY creation_date, id LIMIT $1",
        [PQ_UNIX_UID_MAX] = "SELECT max(uid) FROM (" UNIX_UIDS_IN_RANGE ") t",
        [PQ_UNIX_UID_NEXT_FREE] =
                "SELECT c FROM (SELECT $1::bigint AS c UNION ALL SELECT uid + 1 FROM (" UNIX_UIDS_IN_RANGE
                ") t WHERE uid < $2) cand "
                "WHERE NOT EXISTS (SELECT 1 FROM users WHERE unix_uid = c) "
                "AND NOT EXISTS (SELECT 1 FROM retired_unix_uids WHERE uid = c) ORDER BY c LIMIT 1",
        [PQ_UNIX_UID_RETIRED_LIST] = "SELECT uid FROM retired_unix_uids WHERE uid > $1 ORDER BY uid LIMIT $2",
        [PQ_UNIX_UID_RETIRE] =
                "INSERT INTO retired_unix_uids (uid) SELECT $1::bigint "
                "WHERE NOT EXISTS (SELECT 1 FROM users WHERE unix_uid = $1) ON CONFLICT DO NOTHING",
        [PQ_USER_UNIX_UID_HOLDER] = "SELECT 1 FROM users WHERE unix_uid = $1",

        [PQ_PASSWORD_GET] = "SELECT hash FROM passwords WHERE user_id = $1",
        [PQ_PASSWORD_SET] =
                "INSERT INTO passwords (user_id, hash) VALUES ($1, $2) "
                "ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash",

        [PQ_EMAIL_TOKENS_DELETE_OF_USER] = "DELETE FROM email_tokens WHERE user_id = $1 AND kind = $2",
        [PQ_EMAIL_TOKEN_INSERT] =
                "INSERT INTO email_tokens (id, user_id, kind, hash, expires) VALUES ($1, $2, $3, $4, $5)",
        /* Locked: of two takes of one token, one wins. */
        [PQ_EMAIL_TOKEN_BY_ID] = "SELECT user_id, kind, hash, expires FROM email_tokens WHERE id = $1 FOR UPDATE",
        [PQ_EMAIL_TOKEN_DELETE] = "DELETE FROM email_tokens WHERE id = $1",
        [PQ_EMAIL_TOKEN_PRUNE] = "DELETE FROM email_tokens WHERE expires <= $1",

        [PQ_APIKEY_COUNT_OF_USER] = "SELECT count(*) FROM api_keys WHERE user_id = $1",
        [PQ_APIKEY_INSERT] = "INSERT INTO api_keys (" PQ_APIKEY_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6)",
        [PQ_APIKEY_BY_HASH] = "SELECT " PQ_APIKEY_COLUMNS " FROM api_keys WHERE hash = $1",
        /* An API-key login's read: the user as USER_FIND reads it for a
         * login ($2 true, $3 now), then the key's columns. */
        [PQ_APIKEY_WITH_USER_BY_HASH] =
                "SELECT " U_COLUMNS ", " U_IDENTITIES ", NULL, "
                "(SELECT count(*) FROM sessions s WHERE s.user_id = u.id AND NOT s.revoked AND s.refresh_expires > $2), "
                "k.id, k.user_id, k.name, k.hash, k.disabled, k.creation_date "
                "FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.hash = $1",
        [PQ_APIKEY_BY_ID] = "SELECT " PQ_APIKEY_COLUMNS " FROM api_keys WHERE id = $1",
        [PQ_APIKEY_LIST_ALL] = "SELECT " PQ_APIKEY_COLUMNS " FROM api_keys ORDER BY creation_date, id",
        [PQ_APIKEY_LIST_OF_USER] =
                "SELECT " PQ_APIKEY_COLUMNS " FROM api_keys WHERE user_id = $1 ORDER BY creation_date, id",
        [PQ_APIKEY_SET_DISABLED] = "UPDATE api_keys SET disabled = $2 WHERE id = $1",
        [PQ_APIKEY_DELETE] = "DELETE FROM api_keys WHERE id = $1",
        /* A login by key holds the key row until its commit: deleting or
         * disabling the key waits, then ends the new session too. */
        [PQ_APIKEY_USABLE] = "SELECT 1 FROM api_keys WHERE id = $1 AND user_id = $2 AND NOT disabled FOR SHARE",

        /* A login in one statement: the API key it names (if any) must be
         * the user's and enabled (its row locked FOR SHARE, so that a
         * concurrent delete or disable waits and then ends this session
         * too), the user's row is updated (last_authentication_date, and a
         * lock a merge or delete waits for), and only then the session
         * goes in. No user or no key: nothing changes, no row. */
        [PQ_SESSION_INSERT] =
                "WITH k AS (SELECT 1 FROM api_keys WHERE id = $21::text AND user_id = $2 AND NOT disabled FOR SHARE), "
                "u AS (UPDATE users SET last_authentication_date = $9 WHERE id = $2 "
                "AND ($21::text IS NULL OR EXISTS (SELECT 1 FROM k)) RETURNING id) "
                "INSERT INTO sessions (" PQ_SESSION_COLUMNS ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
                "$11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21 FROM u",
        /* The same login, and the user's oldest live sessions beyond the
         * newest $22 end in the same statement (MaxPerUser: $22 is the
         * limit less one, the new session, which the statement's snapshot
         * does not see), with their events. Rows: ('i', new id) if the
         * session went in, then ('e', id) for each session it ended. Not
         * FOR UPDATE: that would lock (and log) every row the OFFSET skips;
         * the UPDATE re-checks NOT revoked against the newest row instead,
         * and the user's row, locked first, orders the user's logins. */
        [PQ_SESSION_INSERT_LIMITED] =
                "WITH k AS (SELECT 1 FROM api_keys WHERE id = $21::text AND user_id = $2 AND NOT disabled FOR SHARE), "
                "u AS (UPDATE users SET last_authentication_date = $9 WHERE id = $2 "
                "AND ($21::text IS NULL OR EXISTS (SELECT 1 FROM k)) RETURNING id), "
                "ins AS (INSERT INTO sessions (" PQ_SESSION_COLUMNS ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
                "$11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21 FROM u RETURNING id), "
                "old AS (SELECT id FROM sessions WHERE user_id = $2 AND NOT revoked AND refresh_expires > $9 "
                "AND EXISTS (SELECT 1 FROM u) ORDER BY creation_date DESC, created_usec DESC, id DESC OFFSET $22), "
                "ended AS (UPDATE sessions SET revoked = true, revoked_at = $9, revoked_reason = 'limit', open = false "
                "WHERE id IN (SELECT id FROM old) AND NOT revoked RETURNING id, access_expires, creation_date), "
                "ev AS (INSERT INTO events (time, kind, subject, data) SELECT $9, 'session.ended', id, "
                "'{\"access_expires\":' || access_expires || ',\"reason\":\"limit\"}' FROM ended "
                "ORDER BY creation_date, id) "
                "SELECT 'i', id FROM ins UNION ALL SELECT 'e', id FROM ended",
        [PQ_SESSION_BY_ID] = "SELECT " PQ_SESSION_COLUMNS " FROM sessions WHERE id = $1",
        [PQ_SESSION_BY_REFRESH_HASH] = "SELECT " PQ_SESSION_COLUMNS " FROM sessions WHERE refresh_hash = $1",
        [PQ_SESSION_WITH_USER_BY_ID] = SESSION_WITH_USER "WHERE s.id = $1",
        [PQ_SESSION_WITH_USER_BY_REFRESH_HASH] = SESSION_WITH_USER "WHERE s.refresh_hash = $1",
        [PQ_SESSION_LIVE_COUNT_OF_USER] =
                "SELECT count(*) FROM sessions WHERE user_id = $1 AND NOT revoked AND refresh_expires > $2",
        [PQ_SESSION_EXISTS] = "SELECT 1 FROM sessions WHERE id = $1",
        [PQ_SESSION_LIST_ALL] =
                "SELECT " PQ_SESSION_COLUMNS " FROM sessions "
                "WHERE $1::boolean OR (NOT revoked AND refresh_expires > $2) "
                "ORDER BY creation_date, created_usec, id",
        [PQ_SESSION_LIST_OF_USER] =
                "SELECT " PQ_SESSION_COLUMNS " FROM sessions "
                "WHERE user_id = $3 AND ($1::boolean OR (NOT revoked AND refresh_expires > $2)) "
                "ORDER BY creation_date, created_usec, id",
        [PQ_SESSION_REVOKE] =
                "WITH ended AS (UPDATE sessions SET revoked = true, revoked_at = $2, revoked_reason = $3, open = false "
                "WHERE id = $1 AND NOT revoked RETURNING id, access_expires, creation_date) " SESSION_ENDED_EVENTS,
        [PQ_SESSION_REVOKE_USER] =
                "WITH ended AS (UPDATE sessions SET revoked = true, revoked_at = $2, revoked_reason = $3 "
                "WHERE " SESSION_LIVE_OF_USER " RETURNING id, access_expires, creation_date) " SESSION_ENDED_EVENTS,
        [PQ_SESSION_REVOKE_APIKEY] =
                "WITH ended AS (UPDATE sessions SET revoked = true, revoked_at = $2, revoked_reason = $3 "
                "WHERE " SESSION_LIVE_OF_APIKEY " RETURNING id, access_expires, creation_date) " SESSION_ENDED_EVENTS,
        /* Compare-and-swap: READ COMMITTED re-checks the WHERE against the
         * newest row version, so of two rotations one wins. */
        [PQ_SESSION_REFRESHED] =
                "UPDATE sessions SET access_expires = GREATEST(access_expires, $2), last_used = $3, "
                "refresh_hash = COALESCE($4::bytea, refresh_hash) "
                "WHERE id = $1 AND NOT revoked AND ($5::bytea IS NULL OR refresh_hash = $5::bytea)",
        [PQ_SESSION_RETIRE_REFRESH] =
                "INSERT INTO retired_refresh_tokens (hash, session_id) VALUES ($2, $1) ON CONFLICT DO NOTHING",
        [PQ_SESSION_BY_RETIRED_REFRESH] =
                "SELECT " PQ_SESSION_COLUMNS " FROM sessions WHERE id = "
                "(SELECT session_id FROM retired_refresh_tokens WHERE hash = $1)",
        [PQ_SESSION_SET_OPEN] = "UPDATE sessions SET open = $2, leader_pid = $3, uid = $4 WHERE id = $1",
        [PQ_SESSION_REVOKED_LIVE] =
                "SELECT id, GREATEST(access_expires, revoked_at + $2) FROM sessions "
                "WHERE revoked AND (access_expires > $1 OR revoked_at + $2 > $1)",
        [PQ_SESSION_OPEN_LIVE] =
                "SELECT " PQ_SESSION_COLUMNS " FROM sessions "
                "WHERE open AND NOT revoked AND refresh_expires > $1 ORDER BY creation_date, id",
        [PQ_SESSION_PRUNE] =
                "DELETE FROM sessions WHERE (revoked AND access_expires < $1 AND revoked_at < $1) "
                "OR (refresh_expires < $1 AND access_expires < $1)",
        [PQ_SESSION_COUNT] = "SELECT count(*) FROM sessions",

        [PQ_EVENT_INSERT] = "INSERT INTO events (time, kind, subject, data) VALUES ($1, $2, $3, $4)",
        [PQ_EVENTS_SINCE] = "SELECT id, time, kind, subject, data FROM events WHERE id > $1 ORDER BY id LIMIT $2",
        /* The highest id the sequence gave, kept across prunes. */
        [PQ_EVENTS_LAST_ID] = "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_id_seq",
        [PQ_EVENTS_PRUNE] = "DELETE FROM events WHERE time < $1",

        [PQ_KEY_LIST] = "SELECT " PQ_KEY_COLUMNS " FROM signing_keys ORDER BY created DESC, kid DESC",
        [PQ_KEY_RETIRE_ACTIVE] = "UPDATE signing_keys SET retired = $1 WHERE retired = 0",
        [PQ_KEY_INSERT] = "INSERT INTO signing_keys (" PQ_KEY_COLUMNS ") VALUES ($1, $2, $3, $4, 0)",
        [PQ_KEY_PRUNE] = "DELETE FROM signing_keys WHERE retired <> 0 AND retired < $1",
};
