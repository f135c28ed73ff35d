/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Per-account login rate limiting (beyond Stitch).
 *
 * Every attempt is counted when it starts, so parallel guesses cannot slip
 * past the limit before their failures are recorded. After max_failures
 * attempts without a success (attempts more than 'window' apart start a new
 * count), each further attempt first locks the account for 1 s, 2 s, 4 s, ...
 * capped at backoff_max; attempts during a lock are refused and not counted.
 * So one lock never lasts longer than backoff_max. A success resets the
 * account; an admin unlock clears it.
 *
 * Bounded memory: at most max_accounts accounts are tracked ([Limits]
 * TrackedAccounts=). Only idle accounts (not locked, last attempt older than
 * the window) are ever evicted; an account that is locked or still counting
 * failures is never dropped to make room, so flooding the table with other
 * names cannot unlock it. When the table is full of such accounts, attempts
 * for accounts it does not track are refused (-EBUSY) until one turns idle:
 * the limiter fails closed. The table is keyed by SipHash with a random key
 * per daemon start, so names cannot be chosen to collide. */

#include <stddef.h>
#include <stdint.h>

#define STITCH_RATELIMIT_TRACKED_DEFAULT 65536
#define STITCH_RATELIMIT_TRACKED_MIN 16
#define STITCH_RATELIMIT_TRACKED_MAX 1048576

struct stitch_ratelimit;

/* max_failures == 0 disables the limit. Returns 0, -EINVAL (max_accounts out
 * of range), -ENOMEM, or a negative errno from getrandom(). */
int stitch_ratelimit_new(unsigned max_failures, uint64_t window_usec, uint64_t backoff_max_usec,
                         size_t max_accounts, struct stitch_ratelimit **ret);
struct stitch_ratelimit *stitch_ratelimit_free(struct stitch_ratelimit *rl);

/* Returns 0 if the attempt may proceed, or -EBUSY with *ret_retry_after_usec set. */
int stitch_ratelimit_begin(struct stitch_ratelimit *rl, const char *account, uint64_t now_usec,
                           uint64_t *ret_retry_after_usec);
void stitch_ratelimit_success(struct stitch_ratelimit *rl, const char *account);
/* Takes back the count of an attempt begun with stitch_ratelimit_begin()
 * that turned out to be no guess: nothing was checked (a provider's pending
 * "poll again", core/login.c). Undoes the lock that count set, if any. */
void stitch_ratelimit_refund(struct stitch_ratelimit *rl, const char *account);
/* Clears an account; returns 1 if it was tracked. */
int stitch_ratelimit_unlock(struct stitch_ratelimit *rl, const char *account);

/* The number of accounts tracked now (tests and diagnostics). */
size_t stitch_ratelimit_count(struct stitch_ratelimit *rl);
