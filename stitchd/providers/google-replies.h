/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What Google's OAuth endpoints answer, read (no network here; the
 * provider, providers/oauth2-google.c, sends the requests): the device
 * authorization answer, the token endpoint's answers while a device code
 * is polled, and the error member of an OAuth error. Fuzzed in
 * tests/fuzz/fuzz-idp-replies.c with Facebook's (providers/facebook-graph.h). */

#include <cjson/cJSON.h>

#include "providers/device-login.h"

/* The "error" member of an OAuth error answer, as letters and '_' only
 * (others become '?'), at most 64 of them; "" if there is none. */
void google_oauth_error(const cJSON *body, char *buf, size_t size);

/* A device authorization answer (status and parsed body): 0 and *ret
 * filled (Google's verification_url, or RFC 8628's verification_uri;
 * expires_in and interval within sane bounds, else 0 = the module's
 * default); -EBADMSG if it is not a usable one (err gets the OAuth error,
 * if any). */
int google_device_code_parse(long status, const cJSON *body, struct stitch_device_code *ret, char *err,
                             size_t err_size);

/* A token endpoint answer to a device-code poll: STITCH_DEVICE_PENDING,
 * _SLOW_DOWN, _DENIED, _EXPIRED for Google's errors; STITCH_DEVICE_SUCCESS
 * with *ret_id_token (a copy: stitch_secret_free) for a 200 with one;
 * -EBADMSG for a 200 without; -EPROTO for another error (err says which). */
int google_device_poll_parse(long status, const cJSON *body, char **ret_id_token, char *err, size_t err_size);

/* The id_token of a 200 token answer: a copy (stitch_secret_free), or NULL. */
char *google_answer_id_token(const cJSON *body);
