/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Sessions and their tokens: creating one at login, signing access tokens,
 * refreshing, ending. Runs on worker threads. */

#include <stdbool.h>

#include "core/end-reason.h"
#include "core/core.h"
#include "providers/provider.h"

/* What a login gets. */
struct stitch_login_tokens {
        char user_id[STITCH_ID_LEN + 1];
        char session_id[STITCH_ID_LEN + 1];
        char device_id[STITCH_ID_LEN + 1];
        char *access_token, *refresh_token, *binding; /* secrets: wiped when done */
        const char *provider_type;                    /* static */
        int64_t expires;                              /* access token, epoch s */
};
void stitch_login_tokens_done(struct stitch_login_tokens *t);

/* Creates a durable session for u and its first tokens. provider_type is
 * static; apikey_id: the API key that authenticated (its deletion ends the
 * session), or NULL/"". */
int stitch_session_start(struct stitch_core *core, const struct stitch_user *u, const char *provider_type,
                         const char *apikey_id, const struct stitch_login *l, struct stitch_login_tokens *ret);

/* OpenSession: the session now has a login process (leader_pid) that the
 * refresher keeps fresh; durable (the refresher resumes it after a
 * restart). Closing is ending (stitch_session_end). */
int stitch_session_mark_open(struct stitch_core *core, const struct stitch_session *s, int64_t leader_pid);

/* Signs an access token for (u, session). */
int stitch_access_token_issue(struct stitch_core *core, const struct stitch_user *u, const char *session_id,
                              const char *device_id, int64_t now, char **ret_token, int64_t *ret_expires);

/* ---- ending sessions ------------------------------------------------------
 * The only writers of "a session ended": each puts the session into memory
 * first (STITCH_EVENT_SESSION_ENDED: the revocation set, then the
 * refresher), so no token verifies while the store catches up, then makes
 * it durable. Any thread. */

/* Ends one session. */
int stitch_session_end(struct stitch_core *core, const struct stitch_session *s, enum stitch_end_reason reason);
/* Its memory half alone, for a caller that has the durable half done later
 * (on a worker) by stitch_session_end(). */
void stitch_session_end_in_memory(struct stitch_core *core, const struct stitch_session *s,
                                  enum stitch_end_reason reason);

/* Ends every live session of a user but 'except' (a session id, or NULL);
 * *ret_n = how many ended. */
int stitch_sessions_end_user(struct stitch_core *core, const char *user_id, const char *except,
                             enum stitch_end_reason reason, size_t *ret_n);

/* Ends every live session of a user; *ret_revoked: the ids the store
 * ended (strv). */
int stitch_user_revoke_sessions(struct stitch_core *core, const char *user_id, char ***ret_revoked);

/* The memory half of ending a user's sessions, for changes that end them
 * inside a larger store transaction (core/users.c): every live session of
 * user_id, before the store write (a token must not verify in between),
 * and then the ids the store ended (a session created between the listing
 * and the write is covered there). 'store' is what to list them from: the
 * open transaction's handle inside one, NULL for core->store. */
void stitch_sessions_end_user_in_memory(struct stitch_core *core, struct stitch_store *store, const char *user_id,
                                        enum stitch_end_reason reason);
void stitch_sessions_ended_in_memory(struct stitch_core *core, char *const *ids, enum stitch_end_reason reason);
/* The same for the sessions an API key opened (core/apikeys.c): those of
 * user_id that name key_id, and those that name no key but are of
 * provider_type (from before sessions recorded their key). */
void stitch_sessions_end_apikey_in_memory(struct stitch_core *core, const char *user_id, const char *key_id,
                                          const char *provider_type, enum stitch_end_reason reason);

/* The store half of such a change, after its memory half: one store
 * transaction in which 'change' ends the sessions (their ids into
 * *ret_revoked, a strv) and changes what they belonged to (a user, a key);
 * committed if change succeeds, else rolled back. Then the sessions the
 * store ended leave memory too. Returns how many ended; *ret_revoked
 * (optional): their ids. */
typedef int (*stitch_sessions_store_change)(struct stitch_core *core, struct stitch_store *tx, const void *userdata,
                                           char ***ret_revoked);
int stitch_sessions_end_in_store(struct stitch_core *core, enum stitch_end_reason reason,
                                 stitch_sessions_store_change change, const void *userdata, char ***ret_revoked);
/* For such a change that ends no session (enabling): *ret_revoked
 * (optional) an empty strv. */
int stitch_sessions_ended_none(char ***ret_revoked);
