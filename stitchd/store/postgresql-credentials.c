/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PostgreSQL store: passwords and email tokens (store.h). */

#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "store/postgresql.h"

struct password_args {
        const char *user_id;
        char *hash;
};

static int password_get_tx(struct pg_conn *c, void *userdata) {
        struct password_args *a = userdata;
        _cleanup_pgresult_ PGresult *res = NULL;
        int r = pg_exec(c, PQ_PASSWORD_GET, PG_ARGS(PG_ARG_TEXT(a->user_id)), &res);
        if (r < 0)
                return r;
        if (sym_PQntuples(res) == 0)
                return -ENOENT;
        return pg_col_strdup(res, 0, 0, &a->hash);
}

int pg_password_get(struct stitch_store *s, const char *user_id, char **ret_hash) {
        struct password_args a = {user_id, NULL};

        if (!user_id || !ret_hash)
                return -EINVAL;
        int r = pg_tx(s, PG_READ, password_get_tx, &a);
        if (r < 0)
                return r;
        if (!a.hash)
                return -EIO;
        *ret_hash = a.hash;
        return 0;
}

/* An upsert; an unknown user fails the foreign key: -ENOENT. */
int pg_password_set(struct stitch_store *s, const char *user_id, const char *hash) {
        return pg_write_one(s, PQ_PASSWORD_SET, user_id, PG_ARG_TEXT(hash), true, false,
                            STITCH_STORE_EVENT_USER_PASSWORD);
}

static const char *const email_token_kinds[_STITCH_EMAIL_TOKEN_KIND_MAX] = {
        [STITCH_EMAIL_TOKEN_CONFIRM] = "confirm",
        [STITCH_EMAIL_TOKEN_RESET] = "reset",
};

static bool kind_valid(enum stitch_email_token_kind kind) {
        return (unsigned) kind < _STITCH_EMAIL_TOKEN_KIND_MAX;
}

/* The user row is locked: of two links sent at once, the later supersedes
 * the earlier, never both left standing. */
static int email_token_put_tx(struct pg_conn *c, void *userdata) {
        const struct stitch_email_token *t = userdata;
        const char *kind = email_token_kinds[t->kind];
        int r = pg_query(c, PQ_USER_LOCK, PG_ARGS(PG_ARG_TEXT(t->user_id)), NULL);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        r = pg_run(c, PQ_EMAIL_TOKENS_DELETE_OF_USER, PG_ARGS(PG_ARG_TEXT(t->user_id), PG_ARG_TEXT(kind)), NULL);
        if (r < 0)
                return r;
        return pg_run(c, PQ_EMAIL_TOKEN_INSERT,
                      PG_ARGS(PG_ARG_TEXT(t->id), PG_ARG_TEXT(t->user_id), PG_ARG_TEXT(kind), PG_ARG_HASH(t->hash),
                              PG_ARG_INT(t->expires)),
                      NULL);
}

int pg_email_token_put(struct stitch_store *s, const struct stitch_email_token *t) {
        if (!t || isempty(t->id) || isempty(t->user_id) || !kind_valid(t->kind))
                return -EINVAL;
        return pg_tx(s, PG_WRITE, email_token_put_tx, (void *) t);
}

struct take_args {
        const char *id;
        enum stitch_email_token_kind kind;
        const uint8_t *hash;
        int64_t now;
        char user_id[STITCH_ID_LEN + 1];
};

static int email_token_take_tx(struct pg_conn *c, void *userdata) {
        struct take_args *a = userdata;
        uint8_t stored[STITCH_HASH_LEN];
        bool usable;
        int r;

        {
                _cleanup_pgresult_ PGresult *res = NULL;
                r = pg_exec(c, PQ_EMAIL_TOKEN_BY_ID, PG_ARGS(PG_ARG_TEXT(a->id)), &res);
                if (r < 0)
                        return r;
                if (sym_PQntuples(res) == 0)
                        return -ENOENT;
                if ((r = pg_col_id(res, 0, 0, a->user_id)) < 0 || (r = pg_col_hash(res, 0, 2, stored)) < 0)
                        return r;
                usable = streq(sym_PQgetvalue(res, 0, 1), email_token_kinds[a->kind]) && pg_col_int(res, 0, 3) > a->now;
        }
        /* Compared in full whatever else is wrong: the time says nothing. */
        if (CRYPTO_memcmp(stored, a->hash, STITCH_HASH_LEN) != 0 || !usable)
                return -ENOENT;
        return pg_run_one(c, PQ_EMAIL_TOKEN_DELETE, PG_ARGS(PG_ARG_TEXT(a->id)));
}

int pg_email_token_take(struct stitch_store *s, const char *id, enum stitch_email_token_kind kind,
                        const uint8_t hash[STITCH_HASH_LEN], int64_t now, char ret_user_id[static STITCH_ID_LEN + 1]) {
        struct take_args a = {.id = id, .kind = kind, .hash = hash, .now = now};

        if (isempty(id) || !hash || !kind_valid(kind))
                return -EINVAL;
        int r = pg_tx(s, PG_WRITE, email_token_take_tx, &a);
        if (r < 0)
                return r;
        memcpy(ret_user_id, a.user_id, STITCH_ID_LEN + 1);
        return 0;
}

struct prune_args {
        enum pq_id id;
        int64_t before;
        uint64_t n;
};

static int prune_tx(struct pg_conn *c, void *userdata) {
        struct prune_args *a = userdata;
        return pg_run(c, a->id, PG_ARGS(PG_ARG_INT(a->before)), &a->n);
}

int pg_prune(struct stitch_store *s, enum pq_id id, int64_t before, size_t *ret_n) {
        struct prune_args a = {id, before, 0};
        int r = pg_tx(s, PG_READ, prune_tx, &a);
        if (r < 0)
                return r;
        if (ret_n)
                *ret_n = (size_t) a.n;
        return 0;
}

int pg_email_token_prune(struct stitch_store *s, int64_t now, size_t *ret_n) {
        return pg_prune(s, PQ_EMAIL_TOKEN_PRUNE, now, ret_n);
}
