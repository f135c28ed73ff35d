/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One HTTPS GET, or POST of a form, through libcurl (daemon/https-get.h).
 * Everything that could widen what a fetch reaches is pinned: the
 * protocols (https, or http to loopback for tests), no redirects, no proxy
 * from the environment, timeouts, a size cap enforced while receiving.
 * Error lines name the host and the failure, never the URL's path or
 * query, never a body sent or received (a form holds client secrets and
 * codes, a response tokens: both are wiped before they are freed). */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/curl-library.h"
#include "daemon/https-get.h"
#include "macro.h"

#define DEFAULT_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define CACHE_CONTROL_MAX 512

struct download {
        char *data;
        size_t len, max;
        bool too_large;
        char *cache_control;
};

static size_t on_data(char *buf, size_t size, size_t n, void *userdata) {
        struct download *d = userdata;
        size_t k = size * n;

        if (k > d->max - d->len) {
                d->too_large = true;
                return 0; /* aborts the transfer (CURLE_WRITE_ERROR) */
        }
        /* Not realloc: a response may hold tokens, and no copy of it is
         * left behind unwiped. */
        char *p = malloc(d->len + k + 1);
        if (!p)
                return 0;
        if (d->data) {
                memcpy(p, d->data, d->len);
                explicit_bzero(d->data, d->len);
                free(d->data);
        }
        d->data = p;
        memcpy(d->data + d->len, buf, k);
        d->len += k;
        d->data[d->len] = 0;
        return k;
}

/* Headers of the last response (a 100 Continue's are dropped with it). */
static size_t on_header(char *buf, size_t size, size_t n, void *userdata) {
        struct download *d = userdata;
        size_t k = size * n;
        static const char name[] = "cache-control:";

        if (k >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
                free(d->cache_control);
                d->cache_control = NULL;
                return k;
        }
        if (k > sizeof(name) - 1 && strncasecmp(buf, name, sizeof(name) - 1) == 0) {
                const char *v = buf + sizeof(name) - 1;
                size_t l = k - (sizeof(name) - 1);
                while (l > 0 && (*v == ' ' || *v == '\t'))
                        v++, l--;
                while (l > 0 && (v[l - 1] == '\r' || v[l - 1] == '\n' || v[l - 1] == ' ' || v[l - 1] == '\t'))
                        l--;
                if (l > CACHE_CONTROL_MAX)
                        l = CACHE_CONTROL_MAX;
                /* A repeated header: its values joined, as RFC 9110 §5.3 reads them. */
                size_t old = d->cache_control ? strlen(d->cache_control) : 0;
                if (old + l + 3 > 2 * CACHE_CONTROL_MAX)
                        return k;
                char *p = realloc(d->cache_control, old + l + 3);
                if (!p)
                        return 0;
                if (old > 0)
                        memcpy(p + old, ", ", 2), old += 2;
                memcpy(p + old, v, l);
                p[old + l] = 0;
                d->cache_control = p;
        }
        return k;
}

/* The caller's log line names the host; the reason alone goes in error. */
static int failure(int r, char *error, size_t error_size, const char *what, const char *detail) {
        if (error && error_size > 0)
                snprintf(error, error_size, "%s%s%s%s", what, detail ? " (" : "", detail ?: "", detail ? ")" : "");
        return r;
}

static int curl_failure(CURLcode c, const struct stitch_curl *curl, char *error, size_t error_size) {
        const char *s = curl->easy_strerror(c);
        switch (c) {
        case CURLE_OPERATION_TIMEDOUT:
                return failure(-ETIMEDOUT, error, error_size, "timed out", NULL);
        case CURLE_COULDNT_RESOLVE_HOST:
                return failure(-EHOSTUNREACH, error, error_size, "cannot resolve the host", s);
        case CURLE_COULDNT_CONNECT:
                return failure(-ECONNREFUSED, error, error_size, "cannot connect", s);
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
                return failure(-EPROTO, error, error_size, "TLS failed", s);
        case CURLE_UNSUPPORTED_PROTOCOL:
                return failure(-EINVAL, error, error_size, "protocol not allowed", s);
        default:
                return failure(-EIO, error, error_size, "transfer failed", s);
        }
}

static void download_wipe(struct download *d) {
        if (d->data) {
                explicit_bzero(d->data, d->len);
                free(d->data);
        }
        free(d->cache_control);
        *d = (struct download) {};
}

/* GET (form_body NULL) or POST url. any_status: every HTTP status is a
 * success, with its body (else only 200 is). */
static int transfer(const struct stitch_https_options *o, const char *url, const char *form_body, bool any_status,
                    long *ret_status, char **ret_body, size_t *ret_len, char **ret_cache_control, char *error,
                    size_t error_size) {
        char why[STITCH_HTTPS_ERROR_MAX] = "";
        struct download d = {};
        struct curl_slist *headers = NULL;
        int r;

        if (error && error_size > 0)
                error[0] = 0;
        if (!o || !url || !ret_body)
                return failure(-EINVAL, error, error_size, "bad arguments", NULL);
        r = stitch_https_url_check(url, o->allow_insecure_loopback, NULL, 0, why, sizeof(why));
        if (r < 0)
                return failure(r, error, error_size, why, NULL);
        d.max = o->max_response > 0 ? o->max_response : STITCH_HTTPS_MAX_RESPONSE;
        uint64_t timeout_usec = o->timeout_usec > 0 ? o->timeout_usec : DEFAULT_TIMEOUT_USEC;
        long timeout_ms = (long) MIN(timeout_usec / 1000, (uint64_t) LONG_MAX);
        bool plain = strncmp(url, "http://", 7) == 0;

        const struct stitch_curl *curl = stitch_curl_load();
        if (!curl)
                return failure(-ENOTCONN, error, error_size, "libcurl is not available", NULL);
        CURL *h = curl->easy_init();
        if (!h)
                return failure(-ENOMEM, error, error_size, "cannot set up libcurl", NULL);

        bool ok = curl->easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
#if LIBCURL_VERSION_NUM >= 0x075500
                  curl->easy_setopt(h, CURLOPT_PROTOCOLS_STR, plain ? "http" : "https") == CURLE_OK &&
#else
                  curl->easy_setopt(h, CURLOPT_PROTOCOLS, (long) (plain ? CURLPROTO_HTTP : CURLPROTO_HTTPS)) == CURLE_OK &&
#endif
                  curl->easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
                  curl->easy_setopt(h, CURLOPT_PROXY, "") == CURLE_OK &&
                  curl->easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
                  curl->easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) == CURLE_OK &&
                  curl->easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK &&
                  curl->easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
                  curl->easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
                  curl->easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) d.max) == CURLE_OK &&
                  curl->easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL) == CURLE_OK &&
                  curl->easy_setopt(h, CURLOPT_USERAGENT, "stitchd") == CURLE_OK &&
                  curl->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) == CURLE_OK &&
                  curl->easy_setopt(h, CURLOPT_WRITEDATA, &d) == CURLE_OK &&
                  curl->easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
                  curl->easy_setopt(h, CURLOPT_HEADERDATA, &d) == CURLE_OK;
        if (ok && o->ca_file)
                ok = curl->easy_setopt(h, CURLOPT_CAINFO, o->ca_file) == CURLE_OK;
        if (ok && form_body) {
                struct curl_slist *l = curl->slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
                if (l) {
                        headers = l;
                        l = curl->slist_append(headers, "Accept: application/json");
                }
                /* No "Expect: 100-continue" round trip for a large form. */
                if (l)
                        l = curl->slist_append(headers, "Expect:");
                ok = l && curl->easy_setopt(h, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
                     curl->easy_setopt(h, CURLOPT_POST, 1L) == CURLE_OK &&
                     curl->easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long) strlen(form_body)) == CURLE_OK &&
                     curl->easy_setopt(h, CURLOPT_POSTFIELDS, form_body) == CURLE_OK;
        }
        if (!ok) {
                curl->easy_cleanup(h);
                if (headers)
                        curl->slist_free_all(headers);
                return failure(-EIO, error, error_size, "cannot set up libcurl", NULL);
        }

        CURLcode c = curl->easy_perform(h);
        long status = 0;
        (void) curl->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (c == CURLE_FILESIZE_EXCEEDED || d.too_large)
                r = failure(-EFBIG, error, error_size, "response too large", NULL);
        else if (c != CURLE_OK)
                r = curl_failure(c, curl, error, error_size);
        else if (status != 200 && !any_status) {
                char s[32];
                snprintf(s, sizeof(s), "HTTP status %ld", status);
                r = failure(-EBADMSG, error, error_size, s, NULL);
        } else
                r = 0;
        curl->easy_cleanup(h);
        if (headers)
                curl->slist_free_all(headers);
        if (r < 0) {
                download_wipe(&d);
                return r;
        }
        if (!d.data) {
                d.data = strdup("");
                if (!d.data) {
                        download_wipe(&d);
                        return -ENOMEM;
                }
        }
        if (ret_status)
                *ret_status = status;
        *ret_body = d.data;
        if (ret_len)
                *ret_len = d.len;
        if (ret_cache_control)
                *ret_cache_control = d.cache_control;
        else
                free(d.cache_control);
        return 0;
}

int stitch_https_get(const struct stitch_https_options *o, const char *url, char **ret_body, size_t *ret_len,
                     char **ret_cache_control, char *error, size_t error_size) {
        return transfer(o, url, NULL, false, NULL, ret_body, ret_len, ret_cache_control, error, error_size);
}

int stitch_https_get_status(const struct stitch_https_options *o, const char *url, long *ret_status,
                            char **ret_body, size_t *ret_len, char *error, size_t error_size) {
        return transfer(o, url, NULL, true, ret_status, ret_body, ret_len, NULL, error, error_size);
}

int stitch_https_post_form(const struct stitch_https_options *o, const char *url, const char *form_body,
                           long *ret_status, char **ret_body, size_t *ret_len, char *error, size_t error_size) {
        if (!form_body) {
                if (error && error_size > 0)
                        snprintf(error, error_size, "bad arguments");
                return -EINVAL;
        }
        return transfer(o, url, form_body, true, ret_status, ret_body, ret_len, NULL, error, error_size);
}
