/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Outgoing HTTPS GETs of providers (a JWK Set): what the core knows of
 * them. The fetcher itself is the daemon's (daemon/https-get.c, libcurl),
 * handed to the core as a function pointer (stitch_core.https_get), as the
 * mailer is (core/outbox.h): the core never sees libcurl. Rules: https
 * only (plain http only to a loopback address literal, and only with
 * [Network] AllowInsecureLoopback=yes, for tests), no redirects, connect
 * and total timeouts ([Network] Timeout=), a size cap, [Network] CAFile=
 * for a private CA. A fetch blocks: only network rounds (providers/
 * provider.h .network) may call it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STITCH_HTTPS_MAX_RESPONSE 65536 /* bytes of body */
#define STITCH_HTTPS_URL_MAX 2048
#define STITCH_HTTPS_HOST_MAX 256
#define STITCH_HTTPS_ERROR_MAX 256

struct stitch_https_options {
        const char *ca_file;        /* NULL: the system's CAs */
        uint64_t timeout_usec;      /* connect, and the whole transfer; 0: 10 s */
        bool allow_insecure_loopback; /* http:// to 127.0.0.1 / [::1] */
        size_t max_response;        /* 0: STITCH_HTTPS_MAX_RESPONSE */
};

/* Whether url is one the fetcher takes: "https://HOST[:PORT][/PATH]" (or
 * "http://" with a loopback literal host when allow_insecure_loopback),
 * printable ASCII without spaces, no userinfo ("@" before the path), at
 * most STITCH_HTTPS_URL_MAX bytes. Returns 0 and writes the host (for log
 * lines; never secret) when ret_host is not NULL; -EINVAL otherwise, with
 * the reason in error. */
int stitch_https_url_check(const char *url, bool allow_insecure_loopback, char *ret_host, size_t host_size,
                           char *error, size_t error_size);

/* The fetcher (stitch_core.https_get). GETs url; on status 200 with a body
 * within the cap returns 0, the body (NUL-terminated, *ret_len bytes) and
 * the Cache-Control header's value (NULL when absent). Errors: -EINVAL bad
 * URL or options, -ETIMEDOUT, -ECONNREFUSED (connect), -EPROTO (TLS,
 * certificate), -EBADMSG (an HTTP status other than 200), -EFBIG (too
 * large), -ENOTCONN (no fetcher: libcurl missing), -EIO otherwise; error
 * gets a line that names no secret (the URL's host at most). */
typedef int (*stitch_https_get_t)(const struct stitch_https_options *o, const char *url, char **ret_body,
                                  size_t *ret_len, char **ret_cache_control, char *error, size_t error_size);

/* The same request, answered whatever its HTTP status (an OAuth token
 * endpoint answers 400, 403, 428 with a JSON error body the provider must
 * read): returns 0 with *ret_status and the body (NUL-terminated, *ret_len
 * bytes, possibly empty) for any status; the errors above otherwise, never
 * -EBADMSG. Bodies may hold tokens: the caller wipes (explicit_bzero) and
 * frees *ret_body.
 *
 * stitch_core.https_get_status GETs url; stitch_core.https_post_form POSTs
 * form_body (application/x-www-form-urlencoded, already encoded, see
 * stitch_form_append(); "Accept: application/json"). The form holds client
 * secrets and codes: it never appears in error, in a log line or in a
 * redirect (none is followed), and the fetcher wipes its copies. Same
 * rules as the GET: https only (loopback http for tests), no redirects,
 * timeouts, size cap, CAFile. */
typedef int (*stitch_https_get_status_t)(const struct stitch_https_options *o, const char *url, long *ret_status,
                                         char **ret_body, size_t *ret_len, char *error, size_t error_size);
typedef int (*stitch_https_post_form_t)(const struct stitch_https_options *o, const char *url, const char *form_body,
                                        long *ret_status, char **ret_body, size_t *ret_len, char *error,
                                        size_t error_size);

/* Appends "name=value" (both percent-encoded as application/x-www-form-
 * urlencoded: unreserved characters kept, space as %20, everything else
 * %XX), with "&" before it unless *form is empty, to a malloc'ed string
 * (*form NULL: a new one). The old string is wiped before it is freed
 * (forms hold secrets). Returns 0, -ENOMEM. */
int stitch_form_append(char **form, const char *name, const char *value);
/* Wipes and frees a form or a response body (NULL: nothing). */
void stitch_secret_free(char *s);
