/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Stitch's email/password lifecycle routes (POST APP/auth/providers/
 * local-userpass/...): register, confirm, confirm/send, confirm/call, reset,
 * reset/send, reset/call. Each decodes, calls core/userpass-flows.c and words
 * the answer as Stitch did (docs/http.md); the rules are the core's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/accounts.h"
#include "core/userpass-flows.h"
#include "frontends/http/request.h"
#include "log.h"
#include "macro.h"

#define EMAIL_MAX 254
#define PASSWORD_MAX (4 * 128) /* 128 characters of up to 4 bytes */
#define TOKEN_MAX 512
#define LOCALE_MAX 16

/* The answer for a finished flow: ok_status with {} on success (also when
 * a command said "pending": the client goes on with the token), else
 * Stitch's error for the problem. 'failed' words FUNCTION_FAILED. */
static void reply_flow(struct http_request *r, int k, const struct stitch_userpass_result *res, unsigned ok_status,
                       const char *email, const char *failed) {
        if (k >= 0) {
                http_reply_json(r, ok_status, cJSON_CreateObject());
                return;
        }
        switch (res->problem) {
        case STITCH_USERPASS_REGISTRATION_DISABLED:
                http_reply_error(r, 400, "BadRequest", "registration is not enabled for local-userpass");
                break;
        case STITCH_USERPASS_INVALID_EMAIL:
                http_reply_error(r, 400, "BadRequest", "invalid email address");
                break;
        case STITCH_USERPASS_PASSWORD_POLICY:
                http_reply_error(r, 400, "BadRequest", "password must be between %u and 128 characters",
                                 stitch_account_password_min_length(r->manager->core));
                break;
        case STITCH_USERPASS_NAME_IN_USE:
                http_reply_error(r, 409, "AccountNameInUse", "name already in use");
                break;
        case STITCH_USERPASS_TOKEN_INVALID:
                http_reply_error(r, 400, "UserpassTokenInvalid", "invalid token data");
                break;
        case STITCH_USERPASS_ALREADY_CONFIRMED:
                http_reply_error(r, 400, "BadRequest", "already confirmed");
                break;
        case STITCH_USERPASS_USER_NOT_FOUND:
                http_reply_error(r, 404, "UserNotFound", "user not found");
                break;
        case STITCH_USERPASS_FUNCTION_FAILED:
                http_reply_error(r, 400, "BadRequest", "%s \"%s\"", failed, email ? email : "");
                break;
        case STITCH_USERPASS_TOO_MANY_REQUESTS:
                r->retry_after_sec = (res->retry_after_usec + 999999) / 1000000;
                http_reply_error(r, 429, "TooManyRequests", "too many requests, try again later");
                break;
        default:
                http_reply_errno(r, k, "the email/password request");
        }
}

/* Reads the string members the route needs; answers 400 itself. */
static int body_strings(struct http_request *r, const char **email, const char **password, const char **token,
                        const char **token_id) {
        if (!r->body) {
                http_reply_error(r, 400, "BadRequest", "request body must be a JSON object");
                return -EINVAL;
        }
        if ((email && http_body_string(r, "email", EMAIL_MAX, true, email) < 0) ||
            (password && http_body_string(r, "password", PASSWORD_MAX, true, password) < 0) ||
            (token && http_body_string(r, "token", TOKEN_MAX, true, token) < 0) ||
            (token_id && http_body_string(r, "tokenId", TOKEN_MAX, true, token_id) < 0)) {
                http_reply_error(r, 400, "BadRequest", "%s", email && !*email ? "email is required"
                                                         : password && !*password ? "password is required"
                                                                                  : "token and tokenId are required");
                return -EINVAL;
        }
        return 0;
}

/* An optional "locale" member (not Stitch's: the links carry it to the pages). */
static const char *body_locale(struct http_request *r) {
        const char *locale = NULL;
        if (http_body_string(r, "locale", LOCALE_MAX, false, &locale) < 0)
                return NULL;
        return locale;
}

void http_userpass_register(struct http_request *r) {
        const char *email = NULL, *password = NULL;
        struct stitch_userpass_result res;
        if (body_strings(r, &email, &password, NULL, NULL) < 0)
                return;
        struct stitch_userpass_registration req = {
                .email = email, .password = password, .locale = body_locale(r), .client_address = r->client};
        int k = stitch_userpass_register(r->manager->core, &req, &res);
        reply_flow(r, k, &res, 201, email, "failed to confirm user");
}

void http_userpass_confirm(struct http_request *r) {
        const char *token = NULL, *token_id = NULL;
        struct stitch_userpass_result res;
        if (body_strings(r, NULL, NULL, &token, &token_id) < 0)
                return;
        int k = stitch_userpass_confirm(r->manager->core, token, token_id, &res);
        reply_flow(r, k, &res, 200, NULL, "failed to confirm user");
}

void http_userpass_confirm_send(struct http_request *r) {
        const char *email = NULL;
        struct stitch_userpass_result res;
        if (body_strings(r, &email, NULL, NULL, NULL) < 0)
                return;
        int k = stitch_userpass_confirm_send(r->manager->core, email, body_locale(r), r->client, &res);
        reply_flow(r, k, &res, 200, email, "failed to confirm user");
}

void http_userpass_confirm_call(struct http_request *r) {
        const char *email = NULL;
        struct stitch_userpass_result res;
        if (body_strings(r, &email, NULL, NULL, NULL) < 0)
                return;
        int k = stitch_userpass_confirm_call(r->manager->core, email, r->client, &res);
        reply_flow(r, k, &res, 200, email, "failed to confirm user");
}

void http_userpass_reset_send(struct http_request *r) {
        const char *email = NULL;
        struct stitch_userpass_result res;
        if (body_strings(r, &email, NULL, NULL, NULL) < 0)
                return;
        int k = stitch_userpass_reset_send(r->manager->core, email, body_locale(r), r->client, &res);
        reply_flow(r, k, &res, 200, email, "failed to reset password for user");
}

void http_userpass_reset(struct http_request *r) {
        const char *password = NULL, *token = NULL, *token_id = NULL;
        struct stitch_userpass_result res;
        if (body_strings(r, NULL, &password, &token, &token_id) < 0)
                return;
        int k = stitch_userpass_reset(r->manager->core, token, token_id, password, &res);
        reply_flow(r, k, &res, 200, NULL, "failed to reset password for user");
}

/* Unauthenticated, as in Stitch: ResetCommand= alone decides (docs/http.md). */
void http_userpass_reset_call(struct http_request *r) {
        const char *email = NULL, *password = NULL;
        struct stitch_userpass_result res;
        _cleanup_free_ char *arguments = NULL;
        if (body_strings(r, &email, &password, NULL, NULL) < 0)
                return;
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(r->body, "arguments");
        if (a && !cJSON_IsArray(a)) {
                http_reply_error(r, 400, "BadRequest", "arguments must be an array");
                return;
        }
        /* The body is at most 64 KiB, so its arguments are too. */
        if (a && !(arguments = cJSON_PrintUnformatted(a))) {
                http_reply_errno(r, -ENOMEM, "arguments");
                return;
        }
        int k = stitch_userpass_reset_call(r->manager->core, email, password, arguments, r->client, &res);
        reply_flow(r, k, &res, 200, email, "failed to reset password for user");
}
