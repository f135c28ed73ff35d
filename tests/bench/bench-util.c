/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitch-bench: statistics, result rows and the wire helpers. */

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "client.h"
#include "macro.h"
#include "wire.h"

/* ---- samples ------------------------------------------------------------------- */

double now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

int path_join(char *buf, size_t size, const char *dir, const char *name) {
        int n = snprintf(buf, size, "%s/%s", dir, name);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

void samples_add(struct samples *s, double v) {
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 256;
                double *n = realloc(s->v, cap * sizeof(double));
                if (!n) {
                        fprintf(stderr, "stitch-bench: out of memory\n");
                        exit(EXIT_FAILURE);
                }
                s->v = n;
                s->cap = cap;
        }
        s->v[s->n++] = v;
}

void samples_merge(struct samples *into, const struct samples *from) {
        for (size_t i = 0; i < from->n; i++)
                samples_add(into, from->v[i]);
}

void samples_done(struct samples *s) {
        free(s->v);
        *s = (struct samples) {0};
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y ? 1 : 0;
}

/* Nearest-rank quantile of the samples (sorts them in place). */
double samples_quantile(struct samples *s, double q) {
        if (s->n == 0)
                return NAN;
        qsort(s->v, s->n, sizeof(double), cmp_double);
        if (q <= 0)
                return s->v[0];
        size_t rank = (size_t) ceil(q * (double) s->n);
        if (rank < 1)
                rank = 1;
        if (rank > s->n)
                rank = s->n;
        return s->v[rank - 1];
}

double samples_median(struct samples *s) {
        if (s->n == 0)
                return NAN;
        qsort(s->v, s->n, sizeof(double), cmp_double);
        if (s->n % 2)
                return s->v[s->n / 2];
        return (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2;
}

double samples_p99(struct samples *s) {
        return samples_quantile(s, 0.99);
}

/* ---- results ---------------------------------------------------------------------- */

void bench_progress(const struct bench *b, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        fputs("stitch-bench: ", stderr);
        vfprintf(stderr, format, ap);
        fputc('\n', stderr);
        va_end(ap);
}

bool bench_selected(const struct bench *b, const char *name) {
        if (!b->only)
                return true;
        for (char **n = b->only; *n; n++)
                if (streq(*n, name))
                        return true;
        return false;
}

struct result *bench_result(struct bench *b, const char *id, const char *what) {
        struct result **n = realloc(b->results, (b->n_results + 1) * sizeof(struct result *));
        struct result *r = malloc(sizeof(struct result));
        if (!n || !r) {
                fprintf(stderr, "stitch-bench: out of memory\n");
                exit(EXIT_FAILURE);
        }
        b->results = n;
        b->results[b->n_results++] = r;
        *r = (struct result) {
                .value = NAN,
                .p99 = NAN,
                .baseline = NAN,
                .ratio = NAN,
                .target = NAN,
                .verdict = VERDICT_INFO,
        };
        snprintf(r->id, sizeof(r->id), "%s", id);
        snprintf(r->what, sizeof(r->what), "%s", what);
        return r;
}

static void result_judge(struct result *r) {
        double x = r->target_absolute ? r->value : r->ratio;
        if (r->cmp == TARGET_NONE || isnan(r->target))
                r->verdict = VERDICT_INFO;
        else if (isnan(x))
                r->verdict = VERDICT_MISS;
        else if (r->cmp == TARGET_LE)
                r->verdict = x <= r->target ? VERDICT_PASS : VERDICT_MISS;
        else
                r->verdict = x >= r->target ? VERDICT_PASS : VERDICT_MISS;
}

/* ratio = value / baseline, judged against target. */
void result_ratio(struct result *r, enum target_cmp cmp, double target) {
        if (!isnan(r->value) && !isnan(r->baseline) && r->baseline > 0)
                r->ratio = r->value / r->baseline;
        r->cmp = cmp;
        r->target = target;
        r->target_absolute = false;
        result_judge(r);
}

void result_absolute(struct result *r, enum target_cmp cmp, double target) {
        r->cmp = cmp;
        r->target = target;
        r->target_absolute = true;
        result_judge(r);
}

void result_note(struct result *r, const char *format, ...) {
        va_list ap;
        size_t l = strlen(r->note);
        if (l > 0 && l + 2 < sizeof(r->note)) {
                r->note[l++] = ';';
                r->note[l++] = ' ';
                r->note[l] = 0;
        }
        va_start(ap, format);
        vsnprintf(r->note + l, sizeof(r->note) - l, format, ap);
        va_end(ap);
}

void bench_skip(struct bench *b, const char *id, const char *what, const char *format, ...) {
        struct result *r = bench_result(b, id, what);
        va_list ap;
        r->verdict = VERDICT_SKIP;
        va_start(ap, format);
        vsnprintf(r->note, sizeof(r->note), format, ap);
        va_end(ap);
        bench_progress(b, "SKIP %s: %s", id, r->note);
}

/* ---- the wire ------------------------------------------------------------------------- */

/* One call through the blocking client of lib/client.h. Takes 'parameters'.
 * Returns 0 and the reply's parameters (owned by the caller), or -EPROTO
 * with the error logged, or another -errno. */
int wire_call(const char *socket_path, const char *method, cJSON *parameters, cJSON **ret_parameters) {
        _cleanup_(stitch_client_freep) struct stitch_client *c = NULL;
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = parameters;
        cJSON *reply = NULL, *p = NULL;
        const char *error = NULL;
        int r;

        r = stitch_client_connect(socket_path, 30000, &c);
        if (r < 0) {
                fprintf(stderr, "stitch-bench: cannot connect to %s: %s\n", socket_path, strerror(-r));
                return r;
        }
        r = stitch_client_call(c, method, params, 120000, &reply, &error, &p);
        if (r < 0) {
                fprintf(stderr, "stitch-bench: %s failed: %s\n", method, strerror(-r));
                return r;
        }
        if (error) {
                cJSON *msg = cJSON_GetObjectItemCaseSensitive(p, "message");
                fprintf(stderr, "stitch-bench: %s failed: %s%s%s\n", method, error, cJSON_IsString(msg) ? ": " : "",
                        cJSON_IsString(msg) ? msg->valuestring : "");
                stitch_json_wipe_and_delete(reply);
                return -EPROTO;
        }
        if (ret_parameters)
                *ret_parameters = cJSON_DetachItemViaPointer(reply, p);
        stitch_json_wipe_and_delete(reply);
        return 0;
}

int wire_connect(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* The exact bytes of a call, NUL included. Takes 'parameters'. */
char *wire_request(const char *method, cJSON *parameters, size_t *ret_len) {
        cJSON *call = stitch_wire_call_new(method, parameters);
        char *buf = NULL;
        if (!call)
                return NULL;
        int r = stitch_wire_encode(call, &buf, ret_len);
        stitch_json_wipe_and_delete(call);
        return r < 0 ? NULL : buf;
}

int wire_conn_open(struct wire_conn *c, const char *path) {
        *c = (struct wire_conn) {.fd = -EBADF};
        c->fd = wire_connect(path);
        if (c->fd < 0)
                return c->fd;
        c->cap = STITCH_WIRE_MAX_MESSAGE + 2;
        c->buf = malloc(c->cap);
        if (!c->buf) {
                close(c->fd);
                c->fd = -EBADF;
                return -ENOMEM;
        }
        return 0;
}

void wire_conn_close(struct wire_conn *c) {
        if (c->fd >= 0)
                close(c->fd);
        if (c->buf) {
                explicit_bzero(c->buf, c->cap);
                free(c->buf);
        }
        *c = (struct wire_conn) {.fd = -EBADF};
}

/* The hot loop of every wire benchmark: one send(), then recv() until the
 * reply's NUL. Only one call is ever outstanding, so the NUL ends the buffer. */
int wire_roundtrip(struct wire_conn *c, const char *req, size_t req_len, const char **ret_reply, size_t *ret_len) {
        size_t sent = 0;
        while (sent < req_len) {
                ssize_t n = send(c->fd, req + sent, req_len - sent, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                sent += (size_t) n;
        }
        c->len = 0;
        for (;;) {
                if (c->len >= c->cap)
                        return -EMSGSIZE;
                ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -ECONNRESET;
                size_t old = c->len;
                c->len += (size_t) n;
                if (memchr(c->buf + old, 0, (size_t) n))
                        break;
        }
        if (ret_reply)
                *ret_reply = c->buf;
        if (ret_len)
                *ret_len = c->len - 1;
        static const char ok[] = "{\"parameters\"";
        return c->len > sizeof(ok) - 1 && memcmp(c->buf, ok, sizeof(ok) - 1) == 0 ? 1 : 0;
}

/* ---- users -------------------------------------------------------------------------------- */

static char *json_strdup(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

/* A stitch user with a password (and optionally an API key), through the admin socket. */
static int create_user(struct bench *b, struct bench_user *u, const char *unix_name, bool with_key,
                       bool with_password) {
        cJSON *p = cJSON_CreateObject(), *reply = NULL;
        int r;

        snprintf(u->unix_name, sizeof(u->unix_name), "%s", unix_name);
        snprintf(u->email, sizeof(u->email), "%s@bench.invalid", unix_name);
        if (with_password) { /* an email user has a password */
                cJSON_AddStringToObject(p, "email", u->email);
                cJSON_AddStringToObject(p, "password", BENCH_PASSWORD);
        }
        cJSON_AddStringToObject(p, "unix_name", u->unix_name);
        r = wire_call(b->admin_socket, "io.stitch.Admin.UserCreate", p, &reply);
        if (r < 0)
                return r;
        const cJSON *user = cJSON_GetObjectItemCaseSensitive(reply, "user");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(user, "id");
        if (!cJSON_IsString(id) || strlen(id->valuestring) != 24) {
                cJSON_Delete(reply);
                return -EBADMSG;
        }
        memcpy(u->id, id->valuestring, 25);
        cJSON_Delete(reply);

        if (with_key) {
                p = cJSON_CreateObject();
                cJSON_AddStringToObject(p, "user", u->id);
                cJSON_AddStringToObject(p, "name", "bench");
                r = wire_call(b->admin_socket, "io.stitch.Admin.ApiKeyCreate", p, &reply);
                if (r < 0)
                        return r;
                u->api_key = json_strdup(reply, "key");
                stitch_json_wipe_and_delete(reply);
                if (!u->api_key)
                        return -EBADMSG;
        }
        return 0;
}

int bench_create_user(struct bench *b, struct bench_user *u, const char *unix_name, bool with_key) {
        return create_user(b, u, unix_name, with_key, true);
}

int bench_create_key_user(struct bench *b, struct bench_user *u, const char *unix_name) {
        return create_user(b, u, unix_name, true, false);
}

void bench_user_done(struct bench_user *u) {
        erase_and_free(u->api_key);
        erase_and_free(u->access_token);
        erase_and_free(u->refresh_token);
        *u = (struct bench_user) {};
}

/* Logs u in (by API key if asked, else by password) and keeps its tokens. */
int bench_login(struct bench *b, struct bench_user *u, bool with_key) {
        cJSON *p = cJSON_CreateObject(), *reply = NULL;
        int r;

        cJSON_AddStringToObject(p, "user", u->unix_name);
        cJSON_AddStringToObject(p, "service", BENCH_SERVICE);
        if (with_key) {
                cJSON_AddStringToObject(p, "provider", "api-key");
                cJSON_AddStringToObject(p, "key", u->api_key);
        } else {
                cJSON_AddStringToObject(p, "provider", "local-userpass");
                cJSON_AddStringToObject(p, "password", BENCH_PASSWORD);
        }
        r = wire_call(b->auth_socket, "io.stitch.Auth.Login", p, &reply);
        if (r < 0)
                return r;
        erase_and_free(u->access_token);
        erase_and_free(u->refresh_token);
        u->access_token = json_strdup(reply, "access_token");
        u->refresh_token = json_strdup(reply, "refresh_token");
        const cJSON *sid = cJSON_GetObjectItemCaseSensitive(reply, "session_id");
        if (cJSON_IsString(sid))
                snprintf(u->session_id, sizeof(u->session_id), "%s", sid->valuestring);
        stitch_json_wipe_and_delete(reply);
        return u->access_token && u->refresh_token ? 0 : -EBADMSG;
}

/* users[1..n]: one stitch user (password and API key) per concurrent client. */
int bench_ensure_users(struct bench *b, size_t n) {
        if (n > BENCH_MAX_CLIENTS + 1)
                return -EINVAL;
        if (b->n_users < n + 1)
                bench_progress(b, "creating %zu client users", n + 1 - b->n_users);
        while (b->n_users < n + 1) {
                char name[32];
                snprintf(name, sizeof(name), "sbc%02zu", b->n_users);
                int r = bench_create_user(b, &b->users[b->n_users], name, true);
                if (r < 0)
                        return r;
                b->n_users++;
        }
        return 0;
}
