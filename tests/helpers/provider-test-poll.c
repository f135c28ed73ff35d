/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-poll: a provider for tests only (never in the installed daemon; see
 * providers/registry.c), shaped like an OAuth device grant. begin() shows
 * a verification message and answers pending; the first two polls are
 * pending again; the third logs in the user whose Unix name was asked
 * for. It declares network I/O, so the daemon runs it on the network
 * pool, and a conversation lifetime longer than any allowed (45 min: cut
 * to 30).
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

/* How often step() ran, in this process (the unit test reads it). */
unsigned stitch_test_poll_steps;

/* Which thread ran a round: the daemon's network pool names its threads
 * "stitchd-network" (tests/pam/test-pending.sh looks). */
static void log_thread(const char *what) {
        char name[16] = "";
        (void) pthread_getname_np(pthread_self(), name, sizeof(name));
        log_info("test-poll: %s on thread %s.", what, name);
}

static bool poll_enabled(const struct stitch_config *c) {
        (void) c;
        return true;
}

static void poll_state_free(void *state) {
        free(state);
}

static int poll_begin(struct stitch_core *core, const struct stitch_login *l, struct stitch_provider_result *ret) {
        const char *expires = stitch_credentials_get(l->credentials, "expires");
        (void) core;

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
        ret->pending.interval_usec = USEC_PER_SEC;
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
                ret->pending.interval_usec = USEC_PER_SEC;
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
        .enabled = poll_enabled,
        .network = true,
        .conversation_lifetime_usec = 45 * 60 * USEC_PER_SEC,
        .begin = poll_begin,
        .step = poll_step,
        .state_free = poll_state_free,
};
