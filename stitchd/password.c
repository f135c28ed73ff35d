/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <argon2.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "password.h"
#include "util.h"

#define SALT_LEN 16
#define HASH_LEN 32

int stitch_password_hash(const char *password, const struct stitch_argon2_params *params, char **ret) {
        uint8_t salt[SALT_LEN];
        int r = stitch_random_bytes(salt, sizeof(salt));
        if (r < 0)
                return r;

        size_t len = argon2_encodedlen(params->t, params->m_kib, params->p, SALT_LEN, HASH_LEN, Argon2_id);
        char *encoded = malloc(len);
        if (!encoded)
                return -ENOMEM;
        int a = argon2id_hash_encoded(params->t, params->m_kib, params->p, password, strlen(password), salt,
                                      SALT_LEN, HASH_LEN, encoded, len);
        if (a != ARGON2_OK) {
                free(encoded);
                return log_error_errno(a == ARGON2_MEMORY_ALLOCATION_ERROR ? ENOMEM : EINVAL,
                                       "argon2id hashing failed: %s", argon2_error_message(a));
        }
        *ret = encoded;
        return 0;
}

int stitch_password_verify(const char *phc, const char *password) {
        if (!phc || strncmp(phc, "$argon2id$", 10) != 0)
                return -EINVAL;
        int a = argon2id_verify(phc, password, strlen(password));
        if (a == ARGON2_OK)
                return 0;
        if (a == ARGON2_VERIFY_MISMATCH)
                return -EACCES;
        if (a == ARGON2_MEMORY_ALLOCATION_ERROR)
                return -ENOMEM;
        return -EINVAL;
}

bool stitch_password_needs_rehash(const char *phc, const struct stitch_argon2_params *params) {
        char want[96];
        snprintf(want, sizeof(want), "$argon2id$v=19$m=%" PRIu32 ",t=%" PRIu32 ",p=%" PRIu32 "$", params->m_kib,
                 params->t, params->p);
        return !phc || strncmp(phc, want, strlen(want)) != 0;
}

int stitch_password_check_policy(const char *password, unsigned min_length, const char **ret_reason) {
        /* Stitch counts characters, not bytes: count UTF-8 lead bytes. */
        size_t n = 0;
        for (const unsigned char *c = (const unsigned char *) password; *c; c++)
                if ((*c & 0xC0) != 0x80)
                        n++;
        if (n < min_length || n < 6) {
                *ret_reason = "password too short";
                return -EINVAL;
        }
        if (n > STITCH_PASSWORD_MAX) {
                *ret_reason = "password too long: at most 128 characters";
                return -EINVAL;
        }
        return 0;
}
