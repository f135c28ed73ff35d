/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The HTTP front end's open connections: the per-address cap and the
 * request deadline, which libmicrohttpd does not give us.
 *
 * - MaxConnectionsPerAddress= counts per address prefix (core/address.h),
 *   not per address: one client's /64 is one address here.
 * - Timeout= bounds a request from the moment the connection is ready for
 *   it (accepted, or the previous reply sent) to its last body byte. MHD's
 *   own timeout is an idle timeout: a client sending one header line a
 *   second would hold its connection for ever (slowloris). A thread of our
 *   own shuts down connections whose request is late; MHD then sees the
 *   end of the stream and closes them on its thread.
 * - When MaxConnections= are open, a new connection evicts the one whose
 *   incomplete request (or idle wait) is oldest, so that clients holding
 *   slots without finishing requests cannot keep everyone else out.
 *
 * accept/started/closed/request_* are called on MHD's threads (a pool,
 * [Http] Threads=); the lock keeps them apart from each other and from the
 * deadline thread. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/config.h"

struct http_connections;
struct http_connection;

/* threads: libmicrohttpd's, for http_connections_mhd_limit. */
int http_connections_new(const struct stitch_config *c, unsigned threads, struct http_connections **ret);
/* Stops the deadline thread; every connection must be closed already. */
struct http_connections *http_connections_free(struct http_connections *set);
/* The connection limit to give MHD: above MaxConnections=, so that MHD
 * still offers new connections (to accept()) while evicted ones close. */
unsigned http_connections_mhd_limit(const struct stitch_config *c, unsigned threads);

/* MHD's accept policy: false refuses the connection. May evict another. */
bool http_connections_accept(struct http_connections *set, const struct sockaddr *sa, socklen_t len);
/* MHD_CONNECTION_NOTIFY_STARTED and _CLOSED. NULL: not tracked (out of
 * memory; the connection is shut down). */
struct http_connection *http_connections_started(struct http_connections *set, int fd, const struct sockaddr *sa,
                                                 socklen_t len);
void http_connections_closed(struct http_connections *set, struct http_connection *c);
/* The request is in (headers and body): its deadline no longer applies. */
void http_connections_request_received(struct http_connections *set, struct http_connection *c);
/* The reply went out: the next request's deadline starts now. */
void http_connections_request_done(struct http_connections *set, struct http_connection *c);
