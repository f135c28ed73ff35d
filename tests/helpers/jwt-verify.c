/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* jwt-verify ALG KEYFILE APPID NOW < TOKEN: verifies a token with
 * core/jwt-verifier.c and prints "ok SUB" or the error message. For the
 * interop test with tokens the openssl command line tool signs. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jwt-verifier.h"
#include "macro.h"

int main(int argc, char *argv[]) {
        _cleanup_(stitch_jwt_verifier_freep) struct stitch_jwt_verifier *v = NULL;
        struct stitch_jwt_verified t = {};
        char token[STITCH_JWT_VERIFIER_MAX_TOKEN + 2];
        int r;

        if (argc != 5) {
                fprintf(stderr, "Usage: %s ALG KEYFILE APPID NOW < TOKEN\n", argv[0]);
                return 2;
        }
        int alg = stitch_jose_alg_from_string(argv[1]);
        if (alg < 0 || stitch_jwt_verifier_new(alg, &v) < 0)
                return 2;
        r = stitch_jwt_verifier_add_key_file(v, argv[2]);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", argv[2], strerror(-r));
                return 2;
        }
        if (stitch_jwt_verifier_set_audience(v, NULL, false, argv[3]) < 0)
                return 2;
        size_t n = fread(token, 1, sizeof(token) - 1, stdin);
        while (n > 0 && (token[n - 1] == '\n' || token[n - 1] == '\r'))
                n--;
        r = stitch_jwt_verifier_verify(v, NULL, token, n, strtoll(argv[4], NULL, 10), &t);
        if (r < 0) {
                printf("%s\n", stitch_jwt_error_to_string(r));
                return 1;
        }
        printf("ok %s\n", t.subject);
        stitch_jwt_verified_done(&t);
        return 0;
}
