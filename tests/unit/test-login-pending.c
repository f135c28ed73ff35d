/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Provider instances and sections, and the pending outcome of the login
 * pipeline (core/login.c), driven with the
 * test-only provider test-poll (tests/helpers/provider-test-poll.c, linked
 * here with a registry that lists it): pending twice then a session; a poll
 * before its interval does not reach the provider; pending rounds are not
 * failed attempts; the conversation's lifetime is the provider's, bounded;
 * callers that cannot wait (apps, non-interactive) are refused cleanly. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "core/config.h"
#include "core/conversations.h"
#include "core/core.h"
#include "core/ids.h"
#include "core/login.h"
#include "core/password.h"
#include "core/ratelimit.h"
#include "macro.h"
#include "providers/userpass.h"

extern unsigned stitch_test_poll_steps;

struct fixture {
        char dir[256];
        struct stitch_core *m;
};

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(p);
}

static void add_user(struct stitch_core *m, const char *email, const char *unix_name, const char *password) {
        struct stitch_identity ident = {
                .provider_type = (char *) "local-userpass",
                .provider_id = (char *) "local-userpass",
                .data_json = (char *) "{}",
        };
        struct stitch_user u = {
                .type = (char *) "normal",
                .email = (char *) email,
                .unix_name = (char *) unix_name,
                .data_json = (char *) "{}",
                .creation_date = stitch_now(),
                .identities = &ident,
                .n_identities = 1,
        };
        struct stitch_argon2_params a = stitch_userpass_password_hash(&m->config);
        _cleanup_free_ char *hash = NULL;

        assert_int_equal(stitch_objectid_new(u.id), 0);
        assert_int_equal(stitch_objectid_new(ident.id), 0);
        assert_int_equal(stitch_password_hash(password, &a, &hash), 0);
        assert_int_equal(m->store_ops->user_create(m->store, &u, hash), 0);
}

/* A core on a temp store, with 'extra' appended to the config; returns what
 * stitch_core_start() did (the core is f->m either way). */
static int start_core(struct fixture *f, const char *extra) {
        struct stitch_config c;
        char text[1024];
        const char *tmp = getenv("TMPDIR");

        snprintf(f->dir, sizeof(f->dir), "%s/test-login-pending-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(f->dir));
        int n = snprintf(text, sizeof(text),
                         "[Daemon]\nStore=sqlite:%s/stitch.db\nWorkers=1\n"
                         "[Pam]\nServices=login sshd\n"
                         "[Limits]\nMaxFailures=3\n"
                         "[Provider.local-userpass]\nPasswordHash=argon2id:m=64,t=1,p=1\n%s",
                         f->dir, extra);
        assert_true(n > 0 && (size_t) n < sizeof(text));
        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_int_equal(stitch_config_load_buffer(&c, "test", text, strlen(text), stderr), 0);
        assert_int_equal(stitch_core_new(&c, &f->m), 0);
        return stitch_core_start(f->m);
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        assert_int_equal(start_core(f, ""), 0);
        add_user(f->m, "ada@example.com", "ada", "correct horse");
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        stitch_core_free(f->m);
        (void) nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        free(f);
        return 0;
}

static int setup_empty(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        *state = f;
        return 0;
}

struct round {
        const char *provider, *user, *conversation;
        const char *names[2], *values[2];
        bool app, not_interactive;
};

static void run(struct stitch_core *m, const struct round *a, struct stitch_login_result *ret) {
        struct stitch_credentials cr = {};
        for (size_t i = 0; i < ELEMENTSOF(a->names) && a->names[i]; i++)
                assert_int_equal(stitch_credentials_put(&cr, a->names[i], a->values[i]), 0);
        struct stitch_login_request req = {
                .provider = a->provider,
                .conversation = a->conversation,
                .login = {
                        .app = a->app,
                        .user = a->user,
                        .service = a->conversation ? NULL : "login",
                        .cred = {.pid = getpid(), .uid = 0, .gid = 0},
                        .interactive = !a->not_interactive,
                        .credentials = &cr,
                },
        };
        assert_int_equal(stitch_login_run(m, &req, ret), 0);
}

static void sleep_usec(uint64_t usec) {
        struct timespec ts = {(time_t) (usec / USEC_PER_SEC), (long) (usec % USEC_PER_SEC) * 1000};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Polls conversation id (once its interval has passed); the next id goes to id. */
static void poll_round(struct stitch_core *m, char id[static STITCH_CONVERSATION_ID_LEN + 1], uint64_t wait_usec,
                       struct stitch_login_result *ret) {
        sleep_usec(wait_usec);
        struct round p = {.conversation = id};
        run(m, &p, ret);
}

static void test_pending_twice_then_session(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result res;
        char id[STITCH_CONVERSATION_ID_LEN + 1];
        unsigned steps = stitch_test_poll_steps;

        run(f->m, &(struct round) {.provider = "test-poll", .user = "ada"}, &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_PENDING);
        assert_int_equal(res.ask.n_prompts, 0);
        assert_int_equal(res.ask.n_messages, 1);
        assert_non_null(strstr(res.ask.messages[0].text, "https://device.example.test"));
        assert_int_equal(res.poll_interval_usec, USEC_PER_SEC);
        memcpy(id, res.conversation, sizeof(id));
        stitch_login_result_done(&res);

        /* Too early: pending again, the provider not asked, the same wait left. */
        poll_round(f->m, id, 0, &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_PENDING);
        assert_int_equal(res.ask.n_messages, 0);
        assert_true(res.poll_interval_usec > 0 && res.poll_interval_usec <= USEC_PER_SEC);
        assert_int_equal(stitch_test_poll_steps, steps);
        assert_string_not_equal(res.conversation, id); /* an id works once */
        memcpy(id, res.conversation, sizeof(id));
        uint64_t wait = res.poll_interval_usec;
        stitch_login_result_done(&res);

        /* The old id is gone. */
        char old[STITCH_CONVERSATION_ID_LEN + 1];
        memcpy(old, id, sizeof(old));

        poll_round(f->m, id, wait + 20000, &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_PENDING);
        assert_int_equal(stitch_test_poll_steps, steps + 1);
        memcpy(id, res.conversation, sizeof(id));
        stitch_login_result_done(&res);

        poll_round(f->m, old, 0, &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_FAILED);
        assert_int_equal(res.failure, STITCH_LOGIN_CONVERSATION_GONE);
        stitch_login_result_done(&res);

        poll_round(f->m, id, USEC_PER_SEC + 20000, &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_PENDING);
        assert_int_equal(stitch_test_poll_steps, steps + 2);
        memcpy(id, res.conversation, sizeof(id));
        stitch_login_result_done(&res);

        poll_round(f->m, id, USEC_PER_SEC + 20000, &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_SESSION);
        assert_int_equal(stitch_test_poll_steps, steps + 3);
        assert_non_null(res.tokens.access_token);
        assert_string_equal(res.provider->name, "test-poll");
        stitch_login_result_done(&res);
        assert_int_equal(stitch_conversations_count(f->m->conversations), 0);
}

/* Pending rounds are no guesses: many of them, each begun with a credential
 * (so counted when it starts), leave the account as it was; a wrong
 * password still counts. */
static void test_pending_not_counted(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result res;

        for (unsigned i = 0; i < 10; i++) {
                run(f->m, &(struct round) {.provider = "test-poll", .user = "ada", .names = {"code"}, .values = {"x"}},
                    &res);
                assert_int_equal(res.outcome, STITCH_LOGIN_PENDING);
                stitch_login_result_done(&res);
        }
        run(f->m, &(struct round) {.provider = "local-userpass", .user = "ada", .names = {"password"},
                                   .values = {"correct horse"}},
            &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_SESSION);
        stitch_login_result_done(&res);

        /* MaxFailures=3: three wrong passwords, then the fourth attempt locks. */
        for (unsigned i = 0; i < 4; i++) {
                run(f->m, &(struct round) {.provider = "local-userpass", .user = "ada", .names = {"password"},
                                           .values = {"wrong horse"}},
                    &res);
                assert_int_equal(res.outcome, STITCH_LOGIN_FAILED);
                assert_int_equal(res.failure, STITCH_LOGIN_INVALID_CREDENTIALS);
                stitch_login_result_done(&res);
        }
        run(f->m, &(struct round) {.provider = "local-userpass", .user = "ada", .names = {"password"},
                                   .values = {"correct horse"}},
            &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_FAILED);
        assert_int_equal(res.failure, STITCH_LOGIN_TOO_MANY_ATTEMPTS);
        stitch_login_result_done(&res);
}

/* The provider asks for 45 minutes: cut to 30. Its own expiry, when
 * sooner, wins; one already past ends the login. */
static void test_pending_lifetime(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result res;

        run(f->m, &(struct round) {.provider = "test-poll", .user = "ada"}, &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_PENDING);
        assert_true(res.expires_in_usec <= STITCH_CONVERSATION_LIFETIME_MAX_USEC);
        assert_true(res.expires_in_usec > STITCH_CONVERSATION_LIFETIME_MAX_USEC - 5 * USEC_PER_SEC);
        assert_true(res.expires_in_usec > STITCH_CONVERSATION_LIFETIME_DEFAULT_USEC);
        stitch_login_result_done(&res);

        run(f->m, &(struct round) {.provider = "test-poll", .user = "ada", .names = {"expires"}, .values = {"60"}},
            &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_PENDING);
        assert_true(res.expires_in_usec <= 60 * USEC_PER_SEC && res.expires_in_usec > 55 * USEC_PER_SEC);
        stitch_login_result_done(&res);

        run(f->m, &(struct round) {.provider = "test-poll", .user = "ada", .names = {"expires"}, .values = {"0"}},
            &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_FAILED);
        assert_int_equal(res.failure, STITCH_LOGIN_CONVERSATION_GONE);
        stitch_login_result_done(&res);

        /* A provider that asks for nothing longer: the default 5 minutes. */
        run(f->m, &(struct round) {.provider = "local-userpass", .user = "ada"}, &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_ASK);
        assert_true(res.expires_in_usec <= STITCH_CONVERSATION_LIFETIME_DEFAULT_USEC);
        assert_true(res.expires_in_usec > STITCH_CONVERSATION_LIFETIME_DEFAULT_USEC - 5 * USEC_PER_SEC);
        stitch_login_result_done(&res);
}

/* The conversation itself expires with the provider's expiry. */
static void test_pending_expires(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result res;
        char id[STITCH_CONVERSATION_ID_LEN + 1];

        run(f->m, &(struct round) {.provider = "test-poll", .user = "ada", .names = {"expires"}, .values = {"1"}},
            &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_PENDING);
        memcpy(id, res.conversation, sizeof(id));
        stitch_login_result_done(&res);
        poll_round(f->m, id, USEC_PER_SEC + 50000, &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_FAILED);
        assert_int_equal(res.failure, STITCH_LOGIN_CONVERSATION_GONE);
        stitch_login_result_done(&res);
}

/* Answers to a pending round, app logins and non-interactive callers. */
static void test_pending_refusals(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result res;
        char id[STITCH_CONVERSATION_ID_LEN + 1];

        run(f->m, &(struct round) {.provider = "test-poll", .user = "ada"}, &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_PENDING);
        memcpy(id, res.conversation, sizeof(id));
        stitch_login_result_done(&res);
        run(f->m, &(struct round) {.conversation = id, .names = {"code"}, .values = {"1234"}}, &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_FAILED);
        assert_int_equal(res.failure, STITCH_LOGIN_INVALID_PARAMETER);
        assert_string_equal(res.parameter, "answers");
        stitch_login_result_done(&res);

        run(f->m, &(struct round) {.provider = "test-poll", .user = "ada@example.com", .app = true, .not_interactive = true},
            &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_FAILED);
        assert_int_equal(res.failure, STITCH_LOGIN_INVALID_PARAMETER);
        assert_string_equal(res.parameter, "interactive");
        stitch_login_result_done(&res);

        run(f->m, &(struct round) {.provider = "test-poll", .user = "ada", .not_interactive = true}, &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_FAILED);
        assert_string_equal(res.parameter, "interactive");
        stitch_login_result_done(&res);
        assert_int_equal(stitch_conversations_count(f->m->conversations), 0);
}

/* A grant the person denied ends the login as a failure (not counted: nothing was guessed). */
static void test_pending_denied(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result res;
        char id[STITCH_CONVERSATION_ID_LEN + 1];

        run(f->m, &(struct round) {.provider = "test-poll", .user = "ada", .names = {"deny"}, .values = {"1"}}, &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_PENDING);
        memcpy(id, res.conversation, sizeof(id));
        stitch_login_result_done(&res);
        poll_round(f->m, id, USEC_PER_SEC + 20000, &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_FAILED);
        assert_int_equal(res.failure, STITCH_LOGIN_INVALID_CREDENTIALS);
        stitch_login_result_done(&res);
}

/* The provider's instance: built at start from its own section's settings,
 * used by its rounds, freed with the core (ASan and valgrind runs see a leak). */
static void test_instance(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result res;
        const struct stitch_provider *p = stitch_provider_find("test-poll");

        assert_non_null(p);
        assert_int_equal(start_core(f, "[Provider.test-poll]\nInterval=3s\n"), 0);
        assert_non_null(stitch_provider_instance(f->m, p));
        add_user(f->m, "ada@example.com", "ada", "correct horse");
        run(f->m, &(struct round) {.provider = "test-poll", .user = "ada"}, &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_PENDING);
        assert_int_equal(res.poll_interval_usec, 3 * USEC_PER_SEC); /* the setting, through the instance */
        stitch_login_result_done(&res);
        /* Another provider's instance: it has none. */
        assert_null(stitch_provider_instance(f->m, stitch_provider_find("api-key")));
}

/* An init that fails stops the start, with its reason logged; a disabled
 * provider gets no instance and no logins. */
static void test_instance_init_fails(void **state) {
        struct fixture *f = *state;
        assert_int_equal(start_core(f, "[Provider.test-poll]\nFailInit=yes\n"), -ENOTCONN);
        assert_null(stitch_provider_instance(f->m, stitch_provider_find("test-poll")));
}

static void test_instance_disabled(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result res;

        assert_int_equal(start_core(f, "[Provider.test-poll]\nEnabled=no\nFailInit=yes\n"), 0);
        assert_null(stitch_provider_instance(f->m, stitch_provider_find("test-poll")));
        run(f->m, &(struct round) {.provider = "test-poll", .user = "ada"}, &res);
        assert_int_equal(res.outcome, STITCH_LOGIN_FAILED);
        assert_int_equal(res.failure, STITCH_LOGIN_PERMISSION_DENIED);
        stitch_login_result_done(&res);
}

/* The provider's section is parsed with the rest of the file: errors name
 * file and line. */
static void test_section_errors(void **state) {
        (void) state;
        struct stitch_config c;
        char *errors = NULL;
        size_t size = 0;
        static const char text[] = "[Daemon]\nWorkers=1\n[Provider.test-poll]\nInterval=0\nBogus=1\nFailInit=yes\n";

        assert_int_equal(stitch_config_init_defaults(&c), 0);
        FILE *e = open_memstream(&errors, &size);
        assert_non_null(e);
        assert_int_equal(stitch_config_load_buffer(&c, "t.conf", text, strlen(text), e), -EINVAL);
        fclose(e);
        assert_string_equal(errors, "t.conf:4: Interval=0: out of range (1s..1min)\n"
                                    "t.conf:5: Unknown key 'Bogus' in section [Provider.test-poll]\n");
        free(errors);
        /* a failed load changes nothing */
        assert_false(*(const bool *) stitch_config_value(&c, "Provider.test-poll", "FailInit"));
        stitch_config_done(&c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_pending_twice_then_session, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pending_not_counted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pending_lifetime, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pending_expires, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pending_refusals, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pending_denied, setup, teardown),
                cmocka_unit_test_setup_teardown(test_instance, setup_empty, teardown),
                cmocka_unit_test_setup_teardown(test_instance_init_fails, setup_empty, teardown),
                cmocka_unit_test_setup_teardown(test_instance_disabled, setup_empty, teardown),
                cmocka_unit_test(test_section_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
