/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target for access-token verification (stitchd/core/tokens.c).
 *
 * The first input byte picks a mode ('0'..'3' in the seed corpus):
 *   0  the rest is a compact JWS, verified as is;
 *   1  the rest is HEADER '\n' PAYLOAD (raw JSON bytes), which the harness
 *      encodes and MACs with the fixed HS256 key, so the header parser and
 *      the claims parser (which only sees authentic tokens) are reached;
 *   2  the same, signed ES256 with the fixed P-256 key;
 *   3  KEY USER_DATA '\n' MUTATIONS: a token signed by stitch_jwt_sign with
 *      that user_data must verify; then each (position, xor) pair from the
 *      rest is applied and the changed token must NOT verify.
 * The keyring is fixed (one ES256 and one HS256 key, fixed kids and
 * material), so seed tokens stay valid from run to run. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>

#include "log.h"
#include "core/tokens.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW INT64_C(1700000000)
#define FUZZ_ES_KID "fuzz-es256"
#define FUZZ_HS_KID "fuzz-hs256"

static const char fuzz_es_pem[] =
        "-----BEGIN PRIVATE KEY-----\n"
        "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgBNTdGke7tqVteXEd\n"
        "5FSorxckB0tQW3rLbBLO6itg5MOhRANCAAQpSomxBGwdJY1gV5eJ6WG2VvPaSY9v\n"
        "CsiDol+GjpKoyHu062hG647xiUKiu9q4zYJr8iVCiu5rSumIpPnN+KR3\n"
        "-----END PRIVATE KEY-----\n";

static const uint8_t fuzz_hs_key[32] = {
        0x73, 0x74, 0x69, 0x74, 0x63, 0x68, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x68, 0x73, 0x32, 0x35,
        0x36, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
};

static struct stitch_keyring *ring_es; /* ES256 active, HS256 retired */
static struct stitch_keyring *ring_hs; /* HS256 active, ES256 retired */
static EVP_PKEY *es_pkey;

static void fuzz_setup(void) {
        struct stitch_signing_key es = {
                .kid = FUZZ_ES_KID, .alg = (char *) "ES256", .secret = (uint8_t *) fuzz_es_pem,
                .secret_len = sizeof(fuzz_es_pem) - 1, .created = 1, .retired = 0,
        };
        struct stitch_signing_key hs = {
                .kid = FUZZ_HS_KID, .alg = (char *) "HS256", .secret = (uint8_t *) fuzz_hs_key,
                .secret_len = sizeof(fuzz_hs_key), .created = 2, .retired = 3,
        };
        struct stitch_signing_key *keys[] = { &es, &hs };

        stitch_log_set_max_level(LOG_CRIT);
        if (stitch_keyring_new(keys, 2, &ring_es) < 0)
                abort();
        es.retired = 3;
        hs.retired = 0;
        if (stitch_keyring_new(keys, 2, &ring_hs) < 0)
                abort();

        BIO *bio = BIO_new_mem_buf(fuzz_es_pem, -1);
        es_pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        if (!es_pkey)
                abort();
}

static size_t b64url_to(const uint8_t *in, size_t n, char *out) {
        static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        size_t j = 0;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t) in[i] << 16;
                if (i + 1 < n)
                        v |= (uint32_t) in[i + 1] << 8;
                if (i + 2 < n)
                        v |= in[i + 2];
                out[j++] = a[(v >> 18) & 63];
                out[j++] = a[(v >> 12) & 63];
                if (i + 1 < n)
                        out[j++] = a[(v >> 6) & 63];
                if (i + 2 < n)
                        out[j++] = a[v & 63];
        }
        return j;
}

static bool is_id(const char *s, bool allow_empty) {
        if (allow_empty && !*s)
                return true;
        if (strlen(s) != 24)
                return false;
        return strspn(s, "0123456789abcdef") == 24;
}

/* Session ids are 24 random [A-Za-z0-9] (docs/security.md, finding 2). */
static bool is_session_id(const char *s) {
        static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        return strlen(s) == 24 && strspn(s, alnum) == 24;
}

/* Whatever verify accepted must be well-formed. */
static int verify_and_check(const char *token) {
        struct stitch_claims c = {};
        struct stitch_keyring *kr = token[0] & 1 ? ring_es : ring_hs;

        int r = stitch_jwt_verify(kr, token, FUZZ_NOW, &c);
        if (r < 0) {
                if (c.user_data_json)
                        abort(); /* ret must be untouched on failure */
                return r;
        }
        if (!is_id(c.sub, false) || !is_session_id(c.sid) || !is_id(c.device_id, false) ||
            !is_id(c.domain_id, true) || strcmp(c.typ, "access") != 0 || c.exp <= FUZZ_NOW ||
            c.nbf > FUZZ_NOW + STITCH_JWT_LEEWAY_SEC || c.iat > FUZZ_NOW + STITCH_JWT_LEEWAY_SEC ||
            !c.user_data_json)
                abort();
        if (!((strcmp(c.alg, "ES256") == 0 && strcmp(c.kid, FUZZ_ES_KID) == 0) ||
              (strcmp(c.alg, "HS256") == 0 && strcmp(c.kid, FUZZ_HS_KID) == 0)))
                abort();
        cJSON *ud = cJSON_Parse(c.user_data_json);
        if (!cJSON_IsObject(ud))
                abort();
        cJSON_Delete(ud);
        stitch_claims_done(&c);
        return 0;
}

static void fuzz_raw(const uint8_t *data, size_t size) {
        char *t = malloc(size + 1);
        if (!t)
                return;
        memcpy(t, data, size);
        t[size] = 0;
        (void) verify_and_check(t);
        free(t);
}

static void fuzz_signed(const uint8_t *data, size_t size, bool ecdsa) {
        const uint8_t *nl = memchr(data, '\n', size);
        const uint8_t *h = data, *p = nl ? nl + 1 : (const uint8_t *) "{}";
        size_t hl = nl ? (size_t) (nl - data) : size, pl = nl ? size - hl - 1 : 2;
        size_t cap = (hl + 2) / 3 * 4 + (pl + 2) / 3 * 4 + 2 + 96;
        char *t = malloc(cap + 1);
        uint8_t sig[72];
        size_t sig_len = 0;

        if (!t)
                return;
        size_t n = b64url_to(h, hl, t);
        t[n++] = '.';
        n += b64url_to(p, pl, t + n);

        if (!ecdsa) {
                unsigned len = 0;
                if (!HMAC(EVP_sha256(), fuzz_hs_key, sizeof(fuzz_hs_key), (const uint8_t *) t, n, sig, &len))
                        abort();
                sig_len = len;
        } else {
                uint8_t der[80];
                size_t der_len = sizeof(der);
                EVP_MD_CTX *m = EVP_MD_CTX_new();
                if (!m || EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, es_pkey, NULL) != 1 ||
                    EVP_DigestSign(m, der, &der_len, (const uint8_t *) t, n) != 1)
                        abort();
                EVP_MD_CTX_free(m);
                const uint8_t *q = der;
                ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &q, (long) der_len);
                if (!s)
                        abort();
                /* Low s, as stitch signs: a high-s twin is refused (finding 6). */
                BIGNUM *order = BN_new(), *half = BN_new(), *low = BN_dup(ECDSA_SIG_get0_s(s));
                EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
                if (!order || !half || !low || !g || !BN_copy(order, EC_GROUP_get0_order(g)) ||
                    !BN_rshift1(half, order) || (BN_cmp(low, half) > 0 && !BN_sub(low, order, low)))
                        abort();
                if (BN_bn2binpad(ECDSA_SIG_get0_r(s), sig, 32) != 32 || BN_bn2binpad(low, sig + 32, 32) != 32)
                        abort();
                BN_free(order);
                BN_free(half);
                BN_free(low);
                EC_GROUP_free(g);
                ECDSA_SIG_free(s);
                sig_len = 64;
        }
        t[n++] = '.';
        n += b64url_to(sig, sig_len, t + n);
        t[n] = 0;

        (void) verify_and_check(t);
        free(t);
}

static void fuzz_mutated(const uint8_t *data, size_t size) {
        if (size < 1)
                return;
        struct stitch_keyring *signer = data[0] & 1 ? ring_hs : ring_es;
        data++, size--;

        const uint8_t *nl = memchr(data, '\n', size);
        size_t ul = nl ? (size_t) (nl - data) : size;
        char *user_data = malloc(ul + 1);
        if (!user_data)
                return;
        memcpy(user_data, data, ul);
        user_data[ul] = 0;

        struct stitch_claims c = {
                .sub = "0123456789abcdef01234567", .sid = "89abcdef0123456789abcdef",
                .device_id = "000000000000000000000000", .domain_id = "5f1d00000000000000000000",
                .typ = "access", .iat = FUZZ_NOW - 10, .nbf = FUZZ_NOW - 10, .exp = FUZZ_NOW + 1800,
                .user_data_json = ul > 0 ? user_data : NULL,
        };
        char *t = NULL;
        int r = stitch_jwt_sign(signer, &c, &t);
        free(user_data);
        if (r < 0)
                return;

        /* Our own tokens always verify, under either ring. */
        if (verify_and_check(t) < 0 || stitch_jwt_verify(ring_es, t, FUZZ_NOW, &c) < 0)
                abort();
        stitch_claims_done(&c);
        if (stitch_jwt_verify(ring_hs, t, FUZZ_NOW, &c) < 0)
                abort();
        stitch_claims_done(&c);

        /* Any change to the token string must break it (the encoding is canonical).
         * Mutations are (position high, position low, xor) triples. */
        size_t len = strlen(t);
        char *orig = strdup(t);
        if (!orig)
                abort();
        const uint8_t *m = nl ? nl + 1 : data + size;
        size_t mlen = (size_t) (data + size - m);
        for (size_t i = 0; i + 3 <= mlen; i += 3) {
                size_t pos = ((size_t) m[i] << 8 | m[i + 1]) % len;
                t[pos] = (char) (t[pos] ^ m[i + 2]);
        }
        /* A NUL written into t just truncates it, which is a change too. */
        if (strcmp(t, orig) != 0 && verify_and_check(t) == 0)
                abort();
        free(orig);
        free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!ring_es)
                fuzz_setup();
        if (size < 1 || size > 4 * STITCH_JWT_MAX_LEN)
                return 0;

        switch (data[0] % 4) {
        case 0:
                fuzz_raw(data + 1, size - 1);
                break;
        case 1:
                fuzz_signed(data + 1, size - 1, false);
                break;
        case 2:
                fuzz_signed(data + 1, size - 1, true);
                break;
        case 3:
                fuzz_mutated(data + 1, size - 1);
                break;
        }
        return 0;
}
