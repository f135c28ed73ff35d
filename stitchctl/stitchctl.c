/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchctl: command line, dispatch and help. The commands live in cmd-*.c. */

#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "stitchctl.h"

struct verb {
        const char *group;   /* first word */
        const char *name;    /* second word, NULL for a one-word command */
        size_t min_args, max_args;
        uint32_t options;    /* accepted besides OPTS_GLOBAL */
        int (*run)(struct stitchctl *ctl, char **args, size_t n_args);
        const char *synopsis; /* lines after "stitchctl ", '\n' separated */
        const char *help;
};

#define USER_ARG "ID|EMAIL|UNIXNAME"

static const struct verb verbs[] = {
        { "status", NULL, 0, 0, 0, cmd_status,
          "status",
          "Show the daemon's version, counts of users and sessions, uptime, store,\n"
          "signing algorithm and active key (io.stitch.Admin.Status).\n" },

        { "user", "add", 0, 0, OPT_EMAIL | OPT_UNIX_NAME | OPT_NAME | OPT_PASSWORD_STDIN, cmd_user_add,
          "user add --email EMAIL [--unix-name NAME] [--name NAME] --password-stdin\n"
          "user add --unix-name NAME [--name NAME]",
          "Create a user. A user with an email logs in with a password, read from\n"
          "standard input (one trailing newline is removed; on a terminal it is\n"
          "prompted for without echo). A user with only a Unix name has no password\n"
          "and logs in with API keys or through other PAM modules.\n"
          "\n"
          "  --email EMAIL       the local-userpass identity\n"
          "  --unix-name NAME    the Unix account the user may log in as\n"
          "  --name NAME         display name (data.name)\n"
          "  --password-stdin    read the password from standard input\n" },

        { "user", "list", 0, 0, 0, cmd_user_list,
          "user list",
          "List all users.\n" },

        { "user", "show", 1, 1, 0, cmd_user_show,
          "user show " USER_ARG,
          "Show a user with its identities and sessions.\n" },

        { "user", "disable", 1, 1, 0, cmd_user_disable,
          "user disable " USER_ARG,
          "Disable a user: logins are refused and every session and token of the\n"
          "user stops working at once.\n" },

        { "user", "enable", 1, 1, 0, cmd_user_enable,
          "user enable " USER_ARG,
          "Enable a disabled user.\n" },

        { "user", "delete", 1, 1, 0, cmd_user_delete,
          "user delete " USER_ARG,
          "Delete a user with its identities, API keys and sessions.\n" },

        { "user", "revoke", 1, 1, 0, cmd_user_revoke,
          "user revoke " USER_ARG,
          "Revoke every session of a user; its tokens stop working at once.\n" },

        { "user", "unlock", 1, 1, 0, cmd_user_unlock,
          "user unlock " USER_ARG,
          "Clear a user's failed login attempts (the rate limit back-off).\n" },

        { "user", "link", 1, 1, OPT_PROVIDER | OPT_EMAIL, cmd_user_link,
          "user link " USER_ARG " --provider PROVIDER [--email EMAIL]",
          "Link an identity to a user: the credential of PROVIDER (local-userpass:\n"
          "an email and its password) is read from the terminal (secrets without\n"
          "echo), or one line of standard input each. An email/password user that\n"
          "never logged in is merged into USER; one that did is refused\n"
          "(IdentityInUse). Anonymous identities and API keys cannot be linked.\n"
          "\n"
          "  --provider P        the credential's provider (local-userpass)\n"
          "  --email EMAIL       the local-userpass email (else it is asked for)\n" },

        { "user", "unlink", 2, 2, 0, cmd_user_unlink,
          "user unlink " USER_ARG " IDENTITY_ID",
          "Remove one identity from a user (not the last one). A local-userpass\n"
          "identity takes the email and password with it.\n" },

        { "user", "passwd", 1, 1, OPT_PASSWORD_STDIN, cmd_user_passwd,
          "user passwd " USER_ARG " --password-stdin",
          "Set a user's password, read from standard input (one trailing newline\n"
          "is removed; on a terminal it is prompted for without echo).\n"
          "\n"
          "  --password-stdin    read the password from standard input\n" },

        { "user", "update", 1, 1, OPT_UNIX_NAME | OPT_NO_UNIX_NAME | OPT_NAME | OPT_NO_NAME, cmd_user_update,
          "user update " USER_ARG " [--unix-name NAME | --no-unix-name] [--name NAME | --no-name]",
          "Change a user's Unix name or display name (the email is the local-userpass\n"
          "identity's and is not changed here). A new Unix name lets the user log in\n"
          "as that Unix account (a user first made by an app login, say); the old\n"
          "name no longer maps to the user. A change of the Unix name ends every\n"
          "session of the user: they were opened as the old account. With [Accounts]\n"
          "UserDB=yes the account keeps its uid and is served under the new name.\n"
          "\n"
          "  --unix-name NAME    the Unix account the user may log in as\n"
          "  --no-unix-name      remove the Unix name (no Unix logins by name)\n"
          "  --name NAME         display name (data.name)\n"
          "  --no-name           remove the display name\n" },

        { "user", "register", 0, 0, OPT_EMAIL | OPT_PASSWORD_STDIN | OPT_LOCALE | OPT_UNIX_NAME, cmd_user_register,
          "user register --email EMAIL --password-stdin [--unix-name NAME] [--locale LOCALE]",
          "Register an email/password user as the HTTP API's register route does,\n"
          "also with Registration=no and without its rate limits: the user is\n"
          "self-registered (never reached through [Pam] EmailDomain=; a Unix name\n"
          "only if given here) and pending, unable to log in, until confirmed,\n"
          "unless AutoConfirm=yes. ConfirmationCommand= runs if set (fail: the user\n"
          "is deleted again); otherwise a confirmation link is mailed. The password\n"
          "is read from standard input (one trailing newline is removed; on a\n"
          "terminal it is prompted for without echo).\n"
          "\n"
          "  --email EMAIL       the address to register\n"
          "  --password-stdin    read the password from standard input\n"
          "  --unix-name NAME    the Unix account the user may log in as once confirmed\n"
          "  --locale LOCALE     the locale of the link and the mail (e.g. de)\n" },

        { "user", "confirm", 1, 1, 0, cmd_user_confirm,
          "user confirm " USER_ARG,
          "Confirm a pending user's email address; the user may log in.\n" },

        { "user", "send-confirmation", 1, 1, OPT_LOCALE, cmd_user_send_confirmation,
          "user send-confirmation " USER_ARG " [--locale LOCALE]",
          "Mail a pending user a new confirmation link (older links stop working).\n"
          "Needs [Smtp] URL=.\n"
          "\n"
          "  --locale LOCALE     the locale of the link and the mail\n" },

        { "user", "send-reset", 1, 1, OPT_LOCALE, cmd_user_send_reset,
          "user send-reset " USER_ARG " [--locale LOCALE]",
          "Mail a user a password reset link. Needs [Smtp] URL=.\n"
          "\n"
          "  --locale LOCALE     the locale of the link and the mail\n" },

        { "apikey", "add", 0, 0, OPT_USER | OPT_NAME | OPT_SERVER | OPT_UNIX_NAME, cmd_apikey_add,
          "apikey add --user " USER_ARG " --name NAME\n"
          "apikey add --server --name NAME [--unix-name NAME]",
          "Create an API key for a user, or a server key (which creates a server\n"
          "user). The key is printed once and cannot be shown again.\n"
          "\n"
          "  --user USER         the user owning the key\n"
          "  --server            create a server API key\n"
          "  --name NAME         the key's name\n"
          "  --unix-name NAME    the Unix account a server key logs in as\n" },

        { "apikey", "list", 0, 0, OPT_USER, cmd_apikey_list,
          "apikey list [--user " USER_ARG "]",
          "List API keys, of one user or of all.\n"
          "\n"
          "  --user USER         only this user's keys\n" },

        { "apikey", "enable", 1, 1, 0, cmd_apikey_enable,
          "apikey enable KEY_ID",
          "Enable an API key.\n" },

        { "apikey", "disable", 1, 1, 0, cmd_apikey_disable,
          "apikey disable KEY_ID",
          "Disable an API key; logins with it are refused.\n" },

        { "apikey", "delete", 1, 1, 0, cmd_apikey_delete,
          "apikey delete KEY_ID",
          "Delete an API key.\n" },

        { "session", "list", 0, 0, OPT_USER | OPT_ALL, cmd_session_list,
          "session list [--user " USER_ARG "] [--all]",
          "List live sessions.\n"
          "\n"
          "  --user USER         only this user's sessions\n"
          "  --all               include revoked and logged out sessions\n" },

        { "session", "revoke", 1, 1, 0, cmd_session_revoke,
          "session revoke SESSION_ID",
          "Revoke a session; its refresh token and access tokens stop working.\n" },

        { "key", "rotate", 0, 0, 0, cmd_key_rotate,
          "key rotate",
          "Create a new signing key and make it the active one. Tokens signed with\n"
          "older keys stay valid until they expire.\n" },

        { "key", "list", 0, 0, 0, cmd_key_list,
          "key list",
          "List the signing keys.\n" },

        { "key", "jwks", 0, 0, 0, cmd_key_jwks,
          "key jwks",
          "Print the public signing keys as a JWKS document.\n" },

        { "login", NULL, 0, 0, OPT_USER | OPT_PROVIDER | OPT_SERVICE | OPT_RHOST | OPT_TTY, cmd_login,
          "login [--user NAME] [--provider PROVIDER] [--service SERVICE] [--rhost HOST] [--tty TTY]",
          "Log in (io.stitch.Auth.Login) and print the new session and its tokens.\n"
          "The password or API key is read from the terminal without echo, or from\n"
          "standard input (one line) when that is not a terminal.\n"
          "\n"
          "  --user NAME         Unix user to log in as (default: the caller's)\n"
          "  --provider P        local-userpass (default), api-key, anon-user, custom-token, auto\n"
          "  --service SERVICE   the service name recorded (default: stitchctl)\n"
          "  --rhost HOST        remote host recorded with the session\n"
          "  --tty TTY           terminal recorded with the session\n" },

        { "token", NULL, 0, 0, OPT_SESSION | OPT_WAIT_REFRESH, cmd_token,
          "token [--session ID] [--wait-refresh]",
          "Print the current access token of a login session: the session given,\n"
          "else $STITCH_SESSION (set by pam_stitch in a login session).\n"
          "\n"
          "  --session ID        the session\n"
          "  --wait-refresh      wait until the daemon has refreshed the token and\n"
          "                      print the new one (--timeout bounds the wait)\n" },

        { "token", "verify", 1, 1, 0, cmd_token_verify,
          "token verify TOKEN|-",
          "Verify an access token (signature, expiry, revocation) and print its\n"
          "claims and user. \"-\" reads the token from standard input.\n" },

        { "store", "migrate", 0, 0, OPT_FROM | OPT_TO, cmd_store_migrate,
          "store migrate --from SPEC --to SPEC",
          "Copy every user, identity, password, API key, session and signing key\n"
          "from one store into another, empty one, then compare the counts; for\n"
          "moving a host from sqlite:PATH to a fleet's postgresql://... store.\n"
          "Runs stitchd --migrate-store on this host (as root, with the stitchd\n"
          "that uses the source stopped); needs no running daemon. A failure\n"
          "leaves the target as it was. Not copied: retired refresh tokens and\n"
          "pending confirmation or reset mails.\n"
          "\n"
          "  --from SPEC         the store to copy (a Store= value: sqlite:/path)\n"
          "  --to SPEC           the empty store to fill (postgresql://USER@HOST/DB)\n" },

        { "call", NULL, 1, 2, OPT_ADMIN, cmd_call,
          "call METHOD [JSON|-]",
          "Call a wire method with parameters JSON (default {}; \"-\" reads them from\n"
          "standard input) and print the whole reply. io.stitch.Admin.* methods go to\n"
          "the admin socket, others to the auth socket.\n"
          "\n"
          "  --admin             send to the admin socket whatever the method\n" },
};

static const struct verb *current_verb;

static const struct {
        uint32_t bit;
        const char *name;
} option_names[] = {
        { OPT_JSON, "--json" },           { OPT_SOCKET, "--socket" },
        { OPT_ADMIN_SOCKET, "--admin-socket" }, { OPT_TIMEOUT, "--timeout" },
        { OPT_HELP, "--help" },           { OPT_VERSION, "--version" },
        { OPT_EMAIL, "--email" },         { OPT_UNIX_NAME, "--unix-name" },
        { OPT_NAME, "--name" },           { OPT_PASSWORD_STDIN, "--password-stdin" },
        { OPT_USER, "--user" },           { OPT_SERVER, "--server" },
        { OPT_ALL, "--all" },             { OPT_PROVIDER, "--provider" },
        { OPT_SERVICE, "--service" },     { OPT_RHOST, "--rhost" },
        { OPT_TTY, "--tty" },             { OPT_SESSION, "--session" },
        { OPT_WAIT_REFRESH, "--wait-refresh" }, { OPT_ADMIN, "--admin" },
        { OPT_LOCALE, "--locale" },
        { OPT_NO_UNIX_NAME, "--no-unix-name" }, { OPT_NO_NAME, "--no-name" },
        { OPT_FROM, "--from" },           { OPT_TO, "--to" },
};

static const char *option_name(uint32_t bit) {
        for (size_t i = 0; i < ELEMENTSOF(option_names); i++)
                if (option_names[i].bit == bit)
                        return option_names[i].name;
        return "?";
}

int stitchctl_fail(int status, const char *format, ...) {
        int saved_errno = errno;
        va_list ap;

        (void) fflush(stdout);
        fputs("stitchctl: ", stderr);
        va_start(ap, format);
        errno = saved_errno; /* for %m */
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
        return status;
}

int stitchctl_oom(void) {
        return stitchctl_fail(EXIT_REFUSED, "out of memory");
}

static void print_synopsis(FILE *f, const struct verb *v, const char *first) {
        const char *s = v->synopsis;
        bool first_line = true;

        while (*s) {
                size_t n = strcspn(s, "\n");
                fprintf(f, "%*s stitchctl %.*s\n", (int) strlen(first), first_line ? first : "", (int) n, s);
                first_line = false;
                s += n;
                if (*s == '\n')
                        s++;
        }
}

static void verb_words(const struct verb *v, char *buf, size_t size) {
        (void) snprintf(buf, size, "%s%s%s", v->group, v->name ? " " : "", v->name ? v->name : "");
}

int stitchctl_usage_error(const struct stitchctl *ctl, const char *format, ...) {
        va_list ap;
        char words[64];

        (void) ctl;
        (void) fflush(stdout);
        fputs("stitchctl: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);

        if (current_verb) {
                print_synopsis(stderr, current_verb, "Usage:");
                verb_words(current_verb, words, sizeof(words));
                fprintf(stderr, "Try 'stitchctl %s --help' for more information.\n", words);
        } else
                fputs("Try 'stitchctl --help' for more information.\n", stderr);
        return EXIT_USAGE;
}

static const char global_options_help[] =
        "Options:\n"
        "  --socket PATH        auth socket (default $STITCH_SOCKET, else\n"
        "                       " STITCHCTL_DEFAULT_AUTH_SOCKET ")\n"
        "  --admin-socket PATH  admin socket (default $STITCH_ADMIN_SOCKET, else\n"
        "                       " STITCHCTL_DEFAULT_ADMIN_SOCKET ")\n"
        "  --timeout SEC        give up on the daemon after SEC seconds (default 30)\n"
        "  --json               print one JSON document instead of text\n"
        "  -h, --help           show help (after a command: for that command)\n"
        "  --version            show the version\n";

static void help_global(void) {
        printf("stitchctl - control the stitch authentication daemon\n\nUsage:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                print_synopsis(stdout, &verbs[i], " ");
        printf("\n%s\nExit status: 0 success, 1 refused, 2 usage error, 3 daemon unreachable.\n"
               "See stitchctl(1).\n",
               global_options_help);
}

static void help_group(const char *group) {
        printf("Usage:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].group, group))
                        print_synopsis(stdout, &verbs[i], " ");
        printf("\nTry 'stitchctl %s COMMAND --help' for more information.\n", group);
}

static void help_verb(const struct verb *v) {
        print_synopsis(stdout, v, "Usage:");
        printf("\n%s\n%s", v->help, global_options_help);
}

static bool group_exists(const char *group) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].group, group))
                        return true;
        return false;
}

/* Finds the command named by the first one or two words; *ret_words says how many it used. */
static const struct verb *find_verb(char **words, size_t n_words, size_t *ret_words) {
        if (n_words >= 2)
                for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                        if (verbs[i].name && streq(verbs[i].group, words[0]) && streq(verbs[i].name, words[1])) {
                                *ret_words = 2;
                                return &verbs[i];
                        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (!verbs[i].name && streq(verbs[i].group, words[0])) {
                        *ret_words = 1;
                        return &verbs[i];
                }
        return NULL;
}

static int parse_timeout(const struct stitchctl *ctl, const char *s, int *ret) {
        char *end;

        errno = 0;
        double d = strtod(s, &end);
        /* written so that NaN fails too */
        if (errno != 0 || end == s || *end != 0 || !(d > 0 && d <= 2000000.0))
                return stitchctl_usage_error(ctl, "invalid --timeout '%s': expected seconds (0 < SEC <= 2000000)", s);
        *ret = MAX((int) (d * 1000.0 + 0.5), 1);
        return 0;
}

enum {
        ARG_JSON = 0x100,
        ARG_SOCKET,
        ARG_ADMIN_SOCKET,
        ARG_TIMEOUT,
        ARG_VERSION,
        ARG_EMAIL,
        ARG_UNIX_NAME,
        ARG_NAME,
        ARG_PASSWORD_STDIN,
        ARG_USER,
        ARG_SERVER,
        ARG_ALL,
        ARG_PROVIDER,
        ARG_SERVICE,
        ARG_RHOST,
        ARG_TTY,
        ARG_SESSION,
        ARG_WAIT_REFRESH,
        ARG_ADMIN,
        ARG_LOCALE,
        ARG_NO_UNIX_NAME,
        ARG_NO_NAME,
        ARG_PASSWORD, /* refused: secrets never on argv */
        ARG_KEY,
        ARG_FROM,
        ARG_TO,
};

static int set_string(struct stitchctl *ctl, uint32_t bit, const char **field, const char *value) {
        if (ctl->given & bit)
                return stitchctl_usage_error(ctl, "option %s given more than once", option_name(bit));
        ctl->given |= bit;
        *field = value;
        return 0;
}

static int set_flag(struct stitchctl *ctl, uint32_t bit, bool *field) {
        ctl->given |= bit;
        *field = true;
        return 0;
}

/* Collects options from anywhere on the command line (before or after the
 * command) and the words in order. Returns 0 or an exit status. */
static int parse_argv(struct stitchctl *ctl, int argc, char *argv[], char ***ret_words, size_t *ret_n_words) {
        static const struct option options[] = {
                { "json", no_argument, NULL, ARG_JSON },
                { "socket", required_argument, NULL, ARG_SOCKET },
                { "admin-socket", required_argument, NULL, ARG_ADMIN_SOCKET },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "email", required_argument, NULL, ARG_EMAIL },
                { "unix-name", required_argument, NULL, ARG_UNIX_NAME },
                { "name", required_argument, NULL, ARG_NAME },
                { "password-stdin", no_argument, NULL, ARG_PASSWORD_STDIN },
                { "user", required_argument, NULL, ARG_USER },
                { "server", no_argument, NULL, ARG_SERVER },
                { "all", no_argument, NULL, ARG_ALL },
                { "provider", required_argument, NULL, ARG_PROVIDER },
                { "service", required_argument, NULL, ARG_SERVICE },
                { "rhost", required_argument, NULL, ARG_RHOST },
                { "tty", required_argument, NULL, ARG_TTY },
                { "session", required_argument, NULL, ARG_SESSION },
                { "wait-refresh", no_argument, NULL, ARG_WAIT_REFRESH },
                { "admin", no_argument, NULL, ARG_ADMIN },
                { "locale", required_argument, NULL, ARG_LOCALE },
                { "no-unix-name", no_argument, NULL, ARG_NO_UNIX_NAME },
                { "no-name", no_argument, NULL, ARG_NO_NAME },
                { "password", optional_argument, NULL, ARG_PASSWORD },
                { "key", optional_argument, NULL, ARG_KEY },
                { "api-key", optional_argument, NULL, ARG_KEY },
                { "from", required_argument, NULL, ARG_FROM },
                { "to", required_argument, NULL, ARG_TO },
                {}
        };
        _cleanup_free_ char **words = calloc((size_t) argc + 1, sizeof(char *));
        size_t n_words = 0;
        const char *timeout = NULL;
        int c, r = 0;

        if (!words)
                return stitchctl_oom();

        opterr = 0;
        /* "-": words are returned in order as code 1, whatever POSIXLY_CORRECT says */
        while ((c = getopt_long(argc, argv, "-:h", options, NULL)) >= 0) {
                switch (c) {
                case 1:
                        words[n_words++] = optarg;
                        break;
                case ARG_JSON:
                        r = set_flag(ctl, OPT_JSON, &ctl->json);
                        break;
                case ARG_SOCKET:
                        r = set_string(ctl, OPT_SOCKET, &ctl->auth_socket, optarg);
                        break;
                case ARG_ADMIN_SOCKET:
                        r = set_string(ctl, OPT_ADMIN_SOCKET, &ctl->admin_socket, optarg);
                        break;
                case ARG_TIMEOUT:
                        r = set_string(ctl, OPT_TIMEOUT, &timeout, optarg);
                        break;
                case 'h':
                        ctl->given |= OPT_HELP;
                        break;
                case ARG_VERSION:
                        ctl->given |= OPT_VERSION;
                        break;
                case ARG_EMAIL:
                        r = set_string(ctl, OPT_EMAIL, &ctl->email, optarg);
                        break;
                case ARG_UNIX_NAME:
                        r = set_string(ctl, OPT_UNIX_NAME, &ctl->unix_name, optarg);
                        break;
                case ARG_NAME:
                        r = set_string(ctl, OPT_NAME, &ctl->name, optarg);
                        break;
                case ARG_PASSWORD_STDIN:
                        r = set_flag(ctl, OPT_PASSWORD_STDIN, &ctl->password_stdin);
                        break;
                case ARG_USER:
                        r = set_string(ctl, OPT_USER, &ctl->user, optarg);
                        break;
                case ARG_SERVER:
                        r = set_flag(ctl, OPT_SERVER, &ctl->server);
                        break;
                case ARG_ALL:
                        r = set_flag(ctl, OPT_ALL, &ctl->all);
                        break;
                case ARG_PROVIDER:
                        r = set_string(ctl, OPT_PROVIDER, &ctl->provider, optarg);
                        break;
                case ARG_SERVICE:
                        r = set_string(ctl, OPT_SERVICE, &ctl->service, optarg);
                        break;
                case ARG_RHOST:
                        r = set_string(ctl, OPT_RHOST, &ctl->rhost, optarg);
                        break;
                case ARG_TTY:
                        r = set_string(ctl, OPT_TTY, &ctl->tty, optarg);
                        break;
                case ARG_SESSION:
                        r = set_string(ctl, OPT_SESSION, &ctl->session, optarg);
                        break;
                case ARG_WAIT_REFRESH:
                        r = set_flag(ctl, OPT_WAIT_REFRESH, &ctl->wait_refresh);
                        break;
                case ARG_ADMIN:
                        r = set_flag(ctl, OPT_ADMIN, &ctl->admin);
                        break;
                case ARG_LOCALE:
                        r = set_string(ctl, OPT_LOCALE, &ctl->locale, optarg);
                        break;
                case ARG_NO_UNIX_NAME:
                        r = set_flag(ctl, OPT_NO_UNIX_NAME, &ctl->no_unix_name);
                        break;
                case ARG_NO_NAME:
                        r = set_flag(ctl, OPT_NO_NAME, &ctl->no_name);
                        break;
                case ARG_FROM:
                        r = set_string(ctl, OPT_FROM, &ctl->from, optarg);
                        break;
                case ARG_TO:
                        r = set_string(ctl, OPT_TO, &ctl->to, optarg);
                        break;
                case ARG_PASSWORD:
                        if (optarg)
                                explicit_bzero(optarg, strlen(optarg)); /* hide it from ps at least now */
                        return stitchctl_usage_error(ctl, "passwords are not accepted on the command line; "
                                                          "use --password-stdin");
                case ARG_KEY:
                        if (optarg)
                                explicit_bzero(optarg, strlen(optarg));
                        return stitchctl_usage_error(ctl, "API keys are not accepted on the command line; "
                                                          "they are read from the terminal or standard input");
                case ':':
                        return stitchctl_usage_error(ctl, "option '%s' needs an argument", argv[optind - 1]);
                case '?':
                        if (optopt)
                                return stitchctl_usage_error(ctl, "unknown option '-%c'", optopt);
                        return stitchctl_usage_error(ctl, "unknown option '%s'", argv[optind - 1]);
                default:
                        return stitchctl_usage_error(ctl, "cannot parse the command line");
                }
                if (r != 0)
                        return r;
        }
        /* after "--" */
        for (; optind < argc; optind++)
                words[n_words++] = argv[optind];

        if (timeout) {
                r = parse_timeout(ctl, timeout, &ctl->timeout_ms);
                if (r != 0)
                        return r;
                ctl->timeout_given = true;
        }

        *ret_words = TAKE_PTR(words);
        *ret_n_words = n_words;
        return 0;
}

static const char *env_or(const char *name, const char *fallback) {
        const char *e = getenv(name);
        return isempty(e) ? fallback : e;
}

int main(int argc, char *argv[]) {
        struct stitchctl ctl = {
                .timeout_ms = STITCHCTL_DEFAULT_TIMEOUT_MS,
        };
        _cleanup_free_ char **words = NULL;
        size_t n_words = 0, used = 0;
        char name[64];
        int r;

        (void) setlocale(LC_CTYPE, "");

        r = parse_argv(&ctl, argc, argv, &words, &n_words);
        if (r != 0)
                return r;

        if (!ctl.auth_socket)
                ctl.auth_socket = env_or("STITCH_SOCKET", STITCHCTL_DEFAULT_AUTH_SOCKET);
        if (!ctl.admin_socket)
                ctl.admin_socket = env_or("STITCH_ADMIN_SOCKET", STITCHCTL_DEFAULT_ADMIN_SOCKET);

        if (ctl.given & OPT_VERSION) {
                printf("stitchctl %s\n", PACKAGE_VERSION);
                return EXIT_OK;
        }

        if (n_words == 0) {
                if (ctl.given & OPT_HELP) {
                        help_global();
                        return EXIT_OK;
                }
                return stitchctl_usage_error(&ctl, "missing command");
        }

        const struct verb *v = find_verb(words, n_words, &used);
        if (!v) {
                if (group_exists(words[0])) {
                        if (ctl.given & OPT_HELP) {
                                help_group(words[0]);
                                return EXIT_OK;
                        }
                        if (n_words < 2)
                                return stitchctl_usage_error(&ctl, "'%s' needs a command; try 'stitchctl %s --help'",
                                                             words[0], words[0]);
                        return stitchctl_usage_error(&ctl, "unknown command '%s %s'", words[0], words[1]);
                }
                return stitchctl_usage_error(&ctl, "unknown command '%s'", words[0]);
        }
        current_verb = v;
        verb_words(v, name, sizeof(name));
        ctl.verb_name = name;

        if (ctl.given & OPT_HELP) {
                help_verb(v);
                return EXIT_OK;
        }

        uint32_t extra = ctl.given & ~(v->options | OPTS_GLOBAL);
        if (extra) {
                uint32_t bit = extra & -extra; /* lowest set bit */
                return stitchctl_usage_error(&ctl, "option %s does not apply to '%s'", option_name(bit), name);
        }

        size_t n_args = n_words - used;
        if (n_args < v->min_args)
                return stitchctl_usage_error(&ctl, "'%s' needs %s argument%s", name,
                                             v->min_args == 1 ? "an" : "more", v->min_args == 1 ? "" : "s");
        if (n_args > v->max_args)
                return stitchctl_usage_error(&ctl, "too many arguments for '%s': '%s'", name,
                                             words[used + v->max_args]);

        r = v->run(&ctl, words + used, n_args);
        if (fflush(stdout) != 0 && r == EXIT_OK)
                return stitchctl_fail(EXIT_REFUSED, "cannot write to standard output: %m");
        return r;
}
