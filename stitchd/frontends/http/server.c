/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HTTP front end: libmicrohttpd on threads of its own ([Http]
 * Threads=, one per CPU by default), each an epoll loop over its share of
 * the connections. Handlers of fast routes run there, on every CPU (a
 * refresh signs a token: one thread would bound it to one CPU); slow ones
 * on the workers, which resume the suspended connection when done. So
 * everything a handler or a callback here touches is shared between
 * threads: the suspended list (h->lock), the connections' table (its own
 * lock), the metrics (atomics), the profile cache (a shared one) and the
 * core (thread-safe on its own). (Run from stitchd's event loop instead,
 * with MHD's epoll fd in sd-event, libmicrohttpd 0.9.75 did not notice the
 * next request on a keep-alive connection that had been suspended until
 * its next timeout, about 250 ms later.) */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>

#include <microhttpd.h>

#include "frontends/http/connections.h"
#include "frontends/http/metrics.h"
#include "frontends/http/request.h"
#include "core/generation-cache.h"
#include "core/page-texts.h"
#include "core/tokens.h"
#include "frontends/http/server.h"
#include "clock.h"
#include "validate.h"
#include "log.h"
#include "wire.h"

#define HTTP_MEMORY_LIMIT (32 * 1024) /* per connection: headers and buffers */
#define HTTP_TLS_FILE_MAX (256 * 1024)
/* An oversized body up to this size is read and dropped before the 413, so
 * the client gets the answer rather than a reset (bounded by Timeout=). */
#define HTTP_DRAIN_MAX (4 * 1024 * 1024)

enum exchange_state {
        EXCHANGE_RECEIVING,
        EXCHANGE_RUNNING, /* on a worker; the connection is suspended */
        EXCHANGE_READY,   /* the worker is done; send on the next call */
};

/* A request from its first header to its completion. */
struct exchange {
        struct http_request r; /* what handlers see */
        struct MHD_Connection *conn;
        const char *method;    /* MHD's, valid until completion */
        int route_index;       /* -1: none */
        enum exchange_state state;
        char *buf;             /* the body as received */
        size_t len, max;
        bool too_large;
        bool refuse_unread;    /* too large to read through: answered before the body */
        bool preflight;
        char *origin;          /* Origin:, if allowed */
        char allow[64];        /* 405: Allow */
        uint64_t start_usec;
        struct http_connection *tracked; /* its connection's deadline and caps (connections.h) */
        struct exchange *prev, *next; /* suspended ones, for shutdown */
};

struct stitch_http {
        struct stitch_manager *manager;
        struct MHD_Daemon *daemon;
        int listen_fd;
        bool quiesced;      /* the listening socket is ours again */
        pthread_mutex_t lock; /* suspended */
        char *public_url;
        char *tls_cert, *tls_key; /* PEM, kept while the daemon runs (MHD points into them) */
        size_t tls_key_len;
        bool stopping;
        struct exchange *suspended;
        struct http_connections *connections;
        struct http_metrics metrics;
        struct stitch_cache *profiles; /* profile replies by user (client.c) */
        struct stitch_page_texts *page_texts; /* the pages' words ([Smtp] TemplateDirectory=) */
        /* Memory back when the requests stop (see idle_*). */
        int idle_fd;                  /* eventfd: MHD's threads -> the event loop */
        sd_event_source *idle_io, *idle_timer;
        uint64_t requests_done;       /* atomic */
        uint64_t requests_seen;       /* event loop: requests_done when the timer was set */
        uint64_t last_request_usec;   /* atomic: CLOCK_MONOTONIC when the last one finished */
        bool idle_armed;              /* atomic: the timer runs or is about to */
};

/* ---- replies -------------------------------------------------------------------- */

static void reply_set(struct http_request *r, unsigned status, char *body, const char *content_type, bool secret) {
        if (r->response) {
                if (r->response_secret)
                        explicit_bzero(r->response, r->response_len);
                free(r->response);
        }
        r->status = status;
        r->response = body;
        r->response_len = body ? strlen(body) : 0;
        r->content_type = content_type;
        r->response_secret = secret;
}

static void reply_json(struct http_request *r, unsigned status, cJSON *j, bool secret) {
        char *s = j ? cJSON_PrintUnformatted(j) : NULL;
        if (j)
                secret ? stitch_json_wipe_and_delete(j) : cJSON_Delete(j);
        if (!s) {
                reply_set(r, 500, strdup("{\"error\":\"out of memory\",\"error_code\":\"InternalServerError\",\"link\":\"\"}"),
                          "application/json", false);
                return;
        }
        reply_set(r, status, s, "application/json", secret);
}

void http_reply_strings(struct http_request *r, unsigned status, size_t n, const char *const names[],
                        const char *const values[], bool secret) {
        size_t len = 2, lens[2][HTTP_REPLY_STRINGS_MAX];
        assert(n <= HTTP_REPLY_STRINGS_MAX);
        for (size_t i = 0; i < n; i++) {
                if (!values[i])
                        continue;
                lens[0][i] = strlen(names[i]);
                lens[1][i] = strlen(values[i]);
                len += STITCH_JSON_STRING_MAX(lens[0][i]) + 1 + STITCH_JSON_STRING_MAX(lens[1][i]) + 1;
        }
        char *body = malloc(len + 1);
        if (!body) {
                reply_json(r, status, NULL, false); /* the 500 */
                return;
        }
        size_t k = 0;
        body[k++] = '{';
        for (size_t i = 0; i < n; i++) {
                if (!values[i])
                        continue;
                if (k > 1)
                        body[k++] = ',';
                k += stitch_json_string_render(names[i], lens[0][i], body + k);
                body[k++] = ':';
                k += stitch_json_string_render(values[i], lens[1][i], body + k);
        }
        body[k++] = '}';
        body[k] = 0;
        reply_set(r, status, body, "application/json", secret);
}

void http_reply_json(struct http_request *r, unsigned status, cJSON *j) {
        reply_json(r, status, j, false);
}

void http_reply_secret_json(struct http_request *r, unsigned status, cJSON *j) {
        reply_json(r, status, j, true);
}

void http_reply_error(struct http_request *r, unsigned status, const char *code, const char *format, ...) {
        char message[256];
        va_list ap;
        va_start(ap, format);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        vsnprintf(message, sizeof(message), format, ap);
#pragma GCC diagnostic pop
        va_end(ap);
        http_reply_strings(r, status, 3, (const char *const[]) {"error", "error_code", "link"},
                           (const char *const[]) {message, code, ""}, false);
}

void http_reply_page(struct http_request *r, unsigned status, char *html) {
        if (!html) {
                /* Out of memory, or a request no page can answer. */
                static const char fallback[] = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                                               "<title>Error</title></head><body><p>The request could not be "
                                               "answered.</p></body></html>\n";
                html = strdup(fallback);
                if (status < 400)
                        status = 500;
        }
        reply_set(r, html ? status : 500, html, "text/html; charset=utf-8", false);
}

void http_reply_empty(struct http_request *r, unsigned status) {
        reply_set(r, status, NULL, NULL, false);
}

void http_reply_invalid_session(struct http_request *r, const char *why) {
        http_reply_error(r, 401, "InvalidSession", "invalid session: %s", why ? why : "unknown token");
}

void http_reply_errno(struct http_request *r, int error, const char *what) {
        error = error < 0 ? -error : error;
        if (error == EBUSY || error == EAGAIN) {
                http_reply_error(r, 503, "ServiceUnavailable", "%s: busy, try again", what);
                return;
        }
        /* The store or an identity provider cannot be reached: the
         * request may work later, nothing was judged. */
        if (error == ENOTCONN || error == ECONNREFUSED || error == EHOSTDOWN || error == ETIMEDOUT) {
                log_warning_errno(error, "HTTP %s: a server it needs cannot be reached: %m", what);
                http_reply_error(r, 503, "ServiceUnavailable", "%s: a server it needs is unavailable, try again",
                                 what);
                return;
        }
        if (error == ENOSPC)
                log_error("Store is full: %s failed.", what);
        else
                log_error_errno(error, "HTTP %s failed: %m", what);
        http_reply_error(r, 500, "InternalServerError", "%s failed; nothing was changed", what);
}

int http_body_string(struct http_request *r, const char *name, size_t max, bool required, const char **ret) {
        const cJSON *v = r->body ? cJSON_GetObjectItemCaseSensitive(r->body, name) : NULL;
        *ret = NULL;
        if (!v || cJSON_IsNull(v))
                return required ? -EINVAL : 0;
        if (!cJSON_IsString(v) || !v->valuestring || strlen(v->valuestring) > max ||
            (required && !v->valuestring[0]))
                return -EINVAL;
        *ret = v->valuestring;
        return 0;
}

const char *http_location_url(const struct stitch_http *h) {
        return h->public_url;
}

/* ---- routing ---------------------------------------------------------------------- */

static bool segment_valid(const char *s, size_t n) {
        if (n == 0 || n >= HTTP_PARAM_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.'))
                        return false;
        }
        return true;
}

/* Whether path matches the route's pattern; fills params. */
static bool path_matches(const char *pattern, const char *path, char params[2][HTTP_PARAM_MAX], bool *ret_app_ok,
                         const char *app_id) {
        size_t n_params = 0;
        *ret_app_ok = true;
        while (*pattern && *path) {
                if (*pattern != '/' || *path != '/')
                        return false;
                pattern++, path++;
                size_t pl = strcspn(pattern, "/"), sl = strcspn(path, "/");
                if (pattern[0] == ':') {
                        if (!segment_valid(path, sl))
                                return false;
                        if (pl == 4 && strncmp(pattern, ":app", 4) == 0) {
                                if (strlen(app_id) != sl || strncmp(path, app_id, sl) != 0)
                                        *ret_app_ok = false;
                        } else if (n_params < 2) {
                                memcpy(params[n_params], path, sl);
                                params[n_params][sl] = 0;
                                n_params++;
                        }
                } else if (pl != sl || strncmp(pattern, path, pl) != 0)
                        return false;
                pattern += pl, path += sl;
        }
        return !*pattern && !*path;
}

/* Finds the route; 404/405 are prepared as the reply when none fits. */
/* A page's query: the arguments its links carry (token, tokenId, locale),
 * each at most 512 bytes; anything else is not read. */
static void page_query(struct MHD_Connection *conn, struct http_form *q) {
        static const char *const names[] = {"token", "tokenId", "locale"};
        for (size_t i = 0; i < ELEMENTSOF(names) && q->n < HTTP_FORM_MAX; i++) {
                const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, names[i]);
                if (!v || strlen(v) > 512)
                        continue;
                q->names[q->n] = strdup(names[i]);
                q->values[q->n] = strdup(v);
                q->value_lens[q->n] = strlen(v);
                if (!q->names[q->n] || !q->values[q->n]) {
                        free(q->names[q->n]);
                        free(q->values[q->n]);
                        continue;
                }
                q->n++;
        }
}

/* Whether an Origin: header is PublicURL's scheme://host[:port]. */
static bool same_origin(const char *origin, const char *public_url) {
        size_t n = strlen(origin);
        return public_url && strncmp(public_url, origin, n) == 0 && (public_url[n] == 0 || public_url[n] == '/');
}

static void route_request(struct stitch_http *h, struct exchange *x, const char *url) {
        bool path_known = false, app_ok = true;
        size_t allow_len = 0;

        x->route_index = -1;
        for (size_t i = 0; i < http_n_routes; i++) {
                const struct http_route *rt = &http_routes[i];
                char params[2][HTTP_PARAM_MAX] = {};
                bool ok;
                if (!path_matches(rt->path, url, params, &ok, h->manager->core->config.http_app_id))
                        continue;
                path_known = true;
                if (!ok) {
                        app_ok = false;
                        continue;
                }
                if (streq(rt->method, x->method)) {
                        x->route_index = (int) i;
                        x->r.route = rt;
                        memcpy(x->r.params, params, sizeof(params));
                        return;
                }
                int k = snprintf(x->allow + allow_len, sizeof(x->allow) - allow_len, "%s%s",
                                 allow_len ? ", " : "", rt->method);
                if (k > 0 && (size_t) k < sizeof(x->allow) - allow_len)
                        allow_len += (size_t) k;
        }
        if (!path_known || !app_ok || allow_len == 0) {
                x->allow[0] = 0;
                if (path_known && !app_ok)
                        http_reply_error(&x->r, 404, "NotFound", "app not found");
                else
                        http_reply_error(&x->r, 404, "NotFound", "route not found");
                return;
        }
        if (streq(x->method, "OPTIONS")) {
                x->preflight = true;
                return;
        }
        http_reply_error(&x->r, 405, "MethodNotAllowed", "method %s not allowed here", x->method);
}

/* ---- the client address ------------------------------------------------------------ */

static bool address_trusted(const struct stitch_http *h, const char *address) {
        unsigned char a[sizeof(struct in6_addr)], b[sizeof(struct in6_addr)];
        int fa = strchr(address, ':') ? AF_INET6 : AF_INET;
        if (inet_pton(fa, address, a) != 1)
                return false;
        for (char **p = h->manager->core->config.http_trusted_proxies; p && *p; p++) {
                int fb = strchr(*p, ':') ? AF_INET6 : AF_INET;
                if (fa == fb && inet_pton(fb, *p, b) == 1 && memcmp(a, b, fa == AF_INET ? 4 : 16) == 0)
                        return true;
        }
        return false;
}

static void peer_address(struct MHD_Connection *conn, char ret[HTTP_ADDRESS_MAX]) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        snprintf(ret, HTTP_ADDRESS_MAX, "unknown");
        if (!ci || !ci->client_addr)
                return;
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, ret, HTTP_ADDRESS_MAX);
        else if (sa->sa_family == AF_INET6) {
                const struct in6_addr *a6 = &((const struct sockaddr_in6 *) sa)->sin6_addr;
                if (IN6_IS_ADDR_V4MAPPED(a6))
                        inet_ntop(AF_INET, &a6->s6_addr[12], ret, HTTP_ADDRESS_MAX);
                else
                        inet_ntop(AF_INET6, a6, ret, HTTP_ADDRESS_MAX);
        }
}

#define XFF_LINES_MAX 32

/* The last XFF_LINES_MAX X-Forwarded-For lines, in the order received
 * (only the right end of the list is ever read). */
struct xff_lines {
        const char *line[XFF_LINES_MAX];
        size_t n; /* lines seen; line[i % XFF_LINES_MAX] */
};

static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        struct xff_lines *x = cls;
        (void) kind;
        if (key && strcasecmp(key, "X-Forwarded-For") == 0)
                x->line[x->n++ % XFF_LINES_MAX] = value ? value : "";
        return MHD_YES;
}

/* The peer, or from a trusted proxy the nearest X-Forwarded-For hop that
 * is not itself a trusted proxy. A header sent as several lines is one
 * list, the lines joined in order (RFC 9110, 5.3): a proxy that appends a
 * line of its own (HAProxy's option forwardfor) leaves the client's lines
 * first, so only the right end of the joined list can be believed. It is
 * walked from the right, line by line, as if joined with ",". */
static void client_address(struct stitch_http *h, struct MHD_Connection *conn, char ret[HTTP_ADDRESS_MAX]) {
        struct xff_lines lines = {};

        peer_address(conn, ret);
        if (!address_trusted(h, ret))
                return;
        (void) MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_xff, &lines);
        size_t first = lines.n > XFF_LINES_MAX ? lines.n - XFF_LINES_MAX : 0;
        for (size_t l = lines.n; l > first; l--) {
                const char *xff = lines.line[(l - 1) % XFF_LINES_MAX];
                size_t end = strlen(xff);
                for (;;) {
                        size_t start = end;
                        while (start > 0 && xff[start - 1] != ',')
                                start--;
                        size_t a = start, b = end;
                        while (a < b && (xff[a] == ' ' || xff[a] == '\t'))
                                a++;
                        while (b > a && (xff[b - 1] == ' ' || xff[b - 1] == '\t'))
                                b--;
                        char hop[HTTP_ADDRESS_MAX];
                        unsigned char bin[sizeof(struct in6_addr)];
                        if (b - a == 0 || b - a >= sizeof(hop))
                                return; /* malformed: keep what we have */
                        memcpy(hop, xff + a, b - a);
                        hop[b - a] = 0;
                        if (inet_pton(strchr(hop, ':') ? AF_INET6 : AF_INET, hop, bin) != 1)
                                return;
                        memcpy(ret, hop, b - a + 1);
                        if (!address_trusted(h, hop))
                                return;
                        if (start == 0)
                                break; /* this line is done: on to the line before it */
                        end = start - 1;
                }
        }
}

/* ---- CORS ------------------------------------------------------------------------- */

static bool origin_allowed(const struct stitch_http *h, const char *origin) {
        if (!origin)
                return false;
        for (char **p = h->manager->core->config.http_allow_origins; p && *p; p++)
                if (streq(*p, "*") || streq(*p, origin))
                        return true;
        return false;
}

/* ---- sending ----------------------------------------------------------------------- */

static void free_secret(void *p) {
        if (p) {
                explicit_bzero(p, strlen(p));
                free(p);
        }
}

static enum MHD_Result send_reply(struct stitch_http *h, struct exchange *x) {
        struct http_request *r = &x->r;
        struct MHD_Response *resp;

        if (r->status == 0)
                http_reply_error(r, 500, "InternalServerError", "no reply");
        if (r->response) {
                char *body = TAKE_PTR(r->response);
                resp = MHD_create_response_from_buffer_with_free_callback(r->response_len, body,
                                                                          r->response_secret ? free_secret : free);
                if (!resp)
                        free_secret(body);
        } else
                resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (!resp)
                return MHD_NO;
        if (r->response_len > 0 || r->content_type)
                MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "application/json");
        /* Tokens and keys: no cache keeps them. */
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        if (x->r.route && x->r.route->page) {
                /* The pages load nothing but their own style sheet, post
                 * only to themselves, are never framed, and never tell
                 * another site the link (its token) they were opened with
                 * (same-origin, not no-referrer: with no-referrer a browser
                 * sends "Origin: null" on the form's post, which is refused). */
                MHD_add_response_header(resp, "Content-Security-Policy",
                                        "default-src 'none'; style-src 'self'; form-action 'self'; "
                                        "base-uri 'none'; frame-ancestors 'none'");
                MHD_add_response_header(resp, "X-Frame-Options", "DENY");
                MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
                MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
        }
        if (r->status == 405 && x->allow[0])
                MHD_add_response_header(resp, "Allow", x->allow);
        if (r->status == 429 && r->retry_after_sec > 0) {
                char ra[24];
                snprintf(ra, sizeof(ra), "%llu", (unsigned long long) r->retry_after_sec);
                MHD_add_response_header(resp, "Retry-After", ra);
        }
        if (x->origin) {
                MHD_add_response_header(resp, "Access-Control-Allow-Origin", x->origin);
                MHD_add_response_header(resp, "Vary", "Origin");
                if (x->preflight) {
                        MHD_add_response_header(resp, "Access-Control-Allow-Methods",
                                                x->allow[0] ? x->allow : "GET, POST, PUT, DELETE");
                        MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Authorization, Content-Type");
                        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
                }
        }
        enum MHD_Result ok = MHD_queue_response(x->conn, r->status, resp);
        MHD_destroy_response(resp);

        uint64_t usec = stitch_now_usec(CLOCK_MONOTONIC) - x->start_usec;
        http_metrics_observe(&h->metrics, x->route_index, r->status, usec);
        /* One line per request costs more than a profile read (a formatted,
         * escaped write); at these rates journald would drop most of them
         * anyway. Failures are what an admin looks for: by default only they
         * are logged (logins and logouts have their own lines). */
        enum stitch_http_access_log what = h->manager->core->config.http_access_log;
        if (what == STITCH_HTTP_ACCESS_LOG_ALL || (what == STITCH_HTTP_ACCESS_LOG_ERRORS && r->status >= 400))
                log_info("http: %s %s %u %llu.%03llums %s", x->method,
                         x->r.route ? x->r.route->template : (x->preflight ? "(preflight)" : "(no route)"),
                         r->status, (unsigned long long) (usec / 1000), (unsigned long long) (usec % 1000),
                         r->client);
        return ok;
}

/* ---- running a request ---------------------------------------------------------------- */

static bool body_has_nul(const char *s, size_t n) {
        if (memchr(s, 0, n))
                return true;
        /* \u0000 in a JSON string: cJSON would cut the string there. */
        for (size_t i = 0; i + 6 <= n; i++)
                if (s[i] == '\\' && s[i + 1] == 'u' && s[i + 2] == '0' && s[i + 3] == '0' && s[i + 4] == '0' &&
                    s[i + 5] == '0')
                        return true;
        return false;
}

static int parse_body(struct exchange *x) {
        if (x->len == 0)
                return 0;
        if (x->r.route->page) {
                const char *ct = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, "Content-Type");
                if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0 ||
                    (ct[33] != 0 && ct[33] != ';')) {
                        http_reply_page(&x->r, 415, NULL);
                        return -EINVAL;
                }
                if (memchr(x->buf, 0, x->len) || http_form_parse(x->buf, x->len, &x->r.form) < 0) {
                        http_reply_page(&x->r, 400, NULL);
                        return -EINVAL;
                }
                return 0;
        }
        if (body_has_nul(x->buf, x->len)) {
                http_reply_error(&x->r, 400, "BadRequest", "request body must not contain NUL characters");
                return -EINVAL;
        }
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(x->buf, x->len, &end, false);
        if (!j || !cJSON_IsObject(j)) {
                cJSON_Delete(j);
                http_reply_error(&x->r, 400, "BadRequest", "request body must be a JSON object");
                return -EINVAL;
        }
        for (; end && end < x->buf + x->len; end++)
                if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n') {
                        cJSON_Delete(j);
                        http_reply_error(&x->r, 400, "BadRequest", "trailing data after the JSON body");
                        return -EINVAL;
                }
        x->r.body = j;
        return 0;
}

static void suspended_remove(struct stitch_http *h, struct exchange *x);

/* On a worker: the handler, then the connection goes on (resuming is
 * allowed from any thread; the connection's MHD thread then sends the reply). */
static void worker_run(void *userdata) {
        struct exchange *x = userdata;
        struct stitch_http *h = x->r.http;
        x->r.route->handler(&x->r);
        pthread_mutex_lock(&h->lock);
        x->state = EXCHANGE_READY;
        suspended_remove(h, x);
        MHD_resume_connection(x->conn);
        pthread_mutex_unlock(&h->lock);
}

static void suspended_remove(struct stitch_http *h, struct exchange *x) {
        if (x->prev)
                x->prev->next = x->next;
        else if (h->suspended == x)
                h->suspended = x->next;
        if (x->next)
                x->next->prev = x->prev;
        x->prev = x->next = NULL;
}

static void start_request(struct stitch_http *h, struct exchange *x, const char *url) {
        struct MHD_Connection *conn = x->conn;

        client_address(h, conn, x->r.client);
        const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
        if (origin_allowed(h, origin))
                x->origin = strdup(origin);

        route_request(h, x, url);
        if (x->preflight) {
                if (!x->origin)
                        http_reply_error(&x->r, 403, "Forbidden", "origin not allowed");
                else
                        http_reply_empty(&x->r, 204);
                return;
        }
        if (!x->r.route)
                return; /* answered already; a body is read and dropped */
        x->max = x->r.route->max_body;

        const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        if (auth && strncasecmp(auth, "Bearer ", 7) == 0 && strlen(auth + 7) <= 8192) {
                const char *t = auth + 7;
                while (*t == ' ')
                        t++;
                x->r.bearer = strdup(t);
        }
        const char *link = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "link");
        x->r.link = link && streq(link, "true");
        if (x->r.route->page) {
                page_query(conn, &x->r.query);
                /* A form posted from another site: refused (the token in it
                 * is the real guard; this keeps other origins out besides). */
                x->r.origin_foreign = origin && !same_origin(origin, h->public_url);
        }

        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
                char *e = NULL;
                errno = 0;
                unsigned long long n = strtoull(cl, &e, 10);
                if (errno != 0 || e == cl || n > x->max)
                        x->too_large = true;
                /* A reply sent over a body still coming makes the close a
                 * reset, and the client sees that instead of the 413: a body
                 * of moderate size is read through (and dropped), as servers
                 * linger before closing; only a huge one is refused unread. */
                if (x->too_large && (errno != 0 || e == cl || n > HTTP_DRAIN_MAX))
                        x->refuse_unread = true;
        }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        struct stitch_http *h = cls;
        struct exchange *x = *con_cls;
        (void) version;

        if (!x) {
                x = calloc(1, sizeof(*x));
                if (!x)
                        return MHD_NO;
                x->r.http = h;
                x->r.manager = h->manager;
                x->r.metrics = &h->metrics;
                x->r.profiles = h->profiles;
                x->r.page_texts = h->page_texts;
                x->conn = conn;
                x->method = method;
                x->route_index = -1;
                x->start_usec = stitch_now_usec(CLOCK_MONOTONIC);
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
                x->tracked = ci ? ci->socket_context : NULL;
                *con_cls = x;
                start_request(h, x, url);
                /* Refuse a huge announced body before reading it (the
                 * connection closes after the reply). */
                if (x->refuse_unread) {
                        http_connections_request_received(h->connections, x->tracked);
                        http_reply_error(&x->r, 413, "BadRequest", "request body too large");
                        return send_reply(h, x);
                }
                return MHD_YES;
        }

        if (x->state == EXCHANGE_READY)
                return send_reply(h, x);
        if (x->state == EXCHANGE_RUNNING)
                return MHD_YES; /* not expected while suspended */

        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;
                *upload_data_size = 0;
                if (!x->r.route || x->r.status)
                        return MHD_YES; /* answered already (404, 405): dropped */
                if (x->too_large || x->len + n > x->max) {
                        x->too_large = true;
                        return MHD_YES; /* discarded; answered at the end */
                }
                if (!x->buf) {
                        x->buf = malloc(x->max + 1);
                        if (!x->buf)
                                return MHD_NO;
                }
                memcpy(x->buf + x->len, upload_data, n);
                x->len += n;
                return MHD_YES;
        }

        /* The whole request is in: Timeout= no longer runs for it. */
        http_connections_request_received(h->connections, x->tracked);
        if (x->too_large)
                http_reply_error(&x->r, 413, "BadRequest", "request body too large");
        if (x->r.status || !x->r.route)
                return send_reply(h, x);
        if (parse_body(x) < 0)
                return send_reply(h, x);
        if (x->r.route->worker) {
                pthread_mutex_lock(&h->lock);
                x->state = EXCHANGE_RUNNING;
                MHD_suspend_connection(conn);
                x->next = h->suspended;
                if (x->next)
                        x->next->prev = x;
                h->suspended = x;
                pthread_mutex_unlock(&h->lock);
                int r = stitch_workers_submit(h->manager->workers, worker_run, NULL, x);
                if (r < 0) {
                        pthread_mutex_lock(&h->lock);
                        suspended_remove(h, x);
                        x->state = EXCHANGE_READY;
                        http_reply_errno(&x->r, r, "request");
                        MHD_resume_connection(conn);
                        pthread_mutex_unlock(&h->lock);
                }
                return MHD_YES;
        }
        x->r.route->handler(&x->r);
        return send_reply(h, x);
}

/* ---- memory back when idle ----------------------------------------------------------
 *
 * Every thread that serves requests leaves freed memory in its malloc arena
 * (connection buffers, replies), and glibc gives back only what is above
 * the top of a thread's arena by itself. The workers trim 2 s after their
 * last job; requests that never reach a worker (refreshes, profiles) would
 * leave theirs resident for good. So HTTP_IDLE_TRIM_USEC after the last
 * request, the event loop calls malloc_trim(). MHD's threads only count
 * requests and note when the last one finished, and wake the loop (an
 * eventfd write) when no timer is set, at most once per idle period. A
 * timer that finds requests since it was set is set again for
 * HTTP_IDLE_TRIM_USEC after the last one, not after itself: the memory goes
 * back 2 s after the requests stop, not anywhere from 2 to 4 s. */
#define HTTP_IDLE_TRIM_USEC (2 * USEC_PER_SEC)

static void idle_note_request(struct stitch_http *h) {
        __atomic_store_n(&h->last_request_usec, stitch_now_usec(CLOCK_MONOTONIC), __ATOMIC_RELAXED);
        __atomic_fetch_add(&h->requests_done, 1, __ATOMIC_RELAXED);
        if (h->idle_fd >= 0 && !__atomic_exchange_n(&h->idle_armed, true, __ATOMIC_ACQ_REL))
                (void) eventfd_write(h->idle_fd, 1);
}

static void idle_arm(struct stitch_http *h) {
        h->requests_seen = __atomic_load_n(&h->requests_done, __ATOMIC_RELAXED);
        if (sd_event_source_set_time_relative(h->idle_timer, HTTP_IDLE_TRIM_USEC) >= 0)
                (void) sd_event_source_set_enabled(h->idle_timer, SD_EVENT_ONESHOT);
}

static int on_idle_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct stitch_http *h = userdata;
        eventfd_t v;
        (void) s;
        (void) revents;
        (void) eventfd_read(fd, &v);
        idle_arm(h);
        return 0;
}

static int on_idle_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct stitch_http *h = userdata;
        (void) s;
        (void) usec;
        uint64_t done = __atomic_load_n(&h->requests_done, __ATOMIC_RELAXED);
        if (done != h->requests_seen) {
                /* Still busy: look again HTTP_IDLE_TRIM_USEC after the last
                 * request (a time already past fires at once, and the count
                 * decides again). */
                h->requests_seen = done;
                uint64_t last = __atomic_load_n(&h->last_request_usec, __ATOMIC_RELAXED);
                if (sd_event_source_set_time(s, last + HTTP_IDLE_TRIM_USEC) >= 0)
                        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                return 0;
        }
        /* Disarmed before the trim: a request finishing from now on sets
         * the timer again. */
        __atomic_store_n(&h->idle_armed, false, __ATOMIC_RELEASE);
        /* The store's page caches too: refreshes and profiles read through
         * them and never reach the workers, whose idle hook also does this. */
        (void) stitch_core_release_idle_memory(h->manager->core);
        /* And the derived answers: they are rebuilt by the next requests. */
        stitch_cache_clear(h->profiles);
        stitch_core_drop_caches(h->manager->core);
        (void) malloc_trim(0);
        log_debug("HTTP idle: profile and token caches emptied, memory given back.");
        return 0;
}

static void idle_fd_close(struct stitch_http *h) {
        if (h->idle_fd >= 0)
                close(h->idle_fd);
        h->idle_fd = -1;
}

static int idle_trim_start(struct stitch_http *h, sd_event *event) {
        h->idle_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (h->idle_fd < 0)
                return -errno;
        int r = sd_event_add_io(event, &h->idle_io, h->idle_fd, EPOLLIN, on_idle_wake, h);
        if (r < 0)
                return r;
        r = sd_event_add_time_relative(event, &h->idle_timer, CLOCK_MONOTONIC, HTTP_IDLE_TRIM_USEC, 100 * 1000,
                                       on_idle_timer, h);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(h->idle_timer, SD_EVENT_OFF);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        struct stitch_http *h = cls;
        struct exchange *x = *con_cls;
        (void) toe;
        /* The next request on this connection has Timeout= from now. */
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        if (ci)
                http_connections_request_done(h->connections, ci->socket_context);
        if (!x)
                return;
        *con_cls = NULL;
        idle_note_request(h);
        pthread_mutex_lock(&h->lock);
        suspended_remove(h, x);
        pthread_mutex_unlock(&h->lock);
        if (x->buf) {
                explicit_bzero(x->buf, x->len);
                free(x->buf);
        }
        if (x->r.body)
                stitch_json_wipe_and_delete(x->r.body);
        if (x->r.bearer)
                erase_and_free(x->r.bearer);
        http_form_done(&x->r.form);
        http_form_done(&x->r.query);
        if (x->r.response) {
                if (x->r.response_secret)
                        explicit_bzero(x->r.response, x->r.response_len);
                free(x->r.response);
        }
        free(x->origin);
        free(x);
}

static socklen_t sockaddr_len(const struct sockaddr *sa) {
        if (!sa)
                return 0;
        return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
        struct stitch_http *h = cls;
        if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
                const union MHD_ConnectionInfo *fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
                const union MHD_ConnectionInfo *ca = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
                const struct sockaddr *sa = ca ? ca->client_addr : NULL;
                *socket_context = fd ? http_connections_started(h->connections, fd->connect_fd, sa, sockaddr_len(sa))
                                     : NULL;
                http_metrics_add(&h->metrics.connections_open, 1);
                http_metrics_add(&h->metrics.connections_total, 1);
        } else {
                http_connections_closed(h->connections, *socket_context);
                *socket_context = NULL;
                __atomic_fetch_sub(&h->metrics.connections_open, 1, __ATOMIC_RELAXED);
        }
}

/* MaxConnectionsPerAddress= per address prefix, and room for new clients
 * when MaxConnections= are open (connections.h). */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen) {
        struct stitch_http *h = cls;
        return http_connections_accept(h->connections, addr, addrlen) ? MHD_YES : MHD_NO;
}

static void on_mhd_log(void *cls, const char *format, va_list ap) {
        char message[512];
        (void) cls;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        vsnprintf(message, sizeof(message), format, ap);
#pragma GCC diagnostic pop
        size_t n = strlen(message);
        while (n > 0 && message[n - 1] == '\n')
                message[--n] = 0;
        log_debug("libmicrohttpd: %s", message);
}

/* ---- setup ------------------------------------------------------------------------- */

static int bind_listen(const char *address, int *ret_fd) {
        char host[INET6_ADDRSTRLEN + 1];
        unsigned port;
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } a = {};
        socklen_t len;

        if (!stitch_http_listen_split(address, host, sizeof(host), &port))
                return log_error_errno(EINVAL, "[Http] Listen=%s is not ADDRESS:PORT.", address);
        if (strchr(host, ':')) {
                a.in6.sin6_family = AF_INET6;
                a.in6.sin6_port = htons((uint16_t) port);
                if (inet_pton(AF_INET6, host, &a.in6.sin6_addr) != 1)
                        return -EINVAL;
                len = sizeof(a.in6);
        } else {
                a.in.sin_family = AF_INET;
                a.in.sin_port = htons((uint16_t) port);
                if (inet_pton(AF_INET, host, &a.in.sin_addr) != 1)
                        return -EINVAL;
                len = sizeof(a.in);
        }
        int fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(errno, "Cannot create the HTTP socket: %m");
        int one = 1;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (a.sa.sa_family == AF_INET6)
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, &a.sa, len) < 0 || listen(fd, 512) < 0) {
                int e = errno;
                close(fd);
                return log_error_errno(e, "Cannot listen on [Http] Listen=%s: %m", address);
        }
        *ret_fd = fd;
        return 0;
}

static int read_small_file(const char *path, const char *what, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        if (fd < 0)
                return log_error_errno(errno, "Cannot open [Http] %s=%s: %m", what, path);
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > HTTP_TLS_FILE_MAX)
                return log_error_errno(EINVAL, "[Http] %s=%s is not a PEM file of at most 256 KiB.", what, path);
        char *buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        size_t n = 0;
        while (n < (size_t) st.st_size) {
                ssize_t k = read(fd, buf + n, (size_t) st.st_size - n);
                if (k <= 0) {
                        int e = k < 0 ? errno : EIO;
                        explicit_bzero(buf, n);
                        free(buf);
                        return log_error_errno(e, "Cannot read [Http] %s=%s: %m", what, path);
                }
                n += (size_t) k;
        }
        buf[n] = 0;
        *ret = buf;
        *ret_len = n;
        return 0;
}

/* [Http] Threads=, 0 resolved to the online CPUs. */
static unsigned http_threads(const struct stitch_config *c) {
        if (c->http_threads > 0)
                return c->http_threads;
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n <= 1 ? 1 : n > 256 ? 256 : (unsigned) n;
}

int stitch_http_new(struct stitch_manager *m, int listen_fd, struct stitch_http **ret) {
        const struct stitch_config *c = &m->core->config;
        int r;

        *ret = NULL;
        if (isempty(c->http_listen)) {
                if (listen_fd >= 0) {
                        log_warning("A socket named \"http\" was passed but [Http] Listen= is empty: not serving HTTP.");
                        close(listen_fd);
                }
                return 0;
        }
        struct stitch_http *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        r = http_profile_cache_new(&h->profiles);
        if (r < 0) {
                free(h);
                return r;
        }
        /* The pages' words: checked again here as --check-config does. */
        _cleanup_free_ char *problems = NULL;
        size_t problems_len = 0;
        FILE *pf = open_memstream(&problems, &problems_len);
        r = pf ? stitch_page_texts_load(c->smtp_template_directory, pf, &h->page_texts) : -ENOMEM;
        if (pf)
                fclose(pf);
        if (r < 0) {
                if (problems && *problems)
                        log_error("The pages' texts have problems:\n%s", problems);
                h->profiles = stitch_cache_free(h->profiles);
                free(h);
                return r == -ENOMEM ? r : log_error_errno(r, "Cannot load the pages' texts from %s: %m",
                                                          c->smtp_template_directory);
        }
        h->manager = m;
        h->listen_fd = -1;
        h->idle_fd = -1;
        pthread_mutex_init(&h->lock, NULL);
        /* Before MHD's threads, which use it. Optional: without it memory
         * is only given back less eagerly. */
        r = idle_trim_start(h, m->event);
        if (r < 0) {
                log_debug_errno(r, "No trimming of memory after HTTP requests: %m");
                h->idle_timer = sd_event_source_disable_unref(h->idle_timer);
                h->idle_io = sd_event_source_disable_unref(h->idle_io);
                idle_fd_close(h);
        }
        bool tls = !isempty(c->http_certificate_file);

        if (c->http_public_url)
                h->public_url = strdup(c->http_public_url);
        else {
                size_t n = strlen(c->http_listen) + 16;
                h->public_url = malloc(n);
                if (h->public_url)
                        snprintf(h->public_url, n, "%s://%s", tls ? "https" : "http", c->http_listen);
        }
        if (!h->public_url) {
                r = -ENOMEM;
                goto fail;
        }
        if (tls) {
                size_t cert_len;
                r = read_small_file(c->http_certificate_file, "CertificateFile", &h->tls_cert, &cert_len);
                if (r < 0)
                        goto fail;
                r = read_small_file(c->http_key_file, "KeyFile", &h->tls_key, &h->tls_key_len);
                if (r < 0)
                        goto fail;
        }

        if (listen_fd >= 0) {
                int fl = fcntl(listen_fd, F_GETFL);
                if (fl >= 0)
                        (void) fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK);
                h->listen_fd = listen_fd;
                listen_fd = -1;
        } else {
                r = bind_listen(c->http_listen, &h->listen_fd);
                if (r < 0)
                        goto fail;
        }

        /* MHD_ALLOW_SUSPEND_RESUME brings MHD_USE_ITC, which quiescing
         * needs with a pool of threads. */
        unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_TURBO;
        unsigned threads = http_threads(c);
        if (tls)
                flags |= MHD_USE_TLS;
        r = http_connections_new(c, threads, &h->connections);
        if (r < 0)
                goto fail;
        /* MHD's timeout is an idle one: it still bounds a reply that is not
         * being read; connections.c bounds each request from its start. */
        unsigned timeout_sec = (unsigned) ((c->http_timeout_usec + USEC_PER_SEC - 1) / USEC_PER_SEC);
        h->daemon = MHD_start_daemon(
                flags, 0, on_accept, h, on_request, h,
                MHD_OPTION_LISTEN_SOCKET, (MHD_socket) h->listen_fd,
                MHD_OPTION_CONNECTION_TIMEOUT, timeout_sec,
                MHD_OPTION_CONNECTION_LIMIT, http_connections_mhd_limit(c, threads),
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HTTP_MEMORY_LIMIT,
                MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
                MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
                MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1,
                /* 1: no pool, MHD's one internal thread. Each thread of a
                 * pool gets an equal share of the connection limit. */
                MHD_OPTION_THREAD_POOL_SIZE, threads,
                tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, h->tls_cert,
                MHD_OPTION_HTTPS_MEM_KEY, h->tls_key,
                MHD_OPTION_END);
        if (!h->daemon) {
                r = log_error_errno(EINVAL, "Cannot start the HTTP server on %s (libmicrohttpd refused it%s).",
                                    c->http_listen, tls ? "; check CertificateFile= and KeyFile=" : "");
                goto fail;
        }
        log_info("Serving the HTTP client API on %s (app id %s, public URL %s%s, %u thread%s).", c->http_listen,
                 c->http_app_id, h->public_url, tls ? ", TLS" : "", threads, threads == 1 ? "" : "s");
        *ret = h;
        return 0;

fail:
        if (listen_fd >= 0)
                close(listen_fd);
        stitch_http_free(h);
        return r;
}

void stitch_http_stop(struct stitch_http *h) {
        if (!h || h->stopping)
                return;
        h->stopping = true;
        if (h->daemon && MHD_quiesce_daemon(h->daemon) >= 0)
                h->quiesced = true;
}

struct stitch_http *stitch_http_free(struct stitch_http *h) {
        if (!h)
                return NULL;
        h->stopping = true;
        if (h->daemon) {
                /* Stopping with suspended connections breaks libmicrohttpd's
                 * rules (the workers are done by now: none should be left). */
                pthread_mutex_lock(&h->lock);
                while (h->suspended) {
                        struct exchange *x = h->suspended;
                        suspended_remove(h, x);
                        if (x->state == EXCHANGE_RUNNING) {
                                x->state = EXCHANGE_READY;
                                http_reply_error(&x->r, 503, "ServiceUnavailable", "shutting down");
                        }
                        MHD_resume_connection(x->conn);
                }
                pthread_mutex_unlock(&h->lock);
                MHD_stop_daemon(h->daemon); /* closes the listening socket unless quiesced */
                if (!h->quiesced)
                        h->listen_fd = -1;
        }
        if (h->listen_fd >= 0)
                close(h->listen_fd);
        h->connections = http_connections_free(h->connections);
        h->idle_timer = sd_event_source_disable_unref(h->idle_timer);
        h->idle_io = sd_event_source_disable_unref(h->idle_io);
        idle_fd_close(h);
        h->profiles = stitch_cache_free(h->profiles);
        h->page_texts = stitch_page_texts_free(h->page_texts);
        pthread_mutex_destroy(&h->lock);
        free(h->public_url);
        free(h->tls_cert);
        if (h->tls_key) {
                explicit_bzero(h->tls_key, h->tls_key_len);
                free(h->tls_key);
        }
        free(h);
        return NULL;
}

