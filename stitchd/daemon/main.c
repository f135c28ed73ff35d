/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchd: the stitch authentication daemon. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <systemd/sd-journal.h>

#include "core/config.h"
#include "core/page-texts.h"
#include "log.h"
#include "redact.h"
#include "trusted-path.h"
#include "validate.h"
#include "daemon/loop.h"
#include "daemon/mailer.h"
#include "daemon/manager.h"
#include "daemon/store-migrate.h"
#include "frontends/varlink/server.h"
#include "frontends/varlink/call.h"
#include "frontends/http/request.h"
#include "frontends/http/server.h"
#include "core/access.h"

static void journal_sink(int priority, int error, const char *file, int line, const char *func,
                         const char *message) {
        char f[256], l[32];
        snprintf(f, sizeof(f), "CODE_FILE=%s", file);
        snprintf(l, sizeof(l), "CODE_LINE=%d", line);
        if (error)
                sd_journal_send("MESSAGE=%s", message, "PRIORITY=%d", priority, "ERRNO=%d", error, "%s", f, "%s", l,
                                "CODE_FUNC=%s", func, "SYSLOG_IDENTIFIER=stitchd", NULL);
        else
                sd_journal_send("MESSAGE=%s", message, "PRIORITY=%d", priority, "%s", f, "%s", l, "CODE_FUNC=%s", func,
                                "SYSLOG_IDENTIFIER=stitchd", NULL);
}

static void stderr_sink(int priority, int error, const char *file, int line, const char *func,
                        const char *message) {
        static const char *const names[] = {"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"};
        fprintf(stderr, "stitchd[%d]: %s: %s\n", (int) getpid(), names[priority & 7], message);
}

static void help(void) {
        printf("Usage: stitchd [OPTIONS]\n\n"
               "The stitch authentication daemon.\n\n"
               "  -h --help            Show this help\n"
               "     --version         Show the version\n"
               "  -c --config PATH     Configuration file (default: $STITCHD_CONFIG or %s)\n"
               "  -f --foreground      Log to stderr (for running outside systemd)\n"
               "     --check-config    Parse the configuration, print problems, and exit\n"
               "     --migrate-store FROM TO\n"
               "                       Copy the store FROM (a Store= spec) into the empty store TO,\n"
               "                       compare the counts, and exit (stitchctl store migrate)\n",
               STITCHD_CONFIG_DEFAULT);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        log_info("Received %s, shutting down.", strsignal((int) si->ssi_signo));
        sd_notify(false, "STOPPING=1\nSTATUS=Shutting down...");
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        log_info("Received SIGHUP: nothing to reload (restart stitchd to apply configuration changes).");
        return 0;
}

/* The order matters: the front ends stop taking calls; the workers and the
 * refresher stop (their completions use connections); then the front ends
 * and the core go. */
static void shutdown_all(struct stitch_manager *m, struct stitch_server *server, struct stitch_http *http) {
        if (server)
                stitch_server_stop(server);
        stitch_http_stop(http);
        stitch_manager_stop(m);
        stitch_http_free(http); /* its thread is gone after this */
        stitch_server_free(server);
        stitch_manager_free(m);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {"config", required_argument, NULL, 'c'},
                {"foreground", no_argument, NULL, 'f'},
                {"check-config", no_argument, NULL, 'C'},
                {"migrate-store", no_argument, NULL, 'M'},
                {},
        };
        const char *config_path = NULL;
        bool foreground = false, check_only = false, migrate = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "hc:f", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'V':
                        printf("stitchd %s\n", PACKAGE_VERSION);
                        return 0;
                case 'c':
                        config_path = optarg;
                        break;
                case 'f':
                        foreground = true;
                        break;
                case 'C':
                        check_only = true;
                        break;
                case 'M':
                        migrate = true;
                        break;
                default:
                        return 2;
                }
        if (migrate) {
                if (argc - optind != 2) {
                        fprintf(stderr, "stitchd: --migrate-store takes two store specs: FROM TO\n");
                        return 2;
                }
                (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
                umask(0077);
                stitch_log_set_sink(stderr_sink);
                return stitch_store_migrate_main(argv[optind], argv[optind + 1]);
        }
        if (optind < argc) {
                fprintf(stderr, "stitchd: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }

        /* No core dumps and no ptrace by other users: we hold keys and passwords. */
        (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        (void) setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
        /* Room for MaxConnections clients plus the store and listeners. */
        struct rlimit nofile;
        if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 65536 && nofile.rlim_cur < nofile.rlim_max) {
                nofile.rlim_cur = nofile.rlim_max < 65536 ? nofile.rlim_max : 65536;
                (void) setrlimit(RLIMIT_NOFILE, &nofile);
        }
        umask(0077);
        /* Our own NSS look-ups (a caller's groups, a login's uid) must never
         * reach our own userdb socket through nss-systemd: the loop that would
         * answer may be the one waiting. systemd's userdb client skips the
         * services listed here (colon-separated). */
        const char *bypass = getenv("SYSTEMD_BYPASS_USERDB");
        if (!bypass || (!streq(bypass, "1") && !strstr(bypass, "io.stitch.UserDatabase"))) {
                char value[512];
                snprintf(value, sizeof(value), "%s%sio.stitch.UserDatabase", bypass ? bypass : "", bypass ? ":" : "");
                (void) setenv("SYSTEMD_BYPASS_USERDB", value, 1);
        }

        bool explicit_path = config_path || getenv("STITCHD_CONFIG");
        if (!config_path)
                config_path = getenv("STITCHD_CONFIG");
        if (!config_path)
                config_path = STITCHD_CONFIG_DEFAULT;

        /* The configuration names the store and the sockets: refuse one that
         * someone else could have written (sshd's StrictModes). */
        if (access(config_path, F_OK) == 0) {
                _cleanup_free_ char *config_dir = strdup(config_path);
                char *slash = config_dir ? strrchr(config_dir, '/') : NULL;
                if (slash)
                        slash == config_dir ? (void) (slash[1] = 0) : (void) (slash[0] = 0);
                if (stitch_check_trusted(config_path, false, "configuration file") < 0 ||
                    (slash && stitch_check_trusted(config_dir, true, "configuration directory") < 0)) {
                        fprintf(stderr, "stitchd: configuration %s is not trusted; not starting.\n", config_path);
                        return check_only ? 1 : 78; /* EX_CONFIG */
                }
        }

        struct stitch_config config;
        r = stitch_config_init_defaults(&config);
        if (r < 0) {
                fprintf(stderr, "stitchd: out of memory\n");
                return 1;
        }
        /* A missing default config means "run on the defaults"; a missing explicit one is an error. */
        r = stitch_config_load(&config, config_path, !explicit_path, stderr);
        if (r < 0) {
                fprintf(stderr, "stitchd: configuration %s is invalid; not starting.\n", config_path);
                stitch_config_done(&config);
                return check_only ? 1 : 78; /* EX_CONFIG */
        }
        if (check_only) {
                /* What only starting would find otherwise: the mail templates, the SMTP password file. */
                _cleanup_(stitch_page_texts_freep) struct stitch_page_texts *texts = NULL;
                if (stitch_mailer_check_config(&config, stderr) < 0 ||
                    stitch_page_texts_load(config.smtp_template_directory, stderr, &texts) < 0) {
                        fprintf(stderr, "stitchd: configuration %s is invalid; not starting.\n", config_path);
                        stitch_config_done(&config);
                        return 1;
                }
                printf("%s: OK\n", config_path);
                stitch_config_done(&config);
                return 0;
        }

        /* Journal when started by systemd (stderr is the journal stream), stderr otherwise. */
        if (!foreground && getenv("JOURNAL_STREAM"))
                stitch_log_set_sink(journal_sink);
        else
                stitch_log_set_sink(stderr_sink);
        stitch_log_set_max_level(config.log_level);

        struct stitch_manager *m = NULL;
        struct stitch_server *server = NULL;
        struct stitch_http *http = NULL;
        int http_fd = -1;
        r = stitch_manager_new(&config, &m);
        if (r < 0) {
                stitch_config_done(&config);
                return 1;
        }

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        sd_notify(false, "STATUS=Opening store...");
        r = stitch_server_new(m, &server);
        if (r >= 0)
                r = stitch_server_listen(server, &http_fd); /* sockets before threads: umask games are process-wide */
        if (r >= 0)
                r = stitch_manager_start(m);
        if (r >= 0) {
                r = stitch_http_new(m, http_fd, &http); /* takes http_fd */
                http_fd = -1;
        }
        if (r < 0) {
                log_error_errno(r, "Startup failed: %m");
                sd_notifyf(false, "STATUS=Startup failed: %s\nERRNO=%d", strerror(-r), -r);
                if (http_fd >= 0)
                        close(http_fd);
                shutdown_all(m, server, http);
                return 1;
        }

        (void) sd_event_add_signal(m->event, NULL, SIGTERM, on_signal, NULL);
        (void) sd_event_add_signal(m->event, NULL, SIGINT, on_signal, NULL);
        /* SIGHUP: nothing to reload yet; don't die on it (a NULL handler would exit the loop). */
        (void) sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, NULL);
        r = sd_event_set_watchdog(m->event, true); /* pings WATCHDOG=1 when WATCHDOG_USEC is set */
        if (r > 0)
                log_debug("Watchdog enabled.");

        _cleanup_free_ char *store = stitch_store_describe_spec(m->core->config.store);
        log_info("stitchd %s ready: auth socket %s, admin socket %s, store %s.", PACKAGE_VERSION,
                 m->core->config.auth_socket, m->core->config.admin_socket, store ?: STITCH_REDACTED);
        sd_notify(false, "READY=1\nSTATUS=Serving.");

        struct stitch_loop_client client;
        stitch_server_loop_client(server, &client);
        r = stitch_loop_run(m->event, &client);
        shutdown_all(m, server, http);
        return r < 0 ? 1 : 0;
}
