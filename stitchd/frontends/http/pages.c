/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The built-in pages the confirmation and reset links open when
 * EmailConfirmationURL= and ResetPasswordURL= are empty: PublicURL/confirm
 * and PublicURL/reset. Small HTML forms that work without JavaScript, load
 * nothing from elsewhere (a strict Content-Security-Policy, server.c), post
 * only to themselves, and are readable on a phone. Confirming and resetting
 * happen on POST, never on GET: mail scanners open links. The token in the
 * form is the capability (a forged post would need it); a post from another
 * origin is refused besides. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/accounts.h"
#include "core/userpass-flows.h"
#include "frontends/http/request.h"
#include "log.h"
#include "macro.h"

#define PAGE_MAX (16U * 1024U)

static const char style[] =
        "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}"
        "main{max-width:26rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:.5rem;"
        "box-shadow:0 1px 3px rgba(0,0,0,.12)}"
        "h1{font-size:1.4rem;margin:0 0 1rem}p{line-height:1.5}"
        "label{display:block;margin:1rem 0 .3rem;font-weight:600}"
        "input[type=password]{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #b8bfcc;"
        "border-radius:.3rem}"
        "button{margin-top:1.2rem;width:100%;padding:.7rem;font-size:1rem;border:0;border-radius:.3rem;"
        "background:#13aa52;color:#fff;cursor:pointer}"
        ".error{color:#b00020}.ok{color:#0a6e35}"
        "@media (max-width:30rem){main{margin:0;border-radius:0;min-height:100vh}}";

/* Appends s to the page, HTML-escaped. */
static void escape(FILE *f, const char *s) {
        for (; s && *s; s++)
                switch (*s) {
                case '&': fputs("&amp;", f); break;
                case '<': fputs("&lt;", f); break;
                case '>': fputs("&gt;", f); break;
                case '"': fputs("&quot;", f); break;
                case '\'': fputs("&#39;", f); break;
                default: fputc(*s, f);
                }
}

/* A whole page: title, then the body that fn writes. */
static char *page(const char *title, void (*body)(FILE *f, const void *data), const void *data) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
              "<meta name=\"referrer\" content=\"same-origin\"><title>",
              f);
        escape(f, title);
        fputs("</title><link rel=\"stylesheet\" href=\"/assets/stitch.css\"></head><body><main>\n<h1>", f);
        escape(f, title);
        fputs("</h1>\n", f);
        body(f, data);
        fputs("</main></body></html>\n", f);
        if (fclose(f) != 0 || len > PAGE_MAX) {
                free(buf);
                return NULL;
        }
        return buf;
}

struct message {
        const char *class; /* "ok", "error" or NULL */
        const char *text;
};

static void message_body(FILE *f, const void *data) {
        const struct message *m = data;
        fputs("<p", f);
        if (m->class)
                fprintf(f, " class=\"%s\"", m->class);
        fputs(">", f);
        escape(f, m->text);
        fputs("</p>\n", f);
}

static void reply_message(struct http_request *r, unsigned status, const char *title, const char *class,
                          const char *text) {
        struct message m = {class, text};
        http_reply_page(r, status, page(title, message_body, &m));
}

struct token_form {
        const char *action;  /* "/confirm" or "/reset" */
        const char *token, *token_id;
        bool password;       /* ask for a new password twice */
        const char *error;   /* shown above the form, or NULL */
        unsigned min_length;
};

static void token_form_body(FILE *f, const void *data) {
        const struct token_form *t = data;
        if (t->error) {
                fputs("<p class=\"error\" role=\"alert\">", f);
                escape(f, t->error);
                fputs("</p>\n", f);
        }
        if (t->password)
                fprintf(f, "<p>Choose a new password: %u to 128 characters.</p>\n", t->min_length);
        else
                fputs("<p>Confirm the email address of your account.</p>\n", f);
        fputs("<form method=\"post\" action=\"", f);
        escape(f, t->action);
        fputs("\">\n<input type=\"hidden\" name=\"token\" value=\"", f);
        escape(f, t->token);
        fputs("\">\n<input type=\"hidden\" name=\"tokenId\" value=\"", f);
        escape(f, t->token_id);
        fputs("\">\n", f);
        if (t->password)
                fprintf(f,
                        /* For password managers and screen readers: which
                         * account (the form itself knows only the token). */
                        "<input type=\"text\" name=\"username\" autocomplete=\"username\" value=\"\" hidden>\n"
                        "<label for=\"password\">New password</label>\n"
                        "<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"new-password\" "
                        "minlength=\"%u\" maxlength=\"128\" required>\n"
                        "<label for=\"repeat\">Repeat it</label>\n"
                        "<input type=\"password\" id=\"repeat\" name=\"repeat\" autocomplete=\"new-password\" "
                        "minlength=\"%u\" maxlength=\"128\" required>\n"
                        "<button type=\"submit\">Set the new password</button>\n",
                        t->min_length, t->min_length);
        else
                fputs("<button type=\"submit\">Confirm my email address</button>\n", f);
        fputs("</form>\n", f);
}

static unsigned min_length(struct http_request *r) {
        return stitch_account_password_min_length(r->manager->core);
}

/* GET /confirm?token=..&tokenId=.. and GET /reset?...: the form. */
static void token_page(struct http_request *r, bool reset) {
        const char *token = http_form_get(&r->query, "token"), *token_id = http_form_get(&r->query, "tokenId");
        const char *title = reset ? "Reset your password" : "Confirm your email address";
        if (isempty(token) || isempty(token_id)) {
                reply_message(r, 400, title, "error",
                              "This link is incomplete. Open the whole link from the mail, or ask for a new one.");
                return;
        }
        struct token_form t = {reset ? "/reset" : "/confirm", token, token_id, reset, NULL, min_length(r)};
        http_reply_page(r, 200, page(title, token_form_body, &t));
}

void http_page_confirm(struct http_request *r) {
        token_page(r, false);
}

void http_page_reset(struct http_request *r) {
        token_page(r, true);
}

/* The POSTed token and tokenId; answers itself and returns false if missing. */
static bool posted_token(struct http_request *r, const char *title, const char **ret_token,
                         const char **ret_token_id) {
        if (r->origin_foreign) {
                reply_message(r, 403, title, "error", "This form can only be sent from this site.");
                return false;
        }
        *ret_token = http_form_get(&r->form, "token");
        *ret_token_id = http_form_get(&r->form, "tokenId");
        if (isempty(*ret_token) || isempty(*ret_token_id)) {
                reply_message(r, 400, title, "error", "The form is incomplete. Open the link from the mail again.");
                return false;
        }
        return true;
}

static const char token_invalid[] =
        "This link has expired, was used already, or is not valid. Ask for a new one; a link works once, "
        "for a limited time.";

/* POST /confirm. */
void http_page_confirm_submit(struct http_request *r) {
        const char *title = "Confirm your email address", *token, *token_id;
        struct stitch_userpass_result res;
        if (!posted_token(r, title, &token, &token_id))
                return;
        int k = stitch_userpass_confirm(r->manager->core, token, token_id, &res);
        if (k >= 0)
                reply_message(r, 200, title, "ok", "Your email address is confirmed. You can log in now.");
        else if (res.problem == STITCH_USERPASS_TOKEN_INVALID)
                reply_message(r, 400, title, "error", token_invalid);
        else
                reply_message(r, 500, title, "error", "Something went wrong on our side. Try again later.");
}

/* POST /reset. */
void http_page_reset_submit(struct http_request *r) {
        const char *title = "Reset your password", *token, *token_id;
        struct stitch_userpass_result res;
        if (!posted_token(r, title, &token, &token_id))
                return;
        const char *password = http_form_get(&r->form, "password"), *repeat = http_form_get(&r->form, "repeat");
        struct token_form again = {"/reset", token, token_id, true, NULL, min_length(r)};
        const char *reason = NULL;
        if (!password || !repeat || !streq(password, repeat))
                again.error = "The two passwords differ. Type the same new password twice.";
        else if (stitch_account_password_check(r->manager->core, password, &reason) < 0)
                again.error = "The password must be between the lengths shown below.";
        if (again.error) {
                http_reply_page(r, 400, page(title, token_form_body, &again));
                return;
        }
        int k = stitch_userpass_reset(r->manager->core, token, token_id, password, &res);
        if (k >= 0)
                reply_message(r, 200, title, "ok", "Your password is changed. Log in with the new one.");
        else if (res.problem == STITCH_USERPASS_TOKEN_INVALID)
                reply_message(r, 400, title, "error", token_invalid);
        else if (res.problem == STITCH_USERPASS_PASSWORD_POLICY) {
                again.error = "The password must be between the lengths shown below.";
                http_reply_page(r, 400, page(title, token_form_body, &again));
        } else
                reply_message(r, 500, title, "error", "Something went wrong on our side. Try again later.");
}

/* GET /assets/stitch.css: the one thing the pages load. */
void http_page_style(struct http_request *r) {
        char *css = strdup(style);
        if (!css) {
                http_reply_page(r, 500, NULL);
                return;
        }
        http_reply_page(r, 200, css);
        r->content_type = "text/css; charset=utf-8";
}
