/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* stitchctl: shared state of one invocation, the option set, and the helpers
 * every command uses (talking to the daemon, reading secrets).
 *
 * Commands return an exit status, not -errno: the mapping from errors to exit
 * statuses happens once, in the helpers below, which also print the one-line
 * reason. 0 success, 1 refused, 2 usage, 3 daemon unreachable. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum {
        EXIT_OK = 0,
        EXIT_REFUSED = 1,
        EXIT_USAGE = 2,
        EXIT_UNREACHABLE = 3,
};

#define STITCHCTL_DEFAULT_AUTH_SOCKET "/run/stitchd/io.stitch.Auth"
#define STITCHCTL_DEFAULT_ADMIN_SOCKET "/run/stitchd/io.stitch.Admin"
#define STITCHCTL_DEFAULT_TIMEOUT_MS 30000
#define STITCHCTL_SECRET_MAX 4096 /* bytes; the daemon applies the real limits */

/* One bit per option, so each command can say which ones it accepts. */
enum stitchctl_option {
        OPT_JSON = 1u << 0,
        OPT_SOCKET = 1u << 1,
        OPT_ADMIN_SOCKET = 1u << 2,
        OPT_TIMEOUT = 1u << 3,
        OPT_HELP = 1u << 4,
        OPT_VERSION = 1u << 5,
        OPT_EMAIL = 1u << 6,
        OPT_UNIX_NAME = 1u << 7,
        OPT_NAME = 1u << 8,
        OPT_PASSWORD_STDIN = 1u << 9,
        OPT_USER = 1u << 10,
        OPT_SERVER = 1u << 11,
        OPT_ALL = 1u << 12,
        OPT_PROVIDER = 1u << 13,
        OPT_SERVICE = 1u << 14,
        OPT_RHOST = 1u << 15,
        OPT_TTY = 1u << 16,
        OPT_SESSION = 1u << 17,
        OPT_WAIT_REFRESH = 1u << 18,
        OPT_ADMIN = 1u << 19,
        OPT_LOCALE = 1u << 20,
        OPT_NO_UNIX_NAME = 1u << 21,
        OPT_NO_NAME = 1u << 22,
        OPT_FROM = 1u << 23,
        OPT_TO = 1u << 24,
};

#define OPTS_GLOBAL (OPT_JSON | OPT_SOCKET | OPT_ADMIN_SOCKET | OPT_TIMEOUT | OPT_HELP | OPT_VERSION)

struct stitchctl {
        /* global */
        bool json;
        const char *auth_socket;
        const char *admin_socket;
        int timeout_ms;
        bool timeout_given;

        /* command options; NULL/false when not given */
        const char *email;
        const char *unix_name;
        const char *name;
        const char *user;
        const char *provider;
        const char *service;
        const char *rhost;
        const char *tty;
        const char *session;
        const char *locale;
        const char *from; /* store migrate */
        const char *to;
        bool password_stdin;
        bool server;
        bool all;
        bool wait_refresh;
        bool admin;
        bool no_unix_name;
        bool no_name;

        uint32_t given; /* OPT_* seen on the command line */
        const char *verb_name; /* "user add", for messages */
};

/* ---- talking to stitchd (connection.c) ------------------------------------ */

/* The socket a method belongs to: io.stitch.Admin.* goes to the admin socket. */
const char *stitchctl_socket_for(const struct stitchctl *ctl, const char *method);

/* Connects to 'socket_path', sends one call and waits for the reply, within
 * the invocation's timeout. Returns 0 when a reply arrived (an error reply
 * too: *ret_error then names it, else NULL); *ret_reply owns the reply,
 * *ret_parameters points into it (never NULL). On a transport failure
 * prints the reason and returns EXIT_UNREACHABLE (or EXIT_REFUSED for a
 * reply that cannot be used). */
int stitchctl_call_raw(const struct stitchctl *ctl, const char *socket_path, const char *method,
                       const cJSON *parameters, cJSON **ret_reply, const char **ret_error,
                       cJSON **ret_parameters);

/* As above, on the socket the method belongs to, and an error reply is
 * printed ("stitchctl: <message>") and returned as EXIT_REFUSED. On 0 the
 * caller owns *ret_reply; *ret_parameters points into it. */
int stitchctl_call(const struct stitchctl *ctl, const char *method, const cJSON *parameters,
                   cJSON **ret_reply, cJSON **ret_parameters);
/* As above on a connection kept in *conn (opened when NULL; closed and
 * NULL after a transport failure): the rounds of one login, which the
 * daemon ends when the connection closes. */
struct stitch_client;
int stitchctl_call_on(const struct stitchctl *ctl, struct stitch_client **conn, const char *method,
                      const cJSON *parameters, cJSON **ret_reply, cJSON **ret_parameters);

/* Prints "stitchctl: <reason>" for an error reply. */
void stitchctl_print_reply_error(const char *error, const cJSON *parameters);

/* ---- messages (stitchctl.c) ------------------------------------------------ */

/* "stitchctl: ..." on stderr; return the given exit status. */
int stitchctl_fail(int status, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* A usage error for the current command: message, the command's synopsis and
 * a hint; returns EXIT_USAGE. */
int stitchctl_usage_error(const struct stitchctl *ctl, const char *format, ...)
        __attribute__((format(printf, 2, 3)));
/* Out of memory: message, EXIT_REFUSED. */
int stitchctl_oom(void);

/* ---- secrets (secret.c) ------------------------------------------------------ */

/* Reads all of stdin (at most STITCHCTL_SECRET_MAX bytes) and strips one
 * trailing newline. If stdin is a terminal, prompts on the terminal and reads
 * one line with echo off instead. Returns 0 and a malloc'd string the caller
 * must wipe (erase_and_free), or an exit status after printing why. */
int stitchctl_read_password_stdin(const char *prompt, char **ret);

/* Reads one line: from the terminal without echo if stdin is a terminal
 * (prompt on /dev/tty, else stderr), else from stdin, trailing newline
 * stripped. Same return convention. */
int stitchctl_read_secret_line(const char *prompt, char **ret);
/* One answer to a daemon's prompt: as above with echo off, else a plain line. */
int stitchctl_read_answer(const char *prompt, bool echo, char **ret);

/* Constant-time comparison of two secrets (lengths may differ). */
bool stitchctl_secret_equal(const char *a, const char *b);

/* ---- commands (cmd-*.c) ------------------------------------------------------- */

int cmd_status(struct stitchctl *ctl, char **args, size_t n_args);

int cmd_user_add(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_user_list(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_user_show(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_user_disable(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_user_enable(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_user_delete(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_user_revoke(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_user_unlock(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_user_link(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_user_unlink(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_user_passwd(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_user_update(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_user_register(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_user_confirm(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_user_send_confirmation(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_user_send_reset(struct stitchctl *ctl, char **args, size_t n_args);

int cmd_apikey_add(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_apikey_list(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_apikey_enable(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_apikey_disable(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_apikey_delete(struct stitchctl *ctl, char **args, size_t n_args);

int cmd_session_list(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_session_revoke(struct stitchctl *ctl, char **args, size_t n_args);

int cmd_key_rotate(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_key_list(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_key_jwks(struct stitchctl *ctl, char **args, size_t n_args);

int cmd_login(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_token(struct stitchctl *ctl, char **args, size_t n_args);
int cmd_token_verify(struct stitchctl *ctl, char **args, size_t n_args);

int cmd_call(struct stitchctl *ctl, char **args, size_t n_args);

int cmd_store_migrate(struct stitchctl *ctl, char **args, size_t n_args);

/* Shared by "user show" and "session list": prints a sessions array as a
 * table (indented by 'indent'), with a USER ID column if with_user.
 * Returns an exit status. */
int stitchctl_print_sessions(const cJSON *sessions, bool with_user, size_t indent);

/* "Label: value" block of a user object and its identities, indented by
 * 'indent' blanks (cmd-user.c). Returns an exit status. */
int stitchctl_print_user(const cJSON *user, size_t indent);
