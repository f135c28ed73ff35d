/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The confirmation and reset mails (core/mail.h).
 *
 * The body goes out as 7bit or 8bit, never quoted-printable: the link must
 * reach the reader as it is, and QP would turn its "=" into "=3D" for any
 * reader that copies the raw text. So every line must fit the 998 bytes SMTP
 * allows, which is checked after the placeholders are filled in.
 *
 * The buffer that holds a message holds the link, a secret: it grows by
 * copying and wiping, never by realloc(), which would leave copies behind. */

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/ids.h"
#include "providers/userpass.h"
#include "core/mail.h"
#include "macro.h"

static const char *const kind_names[_STITCH_MAIL_KIND_MAX] = {
        [STITCH_MAIL_CONFIRM] = "confirm",
        [STITCH_MAIL_RESET] = "reset",
};

const char *stitch_mail_kind_to_string(enum stitch_mail_kind kind) {
        return kind >= 0 && kind < _STITCH_MAIL_KIND_MAX ? kind_names[kind] : NULL;
}

/* The built-in texts. */
static const char *const builtin_texts[_STITCH_MAIL_KIND_MAX] = {
        [STITCH_MAIL_CONFIRM] =
                "Hello,\n"
                "\n"
                "{{email}} was registered with {{app}}. To confirm that this address is\n"
                "yours, open this link within {{expires}}:\n"
                "\n"
                "{{link}}\n"
                "\n"
                "If you did not register, ignore this mail: nothing happens without\n"
                "the confirmation.\n",
        [STITCH_MAIL_RESET] =
                "Hello,\n"
                "\n"
                "A new password was asked for {{email}} at {{app}}. To choose one,\n"
                "open this link within {{expires}}:\n"
                "\n"
                "{{link}}\n"
                "\n"
                "If you did not ask for it, ignore this mail: your password stays as\n"
                "it is.\n",
};

enum placeholder {
        PLACEHOLDER_LINK,
        PLACEHOLDER_EMAIL,
        PLACEHOLDER_APP,
        PLACEHOLDER_EXPIRES,
        _PLACEHOLDER_MAX,
};

static const char *const placeholder_names[_PLACEHOLDER_MAX] = {
        [PLACEHOLDER_LINK] = "link",
        [PLACEHOLDER_EMAIL] = "email",
        [PLACEHOLDER_APP] = "app",
        [PLACEHOLDER_EXPIRES] = "expires",
};

struct locale_texts {
        char name[STITCH_MAIL_LOCALE_MAX + 1]; /* "" for the default */
        char *text[_STITCH_MAIL_KIND_MAX];     /* NULL: this locale has none of this kind */
};

struct stitch_mail_templates {
        struct locale_texts *locales; /* [0] is the default, with every kind */
        size_t n_locales;
};

/* ---- a growing buffer that never leaves a copy of its content behind ---------------------- */

struct buffer {
        char *data;
        size_t len, allocated;
};

static void buffer_wipe(struct buffer *b) {
        if (b->data) {
                explicit_bzero(b->data, b->allocated);
                free(b->data);
        }
        *b = (struct buffer) {};
}

static int buffer_append(struct buffer *b, const char *s, size_t n) {
        if (b->len + n + 1 > b->allocated) {
                size_t allocated = MAX(b->allocated * 2, b->len + n + 1);
                allocated = MAX(allocated, (size_t) 1024);
                char *data = malloc(allocated);
                if (!data)
                        return -ENOMEM;
                if (b->data) {
                        memcpy(data, b->data, b->len);
                        explicit_bzero(b->data, b->allocated);
                        free(b->data);
                }
                b->data = data;
                b->allocated = allocated;
        }
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = 0;
        return 0;
}

static int buffer_puts(struct buffer *b, const char *s) {
        return buffer_append(b, s, strlen(s));
}

_printf_(2, 3) static int buffer_printf(struct buffer *b, const char *format, ...) {
        char line[STITCH_MAIL_LINE_MAX + 3];
        va_list ap;

        va_start(ap, format);
        int n = vsnprintf(line, sizeof(line), format, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= sizeof(line))
                return -E2BIG;
        return buffer_append(b, line, (size_t) n);
}

/* ---- checks ---------------------------------------------------------------------------------- */

bool stitch_mail_locale_valid(const char *locale) {
        size_t n = locale ? strlen(locale) : 0;

        if (n == 0 || n > STITCH_MAIL_LOCALE_MAX)
                return false;
        for (const char *c = locale; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-'))
                        return false;
        return true;
}

/* A header value: no CR, no LF, no other control character (UTF-8 passes; the caller encodes). */
static bool header_value_valid(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

static bool is_ascii_printable(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || (unsigned char) *s >= 0x7f)
                        return false;
        return true;
}

/* Length of the valid UTF-8 sequence at s, or 0. Overlong forms and surrogates are refused. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
        if (s[0] < 0x80)
                return 1;
        size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
        if (len == 0 || len > n || s[0] >= 0xf8)
                return 0;
        for (size_t i = 1; i < len; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
        if (len == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0)))
                return 0;
        if (len == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90)))
                return 0;
        return len;
}

/* ---- templates ------------------------------------------------------------------------------- */

_printf_(4, 5) static void report(FILE *errors, const char *file, unsigned line, const char *format, ...) {
        va_list ap;

        if (!errors)
                return;
        if (line > 0)
                fprintf(errors, "%s:%u: ", file, line);
        else
                fprintf(errors, "%s: ", file);
        va_start(ap, format);
        vfprintf(errors, format, ap);
        va_end(ap);
        fputc('\n', errors);
}

static int placeholder_find(const char *name, size_t n) {
        for (int i = 0; i < _PLACEHOLDER_MAX; i++)
                if (strlen(placeholder_names[i]) == n && memcmp(placeholder_names[i], name, n) == 0)
                        return i;
        return -1;
}

/* Checks a template's text and makes it the form compose() walks: LF line endings, valid UTF-8,
 * no control characters but tabs, lines of at most STITCH_MAIL_LINE_MAX bytes, placeholders it
 * knows. Reports each problem; returns the number of them. */
static unsigned template_check(char *text, const char *file, FILE *errors) {
        unsigned n_errors = 0, line = 1;
        size_t line_start = 0, j = 0, n = strlen(text);

        for (size_t i = 0; i <= n; i++) {
                unsigned char c = (unsigned char) text[i];

                if (c == '\r' && text[i + 1] == '\n')
                        continue; /* CRLF files read as LF */
                if (c == '\n' || c == 0) {
                        if (j - line_start > STITCH_MAIL_LINE_MAX) {
                                report(errors, file, line, "line longer than %d bytes", STITCH_MAIL_LINE_MAX);
                                n_errors++;
                        }
                        text[j++] = (char) c;
                        line++;
                        line_start = j;
                        continue;
                }
                if ((c < 0x20 && c != '\t') || c == 0x7f) {
                        report(errors, file, line, "control character 0x%02x", c);
                        n_errors++;
                        continue;
                }
                size_t k = utf8_sequence((const unsigned char *) text + i, n - i);
                if (k == 0) {
                        report(errors, file, line, "not UTF-8");
                        n_errors++;
                        continue;
                }
                if (c == '{' && text[i + 1] == '{') {
                        const char *end = strstr(text + i + 2, "}}");
                        const char *nl = strchr(text + i + 2, '\n');
                        if (!end || (nl && nl < end)) {
                                report(errors, file, line, "\"{{\" without \"}}\" on the same line");
                                n_errors++;
                        } else if (placeholder_find(text + i + 2, (size_t) (end - text - i - 2)) < 0) {
                                size_t len = (size_t) (end - text - i - 2);
                                report(errors, file, line,
                                       "unknown placeholder {{%.*s}} (known: {{link}}, {{email}}, {{app}}, {{expires}})",
                                       (int) MIN(len, (size_t) 64), text + i + 2);
                                n_errors++;
                        }
                }
                memmove(text + j, text + i, k);
                j += k;
                i += k - 1;
        }
        return n_errors;
}

/* Reads dirfd/name (at most STITCH_MAIL_TEMPLATE_MAX bytes) and checks it. Returns 0 with *ret
 * set, 0 with *ret NULL when the file does not exist and missing_ok, -EINVAL (reported), -ENOMEM. */
static int template_read(int dirfd, const char *dir_path, const char *name, bool missing_ok, FILE *errors,
                         char **ret) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        size_t len = 0;

        *ret = NULL;
        if (asprintf(&path, "%s/%s", dir_path, name) < 0)
                return -ENOMEM;

        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                if (errno == ENOENT && missing_ok)
                        return 0;
                report(errors, path, 0, "%s", strerror(errno));
                return -EINVAL;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                report(errors, path, 0, "not a regular file");
                return -EINVAL;
        }
        if (st.st_size > STITCH_MAIL_TEMPLATE_MAX) {
                report(errors, path, 0, "larger than %d bytes", STITCH_MAIL_TEMPLATE_MAX);
                return -EINVAL;
        }
        text = malloc(STITCH_MAIL_TEMPLATE_MAX + 2);
        if (!text)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, text + len, STITCH_MAIL_TEMPLATE_MAX + 1 - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        report(errors, path, 0, "%s", strerror(errno));
                        return -EINVAL;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
                if (len > STITCH_MAIL_TEMPLATE_MAX) {
                        report(errors, path, 0, "larger than %d bytes", STITCH_MAIL_TEMPLATE_MAX);
                        return -EINVAL;
                }
        }
        if (memchr(text, 0, len)) {
                report(errors, path, 0, "NUL byte in the file");
                return -EINVAL;
        }
        text[len] = 0;
        if (template_check(text, path, errors) > 0)
                return -EINVAL;
        *ret = TAKE_PTR(text);
        return 0;
}

struct stitch_mail_templates *stitch_mail_templates_free(struct stitch_mail_templates *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_locales; i++)
                for (size_t k = 0; k < _STITCH_MAIL_KIND_MAX; k++)
                        free(t->locales[i].text[k]);
        free(t->locales);
        free(t);
        return NULL;
}

static int compare_locales(const void *a, const void *b) {
        return strcasecmp(((const struct locale_texts *) a)->name, ((const struct locale_texts *) b)->name);
}

int stitch_mail_templates_load(const char *directory, FILE *errors, struct stitch_mail_templates **ret) {
        _cleanup_(stitch_mail_templates_freep) struct stitch_mail_templates *t = NULL;
        _cleanup_close_ int dirfd = -EBADF;
        bool bad = false;
        int r;

        assert(ret);

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->locales = calloc(1, sizeof(struct locale_texts));
        if (!t->locales)
                return -ENOMEM;
        t->n_locales = 1;

        if (isempty(directory)) {
                for (size_t k = 0; k < _STITCH_MAIL_KIND_MAX; k++) {
                        t->locales[0].text[k] = strdup(builtin_texts[k]);
                        if (!t->locales[0].text[k])
                                return -ENOMEM;
                        unsigned n = template_check(t->locales[0].text[k], "(built-in)", errors);
                        assert(n == 0);
                        (void) n;
                }
                *ret = TAKE_PTR(t);
                return 0;
        }

        dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0) {
                report(errors, directory, 0, "%s", strerror(errno));
                return -EINVAL;
        }
        for (size_t k = 0; k < _STITCH_MAIL_KIND_MAX; k++) {
                char name[32];
                snprintf(name, sizeof(name), "%s.txt", kind_names[k]);
                r = template_read(dirfd, directory, name, false, errors, &t->locales[0].text[k]);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        bad = true;
        }

        /* Every subdirectory named like a locale is one; anything else (a README) is not ours. */
        int fd2 = dup(dirfd);
        if (fd2 < 0)
                return -errno;
        DIR *d = fdopendir(fd2);
        if (!d) {
                close(fd2);
                return -errno;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                struct stat st;
                if (!stitch_mail_locale_valid(de->d_name) || fstatat(dirfd, de->d_name, &st, 0) < 0 ||
                    !S_ISDIR(st.st_mode))
                        continue;
                if (t->n_locales > STITCH_MAIL_LOCALES_MAX) {
                        report(errors, directory, 0, "more than %d locale directories", STITCH_MAIL_LOCALES_MAX);
                        bad = true;
                        break;
                }
                struct locale_texts *l = reallocarray(t->locales, t->n_locales + 1, sizeof(*l));
                if (!l) {
                        closedir(d);
                        return -ENOMEM;
                }
                t->locales = l;
                l = &t->locales[t->n_locales++];
                *l = (struct locale_texts) {};
                memcpy(l->name, de->d_name, strlen(de->d_name) + 1); /* a valid locale: 16 bytes at most */

                _cleanup_free_ char *sub_path = NULL;
                _cleanup_close_ int subfd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (asprintf(&sub_path, "%s/%s", directory, de->d_name) < 0) {
                        closedir(d);
                        return -ENOMEM;
                }
                if (subfd < 0) {
                        report(errors, sub_path, 0, "%s", strerror(errno));
                        bad = true;
                        continue;
                }
                for (size_t k = 0; k < _STITCH_MAIL_KIND_MAX; k++) {
                        char name[32];
                        snprintf(name, sizeof(name), "%s.txt", kind_names[k]);
                        r = template_read(subfd, sub_path, name, true, errors, &l->text[k]);
                        if (r == -ENOMEM) {
                                closedir(d);
                                return r;
                        }
                        if (r < 0)
                                bad = true;
                }
        }
        closedir(d);
        if (bad)
                return -EINVAL;

        /* Sorted, so a look-up does not depend on the order readdir() gave. */
        qsort(t->locales + 1, t->n_locales - 1, sizeof(struct locale_texts), compare_locales);
        *ret = TAKE_PTR(t);
        return 0;
}

static const struct locale_texts *find_locale(const struct stitch_mail_templates *t, enum stitch_mail_kind kind,
                                              const char *name, size_t n) {
        for (size_t i = 1; i < t->n_locales; i++)
                if (strlen(t->locales[i].name) == n && strncasecmp(t->locales[i].name, name, n) == 0 &&
                    t->locales[i].text[kind])
                        return &t->locales[i];
        return NULL;
}

const char *stitch_mail_templates_pick(const struct stitch_mail_templates *t, enum stitch_mail_kind kind,
                                       const char *locale) {
        const struct locale_texts *l = NULL;

        assert(t && kind >= 0 && kind < _STITCH_MAIL_KIND_MAX);
        if (stitch_mail_locale_valid(locale)) {
                l = find_locale(t, kind, locale, strlen(locale));
                if (!l && strchr(locale, '-'))
                        l = find_locale(t, kind, locale, strcspn(locale, "-"));
        }
        return l ? l->name : "";
}

static const char *template_text(const struct stitch_mail_templates *t, enum stitch_mail_kind kind,
                                 const char *locale) {
        const char *name = stitch_mail_templates_pick(t, kind, locale);
        if (*name)
                return find_locale(t, kind, name, strlen(name))->text[kind];
        return t->locales[0].text[kind];
}

/* ---- composing --------------------------------------------------------------------------------- */

static void format_lifetime(uint64_t usec, char *buf, size_t size) {
        uint64_t s = usec / 1000000;

        if (s >= 86400 && s % 86400 == 0)
                snprintf(buf, size, "%llu day%s", (unsigned long long) (s / 86400), s == 86400 ? "" : "s");
        else if (s >= 3600 && s % 3600 == 0)
                snprintf(buf, size, "%llu hour%s", (unsigned long long) (s / 3600), s == 3600 ? "" : "s");
        else if (s >= 60)
                snprintf(buf, size, "%llu minute%s", (unsigned long long) (s / 60), s / 60 == 1 ? "" : "s");
        else
                snprintf(buf, size, "%llu second%s", (unsigned long long) s, s == 1 ? "" : "s");
}

static const char base64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t base64_encode(const unsigned char *in, size_t n, char *out) {
        size_t j = 0;
        for (size_t i = 0; i < n; i += 3) {
                unsigned v = (unsigned) in[i] << 16 | (i + 1 < n ? (unsigned) in[i + 1] << 8 : 0) |
                             (i + 2 < n ? in[i + 2] : 0);
                out[j++] = base64_alphabet[(v >> 18) & 63];
                out[j++] = base64_alphabet[(v >> 12) & 63];
                out[j++] = i + 1 < n ? base64_alphabet[(v >> 6) & 63] : '=';
                out[j++] = i + 2 < n ? base64_alphabet[v & 63] : '=';
        }
        out[j] = 0;
        return j;
}

/* "Subject: ..." as is when it is short plain ASCII; else RFC 2047 encoded-words of at most 75
 * characters, each whole UTF-8 characters, on folded lines. */
#define ENCODED_WORD_BYTES 45 /* 60 base64 characters + "=?UTF-8?B?" + "?=" = 72 */
static int append_subject(struct buffer *b, const char *subject) {
        size_t n = strlen(subject);
        int r;

        if (is_ascii_printable(subject) && strlen("Subject: ") + n <= 78 && !strstr(subject, "=?"))
                return buffer_printf(b, "Subject: %s\r\n", subject);

        r = buffer_puts(b, "Subject:");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n;) {
                size_t chunk = 0;
                while (i + chunk < n) {
                        size_t k = utf8_sequence((const unsigned char *) subject + i + chunk, n - i - chunk);
                        if (k == 0)
                                return -EINVAL;
                        if (chunk + k > ENCODED_WORD_BYTES)
                                break;
                        chunk += k;
                }
                char encoded[ENCODED_WORD_BYTES / 3 * 4 + 8];
                base64_encode((const unsigned char *) subject + i, chunk, encoded);
                r = buffer_printf(b, "%s=?UTF-8?B?%s?=", i == 0 ? " " : "\r\n ", encoded);
                if (r < 0)
                        return r;
                i += chunk;
        }
        return buffer_puts(b, "\r\n");
}

static int append_date(struct buffer *b, int64_t now) {
        static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
        static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
        time_t t = (time_t) now;
        struct tm tm;

        if (!gmtime_r(&t, &tm))
                return -EINVAL;
        /* Fixed English names: strftime() would follow the locale. */
        return buffer_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday], tm.tm_mday,
                             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int append_body(struct buffer *b, const char *text, const char *const values[_PLACEHOLDER_MAX],
                       bool *ret_8bit) {
        size_t line_start = b->len;
        bool eight_bit = false;
        int r;

        for (const char *p = text; *p;) {
                if (p[0] == '{' && p[1] == '{') {
                        const char *end = strstr(p + 2, "}}");
                        int i = end ? placeholder_find(p + 2, (size_t) (end - p - 2)) : -1;
                        assert(i >= 0); /* template_check() let no other through */
                        if (i < 0)
                                return -EINVAL;
                        r = buffer_puts(b, values[i]);
                        p = end + 2;
                } else if (*p == '\n') {
                        if (b->len - line_start > STITCH_MAIL_LINE_MAX)
                                return -E2BIG;
                        r = buffer_puts(b, "\r\n");
                        line_start = b->len;
                        p++;
                } else {
                        size_t n = strcspn(p, "{\n");
                        if (n == 0)
                                n = 1;
                        for (size_t k = 0; k < n; k++)
                                if ((unsigned char) p[k] >= 0x80)
                                        eight_bit = true;
                        r = buffer_append(b, p, n);
                        p += n;
                }
                if (r < 0)
                        return r;
        }
        if (b->len - line_start > STITCH_MAIL_LINE_MAX)
                return -E2BIG;
        if (b->len != line_start) { /* the text did not end with a newline */
                r = buffer_puts(b, "\r\n");
                if (r < 0)
                        return r;
        }
        for (const char *const *v = values; v < values + _PLACEHOLDER_MAX; v++)
                if (!is_ascii_printable(*v))
                        eight_bit = true;
        *ret_8bit = eight_bit;
        return 0;
}

int stitch_mail_compose(const struct stitch_mail_templates *t, const struct stitch_config *c,
                        const struct stitch_mail_request *m, int64_t now, char **ret, size_t *ret_len) {
        _cleanup_(buffer_wipe) struct buffer b = {}, body = {};
        const char *subject, *app;
        char expires[64], id[33];
        unsigned char random[16];
        bool eight_bit;
        int r;

        assert(t && c && m && ret);

        if (m->kind < 0 || m->kind >= _STITCH_MAIL_KIND_MAX)
                return -EINVAL;
        subject = m->kind == STITCH_MAIL_CONFIRM ? stitch_userpass_confirm_email_subject(c) : stitch_userpass_reset_password_subject(c);
        app = c->http_app_id ?: "stitch";
        if (!subject || !header_value_valid(subject) || !header_value_valid(app))
                return -EINVAL;
        /* Both addresses go into headers and SMTP commands: nothing but an address may ride along. */
        if (!stitch_mail_address_valid(c->smtp_from) || !stitch_mail_address_valid(m->to))
                return -EINVAL;
        if (!m->link || !*m->link || strlen(m->link) > STITCH_MAIL_LINK_MAX || !is_ascii_printable(m->link) ||
            strchr(m->link, ' '))
                return -EINVAL;

        format_lifetime(stitch_userpass_token_lifetime_usec(c), expires, sizeof(expires));
        const char *values[_PLACEHOLDER_MAX] = {
                [PLACEHOLDER_LINK] = m->link,
                [PLACEHOLDER_EMAIL] = m->to,
                [PLACEHOLDER_APP] = app,
                [PLACEHOLDER_EXPIRES] = expires,
        };
        r = append_body(&body, template_text(t, m->kind, m->locale), values, &eight_bit);
        if (r < 0)
                return r;

        r = stitch_random_bytes(random, sizeof(random));
        if (r < 0)
                return r;
        for (size_t i = 0; i < sizeof(random); i++)
                snprintf(id + 2 * i, 3, "%02x", random[i]);

        if ((r = buffer_printf(&b, "From: %s\r\n", c->smtp_from)) < 0 ||
            (r = buffer_printf(&b, "To: %s\r\n", m->to)) < 0 || (r = append_subject(&b, subject)) < 0 ||
            (r = append_date(&b, now)) < 0 ||
            (r = buffer_printf(&b, "Message-ID: <%s@%s>\r\n", id, strrchr(c->smtp_from, '@') + 1)) < 0 ||
            (r = buffer_puts(&b, "MIME-Version: 1.0\r\n"
                                 "Content-Type: text/plain; charset=UTF-8\r\n")) < 0 ||
            (r = buffer_printf(&b, "Content-Transfer-Encoding: %s\r\n", eight_bit ? "8bit" : "7bit")) < 0 ||
            (r = buffer_puts(&b, "Auto-Submitted: auto-generated\r\n\r\n")) < 0 ||
            (r = buffer_append(&b, body.data, body.len)) < 0)
                return r;

        if (ret_len)
                *ret_len = b.len;
        *ret = TAKE_PTR(b.data);
        b = (struct buffer) {};
        return 0;
}
