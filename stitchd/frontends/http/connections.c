/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/address.h"
#include "clock.h"
#include "core/ids.h"
#include "validate.h"
#include "frontends/http/connections.h"
#include "log.h"
#include "macro.h"

struct http_connection {
        struct stitch_address prefix;
        size_t bucket;
        int fd;
        uint64_t since_usec; /* when the connection became ready for its current request */
        bool receiving;      /* the deadline applies: a request is not complete yet (or none began) */
        bool closing;        /* shut down by us; MHD closes it on its next turn */
        struct http_connection *bucket_prev, *bucket_next; /* same prefix hash */
        struct http_connection *prev, *next;               /* all, by since_usec, oldest first */
};

struct http_connections {
        pthread_mutex_t lock;
        pthread_cond_t wake;
        pthread_t thread;
        bool thread_started;
        bool stopping;
        /* The deadline thread waits for no deadline (only a signal wakes it).
         * When it waits for one, a restarted clock never needs a signal:
         * the new deadline is the latest of all (see list order). */
        bool waiting_forever;
        uint64_t timeout_usec;
        unsigned max, max_per_prefix, mhd_limit;
        unsigned bits_ipv4, bits_ipv6;
        uint8_t key[STITCH_SIPHASH_KEY_SIZE];
        unsigned n_open;    /* tracked connections, closing ones included */
        unsigned n_closing; /* of which shut down by us */
        struct http_connection **buckets;
        size_t n_buckets; /* a power of two */
        struct http_connection *head, *tail;
};

unsigned http_connections_mhd_limit(const struct stitch_config *c, unsigned threads) {
        /* MHD gives each thread of a pool an equal share: the slack is per thread. */
        return c->http_max_connections + c->http_max_connections / 8 + 8 * threads;
}

static uint64_t now_usec(void) {
        return stitch_now_usec(CLOCK_MONOTONIC);
}

/* ---- the order of requests ------------------------------------------------------------ */

static void list_remove(struct http_connections *set, struct http_connection *c) {
        if (c->prev)
                c->prev->next = c->next;
        else
                set->head = c->next;
        if (c->next)
                c->next->prev = c->prev;
        else
                set->tail = c->prev;
        c->prev = c->next = NULL;
}

static void list_append(struct http_connections *set, struct http_connection *c) {
        c->prev = set->tail;
        c->next = NULL;
        if (set->tail)
                set->tail->next = c;
        else
                set->head = c;
        set->tail = c;
}

/* Shuts the connection down (under the lock: the fd stays MHD's and open
 * until MHD has told us it closed, which it does under the same lock). */
static void shut(struct http_connections *set, struct http_connection *c, const char *why) {
        c->closing = true;
        set->n_closing++;
        (void) shutdown(c->fd, SHUT_RDWR);
        char prefix[STITCH_ADDRESS_PREFIX_MAX];
        stitch_address_to_string(&c->prefix, prefix);
        log_info("http: closing a connection from %s: %s.", prefix, why);
}

/* A new deadline is never earlier than the one the thread waits for (it is
 * now + Timeout=, the last in the list): a wake-up per request (a futex
 * call, a context switch and a sweep) is needed only when the thread waits
 * for none. Under the lock. */
static void wake_if_waiting_forever(struct http_connections *set) {
        if (set->waiting_forever)
                pthread_cond_signal(&set->wake);
}

/* ---- the deadline thread ----------------------------------------------------------------- */

/* Closes late requests; returns when the next one falls due (0: none). */
static uint64_t sweep(struct http_connections *set, uint64_t now) {
        /* Receiving connections are in the order of their deadlines: a
         * connection moves to the tail whenever its clock restarts. */
        for (struct http_connection *c = set->head; c; c = c->next) {
                if (!c->receiving || c->closing)
                        continue;
                uint64_t deadline = c->since_usec + set->timeout_usec;
                if (deadline > now)
                        return deadline;
                shut(set, c, "request not complete within Timeout=");
        }
        return 0;
}

static void *deadline_thread(void *userdata) {
        struct http_connections *set = userdata;

        pthread_mutex_lock(&set->lock);
        while (!set->stopping) {
                uint64_t next = sweep(set, now_usec());
                if (next == 0) {
                        set->waiting_forever = true;
                        pthread_cond_wait(&set->wake, &set->lock);
                        set->waiting_forever = false;
                } else {
                        struct timespec ts = {.tv_sec = (time_t) (next / USEC_PER_SEC),
                                              .tv_nsec = (long) (next % USEC_PER_SEC) * 1000};
                        (void) pthread_cond_timedwait(&set->wake, &set->lock, &ts);
                }
        }
        pthread_mutex_unlock(&set->lock);
        return NULL;
}

/* ---- setup ---------------------------------------------------------------------------------- */

int http_connections_new(const struct stitch_config *c, unsigned threads, struct http_connections **ret) {
        struct http_connections *set = calloc(1, sizeof(*set));
        pthread_condattr_t attr;
        int r;

        if (!set)
                return -ENOMEM;
        set->timeout_usec = c->http_timeout_usec;
        set->max = c->http_max_connections;
        set->max_per_prefix = c->http_max_connections_per_address;
        set->mhd_limit = http_connections_mhd_limit(c, threads);
        set->bits_ipv4 = c->http_address_prefix_ipv4;
        set->bits_ipv6 = c->http_address_prefix_ipv6;
        set->n_buckets = 16;
        while (set->n_buckets < set->mhd_limit)
                set->n_buckets *= 2;
        set->buckets = calloc(set->n_buckets, sizeof(*set->buckets));
        if (!set->buckets) {
                free(set);
                return -ENOMEM;
        }
        r = stitch_random_bytes(set->key, sizeof(set->key));
        if (r < 0) {
                free(set->buckets);
                free(set);
                return r;
        }
        pthread_mutex_init(&set->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&set->wake, &attr);
        pthread_condattr_destroy(&attr);
        r = -pthread_create(&set->thread, NULL, deadline_thread, set);
        if (r < 0) {
                http_connections_free(set);
                return log_error_errno(r, "Cannot start the HTTP request deadline thread: %m");
        }
        set->thread_started = true;
        *ret = set;
        return 0;
}

struct http_connections *http_connections_free(struct http_connections *set) {
        if (!set)
                return NULL;
        if (set->thread_started) {
                pthread_mutex_lock(&set->lock);
                set->stopping = true;
                pthread_cond_signal(&set->wake);
                pthread_mutex_unlock(&set->lock);
                pthread_join(set->thread, NULL);
        }
        while (set->head) {
                struct http_connection *c = set->head;
                list_remove(set, c);
                free(c);
        }
        pthread_cond_destroy(&set->wake);
        pthread_mutex_destroy(&set->lock);
        explicit_bzero(set->key, sizeof(set->key));
        free(set->buckets);
        free(set);
        return NULL;
}

/* ---- MHD's callbacks -------------------------------------------------------------------------- */

static bool prefix_of(const struct http_connections *set, const struct sockaddr *sa, socklen_t len,
                      struct stitch_address *ret) {
        if (stitch_address_from_sockaddr(sa, len, ret) < 0)
                return false;
        stitch_address_mask(ret, set->bits_ipv4, set->bits_ipv6);
        return true;
}

static size_t bucket_of(const struct http_connections *set, const struct stitch_address *prefix) {
        return (size_t) stitch_address_hash(prefix, set->key) & (set->n_buckets - 1);
}

static unsigned count_prefix(const struct http_connections *set, const struct stitch_address *prefix) {
        unsigned n = 0;
        for (struct http_connection *c = set->buckets[bucket_of(set, prefix)]; c; c = c->bucket_next)
                if (stitch_address_equal(&c->prefix, prefix))
                        n++;
        return n;
}

bool http_connections_accept(struct http_connections *set, const struct sockaddr *sa, socklen_t len) {
        struct stitch_address prefix;
        bool ok = true;

        if (!prefix_of(set, sa, len, &prefix))
                return false; /* not TCP over IP: not ours */
        pthread_mutex_lock(&set->lock);
        if (count_prefix(set, &prefix) >= set->max_per_prefix)
                ok = false;
        else if (set->n_open - set->n_closing >= set->max) {
                /* Full: make room by closing the oldest incomplete request
                 * (or idle wait); refuse only when every slot is running or
                 * sending a request, or too many are closing already. */
                struct http_connection *victim = NULL;
                for (struct http_connection *c = set->head; c && !victim; c = c->next)
                        if (c->receiving && !c->closing)
                                victim = c;
                if (!victim || set->n_open + 1 >= set->mhd_limit)
                        ok = false;
                else
                        shut(set, victim, "the oldest incomplete request while MaxConnections= are open");
        }
        pthread_mutex_unlock(&set->lock);
        return ok;
}

struct http_connection *http_connections_started(struct http_connections *set, int fd, const struct sockaddr *sa,
                                                 socklen_t len) {
        struct http_connection *c = calloc(1, sizeof(*c));
        if (!c || !prefix_of(set, sa, len, &c->prefix)) {
                /* Untracked, it would escape the deadline and the caps. */
                free(c);
                (void) shutdown(fd, SHUT_RDWR);
                return NULL;
        }
        c->fd = fd;
        c->receiving = true;
        c->bucket = bucket_of(set, &c->prefix);
        pthread_mutex_lock(&set->lock);
        c->since_usec = now_usec();
        c->bucket_next = set->buckets[c->bucket];
        if (c->bucket_next)
                c->bucket_next->bucket_prev = c;
        set->buckets[c->bucket] = c;
        list_append(set, c);
        set->n_open++;
        wake_if_waiting_forever(set);
        pthread_mutex_unlock(&set->lock);
        return c;
}

void http_connections_closed(struct http_connections *set, struct http_connection *c) {
        if (!c)
                return;
        pthread_mutex_lock(&set->lock);
        if (c->bucket_prev)
                c->bucket_prev->bucket_next = c->bucket_next;
        else
                set->buckets[c->bucket] = c->bucket_next;
        if (c->bucket_next)
                c->bucket_next->bucket_prev = c->bucket_prev;
        list_remove(set, c);
        set->n_open--;
        if (c->closing)
                set->n_closing--;
        pthread_mutex_unlock(&set->lock);
        free(c);
}

void http_connections_request_received(struct http_connections *set, struct http_connection *c) {
        if (!c)
                return;
        pthread_mutex_lock(&set->lock);
        c->receiving = false;
        pthread_mutex_unlock(&set->lock);
}

void http_connections_request_done(struct http_connections *set, struct http_connection *c) {
        if (!c)
                return;
        pthread_mutex_lock(&set->lock);
        c->receiving = true;
        c->since_usec = now_usec();
        list_remove(set, c);
        list_append(set, c);
        wake_if_waiting_forever(set);
        pthread_mutex_unlock(&set->lock);
}
