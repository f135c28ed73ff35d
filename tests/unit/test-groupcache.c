/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchd/core/groupcache.c: AdminGroup membership cached per (uid, gid),
 * with a fake clock and a fake lookup: the TTLs (shorter for
 * non-members), root without a lookup, the bounded table, the flush when a
 * watched file changes, and threads. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/groupcache.h"

#define SEC 1000000ull

static uint64_t fake_now = 1000 * SEC;
static unsigned lookups;
static bool members[1024]; /* by uid */

static uint64_t now_fn(void) {
        return __atomic_load_n(&fake_now, __ATOMIC_RELAXED);
}

static bool lookup_fn(uid_t uid, gid_t gid, const char *group) {
        (void) gid;
        assert_string_equal(group, "stitch-admin");
        __atomic_fetch_add(&lookups, 1, __ATOMIC_RELAXED);
        return uid < 1024 && members[uid];
}

static char watch_path[] = "/tmp/test-groupcache.XXXXXX";
static const char *watch_files[] = {watch_path, NULL};
static const struct stitch_groupcache_hooks hooks = {.lookup = lookup_fn, .now = now_fn, .watch = watch_files};

static int setup(void **state) {
        (void) state;
        fake_now = 1000 * SEC;
        lookups = 0;
        memset(members, 0, sizeof(members));
        snprintf(watch_path, sizeof(watch_path), "%s", "/tmp/test-groupcache.XXXXXX");
        int fd = mkstemp(watch_path);
        if (fd < 0)
                return -1;
        close(fd);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        unlink(watch_path);
        return 0;
}

static struct stitch_groupcache *new_cache(const char *group) {
        struct stitch_groupcache *c = NULL;
        assert_int_equal(stitch_groupcache_new(group, &hooks, &c), 0);
        assert_non_null(c);
        return c;
}

static void test_root_without_lookup(void **state) {
        (void) state;
        struct stitch_groupcache *c = new_cache("stitch-admin");
        assert_true(stitch_groupcache_contains(c, 0, 0));
        assert_true(stitch_groupcache_contains(c, 0, 1234));
        assert_int_equal(lookups, 0);
        assert_int_equal(stitch_groupcache_size(c), 0);
        stitch_groupcache_free(c);

        /* No AdminGroup: root only, and nobody is looked up. */
        c = new_cache(NULL);
        members[1000] = true;
        assert_true(stitch_groupcache_contains(c, 0, 0));
        assert_false(stitch_groupcache_contains(c, 1000, 1000));
        stitch_groupcache_free(c);
        c = new_cache("");
        assert_false(stitch_groupcache_contains(c, 1000, 1000));
        assert_int_equal(lookups, 0);
        stitch_groupcache_free(c);
}

static void test_member_ttl(void **state) {
        (void) state;
        struct stitch_groupcache *c = new_cache("stitch-admin");
        members[1000] = true;

        assert_true(stitch_groupcache_contains(c, 1000, 1000));
        assert_int_equal(lookups, 1);
        fake_now += STITCH_GROUPCACHE_TTL_USEC - 1;
        assert_true(stitch_groupcache_contains(c, 1000, 1000));
        assert_int_equal(lookups, 1); /* still remembered */

        /* Removed from the group: believed until the TTL is over. */
        members[1000] = false;
        assert_true(stitch_groupcache_contains(c, 1000, 1000));
        assert_int_equal(lookups, 1);
        fake_now += 1;
        assert_false(stitch_groupcache_contains(c, 1000, 1000));
        assert_int_equal(lookups, 2);

        /* The primary gid is part of the question (stitch_uid_in_group uses it). */
        assert_false(stitch_groupcache_contains(c, 1000, 2000));
        assert_int_equal(lookups, 3);
        stitch_groupcache_free(c);
}

static void test_negative_ttl(void **state) {
        (void) state;
        struct stitch_groupcache *c = new_cache("stitch-admin");

        assert_false(stitch_groupcache_contains(c, 1001, 1001));
        assert_int_equal(lookups, 1);
        /* Added to the group: seen once the shorter negative TTL is over. */
        members[1001] = true;
        fake_now += STITCH_GROUPCACHE_NEGATIVE_TTL_USEC - 1;
        assert_false(stitch_groupcache_contains(c, 1001, 1001));
        assert_int_equal(lookups, 1);
        fake_now += 1;
        assert_true(stitch_groupcache_contains(c, 1001, 1001));
        assert_int_equal(lookups, 2);
        /* ... and now cached with the long TTL. */
        fake_now += STITCH_GROUPCACHE_NEGATIVE_TTL_USEC * 2;
        assert_true(stitch_groupcache_contains(c, 1001, 1001));
        assert_int_equal(lookups, 2);
        assert_true(STITCH_GROUPCACHE_NEGATIVE_TTL_USEC < STITCH_GROUPCACHE_TTL_USEC);
        stitch_groupcache_free(c);
}

static void test_eviction(void **state) {
        (void) state;
        struct stitch_groupcache *c = new_cache("stitch-admin");

        for (uid_t u = 1; u <= STITCH_GROUPCACHE_SIZE; u++) {
                members[u] = true;
                assert_true(stitch_groupcache_contains(c, u, u));
                fake_now += 1; /* each stored a little later than the one before */
        }
        assert_int_equal(lookups, STITCH_GROUPCACHE_SIZE);
        assert_int_equal(stitch_groupcache_size(c), STITCH_GROUPCACHE_SIZE);

        /* One more: the table stays bounded, the oldest (uid 1) goes. */
        members[500] = true;
        assert_true(stitch_groupcache_contains(c, 500, 500));
        assert_int_equal(lookups, STITCH_GROUPCACHE_SIZE + 1);
        assert_int_equal(stitch_groupcache_size(c), STITCH_GROUPCACHE_SIZE);
        for (uid_t u = 2; u <= STITCH_GROUPCACHE_SIZE; u++)
                assert_true(stitch_groupcache_contains(c, u, u));
        assert_int_equal(lookups, STITCH_GROUPCACHE_SIZE + 1); /* all still there */
        assert_true(stitch_groupcache_contains(c, 1, 1));
        assert_int_equal(lookups, STITCH_GROUPCACHE_SIZE + 2); /* uid 1 was looked up again */
        assert_int_equal(stitch_groupcache_size(c), STITCH_GROUPCACHE_SIZE);

        /* An expired answer makes room before a live one is evicted. */
        fake_now += STITCH_GROUPCACHE_TTL_USEC;
        assert_false(stitch_groupcache_contains(c, 600, 600));
        assert_int_equal(stitch_groupcache_size(c), STITCH_GROUPCACHE_SIZE);
        stitch_groupcache_free(c);
}

static void test_file_change_flushes(void **state) {
        (void) state;
        struct stitch_groupcache *c = new_cache("stitch-admin");
        members[1000] = true;

        assert_true(stitch_groupcache_contains(c, 1000, 1000));
        assert_true(stitch_groupcache_contains(c, 1000, 1000));
        assert_int_equal(lookups, 1);

        /* /etc/group edited (here: its stand-in gets another mtime): asked again at once. */
        members[1000] = false;
        struct timespec times[2] = {{.tv_sec = 1000000, .tv_nsec = 0}, {.tv_sec = 1000000, .tv_nsec = 0}};
        assert_int_equal(utimensat(AT_FDCWD, watch_path, times, 0), 0);
        assert_false(stitch_groupcache_contains(c, 1000, 1000));
        assert_int_equal(lookups, 2);
        assert_false(stitch_groupcache_contains(c, 1000, 1000));
        assert_int_equal(lookups, 2);

        /* Replaced (a rename over it, as vigr and useradd do). */
        members[1000] = true;
        char tmp[sizeof(watch_path) + 4];
        snprintf(tmp, sizeof(tmp), "%s.new", watch_path);
        FILE *f = fopen(tmp, "we");
        assert_non_null(f);
        fputs("stitch-admin:x:999:someone\n", f);
        fclose(f);
        assert_int_equal(rename(tmp, watch_path), 0);
        assert_true(stitch_groupcache_contains(c, 1000, 1000));
        assert_int_equal(lookups, 3);

        /* Gone altogether: a change too. */
        unlink(watch_path);
        assert_true(stitch_groupcache_contains(c, 1000, 1000));
        assert_int_equal(lookups, 4);
        stitch_groupcache_free(c);
}

static void test_too_many_watched_files(void **state) {
        (void) state;
        const char *many[STITCH_GROUPCACHE_WATCH_MAX + 2] = {0};
        for (size_t i = 0; i <= STITCH_GROUPCACHE_WATCH_MAX; i++)
                many[i] = watch_path;
        struct stitch_groupcache_hooks h = hooks;
        h.watch = many;
        struct stitch_groupcache *c = NULL;
        assert_int_equal(stitch_groupcache_new("stitch-admin", &h, &c), -E2BIG);
        assert_null(c);
}

static void test_defaults(void **state) {
        (void) state;
        /* The real clock, lookup and files: root is a member, and a group
         * that does not exist has none. */
        struct stitch_groupcache *c = NULL;
        assert_int_equal(stitch_groupcache_new("stitch-no-such-group-xyz", NULL, &c), 0);
        assert_true(stitch_groupcache_contains(c, 0, 0));
        assert_false(stitch_groupcache_contains(c, 65534, 65534));
        assert_false(stitch_groupcache_contains(c, 65534, 65534));
        assert_int_equal(stitch_groupcache_size(c), 1);
        stitch_groupcache_free(c);
}

struct thread_arg {
        struct stitch_groupcache *c;
        unsigned seed;
        bool ok;
};

static void *hammer(void *p) {
        struct thread_arg *a = p;
        a->ok = true;
        for (unsigned i = 0; i < 20000; i++) {
                uid_t u = 1 + (a->seed + i * 7) % 200;
                if (stitch_groupcache_contains(a->c, u, u) != (u % 2 == 0))
                        a->ok = false;
                if (i % 1000 == 0)
                        __atomic_fetch_add(&fake_now, STITCH_GROUPCACHE_NEGATIVE_TTL_USEC, __ATOMIC_RELAXED);
        }
        return NULL;
}

static void test_threads(void **state) {
        (void) state;
        struct stitch_groupcache *c = new_cache("stitch-admin");
        for (uid_t u = 0; u < 1024; u++)
                members[u] = u % 2 == 0;
        pthread_t t[4];
        struct thread_arg a[4];
        for (unsigned i = 0; i < 4; i++) {
                a[i] = (struct thread_arg){.c = c, .seed = i * 31};
                assert_int_equal(pthread_create(&t[i], NULL, hammer, &a[i]), 0);
        }
        for (unsigned i = 0; i < 4; i++) {
                pthread_join(t[i], NULL);
                assert_true(a[i].ok);
        }
        assert_true(stitch_groupcache_size(c) <= STITCH_GROUPCACHE_SIZE);
        stitch_groupcache_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_root_without_lookup, setup, teardown),
                cmocka_unit_test_setup_teardown(test_member_ttl, setup, teardown),
                cmocka_unit_test_setup_teardown(test_negative_ttl, setup, teardown),
                cmocka_unit_test_setup_teardown(test_eviction, setup, teardown),
                cmocka_unit_test_setup_teardown(test_file_change_flushes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_too_many_watched_files, setup, teardown),
                cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
                cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
