/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Answering a call: what handlers use, whatever front end the call came
 * from. Deferring and completing go through the front end's ops. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "frontends/varlink/call.h"
#include "log.h"
#include "validate.h"
#include "wire.h"

void stitch_call_defer(struct stitch_call *c) {
        assert(c->ops && c->ops->complete);
        c->deferred = true;
        if (c->reply) {
                cJSON_Delete(c->reply);
                c->reply = NULL;
        }
}

void stitch_call_complete(struct stitch_call *c) {
        assert(c->deferred && c->ops && c->ops->complete);
        if (!c->reply)
                stitch_call_errno(c, -EIO, c->method);
        c->ops->complete(c);
}

int stitch_call_reply(struct stitch_call *c, cJSON *params) {
        if (c->reply)
                cJSON_Delete(c->reply);
        c->reply = stitch_wire_reply_new(params ? params : cJSON_CreateObject());
        return 0;
}

int stitch_call_reply_continues(struct stitch_call *c, cJSON *params) {
        if (!c->more || c->oneway || !c->ops || !c->ops->send_continues) {
                stitch_json_wipe_and_delete(params);
                return -EINVAL;
        }
        cJSON *m = stitch_wire_reply_continues_new(params ? params : cJSON_CreateObject());
        if (!m)
                return -ENOMEM;
        return c->ops->send_continues(c, m);
}

static int call_error_va(struct stitch_call *c, const char *error, const char *parameter, const char *format,
                         va_list ap) {
        char message[512];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        vsnprintf(message, sizeof(message), format, ap);
#pragma GCC diagnostic pop
        cJSON *p = cJSON_CreateObject();
        if (p) {
                cJSON_AddStringToObject(p, "message", message);
                if (parameter)
                        cJSON_AddStringToObject(p, "parameter", parameter);
        }
        if (c->reply)
                cJSON_Delete(c->reply);
        c->reply = stitch_wire_error_new(error, p);
        return 0;
}

int stitch_call_error(struct stitch_call *c, const char *error, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        call_error_va(c, error, NULL, format, ap);
        va_end(ap);
        return 0;
}

int stitch_call_invalid_parameter(struct stitch_call *c, const char *parameter, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        call_error_va(c, STITCH_ERROR_INVALID_PARAMETER, parameter, format, ap);
        va_end(ap);
        return 0;
}

int stitch_call_errno(struct stitch_call *c, int error, const char *what) {
        error = error < 0 ? -error : error;
        switch (error) {
        case ENOENT:
                return stitch_call_error(c, STITCH_ERROR_NOT_FOUND, "%s not found", what);
        case EBUSY:
        case EAGAIN:
                return stitch_call_error(c, STITCH_ERROR_BUSY, "%s: busy, try again", what);
        case ENOSPC:
                log_error("Store is full: %s failed.", what);
                return stitch_call_error(c, STITCH_ERROR_INTERNAL, "%s failed: the store is full (no space left on device); nothing was changed", what);
        default:
                log_error_errno(error, "%s failed: %m", what);
                return stitch_call_error(c, STITCH_ERROR_INTERNAL, "%s failed: %s; nothing was changed", what,
                                         strerror(error));
        }
}

int stitch_call_find_session_with_user(struct stitch_call *c, const char *session_id, struct stitch_session **ret,
                                       struct stitch_user **ret_user) {
        struct stitch_manager *m = c->manager;
        struct stitch_session *s = NULL;
        struct stitch_user *u = NULL;
        int r = !stitch_session_id_valid(session_id) ? -ENOENT
                : ret_user ? m->core->store_ops->session_find_with_user(m->core->store, session_id, NULL, &s, &u)
                           : m->core->store_ops->session_get(m->core->store, session_id, &s);
        if (r < 0 && r != -ENOENT) {
                stitch_call_errno(c, r, "session lookup");
                return r;
        }
        /* A session belongs to the uid it was created for. Someone else's
         * session gets the same answer as one that does not exist. */
        if (r == -ENOENT || (c->cred.uid != 0 && (s->uid < 0 || (uid_t) s->uid != c->cred.uid))) {
                stitch_session_free(s);
                stitch_user_free(u);
                stitch_call_error(c, STITCH_ERROR_SESSION_INVALID, "unknown session");
                return -ENOENT;
        }
        *ret = s;
        if (ret_user)
                *ret_user = u;
        return 0;
}

int stitch_call_find_session(struct stitch_call *c, const char *session_id, struct stitch_session **ret) {
        return stitch_call_find_session_with_user(c, session_id, ret, NULL);
}

int stitch_call_too_many_attempts(struct stitch_call *c, uint64_t retry_after_usec) {
        cJSON *params = cJSON_CreateObject();
        cJSON_AddStringToObject(params, "message", "too many failed attempts; try again later");
        cJSON_AddNumberToObject(params, "retry_after", (double) ((retry_after_usec + USEC_PER_SEC - 1) / USEC_PER_SEC));
        if (c->reply)
                cJSON_Delete(c->reply);
        c->reply = stitch_wire_error_new(STITCH_ERROR_TOO_MANY_ATTEMPTS, params);
        return 0;
}

int stitch_call_decode(struct stitch_call *c, const void *table, size_t n_table, void *dest) {
        const char *bad = NULL;
        int r = stitch_params_decode(c->params, table, n_table, dest, &bad);
        if (r < 0) {
                stitch_call_invalid_parameter(c, bad, "invalid or missing parameter '%s'", bad ? bad : "?");
                return -EINVAL;
        }
        return 0;
}
