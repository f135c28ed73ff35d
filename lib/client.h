/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A small blocking varlink client with deadlines, used by stitchctl and the
 * PAM module. No threads, no signals: send() uses MSG_NOSIGNAL and waiting is
 * done with poll() against a monotonic deadline. */

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

struct stitch_client;

/* Connects to the AF_UNIX stream socket at 'path' within timeout_ms (a
 * negative timeout means no deadline; this holds for every call here).
 * Returns 0, -ENOENT/-ECONNREFUSED (no daemon), -ETIMEDOUT (also when the
 * daemon's listen backlog stays full), -ENAMETOOLONG, -EINVAL, -errno. */
int stitch_client_connect(const char *path, int timeout_ms, struct stitch_client **ret);

/* The peer's credentials (SO_PEERCRED: whoever called listen() on the
 * daemon's socket, which may be systemd for a socket-activated daemon). */
int stitch_client_peer(struct stitch_client *c, struct ucred *ret);

/* Sends one call and waits for its reply within timeout_ms (total).
 * 'parameters' is borrowed (may be NULL). On success returns 0 and *ret_reply
 * owns the parsed reply; *ret_error (optional) is set to the error name inside
 * it or NULL; *ret_parameters (optional) to its "parameters" object (never NULL
 * on success: an empty object is added if absent).
 * Returns -ETIMEDOUT, -ECONNRESET (daemon closed), -EBADMSG (garbage reply:
 * not a JSON object, unknown or duplicate keys, "parameters" not an object,
 * "error" not a non-empty string), -EMSGSIZE (request or reply over the cap),
 * -EINVAL (bad arguments, or parameters not an object), -errno. The sent
 * buffer and the raw reply are wiped. After a failed exchange the connection
 * is out of step and further calls return -ENOTCONN: reconnect. */
int stitch_client_call(struct stitch_client *c, const char *method, const cJSON *parameters,
                       int timeout_ms, cJSON **ret_reply, const char **ret_error,
                       cJSON **ret_parameters);

/* Whether the connection can carry another call: no call failed on it,
 * nothing unread is buffered, and a zero-timeout poll shows the peer has
 * neither hung up nor sent anything unasked (a daemon that restarted or
 * closed an idle connection). For connections kept between calls. */
bool stitch_client_is_idle(struct stitch_client *c);

/* Sleeps timeout_ms (>= 0) in poll() on the connection, between calls: a
 * pending login waiting for its next poll. Returns 0 once the time has
 * passed with the connection quiet, -ECONNRESET as soon as the daemon
 * closes it or sends anything (the connection is then unusable), -ENOTCONN
 * for a connection that cannot carry a call. Signals do not cut it short. */
int stitch_client_wait_quiet(struct stitch_client *c, int timeout_ms);

void stitch_client_free(struct stitch_client *c);
static inline void stitch_client_freep(struct stitch_client **c) {
        if (*c)
                stitch_client_free(*c);
}
