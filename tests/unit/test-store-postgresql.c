/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PostgreSQL store's own cases, beyond the contract suite (which
 * test-store runs against it): two stores on one database see each other's
 * writes and race fairly, the change feed hears another store's commit and
 * only at commit, and a killed server gives -ENOTCONN at once, after which
 * the pool and the feed recover when it is back. Run by
 * test-store-postgresql.sh, which provides the server:
 *   STITCH_TEST_PG_SPEC   a store spec, @NAME@ standing for a schema per test
 *   STITCH_TEST_PG_BAD_SPEC  a spec naming a server that is not there
 *   STITCH_TEST_PG_STOP, STITCH_TEST_PG_START  shell commands */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "log.h"
#include "macro.h"
#include "store/store.h"

#define T0 INT64_C(1700000000)

static const struct stitch_store_ops *ops = &stitch_store_postgresql;

static int64_t now_msec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The spec with @NAME@ replaced by name. */
static void spec_for(const char *name, char *buf, size_t size) {
        const char *t = getenv("STITCH_TEST_PG_SPEC");
        assert_non_null(t);
        const char *at = strstr(t, "@NAME@");
        assert_non_null(at);
        int n = snprintf(buf, size, "%.*s%s%s", (int) (at - t), t, name, at + 6);
        assert_true(n > 0 && (size_t) n < size);
}

static struct stitch_store *open_store(const char *name) {
        char spec[2048];
        const struct stitch_store_ops *o = NULL;
        struct stitch_store *s = NULL;

        spec_for(name, spec, sizeof(spec));
        assert_int_equal(stitch_store_open(spec, &o, &s), 0);
        assert_ptr_equal(o, &stitch_store_postgresql);
        return s;
}

static int create_user(struct stitch_store *s, unsigned n) {
        struct stitch_identity ident = {.provider_type = (char *) "anon-user", .provider_id = (char *) "anon-user"};
        struct stitch_user u = {
                .type = (char *) "normal",
                .data_json = (char *) "{}",
                .creation_date = T0,
                .identities = &ident,
                .n_identities = 1,
        };
        snprintf(u.id, sizeof(u.id), "%08x%016x", 1u, n);
        snprintf(ident.id, sizeof(ident.id), "%08x%016x", 2u, n);
        return ops->user_create(s, &u, NULL);
}

static void user_id(char dst[static STITCH_ID_LEN + 1], unsigned n) {
        snprintf(dst, STITCH_ID_LEN + 1, "%08x%016x", 1u, n);
}

static void make_hash(uint8_t h[static STITCH_HASH_LEN], unsigned n) {
        memset(h, 0x5a, STITCH_HASH_LEN);
        memcpy(h, &n, sizeof(n));
}

/* Waits up to ms for fd to be readable: 1 if it is. */
static int readable(int fd, int ms) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, ms);
        assert_true(r >= 0);
        return r > 0;
}

/* feed_drain() until it reports a notification, polling the fd, within ms. */
static int drain_until_notified(struct stitch_store *s, int fd, int ms) {
        int64_t deadline = now_msec() + ms;
        for (;;) {
                int left = (int) (deadline - now_msec());
                if (left <= 0 || !readable(fd, left))
                        return 0;
                int r = ops->feed_drain(s);
                if (r != 0)
                        return r;
        }
}

/* ------------------------------------------------------------------------ */

/* A write on one store is seen by another on the same database. */
static void test_two_stores(void **state) {
        (void) state;
        struct stitch_store *a = open_store("stitch_two_stores"), *b = open_store("stitch_two_stores");
        struct stitch_user *u = NULL;
        char id[STITCH_ID_LEN + 1];
        int version = 0;

        assert_int_equal(ops->schema_version(b, &version), 0);
        assert_int_equal(version, 3);
        assert_int_equal(create_user(a, 1), 0);
        user_id(id, 1);
        assert_int_equal(ops->user_find(b, STITCH_USER_BY_ID, id, &u), 0);
        assert_string_equal(u->id, id);
        u = stitch_user_free(u);
        assert_int_equal(create_user(b, 1), -EEXIST);
        assert_int_equal(ops->user_set_disabled(b, id, true), 0);
        assert_int_equal(ops->user_find(a, STITCH_USER_BY_ID, id, &u), 0);
        assert_true(u->disabled);
        u = stitch_user_free(u);

        char **problems = NULL;
        assert_int_equal(ops->integrity_check(a, &problems), 0);
        assert_int_equal(stitch_strv_length(problems), 0);
        problems = stitch_strv_free(problems);
        ops->close(a);
        ops->close(b);
}

/* Two hosts rotate one session's refresh token at once: one wins, the other
 * is told -ESTALE; never both. */
struct refresher {
        struct stitch_store *s;
        const char *sid;
        const uint8_t *expected;
        uint8_t new_hash[STITCH_HASH_LEN];
        pthread_barrier_t *barrier;
        int result;
};

static void *refresh_thread(void *p) {
        struct refresher *r = p;
        pthread_barrier_wait(r->barrier);
        r->result = ops->session_refreshed(r->s, r->sid, T0 + 500, T0 + 10, r->expected, r->new_hash);
        return NULL;
}

static void test_refresh_race(void **state) {
        (void) state;
        struct stitch_store *a = open_store("stitch_refresh_race"), *b = open_store("stitch_refresh_race");
        pthread_barrier_t barrier;

        assert_int_equal(create_user(a, 1), 0);
        for (unsigned round = 0; round < 20; round++) {
                struct stitch_session se = {
                        .provider_type = (char *) "anon-user",
                        .creation_date = T0,
                        .refresh_expires = T0 + 1000,
                        .access_expires = T0 + 100,
                        .last_used = T0,
                        .uid = -1,
                };
                uint8_t h[STITCH_HASH_LEN];
                snprintf(se.id, sizeof(se.id), "%08x%016x", 3u, round);
                user_id(se.user_id, 1);
                snprintf(se.device_id, sizeof(se.device_id), "%08x%016x", 4u, round);
                make_hash(h, 1000 + round);
                memcpy(se.refresh_hash, h, sizeof(h));
                assert_int_equal(ops->session_create(a, &se, 0, NULL), 0);

                struct refresher r[2] = {{.s = a, .sid = se.id, .expected = h, .barrier = &barrier},
                                         {.s = b, .sid = se.id, .expected = h, .barrier = &barrier}};
                make_hash(r[0].new_hash, 2000 + round);
                make_hash(r[1].new_hash, 3000 + round);
                pthread_t t[2];
                assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
                for (int i = 0; i < 2; i++)
                        assert_int_equal(pthread_create(&t[i], NULL, refresh_thread, &r[i]), 0);
                for (int i = 0; i < 2; i++)
                        assert_int_equal(pthread_join(t[i], NULL), 0);
                pthread_barrier_destroy(&barrier);
                assert_true((r[0].result == 0 && r[1].result == -ESTALE) ||
                            (r[0].result == -ESTALE && r[1].result == 0));

                /* The winner's token is current, the old one retired. */
                struct stitch_session *got = NULL;
                const uint8_t *won = r[0].result == 0 ? r[0].new_hash : r[1].new_hash;
                assert_int_equal(ops->session_find_by_refresh_hash(b, won, &got), 0);
                got = stitch_session_free(got);
                assert_int_equal(ops->session_find_by_retired_refresh_hash(a, h, &got), 0);
                got = stitch_session_free(got);
        }
        ops->close(a);
        ops->close(b);
}

/* Checks that hold at their write across hosts: two stores creating the
 * user's last allowed API key at once never both get it (the user row is
 * locked), and two rotating the signing key at once leave one active key
 * (the table is locked), both rotations landing. */
struct racer {
        struct stitch_store *s;
        unsigned n;
        pthread_barrier_t *barrier;
        int result;
};

static struct stitch_apikey race_key(unsigned n, char name[static 32]) {
        struct stitch_apikey k = {.creation_date = T0 + n, .name = name};
        snprintf(name, 32, "k%u", n);
        snprintf(k.id, sizeof(k.id), "%08x%016x", 5u, n);
        user_id(k.user_id, 1);
        make_hash(k.hash, 5000 + n);
        return k;
}

static void *key_thread(void *p) {
        struct racer *m = p;
        char name[32];
        struct stitch_apikey k = race_key(m->n, name);
        pthread_barrier_wait(m->barrier);
        m->result = ops->apikey_create(m->s, &k);
        return NULL;
}

static void *rotate_thread(void *p) {
        struct racer *m = p;
        static const uint8_t secret[] = {9, 8, 7};
        struct stitch_signing_key key = {.alg = (char *) "HS256", .secret = (uint8_t *) secret,
                                         .secret_len = sizeof(secret), .created = T0 + m->n};
        snprintf(key.kid, sizeof(key.kid), "kid-%u", m->n);
        pthread_barrier_wait(m->barrier);
        m->result = ops->key_rotate(m->s, &key);
        return NULL;
}

static void race(struct stitch_store *a, struct stitch_store *b, unsigned n, void *(*fn)(void *), int ret[2]) {
        pthread_barrier_t barrier;
        pthread_t t[2];
        struct racer m[2] = {{.s = a, .n = n, .barrier = &barrier}, {.s = b, .n = n + 1, .barrier = &barrier}};

        assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
        for (int i = 0; i < 2; i++)
                assert_int_equal(pthread_create(&t[i], NULL, fn, &m[i]), 0);
        for (int i = 0; i < 2; i++)
                assert_int_equal(pthread_join(t[i], NULL), 0);
        pthread_barrier_destroy(&barrier);
        ret[0] = m[0].result;
        ret[1] = m[1].result;
}

static void test_cross_host_checks(void **state) {
        (void) state;
        struct stitch_store *a = open_store("stitch_cross_host"), *b = open_store("stitch_cross_host");
        char id[STITCH_ID_LEN + 1], name[32];
        int r[2];
        size_t n = 0;

        assert_int_equal(create_user(a, 1), 0);
        user_id(id, 1);
        for (unsigned i = 0; i + 1 < STITCH_MAX_USER_APIKEYS; i++) {
                struct stitch_apikey k = race_key(i, name);
                assert_int_equal(ops->apikey_create(a, &k), 0);
        }
        for (unsigned round = 0; round < 30; round++) {
                unsigned first = 1000 + 2 * round;
                race(a, b, first, key_thread, r);
                assert_true((r[0] == 0 && r[1] == -EDQUOT) || (r[0] == -EDQUOT && r[1] == 0));
                struct stitch_apikey k = race_key(r[0] == 0 ? first : first + 1, name);
                assert_int_equal(ops->apikey_delete(b, k.id), 0);
        }

        for (unsigned round = 0; round < 10; round++) {
                race(a, b, 100 + 2 * round, rotate_thread, r);
                assert_int_equal(r[0], 0);
                assert_int_equal(r[1], 0);
        }
        struct stitch_signing_key **sk = NULL;
        assert_int_equal(ops->key_list(a, &sk, &n), 0);
        assert_int_equal(n, 20);
        unsigned active = 0;
        for (size_t i = 0; i < n; i++)
                active += sk[i]->retired == 0;
        assert_int_equal(active, 1);
        stitch_signing_key_array_free(sk, n);
        ops->close(a);
        ops->close(b);
}

/* The feed hears another store's commit, and only at commit. */
static void test_feed(void **state) {
        (void) state;
        struct stitch_store *a = open_store("stitch_feed"), *b = open_store("stitch_feed");
        struct stitch_store *tx = NULL;
        struct stitch_store_event **ev = NULL;
        size_t n = 0;
        char id[STITCH_ID_LEN + 1];
        int fd = -1, fd2 = -1;

        assert_int_equal(ops->feed_open(a, &fd), 0);
        assert_true(fd >= 0);
        assert_int_equal(ops->feed_open(a, &fd2), -EBUSY);
        assert_int_equal(ops->feed_check(a), 0);
        assert_int_equal(ops->feed_drain(a), 0);

        assert_int_equal(create_user(b, 1), 0); /* no event: nothing to hear */
        user_id(id, 1);

        /* Inside a transaction: nothing yet, not even after a round trip. */
        assert_int_equal(ops->begin(b, &tx), 0);
        assert_int_equal(ops->user_set_disabled(tx, id, true), 0);
        assert_int_equal(ops->feed_check(a), 0);
        assert_int_equal(ops->feed_drain(a), 0);
        assert_int_equal(ops->commit(tx), 0);
        assert_true(drain_until_notified(a, fd, 10000) > 0);
        assert_int_equal(ops->events_since(a, 0, 100, &ev, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(ev[0]->subject, id);
        assert_int_equal(ev[0]->kind, STITCH_STORE_EVENT_USER_DISABLED);
        stitch_store_event_array_free(ev, n);

        /* A rolled back one is never heard; the next commit is. */
        assert_int_equal(ops->begin(b, &tx), 0);
        assert_int_equal(ops->user_set_disabled(tx, id, false), 0);
        ops->rollback(tx);
        assert_int_equal(ops->feed_check(a), 0);
        assert_int_equal(ops->feed_drain(a), 0);
        assert_int_equal(ops->session_revoke_user(b, id, T0, "disable", NULL), 0); /* ends nothing: no event */
        assert_int_equal(ops->user_delete(b, id), 0);
        assert_true(drain_until_notified(a, fd, 10000) > 0);
        int64_t last = 0;
        assert_int_equal(ops->events_last_id(a, &last), 0);
        assert_true(last >= 2);

        /* A notification read by feed_check() is kept for feed_drain(). */
        assert_int_equal(create_user(b, 2), 0);
        user_id(id, 2);
        assert_int_equal(ops->user_set_disabled(b, id, true), 0);
        int64_t deadline = now_msec() + 10000;
        int heard = 0;
        while (!heard && now_msec() < deadline) {
                assert_int_equal(ops->feed_check(a), 0);
                heard = ops->feed_drain(a);
        }
        assert_true(heard > 0);

        ops->feed_close(a);
        assert_int_equal(ops->feed_drain(a), -ENOTCONN);
        assert_int_equal(ops->feed_open(a, &fd), 0);
        ops->feed_close(a);
        ops->close(a);
        ops->close(b);
}

/* Two daemons starting at once on an empty schema: both migrate-or-wait
 * (an advisory lock), neither fails. */
struct opener {
        pthread_barrier_t *barrier;
        struct stitch_store *s;
        int result;
};

static void *open_thread(void *p) {
        struct opener *o = p;
        char spec[2048];
        const struct stitch_store_ops *o_ops = NULL;
        spec_for("stitch_concurrent_open", spec, sizeof(spec));
        pthread_barrier_wait(o->barrier);
        o->result = stitch_store_open(spec, &o_ops, &o->s);
        return NULL;
}

static void test_concurrent_open(void **state) {
        (void) state;
        pthread_barrier_t barrier;
        struct opener o[4];
        pthread_t t[4];

        assert_int_equal(pthread_barrier_init(&barrier, NULL, 4), 0);
        for (int i = 0; i < 4; i++) {
                o[i] = (struct opener) {.barrier = &barrier};
                assert_int_equal(pthread_create(&t[i], NULL, open_thread, &o[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
                assert_int_equal(pthread_join(t[i], NULL), 0);
                assert_int_equal(o[i].result, 0);
        }
        pthread_barrier_destroy(&barrier);
        assert_int_equal(create_user(o[0].s, 1), 0);
        assert_int_equal(create_user(o[3].s, 1), -EEXIST);
        for (int i = 0; i < 4; i++)
                ops->close(o[i].s);
}

/* The integrity check finds what is wrong: a live session whose user is
 * gone, a schema version not this stitchd's (which open() refuses when
 * it is newer). */
static void test_integrity(void **state) {
        (void) state;
        struct stitch_store *a = open_store("stitch_integrity");
        char **problems = NULL, id[STITCH_ID_LEN + 1], spec[2048];
        struct stitch_session se = {
                .provider_type = (char *) "anon-user",
                .creation_date = T0,
                .refresh_expires = (int64_t) time(NULL) + 3600,
                .access_expires = (int64_t) time(NULL) + 600,
                .last_used = T0,
                .uid = -1,
        };

        assert_int_equal(create_user(a, 1), 0);
        user_id(id, 1);
        snprintf(se.id, sizeof(se.id), "%08x%016x", 3u, 1u);
        memcpy(se.user_id, id, sizeof(se.user_id));
        snprintf(se.device_id, sizeof(se.device_id), "%08x%016x", 4u, 1u);
        make_hash(se.refresh_hash, 1);
        assert_int_equal(ops->session_create(a, &se, 0, NULL), 0);
        assert_int_equal(ops->integrity_check(a, &problems), 0);
        assert_int_equal(stitch_strv_length(problems), 0);
        problems = stitch_strv_free(problems);

        /* The core ends a user's sessions before it deletes the user; here it did not. */
        assert_int_equal(ops->user_delete(a, id), 0);
        assert_int_equal(ops->integrity_check(a, &problems), 0);
        assert_int_equal(stitch_strv_length(problems), 1);
        assert_non_null(strstr(problems[0], "live sessions of users that do not exist"));
        problems = stitch_strv_free(problems);
        assert_int_equal(ops->session_revoke(a, se.id, T0 + 1, "delete"), 1);
        assert_int_equal(ops->integrity_check(a, &problems), 0);
        assert_int_equal(stitch_strv_length(problems), 0);
        problems = stitch_strv_free(problems);

        /* A schema from a newer stitchd. */
        spec_for("stitch_integrity", spec, sizeof(spec));
        PGconn *pg = PQconnectdb(spec);
        assert_int_equal(PQstatus(pg), CONNECTION_OK);
        PGresult *res = PQexec(pg, "UPDATE schema_version SET version = 99");
        assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
        PQclear(res);
        assert_int_equal(ops->integrity_check(a, &problems), 0);
        assert_int_equal(stitch_strv_length(problems), 1);
        assert_non_null(strstr(problems[0], "schema version 99"));
        problems = stitch_strv_free(problems);
        const struct stitch_store_ops *o = NULL;
        struct stitch_store *b = NULL;
        assert_int_equal(stitch_store_open(spec, &o, &b), -EIO);
        /* A version 1 database: migrated on open (1 -> 2 adds an index, 2 -> 3 remakes it). */
        res = PQexec(pg, "DROP INDEX sessions_live_of_user; UPDATE schema_version SET version = 1");
        assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
        PQclear(res);
        assert_int_equal(stitch_store_open(spec, &o, &b), 0);
        int version = 0;
        assert_int_equal(ops->schema_version(b, &version), 0);
        assert_int_equal(version, 3);
        res = PQexec(pg, "SELECT 1 FROM pg_indexes "
                         "WHERE indexname = 'sessions_live_of_user' AND schemaname = current_schema()");
        assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
        assert_int_equal(PQntuples(res), 1);
        PQclear(res);
        PQfinish(pg);
        ops->close(b);
        ops->close(a);
}

/* Runs the shell command the script put in the environment variable 'what'. */
static void run(const char *what) {
        const char *cmd = getenv(what);
        int status = 0;

        assert_non_null(cmd);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
                _exit(127);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A killed server: ops fail at once with -ENOTCONN, so does the feed; when
 * the server is back, the pool reconnects by itself and the feed opens again. */
static void test_killed_server(void **state) {
        (void) state;
        struct stitch_store *a = open_store("stitch_killed");
        struct stitch_user *u = NULL;
        char id[STITCH_ID_LEN + 1], spec[2048];
        int fd = -1;

        assert_int_equal(create_user(a, 1), 0);
        user_id(id, 1);
        /* Several pooled connections, all of which the kill breaks. */
        struct stitch_store *tx1 = NULL, *tx2 = NULL;
        assert_int_equal(ops->begin(a, &tx1), 0);
        assert_int_equal(ops->user_find(a, STITCH_USER_BY_ID, id, &u), 0);
        u = stitch_user_free(u);
        assert_int_equal(ops->commit(tx1), 0);
        (void) tx2;
        assert_int_equal(ops->feed_open(a, &fd), 0);

        run("STITCH_TEST_PG_STOP");

        int64_t t = now_msec();
        assert_int_equal(ops->user_find(a, STITCH_USER_BY_ID, id, &u), -ENOTCONN);
        assert_int_equal(create_user(a, 2), -ENOTCONN);
        assert_int_equal(ops->begin(a, &tx1), -ENOTCONN);
        assert_true(now_msec() - t < 5000); /* promptly, not after a long timeout */
        assert_true(readable(fd, 5000)); /* the server closed it */
        assert_int_equal(ops->feed_drain(a), -ENOTCONN);
        assert_int_equal(ops->feed_check(a), -ENOTCONN);
        ops->feed_close(a);
        assert_int_equal(ops->feed_open(a, &fd), -ENOTCONN);
        /* Opening a store while the server is down fails too. */
        const struct stitch_store_ops *o = NULL;
        struct stitch_store *other = NULL;
        spec_for("stitch_killed", spec, sizeof(spec));
        assert_int_equal(stitch_store_open(spec, &o, &other), -ENOTCONN);

        run("STITCH_TEST_PG_START");

        /* Back within the reconnect backoff. */
        int64_t deadline = now_msec() + 30000;
        int r;
        while ((r = ops->user_find(a, STITCH_USER_BY_ID, id, &u)) == -ENOTCONN && now_msec() < deadline)
                (void) poll(NULL, 0, 50);
        assert_int_equal(r, 0);
        u = stitch_user_free(u);
        assert_int_equal(create_user(a, 2), 0);
        assert_int_equal(ops->feed_open(a, &fd), 0);
        assert_int_equal(ops->feed_check(a), 0);
        ops->feed_close(a);
        ops->close(a);
}

/* No server there: -ENOTCONN, and the log never shows a password. */
static char logged[8192];
static void capture(int priority, int error, const char *file, int line, const char *func, const char *message) {
        (void) priority, (void) error, (void) file, (void) line, (void) func;
        size_t n = strlen(logged);
        snprintf(logged + n, sizeof(logged) - n, "%s\n", message);
}

static void test_no_server(void **state) {
        (void) state;
        const struct stitch_store_ops *o = NULL;
        struct stitch_store *s = NULL;
        const char *bad = getenv("STITCH_TEST_PG_BAD_SPEC");
        assert_non_null(bad);

        logged[0] = 0;
        stitch_log_set_sink(capture);
        stitch_log_set_max_level(LOG_DEBUG);
        int64_t t = now_msec();
        assert_int_equal(stitch_store_open(bad, &o, &s), -ENOTCONN);
        assert_true(now_msec() - t < 5000);
        assert_null(s);
        /* A password in the spec is refused before anything connects. */
        assert_int_equal(stitch_store_open("postgresql://stitch:hunter2@/stitch_test", &o, &s), -EINVAL);
        assert_int_equal(stitch_store_open("postgres://stitch@/stitch_test?password=hunter2", &o, &s), -EINVAL);
        stitch_log_set_sink(NULL);
        stitch_log_set_max_level(getenv("STITCH_TEST_LOG") ? LOG_DEBUG : LOG_CRIT);
        assert_non_null(strstr(logged, "cannot connect"));
        assert_non_null(strstr(logged, "passfile"));
        assert_null(strstr(logged, "hunter2"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_two_stores),
                cmocka_unit_test(test_refresh_race),
                cmocka_unit_test(test_cross_host_checks),
                cmocka_unit_test(test_feed),
                cmocka_unit_test(test_concurrent_open),
                cmocka_unit_test(test_integrity),
                cmocka_unit_test(test_no_server),
                cmocka_unit_test(test_killed_server),
        };

        if (!getenv("STITCH_TEST_PG_SPEC")) {
                printf("SKIP: run by test-store-postgresql.sh, which provides a server\n");
                return 77;
        }
        stitch_log_set_max_level(getenv("STITCH_TEST_LOG") ? LOG_DEBUG : LOG_CRIT);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
