/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's state, shared by the event loop and the workers. Every
 * member that workers touch is thread-safe on its own (store, keyring,
 * revocations, ratelimit); the config is read-only after start. */

#include <pthread.h>
#include <stdint.h>

#include "core/config.h"
#include "core/password.h"
#include "core/events.h"
#include "core/callerlimit.h"
#include "core/ratelimit.h"
#include "core/revocations.h"
#include "store/store.h"
#include "core/tokens.h"
#include "workers.h"

/* sd-event's types, opaque here: the core that includes this never runs the loop. */
typedef struct sd_event sd_event;
typedef struct sd_event_source sd_event_source;
struct stitch_refresher;
struct stitch_conversations;
struct stitch_groupcache;

struct stitch_manager {
        struct stitch_config config;
        sd_event *event;
        const struct stitch_store_ops *store_ops;
        struct stitch_store *store;
        struct stitch_keyring *keyring;
        struct stitch_revocations *revocations;
        struct stitch_ratelimit *ratelimit;
        struct stitch_callerlimit *callerlimit;
        /* Anonymous app logins per client address (each makes a user). */
        struct stitch_callerlimit *addresslimit;
        struct stitch_groupcache *admin_groups; /* who is in AdminGroup, cached */
        struct stitch_conversations *conversations; /* logins waiting for answers */
        struct stitch_workers *workers;
        size_t connections; /* open client connections, all front ends (event loop only) */
        struct stitch_refresher *refresher;
        /* Session ends and user changes, for whoever keeps derived state. */
        struct stitch_events events;
        char *dummy_hash; /* argon2id hash of a random password: unknown users cost the same */
        /* What every failed password login costs (stitch_password_verify_padded):
         * PasswordHash=, raised to the costliest stored hash met since the start. */
        struct stitch_argon2_params password_floor;
        pthread_mutex_t password_floor_lock;
        char domain_id[STITCH_ID_LEN + 1];
        int64_t start_time;
        pthread_mutex_t key_lock; /* serialises rotations */
        sd_event_source *maintenance_timer;
        /* Counters for Status (atomic: workers update them). */
        uint64_t password_verifications;
        uint64_t logins_succeeded, logins_failed;
        /* Bumped (atomically, any thread) after every change to a stored user:
         * invalidates the event loop's cache of users for Token.Verify. */
        uint64_t users_generation;
};

int stitch_manager_new(const struct stitch_config *config, struct stitch_manager **ret);
/* Stops the workers and the refresher: after it, nothing calls into a front
 * end any more, which may then be freed. stitch_manager_free() does it too. */
void stitch_manager_stop(struct stitch_manager *m);
struct stitch_manager *stitch_manager_free(struct stitch_manager *m);
/* Opens the store, loads/creates keys, rebuilds the revocation set, starts
 * the workers and the maintenance timer. */
int stitch_manager_start(struct stitch_manager *m);

/* Signing-key helpers (keys.c). */
int stitch_manager_load_keys(struct stitch_manager *m);
int stitch_manager_rotate_key(struct stitch_manager *m, char *ret_kid, size_t kid_size);
