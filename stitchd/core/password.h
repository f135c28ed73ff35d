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
/* The same check for a login, whose failures must all cost the same: when
 * it fails (no match, a malformed hash, or 'refused': the answer is no
 * whatever the password, as for a disabled user or the dummy hash of an
 * unknown one), argon2id work is added in the same hash slot until the
 * whole check has cost about one hash with 'floor' (by
 * stitch_password_work). So a stored hash made with cheaper parameters
 * fails as slowly as one made with 'floor'. A success is not padded. */
int stitch_password_verify_padded(const char *phc, const char *password, bool refused,
                                  const struct stitch_argon2_params *floor);
/* The parameters of a PHC string of ours; -EINVAL if it is not one. */
int stitch_password_params(const char *phc, struct stitch_argon2_params *ret);
/* What one hash with these parameters costs, as argon2id's time goes:
 * memory times passes (KiB x t). Lanes run in parallel threads, so their
 * number changes the time only as far as CPUs are free: not counted. */
uint64_t stitch_password_work(const struct stitch_argon2_params *params);
/* True if the PHC string was made with other parameters than 'params'. */
bool stitch_password_needs_rehash(const char *phc, const struct stitch_argon2_params *params);
/* Checks the length rules; on failure returns -EINVAL and a static message. */
int stitch_password_check_policy(const char *password, unsigned min_length, const char **ret_reason);
