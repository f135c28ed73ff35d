/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Masks the passwords in store specifications before they are shown.
 *
 * When in doubt this masks more, never less: a password may hold any of
 * ":/?#@&" unescaped (people paste them), so the userinfo runs to the last
 * '@' of the specification and a parameter value to the next '&' or blank,
 * even where a strict URI parser would stop earlier. */

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "redact.h"

/* Parameter names whose values are secrets or name a file that holds one
 * (passfile=, sslkey=): matched as case-insensitive substrings. */
static const char *const secret_words[] = {
        "pass", "pwd", "secret", "token", "key", "credential",
};

static bool key_is_secret(const char *key, size_t n) {
        for (size_t i = 0; i < ELEMENTSOF(secret_words); i++) {
                size_t w = strlen(secret_words[i]);
                for (size_t j = 0; j + w <= n; j++)
                        if (strncasecmp(key + j, secret_words[i], w) == 0)
                                return true;
        }
        return false;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_separator(char c) {
        return c == '?' || c == '&' || c == ';' || is_blank(c);
}

/* Where a parameter value starting at v ends: a libpq-quoted value ('...'
 * with \-escapes) ends after its closing quote, anything else at the next
 * '&' or blank. */
static const char *value_end(const char *v) {
        if (*v == '\'') {
                for (v++; *v && *v != '\''; v++)
                        if (*v == '\\' && v[1])
                                v++;
                return *v ? v + 1 : v;
        }
        while (*v && *v != '&' && !is_blank(*v))
                v++;
        return v;
}

/* Appends [from, to) at *o. */
static void append(char **o, const char *from, const char *to) {
        memcpy(*o, from, (size_t) (to - from));
        *o += to - from;
}

static void append_mask(char **o) {
        const char *mask = STITCH_REDACTED; /* a pointer, not literal + int (clang's -Wstring-plus-int) */
        append(o, mask, mask + strlen(mask));
}

char *stitch_redact_url(const char *s) {
        assert(s);
        size_t n = strlen(s);
        /* Each masked value is at least one byte and becomes three, and a
         * value takes at least two bytes of s ("=v" or ":v"): the result
         * grows by at most n. */
        char *out = malloc(2 * n + 1);
        if (!out)
                return NULL;
        char *o = out;
        const char *done = s; /* s up to here is in out */

        /* "scheme://user:password@host...": the password lies between the
         * first ':' of the userinfo and its end. */
        const char *slashes = strstr(s, "://");
        if (slashes) {
                const char *authority = slashes + 3;
                const char *at = strrchr(authority, '@');
                const char *sep = at ? memchr(authority, ':', (size_t) (at - authority)) : NULL;
                if (sep && at > sep + 1) {
                        append(&o, done, sep + 1);
                        append_mask(&o);
                        done = at;
                }
        }

        /* key=value parameters: a URI query ("?password=x&..."), or libpq's
         * "host=h password = x" words. The key is the word before '=',
         * after one of "?&;" or a blank. */
        for (const char *p = done; *p; p++) {
                if (*p != '=')
                        continue;
                const char *key_end = p, *key = p;
                while (key_end > done && is_blank(key_end[-1]))
                        key_end--;
                key = key_end;
                while (key > done && !is_separator(key[-1]))
                        key--;
                if (!key_is_secret(key, (size_t) (key_end - key)))
                        continue;
                const char *value = p + 1;
                while (is_blank(*value))
                        value++;
                const char *end = value_end(value);
                if (end == value)
                        continue;
                append(&o, done, value);
                append_mask(&o);
                done = end;
                p = end - 1;
        }
        append(&o, done, s + n);
        *o = 0;
        assert((size_t) (o - out) <= 2 * n);
        return out;
}
