/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* core/https.c's URL rules and daemon/https-get.c's refusals: what is
 * refused before any connection, and the errors of a fetch that cannot
 * connect (a closed loopback port). The transfers themselves are
 * tests/http/test-custom-token-jwks.sh's. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/https.h"
#include "daemon/https-get.h"
#include "macro.h"

static void test_url_check(void **state) {
        char host[STITCH_HTTPS_HOST_MAX], error[STITCH_HTTPS_ERROR_MAX];
        (void) state;

        assert_int_equal(stitch_https_url_check("https://issuer.example/.well-known/jwks.json", false, host,
                                                sizeof(host), error, sizeof(error)),
                         0);
        assert_string_equal(host, "issuer.example");
        assert_int_equal(stitch_https_url_check("https://issuer.example:8443", false, host, sizeof(host), error,
                                                sizeof(error)),
                         0);
        assert_string_equal(host, "issuer.example");
        assert_int_equal(stitch_https_url_check("https://[2001:db8::1]:443/k", false, host, sizeof(host), error,
                                                sizeof(error)),
                         0);
        assert_string_equal(host, "[2001:db8::1]");
        assert_int_equal(stitch_https_url_check("http://127.0.0.1:8080/k", true, host, sizeof(host), error,
                                                sizeof(error)),
                         0);
        assert_int_equal(stitch_https_url_check("http://[::1]/k", true, NULL, 0, error, sizeof(error)), 0);

        static const struct {
                const char *url;
                bool loopback;
                const char *why;
        } bad[] = {
                {"http://127.0.0.1/k", false, "AllowInsecureLoopback=yes"},
                {"http://localhost/k", true, "AllowInsecureLoopback=yes"},
                {"http://10.0.0.1/k", true, "AllowInsecureLoopback=yes"},
                {"http://127.0.0.1.example/k", true, "AllowInsecureLoopback=yes"},
                {"ftp://issuer.example/k", false, "expected an https:// URL"},
                {"file:///etc/passwd", true, "expected an https:// URL"},
                {"https://user:pw@issuer.example/k", false, "user information"},
                {"https:///k", false, "no host"},
                {"https://issuer.example:/k", false, "bad port"},
                {"https://issuer.example:123456/k", false, "bad port"},
                {"https://issuer.example:80x/k", false, "bad port"},
                {"https://[::1/k", false, "unterminated"},
                {"https://issuer.example/a b", false, "space"},
                {"https://issuer.example/\n", false, "control"},
                {"", false, "expected an https:// URL"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                error[0] = 0;
                if (stitch_https_url_check(bad[i].url, bad[i].loopback, host, sizeof(host), error, sizeof(error)) !=
                    -EINVAL)
                        fail_msg("%s accepted", bad[i].url);
                if (!strstr(error, bad[i].why))
                        fail_msg("%s: \"%s\", expected \"%s\"", bad[i].url, error, bad[i].why);
        }
        assert_int_equal(stitch_https_url_check(NULL, false, NULL, 0, error, sizeof(error)), -EINVAL);
        char *long_url = malloc(STITCH_HTTPS_URL_MAX + 16);
        assert_non_null(long_url);
        memset(long_url, 'a', STITCH_HTTPS_URL_MAX + 15);
        memcpy(long_url, "https://x/", 10);
        long_url[STITCH_HTTPS_URL_MAX + 15] = 0;
        assert_int_equal(stitch_https_url_check(long_url, false, NULL, 0, error, sizeof(error)), -EINVAL);
        free(long_url);
}

/* A loopback port nobody listens on (bound, then closed). */
static unsigned closed_port(void) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t l = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof(a)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &l), 0);
        close(fd);
        return ntohs(a.sin_port);
}

static void test_get_refusals(void **state) {
        struct stitch_https_options o = {.timeout_usec = 2 * USEC_PER_SEC};
        char error[STITCH_HTTPS_ERROR_MAX], url[64];
        char *body = (char *) "unchanged", *cc = (char *) "unchanged";
        size_t len = 7;
        (void) state;

        /* Refused before libcurl is asked, outputs untouched. */
        assert_int_equal(stitch_https_get(NULL, "https://x/", &body, &len, &cc, error, sizeof(error)), -EINVAL);
        assert_int_equal(stitch_https_get(&o, NULL, &body, &len, &cc, error, sizeof(error)), -EINVAL);
        assert_int_equal(stitch_https_get(&o, "https://x/", NULL, &len, &cc, error, sizeof(error)), -EINVAL);
        assert_int_equal(stitch_https_get(&o, "http://127.0.0.1:1/k", &body, &len, &cc, error, sizeof(error)),
                         -EINVAL);
        assert_non_null(strstr(error, "AllowInsecureLoopback=yes"));
        o.allow_insecure_loopback = true;
        assert_int_equal(stitch_https_get(&o, "http://192.0.2.1/k", &body, &len, &cc, error, sizeof(error)), -EINVAL);
        assert_int_equal(stitch_https_get(&o, "https://u:secret@192.0.2.1/k", &body, &len, &cc, error, sizeof(error)),
                         -EINVAL);
        assert_null(strstr(error, "secret"));
        assert_string_equal(body, "unchanged");
        assert_string_equal(cc, "unchanged");
        assert_int_equal(len, 7);

        /* A closed port: "cannot connect", and nothing of the URL's path in the error. */
        unsigned port = closed_port();
        snprintf(url, sizeof(url), "https://127.0.0.1:%u/path-secret", port);
        int r = stitch_https_get(&o, url, &body, &len, &cc, error, sizeof(error));
        if (r == -ENOTCONN)
                skip(); /* no libcurl.so.4 on this machine */
        assert_int_equal(r, -ECONNREFUSED);
        assert_non_null(strstr(error, "cannot connect"));
        assert_null(strstr(error, "path-secret"));
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/k", port);
        assert_int_equal(stitch_https_get(&o, url, &body, &len, &cc, error, sizeof(error)), -ECONNREFUSED);
        assert_string_equal(body, "unchanged");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_url_check),
                cmocka_unit_test(test_get_refusals),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
