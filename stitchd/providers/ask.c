/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The credential bag a provider reads and the prompts it asks with. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "providers/provider.h"

const char *stitch_credentials_get(const struct stitch_credentials *c, const char *name) {
        for (size_t i = 0; c && i < c->n; i++)
                if (streq(c->items[i].name, name))
                        return c->items[i].value;
        return NULL;
}

int stitch_credentials_put(struct stitch_credentials *c, const char *name, const char *value) {
        for (size_t i = 0; i < c->n; i++)
                if (streq(c->items[i].name, name)) {
                        c->items[i].value = value;
                        return 0;
                }
        if (c->n >= STITCH_CREDENTIALS_MAX)
                return -E2BIG;
        c->items[c->n].name = name;
        c->items[c->n].value = value;
        c->n++;
        return 0;
}

int stitch_ask_prompt(struct stitch_ask *a, const char *id, const char *text, bool echo, bool authtok) {
        if (a->n_prompts >= STITCH_ASK_PROMPTS_MAX || strlen(id) >= STITCH_CREDENTIAL_NAME_MAX)
                return -E2BIG;
        struct stitch_prompt *p = &a->prompts[a->n_prompts++];
        snprintf(p->id, sizeof(p->id), "%s", id);
        snprintf(p->text, sizeof(p->text), "%s", text);
        p->echo = echo;
        p->authtok = authtok;
        return 0;
}

int stitch_ask_message(struct stitch_ask *a, bool error, const char *text) {
        if (a->n_messages >= STITCH_ASK_MESSAGES_MAX)
                return -E2BIG;
        struct stitch_message *msg = &a->messages[a->n_messages++];
        snprintf(msg->text, sizeof(msg->text), "%s", text);
        msg->error = error;
        return 0;
}

int stitch_ask_qr(struct stitch_ask *a, const char *url) {
        if (strlen(url) >= STITCH_MESSAGE_TEXT_MAX)
                return -EINVAL; /* a cut URL opens the wrong page */
        int r = stitch_ask_message(a, false, url);
        if (r < 0)
                return r;
        a->messages[a->n_messages - 1].qr = true;
        return 0;
}
