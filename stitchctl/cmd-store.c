/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchctl store migrate: copies a store into another (offline: runs
 * `stitchd --migrate-store`, which holds the store backends; stitchctl
 * itself only ever talks to a daemon). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stitchctl.h"

int cmd_store_migrate(struct stitchctl *ctl, char **args, size_t n_args) {
        (void) args;
        (void) n_args;
        if (!ctl->from || !ctl->to)
                return stitchctl_usage_error(ctl, "give the source and the target: --from SPEC --to SPEC");
        if (ctl->json)
                return stitchctl_usage_error(ctl, "--json is not supported by store migrate");

        /* For running from a build tree (tests); the installed stitchd
         * otherwise. */
        const char *stitchd = getenv("STITCHCTL_STITCHD");
        if (!stitchd || !*stitchd)
                stitchd = STITCHD_PATH;
        fflush(stdout);
        execl(stitchd, "stitchd", "--migrate-store", ctl->from, ctl->to, (char *) NULL);
        fprintf(stderr, "stitchctl: cannot run %s: %s\n", stitchd, strerror(errno));
        return EXIT_REFUSED;
}
