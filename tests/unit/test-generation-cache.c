/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchd/core/generation-cache.c: entries good while their generations are
 * current, stale entries dropped when met, a slot's collision replacing the
 * older entry, copies for shared caches, values freed exactly once. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/generation-cache.h"

static unsigned freed;

static void counted_free(void *v) {
        freed++;
        free(v);
}

static void *copy_string(const void *v) {
        return strdup(v);
}

static const struct stitch_cache_type one_thread = {.slots = 8, .value_free = counted_free};
static const struct stitch_cache_type shared = {
        .slots = 8, .bearer_keys = true, .shared = true, .value_free = counted_free, .value_copy = copy_string};

static void put(struct stitch_cache *c, const char *key, struct stitch_generation g, const char *value) {
        char *v = strdup(value);
        assert_non_null(v);
        stitch_cache_put(c, key, strlen(key), &g, v);
}

static void test_generations(void **state) {
        struct stitch_cache *c = NULL;
        struct stitch_generation g1 = {.users = 1, .keys = 7}, g2 = {.users = 2, .keys = 7}, g3 = {.users = 1, .keys = 8};
        (void) state;

        freed = 0;
        assert_int_equal(stitch_cache_new(&one_thread, &c), 0);
        assert_null(stitch_cache_peek(c, "alice", 5, &g1));
        put(c, "alice", g1, "A");
        assert_string_equal(stitch_cache_peek(c, "alice", 5, &g1), "A");
        assert_null(stitch_cache_peek(c, "alic", 4, &g1)); /* another key */
        /* Either generation moving makes the entry stale: dropped when met. */
        assert_null(stitch_cache_peek(c, "alice", 5, &g3));
        assert_int_equal(freed, 1);
        assert_null(stitch_cache_peek(c, "alice", 5, &g1));
        put(c, "alice", g1, "A");
        assert_null(stitch_cache_peek(c, "alice", 5, &g2));
        assert_int_equal(freed, 2);
        /* Replacing frees the old value; drop and free free the rest once. */
        put(c, "bob", g2, "B1");
        put(c, "bob", g2, "B2");
        assert_int_equal(freed, 3);
        assert_string_equal(stitch_cache_peek(c, "bob", 3, &g2), "B2");
        stitch_cache_drop(c, "bob", 3);
        assert_int_equal(freed, 4);
        assert_null(stitch_cache_peek(c, "bob", 3, &g2));
        stitch_cache_drop(c, "bob", 3); /* not there: nothing */
        put(c, "carol", g2, "C");
        c = stitch_cache_free(c);
        assert_int_equal(freed, 5);
}

static void test_collisions_and_many_keys(void **state) {
        struct stitch_cache *c = NULL;
        struct stitch_generation g = {0};
        char key[32], value[32];
        (void) state;

        freed = 0;
        assert_int_equal(stitch_cache_new(&one_thread, &c), 0);
        /* 100 keys in 8 slots: whatever is found is the right value. */
        for (unsigned i = 0; i < 100; i++) {
                snprintf(key, sizeof(key), "key-%u", i);
                snprintf(value, sizeof(value), "value-%u", i);
                put(c, key, g, value);
        }
        unsigned found = 0;
        for (unsigned i = 0; i < 100; i++) {
                snprintf(key, sizeof(key), "key-%u", i);
                snprintf(value, sizeof(value), "value-%u", i);
                const char *v = stitch_cache_peek(c, key, strlen(key), &g);
                if (v) {
                        assert_string_equal(v, value);
                        found++;
                }
        }
        assert_true(found >= 1 && found <= 8);
        stitch_cache_clear(c);
        assert_int_equal(freed, 100);
        /* An emptied cache (its slots' pages given back) is used as before. */
        for (unsigned i = 0; i < 100; i++) {
                snprintf(key, sizeof(key), "key-%u", i);
                assert_null(stitch_cache_peek(c, key, strlen(key), &g));
        }
        put(c, "key-1", g, "again");
        assert_string_equal(stitch_cache_peek(c, "key-1", 5, &g), "again");
        c = stitch_cache_free(c);
        assert_int_equal(freed, 101);
}

static void test_shared_copies(void **state) {
        struct stitch_cache *c = NULL;
        struct stitch_generation g = {.users = 3};
        (void) state;

        freed = 0;
        assert_int_equal(stitch_cache_new(&shared, &c), 0);
        put(c, "eyJ.token.sig", g, "reply");
        /* Shared caches never hand out the stored value itself. */
        assert_null(stitch_cache_peek(c, "eyJ.token.sig", 13, &g));
        char *v = stitch_cache_get(c, "eyJ.token.sig", 13, &g);
        assert_non_null(v);
        assert_string_equal(v, "reply");
        free(v);
        assert_null(stitch_cache_get(c, "eyJ.token.siG", 13, &g));
        assert_int_equal(freed, 0);
        c = stitch_cache_free(c);
        assert_int_equal(freed, 1);
}

static void test_bad_types(void **state) {
        struct stitch_cache *c = NULL;
        struct stitch_cache_type no_copy = shared;
        (void) state;

        no_copy.value_copy = NULL;
        assert_int_equal(stitch_cache_new(&no_copy, &c), -EINVAL);
        struct stitch_cache_type no_slots = one_thread;
        no_slots.slots = 0;
        assert_int_equal(stitch_cache_new(&no_slots, &c), -EINVAL);
        assert_null(c);
}

static struct stitch_cache *racing;

static void *hammer(void *arg) {
        struct stitch_generation g = {.users = (uintptr_t) arg % 2};
        char key[16];
        for (unsigned i = 0; i < 20000; i++) {
                snprintf(key, sizeof(key), "k%u", i % 37);
                if (i % 3 == 0) {
                        char *v = strdup(key);
                        assert_non_null(v);
                        stitch_cache_put(racing, key, strlen(key), &g, v);
                } else {
                        char *v = stitch_cache_get(racing, key, strlen(key), &g);
                        if (v)
                                assert_string_equal(v, key);
                        free(v);
                }
        }
        return NULL;
}

static void test_shared_threads(void **state) {
        pthread_t t[4];
        (void) state;

        assert_int_equal(stitch_cache_new(&shared, &racing), 0);
        for (uintptr_t i = 0; i < 4; i++)
                assert_int_equal(pthread_create(&t[i], NULL, hammer, (void *) i), 0);
        for (size_t i = 0; i < 4; i++)
                assert_int_equal(pthread_join(t[i], NULL), 0);
        racing = stitch_cache_free(racing);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_generations),
                cmocka_unit_test(test_collisions_and_many_keys),
                cmocka_unit_test(test_shared_copies),
                cmocka_unit_test(test_bad_types),
                cmocka_unit_test(test_shared_threads),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
