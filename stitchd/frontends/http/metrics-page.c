/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /metrics: the counters in Prometheus text format (version 0.0.4). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/http/metrics.h"
#include "frontends/http/request.h"
#include "macro.h"

struct text {
        char *buf;
        size_t len, size;
        bool failed;
};

_printf_(2, 3) static void put(struct text *t, const char *format, ...) {
        va_list ap;
        if (t->failed)
                return;
        for (;;) {
                va_start(ap, format);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                int n = vsnprintf(t->buf + t->len, t->size - t->len, format, ap);
#pragma GCC diagnostic pop
                va_end(ap);
                if (n < 0) {
                        t->failed = true;
                        return;
                }
                if ((size_t) n < t->size - t->len) {
                        t->len += (size_t) n;
                        return;
                }
                size_t size = t->size * 2 + (size_t) n;
                char *b = realloc(t->buf, size);
                if (!b) {
                        t->failed = true;
                        return;
                }
                t->buf = b;
                t->size = size;
        }
}

static void counter(struct text *t, const char *name, const char *help, uint64_t v) {
        put(t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, (unsigned long long) v);
}

void http_metrics_page(struct http_request *r) {
        struct stitch_manager *m = r->manager;
        const struct http_metrics *mt = r->metrics;
        struct text t = {.buf = malloc(8192), .size = 8192};

        if (!m->core->config.http_metrics) {
                free(t.buf);
                http_reply_error(r, 404, "NotFound", "route not found");
                return;
        }
        if (!t.buf) {
                http_reply_errno(r, -ENOMEM, "metrics");
                return;
        }
        t.buf[0] = 0;
        put(&t, "# HELP stitch_http_requests_total HTTP requests by route and status class.\n"
                "# TYPE stitch_http_requests_total counter\n");
        for (size_t k = 0; k < HTTP_METRICS_ROUTES; k++) {
                const char *route = k < http_n_routes ? http_routes[k].template : "none";
                const char *method = k < http_n_routes ? http_routes[k].method : "";
                if (k >= http_n_routes && k != HTTP_METRICS_ROUTES - 1)
                        continue;
                for (unsigned c = 0; c < 5; c++) {
                        uint64_t v = http_metrics_get(&mt->requests[k][c]);
                        if (v)
                                put(&t, "stitch_http_requests_total{method=\"%s\",route=\"%s\",code=\"%ux\"} %llu\n",
                                    method, route, c + 1, (unsigned long long) v);
                }
        }
        put(&t, "# HELP stitch_http_request_duration_seconds Time from the first header to the reply.\n"
                "# TYPE stitch_http_request_duration_seconds histogram\n");
        for (size_t k = 0; k < http_n_routes && k < HTTP_METRICS_ROUTES - 1; k++) {
                uint64_t count = http_metrics_get(&mt->duration_count[k]), cumulative = 0;
                if (!count)
                        continue;
                const char *route = http_routes[k].template, *method = http_routes[k].method;
                for (size_t b = 0; b < HTTP_METRICS_BUCKETS; b++) {
                        cumulative += http_metrics_get(&mt->duration_buckets[k][b]);
                        put(&t, "stitch_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%g\"} %llu\n",
                            method, route, (double) http_metrics_bucket_usec[b] / 1e6, (unsigned long long) cumulative);
                }
                put(&t, "stitch_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+Inf\"} %llu\n",
                    method, route, (unsigned long long) count);
                put(&t, "stitch_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n", method, route,
                    (double) http_metrics_get(&mt->duration_sum_usec[k]) / 1e6);
                put(&t, "stitch_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n", method,
                    route, (unsigned long long) count);
        }
        counter(&t, "stitch_http_logins_succeeded_total", "App logins that made a session.",
                http_metrics_get(&mt->logins_succeeded));
        counter(&t, "stitch_http_logins_failed_total", "App logins refused.", http_metrics_get(&mt->logins_failed));
        counter(&t, "stitch_http_links_total", "Identity links (and no-op relinks).", http_metrics_get(&mt->links));
        counter(&t, "stitch_http_refreshes_total", "Access tokens issued by refresh.", http_metrics_get(&mt->refreshes));
        counter(&t, "stitch_http_refreshes_failed_total", "Refreshes refused.", http_metrics_get(&mt->refreshes_failed));
        counter(&t, "stitch_http_verifies_total", "Access tokens accepted.", http_metrics_get(&mt->verifies));
        counter(&t, "stitch_http_verifies_failed_total", "Access tokens refused.", http_metrics_get(&mt->verifies_failed));
        counter(&t, "stitch_http_connections_total", "Connections accepted.", http_metrics_get(&mt->connections_total));
        put(&t, "# HELP stitch_http_connections_open Open HTTP connections.\n# TYPE stitch_http_connections_open gauge\n"
                "stitch_http_connections_open %llu\n",
            (unsigned long long) http_metrics_get(&mt->connections_open));
        uint64_t sessions = 0;
        if (m->core->store_ops->session_count(m->core->store, &sessions) >= 0)
                put(&t, "# HELP stitch_sessions Stored sessions (all front ends).\n# TYPE stitch_sessions gauge\n"
                        "stitch_sessions %llu\n",
                    (unsigned long long) sessions);
        counter(&t, "stitch_password_verifications_total", "Password hashes checked (all front ends).",
                __atomic_load_n(&m->core->password_verifications, __ATOMIC_RELAXED));
        if (t.failed) {
                free(t.buf);
                http_reply_errno(r, -ENOMEM, "metrics");
                return;
        }
        r->status = 200;
        r->response = t.buf;
        r->response_len = t.len;
        r->content_type = "text/plain; version=0.0.4";
}
