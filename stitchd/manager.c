/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/conversations.h"
#include "core/groupcache.h"
#include "core/users.h"
#include "log.h"
#include "manager.h"
#include "core/password.h"
#include "redact.h"
#include "refresher.h"
#include "core/tokens.h"
#include "core/util.h"

#define MAINTENANCE_INTERVAL_USEC (60 * USEC_PER_SEC)

int stitch_manager_new(const struct stitch_config *config, struct stitch_manager **ret) {
        struct stitch_manager *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->config = *config; /* takes over the config's allocations */
        pthread_mutex_init(&m->key_lock, NULL);
        pthread_mutex_init(&m->password_floor_lock, NULL);
        m->start_time = stitch_now();
        int r = sd_event_default(&m->event);
        if (r < 0) {
                free(m);
                return r;
        }
        *ret = m;
        return 0;
}

void stitch_manager_stop(struct stitch_manager *m) {
        /* Workers first: their completions still reference the front ends'
         * connections, which go after this (see daemon.c). */
        m->workers = stitch_workers_free(m->workers);
        stitch_password_done();
        m->refresher = stitch_refresher_free(m->refresher);
}

struct stitch_manager *stitch_manager_free(struct stitch_manager *m) {
        if (!m)
                return NULL;
        stitch_manager_stop(m);
        m->maintenance_timer = sd_event_source_disable_unref(m->maintenance_timer);
        stitch_tokens_thread_done(); /* the event loop's contexts; workers' went with them */
        m->keyring = stitch_keyring_free(m->keyring);
        if (m->store)
                m->store_ops->close(m->store);
        m->revocations = stitch_revocations_free(m->revocations);
        m->ratelimit = stitch_ratelimit_free(m->ratelimit);
        m->callerlimit = stitch_callerlimit_free(m->callerlimit);
        m->addresslimit = stitch_callerlimit_free(m->addresslimit);
        m->admin_groups = stitch_groupcache_free(m->admin_groups);
        m->conversations = stitch_conversations_free(m->conversations);
        free(m->dummy_hash);
        stitch_config_done(&m->config);
        sd_event_unref(m->event);
        pthread_mutex_destroy(&m->key_lock);
        pthread_mutex_destroy(&m->password_floor_lock);
        free(m);
        return NULL;
}

/* The revocation set and the Verify cache's generation follow the core's
 * events; the refresher subscribes on its own. */
static void on_session_ended(const struct stitch_event *e, void *userdata) {
        struct stitch_manager *m = userdata;
        (void) stitch_revocations_add(m->revocations, e->session_ended.session_id, e->session_ended.until);
}

static void on_users_changed(const struct stitch_event *e, void *userdata) {
        struct stitch_manager *m = userdata;
        (void) e;
        __atomic_fetch_add(&m->users_generation, 1, __ATOMIC_RELEASE);
}

int stitch_manager_load_keys(struct stitch_manager *m) {
        struct stitch_signing_key **keys = NULL;
        size_t n = 0;
        const char *want = m->config.signing_algorithm == STITCH_SIGNING_HS256 ? "HS256" : "ES256";
        int r;

        r = m->store_ops->key_list(m->store, &keys, &n);
        if (r < 0)
                return log_error_errno(r, "Cannot read signing keys: %m");

        /* No key yet, or the configured algorithm changed: start a new active key. */
        bool have_active = false;
        for (size_t i = 0; i < n; i++)
                if (keys[i]->retired == 0 && streq(keys[i]->alg, want))
                        have_active = true;
        if (!have_active) {
                stitch_signing_key_array_free(keys, n);
                char kid[64];
                r = stitch_manager_rotate_key(m, kid, sizeof(kid));
                if (r < 0)
                        return r;
                log_info("Generated a new %s signing key %s.", want, kid);
                return 0;
        }
        if (m->keyring)
                r = stitch_keyring_reload(m->keyring, keys, n);
        else
                r = stitch_keyring_new(keys, n, &m->keyring);
        stitch_signing_key_array_free(keys, n);
        if (r < 0)
                return log_error_errno(r, "Cannot load signing keys: %m");
        return 0;
}

int stitch_manager_rotate_key(struct stitch_manager *m, char *ret_kid, size_t kid_size) {
        const char *alg = m->config.signing_algorithm == STITCH_SIGNING_HS256 ? "HS256" : "ES256";
        struct stitch_signing_key *k = NULL;
        struct stitch_signing_key **keys = NULL;
        size_t n = 0;
        int r;

        pthread_mutex_lock(&m->key_lock);
        r = stitch_signing_key_generate(alg, stitch_now(), &k);
        if (r < 0) {
                log_error_errno(r, "Cannot generate a signing key: %m");
                goto finish;
        }
        r = m->store_ops->key_rotate(m->store, k);
        if (r < 0) {
                log_error_errno(r, "Cannot store the signing key: %m");
                goto finish;
        }
        r = m->store_ops->key_list(m->store, &keys, &n);
        if (r < 0)
                goto finish;
        r = m->keyring ? stitch_keyring_reload(m->keyring, keys, n) : stitch_keyring_new(keys, n, &m->keyring);
        if (r < 0)
                goto finish;
        snprintf(ret_kid, kid_size, "%s", k->kid);
finish:
        stitch_signing_key_array_free(keys, n);
        stitch_signing_key_free(k);
        pthread_mutex_unlock(&m->key_lock);
        return r;
}

/* No token lives longer than this: Verify refuses tokens whose exp - iat exceeds
 * the configured lifetime, so a session revoked this long ago has no live token. */
static int64_t token_lifetime_bound(struct stitch_manager *m) {
        return (int64_t) (m->config.access_token_lifetime_usec / USEC_PER_SEC) + STITCH_JWT_LEEWAY_SEC;
}

static int revocation_cb(const char *session_id, int64_t access_expires, void *userdata) {
        struct stitch_manager *m = userdata;
        return stitch_revocations_add(m->revocations, session_id, access_expires);
}

static void maintenance(struct stitch_manager *m) {
        int64_t now = stitch_now();
        size_t n = 0;

        n = stitch_revocations_prune(m->revocations, now);
        if (n > 0)
                log_debug("Dropped %zu expired revocations.", n);
        /* Idle anonymous users (90 days) go, like in Stitch. */
        if (stitch_users_delete_idle(m, now, &n) >= 0 && n > 0)
                log_info("Deleted %zu idle users (anonymous: 90 days).", n);
        if (m->store_ops->session_prune(m->store, now - token_lifetime_bound(m), &n) >= 0 && n > 0)
                log_debug("Pruned %zu dead sessions.", n);
        /* Retired keys are kept until every token they signed has expired. */
        int64_t keep = (int64_t) (m->config.access_token_lifetime_usec / USEC_PER_SEC) + STITCH_JWT_LEEWAY_SEC;
        if (m->store_ops->key_prune(m->store, now - keep, &n) >= 0 && n > 0) {
                log_info("Dropped %zu retired signing keys.", n);
                (void) stitch_manager_load_keys(m);
        }
}

static void maintenance_work(void *userdata) {
        maintenance(userdata);
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
        (void) userdata;
        stitch_password_release_idle();
}

int stitch_manager_start(struct stitch_manager *m) {
        int r;

        /* Outside systemd's StateDirectory=, make the store's directory ourselves (0700). */
        const char *db = stitch_config_sqlite_path(&m->config);
        if (db) {
                _cleanup_free_ char *dir = strdup(db);
                char *slash = dir ? strrchr(dir, '/') : NULL;
                if (slash && slash != dir) {
                        *slash = 0;
                        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                                return log_error_errno(errno, "Cannot create the store directory %s: %m", dir);
                }
        }

        r = stitch_store_open(m->config.store, &m->store_ops, &m->store);
        if (r < 0) {
                _cleanup_free_ char *store = stitch_redact_url(m->config.store);
                return log_error_errno(r, "Cannot open store %s: %m", store ?: STITCH_REDACTED);
        }

        r = stitch_manager_load_keys(m);
        if (r < 0)
                return r;

        r = stitch_revocations_new(&m->revocations);
        if (r < 0)
                return r;
        /* First subscriber: a session's tokens die before anyone else hears of its end. */
        r = stitch_events_subscribe(&m->events, STITCH_EVENT_SESSION_ENDED, on_session_ended, m);
        if (r >= 0)
                r = stitch_events_subscribe(&m->events, STITCH_EVENT_USERS_CHANGED, on_users_changed, m);
        if (r < 0)
                return r;
        r = m->store_ops->session_foreach_revoked(m->store, stitch_now(), token_lifetime_bound(m), revocation_cb, m);
        if (r < 0)
                return log_error_errno(r, "Cannot rebuild the revocation set: %m");
        log_debug("Revocation set rebuilt: %zu live entries.", stitch_revocations_size(m->revocations));

        r = stitch_callerlimit_new(m->config.caller_logins_per_minute, &m->callerlimit);
        if (r < 0)
                return r;
        r = stitch_callerlimit_new(m->config.caller_logins_per_minute, &m->addresslimit);
        if (r < 0)
                return r;
        r = stitch_groupcache_new(m->config.admin_group, NULL, &m->admin_groups);
        if (r < 0)
                return r;
        r = stitch_ratelimit_new(m->config.max_failures, m->config.failure_window_usec, m->config.backoff_max_usec,
                                 m->config.tracked_accounts, &m->ratelimit);
        if (r < 0)
                return r;
        r = stitch_conversations_new(&m->conversations);
        if (r < 0)
                return r;

        /* The dummy hash has the configured cost, so unknown users cost the same. */
        struct stitch_argon2_params a = {m->config.argon2_m_kib, m->config.argon2_t, m->config.argon2_p};
        char random_pw[33];
        uint8_t raw[16];
        r = stitch_random_bytes(raw, sizeof(raw));
        if (r < 0)
                return r;
        for (size_t i = 0; i < sizeof(raw); i++)
                snprintf(random_pw + 2 * i, 3, "%02x", raw[i]);
        r = stitch_password_hash(random_pw, &a, &m->dummy_hash);
        explicit_bzero(random_pw, sizeof(random_pw));
        if (r < 0)
                return r;
        m->password_floor = a;

        /* baas_domain_id: stable per machine. */
        uint8_t h[STITCH_HASH_LEN];
        char machine[128] = "stitch";
        FILE *f = fopen("/etc/machine-id", "re");
        if (f) {
                if (!fgets(machine, sizeof(machine), f))
                        snprintf(machine, sizeof(machine), "stitch");
                fclose(f);
        }
        r = stitch_sha256(machine, strlen(machine), h);
        if (r < 0)
                return r;
        for (size_t i = 0; i < 12; i++)
                snprintf(m->domain_id + 2 * i, 3, "%02x", h[i]);

        unsigned workers = m->config.workers;
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

        r = sd_event_add_time_relative(m->event, &m->maintenance_timer, CLOCK_MONOTONIC, MAINTENANCE_INTERVAL_USEC,
                                       USEC_PER_SEC, on_maintenance, m);
        if (r < 0)
                return r;
        maintenance(m);
        return 0;
}
