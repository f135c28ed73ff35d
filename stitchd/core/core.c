/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/access.h"
#include "core/callerlimit.h"
#include "core/conversations.h"
#include "core/core.h"
#include "core/accounts.h"
#include "core/generation-cache.h"
#include "core/groupcache.h"
#include "core/keys.h"
#include "core/ratelimit.h"
#include "core/revocations.h"
#include "core/store-events.h"
#include "core/offline.h"
#include "core/tokens.h"
#include "core/unix-accounts.h"
#include "core/userpass-flows.h"
#include "core/users.h"
#include "providers/provider.h"
#include "providers/userpass.h"
#include "clock.h"
#include "core/ids.h"
#include "core/sha256.h"
#include "validate.h"
#include "log.h"
#include "redact.h"

int stitch_core_new(const struct stitch_config *config, struct stitch_core **ret) {
        struct stitch_core *core = calloc(1, sizeof(*core));
        if (!core)
                return -ENOMEM;
        int r = stitch_access_cache_new(&core->checked_tokens);
        if (r >= 0)
                r = stitch_limit_key_cache_new(&core->limit_keys);
        if (r >= 0)
                r = stitch_unix_files_new(NULL, NULL, &core->unix_files);
        if (r < 0) {
                stitch_cache_free(core->limit_keys);
                stitch_cache_free(core->checked_tokens);
                free(core);
                return r; /* the config stays the caller's */
        }
        core->config = *config; /* takes over the config's allocations */
        pthread_mutex_init(&core->key_lock, NULL);
        pthread_mutex_init(&core->password_floor_lock, NULL);
        core->start_time = stitch_now();
        *ret = core;
        return 0;
}

struct stitch_core *stitch_core_free(struct stitch_core *core) {
        if (!core)
                return NULL;
        stitch_providers_free(core); /* before the store: an instance may hold on to it */
        core->keyring = stitch_keyring_free(core->keyring);
        if (core->store)
                core->store_ops->close(core->store);
        core->revocations = stitch_revocations_free(core->revocations);
        core->ratelimit = stitch_ratelimit_free(core->ratelimit);
        core->callerlimit = stitch_callerlimit_free(core->callerlimit);
        core->addresslimit = stitch_callerlimit_free(core->addresslimit);
        stitch_userpass_flows_stop(core);
        core->admin_groups = stitch_groupcache_free(core->admin_groups);
        core->conversations = stitch_conversations_free(core->conversations);
        core->checked_tokens = stitch_cache_free(core->checked_tokens);
        core->limit_keys = stitch_cache_free(core->limit_keys);
        core->unix_files = stitch_unix_files_free(core->unix_files);
        free(core->dummy_hash);
        core->offline = stitch_offline_free(core->offline);
        stitch_config_done(&core->config);
        pthread_mutex_destroy(&core->key_lock);
        pthread_mutex_destroy(&core->password_floor_lock);
        free(core);
        return NULL;
}

/* The revocation set and the users' generation follow the core's own events;
 * the daemon's refresher subscribes on its own. */
static void on_session_ended(const struct stitch_event *e, void *userdata) {
        struct stitch_core *core = userdata;
        (void) stitch_revocations_add(core->revocations, e->session_ended.session_id, e->session_ended.until);
}

static void on_users_changed(const struct stitch_event *e, void *userdata) {
        struct stitch_core *core = userdata;
        if (!e->users_changed.login_time_only)
                __atomic_fetch_add(&core->user_names_generation, 1, __ATOMIC_RELEASE);
        __atomic_fetch_add(&core->users_generation, 1, __ATOMIC_RELEASE);
}

/* No token lives longer than this: Verify refuses tokens whose exp - iat exceeds
 * the configured lifetime, so a session revoked this long ago has no live token. */
int64_t stitch_core_token_lifetime_bound(const struct stitch_core *core) {
        return (int64_t) (core->config.access_token_lifetime_usec / USEC_PER_SEC) + STITCH_JWT_LEEWAY_SEC;
}

static int revocation_cb(const char *session_id, int64_t access_expires, void *userdata) {
        struct stitch_core *core = userdata;
        return stitch_revocations_add(core->revocations, session_id, access_expires);
}

void stitch_core_drop_caches(struct stitch_core *core) {
        stitch_cache_clear(core->checked_tokens);
        stitch_cache_clear(core->limit_keys);
}

size_t stitch_core_release_idle_memory(struct stitch_core *core) {
        if (!core->store || !core->store_ops->release_memory)
                return 0;
        return core->store_ops->release_memory(core->store);
}

void stitch_core_maintain(struct stitch_core *core, int64_t now) {
        size_t n = 0;

        n = stitch_revocations_prune(core->revocations, now);
        if (n > 0)
                log_debug("Dropped %zu expired revocations.", n);
        /* Idle anonymous users (90 days) go, like in Stitch. */
        if (stitch_users_delete_idle(core, now, &n) >= 0 && n > 0)
                log_info("Deleted %zu idle users (anonymous: 90 days).", n);
        int64_t dead_before = now - stitch_core_token_lifetime_bound(core);
        if (core->store_ops->session_prune(core->store, dead_before, &n) >= 0 && n > 0)
                log_debug("Pruned %zu dead sessions.", n);
        if (core->store_ops->email_token_prune(core->store, now, &n) >= 0 && n > 0)
                log_debug("Pruned %zu expired confirmation and reset tokens.", n);
        if (core->store_ops->events_prune(core->store, now - STITCH_STORE_EVENTS_KEEP_SEC, &n) >= 0 && n > 0)
                log_debug("Pruned %zu old store events.", n);
        /* Retired keys are kept until every token they signed has expired. */
        if (core->store_ops->key_prune(core->store, dead_before, &n) >= 0 && n > 0) {
                log_info("Dropped %zu retired signing keys.", n);
                (void) stitch_core_load_keys(core);
        }
        if (stitch_offline_prune(core, now, &n) >= 0 && n > 0)
                log_debug("Pruned %zu offline login records older than MaxAge.", n);
        /* Users who got a unix_name since (or whose uid failed before). */
        if (core->config.accounts_userdb)
                (void) stitch_unix_accounts_assign_missing(core, &n);
}

/* The dummy hash has the configured cost, so unknown users cost the same. */
static int make_dummy_hash(struct stitch_core *core) {
        struct stitch_argon2_params a = stitch_userpass_password_hash(&core->config);
        char random_pw[33];
        uint8_t raw[16];
        int r = stitch_random_bytes(raw, sizeof(raw));
        if (r < 0)
                return r;
        for (size_t i = 0; i < sizeof(raw); i++)
                snprintf(random_pw + 2 * i, 3, "%02x", raw[i]);
        explicit_bzero(raw, sizeof(raw));
        r = stitch_password_hash(random_pw, &a, &core->dummy_hash);
        explicit_bzero(random_pw, sizeof(random_pw));
        if (r < 0)
                return r;
        core->password_floor = a;
        return 0;
}

/* baas_domain_id: stable per machine. */
static int make_domain_id(struct stitch_core *core) {
        uint8_t h[STITCH_HASH_LEN];
        char machine[128] = "stitch";
        FILE *f = fopen("/etc/machine-id", "re");
        if (f) {
                if (!fgets(machine, sizeof(machine), f))
                        snprintf(machine, sizeof(machine), "stitch");
                fclose(f);
        }
        int r = stitch_sha256(machine, strlen(machine), h);
        if (r < 0)
                return r;
        for (size_t i = 0; i < 12; i++)
                snprintf(core->domain_id + 2 * i, 3, "%02x", h[i]);
        return 0;
}

int stitch_core_start(struct stitch_core *core) {
        const struct stitch_config *c = &core->config;
        int r;

        /* Outside systemd's StateDirectory=, the backend makes what it needs (SQLite: the directory). */
        r = stitch_store_prepare(c->store);
        if (r < 0)
                return r;

        r = stitch_store_open(c->store, &core->store_ops, &core->store);
        if (r < 0) {
                _cleanup_free_ char *store = stitch_store_describe_spec(c->store);
                return log_error_errno(r, "Cannot open store %s: %m", store ?: STITCH_REDACTED);
        }

        r = stitch_core_load_keys(core);
        if (r < 0)
                return r;

        r = stitch_revocations_new(&core->revocations);
        if (r < 0)
                return r;
        /* First subscriber: a session's tokens die before anyone else hears of its end. */
        r = stitch_events_subscribe(&core->events, STITCH_EVENT_SESSION_ENDED, on_session_ended, core);
        if (r >= 0)
                r = stitch_events_subscribe(&core->events, STITCH_EVENT_USERS_CHANGED, on_users_changed, core);
        if (r < 0)
                return r;
        /* Where a follower of the change feed starts: read before the rows,
         * so that what commits in between is seen twice, never missed. */
        r = core->store_ops->events_last_id(core->store, &core->store_events_cursor);
        if (r < 0)
                return log_error_errno(r, "Cannot read the store's change feed: %m");
        r = core->store_ops->session_foreach_revoked(core->store, stitch_now(),
                                                    stitch_core_token_lifetime_bound(core), revocation_cb, core);
        if (r < 0)
                return log_error_errno(r, "Cannot rebuild the revocation set: %m");
        log_debug("Revocation set rebuilt: %zu live entries.", stitch_revocations_size(core->revocations));

        r = stitch_callerlimit_new(c->caller_logins_per_minute, &core->callerlimit);
        if (r < 0)
                return r;
        r = stitch_callerlimit_new(c->caller_logins_per_minute, &core->addresslimit);
        if (r < 0)
                return r;
        r = stitch_userpass_flows_start(core);
        if (r < 0)
                return r;
        r = stitch_groupcache_new(c->admin_group, NULL, &core->admin_groups);
        if (r < 0)
                return r;
        r = stitch_ratelimit_new(c->max_failures, c->failure_window_usec, c->backoff_max_usec, c->tracked_accounts,
                                 &core->ratelimit);
        if (r < 0)
                return r;
        r = stitch_conversations_new(&core->conversations);
        if (r < 0)
                return r;
        r = make_dummy_hash(core);
        if (r < 0)
                return r;
        r = make_domain_id(core);
        if (r < 0)
                return r;
        if (c->offline_enabled) {
                r = stitch_offline_open(c->offline_cache_file, &core->offline);
                if (r < 0)
                        return log_error_errno(r, "Cannot open the offline login cache: %m");
        }
        /* Last: a provider's instance may use everything above. */
        r = stitch_providers_init(core);
        if (r < 0)
                return r;
        if (c->accounts_userdb) {
                size_t n = 0;
                /* Not fatal: a full range or a locked store leaves these accounts unserved until
                 * the next upkeep, and everyone else logs in. */
                r = stitch_unix_accounts_assign_missing(core, &n);
                if (r < 0)
                        log_warning_errno(r, "Cannot give every Unix account a uid yet: %m");
        }
        return 0;
}
