/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "core/end-reason.h"
#include "macro.h"

/* These strings are stored: never rename one (add new ones at the end). */
static const char *const table[_STITCH_END_REASON_MAX] = {
        [STITCH_END_LOGOUT] = "logout",   [STITCH_END_EXITED] = "exited", [STITCH_END_REVOKE] = "revoke",
        [STITCH_END_DISABLE] = "disable", [STITCH_END_DELETE] = "delete", [STITCH_END_REUSE] = "reuse",
        [STITCH_END_EXPIRED] = "expired", [STITCH_END_LIMIT] = "limit",   [STITCH_END_PASSWORD] = "password",
        [STITCH_END_APIKEY] = "apikey",
};

const char *stitch_end_reason_to_string(enum stitch_end_reason r) {
        if (r < 0 || r >= _STITCH_END_REASON_MAX)
                return NULL;
        assert(table[r]);
        return table[r];
}

enum stitch_end_reason stitch_end_reason_from_string(const char *s) {
        if (!s)
                return _STITCH_END_REASON_INVALID;
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(table[i], s))
                        return (enum stitch_end_reason) i;
        return _STITCH_END_REASON_INVALID;
}

bool stitch_end_reason_is_revocation(enum stitch_end_reason r) {
        return r != STITCH_END_LOGOUT && r != STITCH_END_EXITED;
}
