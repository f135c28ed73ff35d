/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* application/x-www-form-urlencoded, as the built-in pages' forms send it
 * (and their links' queries): a few known fields, decoded strictly. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "frontends/http/request.h"
#include "macro.h"

/* Decodes s[0..len) ('+' is a space, %XX a byte) into a new string. */
static int decode(const char *s, size_t len, char **ret, size_t *ret_len) {
        char *out = malloc(len + 1);
        size_t n = 0;
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (c == '+')
                        c = ' ';
                else if (c == '%') {
                        int hi = i + 2 < len ? stitch_unhex_digit(s[i + 1]) : -1, lo = i + 2 < len ? stitch_unhex_digit(s[i + 2]) : -1;
                        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                                explicit_bzero(out, n);
                                free(out);
                                return -EINVAL; /* bad escape, or a NUL */
                        }
                        c = (char) (hi << 4 | lo);
                        i += 2;
                }
                out[n++] = c;
        }
        out[n] = 0;
        *ret = out;
        *ret_len = n;
        return 0;
}

static bool name_valid(const char *s) {
        if (!*s || strlen(s) > 32)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
                      *s == '-'))
                        return false;
        return true;
}

void http_form_done(struct http_form *f) {
        for (size_t i = 0; i < f->n; i++) {
                free(f->names[i]);
                if (f->values[i]) {
                        explicit_bzero(f->values[i], f->value_lens[i]);
                        free(f->values[i]);
                }
        }
        *f = (struct http_form) {};
}

int http_form_parse(const char *text, size_t len, struct http_form *f) {
        struct http_form out = {};
        size_t i = 0;

        while (i < len) {
                size_t end = i;
                while (end < len && text[end] != '&')
                        end++;
                if (end > i) {
                        const char *eq = memchr(text + i, '=', end - i);
                        size_t name_len = eq ? (size_t) (eq - (text + i)) : end - i;
                        char *name = NULL, *value = NULL;
                        size_t ignored, value_len = 0;
                        int r = out.n < HTTP_FORM_MAX ? decode(text + i, name_len, &name, &ignored) : -E2BIG;
                        if (r >= 0 && !name_valid(name))
                                r = -EINVAL;
                        if (r >= 0)
                                r = eq ? decode(eq + 1, (size_t) (text + end - eq - 1), &value, &value_len)
                                       : decode("", 0, &value, &value_len);
                        if (r < 0) {
                                free(name);
                                http_form_done(&out);
                                return r == -ENOMEM ? r : -EINVAL;
                        }
                        out.names[out.n] = name;
                        out.values[out.n] = value;
                        out.value_lens[out.n] = value_len;
                        out.n++;
                }
                i = end + 1;
        }
        *f = out;
        return 0;
}

const char *http_form_get(const struct http_form *f, const char *name) {
        const char *v = NULL;
        for (size_t i = 0; i < f->n; i++)
                if (streq(f->names[i], name))
                        v = f->values[i];
        return v;
}
