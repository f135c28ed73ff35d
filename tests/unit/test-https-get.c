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
#include <pthread.h>
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


static void test_form_append(void **state) {
        char *form = NULL;
        (void) state;

        assert_int_equal(stitch_form_append(&form, "client_id", "abc-123.apps.googleusercontent.com"), 0);
        assert_string_equal(form, "client_id=abc-123.apps.googleusercontent.com");
        assert_int_equal(stitch_form_append(&form, "grant_type", "urn:ietf:params:oauth:grant-type:device_code"), 0);
        assert_int_equal(stitch_form_append(&form, "scope", "openid email&x=1 é"), 0);
        assert_string_equal(form, "client_id=abc-123.apps.googleusercontent.com"
                                  "&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"
                                  "&scope=openid%20email%26x%3D1%20%C3%A9");
        assert_int_equal(stitch_form_append(&form, "e", ""), 0);
        assert_non_null(strstr(form, "&e="));
        assert_int_equal(stitch_form_append(NULL, "a", "b"), -EINVAL);
        stitch_secret_free(form);
        stitch_secret_free(NULL);
}

/* A one-request HTTP server on loopback: keeps what it was sent, answers
 * a 428 with a JSON error body, as Google's token endpoint does. */
struct one_request {
        int fd;
        char got[4096];
};

static void *serve_one(void *userdata) {
        struct one_request *q = userdata;
        int c = accept(q->fd, NULL, NULL);
        if (c < 0)
                return NULL;
        size_t n = 0;
        for (;;) {
                ssize_t k = read(c, q->got + n, sizeof(q->got) - 1 - n);
                if (k <= 0)
                        break;
                n += (size_t) k;
                q->got[n] = 0;
                const char *end = strstr(q->got, "\r\n\r\n");
                const char *cl = strstr(q->got, "Content-Length: ");
                if (end && cl && n >= (size_t) (end + 4 - q->got) + strtoul(cl + 16, NULL, 10))
                        break;
        }
        static const char reply[] = "HTTP/1.1 428 Precondition Required\r\nContent-Type: application/json\r\n"
                                    "Content-Length: 38\r\nConnection: close\r\n\r\n"
                                    "{\"error\": \"authorization_pending\"}\n\n\n\n";
        (void) !write(c, reply, sizeof(reply) - 1);
        close(c);
        return NULL;
}

static void test_post_form(void **state) {
        struct stitch_https_options o = {.timeout_usec = 5 * USEC_PER_SEC, .allow_insecure_loopback = true};
        char error[STITCH_HTTPS_ERROR_MAX], url[64];
        char *body = NULL;
        size_t len = 0;
        long status = 0;
        (void) state;

        /* Refused before anything is sent. */
        assert_int_equal(stitch_https_post_form(&o, "http://192.0.2.1/t", "a=b", &status, &body, &len, error,
                                                sizeof(error)),
                         -EINVAL);
        assert_int_equal(stitch_https_post_form(&o, "https://x/t", NULL, &status, &body, &len, error, sizeof(error)),
                         -EINVAL);
        assert_null(body);

        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t l = sizeof(a);
        struct one_request q = {.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
        assert_true(q.fd >= 0);
        assert_int_equal(bind(q.fd, (struct sockaddr *) &a, sizeof(a)), 0);
        assert_int_equal(getsockname(q.fd, (struct sockaddr *) &a, &l), 0);
        assert_int_equal(listen(q.fd, 1), 0);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, serve_one, &q), 0);

        snprintf(url, sizeof(url), "http://127.0.0.1:%u/token", ntohs(a.sin_port));
        int r = stitch_https_post_form(&o, url, "client_secret=s3cret&code=c0de", &status, &body, &len, error,
                                       sizeof(error));
        if (r == -ENOTCONN) {
                shutdown(q.fd, SHUT_RDWR);
                close(q.fd);
                pthread_cancel(t);
                pthread_join(t, NULL);
                skip();
        }
        assert_int_equal(pthread_join(t, NULL), 0);
        close(q.fd);
        assert_int_equal(r, 0);
        /* A non-200 status is an answer, with its body. */
        assert_int_equal(status, 428);
        assert_int_equal(len, 38);
        assert_non_null(strstr(body, "\"authorization_pending\""));
        assert_non_null(strstr(q.got, "POST /token HTTP/1.1\r\n"));
        assert_non_null(strstr(q.got, "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
        assert_non_null(strstr(q.got, "\r\nAccept: application/json\r\n"));
        assert_non_null(strstr(q.got, "\r\n\r\nclient_secret=s3cret&code=c0de"));
        stitch_secret_free(body);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_url_check),
                cmocka_unit_test(test_get_refusals),
                cmocka_unit_test(test_form_append),
                cmocka_unit_test(test_post_form),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
