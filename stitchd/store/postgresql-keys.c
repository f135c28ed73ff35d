/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PostgreSQL store: signing keys (store.h). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "store/postgresql.h"

static int read_key_row(const PGresult *res, int row, void *ret) {
        _cleanup_(stitch_signing_key_freep) struct stitch_signing_key *k = calloc(1, sizeof(*k));
        int r;

        if (!k)
                return -ENOMEM;
        int n = sym_PQgetlength(res, row, 0);
        if (pg_col_null(res, row, 0) || n <= 0 || (size_t) n >= sizeof(k->kid))
                return log_error_errno(EIO, "Store: malformed signing key id in the database.");
        memcpy(k->kid, sym_PQgetvalue(res, row, 0), (size_t) n);
        r = pg_col_strdup(res, row, 1, &k->alg);
        if (r < 0)
                return r;
        if (!k->alg)
                return -EIO;
        /* One spare NUL so that a PEM secret can be used as a C string. */
        r = pg_col_bytes(res, row, 2, &k->secret, &k->secret_len);
        if (r < 0 || k->secret_len == 0)
                return log_error_errno(EIO, "Store: signing key %s has no secret.", k->kid);
        k->created = pg_col_int(res, row, 3);
        k->retired = pg_col_int(res, row, 4);
        *(struct stitch_signing_key **) ret = TAKE_PTR(k);
        return 0;
}

struct list_args {
        struct stitch_signing_key **a;
        size_t n;
};

static int key_list_tx(struct pg_conn *c, void *userdata) {
        struct list_args *a = userdata;
        stitch_signing_key_array_free(a->a, a->n);
        a->a = NULL;
        a->n = 0;
        return pg_read_list(c, PQ_KEY_LIST, PG_NO_ARGS, read_key_row, (void ***) &a->a, &a->n);
}

int pg_key_list(struct stitch_store *s, struct stitch_signing_key ***ret, size_t *ret_n) {
        struct list_args a = {};

        if (!ret || !ret_n)
                return -EINVAL;
        int r = pg_tx(s, PG_READ, key_list_tx, &a);
        if (r < 0) {
                stitch_signing_key_array_free(a.a, a.n);
                return r;
        }
        *ret = a.a;
        *ret_n = a.n;
        return 0;
}

/* Two rotations at once (two hosts): the table lock makes the second wait
 * and then retire the first's new key, never two active ones. */
static int key_rotate_tx(struct pg_conn *c, void *userdata) {
        const struct stitch_signing_key *k = userdata;
        int r;

        r = pg_exec_sql(c, "LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE", "key_rotate");
        if (r < 0)
                return r;
        r = pg_run(c, PQ_KEY_RETIRE_ACTIVE, PG_ARGS(PG_ARG_INT(k->created)), NULL);
        if (r < 0)
                return r;
        r = pg_run(c, PQ_KEY_INSERT,
                   PG_ARGS(PG_ARG_TEXT(k->kid), PG_ARG_TEXT(k->alg), PG_ARG_BYTES(k->secret, (int) k->secret_len),
                           PG_ARG_INT(k->created)),
                   NULL);
        if (r < 0)
                return r;
        return pg_event(c, STITCH_STORE_EVENT_KEY_ROTATED, k->kid, NULL);
}

int pg_key_rotate(struct stitch_store *s, const struct stitch_signing_key *k) {
        if (!k || isempty(k->kid) || strnlen(k->kid, sizeof(k->kid)) >= sizeof(k->kid) || !k->alg || !k->secret ||
            k->secret_len == 0 || k->secret_len > INT32_MAX || k->created <= 0)
                return -EINVAL;
        return pg_tx(s, PG_WRITE, key_rotate_tx, (void *) k);
}

int pg_key_prune(struct stitch_store *s, int64_t cutoff, size_t *ret_n) {
        return pg_prune(s, PQ_KEY_PRUNE, cutoff, ret_n);
}
