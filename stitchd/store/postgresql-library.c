/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libpq through dlopen (store/postgresql-library.h). The soname is the one
 * Debian's libpq5 package ships and the headers we build against describe. */

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#include "log.h"
#include "store/postgresql-library.h"

#define PQ_SONAME "libpq.so.5"

#define PG_LIBRARY_DEFINE(f) __typeof__(f) *sym_##f;
PG_LIBRARY_FUNCTIONS(PG_LIBRARY_DEFINE)
#undef PG_LIBRARY_DEFINE

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_result;

static bool resolve(void *handle, const char *name, void **ret) {
        dlerror();
        void *p = dlsym(handle, name);
        if (!p) {
                const char *e = dlerror();
                log_error("libpq (%s) has no %s: %s", PQ_SONAME, name, e ?: "not found");
                return false;
        }
        *ret = p;
        return true;
}

static void load(void) {
        load_result = -ELIBACC;
        void *handle = dlopen(PQ_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
                const char *e = dlerror();
                log_error("Cannot load libpq (%s; Debian package libpq5) for the PostgreSQL store: %s", PQ_SONAME,
                          e ?: "unknown error");
                return;
        }
        /* Into a table first: the pointers are set all together or not at all.
         * dlsym returns void *; POSIX guarantees it converts to a function pointer. */
        struct {
#define PG_LIBRARY_FIELD(f) void *f;
                PG_LIBRARY_FUNCTIONS(PG_LIBRARY_FIELD)
#undef PG_LIBRARY_FIELD
        } t = {};
        bool ok = true;
#define PG_LIBRARY_RESOLVE(f) ok = ok && resolve(handle, #f, &t.f);
        PG_LIBRARY_FUNCTIONS(PG_LIBRARY_RESOLVE)
#undef PG_LIBRARY_RESOLVE
        if (!ok) {
                dlclose(handle);
                return;
        }
#define PG_LIBRARY_SET(f) sym_##f = (__typeof__(f) *) t.f;
        PG_LIBRARY_FUNCTIONS(PG_LIBRARY_SET)
#undef PG_LIBRARY_SET
        load_result = 0;
}

int pg_library_load(void) {
        (void) pthread_once(&once, load);
        return load_result;
}
