/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Copying one store into another, through the contract only (store.h), so
 * any backend to any backend: `stitchctl store migrate --from SPEC --to
 * SPEC` (stitchd --migrate-store). What is copied: users with their
 * identities, passwords, uids and states; the uids of deleted users (never
 * given again: they may own files); API keys; sessions, live and
 * ended (an ended one keeps its end, so its tokens stay refused); signing
 * keys, oldest first, so tokens issued before verify after. What is not:
 * the change feed (the target starts its own), retired refresh tokens
 * (presenting one after the move is refused as unknown, not detected as
 * reuse), pending confirmation and reset mails (only their hashes were
 * kept: the users ask again). The target must be empty; the copy is one
 * transaction on it, so a failure leaves it empty. Run it with no stitchd
 * using the source. */

#include <stdint.h>

#include "store/store.h"

struct stitch_store_counts {
        uint64_t users, identities, passwords, apikeys, sessions, signing_keys;
        uint64_t retired_uids; /* deleted users' uids, never given again */
};

/* Counts what a store holds. */
int stitch_store_count(const struct stitch_store_ops *ops, struct stitch_store *s, struct stitch_store_counts *ret);

/* Copies everything from 'from' into the empty 'to', then counts both and
 * compares. -ENOTEMPTY if 'to' holds anything; -EBADE if the counts
 * differ after the copy (logged, the target keeps the copy); errors of the
 * backends otherwise (logged, the target is left as it was). *ret_from and
 * *ret_to (optional) receive the counts. */
int stitch_store_copy(const struct stitch_store_ops *from_ops, struct stitch_store *from,
                      const struct stitch_store_ops *to_ops, struct stitch_store *to,
                      struct stitch_store_counts *ret_from, struct stitch_store_counts *ret_to);
