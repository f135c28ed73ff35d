/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* anon-user: each login creates a fresh anonymous user, mapped only to
 * [Provider.anon-user] UnixUser and only for the listed services. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "providers/provider.h"
#include "store/store.h"
#include "clock.h"
#include "core/ids.h"
#include "validate.h"

static bool anon_enabled(const struct stitch_config *c) {
        return c->anon_enabled;
}

static int anon_begin(struct stitch_core *core, const struct stitch_login *l, struct stitch_provider_result *ret) {
        const struct stitch_config *c = &core->config;
        int r;

        /* Over the app API, Enabled=yes is enough (as in Stitch); for Unix
         * logins, only services named explicitly: "*" is never accepted here, so anonymous
         * logins can't leak into sshd or sudo by a wildcard. */
        bool listed = l->app;
        for (char *const *s = c->anon_services; !l->app && l->service && s && *s; s++)
                if (streq(*s, l->service))
                        listed = true;
        if (!listed)
                return -EPERM;
        if (!l->app && (!c->anon_unix_user || !streq(l->user, c->anon_unix_user)))
                return -EPERM;

        _cleanup_(stitch_user_freep) struct stitch_user *u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        struct stitch_identity *ident = calloc(1, sizeof(*ident));
        if (!ident)
                return -ENOMEM;
        u->identities = ident;
        u->n_identities = 1;
        r = stitch_objectid_new(u->id);
        if (r < 0)
                return r;
        r = stitch_objectid_new(ident->id);
        if (r < 0)
                return r;
        u->type = strdup("normal");
        u->data_json = strdup("{}");
        ident->provider_type = strdup("anon-user");
        ident->provider_id = strdup("anon-user");
        if (!u->type || !u->data_json || !ident->provider_type || !ident->provider_id)
                return -ENOMEM;
        u->creation_date = u->last_authentication_date = stitch_now();

        r = core->store_ops->user_create(core->store, u, NULL);
        if (r < 0)
                return r;
        log_info("Created anonymous user %s for %s via %s.", u->id, l->app ? "an app" : l->user, l->service);
        ret->user = TAKE_PTR(u);
        return STITCH_PROVIDER_DONE;
}

static bool anon_maps_to(const struct stitch_config *c, const struct stitch_user *u, const char *unix_name) {
        (void) u;
        return streq_ptr(c->anon_unix_user, unix_name);
}

const struct stitch_provider stitch_provider_anon = {
        .name = "anon-user",
        .enabled = anon_enabled,
        .no_credentials = true,
        .idle_user_lifetime_sec = 90 * 24 * 3600,
        .begin = anon_begin,
        .maps_to = anon_maps_to,
        .app_failure_code = "AuthError",
        .app_failure_message = "anonymous logins are not allowed",
};
