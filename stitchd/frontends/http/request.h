/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One HTTP request as the route handlers see it, and what they answer.
 * Handlers run on the event loop or, for routes marked so, on a worker
 * thread (they may hash or write the store): they read the request, call
 * the core and fill the response; server.c sends it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>

#include "macro.h"
#include "daemon/manager.h"

#define HTTP_PARAM_MAX 65 /* a route parameter (:provider, :id) */
#define HTTP_ADDRESS_MAX INET6_ADDRSTRLEN

struct stitch_http;
struct http_route;
struct stitch_cache;
struct stitch_page_texts;

/* A page's form (application/x-www-form-urlencoded) or query: decoded
 * name=value pairs, values wiped when the request goes (they carry
 * passwords and tokens). */
#define HTTP_FORM_MAX 8
struct http_form {
        size_t n;
        char *names[HTTP_FORM_MAX];
        char *values[HTTP_FORM_MAX];
        size_t value_lens[HTTP_FORM_MAX];
};

struct http_request {
        struct stitch_http *http;
        struct stitch_manager *manager;
        struct http_metrics *metrics;   /* the front end's counters */
        struct stitch_cache *profiles;  /* the front end's profile replies (client.c) */
        const struct stitch_page_texts *page_texts; /* the pages' words (pages.c) */
        const struct http_route *route;
        char params[2][HTTP_PARAM_MAX]; /* the route's :parameters, in order */
        cJSON *body;                    /* the parsed JSON object, or NULL if none was sent */
        struct http_form form;          /* pages: the POSTed form */
        struct http_form query;         /* pages: the query's token, tokenId, locale */
        bool origin_foreign;            /* an Origin: header that is not PublicURL's */
        char *bearer;                   /* the Authorization: Bearer token, or NULL (wiped) */
        bool link;                      /* ?link=true */
        char client[HTTP_ADDRESS_MAX];  /* the client's address (X-Forwarded-For from a trusted proxy) */

        /* The answer. */
        unsigned status;
        char *response;                 /* body, or NULL (no body, no Content-Type) */
        size_t response_len;
        const char *content_type;       /* static; NULL with a body means application/json */
        uint64_t retry_after_sec;       /* 429: Retry-After */
        bool response_secret;           /* the body holds tokens or keys: wiped after sending */
};

/* JSON reply (takes j; NULL or unprintable: 500). */
void http_reply_json(struct http_request *r, unsigned status, cJSON *j);
/* Same, for bodies with tokens or keys: wiped once sent. */
void http_reply_secret_json(struct http_request *r, unsigned status, cJSON *j);
/* {"names[0]":"values[0]",...} (at most HTTP_REPLY_STRINGS_MAX members; a
 * NULL value leaves its member out), the bytes cJSON would print for it,
 * without building a tree. secret: the body holds tokens or keys. */
#define HTTP_REPLY_STRINGS_MAX 8
void http_reply_strings(struct http_request *r, unsigned status, size_t n, const char *const names[],
                        const char *const values[], bool secret);
/* {"error","error_code","link"}. */
_printf_(4, 5) void http_reply_error(struct http_request *r, unsigned status, const char *code, const char *format, ...);
/* Status with no body. */
void http_reply_empty(struct http_request *r, unsigned status);
/* The usual answers. */
void http_reply_invalid_session(struct http_request *r, const char *why);
void http_reply_errno(struct http_request *r, int error, const char *what);

/* A page's form field or query argument (the last of that name), or NULL. */
const char *http_form_get(const struct http_form *f, const char *name);
/* Decodes application/x-www-form-urlencoded text into f (at most
 * HTTP_FORM_MAX fields, names of [A-Za-z0-9_-], values without NUL).
 * -EINVAL on anything else; f is then empty. */
int http_form_parse(const char *text, size_t len, struct http_form *f);
void http_form_done(struct http_form *f);
/* An HTML page reply (takes html; NULL: 500). */
void http_reply_page(struct http_request *r, unsigned status, char *html);

/* Body helpers: a string member (NULL if absent); -EINVAL if present but
 * not a string, over max bytes or empty when required. */
int http_body_string(struct http_request *r, const char *name, size_t max, bool required, const char **ret);

/* The route table (routes.c). */
typedef void (*http_handler_fn)(struct http_request *r);
enum http_auth {
        HTTP_AUTH_NONE,
        HTTP_AUTH_ACCESS,  /* Bearer access token (the handler checks it) */
        HTTP_AUTH_REFRESH, /* Bearer refresh token */
};
struct http_route {
        const char *method;
        const char *path;      /* segments; ":name" matches one segment */
        const char *template;  /* for logs and metrics */
        http_handler_fn handler;
        bool worker;           /* runs on a worker thread (hashes, or writes the store) */
        size_t max_body;
        bool app;              /* :app must be [Http] AppId= */
        /* A page for people (pages.c): an HTML reply with the page headers
         * (Content-Security-Policy and friends), a form body instead of JSON. */
        bool page;
};
extern const struct http_route http_routes[];
extern const size_t http_n_routes;

/* Handlers (client.c, apikeys.c, metrics-page.c). */
void http_location(struct http_request *r);
void http_login(struct http_request *r);
void http_session_refresh(struct http_request *r);
void http_session_logout(struct http_request *r);
void http_profile(struct http_request *r);
/* Stitch's email/password lifecycle (userpass.c) and its pages (pages.c). */
void http_userpass_register(struct http_request *r);
void http_userpass_confirm(struct http_request *r);
void http_userpass_confirm_send(struct http_request *r);
void http_userpass_confirm_call(struct http_request *r);
void http_userpass_reset(struct http_request *r);
void http_userpass_reset_send(struct http_request *r);
void http_userpass_reset_call(struct http_request *r);
void http_page_confirm(struct http_request *r);
void http_page_confirm_submit(struct http_request *r);
void http_page_reset(struct http_request *r);
void http_page_reset_submit(struct http_request *r);
void http_page_style(struct http_request *r);
int http_profile_cache_new(struct stitch_cache **ret);
void http_user_delete(struct http_request *r);
void http_apikey_create(struct http_request *r);
void http_apikey_list(struct http_request *r);
void http_apikey_get(struct http_request *r);
void http_apikey_delete(struct http_request *r);
void http_apikey_enable(struct http_request *r);
void http_apikey_disable(struct http_request *r);
void http_metrics_page(struct http_request *r);

/* What server.c knows that handlers need. */
const char *http_location_url(const struct stitch_http *h);
