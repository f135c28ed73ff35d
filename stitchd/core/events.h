/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the core tells the parts that keep derived state: the revocation
 * set, the refresher, Token.Verify's caches. Writers (sessions.c) emit; they
 * do not know who listens. Handlers run synchronously on the emitting
 * thread, which may be a worker: each must be thread-safe and quick (take a
 * lock, queue, bump a counter). Subscriptions are made on the event loop
 * thread at start, before any work that could emit is queued (the work
 * queue's lock orders them before every worker's emit), and removed after
 * the workers stopped, so emitting needs no lock. Handlers run in subscription order: the
 * revocation set subscribes first, so a token dies before anything else
 * hears of its session's end. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/end-reason.h"

enum stitch_event_kind {
        STITCH_EVENT_SESSION_ENDED, /* session_ended is set */
        STITCH_EVENT_USERS_CHANGED, /* a stored user changed (disable, delete, login time, password) */
        _STITCH_EVENT_KIND_MAX,
};

struct stitch_event {
        enum stitch_event_kind kind;
        struct {
                const char *session_id;
                int64_t until; /* no token of the session outlives this (Unix seconds) */
                enum stitch_end_reason reason;
        } session_ended;
        struct {
                /* Only a login time was written: no user's names, state or
                 * password changed (core->user_names_generation stays). */
                bool login_time_only;
        } users_changed;
};

typedef void (*stitch_event_handler)(const struct stitch_event *e, void *userdata);

#define STITCH_EVENTS_MAX 8

struct stitch_events {
        size_t n;
        struct {
                enum stitch_event_kind kind;
                stitch_event_handler handler;
                void *userdata;
        } subs[STITCH_EVENTS_MAX];
};

/* Event loop thread, at start (see above). Returns 0 or -ENOBUFS. */
int stitch_events_subscribe(struct stitch_events *ev, enum stitch_event_kind kind, stitch_event_handler handler,
                            void *userdata);
/* Removes every subscription of (handler, userdata). */
void stitch_events_unsubscribe(struct stitch_events *ev, stitch_event_handler handler, void *userdata);

/* Any thread. */
void stitch_events_emit(const struct stitch_events *ev, const struct stitch_event *e);
void stitch_events_session_ended(const struct stitch_events *ev, const char *session_id, int64_t until,
                                 enum stitch_end_reason reason);
/* A stored user changed (caches of users, such as Token.Verify's, go). */
void stitch_events_users_changed(const struct stitch_events *ev);
/* A login recorded its time in the user's row (and nothing else of it). */
void stitch_events_login_recorded(const struct stitch_events *ev);
