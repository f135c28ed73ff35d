/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Logins waiting for the person's answers: what a provider asked, kept
 * between two Login calls. Each is named by a random id, belongs to the
 * caller uid that began it (SO_PEERCRED; nobody else may continue it) and to
 * the front end's connection it was asked on (its owner: only that
 * connection may continue it, and it ends when that connection closes), is
 * taken out when continued (an id works once), and expires.
 *
 * Bounded in all and per share, and never by refusing a new login: a full
 * share gives up its oldest waiting conversation, a full table the oldest of
 * its largest share. A share is what separates callers: a non-root uid is one
 * share; root's callers (sshd, su, sudo, login all reach stitchd as uid 0)
 * are told apart by service, remote user and remote host, so people who open
 * logins and never answer push out only their own. Any thread. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "providers/provider.h"

#define STITCH_CONVERSATION_ID_LEN 24
#define STITCH_CONVERSATIONS_MAX 1024
#define STITCH_CONVERSATIONS_PER_SHARE 32
/* How long a question waits by default (a provider may ask for longer,
 * up to STITCH_CONVERSATION_LIFETIME_MAX_USEC: providers/provider.h). */
#define STITCH_CONVERSATION_TIMEOUT_USEC STITCH_CONVERSATION_LIFETIME_DEFAULT_USEC

struct stitch_conversation {
        char id[STITCH_CONVERSATION_ID_LEN + 1];
        uid_t uid;
        uint64_t owner;        /* the front end's connection (0: none; then any caller of uid) */
        uint64_t share;        /* stitch_conversations_share() */
        uint64_t created_usec; /* CLOCK_MONOTONIC; set by put */
        uint64_t expires_usec; /* CLOCK_MONOTONIC */
        uint64_t started_usec; /* CLOCK_MONOTONIC: the login's first round (bounds a chain of pending rounds) */
        /* Pending (providers/provider.h): nothing was asked; the next round
         * brings no answers, and not before poll_after_usec. */
        bool pending;
        uint64_t poll_after_usec;     /* CLOCK_MONOTONIC */
        uint64_t poll_interval_usec;
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

/* The share a login of caller uid belongs to (keyed: callers cannot choose
 * names that fall into someone else's share). service, ruser, rhost may be
 * NULL; they count only for uid 0. */
uint64_t stitch_conversations_share(struct stitch_conversations *t, uid_t uid, const char *service,
                                    const char *ruser, const char *rhost);
/* Keeps c (taken over on success) under a new random id, written to c->id.
 * c->share must be set. Makes room if it must (see above); returns how many
 * waiting conversations it ended for that (0 or 1), or -errno. */
int stitch_conversations_put(struct stitch_conversations *t, struct stitch_conversation *c, uint64_t now_usec);
/* Takes out the live conversation 'id' of caller uid asked on connection
 * owner. -ENOENT for an unknown, expired, other uid's or other connection's
 * id alike. */
int stitch_conversations_take(struct stitch_conversations *t, const char *id, uid_t uid, uint64_t owner,
                              uint64_t now_usec, struct stitch_conversation **ret);
/* Ends every conversation asked on connection owner (it closed). Returns
 * how many. */
size_t stitch_conversations_drop_owner(struct stitch_conversations *t, uint64_t owner);
size_t stitch_conversations_count(struct stitch_conversations *t);
/* The provider of the live conversation 'id', whoever it belongs to, or
 * NULL: for routing a round to the right threads before it runs (the
 * round itself checks its caller). */
const struct stitch_provider *stitch_conversations_provider(struct stitch_conversations *t, const char *id);

void stitch_conversation_free(struct stitch_conversation *c);
static inline void stitch_conversation_freep(struct stitch_conversation **c) {
        if (*c)
                stitch_conversation_free(*c);
}
