/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* stitchd.conf: systemd-style INI (see stitchd.conf(5), and etc/stitchd.conf for every key). */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define STITCHD_CONFIG_DEFAULT "/etc/stitch/stitchd.conf"

/* The shortest password any configuration allows: MinPasswordLength='s floor and default. Keep it
 * a bare number: config.c turns it into the default's text. */
#define STITCH_PASSWORD_MIN_LENGTH 6

enum stitch_signing_algorithm {
        STITCH_SIGNING_ES256,
        STITCH_SIGNING_HS256,
};

/* [Http] AccessLog=: which requests get a log line. */
enum stitch_http_access_log {
        STITCH_HTTP_ACCESS_LOG_NO,
        STITCH_HTTP_ACCESS_LOG_ERRORS, /* answered 400 or above */
        STITCH_HTTP_ACCESS_LOG_ALL,
};

enum stitch_on_revoke {
        STITCH_ON_REVOKE_KEEP,
        STITCH_ON_REVOKE_TERMINATE,
};

/* [Accounts] UIDRange=MIN-MAX */
struct stitch_uid_range {
        uint32_t min, max;
};

struct stitch_config {
        /* [Daemon] */
        char *store;        /* "sqlite:/var/lib/stitchd/stitch.db" */
        char *auth_socket;  /* "/run/stitchd/io.stitch.Auth" */
        char *admin_socket; /* "/run/stitchd/io.stitch.Admin" */
        char *admin_group;  /* NULL = only root */
        unsigned workers;   /* 0 = number of CPUs (resolved by the daemon) */
        int log_level;      /* LOG_INFO default; LogLevel=debug|info|notice|warning|err */

        /* [Tokens] */
        uint64_t access_token_lifetime_usec;  /* 30min */
        uint64_t refresh_token_lifetime_usec; /* 60d */
        uint64_t refresh_margin_usec;         /* 5min */
        enum stitch_signing_algorithm signing_algorithm; /* ES256 */
        bool rotate_refresh_tokens;           /* no */

        /* [Pam] */
        char *email_domain; /* NULL = no mapping */
        char **services;    /* NULL-terminated; default {"*"} */

        /* [Provider.local-userpass] */
        bool userpass_enabled;          /* yes */
        unsigned min_password_length;   /* STITCH_PASSWORD_MIN_LENGTH (STITCH_PASSWORD_MIN_LENGTH..128) */
        uint32_t argon2_m_kib;          /* 19456 */
        uint32_t argon2_t;              /* 2 */
        uint32_t argon2_p;              /* 1 */
        bool userpass_registration;     /* no: anyone may register (HTTP register) */
        bool userpass_auto_confirm;     /* no: registered users are confirmed at once */
        char *userpass_confirmation_url; /* NULL: PublicURL/confirm; the link's base */
        char *userpass_reset_url;       /* NULL: PublicURL/reset */
        char *userpass_confirmation_command; /* NULL; "/abs/path [ARG...]", run without a shell */
        char *userpass_reset_command;   /* NULL; likewise, for reset/call */
        uint64_t userpass_token_lifetime_usec; /* 30min: confirmation and reset links */
        char *confirm_email_subject;    /* "Confirm your email address" */
        char *reset_password_subject;   /* "Reset your password" */

        /* [Provider.api-key] */
        bool apikey_enabled; /* yes */

        /* [Provider.anon-user] */
        bool anon_enabled;    /* no */
        char *anon_unix_user; /* NULL */
        char **anon_services; /* NULL-terminated, default empty (never implied) */

        /* [Limits] */
        unsigned max_failures;         /* 10 */
        uint64_t failure_window_usec;  /* 15min */
        uint64_t backoff_max_usec;     /* 15min: longest a single lockout lasts */
        unsigned tracked_accounts;     /* 65536 (16..1048576): accounts the rate limiter tracks at once */
        unsigned max_connections;      /* 1024 */
        unsigned max_connections_per_user; /* 128 per peer uid on the auth socket; 0 = no cap */
        uint64_t idle_timeout_usec;    /* 60s */
        unsigned caller_logins_per_minute; /* 60 successful logins per non-root caller uid; 0 = no cap */

        /* [Sessions] */
        enum stitch_on_revoke on_revoke; /* keep */
        unsigned max_sessions_per_user;  /* 100: live sessions of one user, oldest ended first */
        bool end_on_password_change;     /* yes: a new password ends the user's other sessions */

        /* [Http] (the Stitch/Realm client API; off unless http_listen) */
        char *http_listen;              /* "127.0.0.1:8080", "[::1]:443"; NULL = off */
        char *http_app_id;              /* "stitch" */
        char *http_public_url;          /* NULL: http(s)://<Listen> */
        char *http_certificate_file;    /* TLS when both are set */
        char *http_key_file;
        char **http_allow_origins;      /* NULL-terminated; empty = no CORS */
        char **http_trusted_proxies;    /* numeric addresses */
        bool http_metrics;              /* no */
        unsigned http_max_connections;  /* 256 */
        unsigned http_max_connections_per_address; /* 32 */
        uint64_t http_timeout_usec;     /* 30s */
        unsigned http_address_prefix_ipv4; /* 32: per-address limits count per prefix (core/address.h) */
        unsigned http_address_prefix_ipv6; /* 64 */
        unsigned http_threads;          /* 0 = one per online CPU (resolved by the front end) */
        enum stitch_http_access_log http_access_log; /* errors */

        /* [Accounts] (stitch users with a unix_name as Unix accounts, through systemd's userdb) */
        bool accounts_userdb;               /* no: serve io.stitch.UserDatabase */
        struct stitch_uid_range accounts_uid_range; /* 20000-59999, within 1000..2^31-2 */
        char *accounts_home_base;           /* "/home": homes are HomeBase/unix_name */
        char *accounts_shell;               /* "/bin/bash" */
        char **accounts_groups;             /* supplementary groups of every account; empty */
        bool accounts_enumerate;            /* no: answer "list every user" */

        /* [Smtp] (confirmation and reset mails; daemon/mailer.c) */
        char *smtp_url;                /* "smtp://HOST[:PORT]" or "smtps://HOST[:PORT]"; NULL = no mail */
        char *smtp_from;               /* the sender address; required with URL= */
        char *smtp_username;           /* NULL: no SMTP AUTH */
        char *smtp_password_file;      /* the SMTP password, read at start */
        char *smtp_template_directory; /* NULL: the built-in English texts (core/mail.h) */
        char *smtp_ca_file;            /* NULL: the system's CAs verify the server's certificate */
};

/* Fills c with the built-in defaults: each key's default text, parsed as the file would be.
 * Returns 0 or -ENOMEM. */
int stitch_config_init_defaults(struct stitch_config *c);

/* Parses 'path' over the defaults already in c. If the file does not exist
 * and missing_ok is true, returns 0 and c keeps the defaults. Every problem is
 * reported as "path:line: message" lines to 'errors' (may be NULL); parsing
 * continues to report all errors. Returns 0, -EINVAL (one or more errors),
 * -errno (unreadable file; also reported to errors as "path: message"). */
int stitch_config_load(struct stitch_config *c, const char *path, bool missing_ok, FILE *errors);

/* Same, from a memory buffer (tests, fuzzing). 'name' is used in messages. */
int stitch_config_load_buffer(struct stitch_config *c, const char *name, const char *data,
                              size_t len, FILE *errors);

void stitch_config_done(struct stitch_config *c);

/* The table the parser, the defaults, stitch_config_done() and copies all walk, for tests and
 * tools: the i-th key's section, name and default as config-file text (NULL: unset, or an empty
 * list). Returns false past the last key. */
bool stitch_config_key(size_t i, const char **ret_section, const char **ret_key, const char **ret_default);

/* "90s", "5min", "1h", "60d", "2w", "500ms", "1h 30min", bare number = seconds.
 * Returns 0 or -EINVAL / -ERANGE. */
int stitch_parse_duration(const char *s, uint64_t *ret_usec);

/* Services list semantics: true if 'service' is allowed by the list ("*" = all). */
bool stitch_service_allowed(char *const *list, const char *service);
/* [Http] Listen=: "HOST:PORT" or "[V6]:PORT" with a numeric address. */
bool stitch_http_listen_split(const char *value, char *ret_host, size_t host_size, unsigned *ret_port);

/* [Smtp] URL=: "smtp://HOST[:PORT]" or "smtps://HOST[:PORT]" (HOST a name, an IPv4 address
 * or [IPV6]); splits it into whether it is smtps, the host (without brackets) and the port
 * (25 or 465 when not given). */
bool stitch_smtp_url_split(const char *value, bool *ret_smtps, char *ret_host, size_t host_size,
                           unsigned *ret_port);
/* A mail address as [Smtp] From= and the mailer take it: LOCAL@DOMAIN, printable ASCII without
 * spaces, quotes, brackets, commas or semicolons, at most 254 bytes. */
bool stitch_mail_address_valid(const char *s);
