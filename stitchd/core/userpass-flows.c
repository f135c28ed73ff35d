/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The email/password lifecycle: registration, confirmation, password reset. */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "providers/userpass.h"
#include "core/accounts.h"
#include "core/address.h"
#include "core/callerlimit.h"
#include "core/command.h"
#include "core/ids.h"
#include "core/outbox.h"
#include "core/sha256.h"
#include "core/userpass-flows.h"
#include "core/users.h"
#include "log.h"
#include "macro.h"
#include "siphash.h"
#include "strv.h"
#include "validate.h"

#define TOKEN_TEXT_MAX 128 /* longer token or tokenId texts are not ours */

static const char *const problem_names[_STITCH_USERPASS_PROBLEM_MAX] = {
        [STITCH_USERPASS_OK] = "ok",
        [STITCH_USERPASS_REGISTRATION_DISABLED] = "registration-disabled",
        [STITCH_USERPASS_INVALID_EMAIL] = "invalid-email",
        [STITCH_USERPASS_PASSWORD_POLICY] = "password-policy",
        [STITCH_USERPASS_NAME_IN_USE] = "name-in-use",
        [STITCH_USERPASS_TOKEN_INVALID] = "token-invalid",
        [STITCH_USERPASS_ALREADY_CONFIRMED] = "already-confirmed",
        [STITCH_USERPASS_USER_NOT_FOUND] = "user-not-found",
        [STITCH_USERPASS_FUNCTION_FAILED] = "function-failed",
        [STITCH_USERPASS_PENDING] = "pending",
        [STITCH_USERPASS_TOO_MANY_REQUESTS] = "too-many-requests",
        [STITCH_USERPASS_MAILER_UNAVAILABLE] = "mailer-unavailable",
};

const char *stitch_userpass_problem_to_string(enum stitch_userpass_problem p) {
        return (unsigned) p < _STITCH_USERPASS_PROBLEM_MAX ? problem_names[p] : NULL;
}

/* ---- results ------------------------------------------------------------------- */

static void result_init(struct stitch_userpass_result *ret) {
        *ret = (struct stitch_userpass_result) {};
}

_printf_(3, 4) static int problem(struct stitch_userpass_result *ret, enum stitch_userpass_problem p,
                                  const char *format, ...) {
        static const int errors[_STITCH_USERPASS_PROBLEM_MAX] = {
                [STITCH_USERPASS_REGISTRATION_DISABLED] = -EPERM,
                [STITCH_USERPASS_INVALID_EMAIL] = -EINVAL,
                [STITCH_USERPASS_PASSWORD_POLICY] = -EINVAL,
                [STITCH_USERPASS_NAME_IN_USE] = -EEXIST,
                [STITCH_USERPASS_TOKEN_INVALID] = -ENOENT,
                [STITCH_USERPASS_ALREADY_CONFIRMED] = -EALREADY,
                [STITCH_USERPASS_USER_NOT_FOUND] = -ENOENT,
                [STITCH_USERPASS_FUNCTION_FAILED] = -EPROTO,
                [STITCH_USERPASS_PENDING] = 0,
                [STITCH_USERPASS_TOO_MANY_REQUESTS] = -EBUSY,
                [STITCH_USERPASS_MAILER_UNAVAILABLE] = -ENOTCONN,
        };
        va_list ap;

        assert(p > STITCH_USERPASS_OK && p < _STITCH_USERPASS_PROBLEM_MAX);
        ret->problem = p;
        va_start(ap, format);
        (void) vsnprintf(ret->message, sizeof(ret->message), format, ap);
        va_end(ap);
        return errors[p];
}

static int failed(struct stitch_userpass_result *ret, int error, const char *step) {
        assert(error < 0);
        snprintf(ret->message, sizeof(ret->message), "%s", step);
        return error;
}

static int token_invalid(struct stitch_userpass_result *ret) {
        return problem(ret, STITCH_USERPASS_TOKEN_INVALID, "invalid token data");
}

/* ---- start, limits ------------------------------------------------------------- */

int stitch_userpass_flows_start(struct stitch_core *core) {
        int r = stitch_callerlimit_new(STITCH_USERPASS_MAILS_PER_RECIPIENT, &core->mail_recipient_limit);
        if (r < 0)
                return r;
        return stitch_callerlimit_new(STITCH_USERPASS_REQUESTS_PER_ADDRESS, &core->mail_address_limit);
}

void stitch_userpass_flows_stop(struct stitch_core *core) {
        core->mail_recipient_limit = stitch_callerlimit_free(core->mail_recipient_limit);
        core->mail_address_limit = stitch_callerlimit_free(core->mail_address_limit);
}

static uint8_t recipient_key[STITCH_SIPHASH_KEY_SIZE];
static pthread_once_t recipient_key_once = PTHREAD_ONCE_INIT;

static void make_recipient_key(void) {
        if (stitch_random_bytes(recipient_key, sizeof(recipient_key)) < 0)
                log_warning("No random key for the mail limits: recipients share budgets predictably.");
}

/* The limiter's key of a recipient: keyed SipHash (nobody can choose an
 * address that shares another's budget), never 0 (not limited). */
static uid_t recipient_limit_key(const char *email) {
        pthread_once(&recipient_key_once, make_recipient_key);
        uint32_t k = (uint32_t) stitch_siphash24(email, strlen(email), recipient_key);
        return k ? k : 1;
}

/* Checks both budgets (email and client_address may be NULL: not
 * limited) and counts the request against both when neither is spent. */
static int check_limits(struct stitch_core *core, const char *email, const char *client_address,
                        struct stitch_userpass_result *ret) {
        uint64_t now = stitch_now_usec(CLOCK_MONOTONIC), retry = 0;
        uid_t address_key = client_address ? (uid_t) stitch_address_limit_id(&core->config, client_address) : 0;
        uid_t email_key = email ? recipient_limit_key(email) : 0;

        if ((address_key && stitch_callerlimit_check(core->mail_address_limit, address_key, now, &retry) == -EBUSY) ||
            (email_key && stitch_callerlimit_check(core->mail_recipient_limit, email_key, now, &retry) == -EBUSY)) {
                ret->retry_after_usec = retry;
                log_notice("Email/password request from %s refused: too many this minute.",
                           client_address ? client_address : "an admin");
                return problem(ret, STITCH_USERPASS_TOO_MANY_REQUESTS, "too many requests; try again later");
        }
        if (address_key)
                stitch_callerlimit_count(core->mail_address_limit, address_key, now);
        if (email_key)
                stitch_callerlimit_count(core->mail_recipient_limit, email_key, now);
        return 0;
}

/* ---- links and tokens ------------------------------------------------------------ */

int stitch_public_url(const struct stitch_config *c, char **ret) {
        char *s = NULL;

        if (c->http_public_url)
                s = strdup(c->http_public_url);
        else if (!isempty(c->http_listen)) {
                bool tls = !isempty(c->http_certificate_file) && !isempty(c->http_key_file);
                if (asprintf(&s, "%s://%s", tls ? "https" : "http", c->http_listen) < 0)
                        s = NULL;
        } else
                return -ENOENT;
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static bool is_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool locale_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n >= STITCH_MAIL_LOCALE_MAX)
                return false;
        for (; *s; s++)
                if (!is_alnum(*s) && *s != '-')
                        return false;
        return true;
}

static const char *locale_or_null(const char *s) {
        return locale_valid(s) ? s : NULL;
}

static bool token_text_valid(const char *s) {
        return !isempty(s) && strlen(s) <= TOKEN_TEXT_MAX;
}

struct token {
        char *secret; /* base64url of 32 random bytes: wiped */
        char id[STITCH_ID_LEN + 1];
};

static void token_done(struct token *t) {
        if (t->secret) {
                explicit_bzero(t->secret, strlen(t->secret));
                free(t->secret);
                t->secret = NULL;
        }
}

/* A new token of kind for user_id, stored as its hash; the older ones of that kind go. */
static int token_new(struct stitch_core *core, const char *user_id, enum stitch_email_token_kind kind,
                     struct token *ret) {
        struct stitch_email_token t = {.kind = kind};
        struct token tok = {};
        int r;

        r = stitch_secret_new("", &tok.secret);
        if (r >= 0)
                r = stitch_session_id_new(tok.id);
        if (r >= 0)
                r = stitch_sha256(tok.secret, strlen(tok.secret), t.hash);
        if (r < 0) {
                token_done(&tok);
                return r;
        }
        memcpy(t.id, tok.id, sizeof(t.id));
        snprintf(t.user_id, sizeof(t.user_id), "%s", user_id);
        t.expires = stitch_now() + (int64_t) (stitch_userpass_token_lifetime_usec(&core->config) / USEC_PER_SEC);
        r = core->store_ops->email_token_put(core->store, &t);
        if (r < 0) {
                token_done(&tok);
                return r;
        }
        *ret = tok;
        return 0;
}

/* Takes (uses up) a token: 0 and its user, -ENOENT, other -errno. */
static int token_take(struct stitch_core *core, const char *secret, const char *id, enum stitch_email_token_kind kind,
                      char ret_user_id[static STITCH_ID_LEN + 1]) {
        uint8_t hash[STITCH_HASH_LEN];

        if (!token_text_valid(secret) || !token_text_valid(id))
                return -ENOENT;
        int r = stitch_sha256(secret, strlen(secret), hash);
        if (r < 0)
                return r;
        return core->store_ops->email_token_take(core->store, id, kind, hash, stitch_now(), ret_user_id);
}

/* The whole link, token in it (a secret: the caller wipes it). */
static int make_link(struct stitch_core *core, enum stitch_mail_kind kind, const struct token *t, const char *locale,
                     char **ret) {
        _cleanup_free_ char *public_url = NULL;
        const char *base = kind == STITCH_MAIL_CONFIRM ? stitch_userpass_confirmation_url(&core->config)
                                                       : stitch_userpass_reset_url(&core->config);
        const char *page = "";
        int r;

        if (!base) {
                r = stitch_public_url(&core->config, &public_url);
                if (r < 0)
                        return r == -ENOENT ? log_warning_errno(r, "No link for the mail: set [Provider.local-userpass] %s= "
                                                                   "or [Http] PublicURL=.",
                                                                kind == STITCH_MAIL_CONFIRM ? "EmailConfirmationURL"
                                                                                           : "ResetPasswordURL")
                                            : r;
                base = public_url;
                page = kind == STITCH_MAIL_CONFIRM ? "/confirm" : "/reset";
        }
        /* The token is base64url and the id alphanumeric: nothing to escape. */
        if (asprintf(ret, "%s%s%ctoken=%s&tokenId=%s%s%s", base, page, strchr(base, '?') ? '&' : '?', t->secret, t->id,
                     locale ? "&locale=" : "", locale ? locale : "") < 0)
                return -ENOMEM;
        return 0;
}

static int outbox_send(struct stitch_core *core, const struct stitch_mail_request *m) {
        if (!core->outbox.send)
                return -ENOTCONN;
        return core->outbox.send(core->outbox.userdata, m);
}

/* A new token of kind for u and the mail with its link. 0 queued,
 * -ENOTCONN no mailer, -ENOSPC the queue is full, other -errno; logged. */
static int mail_token(struct stitch_core *core, const struct stitch_user *u, enum stitch_mail_kind kind,
                      const char *locale) {
        struct token t = {};
        char *link = NULL;
        int r;

        r = token_new(core, u->id, kind == STITCH_MAIL_CONFIRM ? STITCH_EMAIL_TOKEN_CONFIRM : STITCH_EMAIL_TOKEN_RESET, &t);
        if (r < 0)
                return log_error_errno(r, "Cannot make a %s token for user %s: %m",
                                       kind == STITCH_MAIL_CONFIRM ? "confirmation" : "reset", u->id);
        r = make_link(core, kind, &t, locale, &link);
        token_done(&t);
        if (r < 0)
                return r;
        r = outbox_send(core, &(struct stitch_mail_request) {
                                      .kind = kind, .to = u->email, .link = link, .locale = locale});
        explicit_bzero(link, strlen(link));
        free(link);
        if (r < 0)
                return log_warning_errno(r, "Cannot queue the %s mail for user %s: %s", kind == STITCH_MAIL_CONFIRM ? "confirmation" : "reset",
                                         u->id, r == -ENOTCONN ? "no mailer ([Smtp] URL= is empty)" : "the queue is full");
        log_info("Queued a %s mail for user %s.", kind == STITCH_MAIL_CONFIRM ? "confirmation" : "reset", u->id);
        return 0;
}

/* ---- commands -------------------------------------------------------------------------- */

/* Adds the members every command gets and runs it. */
static int run_command(const char *command, cJSON *input, const struct token *t, const char *email,
                       enum stitch_command_status *ret_status) {
        char *text;
        int r;

        if (!cJSON_AddStringToObject(input, "username", email) || !cJSON_AddStringToObject(input, "token", t->secret) ||
            !cJSON_AddStringToObject(input, "tokenId", t->id))
                return -ENOMEM;
        text = cJSON_PrintUnformatted(input);
        if (!text)
                return -ENOMEM;
        r = stitch_command_run(command, text, STITCH_COMMAND_TIMEOUT_USEC, ret_status);
        explicit_bzero(text, strlen(text));
        free(text);
        return r;
}

/* Wipes the strings of a command's input (the token, a password). */
static void input_wipe_and_free(cJSON *j) {
        if (!j)
                return;
        for (cJSON *c = j->child; c; c = c->next)
                if (cJSON_IsString(c) && c->valuestring)
                        explicit_bzero(c->valuestring, strlen(c->valuestring));
        cJSON_Delete(j);
}

static int confirm_user(struct stitch_core *core, const char *user_id) {
        int r = core->store_ops->user_set_pending(core->store, user_id, false);
        if (r >= 0) {
                stitch_events_users_changed(&core->events);
                log_info("User %s confirmed their email address.", user_id);
        }
        return r;
}

/* ConfirmationCommand= for the pending user u: a new confirmation token,
 * then the command. On success the user is confirmed and the token gone;
 * on pending the token stays for confirm; on fail it is gone. */
static int confirmation_command(struct stitch_core *core, const struct stitch_user *u,
                                enum stitch_command_status *ret_status) {
        struct token t = {};
        char user_id[STITCH_ID_LEN + 1];
        int r;

        r = token_new(core, u->id, STITCH_EMAIL_TOKEN_CONFIRM, &t);
        if (r < 0)
                return r;
        cJSON *input = cJSON_CreateObject();
        r = input ? run_command(stitch_userpass_confirmation_command(&core->config), input, &t, u->email, ret_status) : -ENOMEM;
        input_wipe_and_free(input);
        if (r >= 0 && *ret_status != STITCH_COMMAND_PENDING) {
                (void) token_take(core, t.secret, t.id, STITCH_EMAIL_TOKEN_CONFIRM, user_id);
                if (*ret_status == STITCH_COMMAND_SUCCESS)
                        r = confirm_user(core, u->id);
        }
        token_done(&t);
        return r;
}

/* ---- register -------------------------------------------------------------------------- */

static bool mail_mode(const struct stitch_core *core) {
        return !stitch_userpass_auto_confirm(&core->config) && !stitch_userpass_confirmation_command(&core->config);
}

int stitch_userpass_register(struct stitch_core *core, const struct stitch_userpass_registration *req,
                             struct stitch_userpass_result *ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        struct stitch_account_result ar;
        const char *reason;
        int r;

        assert(core && req && ret);
        result_init(ret);
        if (!stitch_userpass_enabled(&core->config) || (!req->by_admin && !stitch_userpass_registration(&core->config)))
                return problem(ret, STITCH_USERPASS_REGISTRATION_DISABLED, "registration is disabled");
        if (!req->email || !stitch_email_valid(req->email))
                return problem(ret, STITCH_USERPASS_INVALID_EMAIL, "invalid email address");
        if (!req->password || stitch_account_password_check(core, req->password, &reason) < 0)
                return problem(ret, STITCH_USERPASS_PASSWORD_POLICY, "password must be between %u and %u characters long",
                               stitch_account_password_min_length(core), (unsigned) STITCH_PASSWORD_MAX);
        const char *locale = locale_or_null(req->locale);
        if (!req->by_admin) {
                r = check_limits(core, NULL, req->client_address, ret);
                if (r < 0)
                        return r;
        }

        r = core->store_ops->user_find(core->store, STITCH_USER_BY_EMAIL, req->email, &u);
        if (r < 0 && r != -ENOENT)
                return failed(ret, r, "user lookup");
        if (r >= 0) {
                /* Registering again is how a person asks for the link again. */
                if (u->pending && mail_mode(core) && check_limits(core, u->email, NULL, ret) >= 0)
                        (void) mail_token(core, u, STITCH_MAIL_CONFIRM, locale);
                result_init(ret);
                return problem(ret, STITCH_USERPASS_NAME_IN_USE, "name already in use");
        }

        bool pending = !stitch_userpass_auto_confirm(&core->config);
        r = stitch_account_create(core,
                                  &(struct stitch_account_new) {
                                          .email = req->email,
                                          .password = req->password,
                                          .unix_name = req->by_admin ? req->unix_name : NULL,
                                          .pending = pending,
                                          .self_registered = true,
                                  },
                                  &u, &ar);
        if (r < 0)
                switch (ar.problem) {
                case STITCH_ACCOUNT_TAKEN:
                        return problem(ret, STITCH_USERPASS_NAME_IN_USE, "name already in use");
                case STITCH_ACCOUNT_EMAIL_INVALID:
                        return problem(ret, STITCH_USERPASS_INVALID_EMAIL, "invalid email address");
                case STITCH_ACCOUNT_PASSWORD_POLICY:
                        return problem(ret, STITCH_USERPASS_PASSWORD_POLICY, "%s", ar.message);
                default:
                        return failed(ret, r, ar.message);
                }
        memcpy(ret->user_id, u->id, sizeof(ret->user_id));
        log_info("User %s registered%s%s.", u->id, req->by_admin ? " by an admin" : "",
                 pending ? " (pending confirmation)" : " (confirmed: AutoConfirm=yes)");
        if (!pending)
                return 0;

        if (stitch_userpass_confirmation_command(&core->config)) {
                enum stitch_command_status status = STITCH_COMMAND_FAIL;
                r = confirmation_command(core, u, &status);
                if (r >= 0 && status == STITCH_COMMAND_SUCCESS)
                        return 0;
                if (r >= 0 && status == STITCH_COMMAND_PENDING)
                        return problem(ret, STITCH_USERPASS_PENDING, "confirmation pending");
                /* fail (or the command could not run): as if never registered */
                _cleanup_(stitch_strv_freep) char **revoked = NULL;
                int q = stitch_user_delete(core, u->id, &revoked);
                if (q < 0 && q != -ENOENT)
                        log_error_errno(q, "Cannot delete user %s whose confirmation failed: %m", u->id);
                else
                        log_info("User %s deleted again: its confirmation command failed.", u->id);
                return problem(ret, STITCH_USERPASS_FUNCTION_FAILED, "failed to confirm user \"%s\"", req->email);
        }

        /* The first mail counts against the recipient's budget, so that
         * registering again at once does not send another. */
        uid_t email_key = recipient_limit_key(u->email);
        stitch_callerlimit_count(core->mail_recipient_limit, email_key, stitch_now_usec(CLOCK_MONOTONIC));
        r = mail_token(core, u, STITCH_MAIL_CONFIRM, locale);
        if (r < 0 && req->by_admin)
                return problem(ret, STITCH_USERPASS_MAILER_UNAVAILABLE,
                               "registered, but the confirmation mail could not be queued");
        /* A stranger learns nothing of the mailer: the link can be asked for again. */
        return 0;
}

/* ---- confirm --------------------------------------------------------------------------- */

int stitch_userpass_confirm(struct stitch_core *core, const char *token, const char *token_id,
                            struct stitch_userpass_result *ret) {
        char user_id[STITCH_ID_LEN + 1];

        assert(core && ret);
        result_init(ret);
        int r = token_take(core, token, token_id, STITCH_EMAIL_TOKEN_CONFIRM, user_id);
        if (r == -ENOENT)
                return token_invalid(ret);
        if (r < 0)
                return failed(ret, r, "taking the token");
        memcpy(ret->user_id, user_id, sizeof(ret->user_id));
        r = confirm_user(core, user_id);
        if (r == -ENOENT)
                return token_invalid(ret);
        if (r < 0)
                return failed(ret, r, "confirming the user");
        return 0;
}

/* The start of every request that names an address: a valid one, within
 * the limits (counted whether or not it is anyone's), and its user if there
 * is one (*ret NULL and 0 if not). */
static int addressed(struct stitch_core *core, const char *email, const char *client_address, struct stitch_user **ret,
                     struct stitch_userpass_result *res) {
        if (!email || !stitch_email_valid(email))
                return problem(res, STITCH_USERPASS_INVALID_EMAIL, "invalid email address");
        int r = check_limits(core, email, client_address, res);
        if (r < 0)
                return r;
        r = core->store_ops->user_find(core->store, STITCH_USER_BY_EMAIL, email, ret);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r < 0 ? failed(res, r, "user lookup") : 0;
}

/* confirm/send and reset/send: the same answer whoever the address is; a
 * link only to a pending user (confirm) or an enabled one (reset). The
 * request counts against the limits whether or not the address is anyone's,
 * so the limits tell nothing either. */
static int send_link(struct stitch_core *core, enum stitch_mail_kind kind, const char *email, const char *locale,
                     const char *client_address, struct stitch_userpass_result *ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;

        assert(core && ret);
        result_init(ret);
        int r = addressed(core, email, client_address, &u, ret);
        if (r < 0)
                return r;
        /* A disabled user gets no reset link: it could not log in with the password anyway. */
        if (u && (kind == STITCH_MAIL_CONFIRM ? u->pending : !u->disabled))
                (void) mail_token(core, u, kind, locale_or_null(locale));
        return 0;
}

int stitch_userpass_confirm_send(struct stitch_core *core, const char *email, const char *locale,
                                 const char *client_address, struct stitch_userpass_result *ret) {
        return send_link(core, STITCH_MAIL_CONFIRM, email, locale, client_address, ret);
}

int stitch_userpass_confirm_call(struct stitch_core *core, const char *email, const char *client_address,
                                 struct stitch_userpass_result *ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        enum stitch_command_status status = STITCH_COMMAND_FAIL;

        assert(core && ret);
        result_init(ret);
        if (!stitch_userpass_confirmation_command(&core->config))
                return problem(ret, STITCH_USERPASS_FUNCTION_FAILED, "no confirmation function is configured");
        int r = addressed(core, email, client_address, &u, ret);
        if (r < 0)
                return r;
        if (!u)
                return problem(ret, STITCH_USERPASS_USER_NOT_FOUND, "user not found");
        memcpy(ret->user_id, u->id, sizeof(ret->user_id));
        if (!u->pending)
                return problem(ret, STITCH_USERPASS_ALREADY_CONFIRMED, "already confirmed");
        r = confirmation_command(core, u, &status);
        if (r >= 0 && status == STITCH_COMMAND_SUCCESS)
                return 0;
        if (r >= 0 && status == STITCH_COMMAND_PENDING)
                return problem(ret, STITCH_USERPASS_PENDING, "confirmation pending");
        return problem(ret, STITCH_USERPASS_FUNCTION_FAILED, "failed to confirm user \"%s\"", email);
}

/* ---- reset ----------------------------------------------------------------------------- */

int stitch_userpass_reset_send(struct stitch_core *core, const char *email, const char *locale,
                               const char *client_address, struct stitch_userpass_result *ret) {
        return send_link(core, STITCH_MAIL_RESET, email, locale, client_address, ret);
}

/* stitch_account_reset_password() for user_id, as this flow words it. */
static int set_password(struct stitch_core *core, const char *user_id, const char *password,
                        struct stitch_userpass_result *ret) {
        struct stitch_account_result ar;
        int r = stitch_account_reset_password(core, user_id, password, &ar);
        ret->ended_sessions = ar.ended_sessions;
        if (r >= 0)
                return 0;
        switch (ar.problem) {
        case STITCH_ACCOUNT_NOT_FOUND:
        case STITCH_ACCOUNT_NO_PASSWORD_IDENTITY:
                return token_invalid(ret);
        case STITCH_ACCOUNT_PASSWORD_POLICY:
                return problem(ret, STITCH_USERPASS_PASSWORD_POLICY, "%s", ar.message);
        default:
                return failed(ret, r, ar.message);
        }
}

static int check_new_password(struct stitch_core *core, const char *password, struct stitch_userpass_result *ret) {
        const char *reason;
        if (!password || stitch_account_password_check(core, password, &reason) < 0)
                return problem(ret, STITCH_USERPASS_PASSWORD_POLICY, "password must be between %u and %u characters long",
                               stitch_account_password_min_length(core), (unsigned) STITCH_PASSWORD_MAX);
        return 0;
}

int stitch_userpass_reset(struct stitch_core *core, const char *token, const char *token_id, const char *new_password,
                          struct stitch_userpass_result *ret) {
        char user_id[STITCH_ID_LEN + 1];

        assert(core && ret);
        result_init(ret);
        /* Before the token is used up: a refused password leaves the link working. */
        int r = check_new_password(core, new_password, ret);
        if (r < 0)
                return r;
        r = token_take(core, token, token_id, STITCH_EMAIL_TOKEN_RESET, user_id);
        if (r == -ENOENT)
                return token_invalid(ret);
        if (r < 0)
                return failed(ret, r, "taking the token");
        memcpy(ret->user_id, user_id, sizeof(ret->user_id));
        return set_password(core, user_id, new_password, ret);
}

int stitch_userpass_reset_call(struct stitch_core *core, const char *email, const char *password,
                               const char *arguments_json, const char *client_address,
                               struct stitch_userpass_result *ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        enum stitch_command_status status = STITCH_COMMAND_FAIL;
        char user_id[STITCH_ID_LEN + 1];
        struct token t = {};
        int r;

        assert(core && ret);
        result_init(ret);
        if (!stitch_userpass_reset_command(&core->config))
                return problem(ret, STITCH_USERPASS_FUNCTION_FAILED, "no reset function is configured");
        if (!email || !stitch_email_valid(email))
                return problem(ret, STITCH_USERPASS_INVALID_EMAIL, "invalid email address");
        r = check_new_password(core, password, ret);
        if (r < 0)
                return r;
        cJSON *arguments = arguments_json ? cJSON_Parse(arguments_json) : cJSON_CreateArray();
        if (!cJSON_IsArray(arguments)) {
                cJSON_Delete(arguments);
                return failed(ret, arguments ? -EINVAL : -ENOMEM, "arguments must be a JSON array");
        }
        cJSON *input = cJSON_CreateObject();
        if (!input || !cJSON_AddItemToObject(input, "arguments", arguments)) {
                cJSON_Delete(arguments);
                cJSON_Delete(input);
                return failed(ret, -ENOMEM, "command input");
        }
        r = addressed(core, email, client_address, &u, ret);
        if (r < 0)
                goto finish;
        if (!u) {
                r = problem(ret, STITCH_USERPASS_USER_NOT_FOUND, "user not found");
                goto finish;
        }
        memcpy(ret->user_id, u->id, sizeof(ret->user_id));
        r = token_new(core, u->id, STITCH_EMAIL_TOKEN_RESET, &t);
        if (r < 0) {
                r = failed(ret, r, "making a reset token");
                goto finish;
        }
        if (!cJSON_AddStringToObject(input, "password", password) || !cJSON_AddFalseToObject(input, "currentPasswordValid")) {
                r = failed(ret, -ENOMEM, "command input");
                goto finish;
        }
        r = run_command(stitch_userpass_reset_command(&core->config), input, &t, u->email, &status);
        if (r >= 0 && status == STITCH_COMMAND_PENDING) {
                r = problem(ret, STITCH_USERPASS_PENDING, "password reset pending");
                goto finish;
        }
        /* success or fail: this token is done either way */
        (void) token_take(core, t.secret, t.id, STITCH_EMAIL_TOKEN_RESET, user_id);
        if (r >= 0 && status == STITCH_COMMAND_SUCCESS) {
                r = set_password(core, u->id, password, ret);
                goto finish;
        }
        r = problem(ret, STITCH_USERPASS_FUNCTION_FAILED, "failed to reset password for user \"%s\"", email);
finish:
        token_done(&t);
        input_wipe_and_free(input);
        return r;
}

/* ---- admins ------------------------------------------------------------------------------ */

static int admin_user(struct stitch_core *core, const char *user_id, struct stitch_user **ret_user,
                      struct stitch_userpass_result *ret) {
        result_init(ret);
        int r = core->store_ops->user_find(core->store, STITCH_USER_BY_ID, user_id, ret_user);
        if (r == -ENOENT)
                return problem(ret, STITCH_USERPASS_USER_NOT_FOUND, "no such user: %s", user_id);
        if (r < 0)
                return failed(ret, r, "user lookup");
        memcpy(ret->user_id, (*ret_user)->id, sizeof(ret->user_id));
        if (!(*ret_user)->email) {
                *ret_user = stitch_user_free(*ret_user);
                return problem(ret, STITCH_USERPASS_USER_NOT_FOUND, "user %s has no email address", user_id);
        }
        return 0;
}

int stitch_userpass_admin_confirm(struct stitch_core *core, const char *user_id, struct stitch_userpass_result *ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;

        assert(core && user_id && ret);
        int r = admin_user(core, user_id, &u, ret);
        if (r < 0)
                return r;
        if (!u->pending)
                return problem(ret, STITCH_USERPASS_ALREADY_CONFIRMED, "already confirmed");
        r = confirm_user(core, u->id);
        if (r < 0)
                return failed(ret, r, "confirming the user");
        return 0;
}

/* An admin's send-confirmation and send-reset: told what went wrong,
 * unlike strangers (the address is known to them). */
static int admin_send(struct stitch_core *core, enum stitch_mail_kind kind, const char *user_id, const char *locale,
                      struct stitch_userpass_result *ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;

        assert(core && user_id && ret);
        int r = admin_user(core, user_id, &u, ret);
        if (r < 0)
                return r;
        if (kind == STITCH_MAIL_CONFIRM && !u->pending)
                return problem(ret, STITCH_USERPASS_ALREADY_CONFIRMED, "already confirmed");
        r = mail_token(core, u, kind, locale_or_null(locale));
        if (r == -ENOTCONN || r == -ENOSPC)
                return problem(ret, STITCH_USERPASS_MAILER_UNAVAILABLE, "the mail could not be queued (%s)",
                               r == -ENOTCONN ? "no mailer: [Smtp] URL= is empty" : "the queue is full");
        if (r < 0)
                return failed(ret, r, "mailing the link");
        return 0;
}

int stitch_userpass_admin_send_confirmation(struct stitch_core *core, const char *user_id, const char *locale,
                                            struct stitch_userpass_result *ret) {
        return admin_send(core, STITCH_MAIL_CONFIRM, user_id, locale, ret);
}

int stitch_userpass_admin_send_reset(struct stitch_core *core, const char *user_id, const char *locale,
                                     struct stitch_userpass_result *ret) {
        return admin_send(core, STITCH_MAIL_RESET, user_id, locale, ret);
}
