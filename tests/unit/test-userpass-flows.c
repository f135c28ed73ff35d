/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The email/password lifecycle (core/userpass-flows.c) on a real core with
 * a temp SQLite store and a capturing outbox: registration (off, bad
 * input, twice), AutoConfirm=, ConfirmationCommand= and ResetCommand=
 * (scripts in the temp dir), tokens (good, expired, used, forged,
 * superseded), resets that end sessions, the same answers for unknown and
 * known addresses, the limits, the EmailDomain= mapping that registered
 * users never get, and pending users refused at login only after the
 * right password. Also the command runner (core/command.c) alone. */

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

#include "clock.h"
#include "core/accounts.h"
#include "core/command.h"
#include "core/config.h"
#include "core/core.h"
#include "core/ids.h"
#include "core/link.h"
#include "core/login.h"
#include "core/outbox.h"
#include "core/sha256.h"
#include "core/userpass-flows.h"
#include "log.h"
#include "macro.h"
#include "validate.h"

#define PASSWORD "correct horse"
#define OTHER_PASSWORD "battery staple"

struct capture {
        unsigned n;
        enum stitch_mail_kind kind;
        char to[256], link[1024], locale[STITCH_MAIL_LOCALE_MAX];
};

struct fixture {
        char dir[256];
        struct stitch_core *m;
        struct capture mail;
};

static int capture_send(void *userdata, const struct stitch_mail_request *r) {
        struct capture *c = userdata;
        c->n++;
        c->kind = r->kind;
        snprintf(c->to, sizeof(c->to), "%s", r->to);
        snprintf(c->link, sizeof(c->link), "%s", r->link);
        snprintf(c->locale, sizeof(c->locale), "%s", r->locale ? r->locale : "");
        return 0;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(p);
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        const char *tmp = getenv("TMPDIR");

        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "%s/test-userpass-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(f->dir));
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

/* Starts a core with cheap hashes, the given [Provider.local-userpass]
 * lines (and any sections after them), and the capturing outbox. */
static void start(struct fixture *f, const char *userpass) {
        struct stitch_config c;
        char text[2048];
        int n = snprintf(text, sizeof(text),
                         "[Daemon]\nStore=sqlite:%s/stitch.db\nWorkers=1\n"
                         "[Pam]\nServices=login\nEmailDomain=example.com\n"
                         "[Http]\nPublicURL=https://id.example.com\n"
                         "[Provider.local-userpass]\nPasswordHash=argon2id:m=64,t=1,p=1\n%s",
                         f->dir, userpass);
        assert_true(n > 0 && (size_t) n < sizeof(text));
        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_int_equal(stitch_config_load_buffer(&c, "test", text, strlen(text), stderr), 0);
        assert_int_equal(stitch_core_new(&c, &f->m), 0);
        assert_int_equal(stitch_core_start(f->m), 0);
        f->m->outbox = (struct stitch_outbox) {.send = capture_send, .userdata = &f->mail};
}

/* A script in the temp dir; returns its path (static buffer per slot). */
static const char *script(struct fixture *f, const char *name, const char *body) {
        static char paths[4][512];
        static unsigned slot;
        char *path = paths[slot++ % 4];
        snprintf(path, 512, "%s/%s", f->dir, name);
        FILE *s = fopen(path, "we");
        assert_non_null(s);
        fprintf(s, "#!/bin/sh\n%s\n", body);
        assert_int_equal(fclose(s), 0);
        assert_int_equal(chmod(path, 0755), 0);
        return path;
}

static int do_register(struct fixture *f, const char *email, const char *password, const char *locale,
                       struct stitch_userpass_result *ret) {
        return stitch_userpass_register(f->m,
                                        &(struct stitch_userpass_registration) {
                                                .email = email,
                                                .password = password,
                                                .locale = locale,
                                                .client_address = "192.0.2.1",
                                        },
                                        ret);
}

/* token and tokenId of a link or a command's JSON input. */
static void extract(const char *text, const char *token_key, const char *id_key, char token[static 128],
                    char id[static 128]) {
        const char *t = strstr(text, token_key), *i = strstr(text, id_key);
        assert_non_null(t);
        assert_non_null(i);
        t += strlen(token_key);
        i += strlen(id_key);
        size_t nt = strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
        size_t ni = strspn(i, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
        assert_true(nt > 0 && nt < 128 && ni > 0 && ni < 128);
        memcpy(token, t, nt);
        token[nt] = 0;
        memcpy(id, i, ni);
        id[ni] = 0;
}

static void link_token(const struct capture *c, char token[static 128], char id[static 128]) {
        extract(c->link, "token=", "tokenId=", token, id);
}

/* An app login by email, as the HTTP front end makes it. */
static void app_login(struct stitch_core *m, const char *email, const char *password, struct stitch_login_result *ret) {
        struct stitch_credentials cr = {.n = 1, .items = {{"password", password}}};
        struct stitch_login_request req = {
                .provider = "local-userpass",
                .login = {
                        .user = email,
                        .service = "http",
                        .rhost = "192.0.2.7",
                        .app = true,
                        .cred = {.uid = (uid_t) -1, .gid = (gid_t) -1},
                        .credentials = &cr,
                },
        };
        assert_int_equal(stitch_login_run(m, &req, ret), 0);
}

static void expect_login(struct stitch_core *m, const char *email, const char *password, int outcome, int failure) {
        struct stitch_login_result r;
        app_login(m, email, password, &r);
        assert_int_equal(r.outcome, outcome);
        if (outcome == STITCH_LOGIN_FAILED)
                assert_int_equal(r.failure, failure);
        stitch_login_result_done(&r);
}

/* ------------------------------------------------------------------------------------------- */

static void test_register_and_confirm(void **state) {
        struct fixture *f = *state;
        struct stitch_userpass_result r;
        char token[128], id[128], forged[128];

        start(f, "");
        /* Registration=no */
        assert_int_equal(do_register(f, "ada@example.org", PASSWORD, NULL, &r), -EPERM);
        assert_int_equal(r.problem, STITCH_USERPASS_REGISTRATION_DISABLED);
        stitch_core_free(f->m);
        f->m = NULL;

        start(f, "Registration=yes\n");
        assert_int_equal(do_register(f, "not an address", PASSWORD, NULL, &r), -EINVAL);
        assert_int_equal(r.problem, STITCH_USERPASS_INVALID_EMAIL);
        assert_int_equal(do_register(f, "ada@example.org", "short", NULL, &r), -EINVAL);
        assert_int_equal(r.problem, STITCH_USERPASS_PASSWORD_POLICY);
        assert_int_equal(f->mail.n, 0);

        assert_int_equal(do_register(f, "ada@example.org", PASSWORD, "de", &r), 0);
        assert_int_equal(r.problem, STITCH_USERPASS_OK);
        assert_int_equal(f->mail.n, 1);
        assert_int_equal(f->mail.kind, STITCH_MAIL_CONFIRM);
        assert_string_equal(f->mail.to, "ada@example.org");
        assert_string_equal(f->mail.locale, "de");
        assert_true(strncmp(f->mail.link, "https://id.example.com/confirm?token=", 37) == 0);
        assert_non_null(strstr(f->mail.link, "&locale=de"));
        link_token(&f->mail, token, id);
        assert_int_equal(strlen(token), STITCH_SECRET_B64_LEN);

        /* a registered user: only the email identity, pending, self-registered */
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        assert_int_equal(f->m->store_ops->user_find(f->m->store, STITCH_USER_BY_EMAIL, "ada@example.org", &u), 0);
        assert_true(u->pending);
        assert_true(u->self_registered);
        assert_null(u->unix_name);
        assert_int_equal(u->n_identities, 1);
        assert_string_equal(u->identities[0].provider_type, "local-userpass");
        assert_string_equal(r.user_id, u->id);

        /* again: name in use; the link goes again, within the recipient's budget */
        for (unsigned i = 2; i <= STITCH_USERPASS_MAILS_PER_RECIPIENT + 1; i++) {
                assert_int_equal(do_register(f, "ada@example.org", OTHER_PASSWORD, NULL, &r), -EEXIST);
                assert_int_equal(r.problem, STITCH_USERPASS_NAME_IN_USE);
                assert_int_equal(f->mail.n, MIN(i, STITCH_USERPASS_MAILS_PER_RECIPIENT));
        }
        /* the newer link superseded the first */
        assert_int_equal(stitch_userpass_confirm(f->m, token, id, &r), -ENOENT);
        assert_int_equal(r.problem, STITCH_USERPASS_TOKEN_INVALID);
        link_token(&f->mail, token, id);

        /* pending: the right password is told apart, only after it verified */
        expect_login(f->m, "ada@example.org", OTHER_PASSWORD, STITCH_LOGIN_FAILED, STITCH_LOGIN_INVALID_CREDENTIALS);
        expect_login(f->m, "ada@example.org", PASSWORD, STITCH_LOGIN_FAILED, STITCH_LOGIN_CONFIRMATION_REQUIRED);

        /* forged, then good, then used */
        snprintf(forged, sizeof(forged), "%s", token);
        forged[3] = forged[3] == 'A' ? 'B' : 'A';
        assert_int_equal(stitch_userpass_confirm(f->m, forged, id, &r), -ENOENT);
        assert_int_equal(r.problem, STITCH_USERPASS_TOKEN_INVALID);
        assert_int_equal(stitch_userpass_confirm(f->m, token, "nope", &r), -ENOENT);
        assert_int_equal(stitch_userpass_confirm(f->m, "", "", &r), -ENOENT);
        assert_int_equal(stitch_userpass_confirm(f->m, token, id, &r), 0);
        assert_string_equal(r.user_id, u->id);
        assert_int_equal(stitch_userpass_confirm(f->m, token, id, &r), -ENOENT);
        assert_int_equal(r.problem, STITCH_USERPASS_TOKEN_INVALID);
        expect_login(f->m, "ada@example.org", PASSWORD, STITCH_LOGIN_SESSION, 0);

        /* a confirmed address registers no more */
        assert_int_equal(do_register(f, "ada@example.org", PASSWORD, NULL, &r), -EEXIST);
        assert_int_equal(r.problem, STITCH_USERPASS_NAME_IN_USE);
}

/* An expired token is refused like a forged one. */
static void test_expired_token(void **state) {
        struct fixture *f = *state;
        struct stitch_userpass_result r;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        struct stitch_email_token t = {.kind = STITCH_EMAIL_TOKEN_CONFIRM};
        const char *secret = "expiredexpiredexpiredexpiredexpiredexpired";

        start(f, "Registration=yes\n");
        assert_int_equal(do_register(f, "old@example.org", PASSWORD, NULL, &r), 0);
        assert_int_equal(f->m->store_ops->user_find(f->m->store, STITCH_USER_BY_EMAIL, "old@example.org", &u), 0);
        assert_int_equal(stitch_session_id_new(t.id), 0);
        memcpy(t.user_id, u->id, sizeof(t.user_id));
        assert_int_equal(stitch_sha256(secret, strlen(secret), t.hash), 0);
        t.expires = stitch_now() - 1;
        assert_int_equal(f->m->store_ops->email_token_put(f->m->store, &t), 0);
        assert_int_equal(stitch_userpass_confirm(f->m, secret, t.id, &r), -ENOENT);
        assert_int_equal(r.problem, STITCH_USERPASS_TOKEN_INVALID);
        /* the same token, live: works */
        t.expires = stitch_now() + 60;
        assert_int_equal(f->m->store_ops->email_token_put(f->m->store, &t), 0);
        assert_int_equal(stitch_userpass_confirm(f->m, secret, t.id, &r), 0);
}

static void test_auto_confirm(void **state) {
        struct fixture *f = *state;
        struct stitch_userpass_result r;

        start(f, "Registration=yes\nAutoConfirm=yes\n");
        assert_int_equal(do_register(f, "bo@example.org", PASSWORD, NULL, &r), 0);
        assert_int_equal(f->mail.n, 0);
        expect_login(f->m, "bo@example.org", PASSWORD, STITCH_LOGIN_SESSION, 0);
        /* confirm/send for a confirmed user: the same answer, no mail */
        assert_int_equal(stitch_userpass_confirm_send(f->m, "bo@example.org", NULL, "192.0.2.1", &r), 0);
        assert_int_equal(f->mail.n, 0);
}

/* Registered addresses never name a Unix account through EmailDomain=,
 * confirmed or not; an admin's user does. */
static void test_email_domain(void **state) {
        struct fixture *f = *state;
        struct stitch_userpass_result r;
        struct stitch_account_result ar;
        struct stitch_user *u = NULL;

        start(f, "Registration=yes\nAutoConfirm=yes\n");
        assert_int_equal(do_register(f, "root@example.com", PASSWORD, NULL, &r), 0);
        assert_int_equal(stitch_user_find_by_login_name(f->m, "root", &u), -ENOENT);
        assert_int_equal(stitch_account_create(f->m, &(struct stitch_account_new) {.email = "bob@example.com", .password = PASSWORD},
                                               &u, &ar),
                         0);
        assert_false(u->pending);
        assert_false(u->self_registered);
        u = stitch_user_free(u);
        assert_int_equal(stitch_user_find_by_login_name(f->m, "bob", &u), 0);
        assert_string_equal(u->email, "bob@example.com");
        u = stitch_user_free(u);
        /* a PAM login as "root" finds nobody */
        struct stitch_credentials cr = {.n = 1, .items = {{"password", PASSWORD}}};
        struct stitch_login_result lr;
        struct stitch_login_request req = {
                .provider = "local-userpass",
                .login = {.user = "root", .service = "login", .cred = {.uid = 0}, .credentials = &cr},
        };
        assert_int_equal(stitch_login_run(f->m, &req, &lr), 0);
        assert_int_equal(lr.outcome, STITCH_LOGIN_FAILED);
        assert_int_equal(lr.failure, STITCH_LOGIN_INVALID_CREDENTIALS);
        stitch_login_result_done(&lr);
}

/* Stitch's anonymous upgrade: a registered, confirmed, unused email account
 * linked onto an anonymous user merges into it (the id stays), and stays
 * self-registered there: registering root@EmailDomain and linking it onto
 * an anonymous user still makes nobody root. */
static void test_link_registered(void **state) {
        struct fixture *f = *state;
        struct stitch_userpass_result r;
        struct stitch_user *u = NULL;

        start(f, "Registration=yes\nAutoConfirm=yes\n[Provider.anon-user]\nEnabled=yes\nUnixUser=nobody\nServices=login\n");
        assert_int_equal(do_register(f, "root@example.com", PASSWORD, NULL, &r), 0);
        char registered[STITCH_ID_LEN + 1];
        memcpy(registered, r.user_id, sizeof(registered));

        struct stitch_login_result anon = {};
        struct stitch_login_request areq = {
                .provider = "anon-user",
                .login = {.app = true, .user = "", .service = "http", .cred = {.uid = (uid_t) -1},
                          .credentials = &(struct stitch_credentials) {}},
        };
        assert_int_equal(stitch_login_run(f->m, &areq, &anon), 0);
        assert_int_equal(anon.outcome, STITCH_LOGIN_SESSION);

        struct stitch_credentials cr = {.n = 1, .items = {{"password", PASSWORD}}};
        struct stitch_login_request req = {
                .provider = "local-userpass",
                .login = {.app = true, .user = "root@example.com", .service = "http", .cred = {.uid = (uid_t) -1},
                          .credentials = &cr},
        };
        struct stitch_link_result l = {};
        assert_int_equal(stitch_link_run(f->m, anon.tokens.user_id, &req, &l), 0);
        assert_int_equal(l.outcome, STITCH_LINK_LINKED);
        assert_string_equal(l.user->id, anon.tokens.user_id);
        assert_true(l.user->self_registered);
        assert_false(l.user->pending);
        stitch_link_result_done(&l);
        assert_int_equal(f->m->store_ops->user_find(f->m->store, STITCH_USER_BY_ID, registered, &u), -ENOENT);
        /* The email logs in as the anonymous user now; "root" finds nobody. */
        expect_login(f->m, "root@example.com", PASSWORD, STITCH_LOGIN_SESSION, 0);
        assert_int_equal(stitch_user_find_by_login_name(f->m, "root", &u), -ENOENT);
        stitch_login_result_done(&anon);
}

static void test_confirmation_command(void **state) {
        struct fixture *f = *state;
        struct stitch_userpass_result r;
        char text[2048], token[128], id[128], input[300];

        snprintf(input, sizeof(input), "%s/input.json", f->dir);
        snprintf(text, sizeof(text),
                 "cat > %s\n[ -z \"$HOME\" ] && [ \"$PATH\" = /usr/sbin:/usr/bin:/sbin:/bin ] || exit 3\n"
                 "case \"$1\" in ok) echo '{\"status\":\"success\"}';; wait) echo '{\"status\": \"pending\"}';; "
                 "*) echo '{\"status\":\"fail\"}';; esac",
                 input);
        const char *confirm = script(f, "confirm", text);
        snprintf(text, sizeof(text), "Registration=yes\nConfirmationCommand=%s ok\n", confirm);
        start(f, text);
        assert_int_equal(do_register(f, "c1@example.org", PASSWORD, NULL, &r), 0);
        assert_int_equal(r.problem, STITCH_USERPASS_OK);
        assert_int_equal(f->mail.n, 0);
        expect_login(f->m, "c1@example.org", PASSWORD, STITCH_LOGIN_SESSION, 0);
        /* the command got {username, token, tokenId} */
        FILE *in = fopen(input, "re");
        assert_non_null(in);
        assert_non_null(fgets(text, sizeof(text), in));
        fclose(in);
        assert_non_null(strstr(text, "\"username\":\"c1@example.org\""));
        extract(text, "\"token\":\"", "\"tokenId\":\"", token, id);
        /* used up by the success */
        assert_int_equal(stitch_userpass_confirm(f->m, token, id, &r), -ENOENT);
        stitch_core_free(f->m);
        f->m = NULL;

        /* pending: the client confirms later with the command's token */
        snprintf(text, sizeof(text), "Registration=yes\nConfirmationCommand=%s wait\n", confirm);
        start(f, text);
        assert_int_equal(do_register(f, "c2@example.org", PASSWORD, NULL, &r), 0);
        assert_int_equal(r.problem, STITCH_USERPASS_PENDING);
        expect_login(f->m, "c2@example.org", PASSWORD, STITCH_LOGIN_FAILED, STITCH_LOGIN_CONFIRMATION_REQUIRED);
        in = fopen(input, "re");
        assert_non_null(in);
        assert_non_null(fgets(text, sizeof(text), in));
        fclose(in);
        extract(text, "\"token\":\"", "\"tokenId\":\"", token, id);
        /* confirm/call runs it again: pending again, and the older token is superseded */
        assert_int_equal(stitch_userpass_confirm_call(f->m, "c2@example.org", "192.0.2.1", &r), 0);
        assert_int_equal(r.problem, STITCH_USERPASS_PENDING);
        assert_int_equal(stitch_userpass_confirm(f->m, token, id, &r), -ENOENT);
        in = fopen(input, "re");
        assert_non_null(in);
        assert_non_null(fgets(text, sizeof(text), in));
        fclose(in);
        extract(text, "\"token\":\"", "\"tokenId\":\"", token, id);
        assert_int_equal(stitch_userpass_confirm(f->m, token, id, &r), 0);
        expect_login(f->m, "c2@example.org", PASSWORD, STITCH_LOGIN_SESSION, 0);
        assert_int_equal(stitch_userpass_confirm_call(f->m, "c2@example.org", "192.0.2.1", &r), -EALREADY);
        assert_int_equal(r.problem, STITCH_USERPASS_ALREADY_CONFIRMED);
        assert_int_equal(stitch_userpass_confirm_call(f->m, "nobody@example.org", "192.0.2.1", &r), -ENOENT);
        assert_int_equal(r.problem, STITCH_USERPASS_USER_NOT_FOUND);
        stitch_core_free(f->m);
        f->m = NULL;

        /* fail: the registration is undone and the address free again */
        snprintf(text, sizeof(text), "Registration=yes\nConfirmationCommand=%s no\n", confirm);
        start(f, text);
        assert_int_equal(do_register(f, "c3@example.org", PASSWORD, NULL, &r), -EPROTO);
        assert_int_equal(r.problem, STITCH_USERPASS_FUNCTION_FAILED);
        assert_string_equal(r.message, "failed to confirm user \"c3@example.org\"");
        struct stitch_user *u = NULL;
        assert_int_equal(f->m->store_ops->user_find(f->m->store, STITCH_USER_BY_EMAIL, "c3@example.org", &u), -ENOENT);
        assert_int_equal(do_register(f, "c3@example.org", PASSWORD, NULL, &r), -EPROTO);
}

/* The runner alone: statuses, exit codes, a hanging command, too much output. */
static void test_command_runner(void **state) {
        struct fixture *f = *state;
        enum stitch_command_status s = STITCH_COMMAND_SUCCESS;
        char cmd[600];

        snprintf(cmd, sizeof(cmd), "%s", script(f, "ok", "read line; [ \"$line\" = '{\"x\":1}' ] || exit 1; echo '{\"status\":\"success\"}'"));
        assert_int_equal(stitch_command_run(cmd, "{\"x\":1}\n", STITCH_COMMAND_TIMEOUT_USEC, &s), 0);
        assert_int_equal(s, STITCH_COMMAND_SUCCESS);
        assert_int_equal(stitch_command_run(cmd, "{\"x\":2}\n", STITCH_COMMAND_TIMEOUT_USEC, &s), 0);
        assert_int_equal(s, STITCH_COMMAND_FAIL);
        snprintf(cmd, sizeof(cmd), "%s", script(f, "garbage", "echo 'status: success'"));
        assert_int_equal(stitch_command_run(cmd, "{}", STITCH_COMMAND_TIMEOUT_USEC, &s), 0);
        assert_int_equal(s, STITCH_COMMAND_FAIL);
        snprintf(cmd, sizeof(cmd), "%s", script(f, "stderr", "echo oops >&2; echo '{\"status\":\"pending\"}'"));
        assert_int_equal(stitch_command_run(cmd, "{}", STITCH_COMMAND_TIMEOUT_USEC, &s), 0);
        assert_int_equal(s, STITCH_COMMAND_PENDING);

        /* hangs (and leaves a child behind): killed at the deadline */
        snprintf(cmd, sizeof(cmd), "%s", script(f, "hang", "sleep 30 & sleep 30; echo '{\"status\":\"success\"}'"));
        uint64_t t0 = stitch_now_usec(CLOCK_MONOTONIC);
        assert_int_equal(stitch_command_run(cmd, "{}", 500 * 1000, &s), 0);
        assert_int_equal(s, STITCH_COMMAND_FAIL);
        assert_true(stitch_now_usec(CLOCK_MONOTONIC) - t0 < 5 * USEC_PER_SEC);

        /* more than 64 KiB of answer */
        snprintf(cmd, sizeof(cmd), "%s", script(f, "big", "echo '{\"status\":\"success\"}'; head -c 70000 /dev/zero | tr '\\\\0' ' '"));
        assert_int_equal(stitch_command_run(cmd, "{}", STITCH_COMMAND_TIMEOUT_USEC, &s), 0);
        assert_int_equal(s, STITCH_COMMAND_FAIL);

        /* arguments split on spaces, no shell */
        snprintf(cmd, sizeof(cmd), "%s  a  'b c'", script(f, "args", "[ $# = 3 ] && [ \"$1\" = a ] && [ \"$2\" = \"'b\" ] && echo '{\"status\":\"success\"}'"));
        assert_int_equal(stitch_command_run(cmd, "{}", STITCH_COMMAND_TIMEOUT_USEC, &s), 0);
        assert_int_equal(s, STITCH_COMMAND_SUCCESS);

        /* not executable, not absolute */
        snprintf(cmd, sizeof(cmd), "%s/missing", f->dir);
        assert_int_equal(stitch_command_run(cmd, "{}", STITCH_COMMAND_TIMEOUT_USEC, &s), 0);
        assert_int_equal(s, STITCH_COMMAND_FAIL);
        assert_int_equal(stitch_command_run("sh -c true", "{}", STITCH_COMMAND_TIMEOUT_USEC, &s), -EINVAL);
}

static void test_reset(void **state) {
        struct fixture *f = *state;
        struct stitch_userpass_result r;
        char token[128], id[128];

        start(f, "Registration=yes\nAutoConfirm=yes\n");
        assert_int_equal(do_register(f, "rae@example.org", PASSWORD, NULL, &r), 0);
        expect_login(f->m, "rae@example.org", PASSWORD, STITCH_LOGIN_SESSION, 0);

        /* unknown and known: the same answer; one mail */
        assert_int_equal(stitch_userpass_reset_send(f->m, "nobody@example.org", NULL, "192.0.2.1", &r), 0);
        assert_int_equal(r.problem, STITCH_USERPASS_OK);
        assert_int_equal(f->mail.n, 0);
        assert_int_equal(stitch_userpass_reset_send(f->m, "rae@example.org", "fr", "192.0.2.1", &r), 0);
        assert_int_equal(r.problem, STITCH_USERPASS_OK);
        assert_int_equal(f->mail.n, 1);
        assert_int_equal(f->mail.kind, STITCH_MAIL_RESET);
        assert_true(strncmp(f->mail.link, "https://id.example.com/reset?token=", 35) == 0);
        link_token(&f->mail, token, id);

        /* a confirmation token is not a reset token; a refused password keeps the link */
        assert_int_equal(stitch_userpass_confirm(f->m, token, id, &r), -ENOENT);
        assert_int_equal(stitch_userpass_reset(f->m, token, id, "short", &r), -EINVAL);
        assert_int_equal(r.problem, STITCH_USERPASS_PASSWORD_POLICY);
        assert_int_equal(stitch_userpass_reset(f->m, token, id, OTHER_PASSWORD, &r), 0);
        assert_int_equal(r.ended_sessions, 1);
        assert_int_equal(stitch_userpass_reset(f->m, token, id, OTHER_PASSWORD, &r), -ENOENT);
        assert_int_equal(r.problem, STITCH_USERPASS_TOKEN_INVALID);
        expect_login(f->m, "rae@example.org", PASSWORD, STITCH_LOGIN_FAILED, STITCH_LOGIN_INVALID_CREDENTIALS);
        expect_login(f->m, "rae@example.org", OTHER_PASSWORD, STITCH_LOGIN_SESSION, 0);

        /* the recipient's budget: STITCH_USERPASS_MAILS_PER_RECIPIENT requests a
         * minute, then refused; unknown addresses the same (from other client
         * addresses, so that only the recipient's budget speaks) */
        const char *const who[] = {"rae@example.org", "nobody@example.org"};
        for (size_t w = 0; w < ELEMENTSOF(who); w++) {
                unsigned accepted = 0;
                char from[32];
                for (unsigned i = 0; i < STITCH_USERPASS_MAILS_PER_RECIPIENT + 2; i++) {
                        snprintf(from, sizeof(from), "192.0.2.%u", 10 + 20 * (unsigned) w + i);
                        int k = stitch_userpass_reset_send(f->m, who[w], NULL, from, &r);
                        if (k == 0)
                                accepted++;
                        else {
                                assert_int_equal(k, -EBUSY);
                                assert_int_equal(r.problem, STITCH_USERPASS_TOO_MANY_REQUESTS);
                                assert_true(r.retry_after_usec > 0);
                        }
                }
                /* both were asked for once already this minute */
                assert_int_equal(accepted, STITCH_USERPASS_MAILS_PER_RECIPIENT - 1);
        }
        /* the client address's budget, whatever the recipients */
        char email[64];
        int refused = 0;
        for (unsigned i = 0; i < STITCH_USERPASS_REQUESTS_PER_ADDRESS + 2; i++) {
                snprintf(email, sizeof(email), "x%u@example.org", i);
                if (stitch_userpass_confirm_send(f->m, email, NULL, "2001:db8::1", &r) == -EBUSY)
                        refused++;
        }
        assert_int_equal(refused, 2);
        /* the same /64 */
        assert_int_equal(stitch_userpass_confirm_send(f->m, "y@example.org", NULL, "2001:db8::2", &r), -EBUSY);
}

/* confirm/send answers the same for unknown, confirmed and pending; mails only the pending. */
static void test_enumeration(void **state) {
        struct fixture *f = *state;
        struct stitch_userpass_result a, b, c;
        struct stitch_account_result ar;
        struct stitch_user *u = NULL;

        start(f, "Registration=yes\n");
        assert_int_equal(do_register(f, "pend@example.org", PASSWORD, NULL, &a), 0);
        assert_int_equal(stitch_account_create(f->m, &(struct stitch_account_new) {.email = "conf@example.org", .password = PASSWORD},
                                               &u, &ar),
                         0);
        u = stitch_user_free(u);
        unsigned mails = f->mail.n;
        int ra = stitch_userpass_confirm_send(f->m, "unknown@example.org", NULL, "192.0.2.3", &a);
        int rb = stitch_userpass_confirm_send(f->m, "conf@example.org", NULL, "192.0.2.3", &b);
        int rc = stitch_userpass_confirm_send(f->m, "pend@example.org", NULL, "192.0.2.3", &c);
        assert_int_equal(ra, 0);
        assert_int_equal(rb, 0);
        assert_int_equal(rc, 0);
        assert_int_equal(a.problem, b.problem);
        assert_int_equal(b.problem, c.problem);
        assert_string_equal(a.message, b.message);
        assert_string_equal(b.message, c.message);
        assert_int_equal(f->mail.n, mails + 1);
        assert_string_equal(f->mail.to, "pend@example.org");
}

static void test_reset_call(void **state) {
        struct fixture *f = *state;
        struct stitch_userpass_result r;
        char text[2048], conf[1024], input[300], token[128], id[128];

        snprintf(input, sizeof(input), "%s/reset-input.json", f->dir);
        snprintf(text, sizeof(text),
                 "cat > %s\ncase \"$(cat %s)\" in *'\"arguments\":[\"yes\"]'*) echo '{\"status\":\"success\"}';; "
                 "*'\"arguments\":[\"later\"]'*) echo '{\"status\":\"pending\"}';; *) echo '{\"status\":\"fail\"}';; esac",
                 input, input);
        snprintf(conf, sizeof(conf), "Registration=yes\nAutoConfirm=yes\nResetCommand=%s\n", script(f, "reset", text));
        start(f, conf);
        assert_int_equal(do_register(f, "rc@example.org", PASSWORD, NULL, &r), 0);
        expect_login(f->m, "rc@example.org", PASSWORD, STITCH_LOGIN_SESSION, 0);

        assert_int_equal(stitch_userpass_reset_call(f->m, "nobody@example.org", OTHER_PASSWORD, NULL, "192.0.2.4", &r), -ENOENT);
        assert_int_equal(r.problem, STITCH_USERPASS_USER_NOT_FOUND);
        assert_int_equal(stitch_userpass_reset_call(f->m, "rc@example.org", "short", "[\"yes\"]", "192.0.2.4", &r), -EINVAL);
        assert_int_equal(r.problem, STITCH_USERPASS_PASSWORD_POLICY);
        assert_int_equal(stitch_userpass_reset_call(f->m, "rc@example.org", OTHER_PASSWORD, "[\"no\"]", "192.0.2.4", &r),
                         -EPROTO);
        assert_int_equal(r.problem, STITCH_USERPASS_FUNCTION_FAILED);
        assert_string_equal(r.message, "failed to reset password for user \"rc@example.org\"");
        expect_login(f->m, "rc@example.org", PASSWORD, STITCH_LOGIN_SESSION, 0);

        /* the command saw everything, the password too */
        FILE *in = fopen(input, "re");
        assert_non_null(in);
        assert_non_null(fgets(text, sizeof(text), in));
        fclose(in);
        assert_non_null(strstr(text, "\"currentPasswordValid\":false"));
        assert_non_null(strstr(text, "\"password\":\"" OTHER_PASSWORD "\""));
        assert_non_null(strstr(text, "\"username\":\"rc@example.org\""));

        assert_int_equal(stitch_userpass_reset_call(f->m, "rc@example.org", OTHER_PASSWORD, "[\"yes\"]", "192.0.2.5", &r), 0);
        assert_int_equal(r.problem, STITCH_USERPASS_OK);
        assert_int_equal(r.ended_sessions, 2);
        expect_login(f->m, "rc@example.org", OTHER_PASSWORD, STITCH_LOGIN_SESSION, 0);

        /* more this minute: over the recipient's budget at last */
        int k = 0;
        char from[32];
        for (unsigned i = 0; i < STITCH_USERPASS_MAILS_PER_RECIPIENT && k == 0; i++) {
                snprintf(from, sizeof(from), "192.0.2.%u", 100 + i);
                k = stitch_userpass_reset_call(f->m, "rc@example.org", OTHER_PASSWORD, "[\"yes\"]", from, &r);
        }
        assert_int_equal(k, -EBUSY);
        assert_int_equal(r.problem, STITCH_USERPASS_TOO_MANY_REQUESTS);

        /* pending: reset later with the token the command got */
        assert_int_equal(do_register(f, "rc2@example.org", OTHER_PASSWORD, NULL, &r), 0);
        assert_int_equal(stitch_userpass_reset_call(f->m, "rc2@example.org", "ignored password", "[\"later\"]", "192.0.2.6", &r), 0);
        assert_int_equal(r.problem, STITCH_USERPASS_PENDING);
        in = fopen(input, "re");
        assert_non_null(in);
        assert_non_null(fgets(text, sizeof(text), in));
        fclose(in);
        extract(text, "\"token\":\"", "\"tokenId\":\"", token, id);
        assert_int_equal(stitch_userpass_reset(f->m, token, id, PASSWORD, &r), 0);
        expect_login(f->m, "rc2@example.org", PASSWORD, STITCH_LOGIN_SESSION, 0);
}

static void test_admin(void **state) {
        struct fixture *f = *state;
        struct stitch_userpass_result r;
        struct stitch_account_result ar;
        struct stitch_user *u = NULL;
        char pending_id[STITCH_ID_LEN + 1];

        /* Registration=no: admins register anyway, without limits */
        start(f, "");
        for (unsigned i = 0; i < STITCH_USERPASS_REQUESTS_PER_ADDRESS + 1; i++) {
                char email[64];
                snprintf(email, sizeof(email), "adm%u@example.org", i);
                assert_int_equal(stitch_userpass_register(f->m,
                                                          &(struct stitch_userpass_registration) {
                                                                  .email = email, .password = PASSWORD, .by_admin = true},
                                                          &r),
                                 0);
        }
        memcpy(pending_id, r.user_id, sizeof(pending_id));
        assert_int_equal(stitch_userpass_admin_send_confirmation(f->m, pending_id, NULL, &r), 0);
        assert_int_equal(stitch_userpass_admin_confirm(f->m, pending_id, &r), 0);
        assert_int_equal(stitch_userpass_admin_confirm(f->m, pending_id, &r), -EALREADY);
        assert_int_equal(r.problem, STITCH_USERPASS_ALREADY_CONFIRMED);
        assert_int_equal(stitch_userpass_admin_send_confirmation(f->m, pending_id, NULL, &r), -EALREADY);
        assert_int_equal(stitch_userpass_admin_confirm(f->m, "000000000000000000000000", &r), -ENOENT);
        assert_int_equal(r.problem, STITCH_USERPASS_USER_NOT_FOUND);

        /* no mailer: said to admins */
        f->m->outbox = (struct stitch_outbox) {};
        assert_int_equal(stitch_userpass_admin_send_reset(f->m, pending_id, NULL, &r), -ENOTCONN);
        assert_int_equal(r.problem, STITCH_USERPASS_MAILER_UNAVAILABLE);
        /* a user without an email has no link to get */
        assert_int_equal(stitch_account_create(f->m, &(struct stitch_account_new) {.unix_name = "carl"}, &u, &ar), 0);
        assert_int_equal(stitch_userpass_admin_send_reset(f->m, u->id, NULL, &r), -ENOENT);
        assert_int_equal(r.problem, STITCH_USERPASS_USER_NOT_FOUND);
        u = stitch_user_free(u);
}

static void test_public_url(void **state) {
        struct stitch_config c = {};
        _cleanup_free_ char *a = NULL, *b = NULL;
        (void) state;

        assert_int_equal(stitch_public_url(&c, &a), -ENOENT);
        c.http_listen = (char *) "127.0.0.1:8080";
        assert_int_equal(stitch_public_url(&c, &a), 0);
        assert_string_equal(a, "http://127.0.0.1:8080");
        c.http_certificate_file = (char *) "/c";
        c.http_key_file = (char *) "/k";
        c.http_public_url = (char *) "https://id.example.com";
        assert_int_equal(stitch_public_url(&c, &b), 0);
        assert_string_equal(b, "https://id.example.com");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_register_and_confirm, setup, teardown),
                cmocka_unit_test_setup_teardown(test_expired_token, setup, teardown),
                cmocka_unit_test_setup_teardown(test_auto_confirm, setup, teardown),
                cmocka_unit_test_setup_teardown(test_email_domain, setup, teardown),
                cmocka_unit_test_setup_teardown(test_link_registered, setup, teardown),
                cmocka_unit_test_setup_teardown(test_confirmation_command, setup, teardown),
                cmocka_unit_test_setup_teardown(test_command_runner, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
                cmocka_unit_test_setup_teardown(test_enumeration, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reset_call, setup, teardown),
                cmocka_unit_test_setup_teardown(test_admin, setup, teardown),
                cmocka_unit_test(test_public_url),
        };
        stitch_log_set_max_level(LOG_WARNING);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
