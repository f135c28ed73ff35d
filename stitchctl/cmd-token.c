/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchctl token [verify]: io.stitch.Token.Get and io.stitch.Token.Verify */

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "output.h"
#include "stitchctl.h"
#include "wire.h"

/* Pause before asking again when the daemon handed back the same token. */
#define WAIT_POLL_MIN_MS 250

static int64_t monotonic_ms(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms) {
        int64_t until = monotonic_ms() + ms;
        for (int64_t left = ms; left > 0; left = until - monotonic_ms())
                (void) poll(NULL, 0, (int) MIN(left, (int64_t) 60000));
}

static int token_get(struct stitchctl *ctl, const char *session, cJSON **ret_reply, cJSON **ret_params) {
        _cleanup_(cJSON_Deletep) cJSON *params = cJSON_CreateObject();
        if (!params || !cJSON_AddStringToObject(params, "session_id", session))
                return stitchctl_oom();
        return stitchctl_call(ctl, "io.stitch.Token.Get", params, ret_reply, ret_params);
}

static int print_token(const struct stitchctl *ctl, const cJSON *rp) {
        if (ctl->json)
                return output_json(rp);
        const char *token = json_string(rp, "access_token");
        if (!token)
                return stitchctl_fail(EXIT_REFUSED, "the reply to Token.Get has no access_token");
        /* a token is base64url and dots; still, never echo control characters */
        _cleanup_erase_ char *safe = output_sanitize(token);
        if (!safe)
                return stitchctl_oom();
        puts(safe);
        return EXIT_OK;
}

int cmd_token(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *reply = NULL;
        _cleanup_erase_ char *first = NULL;
        cJSON *rp = NULL;
        int r;

        const char *session = ctl->session;
        if (isempty(session))
                session = getenv("STITCH_SESSION");
        if (isempty(session))
                return stitchctl_usage_error(ctl, "no session: set STITCH_SESSION or pass --session");

        /* --timeout bounds the whole wait; without it we wait for as long as it takes */
        int64_t deadline = ctl->timeout_given ? monotonic_ms() + ctl->timeout_ms : INT64_MAX;

        r = token_get(ctl, session, &reply, &rp);
        if (r != EXIT_OK)
                return r;
        if (!ctl->wait_refresh)
                return print_token(ctl, rp);

        const char *token = json_string(rp, "access_token");
        if (!token)
                return stitchctl_fail(EXIT_REFUSED, "the reply to Token.Get has no access_token");
        first = strdup(token);
        if (!first)
                return stitchctl_oom();

        int64_t first_expires = 0;
        (void) json_int(rp, "expires", &first_expires);

        /* Ask the daemon to answer once a token newer than this one exists: the
         * refresher completes the call right after its next refresh. Sessions
         * that are not open logins get a freshly signed token instead. */
        for (;;) {
                int64_t now = monotonic_ms();
                if (now >= deadline)
                        return stitchctl_fail(EXIT_REFUSED, "the token was not refreshed within %.3g s",
                                              ctl->timeout_ms / 1000.0);
                _cleanup_(cJSON_Deletep) cJSON *params = cJSON_CreateObject();
                if (!params || !cJSON_AddStringToObject(params, "session_id", session) ||
                    !cJSON_AddNumberToObject(params, "newer_than", (double) first_expires) ||
                    !cJSON_AddBoolToObject(params, "wait", true))
                        return stitchctl_oom();
                int saved = ctl->timeout_ms;
                int64_t left = deadline == INT64_MAX ? (int64_t) 24 * 3600 * 1000 : deadline - now;
                ctl->timeout_ms = (int) MIN(left, (int64_t) INT32_MAX);
                stitch_json_wipe_and_delete(TAKE_PTR(reply));
                r = stitchctl_call(ctl, "io.stitch.Token.Get", params, &reply, &rp);
                ctl->timeout_ms = saved;
                if (r != EXIT_OK)
                        return r;
                token = json_string(rp, "access_token");
                if (!token)
                        return stitchctl_fail(EXIT_REFUSED, "the reply to Token.Get has no access_token");
                if (!stitchctl_secret_equal(token, first))
                        return print_token(ctl, rp);
                /* Same token (same second): ask again a little later. */
                sleep_ms(MIN((int64_t) WAIT_POLL_MIN_MS, deadline - monotonic_ms()));
        }
}

static bool is_time_claim(const char *name) {
        return streq_ptr(name, "iat") || streq_ptr(name, "nbf") || streq_ptr(name, "exp");
}

int cmd_token_verify(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = cJSON_CreateObject();
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *reply = NULL;
        _cleanup_erase_ char *from_stdin = NULL;
        const char *token = args[0];
        cJSON *rp = NULL;
        int r;

        if (!params)
                return stitchctl_oom();
        if (streq(token, "-")) {
                r = stitchctl_read_secret_line("Token: ", &from_stdin);
                if (r != EXIT_OK)
                        return r;
                token = from_stdin;
        }
        if (isempty(token))
                return stitchctl_usage_error(ctl, "empty token");
        if (!cJSON_AddStringToObject(params, "access_token", token))
                return stitchctl_oom();

        r = stitchctl_call(ctl, "io.stitch.Token.Verify", params, &reply, &rp);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                return output_json(rp);

        const cJSON *claims = cJSON_GetObjectItemCaseSensitive(rp, "claims");
        _cleanup_(table_freep) struct table *kv = table_new_kv();
        if (!kv)
                return stitchctl_oom();
        const cJSON *c;
        r = 0;
        const cJSON *claim_object = cJSON_IsObject(claims) ? claims : NULL;
        cJSON_ArrayForEach(c, claim_object) {
                if (!c->string)
                        continue;
                r = is_time_claim(c->string) ? table_add_kv_time(kv, c->string, c)
                                             : table_add_kv_json(kv, c->string, c);
                if (r < 0)
                        return stitchctl_oom();
        }
        printf("Token is valid.\n\nClaims:\n");
        table_print_indent(kv, stdout, 2);

        const cJSON *user = cJSON_GetObjectItemCaseSensitive(rp, "user");
        if (cJSON_IsObject(user)) {
                printf("\nUser:\n");
                return stitchctl_print_user(user, 2);
        }
        return EXIT_OK;
}
