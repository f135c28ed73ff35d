/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fake-stitchd: a stand-in daemon for the failure paths of pam_stitch.
 *
 *   fake-stitchd --socket PATH [--mode reply|garbage|silent|close]
 *                [--reply JSON] [--ask JSON|none] [--log FILE] [--uid UID --gid GID]
 *                [--connections FILE]
 *
 * Listens on PATH (as UID/GID if given: privileges are dropped before the
 * socket is made, so SO_PEERCRED reports that user), then forks: the parent
 * prints the server's pid and exits once the socket is listening, so tests
 * need no sleeps. Every byte received is appended to FILE. Modes: reply
 * answers each message with JSON (default {"parameters":{}}), garbage with
 * bytes that are not JSON, silent never answers, close hangs up. A Login
 * that does not continue a conversation is answered with the --ask JSON
 * instead (default: the daemon's "Password: " prompt, as for provider=auto;
 * "none": no asking). With --connections, each connection is served by a
 * process of its own (a client may keep one open while it opens another),
 * and the pid of each connecting process (SO_PEERCRED) is appended to FILE,
 * one line per accepted connection. The server exits after 120 s in any
 * case. */

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

enum mode { MODE_REPLY, MODE_GARBAGE, MODE_SILENT, MODE_CLOSE };

static int write_all(int fd, const void *p, size_t n) {
        const char *c = p;

        while (n > 0) {
                ssize_t l = write(fd, c, n);
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                c += l;
                n -= (size_t) l;
        }
        return 0;
}

#define DEFAULT_ASK                                                                                               \
        "{\"parameters\":{\"conversation\":\"conv_fake-1\",\"prompts\":[{\"id\":\"secret\",\"text\":\"Password: \","  \
        "\"echo\":false,\"authtok\":true}],\"messages\":[]}}"

static void serve(int fd, enum mode mode, const char *reply, const char *ask, int log_fd) {
        static char msg[65536];
        size_t used = 0;
        char buf[4096];

        if (mode == MODE_CLOSE) {
                close(fd);
                return;
        }
        if (mode == MODE_SILENT)
                return; /* leak the fd: the client waits for nothing */

        for (;;) {
                ssize_t l = read(fd, buf, sizeof(buf));
                if (l < 0 && errno == EINTR)
                        continue;
                if (l <= 0)
                        break;
                if (log_fd >= 0)
                        (void) write_all(log_fd, buf, (size_t) l);
                /* One answer per NUL-terminated message. */
                for (ssize_t i = 0; i < l; i++) {
                        if (buf[i] != 0) {
                                if (used + 1 < sizeof(msg))
                                        msg[used++] = buf[i];
                                continue;
                        }
                        msg[used] = 0;
                        used = 0;
                        bool begins_login = strstr(msg, "\"io.stitch.Auth.Login\"") && !strstr(msg, "\"conversation\"");
                        if (mode == MODE_GARBAGE)
                                (void) write_all(fd, "this is not json", sizeof("this is not json"));
                        else if (begins_login && ask)
                                (void) write_all(fd, ask, strlen(ask) + 1);
                        else
                                (void) write_all(fd, reply, strlen(reply) + 1);
                }
        }
        close(fd);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                {"socket", required_argument, NULL, 's'}, {"mode", required_argument, NULL, 'm'},
                {"reply", required_argument, NULL, 'r'},  {"log", required_argument, NULL, 'l'},
                {"uid", required_argument, NULL, 'u'},    {"gid", required_argument, NULL, 'g'},
                {"ask", required_argument, NULL, 'a'},    {"connections", required_argument, NULL, 'c'},
                {}};
        const char *path = NULL, *reply = "{\"parameters\":{}}", *log_path = NULL, *ask = DEFAULT_ASK;
        const char *connections_path = NULL;
        int connections_fd = -1;
        enum mode mode = MODE_REPLY;
        long uid = -1, gid = -1;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int c, fd, log_fd = -1;
        pid_t pid;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 's': path = optarg; break;
                case 'r': reply = optarg; break;
                case 'a': ask = strcmp(optarg, "none") == 0 ? NULL : optarg; break;
                case 'l': log_path = optarg; break;
                case 'c': connections_path = optarg; break;
                case 'u': uid = strtol(optarg, NULL, 10); break;
                case 'g': gid = strtol(optarg, NULL, 10); break;
                case 'm':
                        if (strcmp(optarg, "reply") == 0)
                                mode = MODE_REPLY;
                        else if (strcmp(optarg, "garbage") == 0)
                                mode = MODE_GARBAGE;
                        else if (strcmp(optarg, "silent") == 0)
                                mode = MODE_SILENT;
                        else if (strcmp(optarg, "close") == 0)
                                mode = MODE_CLOSE;
                        else
                                return 2;
                        break;
                default:
                        return 2;
                }
        if (!path || strlen(path) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "usage: fake-stitchd --socket PATH [--mode M] [--reply JSON] [--log FILE] [--uid U --gid G]\n");
                return 2;
        }
        memcpy(sa.sun_path, path, strlen(path));

        if (log_path) {
                log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
                if (log_fd < 0) {
                        perror(log_path);
                        return 1;
                }
        }

        if (connections_path) {
                connections_fd = open(connections_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
                if (connections_fd < 0) {
                        perror(connections_path);
                        return 1;
                }
        }

        if (gid >= 0 && (setgroups(0, NULL) < 0 || setresgid((gid_t) gid, (gid_t) gid, (gid_t) gid) < 0)) {
                perror("setresgid");
                return 1;
        }
        if (uid >= 0 && setresuid((uid_t) uid, (uid_t) uid, (uid_t) uid) < 0) {
                perror("setresuid");
                return 1;
        }

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                perror("socket");
                return 1;
        }
        (void) unlink(path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || chmod(path, 0666) < 0 || listen(fd, 16) < 0) {
                perror(path);
                return 1;
        }

        pid = fork();
        if (pid < 0)
                return 1;
        if (pid > 0) {
                printf("%d\n", (int) pid);
                return 0;
        }

        /* Detach from the caller's stdout so $(fake-stitchd ...) returns. */
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd >= 0) {
                (void) dup2(null_fd, STDIN_FILENO);
                (void) dup2(null_fd, STDOUT_FILENO);
        }
        (void) signal(SIGPIPE, SIG_IGN);
        (void) signal(SIGCHLD, SIG_IGN); /* no zombies from --connections */
        (void) alarm(120);

        for (;;) {
                int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EINTR)
                                continue;
                        return 1;
                }
                if (connections_fd < 0) {
                        serve(cfd, mode, reply, ask, log_fd);
                        continue;
                }
                struct ucred cred = {};
                socklen_t sl = sizeof(cred);
                char line[32];
                (void) getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &sl);
                int n = snprintf(line, sizeof(line), "%d\n", (int) cred.pid);
                (void) write_all(connections_fd, line, (size_t) n);
                pid_t child = fork();
                if (child == 0) {
                        /* Goes when the server is killed, as its connections would. */
                        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                        close(fd);
                        serve(cfd, mode, reply, ask, log_fd);
                        if (mode == MODE_SILENT)
                                pause();
                        _exit(0);
                }
                close(cfd);
        }
}
