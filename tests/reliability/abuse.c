/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* abuse: hostile clients for the load tests (tests/reliability/test-load.sh).
 *
 *   abuse batch SOCKET [LOOPS]
 *       Reads NUL-terminated messages from stdin and sends them one by one,
 *       each waiting for its reply (reconnecting when the daemon closed the
 *       connection), LOOPS times over (default 1). Prints one line per
 *       message: the error name, "ok", or "closed" (dropped without a
 *       reply, e.g. over the size cap); then "batch N messages T timeouts".
 *       Exit 1 if any reply took over 10 s.
 *   abuse slowread SOCKET SECONDS
 *       Sends 500 calls, then reads one byte every 10 ms.
 *   abuse churn SOCKET SECONDS
 *       Connects, sends half a message, closes; again and again.
 *   abuse oversize SOCKET SECONDS
 *       Sends 64 KiB + 1 messages, again and again.
 * Exit status 2 on usage errors or if the socket cannot be reached at all. */

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REPLY_TIMEOUT_MS 10000

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000U + (uint64_t) ts.tv_nsec / 1000000U;
}

static int connect_to(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* Sends all of buf; false if the peer went away. */
static bool send_all(int fd, const char *buf, size_t n) {
        while (n > 0) {
                ssize_t k = send(fd, buf, n, MSG_NOSIGNAL);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return false;
                buf += k;
                n -= (size_t) k;
        }
        return true;
}

/* Reads one reply (up to its NUL) into a static buffer. Returns 1 with
 * the reply, 0 on EOF, -ETIMEDOUT. */
static int read_reply(int fd, char **ret) {
        static char buf[128 * 1024];
        size_t len = 0;
        uint64_t deadline = now_ms() + REPLY_TIMEOUT_MS;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                uint64_t now = now_ms();
                ssize_t k;

                if (now >= deadline)
                        return -ETIMEDOUT;
                if (poll(&p, 1, (int) (deadline - now)) <= 0)
                        continue;
                k = recv(fd, buf + len, 1, 0); /* byte by byte: stop exactly at the NUL */
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return 0;
                if (buf[len] == 0) {
                        *ret = buf;
                        return 1;
                }
                if (len + 2 < sizeof(buf))
                        len++;
        }
}

static const char *error_of(const char *reply) {
        static char name[128];
        const char *e = strstr(reply, "\"error\":\"");
        size_t n;

        if (!e)
                return "ok";
        e += strlen("\"error\":\"");
        n = strcspn(e, "\"");
        if (n >= sizeof(name))
                n = sizeof(name) - 1;
        memcpy(name, e, n);
        name[n] = 0;
        return name;
}

static int do_batch(const char *path, unsigned loops) {
        size_t cap = 1 << 20, len = 0, messages = 0, timeouts = 0;
        char *in = malloc(cap);
        int fd = -1;

        if (!in)
                return 2;
        for (;;) {
                ssize_t k;
                if (len == cap) {
                        char *t = realloc(in, cap * 2);
                        if (!t)
                                return 2;
                        in = t;
                        cap *= 2;
                }
                k = read(STDIN_FILENO, in + len, cap - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                len += (size_t) k;
        }

        for (unsigned loop = 0; loop < loops; loop++)
                for (size_t off = 0; off < len;) {
                        char *end = memchr(in + off, 0, len - off), *reply = NULL;
                        size_t n = (end ? (size_t) (end - (in + off)) + 1 : len - off);
                        int r = 0;

                        /* A reply and then a close (not JSON, over the cap) can race
                         * with our next message: retry once on a fresh connection. */
                        for (int attempt = 0; attempt < 2; attempt++) {
                                bool fresh = fd < 0;

                                if (fd < 0) {
                                        fd = connect_to(path);
                                        if (fd < 0) {
                                                fprintf(stderr, "abuse: connect: %s\n", strerror(-fd));
                                                return 2;
                                        }
                                }
                                if (!send_all(fd, in + off, n) && !fresh) {
                                        close(fd);
                                        fd = -1;
                                        continue;
                                }
                                r = read_reply(fd, &reply);
                                if (r == 0 && !fresh) {
                                        close(fd);
                                        fd = -1;
                                        continue;
                                }
                                break;
                        }
                        messages++;
                        off += n;
                        if (r == -ETIMEDOUT) {
                                printf("timeout\n");
                                timeouts++;
                                close(fd);
                                fd = -1;
                        } else if (r == 0) {
                                printf("closed\n");
                                close(fd);
                                fd = -1;
                        } else
                                printf("%s\n", error_of(reply));
                }
        if (fd >= 0)
                close(fd);
        printf("batch %zu messages %zu timeouts\n", messages, timeouts);
        free(in);
        return timeouts > 0;
}

static int do_slowread(const char *path, unsigned seconds) {
        static const char call[] = "{\"method\":\"io.stitch.Token.Jwks\"}";
        uint64_t deadline = now_ms() + seconds * 1000ULL;
        int fd = -1;

        while (now_ms() < deadline) {
                char c;
                ssize_t k;

                if (fd < 0) {
                        fd = connect_to(path);
                        if (fd < 0)
                                return 2;
                        for (int i = 0; i < 500; i++)
                                if (send(fd, call, sizeof(call), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
                                        break;
                }
                k = recv(fd, &c, 1, MSG_DONTWAIT);
                if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
                        close(fd);
                        fd = -1;
                        continue;
                }
                (void) poll(NULL, 0, 10);
        }
        if (fd >= 0)
                close(fd);
        return 0;
}

static int do_churn(const char *path, unsigned seconds) {
        static const char half[] = "{\"method\":\"io.stitch.Auth.Login\",\"parameters\":{\"user\":\"ada\",\"pass";
        uint64_t deadline = now_ms() + seconds * 1000ULL;
        unsigned long n = 0;

        while (now_ms() < deadline) {
                int fd = connect_to(path);
                if (fd < 0) {
                        (void) poll(NULL, 0, 1); /* backlog full: the daemon is busy, not gone */
                        continue;
                }
                if (n++ % 2 == 0)
                        (void) send(fd, half, sizeof(half) - 1, MSG_NOSIGNAL);
                close(fd);
        }
        return 0;
}

static int do_oversize(const char *path, unsigned seconds) {
        uint64_t deadline = now_ms() + seconds * 1000ULL;
        static const char head[] = "{\"method\":\"io.stitch.Token.Verify\",\"parameters\":{\"access_token\":\"";
        size_t n = 65536 + 1;
        char *msg = malloc(n + 1);

        if (!msg)
                return 2;
        memset(msg, 'a', n);
        memcpy(msg, head, sizeof(head) - 1);
        memcpy(msg + n - 3, "\"}}", 3);
        msg[n] = 0;
        while (now_ms() < deadline) {
                char *reply;
                int fd = connect_to(path);
                if (fd < 0) {
                        (void) poll(NULL, 0, 1);
                        continue;
                }
                (void) send_all(fd, msg, n + 1);
                (void) read_reply(fd, &reply);
                close(fd);
        }
        free(msg);
        return 0;
}

int main(int argc, char **argv) {
        if (argc >= 3 && strcmp(argv[1], "batch") == 0)
                return do_batch(argv[2], argc > 3 ? (unsigned) strtoul(argv[3], NULL, 10) : 1);
        if (argc == 4 && strcmp(argv[1], "slowread") == 0)
                return do_slowread(argv[2], (unsigned) strtoul(argv[3], NULL, 10));
        if (argc == 4 && strcmp(argv[1], "churn") == 0)
                return do_churn(argv[2], (unsigned) strtoul(argv[3], NULL, 10));
        if (argc == 4 && strcmp(argv[1], "oversize") == 0)
                return do_oversize(argv[2], (unsigned) strtoul(argv[3], NULL, 10));
        fprintf(stderr, "usage: abuse batch|slowread|churn|oversize SOCKET ...\n");
        return 2;
}
