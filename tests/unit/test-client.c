/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The blocking client against a forked server in a temporary directory. The
 * listening socket exists before fork(), so there is no readiness race. */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "client.h"
#include "macro.h"
#include "wire.h"

struct server {
        char dir[64];
        char path[96];
        pid_t pid;
        int sync_fd; /* the child writes one byte here when told to */
};

/* What the forked server does with its one connection. */
typedef int (*scenario_t)(int conn, int sync_fd);

static const char *canned_reply; /* for scenario_canned() */
static size_t canned_len;
static bool canned_then_close; /* hang up right after sending */

static uint64_t now_msec(void) {
        struct timespec ts;

        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* ---- server side (runs in the child: no cmocka there) ---------------------- */

static int send_all(int fd, const void *p, size_t n) {
        const char *c = p;

        while (n > 0) {
                ssize_t l = send(fd, c, n, MSG_NOSIGNAL);
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

/* Reads one request; returns its parsed root, or NULL at EOF/error. */
static cJSON *read_request(int conn, struct stitch_wire_reader *r, const char **ret_method,
                           cJSON **ret_params) {
        for (;;) {
                const char *msg;
                size_t len;
                cJSON *root;
                int k;

                k = stitch_wire_reader_next(r, &msg, &len);
                if (k > 0) {
                        if (stitch_wire_parse_call(msg, len, &root, ret_method, ret_params) < 0)
                                return NULL;
                        return root;
                }
                k = stitch_wire_reader_fill(r, conn); /* a blocking fd */
                if (k <= 0)
                        return NULL;
        }
}

/* Replies with the parameters it got, until EOF; "io.stitch.Test.Fail" gets an error. */
static int scenario_echo(int conn, int sync_fd) {
        struct stitch_wire_reader r;
        int calls = 0;

        stitch_wire_reader_init(&r);
        for (;;) {
                _cleanup_(cJSON_Deletep) cJSON *root = NULL, *reply = NULL;
                _cleanup_free_ char *buf = NULL;
                const char *method;
                cJSON *params;
                size_t n;

                root = read_request(conn, &r, &method, &params);
                if (!root)
                        break;
                calls++;
                params = cJSON_DetachItemFromObjectCaseSensitive(root, "parameters");
                if (streq(method, "io.stitch.Test.Fail"))
                        reply = stitch_wire_error_new("io.stitch.Error.InvalidCredentials", params);
                else if (streq(method, "io.stitch.Test.Echo"))
                        reply = stitch_wire_reply_new(params);
                else
                        return 10;
                if (!reply || stitch_wire_encode(reply, &buf, &n) < 0)
                        return 11;
                if (send_all(conn, buf, n) < 0)
                        return 12;
        }
        stitch_wire_reader_done(&r);
        return calls > 0 ? 0 : 13;
}

/* Reads the request, sends the canned bytes (short ones one at a time, to
 * exercise reassembly), then waits for EOF. */
static int scenario_canned(int conn, int sync_fd) {
        struct stitch_wire_reader r;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *method;
        cJSON *params;
        char c;

        stitch_wire_reader_init(&r);
        root = read_request(conn, &r, &method, &params);
        stitch_wire_reader_done(&r);
        if (!root)
                return 20;
        for (size_t i = 0, step = canned_len > 4096 ? 4096 : 1; i < canned_len; i += step)
                if (send_all(conn, canned_reply + i, MIN(step, canned_len - i)) < 0)
                        return 0; /* the client may hang up on an overlong reply */
        if (canned_then_close)
                return 0;
        while (read(conn, &c, 1) > 0)
                ;
        return 0;
}

/* Reads the request and never answers; leaves when the client hangs up. */
static int scenario_silent(int conn, int sync_fd) {
        char buf[256];

        while (read(conn, buf, sizeof(buf)) > 0)
                ;
        return 0;
}

/* Reads the request and closes without a word. */
static int scenario_close_after_request(int conn, int sync_fd) {
        struct stitch_wire_reader r;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *method;
        cJSON *params;

        stitch_wire_reader_init(&r);
        root = read_request(conn, &r, &method, &params);
        stitch_wire_reader_done(&r);
        return root ? 0 : 30;
}

/* Closes at once and tells the parent so. */
static int scenario_close_at_once(int conn, int sync_fd) {
        close(conn);
        return write(sync_fd, "x", 1) == 1 ? 0 : 40;
}

/* Sends something nobody asked for, then waits for the hang-up. */
static int scenario_unasked(int conn, int sync_fd) {
        char buf[256];

        if (write(conn, "{}", 3) != 3)
                return 50;
        while (read(conn, buf, sizeof(buf)) > 0)
                ;
        return 0;
}

static void server_start(struct server *s, scenario_t fn) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd, pipefd[2];

        snprintf(s->dir, sizeof(s->dir), "/tmp/test-client-XXXXXX");
        assert_non_null(mkdtemp(s->dir));
        snprintf(s->path, sizeof(s->path), "%s/sock", s->dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 16), 0);
        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);

        s->pid = fork();
        assert_true(s->pid >= 0);
        if (s->pid == 0) {
                int conn, k;

                alarm(30); /* never outlive a broken test */
                close(pipefd[0]);
                conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
                if (conn < 0)
                        _exit(2);
                k = fn(conn, pipefd[1]);
                _exit(k);
        }
        close(fd);
        close(pipefd[1]);
        s->sync_fd = pipefd[0];
}

/* Returns the server's exit code. */
static int server_finish(struct server *s) {
        int status;

        assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
        close(s->sync_fd);
        assert_int_equal(unlink(s->path), 0);
        assert_int_equal(rmdir(s->dir), 0);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_echo(void **state) {
        _cleanup_(stitch_client_freep) struct stitch_client *c = NULL;
        struct server s;
        struct ucred u;

        server_start(&s, scenario_echo);
        assert_int_equal(stitch_client_connect(s.path, 5000, &c), 0);

        /* SO_PEERCRED of a connection names whoever called listen(): here
         * this process, which set the socket up before forking. */
        assert_int_equal(stitch_client_peer(c, &u), 0);
        assert_int_equal(u.pid, getpid());
        assert_int_equal(u.uid, getuid());

        for (int i = 0; i < 3; i++) {
                _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = cJSON_CreateObject(), *reply = NULL;
                const char *error = "unset";
                cJSON *rp = NULL;

                assert_non_null(cJSON_AddStringToObject(params, "user", "alice"));
                assert_non_null(cJSON_AddStringToObject(params, "password", "s3cr\xc3\xa9t"));
                assert_non_null(cJSON_AddNumberToObject(params, "i", i));
                assert_int_equal(stitch_client_call(c, "io.stitch.Test.Echo", params, 5000, &reply, &error, &rp), 0);
                assert_null(error);
                assert_non_null(rp);
                assert_true(cJSON_Compare(params, rp, true));
                /* The caller's parameters were borrowed, not consumed. */
                assert_string_equal(cJSON_GetObjectItemCaseSensitive(params, "user")->valuestring, "alice");
        }

        /* No parameters at all, and optional out parameters left out. */
        {
                _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
                assert_int_equal(stitch_client_call(c, "io.stitch.Test.Echo", NULL, 5000, &reply, NULL, NULL), 0);
                assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(reply, "parameters")));
        }

        /* A request over the cap is refused before anything is sent. */
        {
                _cleanup_(cJSON_Deletep) cJSON *params = cJSON_CreateObject(), *reply = NULL;
                _cleanup_free_ char *big = malloc(STITCH_WIRE_MAX_MESSAGE + 1);
                assert_non_null(big);
                memset(big, 'x', STITCH_WIRE_MAX_MESSAGE);
                big[STITCH_WIRE_MAX_MESSAGE] = 0;
                assert_non_null(cJSON_AddStringToObject(params, "big", big));
                assert_int_equal(stitch_client_call(c, "io.stitch.Test.Echo", params, 5000, &reply, NULL, NULL),
                                 -EMSGSIZE);
                assert_null(reply);
        }

        /* Bad arguments. */
        {
                _cleanup_(cJSON_Deletep) cJSON *arr = cJSON_CreateArray(), *reply = NULL;
                assert_int_equal(stitch_client_call(c, "", NULL, 5000, &reply, NULL, NULL), -EINVAL);
                assert_int_equal(stitch_client_call(c, "a.B", arr, 5000, &reply, NULL, NULL), -EINVAL);
        }

        stitch_client_free(TAKE_PTR(c));
        assert_int_equal(server_finish(&s), 0);
}

static void test_error_reply(void **state) {
        _cleanup_(stitch_client_freep) struct stitch_client *c = NULL;
        _cleanup_(cJSON_Deletep) cJSON *params = cJSON_CreateObject(), *reply = NULL;
        const char *error = NULL;
        cJSON *rp = NULL;
        struct server s;

        server_start(&s, scenario_echo);
        assert_int_equal(stitch_client_connect(s.path, 5000, &c), 0);
        assert_non_null(cJSON_AddStringToObject(params, "why", "because"));
        assert_int_equal(stitch_client_call(c, "io.stitch.Test.Fail", params, 5000, &reply, &error, &rp), 0);
        assert_string_equal(error, "io.stitch.Error.InvalidCredentials");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(rp, "why")->valuestring, "because");
        stitch_client_free(TAKE_PTR(c));
        assert_int_equal(server_finish(&s), 0);
}

/* Runs one call against a server sending 'raw'; returns the call's result. */
static int call_with_canned(const char *raw, size_t n, cJSON **ret_reply, const char **ret_error,
                            cJSON **ret_params) {
        _cleanup_(stitch_client_freep) struct stitch_client *c = NULL;
        struct server s;
        int k;

        canned_reply = raw;
        canned_len = n;
        server_start(&s, scenario_canned);
        assert_int_equal(stitch_client_connect(s.path, 5000, &c), 0);
        k = stitch_client_call(c, "io.stitch.Test.Canned", NULL, 5000, ret_reply, ret_error, ret_params);
        if (k < 0) {
                /* The connection is not trusted any more. */
                _cleanup_(cJSON_Deletep) cJSON *again = NULL;
                assert_int_equal(stitch_client_call(c, "io.stitch.Test.Canned", NULL, 5000, &again, NULL, NULL),
                                 -ENOTCONN);
        }
        stitch_client_free(TAKE_PTR(c));
        assert_int_equal(server_finish(&s), 0);
        return k;
}

#define CANNED(s) s, sizeof(s) /* with the string's NUL: the message terminator */

static void test_reply_shapes(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        const char *error = "unset";
        cJSON *rp = NULL;

        /* Parameters are optional: an empty object is supplied. */
        assert_int_equal(call_with_canned(CANNED("{}"), &reply, &error, &rp), 0);
        assert_null(error);
        assert_true(cJSON_IsObject(rp));
        assert_null(rp->child);
        cJSON_Delete(TAKE_PTR(reply));

        assert_int_equal(call_with_canned(CANNED(" {\"error\":\"io.stitch.Error.Busy\"} "), &reply, &error, &rp), 0);
        assert_string_equal(error, "io.stitch.Error.Busy");
        assert_true(cJSON_IsObject(rp));
}

static void test_garbage_replies(void **state) {
        static const char *const garbage[] = {
                "hello",
                "[1]",
                "\"x\"",
                "{\"parameters\":[]}",
                "{\"parameters\":null}",
                "{\"error\":5}",
                "{\"error\":\"\"}",
                "{\"error\":null}",
                "{\"foo\":1}",
                "{\"Parameters\":{}}",
                "{\"parameters\":{},\"parameters\":{}}",
                "{\"parameters\":{\"a\":\"\\u0000\"}}",
                "{\"parameters\":{\"a\":\"\xff\"}}",
                "{} {}",
        };

        for (size_t i = 0; i < ELEMENTSOF(garbage); i++) {
                cJSON *reply = NULL;
                assert_int_equal(call_with_canned(garbage[i], strlen(garbage[i]) + 1, &reply, NULL, NULL),
                                 -EBADMSG);
                assert_null(reply);
        }
}

static void test_reply_too_big(void **state) {
        _cleanup_free_ char *big = malloc(STITCH_WIRE_MAX_MESSAGE + 100);
        cJSON *reply = NULL;

        assert_non_null(big);
        memset(big, ' ', STITCH_WIRE_MAX_MESSAGE + 100);
        assert_int_equal(call_with_canned(big, STITCH_WIRE_MAX_MESSAGE + 100, &reply, NULL, NULL), -EMSGSIZE);
        assert_null(reply);
}

static void test_partial_reply_then_eof(void **state) {
        cJSON *reply = NULL;

        /* No NUL: the server hangs up in the middle of the reply. */
        canned_then_close = true;
        assert_int_equal(call_with_canned("{\"parameters\":", 14, &reply, NULL, NULL), -ECONNRESET);
        assert_null(reply);
        /* And right after a complete one: the reply still counts. */
        assert_int_equal(call_with_canned(CANNED("{}"), &reply, NULL, NULL), 0);
        canned_then_close = false;
        assert_non_null(reply);
        cJSON_Delete(reply);
}

static void test_timeout(void **state) {
        _cleanup_(stitch_client_freep) struct stitch_client *c = NULL;
        cJSON *reply = NULL;
        struct server s;
        uint64_t t0, dt;

        server_start(&s, scenario_silent);
        assert_int_equal(stitch_client_connect(s.path, 5000, &c), 0);
        t0 = now_msec();
        assert_int_equal(stitch_client_call(c, "io.stitch.Test.Echo", NULL, 300, &reply, NULL, NULL), -ETIMEDOUT);
        dt = now_msec() - t0;
        assert_null(reply);
        assert_true(dt >= 299);
        assert_true(dt < 3000);

        /* A timed-out connection is out of step and not used again. */
        t0 = now_msec();
        assert_int_equal(stitch_client_call(c, "io.stitch.Test.Echo", NULL, 0, &reply, NULL, NULL), -ENOTCONN);
        assert_true(now_msec() - t0 < 1000);

        stitch_client_free(TAKE_PTR(c));
        assert_int_equal(server_finish(&s), 0);
}

static void test_server_closes(void **state) {
        _cleanup_(stitch_client_freep) struct stitch_client *c = NULL;
        cJSON *reply = NULL;
        struct server s;
        char x;

        /* After reading the request. */
        server_start(&s, scenario_close_after_request);
        assert_int_equal(stitch_client_connect(s.path, 5000, &c), 0);
        assert_int_equal(stitch_client_call(c, "io.stitch.Test.Echo", NULL, 5000, &reply, NULL, NULL), -ECONNRESET);
        stitch_client_free(TAKE_PTR(c));
        assert_int_equal(server_finish(&s), 0);

        /* Before we send: no SIGPIPE (it would kill this test), just an error. */
        server_start(&s, scenario_close_at_once);
        assert_int_equal(stitch_client_connect(s.path, 5000, &c), 0);
        assert_int_equal(read(s.sync_fd, &x, 1), 1);
        assert_int_equal(stitch_client_call(c, "io.stitch.Test.Echo", NULL, 5000, &reply, NULL, NULL), -ECONNRESET);
        assert_null(reply);
        stitch_client_free(TAKE_PTR(c));
        assert_int_equal(server_finish(&s), 0);
}

/* Between calls (a pending login's wait): quiet for the whole time, or cut
 * short at once by a daemon that hangs up or speaks unasked; the connection
 * is not used again after that. */
static void test_wait_quiet(void **state) {
        _cleanup_(stitch_client_freep) struct stitch_client *c = NULL;
        cJSON *reply = NULL;
        struct server s;
        uint64_t t0, dt;
        char x;

        assert_int_equal(stitch_client_wait_quiet(NULL, 10), -ENOTCONN);

        server_start(&s, scenario_silent);
        assert_int_equal(stitch_client_connect(s.path, 5000, &c), 0);
        assert_int_equal(stitch_client_wait_quiet(c, -1), -ENOTCONN);
        t0 = now_msec();
        assert_int_equal(stitch_client_wait_quiet(c, 300), 0);
        dt = now_msec() - t0;
        assert_true(dt >= 299);
        assert_true(dt < 3000);
        assert_true(stitch_client_is_idle(c));
        stitch_client_free(TAKE_PTR(c));
        assert_int_equal(server_finish(&s), 0);

        server_start(&s, scenario_close_at_once);
        assert_int_equal(stitch_client_connect(s.path, 5000, &c), 0);
        assert_int_equal(read(s.sync_fd, &x, 1), 1);
        t0 = now_msec();
        assert_int_equal(stitch_client_wait_quiet(c, 10000), -ECONNRESET);
        assert_true(now_msec() - t0 < 1000);
        assert_int_equal(stitch_client_call(c, "io.stitch.Test.Echo", NULL, 1000, &reply, NULL, NULL), -ENOTCONN);
        stitch_client_free(TAKE_PTR(c));
        assert_int_equal(server_finish(&s), 0);

        server_start(&s, scenario_unasked);
        assert_int_equal(stitch_client_connect(s.path, 5000, &c), 0);
        t0 = now_msec();
        assert_int_equal(stitch_client_wait_quiet(c, 10000), -ECONNRESET);
        assert_true(now_msec() - t0 < 1000);
        assert_false(stitch_client_is_idle(c));
        stitch_client_free(TAKE_PTR(c));
        assert_int_equal(server_finish(&s), 0);
}

static void test_connect_errors(void **state) {
        struct stitch_client *c = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char dir[] = "/tmp/test-client-XXXXXX", path[96], longpath[200];
        int fd;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/missing", dir);
        assert_int_equal(stitch_client_connect(path, 1000, &c), -ENOENT);

        memset(longpath, 'a', sizeof(longpath) - 1);
        longpath[0] = '/';
        longpath[sizeof(longpath) - 1] = 0;
        assert_int_equal(stitch_client_connect(longpath, 1000, &c), -ENAMETOOLONG);
        assert_int_equal(stitch_client_connect("", 1000, &c), -EINVAL);

        /* A socket file nobody listens on (a daemon that died). */
        snprintf(path, sizeof(path), "%s/stale", dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        close(fd);
        assert_int_equal(stitch_client_connect(path, 1000, &c), -ECONNREFUSED);
        assert_null(c);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

/* A listener that accepts nobody: once its backlog is full, connecting
 * times out within the deadline. */
static void test_connect_timeout(void **state) {
        struct stitch_client *c = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char dir[] = "/tmp/test-client-XXXXXX", path[96];
        int lfd, fds[64], n = 0;
        uint64_t t0, dt;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/sock", dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(lfd >= 0);
        assert_int_equal(bind(lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(lfd, 0), 0);

        for (;;) {
                assert_true(n < (int) ELEMENTSOF(fds));
                fds[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                assert_true(fds[n] >= 0);
                if (connect(fds[n], (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                        assert_int_equal(errno, EAGAIN);
                        close(fds[n]);
                        break;
                }
                n++;
        }

        t0 = now_msec();
        assert_int_equal(stitch_client_connect(path, 200, &c), -ETIMEDOUT);
        dt = now_msec() - t0;
        assert_true(dt >= 199);
        assert_true(dt < 3000);
        assert_null(c);

        for (int i = 0; i < n; i++)
                close(fds[i]);
        close(lfd);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_echo),
                cmocka_unit_test(test_error_reply),
                cmocka_unit_test(test_reply_shapes),
                cmocka_unit_test(test_garbage_replies),
                cmocka_unit_test(test_reply_too_big),
                cmocka_unit_test(test_partial_reply_then_eof),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_server_closes),
                cmocka_unit_test(test_wait_quiet),
                cmocka_unit_test(test_connect_errors),
                cmocka_unit_test(test_connect_timeout),
        };

        /* The client must never raise SIGPIPE; keep the default action so a
         * regression kills the test. */
        signal(SIGPIPE, SIG_DFL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
