/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Graph API answers as oauth2-facebook reads them (providers/facebook-graph.c):
 * debug_token and its checks, /me and its metadata, Graph errors, Login for
 * Devices' device/login and login_status subcodes, and URL encoding;
 * malformed, truncated and hostile bodies are refused, never half-read. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "providers/facebook-graph.h"

#define P(s) (s), strlen(s)

static const char good_debug[] =
        "{\"data\":{\"app_id\":\"1234\",\"type\":\"USER\",\"application\":\"x\",\"expires_at\":2000000000,"
        "\"is_valid\":true,\"scopes\":[\"email\"],\"user_id\":\"10001\"}}";

static void test_debug_token(void **state) {
        (void) state;
        struct facebook_token_info i;
        char error[256];

        assert_int_equal(facebook_debug_token_parse(P(good_debug), &i, error, sizeof(error)), 0);
        assert_true(i.is_valid);
        assert_string_equal(i.app_id, "1234");
        assert_string_equal(i.type, "USER");
        assert_string_equal(i.user_id, "10001");
        assert_int_equal(i.expires_at, 2000000000);
        assert_int_equal(facebook_token_check(&i, "1234", 1900000000, error, sizeof(error)), 0);
        assert_int_equal(facebook_token_check(&i, "1234", 2000000000, error, sizeof(error)), -EACCES);
        assert_string_equal(error, "the token has expired");
        assert_int_equal(facebook_token_check(&i, "12345", 0, error, sizeof(error)), -EACCES);
        assert_string_equal(error, "the token is for another app");
        assert_int_equal(facebook_token_check(&i, "123", 0, error, sizeof(error)), -EACCES);

        /* expires_at 0: a token that does not expire */
        assert_int_equal(facebook_debug_token_parse(P("{\"data\":{\"app_id\":\"1234\",\"type\":\"USER\","
                                                      "\"is_valid\":true,\"expires_at\":0}}"), &i, error,
                                                    sizeof(error)), 0);
        assert_int_equal(facebook_token_check(&i, "1234", 2100000000, error, sizeof(error)), 0);

        assert_int_equal(facebook_debug_token_parse(P("{\"data\":{\"app_id\":\"1234\",\"type\":\"PAGE\","
                                                      "\"is_valid\":true}}"), &i, error, sizeof(error)), 0);
        assert_int_equal(facebook_token_check(&i, "1234", 0, error, sizeof(error)), -EACCES);
        assert_string_equal(error, "the token is not a user's");

        /* An invalid token's data is short; never valid whatever else it says. */
        assert_int_equal(facebook_debug_token_parse(P("{\"data\":{\"error\":{\"code\":190},\"is_valid\":false,"
                                                      "\"scopes\":[]}}"), &i, error, sizeof(error)), 0);
        assert_false(i.is_valid);
        assert_int_equal(facebook_token_check(&i, "", 0, error, sizeof(error)), -EACCES);
        assert_int_equal(facebook_debug_token_parse(P("{\"data\":{\"app_id\":\"1234\",\"type\":\"USER\","
                                                      "\"is_valid\":false}}"), &i, error, sizeof(error)), 0);
        assert_int_equal(facebook_token_check(&i, "1234", 0, error, sizeof(error)), -EACCES);
}

static void test_debug_token_malformed(void **state) {
        (void) state;
        static const char *const bodies[] = {
                "",
                "{",
                "[]",
                "null",
                "{\"data\":[]}",
                "{\"data\":{}}",
                "{\"data\":{\"is_valid\":\"true\",\"app_id\":\"1234\",\"type\":\"USER\"}}",
                "{\"data\":{\"is_valid\":1,\"app_id\":\"1234\",\"type\":\"USER\"}}",
                "{\"data\":{\"is_valid\":true,\"app_id\":1234,\"type\":\"USER\"}}",
                "{\"data\":{\"is_valid\":true,\"app_id\":\"12a4\",\"type\":\"USER\"}}",
                "{\"data\":{\"is_valid\":true,\"app_id\":\"\",\"type\":\"USER\"}}",
                "{\"data\":{\"is_valid\":true,\"app_id\":\"1234\"}}",
                "{\"data\":{\"is_valid\":true,\"app_id\":\"1234\",\"type\":\"USER\",\"expires_at\":\"soon\"}}",
                "{\"data\":{\"is_valid\":true,\"app_id\":\"1234\",\"type\":\"USER\",\"expires_at\":1.5}}",
                "{\"data\":{\"is_valid\":true,\"app_id\":\"1234\",\"type\":\"USER\",\"expires_at\":-1}}",
                "{\"data\":{\"is_valid\":true,\"app_id\":\"1234\",\"type\":\"USER\",\"user_id\":\"../x\"}}",
                "{\"data\":{\"is_valid\":true,\"app_id\":\"123456789012345678901234567890123\",\"type\":\"USER\"}}",
        };
        struct facebook_token_info i;
        char error[256];

        for (size_t k = 0; k < ELEMENTSOF(bodies); k++) {
                error[0] = 0;
                assert_int_equal(facebook_debug_token_parse(P(bodies[k]), &i, error, sizeof(error)), -EBADMSG);
                assert_true(strncmp(error, "debug_token: ", 13) == 0);
        }
        /* A NUL inside the body, and a body cut short. */
        assert_int_equal(facebook_debug_token_parse(good_debug, sizeof(good_debug), &i, error, sizeof(error)),
                         -EBADMSG);
        assert_int_equal(facebook_debug_token_parse(good_debug, strlen(good_debug) - 2, &i, error, sizeof(error)),
                         -EBADMSG);
        assert_int_equal(facebook_debug_token_parse(NULL, 0, &i, error, sizeof(error)), -EBADMSG);
}

static void test_me(void **state) {
        (void) state;
        char id[FACEBOOK_ID_MAX + 1], error[256];
        cJSON *m = NULL;

        assert_int_equal(facebook_me_parse(P("{\"id\":\"10001\",\"name\":\"Ada L\",\"first_name\":\"Ada\","
                                             "\"last_name\":\"L\",\"email\":\"ada@example.com\",\"picture\":{\"data\":"
                                             "{\"height\":50,\"url\":\"https://p.example/1\"}},\"extra\":1}"), id, &m,
                                           error, sizeof(error)), 0);
        assert_string_equal(id, "10001");
        char *s = cJSON_PrintUnformatted(m);
        assert_string_equal(s, "{\"name\":\"Ada L\",\"first_name\":\"Ada\",\"last_name\":\"L\","
                               "\"email\":\"ada@example.com\",\"picture\":\"https://p.example/1\"}");
        free(s);
        cJSON_Delete(m);

        /* Only the id is required. */
        assert_int_equal(facebook_me_parse(P("{\"id\":\"7\"}"), id, &m, error, sizeof(error)), 0);
        assert_null(m->child);
        cJSON_Delete(m);

        static const char *const bad[] = {
                "", "{}", "[1]", "{\"id\":7}", "{\"id\":\"\"}", "{\"id\":\"7x\"}", "{\"id\":\"7\",\"name\":3}",
                "{\"id\":\"7\",\"email\":null}", "{\"id\":\"7\",\"picture\":\"https://x\"}",
                "{\"id\":\"7\",\"picture\":{\"data\":{}}}", "{\"id\":\"7\",\"picture\":{\"data\":{\"url\":1}}}",
                "{\"id\":\"7\"", "{\"error\":{\"code\":190}}",
        };
        for (size_t k = 0; k < ELEMENTSOF(bad); k++) {
                m = NULL;
                assert_int_equal(facebook_me_parse(P(bad[k]), id, &m, error, sizeof(error)), -EBADMSG);
                assert_null(m);
        }
        /* A field over 4096 bytes. */
        char *big = malloc(5000);
        assert_non_null(big);
        static const char head[] = "{\"id\":\"7\",\"name\":\"", tail[] = "\"}";
        memcpy(big, head, sizeof(head) - 1);
        memset(big + sizeof(head) - 1, 'a', 4200);
        memcpy(big + sizeof(head) - 1 + 4200, tail, sizeof(tail)); /* with its NUL */
        assert_int_equal(facebook_me_parse(P(big), id, &m, error, sizeof(error)), -EBADMSG);
        assert_string_equal(error, "/me: malformed name");
        free(big);
}

static void test_graph_error(void **state) {
        (void) state;
        struct facebook_graph_error e;

        assert_int_equal(facebook_graph_error_parse(P("{\"error\":{\"message\":\"Invalid OAuth access token\x01\","
                                                      "\"type\":\"OAuthException\",\"code\":190,\"error_subcode\":463,"
                                                      "\"fbtrace_id\":\"A\"}}"), &e), 0);
        assert_int_equal(e.code, 190);
        assert_int_equal(e.subcode, 463);
        assert_string_equal(e.type, "OAuthException");
        assert_string_equal(e.message, "Invalid OAuth access token?");
        assert_false(facebook_graph_error_transient(&e));
        assert_int_equal(facebook_graph_error_parse(P("{\"error\":{\"code\":4,\"message\":\"Application request "
                                                      "limit reached\"}}"), &e), 0);
        assert_true(facebook_graph_error_transient(&e));
        assert_int_equal(facebook_graph_error_parse(P("{\"error\":{\"code\":100,\"is_transient\":true}}"), &e), 0);
        assert_true(facebook_graph_error_transient(&e));
        assert_int_equal(facebook_graph_error_parse(P("{\"error\":{\"code\":100,\"is_transient\":false}}"), &e), 0);
        assert_false(facebook_graph_error_transient(&e));
        assert_int_equal(facebook_graph_error_parse(P("{\"data\":{}}"), &e), -ENOMSG);
        assert_int_equal(facebook_graph_error_parse(P("{\"error\":\"x\"}"), &e), -ENOMSG);
        assert_int_equal(facebook_graph_error_parse(P("<html>"), &e), -ENOMSG);
        assert_int_equal(facebook_graph_error_parse(P("{\"error\":{\"code\":\"190\"}}"), &e), 0);
        assert_int_equal(e.code, 0);
}

static void test_device_login(void **state) {
        (void) state;
        struct facebook_device_code c;
        char error[256];

        assert_int_equal(facebook_device_login_parse(P("{\"code\":\"abc123\",\"user_code\":\"A1B2C3D4\","
                                                       "\"verification_uri\":\"https://www.facebook.com/device\","
                                                       "\"expires_in\":420,\"interval\":5}"), &c, error,
                                                     sizeof(error)), 0);
        assert_string_equal(c.code, "abc123");
        assert_string_equal(c.user_code, "A1B2C3D4");
        assert_string_equal(c.verification_uri, "https://www.facebook.com/device");
        assert_int_equal(c.interval_sec, 5);
        assert_int_equal(c.expires_in_sec, 420);
        facebook_device_code_erase(&c);
        assert_string_equal(c.code, "");

        /* Each of these breaks one rule of a good answer. */
#define DL(code, user_code, uri, expires_in, interval)                                                   \
        "{" code "\"user_code\":\"" user_code "\",\"verification_uri\":\"" uri "\",\"expires_in\":" expires_in \
        ",\"interval\":" interval "}"
        static const char *const bad[] = {
                "{}",
                DL("\"code\":\"a\",", "B", "http://x", "1", "1"),
                DL("\"code\":\"a\",", "B", "https://x", "0", "1"),
                DL("\"code\":\"a\",", "B", "https://x", "9", "0"),
                DL("\"code\":\"a\",", "B C", "https://x", "9", "1"),
                DL("\"code\":\"a\",", "B\\u001b[2J", "https://x", "9", "1"),
                DL("\"code\":\"\",", "B", "https://x", "9", "1"),
                DL("", "B", "https://x", "9", "1"),
        };
        /* The same shape with every rule kept parses (so the refusals are the rules'). */
        assert_int_equal(facebook_device_login_parse(P(DL("\"code\":\"a\",", "B", "https://x", "9", "1")), &c, error,
                                                     sizeof(error)), 0);
        for (size_t k = 0; k < ELEMENTSOF(bad); k++)
                assert_int_equal(facebook_device_login_parse(P(bad[k]), &c, error, sizeof(error)), -EBADMSG);
#undef DL
}

static void test_login_status(void **state) {
        (void) state;
        char *t = NULL, error[256] = "";

        assert_int_equal(facebook_login_status_parse(200, P("{\"access_token\":\"EAAx\",\"expires_in\":5183944}"), &t,
                                                     error, sizeof(error)), FACEBOOK_DEVICE_AUTHORIZED);
        assert_string_equal(t, "EAAx");
        free(t);
        t = NULL;
#define STATUS(sub, code) "{\"error\":{\"message\":\"m\",\"code\":" #code ",\"error_subcode\":" #sub "}}"
        assert_int_equal(facebook_login_status_parse(400, P(STATUS(1349174, 31)), &t, error, sizeof(error)),
                         FACEBOOK_DEVICE_PENDING);
        assert_int_equal(facebook_login_status_parse(400, P(STATUS(1349172, 17)), &t, error, sizeof(error)),
                         FACEBOOK_DEVICE_SLOW_DOWN);
        assert_int_equal(facebook_login_status_parse(400, P(STATUS(1349152, 463)), &t, error, sizeof(error)),
                         FACEBOOK_DEVICE_EXPIRED);
        assert_int_equal(facebook_login_status_parse(400, P(STATUS(1349173, 100)), &t, error, sizeof(error)),
                         FACEBOOK_DEVICE_CANCELLED);
        assert_int_equal(facebook_login_status_parse(400, P(STATUS(0, 190)), &t, error, sizeof(error)),
                         FACEBOOK_DEVICE_REFUSED);
        assert_string_equal(error, "Graph error 190/0: m");
        assert_null(t);
        assert_int_equal(facebook_login_status_parse(200, P("{\"access_token\":\"\"}"), &t, error, sizeof(error)),
                         -EBADMSG);
        assert_int_equal(facebook_login_status_parse(200, P("{\"error\":{}}"), &t, error, sizeof(error)), -EBADMSG);
        assert_int_equal(facebook_login_status_parse(500, P("<html>"), &t, error, sizeof(error)), -EBADMSG);
        assert_null(t);
}

static void test_url(void **state) {
        (void) state;
        char *u = NULL;
        const char *const pairs[] = {"input_token", "EA A+/", "access_token", "12|s&=x", NULL};

        assert_int_equal(facebook_url("https://graph.facebook.com/v19.0/", "debug_token", pairs, &u), 0);
        assert_string_equal(u, "https://graph.facebook.com/v19.0/debug_token?input_token=EA%20A%2B%2F&"
                               "access_token=12%7Cs%26%3Dx");
        free(u);
        assert_int_equal(facebook_url("https://g.test", "me", NULL, &u), 0);
        assert_string_equal(u, "https://g.test/me");
        free(u);
        char big[FACEBOOK_TOKEN_MAX + 1];
        memset(big, '%', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        const char *const huge[] = {"input_token", big, NULL};
        assert_int_equal(facebook_url("https://g.test", "debug_token", huge, &u), -E2BIG);
        assert_true(facebook_token_shape("EAAabc|x"));
        assert_false(facebook_token_shape("EAA abc"));
        assert_false(facebook_token_shape(""));
        assert_true(facebook_token_shape(big)); /* FACEBOOK_TOKEN_MAX bytes */
        char over[FACEBOOK_TOKEN_MAX + 2];
        memset(over, 'a', sizeof(over) - 1);
        over[sizeof(over) - 1] = 0;
        assert_false(facebook_token_shape(over));
        assert_true(facebook_id_valid("12345678901234567890123456789012"));
        assert_false(facebook_id_valid("123456789012345678901234567890123"));
}

static void test_appsecret_proof(void **state) {
        (void) state;
        char proof[FACEBOOK_PROOF_LEN + 1];

        /* RFC 4231 test case 2: key "Jefe", "what do ya want for nothing?". */
        assert_int_equal(facebook_appsecret_proof("Jefe", "what do ya want for nothing?", proof), 0);
        assert_string_equal(proof, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert_int_equal(facebook_appsecret_proof(NULL, "x", proof), -EIO);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_debug_token),  cmocka_unit_test(test_debug_token_malformed),
                cmocka_unit_test(test_me),           cmocka_unit_test(test_graph_error),
                cmocka_unit_test(test_device_login), cmocka_unit_test(test_login_status),
                cmocka_unit_test(test_url),          cmocka_unit_test(test_appsecret_proof),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
