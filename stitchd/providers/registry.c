/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The providers there are: adding one is its file and a line here. */
#include <pthread.h>

#include "log.h"
#include "macro.h"
#include "providers/provider.h"

/* Each line names a `const struct stitch_provider stitch_provider_NAME` of
 * providers/NAME.c. */
#define PROVIDERS(X) \
        X(userpass)  \
        X(apikey)    \
        X(anon)      \
        X(custom_token) \
        X(oauth2_google) \
        X(oauth2_facebook)

/* Test builds only: this file compiled again with -DSTITCH_TEST_PROVIDERS
 * into a test binary (tests/unit/test-login-pending, tests/helpers/stitchd-test)
 * adds the providers of tests/helpers/provider-*.c; the library's copy, which
 * the installed daemon links, has none of them. */
#ifdef STITCH_TEST_PROVIDERS
#define TEST_PROVIDERS(X) X(test_poll)
#else
#define TEST_PROVIDERS(X)
#endif

#define DECLARE(n) extern const struct stitch_provider stitch_provider_##n;
#define ENTRY(n) &stitch_provider_##n,
PROVIDERS(DECLARE)
TEST_PROVIDERS(DECLARE)
static const struct stitch_provider *const providers[] = {PROVIDERS(ENTRY) TEST_PROVIDERS(ENTRY) NULL};

_Static_assert(ELEMENTSOF(providers) - 1 <= STITCH_PROVIDERS_MAX, "raise STITCH_PROVIDERS_MAX");
_Static_assert(ELEMENTSOF(providers) - 1 <= STITCH_CONFIG_SECTIONS_MAX, "raise STITCH_CONFIG_SECTIONS_MAX");

const struct stitch_provider *const *stitch_providers(void) {
        return providers;
}

/* The providers' config sections, in registry order (core/config.h). */
static const struct stitch_config_section *sections[ELEMENTSOF(providers)];
static pthread_once_t sections_once = PTHREAD_ONCE_INIT;

static void sections_fill(void) {
        size_t n = 0;
        for (size_t i = 0; providers[i]; i++)
                if (providers[i]->config)
                        sections[n++] = providers[i]->config;
        sections[n] = NULL;
}

const struct stitch_config_section *const *stitch_config_sections(void) {
        (void) pthread_once(&sections_once, sections_fill);
        return sections;
}

const struct stitch_provider *stitch_provider_find(const char *name) {
        if (streq_ptr(name, stitch_provider_auto.name))
                return &stitch_provider_auto;
        for (size_t i = 0; name && providers[i]; i++)
                if (streq(providers[i]->name, name))
                        return providers[i];
        return NULL;
}

bool stitch_provider_type_known(const char *name) {
        const struct stitch_provider *p = stitch_provider_find(name);
        return p && p != &stitch_provider_auto;
}
