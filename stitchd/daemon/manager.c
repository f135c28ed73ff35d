/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include "clock.h"
#include "validate.h"
#include "daemon/fleet-follower.h"
#include "daemon/https-get.h"
#include "daemon/mailer.h"
#include "daemon/manager.h"
#include "daemon/refresher.h"
#include "core/tokens.h"
#include "log.h"

#define MAINTENANCE_INTERVAL_USEC (60 * USEC_PER_SEC)

/* The outbox without [Smtp] URL=: nothing can be mailed. */
static int no_mailer_send(void *userdata, const struct stitch_mail_request *request) {
        (void) userdata;
        (void) request;
        return -ENOTCONN;
}

/* glibc's malloc, set before any thread starts. By default each thread may
 * get an arena of its own (up to 8 per CPU), each keeping freed memory,
 * and the first large block freed (a 19 MiB hash buffer did) raises the
 * mmap threshold to its size and the trim threshold to twice that, after
 * which freed blocks of that size stay resident. Fixed thresholds turn
 * that off: blocks of 128 KiB and more are mapped and unmapped, and an
 * arena gives back what is free above its top beyond 256 KiB. A few arenas
 * are enough: the threads' caches (tcache) serve most small blocks without
 * taking an arena's lock. Measured after a bench-parse-like load with
 * malloc_trim: 18.1 MiB RSS with glibc's defaults, 16.2 MiB with these. */
#define MALLOC_ARENAS_MAX 4
static void tune_malloc(void) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        int arenas = cpus < 1 ? 1 : cpus > MALLOC_ARENAS_MAX ? MALLOC_ARENAS_MAX : (int) cpus;
        if (mallopt(M_ARENA_MAX, arenas) != 1 || mallopt(M_MMAP_THRESHOLD, 128 * 1024) != 1 ||
            mallopt(M_TRIM_THRESHOLD, 256 * 1024) != 1)
                log_debug("mallopt() refused a setting; memory is given back less eagerly.");
}

int stitch_manager_new(const struct stitch_config *config, struct stitch_manager **ret) {
        tune_malloc();
        struct stitch_manager *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        /* A loop of its own, not the thread's default one: the default
         * loop checks its thread (gettid) on every turn. */
        int r = sd_event_new(&m->event);
        if (r < 0) {
                free(m);
                return r;
        }
        r = stitch_core_new(config, &m->core);
        if (r < 0) {
                sd_event_unref(m->event);
                free(m);
                return r;
        }
        m->core->outbox = (struct stitch_outbox) { .send = no_mailer_send };
        m->core->https_get = stitch_https_get;
        m->core->https_get_status = stitch_https_get_status;
        m->core->https_post_form = stitch_https_post_form;
        *ret = m;
        return 0;
}

void stitch_manager_stop(struct stitch_manager *m) {
        /* Workers first: their completions still reference the front ends'
         * connections, which go after this (see main.c). */
        m->fleet = stitch_fleet_follower_free(m->fleet);
        m->workers = stitch_workers_free(m->workers);
        m->network_workers = stitch_workers_free(m->network_workers);
        stitch_password_done();
        m->refresher = stitch_refresher_free(m->refresher);
        /* After the workers: nothing queues mail any more. */
        if (m->mailer) {
                m->core->outbox = (struct stitch_outbox) { .send = no_mailer_send };
                m->mailer = stitch_mailer_free(m->mailer);
        }
}

struct stitch_manager *stitch_manager_free(struct stitch_manager *m) {
        if (!m)
                return NULL;
        stitch_manager_stop(m);
        m->maintenance_timer = sd_event_source_disable_unref(m->maintenance_timer);
        stitch_tokens_thread_done(); /* the event loop's contexts; workers' went with them */
        m->core = stitch_core_free(m->core);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

struct stitch_workers *stitch_manager_network_workers(struct stitch_manager *m) {
        if (m->network_workers)
                return m->network_workers;
        int r = stitch_workers_new_named(m->event, "stitchd-network", STITCH_NETWORK_THREADS, STITCH_NETWORK_QUEUE,
                                         &m->network_workers);
        if (r < 0) {
                log_error_errno(r, "Cannot start the network pool: %m");
                return NULL;
        }
        log_debug("Started the network pool (%u threads) for providers that reach the network.",
                  (unsigned) STITCH_NETWORK_THREADS);
        return m->network_workers;
}

static void maintenance_work(void *userdata) {
        struct stitch_manager *m = userdata;
        stitch_core_maintain(m->core, stitch_now());
}

/* Durable writes (deletions, prunes) run on a worker, never on the loop. */
static int on_maintenance(sd_event_source *s, uint64_t usec, void *userdata) {
        struct stitch_manager *m = userdata;
        int r = stitch_workers_submit(m->workers, maintenance_work, NULL, m);
        if (r < 0)
                log_debug_errno(r, "Maintenance skipped this time (workers busy): %m");
        (void) sd_event_source_set_time(s, usec + MAINTENANCE_INTERVAL_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
}

/* The workers have been idle a while: hash slots give their memory back. */
static void release_idle_memory(void *userdata) {
        struct stitch_manager *m = userdata;
        stitch_password_release_idle();
        (void) stitch_core_release_idle_memory(m->core);
}

int stitch_manager_start(struct stitch_manager *m) {
        int r;

        /* Before the core and the workers, which may queue mail. */
        if (!isempty(m->core->config.smtp_url)) {
                r = stitch_mailer_new(&m->core->config, NULL, &m->mailer);
                if (r < 0)
                        return log_error_errno(r, "Cannot start the mailer: %m");
                m->core->outbox = (struct stitch_outbox) { .send = stitch_mailer_outbox_send, .userdata = m->mailer };
        }

        r = stitch_core_start(m->core);
        if (r < 0)
                return r;

        unsigned workers = m->core->config.workers;
        if (workers == 0) {
                long n = sysconf(_SC_NPROCESSORS_ONLN);
                workers = n > 0 ? (unsigned) n : 1;
        }
        /* Workers= bounds the password hashes running at once (their memory
         * and CPU). The pool has more threads than that, so calls that mostly
         * wait for the disk (API-key logins, logouts: an fsync each, grouped
         * when they overlap) do not queue behind hashes or each other. */
        r = stitch_password_set_concurrency(workers);
        if (r < 0)
                return log_error_errno(r, "Cannot set up password hashing: %m");
        unsigned threads = workers > 1024 / 4 ? 1024 : workers * 4;
        r = stitch_workers_new(m->event, threads, 4096, &m->workers);
        if (r < 0)
                return log_error_errno(r, "Cannot start workers: %m");
        stitch_workers_set_idle(m->workers, release_idle_memory, m);

        r = stitch_refresher_new(m, &m->refresher);
        if (r < 0)
                return log_error_errno(r, "Cannot start the refresher: %m");
        r = stitch_refresher_resume(m->refresher);
        if (r < 0)
                return r;

        r = stitch_fleet_follower_start(m->core, &m->fleet);
        if (r < 0)
                return log_error_errno(r, "Cannot follow the store's change feed: %m");

        r = sd_event_add_time_relative(m->event, &m->maintenance_timer, CLOCK_MONOTONIC, MAINTENANCE_INTERVAL_USEC,
                                       USEC_PER_SEC, on_maintenance, m);
        if (r < 0)
                return r;
        stitch_core_maintain(m->core, stitch_now());
        return 0;
}
