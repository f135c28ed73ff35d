/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Logins waiting for the person's answers: what a provider asked, kept
 * between two Login calls. Each is named by a random id, belongs to the
 * caller uid that began it (SO_PEERCRED; nobody else may continue it), is
 * taken out when continued (an id works once), and expires. Bounded in all
 * and per caller uid. Any thread. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "providers/provider.h"

#define STITCH_CONVERSATION_ID_LEN 24
#define STITCH_CONVERSATIONS_MAX 1024
#define STITCH_CONVERSATIONS_PER_UID 32
#define STITCH_CONVERSATION_TIMEOUT_USEC (5 * 60 * USEC_PER_SEC)

struct stitch_conversation {
        char id[STITCH_CONVERSATION_ID_LEN + 1];
        uid_t uid;
        uint64_t expires_usec; /* CLOCK_MONOTONIC */
        const struct stitch_provider *provider;
        void *state; /* the provider's; freed with its state_free */
        char *user, *service, *rhost, *tty, *ruser;
        /* the answers asked for: a later round may name only these */
        size_t n_prompts;
        char prompts[STITCH_ASK_PROMPTS_MAX][STITCH_CREDENTIAL_NAME_MAX];
        bool authtok_is_not_password;
};

struct stitch_conversations;

int stitch_conversations_new(struct stitch_conversations **ret);
struct stitch_conversations *stitch_conversations_free(struct stitch_conversations *t);

/* Keeps c (taken over on success) under a new random id, written to c->id.
 * -EBUSY when the table or the uid's share is full of live conversations. */
int stitch_conversations_put(struct stitch_conversations *t, struct stitch_conversation *c, uint64_t now_usec);
/* Takes out the live conversation 'id' of caller uid. -ENOENT for an
 * unknown, expired or other uid's id alike. */
int stitch_conversations_take(struct stitch_conversations *t, const char *id, uid_t uid, uint64_t now_usec,
                              struct stitch_conversation **ret);
size_t stitch_conversations_count(struct stitch_conversations *t);

void stitch_conversation_free(struct stitch_conversation *c);
static inline void stitch_conversation_freep(struct stitch_conversation **c) {
        if (*c)
                stitch_conversation_free(*c);
}
