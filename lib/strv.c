/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "strv.h"

size_t stitch_strv_length(char *const *l) {
        size_t n = 0;

        if (l)
                while (l[n])
                        n++;
        return n;
}

char **stitch_strv_free(char **l) {
        if (!l)
                return NULL;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
        return NULL;
}

char **stitch_strv_new_empty(void) {
        return calloc(1, sizeof(char *));
}

char **stitch_strv_copy(char *const *l) {
        size_t n = stitch_strv_length(l);
        _cleanup_(stitch_strv_freep) char **copy = calloc(n + 1, sizeof(char *));

        if (!copy)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                copy[i] = strdup(l[i]);
                if (!copy[i])
                        return NULL;
        }
        return TAKE_PTR(copy);
}

bool stitch_strv_contains(char *const *l, const char *s) {
        assert(s);

        for (; l && *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

int stitch_strv_builder_add(struct stitch_strv_builder *b, const char *s) {
        assert(b);
        assert(s);

        if (b->n + 2 > b->allocated) {
                size_t n = MAX(b->allocated * 2, (size_t) 8);
                if (n > SIZE_MAX / sizeof(char *))
                        return -ENOMEM;
                char **l = realloc(b->l, n * sizeof(char *));
                if (!l)
                        return -ENOMEM;
                l[b->n] = NULL; /* a fresh array is uninitialised: terminate it before strdup() can fail */
                b->l = l;
                b->allocated = n;
        }

        char *copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        b->l[b->n++] = copy;
        b->l[b->n] = NULL;
        return 0;
}

char **stitch_strv_builder_finish(struct stitch_strv_builder *b) {
        assert(b);

        char **l = b->l ? b->l : stitch_strv_new_empty();
        *b = (struct stitch_strv_builder) {};
        return l;
}

void stitch_strv_builder_done(struct stitch_strv_builder *b) {
        assert(b);

        stitch_strv_free(b->l);
        *b = (struct stitch_strv_builder) {};
}
