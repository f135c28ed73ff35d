/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Graph API URLs and answers (providers/facebook-graph.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/https.h"
#include "macro.h"
#include "providers/facebook-graph.h"
#include "wire.h" /* cJSON_Deletep */

#define FACEBOOK_BODY_MAX (64 * 1024)

/* "WHERE: WHAT NAME" into error: what the answer lacked, never its content. */
static int bad(char *error, size_t error_size, const char *where, const char *what, const char *name) {
        if (error && error_size > 0)
                snprintf(error, error_size, "%s: %s%s%s", where, what, name ? " " : "", name ? name : "");
        return -EBADMSG;
}

static bool printable_ascii(const char *s, size_t max) {
        size_t n = 0;
        for (; s[n]; n++)
                if (n >= max || (unsigned char) s[n] <= 0x20 || (unsigned char) s[n] >= 0x7f)
                        return false;
        return n > 0;
}

bool facebook_token_shape(const char *s) {
        return s && printable_ascii(s, FACEBOOK_TOKEN_MAX);
}

bool facebook_id_valid(const char *s) {
        size_t n = 0;
        if (!s)
                return false;
        for (; s[n]; n++)
                if (n >= FACEBOOK_ID_MAX || s[n] < '0' || s[n] > '9')
                        return false;
        return n > 0;
}

/* Appends value percent-encoded (RFC 3986 unreserved kept). */
static void encode(char *out, size_t *n, const char *value) {
        static const char hex[] = "0123456789ABCDEF";
        for (const unsigned char *c = (const unsigned char *) value; *c; c++) {
                if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
                    *c == '.' || *c == '_' || *c == '~')
                        out[(*n)++] = (char) *c;
                else {
                        out[(*n)++] = '%';
                        out[(*n)++] = hex[*c >> 4];
                        out[(*n)++] = hex[*c & 15];
                }
        }
}

static int build(const char *prefix, const char *const *pairs, char **ret) {
        size_t max = strlen(prefix) + 1;
        for (size_t i = 0; pairs && pairs[i]; i += 2) {
                if (!pairs[i + 1])
                        return -EINVAL;
                max += 2 + 3 * (strlen(pairs[i]) + strlen(pairs[i + 1]));
        }
        char *s = malloc(max);
        if (!s)
                return -ENOMEM;
        size_t n = strlen(prefix);
        memcpy(s, prefix, n);
        for (size_t i = 0; pairs && pairs[i]; i += 2) {
                if (i > 0)
                        s[n++] = '&';
                encode(s, &n, pairs[i]);
                s[n++] = '=';
                encode(s, &n, pairs[i + 1]);
        }
        s[n] = 0;
        *ret = s;
        return 0;
}

int facebook_url(const char *base, const char *path, const char *const *pairs, char **ret) {
        char prefix[STITCH_HTTPS_URL_MAX + 1];
        size_t bl = strlen(base);

        while (bl > 0 && base[bl - 1] == '/')
                bl--;
        int k = snprintf(prefix, sizeof(prefix), "%.*s/%s%s", (int) bl, base, path, pairs && pairs[0] ? "?" : "");
        if (k < 0 || (size_t) k >= sizeof(prefix))
                return -E2BIG;
        char *s = NULL;
        int r = build(prefix, pairs, &s);
        if (r < 0)
                return r;
        if (strlen(s) > STITCH_HTTPS_URL_MAX) {
                erase_and_free(s);
                return -E2BIG;
        }
        *ret = s;
        return 0;
}

int facebook_appsecret_proof(const char *app_secret, const char *token, char ret[static FACEBOOK_PROOF_LEN + 1]) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned len = 0;

        if (!app_secret || !token ||
            !HMAC(EVP_sha256(), app_secret, (int) strlen(app_secret), (const unsigned char *) token, strlen(token), mac,
                  &len) ||
            len * 2 != FACEBOOK_PROOF_LEN)
                return -EIO;
        for (unsigned k = 0; k < len; k++)
                snprintf(ret + 2 * k, 3, "%02x", mac[k]);
        OPENSSL_cleanse(mac, sizeof(mac));
        return 0;
}

static cJSON *parse(const char *body, size_t len) {
        if (!body || len > FACEBOOK_BODY_MAX || strnlen(body, len) != len)
                return NULL;
        return cJSON_ParseWithLength(body, len);
}

static void copy_printable(char *dst, size_t size, const char *src) {
        size_t i = 0;
        for (; src[i] && i + 1 < size; i++)
                dst[i] = ((unsigned char) src[i] < 0x20 || (unsigned char) src[i] >= 0x7f) ? '?' : src[i];
        dst[i] = 0;
}

static bool get_int(const cJSON *o, const char *name, int64_t *ret) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
            v->valuedouble < -9007199254740992.0 || v->valuedouble > 9007199254740992.0)
                return false;
        *ret = (int64_t) v->valuedouble;
        return true;
}

/* An id may come as a string (Graph's usual) or, in a few answers, a number. */
static bool get_id(const cJSON *o, const char *name, char ret[static FACEBOOK_ID_MAX + 1]) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
        if (!cJSON_IsString(v) || !facebook_id_valid(v->valuestring))
                return false;
        snprintf(ret, FACEBOOK_ID_MAX + 1, "%s", v->valuestring);
        return true;
}

int facebook_graph_error_parse(const char *body, size_t len, struct facebook_graph_error *ret) {
        _cleanup_(cJSON_Deletep) cJSON *j = parse(body, len);
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        if (!cJSON_IsObject(e))
                return -ENOMSG;
        *ret = (struct facebook_graph_error) {};
        (void) get_int(e, "code", &ret->code);
        (void) get_int(e, "error_subcode", &ret->subcode);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "message");
        if (cJSON_IsString(v))
                copy_printable(ret->message, sizeof(ret->message), v->valuestring);
        v = cJSON_GetObjectItemCaseSensitive(e, "type");
        if (cJSON_IsString(v))
                copy_printable(ret->type, sizeof(ret->type), v->valuestring);
        ret->is_transient = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "is_transient"));
        return 0;
}

bool facebook_graph_error_transient(const struct facebook_graph_error *e) {
        switch (e->code) {
        case 1:   /* API Unknown */
        case 2:   /* API Service: temporary */
        case 4:   /* API Too Many Calls */
        case 17:  /* API User Too Many Calls */
        case 32:  /* page-level throttling */
        case 341: /* Application limit reached */
        case 613: /* Calls to this api have exceeded the rate limit */
                return true;
        default:
                return e->is_transient;
        }
}

int facebook_debug_token_parse(const char *body, size_t len, struct facebook_token_info *ret, char *error,
                               size_t error_size) {
        _cleanup_(cJSON_Deletep) cJSON *j = parse(body, len);
        if (!cJSON_IsObject(j))
                return bad(error, error_size, "debug_token", "not a JSON object", NULL);
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");
        if (!cJSON_IsObject(d))
                return bad(error, error_size, "debug_token", "no object", "data");
        *ret = (struct facebook_token_info) {};
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, "is_valid");
        if (!cJSON_IsBool(v))
                return bad(error, error_size, "debug_token", "no boolean", "data.is_valid");
        ret->is_valid = cJSON_IsTrue(v);
        if (!ret->is_valid)
                return 0; /* an invalid token's data may lack the rest */
        if (!get_id(d, "app_id", ret->app_id))
                return bad(error, error_size, "debug_token", "no", "data.app_id");
        v = cJSON_GetObjectItemCaseSensitive(d, "type");
        if (!cJSON_IsString(v))
                return bad(error, error_size, "debug_token", "no", "data.type");
        copy_printable(ret->type, sizeof(ret->type), v->valuestring);
        v = cJSON_GetObjectItemCaseSensitive(d, "user_id");
        if (v && !get_id(d, "user_id", ret->user_id))
                return bad(error, error_size, "debug_token", "malformed", "data.user_id");
        v = cJSON_GetObjectItemCaseSensitive(d, "expires_at");
        if (v && (!get_int(d, "expires_at", &ret->expires_at) || ret->expires_at < 0))
                return bad(error, error_size, "debug_token", "malformed", "data.expires_at");
        return 0;
}

int facebook_token_check(const struct facebook_token_info *i, const char *app_id, int64_t now, char *error,
                         size_t error_size) {
        const char *why = NULL;
        if (!i->is_valid)
                why = "the token is not valid (revoked, expired or not a Facebook token)";
        else if (!streq_ptr(i->app_id, app_id))
                why = "the token is for another app";
        else if (!streq(i->type, "USER"))
                why = "the token is not a user's";
        else if (i->expires_at != 0 && i->expires_at <= now)
                why = "the token has expired";
        if (!why)
                return 0;
        if (error && error_size > 0)
                snprintf(error, error_size, "%s", why);
        return -EACCES;
}

/* A string field into metadata when present; anything but a string (or
 * an over-long one) is malformed. */
static int add_string(cJSON *metadata, const cJSON *o, const char *name, char *error, size_t error_size) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
        if (!v)
                return 0;
        if (!cJSON_IsString(v) || strlen(v->valuestring) > FACEBOOK_FIELD_MAX)
                return bad(error, error_size, "/me", "malformed", name);
        return cJSON_AddStringToObject(metadata, name, v->valuestring) ? 0 : -ENOMEM;
}

int facebook_me_parse(const char *body, size_t len, char ret_id[static FACEBOOK_ID_MAX + 1], cJSON **ret_metadata,
                      char *error, size_t error_size) {
        static const char *const strings[] = {"name", "first_name", "last_name", "email"};
        _cleanup_(cJSON_Deletep) cJSON *j = parse(body, len);
        int r;

        if (!cJSON_IsObject(j))
                return bad(error, error_size, "/me", "not a JSON object", NULL);
        if (!get_id(j, "id", ret_id))
                return bad(error, error_size, "/me", "no", "id");
        _cleanup_(cJSON_Deletep) cJSON *m = cJSON_CreateObject();
        if (!m)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(strings); i++) {
                r = add_string(m, j, strings[i], error, error_size);
                if (r < 0)
                        return r;
        }
        /* picture: {"data":{"url":...,"is_silhouette":...}}; Stitch keeps the URL. */
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "picture");
        if (p) {
                const cJSON *url = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p, "data"), "url");
                if (!cJSON_IsString(url) || strlen(url->valuestring) > FACEBOOK_FIELD_MAX)
                        return bad(error, error_size, "/me", "malformed", "picture.data.url");
                if (!cJSON_AddStringToObject(m, "picture", url->valuestring))
                        return -ENOMEM;
        }
        *ret_metadata = TAKE_PTR(m);
        return 0;
}

static bool get_string(const cJSON *o, const char *name, char *ret, size_t size) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
        if (!cJSON_IsString(v) || !printable_ascii(v->valuestring, size - 1))
                return false;
        snprintf(ret, size, "%s", v->valuestring);
        return true;
}

int facebook_device_login_parse(const char *body, size_t len, struct facebook_device_code *ret, char *error,
                                size_t error_size) {
        _cleanup_(cJSON_Deletep) cJSON *j = parse(body, len);
        int64_t interval = 0, expires_in = 0;

        *ret = (struct facebook_device_code) {};
        if (!cJSON_IsObject(j))
                return bad(error, error_size, "device/login", "not a JSON object", NULL);
        if (!get_string(j, "code", ret->code, sizeof(ret->code)))
                return bad(error, error_size, "device/login", "no", "code");
        if (!get_string(j, "user_code", ret->user_code, sizeof(ret->user_code)))
                return bad(error, error_size, "device/login", "no", "user_code");
        if (!get_string(j, "verification_uri", ret->verification_uri, sizeof(ret->verification_uri)) ||
            strncmp(ret->verification_uri, "https://", 8) != 0)
                return bad(error, error_size, "device/login", "no https", "verification_uri");
        if (!get_int(j, "expires_in", &expires_in) || expires_in <= 0 || expires_in > 24 * 3600)
                return bad(error, error_size, "device/login", "no", "expires_in");
        if (!get_int(j, "interval", &interval) || interval <= 0 || interval > 3600)
                return bad(error, error_size, "device/login", "no", "interval");
        /* As given (5 from Facebook); polling faster is answered 1349172. */
        ret->interval_sec = (uint64_t) interval;
        ret->expires_in_sec = (uint64_t) expires_in;
        return 0;
}

void facebook_device_code_erase(struct facebook_device_code *c) {
        if (c)
                explicit_bzero(c, sizeof(*c));
}

int facebook_login_status_parse(long status, const char *body, size_t len, char **ret_access_token, char *error,
                                size_t error_size) {
        struct facebook_graph_error e;

        if (status == 200) {
                _cleanup_(cJSON_Deletep) cJSON *j = parse(body, len);
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "access_token");
                if (!cJSON_IsString(t) || !facebook_token_shape(t->valuestring))
                        return bad(error, error_size, "device/login_status", "no", "access_token");
                char *s = strdup(t->valuestring);
                if (!s)
                        return -ENOMEM;
                explicit_bzero(t->valuestring, strlen(t->valuestring));
                *ret_access_token = s;
                return FACEBOOK_DEVICE_AUTHORIZED;
        }
        if (facebook_graph_error_parse(body, len, &e) < 0)
                return bad(error, error_size, "device/login_status", "neither a token nor a Graph error", NULL);
        switch (e.subcode) {
        case FACEBOOK_SUBCODE_PENDING:
                return FACEBOOK_DEVICE_PENDING;
        case FACEBOOK_SUBCODE_SLOW_DOWN:
                return FACEBOOK_DEVICE_SLOW_DOWN;
        case FACEBOOK_SUBCODE_EXPIRED:
                return FACEBOOK_DEVICE_EXPIRED;
        case FACEBOOK_SUBCODE_CANCELLED:
                return FACEBOOK_DEVICE_CANCELLED;
        default:
                if (error && error_size > 0)
                        snprintf(error, error_size, "Graph error %lld/%lld: %s", (long long) e.code,
                                 (long long) e.subcode, e.message);
                return FACEBOOK_DEVICE_REFUSED;
        }
}
