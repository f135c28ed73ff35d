/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitch-bench: the wire benchmarks. Every hot loop is a raw AF_UNIX
 * send()/recv() of bytes prepared beforehand, one call outstanding per
 * connection (closed loop), so the client costs the same for the daemon and
 * for its baseline:
 *   password logins under concurrency   vs  CPUs / argon2id time
 *   Token.Verify                        vs  an epoll echo server in this process
 *   API-key logins (a durable session)  vs  single-row synchronous=FULL SQLite commits
 *   Token.Refresh                       vs  in-process ES256 signing (OpenSSL) */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "bench.h"
#include "macro.h"
#include "wire.h"

/* ---- closed-loop clients ------------------------------------------------------------------ */

struct loop {
        const char *socket;
        const char *req;
        size_t req_len;
        /* Or, when n_reqs > 0: reqs[first], reqs[first + 1], ... in turn, up to
         * reqs[first + n_reqs - 1], then from first again. */
        char *const *reqs;
        const size_t *lens;
        unsigned first, n_reqs;
        unsigned count;     /* calls to make; 0: run for duration_us */
        double duration_us;
        pthread_barrier_t *barrier;

        struct samples lat;
        unsigned ok, failed;
        double t_start, t_end;
        int error;
        char first_error[200];
};

static void *loop_main(void *p) {
        struct loop *l = p;
        struct wire_conn c;
        int r = wire_conn_open(&c, l->socket);

        pthread_barrier_wait(l->barrier);
        if (r < 0) {
                l->error = r;
                return NULL;
        }
        l->t_start = now_usec();
        double stop = l->t_start + l->duration_us;
        for (unsigned i = 0; l->count ? i < l->count : now_usec() < stop; i++) {
                const char *reply;
                size_t len;
                double t0 = now_usec();
                if (l->n_reqs > 0) {
                        unsigned k = l->first + i % l->n_reqs;
                        r = wire_roundtrip(&c, l->reqs[k], l->lens[k], &reply, &len);
                } else
                        r = wire_roundtrip(&c, l->req, l->req_len, &reply, &len);
                samples_add(&l->lat, now_usec() - t0);
                if (r == 1)
                        l->ok++;
                else {
                        l->failed++;
                        if (!l->first_error[0])
                                snprintf(l->first_error, sizeof(l->first_error), "%.*s", (int) MIN(len, 190),
                                         r == 0 ? reply : "I/O error");
                        if (r < 0) {
                                l->error = r;
                                break;
                        }
                }
        }
        l->t_end = now_usec();
        wire_conn_close(&c);
        return NULL;
}

struct loop_result {
        double rate;       /* successful calls per second */
        unsigned ok, failed;
        char first_error[200];
};

/* Runs n loops at once; their latencies stay in loops[i].lat. */
static int run_loops(struct loop *loops, unsigned n, struct loop_result *ret) {
        pthread_t th[BENCH_MAX_CLIENTS];
        pthread_barrier_t barrier;
        struct loop_result res = {};

        if (n > BENCH_MAX_CLIENTS)
                return -EINVAL;
        pthread_barrier_init(&barrier, NULL, n);
        for (unsigned i = 0; i < n; i++) {
                loops[i].barrier = &barrier;
                if (pthread_create(&th[i], NULL, loop_main, &loops[i]) != 0) {
                        fprintf(stderr, "stitch-bench: pthread_create failed\n");
                        exit(EXIT_FAILURE);
                }
        }
        double start = INFINITY, end = 0;
        int error = 0;
        for (unsigned i = 0; i < n; i++) {
                pthread_join(th[i], NULL);
                start = MIN(start, loops[i].t_start);
                end = MAX(end, loops[i].t_end);
                res.ok += loops[i].ok;
                res.failed += loops[i].failed;
                if (loops[i].first_error[0] && !res.first_error[0])
                        memcpy(res.first_error, loops[i].first_error, sizeof(res.first_error));
                if (loops[i].error && !error)
                        error = loops[i].error;
        }
        pthread_barrier_destroy(&barrier);
        res.rate = end > start ? res.ok / ((end - start) / 1e6) : 0;
        *ret = res;
        return error;
}

static void loops_collect(struct loop *loops, unsigned n, struct samples *into) {
        for (unsigned i = 0; i < n; i++) {
                samples_merge(into, &loops[i].lat);
                samples_done(&loops[i].lat);
        }
}

static char *login_request(const struct bench_user *u, bool with_key, size_t *ret_len) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "user", u->unix_name);
        cJSON_AddStringToObject(p, "service", BENCH_SERVICE);
        if (with_key) {
                cJSON_AddStringToObject(p, "provider", "api-key");
                cJSON_AddStringToObject(p, "key", u->api_key);
        } else {
                cJSON_AddStringToObject(p, "provider", "local-userpass");
                cJSON_AddStringToObject(p, "password", BENCH_PASSWORD);
        }
        return wire_request("io.stitch.Auth.Login", p, ret_len);
}

static void free_requests(char **reqs, size_t *lens, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                if (reqs[i]) {
                        explicit_bzero(reqs[i], lens[i]);
                        free(reqs[i]);
                        reqs[i] = NULL;
                }
}

/* ---- 3. password logins under concurrency ------------------------------------------------------ */

int bench_login_concurrency(struct bench *b) {
        static const unsigned full_levels[] = {1, 2, 8, 64}, smoke_levels[] = {1, 2};
        const unsigned *levels = b->smoke ? smoke_levels : full_levels;
        unsigned n_levels = b->smoke ? ELEMENTSOF(smoke_levels) : ELEMENTSOF(full_levels);
        unsigned max = levels[n_levels - 1], rounds = b->smoke ? 1 : 3;
        char *reqs[BENCH_MAX_CLIENTS] = {};
        size_t lens[BENCH_MAX_CLIENTS];
        struct loop loops[BENCH_MAX_CLIENTS];
        double c1_median = NAN;
        int r;

        r = bench_ensure_users(b, max);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < max; i++) {
                reqs[i] = login_request(&b->users[1 + i], false, &lens[i]);
                if (!reqs[i])
                        return -ENOMEM;
        }

        for (unsigned li = 0; li < n_levels; li++) {
                unsigned k = levels[li];
                /* Enough calls that the workers stay busy for a while; equal per client. */
                unsigned per = b->smoke ? 1 : k == 1 ? 24 : k == 2 ? 16 : k == 8 ? 6 : 2;
                struct samples rates = {0}, lat = {0};
                unsigned failed = 0;
                char first_error[200] = "";
                double hwm_before = NAN, rss_before = NAN;

                /* The hash time right now: what "ideal" means at this moment. */
                struct samples hs = {0};
                for (unsigned i = 0; i < (b->smoke ? 1u : 8u); i++)
                        samples_add(&hs, argon2_verify_once_usec(b));
                double hash_us = samples_median(&hs);
                samples_done(&hs);

                (void) daemon_memory(b, &hwm_before, &rss_before);
                bench_progress(b, "password logins, %u concurrent clients: %u rounds of %u logins each", k, rounds,
                               per * k);
                for (unsigned round = 0; round < rounds; round++) {
                        struct loop_result lr;
                        for (unsigned i = 0; i < k; i++)
                                loops[i] = (struct loop) {
                                        .socket = b->auth_socket, .req = reqs[i], .req_len = lens[i], .count = per};
                        r = run_loops(loops, k, &lr);
                        loops_collect(loops, k, &lat);
                        if (r < 0) {
                                fprintf(stderr, "stitch-bench: login clients failed: %s\n", strerror(-r));
                                return r;
                        }
                        samples_add(&rates, lr.rate);
                        failed += lr.failed;
                        if (lr.first_error[0] && !first_error[0])
                                memcpy(first_error, lr.first_error, sizeof(first_error));
                }

                char id[64], what[96];
                snprintf(id, sizeof(id), "login.c%u", k);
                snprintf(what, sizeof(what), "password logins/s, %u client%s", k, k == 1 ? "" : "s");
                struct result *res = bench_result(b, id, what);
                snprintf(res->unit, sizeof(res->unit), "/s");
                res->value = samples_median(&rates);
                res->baseline = (double) MIN(k, b->ncpu) / (hash_us / 1e6);
                snprintf(res->baseline_what, sizeof(res->baseline_what), "ideal min(clients,CPUs)/hash");
                result_ratio(res, k == 2 || k == 8 ? TARGET_GE : TARGET_NONE, 0.85);
                double med = samples_median(&lat), p99 = samples_p99(&lat);
                result_note(res, "argon2id verify measured just before: %.2f ms; latency median %.1f ms, p99 %.1f ms; "
                                 "%u failed",
                            hash_us / 1e3, med / 1e3, p99 / 1e3, failed);
                if (k >= b->ncpu && !isnan(b->argon2_parallel_per_s))
                        result_note(res, "%.2f of the measured in-process all-CPU argon2id rate (%.1f/s)",
                                    res->value / b->argon2_parallel_per_s, b->argon2_parallel_per_s);
                if (first_error[0])
                        result_note(res, "first error: %s", first_error);
                if (k == 1)
                        c1_median = med;

                if (k == max && k > 2) {
                        res = bench_result(b, "login.c64.latency", "login latency at 64 clients vs 1 client");
                        snprintf(res->unit, sizeof(res->unit), "us");
                        res->value = med;
                        res->p99 = p99;
                        res->baseline = c1_median;
                        snprintf(res->baseline_what, sizeof(res->baseline_what), "1-client latency");
                        result_ratio(res, TARGET_NONE, NAN);
                        result_note(res, "queueing alone predicts ~%.0fx (64 clients / %u workers)",
                                    64.0 / b->workers, b->workers);

                        double hwm = NAN, rss = NAN;
                        (void) daemon_memory(b, &hwm, &rss);
                        res = bench_result(b, "login.c64.rss", "daemon peak RSS (VmHWM) after 64 clients");
                        snprintf(res->unit, sizeof(res->unit), "MiB");
                        res->value = hwm;
                        res->baseline = b->workers * (b->m_kib / 1024.0) + 64;
                        snprintf(res->baseline_what, sizeof(res->baseline_what), "Workers x m + 64 MiB");
                        result_ratio(res, TARGET_LE, 1.0);
                        result_note(res, "VmRSS now %.1f MiB; before the 64-client run VmHWM %.1f, VmRSS %.1f MiB", rss,
                                    hwm_before, rss_before);

                        res = bench_result(b, "login.c64.failures", "failed logins at 64 clients");
                        res->value = failed;
                        result_absolute(res, TARGET_LE, 0);
                        if (first_error[0])
                                result_note(res, "first error: %s", first_error);
                }
                samples_done(&rates);
                samples_done(&lat);
        }
        free_requests(reqs, lens, max);

        /* Many simultaneous correct logins for ONE account: the failure limiter
         * counts attempts in flight (stitchd/ratelimit.c). A dedicated user, so
         * a lockout cannot disturb the figures above. */
        if (!b->smoke) {
                struct bench_user *u = &b->users[BENCH_MAX_CLIENTS + 1];
                unsigned k = 16;
                if (!u->id[0]) {
                        r = bench_create_user(b, u, "sbsame", false);
                        if (r < 0)
                                return r;
                }
                size_t len;
                char *req = login_request(u, false, &len);
                struct loop_result lr;
                for (unsigned i = 0; i < k; i++)
                        loops[i] = (struct loop) {.socket = b->auth_socket, .req = req, .req_len = len, .count = 1};
                bench_progress(b, "%u simultaneous password logins for one account", k);
                r = run_loops(loops, k, &lr);
                for (unsigned i = 0; i < k; i++)
                        samples_done(&loops[i].lat);
                explicit_bzero(req, len);
                free(req);
                if (r < 0)
                        return r;
                struct result *res = bench_result(b, "login.same_account", "16 simultaneous logins, one account: failed");
                res->value = lr.failed;
                result_note(res, "correct password every time; %u succeeded", lr.ok);
                if (lr.first_error[0])
                        result_note(res, "first error: %s", lr.first_error);
        }
        return 0;
}

/* ---- 4. Token.Verify vs a raw AF_UNIX echo ------------------------------------------------------ */

struct echo_conn {
        int fd;
        size_t len;
        char buf[STITCH_WIRE_MAX_MESSAGE + 2];
};

static int send_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                struct pollfd pf = {.fd = fd, .events = POLLOUT};
                                (void) poll(&pf, 1, 1000);
                                continue;
                        }
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* The echo's connections: a fixed pool, so the forked echo process never
 * calls malloc (the bench may have had other threads when it forked). */
static struct echo_conn echo_pool[BENCH_MAX_CLIENTS + 16];
static bool echo_pool_used[ELEMENTSOF(echo_pool)];

static struct echo_conn *echo_conn_new(void) {
        for (size_t i = 0; i < ELEMENTSOF(echo_pool); i++)
                if (!echo_pool_used[i]) {
                        echo_pool_used[i] = true;
                        echo_pool[i].len = 0;
                        return &echo_pool[i];
                }
        return NULL;
}

static void echo_conn_free(struct echo_conn *c) {
        echo_pool_used[c - echo_pool] = false;
}

/* One process of its own, one thread, one epoll loop, like the daemon (a
 * separate process, so the scheduler places it as it places the daemon):
 * read what is there, answer every complete NUL-terminated message with the
 * canned reply. */
static void *echo_main(void *p) {
        struct echo_server *s = p;
        struct epoll_event ev[64];

        for (;;) {
                int n = epoll_wait(s->epoll_fd, ev, ELEMENTSOF(ev), -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (int i = 0; i < n; i++) {
                        if (ev[i].data.ptr == NULL) /* stop */
                                return NULL;
                        if (ev[i].data.ptr == s) {
                                for (;;) {
                                        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                                        if (fd < 0)
                                                break;
                                        struct echo_conn *c = echo_conn_new();
                                        if (!c) {
                                                close(fd);
                                                continue;
                                        }
                                        c->fd = fd;
                                        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
                                        (void) epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &e);
                                }
                                continue;
                        }
                        struct echo_conn *c = ev[i].data.ptr;
                        ssize_t k = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
                        if (k <= 0) {
                                if (k < 0 && (errno == EAGAIN || errno == EINTR))
                                        continue;
                                (void) epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
                                close(c->fd);
                                echo_conn_free(c);
                                continue;
                        }
                        c->len += (size_t) k;
                        char *start = c->buf, *nul;
                        while ((nul = memchr(start, 0, (size_t) (c->buf + c->len - start)))) {
                                (void) send_all(c->fd, s->reply, s->reply_len);
                                start = nul + 1;
                        }
                        size_t rest = (size_t) (c->buf + c->len - start);
                        memmove(c->buf, start, rest);
                        c->len = rest;
                        if (c->len == sizeof(c->buf))
                                c->len = 0; /* oversized garbage: drop */
                }
        }
        return NULL;
}

int echo_start(struct echo_server *s, const char *dir, const char *reply, size_t reply_len) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        *s = (struct echo_server) {.reply = reply, .reply_len = reply_len};
        if (path_join(s->path, sizeof(s->path), dir, "echo.sock") < 0)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
        (void) unlink(s->path);
        s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        s->stop_fd = eventfd(0, EFD_CLOEXEC);
        s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (s->listen_fd < 0 || s->stop_fd < 0 || s->epoll_fd < 0 ||
            bind(s->listen_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(s->listen_fd, SOMAXCONN) < 0)
                return -errno;
        struct epoll_event e1 = {.events = EPOLLIN, .data.ptr = s}, e2 = {.events = EPOLLIN, .data.ptr = NULL};
        if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->listen_fd, &e1) < 0 ||
            epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->stop_fd, &e2) < 0)
                return -errno;
        s->pid = fork();
        if (s->pid < 0)
                return -errno;
        if (s->pid == 0) {
                /* If the bench dies without cleaning up, the echo goes too. */
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                /* Hold none of the bench's other connections open. */
                for (int fd = 3; fd < 1024; fd++)
                        if (fd != s->listen_fd && fd != s->stop_fd && fd != s->epoll_fd)
                                (void) close(fd);
                (void) echo_main(s);
                _exit(0);
        }
        return 0;
}

void echo_stop(struct echo_server *s) {
        uint64_t one = 1;
        (void) !write(s->stop_fd, &one, sizeof(one));
        (void) waitpid(s->pid, NULL, 0);
        close(s->listen_fd);
        close(s->stop_fd);
        close(s->epoll_fd); /* connections still open are closed by their clients */
        (void) unlink(s->path);
}

/* Fresh tokens for the uncached measurement: Token.Get signs a new one each time. */
static int mint_tokens(struct bench *b, const struct bench_user *u, unsigned n, char ***ret) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "session_id", u->session_id);
        size_t len;
        _cleanup_free_ char *req = wire_request("io.stitch.Token.Get", p, &len);
        struct wire_conn c;
        char **tokens = calloc(n + 1, sizeof(char *));
        if (!req || !tokens || wire_conn_open(&c, b->auth_socket) < 0) {
                free(tokens);
                return -EIO;
        }
        for (unsigned i = 0; i < n; i++) {
                const char *reply;
                size_t rlen;
                cJSON *doc = NULL;
                int r = wire_roundtrip(&c, req, len, &reply, &rlen);
                if (r != 1 || stitch_wire_parse(reply, rlen, &doc) < 0) {
                        fprintf(stderr, "stitch-bench: Token.Get failed: %.200s\n", r >= 0 ? reply : "I/O error");
                        wire_conn_close(&c);
                        return -EIO;
                }
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "parameters"),
                                                                  "access_token");
                tokens[i] = cJSON_IsString(t) ? strdup(t->valuestring) : NULL;
                stitch_json_wipe_and_delete(doc);
                if (!tokens[i]) {
                        wire_conn_close(&c);
                        return -EBADMSG;
                }
        }
        wire_conn_close(&c);
        *ret = tokens;
        return 0;
}

static char *verify_request(const char *token, size_t *ret_len) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "access_token", token);
        return wire_request("io.stitch.Token.Verify", p, ret_len);
}

int pin_process(pid_t pid, const cpu_set_t *set) {
        char path[64];
        cpu_set_t all;
        if (!set) {
                CPU_ZERO(&all);
                for (int i = 0; i < CPU_SETSIZE; i++)
                        CPU_SET(i, &all);
                set = &all;
        }
        snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
        DIR *d = opendir(path);
        if (!d)
                return -errno;
        int r = 0;
        for (struct dirent *e; (e = readdir(d));) {
                if (e->d_name[0] == '.')
                        continue;
                pid_t tid = (pid_t) strtol(e->d_name, NULL, 10);
                if (sched_setaffinity(tid, sizeof(*set), set) < 0 && errno != ESRCH)
                        r = -errno;
        }
        closedir(d);
        return r;
}

/* Verify against the echo with the same placement for both: the client on
 * CPU 0, the server (every thread of the daemon; the echo process) on CPU
 * 'server_cpu'. Left to itself the scheduler puts the single-threaded echo
 * next to its client (a sync wake-up) but keeps a daemon whose loop thread
 * also wakes workers on its own CPU, and on a VM a wake-up across CPUs costs
 * tens of microseconds each way: the unpinned ratio then compares two
 * placements, not two servers. */
static int verify_placed(struct bench *b, struct wire_conn *dc, struct wire_conn *ec, pid_t echo_pid,
                         const char *req, size_t req_len, int server_cpu, const char *id, const char *what) {
        cpu_set_t mine, client, server;
        unsigned per = b->smoke ? 200 : 4000;
        struct samples ds = {0}, es = {0};
        unsigned failed = 0;
        int r;

        if (sched_getaffinity(0, sizeof(mine), &mine) < 0)
                return -errno;
        CPU_ZERO(&client);
        CPU_SET(0, &client);
        CPU_ZERO(&server);
        CPU_SET(server_cpu, &server);
        if (sched_setaffinity(0, sizeof(client), &client) < 0)
                return -errno;
        r = pin_process(b->daemon_pid, &server);
        if (r >= 0)
                r = pin_process(echo_pid, &server);
        for (unsigned round = 0; r >= 0 && round < 3; round++) {
                for (unsigned i = 0; i < 200; i++) { /* warm-up after the move */
                        (void) wire_roundtrip(dc, req, req_len, NULL, NULL);
                        (void) wire_roundtrip(ec, req, req_len, NULL, NULL);
                }
                for (unsigned i = 0; i < per; i++) {
                        double t0 = now_usec();
                        failed += wire_roundtrip(dc, req, req_len, NULL, NULL) != 1;
                        samples_add(&ds, now_usec() - t0);
                }
                for (unsigned i = 0; i < per; i++) {
                        double t0 = now_usec();
                        failed += wire_roundtrip(ec, req, req_len, NULL, NULL) != 1;
                        samples_add(&es, now_usec() - t0);
                }
        }
        (void) pin_process(b->daemon_pid, NULL);
        (void) pin_process(echo_pid, NULL);
        (void) sched_setaffinity(0, sizeof(mine), &mine);
        if (r >= 0) {
                struct result *res = bench_result(b, id, what);
                snprintf(res->unit, sizeof(res->unit), "us");
                res->value = samples_median(&ds);
                res->p99 = samples_p99(&ds);
                res->baseline = samples_median(&es);
                snprintf(res->baseline_what, sizeof(res->baseline_what), "AF_UNIX echo, placed alike");
                result_ratio(res, TARGET_LE, 1.5);
                result_note(res, "client on CPU 0, the daemon's threads and the echo on CPU %d; 3 x %u calls each; "
                                 "echo p99 %.1f us; %u failed",
                            server_cpu, per, samples_p99(&es), failed);
        }
        samples_done(&ds);
        samples_done(&es);
        return r;
}

int bench_verify(struct bench *b) {
        struct bench_user *u = &b->users[0];
        struct echo_server echo;
        struct wire_conn dc, ec;
        const char *reply;
        size_t req_len, reply_len;
        int r;

        r = bench_login(b, u, true);
        if (r < 0)
                return r;
        _cleanup_free_ char *req = verify_request(u->access_token, &req_len);
        if (!req)
                return -ENOMEM;
        r = wire_conn_open(&dc, b->auth_socket);
        if (r < 0)
                return r;
        r = wire_roundtrip(&dc, req, req_len, &reply, &reply_len);
        if (r != 1) {
                fprintf(stderr, "stitch-bench: Token.Verify failed: %.300s\n", r == 0 ? reply : "I/O error");
                wire_conn_close(&dc);
                return -EIO;
        }
        /* The echo server answers with exactly these bytes: same size on the wire. */
        _cleanup_free_ char *canned = malloc(reply_len + 1);
        if (!canned)
                return -ENOMEM;
        memcpy(canned, reply, reply_len + 1);
        r = echo_start(&echo, b->dir, canned, reply_len + 1);
        if (r < 0) {
                fprintf(stderr, "stitch-bench: echo server: %s\n", strerror(-r));
                return r;
        }
        r = wire_conn_open(&ec, echo.path);
        if (r < 0)
                return r;

        unsigned rounds = b->smoke ? 1 : 5, per = b->smoke ? 200 : 4000;
        struct samples ds = {0}, es = {0};
        bench_progress(b, "Token.Verify vs echo, one persistent connection: %u x %u calls each (request %zu B, reply %zu B)",
                       rounds, per, req_len, reply_len + 1);
        for (unsigned i = 0; i < 200; i++) { /* warm-up */
                (void) wire_roundtrip(&dc, req, req_len, NULL, NULL);
                (void) wire_roundtrip(&ec, req, req_len, NULL, NULL);
        }
        unsigned failed = 0;
        for (unsigned round = 0; round < rounds; round++) {
                for (unsigned i = 0; i < per; i++) {
                        double t0 = now_usec();
                        r = wire_roundtrip(&dc, req, req_len, NULL, NULL);
                        samples_add(&ds, now_usec() - t0);
                        failed += r != 1;
                }
                for (unsigned i = 0; i < per; i++) {
                        double t0 = now_usec();
                        r = wire_roundtrip(&ec, req, req_len, NULL, NULL);
                        samples_add(&es, now_usec() - t0);
                        failed += r != 1;
                }
        }
        struct result *res = bench_result(b, "verify.latency", "Token.Verify latency, 1 persistent connection");
        snprintf(res->unit, sizeof(res->unit), "us");
        res->value = samples_median(&ds);
        res->p99 = samples_p99(&ds);
        res->baseline = samples_median(&es);
        snprintf(res->baseline_what, sizeof(res->baseline_what), "AF_UNIX echo, same bytes");
        result_ratio(res, TARGET_NONE, NAN);
        result_note(res, "request %zu B, reply %zu B; echo p99 %.1f us; %u failed; the same token every time "
                         "(signature cache hit); placed by the scheduler, which may put the echo next to the client "
                         "and the daemon across: see verify.latency.same_cpu and .other_cpu",
                    req_len, reply_len + 1, samples_p99(&es), failed);
        samples_done(&ds);
        samples_done(&es);
        if (b->ncpu >= 2) {
                r = verify_placed(b, &dc, &ec, echo.pid, req, req_len, 0, "verify.latency.same_cpu",
                                  "Token.Verify latency, client and server on one CPU");
                if (r >= 0)
                        r = verify_placed(b, &dc, &ec, echo.pid, req, req_len, 1, "verify.latency.other_cpu",
                                          "Token.Verify latency, server on another CPU");
                if (r < 0)
                        bench_progress(b, "cannot place the client and servers on CPUs: %s", strerror(-r));
        }

        /* Uncached: every token verified once, so the ECDSA verification is paid. */
        unsigned n_fresh = b->smoke ? 20 : 2000;
        char **tokens = NULL;
        r = mint_tokens(b, u, n_fresh, &tokens);
        if (r < 0)
                return r;
        struct samples us = {0}, cs = {0};
        for (unsigned i = 0; i < n_fresh; i++) {
                size_t l;
                char *q = verify_request(tokens[i], &l);
                if (!q)
                        return -ENOMEM;
                double t0 = now_usec();
                r = wire_roundtrip(&dc, q, l, NULL, NULL);
                samples_add(&us, now_usec() - t0);
                t0 = now_usec();
                int r2 = wire_roundtrip(&dc, req, req_len, NULL, NULL); /* cached, interleaved */
                samples_add(&cs, now_usec() - t0);
                free(q);
                erase_and_free(tokens[i]);
                if (r != 1 || r2 != 1) {
                        fprintf(stderr, "stitch-bench: Token.Verify of a fresh token failed\n");
                        return -EIO;
                }
        }
        free(tokens);
        res = bench_result(b, "verify.uncached", "Token.Verify, each token new (ECDSA paid)");
        snprintf(res->unit, sizeof(res->unit), "us");
        res->value = samples_median(&us);
        res->p99 = samples_p99(&us);
        res->baseline = samples_median(&cs);
        snprintf(res->baseline_what, sizeof(res->baseline_what), "cached Verify, interleaved");
        result_ratio(res, TARGET_NONE, NAN);
        result_note(res, "%u tokens from Token.Get, each verified once", n_fresh);
        samples_done(&us);
        samples_done(&cs);
        wire_conn_close(&dc);
        wire_conn_close(&ec);

        /* Throughput: closed-loop connections, daemon and echo alternating. */
        static const unsigned conns[] = {1, 4, 32};
        double duration = b->smoke ? 0.2e6 : 1.5e6;
        unsigned trounds = b->smoke ? 1 : 3;
        for (size_t ci = 0; ci < ELEMENTSOF(conns); ci++) {
                unsigned k = conns[ci];
                struct loop loops[BENCH_MAX_CLIENTS];
                struct samples drates = {0}, erates = {0}, dlat = {0};
                unsigned dfailed = 0;
                char first_error[200] = "";

                bench_progress(b, "Token.Verify throughput, %u connection%s: %u rounds of %.1f s (daemon, then echo)", k,
                               k == 1 ? "" : "s", trounds, duration / 1e6);
                for (unsigned round = 0; round < trounds; round++) {
                        struct loop_result lr;
                        for (int side = 0; side < 2; side++) {
                                for (unsigned i = 0; i < k; i++)
                                        loops[i] = (struct loop) {.socket = side == 0 ? b->auth_socket : echo.path,
                                                                  .req = req,
                                                                  .req_len = req_len,
                                                                  .duration_us = duration};
                                r = run_loops(loops, k, &lr);
                                if (side == 0) {
                                        loops_collect(loops, k, &dlat);
                                        samples_add(&drates, lr.rate);
                                        dfailed += lr.failed;
                                        if (lr.first_error[0] && !first_error[0])
                                                memcpy(first_error, lr.first_error, sizeof(first_error));
                                } else {
                                        for (unsigned i = 0; i < k; i++)
                                                samples_done(&loops[i].lat);
                                        samples_add(&erates, lr.rate);
                                }
                                if (r < 0) {
                                        fprintf(stderr, "stitch-bench: verify clients failed: %s\n", strerror(-r));
                                        return r;
                                }
                        }
                }
                char id[64], what[96];
                snprintf(id, sizeof(id), "verify.rps.c%u", k);
                snprintf(what, sizeof(what), "Token.Verify/s, %u connection%s", k, k == 1 ? "" : "s");
                res = bench_result(b, id, what);
                snprintf(res->unit, sizeof(res->unit), "/s");
                res->value = samples_median(&drates);
                res->baseline = samples_median(&erates);
                snprintf(res->baseline_what, sizeof(res->baseline_what), "AF_UNIX echo, same bytes");
                result_ratio(res, TARGET_NONE, NAN);
                result_absolute(res, TARGET_GE, 50000);
                res->ratio = res->value / res->baseline;
                result_note(res, "latency median %.1f us, p99 %.1f us; %u failed", samples_median(&dlat),
                            samples_p99(&dlat), dfailed);
                if (first_error[0])
                        result_note(res, "first error: %s", first_error);
                samples_done(&drates);
                samples_done(&erates);
                samples_done(&dlat);
        }
        echo_stop(&echo);
        return 0;
}

/* ---- 5. API-key logins vs synchronous SQLite commits ----------------------------------------------- */

/* The floor of any durable write here: a single-row commit in a WAL database
 * with synchronous=FULL (the daemon's settings), in the daemon's directory. */
int sqlite_commit_rate(const char *dir, double duration_us, double *ret_rate, struct samples *lat) {
        char path[PATH_MAX];
        sqlite3 *db = NULL;
        sqlite3_stmt *ins = NULL, *begin = NULL, *commit = NULL;
        int r = -EIO;

        if (path_join(path, sizeof(path), dir, "commit-baseline.db") < 0)
                return -ENAMETOOLONG;
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
                    SQLITE_OK ||
            sqlite3_exec(db,
                         "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -8192;"
                         "PRAGMA journal_size_limit = 67108864;"
                         "CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY NOT NULL, user_id TEXT NOT NULL,"
                         " refresh_hash BLOB NOT NULL UNIQUE, created INTEGER NOT NULL) WITHOUT ROWID;",
                         NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?1, ?2, ?3, ?4)", -1, &ins, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL) != SQLITE_OK) {
                fprintf(stderr, "stitch-bench: commit baseline: %s\n", db ? sqlite3_errmsg(db) : "open failed");
                goto finish;
        }
        /* Steady state, like a store that has been in use: the WAL has grown
         * past an automatic checkpoint and is being rewritten in place, so a
         * commit does not also extend the file. Warm-up commits without fsync. */
        if (sqlite3_exec(db, "PRAGMA synchronous = OFF", NULL, NULL, NULL) != SQLITE_OK)
                goto finish;
        bool warm = true;
        unsigned n = 0;
        double t0 = now_usec(), stop = t0 + duration_us, t = t0;
        for (unsigned w = 0; w < 1500 || t < stop; w++) {
                if (warm && w >= 1500) {
                        if (sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK)
                                goto finish;
                        warm = false;
                        t0 = t = now_usec();
                        stop = t0 + duration_us;
                }
                uint8_t rnd[32 + 12];
                char id[25];
                if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd))
                        goto finish;
                for (int i = 0; i < 12; i++)
                        snprintf(id + 2 * i, 3, "%02x", rnd[32 + i]);
                double s = now_usec();
                sqlite3_reset(begin);
                sqlite3_reset(ins);
                sqlite3_reset(commit);
                if (sqlite3_step(begin) != SQLITE_DONE || sqlite3_bind_text(ins, 1, id, 24, SQLITE_TRANSIENT) ||
                    sqlite3_bind_text(ins, 2, "0123456789abcdef01234567", 24, SQLITE_STATIC) ||
                    sqlite3_bind_blob(ins, 3, rnd, 32, SQLITE_TRANSIENT) || sqlite3_bind_int64(ins, 4, (int64_t) s) ||
                    sqlite3_step(ins) != SQLITE_DONE || sqlite3_step(commit) != SQLITE_DONE) {
                        fprintf(stderr, "stitch-bench: commit baseline: %s\n", sqlite3_errmsg(db));
                        goto finish;
                }
                t = now_usec();
                if (warm)
                        continue;
                if (lat)
                        samples_add(lat, t - s);
                n++;
        }
        *ret_rate = n / ((t - t0) / 1e6);
        r = 0;
finish:
        sqlite3_finalize(ins);
        sqlite3_finalize(begin);
        sqlite3_finalize(commit);
        sqlite3_close(db);
        return r;
}

/* What one durable write costs on this disk: a 4 KiB block rewritten in
 * place + fdatasync() (a WAL in steady state), and appended + fdatasync()
 * (the file grows: the filesystem journal commits too). */
static int fsync_latency(const char *dir, unsigned n, struct samples *overwrite, struct samples *append) {
        char path[PATH_MAX], block[4096];
        if (path_join(path, sizeof(path), dir, "fsync-probe") < 0)
                return -ENAMETOOLONG;
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        memset(block, 0x5a, sizeof(block));
        int r = 0;
        if (pwrite(fd, block, sizeof(block), 0) != (ssize_t) sizeof(block) || fsync(fd) < 0)
                r = -EIO;
        for (unsigned i = 0; r == 0 && i < n; i++) {
                double t0 = now_usec();
                if (pwrite(fd, block, sizeof(block), 0) != (ssize_t) sizeof(block) || fdatasync(fd) < 0) {
                        r = -EIO;
                        break;
                }
                double t1 = now_usec();
                if (pwrite(fd, block, sizeof(block), (off_t) (i + 1) * 4096) != (ssize_t) sizeof(block) ||
                    fdatasync(fd) < 0) {
                        r = -EIO;
                        break;
                }
                samples_add(overwrite, t1 - t0);
                samples_add(append, now_usec() - t1);
        }
        close(fd);
        (void) unlink(path);
        return r;
}

int bench_apikey(struct bench *b) {
        static const unsigned levels[] = {1, 4, 16};
        unsigned rounds = b->smoke ? 1 : 3;
        double duration = b->smoke ? 0.2e6 : 2e6;
        /* Each login opens a session of its own, and a user past [Sessions]
         * MaxPerUser (100) also has its oldest session ended by each login:
         * a second write that is not the login's. So the logins go round
         * enough users (a service's many keys) that none reaches the limit
         * in a run at a few thousand logins/s; the notes say how many
         * logins each user got. */
        unsigned pool = b->smoke ? 64 : 2048;
        char **reqs = calloc(pool, sizeof(char *));
        size_t *lens = calloc(pool, sizeof(size_t));
        unsigned long long total = 0;
        struct loop loops[BENCH_MAX_CLIENTS];
        struct samples base_rates = {0}, base_lat = {0}, fs = {0}, fa = {0};
        double c1_ratio = NAN;
        int r;

        r = fsync_latency(b->dir, b->smoke ? 10 : 200, &fs, &fa);
        if (r < 0)
                return r;
        struct result *res = bench_result(b, "disk.fdatasync", "4 KiB rewrite + fdatasync, store's dir");
        snprintf(res->unit, sizeof(res->unit), "us");
        res->value = samples_median(&fs);
        res->p99 = samples_p99(&fs);
        result_note(res, "appending instead (the file grows): median %.2f ms, p99 %.2f ms", samples_median(&fa) / 1e3,
                    samples_p99(&fa) / 1e3);
        samples_done(&fs);
        samples_done(&fa);

        if (!reqs || !lens) {
                free(reqs);
                free(lens);
                return -ENOMEM;
        }
        bench_progress(b, "creating %u users with an API key each", pool);
        for (unsigned i = 0; i < pool; i++) {
                struct bench_user u = {};
                char name[32];
                snprintf(name, sizeof(name), "sbk%04u", i);
                r = bench_create_key_user(b, &u, name);
                if (r >= 0) {
                        reqs[i] = login_request(&u, true, &lens[i]);
                        r = reqs[i] ? 0 : -ENOMEM;
                }
                bench_user_done(&u);
                if (r < 0) {
                        fprintf(stderr, "stitch-bench: creating API-key user %s: %s\n", name, strerror(-r));
                        free_requests(reqs, lens, pool);
                        free(reqs);
                        free(lens);
                        return r;
                }
        }

        for (size_t li = 0; li < ELEMENTSOF(levels); li++) {
                unsigned k = levels[li];
                struct samples rates = {0}, lat = {0};
                unsigned failed = 0;
                char first_error[200] = "";

                bench_progress(b, "API-key logins, %u client%s: %u rounds of %.1f s%s", k, k == 1 ? "" : "s", rounds,
                               duration / 1e6, k == 1 ? ", alternating with the SQLite commit baseline" : "");
                for (unsigned round = 0; round < rounds; round++) {
                        struct loop_result lr;
                        if (k == 1) {
                                double rate;
                                r = sqlite_commit_rate(b->dir, duration, &rate, &base_lat);
                                if (r < 0)
                                        return r;
                                samples_add(&base_rates, rate);
                        }
                        for (unsigned i = 0; i < k; i++)
                                loops[i] = (struct loop) {.socket = b->auth_socket,
                                                          .reqs = reqs,
                                                          .lens = lens,
                                                          .first = i * (pool / k),
                                                          .n_reqs = pool / k,
                                                          .duration_us = duration};
                        r = run_loops(loops, k, &lr);
                        loops_collect(loops, k, &lat);
                        if (r < 0)
                                return r;
                        samples_add(&rates, lr.rate);
                        failed += lr.failed;
                        total += lr.ok + lr.failed;
                        if (lr.first_error[0] && !first_error[0])
                                memcpy(first_error, lr.first_error, sizeof(first_error));
                }
                char id[64], what[96];
                snprintf(id, sizeof(id), "apikey.c%u", k);
                snprintf(what, sizeof(what), "API-key logins/s (durable session), %u client%s", k, k == 1 ? "" : "s");
                res = bench_result(b, id, what);
                snprintf(res->unit, sizeof(res->unit), "/s");
                res->value = samples_median(&rates);
                res->baseline = samples_median(&base_rates);
                snprintf(res->baseline_what, sizeof(res->baseline_what), "1-row sync=FULL SQLite commits");
                result_ratio(res, TARGET_GE, 0.5);
                result_note(res, "login latency median %.2f ms, p99 %.2f ms; %u failed", samples_median(&lat) / 1e3,
                            samples_p99(&lat) / 1e3, failed);
                if (k == 1) {
                        c1_ratio = res->ratio;
                        result_note(res, "commit latency median %.2f ms, p99 %.2f ms", samples_median(&base_lat) / 1e3,
                                    samples_p99(&base_lat) / 1e3);
                } else if (!isnan(c1_ratio))
                        result_note(res, "%.2fx the 1-client rate", res->ratio / c1_ratio);
                if (first_error[0])
                        result_note(res, "first error: %s", first_error);
                result_note(res, "%u users with a key each, %.0f logins per user so far", pool, (double) total / pool);
                samples_done(&rates);
                samples_done(&lat);
        }
        samples_done(&base_rates);
        samples_done(&base_lat);
        free_requests(reqs, lens, pool);
        free(reqs);
        free(lens);
        return 0;
}

/* ---- 6. Token.Refresh vs ES256 signing ------------------------------------------------------------ */

struct sign_thread {
        EVP_PKEY *pkey;
        const char *input;
        size_t input_len;
        double duration_us;
        pthread_barrier_t *barrier;
        unsigned n;
        double elapsed_us;
};

/* The work of stitchd's es256_sign(): SHA-256, ECDSA P-256 sign, DER to raw r||s. */
static int es256_sign_once(EVP_PKEY *pkey, const char *input, size_t len, uint8_t out[64]) {
        uint8_t digest[SHA256_DIGEST_LENGTH], der[80];
        size_t der_len = sizeof(der);
        int r = -EIO;

        if (!SHA256((const unsigned char *) input, len, digest))
                return -EIO;
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        if (ctx && EVP_PKEY_sign_init(ctx) == 1 && EVP_PKEY_sign(ctx, der, &der_len, digest, sizeof(digest)) == 1) {
                const uint8_t *p = der;
                ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long) der_len);
                if (sig) {
                        const BIGNUM *sr, *ss;
                        ECDSA_SIG_get0(sig, &sr, &ss);
                        if (BN_bn2binpad(sr, out, 32) == 32 && BN_bn2binpad(ss, out + 32, 32) == 32)
                                r = 0;
                        ECDSA_SIG_free(sig);
                }
        }
        EVP_PKEY_CTX_free(ctx);
        return r;
}

static void *sign_main(void *p) {
        struct sign_thread *t = p;
        uint8_t sig[64];
        pthread_barrier_wait(t->barrier);
        double t0 = now_usec(), stop = t0 + t->duration_us, now = t0;
        while (now < stop) {
                if (es256_sign_once(t->pkey, t->input, t->input_len, sig) < 0) {
                        fprintf(stderr, "stitch-bench: ES256 signing failed\n");
                        exit(EXIT_FAILURE);
                }
                t->n++;
                now = now_usec();
        }
        t->elapsed_us = now - t0;
        return NULL;
}

static double sign_rate(EVP_PKEY *pkey, const char *input, size_t len, unsigned threads, double duration_us) {
        pthread_t th[64];
        struct sign_thread st[64];
        pthread_barrier_t barrier;
        threads = MIN(threads, 64u);
        pthread_barrier_init(&barrier, NULL, threads);
        for (unsigned i = 0; i < threads; i++) {
                st[i] = (struct sign_thread) {.pkey = pkey, .input = input, .input_len = len,
                                              .duration_us = duration_us, .barrier = &barrier};
                pthread_create(&th[i], NULL, sign_main, &st[i]);
        }
        double rate = 0;
        for (unsigned i = 0; i < threads; i++) {
                pthread_join(th[i], NULL);
                rate += st[i].n / (st[i].elapsed_us / 1e6);
        }
        pthread_barrier_destroy(&barrier);
        return rate;
}

double es256_sign_usec(const char *input, size_t len, double duration_us) {
        EVP_PKEY *pkey = EVP_EC_gen("P-256");
        if (!pkey)
                return NAN;
        double rate = sign_rate(pkey, input, len, 1, duration_us);
        EVP_PKEY_free(pkey);
        return rate > 0 ? 1e6 / rate : NAN;
}

int bench_refresh(struct bench *b) {
        unsigned levels[3] = {1, b->ncpu, 8};
        unsigned rounds = b->smoke ? 1 : 3, max = 8;
        double duration = b->smoke ? 0.2e6 : 2e6;
        char *reqs[BENCH_MAX_CLIENTS] = {};
        size_t lens[BENCH_MAX_CLIENTS];
        struct loop loops[BENCH_MAX_CLIENTS];
        int r;

        r = bench_ensure_users(b, max);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < max; i++) {
                r = bench_login(b, &b->users[1 + i], true);
                if (r < 0)
                        return r;
                cJSON *p = cJSON_CreateObject();
                cJSON_AddStringToObject(p, "refresh_token", b->users[1 + i].refresh_token);
                reqs[i] = wire_request("io.stitch.Token.Refresh", p, &lens[i]);
                if (!reqs[i])
                        return -ENOMEM;
        }

        /* The signing input of a real access token: same bytes as the daemon signs. */
        const char *token = b->users[1].access_token, *dot = strrchr(token, '.');
        size_t input_len = dot ? (size_t) (dot - token) : strlen(token);
        EVP_PKEY *pkey = EVP_EC_gen("P-256");
        if (!pkey) {
                fprintf(stderr, "stitch-bench: cannot generate a P-256 key\n");
                return -EIO;
        }
        double sign_us = 1e6 / sign_rate(pkey, token, input_len, 1, b->smoke ? 0.1e6 : 1e6);

        /* What the round trips alone cost: an echo of a Refresh reply, same
         * requests, same connections, in the same rounds. */
        struct echo_server echo = {};
        bool have_echo = false;
        _cleanup_free_ char *canned = NULL;
        {
                struct wire_conn c;
                const char *reply;
                size_t reply_len;
                if (wire_conn_open(&c, b->auth_socket) >= 0) {
                        if (wire_roundtrip(&c, reqs[0], lens[0], &reply, &reply_len) == 1) {
                                canned = malloc(reply_len + 1);
                                if (canned) {
                                        memcpy(canned, reply, reply_len + 1);
                                        have_echo = echo_start(&echo, b->dir, canned, reply_len + 1) >= 0;
                                }
                        }
                        wire_conn_close(&c);
                }
        }

        for (size_t li = 0; li < ELEMENTSOF(levels); li++) {
                unsigned k = levels[li];
                unsigned threads = MIN(k, b->ncpu);
                struct samples rates = {0}, base = {0}, lat = {0}, echo_rates = {0};
                unsigned failed = 0;
                char first_error[200] = "";

                if (li > 0 && k == levels[li - 1])
                        continue;
                bench_progress(b, "Token.Refresh, %u client%s: %u rounds of %.1f s, alternating with ES256 signing on %u "
                                  "thread%s",
                               k, k == 1 ? "" : "s", rounds, duration / 1e6, threads, threads == 1 ? "" : "s");
                for (unsigned round = 0; round < rounds; round++) {
                        struct loop_result lr;
                        samples_add(&base, sign_rate(pkey, token, input_len, threads, duration));
                        for (unsigned i = 0; i < k; i++)
                                loops[i] = (struct loop) {.socket = b->auth_socket,
                                                          .req = reqs[i],
                                                          .req_len = lens[i],
                                                          .duration_us = duration};
                        r = run_loops(loops, k, &lr);
                        loops_collect(loops, k, &lat);
                        if (r < 0) {
                                EVP_PKEY_free(pkey);
                                return r;
                        }
                        samples_add(&rates, lr.rate);
                        failed += lr.failed;
                        if (lr.first_error[0] && !first_error[0])
                                memcpy(first_error, lr.first_error, sizeof(first_error));
                        if (have_echo) {
                                struct samples ignored = {0};
                                for (unsigned i = 0; i < k; i++)
                                        loops[i] = (struct loop) {.socket = echo.path,
                                                                  .req = reqs[i],
                                                                  .req_len = lens[i],
                                                                  .duration_us = duration / 2};
                                if (run_loops(loops, k, &lr) >= 0)
                                        samples_add(&echo_rates, lr.rate);
                                loops_collect(loops, k, &ignored);
                                samples_done(&ignored);
                        }
                }
                char id[64], what[96], bw[64];
                snprintf(id, sizeof(id), "refresh.c%u", k);
                snprintf(what, sizeof(what), "Token.Refresh/s, %u client%s", k, k == 1 ? "" : "s");
                struct result *res = bench_result(b, id, what);
                snprintf(res->unit, sizeof(res->unit), "/s");
                res->value = samples_median(&rates);
                res->baseline = samples_median(&base);
                snprintf(bw, sizeof(bw), "ES256 signs in-process, %u thread%s", threads, threads == 1 ? "" : "s");
                snprintf(res->baseline_what, sizeof(res->baseline_what), "%s", bw);
                result_ratio(res, TARGET_GE, 0.5);
                result_note(res, "refresh latency median %.2f ms, p99 %.2f ms; %u failed; signing input %zu B",
                            samples_median(&lat) / 1e3, samples_p99(&lat) / 1e3, failed, input_len);
                if (have_echo && samples_median(&echo_rates) > 0 && res->baseline > 0) {
                        /* Every refresh is a round trip and a signature at least.
                         * k closed-loop clients wait a round trip (k/echo rate)
                         * and a signature each; all of them together can use no
                         * more than the CPUs, which spend ncpu/echo rate per
                         * round trip (client included). */
                        double echo_rate = samples_median(&echo_rates);
                        double rt_us = (double) b->ncpu * 1e6 / echo_rate;
                        double by_latency = (double) k * 1e6 / ((double) k * 1e6 / echo_rate + sign_us);
                        double by_cpu = (double) b->ncpu * 1e6 / (rt_us + sign_us);
                        result_note(res, "ceiling with nothing but the round trip and the signature: %.2f (an echo of "
                                         "the reply at %u connection%s: %.0f/s, %.1f us of CPU each; ES256 %.1f us)",
                                    MIN(by_latency, by_cpu) / res->baseline, k, k == 1 ? "" : "s", echo_rate, rt_us,
                                    sign_us);
                }
                samples_done(&echo_rates);
                if (first_error[0])
                        result_note(res, "first error: %s", first_error);
                samples_done(&rates);
                samples_done(&base);
                samples_done(&lat);
        }
        EVP_PKEY_free(pkey);
        if (have_echo)
                echo_stop(&echo);
        free_requests(reqs, lens, max);
        return 0;
}
