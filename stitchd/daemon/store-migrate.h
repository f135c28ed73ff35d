/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* `stitchd --migrate-store FROM TO` (what `stitchctl store migrate` runs):
 * copies the store named by the spec FROM into the empty store TO (opening,
 * creating and migrating its schema as a daemon would) and prints the
 * counts of both (store/copy.h). Returns the exit status: 0 copied and
 * counted equal, 1 otherwise (the reason on stderr). */
int stitch_store_migrate_main(const char *from_spec, const char *to_spec);
