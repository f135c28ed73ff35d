/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "core/revocations.h"
#include "log.h"
#include "fnv.h"
#include "daemon/end-soon.h"
#include "daemon/refresher.h"
#include "core/sessions.h"
#include "clock.h"
#include "validate.h"

#define RETRY_MIN_USEC (1 * USEC_PER_SEC)
#define RETRY_MAX_USEC (60 * USEC_PER_SEC)
#define TERMINATE_GRACE_USEC (3 * USEC_PER_SEC)
#define LOGIND_CALL_TIMEOUT_USEC (2 * USEC_PER_SEC)
/* The whole logind exchange (connecting included): then the signals. */
#define LOGIND_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define N_BUCKETS 4096

struct waiter {
        stitch_refresher_token_cb cb;
        void *userdata;
        int64_t newer_than;
        struct waiter *next;
};

struct entry {
        struct stitch_refresher *refresher;
        struct entry *next_in_bucket;
        unsigned refs;
        bool gone;
        char id[STITCH_ID_LEN + 1];
        char user_id[STITCH_ID_LEN + 1];
        char device_id[STITCH_ID_LEN + 1];
        int64_t leader_pid;
        int pidfd;
        char *token; /* current access token (secret: wiped) */
        int64_t expires;
        bool refreshing;
        uint64_t retry_usec;
        sd_event_source *timer, *exit_watch;
        struct waiter *waiters;
        /* Ending the login (OnRevoke=terminate), after the entry left the
         * table: a logind call in flight, then the SIGTERM follow-up. The
         * termination holds a reference and keeps the pidfd open. */
        bool terminating;
        enum stitch_end_reason end_reason;
        sd_bus_slot *logind_call;
        char *logind_session; /* object path, once GetSessionByPID answered */
        sd_event_source *logind_timeout, *kill_timer;
        struct entry *prev_terminating, *next_terminating;
};

struct ended {
        char id[STITCH_ID_LEN + 1];
        enum stitch_end_reason reason;
        struct ended *next;
};

struct stitch_refresher {
        struct stitch_manager *manager;
        struct entry *buckets[N_BUCKETS];
        size_t n_entries;
        uint64_t refreshes;
        uint64_t late; /* refreshes that came after the token they replace had expired */
        /* Cross-thread inbox of ended sessions. */
        pthread_mutex_t lock;
        struct ended *inbox;
        int efd;
        sd_event_source *inbox_source;
        /* The system bus, for logind: opened when a login is first ended. */
        sd_bus *bus;
        struct entry *terminating; /* entries whose login is being ended */
};

static int pidfd_open_(pid_t pid) {
        return (int) syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_send_signal_(int pidfd, int sig) {
        return (int) syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static unsigned bucket_of(const char *id) {
        return stitch_fnv1a32_string(id) % N_BUCKETS;
}

static struct entry *lookup(struct stitch_refresher *r, const char *id) {
        for (struct entry *e = r->buckets[bucket_of(id)]; e; e = e->next_in_bucket)
                if (streq(e->id, id))
                        return e;
        return NULL;
}

static void entry_unref(struct entry *e) {
        if (!e || --e->refs > 0)
                return;
        if (e->token)
                erase_and_free(e->token);
        free(e);
}

static void complete_waiter(struct waiter *w, struct entry *e, const char *error) {
        if (error || !e->token)
                w->cb(e->id, NULL, 0, error ? error : "session has ended", w->userdata);
        else
                w->cb(e->id, e->token, e->expires, NULL, w->userdata);
        free(w);
}

/* Removes the entry from the table and stops everything it does. */
static void entry_remove(struct entry *e, const char *error) {
        struct stitch_refresher *r = e->refresher;
        if (e->gone)
                return;
        e->gone = true;
        struct entry **p = &r->buckets[bucket_of(e->id)];
        while (*p && *p != e)
                p = &(*p)->next_in_bucket;
        if (*p)
                *p = e->next_in_bucket;
        r->n_entries--;
        e->timer = sd_event_source_disable_unref(e->timer);
        e->exit_watch = sd_event_source_disable_unref(e->exit_watch);
        while (e->waiters) {
                struct waiter *w = e->waiters;
                e->waiters = w->next;
                complete_waiter(w, e, error ? error : "session has ended");
        }
        /* A termination keeps the pidfd until it is done (termination_end). */
        if (!e->terminating && e->pidfd >= 0) {
                close(e->pidfd);
                e->pidfd = -1;
        }
        entry_unref(e);
}

/* ---- ending a login (OnRevoke=terminate) ---------------------------------- */

static void termination_begin(struct entry *e, enum stitch_end_reason reason) {
        struct stitch_refresher *r = e->refresher;
        assert(!e->terminating);
        e->terminating = true;
        e->end_reason = reason;
        e->refs++;
        e->next_terminating = r->terminating;
        if (r->terminating)
                r->terminating->prev_terminating = e;
        r->terminating = e;
}

/* Drops everything the termination holds, the entry's reference last. */
static void termination_end(struct entry *e) {
        struct stitch_refresher *r = e->refresher;
        assert(e->terminating);
        if (e->prev_terminating)
                e->prev_terminating->next_terminating = e->next_terminating;
        else
                r->terminating = e->next_terminating;
        if (e->next_terminating)
                e->next_terminating->prev_terminating = e->prev_terminating;
        e->prev_terminating = e->next_terminating = NULL;
        e->terminating = false;
        e->logind_call = sd_bus_slot_unref(e->logind_call);
        e->logind_timeout = sd_event_source_disable_unref(e->logind_timeout);
        e->kill_timer = sd_event_source_disable_unref(e->kill_timer);
        free(e->logind_session);
        e->logind_session = NULL;
        if (e->pidfd >= 0) {
                close(e->pidfd);
                e->pidfd = -1;
        }
        entry_unref(e);
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct entry *e = userdata;
        if (e->pidfd >= 0 && pidfd_send_signal_(e->pidfd, SIGTERM) >= 0)
                log_notice("Sent SIGTERM to login process %lld of revoked session %s.", (long long) e->leader_pid, e->id);
        termination_end(e);
        return 0;
}

/* Without logind: SIGHUP now, SIGTERM after a grace period. Ends the
 * termination unless the SIGTERM is pending. */
static void terminate_by_signals(struct entry *e) {
        struct stitch_manager *m = e->refresher->manager;

        e->logind_call = sd_bus_slot_unref(e->logind_call);
        e->logind_timeout = sd_event_source_disable_unref(e->logind_timeout);
        if (e->pidfd < 0) {
                termination_end(e);
                return;
        }
        if (pidfd_send_signal_(e->pidfd, SIGHUP) < 0) {
                log_warning_errno(errno, "Cannot signal login process %lld of session %s: %m", (long long) e->leader_pid,
                                  e->id);
                termination_end(e);
                return;
        }
        log_notice("Sent SIGHUP to login process %lld of revoked session %s (%s); SIGTERM follows.",
                   (long long) e->leader_pid, e->id, stitch_end_reason_to_string(e->end_reason));
        if (sd_event_add_time_relative(m->event, &e->kill_timer, CLOCK_MONOTONIC, TERMINATE_GRACE_USEC, 0,
                                       on_kill_timer, e) < 0)
                termination_end(e);
}

/* Logind's answer is an error (or none came): the signals instead. */
static int logind_failed(struct entry *e, const char *what, const sd_bus_error *error) {
        log_debug("logind could not %s for session %s (%s), signalling the login process instead.", what, e->id,
                  error && error->name ? error->name : "no answer");
        terminate_by_signals(e);
        return 0;
}

static int on_logind_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        return logind_failed(userdata, "end the login in time", NULL);
}

static int on_terminate_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        struct entry *e = userdata;
        e->logind_call = sd_bus_slot_unref(e->logind_call);
        if (sd_bus_message_is_method_error(reply, NULL))
                return logind_failed(e, "terminate the login", sd_bus_message_get_error(reply));
        log_notice("Terminated logind session %s of revoked stitch session %s (%s).", e->logind_session, e->id,
                   stitch_end_reason_to_string(e->end_reason));
        termination_end(e);
        return 0;
}

static int on_session_by_pid_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        struct entry *e = userdata;
        const char *path = NULL;

        e->logind_call = sd_bus_slot_unref(e->logind_call);
        if (sd_bus_message_is_method_error(reply, NULL))
                return logind_failed(e, "find the login's session", sd_bus_message_get_error(reply));
        if (sd_bus_message_read(reply, "o", &path) < 0 || !(e->logind_session = strdup(path)))
                return logind_failed(e, "find the login's session", NULL);
        if (sd_bus_call_method_async(sd_bus_message_get_bus(reply), &e->logind_call, "org.freedesktop.login1",
                                     e->logind_session, "org.freedesktop.login1.Session", "Terminate",
                                     on_terminate_reply, e, "") < 0)
                return logind_failed(e, "terminate the login", NULL);
        return 0;
}

/* The connection to logind, opened when first needed and kept: the system
 * bus where logind runs, or STITCH_TEST_LOGIND_BUS (an sd-bus address) in
 * tests. Connecting does not block; authentication goes on in the loop. */
static int logind_bus(struct stitch_refresher *r, sd_bus **ret) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        const char *address = secure_getenv("STITCH_TEST_LOGIND_BUS");
        int k;

        if (r->bus && sd_bus_is_open(r->bus) <= 0)
                r->bus = sd_bus_close_unref(r->bus); /* disconnected: connect anew */
        if (r->bus) {
                *ret = r->bus;
                return 0;
        }
        if (address) {
                k = sd_bus_new(&bus);
                if (k >= 0)
                        k = sd_bus_set_address(bus, address);
                if (k >= 0)
                        k = sd_bus_set_bus_client(bus, true);
                if (k >= 0)
                        k = sd_bus_start(bus);
        } else if (access("/run/systemd/seats/", F_OK) < 0)
                return -ENOMEDIUM; /* logind does not run */
        else
                k = sd_bus_open_system(&bus);
        if (k >= 0)
                k = sd_bus_set_method_call_timeout(bus, LOGIND_CALL_TIMEOUT_USEC);
        if (k >= 0)
                k = sd_bus_attach_event(bus, r->manager->event, SD_EVENT_PRIORITY_NORMAL);
        if (k < 0)
                return log_debug_errno(k, "Cannot connect to logind: %m");
        *ret = r->bus = TAKE_PTR(bus);
        return 0;
}

/* Through logind where it runs (the session the leader belongs to), else
 * SIGHUP then SIGTERM. Asynchronous: the loop goes on while logind answers. */
static void terminate_login(struct entry *e, enum stitch_end_reason reason) {
        struct stitch_refresher *r = e->refresher;
        sd_bus *bus = NULL;

        if (e->pidfd < 0)
                return; /* no login process known: nothing to end */
        termination_begin(e, reason);
        if (logind_bus(r, &bus) < 0 ||
            sd_bus_call_method_async(bus, &e->logind_call, "org.freedesktop.login1", "/org/freedesktop/login1",
                                     "org.freedesktop.login1.Manager", "GetSessionByPID", on_session_by_pid_reply, e,
                                     "u", (uint32_t) e->leader_pid) < 0 ||
            sd_event_add_time_relative(r->manager->event, &e->logind_timeout, CLOCK_MONOTONIC, LOGIND_TIMEOUT_USEC,
                                       0, on_logind_timeout, e) < 0)
                terminate_by_signals(e);
}

/* Stopping: calls to logind in flight are cancelled and the login gets its
 * SIGHUP at once (it was revoked; nobody would end it otherwise); a pending
 * SIGTERM follow-up is dropped. */
static void terminations_cancel(struct stitch_refresher *r) {
        while (r->terminating) {
                struct entry *e = r->terminating;
                if (e->logind_call && e->pidfd >= 0 && pidfd_send_signal_(e->pidfd, SIGHUP) >= 0)
                        log_notice("Sent SIGHUP to login process %lld of revoked session %s (%s) as stitchd stops.",
                                   (long long) e->leader_pid, e->id, stitch_end_reason_to_string(e->end_reason));
                termination_end(e);
        }
        /* What is still queued (a Terminate call) goes out; no reply is awaited. */
        if (r->bus && sd_bus_is_ready(r->bus) > 0)
                r->bus = sd_bus_flush_close_unref(r->bus);
        else
                r->bus = sd_bus_close_unref(r->bus);
}

static void session_ended(struct stitch_refresher *r, const char *id, enum stitch_end_reason reason) {
        struct entry *e = lookup(r, id);
        if (!e)
                return;
        log_info("Open session %s ended (%s): no more refreshes.", id, stitch_end_reason_to_string(reason));
        bool terminate = r->manager->core->config.on_revoke == STITCH_ON_REVOKE_TERMINATE &&
                         stitch_end_reason_is_revocation(reason);
        e->refs++;
        if (terminate)
                terminate_login(e, reason); /* before removal: it keeps the pidfd */
        entry_remove(e, "session has ended");
        entry_unref(e);
}

void stitch_refresher_forget(struct stitch_refresher *r, const char *session_id, enum stitch_end_reason reason) {
        session_ended(r, session_id, reason);
}

static int on_inbox(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct stitch_refresher *r = userdata;
        uint64_t v;
        (void) !read(fd, &v, sizeof(v));
        pthread_mutex_lock(&r->lock);
        struct ended *list = r->inbox;
        r->inbox = NULL;
        pthread_mutex_unlock(&r->lock);
        while (list) {
                struct ended *next = list->next;
                session_ended(r, list->id, list->reason);
                free(list);
                list = next;
        }
        return 0;
}

void stitch_refresher_notify_ended(struct stitch_refresher *r, const char *session_id, enum stitch_end_reason reason) {
        if (!r || strlen(session_id) != STITCH_ID_LEN)
                return;
        struct ended *n = calloc(1, sizeof(*n));
        if (!n)
                return;
        memcpy(n->id, session_id, STITCH_ID_LEN + 1);
        n->reason = reason;
        pthread_mutex_lock(&r->lock);
        n->next = r->inbox;
        r->inbox = n;
        pthread_mutex_unlock(&r->lock);
        uint64_t one = 1;
        (void) !write(r->efd, &one, sizeof(one));
}

/* ---- refreshing ---------------------------------------------------------- */

uint64_t stitch_refresher_due_usec(bool have_token, int64_t expires, uint64_t margin_usec) {
        if (!have_token || expires <= 0 || (uint64_t) expires > UINT64_MAX / USEC_PER_SEC)
                return 0;
        uint64_t exp_usec = (uint64_t) expires * USEC_PER_SEC;
        return exp_usec > margin_usec ? exp_usec - margin_usec : 0;
}

uint64_t stitch_refresher_retry_usec(uint64_t previous_usec) {
        return previous_usec ? MIN(MIN(previous_usec, RETRY_MAX_USEC) * 2, RETRY_MAX_USEC) : RETRY_MIN_USEC;
}

static void schedule(struct entry *e, uint64_t when_realtime_usec);

struct job {
        struct entry *e;
        int result; /* 0 ok, -ESTALE session over, other transient */
        char *token;
        int64_t expires;
        enum stitch_end_reason reason;
};

static void refresh_work(void *userdata) {
        struct job *j = userdata;
        struct stitch_manager *m = j->e->refresher->manager;
        _cleanup_(stitch_session_freep) struct stitch_session *s = NULL;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        int64_t now = stitch_now();
        int r;

        r = m->core->store_ops->session_get(m->core->store, j->e->id, &s);
        if (r == -ENOENT || (r >= 0 && (s->revoked || stitch_revocations_contains(m->core->revocations, s->id)))) {
                j->result = -ESTALE;
                /* Ended elsewhere (its event may still be on its way): say why, if the store knows. */
                j->reason = r >= 0 ? stitch_end_reason_from_string(s->revoked_reason) : _STITCH_END_REASON_INVALID;
                if (j->reason < 0)
                        j->reason = STITCH_END_REVOKE;
                return;
        }
        if (r < 0) {
                j->result = r;
                return;
        }
        if (s->refresh_expires <= now) {
                j->result = -ESTALE;
                j->reason = STITCH_END_EXPIRED;
                (void) stitch_session_end(m->core, s, STITCH_END_EXPIRED);
                return;
        }
        r = m->core->store_ops->user_find(m->core->store, STITCH_USER_BY_ID, s->user_id, &u);
        if (r == -ENOENT || (r >= 0 && u->disabled)) {
                j->result = -ESTALE;
                j->reason = r == -ENOENT ? STITCH_END_DELETE : STITCH_END_DISABLE;
                (void) stitch_session_end(m->core, s, j->reason);
                return;
        }
        if (r < 0) {
                j->result = r;
                return;
        }
        /* No durable write per refresh: revocation does not depend on the
         * stored access_expires (see session_foreach_revoked), and after a
         * restart a session is simply refreshed once more. */
        r = stitch_access_token_issue(m->core, u, s->id, s->device_id, now, &j->token, &j->expires);
        j->result = r;
}

static void refresh_done(void *userdata) {
        struct job *j = userdata;
        struct entry *e = j->e;
        struct stitch_refresher *r = e->refresher;

        e->refreshing = false;
        if (e->gone)
                goto finish;
        if (j->result == -ESTALE) {
                session_ended(r, e->id, j->reason);
                goto finish;
        }
        if (j->result < 0) {
                e->retry_usec = stitch_refresher_retry_usec(e->retry_usec);
                log_warning_errno(j->result, "Refreshing session %s failed, retrying in %llus: %m", e->id,
                                  (unsigned long long) (e->retry_usec / USEC_PER_SEC));
                schedule(e, stitch_now_usec(CLOCK_REALTIME) + e->retry_usec);
                goto finish;
        }
        e->retry_usec = 0;
        if (e->token && e->expires <= stitch_now()) {
                r->late++;
                log_warning("Session %s was refreshed late: its token had expired.", e->id);
        }
        if (e->token)
                erase_and_free(e->token);
        e->token = TAKE_PTR(j->token);
        e->expires = j->expires;
        r->refreshes++;
        log_debug("Refreshed session %s; token valid until %lld.", e->id, (long long) e->expires);
        for (struct waiter **w = &e->waiters; *w;) {
                if (e->expires > (*w)->newer_than) {
                        struct waiter *done = *w;
                        *w = done->next;
                        complete_waiter(done, e, NULL);
                } else
                        w = &(*w)->next;
        }
        schedule(e, stitch_refresher_due_usec(true, e->expires, r->manager->core->config.refresh_margin_usec));
finish:
        if (j->token)
                erase_and_free(j->token);
        entry_unref(e);
        free(j);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct entry *e = userdata;
        struct stitch_manager *m = e->refresher->manager;

        if (e->refreshing || e->gone)
                return 0;
        struct job *j = calloc(1, sizeof(*j));
        if (!j) {
                schedule(e, stitch_now_usec(CLOCK_REALTIME) + RETRY_MIN_USEC);
                return 0;
        }
        j->e = e;
        e->refs++;
        e->refreshing = true;
        if (stitch_workers_submit(m->workers, refresh_work, refresh_done, j) < 0) {
                e->refreshing = false;
                entry_unref(e);
                free(j);
                schedule(e, stitch_now_usec(CLOCK_REALTIME) + RETRY_MIN_USEC);
        }
        return 0;
}

static void schedule(struct entry *e, uint64_t when) {
        struct stitch_manager *m = e->refresher->manager;
        uint64_t now = stitch_now_usec(CLOCK_REALTIME);
        if (when < now)
                when = now;
        if (!e->timer) {
                if (sd_event_add_time(m->event, &e->timer, CLOCK_REALTIME, when, USEC_PER_SEC / 10, on_timer, e) < 0)
                        log_error("Cannot schedule the refresh of session %s.", e->id);
                return;
        }
        (void) sd_event_source_set_time(e->timer, when);
        (void) sd_event_source_set_enabled(e->timer, SD_EVENT_ONESHOT);
}

static int on_leader_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct entry *e = userdata;
        struct stitch_manager *m = e->refresher->manager;
        struct stitch_session *se = NULL;

        log_info("Login process %lld of session %s exited without closing it: logging out.", (long long) e->leader_pid,
                 e->id);
        /* Ended in memory now, in the store on a worker. */
        if (m->core->store_ops->session_get(m->core->store, e->id, &se) >= 0)
                stitch_end_session_soon(m, se, STITCH_END_EXITED);
        e->refs++;
        entry_remove(e, "session has ended");
        entry_unref(e);
        return 0;
}

int stitch_refresher_add(struct stitch_refresher *r, const struct stitch_session *s, int64_t leader_pid,
                         const char *token, int64_t expires) {
        struct stitch_manager *m = r->manager;
        struct entry *e = lookup(r, s->id);
        int fd = -1;

        if (leader_pid > 0) {
                fd = pidfd_open_((pid_t) leader_pid);
                if (fd < 0)
                        return -errno;
        }
        if (e) {
                /* Re-opened (a second open_session): follow the new leader. */
                e->exit_watch = sd_event_source_disable_unref(e->exit_watch);
                if (e->pidfd >= 0)
                        close(e->pidfd);
        } else {
                e = calloc(1, sizeof(*e));
                if (!e) {
                        if (fd >= 0)
                                close(fd);
                        return -ENOMEM;
                }
                e->refresher = r;
                e->refs = 1;
                memcpy(e->id, s->id, sizeof(e->id));
                memcpy(e->user_id, s->user_id, sizeof(e->user_id));
                memcpy(e->device_id, s->device_id, sizeof(e->device_id));
                unsigned b = bucket_of(e->id);
                e->next_in_bucket = r->buckets[b];
                r->buckets[b] = e;
                r->n_entries++;
        }
        e->pidfd = fd;
        e->leader_pid = leader_pid;
        if (token) {
                if (e->token)
                        erase_and_free(e->token);
                e->token = strdup(token);
                e->expires = expires;
        } else if (!e->token)
                e->expires = expires;
        if (fd >= 0 && sd_event_add_io(m->event, &e->exit_watch, fd, EPOLLIN, on_leader_exit, e) < 0)
                log_warning("Cannot watch the login process of session %s.", e->id);
        schedule(e, stitch_refresher_due_usec(e->token != NULL, e->expires, m->core->config.refresh_margin_usec));
        return 0;
}

static int resume_cb(const struct stitch_session *s, void *userdata) {
        struct stitch_refresher *r = userdata;
        struct stitch_manager *m = r->manager;
        int k = stitch_refresher_add(r, s, s->leader_pid, NULL, s->access_expires);
        if (k == -ESRCH) {
                log_info("Login process %lld of session %s is gone (exited while stitchd was down): logging out.",
                         (long long) s->leader_pid, s->id);
                (void) stitch_session_end(m->core, s, STITCH_END_EXITED);
        } else if (k < 0)
                log_warning_errno(k, "Cannot resume session %s: %m", s->id);
        return 0;
}

int stitch_refresher_resume(struct stitch_refresher *r) {
        struct stitch_manager *m = r->manager;
        int k = m->core->store_ops->session_foreach_open(m->core->store, stitch_now(), resume_cb, r);
        if (k < 0)
                return log_error_errno(k, "Cannot resume open sessions: %m");
        if (r->n_entries > 0)
                log_info("Resumed %zu open sessions.", r->n_entries);
        return 0;
}

int stitch_refresher_get(struct stitch_refresher *r, const char *session_id, int64_t newer_than, bool wait,
                         char **ret_token, int64_t *ret_expires, stitch_refresher_token_cb cb, void *userdata) {
        struct entry *e = lookup(r, session_id);
        if (!e)
                return 0;
        if (e->token && e->expires > newer_than && e->expires > stitch_now()) {
                char *t = strdup(e->token);
                if (!t)
                        return -ENOMEM;
                *ret_token = t;
                *ret_expires = e->expires;
                return 1;
        }
        if (!wait || !e->token || !cb)
                return 0; /* mint one now */
        struct waiter *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->cb = cb;
        w->userdata = userdata;
        w->newer_than = newer_than;
        w->next = e->waiters;
        e->waiters = w;
        return 2;
}

size_t stitch_refresher_size(struct stitch_refresher *r) {
        return r->n_entries;
}

uint64_t stitch_refresher_refreshes(struct stitch_refresher *r) {
        return r->refreshes;
}

uint64_t stitch_refresher_late(struct stitch_refresher *r) {
        return r->late;
}

size_t stitch_refresher_terminating(struct stitch_refresher *r) {
        size_t n = 0;
        for (struct entry *e = r->terminating; e; e = e->next_terminating)
                n++;
        return n;
}

size_t stitch_refresher_lapsed(struct stitch_refresher *r) {
        int64_t now = stitch_now();
        size_t n = 0;
        for (size_t b = 0; b < N_BUCKETS; b++)
                for (struct entry *e = r->buckets[b]; e; e = e->next_in_bucket)
                        if (!e->token || e->expires <= now)
                                n++;
        return n;
}

static void on_session_ended_event(const struct stitch_event *ev, void *userdata) {
        stitch_refresher_notify_ended(userdata, ev->session_ended.session_id, ev->session_ended.reason);
}

int stitch_refresher_new(struct stitch_manager *m, struct stitch_refresher **ret) {
        struct stitch_refresher *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->manager = m;
        pthread_mutex_init(&r->lock, NULL);
        r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (r->efd < 0 || sd_event_add_io(m->event, &r->inbox_source, r->efd, EPOLLIN, on_inbox, r) < 0) {
                stitch_refresher_free(r);
                return -errno ? -errno : -EIO;
        }
        int k = stitch_events_subscribe(&m->core->events, STITCH_EVENT_SESSION_ENDED, on_session_ended_event, r);
        if (k < 0) {
                stitch_refresher_free(r);
                return k;
        }
        *ret = r;
        return 0;
}

struct stitch_refresher *stitch_refresher_free(struct stitch_refresher *r) {
        if (!r)
                return NULL;
        stitch_events_unsubscribe(&r->manager->core->events, on_session_ended_event, r);
        for (size_t b = 0; b < N_BUCKETS; b++)
                while (r->buckets[b]) {
                        struct entry *e = r->buckets[b];
                        entry_remove(e, "stitchd is shutting down");
                }
        terminations_cancel(r);
        struct ended *l = r->inbox;
        while (l) {
                struct ended *n = l->next;
                free(l);
                l = n;
        }
        sd_event_source_disable_unref(r->inbox_source);
        if (r->efd >= 0)
                close(r->efd);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
}
