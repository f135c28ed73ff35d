/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PostgreSQL store: sessions (store.h "sessions"). A login locks its
 * user's row (it writes last_authentication_date in the same statement)
 * and, for an API key, the key's row, so that a merge, a deletion or a
 * key's end on another host either waits for it or makes it fail. Revoking is one statement
 * that ends the sessions and writes their events from its RETURNING. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "store/postgresql.h"

struct create_args {
        const struct stitch_session *se;
        unsigned max_live;
        struct stitch_strv_builder ended;
};

/* One statement (PQ_SESSION_INSERT, or _LIMITED which also ends the
 * oldest sessions past max_live): no row inserted, no user (or key). */
static int session_create_tx(struct pg_conn *c, void *userdata) {
        struct create_args *a = userdata;
        const struct stitch_session *se = a->se;
        const struct pg_arg args[] = {
                PG_ARG_TEXT(se->id), PG_ARG_TEXT(se->user_id), PG_ARG_TEXT(se->device_id),
                PG_ARG_TEXT(se->provider_type), PG_ARG_TEXT(se->service), PG_ARG_TEXT(se->rhost),
                PG_ARG_TEXT(se->tty), PG_ARG_HASH(se->refresh_hash), PG_ARG_INT(se->creation_date),
                PG_ARG_INT(se->refresh_expires), PG_ARG_INT(se->access_expires), PG_ARG_INT(se->last_used),
                PG_ARG_BOOL(se->revoked), PG_ARG_INT(se->revoked_at), PG_ARG_TEXT(se->revoked_reason),
                PG_ARG_BOOL(se->open), PG_ARG_INT(se->leader_pid), PG_ARG_INT(se->uid),
                PG_ARG_HASH(se->has_binding ? se->binding_hash : NULL), PG_ARG_INT(se->created_usec),
                PG_ARG_TEXT(isempty(se->apikey_id) ? NULL : se->apikey_id), PG_ARG_INT((int64_t) a->max_live - 1),
        };
        if (a->max_live == 0)
                return pg_run_one(c, PQ_SESSION_INSERT, args, ELEMENTSOF(args) - 1);

        _cleanup_pgresult_ PGresult *res = NULL;
        stitch_strv_builder_done(&a->ended);
        int r = pg_exec(c, PQ_SESSION_INSERT_LIMITED, args, ELEMENTSOF(args), &res);
        if (r < 0)
                return r;
        bool inserted = false;
        for (int i = 0; i < sym_PQntuples(res); i++) {
                char id[STITCH_ID_LEN + 1];
                r = pg_col_id(res, i, 1, id);
                if (r < 0)
                        return r;
                if (streq(sym_PQgetvalue(res, i, 0), "i"))
                        inserted = true;
                else if ((r = stitch_strv_builder_add(&a->ended, id)) < 0)
                        return r;
        }
        return inserted ? 0 : -ENOENT;
}

int pg_session_create(struct stitch_store *s, const struct stitch_session *se, unsigned max_live,
                      char ***ret_ended) {
        if (ret_ended)
                *ret_ended = NULL;
        if (!se || isempty(se->id) || isempty(se->user_id) || !se->provider_type || (max_live > 0 && !ret_ended))
                return -EINVAL;
        struct create_args a = {.se = se, .max_live = max_live};
        int r = pg_tx(s, PG_ONE_WRITE, session_create_tx, &a);
        if (r < 0 || !ret_ended) {
                stitch_strv_builder_done(&a.ended);
                return r;
        }
        *ret_ended = stitch_strv_builder_finish(&a.ended);
        return *ret_ended ? r : -ENOMEM;
}

/* ---------------------------------------------------------------------------
 * Look-ups */

struct find_args {
        enum pq_id id;
        struct pg_arg key;
        bool with_user;
        struct stitch_session *se;
        struct stitch_user *u;
};

static int find_tx(struct pg_conn *c, void *userdata) {
        struct find_args *a = userdata;
        _cleanup_pgresult_ PGresult *res = NULL;
        int r = pg_exec(c, a->id, &a->key, 1, &res);
        if (r < 0)
                return r;
        if (sym_PQntuples(res) == 0)
                return -ENOENT;
        a->se = stitch_session_free(a->se);
        a->u = stitch_user_free(a->u);
        r = pg_read_session(res, 0, &a->se);
        if (r < 0)
                return r;
        /* LEFT JOIN: no user row, NULL columns. */
        if (a->with_user && !pg_col_null(res, 0, PQ_SESSION_N_COLUMNS))
                r = pg_read_user(res, 0, PQ_SESSION_N_COLUMNS, &a->u);
        return r;
}

static int find(struct stitch_store *s, struct find_args *a) {
        int r = pg_tx(s, PG_READ, find_tx, a);
        if (r < 0) {
                a->se = stitch_session_free(a->se);
                a->u = stitch_user_free(a->u);
        }
        return r;
}

static int find_session(struct stitch_store *s, enum pq_id id, struct pg_arg key, struct stitch_session **ret) {
        struct find_args a = {.id = id, .key = key};
        int r = find(s, &a);
        if (r >= 0)
                *ret = a.se;
        return r;
}

int pg_session_get(struct stitch_store *s, const char *id, struct stitch_session **ret) {
        if (!id || !ret)
                return -EINVAL;
        return find_session(s, PQ_SESSION_BY_ID, PG_ARG_TEXT(id), ret);
}

int pg_session_find_by_refresh_hash(struct stitch_store *s, const uint8_t hash[STITCH_HASH_LEN],
                                    struct stitch_session **ret) {
        if (!hash || !ret)
                return -EINVAL;
        return find_session(s, PQ_SESSION_BY_REFRESH_HASH, PG_ARG_HASH(hash), ret);
}

int pg_session_find_by_retired_refresh_hash(struct stitch_store *s, const uint8_t hash[STITCH_HASH_LEN],
                                            struct stitch_session **ret) {
        if (!hash || !ret)
                return -EINVAL;
        return find_session(s, PQ_SESSION_BY_RETIRED_REFRESH, PG_ARG_HASH(hash), ret);
}

int pg_session_find_with_user(struct stitch_store *s, const char *id, const uint8_t *refresh_hash,
                              struct stitch_session **ret_session, struct stitch_user **ret_user) {
        if ((!id == !refresh_hash) || !ret_session || !ret_user)
                return -EINVAL;
        /* One statement: one snapshot. */
        struct find_args a = {
                .id = id ? PQ_SESSION_WITH_USER_BY_ID : PQ_SESSION_WITH_USER_BY_REFRESH_HASH,
                .key = id ? PG_ARG_TEXT(id) : PG_ARG_HASH(refresh_hash),
                .with_user = true,
        };
        int r = find(s, &a);
        if (r < 0)
                return r;
        *ret_session = a.se;
        *ret_user = a.u;
        return 0;
}

static int read_session_row(const PGresult *res, int row, void *ret) {
        return pg_read_session(res, row, ret);
}

struct list_args {
        enum pq_id id;
        const struct pg_arg *args;
        size_t n_args;
        struct stitch_session **a;
        size_t n;
};

static int list_tx(struct pg_conn *c, void *userdata) {
        struct list_args *a = userdata;
        stitch_session_array_free(a->a, a->n);
        a->a = NULL;
        a->n = 0;
        return pg_read_list(c, a->id, a->args, a->n_args, read_session_row, (void ***) &a->a, &a->n);
}

static int list(struct stitch_store *s, struct list_args *a) {
        int r = pg_tx(s, PG_READ, list_tx, a);
        if (r < 0) {
                stitch_session_array_free(a->a, a->n);
                a->a = NULL;
                a->n = 0;
        }
        return r;
}

int pg_session_list(struct stitch_store *s, const char *user_id, bool include_revoked, int64_t now,
                    struct stitch_session ***ret, size_t *ret_n) {
        const struct pg_arg args[] = {PG_ARG_BOOL(include_revoked), PG_ARG_INT(now), PG_ARG_TEXT(user_id)};
        struct list_args a = {user_id ? PQ_SESSION_LIST_OF_USER : PQ_SESSION_LIST_ALL, args, user_id ? 3 : 2};

        if (!ret || !ret_n)
                return -EINVAL;
        int r = list(s, &a);
        if (r < 0)
                return r;
        *ret = a.a;
        *ret_n = a.n;
        return 0;
}

/* ---------------------------------------------------------------------------
 * Ending */

struct revoke_args {
        enum pq_id id;
        const struct pg_arg *args;
        size_t n_args;
        uint64_t n;
        struct stitch_strv_builder ids;
};

static int revoke_tx(struct pg_conn *c, void *userdata) {
        struct revoke_args *a = userdata;
        _cleanup_pgresult_ PGresult *res = NULL;
        int r;

        stitch_strv_builder_done(&a->ids);
        r = pg_exec(c, a->id, a->args, a->n_args, &res);
        if (r < 0)
                return r;
        a->n = (uint64_t) sym_PQntuples(res);
        for (int i = 0; i < sym_PQntuples(res); i++) {
                char id[STITCH_ID_LEN + 1];
                r = pg_col_id(res, i, 0, id);
                if (r < 0)
                        return r;
                r = stitch_strv_builder_add(&a->ids, id);
                if (r < 0)
                        return r;
        }
        if (a->id != PQ_SESSION_REVOKE || a->n > 0)
                return 0;
        /* Not revoked now: already revoked, or unknown? */
        r = pg_query(c, PQ_SESSION_EXISTS, a->args, 1, NULL);
        return r < 0 ? r : r > 0 ? 0 : -ENOENT;
}

int pg_session_revoke(struct stitch_store *s, const char *id, int64_t now, const char *reason) {
        if (!id)
                return -EINVAL;
        struct revoke_args a = {
                .id = PQ_SESSION_REVOKE,
                .args = (const struct pg_arg[]) {PG_ARG_TEXT(id), PG_ARG_INT(now), PG_ARG_TEXT(reason)},
                .n_args = 3,
        };
        int r = pg_tx(s, PG_WRITE, revoke_tx, &a);
        stitch_strv_builder_done(&a.ids);
        return r < 0 ? r : a.n > 0 ? 1 : 0;
}

static int revoke_many(struct stitch_store *s, struct revoke_args *a, char ***ret_revoked) {
        int r = pg_tx(s, PG_WRITE, revoke_tx, a); /* one statement, but its result must not be lost */
        if (r < 0 || !ret_revoked) {
                stitch_strv_builder_done(&a->ids);
                return r;
        }
        *ret_revoked = stitch_strv_builder_finish(&a->ids);
        return *ret_revoked ? 0 : -ENOMEM;
}

int pg_session_revoke_user(struct stitch_store *s, const char *user_id, int64_t now, const char *reason,
                           char ***ret_revoked) {
        if (!user_id)
                return -EINVAL;
        struct revoke_args a = {
                .id = PQ_SESSION_REVOKE_USER,
                .args = (const struct pg_arg[]) {PG_ARG_TEXT(user_id), PG_ARG_INT(now), PG_ARG_TEXT(reason)},
                .n_args = 3,
        };
        return revoke_many(s, &a, ret_revoked);
}

int pg_session_revoke_apikey(struct stitch_store *s, const char *key_id, const char *provider_type, int64_t now,
                             const char *reason, char ***ret_revoked) {
        if (!key_id || !provider_type)
                return -EINVAL;
        struct revoke_args a = {
                .id = PQ_SESSION_REVOKE_APIKEY,
                .args = (const struct pg_arg[]) {PG_ARG_TEXT(key_id), PG_ARG_INT(now), PG_ARG_TEXT(reason),
                                                 PG_ARG_TEXT(provider_type)},
                .n_args = 4,
        };
        return revoke_many(s, &a, ret_revoked);
}

/* ---------------------------------------------------------------------------
 * Refreshing and bookkeeping */

struct refreshed_args {
        const char *id;
        int64_t access_expires, now;
        const uint8_t *expected, *new;
};

/* Rotation is a compare-and-swap on the refresh hash (PQ_SESSION_REFRESHED). */
static int refreshed_tx(struct pg_conn *c, void *userdata) {
        const struct refreshed_args *a = userdata;
        uint64_t changes = 0;
        int r;

        r = pg_run(c, PQ_SESSION_REFRESHED,
                   PG_ARGS(PG_ARG_TEXT(a->id), PG_ARG_INT(a->access_expires), PG_ARG_INT(a->now), PG_ARG_HASH(a->new),
                           PG_ARG_HASH(a->expected)),
                   &changes);
        if (r < 0)
                return r;
        if (changes > 0) {
                if (!a->new)
                        return 0;
                /* Remember the token just replaced (same transaction). */
                return pg_run(c, PQ_SESSION_RETIRE_REFRESH, PG_ARGS(PG_ARG_TEXT(a->id), PG_ARG_HASH(a->expected)),
                              NULL);
        }
        if (!a->expected)
                return -ENOENT;

        /* Nothing changed: gone or revoked, or the swap was lost? */
        _cleanup_pgresult_ PGresult *res = NULL;
        r = pg_exec(c, PQ_SESSION_BY_ID, PG_ARGS(PG_ARG_TEXT(a->id)), &res);
        if (r < 0)
                return r;
        if (sym_PQntuples(res) == 0 || pg_col_bool(res, 0, 12 /* revoked */))
                return -ENOENT;
        return -ESTALE;
}

int pg_session_refreshed(struct stitch_store *s, const char *id, int64_t access_expires, int64_t now,
                         const uint8_t *expected_refresh_hash, const uint8_t *new_refresh_hash) {
        if (!id || (new_refresh_hash && !expected_refresh_hash))
                return -EINVAL;
        return pg_tx(s, PG_WRITE, refreshed_tx,
                     &(struct refreshed_args) {id, access_expires, now, expected_refresh_hash, new_refresh_hash});
}

struct set_open_args {
        const char *id;
        bool open;
        int64_t leader_pid, uid;
};

static int set_open_tx(struct pg_conn *c, void *userdata) {
        const struct set_open_args *a = userdata;
        return pg_run_one(c, PQ_SESSION_SET_OPEN,
                          PG_ARGS(PG_ARG_TEXT(a->id), PG_ARG_BOOL(a->open), PG_ARG_INT(a->leader_pid),
                                  PG_ARG_INT(a->uid)));
}

int pg_session_set_open(struct stitch_store *s, const char *id, bool open, int64_t leader_pid, int64_t uid) {
        if (!id)
                return -EINVAL;
        return pg_tx(s, PG_READ, set_open_tx, &(struct set_open_args) {id, open, leader_pid, uid}); /* one statement */
}

/* A revoked session whose tokens may still be live (PQ_SESSION_REVOKED_LIVE). */
struct revoked_entry {
        char id[STITCH_ID_LEN + 1];
        int64_t access_expires;
};

struct revoked_args {
        int64_t now, lifetime;
        struct revoked_entry *a;
        size_t n;
};

static int revoked_tx(struct pg_conn *c, void *userdata) {
        struct revoked_args *a = userdata;
        _cleanup_pgresult_ PGresult *res = NULL;
        int r = pg_exec(c, PQ_SESSION_REVOKED_LIVE, PG_ARGS(PG_ARG_INT(a->now), PG_ARG_INT(a->lifetime)), &res);
        if (r < 0)
                return r;
        free(a->a);
        a->n = 0;
        a->a = calloc((size_t) sym_PQntuples(res) + 1, sizeof(*a->a));
        if (!a->a)
                return -ENOMEM;
        for (int i = 0; i < sym_PQntuples(res); i++) {
                r = pg_col_id(res, i, 0, a->a[i].id);
                if (r < 0)
                        return r;
                a->a[i].access_expires = pg_col_int(res, i, 1);
                a->n++;
        }
        return 0;
}

/* Callbacks run after the connection went back: they may call the store. */
int pg_session_foreach_revoked(struct stitch_store *s, int64_t now, int64_t lifetime, stitch_store_revocation_cb cb,
                               void *userdata) {
        struct revoked_args a = {.now = now, .lifetime = lifetime};

        if (!cb)
                return -EINVAL;
        int r = pg_tx(s, PG_READ, revoked_tx, &a);
        for (size_t i = 0; r >= 0 && i < a.n; i++)
                r = cb(a.a[i].id, a.a[i].access_expires, userdata);
        free(a.a);
        return r < 0 ? r : 0;
}

int pg_session_foreach_open(struct stitch_store *s, int64_t now, stitch_store_session_cb cb, void *userdata) {
        struct list_args a = {PQ_SESSION_OPEN_LIVE, (const struct pg_arg[]) {PG_ARG_INT(now)}, 1};

        if (!cb)
                return -EINVAL;
        int r = list(s, &a);
        for (size_t i = 0; r >= 0 && i < a.n; i++)
                r = cb(a.a[i], userdata);
        stitch_session_array_free(a.a, a.n);
        return r < 0 ? r : 0;
}

int pg_session_prune(struct stitch_store *s, int64_t now, size_t *ret_n) {
        return pg_prune(s, PQ_SESSION_PRUNE, now, ret_n);
}

int pg_session_count(struct stitch_store *s, uint64_t *ret) {
        return pg_count_rows(s, PQ_SESSION_COUNT, ret);
}
