/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchd/daemon/refresher.c: when refreshes are due (RefreshMargin before
 * expiry, at once when late, retries doubling from 1 s to 60 s), the same
 * on a real sd-event loop with a stand-in store, waiters and the
 * cross-thread inbox, and OnRevoke=terminate: through a fake logind on a
 * private dbus-daemon (GetSessionByPID then Terminate, on the loop), and
 * the SIGHUP fallback when logind is missing, refuses, or stitchd stops
 * while it has not answered. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "clock.h"
#include "core/ids.h"
#include "validate.h"
#include "daemon/manager.h"
#include "daemon/refresher.h"

#define SEC 1000000ull
#define MARGIN (300 * SEC)
#define WATCHDOG_USEC (20 * SEC)

/* ---- the schedule, pure ---------------------------------------------------- */

static void test_due(void **state) {
        (void) state;
        /* RefreshMargin before expiry, in CLOCK_REALTIME microseconds. */
        assert_int_equal(stitch_refresher_due_usec(true, 1700000000, MARGIN), 1700000000 * SEC - MARGIN);
        assert_int_equal(stitch_refresher_due_usec(true, 1700000000, 0), 1700000000 * SEC);
        /* No token yet, no expiry, or a margin longer than the epoch: at once. */
        assert_int_equal(stitch_refresher_due_usec(false, 1700000000, MARGIN), 0);
        assert_int_equal(stitch_refresher_due_usec(true, 0, MARGIN), 0);
        assert_int_equal(stitch_refresher_due_usec(true, -5, MARGIN), 0);
        assert_int_equal(stitch_refresher_due_usec(true, 100, 100 * SEC), 0);
        assert_int_equal(stitch_refresher_due_usec(true, 100, 101 * SEC), 0);
        assert_int_equal(stitch_refresher_due_usec(true, 101, 100 * SEC), 1 * SEC);
        /* Absurd expiries do not wrap around. */
        assert_int_equal(stitch_refresher_due_usec(true, INT64_MAX, MARGIN), 0);
        /* A token that is already past its margin is due in the past: the
         * refresher clamps that to now (see test_due_refresh_runs_at_once). */
        int64_t now = stitch_now();
        assert_true(stitch_refresher_due_usec(true, now + 10, MARGIN) < stitch_now_usec(CLOCK_REALTIME));
        assert_true(stitch_refresher_due_usec(true, now + 3600, MARGIN) > stitch_now_usec(CLOCK_REALTIME));
}

static void test_retry_backoff(void **state) {
        (void) state;
        const uint64_t expect[] = {1, 2, 4, 8, 16, 32, 60, 60, 60};
        uint64_t wait = 0;
        for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
                wait = stitch_refresher_retry_usec(wait);
                assert_int_equal(wait, expect[i] * SEC);
        }
        assert_int_equal(stitch_refresher_retry_usec(UINT64_MAX), 60 * SEC);
}

/* ---- a refresher on a real loop ------------------------------------------------ */

static struct stitch_manager *m;
static struct stitch_refresher *r;
static bool timed_out;

/* The stand-in store: session_get only, answered from a script. */
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned store_calls;
static char store_ids[8][STITCH_ID_LEN + 1];
static uint64_t store_times[8]; /* CLOCK_MONOTONIC */
static int store_answers[8];   /* per call; -ENOENT after the script */

static int fake_session_get(struct stitch_store *s, const char *id, struct stitch_session **ret) {
        (void) s;
        (void) ret;
        pthread_mutex_lock(&store_lock);
        unsigned n = store_calls++;
        int answer = n < 8 && store_answers[n] ? store_answers[n] : -ENOENT;
        if (n < 8) {
                snprintf(store_ids[n], sizeof(store_ids[n]), "%s", id);
                store_times[n] = stitch_now_usec(CLOCK_MONOTONIC);
        }
        pthread_mutex_unlock(&store_lock);
        return answer;
}

static const struct stitch_store_ops fake_store = {
        .session_get = fake_session_get,
};

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        (void) userdata;
        timed_out = true;
        return 0;
}

/* Runs the loop, an iteration at a time, until cond() holds. */
static void run_until(bool (*cond)(void)) {
        while (!cond()) {
                assert_false(timed_out);
                assert_true(sd_event_run(m->event, UINT64_MAX) >= 0);
        }
}

static int setup(void **state) {
        (void) state;
        m = calloc(1, sizeof(*m));
        if (!m || sd_event_new(&m->event) < 0)
                return -1;
        m->core = calloc(1, sizeof(*m->core));
        if (!m->core)
                return -1;
        m->core->config.refresh_margin_usec = MARGIN;
        m->core->config.on_revoke = STITCH_ON_REVOKE_TERMINATE;
        m->core->store_ops = &fake_store;
        store_calls = 0;
        memset(store_answers, 0, sizeof(store_answers));
        timed_out = false;
        /* Never the real system bus from a test (its logind would end our session). */
        setenv("STITCH_TEST_LOGIND_BUS", "unix:path=/nonexistent/stitch-test-bus", 1);
        if (sd_event_add_time_relative(m->event, NULL, CLOCK_MONOTONIC, WATCHDOG_USEC, 0, on_watchdog, NULL) < 0 ||
            stitch_workers_new(m->event, 1, 16, &m->workers) < 0 || stitch_refresher_new(m, &r) < 0)
                return -1;
        return 0;
}

static int teardown(void **state) {
        (void) state;
        /* As stitch_manager_stop: workers first, then the refresher. */
        m->workers = stitch_workers_free(m->workers);
        r = stitch_refresher_free(r);
        sd_event_unref(m->event);
        free(m->core);
        free(m);
        m = NULL;
        unsetenv("STITCH_TEST_LOGIND_BUS");
        return 0;
}

static struct stitch_session session_n(unsigned n) {
        struct stitch_session s = {0};
        snprintf(s.id, sizeof(s.id), "s%023u", n);
        snprintf(s.user_id, sizeof(s.user_id), "u%023u", 1u);
        snprintf(s.device_id, sizeof(s.device_id), "%s", STITCH_DEVICE_NONE);
        return s;
}

static bool one_left(void) {
        return stitch_refresher_size(r) == 1;
}

static void test_due_refresh_runs_at_once(void **state) {
        (void) state;
        struct stitch_session late = session_n(1), fresh = session_n(2);
        int64_t now = stitch_now();

        /* Due (inside the margin) and not due (an hour left). */
        assert_int_equal(stitch_refresher_add(r, &late, 0, "tok-late", now + MARGIN / SEC - 1), 0);
        assert_int_equal(stitch_refresher_add(r, &fresh, 0, "tok-fresh", now + 3600), 0);
        assert_int_equal(stitch_refresher_size(r), 2);
        /* The store says the late one is gone: its entry goes. */
        run_until(one_left);
        assert_int_equal(store_calls, 1);
        assert_string_equal(store_ids[0], late.id);
        /* The fresh one is still held with its token, not refreshed. */
        char *tok = NULL;
        int64_t exp = 0;
        assert_int_equal(stitch_refresher_get(r, fresh.id, 0, false, &tok, &exp, NULL, NULL), 1);
        assert_string_equal(tok, "tok-fresh");
        assert_int_equal(exp, now + 3600);
        free(tok);
        assert_int_equal(stitch_refresher_get(r, late.id, 0, false, &tok, &exp, NULL, NULL), 0);
        assert_int_equal(stitch_refresher_lapsed(r), 0);
}

static bool two_store_calls(void) {
        return store_calls >= 2 && stitch_refresher_size(r) == 0;
}

static void test_retry_after_failure(void **state) {
        (void) state;
        struct stitch_session s = session_n(3);

        store_answers[0] = -EIO; /* then -ENOENT: the session is gone */
        assert_int_equal(stitch_refresher_add(r, &s, 0, NULL, 0), 0); /* no token: at once */
        assert_int_equal(stitch_refresher_lapsed(r), 1);
        run_until(two_store_calls);
        assert_int_equal(store_calls, 2);
        assert_string_equal(store_ids[1], s.id);
        /* The first retry waits RETRY_MIN (1 s); timers fire late, never early
         * (the margin allows for reading two clocks). */
        uint64_t gap = store_times[1] - store_times[0];
        assert_true(gap >= stitch_refresher_retry_usec(0) - 20000);
        assert_true(gap < 10 * SEC);
}

struct waited {
        unsigned calls;
        char error[64];
        char token[32];
};

static void waiter_cb(const char *session_id, const char *token, int64_t expires, const char *error, void *userdata) {
        struct waited *w = userdata;
        (void) session_id;
        (void) expires;
        w->calls++;
        snprintf(w->error, sizeof(w->error), "%s", error ? error : "");
        snprintf(w->token, sizeof(w->token), "%s", token ? token : "");
}

static struct waited waited;

static bool waiter_answered(void) {
        return waited.calls > 0;
}

static void test_waiter_and_inbox(void **state) {
        (void) state;
        struct stitch_session s = session_n(4);
        int64_t now = stitch_now();
        char *tok = NULL;
        int64_t exp = 0;

        m->core->config.on_revoke = STITCH_ON_REVOKE_KEEP;
        memset(&waited, 0, sizeof(waited));
        assert_int_equal(stitch_refresher_add(r, &s, 0, "tok", now + 3600), 0);
        /* Nothing newer than the cached one: 0 without wait, 2 (waiting) with. */
        assert_int_equal(stitch_refresher_get(r, s.id, now + 3600, false, &tok, &exp, NULL, NULL), 0);
        assert_int_equal(stitch_refresher_get(r, s.id, now + 3600, true, &tok, &exp, waiter_cb, &waited), 2);
        assert_null(tok);
        /* Ended from another thread's point of view: through the inbox, on the loop. */
        stitch_refresher_notify_ended(r, s.id, STITCH_END_REVOKE);
        assert_int_equal(stitch_refresher_size(r), 1); /* not before the loop runs */
        run_until(waiter_answered);
        assert_int_equal(waited.calls, 1);
        assert_string_equal(waited.error, "session has ended");
        assert_int_equal(stitch_refresher_size(r), 0);
        assert_int_equal(stitch_refresher_terminating(r), 0); /* OnRevoke=keep */
        assert_int_equal(store_calls, 0);
}

/* ---- OnRevoke=terminate --------------------------------------------------- */

static pid_t child = -1;
static int child_pidfd = -1;
static sd_event_source *child_source;
static bool child_exited;

static int on_child_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        (void) fd;
        (void) revents;
        (void) userdata;
        child_exited = true;
        return sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

/* A login process: waits; SIGHUP and SIGTERM end it (default dispositions). */
static void start_child(void) {
        int ready[2];
        char byte;
        child_exited = false;
        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                sigset_t none;
                sigemptyset(&none);
                signal(SIGHUP, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                sigprocmask(SIG_SETMASK, &none, NULL);
                (void) !write(ready[1], "r", 1);
                for (;;)
                        pause();
        }
        /* A signal sent before the child reset its handlers would be lost
         * where the test runs with SIGHUP ignored (nohup, some builders). */
        close(ready[1]);
        assert_int_equal(read(ready[0], &byte, 1), 1);
        close(ready[0]);
        child_pidfd = (int) syscall(SYS_pidfd_open, child, 0);
        assert_true(child_pidfd >= 0);
        assert_int_equal(sd_event_add_io(m->event, &child_source, child_pidfd, EPOLLIN, on_child_exit, NULL), 0);
}

/* The signal that ended the child. */
static int reap_child(void) {
        siginfo_t si = {0};
        assert_int_equal(waitid(P_PID, (id_t) child, &si, WEXITED), 0);
        child = -1;
        child_source = sd_event_source_disable_unref(child_source);
        close(child_pidfd);
        child_pidfd = -1;
        return si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED ? si.si_status : 0;
}

static void kill_child(void) {
        if (child > 0) {
                kill(child, SIGKILL);
                (void) reap_child();
        }
}

static bool child_gone(void) {
        return child_exited;
}

static bool child_gone_and_terminated(void) {
        return child_exited && stitch_refresher_terminating(r) == 0;
}

static void revoke_live_login(unsigned n) {
        struct stitch_session s = session_n(n);
        start_child();
        assert_int_equal(stitch_refresher_add(r, &s, child, "tok", stitch_now() + 3600), 0);
        stitch_refresher_notify_ended(r, s.id, STITCH_END_REVOKE);
}

static void test_terminate_without_logind(void **state) {
        (void) state;
        /* STITCH_TEST_LOGIND_BUS (see setup) leads nowhere: no logind. */
        revoke_live_login(5);
        run_until(child_gone);
        assert_int_equal(reap_child(), SIGHUP);
        assert_int_equal(stitch_refresher_size(r), 0);
        /* The SIGTERM follow-up is pending; freeing the refresher drops it. */
        assert_int_equal(stitch_refresher_terminating(r), 1);
}

static void test_logout_does_not_terminate(void **state) {
        (void) state;
        struct stitch_session s = session_n(6);
        start_child();
        assert_int_equal(stitch_refresher_add(r, &s, child, "tok", stitch_now() + 3600), 0);
        stitch_refresher_forget(r, s.id, STITCH_END_LOGOUT);
        assert_int_equal(stitch_refresher_size(r), 0);
        assert_int_equal(stitch_refresher_terminating(r), 0);
        assert_int_equal(kill(child, 0), 0); /* alive */
        kill_child();
}

/* A private bus with a fake logind on the same loop. */
enum logind_mode { LOGIND_OK, LOGIND_REFUSE, LOGIND_SILENT };

static struct {
        pid_t daemon;
        char dir[64];
        char address[256];
        sd_bus *bus;
        enum logind_mode mode;
        unsigned by_pid_calls, terminate_calls;
        uint32_t asked_pid;
        char senders[4][64];
        sd_bus_message *held; /* LOGIND_SILENT: the call never answered */
} fake;

#define FAKE_SESSION_PATH "/org/freedesktop/login1/session/_31"

static int fake_get_session_by_pid(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error) {
        (void) userdata;
        uint32_t pid;
        int k = sd_bus_message_read(msg, "u", &pid);
        if (k < 0)
                return k;
        if (fake.by_pid_calls < 4)
                snprintf(fake.senders[fake.by_pid_calls], sizeof(fake.senders[0]), "%s",
                         sd_bus_message_get_sender(msg));
        fake.by_pid_calls++;
        fake.asked_pid = pid;
        switch (fake.mode) {
        case LOGIND_REFUSE:
                return sd_bus_error_setf(ret_error, "org.freedesktop.login1.NoSessionForPID",
                                         "PID %u does not belong to any known session", pid);
        case LOGIND_SILENT:
                fake.held = sd_bus_message_ref(msg);
                return 1;
        default:
                return sd_bus_reply_method_return(msg, "o", FAKE_SESSION_PATH);
        }
}

static int fake_terminate(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error) {
        (void) userdata;
        (void) ret_error;
        fake.terminate_calls++;
        /* What logind does: ends the session's processes. */
        if (child > 0 && (pid_t) fake.asked_pid == child)
                kill(child, SIGTERM);
        return sd_bus_reply_method_return(msg, "");
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("GetSessionByPID", "u", "o", fake_get_session_by_pid, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable session_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Terminate", "", "", fake_terminate, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static bool have_dbus_daemon(void) {
        return access("/usr/bin/dbus-daemon", X_OK) == 0;
}

/* dbus-daemon on a socket in a temp dir; its address from --print-address
 * (written once it listens: readiness, not a guess). */
static void start_bus(bool with_logind) {
        snprintf(fake.dir, sizeof(fake.dir), "/tmp/test-refresher.XXXXXX");
        assert_non_null(mkdtemp(fake.dir));
        char conf[128];
        snprintf(conf, sizeof(conf), "%s/bus.conf", fake.dir);
        FILE *f = fopen(conf, "we");
        assert_non_null(f);
        fprintf(f,
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                "<busconfig><type>session</type><listen>unix:path=%s/bus</listen><auth>EXTERNAL</auth>\n"
                "<policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>"
                "<allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n",
                fake.dir);
        fclose(f);
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        int out = dup(p[1]); /* the daemon's end, without O_CLOEXEC */
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        assert_true(out >= 0 && null >= 0);
        char fd_arg[32], conf_arg[160];
        snprintf(fd_arg, sizeof(fd_arg), "--print-address=%d", out);
        snprintf(conf_arg, sizeof(conf_arg), "--config-file=%s", conf);
        fake.daemon = fork();
        assert_true(fake.daemon >= 0);
        if (fake.daemon == 0) {
                dup2(null, STDERR_FILENO); /* its notes about fd limits */
                execl("/usr/bin/dbus-daemon", "dbus-daemon", conf_arg, "--nofork", "--nopidfile", fd_arg,
                      (char *) NULL);
                _exit(127);
        }
        close(out);
        close(null);
        close(p[1]);
        size_t n = 0;
        while (n < sizeof(fake.address) - 1) {
                ssize_t k = read(p[0], fake.address + n, sizeof(fake.address) - 1 - n);
                assert_true(k > 0);
                n += (size_t) k;
                if (memchr(fake.address, '\n', n))
                        break;
        }
        close(p[0]);
        fake.address[strcspn(fake.address, "\n")] = 0;
        assert_int_equal(setenv("STITCH_TEST_LOGIND_BUS", fake.address, 1), 0);

        if (!with_logind)
                return;
        assert_true(sd_bus_new(&fake.bus) >= 0);
        assert_true(sd_bus_set_address(fake.bus, fake.address) >= 0);
        assert_true(sd_bus_set_bus_client(fake.bus, true) >= 0);
        assert_true(sd_bus_start(fake.bus) >= 0);
        assert_true(sd_bus_request_name(fake.bus, "org.freedesktop.login1", 0) >= 0);
        assert_true(sd_bus_add_object_vtable(fake.bus, NULL, "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
                                             manager_vtable, NULL) >= 0);
        assert_true(sd_bus_add_object_vtable(fake.bus, NULL, FAKE_SESSION_PATH, "org.freedesktop.login1.Session",
                                             session_vtable, NULL) >= 0);
        assert_true(sd_bus_attach_event(fake.bus, m->event, SD_EVENT_PRIORITY_NORMAL) >= 0);
}

static void stop_bus(void) {
        fake.held = sd_bus_message_unref(fake.held);
        fake.bus = sd_bus_flush_close_unref(fake.bus);
        if (fake.daemon > 0) {
                kill(fake.daemon, SIGTERM);
                waitpid(fake.daemon, NULL, 0);
        }
        if (fake.dir[0]) {
                char path[128];
                snprintf(path, sizeof(path), "%s/bus.conf", fake.dir);
                unlink(path);
                snprintf(path, sizeof(path), "%s/bus", fake.dir);
                unlink(path);
                rmdir(fake.dir);
        }
        memset(&fake, 0, sizeof(fake));
}

static int teardown_bus(void **state) {
        kill_child();
        /* The refresher (and its bus connection) first, then the bus. */
        m->workers = stitch_workers_free(m->workers);
        r = stitch_refresher_free(r);
        stop_bus();
        return teardown(state);
}

static void test_terminate_through_logind(void **state) {
        (void) state;
        if (!have_dbus_daemon())
                skip();
        start_bus(true);

        revoke_live_login(7);
        run_until(child_gone_and_terminated);
        /* logind ended it (SIGTERM from the fake), not the SIGHUP fallback. */
        assert_int_equal(reap_child(), SIGTERM);
        assert_int_equal(fake.by_pid_calls, 1);
        assert_int_equal(fake.terminate_calls, 1);
        assert_int_equal(stitch_refresher_size(r), 0);

        /* A second login: the same connection is used again. */
        pid_t first = (pid_t) fake.asked_pid;
        revoke_live_login(8);
        run_until(child_gone_and_terminated);
        assert_int_equal(reap_child(), SIGTERM);
        assert_int_equal(fake.by_pid_calls, 2);
        assert_int_equal(fake.terminate_calls, 2);
        assert_true(first != (pid_t) fake.asked_pid);
        assert_string_equal(fake.senders[0], fake.senders[1]);
}

static void test_terminate_logind_refuses(void **state) {
        (void) state;
        if (!have_dbus_daemon())
                skip();
        start_bus(true);
        fake.mode = LOGIND_REFUSE;
        revoke_live_login(9);
        run_until(child_gone);
        assert_int_equal(reap_child(), SIGHUP);
        assert_int_equal(fake.by_pid_calls, 1);
        assert_int_equal(fake.terminate_calls, 0);
        assert_int_equal(stitch_refresher_terminating(r), 1); /* the SIGTERM follow-up */
}

static void test_terminate_logind_not_on_bus(void **state) {
        (void) state;
        if (!have_dbus_daemon())
                skip();
        start_bus(false); /* a bus, but nobody owns org.freedesktop.login1 */
        revoke_live_login(10);
        run_until(child_gone);
        assert_int_equal(reap_child(), SIGHUP);
}

static bool logind_asked(void) {
        return fake.by_pid_calls > 0;
}

static void test_stop_while_logind_is_asked(void **state) {
        (void) state;
        if (!have_dbus_daemon())
                skip();
        start_bus(true);
        fake.mode = LOGIND_SILENT;
        revoke_live_login(11);
        run_until(logind_asked);
        assert_int_equal(stitch_refresher_terminating(r), 1);
        assert_int_equal(kill(child, 0), 0); /* nobody has ended it yet */
        /* Stopping cancels the call and falls back to SIGHUP at once. */
        m->workers = stitch_workers_free(m->workers);
        r = stitch_refresher_free(r);
        assert_int_equal(reap_child(), SIGHUP);
}

static bool child_gone_by_logind(void) {
        return child_exited && fake.terminate_calls == 1;
}

static void test_bus_dies_then_reconnects(void **state) {
        (void) state;
        if (!have_dbus_daemon())
                skip();
        start_bus(true);
        fake.mode = LOGIND_SILENT;
        revoke_live_login(12);
        run_until(logind_asked);
        /* The bus goes away with the call unanswered: the signals instead. */
        stop_bus();
        run_until(child_gone);
        assert_int_equal(reap_child(), SIGHUP);
        /* A new bus with a logind on it: the next login is ended through it. */
        start_bus(true);
        revoke_live_login(13);
        run_until(child_gone_by_logind);
        assert_int_equal(reap_child(), SIGTERM);
        assert_int_equal(fake.by_pid_calls, 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_due),
                cmocka_unit_test(test_retry_backoff),
                cmocka_unit_test_setup_teardown(test_due_refresh_runs_at_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_retry_after_failure, setup, teardown),
                cmocka_unit_test_setup_teardown(test_waiter_and_inbox, setup, teardown),
                cmocka_unit_test_setup_teardown(test_terminate_without_logind, setup, teardown_bus),
                cmocka_unit_test_setup_teardown(test_logout_does_not_terminate, setup, teardown_bus),
                cmocka_unit_test_setup_teardown(test_terminate_through_logind, setup, teardown_bus),
                cmocka_unit_test_setup_teardown(test_terminate_logind_refuses, setup, teardown_bus),
                cmocka_unit_test_setup_teardown(test_terminate_logind_not_on_bus, setup, teardown_bus),
                cmocka_unit_test_setup_teardown(test_stop_while_logind_is_asked, setup, teardown_bus),
                cmocka_unit_test_setup_teardown(test_bus_dies_then_reconnects, setup, teardown_bus),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
