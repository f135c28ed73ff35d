/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitch-bench: the HTTP client API. GET /auth/profile (an access-token
 * check and a user read) and POST /auth/session (a refresh: a signature)
 * at 1, 8 and 64 keep-alive connections, against a bare libmicrohttpd
 * responder in this process (one epoll thread) that answers the same
 * bytes, measured in alternating rounds. The load generator is the same
 * for both: N connections over min(N, CPUs) threads, one request in
 * flight per connection. */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "bench.h"
#include "macro.h"

#define HTTP_CONNS_MAX 64

struct http_conn {
        int fd;
        char buf[16384];
        size_t len;
        double sent_at;
};

struct http_loop {
        unsigned port;
        const char *req;
        size_t req_len;
        unsigned n_conns;
        double duration_us;
        pthread_barrier_t *barrier;
        struct samples lat;
        unsigned ok, failed;
        unsigned first_status;
};

static int conn_open(unsigned port) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        int one = 1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (struct sockaddr *) &a, sizeof(a)) < 0) {
                int e = -errno;
                close(fd);
                return e;
        }
        return fd;
}

/* A whole response in buf: its status, and its length (0: not yet). */
static size_t response_complete(const char *buf, size_t len, unsigned *ret_status) {
        const char *end = memmem(buf, len, "\r\n\r\n", 4);
        if (!end)
                return 0;
        size_t head = (size_t) (end - buf) + 4, body = 0;
        const char *cl = memmem(buf, head, "Content-Length: ", 16);
        if (!cl)
                cl = memmem(buf, head, "content-length: ", 16);
        if (cl)
                body = strtoul(cl + 16, NULL, 10);
        if (len < head + body)
                return 0;
        *ret_status = len > 12 ? (unsigned) strtoul(buf + 9, NULL, 10) : 0;
        return head + body;
}

static void *http_loop_main(void *p) {
        struct http_loop *l = p;
        struct http_conn conns[HTTP_CONNS_MAX] = {};
        int ep = epoll_create1(EPOLL_CLOEXEC);

        for (unsigned i = 0; i < l->n_conns; i++) {
                conns[i].fd = conn_open(l->port);
                if (conns[i].fd >= 0 && ep >= 0) {
                        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
                        (void) epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
                }
        }
        pthread_barrier_wait(l->barrier);
        double start = now_usec(), end = start + l->duration_us;
        for (unsigned i = 0; i < l->n_conns; i++)
                if (conns[i].fd >= 0) {
                        conns[i].sent_at = now_usec();
                        if (write(conns[i].fd, l->req, l->req_len) != (ssize_t) l->req_len)
                                l->failed++;
                }
        while (ep >= 0 && now_usec() < end) {
                struct epoll_event evs[HTTP_CONNS_MAX];
                int n = epoll_wait(ep, evs, HTTP_CONNS_MAX, 100);
                for (int e = 0; e < n; e++) {
                        struct http_conn *c = &conns[evs[e].data.u32];
                        ssize_t k = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
                        if (k <= 0) {
                                l->failed++;
                                (void) epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                                close(c->fd);
                                c->fd = -1;
                                continue;
                        }
                        c->len += (size_t) k;
                        unsigned status = 0;
                        size_t used = response_complete(c->buf, c->len, &status);
                        if (!used)
                                continue;
                        double t = now_usec();
                        if (status >= 200 && status < 300) {
                                l->ok++;
                                samples_add(&l->lat, t - c->sent_at);
                        } else {
                                l->failed++;
                                if (!l->first_status)
                                        l->first_status = status;
                        }
                        memmove(c->buf, c->buf + used, c->len - used);
                        c->len -= used;
                        if (t < end) {
                                c->sent_at = t;
                                if (write(c->fd, l->req, l->req_len) != (ssize_t) l->req_len)
                                        l->failed++;
                        }
                }
        }
        for (unsigned i = 0; i < l->n_conns; i++)
                if (conns[i].fd >= 0)
                        close(conns[i].fd);
        if (ep >= 0)
                close(ep);
        return NULL;
}

/* Requests per second over k connections; latencies into lat. */
double http_rate(struct bench *b, unsigned port, const char *req, unsigned k, double duration,
                 struct samples *lat, unsigned *ret_failed, unsigned *ret_status) {
        unsigned threads = MIN(k, b->ncpu);
        struct http_loop loops[HTTP_CONNS_MAX];
        pthread_t tids[HTTP_CONNS_MAX];
        pthread_barrier_t barrier;
        unsigned ok = 0;

        pthread_barrier_init(&barrier, NULL, threads);
        for (unsigned t = 0; t < threads; t++) {
                loops[t] = (struct http_loop) {.port = port, .req = req, .req_len = strlen(req),
                                               .n_conns = k / threads + (t < k % threads), .duration_us = duration,
                                               .barrier = &barrier};
                pthread_create(&tids[t], NULL, http_loop_main, &loops[t]);
        }
        for (unsigned t = 0; t < threads; t++) {
                pthread_join(tids[t], NULL);
                ok += loops[t].ok;
                *ret_failed += loops[t].failed;
                if (!*ret_status)
                        *ret_status = loops[t].first_status;
                samples_merge(lat, &loops[t].lat);
                samples_done(&loops[t].lat);
        }
        pthread_barrier_destroy(&barrier);
        return ok / (duration / 1e6);
}

/* ---- the bare responder ------------------------------------------------------------- */

struct bare {
        char *body;
        size_t len;
};

static enum MHD_Result bare_answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                   const char *version, const char *upload_data, size_t *upload_data_size,
                                   void **con_cls) {
        struct bare *bare = cls;
        (void) url, (void) method, (void) version, (void) upload_data;
        if (!*con_cls) {
                *con_cls = bare;
                return MHD_YES;
        }
        if (*upload_data_size) {
                *upload_data_size = 0;
                return MHD_YES;
        }
        struct MHD_Response *r = MHD_create_response_from_buffer(bare->len, bare->body, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Type", "application/json");
        MHD_add_response_header(r, "Cache-Control", "no-store");
        enum MHD_Result ok = MHD_queue_response(conn, 200, r);
        MHD_destroy_response(r);
        return ok;
}

/* One reply of stitchd's, for the responder to repeat. */
static int fetch_body(unsigned port, const char *req, char **ret) {
        int fd = conn_open(port);
        char buf[16384];
        size_t len = 0;
        unsigned status = 0;
        if (fd < 0)
                return fd;
        if (write(fd, req, strlen(req)) != (ssize_t) strlen(req)) {
                close(fd);
                return -EIO;
        }
        size_t used = 0;
        while (!used) {
                ssize_t k = read(fd, buf + len, sizeof(buf) - 1 - len);
                if (k <= 0) {
                        close(fd);
                        return -EIO;
                }
                len += (size_t) k;
                used = response_complete(buf, len, &status);
        }
        close(fd);
        buf[used] = 0;
        const char *body = strstr(buf, "\r\n\r\n");
        if (status != 200 && status != 201)
                return -EPROTO;
        *ret = strdup(body + 4);
        return *ret ? 0 : -ENOMEM;
}

unsigned free_port(void) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        unsigned port = 0;
        if (fd >= 0 && bind(fd, (struct sockaddr *) &a, sizeof(a)) == 0 &&
            getsockname(fd, (struct sockaddr *) &a, &len) == 0)
                port = ntohs(a.sin_port);
        if (fd >= 0)
                close(fd);
        return port;
}

unsigned bench_http_port(void) {
        static unsigned port;
        if (!port)
                port = free_port();
        return port;
}

/* ---- the rows ------------------------------------------------------------------------- */

/* sign_us > 0: every request of the route signs a token (a refresh). */
static int http_rows(struct bench *b, const char *name, const char *what, const char *req, double sign_us) {
        static const unsigned levels[] = {1, 8, 64};
        unsigned port = bench_http_port(), rounds = b->smoke ? 1 : 3;
        double duration = b->smoke ? 0.2e6 : 2e6;
        struct bare bare = {0};

        int r = fetch_body(port, req, &bare.body);
        if (r < 0) {
                fprintf(stderr, "stitch-bench: %s over HTTP failed (%s)\n", name, strerror(-r));
                return r;
        }
        bare.len = strlen(bare.body);
        /* As many threads as stitchd's HTTP front end runs (one per CPU), so
         * both sides have the same CPUs to answer with. */
        unsigned threads = MAX(b->ncpu, 1u);
        struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO, 0, NULL, NULL,
                                                bare_answer, &bare, MHD_OPTION_CONNECTION_LIMIT, 1024u,
                                                threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
                                                threads, MHD_OPTION_END);
        const union MHD_DaemonInfo *info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
        if (!info) {
                fprintf(stderr, "stitch-bench: cannot start the bare libmicrohttpd responder\n");
                if (d)
                        MHD_stop_daemon(d);
                free(bare.body);
                return -EIO;
        }
        unsigned bare_port = info->port;

        for (size_t li = 0; li < ELEMENTSOF(levels); li++) {
                unsigned k = levels[li], failed = 0, status = 0, bare_failed = 0, bare_status = 0;
                struct samples rates = {0}, base = {0}, lat = {0}, base_lat = {0};
                bench_progress(b, "HTTP %s, %u connection%s: %u rounds of %.1f s, alternating with a bare "
                                  "libmicrohttpd responder",
                               name, k, k == 1 ? "" : "s", rounds, duration / 1e6);
                for (unsigned round = 0; round < rounds; round++) {
                        samples_add(&base, http_rate(b, bare_port, req, k, duration, &base_lat, &bare_failed,
                                                     &bare_status));
                        samples_add(&rates, http_rate(b, port, req, k, duration, &lat, &failed, &status));
                }
                char id[64], w[96];
                snprintf(id, sizeof(id), "http.%s.c%u", name, k);
                snprintf(w, sizeof(w), "%s/s, %u connection%s", what, k, k == 1 ? "" : "s");
                struct result *res = bench_result(b, id, w);
                snprintf(res->unit, sizeof(res->unit), "/s");
                res->value = samples_median(&rates);
                res->baseline = samples_median(&base);
                snprintf(res->baseline_what, sizeof(res->baseline_what), "bare libmicrohttpd, %u thr, same %zu B",
                         threads, bare.len);
                result_ratio(res, TARGET_GE, 0.5);
                result_note(res, "p50 %.2f ms, p99 %.2f ms (bare: p50 %.2f ms, p99 %.2f ms); %u failed, first status %u",
                            samples_median(&lat) / 1e3, samples_p99(&lat) / 1e3, samples_median(&base_lat) / 1e3,
                            samples_p99(&base_lat) / 1e3, failed + bare_failed, status);
                if (sign_us > 0 && res->baseline > 0) {
                        /* The CPUs (client included) spend ncpu/baseline per bare
                         * request; a refresh spends that plus a signature at
                         * least, whatever else it does. */
                        double bare_us = (double) b->ncpu * 1e6 / res->baseline;
                        /* k closed-loop connections wait a bare answer (k/rate)
                         * and a signature each; together they can use no more
                         * than the CPUs. */
                        double by_latency = (double) k * 1e6 / ((double) k * 1e6 / res->baseline + sign_us);
                        double by_cpu = (double) b->ncpu * 1e6 / (bare_us + sign_us);
                        result_note(res, "ceiling with nothing but the signature added: %.2f (%.1f us of CPU per bare "
                                         "request, ES256 signature %.1f us)",
                                    MIN(by_latency, by_cpu) / res->baseline, bare_us, sign_us);
                }
                samples_done(&rates);
                samples_done(&base);
                samples_done(&lat);
                samples_done(&base_lat);
        }
        MHD_stop_daemon(d);
        free(bare.body);
        return 0;
}

int bench_http(struct bench *b) {
        char req[4096];
        int r = bench_login(b, &b->users[0], false);
        if (r < 0)
                return r;
        snprintf(req, sizeof(req),
                 "GET /api/client/v2.0/auth/profile HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n",
                 b->users[0].access_token);
        r = http_rows(b, "profile", "GET /auth/profile", req, 0);
        if (r < 0)
                return r;
        snprintf(req, sizeof(req),
                 "POST /api/client/v2.0/auth/session HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                 "Content-Length: 0\r\n\r\n",
                 b->users[0].refresh_token);
        /* The signing input of a real access token: the bytes the daemon signs. */
        const char *token = b->users[0].access_token, *dot = strrchr(token, '.');
        double sign_us = es256_sign_usec(token, dot ? (size_t) (dot - token) : strlen(token), b->smoke ? 0.1e6 : 1e6);
        return http_rows(b, "refresh", "POST /auth/session", req, sign_us);
}
