/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitch-bench: logins vouched for by another issuer (issue 23).
 *
 * idp.custom_token.cN: custom-token logins over HTTP (POST
 * .../providers/custom-token/login with an HS256 JWT) at 1 and 8
 * keep-alive connections, against what a login cannot do without: the
 * same JWT verified in this process (HMAC-SHA256 over its signing input,
 * compared in constant time) plus one durable commit (a 1-row sync=FULL
 * SQLite commit in the daemon's directory), measured in the same run.
 *
 * idp.password_while_slow: password logins/s while custom-token logins
 * wait on an issuer that never answers (JWKSURL= to a listener here that
 * accepts and says nothing, until [Network] Timeout=), against the same
 * daemon's password logins/s without them, in alternating rounds. The
 * identity provider's rounds run on the network pool: the hash slots
 * should not notice.
 *
 * Each part runs a daemon of its own (its own store, MaxPerUser high: a
 * closed loop of one user's logins must not also end older sessions). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base64url.h"
#include "client.h"
#include "bench.h"
#include "macro.h"
#include "wire.h"

#define CT_SECRET "stitch-bench custom-token HS256 secret, 48 bytes!"

static char *b64url(const void *data, size_t n) {
        size_t len = stitch_base64url_encoded_len(n);
        char *s = malloc(len + 1);
        if (!s)
                return NULL;
        stitch_base64url_encode(data, n, s);
        s[len] = 0;
        return s;
}

/* An HS256 JWT for app "stitch" with the given sub, valid for an hour. */
static char *mint(const char *sub) {
        char payload[256];
        unsigned char mac[32];
        unsigned mac_len = 0;
        long now = (long) time(NULL);

        snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",\"aud\":\"stitch\",\"iat\":%ld,\"exp\":%ld}", sub, now,
                 now + 3600);
        char *h = b64url("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27), *p = b64url(payload, strlen(payload));
        char *input = NULL, *token = NULL;
        if (h && p && asprintf(&input, "%s.%s", h, p) >= 0 &&
            HMAC(EVP_sha256(), CT_SECRET, (int) strlen(CT_SECRET), (const unsigned char *) input, strlen(input), mac,
                 &mac_len)) {
                char *sig = b64url(mac, mac_len);
                if (sig && asprintf(&token, "%s.%s", input, sig) < 0)
                        token = NULL;
                free(sig);
        }
        free(h);
        free(p);
        free(input);
        return token;
}

/* An RS256-shaped JWT with a kid (its signature is nothing): to check it
 * the daemon must first have the issuer's keys. */
static char *rs256_shaped(void) {
        static const uint8_t sig[256];
        char payload[160];
        long now = (long) time(NULL);
        snprintf(payload, sizeof(payload), "{\"sub\":\"bench-waiter\",\"aud\":\"stitch\",\"iat\":%ld,\"exp\":%ld}", now,
                 now + 3600);
        const char *header = "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}";
        char *h = b64url(header, strlen(header)), *p = b64url(payload, strlen(payload)), *s = b64url(sig, sizeof(sig));
        char *token = NULL;
        if (h && p && s && asprintf(&token, "%s.%s.%s", h, p, s) < 0)
                token = NULL;
        free(h);
        free(p);
        free(s);
        return token;
}

/* Microseconds per in-process verification of token's HMAC. */
__attribute__((noinline)) static double verify_usec(const char *token, double duration_us) {
        const char *last = strrchr(token, '.');
        unsigned char mac[32], want[64];
        unsigned mac_len = 0;
        size_t n = 0;
        ssize_t want_len = 0;
        double t0 = now_usec(), t;

        if (!last)
                return 0;
        size_t input_len = (size_t) (last - token), total = strlen(token);
        do {
                for (int i = 0; i < 200; i++) {
                        want_len = stitch_base64url_decode(token + input_len + 1, total - input_len - 1, want,
                                                           sizeof(want));
                        HMAC(EVP_sha256(), CT_SECRET, (int) strlen(CT_SECRET), (const unsigned char *) token,
                             input_len, mac, &mac_len);
                        if (want_len != (ssize_t) mac_len || CRYPTO_memcmp(want, mac, mac_len) != 0)
                                return 0;
                        n++;
                }
                t = now_usec() - t0;
        } while (t < duration_us);
        return t / (double) n;
}

/* A daemon of this part's own: 'extra' adds sections. */
static int idp_daemon(struct bench *c, const char *subdir, unsigned http_port, const char *extra) {
        int r = daemon_setup_dir(c, subdir);
        if (r < 0)
                return r;
        FILE *f = fopen(c->conf, "we");
        if (!f)
                return -errno;
        fprintf(f,
                "# written by stitch-bench: logins another issuer vouches for\n"
                "[Daemon]\nStore=sqlite:%s\nAuthSocket=%s\nAdminSocket=%s\nWorkers=%u\n\n"
                "[Pam]\nServices=" BENCH_SERVICE "\n\n"
                "[Provider.local-userpass]\nPasswordHash=argon2id:m=%" PRIu32 ",t=%" PRIu32 ",p=%" PRIu32 "\n\n"
                "[Sessions]\nMaxPerUser=100000\n\n"
                "[Http]\nListen=127.0.0.1:%u\n\n%s",
                c->db, c->auth_socket, c->admin_socket, c->workers, c->m_kib, c->t_cost, c->p_lanes, http_port,
                extra);
        if (fclose(f) != 0)
                return -errno;
        return daemon_start(c);
}

static int custom_token_rows(struct bench *b) {
        struct bench c = *b; /* shallow: only the daemon's fields change */
        char key_path[PATH_MAX], extra[PATH_MAX + 128], req[4096];
        unsigned port = free_port(), rounds = b->smoke ? 1 : 3;
        double duration = b->smoke ? 0.2e6 : 2e6;
        int r;

        c.daemon_pid = 0;
        r = daemon_setup_dir(&c, "idp-keys");
        if (r < 0)
                return r;
        r = path_join(key_path, sizeof(key_path), c.dir, "custom-token.key");
        if (r < 0)
                return r;
        FILE *f = fopen(key_path, "we");
        if (!f)
                return -errno;
        fputs(CT_SECRET, f);
        if (fclose(f) != 0 || chmod(key_path, 0600) < 0)
                return -errno;
        snprintf(extra, sizeof(extra),
                 "[Provider.custom-token]\nEnabled=yes\nSigningAlgorithm=HS256\nSigningKeyFile=%s\n", key_path);
        r = idp_daemon(&c, "idp-keys", port, extra);
        if (r < 0)
                return r;

        _cleanup_free_ char *token = mint("bench-custom-token-user");
        if (!token) {
                (void) daemon_stop(&c);
                return -ENOMEM;
        }
        char body[2048];
        snprintf(body, sizeof(body), "{\"token\":\"%s\",\"options\":{\"device\":{}}}", token);
        snprintf(req, sizeof(req),
                 "POST /api/client/v2.0/app/stitch/auth/providers/custom-token/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(body), body);

        double ver_us = verify_usec(token, b->smoke ? 0.05e6 : 0.5e6);
        static const unsigned levels[] = {1, 8};
        for (size_t li = 0; r >= 0 && li < ELEMENTSOF(levels); li++) {
                unsigned k = levels[li], failed = 0, status = 0;
                struct samples rates = {0}, lat = {0}, commits = {0}, commit_lat = {0};
                bench_progress(b, "custom-token logins over HTTP, %u connection%s: %u rounds of %.1f s, alternating "
                                  "with verify + commit",
                               k, k == 1 ? "" : "s", rounds, duration / 1e6);
                for (unsigned round = 0; r >= 0 && round < rounds; round++) {
                        double rate = 0;
                        r = sqlite_commit_rate(c.dir, MAX(duration / 4, 0.2e6), &rate, &commit_lat);
                        if (r >= 0) {
                                samples_add(&commits, rate);
                                samples_add(&rates, http_rate(b, port, req, k, duration, &lat, &failed, &status));
                        }
                }
                if (r >= 0) {
                        char id[64], what[96];
                        snprintf(id, sizeof(id), "idp.custom_token.c%u", k);
                        snprintf(what, sizeof(what), "custom-token logins/s over HTTP, %u connection%s", k,
                                 k == 1 ? "" : "s");
                        struct result *res = bench_result(b, id, what);
                        snprintf(res->unit, sizeof(res->unit), "/s");
                        res->value = samples_median(&rates);
                        double commit_rate = samples_median(&commits);
                        double commit_us = commit_rate > 0 ? 1e6 / commit_rate : NAN;
                        res->baseline = commit_rate > 0 ? 1e6 / (ver_us + commit_us) : NAN;
                        snprintf(res->baseline_what, sizeof(res->baseline_what), "HMAC verify + 1-row commit");
                        result_ratio(res, TARGET_GE, 0.5);
                        result_note(res, "p50 %.2f ms, p99 %.2f ms; baseline: verify %.1f us + commit %.0f us (one "
                                         "at a time); %u failed, first status %u",
                                    samples_median(&lat) / 1e3, samples_p99(&lat) / 1e3, ver_us, commit_us, failed,
                                    status);
                }
                samples_done(&rates);
                samples_done(&lat);
                samples_done(&commits);
                samples_done(&commit_lat);
        }
        int r2 = daemon_stop(&c);
        return r < 0 ? r : r2;
}

/* ---- an issuer that never answers ----------------------------------------------- */

struct silent {
        int listen_fd;
        int stop[2];
        pthread_t thread;
};

/* Accepts and holds every connection, saying nothing, until stopped. */
static void *silent_main(void *p) {
        struct silent *s = p;
        int held[256];
        size_t n = 0;
        for (;;) {
                struct pollfd fds[2] = {{.fd = s->listen_fd, .events = POLLIN}, {.fd = s->stop[0], .events = POLLIN}};
                if (poll(fds, 2, -1) < 0)
                        continue;
                if (fds[1].revents)
                        break;
                int fd = accept(s->listen_fd, NULL, NULL);
                if (fd >= 0 && n < ELEMENTSOF(held))
                        held[n++] = fd;
                else if (fd >= 0)
                        close(fd);
        }
        for (size_t i = 0; i < n; i++)
                close(held[i]);
        return NULL;
}

static int silent_start(struct silent *s, unsigned *ret_port) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *) &a, sizeof(a)) < 0 ||
            listen(s->listen_fd, 256) < 0 || getsockname(s->listen_fd, (struct sockaddr *) &a, &len) < 0 ||
            pipe(s->stop) < 0)
                return -errno;
        *ret_port = ntohs(a.sin_port);
        return -pthread_create(&s->thread, NULL, silent_main, s);
}

static void silent_stop(struct silent *s) {
        if (write(s->stop[1], "x", 1) < 0)
                return;
        pthread_join(s->thread, NULL);
        close(s->listen_fd);
        close(s->stop[0]);
        close(s->stop[1]);
}

struct waiter {
        const char *socket;
        const char *token;
        int result;
};

/* One custom-token login over the wire, as pam_stitch makes it (the
 * daemon asks for the token, the answer comes in the next round on the
 * same connection): the answer waits on the silent issuer. */
static void *waiter_main(void *p) {
        struct waiter *w = p;
        _cleanup_(stitch_client_freep) struct stitch_client *c = NULL;
        cJSON *reply = NULL, *params = NULL;
        const char *error = NULL;
        cJSON *rp = NULL;

        w->result = stitch_client_connect(w->socket, 30000, &c);
        if (w->result < 0)
                return NULL;
        params = cJSON_CreateObject();
        cJSON_AddStringToObject(params, "user", "nobody-in-particular");
        cJSON_AddStringToObject(params, "service", BENCH_SERVICE);
        cJSON_AddStringToObject(params, "provider", "custom-token");
        cJSON_AddBoolToObject(params, "interactive", true);
        w->result = stitch_client_call(c, "io.stitch.Auth.Login", params, 120000, &reply, &error, &rp);
        cJSON_Delete(params);
        const cJSON *conv = rp ? cJSON_GetObjectItemCaseSensitive(rp, "conversation") : NULL;
        if (w->result < 0 || error || !cJSON_IsString(conv)) {
                w->result = w->result < 0 ? w->result : -EPROTO;
                cJSON_Delete(reply);
                return NULL;
        }
        params = cJSON_CreateObject();
        cJSON_AddStringToObject(params, "conversation", conv->valuestring);
        cJSON *answers = cJSON_AddObjectToObject(params, "answers");
        cJSON_AddStringToObject(answers, "token", w->token);
        cJSON_Delete(reply);
        reply = NULL;
        w->result = stitch_client_call(c, "io.stitch.Auth.Login", params, 120000, &reply, &error, &rp);
        /* Refused as unavailable once the daemon's Timeout= has passed. */
        if (w->result >= 0 && !error)
                w->result = -EPROTO;
        cJSON_Delete(params);
        cJSON_Delete(reply);
        return NULL;
}

/* Password logins/s of user u through c's daemon over duration, 2 clients. */
struct pw_loop {
        struct bench *c;
        struct bench_user u; /* this thread's: a login writes its tokens here */
        double until;
        unsigned ok, failed;
};

static void *pw_main(void *p) {
        struct pw_loop *l = p;
        while (now_usec() < l->until) {
                if (bench_login(l->c, &l->u, false) < 0)
                        l->failed++;
                else
                        l->ok++;
        }
        erase_and_free(l->u.access_token);
        erase_and_free(l->u.refresh_token);
        argon2_kept_release();
        return NULL;
}

static double password_rate(struct bench *c, struct bench_user *u, double duration, unsigned *failed) {
        struct pw_loop loops[2];
        pthread_t t[2];
        double t0 = now_usec();
        unsigned ok = 0;
        for (int i = 0; i < 2; i++) {
                loops[i] = (struct pw_loop) {.c = c, .u = *u, .until = t0 + duration};
                loops[i].u.api_key = loops[i].u.access_token = loops[i].u.refresh_token = NULL;
                pthread_create(&t[i], NULL, pw_main, &loops[i]);
        }
        for (int i = 0; i < 2; i++) {
                pthread_join(t[i], NULL);
                ok += loops[i].ok;
                *failed += loops[i].failed;
        }
        return ok / ((now_usec() - t0) / 1e6);
}

static int password_while_slow(struct bench *b) {
        struct bench c = *b;
        struct bench_user u = {};
        struct silent s = {.listen_fd = -1};
        unsigned silent_port = 0, rounds = b->smoke ? 1 : 3, failed = 0;
        double duration = b->smoke ? 0.5e6 : 3e6;
        char extra[512];
        int r;

        c.daemon_pid = 0;
        r = silent_start(&s, &silent_port);
        if (r < 0)
                return r;
        /* Timeout= longer than a round: every waiter waits the whole round. */
        snprintf(extra, sizeof(extra),
                 "[Provider.custom-token]\nEnabled=yes\nSigningAlgorithm=RS256\nJWKSURL=http://127.0.0.1:%u/keys\n\n"
                 "[Network]\nAllowInsecureLoopback=yes\nTimeout=%us\n",
                 silent_port, (unsigned) (duration / 1e6) + 2);
        r = idp_daemon(&c, "idp-slow", free_port(), extra);
        if (r >= 0)
                r = bench_create_user(&c, &u, "sbench-slow", false);
        _cleanup_free_ char *token = rs256_shaped();
        if (r >= 0 && !token)
                r = -ENOMEM;

        struct samples alone = {0}, beside = {0};
        enum { WAITERS = 6 }; /* twice the network pool's threads */
        for (unsigned round = 0; r >= 0 && round < rounds; round++) {
                samples_add(&alone, password_rate(&c, &u, duration, &failed));
                struct waiter w[WAITERS];
                pthread_t t[WAITERS];
                for (int i = 0; i < WAITERS; i++) {
                        w[i] = (struct waiter) {.socket = c.auth_socket, .token = token};
                        pthread_create(&t[i], NULL, waiter_main, &w[i]);
                }
                samples_add(&beside, password_rate(&c, &u, duration, &failed));
                /* The waiters end at the daemon's Timeout=, refused: unavailable. */
                for (int i = 0; i < WAITERS; i++)
                        pthread_join(t[i], NULL);
        }
        if (r >= 0) {
                struct result *res = bench_result(b, "idp.password_while_slow",
                                                  "password logins/s, 2 clients, beside 6 logins an issuer holds");
                snprintf(res->unit, sizeof(res->unit), "/s");
                res->value = samples_median(&beside);
                res->baseline = samples_median(&alone);
                snprintf(res->baseline_what, sizeof(res->baseline_what), "the same without them");
                result_ratio(res, TARGET_GE, 0.9);
                result_note(res, "custom-token's JWKSURL= to a listener that never answers; %u rounds of %.1f s; "
                                 "%u failed",
                            rounds, duration / 1e6, failed);
        }
        samples_done(&alone);
        samples_done(&beside);
        int r2 = c.daemon_pid ? daemon_stop(&c) : 0;
        silent_stop(&s);
        return r < 0 ? r : r2;
}

int bench_idp(struct bench *b) {
        int r = custom_token_rows(b);
        if (r < 0) {
                fprintf(stderr, "stitch-bench: custom-token logins failed: %s\n", strerror(-r));
                return r;
        }
        r = password_while_slow(b);
        if (r < 0)
                fprintf(stderr, "stitch-bench: password logins beside a silent issuer failed: %s\n", strerror(-r));
        return r;
}
