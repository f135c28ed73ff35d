/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PostgreSQL store (a fleet's shared store): the ops table, the spec,
 * the connection pool and transactions. The ops themselves are one file
 * per family (postgresql-users.c, -sessions.c, ...), the statements in
 * postgresql-statements.c, the schema in postgresql-schema.c.
 *
 * The spec is a libpq URI, "postgresql://USER@HOST[:PORT]/DB?PARAMS" (or
 * "postgres://"), given to libpq as is, after our defaults (connect_timeout,
 * TCP keepalives, tcp_user_timeout, application_name), which the URI may
 * override. A password in it is refused: it comes from a passfile
 * (PGPASSFILE or passfile=), never from the configuration. The spec is
 * logged only through stitch_store_describe_spec().
 *
 * Connections: a pool of at most PG_POOL_MAX, opened when first needed and
 * kept. Each op takes one for its own transaction (READ COMMITTED; the rows
 * a write checks are locked FOR UPDATE, and compare-and-swap updates carry
 * the expected value in their WHERE, which READ COMMITTED re-checks against
 * the newest row); several reads that must agree run REPEATABLE READ. A
 * deadlock or serialization failure is retried. begin() pins a connection
 * to its handle until commit() or rollback(); ops called with the handle
 * run on it, each as a savepoint.
 *
 * A lost server: the op fails with -ENOTCONN, the broken connection is
 * dropped (and the idle ones with it, which the same loss broke), and the
 * next op connects again; after a failed connect, ops fail at once with
 * -ENOTCONN for a backoff that doubles up to RETRY_MAX_USEC. An op that
 * finds its idle connection dead before anything was committed runs once
 * more on a new one. */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hex.h"
#include "log.h"
#include "macro.h"
#include "store/postgresql.h"

#define RETRY_MIN_USEC (100 * USEC_PER_MSEC)
#define RETRY_MAX_USEC (2 * USEC_PER_SEC)
#define TX_ATTEMPTS 5

/* ---------------------------------------------------------------------------
 * The spec */

#define EXPECTED "expected postgresql://USER@HOST[:PORT]/DATABASE[?PARAMETERS]"
#define NO_PASSWORD                                                                                    \
        "a password in a postgresql:// store URI is refused; put it in a passfile (PGPASSFILE, or the " \
        "passfile= parameter)"

static int fail(const char **ret_error, const char *error) {
        if (ret_error)
                *ret_error = error;
        return -EINVAL;
}

/* A %XX-decoded copy of [p, p+n), for comparing parameter names as libpq
 * reads them. */
static char *decode(const char *p, size_t n) {
        char *d = malloc(n + 1), *o = d;
        if (!d)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (p[i] == '%' && i + 2 < n && stitch_unhex_digit(p[i + 1]) >= 0 && stitch_unhex_digit(p[i + 2]) >= 0) {
                        *o++ = (char) (stitch_unhex_digit(p[i + 1]) << 4 | stitch_unhex_digit(p[i + 2]));
                        i += 2;
                } else
                        *o++ = p[i];
        *o = 0;
        return d;
}

/* location: what follows "postgresql:" or "postgres:", that is "//...". */
int pg_validate_location(const char *location, const char **ret_error) {
        if (!location || strncmp(location, "//", 2) != 0 || strlen(location) > 4000)
                return fail(ret_error, EXPECTED);
        for (const char *c = location; *c; c++)
                if ((unsigned char) *c <= 0x20 || (unsigned char) *c >= 0x7f)
                        return fail(ret_error, EXPECTED);

        /* The authority ends at the first '/' or '?'; its userinfo, if any,
         * before its last '@' ("user:password@" is refused). */
        const char *authority = location + 2;
        size_t n = strcspn(authority, "/?");
        const char *at = NULL;
        for (size_t i = 0; i < n; i++)
                if (authority[i] == '@')
                        at = authority + i;
        if (at && memchr(authority, ':', (size_t) (at - authority)))
                return fail(ret_error, NO_PASSWORD);

        const char *query = strchr(location, '?');
        for (const char *p = query ? query + 1 : NULL; p && *p;) {
                size_t len = strcspn(p, "&"), klen = strcspn(p, "=&");
                _cleanup_free_ char *key = decode(p, MIN(klen, len));
                if (!key)
                        return -ENOMEM;
                if (streq(key, "password"))
                        return fail(ret_error, NO_PASSWORD);
                p += len;
                if (*p == '&')
                        p++;
        }

        /* And what libpq makes of it (its message may quote the URI: not shown). */
        if (pg_library_load() < 0) {
                if (ret_error)
                        *ret_error = "libpq (libpq.so.5, Debian package libpq5) cannot be loaded";
                return -ELIBACC;
        }
        _cleanup_free_ char *uri = NULL;
        if (asprintf(&uri, "postgresql:%s", location) < 0)
                return -ENOMEM;
        char *err = NULL;
        PQconninfoOption *opts = sym_PQconninfoParse(uri, &err);
        if (err)
                sym_PQfreemem(err);
        if (!opts)
                return fail(ret_error, EXPECTED);
        sym_PQconninfoFree(opts);
        return 0;
}

/* ---------------------------------------------------------------------------
 * Connections */

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* The first line of libpq's message, which names the host, never the password. */
static const char *first_line(PGconn *pg, char *buf, size_t size) {
        const char *m = pg ? sym_PQerrorMessage(pg) : "out of memory";
        size_t n = strcspn(m, "\n");
        (void) snprintf(buf, size, "%.*s", (int) MIN(n, size - 1), m);
        return buf;
}

/* The server's notices ("relation already exists, skipping") go to the
 * debug log, not to stderr as libpq's default would. */
static void notice(void *userdata, const char *message) {
        (void) userdata;
        log_debug("Store: server notice: %.*s", (int) strcspn(message, "\n"), message);
}

PGconn *pg_connect(struct stitch_store *s) {
        char buf[256];
        PGconn *pg = sym_PQconnectdbParams(s->keywords, s->values, 1);
        if (!pg || sym_PQstatus(pg) != CONNECTION_OK) {
                log_error("Store: cannot connect to %s: %s", s->described, first_line(pg, buf, sizeof(buf)));
                sym_PQfinish(pg);
                return NULL;
        }
        sym_PQsetNoticeProcessor(pg, notice, NULL);
        /* Our statements are prepared once per connection and run with
         * other values ever after: plan them once. Left to choose, the
         * server re-plans a login's user look-up at every bind (0.2 ms,
         * longer than running it), its generic plan being no worse. */
        PGresult *res = sym_PQexec(pg, "SET plan_cache_mode = force_generic_plan");
        if (sym_PQresultStatus(res) != PGRES_COMMAND_OK)
                log_debug("Store: %s: plan_cache_mode not set: %s", s->described, first_line(pg, buf, sizeof(buf)));
        sym_PQclear(res);
        return pg;
}

static void conn_free(struct pg_conn *c) {
        if (!c)
                return;
        sym_PQfinish(c->pg);
        free(c);
}

/* Connects, unless the last attempt failed within the backoff. */
static int conn_open(struct stitch_store *s, struct pg_conn **ret) {
        pthread_mutex_lock(&s->lock);
        bool wait = s->failures > 0 && now_usec() < s->retry_after_usec;
        pthread_mutex_unlock(&s->lock);
        if (wait)
                return -ENOTCONN;

        PGconn *pg = pg_connect(s);
        pthread_mutex_lock(&s->lock);
        if (!pg) {
                uint64_t backoff = RETRY_MIN_USEC << MIN(s->failures, 5u);
                s->failures++;
                s->retry_after_usec = now_usec() + MIN(backoff, RETRY_MAX_USEC);
        } else
                s->failures = 0;
        pthread_mutex_unlock(&s->lock);
        if (!pg)
                return -ENOTCONN;

        struct pg_conn *c = calloc(1, sizeof(*c));
        if (!c) {
                sym_PQfinish(pg);
                return -ENOMEM;
        }
        c->pg = pg;
        *ret = c;
        return 0;
}

/* A connection of the pool for one op; *ret_reused: it was idle before. */
static int pool_get(struct stitch_store *s, struct pg_conn **ret, bool *ret_reused) {
        struct pg_conn *c = NULL;

        pthread_mutex_lock(&s->lock);
        for (;;) {
                if (s->n_idle > 0) {
                        c = s->idle[--s->n_idle];
                        break;
                }
                if (s->n_open < PG_POOL_MAX) {
                        s->n_open++;
                        break;
                }
                pthread_cond_wait(&s->changed, &s->lock);
        }
        pthread_mutex_unlock(&s->lock);

        *ret_reused = c != NULL;
        if (c) {
                *ret = c;
                return 0;
        }
        int r = conn_open(s, &c);
        if (r < 0) {
                pthread_mutex_lock(&s->lock);
                s->n_open--;
                pthread_cond_signal(&s->changed);
                pthread_mutex_unlock(&s->lock);
                return r;
        }
        *ret = c;
        return 0;
}

/* Gives c back; a broken one is closed, and with it the idle ones, which
 * the loss that broke it broke too (they reconnect when next needed). */
static void pool_put(struct stitch_store *s, struct pg_conn *c) {
        struct pg_conn *dead[PG_POOL_MAX];
        unsigned n_dead = 0;

        bool broken = c->broken || sym_PQstatus(c->pg) != CONNECTION_OK || sym_PQtransactionStatus(c->pg) != PQTRANS_IDLE;
        pthread_mutex_lock(&s->lock);
        if (broken) {
                dead[n_dead++] = c;
                while (s->n_idle > 0)
                        dead[n_dead++] = s->idle[--s->n_idle];
                s->n_open -= n_dead;
        } else
                s->idle[s->n_idle++] = c;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
        for (unsigned i = 0; i < n_dead; i++)
                conn_free(dead[i]);
}

/* ---------------------------------------------------------------------------
 * Transactions */

static const char *begin_sql(enum pg_mode mode) {
        switch (mode) {
        case PG_SNAPSHOT:
                return "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
        case PG_READ:
        case PG_ONE_WRITE:
        case PG_WRITE:
        default:
                return "BEGIN ISOLATION LEVEL READ COMMITTED";
        }
}

/* An op inside the caller's transaction: a savepoint, so that a failed op
 * leaves nothing and the transaction goes on. */
static int tx_savepoint(struct stitch_store *h, pg_tx_fn fn, void *userdata) {
        struct pg_conn *c = h->tx_conn;
        int r, q;

        if (!h->tx_open)
                return -EINVAL; /* a dead handle */
        r = pg_exec_sql(c, "SAVEPOINT op", "savepoint");
        if (r < 0)
                return r;
        c->depth++;
        r = fn(c, userdata);
        if (r < 0) {
                q = pg_exec_sql(c, "ROLLBACK TO SAVEPOINT op", "rollback to savepoint");
                if (q < 0)
                        log_error_errno(q, "Store: rollback to savepoint failed: %m");
        }
        q = pg_exec_sql(c, "RELEASE SAVEPOINT op", "release savepoint");
        c->depth--;
        if (r == -EAGAIN)
                r = -EBUSY; /* a deadlock: the caller's transaction decides */
        return r >= 0 && q < 0 ? q : r;
}

int pg_tx(struct stitch_store *s, enum pg_mode mode, pg_tx_fn fn, void *userdata) {
        if (s->tx_of)
                return tx_savepoint(s, fn, userdata);

        for (unsigned attempt = 1;; attempt++) {
                struct pg_conn *c = NULL;
                bool reused = false, committing = false;
                int r;

                r = pool_get(s, &c, &reused);
                if (r < 0)
                        return r;
                /* One statement is a transaction by itself (autocommit). */
                bool autocommit = mode == PG_READ || mode == PG_ONE_WRITE;
                r = autocommit ? 0 : pg_exec_sql(c, begin_sql(mode), "begin");
                if (r >= 0 && autocommit) {
                        committing = mode == PG_ONE_WRITE;
                        r = fn(c, userdata);
                }
                else if (r >= 0) {
                        c->depth = 1;
                        r = fn(c, userdata);
                        if (r >= 0) {
                                committing = true;
                                int q = pg_exec_sql(c, "COMMIT", "commit");
                                if (q < 0)
                                        r = q;
                        }
                        if (r < 0 && !c->broken && sym_PQstatus(c->pg) == CONNECTION_OK &&
                            sym_PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
                                int q = pg_exec_sql(c, "ROLLBACK", "rollback");
                                if (q < 0)
                                        log_error_errno(q, "Store: rollback failed: %m");
                        }
                        c->depth = 0;
                }
                pool_put(s, c);

                if (attempt < TX_ATTEMPTS && r == -EAGAIN)
                        continue; /* a deadlock or serialization failure: nothing was written */
                if (attempt == 1 && r == -ENOTCONN && reused && !committing)
                        continue; /* an idle connection the server dropped: nothing was written */
                if (r == -EAGAIN)
                        return -EBUSY;
                return r;
        }
}

/* begin(): a handle that pins one pooled connection in its BEGIN. Handles
 * are kept (dead ones reused) until close(), so that a call with a dead
 * one is -EINVAL, not a use after free. */
int pg_begin(struct stitch_store *s, struct stitch_store **ret_tx) {
        struct stitch_store *h = NULL;
        struct pg_conn *c = NULL;
        bool reused = false;
        int r;

        if (!ret_tx)
                return -EINVAL;
        if (s->tx_of)
                return -EBUSY; /* not nestable */

        pthread_mutex_lock(&s->lock);
        for (struct stitch_store *i = s->tx_handles; i; i = i->tx_next)
                if (i->tx_open && pthread_equal(i->tx_thread, pthread_self())) {
                        pthread_mutex_unlock(&s->lock);
                        return -EBUSY; /* this thread's own ops would wait for its transaction's locks */
                }
        pthread_mutex_unlock(&s->lock);

        for (unsigned attempt = 1;; attempt++) {
                r = pool_get(s, &c, &reused);
                if (r < 0)
                        return r;
                r = pg_exec_sql(c, "BEGIN ISOLATION LEVEL READ COMMITTED", "begin");
                if (r >= 0)
                        break;
                pool_put(s, c);
                if (!(attempt == 1 && r == -ENOTCONN && reused))
                        return r;
        }
        c->depth = 1;

        pthread_mutex_lock(&s->lock);
        for (struct stitch_store *i = s->tx_handles; i && !h; i = i->tx_next)
                if (!i->tx_open && !i->tx_conn)
                        h = i;
        if (!h) {
                h = calloc(1, sizeof(*h));
                if (h) {
                        h->tx_of = s;
                        h->tx_next = s->tx_handles;
                        s->tx_handles = h;
                }
        }
        if (h) {
                h->tx_conn = c;
                h->tx_open = true;
                h->tx_thread = pthread_self();
        }
        pthread_mutex_unlock(&s->lock);
        if (!h) {
                (void) pg_exec_sql(c, "ROLLBACK", "rollback");
                c->depth = 0;
                pool_put(s, c);
                return log_oom();
        }
        *ret_tx = h;
        return 0;
}

static int finish(struct stitch_store *h, bool commit) {
        struct stitch_store *s;
        struct pg_conn *c;
        int r = 0;

        if (!h || !h->tx_of)
                return -EINVAL;
        s = h->tx_of;
        pthread_mutex_lock(&s->lock);
        c = h->tx_open ? h->tx_conn : NULL;
        h->tx_open = false;
        pthread_mutex_unlock(&s->lock);
        if (!c)
                return -EINVAL;

        if (commit)
                r = pg_exec_sql(c, "COMMIT", "commit");
        if ((!commit || r < 0) && !c->broken && sym_PQstatus(c->pg) == CONNECTION_OK &&
            sym_PQtransactionStatus(c->pg) != PQTRANS_IDLE)
                (void) pg_exec_sql(c, "ROLLBACK", "rollback");
        c->depth = 0;
        pool_put(s, c);

        pthread_mutex_lock(&s->lock);
        h->tx_conn = NULL; /* free for the next begin() */
        pthread_mutex_unlock(&s->lock);
        return r;
}

int pg_commit(struct stitch_store *tx) {
        return finish(tx, true);
}

void pg_rollback(struct stitch_store *tx) {
        (void) finish(tx, false);
}

/* ---------------------------------------------------------------------------
 * Opening */

/* Our defaults, before the URI (libpq: later values win). */
static const char *const default_keywords[] = {
        "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
        "tcp_user_timeout", "application_name",
};
static const char *const default_values[] = {
        "10", "1", "30", "10", "3", "30000", "stitchd",
};

static void store_free(struct stitch_store *s) {
        if (!s)
                return;
        for (unsigned i = 0; i < s->n_idle; i++)
                conn_free(s->idle[i]);
        for (struct stitch_store *h = s->tx_handles, *next; h; h = next) {
                next = h->tx_next;
                assert(!h->tx_open); /* every transaction ends before close() */
                free(h);
        }
        sym_PQfinish(s->feed);
        if (s->values)
                free((char *) s->values[ELEMENTSOF(default_keywords)]);
        free(s->keywords);
        free(s->values);
        free(s->described);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->changed);
        free(s);
}

static void store_freep(struct stitch_store **s) {
        store_free(*s);
}

int pg_open(const char *location, struct stitch_store **ret) {
        _cleanup_(store_freep) struct stitch_store *s = NULL;
        const char *error = NULL;
        char *uri = NULL;
        int r;

        if (!location || !ret)
                return -EINVAL;
        r = pg_validate_location(location, &error);
        if (r < 0)
                return log_error_errno(r, "Store specification rejected: %s.", error ?: "invalid location");

        s = calloc(1, sizeof(*s));
        if (!s)
                return log_oom();
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->changed, NULL);

        size_t n = ELEMENTSOF(default_keywords);
        s->keywords = calloc(n + 2, sizeof(char *));
        s->values = calloc(n + 2, sizeof(char *));
        if (!s->keywords || !s->values || asprintf(&uri, "postgresql:%s", location) < 0)
                return log_oom();
        for (size_t i = 0; i < n; i++) {
                s->keywords[i] = default_keywords[i];
                s->values[i] = default_values[i];
        }
        s->keywords[n] = "dbname"; /* expanded: the URI */
        s->values[n] = uri;
        s->described = stitch_store_describe_spec(uri);
        if (!s->described)
                return log_oom();

        struct pg_conn *c = NULL;
        r = conn_open(s, &c);
        if (r < 0)
                return r;
        s->n_open = 1;
        r = pg_migrate(c, s->described);
        if (r < 0) {
                conn_free(c);
                s->n_open = 0;
                return r;
        }
        s->idle[s->n_idle++] = c;

        *ret = TAKE_PTR(s);
        return 0;
}

void pg_close(struct stitch_store *s) {
        assert(!s || !s->tx_of); /* a transaction's handle ends with commit or rollback */
        if (s)
                assert(s->n_idle == s->n_open); /* no op is running */
        store_free(s);
}

/* ---------------------------------------------------------------------------
 * Schema */

struct version_args {
        int version;
};

static int schema_version_tx(struct pg_conn *c, void *userdata) {
        struct version_args *a = userdata;
        return pg_schema_version_of(c, &a->version);
}

int pg_schema_version(struct stitch_store *s, int *ret_version) {
        struct version_args a = {};
        if (!ret_version)
                return -EINVAL;
        int r = pg_tx(s, PG_READ, schema_version_tx, &a);
        if (r < 0)
                return r;
        *ret_version = a.version;
        return 0;
}

static int integrity_tx(struct pg_conn *c, void *userdata) {
        struct stitch_strv_builder *problems = userdata;
        stitch_strv_builder_done(problems); /* a retry starts over */
        return pg_integrity_check(c, problems);
}

int pg_store_integrity_check(struct stitch_store *s, char ***ret_problems) {
        struct stitch_strv_builder problems = {};

        if (!ret_problems)
                return -EINVAL;
        int r = pg_tx(s, PG_SNAPSHOT, integrity_tx, &problems);
        if (r < 0) {
                stitch_strv_builder_done(&problems);
                return r;
        }
        *ret_problems = stitch_strv_builder_finish(&problems);
        return *ret_problems ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------------------
 * The common shape of a one-row write */

struct write_one_args {
        enum pq_id id;
        const char *key;
        struct pg_arg arg;
        bool with_arg, must_match;
        enum stitch_store_event_kind kind;
};

static int write_one_tx(struct pg_conn *c, void *userdata) {
        const struct write_one_args *a = userdata;
        const struct pg_arg args[] = {PG_ARG_TEXT(a->key), a->arg};
        size_t n = a->with_arg ? 2 : 1;
        int r;

        if (a->must_match)
                r = pg_run_one(c, a->id, args, n);
        else
                r = pg_run(c, a->id, args, n, NULL);
        if (r >= 0 && a->kind >= 0)
                r = pg_event(c, a->kind, a->key, NULL);
        return r;
}

int pg_write_one(struct stitch_store *s, enum pq_id id, const char *key, struct pg_arg arg, bool with_arg,
                 bool must_match, enum stitch_store_event_kind kind) {
        if (!key || (arg.kind == PG_TEXT && !arg.p))
                return -EINVAL;
        struct write_one_args a = {id, key, arg, with_arg, must_match, kind};
        return pg_tx(s, kind >= 0 ? PG_WRITE : PG_READ, write_one_tx, &a);
}
