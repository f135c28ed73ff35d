/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* stitchd.conf parser: defaults, every key, every kind of error with its exact
 * "file:line:" prefix, durations, lists, and loading from disk. */

#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "macro.h"
#include "stitchd/core/config.h"
#include "strv.h"

#define SEC_USEC UINT64_C(1000000)
#define MIN_USEC (60 * SEC_USEC)
#define HOUR_USEC (60 * MIN_USEC)
#define DAY_USEC (24 * HOUR_USEC)

/* Loads 'text' over the defaults; returns the return code and what went to 'errors'. */
/* A key's field, by name: the provider sections' structs are their files' own. */
static const void *value_of(const struct stitch_config *c, const char *section, const char *key) {
        const void *v = stitch_config_value(c, section, key);
        if (!v)
                fail_msg("no [%s] %s=", section, key);
        return v;
}
#define CFG(c, section, key, type) (*(type const *) value_of((c), section, key))

static int load_text(struct stitch_config *c, const char *text, size_t len, char **ret_errors) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        assert_non_null(f);

        int r = stitch_config_load_buffer(c, "test.conf", text, len, f);
        assert_int_equal(fclose(f), 0);
        *ret_errors = buf;
        return r;
}

/* Expects 'text' to fail with exactly 'expected' on the error stream, leaving c at the defaults. */
static void expect_errors(const char *text, const char *expected) {
        struct stitch_config c, d;
        _cleanup_free_ char *errors = NULL;

        assert_int_equal(stitch_config_init_defaults(&c), 0);
        int r = load_text(&c, text, strlen(text), &errors);
        if (!streq(errors, expected))
                fail_msg("input:\n%s\nexpected errors:\n%sgot:\n%s", text, expected, errors);
        assert_int_equal(r, -EINVAL);

        /* a failed load changes nothing */
        assert_int_equal(stitch_config_init_defaults(&d), 0);
        assert_string_equal(c.store, d.store);
        assert_int_equal(c.workers, d.workers);
        assert_int_equal(c.access_token_lifetime_usec, d.access_token_lifetime_usec);
        assert_int_equal(CFG(&c, "Provider.anon-user", "Enabled", bool), CFG(&d, "Provider.anon-user", "Enabled", bool));
        assert_string_equal(c.services[0], "*");
        stitch_config_done(&c);
        stitch_config_done(&d);
}

/* Expects 'text' to load; the caller checks c and calls stitch_config_done(). */
static void expect_ok(struct stitch_config *c, const char *text) {
        _cleanup_free_ char *errors = NULL;

        assert_int_equal(stitch_config_init_defaults(c), 0);
        int r = load_text(c, text, strlen(text), &errors);
        if (r != 0 || !streq(errors, ""))
                fail_msg("input:\n%s\nunexpected r=%d errors:\n%s", text, r, errors);
}

static void assert_strv(char *const *l, const char *const *expected, size_t n) {
        assert_non_null(l);
        assert_int_equal(stitch_strv_length(l), n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(l[i], expected[i]);
}

static void assert_strv_equal(char *const *a, char *const *b) {
        assert_int_equal(stitch_strv_length(a), stitch_strv_length(b));
        for (size_t i = 0; i < stitch_strv_length(a); i++)
                assert_string_equal(a[i], b[i]);
}

static void assert_config_equal(const struct stitch_config *a, const struct stitch_config *b) {
        assert_true(streq_ptr(a->store, b->store));
        assert_true(streq_ptr(a->auth_socket, b->auth_socket));
        assert_true(streq_ptr(a->admin_socket, b->admin_socket));
        assert_true(streq_ptr(a->admin_group, b->admin_group));
        assert_int_equal(a->workers, b->workers);
        assert_int_equal(a->log_level, b->log_level);
        assert_int_equal(a->access_token_lifetime_usec, b->access_token_lifetime_usec);
        assert_int_equal(a->refresh_token_lifetime_usec, b->refresh_token_lifetime_usec);
        assert_int_equal(a->refresh_margin_usec, b->refresh_margin_usec);
        assert_int_equal(a->signing_algorithm, b->signing_algorithm);
        assert_int_equal(a->rotate_refresh_tokens, b->rotate_refresh_tokens);
        assert_true(streq_ptr(a->email_domain, b->email_domain));
        assert_strv_equal(a->services, b->services);
        assert_int_equal(CFG(a, "Provider.local-userpass", "Enabled", bool), CFG(b, "Provider.local-userpass", "Enabled", bool));
        assert_int_equal(CFG(a, "Provider.local-userpass", "MinPasswordLength", unsigned), CFG(b, "Provider.local-userpass", "MinPasswordLength", unsigned));
        assert_int_equal(CFG(a, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).m_kib, CFG(b, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).m_kib);
        assert_int_equal(CFG(a, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).t, CFG(b, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).t);
        assert_int_equal(CFG(a, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).p, CFG(b, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).p);
        assert_int_equal(CFG(a, "Provider.api-key", "Enabled", bool), CFG(b, "Provider.api-key", "Enabled", bool));
        assert_int_equal(CFG(a, "Provider.anon-user", "Enabled", bool), CFG(b, "Provider.anon-user", "Enabled", bool));
        assert_true(streq_ptr(CFG(a, "Provider.anon-user", "UnixUser", char *), CFG(b, "Provider.anon-user", "UnixUser", char *)));
        assert_strv_equal(CFG(a, "Provider.anon-user", "Services", char **), CFG(b, "Provider.anon-user", "Services", char **));
        assert_int_equal(a->max_failures, b->max_failures);
        assert_int_equal(a->failure_window_usec, b->failure_window_usec);
        assert_int_equal(a->backoff_max_usec, b->backoff_max_usec);
        assert_int_equal(a->tracked_accounts, b->tracked_accounts);
        assert_int_equal(a->max_connections, b->max_connections);
        assert_int_equal(a->max_connections_per_user, b->max_connections_per_user);
        assert_int_equal(a->idle_timeout_usec, b->idle_timeout_usec);
        assert_int_equal(a->on_revoke, b->on_revoke);
        assert_int_equal(a->max_sessions_per_user, b->max_sessions_per_user);
        assert_int_equal(a->end_on_password_change, b->end_on_password_change);
        assert_true(streq_ptr(a->http_listen, b->http_listen));
        assert_true(streq_ptr(a->http_app_id, b->http_app_id));
        assert_true(streq_ptr(a->http_public_url, b->http_public_url));
        assert_true(streq_ptr(a->http_certificate_file, b->http_certificate_file));
        assert_true(streq_ptr(a->http_key_file, b->http_key_file));
        assert_strv_equal(a->http_allow_origins, b->http_allow_origins);
        assert_strv_equal(a->http_trusted_proxies, b->http_trusted_proxies);
        assert_int_equal(a->http_metrics, b->http_metrics);
        assert_int_equal(a->http_max_connections, b->http_max_connections);
        assert_int_equal(a->http_max_connections_per_address, b->http_max_connections_per_address);
        assert_int_equal(a->http_timeout_usec, b->http_timeout_usec);
        assert_int_equal(a->http_address_prefix_ipv4, b->http_address_prefix_ipv4);
        assert_int_equal(a->http_address_prefix_ipv6, b->http_address_prefix_ipv6);
        assert_int_equal(a->http_threads, b->http_threads);
        assert_int_equal(a->caller_logins_per_minute, b->caller_logins_per_minute);
        assert_int_equal(a->accounts_userdb, b->accounts_userdb);
        assert_int_equal(a->accounts_uid_range.min, b->accounts_uid_range.min);
        assert_int_equal(a->accounts_uid_range.max, b->accounts_uid_range.max);
        assert_true(streq_ptr(a->accounts_home_base, b->accounts_home_base));
        assert_true(streq_ptr(a->accounts_shell, b->accounts_shell));
        assert_strv_equal(a->accounts_groups, b->accounts_groups);
        assert_int_equal(a->accounts_enumerate, b->accounts_enumerate);
        assert_int_equal(CFG(a, "Provider.local-userpass", "Registration", bool), CFG(b, "Provider.local-userpass", "Registration", bool));
        assert_int_equal(CFG(a, "Provider.local-userpass", "AutoConfirm", bool), CFG(b, "Provider.local-userpass", "AutoConfirm", bool));
        assert_true(streq_ptr(CFG(a, "Provider.local-userpass", "EmailConfirmationURL", char *), CFG(b, "Provider.local-userpass", "EmailConfirmationURL", char *)));
        assert_true(streq_ptr(CFG(a, "Provider.local-userpass", "ResetPasswordURL", char *), CFG(b, "Provider.local-userpass", "ResetPasswordURL", char *)));
        assert_true(streq_ptr(CFG(a, "Provider.local-userpass", "ConfirmationCommand", char *), CFG(b, "Provider.local-userpass", "ConfirmationCommand", char *)));
        assert_true(streq_ptr(CFG(a, "Provider.local-userpass", "ResetCommand", char *), CFG(b, "Provider.local-userpass", "ResetCommand", char *)));
        assert_int_equal(CFG(a, "Provider.local-userpass", "TokenLifetime", uint64_t), CFG(b, "Provider.local-userpass", "TokenLifetime", uint64_t));
        assert_true(streq_ptr(CFG(a, "Provider.local-userpass", "ConfirmEmailSubject", char *), CFG(b, "Provider.local-userpass", "ConfirmEmailSubject", char *)));
        assert_true(streq_ptr(CFG(a, "Provider.local-userpass", "ResetPasswordSubject", char *), CFG(b, "Provider.local-userpass", "ResetPasswordSubject", char *)));
        assert_true(streq_ptr(a->smtp_url, b->smtp_url));
        assert_true(streq_ptr(a->smtp_from, b->smtp_from));
        assert_true(streq_ptr(a->smtp_username, b->smtp_username));
        assert_true(streq_ptr(a->smtp_password_file, b->smtp_password_file));
        assert_true(streq_ptr(a->smtp_template_directory, b->smtp_template_directory));
        assert_true(streq_ptr(a->network_ca_file, b->network_ca_file));
        assert_true(a->network_timeout_usec == b->network_timeout_usec);
        assert_true(a->fleet_max_stale_usec == b->fleet_max_stale_usec);
        assert_true(a->offline_enabled == b->offline_enabled);
        assert_true(a->offline_max_age_usec == b->offline_max_age_usec);
        assert_true(streq_ptr(a->offline_cache_file, b->offline_cache_file));
        assert_true(a->network_allow_insecure_loopback == b->network_allow_insecure_loopback);
}

static void test_defaults(void **state) {
        struct stitch_config c;

        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_string_equal(c.store, "sqlite:/var/lib/stitchd/stitch.db");
        assert_string_equal(c.auth_socket, "/run/stitchd/io.stitch.Auth");
        assert_string_equal(c.admin_socket, "/run/stitchd/io.stitch.Admin");
        assert_null(c.admin_group);
        assert_int_equal(c.workers, 0);
        assert_int_equal(c.log_level, LOG_INFO);
        assert_int_equal(c.access_token_lifetime_usec, 30 * MIN_USEC);
        assert_int_equal(c.refresh_token_lifetime_usec, 60 * DAY_USEC);
        assert_int_equal(c.refresh_margin_usec, 5 * MIN_USEC);
        assert_int_equal(c.signing_algorithm, STITCH_SIGNING_ES256);
        assert_false(c.rotate_refresh_tokens);
        assert_null(c.email_domain);
        assert_strv(c.services, (const char *[]) { "*" }, 1);
        assert_true(CFG(&c, "Provider.local-userpass", "Enabled", bool));
        assert_int_equal(CFG(&c, "Provider.local-userpass", "MinPasswordLength", unsigned), 6);
        assert_int_equal(CFG(&c, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).m_kib, 19456);
        assert_int_equal(CFG(&c, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).t, 2);
        assert_int_equal(CFG(&c, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).p, 1);
        assert_true(CFG(&c, "Provider.api-key", "Enabled", bool));
        assert_false(CFG(&c, "Provider.anon-user", "Enabled", bool));
        assert_null(CFG(&c, "Provider.anon-user", "UnixUser", char *));
        assert_strv(CFG(&c, "Provider.anon-user", "Services", char **), NULL, 0);
        assert_int_equal(c.max_failures, 10);
        assert_int_equal(c.failure_window_usec, 15 * MIN_USEC);
        assert_int_equal(c.backoff_max_usec, 15 * MIN_USEC);
        assert_int_equal(c.tracked_accounts, 65536);
        assert_int_equal(c.max_connections, 1024);
        assert_int_equal(c.max_connections_per_user, 128);
        assert_int_equal(c.idle_timeout_usec, 60 * SEC_USEC);
        assert_int_equal(c.on_revoke, STITCH_ON_REVOKE_KEEP);
        assert_int_equal(c.max_sessions_per_user, 100);

        stitch_config_done(&c);
        assert_null(c.store);
        stitch_config_done(&c); /* twice is fine */

        struct stitch_config zero = {};
        stitch_config_done(&zero); /* never initialized, zeroed: fine too */
        stitch_config_done(NULL);
}

static void test_empty_and_comments(void **state) {
        struct stitch_config c, d;

        assert_int_equal(stitch_config_init_defaults(&d), 0);

        expect_ok(&c, "");
        assert_config_equal(&c, &d);
        stitch_config_done(&c);

        /* BOM, CRLF, blank lines, both comment styles, indented comments, whitespace everywhere,
         * a section repeated, a last line without newline */
        expect_ok(&c,
                  "\xef\xbb\xbf# comment\r\n"
                  "; another comment\r\n"
                  "\r\n"
                  "   \t# indented comment\n"
                  "  [Daemon]  \n"
                  "\tWorkers =\t4  \r\n"
                  "[Tokens]\n"
                  "  ;Workers=nonsense\n"
                  "[Daemon]\n"
                  "LogLevel = debug");
        assert_int_equal(c.workers, 4);
        assert_int_equal(c.log_level, LOG_DEBUG);
        stitch_config_done(&c);

        /* NULL data with zero length is an empty file */
        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_int_equal(stitch_config_load_buffer(&c, NULL, NULL, 0, NULL), 0);
        assert_config_equal(&c, &d);
        stitch_config_done(&c);
        stitch_config_done(&d);
}

/* Every key of every section set to something other than its default (test_key_table() checks
 * that none is missing), so that a key whose copy or free were missed shows. */
static const char every_key_text[] =
        "[Daemon]\n"
        "Store=sqlite:/srv/stitch/db.sqlite\n"
        "AuthSocket=/tmp/x/auth\n"
        "AdminSocket=/tmp/x/admin\n"
        "AdminGroup=stitch-admin\n"
        "Workers=8\n"
        "LogLevel=warning\n"
        "[Tokens]\n"
        "AccessTokenLifetime=1h\n"
        "RefreshTokenLifetime=7d\n"
        "RefreshMargin=90s\n"
        "SigningAlgorithm=HS256\n"
        "RotateRefreshTokens=yes\n"
        "[Pam]\n"
        "EmailDomain=example.com\n"
        "Services=login sshd\n"
        "[Provider.local-userpass]\n"
        "Enabled=no\n"
        "MinPasswordLength=12\n"
        "PasswordHash=argon2id:m=65536,t=3,p=4\n"
        "Registration=yes\n"
        "AutoConfirm=yes\n"
        "EmailConfirmationURL=https://app.example.com/confirm?app=1\n"
        "ResetPasswordURL=https://app.example.com/reset\n"
        "ConfirmationCommand=/usr/local/bin/confirm --mode test\n"
        "ResetCommand=/usr/local/bin/reset\n"
        "TokenLifetime=1h\n"
        "ConfirmEmailSubject=Bitte bestätigen\n"
        "ResetPasswordSubject=New password\n"
        "[Provider.api-key]\n"
        "Enabled=off\n"
        "[Provider.anon-user]\n"
        "Enabled=on\n"
        "UnixUser=guest\n"
        "Services=login,gdm-password\n"
        "[Provider.custom-token]\n"
        "Enabled=yes\n"
        "Audience=aud1 aud2\n"
        "RequireAnyAudience=yes\n"
        "SigningAlgorithm=RS256\n"
        "SigningKeyFile=/etc/passwd\n" /* any file that exists: the parser checks no more */
        "JWKSURL=https://issuer.example/.well-known/jwks.json\n"
        "MetadataFields=user_data.name=name email!\n"
        "UnixNameClaim=posix.login\n"
        "[Provider.oauth2-google]\n"
        "Enabled=yes\n"
        "ClientID=web.apps.googleusercontent.com android.apps.googleusercontent.com\n"
        "ClientSecretFile=/etc/passwd\n"
        "RedirectURI=postmessage\n"
        "DeviceClientID=tv.apps.googleusercontent.com\n"
        "DeviceClientSecretFile=/etc/passwd\n"
        "RestrictedDomains=example.com example.org\n"
        "CreateUsers=yes\n"
        "UnixNameFrom=email-local-part\n"
        "DeviceQRCode=no\n"
        "DeviceAuthorizationURL=https://google.example/device/code\n"
        "TokenURL=https://google.example/token\n"
        "JWKSURL=https://google.example/certs\n"
        "[Provider.oauth2-facebook]\n"
        "Enabled=yes\n"
        "ClientID=1234567890123456\n"
        "ClientSecretFile=/etc/passwd\n"
        "ClientTokenFile=/etc/group\n"
        "CreateUsers=yes\n"
        "UnixNameFrom=email-local-part\n"
        "GraphURL=https://graph.facebook.example/v20.0\n"
        "[Limits]\n"
        "MaxFailures=3\n"
        "FailureWindow=1h\n"
        "BackoffMax=2h\n"
        "TrackedAccounts=1024\n"
        "MaxConnections=64\n"
        "MaxConnectionsPerUser=16\n"
        "IdleTimeout=5min\n"
        "CallerLoginsPerMinute=7\n"
        "[Sessions]\n"
        "OnRevoke=terminate\n"
        "MaxPerUser=5\n"
        "EndOnPasswordChange=no\n"
        "[Http]\n"
        "Listen=[::1]:8443\n"
        "AppId=my-app.1\n"
        "PublicURL=https://auth.example.com\n"
        "CertificateFile=/etc/ssl/a.pem\n"
        "KeyFile=/etc/ssl/a.key\n"
        "AllowOrigins=https://app.example http://localhost:3000\n"
        "TrustedProxies=127.0.0.1 ::1\n"
        "Metrics=yes\n"
        "MaxConnections=10\n"
        "MaxConnectionsPerAddress=2\n"
        "Timeout=5s\n"
        "AddressPrefixIPv4=24\n"
        "AddressPrefixIPv6=48\n"
        "Threads=3\n"
        "AccessLog=all\n"
        "[Accounts]\n"
        "UserDB=yes\n"
        "UIDRange=70000-79999\n"
        "HomeBase=/srv/home\n"
        "Shell=/bin/zsh\n"
        "Groups=users audio\n"
        "Enumerate=yes\n"
        "[Smtp]\n"
        "URL=smtps://mail.example.com:2465\n"
        "From=noreply@example.com\n"
        "Username=stitch\n"
        "PasswordFile=/etc/stitch/smtp-password\n"
        "TemplateDirectory=/etc/stitch/mail\n"
        "CAFile=/etc/stitch/smtp-ca.pem\n"
        "[Network]\n"
        "CAFile=/etc/stitch/idp-ca.pem\n"
        "Timeout=7s\n"
        "AllowInsecureLoopback=yes\n"
        "[Fleet]\n"
        "MaxStale=750ms\n"
        "[Offline]\n"
        "Enabled=yes\n"
        "MaxAge=2d\n"
        "CacheFile=/var/cache/stitch/offline.db\n";

static void test_every_key(void **state) {
        struct stitch_config c;

        expect_ok(&c, every_key_text);

        assert_string_equal(c.store, "sqlite:/srv/stitch/db.sqlite");
        assert_string_equal(c.auth_socket, "/tmp/x/auth");
        assert_string_equal(c.admin_socket, "/tmp/x/admin");
        assert_string_equal(c.admin_group, "stitch-admin");
        assert_string_equal(c.network_ca_file, "/etc/stitch/idp-ca.pem");
        assert_int_equal(c.network_timeout_usec, 7 * USEC_PER_SEC);
        assert_int_equal(c.fleet_max_stale_usec, 750 * USEC_PER_MSEC);
        assert_true(c.offline_enabled);
        assert_int_equal(c.offline_max_age_usec, 2 * 24 * 3600 * USEC_PER_SEC);
        assert_string_equal(c.offline_cache_file, "/var/cache/stitch/offline.db");
        assert_true(c.network_allow_insecure_loopback);
        assert_int_equal(c.workers, 8);
        assert_int_equal(c.log_level, LOG_WARNING);
        assert_int_equal(c.access_token_lifetime_usec, HOUR_USEC);
        assert_int_equal(c.refresh_token_lifetime_usec, 7 * DAY_USEC);
        assert_int_equal(c.refresh_margin_usec, 90 * SEC_USEC);
        assert_int_equal(c.signing_algorithm, STITCH_SIGNING_HS256);
        assert_true(c.rotate_refresh_tokens);
        assert_string_equal(c.email_domain, "example.com");
        assert_strv(c.services, (const char *[]) { "login", "sshd" }, 2);
        assert_false(CFG(&c, "Provider.local-userpass", "Enabled", bool));
        assert_int_equal(CFG(&c, "Provider.local-userpass", "MinPasswordLength", unsigned), 12);
        assert_int_equal(CFG(&c, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).m_kib, 65536);
        assert_int_equal(CFG(&c, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).t, 3);
        assert_int_equal(CFG(&c, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).p, 4);
        assert_false(CFG(&c, "Provider.api-key", "Enabled", bool));
        assert_true(CFG(&c, "Provider.anon-user", "Enabled", bool));
        assert_string_equal(CFG(&c, "Provider.anon-user", "UnixUser", char *), "guest");
        assert_strv(CFG(&c, "Provider.anon-user", "Services", char **), (const char *[]) { "login", "gdm-password" }, 2);
        assert_int_equal(c.max_failures, 3);
        assert_int_equal(c.failure_window_usec, HOUR_USEC);
        assert_int_equal(c.backoff_max_usec, 2 * HOUR_USEC);
        assert_int_equal(c.tracked_accounts, 1024);
        assert_int_equal(c.max_connections, 64);
        assert_int_equal(c.max_connections_per_user, 16);
        assert_int_equal(c.idle_timeout_usec, 5 * MIN_USEC);
        assert_int_equal(c.on_revoke, STITCH_ON_REVOKE_TERMINATE);
        assert_int_equal(c.max_sessions_per_user, 5);
        assert_false(c.end_on_password_change);
        assert_int_equal(c.caller_logins_per_minute, 7);
        assert_string_equal(c.http_listen, "[::1]:8443");
        assert_string_equal(c.http_app_id, "my-app.1");
        assert_string_equal(c.http_public_url, "https://auth.example.com");
        assert_string_equal(c.http_certificate_file, "/etc/ssl/a.pem");
        assert_string_equal(c.http_key_file, "/etc/ssl/a.key");
        assert_strv(c.http_allow_origins, (const char *[]) { "https://app.example", "http://localhost:3000" }, 2);
        assert_strv(c.http_trusted_proxies, (const char *[]) { "127.0.0.1", "::1" }, 2);
        assert_true(c.http_metrics);
        assert_int_equal(c.http_max_connections, 10);
        assert_int_equal(c.http_max_connections_per_address, 2);
        assert_int_equal(c.http_timeout_usec, 5 * SEC_USEC);
        assert_int_equal(c.http_address_prefix_ipv4, 24);
        assert_int_equal(c.http_address_prefix_ipv6, 48);
        assert_int_equal(c.http_threads, 3);
        assert_true(c.accounts_userdb);
        assert_int_equal(c.accounts_uid_range.min, 70000);
        assert_int_equal(c.accounts_uid_range.max, 79999);
        assert_string_equal(c.accounts_home_base, "/srv/home");
        assert_string_equal(c.accounts_shell, "/bin/zsh");
        assert_strv(c.accounts_groups, (const char *[]) { "users", "audio" }, 2);
        assert_true(c.accounts_enumerate);
        stitch_config_done(&c);
}

/* [Accounts]: the defaults, UIDRange='s bounds, and the paths systemd's user records take. */
static void test_accounts(void **state) {
        struct stitch_config c;

        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_false(c.accounts_userdb);
        assert_int_equal(c.accounts_uid_range.min, 20000);
        assert_int_equal(c.accounts_uid_range.max, 59999);
        assert_string_equal(c.accounts_home_base, "/home");
        assert_string_equal(c.accounts_shell, "/bin/bash");
        assert_strv(c.accounts_groups, NULL, 0);
        assert_false(c.accounts_enumerate);
        stitch_config_done(&c);

        expect_ok(&c, "[Accounts]\nUIDRange=1000-2147483646\nHomeBase=/\n");
        assert_int_equal(c.accounts_uid_range.min, 1000);
        assert_int_equal(c.accounts_uid_range.max, 2147483646);
        assert_string_equal(c.accounts_home_base, "/");
        stitch_config_done(&c);
        expect_ok(&c, "[Accounts]\nUIDRange= 65000 - 65000\n"); /* one uid; 65534 and 65535 are skipped, not refused */
        assert_int_equal(c.accounts_uid_range.min, 65000);
        assert_int_equal(c.accounts_uid_range.max, 65000);
        stitch_config_done(&c);

        expect_errors("[Accounts]\nUIDRange=999-2000\n",
                      "test.conf:2: UIDRange=999-2000: expected MIN-MAX with 1000 <= MIN <= MAX <= 2147483646\n");
        expect_errors("[Accounts]\nUIDRange=20000-2147483647\n",
                      "test.conf:2: UIDRange=20000-2147483647: expected MIN-MAX with 1000 <= MIN <= MAX <= 2147483646\n");
        expect_errors("[Accounts]\nUIDRange=30000-20000\n",
                      "test.conf:2: UIDRange=30000-20000: expected MIN-MAX with 1000 <= MIN <= MAX <= 2147483646\n");
        expect_errors("[Accounts]\nUIDRange=20000\n", "test.conf:2: UIDRange=20000: expected MIN-MAX\n");
        expect_errors("[Accounts]\nUIDRange=-20000-30000\n", "test.conf:2: UIDRange=-20000-30000: expected MIN-MAX\n");
        expect_errors("[Accounts]\nUIDRange=2e4-3e4\n", "test.conf:2: UIDRange=2e4-3e4: expected MIN-MAX\n");
        expect_errors("[Accounts]\nHomeBase=home\n",
                      "test.conf:2: HomeBase=home: not a normalized absolute path without ':'\n");
        expect_errors("[Accounts]\nHomeBase=/home/\n",
                      "test.conf:2: HomeBase=/home/: not a normalized absolute path without ':'\n");
        expect_errors("[Accounts]\nHomeBase=/srv/../home\n",
                      "test.conf:2: HomeBase=/srv/../home: not a normalized absolute path without ':'\n");
        expect_errors("[Accounts]\nShell=/bin:/sh\n",
                      "test.conf:2: Shell=/bin:/sh: not a normalized absolute path without ':'\n");
        expect_errors("[Accounts]\nShell=/usr//bin/zsh\n",
                      "test.conf:2: Shell=/usr//bin/zsh: not a normalized absolute path without ':'\n");
        expect_errors("[Accounts]\nGroups=users Wheel\n",
                      "test.conf:2: Groups=users Wheel: not a valid user or group name\n");
        expect_errors("[Accounts]\nUserDB=maybe\n", "test.conf:2: UserDB=maybe: not a boolean (use yes or no)\n");
}

/* The value 'text' assigns to section/key (the last assignment), or NULL. */
static char *text_value(const char *text, const char *section, const char *key) {
        const char *current = "", *found = NULL;
        size_t n_found = 0;

        for (const char *l = text; *l;) {
                size_t n = strcspn(l, "\n");
                if (l[0] == '[')
                        current = l + 1;
                else if (strncmp(current, section, strlen(section)) == 0 && current[strlen(section)] == ']' &&
                         strncmp(l, key, strlen(key)) == 0 && l[strlen(key)] == '=') {
                        found = l + strlen(key) + 1;
                        n_found = n - strlen(key) - 1;
                }
                l += n + (l[n] == '\n');
        }
        return found ? strndup(found, n_found) : NULL;
}

/* A walk of the key table: every key has a default that reads back as the default, an empty
 * assignment restores it, no key takes any value, and every_key_text sets every key. */
static void test_key_table(void **state) {
        struct stitch_config d;
        const char *section, *key, *def;
        size_t n_keys = 0;

        assert_int_equal(stitch_config_init_defaults(&d), 0);

        for (size_t i = 0; stitch_config_key(i, &section, &key, &def); i++) {
                struct stitch_config c;
                char text[512];
                _cleanup_free_ char *errors = NULL, *value = NULL;
                n_keys++;

                /* no key twice in the table: the second would never be reached */
                for (size_t j = 0; j < i; j++) {
                        const char *s2, *k2;
                        assert_true(stitch_config_key(j, &s2, &k2, NULL));
                        if (streq(s2, section) && streq(k2, key))
                                fail_msg("[%s] %s= is in the table twice", section, key);
                }

                /* "Key=<default>" is the default */
                snprintf(text, sizeof(text), "[%s]\n%s=%s\n", section, key, def ?: "");
                expect_ok(&c, text);
                assert_config_equal(&c, &d);
                stitch_config_done(&c);

                /* "Key=" is the default too; a list it empties ("Services=" lets no service in) */
                snprintf(text, sizeof(text), "[Provider.local-userpass]\nMinPasswordLength=9\n[%s]\n%s=\n",
                         section, key);
                expect_ok(&c, text);
                if (streq(section, "Pam") && streq(key, "Services")) {
                        assert_strv(c.services, NULL, 0);
                        c.services = stitch_strv_free(c.services);
                        c.services = stitch_strv_copy(d.services);
                }
                if (!(streq(section, "Provider.local-userpass") && streq(key, "MinPasswordLength")))
                        assert_int_equal(CFG(&c, "Provider.local-userpass", "MinPasswordLength", unsigned), 9);
                assert_int_equal(stitch_config_set(&c, "Provider.local-userpass", "MinPasswordLength", "", true), 0);
                assert_config_equal(&c, &d);
                stitch_config_done(&c);

                /* every key checks its value: a control character passes none */
                snprintf(text, sizeof(text), "[%s]\n%s=\x01\n", section, key);
                assert_int_equal(stitch_config_init_defaults(&c), 0);
                assert_int_equal(load_text(&c, text, strlen(text), &errors), -EINVAL);
                snprintf(text, sizeof(text), "test.conf:2: %s=\\x01: ", key);
                if (strncmp(errors, text, strlen(text)) != 0)
                        fail_msg("[%s] %s=\\x01: %s", section, key, errors);
                stitch_config_done(&c);

                /* set, to something else than its default, in every_key_text */
                value = text_value(every_key_text, section, key);
                if (!value)
                        fail_msg("every_key_text does not set [%s] %s=", section, key);
                if (streq(value, def ?: ""))
                        fail_msg("every_key_text sets [%s] %s= to its default", section, key);
        }
        assert_true(n_keys > 0);
        stitch_config_done(&d);
}

/* Loading copies the configuration it loads over and frees the old one: every string and every
 * list must come through (run it under valgrind or ASan to see a missed free as a leak). */
static void test_copy_every_key(void **state) {
        struct stitch_config c, e;
        _cleanup_free_ char *errors = NULL;

        expect_ok(&c, every_key_text);
        expect_ok(&e, every_key_text);

        /* an empty file over it: a copy of c, then c freed */
        assert_int_equal(load_text(&c, "", 0, &errors), 0);
        assert_config_equal(&c, &e);

        /* and the same file again, as a reload does */
        free(errors);
        errors = NULL;
        assert_int_equal(load_text(&c, every_key_text, strlen(every_key_text), &errors), 0);
        assert_config_equal(&c, &e);

        /* a failed load leaves it alone */
        free(errors);
        errors = NULL;
        assert_int_equal(load_text(&c, "[Daemon]\nWorkers=x\n", 19, &errors), -EINVAL);
        assert_config_equal(&c, &e);

        /* the copies are c's own */
        assert_ptr_not_equal(c.store, e.store);
        assert_ptr_not_equal(c.services, e.services);
        assert_ptr_not_equal(c.http_trusted_proxies, e.http_trusted_proxies);
        stitch_config_done(&c);
        stitch_config_done(&e);
}

static void test_values(void **state) {
        struct stitch_config c;
        static const struct {
                const char *text;
                bool expected;
        } booleans[] = {
                { "yes", true },  { "true", true },   { "1", true },  { "on", true },  { "YES", true },
                { "On", true },   { "no", false },    { "false", false }, { "0", false }, { "off", false },
                { "NO", false },  { "False", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(booleans); i++) {
                char text[128];
                snprintf(text, sizeof(text), "[Tokens]\nRotateRefreshTokens=%s\n[Provider.api-key]\nEnabled=%s\n",
                         booleans[i].text, booleans[i].text);
                expect_ok(&c, text);
                assert_int_equal(c.rotate_refresh_tokens, booleans[i].expected);
                assert_int_equal(CFG(&c, "Provider.api-key", "Enabled", bool), booleans[i].expected);
                stitch_config_done(&c);
        }

        static const struct {
                const char *name;
                int level;
        } levels[] = {
                { "debug", LOG_DEBUG }, { "info", LOG_INFO }, { "notice", LOG_NOTICE },
                { "warning", LOG_WARNING }, { "err", LOG_ERR },
        };
        for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
                char text[128];
                snprintf(text, sizeof(text), "[Daemon]\nLogLevel=%s\n", levels[i].name);
                expect_ok(&c, text);
                assert_int_equal(c.log_level, levels[i].level);
                stitch_config_done(&c);
        }

        /* range edges */
        expect_ok(&c, "[Provider.local-userpass]\nMinPasswordLength=128\n[Tokens]\nAccessTokenLifetime=10s\n"
                      "RefreshMargin=0\nRefreshTokenLifetime=10s\n");
        assert_int_equal(CFG(&c, "Provider.local-userpass", "MinPasswordLength", unsigned), 128);
        assert_int_equal(c.access_token_lifetime_usec, 10 * SEC_USEC);
        assert_int_equal(c.refresh_margin_usec, 0);
        stitch_config_done(&c);
        expect_ok(&c, "[Tokens]\nAccessTokenLifetime=24h\n[Daemon]\nWorkers=0\n");
        assert_int_equal(c.access_token_lifetime_usec, 24 * HOUR_USEC);
        stitch_config_done(&c);

        /* a socket path of 107 bytes fits sun_path with its NUL, 108 does not */
        char text[256], path[109];
        memset(path, 'a', sizeof(path) - 1);
        path[0] = '/';
        path[107] = 0;
        snprintf(text, sizeof(text), "[Daemon]\nAuthSocket=%s\n", path);
        expect_ok(&c, text);
        assert_int_equal(strlen(c.auth_socket), 107);
        stitch_config_done(&c);

        /* user names: '$' at the end only, '_' first, 32 characters at most */
        expect_ok(&c, "[Daemon]\nAdminGroup=_admins\n[Provider.anon-user]\nUnixUser=guest$\n");
        assert_string_equal(c.admin_group, "_admins");
        assert_string_equal(CFG(&c, "Provider.anon-user", "UnixUser", char *), "guest$");
        stitch_config_done(&c);
        /* '.' inside a name, as Debian's useradd allows (lib/validate.c, the
         * same rule as the admin interface's unix_name) */
        expect_ok(&c, "[Daemon]\nAdminGroup=stitch.admins\n[Provider.anon-user]\nUnixUser=first.last\n");
        assert_string_equal(c.admin_group, "stitch.admins");
        assert_string_equal(CFG(&c, "Provider.anon-user", "UnixUser", char *), "first.last");
        stitch_config_done(&c);
        expect_ok(&c, "[Daemon]\nAdminGroup=abcdefghijklmnopqrstuvwxyz012345\n");
        stitch_config_done(&c);

        /* password hash: any order, omitted parameters take the defaults, edges */
        expect_ok(&c, "[Provider.local-userpass]\nPasswordHash=argon2id:p=2,m=4096\n");
        assert_int_equal(CFG(&c, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).m_kib, 4096);
        assert_int_equal(CFG(&c, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).t, 2);
        assert_int_equal(CFG(&c, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).p, 2);
        stitch_config_done(&c);
        expect_ok(&c, "[Provider.local-userpass]\nPasswordHash=argon2id:m=4194304,t=100,p=64\n");
        assert_int_equal(CFG(&c, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).m_kib, 4194304);
        assert_int_equal(CFG(&c, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).t, 100);
        assert_int_equal(CFG(&c, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).p, 64);
        stitch_config_done(&c);
        expect_ok(&c, "[Provider.local-userpass]\nPasswordHash=argon2id:m=8,t=1,p=1\n");
        assert_int_equal(CFG(&c, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).m_kib, 8);
        stitch_config_done(&c);
}

static void test_later_assignment_wins(void **state) {
        struct stitch_config c;

        expect_ok(&c,
                  "[Daemon]\nWorkers=2\nStore=sqlite:/a.db\n"
                  "[Tokens]\nAccessTokenLifetime=1h\n"
                  "[Daemon]\nWorkers=3\nStore=sqlite:/b.db\n"
                  "[Tokens]\nAccessTokenLifetime=2h\n");
        assert_int_equal(c.workers, 3);
        assert_string_equal(c.store, "sqlite:/b.db");
        assert_int_equal(c.access_token_lifetime_usec, 2 * HOUR_USEC);
        stitch_config_done(&c);
}

static void test_empty_assignment_resets(void **state) {
        struct stitch_config c, d;

        assert_int_equal(stitch_config_init_defaults(&d), 0);

        /* every key set, then every key emptied: back to the defaults, except the lists */
        expect_ok(&c,
                  "[Daemon]\nStore=sqlite:/x.db\nAuthSocket=/x/a\nAdminSocket=/x/b\nAdminGroup=wheel\n"
                  "Workers=3\nLogLevel=err\n"
                  "Store=\nAuthSocket=\nAdminSocket=\nAdminGroup=\nWorkers=\nLogLevel=\n"
                  "[Tokens]\nAccessTokenLifetime=1h\nRefreshTokenLifetime=1d\nRefreshMargin=1min\n"
                  "SigningAlgorithm=HS256\nRotateRefreshTokens=yes\n"
                  "AccessTokenLifetime=\nRefreshTokenLifetime=\nRefreshMargin=\nSigningAlgorithm=\n"
                  "RotateRefreshTokens=\n"
                  "[Pam]\nEmailDomain=example.org\nEmailDomain=\n"
                  "[Provider.local-userpass]\nEnabled=no\nMinPasswordLength=10\n"
                  "PasswordHash=argon2id:m=1024,t=1,p=1\nEnabled=\nMinPasswordLength=\nPasswordHash=\n"
                  "[Provider.api-key]\nEnabled=no\nEnabled=\n"
                  "[Provider.anon-user]\nEnabled=yes\nUnixUser=guest\nEnabled=\nUnixUser=\n"
                  "[Limits]\nMaxFailures=1\nFailureWindow=1s\nBackoffMax=1s\nMaxConnections=1\nIdleTimeout=1s\n"
                  "MaxConnectionsPerUser=0\n"
                  "MaxFailures=\nFailureWindow=\nBackoffMax=\nMaxConnections=\nIdleTimeout=\n"
                  "MaxConnectionsPerUser=\n"
                  "[Sessions]\nOnRevoke=terminate\nMaxPerUser=1\nOnRevoke=\nMaxPerUser=\n");
        assert_config_equal(&c, &d);
        stitch_config_done(&c);
        stitch_config_done(&d);
}

/* 0 turns the per-user cap off; the range ends where MaxConnections= does. */
static void test_max_connections_per_user(void **state) {
        static const struct {
                const char *text;
                unsigned expected;
        } values[] = {
                { "0", 0 }, { "1", 1 }, { "64", 64 }, { "65536", 65536 }, { "", 128 },
        };
        struct stitch_config c;

        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                char text[128];
                snprintf(text, sizeof(text), "[Limits]\nMaxConnectionsPerUser=%s\n", values[i].text);
                expect_ok(&c, text);
                assert_int_equal(c.max_connections_per_user, values[i].expected);
                assert_int_equal(c.max_connections, 1024);
                stitch_config_done(&c);
        }
        expect_errors("[Limits]\nMaxConnectionsPerUser=64k\n", "test.conf:2: MaxConnectionsPerUser=64k: not a number\n");
        expect_errors("[Daemon]\nMaxConnectionsPerUser=64\n",
                      "test.conf:2: Unknown key 'MaxConnectionsPerUser' in section [Daemon]\n");
}

static void test_lists(void **state) {
        struct stitch_config c;

        /* whitespace- and comma-separated, duplicates dropped */
        expect_ok(&c, "[Pam]\nServices= login ,sshd\tsu,,sudo  login\n");
        assert_strv(c.services, (const char *[]) { "login", "sshd", "su", "sudo" }, 4);
        assert_true(stitch_service_allowed(c.services, "sshd"));
        assert_false(stitch_service_allowed(c.services, "cron"));
        stitch_config_done(&c);

        /* an assignment replaces the list, it does not append */
        expect_ok(&c, "[Pam]\nServices=login sshd\nServices=su\n");
        assert_strv(c.services, (const char *[]) { "su" }, 1);
        stitch_config_done(&c);

        /* an empty assignment empties the list: no service may use stitch */
        expect_ok(&c, "[Pam]\nServices=login\nServices=\n");
        assert_strv(c.services, NULL, 0);
        assert_false(stitch_service_allowed(c.services, "login"));
        stitch_config_done(&c);

        expect_ok(&c, "[Pam]\nServices=*\n[Provider.anon-user]\nServices=login\nServices=\n");
        assert_strv(c.services, (const char *[]) { "*" }, 1);
        assert_strv(CFG(&c, "Provider.anon-user", "Services", char **), NULL, 0);
        stitch_config_done(&c);

        /* anonymous logins for a named service */
        expect_ok(&c, "[Provider.anon-user]\nEnabled=yes\nUnixUser=guest\nServices=login\n");
        assert_true(CFG(&c, "Provider.anon-user", "Enabled", bool));
        assert_true(stitch_service_allowed(CFG(&c, "Provider.anon-user", "Services", char **), "login"));
        assert_false(stitch_service_allowed(CFG(&c, "Provider.anon-user", "Services", char **), "sshd"));
        assert_false(stitch_service_allowed(CFG(&c, "Provider.anon-user", "Services", char **), "sudo"));
        stitch_config_done(&c);

        expect_errors("[Provider.anon-user]\nServices=login *\n",
                      "test.conf:2: Services=login *: \"*\" is not allowed here, name each service\n");
        expect_errors("[Pam]\nServices=login ../sshd\n",
                      "test.conf:2: Services=login ../sshd: invalid service name \"../sshd\"\n");
        expect_errors("[Pam]\nServices=login # sshd\n",
                      "test.conf:2: Services=login # sshd: invalid service name \"#\"\n");
}

static void test_service_allowed(void **state) {
        char *all[] = { (char *) "*", NULL };
        char *some[] = { (char *) "login", (char *) "sshd", NULL };
        char *none[] = { NULL };

        assert_true(stitch_service_allowed(all, "login"));
        assert_true(stitch_service_allowed(all, "anything"));
        assert_false(stitch_service_allowed(all, ""));
        assert_false(stitch_service_allowed(all, NULL));
        assert_true(stitch_service_allowed(some, "login"));
        assert_true(stitch_service_allowed(some, "sshd"));
        assert_false(stitch_service_allowed(some, "sudo"));
        assert_false(stitch_service_allowed(some, "Login"));
        assert_false(stitch_service_allowed(some, "logi"));
        assert_false(stitch_service_allowed(none, "login"));
        assert_false(stitch_service_allowed(NULL, "login"));
}

static void test_error_kinds(void **state) {
        /* syntax */
        expect_errors("[Daemon]\n[Bogus]\nWorkers=1\n", "test.conf:2: Unknown section [Bogus]\n");
        expect_errors("[daemon]\n", "test.conf:1: Unknown section [daemon]\n");
        expect_errors("# c\n[Daemon\n", "test.conf:2: Malformed section header: [Daemon\n");
        expect_errors("[]\n", "test.conf:1: Malformed section header: []\n");
        expect_errors("[Dae]mon]\n", "test.conf:1: Malformed section header: [Dae]mon]\n");
        expect_errors("Workers=1\n", "test.conf:1: Assignment outside of any section: Workers\n");
        expect_errors("[Daemon]\nWorkers\n", "test.conf:2: Missing '=' in line: Workers\n");
        expect_errors("[Daemon]\n=1\n", "test.conf:2: Missing key name before '='\n");
        expect_errors("[Daemon]\nworkers=1\n", "test.conf:2: Unknown key 'workers' in section [Daemon]\n");
        expect_errors("[Tokens]\nWorkers=1\n", "test.conf:2: Unknown key 'Workers' in section [Tokens]\n");
        expect_errors("[Daemon]\nWorkers=1 # trailing comment\n",
                      "test.conf:2: Workers=1 # trailing comment: not a number\n");

        /* bad values, one per parser */
        expect_errors("[Daemon]\nStore=/var/lib/x.db\n",
                      "test.conf:2: Store=/var/lib/x.db: expected sqlite:/absolute/path/to/database\n");
        expect_errors("[Daemon]\nStore=sqlite:relative.db\n",
                      "test.conf:2: Store=sqlite:relative.db: expected sqlite:/absolute/path/to/database\n");
        expect_errors("[Daemon]\nStore=sqlite:/var/lib/\n",
                      "test.conf:2: Store=sqlite:/var/lib/: expected sqlite:/absolute/path/to/database\n");
        expect_errors("[Daemon]\nAuthSocket=run/x\n", "test.conf:2: AuthSocket=run/x: not an absolute path\n");
        expect_errors("[Daemon]\nAdminGroup=Wheel\n", "test.conf:2: AdminGroup=Wheel: not a valid user or group name\n");
        expect_errors("[Daemon]\nAdminGroup=abcdefghijklmnopqrstuvwxyz0123456\n",
                      "test.conf:2: AdminGroup=abcdefghijklmnopqrstuvwxyz0123456: not a valid user or group name\n");
        expect_errors("[Daemon]\nAdminGroup=a$b\n", "test.conf:2: AdminGroup=a$b: not a valid user or group name\n");
        expect_errors("[Daemon]\nAdminGroup=.\n", "test.conf:2: AdminGroup=.: not a valid user or group name\n");
        expect_errors("[Daemon]\nAdminGroup=..\n", "test.conf:2: AdminGroup=..: not a valid user or group name\n");
        expect_errors("[Daemon]\nAdminGroup=.admins\n",
                      "test.conf:2: AdminGroup=.admins: not a valid user or group name\n");
        expect_errors("[Daemon]\nAdminGroup=1000\n", "test.conf:2: AdminGroup=1000: not a valid user or group name\n");
        expect_errors("[Daemon]\nWorkers=-1\n", "test.conf:2: Workers=-1: not a number\n");
        expect_errors("[Daemon]\nWorkers=0x10\n", "test.conf:2: Workers=0x10: not a number\n");
        expect_errors("[Daemon]\nWorkers=1025\n", "test.conf:2: Workers=1025: out of range (0..1024)\n");
        expect_errors("[Daemon]\nWorkers=99999999999999999999999\n",
                      "test.conf:2: Workers=99999999999999999999999: out of range (0..1024)\n");
        expect_errors("[Daemon]\nLogLevel=verbose\n",
                      "test.conf:2: LogLevel=verbose: expected debug, info, notice, warning or err\n");
        expect_errors("[Tokens]\nAccessTokenLifetime=soon\n",
                      "test.conf:2: AccessTokenLifetime=soon: not a duration (e.g. 90s, 5min, 1h 30min, 60d)\n");
        expect_errors("[Tokens]\nAccessTokenLifetime=9s\n",
                      "test.conf:2: AccessTokenLifetime=9s: out of range (10s..1d)\n");
        expect_errors("[Tokens]\nAccessTokenLifetime=25h\n",
                      "test.conf:2: AccessTokenLifetime=25h: out of range (10s..1d)\n");
        expect_errors("[Tokens]\nSigningAlgorithm=RS256\n", "test.conf:2: SigningAlgorithm=RS256: expected ES256 or HS256\n");
        expect_errors("[Tokens]\nRotateRefreshTokens=maybe\n",
                      "test.conf:2: RotateRefreshTokens=maybe: not a boolean (use yes or no)\n");
        expect_errors("[Pam]\nEmailDomain=@example.com\n", "test.conf:2: EmailDomain=@example.com: not a valid domain name\n");
        expect_errors("[Pam]\nEmailDomain=a..b\n", "test.conf:2: EmailDomain=a..b: not a valid domain name\n");
        expect_errors("[Provider.local-userpass]\nMinPasswordLength=5\n",
                      "test.conf:2: MinPasswordLength=5: out of range (6..128)\n");
        expect_errors("[Provider.local-userpass]\nMinPasswordLength=129\n",
                      "test.conf:2: MinPasswordLength=129: out of range (6..128)\n");
        expect_errors("[Provider.local-userpass]\nPasswordHash=bcrypt\n",
                      "test.conf:2: PasswordHash=bcrypt: expected argon2id:m=KIB,t=PASSES,p=LANES\n");
        expect_errors("[Provider.local-userpass]\nPasswordHash=argon2id:m=7\n",
                      "test.conf:2: PasswordHash=argon2id:m=7: m= out of range (8..4194304 KiB)\n");
        expect_errors("[Provider.local-userpass]\nPasswordHash=argon2id:m=4194305\n",
                      "test.conf:2: PasswordHash=argon2id:m=4194305: m= out of range (8..4194304 KiB)\n");
        expect_errors("[Provider.local-userpass]\nPasswordHash=argon2id:t=0\n",
                      "test.conf:2: PasswordHash=argon2id:t=0: t= out of range (1..100)\n");
        expect_errors("[Provider.local-userpass]\nPasswordHash=argon2id:t=101\n",
                      "test.conf:2: PasswordHash=argon2id:t=101: t= out of range (1..100)\n");
        expect_errors("[Provider.local-userpass]\nPasswordHash=argon2id:p=0\n",
                      "test.conf:2: PasswordHash=argon2id:p=0: p= out of range (1..64)\n");
        expect_errors("[Provider.local-userpass]\nPasswordHash=argon2id:p=65\n",
                      "test.conf:2: PasswordHash=argon2id:p=65: p= out of range (1..64)\n");
        expect_errors("[Provider.local-userpass]\nPasswordHash=argon2id:m=64,p=16\n",
                      "test.conf:2: PasswordHash=argon2id:m=64,p=16: m= must be at least 8 KiB per lane (8*p)\n");
        expect_errors("[Provider.local-userpass]\nPasswordHash=argon2id:m=64,m=128\n",
                      "test.conf:2: PasswordHash=argon2id:m=64,m=128: parameter m given twice\n");
        expect_errors("[Provider.local-userpass]\nPasswordHash=argon2id:x=1\n",
                      "test.conf:2: PasswordHash=argon2id:x=1: unknown parameter (use m, t and p)\n");
        expect_errors("[Provider.local-userpass]\nPasswordHash=argon2id:m=1k\n",
                      "test.conf:2: PasswordHash=argon2id:m=1k: parameter m is not a number\n");
        expect_errors("[Provider.local-userpass]\nPasswordHash=argon2id:m\n",
                      "test.conf:2: PasswordHash=argon2id:m: expected argon2id:m=KIB,t=PASSES,p=LANES\n");
        expect_errors("[Provider.anon-user]\nUnixUser=root\n",
                      "test.conf:2: UnixUser=root: anonymous logins must not map to root\n");
        expect_errors("[Limits]\nMaxFailures=0\n", "test.conf:2: MaxFailures=0: out of range (1..1000)\n");
        expect_errors("[Limits]\nTrackedAccounts=15\n", "test.conf:2: TrackedAccounts=15: out of range (16..1048576)\n");
        expect_errors("[Limits]\nTrackedAccounts=1048577\n",
                      "test.conf:2: TrackedAccounts=1048577: out of range (16..1048576)\n");
        expect_errors("[Limits]\nFailureWindow=0\n", "test.conf:2: FailureWindow=0: out of range (1s..30d)\n");
        expect_errors("[Limits]\nIdleTimeout=500ms\n", "test.conf:2: IdleTimeout=500ms: out of range (1s..1d)\n");
        expect_errors("[Limits]\nMaxConnectionsPerUser=65537\n",
                      "test.conf:2: MaxConnectionsPerUser=65537: out of range (0..65536)\n");
        expect_errors("[Limits]\nMaxConnectionsPerUser=-1\n",
                      "test.conf:2: MaxConnectionsPerUser=-1: not a number\n");
        expect_errors("[Sessions]\nOnRevoke=kill\n", "test.conf:2: OnRevoke=kill: expected keep or terminate\n");

        /* values are echoed escaped */
        expect_errors("[Daemon]\nWorkers=\x1b[31mred\\\n", "test.conf:2: Workers=\\x1b[31mred\\\\: not a number\n");
}

static void test_socket_path_too_long(void **state) {
        char text[256], path[109];
        struct stitch_config c;
        _cleanup_free_ char *errors = NULL;

        memset(path, 'a', sizeof(path) - 1);
        path[0] = '/';
        path[108] = 0;
        snprintf(text, sizeof(text), "[Daemon]\nAdminSocket=%s\n", path);

        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_int_equal(load_text(&c, text, strlen(text), &errors), -EINVAL);
        /* one line; the echoed value is shortened */
        assert_true(strncmp(errors, "test.conf:2: AdminSocket=/aaaa", 30) == 0);
        assert_non_null(strstr(errors, "...: socket path too long (max 107 bytes)\n"));
        assert_ptr_equal(strchr(errors, '\n'), errors + strlen(errors) - 1);
        stitch_config_done(&c);
}

static void test_nul_and_long_lines(void **state) {
        static const char with_nul[] = "[Daemon]\nWorkers=1\0junk\nLogLevel=debug\n";
        struct stitch_config c;
        _cleanup_free_ char *errors = NULL, *long_errors = NULL, *ok_errors = NULL;

        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_int_equal(load_text(&c, with_nul, sizeof(with_nul) - 1, &errors), -EINVAL);
        assert_string_equal(errors, "test.conf:2: NUL byte in line\n");
        stitch_config_done(&c);

        /* 4096 bytes is the longest line; one more is an error, and the next line is still read */
        size_t n = 4096;
        _cleanup_free_ char *text = malloc(64 + 2 * n);
        assert_non_null(text);
        int k = snprintf(text, 64, "[Daemon]\n# ");
        memset(text + k, 'x', n - 2);
        size_t len = (size_t) k + n - 2;
        memcpy(text + len, "\n", 1);
        len++;
        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_int_equal(load_text(&c, text, len, &ok_errors), 0);
        assert_string_equal(ok_errors, "");
        stitch_config_done(&c);

        memcpy(text + len - 1, "x\nWorkers=oops\n", 15);
        len += 14;
        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_int_equal(load_text(&c, text, len, &long_errors), -EINVAL);
        assert_string_equal(long_errors,
                            "test.conf:2: Line too long (more than 4096 bytes)\n"
                            "test.conf:3: Workers=oops: not a number\n");
        stitch_config_done(&c);
}

static void test_cross_key(void **state) {
        expect_errors("[Tokens]\nAccessTokenLifetime=5min\nRefreshMargin=5min\n",
                      "test.conf: RefreshMargin=5min must be shorter than AccessTokenLifetime=5min\n");
        expect_errors("[Tokens]\nAccessTokenLifetime=2h\nRefreshTokenLifetime=1h 30min\n",
                      "test.conf: RefreshTokenLifetime=1h 30min must not be shorter than AccessTokenLifetime=2h\n");
        expect_errors("[Provider.anon-user]\nEnabled=yes\n",
                      "test.conf: [Provider.anon-user] Enabled=yes requires UnixUser= (PAM logins) or [Http] Listen= (app logins)\n");
        expect_errors("[Daemon]\nAuthSocket=/run/x\nAdminSocket=/run/x\n",
                      "test.conf: AuthSocket= and AdminSocket= must be different paths\n");

        /* the final value is what counts, not the order of the lines */
        struct stitch_config c;
        expect_ok(&c, "[Tokens]\nRefreshMargin=1h\nAccessTokenLifetime=2h\n");
        stitch_config_done(&c);
        expect_ok(&c, "[Provider.anon-user]\nEnabled=yes\nUnixUser=guest\n");
        stitch_config_done(&c);
}

static void test_all_errors_reported(void **state) {
        expect_errors("Workers=1\n"
                      "[Daemon]\n"
                      "Workers=many\n"
                      "LogLevel=info\n"
                      "[Nope]\n"
                      "Anything=goes here\n"
                      "[Tokens]\n"
                      "SigningAlgorithm=none\n"
                      "RefreshMargin=1h\n"
                      "bogus line\n"
                      "[Limits]\n"
                      "MaxFailures=0\n"
                      "Typo=1\n",
                      "test.conf:1: Assignment outside of any section: Workers\n"
                      "test.conf:3: Workers=many: not a number\n"
                      "test.conf:5: Unknown section [Nope]\n"
                      "test.conf:8: SigningAlgorithm=none: expected ES256 or HS256\n"
                      "test.conf:10: Missing '=' in line: bogus line\n"
                      "test.conf:12: MaxFailures=0: out of range (1..1000)\n"
                      "test.conf:13: Unknown key 'Typo' in section [Limits]\n"
                      "test.conf: RefreshMargin=1h must be shorter than AccessTokenLifetime=30min\n");
}

/* The providers' sections are their files' own (providers/NAME.c), parsed like
 * the rest: file:line errors for unknown keys and bad values, in the order
 * of the file, and their own whole-file checks after every line. */
static void test_provider_sections(void **state) {
        (void) state;
        expect_errors("[Provider.api-key]\nEnabled=maybe\nKey=1\n"
                      "[Provider.local-userpass]\nTokenLifetime=1s\nConfirmationCommand=relative\nPasswordHash=\n"
                      "[Provider.anon-user]\nEnabled=yes\nUnixUser=root\nServices=login,*\n"
                      "[Provider.nope]\nEnabled=yes\n",
                      "test.conf:2: Enabled=maybe: not a boolean (use yes or no)\n"
                      "test.conf:3: Unknown key 'Key' in section [Provider.api-key]\n"
                      "test.conf:5: TokenLifetime=1s: out of range (1min..7d)\n"
                      "test.conf:6: ConfirmationCommand=relative: expected an absolute path, then arguments\n"
                      "test.conf:10: UnixUser=root: anonymous logins must not map to root\n"
                      "test.conf:11: Services=login,*: \"*\" is not allowed here, name each service\n"
                      "test.conf:12: Unknown section [Provider.nope]\n"
                      "test.conf: [Provider.anon-user] Enabled=yes requires UnixUser= (PAM logins) or [Http] Listen= (app logins)\n");

        /* A section may come twice; later assignments win, an empty one restores the default. */
        struct stitch_config c;
        expect_ok(&c, "[Provider.local-userpass]\nMinPasswordLength=10\n[Daemon]\nWorkers=2\n"
                      "[Provider.local-userpass]\nPasswordHash=argon2id:m=64,t=1,p=1\nConfirmEmailSubject=Hi\n"
                      "ConfirmEmailSubject=\n");
        assert_int_equal(CFG(&c, "Provider.local-userpass", "MinPasswordLength", unsigned), 10);
        assert_int_equal(CFG(&c, "Provider.local-userpass", "PasswordHash", struct stitch_config_password_hash).m_kib, 64);
        assert_string_equal(CFG(&c, "Provider.local-userpass", "ConfirmEmailSubject", char *),
                            "Confirm your email address");
        assert_int_equal(c.workers, 2);

        /* By name: unknown keys and sections are none; set() checks like the file unless told not to. */
        assert_null(stitch_config_value(&c, "Provider.local-userpass", "Nope"));
        assert_null(stitch_config_value(&c, "Provider.nope", "Enabled"));
        assert_int_equal(stitch_config_set(&c, "Provider.nope", "Enabled", "yes", true), -ENOENT);
        assert_int_equal(stitch_config_set(&c, "Provider.api-key", "Enabled", "maybe", true), -EINVAL);
        assert_true(CFG(&c, "Provider.api-key", "Enabled", bool));
        assert_int_equal(stitch_config_set(&c, "Provider.api-key", "Enabled", "no", true), 0);
        assert_false(CFG(&c, "Provider.api-key", "Enabled", bool));
        assert_int_equal(stitch_config_set(&c, "Provider.anon-user", "UnixUser", "root", true), -EINVAL);
        assert_null(CFG(&c, "Provider.anon-user", "UnixUser", char *));
        stitch_config_done(&c);
}

static void test_durations(void **state) {
        static const struct {
                const char *text;
                int r;
                uint64_t usec;
        } table[] = {
                { "0", 0, 0 },
                { "1", 0, SEC_USEC },
                { "90", 0, 90 * SEC_USEC },
                { "1us", 0, 1 },
                { "7usec", 0, 7 },
                { "500ms", 0, 500000 },
                { "2msec", 0, 2000 },
                { "90s", 0, 90 * SEC_USEC },
                { "1sec", 0, SEC_USEC },
                { "1second", 0, SEC_USEC },
                { "2seconds", 0, 2 * SEC_USEC },
                { "5m", 0, 5 * MIN_USEC },
                { "5min", 0, 5 * MIN_USEC },
                { "1minute", 0, MIN_USEC },
                { "3minutes", 0, 3 * MIN_USEC },
                { "1h", 0, HOUR_USEC },
                { "2hr", 0, 2 * HOUR_USEC },
                { "1hour", 0, HOUR_USEC },
                { "3hours", 0, 3 * HOUR_USEC },
                { "60d", 0, 60 * DAY_USEC },
                { "1day", 0, DAY_USEC },
                { "2days", 0, 2 * DAY_USEC },
                { "2w", 0, 14 * DAY_USEC },
                { "1week", 0, 7 * DAY_USEC },
                { "3weeks", 0, 21 * DAY_USEC },
                { "1h 30min", 0, HOUR_USEC + 30 * MIN_USEC },
                { "1h30min", 0, HOUR_USEC + 30 * MIN_USEC },
                { "  1d 2h 3min 4s 5ms 6us  ", 0, DAY_USEC + 2 * HOUR_USEC + 3 * MIN_USEC + 4 * SEC_USEC + 5000 + 6 },
                { "5 min", 0, 5 * MIN_USEC },
                { "1 2", 0, 3 * SEC_USEC },
                { "1.5h", 0, HOUR_USEC + 30 * MIN_USEC },
                { "0.5s", 0, 500000 },
                { "007s", 0, 7 * SEC_USEC },
                { "18446744073709551615us", 0, UINT64_MAX },
                { "18446744073709551616us", -ERANGE, 0 },
                { "18446744073709551615", -ERANGE, 0 },
                { "100000000000w", -ERANGE, 0 },
                { "18446744073709551615us 1us", -ERANGE, 0 },
                { "", -EINVAL, 0 },
                { "   ", -EINVAL, 0 },
                { "s", -EINVAL, 0 },
                { "min", -EINVAL, 0 },
                { "5x", -EINVAL, 0 },
                { "5 mins", -EINVAL, 0 },
                { "5MIN", -EINVAL, 0 },
                { "-5s", -EINVAL, 0 },
                { "+5s", -EINVAL, 0 },
                { "1.s", -EINVAL, 0 },
                { ".5s", -EINVAL, 0 },
                { "1h,30min", -EINVAL, 0 },
                { "1h-", -EINVAL, 0 },
                { "infinity", -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                uint64_t v = 12345;
                int r = stitch_parse_duration(table[i].text, &v);
                if (r != table[i].r)
                        fail_msg("\"%s\": r=%d, expected %d", table[i].text, r, table[i].r);
                if (r == 0 && v != table[i].usec)
                        fail_msg("\"%s\": %" PRIu64 "us, expected %" PRIu64, table[i].text, v, table[i].usec);
                if (r < 0)
                        assert_int_equal(v, 12345); /* untouched on failure */
        }
        assert_int_equal(stitch_parse_duration(NULL, &(uint64_t) { 0 }), -EINVAL);
}

/* ---- files ---------------------------------------------------------------------------------- */

static char *make_tmpdir(void) {
        const char *base = getenv("TMPDIR");
        char *d = NULL;

        assert_true(asprintf(&d, "%s/test-config.XXXXXX", base ? base : "/tmp") > 0);
        assert_non_null(mkdtemp(d));
        return d;
}

static char *write_file(const char *dir, const char *name, const char *text) {
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        FILE *f = fopen(p, "we");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, true);
        assert_int_equal(fclose(f), 0);
        return p;
}

static int load_path(struct stitch_config *c, const char *path, bool missing_ok, char **ret_errors) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        assert_non_null(f);
        int r = stitch_config_load(c, path, missing_ok, f);
        assert_int_equal(fclose(f), 0);
        *ret_errors = buf;
        return r;
}

static void test_files(void **state) {
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_free_ char *good = write_file(dir, "good.conf", "[Daemon]\nWorkers=7\n");
        _cleanup_free_ char *bad = write_file(dir, "bad.conf", "[Daemon]\n\nWorkers=x\n");
        _cleanup_free_ char *missing = NULL;
        struct stitch_config c, d;
        char *errors, *expected;

        assert_int_equal(stitch_config_init_defaults(&d), 0);

        /* a good file */
        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_int_equal(load_path(&c, good, false, &errors), 0);
        assert_string_equal(errors, "");
        free(errors);
        assert_int_equal(c.workers, 7);
        stitch_config_done(&c);

        /* the file name is the prefix of every message */
        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_int_equal(load_path(&c, bad, false, &errors), -EINVAL);
        assert_true(asprintf(&expected, "%s:3: Workers=x: not a number\n", bad) > 0);
        assert_string_equal(errors, expected);
        free(errors);
        free(expected);
        assert_config_equal(&c, &d);

        /* missing: fine if allowed, else reported */
        assert_true(asprintf(&missing, "%s/missing.conf", dir) > 0);
        assert_int_equal(load_path(&c, missing, true, &errors), 0);
        assert_string_equal(errors, "");
        free(errors);
        assert_config_equal(&c, &d);
        assert_int_equal(load_path(&c, missing, false, &errors), -ENOENT);
        assert_true(asprintf(&expected, "%s: %s\n", missing, strerror(ENOENT)) > 0);
        assert_string_equal(errors, expected);
        free(errors);
        free(expected);

        /* a directory is not a config file, missing_ok or not */
        assert_int_equal(load_path(&c, dir, true, &errors), -EISDIR);
        assert_true(asprintf(&expected, "%s: %s\n", dir, strerror(EISDIR)) > 0);
        assert_string_equal(errors, expected);
        free(errors);
        free(expected);

        /* unreadable: root reads anything, so only as a normal user */
        if (geteuid() != 0) {
                assert_int_equal(chmod(good, 0), 0);
                assert_int_equal(load_path(&c, good, true, &errors), -EACCES);
                assert_true(asprintf(&expected, "%s: %s\n", good, strerror(EACCES)) > 0);
                assert_string_equal(errors, expected);
                free(errors);
                free(expected);
        }

        /* a file under a regular file (ENOTDIR) is not "missing" */
        _cleanup_free_ char *under_file = NULL;
        assert_true(asprintf(&under_file, "%s/x.conf", bad) > 0);
        assert_int_equal(load_path(&c, under_file, true, &errors), -ENOTDIR);
        free(errors);

        /* /dev/null is an empty configuration */
        assert_int_equal(load_path(&c, "/dev/null", false, &errors), 0);
        free(errors);
        assert_config_equal(&c, &d);

        /* errors may go nowhere */
        assert_int_equal(stitch_config_load(&c, bad, false, NULL), -EINVAL);
        assert_int_equal(stitch_config_load(&c, missing, false, NULL), -ENOENT);

        stitch_config_done(&c);
        stitch_config_done(&d);
        (void) unlink(good);
        (void) unlink(bad);
        assert_int_equal(rmdir(dir), 0);
}

/* [Provider.local-userpass] registration, links and commands. */
static void test_userpass_flow_keys(void **state) {
        struct stitch_config c;

        (void) state;
        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_false(CFG(&c, "Provider.local-userpass", "Registration", bool));
        assert_false(CFG(&c, "Provider.local-userpass", "AutoConfirm", bool));
        assert_null(CFG(&c, "Provider.local-userpass", "EmailConfirmationURL", char *));
        assert_null(CFG(&c, "Provider.local-userpass", "ConfirmationCommand", char *));
        assert_int_equal(CFG(&c, "Provider.local-userpass", "TokenLifetime", uint64_t), 30 * 60 * USEC_PER_SEC);
        stitch_config_done(&c);

        expect_ok(&c, every_key_text);
        assert_true(CFG(&c, "Provider.local-userpass", "Registration", bool));
        assert_string_equal(CFG(&c, "Provider.local-userpass", "EmailConfirmationURL", char *), "https://app.example.com/confirm?app=1");
        assert_string_equal(CFG(&c, "Provider.local-userpass", "ConfirmationCommand", char *), "/usr/local/bin/confirm --mode test");
        assert_int_equal(CFG(&c, "Provider.local-userpass", "TokenLifetime", uint64_t), 3600 * USEC_PER_SEC);
        stitch_config_done(&c);

        expect_errors("[Provider.local-userpass]\nEmailConfirmationURL=ftp://example.com/confirm\n",
                      "test.conf:2: EmailConfirmationURL=ftp://example.com/confirm: "
                      "expected an absolute http:// or https:// URL without a fragment\n");
        expect_errors("[Provider.local-userpass]\nResetPasswordURL=https://example.com/r#x\n",
                      "test.conf:2: ResetPasswordURL=https://example.com/r#x: "
                      "expected an absolute http:// or https:// URL without a fragment\n");
        expect_errors("[Provider.local-userpass]\nConfirmationCommand=confirm.sh --x\n",
                      "test.conf:2: ConfirmationCommand=confirm.sh --x: "
                      "expected an absolute path, then arguments\n");
        expect_errors("[Provider.local-userpass]\nTokenLifetime=10s\n",
                      "test.conf:2: TokenLifetime=10s: out of range (1min..7d)\n");
}

/* The shipped example must parse, and with every "#Key=value" line uncommented it must describe
 * exactly the defaults. */
static void test_example_config(void **state) {
        const char *srcdir = getenv("top_srcdir");
        _cleanup_free_ char *path = NULL, *text = NULL, *uncommented = NULL;
        struct stitch_config c, d;
        char *errors;

        if (!srcdir)
                skip();
        assert_true(asprintf(&path, "%s/etc/stitchd.conf", srcdir) > 0);

        assert_int_equal(stitch_config_init_defaults(&d), 0);
        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_int_equal(load_path(&c, path, false, &errors), 0);
        free(errors);
        assert_config_equal(&c, &d);

        FILE *f = fopen(path, "re");
        assert_non_null(f);
        size_t size = 0;
        FILE *out = open_memstream(&uncommented, &size);
        assert_non_null(out);
        char line[4200];
        unsigned n_keys = 0;
        while (fgets(line, sizeof(line), f)) {
                if (line[0] == '#' && line[1] >= 'A' && line[1] <= 'Z' && strchr(line, '=')) {
                        fputs(line + 1, out);
                        n_keys++;
                } else
                        fputs(line, out);
        }
        fclose(f);
        assert_int_equal(fclose(out), 0);
        /* every key of the table, each once */
        size_t n_table = 0;
        const char *section, *key;
        for (; stitch_config_key(n_table, &section, &key, NULL); n_table++) {
                _cleanup_free_ char *value = text_value(uncommented, section, key);
                if (!value)
                        fail_msg("%s lists no [%s] %s=", path, section, key);
        }
        assert_int_equal(n_keys, n_table);

        stitch_config_done(&c);
        assert_int_equal(stitch_config_init_defaults(&c), 0);
        int r = load_text(&c, uncommented, strlen(uncommented), &errors);
        if (r != 0)
                fail_msg("uncommented example: r=%d\n%s", r, errors);
        free(errors);
        assert_strv(c.services, (const char *[]) { "*" }, 1);
        assert_config_equal(&c, &d);
        stitch_config_done(&c);
        stitch_config_done(&d);
}

/* [Smtp]: URLs, addresses, what goes together; the subjects of the mails. */
static void test_smtp(void **state) {
        struct stitch_config c;
        char host[256];
        unsigned port = 0;
        bool smtps = true;

        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_null(c.smtp_url);
        assert_null(c.smtp_template_directory);
        assert_string_equal(CFG(&c, "Provider.local-userpass", "ConfirmEmailSubject", char *), "Confirm your email address");
        assert_string_equal(CFG(&c, "Provider.local-userpass", "ResetPasswordSubject", char *), "Reset your password");
        stitch_config_done(&c);

        expect_ok(&c, every_key_text);
        assert_string_equal(c.smtp_url, "smtps://mail.example.com:2465");
        assert_string_equal(c.smtp_from, "noreply@example.com");
        assert_string_equal(CFG(&c, "Provider.local-userpass", "ConfirmEmailSubject", char *), "Bitte bestätigen");
        stitch_config_done(&c);

        assert_true(stitch_smtp_url_split("smtp://127.0.0.1", &smtps, host, sizeof(host), &port));
        assert_false(smtps);
        assert_string_equal(host, "127.0.0.1");
        assert_int_equal(port, 25);
        assert_true(stitch_smtp_url_split("smtps://[::1]:1465", &smtps, host, sizeof(host), &port));
        assert_true(smtps);
        assert_string_equal(host, "::1");
        assert_int_equal(port, 1465);
        assert_true(stitch_smtp_url_split("smtp://localhost:2525", NULL, host, sizeof(host), &port));
        assert_string_equal(host, "localhost");
        assert_int_equal(port, 2525);
        assert_true(stitch_smtp_url_split("smtps://mail.example.com", NULL, NULL, 0, &port));
        assert_int_equal(port, 465);
        static const char *const bad_urls[] = {
                "http://mail.example.com", "smtp://", "smtp://:25", "smtp://a.example:0", "smtp://a.example:65536",
                "smtp://a.example/path", "smtp://user@a.example", "smtp://[::1", "smtp://[zz]:25", "smtp://a b",
                "smtp://a.example:25x", "smtp://::1:25",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_urls); i++)
                if (stitch_smtp_url_split(bad_urls[i], NULL, NULL, 0, NULL))
                        fail_msg("%s accepted", bad_urls[i]);

        assert_true(stitch_mail_address_valid("a.b+c@example.org"));
        static const char *const bad_addresses[] = {
                "", "@example.org", "a@", "a", "a b@example.org", "a@example.org\r\nBcc: x@y.z", "<a@example.org>",
                "a,b@example.org", "a@exa mple.org", "\"a\"@example.org", "ä@example.org", "a@-x.org",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_addresses); i++)
                if (stitch_mail_address_valid(bad_addresses[i]))
                        fail_msg("%s accepted", bad_addresses[i]);

        expect_errors("[Network]\nCAFile=ca.pem\n", "test.conf:2: CAFile=ca.pem: not an absolute path\n");
        expect_errors("[Network]\nTimeout=0\n", "test.conf:2: Timeout=0: out of range (1s..2min)\n");
        expect_errors("[Network]\nTimeout=1h\n", "test.conf:2: Timeout=1h: out of range (1s..2min)\n");
        expect_errors("[Fleet]\nMaxStale=100ms\n", "test.conf:2: MaxStale=100ms: out of range (200ms..1h)\n");
        expect_errors("[Offline]\nCacheFile=offline.db\n", "test.conf:2: CacheFile=offline.db: not an absolute path\n");
        expect_errors("[Network]\nAllowInsecureLoopback=maybe\n", "test.conf:2: AllowInsecureLoopback=maybe: not a boolean (use yes or no)\n");
        expect_errors("[Smtp]\nURL=smtp://127.0.0.1:2525\n", "test.conf: [Smtp] URL= requires From=\n");
        expect_errors("[Smtp]\nURL=http://x.example\nFrom=a@x.example\n",
                      "test.conf:2: URL=http://x.example: expected smtp://HOST[:PORT] or smtps://HOST[:PORT]\n");
        expect_errors("[Smtp]\nFrom=a@x.example>\n", "test.conf:2: From=a@x.example>: not a mail address (LOCAL@DOMAIN)\n");
        expect_errors("[Smtp]\nUsername=me\n", "test.conf: [Smtp] Username= and PasswordFile= must be set together\n");
        expect_errors("[Smtp]\nPasswordFile=pw\nUsername=me\n", "test.conf:2: PasswordFile=pw: not an absolute path\n"
                      "test.conf: [Smtp] Username= and PasswordFile= must be set together\n");
        expect_errors("[Provider.local-userpass]\nConfirmEmailSubject=a\tb\n",
                      "test.conf:2: ConfirmEmailSubject=a\\x09b: control characters are not allowed\n");
}

static void test_http(void **state) {
        struct stitch_config c;
        char host[64];
        unsigned port = 0;

        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_null(c.http_listen);
        assert_string_equal(c.http_app_id, "stitch");
        assert_int_equal(c.http_max_connections_per_address, 32);
        assert_int_equal(c.http_timeout_usec, 30 * SEC_USEC);
        stitch_config_done(&c);

        /* every [Http] key: test_every_key() */
        expect_ok(&c, every_key_text);
        assert_true(stitch_http_listen_split(c.http_listen, host, sizeof(host), &port));
        assert_string_equal(host, "::1");
        assert_int_equal(port, 8443);
        stitch_config_done(&c);

        /* anon-user for apps needs no UnixUser= */
        expect_ok(&c, "[Http]\nListen=127.0.0.1:8080\n[Provider.anon-user]\nEnabled=yes\n");
        stitch_config_done(&c);

        expect_errors("[Http]\nListen=localhost:8080\n",
                      "test.conf:2: Listen=localhost:8080: expected ADDRESS:PORT or [IPV6]:PORT with a numeric address\n");
        expect_errors("[Http]\nListen=::1:8080\n",
                      "test.conf:2: Listen=::1:8080: expected ADDRESS:PORT or [IPV6]:PORT with a numeric address\n");
        expect_errors("[Http]\nListen=127.0.0.1:0\n",
                      "test.conf:2: Listen=127.0.0.1:0: expected ADDRESS:PORT or [IPV6]:PORT with a numeric address\n");
        expect_errors("[Http]\nAddressPrefixIPv6=0\n", "test.conf:2: AddressPrefixIPv6=0: out of range (1..128)\n");
        expect_errors("[Http]\nAddressPrefixIPv6=129\n", "test.conf:2: AddressPrefixIPv6=129: out of range (1..128)\n");
        expect_errors("[Http]\nThreads=257\n", "test.conf:2: Threads=257: out of range (0..256)\n");
        expect_errors("[Http]\nAddressPrefixIPv4=33\n", "test.conf:2: AddressPrefixIPv4=33: out of range (1..32)\n");
        expect_errors("[Http]\nAddressPrefixIPv6=/64\n", "test.conf:2: AddressPrefixIPv6=/64: not a number\n");
        expect_errors("[Http]\nAppId=a/b\n", "test.conf:2: AppId=a/b: expected 1-64 characters of [A-Za-z0-9._-]\n");
        expect_errors("[Http]\nPublicURL=https://x.example/path\n",
                      "test.conf:2: PublicURL=https://x.example/path: expected http://HOST[:PORT] or https://HOST[:PORT]\n");
        expect_errors("[Http]\nAllowOrigins=https://ok.example app.example\n",
                      "test.conf:2: AllowOrigins=https://ok.example app.example: not an origin (scheme://host[:port]) or *: \"app.example\"\n");
        expect_errors("[Http]\nTrustedProxies=10.0.0.0/8\n",
                      "test.conf:2: TrustedProxies=10.0.0.0/8: not a numeric IP address: \"10.0.0.0/8\"\n");
        expect_errors("[Http]\nCertificateFile=/etc/ssl/a.pem\n",
                      "test.conf: [Http] CertificateFile= and KeyFile= must be set together\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_http),
                cmocka_unit_test(test_smtp),
                cmocka_unit_test(test_accounts),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_empty_and_comments),
                cmocka_unit_test(test_every_key),
                cmocka_unit_test(test_key_table),
                cmocka_unit_test(test_copy_every_key),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_later_assignment_wins),
                cmocka_unit_test(test_empty_assignment_resets),
                cmocka_unit_test(test_max_connections_per_user),
                cmocka_unit_test(test_lists),
                cmocka_unit_test(test_service_allowed),
                cmocka_unit_test(test_error_kinds),
                cmocka_unit_test(test_socket_path_too_long),
                cmocka_unit_test(test_nul_and_long_lines),
                cmocka_unit_test(test_cross_key),
                cmocka_unit_test(test_all_errors_reported),
                cmocka_unit_test(test_provider_sections),
                cmocka_unit_test(test_durations),
                cmocka_unit_test(test_files),
                cmocka_unit_test(test_example_config),
                cmocka_unit_test(test_userpass_flow_keys),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
