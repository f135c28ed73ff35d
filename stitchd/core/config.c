/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* stitchd.conf: systemd-style INI, parsed through one table of keys.
 *
 * Every problem is reported as "file:line: message" and parsing goes on, so a
 * single run (stitchd --check-config) shows all of them. The file is parsed
 * into a copy of the caller's configuration, which is replaced only when the
 * whole file is valid: a daemon never runs on half of a broken file. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "core/config.h"
#include "macro.h"
#include "redact.h"
#include "store/store.h"
#include "strv.h"
#include "validate.h"

#define CONFIG_LINE_MAX 4096              /* bytes per line, without the newline */
#define CONFIG_FILE_MAX (1024 * 1024)     /* a config file is small; refuse anything else */
#define SERVICE_NAME_MAX 255              /* a file name in /etc/pam.d */
#define DOMAIN_NAME_MAX 253

#define WHITESPACE " \t\r\n\v\f"

#define USEC_PER_MINUTE (UINT64_C(60) * USEC_PER_SEC)
#define USEC_PER_HOUR (UINT64_C(60) * USEC_PER_MINUTE)
#define USEC_PER_DAY (UINT64_C(24) * USEC_PER_HOUR)
#define USEC_PER_WEEK (UINT64_C(7) * USEC_PER_DAY)

#define DEFAULT_STORE "sqlite:/var/lib/stitchd/stitch.db"
#define DEFAULT_AUTH_SOCKET "/run/stitchd/io.stitch.Auth"
#define DEFAULT_ADMIN_SOCKET "/run/stitchd/io.stitch.Admin"

#define ARGON2_M_MIN UINT32_C(8)
#define ARGON2_M_MAX UINT32_C(4194304)
#define ARGON2_T_MAX UINT32_C(100)
#define ARGON2_P_MAX UINT32_C(64)

/* ---- small string helpers (locale-independent on purpose) -------------------------------- */

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_lower(char c) {
        return c >= 'a' && c <= 'z';
}

static bool is_alnum(char c) {
        return is_digit(c) || is_lower(c) || (c >= 'A' && c <= 'Z');
}

static char ascii_tolower(char c) {
        return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

static bool ascii_strcaseeq(const char *a, const char *b) {
        for (; *a && *b; a++, b++)
                if (ascii_tolower(*a) != ascii_tolower(*b))
                        return false;
        return *a == *b;
}

/* Trims in place; returns the start of the trimmed string. */
static char *strstrip(char *s) {
        s += strspn(s, WHITESPACE);
        size_t n = strlen(s);
        while (n > 0 && strchr(WHITESPACE, s[n - 1]))
                s[--n] = 0;
        return s;
}

static int strdup_or_null(const char *s, char **ret) {
        char *copy = NULL;

        if (s) {
                copy = strdup(s);
                if (!copy)
                        return -ENOMEM;
        }
        *ret = copy;
        return 0;
}

/* Replaces *field with a copy of s (NULL allowed). */
static int free_and_strdup(char **field, const char *s) {
        char *copy;
        int r = strdup_or_null(s, &copy);
        if (r < 0)
                return r;
        free(*field);
        *field = copy;
        return 0;
}

/* Values are echoed in messages: make them printable and bounded, so a binary
 * file or a hostile value cannot write escape sequences to the terminal. */
#define ESCAPED_MAX 96
static const char *escape_value(const char *s, char buf[static ESCAPED_MAX]) {
        static const char hex[] = "0123456789abcdef";
        size_t j = 0;

        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                size_t need = (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : (c == '\\' ? 2 : 4);

                if (j + need + 4 > ESCAPED_MAX) { /* room for "..." and NUL */
                        memcpy(buf + j, "...", 3);
                        j += 3;
                        break;
                }
                if (need == 1)
                        buf[j++] = (char) c;
                else if (need == 2) {
                        buf[j++] = '\\';
                        buf[j++] = '\\';
                } else {
                        buf[j++] = '\\';
                        buf[j++] = 'x';
                        buf[j++] = hex[c >> 4];
                        buf[j++] = hex[c & 15];
                }
        }
        buf[j] = 0;
        return buf;
}

/* ---- durations ---------------------------------------------------------------------------- */

static const struct {
        const char *suffix;
        uint64_t usec;
} duration_units[] = {
        { "us", 1 },
        { "usec", 1 },
        { "ms", USEC_PER_MSEC },
        { "msec", USEC_PER_MSEC },
        { "s", USEC_PER_SEC },
        { "sec", USEC_PER_SEC },
        { "second", USEC_PER_SEC },
        { "seconds", USEC_PER_SEC },
        { "m", USEC_PER_MINUTE },
        { "min", USEC_PER_MINUTE },
        { "minute", USEC_PER_MINUTE },
        { "minutes", USEC_PER_MINUTE },
        { "h", USEC_PER_HOUR },
        { "hr", USEC_PER_HOUR },
        { "hour", USEC_PER_HOUR },
        { "hours", USEC_PER_HOUR },
        { "d", USEC_PER_DAY },
        { "day", USEC_PER_DAY },
        { "days", USEC_PER_DAY },
        { "w", USEC_PER_WEEK },
        { "week", USEC_PER_WEEK },
        { "weeks", USEC_PER_WEEK },
};

static int add_overflow_u64(uint64_t a, uint64_t b, uint64_t *ret) {
        if (a > UINT64_MAX - b)
                return -ERANGE;
        *ret = a + b;
        return 0;
}

int stitch_parse_duration(const char *s, uint64_t *ret_usec) {
        uint64_t total = 0;
        bool any = false;

        if (!s)
                return -EINVAL;

        /* A sequence of "NUMBER[.FRACTION][ ]UNIT" parts, optionally separated by whitespace;
         * a part without a unit counts in seconds. */
        for (const char *p = s;;) {
                p += strspn(p, WHITESPACE);
                if (!*p)
                        break;
                if (!is_digit(*p))
                        return -EINVAL;

                uint64_t whole = 0;
                for (; is_digit(*p); p++) {
                        uint64_t d = (uint64_t) (*p - '0');
                        if (whole > (UINT64_MAX - d) / 10)
                                return -ERANGE;
                        whole = whole * 10 + d;
                }

                const char *fraction = NULL;
                size_t n_fraction = 0;
                if (*p == '.') {
                        fraction = ++p;
                        while (is_digit(*p))
                                p++;
                        n_fraction = (size_t) (p - fraction);
                        if (n_fraction == 0)
                                return -EINVAL;
                }

                p += strspn(p, WHITESPACE);
                size_t n_unit = 0;
                while (is_lower(p[n_unit]))
                        n_unit++;

                uint64_t unit = USEC_PER_SEC;
                if (n_unit > 0) {
                        bool found = false;
                        for (size_t i = 0; i < ELEMENTSOF(duration_units); i++)
                                if (strlen(duration_units[i].suffix) == n_unit &&
                                    memcmp(duration_units[i].suffix, p, n_unit) == 0) {
                                        unit = duration_units[i].usec;
                                        found = true;
                                        break;
                                }
                        if (!found)
                                return -EINVAL;
                        p += n_unit;
                }

                if (whole > UINT64_MAX / unit)
                        return -ERANGE;
                uint64_t part = whole * unit;

                /* "1.5h": each fractional digit is worth a tenth of the previous one. */
                uint64_t scale = unit;
                for (size_t i = 0; i < n_fraction && scale > 0; i++) {
                        scale /= 10;
                        if (add_overflow_u64(part, (uint64_t) (fraction[i] - '0') * scale, &part) < 0)
                                return -ERANGE;
                }

                if (add_overflow_u64(total, part, &total) < 0)
                        return -ERANGE;
                any = true;
        }

        if (!any)
                return -EINVAL;

        *ret_usec = total;
        return 0;
}

/* For messages only: "1h 30min", "60d", "500ms". */
#define DURATION_MAX 96
static const char *format_duration(uint64_t usec, char buf[static DURATION_MAX]) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } units[] = {
                { "d", USEC_PER_DAY },   { "h", USEC_PER_HOUR },    { "min", USEC_PER_MINUTE },
                { "s", USEC_PER_SEC },   { "ms", USEC_PER_MSEC },   { "us", 1 },
        };
        size_t j = 0;

        if (usec == 0)
                return "0";

        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(units) && usec > 0; i++) {
                uint64_t n = usec / units[i].usec;
                if (n == 0)
                        continue;
                usec %= units[i].usec;
                int k = snprintf(buf + j, DURATION_MAX - j, "%s%" PRIu64 "%s", j > 0 ? " " : "", n,
                                 units[i].suffix);
                if (k < 0 || (size_t) k >= DURATION_MAX - j)
                        break;
                j += (size_t) k;
        }
        return buf;
}

/* ---- value checks shared by the parsers and the final validation ---------------------------- */

static bool service_name_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > SERVICE_NAME_MAX || streq(s, ".") || streq(s, ".."))
                return false;
        for (const char *c = s; *c; c++)
                if (!is_alnum(*c) && !strchr("._+@-", *c))
                        return false;
        return true;
}

static bool domain_name_is_valid(const char *s) {
        size_t n = strlen(s), label = 0;

        if (n == 0 || n > DOMAIN_NAME_MAX)
                return false;
        for (size_t i = 0; i <= n; i++) {
                char c = s[i];
                if (c == '.' || c == 0) {
                        /* labels: 1..63 characters, no hyphen at either end */
                        if (label == 0 || label > 63 || s[i - 1] == '-')
                                return false;
                        label = 0;
                        continue;
                }
                if (!is_alnum(c) && c != '-')
                        return false;
                if (c == '-' && label == 0)
                        return false;
                label++;
        }
        return true;
}

static bool path_is_valid(const char *s) {
        if (s[0] != '/' || strlen(s) >= PATH_MAX)
                return false;
        for (const char *c = s; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        return false;
        return true;
}

static bool socket_path_is_valid(const char *s) {
        return path_is_valid(s) && strlen(s) < sizeof(((struct sockaddr_un *) NULL)->sun_path);
}

/* The store backend judges its own spec (store/registry.c). */
static bool store_is_valid(const char *s) {
        return stitch_store_validate_spec(s, NULL) >= 0;
}

/* ---- the key table: types ------------------------------------------------------------------- */

struct stitch_config_parser {
        const char *name;
        FILE *errors;
        struct stitch_config *config;
        void *base; /* the struct the current section's keys go to: config, or a section's settings */
        unsigned n_errors;
        const char *section;   /* NULL: before the first section header */
        bool section_unknown;  /* inside an unknown section: its keys are skipped */
        int section_index;     /* -1: a section of the core's keys; else stitch_config_sections()'s */
};

static void *field_of(void *base, const struct stitch_config_key *k) {
        return (uint8_t *) base + k->offset;
}

static const void *const_field_of(const void *base, const struct stitch_config_key *k) {
        return (const uint8_t *) base + k->offset;
}

static void vreport(struct stitch_config_parser *p, unsigned line, const char *format, va_list ap) {
        p->n_errors++;
        if (!p->errors)
                return;

        if (line > 0)
                fprintf(p->errors, "%s:%u: ", p->name, line);
        else
                fprintf(p->errors, "%s: ", p->name);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        vfprintf(p->errors, format, ap);
#pragma GCC diagnostic pop
        fputc('\n', p->errors);
}

void stitch_config_report(struct stitch_config_parser *p, unsigned line, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        vreport(p, line, format, ap);
        va_end(ap);
}
#define report stitch_config_report

#define report_value(p, line, k, value, fmt, ...)                                                  \
        ({                                                                                          \
                char _buf_[ESCAPED_MAX];                                                           \
                report((p), (line), "%s=%s: " fmt, (k)->key, escape_value((value), _buf_),         \
                       ##__VA_ARGS__);                                                              \
                -EINVAL;                                                                            \
        })

int stitch_config_report_value(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                               const char *value, const char *format, ...) {
        char buf[ESCAPED_MAX], message[512];
        va_list ap;

        va_start(ap, format);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        (void) vsnprintf(message, sizeof(message), format, ap);
#pragma GCC diagnostic pop
        va_end(ap);
        report(p, line, "%s=%s: %s", k->key, escape_value(value, buf), message);
        return -EINVAL;
}

/* "Services=login ../sshd: invalid service name \"../sshd\"" */
static int report_word(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k, const char *value,
                       const char *word, const char *what) {
        char buf[ESCAPED_MAX];
        return report_value(p, line, k, value, "%s \"%s\"", what, escape_value(word, buf));
}

/* ---- the parsers, one per type ---------------------------------------------------------------- */

static int parse_bool(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k, const char *value,
                      bool *field) {
        static const char *const yes[] = { "yes", "true", "1", "on" }, *const no[] = { "no", "false", "0", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (ascii_strcaseeq(value, yes[i])) {
                        *field = true;
                        return 0;
                }
                if (ascii_strcaseeq(value, no[i])) {
                        *field = false;
                        return 0;
                }
        }
        return report_value(p, line, k, value, "not a boolean (use yes or no)");
}

static int parse_number(const char *s, uint64_t *ret) {
        uint64_t v = 0;

        if (!is_digit(*s))
                return -EINVAL;
        for (; is_digit(*s); s++) {
                uint64_t d = (uint64_t) (*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (*s)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_unsigned(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k, const char *value,
                          unsigned *field) {
        uint64_t v;
        int r = parse_number(value, &v);

        if (r == -EINVAL)
                return report_value(p, line, k, value, "not a number");
        if (r < 0 || v < k->min || v > k->max)
                return report_value(p, line, k, value, "out of range (%" PRIu64 "..%" PRIu64 ")", k->min,
                                    k->max);
        *field = (unsigned) v;
        return 0;
}

static int parse_duration(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k, const char *value,
                          uint64_t *field) {
        char a[DURATION_MAX], b[DURATION_MAX];
        uint64_t v;
        int r = stitch_parse_duration(value, &v);

        if (r == -EINVAL)
                return report_value(p, line, k, value, "not a duration (e.g. 90s, 5min, 1h 30min, 60d)");
        if (r < 0 || v < k->min || v > k->max)
                return report_value(p, line, k, value, "out of range (%s..%s)", format_duration(k->min, a),
                                    format_duration(k->max, b));
        *field = v;
        return 0;
}

static int parse_enum(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k, const char *value,
                      int *field) {
        char expected[128] = "";

        for (const struct stitch_config_enum_name *n = k->names; n->name; n++)
                if (streq(value, n->name)) {
                        *field = n->value;
                        return 0;
                }

        /* "expected debug, info, notice, warning or err" */
        for (const struct stitch_config_enum_name *n = k->names; n->name; n++) {
                size_t j = strlen(expected);
                (void) snprintf(expected + j, sizeof(expected) - j, "%s%s",
                                n == k->names ? "" : n[1].name ? ", " : " or ", n->name);
        }
        return report_value(p, line, k, value, "expected %s", expected);
}

/* An empty value unsets the key (the caller has put the default text in place already). */
static int parse_string(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k, const char *value,
                        char **field) {
        if (isempty(value))
                return free_and_strdup(field, NULL);
        if (k->check) {
                int r = k->check(p, line, k, value, value);
                if (r < 0)
                        return r;
        }
        return free_and_strdup(field, value);
}

/* Lists replace, they do not append: the last assignment wins, an empty one empties the list.
 * Every bad item is reported, and any of them leaves the list as it was. */
static int parse_string_list(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k, const char *value,
                             char ***field) {
        const char *separators = k->list_flags & STITCH_LIST_COMMAS ? WHITESPACE "," : WHITESPACE;
        _cleanup_(stitch_strv_freep) char **l = NULL;
        _cleanup_free_ char *copy = strdup(value);
        size_t n = 0;
        bool bad = false;

        if (!copy)
                return -ENOMEM;
        l = calloc(strlen(value) / 2 + 2, sizeof(char *)); /* at most one item per two bytes */
        if (!l)
                return -ENOMEM;

        for (char *s = copy;;) {
                s += strspn(s, separators);
                if (!*s)
                        break;
                char *item = s;
                s += strcspn(s, separators);
                if (*s)
                        *s++ = 0;

                if (k->check && k->check(p, line, k, value, item) < 0) {
                        bad = true;
                        continue;
                }
                if ((k->list_flags & STITCH_LIST_UNIQUE) && stitch_strv_contains(l, item))
                        continue;
                l[n] = strdup(item);
                if (!l[n])
                        return -ENOMEM;
                n++;
        }
        if (bad)
                return -EINVAL;

        stitch_strv_free(*field);
        *field = TAKE_PTR(l);
        return 0;
}

/* [Provider.local-userpass] PasswordHash= without a parameter: OWASP's argon2id minimum. */
#define ARGON2_M_DEFAULT 19456
#define ARGON2_T_DEFAULT 2
#define ARGON2_P_DEFAULT 1
_Static_assert(ARGON2_M_DEFAULT == 19456 && ARGON2_T_DEFAULT == 2 && ARGON2_P_DEFAULT == 1,
               "STITCH_CONFIG_PASSWORD_HASH_DEFAULT (config.h) says the same");

/* "argon2id:m=19456,t=2,p=1"; parameters in any order, each at most once, missing ones take the
 * built-in default. */
static int parse_password_hash(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k, const char *value,
                               struct stitch_config_password_hash *field) {
        uint64_t m = ARGON2_M_DEFAULT, t = ARGON2_T_DEFAULT, par = ARGON2_P_DEFAULT;
        bool seen_m = false, seen_t = false, seen_p = false;
        _cleanup_free_ char *copy = NULL;

        if (strncmp(value, "argon2id:", 9) != 0)
                return report_value(p, line, k, value, "expected argon2id:m=KIB,t=PASSES,p=LANES");

        copy = strdup(value + 9);
        if (!copy)
                return -ENOMEM;

        for (char *s = copy; *s;) {
                size_t len = strcspn(s, ",");
                char *item = s;
                s += len;
                if (*s)
                        *s++ = 0;

                item = strstrip(item);
                char *eq = strchr(item, '=');
                if (!eq)
                        return report_value(p, line, k, value, "expected argon2id:m=KIB,t=PASSES,p=LANES");
                *eq = 0;
                const char *name = strstrip(item), *number = strstrip(eq + 1);
                uint64_t v;
                bool *seen;
                uint64_t *target;

                if (streq(name, "m"))
                        seen = &seen_m, target = &m;
                else if (streq(name, "t"))
                        seen = &seen_t, target = &t;
                else if (streq(name, "p"))
                        seen = &seen_p, target = &par;
                else
                        return report_value(p, line, k, value, "unknown parameter (use m, t and p)");
                if (*seen)
                        return report_value(p, line, k, value, "parameter %s given twice", name);
                if (parse_number(number, &v) < 0)
                        return report_value(p, line, k, value, "parameter %s is not a number", name);
                *seen = true;
                *target = v;
        }

        if (m < ARGON2_M_MIN || m > ARGON2_M_MAX)
                return report_value(p, line, k, value, "m= out of range (%" PRIu32 "..%" PRIu32 " KiB)",
                                    ARGON2_M_MIN, ARGON2_M_MAX);
        if (t < 1 || t > ARGON2_T_MAX)
                return report_value(p, line, k, value, "t= out of range (1..%" PRIu32 ")", ARGON2_T_MAX);
        if (par < 1 || par > ARGON2_P_MAX)
                return report_value(p, line, k, value, "p= out of range (1..%" PRIu32 ")", ARGON2_P_MAX);
        if (m < 8 * par)
                return report_value(p, line, k, value, "m= must be at least 8 KiB per lane (8*p)");

        *field = (struct stitch_config_password_hash) {(uint32_t) m, (uint32_t) t, (uint32_t) par};
        return 0;
}

/* "20000-59999": both ends in k->min..k->max, MIN <= MAX. */
static int parse_uid_range(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k, const char *value,
                           struct stitch_uid_range *field) {
        const char *dash = strchr(value, '-');
        uint64_t lo, hi;

        if (!dash)
                return report_value(p, line, k, value, "expected MIN-MAX");
        _cleanup_free_ char *first = strndup(value, (size_t) (dash - value));
        if (!first)
                return -ENOMEM;
        if (parse_number(strstrip(first), &lo) < 0 || parse_number(dash + 1 + strspn(dash + 1, WHITESPACE), &hi) < 0)
                return report_value(p, line, k, value, "expected MIN-MAX");
        if (lo < k->min || hi > k->max || lo > hi)
                return report_value(p, line, k, value, "expected MIN-MAX with %" PRIu64 " <= MIN <= MAX <= %" PRIu64,
                                    k->min, k->max);
        *field = (struct stitch_uid_range) {(uint32_t) lo, (uint32_t) hi};
        return 0;
}

/* Assigns 'value' to k in p->base, as "Key=value" in the file would. */
static int assign(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k, const char *value) {
        void *field = field_of(p->base, k);

        if (!*value && k->default_value && k->type != STITCH_KEY_STRING_LIST)
                value = k->default_value;

        switch (k->type) {
        case STITCH_KEY_STRING:
                return parse_string(p, line, k, value, field);
        case STITCH_KEY_STRING_LIST:
                return parse_string_list(p, line, k, value, field);
        case STITCH_KEY_BOOL:
                return parse_bool(p, line, k, value, field);
        case STITCH_KEY_UNSIGNED:
                return parse_unsigned(p, line, k, value, field);
        case STITCH_KEY_DURATION:
                return parse_duration(p, line, k, value, field);
        case STITCH_KEY_ENUM:
                return parse_enum(p, line, k, value, field);
        case STITCH_KEY_PASSWORD_HASH:
                return parse_password_hash(p, line, k, value, field);
        case STITCH_KEY_UID_RANGE:
                return parse_uid_range(p, line, k, value, field);
        }
        assert(!"unknown key type");
        return -EINVAL;
}

/* ---- the checks of string values and list items ------------------------------------------------- */

/* A check of one value (or one word of a list) of a key: 0, or the error
 * reported (file:line) through report_value(). */
#define CHECK(name) \
        static int name(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k, const char *value, const char *word)

CHECK(check_store) {
        const char *error = NULL;
        if (stitch_store_validate_spec(word, &error) >= 0)
                return 0;
        _cleanup_free_ char *shown = stitch_store_describe_spec(value); /* a database URL may hold a password */
        return report_value(p, line, k, shown ?: STITCH_REDACTED, "%s", error ?: "invalid store specification");
}

CHECK(check_socket_path) {
        if (!path_is_valid(word))
                return report_value(p, line, k, value, "not an absolute path");
        if (!socket_path_is_valid(word))
                return report_value(p, line, k, value, "socket path too long (max %zu bytes)",
                                    sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1);
        return 0;
}

CHECK(check_file_path) {
        return path_is_valid(word) ? 0 : report_value(p, line, k, value, "not an absolute path");
}

/* A home base or shell: systemd's user records take absolute, normalized paths without ':'. */
CHECK(check_account_path) {
        size_t n = strlen(word);

        if (!path_is_valid(word) || strchr(word, ':') || strstr(word, "//") || strstr(word, "/./") ||
            strstr(word, "/../") || (n > 1 && word[n - 1] == '/') || (n >= 2 && streq(word + n - 2, "/.")) ||
            (n >= 3 && streq(word + n - 3, "/..")))
                return report_value(p, line, k, value, "not a normalized absolute path without ':'");
        return 0;
}

CHECK(check_unix_name) {
        return stitch_unix_name_valid(word) ? 0 : report_value(p, line, k, value, "not a valid user or group name");
}

CHECK(check_email_domain) {
        return domain_name_is_valid(word) ? 0 : report_value(p, line, k, value, "not a valid domain name");
}

CHECK(check_service) {
        if (streq(word, "*") || service_name_is_valid(word))
                return 0;
        return report_word(p, line, k, value, word, "invalid service name");
}

/* [Http] ------------------------------------------------------------------ */

static bool numeric_address_is_valid(const char *s) {
        unsigned char buf[sizeof(struct in6_addr)];
        return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* "HOST:PORT" or "[V6]:PORT", numeric; split into host and port when wanted. */
/* The split host and port, to callers that want them. */
static bool hand_out(const char *host, uint64_t port, char *ret_host, size_t host_size, unsigned *ret_port) {
        if (ret_host) {
                if (strlen(host) >= host_size)
                        return false;
                memcpy(ret_host, host, strlen(host) + 1);
        }
        if (ret_port)
                *ret_port = (unsigned) port;
        return true;
}

bool stitch_http_listen_split(const char *value, char *ret_host, size_t host_size, unsigned *ret_port) {
        const char *colon;
        char host[INET6_ADDRSTRLEN + 1];
        size_t n;

        if (isempty(value))
                return false;
        if (value[0] == '[') {
                const char *end = strchr(value, ']');
                if (!end || end[1] != ':')
                        return false;
                n = (size_t) (end - value - 1);
                colon = end + 1;
                if (n == 0 || n >= sizeof(host))
                        return false;
                memcpy(host, value + 1, n);
                host[n] = 0;
                if (!strchr(host, ':'))
                        return false;
        } else {
                colon = strrchr(value, ':');
                if (!colon)
                        return false;
                n = (size_t) (colon - value);
                if (n == 0 || n >= sizeof(host))
                        return false;
                memcpy(host, value, n);
                host[n] = 0;
                if (strchr(host, ':'))
                        return false; /* IPv6 needs brackets */
        }
        if (!numeric_address_is_valid(host))
                return false;
        uint64_t port;
        if (parse_number(colon + 1, &port) < 0 || port < 1 || port > 65535)
                return false;
        return hand_out(host, port, ret_host, host_size, ret_port);
}

CHECK(check_http_listen) {
        if (stitch_http_listen_split(word, NULL, 0, NULL))
                return 0;
        return report_value(p, line, k, value, "expected ADDRESS:PORT or [IPV6]:PORT with a numeric address");
}

static bool app_id_is_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 64)
                return false;
        for (; *s; s++)
                if (!is_alnum(*s) && *s != '-' && *s != '_' && *s != '.')
                        return false;
        return true;
}

CHECK(check_app_id) {
        return app_id_is_valid(word) ? 0 : report_value(p, line, k, value, "expected 1-64 characters of [A-Za-z0-9._-]");
}

/* scheme://host[:port] with nothing after it (no path, no spaces). */
static bool origin_is_valid(const char *s, bool path_ok) {
        const char *rest;
        if (strncmp(s, "http://", 7) == 0)
                rest = s + 7;
        else if (strncmp(s, "https://", 8) == 0)
                rest = s + 8;
        else
                return false;
        if (!*rest || *rest == '/' || strlen(s) > 255)
                return false;
        for (const char *c = rest; *c; c++) {
                if ((unsigned char) *c <= ' ' || *c == '"' || *c == '\\' || (unsigned char) *c >= 0x7f)
                        return false;
                if (!path_ok && (*c == '/' || *c == '?' || *c == '#'))
                        return false;
        }
        return true;
}

CHECK(check_public_url) {
        if (origin_is_valid(word, false))
                return 0;
        return report_value(p, line, k, value, "expected http://HOST[:PORT] or https://HOST[:PORT]");
}

/* A link base (EmailConfirmationURL=, ResetPasswordURL=): an absolute http(s) URL, with a path
 * and a query if need be (the token is appended), without a fragment. */
CHECK(check_link_url) {
        if (origin_is_valid(word, true) && !strchr(word, '#'))
                return 0;
        return report_value(p, line, k, value, "expected an absolute http:// or https:// URL without a fragment");
}

/* A command run without a shell (ConfirmationCommand=, ResetCommand=): an absolute path, then
 * arguments separated by spaces; no quoting, no control characters. */
CHECK(check_command) {
        char program[PATH_MAX];
        size_t n = strcspn(word, " ");

        for (const char *c = word; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        return report_value(p, line, k, value, "control characters are not allowed");
        if (n == 0 || n >= sizeof(program))
                return report_value(p, line, k, value, "expected an absolute path, then arguments");
        memcpy(program, word, n);
        program[n] = 0;
        if (!path_is_valid(program))
                return report_value(p, line, k, value, "expected an absolute path, then arguments");
        return 0;
}

CHECK(check_allowed_origin) {
        if (streq(word, "*") || origin_is_valid(word, false))
                return 0;
        return report_word(p, line, k, value, word, "not an origin (scheme://host[:port]) or *:");
}

CHECK(check_trusted_proxy) {
        return numeric_address_is_valid(word) ? 0 : report_word(p, line, k, value, word, "not a numeric IP address:");
}

/* [Smtp] and the mails ------------------------------------------------------ */

bool stitch_smtp_url_split(const char *value, bool *ret_smtps, char *ret_host, size_t host_size,
                           unsigned *ret_port) {
        const char *rest, *port_text = NULL;
        char host[DOMAIN_NAME_MAX + 1];
        bool smtps;
        size_t n;

        if (isempty(value))
                return false;
        if (strncmp(value, "smtp://", 7) == 0)
                rest = value + 7, smtps = false;
        else if (strncmp(value, "smtps://", 8) == 0)
                rest = value + 8, smtps = true;
        else
                return false;

        if (rest[0] == '[') {
                const char *end = strchr(rest, ']');
                if (!end)
                        return false;
                n = (size_t) (end - rest - 1);
                if (n == 0 || n > INET6_ADDRSTRLEN)
                        return false;
                memcpy(host, rest + 1, n);
                host[n] = 0;
                unsigned char buf[sizeof(struct in6_addr)];
                if (inet_pton(AF_INET6, host, buf) != 1)
                        return false;
                if (end[1] == ':')
                        port_text = end + 2;
                else if (end[1] != 0)
                        return false;
        } else {
                n = strcspn(rest, ":");
                if (n == 0 || n >= sizeof(host))
                        return false;
                memcpy(host, rest, n);
                host[n] = 0;
                /* a domain name (which covers dotted IPv4 addresses) */
                if (!domain_name_is_valid(host))
                        return false;
                if (rest[n] == ':')
                        port_text = rest + n + 1;
        }

        uint64_t port = smtps ? 465 : 25;
        if (port_text && (parse_number(port_text, &port) < 0 || port < 1 || port > 65535))
                return false;
        if (ret_smtps)
                *ret_smtps = smtps;
        return hand_out(host, port, ret_host, host_size, ret_port);
}

bool stitch_mail_address_valid(const char *s) {
        const char *at;

        if (isempty(s) || strlen(s) > 254)
                return false;
        at = strrchr(s, '@');
        if (!at || at == s || at - s > 64 || !domain_name_is_valid(at + 1))
                return false;
        for (const char *c = s; c < at; c++)
                /* no header or SMTP syntax can ride in on an address */
                if ((unsigned char) *c <= ' ' || (unsigned char) *c >= 0x7f || strchr("\"(),:;<>@[\\]", *c))
                        return false;
        return true;
}

CHECK(check_smtp_url) {
        if (stitch_smtp_url_split(word, NULL, NULL, 0, NULL))
                return 0;
        return report_value(p, line, k, value, "expected smtp://HOST[:PORT] or smtps://HOST[:PORT]");
}

CHECK(check_mail_address) {
        return stitch_mail_address_valid(word) ? 0 : report_value(p, line, k, value, "not a mail address (LOCAL@DOMAIN)");
}

/* A subject or a user name: one line of text (UTF-8 passes), no control characters. */
CHECK(check_text_line) {
        if (strlen(word) > 200)
                return report_value(p, line, k, value, "longer than 200 bytes");
        for (const char *c = word; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        return report_value(p, line, k, value, "control characters are not allowed");
        return 0;
}

/* The checks other sections' keys share (config.h). */
int stitch_config_check_link_url(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                                 const char *value, const char *word) {
        return check_link_url(p, line, k, value, word);
}

int stitch_config_check_command(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                                const char *value, const char *word) {
        return check_command(p, line, k, value, word);
}

int stitch_config_check_text_line(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                                  const char *value, const char *word) {
        return check_text_line(p, line, k, value, word);
}

int stitch_config_check_unix_name(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                                  const char *value, const char *word) {
        return check_unix_name(p, line, k, value, word);
}

int stitch_config_check_service(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                                const char *value, const char *word) {
        return check_service(p, line, k, value, word);
}

/* ---- the key table ------------------------------------------------------------------------------- */

static const struct stitch_config_enum_name log_levels[] = {
        { "debug", LOG_DEBUG }, { "info", LOG_INFO }, { "notice", LOG_NOTICE }, { "warning", LOG_WARNING },
        { "err", LOG_ERR },     {},
};

static const struct stitch_config_enum_name signing_algorithms[] = {
        { "ES256", STITCH_SIGNING_ES256 },
        { "HS256", STITCH_SIGNING_HS256 },
        {},
};

static const struct stitch_config_enum_name on_revoke_actions[] = {
        { "keep", STITCH_ON_REVOKE_KEEP },
        { "terminate", STITCH_ON_REVOKE_TERMINATE },
        {},
};

static const struct stitch_config_enum_name http_access_logs[] = {
        { "no", STITCH_HTTP_ACCESS_LOG_NO },
        { "errors", STITCH_HTTP_ACCESS_LOG_ERRORS },
        { "all", STITCH_HTTP_ACCESS_LOG_ALL },
        {},
};

/* STITCH_KEY_ENUM writes an int */
_Static_assert(sizeof(enum stitch_http_access_log) == sizeof(int), "enum is not int-sized");
_Static_assert(sizeof(enum stitch_signing_algorithm) == sizeof(int), "enum is not int-sized");
_Static_assert(sizeof(enum stitch_on_revoke) == sizeof(int), "enum is not int-sized");

#define STRING(s, k, f, def, chk) STITCH_CONFIG_STRING(struct stitch_config, s, k, f, def, chk)
#define STRING_LIST(s, k, f, def, chk, flags) STITCH_CONFIG_STRING_LIST(struct stitch_config, s, k, f, def, chk, flags)
#define BOOL(s, k, f, def) STITCH_CONFIG_BOOL(struct stitch_config, s, k, f, def)
#define UNSIGNED(s, k, f, def, lo, hi) STITCH_CONFIG_UNSIGNED(struct stitch_config, s, k, f, def, lo, hi)
#define DURATION(s, k, f, def, lo, hi) STITCH_CONFIG_DURATION(struct stitch_config, s, k, f, def, lo, hi)
#define UID_RANGE(s, k, f, def, lo, hi)                                                            \
        { .section = s, .key = k, .type = STITCH_KEY_UID_RANGE,                                    \
          .offset = STITCH_CONFIG_FIELD(struct stitch_config, f, struct stitch_uid_range), .default_value = def, \
          .min = lo, .max = hi }
#define ENUM(s, k, f, t, def, n)                                                                   \
        { .section = s, .key = k, .type = STITCH_KEY_ENUM, .offset = STITCH_CONFIG_FIELD(struct stitch_config, f, t), \
          .default_value = def, .names = n }

#define SEC(n) ((uint64_t) (n) * USEC_PER_SEC)
#define DAYS(n) ((uint64_t) (n) * USEC_PER_DAY)

static const struct stitch_config_key keys[] = {
        STRING("Daemon", "Store", store, DEFAULT_STORE, check_store),
        STRING("Daemon", "AuthSocket", auth_socket, DEFAULT_AUTH_SOCKET, check_socket_path),
        STRING("Daemon", "AdminSocket", admin_socket, DEFAULT_ADMIN_SOCKET, check_socket_path),
        STRING("Daemon", "AdminGroup", admin_group, NULL, check_unix_name),
        UNSIGNED("Daemon", "Workers", workers, "0", 0, 1024),
        ENUM("Daemon", "LogLevel", log_level, int, "info", log_levels),

        DURATION("Tokens", "AccessTokenLifetime", access_token_lifetime_usec, "30min", SEC(10), USEC_PER_DAY),
        DURATION("Tokens", "RefreshTokenLifetime", refresh_token_lifetime_usec, "60d", SEC(10), DAYS(3650)),
        DURATION("Tokens", "RefreshMargin", refresh_margin_usec, "5min", 0, USEC_PER_DAY),
        ENUM("Tokens", "SigningAlgorithm", signing_algorithm, enum stitch_signing_algorithm, "ES256",
             signing_algorithms),
        BOOL("Tokens", "RotateRefreshTokens", rotate_refresh_tokens, "no"),

        STRING("Pam", "EmailDomain", email_domain, NULL, check_email_domain),
        STRING_LIST("Pam", "Services", services, "*", check_service, STITCH_LIST_COMMAS | STITCH_LIST_UNIQUE),

        UNSIGNED("Limits", "MaxFailures", max_failures, "10", 1, 1000),
        DURATION("Limits", "FailureWindow", failure_window_usec, "15min", SEC(1), DAYS(30)),
        DURATION("Limits", "BackoffMax", backoff_max_usec, "15min", SEC(1), DAYS(30)),
        UNSIGNED("Limits", "TrackedAccounts", tracked_accounts, "65536", 16, 1048576),
        UNSIGNED("Limits", "MaxConnections", max_connections, "1024", 1, 65536),
        UNSIGNED("Limits", "MaxConnectionsPerUser", max_connections_per_user, "128", 0, 65536),
        DURATION("Limits", "IdleTimeout", idle_timeout_usec, "60s", SEC(1), DAYS(1)),
        UNSIGNED("Limits", "CallerLoginsPerMinute", caller_logins_per_minute, "60", 0, 1000000),

        ENUM("Sessions", "OnRevoke", on_revoke, enum stitch_on_revoke, "keep", on_revoke_actions),
        UNSIGNED("Sessions", "MaxPerUser", max_sessions_per_user, "100", 1, 100000),
        BOOL("Sessions", "EndOnPasswordChange", end_on_password_change, "yes"),

        STRING("Http", "Listen", http_listen, NULL, check_http_listen),
        STRING("Http", "AppId", http_app_id, "stitch", check_app_id),
        STRING("Http", "PublicURL", http_public_url, NULL, check_public_url),
        STRING("Http", "CertificateFile", http_certificate_file, NULL, check_file_path),
        STRING("Http", "KeyFile", http_key_file, NULL, check_file_path),
        STRING_LIST("Http", "AllowOrigins", http_allow_origins, NULL, check_allowed_origin, 0),
        STRING_LIST("Http", "TrustedProxies", http_trusted_proxies, NULL, check_trusted_proxy, 0),
        BOOL("Http", "Metrics", http_metrics, "no"),
        UNSIGNED("Http", "MaxConnections", http_max_connections, "256", 1, 65536),
        UNSIGNED("Http", "MaxConnectionsPerAddress", http_max_connections_per_address, "32", 1, 65536),
        DURATION("Http", "Timeout", http_timeout_usec, "30s", SEC(1), USEC_PER_HOUR),
        UNSIGNED("Http", "AddressPrefixIPv4", http_address_prefix_ipv4, "32", 1, 32),
        UNSIGNED("Http", "AddressPrefixIPv6", http_address_prefix_ipv6, "64", 1, 128),
        UNSIGNED("Http", "Threads", http_threads, "0", 0, 256),
        ENUM("Http", "AccessLog", http_access_log, enum stitch_http_access_log, "errors", http_access_logs),

        BOOL("Accounts", "UserDB", accounts_userdb, "no"),
        UID_RANGE("Accounts", "UIDRange", accounts_uid_range, "20000-59999", 1000, INT32_MAX - 1),
        STRING("Accounts", "HomeBase", accounts_home_base, "/home", check_account_path),
        STRING("Accounts", "Shell", accounts_shell, "/bin/bash", check_account_path),
        STRING_LIST("Accounts", "Groups", accounts_groups, NULL, check_unix_name, STITCH_LIST_UNIQUE),
        BOOL("Accounts", "Enumerate", accounts_enumerate, "no"),

        STRING("Smtp", "URL", smtp_url, NULL, check_smtp_url),
        STRING("Smtp", "From", smtp_from, NULL, check_mail_address),
        STRING("Smtp", "Username", smtp_username, NULL, check_text_line),
        STRING("Smtp", "PasswordFile", smtp_password_file, NULL, check_file_path),
        STRING("Smtp", "TemplateDirectory", smtp_template_directory, NULL, check_file_path),
        STRING("Smtp", "CAFile", smtp_ca_file, NULL, check_file_path),

        STRING("Network", "CAFile", network_ca_file, NULL, check_file_path),
        DURATION("Network", "Timeout", network_timeout_usec, "10s", SEC(1), SEC(120)),
        BOOL("Network", "AllowInsecureLoopback", network_allow_insecure_loopback, "no"),

        DURATION("Fleet", "MaxStale", fleet_max_stale_usec, "5s", 200 * USEC_PER_MSEC, SEC(3600)),

        BOOL("Offline", "Enabled", offline_enabled, "no"),
        DURATION("Offline", "MaxAge", offline_max_age_usec, "7d", SEC(1), DAYS(366)),
        STRING("Offline", "CacheFile", offline_cache_file, "/var/lib/stitchd/offline-cache.db", check_file_path),
};

/* The sections others own (providers/registry.c), NULL-terminated. */
static const struct stitch_config_section *const *sections(void) {
        static const struct stitch_config_section *const none[] = {NULL};
        const struct stitch_config_section *const *l = stitch_config_sections();
        return l ? l : none;
}

static size_t n_sections(void) {
        size_t n = 0;
        for (const struct stitch_config_section *const *l = sections(); *l; l++)
                n++;
        assert(n <= STITCH_CONFIG_SECTIONS_MAX);
        return MIN(n, (size_t) STITCH_CONFIG_SECTIONS_MAX);
}

/* Where [name] goes: the core's own keys (*ret_index -1) or section *ret_index. The name as
 * the table spells it, or NULL if unknown. */
static const char *known_section(const char *name, int *ret_index) {
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (streq(keys[i].section, name)) {
                        *ret_index = -1;
                        return keys[i].section;
                }
        for (size_t i = 0; i < n_sections(); i++)
                if (streq(sections()[i]->name, name)) {
                        *ret_index = (int) i;
                        return sections()[i]->name;
                }
        return NULL;
}

static const struct stitch_config_key *find_key(int index, const char *section, const char *key) {
        if (index >= 0) {
                const struct stitch_config_section *sec = sections()[index];
                for (size_t i = 0; i < sec->n_keys; i++)
                        if (streq(sec->keys[i].key, key))
                                return &sec->keys[i];
                return NULL;
        }
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (streq(keys[i].section, section) && streq(keys[i].key, key))
                        return &keys[i];
        return NULL;
}

/* The i-th key of all: the core's, then each section's. */
static const struct stitch_config_key *nth_key(size_t i, int *ret_index) {
        if (i < ELEMENTSOF(keys)) {
                *ret_index = -1;
                return &keys[i];
        }
        i -= ELEMENTSOF(keys);
        for (size_t j = 0; j < n_sections(); j++) {
                if (i < sections()[j]->n_keys) {
                        *ret_index = (int) j;
                        return &sections()[j]->keys[i];
                }
                i -= sections()[j]->n_keys;
        }
        return NULL;
}

/* The struct a key of section index (-1: the core's) lives in. */
static void *base_of(struct stitch_config *c, int index) {
        return index < 0 ? (void *) c : c->settings[index];
}

bool stitch_config_key(size_t i, const char **ret_section, const char **ret_key, const char **ret_default) {
        int index;
        const struct stitch_config_key *k = nth_key(i, &index);
        if (!k)
                return false;
        if (ret_section)
                *ret_section = k->section;
        if (ret_key)
                *ret_key = k->key;
        if (ret_default)
                *ret_default = k->default_value;
        return true;
}

const void *stitch_config_settings(const struct stitch_config *c, const struct stitch_config_section *s) {
        for (size_t i = 0; i < n_sections(); i++)
                if (sections()[i] == s)
                        return c->settings[i];
        return NULL;
}

/* ---- defaults, copies, teardown: walks of the table -------------------------------------------- */

/* Frees what the key's field owns (strings, lists) and clears it. */
static void field_done(void *base, const struct stitch_config_key *k) {
        void *field = field_of(base, k);

        if (k->type == STITCH_KEY_STRING) {
                free(*(char **) field);
                *(char **) field = NULL;
        } else if (k->type == STITCH_KEY_STRING_LIST)
                *(char ***) field = stitch_strv_free(*(char ***) field);
}

void stitch_config_done(struct stitch_config *c) {
        if (!c)
                return;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                field_done(c, &keys[i]);
        for (size_t i = 0; i < n_sections(); i++) {
                if (!c->settings[i])
                        continue;
                for (size_t j = 0; j < sections()[i]->n_keys; j++)
                        field_done(c->settings[i], &sections()[i]->keys[j]);
                free(c->settings[i]);
        }
        /* Zeroed, so a second call (or a call after a failed init) frees nothing twice. */
        *c = (struct stitch_config) {};
}

int stitch_config_init_defaults(struct stitch_config *c) {
        struct stitch_config_parser p = {
                .name = "(defaults)",
                .config = c,
        };

        assert(c);

        *c = (struct stitch_config) {};
        for (size_t i = 0; i < n_sections(); i++) {
                c->settings[i] = calloc(1, sections()[i]->size);
                if (!c->settings[i]) {
                        stitch_config_done(c);
                        return -ENOMEM;
                }
        }
        int index;
        const struct stitch_config_key *k;
        for (size_t i = 0; (k = nth_key(i, &index)); i++) {
                /* An unset string stays NULL; a list without a default is empty, not NULL. */
                p.base = base_of(c, index);
                int r = assign(&p, 0, k, k->default_value ?: "");
                if (r == -ENOMEM) {
                        stitch_config_done(c);
                        return r;
                }
        }

        /* A default its own parser refuses is a mistake in a key table (tests/unit/test-config.c). */
        assert(p.n_errors == 0);
        if (p.n_errors > 0) {
                stitch_config_done(c);
                return -EINVAL;
        }
        return 0;
}

/* Copies the fields of one struct's keys that own memory (the rest came with a memcpy). */
static int copy_fields(const void *src, void *dst, const struct stitch_config_key *table, size_t n) {
        /* First let go of everything dst shares with src, so a failure frees only copies. */
        for (size_t i = 0; i < n; i++) {
                void *field = field_of(dst, &table[i]);

                if (table[i].type == STITCH_KEY_STRING)
                        *(char **) field = NULL;
                else if (table[i].type == STITCH_KEY_STRING_LIST)
                        *(char ***) field = NULL;
        }
        for (size_t i = 0; i < n; i++) {
                const void *from = const_field_of(src, &table[i]);
                void *to = field_of(dst, &table[i]);

                if (table[i].type == STITCH_KEY_STRING) {
                        if (strdup_or_null(*(char *const *) from, to) < 0)
                                return -ENOMEM;
                } else if (table[i].type == STITCH_KEY_STRING_LIST) {
                        /* A NULL list copies as an empty one. */
                        *(char ***) to = stitch_strv_copy(*(char **const *) from);
                        if (!*(char ***) to)
                                return -ENOMEM;
                }
        }
        return 0;
}

static int config_copy(const struct stitch_config *src, struct stitch_config *ret) {
        struct stitch_config c = *src;

        for (size_t i = 0; i < STITCH_CONFIG_SECTIONS_MAX; i++)
                c.settings[i] = NULL;
        int r = copy_fields(src, &c, keys, ELEMENTSOF(keys));
        for (size_t i = 0; r >= 0 && i < n_sections(); i++) {
                const struct stitch_config_section *sec = sections()[i];
                if (!src->settings[i]) {
                        r = -EINVAL; /* not from stitch_config_init_defaults() */
                        break;
                }
                c.settings[i] = malloc(sec->size);
                if (!c.settings[i]) {
                        r = -ENOMEM;
                        break;
                }
                memcpy(c.settings[i], src->settings[i], sec->size);
                r = copy_fields(src->settings[i], c.settings[i], sec->keys, sec->n_keys);
        }
        if (r < 0) {
                stitch_config_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

/* ---- the parser ------------------------------------------------------------------------------ */

static int parse_line(struct stitch_config_parser *p, unsigned line, char *l) {
        l = strstrip(l);

        if (!*l || *l == '#' || *l == ';')
                return 0;

        if (*l == '[') {
                size_t n = strlen(l);
                char buf[ESCAPED_MAX];

                if (l[n - 1] != ']' || n < 3 || strpbrk(l + 1, "[]") != l + n - 1) {
                        report(p, line, "Malformed section header: %s", escape_value(l, buf));
                        /* Keys that follow belong to no section we know: don't pile up errors. */
                        p->section = NULL;
                        p->section_unknown = true;
                        return 0;
                }
                l[n - 1] = 0;
                p->section = known_section(l + 1, &p->section_index);
                p->section_unknown = !p->section;
                if (p->section)
                        p->base = base_of(p->config, p->section_index);
                if (!p->section)
                        report(p, line, "Unknown section [%s]", escape_value(l + 1, buf));
                return 0;
        }

        char *eq = strchr(l, '=');
        if (!eq) {
                char buf[ESCAPED_MAX];
                _cleanup_free_ char *shown = stitch_redact_url(l); /* "Store postgresql://u:pw@h" */
                report(p, line, "Missing '=' in line: %s", escape_value(shown ?: STITCH_REDACTED, buf));
                return 0;
        }
        *eq = 0;
        char *key = strstrip(l), *value = strstrip(eq + 1);
        char buf[ESCAPED_MAX];

        if (!*key) {
                report(p, line, "Missing key name before '='");
                return 0;
        }
        if (p->section_unknown)
                return 0;
        if (!p->section) {
                report(p, line, "Assignment outside of any section: %s", escape_value(key, buf));
                return 0;
        }

        const struct stitch_config_key *k = find_key(p->section_index, p->section, key);
        if (!k) {
                report(p, line, "Unknown key '%s' in section [%s]", escape_value(key, buf), p->section);
                return 0;
        }

        int r = assign(p, line, k, value);
        return r == -ENOMEM ? r : 0;
}

static void validate(struct stitch_config_parser *p) {
        const struct stitch_config *c = p->config;
        char a[DURATION_MAX], b[DURATION_MAX];

        if (c->refresh_margin_usec >= c->access_token_lifetime_usec)
                report(p, 0, "RefreshMargin=%s must be shorter than AccessTokenLifetime=%s",
                       format_duration(c->refresh_margin_usec, a), format_duration(c->access_token_lifetime_usec, b));
        if (c->access_token_lifetime_usec < SEC(10) || c->access_token_lifetime_usec > USEC_PER_DAY)
                report(p, 0, "AccessTokenLifetime=%s must be between 10s and 24h",
                       format_duration(c->access_token_lifetime_usec, a));
        if (c->refresh_token_lifetime_usec < c->access_token_lifetime_usec)
                report(p, 0, "RefreshTokenLifetime=%s must not be shorter than AccessTokenLifetime=%s",
                       format_duration(c->refresh_token_lifetime_usec, a),
                       format_duration(c->access_token_lifetime_usec, b));
        if (isempty(c->http_certificate_file) != isempty(c->http_key_file))
                report(p, 0, "[Http] CertificateFile= and KeyFile= must be set together");
        if (!isempty(c->smtp_url) && isempty(c->smtp_from))
                report(p, 0, "[Smtp] URL= requires From=");
        if (isempty(c->smtp_username) != isempty(c->smtp_password_file))
                report(p, 0, "[Smtp] Username= and PasswordFile= must be set together");

        /* The parsers check these already; a caller may have filled c by hand. */
        if (!c->store || !store_is_valid(c->store))
                report(p, 0, "Store= must be a valid store specification (sqlite:/absolute/path)");
        if (!c->auth_socket || !socket_path_is_valid(c->auth_socket))
                report(p, 0, "AuthSocket= must be an absolute path shorter than %zu bytes",
                       sizeof(((struct sockaddr_un *) NULL)->sun_path));
        if (!c->admin_socket || !socket_path_is_valid(c->admin_socket))
                report(p, 0, "AdminSocket= must be an absolute path shorter than %zu bytes",
                       sizeof(((struct sockaddr_un *) NULL)->sun_path));
        if (c->auth_socket && c->admin_socket && streq(c->auth_socket, c->admin_socket))
                report(p, 0, "AuthSocket= and AdminSocket= must be different paths");
        if (c->admin_group && !stitch_unix_name_valid(c->admin_group))
                report(p, 0, "AdminGroup= is not a valid group name");
        for (size_t i = 0; i < n_sections(); i++)
                if (sections()[i]->validate && c->settings[i])
                        sections()[i]->validate(p, c, c->settings[i]);
}

int stitch_config_load_buffer(struct stitch_config *c, const char *name, const char *data, size_t len,
                              FILE *errors) {
        struct stitch_config new;
        char line_buf[CONFIG_LINE_MAX + 1];
        unsigned line = 0;
        int r;

        if (!c || (!data && len > 0))
                return -EINVAL;
        if (!name)
                name = "(buffer)";

        r = config_copy(c, &new);
        if (r < 0)
                return r;

        struct stitch_config_parser p = {
                .name = name,
                .errors = errors,
                .config = &new,
                .base = &new,
                .section_index = -1,
        };

        /* A UTF-8 byte order mark is not part of the first line. */
        if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
                data += 3;
                len -= 3;
        }

        for (size_t pos = 0; pos < len;) {
                const char *start = data + pos;
                const char *nl = memchr(start, '\n', len - pos);
                size_t n = nl ? (size_t) (nl - start) : len - pos;

                pos += n + (nl ? 1 : 0);
                if (line == UINT_MAX)
                        break;
                line++;

                if (n > CONFIG_LINE_MAX) {
                        report(&p, line, "Line too long (more than %d bytes)", CONFIG_LINE_MAX);
                        continue;
                }
                if (memchr(start, 0, n)) {
                        report(&p, line, "NUL byte in line");
                        continue;
                }
                memcpy(line_buf, start, n);
                line_buf[n] = 0;

                r = parse_line(&p, line, line_buf);
                if (r < 0) {
                        stitch_config_done(&new);
                        return r;
                }
        }

        validate(&p);

        if (p.n_errors > 0) {
                stitch_config_done(&new);
                return -EINVAL;
        }

        stitch_config_done(c);
        *c = new;
        return 0;
}

static int read_file(int fd, char **ret, size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, allocated = 0;

        for (;;) {
                if (len == allocated) {
                        size_t n = allocated == 0 ? 16384 : allocated * 2;
                        if (n > CONFIG_FILE_MAX + 1)
                                n = CONFIG_FILE_MAX + 1;
                        if (n <= len)
                                return -EFBIG;
                        char *b = realloc(buf, n);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        allocated = n;
                }
                ssize_t k = read(fd, buf + len, allocated - len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        if (len > CONFIG_FILE_MAX)
                return -EFBIG;

        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int stitch_config_load(struct stitch_config *c, const char *path, bool missing_ok, FILE *errors) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        struct stat st;
        int r;

        if (!c || !path)
                return -EINVAL;

        /* O_NONBLOCK: a FIFO in place of the file must not hang the daemon at start. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                r = -errno;
                if (r == -ENOENT && missing_ok)
                        return 0;
                goto fail;
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto fail;
        }
        if (S_ISDIR(st.st_mode)) {
                r = -EISDIR;
                goto fail;
        }
        if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) { /* character devices: /dev/null */
                r = -EBADFD;
                if (errors)
                        fprintf(errors, "%s: Not a regular file\n", path);
                return r;
        }

        r = read_file(fd, &data, &len);
        if (r < 0)
                goto fail;

        return stitch_config_load_buffer(c, path, data, len, errors);

fail:
        if (errors)
                fprintf(errors, "%s: %s\n", path, strerror(-r));
        return r;
}

/* ---- queries ----------------------------------------------------------------------------------- */

bool stitch_service_allowed(char *const *list, const char *service) {
        if (!list || isempty(service))
                return false;
        for (char *const *i = list; *i; i++)
                if (streq(*i, "*") || streq(*i, service))
                        return true;
        return false;
}

/* ---- by name, for tests and tools ---------------------------------------------------------------- */

static const struct stitch_config_key *key_by_name(const char *section, const char *key, int *ret_index) {
        int index;
        if (!section || !key || !known_section(section, &index))
                return NULL;
        *ret_index = index;
        return find_key(index, section, key);
}

const void *stitch_config_value(const struct stitch_config *c, const char *section, const char *key) {
        int index;
        const struct stitch_config_key *k = key_by_name(section, key, &index);
        if (!c || !k)
                return NULL;
        const void *base = index < 0 ? (const void *) c : c->settings[index];
        return base ? const_field_of(base, k) : NULL;
}

int stitch_config_set(struct stitch_config *c, const char *section, const char *key, const char *value, bool check) {
        int index;
        const struct stitch_config_key *k = key_by_name(section, key, &index);
        if (!c || !k || !value)
                return -ENOENT;
        struct stitch_config_parser p = {
                .name = "(set)",
                .errors = stderr,
                .config = c,
                .base = base_of(c, index),
                .section_index = index,
        };
        if (!p.base)
                return -EINVAL;
        if (!check && k->type == STITCH_KEY_STRING)
                return free_and_strdup(field_of(p.base, k), value);
        int r = assign(&p, 0, k, value);
        return r < 0 ? r : p.n_errors > 0 ? -EINVAL : 0;
}
