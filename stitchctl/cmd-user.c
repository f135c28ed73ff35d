/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchctl user ...: io.stitch.Admin.User* */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "output.h"
#include "stitchctl.h"
#include "wire.h"

#define USER_LIST_MAX_PAGE 1000 /* the most docs/wire.md allows per page */

static const cJSON *reply_params(const cJSON *reply) {
        return cJSON_GetObjectItemCaseSensitive(reply, "parameters");
}

static int add_user_row(struct table *t, const cJSON *user) {
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(user, "data");
        const cJSON *last = cJSON_GetObjectItemCaseSensitive(user, "last_authentication_date");
        char when[FORMAT_TIMESTAMP_MAX];

        return table_add_row(t, json_string(user, "id"), json_string(data, "email"), json_string(user, "unix_name"),
                             json_string(user, "type"), json_yesno(user, "disabled"), json_yesno(user, "pending"),
                             format_json_timestamp(when, last));
}

/* "Label: value" block of a user, then its identities. */
int stitchctl_print_user(const cJSON *user, size_t indent) {
        _cleanup_(table_freep) struct table *kv = table_new_kv();
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(user, "data");
        const cJSON *item;
        int r = 0;

        if (!kv)
                return stitchctl_oom();

        r = r ?: table_add_kv(kv, "ID", json_string(user, "id"));
        r = r ?: table_add_kv(kv, "Type", json_string(user, "type"));
        r = r ?: table_add_kv(kv, "Email", json_string(data, "email"));
        r = r ?: table_add_kv(kv, "Name", json_string(data, "name"));
        r = r ?: table_add_kv(kv, "Unix name", json_string(user, "unix_name"));
        r = r ?: table_add_kv(kv, "Disabled", json_yesno(user, "disabled"));
        /* not yet confirmed their email address: cannot log in */
        r = r ?: table_add_kv(kv, "Pending", json_yesno(user, "pending"));
        r = r ?: table_add_kv(kv, "Self-registered", json_yesno(user, "self_registered"));
        r = r ?: table_add_kv_time(kv, "Created", cJSON_GetObjectItemCaseSensitive(user, "creation_date"));
        r = r ?: table_add_kv_time(kv, "Last login",
                                   cJSON_GetObjectItemCaseSensitive(user, "last_authentication_date"));
        /* other provider metadata (picture, ...) as it comes */
        const cJSON *extra = cJSON_IsObject(data) ? data : NULL;
        cJSON_ArrayForEach(item, extra) {
                if (r != 0)
                        break;
                if (!item->string || streq(item->string, "email") || streq(item->string, "name"))
                        continue;
                r = table_add_kv_json(kv, item->string, item);
        }
        if (r < 0)
                return stitchctl_oom();
        table_print_indent(kv, stdout, indent);

        const cJSON *identities = cJSON_GetObjectItemCaseSensitive(user, "identities");
        if (cJSON_GetArraySize(identities) > 0) {
                _cleanup_(table_freep) struct table *t = table_new(3, "PROVIDER TYPE", "PROVIDER ID", "ID");
                if (!t)
                        return stitchctl_oom();
                cJSON_ArrayForEach(item, identities) {
                        r = table_add_row(t, json_string(item, "provider_type"), json_string(item, "provider_id"),
                                          json_string(item, "id"));
                        if (r < 0)
                                return stitchctl_oom();
                }
                printf("\n%*sIdentities:\n", (int) indent, "");
                table_print_indent(t, stdout, indent + 2);
        }
        return EXIT_OK;
}

/* {"user": ARG}, the parameters of most user commands. */
static cJSON *user_params(const char *user) {
        _cleanup_(cJSON_Deletep) cJSON *p = cJSON_CreateObject();
        if (!p || !cJSON_AddStringToObject(p, "user", user))
                return NULL;
        return TAKE_PTR(p);
}

/* Reads the password from standard input (--password-stdin) into
 * params.password; *password keeps it for wiping. EXIT_OK or the exit code. */
static int add_password_stdin(cJSON *params, const char *prompt, char **password) {
        int r = stitchctl_read_password_stdin(prompt, password);
        if (r != EXIT_OK)
                return r;
        return cJSON_AddStringToObject(params, "password", *password) ? EXIT_OK : stitchctl_oom();
}

int cmd_user_add(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = NULL;
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        _cleanup_erase_ char *password = NULL;
        cJSON *rp = NULL;
        int r;

        if (!ctl->email && !ctl->unix_name)
                return stitchctl_usage_error(ctl, "'user add' needs --email (with --password-stdin) or --unix-name");
        if (ctl->email && !ctl->password_stdin)
                return stitchctl_usage_error(ctl, "a user with an email needs a password: pass --password-stdin "
                                                  "and the password on standard input");
        if (!ctl->email && ctl->password_stdin)
                return stitchctl_usage_error(ctl, "--password-stdin needs --email: only email users have "
                                                  "passwords");

        params = cJSON_CreateObject();
        if (!params)
                return stitchctl_oom();
        if ((ctl->email && !cJSON_AddStringToObject(params, "email", ctl->email)) ||
            (ctl->unix_name && !cJSON_AddStringToObject(params, "unix_name", ctl->unix_name)) ||
            (ctl->name && !cJSON_AddStringToObject(params, "name", ctl->name)))
                return stitchctl_oom();

        if (ctl->password_stdin) {
                r = add_password_stdin(params, "Password: ", &password);
                if (r != EXIT_OK)
                        return r;
        }

        r = stitchctl_call(ctl, "io.stitch.Admin.UserCreate", params, &reply, &rp);
        if (r != EXIT_OK)
                return r;

        if (ctl->json)
                return output_json(rp);
        return stitchctl_print_user(cJSON_GetObjectItemCaseSensitive(rp, "user"), 0);
}

static int user_list_page(struct stitchctl *ctl, const char *after, cJSON **ret_reply, cJSON **ret_users) {
        _cleanup_(cJSON_Deletep) cJSON *params = cJSON_CreateObject();
        cJSON *reply = NULL, *rp = NULL;
        int r;

        /* no "limit": the daemon's default page size, whatever it is */
        if (!params || (after && !cJSON_AddStringToObject(params, "after", after)))
                return stitchctl_oom();

        r = stitchctl_call(ctl, "io.stitch.Admin.UserList", params, &reply, &rp);
        if (r != EXIT_OK)
                return r;

        cJSON *users = cJSON_GetObjectItemCaseSensitive(rp, "users");
        if (!cJSON_IsArray(users)) {
                cJSON_Delete(reply);
                return stitchctl_fail(EXIT_REFUSED, "the reply to UserList has no \"users\" array");
        }
        *ret_reply = reply;
        *ret_users = users;
        return EXIT_OK;
}

int cmd_user_list(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(cJSON_Deletep) cJSON *all = cJSON_CreateArray();
        _cleanup_free_ char *after = NULL;
        int r;

        if (!all)
                return stitchctl_oom();

        /* page through with "after" */
        for (;;) {
                _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
                cJSON *users = NULL;

                r = user_list_page(ctl, after, &reply, &users);
                if (r != EXIT_OK)
                        return r;

                /* the daemon says where the next page starts ("next"); a full
                 * page of the documented maximum without it means the same */
                int n = cJSON_GetArraySize(users);
                const char *last = json_string(reply_params(reply), "next");
                if (!last && n >= USER_LIST_MAX_PAGE)
                        last = json_string(cJSON_GetArrayItem(users, n - 1), "id");
                bool more = n > 0 && last && !streq_ptr(last, after);
                char *next = more ? strdup(last) : NULL;
                if (more && !next)
                        return stitchctl_oom();
                free(after);
                after = next;

                while (cJSON_GetArraySize(users) > 0)
                        cJSON_AddItemToArray(all, cJSON_DetachItemFromArray(users, 0));
                if (!more)
                        break;
        }

        if (ctl->json) {
                _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_CreateObject();
                if (!doc)
                        return stitchctl_oom();
                cJSON_AddItemToObject(doc, "users", TAKE_PTR(all));
                return output_json(doc);
        }

        if (cJSON_GetArraySize(all) == 0) {
                printf("No users.\n");
                return EXIT_OK;
        }

        _cleanup_(table_freep) struct table *t =
                table_new(7, "ID", "EMAIL", "UNIX NAME", "TYPE", "DISABLED", "PENDING", "LAST LOGIN");
        if (!t)
                return stitchctl_oom();
        const cJSON *user;
        cJSON_ArrayForEach(user, all)
                if (add_user_row(t, user) < 0)
                        return stitchctl_oom();
        table_print(t, stdout);
        return EXIT_OK;
}

int cmd_user_show(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(cJSON_Deletep) cJSON *params = user_params(args[0]);
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        cJSON *rp = NULL;
        int r;

        if (!params)
                return stitchctl_oom();
        r = stitchctl_call(ctl, "io.stitch.Admin.UserGet", params, &reply, &rp);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                return output_json(rp);

        r = stitchctl_print_user(cJSON_GetObjectItemCaseSensitive(rp, "user"), 0);
        if (r != EXIT_OK)
                return r;

        const cJSON *sessions = cJSON_GetObjectItemCaseSensitive(rp, "sessions");
        if (cJSON_GetArraySize(sessions) > 0) {
                printf("\nSessions:\n");
                return stitchctl_print_sessions(sessions, false, 2);
        }
        printf("\nSessions: none\n");
        return EXIT_OK;
}

/* Commands with {"user"} in and {"user_id", "revoked_sessions"} out. */
static int user_simple(struct stitchctl *ctl, const char *method, const char *user, const char *done) {
        _cleanup_(cJSON_Deletep) cJSON *params = user_params(user);
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        cJSON *rp = NULL;
        int r;

        if (!params)
                return stitchctl_oom();
        r = stitchctl_call(ctl, method, params, &reply, &rp);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                return output_json(rp);

        const char *id = json_string(rp, "user_id");
        _cleanup_free_ char *safe = output_sanitize(id ? id : user);
        if (!safe)
                return stitchctl_oom();

        const cJSON *revoked = cJSON_GetObjectItemCaseSensitive(rp, "revoked_sessions");
        int64_t n = -1;
        if (cJSON_IsArray(revoked))
                n = cJSON_GetArraySize(revoked);
        else
                (void) json_number_int(revoked, &n);

        if (n >= 0)
                printf("%s user %s; %" PRId64 " session%s revoked.\n", done, safe, n, n == 1 ? "" : "s");
        else
                printf("%s user %s.\n", done, safe);
        return EXIT_OK;
}

int cmd_user_disable(struct stitchctl *ctl, char **args, size_t n_args) {
        return user_simple(ctl, "io.stitch.Admin.UserDisable", args[0], "Disabled");
}

int cmd_user_enable(struct stitchctl *ctl, char **args, size_t n_args) {
        return user_simple(ctl, "io.stitch.Admin.UserEnable", args[0], "Enabled");
}

int cmd_user_delete(struct stitchctl *ctl, char **args, size_t n_args) {
        return user_simple(ctl, "io.stitch.Admin.UserDelete", args[0], "Deleted");
}

int cmd_user_revoke(struct stitchctl *ctl, char **args, size_t n_args) {
        return user_simple(ctl, "io.stitch.Admin.UserRevoke", args[0], "Revoked the sessions of");
}

int cmd_user_unlock(struct stitchctl *ctl, char **args, size_t n_args) {
        return user_simple(ctl, "io.stitch.Admin.UserUnlock", args[0], "Unlocked");
}

int cmd_user_passwd(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = NULL;
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        _cleanup_erase_ char *password = NULL;
        cJSON *rp = NULL;
        int r;

        if (!ctl->password_stdin)
                return stitchctl_usage_error(ctl, "pass --password-stdin and the new password on standard input");

        params = user_params(args[0]);
        if (!params)
                return stitchctl_oom();
        r = add_password_stdin(params, "New password: ", &password);
        if (r != EXIT_OK)
                return r;

        r = stitchctl_call(ctl, "io.stitch.Admin.UserSetPassword", params, &reply, &rp);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                return output_json(rp);

        const char *id = json_string(rp, "user_id");
        _cleanup_free_ char *safe = output_sanitize(id ? id : args[0]);
        if (!safe)
                return stitchctl_oom();
        printf("Set the password of user %s.\n", safe);
        return EXIT_OK;
}

int cmd_user_update(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(cJSON_Deletep) cJSON *params = user_params(args[0]);
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        cJSON *rp = NULL;

        if (ctl->unix_name && ctl->no_unix_name)
                return stitchctl_usage_error(ctl, "--unix-name and --no-unix-name exclude each other");
        if (ctl->name && ctl->no_name)
                return stitchctl_usage_error(ctl, "--name and --no-name exclude each other");
        if (!ctl->unix_name && !ctl->no_unix_name && !ctl->name && !ctl->no_name)
                return stitchctl_usage_error(ctl, "nothing to change: give --unix-name, --no-unix-name, --name "
                                                  "or --no-name");
        if (!params || (ctl->unix_name && !cJSON_AddStringToObject(params, "unix_name", ctl->unix_name)) ||
            (ctl->no_unix_name && !cJSON_AddNullToObject(params, "unix_name")) ||
            (ctl->name && !cJSON_AddStringToObject(params, "name", ctl->name)) ||
            (ctl->no_name && !cJSON_AddNullToObject(params, "name")))
                return stitchctl_oom();

        int r = stitchctl_call(ctl, "io.stitch.Admin.UserUpdate", params, &reply, &rp);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                return output_json(rp);

        r = stitchctl_print_user(cJSON_GetObjectItemCaseSensitive(rp, "user"), 0);
        if (r != EXIT_OK)
                return r;
        int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(rp, "revoked_sessions"));
        if (n > 0)
                printf("\n%d session%s revoked (opened as the old Unix name).\n", n, n == 1 ? "" : "s");
        return EXIT_OK;
}

int cmd_user_link(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = NULL;
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        _cleanup_erase_ char *secret = NULL;
        _cleanup_free_ char *email = NULL;
        cJSON *rp = NULL;
        int r;

        if (!ctl->provider)
                return stitchctl_usage_error(ctl, "user link needs --provider");
        params = user_params(args[0]);
        if (!params || !cJSON_AddStringToObject(params, "provider", ctl->provider))
                return stitchctl_oom();
        /* The credential, asked for as a login asks for it. */
        if (streq(ctl->provider, "local-userpass")) {
                if (ctl->email)
                        email = strdup(ctl->email);
                else if ((r = stitchctl_read_answer("Email: ", true, &email)) != EXIT_OK)
                        return r;
                if (!email)
                        return stitchctl_oom();
                r = stitchctl_read_answer("Password: ", false, &secret);
                if (r != EXIT_OK)
                        return r;
                if (!cJSON_AddStringToObject(params, "email", email) ||
                    !cJSON_AddStringToObject(params, "password", secret))
                        return stitchctl_oom();
        } else if (streq(ctl->provider, "api-key")) {
                r = stitchctl_read_answer("API key: ", false, &secret);
                if (r != EXIT_OK)
                        return r;
                if (!cJSON_AddStringToObject(params, "key", secret))
                        return stitchctl_oom();
        } else if (streq(ctl->provider, "custom-token")) {
                r = stitchctl_read_answer("Token: ", false, &secret);
                if (r != EXIT_OK)
                        return r;
                if (!cJSON_AddStringToObject(params, "token", secret))
                        return stitchctl_oom();
        } else if (streq(ctl->provider, "oauth2-google")) {
                r = stitchctl_read_answer("ID token: ", false, &secret);
                if (r != EXIT_OK)
                        return r;
                if (!cJSON_AddStringToObject(params, "id_token", secret))
                        return stitchctl_oom();
        } else if (streq(ctl->provider, "oauth2-facebook")) {
                /* A Facebook user access token (the Graph API Explorer gives one). */
                r = stitchctl_read_answer("Facebook access token: ", false, &secret);
                if (r != EXIT_OK)
                        return r;
                if (!cJSON_AddStringToObject(params, "token", secret))
                        return stitchctl_oom();
        }

        r = stitchctl_call(ctl, "io.stitch.Admin.UserLink", params, &reply, &rp);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                return output_json(rp);
        const char *id = json_string(rp, "user_id");
        const cJSON *linked = cJSON_GetObjectItemCaseSensitive(rp, "linked");
        _cleanup_free_ char *safe = output_sanitize(id ? id : args[0]);
        if (!safe)
                return stitchctl_oom();
        printf(cJSON_IsTrue(linked) ? "Linked the identity to user %s.\n" : "User %s already has that identity.\n",
               safe);
        return EXIT_OK;
}

int cmd_user_unlink(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(cJSON_Deletep) cJSON *params = user_params(args[0]);
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        cJSON *rp = NULL;

        if (!params || !cJSON_AddStringToObject(params, "identity_id", args[1]))
                return stitchctl_oom();
        int r = stitchctl_call(ctl, "io.stitch.Admin.UserUnlink", params, &reply, &rp);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                return output_json(rp);
        _cleanup_free_ char *safe_user = output_sanitize(args[0]), *safe_id = output_sanitize(args[1]);
        if (!safe_user || !safe_id)
                return stitchctl_oom();
        printf("Removed identity %s from user %s.\n", safe_id, safe_user);
        return EXIT_OK;
}

int cmd_user_register(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = NULL;
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        _cleanup_erase_ char *password = NULL;
        cJSON *rp = NULL;
        int r;

        if (!ctl->email)
                return stitchctl_usage_error(ctl, "'user register' needs --email");
        if (!ctl->password_stdin)
                return stitchctl_usage_error(ctl, "pass --password-stdin and the password on standard input");

        params = cJSON_CreateObject();
        if (!params || !cJSON_AddStringToObject(params, "email", ctl->email) ||
            (ctl->unix_name && !cJSON_AddStringToObject(params, "unix_name", ctl->unix_name)) ||
            (ctl->locale && !cJSON_AddStringToObject(params, "locale", ctl->locale)))
                return stitchctl_oom();
        r = add_password_stdin(params, "Password: ", &password);
        if (r != EXIT_OK)
                return r;

        r = stitchctl_call(ctl, "io.stitch.Admin.UserRegister", params, &reply, &rp);
        if (r != EXIT_OK)
                return r;

        /* registered, but the confirmation link could not be mailed */
        const char *warning = json_string(rp, "warning");
        if (warning) {
                _cleanup_free_ char *safe = output_sanitize(warning);
                if (!safe)
                        return stitchctl_oom();
                (void) stitchctl_fail(0, "warning: %s", safe);
        }
        if (ctl->json)
                return output_json(rp);
        return stitchctl_print_user(cJSON_GetObjectItemCaseSensitive(rp, "user"), 0);
}

/* Commands with {"user", "locale"?} in and {"user_id"} out. */
static int user_lifecycle(struct stitchctl *ctl, const char *method, const char *user, const char *done) {
        _cleanup_(cJSON_Deletep) cJSON *params = user_params(user);
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        cJSON *rp = NULL;

        if (!params || (ctl->locale && !cJSON_AddStringToObject(params, "locale", ctl->locale)))
                return stitchctl_oom();
        int r = stitchctl_call(ctl, method, params, &reply, &rp);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                return output_json(rp);
        const char *id = json_string(rp, "user_id");
        _cleanup_free_ char *safe = output_sanitize(id ? id : user);
        if (!safe)
                return stitchctl_oom();
        printf("%s %s.\n", done, safe);
        return EXIT_OK;
}

int cmd_user_confirm(struct stitchctl *ctl, char **args, size_t n_args) {
        return user_lifecycle(ctl, "io.stitch.Admin.UserConfirm", args[0], "Confirmed the email address of user");
}

int cmd_user_send_confirmation(struct stitchctl *ctl, char **args, size_t n_args) {
        return user_lifecycle(ctl, "io.stitch.Admin.UserSendConfirmation", args[0],
                              "Queued a confirmation link for user");
}

int cmd_user_send_reset(struct stitchctl *ctl, char **args, size_t n_args) {
        return user_lifecycle(ctl, "io.stitch.Admin.UserSendReset", args[0], "Queued a password reset link for user");
}
