/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012): a keyed 64-bit hash. With a secret random key, an attacker who does
 * not know the key cannot choose inputs that collide, so hash tables keyed
 * by untrusted strings (login names, ...) keep their expected probe lengths.
 * The result is the reference implementation's 8 output bytes read as a
 * little-endian integer. */

#include <stddef.h>
#include <stdint.h>

#define STITCH_SIPHASH_KEY_SIZE 16

uint64_t stitch_siphash24(const void *data, size_t len, const uint8_t key[static STITCH_SIPHASH_KEY_SIZE]);
