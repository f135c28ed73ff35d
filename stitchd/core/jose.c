/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "base64url.h"
#include "core/jose.h"
#include "macro.h"
#include "wire.h"

static int cmp_strp(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

bool stitch_jose_json_tree_is_sane(const cJSON *item, unsigned depth) {
        if (depth > STITCH_JOSE_JSON_MAX_DEPTH)
                return false;
        if (!cJSON_IsObject(item) && !cJSON_IsArray(item))
                return true;

        size_t n = 0;
        for (const cJSON *c = item->child; c; c = c->next) {
                if (!stitch_jose_json_tree_is_sane(c, depth + 1))
                        return false;
                n++;
        }
        if (!cJSON_IsObject(item) || n < 2)
                return true;

        if (n <= 8) {
                for (const cJSON *a = item->child; a; a = a->next) {
                        if (!a->string)
                                return false;
                        for (const cJSON *b = a->next; b; b = b->next)
                                if (!b->string || streq(a->string, b->string))
                                        return false;
                }
                return true;
        }

        _cleanup_free_ const char **names = malloc(n * sizeof(char *));
        if (!names)
                return false;
        size_t i = 0;
        for (const cJSON *c = item->child; c; c = c->next) {
                if (!c->string)
                        return false;
                names[i++] = c->string;
        }
        qsort(names, n, sizeof(char *), cmp_strp);
        for (i = 1; i < n; i++)
                if (streq(names[i - 1], names[i]))
                        return false;
        return true;
}

bool stitch_jose_json_text_is_clean(const uint8_t *s, size_t n) {
        bool in_string = false;

        for (size_t i = 0; i < n; i++) {
                uint8_t c = s[i];
                if (c == 0)
                        return false;
                if (!in_string) {
                        if (c == '"')
                                in_string = true;
                        continue;
                }
                if (c < 0x20)
                        return false;
                if (c == '"')
                        in_string = false;
                else if (c == '\\') {
                        if (i + 1 >= n)
                                return false;
                        if (s[i + 1] == 'u' && i + 5 < n && memcmp(s + i + 2, "0000", 4) == 0)
                                return false;
                        i++; /* skip the escaped character */
                }
        }
        return true;
}

bool stitch_jose_json_time(const cJSON *item, int64_t *ret) {
        if (!cJSON_IsNumber(item))
                return false;
        double d = item->valuedouble;
        /* The range check comes first: it also rejects NaN and infinities, and
         * makes the conversion below defined. */
        if (!(d >= 0 && d <= (double) STITCH_JOSE_TIME_MAX))
                return false;
        int64_t v = (int64_t) d;
        if ((double) v != d)
                return false; /* not an integer */
        *ret = v;
        return true;
}

int stitch_jose_json_object_parse(uint8_t *buf, size_t n, cJSON **ret) {
        if (!stitch_jose_json_text_is_clean(buf, n) || !stitch_utf8_is_valid((const char *) buf, n))
                return -EBADMSG;
        buf[n] = 0;

        const char *end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts((const char *) buf, n + 1, &end, true);
        if (!j)
                return -EBADMSG;
        if (!cJSON_IsObject(j) || !stitch_jose_json_tree_is_sane(j, 0)) {
                cJSON_Delete(j);
                return -EBADMSG;
        }
        *ret = j;
        return 0;
}

int stitch_jose_decode_json_part(const char *part, size_t len, uint8_t *buf, size_t size, cJSON **ret) {
        if (len == 0 || size == 0 || stitch_base64url_decoded_len(len) > size - 1)
                return -EBADMSG;

        ssize_t n = stitch_base64url_decode(part, len, buf, size - 1);
        if (n < 0)
                return -EBADMSG;
        return stitch_jose_json_object_parse(buf, (size_t) n, ret);
}

/* One INTEGER: minimal big-endian two's complement of an unsigned value. */
static size_t der_integer(const uint8_t v[static 32], uint8_t *out) {
        size_t skip = 0;
        while (skip < 31 && v[skip] == 0)
                skip++;
        size_t n = 32 - skip;
        bool pad = v[skip] & 0x80;
        out[0] = 0x02;
        out[1] = (uint8_t) (n + pad);
        if (pad)
                out[2] = 0;
        memcpy(out + 2 + pad, v + skip, n);
        return 2 + pad + n;
}

int stitch_jose_es256_raw_to_der(const uint8_t raw[static STITCH_JOSE_ES256_RAW_BYTES],
                                 uint8_t der[static STITCH_JOSE_ES256_DER_MAX], size_t *ret_len) {
        uint8_t body[2 * 35];
        size_t n = der_integer(raw, body);
        n += der_integer(raw + 32, body + n);
        /* At most 70 bytes: the SEQUENCE length fits the short form. */
        der[0] = 0x30;
        der[1] = (uint8_t) n;
        memcpy(der + 2, body, n);
        *ret_len = n + 2;
        return 0;
}

static const char *const alg_names[_STITCH_JOSE_ALG_MAX] = {
        [STITCH_JOSE_HS256] = "HS256",
        [STITCH_JOSE_RS256] = "RS256",
        [STITCH_JOSE_ES256] = "ES256",
};

int stitch_jose_alg_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (int a = 0; a < _STITCH_JOSE_ALG_MAX; a++)
                if (streq(s, alg_names[a]))
                        return a;
        return -EINVAL;
}

const char *stitch_jose_alg_to_string(enum stitch_jose_alg a) {
        return a >= 0 && a < _STITCH_JOSE_ALG_MAX ? alg_names[a] : NULL;
}

int stitch_jose_public_key_check(EVP_PKEY *pkey, enum stitch_jose_alg alg) {
        char group[64];

        if (!pkey)
                return -EINVAL;
        switch (alg) {
        case STITCH_JOSE_RS256: {
                int bits = EVP_PKEY_get_bits(pkey);
                if (!EVP_PKEY_is_a(pkey, "RSA") || bits < STITCH_JOSE_RSA_MIN_BITS ||
                    bits > STITCH_JOSE_RSA_MAX_BITS)
                        return -EKEYREJECTED;
                return 0;
        }
        case STITCH_JOSE_ES256:
                if (!EVP_PKEY_is_a(pkey, "EC") ||
                    EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) != 1 ||
                    !(streq(group, "prime256v1") || streq(group, "P-256"))) {
                        ERR_clear_error();
                        return -EKEYREJECTED;
                }
                return 0;
        default:
                return -EKEYREJECTED;
        }
}

bool stitch_jose_kid_valid(const char *s) {
        if (!s)
                return false;
        size_t n = strnlen(s, STITCH_JOSE_KID_MAX + 1);
        if (n == 0 || n > STITCH_JOSE_KID_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] <= ' ' || s[i] > '~')
                        return false;
        return true;
}
