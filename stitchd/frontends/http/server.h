/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The HTTP front end: the Stitch/Realm client API ([Http], docs/http.md) on
 * libmicrohttpd on one epoll thread of its own. Slow routes run on the
 * workers while their connection is suspended. */

#include "daemon/manager.h"

struct stitch_http;

/* NULL *ret (and 0) when [Http] Listen= is empty. listen_fd: a socket
 * passed by systemd (FileDescriptorName=http), or -1 to bind Listen=. */
int stitch_http_new(struct stitch_manager *m, int listen_fd, struct stitch_http **ret);
/* Stops accepting; requests in flight finish. */
void stitch_http_stop(struct stitch_http *h);
struct stitch_http *stitch_http_free(struct stitch_http *h);
