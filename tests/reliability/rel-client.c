/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rel-client: the well-behaved and the measuring clients of the reliability
 * tests, over lib/client.c like the PAM module.
 *
 *   rel-client verify SOCKET TOKEN SECONDS [--reconnect]
 *       Token.Verify in a loop on one connection (reconnecting if dropped)
 *       for SECONDS; with --reconnect on a fresh connection per call, as
 *       the PAM module does. Prints "calls N errors E busy B p50_us A
 *       p90_us B p99_us C max_us D" (busy: io.stitch.Error.Busy replies,
 *       counted apart from errors). Exit 1 if a call failed otherwise or
 *       took over 10 s.
 *   rel-client login-times SOCKET N USER PASSWORD [USER PASSWORD]...
 *       N rounds; each round one Auth.Login per (USER, PASSWORD) pair, in
 *       turn (interleaved, so drift in machine load hits every class alike),
 *       each on a fresh connection, as the PAM module does. Prints
 *       "CLASS MICROSECONDS ERROR" per attempt (CLASS: 0-based pair index,
 *       ERROR: the error name or "ok").
 *   rel-client ks FILE_A FILE_B
 *       Two samples (one number per line): n, medians, and the two-sample
 *       Kolmogorov-Smirnov statistic D with the critical value at alpha=0.01
 *       (1.628 * sqrt((n+m)/(n*m))). Prints
 *       "n_a N n_b M median_a X median_b Y D Z critical_0.01 C".
 *   rel-client guess SOCKET THREADS ATTEMPTS USER [RIGHT_PASSWORD]
 *       THREADS connections guess passwords for USER in parallel, ATTEMPTS
 *       in total (each a distinct wrong password). Prints
 *       "checked C limited L other O seconds S": C = InvalidCredentials
 *       replies (guesses the daemon checked), L = TooManyAttempts. With
 *       RIGHT_PASSWORD, the thread that receives the first TooManyAttempts
 *       logs in once with the right password at once, while the attack goes
 *       on, and the line ends "right ERROR right_ms MS": ERROR is the
 *       reply's error name or "ok", MS the milliseconds from the start of
 *       the attack to that reply.
 * Exit status 2 on usage or connection errors. */

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "client.h"
#include "macro.h"
#include "wire.h"

#define CALL_TIMEOUT_MS 10000

static uint64_t now_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static uint64_t percentile(const uint64_t *sorted, size_t n, double p) {
        size_t i;

        if (n == 0)
                return 0;
        i = (size_t) ceil(p * (double) n);
        if (i > 0)
                i--;
        return sorted[MIN(i, n - 1)];
}

/* One call on a fresh or given connection. Returns 0 with *ret_error set
 * ("ok" or the error name, static or owned by *ret_reply), or -errno. */
static int call(struct stitch_client **c, const char *socket, const char *method, cJSON *params,
                cJSON **ret_reply, const char **ret_error) {
        const char *error = NULL;
        cJSON *reply = NULL, *p = NULL;
        int r;

        if (!*c) {
                r = stitch_client_connect(socket, CALL_TIMEOUT_MS, c);
                if (r < 0)
                        return r;
        }
        r = stitch_client_call(*c, method, params, CALL_TIMEOUT_MS, &reply, &error, &p);
        if (r < 0) {
                stitch_client_free(*c);
                *c = NULL;
                return r;
        }
        *ret_reply = reply;
        *ret_error = error ? error : "ok";
        return 0;
}

static int do_verify(int argc, char **argv) {
        const char *socket, *token;
        struct stitch_client *c = NULL;
        size_t n = 0, allocated = 0, errors = 0, busy = 0;
        uint64_t *lat = NULL, deadline, worst = 0;
        bool reconnect;
        cJSON *params;
        int ret = 0;

        if (argc != 5 && !(argc == 6 && streq(argv[5], "--reconnect")))
                return 2;
        reconnect = argc == 6;
        socket = argv[2];
        token = argv[3];
        deadline = now_us() + (uint64_t) strtoul(argv[4], NULL, 10) * 1000000U;
        params = cJSON_CreateObject();
        if (!params || !cJSON_AddStringToObject(params, "access_token", token))
                return 2;

        while (now_us() < deadline) {
                cJSON *reply = NULL;
                const char *error = NULL;
                uint64_t t0 = now_us(), dt;
                int r = call(&c, socket, "io.stitch.Token.Verify", params, &reply, &error);

                dt = now_us() - t0;
                worst = MAX(worst, dt);
                if (reconnect) {
                        stitch_client_free(c);
                        c = NULL;
                }
                if (r >= 0 && streq(error, "io.stitch.Error.Busy"))
                        busy++;
                else if (r < 0 || !streq(error, "ok")) {
                        if (errors < 5)
                                fprintf(stderr, "rel-client verify: %s\n", r < 0 ? strerror(-r) : error);
                        errors++;
                }
                cJSON_Delete(reply);
                if (n == allocated) {
                        uint64_t *t;
                        allocated = allocated ? allocated * 2 : 4096;
                        t = realloc(lat, allocated * sizeof(*lat));
                        if (!t)
                                return 2;
                        lat = t;
                }
                lat[n++] = dt;
        }
        stitch_client_free(c);
        cJSON_Delete(params);

        qsort(lat, n, sizeof(*lat), cmp_u64);
        printf("calls %zu errors %zu busy %zu p50_us %llu p90_us %llu p99_us %llu max_us %llu\n", n, errors, busy,
               (unsigned long long) percentile(lat, n, 0.50), (unsigned long long) percentile(lat, n, 0.90),
               (unsigned long long) percentile(lat, n, 0.99), (unsigned long long) worst);
        if (errors > 0 || n == 0 || worst > (uint64_t) CALL_TIMEOUT_MS * 1000U)
                ret = 1;
        free(lat);
        return ret;
}

static int do_login_times(int argc, char **argv) {
        const char *socket;
        unsigned long rounds;
        int pairs;

        if (argc < 6 || (argc - 4) % 2 != 0)
                return 2;
        socket = argv[2];
        rounds = strtoul(argv[3], NULL, 10);
        pairs = (argc - 4) / 2;

        for (unsigned long i = 0; i < rounds; i++)
                for (int k = 0; k < pairs; k++) {
                        struct stitch_client *c = NULL;
                        cJSON *params = cJSON_CreateObject(), *reply = NULL;
                        const char *error = NULL;
                        uint64_t t0;
                        int r;

                        if (!params || !cJSON_AddStringToObject(params, "user", argv[4 + 2 * k]) ||
                            !cJSON_AddStringToObject(params, "password", argv[5 + 2 * k]) ||
                            !cJSON_AddStringToObject(params, "service", "login"))
                                return 2;
                        t0 = now_us();
                        r = call(&c, socket, "io.stitch.Auth.Login", params, &reply, &error);
                        printf("%d %llu %s\n", k, (unsigned long long) (now_us() - t0),
                               r < 0 ? "transport-error" : error);
                        cJSON_Delete(reply);
                        cJSON_Delete(params);
                        stitch_client_free(c);
                }
        return 0;
}

static int read_sample(const char *path, double **ret, size_t *ret_n) {
        FILE *f = fopen(path, "re");
        size_t n = 0, allocated = 0;
        double *v = NULL, x;

        if (!f)
                return -errno;
        while (fscanf(f, "%lf", &x) == 1) {
                if (n == allocated) {
                        double *t;
                        allocated = allocated ? allocated * 2 : 1024;
                        t = realloc(v, allocated * sizeof(*v));
                        if (!t) {
                                free(v);
                                fclose(f);
                                return -ENOMEM;
                        }
                        v = t;
                }
                v[n++] = x;
        }
        fclose(f);
        qsort(v, n, sizeof(*v), cmp_double);
        *ret = v;
        *ret_n = n;
        return 0;
}

static double median(const double *v, size_t n) {
        if (n == 0)
                return 0;
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int do_ks(int argc, char **argv) {
        double *a = NULL, *b = NULL, d = 0;
        size_t na = 0, nb = 0, i = 0, j = 0;

        if (argc != 4)
                return 2;
        if (read_sample(argv[2], &a, &na) < 0 || read_sample(argv[3], &b, &nb) < 0 || na == 0 || nb == 0) {
                fprintf(stderr, "rel-client ks: cannot read two non-empty samples\n");
                return 2;
        }
        /* D = sup |F_a(x) - F_b(x)|, evaluated after every distinct value. */
        while (i < na && j < nb) {
                double x = MIN(a[i], b[j]);
                while (i < na && a[i] <= x)
                        i++;
                while (j < nb && b[j] <= x)
                        j++;
                d = fmax(d, fabs((double) i / (double) na - (double) j / (double) nb));
        }
        printf("n_a %zu n_b %zu median_a %.0f median_b %.0f D %.4f critical_0.01 %.4f\n", na, nb, median(a, na),
               median(b, nb), d, 1.628 * sqrt((double) (na + nb) / ((double) na * (double) nb)));
        free(a);
        free(b);
        return 0;
}

struct guess_state {
        const char *socket, *user, *right;
        unsigned attempts;
        uint64_t t0;
        unsigned next; /* under lock */
        unsigned checked, limited, other;
        bool probed;             /* under lock */
        char probe_result[64];   /* written by the one probing thread */
        double probe_ms;
        pthread_mutex_t lock;
};

static cJSON *login_params(const char *user, const char *password) {
        cJSON *params = cJSON_CreateObject();

        if (!params || !cJSON_AddStringToObject(params, "user", user) ||
            !cJSON_AddStringToObject(params, "password", password) ||
            !cJSON_AddStringToObject(params, "service", "login")) {
                cJSON_Delete(params);
                return NULL;
        }
        return params;
}

/* The right password, sent while the account is known to be locked. */
static void guess_probe(struct guess_state *s, struct stitch_client **c) {
        cJSON *params = login_params(s->user, s->right), *reply = NULL;
        const char *error = NULL;
        int r;

        if (!params) {
                snprintf(s->probe_result, sizeof(s->probe_result), "out-of-memory");
                return;
        }
        r = call(c, s->socket, "io.stitch.Auth.Login", params, &reply, &error);
        s->probe_ms = (double) (now_us() - s->t0) / 1e3;
        snprintf(s->probe_result, sizeof(s->probe_result), "%s",
                 r < 0 ? "connection-error" : error ? error : "ok");
        cJSON_Delete(reply);
        cJSON_Delete(params);
}

static void *guess_thread(void *userdata) {
        struct guess_state *s = userdata;
        struct stitch_client *c = NULL;

        for (;;) {
                cJSON *params, *reply = NULL;
                const char *error = NULL;
                char password[64];
                unsigned i;
                int r;

                pthread_mutex_lock(&s->lock);
                i = s->next++;
                pthread_mutex_unlock(&s->lock);
                if (i >= s->attempts)
                        break;
                bool probe = false;

                snprintf(password, sizeof(password), "wrong-guess-%06u", i);
                params = login_params(s->user, password);
                if (!params)
                        break;
                r = call(&c, s->socket, "io.stitch.Auth.Login", params, &reply, &error);
                pthread_mutex_lock(&s->lock);
                if (r >= 0 && streq(error, "io.stitch.Error.InvalidCredentials"))
                        s->checked++;
                else if (r >= 0 && streq(error, "io.stitch.Error.TooManyAttempts")) {
                        s->limited++;
                        probe = s->right && !s->probed;
                        s->probed = s->probed || probe;
                } else {
                        s->other++;
                        fprintf(stderr, "rel-client guess: %s\n", r < 0 ? strerror(-r) : error);
                }
                pthread_mutex_unlock(&s->lock);
                cJSON_Delete(reply);
                cJSON_Delete(params);
                if (probe)
                        guess_probe(s, &c);
        }
        stitch_client_free(c);
        return NULL;
}

static int do_guess(int argc, char **argv) {
        struct guess_state s = { .lock = PTHREAD_MUTEX_INITIALIZER };
        pthread_t *threads;
        unsigned n;

        if (argc != 6 && argc != 7)
                return 2;
        s.socket = argv[2];
        n = (unsigned) strtoul(argv[3], NULL, 10);
        s.attempts = (unsigned) strtoul(argv[4], NULL, 10);
        s.user = argv[5];
        s.right = argc == 7 ? argv[6] : NULL;
        snprintf(s.probe_result, sizeof(s.probe_result), "none");
        if (n == 0 || n > 4096)
                return 2;
        threads = calloc(n, sizeof(*threads));
        if (!threads)
                return 2;
        s.t0 = now_us();
        for (unsigned i = 0; i < n; i++)
                if (pthread_create(&threads[i], NULL, guess_thread, &s) != 0)
                        return 2;
        for (unsigned i = 0; i < n; i++)
                pthread_join(threads[i], NULL);
        printf("checked %u limited %u other %u seconds %.3f", s.checked, s.limited, s.other,
               (double) (now_us() - s.t0) / 1e6);
        if (s.right)
                printf(" right %s right_ms %.1f", s.probe_result, s.probe_ms);
        printf("\n");
        free(threads);
        return s.other > 0;
}

int main(int argc, char **argv) {
        int r = 2;

        if (argc >= 2 && streq(argv[1], "verify"))
                r = do_verify(argc, argv);
        else if (argc >= 2 && streq(argv[1], "login-times"))
                r = do_login_times(argc, argv);
        else if (argc >= 2 && streq(argv[1], "ks"))
                r = do_ks(argc, argv);
        else if (argc >= 2 && streq(argv[1], "guess"))
                r = do_guess(argc, argv);
        if (r == 2)
                fprintf(stderr, "usage: rel-client verify|login-times|ks|guess ... (see the source)\n");
        return r;
}
