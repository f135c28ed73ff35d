/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>

#include "core/events.h"

int stitch_events_subscribe(struct stitch_events *ev, enum stitch_event_kind kind, stitch_event_handler handler,
                            void *userdata) {
        assert(ev && handler && kind >= 0 && kind < _STITCH_EVENT_KIND_MAX);
        if (ev->n >= STITCH_EVENTS_MAX)
                return -ENOBUFS;
        ev->subs[ev->n].kind = kind;
        ev->subs[ev->n].handler = handler;
        ev->subs[ev->n].userdata = userdata;
        ev->n++;
        return 0;
}

void stitch_events_unsubscribe(struct stitch_events *ev, stitch_event_handler handler, void *userdata) {
        size_t j = 0;
        for (size_t i = 0; i < ev->n; i++)
                if (ev->subs[i].handler != handler || ev->subs[i].userdata != userdata)
                        ev->subs[j++] = ev->subs[i];
        ev->n = j;
}

void stitch_events_emit(const struct stitch_events *ev, const struct stitch_event *e) {
        assert(ev && e);
        for (size_t i = 0; i < ev->n; i++)
                if (ev->subs[i].kind == e->kind)
                        ev->subs[i].handler(e, ev->subs[i].userdata);
}

void stitch_events_session_ended(const struct stitch_events *ev, const char *session_id, int64_t until,
                                 enum stitch_end_reason reason) {
        struct stitch_event e = {.kind = STITCH_EVENT_SESSION_ENDED};
        assert(session_id && stitch_end_reason_to_string(reason));
        e.session_ended.session_id = session_id;
        e.session_ended.until = until;
        e.session_ended.reason = reason;
        stitch_events_emit(ev, &e);
}

void stitch_events_users_changed(const struct stitch_events *ev) {
        struct stitch_event e = {.kind = STITCH_EVENT_USERS_CHANGED};
        stitch_events_emit(ev, &e);
}

void stitch_events_login_recorded(const struct stitch_events *ev) {
        struct stitch_event e = {.kind = STITCH_EVENT_USERS_CHANGED, .users_changed.login_time_only = true};
        stitch_events_emit(ev, &e);
}
