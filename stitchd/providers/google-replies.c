/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "providers/google-replies.h"

void google_oauth_error(const cJSON *body, char *buf, size_t size) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(body, "error");
        if (size == 0)
                return;
        buf[0] = 0;
        if (!cJSON_IsString(e))
                return;
        size_t k = 0;
        for (const char *c = e->valuestring; *c && k + 1 < size && k < 64; c++)
                buf[k++] = ((*c >= 'a' && *c <= 'z') || *c == '_') ? *c : '?';
        buf[k] = 0;
}

int google_device_code_parse(long status, const cJSON *body, struct stitch_device_code *ret, char *err,
                             size_t err_size) {
        const cJSON *dc = cJSON_GetObjectItemCaseSensitive(body, "device_code");
        const cJSON *uc = cJSON_GetObjectItemCaseSensitive(body, "user_code");
        /* Google's name, and RFC 8628's. */
        const cJSON *url = cJSON_GetObjectItemCaseSensitive(body, "verification_url");
        if (!url)
                url = cJSON_GetObjectItemCaseSensitive(body, "verification_uri");
        const cJSON *expires = cJSON_GetObjectItemCaseSensitive(body, "expires_in");
        const cJSON *interval = cJSON_GetObjectItemCaseSensitive(body, "interval");

        google_oauth_error(body, err, err_size);
        if (status != 200 || !cJSON_IsString(dc) || !cJSON_IsString(uc) || !cJSON_IsString(url) ||
            !cJSON_IsNumber(expires) || strlen(dc->valuestring) >= sizeof(ret->device_code) ||
            strlen(uc->valuestring) >= sizeof(ret->user_code) ||
            strlen(url->valuestring) >= sizeof(ret->verification_url))
                return -EBADMSG;
        snprintf(ret->device_code, sizeof(ret->device_code), "%s", dc->valuestring);
        snprintf(ret->user_code, sizeof(ret->user_code), "%s", uc->valuestring);
        snprintf(ret->verification_url, sizeof(ret->verification_url), "%s", url->valuestring);
        double e = expires->valuedouble, iv = cJSON_IsNumber(interval) ? interval->valuedouble : 5;
        ret->expires_in_usec = e > 0 && e < 24 * 3600 ? (uint64_t) e * USEC_PER_SEC : 0;
        ret->interval_usec = iv > 0 && iv <= 60 ? (uint64_t) iv * USEC_PER_SEC : 0;
        return 0;
}

char *google_answer_id_token(const cJSON *body) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "id_token");
        return cJSON_IsString(t) ? strdup(t->valuestring) : NULL;
}

int google_device_poll_parse(long status, const cJSON *body, char **ret_id_token, char *err, size_t err_size) {
        *ret_id_token = NULL;
        if (status != 200) {
                google_oauth_error(body, err, err_size);
                if (streq(err, "authorization_pending"))
                        return STITCH_DEVICE_PENDING;
                if (streq(err, "slow_down"))
                        return STITCH_DEVICE_SLOW_DOWN;
                if (streq(err, "access_denied"))
                        return STITCH_DEVICE_DENIED;
                if (streq(err, "expired_token") || streq(err, "invalid_grant"))
                        return STITCH_DEVICE_EXPIRED;
                return -EPROTO;
        }
        *ret_id_token = google_answer_id_token(body);
        return *ret_id_token ? STITCH_DEVICE_SUCCESS : -EBADMSG;
}
