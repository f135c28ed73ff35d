/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "core/apikeys.h"
#include "core/util.h"
#include "log.h"

int stitch_apikey_issue(struct stitch_manager *m, const char *user_id, const char *name,
                        char ret_id[STITCH_ID_LEN + 1], char **ret_key) {
        _cleanup_erase_ char *key = NULL;
        struct stitch_apikey k = {0};
        int r;

        if (!stitch_apikey_name_valid(name))
                return -EINVAL;
        r = stitch_objectid_new(k.id);
        if (r < 0)
                return r;
        memcpy(k.user_id, user_id, sizeof(k.user_id));
        r = stitch_secret_new(STITCH_APIKEY_PREFIX, &key);
        if (r < 0)
                return r;
        r = stitch_sha256(key, strlen(key), k.hash);
        if (r < 0)
                return r;
        k.name = (char *) name;
        k.creation_date = stitch_now();
        r = m->store_ops->apikey_create(m->store, &k);
        if (r < 0)
                return r;
        log_info("API key %s (%s) created for user %s.", k.id, name, k.user_id);
        memcpy(ret_id, k.id, STITCH_ID_LEN + 1);
        *ret_key = TAKE_PTR(key);
        return 0;
}
