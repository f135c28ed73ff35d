/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pam_stitch.so: the PAM hooks. Each hook parses its arguments, converses
 * if it must, makes at most one call to stitchd and maps the answer to a PAM
 * code (the hooks of one transaction share one connection, see call.c).
 * Only a positive answer from the daemon is ever a success; everything
 * else (no daemon, a silent one, garbage, an error we do not know) fails. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "client.h"
#include "log.h"
#include "macro.h"
#include "pam_stitch.h"
#include "qr-text.h"
#include "wire.h"

/* What authenticate leaves for the later hooks of the same transaction. */
struct session_data {
        char *user;          /* PAM_USER the session was created for */
        char *session_id;
        char *binding;       /* secret: proves to the daemon this session came from our Login */
        char *user_id;
        char *refresh_token; /* secret */
        bool closed; /* close_session ended it; setcred still knows it was ours */
};

static void session_data_free(struct session_data *d) {
        if (!d)
                return;
        erase_and_free(d->user);
        erase_and_free(d->session_id);
        erase_and_free(d->binding);
        erase_and_free(d->user_id);
        erase_and_free(d->refresh_token);
        explicit_bzero(d, sizeof(*d));
        free(d);
}

static void session_data_cleanup(pam_handle_t *pamh, void *data, int error_status) {
        /* Memory only: the daemon session ends with close_session (or expires).
         * Ending it here would break applications that open the session in a
         * child process and call pam_end() in the parent. */
        session_data_free(data);
}

/* The library's own messages (lib/client.c) must not land on the stderr of
 * sshd or sudo: send them to syslog, like pam_syslog does. */
static void syslog_sink(int priority, int error, const char *file, int line, const char *func,
                        const char *message) {
        syslog(LOG_AUTHPRIV | (priority & LOG_PRIMASK), "pam_stitch: %s", message);
}

__attribute__((constructor)) static void pam_stitch_init(void) {
        stitch_log_set_sink(syslog_sink);
}

static const char *get_item_string(pam_handle_t *pamh, int type) {
        const void *item = NULL;

        if (pam_get_item(pamh, type, &item) != PAM_SUCCESS)
                return NULL;
        return item;
}

/* Items the daemon only records: left out when it would refuse them. */
static const char *recordable(const char *s) {
        if (isempty(s) || strlen(s) > PAM_STITCH_ITEM_MAX || !stitch_utf8_is_valid(s, strlen(s)))
                return NULL;
        return s;
}

/* For log lines: user names can come from the network. */
static const char *printable(const char *s, char *buf, size_t size) {
        pam_stitch_sanitize_text(s ? s : "", buf, size);
        return buf;
}

static int begin(pam_handle_t *pamh, int flags, int argc, const char **argv, struct pam_stitch_args *ret) {
        if (pam_stitch_args_parse(pamh, flags, argc, argv, ret) < 0)
                return PAM_SERVICE_ERR;
        return PAM_SUCCESS;
}

static int get_user(pam_handle_t *pamh, const char **ret) {
        const char *user = NULL;
        int r;

        r = pam_get_user(pamh, &user, NULL);
        if (r == PAM_CONV_AGAIN)
                return PAM_INCOMPLETE;
        if (r != PAM_SUCCESS)
                return r;
        if (!user)
                return PAM_USER_UNKNOWN;
        *ret = user;
        return PAM_SUCCESS;
}

static bool user_is_sendable(const char *user) {
        size_t n = strlen(user);

        return n > 0 && n <= PAM_STITCH_USER_MAX && stitch_utf8_is_valid(user, n);
}

static struct session_data *get_session_data(pam_handle_t *pamh) {
        const void *data = NULL;

        if (pam_get_data(pamh, PAM_STITCH_DATA_SESSION, &data) != PAM_SUCCESS)
                return NULL;
        return (struct session_data *) data;
}

/* The stitch session of this transaction. */
struct found_session {
        const char *id;
        const char *binding; /* secret */
        const char *user;    /* the Unix account it was authenticated for */
        struct session_data *data; /* NULL: found in the PAM environment */
};

/* From authenticate's data, or, when an earlier hook ran in another process
 * (OpenSSH runs keyboard-interactive authentication in a child and hands
 * the PAM environment back), from STITCH_SESSION and
 * STITCH_SESSION_BINDING in the PAM environment. Returns false if there is
 * none.
 *
 * The environment is not ours alone: pam_env with user_readenv lets the
 * user who logs in write it. So a session found there is only a claim: the
 * daemon acts on it only with its binding (a secret only the Login caller
 * got) and only if it belongs to PAM_USER.
 *
 * PAM_USER may have changed since authentication: sudo sets it to the
 * target user before it opens the session. The session still belongs to
 * the stitch user who authenticated, and is still the one to register and
 * to end, so the session hooks name that user (from the data); the account
 * hook compares. */
static bool find_session(pam_handle_t *pamh, const struct pam_stitch_args *args, struct found_session *ret) {
        struct session_data *d = get_session_data(pamh);
        const char *id, *binding;

        *ret = (struct found_session) {};

        if (d && d->session_id && d->binding) {
                *ret = (struct found_session) {d->session_id, d->binding, d->user, d};
                return true;
        }

        id = pam_getenv(pamh, PAM_STITCH_ENV_SESSION);
        if (!id)
                return false;
        binding = pam_getenv(pamh, PAM_STITCH_ENV_BINDING);
        if (!pam_stitch_session_id_is_valid(id) || !pam_stitch_session_id_is_valid(binding)) {
                pam_syslog(pamh, LOG_NOTICE, "Ignoring %s in the PAM environment: malformed, or without its binding.",
                           PAM_STITCH_ENV_SESSION);
                return false;
        }
        if (args->debug)
                pam_syslog(pamh, LOG_DEBUG, "Using stitch session %s from the PAM environment.", id);
        *ret = (struct found_session) {id, binding, get_item_string(pamh, PAM_USER), NULL};
        return true;
}

/* Keeps the session for the later hooks of this transaction (in this
 * process). user_id and refresh_token may be NULL. */
static int remember_session(pam_handle_t *pamh, const char *user, const char *session_id, const char *binding,
                            const char *user_id, const char *refresh_token) {
        struct session_data *d;
        int r;

        d = calloc(1, sizeof(*d));
        if (!d)
                return PAM_BUF_ERR;
        d->user = strdup(user ? user : "");
        d->session_id = strdup(session_id);
        d->binding = strdup(binding);
        d->user_id = user_id ? strdup(user_id) : NULL;
        d->refresh_token = refresh_token ? strdup(refresh_token) : NULL;
        if (!d->user || !d->session_id || !d->binding || (user_id && !d->user_id) ||
            (refresh_token && !d->refresh_token)) {
                session_data_free(d);
                return PAM_BUF_ERR;
        }

        r = pam_set_data(pamh, PAM_STITCH_DATA_SESSION, d, session_data_cleanup);
        if (r != PAM_SUCCESS) {
                session_data_free(d);
                return r;
        }
        return PAM_SUCCESS;
}

static int export_env(pam_handle_t *pamh, const char *name, const char *value) {
        char env[64 + PAM_STITCH_SESSION_ID_MAX + 1];
        int n, r;

        n = snprintf(env, sizeof(env), "%s=%s", name, value);
        if (n < 0 || (size_t) n >= sizeof(env))
                return PAM_BUF_ERR;
        r = pam_putenv(pamh, env);
        explicit_bzero(env, sizeof(env)); /* the binding is a secret */
        return r;
}

static int export_session_id(pam_handle_t *pamh, const char *id) {
        return export_env(pamh, PAM_STITCH_ENV_SESSION, id);
}

static void show_too_many_attempts(pam_handle_t *pamh, const struct pam_stitch_args *args,
                                   const struct pam_stitch_reply *reply) {
        const cJSON *retry = cJSON_GetObjectItemCaseSensitive(reply->parameters, "retry_after");

        if (cJSON_IsNumber(retry) && retry->valuedouble >= 1 && retry->valuedouble < 1e9)
                pam_stitch_error_msg(pamh, args, "Too many failed attempts; try again in %.0f seconds.",
                                     retry->valuedouble);
        else
                pam_stitch_error_msg(pamh, args, "Too many failed attempts; try again later.");
}

/* ---- auth ---------------------------------------------------------------- */

/* One prompt's answer: PAM_AUTHTOK from an earlier module for the user's
 * password (use_first_pass / try_first_pass), or asked for now. On success
 * *ret points either into PAM (not to be freed) or to *ret_prompted, which
 * the caller wipes and frees. */
static int get_answer(pam_handle_t *pamh, const struct pam_stitch_args *args, const char *text, bool echo,
                      bool authtok, const char **ret, char **ret_prompted) {
        char *answer = NULL;
        int r;

        if (authtok && (args->use_first_pass || args->try_first_pass)) {
                const char *item = get_item_string(pamh, PAM_AUTHTOK);

                if (!isempty(item)) {
                        *ret = item;
                        *ret_prompted = NULL;
                        return PAM_SUCCESS;
                }
                if (args->use_first_pass) {
                        if (args->debug)
                                pam_syslog(pamh, LOG_DEBUG, "use_first_pass: no password from an earlier module.");
                        return PAM_AUTH_ERR;
                }
        }

        r = pam_stitch_prompt(pamh, echo, text, &answer);
        if (r != PAM_SUCCESS)
                return r;

        *ret = answer;
        *ret_prompted = answer;
        return PAM_SUCCESS;
}

/* An empty answer is one only to a prompt that echoes ("Press Enter once
 * you have approved"); a secret is never empty. */
static bool answer_is_sendable(const char *s, bool echo) {
        size_t n = strlen(s);
        return (n > 0 || echo) && n <= PAM_STITCH_ANSWER_MAX;
}

/* A message flagged "qr" is a URL (a device login's verification page):
 * drawn as a QR code a phone's camera opens, unless noqr. Its text is
 * also in a message of its own, so nothing is lost without it. */
static void show_qr(pam_handle_t *pamh, const struct pam_stitch_args *args, const char *url) {
        _cleanup_free_ char *qr = NULL;

        if (args->noqr)
                return;
        /* Only a URL's characters: nothing the terminal could interpret. */
        for (const char *c = url; *c; c++)
                if ((unsigned char) *c <= 0x20 || (unsigned char) *c >= 0x7f)
                        return;
        if (stitch_qr_text(url, &qr, NULL) < 0) {
                pam_syslog(pamh, LOG_WARNING, "Cannot draw a QR code of the verification URL.");
                return;
        }
        pam_stitch_info_msg(pamh, args, "%s", qr);
}

/* The messages of a Login reply that asks or is pending, shown as they come
 * (the daemon sends each once). */
static void show_messages(pam_handle_t *pamh, const struct pam_stitch_args *args, const cJSON *messages) {
        const cJSON *item;
        char text[PAM_STITCH_ITEM_MAX * 2];

        cJSON_ArrayForEach(item, messages) {
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(item, "text");
                if (!cJSON_IsString(t))
                        continue;
                if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "qr"))) {
                        show_qr(pamh, args, t->valuestring);
                        continue;
                }
                pam_stitch_sanitize_text(t->valuestring, text, sizeof(text));
                if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "error")))
                        pam_stitch_error_msg(pamh, args, "%s", text);
                else
                        pam_stitch_info_msg(pamh, args, "%s", text);
        }
}

/* The daemon asked: show its messages, ask its prompts, and build the next
 * round's parameters. The module knows no provider; what to ask and how
 * (echo, whether it is the password stacked modules share) is the daemon's.
 * *ret_authtok gets a copy of a prompted password (to hand on). */
static int converse_round(pam_handle_t *pamh, const struct pam_stitch_args *args, const char *user,
                          const struct pam_stitch_reply *reply, cJSON **ret_params, char **ret_authtok) {
        const cJSON *prompts = cJSON_GetObjectItemCaseSensitive(reply->parameters, "prompts");
        const cJSON *messages = cJSON_GetObjectItemCaseSensitive(reply->parameters, "messages");
        const char *conversation = pam_stitch_reply_string(reply, "conversation");
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = NULL;
        cJSON *answers;
        const cJSON *item;
        char text[PAM_STITCH_ITEM_MAX * 2], ubuf[64];
        int r;

        if (!pam_stitch_session_id_is_valid(conversation) || !cJSON_IsArray(prompts) ||
            cJSON_GetArraySize(prompts) > 8 || (messages && (!cJSON_IsArray(messages) || cJSON_GetArraySize(messages) > 8))) {
                pam_syslog(pamh, LOG_ERR, "stitchd asked in a malformed io.stitch.Auth.Login reply.");
                return PAM_AUTHINFO_UNAVAIL;
        }

        show_messages(pamh, args, messages);

        params = cJSON_CreateObject();
        answers = cJSON_CreateObject();
        if (!params || !answers || !cJSON_AddItemToObject(params, "answers", answers)) {
                cJSON_Delete(answers);
                return PAM_BUF_ERR;
        }
        if (pam_stitch_json_add_string(params, "conversation", conversation) < 0)
                return PAM_BUF_ERR;

        cJSON_ArrayForEach(item, prompts) {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(item, "text");
                bool echo = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "echo"));
                bool authtok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "authtok"));
                _cleanup_erase_ char *prompted = NULL;
                const char *value = NULL;

                if (!cJSON_IsString(id) || !pam_stitch_session_id_is_valid(id->valuestring) || !cJSON_IsString(t)) {
                        pam_syslog(pamh, LOG_ERR, "stitchd asked in a malformed io.stitch.Auth.Login reply.");
                        return PAM_AUTHINFO_UNAVAIL;
                }
                pam_stitch_sanitize_text(t->valuestring, text, sizeof(text));
                r = get_answer(pamh, args, text, echo, authtok, &value, &prompted);
                if (r != PAM_SUCCESS)
                        return r;
                /* Checked only now, after the prompt: the person typing learns nothing. */
                if (!answer_is_sendable(value, echo && !authtok)) {
                        pam_syslog(pamh, LOG_NOTICE,
                                   "Authentication failure for user \"%s\" (answer empty or too long).",
                                   printable(user, ubuf, sizeof(ubuf)));
                        return PAM_AUTH_ERR;
                }
                if (pam_stitch_json_add_string(answers, id->valuestring, value) < 0)
                        return PAM_BUF_ERR;
                if (prompted && authtok && !*ret_authtok)
                        *ret_authtok = TAKE_PTR(prompted);
        }

        *ret_params = TAKE_PTR(params);
        return PAM_SUCCESS;
}

/* A Login reply that asks for more (rather than a session or an error). */
static bool reply_asks(const struct pam_stitch_reply *reply) {
        return reply->error == PAM_STITCH_ERROR_NONE && pam_stitch_reply_string(reply, "conversation") &&
               !pam_stitch_reply_string(reply, "session_id");
}

/* Of those, one that asks nothing yet: "pending", poll again later (a
 * device grant: the person approves on another device). */
static const cJSON *reply_pending(const struct pam_stitch_reply *reply) {
        return cJSON_GetObjectItemCaseSensitive(reply->parameters, "pending");
}

static uint64_t monotonic_usec(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* The daemon has nothing to ask yet: show its messages (the verification
 * URL and code), sleep the interval on the daemon's socket (a daemon that
 * closes it ends the wait at once), and build the next round: the same
 * conversation, no answers. *deadline (CLOCK_MONOTONIC, 0 at first) is the
 * earliest expiry any pending reply gave; the daemon cannot push it later. */
static int pending_round(pam_handle_t *pamh, const struct pam_stitch_args *args, const char *user,
                         struct stitch_client *conn, const struct pam_stitch_reply *reply, uint64_t *deadline,
                         cJSON **ret_params) {
        const cJSON *pending = reply_pending(reply);
        const cJSON *interval = cJSON_GetObjectItemCaseSensitive(pending, "interval_ms");
        const cJSON *expires = cJSON_GetObjectItemCaseSensitive(pending, "expires_in_ms");
        const cJSON *prompts = cJSON_GetObjectItemCaseSensitive(reply->parameters, "prompts");
        const cJSON *messages = cJSON_GetObjectItemCaseSensitive(reply->parameters, "messages");
        const char *conversation = pam_stitch_reply_string(reply, "conversation");
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = NULL;
        char ubuf[64];

        if (!cJSON_IsObject(pending) || !pam_stitch_session_id_is_valid(conversation) || !cJSON_IsNumber(interval) ||
            !(interval->valuedouble >= 0 && interval->valuedouble <= PAM_STITCH_PENDING_INTERVAL_MAX_MS) ||
            !cJSON_IsNumber(expires) || !(expires->valuedouble >= 0 && expires->valuedouble <= 1e12) ||
            (prompts && (!cJSON_IsArray(prompts) || cJSON_GetArraySize(prompts) != 0)) ||
            (messages && (!cJSON_IsArray(messages) || cJSON_GetArraySize(messages) > 8))) {
                pam_syslog(pamh, LOG_ERR, "stitchd answered pending in a malformed io.stitch.Auth.Login reply.");
                return PAM_AUTHINFO_UNAVAIL;
        }
        show_messages(pamh, args, messages);

        uint64_t now = monotonic_usec();
        uint64_t expires_usec = (uint64_t) MIN(expires->valuedouble, (double) PAM_STITCH_PENDING_MAX_SEC * 1000) * 1000;
        if (*deadline == 0 || now + expires_usec < *deadline)
                *deadline = now + expires_usec;
        uint64_t wait_usec = (uint64_t) MAX(interval->valuedouble, (double) PAM_STITCH_PENDING_INTERVAL_MIN_MS) * 1000;
        if (now + wait_usec >= *deadline) {
                pam_syslog(pamh, LOG_NOTICE, "Authentication for user \"%s\" was not completed in time.",
                           printable(user, ubuf, sizeof(ubuf)));
                pam_stitch_error_msg(pamh, args, "The login was not completed in time.");
                return PAM_AUTH_ERR;
        }
        if (args->debug)
                pam_syslog(pamh, LOG_DEBUG, "Login pending; asking again in %llu ms.",
                           (unsigned long long) (wait_usec / 1000));
        int r = stitch_client_wait_quiet(conn, (int) (wait_usec / 1000));
        if (r < 0) {
                pam_syslog(pamh, LOG_ERR, "stitchd closed the connection while a login was pending.");
                return PAM_AUTHINFO_UNAVAIL;
        }

        params = cJSON_CreateObject();
        if (!params || pam_stitch_json_add_string(params, "conversation", conversation) < 0)
                return PAM_BUF_ERR;
        *ret_params = TAKE_PTR(params);
        return PAM_SUCCESS;
}

static int login_reply_to_pam(pam_handle_t *pamh, const struct pam_stitch_args *args, const char *user,
                              const struct pam_stitch_reply *reply) {
        char ubuf[64];

        switch (reply->error) {
        case PAM_STITCH_ERROR_NONE:
                return PAM_SUCCESS;
        case PAM_STITCH_ERROR_INVALID_CREDENTIALS:
        case PAM_STITCH_ERROR_USER_DISABLED:
        case PAM_STITCH_ERROR_NOT_FOUND:
        case PAM_STITCH_ERROR_SESSION_INVALID:
                /* Unknown user, wrong secret, disabled: one answer for all. */
                pam_syslog(pamh, LOG_NOTICE, "Authentication failure for user \"%s\".",
                           printable(user, ubuf, sizeof(ubuf)));
                return PAM_AUTH_ERR;
        case PAM_STITCH_ERROR_PERMISSION_DENIED:
                /* Service or provider not allowed. PAM_PERM_DENIED is not a
                 * return value of pam_authenticate(). */
                pam_stitch_log_reply_error(pamh, LOG_NOTICE, "io.stitch.Auth.Login", reply);
                return PAM_AUTH_ERR;
        case PAM_STITCH_ERROR_INVALID_PARAMETER:
                pam_stitch_log_reply_error(pamh, LOG_ERR, "io.stitch.Auth.Login", reply);
                /* provider= names a provider the daemon does not have: a
                 * configuration error, as a malformed argument is. */
                if (streq_ptr(pam_stitch_reply_string(reply, "parameter"), "provider"))
                        return PAM_SERVICE_ERR;
                return PAM_AUTH_ERR;
        case PAM_STITCH_ERROR_TOO_MANY_ATTEMPTS:
                pam_syslog(pamh, LOG_NOTICE, "Too many failed attempts for user \"%s\".",
                           printable(user, ubuf, sizeof(ubuf)));
                show_too_many_attempts(pamh, args, reply);
                return PAM_MAXTRIES;
        case PAM_STITCH_ERROR_CONFIRMATION_REQUIRED:
                /* Only said after the right password: it tells a guesser nothing. */
                pam_syslog(pamh, LOG_NOTICE, "User \"%s\" has not confirmed their email address yet.",
                           printable(user, ubuf, sizeof(ubuf)));
                pam_stitch_error_msg(pamh, args, "Confirm your email address first.");
                return PAM_AUTH_ERR;
        case PAM_STITCH_ERROR_BUSY:
        case PAM_STITCH_ERROR_INTERNAL:
        case PAM_STITCH_ERROR_OTHER:
        default:
                pam_stitch_log_reply_error(pamh, LOG_ERR, "io.stitch.Auth.Login", reply);
                return PAM_AUTHINFO_UNAVAIL;
        }
}

static int keep_session(pam_handle_t *pamh, const struct pam_stitch_args *args, const char *user,
                        const struct pam_stitch_reply *reply) {
        const char *session_id = pam_stitch_reply_string(reply, "session_id");
        const char *refresh_token = pam_stitch_reply_string(reply, "refresh_token");
        const char *user_id = pam_stitch_reply_string(reply, "user_id");
        const char *binding = pam_stitch_reply_string(reply, "binding");
        int r;

        if (!pam_stitch_session_id_is_valid(session_id) || !pam_stitch_session_id_is_valid(binding) ||
            isempty(refresh_token) || isempty(user_id)) {
                pam_syslog(pamh, LOG_ERR, "stitchd answered io.stitch.Auth.Login without a valid session.");
                return PAM_AUTHINFO_UNAVAIL;
        }

        r = remember_session(pamh, user, session_id, binding, user_id, refresh_token);
        if (r != PAM_SUCCESS)
                return r;

        /* Also in the PAM environment, for hooks that run in another process. */
        r = export_session_id(pamh, session_id);
        if (r != PAM_SUCCESS)
                return r;
        r = export_env(pamh, PAM_STITCH_ENV_BINDING, binding);
        if (r != PAM_SUCCESS)
                return r;

        if (args->debug)
                pam_syslog(pamh, LOG_DEBUG, "stitch session %s for user id %s.", session_id, user_id);
        return PAM_SUCCESS;
}

_public_ int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        /* One connection for every round: what the daemon asked ends when it
         * closes, at return or when this process dies at the prompt. It is
         * the transaction's (kept for the next hooks) once the daemon has
         * answered for good. */
        _cleanup_(stitch_client_freep) struct stitch_client *conn = NULL;
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = NULL;
        _cleanup_(pam_stitch_reply_done) struct pam_stitch_reply reply = {};
        _cleanup_erase_ char *authtok = NULL;
        struct pam_stitch_args args;
        const char *user = NULL, *service;
        char ubuf[64];
        int r;

        r = begin(pamh, flags, argc, argv, &args);
        if (r != PAM_SUCCESS)
                return r;

        r = get_user(pamh, &user);
        if (r != PAM_SUCCESS)
                return r;

        if (!user_is_sendable(user)) {
                /* Ask anyway, so the person typing learns nothing. */
                _cleanup_erase_ char *ignored = NULL;
                r = pam_stitch_prompt_secret(pamh, "Password: ", &ignored);
                if (r != PAM_SUCCESS)
                        return r;
                pam_syslog(pamh, LOG_NOTICE,
                           "Authentication failure for user \"%s\" (user name empty, too long or not UTF-8).",
                           printable(user, ubuf, sizeof(ubuf)));
                return PAM_AUTH_ERR;
        }

        service = get_item_string(pamh, PAM_SERVICE);

        params = cJSON_CreateObject();
        if (!params ||
            pam_stitch_json_add_string(params, "user", user) < 0 ||
            pam_stitch_json_add_string(params, "service", service) < 0 ||
            pam_stitch_json_add_string(params, "provider", args.provider) < 0 ||
            pam_stitch_json_add_string(params, "rhost", recordable(get_item_string(pamh, PAM_RHOST))) < 0 ||
            pam_stitch_json_add_string(params, "tty", recordable(get_item_string(pamh, PAM_TTY))) < 0 ||
            pam_stitch_json_add_string(params, "ruser", recordable(get_item_string(pamh, PAM_RUSER))) < 0 ||
            !cJSON_AddBoolToObject(params, "interactive", true))
                return PAM_BUF_ERR;

        if (args.debug)
                pam_syslog(pamh, LOG_DEBUG, "Authenticating user \"%s\" with provider %s.",
                           printable(user, ubuf, sizeof(ubuf)), args.provider ? args.provider : "auto");

        /* The daemon drives: each reply is a session, an error, prompts to
         * answer in the next round, or pending: poll again after a while.
         * Rounds of prompts are capped; pending polls are bounded by the
         * expiry the daemon gave instead. */
        uint64_t pending_deadline = 0;
        unsigned asked = 0;
        for (unsigned round = 0;; round++) {
                r = round == 0 ? pam_stitch_call_first(pamh, &args, &conn, "io.stitch.Auth.Login", params, &reply)
                               : pam_stitch_call_on(pamh, &args, &conn, "io.stitch.Auth.Login", params, &reply);
                stitch_json_wipe_and_delete(TAKE_PTR(params)); /* secrets go now, not at return */
                if (r < 0)
                        return PAM_AUTHINFO_UNAVAIL;
                if (!reply_asks(&reply))
                        break;
                if (reply_pending(&reply))
                        r = pending_round(pamh, &args, user, conn, &reply, &pending_deadline, &params);
                else if (++asked >= PAM_STITCH_MAX_ROUNDS) {
                        pam_syslog(pamh, LOG_ERR, "stitchd asked more than %u rounds of questions.",
                                   PAM_STITCH_MAX_ROUNDS);
                        return PAM_AUTHINFO_UNAVAIL;
                } else
                        r = converse_round(pamh, &args, user, &reply, &params, &authtok);
                pam_stitch_reply_done(&reply);
                if (r != PAM_SUCCESS)
                        return r;
        }

        /* No question open on it: the later hooks may use it. */
        pam_stitch_connection_keep(pamh, &args, TAKE_PTR(conn));

        /* Stacked modules may try the same password (try_first_pass), unless
         * the daemon says what was typed was no password (an API key). */
        if (authtok && !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(reply.parameters, "authtok"))) {
                r = pam_set_item(pamh, PAM_AUTHTOK, authtok);
                if (r != PAM_SUCCESS)
                        return r;
        }

        r = login_reply_to_pam(pamh, &args, user, &reply);
        if (r != PAM_SUCCESS)
                return r;

        /* The daemon could not reach its store and checked the password
         * against what it kept of this user's last login here: a login
         * without a stitch session (nothing to open, refresh or close). */
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply.parameters, "offline"))) {
                const char *message = pam_stitch_reply_string(&reply, "message");
                pam_syslog(pamh, LOG_NOTICE, "User \"%s\" logged in offline: stitchd cannot reach its store.",
                           printable(user, ubuf, sizeof(ubuf)));
                pam_stitch_info_msg(pamh, &args, "%s",
                                    !isempty(message) ? message : "Logged in offline, without a stitch session.");
                return PAM_SUCCESS;
        }
        return keep_session(pamh, &args, user, &reply);
}

/* ---- setcred ------------------------------------------------------------- */

static int refresh_credentials(pam_handle_t *pamh, const struct pam_stitch_args *args, struct session_data *d) {
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = NULL;
        _cleanup_(pam_stitch_reply_done) struct pam_stitch_reply reply = {};
        const char *token;
        int r;

        params = cJSON_CreateObject();
        if (!params || pam_stitch_json_add_string(params, "refresh_token", d->refresh_token) < 0)
                return PAM_BUF_ERR;

        r = pam_stitch_call(pamh, args, "io.stitch.Token.Refresh", params, true, &reply);
        if (r < 0)
                return PAM_CRED_ERR;
        if (reply.error != PAM_STITCH_ERROR_NONE) {
                pam_stitch_log_reply_error(pamh, LOG_NOTICE, "io.stitch.Token.Refresh", &reply);
                return PAM_CRED_ERR;
        }
        if (isempty(pam_stitch_reply_string(&reply, "access_token"))) {
                pam_syslog(pamh, LOG_ERR, "stitchd answered io.stitch.Token.Refresh without an access token.");
                return PAM_CRED_ERR;
        }

        /* With RotateRefreshTokens=yes the old token is dead now. */
        token = pam_stitch_reply_string(&reply, "refresh_token");
        if (!isempty(token)) {
                char *copy = strdup(token);
                if (!copy)
                        return PAM_BUF_ERR;
                erase_and_free(d->refresh_token);
                d->refresh_token = copy;
        }
        return PAM_SUCCESS;
}

_public_ int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        struct pam_stitch_args args;
        struct found_session f;
        bool found;
        int r;

        r = begin(pamh, flags, argc, argv, &args);
        if (r != PAM_SUCCESS)
                return r;

        found = find_session(pamh, &args, &f);

        if ((flags & ~PAM_SILENT) == PAM_REFRESH_CRED) {
                /* Extend the credential: renew the access token, which also
                 * proves the session is still alive. */
                if (!f.data || !f.data->refresh_token)
                        return PAM_IGNORE;
                return refresh_credentials(pamh, &args, f.data);
        }

        /* PAM_ESTABLISH_CRED, PAM_REINITIALIZE_CRED, PAM_DELETE_CRED: the
         * daemon session is the credential; it is registered and ended by
         * the session hooks and kept fresh by the daemon, so there is
         * nothing to do here. sshd calls PAM_REINITIALIZE_CRED in every
         * session's child process: it must not fail a stitch login. */
        if (!found) {
                /* In sshd's session child the binding has already left the
                 * environment; the id is enough to say "this is a stitch
                 * login" (nothing is asked of the daemon here). */
                found = pam_stitch_session_id_is_valid(pam_getenv(pamh, PAM_STITCH_ENV_SESSION));
        }
        return found ? PAM_SUCCESS : PAM_IGNORE;
}

/* ---- account ------------------------------------------------------------- */

_public_ int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = NULL;
        _cleanup_(pam_stitch_reply_done) struct pam_stitch_reply reply = {};
        struct pam_stitch_args args;
        struct found_session f;
        const char *user = NULL;
        const cJSON *allowed;
        char ubuf[64], ubuf2[64];
        int r;

        r = begin(pamh, flags, argc, argv, &args);
        if (r != PAM_SUCCESS)
                return r;

        r = get_user(pamh, &user);
        if (r != PAM_SUCCESS)
                return r;
        if (!user_is_sendable(user))
                return PAM_USER_UNKNOWN;

        if (find_session(pamh, &args, &f) && f.data && !streq(f.data->user, user)) {
                /* Another user than the one stitch authenticated: judge the
                 * account on its own, not by someone else's session. */
                pam_syslog(pamh, LOG_NOTICE, "PAM_USER is \"%s\", stitch authenticated \"%s\"; not using that session.",
                           printable(user, ubuf, sizeof(ubuf)), printable(f.data->user, ubuf2, sizeof(ubuf2)));
                f = (struct found_session) {};
        }

        params = cJSON_CreateObject();
        if (!params ||
            pam_stitch_json_add_string(params, "user", user) < 0 ||
            pam_stitch_json_add_string(params, "service", get_item_string(pamh, PAM_SERVICE)) < 0 ||
            pam_stitch_json_add_string(params, "session_id", f.id) < 0 ||
            pam_stitch_json_add_string(params, "binding", f.binding) < 0)
                return PAM_BUF_ERR;

        r = pam_stitch_call(pamh, &args, "io.stitch.Auth.Authorize", params, true, &reply);
        if (r < 0)
                /* offline=deny: refuse the accounts stitch is known to manage. */
                return pam_stitch_account_offline(pamh, &args, user);

        /* Allowed, UserDisabled and NotFound are authoritative: they go to
         * the account cache for the next time the daemon cannot answer. */
        switch (reply.error) {
        case PAM_STITCH_ERROR_NONE:
                allowed = cJSON_GetObjectItemCaseSensitive(reply.parameters, "allowed");
                if (cJSON_IsTrue(allowed)) {
                        pam_stitch_cache_record(pamh, &args, user, PAM_STITCH_ACCOUNT_MANAGED);
                        return PAM_SUCCESS;
                }
                pam_syslog(pamh, LOG_ERR, "stitchd answered io.stitch.Auth.Authorize without \"allowed\": true.");
                return PAM_PERM_DENIED;
        case PAM_STITCH_ERROR_NOT_FOUND:
                if (args.debug)
                        pam_syslog(pamh, LOG_DEBUG, "\"%s\" is not a stitch user.", printable(user, ubuf, sizeof(ubuf)));
                pam_stitch_cache_record(pamh, &args, user, PAM_STITCH_ACCOUNT_UNKNOWN);
                return PAM_USER_UNKNOWN;
        case PAM_STITCH_ERROR_USER_DISABLED:
                pam_stitch_cache_record(pamh, &args, user, PAM_STITCH_ACCOUNT_DISABLED);
                pam_syslog(pamh, LOG_NOTICE, "stitch account of user \"%s\" is disabled.",
                           printable(user, ubuf, sizeof(ubuf)));
                pam_stitch_error_msg(pamh, &args, "Your stitch account is disabled.");
                return PAM_ACCT_EXPIRED;
        case PAM_STITCH_ERROR_PERMISSION_DENIED:
                pam_stitch_log_reply_error(pamh, LOG_NOTICE, "io.stitch.Auth.Authorize", &reply);
                pam_stitch_error_msg(pamh, &args, "Your stitch account may not log in through this service.");
                return PAM_PERM_DENIED;
        case PAM_STITCH_ERROR_CONFIRMATION_REQUIRED:
                /* Registered, not confirmed: no login, also not with an SSH key. */
                pam_stitch_log_reply_error(pamh, LOG_NOTICE, "io.stitch.Auth.Authorize", &reply);
                pam_stitch_error_msg(pamh, &args, "Confirm your email address first.");
                return PAM_PERM_DENIED;
        case PAM_STITCH_ERROR_SESSION_INVALID:
                /* Revoked (or logged out) between authentication and now. */
                pam_stitch_log_reply_error(pamh, LOG_NOTICE, "io.stitch.Auth.Authorize", &reply);
                pam_stitch_error_msg(pamh, &args, "Your stitch session has ended.");
                return PAM_PERM_DENIED;
        case PAM_STITCH_ERROR_INVALID_CREDENTIALS:
        case PAM_STITCH_ERROR_INVALID_PARAMETER:
        case PAM_STITCH_ERROR_TOO_MANY_ATTEMPTS:
                pam_stitch_log_reply_error(pamh, LOG_ERR, "io.stitch.Auth.Authorize", &reply);
                return PAM_PERM_DENIED;
        default:
                /* Busy, Internal, unknown errors: as good as no answer. */
                pam_stitch_log_reply_error(pamh, LOG_ERR, "io.stitch.Auth.Authorize", &reply);
                return pam_stitch_account_offline(pamh, &args, user);
        }
}

/* ---- session ------------------------------------------------------------- */

/* The parameters that name a session to the daemon: id, binding, and the
 * Unix account it must belong to. */
static int add_session_params(cJSON *params, const struct found_session *f) {
        if (pam_stitch_json_add_string(params, "session_id", f->id) < 0 ||
            pam_stitch_json_add_string(params, "binding", f->binding) < 0 ||
            pam_stitch_json_add_string(params, "user", f->user) < 0)
                return -ENOMEM;
        return 0;
}

_public_ int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = NULL;
        _cleanup_(pam_stitch_reply_done) struct pam_stitch_reply reply = {};
        struct pam_stitch_args args;
        _cleanup_free_ char *session_id = NULL, *user = NULL;
        _cleanup_erase_ char *binding = NULL;
        struct found_session f;
        char ubuf[64];
        int r;

        r = begin(pamh, flags, argc, argv, &args);
        if (r != PAM_SUCCESS)
                return r;

        if (!find_session(pamh, &args, &f)) {
                /* Another module authenticated this login: nothing to register. */
                if (args.debug)
                        pam_syslog(pamh, LOG_DEBUG, "No stitch session in this transaction.");
                return PAM_IGNORE;
        }
        if (!f.user || !user_is_sendable(f.user))
                return PAM_SESSION_ERR;
        /* pam_putenv() and pam_set_data() below may free the originals. */
        session_id = strdup(f.id);
        binding = strdup(f.binding);
        user = strdup(f.user);
        if (!session_id || !binding || !user)
                return PAM_BUF_ERR;
        f = (struct found_session) {session_id, binding, user, f.data};

        /* No pid: the daemon watches the caller, which it knows from
         * SO_PEERCRED (a pid we sent would only be a claim). */
        params = cJSON_CreateObject();
        if (!params || add_session_params(params, &f) < 0 ||
            pam_stitch_json_add_string(params, "tty", recordable(get_item_string(pamh, PAM_TTY))) < 0 ||
            pam_stitch_json_add_string(params, "service", get_item_string(pamh, PAM_SERVICE)) < 0)
                return PAM_BUF_ERR;

        /* The connection is not kept past here: the session may last for
         * hours, and an idle connection held that long by every open login
         * would count against the daemon's MaxConnectionsPerUser= for root
         * (sshd, sudo, login), where it is not evicted like a login waiting
         * at a prompt. close_session connects anew. */
        r = pam_stitch_call(pamh, &args, "io.stitch.Auth.OpenSession", params, false, &reply);
        if (r < 0)
                return PAM_SESSION_ERR;
        if (reply.error != PAM_STITCH_ERROR_NONE) {
                pam_stitch_log_reply_error(pamh, LOG_ERR, "io.stitch.Auth.OpenSession", &reply);
                if (reply.error == PAM_STITCH_ERROR_SESSION_INVALID)
                        pam_stitch_error_msg(pamh, &args, "Your stitch session has ended.");
                return PAM_SESSION_ERR;
        }

        r = export_session_id(pamh, session_id);
        if (r != PAM_SUCCESS)
                return r;
        /* Found in the environment (authenticated in another process): keep
         * it as data too, so close_session ends this session even if a later
         * module (pam_env with user_readenv) rewrites the environment. */
        if (!f.data) {
                r = remember_session(pamh, user, session_id, binding, NULL, NULL);
                if (r != PAM_SUCCESS)
                        return r;
        }
        /* The binding stays in our data only: the session's own
         * environment gets the id, never the secret. */
        (void) pam_putenv(pamh, PAM_STITCH_ENV_BINDING);

        pam_syslog(pamh, LOG_INFO, "stitch session %s opened for user \"%s\".", session_id,
                   printable(get_item_string(pamh, PAM_USER), ubuf, sizeof(ubuf)));
        return PAM_SUCCESS;
}

_public_ int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = NULL;
        _cleanup_(pam_stitch_reply_done) struct pam_stitch_reply reply = {};
        _cleanup_free_ char *session_id = NULL;
        struct pam_stitch_args args;
        struct found_session f;
        char ubuf[64];
        int r;

        r = begin(pamh, flags, argc, argv, &args);
        if (r != PAM_SUCCESS)
                return r;

        if (!find_session(pamh, &args, &f))
                return PAM_IGNORE;
        if (f.data && f.data->closed)
                return PAM_SUCCESS;
        if (!f.user || !user_is_sendable(f.user))
                return PAM_SESSION_ERR;

        params = cJSON_CreateObject();
        if (!params || add_session_params(params, &f) < 0)
                return PAM_BUF_ERR;
        /* pam_putenv below may free the environment's copy. */
        session_id = strdup(f.id);
        if (!session_id)
                return PAM_BUF_ERR;

        r = pam_stitch_call(pamh, &args, "io.stitch.Auth.CloseSession", params, true, &reply);
        if (r < 0)
                return PAM_SESSION_ERR;
        if (reply.error == PAM_STITCH_ERROR_SESSION_INVALID) {
                /* Already ended (revoked, or closed before): the goal is met. */
                if (args.debug)
                        pam_stitch_log_reply_error(pamh, LOG_DEBUG, "io.stitch.Auth.CloseSession", &reply);
        } else if (reply.error != PAM_STITCH_ERROR_NONE) {
                pam_stitch_log_reply_error(pamh, LOG_ERR, "io.stitch.Auth.CloseSession", &reply);
                return PAM_SESSION_ERR;
        }

        (void) pam_putenv(pamh, PAM_STITCH_ENV_SESSION);
        (void) pam_putenv(pamh, PAM_STITCH_ENV_BINDING);
        if (f.data) {
                f.data->closed = true;
                /* The refresh token is dead now; do not keep it around. */
                f.data->refresh_token = erase_and_free(f.data->refresh_token);
        }

        pam_syslog(pamh, LOG_INFO, "stitch session %s closed for user \"%s\".", session_id,
                   printable(get_item_string(pamh, PAM_USER), ubuf, sizeof(ubuf)));
        return PAM_SUCCESS;
}

/* ---- password ------------------------------------------------------------ */

/* The current password: PAM_OLDAUTHTOK from an earlier module (or from our
 * own PAM_PRELIM_CHECK), else asked for and stored there. */
static int get_old_password(pam_handle_t *pamh, const struct pam_stitch_args *args, bool prelim, const char **ret,
                            char **ret_prompted) {
        const char *item = get_item_string(pamh, PAM_OLDAUTHTOK);
        char *answer = NULL;
        int r;

        /* In the update phase the item is ours from the preliminary check. */
        if (!isempty(item) && (!prelim || args->use_first_pass || args->try_first_pass || args->use_authtok)) {
                *ret = item;
                *ret_prompted = NULL;
                return PAM_SUCCESS;
        }
        if (args->use_first_pass)
                return PAM_AUTHTOK_RECOVERY_ERR;

        r = pam_stitch_prompt_secret(pamh, "Current password: ", &answer);
        if (r != PAM_SUCCESS)
                return r;
        r = pam_set_item(pamh, PAM_OLDAUTHTOK, answer);
        if (r != PAM_SUCCESS) {
                erase_and_free(answer);
                return r;
        }
        *ret = answer;
        *ret_prompted = answer;
        return PAM_SUCCESS;
}

/* The new password: PAM_AUTHTOK from an earlier module (use_authtok
 * requires one; try_first_pass takes one if present), else asked for twice. */
static int get_new_password(pam_handle_t *pamh, const struct pam_stitch_args *args, const char **ret,
                            char **ret_prompted) {
        const char *item = get_item_string(pamh, PAM_AUTHTOK);
        _cleanup_erase_ char *first = NULL, *second = NULL;
        int r;

        if (!isempty(item) && (args->use_authtok || args->try_first_pass || args->use_first_pass)) {
                *ret = item;
                *ret_prompted = NULL;
                return PAM_SUCCESS;
        }
        if (args->use_authtok) {
                pam_syslog(pamh, LOG_ERR, "use_authtok: no new password from an earlier module.");
                return PAM_AUTHTOK_ERR;
        }

        r = pam_stitch_prompt_secret(pamh, "New password: ", &first);
        if (r != PAM_SUCCESS)
                return r;
        r = pam_stitch_prompt_secret(pamh, "Retype new password: ", &second);
        if (r != PAM_SUCCESS)
                return r;
        if (!streq(first, second)) {
                pam_stitch_error_msg(pamh, args, "Passwords do not match.");
                return PAM_AUTHTOK_ERR;
        }

        *ret = first;
        *ret_prompted = TAKE_PTR(first);
        return PAM_SUCCESS;
}

static int change_password_reply_to_pam(pam_handle_t *pamh, const struct pam_stitch_args *args, const char *user,
                                        const struct pam_stitch_reply *reply) {
        char ubuf[64], message[256];

        switch (reply->error) {
        case PAM_STITCH_ERROR_NONE:
                return PAM_SUCCESS;
        case PAM_STITCH_ERROR_NOT_FOUND:
                return PAM_USER_UNKNOWN;
        case PAM_STITCH_ERROR_INVALID_CREDENTIALS:
                pam_syslog(pamh, LOG_NOTICE, "Password change for user \"%s\": current password not accepted.",
                           printable(user, ubuf, sizeof(ubuf)));
                return PAM_AUTH_ERR;
        case PAM_STITCH_ERROR_INVALID_PARAMETER:
                /* The daemon states the password rules in words. */
                pam_stitch_sanitize_text(pam_stitch_reply_string(reply, "message"), message, sizeof(message));
                pam_stitch_log_reply_error(pamh, LOG_NOTICE, "io.stitch.Auth.ChangePassword", reply);
                if (message[0])
                        pam_stitch_error_msg(pamh, args, "%s", message);
                else
                        pam_stitch_error_msg(pamh, args, "The new password was not accepted.");
                return PAM_AUTHTOK_ERR;
        case PAM_STITCH_ERROR_TOO_MANY_ATTEMPTS:
                show_too_many_attempts(pamh, args, reply);
                return PAM_MAXTRIES;
        case PAM_STITCH_ERROR_USER_DISABLED:
        case PAM_STITCH_ERROR_PERMISSION_DENIED:
        case PAM_STITCH_ERROR_SESSION_INVALID:
                pam_stitch_log_reply_error(pamh, LOG_NOTICE, "io.stitch.Auth.ChangePassword", reply);
                pam_stitch_error_msg(pamh, args, "Your stitch password cannot be changed here.");
                return PAM_PERM_DENIED;
        default:
                pam_stitch_log_reply_error(pamh, LOG_ERR, "io.stitch.Auth.ChangePassword", reply);
                return PAM_AUTHINFO_UNAVAIL;
        }
}

/* The stitch session the password is changed from, which stays when the
 * daemon ends the user's other sessions: this transaction's, or the login
 * session `passwd` runs in. Only a hint: the daemon keeps it only if it is
 * one of the user's own. */
static const char *current_session_id(pam_handle_t *pamh) {
        struct session_data *d = get_session_data(pamh);
        const char *id;

        if (d && d->session_id && !d->closed)
                return d->session_id;
        id = pam_getenv(pamh, PAM_STITCH_ENV_SESSION);
        if (!id)
                id = getenv(PAM_STITCH_ENV_SESSION);
        return pam_stitch_session_id_is_valid(id) ? id : NULL;
}

_public_ int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = NULL;
        _cleanup_(pam_stitch_reply_done) struct pam_stitch_reply reply = {};
        _cleanup_erase_ char *old_prompted = NULL, *new_prompted = NULL;
        const char *user = NULL, *old_password = NULL, *new_password = NULL;
        struct pam_stitch_args args;
        bool prelim;
        int r;

        r = begin(pamh, flags, argc, argv, &args);
        if (r != PAM_SUCCESS)
                return r;

        if (flags & PAM_PRELIM_CHECK)
                prelim = true;
        else if (flags & PAM_UPDATE_AUTHTOK)
                prelim = false;
        else
                return PAM_SERVICE_ERR;

        r = get_user(pamh, &user);
        if (r != PAM_SUCCESS)
                return r;

        r = get_old_password(pamh, &args, prelim, &old_password, &old_prompted);
        if (r != PAM_SUCCESS)
                return r;

        if (!prelim) {
                r = get_new_password(pamh, &args, &new_password, &new_prompted);
                if (r != PAM_SUCCESS)
                        return r;
                if (strnlen(new_password, PAM_STITCH_SECRET_MAX + 1) > PAM_STITCH_SECRET_MAX) {
                        pam_stitch_error_msg(pamh, &args, "The new password is too long.");
                        return PAM_AUTHTOK_ERR;
                }
        }

        if (!user_is_sendable(user))
                return PAM_USER_UNKNOWN;
        if (old_password[0] == 0 || strnlen(old_password, PAM_STITCH_SECRET_MAX + 1) > PAM_STITCH_SECRET_MAX)
                return PAM_AUTH_ERR;

        params = cJSON_CreateObject();
        if (!params ||
            pam_stitch_json_add_string(params, "user", user) < 0 ||
            pam_stitch_json_add_string(params, "service", get_item_string(pamh, PAM_SERVICE)) < 0 ||
            pam_stitch_json_add_string(params, "old_password", old_password) < 0 ||
            pam_stitch_json_add_string(params, "new_password", new_password) < 0 ||
            (!prelim && pam_stitch_json_add_string(params, "session_id", current_session_id(pamh)) < 0) ||
            (prelim && !cJSON_AddTrueToObject(params, "check_only")))
                return PAM_BUF_ERR;

        r = pam_stitch_call(pamh, &args, "io.stitch.Auth.ChangePassword", params, true, &reply);
        stitch_json_wipe_and_delete(TAKE_PTR(params));
        if (r < 0)
                return PAM_AUTHINFO_UNAVAIL;

        r = change_password_reply_to_pam(pamh, &args, user, &reply);
        if (r != PAM_SUCCESS)
                return r;

        /* Stacked password modules with use_authtok set the same password. */
        if (new_prompted) {
                r = pam_set_item(pamh, PAM_AUTHTOK, new_prompted);
                if (r != PAM_SUCCESS)
                        return r;
        }
        return PAM_SUCCESS;
}
