/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* stitchd.conf is read by a root daemon: any byte string must be either
 * accepted as a valid configuration or rejected with messages, never crash,
 * leak or hang. An accepted configuration must also satisfy the invariants
 * the daemon relies on, so a parser bug that lets a bad value through shows
 * up here as an abort. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "macro.h"
#include "stitchd/core/config.h"
#include "stitchd/store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_INPUT_MAX (256 * 1024)

static FILE *errors_sink(void) {
        static FILE *f = NULL;

        /* Messages are formatted for real (that code runs too) and thrown away. */
        if (!f)
                f = fopen("/dev/null", "we");
        return f;
}

static void check_invariants(const struct stitch_config *c) {
        const size_t sun_path_size = sizeof(((struct sockaddr_un *) NULL)->sun_path);

        if (!c->store || stitch_store_validate_spec(c->store, NULL) < 0)
                abort();
        if (!c->auth_socket || c->auth_socket[0] != '/' || strlen(c->auth_socket) >= sun_path_size)
                abort();
        if (!c->admin_socket || c->admin_socket[0] != '/' || strlen(c->admin_socket) >= sun_path_size)
                abort();
        if (c->access_token_lifetime_usec < 10 * USEC_PER_SEC ||
            c->access_token_lifetime_usec > 24 * 3600 * USEC_PER_SEC)
                abort();
        if (c->refresh_margin_usec >= c->access_token_lifetime_usec)
                abort();
        if (c->refresh_token_lifetime_usec < c->access_token_lifetime_usec)
                abort();
        /* The providers' sections are their files' own: read by name. */
        const unsigned *min_length = stitch_config_value(c, "Provider.local-userpass", "MinPasswordLength");
        const struct stitch_config_password_hash *h = stitch_config_value(c, "Provider.local-userpass", "PasswordHash");
        const bool *anon_enabled = stitch_config_value(c, "Provider.anon-user", "Enabled");
        char *const *anon_unix_user = stitch_config_value(c, "Provider.anon-user", "UnixUser");
        char **const *anon_services = stitch_config_value(c, "Provider.anon-user", "Services");
        if (!min_length || !h || !anon_enabled || !anon_unix_user || !anon_services)
                abort();
        if (*min_length < 6 || *min_length > 128)
                abort();
        if (h->m_kib < 8 || h->m_kib > 4194304 || h->m_kib < 8 * h->p)
                abort();
        if (h->t < 1 || h->t > 100 || h->p < 1 || h->p > 64)
                abort();
        if (*anon_enabled && isempty(*anon_unix_user) && isempty(c->http_listen))
                abort();
        if (!c->services || !*anon_services)
                abort();
        for (char *const *s = *anon_services; *s; s++)
                if (streq(*s, "*"))
                        abort();
        if (c->max_failures < 1 || c->max_connections < 1 || c->max_sessions_per_user < 1)
                abort();
        (void) stitch_service_allowed(c->services, "login");
        (void) stitch_service_allowed(*anon_services, "sshd");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct stitch_config c;

        if (size > FUZZ_INPUT_MAX)
                return 0;

        if (stitch_config_init_defaults(&c) < 0)
                return 0;

        /* Accepted or not, c is valid afterwards: a failed load leaves the defaults. */
        (void) stitch_config_load_buffer(&c, "fuzz.conf", (const char *) data, size, errors_sink());
        check_invariants(&c);

        /* Loading over an already loaded configuration, as a reload would. */
        (void) stitch_config_load_buffer(&c, "fuzz.conf", (const char *) data, size, NULL);
        check_invariants(&c);
        stitch_config_done(&c);
        stitch_config_done(&c);

        /* The duration parser on its own, with the input as one string. */
        if (size < 4096) {
                char *s = malloc(size + 1);
                if (s) {
                        uint64_t usec;
                        memcpy(s, data, size);
                        s[size] = 0;
                        (void) stitch_parse_duration(s, &usec);
                        free(s);
                }
        }
        return 0;
}
