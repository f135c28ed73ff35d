/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* wire-raw: send raw bytes to a stitchd socket and print what comes back.
 *
 *   wire-raw SOCKET [TIMEOUT_MS] < bytes
 *
 * Sends stdin as is (no framing added), then prints every reply message, one
 * per line (the NUL terminators become newlines), until the daemon closes the
 * connection or nothing arrives for TIMEOUT_MS (default 2000). Exit status 0
 * if at least one reply arrived, 1 if none, 2 on usage or connect errors.
 * Lets tests send malformed, oversized or NUL-laden messages. */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: wire-raw SOCKET [TIMEOUT_MS] < bytes\n");
                return 2;
        }
        int timeout = argc > 2 ? (int) strtol(argv[2], NULL, 10) : 2000;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (fd < 0 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "wire-raw: bad socket\n");
                return 2;
        }
        memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                fprintf(stderr, "wire-raw: connect %s: %s\n", argv[1], strerror(errno));
                return 2;
        }

        char buf[65536];
        size_t total = 0;
        for (;;) {
                ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                for (ssize_t off = 0; off < n;) {
                        ssize_t w = send(fd, buf + off, (size_t) (n - off), MSG_NOSIGNAL);
                        if (w < 0) {
                                if (errno == EINTR)
                                        continue;
                                /* The daemon may close on an oversized message: go read its answer. */
                                goto receive;
                        }
                        off += w;
                        total += (size_t) w;
                }
        }
receive:
        shutdown(fd, SHUT_WR);
        int got = 0;
        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int r = poll(&p, 1, timeout);
                if (r <= 0)
                        break;
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n <= 0)
                        break;
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] == 0) {
                                putchar('\n');
                                got = 1;
                        } else
                                putchar(buf[i]);
                }
        }
        fflush(stdout);
        (void) total;
        return got ? 0 : 1;
}
