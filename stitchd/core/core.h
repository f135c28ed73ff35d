/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the domain works on: the config, the store, the keyring, the limits,
 * the revocation set, the logins waiting for answers, the events and the
 * counters. The core and the providers see this and lib/, nothing else: no
 * event loop, no workers, no sockets. The daemon (daemon/manager.h) owns one
 * and lends it its threads; every member the workers touch is thread-safe on
 * its own, and the config is read-only after start. */

#include <pthread.h>
#include <stdint.h>

#include "core/config.h"
#include "core/events.h"
#include "core/https.h"
#include "core/outbox.h"
#include "core/password.h"
#include "store/store.h"

struct stitch_keyring;
struct stitch_revocations;
struct stitch_ratelimit;
struct stitch_callerlimit;
struct stitch_groupcache;
struct stitch_conversations;
struct stitch_cache;
struct stitch_unix_files;
struct stitch_offline;

/* At most this many providers (providers/registry.c). */
#define STITCH_PROVIDERS_MAX 16

struct stitch_core {
        struct stitch_config config;
        /* Each provider's per-daemon state (providers/provider.h init/free),
         * in registry order: NULL for providers without one. */
        void *provider_instances[STITCH_PROVIDERS_MAX];
        const struct stitch_store_ops *store_ops;
        struct stitch_store *store;
        struct stitch_keyring *keyring;
        pthread_mutex_t key_lock; /* serialises rotations */
        struct stitch_revocations *revocations;
        struct stitch_ratelimit *ratelimit;
        struct stitch_callerlimit *callerlimit;
        /* Anonymous app logins per client address (each makes a user). */
        struct stitch_callerlimit *addresslimit;
        /* Registration, confirmation and reset requests (core/userpass-flows.c):
         * mails per recipient, requests per client address. */
        struct stitch_callerlimit *mail_recipient_limit;
        struct stitch_callerlimit *mail_address_limit;
        struct stitch_groupcache *admin_groups;     /* who is in AdminGroup, cached */
        struct stitch_conversations *conversations; /* logins waiting for answers */
        /* Access tokens whose signature was checked (core/access.c). */
        struct stitch_cache *checked_tokens;
        /* Login names and the user ids they resolved to, for the failed-login
         * limiter's keys (core/accounts.c): a password login need not read
         * its user twice. */
        struct stitch_cache *limit_keys;
        /* /etc/passwd and /etc/group as files, for the Unix accounts (core/unix-accounts.h). */
        struct stitch_unix_files *unix_files;
        /* Session ends and user changes, for whoever keeps derived state. */
        struct stitch_events events;
        /* Confirmation and reset mails: filled by the daemon (daemon/mailer.h); without
         * [Smtp] URL= its send() returns -ENOTCONN. */
        struct stitch_outbox outbox;
        /* Outgoing HTTPS for network providers (core/https.h): set by the
         * daemon (daemon/https-get.c) before the providers' init; NULL in
         * tests that do without (a fetch then fails with -ENOTCONN). */
        stitch_https_get_t https_get;
        /* The same, answered with the status and body for any HTTP status
         * (an OAuth token endpoint's JSON errors), and a form POST: the
         * daemon's too (daemon/https-get.c), NULL in tests without. */
        stitch_https_get_status_t https_get_status;
        stitch_https_post_form_t https_post_form;
        char *dummy_hash; /* argon2id hash of a random password: unknown users cost the same */
        /* What every failed password login costs (stitch_password_verify_padded):
         * PasswordHash=, raised to the costliest stored hash met since the start. */
        struct stitch_argon2_params password_floor;
        pthread_mutex_t password_floor_lock;
        char domain_id[STITCH_ID_LEN + 1];
        int64_t start_time;
        /* Counters for Status (atomic: workers update them). */
        uint64_t password_verifications;
        uint64_t logins_succeeded, logins_failed;
        /* Bumped (atomically, any thread) after every change to a stored user:
         * caches keyed by it (core/generation-cache.h) drop their entries. */
        uint64_t users_generation;
        /* The same, but not bumped by a login's time alone: what keys the
         * names resolved for the failed-login limiter (limit_keys). */
        uint64_t user_names_generation;
        /* The last store event (store.h, events_since) the memory reflects:
         * taken at start, before the revocation set was rebuilt from the
         * rows; core/store-events.c follows the feed from here. */
        int64_t store_events_cursor;
        /* A follower of the feed runs (a store other hosts write), when it
         * last read the feed to its end (CLOCK_MONOTONIC usec) and whether
         * it found the store unreachable: core/fleet.h. Atomic. */
        bool fleet_followed;
        uint64_t fleet_fresh_usec;
        bool fleet_store_down;
        /* [Offline] Enabled=yes: the verifiers of recent password logins (core/offline.h); else NULL. */
        struct stitch_offline *offline;
};

/* Takes over the config's allocations. */
int stitch_core_new(const struct stitch_config *config, struct stitch_core **ret);
struct stitch_core *stitch_core_free(struct stitch_core *core);
/* Opens the store, loads or creates the signing keys, rebuilds the revocation
 * set, sets up the limits and the dummy hash; with UserDB=yes, gives the
 * Unix accounts that have none a uid. */
int stitch_core_start(struct stitch_core *core);
/* Periodic upkeep: expired revocations, idle anonymous users, dead sessions,
 * retired keys, uids for new Unix accounts (UserDB=yes). Makes durable
 * writes: run it on a worker. */
void stitch_core_maintain(struct stitch_core *core, int64_t now);
/* No access token lives longer than this (seconds): AccessTokenLifetime=
 * and the clock leeway. A session that ended this long ago has no live
 * token left. */
int64_t stitch_core_token_lifetime_bound(const struct stitch_core *core);
/* Gives back memory the core holds only to be faster (the store's page
 * caches), for when the daemon is idle; it is read again on demand.
 * Returns the bytes freed, if known. Any thread. */
size_t stitch_core_release_idle_memory(struct stitch_core *core);
/* Empties the core's cache of checked access tokens and of resolved login
 * names (a front end that has been idle a while calls it: the next use of
 * a token checks its signature again, the next login reads its name). */
void stitch_core_drop_caches(struct stitch_core *core);
