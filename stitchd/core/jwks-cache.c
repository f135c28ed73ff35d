/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "core/https.h"
#include "core/jwks-cache.h"
#include "log.h"
#include "macro.h"

/* JWKSURL=: the last good set and when to fetch again. Times are
 * CLOCK_MONOTONIC usec. */
#define JWKS_REFETCH_INTERVAL_USEC (60 * USEC_PER_SEC) /* unknown kid; a stale set's retry */
#define JWKS_STALE_MAX_USEC (24 * 3600 * USEC_PER_SEC)  /* a failed refetch keeps the old set this long */

struct stitch_jwks_cache {
        char *who; /* log prefix */
        char *url;
        char host[STITCH_HTTPS_HOST_MAX]; /* for log lines */
        enum stitch_jose_alg alg;
        struct stitch_https_options options;
        /* Held across a fetch: one at a time. A login that needs a set and
         * has none waits; one with a stale set uses it meanwhile. */
        pthread_mutex_t fetch_lock;
        /* Guards what follows; never held across a fetch. */
        pthread_mutex_t lock;
        struct stitch_jwks *set;        /* last good set, or NULL */
        uint64_t fetched_usec;          /* when set was fetched */
        uint64_t lifetime_usec;         /* from its Cache-Control */
        uint64_t last_attempt_usec;     /* the last fetch, whatever came of it (0: none) */
        uint64_t last_unknown_kid_usec; /* the last refetch for an unknown kid (0: none) */
        uint64_t attempts;              /* fetches finished: a waiter sees one happened */
        char last_error[STITCH_HTTPS_ERROR_MAX];
};

struct stitch_jwks_cache *stitch_jwks_cache_free(struct stitch_jwks_cache *c) {
        if (!c)
                return NULL;
        pthread_mutex_destroy(&c->fetch_lock);
        pthread_mutex_destroy(&c->lock);
        stitch_jwks_unref(c->set);
        free(c->url);
        free(c->who);
        free(c);
        return NULL;
}

int stitch_jwks_cache_new(const struct stitch_config *config, const char *who, const char *url,
                          enum stitch_jose_alg alg, struct stitch_jwks_cache **ret) {
        char error[STITCH_HTTPS_ERROR_MAX] = "";
        struct stitch_jwks_cache *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->alg = alg;
        c->options = (struct stitch_https_options) {
                .ca_file = config->network_ca_file,
                .timeout_usec = config->network_timeout_usec,
                .allow_insecure_loopback = config->network_allow_insecure_loopback,
                .max_response = STITCH_JWKS_MAX_DOCUMENT,
        };
        pthread_mutex_init(&c->fetch_lock, NULL);
        pthread_mutex_init(&c->lock, NULL);
        c->url = strdup(url);
        c->who = strdup(who);
        if (!c->url || !c->who) {
                stitch_jwks_cache_free(c);
                return -ENOMEM;
        }
        int r = stitch_https_url_check(url, c->options.allow_insecure_loopback, c->host, sizeof(c->host), error,
                                       sizeof(error));
        if (r < 0) {
                log_error("%s: JWK Set URL: %s", c->who, error);
                stitch_jwks_cache_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

/* One fetch, holding fetch_lock: the new set replaces the old one, or the
 * old one stays (until JWKS_STALE_MAX_USEC old) and the failure is logged. */
static void fetch_now(struct stitch_core *core, struct stitch_jwks_cache *c) {
        _cleanup_free_ char *body = NULL, *cache_control = NULL;
        struct stitch_jwks *set = NULL;
        char error[STITCH_HTTPS_ERROR_MAX] = "";
        size_t len = 0;
        int r;

        if (!core->https_get) {
                r = -ENOTCONN;
                snprintf(error, sizeof(error), "no HTTPS fetcher in this process");
        } else
                r = core->https_get(&c->options, c->url, &body, &len, &cache_control, error, sizeof(error));
        if (r >= 0) {
                r = stitch_jwks_parse(body, len, c->alg, &set);
                if (r == -ENOMEM)
                        snprintf(error, sizeof(error), "out of memory");
                else if (r == -ENOKEY)
                        snprintf(error, sizeof(error), "no usable %s key with a kid in the set",
                                 stitch_jose_alg_to_string(c->alg));
                else if (r < 0)
                        snprintf(error, sizeof(error), "not a JWK Set (%s)", r == -E2BIG ? "too large" : "malformed");
        }
        uint64_t now = stitch_now_usec(CLOCK_MONOTONIC);

        pthread_mutex_lock(&c->lock);
        c->last_attempt_usec = now;
        c->attempts++;
        if (r >= 0) {
                stitch_jwks_unref(c->set);
                c->set = set;
                c->fetched_usec = now;
                c->lifetime_usec = stitch_jwks_cache_lifetime(cache_control) * USEC_PER_SEC;
                c->last_error[0] = 0;
        } else {
                snprintf(c->last_error, sizeof(c->last_error), "%s", error);
                if (c->set && now - c->fetched_usec > JWKS_STALE_MAX_USEC)
                        c->set = stitch_jwks_unref(c->set);
        }
        bool kept = c->set != NULL;
        size_t n = set ? stitch_jwks_size(set) : 0;
        pthread_mutex_unlock(&c->lock);

        if (r >= 0)
                log_info("%s: fetched the JWK Set from %s: %zu key(s), kept %llu s.", c->who, c->host, n,
                         (unsigned long long) (stitch_jwks_cache_lifetime(cache_control)));
        else
                log_error("%s: JWKS fetch from %s failed: %s%s", c->who, c->host, error,
                          kept ? "; the last good set stays in use" : "");
}

/* The set to verify with (a reference, or NULL with the reason in error):
 * the cached one while fresh; otherwise, or for an unknown kid (refetch),
 * after a fetch, within the rate limits. */
struct stitch_jwks *stitch_jwks_cache_get(struct stitch_core *core, struct stitch_jwks_cache *c, bool unknown_kid,
                                          const struct stitch_jwks *tried, char *error, size_t error_size) {
        uint64_t now = stitch_now_usec(CLOCK_MONOTONIC);
        struct stitch_jwks *set;
        bool fetch;

        pthread_mutex_lock(&c->lock);
        /* Past the stale limit a set is as good as none: fail closed. */
        if (c->set && now - c->fetched_usec > JWKS_STALE_MAX_USEC)
                c->set = stitch_jwks_unref(c->set);
        set = c->set ? stitch_jwks_ref(c->set) : NULL;
        uint64_t attempts = c->attempts;
        if (unknown_kid) {
                /* Another login's refetch may already have brought a newer set. */
                fetch = set == tried && (c->last_unknown_kid_usec == 0 ||
                                         now - c->last_unknown_kid_usec >= JWKS_REFETCH_INTERVAL_USEC);
                if (fetch)
                        c->last_unknown_kid_usec = now;
        } else if (!set)
                fetch = true;
        else
                fetch = now - c->fetched_usec >= c->lifetime_usec &&
                        (c->last_attempt_usec == 0 || now - c->last_attempt_usec >= JWKS_REFETCH_INTERVAL_USEC);
        pthread_mutex_unlock(&c->lock);

        if (fetch) {
                if (set && !unknown_kid) {
                        /* A stale set serves while someone else refreshes it. */
                        if (pthread_mutex_trylock(&c->fetch_lock) != 0)
                                return set;
                } else
                        pthread_mutex_lock(&c->fetch_lock);
                pthread_mutex_lock(&c->lock);
                bool done_meanwhile = c->attempts != attempts;
                pthread_mutex_unlock(&c->lock);
                if (!done_meanwhile)
                        fetch_now(core, c);
                pthread_mutex_unlock(&c->fetch_lock);

                stitch_jwks_unref(set);
                pthread_mutex_lock(&c->lock);
                set = c->set ? stitch_jwks_ref(c->set) : NULL;
                pthread_mutex_unlock(&c->lock);
        }
        if (!set) {
                pthread_mutex_lock(&c->lock);
                snprintf(error, error_size, "%s", c->last_error[0] ? c->last_error : "no JWK Set yet");
                pthread_mutex_unlock(&c->lock);
        }
        return set;
}

const char *stitch_jwks_cache_host(const struct stitch_jwks_cache *c) {
        return c->host;
}
