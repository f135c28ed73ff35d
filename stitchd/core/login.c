/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/accounts.h"
#include "core/ratelimit.h"
#include "core/callerlimit.h"
#include "log.h"
#include "core/address.h"
#include "core/login.h"
#include "clock.h"
#include "core/unix-users.h"
#include "validate.h"

bool stitch_caller_may_act_for(uid_t caller, const char *unix_name) {
        uid_t uid;
        if (caller == 0)
                return true;
        return stitch_lookup_uid(unix_name, &uid) >= 0 && uid == caller;
}

_printf_(3, 4) static int fail(struct stitch_login_result *ret, enum stitch_login_failure failure, const char *format,
                              ...) {
        va_list ap;
        ret->outcome = STITCH_LOGIN_FAILED;
        ret->failure = failure;
        va_start(ap, format);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        vsnprintf(ret->message, sizeof(ret->message), format, ap);
#pragma GCC diagnostic pop
        va_end(ap);
        return 0;
}

static int fail_parameter(struct stitch_login_result *ret, const char *parameter, const char *message) {
        snprintf(ret->parameter, sizeof(ret->parameter), "%s", parameter);
        return fail(ret, STITCH_LOGIN_INVALID_PARAMETER, "%s", message);
}

static int fail_errno(struct stitch_login_result *ret, int error, const char *what) {
        ret->error = error;
        return fail(ret, STITCH_LOGIN_INTERNAL, "%s", what);
}

static int fail_attempts(struct stitch_login_result *ret, uint64_t retry_after) {
        ret->retry_after_usec = retry_after;
        return fail(ret, STITCH_LOGIN_TOO_MANY_ATTEMPTS, "too many attempts");
}

/* An app login's client address as a key of the address limiter: its
 * prefix, keyed SipHash (core/address.h); never 0, which the limiter would
 * not limit. */
static uid_t address_limit_key(const struct stitch_core *core, const char *address) {
        return (uid_t) stitch_address_limit_id(&core->config, address);
}

static void drop_state(const struct stitch_provider *provider, void *state) {
        if (state && provider->state_free)
                provider->state_free(state);
}

static char *strdup_or_empty(const char *s) {
        return strdup(s ? s : "");
}

/* How long conversations of this provider may wait, from the first round. */
static uint64_t conversation_lifetime(const struct stitch_provider *provider) {
        uint64_t t = provider->conversation_lifetime_usec;
        if (t == 0)
                return STITCH_CONVERSATION_LIFETIME_DEFAULT_USEC;
        return MIN(t, (uint64_t) STITCH_CONVERSATION_LIFETIME_MAX_USEC);
}

static uint64_t pending_interval(const struct stitch_pending *p) {
        if (p->interval_usec == 0)
                return 5 * USEC_PER_SEC;
        return MIN(MAX(p->interval_usec, (uint64_t) STITCH_PENDING_INTERVAL_MIN_USEC),
                   (uint64_t) STITCH_PENDING_INTERVAL_MAX_USEC);
}

/* Keeps what a provider asked for until the person answers, or (pending)
 * until the next poll. started: the login's first round (0: this one). */
static int keep_conversation(struct stitch_core *core, const struct stitch_login *l,
                             const struct stitch_provider *provider, struct stitch_provider_result *pr,
                             bool pending, uint64_t started, struct stitch_login_result *ret) {
        _cleanup_(stitch_conversation_freep) struct stitch_conversation *c = calloc(1, sizeof(*c));
        int r;

        if (!c) {
                drop_state(provider, pr->state);
                return fail_errno(ret, -ENOMEM, "keeping the login");
        }
        c->provider = provider;
        c->state = TAKE_PTR(pr->state);
        c->uid = l->cred.uid;
        c->user = strdup_or_empty(l->user);
        c->service = strdup_or_empty(l->service);
        c->rhost = l->rhost ? strdup(l->rhost) : NULL;
        c->tty = l->tty ? strdup(l->tty) : NULL;
        c->ruser = l->ruser ? strdup(l->ruser) : NULL;
        if (!c->user || !c->service || (l->rhost && !c->rhost) || (l->tty && !c->tty) || (l->ruser && !c->ruser))
                return fail_errno(ret, -ENOMEM, "keeping the login");
        c->n_prompts = pr->ask.n_prompts;
        for (size_t i = 0; i < pr->ask.n_prompts; i++)
                memcpy(c->prompts[i], pr->ask.prompts[i].id, sizeof(c->prompts[i]));
        c->authtok_is_not_password = pr->authtok_is_not_password;
        uint64_t now = stitch_now_usec(CLOCK_MONOTONIC);
        c->started_usec = started ? started : now;
        if (pending) {
                /* A chain of polls ends with the login's lifetime, or with the
                 * provider's expiry if that comes first. */
                uint64_t end = c->started_usec + conversation_lifetime(provider);
                if (pr->pending.expires_usec > 0)
                        end = MIN(end, pr->pending.expires_usec);
                if (end <= now) /* c takes the state with it */
                        return fail(ret, STITCH_LOGIN_CONVERSATION_GONE, "the login expired");
                c->n_prompts = 0; /* a poll brings no answers */
                c->pending = true;
                c->poll_interval_usec = pending_interval(&pr->pending);
                c->poll_after_usec = now + c->poll_interval_usec;
                c->expires_usec = end;
        } else
                c->expires_usec = now + conversation_lifetime(provider);
        c->owner = l->owner;
        c->share = stitch_conversations_share(core->conversations, l->cred.uid, l->service, l->ruser, l->rhost);

        r = stitch_conversations_put(core->conversations, c, now);
        if (r < 0)
                return fail_errno(ret, r, "keeping the login");
        if (r > 0)
                log_notice("Login for %s via %s (uid %u, rhost %s): ended the longest-waiting unanswered login of "
                           "the same caller to make room (%u at most).",
                           l->user, l->service, (unsigned) l->cred.uid, l->rhost ? l->rhost : "-",
                           (unsigned) STITCH_CONVERSATIONS_PER_SHARE);
        ret->share = c->share;
        memcpy(ret->conversation, c->id, sizeof(ret->conversation));
        ret->ask = pr->ask;
        if (pending) {
                ret->ask.n_prompts = 0;
                ret->poll_interval_usec = c->poll_interval_usec;
                ret->expires_in_usec = c->expires_usec - now;
                ret->outcome = STITCH_LOGIN_PENDING;
        } else {
                ret->expires_in_usec = c->expires_usec - now;
                ret->outcome = STITCH_LOGIN_ASK;
        }
        TAKE_PTR(c);
        return 0;
}

/* A poll that came before its interval had passed: the provider is not
 * asked (its identity provider would tell it to slow down); the same
 * conversation waits on, under a new id, for the rest of the interval. */
static int pending_again(struct stitch_core *core, struct stitch_conversation *c, uint64_t now,
                         struct stitch_login_result *ret) {
        int r = stitch_conversations_put(core->conversations, c, now);
        if (r < 0) {
                stitch_conversation_free(c);
                return fail_errno(ret, r, "keeping the login");
        }
        ret->share = c->share;
        memcpy(ret->conversation, c->id, sizeof(ret->conversation));
        ret->poll_interval_usec = c->poll_after_usec - now;
        ret->expires_in_usec = c->expires_usec - now;
        ret->outcome = STITCH_LOGIN_PENDING;
        return 0;
}

static bool answers_were_asked(const struct stitch_conversation *c, const struct stitch_credentials *answers,
                               const char **ret_bad) {
        for (size_t i = 0; answers && i < answers->n; i++) {
                bool asked = false;
                for (size_t j = 0; j < c->n_prompts; j++)
                        if (streq(c->prompts[j], answers->items[i].name))
                                asked = true;
                if (!asked) {
                        *ret_bad = answers->items[i].name;
                        return false;
                }
        }
        return true;
}

/* For a limit_after_check provider, once its check named the account:
 * counts the attempt against limit_key. Returns 0, or 1 with ret saying
 * the account is locked (the attempt is then not counted, as any attempt
 * during a lock). */
static int limit_attempt_after(struct stitch_core *core, const struct stitch_login *l, const char *limit_key,
                               struct stitch_login_result *ret) {
        uint64_t retry_after = 0;
        if (stitch_ratelimit_begin(core->ratelimit, limit_key, stitch_now_usec(CLOCK_MONOTONIC), &retry_after) !=
            -EBUSY)
                return 0;
        log_notice("Login for %s via %s refused: too many failed attempts (retry in %llus).",
                   isempty(l->user) ? "an app user" : l->user, l->service,
                   (unsigned long long) ((retry_after + USEC_PER_SEC - 1) / USEC_PER_SEC));
        fail_attempts(ret, retry_after);
        return 1;
}

/* The round itself, once the provider and the login are known. */
static int run_provider(struct stitch_core *core, const struct stitch_login *l, const struct stitch_provider *chooser,
                        struct stitch_credentials *credentials, void *state, const struct stitch_provider *continued,
                        uint64_t started, bool identify_only, struct stitch_login_result *ret) {
        const struct stitch_provider *provider = continued ? continued : chooser;
        struct stitch_provider_result pr = {0};
        int r;

        pr.authtok_is_not_password = ret->authtok_is_not_password;
        if (!continued && provider->choose) {
                const struct stitch_provider *chosen = NULL;
                r = provider->choose(&core->config, l, credentials, &pr, &chosen);
                ret->authtok_is_not_password = pr.authtok_is_not_password;
                if (r < 0)
                        return fail_errno(ret, r, "choosing a provider");
                if (r == STITCH_PROVIDER_ASK)
                        return l->interactive ? keep_conversation(core, l, provider, &pr, false, started, ret)
                                              : fail_parameter(ret, pr.ask.prompts[0].id, "a credential is required");
                provider = chosen;
        }
        if (!provider->enabled(&core->config)) {
                drop_state(provider, state);
                return fail(ret, STITCH_LOGIN_PERMISSION_DENIED, "provider %s is disabled", provider->name);
        }

        /* An attempt counts when something is checked: the person presented
         * a credential, or the provider needs none. Asking costs nothing. */
        bool attempt = credentials->n > 0 || provider->no_credentials;
        /* Failures count per account, and for app logins also per client
         * address (one address guessing many accounts). */
        char limit_key[STITCH_LIMIT_KEY_MAX] = "", address_key[STITCH_LIMIT_KEY_MAX] = "";
        bool limit_after = attempt && provider->limit_after_check;
        if (attempt) {
                uint64_t retry_after = 0, now = stitch_now_usec(CLOCK_MONOTONIC);
                r = 0;
                if (!l->app && stitch_callerlimit_check(core->callerlimit, l->cred.uid, now, &retry_after) == -EBUSY) {
                        log_notice("Login for %s via %s refused: uid %u logged in too often (CallerLoginsPerMinute=%u).",
                                   l->user, l->service, (unsigned) l->cred.uid, core->config.caller_logins_per_minute);
                        r = -EBUSY;
                } else if (l->app && provider->no_credentials &&
                           stitch_callerlimit_check(core->addresslimit, address_limit_key(core, l->rhost), now, &retry_after) == -EBUSY) {
                        /* Each anonymous app login makes a user: bounded per client address. */
                        log_notice("Anonymous app login from %s refused: too many this minute (CallerLoginsPerMinute=%u).",
                                   l->rhost ? l->rhost : "-", core->config.caller_logins_per_minute);
                        r = -EBUSY;
                } else if (!limit_after && (r = stitch_limit_key_for_login(core, l, limit_key)) < 0) {
                        drop_state(provider, state);
                        return fail_errno(ret, r, "user lookup");
                }
                if (r >= 0 && l->app) {
                        stitch_limit_key_for_address(&core->config, l->rhost, address_key);
                        r = stitch_ratelimit_begin(core->ratelimit, address_key, now, &retry_after);
                }
                if (r >= 0 && limit_key[0])
                        r = stitch_ratelimit_begin(core->ratelimit, limit_key, now, &retry_after);
                if (r == -EBUSY && retry_after > 0)
                        log_notice("Login for %s via %s refused: too many failed attempts (retry in %llus).", l->user,
                                   l->service, (unsigned long long) ((retry_after + USEC_PER_SEC - 1) / USEC_PER_SEC));
                if (r == -EBUSY) {
                        drop_state(provider, state);
                        return fail_attempts(ret, retry_after);
                }
        }

        if (continued && provider->step && state) {
                r = provider->step(core, l, state, &pr);
                drop_state(provider, state);
        } else
                r = provider->begin(core, l, &pr);
        ret->authtok_is_not_password = pr.authtok_is_not_password;

        if (r == STITCH_PROVIDER_ASK) {
                if (!l->interactive) {
                        /* A caller that cannot answer learns what is missing. */
                        drop_state(provider, pr.state);
                        const char *missing = pr.ask.n_prompts > 0 ? pr.ask.prompts[0].id : "interactive";
                        char message[64];
                        snprintf(message, sizeof(message), "%s is required", missing);
                        return fail_parameter(ret, missing, message);
                }
                return keep_conversation(core, l, provider, &pr, false, started, ret);
        }
        if (r == STITCH_PROVIDER_PENDING) {
                /* Nothing was checked: the round was no guess. */
                if (attempt && limit_key[0])
                        stitch_ratelimit_refund(core->ratelimit, limit_key);
                if (attempt && address_key[0])
                        stitch_ratelimit_refund(core->ratelimit, address_key);
                if (!l->interactive || !provider->step) {
                        /* App logins (HTTP) cannot poll; a provider without
                         * step() could not be polled. */
                        drop_state(provider, pr.state);
                        log_notice("Login for %s via %s with %s refused: it completes elsewhere and the caller "
                                   "cannot wait for it.", isempty(l->user) ? "an app user" : l->user, l->service,
                                   provider->name);
                        return fail_parameter(ret, "interactive",
                                              "this login completes on another device: only an interactive caller "
                                              "(PAM, stitchctl login) can wait for it");
                }
                return keep_conversation(core, l, provider, &pr, true, started, ret);
        }
        if (r < 0)
                __atomic_fetch_add(&core->logins_failed, 1, __ATOMIC_RELAXED);
        if (r == -ECANCELED) {
                /* The person gave up (a device login's "cancel"): nothing was
                 * guessed, so the attempt is not a failure of the account. */
                if (attempt && limit_key[0])
                        stitch_ratelimit_refund(core->ratelimit, limit_key);
                if (attempt && address_key[0])
                        stitch_ratelimit_refund(core->ratelimit, address_key);
                log_info("Login for %s via %s with %s cancelled.", l->user, l->service, provider->name);
                return fail(ret, STITCH_LOGIN_INVALID_CREDENTIALS, "login cancelled");
        }
        if (r == -EACCES || r == -EINVAL) {
                log_notice("Login for %s via %s with %s failed (rhost %s).", l->user, l->service, provider->name,
                           l->rhost ? l->rhost : "-");
                /* A wrong credential counts against the account the login
                 * names (none for an app login that names none). */
                if (limit_after && stitch_limit_key_for_login(core, l, limit_key) >= 0 && limit_key[0] &&
                    limit_attempt_after(core, l, limit_key, ret) != 0)
                        return 0; /* the account is locked: said so in ret */
                return fail(ret, STITCH_LOGIN_INVALID_CREDENTIALS, "invalid username or password");
        }
        if (r == -EPERM) {
                log_notice("Login for %s via %s with %s not allowed here.", l->user, l->service, provider->name);
                return fail(ret, STITCH_LOGIN_PERMISSION_DENIED, "%s logins are not allowed for %s via %s",
                            provider->name, l->user, l->service);
        }
        if (r < 0) {
                /* Nothing was judged (an identity provider or the store
                 * could not be reached, or the daemon failed): not a guess,
                 * so not a failure of the account either. */
                if (attempt && limit_key[0])
                        stitch_ratelimit_refund(core->ratelimit, limit_key);
                if (attempt && address_key[0])
                        stitch_ratelimit_refund(core->ratelimit, address_key);
                return fail_errno(ret, r, "login");
        }

        _cleanup_(stitch_user_freep) struct stitch_user *u = TAKE_PTR(pr.user);
        if (limit_after && u) {
                /* The account the check named: refused while it is locked. */
                stitch_limit_key_for_user(u->id, limit_key);
                if (limit_attempt_after(core, l, limit_key, ret) != 0)
                        return 0;
        }
        if (attempt && limit_key[0])
                stitch_ratelimit_success(core->ratelimit, limit_key);
        if (attempt && address_key[0])
                stitch_ratelimit_success(core->ratelimit, address_key);
        if (u && u->pending) {
                /* The password was right (it cost what a wrong one costs), so
                 * saying so tells nothing a guesser could use. */
                log_notice("Login for %s via %s with %s refused: user %s has not confirmed their email address.",
                           isempty(l->user) ? "an app user" : l->user, l->service, provider->name, u->id);
                return fail(ret, STITCH_LOGIN_CONFIRMATION_REQUIRED, "confirmation required");
        }
        if (!l->app)
                stitch_callerlimit_count(core->callerlimit, l->cred.uid, stitch_now_usec(CLOCK_MONOTONIC));
        else if (provider->no_credentials)
                stitch_callerlimit_count(core->addresslimit, address_limit_key(core, l->rhost), stitch_now_usec(CLOCK_MONOTONIC));
        __atomic_fetch_add(&core->logins_succeeded, 1, __ATOMIC_RELAXED);
        if (pr.authenticated_by)
                provider = pr.authenticated_by;
        ret->provider = provider;
        if (pr.offline) {
                /* No session: the store, which would keep it, is not there. */
                log_notice("Offline login of %s (user %s) via %s with %s: the store is unreachable; no session "
                           "and no tokens.", l->user, u->id, l->service, provider->name);
                ret->user = TAKE_PTR(u);
                ret->outcome = STITCH_LOGIN_OFFLINE;
                return 0;
        }
        if (identify_only) {
                ret->user = TAKE_PTR(u);
                ret->outcome = STITCH_LOGIN_IDENTIFIED;
                return 0;
        }

        r = stitch_session_start(core, u, provider->name, pr.apikey_id, l, &ret->tokens);
        if (r < 0)
                return fail_errno(ret, r, "creating the session");
        log_info("Login of %s (user %s) via %s with %s.", isempty(l->user) ? "an app user" : l->user, u->id, l->service,
                 provider->name);
        ret->outcome = STITCH_LOGIN_SESSION;
        return 0;
}

static int continue_conversation(struct stitch_core *core, const struct stitch_login_request *req,
                                 struct stitch_login_result *ret) {
        _cleanup_(stitch_conversation_freep) struct stitch_conversation *c = NULL;
        const char *bad = NULL;
        int r;

        r = stitch_conversations_take(core->conversations, req->conversation, req->login.cred.uid, req->login.owner,
                                      stitch_now_usec(CLOCK_MONOTONIC), &c);
        if (r < 0)
                return fail(ret, STITCH_LOGIN_CONVERSATION_GONE, "unknown or expired login conversation");
        if ((req->login.user && !streq(req->login.user, c->user)) ||
            (req->login.service && !streq(req->login.service, c->service)))
                return fail(ret, STITCH_LOGIN_CONVERSATION_GONE, "unknown or expired login conversation");
        uint64_t now = stitch_now_usec(CLOCK_MONOTONIC);
        if (c->pending && req->login.credentials && req->login.credentials->n > 0)
                return fail_parameter(ret, "answers", "a pending login takes no answers");
        if (c->pending && now < c->poll_after_usec)
                return pending_again(core, TAKE_PTR(c), now, ret);
        if (!answers_were_asked(c, req->login.credentials, &bad)) {
                char message[96];
                snprintf(message, sizeof(message), "'%s' was not asked for", bad);
                return fail_parameter(ret, "answers", message);
        }

        struct stitch_credentials credentials = *req->login.credentials;
        struct stitch_login l = {
                .user = c->user,
                .service = c->service,
                .rhost = c->rhost,
                .tty = c->tty,
                .ruser = c->ruser,
                .cred = req->login.cred,
                .owner = req->login.owner,
                .interactive = true,
                .credentials = &credentials,
        };
        ret->authtok_is_not_password = c->authtok_is_not_password;
        /* The state goes to the provider's step (which frees it), or, for a
         * provider that never asks twice, the round is a new begin. */
        void *state = TAKE_PTR(c->state);
        if (!c->provider->step) {
                drop_state(c->provider, state);
                state = NULL;
        }
        if (c->provider->choose)
                return run_provider(core, &l, c->provider, &credentials, NULL, NULL, c->started_usec, false, ret);
        return run_provider(core, &l, c->provider, &credentials, state, c->provider, c->started_usec, false, ret);
}

int stitch_login_run(struct stitch_core *core, const struct stitch_login_request *req,
                     struct stitch_login_result *ret) {
        *ret = (struct stitch_login_result) {0};

        if (req->conversation)
                return continue_conversation(core, req, ret);

        const struct stitch_login *l = &req->login;
        if (l->app) {
                /* App logins name no Unix account: the PAM policy does not apply. */
                if (!l->user || !l->service)
                        return fail_parameter(ret, "user", "user must be given");
        } else if (isempty(l->user))
                return fail_parameter(ret, "user", "user must not be empty");
        else if (!stitch_service_allowed(core->config.services, l->service))
                return fail(ret, STITCH_LOGIN_PERMISSION_DENIED, "service '%s' may not use stitch", l->service);
        else if (!stitch_caller_may_act_for(l->cred.uid, l->user))
                return fail(ret, STITCH_LOGIN_PERMISSION_DENIED, "uid %u may only log in as its own Unix account",
                            (unsigned) l->cred.uid);

        const char *name = req->provider ? req->provider : "auto";
        const struct stitch_provider *provider = stitch_provider_find(name);
        if (!provider) {
                char message[96];
                snprintf(message, sizeof(message), "unknown provider '%.64s'", name);
                return fail_parameter(ret, "provider", message);
        }
        struct stitch_credentials credentials = *l->credentials;
        struct stitch_login copy = *l;
        copy.credentials = &credentials;
        copy.linking = req->identify_only;
        return run_provider(core, &copy, provider, &credentials, NULL, NULL, 0, req->identify_only, ret);
}

void stitch_login_result_done(struct stitch_login_result *r) {
        stitch_login_tokens_done(&r->tokens);
        r->user = stitch_user_free(r->user);
        explicit_bzero(&r->ask, sizeof(r->ask));
}
