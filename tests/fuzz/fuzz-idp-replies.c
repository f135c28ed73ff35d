/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target for what identity providers answer: Google's device
 * authorization, token and error answers (stitchd/providers/google-replies.c)
 * and the Graph API's debug_token, /me, errors, device/login and
 * device/login_status answers (stitchd/providers/facebook-graph.c). The
 * first byte picks an HTTP status (200, 400, 403, 428, 500, ...); the rest
 * is the body, given to every parser. Whatever a parser accepts must hold
 * what its contract promises: bounded, NUL-terminated strings, ids of
 * digits, https URLs, known outcomes. */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/https.h"
#include "providers/facebook-graph.h"
#include "providers/google-replies.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = {200, 400, 401, 403, 428, 429, 500, 503};

static void check_string(const char *s, size_t max) {
        if (!s || strnlen(s, max + 1) > max)
                abort();
}

static void google(long status, const char *body, size_t len) {
        cJSON *j = cJSON_ParseWithLength(body, len);
        struct stitch_device_code code;
        char err[80], *token = NULL;

        memset(&code, 0xa5, sizeof(code));
        if (google_device_code_parse(status, j, &code, err, sizeof(err)) == 0) {
                if (status != 200)
                        abort();
                check_string(code.device_code, sizeof(code.device_code) - 1);
                check_string(code.user_code, sizeof(code.user_code) - 1);
                check_string(code.verification_url, sizeof(code.verification_url) - 1);
                if (code.interval_usec > 60 * UINT64_C(1000000) || code.expires_in_usec > 24 * 3600 * UINT64_C(1000000))
                        abort();
        }
        check_string(err, sizeof(err) - 1);
        for (const char *c = err; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || *c == '_' || *c == '?'))
                        abort();

        int r = google_device_poll_parse(status, j, &token, err, sizeof(err));
        if (r == STITCH_DEVICE_SUCCESS) {
                if (status != 200 || !token)
                        abort();
        } else if (token)
                abort();
        if (r != STITCH_DEVICE_SUCCESS && r != STITCH_DEVICE_PENDING && r != STITCH_DEVICE_SLOW_DOWN &&
            r != STITCH_DEVICE_DENIED && r != STITCH_DEVICE_EXPIRED && r != -EPROTO && r != -EBADMSG)
                abort();
        stitch_secret_free(token);
        cJSON_Delete(j);
}

static void facebook(long status, const char *body, size_t len) {
        struct facebook_graph_error e;
        struct facebook_token_info info;
        struct facebook_device_code code;
        char error[FACEBOOK_ERROR_MAX + 64], id[FACEBOOK_ID_MAX + 1];
        cJSON *metadata = NULL;
        char *token = NULL;

        if (facebook_graph_error_parse(body, len, &e) == 0) {
                check_string(e.type, sizeof(e.type) - 1);
                check_string(e.message, sizeof(e.message) - 1);
                for (const char *c = e.message; *c; c++)
                        if (*c < 0x20 || *c > 0x7e)
                                abort();
                (void) facebook_graph_error_transient(&e);
        }
        if (facebook_debug_token_parse(body, len, &info, error, sizeof(error)) == 0) {
                check_string(info.app_id, FACEBOOK_ID_MAX);
                check_string(info.user_id, FACEBOOK_ID_MAX);
                check_string(info.type, sizeof(info.type) - 1);
                if (info.app_id[0] && !facebook_id_valid(info.app_id))
                        abort();
                (void) facebook_token_check(&info, "123456789", 1800000000, error, sizeof(error));
        }
        if (facebook_me_parse(body, len, id, &metadata, error, sizeof(error)) == 0) {
                if (!facebook_id_valid(id) || !cJSON_IsObject(metadata))
                        abort();
                char *s = cJSON_PrintUnformatted(metadata);
                if (!s)
                        abort();
                free(s);
        }
        cJSON_Delete(metadata);
        if (facebook_device_login_parse(body, len, &code, error, sizeof(error)) == 0) {
                check_string(code.code, FACEBOOK_DEVICE_CODE_MAX);
                check_string(code.user_code, FACEBOOK_USER_CODE_MAX);
                check_string(code.verification_uri, FACEBOOK_URI_MAX);
                if (strncmp(code.verification_uri, "https://", 8) != 0)
                        abort();
                facebook_device_code_erase(&code);
        }
        int r = facebook_login_status_parse(status, body, len, &token, error, sizeof(error));
        if (r == FACEBOOK_DEVICE_AUTHORIZED) {
                if (!token)
                        abort();
        } else if (token)
                abort();
        if (r != -EBADMSG && r != -ENOMEM && (r < FACEBOOK_DEVICE_AUTHORIZED || r > FACEBOOK_DEVICE_REFUSED))
                abort();
        stitch_secret_free(token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1 || size > 65536)
                return 0;
        long status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
        /* The parsers take a body and its length; many stop at a NUL. */
        char *body = malloc(size);
        if (!body)
                return 0;
        memcpy(body, data + 1, size - 1);
        body[size - 1] = 0;
        google(status, body, size - 1);
        facebook(status, body, size - 1);
        free(body);
        return 0;
}
