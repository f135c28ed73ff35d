/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include "core/events.h"
#include "core/offline.h"
#include "core/revocations.h"
#include "core/store-events.h"
#include "core/tokens.h"
#include "log.h"
#include "macro.h"
#include "validate.h"
#include "wire.h" /* cJSON_Deletep */

/* A session ended elsewhere: no token of it may verify here either. Until
 * when: as the revocation set's rebuild from the rows reckons it (store.h,
 * session_foreach_revoked), the later of its access expiry and its end plus
 * the longest a token lives. */
static int apply_session_ended(struct stitch_core *core, const struct stitch_store_event *e, int64_t now) {
        _cleanup_(cJSON_Deletep) cJSON *data = NULL;

        if (!stitch_session_id_valid(e->subject) || !e->data_json)
                return -EBADMSG;
        data = cJSON_Parse(e->data_json);
        if (!cJSON_IsObject(data))
                return -EBADMSG;
        const cJSON *expires = cJSON_GetObjectItemCaseSensitive(data, "access_expires");
        const cJSON *reason = cJSON_GetObjectItemCaseSensitive(data, "reason");
        if (!cJSON_IsNumber(expires))
                return -EBADMSG;
        enum stitch_end_reason why = cJSON_IsString(reason) ? stitch_end_reason_from_string(reason->valuestring)
                                                            : _STITCH_END_REASON_INVALID;
        if (why < 0)
                why = STITCH_END_REVOKE; /* a reason this stitchd does not know: an end all the same */

        int64_t until = MAX((int64_t) expires->valuedouble, e->time + stitch_core_token_lifetime_bound(core));
        if (until < now)
                return 0; /* every token of it is dead already */
        /* The revocation set takes it first (an entry already there is only
         * extended), then the refresher, which ignores sessions it does not
         * hold or has ended. */
        stitch_events_session_ended(&core->events, e->subject, until, why);
        return 0;
}

/* Another daemon rotated the signing key: sign with it too, and accept
 * tokens signed with it. */
static int apply_key_rotated(struct stitch_core *core, const struct stitch_store_event *e) {
        struct stitch_signing_key **keys = NULL;
        char active[64] = "", alg[16];
        size_t n = 0;
        int r;

        pthread_mutex_lock(&core->key_lock);
        if (core->keyring && stitch_keyring_active(core->keyring, active, sizeof(active), alg, sizeof(alg)) >= 0 &&
            streq(active, e->subject)) {
                r = 0; /* ours already */
                goto finish;
        }
        r = core->store_ops->key_list(core->store, &keys, &n);
        if (r < 0)
                goto finish;
        r = core->keyring ? stitch_keyring_reload(core->keyring, keys, n) : stitch_keyring_new(keys, n, &core->keyring);
finish:
        stitch_signing_key_array_free(keys, n);
        pthread_mutex_unlock(&core->key_lock);
        return r;
}

int stitch_core_apply_store_event(struct stitch_core *core, const struct stitch_store_event *e, int64_t now) {
        assert(core);
        assert(e);

        /* What an offline login goes by (core/offline.h): the user's state
         * as last heard; a new password or a delete forgets the verifier. */
        if (e->kind == STITCH_STORE_EVENT_USER_DISABLED || e->kind == STITCH_STORE_EVENT_USER_ENABLED)
                (void) stitch_offline_user_disabled(core, e->subject, e->kind == STITCH_STORE_EVENT_USER_DISABLED);
        else if (e->kind == STITCH_STORE_EVENT_USER_DELETED || e->kind == STITCH_STORE_EVENT_USER_PASSWORD)
                (void) stitch_offline_forget_user(core, e->subject);

        switch (e->kind) {
        case STITCH_STORE_EVENT_SESSION_ENDED:
                return apply_session_ended(core, e, now);
        case STITCH_STORE_EVENT_USER_DISABLED:
        case STITCH_STORE_EVENT_USER_ENABLED:
        case STITCH_STORE_EVENT_USER_DELETED:
        case STITCH_STORE_EVENT_USER_PASSWORD:
        case STITCH_STORE_EVENT_USER_UPDATED:
        case STITCH_STORE_EVENT_APIKEY_CREATED:
        case STITCH_STORE_EVENT_APIKEY_DISABLED:
        case STITCH_STORE_EVENT_APIKEY_ENABLED:
        case STITCH_STORE_EVENT_APIKEY_DELETED:
                /* What a user or key change ends comes as session.ended
                 * events of its own; here only the caches of users go
                 * (moving the generation twice costs only misses). */
                stitch_events_users_changed(&core->events);
                return 0;
        case STITCH_STORE_EVENT_KEY_ROTATED:
                return apply_key_rotated(core, e);
        default:
                return 0; /* a newer stitchd's kind */
        }
}

#define FOLLOW_BATCH 256

int stitch_core_follow_store_events(struct stitch_core *core, struct stitch_feed_cursor *cursor, int64_t now,
                                    uint64_t now_usec, size_t *ret_n) {
        size_t applied = 0;
        int r;

        assert(cursor);
        int64_t after = stitch_feed_cursor_read_after(cursor, now_usec);
        for (;;) {
                struct stitch_store_event **a = NULL;
                size_t n = 0;

                r = core->store_ops->events_since(core->store, after, FOLLOW_BATCH, &a, &n);
                if (r < 0)
                        break;
                for (size_t i = 0; i < n; i++) {
                        after = a[i]->id;
                        if (!stitch_feed_cursor_take(cursor, a[i]->id, now_usec))
                                continue; /* applied already */
                        /* An event that cannot be applied (a newer stitchd's
                         * data, or a broken row) is logged and passed: the
                         * feed must not stop behind it. */
                        int q = stitch_core_apply_store_event(core, a[i], now);
                        if (q < 0)
                                log_warning_errno(q, "Cannot apply store event %" PRIi64 " (%s %s): %m", a[i]->id,
                                                  stitch_store_event_kind_to_string(a[i]->kind) ?: "unknown",
                                                  a[i]->subject);
                        else
                                applied++;
                }
                stitch_store_event_array_free(a, n);
                if (n < FOLLOW_BATCH)
                        break;
        }
        if (ret_n)
                *ret_n = applied;
        return r < 0 ? r : 0;
}
