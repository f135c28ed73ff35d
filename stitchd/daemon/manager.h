/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon: the core (core/core.h) plus what runs it — the sd-event loop,
 * the worker threads, the refresher of long logins, the maintenance timer
 * and the count of open connections. Front ends get this; the core never
 * does. */

#include <stddef.h>

#include <systemd/sd-event.h>

#include "core/core.h"
#include "daemon/workers.h"

struct stitch_refresher;
struct stitch_mailer;
struct stitch_fleet_follower;

struct stitch_manager {
        struct stitch_core *core;
        sd_event *event;
        struct stitch_workers *workers;
        /* Logins of providers that do network I/O (struct stitch_provider's
         * network): a few threads of their own, so a slow identity provider
         * never holds a worker that hashes passwords. NULL until the first
         * such login (stitch_manager_network_workers()). */
        struct stitch_workers *network_workers;
        size_t connections; /* open client connections, all front ends (event loop only) */
        struct stitch_refresher *refresher;
        sd_event_source *maintenance_timer;
        struct stitch_mailer *mailer; /* NULL without [Smtp] URL= */
        /* The store's change feed, when other hosts write the store (daemon/fleet-follower.h). */
        struct stitch_fleet_follower *fleet;
};

/* Takes over the config's allocations. */
int stitch_manager_new(const struct stitch_config *config, struct stitch_manager **ret);
/* Stops the workers, the refresher and the mailer (mails not sent within a short grace are
 * dropped, logged): after it, nothing calls into a front
 * end any more, which may then be freed. stitch_manager_free() does it too. */
void stitch_manager_stop(struct stitch_manager *m);
struct stitch_manager *stitch_manager_free(struct stitch_manager *m);
/* The network pool, started on first use (event loop only); NULL if it
 * cannot be (logged). */
#define STITCH_NETWORK_THREADS 3
#define STITCH_NETWORK_QUEUE 256
struct stitch_workers *stitch_manager_network_workers(struct stitch_manager *m);
/* Starts the mailer ([Smtp] URL=), the core, then the workers, the refresher and the
 * maintenance timer. */
int stitch_manager_start(struct stitch_manager *m);
