/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>

#include "daemon/store-migrate.h"
#include "log.h"
#include "macro.h"
#include "redact.h"
#include "store/copy.h"
#include "validate.h"

static int open_store(const char *what, const char *spec, const struct stitch_store_ops **ret_ops,
                      struct stitch_store **ret) {
        _cleanup_free_ char *shown = stitch_store_describe_spec(spec);
        const char *error = NULL;
        int r = stitch_store_validate_spec(spec, &error);
        if (r < 0) {
                fprintf(stderr, "stitchd: %s store %s: %s\n", what, shown ?: STITCH_REDACTED, error ?: "invalid");
                return r;
        }
        r = stitch_store_prepare(spec);
        if (r >= 0)
                r = stitch_store_open(spec, ret_ops, ret);
        if (r < 0) {
                fprintf(stderr, "stitchd: cannot open the %s store %s: %s\n", what, shown ?: STITCH_REDACTED,
                        strerror(-r));
                return r;
        }
        return 0;
}

static void print_counts(const char *what, const struct stitch_store_counts *c) {
        printf("%-7s %8" PRIu64 " users %8" PRIu64 " identities %8" PRIu64 " passwords %8" PRIu64
               " API keys %8" PRIu64 " sessions %4" PRIu64 " signing keys %6" PRIu64 " retired uids\n",
               what, c->users, c->identities, c->passwords, c->apikeys, c->sessions, c->signing_keys,
               c->retired_uids);
}

int stitch_store_migrate_main(const char *from_spec, const char *to_spec) {
        const struct stitch_store_ops *from_ops = NULL, *to_ops = NULL;
        struct stitch_store *from = NULL, *to = NULL;
        struct stitch_store_counts a = {}, b = {};
        int r;

        if (streq(from_spec, to_spec)) {
                fprintf(stderr, "stitchd: --migrate-store needs two different stores.\n");
                return 1;
        }
        r = open_store("source", from_spec, &from_ops, &from);
        if (r >= 0)
                r = open_store("target", to_spec, &to_ops, &to);
        if (r >= 0) {
                r = stitch_store_copy(from_ops, from, to_ops, to, &a, &b);
                if (r >= 0 || r == -EBADE) {
                        print_counts("source", &a);
                        print_counts("target", &b);
                }
                if (r == -ENOTEMPTY)
                        fprintf(stderr, "stitchd: the target store is not empty; nothing was copied.\n");
                else if (r == -EBADE)
                        fprintf(stderr, "stitchd: the counts differ: check the target before using it.\n");
                else if (r < 0)
                        fprintf(stderr, "stitchd: the copy failed (%s); the target is left as it was.\n",
                                strerror(-r));
                else
                        printf("Copied; the counts match.\n");
        }
        if (to)
                to_ops->close(to);
        if (from)
                from_ops->close(from);
        return r < 0 ? 1 : 0;
}
