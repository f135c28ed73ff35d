/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The signing keys: loaded from the store into the core's keyring, rotated
 * on demand (Admin.RotateKey) and when SigningAlgorithm= changes. */

#include <stddef.h>

#include "core/core.h"

int stitch_core_load_keys(struct stitch_core *core);
int stitch_core_rotate_key(struct stitch_core *core, char *ret_kid, size_t kid_size);
