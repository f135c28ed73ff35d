/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Password hashing: argon2id PHC strings through libargon2. */

#include <stdbool.h>
#include <stdint.h>

#define STITCH_PASSWORD_MAX 128

struct stitch_argon2_params {
        uint32_t m_kib, t, p;
};

/* At most n hashes or verifications run at once (0: no limit); callers beyond
 * wait. Each of the n slots keeps its hash memory for the next hash. The
 * daemon sets Workers= at startup, before any hash. */
int stitch_password_set_concurrency(unsigned n);
/* Frees the slots (shutdown, after the workers stopped). */
void stitch_password_done(void);
/* Gives back the memory of the slots no hash is using (the next hash in a
 * slot allocates it again): for an idle daemon. Any thread. */
void stitch_password_release_idle(void);
/* Hashes with a fresh 16-byte salt; *ret is a malloc'd PHC string. */
int stitch_password_hash(const char *password, const struct stitch_argon2_params *params, char **ret);
/* 0 when the password matches, -EACCES when not, -EINVAL for a malformed hash. */
int stitch_password_verify(const char *phc, const char *password);
/* True if the PHC string was made with other parameters than 'params'. */
bool stitch_password_needs_rehash(const char *phc, const struct stitch_argon2_params *params);
/* Checks the length rules; on failure returns -EINVAL and a static message. */
int stitch_password_check_policy(const char *password, unsigned min_length, const char **ret_reason);
