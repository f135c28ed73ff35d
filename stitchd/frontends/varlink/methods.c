/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "frontends/varlink/call.h"
#include "validate.h"

/* The one registry of the varlink interface's methods: which handler, and
 * where each may run (admin socket only, on a worker). */
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
        {"io.stitch.Admin.UserLink", stitch_method_admin_user_link, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
        {"io.stitch.Admin.UserUnlink", stitch_method_admin_user_unlink, STITCH_METHOD_ADMIN | STITCH_METHOD_SLOW},
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
