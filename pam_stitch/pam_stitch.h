/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Internals of pam_stitch.so shared by its files. The module is a thin
 * client: parse the arguments, converse, make one call to stitchd per hook,
 * and map the answer to a PAM code. Nothing here is exported: the version
 * script keeps every symbol but pam_sm_* local. */

#include <stdbool.h>
#include <stdint.h>

#include <security/pam_modules.h>

#include <cjson/cJSON.h>

#define PAM_STITCH_DEFAULT_SOCKET "/run/stitchd/io.stitch.Auth"
#define PAM_STITCH_DEFAULT_TIMEOUT_SEC 5
#define PAM_STITCH_MAX_TIMEOUT_SEC 300
#define PAM_STITCH_DEFAULT_DAEMON_USER "stitchd"

/* Longest user name and secret sent to the daemon; longer ones fail locally
 * (after prompting, so the outcome looks like any other failure). */
#define PAM_STITCH_USER_MAX 256
#define PAM_STITCH_SECRET_MAX 256 /* passwords (chauthtok) */
/* An answer to a prompt: a password, an API key, or a custom-token JWT
 * (an RS256 signature alone is 342 characters; the daemon verifies tokens
 * of up to 16384 bytes and accepts answers that long). */
#define PAM_STITCH_ANSWER_MAX 16384
/* rhost, tty, ruser, service: the daemon accepts up to 256 bytes. */
#define PAM_STITCH_ITEM_MAX 256
/* Session ids are exported to the environment; they must look like one. */
#define PAM_STITCH_SESSION_ID_MAX 128

#define PAM_STITCH_DATA_SESSION "pam_stitch_session"
#define PAM_STITCH_ENV_SESSION "STITCH_SESSION"
/* The session's binding (a secret from Login) for hooks that run in another
 * process than authentication (sshd). The daemon acts on a session only for
 * a caller that presents it; removed from the PAM environment once the
 * session is open. */
#define PAM_STITCH_ENV_BINDING "STITCH_SESSION_BINDING"

/* ---- arguments (args.c) -------------------------------------------------- */

#define PAM_STITCH_PROVIDER_MAX 64
/* At most this many rounds of prompts in one authentication. */
#define PAM_STITCH_MAX_ROUNDS 8
/* Pending rounds (a device grant waiting for the person) are not capped by
 * number but by the expiry the daemon gives, and never beyond this; the
 * daemon asks again at most this long after a pending reply. */
#define PAM_STITCH_PENDING_MAX_SEC (31 * 60)
#define PAM_STITCH_PENDING_INTERVAL_MAX_MS 60000
/* A shorter interval is waited this long: a daemon cannot make the module spin. */
#define PAM_STITCH_PENDING_INTERVAL_MIN_MS 100

/* account lines: what to do while stitchd is down (see cache.c) */
enum pam_stitch_offline {
        PAM_STITCH_OFFLINE_IGNORE, /* PAM_AUTHINFO_UNAVAIL for everyone: the stack decides (default) */
        PAM_STITCH_OFFLINE_DENY,   /* refuse the accounts the cache knows stitch manages */
};

struct pam_stitch_args {
        const char *provider;    /* borrowed from argv; NULL = auto (the daemon picks) */
        bool use_first_pass;
        bool try_first_pass;
        bool use_authtok;
        bool debug;
        bool silent;             /* PAM_SILENT: no informational or error messages */
        bool noqr;               /* draw no QR code of a device login's URL (the URL is still shown) */
        const char *socket;      /* borrowed from argv, or the default */
        unsigned timeout_sec;    /* total for one hook's exchange with the daemon */
        const char *daemon_user; /* the socket's peer must be root or this user */

        /* offline account cache (cache.c) */
        enum pam_stitch_offline offline;
        const char *cache;       /* borrowed from argv, or the default */
        bool cache_given;        /* cache= on this line: keep it up to date even with offline=ignore */
};

/* Parses the module arguments. Unknown arguments are logged (LOG_ERR) and
 * ignored, as pam_unix does; a known argument with a bad value is a
 * configuration error: returns -EINVAL (callers answer PAM_SERVICE_ERR). */
int pam_stitch_args_parse(pam_handle_t *pamh, int flags, int argc, const char **argv,
                          struct pam_stitch_args *ret);

/* ---- conversation (converse.c) ------------------------------------------- */

/* Asks one question with echo off. On PAM_SUCCESS *ret is a malloc'ed answer
 * the caller wipes and frees (erase_and_free). A missing answer is
 * PAM_CONV_ERR. */
int pam_stitch_prompt_secret(pam_handle_t *pamh, const char *prompt, char **ret);
/* The same with echo on or off. */
int pam_stitch_prompt(pam_handle_t *pamh, bool echo, const char *prompt, char **ret);

/* Shows a PAM_ERROR_MSG / PAM_TEXT_INFO unless the caller asked for silence. */
void pam_stitch_error_msg(pam_handle_t *pamh, const struct pam_stitch_args *args, const char *format, ...)
        __attribute__((format(printf, 3, 4)));
void pam_stitch_info_msg(pam_handle_t *pamh, const struct pam_stitch_args *args, const char *format, ...)
        __attribute__((format(printf, 3, 4)));

/* Copies text received from the daemon for display: control characters
 * become '?', the result is cut at 'size' - 1 bytes. */
void pam_stitch_sanitize_text(const char *text, char *buf, size_t size);

/* True for session ids safe to log and to export: 1..128 of [A-Za-z0-9_-]. */
bool pam_stitch_session_id_is_valid(const char *s);

/* ---- daemon calls (call.c) ----------------------------------------------- */

enum pam_stitch_error {
        PAM_STITCH_ERROR_NONE = 0, /* a reply, not an error */
        PAM_STITCH_ERROR_INVALID_CREDENTIALS,
        PAM_STITCH_ERROR_USER_DISABLED,
        PAM_STITCH_ERROR_SESSION_INVALID,
        PAM_STITCH_ERROR_PERMISSION_DENIED,
        PAM_STITCH_ERROR_INVALID_PARAMETER,
        PAM_STITCH_ERROR_TOO_MANY_ATTEMPTS,
        PAM_STITCH_ERROR_NOT_FOUND,
        PAM_STITCH_ERROR_BUSY,
        PAM_STITCH_ERROR_INTERNAL,
        PAM_STITCH_ERROR_CONFIRMATION_REQUIRED, /* the right password of a user who has not confirmed their email */
        PAM_STITCH_ERROR_OTHER, /* any error name we do not know: treated as a daemon fault */
};

struct stitch_client;

struct pam_stitch_reply {
        cJSON *root;                 /* owns everything below; wiped on done */
        const char *error_name;      /* NULL on success */
        enum pam_stitch_error error; /* PAM_STITCH_ERROR_NONE on success */
        cJSON *parameters;           /* never NULL after a successful call */
};

/* One call to stitchd within args->timeout_sec in total on the connection
 * kept in *conn: connects (and checks that the peer is root or
 * args->daemon_user, before anything is sent) when *conn is NULL, sends,
 * waits for the reply. 'parameters' is borrowed; the caller wipes it.
 * Returns 0 with *ret filled (the reply may carry an error), or -errno when
 * no usable answer arrived (-ENOENT/-ECONNREFUSED: no daemon, -ETIMEDOUT,
 * -ECONNRESET, -EBADMSG, -EPERM: untrusted peer); those are logged here.
 * After a failure *conn is closed and NULL (never reused in an unknown
 * state). The caller closes it with stitch_client_free() or keeps it. */
int pam_stitch_call_on(pam_handle_t *pamh, const struct pam_stitch_args *args, struct stitch_client **conn,
                       const char *method, const cJSON *parameters, struct pam_stitch_reply *ret);

/* The connection of this PAM transaction: one for all hooks, kept in the
 * handle (PAM_STITCH_DATA_CONNECTION, closed at pam_end), reused only by
 * the process and effective uid that opened it, for the same socket= and
 * daemon_user=, and only while a zero-timeout poll shows it idle (a daemon
 * that restarted or timed it out has closed it: a new one is opened). The
 * socket is close-on-exec. */
#define PAM_STITCH_DATA_CONNECTION "pam_stitch_connection"
/* The kept connection, now the caller's, or NULL (an unusable one is closed). */
struct stitch_client *pam_stitch_connection_take(pam_handle_t *pamh, const struct pam_stitch_args *args);
/* Keeps c (taking it) for the next hooks; closes it if it cannot. */
void pam_stitch_connection_keep(pam_handle_t *pamh, const struct pam_stitch_args *args, struct stitch_client *c);
/* Closes the kept connection, if any. */
void pam_stitch_connection_drop(pam_handle_t *pamh);

/* A hook's first call: pam_stitch_call_on() on the kept connection (*conn
 * must be NULL; it gets the connection used), or a new one. If a kept one
 * was closed by the daemon meanwhile (-ECONNRESET), the call is made once
 * more on a new connection. */
int pam_stitch_call_first(pam_handle_t *pamh, const struct pam_stitch_args *args, struct stitch_client **conn,
                          const char *method, const cJSON *parameters, struct pam_stitch_reply *ret);
/* A hook's only call: pam_stitch_call_first(), and then the connection is
 * kept for the next hooks if 'keep' (and the call succeeded), else closed. */
int pam_stitch_call(pam_handle_t *pamh, const struct pam_stitch_args *args, const char *method,
                    const cJSON *parameters, bool keep, struct pam_stitch_reply *ret);

/* Wipes and frees the reply; safe on a zeroed one. */
void pam_stitch_reply_done(struct pam_stitch_reply *reply);

/* A string parameter of the reply, or NULL if absent or not a string. */
const char *pam_stitch_reply_string(const struct pam_stitch_reply *reply, const char *name);

/* Logs an error reply (name and sanitised message) at 'priority'. */
void pam_stitch_log_reply_error(pam_handle_t *pamh, int priority, const char *method,
                                const struct pam_stitch_reply *reply);

/* Adds "name": value to obj unless value is NULL. Returns 0 or -ENOMEM. */
int pam_stitch_json_add_string(cJSON *obj, const char *name, const char *value);

/* ---- offline account cache (cache.c) ------------------------------------- */

/* Which Unix accounts stitch manages, and which of them are disabled, as the
 * daemon last answered io.stitch.Auth.Authorize: what offline=deny goes by
 * while stitchd is down. Root's only: read and written with euid 0 alone. */
#define PAM_STITCH_DEFAULT_CACHE "/var/lib/pam_stitch/accounts"
#define PAM_STITCH_CACHE_MAX_ENTRIES 10000
#define PAM_STITCH_CACHE_MAX_SIZE (4 * 1024 * 1024)
/* The cache file's own name; its temporary sibling is ".NAME.tmp". */
#define PAM_STITCH_CACHE_NAME_MAX 200

enum pam_stitch_account_state {
        PAM_STITCH_ACCOUNT_UNKNOWN,  /* not a stitch account, or never seen */
        PAM_STITCH_ACCOUNT_MANAGED,  /* a stitch account that may log in */
        PAM_STITCH_ACCOUNT_DISABLED, /* a stitch account that is disabled */
};

/* Records the daemon's authoritative answer about 'user' (UNKNOWN removes
 * it). Only with offline=deny or an explicit cache=, only with euid 0, and
 * only when the state changed. Never fails the caller: problems are logged. */
void pam_stitch_cache_record(pam_handle_t *pamh, const struct pam_stitch_args *args, const char *user,
                             enum pam_stitch_account_state state);

/* The account hook's answer while stitchd cannot be asked: PAM_AUTHINFO_UNAVAIL
 * with offline=ignore, for accounts the cache does not know, and without
 * euid 0; with offline=deny PAM_PERM_DENIED for a stitch account,
 * PAM_ACCT_EXPIRED for a disabled one, and PAM_PERM_DENIED for every
 * account but root's when the cache is unsafe or unreadable. */
int pam_stitch_account_offline(pam_handle_t *pamh, const struct pam_stitch_args *args, const char *user);
