/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "macro.h"
#include "output.h"
#include "wire.h"
#include "stitchctl.h"

static inline const char *strempty(const char *s) {
        return s ? s : "";
}

#define ADMIN_INTERFACE_PREFIX "io.stitch.Admin."

/* The account stitchd runs as (etc/sysusers.d-stitchd.conf), as pam_stitch's
 * daemon_user= default; $STITCH_DAEMON_USER names another one. */
#define DEFAULT_DAEMON_USER "stitchd"

const char *stitchctl_socket_for(const struct stitchctl *ctl, const char *method) {
        if (ctl->admin || strncmp(method, ADMIN_INTERFACE_PREFIX, strlen(ADMIN_INTERFACE_PREFIX)) == 0)
                return ctl->admin_socket;
        return ctl->auth_socket;
}

static int64_t now_ms(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void print_timeout(const struct stitchctl *ctl, const char *what, const char *path) {
        int ms = ctl->timeout_ms;
        if (ms % 1000 == 0)
                (void) stitchctl_fail(0, "stitchd at %s did not %s within %d s", path, what, ms / 1000);
        else
                (void) stitchctl_fail(0, "stitchd at %s did not %s within %.3f s", path, what, ms / 1000.0);
}

static bool is_daemon_user(uid_t uid, const char *name) {
        struct passwd pw, *found = NULL;
        char buf[16384];

        return getpwnam_r(name, &pw, buf, sizeof(buf), &found) == 0 && found && found->pw_uid == uid;
}

/* Passwords and keys go only to a peer we trust, checked before anything is
 * sent, as pam_stitch does: whoever listens on the socket must be root
 * (stitchd started as root, or systemd holding a socket-activated socket),
 * the daemon's account, or the caller itself (which could read this
 * process's memory anyway: a test's or a developer's private daemon). A path
 * in a directory others can write to, or a daemon that is down while
 * another user binds the path, must not receive a password. */
static int check_peer(struct stitch_client *c, const char *socket_path) {
        const char *daemon_user = getenv("STITCH_DAEMON_USER");
        struct ucred cred = {};
        int r;

        if (isempty(daemon_user))
                daemon_user = DEFAULT_DAEMON_USER;

        r = stitch_client_peer(c, &cred);
        if (r < 0) {
                errno = -r;
                return stitchctl_fail(EXIT_UNREACHABLE, "cannot tell who listens on %s: %m", socket_path);
        }
        if (cred.uid == 0 || cred.uid == geteuid() || is_daemon_user(cred.uid, daemon_user))
                return EXIT_OK;

        return stitchctl_fail(EXIT_UNREACHABLE,
                              "refusing to talk to %s: its listener (pid %d, uid %u) is neither root, you, "
                              "nor the daemon user \"%s\" (see STITCH_DAEMON_USER)",
                              socket_path, (int) cred.pid, (unsigned) cred.uid, daemon_user);
}

static int call_on(const struct stitchctl *ctl, struct stitch_client **conn, const char *socket_path,
                   const char *method, const cJSON *parameters, cJSON **ret_reply, const char **ret_error,
                   cJSON **ret_parameters) {
        cJSON *reply = NULL, *params = NULL;
        const char *error = NULL;
        int64_t deadline = now_ms() + ctl->timeout_ms;
        int r;

        if (!*conn) {
                r = stitch_client_connect(socket_path, ctl->timeout_ms, conn);
                if (r == -ETIMEDOUT) {
                        print_timeout(ctl, "accept the connection", socket_path);
                        return EXIT_UNREACHABLE;
                }
                if (r < 0) {
                        errno = -r;
                        return stitchctl_fail(EXIT_UNREACHABLE, "cannot reach stitchd at %s: %m", socket_path);
                }
                r = check_peer(*conn, socket_path);
                if (r != EXIT_OK)
                        return r;
        }
        struct stitch_client *c = *conn;

        int64_t left = deadline - now_ms();
        r = stitch_client_call(c, method, parameters, (int) MAX(left, (int64_t) 1), &reply, &error, &params);
        switch (r) {
        case 0:
                break;
        case -ETIMEDOUT:
                print_timeout(ctl, "answer", socket_path);
                return EXIT_UNREACHABLE;
        case -ECONNRESET:
        case -EPIPE:
                return stitchctl_fail(EXIT_UNREACHABLE, "stitchd at %s closed the connection", socket_path);
        case -EBADMSG:
                return stitchctl_fail(EXIT_REFUSED, "stitchd at %s sent a reply that is not valid", socket_path);
        case -EMSGSIZE:
                return stitchctl_fail(EXIT_REFUSED, "message too large for the wire (64 KiB at most)");
        case -ENOMEM:
                return stitchctl_oom();
        default:
                errno = -r;
                return stitchctl_fail(EXIT_UNREACHABLE, "call to stitchd at %s failed: %m", socket_path);
        }

        *ret_reply = reply;
        *ret_error = error;
        *ret_parameters = params;
        return EXIT_OK;
}

int stitchctl_call_raw(const struct stitchctl *ctl, const char *socket_path, const char *method,
                       const cJSON *parameters, cJSON **ret_reply, const char **ret_error,
                       cJSON **ret_parameters) {
        _cleanup_(stitch_client_freep) struct stitch_client *c = NULL;
        return call_on(ctl, &c, socket_path, method, parameters, ret_reply, ret_error, ret_parameters);
}

void stitchctl_print_reply_error(const char *error, const cJSON *parameters) {
        const char *message = json_string(parameters, "message");
        const char *parameter = json_string(parameters, "parameter");
        char extra[128] = "";
        int64_t retry;

        if (streq_ptr(error, "org.varlink.service.MethodNotFound")) {
                const char *m = json_string(parameters, "method");
                _cleanup_free_ char *safe = m ? output_sanitize(m) : NULL;
                (void) stitchctl_fail(0, "unknown method%s%s", safe ? " " : "", strempty(safe));
                return;
        }

        /* Only answered after the right password (a login of a user who has
         * not confirmed their email address): the same words as pam_stitch. */
        if (streq_ptr(error, "io.stitch.Error.ConfirmationRequired")) {
                (void) stitchctl_fail(0, "Confirm your email address first.");
                return;
        }

        if (parameter && (!message || !strstr(message, parameter)))
                (void) snprintf(extra, sizeof(extra), " (parameter '%.64s')", parameter);
        else if (json_int(parameters, "retry_after", &retry) && retry > 0)
                (void) snprintf(extra, sizeof(extra), " (retry after %" PRId64 " s)", retry);

        _cleanup_free_ char *safe = output_sanitize(message ? message : error ? error : "unknown error");
        _cleanup_free_ char *safe_extra = output_sanitize(extra);
        if (!safe || !safe_extra) {
                (void) stitchctl_oom();
                return;
        }
        (void) stitchctl_fail(0, "%s%s", safe, safe_extra);
}

int stitchctl_call_on(const struct stitchctl *ctl, struct stitch_client **conn, const char *method,
                      const cJSON *parameters, cJSON **ret_reply, cJSON **ret_parameters) {
        cJSON *reply = NULL, *params = NULL;
        const char *error = NULL;
        int r;

        r = call_on(ctl, conn, stitchctl_socket_for(ctl, method), method, parameters, &reply, &error, &params);
        if (r != EXIT_OK && *conn) {
                stitch_client_free(*conn); /* out of step: never reused */
                *conn = NULL;
        }
        if (r != EXIT_OK)
                return r;
        if (error) {
                stitchctl_print_reply_error(error, params);
                stitch_json_wipe_and_delete(reply);
                return EXIT_REFUSED;
        }
        *ret_reply = reply;
        *ret_parameters = params;
        return EXIT_OK;
}

int stitchctl_call(const struct stitchctl *ctl, const char *method, const cJSON *parameters,
                   cJSON **ret_reply, cJSON **ret_parameters) {
        _cleanup_(stitch_client_freep) struct stitch_client *c = NULL;
        return stitchctl_call_on(ctl, &c, method, parameters, ret_reply, ret_parameters);
}
