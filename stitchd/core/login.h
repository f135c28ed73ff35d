/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The login pipeline, whatever front end a login came from: service policy,
 * who may log in as whom, the provider's conversation, rate limits, the
 * session and its tokens. Takes and returns plain structs; front ends turn
 * them into their wire form. Runs on a worker thread (it may hash). */

#include <stdbool.h>
#include <stdint.h>

#include "core/conversations.h"
#include "core/core.h"
#include "providers/provider.h"
#include "core/sessions.h"

struct stitch_login_request {
        const char *provider;     /* NULL or "auto": picked by the credentials */
        const char *conversation; /* continues the login that asked (its id) */
        /* Only find the user the credentials name (identity linking): no
         * session; the outcome is STITCH_LOGIN_IDENTIFIED. */
        bool identify_only;
        /* user and service are required unless a conversation is continued
         * (then they may be repeated, and must be the same) */
        struct stitch_login login;
};

enum stitch_login_outcome {
        STITCH_LOGIN_SESSION, /* tokens */
        STITCH_LOGIN_ASK,     /* conversation, ask */
        STITCH_LOGIN_FAILED,  /* failure, message (and parameter, retry_after_usec, error) */
        STITCH_LOGIN_IDENTIFIED, /* user, provider (identify_only) */
        /* conversation, ask (messages only, to show once), poll_interval_usec,
         * expires_in_usec: nothing to ask; continue the conversation with no
         * answers after the interval, until it expires. Only for interactive
         * callers: others get INVALID_PARAMETER "interactive". */
        STITCH_LOGIN_PENDING,
        /* user (its id and name only): the password matched what this host
         * kept of the user's last online login (core/offline.h) while the
         * store is unreachable. No session, no tokens. PAM logins only. */
        STITCH_LOGIN_OFFLINE,
};

enum stitch_login_failure {
        STITCH_LOGIN_INVALID_CREDENTIALS, /* unknown user, wrong secret, disabled: one answer */
        STITCH_LOGIN_PERMISSION_DENIED,   /* service, provider, caller uid */
        STITCH_LOGIN_INVALID_PARAMETER,   /* names 'parameter' */
        STITCH_LOGIN_CONVERSATION_GONE,   /* unknown, expired, used or another uid's conversation */
        STITCH_LOGIN_TOO_MANY_ATTEMPTS,   /* retry_after_usec */
        STITCH_LOGIN_BUSY,                /* too many logins in progress */
        /* The right credentials of a user who has not confirmed their email
         * address yet (a registration): only after the password verified,
         * so a wrong one answers INVALID_CREDENTIALS as always. Wire error
         * io.stitch.Error.ConfirmationRequired; HTTP 401 "confirmation required". */
        STITCH_LOGIN_CONFIRMATION_REQUIRED,
        STITCH_LOGIN_INTERNAL,            /* error: -errno */
};

struct stitch_login_result {
        enum stitch_login_outcome outcome;
        enum stitch_login_failure failure;
        int error;
        char message[256];
        char parameter[STITCH_CREDENTIAL_NAME_MAX];
        uint64_t retry_after_usec;

        char conversation[STITCH_CONVERSATION_ID_LEN + 1];
        uint64_t share; /* ASK, PENDING: the conversation's share (stitch_conversations_share()) */
        struct stitch_ask ask;
        uint64_t poll_interval_usec; /* PENDING: wait this long before the next round */
        uint64_t expires_in_usec;    /* ASK, PENDING: the conversation ends this long from now */

        struct stitch_login_tokens tokens;

        struct stitch_user *user;               /* IDENTIFIED, OFFLINE */
        const struct stitch_provider *provider; /* IDENTIFIED, SESSION */

        /* Whatever the outcome: an authtok answer was not a password. */
        bool authtok_is_not_password;
};

/* Always fills *ret (release it with stitch_login_result_done()); returns
 * 0, or -ENOMEM when not even a failure could be described. */
int stitch_login_run(struct stitch_core *core, const struct stitch_login_request *req,
                     struct stitch_login_result *ret);
void stitch_login_result_done(struct stitch_login_result *r);

/* Root may act for anyone; others only for the Unix account with their uid. */
bool stitch_caller_may_act_for(uid_t caller, const char *unix_name);
