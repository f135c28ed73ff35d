/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/conversations.h"
#include "macro.h"
#include "core/util.h"

struct stitch_conversations {
        pthread_mutex_t lock;
        size_t n;
        struct stitch_conversation *items[STITCH_CONVERSATIONS_MAX];
};

int stitch_conversations_new(struct stitch_conversations **ret) {
        struct stitch_conversations *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        pthread_mutex_init(&t->lock, NULL);
        *ret = t;
        return 0;
}

void stitch_conversation_free(struct stitch_conversation *c) {
        if (!c)
                return;
        if (c->state && c->provider && c->provider->state_free)
                c->provider->state_free(c->state);
        free(c->user);
        free(c->service);
        free(c->rhost);
        free(c->tty);
        free(c->ruser);
        free(c);
}

struct stitch_conversations *stitch_conversations_free(struct stitch_conversations *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n; i++)
                stitch_conversation_free(t->items[i]);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return NULL;
}

static void remove_at(struct stitch_conversations *t, size_t i) {
        t->items[i] = t->items[--t->n];
        t->items[t->n] = NULL;
}

static void drop_expired(struct stitch_conversations *t, uint64_t now) {
        for (size_t i = 0; i < t->n;)
                if (t->items[i]->expires_usec <= now) {
                        stitch_conversation_free(t->items[i]);
                        remove_at(t, i);
                } else
                        i++;
}

int stitch_conversations_put(struct stitch_conversations *t, struct stitch_conversation *c, uint64_t now) {
        size_t mine = 0;
        int r;

        r = stitch_session_id_new(c->id); /* 24 of [A-Za-z0-9]: 142 random bits */
        if (r < 0)
                return r;
        pthread_mutex_lock(&t->lock);
        drop_expired(t, now);
        for (size_t i = 0; i < t->n; i++)
                if (t->items[i]->uid == c->uid)
                        mine++;
        if (t->n >= STITCH_CONVERSATIONS_MAX || mine >= STITCH_CONVERSATIONS_PER_UID)
                r = -EBUSY;
        else
                t->items[t->n++] = c;
        pthread_mutex_unlock(&t->lock);
        return r;
}

int stitch_conversations_take(struct stitch_conversations *t, const char *id, uid_t uid, uint64_t now,
                              struct stitch_conversation **ret) {
        int r = -ENOENT;

        if (!id || strlen(id) != STITCH_CONVERSATION_ID_LEN)
                return -ENOENT;
        pthread_mutex_lock(&t->lock);
        drop_expired(t, now);
        for (size_t i = 0; i < t->n; i++) {
                struct stitch_conversation *c = t->items[i];
                if (CRYPTO_memcmp(c->id, id, STITCH_CONVERSATION_ID_LEN) != 0)
                        continue;
                if (c->uid == uid) { /* another uid's id stays, unusable to this one */
                        remove_at(t, i);
                        *ret = c;
                        r = 0;
                }
                break;
        }
        pthread_mutex_unlock(&t->lock);
        return r;
}

size_t stitch_conversations_count(struct stitch_conversations *t) {
        pthread_mutex_lock(&t->lock);
        size_t n = t->n;
        pthread_mutex_unlock(&t->lock);
        return n;
}
