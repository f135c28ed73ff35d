/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>

#include "call.h"
#include "log.h"
#include "util.h"
#include "wire.h"

/* The one registry of wire methods and where they may run. */
static const struct stitch_method methods[] = {
        {"io.stitch.Auth.Login", stitch_method_login, STITCH_METHOD_SLOW},
        {"io.stitch.Auth.Authorize", stitch_method_authorize, 0},
        {"io.stitch.Auth.OpenSession", stitch_method_open_session, STITCH_METHOD_SLOW},
        {"io.stitch.Auth.CloseSession", stitch_method_close_session, STITCH_METHOD_SLOW},
        {"io.stitch.Auth.ChangePassword", stitch_method_change_password, STITCH_METHOD_SLOW},
        {"io.stitch.Token.Get", stitch_method_token_get, 0},
        {"io.stitch.Token.Refresh", stitch_method_token_refresh, STITCH_METHOD_SLOW_WHEN_ROTATING},
        {"io.stitch.Token.Verify", stitch_method_token_verify, 0},
        {"io.stitch.Token.Logout", stitch_method_token_logout, STITCH_METHOD_SLOW},
        {"io.stitch.Token.Jwks", stitch_method_token_jwks, 0},
        {"io.stitch.Admin.Status", stitch_method_admin_status, STITCH_METHOD_ADMIN},
        {"io.stitch.Admin.UserCreate", stitch_method_admin_user_create, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserList", stitch_method_admin_user_list, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserGet", stitch_method_admin_user_get, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserDisable", stitch_method_admin_user_disable, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserEnable", stitch_method_admin_user_enable, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserDelete", stitch_method_admin_user_delete, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserRevoke", stitch_method_admin_user_revoke, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserUnlock", stitch_method_admin_user_unlock, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserSetPassword", stitch_method_admin_user_set_password, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.ApiKeyCreate", stitch_method_admin_apikey_create, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.ApiKeyList", stitch_method_admin_apikey_list, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.ApiKeyEnable", stitch_method_admin_apikey_enable, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.ApiKeyDisable", stitch_method_admin_apikey_disable, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.ApiKeyDelete", stitch_method_admin_apikey_delete, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.SessionList", stitch_method_admin_session_list, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.SessionRevoke", stitch_method_admin_session_revoke, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.KeyRotate", stitch_method_admin_key_rotate, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.KeyList", stitch_method_admin_key_list, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.KeyJwks", stitch_method_admin_key_jwks, STITCH_METHOD_ADMIN},
};

const struct stitch_method *stitch_method_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(methods); i++)
                if (streq(methods[i].name, name))
                        return &methods[i];
        return NULL;
}

int stitch_call_reply(struct stitch_call *c, cJSON *params) {
        if (c->reply)
                cJSON_Delete(c->reply);
        c->reply = stitch_wire_reply_new(params ? params : cJSON_CreateObject());
        return 0;
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

int stitch_call_find_session(struct stitch_call *c, const char *session_id, struct stitch_session **ret) {
        struct stitch_manager *m = c->manager;
        struct stitch_session *s = NULL;
        int r = stitch_session_id_valid(session_id) ? m->store_ops->session_get(m->store, session_id, &s) : -ENOENT;
        if (r < 0 && r != -ENOENT) {
                stitch_call_errno(c, r, "session lookup");
                return r;
        }
        /* A session belongs to the uid it was created for. Someone else's
         * session gets the same answer as one that does not exist. */
        if (r == -ENOENT || (c->cred.uid != 0 && (s->uid < 0 || (uid_t) s->uid != c->cred.uid))) {
                stitch_session_free(s);
                stitch_call_error(c, STITCH_ERROR_SESSION_INVALID, "unknown session");
                return -ENOENT;
        }
        *ret = s;
        return 0;
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
