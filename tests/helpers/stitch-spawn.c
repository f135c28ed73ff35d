/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitch-spawn: start a daemon with a private NOTIFY_SOCKET and return once it
 * has sent READY=1 (or failed), so tests never sleep for readiness.
 *
 *   stitch-spawn [--timeout SEC] [--pidfile FILE] -- COMMAND [ARG...]
 *
 * Prints the daemon's pid on stdout. Exit 0 when READY=1 arrived; 1 if the
 * daemon exited or the timeout passed first (the daemon is then killed). */

#include <errno.h>
#include <poll.h>
#include <signal.h>
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

int main(int argc, char **argv) {
        long timeout_sec = 30;
        const char *pidfile = NULL;
        int i = 1;

        for (; i < argc; i++) {
                if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
                        timeout_sec = strtol(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--pidfile") == 0 && i + 1 < argc)
                        pidfile = argv[++i];
                else if (strcmp(argv[i], "--") == 0) {
                        i++;
                        break;
                } else
                        break;
        }
        if (i >= argc) {
                fprintf(stderr, "usage: stitch-spawn [--timeout SEC] [--pidfile FILE] -- COMMAND [ARG...]\n");
                return 2;
        }

        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                perror("socket");
                return 1;
        }
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        /* Abstract namespace: nothing to clean up. */
        int n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "stitch-spawn/%d/%ld", (int) getpid(), now_ms());
        socklen_t salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + n);
        if (bind(fd, (struct sockaddr *) &sa, salen) < 0) {
                perror("bind");
                return 1;
        }
        char env[128];
        snprintf(env, sizeof(env), "@%s", sa.sun_path + 1);

        pid_t pid = fork();
        if (pid < 0) {
                perror("fork");
                return 1;
        }
        if (pid == 0) {
                /* Our stdout is usually a $(...) pipe: the daemon must not hold it open. */
                dup2(STDERR_FILENO, STDOUT_FILENO);
                setenv("NOTIFY_SOCKET", env, 1);
                execvp(argv[i], argv + i);
                fprintf(stderr, "exec %s: %s\n", argv[i], strerror(errno));
                _exit(127);
        }

        long deadline = now_ms() + timeout_sec * 1000L;
        for (;;) {
                int status;
                pid_t w = waitpid(pid, &status, WNOHANG);
                if (w == pid) {
                        fprintf(stderr, "stitch-spawn: daemon exited before READY=1 (status %d)\n",
                                WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
                        return 1;
                }
                long left = deadline - now_ms();
                if (left <= 0) {
                        fprintf(stderr, "stitch-spawn: no READY=1 within %lds\n", timeout_sec);
                        kill(pid, SIGKILL);
                        return 1;
                }
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int r = poll(&p, 1, left > 100 ? 100 : (int) left); /* wake to reap an early exit */
                if (r < 0 && errno != EINTR) {
                        perror("poll");
                        return 1;
                }
                if (r <= 0)
                        continue;
                char buf[4096];
                ssize_t k = recv(fd, buf, sizeof(buf) - 1, 0);
                if (k <= 0)
                        continue;
                buf[k] = 0;
                for (char *line = buf; line && *line;) {
                        char *nl = strchr(line, '\n');
                        if (nl)
                                *nl = 0;
                        if (strcmp(line, "READY=1") == 0) {
                                printf("%d\n", (int) pid);
                                if (pidfile) {
                                        FILE *f = fopen(pidfile, "we");
                                        if (f) {
                                                fprintf(f, "%d\n", (int) pid);
                                                fclose(f);
                                        }
                                }
                                return 0;
                        }
                        line = nl ? nl + 1 : NULL;
                }
        }
}
