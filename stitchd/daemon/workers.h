/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A bounded pool of worker threads for slow work (password hashing, durable
 * store writes), so the event loop never blocks. 'work' runs on a worker
 * thread; 'done' runs afterwards on the event loop thread. */

#include <stddef.h>

#include <systemd/sd-event.h>

struct stitch_workers;

typedef void (*stitch_work_fn)(void *userdata);

int stitch_workers_new(sd_event *event, unsigned n_threads, size_t max_queue, struct stitch_workers **ret);
/* The same, with its threads named (at most 15 bytes; NULL: inherited). */
int stitch_workers_new_named(sd_event *event, const char *name, unsigned n_threads, size_t max_queue,
                             struct stitch_workers **ret);
/* Runs every queued job, joins the threads, runs pending 'done' callbacks, frees. */
struct stitch_workers *stitch_workers_free(struct stitch_workers *w);
/* -EBUSY when max_queue jobs are already waiting. */
int stitch_workers_submit(struct stitch_workers *w, stitch_work_fn work, stitch_work_fn done, void *userdata);
size_t stitch_workers_queued(struct stitch_workers *w);
/* Called on the event loop once the pool has had nothing to do for a
 * while after some work (to give back memory). */
void stitch_workers_set_idle(struct stitch_workers *w, stitch_work_fn idle, void *userdata);
unsigned stitch_workers_threads(struct stitch_workers *w);
