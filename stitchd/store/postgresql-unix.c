/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PostgreSQL store: Unix uids (store.h "Unix accounts"). A uid is
 * unique among users (an index) and never given again once its user is
 * deleted (retired_unix_uids, filled by PQ_USER_DELETE). */

#include <errno.h>
#include <stdlib.h>

#include "macro.h"
#include "store/postgresql.h"

struct assign_args {
        const char *user_id;
        int64_t uid;
};

/* The user row is locked: of two assignments to one user, the second sees
 * the first's uid (-EALREADY); of two users racing for one uid, the unique
 * index lets one in (-EEXIST for the other). */
static int assign_tx(struct pg_conn *c, void *userdata) {
        const struct assign_args *a = userdata;
        _cleanup_pgresult_ PGresult *res = NULL;
        int r;

        r = pg_exec(c, PQ_USER_LOCK, PG_ARGS(PG_ARG_TEXT(a->user_id)), &res);
        if (r < 0)
                return r;
        if (sym_PQntuples(res) == 0)
                return -ENOENT;
        if (!pg_col_null(res, 0, 0))
                return -EALREADY;
        r = pg_query(c, PQ_UNIX_UID_TAKEN, PG_ARGS(PG_ARG_INT(a->uid)), NULL);
        if (r != 0)
                return r < 0 ? r : -EEXIST;
        r = pg_run_one(c, PQ_USER_ASSIGN_UNIX_UID, PG_ARGS(PG_ARG_TEXT(a->user_id), PG_ARG_INT(a->uid)));
        if (r < 0)
                return r;
        return pg_event(c, STITCH_STORE_EVENT_USER_UPDATED, a->user_id, NULL);
}

int pg_user_assign_unix_uid(struct stitch_store *s, const char *user_id, int64_t uid) {
        if (isempty(user_id) || uid <= 0 || uid > INT32_MAX)
                return -EINVAL;
        return pg_tx(s, PG_WRITE, assign_tx, &(struct assign_args) {user_id, uid});
}

int pg_user_list_unix(struct stitch_store *s, int64_t after_uid, size_t limit, struct stitch_user ***ret,
                      size_t *ret_n) {
        return pg_user_list_of(s, PQ_USER_LIST_UNIX,
                               PG_ARGS(PG_ARG_INT(after_uid), PG_ARG_INT((int64_t) MIN(limit, (size_t) INT64_MAX))),
                               false, ret, ret_n);
}

int pg_user_list_unix_unassigned(struct stitch_store *s, size_t limit, char ***ret_ids) {
        return pg_ids_of(s, PQ_USER_LIST_UNIX_UNASSIGNED, PG_ARGS(PG_ARG_INT((int64_t) MIN(limit, (size_t) INT64_MAX))),
                         ret_ids);
}

struct uid_args {
        enum pq_id id;
        int64_t a, b;
        int64_t *list;
        size_t n;
};

static int uid_query_tx(struct pg_conn *c, void *userdata) {
        struct uid_args *a = userdata;
        _cleanup_pgresult_ PGresult *res = NULL;
        int r = pg_exec(c, a->id, PG_ARGS(PG_ARG_INT(a->a), PG_ARG_INT(a->b)), &res);
        if (r < 0)
                return r;
        free(a->list);
        a->n = (size_t) sym_PQntuples(res);
        a->list = calloc(a->n + 1, sizeof(int64_t));
        if (!a->list)
                return -ENOMEM;
        for (size_t i = 0; i < a->n; i++) {
                if (pg_col_null(res, (int) i, 0)) {
                        a->n = i; /* max() of no rows: NULL */
                        break;
                }
                a->list[i] = pg_col_int(res, (int) i, 0);
        }
        return 0;
}

/* The first column of the one row of statement id over [min, max]; -ENOENT if NULL or none. */
static int uid_query(struct stitch_store *s, enum pq_id id, int64_t min, int64_t max, int64_t *ret_uid) {
        struct uid_args a = {.id = id, .a = min, .b = max};
        int r;

        if (!ret_uid || min > max)
                return -EINVAL;
        r = pg_tx(s, PG_READ, uid_query_tx, &a);
        if (r >= 0 && a.n == 0)
                r = -ENOENT;
        if (r >= 0)
                *ret_uid = a.list[0];
        free(a.list);
        return r;
}

int pg_unix_uid_max(struct stitch_store *s, int64_t min, int64_t max, int64_t *ret_uid) {
        return uid_query(s, PQ_UNIX_UID_MAX, min, max, ret_uid);
}

int pg_unix_uid_next_free(struct stitch_store *s, int64_t from, int64_t to, int64_t *ret_uid) {
        return uid_query(s, PQ_UNIX_UID_NEXT_FREE, from, to, ret_uid);
}

int pg_unix_uid_list_retired(struct stitch_store *s, int64_t after, size_t limit, int64_t **ret, size_t *ret_n) {
        struct uid_args a = {.id = PQ_UNIX_UID_RETIRED_LIST, .a = after, .b = (int64_t) MIN(limit, (size_t) INT64_MAX)};

        if (!ret || !ret_n)
                return -EINVAL;
        int r = pg_tx(s, PG_READ, uid_query_tx, &a);
        if (r < 0) {
                free(a.list);
                return r;
        }
        *ret = a.list;
        *ret_n = a.n;
        return 0;
}

static int retire_tx(struct pg_conn *c, void *userdata) {
        const int64_t *uid = userdata;
        uint64_t changes = 0;
        int r = pg_run(c, PQ_UNIX_UID_RETIRE, PG_ARGS(PG_ARG_INT(*uid)), &changes);
        if (r < 0 || changes > 0)
                return r;
        /* Retired already is fine; a live user's uid is not. */
        r = pg_query(c, PQ_USER_UNIX_UID_HOLDER, PG_ARGS(PG_ARG_INT(*uid)), NULL);
        return r < 0 ? r : r > 0 ? -EEXIST : 0;
}

int pg_unix_uid_retire(struct stitch_store *s, int64_t uid) {
        if (uid <= 0 || uid > INT32_MAX)
                return -EINVAL;
        return pg_tx(s, PG_WRITE, retire_tx, &uid);
}
