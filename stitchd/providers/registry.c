/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "macro.h"
#include "providers/provider.h"

static const struct stitch_provider *const providers[] = {
        &stitch_provider_userpass,
        &stitch_provider_apikey,
        &stitch_provider_anon,
};

const struct stitch_provider *stitch_provider_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(providers); i++)
                if (streq(providers[i]->name, name))
                        return providers[i];
        return NULL;
}
