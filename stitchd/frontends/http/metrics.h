/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Counters for GET /metrics (Prometheus text format). Updated from the
 * event loop and the workers (atomics); read when scraped. */

#include <stddef.h>
#include <stdint.h>

#define HTTP_METRICS_ROUTES 24
#define HTTP_METRICS_BUCKETS 12

struct http_metrics {
        /* Per route (index into http_routes; the last slot: no route). */
        uint64_t requests[HTTP_METRICS_ROUTES][5]; /* by status class 1xx..5xx */
        uint64_t duration_buckets[HTTP_METRICS_ROUTES][HTTP_METRICS_BUCKETS];
        uint64_t duration_sum_usec[HTTP_METRICS_ROUTES];
        uint64_t duration_count[HTTP_METRICS_ROUTES];
        /* What the routes did. */
        uint64_t logins_succeeded, logins_failed, links, refreshes, refreshes_failed, verifies, verifies_failed;
        uint64_t connections_open, connections_total;
};

extern const uint64_t http_metrics_bucket_usec[HTTP_METRICS_BUCKETS];

static inline void http_metrics_add(uint64_t *counter, uint64_t n) {
        __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}
static inline uint64_t http_metrics_get(const uint64_t *counter) {
        return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

/* route: index into http_routes, or -1. */
void http_metrics_observe(struct http_metrics *mt, int route, unsigned status, uint64_t usec);
