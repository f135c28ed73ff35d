/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /metrics: Prometheus text format (version 0.0.4). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/http/metrics.h"
#include "macro.h"

const uint64_t http_metrics_bucket_usec[HTTP_METRICS_BUCKETS] = {
        100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000,
};

void http_metrics_observe(struct http_metrics *mt, int route, unsigned status, uint64_t usec) {
        size_t k = route >= 0 && route < HTTP_METRICS_ROUTES - 1 ? (size_t) route : HTTP_METRICS_ROUTES - 1;
        unsigned cls = status >= 100 && status < 600 ? status / 100 - 1 : 4;
        http_metrics_add(&mt->requests[k][cls], 1);
        for (size_t b = 0; b < HTTP_METRICS_BUCKETS; b++)
                if (usec <= http_metrics_bucket_usec[b]) {
                        http_metrics_add(&mt->duration_buckets[k][b], 1);
                        break;
                }
        http_metrics_add(&mt->duration_sum_usec[k], usec);
        http_metrics_add(&mt->duration_count[k], 1);
}

