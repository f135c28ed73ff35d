/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* jwt-malleate: the other ECDSA signature of an ES256 JWT.
 *
 *   jwt-malleate < TOKEN          prints TOKEN with its signature (r, s)
 *                                 replaced by (r, n - s), n the P-256 order
 *   jwt-malleate --high < TOKEN   exit 0 if s > n/2 (the "high" form), 1 if not
 *
 * (r, n - s) is a valid ECDSA signature of the same message whenever (r, s)
 * is; a verifier that accepts both lets anyone mint a second, different
 * string for every token (docs/security.md, finding 6). The token comes on
 * stdin, not argv: access tokens are secrets. Exit status 2 on bad input. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

static const char b64url_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64url_decode(const char *in, size_t n, uint8_t *out, size_t out_size) {
        uint32_t acc = 0;
        int bits = 0;
        size_t j = 0;
        for (size_t i = 0; i < n; i++) {
                const char *p = strchr(b64url_chars, in[i]);
                if (!in[i] || !p)
                        return -1;
                acc = acc << 6 | (uint32_t) (p - b64url_chars);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        if (j == out_size)
                                return -1;
                        out[j++] = (uint8_t) (acc >> bits);
                }
        }
        return (int) j;
}

static void b64url_print(const uint8_t *in, size_t n) {
        uint32_t acc = 0;
        int bits = 0;
        for (size_t i = 0; i < n; i++) {
                acc = acc << 8 | in[i];
                bits += 8;
                while (bits >= 6) {
                        bits -= 6;
                        putchar(b64url_chars[(acc >> bits) & 63]);
                }
        }
        if (bits > 0)
                putchar(b64url_chars[(acc << (6 - bits)) & 63]);
}

int main(int argc, char **argv) {
        bool high_only = argc == 2 && strcmp(argv[1], "--high") == 0;
        char token[16384];
        uint8_t sig[64];

        if (argc > 2 || (argc == 2 && !high_only)) {
                fprintf(stderr, "usage: jwt-malleate [--high] < TOKEN\n");
                return 2;
        }
        size_t len = fread(token, 1, sizeof(token) - 1, stdin);
        token[len] = 0;
        while (len > 0 && (token[len - 1] == '\n' || token[len - 1] == '\r'))
                token[--len] = 0;
        char *dot = strrchr(token, '.');
        if (!dot || dot == token || b64url_decode(dot + 1, strlen(dot + 1), sig, sizeof(sig)) != 64) {
                fprintf(stderr, "jwt-malleate: not a JWT with a 64-byte ES256 signature\n");
                return 2;
        }

        EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
        BIGNUM *half = BN_new(), *s = BN_bin2bn(sig + 32, 32, NULL);
        const BIGNUM *order = group ? EC_GROUP_get0_order(group) : NULL;
        if (!order || !half || !s || BN_rshift1(half, order) != 1) {
                fprintf(stderr, "jwt-malleate: OpenSSL failed\n");
                return 2;
        }
        bool high = BN_cmp(s, half) > 0;
        int r = 0;
        if (high_only)
                r = high ? 0 : 1;
        else if (BN_sub(s, order, s) != 1 || BN_bn2binpad(s, sig + 32, 32) != 32) {
                fprintf(stderr, "jwt-malleate: OpenSSL failed\n");
                r = 2;
        } else {
                fwrite(token, 1, (size_t) (dot + 1 - token), stdout);
                b64url_print(sig, sizeof(sig));
                putchar('\n');
        }
        BN_free(s);
        BN_free(half);
        EC_GROUP_free(group);
        return r;
}
