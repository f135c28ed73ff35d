/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The routes of the client API (docs/http.md), BASE=/api/client/v2.0. */
#include "frontends/http/request.h"
#include "macro.h"

#define BASE "/api/client/v2.0"
#define APP BASE "/app/:app"
#define KIB 1024

const struct http_route http_routes[] = {
        {"GET", APP "/location", APP "/location", http_location, false, 0, true},
        {"POST", APP "/auth/providers/:provider/login", APP "/auth/providers/:provider/login", http_login, true,
         64 * KIB, true},
        {"POST", BASE "/auth/session", BASE "/auth/session", http_session_refresh, false, 64 * KIB, false},
        {"DELETE", BASE "/auth/session", BASE "/auth/session", http_session_logout, true, 64 * KIB, false},
        {"GET", BASE "/auth/profile", BASE "/auth/profile", http_profile, false, 0, false},
        {"DELETE", BASE "/auth/delete", BASE "/auth/delete", http_user_delete, true, 64 * KIB, false},
        {"POST", BASE "/auth/api_keys", BASE "/auth/api_keys", http_apikey_create, true, 64 * KIB, false},
        {"GET", BASE "/auth/api_keys", BASE "/auth/api_keys", http_apikey_list, false, 0, false},
        {"GET", BASE "/auth/api_keys/:id", BASE "/auth/api_keys/:id", http_apikey_get, false, 0, false},
        {"DELETE", BASE "/auth/api_keys/:id", BASE "/auth/api_keys/:id", http_apikey_delete, true, 64 * KIB, false},
        {"PUT", BASE "/auth/api_keys/:id/enable", BASE "/auth/api_keys/:id/enable", http_apikey_enable, true,
         64 * KIB, false},
        {"PUT", BASE "/auth/api_keys/:id/disable", BASE "/auth/api_keys/:id/disable", http_apikey_disable, true,
         64 * KIB, false},
        /* Stitch's email/password lifecycle (userpass.c): hashes, durable writes, commands. */
#define USERPASS APP "/auth/providers/local-userpass"
        {"POST", USERPASS "/register", USERPASS "/register", http_userpass_register, true, 64 * KIB, true},
        {"POST", USERPASS "/confirm", USERPASS "/confirm", http_userpass_confirm, true, 64 * KIB, true},
        {"POST", USERPASS "/confirm/send", USERPASS "/confirm/send", http_userpass_confirm_send, true, 64 * KIB, true},
        {"POST", USERPASS "/confirm/call", USERPASS "/confirm/call", http_userpass_confirm_call, true, 64 * KIB, true},
        {"POST", USERPASS "/reset", USERPASS "/reset", http_userpass_reset, true, 64 * KIB, true},
        {"POST", USERPASS "/reset/send", USERPASS "/reset/send", http_userpass_reset_send, true, 64 * KIB, true},
        {"POST", USERPASS "/reset/call", USERPASS "/reset/call", http_userpass_reset_call, true, 64 * KIB, true},
        {"GET", "/metrics", "/metrics", http_metrics_page, false, 0, false},
        /* The built-in pages the mailed links open (pages.c). */
        {"GET", "/confirm", "/confirm", http_page_confirm, false, 0, false, true},
        {"POST", "/confirm", "/confirm", http_page_confirm_submit, true, 16 * KIB, false, true},
        {"GET", "/reset", "/reset", http_page_reset, false, 0, false, true},
        {"POST", "/reset", "/reset", http_page_reset_submit, true, 16 * KIB, false, true},
        {"GET", "/assets/stitch.css", "/assets/stitch.css", http_page_style, false, 0, false, true},
};
const size_t http_n_routes = ELEMENTSOF(http_routes);
