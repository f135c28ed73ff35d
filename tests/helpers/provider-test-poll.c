/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-poll: a provider for tests only (never in the installed daemon; see
 * providers/registry.c), shaped like an OAuth device grant. begin() shows
 * a verification message and answers pending; the first two polls are
 * pending again; the third logs in the user whose Unix name was asked
 * for. It declares network I/O, so the daemon runs it on the network
 * pool, and a conversation lifetime longer than any allowed (45 min: cut
 * to 30).
 *
 * It has a section ([Provider.test-poll] Enabled=yes, Interval=1s,
 * FailInit=no) and an instance built from it at start (init fails with
 * FailInit=yes).
 *
 * Credentials, for the tests: "code" (any value) makes the first round an
 * attempt the rate limiter counts (and must refund); "expires" (seconds)
 * sets the pending expiry; "deny" makes the first poll fail as a denied
 * grant would. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "clock.h"
#include "log.h"
#include "core/accounts.h"
#include "providers/provider.h"
#include "store/store.h"

#define POLLS_PENDING 2

struct poll_state {
        unsigned polls;
        bool deny;
};

extern const struct stitch_provider stitch_provider_test_poll;

/* How often step() ran, in this process (the unit test reads it). */
unsigned stitch_test_poll_steps;

/* [Provider.test-poll]: a section of its own, as every provider has. */
struct poll_settings {
        bool enabled;
        uint64_t interval_usec; /* the pending rounds' interval */
        bool fail_init;         /* init fails (the daemon must not start) */
};

static const struct stitch_config_key poll_keys[] = {
        STITCH_CONFIG_BOOL(struct poll_settings, "Provider.test-poll", "Enabled", enabled, "yes"),
        STITCH_CONFIG_DURATION(struct poll_settings, "Provider.test-poll", "Interval", interval_usec, "1s",
                               USEC_PER_SEC, 60 * USEC_PER_SEC),
        STITCH_CONFIG_BOOL(struct poll_settings, "Provider.test-poll", "FailInit", fail_init, "no"),
};

static const struct stitch_config_section poll_section = {
        .name = "Provider.test-poll",
        .size = sizeof(struct poll_settings),
        .keys = poll_keys,
        .n_keys = ELEMENTSOF(poll_keys),
};

/* The instance: what its rounds share, built from the settings at start. */
struct poll_instance {
        uint64_t interval_usec;
        unsigned logins; /* begun */
};

static int poll_init(struct stitch_core *core, const void *settings, void **ret_instance) {
        const struct poll_settings *s = settings;
        (void) core;

        if (s->fail_init)
                return log_error_errno(ENOTCONN, "test-poll: FailInit=yes, not starting: %m");
        struct poll_instance *i = calloc(1, sizeof(*i));
        if (!i)
                return -ENOMEM;
        i->interval_usec = s->interval_usec;
        *ret_instance = i;
        return 0;
}

static void poll_free(void *instance) {
        free(instance);
}

static uint64_t poll_interval(struct stitch_core *core) {
        const struct poll_instance *i = stitch_provider_instance(core, &stitch_provider_test_poll);
        return i ? i->interval_usec : USEC_PER_SEC;
}

/* Which thread ran a round: the daemon's network pool names its threads
 * "stitchd-network" (tests/pam/test-pending.sh looks). */
static void log_thread(const char *what) {
        char name[16] = "";
        (void) pthread_getname_np(pthread_self(), name, sizeof(name));
        log_info("test-poll: %s on thread %s.", what, name);
}

static bool poll_enabled(const struct stitch_config *c) {
        const struct poll_settings *s = stitch_config_settings(c, &poll_section);
        return s && s->enabled;
}

static void poll_state_free(void *state) {
        free(state);
}

static int poll_begin(struct stitch_core *core, const struct stitch_login *l, struct stitch_provider_result *ret) {
        const char *expires = stitch_credentials_get(l->credentials, "expires");
        struct poll_instance *instance = stitch_provider_instance(core, &stitch_provider_test_poll);
        if (!instance)
                return -EIO; /* enabled, so the daemon built it */
        __atomic_fetch_add(&instance->logins, 1, __ATOMIC_RELAXED);

        log_thread("begin");
        struct poll_state *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->deny = stitch_credentials_get(l->credentials, "deny") != NULL;
        int r = stitch_ask_message(&ret->ask, false, "To sign in, visit https://device.example.test and enter ABCD-EFGH");
        if (r < 0) {
                free(s);
                return r;
        }
        ret->state = s;
        ret->pending.interval_usec = poll_interval(core);
        if (expires)
                ret->pending.expires_usec = stitch_now_usec(CLOCK_MONOTONIC) +
                                            (uint64_t) strtoul(expires, NULL, 10) * USEC_PER_SEC;
        return STITCH_PROVIDER_PENDING;
}

static int poll_step(struct stitch_core *core, const struct stitch_login *l, void *state,
                     struct stitch_provider_result *ret) {
        struct poll_state *s = state;

        __atomic_fetch_add(&stitch_test_poll_steps, 1, __ATOMIC_RELAXED);
        log_thread("step");
        if (s->deny)
                return -EACCES;
        if (++s->polls <= POLLS_PENDING) {
                /* step() frees nothing: the next round gets a state of its own */
                struct poll_state *next = malloc(sizeof(*next));
                if (!next)
                        return -ENOMEM;
                *next = *s;
                ret->state = next;
                ret->pending.interval_usec = poll_interval(core);
                return STITCH_PROVIDER_PENDING;
        }

        struct stitch_user *u = NULL;
        int r = stitch_user_find_for_login(core, l, &u);
        if (r == -ENOENT)
                return -EACCES;
        if (r < 0)
                return r;
        if (u->disabled) {
                stitch_user_free(u);
                return -EACCES;
        }
        ret->user = u;
        return STITCH_PROVIDER_DONE;
}

const struct stitch_provider stitch_provider_test_poll = {
        .name = "test-poll",
        .config = &poll_section,
        .enabled = poll_enabled,
        .init = poll_init,
        .free = poll_free,
        .network = true,
        .conversation_lifetime_usec = 45 * 60 * USEC_PER_SEC,
        .begin = poll_begin,
        .step = poll_step,
        .state_free = poll_state_free,
};
