/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Running a confirmation or reset command: no shell, no inherited
 * descriptors, a clean environment, bounded output and time. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "core/command.h"
#include "log.h"
#include "macro.h"
#include "strv.h"

#define ARGS_MAX 32
#define STDERR_LOG_MAX 1024

static void close_pair(int fds[2]) {
        for (int i = 0; i < 2; i++)
                if (fds[i] >= 0) {
                        close(fds[i]);
                        fds[i] = -1;
                }
}

/* The words of command_line, split on spaces; argv[0] an absolute path. */
static int split_command(char *line, char *argv[static ARGS_MAX + 1]) {
        size_t n = 0;
        for (char *s = line; *s;) {
                while (*s == ' ')
                        *s++ = 0;
                if (!*s)
                        break;
                if (n >= ARGS_MAX)
                        return -E2BIG;
                argv[n++] = s;
                s += strcspn(s, " ");
        }
        argv[n] = NULL;
        if (n == 0 || argv[0][0] != '/')
                return -EINVAL;
        return 0;
}

/* In the child, between fork() and execve(): async-signal-safe calls only. */
_Noreturn static void child(int in, int out, int err, char *const argv[]) {
        static char *const env[] = {(char *) "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
        sigset_t none;
        struct sigaction dfl = {.sa_handler = SIG_DFL};

        (void) setpgid(0, 0);
        /* The daemon blocks and ignores signals for its loop; the command starts clean. */
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) sigaction(sig, &dfl, NULL);
        if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0)
                _exit(126);
        /* Nothing of ours beyond the three pipes, whatever lacks O_CLOEXEC. */
        if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
                for (int fd = 3; fd < 1024; fd++)
                        (void) close(fd);
        if (chdir("/") < 0)
                _exit(126);
        execve(argv[0], argv, env);
        _exit(127);
}

static int set_nonblock(int fd) {
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

struct output {
        char *data;
        size_t n, max;
        bool overflow;
};

/* Reads what fd has; 1 at EOF, 0 for more later, -errno. Past max, the
 * bytes are dropped and overflow is set. */
static int drain(int fd, struct output *o) {
        char buf[4096];
        for (;;) {
                ssize_t k = read(fd, buf, sizeof(buf));
                if (k == 0)
                        return 1;
                if (k < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
                size_t take = MIN((size_t) k, o->max - o->n);
                memcpy(o->data + o->n, buf, take);
                o->n += take;
                if (take < (size_t) k)
                        o->overflow = true;
        }
}

static enum stitch_command_status parse_status(const char *program, const char *out) {
        cJSON *j = cJSON_Parse(out);
        const cJSON *s = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "status") : NULL;
        enum stitch_command_status status = STITCH_COMMAND_FAIL;

        if (cJSON_IsString(s) && streq(s->valuestring, "success"))
                status = STITCH_COMMAND_SUCCESS;
        else if (cJSON_IsString(s) && streq(s->valuestring, "pending"))
                status = STITCH_COMMAND_PENDING;
        else if (!(cJSON_IsString(s) && streq(s->valuestring, "fail")))
                log_warning("Command %s answered no {\"status\":\"success|pending|fail\"}: taken as a failure.", program);
        cJSON_Delete(j);
        return status;
}

/* A write to the command's stdin that fails with EPIPE when the command has
 * gone, whatever the process does with SIGPIPE (the daemon ignores it; a
 * program embedding the core may not): the signal is blocked for the write
 * and one it raised is taken back. */
static ssize_t write_no_sigpipe(int fd, const void *buf, size_t n) {
        sigset_t pipe_set, old, pending;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        bool was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
        if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old) != 0)
                return write(fd, buf, n);
        ssize_t w = write(fd, buf, n);
        int error = errno;
        if (w < 0 && error == EPIPE && !was_pending) {
                struct timespec zero = {0};
                (void) sigtimedwait(&pipe_set, NULL, &zero);
        }
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        errno = error;
        return w;
}

int stitch_command_run(const char *command_line, const char *input, uint64_t timeout_usec,
                       enum stitch_command_status *ret_status) {
        _cleanup_free_ char *line = NULL, *out_data = NULL, *err_data = NULL;
        char *argv[ARGS_MAX + 1];
        int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
        int r;

        if (!command_line || !input || !ret_status)
                return -EINVAL;
        line = strdup(command_line);
        out_data = malloc(STITCH_COMMAND_OUTPUT_MAX + 1);
        err_data = malloc(STDERR_LOG_MAX + 1);
        if (!line || !out_data || !err_data)
                return -ENOMEM;
        r = split_command(line, argv);
        if (r < 0)
                return r;

        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
                r = -errno;
                close_pair(in);
                close_pair(out);
                close_pair(err);
                return log_error_errno(r, "Cannot make the pipes for command %s: %m", argv[0]);
        }

        pid_t pid = fork();
        if (pid < 0) {
                r = -errno;
                close_pair(in);
                close_pair(out);
                close_pair(err);
                return log_error_errno(r, "Cannot start command %s: %m", argv[0]);
        }
        if (pid == 0)
                child(in[0], out[1], err[1], argv);

        /* Also from here, in case the child has not run yet: no race with the kill below. */
        (void) setpgid(pid, pid);
        close(in[0]);
        close(out[1]);
        close(err[1]);
        in[0] = out[1] = err[1] = -1;
        (void) set_nonblock(in[1]);
        (void) set_nonblock(out[0]);
        (void) set_nonblock(err[0]);

        struct output o = {.data = out_data, .max = STITCH_COMMAND_OUTPUT_MAX};
        struct output e = {.data = err_data, .max = STDERR_LOG_MAX};
        size_t input_len = strlen(input), written = 0;
        uint64_t deadline = stitch_now_usec(CLOCK_MONOTONIC) + timeout_usec;
        bool out_open = true, err_open = true, timed_out = false;

        while (out_open || err_open) {
                struct pollfd p[3];
                nfds_t n = 0;
                int i_in = -1, i_out = -1, i_err = -1;
                if (in[1] >= 0) {
                        i_in = (int) n;
                        p[n++] = (struct pollfd) {.fd = in[1], .events = POLLOUT};
                }
                if (out_open) {
                        i_out = (int) n;
                        p[n++] = (struct pollfd) {.fd = out[0], .events = POLLIN};
                }
                if (err_open) {
                        i_err = (int) n;
                        p[n++] = (struct pollfd) {.fd = err[0], .events = POLLIN};
                }
                uint64_t now = stitch_now_usec(CLOCK_MONOTONIC);
                if (now >= deadline) {
                        timed_out = true;
                        break;
                }
                int k = poll(p, n, (int) MIN((deadline - now + 999) / 1000, (uint64_t) 1000));
                if (k < 0 && errno != EINTR) {
                        r = -errno;
                        break;
                }
                if (k <= 0)
                        continue;
                if (i_in >= 0 && p[i_in].revents) {
                        ssize_t w = (p[i_in].revents & POLLOUT)
                                            ? write_no_sigpipe(in[1], input + written, input_len - written)
                                            : -1;
                        if (w > 0)
                                written += (size_t) w;
                        /* All written, or the command closed its stdin (EPIPE): no more to say. */
                        if (written == input_len || (w < 0 && errno != EAGAIN && errno != EINTR)) {
                                close(in[1]);
                                in[1] = -1;
                        }
                }
                if (i_out >= 0 && p[i_out].revents) {
                        int d = drain(out[0], &o);
                        if (d != 0)
                                out_open = false;
                        if (o.overflow)
                                break;
                }
                if (i_err >= 0 && p[i_err].revents && drain(err[0], &e) != 0)
                        err_open = false;
        }
        close_pair(in);
        close_pair(out);
        close_pair(err);

        /* Whatever it left running goes with it; a normal exit is waited for until the deadline. */
        int status = 0;
        bool killed = timed_out || o.overflow || r < 0;
        if (killed)
                (void) kill(-pid, SIGKILL);
        for (;;) {
                pid_t w = waitpid(pid, &status, killed ? 0 : WNOHANG);
                if (w == pid)
                        break;
                if (w < 0 && errno != EINTR) {
                        status = -1;
                        break;
                }
                if (w == 0 && stitch_now_usec(CLOCK_MONOTONIC) >= deadline) {
                        (void) kill(-pid, SIGKILL);
                        killed = timed_out = true;
                } else if (w == 0) {
                        struct timespec ts = {0, 10 * 1000 * 1000};
                        (void) nanosleep(&ts, NULL);
                }
        }
        (void) kill(-pid, SIGKILL); /* its group's leftovers, if any */

        e.data[e.n] = 0;
        if (e.n > 0) {
                /* One line per line, printable only: a command must not forge our log. */
                for (size_t i = 0; i < e.n; i++)
                        if ((unsigned char) e.data[i] < 0x20 || e.data[i] == 0x7f)
                                e.data[i] = ' ';
                log_info("Command %s wrote to stderr: %s%s", argv[0], e.data, e.overflow ? " [...]" : "");
        }
        if (r < 0)
                return log_error_errno(r, "Running command %s failed: %m", argv[0]);
        if (timed_out) {
                log_warning("Command %s did not answer within %llums: killed, taken as a failure.", argv[0],
                            (unsigned long long) (timeout_usec / 1000));
                *ret_status = STITCH_COMMAND_FAIL;
                return 0;
        }
        if (o.overflow) {
                log_warning("Command %s wrote more than %u bytes: killed, taken as a failure.", argv[0],
                            (unsigned) STITCH_COMMAND_OUTPUT_MAX);
                *ret_status = STITCH_COMMAND_FAIL;
                return 0;
        }
        if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                        log_warning("Command %s could not be executed (exit status 127).", argv[0]);
                else
                        log_warning("Command %s failed (%s %d): taken as a failure.", argv[0],
                                    WIFSIGNALED(status) ? "signal" : "exit status",
                                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
                *ret_status = STITCH_COMMAND_FAIL;
                return 0;
        }
        o.data[o.n] = 0;
        *ret_status = parse_status(argv[0], o.data);
        return 0;
}
