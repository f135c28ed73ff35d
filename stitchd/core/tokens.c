/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Access tokens: compact JWS (RFC 7515/7519), ES256 or HS256, and the keyring
 * that signs and verifies them.
 *
 * Verification is strict on purpose: we only ever accept tokens we issued, so
 * anything our signer would not produce (padding, unknown header parameters,
 * duplicate keys, non-integer times...) is rejected before or after the
 * signature check, and the algorithm always comes from the key, never from
 * the token.
 *
 * ECDSA verification dominates the cost of Verify, and the same access token
 * is typically verified many times during its life (each service call, each
 * PAM session check). The keyring therefore remembers, per key generation,
 * the SHA-256 of (signing input digest, signature) of ES256 tokens whose
 * signature checked out; a hit skips only the curve arithmetic. Everything
 * else (header, claims, times) is re-checked on every call, and a reload
 * empties the cache so removed keys stop verifying at once. */

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "base64url.h"
#include "log.h"
#include "macro.h"
#include "core/jose.h"
#include "core/tokens.h"
#include "validate.h"
#include "wire.h"

#define KID_SIZE sizeof(((struct stitch_signing_key *) NULL)->kid)
#define KID_RANDOM_BYTES 16
#define HS256_KEY_BYTES 32
#define HS256_MIN_KEY_BYTES 32
#define MAX_SECRET_BYTES 16384
#define ES256_SIG_BYTES 64
#define HS256_SIG_BYTES 32
#define SHA256_BYTES 32
#define VERIFY_CACHE_SLOTS 4096                   /* power of two */
#define VERIFY_CACHE_STRIPES 64

/* Largest decoded header or payload a token of STITCH_JWT_MAX_LEN can carry. */
#define JWT_MAX_DECODED ((STITCH_JWT_MAX_LEN / 4) * 3 + 3)

enum jwt_alg {
        JWT_ALG_ES256,
        JWT_ALG_HS256,
};

struct key_entry {
        char kid[KID_SIZE];
        enum jwt_alg alg;
        int64_t created, retired;
        EVP_PKEY *pkey;              /* ES256 */
        EVP_MAC_CTX *hmac_template;  /* HS256: keyed, duplicated per call */
        char *header_b64;            /* base64url of our JOSE header for this key */
        size_t header_b64_len;
        char jwk_x[48], jwk_y[48];   /* ES256: base64url public coordinates */
};

struct verify_cache_slot {
        uint8_t digest[SHA256_BYTES];
        bool used;
};

struct stitch_keyring {
        pthread_rwlock_t lock; /* readers sign/verify; reload writes */
        struct key_entry *keys;
        size_t n_keys;
        struct key_entry *active; /* NULL: nothing to sign with */

        EVP_MD *sha256;
        EVP_MAC *hmac;

        pthread_mutex_t cache_locks[VERIFY_CACHE_STRIPES];
        struct verify_cache_slot *cache; /* VERIFY_CACHE_SLOTS */

        uint64_t generation; /* moves on every reload */
};

/* ---- small helpers -------------------------------------------------------- */

static bool kid_is_valid(const char *s) {
        size_t n = strnlen(s, KID_SIZE);
        if (n == 0 || n >= KID_SIZE)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] <= ' ' || s[i] > '~')
                        return false;
        return true;
}

static int alg_from_string(const char *s, enum jwt_alg *ret) {
        /* Case-sensitive on purpose: "none", "None", "es256" etc. are all unknown. */
        if (streq(s, "ES256"))
                *ret = JWT_ALG_ES256;
        else if (streq(s, "HS256"))
                *ret = JWT_ALG_HS256;
        else
                return -EINVAL;
        return 0;
}

static const char *alg_to_string(enum jwt_alg a) {
        return a == JWT_ALG_ES256 ? "ES256" : "HS256";
}

static bool time_is_valid(int64_t t) {
        return t >= 0 && t <= STITCH_JOSE_TIME_MAX;
}

/* Decodes one base64url part and parses it as a JSON object. buf holds
 * JWT_MAX_DECODED + 1 bytes. */
static int decode_json_part(const char *part, size_t len, uint8_t *buf, cJSON **ret) {
        if (len > STITCH_JWT_MAX_LEN)
                return -EBADMSG;
        return stitch_jose_decode_json_part(part, len, buf, JWT_MAX_DECODED + 1, ret);
}

/* ---- signatures ------------------------------------------------------------- */

/* Per-thread OpenSSL contexts for the hot paths: a digest context and the
 * signing context of the last key used. Creating them per call (EVP_Digest,
 * EVP_PKEY_CTX_new_from_pkey + sign_init) costs as much as a tenth of an
 * ES256 signature. The signing context holds a reference to its key, so a
 * key freed by a reload cannot come back at the same address. */
struct thread_ctx {
        EVP_MD_CTX *md;
        EVP_PKEY_CTX *sign;
        const EVP_PKEY *sign_key;
};
static pthread_key_t thread_ctx_key;
static pthread_once_t thread_ctx_once = PTHREAD_ONCE_INIT;
static bool thread_ctx_key_ok;

static void thread_ctx_free(void *p) {
        struct thread_ctx *t = p;
        if (!t)
                return;
        EVP_MD_CTX_free(t->md);
        EVP_PKEY_CTX_free(t->sign);
        free(t);
}

static void thread_ctx_key_init(void) {
        thread_ctx_key_ok = pthread_key_create(&thread_ctx_key, thread_ctx_free) == 0;
}

/* NULL if out of memory: callers fall back to one-shot contexts. */
static struct thread_ctx *thread_ctx_get(void) {
        (void) pthread_once(&thread_ctx_once, thread_ctx_key_init);
        if (!thread_ctx_key_ok)
                return NULL;
        struct thread_ctx *t = pthread_getspecific(thread_ctx_key);
        if (t)
                return t;
        t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        t->md = EVP_MD_CTX_new();
        if (!t->md || pthread_setspecific(thread_ctx_key, t) != 0) {
                thread_ctx_free(t);
                return NULL;
        }
        return t;
}

void stitch_tokens_thread_done(void) {
        (void) pthread_once(&thread_ctx_once, thread_ctx_key_init);
        if (!thread_ctx_key_ok)
                return;
        thread_ctx_free(pthread_getspecific(thread_ctx_key));
        (void) pthread_setspecific(thread_ctx_key, NULL);
}

static int sha256(struct stitch_keyring *kr, const void *data, size_t n, uint8_t out[static SHA256_BYTES]) {
        struct thread_ctx *t = thread_ctx_get();
        unsigned len = 0;
        int ok = t ? EVP_DigestInit_ex2(t->md, kr->sha256, NULL) == 1 && EVP_DigestUpdate(t->md, data, n) == 1 &&
                             EVP_DigestFinal_ex(t->md, out, &len) == 1
                   : EVP_Digest(data, n, out, &len, kr->sha256, NULL) == 1;
        if (!ok || len != SHA256_BYTES) {
                ERR_clear_error();
                return -EIO;
        }
        return 0;
}

/* The thread's signing context for this key, or a new one-shot context (*ret_owned). */
static EVP_PKEY_CTX *sign_ctx(EVP_PKEY *pkey, EVP_PKEY_CTX **ret_owned) {
        struct thread_ctx *t = thread_ctx_get();
        *ret_owned = NULL;
        if (t && t->sign && t->sign_key == pkey)
                return t->sign;
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        if (!ctx || EVP_PKEY_sign_init(ctx) != 1) {
                EVP_PKEY_CTX_free(ctx);
                return NULL;
        }
        if (!t)
                return *ret_owned = ctx;
        EVP_PKEY_CTX_free(t->sign);
        t->sign = ctx;
        t->sign_key = pkey;
        return ctx;
}

static int hs256_mac(const struct key_entry *k, const void *data, size_t n, uint8_t out[static HS256_SIG_BYTES]) {
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(k->hmac_template);
        size_t len = 0;
        int r = 0;

        if (!ctx)
                r = -ENOMEM;
        else if (EVP_MAC_update(ctx, data, n) != 1 || EVP_MAC_final(ctx, out, &len, HS256_SIG_BYTES) != 1 ||
                 len != HS256_SIG_BYTES)
                r = -EIO;
        EVP_MAC_CTX_free(ctx);
        if (r < 0)
                ERR_clear_error();
        return r;
}

/* ECDSA signatures are malleable: if (r, s) verifies, so does (r, n - s).
 * We emit and accept only the low form, s <= n/2 (as Bitcoin's BIP 62 and
 * libsecp256k1 do), so a token has exactly one valid signature and nobody
 * can mint a second, different-looking copy of one we issued. Both halves
 * are big-endian, 32 bytes: memcmp() orders them. */
static const uint8_t p256_order[32] = {
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};
static const uint8_t p256_half_order[32] = { /* floor(n / 2) */
        0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
};

static bool es256_s_is_high(const uint8_t s[static 32]) {
        return memcmp(s, p256_half_order, 32) > 0;
}

/* s = n - s, for 0 < s < n. */
static void es256_s_negate(uint8_t s[static 32]) {
        unsigned borrow = 0;
        for (size_t i = 32; i-- > 0;) {
                unsigned d = (unsigned) p256_order[i] - s[i] - borrow;
                s[i] = (uint8_t) d;
                borrow = (d >> 8) & 1;
        }
}

/* One DER INTEGER of an ECDSA-Sig-Value, a positive number of at most 32
 * bytes, right-aligned into out. Advances *p. */
static bool der_integer_32(const uint8_t **p, const uint8_t *end, uint8_t out[static 32]) {
        const uint8_t *q = *p;
        if (end - q < 2 || q[0] != 0x02 || q[1] == 0 || q[1] > 33 || end - q - 2 < q[1])
                return false;
        size_t n = q[1];
        q += 2;
        if (q[0] & 0x80)
                return false; /* negative */
        *p = q + n;
        while (n > 0 && q[0] == 0)
                q++, n--;
        if (n > 32)
                return false;
        memset(out, 0, 32 - n);
        memcpy(out + 32 - n, q, n);
        return true;
}

/* r || s from OpenSSL's DER signature, without the ECDSA_SIG and two
 * BIGNUMs d2i_ECDSA_SIG would allocate for it. */
static bool der_signature_to_raw(const uint8_t *der, size_t len, uint8_t out[static ES256_SIG_BYTES]) {
        const uint8_t *p = der, *end = der + len;
        /* SEQUENCE, short length: 72 bytes at most for P-256. */
        if (len < 2 || p[0] != 0x30 || (p[1] & 0x80) || (size_t) p[1] != len - 2)
                return false;
        p += 2;
        return der_integer_32(&p, end, out) && der_integer_32(&p, end, out + 32) && p == end;
}

static int es256_sign(struct stitch_keyring *kr, const struct key_entry *k, const void *data, size_t n,
                      uint8_t out[static ES256_SIG_BYTES]) {
        uint8_t digest[SHA256_BYTES], der[80];
        size_t der_len = sizeof(der);
        EVP_PKEY_CTX *ctx = NULL, *owned = NULL;
        int r;

        r = sha256(kr, data, n, digest);
        if (r < 0)
                return r;

        ctx = sign_ctx(k->pkey, &owned);
        if (!ctx || EVP_PKEY_sign(ctx, der, &der_len, digest, sizeof(digest)) != 1) {
                r = -EIO;
                goto finish;
        }
        if (!der_signature_to_raw(der, der_len, out)) {
                r = -EIO;
                goto finish;
        }
        if (es256_s_is_high(out + 32))
                es256_s_negate(out + 32);
        r = 0;

finish:
        EVP_PKEY_CTX_free(owned);
        if (r < 0 && ctx && !owned) {
                /* A failed context is not reused. */
                struct thread_ctx *t = thread_ctx_get();
                if (t && t->sign == ctx) {
                        EVP_PKEY_CTX_free(t->sign);
                        t->sign = NULL;
                        t->sign_key = NULL;
                }
        }
        if (r < 0)
                ERR_clear_error();
        return r;
}

/* Returns 0 if valid, -EKEYREJECTED if not, other -errno on failure. */
static int es256_verify_digest(const struct key_entry *k, const uint8_t digest[static SHA256_BYTES],
                               const uint8_t raw[static ES256_SIG_BYTES]) {
        uint8_t der[STITCH_JOSE_ES256_DER_MAX];
        size_t der_len = 0;
        EVP_PKEY_CTX *ctx = NULL;
        int r;

        r = stitch_jose_es256_raw_to_der(raw, der, &der_len);
        if (r < 0)
                return r;

        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
        if (!ctx || EVP_PKEY_verify_init(ctx) != 1) {
                r = -EIO;
                goto finish;
        }
        r = EVP_PKEY_verify(ctx, der, der_len, digest, SHA256_BYTES) == 1 ? 0 : -EKEYREJECTED;

finish:
        EVP_PKEY_CTX_free(ctx);
        if (r < 0)
                ERR_clear_error();
        return r;
}

/* ---- verified-signature cache --------------------------------------------------- */

static size_t cache_slot_index(const uint8_t digest[static SHA256_BYTES]) {
        uint32_t v = (uint32_t) digest[0] | (uint32_t) digest[1] << 8 | (uint32_t) digest[2] << 16 |
                     (uint32_t) digest[3] << 24;
        return v & (VERIFY_CACHE_SLOTS - 1);
}

static bool cache_lookup(struct stitch_keyring *kr, const uint8_t digest[static SHA256_BYTES]) {
        size_t i = cache_slot_index(digest);
        pthread_mutex_t *m = &kr->cache_locks[i % VERIFY_CACHE_STRIPES];
        bool hit;

        pthread_mutex_lock(m);
        hit = kr->cache[i].used && CRYPTO_memcmp(kr->cache[i].digest, digest, SHA256_BYTES) == 0;
        pthread_mutex_unlock(m);
        return hit;
}

static void cache_insert(struct stitch_keyring *kr, const uint8_t digest[static SHA256_BYTES]) {
        size_t i = cache_slot_index(digest);
        pthread_mutex_t *m = &kr->cache_locks[i % VERIFY_CACHE_STRIPES];

        pthread_mutex_lock(m);
        memcpy(kr->cache[i].digest, digest, SHA256_BYTES);
        kr->cache[i].used = true;
        pthread_mutex_unlock(m);
}

/* ---- keys ------------------------------------------------------------------- */

static void key_entry_done(struct key_entry *k) {
        EVP_PKEY_free(k->pkey);
        EVP_MAC_CTX_free(k->hmac_template);
        free(k->header_b64);
        *k = (struct key_entry) {};
}

static void key_entries_free(struct key_entry *keys, size_t n) {
        for (size_t i = 0; i < n; i++)
                key_entry_done(&keys[i]);
        free(keys);
}

static int no_passphrase(char *buf, int size, int rwflag, void *userdata) {
        return -1; /* never prompt: our keys are unencrypted PKCS#8 */
}

static int es256_load(struct key_entry *k, const struct stitch_signing_key *sk) {
        char group[64];
        BIO *bio;

        if (sk->secret_len > MAX_SECRET_BYTES)
                return -EINVAL;

        bio = BIO_new_mem_buf(sk->secret, (int) sk->secret_len);
        if (!bio)
                return -ENOMEM;
        k->pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
        BIO_free(bio);
        if (!k->pkey)
                goto invalid;

        if (!EVP_PKEY_is_a(k->pkey, "EC") ||
            EVP_PKEY_get_group_name(k->pkey, group, sizeof(group), NULL) != 1 ||
            !(streq(group, "prime256v1") || streq(group, "P-256")))
                goto invalid;

        /* Public coordinates for the JWKS. */
        uint8_t xy[64];
        BIGNUM *x = NULL, *y = NULL;
        bool ok = EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
                  EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1 &&
                  BN_bn2binpad(x, xy, 32) == 32 && BN_bn2binpad(y, xy + 32, 32) == 32;
        BN_free(x);
        BN_free(y);
        if (!ok)
                goto invalid;
        stitch_base64url_encode(xy, 32, k->jwk_x);
        stitch_base64url_encode(xy + 32, 32, k->jwk_y);
        return 0;

invalid:
        ERR_clear_error();
        return -EINVAL;
}

static int hs256_load(struct stitch_keyring *kr, struct key_entry *k, const struct stitch_signing_key *sk) {
        OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) "SHA256", 0),
                OSSL_PARAM_construct_end(),
        };

        if (sk->secret_len < HS256_MIN_KEY_BYTES || sk->secret_len > MAX_SECRET_BYTES)
                return -EINVAL;

        k->hmac_template = EVP_MAC_CTX_new(kr->hmac);
        if (!k->hmac_template)
                return -ENOMEM;
        if (EVP_MAC_init(k->hmac_template, sk->secret, sk->secret_len, params) != 1) {
                ERR_clear_error();
                return -EIO;
        }
        return 0;
}

/* ---- JSON text, written directly ---------------------------------------------
 *
 * The claims of every token are written here rather than built with cJSON
 * and printed (a tree of ten items, three numbers through "%1.15g" and a
 * check by sscanf(): a fifth of a refresh's work beyond the signature).
 * The bytes are the ones cJSON_PrintUnformatted writes for the same tree,
 * member for member in the same order: test-tokens compares the two. */

/* Appends while it fits; counts on anyway, so that o->len is the length
 * the whole text needs. Once something did not fit nothing later is
 * written (every later piece starts past the end). */
struct json_out {
        char *buf;
        size_t len, size;
};

static void out_bytes(struct json_out *o, const char *s, size_t n) {
        if (o->buf && o->len + n <= o->size)
                memcpy(o->buf + o->len, s, n);
        o->len += n;
}

static void out_literal(struct json_out *o, const char *s) {
        out_bytes(o, s, strlen(s));
}

static void out_string(struct json_out *o, const char *s, size_t n) {
        char *at = o->buf && o->len + STITCH_JSON_STRING_MAX(n) <= o->size ? o->buf + o->len : NULL;
        if (at || !o->buf) {
                o->len += stitch_json_string_render(s, n, at);
                return;
        }
        char piece[STITCH_JSON_STRING_MAX(1)];
        out_bytes(o, "\"", 1);
        for (size_t i = 0; i < n; i++) {
                size_t k = stitch_json_string_render(s + i, 1, piece);
                out_bytes(o, piece + 1, k - 2); /* without its quotes */
        }
        out_bytes(o, "\"", 1);
}

/* For each byte: 0 as it is, 'u' as \u00XX, else the letter after the backslash. */
static const char json_escape[256] = {
        ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't', ['"'] = '"', ['\\'] = '\\',
        [0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u', [0x05] = 'u', [0x06] = 'u',
        [0x07] = 'u', [0x0b] = 'u', [0x0e] = 'u', [0x0f] = 'u', [0x10] = 'u', [0x11] = 'u', [0x12] = 'u',
        [0x13] = 'u', [0x14] = 'u', [0x15] = 'u', [0x16] = 'u', [0x17] = 'u', [0x18] = 'u', [0x19] = 'u',
        [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u', [0x1d] = 'u', [0x1e] = 'u', [0x1f] = 'u',
};

size_t stitch_json_string_render(const char *s, size_t n, char *out) {
        static const char hex[] = "0123456789abcdef";
        size_t k = 1, i = 0;

        if (out)
                out[0] = '"';
        while (i < n) {
                /* A run of bytes written as they are (UTF-8 and DEL too, as cJSON does). */
                size_t run = i;
                while (run < n && !json_escape[(unsigned char) s[run]])
                        run++;
                if (out)
                        memcpy(out + k, s + i, run - i);
                k += run - i;
                if (run == n)
                        break;
                unsigned char ch = (unsigned char) s[run];
                char e = json_escape[ch];
                if (out) {
                        out[k] = '\\';
                        out[k + 1] = e;
                        if (e == 'u') {
                                out[k + 2] = '0';
                                out[k + 3] = '0';
                                out[k + 4] = hex[ch >> 4];
                                out[k + 5] = hex[ch & 15];
                        }
                }
                k += e == 'u' ? 6 : 2;
                i = run + 1;
        }
        if (out)
                out[k] = '"';
        return k + 1;
}

/* A time as cJSON prints the double: "%1.15g", or "%1.17g" when that does
 * not read back within DBL_EPSILON relative (cJSON's compare_double). Below
 * 10^15 that is the integer's digits. */
static void out_time(struct json_out *o, int64_t t) {
        char digits[32];
        size_t n = 0;
        if (t >= 0 && t < 1000000000000000) {
                char rev[20];
                size_t k = 0;
                uint64_t v = (uint64_t) t;
                do
                        rev[k++] = (char) ('0' + v % 10);
                while ((v /= 10) > 0);
                while (k > 0)
                        digits[n++] = rev[--k];
        } else {
                double d = (double) t, back = 0;
                int w = snprintf(digits, sizeof(digits), "%1.15g", d);
                /* Both are positive here. */
                if (sscanf(digits, "%lg", &back) != 1 || (back > d ? back - d : d - back) > MAX(back, d) * DBL_EPSILON)
                        w = snprintf(digits, sizeof(digits), "%1.17g", d);
                n = w > 0 && (size_t) w < sizeof(digits) ? (size_t) w : 0;
        }
        out_bytes(o, digits, n);
}

static void out_member_string(struct json_out *o, const char *name, const char *value, bool first) {
        if (!first)
                out_bytes(o, ",", 1);
        out_string(o, name, strlen(name));
        out_bytes(o, ":", 1);
        out_string(o, value, strlen(value));
}

static void out_member_time(struct json_out *o, const char *name, int64_t t) {
        out_bytes(o, ",", 1);
        out_string(o, name, strlen(name));
        out_bytes(o, ":", 1);
        out_time(o, t);
}

/* The user_data our sessions carry, {"email":"...","name":"..."} as cJSON
 * printed it: an object of at most 16 string members with distinct names,
 * no escapes and no control characters in them, no white space. cJSON would
 * parse and print that text unchanged, so it is copied as it is. Anything
 * else goes through cJSON (false). */
#define USER_DATA_FAST_MEMBERS 16
static bool user_data_is_plain(const char *s, size_t n) {
        const char *names[USER_DATA_FAST_MEMBERS];
        size_t name_lens[USER_DATA_FAST_MEMBERS], n_members = 0, i = 0;

        if (n < 2 || s[0] != '{' || s[n - 1] != '}')
                return false;
        if (n == 2)
                return true;
        i = 1;
        for (;;) {
                size_t start[2], len[2];
                for (unsigned part = 0; part < 2; part++) {
                        if (i >= n || s[i] != '"')
                                return false;
                        start[part] = ++i;
                        while (i < n && s[i] != '"') {
                                unsigned char ch = (unsigned char) s[i];
                                if (ch < 0x20 || ch == '\\')
                                        return false;
                                i++;
                        }
                        if (i >= n)
                                return false;
                        len[part] = i - start[part];
                        i++; /* the closing quote */
                        if (part == 0) {
                                if (i >= n || s[i] != ':')
                                        return false;
                                i++;
                        }
                }
                if (n_members == USER_DATA_FAST_MEMBERS)
                        return false;
                for (size_t m = 0; m < n_members; m++)
                        if (name_lens[m] == len[0] && memcmp(names[m], s + start[0], len[0]) == 0)
                                return false; /* cJSON's path refuses it */
                names[n_members] = s + start[0];
                name_lens[n_members++] = len[0];
                if (i + 1 == n && s[i] == '}')
                        return true;
                if (i >= n || s[i] != ',')
                        return false;
                i++;
        }
}

static int header_encode(struct key_entry *k) {
        char text[256];
        struct json_out o = {.buf = text, .size = sizeof(text)};
        out_bytes(&o, "{", 1);
        out_member_string(&o, "alg", alg_to_string(k->alg), true);
        out_member_string(&o, "typ", "JWT", false);
        out_member_string(&o, "kid", k->kid, false);
        out_bytes(&o, "}", 1);
        if (o.len > sizeof(text))
                return -E2BIG; /* a kid is at most KID_SIZE - 1 printable bytes: cannot happen */
        k->header_b64 = malloc(stitch_base64url_encoded_len(o.len) + 1);
        if (!k->header_b64)
                return -ENOMEM;
        k->header_b64_len = stitch_base64url_encode(text, o.len, k->header_b64);
        return 0;
}

static int key_entry_load(struct stitch_keyring *kr, struct key_entry *k, const struct stitch_signing_key *sk) {
        int r;

        if (!sk || !sk->alg || !sk->secret || sk->secret_len == 0 || !kid_is_valid(sk->kid))
                return log_error_errno(EINVAL, "Signing key with invalid kid or no secret.");
        if (alg_from_string(sk->alg, &k->alg) < 0)
                return log_error_errno(EINVAL, "Signing key %s: unsupported algorithm.", sk->kid);

        memcpy(k->kid, sk->kid, sizeof(k->kid));
        k->created = sk->created;
        k->retired = sk->retired;

        r = k->alg == JWT_ALG_ES256 ? es256_load(k, sk) : hs256_load(kr, k, sk);
        if (r == -EINVAL)
                return log_error_errno(r, "Signing key %s: cannot load %s key material.", sk->kid,
                                       alg_to_string(k->alg));
        if (r < 0)
                return log_error_errno(r, "Signing key %s: failed to load key: %m", sk->kid);

        r = header_encode(k);
        if (r < 0)
                return log_oom();
        return 0;
}

static int key_entries_load(struct stitch_keyring *kr, struct stitch_signing_key *const *keys, size_t n,
                            struct key_entry **ret_keys, struct key_entry **ret_active) {
        struct key_entry *entries = NULL, *active = NULL;
        int r;

        if (n > 0 && !keys)
                return -EINVAL;
        if (n > 0) {
                entries = calloc(n, sizeof(struct key_entry));
                if (!entries)
                        return log_oom();
        }

        for (size_t i = 0; i < n; i++) {
                r = key_entry_load(kr, &entries[i], keys[i]);
                if (r < 0)
                        goto fail;
                for (size_t j = 0; j < i; j++)
                        if (streq(entries[j].kid, entries[i].kid)) {
                                r = log_error_errno(EINVAL, "Duplicate signing key id %s.", entries[i].kid);
                                goto fail;
                        }
                if (entries[i].retired == 0 && (!active || entries[i].created > active->created))
                        active = &entries[i];
        }

        *ret_keys = entries;
        *ret_active = active;
        return 0;

fail:
        key_entries_free(entries, n);
        return r;
}

static struct key_entry *keyring_find(struct stitch_keyring *kr, const char *kid) {
        for (size_t i = 0; i < kr->n_keys; i++)
                if (streq(kr->keys[i].kid, kid))
                        return &kr->keys[i];
        return NULL;
}

int stitch_signing_key_generate(const char *alg, int64_t now, struct stitch_signing_key **ret) {
        enum jwt_alg a;
        uint8_t kid_bytes[KID_RANDOM_BYTES];
        uint8_t *secret = NULL;
        size_t secret_len = 0;
        int r;

        if (!alg || !ret || alg_from_string(alg, &a) < 0)
                return -EINVAL;

        if (a == JWT_ALG_ES256) {
                EVP_PKEY *pkey = EVP_EC_gen("P-256");
                BIO *bio = BIO_new(BIO_s_secmem());
                char *data = NULL;
                long len;

                if (!pkey || !bio || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
                    (len = BIO_get_mem_data(bio, &data)) <= 0 || !data)
                        r = -EIO;
                else if (!(secret = malloc((size_t) len + 1)))
                        r = -ENOMEM;
                else {
                        memcpy(secret, data, (size_t) len);
                        secret[len] = 0; /* convenience only; secret_len excludes it */
                        secret_len = (size_t) len;
                        r = 0;
                }
                BIO_free(bio); /* secure memory BIO: cleansed on free */
                EVP_PKEY_free(pkey);
                if (r < 0) {
                        ERR_clear_error();
                        return log_error_errno(r, "Failed to generate ES256 signing key: %m");
                }
        } else {
                secret = malloc(HS256_KEY_BYTES);
                if (!secret)
                        return log_oom();
                if (RAND_priv_bytes(secret, HS256_KEY_BYTES) != 1) {
                        explicit_bzero(secret, HS256_KEY_BYTES);
                        free(secret);
                        ERR_clear_error();
                        return log_error_errno(EIO, "Failed to generate HS256 signing key: %m");
                }
                secret_len = HS256_KEY_BYTES;
        }

        struct stitch_signing_key *k = calloc(1, sizeof(*k));
        char *alg_copy = strdup(alg_to_string(a));
        if (!k || !alg_copy || RAND_bytes(kid_bytes, sizeof(kid_bytes)) != 1) {
                r = k && alg_copy ? -EIO : -ENOMEM;
                explicit_bzero(secret, secret_len);
                free(secret);
                free(alg_copy);
                free(k);
                ERR_clear_error();
                return log_error_errno(r, "Failed to generate signing key: %m");
        }

        stitch_base64url_encode(kid_bytes, sizeof(kid_bytes), k->kid);
        k->alg = alg_copy;
        k->secret = secret;
        k->secret_len = secret_len;
        k->created = now;
        k->retired = 0;
        *ret = k;
        return 0;
}

/* ---- keyring ------------------------------------------------------------------ */

struct stitch_keyring *stitch_keyring_free(struct stitch_keyring *kr) {
        if (!kr)
                return NULL;
        key_entries_free(kr->keys, kr->n_keys);
        free(kr->cache);
        for (size_t i = 0; i < VERIFY_CACHE_STRIPES; i++)
                pthread_mutex_destroy(&kr->cache_locks[i]);
        pthread_rwlock_destroy(&kr->lock);
        EVP_MD_free(kr->sha256);
        EVP_MAC_free(kr->hmac);
        free(kr);
        return NULL;
}

int stitch_keyring_new(struct stitch_signing_key *const *keys, size_t n, struct stitch_keyring **ret) {
        pthread_rwlockattr_t attr;
        int r;

        if (!ret)
                return -EINVAL;

        struct stitch_keyring *kr = calloc(1, sizeof(*kr));
        if (!kr)
                return log_oom();

        /* Prefer the writer, so a rotation is not starved by a steady stream of verifies. */
        if (pthread_rwlockattr_init(&attr) != 0) {
                free(kr);
                return log_oom();
        }
        (void) pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        r = pthread_rwlock_init(&kr->lock, &attr);
        pthread_rwlockattr_destroy(&attr);
        if (r != 0) {
                free(kr);
                return log_error_errno(r, "Failed to initialise keyring lock: %m");
        }
        for (size_t i = 0; i < VERIFY_CACHE_STRIPES; i++)
                pthread_mutex_init(&kr->cache_locks[i], NULL);

        _cleanup_(stitch_keyring_freep) struct stitch_keyring *owned = kr;

        kr->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
        kr->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        kr->cache = calloc(VERIFY_CACHE_SLOTS, sizeof(struct verify_cache_slot));
        if (!kr->sha256 || !kr->hmac) {
                ERR_clear_error();
                return log_error_errno(EIO, "OpenSSL lacks SHA256 or HMAC.");
        }
        if (!kr->cache)
                return log_oom();

        r = key_entries_load(kr, keys, n, &kr->keys, &kr->active);
        if (r < 0)
                return r;
        kr->n_keys = n;

        *ret = TAKE_PTR(owned);
        return 0;
}

int stitch_keyring_reload(struct stitch_keyring *kr, struct stitch_signing_key *const *keys, size_t n) {
        struct key_entry *entries = NULL, *active = NULL, *old;
        size_t n_old;
        int r;

        if (!kr)
                return -EINVAL;

        /* Parse outside the lock: PEM parsing is slow, and on failure nothing changes. */
        r = key_entries_load(kr, keys, n, &entries, &active);
        if (r < 0)
                return r;

        pthread_rwlock_wrlock(&kr->lock);
        old = kr->keys;
        n_old = kr->n_keys;
        kr->keys = entries;
        kr->n_keys = n;
        kr->active = active;
        /* No reader holds the lock, so the stripes are free too. */
        memset(kr->cache, 0, VERIFY_CACHE_SLOTS * sizeof(struct verify_cache_slot));
        __atomic_fetch_add(&kr->generation, 1, __ATOMIC_RELEASE);
        pthread_rwlock_unlock(&kr->lock);

        key_entries_free(old, n_old);
        return 0;
}

uint64_t stitch_keyring_generation(struct stitch_keyring *kr) {
        return kr ? __atomic_load_n(&kr->generation, __ATOMIC_ACQUIRE) : 0;
}

int stitch_keyring_active(struct stitch_keyring *kr, char *ret_kid, size_t kid_size, char *ret_alg,
                          size_t alg_size) {
        int r = 0;

        if (!kr)
                return -EINVAL;

        pthread_rwlock_rdlock(&kr->lock);
        const struct key_entry *k = kr->active;
        if (!k)
                r = -ENOKEY;
        else if ((ret_kid && strlen(k->kid) >= kid_size) || (ret_alg && strlen(alg_to_string(k->alg)) >= alg_size))
                r = -ENOBUFS;
        else {
                if (ret_kid)
                        memcpy(ret_kid, k->kid, strlen(k->kid) + 1);
                if (ret_alg)
                        memcpy(ret_alg, alg_to_string(k->alg), strlen(alg_to_string(k->alg)) + 1);
        }
        pthread_rwlock_unlock(&kr->lock);
        return r;
}

int stitch_keyring_jwks(struct stitch_keyring *kr, char **ret_json) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        cJSON *arr;
        int r = 0;

        if (!kr || !ret_json)
                return -EINVAL;

        doc = cJSON_CreateObject();
        if (!doc || !(arr = cJSON_AddArrayToObject(doc, "keys")))
                return log_oom();

        pthread_rwlock_rdlock(&kr->lock);
        for (size_t i = 0; i < kr->n_keys && r == 0; i++) {
                const struct key_entry *k = &kr->keys[i];
                if (k->alg != JWT_ALG_ES256)
                        continue; /* HS256 keys are secrets */

                cJSON *jwk = cJSON_CreateObject();
                if (!jwk || !cJSON_AddStringToObject(jwk, "kty", "EC") ||
                    !cJSON_AddStringToObject(jwk, "crv", "P-256") || !cJSON_AddStringToObject(jwk, "x", k->jwk_x) ||
                    !cJSON_AddStringToObject(jwk, "y", k->jwk_y) || !cJSON_AddStringToObject(jwk, "kid", k->kid) ||
                    !cJSON_AddStringToObject(jwk, "alg", "ES256") || !cJSON_AddStringToObject(jwk, "use", "sig") ||
                    !cJSON_AddItemToArray(arr, jwk)) {
                        cJSON_Delete(jwk);
                        r = -ENOMEM;
                }
        }
        pthread_rwlock_unlock(&kr->lock);
        if (r < 0)
                return log_oom();

        char *text = cJSON_PrintUnformatted(doc);
        if (!text)
                return log_oom();
        *ret_json = text;
        return 0;
}

/* ---- sign ---------------------------------------------------------------------- */

void stitch_claims_done(struct stitch_claims *c) {
        if (!c)
                return;
        free(c->user_data_json);
        c->user_data_json = NULL;
}

/* Writes the claims into buf (size bytes, not terminated); *ret_len is the
 * length the text needs, which may be more than size (then nothing usable
 * was written). */
static int claims_encode(const struct stitch_claims *c, char *buf, size_t size, size_t *ret_len) {
        _cleanup_free_ char *user_data_printed = NULL;
        int64_t nbf = c->nbf != 0 ? c->nbf : c->iat;
        const char *user_data = "{}";
        size_t user_data_len = 2;

        if (!stitch_objectid_valid(c->sub) || !stitch_session_id_valid(c->sid) ||
            !stitch_objectid_valid(c->device_id) || !(c->domain_id[0] == 0 || stitch_objectid_valid(c->domain_id)))
                return -EINVAL;
        if (c->typ[0] && !streq(c->typ, "access"))
                return -EINVAL;
        if (!time_is_valid(c->iat) || !time_is_valid(nbf) || !time_is_valid(c->exp))
                return -EINVAL;

        if (c->user_data_json) {
                size_t n = strlen(c->user_data_json);
                if (user_data_is_plain(c->user_data_json, n)) {
                        user_data = c->user_data_json;
                        user_data_len = n;
                } else {
                        _cleanup_(cJSON_Deletep) cJSON *j = cJSON_ParseWithOpts(c->user_data_json, NULL, true);
                        if (!j || !cJSON_IsObject(j) || !stitch_jose_json_tree_is_sane(j, 1))
                                return -EINVAL;
                        user_data_printed = cJSON_PrintUnformatted(j);
                        if (!user_data_printed)
                                return -ENOMEM;
                        user_data = user_data_printed;
                        user_data_len = strlen(user_data_printed);
                }
                /* The rest is ASCII: the text is UTF-8 if this part is. cJSON
                 * passes bytes through; verify would refuse them. */
                if (!stitch_utf8_is_valid(user_data, user_data_len))
                        return -EINVAL;
        }

        struct json_out o = {.buf = buf, .size = size};
        out_bytes(&o, "{", 1);
        out_member_string(&o, "sub", c->sub, true);
        out_member_string(&o, "typ", "access", false);
        out_member_time(&o, "iat", c->iat);
        out_member_time(&o, "nbf", nbf);
        out_member_time(&o, "exp", c->exp);
        out_member_string(&o, "sid", c->sid, false);
        out_member_string(&o, "baas_device_id", c->device_id, false);
        out_member_string(&o, "baas_domain_id", c->domain_id, false);
        out_literal(&o, ",\"user_data\":");
        out_bytes(&o, user_data, user_data_len);
        out_bytes(&o, "}", 1);
        *ret_len = o.len;
        return 0;
}

int stitch_jwt_claims_text(const struct stitch_claims *c, char **ret_text) {
        size_t len = 0;
        int r = claims_encode(c, NULL, 0, &len);
        if (r < 0)
                return r;
        char *text = malloc(len + 1);
        if (!text)
                return -ENOMEM;
        r = claims_encode(c, text, len, &len);
        if (r < 0) {
                free(text);
                return r;
        }
        text[len] = 0;
        *ret_text = text;
        return 0;
}

int stitch_jwt_sign(struct stitch_keyring *kr, const struct stitch_claims *c, char **ret_token) {
        char payload[STITCH_JWT_MAX_LEN]; /* no allocation: a refresh signs once each */
        size_t payload_len = 0;
        char *token = NULL;
        int r;

        if (!kr || !c || !ret_token)
                return -EINVAL;

        r = claims_encode(c, payload, sizeof(payload), &payload_len);
        if (r < 0)
                return r;
        if (payload_len > STITCH_JWT_MAX_LEN)
                return -E2BIG;
        size_t payload_b64_len = stitch_base64url_encoded_len(payload_len);

        pthread_rwlock_rdlock(&kr->lock);
        const struct key_entry *k = kr->active;
        if (!k) {
                r = -ENOKEY;
                goto finish;
        }

        size_t sig_bytes = k->alg == JWT_ALG_ES256 ? ES256_SIG_BYTES : HS256_SIG_BYTES;
        size_t input_len = k->header_b64_len + 1 + payload_b64_len;
        size_t total = input_len + 1 + stitch_base64url_encoded_len(sig_bytes);
        if (total > STITCH_JWT_MAX_LEN) {
                r = -E2BIG;
                goto finish;
        }

        token = malloc(total + 1);
        if (!token) {
                r = -ENOMEM;
                goto finish;
        }
        memcpy(token, k->header_b64, k->header_b64_len);
        token[k->header_b64_len] = '.';
        /* Its NUL goes where the second '.' will. */
        stitch_base64url_encode(payload, payload_len, token + k->header_b64_len + 1);

        uint8_t sig[ES256_SIG_BYTES];
        if (k->alg == JWT_ALG_ES256)
                r = es256_sign(kr, k, token, input_len, sig);
        else
                r = hs256_mac(k, token, input_len, sig);
        if (r < 0)
                goto finish;

        token[input_len] = '.';
        stitch_base64url_encode(sig, sig_bytes, token + input_len + 1); /* and the NUL */
        r = 0;

finish:
        pthread_rwlock_unlock(&kr->lock);
        if (r < 0) {
                free(token);
                return r;
        }
        *ret_token = token;
        return 0;
}

/* ---- verify --------------------------------------------------------------------- */

struct jwt_header {
        enum jwt_alg alg;
        char kid[KID_SIZE];
};

static int header_parse(const char *part, size_t len, uint8_t *buf, struct jwt_header *ret) {
        _cleanup_(cJSON_Deletep) cJSON *h = NULL;
        const cJSON *alg = NULL, *kid = NULL;
        int r;

        r = decode_json_part(part, len, buf, &h);
        if (r < 0)
                return r;

        /* Only what we emit. In particular "crit", "jku", "jwk", "x5u" and "x5c" are refused. */
        for (const cJSON *c = h->child; c; c = c->next) {
                if (!c->string)
                        return -EBADMSG;
                if (streq(c->string, "alg"))
                        alg = c;
                else if (streq(c->string, "kid"))
                        kid = c;
                else if (streq(c->string, "typ")) {
                        if (!cJSON_IsString(c) || !streq(c->valuestring, "JWT"))
                                return -EBADMSG;
                } else
                        return -EBADMSG;
        }

        if (!cJSON_IsString(alg))
                return -EBADMSG;
        if (alg_from_string(alg->valuestring, &ret->alg) < 0)
                return -EKEYREJECTED;

        if (!kid)
                return -ENOKEY;
        if (!cJSON_IsString(kid))
                return -EBADMSG;
        if (!kid_is_valid(kid->valuestring))
                return -ENOKEY;
        memcpy(ret->kid, kid->valuestring, strlen(kid->valuestring) + 1);
        return 0;
}

static int copy_id_claim(const cJSON *item, char out[static STITCH_ID_LEN + 1], bool allow_empty, bool out_is_sid) {
        if (!cJSON_IsString(item))
                return -EBADMSG;
        if (allow_empty && item->valuestring[0] == 0) {
                out[0] = 0;
                return 0;
        }
        if (!(out_is_sid ? stitch_session_id_valid(item->valuestring) : stitch_objectid_valid(item->valuestring)))
                return -EBADMSG;
        memcpy(out, item->valuestring, STITCH_ID_LEN + 1);
        return 0;
}

static int claims_parse(const char *part, size_t len, uint8_t *buf, struct stitch_claims *c) {
        _cleanup_(cJSON_Deletep) cJSON *j = NULL;
        int r;

        r = decode_json_part(part, len, buf, &j);
        if (r < 0)
                return r;

        const cJSON *typ = cJSON_GetObjectItemCaseSensitive(j, "typ");
        if (!cJSON_IsString(typ) || !streq(typ->valuestring, "access"))
                return -EBADMSG;
        memcpy(c->typ, "access", sizeof("access"));

        if (copy_id_claim(cJSON_GetObjectItemCaseSensitive(j, "sub"), c->sub, false, false) < 0 ||
            copy_id_claim(cJSON_GetObjectItemCaseSensitive(j, "sid"), c->sid, false, true) < 0 ||
            copy_id_claim(cJSON_GetObjectItemCaseSensitive(j, "baas_device_id"), c->device_id, false, false) < 0 ||
            copy_id_claim(cJSON_GetObjectItemCaseSensitive(j, "baas_domain_id"), c->domain_id, true, false) < 0)
                return -EBADMSG;

        if (!stitch_jose_json_time(cJSON_GetObjectItemCaseSensitive(j, "iat"), &c->iat) ||
            !stitch_jose_json_time(cJSON_GetObjectItemCaseSensitive(j, "nbf"), &c->nbf) ||
            !stitch_jose_json_time(cJSON_GetObjectItemCaseSensitive(j, "exp"), &c->exp))
                return -EBADMSG;

        const cJSON *user_data = cJSON_GetObjectItemCaseSensitive(j, "user_data");
        if (!cJSON_IsObject(user_data))
                return -EBADMSG;
        c->user_data_json = cJSON_PrintUnformatted(user_data);
        if (!c->user_data_json)
                return -ENOMEM;
        return 0;
}

static int signature_check(struct stitch_keyring *kr, const struct key_entry *k, const char *input,
                           size_t input_len, const char *sig_part, size_t sig_part_len) {
        uint8_t sig[ES256_SIG_BYTES + 3];
        size_t want = k->alg == JWT_ALG_ES256 ? ES256_SIG_BYTES : HS256_SIG_BYTES;
        int r;

        if (sig_part_len != stitch_base64url_encoded_len(want))
                return -EKEYREJECTED;
        if (stitch_base64url_decode(sig_part, sig_part_len, sig, sizeof(sig)) != (ssize_t) want)
                return -EBADMSG;

        if (k->alg == JWT_ALG_HS256) {
                uint8_t mac[HS256_SIG_BYTES];
                r = hs256_mac(k, input, input_len, mac);
                if (r < 0)
                        return r;
                return CRYPTO_memcmp(mac, sig, HS256_SIG_BYTES) == 0 ? 0 : -EKEYREJECTED;
        }

        uint8_t digest[SHA256_BYTES], cache_key[SHA256_BYTES];
        uint8_t cache_input[SHA256_BYTES + ES256_SIG_BYTES];

        if (es256_s_is_high(sig + 32)) /* the twin (r, n - s) of a signature we could have made */
                return -EKEYREJECTED;

        r = sha256(kr, input, input_len, digest);
        if (r < 0)
                return r;
        memcpy(cache_input, digest, SHA256_BYTES);
        memcpy(cache_input + SHA256_BYTES, sig, ES256_SIG_BYTES);
        r = sha256(kr, cache_input, sizeof(cache_input), cache_key);
        if (r < 0)
                return r;

        if (cache_lookup(kr, cache_key))
                return 0;
        r = es256_verify_digest(k, digest, sig);
        if (r < 0)
                return r;
        cache_insert(kr, cache_key);
        return 0;
}

int stitch_jwt_verify(struct stitch_keyring *kr, const char *token, int64_t now, struct stitch_claims *ret) {
        struct stitch_claims c = {};
        struct jwt_header h;
        uint8_t buf[JWT_MAX_DECODED + 1];
        const char *dot1 = NULL, *dot2 = NULL;
        size_t len;
        int r;

        if (!kr || !token || !ret)
                return -EINVAL;

        len = strnlen(token, STITCH_JWT_MAX_LEN + 1);
        if (len > STITCH_JWT_MAX_LEN)
                return -EBADMSG;

        /* Exactly three parts, only base64url characters. */
        for (size_t i = 0; i < len; i++) {
                if (token[i] == '.') {
                        if (!dot1)
                                dot1 = token + i;
                        else if (!dot2)
                                dot2 = token + i;
                        else
                                return -EBADMSG;
                } else if (!stitch_base64url_is_char(token[i]))
                        return -EBADMSG;
        }
        if (!dot2 || dot1 == token || dot2 == dot1 + 1 || dot2 == token + len - 1)
                return -EBADMSG;

        r = header_parse(token, (size_t) (dot1 - token), buf, &h);
        if (r < 0)
                return r;

        pthread_rwlock_rdlock(&kr->lock);
        const struct key_entry *k = keyring_find(kr, h.kid);
        if (!k)
                r = -ENOKEY;
        else if (k->alg != h.alg) /* the key decides the algorithm, never the token */
                r = -EKEYREJECTED;
        else
                r = signature_check(kr, k, token, (size_t) (dot2 - token), dot2 + 1,
                                    (size_t) (token + len - dot2 - 1));
        pthread_rwlock_unlock(&kr->lock);
        if (r < 0)
                return r;

        /* Authentic from here on; still check that it is what we issue. */
        r = claims_parse(dot1 + 1, (size_t) (dot2 - dot1 - 1), buf, &c);
        if (r < 0) {
                stitch_claims_done(&c);
                return r;
        }

        memcpy(c.kid, h.kid, sizeof(c.kid));
        memcpy(c.alg, alg_to_string(h.alg), sizeof("ES256"));

        if (c.exp <= now)
                r = -ETIME;
        else if (c.nbf - STITCH_JWT_LEEWAY_SEC > now || c.iat - STITCH_JWT_LEEWAY_SEC > now)
                r = -EAGAIN;
        if (r < 0) {
                stitch_claims_done(&c);
                return r;
        }

        *ret = c;
        return 0;
}
