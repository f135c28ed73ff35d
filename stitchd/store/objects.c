/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Freeing helpers for the store's objects. Everything that holds secret or
 * secret-derived material (signing keys, key and refresh-token hashes) is
 * wiped before it goes back to the allocator. */

#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "store/store.h"

void stitch_identity_done(struct stitch_identity *i) {
        if (!i)
                return;
        free(i->provider_type);
        free(i->provider_id);
        free(i->data_json);
        *i = (struct stitch_identity) {};
}

struct stitch_user *stitch_user_free(struct stitch_user *u) {
        if (!u)
                return NULL;
        for (size_t i = 0; i < u->n_identities; i++)
                stitch_identity_done(u->identities + i);
        free(u->identities);
        free(u->type);
        free(u->email);
        free(u->name);
        free(u->unix_name);
        free(u->data_json);
        if (u->login_password_hash)
                erase_and_free(u->login_password_hash);
        free(u);
        return NULL;
}

struct stitch_apikey *stitch_apikey_free(struct stitch_apikey *k) {
        if (!k)
                return NULL;
        free(k->name);
        explicit_bzero(k, sizeof(*k));
        free(k);
        return NULL;
}

struct stitch_session *stitch_session_free(struct stitch_session *s) {
        if (!s)
                return NULL;
        free(s->provider_type);
        free(s->service);
        free(s->rhost);
        free(s->tty);
        free(s->revoked_reason);
        explicit_bzero(s, sizeof(*s));
        free(s);
        return NULL;
}

struct stitch_signing_key *stitch_signing_key_free(struct stitch_signing_key *k) {
        if (!k)
                return NULL;
        if (k->secret) {
                explicit_bzero(k->secret, k->secret_len);
                free(k->secret);
        }
        free(k->alg);
        explicit_bzero(k, sizeof(*k));
        free(k);
        return NULL;
}

void stitch_user_array_free(struct stitch_user **a, size_t n) {
        if (!a)
                return;
        for (size_t i = 0; i < n; i++)
                stitch_user_free(a[i]);
        free(a);
}

void stitch_apikey_array_free(struct stitch_apikey **a, size_t n) {
        if (!a)
                return;
        for (size_t i = 0; i < n; i++)
                stitch_apikey_free(a[i]);
        free(a);
}

void stitch_session_array_free(struct stitch_session **a, size_t n) {
        if (!a)
                return;
        for (size_t i = 0; i < n; i++)
                stitch_session_free(a[i]);
        free(a);
}

void stitch_signing_key_array_free(struct stitch_signing_key **a, size_t n) {
        if (!a)
                return;
        for (size_t i = 0; i < n; i++)
                stitch_signing_key_free(a[i]);
        free(a);
}

struct stitch_store_event *stitch_store_event_free(struct stitch_store_event *e) {
        if (!e)
                return NULL;
        free(e->data_json);
        free(e);
        return NULL;
}

void stitch_store_event_array_free(struct stitch_store_event **a, size_t n) {
        if (!a)
                return;
        for (size_t i = 0; i < n; i++)
                stitch_store_event_free(a[i]);
        free(a);
}

static const char *const store_event_kinds[_STITCH_STORE_EVENT_KIND_MAX] = {
        [STITCH_STORE_EVENT_SESSION_ENDED] = "session.ended",
        [STITCH_STORE_EVENT_USER_DISABLED] = "user.disabled",
        [STITCH_STORE_EVENT_USER_ENABLED] = "user.enabled",
        [STITCH_STORE_EVENT_USER_DELETED] = "user.deleted",
        [STITCH_STORE_EVENT_USER_UPDATED] = "user.updated",
        [STITCH_STORE_EVENT_USER_PASSWORD] = "user.password",
        [STITCH_STORE_EVENT_APIKEY_CREATED] = "apikey.created",
        [STITCH_STORE_EVENT_APIKEY_DISABLED] = "apikey.disabled",
        [STITCH_STORE_EVENT_APIKEY_ENABLED] = "apikey.enabled",
        [STITCH_STORE_EVENT_APIKEY_DELETED] = "apikey.deleted",
        [STITCH_STORE_EVENT_KEY_ROTATED] = "key.rotated",
};

const char *stitch_store_event_kind_to_string(enum stitch_store_event_kind k) {
        if (k < 0 || k >= _STITCH_STORE_EVENT_KIND_MAX)
                return NULL;
        return store_event_kinds[k];
}

enum stitch_store_event_kind stitch_store_event_kind_from_string(const char *s) {
        if (!s)
                return _STITCH_STORE_EVENT_KIND_INVALID;
        for (size_t i = 0; i < ELEMENTSOF(store_event_kinds); i++)
                if (streq(store_event_kinds[i], s))
                        return (enum stitch_store_event_kind) i;
        return _STITCH_STORE_EVENT_KIND_INVALID;
}
