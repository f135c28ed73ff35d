/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One method call in flight and how handlers answer it. */

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "macro.h"
#include "daemon/manager.h"

#define STITCH_ERROR_INVALID_CREDENTIALS "io.stitch.Error.InvalidCredentials"
#define STITCH_ERROR_IDENTITY_IN_USE "io.stitch.Error.IdentityInUse"
#define STITCH_ERROR_USER_DISABLED "io.stitch.Error.UserDisabled"
#define STITCH_ERROR_SESSION_INVALID "io.stitch.Error.SessionInvalid"
#define STITCH_ERROR_PERMISSION_DENIED "io.stitch.Error.PermissionDenied"
#define STITCH_ERROR_INVALID_PARAMETER "io.stitch.Error.InvalidParameter"
#define STITCH_ERROR_TOO_MANY_ATTEMPTS "io.stitch.Error.TooManyAttempts"
#define STITCH_ERROR_NOT_FOUND "io.stitch.Error.NotFound"
#define STITCH_ERROR_BUSY "io.stitch.Error.Busy"
/* The right password of a registered user who has not confirmed their email address yet. */
#define STITCH_ERROR_CONFIRMATION_REQUIRED "io.stitch.Error.ConfirmationRequired"
#define STITCH_ERROR_INTERNAL "io.stitch.Error.Internal"
#define VARLINK_ERROR_METHOD_NOT_FOUND "org.varlink.service.MethodNotFound"

struct stitch_call;

/* What the front end that received a call does for it. */
struct stitch_call_ops {
        /* A deferred call has its reply (c->reply, never NULL): send it and
         * free the call. Event loop only. */
        void (*complete)(struct stitch_call *c);
        /* Sends one reply of several now (the call was made with "more");
         * takes the message over. Event loop only. */
        int (*send_continues)(struct stitch_call *c, cJSON *message);
};

/* Token.Verify's caches of users and of verified replies (token.c); the
 * server owns them, the event loop alone uses them. */
struct stitch_token_caches {
        struct stitch_cache *users, *verified;
};
int stitch_token_caches_new(struct stitch_token_caches *ret);
void stitch_token_caches_done(struct stitch_token_caches *c);
/* Drops every entry (an idle daemon keeps none). */
void stitch_token_caches_clear(struct stitch_token_caches *c);

struct stitch_call {
        struct stitch_manager *manager;
        struct stitch_token_caches *token_caches; /* the server's */
        const char *method;
        cJSON *root;   /* the whole call; wiped and freed with the call */
        cJSON *params; /* inside root */
        struct ucred cred;
        const struct stitch_listener *listener; /* the socket it came on */
        bool oneway;
        bool more; /* the caller asked for several replies ("more": true) */
        cJSON *reply; /* set by the handler through the helpers below */
        /* The front end's: the reply already encoded off the loop (wiped
         * and freed with the call); NULL: reply is encoded when sent. */
        char *encoded;
        size_t encoded_len, encoded_sent; /* sent: by the thread that encoded it */
        const struct stitch_call_ops *ops; /* of the front end it came from */
        void *frontend;                    /* the front end's, opaque (its connection) */
        /* The connection's number: a login it begins may be continued on it
         * alone, and ends when it closes (struct stitch_login.owner). */
        uint64_t conversation_owner;
        /* Set by Login when its reply asks: the connection now waits for a
         * person, in this share of the conversations. */
        bool asked;
        uint64_t asked_share;
        uint64_t asked_lifetime_usec; /* how long the conversation asked lives (0: the default) */
        bool deferred;    /* the handler keeps the call and completes it later */
        /* Set by a slow handler: runs on the event loop thread after the worker
         * is done and before the reply is sent; frees after_data. */
        void (*after)(struct stitch_call *c, void *after_data);
        void *after_data;
};

/* Event loop only: a handler that cannot answer yet calls stitch_call_defer()
 * and returns 0; the caller waits (on the varlink socket its later calls
 * queue behind) until stitch_call_complete() hands c->reply to the front end
 * (c->ops->complete), which sends it and frees the call. */
void stitch_call_defer(struct stitch_call *c);
void stitch_call_complete(struct stitch_call *c);

/* Reply with these parameters (taken over; NULL = {}). Returns 0. */
int stitch_call_reply(struct stitch_call *c, cJSON *params);
/* For a call made with "more" and answered on the event loop: sends a reply
 * with "continues": true at once (params taken over); the last one is
 * stitch_call_reply(). -EINVAL if the call did not ask for more. */
int stitch_call_reply_continues(struct stitch_call *c, cJSON *params);
/* Reply with an error; message is printf-style. Returns 0. */
int stitch_call_error(struct stitch_call *c, const char *error, const char *format, ...) _printf_(3, 4);
/* InvalidParameter naming the parameter. Returns 0. */
int stitch_call_invalid_parameter(struct stitch_call *c, const char *parameter, const char *format, ...)
        _printf_(3, 4);
/* Maps a -errno from the store or elsewhere to a reply (NotFound, Busy, Internal). Returns 0. */
int stitch_call_errno(struct stitch_call *c, int error, const char *what);

/* Looks up the session a call names. Answers SessionInvalid itself and
 * returns < 0 for an unknown id and for another uid's session alike (root
 * may use any). */
int stitch_call_find_session(struct stitch_call *c, const char *session_id, struct stitch_session **ret);
/* The same, and the session's user in the same read (without identities;
 * *ret_user NULL if the user is gone). */
int stitch_call_find_session_with_user(struct stitch_call *c, const char *session_id, struct stitch_session **ret,
                                       struct stitch_user **ret_user);

/* Answers TooManyAttempts with retry_after (seconds). Returns 0. */
int stitch_call_too_many_attempts(struct stitch_call *c, uint64_t retry_after_usec);

/* Decodes parameters by table, answering InvalidParameter itself on failure.
 * Returns 0 when decoded, -EINVAL when an error reply was set. */
int stitch_call_decode(struct stitch_call *c, const void *table, size_t n_table, void *dest);

typedef int (*stitch_method_handler)(struct stitch_call *c);

enum {
        STITCH_METHOD_SLOW = 1 << 1,  /* runs on a worker thread */
        /* Runs on a worker only when RotateRefreshTokens=yes (it then writes durably);
         * otherwise it only reads and signs, cheaper inline than two thread hops. */
        STITCH_METHOD_SLOW_WHEN_ROTATING = 1 << 2,
        /* Short CPU-bound work and reads only (a signature): inline for a
         * lone caller, on the CPU pool (daemon/cpu-pool.h) while other calls
         * wait, so that many callers use every CPU. Its handler must be
         * safe on any thread. */
        STITCH_METHOD_CPU = 1 << 3,
        /* Runs on a worker when the store is remote (store.h: its reads are
         * network round trips); otherwise as its other flags say. */
        STITCH_METHOD_SLOW_ON_REMOTE_STORE = 1 << 4,
};

struct stitch_method {
        const char *name;
        stitch_method_handler handler;
        unsigned flags;
        /* STITCH_METHOD_SLOW only, optional: true if this call needs no
         * worker after all, because it neither hashes nor writes durably
         * (a Login round that only asks); it then runs on the loop. Sees
         * the call as it came (c->params unchecked); when in doubt, false. */
        bool (*runs_inline)(const struct stitch_call *c);
        /* STITCH_METHOD_SLOW only, optional: true if this call runs a
         * provider that does network I/O; it then runs on the manager's
         * network pool, not on the workers. Sees the call as it came. */
        bool (*on_network)(const struct stitch_call *c);
};

/* An interface, described once (methods.c, userdb.c): its name, its
 * methods (full names, "io.stitch.Auth.Login"), the errors it answers. */
struct stitch_interface {
        const char *name;
        const struct stitch_method *methods;
        size_t n_methods;
        const char *const *errors; /* NULL-terminated */
};

/* A listening socket and what it serves. The server binds the configured
 * path (or takes the socket systemd passed under FileDescriptorName=name). */
struct stitch_listener {
        const char *name; /* FileDescriptorName= and logs */
        /* The socket's path from the config; NULL: this listener is off. */
        const char *(*path)(const struct stitch_config *c);
        mode_t mode;            /* of a socket we bind */
        mode_t directory_mode;  /* of its directory, if we make it */
        bool create_parents;    /* make the directory's missing parents too (0755) */
        /* Output a client may leave unread before it is cut off; 0:
         * STITCH_MAX_OUTPUT. Larger where one call answers with many replies. */
        size_t max_output;
        /* Root and AdminGroup= only (the socket is group-owned by it), and
         * not counted against MaxConnectionsPerUser. */
        bool admin;
        /* Token.Verify's cached replies are answered before parsing. */
        bool verify_fast;
        const struct stitch_interface *const *interfaces;
        size_t n_interfaces;
};

/* io.systemd.UserDatabase (userdb.c): stitch users as Unix accounts. */
extern const struct stitch_listener stitch_listener_userdb;

/* The listeners stitchd serves, in the order they are set up. */
extern const struct stitch_listener *const stitch_listeners[];
extern const size_t stitch_n_listeners;

/* The method of that name among the listener's interfaces, or NULL. */
const struct stitch_method *stitch_listener_find_method(const struct stitch_listener *l, const char *name);

/* Handlers (auth.c, token.c, admin.c). */
int stitch_method_login(struct stitch_call *c);
/* A Login round with no secret in it (no password, key or answers, no
 * conversation continued) of a provider that needs credentials: it can
 * only ask or fail, with no hash, rate-limit attempt or durable write. */
bool stitch_method_login_runs_inline(const struct stitch_call *c);
bool stitch_method_login_on_network(const struct stitch_call *c);
bool stitch_method_admin_user_link_on_network(const struct stitch_call *c);
int stitch_method_authorize(struct stitch_call *c);
int stitch_method_open_session(struct stitch_call *c);
int stitch_method_close_session(struct stitch_call *c);
int stitch_method_change_password(struct stitch_call *c);
int stitch_method_token_get(struct stitch_call *c);
int stitch_method_token_refresh(struct stitch_call *c);
int stitch_method_token_verify(struct stitch_call *c);
int stitch_method_token_logout(struct stitch_call *c);
int stitch_method_token_jwks(struct stitch_call *c);
/* Event loop only. If msg is exactly a Token.Verify call as our clients
 * encode it and its token was verified recently and nothing it depends on has
 * changed (time window, revocation, keys, users), returns 1 with the encoded
 * reply (valid until the next call into token.c); otherwise 0 and the call
 * takes the full path. */
int stitch_verify_fast(struct stitch_token_caches *caches, struct stitch_manager *m, const char *msg, size_t len,
                       const char **ret_reply, size_t *ret_reply_len);
int stitch_method_admin_status(struct stitch_call *c);
int stitch_method_admin_user_create(struct stitch_call *c);
int stitch_method_admin_user_list(struct stitch_call *c);
int stitch_method_admin_user_get(struct stitch_call *c);
int stitch_method_admin_user_disable(struct stitch_call *c);
int stitch_method_admin_user_enable(struct stitch_call *c);
int stitch_method_admin_user_delete(struct stitch_call *c);
int stitch_method_admin_user_revoke(struct stitch_call *c);
int stitch_method_admin_user_unlock(struct stitch_call *c);
int stitch_method_admin_user_link(struct stitch_call *c);
int stitch_method_admin_user_unlink(struct stitch_call *c);
int stitch_method_admin_user_set_password(struct stitch_call *c);
int stitch_method_admin_user_update(struct stitch_call *c);
int stitch_method_admin_user_register(struct stitch_call *c);
int stitch_method_admin_user_confirm(struct stitch_call *c);
int stitch_method_admin_user_send_confirmation(struct stitch_call *c);
int stitch_method_admin_user_send_reset(struct stitch_call *c);
int stitch_method_admin_apikey_create(struct stitch_call *c);
int stitch_method_admin_apikey_list(struct stitch_call *c);
int stitch_method_admin_apikey_enable(struct stitch_call *c);
int stitch_method_admin_apikey_disable(struct stitch_call *c);
int stitch_method_admin_apikey_delete(struct stitch_call *c);
int stitch_method_admin_session_list(struct stitch_call *c);
int stitch_method_admin_session_revoke(struct stitch_call *c);
int stitch_method_admin_key_rotate(struct stitch_call *c);
int stitch_method_admin_key_list(struct stitch_call *c);
int stitch_method_admin_key_jwks(struct stitch_call *c);
