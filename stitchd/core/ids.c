/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "base64url.h"
#include "core/ids.h"
#include "log.h"

int stitch_random_bytes(void *buf, size_t n) {
        if (n > INT32_MAX)
                return -EINVAL;
        if (RAND_bytes(buf, (int) n) != 1)
                return log_error_errno(EIO, "RAND_bytes failed.");
        return 0;
}

static pthread_mutex_t objectid_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t objectid_process[5];
static uint32_t objectid_counter;
static bool objectid_initialised;

int stitch_objectid_new(char ret[STITCH_ID_LEN + 1]) {
        uint8_t b[12];
        uint32_t t = (uint32_t) time(NULL);
        int r = 0;

        pthread_mutex_lock(&objectid_lock);
        if (!objectid_initialised) {
                uint8_t seed[8];
                r = stitch_random_bytes(seed, sizeof(seed));
                if (r >= 0) {
                        memcpy(objectid_process, seed, 5);
                        objectid_counter = (uint32_t) seed[5] << 16 | (uint32_t) seed[6] << 8 | seed[7];
                        objectid_initialised = true;
                }
        }
        uint32_t c = objectid_counter++;
        pthread_mutex_unlock(&objectid_lock);
        if (r < 0)
                return r;

        b[0] = t >> 24, b[1] = t >> 16, b[2] = t >> 8, b[3] = t;
        memcpy(b + 4, objectid_process, 5);
        b[9] = c >> 16, b[10] = c >> 8, b[11] = c;
        static const char hex[] = "0123456789abcdef";
        for (size_t i = 0; i < 12; i++) {
                ret[2 * i] = hex[b[i] >> 4];
                ret[2 * i + 1] = hex[b[i] & 15];
        }
        ret[STITCH_ID_LEN] = 0;
        return 0;
}

int stitch_session_id_new(char ret[STITCH_ID_LEN + 1]) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        size_t n = 0;

        /* Rejection sampling: bytes >= 248 (4 * 62) would bias the choice. */
        while (n < STITCH_ID_LEN) {
                uint8_t b[32];
                int r = stitch_random_bytes(b, sizeof(b));
                if (r < 0)
                        return r;
                for (size_t i = 0; i < sizeof(b) && n < STITCH_ID_LEN; i++)
                        if (b[i] < 4 * 62)
                                ret[n++] = alphabet[b[i] % 62];
                explicit_bzero(b, sizeof(b));
        }
        ret[STITCH_ID_LEN] = 0;
        return 0;
}

int stitch_secret_new(const char *prefix, char **ret) {
        uint8_t raw[32];
        size_t pl = strlen(prefix);
        char *s = malloc(pl + STITCH_SECRET_B64_LEN + 2);
        if (!s)
                return -ENOMEM;
        int r = stitch_random_bytes(raw, sizeof(raw));
        if (r < 0) {
                free(s);
                return r;
        }
        memcpy(s, prefix, pl);
        stitch_base64url_encode(raw, sizeof(raw), s + pl); /* and the NUL */
        explicit_bzero(raw, sizeof(raw));
        *ret = s;
        return 0;
}
