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
#include "core/page-texts.h"
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

/* What every page of one request shares: its words' locale and the
 * shortest password, for {{min}}. */
struct page_context {
        const struct stitch_page_texts *texts;
        const char *locale; /* from the link (GET) or the form (POST); NULL: the default */
        unsigned min_length;
};

static struct page_context context_of(struct http_request *r, const struct http_form *from) {
        return (struct page_context) {
                .texts = r->page_texts,
                .locale = http_form_get(from, "locale"),
                .min_length = stitch_account_password_min_length(r->manager->core),
        };
}

/* A text of the page, HTML-escaped, {{min}} replaced. */
static void text(FILE *f, const struct page_context *c, enum stitch_page_text id) {
        const char *s = stitch_page_text(c->texts, id, c->locale, NULL);
        for (const char *p; (p = strstr(s, "{{min}}")); s = p + 7) {
                char *part = strndup(s, (size_t) (p - s));
                escape(f, part);
                free(part);
                fprintf(f, "%u", c->min_length);
        }
        escape(f, s);
}

/* A whole page: the title, then the body that fn writes. */
static char *page(const struct page_context *c, enum stitch_page_text title,
                  void (*body)(FILE *f, const struct page_context *c, const void *data), const void *data) {
        char *buf = NULL;
        size_t len = 0;
        const char *lang = NULL;
        (void) stitch_page_text(c->texts, title, c->locale, &lang);
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        fputs("<!DOCTYPE html>\n<html lang=\"", f);
        escape(f, lang);
        fputs("\"><head><meta charset=\"utf-8\">"
              "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
              "<meta name=\"referrer\" content=\"same-origin\"><title>",
              f);
        text(f, c, title);
        fputs("</title><link rel=\"stylesheet\" href=\"/assets/stitch.css\"></head><body><main>\n<h1>", f);
        text(f, c, title);
        fputs("</h1>\n", f);
        body(f, c, data);
        fputs("</main></body></html>\n", f);
        if (fclose(f) != 0 || len > PAGE_MAX) {
                free(buf);
                return NULL;
        }
        return buf;
}

struct message {
        const char *class; /* "ok" or "error" */
        enum stitch_page_text text;
};

static void message_body(FILE *f, const struct page_context *c, const void *data) {
        const struct message *m = data;
        fprintf(f, "<p class=\"%s\"%s>", m->class, streq(m->class, "error") ? " role=\"alert\"" : "");
        text(f, c, m->text);
        fputs("</p>\n", f);
}

static void reply_message(struct http_request *r, const struct page_context *c, unsigned status,
                          enum stitch_page_text title, const char *class, enum stitch_page_text message) {
        struct message m = {class, message};
        http_reply_page(r, status, page(c, title, message_body, &m));
}

struct token_form {
        bool reset; /* ask for a new password twice */
        const char *token, *token_id;
        int error;  /* shown above the form, or -1 */
};

static void hidden(FILE *f, const char *name, const char *value) {
        fprintf(f, "<input type=\"hidden\" name=\"%s\" value=\"", name);
        escape(f, value);
        fputs("\">\n", f);
}

static void token_form_body(FILE *f, const struct page_context *c, const void *data) {
        const struct token_form *t = data;
        if (t->error >= 0) {
                fputs("<p class=\"error\" role=\"alert\">", f);
                text(f, c, (enum stitch_page_text) t->error);
                fputs("</p>\n", f);
        }
        fputs("<p>", f);
        text(f, c, t->reset ? STITCH_PAGE_RESET_INTRO : STITCH_PAGE_CONFIRM_INTRO);
        fprintf(f, "</p>\n<form method=\"post\" action=\"%s\">\n", t->reset ? "/reset" : "/confirm");
        hidden(f, "token", t->token);
        hidden(f, "tokenId", t->token_id);
        if (c->locale)
                hidden(f, "locale", c->locale);
        if (t->reset) {
                /* For password managers and screen readers: which account
                 * (the form itself knows only the token). */
                fputs("<input type=\"text\" name=\"username\" autocomplete=\"username\" value=\"\" hidden>\n"
                      "<label for=\"password\">", f);
                text(f, c, STITCH_PAGE_NEW_PASSWORD);
                fprintf(f,
                        "</label>\n<input type=\"password\" id=\"password\" name=\"password\" "
                        "autocomplete=\"new-password\" minlength=\"%u\" maxlength=\"128\" required>\n"
                        "<label for=\"repeat\">",
                        c->min_length);
                text(f, c, STITCH_PAGE_REPEAT_PASSWORD);
                fprintf(f,
                        "</label>\n<input type=\"password\" id=\"repeat\" name=\"repeat\" "
                        "autocomplete=\"new-password\" minlength=\"%u\" maxlength=\"128\" required>\n",
                        c->min_length);
        }
        fputs("<button type=\"submit\">", f);
        text(f, c, t->reset ? STITCH_PAGE_RESET_BUTTON : STITCH_PAGE_CONFIRM_BUTTON);
        fputs("</button>\n</form>\n", f);
}

/* GET /confirm?token=..&tokenId=..[&locale=..] and GET /reset?...: the form. */
static void token_page(struct http_request *r, bool reset) {
        struct page_context c = context_of(r, &r->query);
        enum stitch_page_text title = reset ? STITCH_PAGE_RESET_TITLE : STITCH_PAGE_CONFIRM_TITLE;
        const char *token = http_form_get(&r->query, "token"), *token_id = http_form_get(&r->query, "tokenId");
        if (isempty(token) || isempty(token_id)) {
                reply_message(r, &c, 400, title, "error", STITCH_PAGE_LINK_INCOMPLETE);
                return;
        }
        struct token_form t = {reset, token, token_id, -1};
        http_reply_page(r, 200, page(&c, title, token_form_body, &t));
}

void http_page_confirm(struct http_request *r) {
        token_page(r, false);
}

void http_page_reset(struct http_request *r) {
        token_page(r, true);
}

/* The POSTed token and tokenId; answers itself and returns false if missing. */
static bool posted_token(struct http_request *r, const struct page_context *c, enum stitch_page_text title,
                         const char **ret_token, const char **ret_token_id) {
        if (r->origin_foreign) {
                reply_message(r, c, 403, title, "error", STITCH_PAGE_OTHER_ORIGIN);
                return false;
        }
        *ret_token = http_form_get(&r->form, "token");
        *ret_token_id = http_form_get(&r->form, "tokenId");
        if (isempty(*ret_token) || isempty(*ret_token_id)) {
                reply_message(r, c, 400, title, "error", STITCH_PAGE_FORM_INCOMPLETE);
                return false;
        }
        return true;
}

/* POST /confirm. */
void http_page_confirm_submit(struct http_request *r) {
        struct page_context c = context_of(r, &r->form);
        const enum stitch_page_text title = STITCH_PAGE_CONFIRM_TITLE;
        struct stitch_userpass_result res;
        const char *token, *token_id;
        if (!posted_token(r, &c, title, &token, &token_id))
                return;
        int k = stitch_userpass_confirm(r->manager->core, token, token_id, &res);
        if (k >= 0)
                reply_message(r, &c, 200, title, "ok", STITCH_PAGE_CONFIRMED);
        else if (res.problem == STITCH_USERPASS_TOKEN_INVALID)
                reply_message(r, &c, 400, title, "error", STITCH_PAGE_LINK_INVALID);
        else
                reply_message(r, &c, 500, title, "error", STITCH_PAGE_FAILED);
}

/* POST /reset. */
void http_page_reset_submit(struct http_request *r) {
        struct page_context c = context_of(r, &r->form);
        const enum stitch_page_text title = STITCH_PAGE_RESET_TITLE;
        struct stitch_userpass_result res;
        const char *token, *token_id, *reason = NULL;
        if (!posted_token(r, &c, title, &token, &token_id))
                return;
        const char *password = http_form_get(&r->form, "password"), *repeat = http_form_get(&r->form, "repeat");
        struct token_form again = {true, token, token_id, -1};
        if (!password || !repeat || !streq(password, repeat))
                again.error = STITCH_PAGE_PASSWORDS_DIFFER;
        else if (stitch_account_password_check(r->manager->core, password, &reason) < 0)
                again.error = STITCH_PAGE_PASSWORD_LENGTH;
        if (again.error >= 0) {
                http_reply_page(r, 400, page(&c, title, token_form_body, &again));
                return;
        }
        int k = stitch_userpass_reset(r->manager->core, token, token_id, password, &res);
        if (k >= 0)
                reply_message(r, &c, 200, title, "ok", STITCH_PAGE_RESET_DONE);
        else if (res.problem == STITCH_USERPASS_TOKEN_INVALID)
                reply_message(r, &c, 400, title, "error", STITCH_PAGE_LINK_INVALID);
        else if (res.problem == STITCH_USERPASS_PASSWORD_POLICY) {
                again.error = STITCH_PAGE_PASSWORD_LENGTH;
                http_reply_page(r, 400, page(&c, title, token_form_body, &again));
        } else
                reply_message(r, &c, 500, title, "error", STITCH_PAGE_FAILED);
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
