/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitch-bench: the daemon under test (config, start with sd_notify
 * readiness, stop, memory) and the argon2id baseline it is held to. */

#include <argon2.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bench.h"
#include "macro.h"

int daemon_setup_dir(struct bench *b, const char *subdir) {
        int n;

        if (subdir) {
                n = snprintf(b->dir, sizeof(b->dir), "%s/%s", b->base, subdir);
                if (n < 0 || (size_t) n >= sizeof(b->dir))
                        return -ENAMETOOLONG;
                if (mkdir(b->dir, 0755) < 0 && errno != EEXIST)
                        return -errno;
        } else
                snprintf(b->dir, sizeof(b->dir), "%s", b->base);

        if ((size_t) snprintf(b->auth_socket, sizeof(b->auth_socket), "%s/io.stitch.Auth", b->dir) >=
                    sizeof(b->auth_socket) ||
            (size_t) snprintf(b->admin_socket, sizeof(b->admin_socket), "%s/io.stitch.Admin", b->dir) >=
                    sizeof(b->admin_socket))
                return -ENAMETOOLONG;
        if (path_join(b->conf, sizeof(b->conf), b->dir, "stitchd.conf") < 0 ||
            path_join(b->db, sizeof(b->db), b->dir, "stitch.db") < 0 ||
            path_join(b->log, sizeof(b->log), b->dir, "stitchd.log") < 0)
                return -ENAMETOOLONG;
        return 0;
}

int daemon_write_config(struct bench *b) {
        FILE *f = fopen(b->conf, "we");
        if (!f)
                return -errno;
        char store[PATH_MAX + 16];
        if (b->store_spec)
                snprintf(store, sizeof(store), "%s", b->store_spec);
        else
                snprintf(store, sizeof(store), "sqlite:%s", b->db);
        fprintf(f,
                "# written by stitch-bench\n"
                "[Daemon]\n"
                "Store=%s\n"
                "AuthSocket=%s\n"
                "AdminSocket=%s\n"
                "Workers=%u\n"
                "\n"
                "[Provider.local-userpass]\n"
                "PasswordHash=argon2id:m=%" PRIu32 ",t=%" PRIu32 ",p=%" PRIu32 "\n"
                "\n"
                "[Http]\n"
                "Listen=127.0.0.1:%u\n"
                "MaxConnectionsPerAddress=256\n",
                store, b->auth_socket, b->admin_socket, b->workers, b->m_kib, b->t_cost, b->p_lanes,
                bench_http_port());
        if (fclose(f) != 0)
                return -errno;
        return daemon_check_params(b);
}

/* "m=19456,t=2,p=1" (or with "$" after it) into the three numbers. */
static int parse_argon2_params(const char *s, uint32_t *m, uint32_t *t, uint32_t *p) {
        const char *keys[3] = {"m=", "t=", "p="};
        uint32_t *out[3] = {m, t, p};

        for (size_t i = 0; i < 3; i++) {
                char *end;
                if (strncmp(s, keys[i], 2) != 0)
                        return -EINVAL;
                errno = 0;
                unsigned long v = strtoul(s + 2, &end, 10);
                if (errno || end == s + 2 || v == 0 || v > UINT32_MAX)
                        return -EINVAL;
                *out[i] = (uint32_t) v;
                s = end;
                if (i < 2) {
                        if (*s != ',')
                                return -EINVAL;
                        s++;
                }
        }
        return 0;
}

/* The honesty check: the daemon's configured hash parameters must be the ones
 * the in-process baseline uses. Reads back the config file we wrote. */
int daemon_check_params(struct bench *b) {
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        bool found = false;
        FILE *f = fopen(b->conf, "re");
        if (!f)
                return -errno;
        while (getline(&line, &cap, f) > 0) {
                uint32_t m, t, p;
                if (strncmp(line, "PasswordHash=", 13) != 0)
                        continue;
                found = true;
                if (strncmp(line + 13, "argon2id:", 9) != 0 || parse_argon2_params(line + 22, &m, &t, &p) < 0) {
                        fprintf(stderr, "stitch-bench: cannot parse %s", line);
                        fclose(f);
                        return -EINVAL;
                }
                if (m != b->m_kib || t != b->t_cost || p != b->p_lanes) {
                        fprintf(stderr,
                                "stitch-bench: REFUSING TO RUN: the daemon's PasswordHash (m=%u,t=%u,p=%u) differs "
                                "from the argon2id baseline (m=%u,t=%u,p=%u).\n",
                                m, t, p, b->m_kib, b->t_cost, b->p_lanes);
                        fclose(f);
                        return -EINVAL;
                }
        }
        fclose(f);
        if (!found) {
                fprintf(stderr, "stitch-bench: no PasswordHash= in %s\n", b->conf);
                return -EINVAL;
        }
        return 0;
}

/* Second honesty check: what the daemon actually stored for a user it hashed. */
int daemon_stored_hash_check(struct bench *b, const char *user_id) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        int r = -EIO;

        /* Another backend (--store): the parameters are the ones this
         * program wrote into the daemon's config, checked there. */
        if (b->store_spec)
                return 0;

        if (sqlite3_open_v2(b->db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
                goto finish;
        sqlite3_busy_timeout(db, 10000);
        if (sqlite3_prepare_v2(db, "SELECT hash FROM passwords WHERE user_id = ?1", -1, &st, NULL) != SQLITE_OK ||
            sqlite3_bind_text(st, 1, user_id, -1, SQLITE_STATIC) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
                goto finish;
        const char *hash = (const char *) sqlite3_column_text(st, 0);
        uint32_t m, t, p;
        if (!hash || strncmp(hash, "$argon2id$v=19$", 15) != 0 || parse_argon2_params(hash + 15, &m, &t, &p) < 0) {
                fprintf(stderr, "stitch-bench: the stored password hash is not argon2id v=19\n");
                r = -EINVAL;
                goto finish;
        }
        if (m != b->m_kib || t != b->t_cost || p != b->p_lanes) {
                fprintf(stderr,
                        "stitch-bench: REFUSING TO RUN: the daemon stored a hash with m=%u,t=%u,p=%u; the baseline "
                        "uses m=%u,t=%u,p=%u.\n",
                        m, t, p, b->m_kib, b->t_cost, b->p_lanes);
                r = -EINVAL;
                goto finish;
        }
        r = 0;
finish:
        if (r == -EIO)
                fprintf(stderr, "stitch-bench: cannot read the stored hash of %s from %s: %s\n", user_id, b->db,
                        db ? sqlite3_errmsg(db) : "open failed");
        sqlite3_finalize(st);
        sqlite3_close(db);
        return r;
}

/* The daemon's last log lines, before the temp dir (and the log) go away. */
static void daemon_log_tail(const struct bench *b) {
        char *lines[20] = {};
        size_t n = 0, cap = 0;
        char *line = NULL;
        FILE *f = fopen(b->log, "re");
        if (!f)
                return;
        while (getline(&line, &cap, f) > 0) {
                free(lines[n % ELEMENTSOF(lines)]);
                lines[n % ELEMENTSOF(lines)] = strdup(line);
                n++;
        }
        free(line);
        fclose(f);
        fprintf(stderr, "stitch-bench: --- last lines of %s:\n", b->log);
        for (size_t i = n > ELEMENTSOF(lines) ? n - ELEMENTSOF(lines) : 0; i < n; i++) {
                fputs(lines[i % ELEMENTSOF(lines)] ?: "", stderr);
                free(lines[i % ELEMENTSOF(lines)]);
                lines[i % ELEMENTSOF(lines)] = NULL;
        }
}

int daemon_start(struct bench *b) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int nfd = -EBADF;
        char env[128];

        nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (nfd < 0)
                return -errno;
        /* Abstract address: nothing to clean up. */
        int n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "stitch-bench/%d/%.0f", (int) getpid(), now_usec());
        socklen_t salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + (size_t) n);
        if (bind(nfd, (struct sockaddr *) &sa, salen) < 0)
                return -errno;
        snprintf(env, sizeof(env), "@%s", sa.sun_path + 1);

        double t0 = now_usec();
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int lfd = open(b->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (lfd < 0 || null < 0)
                        _exit(127);
                /* If the bench dies without cleaning up, the daemon goes too. */
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                dup2(null, STDIN_FILENO);
                dup2(lfd, STDOUT_FILENO);
                dup2(lfd, STDERR_FILENO);
                setenv("NOTIFY_SOCKET", env, 1);
                execl(b->stitchd, b->stitchd, "--foreground", "--config", b->conf, (char *) NULL);
                _exit(127);
        }
        b->daemon_pid = pid;

        for (;;) {
                int status;
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        b->daemon_pid = 0;
                        fprintf(stderr, "stitch-bench: stitchd exited before READY=1\n");
                        daemon_log_tail(b);
                        return -ECHILD;
                }
                if (now_usec() - t0 > 600e6) {
                        fprintf(stderr, "stitch-bench: stitchd not ready after 600 s\n");
                        daemon_stop(b);
                        return -ETIMEDOUT;
                }
                struct pollfd p = {.fd = nfd, .events = POLLIN};
                /* The timeout only wakes us to notice an early exit. */
                if (poll(&p, 1, 100) <= 0)
                        continue;
                char buf[4096];
                ssize_t k = recv(nfd, buf, sizeof(buf) - 1, 0);
                if (k <= 0)
                        continue;
                buf[k] = 0;
                for (char *line = buf; line && *line;) {
                        char *nl = strchr(line, '\n');
                        if (nl)
                                *nl = 0;
                        if (streq(line, "READY=1")) {
                                b->daemon_startup_ms = (now_usec() - t0) / 1e3;
                                return 0;
                        }
                        line = nl ? nl + 1 : NULL;
                }
        }
}

int daemon_stop(struct bench *b) {
        int status = 0;
        if (b->daemon_pid <= 0)
                return 0;
        (void) kill(b->daemon_pid, SIGTERM);
        double t0 = now_usec();
        for (;;) {
                pid_t w = waitpid(b->daemon_pid, &status, WNOHANG);
                if (w == b->daemon_pid || (w < 0 && errno == ECHILD))
                        break;
                if (now_usec() - t0 > 60e6) {
                        (void) kill(b->daemon_pid, SIGKILL);
                        (void) waitpid(b->daemon_pid, &status, 0);
                        break;
                }
                /* Waiting for an exit, not for readiness. */
                nanosleep(&(struct timespec) {.tv_nsec = 10 * 1000 * 1000}, NULL);
        }
        b->daemon_pid = 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "stitch-bench: stitchd did not exit cleanly (status 0x%x)\n", status);
                daemon_log_tail(b);
                return -EIO;
        }
        return 0;
}

/* Two "Name: N kB" lines of the daemon's /proc status, in MiB (NAN if absent). */
static int status_pair(const struct bench *b, const char *first, const char *second, double *ret_first,
                       double *ret_second) {
        char path[64], line[256];
        double v[2] = {NAN, NAN};
        const char *names[2] = {first, second};

        snprintf(path, sizeof(path), "/proc/%d/status", (int) b->daemon_pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                for (size_t i = 0; i < 2; i++) {
                        size_t n = strlen(names[i]);
                        unsigned long kb;
                        if (strncmp(line, names[i], n) == 0 && line[n] == ':' &&
                            sscanf(line + n + 1, " %lu kB", &kb) == 1)
                                v[i] = (double) kb / 1024.0;
                }
        fclose(f);
        *ret_first = v[0];
        *ret_second = v[1];
        return 0;
}

int daemon_memory(const struct bench *b, double *ret_hwm_mib, double *ret_rss_mib) {
        return status_pair(b, "VmHWM", "VmRSS", ret_hwm_mib, ret_rss_mib);
}

int daemon_memory_split(const struct bench *b, double *ret_anon_mib, double *ret_file_mib) {
        return status_pair(b, "RssAnon", "RssFile", ret_anon_mib, ret_file_mib);
}

/* ---- the argon2id baseline ----------------------------------------------------------- */

/* The same call the daemon makes (stitchd/password.c): argon2id, 16-byte salt,
 * 32-byte tag, at the configured m, t, p. The encoded form seeds the scale
 * runs' stores; the baseline verification recomputes the tag from the salt. */
int argon2_prepare(struct bench *b) {
        if (getrandom(b->baseline_salt, sizeof(b->baseline_salt), 0) != (ssize_t) sizeof(b->baseline_salt))
                return -EIO;
        size_t len = argon2_encodedlen(b->t_cost, b->m_kib, b->p_lanes, sizeof(b->baseline_salt),
                                       sizeof(b->baseline_tag), Argon2_id);
        char *enc = malloc(len);
        if (!enc)
                return -ENOMEM;
        int a = argon2_hash(b->t_cost, b->m_kib, b->p_lanes, BENCH_PASSWORD, strlen(BENCH_PASSWORD), b->baseline_salt,
                            sizeof(b->baseline_salt), b->baseline_tag, sizeof(b->baseline_tag), enc, len, Argon2_id,
                            ARGON2_VERSION_13);
        if (a != ARGON2_OK) {
                free(enc);
                fprintf(stderr, "stitch-bench: argon2id: %s\n", argon2_error_message(a));
                return -EINVAL;
        }
        b->baseline_hash = enc;
        return 0;
}

/* The daemon's hash slots keep their memory between hashes (and give it
 * back when idle), so the baseline keeps its memory too: one block per
 * thread, allocated and touched once, never freed. Without this every
 * verification pays ~5,000 page faults for m=19 MiB, which the daemon does
 * not. */
static _Thread_local uint8_t *kept_memory;
static _Thread_local size_t kept_size;

static int kept_allocate(uint8_t **memory, size_t bytes) {
        if (kept_size < bytes) {
                free(kept_memory);
                kept_size = 0;
                kept_memory = malloc(bytes);
                if (!kept_memory)
                        return -1;
                memset(kept_memory, 0, bytes);
                kept_size = bytes;
        }
        *memory = kept_memory;
        return 0;
}

static void kept_deallocate(uint8_t *memory, size_t bytes) {
        (void) memory;
        (void) bytes;
}

void argon2_kept_release(void) {
        free(kept_memory);
        kept_memory = NULL;
        kept_size = 0;
}

double argon2_verify_once_usec(const struct bench *b) {
        uint8_t tag[sizeof(b->baseline_tag)], salt[sizeof(b->baseline_salt)];
        char pwd[] = BENCH_PASSWORD;
        memcpy(salt, b->baseline_salt, sizeof(salt));
        argon2_context ctx = {
                .out = tag,
                .outlen = sizeof(tag),
                .pwd = (uint8_t *) pwd,
                .pwdlen = (uint32_t) strlen(pwd),
                .salt = salt,
                .saltlen = sizeof(salt),
                .t_cost = b->t_cost,
                .m_cost = b->m_kib,
                .lanes = b->p_lanes,
                .threads = b->p_lanes,
                .version = ARGON2_VERSION_13,
                .allocate_cbk = kept_allocate,
                .free_cbk = kept_deallocate,
                .flags = ARGON2_DEFAULT_FLAGS,
        };
        double t0 = now_usec();
        /* What argon2id_verify() does after decoding: hash, then compare. */
        int a = argon2id_ctx(&ctx);
        bool same = a == ARGON2_OK && CRYPTO_memcmp(tag, b->baseline_tag, sizeof(tag)) == 0;
        double t1 = now_usec();
        if (!same) {
                fprintf(stderr, "stitch-bench: argon2id baseline: %s\n",
                        a != ARGON2_OK ? argon2_error_message(a) : "tag mismatch");
                exit(EXIT_FAILURE);
        }
        return t1 - t0;
}
