/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <string.h>

#include "validate.h"

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_lower(char c) {
        return c >= 'a' && c <= 'z';
}

static bool is_upper(char c) {
        return c >= 'A' && c <= 'Z';
}

static bool is_alnum(char c) {
        return is_digit(c) || is_lower(c) || is_upper(c);
}

bool stitch_unix_name_valid(const char *s) {
        size_t n = s ? strnlen(s, STITCH_UNIX_NAME_MAX + 1) : 0;

        if (n == 0 || n > STITCH_UNIX_NAME_MAX)
                return false;
        if (!is_lower(s[0]) && s[0] != '_')
                return false;
        for (size_t i = 1; i < n; i++) {
                char c = s[i];
                if (is_lower(c) || is_digit(c) || c == '_' || c == '.' || c == '-')
                        continue;
                if (c == '$' && i == n - 1)
                        continue;
                return false;
        }
        return true;
}

bool stitch_email_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        if (n < 3 || n > 254)
                return false;
        const char *at = strchr(s, '@');
        if (!at || at == s || !at[1] || strchr(at + 1, '@'))
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c <= ' ' || c == 0x7f)
                        return false;
        }
        return true;
}

bool stitch_apikey_name_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-')
                        return false;
        return true;
}

static bool id_length_valid(const char *s) {
        return s && strnlen(s, STITCH_ID_LEN + 1) == STITCH_ID_LEN;
}

bool stitch_objectid_valid(const char *s) {
        if (!id_length_valid(s))
                return false;
        for (size_t i = 0; i < STITCH_ID_LEN; i++)
                if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
                        return false;
        return true;
}

bool stitch_session_id_valid(const char *s) {
        if (!id_length_valid(s))
                return false;
        for (size_t i = 0; i < STITCH_ID_LEN; i++)
                if (!is_alnum(s[i]))
                        return false;
        return true;
}
