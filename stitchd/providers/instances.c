/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The providers' per-daemon instances (provider.h: init, free), built from
 * their parsed sections. Apart from the registry, which the config parser
 * asks for the sections: the parser and the instances' use of the parsed
 * config would otherwise call each other. */
#include "log.h"
#include "macro.h"
#include "providers/provider.h"

int stitch_providers_init(struct stitch_core *core) {
        const struct stitch_provider *const *providers = stitch_providers();
        for (size_t i = 0; providers[i]; i++) {
                const struct stitch_provider *p = providers[i];
                if (!p->init || !p->enabled(&core->config))
                        continue;
                const void *settings = p->config ? stitch_config_settings(&core->config, p->config) : NULL;
                int r = p->init(core, settings, &core->provider_instances[i]);
                if (r < 0) {
                        core->provider_instances[i] = NULL;
                        stitch_providers_free(core);
                        return log_error_errno(r, "Cannot start provider %s: %m", p->name);
                }
        }
        return 0;
}

void stitch_providers_free(struct stitch_core *core) {
        const struct stitch_provider *const *providers = stitch_providers();
        for (size_t i = 0; providers[i]; i++) {
                if (core->provider_instances[i] && providers[i]->free)
                        providers[i]->free(core->provider_instances[i]);
                core->provider_instances[i] = NULL;
        }
}

void *stitch_provider_instance(const struct stitch_core *core, const struct stitch_provider *p) {
        const struct stitch_provider *const *providers = stitch_providers();
        for (size_t i = 0; providers[i]; i++)
                if (providers[i] == p)
                        return core->provider_instances[i];
        return NULL;
}
