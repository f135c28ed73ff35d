/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Requests to stitchd and their answers: the only place the module touches
 * the network. Every call is bounded by timeout=. One connection serves the
 * hooks of a PAM transaction (kept in the handle with pam_set_data), so a
 * login costs the daemon one accept, not one per hook. */

#include <assert.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

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

/* ---- the transaction's connection ---------------------------------------- */

/* Reused only by the process and effective uid that opened it (after a fork
 * the child opens its own and never writes to its parent's socket; the
 * daemon takes the caller's pid and uid from SO_PEERCRED at connect time),
 * and only for the same socket= and daemon_user= (the peer check was made
 * for those). */
struct kept_connection {
        struct stitch_client *client;
        pid_t pid;
        uid_t euid;
        char *socket;
        char *daemon_user;
};

static void kept_connection_free(struct kept_connection *k) {
        if (!k)
                return;
        /* close() only, never shutdown(): in a forked child this descriptor
         * is a copy of the parent's, whose connection must go on. */
        stitch_client_free(k->client);
        free(k->socket);
        free(k->daemon_user);
        free(k);
}

static void kept_connection_cleanup(pam_handle_t *pamh, void *data, int error_status) {
        kept_connection_free(data);
}

static bool kept_connection_matches(const struct kept_connection *k, const struct pam_stitch_args *args) {
        return k->client && k->pid == getpid() && k->euid == geteuid() && streq(k->socket, args->socket) &&
               streq(k->daemon_user, args->daemon_user);
}

struct stitch_client *pam_stitch_connection_take(pam_handle_t *pamh, const struct pam_stitch_args *args) {
        const void *data = NULL;
        struct kept_connection *k;
        struct stitch_client *c;

        if (pam_get_data(pamh, PAM_STITCH_DATA_CONNECTION, &data) != PAM_SUCCESS || !data)
                return NULL;
        k = (struct kept_connection *) data;
        if (!kept_connection_matches(k, args) || !stitch_client_is_idle(k->client)) {
                if (args->debug && k->client)
                        pam_syslog(pamh, LOG_DEBUG, "Not reusing the connection to stitchd (%s).",
                                   k->pid != getpid() || k->euid != geteuid() ? "another process or uid"
                                   : !streq(k->socket, args->socket) || !streq(k->daemon_user, args->daemon_user)
                                           ? "other arguments"
                                           : "closed or out of step");
                pam_stitch_connection_drop(pamh);
                return NULL;
        }
        c = TAKE_PTR(k->client);
        return c;
}

void pam_stitch_connection_keep(pam_handle_t *pamh, const struct pam_stitch_args *args, struct stitch_client *c) {
        struct kept_connection *k;

        if (!c)
                return;
        k = calloc(1, sizeof(*k));
        if (!k) {
                stitch_client_free(c);
                return;
        }
        k->client = c;
        k->pid = getpid();
        k->euid = geteuid();
        k->socket = strdup(args->socket);
        k->daemon_user = strdup(args->daemon_user);
        /* Replacing runs the cleanup of what was kept before (closing it). */
        if (!k->socket || !k->daemon_user ||
            pam_set_data(pamh, PAM_STITCH_DATA_CONNECTION, k, kept_connection_cleanup) != PAM_SUCCESS)
                kept_connection_free(k);
}

void pam_stitch_connection_drop(pam_handle_t *pamh) {
        const void *data = NULL;

        if (pam_get_data(pamh, PAM_STITCH_DATA_CONNECTION, &data) == PAM_SUCCESS && data)
                (void) pam_set_data(pamh, PAM_STITCH_DATA_CONNECTION, NULL, NULL);
}

int pam_stitch_call_first(pam_handle_t *pamh, const struct pam_stitch_args *args, struct stitch_client **conn,
                          const char *method, const cJSON *parameters, struct pam_stitch_reply *ret) {
        bool reused;
        int r;

        assert(!*conn);
        *conn = pam_stitch_connection_take(pamh, args);
        reused = *conn;
        r = pam_stitch_call_on(pamh, args, conn, method, parameters, ret);
        if (r == -ECONNRESET && reused) {
                /* The daemon closed the kept connection between our check and
                 * the call (an idle timeout, a restart): it never read the
                 * call, or it died with it. Once more on a new connection. */
                if (args->debug)
                        pam_syslog(pamh, LOG_DEBUG, "Calling %s again on a new connection.", method);
                r = pam_stitch_call_on(pamh, args, conn, method, parameters, ret);
        }
        return r;
}

int pam_stitch_call(pam_handle_t *pamh, const struct pam_stitch_args *args, const char *method,
                    const cJSON *parameters, bool keep, struct pam_stitch_reply *ret) {
        _cleanup_(stitch_client_freep) struct stitch_client *c = NULL;
        int r = pam_stitch_call_first(pamh, args, &c, method, parameters, ret);
        if (r >= 0 && keep)
                pam_stitch_connection_keep(pamh, args, TAKE_PTR(c));
        return r;
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
