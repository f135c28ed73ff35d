/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Long-lived logins. For every open PAM session stitchd keeps a fresh access
 * token: an sd-event timer per session fires RefreshMargin before expiry and
 * a worker refreshes it. The login's leader process is watched through a
 * pidfd, so a login that dies without close_session is logged out. Sessions
 * resume from the store after a restart. When a live login's session ends
 * (revoke, disable, delete, logout, expiry) its entry goes at once and, with
 * [Sessions] OnRevoke=terminate, the login itself is ended. Everything here
 * runs on the event loop thread except stitch_refresher_notify_ended(),
 * which any thread may call. */

#include <stdbool.h>
#include <stdint.h>

#include "core/end-reason.h"
#include "daemon/manager.h"

struct stitch_refresher;

int stitch_refresher_new(struct stitch_manager *m, struct stitch_refresher **ret);
struct stitch_refresher *stitch_refresher_free(struct stitch_refresher *r);

/* Resumes the open sessions recorded in the store (after a restart). */
int stitch_refresher_resume(struct stitch_refresher *r);

/* Starts keeping a session fresh. 'token' (may be NULL) is its current access
 * token valid until 'expires'. Returns -ESRCH if the leader process is gone. */
int stitch_refresher_add(struct stitch_refresher *r, const struct stitch_session *s, int64_t leader_pid,
                         const char *token, int64_t expires);

/* Any thread: the session has ended; stop refreshing and (OnRevoke=terminate)
 * end the login. The refresher subscribes to STITCH_EVENT_SESSION_ENDED, so
 * whoever ends a session through sessions.c reaches it without calling this. */
void stitch_refresher_notify_ended(struct stitch_refresher *r, const char *session_id, enum stitch_end_reason reason);

/* The answer to a waiting stitch_refresher_get(): token (borrowed) and its
 * expiry, or token NULL and why not. Called once, on the event loop. */
typedef void (*stitch_refresher_token_cb)(const char *session_id, const char *token, int64_t expires,
                                          const char *error, void *userdata);

/* The current access token of an open session. Returns 1 with a copy of a
 * cached token newer than 'newer_than' in *ret_token (the caller erases
 * it); 0 when the caller should mint one (not open here, or no wait); 2 when
 * 'wait' is set and the next refresh is awaited: cb then runs once, with the
 * new token or an error. */
int stitch_refresher_get(struct stitch_refresher *r, const char *session_id, int64_t newer_than, bool wait,
                         char **ret_token, int64_t *ret_expires, stitch_refresher_token_cb cb, void *userdata);

/* Ends a session's entry now, as if notified (event loop only). */
void stitch_refresher_forget(struct stitch_refresher *r, const char *session_id, enum stitch_end_reason reason);

size_t stitch_refresher_size(struct stitch_refresher *r);
uint64_t stitch_refresher_refreshes(struct stitch_refresher *r);
/* Refreshes that completed after the token they replaced had expired. */
uint64_t stitch_refresher_late(struct stitch_refresher *r);
/* Open sessions without a currently valid token (a scan; for Status). */
size_t stitch_refresher_lapsed(struct stitch_refresher *r);
/* Ended logins still being terminated (OnRevoke=terminate): a logind call
 * in flight or the SIGTERM follow-up pending. */
size_t stitch_refresher_terminating(struct stitch_refresher *r);

/* The refresh schedule (pure, for tests). A token valid until 'expires'
 * (Unix seconds) is refreshed RefreshMargin before: the CLOCK_REALTIME
 * microsecond returned; 0 (at once) when that has passed or there is no
 * token yet. */
uint64_t stitch_refresher_due_usec(bool have_token, int64_t expires, uint64_t margin_usec);
/* After a failed refresh: the wait before the next try, given the previous
 * wait (0 after a success): 1 s, doubling up to 60 s. */
uint64_t stitch_refresher_retry_usec(uint64_t previous_usec);
