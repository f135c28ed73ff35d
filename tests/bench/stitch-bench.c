/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitch-bench: how fast stitch is, each figure against a baseline measured
 * in the same run on the same machine at the same parameters.
 *
 *   stitch-bench [--smoke] [--scale] [--json] [--only NAME[,NAME...]] [--strict]
 *                [--stitchd PATH] [--pam-module PATH] [--tmpdir DIR] [--keep]
 *
 * NAME: argon2 pam pam-unix login-concurrency verify apikey refresh http idp memory scale.
 * Needs root (admin socket, PAM, a temporary local account). Exit 0 when it
 * ran (targets missed are reported, and fail the run only with --strict),
 * 77 when it cannot run here, 1 on errors. See docs/performance.md. */

#include <argon2.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "macro.h"
#include "wire.h"

struct bench *bench_global;

static const char *const all_names[] = {
        "argon2", "pam", "pam-unix", "login-concurrency", "verify", "apikey", "refresh", "http", "idp", "memory",
        "scale",
};

/* ---- cleanup, also from a signal ------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

static void cleanup(void) {
        struct bench *b = bench_global;
        if (!b)
                return;
        (void) daemon_stop(b);
        local_user_delete(b);
        if (b->base[0]) {
                if (b->keep)
                        fprintf(stderr, "stitch-bench: kept %s\n", b->base);
                else
                        (void) nftw(b->base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        }
        for (size_t i = 0; i < b->n_users; i++) {
                erase_and_free(b->users[i].api_key);
                erase_and_free(b->users[i].access_token);
                erase_and_free(b->users[i].refresh_token);
        }
        bench_global = NULL;
}

/* Async-signal-safe: kill, fork, execve, waitpid, _exit only. */
static void run_and_wait(const char *path, char *const argv[]) {
        static char *const envp[] = {(char *) "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
        pid_t pid = fork();
        if (pid == 0) {
                execve(path, argv, envp);
                _exit(127);
        }
        if (pid > 0)
                (void) waitpid(pid, NULL, 0);
}

static void on_signal(int sig) {
        struct bench *b = bench_global;
        if (b) {
                if (b->daemon_pid > 0) {
                        (void) kill(b->daemon_pid, SIGKILL);
                        (void) waitpid(b->daemon_pid, NULL, 0);
                }
                if (b->local_user_created) {
                        char *const argv[] = {(char *) "userdel", b->local_user, NULL};
                        run_and_wait("/usr/sbin/userdel", argv);
                }
                if (b->base[0] && !b->keep) {
                        char *const argv[] = {(char *) "rm", (char *) "-rf", b->base, NULL};
                        run_and_wait("/bin/rm", argv);
                }
        }
        _exit(128 + sig);
}

/* ---- machine facts ------------------------------------------------------------------------- */

static void read_machine(struct bench *b) {
        char line[512];
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        b->ncpu = n > 0 ? (unsigned) n : 1;
        snprintf(b->cpu_model, sizeof(b->cpu_model), "unknown");
        FILE *f = fopen("/proc/cpuinfo", "re");
        if (f) {
                while (fgets(line, sizeof(line), f))
                        if (strncmp(line, "model name", 10) == 0) {
                                char *c = strchr(line, ':');
                                if (c) {
                                        c += 1 + strspn(c + 1, " \t");
                                        c[strcspn(c, "\n")] = 0;
                                        snprintf(b->cpu_model, sizeof(b->cpu_model), "%s", c);
                                }
                                break;
                        }
                fclose(f);
        }
}

static void read_loadavg(char *buf, size_t size) {
        snprintf(buf, size, "?");
        FILE *f = fopen("/proc/loadavg", "re");
        if (!f)
                return;
        double a, b5, c;
        if (fscanf(f, "%lf %lf %lf", &a, &b5, &c) == 3)
                snprintf(buf, size, "%.2f %.2f %.2f", a, b5, c);
        fclose(f);
}

static char load_start[64], load_end[64];

static unsigned long mem_total_kib(void) {
        char line[256];
        unsigned long kb = 0;
        FILE *f = fopen("/proc/meminfo", "re");
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "MemTotal: %lu kB", &kb) == 1)
                        break;
        fclose(f);
        return kb;
}

/* The filesystem (type and source) holding 'dir', from the longest mount point prefix. */
static void fs_of(const char *dir, char *type, size_t type_size, char *source, size_t source_size) {
        char line[4096], best[PATH_MAX] = "";
        snprintf(type, type_size, "?");
        snprintf(source, source_size, "?");
        FILE *f = fopen("/proc/self/mounts", "re");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                char src[1024], mnt[1024], fstype[64];
                if (sscanf(line, "%1023s %1023s %63s", src, mnt, fstype) != 3)
                        continue;
                size_t l = strlen(mnt);
                bool under = streq(mnt, "/") || (strncmp(dir, mnt, l) == 0 && (dir[l] == '/' || dir[l] == 0));
                if (under && l >= strlen(best)) {
                        snprintf(best, sizeof(best), "%s", mnt);
                        snprintf(type, type_size, "%s", fstype);
                        snprintf(source, source_size, "%s", src);
                }
        }
        fclose(f);
}

/* ---- output ------------------------------------------------------------------------------------ */

static void fmt_value(char *buf, size_t size, double v, const char *unit) {
        if (isnan(v))
                snprintf(buf, size, "-");
        else if (streq(unit, "us")) {
                if (v < 1000)
                        snprintf(buf, size, "%.1f us", v);
                else if (v < 1e6)
                        snprintf(buf, size, "%.2f ms", v / 1e3);
                else
                        snprintf(buf, size, "%.2f s", v / 1e6);
        } else if (streq(unit, "/s"))
                snprintf(buf, size, v < 100 ? "%.1f/s" : "%.0f/s", v);
        else if (streq(unit, "MiB"))
                snprintf(buf, size, "%.1f MiB", v);
        else if (streq(unit, "x"))
                snprintf(buf, size, "%.2fx", v);
        else
                snprintf(buf, size, "%.6g%s%s", v, unit[0] ? " " : "", unit);
}

static const char *verdict_name(enum verdict v) {
        switch (v) {
        case VERDICT_PASS:
                return "PASS";
        case VERDICT_MISS:
                return "MISS";
        case VERDICT_SKIP:
                return "SKIP";
        default:
                return "info";
        }
}

static void fmt_target(char *buf, size_t size, const struct result *r) {
        if (r->cmp == TARGET_NONE || isnan(r->target))
                snprintf(buf, size, "-");
        else if (r->target_absolute) {
                char v[32];
                fmt_value(v, sizeof(v), r->target, r->unit);
                if (size < 40)
                        return;
                snprintf(buf, size, "%s %s", r->cmp == TARGET_LE ? "<=" : ">=", v);
        } else
                snprintf(buf, size, "%s %.2f", r->cmp == TARGET_LE ? "<=" : ">=", r->target);
}

static void print_table(struct bench *b, FILE *out, const char *date, const char *fstype, const char *fssrc) {
        unsigned pass = 0, miss = 0, skip = 0;

        fprintf(out, "\nstitch-bench (%s) %s\n", b->smoke ? "smoke: tiny counts, figures are not meaningful" : b->scale ? "full + scale" : "full", date);
        fprintf(out, "machine: %s, %u CPUs, %.1f GiB RAM; temp dir %s on %s (%s)\n", b->cpu_model, b->ncpu,
                (double) mem_total_kib() / 1048576.0, b->base, fstype, fssrc);
        fprintf(out, "load average (1/5/15 min): %s at the start, %s at the end (other work on the machine skews figures)\n",
                load_start, load_end);
        fprintf(out, "daemon: PasswordHash=argon2id:m=%u,t=%u,p=%u (baseline checked equal), Workers=%u\n\n", b->m_kib,
                b->t_cost, b->p_lanes, b->workers);
        fprintf(out, "%-34s %-48s %-26s %-44s %-7s %-11s %s\n", "id", "figure", "measured (median / p99)",
                "baseline (median)", "ratio", "target", "result");
        for (int i = 0; i < 182; i++)
                fputc('-', out);
        fputc('\n', out);
        for (size_t i = 0; i < b->n_results; i++) {
                struct result *r = b->results[i];
                char v[32], p[32], measured[72], base[32], baseline[112], ratio[16], target[48];

                fmt_value(v, sizeof(v), r->value, r->unit);
                fmt_value(p, sizeof(p), r->p99, r->unit);
                if (r->verdict == VERDICT_SKIP)
                        snprintf(measured, sizeof(measured), "skipped");
                else if (isnan(r->p99))
                        snprintf(measured, sizeof(measured), "%s", v);
                else
                        snprintf(measured, sizeof(measured), "%s / %s", v, p);
                fmt_value(base, sizeof(base), r->baseline, r->baseline_unit[0] ? r->baseline_unit : r->unit);
                if (isnan(r->baseline))
                        snprintf(baseline, sizeof(baseline), "-");
                else
                        snprintf(baseline, sizeof(baseline), "%s %s", base, r->baseline_what);
                if (isnan(r->ratio))
                        snprintf(ratio, sizeof(ratio), "-");
                else
                        snprintf(ratio, sizeof(ratio), "%.3f", r->ratio);
                fmt_target(target, sizeof(target), r);
                fprintf(out, "%-34s %-48s %-26s %-44s %-7s %-11s %s\n", r->id, r->what, measured, baseline, ratio,
                        target, verdict_name(r->verdict));
                pass += r->verdict == VERDICT_PASS;
                miss += r->verdict == VERDICT_MISS;
                skip += r->verdict == VERDICT_SKIP;
        }
        fprintf(out, "\nnotes:\n");
        for (size_t i = 0; i < b->n_results; i++)
                if (b->results[i]->note[0])
                        fprintf(out, "  %-34s %s\n", b->results[i]->id, b->results[i]->note);
        fprintf(out, "\ntargets: %u met, %u missed, %u skipped%s\n", pass, miss, skip,
                b->smoke ? " (smoke mode: verdicts are not meaningful)" : "");
}

static cJSON *json_number_or_null(double v) {
        return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v);
}

static void print_json(struct bench *b, FILE *out, const char *date, const char *fstype, const char *fssrc) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "program", "stitch-bench");
        cJSON_AddStringToObject(doc, "mode", b->smoke ? "smoke" : b->scale ? "full+scale" : "full");
        cJSON_AddStringToObject(doc, "date", date);

        cJSON *m = cJSON_AddObjectToObject(doc, "machine");
        cJSON_AddStringToObject(m, "cpu_model", b->cpu_model);
        cJSON_AddNumberToObject(m, "cpus", b->ncpu);
        cJSON_AddNumberToObject(m, "mem_total_kib", (double) mem_total_kib());
        cJSON_AddStringToObject(m, "tmpdir", b->base);
        cJSON_AddStringToObject(m, "filesystem", fstype);
        cJSON_AddStringToObject(m, "device", fssrc);
        cJSON_AddStringToObject(m, "loadavg_start", load_start);
        cJSON_AddStringToObject(m, "loadavg_end", load_end);

        cJSON *d = cJSON_AddObjectToObject(doc, "daemon");
        cJSON *a = cJSON_AddObjectToObject(d, "argon2id");
        cJSON_AddNumberToObject(a, "m_kib", b->m_kib);
        cJSON_AddNumberToObject(a, "t", b->t_cost);
        cJSON_AddNumberToObject(a, "p", b->p_lanes);
        cJSON_AddNumberToObject(d, "workers", b->workers);
        if (b->info)
                cJSON_AddItemToObject(doc, "info", cJSON_Duplicate(b->info, true));

        cJSON *rs = cJSON_AddArrayToObject(doc, "results");
        unsigned pass = 0, miss = 0, skip = 0;
        for (size_t i = 0; i < b->n_results; i++) {
                struct result *r = b->results[i];
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "id", r->id);
                cJSON_AddStringToObject(o, "figure", r->what);
                cJSON_AddItemToObject(o, "median", json_number_or_null(r->value));
                cJSON_AddItemToObject(o, "p99", json_number_or_null(r->p99));
                cJSON_AddStringToObject(o, "unit", r->unit);
                cJSON_AddItemToObject(o, "baseline", json_number_or_null(r->baseline));
                cJSON_AddStringToObject(o, "baseline_unit", r->baseline_unit[0] ? r->baseline_unit : r->unit);
                cJSON_AddStringToObject(o, "baseline_figure", r->baseline_what);
                cJSON_AddItemToObject(o, "ratio", json_number_or_null(r->ratio));
                if (r->cmp != TARGET_NONE && !isnan(r->target)) {
                        cJSON *t = cJSON_AddObjectToObject(o, "target");
                        cJSON_AddStringToObject(t, "op", r->cmp == TARGET_LE ? "<=" : ">=");
                        cJSON_AddNumberToObject(t, "value", r->target);
                        cJSON_AddStringToObject(t, "of", r->target_absolute ? "median" : "ratio");
                } else
                        cJSON_AddNullToObject(o, "target");
                cJSON_AddStringToObject(o, "result", verdict_name(r->verdict));
                if (r->note[0])
                        cJSON_AddStringToObject(o, "note", r->note);
                cJSON_AddItemToArray(rs, o);
                pass += r->verdict == VERDICT_PASS;
                miss += r->verdict == VERDICT_MISS;
                skip += r->verdict == VERDICT_SKIP;
        }
        cJSON *s = cJSON_AddObjectToObject(doc, "summary");
        cJSON_AddNumberToObject(s, "met", pass);
        cJSON_AddNumberToObject(s, "missed", miss);
        cJSON_AddNumberToObject(s, "skipped", skip);

        char *text = cJSON_Print(doc);
        if (text) {
                fputs(text, out);
                fputc('\n', out);
                free(text);
        }
        cJSON_Delete(doc);
}

/* ---- the argon2id baseline, measured once and reused --------------------------------------- */

struct argon2_thread {
        const struct bench *b;
        unsigned n;
        pthread_barrier_t *barrier;
};

static void *argon2_thread_main(void *p) {
        struct argon2_thread *t = p;
        (void) argon2_verify_once_usec(t->b); /* warm-up: the thread's memory, touched once */
        pthread_barrier_wait(t->barrier);
        for (unsigned i = 0; i < t->n; i++)
                (void) argon2_verify_once_usec(t->b);
        argon2_kept_release();
        return NULL;
}

/* The daemon's memory after everything before it in this run: the peak,
 * then what it keeps once idle. After 2 s without work the workers give the
 * hash slots back (Workers x m) and the store its page cache; the figure is
 * read once VmRSS has stopped falling for 3 s (at most 20 s). */
int bench_memory(struct bench *b) {
        double hwm, rss, start_rss, low, low_anon = NAN, low_file = NAN;
        if (daemon_memory(b, &hwm, &start_rss) < 0)
                return -EIO;
        (void) daemon_memory_split(b, &low_anon, &low_file);
        bench_progress(b, "daemon memory: VmRSS %.1f MiB now; waiting for it to settle while idle", start_rss);
        double t0 = now_usec(), since = t0;
        low = start_rss;
        unsigned polls = 0;
        while (now_usec() - t0 < (b->smoke ? 4e6 : 20e6)) {
                /* Sampling memory over time, not waiting for readiness. */
                nanosleep(&(struct timespec) {.tv_nsec = 100 * 1000 * 1000}, NULL);
                if (daemon_memory(b, &hwm, &rss) < 0)
                        return -EIO;
                polls++;
                if (rss < low - 0.05) {
                        low = rss;
                        since = now_usec();
                        (void) daemon_memory_split(b, &low_anon, &low_file);
                } else if (now_usec() - since >= 3e6)
                        break;
        }
        double slots_mib = (double) b->workers * b->m_kib / 1024.0;

        struct result *r = bench_result(b, "mem.peak", "daemon peak RSS (VmHWM) over this run");
        snprintf(r->unit, sizeof(r->unit), "MiB");
        r->value = hwm;
        result_note(r, "of which up to %.1f MiB are hash slots (Workers x m, as many as hashed at once); VmRSS right "
                       "after the runs %.1f MiB",
                    slots_mib, start_rss);

        r = bench_result(b, "mem.idle", "daemon RSS idle after the load, slots given back");
        snprintf(r->unit, sizeof(r->unit), "MiB");
        r->value = low;
        result_absolute(r, TARGET_LE, 16);
        result_note(r, "lowest VmRSS in %.1f s of idling (%u samples); %.1f MiB right after the runs; of the lowest, "
                       "%.1f MiB the daemon's own (RssAnon) and %.1f MiB pages of the binary and its shared "
                       "libraries (RssFile, shared with every process mapping them)",
                    (now_usec() - t0) / 1e6, polls, start_rss, low_anon, low_file);
        return 0;
}

int bench_argon2(struct bench *b) {
        struct samples s = {0};
        unsigned n = b->smoke ? 3 : 40;

        bench_progress(b, "argon2id baseline: %u in-process verifications at m=%u,t=%u,p=%u", n, b->m_kib, b->t_cost,
                       b->p_lanes);
        (void) argon2_verify_once_usec(b); /* warm-up: first touch of the memory */
        for (unsigned i = 0; i < n; i++)
                samples_add(&s, argon2_verify_once_usec(b));
        struct result *r = bench_result(b, "argon2.verify", "argon2id verify, in-process (baseline)");
        snprintf(r->unit, sizeof(r->unit), "us");
        r->value = b->argon2_verify_us = samples_median(&s);
        r->p99 = samples_p99(&s);
        result_note(r, "libargon2 argon2id_verify at the daemon's PasswordHash (m=%u KiB, t=%u, p=%u), %u runs",
                    b->m_kib, b->t_cost, b->p_lanes, n);
        samples_done(&s);

        /* All CPUs hashing at once: memory bandwidth and caches are shared, so
         * this is what "CPUs / hash time" can really deliver here. */
        unsigned per = b->smoke ? 1 : 12;
        pthread_t th[64];
        struct argon2_thread at[64];
        unsigned k = MIN(b->ncpu, 64u);
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, k + 1);
        for (unsigned i = 0; i < k; i++) {
                at[i] = (struct argon2_thread) {.b = b, .n = per, .barrier = &barrier};
                pthread_create(&th[i], NULL, argon2_thread_main, &at[i]);
        }
        pthread_barrier_wait(&barrier);
        double t0 = now_usec();
        for (unsigned i = 0; i < k; i++)
                pthread_join(th[i], NULL);
        double t1 = now_usec();
        pthread_barrier_destroy(&barrier);
        b->argon2_parallel_per_s = (double) (k * per) / ((t1 - t0) / 1e6);

        r = bench_result(b, "argon2.parallel", "argon2id verify, in-process, all CPUs");
        snprintf(r->unit, sizeof(r->unit), "/s");
        r->value = b->argon2_parallel_per_s;
        r->baseline = (double) b->ncpu / (b->argon2_verify_us / 1e6);
        snprintf(r->baseline_what, sizeof(r->baseline_what), "CPUs / hash time");
        result_ratio(r, TARGET_NONE, NAN);
        result_note(r, "%u threads x %u verifications; below 1.0 = the CPUs slow each other down (shared memory "
                       "bandwidth/caches)",
                    k, per);
        return 0;
}

/* ---- main -------------------------------------------------------------------------------------------- */

static void help(void) {
        printf("stitch-bench [OPTIONS]\n"
               "  --smoke             seconds; tiny counts (make check)\n"
               "  --scale             also the 1k/100k/1M-user scale runs (slow)\n"
               "  --json              print one JSON document instead of the table\n"
               "  --only NAME[,NAME]  run only these: argon2 pam pam-unix login-concurrency verify apikey refresh http idp\n"
               "                      memory scale\n"
               "  --strict            exit 1 if a target is missed\n"
               "  --stitchd PATH      the daemon (default: $STITCHD, or from $top_builddir)\n"
               "  --pam-module PATH   pam_stitch.so (default: $PAM_STITCH_SO, or from $top_builddir)\n"
               "  --tmpdir DIR        where the store and sockets go (default: $TMPDIR or /var/tmp)\n"
               "  --password-hash argon2id:m=KIB,t=N,p=N   daemon config and baseline (default m=19456,t=2,p=1)\n"
               "  --store SPEC        the daemon's Store= (an empty PostgreSQL database, for\n"
               "                      tests/bench/bench-fleet.sh); only with --only apikey,login-concurrency,verify\n"
               "  --keep              keep the temp dir\n");
}

static char *path_from_builddir(const char *argv0, const char *rel) {
        const char *top = getenv("top_builddir");
        char buf[PATH_MAX];
        if (top)
                snprintf(buf, sizeof(buf), "%s/%s", top, rel);
        else {
                /* The program lives in $(top_builddir)/tests/bench/ (or .libs/ under it). */
                char self[PATH_MAX];
                ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
                if (n <= 0)
                        return strdup(rel);
                self[n] = 0;
                char *d = dirname(self);
                if (strstr(d, "/.libs"))
                        d = dirname(d);
                snprintf(buf, sizeof(buf), "%s/../../%s", d, rel);
        }
        return strdup(buf);
}

static char **split_names(const char *s) {
        size_t n = 1;
        for (const char *c = s; *c; c++)
                n += *c == ',';
        char **l = calloc(n + 1, sizeof(char *));
        char *copy = strdup(s);
        if (!l || !copy)
                exit(EXIT_FAILURE);
        size_t i = 0;
        for (char *tok; (tok = strsep(&copy, ",")); ) {
                bool known = false;
                if (!*tok)
                        continue;
                for (size_t k = 0; k < ELEMENTSOF(all_names); k++)
                        known = known || streq(tok, all_names[k]);
                if (!known) {
                        fprintf(stderr, "stitch-bench: unknown benchmark '%s'\n", tok);
                        exit(2);
                }
                l[i++] = tok;
        }
        return l;
}

static int parse_password_hash(struct bench *b, const char *s) {
        unsigned long v[3];
        char *end;
        const char *keys[3] = {"m=", "t=", "p="};
        if (strncmp(s, "argon2id:", 9) != 0)
                return -EINVAL;
        s += 9;
        for (size_t i = 0; i < 3; i++) {
                if (strncmp(s, keys[i], 2) != 0)
                        return -EINVAL;
                errno = 0;
                v[i] = strtoul(s + 2, &end, 10);
                if (errno || end == s + 2 || v[i] == 0 || v[i] > 4194304)
                        return -EINVAL;
                s = end + (i < 2 && *end == ',');
        }
        if (*s)
                return -EINVAL;
        b->m_kib = (uint32_t) v[0];
        b->t_cost = (uint32_t) v[1];
        b->p_lanes = (uint32_t) v[2];
        return 0;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                {"smoke", no_argument, NULL, 's'},
                {"scale", no_argument, NULL, 'S'},
                {"json", no_argument, NULL, 'j'},
                {"only", required_argument, NULL, 'o'},
                {"strict", no_argument, NULL, 'x'},
                {"stitchd", required_argument, NULL, 'd'},
                {"pam-module", required_argument, NULL, 'p'},
                {"tmpdir", required_argument, NULL, 't'},
                {"password-hash", required_argument, NULL, 'H'},
                {"keep", no_argument, NULL, 'k'},
                {"store", required_argument, NULL, 'T'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        static struct bench bench = {
                .m_kib = 19456,
                .t_cost = 2,
                .p_lanes = 1,
                .pam_stitch_us = NAN,
                .argon2_verify_us = NAN,
        };
        struct bench *b = &bench;
        _cleanup_free_ char *stitchd = NULL, *pam_module = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        b->smoke = true;
                        break;
                case 'S':
                        b->scale = true;
                        break;
                case 'j':
                        b->json = true;
                        break;
                case 'o':
                        b->only = split_names(optarg);
                        break;
                case 'x':
                        b->strict = true;
                        break;
                case 'd':
                        b->stitchd = optarg;
                        break;
                case 'p':
                        b->pam_module = optarg;
                        break;
                case 't':
                        b->tmp_parent = optarg;
                        break;
                case 'H':
                        if (parse_password_hash(b, optarg) < 0) {
                                fprintf(stderr, "stitch-bench: bad --password-hash (argon2id:m=KIB,t=N,p=N)\n");
                                return 2;
                        }
                        break;
                case 'T':
                        b->store_spec = optarg;
                        break;
                case 'k':
                        b->keep = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "stitch-bench: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        if (b->store_spec && (!b->only || bench_selected(b, "pam") || bench_selected(b, "scale") ||
                              bench_selected(b, "http") || bench_selected(b, "memory"))) {
                fprintf(stderr, "stitch-bench: --store goes with --only apikey,login-concurrency,verify,refresh\n");
                return 2;
        }
        /* --only scale implies --scale; --scale alone means everything plus scale. */
        if (b->only && bench_selected(b, "scale"))
                b->scale = true;

        if (!b->stitchd)
                b->stitchd = getenv("STITCHD");
        if (!b->stitchd)
                b->stitchd = stitchd = path_from_builddir(argv[0], "stitchd/stitchd");
        if (!b->pam_module)
                b->pam_module = getenv("PAM_STITCH_SO");
        if (!b->pam_module)
                b->pam_module = pam_module = path_from_builddir(argv[0], "pam_stitch/.libs/pam_stitch.so");
        if (!b->tmp_parent)
                b->tmp_parent = getenv("TMPDIR");
        if (!b->tmp_parent)
                b->tmp_parent = "/var/tmp";

        if (geteuid() != 0) {
                fprintf(stderr, "stitch-bench: SKIP: needs root (admin socket, PAM, a temporary local account)\n");
                return 77;
        }
        if (access(b->stitchd, X_OK) < 0) {
                fprintf(stderr, "stitch-bench: SKIP: no daemon at %s (build it, or pass --stitchd)\n", b->stitchd);
                return 77;
        }

        read_machine(b);
        b->workers = b->ncpu;
        b->info = cJSON_CreateObject();

        char template[PATH_MAX];
        snprintf(template, sizeof(template), "%s/stitch-bench.XXXXXX", b->tmp_parent);
        if (!mkdtemp(template)) {
                fprintf(stderr, "stitch-bench: mkdtemp %s: %m\n", template);
                return 1;
        }
        (void) chmod(template, 0755);
        snprintf(b->base, sizeof(b->base), "%s", template);
        bench_global = b;
        atexit(cleanup);
        /* Also on a crash (an abort from a sanitizer, say): no local account or temp dir left behind. */
        struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND};
        static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGABRT, SIGSEGV, SIGBUS};
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                sigaction(sigs[i], &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        char date[64], fstype[64], fssrc[1024];
        time_t now = time(NULL);
        struct tm tm;
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %Z", localtime_r(&now, &tm));
        fs_of(b->base, fstype, sizeof(fstype), fssrc, sizeof(fssrc));
        read_loadavg(load_start, sizeof(load_start));

        r = argon2_prepare(b);
        if (r < 0)
                return 1;

        bool want_main = false;
        for (size_t i = 0; i + 1 < ELEMENTSOF(all_names); i++)
                want_main = want_main || (bench_selected(b, all_names[i]) && !streq(all_names[i], "argon2"));
        bool want_argon2 = bench_selected(b, "argon2") || bench_selected(b, "pam") ||
                           bench_selected(b, "login-concurrency") || b->scale;

        if (want_argon2) {
                r = bench_argon2(b);
                if (r < 0)
                        return 1;
        }

        if (want_main) {
                r = daemon_setup_dir(b, "main");
                if (r < 0 || (r = daemon_write_config(b)) < 0)
                        return 1;
                r = daemon_start(b);
                if (r < 0)
                        return 1;
                bench_progress(b, "stitchd %s ready in %.0f ms (pid %d, %s)", b->stitchd, b->daemon_startup_ms,
                               (int) b->daemon_pid, b->dir);

                if (bench_selected(b, "pam") || bench_selected(b, "pam-unix"))
                        (void) local_user_create(b);

                /* users[0]: the PAM / single-client user; its unix_name is the local account if there is one. */
                r = bench_create_user(b, &b->users[0], b->local_user_created ? b->local_user : "sbench", true);
                if (r < 0)
                        return 1;
                b->n_users = 1;
                r = daemon_stored_hash_check(b, b->users[0].id);
                if (r < 0)
                        return 1;

                if (bench_selected(b, "pam") && bench_pam_stitch(b) < 0)
                        return 1;
                if (bench_selected(b, "pam-unix") && bench_pam_unix(b) < 0)
                        return 1;
                if (bench_selected(b, "login-concurrency") && bench_login_concurrency(b) < 0)
                        return 1;
                if (bench_selected(b, "verify") && bench_verify(b) < 0)
                        return 1;
                if (bench_selected(b, "apikey") && bench_apikey(b) < 0)
                        return 1;
                if (bench_selected(b, "refresh") && bench_refresh(b) < 0)
                        return 1;
                if (bench_selected(b, "http") && bench_http(b) < 0)
                        return 1;
                if (bench_selected(b, "idp") && bench_idp(b) < 0)
                        return 1;
                if (bench_selected(b, "memory") && bench_memory(b) < 0)
                        return 1;
                if (daemon_stop(b) < 0)
                        return 1;
        }

        if (b->scale && bench_scale(b) < 0)
                return 1;

        read_loadavg(load_end, sizeof(load_end));
        if (b->json)
                print_json(b, stdout, date, fstype, fssrc);
        else
                print_table(b, stdout, date, fstype, fssrc);
        fflush(stdout);

        bool missed = false;
        for (size_t i = 0; i < b->n_results; i++)
                missed = missed || b->results[i]->verdict == VERDICT_MISS;
        cJSON_Delete(b->info);
        b->info = NULL;
        for (size_t i = 0; i < b->n_results; i++)
                free(b->results[i]);
        free(b->results);
        b->results = NULL;
        b->n_results = 0;
        argon2_kept_release();
        return b->strict && missed && !b->smoke ? 1 : 0;
}
