/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Crash test for the SQLite store: a child writes users and sessions in a
 * loop and reports every acknowledged write (returned 0) on a pipe; the
 * parent SIGKILLs it at a random point, reopens the database and checks that
 * every acknowledged write is there and the database is intact. Repeated over
 * ROUNDS rounds on one database. The seed is fixed (override with
 * STITCH_TEST_SEED) so a failure can be replayed. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "store/store.h"

#define ROUNDS 20
#define MAX_ACKS 200000

static const struct stitch_store_ops *const ops = &stitch_store_sqlite;

struct ack {
        char kind; /* 'U' user, 'S' session */
        char id[STITCH_ID_LEN + 1];
};

static struct ack acks[MAX_ACKS];
static size_t n_acks;

#define FAIL(...)                                                 \
        do {                                                      \
                fprintf(stderr, "FAIL: " __VA_ARGS__);            \
                fputc('\n', stderr);                              \
                return -1;                                        \
        } while (0)

static int write_all(int fd, const char *buf, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, buf, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                buf += k;
                n -= (size_t) k;
        }
        return 0;
}

static void ack(int fd, char kind, const char *id) {
        char line[64];
        int n = snprintf(line, sizeof(line), "%c %s\n", kind, id);
        if (write_all(fd, line, (size_t) n) < 0)
                _exit(3);
}

static _Noreturn void child(const char *path, unsigned round, int fd) {
        struct stitch_store *s = NULL;
        int r;

        r = ops->open(path, &s);
        if (r < 0) {
                fprintf(stderr, "child: open failed: %s\n", strerror(-r));
                _exit(2);
        }

        for (unsigned i = 0;; i++) {
                struct stitch_identity ident = {
                        .provider_type = (char *) "anon-user",
                        .provider_id = (char *) "anon-user",
                };
                struct stitch_user u = {
                        .type = (char *) "normal",
                        .data_json = (char *) "{}",
                        .creation_date = 1700000000,
                        .identities = &ident,
                        .n_identities = 1,
                };
                struct stitch_session se = {
                        .provider_type = (char *) "anon-user",
                        .creation_date = 1700000000,
                        .refresh_expires = 1800000000,
                        .access_expires = 1700001800,
                        .last_used = 1700000000,
                        .uid = -1,
                };
                unsigned n = round * 1000000u + i;
                uint32_t h[STITCH_HASH_LEN / 4] = { 0x5e551011, n, round, i };

                snprintf(u.id, sizeof(u.id), "%08x%016x", 1u, n);
                snprintf(ident.id, sizeof(ident.id), "%08x%016x", 2u, n);
                r = ops->user_create(s, &u, i % 2 ? "$argon2id$fake" : NULL);
                if (r < 0) {
                        fprintf(stderr, "child: user_create failed: %s\n", strerror(-r));
                        _exit(4);
                }
                ack(fd, 'U', u.id);

                snprintf(se.id, sizeof(se.id), "%08x%016x", 3u, n);
                memcpy(se.user_id, u.id, sizeof(se.user_id));
                memcpy(se.refresh_hash, h, sizeof(h));
                r = ops->session_create(s, &se, 0, NULL);
                if (r < 0) {
                        fprintf(stderr, "child: session_create failed: %s\n", strerror(-r));
                        _exit(4);
                }
                ack(fd, 'S', se.id);

                /* Some updates in between, to have more kinds of pages in flight. */
                if (i % 3 == 0)
                        (void) ops->session_refreshed(s, se.id, 1700003600, 1700000100, NULL, NULL);
                if (i % 7 == 0)
                        (void) ops->session_revoke(s, se.id, 1700000200, "logout");
        }
}

static int parse_acks(char *buf, size_t *len) {
        char *p = buf, *nl;

        while ((nl = memchr(p, '\n', (size_t) (buf + *len - p)))) {
                struct ack *a;

                if (nl - p != 2 + STITCH_ID_LEN || (p[0] != 'U' && p[0] != 'S') || p[1] != ' ')
                        FAIL("malformed ack line");
                if (n_acks >= MAX_ACKS)
                        FAIL("too many acks");
                a = acks + n_acks++;
                a->kind = p[0];
                memcpy(a->id, p + 2, STITCH_ID_LEN);
                a->id[STITCH_ID_LEN] = 0;
                p = nl + 1;
        }
        *len = (size_t) (buf + *len - p);
        memmove(buf, p, *len);
        return 0;
}

static int run_round(const char *path, unsigned round, unsigned target) {
        char buf[4096];
        size_t len = 0, before = n_acks;
        bool killed = false;
        int fds[2], status;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0)
                FAIL("pipe: %m");
        pid = fork();
        if (pid < 0)
                FAIL("fork: %m");
        if (pid == 0) {
                close(fds[0]);
                child(path, round, fds[1]);
        }
        close(fds[1]);

        /* Read acks; kill after 'target' of them; drain the rest until EOF:
         * whatever was acknowledged before the kill counts. */
        for (;;) {
                ssize_t k = read(fds[0], buf + len, sizeof(buf) - len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        FAIL("read: %m");
                }
                if (k == 0)
                        break;
                len += (size_t) k;
                if (parse_acks(buf, &len) < 0)
                        return -1;
                if (!killed && n_acks - before >= target) {
                        (void) kill(pid, SIGKILL);
                        killed = true;
                }
        }
        close(fds[0]);
        if (len != 0)
                FAIL("partial ack line at EOF");
        if (waitpid(pid, &status, 0) != pid)
                FAIL("waitpid: %m");
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
                FAIL("round %u: child did not die by SIGKILL (status 0x%x)", round, (unsigned) status);
        return 0;
}

static int verify(const char *path, unsigned round) {
        _cleanup_(stitch_strv_freep) char **problems = NULL;
        struct stitch_store *s = NULL;
        uint64_t users = 0;
        int r, ret = 0;

        r = ops->open(path, &s);
        if (r < 0)
                FAIL("round %u: reopen failed: %s", round, strerror(-r));

        for (size_t i = 0; i < n_acks && ret == 0; i++) {
                if (acks[i].kind == 'U') {
                        struct stitch_user *u = NULL;
                        r = ops->user_find(s, STITCH_USER_BY_ID, acks[i].id, &u);
                        if (r < 0 || u->n_identities != 1) {
                                fprintf(stderr, "FAIL: round %u: acknowledged user %s lost (%s)\n", round,
                                        acks[i].id, strerror(-r));
                                ret = -1;
                        }
                        stitch_user_free(u);
                } else {
                        struct stitch_session *se = NULL;
                        r = ops->session_get(s, acks[i].id, &se);
                        if (r < 0) {
                                fprintf(stderr, "FAIL: round %u: acknowledged session %s lost (%s)\n", round,
                                        acks[i].id, strerror(-r));
                                ret = -1;
                        }
                        stitch_session_free(se);
                }
        }

        r = ops->integrity_check(s, &problems);
        if (r < 0 || stitch_strv_length(problems) > 0) {
                fprintf(stderr, "FAIL: round %u: integrity_check: %s\n", round,
                        r < 0 ? strerror(-r) : problems[0]);
                ret = -1;
        }
        if (ops->user_count(s, &users) < 0)
                ret = -1;
        ops->close(s);
        if (ret == 0)
                fprintf(stderr, "round %2u: %zu acknowledged writes so far, %" PRIu64 " users, all present\n",
                        round, n_acks, users);
        return ret;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(p);
}

int main(void) {
        const char *tmp = getenv("TMPDIR"), *seed_env = getenv("STITCH_TEST_SEED");
        unsigned seed = 0x5717c4u;
        char dir[256], path[300];
        int ret = 0;

        if (seed_env) {
                char *end = NULL;
                unsigned long v;

                errno = 0;
                v = strtoul(seed_env, &end, 0);
                if (errno != 0 || !end || *end || v > UINT32_MAX) {
                        fprintf(stderr, "Bad STITCH_TEST_SEED\n");
                        return 1;
                }
                seed = (unsigned) v;
        }
        fprintf(stderr, "seed %u\n", seed);
        stitch_log_set_max_level(LOG_WARNING);
        (void) signal(SIGPIPE, SIG_IGN);

        snprintf(dir, sizeof(dir), "%s/test-store-crash-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        snprintf(path, sizeof(path), "%s/stitch.db", dir);

        for (unsigned round = 0; round < ROUNDS && ret == 0; round++) {
                /* Mostly small, sometimes larger runs. */
                unsigned target = 1 + (unsigned) rand_r(&seed) % (round % 4 == 3 ? 400 : 60);

                if (run_round(path, round, target) < 0 || verify(path, round) < 0)
                        ret = 1;
        }

        (void) nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        return ret;
}
