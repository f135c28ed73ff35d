/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Facebook's Graph API as oauth2-facebook uses it: the request URLs and
 * the parsing of the answers, without any I/O (providers/oauth2-facebook.c
 * fetches). Sources: research/stitch-http-api.md (debug_token, /me),
 * research/device-grants.md (Login for Devices and its error subcodes).
 *
 * Every parser takes a body as received (not trusted: any bytes, any
 * JSON), returns 0 or -EBADMSG with a reason in error that quotes nothing
 * of the body but field names, or -ENOMEM. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define FACEBOOK_ID_MAX 32          /* digits of an app or user id */
#define FACEBOOK_TOKEN_MAX 1024     /* an access token's bytes */
#define FACEBOOK_FIELD_MAX 4096     /* a metadata value's bytes (as Stitch) */
#define FACEBOOK_DEVICE_CODE_MAX 256
#define FACEBOOK_USER_CODE_MAX 32
#define FACEBOOK_URI_MAX 255
#define FACEBOOK_ERROR_MAX 256

/* Whether s is a plausible access token (or app secret, client token):
 * 1..FACEBOOK_TOKEN_MAX printable ASCII characters, no space. Only a shape. */
bool facebook_token_shape(const char *s);
/* Whether s is a Graph id: 1..FACEBOOK_ID_MAX digits. */
bool facebook_id_valid(const char *s);

/* "BASE/PATH?name=value&..." with the values percent-encoded; pairs is
 * NULL-terminated (name, value, name, value, ..., NULL). -E2BIG over
 * the fetcher's URL limit. The result holds secrets: erase it. */
int facebook_url(const char *base, const char *path, const char *const *pairs, char **ret);

/* appsecret_proof: the hex HMAC-SHA256 of the user's access token keyed
 * with the app secret, which Graph calls with a user token must carry when
 * the app has "Require App Secret" on (and accept always). 0, or -EIO. */
#define FACEBOOK_PROOF_LEN 64
int facebook_appsecret_proof(const char *app_secret, const char *token, char ret[static FACEBOOK_PROOF_LEN + 1]);

/* A Graph error: {"error":{"message","type","code","error_subcode"}}. */
struct facebook_graph_error {
        int64_t code, subcode; /* 0 when absent */
        bool is_transient;     /* Graph's own "is_transient" */
        char type[64];
        char message[FACEBOOK_ERROR_MAX]; /* printable ASCII only (others become '?') */
};
/* 0 if the body is a Graph error (filled), -ENOMSG if it is not one. */
int facebook_graph_error_parse(const char *body, size_t len, struct facebook_graph_error *ret);
/* Whether the error is Graph's trouble, not the token's: unknown or
 * temporary errors (codes 1, 2), rate limits (4, 17, 32, 341, 613), or
 * flagged is_transient. A login then waits for Graph, it is not refused. */
bool facebook_graph_error_transient(const struct facebook_graph_error *e);

/* GET /debug_token's "data". */
struct facebook_token_info {
        bool is_valid;
        char app_id[FACEBOOK_ID_MAX + 1];
        char type[16];                     /* "USER", "PAGE", "APP" ... ("" when absent) */
        char user_id[FACEBOOK_ID_MAX + 1]; /* "" when absent */
        int64_t expires_at;                /* seconds since the epoch; 0: does not expire */
};
int facebook_debug_token_parse(const char *body, size_t len, struct facebook_token_info *ret, char *error,
                               size_t error_size);
/* Whether the token is one our app's user gave us, at time now (seconds):
 * valid, app_id == app_id, type USER, not expired. 0, or -EACCES with the
 * reason in error. */
int facebook_token_check(const struct facebook_token_info *i, const char *app_id, int64_t now, char *error,
                         size_t error_size);

/* GET /me?fields=id,name,first_name,last_name,email,picture: the user's id
 * and the metadata as Stitch gives it ({name, first_name, last_name,
 * email, picture}: the fields present, picture as its URL). */
int facebook_me_parse(const char *body, size_t len, char ret_id[static FACEBOOK_ID_MAX + 1], cJSON **ret_metadata,
                      char *error, size_t error_size);

/* POST /device/login. */
struct facebook_device_code {
        char code[FACEBOOK_DEVICE_CODE_MAX + 1];     /* secret: for polling */
        char user_code[FACEBOOK_USER_CODE_MAX + 1];  /* shown */
        char verification_uri[FACEBOOK_URI_MAX + 1]; /* shown */
        uint64_t interval_sec, expires_in_sec;
};
int facebook_device_login_parse(const char *body, size_t len, struct facebook_device_code *ret, char *error,
                                size_t error_size);
void facebook_device_code_erase(struct facebook_device_code *c);

/* POST /device/login_status: what the answer (HTTP status and body) means. */
enum facebook_device_status {
        FACEBOOK_DEVICE_AUTHORIZED,   /* *ret_access_token set */
        FACEBOOK_DEVICE_PENDING,      /* subcode 1349174 */
        FACEBOOK_DEVICE_SLOW_DOWN,    /* subcode 1349172 */
        FACEBOOK_DEVICE_EXPIRED,      /* subcode 1349152 */
        FACEBOOK_DEVICE_CANCELLED,    /* subcode 1349173 */
        FACEBOOK_DEVICE_REFUSED,      /* any other Graph error: error says which */
};
#define FACEBOOK_SUBCODE_PENDING 1349174
#define FACEBOOK_SUBCODE_SLOW_DOWN 1349172
#define FACEBOOK_SUBCODE_EXPIRED 1349152
#define FACEBOOK_SUBCODE_CANCELLED 1349173
/* Returns an enum facebook_device_status, or -EBADMSG (neither a token
 * nor a Graph error) / -ENOMEM. The token is the caller's to erase. */
int facebook_login_status_parse(long status, const char *body, size_t len, char **ret_access_token, char *error,
                                size_t error_size);
