/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One request to stitchd and its answer: the only place the module touches
 * the network. Every hook makes at most one call, bounded by timeout=. */

#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>

#include <security/pam_ext.h>
#include <security/pam_modutil.h>

#include "client.h"
#include "macro.h"
#include "pam_stitch.h"
#include "wire.h"

static const struct {
        const char *name;
        enum pam_stitch_error error;
} error_names[] = {
        {"io.stitch.Error.InvalidCredentials", PAM_STITCH_ERROR_INVALID_CREDENTIALS},
        {"io.stitch.Error.UserDisabled", PAM_STITCH_ERROR_USER_DISABLED},
        {"io.stitch.Error.SessionInvalid", PAM_STITCH_ERROR_SESSION_INVALID},
        {"io.stitch.Error.PermissionDenied", PAM_STITCH_ERROR_PERMISSION_DENIED},
        {"io.stitch.Error.InvalidParameter", PAM_STITCH_ERROR_INVALID_PARAMETER},
        {"io.stitch.Error.TooManyAttempts", PAM_STITCH_ERROR_TOO_MANY_ATTEMPTS},
        {"io.stitch.Error.NotFound", PAM_STITCH_ERROR_NOT_FOUND},
        {"io.stitch.Error.Busy", PAM_STITCH_ERROR_BUSY},
        {"io.stitch.Error.Internal", PAM_STITCH_ERROR_INTERNAL},
        {"io.stitch.Error.ConfirmationRequired", PAM_STITCH_ERROR_CONFIRMATION_REQUIRED},
};

static enum pam_stitch_error error_from_name(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(error_names); i++)
                if (streq(error_names[i].name, name))
                        return error_names[i].error;
        return PAM_STITCH_ERROR_OTHER;
}

static int64_t now_ms(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *errno_string(int error, char *buf, size_t size) {
        /* GNU strerror_r: thread-safe, may or may not use buf. */
        return strerror_r(error < 0 ? -error : error, buf, size);
}

/* Secrets go only to root or to the daemon's own account. A socket path in
 * a directory someone else can write to, or a daemon that is down while a
 * user binds the path, must not receive a password. */
static int check_peer(pam_handle_t *pamh, const struct pam_stitch_args *args, struct stitch_client *c) {
        struct ucred cred = {};
        const struct passwd *pw;
        char buf[128];
        int r;

        r = stitch_client_peer(c, &cred);
        if (r < 0) {
                pam_syslog(pamh, LOG_ERR, "Cannot identify the peer of %s: %s", args->socket,
                           errno_string(r, buf, sizeof(buf)));
                return -EPERM;
        }
        if (cred.uid == 0)
                return 0;

        pw = pam_modutil_getpwnam(pamh, args->daemon_user);
        if (pw && pw->pw_uid == cred.uid)
                return 0;

        pam_syslog(pamh, LOG_ERR,
                   "Refusing to talk to %s: its peer (pid %d, uid %u) is neither root nor the daemon user \"%s\".",
                   args->socket, (int) cred.pid, (unsigned) cred.uid, args->daemon_user);
        return -EPERM;
}

static int call_on(pam_handle_t *pamh, const struct pam_stitch_args *args, struct stitch_client **conn,
                   const char *method, const cJSON *parameters, struct pam_stitch_reply *ret) {
        const int64_t budget = (int64_t) args->timeout_sec * 1000;
        const int64_t start = now_ms();
        cJSON *root = NULL, *params = NULL;
        const char *error_name = NULL;
        struct stitch_client *c = *conn;
        int64_t left;
        char buf[128];
        int r;

        if (args->debug)
                pam_syslog(pamh, LOG_DEBUG, "Calling %s on %s (timeout %us).", method, args->socket,
                           args->timeout_sec);

        if (!c) {
                r = stitch_client_connect(args->socket, (int) budget, conn);
                if (r < 0) {
                        if (r == -ENOENT || r == -ECONNREFUSED)
                                pam_syslog(pamh, LOG_ERR, "stitchd is not running (%s: %s).", args->socket,
                                           errno_string(r, buf, sizeof(buf)));
                        else if (r == -ETIMEDOUT)
                                pam_syslog(pamh, LOG_ERR, "Timed out connecting to stitchd at %s after %us.",
                                           args->socket, args->timeout_sec);
                        else
                                pam_syslog(pamh, LOG_ERR, "Cannot connect to stitchd at %s: %s", args->socket,
                                           errno_string(r, buf, sizeof(buf)));
                        return r;
                }
                c = *conn;
                r = check_peer(pamh, args, c);
                if (r < 0)
                        return r;
        }

        left = budget - (now_ms() - start);
        if (left <= 0) {
                pam_syslog(pamh, LOG_ERR, "Timed out talking to stitchd at %s after %us.", args->socket,
                           args->timeout_sec);
                return -ETIMEDOUT;
        }

        r = stitch_client_call(c, method, parameters, (int) left, &root, &error_name, &params);
        if (r < 0) {
                if (r == -ETIMEDOUT)
                        pam_syslog(pamh, LOG_ERR, "stitchd at %s did not answer %s within %us.", args->socket,
                                   method, args->timeout_sec);
                else if (r == -EBADMSG)
                        pam_syslog(pamh, LOG_ERR, "stitchd at %s sent a malformed reply to %s.", args->socket,
                                   method);
                else
                        pam_syslog(pamh, LOG_ERR, "Call %s to stitchd at %s failed: %s", method, args->socket,
                                   errno_string(r, buf, sizeof(buf)));
                return r;
        }
        if (!root || !params || !cJSON_IsObject(params)) {
                /* The client promises an object; do not trust that blindly. */
                stitch_json_wipe_and_delete(root);
                pam_syslog(pamh, LOG_ERR, "stitchd at %s sent a reply without parameters to %s.", args->socket,
                           method);
                return -EBADMSG;
        }

        *ret = (struct pam_stitch_reply) {
                .root = root,
                .error_name = error_name,
                .error = error_name ? error_from_name(error_name) : PAM_STITCH_ERROR_NONE,
                .parameters = params,
        };

        if (args->debug)
                pam_syslog(pamh, LOG_DEBUG, "%s: %s", method, error_name ? error_name : "ok");
        return 0;
}

int pam_stitch_call_on(pam_handle_t *pamh, const struct pam_stitch_args *args, struct stitch_client **conn,
                       const char *method, const cJSON *parameters, struct pam_stitch_reply *ret) {
        int r = call_on(pamh, args, conn, method, parameters, ret);
        if (r < 0 && *conn) {
                stitch_client_free(*conn); /* in an unknown state: never reused */
                *conn = NULL;
        }
        return r;
}

int pam_stitch_call(pam_handle_t *pamh, const struct pam_stitch_args *args, const char *method,
                    const cJSON *parameters, struct pam_stitch_reply *ret) {
        _cleanup_(stitch_client_freep) struct stitch_client *c = NULL;
        return call_on(pamh, args, &c, method, parameters, ret);
}

void pam_stitch_reply_done(struct pam_stitch_reply *reply) {
        if (reply->root)
                stitch_json_wipe_and_delete(reply->root);
        *reply = (struct pam_stitch_reply) {};
}

const char *pam_stitch_reply_string(const struct pam_stitch_reply *reply, const char *name) {
        const cJSON *item;

        if (!reply->parameters)
                return NULL;
        item = cJSON_GetObjectItemCaseSensitive(reply->parameters, name);
        if (!cJSON_IsString(item) || !item->valuestring)
                return NULL;
        return item->valuestring;
}

void pam_stitch_log_reply_error(pam_handle_t *pamh, int priority, const char *method,
                                const struct pam_stitch_reply *reply) {
        char name[128], message[256];

        pam_stitch_sanitize_text(reply->error_name, name, sizeof(name));
        pam_stitch_sanitize_text(pam_stitch_reply_string(reply, "message"), message, sizeof(message));
        pam_syslog(pamh, priority, "%s: %s%s%s", method, name, message[0] ? ": " : "", message);
}

int pam_stitch_json_add_string(cJSON *obj, const char *name, const char *value) {
        if (!value)
                return 0;
        if (!cJSON_AddStringToObject(obj, name, value))
                return -ENOMEM;
        return 0;
}
