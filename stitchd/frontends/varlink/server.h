/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The listening sockets and the client connections: framing, per-connection
 * limits, idle timeouts, caller identification and dispatch of calls either
 * inline (fast) or to the worker pool (slow). */

#include <stddef.h>

#include "daemon/loop.h"
#include "daemon/manager.h"

#define STITCH_MAX_OUTPUT (256U * 1024U) /* a client that reads nothing is cut off here */
#define STITCH_MAX_LISTENERS 4

struct stitch_server;

int stitch_server_new(struct stitch_manager *m, struct stitch_server **ret);
/* Sets up every listener of stitch_listeners[] that the config turns on:
 * takes the socket systemd passed (LISTEN_FDS, matched by
 * FileDescriptorName= the listener's name, or by path) or binds the
 * configured path. */
/* *ret_http_fd: a socket systemd passed for the HTTP front end (named
 * "http"), or -1. */
int stitch_server_listen(struct stitch_server *s, int *ret_http_fd);
/* The connections' epoll set and its handler, for stitch_loop_run(): the
 * connections are watched at the top of the loop, not through sd-event. */
void stitch_server_loop_client(struct stitch_server *s, struct stitch_loop_client *ret);
/* Stops accepting and closes idle connections (shutdown). */
void stitch_server_stop(struct stitch_server *s);
struct stitch_server *stitch_server_free(struct stitch_server *s);
