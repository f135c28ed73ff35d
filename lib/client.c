/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A blocking varlink client with deadlines. It runs inside the PAM module,
 * i.e. inside sshd, sudo or login: no threads, no signal handlers, no global
 * state, no logging; every wait is a poll() against a CLOCK_MONOTONIC
 * deadline, every send uses MSG_NOSIGNAL. */

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "macro.h"
#include "wire.h"

#define NO_DEADLINE UINT64_MAX

struct stitch_client {
        int fd;
        bool broken; /* a call failed half way: replies may be out of step */
        struct stitch_wire_reader reader;
};

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* A negative timeout means no deadline. */
static uint64_t deadline_after(int timeout_ms) {
        if (timeout_ms < 0)
                return NO_DEADLINE;
        return now_usec() + (uint64_t) timeout_ms * USEC_PER_MSEC;
}

/* Milliseconds left, rounded up so we never spin just before the deadline;
 * -1 for no deadline, 0 once it has passed. */
static int remaining_ms(uint64_t deadline) {
        uint64_t n, left;

        if (deadline == NO_DEADLINE)
                return -1;
        n = now_usec();
        if (n >= deadline)
                return 0;
        left = (deadline - n + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
        return left > INT_MAX ? INT_MAX : (int) left;
}

/* Waits until fd is ready for 'events' (or has an error/hangup, which the
 * following I/O call reports). */
static int wait_for(int fd, short events, uint64_t deadline) {
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                int t = remaining_ms(deadline), k;

                if (t == 0)
                        return -ETIMEDOUT;

                k = poll(&p, 1, t);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        continue; /* re-check the deadline */
                if (p.revents & POLLNVAL)
                        return -EBADF;
                return 0;
        }
}

static int connect_with_deadline(int fd, const struct sockaddr_un *sa, socklen_t sa_len,
                                 uint64_t deadline) {
        unsigned backoff_ms = 1;

        for (;;) {
                int t;

                if (connect(fd, (const struct sockaddr *) sa, sa_len) >= 0)
                        return 0;

                if (errno == EINPROGRESS || errno == EINTR) {
                        /* The connection completes asynchronously. */
                        int error = 0, k;
                        socklen_t l = sizeof(error);

                        k = wait_for(fd, POLLOUT, deadline);
                        if (k < 0)
                                return k;
                        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &l) < 0)
                                return -errno;
                        return error > 0 ? -error : 0;
                }

                if (errno != EAGAIN)
                        return -errno;

                /* Linux AF_UNIX: the listener's backlog is full and nothing
                 * was started, so there is nothing to poll on: retry with a
                 * short, growing pause until the deadline. */
                t = remaining_ms(deadline);
                if (t == 0)
                        return -ETIMEDOUT;
                if (t < 0 || (unsigned) t > backoff_ms)
                        t = (int) backoff_ms;
                if (poll(NULL, 0, t) < 0 && errno != EINTR)
                        return -errno;
                backoff_ms = MIN(backoff_ms * 2, 50U);
        }
}

int stitch_client_connect(const char *path, int timeout_ms, struct stitch_client **ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        uint64_t deadline = deadline_after(timeout_ms);
        struct stitch_client *c;
        size_t l;
        int k;

        if (isempty(path) || !ret)
                return -EINVAL;
        l = strlen(path);
        if (l >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, l);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;

        k = connect_with_deadline(fd, &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l + 1),
                                  deadline);
        if (k < 0)
                return k;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        stitch_wire_reader_init(&c->reader);
        c->fd = TAKE_FD(fd);

        *ret = c;
        return 0;
}

int stitch_client_peer(struct stitch_client *c, struct ucred *ret) {
        struct ucred u;
        socklen_t l = sizeof(u);

        if (!c || !ret)
                return -EINVAL;
        if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &u, &l) < 0)
                return -errno;
        if (l != sizeof(u))
                return -EIO;

        *ret = u;
        return 0;
}

static int send_all(int fd, const char *p, size_t n, uint64_t deadline) {
        while (n > 0) {
                ssize_t l = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (l < 0) {
                        int k;

                        if (errno == EINTR)
                                continue;
                        if (errno == EPIPE || errno == ECONNRESET)
                                return -ECONNRESET;
                        if (errno != EAGAIN && errno != EWOULDBLOCK)
                                return -errno;
                        k = wait_for(fd, POLLOUT, deadline);
                        if (k < 0)
                                return k;
                        continue;
                }

                p += l;
                n -= (size_t) l;
        }

        return 0;
}

static int receive_message(struct stitch_client *c, uint64_t deadline, const char **ret_msg,
                           size_t *ret_len) {
        for (;;) {
                int k;

                k = stitch_wire_reader_next(&c->reader, ret_msg, ret_len);
                if (k != 0)
                        return k < 0 ? -EBADMSG : 0;

                k = stitch_wire_reader_fill(&c->reader, c->fd);
                if (k > 0)
                        continue;
                if (k == 0 || k == -ECONNRESET || k == -EPIPE)
                        return -ECONNRESET; /* the daemon went away, maybe mid-reply */
                if (k != -EAGAIN)
                        return k;

                k = wait_for(c->fd, POLLIN, deadline);
                if (k < 0)
                        return k;
        }
}

static void erase_and_free_sized(char *p, size_t n) {
        if (p) {
                explicit_bzero(p, n);
                free(p);
        }
}

/* A reply is {"parameters": {...}} or {"error": "...", "parameters": {...}},
 * parameters optional, nothing else. */
static int parse_reply(const char *msg, size_t len, cJSON **ret_reply, const char **ret_error,
                       cJSON **ret_parameters) {
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *reply = NULL;
        cJSON *error = NULL, *parameters = NULL, *i;

        if (stitch_wire_parse(msg, len, &reply) < 0)
                return -EBADMSG;

        cJSON_ArrayForEach(i, reply) {
                cJSON **slot;

                if (!i->string)
                        return -EBADMSG;
                if (streq(i->string, "error"))
                        slot = &error;
                else if (streq(i->string, "parameters"))
                        slot = &parameters;
                else
                        return -EBADMSG;
                if (*slot)
                        return -EBADMSG; /* duplicate */
                *slot = i;
        }

        if (error && (!cJSON_IsString(error) || isempty(error->valuestring)))
                return -EBADMSG;
        if (parameters && !cJSON_IsObject(parameters))
                return -EBADMSG;
        if (!parameters) {
                parameters = cJSON_AddObjectToObject(reply, "parameters");
                if (!parameters)
                        return -ENOMEM;
        }

        if (ret_error)
                *ret_error = error ? error->valuestring : NULL;
        if (ret_parameters)
                *ret_parameters = parameters;
        *ret_reply = TAKE_PTR(reply);
        return 0;
}

int stitch_client_call(struct stitch_client *c, const char *method, const cJSON *parameters,
                       int timeout_ms, cJSON **ret_reply, const char **ret_error,
                       cJSON **ret_parameters) {
        _cleanup_(cJSON_Deletep) cJSON *call = NULL;
        uint64_t deadline = deadline_after(timeout_ms);
        cJSON *p;
        const char *msg;
        char *buf = NULL;
        size_t len, n;
        int k;

        if (!c || isempty(method) || !ret_reply)
                return -EINVAL;
        if (parameters && !cJSON_IsObject(parameters))
                return -EINVAL;
        if (c->broken)
                return -ENOTCONN;
        /* Bytes the daemon sent unasked would be taken for our reply. */
        if (c->reader.len > c->reader.consumed)
                return -EBADMSG;

        /* Borrow the caller's parameters by reference rather than copying
         * them: they may hold a password. */
        call = cJSON_CreateObject();
        if (!call || !cJSON_AddStringToObject(call, "method", method))
                return -ENOMEM;
        p = parameters ? cJSON_CreateObjectReference(parameters->child) : cJSON_CreateObject();
        if (!p)
                return -ENOMEM;
        if (!cJSON_AddItemToObject(call, "parameters", p)) {
                cJSON_Delete(p);
                return -ENOMEM;
        }

        k = stitch_wire_encode(call, &buf, &n);
        if (k < 0)
                return k;
        k = send_all(c->fd, buf, n, deadline);
        erase_and_free_sized(buf, n);
        if (k < 0) {
                c->broken = true;
                return k;
        }

        k = receive_message(c, deadline, &msg, &len);
        if (k < 0) {
                c->broken = true;
                return k;
        }

        k = parse_reply(msg, len, ret_reply, ret_error, ret_parameters);
        /* The raw reply may carry tokens; the parsed copy is the caller's. */
        explicit_bzero((char *) msg, len);
        if (k < 0)
                c->broken = true;
        return k;
}

bool stitch_client_is_idle(struct stitch_client *c) {
        struct pollfd p;

        if (!c || c->fd < 0 || c->broken || c->reader.len > c->reader.consumed)
                return false;
        p = (struct pollfd) { .fd = c->fd, .events = POLLIN };
        /* Readable (EOF or unasked bytes), HUP, an error, or a failed poll:
         * not worth another call. */
        return poll(&p, 1, 0) == 0;
}

int stitch_client_wait_quiet(struct stitch_client *c, int timeout_ms) {
        if (!c || c->fd < 0 || c->broken || c->reader.len > c->reader.consumed || timeout_ms < 0)
                return -ENOTCONN;
        uint64_t deadline = deadline_after(timeout_ms);
        for (;;) {
                struct pollfd p = { .fd = c->fd, .events = POLLIN };
                int r = poll(&p, 1, remaining_ms(deadline));
                if (r < 0 && errno == EINTR)
                        continue; /* the rest of the time, by the deadline */
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return 0;
                /* EOF, bytes nobody asked for, a hangup or an error: the
                 * daemon let go of the connection (or of its side of it). */
                c->broken = true;
                return -ECONNRESET;
        }
}

void stitch_client_free(struct stitch_client *c) {
        if (!c)
                return;
        if (c->fd >= 0)
                (void) close(c->fd);
        stitch_wire_reader_done(&c->reader);
        free(c);
}
