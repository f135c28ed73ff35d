/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The custom-token provider (providers/custom-token.c) through the login
 * pipeline (core/login.c), on a real store: its section's errors with
 * file:line, init failures, app logins with HS256/ES256/RS256 tokens signed
 * here (jose-test-util), the refusals (wrong key, expired, alg none,
 * audience, required metadata), the metadata in the identity and the user,
 * the user made on the first app login and found on the next, and PAM
 * logins (only a user an admin gave the Unix account; never a new one). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "clock.h"
#include "core/config.h"
#include "core/core.h"
#include "core/https.h"
#include "core/jwks.h"
#include "core/login.h"
#include "jose-test-util.h"
#include "macro.h"
#include "store/store.h"

#define SECRET "0123456789abcdef0123456789abcdef-test-secret"
#define OTHER_SECRET "fedcba9876543210fedcba9876543210-other-secret"

/* Key files shared by every test. */
static char *secret_file, *other_secret_file, *es_file, *rs_file, *rs_private_file, *short_secret_file;
static EVP_PKEY *es_key, *rs_key, *es_other;

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

static int group_setup(void **state) {
        (void) state;
        es_key = tu_ec_new();
        es_other = tu_ec_new();
        rs_key = tu_rsa_new(2048);
        char *es_pem = tu_public_pem(es_key), *rs_pem = tu_public_pem(rs_key);
        secret_file = tu_write_file("secret", SECRET "\n", strlen(SECRET) + 1, 0600);
        other_secret_file = tu_write_file("other", OTHER_SECRET, strlen(OTHER_SECRET), 0600);
        short_secret_file = tu_write_file("short", "tooshort", 8, 0600);
        es_file = tu_write_file("es.pem", es_pem, strlen(es_pem), 0644);
        rs_file = tu_write_file("rs.pem", rs_pem, strlen(rs_pem), 0644);
        rs_private_file = tu_write_file("rs-0600.pem", rs_pem, strlen(rs_pem), 0600);
        free(es_pem);
        free(rs_pem);
        return 0;
}

static void remove_file(char *path) {
        (void) unlink(path);
        char *slash = strrchr(path, '/');
        *slash = 0;
        (void) rmdir(path);
        free(path);
}

static int group_teardown(void **state) {
        (void) state;
        remove_file(secret_file);
        remove_file(other_secret_file);
        remove_file(short_secret_file);
        remove_file(es_file);
        remove_file(rs_file);
        remove_file(rs_private_file);
        EVP_PKEY_free(es_key);
        EVP_PKEY_free(es_other);
        EVP_PKEY_free(rs_key);
        return 0;
}

/* Loads the config text (after a store line); errors go to *ret_errors. */
static int load(struct stitch_config *c, const char *dir, const char *extra, char **ret_errors) {
        char text[4096];
        size_t size = 0;
        int n = snprintf(text, sizeof(text),
                         "[Daemon]\nStore=sqlite:%s/stitch.db\nWorkers=1\n"
                         "[Pam]\nServices=login\n"
                         "[Limits]\nMaxFailures=1000\n"
                         "[Http]\nAppId=myapp-abcde\n"
                         "%s",
                         dir, extra);
        assert_true(n > 0 && (size_t) n < sizeof(text));
        FILE *errors = open_memstream(ret_errors, &size);
        assert_non_null(errors);
        assert_int_equal(stitch_config_init_defaults(c), 0);
        int r = stitch_config_load_buffer(c, "test.conf", text, strlen(text), errors);
        fclose(errors);
        return r;
}

/* Removed after the config is parsed, before the core starts. */
static const char *unlink_before_start;

/* A core on a temp store; returns what stitch_core_start() did. */
static int start(struct fixture *f, const char *extra) {
        struct stitch_config c;
        _cleanup_free_ char *errors = NULL;
        const char *tmp = getenv("TMPDIR");

        snprintf(f->dir, sizeof(f->dir), "%s/test-custom-token-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(f->dir));
        int r = load(&c, f->dir, extra, &errors);
        if (r < 0)
                fprintf(stderr, "%s", errors);
        assert_int_equal(r, 0);
        if (unlink_before_start)
                assert_int_equal(unlink(unlink_before_start), 0);
        unlink_before_start = NULL;
        assert_int_equal(stitch_core_new(&c, &f->m), 0);
        return stitch_core_start(f->m);
}

static void stop(struct fixture *f) {
        stitch_core_free(f->m);
        f->m = NULL;
        (void) nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static char section_text[1024];

static const char *section(const char *alg, const char *key_file, const char *more) {
        assert_true(strlen(key_file) + (more ? strlen(more) : 0) < 800);
        (void) snprintf(section_text, sizeof(section_text),
                 "[Provider.custom-token]\nEnabled=yes\nSigningAlgorithm=%s\nSigningKeyFile=%s\n%s", alg, key_file,
                 more ? more : "");
        return section_text;
}

/* ---- tokens ------------------------------------------------------------------ */

static char *token(const char *alg, EVP_PKEY *key, const char *secret, const char *sub, const char *aud,
                   int64_t exp_from_now, const char *extra_claims) {
        char header[64], payload[2048];
        snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
        snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",\"aud\":%s,\"exp\":%lld,\"iat\":%lld%s%s}", sub, aud,
                 (long long) (stitch_now() + exp_from_now), (long long) stitch_now(), extra_claims ? "," : "",
                 extra_claims ? extra_claims : "");
        return tu_token(header, payload, alg, key, secret, secret ? strlen(secret) : 0);
}

static char *hs(const char *sub, const char *extra_claims) {
        return token("HS256", NULL, SECRET, sub, "\"myapp-abcde\"", 600, extra_claims);
}

/* ---- logins ------------------------------------------------------------------ */

struct round {
        const char *provider; /* NULL: auto */
        const char *credential; /* "token" (default) or "secret" */
        const char *token;
        const char *user;     /* NULL: an app login */
        bool identify_only;
};

static void run(struct stitch_core *m, const struct round *a, struct stitch_login_result *ret) {
        struct stitch_credentials cr = {};
        assert_int_equal(stitch_credentials_put(&cr, a->credential ? a->credential : "token", a->token), 0);
        struct stitch_login_request req = {
                .provider = a->provider,
                .identify_only = a->identify_only,
                .login = {
                        .app = !a->user,
                        .user = a->user ? a->user : "",
                        .service = a->user ? "login" : "http",
                        .rhost = a->user ? NULL : "192.0.2.1",
                        .cred = {.pid = getpid(), .uid = 0, .gid = 0},
                        .interactive = !!a->user,
                        .credentials = &cr,
                },
        };
        assert_int_equal(stitch_login_run(m, &req, ret), 0);
}

/* The app login's outcome (SESSION or the failure). */
static int app_login(struct stitch_core *m, const char *tok) {
        struct stitch_login_result res;
        run(m, &(struct round) {.provider = "custom-token", .token = tok}, &res);
        int r = res.outcome == STITCH_LOGIN_SESSION ? 0 : res.outcome == STITCH_LOGIN_FAILED ? -(int) res.failure - 1 : -1000;
        stitch_login_result_done(&res);
        return r;
}
#define REFUSED (-(int) STITCH_LOGIN_INVALID_CREDENTIALS - 1)
/* No keys to be had from the issuer: not the token's fault (HTTP 503). */
#define UNAVAILABLE (-(int) STITCH_LOGIN_INTERNAL - 1)

/* The user a token names (identify_only, as linking runs it); NULL if refused. */
static struct stitch_user *identify(struct stitch_core *m, const char *tok) {
        struct stitch_login_result res;
        run(m, &(struct round) {.provider = "custom-token", .token = tok, .identify_only = true}, &res);
        struct stitch_user *u = res.outcome == STITCH_LOGIN_IDENTIFIED ? TAKE_PTR(res.user) : NULL;
        stitch_login_result_done(&res);
        return u;
}

static uint64_t users(struct stitch_core *m) {
        uint64_t n = 0;
        assert_int_equal(m->store_ops->user_count(m->store, &n), 0);
        return n;
}

/* ---- the section --------------------------------------------------------------- */

static void expect_config_error(const char *extra, const char *where, const char *what) {
        struct stitch_config c;
        _cleanup_free_ char *errors = NULL;
        int r = load(&c, "/tmp", extra, &errors);
        if (r != -EINVAL || !strstr(errors, where) || !strstr(errors, what))
                fail_msg("config\n%s\ngave %d: %s (expected %s ... %s)", extra, r, errors, where, what);
        stitch_config_done(&c);
}

static void test_config_errors(void **unused) {
        (void) unused;
        char text[2048];
        /* The section starts at line 10 of load()'s text. */
        expect_config_error("[Provider.custom-token]\nSigningAlgorithm=HS512\n", "test.conf:11:", "HS256");
        expect_config_error("[Provider.custom-token]\nSigningAlgorithm=none\n", "test.conf:11:", "HS256");
        snprintf(text, sizeof(text), "[Provider.custom-token]\nEnabled=no\nSigningKeyFile=%s %s %s %s\n", secret_file,
                 other_secret_file, es_file, rs_file);
        expect_config_error(text, "test.conf:12:", "at most 3 paths");
        expect_config_error("[Provider.custom-token]\nSigningKeyFile=/nonexistent/stitch/key\n", "test.conf:11:",
                            "no such file");
        expect_config_error("[Provider.custom-token]\nSigningKeyFile=relative/key\n", "test.conf:11:",
                            "not an absolute path");
        expect_config_error("[Provider.custom-token]\nMetadataFields=name a\\qb\n", "test.conf:11:", "MetadataFields=");
        expect_config_error("[Provider.custom-token]\nMetadataFields=name=x email=x\n", "test.conf:11:",
                            "MetadataFields=");
        expect_config_error("[Provider.custom-token]\nUnixNameClaim=login!\n", "test.conf:11:", "UnixNameClaim=");
        expect_config_error("[Provider.custom-token]\nRequireAnyAudience=maybe\n", "test.conf:11:", "RequireAnyAudience=");
        expect_config_error("[Provider.custom-token]\nBogus=1\n", "test.conf:11:", "Bogus");
        expect_config_error("[Provider.custom-token]\nEnabled=yes\n", "test.conf:", "requires SigningKeyFile=");
        expect_config_error("[Provider.custom-token]\nJWKSURL=http://issuer.example/jwks\n", "test.conf:11:",
                            "expected an https:// URL");
        expect_config_error("[Provider.custom-token]\nJWKSURL=https://user@issuer.example/jwks\n", "test.conf:11:",
                            "user information");
        /* Plain http to loopback only with the test switch. */
        expect_config_error("[Provider.custom-token]\nSigningAlgorithm=RS256\nJWKSURL=http://127.0.0.1:8080/jwks\n",
                            "test.conf:", "AllowInsecureLoopback=yes");
        expect_config_error("[Network]\nAllowInsecureLoopback=yes\n[Provider.custom-token]\nSigningAlgorithm=RS256\n"
                            "JWKSURL=http://10.0.0.1/jwks\n",
                            "test.conf:", "AllowInsecureLoopback=yes");
        /* Secrets are never fetched. */
        expect_config_error("[Provider.custom-token]\nJWKSURL=https://issuer.example/jwks\n", "test.conf:",
                            "JWKSURL= requires SigningAlgorithm=RS256 or ES256");

        /* And a good one parses. */
        struct stitch_config c;
        _cleanup_free_ char *errors = NULL;
        snprintf(text, sizeof(text),
                 "[Provider.custom-token]\nEnabled=yes\nSigningKeyFile=%s %s\nAudience=a b\nRequireAnyAudience=yes\n"
                 "MetadataFields=user_data.name=name email! http://example\\.com/id=ex\nUnixNameClaim=login\n",
                 secret_file, other_secret_file);
        assert_int_equal(load(&c, "/tmp", text, &errors), 0);
        stitch_config_done(&c);
}

static void test_init_failures(void **unused) {
        (void) unused;
        struct fixture f = {};
        char text[sizeof(section_text)];

        /* A key file that went between parsing and start. */
        char *gone = tu_write_file("gone", SECRET, strlen(SECRET), 0600);
        snprintf(text, sizeof(text), "%s", section("HS256", gone, NULL));
        unlink_before_start = gone;
        assert_int_equal(start(&f, text), -ENOENT);
        stop(&f);
        remove_file(gone);

        /* A secret too short for HS256; a PEM key where a secret belongs. */
        assert_int_equal(start(&f, section("HS256", short_secret_file, NULL)), -EKEYREJECTED);
        stop(&f);
        assert_int_equal(start(&f, section("HS256", rs_private_file, NULL)), -EKEYREJECTED);
        stop(&f);
        /* An EC key for RS256. */
        assert_int_equal(start(&f, section("RS256", es_file, NULL)), -EKEYREJECTED);
        stop(&f);
        /* A secret file others may read. */
        char *open_secret = tu_write_file("open", SECRET, strlen(SECRET), 0644);
        assert_true(start(&f, section("HS256", open_secret, NULL)) < 0);
        stop(&f);
        remove_file(open_secret);
        /* JWKSURL= with key files: one or the other. */
        assert_int_equal(start(&f, section("RS256", rs_file, "JWKSURL=https://issuer.example/jwks\n")), -EINVAL);
        stop(&f);
        /* JWKSURL= alone starts without fetching anything (issuer.example does not answer). */
        assert_int_equal(start(&f, "[Provider.custom-token]\nEnabled=yes\nSigningAlgorithm=RS256\n"
                                   "JWKSURL=https://issuer.example/jwks\n"),
                         0);
        stop(&f);
}

/* ---- app logins ----------------------------------------------------------------- */

static void test_app_login_hs256(void **unused) {
        (void) unused;
        struct fixture f = {};
        assert_int_equal(start(&f, section("HS256", secret_file, "MetadataFields=user_data.name=name email\n")), 0);

        _cleanup_free_ char *t1 = hs("24601", "\"email\":\"jv@example.com\",\"user_data\":{\"name\":\"Jean\"}");
        uint64_t before = users(f.m);
        assert_int_equal(app_login(f.m, t1), 0);
        assert_int_equal(users(f.m), before + 1); /* made on the first login */
        assert_int_equal(app_login(f.m, t1), 0);
        assert_int_equal(users(f.m), before + 1); /* found on the second */

        _cleanup_(stitch_user_freep) struct stitch_user *u = identify(f.m, t1);
        assert_non_null(u);
        assert_int_equal(u->n_identities, 1);
        assert_string_equal(u->identities[0].provider_type, "custom-token");
        assert_int_equal(strlen(u->identities[0].id), STITCH_ID_LEN);
        assert_non_null(strstr(u->identities[0].data_json, "\"name\":\"Jean\""));
        assert_non_null(strstr(u->identities[0].data_json, "\"email\":\"jv@example.com\""));
        assert_non_null(strstr(u->data_json, "\"name\":\"Jean\""));

        /* The metadata is refreshed on each login; the user stays the same. */
        _cleanup_free_ char *t2 = hs("24601", "\"email\":\"jv@example.com\",\"user_data\":{\"name\":\"Valjean\"}");
        assert_int_equal(app_login(f.m, t2), 0);
        _cleanup_(stitch_user_freep) struct stitch_user *again = identify(f.m, t2);
        assert_non_null(again);
        assert_string_equal(again->id, u->id);
        assert_non_null(strstr(again->identities[0].data_json, "\"name\":\"Valjean\""));
        assert_non_null(strstr(again->data_json, "\"name\":\"Valjean\""));

        /* Another sub is another user. */
        _cleanup_free_ char *t3 = hs("javert", NULL);
        _cleanup_(stitch_user_freep) struct stitch_user *other = identify(f.m, t3);
        assert_non_null(other);
        assert_string_not_equal(other->id, u->id);
        stop(&f);
}

static void test_app_login_es256_rs256(void **unused) {
        (void) unused;
        struct fixture f = {};

        assert_int_equal(start(&f, section("ES256", es_file, NULL)), 0);
        _cleanup_free_ char *es = token("ES256", es_key, NULL, "ec-user", "\"myapp-abcde\"", 600, NULL);
        _cleanup_free_ char *es_wrong = token("ES256", es_other, NULL, "ec-user", "\"myapp-abcde\"", 600, NULL);
        _cleanup_free_ char *hs_here = hs("ec-user", NULL);
        assert_int_equal(app_login(f.m, es), 0);
        assert_int_equal(app_login(f.m, es_wrong), REFUSED);
        assert_int_equal(app_login(f.m, hs_here), REFUSED); /* alg is the config's */
        stop(&f);

        assert_int_equal(start(&f, section("RS256", rs_file, NULL)), 0);
        _cleanup_free_ char *rs = token("RS256", rs_key, NULL, "rsa-user", "[\"x\",\"myapp-abcde\"]", 600, NULL);
        _cleanup_free_ char *rs_as_es = token("ES256", es_key, NULL, "rsa-user", "\"myapp-abcde\"", 600, NULL);
        assert_int_equal(app_login(f.m, rs), 0);
        assert_int_equal(app_login(f.m, rs_as_es), REFUSED);
        stop(&f);
}

static void test_refusals(void **unused) {
        (void) unused;
        struct fixture f = {};
        char text[sizeof(section_text)];
        snprintf(text, sizeof(text), "%s", section("HS256", secret_file, "MetadataFields=email!\n"));
        assert_int_equal(start(&f, text), 0);
        uint64_t before = users(f.m);

        _cleanup_free_ char *good = hs("s1", "\"email\":\"a@example.com\"");
        _cleanup_free_ char *wrong_key = token("HS256", NULL, OTHER_SECRET, "s1", "\"myapp-abcde\"", 600,
                                               "\"email\":\"a@example.com\"");
        _cleanup_free_ char *expired = token("HS256", NULL, SECRET, "s1", "\"myapp-abcde\"", -3600,
                                             "\"email\":\"a@example.com\"");
        _cleanup_free_ char *none = token("none", NULL, NULL, "s1", "\"myapp-abcde\"", 600, "\"email\":\"a@example.com\"");
        _cleanup_free_ char *other_aud = token("HS256", NULL, SECRET, "s1", "\"someone-else\"", 600,
                                               "\"email\":\"a@example.com\"");
        _cleanup_free_ char *no_email = hs("s1", NULL);
        _cleanup_free_ char *tampered = strdup(good);
        tampered[strlen(tampered) - 2] = tampered[strlen(tampered) - 2] == 'A' ? 'B' : 'A';

        assert_int_equal(app_login(f.m, wrong_key), REFUSED);
        assert_int_equal(app_login(f.m, expired), REFUSED);
        assert_int_equal(app_login(f.m, none), REFUSED);
        assert_int_equal(app_login(f.m, other_aud), REFUSED);
        assert_int_equal(app_login(f.m, no_email), REFUSED); /* a required field is missing */
        assert_int_equal(app_login(f.m, tampered), REFUSED);
        assert_int_equal(app_login(f.m, "not a token"), REFUSED);
        assert_int_equal(users(f.m), before); /* nothing refused made a user */
        assert_int_equal(app_login(f.m, good), 0);
        stop(&f);
}

static void test_audience_rules(void **unused) {
        (void) unused;
        struct fixture f = {};
        _cleanup_free_ char *both = token("HS256", NULL, SECRET, "a", "[\"aud1\",\"aud2\"]", 600, NULL);
        _cleanup_free_ char *one = token("HS256", NULL, SECRET, "a", "\"aud1\"", 600, NULL);
        _cleanup_free_ char *app = hs("a", NULL);

        /* All configured audiences must be there (RequireAnyAudience=no); the AppId plays no part. */
        assert_int_equal(start(&f, section("HS256", secret_file, "Audience=aud1 aud2\n")), 0);
        assert_int_equal(app_login(f.m, both), 0);
        assert_int_equal(app_login(f.m, one), REFUSED);
        assert_int_equal(app_login(f.m, app), REFUSED);
        stop(&f);
        /* Any one is enough. */
        assert_int_equal(start(&f, section("HS256", secret_file, "Audience=aud1 aud2\nRequireAnyAudience=yes\n")), 0);
        assert_int_equal(app_login(f.m, both), 0);
        assert_int_equal(app_login(f.m, one), 0);
        assert_int_equal(app_login(f.m, app), REFUSED);
        stop(&f);
        /* No Audience=: the AppId must be in aud. */
        assert_int_equal(start(&f, section("HS256", secret_file, NULL)), 0);
        assert_int_equal(app_login(f.m, app), 0);
        assert_int_equal(app_login(f.m, one), REFUSED);
        stop(&f);
}

/* Key rotation: any of the configured keys verifies. */
static void test_two_keys(void **unused) {
        (void) unused;
        struct fixture f = {};
        char files[1024];
        snprintf(files, sizeof(files), "%s %s", secret_file, other_secret_file);
        assert_int_equal(start(&f, section("HS256", files, NULL)), 0);
        _cleanup_free_ char *a = hs("k", NULL);
        _cleanup_free_ char *b = token("HS256", NULL, OTHER_SECRET, "k", "\"myapp-abcde\"", 600, NULL);
        _cleanup_free_ char *c = token("HS256", NULL, "a-third-secret-that-nobody-configured!", "k", "\"myapp-abcde\"",
                                       600, NULL);
        assert_int_equal(app_login(f.m, a), 0);
        assert_int_equal(app_login(f.m, b), 0);
        assert_int_equal(app_login(f.m, c), REFUSED);
        stop(&f);
}

/* ---- PAM logins ---------------------------------------------------------------- */

static int pam_login(struct stitch_core *m, const char *provider, const char *credential, const char *tok,
                     const char *user) {
        struct stitch_login_result res;
        run(m, &(struct round) {.provider = provider, .credential = credential, .token = tok, .user = user}, &res);
        int r = res.outcome == STITCH_LOGIN_SESSION ? 0 : res.outcome == STITCH_LOGIN_FAILED ? -(int) res.failure - 1 : -1000;
        if (r == 0)
                assert_true(res.authtok_is_not_password); /* never handed to the next module */
        stitch_login_result_done(&res);
        return r;
}

static void set_unix_name(struct stitch_core *m, struct stitch_user *u, const char *name) {
        free(u->unix_name);
        u->unix_name = strdup(name);
        assert_non_null(u->unix_name);
        assert_int_equal(m->store_ops->user_update(m->store, u), 0);
}

static void test_pam(void **unused) {
        (void) unused;
        struct fixture f = {};
        assert_int_equal(start(&f, section("HS256", secret_file, NULL)), 0);
        _cleanup_free_ char *t = hs("pam-user", NULL);

        /* Unknown identity: refused, and no user is made. */
        uint64_t before = users(f.m);
        assert_int_equal(pam_login(f.m, "custom-token", "token", t, "ada"), REFUSED);
        assert_int_equal(pam_login(f.m, NULL, "secret", t, "ada"), REFUSED);
        assert_int_equal(users(f.m), before);

        /* Made by an app login: no Unix account yet, so still refused. */
        assert_int_equal(app_login(f.m, t), 0);
        assert_int_equal(pam_login(f.m, "custom-token", "token", t, "ada"), REFUSED);

        /* An admin gives it "ada": that account only. */
        _cleanup_(stitch_user_freep) struct stitch_user *u = identify(f.m, t);
        assert_non_null(u);
        set_unix_name(f.m, u, "ada");
        assert_int_equal(pam_login(f.m, "custom-token", "token", t, "ada"), 0);
        assert_int_equal(pam_login(f.m, NULL, "secret", t, "ada"), 0); /* auto knows a JWT */
        assert_int_equal(pam_login(f.m, "custom-token", "token", t, "bob"), REFUSED);
        _cleanup_free_ char *wrong = token("HS256", NULL, OTHER_SECRET, "pam-user", "\"myapp-abcde\"", 600, NULL);
        assert_int_equal(pam_login(f.m, "custom-token", "token", wrong, "ada"), REFUSED);
        stop(&f);

        /* UnixNameClaim=: the token must name the account too. */
        assert_int_equal(start(&f, section("HS256", secret_file, "UnixNameClaim=posix.login\n")), 0);
        _cleanup_free_ char *named = hs("pam-user", "\"posix\":{\"login\":\"ada\"}");
        _cleanup_free_ char *other = hs("pam-user", "\"posix\":{\"login\":\"bob\"}");
        assert_int_equal(app_login(f.m, named), 0);
        _cleanup_(stitch_user_freep) struct stitch_user *v = identify(f.m, named);
        assert_non_null(v);
        set_unix_name(f.m, v, "ada");
        assert_int_equal(pam_login(f.m, "custom-token", "token", named, "ada"), 0);
        assert_int_equal(pam_login(f.m, "custom-token", "token", other, "ada"), REFUSED);
        assert_int_equal(pam_login(f.m, "custom-token", "token", t, "ada"), REFUSED); /* no claim */
        stop(&f);
}

/* Disabled, a JWT at "Password: " is a password (and custom-token refuses). */
static void test_disabled(void **unused) {
        (void) unused;
        struct fixture f = {};
        assert_int_equal(start(&f, ""), 0);
        _cleanup_free_ char *t = hs("x", NULL);
        assert_int_equal(app_login(f.m, t), -(int) STITCH_LOGIN_PERMISSION_DENIED - 1);
        stop(&f);
}

/* ---- JWKSURL= (a fetcher of the test's own instead of the daemon's) --------------- */

static struct {
        unsigned calls;
        int error;          /* < 0: fail with it */
        const char *body;   /* the JWK Set served */
        const char *cache_control;
        const char *url;    /* the URL asked for */
        bool insecure;
        unsigned delay_usec;
} fake;

static int fake_https_get(const struct stitch_https_options *o, const char *url, char **ret_body, size_t *ret_len,
                          char **ret_cache_control, char *error, size_t error_size) {
        fake.calls++;
        fake.url = url;
        fake.insecure = o->allow_insecure_loopback;
        assert_int_equal(o->max_response, STITCH_JWKS_MAX_DOCUMENT);
        if (fake.delay_usec)
                usleep(fake.delay_usec);
        if (fake.error < 0) {
                snprintf(error, error_size, "cannot connect (refused)");
                return fake.error;
        }
        *ret_body = strdup(fake.body);
        *ret_len = strlen(fake.body);
        *ret_cache_control = fake.cache_control ? strdup(fake.cache_control) : NULL;
        return 0;
}

static char *kid_token(EVP_PKEY *key, const char *kid, const char *sub) {
        char header[128], payload[256];
        snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"kid\":\"%s\"}", kid);
        snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",\"aud\":\"myapp-abcde\",\"exp\":%lld}", sub,
                 (long long) (stitch_now() + 600));
        return tu_token(header, payload, "ES256", key, NULL, 0);
}

struct concurrent {
        struct stitch_core *m;
        const char *token;
        int result;
};

static void *concurrent_login(void *userdata) {
        struct concurrent *c = userdata;
        c->result = app_login(c->m, c->token);
        return NULL;
}

static void test_jwks_url(void **unused) {
        (void) unused;
        struct fixture f = {};
        static const char jwks_section[] = "[Provider.custom-token]\nEnabled=yes\nSigningAlgorithm=ES256\n"
                                           "JWKSURL=https://issuer.example/keys.json\n";
        char *members = tu_jwk_members(es_key);
        char set[4096];
        snprintf(set, sizeof(set), "{\"keys\":[{\"kid\":\"k1\",%s}]}", members);
        free(members);
        _cleanup_free_ char *t1 = kid_token(es_key, "k1", "jwks-user");
        _cleanup_free_ char *t2 = kid_token(es_other, "k2", "jwks-user");

        /* No fetcher at all (the unit tests' core has none): unavailable, not crashed. */
        assert_int_equal(start(&f, jwks_section), 0);
        assert_int_equal(app_login(f.m, t1), UNAVAILABLE);
        stop(&f);

        /* The issuer is down at the first login: unavailable; up later: fetched then. */
        fake = (typeof(fake)) {.error = -ECONNREFUSED, .body = set, .cache_control = "max-age=600"};
        assert_int_equal(start(&f, jwks_section), 0);
        assert_int_equal(fake.calls, 0); /* nothing at start */
        f.m->https_get = fake_https_get;
        assert_int_equal(app_login(f.m, t1), UNAVAILABLE);
        assert_int_equal(fake.calls, 1);
        fake.error = 0;
        assert_int_equal(app_login(f.m, t1), 0);
        assert_int_equal(fake.calls, 2);
        assert_string_equal(fake.url, "https://issuer.example/keys.json");
        assert_false(fake.insecure);
        /* Cached (max-age=600): no fetch for the next login. */
        assert_int_equal(app_login(f.m, t1), 0);
        assert_int_equal(fake.calls, 2);

        /* An unknown kid fetches once more; a second one within the minute does not. */
        assert_int_equal(app_login(f.m, t2), REFUSED);
        assert_int_equal(fake.calls, 3);
        assert_int_equal(app_login(f.m, t2), REFUSED);
        assert_int_equal(fake.calls, 3);
        /* The issuer goes down: the last good set keeps serving. */
        fake.error = -ECONNREFUSED;
        assert_int_equal(app_login(f.m, t1), 0);
        stop(&f);

        /* no-store: expired at once, but fetched again at most once a minute;
         * the expired set serves meanwhile. */
        fake = (typeof(fake)) {.body = set, .cache_control = "no-store"};
        assert_int_equal(start(&f, jwks_section), 0);
        f.m->https_get = fake_https_get;
        assert_int_equal(app_login(f.m, t1), 0);
        assert_int_equal(app_login(f.m, t1), 0);
        assert_int_equal(fake.calls, 1);
        stop(&f);

        /* Logins that arrive while the first fetch is under way wait for it: one fetch. */
        fake = (typeof(fake)) {.body = set, .delay_usec = 300000};
        assert_int_equal(start(&f, jwks_section), 0);
        f.m->https_get = fake_https_get;
        struct concurrent c[4];
        pthread_t threads[ELEMENTSOF(c)];
        for (size_t i = 0; i < ELEMENTSOF(c); i++) {
                c[i] = (struct concurrent) {.m = f.m, .token = t1};
                assert_int_equal(pthread_create(&threads[i], NULL, concurrent_login, &c[i]), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(c); i++) {
                assert_int_equal(pthread_join(threads[i], NULL), 0);
                assert_int_equal(c[i].result, 0);
        }
        assert_int_equal(fake.calls, 1);
        stop(&f);

        /* Not a JWK Set, or no usable key: no keys to be had, unavailable. */
        fake = (typeof(fake)) {.body = "{\"keys\":[]}"};
        assert_int_equal(start(&f, jwks_section), 0);
        f.m->https_get = fake_https_get;
        assert_int_equal(app_login(f.m, t1), UNAVAILABLE);
        fake.body = "<html>";
        assert_int_equal(app_login(f.m, t1), UNAVAILABLE);
        assert_int_equal(fake.calls, 2);
        stop(&f);

        /* The test switch reaches the fetcher (and may come after the section it allows). */
        fake = (typeof(fake)) {.body = set};
        assert_int_equal(start(&f, "[Provider.custom-token]\nEnabled=yes\nSigningAlgorithm=ES256\n"
                                   "JWKSURL=http://127.0.0.1:9/keys.json\n[Network]\nAllowInsecureLoopback=yes\n"),
                         0);
        f.m->https_get = fake_https_get;
        assert_int_equal(app_login(f.m, t1), 0);
        assert_true(fake.insecure);
        stop(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_config_errors),
                cmocka_unit_test(test_init_failures),
                cmocka_unit_test(test_app_login_hs256),
                cmocka_unit_test(test_app_login_es256_rs256),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_audience_rules),
                cmocka_unit_test(test_two_keys),
                cmocka_unit_test(test_pam),
                cmocka_unit_test(test_disabled),
                cmocka_unit_test(test_jwks_url),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
