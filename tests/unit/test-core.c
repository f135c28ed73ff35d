/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The core through its own API, as any front end calls it, without a
 * socket: a real manager on a temp SQLite store, the login pipeline with
 * each provider (password, API key, anonymous; prompts when a credential is
 * missing; service policy; the failed-login limit), tokens (check, refresh,
 * logout), the changes that end sessions (core/users.c), linking, and the
 * account rules (core/accounts.c). */

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
#include <unistd.h>

#include "core/access.h"
#include "core/accounts.h"
#include "core/ratelimit.h"
#include "core/apikeys.h"
#include "core/config.h"
#include "core/link.h"
#include "core/login.h"
#include "core/password.h"
#include "core/sessions.h"
#include "core/keys.h"
#include "core/revocations.h"
#include "core/store-events.h"
#include "core/fleet.h"
#include "core/offline.h"
#include "core/tokens.h"
#include "core/users.h"
#include "clock.h"
#include "core/ids.h"
#include "validate.h"
#include "log.h"
#include "macro.h"
#include "core/core.h"
#include "providers/userpass.h"

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

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        struct stitch_config c;
        char text[1024];
        const char *tmp = getenv("TMPDIR");

        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "%s/test-core-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(f->dir));
        /* Cheap hashes: the pipeline, not argon2id, is under test. */
        int n = snprintf(text, sizeof(text),
                         "[Daemon]\nStore=sqlite:%s/stitch.db\nWorkers=1\n"
                         "[Pam]\nServices=login sshd\n"
                         "[Limits]\nMaxFailures=3\n"
                         "[Provider.local-userpass]\nPasswordHash=argon2id:m=64,t=1,p=1\n"
                         "[Provider.anon-user]\nEnabled=yes\nUnixUser=guest\nServices=login\n",
                         f->dir);
        assert_true(n > 0 && (size_t) n < sizeof(text));
        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_int_equal(stitch_config_load_buffer(&c, "test", text, strlen(text), stderr), 0);
        assert_int_equal(stitch_core_new(&c, &f->m), 0);
        assert_int_equal(stitch_core_start(f->m), 0);
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

/* A local-userpass user with a password and (optionally) a unix_name. */
static void add_user(struct stitch_core *m, const char *email, const char *unix_name, const char *password,
                     char ret_id[static STITCH_ID_LEN + 1]) {
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
        memcpy(ret_id, u.id, STITCH_ID_LEN + 1);
}

struct attempt {
        const char *provider, *user, *service, *conversation;
        const char *names[2], *values[2];
        uid_t uid;
        bool app;
};

static void run(struct stitch_core *m, const struct attempt *a, struct stitch_login_result *ret) {
        struct stitch_credentials cr = {};
        for (size_t i = 0; i < ELEMENTSOF(a->names) && a->names[i]; i++)
                assert_int_equal(stitch_credentials_put(&cr, a->names[i], a->values[i]), 0);
        struct stitch_login_request req = {
                .provider = a->provider,
                .conversation = a->conversation,
                .login = {
                        .app = a->app,
                        .user = a->user,
                        .service = a->service,
                        .cred = {.pid = getpid(), .uid = a->uid, .gid = 0},
                        .interactive = true,
                        .credentials = &cr,
                },
        };
        assert_int_equal(stitch_login_run(m, &req, ret), 0);
}

/* ada's right password, for logins (the account add_user made). */
static const struct attempt ada_password = {"local-userpass", "ada", "login", NULL, {"password"}, {"correct horse"},
                                            0, false};

static void test_password_login(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result r = {};
        struct stitch_claims claims = {};
        const char *why = NULL;
        char id[STITCH_ID_LEN + 1];

        add_user(f->m, "ada@example.com", "ada", "correct horse", id);

        run(f->m, &ada_password, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);
        assert_string_equal(r.tokens.user_id, id);
        assert_string_equal(r.tokens.provider_type, "local-userpass");
        assert_non_null(r.tokens.access_token);
        assert_non_null(r.tokens.refresh_token);
        assert_int_equal(stitch_access_check(f->m, r.tokens.access_token, stitch_now(), &claims, &why), 0);
        assert_string_equal(claims.sub, id);
        assert_string_equal(claims.sid, r.tokens.session_id);
        stitch_claims_done(&claims);
        stitch_login_result_done(&r);

        /* Wrong password, unknown name, a name the user does not map to: one answer. */
        const char *names[][2] = {{"ada", "wrong horse"}, {"nobody", "correct horse"}, {"bob", "correct horse"}};
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                run(f->m,
                    &(struct attempt) {"local-userpass", names[i][0], "login", NULL, {"password"}, {names[i][1]}, 0,
                                       false},
                    &r);
                assert_int_equal(r.outcome, STITCH_LOGIN_FAILED);
                assert_int_equal(r.failure, STITCH_LOGIN_INVALID_CREDENTIALS);
                stitch_login_result_done(&r);
        }

        /* A service outside [Pam] Services=. */
        run(f->m, &(struct attempt) {"local-userpass", "ada", "cron", NULL, {"password"}, {"correct horse"}, 0, false},
            &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_FAILED);
        assert_int_equal(r.failure, STITCH_LOGIN_PERMISSION_DENIED);
        stitch_login_result_done(&r);

        /* A caller that is not root may log in only as its own account. */
        run(f->m, &(struct attempt) {"local-userpass", "ada", "login", NULL, {"password"}, {"correct horse"}, 4242,
                                     false},
            &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_FAILED);
        assert_int_equal(r.failure, STITCH_LOGIN_PERMISSION_DENIED);
        stitch_login_result_done(&r);
}

/* No password: the provider asks, the next round answers. */
static void test_prompt_rounds(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result r = {}, r2 = {};
        char id[STITCH_ID_LEN + 1];

        add_user(f->m, "ada@example.com", "ada", "correct horse", id);
        run(f->m, &(struct attempt) {"local-userpass", "ada", "login", NULL, {NULL}, {NULL}, 0, false}, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_ASK);
        assert_int_equal(r.ask.n_prompts, 1);
        assert_string_equal(r.ask.prompts[0].id, "password");
        assert_false(r.ask.prompts[0].echo);
        assert_int_equal(strlen(r.conversation), STITCH_CONVERSATION_ID_LEN);

        /* Another caller cannot continue it; the owner can, once. */
        run(f->m,
            &(struct attempt) {NULL, "ada", "login", r.conversation, {"password"}, {"correct horse"}, 4242, false},
            &r2);
        assert_int_equal(r2.outcome, STITCH_LOGIN_FAILED);
        stitch_login_result_done(&r2);
        run(f->m, &(struct attempt) {NULL, "ada", "login", r.conversation, {"password"}, {"correct horse"}, 0, false},
            &r2);
        assert_int_equal(r2.outcome, STITCH_LOGIN_SESSION);
        assert_string_equal(r2.tokens.user_id, id);
        stitch_login_result_done(&r2);
        run(f->m, &(struct attempt) {NULL, "ada", "login", r.conversation, {"password"}, {"correct horse"}, 0, false},
            &r2);
        assert_int_equal(r2.outcome, STITCH_LOGIN_FAILED);
        assert_int_equal(r2.failure, STITCH_LOGIN_CONVERSATION_GONE);
        stitch_login_result_done(&r2);
        stitch_login_result_done(&r);
}

/* MaxFailures=3: the fourth failure locks the account (1 s first), and the
 * next attempt is refused before any hashing, right password or not. */
static void test_failure_limit(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result r = {};
        char id[STITCH_ID_LEN + 1];

        add_user(f->m, "ada@example.com", "ada", "correct horse", id);
        for (int i = 0; i < 4; i++) {
                run(f->m, &(struct attempt) {"local-userpass", "ada", "login", NULL, {"password"}, {"bad horse"}, 0,
                                             false},
                    &r);
                assert_int_equal(r.failure, STITCH_LOGIN_INVALID_CREDENTIALS);
                stitch_login_result_done(&r);
        }
        uint64_t before = f->m->password_verifications;
        run(f->m, &ada_password, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_FAILED);
        assert_int_equal(r.failure, STITCH_LOGIN_TOO_MANY_ATTEMPTS);
        assert_true(r.retry_after_usec > 0);
        assert_int_equal(f->m->password_verifications, before);
        stitch_login_result_done(&r);
}

/* API keys are limited as passwords are, though the account is named by
 * the key's look-up (limit_after_check): wrong keys for a name count
 * against its account, and while it is locked its right key is refused,
 * and so is its password. */
static void wrong_keys(struct fixture *f, const char *wrong, int n) {
        for (int i = 0; i < n; i++) {
                struct stitch_login_result r = {};
                run(f->m, &(struct attempt) {"api-key", "ada", "login", NULL, {"key"}, {wrong}, 0, false}, &r);
                assert_int_equal(r.failure, STITCH_LOGIN_INVALID_CREDENTIALS);
                stitch_login_result_done(&r);
        }
}

static void test_apikey_failure_limit(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result r = {};
        char id[STITCH_ID_LEN + 1], key_id[STITCH_ID_LEN + 1];
        char *key = NULL;

        add_user(f->m, "ada@example.com", "ada", "correct horse", id);
        assert_int_equal(stitch_apikey_issue(f->m, id, "laptop", key_id, &key), 0);
        char *wrong = strdup(key);
        assert_non_null(wrong);
        size_t last = strlen(wrong) - 1;
        wrong[last] = wrong[last] == 'A' ? 'B' : 'A';
        wrong_keys(f, wrong, 4);
        run(f->m, &(struct attempt) {"api-key", "ada", "login", NULL, {"key"}, {key}, 0, false}, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_FAILED);
        assert_int_equal(r.failure, STITCH_LOGIN_TOO_MANY_ATTEMPTS);
        assert_true(r.retry_after_usec > 0);
        stitch_login_result_done(&r);
        uint64_t before = f->m->password_verifications;
        run(f->m, &ada_password, &r);
        assert_int_equal(r.failure, STITCH_LOGIN_TOO_MANY_ATTEMPTS);
        assert_int_equal(f->m->password_verifications, before);
        stitch_login_result_done(&r);
        /* Unlocked, the right key logs in and the count starts over. */
        char limit_key[STITCH_LIMIT_KEY_MAX];
        stitch_limit_key_for_user(id, limit_key);
        assert_int_equal(stitch_ratelimit_unlock(f->m->ratelimit, limit_key), 1);
        run(f->m, &(struct attempt) {"api-key", "ada", "login", NULL, {"key"}, {key}, 0, false}, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);
        stitch_login_result_done(&r);
        wrong_keys(f, wrong, 3);
        run(f->m, &(struct attempt) {"api-key", "ada", "login", NULL, {"key"}, {key}, 0, false}, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);
        stitch_login_result_done(&r);
        erase_and_free(wrong);
        erase_and_free(key);
}

static void test_apikey_and_anonymous(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result r = {};
        char id[STITCH_ID_LEN + 1], key_id[STITCH_ID_LEN + 1];
        char *key = NULL;

        add_user(f->m, "ada@example.com", "ada", "correct horse", id);
        assert_int_equal(stitch_apikey_issue(f->m, id, "laptop", key_id, &key), 0);
        assert_true(stitch_apikey_format_valid(key));
        run(f->m, &(struct attempt) {"api-key", "ada", "login", NULL, {"key"}, {key}, 0, false}, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);
        assert_string_equal(r.tokens.user_id, id);
        assert_string_equal(r.tokens.provider_type, "api-key");
        stitch_login_result_done(&r);
        /* provider=auto tells a key from a password by its form (and keeps
         * the key from going on to the next PAM module). */
        run(f->m, &(struct attempt) {NULL, "ada", "login", NULL, {"secret"}, {key}, 0, false}, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);
        assert_string_equal(r.tokens.provider_type, "api-key");
        assert_true(r.authtok_is_not_password);
        stitch_login_result_done(&r);
        run(f->m, &(struct attempt) {"auto", "ada", "login", NULL, {"secret"}, {"correct horse"}, 0, false}, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);
        assert_string_equal(r.tokens.provider_type, "local-userpass");
        assert_false(r.authtok_is_not_password);
        stitch_login_result_done(&r);
        run(f->m, &(struct attempt) {"auto", "ada", "login", NULL, {NULL}, {NULL}, 0, false}, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_ASK);
        assert_string_equal(r.ask.prompts[0].id, "secret");
        assert_true(r.ask.prompts[0].authtok);
        stitch_login_result_done(&r);
        /* A disabled key logs nobody in. */
        assert_int_equal(f->m->store_ops->apikey_set_disabled(f->m->store, key_id, true), 0);
        run(f->m, &(struct attempt) {"api-key", "ada", "login", NULL, {"key"}, {key}, 0, false}, &r);
        assert_int_equal(r.failure, STITCH_LOGIN_INVALID_CREDENTIALS);
        stitch_login_result_done(&r);
        erase_and_free(key);

        /* Anonymous: only as UnixUser=, only on its services; each login a new user. */
        char first[STITCH_ID_LEN + 1];
        run(f->m, &(struct attempt) {"anon-user", "guest", "login", NULL, {NULL}, {NULL}, 0, false}, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);
        memcpy(first, r.tokens.user_id, sizeof(first));
        stitch_login_result_done(&r);
        run(f->m, &(struct attempt) {"anon-user", "guest", "login", NULL, {NULL}, {NULL}, 0, false}, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);
        assert_string_not_equal(r.tokens.user_id, first);
        stitch_login_result_done(&r);
        run(f->m, &(struct attempt) {"anon-user", "guest", "sshd", NULL, {NULL}, {NULL}, 0, false}, &r);
        assert_int_equal(r.failure, STITCH_LOGIN_PERMISSION_DENIED);
        stitch_login_result_done(&r);
        run(f->m, &(struct attempt) {"anon-user", "ada", "login", NULL, {NULL}, {NULL}, 0, false}, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_FAILED);
        stitch_login_result_done(&r);
}

static void test_refresh_and_logout(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result r = {};
        struct stitch_refreshed fresh = {};
        struct stitch_claims claims = {};
        const char *why = NULL;
        char id[STITCH_ID_LEN + 1];

        add_user(f->m, "ada@example.com", "ada", "correct horse", id);
        run(f->m, &ada_password, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);

        assert_int_equal(stitch_session_refresh(f->m, r.tokens.refresh_token, &fresh, &why), 0);
        assert_string_equal(fresh.session_id, r.tokens.session_id);
        assert_int_equal(stitch_access_check(f->m, fresh.access_token, stitch_now(), &claims, &why), 0);
        stitch_claims_done(&claims);
        const char *refresh = fresh.refresh_token ? fresh.refresh_token : r.tokens.refresh_token;

        /* Logout kills the access tokens at once, not in 30 minutes. */
        assert_int_equal(stitch_session_logout(f->m, refresh, &why), 0);
        assert_int_equal(stitch_access_check(f->m, fresh.access_token, stitch_now(), &claims, &why), -EACCES);
        assert_int_equal(stitch_access_check(f->m, r.tokens.access_token, stitch_now(), &claims, &why), -EACCES);
        assert_int_equal(stitch_session_refresh(f->m, refresh, &(struct stitch_refreshed) {}, &why), -EACCES);
        assert_int_equal(stitch_access_check(f->m, "not.a.token", stitch_now(), &claims, &why), -EACCES);
        stitch_refreshed_done(&fresh);
        stitch_login_result_done(&r);
}

/* core/users.c: disabling and deleting end every session (memory and
 * store, in one transaction); enabling ends none; idle anonymous users go. */
static void test_user_changes_end_sessions(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result a = {}, b = {};
        struct stitch_claims claims = {};
        struct stitch_session *s = NULL;
        struct stitch_user *u = NULL;
        const char *why = NULL;
        char **revoked = NULL;
        char id[STITCH_ID_LEN + 1];
        size_t n = 0;

        add_user(f->m, "ada@example.com", "ada", "correct horse", id);
        run(f->m, &ada_password, &a);
        run(f->m, &ada_password, &b);
        assert_int_equal(a.outcome, STITCH_LOGIN_SESSION);
        assert_int_equal(b.outcome, STITCH_LOGIN_SESSION);

        assert_int_equal(stitch_user_set_disabled(f->m, id, true, &revoked), 0);
        assert_int_equal(stitch_strv_length(revoked), 2);
        assert_true(stitch_strv_contains(revoked, a.tokens.session_id));
        revoked = stitch_strv_free(revoked);
        assert_int_equal(stitch_access_check(f->m, a.tokens.access_token, stitch_now(), &claims, &why), -EACCES);
        assert_int_equal(f->m->store_ops->session_get(f->m->store, b.tokens.session_id, &s), 0);
        assert_true(s->revoked);
        assert_string_equal(s->revoked_reason, "disable");
        s = stitch_session_free(s);
        stitch_login_result_done(&a);
        run(f->m, &ada_password, &a);
        assert_int_equal(a.failure, STITCH_LOGIN_INVALID_CREDENTIALS); /* disabled: the same answer */
        stitch_login_result_done(&a);

        assert_int_equal(stitch_user_set_disabled(f->m, id, false, &revoked), 0);
        assert_int_equal(stitch_strv_length(revoked), 0);
        revoked = stitch_strv_free(revoked);
        run(f->m, &ada_password, &a);
        assert_int_equal(a.outcome, STITCH_LOGIN_SESSION);

        assert_int_equal(stitch_user_delete(f->m, id, &revoked), 0);
        assert_int_equal(stitch_strv_length(revoked), 1);
        assert_string_equal(revoked[0], a.tokens.session_id);
        revoked = stitch_strv_free(revoked);
        assert_int_equal(stitch_access_check(f->m, a.tokens.access_token, stitch_now(), &claims, &why), -EACCES);
        assert_int_equal(f->m->store_ops->user_find(f->m->store, STITCH_USER_BY_ID, id, &u), -ENOENT);
        assert_int_equal(stitch_user_delete(f->m, id, &revoked), -ENOENT);
        assert_null(revoked);
        stitch_login_result_done(&a);
        stitch_login_result_done(&b);

        /* Idle expiry: an anonymous user unused for 90 days goes, a fresh one stays. */
        run(f->m, &(struct attempt) {"anon-user", "guest", "login", NULL, {NULL}, {NULL}, 0, false}, &a);
        assert_int_equal(a.outcome, STITCH_LOGIN_SESSION);
        assert_int_equal(stitch_users_delete_idle(f->m, stitch_now(), &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(stitch_users_delete_idle(f->m, stitch_now() + 91 * 24 * 3600, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(f->m->store_ops->user_find(f->m->store, STITCH_USER_BY_ID, a.tokens.user_id, &u), -ENOENT);
        assert_int_equal(f->m->store_ops->session_get(f->m->store, a.tokens.session_id, &s), 0);
        assert_true(s->revoked);
        s = stitch_session_free(s);
        stitch_login_result_done(&a);
}

/* An app's request (as the HTTP API makes one) to link the local-userpass
 * account 'email' with its password, which goes into *cr. */
static struct stitch_login_request password_link_request(struct stitch_credentials *cr, const char *email,
                                                         const char *password) {
        assert_int_equal(stitch_credentials_put(cr, "password", password), 0);
        return (struct stitch_login_request) {
                .provider = "local-userpass",
                .login = {.app = true, .user = email, .service = "http", .cred = {.uid = (uid_t) -1},
                          .credentials = cr},
        };
}

/* Linking: an email account that never logged in merges into the linking
 * user; one that has logged in is in use; anonymous identities are not
 * linkable. */
static void test_link(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result anon = {}, r = {};
        struct stitch_link_result l = {};
        struct stitch_user *u = NULL;
        char fresh[STITCH_ID_LEN + 1], used[STITCH_ID_LEN + 1];

        run(f->m, &(struct attempt) {"anon-user", "guest", "login", NULL, {NULL}, {NULL}, 0, false}, &anon);
        assert_int_equal(anon.outcome, STITCH_LOGIN_SESSION);
        add_user(f->m, "new@example.com", NULL, "new-secret", fresh);
        add_user(f->m, "old@example.com", "old", "old-secret", used);
        run(f->m, &(struct attempt) {"local-userpass", "old", "login", NULL, {"password"}, {"old-secret"}, 0, false},
            &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);
        stitch_login_result_done(&r);

        struct stitch_credentials cr = {};
        struct stitch_login_request req = password_link_request(&cr, "new@example.com", "new-secret");
        assert_int_equal(stitch_link_run(f->m, anon.tokens.user_id, &req, &l), 0);
        assert_int_equal(l.outcome, STITCH_LINK_LINKED);
        assert_int_equal(l.user->n_identities, 2);
        assert_string_equal(l.user->email, "new@example.com");
        stitch_link_result_done(&l);
        assert_int_equal(f->m->store_ops->user_find(f->m->store, STITCH_USER_BY_ID, fresh, &u), -ENOENT);
        /* Again: already linked. */
        assert_int_equal(stitch_link_run(f->m, anon.tokens.user_id, &req, &l), 0);
        assert_int_equal(l.outcome, STITCH_LINK_ALREADY);
        stitch_link_result_done(&l);

        assert_int_equal(stitch_credentials_put(&cr, "password", "old-secret"), 0);
        req.login.user = "old@example.com";
        assert_int_equal(stitch_link_run(f->m, anon.tokens.user_id, &req, &l), 0);
        assert_int_equal(l.outcome, STITCH_LINK_IN_USE);
        stitch_link_result_done(&l);

        req = (struct stitch_login_request) {
                .provider = "anon-user",
                .login = {.app = true, .user = "", .service = "http", .cred = {.uid = (uid_t) -1},
                          .credentials = &(struct stitch_credentials) {}},
        };
        assert_int_equal(stitch_link_run(f->m, used, &req, &l), 0);
        assert_int_equal(l.outcome, STITCH_LINK_NOT_LINKABLE);
        stitch_link_result_done(&l);

        /* Unlinking (core/link.c): the email identity goes with the email;
         * the last identity never goes (the core's rule, not the store's). */
        assert_int_equal(f->m->store_ops->user_find(f->m->store, STITCH_USER_BY_ID, anon.tokens.user_id, &u), 0);
        assert_int_equal(u->n_identities, 2);
        char anon_ident[STITCH_ID_LEN + 1], email_ident[STITCH_ID_LEN + 1];
        bool first_is_anon = streq(u->identities[0].provider_type, "anon-user");
        memcpy(anon_ident, u->identities[first_is_anon ? 0 : 1].id, sizeof(anon_ident));
        memcpy(email_ident, u->identities[first_is_anon ? 1 : 0].id, sizeof(email_ident));
        u = stitch_user_free(u);
        assert_int_equal(stitch_identity_unlink(f->m, anon.tokens.user_id, "000000000000000000000000"), -ENOENT);
        assert_int_equal(stitch_identity_unlink(f->m, anon.tokens.user_id, email_ident), 0);
        assert_int_equal(f->m->store_ops->user_find(f->m->store, STITCH_USER_BY_ID, anon.tokens.user_id, &u), 0);
        assert_int_equal(u->n_identities, 1);
        assert_null(u->email);
        u = stitch_user_free(u);
        assert_int_equal(stitch_identity_unlink(f->m, anon.tokens.user_id, anon_ident), -EPERM);
        assert_int_equal(f->m->store_ops->user_find(f->m->store, STITCH_USER_BY_ID, anon.tokens.user_id, &u), 0);
        assert_int_equal(u->n_identities, 1);
        u = stitch_user_free(u);
        stitch_login_result_done(&anon);
}

/* R5 of the second review: a session records the API key that opened it;
 * deleting or disabling the key ends those sessions at once (memory and
 * store), and such a session may not mint keys. */
static void test_apikey_ends_its_sessions(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result byk1 = {}, byk2 = {}, pw = {};
        struct stitch_claims claims = {};
        struct stitch_session *s = NULL;
        struct stitch_user *u = NULL;
        const char *why = NULL;
        char **revoked = NULL;
        char id[STITCH_ID_LEN + 1], k1[STITCH_ID_LEN + 1], k2[STITCH_ID_LEN + 1];
        char *key1 = NULL, *key2 = NULL;

        add_user(f->m, "ada@example.com", "ada", "correct horse", id);
        assert_int_equal(stitch_apikey_issue(f->m, id, "one", k1, &key1), 0);
        assert_int_equal(stitch_apikey_issue(f->m, id, "two", k2, &key2), 0);
        run(f->m, &(struct attempt) {"api-key", "ada", "login", NULL, {"key"}, {key1}, 0, false}, &byk1);
        run(f->m, &(struct attempt) {"api-key", "ada", "login", NULL, {"key"}, {key2}, 0, false}, &byk2);
        run(f->m, &ada_password, &pw);
        assert_int_equal(byk1.outcome, STITCH_LOGIN_SESSION);
        assert_int_equal(byk2.outcome, STITCH_LOGIN_SESSION);
        assert_int_equal(pw.outcome, STITCH_LOGIN_SESSION);

        /* Who may mint keys. */
        assert_int_equal(f->m->store_ops->user_find(f->m->store, STITCH_USER_BY_ID, id, &u), 0);
        assert_int_equal(f->m->store_ops->session_get(f->m->store, byk1.tokens.session_id, &s), 0);
        assert_string_equal(s->apikey_id, k1);
        assert_int_equal(stitch_apikey_create_allowed(u, s, &why), -EPERM);
        s = stitch_session_free(s);
        assert_int_equal(f->m->store_ops->session_get(f->m->store, pw.tokens.session_id, &s), 0);
        assert_string_equal(s->apikey_id, "");
        assert_int_equal(stitch_apikey_create_allowed(u, s, &why), 0);
        free(u->type);
        u->type = strdup(STITCH_USER_TYPE_SERVER);
        assert_int_equal(stitch_apikey_create_allowed(u, s, &why), -EPERM);
        s = stitch_session_free(s);
        u = stitch_user_free(u);

        /* Deleting key 1 ends its session only. */
        assert_int_equal(stitch_apikey_delete(f->m, k1, &revoked), 0);
        assert_int_equal(stitch_strv_length(revoked), 1);
        assert_string_equal(revoked[0], byk1.tokens.session_id);
        revoked = stitch_strv_free(revoked);
        assert_int_equal(stitch_access_check(f->m, byk1.tokens.access_token, stitch_now(), &claims, &why), -EACCES);
        assert_int_equal(stitch_session_refresh(f->m, byk1.tokens.refresh_token, &(struct stitch_refreshed) {}, &why),
                         -EACCES);
        assert_int_equal(f->m->store_ops->session_get(f->m->store, byk1.tokens.session_id, &s), 0);
        assert_true(s->revoked);
        assert_string_equal(s->revoked_reason, "apikey");
        s = stitch_session_free(s);
        assert_int_equal(stitch_access_check(f->m, byk2.tokens.access_token, stitch_now(), &claims, &why), 0);
        stitch_claims_done(&claims);
        assert_int_equal(stitch_apikey_delete(f->m, k1, &revoked), -ENOENT);

        /* Disabling key 2 ends its session; enabling it ends nothing. */
        assert_int_equal(stitch_apikey_set_disabled(f->m, k2, true, &revoked), 0);
        assert_int_equal(stitch_strv_length(revoked), 1);
        revoked = stitch_strv_free(revoked);
        assert_int_equal(stitch_access_check(f->m, byk2.tokens.access_token, stitch_now(), &claims, &why), -EACCES);
        assert_int_equal(stitch_apikey_set_disabled(f->m, k2, false, &revoked), 0);
        assert_int_equal(stitch_strv_length(revoked), 0);
        revoked = stitch_strv_free(revoked);
        /* The password session lives on. */
        assert_int_equal(stitch_access_check(f->m, pw.tokens.access_token, stitch_now(), &claims, &why), 0);
        stitch_claims_done(&claims);

        erase_and_free(key1);
        erase_and_free(key2);
        stitch_login_result_done(&byk1);
        stitch_login_result_done(&byk2);
        stitch_login_result_done(&pw);
}

/* A user to link onto (an anonymous login: no email of its own). */
static void anonymous_user(struct stitch_core *m, char ret_id[static STITCH_ID_LEN + 1]) {
        struct stitch_login_result r = {};
        run(m, &(struct attempt) {"anon-user", "guest", "login", NULL, {NULL}, {NULL}, 0, false}, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);
        memcpy(ret_id, r.tokens.user_id, STITCH_ID_LEN + 1);
        stitch_login_result_done(&r);
}

/* R9a of the second review: the first login of a registered account lands
 * between stitch_link_run()'s "never logged in" check and the merge. The
 * store wrapper below runs that login just before the real merge, which is
 * the interleaving two workers can produce; the merge must see it. */
static const struct stitch_store_ops *real_ops;
static struct stitch_core *race_manager;
static const struct attempt *race_login;

static int merge_after_login(struct stitch_store *s, const char *from_id, const struct stitch_user *into) {
        struct stitch_login_result r = {};
        run(race_manager, race_login, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);
        assert_string_equal(r.tokens.user_id, from_id);
        stitch_login_result_done(&r);
        return real_ops->user_merge(s, from_id, into);
}

static void test_link_races_first_login(void **state) {
        struct fixture *f = *state;
        struct stitch_link_result l = {};
        struct stitch_user *u = NULL;
        char target[STITCH_ID_LEN + 1], fresh[STITCH_ID_LEN + 1];
        static const struct attempt first_login = {"local-userpass", "new@example.com", "http", NULL, {"password"},
                                                   {"new-secret"}, (uid_t) -1, true};

        anonymous_user(f->m, target);
        add_user(f->m, "new@example.com", NULL, "new-secret", fresh);

        struct stitch_store_ops racing = *f->m->store_ops;
        racing.user_merge = merge_after_login;
        real_ops = f->m->store_ops;
        race_manager = f->m;
        race_login = &first_login;
        f->m->store_ops = &racing;

        struct stitch_credentials cr = {};
        struct stitch_login_request req = password_link_request(&cr, "new@example.com", "new-secret");
        assert_int_equal(stitch_link_run(f->m, target, &req, &l), 0);
        f->m->store_ops = real_ops;
        assert_int_equal(l.outcome, STITCH_LINK_IN_USE);
        stitch_link_result_done(&l);

        /* The account that logged in keeps its identity and email. */
        assert_int_equal(f->m->store_ops->user_find(f->m->store, STITCH_USER_BY_EMAIL, "new@example.com", &u), 0);
        assert_string_equal(u->id, fresh);
        u = stitch_user_free(u);
        assert_int_equal(f->m->store_ops->user_find(f->m->store, STITCH_USER_BY_ID, target, &u), 0);
        assert_int_equal(u->n_identities, 1);
        u = stitch_user_free(u);
}

/* R9b: keys that do not fit refuse the link, naming the clash. */
static void test_link_keys_fit(void **state) {
        struct fixture *f = *state;
        struct stitch_link_result l = {};
        char target[STITCH_ID_LEN + 1], fresh[STITCH_ID_LEN + 1], kid[STITCH_ID_LEN + 1], name[16];
        char *key = NULL;

        anonymous_user(f->m, target);
        add_user(f->m, "new@example.com", NULL, "new-secret", fresh);
        assert_int_equal(stitch_apikey_issue(f->m, target, "laptop", kid, &key), 0);
        key = erase_and_free(key);
        assert_int_equal(stitch_apikey_issue(f->m, fresh, "laptop", kid, &key), 0);
        key = erase_and_free(key);

        struct stitch_credentials cr = {};
        struct stitch_login_request req = password_link_request(&cr, "new@example.com", "new-secret");
        assert_int_equal(stitch_link_run(f->m, target, &req, &l), 0);
        assert_int_equal(l.outcome, STITCH_LINK_KEY_NAME_TAKEN);
        assert_non_null(strstr(l.message, "'laptop'"));
        stitch_link_result_done(&l);

        assert_int_equal(f->m->store_ops->apikey_delete(f->m->store, kid), 0);
        for (unsigned i = 0; i < STITCH_MAX_USER_APIKEYS; i++) {
                snprintf(name, sizeof(name), "k%u", i);
                assert_int_equal(stitch_apikey_issue(f->m, fresh, name, kid, &key), 0);
                key = erase_and_free(key);
        }
        assert_int_equal(stitch_link_run(f->m, target, &req, &l), 0);
        assert_int_equal(l.outcome, STITCH_LINK_TOO_MANY_KEYS);
        stitch_link_result_done(&l);
        assert_int_equal(f->m->store_ops->apikey_delete(f->m->store, kid), 0);
        assert_int_equal(stitch_link_run(f->m, target, &req, &l), 0);
        assert_int_equal(l.outcome, STITCH_LINK_LINKED);
        stitch_link_result_done(&l);
}

/* ---- core/accounts.c ---------------------------------------------------------- */

/* Logs ada in with 'password'; the session's tokens go into *ret. */
static void login_ada(struct stitch_core *m, const char *password, struct stitch_login_result *ret) {
        run(m, &(struct attempt) {"local-userpass", "ada", "login", NULL, {"password"}, {password}, 0, false}, ret);
}

static bool access_ok(struct stitch_core *m, const struct stitch_login_result *r) {
        struct stitch_claims claims = {};
        const char *why = NULL;
        bool ok = stitch_access_check(m, r->tokens.access_token, stitch_now(), &claims, &why) == 0;
        stitch_claims_done(&claims);
        return ok;
}

/* Creating users: the rules, each with its problem and field. */
static void test_account_create(void **state) {
        struct fixture *f = *state;
        struct stitch_account_result res;
        struct stitch_user *u = NULL;
        struct stitch_login_result r = {};
        char long_password[STITCH_PASSWORD_MAX + 2];

        const struct stitch_account_new ada = {"ada@example.com", "correct horse", "ada", "Ada"};
        assert_int_equal(stitch_account_create(f->m, &ada, &u, &res), 0);
        assert_int_equal(res.problem, STITCH_ACCOUNT_OK);
        assert_string_equal(res.user_id, u->id);
        assert_string_equal(u->email, "ada@example.com");
        assert_string_equal(u->unix_name, "ada");
        assert_string_equal(u->name, "Ada");
        assert_string_equal(u->type, "normal");
        assert_int_equal(u->n_identities, 1);
        assert_string_equal(u->identities[0].provider_type, "local-userpass");
        login_ada(f->m, "correct horse", &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);
        assert_string_equal(r.tokens.user_id, u->id);
        stitch_login_result_done(&r);
        u = stitch_user_free(u);

        /* A Unix-only user: no identity, no password. */
        const struct stitch_account_new bob = {NULL, NULL, "bob", NULL};
        assert_int_equal(stitch_account_create(f->m, &bob, &u, &res), 0);
        assert_null(u->email);
        assert_int_equal(u->n_identities, 0);
        u = stitch_user_free(u);

        memset(long_password, 'x', sizeof(long_password) - 1);
        long_password[sizeof(long_password) - 1] = 0;
        const struct {
                struct stitch_account_new a;
                int error;
                enum stitch_account_problem problem;
                enum stitch_account_field field;
        } refused[] = {
                {{"ada@example.com", "another horse", NULL, NULL}, -EEXIST, STITCH_ACCOUNT_TAKEN, STITCH_ACCOUNT_FIELD_EMAIL},
                {{NULL, NULL, "ada", NULL}, -EEXIST, STITCH_ACCOUNT_TAKEN, STITCH_ACCOUNT_FIELD_UNIX_NAME},
                {{"not-an-email", "correct horse", NULL, NULL}, -EINVAL, STITCH_ACCOUNT_EMAIL_INVALID,
                 STITCH_ACCOUNT_FIELD_EMAIL},
                {{NULL, NULL, "Not A Name", NULL}, -EINVAL, STITCH_ACCOUNT_UNIX_NAME_INVALID, STITCH_ACCOUNT_FIELD_UNIX_NAME},
                {{NULL, NULL, "has@sign", NULL}, -EINVAL, STITCH_ACCOUNT_UNIX_NAME_INVALID, STITCH_ACCOUNT_FIELD_UNIX_NAME},
                {{"cy@example.com", "short", NULL, NULL}, -EINVAL, STITCH_ACCOUNT_PASSWORD_POLICY,
                 STITCH_ACCOUNT_FIELD_PASSWORD},
                {{"cy@example.com", long_password, NULL, NULL}, -EINVAL, STITCH_ACCOUNT_PASSWORD_POLICY,
                 STITCH_ACCOUNT_FIELD_PASSWORD},
                {{NULL, NULL, NULL, "Nobody"}, -EINVAL, STITCH_ACCOUNT_NO_NAME, STITCH_ACCOUNT_FIELD_EMAIL},
                {{"cy@example.com", NULL, NULL, NULL}, -EINVAL, STITCH_ACCOUNT_PASSWORD_MISSING,
                 STITCH_ACCOUNT_FIELD_PASSWORD},
                {{NULL, "correct horse", "cy", NULL}, -EINVAL, STITCH_ACCOUNT_EMAIL_MISSING, STITCH_ACCOUNT_FIELD_PASSWORD},
        };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                assert_int_equal(stitch_account_create(f->m, &refused[i].a, &u, &res), refused[i].error);
                assert_int_equal(res.problem, refused[i].problem);
                assert_int_equal(res.field, refused[i].field);
                assert_true(res.message[0]);
                assert_null(u);
        }
        /* The policy is stated with MinPasswordLength=. */
        assert_int_equal(stitch_account_create(f->m, &refused[5].a, &u, &res), -EINVAL);
        assert_string_equal(res.message, "password must be between 6 and 128 characters long");
        uint64_t users = 0;
        assert_int_equal(f->m->store_ops->user_count(f->m->store, &users), 0);
        assert_int_equal(users, 2);

        /* A server key's user. */
        char id[STITCH_ID_LEN + 1];
        assert_int_equal(stitch_account_create_server(f->m, "ci", "ci-bot", id), 0);
        assert_int_equal(stitch_user_find_by_reference(f->m, "ci-bot", &u), 0);
        assert_string_equal(u->id, id);
        assert_string_equal(u->type, STITCH_USER_TYPE_SERVER);
        assert_string_equal(u->identities[0].provider_type, "api-key");
        u = stitch_user_free(u);
        assert_int_equal(stitch_account_create_server(f->m, "ci2", "ci-bot", id), -EEXIST);
        assert_int_equal(stitch_account_create_server(f->m, "ci3", "Bad Name", id), -EINVAL);
}

/* Which account a name refers to: by id, email or unix_name; a login
 * name also as NAME@EmailDomain. */
static void test_account_names(void **state) {
        struct fixture *f = *state;
        struct stitch_user *u = NULL;
        char id[STITCH_ID_LEN + 1], key[STITCH_LIMIT_KEY_MAX], by_id[STITCH_LIMIT_KEY_MAX];

        add_user(f->m, "ada@example.com", "ada", "correct horse", id);
        char bob[STITCH_ID_LEN + 1];
        add_user(f->m, "bob@example.com", NULL, "correct horse", bob);
        const char *refs[] = {id, "ada@example.com", "ada"};
        for (size_t i = 0; i < ELEMENTSOF(refs); i++) {
                assert_int_equal(stitch_user_find_by_reference(f->m, refs[i], &u), 0);
                assert_string_equal(u->id, id);
                u = stitch_user_free(u);
        }
        assert_int_equal(stitch_user_find_by_reference(f->m, "nobody", &u), -ENOENT);
        assert_int_equal(stitch_user_find_by_login_name(f->m, "bob", &u), -ENOENT); /* no EmailDomain= */

        f->m->config.email_domain = strdup("example.com");
        assert_non_null(f->m->config.email_domain);
        assert_int_equal(stitch_user_find_by_login_name(f->m, "bob", &u), 0);
        assert_string_equal(u->email, "bob@example.com");
        u = stitch_user_free(u);

        /* Every name of an account has the account's failure budget. */
        stitch_limit_key_for_user(id, by_id);
        const char *names[] = {"ada", "ada@example.com"};
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                assert_int_equal(stitch_limit_key_for_login(f->m, &(struct stitch_login) {.user = names[i]}, key), 0);
                assert_string_equal(key, by_id);
        }
        assert_int_equal(stitch_limit_key_for_login(f->m, &(struct stitch_login) {.user = "nobody"}, key), 0);
        assert_string_equal(key, "name:nobody");

        /* The names stay resolved in memory through logins (a login's time
         * is no change of names) and go with any change to a stored user.
         * The store's own delete tells nobody: what the limiter answers in
         * between shows where the key came from. */
        assert_int_equal(f->m->store_ops->user_delete(f->m->store, id), 0);
        assert_int_equal(stitch_limit_key_for_login(f->m, &(struct stitch_login) {.user = "ada"}, key), 0);
        assert_string_equal(key, by_id);
        stitch_events_login_recorded(&f->m->events);
        assert_int_equal(stitch_limit_key_for_login(f->m, &(struct stitch_login) {.user = "ada"}, key), 0);
        assert_string_equal(key, by_id);
        stitch_events_users_changed(&f->m->events);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                assert_int_equal(stitch_limit_key_for_login(f->m, &(struct stitch_login) {.user = names[i]}, key), 0);
                snprintf(by_id, sizeof(by_id), "name:%s", names[i]);
                assert_string_equal(key, by_id);
        }
        /* Idle, the cache is emptied: a name is read again. */
        char bob_key[STITCH_LIMIT_KEY_MAX];
        stitch_limit_key_for_user(bob, bob_key);
        assert_int_equal(stitch_limit_key_for_login(f->m, &(struct stitch_login) {.user = "bob"}, key), 0);
        assert_string_equal(key, bob_key);
        assert_int_equal(f->m->store_ops->user_delete(f->m->store, bob), 0);
        assert_int_equal(stitch_limit_key_for_login(f->m, &(struct stitch_login) {.user = "bob"}, key), 0);
        assert_string_equal(key, bob_key);
        stitch_core_drop_caches(f->m);
        assert_int_equal(stitch_limit_key_for_login(f->m, &(struct stitch_login) {.user = "bob"}, key), 0);
        assert_string_equal(key, "name:bob");

        assert_true(stitch_account_password_plausible("123456", NULL));
        assert_false(stitch_account_password_plausible("12345", NULL));
        assert_false(stitch_account_password_plausible(NULL, NULL));
}

/* An admin's new password: the policy, and with EndOnPasswordChange=yes
 * every session ends; with no, none does. */
static void test_account_set_password(void **state) {
        struct fixture *f = *state;
        struct stitch_account_result res;
        struct stitch_login_result a = {}, b = {};
        struct stitch_user *u = NULL;
        char id[STITCH_ID_LEN + 1];

        add_user(f->m, "ada@example.com", "ada", "correct horse", id);
        assert_true(f->m->config.end_on_password_change); /* the default */
        login_ada(f->m, "correct horse", &a);
        login_ada(f->m, "correct horse", &b);
        assert_int_equal(a.outcome, STITCH_LOGIN_SESSION);
        assert_int_equal(b.outcome, STITCH_LOGIN_SESSION);

        assert_int_equal(stitch_account_set_password(f->m, id, "short", &res), -EINVAL);
        assert_int_equal(res.problem, STITCH_ACCOUNT_PASSWORD_POLICY);
        assert_true(access_ok(f->m, &a));

        assert_int_equal(stitch_account_set_password(f->m, id, "battery staple", &res), 0);
        assert_int_equal(res.problem, STITCH_ACCOUNT_OK);
        assert_int_equal(res.ended_sessions, 2);
        assert_false(access_ok(f->m, &a));
        assert_false(access_ok(f->m, &b));
        stitch_login_result_done(&a);
        stitch_login_result_done(&b);
        login_ada(f->m, "correct horse", &a);
        assert_int_equal(a.failure, STITCH_LOGIN_INVALID_CREDENTIALS);
        stitch_login_result_done(&a);

        f->m->config.end_on_password_change = false;
        login_ada(f->m, "battery staple", &a);
        assert_int_equal(a.outcome, STITCH_LOGIN_SESSION);
        assert_int_equal(stitch_account_set_password(f->m, id, "correct horse", &res), 0);
        assert_int_equal(res.ended_sessions, 0);
        assert_true(access_ok(f->m, &a));
        stitch_login_result_done(&a);

        /* Only a user with an email has a password; an unknown one has none. */
        const struct stitch_account_new bob = {NULL, NULL, "bob", NULL};
        assert_int_equal(stitch_account_create(f->m, &bob, &u, &res), 0);
        assert_int_equal(stitch_account_set_password(f->m, u->id, "correct horse", &res), -EINVAL);
        assert_int_equal(res.problem, STITCH_ACCOUNT_NO_PASSWORD_IDENTITY);
        assert_int_equal(res.field, STITCH_ACCOUNT_FIELD_USER);
        u = stitch_user_free(u);
        assert_int_equal(stitch_account_set_password(f->m, "0123456789abcdef01234567", "correct horse", &res), -ENOENT);
        assert_int_equal(res.problem, STITCH_ACCOUNT_NOT_FOUND);
}

/* A user's own change: the old password is verified (one hash, as a
 * failed login costs), the session it came from stays, the others end. */
static void test_account_change_password(void **state) {
        struct fixture *f = *state;
        struct stitch_account_result res;
        struct stitch_login_result a = {}, b = {};
        char id[STITCH_ID_LEN + 1];

        add_user(f->m, "ada@example.com", "ada", "correct horse", id);
        login_ada(f->m, "correct horse", &a);
        login_ada(f->m, "correct horse", &b);
        assert_int_equal(a.outcome, STITCH_LOGIN_SESSION);
        assert_int_equal(b.outcome, STITCH_LOGIN_SESSION);

        struct stitch_password_change req = {
                .name = "ada",
                .old_password = "wrong horse",
                .new_password = "battery staple",
                .keep_session_id = a.tokens.session_id,
        };
        uint64_t before = f->m->password_verifications;
        assert_int_equal(stitch_account_change_password(f->m, &req, &res), -EACCES);
        assert_int_equal(res.problem, STITCH_ACCOUNT_WRONG_PASSWORD);
        assert_int_equal(f->m->password_verifications, before + 1);
        assert_true(access_ok(f->m, &b));

        /* Refused before any hash: the new password's policy, unknown names. */
        req.old_password = "correct horse";
        req.new_password = "short";
        assert_int_equal(stitch_account_change_password(f->m, &req, &res), -EINVAL);
        assert_int_equal(res.problem, STITCH_ACCOUNT_PASSWORD_POLICY);
        assert_int_equal(res.field, STITCH_ACCOUNT_FIELD_PASSWORD);
        req.new_password = NULL;
        assert_int_equal(stitch_account_change_password(f->m, &req, &res), -EINVAL);
        assert_int_equal(res.problem, STITCH_ACCOUNT_PASSWORD_MISSING);
        req.name = "nobody";
        req.new_password = "battery staple";
        assert_int_equal(stitch_account_change_password(f->m, &req, &res), -ENOENT);
        assert_int_equal(res.problem, STITCH_ACCOUNT_NOT_FOUND);
        assert_string_equal(res.message, "nobody is not a stitch user");
        assert_int_equal(f->m->password_verifications, before + 1);

        /* check_only verifies and changes nothing. */
        req.name = "ada";
        req.check_only = true;
        assert_int_equal(stitch_account_change_password(f->m, &req, &res), 0);
        assert_int_equal(res.ended_sessions, 0);
        assert_true(access_ok(f->m, &b));

        req.check_only = false;
        assert_int_equal(stitch_account_change_password(f->m, &req, &res), 0);
        assert_string_equal(res.user_id, id);
        assert_int_equal(res.ended_sessions, 1);
        assert_true(access_ok(f->m, &a));
        assert_false(access_ok(f->m, &b));
        stitch_login_result_done(&a);
        stitch_login_result_done(&b);
        login_ada(f->m, "battery staple", &a);
        assert_int_equal(a.outcome, STITCH_LOGIN_SESSION);
        stitch_login_result_done(&a);

        /* Passwords off: nothing is checked. */
        assert_int_equal(stitch_config_set(&f->m->config, "Provider.local-userpass", "Enabled", "no", true), 0);
        assert_int_equal(stitch_account_change_password(f->m, &req, &res), -EPERM);
        assert_int_equal(res.problem, STITCH_ACCOUNT_PASSWORDS_DISABLED);
        assert_int_equal(stitch_config_set(&f->m->config, "Provider.local-userpass", "Enabled", "yes", true), 0);

        /* Wrong current passwords count as failed logins (MaxFailures=3). */
        req.old_password = "wrong horse";
        for (int i = 0; i < 4; i++)
                (void) stitch_account_change_password(f->m, &req, &res);
        assert_int_equal(stitch_account_change_password(f->m, &req, &res), -EBUSY);
        assert_int_equal(res.problem, STITCH_ACCOUNT_TOO_MANY_ATTEMPTS);
        assert_true(res.retry_after_usec > 0);
        stitch_account_unlock(f->m, id);
        assert_int_equal(stitch_account_change_password(f->m, &req, &res), -EACCES);
}

/* The email reset flow's entry: the same rules as an admin's set. */
static void test_account_reset_password(void **state) {
        struct fixture *f = *state;
        struct stitch_account_result res;
        struct stitch_login_result a = {};
        char id[STITCH_ID_LEN + 1];

        add_user(f->m, "ada@example.com", "ada", "correct horse", id);
        login_ada(f->m, "correct horse", &a);
        assert_int_equal(a.outcome, STITCH_LOGIN_SESSION);
        assert_int_equal(stitch_account_reset_password(f->m, id, "short", &res), -EINVAL);
        assert_int_equal(res.problem, STITCH_ACCOUNT_PASSWORD_POLICY);
        assert_int_equal(stitch_account_reset_password(f->m, id, "battery staple", &res), 0);
        assert_int_equal(res.ended_sessions, 1);
        assert_false(access_ok(f->m, &a));
        stitch_login_result_done(&a);
        login_ada(f->m, "battery staple", &a);
        assert_int_equal(a.outcome, STITCH_LOGIN_SESSION);
        stitch_login_result_done(&a);
}

/* A second core on the same store (a fleet of two), as setup() makes the first. */
static struct stitch_core *second_core(const struct fixture *f) {
        struct stitch_core *b = NULL;
        struct stitch_config c;
        char text[512];

        int n = snprintf(text, sizeof(text),
                         "[Daemon]\nStore=sqlite:%s/stitch.db\nWorkers=1\n"
                         "[Pam]\nServices=login sshd\n"
                         "[Provider.local-userpass]\nPasswordHash=argon2id:m=64,t=1,p=1\n",
                         f->dir);
        assert_true(n > 0 && (size_t) n < sizeof(text));
        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_int_equal(stitch_config_load_buffer(&c, "test", text, strlen(text), stderr), 0);
        assert_int_equal(stitch_core_new(&c, &b), 0);
        assert_int_equal(stitch_core_start(b), 0);
        return b;
}

/* core/store-events.c: what one daemon changes, another on the same store
 * learns from the change feed: a session ended there no longer verifies
 * here, a key rotated there signs here, users' caches go; applying twice
 * changes nothing more. */
static void test_store_events_fleet(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result r = {};
        const char *why = NULL;
        char id[STITCH_ID_LEN + 1], kid_a[64] = "", kid_b[64] = "", alg[16];
        struct stitch_feed_cursor cursor, again, own;
        int64_t start = 0;
        size_t n = 0;

        add_user(f->m, "ada@example.com", "ada", "correct horse", id);
        run(f->m, &ada_password, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);

        assert_int_equal(f->m->store_ops->events_last_id(f->m->store, &start), 0);
        struct stitch_core *b = second_core(f);
        assert_int_equal(b->store_events_cursor, start); /* where B's memory was rebuilt from the rows */
        stitch_feed_cursor_init(&cursor, b->store_events_cursor);
        assert_true(access_ok(b, &r)); /* one store, one keyring */

        /* Logged out on A: refused on A at once, on B once it followed. */
        assert_int_equal(stitch_session_logout(f->m, r.tokens.refresh_token, &why), 0);
        assert_false(access_ok(f->m, &r));
        assert_true(access_ok(b, &r)); /* the gap the feed closes */
        assert_int_equal(stitch_core_follow_store_events(b, &cursor, stitch_now(), stitch_now_usec(CLOCK_MONOTONIC), &n), 0);
        assert_int_equal(n, 1);
        assert_true(cursor.high > start);
        assert_false(access_ok(b, &r));
        assert_true(stitch_revocations_contains(b->revocations, r.tokens.session_id));

        /* Again from the start: nothing more (idempotent). */
        size_t size = stitch_revocations_size(b->revocations);
        uint64_t gen = b->users_generation;
        stitch_feed_cursor_init(&again, start);
        assert_int_equal(stitch_core_follow_store_events(b, &again, stitch_now(), stitch_now_usec(CLOCK_MONOTONIC), &n), 0);
        assert_int_equal(again.high, cursor.high);
        assert_int_equal(stitch_revocations_size(b->revocations), size);
        assert_int_equal(b->users_generation, gen);
        assert_false(access_ok(b, &r));

        /* A user change on A: B's user caches go. */
        char **revoked = NULL;
        assert_int_equal(stitch_user_set_disabled(f->m, id, true, &revoked), 0);
        revoked = stitch_strv_free(revoked);
        assert_int_equal(stitch_core_follow_store_events(b, &cursor, stitch_now(), stitch_now_usec(CLOCK_MONOTONIC), &n), 0);
        assert_int_equal(n, 1); /* user.disabled: the session had ended already */
        assert_true(b->users_generation > gen);

        /* A key rotated on A: B signs with it too. */
        assert_int_equal(stitch_core_rotate_key(f->m, kid_a, sizeof(kid_a)), 0);
        assert_int_equal(stitch_keyring_active(b->keyring, kid_b, sizeof(kid_b), alg, sizeof(alg)), 0);
        assert_string_not_equal(kid_a, kid_b);
        assert_int_equal(stitch_core_follow_store_events(b, &cursor, stitch_now(), stitch_now_usec(CLOCK_MONOTONIC), &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(stitch_keyring_active(b->keyring, kid_b, sizeof(kid_b), alg, sizeof(alg)), 0);
        assert_string_equal(kid_a, kid_b);
        /* Its own rotation coming back: nothing to do. */
        stitch_feed_cursor_init(&own, start);
        assert_int_equal(stitch_core_follow_store_events(f->m, &own, stitch_now(), stitch_now_usec(CLOCK_MONOTONIC), &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(stitch_keyring_active(f->m->keyring, kid_b, sizeof(kid_b), alg, sizeof(alg)), 0);
        assert_string_equal(kid_a, kid_b);

        stitch_core_free(b);
        stitch_login_result_done(&r);
}

/* core/fleet.c: while the feed is unheard for longer than MaxStale, a
 * token is checked against the store itself (a logout written by another
 * host, which this memory has not heard of, holds), and refused outright
 * when the store is down: fail closed. */
static void test_fleet_stale(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result r = {};
        char id[STITCH_ID_LEN + 1];
        const char *why = NULL;
        struct stitch_claims claims = {};

        add_user(f->m, "ada@example.com", "ada", "correct horse", id);
        run(f->m, &ada_password, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);

        uint64_t now = stitch_now_usec(CLOCK_MONOTONIC);
        /* No follower (a store only this host writes): never stale. */
        assert_false(stitch_fleet_stale(f->m, now + 3600 * USEC_PER_SEC));

        /* Followed, and caught up within MaxStale (5s): memory answers. */
        stitch_fleet_follow_start(f->m, now);
        assert_false(stitch_fleet_stale(f->m, now + 4 * USEC_PER_SEC));
        assert_true(stitch_fleet_stale(f->m, now + 6 * USEC_PER_SEC));
        stitch_fleet_caught_up(f->m, now + 5 * USEC_PER_SEC);
        assert_false(stitch_fleet_stale(f->m, now + 6 * USEC_PER_SEC));

        /* Another host ends the session: the row says so, the memory not. */
        assert_true(f->m->store_ops->session_revoke(f->m->store, r.tokens.session_id, stitch_now(), "revoke") >= 0);
        assert_true(access_ok(f->m, &r)); /* fresh: the gap the feed closes */

        /* Stale: asked of the store, refused. */
        stitch_fleet_follow_start(f->m, now - 10 * USEC_PER_SEC);
        assert_true(stitch_fleet_stale(f->m, stitch_now_usec(CLOCK_MONOTONIC)));
        assert_int_equal(stitch_access_check(f->m, r.tokens.access_token, stitch_now(), &claims, &why), -EACCES);
        assert_string_equal(why, "session revoked");
        stitch_login_result_done(&r);

        /* A live session verifies through the store while stale... */
        run(f->m, &ada_password, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);
        assert_true(access_ok(f->m, &r));
        /* ...and not at all while the store is down too. */
        stitch_fleet_set_store_down(f->m, true);
        assert_int_equal(stitch_access_check(f->m, r.tokens.access_token, stitch_now(), &claims, &why), -EACCES);
        assert_string_equal(why, "the fleet store is unreachable: cannot confirm the session");
        /* Caught up again: memory answers. */
        stitch_fleet_set_store_down(f->m, false);
        stitch_fleet_caught_up(f->m, stitch_now_usec(CLOCK_MONOTONIC));
        assert_true(access_ok(f->m, &r));
        stitch_login_result_done(&r);
}

/* core/offline.c through the login pipeline: an online password login
 * leaves a verifier; with the store unreachable the same password logs in
 * offline (no session), a wrong one does not, nor an app login or a user
 * never seen here; a disable heard from the feed holds, a new password
 * forgets; records expire after MaxAge; the files are private and never
 * hold the store's hash. */
static int setup_offline(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        struct stitch_config c;
        char text[1024];
        const char *tmp = getenv("TMPDIR");

        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "%s/test-core-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(f->dir));
        int n = snprintf(text, sizeof(text),
                         "[Daemon]\nStore=sqlite:%s/stitch.db\nWorkers=1\n"
                         "[Pam]\nServices=login sshd\n"
                         "[Limits]\nMaxFailures=3\n"
                         "[Provider.local-userpass]\nPasswordHash=argon2id:m=64,t=1,p=1\n"
                         "[Offline]\nEnabled=yes\nMaxAge=1h\nCacheFile=%s/offline.db\n",
                         f->dir, f->dir);
        assert_true(n > 0 && (size_t) n < sizeof(text));
        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_int_equal(stitch_config_load_buffer(&c, "test", text, strlen(text), stderr), 0);
        assert_int_equal(stitch_core_new(&c, &f->m), 0);
        assert_int_equal(stitch_core_start(f->m), 0);
        *state = f;
        return 0;
}

static int store_down_find(struct stitch_store *s, enum stitch_user_key by, const char *value,
                           struct stitch_user **ret) {
        (void) s, (void) by, (void) value, (void) ret;
        return -ENOTCONN;
}
static int store_down_find_for_login(struct stitch_store *s, enum stitch_user_key by, const char *value, int64_t now,
                                     struct stitch_user **ret) {
        (void) s, (void) by, (void) value, (void) now, (void) ret;
        return -ENOTCONN;
}

static bool file_has(const char *path, const char *needle) {
        _cleanup_free_ char *buf = NULL;
        size_t n = 0;
        FILE *fp = fopen(path, "re");
        if (!fp)
                return false;
        buf = malloc(1 << 20);
        if (buf)
                n = fread(buf, 1, 1 << 20, fp);
        fclose(fp);
        return buf && memmem(buf, n, needle, strlen(needle)) != NULL;
}

static void test_offline_login(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result r = {};
        char id[STITCH_ID_LEN + 1], got[STITCH_ID_LEN + 1], path[512];
        _cleanup_free_ char *store_hash = NULL;
        struct stat st;

        add_user(f->m, "ada@example.com", "ada", "correct horse", id);
        assert_int_equal(f->m->store_ops->password_get(f->m->store, id, &store_hash), 0);

        /* Nothing kept yet: no offline login. */
        assert_int_equal(stitch_offline_verify(f->m, "ada", "correct horse", stitch_now(), got), -ENOENT);
        run(f->m, &ada_password, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);
        stitch_login_result_done(&r);
        assert_int_equal(stitch_offline_verify(f->m, "ada", "correct horse", stitch_now(), got), 0);
        assert_string_equal(got, id);

        /* Private files, and neither the store's hash nor the password in them. */
        snprintf(path, sizeof(path), "%s/offline.db", f->dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_false(file_has(path, store_hash));
        assert_false(file_has(path, store_hash + strlen(store_hash) - 20)); /* not even its digest part */
        assert_false(file_has(path, "correct horse"));
        snprintf(path, sizeof(path), "%s/offline.db.key", f->dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(st.st_size, 32);

        /* The store goes away. */
        const struct stitch_store_ops *up = f->m->store_ops;
        struct stitch_store_ops down = *up;
        down.user_find = store_down_find;
        down.user_find_for_login = store_down_find_for_login;
        f->m->store_ops = &down;

        run(f->m, &ada_password, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_OFFLINE);
        assert_non_null(r.user);
        assert_string_equal(r.user->id, id);
        assert_string_equal(r.tokens.session_id, "");
        stitch_login_result_done(&r);

        struct attempt wrong = ada_password;
        wrong.values[0] = "wrong horse";
        run(f->m, &wrong, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_FAILED);
        assert_int_equal(r.failure, STITCH_LOGIN_INVALID_CREDENTIALS);
        stitch_login_result_done(&r);

        struct attempt app = ada_password;
        app.app = true;
        app.user = "ada@example.com";
        run(f->m, &app, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_FAILED);
        assert_int_equal(r.failure, STITCH_LOGIN_INTERNAL);
        stitch_login_result_done(&r);

        struct attempt bob = ada_password;
        bob.user = "bob";
        run(f->m, &bob, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_FAILED);
        assert_int_equal(r.failure, STITCH_LOGIN_INTERNAL);
        assert_int_equal(r.error, -ENOTCONN);
        stitch_login_result_done(&r);

        /* What the feed says holds offline. */
        struct stitch_store_event e = {.id = 1, .time = stitch_now(), .kind = STITCH_STORE_EVENT_USER_DISABLED};
        memcpy(e.subject, id, sizeof(id));
        assert_int_equal(stitch_core_apply_store_event(f->m, &e, stitch_now()), 0);
        bool disabled = false;
        assert_int_equal(stitch_offline_lookup(f->m, "ada", stitch_now(), got, &disabled), 0);
        assert_true(disabled);
        run(f->m, &ada_password, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_FAILED);
        assert_int_equal(r.failure, STITCH_LOGIN_INVALID_CREDENTIALS);
        stitch_login_result_done(&r);
        e.kind = STITCH_STORE_EVENT_USER_ENABLED;
        assert_int_equal(stitch_core_apply_store_event(f->m, &e, stitch_now()), 0);
        run(f->m, &ada_password, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_OFFLINE);
        stitch_login_result_done(&r);

        /* MaxAge (1h) after the last online login: gone. */
        assert_int_equal(stitch_offline_verify(f->m, "ada", "correct horse", stitch_now() + 3601, got), -ENOENT);
        size_t pruned = 0;
        assert_int_equal(stitch_offline_prune(f->m, stitch_now() + 3601, &pruned), 0);
        assert_int_equal(pruned, 1);
        assert_int_equal(stitch_offline_verify(f->m, "ada", "correct horse", stitch_now(), got), -ENOENT);

        /* Back online: a login records again; a new password forgets. */
        f->m->store_ops = up;
        run(f->m, &ada_password, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);
        stitch_login_result_done(&r);
        assert_int_equal(stitch_offline_verify(f->m, "ada", "correct horse", stitch_now(), got), 0);
        e.kind = STITCH_STORE_EVENT_USER_PASSWORD;
        assert_int_equal(stitch_core_apply_store_event(f->m, &e, stitch_now()), 0);
        assert_int_equal(stitch_offline_verify(f->m, "ada", "correct horse", stitch_now(), got), -ENOENT);

        /* A cache someone else may read is refused. */
        snprintf(path, sizeof(path), "%s/offline.db", f->dir);
        assert_int_equal(chmod(path, 0644), 0);
        struct stitch_offline *o = NULL;
        assert_int_equal(stitch_offline_open(path, &o), -EPERM);
        assert_null(o);
}

/* core/login.c: a login that fails for want of a server (the store or an
 * identity provider unreachable) judged nothing: it is not a failed attempt,
 * so an outage locks nobody out. (MaxFailures=3 here.) */
static void test_outage_not_counted(void **state) {
        struct fixture *f = *state;
        struct stitch_login_result r = {};
        char id[STITCH_ID_LEN + 1];

        add_user(f->m, "ada@example.com", "ada", "correct horse", id);
        const struct stitch_store_ops *up = f->m->store_ops;
        struct stitch_store_ops down = *up;
        down.user_find_for_login = store_down_find_for_login;
        f->m->store_ops = &down;
        for (int k = 0; k < 6; k++) {
                run(f->m, &ada_password, &r);
                assert_int_equal(r.outcome, STITCH_LOGIN_FAILED);
                assert_int_equal(r.failure, STITCH_LOGIN_INTERNAL);
                assert_int_equal(r.error, -ENOTCONN);
                stitch_login_result_done(&r);
        }
        f->m->store_ops = up;
        run(f->m, &ada_password, &r);
        assert_int_equal(r.outcome, STITCH_LOGIN_SESSION);
        stitch_login_result_done(&r);
}

static void test_store_events_apply(void **state) {
        struct fixture *f = *state;
        int64_t now = stitch_now();
        struct stitch_store_event e = {
                .id = 1, .time = now, .kind = STITCH_STORE_EVENT_SESSION_ENDED,
                .subject = "aaaaaaaaaaaaaaaaaaaaaaaa",
        };

        /* Malformed data: refused, nothing applied. */
        assert_int_equal(stitch_core_apply_store_event(f->m, &e, now), -EBADMSG);
        e.data_json = (char *) "[]";
        assert_int_equal(stitch_core_apply_store_event(f->m, &e, now), -EBADMSG);
        e.data_json = (char *) "{\"reason\":\"logout\"}";
        assert_int_equal(stitch_core_apply_store_event(f->m, &e, now), -EBADMSG);
        snprintf(e.subject, sizeof(e.subject), "../../etc");
        e.data_json = (char *) "{\"access_expires\":0,\"reason\":\"logout\"}";
        assert_int_equal(stitch_core_apply_store_event(f->m, &e, now), -EBADMSG);
        assert_int_equal(stitch_revocations_size(f->m->revocations), 0);

        /* Long over: every token dead, nothing to hold. */
        snprintf(e.subject, sizeof(e.subject), "aaaaaaaaaaaaaaaaaaaaaaaa");
        e.time = now - 2 * stitch_core_token_lifetime_bound(f->m);
        assert_int_equal(stitch_core_apply_store_event(f->m, &e, now), 0);
        assert_false(stitch_revocations_contains(f->m->revocations, e.subject));

        /* Recent, with a reason this stitchd does not know: revoked all the same, once. */
        e.time = now;
        e.data_json = (char *) "{\"access_expires\":0,\"reason\":\"solar-flare\"}";
        assert_int_equal(stitch_core_apply_store_event(f->m, &e, now), 0);
        assert_int_equal(stitch_core_apply_store_event(f->m, &e, now), 0);
        assert_true(stitch_revocations_contains(f->m->revocations, e.subject));
        assert_int_equal(stitch_revocations_size(f->m->revocations), 1);

        /* A kind from a newer stitchd: skipped. */
        e.kind = _STITCH_STORE_EVENT_KIND_INVALID;
        assert_int_equal(stitch_core_apply_store_event(f->m, &e, now), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_password_login, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prompt_rounds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failure_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apikey_failure_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apikey_and_anonymous, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refresh_and_logout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_user_changes_end_sessions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_link, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apikey_ends_its_sessions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_link_races_first_login, setup, teardown),
                cmocka_unit_test_setup_teardown(test_link_keys_fit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_account_create, setup, teardown),
                cmocka_unit_test_setup_teardown(test_account_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_account_set_password, setup, teardown),
                cmocka_unit_test_setup_teardown(test_account_change_password, setup, teardown),
                cmocka_unit_test_setup_teardown(test_account_reset_password, setup, teardown),
                cmocka_unit_test_setup_teardown(test_store_events_fleet, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fleet_stale, setup, teardown),
                cmocka_unit_test_setup_teardown(test_offline_login, setup_offline, teardown),
                cmocka_unit_test_setup_teardown(test_outage_not_counted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_store_events_apply, setup, teardown),
        };
        stitch_log_set_max_level(LOG_WARNING);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
