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

struct anon_settings {
        bool enabled;
        char *unix_user; /* the guest account anonymous logins map to; NULL */
        char **services; /* NULL-terminated, default empty (never implied) */
};

static int check_unix_user(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                           const char *value, const char *word) {
        /* The daemon also refuses any account with UID 0 at runtime; this catches the obvious case. */
        if (streq(word, "root"))
                return stitch_config_report_value(p, line, k, value, "anonymous logins must not map to root");
        return stitch_config_check_unix_name(p, line, k, value, word);
}

static int check_named_service(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                               const char *value, const char *word) {
        /* Never implied: anonymous logins for sshd or sudo must be asked for by name. */
        if (streq(word, "*"))
                return stitch_config_report_value(p, line, k, value, "\"*\" is not allowed here, name each service");
        return stitch_config_check_service(p, line, k, value, word);
}

#define SECTION "Provider.anon-user"
static const struct stitch_config_key anon_keys[] = {
        STITCH_CONFIG_BOOL(struct anon_settings, SECTION, "Enabled", enabled, "no"),
        STITCH_CONFIG_STRING(struct anon_settings, SECTION, "UnixUser", unix_user, NULL, check_unix_user),
        STITCH_CONFIG_STRING_LIST(struct anon_settings, SECTION, "Services", services, NULL, check_named_service,
                                  STITCH_LIST_COMMAS | STITCH_LIST_UNIQUE),
};

static void anon_validate(struct stitch_config_parser *p, const struct stitch_config *c, const void *settings) {
        const struct anon_settings *s = settings;

        if (s->enabled && isempty(s->unix_user) && isempty(c->http_listen))
                stitch_config_report(p, 0, "[" SECTION "] Enabled=yes requires UnixUser= (PAM logins) or [Http] Listen= (app logins)");
        /* The parser checks it already; a caller may have filled it by hand. */
        if (s->unix_user && !stitch_unix_name_valid(s->unix_user))
                stitch_config_report(p, 0, "UnixUser= is not a valid user name");
}

static const struct stitch_config_section anon_section = {
        .name = SECTION,
        .size = sizeof(struct anon_settings),
        .keys = anon_keys,
        .n_keys = ELEMENTSOF(anon_keys),
        .validate = anon_validate,
};

static const struct anon_settings *settings(const struct stitch_config *c) {
        static const struct anon_settings none = {0};
        const struct anon_settings *s = stitch_config_settings(c, &anon_section);
        return s ? s : &none;
}

static bool anon_enabled(const struct stitch_config *c) {
        return settings(c)->enabled;
}

static int anon_begin(struct stitch_core *core, const struct stitch_login *l, struct stitch_provider_result *ret) {
        const struct anon_settings *c = settings(&core->config);
        int r;

        /* Over the app API, Enabled=yes is enough (as in Stitch); for Unix
         * logins, only services named explicitly: "*" is never accepted here, so anonymous
         * logins can't leak into sshd or sudo by a wildcard. */
        bool listed = l->app;
        for (char *const *s = c->services; !l->app && l->service && s && *s; s++)
                if (streq(*s, l->service))
                        listed = true;
        if (!listed)
                return -EPERM;
        if (!l->app && (!c->unix_user || !streq(l->user, c->unix_user)))
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
        return streq_ptr(settings(c)->unix_user, unix_name);
}

const struct stitch_provider stitch_provider_anon = {
        .name = "anon-user",
        .config = &anon_section,
        .enabled = anon_enabled,
        .no_credentials = true,
        .idle_user_lifetime_sec = 90 * 24 * 3600,
        .begin = anon_begin,
        .maps_to = anon_maps_to,
        .app_failure_code = "AuthError",
        .app_failure_message = "anonymous logins are not allowed",
};
