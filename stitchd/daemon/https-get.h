/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The HTTPS fetcher providers use (core/https.h has the rules and the
 * errors), over libcurl (daemon/curl-library.h, loaded on the first
 * fetch). The manager hands it to the core as stitch_core.https_get.
 * Blocks up to the timeout: network threads only. */

#include "core/https.h"

int stitch_https_get(const struct stitch_https_options *o, const char *url, char **ret_body, size_t *ret_len,
                     char **ret_cache_control, char *error, size_t error_size);
