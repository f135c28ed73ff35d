/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* stitchd.conf: systemd-style INI (see stitchd.conf(5), and etc/stitchd.conf for every key). */

#include <stdbool.h>
#include <stddef.h>
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

/* [Provider.local-userpass] PasswordHash=argon2id:m=,t=,p= */
struct stitch_config_password_hash {
        uint32_t m_kib, t, p;
};
#define STITCH_CONFIG_PASSWORD_HASH_DEFAULT "argon2id:m=19456,t=2,p=1"

/* Sections owned elsewhere: each provider's [Provider.NAME] is a section of
 * its own file (providers/provider.h), with its own settings struct and key
 * table, parsed here like every other key (file:line errors, defaults, an
 * empty value restores the default). The config keeps one settings struct
 * per section, in the order of stitch_config_sections(). */
#define STITCH_CONFIG_SECTIONS_MAX 16

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

        /* [Provider.NAME]: each provider's settings, owned by its file
         * (stitch_config_sections() order); read with stitch_config_settings(). */
        void *settings[STITCH_CONFIG_SECTIONS_MAX];

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

        /* [Network] (outgoing HTTPS of providers: JWK Sets; daemon/https-get.c) */
        char *network_ca_file;         /* NULL: the system's CAs only */
        uint64_t network_timeout_usec; /* 10s: connect and whole transfer, each */
        /* For tests only: plain http:// to 127.0.0.1 or [::1] is allowed. */
        bool network_allow_insecure_loopback;

        /* [Fleet] (a store that several daemons share; daemon/fleet-follower.c) */
        /* How long the store's change feed may be unheard before Verify
         * stops trusting the memory and asks the store (failing closed when
         * the store does not answer). 5s. */
        uint64_t fleet_max_stale_usec;

        /* [Offline] (password logins while the store is unreachable; core/offline.h) */
        bool offline_enabled;          /* no */
        uint64_t offline_max_age_usec; /* 7d: since the user's last online login here */
        char *offline_cache_file;      /* "/var/lib/stitchd/offline-cache.db" (+ ".key") */
};

/* ---- keys and sections, for the files that own a section ----------------------------------- */

/* What a key's field holds. The type alone decides how a value is parsed, how the field is
 * copied and how it is freed. */
enum stitch_config_key_type {
        STITCH_KEY_STRING,        /* char *, NULL when unset; k->check judges a value */
        STITCH_KEY_STRING_LIST,   /* char **, NULL-terminated, never NULL once initialized; k->check judges each item */
        STITCH_KEY_BOOL,          /* bool */
        STITCH_KEY_UNSIGNED,      /* unsigned, k->min..k->max */
        STITCH_KEY_DURATION,      /* uint64_t microseconds, k->min..k->max */
        STITCH_KEY_ENUM,          /* int-sized: the value of one of k->names */
        STITCH_KEY_PASSWORD_HASH, /* struct stitch_config_password_hash: "argon2id:m=,t=,p=" */
        STITCH_KEY_UID_RANGE,     /* struct stitch_uid_range: "MIN-MAX", k->min <= MIN <= MAX <= k->max */
};

/* STITCH_KEY_STRING_LIST syntax */
enum {
        STITCH_LIST_COMMAS = 1 << 0, /* items are separated by commas as well as whitespace */
        STITCH_LIST_UNIQUE = 1 << 1, /* an item given twice is kept once */
};

struct stitch_config_parser; /* reports "file:line: message" */
struct stitch_config_key;

/* Reports what is wrong with 'word' (the whole value of a string key, or one item of the list
 * 'value') through stitch_config_report_value() and returns -EINVAL; or returns 0. */
typedef int (*stitch_config_check_fn)(struct stitch_config_parser *p, unsigned line,
                                      const struct stitch_config_key *k, const char *value, const char *word);

struct stitch_config_enum_name {
        const char *name;
        int value;
};

struct stitch_config_key {
        const char *section;
        const char *key;
        enum stitch_config_key_type type;
        size_t offset; /* of the field in its section's struct (struct stitch_config for the core's) */
        /* The default as config-file text, parsed like a value from the file; an empty assignment
         * restores it. NULL: unset (strings) or empty (lists). A list assigned the empty value is
         * empty whatever its default: "Services=" lets no service in. */
        const char *default_value;
        uint64_t min, max;                           /* UNSIGNED, DURATION, UID_RANGE */
        stitch_config_check_fn check;                /* STRING, STRING_LIST; NULL: any value */
        const struct stitch_config_enum_name *names; /* ENUM, up to { NULL } */
        unsigned list_flags;                         /* STRING_LIST */
};

/* The offset of field f of struct 'type', which must be of type t: a key's type cannot disagree
 * with its field's. */
#define STITCH_CONFIG_FIELD(st, f, t) \
        (offsetof(st, f) + 0 * sizeof(char[_Generic(((st *) NULL)->f, t: 1, default: -1)]))
#define STITCH_CONFIG_STRING(st, s, k, f, def, chk)                                              \
        { .section = s, .key = k, .type = STITCH_KEY_STRING, .offset = STITCH_CONFIG_FIELD(st, f, char *), \
          .default_value = def, .check = chk }
#define STITCH_CONFIG_STRING_LIST(st, s, k, f, def, chk, flags)                                  \
        { .section = s, .key = k, .type = STITCH_KEY_STRING_LIST,                                  \
          .offset = STITCH_CONFIG_FIELD(st, f, char **), .default_value = def, .check = chk,    \
          .list_flags = flags }
#define STITCH_CONFIG_BOOL(st, s, k, f, def)                                                     \
        { .section = s, .key = k, .type = STITCH_KEY_BOOL, .offset = STITCH_CONFIG_FIELD(st, f, bool), \
          .default_value = def }
#define STITCH_CONFIG_UNSIGNED(st, s, k, f, def, lo, hi)                                         \
        { .section = s, .key = k, .type = STITCH_KEY_UNSIGNED,                                     \
          .offset = STITCH_CONFIG_FIELD(st, f, unsigned), .default_value = def, .min = lo, .max = hi }
#define STITCH_CONFIG_DURATION(st, s, k, f, def, lo, hi)                                         \
        { .section = s, .key = k, .type = STITCH_KEY_DURATION,                                     \
          .offset = STITCH_CONFIG_FIELD(st, f, uint64_t), .default_value = def, .min = lo, .max = hi }
#define STITCH_CONFIG_PASSWORD_HASH(st, s, k, f, def)                                            \
        { .section = s, .key = k, .type = STITCH_KEY_PASSWORD_HASH,                                \
          .offset = STITCH_CONFIG_FIELD(st, f, struct stitch_config_password_hash), .default_value = def }

/* A section another file owns. */
struct stitch_config_section {
        const char *name; /* "Provider.local-userpass" */
        size_t size;      /* of its settings struct, which the config allocates */
        const struct stitch_config_key *keys;
        size_t n_keys;
        /* After the whole file, when the section's own keys parsed: what concerns other
         * sections too. Reports through stitch_config_report(p, 0, ...). NULL: nothing. */
        void (*validate)(struct stitch_config_parser *p, const struct stitch_config *c, const void *settings);
};

/* Every section owned elsewhere, NULL-terminated (providers/registry.c: the providers'). */
const struct stitch_config_section *const *stitch_config_sections(void);
/* Section s's settings in c (its struct), or NULL if s is not one of stitch_config_sections(). */
const void *stitch_config_settings(const struct stitch_config *c, const struct stitch_config_section *s);

/* For checks and validations: an error ("file:line: " and the message; line 0: "file: "). */
void stitch_config_report(struct stitch_config_parser *p, unsigned line, const char *format, ...)
        __attribute__((format(printf, 3, 4)));
/* "Key=value: message" at line; returns -EINVAL. */
int stitch_config_report_value(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                               const char *value, const char *format, ...) __attribute__((format(printf, 5, 6)));
/* The checks other sections' keys share. */
int stitch_config_check_link_url(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                                 const char *value, const char *word);
int stitch_config_check_command(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                                const char *value, const char *word);
int stitch_config_check_text_line(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                                  const char *value, const char *word);
int stitch_config_check_unix_name(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                                  const char *value, const char *word);
int stitch_config_check_service(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                                const char *value, const char *word);

/* For tests and tools, any key by name: a pointer to its field in c (bool *, unsigned *,
 * uint64_t *, char **, char ***, ...), or NULL for an unknown key. */
const void *stitch_config_value(const struct stitch_config *c, const char *section, const char *key);
/* Sets [section] key to value as the file would; with check false a string key takes the value
 * unchecked, as a config filled by hand might (tests of what comes after the parser). Errors go
 * to stderr. Returns 0, -ENOENT (no such key), -EINVAL, -ENOMEM. */
int stitch_config_set(struct stitch_config *c, const char *section, const char *key, const char *value, bool check);

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
