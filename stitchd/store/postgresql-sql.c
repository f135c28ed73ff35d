/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PostgreSQL store: running statements and reading their rows.
 *
 * Statements are prepared on a connection the first time they run there,
 * by name ("s" and their number), and reused; values are always bound
 * (text, or binary for bytea), never part of the SQL text, so no error
 * message of the server can carry one. Results come back as text. */

#include <assert.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hex.h"
#include "log.h"
#include "macro.h"
#include "store/postgresql.h"

#define MAX_ARGS 24

void pg_result_clearp(PGresult **r) {
        sym_PQclear(*r);
}

/* Maps a failed result (or none) to -errno, logging what is worth it. */
static int result_error(struct pg_conn *c, PGresult *res, const char *what) {
        if (!res && sym_PQstatus(c->pg) != CONNECTION_BAD)
                return log_oom();

        const char *state = res ? sym_PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        const char *msg = res ? sym_PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        if (!state || sym_PQstatus(c->pg) == CONNECTION_BAD) {
                /* No SQLSTATE: libpq's own error, the connection's. */
                const char *m = msg ?: sym_PQerrorMessage(c->pg);
                log_error("Store: lost the connection to the PostgreSQL server (%s): %.*s", what,
                          (int) strcspn(m, "\n"), m);
                c->broken = true;
                return -ENOTCONN;
        }
        if (streq(state, "23505")) { /* unique_violation */
                log_debug("Store %s: %s", what, msg ?: "unique violation");
                return -EEXIST;
        }
        if (streq(state, "23503")) { /* foreign_key_violation: the referenced user is gone */
                log_debug("Store %s: %s", what, msg ?: "foreign key violation");
                return -ENOENT;
        }
        if (streq(state, "40001") || streq(state, "40P01")) { /* serialization_failure, deadlock_detected */
                log_debug("Store %s: %s (will retry)", what, msg ?: state);
                return -EAGAIN;
        }
        if (streq(state, "53100")) { /* disk_full */
                log_error("Store %s failed: %s", what, msg ?: state);
                return -ENOSPC;
        }
        if (streq(state, "53200")) /* out_of_memory */
                return -ENOMEM;
        if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0) { /* connection exception, shutdown */
                c->broken = true;
                log_error("Store %s failed: the PostgreSQL server went away: %s", what, msg ?: state);
                return -ENOTCONN;
        }
        log_error("Store %s failed: %s (SQLSTATE %s)", what, msg ?: "unknown error", state);
        return -EIO;
}

static int result_check(struct pg_conn *c, PGresult *res, const char *what) {
        ExecStatusType st = res ? sym_PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY)
                return 0;
        return result_error(c, res, what);
}

int pg_exec_sql(struct pg_conn *c, const char *sql, const char *what) {
        _cleanup_pgresult_ PGresult *res = sym_PQexec(c->pg, sql);
        return result_check(c, res, what);
}

int pg_exec(struct pg_conn *c, enum pq_id id, const struct pg_arg *args, size_t n_args, PGresult **ret) {
        const char *values[MAX_ARGS];
        int lengths[MAX_ARGS], formats[MAX_ARGS];
        char numbers[MAX_ARGS][24];
        char name[16];
        int r;

        assert((unsigned) id < _PQ_MAX);
        assert(n_args <= MAX_ARGS);
        (void) snprintf(name, sizeof(name), "s%d", (int) id);

        if (!c->prepared[id]) {
                _cleanup_pgresult_ PGresult *p = sym_PQprepare(c->pg, name, pq_sql[id], 0, NULL);
                r = result_check(c, p, "prepare");
                if (r < 0)
                        return r;
                c->prepared[id] = true;
        }

        for (size_t i = 0; i < n_args; i++) {
                const struct pg_arg *a = args + i;

                lengths[i] = 0;
                formats[i] = 0;
                switch (a->kind) {
                case PG_NULL:
                        values[i] = NULL;
                        break;
                case PG_TEXT:
                        values[i] = a->p;
                        break;
                case PG_INT:
                        (void) snprintf(numbers[i], sizeof(numbers[i]), "%" PRId64, a->i);
                        values[i] = numbers[i];
                        break;
                case PG_BOOL:
                        values[i] = a->i ? "t" : "f";
                        break;
                case PG_BYTES:
                        values[i] = a->p;
                        lengths[i] = a->len;
                        formats[i] = 1;
                        break;
                default:
                        return -EINVAL;
                }
        }

        PGresult *res = sym_PQexecPrepared(c->pg, name, (int) n_args, values, lengths, formats, 0);
        r = result_check(c, res, name);
        if (r < 0) {
                sym_PQclear(res);
                return r;
        }
        if (ret)
                *ret = res;
        else
                sym_PQclear(res);
        return 0;
}

int pg_run(struct pg_conn *c, enum pq_id id, const struct pg_arg *args, size_t n_args, uint64_t *ret_changes) {
        _cleanup_pgresult_ PGresult *res = NULL;
        int r = pg_exec(c, id, args, n_args, &res);
        if (r < 0)
                return r;
        if (ret_changes) {
                const char *t = sym_PQcmdTuples(res);
                *ret_changes = t && *t ? strtoull(t, NULL, 10) : 0;
        }
        return 0;
}

int pg_run_one(struct pg_conn *c, enum pq_id id, const struct pg_arg *args, size_t n_args) {
        uint64_t changes = 0;
        int r = pg_run(c, id, args, n_args, &changes);
        if (r < 0)
                return r;
        return changes > 0 ? 0 : -ENOENT;
}

int pg_query(struct pg_conn *c, enum pq_id id, const struct pg_arg *args, size_t n_args, int64_t *ret_value) {
        _cleanup_pgresult_ PGresult *res = NULL;
        int r = pg_exec(c, id, args, n_args, &res);
        if (r < 0)
                return r;
        if (sym_PQntuples(res) == 0)
                return 0;
        if (ret_value)
                *ret_value = pg_col_int(res, 0, 0);
        return 1;
}

/* ---------------------------------------------------------------------------
 * Columns */

bool pg_col_null(const PGresult *res, int row, int col) {
        return sym_PQgetisnull(res, row, col);
}

int64_t pg_col_int(const PGresult *res, int row, int col) {
        if (sym_PQgetisnull(res, row, col))
                return 0;
        return (int64_t) strtoll(sym_PQgetvalue(res, row, col), NULL, 10);
}

bool pg_col_bool(const PGresult *res, int row, int col) {
        const char *v = sym_PQgetvalue(res, row, col);
        return v && v[0] == 't';
}

int pg_col_strdup(const PGresult *res, int row, int col, char **ret) {
        if (sym_PQgetisnull(res, row, col)) {
                *ret = NULL;
                return 0;
        }
        char *d = strdup(sym_PQgetvalue(res, row, col));
        if (!d)
                return -ENOMEM;
        *ret = d;
        return 0;
}

int pg_col_id(const PGresult *res, int row, int col, char dst[static STITCH_ID_LEN + 1]) {
        if (sym_PQgetisnull(res, row, col))
                return -EIO;
        int n = sym_PQgetlength(res, row, col);
        if (n < 0 || n > STITCH_ID_LEN)
                return log_error_errno(EIO, "Store: malformed id in the database (%d bytes).", n);
        memcpy(dst, sym_PQgetvalue(res, row, col), (size_t) n);
        dst[n] = 0;
        return 0;
}

/* bytea in text form is hex ("\x0a1b..."), the server's default output. */
static int decode_bytea(const char *t, size_t n, uint8_t *dst, size_t max, size_t *ret_len) {
        if (n < 2 || t[0] != '\\' || t[1] != 'x' || (n - 2) % 2 != 0 || (n - 2) / 2 > max)
                return -EIO;
        for (size_t i = 0; i < (n - 2) / 2; i++) {
                int hi = stitch_unhex_digit(t[2 + 2 * i]), lo = stitch_unhex_digit(t[3 + 2 * i]);
                if (hi < 0 || lo < 0)
                        return -EIO;
                dst[i] = (uint8_t) (hi << 4 | lo);
        }
        *ret_len = (n - 2) / 2;
        return 0;
}

int pg_col_hash(const PGresult *res, int row, int col, uint8_t dst[static STITCH_HASH_LEN]) {
        size_t len = 0;
        if (sym_PQgetisnull(res, row, col) ||
            decode_bytea(sym_PQgetvalue(res, row, col), (size_t) sym_PQgetlength(res, row, col), dst, STITCH_HASH_LEN,
                         &len) < 0 ||
            len != STITCH_HASH_LEN)
                return log_error_errno(EIO, "Store: malformed hash in the database.");
        return 0;
}

int pg_col_bytes(const PGresult *res, int row, int col, uint8_t **ret, size_t *ret_len) {
        size_t n = (size_t) sym_PQgetlength(res, row, col), len = 0;
        if (sym_PQgetisnull(res, row, col) || n < 2)
                return -EIO;
        uint8_t *b = malloc(n / 2 + 1);
        if (!b)
                return -ENOMEM;
        if (decode_bytea(sym_PQgetvalue(res, row, col), n, b, n / 2, &len) < 0) {
                free(b);
                return log_error_errno(EIO, "Store: malformed bytea in the database.");
        }
        b[len] = 0;
        *ret = b;
        *ret_len = len;
        return 0;
}

/* ---------------------------------------------------------------------------
 * Rows */

int pg_read_user(const PGresult *res, int row, int i, struct stitch_user **ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = calloc(1, sizeof(*u));
        int r;

        if (!u)
                return -ENOMEM;
        if ((r = pg_col_id(res, row, i, u->id)) < 0 || (r = pg_col_strdup(res, row, i + 1, &u->type)) < 0 ||
            (r = pg_col_strdup(res, row, i + 2, &u->email)) < 0 || (r = pg_col_strdup(res, row, i + 3, &u->name)) < 0 ||
            (r = pg_col_strdup(res, row, i + 4, &u->unix_name)) < 0 ||
            (r = pg_col_strdup(res, row, i + 5, &u->data_json)) < 0)
                return r;
        u->disabled = pg_col_bool(res, row, i + 6);
        u->creation_date = pg_col_int(res, row, i + 7);
        u->last_authentication_date = pg_col_int(res, row, i + 8);
        u->pending = pg_col_bool(res, row, i + 9);
        u->self_registered = pg_col_bool(res, row, i + 10);
        u->unix_uid = pg_col_int(res, row, i + 11); /* NULL reads 0: none */
        *ret = TAKE_PTR(u);
        return 0;
}

static void json_freep(cJSON **p) {
        cJSON_Delete(*p);
}

static int json_strdup(const cJSON *item, char **ret) {
        if (cJSON_IsNull(item)) {
                *ret = NULL;
                return 0;
        }
        if (!cJSON_IsString(item))
                return -EIO;
        *ret = strdup(item->valuestring);
        return *ret ? 0 : -ENOMEM;
}

int pg_read_identities_json(const PGresult *res, int row, int col, struct stitch_user *u) {
        assert(!u->identities);
        if (pg_col_null(res, row, col))
                return 0; /* none */

        _cleanup_(json_freep) cJSON *a = cJSON_Parse(sym_PQgetvalue(res, row, col));
        if (!cJSON_IsArray(a))
                return log_error_errno(EIO, "Store: malformed identities of user %s.", u->id);
        int n = cJSON_GetArraySize(a);
        if (n <= 0)
                return 0;
        struct stitch_identity *ids = calloc((size_t) n, sizeof(*ids));
        if (!ids)
                return -ENOMEM;
        int r = 0;
        for (int i = 0; r >= 0 && i < n; i++) {
                const cJSON *e = cJSON_GetArrayItem(a, i);
                const cJSON *id = cJSON_GetArrayItem(e, 0);
                if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 4 || !cJSON_IsString(id) ||
                    strlen(id->valuestring) > STITCH_ID_LEN) {
                        r = log_error_errno(EIO, "Store: malformed identity of user %s.", u->id);
                        break;
                }
                memcpy(ids[i].id, id->valuestring, strlen(id->valuestring) + 1); /* length checked */
                if ((r = json_strdup(cJSON_GetArrayItem(e, 1), &ids[i].provider_type)) < 0 ||
                    (r = json_strdup(cJSON_GetArrayItem(e, 2), &ids[i].provider_id)) < 0 ||
                    (r = json_strdup(cJSON_GetArrayItem(e, 3), &ids[i].data_json)) < 0)
                        break;
                if (!ids[i].provider_type || !ids[i].provider_id)
                        r = -EIO;
        }
        if (r < 0) {
                for (int k = 0; k < n; k++)
                        stitch_identity_done(ids + k);
                free(ids);
                return r;
        }
        u->identities = ids;
        u->n_identities = (size_t) n;
        return 0;
}

int pg_read_session(const PGresult *res, int row, struct stitch_session **ret) {
        _cleanup_(stitch_session_freep) struct stitch_session *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        if ((r = pg_col_id(res, row, 0, s->id)) < 0 || (r = pg_col_id(res, row, 1, s->user_id)) < 0 ||
            (r = pg_col_id(res, row, 2, s->device_id)) < 0 || (r = pg_col_strdup(res, row, 3, &s->provider_type)) < 0 ||
            (r = pg_col_strdup(res, row, 4, &s->service)) < 0 || (r = pg_col_strdup(res, row, 5, &s->rhost)) < 0 ||
            (r = pg_col_strdup(res, row, 6, &s->tty)) < 0 || (r = pg_col_hash(res, row, 7, s->refresh_hash)) < 0)
                return r;
        s->creation_date = pg_col_int(res, row, 8);
        s->refresh_expires = pg_col_int(res, row, 9);
        s->access_expires = pg_col_int(res, row, 10);
        s->last_used = pg_col_int(res, row, 11);
        s->revoked = pg_col_bool(res, row, 12);
        s->revoked_at = pg_col_int(res, row, 13);
        r = pg_col_strdup(res, row, 14, &s->revoked_reason);
        if (r < 0)
                return r;
        s->open = pg_col_bool(res, row, 15);
        s->leader_pid = pg_col_int(res, row, 16);
        s->uid = pg_col_int(res, row, 17);
        if (!pg_col_null(res, row, 18)) {
                r = pg_col_hash(res, row, 18, s->binding_hash);
                if (r < 0)
                        return r;
                s->has_binding = true;
        }
        s->created_usec = pg_col_int(res, row, 19);
        if (!pg_col_null(res, row, 20)) {
                r = pg_col_id(res, row, 20, s->apikey_id);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

int pg_read_apikey_at(const PGresult *res, int row, int col, struct stitch_apikey **ret) {
        _cleanup_(stitch_apikey_freep) struct stitch_apikey *k = calloc(1, sizeof(*k));
        int r;

        if (!k)
                return -ENOMEM;
        if ((r = pg_col_id(res, row, col, k->id)) < 0 || (r = pg_col_id(res, row, col + 1, k->user_id)) < 0 ||
            (r = pg_col_strdup(res, row, col + 2, &k->name)) < 0 || (r = pg_col_hash(res, row, col + 3, k->hash)) < 0)
                return r;
        k->disabled = pg_col_bool(res, row, col + 4);
        k->creation_date = pg_col_int(res, row, col + 5);
        *ret = TAKE_PTR(k);
        return 0;
}

int pg_read_apikey(const PGresult *res, int row, struct stitch_apikey **ret) {
        return pg_read_apikey_at(res, row, 0, ret);
}

int pg_read_list(struct pg_conn *c, enum pq_id id, const struct pg_arg *args, size_t n_args,
                 pg_read_row_fn read_row, void ***ret, size_t *ret_n) {
        _cleanup_pgresult_ PGresult *res = NULL;
        int r = pg_exec(c, id, args, n_args, &res);
        if (r < 0)
                return r;
        size_t n = (size_t) sym_PQntuples(res);
        void **a = calloc(n + 1, sizeof(void *));
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = read_row(res, (int) i, &a[i]);
                if (r < 0) {
                        *ret = a;
                        *ret_n = i; /* the caller frees what was read */
                        return r;
                }
        }
        *ret = a;
        *ret_n = n;
        return 0;
}

int pg_read_ids(struct pg_conn *c, enum pq_id id, const struct pg_arg *args, size_t n_args,
                struct stitch_strv_builder *ids) {
        _cleanup_pgresult_ PGresult *res = NULL;
        int r = pg_exec(c, id, args, n_args, &res);
        if (r < 0)
                return r;
        for (int i = 0; i < sym_PQntuples(res); i++) {
                char row_id[STITCH_ID_LEN + 1];
                r = pg_col_id(res, i, 0, row_id);
                if (r < 0)
                        return r;
                r = stitch_strv_builder_add(ids, row_id);
                if (r < 0)
                        return r;
        }
        return 0;
}

int pg_event(struct pg_conn *c, enum stitch_store_event_kind kind, const char *subject, const char *data_json) {
        return pg_run(c, PQ_EVENT_INSERT,
                      PG_ARGS(PG_ARG_INT((int64_t) time(NULL)), PG_ARG_TEXT(stitch_store_event_kind_to_string(kind)),
                              PG_ARG_TEXT(subject), PG_ARG_TEXT(data_json)),
                      NULL);
}
