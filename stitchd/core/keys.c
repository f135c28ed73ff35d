/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>

#include "core/keys.h"
#include "core/tokens.h"
#include "clock.h"
#include "validate.h"
#include "log.h"

static const char *configured_algorithm(const struct stitch_core *core) {
        return core->config.signing_algorithm == STITCH_SIGNING_HS256 ? "HS256" : "ES256";
}

int stitch_core_load_keys(struct stitch_core *core) {
        struct stitch_signing_key **keys = NULL;
        size_t n = 0;
        const char *want = configured_algorithm(core);
        int r;

        r = core->store_ops->key_list(core->store, &keys, &n);
        if (r < 0)
                return log_error_errno(r, "Cannot read signing keys: %m");

        /* No key yet, or the configured algorithm changed: start a new active key. */
        bool have_active = false;
        for (size_t i = 0; i < n; i++)
                if (keys[i]->retired == 0 && streq(keys[i]->alg, want))
                        have_active = true;
        if (!have_active) {
                stitch_signing_key_array_free(keys, n);
                char kid[64];
                r = stitch_core_rotate_key(core, kid, sizeof(kid));
                if (r < 0)
                        return r;
                log_info("Generated a new %s signing key %s.", want, kid);
                return 0;
        }
        if (core->keyring)
                r = stitch_keyring_reload(core->keyring, keys, n);
        else
                r = stitch_keyring_new(keys, n, &core->keyring);
        stitch_signing_key_array_free(keys, n);
        if (r < 0)
                return log_error_errno(r, "Cannot load signing keys: %m");
        return 0;
}

int stitch_core_rotate_key(struct stitch_core *core, char *ret_kid, size_t kid_size) {
        struct stitch_signing_key *k = NULL;
        struct stitch_signing_key **keys = NULL;
        size_t n = 0;
        int r;

        pthread_mutex_lock(&core->key_lock);
        r = stitch_signing_key_generate(configured_algorithm(core), stitch_now(), &k);
        if (r < 0) {
                log_error_errno(r, "Cannot generate a signing key: %m");
                goto finish;
        }
        r = core->store_ops->key_rotate(core->store, k);
        if (r < 0) {
                log_error_errno(r, "Cannot store the signing key: %m");
                goto finish;
        }
        r = core->store_ops->key_list(core->store, &keys, &n);
        if (r < 0)
                goto finish;
        r = core->keyring ? stitch_keyring_reload(core->keyring, keys, n) : stitch_keyring_new(keys, n, &core->keyring);
        if (r < 0)
                goto finish;
        snprintf(ret_kid, kid_size, "%s", k->kid);
finish:
        stitch_signing_key_array_free(keys, n);
        stitch_signing_key_free(k);
        pthread_mutex_unlock(&core->key_lock);
        return r;
}
