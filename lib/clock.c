/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <time.h>

#include "clock.h"
#include "macro.h"

int64_t stitch_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec;
}

uint64_t stitch_now_usec(int clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}
