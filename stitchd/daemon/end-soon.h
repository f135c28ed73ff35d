/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Ending a session from the event loop without waiting for the disk: its
 * tokens stop verifying at once (memory), the store learns on a worker. */

#include "core/end-reason.h"
#include "daemon/manager.h"

/* Event loop: ends session s (taken) now in memory and durably on a
 * worker; if the pool is full, here. */
void stitch_end_session_soon(struct stitch_manager *m, struct stitch_session *s, enum stitch_end_reason reason);
