/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The PostgreSQL store's statements (postgresql-statements.c): constant SQL
 * text, every value bound as $1, $2, ...; each is prepared once per
 * connection, by name, the first time it runs there. */

/* Column lists the row readers go by (postgresql-sql.c). */
#define PQ_USER_COLUMNS                                                                                       \
        "id, type, email, name, unix_name, data, disabled, creation_date, last_authentication_date, pending, " \
        "self_registered, unix_uid"
#define PQ_USER_N_COLUMNS 12
/* A user read in one statement (one snapshot, one round trip): USER_COLUMNS,
 * then its identities as a JSON array of [id, provider_type, provider_id,
 * data] in insertion order, then, when $2 is true (a login), its password
 * hash and its count of sessions live at $3. */
#define PQ_USER_FIND_IDENTITIES_COLUMN PQ_USER_N_COLUMNS
#define PQ_USER_FIND_PASSWORD_COLUMN (PQ_USER_N_COLUMNS + 1)
#define PQ_USER_FIND_LIVE_COLUMN (PQ_USER_N_COLUMNS + 2)
#define PQ_SESSION_COLUMNS                                                                    \
        "id, user_id, device_id, provider_type, service, rhost, tty, refresh_hash, "          \
        "creation_date, refresh_expires, access_expires, last_used, revoked, revoked_at, "    \
        "revoked_reason, open, leader_pid, uid, binding_hash, created_usec, apikey_id"
#define PQ_SESSION_N_COLUMNS 21
#define PQ_APIKEY_COLUMNS "id, user_id, name, hash, disabled, creation_date"
#define PQ_KEY_COLUMNS "kid, alg, secret, created, retired"

enum pq_id {
        PQ_SCHEMA_VERSION,

        PQ_USER_INSERT,
        PQ_IDENTITY_INSERT,
        PQ_USER_BY_ID,
        PQ_USER_BY_EMAIL,
        PQ_USER_BY_UNIX_NAME,
        PQ_USER_BY_UNIX_UID,
        PQ_USER_BY_IDENTITY,
        PQ_USER_LOCK,
        PQ_USER_LOCK_TWO,
        PQ_USER_MERGEABLE,
        PQ_USER_LIST,
        PQ_USER_COUNT,
        PQ_USER_SET_DISABLED,
        PQ_USER_UPDATE,
        PQ_USER_DELETE,
        PQ_USER_MERGE_FLAGS,
        PQ_USER_TOUCH,
        PQ_USER_IDLE_OF_PROVIDER,
        PQ_IDENTITIES_MOVE,
        PQ_PASSWORD_MOVE,
        PQ_APIKEYS_MOVE,
        PQ_APIKEYS_MERGED_COUNT,
        PQ_APIKEYS_NAME_CLASH,
        PQ_IDENTITY_DELETE,
        PQ_IDENTITY_SET_DATA,
        PQ_IDENTITY_COUNT_OF_USER,
        PQ_PASSWORD_DELETE,
        PQ_USER_SET_PENDING,

        PQ_UNIX_UID_TAKEN,
        PQ_USER_ASSIGN_UNIX_UID,
        PQ_USER_LIST_UNIX,
        PQ_USER_LIST_UNIX_UNASSIGNED,
        PQ_UNIX_UID_MAX,
        PQ_UNIX_UID_NEXT_FREE,
        PQ_UNIX_UID_RETIRED_LIST,
        PQ_UNIX_UID_RETIRE,
        PQ_USER_UNIX_UID_HOLDER,

        PQ_PASSWORD_GET,
        PQ_PASSWORD_SET,

        PQ_EMAIL_TOKENS_DELETE_OF_USER,
        PQ_EMAIL_TOKEN_INSERT,
        PQ_EMAIL_TOKEN_BY_ID,
        PQ_EMAIL_TOKEN_DELETE,
        PQ_EMAIL_TOKEN_PRUNE,

        PQ_APIKEY_COUNT_OF_USER,
        PQ_APIKEY_INSERT,
        PQ_APIKEY_BY_HASH,
        PQ_APIKEY_WITH_USER_BY_HASH,
        PQ_APIKEY_BY_ID,
        PQ_APIKEY_LIST_ALL,
        PQ_APIKEY_LIST_OF_USER,
        PQ_APIKEY_SET_DISABLED,
        PQ_APIKEY_DELETE,
        PQ_APIKEY_USABLE,

        PQ_SESSION_INSERT,
        PQ_SESSION_INSERT_LIMITED,
        PQ_SESSION_BY_ID,
        PQ_SESSION_BY_REFRESH_HASH,
        PQ_SESSION_WITH_USER_BY_ID,
        PQ_SESSION_WITH_USER_BY_REFRESH_HASH,
        PQ_SESSION_LIVE_COUNT_OF_USER,
        PQ_SESSION_EXISTS,
        PQ_SESSION_LIST_ALL,
        PQ_SESSION_LIST_OF_USER,
        PQ_SESSION_REVOKE,
        PQ_SESSION_REVOKE_USER,
        PQ_SESSION_REVOKE_APIKEY,
        PQ_SESSION_REFRESHED,
        PQ_SESSION_RETIRE_REFRESH,
        PQ_SESSION_BY_RETIRED_REFRESH,
        PQ_SESSION_SET_OPEN,
        PQ_SESSION_REVOKED_LIVE,
        PQ_SESSION_OPEN_LIVE,
        PQ_SESSION_PRUNE,
        PQ_SESSION_COUNT,

        PQ_EVENT_INSERT,
        PQ_EVENTS_SINCE,
        PQ_EVENTS_LAST_ID,
        PQ_EVENTS_PRUNE,

        PQ_KEY_LIST,
        PQ_KEY_RETIRE_ACTIVE,
        PQ_KEY_INSERT,
        PQ_KEY_PRUNE,

        _PQ_MAX,
};

extern const char *const pq_sql[_PQ_MAX];
