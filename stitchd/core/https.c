/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which URLs an outgoing fetch may use (core/https.h). */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/https.h"

static int fail(char *error, size_t error_size, const char *why) {
        if (error && error_size > 0)
                snprintf(error, error_size, "%s", why);
        return -EINVAL;
}

int stitch_https_url_check(const char *url, bool allow_insecure_loopback, char *ret_host, size_t host_size,
                           char *error, size_t error_size) {
        char host[STITCH_HTTPS_HOST_MAX];
        const char *rest;
        bool plain;

        if (!url)
                return fail(error, error_size, "no URL");
        if (strlen(url) > STITCH_HTTPS_URL_MAX)
                return fail(error, error_size, "URL too long");
        for (const char *c = url; *c; c++)
                if ((unsigned char) *c <= 0x20 || (unsigned char) *c >= 0x7f)
                        return fail(error, error_size, "space or control character in the URL");
        if (strncmp(url, "https://", 8) == 0)
                rest = url + 8, plain = false;
        else if (strncmp(url, "http://", 7) == 0)
                rest = url + 7, plain = true;
        else
                return fail(error, error_size, "expected an https:// URL");

        size_t authority = strcspn(rest, "/?#");
        if (memchr(rest, '@', authority))
                return fail(error, error_size, "user information in the URL");
        size_t host_len;
        if (rest[0] == '[') {
                const char *end = memchr(rest, ']', authority);
                if (!end)
                        return fail(error, error_size, "unterminated [IPv6] host");
                host_len = (size_t) (end - rest) + 1;
        } else
                host_len = strcspn(rest, ":/?#");
        if (host_len == 0 || host_len >= sizeof(host))
                return fail(error, error_size, "no host, or a host name too long");
        memcpy(host, rest, host_len);
        host[host_len] = 0;
        const char *after = rest + host_len;
        if (*after == ':') {
                size_t digits = strspn(after + 1, "0123456789");
                if (digits == 0 || digits > 5 || ((after + 1)[digits] && !strchr("/?#", (after + 1)[digits])))
                        return fail(error, error_size, "bad port");
        } else if (*after && !strchr("/?#", *after))
                return fail(error, error_size, "bad host");

        if (plain) {
                bool loopback = strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0;
                if (!allow_insecure_loopback || !loopback)
                        return fail(error, error_size,
                                    "expected an https:// URL (http:// only to 127.0.0.1 or [::1] with "
                                    "[Network] AllowInsecureLoopback=yes)");
        }
        if (ret_host) {
                if (host_size <= host_len)
                        return fail(error, error_size, "host name too long");
                memcpy(ret_host, host, host_len + 1);
        }
        return 0;
}

void stitch_secret_free(char *s) {
        if (!s)
                return;
        explicit_bzero(s, strlen(s));
        free(s);
}

static bool unreserved(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
               c == '_' || c == '~';
}

static size_t encoded_len(const char *s) {
        size_t n = 0;
        for (; *s; s++)
                n += unreserved((unsigned char) *s) ? 1 : 3;
        return n;
}

static char *encode(char *p, const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (unreserved(c))
                        *p++ = (char) c;
                else {
                        *p++ = '%';
                        *p++ = hex[c >> 4];
                        *p++ = hex[c & 15];
                }
        }
        return p;
}

int stitch_form_append(char **form, const char *name, const char *value) {
        if (!form || !name || !value)
                return -EINVAL;
        size_t old = *form ? strlen(*form) : 0;
        size_t n = old + (old > 0) + encoded_len(name) + 1 + encoded_len(value) + 1;
        char *s = malloc(n);
        if (!s)
                return -ENOMEM;
        char *p = s;
        if (old > 0) {
                memcpy(p, *form, old);
                p += old;
                *p++ = '&';
        }
        p = encode(p, name);
        *p++ = '=';
        p = encode(p, value);
        *p = 0;
        stitch_secret_free(*form);
        *form = s;
        return 0;
}
