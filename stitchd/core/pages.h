/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Zeroed memory for fixed tables that are mostly empty (the caches' slots,
 * the per-caller login limits): an anonymous mapping, not malloc. A page
 * takes memory only once something is written to it (reading an untouched
 * one reads the shared zero page), and stitch_pages_zero() gives written
 * pages back to the system, which leaves them reading as zeros again. From
 * malloc the same table is resident as a whole once calloc has cleared it,
 * and stays so after it is emptied. */

#include <stddef.h>

/* size bytes (rounded up to whole pages), zeroed; NULL when out of memory. */
void *stitch_pages_new(size_t size);
/* p from stitch_pages_new(size); NULL is fine. Returns NULL. */
void *stitch_pages_free(void *p, size_t size);
/* Every byte of p's size bytes reads 0 again, and its pages are no longer
 * resident. Nothing may use the memory meanwhile (the caller's lock). */
void stitch_pages_zero(void *p, size_t size);
