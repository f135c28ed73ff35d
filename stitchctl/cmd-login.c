/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchctl login: a real login through io.stitch.Auth.Login */

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "macro.h"
#include "output.h"
#include "stitchctl.h"
#include "wire.h"

#define DEFAULT_SERVICE "stitchctl"
#define MAX_ROUNDS 8
/* Pending polls are bounded by the daemon's expiry, and never beyond this. */
#define PENDING_MAX_MS (31 * 60 * 1000)
#define PENDING_INTERVAL_MAX_MS 60000
#define PENDING_INTERVAL_MIN_MS 100 /* a daemon cannot make stitchctl spin */

/* The daemon asked: show its messages on stderr, read one answer per
 * prompt, and build the next round. */
static int converse(const cJSON *rp, cJSON **ret_params) {
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = cJSON_CreateObject();
        cJSON *answers = cJSON_CreateObject();
        const cJSON *item;
        int r;

        if (!params || !answers || !cJSON_AddItemToObject(params, "answers", answers)) {
                cJSON_Delete(answers);
                return stitchctl_oom();
        }
        if (!cJSON_AddStringToObject(params, "conversation", json_string(rp, "conversation")))
                return stitchctl_oom();
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(rp, "messages")) {
                const char *text = json_string(item, "text");
                /* A URL to draw as a QR code: the plain messages have it already. */
                if (text && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "qr")))
                        fprintf(stderr, "%s\n", text);
        }
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(rp, "prompts")) {
                const char *id = json_string(item, "id"), *text = json_string(item, "text");
                _cleanup_erase_ char *answer = NULL;
                if (!id || !text)
                        return stitchctl_fail(EXIT_REFUSED, "stitchd asked a malformed question");
                r = stitchctl_read_answer(text, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "echo")), &answer);
                if (r != EXIT_OK)
                        return r;
                if (!cJSON_AddStringToObject(answers, id, answer))
                        return stitchctl_oom();
        }
        *ret_params = TAKE_PTR(params);
        return EXIT_OK;
}

static uint64_t monotonic_ms(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Nothing to ask yet (the person approves on another device): show the
 * messages, wait the interval on the connection, and poll with the same
 * conversation and no answers. *deadline_ms (0 at first) is the earliest
 * expiry the daemon gave. */
static int wait_pending(struct stitch_client *conn, const cJSON *rp, uint64_t *deadline_ms, cJSON **ret_params) {
        const cJSON *pending = cJSON_GetObjectItemCaseSensitive(rp, "pending"), *item;
        const cJSON *interval = cJSON_GetObjectItemCaseSensitive(pending, "interval_ms");
        const cJSON *expires = cJSON_GetObjectItemCaseSensitive(pending, "expires_in_ms");

        if (!cJSON_IsNumber(interval) || !(interval->valuedouble >= 0 && interval->valuedouble <= PENDING_INTERVAL_MAX_MS) ||
            !cJSON_IsNumber(expires) || !(expires->valuedouble >= 0))
                return stitchctl_fail(EXIT_REFUSED, "stitchd answered pending in a malformed reply");
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(rp, "messages")) {
                const char *text = json_string(item, "text");
                /* A URL to draw as a QR code: the plain messages have it already. */
                if (text && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "qr")))
                        fprintf(stderr, "%s\n", text);
        }
        uint64_t now = monotonic_ms();
        uint64_t end = now + (uint64_t) MIN(expires->valuedouble, (double) PENDING_MAX_MS);
        if (*deadline_ms == 0 || end < *deadline_ms)
                *deadline_ms = end;
        int wait_ms = (int) MAX(interval->valuedouble, (double) PENDING_INTERVAL_MIN_MS);
        if (now + (uint64_t) wait_ms >= *deadline_ms)
                return stitchctl_fail(EXIT_REFUSED, "the login was not completed in time");
        if (stitch_client_wait_quiet(conn, wait_ms) < 0)
                return stitchctl_fail(EXIT_UNREACHABLE, "stitchd closed the connection while the login was pending");

        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = cJSON_CreateObject();
        if (!params || !cJSON_AddStringToObject(params, "conversation", json_string(rp, "conversation")))
                return stitchctl_oom();
        *ret_params = TAKE_PTR(params);
        return EXIT_OK;
}

int cmd_login(struct stitchctl *ctl, char **args, size_t n_args) {
        /* Every round on one connection: the daemon ends its questions when it closes. */
        _cleanup_(stitch_client_freep) struct stitch_client *conn = NULL;
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = cJSON_CreateObject();
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *reply = NULL;
        const char *user = ctl->user, *provider = ctl->provider;
        cJSON *rp = NULL;
        int r;

        if (!params)
                return stitchctl_oom();

        if (!user) {
                struct passwd *pw = getpwuid(getuid());
                if (!pw)
                        return stitchctl_usage_error(ctl, "cannot tell the caller's user name; pass --user");
                user = pw->pw_name;
        }

        if (!cJSON_AddStringToObject(params, "user", user) ||
            !cJSON_AddStringToObject(params, "service", ctl->service ? ctl->service : DEFAULT_SERVICE) ||
            (provider && !cJSON_AddStringToObject(params, "provider", provider)) ||
            (ctl->rhost && !cJSON_AddStringToObject(params, "rhost", ctl->rhost)) ||
            (ctl->tty && !cJSON_AddStringToObject(params, "tty", ctl->tty)) ||
            !cJSON_AddBoolToObject(params, "interactive", true))
                return stitchctl_oom();

        /* The daemon says what to ask (a password, a key, nothing, a code),
         * or to wait and ask again (pending). */
        uint64_t deadline_ms = 0;
        for (unsigned asked = 0;;) {
                if (reply)
                        stitch_json_wipe_and_delete(TAKE_PTR(reply));
                r = stitchctl_call_on(ctl, &conn, "io.stitch.Auth.Login", params, &reply, &rp);
                stitch_json_wipe_and_delete(TAKE_PTR(params));
                if (r != EXIT_OK)
                        return r;
                if (!json_string(rp, "conversation") || json_string(rp, "session_id"))
                        break;
                if (cJSON_GetObjectItemCaseSensitive(rp, "pending"))
                        r = wait_pending(conn, rp, &deadline_ms, &params);
                else if (++asked >= MAX_ROUNDS)
                        return stitchctl_fail(EXIT_REFUSED, "stitchd asked too many questions");
                else
                        r = converse(rp, &params);
                if (r != EXIT_OK)
                        return r;
        }

        if (ctl->json)
                return output_json(rp);

        /* The daemon's store is unreachable and it checked the password
         * against its offline cache: a login without a session. */
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rp, "offline"))) {
                _cleanup_free_ char *id = output_sanitize(json_string(rp, "user_id") ?: "-");
                _cleanup_free_ char *message = output_sanitize(json_string(rp, "message") ?: "");
                if (!id || !message)
                        return stitchctl_oom();
                printf("%s\nUser ID: %s (no session, no tokens)\n", message, id);
                return EXIT_OK;
        }

        /* the caller's own new session: show everything, tokens included */
        _cleanup_(table_freep) struct table *kv = table_new_kv();
        if (!kv)
                return stitchctl_oom();
        r = 0;
        r = r ?: table_add_kv(kv, "User ID", json_string(rp, "user_id"));
        r = r ?: table_add_kv(kv, "Session ID", json_string(rp, "session_id"));
        r = r ?: table_add_kv(kv, "Provider", json_string(rp, "provider_type"));
        r = r ?: table_add_kv(kv, "Device ID", json_string(rp, "device_id"));
        r = r ?: table_add_kv_time(kv, "Expires", cJSON_GetObjectItemCaseSensitive(rp, "expires"));
        r = r ?: table_add_kv(kv, "Access token", json_string(rp, "access_token"));
        r = r ?: table_add_kv(kv, "Refresh token", json_string(rp, "refresh_token"));
        if (r < 0)
                return stitchctl_oom();
        table_print(kv, stdout);
        return EXIT_OK;
}
