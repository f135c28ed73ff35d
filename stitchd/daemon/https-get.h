/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The HTTPS fetcher providers use (core/https.h has the rules and the
 * errors), over libcurl (daemon/curl-library.h, loaded on the first
 * fetch). The manager hands them to the core as stitch_core.https_get,
 * .https_get_status and .https_post_form.
 * Blocks up to the timeout: network threads only. */

#include "core/https.h"

int stitch_https_get(const struct stitch_https_options *o, const char *url, char **ret_body, size_t *ret_len,
                     char **ret_cache_control, char *error, size_t error_size);
int stitch_https_get_status(const struct stitch_https_options *o, const char *url, long *ret_status,
                            char **ret_body, size_t *ret_len, char *error, size_t error_size);
int stitch_https_post_form(const struct stitch_https_options *o, const char *url, const char *form_body,
                           long *ret_status, char **ret_body, size_t *ret_len, char *error, size_t error_size);
