/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <inttypes.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "clock.h"
#include "daemon/cpu-loops.h"
#include "frontends/varlink/call.h"
#include "core/conversations.h"
#include "core/groupcache.h"
#include "log.h"
#include "frontends/varlink/server.h"
#include "trusted-path.h"
#include "validate.h"
#include "wire.h"

/* Connections are accepted at a lower priority than the connections' own
 * events, and at most ACCEPT_BATCH per turn of the event loop: the hang-ups
 * of connections already accepted are handled before more come in, so a
 * client that connects and closes in a loop cannot fill every slot. */
#define ACCEPT_PRIORITY (SD_EVENT_PRIORITY_NORMAL + 10)
#define ACCEPT_BATCH 32U
/* Out of fds or memory, accepting pauses until a connection closes or this long. */
#define ACCEPT_RETRY_USEC (100 * USEC_PER_MSEC)
#define ACCEPT_LOG_INTERVAL_USEC (10 * USEC_PER_SEC)
#define REFUSE_LOG_INTERVAL_USEC USEC_PER_SEC

struct listener {
        struct stitch_server *server;
        const struct stitch_listener *def;
        int fd;
        char *path; /* bound by us: unlinked on exit */
        sd_event_source *source;
};

/* At most one message per interval; the rest are counted. */
struct log_ratelimit {
        uint64_t last_usec; /* 0 = nothing logged yet */
        unsigned suppressed;
};

/* Open connections to the auth socket per peer uid: open addressing with
 * linear probing, deletion by backward shift (no tombstones), so lookups
 * stay O(1) however often uids come and go. count == 0 marks a free slot. */
struct uid_count {
        uid_t uid;
        unsigned count;
};

struct uid_table {
        struct uid_count *slots;
        size_t n_slots; /* 0 or a power of two, at most half used */
        size_t n_used;
};

struct connection {
        struct stitch_server *server;
        struct connection *prev, *next;
        int fd;
        const struct stitch_listener *def; /* what it connected to */
        bool dead;          /* closed while a call was on a worker */
        bool busy;          /* a call is on a worker */
        bool close_after_write;
        bool eof;           /* the client shut down its sending side */
        bool counted;       /* in server->uids (auth socket) */
        bool fd_lent;       /* a worker or CPU pool thread may send on fd: closing waits for it */
        unsigned refs;
        uint64_t id;        /* owns the conversations asked on it (never 0) */
        /* Its last reply asked a question: it waits for a person, maybe for
         * minutes (the idle timeout is the conversation's then). */
        bool waiting;
        bool asked;         /* a conversation was ever asked on it */
        uint64_t waiting_share, waiting_since;
        uint64_t waiting_lifetime; /* the conversation's: the idle timeout while waiting */
        /* Idle timeout: the last activity, and when c->idle is set to fire
         * (0: not armed). Activity only moves last_active; the timer is set
         * again when it fires early, so a call costs no timer update. */
        uint64_t last_active, idle_at;
        struct ucred cred;
        struct stitch_wire_reader reader;
        char *out;
        size_t out_len, out_sent;
        uint32_t events;    /* registered in the server's connection epoll; 0: not registered */
        sd_event_source *idle;
};

struct stitch_server {
        struct stitch_manager *manager;
        struct listener listeners[STITCH_MAX_LISTENERS];
        size_t n_listeners;
        struct connection *connections;
        size_t n_connections;
        struct uid_table uids;
        /* Every connection's fd: the loop's top-level set (daemon/loop.h). */
        int conn_epoll;
        /* Set by what the current batch did to sd-event that it must see
         * before the loop sleeps again (stitch_loop_client.dispatch). */
        bool loop_changed;
        /* Ready connections in the batch being handled; 0 outside one. */
        size_t batch_ready;
        /* Borrow connections making STITCH_METHOD_CPU calls while others
         * wait; its fd is in conn_epoll with data.ptr = the server. */
        struct stitch_cpu_loops *cpu_loops;
        size_t batch_cpu_inline; /* CPU calls the loop ran itself in this batch */
        sd_event_source *accept_retry; /* re-enables the listeners after EMFILE and the like */
        bool accept_paused;            /* listeners off until a connection closes or accept_retry */
        bool accept_failing;           /* since the last accept that worked (logged once) */
        struct log_ratelimit accept_log, refuse_log, evict_log;
        uint64_t next_id;
        struct stitch_token_caches token_caches;
        /* The caches are emptied once a check finds no Verify since the one
         * before (CACHE_IDLE_USEC apart): only a counter per call. */
        sd_event_source *cache_idle;
        bool cache_idle_armed;
        uint64_t cache_calls, cache_calls_seen;
        bool stopping;
};

/* How long Token.Verify's caches may sit unused before they are emptied:
 * an idle daemon holds none of their ~4 MiB (docs/architecture.md, Memory). */
#define CACHE_IDLE_USEC (2 * USEC_PER_SEC)

static void connection_close(struct connection *c);
static void connection_process(struct connection *c);

static struct connection *connection_unref(struct connection *c) {
        if (!c || --c->refs > 0)
                return NULL;
        stitch_wire_reader_done(&c->reader);
        if (c->out) {
                explicit_bzero(c->out, c->out_len);
                free(c->out);
        }
        free(c);
        return NULL;
}

/* Connections are watched by the server's own epoll instance, itself one
 * sd-event source: one epoll_wait() hands over every ready connection, where
 * an sd-event source per connection costs an epoll_wait() (and sd-event's
 * bookkeeping) per ready connection. A connection that wants nothing is
 * removed from the set, as sd-event does, so hang-ups of a busy connection do
 * not spin. */
static void connection_update_events(struct connection *c) {
        if (c->dead)
                return;
        uint32_t events = 0;
        if (c->out_len > c->out_sent)
                events |= EPOLLOUT;
        else if (!c->busy && !c->close_after_write && !c->eof)
                events |= EPOLLIN;
        if (events == c->events)
                return;
        int fd = c->server->conn_epoll;
        struct epoll_event ev = {.events = events, .data.ptr = c};
        int r = events == 0   ? epoll_ctl(fd, EPOLL_CTL_DEL, c->fd, NULL)
                : c->events == 0 ? epoll_ctl(fd, EPOLL_CTL_ADD, c->fd, &ev)
                                 : epoll_ctl(fd, EPOLL_CTL_MOD, c->fd, &ev);
        if (r < 0) {
                log_warning_errno(errno, "Cannot watch the connection of pid %d, closing it: %m", (int) c->cred.pid);
                connection_close(c);
                return;
        }
        c->events = events;
}

/* The monotonic clock. Not sd_event_now(): between sd-event's turns
 * (daemon/loop.c) its cached time is as old as its last wake-up. */
static uint64_t monotonic_now(void) {
        return stitch_now_usec(CLOCK_MONOTONIC);
}

static uint64_t connection_idle_timeout(const struct connection *c) {
        uint64_t timeout = c->server->manager->core->config.idle_timeout_usec;
        /* Someone is typing a password: as long as the question lives (a
         * provider may keep its conversations longer than the default). */
        if (c->waiting)
                timeout = MAX(timeout, c->waiting_lifetime ? c->waiting_lifetime
                                                           : (uint64_t) STITCH_CONVERSATION_TIMEOUT_USEC);
        return timeout;
}

/* Sets the idle timer to fire at 'at'. */
static void connection_arm_idle(struct connection *c, uint64_t at) {
        if (sd_event_source_set_time(c->idle, at) < 0 || sd_event_source_set_enabled(c->idle, SD_EVENT_ONESHOT) < 0)
                return;
        /* Earlier than sd-event may have armed its timer for. */
        if (c->idle_at == 0 || at < c->idle_at)
                c->server->loop_changed = true;
        c->idle_at = at;
}

static void connection_touch(struct connection *c) {
        if (c->dead || !c->idle || c->server->manager->core->config.idle_timeout_usec == 0)
                return;
        c->last_active = monotonic_now();
        uint64_t at = c->last_active + connection_idle_timeout(c);
        /* Later than the timer: on_idle() sets it again when it fires.
         * Earlier (the question was answered): set now. */
        if (c->idle_at == 0 || at < c->idle_at)
                connection_arm_idle(c, at);
}

static int connection_flush(struct connection *c) {
        while (c->out_sent < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return -errno;
                }
                c->out_sent += (size_t) n;
        }
        explicit_bzero(c->out, c->out_len);
        c->out_len = c->out_sent = 0;
        return 0;
}

/* Queues len bytes of encoded messages (NULs included) and sends what the
 * socket takes. When nothing is pending the bytes go out directly and only a
 * rest the socket did not take is buffered. A client that lets more than
 * STITCH_MAX_OUTPUT pile up is dropped. */
static int connection_queue(struct connection *c, const char *buf, size_t len) {
        if (c->out_sent > 0 && c->out_sent == c->out_len) {
                explicit_bzero(c->out, c->out_len);
                c->out_len = c->out_sent = 0;
        }
        if (c->out_len == 0) {
                ssize_t n = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                        return -errno;
                if (n > 0) {
                        buf += n;
                        len -= (size_t) n;
                }
                if (len == 0)
                        return 0;
        }
        if (c->out_len - c->out_sent + len > (c->def->max_output ?: STITCH_MAX_OUTPUT))
                return -ENOBUFS;
        if (c->out_sent > 0) {
                memmove(c->out, c->out + c->out_sent, c->out_len - c->out_sent);
                explicit_bzero(c->out + c->out_len - c->out_sent, c->out_sent);
                c->out_len -= c->out_sent;
                c->out_sent = 0;
        }
        char *n = realloc(c->out, c->out_len + len);
        if (!n)
                return -ENOMEM;
        c->out = n;
        memcpy(c->out + c->out_len, buf, len);
        c->out_len += len;
        return connection_flush(c);
}

/* Encodes a message; one too large becomes an error reply. Any thread. */
static int message_encode(const cJSON *message, char **ret, size_t *ret_len) {
        int r = stitch_wire_encode(message, ret, ret_len);
        if (r == -EMSGSIZE) {
                cJSON *p = cJSON_CreateObject();
                cJSON_AddStringToObject(p, "message", "reply too large; use paging (after/limit)");
                cJSON *e = stitch_wire_error_new(STITCH_ERROR_INTERNAL, p);
                r = stitch_wire_encode(e, ret, ret_len);
                cJSON_Delete(e);
        }
        return r;
}

/* Encodes and queues a message. */
static int connection_send(struct connection *c, const cJSON *reply) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = message_encode(reply, &buf, &len);
        if (r < 0)
                return r;
        r = connection_queue(c, buf, len); /* len counts the NUL that ends the message */
        explicit_bzero(buf, len); /* replies carry tokens */
        return r;
}

static void connection_send_error(struct connection *c, const char *error, const char *message) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "message", message);
        cJSON *e = stitch_wire_error_new(error, p);
        if (e)
                (void) connection_send(c, e);
        cJSON_Delete(e);
}

static void varlink_call_complete(struct stitch_call *call);

static int varlink_call_send_continues(struct stitch_call *call, cJSON *message) {
        struct connection *c = call->frontend;
        int r = c->dead ? -ECONNRESET : connection_send(c, message);
        stitch_json_wipe_and_delete(message);
        return r;
}

static const struct stitch_call_ops varlink_call_ops = {
        .complete = varlink_call_complete,
        .send_continues = varlink_call_send_continues,
};

/* A method another of our sockets serves: refused by name, not "not found". */
static bool find_method_elsewhere(const char *name) {
        for (size_t i = 0; i < stitch_n_listeners; i++)
                if (stitch_listener_find_method(stitch_listeners[i], name))
                        return true;
        return false;
}

static void call_free(struct stitch_call *call) {
        if (!call)
                return;
        stitch_json_wipe_and_delete(call->root);
        stitch_json_wipe_and_delete(call->reply);
        if (call->encoded) {
                explicit_bzero(call->encoded, call->encoded_len);
                free(call->encoded);
        }
        free(call);
}

/* A call off the loop: on a worker, or with its connection lent to a CPU
 * loop (daemon/cpu-loops.h). */
struct pending {
        struct connection *conn;
        struct stitch_call *call; /* NULL: none left for the loop to finish */
        const struct stitch_method *method;
        /* The connection's socket. Lent, the borrowing thread reads and
         * answers calls on it itself; on a worker, the worker sends the
         * call's reply (-1: the loop sends it, after output queued
         * before). The connection is busy meanwhile, so the loop neither
         * reads nor sends on it, and a close keeps the fd open until it
         * comes back (c->fd_lent). */
        int fd;
        struct stitch_lease lease;
        int fill;            /* the borrower's last read: > 0, or 0 (EOF), or -errno */
        const char *next;    /* a call that is not the borrower's: the loop's next (in c->reader) */
        size_t next_len;
        uint64_t last_active;
};

static void call_run(struct stitch_call *call, const struct stitch_method *method) {
        int r = method->handler(call);
        if (call->deferred && r >= 0)
                return;
        call->deferred = false;
        if (r < 0 || !call->reply)
                stitch_call_errno(call, r < 0 ? r : -EIO, call->method);
}

static void call_finish(struct connection *c, struct stitch_call *call) {
        if (c->dead)
                return;
        if (!call->oneway && call->reply) {
                int r = !call->encoded                         ? connection_send(c, call->reply)
                        : call->encoded_sent < call->encoded_len ? connection_queue(c, call->encoded + call->encoded_sent,
                                                                                   call->encoded_len - call->encoded_sent)
                                                               : 0;
                if (r < 0) {
                        log_debug_errno(r, "Dropping connection of pid %d: %m", (int) c->cred.pid);
                        connection_close(c);
                        return;
                }
        }
}

/* What a call leaves on its connection once it has run, wherever it ran:
 * the question it asked (the connection now waits for a person), its
 * after-callback, its reply. Frees the call. */
static void call_done(struct connection *c, struct stitch_call *call) {
        if (call->asked) {
                c->asked = true;
                if (c->dead) /* closed while the question was made: nobody can answer it */
                        (void) stitch_conversations_drop_owner(c->server->manager->core->conversations, c->id);
                else {
                        c->waiting = true;
                        c->waiting_share = call->asked_share;
                        c->waiting_since = monotonic_now();
                        c->waiting_lifetime = MIN(call->asked_lifetime_usec,
                                                  (uint64_t) STITCH_CONVERSATION_LIFETIME_MAX_USEC);
                }
        }
        if (call->after)
                call->after(call, call->after_data);
        call_finish(c, call);
        call_free(call);
}

/* On a worker or a CPU loop: the call, and its reply's encoding (unless
 * an after hook may still change what is sent); lent, the reply is sent too. */
static void pending_work(void *userdata) {
        struct pending *p = userdata;
        struct stitch_call *call = p->call;
        call_run(call, p->method);
        if (!call->oneway && call->reply && !call->after && message_encode(call->reply, &call->encoded, &call->encoded_len) < 0)
                call->encoded = NULL; /* encoded on the loop then */
        if (call->encoded && p->fd >= 0) {
                ssize_t n = send(p->fd, call->encoded, call->encoded_len, MSG_DONTWAIT | MSG_NOSIGNAL);
                /* A rest, or an error, is the loop's (it sends or closes). */
                call->encoded_sent = n > 0 ? (size_t) n : 0;
        }
}

static void pending_done(void *userdata) {
        struct pending *p = userdata;
        struct connection *c = p->conn;

        c->busy = false;
        c->fd_lent = false;
        if (c->dead && c->fd >= 0) { /* closed meanwhile: the worker is done with the number */
                close(c->fd);
                c->fd = -EBADF;
        }
        call_done(c, p->call);
        free(p);
        if (!c->dead) {
                connection_touch(c);
                connection_update_events(c);
                connection_process(c); /* messages that arrived meanwhile */
        }
        connection_unref(c);
}

/* Runs the call on a worker; the connection waits for it. The worker
 * sends the reply itself (the client need not wait for the loop to wake
 * up as well) when nothing else is queued on the connection (replies
 * stay in order): the loop does not watch it while it is busy, and
 * closing it waits for the worker (c->fd_lent). < 0 if it could not be
 * handed over (the caller still owns the call). */
static int call_hand_over(struct connection *c, struct stitch_call *call, const struct stitch_method *method) {
        struct pending *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        bool worker_sends = c->out_len == c->out_sent;
        *p = (struct pending) {.conn = c, .call = call, .method = method, .fd = worker_sends ? c->fd : -1};
        struct stitch_workers *pool = c->server->manager->workers;
        if (method->on_network && method->on_network(call))
                pool = stitch_manager_network_workers(c->server->manager);
        int r = pool ? stitch_workers_submit(pool, pending_work, pending_done, p) : -EBUSY;
        if (r < 0) {
                free(p);
                return r;
        }
        c->refs++;
        c->busy = true;
        c->fd_lent = worker_sends;
        connection_update_events(c);
        return 0;
}

static struct stitch_call *call_new(struct connection *c, cJSON *root, cJSON *params, const char *method_name);
static void connection_dispatch(struct connection *c, const char *msg, size_t len);

static struct pending *lease_pending(struct stitch_lease *l) {
        return (struct pending *) ((char *) l - offsetof(struct pending, lease));
}

/* On the borrowing thread: runs p->call and answers it. True when done
 * with it (freed); false leaves it to the loop (a reply the socket did not
 * take whole, a question asked, an after hook). */
static bool lease_call(struct pending *p) {
        pending_work(p);
        struct stitch_call *call = p->call;
        if (call->asked || call->after || (!call->oneway && call->reply &&
                                           (!call->encoded || call->encoded_sent < call->encoded_len)))
                return false;
        call_free(call);
        p->call = NULL;
        return true;
}

/* On the borrowing thread: a buffered message, as a call of the method the
 * connection was lent for; NULL for anything else (the loop takes it). */
static struct stitch_call *lease_parse(struct pending *p, const char *msg, size_t len) {
        struct connection *c = p->conn;
        cJSON *root = NULL, *params = NULL;
        const char *name = NULL;

        if (stitch_wire_parse_call(msg, len, &root, &name, &params) < 0)
                return NULL;
        if (stitch_listener_find_method(c->def, name) != p->method) {
                stitch_json_wipe_and_delete(root);
                return NULL;
        }
        struct stitch_call *call = call_new(c, root, params, name);
        if (!call)
                stitch_json_wipe_and_delete(root);
        return call;
}

/* The borrowing thread's turn (daemon/cpu-loops.h): the call the lease was
 * made for, then whatever the connection sends while it is lent. */
static bool lease_run(struct stitch_lease *l, uint32_t revents) {
        struct pending *p = lease_pending(l);
        struct connection *c = p->conn;

        if (revents == 0) {
                if (!lease_call(p))
                        return false;
        } else {
                int r = stitch_wire_reader_fill(&c->reader, p->fd);
                if (r != -EAGAIN)
                        p->fill = r;
                /* The loop answers an oversized message and closes, as it would have. */
                if (r < 0 && r != -EAGAIN)
                        return false;
        }
        for (;;) {
                const char *msg;
                size_t len;
                if (stitch_wire_reader_next(&c->reader, &msg, &len) <= 0)
                        break;
                p->last_active = monotonic_now();
                p->call = lease_parse(p, msg, len);
                if (!p->call) {
                        p->next = msg;
                        p->next_len = len;
                        return false;
                }
                if (!lease_call(p))
                        return false;
        }
        return p->fill > 0; /* at EOF the loop answers the rest and closes */
}

/* On the loop: a lent connection is back. */
static void lease_returned(struct stitch_lease *l) {
        struct pending *p = lease_pending(l);
        struct connection *c = p->conn;

        c->busy = false;
        c->fd_lent = false;
        if (c->dead && c->fd >= 0) { /* closed meanwhile */
                close(c->fd);
                c->fd = -EBADF;
        }
        c->last_active = MAX(c->last_active, p->last_active);
        if (p->call)
                call_done(c, p->call);
        if (!c->dead) {
                if (p->fill == 0)
                        c->eof = true; /* answer what was sent, then close */
                else if (p->fill == -EMSGSIZE) {
                        connection_send_error(c, STITCH_ERROR_INVALID_PARAMETER, "message larger than 64 KiB");
                        c->close_after_write = true;
                } else if (p->fill < 0)
                        connection_close(c);
        }
        /* Only ever with every earlier reply sent whole. */
        if (!c->dead && p->next)
                connection_dispatch(c, p->next, p->next_len);
        free(p);
        if (!c->dead) {
                connection_update_events(c);
                connection_process(c);
        }
        connection_unref(c);
}

/* Lends the connection to a CPU loop, which runs this call and the same
 * method's next ones. < 0 if it could not (the caller still owns the call). */
static int call_lend(struct connection *c, struct stitch_call *call, const struct stitch_method *method) {
        struct pending *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        *p = (struct pending) {
                .conn = c,
                .call = call,
                .method = method,
                .fd = c->fd,
                .lease = {.fd = c->fd, .run = lease_run, .returned = lease_returned},
                .fill = 1,
                .last_active = c->last_active,
        };
        /* Out of the loop's set before another thread reads it. */
        c->busy = true;
        connection_update_events(c);
        if (c->dead) { /* could not be changed: closed, nobody to answer */
                call_free(call);
                free(p);
                return 0;
        }
        int r = stitch_cpu_loops_lend(c->server->cpu_loops, &p->lease);
        if (r < 0) {
                c->busy = false;
                connection_update_events(c);
                free(p);
                return r;
        }
        c->refs++;
        c->fd_lent = true;
        return 0;
}

/* A CPU-bound call goes to a CPU loop when others wait (more connections
 * ready in this batch, or connections lent already): a lone caller is
 * answered inline, without a thread of its own. The loop is one of the
 * CPUs and keeps its share of the callers: it lends while the CPU loops
 * hold fewer than their share of the CPU callers it sees in a batch. */
static bool cpu_lend_wanted(struct stitch_server *s, const struct connection *c) {
        if (!s->cpu_loops || c->def->admin)
                return false;
        size_t lent = stitch_cpu_loops_lent(s->cpu_loops);
        if (s->batch_ready > 1 || lent > 0) {
                if (lent < stitch_cpu_loops_threads(s->cpu_loops) * (s->batch_cpu_inline + 1))
                        return true;
        }
        if (s->batch_ready > 0)
                s->batch_cpu_inline++;
        return false;
}

/* A call parsed from c (root taken over on success). Any thread: reads
 * only what does not change while c is open. */
static struct stitch_call *call_new(struct connection *c, cJSON *root, cJSON *params, const char *method_name) {
        struct stitch_call *call = calloc(1, sizeof(*call));
        if (!call)
                return NULL;
        call->manager = c->server->manager;
        call->token_caches = &c->server->token_caches;
        call->root = root;
        call->params = params;
        call->method = method_name;
        call->cred = c->cred;
        call->listener = c->def;
        call->ops = &varlink_call_ops;
        call->frontend = c;
        call->conversation_owner = c->id;
        call->oneway = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "oneway"));
        call->more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "more"));
        return call;
}

static int on_cache_idle(sd_event_source *source, uint64_t usec, void *userdata) {
        struct stitch_server *s = userdata;
        if (s->cache_calls != s->cache_calls_seen) {
                /* Used since the last look: look again later. */
                s->cache_calls_seen = s->cache_calls;
                (void) sd_event_source_set_time(source, usec + CACHE_IDLE_USEC);
                (void) sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
                return 0;
        }
        stitch_token_caches_clear(&s->token_caches);
        stitch_core_drop_caches(s->manager->core);
        s->cache_idle_armed = false;
        (void) malloc_trim(0);
        log_debug("Token caches emptied: no call for %u s.", (unsigned) (CACHE_IDLE_USEC / USEC_PER_SEC));
        return 0;
}

/* Counts a use of the token caches, and makes sure they are looked at. */
static void cache_touch(struct stitch_server *s) {
        s->cache_calls++;
        if (s->cache_idle_armed || s->stopping)
                return;
        uint64_t at = monotonic_now() + CACHE_IDLE_USEC;
        int r = s->cache_idle ? sd_event_source_set_time(s->cache_idle, at)
                              : sd_event_add_time(s->manager->event, &s->cache_idle, CLOCK_MONOTONIC, at,
                                                  USEC_PER_SEC / 10, on_cache_idle, s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->cache_idle, SD_EVENT_ONESHOT);
        if (r < 0)
                return; /* the caches stay bounded; they just are not emptied */
        s->cache_calls_seen = s->cache_calls;
        s->cache_idle_armed = true;
        s->loop_changed = true;
}

static void connection_dispatch(struct connection *c, const char *msg, size_t len) {
        struct stitch_manager *m = c->server->manager;
        cJSON *root = NULL, *params = NULL;
        const char *method_name = NULL;
        const char *raw;
        size_t raw_len;
        int r;

        /* A token verified before: answered from Verify's cache, no JSON. */
        if (c->def->verify_fast)
                cache_touch(c->server);
        if (c->def->verify_fast && stitch_verify_fast(&c->server->token_caches, m, msg, len, &raw, &raw_len) > 0) {
                r = connection_queue(c, raw, raw_len);
                if (r < 0) {
                        log_debug_errno(r, "Dropping connection of pid %d: %m", (int) c->cred.pid);
                        connection_close(c);
                }
                return;
        }

        r = stitch_wire_parse_call(msg, len, &root, &method_name, &params);
        if (r < 0) {
                connection_send_error(c, STITCH_ERROR_INVALID_PARAMETER, "malformed call");
                c->close_after_write = true;
                return;
        }

        struct stitch_call *call = call_new(c, root, params, method_name);
        if (!call) {
                stitch_json_wipe_and_delete(root);
                connection_send_error(c, STITCH_ERROR_BUSY, "out of memory");
                return;
        }
        c->waiting = false; /* answered (or moved on) */

        const struct stitch_method *method = stitch_listener_find_method(c->def, method_name);
        /* A handler may add or move sd-event's sources (a deferred call, a
         * timer): the loop lets sd-event see them before it sleeps. Not a
         * STITCH_METHOD_CPU one: it runs on any thread, so it cannot. */
        if (!method || !(method->flags & STITCH_METHOD_CPU))
                c->server->loop_changed = true;
        if (!method && find_method_elsewhere(method_name)) {
                stitch_call_error(call, STITCH_ERROR_PERMISSION_DENIED, "%s is not available on this socket",
                                  method_name);
        } else if (!method) {
                cJSON *p = cJSON_CreateObject();
                cJSON_AddStringToObject(p, "method", method_name);
                call->reply = stitch_wire_error_new(VARLINK_ERROR_METHOD_NOT_FOUND, p);
        } else if (c->def->admin && !stitch_groupcache_contains(m->core->admin_groups, c->cred.uid, c->cred.gid)) {
                log_notice("Refused admin call %s from uid %u (pid %d).", method_name, (unsigned) c->cred.uid,
                           (int) c->cred.pid);
                stitch_call_error(call, STITCH_ERROR_PERMISSION_DENIED, "only root%s%s may use the admin socket",
                                  m->core->config.admin_group ? " and members of " : "",
                                  m->core->config.admin_group ? m->core->config.admin_group : "");
        } else if (((method->flags & STITCH_METHOD_SLOW) && !(method->runs_inline && method->runs_inline(call))) ||
                   ((method->flags & STITCH_METHOD_SLOW_WHEN_ROTATING) && m->core->config.rotate_refresh_tokens) ||
                   ((method->flags & STITCH_METHOD_SLOW_ON_REMOTE_STORE) && m->core->store_ops->remote)) {
                if (call_hand_over(c, call, method) >= 0)
                        return;
                stitch_call_error(call, STITCH_ERROR_BUSY, "the daemon is busy, try again");
        } else if ((method->flags & STITCH_METHOD_CPU) && cpu_lend_wanted(c->server, c) &&
                   call_lend(c, call, method) >= 0) {
                return;
        } else {
                call_run(call, method);
                if (call->deferred) {
                        /* The handler completes it later (stitch_call_complete). */
                        c->refs++;
                        c->busy = true;
                        connection_update_events(c);
                        return;
                }
        }

        call_done(c, call);
}

/* A deferred call's reply is ready (stitch_call_complete). */
static void varlink_call_complete(struct stitch_call *call) {
        struct connection *c = call->frontend;

        c->busy = false;
        call_done(c, call);
        if (!c->dead) {
                connection_touch(c);
                connection_update_events(c);
                connection_process(c);
        }
        connection_unref(c);
}

/* Handles every complete buffered message, one at a time, stopping while a
 * call is on a worker or output is pending (replies stay in order). */
static void connection_process(struct connection *c) {
        while (!c->dead && !c->busy && !c->close_after_write && c->out_len == c->out_sent) {
                const char *msg;
                size_t len;
                int r = stitch_wire_reader_next(&c->reader, &msg, &len);
                if (r <= 0)
                        break;
                connection_dispatch(c, msg, len);
        }
        if (c->dead)
                return;
        if ((c->close_after_write || c->eof) && !c->busy && c->out_len == c->out_sent) {
                connection_close(c);
                return;
        }
        connection_update_events(c);
}

static void connection_io(struct connection *c, uint32_t revents) {
        int r;

        c->refs++;
        if (revents & EPOLLOUT) {
                r = connection_flush(c);
                if (r < 0) {
                        connection_close(c);
                        goto finish;
                }
                connection_touch(c);
        }
        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                if (c->busy || c->out_len > c->out_sent) {
                        if (revents & (EPOLLHUP | EPOLLERR))
                                connection_close(c);
                        goto finish;
                }
                r = stitch_wire_reader_fill(&c->reader, c->fd);
                if (r == 0)
                        c->eof = true; /* answer what was sent, then close */
                else if (r < 0 && r != -EAGAIN && r != -EMSGSIZE) {
                        connection_close(c);
                        goto finish;
                }
                if (r == -EMSGSIZE) {
                        connection_send_error(c, STITCH_ERROR_INVALID_PARAMETER, "message larger than 64 KiB");
                        c->close_after_write = true;
                }
                connection_touch(c);
        }
        connection_process(c);
finish:
        connection_unref(c);
}

/* The ready connections of one turn of the loop (daemon/loop.c). */
static bool on_connections(void *userdata, struct epoll_event *ev, size_t n) {
        struct stitch_server *s = userdata;

        bool returned = false;
        size_t k = 0;

        s->loop_changed = false;
        /* Connections the CPU loops gave back: first. */
        for (size_t i = 0; i < n; i++) {
                if (ev[i].data.ptr == s)
                        returned = true;
                else
                        ev[k++] = ev[i];
        }
        n = k;
        if (returned)
                stitch_cpu_loops_run_returned(s->cpu_loops);
        s->batch_ready = n;
        s->batch_cpu_inline = 0;
        /* Handling one may close another: hold them all first. */
        for (size_t i = 0; i < n; i++)
                ((struct connection *) ev[i].data.ptr)->refs++;
        for (size_t i = 0; i < n; i++) {
                struct connection *c = ev[i].data.ptr;
                /* Skip what went away or stopped listening earlier in this batch. */
                if (!c->dead && c->events != 0)
                        connection_io(c, ev[i].events);
        }
        for (size_t i = 0; i < n; i++)
                connection_unref(ev[i].data.ptr);
        s->batch_ready = 0;
        return s->loop_changed;
}

void stitch_server_loop_client(struct stitch_server *s, struct stitch_loop_client *ret) {
        *ret = (struct stitch_loop_client) {
                .epoll_fd = s->conn_epoll,
                .dispatch = on_connections,
                .userdata = s,
        };
}

static int on_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        struct connection *c = userdata;
        c->idle_at = 0;
        if (c->busy) {
                connection_touch(c);
                return 0;
        }
        /* Active since the timer was set: wait for the rest. */
        uint64_t at = c->last_active + connection_idle_timeout(c);
        if (at > monotonic_now()) {
                connection_arm_idle(c, at);
                return 0;
        }
        log_debug("Closing idle connection of pid %d.", (int) c->cred.pid);
        connection_close(c);
        return 0;
}

static size_t uid_slot(uid_t uid, size_t n_slots) {
        /* Fibonacci hashing: consecutive uids spread over the table. */
        return (size_t) (((uint64_t) uid * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (n_slots - 1);
}

/* The slot holding uid, or the free slot where it would go. Needs n_slots > 0. */
static size_t uid_table_probe(const struct uid_table *t, uid_t uid) {
        size_t i = uid_slot(uid, t->n_slots);
        while (t->slots[i].count > 0 && t->slots[i].uid != uid)
                i = (i + 1) & (t->n_slots - 1);
        return i;
}

static unsigned uid_table_get(const struct uid_table *t, uid_t uid) {
        return t->n_slots > 0 ? t->slots[uid_table_probe(t, uid)].count : 0;
}

static int uid_table_grow(struct uid_table *t) {
        size_t n = t->n_slots > 0 ? t->n_slots * 2 : 16;
        struct uid_count *old = t->slots;
        size_t n_old = t->n_slots;

        t->slots = calloc(n, sizeof(struct uid_count));
        if (!t->slots) {
                t->slots = old;
                return -ENOMEM;
        }
        t->n_slots = n;
        for (size_t i = 0; i < n_old; i++)
                if (old[i].count > 0)
                        t->slots[uid_table_probe(t, old[i].uid)] = old[i];
        free(old);
        return 0;
}

static int uid_table_increment(struct uid_table *t, uid_t uid) {
        if ((t->n_used + 1) * 2 > t->n_slots) {
                int r = uid_table_grow(t);
                if (r < 0)
                        return r;
        }
        struct uid_count *e = &t->slots[uid_table_probe(t, uid)];
        if (e->count == 0) {
                e->uid = uid;
                t->n_used++;
        }
        e->count++;
        return 0;
}

/* True if slot h lies on the cyclic stretch (from, to]. */
static bool slot_between(size_t from, size_t h, size_t to) {
        return from <= to ? from < h && h <= to : from < h || h <= to;
}

static void uid_table_decrement(struct uid_table *t, uid_t uid) {
        if (t->n_slots == 0)
                return;
        size_t hole = uid_table_probe(t, uid);
        if (t->slots[hole].count == 0 || --t->slots[hole].count > 0)
                return;
        /* Close the hole: pull back every later entry of the probe run that
         * may live there, so that no lookup stops early at a free slot. */
        size_t mask = t->n_slots - 1;
        for (size_t j = (hole + 1) & mask; t->slots[j].count > 0; j = (j + 1) & mask)
                if (!slot_between(hole, uid_slot(t->slots[j].uid, t->n_slots), j)) {
                        t->slots[hole] = t->slots[j];
                        hole = j;
                }
        t->slots[hole] = (struct uid_count) {};
        t->n_used--;
}

/* True if a message may be logged now; then *ret_suppressed is how many
 * were not since the last one that was. */
static bool log_ratelimit_test(struct log_ratelimit *rl, uint64_t interval, unsigned *ret_suppressed) {
        uint64_t now = monotonic_now();

        if (rl->last_usec != 0 && now < rl->last_usec + interval) {
                rl->suppressed++;
                return false;
        }
        rl->last_usec = now > 0 ? now : 1;
        *ret_suppressed = rl->suppressed;
        rl->suppressed = 0;
        return true;
}

static void listeners_enable(struct stitch_server *s, int enabled) {
        for (size_t i = 0; i < s->n_listeners; i++)
                (void) sd_event_source_set_enabled(s->listeners[i].source, enabled);
}

/* accept() failed with the connection still queued (EMFILE, ENFILE, ENOBUFS,
 * ENOMEM...): the listening socket stays readable, so watching it would spin.
 * Stop until one of our connections closes (frees an fd) or a short timer. */
static void accept_pause(struct stitch_server *s, int error) {
        unsigned suppressed;
        uint64_t now;

        if (!s->accept_failing) {
                s->accept_failing = true;
                if (log_ratelimit_test(&s->accept_log, ACCEPT_LOG_INTERVAL_USEC, &suppressed)) {
                        char more[64] = "";
                        if (suppressed > 0)
                                (void) snprintf(more, sizeof(more), " (%u more times since the last message)",
                                                suppressed);
                        log_warning_errno(error,
                                          "Cannot accept connections: %m%s. Pausing until a connection closes, "
                                          "%" PRIu64 " ms at most; %zu connections open.",
                                          more, ACCEPT_RETRY_USEC / USEC_PER_MSEC, s->n_connections);
                }
        }
        now = monotonic_now();
        if (!s->accept_retry || sd_event_source_set_time(s->accept_retry, now + ACCEPT_RETRY_USEC) < 0 ||
            sd_event_source_set_enabled(s->accept_retry, SD_EVENT_ONESHOT) < 0)
                return; /* no way to come back: spinning beats going deaf */
        listeners_enable(s, SD_EVENT_OFF);
        s->accept_paused = true;
}

static void accept_resume(struct stitch_server *s) {
        if (!s->accept_paused || s->stopping)
                return;
        s->accept_paused = false;
        s->loop_changed = true;
        (void) sd_event_source_set_enabled(s->accept_retry, SD_EVENT_OFF);
        listeners_enable(s, SD_EVENT_ON);
}

static int on_accept_retry(sd_event_source *source, uint64_t usec, void *userdata) {
        accept_resume(userdata);
        return 0;
}

/* Answers a connection over a limit with Busy (as one message, no reading)
 * and logs it, once a second at most: a flood must not flood the log too. */
static void refuse_connection(struct stitch_server *s, int fd, const struct ucred *cred, const char *limit,
                              unsigned value) {
        static const char busy[] =
                "{\"error\":\"io.stitch.Error.Busy\",\"parameters\":{\"message\":\"too many connections\"}}";
        unsigned suppressed;
        char more[64] = "";

        (void) send(fd, busy, sizeof(busy), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (!log_ratelimit_test(&s->refuse_log, REFUSE_LOG_INTERVAL_USEC, &suppressed))
                return;
        if (suppressed > 0)
                (void) snprintf(more, sizeof(more), " (%u more refused since the last message)", suppressed);
        log_warning("Refusing connection from uid %u (pid %d): %s=%u reached%s.", (unsigned) cred->uid,
                    (int) cred->pid, limit, value, more);
}

/* True if the peer connected and closed again before we got to it without
 * a complete message: nothing can be answered and an unfinished message can
 * never be completed. Dropping those here costs two system calls instead of
 * a turn through the event loop each, so that a client connecting and
 * closing in a loop cannot keep the listen queue full. A complete message
 * (a oneway call, say) takes the normal path. */
static bool peer_gone(int fd) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char buf[4096];

        if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLHUP))
                return false;
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
        return n == 0 || (n > 0 && (size_t) n < sizeof(buf) && !memchr(buf, 0, (size_t) n));
}

static void connection_close(struct connection *c) {
        if (c->dead)
                return;
        c->dead = true;
        struct stitch_server *s = c->server;
        if (c->prev)
                c->prev->next = c->next;
        else
                s->connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_connections--;
        s->manager->connections = s->n_connections;
        if (c->counted)
                uid_table_decrement(&s->uids, c->cred.uid);
        c->counted = false;
        accept_resume(s); /* an fd is free again */
        if (c->events != 0)
                (void) epoll_ctl(s->conn_epoll, EPOLL_CTL_DEL, c->fd, NULL);
        c->events = 0;
        c->idle = sd_event_source_disable_unref(c->idle);
        /* Lent to a CPU pool thread: closed when the call comes back, never
         * under its send (the number could be someone else's by then). */
        if (c->fd >= 0 && !c->fd_lent) {
                close(c->fd);
                c->fd = -EBADF;
        }
        /* The program that asked went away (killed, Ctrl-C, pam_end): what
         * it was asked ends with it, rather than holding a place for minutes. */
        if (c->asked)
                (void) stitch_conversations_drop_owner(s->manager->core->conversations, c->id);
        c->waiting = false;
        connection_unref(c);
}

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* At a connection limit: closes the connection (of uid, or of anyone when
 * any_uid) that has waited longest for a person's answer, in the share with
 * the most such connections, so that logins nobody answers (held open at
 * their prompt by sshd or su) cannot keep out a login that has not been
 * asked anything yet. Returns true if one was closed. */
static bool evict_waiting(struct stitch_server *s, uid_t uid, bool any_uid) {
        _cleanup_free_ uint64_t *shares = malloc(MAX(s->n_connections, 1u) * sizeof(uint64_t));
        struct connection *victim = NULL;
        size_t n = 0, best_n = 0;
        uint64_t best = 0;
        unsigned suppressed;

        if (!shares)
                return false;
        for (struct connection *c = s->connections; c; c = c->next)
                if (c->waiting && !c->busy && (any_uid || c->cred.uid == uid))
                        shares[n++] = c->waiting_share;
        if (n == 0)
                return false;
        qsort(shares, n, sizeof(shares[0]), compare_u64);
        for (size_t i = 0, j; i < n; i = j) {
                for (j = i; j < n && shares[j] == shares[i]; j++)
                        ;
                if (j - i > best_n) {
                        best_n = j - i;
                        best = shares[i];
                }
        }
        for (struct connection *c = s->connections; c; c = c->next)
                if (c->waiting && !c->busy && (any_uid || c->cred.uid == uid) && c->waiting_share == best &&
                    (!victim || c->waiting_since < victim->waiting_since))
                        victim = c;
        if (!victim)
                return false;
        if (log_ratelimit_test(&s->evict_log, REFUSE_LOG_INTERVAL_USEC, &suppressed))
                log_notice("Connection limit reached: closing the unanswered login of uid %u (pid %d), one of %zu "
                           "waiting alike, to let a new one in%s.",
                           (unsigned) victim->cred.uid, (int) victim->cred.pid, best_n,
                           suppressed > 0 ? " (and others since the last message)" : "");
        connection_close(victim);
        return true;
}

static int on_accept(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        struct listener *l = userdata;
        struct stitch_server *s = l->server;
        struct stitch_manager *m = s->manager;

        /* The rest waits for the next turn, after the connections' events. */
        for (unsigned n = 0; n < ACCEPT_BATCH; n++) {
                _cleanup_close_ int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EAGAIN)
                                return 0;
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        /* EMFILE, ENFILE, ENOBUFS, ENOMEM, or worse: the connection stays queued. */
                        accept_pause(s, errno);
                        return 0;
                }
                if (s->accept_failing) {
                        s->accept_failing = false;
                        log_debug("Accepting connections again (%zu open).", s->n_connections);
                }
                if (s->stopping)
                        return 0;
                if (peer_gone(cfd))
                        continue;

                struct ucred cred;
                socklen_t sl = sizeof(cred);
                if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &sl) < 0)
                        continue;
                if (s->n_connections >= m->core->config.max_connections && !evict_waiting(s, 0, true)) {
                        refuse_connection(s, cfd, &cred, "MaxConnections", m->core->config.max_connections);
                        continue;
                }
                /* The admin socket is for root and AdminGroup=, and must work while a user is at the cap. */
                unsigned per_user = m->core->config.max_connections_per_user;
                if (!l->def->admin && per_user > 0 && uid_table_get(&s->uids, cred.uid) >= per_user &&
                    !evict_waiting(s, cred.uid, false)) {
                        refuse_connection(s, cfd, &cred, "MaxConnectionsPerUser", per_user);
                        continue;
                }

                struct connection *c = calloc(1, sizeof(*c));
                if (!c)
                        continue;
                c->cred = cred;
                c->id = ++s->next_id;
                c->server = s;
                c->def = l->def;
                c->refs = 1;
                c->fd = TAKE_FD(cfd);
                stitch_wire_reader_init(&c->reader);
                /* Counted with no cap too: the count is right whatever the cap. */
                int r = l->def->admin ? 0 : uid_table_increment(&s->uids, cred.uid);
                if (r >= 0) {
                        c->counted = !l->def->admin;
                        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                        r = epoll_ctl(s->conn_epoll, EPOLL_CTL_ADD, c->fd, &ev) < 0 ? -errno : 0;
                        if (r >= 0)
                                c->events = EPOLLIN;
                }
                if (r >= 0 && m->core->config.idle_timeout_usec > 0) {
                        c->last_active = monotonic_now();
                        c->idle_at = c->last_active + m->core->config.idle_timeout_usec;
                        r = sd_event_add_time(m->event, &c->idle, CLOCK_MONOTONIC, c->idle_at, USEC_PER_SEC / 10,
                                              on_idle, c);
                }
                if (r < 0) {
                        if (c->counted)
                                uid_table_decrement(&s->uids, cred.uid);
                        if (c->events != 0)
                                (void) epoll_ctl(s->conn_epoll, EPOLL_CTL_DEL, c->fd, NULL);
                        close(c->fd);
                        free(c);
                        continue;
                }
                c->next = s->connections;
                if (c->next)
                        c->next->prev = c;
                s->connections = c;
                s->n_connections++;
                m->connections = s->n_connections;
        }
        return 0;
}

int stitch_server_new(struct stitch_manager *m, struct stitch_server **ret) {
        struct stitch_server *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->manager = m;
        int r = stitch_token_caches_new(&s->token_caches);
        if (r < 0) {
                free(s);
                return r;
        }
        s->conn_epoll = epoll_create1(EPOLL_CLOEXEC);
        if (s->conn_epoll < 0) {
                r = log_error_errno(errno, "Cannot create the connections' epoll: %m");
                stitch_token_caches_done(&s->token_caches);
                free(s);
                return r;
        }
        /* The loop signs too: one thread fewer than CPUs (none on one CPU). */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        r = cpus > 1 ? stitch_cpu_loops_new((unsigned) MIN(cpus - 1, 255L), &s->cpu_loops) : 0;
        if (r >= 0 && s->cpu_loops) {
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
                r = epoll_ctl(s->conn_epoll, EPOLL_CTL_ADD, stitch_cpu_loops_fd(s->cpu_loops), &ev) < 0 ? -errno : 0;
        }
        if (r < 0) {
                log_error_errno(r, "Cannot start the CPU loops: %m");
                stitch_cpu_loops_free(s->cpu_loops);
                close(s->conn_epoll);
                stitch_token_caches_done(&s->token_caches);
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

/* Binds a socket at path. A stale socket is replaced; anything else at the
 * path (a symlink, a file, a directory) is refused, never followed. A
 * missing parent directory is created with dir_mode exactly: the daemon's
 * umask (0077) would make it 0700 and lock every client out. */
/* mkdir -p of the directories above dir (not dir itself), 0755 whatever
 * the umask (everyone must reach a 0666 socket below them). */
static int make_parents(const char *dir) {
        _cleanup_free_ char *p = strdup(dir);
        if (!p)
                return -ENOMEM;
        for (char *slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
                *slash = 0;
                if (mkdir(p, 0755) >= 0) {
                        if (chmod(p, 0755) < 0)
                                return log_error_errno(errno, "Cannot set the mode of %s: %m", p);
                } else if (errno != EEXIST)
                        return log_error_errno(errno, "Cannot create %s: %m", p);
                *slash = '/';
        }
        return 0;
}

static int bind_socket(const char *path, mode_t mode, mode_t dir_mode, bool parents, gid_t gid, int *ret_fd) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct stat st;

        if (strlen(path) >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "Socket path too long: %s", path);
        memcpy(sa.sun_path, path, strlen(path) + 1);

        /* The parent directory: created if missing (outside systemd's RuntimeDirectory=). */
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = 0;
                if (parents) {
                        int k = make_parents(dir);
                        if (k < 0)
                                return k;
                }
                if (mkdir(dir, dir_mode) >= 0) {
                        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (dfd < 0 || fchmod(dfd, dir_mode) < 0)
                                return log_error_errno(errno, "Cannot set the mode of %s: %m", dir);
                } else if (errno != EEXIST)
                        return log_error_errno(errno, "Cannot create %s: %m", dir);
        }
        /* Whoever may write the directory may put their own socket there
         * between our restarts, and stitchctl sends passwords to it. */
        int k = stitch_check_trusted(!slash ? "." : slash == dir ? "/" : dir, true, "socket directory");
        if (k < 0)
                return k;

        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return log_error_errno(EEXIST, "Refusing to replace %s: it exists and is not a socket (%s).",
                                               path, S_ISLNK(st.st_mode) ? "a symlink" : "another file type");
                if (unlink(path) < 0)
                        return log_error_errno(errno, "Cannot remove stale socket %s: %m", path);
        } else if (errno != ENOENT)
                return log_error_errno(errno, "Cannot check %s: %m", path);

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(errno, "socket(): %m");
        /* Created with no access at all, then opened up: no window where it is wider. */
        mode_t old = umask(0777);
        int r = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
        int e = errno;
        umask(old);
        if (r < 0)
                return log_error_errno(e, "Cannot bind %s: %m", path);
        if (gid != (gid_t) -1 && chown(path, (uid_t) -1, gid) < 0)
                return log_error_errno(errno, "Cannot chown %s: %m", path);
        if (chmod(path, mode) < 0)
                return log_error_errno(errno, "Cannot chmod %s: %m", path);
        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(errno, "Cannot listen on %s: %m", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int add_listener(struct stitch_server *s, int fd, const struct stitch_listener *def, const char *bound_path) {
        assert(s->n_listeners < STITCH_MAX_LISTENERS);
        struct listener *l = &s->listeners[s->n_listeners++]; /* closed (and unlinked) by stitch_server_free() */
        l->server = s;
        l->def = def;
        l->fd = fd;
        if (bound_path) {
                l->path = strdup(bound_path);
                if (!l->path)
                        return -ENOMEM;
        }
        int r = sd_event_add_io(s->manager->event, &l->source, fd, EPOLLIN, on_accept, l);
        if (r < 0)
                return log_error_errno(r, "Cannot watch listening socket: %m");
        r = sd_event_source_set_priority(l->source, ACCEPT_PRIORITY);
        if (r < 0)
                return log_error_errno(r, "Cannot set the priority of the listening socket: %m");
        if (!s->accept_retry) {
                /* Armed by accept_pause() only. */
                r = sd_event_add_time(s->manager->event, &s->accept_retry, CLOCK_MONOTONIC, 0,
                                      10 * USEC_PER_MSEC, on_accept_retry, s);
                if (r < 0)
                        return log_error_errno(r, "Cannot add the accept retry timer: %m");
                (void) sd_event_source_set_enabled(s->accept_retry, SD_EVENT_OFF);
        }
        return 0;
}

/* The listener a socket systemd passed is for: by FileDescriptorName=, or by
 * the path it is bound to. */
static const struct stitch_listener *passed_socket_listener(const struct stitch_config *cfg, int fd, const char *name) {
        for (size_t k = 0; k < stitch_n_listeners; k++) {
                const struct stitch_listener *def = stitch_listeners[k];
                const char *path = def->path(cfg);
                if (streq_ptr(name, def->name) || (path && sd_is_socket_unix(fd, SOCK_STREAM, 1, path, 0) > 0))
                        return def;
        }
        return NULL;
}

int stitch_server_listen(struct stitch_server *s, int *ret_http_fd) {
        struct stitch_config *cfg = &s->manager->core->config;
        char **names = NULL;
        int fds[STITCH_MAX_LISTENERS], r = 0;

        assert(stitch_n_listeners <= STITCH_MAX_LISTENERS);
        for (size_t k = 0; k < stitch_n_listeners; k++)
                fds[k] = -1;
        *ret_http_fd = -1;
        int n = sd_listen_fds_with_names(true, &names);
        if (n < 0)
                return log_error_errno(n, "Failed to read sockets passed by systemd: %m");
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;
                const char *name = names ? names[i] : NULL;
                /* The HTTP front end's (stitchd-http.socket). */
                if (streq_ptr(name, "http") && *ret_http_fd < 0 && sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0) {
                        *ret_http_fd = fd;
                        continue;
                }
                const struct stitch_listener *def = passed_socket_listener(cfg, fd, name);
                size_t k = 0;
                while (def && stitch_listeners[k] != def)
                        k++;
                if (def && fds[k] < 0)
                        fds[k] = fd;
                else {
                        log_warning("Ignoring unexpected socket passed by systemd (name %s).", name ? name : "-");
                        close(fd);
                }
        }
        if (names) {
                for (int i = 0; i < n; i++)
                        free(names[i]);
                free(names);
        }
        if (n > 0)
                log_info("Using %d socket(s) passed by systemd.", n);

        for (size_t k = 0; k < stitch_n_listeners; k++) {
                const struct stitch_listener *def = stitch_listeners[k];
                const char *path = def->path(cfg);
                if (!path && fds[k] < 0)
                        continue; /* off in this configuration */
                if (fds[k] >= 0) {
                        /* Passed while off (a socket unit enabled, the config
                         * not): still answered, or its callers would hang. */
                        if (!path)
                                log_notice("Socket %s passed by systemd but not turned on in the configuration: "
                                           "answering it as empty.", def->name);
                        int fl = fcntl(fds[k], F_GETFL);
                        if (fl >= 0)
                                (void) fcntl(fds[k], F_SETFL, fl | O_NONBLOCK);
                        r = add_listener(s, fds[k], def, NULL);
                        fds[k] = -1;
                } else {
                        gid_t gid = (gid_t) -1;
                        if (def->admin && cfg->admin_group) {
                                struct group *g = getgrnam(cfg->admin_group);
                                if (!g)
                                        r = log_error_errno(ENOENT, "AdminGroup=%s does not exist.", cfg->admin_group);
                                else
                                        gid = g->gr_gid;
                        }
                        int fd = -1;
                        if (r >= 0)
                                r = bind_socket(path, def->mode, def->directory_mode, def->create_parents, gid, &fd);
                        if (r >= 0)
                                r = add_listener(s, fd, def, path);
                }
                if (r < 0)
                        break;
        }
        for (size_t k = 0; k < stitch_n_listeners; k++)
                if (fds[k] >= 0)
                        close(fds[k]);
        return r < 0 ? r : 0;
}

void stitch_server_stop(struct stitch_server *s) {
        s->stopping = true;
        /* Before the workers stop: a connection that comes back may hand
         * its next call to them (the CPU loops, stopping, borrow no more). */
        s->cpu_loops = stitch_cpu_loops_free(s->cpu_loops);
        for (size_t i = 0; i < s->n_listeners; i++)
                (void) sd_event_source_set_enabled(s->listeners[i].source, SD_EVENT_OFF);
}

struct stitch_server *stitch_server_free(struct stitch_server *s) {
        if (!s)
                return NULL;
        s->stopping = true; /* closing the connections below must not re-enable accepting */
        s->cpu_loops = stitch_cpu_loops_free(s->cpu_loops); /* if not stopped: lent connections come back */
        while (s->connections)
                connection_close(s->connections);
        s->accept_retry = sd_event_source_disable_unref(s->accept_retry);
        s->cache_idle = sd_event_source_disable_unref(s->cache_idle);
        if (s->conn_epoll >= 0)
                close(s->conn_epoll);
        free(s->uids.slots);
        for (size_t i = 0; i < s->n_listeners; i++) {
                struct listener *l = &s->listeners[i];
                sd_event_source_disable_unref(l->source);
                if (l->path) {
                        (void) unlink(l->path);
                        free(l->path);
                }
                if (l->fd >= 0)
                        close(l->fd);
        }
        stitch_token_caches_done(&s->token_caches);
        free(s);
        return NULL;
}

