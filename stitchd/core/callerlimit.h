/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Successful logins per non-root caller uid and minute.
 *
 * Failed logins are bounded per account by the rate limiter; this bounds
 * the successful ones, each of which costs a password hash and a durable
 * session row, so that one local user cannot create sessions without end.
 * A fixed one-minute window per uid; bounded memory (a full table of
 * callers that are all inside their window refuses new callers: fail
 * closed). Thread-safe. */

#include <stdint.h>
#include <sys/types.h>

#define STITCH_CALLERLIMIT_MAX_ENTRIES 4096

struct stitch_callerlimit;

/* per_minute 0: no limit. */
int stitch_callerlimit_new(unsigned per_minute, struct stitch_callerlimit **ret);
struct stitch_callerlimit *stitch_callerlimit_free(struct stitch_callerlimit *cl);

/* Before a login: 0 if uid may log in again now, or -EBUSY with
 * *ret_retry_after_usec set. Root (uid 0) is never limited. */
int stitch_callerlimit_check(struct stitch_callerlimit *cl, uid_t uid, uint64_t now_usec,
                             uint64_t *ret_retry_after_usec);
/* After a successful login: counts it. */
void stitch_callerlimit_count(struct stitch_callerlimit *cl, uid_t uid, uint64_t now_usec);
