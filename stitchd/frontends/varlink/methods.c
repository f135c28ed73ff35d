/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "frontends/varlink/call.h"
#include "validate.h"
#include "wire.h"

/* The interfaces of stitchd's own sockets, each described once: which
 * methods, which handler, where each runs (inline on the loop, or on a
 * worker), which errors callers may see (docs/wire.md lists the same). */
static const struct stitch_method auth_methods[] = {
        {"io.stitch.Auth.Login", stitch_method_login, STITCH_METHOD_SLOW, stitch_method_login_runs_inline,
         stitch_method_login_on_network},
        {"io.stitch.Auth.Authorize", stitch_method_authorize, STITCH_METHOD_SLOW_ON_REMOTE_STORE},
        {"io.stitch.Auth.OpenSession", stitch_method_open_session, STITCH_METHOD_SLOW},
        {"io.stitch.Auth.CloseSession", stitch_method_close_session, STITCH_METHOD_SLOW},
        {"io.stitch.Auth.ChangePassword", stitch_method_change_password, STITCH_METHOD_SLOW},
};

static const struct stitch_method token_methods[] = {
        {"io.stitch.Token.Get", stitch_method_token_get, 0},
        {"io.stitch.Token.Refresh", stitch_method_token_refresh,
         STITCH_METHOD_SLOW_WHEN_ROTATING | STITCH_METHOD_CPU | STITCH_METHOD_SLOW_ON_REMOTE_STORE},
        {"io.stitch.Token.Verify", stitch_method_token_verify, 0},
        {"io.stitch.Token.Logout", stitch_method_token_logout, STITCH_METHOD_SLOW},
        {"io.stitch.Token.Jwks", stitch_method_token_jwks, 0},
};

static const struct stitch_method admin_methods[] = {
        {"io.stitch.Admin.Status", stitch_method_admin_status, 0},
        {"io.stitch.Admin.UserCreate", stitch_method_admin_user_create, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserList", stitch_method_admin_user_list, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserGet", stitch_method_admin_user_get, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserDisable", stitch_method_admin_user_disable, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserEnable", stitch_method_admin_user_enable, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserDelete", stitch_method_admin_user_delete, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserRevoke", stitch_method_admin_user_revoke, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserUnlock", stitch_method_admin_user_unlock, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserLink", stitch_method_admin_user_link, STITCH_METHOD_SLOW, NULL,
         stitch_method_admin_user_link_on_network},
        {"io.stitch.Admin.UserUnlink", stitch_method_admin_user_unlink, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserSetPassword", stitch_method_admin_user_set_password, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserUpdate", stitch_method_admin_user_update, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserRegister", stitch_method_admin_user_register, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserConfirm", stitch_method_admin_user_confirm, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserSendConfirmation", stitch_method_admin_user_send_confirmation, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserSendReset", stitch_method_admin_user_send_reset, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.ApiKeyCreate", stitch_method_admin_apikey_create, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.ApiKeyList", stitch_method_admin_apikey_list, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.ApiKeyEnable", stitch_method_admin_apikey_enable, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.ApiKeyDisable", stitch_method_admin_apikey_disable, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.ApiKeyDelete", stitch_method_admin_apikey_delete, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.SessionList", stitch_method_admin_session_list, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.SessionRevoke", stitch_method_admin_session_revoke, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.KeyRotate", stitch_method_admin_key_rotate, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.KeyList", stitch_method_admin_key_list, STITCH_METHOD_SLOW},
        {"io.stitch.Admin.KeyJwks", stitch_method_admin_key_jwks, 0},
};

/* io.stitch.Error.*: one set for the three interfaces. */
static const char *const stitch_errors[] = {
        STITCH_ERROR_INVALID_CREDENTIALS, STITCH_ERROR_IDENTITY_IN_USE, STITCH_ERROR_USER_DISABLED,
        STITCH_ERROR_SESSION_INVALID,     STITCH_ERROR_PERMISSION_DENIED, STITCH_ERROR_INVALID_PARAMETER,
        STITCH_ERROR_TOO_MANY_ATTEMPTS,   STITCH_ERROR_NOT_FOUND,        STITCH_ERROR_BUSY,
        STITCH_ERROR_INTERNAL,            STITCH_ERROR_CONFIRMATION_REQUIRED, NULL,
};

static const struct stitch_interface interface_auth = {
        "io.stitch.Auth", auth_methods, ELEMENTSOF(auth_methods), stitch_errors,
};
static const struct stitch_interface interface_token = {
        "io.stitch.Token", token_methods, ELEMENTSOF(token_methods), stitch_errors,
};
static const struct stitch_interface interface_admin = {
        "io.stitch.Admin", admin_methods, ELEMENTSOF(admin_methods), stitch_errors,
};

static const char *auth_socket_path(const struct stitch_config *c) {
        return c->auth_socket;
}

static const char *admin_socket_path(const struct stitch_config *c) {
        return c->admin_socket;
}

/* Every local user reaches the auth socket; AdminGroup members the admin
 * one, whose 0660 and the peer check keep the rest out. A directory we
 * create is 0755 (as systemd's RuntimeDirectoryMode=0755). */
static const struct stitch_listener listener_auth = {
        .name = "io.stitch.Auth",
        .path = auth_socket_path,
        .mode = 0666,
        .directory_mode = 0755,
        .verify_fast = true,
        .interfaces = (const struct stitch_interface *const[]) {&interface_auth, &interface_token},
        .n_interfaces = 2,
};

static const struct stitch_listener listener_admin = {
        .name = "io.stitch.Admin",
        .path = admin_socket_path,
        .mode = 0660,
        .directory_mode = 0755,
        .admin = true,
        .interfaces = (const struct stitch_interface *const[]) {&interface_admin},
        .n_interfaces = 1,
};

const struct stitch_listener *const stitch_listeners[] = {
        &listener_auth,
        &listener_admin,
        &stitch_listener_userdb,
};
const size_t stitch_n_listeners = ELEMENTSOF(stitch_listeners);

const struct stitch_method *stitch_listener_find_method(const struct stitch_listener *l, const char *name) {
        for (size_t i = 0; i < l->n_interfaces; i++) {
                const struct stitch_interface *iface = l->interfaces[i];
                size_t n = strlen(iface->name);
                /* "io.stitch.Auth.Login" belongs to "io.stitch.Auth" */
                if (strncmp(name, iface->name, n) != 0 || name[n] != '.')
                        continue;
                for (size_t k = 0; k < iface->n_methods; k++)
                        if (streq(iface->methods[k].name, name))
                                return &iface->methods[k];
        }
        return NULL;
}
