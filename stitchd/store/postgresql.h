/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The PostgreSQL store's insides, shared by its files (postgresql*.c): the
 * pool and transactions (postgresql.c), statements and rows
 * (postgresql-sql.c), the schema (postgresql-schema.c), one file per object
 * family for the ops. Nothing outside store/postgresql*.c includes this. */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/postgresql-library.h"
#include "store/postgresql-statements.h"
#include "store/store.h"

#define PG_POOL_MAX 8

struct pg_conn {
        PGconn *pg;
        bool prepared[_PQ_MAX]; /* which statements this session has prepared */
        unsigned depth;         /* 0 idle, 1 in a transaction, each one more a savepoint in it */
        bool broken;            /* an op found the connection lost: closed when given back */
};

struct stitch_store {
        /* A caller transaction's handle (begin()): the store it belongs to
         * and its pinned connection. NULL in the store itself. */
        struct stitch_store *tx_of;
        struct pg_conn *tx_conn;
        pthread_t tx_thread; /* which began it (begin()'s -EBUSY rule) */
        bool tx_open;
        struct stitch_store *tx_next; /* in the store's list of open handles */

        /* The store: the libpq parameters (the URI and our defaults) and
         * the spec as logs may show it. */
        const char **keywords;
        const char **values;
        char *described;

        pthread_mutex_t lock;
        pthread_cond_t changed;
        struct pg_conn *idle[PG_POOL_MAX];
        unsigned n_idle, n_open;
        struct stitch_store *tx_handles;
        uint64_t retry_after_usec; /* no connect attempt before (backoff after a failure) */
        unsigned failures;

        /* The change feed's own connection (feed_open). */
        PGconn *feed;
        int feed_pending; /* notifications feed_check() read, for the next feed_drain() */
};

/* A value for $1, $2, ... */
struct pg_arg {
        enum { PG_NULL, PG_TEXT, PG_INT, PG_BOOL, PG_BYTES } kind;
        int64_t i;
        const void *p; /* text or bytes; NULL sends NULL */
        int len;       /* of bytes */
};
#define PG_ARG_NULL ((struct pg_arg) {.kind = PG_NULL})
#define PG_ARG_TEXT(v) ((struct pg_arg) {.kind = PG_TEXT, .p = (v)})
#define PG_ARG_INT(v) ((struct pg_arg) {.kind = PG_INT, .i = (v)})
#define PG_ARG_BOOL(v) ((struct pg_arg) {.kind = PG_BOOL, .i = (v)})
#define PG_ARG_BYTES(v, n) ((struct pg_arg) {.kind = PG_BYTES, .p = (v), .len = (n)})
#define PG_ARG_HASH(v) PG_ARG_BYTES(v, STITCH_HASH_LEN)
#define PG_ARGS(...) (const struct pg_arg[]) {__VA_ARGS__}, ELEMENTSOF(((const struct pg_arg[]) {__VA_ARGS__}))
#define PG_NO_ARGS NULL, 0

/* postgresql.c: connections and transactions ---------------------------- */

/* How an op's own transaction runs (inside a caller's: a savepoint). */
enum pg_mode {
        PG_READ,     /* one statement: no BEGIN, it is a transaction by itself */
        PG_ONE_WRITE, /* one statement that writes, not to be run twice: PG_READ without the retry below */
        PG_SNAPSHOT, /* several reads that must agree: REPEATABLE READ READ ONLY */
        PG_WRITE,    /* READ COMMITTED; checked rows are locked FOR UPDATE */
};

/* Runs fn(c, userdata) as one transaction on a pooled connection (or as a
 * savepoint of the caller's transaction when s is a handle), committing
 * when it returns >= 0; retries a serialization failure or deadlock a few
 * times, and once on a new connection when a pooled one turns out dead
 * before anything was committed (PG_READ statements are idempotent, so a
 * lost reply is safe to repeat; a PG_ONE_WRITE one is not). Returns fn's
 * result or the failure. */
typedef int (*pg_tx_fn)(struct pg_conn *c, void *userdata);
int pg_tx(struct stitch_store *s, enum pg_mode mode, pg_tx_fn fn, void *userdata);
/* A new connection outside the pool (the feed's); NULL, logged, if none. */
PGconn *pg_connect(struct stitch_store *s);
/* One write keyed by $1 = key (and $2 = arg unless PG_NULL with !with_arg),
 * with the event kind about key if kind >= 0; if must_match, -ENOENT when
 * no row matched. */
int pg_write_one(struct stitch_store *s, enum pq_id id, const char *key, struct pg_arg arg, bool with_arg,
                 bool must_match, enum stitch_store_event_kind kind);

/* postgresql-sql.c: statements and rows ------------------------------------ */

/* Runs statement id with args; *ret (optional) gets the result, to PQclear.
 * 0, or -errno: -EEXIST unique violation, -ENOENT foreign key violation,
 * -EAGAIN serialization failure or deadlock, -ENOTCONN connection lost,
 * -ENOSPC, -ENOMEM, -EIO. */
int pg_exec(struct pg_conn *c, enum pq_id id, const struct pg_arg *args, size_t n_args, PGresult **ret);
/* pg_exec() of plain SQL text with no parameters (BEGIN, SAVEPOINT, migrations). */
int pg_exec_sql(struct pg_conn *c, const char *sql, const char *what);
/* pg_exec(), discarding rows; *ret_changes (optional): rows affected. */
int pg_run(struct pg_conn *c, enum pq_id id, const struct pg_arg *args, size_t n_args, uint64_t *ret_changes);
/* pg_run() that must affect a row: -ENOENT if none. */
int pg_run_one(struct pg_conn *c, enum pq_id id, const struct pg_arg *args, size_t n_args);
/* 1 if the statement returns a row, 0 if not; *ret_value (optional): its first column, 0 if NULL. */
int pg_query(struct pg_conn *c, enum pq_id id, const struct pg_arg *args, size_t n_args, int64_t *ret_value);
void pg_result_clearp(PGresult **r);
#define _cleanup_pgresult_ _cleanup_(pg_result_clearp)

/* Columns of row 'row' of a text-format result. */
bool pg_col_null(const PGresult *res, int row, int col);
int64_t pg_col_int(const PGresult *res, int row, int col);
bool pg_col_bool(const PGresult *res, int row, int col);
int pg_col_strdup(const PGresult *res, int row, int col, char **ret);
int pg_col_id(const PGresult *res, int row, int col, char dst[static STITCH_ID_LEN + 1]);
int pg_col_hash(const PGresult *res, int row, int col, uint8_t dst[static STITCH_HASH_LEN]);
/* A bytea column, decoded; *ret is malloc'd with one spare NUL. */
int pg_col_bytes(const PGresult *res, int row, int col, uint8_t **ret, size_t *ret_len);

/* Row readers (the column lists in postgresql-statements.h). */
int pg_read_user(const PGresult *res, int row, int col, struct stitch_user **ret);
/* The identities of u from a JSON column (PQ_USER_FIND_IDENTITIES_COLUMN). */
int pg_read_identities_json(const PGresult *res, int row, int col, struct stitch_user *u);
int pg_read_session(const PGresult *res, int row, struct stitch_session **ret);
int pg_read_apikey(const PGresult *res, int row, struct stitch_apikey **ret);
/* A row of a USER_FIND statement (postgresql-statements.c): the user and
 * its identities, and with login its password and live-session count
 * (the login_* fields). */
int pg_read_found_user(const PGresult *res, int row, bool login, struct stitch_user **ret);
/* pg_read_apikey(), its columns from 'col' on. */
int pg_read_apikey_at(const PGresult *res, int row, int col, struct stitch_apikey **ret);

/* Every row of statement id read by read_row into a new array of pointers. */
typedef int (*pg_read_row_fn)(const PGresult *res, int row, void *ret);
int pg_read_list(struct pg_conn *c, enum pq_id id, const struct pg_arg *args, size_t n_args,
                 pg_read_row_fn read_row, void ***ret, size_t *ret_n);
/* The first column of every row (ids) into a strv builder. */
int pg_read_ids(struct pg_conn *c, enum pq_id id, const struct pg_arg *args, size_t n_args,
                struct stitch_strv_builder *ids);

/* An event in the caller's transaction (store.h, the change feed). */
int pg_event(struct pg_conn *c, enum stitch_store_event_kind kind, const char *subject, const char *data_json);

/* postgresql-schema.c ------------------------------------------------------- */

int pg_migrate(struct pg_conn *c, const char *described);
int pg_schema_version_of(struct pg_conn *c, int *ret_version);
int pg_integrity_check(struct pg_conn *c, struct stitch_strv_builder *problems);
extern const int pg_schema_latest;

/* The ops (postgresql-ops.c puts them in the table) ----------------------- */

int pg_validate_location(const char *location, const char **ret_error);
int pg_open(const char *location, struct stitch_store **ret);
void pg_close(struct stitch_store *s);
int pg_store_integrity_check(struct stitch_store *s, char ***ret_problems);
int pg_schema_version(struct stitch_store *s, int *ret_version);
int pg_begin(struct stitch_store *s, struct stitch_store **ret_tx);
int pg_commit(struct stitch_store *tx);
void pg_rollback(struct stitch_store *tx);

/* postgresql-users.c */
int pg_user_create(struct stitch_store *s, const struct stitch_user *u, const char *password_hash);
int pg_user_find(struct stitch_store *s, enum stitch_user_key by, const char *value, struct stitch_user **ret);
int pg_user_find_for_login(struct stitch_store *s, enum stitch_user_key by, const char *value, int64_t now,
                           struct stitch_user **ret);
int pg_user_list(struct stitch_store *s, const char *after_id, size_t limit, struct stitch_user ***ret, size_t *ret_n);
int pg_user_count(struct stitch_store *s, uint64_t *ret);
int pg_user_set_disabled(struct stitch_store *s, const char *id, bool disabled);
int pg_user_update(struct stitch_store *s, const struct stitch_user *u);
int pg_user_merge(struct stitch_store *s, const char *from_id, const struct stitch_user *into);
int pg_identity_remove(struct stitch_store *s, const struct stitch_user *updated, const char *identity_id,
                       bool drop_password, size_t expected_identities);
int pg_user_delete(struct stitch_store *s, const char *id);
int pg_user_touch(struct stitch_store *s, const char *id, int64_t now);
int pg_user_set_pending(struct stitch_store *s, const char *id, bool pending);
int pg_user_list_idle(struct stitch_store *s, const char *provider_type, int64_t cutoff, size_t limit,
                      char ***ret_ids);

/* Shared shapes of reads (postgresql-users.c): users of statement id (with
 * their identities if asked), the count statement id gives, the ids
 * (first column) of statement id. */
int pg_user_list_of(struct stitch_store *s, enum pq_id id, const struct pg_arg *args, size_t n_args, bool identities,
                    struct stitch_user ***ret, size_t *ret_n);
int pg_count_rows(struct stitch_store *s, enum pq_id id, uint64_t *ret);
int pg_ids_of(struct stitch_store *s, enum pq_id id, const struct pg_arg *args, size_t n_args, char ***ret_ids);
/* A DELETE of statement id with $1 = before, in a transaction of its own
 * (postgresql-credentials.c); *ret_n (optional): rows deleted. */
int pg_prune(struct stitch_store *s, enum pq_id id, int64_t before, size_t *ret_n);

/* postgresql-unix.c */
int pg_user_assign_unix_uid(struct stitch_store *s, const char *user_id, int64_t uid);
int pg_user_list_unix(struct stitch_store *s, int64_t after_uid, size_t limit, struct stitch_user ***ret,
                      size_t *ret_n);
int pg_user_list_unix_unassigned(struct stitch_store *s, size_t limit, char ***ret_ids);
int pg_unix_uid_max(struct stitch_store *s, int64_t min, int64_t max, int64_t *ret_uid);
int pg_unix_uid_next_free(struct stitch_store *s, int64_t from, int64_t to, int64_t *ret_uid);
int pg_unix_uid_list_retired(struct stitch_store *s, int64_t after, size_t limit, int64_t **ret, size_t *ret_n);
int pg_unix_uid_retire(struct stitch_store *s, int64_t uid);

/* postgresql-credentials.c: passwords and email tokens */
int pg_password_get(struct stitch_store *s, const char *user_id, char **ret_hash);
int pg_password_set(struct stitch_store *s, const char *user_id, const char *hash);
int pg_email_token_put(struct stitch_store *s, const struct stitch_email_token *t);
int pg_email_token_take(struct stitch_store *s, const char *id, enum stitch_email_token_kind kind,
                        const uint8_t hash[STITCH_HASH_LEN], int64_t now, char ret_user_id[static STITCH_ID_LEN + 1]);
int pg_email_token_prune(struct stitch_store *s, int64_t now, size_t *ret_n);

/* postgresql-apikeys.c */
int pg_apikey_create(struct stitch_store *s, const struct stitch_apikey *k);
int pg_apikey_find_for_login(struct stitch_store *s, const uint8_t hash[STITCH_HASH_LEN], int64_t now,
                             struct stitch_apikey **ret_key, struct stitch_user **ret_user);
int pg_apikey_find_by_hash(struct stitch_store *s, const uint8_t hash[STITCH_HASH_LEN], struct stitch_apikey **ret);
int pg_apikey_get(struct stitch_store *s, const char *id, struct stitch_apikey **ret);
int pg_apikey_list(struct stitch_store *s, const char *user_id, struct stitch_apikey ***ret, size_t *ret_n);
int pg_apikey_set_disabled(struct stitch_store *s, const char *id, bool disabled);
int pg_apikey_delete(struct stitch_store *s, const char *id);

/* postgresql-sessions.c */
int pg_session_create(struct stitch_store *s, const struct stitch_session *se, unsigned max_live,
                      char ***ret_ended);
int pg_session_get(struct stitch_store *s, const char *id, struct stitch_session **ret);
int pg_session_find_by_refresh_hash(struct stitch_store *s, const uint8_t hash[STITCH_HASH_LEN],
                                    struct stitch_session **ret);
int pg_session_find_with_user(struct stitch_store *s, const char *id, const uint8_t *refresh_hash,
                              struct stitch_session **ret_session, struct stitch_user **ret_user);
int pg_session_list(struct stitch_store *s, const char *user_id, bool include_revoked, int64_t now,
                    struct stitch_session ***ret, size_t *ret_n);
int pg_session_revoke(struct stitch_store *s, const char *id, int64_t now, const char *reason);
int pg_session_revoke_user(struct stitch_store *s, const char *user_id, int64_t now, const char *reason,
                           char ***ret_revoked);
int pg_session_revoke_apikey(struct stitch_store *s, const char *key_id, const char *provider_type, int64_t now,
                             const char *reason, char ***ret_revoked);
int pg_session_refreshed(struct stitch_store *s, const char *id, int64_t access_expires, int64_t now,
                         const uint8_t *expected_refresh_hash, const uint8_t *new_refresh_hash);
int pg_session_find_by_retired_refresh_hash(struct stitch_store *s, const uint8_t hash[STITCH_HASH_LEN],
                                            struct stitch_session **ret);
int pg_session_set_open(struct stitch_store *s, const char *id, bool open, int64_t leader_pid, int64_t uid);
int pg_session_foreach_revoked(struct stitch_store *s, int64_t now, int64_t lifetime, stitch_store_revocation_cb cb,
                               void *userdata);
int pg_session_foreach_open(struct stitch_store *s, int64_t now, stitch_store_session_cb cb, void *userdata);
int pg_session_prune(struct stitch_store *s, int64_t now, size_t *ret_n);
int pg_session_count(struct stitch_store *s, uint64_t *ret);

/* postgresql-keys.c: signing keys */
int pg_key_list(struct stitch_store *s, struct stitch_signing_key ***ret, size_t *ret_n);
int pg_key_rotate(struct stitch_store *s, const struct stitch_signing_key *k);
int pg_key_prune(struct stitch_store *s, int64_t cutoff, size_t *ret_n);

/* postgresql-events.c: the change feed */
int pg_events_since(struct stitch_store *s, int64_t after_id, size_t limit, struct stitch_store_event ***ret,
                    size_t *ret_n);
int pg_events_last_id(struct stitch_store *s, int64_t *ret_id);
int pg_events_prune(struct stitch_store *s, int64_t before, size_t *ret_n);
int pg_feed_open(struct stitch_store *s, int *ret_fd);
int pg_feed_drain(struct stitch_store *s);
int pg_feed_check(struct stitch_store *s);
void pg_feed_close(struct stitch_store *s);
