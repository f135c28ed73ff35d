/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conn-flood: hold many connections to a socket open, to test that hostile
 * or idle clients cannot stall others.
 *
 *   conn-flood SOCKET COUNT [MODE]
 *
 * MODE: idle (connect only, default), partial (send half a message and stop),
 * noread (send many calls and never read the replies).
 * Prints "connected N" once every connection is up, then holds them until
 * stdin reaches EOF, then prints "closed N alive" where alive counts the
 * connections the daemon had not closed. */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
        if (argc < 3) {
                fprintf(stderr, "usage: conn-flood SOCKET COUNT [idle|partial|noread]\n");
                return 2;
        }
        long count = strtol(argv[2], NULL, 10);
        const char *mode = argc > 3 ? argv[3] : "idle";
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t) count + 64) {
                rl.rlim_cur = rl.rlim_max < (rlim_t) count + 64 ? rl.rlim_max : (rlim_t) count + 64;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
        int *fds = calloc((size_t) count, sizeof(int));
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (!fds || strlen(argv[1]) >= sizeof(sa.sun_path))
                return 2;
        memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);

        static const char partial[] = "{\"method\":\"io.stitch.Admin.Status\",\"param";
        static const char call[] = "{\"method\":\"io.stitch.Token.Jwks\"}";
        for (long i = 0; i < count; i++) {
                fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fds[i] < 0 || connect(fds[i], (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                        fprintf(stderr, "conn-flood: connection %ld: %s\n", i, strerror(errno));
                        return 1;
                }
                if (strcmp(mode, "partial") == 0)
                        (void) send(fds[i], partial, sizeof(partial) - 1, MSG_NOSIGNAL);
                else if (strcmp(mode, "noread") == 0) {
                        /* Fill the pipe: many calls whose replies we never read. */
                        for (int k = 0; k < 20000; k++)
                                if (send(fds[i], call, sizeof(call), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
                                        break;
                }
        }
        printf("connected %ld\n", count);
        fflush(stdout);

        char buf[64];
        while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
                ;

        long alive = 0;
        for (long i = 0; i < count; i++) {
                struct pollfd p = {.fd = fds[i], .events = POLLIN};
                /* Closed by the daemon: readable with EOF (after any replies). */
                int dead = 0;
                while (poll(&p, 1, 0) > 0) {
                        char junk[65536];
                        ssize_t n = recv(fds[i], junk, sizeof(junk), MSG_DONTWAIT);
                        if (n == 0 || (n < 0 && errno != EAGAIN)) {
                                dead = 1;
                                break;
                        }
                        if (n < 0)
                                break;
                }
                if (!dead)
                        alive++;
                close(fds[i]);
        }
        free(fds);
        printf("closed %ld alive\n", alive);
        return 0;
}
