/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include <openssl/sha.h>

#include "core/sha256.h"
#include "log.h"

int stitch_sha256(const void *data, size_t n, uint8_t ret[STITCH_HASH_LEN]) {
        /* A failure must not leave ret as it was: a hash stored from
         * uninitialised bytes would acknowledge a secret that never works. */
        if (!SHA256(data, n, ret)) {
                explicit_bzero(ret, STITCH_HASH_LEN);
                return log_error_errno(EIO, "SHA-256 failed.");
        }
        return 0;
}
