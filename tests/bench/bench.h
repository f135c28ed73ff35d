/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* stitch-bench: shared state of the benchmark program. Each figure is
 * measured against a baseline taken in the same run, on the same machine, at
 * the same parameters; see docs/performance.md. */

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#define BENCH_PASSWORD "bench-Passw0rd-1"
#define BENCH_SERVICE "stitch-bench"
#define BENCH_MAX_CLIENTS 64

/* ---- samples and statistics ------------------------------------------------ */

struct samples {
        double *v;
        size_t n, cap;
};

void samples_add(struct samples *s, double v);
void samples_merge(struct samples *into, const struct samples *from);
void samples_done(struct samples *s);
double samples_median(struct samples *s);
double samples_p99(struct samples *s);
double samples_quantile(struct samples *s, double q);

double now_usec(void);
int path_join(char *buf, size_t size, const char *dir, const char *name);

/* ---- results ----------------------------------------------------------------- */

enum verdict {
        VERDICT_INFO,
        VERDICT_PASS,
        VERDICT_MISS,
        VERDICT_SKIP,
};

enum target_cmp {
        TARGET_NONE,
        TARGET_LE, /* ratio <= target */
        TARGET_GE, /* ratio >= target (or value >= target when the target is absolute) */
};

struct result {
        char id[64];        /* stable key, e.g. "pam.login" */
        char what[96];      /* human label */
        double value, p99;  /* median (or rate) and p99 (NAN if none) */
        char unit[8];       /* "us", "/s", "MiB", "x", "" */
        char baseline_what[64];
        double baseline;    /* NAN if none */
        char baseline_unit[8];
        double ratio;       /* NAN if none */
        enum target_cmp cmp;
        double target;
        bool target_absolute; /* the target applies to value, not ratio */
        enum verdict verdict;
        char note[1024];
};

/* ---- one benchmark run -------------------------------------------------------- */

struct bench_user {
        char unix_name[33];
        char email[64];
        char id[25];
        char session_id[25]; /* from the last login */
        char *api_key;       /* secret; wiped on exit */
        char *access_token;  /* from a login */
        char *refresh_token; /* from a login */
};

struct bench {
        /* options */
        bool smoke, scale, json, strict, keep;
        char **only; /* NULL = all */
        const char *stitchd, *pam_module, *tmp_parent;
        const char *store_spec; /* --store: the daemons' Store= (NULL: SQLite in the temp dir) */

        /* machine */
        unsigned ncpu;
        char cpu_model[128];

        /* argon2id parameters the daemon is configured with (and checked for) */
        uint32_t m_kib, t_cost, p_lanes;
        unsigned workers;
        char *baseline_hash;      /* argon2id hash of BENCH_PASSWORD at those parameters, encoded */
        uint8_t baseline_salt[16], baseline_tag[32]; /* the same hash, raw */
        double argon2_verify_us;  /* median in-process verification */
        double argon2_parallel_per_s;
        double pam_stitch_us;     /* median PAM login through pam_stitch, for the pam_unix comparison */

        /* the running daemon */
        char base[PATH_MAX];      /* private temp dir, removed at exit */
        char dir[PATH_MAX];       /* the current daemon's dir, inside base */
        char conf[PATH_MAX], db[PATH_MAX], auth_socket[108], admin_socket[108], log[PATH_MAX];
        pid_t daemon_pid;
        double daemon_startup_ms;

        /* temporary Unix account for pam_unix (and as the stitch unix_name) */
        char local_user[33];
        bool local_user_created;

        struct bench_user users[BENCH_MAX_CLIENTS + 2];
        size_t n_users;

        struct result **results; /* each allocated on its own: pointers stay valid */
        size_t n_results;
        cJSON *info; /* extra facts for --json: hash costs, machine, ... */
};

extern struct bench *bench_global; /* for the signal handler */

void bench_progress(const struct bench *b, const char *format, ...) __attribute__((format(printf, 2, 3)));
bool bench_selected(const struct bench *b, const char *name);

struct result *bench_result(struct bench *b, const char *id, const char *what);
void result_ratio(struct result *r, enum target_cmp cmp, double target);
void result_absolute(struct result *r, enum target_cmp cmp, double target);
void result_note(struct result *r, const char *format, ...) __attribute__((format(printf, 2, 3)));
void bench_skip(struct bench *b, const char *id, const char *what, const char *format, ...)
        __attribute__((format(printf, 4, 5)));

/* ---- the daemon ------------------------------------------------------------------ */

int daemon_setup_dir(struct bench *b, const char *subdir);
int daemon_write_config(struct bench *b);
int daemon_check_params(struct bench *b);
int daemon_start(struct bench *b);
int daemon_stop(struct bench *b);
int daemon_memory(const struct bench *b, double *ret_hwm_mib, double *ret_rss_mib);
/* VmRSS's parts: anonymous memory (the daemon's own) and file pages (its
 * binary and shared libraries, shared with other processes). */
int daemon_memory_split(const struct bench *b, double *ret_anon_mib, double *ret_file_mib);
int daemon_stored_hash_check(struct bench *b, const char *user_id);

/* ---- the wire: setup calls through lib/client.h, hot loops on raw sockets ---------- */

int wire_call(const char *socket_path, const char *method, cJSON *parameters, cJSON **ret_parameters);
int wire_connect(const char *path);
char *wire_request(const char *method, cJSON *parameters, size_t *ret_len);

struct wire_conn {
        int fd;
        char *buf;
        size_t cap, len;
};
int wire_conn_open(struct wire_conn *c, const char *path);
void wire_conn_close(struct wire_conn *c);
/* Sends req (req_len bytes, including the NUL) and reads one reply. Returns 1
 * if the reply is a success ({"parameters"...}), 0 if it is an error reply,
 * -errno on I/O failure. *ret_reply/ret_len point into c->buf. */
int wire_roundtrip(struct wire_conn *c, const char *req, size_t req_len, const char **ret_reply,
                   size_t *ret_len);

/* A raw AF_UNIX echo in a process of its own, one epoll loop like the
 * daemon's: every NUL-terminated message is answered with reply (NUL
 * included in reply_len). Listens on DIR/echo.sock (path). */
struct echo_server {
        int listen_fd, stop_fd, epoll_fd;
        pid_t pid;
        const char *reply;
        size_t reply_len; /* NUL included */
        char path[108];
};
int echo_start(struct echo_server *s, const char *dir, const char *reply, size_t reply_len);
void echo_stop(struct echo_server *s);

/* Pins every thread of process pid to the CPUs in set (NULL: all CPUs). */
int pin_process(pid_t pid, const cpu_set_t *set);

/* Microseconds per ES256 signature of input on one thread, in process. */
double es256_sign_usec(const char *input, size_t len, double duration_us);
int bench_create_user(struct bench *b, struct bench_user *u, const char *unix_name, bool with_key);
/* A user with an API key and no password (cheap to make: no hash). */
int bench_create_key_user(struct bench *b, struct bench_user *u, const char *unix_name);
/* Frees and wipes what u holds. */
void bench_user_done(struct bench_user *u);
int bench_login(struct bench *b, struct bench_user *u, bool with_key);
int bench_ensure_users(struct bench *b, size_t n);

/* ---- baselines -------------------------------------------------------------------- */

int argon2_prepare(struct bench *b);
double argon2_verify_once_usec(const struct bench *b);
/* Frees the calling thread's kept hash memory (before a thread ends). */
void argon2_kept_release(void);
/* Single-row commits in a WAL database with synchronous=FULL in dir, for
 * duration_us after a warm-up: the floor of a durable write here. */
int sqlite_commit_rate(const char *dir, double duration_us, double *ret_rate, struct samples *lat);

/* ---- the benchmarks ------------------------------------------------------------------ */

int bench_argon2(struct bench *b);
int bench_pam_stitch(struct bench *b);
int bench_pam_unix(struct bench *b);
int bench_login_concurrency(struct bench *b);
int bench_verify(struct bench *b);
int bench_apikey(struct bench *b);
int bench_refresh(struct bench *b);
int bench_scale(struct bench *b);
int bench_http(struct bench *b);
int bench_memory(struct bench *b);
/* The loopback port the daemon's [Http] Listen= uses in this run. */
unsigned bench_http_port(void);
/* A loopback TCP port free right now. */
unsigned free_port(void);
/* k keep-alive connections over min(k, CPUs) threads sending req to the
 * loopback port for duration us, one request in flight each: answers with
 * status 2xx per second; latencies into lat, the others counted. */
double http_rate(struct bench *b, unsigned port, const char *req, unsigned k, double duration,
                 struct samples *lat, unsigned *ret_failed, unsigned *ret_status);
int bench_idp(struct bench *b);

int local_user_create(struct bench *b);
void local_user_delete(struct bench *b);
