/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Picks the store backend named by the scheme of "scheme:location". A new
 * backend is one more line in the table below. */

#include <errno.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "store/store.h"

static const struct stitch_store_ops *const store_backends[] = {
        &stitch_store_sqlite,
};

int stitch_store_open(const char *spec, const struct stitch_store_ops **ret_ops, struct stitch_store **ret) {
        const struct stitch_store_ops *ops = NULL;
        struct stitch_store *s = NULL;
        const char *colon;
        size_t n;
        int r;

        if (!spec || !ret)
                return -EINVAL;

        colon = strchr(spec, ':');
        if (!colon || colon == spec)
                /* The location may carry credentials (a future PostgreSQL URL):
                 * never log it, only the scheme. */
                return log_error_errno(EINVAL, "Store specification lacks a \"scheme:\" prefix (e.g. \"sqlite:/var/lib/stitchd/stitch.db\").");
        n = (size_t) (colon - spec);

        for (size_t i = 0; i < ELEMENTSOF(store_backends); i++)
                if (strlen(store_backends[i]->scheme) == n &&
                    strncmp(store_backends[i]->scheme, spec, n) == 0) {
                        ops = store_backends[i];
                        break;
                }
        if (!ops)
                return log_error_errno(EINVAL, "Unknown store scheme \"%.*s\" (supported: sqlite).",
                                       (int) MIN(n, (size_t) 32), spec);

        r = ops->open(colon + 1, &s);
        if (r < 0)
                return r;

        if (ret_ops)
                *ret_ops = ops;
        *ret = s;
        return 0;
}
