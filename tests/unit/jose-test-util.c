/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "jose-test-util.h"

#define CHECK(x)                                                                  \
        do {                                                                      \
                if (!(x)) {                                                       \
                        fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #x); \
                        abort();                                                  \
                }                                                                 \
        } while (0)

char *tu_b64url(const void *data, size_t n) {
        static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const uint8_t *in = data;
        char *out = malloc(n / 3 * 4 + 5);
        size_t j = 0;
        CHECK(out);
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
        out[j] = 0;
        return out;
}

EVP_PKEY *tu_rsa_new(unsigned bits) {
        EVP_PKEY *k = EVP_RSA_gen(bits);
        CHECK(k);
        return k;
}

EVP_PKEY *tu_ec_new(void) {
        EVP_PKEY *k = EVP_EC_gen("P-256");
        CHECK(k);
        return k;
}

char *tu_public_pem(EVP_PKEY *k) {
        BIO *b = BIO_new(BIO_s_mem());
        char *data = NULL;
        CHECK(b && PEM_write_bio_PUBKEY(b, k) == 1);
        long n = BIO_get_mem_data(b, &data);
        CHECK(n > 0);
        char *s = strndup(data, (size_t) n);
        CHECK(s);
        BIO_free(b);
        return s;
}

static size_t sign_raw(const char *alg, EVP_PKEY *key, const void *secret, size_t secret_len, const char *input,
                       uint8_t *sig) {
        if (strcmp(alg, "HS256") == 0) {
                unsigned len = 0;
                CHECK(HMAC(EVP_sha256(), secret, (int) secret_len, (const uint8_t *) input, strlen(input), sig, &len));
                return len;
        }
        uint8_t der[1100];
        size_t der_len = sizeof(der);
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        CHECK(m && EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, key, NULL) == 1);
        CHECK(EVP_DigestSign(m, der, &der_len, (const uint8_t *) input, strlen(input)) == 1);
        EVP_MD_CTX_free(m);
        if (strcmp(alg, "RS256") == 0) {
                memcpy(sig, der, der_len);
                return der_len;
        }
        const uint8_t *q = der;
        ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &q, (long) der_len);
        CHECK(s);
        CHECK(BN_bn2binpad(ECDSA_SIG_get0_r(s), sig, 32) == 32 && BN_bn2binpad(ECDSA_SIG_get0_s(s), sig + 32, 32) == 32);
        ECDSA_SIG_free(s);
        return 64;
}

char *tu_token(const char *header, const char *payload, const char *alg, EVP_PKEY *key, const void *secret,
               size_t secret_len) {
        char *h = tu_b64url(header, strlen(header)), *p = tu_b64url(payload, strlen(payload));
        size_t n = strlen(h) + strlen(p) + 2000;
        char *t = malloc(n);
        CHECK(t);
        snprintf(t, n, "%s.%s", h, p);
        free(h);
        free(p);
        size_t used = strlen(t);
        if (strcmp(alg, "none") == 0) {
                snprintf(t + used, n - used, ".");
                return t;
        }
        uint8_t sig[1100];
        size_t sig_len = sign_raw(alg, key, secret, secret_len, t, sig);
        char *s = tu_b64url(sig, sig_len);
        CHECK(used + 1 + strlen(s) < n);
        snprintf(t + used, n - used, ".%s", s);
        free(s);
        return t;
}

static char *bn_param_b64(EVP_PKEY *k, const char *name, int pad) {
        BIGNUM *bn = NULL;
        uint8_t buf[1100];
        CHECK(EVP_PKEY_get_bn_param(k, name, &bn) == 1);
        int n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
        CHECK(n > 0);
        BN_free(bn);
        return tu_b64url(buf, (size_t) n);
}

char *tu_jwk_members(EVP_PKEY *k) {
        char *out = malloc(4096);
        CHECK(out);
        if (EVP_PKEY_is_a(k, "RSA")) {
                char *n = bn_param_b64(k, OSSL_PKEY_PARAM_RSA_N, 0), *e = bn_param_b64(k, OSSL_PKEY_PARAM_RSA_E, 0);
                snprintf(out, 4096, "\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"", n, e);
                free(n);
                free(e);
        } else {
                char *x = bn_param_b64(k, OSSL_PKEY_PARAM_EC_PUB_X, 32), *y = bn_param_b64(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
                snprintf(out, 4096, "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"", x, y);
                free(x);
                free(y);
        }
        return out;
}

char *tu_write_file(const char *name, const void *data, size_t n, unsigned mode) {
        char dir[] = "/tmp/jose-test.XXXXXX";
        CHECK(mkdtemp(dir));
        size_t len = strlen(dir) + strlen(name) + 2;
        char *path = malloc(len);
        CHECK(path);
        snprintf(path, len, "%s/%s", dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        CHECK(write(fd, data, n) == (ssize_t) n);
        CHECK(fchmod(fd, mode) == 0);
        close(fd);
        return path;
}
