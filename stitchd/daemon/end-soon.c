/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "core/sessions.h"
#include "daemon/end-soon.h"
#include "daemon/workers.h"

struct end_soon {
        struct stitch_manager *manager;
        struct stitch_session *session;
        enum stitch_end_reason reason;
};

static void end_soon_work(void *userdata) {
        struct end_soon *e = userdata;
        (void) stitch_session_end(e->manager->core, e->session, e->reason);
        stitch_session_free(e->session);
        free(e);
}

void stitch_end_session_soon(struct stitch_manager *m, struct stitch_session *s, enum stitch_end_reason reason) {
        stitch_session_end_in_memory(m->core, s, reason);
        struct end_soon *e = malloc(sizeof(*e));
        if (e) {
                *e = (struct end_soon) {.manager = m, .session = s, .reason = reason};
                if (stitch_workers_submit(m->workers, end_soon_work, NULL, e) >= 0)
                        return;
                free(e);
        }
        (void) stitch_session_end(m->core, s, reason);
        stitch_session_free(s);
}
