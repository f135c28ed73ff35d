/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* Whether a file (or directory) that decides what the daemon trusts cannot be
 * changed by anyone else: owned by root or by us, not writable by group or
 * others (like sshd's StrictModes). 0, or -errno logged with 'what'. */
int stitch_check_trusted(const char *path, bool directory, const char *what);
