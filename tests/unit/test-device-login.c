/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* providers/device-login.c: the rounds of a device grant (show, poll,
 * pending, slow_down, denied, expired, new code, cancel, the password
 * choice), with the identity provider scripted in the test. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "providers/device-login.h"
#include "store/store.h"

static unsigned starts, polls;
static int script[8]; /* poll results, in order */
static unsigned n_script;
static const char *start_url = "https://www.google.com/device";
static uint64_t start_expires_in = 1800 * USEC_PER_SEC;

static int fake_start(struct stitch_core *core, const struct stitch_login *l, struct stitch_device_code *ret) {
        (void) core, (void) l;
        starts++;
        snprintf(ret->device_code, sizeof(ret->device_code), "device-code-%u", starts);
        snprintf(ret->user_code, sizeof(ret->user_code), "ABC-DEF-%03u", starts);
        snprintf(ret->verification_url, sizeof(ret->verification_url), "%s", start_url);
        ret->interval_usec = 5 * USEC_PER_SEC;
        ret->expires_in_usec = start_expires_in;
        return 0;
}

static int fake_poll(struct stitch_core *core, const struct stitch_login *l, const struct stitch_device_code *code,
                     struct stitch_user **ret_user) {
        (void) core, (void) l;
        char expect[64];
        snprintf(expect, sizeof(expect), "device-code-%u", starts);
        assert_string_equal(code->device_code, expect); /* the latest grant is polled */
        assert_true(polls < n_script);
        int r = script[polls++];
        if (r == STITCH_DEVICE_SUCCESS) {
                *ret_user = calloc(1, sizeof(struct stitch_user));
                assert_non_null(*ret_user);
        }
        return r;
}

static const struct stitch_device_login fake = {
        .display_name = "Google",
        .start = fake_start,
        .poll = fake_poll,
};

struct round {
        struct stitch_credentials creds;
        struct stitch_login l;
        struct stitch_provider_result res;
};

static void round_init(struct round *w, const char *answer_name, const char *answer) {
        *w = (struct round) {};
        w->l = (struct stitch_login) {.user = "alice", .service = "login", .interactive = true, .credentials = &w->creds};
        if (answer_name)
                assert_int_equal(stitch_credentials_put(&w->creds, answer_name, answer), 0);
}

static void reset(void) {
        starts = polls = n_script = 0;
        start_url = "https://www.google.com/device";
        start_expires_in = 1800 * USEC_PER_SEC;
}

/* One round after the state of the one before (freed here, as the daemon does). */
static int step_with(const struct stitch_device_login *d, void **state, const struct stitch_device_login_options *o,
                     struct round *w, const char *name, const char *answer) {
        round_init(w, name, answer);
        int r = stitch_device_login_step(NULL, &w->l, d, o, *state, &w->res);
        stitch_device_login_state_free(*state);
        *state = w->res.state;
        return r;
}

static int step(void **state, const struct stitch_device_login_options *o, struct round *w, const char *name,
                const char *answer) {
        return step_with(&fake, state, o, w, name, answer);
}

static void test_show_poll_success(void **unused) {
        struct stitch_device_login_options o = {.qr = true};
        struct round w;
        void *state;
        (void) unused;
        reset();
        script[n_script++] = STITCH_DEVICE_PENDING;
        script[n_script++] = STITCH_DEVICE_SLOW_DOWN;
        script[n_script++] = STITCH_DEVICE_PENDING;
        script[n_script++] = STITCH_DEVICE_SUCCESS;

        round_init(&w, NULL, NULL);
        assert_int_equal(stitch_device_login_begin(NULL, &w.l, &fake, &o, &w.res), STITCH_PROVIDER_ASK);
        state = w.res.state;
        assert_int_equal(starts, 1);
        /* The URL and code once, the URL flagged for a QR code, and a prompt that carries them. */
        assert_int_equal(w.res.ask.n_messages, 2);
        assert_string_equal(w.res.ask.messages[0].text,
                            "To sign in with Google, open www.google.com/device on a phone or computer and enter "
                            "the code ABC-DEF-001");
        assert_false(w.res.ask.messages[0].qr);
        assert_true(w.res.ask.messages[1].qr);
        assert_string_equal(w.res.ask.messages[1].text, "https://www.google.com/device");
        assert_int_equal(w.res.ask.n_prompts, 1);
        assert_true(w.res.ask.prompts[0].echo);
        assert_false(w.res.ask.prompts[0].authtok);
        assert_non_null(strstr(w.res.ask.prompts[0].text, "Press Enter"));

        /* Enter: pending, with a waiting message once. */
        assert_int_equal(step(&state, &o, &w, "device", ""), STITCH_PROVIDER_PENDING);
        assert_int_equal(w.res.pending.interval_usec, 5 * USEC_PER_SEC);
        assert_true(w.res.pending.expires_usec > 0);
        assert_int_equal(w.res.ask.n_messages, 1);
        assert_int_equal(w.res.ask.n_prompts, 0);
        /* slow_down: 5 s more, from then on. */
        assert_int_equal(step(&state, &o, &w, NULL, NULL), STITCH_PROVIDER_PENDING);
        assert_int_equal(w.res.pending.interval_usec, 10 * USEC_PER_SEC);
        assert_int_equal(w.res.ask.n_messages, 0);
        assert_int_equal(step(&state, &o, &w, NULL, NULL), STITCH_PROVIDER_PENDING);
        assert_int_equal(w.res.pending.interval_usec, 10 * USEC_PER_SEC);
        assert_int_equal(step(&state, &o, &w, NULL, NULL), STITCH_PROVIDER_DONE);
        assert_non_null(w.res.user);
        assert_null(state);
        stitch_user_free(w.res.user);
        assert_int_equal(polls, 4);
        assert_int_equal(starts, 1);
}

static void test_no_qr_new_cancel(void **unused) {
        struct stitch_device_login_options o = {.qr = false};
        struct round w;
        void *state;
        (void) unused;
        reset();

        round_init(&w, NULL, NULL);
        assert_int_equal(stitch_device_login_begin(NULL, &w.l, &fake, &o, &w.res), STITCH_PROVIDER_ASK);
        state = w.res.state;
        assert_int_equal(w.res.ask.n_messages, 1);
        assert_false(w.res.ask.messages[0].qr);
        /* "new": another grant, shown again. */
        assert_int_equal(step(&state, &o, &w, "device", "new"), STITCH_PROVIDER_ASK);
        assert_int_equal(starts, 2);
        assert_non_null(strstr(w.res.ask.messages[0].text, "ABC-DEF-002"));
        /* "cancel": the login ends, nothing polled. */
        assert_int_equal(step(&state, &o, &w, "device", "cancel"), -EACCES);
        assert_null(state);
        assert_int_equal(polls, 0);
}

static void test_denied_expired(void **unused) {
        struct stitch_device_login_options o = {.qr = true};
        struct round w;
        void *state;
        (void) unused;
        reset();
        script[n_script++] = STITCH_DEVICE_DENIED;
        script[n_script++] = STITCH_DEVICE_EXPIRED;

        round_init(&w, NULL, NULL);
        assert_int_equal(stitch_device_login_begin(NULL, &w.l, &fake, &o, &w.res), STITCH_PROVIDER_ASK);
        state = w.res.state;
        /* Denied: said as an error, with a prompt, so the person sees it. */
        assert_int_equal(step(&state, &o, &w, "device", ""), STITCH_PROVIDER_ASK);
        assert_int_equal(w.res.ask.n_messages, 1);
        assert_true(w.res.ask.messages[0].error);
        assert_string_equal(w.res.ask.messages[0].text, "The sign-in was denied.");
        assert_int_equal(w.res.ask.n_prompts, 1);
        /* Enter: a new code. */
        assert_int_equal(step(&state, &o, &w, "device", ""), STITCH_PROVIDER_ASK);
        assert_int_equal(starts, 2);
        assert_int_equal(step(&state, &o, &w, "device", ""), STITCH_PROVIDER_ASK);
        assert_non_null(strstr(w.res.ask.messages[0].text, "expired"));
        assert_int_equal(step(&state, &o, &w, "device", "cancel"), -EACCES);
        assert_null(state);

        /* Expired here (expires_in passed) before asking the identity provider. */
        reset();
        start_expires_in = 0;
        round_init(&w, NULL, NULL);
        assert_int_equal(stitch_device_login_begin(NULL, &w.l, &fake, &o, &w.res), STITCH_PROVIDER_ASK);
        state = w.res.state;
        assert_int_equal(step(&state, &o, &w, "device", ""), STITCH_PROVIDER_ASK);
        assert_non_null(strstr(w.res.ask.messages[0].text, "expired"));
        assert_int_equal(polls, 0);
        stitch_device_login_state_free(state);
}

static int failing_poll(struct stitch_core *core, const struct stitch_login *l, const struct stitch_device_code *code,
                        struct stitch_user **ret_user) {
        (void) core, (void) l, (void) code, (void) ret_user;
        return -ETIMEDOUT;
}

static int refusing_poll(struct stitch_core *core, const struct stitch_login *l, const struct stitch_device_code *code,
                         struct stitch_user **ret_user) {
        (void) core, (void) l, (void) code, (void) ret_user;
        return -EACCES;
}

static void test_errors(void **unused) {
        struct stitch_device_login_options o = {.qr = true};
        const struct stitch_device_login down = {.display_name = "Google", .start = fake_start, .poll = failing_poll};
        const struct stitch_device_login refusing = {.display_name = "Google", .start = fake_start, .poll = refusing_poll};
        struct round w;
        (void) unused;
        reset();

        /* A URL that is not https is never shown: an error said instead. */
        start_url = "http://evil.example/device";
        round_init(&w, NULL, NULL);
        assert_int_equal(stitch_device_login_begin(NULL, &w.l, &fake, &o, &w.res), STITCH_PROVIDER_ASK);
        assert_int_equal(w.res.ask.n_messages, 1);
        assert_true(w.res.ask.messages[0].error);
        assert_string_equal(w.res.ask.messages[0].text, "Google cannot be reached right now.");
        assert_null(strstr(w.res.ask.messages[0].text, "evil"));
        stitch_device_login_state_free(w.res.state);
        start_url = "https://www.google.com/device\x1b[2J";
        round_init(&w, NULL, NULL);
        assert_int_equal(stitch_device_login_begin(NULL, &w.l, &fake, &o, &w.res), STITCH_PROVIDER_ASK);
        assert_null(strstr(w.res.ask.messages[0].text, "\x1b"));
        stitch_device_login_state_free(w.res.state);

        /* Nobody to show a code to. */
        reset();
        round_init(&w, NULL, NULL);
        w.l.interactive = false;
        assert_int_equal(stitch_device_login_begin(NULL, &w.l, &fake, &o, &w.res), -EACCES);
        assert_int_equal(starts, 0);

        /* The identity provider down: said, Enter tries again (a new code), cancel ends. */
        round_init(&w, NULL, NULL);
        assert_int_equal(stitch_device_login_begin(NULL, &w.l, &down, &o, &w.res), STITCH_PROVIDER_ASK);
        void *state = w.res.state;
        assert_int_equal(step_with(&down, &state, &o, &w, "device", ""), STITCH_PROVIDER_ASK);
        assert_true(w.res.ask.messages[0].error);
        assert_string_equal(w.res.ask.messages[0].text, "Google cannot be reached right now.");
        assert_non_null(strstr(w.res.ask.prompts[0].text, "try again"));
        unsigned before = starts;
        assert_int_equal(step_with(&down, &state, &o, &w, "device", ""), STITCH_PROVIDER_ASK);
        assert_int_equal(starts, before + 1);
        stitch_device_login_state_free(state);

        /* -EACCES (the identity may not log in here) ends the login. */
        round_init(&w, NULL, NULL);
        assert_int_equal(stitch_device_login_begin(NULL, &w.l, &refusing, &o, &w.res), STITCH_PROVIDER_ASK);
        state = w.res.state;
        round_init(&w, "device", "");
        assert_int_equal(stitch_device_login_step(NULL, &w.l, &refusing, &o, state, &w.res), -EACCES);
        assert_null(w.res.state);
        stitch_device_login_state_free(state);
}

static void test_password_choice(void **unused) {
        struct stitch_device_login_options o = {.qr = true, .password_choice = true};
        struct round w;
        void *state;
        (void) unused;
        reset();

        round_init(&w, NULL, NULL);
        assert_int_equal(stitch_device_login_begin(NULL, &w.l, &fake, &o, &w.res), STITCH_PROVIDER_ASK);
        state = w.res.state;
        assert_int_equal(starts, 0); /* no grant until the device login is chosen */
        assert_int_equal(w.res.ask.n_prompts, 1);
        assert_non_null(strstr(w.res.ask.prompts[0].text, "type p for your password"));
        assert_true(w.res.ask.prompts[0].echo);
        /* Anything else: asked again. */
        assert_int_equal(step(&state, &o, &w, "method", "x"), STITCH_PROVIDER_ASK);
        assert_true(w.res.ask.messages[0].error);
        /* p: the password, a secret prompt stacked modules may share. */
        assert_int_equal(step(&state, &o, &w, "method", "p"), STITCH_PROVIDER_ASK);
        assert_string_equal(w.res.ask.prompts[0].id, "password");
        assert_false(w.res.ask.prompts[0].echo);
        assert_true(w.res.ask.prompts[0].authtok);
        stitch_device_login_state_free(state);

        /* Enter: the device login. */
        round_init(&w, NULL, NULL);
        assert_int_equal(stitch_device_login_begin(NULL, &w.l, &fake, &o, &w.res), STITCH_PROVIDER_ASK);
        state = w.res.state;
        assert_int_equal(step(&state, &o, &w, "method", ""), STITCH_PROVIDER_ASK);
        assert_int_equal(starts, 1);
        assert_int_equal(w.res.ask.n_messages, 2);
        assert_int_equal(step(&state, &o, &w, "device", "cancel"), -EACCES);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_show_poll_success),
                cmocka_unit_test(test_no_qr_new_cancel),
                cmocka_unit_test(test_denied_expired),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_password_choice),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
