/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* api-key: user keys and server keys; only their SHA-256 is stored. */
#include <string.h>

#include <openssl/crypto.h>

#include "clock.h"
#include "log.h"
#include "providers/provider.h"
#include "store/store.h"
#include "core/ids.h"
#include "core/sha256.h"
#include "validate.h"

bool stitch_apikey_format_valid(const char *key) {
        size_t pl = strlen(STITCH_APIKEY_PREFIX);
        if (!key || strncmp(key, STITCH_APIKEY_PREFIX, pl) != 0 || strlen(key) != pl + STITCH_SECRET_B64_LEN)
                return false;
        for (const char *c = key + pl; *c; c++)
                if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
                      *c == '_'))
                        return false;
        return true;
}

struct apikey_settings {
        bool enabled;
};

static const struct stitch_config_key apikey_keys[] = {
        STITCH_CONFIG_BOOL(struct apikey_settings, "Provider.api-key", "Enabled", enabled, "yes"),
};

static const struct stitch_config_section apikey_section = {
        .name = "Provider.api-key",
        .size = sizeof(struct apikey_settings),
        .keys = apikey_keys,
        .n_keys = ELEMENTSOF(apikey_keys),
};

static bool apikey_enabled(const struct stitch_config *c) {
        const struct apikey_settings *s = stitch_config_settings(c, &apikey_section);
        return s && s->enabled;
}

static int apikey_begin(struct stitch_core *core, const struct stitch_login *l, struct stitch_provider_result *ret) {
        _cleanup_(stitch_apikey_freep) struct stitch_apikey *k = NULL;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        const char *key = stitch_credentials_get(l->credentials, "key");
        uint8_t hash[STITCH_HASH_LEN];
        int r;

        if (!key) {
                r = stitch_ask_prompt(&ret->ask, "key", "API key: ", false, false);
                return r < 0 ? r : STITCH_PROVIDER_ASK;
        }
        if (!stitch_apikey_format_valid(key))
                return -EACCES;

        r = stitch_sha256(key, strlen(key), hash);
        if (r < 0)
                return r;
        /* The key and its user, read as a login reads a user (with the
         * count of live sessions: the session's start then needs no list
         * of them below MaxPerUser), in one read. */
        r = core->store_ops->apikey_find_for_login(core->store, hash, stitch_now(), &k, &u);
        if (r == -ENOENT)
                return -EACCES;
        if (r < 0)
                return r;
        /* The index found it by hash; compare again in constant time anyway. */
        if (CRYPTO_memcmp(hash, k->hash, sizeof(hash)) != 0 || k->disabled)
                return -EACCES;
        /* A login as a Unix account: only as the key owner's. */
        if (u->disabled || (!l->app && !streq_ptr(u->unix_name, l->user)))
                return -EACCES;

        ret->user = TAKE_PTR(u);
        memcpy(ret->apikey_id, k->id, sizeof(ret->apikey_id));
        return STITCH_PROVIDER_DONE;
}

const struct stitch_provider stitch_provider_apikey = {
        .name = "api-key",
        .config = &apikey_section,
        .enabled = apikey_enabled,
        .begin = apikey_begin,
        .limit_after_check = true,
        .app_fields = {{"key", "key", false}},
        .app_failure_code = "AuthError",
        .app_failure_message = "invalid API key",
};
