/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "file-stamp.h"
#include "core/groupcache.h"
#include "clock.h"
#include "core/unix-users.h"
#include "macro.h"
#include "validate.h"

struct answer {
        bool used;
        bool member;
        uid_t uid;
        gid_t gid;
        uint64_t stored, expires; /* CLOCK_MONOTONIC usec */
};

/* What stat says of a watched file; any difference means it changed
 * (an edit in place moves mtime, a replacing rename the inode). */
struct stitch_groupcache {
        pthread_mutex_t lock;
        char *group; /* NULL: root only */
        bool (*lookup)(uid_t uid, gid_t primary_gid, const char *group);
        uint64_t (*now)(void);
        char *watch[STITCH_GROUPCACHE_WATCH_MAX];
        size_t n_watch;
        struct stitch_file_stamp stamps[STITCH_GROUPCACHE_WATCH_MAX];
        /* Bumped by every flush: a lookup that raced one is not stored. */
        uint64_t generation;
        struct answer answers[STITCH_GROUPCACHE_SIZE];
};

static const char *const default_watch[] = {"/etc/group", "/etc/passwd", NULL};

static uint64_t monotonic_now(void) {
        return stitch_now_usec(CLOCK_MONOTONIC);
}

int stitch_groupcache_new(const char *group, const struct stitch_groupcache_hooks *hooks,
                          struct stitch_groupcache **ret) {
        const char *const *watch = hooks && hooks->watch ? hooks->watch : default_watch;
        struct stitch_groupcache *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        pthread_mutex_init(&c->lock, NULL);
        c->lookup = hooks && hooks->lookup ? hooks->lookup : stitch_uid_in_group;
        c->now = hooks && hooks->now ? hooks->now : monotonic_now;
        if (!isempty(group) && !(c->group = strdup(group)))
                goto oom;
        for (; watch[c->n_watch]; c->n_watch++) {
                if (c->n_watch >= STITCH_GROUPCACHE_WATCH_MAX) {
                        stitch_groupcache_free(c);
                        return -E2BIG;
                }
                c->watch[c->n_watch] = strdup(watch[c->n_watch]);
                if (!c->watch[c->n_watch])
                        goto oom;
                stitch_file_stamp_get(c->watch[c->n_watch], &c->stamps[c->n_watch]);
        }
        *ret = c;
        return 0;
oom:
        stitch_groupcache_free(c);
        return -ENOMEM;
}

struct stitch_groupcache *stitch_groupcache_free(struct stitch_groupcache *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < STITCH_GROUPCACHE_WATCH_MAX; i++)
                free(c->watch[i]);
        free(c->group);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
}

/* Under the lock: forgets everything if a watched file changed. */
static void check_files(struct stitch_groupcache *c, const struct stitch_file_stamp *now) {
        bool changed = false;
        for (size_t i = 0; i < c->n_watch; i++)
                if (!stitch_file_stamp_equal(&c->stamps[i], &now[i])) {
                        c->stamps[i] = now[i];
                        changed = true;
                }
        if (!changed)
                return;
        memset(c->answers, 0, sizeof(c->answers));
        c->generation++;
}

/* Under the lock: the slot for (uid, gid): its own, else a free or expired
 * one, else the one stored longest ago. */
static struct answer *slot_for(struct stitch_groupcache *c, uid_t uid, gid_t gid, uint64_t now) {
        struct answer *free_slot = NULL, *oldest = NULL;
        for (size_t i = 0; i < STITCH_GROUPCACHE_SIZE; i++) {
                struct answer *a = &c->answers[i];
                if (a->used && a->uid == uid && a->gid == gid)
                        return a;
                if (!a->used || a->expires <= now) {
                        if (!free_slot)
                                free_slot = a;
                } else if (!oldest || a->stored < oldest->stored)
                        oldest = a;
        }
        return free_slot ? free_slot : oldest;
}

bool stitch_groupcache_contains(struct stitch_groupcache *c, uid_t uid, gid_t primary_gid) {
        struct stitch_file_stamp stamps[STITCH_GROUPCACHE_WATCH_MAX];
        uint64_t generation, now;
        bool member;

        assert(c);
        if (uid == 0)
                return true;
        if (!c->group)
                return false;

        for (size_t i = 0; i < c->n_watch; i++)
                stitch_file_stamp_get(c->watch[i], &stamps[i]);
        now = c->now();
        pthread_mutex_lock(&c->lock);
        check_files(c, stamps);
        for (size_t i = 0; i < STITCH_GROUPCACHE_SIZE; i++) {
                const struct answer *a = &c->answers[i];
                if (a->used && a->uid == uid && a->gid == primary_gid && a->expires > now) {
                        member = a->member;
                        pthread_mutex_unlock(&c->lock);
                        return member;
                }
        }
        generation = c->generation;
        pthread_mutex_unlock(&c->lock);

        /* Not under the lock: NSS may take its time. */
        member = c->lookup(uid, primary_gid, c->group);

        pthread_mutex_lock(&c->lock);
        if (generation == c->generation) {
                struct answer *a = slot_for(c, uid, primary_gid, now);
                *a = (struct answer){
                        .used = true,
                        .member = member,
                        .uid = uid,
                        .gid = primary_gid,
                        .stored = now,
                        .expires = now + (member ? STITCH_GROUPCACHE_TTL_USEC : STITCH_GROUPCACHE_NEGATIVE_TTL_USEC),
                };
        }
        pthread_mutex_unlock(&c->lock);
        return member;
}

size_t stitch_groupcache_size(struct stitch_groupcache *c) {
        size_t n = 0;
        pthread_mutex_lock(&c->lock);
        for (size_t i = 0; i < STITCH_GROUPCACHE_SIZE; i++)
                n += c->answers[i].used;
        pthread_mutex_unlock(&c->lock);
        return n;
}
