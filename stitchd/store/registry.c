/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Picks the store backend named by the scheme of "scheme:location". A new
 * backend is one more line in the table below; another name for a
 * backend's scheme is one line in the aliases. */

#include <errno.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "redact.h"
#include "store/store.h"

static const struct stitch_store_ops *const store_backends[] = {
        &stitch_store_sqlite,
        &stitch_store_postgresql,
};

/* Other names of a backend's scheme (libpq takes both). */
static const struct {
        const char *scheme;
        const struct stitch_store_ops *ops;
} store_aliases[] = {
        {"postgres", &stitch_store_postgresql},
};

#define SPEC_EXPECTED "expected sqlite:/absolute/path/to/database"

/* The backend of spec, *ret_location after its "scheme:". NULL, with
 * *ret_error and *ret_errno set, if none. Logs nothing: the caller decides,
 * and the spec itself is never part of a message. */
static const struct stitch_store_ops *backend_of(const char *spec, const char **ret_location, const char **ret_error,
                                                 int *ret_errno) {
        const char *colon = spec ? strchr(spec, ':') : NULL;

        *ret_errno = EINVAL;
        if (!colon || colon == spec) {
                *ret_error = SPEC_EXPECTED;
                return NULL;
        }
        size_t n = (size_t) (colon - spec);

        for (size_t i = 0; i < ELEMENTSOF(store_backends); i++)
                if (strlen(store_backends[i]->scheme) == n && strncmp(store_backends[i]->scheme, spec, n) == 0) {
                        *ret_location = colon + 1;
                        return store_backends[i];
                }
        for (size_t i = 0; i < ELEMENTSOF(store_aliases); i++)
                if (strlen(store_aliases[i].scheme) == n && strncmp(store_aliases[i].scheme, spec, n) == 0) {
                        *ret_location = colon + 1;
                        return store_aliases[i].ops;
                }
        *ret_error = SPEC_EXPECTED;
        return NULL;
}

int stitch_store_validate_spec(const char *spec, const char **ret_error) {
        const char *location = NULL, *error = NULL;
        int e;

        const struct stitch_store_ops *ops = backend_of(spec, &location, &error, &e);
        if (!ops) {
                if (ret_error)
                        *ret_error = error;
                return -e;
        }
        return ops->validate_location(location, ret_error);
}

/* The backend of spec, validated; a failure is logged (without the spec). */
static const struct stitch_store_ops *backend_checked(const char *spec, const char **ret_location, int *ret_r) {
        const char *error = NULL;
        int e;

        const struct stitch_store_ops *ops = backend_of(spec, ret_location, &error, &e);
        if (!ops) {
                *ret_r = log_error_errno(e, "Store specification rejected: %s.", error);
                return NULL;
        }
        *ret_r = ops->validate_location(*ret_location, &error);
        if (*ret_r < 0) {
                log_error_errno(*ret_r, "Store specification rejected: %s.", error ?: "invalid location");
                return NULL;
        }
        return ops;
}

int stitch_store_prepare(const char *spec) {
        const char *location = NULL;
        int r;

        const struct stitch_store_ops *ops = backend_checked(spec, &location, &r);
        if (!ops)
                return r;
        return ops->prepare ? ops->prepare(location) : 0;
}

int stitch_store_open(const char *spec, const struct stitch_store_ops **ret_ops, struct stitch_store **ret) {
        struct stitch_store *s = NULL;
        const char *location = NULL;
        int r;

        if (!spec || !ret)
                return -EINVAL;

        const struct stitch_store_ops *ops = backend_checked(spec, &location, &r);
        if (!ops)
                return r;

        r = ops->open(location, &s);
        if (r < 0)
                return r;

        if (ret_ops)
                *ret_ops = ops;
        *ret = s;
        return 0;
}

char *stitch_store_describe_spec(const char *spec) {
        if (!spec)
                return strdup("(none)");
        return stitch_redact_url(spec);
}
