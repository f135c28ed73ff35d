/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pam-session-test: drive a PAM transaction from a script, for the tests of
 * pam_stitch.so. Unlike pamtester it reads the service from a private
 * directory (pam_start_confdir), answers prompts from stdin, prints every
 * message, and can run a command inside the open session.
 *
 *   pam-session-test --confdir DIR [--service NAME] [--user NAME] [--rhost H]
 *                    [--tty T] [--ruser R] [--env NAME=VALUE]... [--silent]
 *                    [--keep-going] ACTION...
 *
 * ACTION: auth | acct | setcred | reinit | refresh | delcred | open | close |
 *         chauthtok | env | user:NAME | putenv:NAME=VALUE | run:COMMAND |
 *         fork:ACTION
 *
 * Output, one line each: "prompt: TEXT" (echo off; "prompt-echo: TEXT" with
 * echo on; the answer is the next stdin line),
 * "error: TEXT", "info: TEXT", "ACTION: PAM_CODE" followed by
 * "time: ACTION MILLISECONDS", "env: STITCH_SESSION=ID"
 * (or "env: STITCH_SESSION unset", and the same for STITCH_SESSION_BINDING), "run: STATUS". fork:ACTION runs
 * one PAM action in a forked child on its copy of the handle (as sshd's
 * privilege separation does), which then calls pam_end() and exits; it
 * prints "fork:ACTION: PAM_CODE" like the others. Stops at the first
 * action that does not return PAM_SUCCESS unless --keep-going. Exit status:
 * 0 if every action succeeded, 1 if one failed, 2 on usage or setup errors. */

#include <errno.h>
#include <getopt.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

extern char **environ;

static const struct {
        int code;
        const char *name;
} pam_codes[] = {
#define C(x) {x, #x}
        C(PAM_SUCCESS), C(PAM_OPEN_ERR), C(PAM_SYMBOL_ERR), C(PAM_SERVICE_ERR), C(PAM_SYSTEM_ERR),
        C(PAM_BUF_ERR), C(PAM_PERM_DENIED), C(PAM_AUTH_ERR), C(PAM_CRED_INSUFFICIENT),
        C(PAM_AUTHINFO_UNAVAIL), C(PAM_USER_UNKNOWN), C(PAM_MAXTRIES), C(PAM_NEW_AUTHTOK_REQD),
        C(PAM_ACCT_EXPIRED), C(PAM_SESSION_ERR), C(PAM_CRED_UNAVAIL), C(PAM_CRED_EXPIRED), C(PAM_CRED_ERR),
        C(PAM_NO_MODULE_DATA), C(PAM_CONV_ERR), C(PAM_AUTHTOK_ERR), C(PAM_AUTHTOK_RECOVERY_ERR),
        C(PAM_AUTHTOK_LOCK_BUSY), C(PAM_AUTHTOK_DISABLE_AGING), C(PAM_TRY_AGAIN), C(PAM_IGNORE),
        C(PAM_ABORT), C(PAM_AUTHTOK_EXPIRED), C(PAM_MODULE_UNKNOWN), C(PAM_BAD_ITEM), C(PAM_CONV_AGAIN),
        C(PAM_INCOMPLETE),
#undef C
};

static const char *code_name(int code) {
        for (size_t i = 0; i < sizeof(pam_codes) / sizeof(pam_codes[0]); i++)
                if (pam_codes[i].code == code)
                        return pam_codes[i].name;
        return "PAM_UNKNOWN_CODE";
}

static long now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int conversation(int n, const struct pam_message **msg, struct pam_response **resp, void *userdata) {
        struct pam_response *r;

        if (n <= 0 || n > PAM_MAX_NUM_MSG)
                return PAM_CONV_ERR;
        r = calloc((size_t) n, sizeof(*r));
        if (!r)
                return PAM_BUF_ERR;

        for (int i = 0; i < n; i++) {
                const char *text = msg[i]->msg ? msg[i]->msg : "";
                char *line = NULL;
                size_t cap = 0;
                ssize_t l;

                switch (msg[i]->msg_style) {
                case PAM_PROMPT_ECHO_OFF:
                case PAM_PROMPT_ECHO_ON:
                        printf("%s: %s\n", msg[i]->msg_style == PAM_PROMPT_ECHO_ON ? "prompt-echo" : "prompt", text);
                        fflush(stdout);
                        l = getline(&line, &cap, stdin);
                        if (l < 0) {
                                free(line);
                                printf("conversation: no answer left\n");
                                goto fail;
                        }
                        if (l > 0 && line[l - 1] == '\n')
                                line[l - 1] = 0;
                        r[i].resp = line;
                        break;
                case PAM_ERROR_MSG:
                        printf("error: %s\n", text);
                        break;
                case PAM_TEXT_INFO:
                        printf("info: %s\n", text);
                        break;
                default:
                        goto fail;
                }
        }
        fflush(stdout);
        *resp = r;
        return PAM_SUCCESS;

fail:
        for (int i = 0; i < n; i++)
                if (r[i].resp) {
                        explicit_bzero(r[i].resp, strlen(r[i].resp));
                        free(r[i].resp);
                }
        free(r);
        return PAM_CONV_ERR;
}

/* Runs /bin/sh -c COMMAND with the PAM environment added to ours. */
static int run_in_session(pam_handle_t *pamh, const char *command) {
        char **env = pam_getenvlist(pamh);
        char *argv[] = {(char *) "/bin/sh", (char *) "-c", (char *) command, NULL};
        pid_t pid;
        int status, r;

        for (size_t i = 0; env && env[i]; i++) {
                char *eq = strchr(env[i], '=');
                if (eq) {
                        *eq = 0;
                        (void) setenv(env[i], eq + 1, 1);
                }
                free(env[i]);
        }
        free(env);

        fflush(stdout);
        r = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
        if (r != 0) {
                fprintf(stderr, "posix_spawn: %s\n", strerror(r));
                return -1;
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs the PAM call ACTION names: true with *ret its result, false if
 * ACTION names none. */
static bool pam_action(pam_handle_t *pamh, const char *a, int silent, int *ret) {
        int r;

        if (strcmp(a, "auth") == 0)
                r = pam_authenticate(pamh, silent);
        else if (strcmp(a, "acct") == 0)
                r = pam_acct_mgmt(pamh, silent);
        else if (strcmp(a, "setcred") == 0)
                r = pam_setcred(pamh, silent | PAM_ESTABLISH_CRED);
        else if (strcmp(a, "reinit") == 0)
                r = pam_setcred(pamh, silent | PAM_REINITIALIZE_CRED);
        else if (strcmp(a, "refresh") == 0)
                r = pam_setcred(pamh, silent | PAM_REFRESH_CRED);
        else if (strcmp(a, "delcred") == 0)
                r = pam_setcred(pamh, silent | PAM_DELETE_CRED);
        else if (strcmp(a, "open") == 0)
                r = pam_open_session(pamh, silent);
        else if (strcmp(a, "close") == 0)
                r = pam_close_session(pamh, silent);
        else if (strcmp(a, "chauthtok") == 0)
                r = pam_chauthtok(pamh, silent);
        else
                return false;
        *ret = r;
        return true;
}

/* fork:ACTION: the action in a child process on its copy of the handle. */
static int fork_action(pam_handle_t *pamh, const char *a, int silent) {
        pid_t pid;
        int status, r = PAM_SYSTEM_ERR;

        fflush(stdout);
        pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                if (!pam_action(pamh, a, silent, &r)) {
                        fprintf(stderr, "unknown action fork:%s\n", a);
                        _exit(255);
                }
                fflush(stdout);
                pam_end(pamh, r);
                _exit(r); /* PAM codes are small */
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -1;
        if (!WIFEXITED(status) || WEXITSTATUS(status) == 255)
                return -1;
        return WEXITSTATUS(status);
}

static void usage(void) {
        fprintf(stderr,
                "usage: pam-session-test --confdir DIR [--service NAME] [--user NAME] [--rhost H] [--tty T]\n"
                "                        [--ruser R] [--env NAME=VALUE]... [--silent] [--keep-going] ACTION...\n"
                "ACTION: auth acct setcred reinit refresh delcred open close chauthtok env user:NAME\n"
                "        putenv:NAME=VALUE run:COMMAND fork:ACTION\n");
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                {"confdir", required_argument, NULL, 'c'}, {"service", required_argument, NULL, 's'},
                {"user", required_argument, NULL, 'u'},    {"rhost", required_argument, NULL, 'h'},
                {"tty", required_argument, NULL, 't'},     {"ruser", required_argument, NULL, 'r'},
                {"env", required_argument, NULL, 'e'},     {"silent", no_argument, NULL, 'q'},
                {"keep-going", no_argument, NULL, 'k'},    {}};
        const char *confdir = NULL, *service = "stitch-test", *user = NULL, *rhost = NULL, *tty = NULL,
                   *ruser = NULL;
        const char *envs[32];
        size_t n_envs = 0;
        bool keep_going = false;
        int silent = 0, c, r, last = PAM_SUCCESS, failed = 0;
        struct pam_conv conv = {conversation, NULL};
        pam_handle_t *pamh = NULL;

        setvbuf(stdout, NULL, _IOLBF, 0);

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'c': confdir = optarg; break;
                case 's': service = optarg; break;
                case 'u': user = optarg; break;
                case 'h': rhost = optarg; break;
                case 't': tty = optarg; break;
                case 'r': ruser = optarg; break;
                case 'q': silent = PAM_SILENT; break;
                case 'k': keep_going = true; break;
                case 'e':
                        if (n_envs >= sizeof(envs) / sizeof(envs[0]))
                                return 2;
                        envs[n_envs++] = optarg;
                        break;
                default:
                        usage();
                        return 2;
                }
        if (!confdir || optind >= argc) {
                usage();
                return 2;
        }

        r = pam_start_confdir(service, user, &conv, confdir, &pamh);
        if (r != PAM_SUCCESS) {
                fprintf(stderr, "pam_start_confdir: %s\n", code_name(r));
                return 2;
        }
        if ((rhost && pam_set_item(pamh, PAM_RHOST, rhost) != PAM_SUCCESS) ||
            (tty && pam_set_item(pamh, PAM_TTY, tty) != PAM_SUCCESS) ||
            (ruser && pam_set_item(pamh, PAM_RUSER, ruser) != PAM_SUCCESS)) {
                fprintf(stderr, "pam_set_item failed\n");
                return 2;
        }
        for (size_t i = 0; i < n_envs; i++)
                if (pam_putenv(pamh, envs[i]) != PAM_SUCCESS) {
                        fprintf(stderr, "pam_putenv failed\n");
                        return 2;
                }

        for (int i = optind; i < argc; i++) {
                const char *a = argv[i];
                long t0 = now_ms();

                if (strncmp(a, "fork:", 5) == 0) {
                        r = fork_action(pamh, a + 5, silent);
                        if (r < 0) {
                                pam_end(pamh, PAM_SYSTEM_ERR);
                                return 2;
                        }
                } else if (pam_action(pamh, a, silent, &r)) {
                        /* its result is printed below */
                } else if (strcmp(a, "env") == 0) {
                        static const char *const names[] = {"STITCH_SESSION", "STITCH_SESSION_BINDING"};
                        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
                                const char *v = pam_getenv(pamh, names[k]);
                                if (v)
                                        printf("env: %s=%s\n", names[k], v);
                                else
                                        printf("env: %s unset\n", names[k]);
                        }
                        continue;
                } else if (strncmp(a, "user:", 5) == 0) {
                        /* What sudo does before it opens the session. */
                        printf("user: %s\n", code_name(pam_set_item(pamh, PAM_USER, a + 5)));
                        continue;
                } else if (strncmp(a, "putenv:", 7) == 0) {
                        /* What another module (pam_env) could do between hooks. */
                        printf("putenv: %s\n", code_name(pam_putenv(pamh, a + 7)));
                        continue;
                } else if (strncmp(a, "run:", 4) == 0) {
                        printf("run: %d\n", run_in_session(pamh, a + 4));
                        continue;
                } else {
                        fprintf(stderr, "unknown action %s\n", a);
                        pam_end(pamh, PAM_SYSTEM_ERR);
                        return 2;
                }

                printf("%s: %s\n", a, code_name(r));
                printf("time: %s %ld\n", a, now_ms() - t0);
                last = r;
                if (r != PAM_SUCCESS) {
                        failed = 1;
                        if (!keep_going)
                                break;
                }
        }

        pam_end(pamh, last);
        return failed;
}
