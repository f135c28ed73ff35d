/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* notify-listen: run a command with a private NOTIFY_SOCKET and print every
 * sd_notify(3) message it sends, one assignment per line (READY=1,
 * STATUS=..., WATCHDOG=1, STOPPING=1, ...), flushed as it arrives.
 *
 *   notify-listen [--timeout SEC] [--until MESSAGE [--count N]] [--pidfile FILE]
 *                 -- COMMAND [ARG...]
 *
 * Listens until one of:
 *   - MESSAGE has arrived N times (default 1): success;
 *   - the command exits by itself: success without --until, failure with it;
 *   - SEC seconds (default 30) have passed: success without --until (this is
 *     "print what arrives in SEC seconds"), failure with it.
 * A command still running then gets SIGTERM (SIGKILL 10 s later) and is
 * waited for, while its last messages (STOPPING=1) are still printed. The last
 * line is always EXIT_STATUS=N: the command's exit code, or 128+signal.
 * Exit status 0 on success, 1 on failure, 2 on usage errors.
 * The command's stdout goes to our stderr, so stdout carries only messages.
 * WATCHDOG_USEC and the rest of the environment are passed on unchanged. */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int parse_long(const char *s, long min, long max, long *ret) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno != 0 || end == s || *end != 0 || v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* Prints each newline-separated assignment of one datagram; counts matches of until. */
static void print_datagram(char *buf, const char *until, long *seen) {
        for (char *line = buf; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = 0;
                if (*line) {
                        printf("%s\n", line);
                        if (until && strcmp(line, until) == 0)
                                (*seen)++;
                }
                line = nl ? nl + 1 : NULL;
        }
        fflush(stdout);
}

/* Reads every datagram queued right now. */
static void drain(int fd, const char *until, long *seen) {
        for (;;) {
                char buf[4096];
                ssize_t k = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return;
                buf[k] = 0;
                print_datagram(buf, until, seen);
        }
}

static int status_code(int status) {
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* SIGTERM, then SIGKILL after 10 s; keeps printing messages meanwhile. */
static int stop_child(pid_t pid, int fd, const char *until, long *seen) {
        int status = 0;
        long kill_at = now_ms() + 10000;
        bool killed = false;

        (void) kill(pid, SIGTERM);
        for (;;) {
                pid_t w = waitpid(pid, &status, WNOHANG);
                if (w == pid)
                        break;
                if (w < 0 && errno != EINTR)
                        return 127;
                if (!killed && now_ms() >= kill_at) {
                        fprintf(stderr, "notify-listen: command ignored SIGTERM, killing it\n");
                        (void) kill(pid, SIGKILL);
                        killed = true;
                }
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (poll(&p, 1, 20) > 0)
                        drain(fd, until, seen);
        }
        drain(fd, until, seen);
        return status_code(status);
}

int main(int argc, char **argv) {
        long timeout_sec = 30, count = 1, seen = 0;
        const char *until = NULL, *pidfile = NULL;
        int i = 1;

        for (; i < argc; i++) {
                if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
                        if (parse_long(argv[++i], 1, 3600, &timeout_sec) < 0)
                                goto usage;
                } else if (strcmp(argv[i], "--until") == 0 && i + 1 < argc)
                        until = argv[++i];
                else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
                        if (parse_long(argv[++i], 1, 1000000, &count) < 0)
                                goto usage;
                } else if (strcmp(argv[i], "--pidfile") == 0 && i + 1 < argc)
                        pidfile = argv[++i];
                else if (strcmp(argv[i], "--") == 0) {
                        i++;
                        break;
                } else
                        goto usage;
        }
        if (i >= argc)
                goto usage;

        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                perror("notify-listen: socket");
                return 1;
        }
        /* Abstract namespace: nothing to clean up, and unique per run. */
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "notify-listen/%d/%ld", (int) getpid(), now_ms());
        if (n < 0 || (size_t) n >= sizeof(sa.sun_path) - 1)
                return 1;
        socklen_t salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + (size_t) n);
        if (bind(fd, (struct sockaddr *) &sa, salen) < 0) {
                perror("notify-listen: bind");
                return 1;
        }
        char env[sizeof(sa.sun_path) + 1];
        snprintf(env, sizeof(env), "@%s", sa.sun_path + 1);

        pid_t pid = fork();
        if (pid < 0) {
                perror("notify-listen: fork");
                return 1;
        }
        if (pid == 0) {
                (void) dup2(STDERR_FILENO, STDOUT_FILENO);
                if (setenv("NOTIFY_SOCKET", env, 1) < 0)
                        _exit(127);
                execvp(argv[i], argv + i);
                fprintf(stderr, "notify-listen: exec %s: %s\n", argv[i], strerror(errno));
                _exit(127);
        }
        if (pidfile) {
                FILE *f = fopen(pidfile, "we");
                if (!f || fprintf(f, "%d\n", (int) pid) < 0 || fclose(f) != 0) {
                        perror("notify-listen: pidfile");
                        (void) kill(pid, SIGKILL);
                        return 1;
                }
        }

        long deadline = now_ms() + timeout_sec * 1000L;
        int code;
        bool ok;
        for (;;) {
                int status;
                pid_t w = waitpid(pid, &status, WNOHANG);
                if (w == pid) {
                        drain(fd, until, &seen);
                        code = status_code(status);
                        ok = !until || seen >= count;
                        if (!ok)
                                fprintf(stderr, "notify-listen: command exited (status %d) before %s arrived %ld time(s)\n",
                                        code, until, count);
                        break;
                }
                if (until && seen >= count) {
                        code = stop_child(pid, fd, until, &seen);
                        ok = true;
                        break;
                }
                long left = deadline - now_ms();
                if (left <= 0) {
                        ok = !until;
                        if (!ok)
                                fprintf(stderr, "notify-listen: %s did not arrive %ld time(s) within %lds (%ld seen)\n",
                                        until, count, timeout_sec, seen);
                        code = stop_child(pid, fd, until, &seen);
                        break;
                }
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int r = poll(&p, 1, left > 50 ? 50 : (int) left); /* wakes to notice an early exit */
                if (r < 0 && errno != EINTR) {
                        perror("notify-listen: poll");
                        (void) kill(pid, SIGKILL);
                        return 1;
                }
                if (r > 0)
                        drain(fd, until, &seen);
        }
        printf("EXIT_STATUS=%d\n", code);
        fflush(stdout);
        return ok ? 0 : 1;

usage:
        fprintf(stderr, "usage: notify-listen [--timeout SEC] [--until MESSAGE [--count N]] [--pidfile FILE] -- COMMAND [ARG...]\n");
        return 2;
}
