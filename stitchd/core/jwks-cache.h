/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A JWK Set fetched over HTTPS and cached, for providers that verify
 * tokens with someone else's keys (custom-token's JWKSURL=, Google's
 * certs): kept as long as the response's Cache-Control says (clamped,
 * core/jwks.h), fetched again for a token with an unknown kid at most once
 * a minute, and kept after a failed fetch for up to 24 hours (then none:
 * fail closed). One fetch at a time; a login that has a stale set uses it
 * while another login refreshes it. Fetches go through core->https_get and
 * block: only network rounds call stitch_jwks_cache_get(). Thread-safe. */

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/core.h"
#include "core/jose.h"
#include "core/jwks.h"

struct stitch_jwks_cache;

/* 'who' prefixes the log lines ("custom-token"); the options come from
 * [Network]. Fetches nothing yet. -EINVAL (logged) if the URL is not one
 * the fetcher takes. */
int stitch_jwks_cache_new(const struct stitch_config *config, const char *who, const char *url,
                          enum stitch_jose_alg alg, struct stitch_jwks_cache **ret);
struct stitch_jwks_cache *stitch_jwks_cache_free(struct stitch_jwks_cache *c);
/* The URL's host, for log lines. */
const char *stitch_jwks_cache_host(const struct stitch_jwks_cache *c);

/* The set to verify with (a reference: stitch_jwks_unref), or NULL with
 * the reason in error: the cached one while fresh; otherwise, or for an
 * unknown kid (unknown_kid, with the set that lacked it in 'tried'), after
 * a fetch, within the limits above. */
struct stitch_jwks *stitch_jwks_cache_get(struct stitch_core *core, struct stitch_jwks_cache *c, bool unknown_kid,
                                          const struct stitch_jwks *tried, char *error, size_t error_size);
