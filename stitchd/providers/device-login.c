/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A device grant over PAM rounds (providers/device-login.h has the rounds). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "macro.h"
#include "providers/device-login.h"
#include "store/store.h"

enum phase {
        PHASE_CHOICE,   /* asked: Enter for the device login, p for the password */
        PHASE_PASSWORD, /* asked the password */
        PHASE_SHOWN,    /* showed the URL and code, asked for Enter / new / cancel */
        PHASE_POLLING,  /* answered pending: polling */
        PHASE_FAILED,   /* denied or expired: asked for Enter (a new code) / cancel */
};

struct device_state {
        enum phase phase;
        struct stitch_device_code code;
        uint64_t interval_usec;
        uint64_t expires_usec; /* CLOCK_MONOTONIC */
};

#define CHOICE_PROMPT_ID "method"
#define DEVICE_PROMPT_ID "device"

void stitch_device_login_state_free(void *state) {
        struct device_state *s = state;
        if (!s)
                return;
        explicit_bzero(s, sizeof(*s));
        free(s);
}

static struct device_state *state_copy(const struct device_state *from, enum phase phase) {
        struct device_state *s = malloc(sizeof(*s));
        if (!s)
                return NULL;
        if (from)
                *s = *from;
        else
                *s = (struct device_state) {};
        s->phase = phase;
        return s;
}

void stitch_device_login_instructions(const struct stitch_device_login *d, const struct stitch_device_code *code,
                                      char *buf, size_t size) {
        /* The scheme may go (Google's display rules); the code never changes. */
        const char *url = code->verification_url;
        if (strncmp(url, "https://", 8) == 0)
                url += 8;
        snprintf(buf, size, "To sign in with %s, open %s on a phone or computer and enter the code %s", d->display_name,
                 url, code->user_code);
}

static bool printable_ascii(const char *s) {
        if (isempty(s))
                return false;
        for (; *s; s++)
                if ((unsigned char) *s <= 0x20 || (unsigned char) *s >= 0x7f)
                        return false;
        return true;
}

static int ask_choice(const struct stitch_device_login *d, struct stitch_provider_result *ret, bool again) {
        char text[STITCH_PROMPT_TEXT_MAX];
        int r = 0;

        if (again)
                r = stitch_ask_message(&ret->ask, true, "Type p for your password, or press Enter.");
        snprintf(text, sizeof(text), "Press Enter to sign in with %s, or type p for your password: ", d->display_name);
        if (r >= 0)
                r = stitch_ask_prompt(&ret->ask, CHOICE_PROMPT_ID, text, true, false);
        if (r < 0)
                return r;
        ret->state = state_copy(NULL, PHASE_CHOICE);
        return ret->state ? STITCH_PROVIDER_ASK : -ENOMEM;
}

/* The identity provider cannot be reached (or answered nonsense): said to
 * the person, who may try again; the daemon's log has the details. */
static int unreachable(const struct stitch_device_login *d, int error, struct stitch_provider_result *ret) {
        char text[STITCH_MESSAGE_TEXT_MAX];

        if (error == -ENOMEM || error == -EACCES)
                return error;
        snprintf(text, sizeof(text), "%s cannot be reached right now.", d->display_name);
        int r = stitch_ask_message(&ret->ask, true, text);
        if (r >= 0)
                r = stitch_ask_prompt(&ret->ask, DEVICE_PROMPT_ID, "Press Enter to try again, or type cancel: ", true,
                                      false);
        if (r < 0)
                return r;
        ret->state = state_copy(NULL, PHASE_FAILED);
        return ret->state ? STITCH_PROVIDER_ASK : -ENOMEM;
}

/* A new grant, shown: the text goes with a prompt (see the header on sshd). */
static int start_and_show(struct stitch_core *core, const struct stitch_login *l, const struct stitch_device_login *d,
                          const struct stitch_device_login_options *o, struct stitch_provider_result *ret) {
        char text[STITCH_MESSAGE_TEXT_MAX];
        struct device_state *s = state_copy(NULL, PHASE_SHOWN);
        if (!s)
                return -ENOMEM;

        int r = d->start(core, l, &s->code);
        if (r < 0) {
                stitch_device_login_state_free(s);
                return unreachable(d, r, ret);
        }
        /* What is shown must be shown whole and harmless. */
        if (!printable_ascii(s->code.user_code) || !printable_ascii(s->code.verification_url) ||
            strncmp(s->code.verification_url, "https://", 8) != 0 || isempty(s->code.device_code)) {
                log_error("%s device login: the device authorization answer is unusable (bad user code or URL).",
                          d->display_name);
                stitch_device_login_state_free(s);
                return unreachable(d, -EBADMSG, ret);
        }
        s->interval_usec = s->code.interval_usec > 0 ? s->code.interval_usec : STITCH_DEVICE_INTERVAL_DEFAULT_USEC;
        s->interval_usec = MIN(MAX(s->interval_usec, STITCH_PENDING_INTERVAL_MIN_USEC), STITCH_PENDING_INTERVAL_MAX_USEC);
        uint64_t expires_in = MIN(s->code.expires_in_usec, STITCH_CONVERSATION_LIFETIME_MAX_USEC);
        s->expires_usec = stitch_now_usec(CLOCK_MONOTONIC) + expires_in;

        stitch_device_login_instructions(d, &s->code, text, sizeof(text));
        r = stitch_ask_message(&ret->ask, false, text);
        if (r >= 0 && o->qr) {
                r = stitch_ask_qr(&ret->ask, s->code.verification_url);
                if (r == -EINVAL)
                        r = 0; /* too long to flag whole: the text has it */
        }
        if (r >= 0)
                r = stitch_ask_prompt(&ret->ask, DEVICE_PROMPT_ID,
                                      "Press Enter once you have approved, or type new or cancel: ", true, false);
        if (r < 0) {
                stitch_device_login_state_free(s);
                return r;
        }
        ret->state = s;
        return STITCH_PROVIDER_ASK;
}

static int failed(const struct device_state *s, const char *why, struct stitch_provider_result *ret) {
        int r = stitch_ask_message(&ret->ask, true, why);
        if (r >= 0)
                r = stitch_ask_prompt(&ret->ask, DEVICE_PROMPT_ID, "Press Enter for a new code, or type cancel: ", true,
                                      false);
        if (r < 0)
                return r;
        ret->state = state_copy(s, PHASE_FAILED);
        if (ret->state)
                explicit_bzero(((struct device_state *) ret->state)->code.device_code, STITCH_DEVICE_CODE_MAX);
        return ret->state ? STITCH_PROVIDER_ASK : -ENOMEM;
}

static int poll_once(struct stitch_core *core, const struct stitch_login *l, const struct stitch_device_login *d,
                     const struct device_state *s, struct stitch_provider_result *ret) {
        struct stitch_user *u = NULL;

        if (stitch_now_usec(CLOCK_MONOTONIC) >= s->expires_usec)
                return failed(s, "The code expired before the sign-in was approved.", ret);

        int r = d->poll(core, l, &s->code, &u);
        if (r < 0)
                return unreachable(d, r, ret);
        switch (r) {
        case STITCH_DEVICE_SUCCESS:
                if (!u)
                        return -EIO;
                ret->user = u;
                return STITCH_PROVIDER_DONE;
        case STITCH_DEVICE_PENDING:
        case STITCH_DEVICE_SLOW_DOWN: {
                struct device_state *next = state_copy(s, PHASE_POLLING);
                if (!next)
                        return -ENOMEM;
                if (r == STITCH_DEVICE_SLOW_DOWN)
                        next->interval_usec = MIN(next->interval_usec + STITCH_DEVICE_SLOW_DOWN_USEC,
                                                  STITCH_PENDING_INTERVAL_MAX_USEC);
                if (s->phase != PHASE_POLLING) {
                        char text[STITCH_MESSAGE_TEXT_MAX];
                        snprintf(text, sizeof(text), "Waiting for the sign-in to be approved on %s's page...",
                                 d->display_name);
                        int k = stitch_ask_message(&ret->ask, false, text);
                        if (k < 0) {
                                stitch_device_login_state_free(next);
                                return k;
                        }
                }
                ret->state = next;
                ret->pending.interval_usec = next->interval_usec;
                ret->pending.expires_usec = next->expires_usec;
                return STITCH_PROVIDER_PENDING;
        }
        case STITCH_DEVICE_DENIED:
                log_notice("%s device login for %s: denied on the verification page.", d->display_name, l->user);
                return failed(s, "The sign-in was denied.", ret);
        case STITCH_DEVICE_EXPIRED:
                log_notice("%s device login for %s: the code expired.", d->display_name, l->user);
                return failed(s, "The code expired before the sign-in was approved.", ret);
        default:
                return -EIO;
        }
}

int stitch_device_login_begin(struct stitch_core *core, const struct stitch_login *l,
                              const struct stitch_device_login *d, const struct stitch_device_login_options *o,
                              struct stitch_provider_result *ret) {
        if (!l->interactive)
                return -EACCES; /* nobody to show a code to */
        if (o->password_choice)
                return ask_choice(d, ret, false);
        return start_and_show(core, l, d, o, ret);
}

int stitch_device_login_step(struct stitch_core *core, const struct stitch_login *l,
                             const struct stitch_device_login *d, const struct stitch_device_login_options *o,
                             void *state, struct stitch_provider_result *ret) {
        const struct device_state *s = state;
        const char *a;

        if (!s)
                return -EINVAL;
        switch (s->phase) {
        case PHASE_CHOICE:
                a = stitch_credentials_get(l->credentials, CHOICE_PROMPT_ID);
                if (isempty(a))
                        return start_and_show(core, l, d, o, ret);
                if (streq(a, "p") || streq(a, "password")) {
                        int r = stitch_ask_prompt(&ret->ask, "password", "Password: ", false, true);
                        if (r < 0)
                                return r;
                        ret->state = state_copy(NULL, PHASE_PASSWORD);
                        return ret->state ? STITCH_PROVIDER_ASK : -ENOMEM;
                }
                if (streq(a, "cancel"))
                        return -ECANCELED;
                return ask_choice(d, ret, true);
        case PHASE_PASSWORD: {
                if (!stitch_credentials_get(l->credentials, "password"))
                        return -EACCES;
                int r = stitch_provider_userpass.begin(core, l, ret);
                if (r == STITCH_PROVIDER_DONE)
                        ret->authenticated_by = &stitch_provider_userpass;
                if (r == STITCH_PROVIDER_DONE || r < 0)
                        return r;
                /* It has everything it asks for: anything else is a failure. */
                if (ret->state && stitch_provider_userpass.state_free)
                        stitch_provider_userpass.state_free(ret->state);
                ret->state = NULL;
                ret->ask = (struct stitch_ask) {};
                return -EACCES;
        }
        case PHASE_SHOWN:
                a = stitch_credentials_get(l->credentials, DEVICE_PROMPT_ID);
                if (streq_ptr(a, "cancel")) {
                        log_info("%s device login for %s: cancelled.", d->display_name, l->user);
                        return -ECANCELED;
                }
                if (streq_ptr(a, "new"))
                        return start_and_show(core, l, d, o, ret);
                return poll_once(core, l, d, s, ret);
        case PHASE_POLLING:
                return poll_once(core, l, d, s, ret);
        case PHASE_FAILED:
                a = stitch_credentials_get(l->credentials, DEVICE_PROMPT_ID);
                if (isempty(a) || streq(a, "new"))
                        return start_and_show(core, l, d, o, ret);
                return -ECANCELED; /* "cancel" (or anything but a new code) */
        }
        return -EINVAL;
}
