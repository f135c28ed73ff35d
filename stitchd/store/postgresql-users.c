/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PostgreSQL store: users and their identities (store.h "users"). A
 * write that checks rows before it writes locks the user rows first
 * (PQ_USER_LOCK*), so that a concurrent write on another host waits
 * instead of slipping in between. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "store/postgresql.h"

/* ---------------------------------------------------------------------------
 * Creating */

struct create_args {
        const struct stitch_user *u;
        const char *password_hash;
};

static int user_create_tx(struct pg_conn *c, void *userdata) {
        const struct create_args *a = userdata;
        const struct stitch_user *u = a->u;
        int r;

        r = pg_run(c, PQ_USER_INSERT,
                   PG_ARGS(PG_ARG_TEXT(u->id), PG_ARG_TEXT(u->type), PG_ARG_TEXT(u->email), PG_ARG_TEXT(u->name),
                           PG_ARG_TEXT(u->unix_name), PG_ARG_TEXT(u->data_json ?: "{}"), PG_ARG_BOOL(u->disabled),
                           PG_ARG_INT(u->creation_date), PG_ARG_INT(u->last_authentication_date),
                           PG_ARG_BOOL(u->pending), PG_ARG_BOOL(u->self_registered)),
                   NULL);
        for (size_t i = 0; r >= 0 && i < u->n_identities; i++) {
                const struct stitch_identity *id = u->identities + i;
                r = pg_run(c, PQ_IDENTITY_INSERT,
                           PG_ARGS(PG_ARG_TEXT(id->id), PG_ARG_TEXT(u->id), PG_ARG_TEXT(id->provider_type),
                                   PG_ARG_TEXT(id->provider_id), PG_ARG_TEXT(id->data_json)),
                           NULL);
        }
        if (r >= 0 && a->password_hash)
                r = pg_run(c, PQ_PASSWORD_SET, PG_ARGS(PG_ARG_TEXT(u->id), PG_ARG_TEXT(a->password_hash)), NULL);
        return r;
}

int pg_user_create(struct stitch_store *s, const struct stitch_user *u, const char *password_hash) {
        if (!u || isempty(u->id) || !u->type || (u->n_identities > 0 && !u->identities))
                return -EINVAL;
        for (size_t i = 0; i < u->n_identities; i++)
                if (isempty(u->identities[i].id) || !u->identities[i].provider_type ||
                    !u->identities[i].provider_id)
                        return -EINVAL;
        return pg_tx(s, PG_WRITE, user_create_tx, &(struct create_args) {u, password_hash});
}

/* ---------------------------------------------------------------------------
 * Reading */

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

struct find_args {
        enum stitch_user_key by;
        const char *value;
        int64_t uid;
        bool login;
        int64_t now;
        struct stitch_user *u;
};

/* One statement: the user, its identities and (for a login) its password
 * and live sessions, from one snapshot in one round trip. */
static int user_find_tx(struct pg_conn *c, void *userdata) {
        struct find_args *a = userdata;
        _cleanup_pgresult_ PGresult *res = NULL;
        struct pg_arg key = a->by == STITCH_USER_BY_UNIX_UID ? PG_ARG_INT(a->uid) : PG_ARG_TEXT(a->value);
        enum pq_id id = a->by == STITCH_USER_BY_ID          ? PQ_USER_BY_ID
                        : a->by == STITCH_USER_BY_EMAIL     ? PQ_USER_BY_EMAIL
                        : a->by == STITCH_USER_BY_IDENTITY  ? PQ_USER_BY_IDENTITY
                        : a->by == STITCH_USER_BY_UNIX_UID  ? PQ_USER_BY_UNIX_UID
                                                            : PQ_USER_BY_UNIX_NAME;
        int r;

        a->u = stitch_user_free(a->u); /* a retry starts over */
        r = pg_exec(c, id, PG_ARGS(key, PG_ARG_BOOL(a->login), PG_ARG_INT(a->now)), &res);
        if (r < 0)
                return r;
        if (sym_PQntuples(res) == 0)
                return -ENOENT;
        return pg_read_found_user(res, 0, a->login, &a->u);
}

int pg_read_found_user(const PGresult *res, int row, bool login, struct stitch_user **ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        int r = pg_read_user(res, row, 0, &u);
        if (r >= 0)
                r = pg_read_identities_json(res, row, PQ_USER_FIND_IDENTITIES_COLUMN, u);
        if (r >= 0 && login)
                r = pg_col_strdup(res, row, PQ_USER_FIND_PASSWORD_COLUMN, &u->login_password_hash);
        if (r < 0)
                return r;
        if (login) {
                u->login_live_sessions = (uint64_t) MAX(pg_col_int(res, row, PQ_USER_FIND_LIVE_COLUMN), (int64_t) 0);
                u->login_read = true;
        }
        *ret = TAKE_PTR(u);
        return 0;
}

static int user_find_read(struct stitch_store *s, enum stitch_user_key by, const char *value, bool login, int64_t now,
                          struct stitch_user **ret) {
        struct find_args a = {.by = by, .value = value, .login = login, .now = now};
        int r;

        if (!value || !ret)
                return -EINVAL;
        if (by != STITCH_USER_BY_ID && by != STITCH_USER_BY_EMAIL && by != STITCH_USER_BY_UNIX_NAME &&
            by != STITCH_USER_BY_UNIX_UID && by != STITCH_USER_BY_IDENTITY)
                return -EINVAL;
        if (by == STITCH_USER_BY_UNIX_UID) {
                r = parse_uid(value, &a.uid);
                if (r < 0)
                        return r;
        }
        r = pg_tx(s, PG_READ, user_find_tx, &a);
        if (r < 0) {
                stitch_user_free(a.u);
                return r;
        }
        *ret = a.u;
        return 0;
}

int pg_user_find(struct stitch_store *s, enum stitch_user_key by, const char *value, struct stitch_user **ret) {
        return user_find_read(s, by, value, false, 0, ret);
}

int pg_user_find_for_login(struct stitch_store *s, enum stitch_user_key by, const char *value, int64_t now,
                           struct stitch_user **ret) {
        return user_find_read(s, by, value, true, now, ret);
}

static int read_user_row(const PGresult *res, int row, void *ret) {
        return pg_read_user(res, row, 0, ret);
}

/* A row of PQ_USER_LIST: the user, then its identities as JSON. */
static int read_user_row_with_identities(const PGresult *res, int row, void *ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        int r = pg_read_user(res, row, 0, &u);
        if (r >= 0)
                r = pg_read_identities_json(res, row, PQ_USER_FIND_IDENTITIES_COLUMN, u);
        if (r < 0)
                return r;
        *(struct stitch_user **) ret = TAKE_PTR(u);
        return 0;
}

struct list_args {
        enum pq_id id;
        const struct pg_arg *args;
        size_t n_args;
        bool identities;
        struct stitch_user **a;
        size_t n;
};

static int user_list_tx(struct pg_conn *c, void *userdata) {
        struct list_args *a = userdata;
        int r;

        stitch_user_array_free(a->a, a->n);
        a->a = NULL;
        a->n = 0;
        r = pg_read_list(c, a->id, a->args, a->n_args, a->identities ? read_user_row_with_identities : read_user_row,
                         (void ***) &a->a, &a->n);
        return r;
}

/* Users of statement id (USER_COLUMNS rows), with their identities if asked. */
int pg_user_list_of(struct stitch_store *s, enum pq_id id, const struct pg_arg *args, size_t n_args, bool identities,
                    struct stitch_user ***ret, size_t *ret_n) {
        struct list_args a = {id, args, n_args, identities, NULL, 0};

        if (!ret || !ret_n)
                return -EINVAL;
        int r = pg_tx(s, PG_READ, user_list_tx, &a); /* one statement */
        if (r < 0) {
                stitch_user_array_free(a.a, a.n);
                return r;
        }
        *ret = a.a;
        *ret_n = a.n;
        return 0;
}

int pg_user_list(struct stitch_store *s, const char *after_id, size_t limit, struct stitch_user ***ret, size_t *ret_n) {
        return pg_user_list_of(s, PQ_USER_LIST,
                               PG_ARGS(PG_ARG_TEXT(after_id ?: ""),
                                       PG_ARG_INT((int64_t) MIN(limit, (size_t) INT64_MAX))),
                               true, ret, ret_n);
}

struct count_args {
        enum pq_id id;
        int64_t n;
};

static int count_tx(struct pg_conn *c, void *userdata) {
        struct count_args *a = userdata;
        int r = pg_query(c, a->id, PG_NO_ARGS, &a->n);
        return r < 0 ? r : r == 0 ? -EIO : 0;
}

int pg_count_rows(struct stitch_store *s, enum pq_id id, uint64_t *ret) {
        struct count_args a = {id, 0};
        if (!ret)
                return -EINVAL;
        int r = pg_tx(s, PG_READ, count_tx, &a);
        if (r < 0)
                return r;
        *ret = (uint64_t) MAX(a.n, (int64_t) 0);
        return 0;
}

int pg_user_count(struct stitch_store *s, uint64_t *ret) {
        return pg_count_rows(s, PQ_USER_COUNT, ret);
}

struct ids_args {
        enum pq_id id;
        const struct pg_arg *args;
        size_t n_args;
        struct stitch_strv_builder ids;
};

static int ids_tx(struct pg_conn *c, void *userdata) {
        struct ids_args *a = userdata;
        stitch_strv_builder_done(&a->ids);
        return pg_read_ids(c, a->id, a->args, a->n_args, &a->ids);
}

int pg_ids_of(struct stitch_store *s, enum pq_id id, const struct pg_arg *args, size_t n_args, char ***ret_ids) {
        struct ids_args a = {.id = id, .args = args, .n_args = n_args};
        if (!ret_ids)
                return -EINVAL;
        int r = pg_tx(s, PG_READ, ids_tx, &a);
        if (r < 0) {
                stitch_strv_builder_done(&a.ids);
                return r;
        }
        *ret_ids = stitch_strv_builder_finish(&a.ids);
        return *ret_ids ? 0 : -ENOMEM;
}

int pg_user_list_idle(struct stitch_store *s, const char *provider_type, int64_t cutoff, size_t limit,
                      char ***ret_ids) {
        if (!provider_type || !ret_ids || limit == 0)
                return -EINVAL;
        return pg_ids_of(s, PQ_USER_IDLE_OF_PROVIDER,
                         PG_ARGS(PG_ARG_TEXT(provider_type), PG_ARG_INT(cutoff),
                                 PG_ARG_INT((int64_t) MIN(limit, (size_t) INT64_MAX))),
                         ret_ids);
}

/* ---------------------------------------------------------------------------
 * Changing */

int pg_user_set_disabled(struct stitch_store *s, const char *id, bool disabled) {
        return pg_write_one(s, PQ_USER_SET_DISABLED, id, PG_ARG_BOOL(disabled), true, true,
                            disabled ? STITCH_STORE_EVENT_USER_DISABLED : STITCH_STORE_EVENT_USER_ENABLED);
}

int pg_user_touch(struct stitch_store *s, const char *id, int64_t now) {
        return pg_write_one(s, PQ_USER_TOUCH, id, PG_ARG_INT(now), true, true, _STITCH_STORE_EVENT_KIND_INVALID);
}

int pg_user_set_pending(struct stitch_store *s, const char *id, bool pending) {
        return pg_write_one(s, PQ_USER_SET_PENDING, id, PG_ARG_BOOL(pending), true, true,
                            _STITCH_STORE_EVENT_KIND_INVALID);
}

static int user_update_row(struct pg_conn *c, const struct stitch_user *u) {
        return pg_run_one(c, PQ_USER_UPDATE,
                          PG_ARGS(PG_ARG_TEXT(u->id), PG_ARG_TEXT(u->email), PG_ARG_TEXT(u->name),
                                  PG_ARG_TEXT(u->unix_name), PG_ARG_TEXT(u->data_json ?: "{}")));
}

static int user_update_tx(struct pg_conn *c, void *userdata) {
        const struct stitch_user *u = userdata;
        int r = user_update_row(c, u);
        /* The data of the identities u has; one gone meanwhile is skipped. */
        for (size_t i = 0; r >= 0 && i < u->n_identities; i++)
                r = pg_run(c, PQ_IDENTITY_SET_DATA,
                           PG_ARGS(PG_ARG_TEXT(u->id), PG_ARG_TEXT(u->identities[i].id),
                                   PG_ARG_TEXT(u->identities[i].data_json)),
                           NULL);
        if (r >= 0)
                r = pg_event(c, STITCH_STORE_EVENT_USER_UPDATED, u->id, NULL);
        return r;
}

int pg_user_update(struct stitch_store *s, const struct stitch_user *u) {
        if (!u || isempty(u->id))
                return -EINVAL;
        return pg_tx(s, PG_WRITE, user_update_tx, (void *) u);
}

static int user_delete_tx(struct pg_conn *c, void *userdata) {
        const char *id = userdata;
        int64_t n = 0;
        int r = pg_query(c, PQ_USER_DELETE, PG_ARGS(PG_ARG_TEXT(id)), &n);
        if (r < 0)
                return r;
        if (n == 0)
                return -ENOENT;
        return pg_event(c, STITCH_STORE_EVENT_USER_DELETED, id, NULL);
}

/* The user row; identities, password, API keys and email tokens go with it
 * (ON DELETE CASCADE), its uid stays taken. Sessions are the core's. */
int pg_user_delete(struct stitch_store *s, const char *id) {
        if (!id)
                return -EINVAL;
        return pg_tx(s, PG_WRITE, user_delete_tx, (void *) id);
}

/* ---------------------------------------------------------------------------
 * Linking and unlinking */

struct merge_args {
        const char *from_id;
        const struct stitch_user *into;
};

/* Both rows locked, then: from_id is still an account nobody has used (a
 * login locks the user row too: see postgresql-sessions.c), and the keys
 * of both fit on one user. */
static int merge_allowed(struct pg_conn *c, const char *from_id, const char *into_id) {
        _cleanup_pgresult_ PGresult *res = NULL;
        int64_t n = 0;
        int r;

        r = pg_exec(c, PQ_USER_LOCK_TWO, PG_ARGS(PG_ARG_TEXT(from_id), PG_ARG_TEXT(into_id)), &res);
        if (r < 0)
                return r;
        if (sym_PQntuples(res) != 2)
                return -ENOENT;
        r = pg_query(c, PQ_USER_MERGEABLE, PG_ARGS(PG_ARG_TEXT(from_id)), NULL);
        if (r <= 0)
                return r < 0 ? r : -ENOTEMPTY;
        r = pg_query(c, PQ_APIKEYS_NAME_CLASH, PG_ARGS(PG_ARG_TEXT(from_id), PG_ARG_TEXT(into_id)), NULL);
        if (r != 0)
                return r < 0 ? r : -EEXIST;
        r = pg_query(c, PQ_APIKEYS_MERGED_COUNT, PG_ARGS(PG_ARG_TEXT(from_id), PG_ARG_TEXT(into_id)), &n);
        if (r < 0)
                return r;
        return n > STITCH_MAX_USER_APIKEYS ? -EDQUOT : 0;
}

static int user_merge_tx(struct pg_conn *c, void *userdata) {
        const struct merge_args *a = userdata;
        const struct pg_arg *two = (const struct pg_arg[]) {PG_ARG_TEXT(a->from_id), PG_ARG_TEXT(a->into->id)};
        int64_t n = 0;
        int r;

        r = merge_allowed(c, a->from_id, a->into->id);
        if (r >= 0)
                r = pg_run(c, PQ_IDENTITIES_MOVE, two, 2, NULL);
        if (r >= 0)
                r = pg_run(c, PQ_PASSWORD_MOVE, two, 2, NULL);
        if (r >= 0)
                r = pg_run(c, PQ_APIKEYS_MOVE, two, 2, NULL);
        if (r >= 0)
                r = pg_run(c, PQ_USER_MERGE_FLAGS, two, 2, NULL);
        /* The emptied account goes first: its email and unix_name are unique. */
        if (r >= 0)
                r = pg_query(c, PQ_USER_DELETE, PG_ARGS(PG_ARG_TEXT(a->from_id)), &n);
        if (r >= 0)
                r = user_update_row(c, a->into);
        if (r >= 0) {
                char data[64 + STITCH_ID_LEN];
                (void) snprintf(data, sizeof(data), "{\"merged_into\":\"%s\"}", a->into->id); /* an id: [0-9a-f] */
                r = pg_event(c, STITCH_STORE_EVENT_USER_DELETED, a->from_id, data);
        }
        if (r >= 0)
                r = pg_event(c, STITCH_STORE_EVENT_USER_UPDATED, a->into->id, NULL);
        return r;
}

int pg_user_merge(struct stitch_store *s, const char *from_id, const struct stitch_user *into) {
        if (isempty(from_id) || !into || isempty(into->id) || streq(from_id, into->id))
                return -EINVAL;
        return pg_tx(s, PG_WRITE, user_merge_tx, &(struct merge_args) {from_id, into});
}

struct remove_args {
        const struct stitch_user *updated;
        const char *identity_id;
        bool drop_password;
        size_t expected;
};

/* A compare-and-swap on the number of identities: the user row is locked
 * first, and every write that adds or moves identities locks it too. */
static int identity_remove_tx(struct pg_conn *c, void *userdata) {
        const struct remove_args *a = userdata;
        const char *uid = a->updated->id;
        int64_t n = 0;
        int r;

        r = pg_query(c, PQ_USER_LOCK, PG_ARGS(PG_ARG_TEXT(uid)), NULL);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        r = pg_run_one(c, PQ_IDENTITY_DELETE, PG_ARGS(PG_ARG_TEXT(uid), PG_ARG_TEXT(a->identity_id)));
        if (r < 0)
                return r;
        r = pg_query(c, PQ_IDENTITY_COUNT_OF_USER, PG_ARGS(PG_ARG_TEXT(uid)), &n);
        if (r <= 0)
                return r < 0 ? r : -EIO;
        if ((uint64_t) n + 1 != a->expected)
                return -ESTALE; /* the caller decided on other rows */
        if (a->drop_password) {
                r = pg_run(c, PQ_PASSWORD_DELETE, PG_ARGS(PG_ARG_TEXT(uid)), NULL);
                if (r < 0)
                        return r;
        }
        r = user_update_row(c, a->updated);
        if (r < 0)
                return r;
        return pg_event(c, STITCH_STORE_EVENT_USER_UPDATED, uid, NULL);
}

int pg_identity_remove(struct stitch_store *s, const struct stitch_user *updated, const char *identity_id,
                       bool drop_password, size_t expected_identities) {
        if (!updated || isempty(updated->id) || isempty(identity_id) || expected_identities == 0)
                return -EINVAL;
        return pg_tx(s, PG_WRITE, identity_remove_tx,
                     &(struct remove_args) {updated, identity_id, drop_password, expected_identities});
}
