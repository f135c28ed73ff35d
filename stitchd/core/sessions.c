/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/tokens.h"
#include "log.h"
#include "core/events.h"
#include "core/sessions.h"
#include "clock.h"
#include "core/ids.h"
#include "core/sha256.h"
#include "core/unix-users.h"
#include "validate.h"
#include "wire.h"

static char *user_data_json(const struct stitch_user *u) {
        cJSON *d = cJSON_CreateObject();
        if (!d)
                return NULL;
        if (u->email)
                cJSON_AddStringToObject(d, "email", u->email);
        if (u->name)
                cJSON_AddStringToObject(d, "name", u->name);
        if (u->unix_name)
                cJSON_AddStringToObject(d, "unix_name", u->unix_name);
        char *s = cJSON_PrintUnformatted(d);
        cJSON_Delete(d);
        return s;
}

int stitch_access_token_issue(struct stitch_core *core, const struct stitch_user *u, const char *session_id,
                              const char *device_id, int64_t now, char **ret_token, int64_t *ret_expires) {
        struct stitch_claims c = {0};
        int r;

        memcpy(c.sub, u->id, sizeof(c.sub));
        memcpy(c.sid, session_id, sizeof(c.sid));
        memcpy(c.device_id, device_id, sizeof(c.device_id));
        memcpy(c.domain_id, core->domain_id, sizeof(c.domain_id));
        memcpy(c.typ, "access", sizeof("access"));
        c.iat = c.nbf = now;
        c.exp = now + (int64_t) (core->config.access_token_lifetime_usec / USEC_PER_SEC);
        c.user_data_json = user_data_json(u);
        if (!c.user_data_json)
                return -ENOMEM;
        r = stitch_jwt_sign(core->keyring, &c, ret_token);
        if (r >= 0)
                *ret_expires = c.exp;
        free(c.user_data_json);
        return r;
}

/* At most MaxPerUser live sessions per user, whatever made them (PAM, an
 * API key, stitchctl login): the store ends the oldest in the transaction
 * that creates the new one, so one caller cannot pile up 60-day sessions
 * without bound, and a login past the limit is still one durable write.
 * The limit it gets: 0 (nothing to end) when the login read counted room. */
static unsigned session_room_limit(const struct stitch_core *core, const struct stitch_user *u) {
        /* (Concurrent logins of one user can each find room.) */
        if (u->login_read && u->login_live_sessions < core->config.max_sessions_per_user)
                return 0;
        return core->config.max_sessions_per_user;
}

/* After the commit: the sessions the new one displaced leave memory too
 * (the revocation set, refreshers). They were ended in the store first:
 * a crash in between loses nothing, as the set is rebuilt from the store. */
static void ended_for_room(struct stitch_core *core, const struct stitch_user *u, char **ended) {
        for (char **id = ended; id && *id; id++)
                log_notice("User %s reached MaxPerUser=%u live sessions: a new login ended the oldest, %s.", u->id,
                           core->config.max_sessions_per_user, *id);
        stitch_sessions_ended_in_memory(core, ended, STITCH_END_LIMIT);
}

int stitch_session_start(struct stitch_core *core, const struct stitch_user *u, const char *provider_type,
                         const char *apikey_id, const struct stitch_login *l, struct stitch_login_tokens *ret) {
        struct stitch_session s = {0};
        _cleanup_erase_ char *refresh = NULL;
        _cleanup_erase_ char *access = NULL;
        _cleanup_erase_ char *binding = NULL;
        int64_t now = stitch_now(), expires;
        uid_t uid;
        int r;

        r = stitch_session_id_new(s.id);
        if (r < 0)
                return r;
        /* An app keeps its device id across logins (the SDKs send it back). */
        if (l->device_id && stitch_objectid_valid(l->device_id) && !streq(l->device_id, STITCH_DEVICE_NONE))
                memcpy(s.device_id, l->device_id, sizeof(s.device_id));
        else if ((r = stitch_objectid_new(s.device_id)) < 0)
                return r;
        memcpy(s.user_id, u->id, sizeof(s.user_id));
        if (!isempty(apikey_id)) {
                if (!stitch_objectid_valid(apikey_id))
                        return -EINVAL;
                memcpy(s.apikey_id, apikey_id, sizeof(s.apikey_id));
        }
        r = stitch_secret_new(STITCH_REFRESH_PREFIX, &refresh);
        if (r < 0)
                return r;
        r = stitch_sha256(refresh, strlen(refresh), s.refresh_hash);
        if (r < 0)
                return r;
        r = stitch_secret_new(STITCH_BINDING_PREFIX, &binding);
        if (r < 0)
                return r;
        r = stitch_sha256(binding, strlen(binding), s.binding_hash);
        if (r < 0)
                return r;
        s.has_binding = true;
        r = stitch_access_token_issue(core, u, s.id, s.device_id, now, &access, &expires);
        if (r < 0)
                return r;

        s.provider_type = (char *) provider_type;
        s.service = (char *) l->service;
        s.rhost = (char *) l->rhost;
        s.tty = (char *) l->tty;
        s.creation_date = s.last_used = now;
        s.created_usec = (int64_t) stitch_now_usec(CLOCK_REALTIME);
        s.refresh_expires = now + (int64_t) (core->config.refresh_token_lifetime_usec / USEC_PER_SEC);
        s.access_expires = expires;
        s.uid = !l->app && stitch_lookup_uid(l->user, &uid) >= 0 ? (int64_t) uid : -1;

        char **ended = NULL;
        r = core->store_ops->session_create(core->store, &s, session_room_limit(core, u), &ended);
        if (r < 0)
                return r;
        ended_for_room(core, u, ended);
        stitch_strv_free(ended);
        stitch_events_login_recorded(&core->events); /* session_create recorded the login time */

        *ret = (struct stitch_login_tokens) {
                .access_token = TAKE_PTR(access),
                .refresh_token = TAKE_PTR(refresh),
                .binding = TAKE_PTR(binding),
                .provider_type = provider_type,
                .expires = expires,
        };
        memcpy(ret->user_id, u->id, sizeof(ret->user_id));
        memcpy(ret->session_id, s.id, sizeof(ret->session_id));
        memcpy(ret->device_id, s.device_id, sizeof(ret->device_id));
        return 0;
}

void stitch_login_tokens_done(struct stitch_login_tokens *t) {
        if (t->access_token)
                erase_and_free(t->access_token);
        if (t->refresh_token)
                erase_and_free(t->refresh_token);
        if (t->binding)
                erase_and_free(t->binding);
        *t = (struct stitch_login_tokens) {0};
}

/* ---- ending sessions: memory first (fail closed), then the store --------- */

/* No token of a session ending now outlives this: the later of its access
 * token's expiry and a token signed this very moment. */
static int64_t token_bound(struct stitch_core *core, int64_t access_expires) {
        int64_t now = stitch_now();
        int64_t bound = now + (int64_t) (core->config.access_token_lifetime_usec / USEC_PER_SEC);
        return MAX(MAX(access_expires, now), bound);
}

static void ended_in_memory(struct stitch_core *core, const char *session_id, int64_t access_expires,
                            enum stitch_end_reason reason) {
        stitch_events_session_ended(&core->events, session_id, token_bound(core, access_expires), reason);
}

void stitch_sessions_end_user_in_memory(struct stitch_core *core, struct stitch_store *store, const char *user_id,
                                        enum stitch_end_reason reason) {
        struct stitch_session **list = NULL;
        size_t n = 0;
        if (core->store_ops->session_list(store ?: core->store, user_id, false, stitch_now(), &list, &n) < 0)
                return; /* the store call that follows fails the same way, and is reported */
        for (size_t i = 0; i < n; i++)
                ended_in_memory(core, list[i]->id, list[i]->access_expires, reason);
        stitch_session_array_free(list, n);
}

void stitch_sessions_ended_in_memory(struct stitch_core *core, char *const *ids, enum stitch_end_reason reason) {
        for (; ids && *ids; ids++)
                ended_in_memory(core, *ids, 0, reason);
}

void stitch_sessions_end_apikey_in_memory(struct stitch_core *core, const char *user_id, const char *key_id,
                                          const char *provider_type, enum stitch_end_reason reason) {
        struct stitch_session **list = NULL;
        size_t n = 0;
        if (core->store_ops->session_list(core->store, user_id, false, stitch_now(), &list, &n) < 0)
                return; /* the store call that follows fails the same way, and is reported */
        for (size_t i = 0; i < n; i++)
                if (streq(list[i]->apikey_id, key_id) ||
                    (isempty(list[i]->apikey_id) && streq_ptr(list[i]->provider_type, provider_type)))
                        ended_in_memory(core, list[i]->id, list[i]->access_expires, reason);
        stitch_session_array_free(list, n);
}

int stitch_sessions_end_in_store(struct stitch_core *core, enum stitch_end_reason reason,
                                 stitch_sessions_store_change change, const void *userdata, char ***ret_revoked) {
        struct stitch_store *tx = NULL;
        char **revoked = NULL;
        int r;

        r = core->store_ops->begin(core->store, &tx);
        if (r < 0)
                return r;
        r = change(core, tx, userdata, &revoked);
        if (r >= 0)
                r = core->store_ops->commit(tx);
        else
                core->store_ops->rollback(tx);
        if (r < 0) {
                stitch_strv_free(revoked);
                return r;
        }
        stitch_sessions_ended_in_memory(core, revoked, reason);
        size_t n = stitch_strv_length(revoked);
        if (ret_revoked)
                *ret_revoked = revoked;
        else
                stitch_strv_free(revoked);
        return (int) MIN(n, (size_t) INT_MAX);
}

int stitch_sessions_ended_none(char ***ret_revoked) {
        if (ret_revoked) {
                *ret_revoked = stitch_strv_new_empty();
                if (!*ret_revoked)
                        return -ENOMEM;
        }
        return 0;
}

int stitch_session_mark_open(struct stitch_core *core, const struct stitch_session *s, int64_t leader_pid) {
        return core->store_ops->session_set_open(core->store, s->id, true, leader_pid, s->uid);
}

void stitch_session_end_in_memory(struct stitch_core *core, const struct stitch_session *s,
                                  enum stitch_end_reason reason) {
        ended_in_memory(core, s->id, s->access_expires, reason);
}

int stitch_session_end(struct stitch_core *core, const struct stitch_session *s, enum stitch_end_reason reason) {
        const char *why = stitch_end_reason_to_string(reason);
        assert(why);
        ended_in_memory(core, s->id, s->access_expires, reason);
        int r = core->store_ops->session_revoke(core->store, s->id, stitch_now(), why);
        if (r < 0)
                return r;
        if (r > 0)
                log_info("Session %s of user %s ended (%s).", s->id, s->user_id, why);
        return 0;
}

int stitch_sessions_end_user(struct stitch_core *core, const char *user_id, const char *except,
                             enum stitch_end_reason reason, size_t *ret_n) {
        struct stitch_session **list = NULL;
        size_t n = 0, ended = 0;
        int r = core->store_ops->session_list(core->store, user_id, false, stitch_now(), &list, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (!streq_ptr(list[i]->id, except) && stitch_session_end(core, list[i], reason) >= 0)
                        ended++;
        stitch_session_array_free(list, n);
        *ret_n = ended;
        return 0;
}

int stitch_user_revoke_sessions(struct stitch_core *core, const char *user_id, char ***ret_revoked) {
        char **revoked = NULL;
        stitch_sessions_end_user_in_memory(core, NULL, user_id, STITCH_END_REVOKE);
        int r = core->store_ops->session_revoke_user(core->store, user_id, stitch_now(),
                                                  stitch_end_reason_to_string(STITCH_END_REVOKE), &revoked);
        if (r < 0)
                return r;
        stitch_sessions_ended_in_memory(core, revoked, STITCH_END_REVOKE);
        *ret_revoked = revoked;
        return 0;
}

