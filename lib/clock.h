/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The time, in the units the daemon and the tools use. */

#include <stdint.h>

int64_t stitch_now(void);             /* epoch seconds, CLOCK_REALTIME */
uint64_t stitch_now_usec(int clock);  /* clock_gettime in usec */
