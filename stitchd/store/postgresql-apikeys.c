/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PostgreSQL store: API keys (store.h). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "macro.h"
#include "store/postgresql.h"

/* The owner's row is locked, so that two keys created at once on two hosts
 * cannot both pass the quota. */
static int apikey_create_tx(struct pg_conn *c, void *userdata) {
        const struct stitch_apikey *k = userdata;
        int64_t n = 0;
        int r;

        r = pg_query(c, PQ_USER_LOCK, PG_ARGS(PG_ARG_TEXT(k->user_id)), NULL);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        r = pg_query(c, PQ_APIKEY_COUNT_OF_USER, PG_ARGS(PG_ARG_TEXT(k->user_id)), &n);
        if (r < 0)
                return r;
        if (n >= STITCH_MAX_USER_APIKEYS)
                return -EDQUOT;
        r = pg_run(c, PQ_APIKEY_INSERT,
                   PG_ARGS(PG_ARG_TEXT(k->id), PG_ARG_TEXT(k->user_id), PG_ARG_TEXT(k->name), PG_ARG_HASH(k->hash),
                           PG_ARG_BOOL(k->disabled), PG_ARG_INT(k->creation_date)),
                   NULL);
        if (r < 0)
                return r;
        char data[64 + STITCH_ID_LEN];
        (void) snprintf(data, sizeof(data), "{\"user_id\":\"%s\"}", k->user_id); /* an id: [0-9a-f] */
        return pg_event(c, STITCH_STORE_EVENT_APIKEY_CREATED, k->id, data);
}

int pg_apikey_create(struct stitch_store *s, const struct stitch_apikey *k) {
        if (!k || isempty(k->id) || isempty(k->user_id) || !k->name)
                return -EINVAL;
        return pg_tx(s, PG_WRITE, apikey_create_tx, (void *) k);
}

struct find_args {
        enum pq_id id;
        struct pg_arg key;
        struct stitch_apikey *k;
};

static int find_tx(struct pg_conn *c, void *userdata) {
        struct find_args *a = userdata;
        _cleanup_pgresult_ PGresult *res = NULL;
        int r = pg_exec(c, a->id, &a->key, 1, &res);
        if (r < 0)
                return r;
        if (sym_PQntuples(res) == 0)
                return -ENOENT;
        a->k = stitch_apikey_free(a->k);
        return pg_read_apikey(res, 0, &a->k);
}

static int find(struct stitch_store *s, enum pq_id id, struct pg_arg key, struct stitch_apikey **ret) {
        struct find_args a = {id, key, NULL};
        int r = pg_tx(s, PG_READ, find_tx, &a);
        if (r < 0) {
                stitch_apikey_free(a.k);
                return r;
        }
        *ret = a.k;
        return 0;
}

int pg_apikey_find_by_hash(struct stitch_store *s, const uint8_t hash[STITCH_HASH_LEN], struct stitch_apikey **ret) {
        if (!hash || !ret)
                return -EINVAL;
        return find(s, PQ_APIKEY_BY_HASH, PG_ARG_HASH(hash), ret);
}

struct login_args {
        const uint8_t *hash;
        int64_t now;
        struct stitch_apikey *k;
        struct stitch_user *u;
};

/* One statement: the user (as a login reads it) and then the key. */
static int find_for_login_tx(struct pg_conn *c, void *userdata) {
        struct login_args *a = userdata;
        _cleanup_pgresult_ PGresult *res = NULL;
        int r;

        a->k = stitch_apikey_free(a->k); /* a retry starts over */
        a->u = stitch_user_free(a->u);
        r = pg_exec(c, PQ_APIKEY_WITH_USER_BY_HASH, PG_ARGS(PG_ARG_HASH(a->hash), PG_ARG_INT(a->now)), &res);
        if (r < 0)
                return r;
        if (sym_PQntuples(res) == 0)
                return -ENOENT;
        r = pg_read_found_user(res, 0, true, &a->u);
        if (r >= 0)
                r = pg_read_apikey_at(res, 0, PQ_USER_FIND_LIVE_COLUMN + 1, &a->k);
        return r;
}

int pg_apikey_find_for_login(struct stitch_store *s, const uint8_t hash[STITCH_HASH_LEN], int64_t now,
                             struct stitch_apikey **ret_key, struct stitch_user **ret_user) {
        if (!hash || !ret_key || !ret_user)
                return -EINVAL;
        struct login_args a = {.hash = hash, .now = now};
        int r = pg_tx(s, PG_READ, find_for_login_tx, &a);
        if (r < 0) {
                stitch_apikey_free(a.k);
                stitch_user_free(a.u);
                return r;
        }
        *ret_key = a.k;
        *ret_user = a.u;
        return 0;
}

int pg_apikey_get(struct stitch_store *s, const char *id, struct stitch_apikey **ret) {
        if (!id || !ret)
                return -EINVAL;
        return find(s, PQ_APIKEY_BY_ID, PG_ARG_TEXT(id), ret);
}

static int read_apikey_row(const PGresult *res, int row, void *ret) {
        return pg_read_apikey(res, row, ret);
}

struct list_args {
        const char *user_id;
        struct stitch_apikey **a;
        size_t n;
};

static int list_tx(struct pg_conn *c, void *userdata) {
        struct list_args *a = userdata;
        stitch_apikey_array_free(a->a, a->n);
        a->a = NULL;
        a->n = 0;
        if (a->user_id)
                return pg_read_list(c, PQ_APIKEY_LIST_OF_USER, PG_ARGS(PG_ARG_TEXT(a->user_id)), read_apikey_row,
                                    (void ***) &a->a, &a->n);
        return pg_read_list(c, PQ_APIKEY_LIST_ALL, PG_NO_ARGS, read_apikey_row, (void ***) &a->a, &a->n);
}

int pg_apikey_list(struct stitch_store *s, const char *user_id, struct stitch_apikey ***ret, size_t *ret_n) {
        struct list_args a = {user_id, NULL, 0};

        if (!ret || !ret_n)
                return -EINVAL;
        int r = pg_tx(s, PG_READ, list_tx, &a);
        if (r < 0) {
                stitch_apikey_array_free(a.a, a.n);
                return r;
        }
        *ret = a.a;
        *ret_n = a.n;
        return 0;
}

int pg_apikey_set_disabled(struct stitch_store *s, const char *id, bool disabled) {
        return pg_write_one(s, PQ_APIKEY_SET_DISABLED, id, PG_ARG_BOOL(disabled), true, true,
                            disabled ? STITCH_STORE_EVENT_APIKEY_DISABLED : STITCH_STORE_EVENT_APIKEY_ENABLED);
}

int pg_apikey_delete(struct stitch_store *s, const char *id) {
        return pg_write_one(s, PQ_APIKEY_DELETE, id, PG_ARG_NULL, false, true, STITCH_STORE_EVENT_APIKEY_DELETED);
}
