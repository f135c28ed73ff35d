/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitch-bench --scale: login, verify and account-check latencies with
 * 1,000, 100,000 and 1,000,000 users, then with 1,000,000 stored sessions too.
 * Rows are written straight into the daemon's SQLite store while the daemon
 * is stopped (schema: stitchd/store/sqlite.c), in one transaction with
 * prepared statements; every seeded user gets the same precomputed argon2id
 * hash (the bench's baseline hash, at the daemon's parameters). */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "bench.h"
#include "macro.h"
#include "wire.h"

#define SEED_USER_ID "5eed%020" PRIx64
#define SEED_IDENTITY_ID "5eee%020" PRIx64
#define SEED_SESSION_ID "5eef%020" PRIx64
#define SEED_DEVICE_ID "5ef0%020" PRIx64
#define PROBE_SESSION_ID "5ef1%02x%018" PRIx64
#define N_PROBES 256
#define SEED_UNIX_NAME "su%07" PRIu64
#define SEED_EMAIL "s%07" PRIu64 "@scale.invalid"

static int sql_fail(sqlite3 *db, const char *what) {
        fprintf(stderr, "stitch-bench: seeding (%s): %s\n", what, db ? sqlite3_errmsg(db) : "?");
        return -EIO;
}

static int seed_open(const char *path, sqlite3 **ret) {
        sqlite3 *db = NULL;
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
                int r = sql_fail(db, "open");
                sqlite3_close(db);
                return r;
        }
        /* The daemon is stopped and this is a throw-away store: no journal,
         * no fsync, a big cache. WAL mode is restored before closing. */
        if (sqlite3_exec(db,
                         "PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
                         "PRAGMA cache_size = -524288; PRAGMA foreign_keys = OFF;",
                         NULL, NULL, NULL) != SQLITE_OK) {
                int r = sql_fail(db, "pragmas");
                sqlite3_close(db);
                return r;
        }
        *ret = db;
        return 0;
}

static int seed_close(sqlite3 *db) {
        int r = 0;
        if (sqlite3_exec(db, "PRAGMA journal_mode = WAL;", NULL, NULL, NULL) != SQLITE_OK)
                r = sql_fail(db, "journal_mode");
        sqlite3_close(db);
        return r;
}

static int seed_users(sqlite3 *db, const char *hash, uint64_t from, uint64_t to) {
        sqlite3_stmt *u = NULL, *i = NULL, *p = NULL;
        int64_t now = (int64_t) time(NULL);
        int r = -EIO;

        if (sqlite3_prepare_v2(db,
                               "INSERT INTO users (id, type, email, name, unix_name, data, disabled, creation_date, "
                               "last_authentication_date) VALUES (?1, 'normal', ?2, NULL, ?3, ?4, 0, ?5, 0)",
                               -1, &u, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db,
                               "INSERT INTO identities (id, user_id, provider_type, provider_id, data) "
                               "VALUES (?1, ?2, 'local-userpass', 'local-userpass', ?3)",
                               -1, &i, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "INSERT INTO passwords (user_id, hash) VALUES (?1, ?2)", -1, &p, NULL) != SQLITE_OK) {
                r = sql_fail(db, "prepare users");
                goto finish;
        }
        if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
                r = sql_fail(db, "begin");
                goto finish;
        }
        for (uint64_t n = from; n < to; n++) {
                char id[32], iid[32], email[64], name[32], data[96];
                snprintf(id, sizeof(id), SEED_USER_ID, n);
                snprintf(iid, sizeof(iid), SEED_IDENTITY_ID, n);
                snprintf(email, sizeof(email), SEED_EMAIL, n);
                snprintf(name, sizeof(name), SEED_UNIX_NAME, n);
                snprintf(data, sizeof(data), "{\"email\":\"%s\"}", email);

                sqlite3_reset(u);
                sqlite3_reset(i);
                sqlite3_reset(p);
                if (sqlite3_bind_text(u, 1, id, -1, SQLITE_STATIC) || sqlite3_bind_text(u, 2, email, -1, SQLITE_STATIC) ||
                    sqlite3_bind_text(u, 3, name, -1, SQLITE_STATIC) || sqlite3_bind_text(u, 4, data, -1, SQLITE_STATIC) ||
                    sqlite3_bind_int64(u, 5, now) || sqlite3_step(u) != SQLITE_DONE) {
                        r = sql_fail(db, "users");
                        goto rollback;
                }
                if (sqlite3_bind_text(i, 1, iid, -1, SQLITE_STATIC) || sqlite3_bind_text(i, 2, id, -1, SQLITE_STATIC) ||
                    sqlite3_bind_text(i, 3, data, -1, SQLITE_STATIC) || sqlite3_step(i) != SQLITE_DONE) {
                        r = sql_fail(db, "identities");
                        goto rollback;
                }
                if (sqlite3_bind_text(p, 1, id, -1, SQLITE_STATIC) || sqlite3_bind_text(p, 2, hash, -1, SQLITE_STATIC) ||
                    sqlite3_step(p) != SQLITE_DONE) {
                        r = sql_fail(db, "passwords");
                        goto rollback;
                }
        }
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
                r = sql_fail(db, "commit");
                goto rollback;
        }
        r = 0;
        goto finish;
rollback:
        (void) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
finish:
        sqlite3_finalize(u);
        sqlite3_finalize(i);
        sqlite3_finalize(p);
        return r;
}

/* Live, closed (not open PAM) sessions spread over the first n_users users;
 * with probe >= 0, N_PROBES sessions of users spread evenly over the table,
 * whose tokens (Token.Get) drive the Verify measurement of that point. */
static int seed_sessions_full(sqlite3 *db, uint64_t n_users, uint64_t from, uint64_t to, int probe) {
        sqlite3_stmt *s = NULL;
        int64_t now = (int64_t) time(NULL);
        int r = -EIO;

        if (sqlite3_prepare_v2(db,
                               "INSERT INTO sessions (id, user_id, device_id, provider_type, service, rhost, tty, "
                               "refresh_hash, creation_date, refresh_expires, access_expires, last_used, revoked, "
                               "revoked_at, revoked_reason, open, leader_pid, uid) VALUES (?1, ?2, ?3, "
                               "'local-userpass', 'stitch-bench', NULL, NULL, ?4, ?5, ?6, ?7, ?5, 0, 0, NULL, 0, 0, -1)",
                               -1, &s, NULL) != SQLITE_OK)
                return sql_fail(db, "prepare sessions");
        if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
                r = sql_fail(db, "begin");
                goto finish;
        }
        for (uint64_t n = from; n < to; n++) {
                char id[32], uid[32], dev[32], seed[48];
                uint8_t hash[SHA256_DIGEST_LENGTH];
                if (probe >= 0) {
                        snprintf(id, sizeof(id), PROBE_SESSION_ID, (unsigned) probe, n);
                        snprintf(uid, sizeof(uid), SEED_USER_ID, (n * n_users / N_PROBES + (uint64_t) probe) % n_users);
                } else {
                        snprintf(id, sizeof(id), SEED_SESSION_ID, n);
                        snprintf(uid, sizeof(uid), SEED_USER_ID, n % n_users);
                }
                snprintf(dev, sizeof(dev), SEED_DEVICE_ID, n);
                int l = snprintf(seed, sizeof(seed), "%s-%" PRIu64, id, n);
                SHA256((const unsigned char *) seed, (size_t) l, hash);
                sqlite3_reset(s);
                if (sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC) || sqlite3_bind_text(s, 2, uid, -1, SQLITE_STATIC) ||
                    sqlite3_bind_text(s, 3, dev, -1, SQLITE_STATIC) || sqlite3_bind_blob(s, 4, hash, 32, SQLITE_STATIC) ||
                    sqlite3_bind_int64(s, 5, now) || sqlite3_bind_int64(s, 6, now + 60 * 86400) ||
                    sqlite3_bind_int64(s, 7, now + 1800) || sqlite3_step(s) != SQLITE_DONE) {
                        r = sql_fail(db, "sessions");
                        (void) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
                        goto finish;
                }
        }
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
                r = sql_fail(db, "commit");
                (void) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
                goto finish;
        }
        r = 0;
finish:
        sqlite3_finalize(s);
        return r;
}

static int seed_sessions(sqlite3 *db, uint64_t n_users, uint64_t from, uint64_t to) {
        return seed_sessions_full(db, n_users, from, to, -1);
}

/* Deterministic pseudo-random user indexes (xorshift), the same in every run. */
static uint64_t next_random(uint64_t *state) {
        uint64_t x = *state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return *state = x;
}

struct scale_point {
        const char *label;
        unsigned index;
        uint64_t users, sessions;
        double login_us, login_p99, verify_us, verify_p99, authorize_us, authorize_p99;
        double hash_us; /* in-process argon2id, interleaved with the logins */
        double startup_ms, hwm, rss, db_mib;
};

static int measure_point(struct bench *b, struct scale_point *pt) {
        unsigned n_login = b->smoke ? 2 : 40, n_fast = b->smoke ? 200 : 10000;
        struct samples login = {0}, verify = {0}, authz = {0}, hash = {0};
        uint64_t rnd = 0x9e3779b97f4a7c15ULL ^ pt->users;
        struct wire_conn c;
        int r;

        r = wire_conn_open(&c, b->auth_socket);
        if (r < 0)
                return r;

        /* Password logins of random seeded users. */
        for (unsigned i = 0; i < n_login; i++) {
                char name[32];
                snprintf(name, sizeof(name), SEED_UNIX_NAME, next_random(&rnd) % pt->users);
                cJSON *p = cJSON_CreateObject();
                cJSON_AddStringToObject(p, "user", name);
                cJSON_AddStringToObject(p, "service", BENCH_SERVICE);
                cJSON_AddStringToObject(p, "password", BENCH_PASSWORD);
                size_t len;
                char *req = wire_request("io.stitch.Auth.Login", p, &len);
                const char *reply;
                size_t rlen;
                if (!req)
                        return -ENOMEM;
                samples_add(&hash, argon2_verify_once_usec(b));
                double t0 = now_usec();
                r = wire_roundtrip(&c, req, len, &reply, &rlen);
                samples_add(&login, now_usec() - t0);
                explicit_bzero(req, len);
                free(req);
                if (r != 1) {
                        fprintf(stderr, "stitch-bench: scale login of %s failed: %.200s\n", name,
                                r == 0 ? reply : "I/O error");
                        wire_conn_close(&c);
                        return -EIO;
                }
        }

        /* Verify, rotating over tokens of N_PROBES users spread over the whole
         * table (Token.Get on the probe sessions: no hash, no write); a first
         * pass pays each token's ECDSA verification, then the loop is timed. */
        char *vreq[N_PROBES];
        size_t vlen[N_PROBES];
        for (uint64_t i = 0; i < N_PROBES; i++) {
                char sid[32];
                const char *reply;
                size_t rlen;
                cJSON *doc = NULL;
                snprintf(sid, sizeof(sid), PROBE_SESSION_ID, (unsigned) pt->index, i);
                cJSON *p = cJSON_CreateObject();
                cJSON_AddStringToObject(p, "session_id", sid);
                size_t len;
                _cleanup_free_ char *req = wire_request("io.stitch.Token.Get", p, &len);
                if (!req)
                        return -ENOMEM;
                r = wire_roundtrip(&c, req, len, &reply, &rlen);
                if (r != 1 || stitch_wire_parse(reply, rlen, &doc) < 0) {
                        fprintf(stderr, "stitch-bench: scale Token.Get of %s failed: %.200s\n", sid,
                                r >= 0 ? reply : "I/O error");
                        wire_conn_close(&c);
                        return -EIO;
                }
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "parameters"),
                                                                  "access_token");
                p = cJSON_CreateObject();
                cJSON_AddStringToObject(p, "access_token", cJSON_IsString(t) ? t->valuestring : "");
                vreq[i] = wire_request("io.stitch.Token.Verify", p, &vlen[i]);
                stitch_json_wipe_and_delete(doc);
                if (!vreq[i])
                        return -ENOMEM;
                if (wire_roundtrip(&c, vreq[i], vlen[i], NULL, NULL) != 1) {
                        fprintf(stderr, "stitch-bench: scale verify failed\n");
                        return -EIO;
                }
        }
        /* Timed with the client and every daemon thread on CPU 0, at every
         * point alike: unpinned, a round trip costs 10 or 50 us on a VM
         * depending on whether the scheduler keeps the daemon's loop on the
         * client's CPU or on the other (verify.latency.same_cpu and
         * .other_cpu), which would compare placements, not store sizes. */
        cpu_set_t mine, cpu0;
        bool pinned = sched_getaffinity(0, sizeof(mine), &mine) == 0;
        CPU_ZERO(&cpu0);
        CPU_SET(0, &cpu0);
        if (pinned && (sched_setaffinity(0, sizeof(cpu0), &cpu0) < 0 || pin_process(b->daemon_pid, &cpu0) < 0)) {
                (void) sched_setaffinity(0, sizeof(mine), &mine);
                (void) pin_process(b->daemon_pid, NULL);
                pinned = false;
        }
        if (!pinned)
                bench_progress(b, "scale: %s: cannot pin to CPU 0: Verify timed unpinned", pt->label);
        for (unsigned i = 0; i < 200; i++) /* warm-up after the move */
                (void) wire_roundtrip(&c, vreq[i % N_PROBES], vlen[i % N_PROBES], NULL, NULL);
        for (unsigned i = 0; r >= 0 && i < n_fast; i++) {
                size_t k = next_random(&rnd) % N_PROBES;
                double t0 = now_usec();
                r = wire_roundtrip(&c, vreq[k], vlen[k], NULL, NULL);
                samples_add(&verify, now_usec() - t0);
                r = r == 1 ? 0 : -EIO;
        }
        if (pinned) {
                (void) pin_process(b->daemon_pid, NULL);
                (void) sched_setaffinity(0, sizeof(mine), &mine);
        }
        if (r < 0) {
                fprintf(stderr, "stitch-bench: scale verify failed\n");
                return -EIO;
        }
        for (size_t i = 0; i < N_PROBES; i++) {
                explicit_bzero(vreq[i], vlen[i]);
                free(vreq[i]);
        }

        /* Authorize (the PAM account stage): a user lookup by Unix name, random over the whole table. */
        for (unsigned i = 0; i < n_fast; i++) {
                char name[32];
                snprintf(name, sizeof(name), SEED_UNIX_NAME, next_random(&rnd) % pt->users);
                cJSON *p = cJSON_CreateObject();
                cJSON_AddStringToObject(p, "user", name);
                cJSON_AddStringToObject(p, "service", BENCH_SERVICE);
                size_t len;
                _cleanup_free_ char *req = wire_request("io.stitch.Auth.Authorize", p, &len);
                if (!req)
                        return -ENOMEM;
                double t0 = now_usec();
                r = wire_roundtrip(&c, req, len, NULL, NULL);
                samples_add(&authz, now_usec() - t0);
                if (r != 1) {
                        fprintf(stderr, "stitch-bench: scale authorize of %s failed\n", name);
                        return -EIO;
                }
        }
        wire_conn_close(&c);

        pt->hash_us = samples_median(&hash);
        pt->login_us = samples_median(&login);
        pt->login_p99 = samples_p99(&login);
        pt->verify_us = samples_median(&verify);
        pt->verify_p99 = samples_p99(&verify);
        pt->authorize_us = samples_median(&authz);
        pt->authorize_p99 = samples_p99(&authz);
        (void) daemon_memory(b, &pt->hwm, &pt->rss);
        pt->startup_ms = b->daemon_startup_ms;
        struct stat st;
        pt->db_mib = stat(b->db, &st) >= 0 ? (double) st.st_size / 1048576.0 : NAN;
        samples_done(&login);
        samples_done(&verify);
        samples_done(&authz);
        samples_done(&hash);
        return 0;
}

static void point_rows(struct bench *b, const struct scale_point *pt, const struct scale_point *base, bool judged) {
        static const struct {
                const char *key, *what;
                size_t off_median, off_p99;
                bool target;
        } figures[] = {
                /* Judged against the hash next to it (scale.login_per_hash), not raw:
                 * on a shared machine the hash's own time moves by more than 20%
                 * between the points. */
                {"login", "password login latency", offsetof(struct scale_point, login_us),
                 offsetof(struct scale_point, login_p99), false},
                {"verify", "Verify latency (client, daemon on CPU 0)", offsetof(struct scale_point, verify_us),
                 offsetof(struct scale_point, verify_p99), true},
                {"authorize", "Authorize latency, random user", offsetof(struct scale_point, authorize_us),
                 offsetof(struct scale_point, authorize_p99), false},
        };
        for (size_t i = 0; i < ELEMENTSOF(figures); i++) {
                char id[64], what[96];
                snprintf(id, sizeof(id), "scale.%s.%s", figures[i].key, pt->label);
                snprintf(what, sizeof(what), "%s, %s", figures[i].what, pt->label);
                struct result *r = bench_result(b, id, what);
                snprintf(r->unit, sizeof(r->unit), "us");
                r->value = *(const double *) ((const char *) pt + figures[i].off_median);
                r->p99 = *(const double *) ((const char *) pt + figures[i].off_p99);
                r->baseline = *(const double *) ((const char *) base + figures[i].off_median);
                snprintf(r->baseline_what, sizeof(r->baseline_what), "same, %s", base->label);
                result_ratio(r, judged && figures[i].target ? TARGET_LE : TARGET_NONE, 1.2);
                if (i == 0)
                        result_note(r, "in-process argon2id interleaved: %.2f ms here, %.2f ms at %s; login minus hash "
                                       "%.2f ms here, %.2f ms at %s",
                                    pt->hash_us / 1e3, base->hash_us / 1e3, base->label,
                                    (pt->login_us - pt->hash_us) / 1e3, (base->login_us - base->hash_us) / 1e3,
                                    base->label);
                if (i == 0 && pt->hash_us > 0 && base->hash_us > 0) {
                        snprintf(id, sizeof(id), "scale.login_per_hash.%s", pt->label);
                        snprintf(what, sizeof(what), "password login / argon2id next to it, %s", pt->label);
                        struct result *q = bench_result(b, id, what);
                        q->value = pt->login_us / pt->hash_us;
                        q->baseline = base->login_us / base->hash_us;
                        snprintf(q->baseline_what, sizeof(q->baseline_what), "same, %s", base->label);
                        result_ratio(q, judged ? TARGET_LE : TARGET_NONE, 1.2);
                        result_note(q, "the login's latency in units of the in-process hash measured alongside, "
                                       "so that the machine's speed at that moment cancels out");
                }
        }
        char id[64], what[96];
        snprintf(id, sizeof(id), "scale.rss.%s", pt->label);
        snprintf(what, sizeof(what), "daemon VmHWM, %s", pt->label);
        struct result *r = bench_result(b, id, what);
        snprintf(r->unit, sizeof(r->unit), "MiB");
        r->value = pt->hwm;
        r->baseline = base->hwm;
        snprintf(r->baseline_what, sizeof(r->baseline_what), "same, %s", base->label);
        result_ratio(r, TARGET_NONE, NAN);
        result_note(r, "VmRSS %.1f MiB; store %.0f MiB; startup to READY=1 %.0f ms", pt->rss, pt->db_mib,
                    pt->startup_ms);
}

int bench_scale(struct bench *b) {
        struct scale_point full[] = {
                {.label = "1k-users", .users = 1000},
                {.label = "100k-users", .users = 100000},
                {.label = "1M-users", .users = 1000000},
                {.label = "1M-users+1M-sessions", .users = 1000000, .sessions = 1000000},
        };
        struct scale_point smoke[] = {
                {.label = "1k-users", .users = 1000},
                {.label = "2k-users", .users = 2000},
                {.label = "2k-users+2k-sessions", .users = 2000, .sessions = 2000},
        };
        struct scale_point *pts = b->smoke ? smoke : full;
        size_t n_pts = b->smoke ? ELEMENTSOF(smoke) : ELEMENTSOF(full);
        uint64_t have_users = 0, have_sessions = 0;
        int r;

        r = daemon_setup_dir(b, "scale");
        if (r < 0 || (r = daemon_write_config(b)) < 0)
                return r;
        /* Once to create and migrate the store, and to see what the daemon stores. */
        r = daemon_start(b);
        if (r < 0)
                return r;
        struct bench_user probe = {};
        r = bench_create_user(b, &probe, "sbscale", false);
        if (r >= 0)
                r = daemon_stored_hash_check(b, probe.id);
        int r2 = daemon_stop(b);
        if (r < 0)
                return r;
        if (r2 < 0)
                return r2;

        for (size_t i = 0; i < n_pts; i++) {
                struct scale_point *pt = &pts[i];
                sqlite3 *db = NULL;
                double t0 = now_usec();

                r = seed_open(b->db, &db);
                if (r < 0)
                        return r;
                if (pt->users > have_users) {
                        bench_progress(b, "scale: seeding users %" PRIu64 "..%" PRIu64, have_users, pt->users);
                        r = seed_users(db, b->baseline_hash, have_users, pt->users);
                        if (r < 0) {
                                sqlite3_close(db);
                                return r;
                        }
                        have_users = pt->users;
                }
                pt->index = (unsigned) i;
                r = seed_sessions_full(db, have_users, 0, N_PROBES, (int) i);
                if (r < 0) {
                        sqlite3_close(db);
                        return r;
                }
                if (pt->sessions > have_sessions) {
                        bench_progress(b, "scale: seeding sessions %" PRIu64 "..%" PRIu64, have_sessions, pt->sessions);
                        r = seed_sessions(db, have_users, have_sessions, pt->sessions);
                        if (r < 0) {
                                sqlite3_close(db);
                                return r;
                        }
                        have_sessions = pt->sessions;
                }
                r = seed_close(db);
                if (r < 0)
                        return r;
                bench_progress(b, "scale: %s seeded in %.1f s; starting stitchd", pt->label, (now_usec() - t0) / 1e6);

                r = daemon_start(b);
                if (r < 0)
                        return r;
                r = measure_point(b, pt);
                r2 = daemon_stop(b);
                if (r < 0)
                        return r;
                if (r2 < 0)
                        return r2;
                bench_progress(b, "scale: %s: login %.2f ms, verify %.1f us, authorize %.1f us, VmHWM %.1f MiB",
                               pt->label, pt->login_us / 1e3, pt->verify_us, pt->authorize_us, pt->hwm);
        }
        for (size_t i = 0; i < n_pts; i++)
                point_rows(b, &pts[i], &pts[0], i > 0 && pts[i].users >= 1000000);
        return 0;
}
