/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* refresh-race: the same io.stitch.Token.Refresh call on N connections at
 * (nearly) the same moment.
 *
 *   refresh-race SOCKET N [TIMEOUT_MS] < refresh_token
 *
 * Reads the refresh token from stdin (never argv), connects all N first,
 * then writes the call on every connection in one tight loop, then reads
 * every reply: the daemon gets them in one burst and its workers run them
 * side by side. Prints one line per connection, in order:
 *   rotated TOKEN   a reply with a (new) refresh_token
 *   refreshed       a reply without one
 *   error NAME      an error reply
 * Exit status 0 if every connection got a reply within TIMEOUT_MS (default
 * 10000, for the whole run), 1 if not, 2 on usage or connect errors. Used by
 * tests/security/test-refresh-race.sh (docs/security.md, finding 9). */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "wire.h"

#define MAX_CONNECTIONS 256

static long long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_to(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static int send_all(int fd, const char *buf, size_t len) {
        while (len > 0) {
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Reads one NUL-terminated message into buf (NUL included) before the deadline. */
static int recv_message(int fd, char *buf, size_t size, long long deadline) {
        size_t len = 0;
        for (;;) {
                long long left = deadline - now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int k = poll(&p, 1, (int) left);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -ETIMEDOUT;
                if (len + 1 >= size)
                        return -EMSGSIZE;
                ssize_t n = recv(fd, buf + len, size - 1 - len, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -ECONNRESET;
                len += (size_t) n;
                buf[len] = 0;
                if (memchr(buf, 0, len))
                        return (int) strlen(buf);
        }
}

static void print_reply(const char *msg, size_t len) {
        cJSON *root = NULL;
        if (stitch_wire_parse(msg, len, &root) < 0) {
                printf("error (unparsable reply)\n");
                return;
        }
        const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "parameters");
        const cJSON *token = cJSON_GetObjectItemCaseSensitive(params, "refresh_token");
        if (cJSON_IsString(error))
                printf("error %s\n", error->valuestring);
        else if (cJSON_IsString(token))
                printf("rotated %s\n", token->valuestring);
        else
                printf("refreshed\n");
        cJSON_Delete(root);
}

int main(int argc, char **argv) {
        static int fds[MAX_CONNECTIONS];
        static char reply[STITCH_WIRE_MAX_MESSAGE + 1];
        char token[512];

        if (argc < 3) {
                fprintf(stderr, "usage: refresh-race SOCKET N [TIMEOUT_MS] < refresh_token\n");
                return 2;
        }
        long n = strtol(argv[2], NULL, 10);
        long timeout = argc > 3 ? strtol(argv[3], NULL, 10) : 10000;
        if (n < 1 || n > MAX_CONNECTIONS || timeout < 1) {
                fprintf(stderr, "refresh-race: N must be 1-%d, TIMEOUT_MS positive\n", MAX_CONNECTIONS);
                return 2;
        }
        if (!fgets(token, sizeof(token), stdin)) {
                fprintf(stderr, "refresh-race: no refresh token on stdin\n");
                return 2;
        }
        token[strcspn(token, "\n")] = 0;

        cJSON *params = cJSON_CreateObject();
        if (!params || !cJSON_AddStringToObject(params, "refresh_token", token)) {
                fprintf(stderr, "refresh-race: out of memory\n");
                return 2;
        }
        cJSON *call = stitch_wire_call_new("io.stitch.Token.Refresh", params);
        char *msg = NULL;
        size_t msg_len = 0;
        if (!call || stitch_wire_encode(call, &msg, &msg_len) < 0) {
                fprintf(stderr, "refresh-race: cannot encode the call\n");
                return 2;
        }
        cJSON_Delete(call);

        /* Connect all first: the daemon accepts them before any call arrives. */
        for (long i = 0; i < n; i++) {
                fds[i] = connect_to(argv[1]);
                if (fds[i] < 0) {
                        fprintf(stderr, "refresh-race: connect %s: %s\n", argv[1], strerror(-fds[i]));
                        return 2;
                }
        }
        /* Then the calls, back to back. */
        for (long i = 0; i < n; i++) {
                int r = send_all(fds[i], msg, msg_len);
                if (r < 0) {
                        fprintf(stderr, "refresh-race: send: %s\n", strerror(-r));
                        return 2;
                }
        }
        free(msg);

        /* Then every reply. */
        long long deadline = now_ms() + timeout;
        int status = 0;
        for (long i = 0; i < n; i++) {
                int r = recv_message(fds[i], reply, sizeof(reply), deadline);
                if (r < 0) {
                        printf("none (%s)\n", strerror(-r));
                        status = 1;
                } else
                        print_reply(reply, (size_t) r);
                close(fds[i]);
        }
        fflush(stdout);
        return status;
}
