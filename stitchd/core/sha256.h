/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "store/store.h" /* STITCH_HASH_LEN */

/* 0, or -EIO (logged) when OpenSSL fails; ret is then zeroed. */
int stitch_sha256(const void *data, size_t n, uint8_t ret[STITCH_HASH_LEN]) _warn_unused_result_;
