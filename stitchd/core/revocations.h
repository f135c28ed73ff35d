/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The in-memory revocation set: ids of revoked sessions whose access tokens
 * may still be unexpired. Lookup is O(1); entries are dropped once every
 * token of the session has expired. Thread-safe. Rebuilt from the store at
 * start, so a revocation survives restarts and SIGKILL. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stitch_revocations;

int stitch_revocations_new(struct stitch_revocations **ret);
struct stitch_revocations *stitch_revocations_free(struct stitch_revocations *r);
/* Adds (or extends) an entry living until 'until' (epoch seconds). */
int stitch_revocations_add(struct stitch_revocations *r, const char *session_id, int64_t until);
bool stitch_revocations_contains(struct stitch_revocations *r, const char *session_id);
/* Drops entries with until < now; returns how many were dropped. */
size_t stitch_revocations_prune(struct stitch_revocations *r, int64_t now);
size_t stitch_revocations_size(struct stitch_revocations *r);
