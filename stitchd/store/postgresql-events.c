/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PostgreSQL store: the change feed (store.h "the change feed").
 *
 * Events are rows of the events table, written by the ops in the
 * transaction of their change; a statement trigger on the table sends
 * NOTIFY stitch_events, which the server delivers at commit (one per
 * transaction: identical notifications fold). The feed connection
 * (feed_open) is a connection of its own, outside the pool, that LISTENs
 * on that channel and is never in a transaction, so it hears every commit
 * from every host. A notification only says "read events_since()". Ids
 * come from a sequence: a smaller id may commit after a larger one, so a
 * follower reads with an overlap (store.h). */

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "macro.h"
#include "store/postgresql.h"

#define FEED_CHECK_TIMEOUT_MSEC 2000

static int read_event_row(const PGresult *res, int row, void *ret) {
        _cleanup_(stitch_store_event_freep) struct stitch_store_event *e = calloc(1, sizeof(*e));
        int r;

        if (!e)
                return -ENOMEM;
        e->id = pg_col_int(res, row, 0);
        e->time = pg_col_int(res, row, 1);
        /* A kind this stitchd does not know (a newer one wrote it): _INVALID. */
        e->kind = stitch_store_event_kind_from_string(sym_PQgetvalue(res, row, 2));
        int n = sym_PQgetlength(res, row, 3);
        if (pg_col_null(res, row, 3) || n <= 0 || (size_t) n >= sizeof(e->subject))
                return log_error_errno(EIO, "Store: malformed event subject in the database.");
        memcpy(e->subject, sym_PQgetvalue(res, row, 3), (size_t) n);
        r = pg_col_strdup(res, row, 4, &e->data_json);
        if (r < 0)
                return r;
        *(struct stitch_store_event **) ret = TAKE_PTR(e);
        return 0;
}

struct since_args {
        int64_t after;
        int64_t limit;
        struct stitch_store_event **a;
        size_t n;
};

static int since_tx(struct pg_conn *c, void *userdata) {
        struct since_args *a = userdata;
        stitch_store_event_array_free(a->a, a->n);
        a->a = NULL;
        a->n = 0;
        return pg_read_list(c, PQ_EVENTS_SINCE, PG_ARGS(PG_ARG_INT(a->after), PG_ARG_INT(a->limit)), read_event_row,
                            (void ***) &a->a, &a->n);
}

int pg_events_since(struct stitch_store *s, int64_t after_id, size_t limit, struct stitch_store_event ***ret,
                    size_t *ret_n) {
        struct since_args a = {after_id, (int64_t) MIN(limit, (size_t) INT64_MAX), NULL, 0};

        if (!ret || !ret_n || limit == 0)
                return -EINVAL;
        int r = pg_tx(s, PG_READ, since_tx, &a);
        if (r < 0) {
                stitch_store_event_array_free(a.a, a.n);
                return r;
        }
        *ret = a.a;
        *ret_n = a.n;
        return 0;
}

static int last_id_tx(struct pg_conn *c, void *userdata) {
        int64_t *id = userdata;
        int r = pg_query(c, PQ_EVENTS_LAST_ID, PG_NO_ARGS, id);
        return r < 0 ? r : r == 0 ? -EIO : 0;
}

int pg_events_last_id(struct stitch_store *s, int64_t *ret_id) {
        int64_t id = 0;

        if (!ret_id)
                return -EINVAL;
        int r = pg_tx(s, PG_READ, last_id_tx, &id);
        if (r < 0)
                return r;
        *ret_id = id;
        return 0;
}

int pg_events_prune(struct stitch_store *s, int64_t before, size_t *ret_n) {
        return pg_prune(s, PQ_EVENTS_PRUNE, before, ret_n);
}

/* ---------------------------------------------------------------------------
 * Push: the feed connection */

/* Counts (and frees) the notifications libpq has read. */
static int take_notifies(PGconn *pg) {
        PGnotify *n;
        int count = 0;

        while ((n = sym_PQnotifies(pg))) {
                if (count < INT_MAX)
                        count++;
                sym_PQfreemem(n);
        }
        return count;
}

int pg_feed_open(struct stitch_store *s, int *ret_fd) {
        if (!ret_fd)
                return -EINVAL;
        if (s->tx_of)
                return -EINVAL;
        if (s->feed)
                return -EBUSY;

        PGconn *pg = pg_connect(s);
        if (!pg)
                return -ENOTCONN;
        /* The server is back: the pool need not wait out its backoff. */
        pthread_mutex_lock(&s->lock);
        s->failures = 0;
        pthread_mutex_unlock(&s->lock);
        /* Takes effect at once (autocommit): from here no commit is missed. */
        PGresult *res = sym_PQexec(pg, "LISTEN stitch_events");
        bool ok = sym_PQresultStatus(res) == PGRES_COMMAND_OK;
        sym_PQclear(res);
        if (!ok || sym_PQsetnonblocking(pg, 1) < 0 || sym_PQsocket(pg) < 0) {
                log_error("Store: cannot listen for changes on %s: %s", s->described,
                          sym_PQstatus(pg) == CONNECTION_BAD ? "connection lost" : "LISTEN failed");
                sym_PQfinish(pg);
                return -ENOTCONN;
        }
        s->feed = pg;
        s->feed_pending = 0;
        *ret_fd = sym_PQsocket(pg);
        return 0;
}

int pg_feed_drain(struct stitch_store *s) {
        if (!s->feed)
                return -ENOTCONN;
        /* Until the socket has nothing more: a notice may come just before
         * the end of the connection, which only the next read sees. */
        for (unsigned i = 0; i < 64; i++) {
                if (!sym_PQconsumeInput(s->feed) || sym_PQstatus(s->feed) == CONNECTION_BAD) {
                        log_warning("Store: the change feed connection to %s was lost.", s->described);
                        return -ENOTCONN;
                }
                struct pollfd p = {.fd = sym_PQsocket(s->feed), .events = POLLIN};
                if (poll(&p, 1, 0) <= 0)
                        break;
        }
        int n = take_notifies(s->feed);
        n = n > INT_MAX - s->feed_pending ? INT_MAX : n + s->feed_pending;
        s->feed_pending = 0;
        return n;
}

static int64_t now_msec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An empty query and its answer, within FEED_CHECK_TIMEOUT_MSEC. What the
 * connection reads meanwhile may hold notifications: kept for the next
 * feed_drain(). */
int pg_feed_check(struct stitch_store *s) {
        PGconn *pg = s->feed;
        int r = 0;

        if (!pg || sym_PQstatus(pg) == CONNECTION_BAD || !sym_PQsendQuery(pg, ""))
                return -ENOTCONN;
        int64_t deadline = now_msec() + FEED_CHECK_TIMEOUT_MSEC;
        for (;;) {
                int f = sym_PQflush(pg);
                if (f < 0)
                        return -ENOTCONN;
                if (f == 0 && !sym_PQisBusy(pg))
                        break;
                int64_t left = deadline - now_msec();
                if (left <= 0) {
                        log_warning("Store: the change feed connection to %s did not answer within %d ms.",
                                    s->described, FEED_CHECK_TIMEOUT_MSEC);
                        return -ENOTCONN;
                }
                struct pollfd p = {.fd = sym_PQsocket(pg), .events = POLLIN | (f > 0 ? POLLOUT : 0)};
                if (poll(&p, 1, (int) left) < 0 && errno != EINTR)
                        return -ENOTCONN;
                if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && !sym_PQconsumeInput(pg))
                        return -ENOTCONN;
        }
        PGresult *res;
        while ((res = sym_PQgetResult(pg))) {
                ExecStatusType st = sym_PQresultStatus(res);
                if (st != PGRES_EMPTY_QUERY && st != PGRES_COMMAND_OK)
                        r = -ENOTCONN;
                sym_PQclear(res);
        }
        int n = take_notifies(pg);
        s->feed_pending = n > INT_MAX - s->feed_pending ? INT_MAX : s->feed_pending + n;
        if (sym_PQstatus(pg) == CONNECTION_BAD)
                r = -ENOTCONN;
        return r;
}

void pg_feed_close(struct stitch_store *s) {
        sym_PQfinish(s->feed);
        s->feed = NULL;
        s->feed_pending = 0;
}
