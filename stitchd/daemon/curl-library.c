/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libcurl through dlopen (daemon/curl-library.h). The soname is the one
 * Debian's libcurl4 package ships and the headers we build against
 * describe; every symbol is resolved before the table is handed out, so a
 * partial library is refused as a whole. */

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "daemon/curl-library.h"
#include "log.h"
#include "macro.h"

#define CURL_SONAME "libcurl.so.4"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct stitch_curl table;
static _Atomic(const struct stitch_curl *) loaded;

static bool resolve(void *handle, const char *name, void **ret) {
        dlerror();
        void *p = dlsym(handle, name);
        if (!p) {
                const char *e = dlerror();
                log_error("libcurl (%s) has no %s: %s", CURL_SONAME, name, e ?: "not found");
                return false;
        }
        *ret = p;
        return true;
}

static void load(void) {
        struct stitch_curl t = {};
        CURLcode (*global_init)(long flags) = NULL;

        void *handle = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
                const char *e = dlerror();
                log_error("Cannot load libcurl (%s; Debian package libcurl4): %s", CURL_SONAME, e ?: "unknown error");
                return;
        }
        /* dlsym returns void *; POSIX guarantees it converts to a function pointer. */
        bool ok = resolve(handle, "curl_global_init", (void **) &global_init) &&
                  resolve(handle, "curl_easy_init", (void **) &t.easy_init) &&
                  resolve(handle, "curl_easy_setopt", (void **) &t.easy_setopt) &&
                  resolve(handle, "curl_easy_perform", (void **) &t.easy_perform) &&
                  resolve(handle, "curl_easy_getinfo", (void **) &t.easy_getinfo) &&
                  resolve(handle, "curl_easy_cleanup", (void **) &t.easy_cleanup) &&
                  resolve(handle, "curl_easy_strerror", (void **) &t.easy_strerror) &&
                  resolve(handle, "curl_slist_append", (void **) &t.slist_append) &&
                  resolve(handle, "curl_slist_free_all", (void **) &t.slist_free_all);
        if (!ok) {
                dlclose(handle);
                return;
        }
        /* Once per process, never cleaned up: curl_global_cleanup is not
         * thread-safe and the library stays mapped until exit anyway. */
        if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                log_error("Cannot initialize libcurl.");
                dlclose(handle);
                return;
        }
        table = t;
        atomic_store(&loaded, &table);
}

const struct stitch_curl *stitch_curl_load(void) {
        (void) pthread_once(&once, load);
        return atomic_load(&loaded);
}
