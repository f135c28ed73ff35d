/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* String vectors: NULL-terminated arrays of malloc'd strings, as the store
 * returns lists of ids and the configuration holds lists of names. The one
 * copy for the daemon, the CLI, the module, the tests and the fuzzers. */

#include <stdbool.h>
#include <stddef.h>

/* Number of strings before the terminating NULL; 0 for a NULL vector. */
size_t stitch_strv_length(char *const *l);

/* Frees every string and the array; NULL is fine. Returns NULL. */
char **stitch_strv_free(char **l);
static inline void stitch_strv_freep(char ***l) {
        stitch_strv_free(*l);
}

/* A new vector with no strings (not NULL), or NULL when out of memory. */
char **stitch_strv_new_empty(void);

/* A deep copy (NULL copies as an empty vector), or NULL when out of memory. */
char **stitch_strv_copy(char *const *l);

bool stitch_strv_contains(char *const *l, const char *s);

/* Builds a list one string at a time, in amortised constant time per
 * string (the store's lists of ids can be long). l is NULL before the first
 * add and NULL-terminated after every call, so that
 * stitch_strv_builder_done() (or stitch_strv_free(b.l)) is always right. */
struct stitch_strv_builder {
        char **l;
        size_t n, allocated;
};

/* Appends a copy of s. 0, or -ENOMEM with b holding the strings it held. */
int stitch_strv_builder_add(struct stitch_strv_builder *b, const char *s);
/* Hands the vector out, an empty one if nothing was added (NULL when out of
 * memory, b freed either way) and leaves b empty. */
char **stitch_strv_builder_finish(struct stitch_strv_builder *b);
void stitch_strv_builder_done(struct stitch_strv_builder *b);
