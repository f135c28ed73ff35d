/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The store's own part of an API-key login, with nothing else: the read
 * (apikey_find_for_login) and the durable write (session_create) that
 * stitchd makes for each login, called through the store's ops in a loop by
 * CLIENTS threads for SECONDS, on users with a key each. It is the ceiling
 * of what stitchd's API-key logins can reach on that store: `make
 * bench-fleet` prints it next to the daemon's rate and pgbench's
 * INSERT+COMMIT (docs/performance.md).
 *
 *   bench-store-login SPEC CLIENTS SECONDS [USERS]
 *
 * BENCH_STORE_WRITE_ONLY=1 leaves the read out: the ceiling of a login
 * that knew its key and user already.
 *
 * BENCH_STORE_LOGIN=password makes the calls of a PAM password login
 * instead: user_find_for_login by Unix name (the user, its identities, its
 * password hash and its live sessions), then session_create. The users
 * have a Unix name and a password hash; no hash is computed (stitch-bench's
 * pam.own floor).
 *
 * Prints "logins_per_sec=N read_us=N write_us=N" (medians of per-call
 * times). SPEC is a store spec (postgresql://..., sqlite:PATH) of an empty
 * or throw-away store: the users and sessions it makes stay there. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "core/ids.h"
#include "core/sha256.h"
#include "macro.h"
#include "store/store.h"

static const struct stitch_store_ops *ops;
static struct stitch_store *store;
static size_t n_users;
static struct {
        char user_id[STITCH_ID_LEN + 1], key_id[STITCH_ID_LEN + 1], name[32];
        uint8_t hash[STITCH_HASH_LEN];
} *users;
static volatile int stop;
static int write_only; /* BENCH_STORE_WRITE_ONLY=1: no read (the key and user known) */
static int password;   /* BENCH_STORE_LOGIN=password: a PAM password login's calls */

struct client {
        pthread_t thread;
        unsigned index;
        uint64_t logins, failed;
        uint64_t *reads, *writes; /* per-call microseconds, up to cap */
        size_t n_times, cap;
};

static uint64_t now_usec(void) {
        return stitch_now_usec(CLOCK_MONOTONIC);
}

static int make_users(void) {
        users = calloc(n_users, sizeof(*users));
        if (!users)
                return -ENOMEM;
        for (size_t i = 0; i < n_users; i++) {
                struct stitch_user u = {.type = (char *) STITCH_USER_TYPE_SERVER, .data_json = (char *) "{}"};
                struct stitch_apikey k = {.name = (char *) "bench"};
                char name[32], key[64];
                int r;

                snprintf(name, sizeof(name), "sbs%05zu", i);
                u.name = name;
                u.creation_date = k.creation_date = time(NULL);
                if ((r = stitch_objectid_new(u.id)) < 0 || (r = stitch_objectid_new(k.id)) < 0)
                        return r;
                if (password) {
                        /* A user as `stitchctl user add --unix-name` makes it, with a
                         * password hash of the daemon's format (never computed here). */
                        u.type = (char *) STITCH_USER_TYPE_NORMAL;
                        u.unix_name = name;
                        r = ops->user_create(store, &u,
                                             "$argon2id$v=19$m=19456,t=2,p=1$c3RpdGNoLWJlbmNoLXNhbHQ$"
                                             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
                        if (r < 0)
                                return r;
                        memcpy(users[i].user_id, u.id, sizeof(users[i].user_id));
                        memcpy(users[i].name, name, sizeof(users[i].name));
                        continue;
                }
                r = ops->user_create(store, &u, NULL);
                if (r < 0)
                        return r;
                memcpy(k.user_id, u.id, sizeof(k.user_id));
                snprintf(key, sizeof(key), "bench-key-%s-%zu", u.id, i);
                if ((r = stitch_sha256(key, strlen(key), k.hash)) < 0)
                        return r;
                if ((r = ops->apikey_create(store, &k)) < 0)
                        return r;
                memcpy(users[i].user_id, u.id, sizeof(users[i].user_id));
                memcpy(users[i].key_id, k.id, sizeof(users[i].key_id));
                memcpy(users[i].hash, k.hash, sizeof(users[i].hash));
        }
        return 0;
}

/* One login's store calls, as core/login.c and core/sessions.c make them
 * below MaxPerUser (the bench's users never reach it). */
static int login_once(struct client *c, size_t i) {
        _cleanup_(stitch_apikey_freep) struct stitch_apikey *k = NULL;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        struct stitch_session s = {0};
        int64_t now = time(NULL);
        int r;

        uint64_t t0 = now_usec();
        if (write_only) {
                if (!(k = calloc(1, sizeof(*k))) || !(u = calloc(1, sizeof(*u))))
                        return -ENOMEM;
                memcpy(u->id, users[i].user_id, sizeof(u->id));
                memcpy(k->id, users[i].key_id, sizeof(k->id));
        } else if (password) {
                if ((r = ops->user_find_for_login(store, STITCH_USER_BY_UNIX_NAME, users[i].name, now, &u)) < 0)
                        return r;
                if (!u->login_password_hash)
                        return -EIO;
        } else if ((r = ops->apikey_find_for_login(store, users[i].hash, now, &k, &u)) < 0)
                return r;
        uint64_t t1 = now_usec();

        if ((r = stitch_session_id_new(s.id)) < 0 || (r = stitch_objectid_new(s.device_id)) < 0)
                return r;
        memcpy(s.user_id, u->id, sizeof(s.user_id));
        if (!password)
                memcpy(s.apikey_id, k->id, sizeof(s.apikey_id));
        if ((r = stitch_random_bytes(s.refresh_hash, sizeof(s.refresh_hash))) < 0 ||
            (r = stitch_random_bytes(s.binding_hash, sizeof(s.binding_hash))) < 0)
                return r;
        s.has_binding = true;
        s.provider_type = (char *) (password ? "local-userpass" : "api-key");
        s.service = (char *) "stitch-bench";
        if (password) {
                s.rhost = (char *) "localhost";
                s.tty = (char *) "bench";
        }
        s.creation_date = s.last_used = now;
        s.created_usec = (int64_t) stitch_now_usec(CLOCK_REALTIME);
        s.refresh_expires = now + 60 * 24 * 3600;
        s.access_expires = now + 1800;
        s.uid = -1;
        r = ops->session_create(store, &s, 0, NULL);
        if (r < 0)
                return r;
        uint64_t t2 = now_usec();
        if (c->n_times < c->cap) {
                c->reads[c->n_times] = t1 - t0;
                c->writes[c->n_times++] = t2 - t1;
        }
        return 0;
}

static void *client_run(void *userdata) {
        struct client *c = userdata;
        /* Each client goes round its own share of the users, as stitch-bench's do. */
        for (size_t i = c->index; !__atomic_load_n(&stop, __ATOMIC_RELAXED); i += 7919) {
                if (login_once(c, i % n_users) < 0)
                        c->failed++;
                else
                        c->logins++;
        }
        return NULL;
}

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n) {
        if (n == 0)
                return 0;
        qsort(v, n, sizeof(*v), compare_u64);
        return v[n / 2];
}

int main(int argc, char **argv) {
        if (argc < 4 || argc > 5) {
                fprintf(stderr, "usage: %s SPEC CLIENTS SECONDS [USERS]\n", argv[0]);
                return 2;
        }
        unsigned n_clients = (unsigned) strtoul(argv[2], NULL, 10);
        double seconds = strtod(argv[3], NULL);
        n_users = argc == 5 ? strtoul(argv[4], NULL, 10) : 2048;
        if (n_clients == 0 || n_clients > 256 || seconds <= 0 || n_users == 0) {
                fprintf(stderr, "bench-store-login: bad CLIENTS, SECONDS or USERS\n");
                return 2;
        }
        const char *e = getenv("BENCH_STORE_WRITE_ONLY");
        write_only = e && streq(e, "1");
        e = getenv("BENCH_STORE_LOGIN");
        password = e && streq(e, "password");
        if (password && write_only) {
                fprintf(stderr, "bench-store-login: BENCH_STORE_LOGIN=password reads: no BENCH_STORE_WRITE_ONLY=1\n");
                return 2;
        }
        int r = stitch_store_open(argv[1], &ops, &store);
        if (r < 0) {
                fprintf(stderr, "bench-store-login: cannot open the store: %s\n", strerror(-r));
                return 1;
        }
        r = make_users();
        if (r < 0) {
                fprintf(stderr, "bench-store-login: cannot make the users: %s\n", strerror(-r));
                return 1;
        }

        struct client *clients = calloc(n_clients, sizeof(*clients));
        if (!clients)
                return 1;
        for (unsigned i = 0; i < n_clients; i++) {
                clients[i].index = i * (unsigned) (n_users / n_clients);
                clients[i].cap = 1 << 20;
                clients[i].reads = calloc(clients[i].cap, sizeof(uint64_t));
                clients[i].writes = calloc(clients[i].cap, sizeof(uint64_t));
                if (!clients[i].reads || !clients[i].writes)
                        return 1;
        }
        uint64_t start = now_usec();
        for (unsigned i = 0; i < n_clients; i++)
                if (pthread_create(&clients[i].thread, NULL, client_run, &clients[i]) != 0)
                        return 1;
        struct timespec ts = {.tv_sec = (time_t) seconds, .tv_nsec = (long) ((seconds - (double) (time_t) seconds) * 1e9)};
        nanosleep(&ts, NULL);
        __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
        uint64_t logins = 0, failed = 0;
        size_t n_times = 0;
        for (unsigned i = 0; i < n_clients; i++) {
                pthread_join(clients[i].thread, NULL);
                logins += clients[i].logins;
                failed += clients[i].failed;
                n_times += clients[i].n_times;
        }
        uint64_t elapsed = now_usec() - start;
        uint64_t *reads = calloc(n_times + 1, sizeof(uint64_t)), *writes = calloc(n_times + 1, sizeof(uint64_t));
        if (!reads || !writes)
                return 1;
        size_t k = 0;
        for (unsigned i = 0; i < n_clients; i++)
                for (size_t j = 0; j < clients[i].n_times; j++, k++) {
                        reads[k] = clients[i].reads[j];
                        writes[k] = clients[i].writes[j];
                }
        printf("logins_per_sec=%.0f read_us=%" PRIu64 " write_us=%" PRIu64 " failed=%" PRIu64 "\n",
               (double) logins * 1e6 / (double) elapsed, median(reads, n_times), median(writes, n_times), failed);
        free(reads);
        free(writes);
        for (unsigned i = 0; i < n_clients; i++) {
                free(clients[i].reads);
                free(clients[i].writes);
        }
        free(clients);
        free(users);
        ops->close(store);
        return failed > 0 && logins == 0 ? 1 : 0;
}
