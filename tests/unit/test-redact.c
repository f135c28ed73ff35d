/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/redact.c: store specifications are shown (startup log,
 * status reply, error messages) without the passwords they may carry. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "redact.h"

static void assert_redacts(const char *in, const char *expect) {
        _cleanup_free_ char *out = stitch_redact_url(in);
        assert_non_null(out);
        assert_string_equal(out, expect);
}

static void test_unchanged(void **state) {
        static const char *const keep[] = {
                "",
                "sqlite:/var/lib/stitchd/stitch.db",
                "sqlite:/tmp/stitch-test.Ab3/stitch.db",
                "sqlite:/var/lib/my store/stitch.db",
                "postgresql://db.example.com/stitch",
                "postgresql://stitch@db.example.com:5432/stitch", /* a user, no password */
                "postgresql://db.example.com:5432/stitch?sslmode=require&application_name=stitchd",
                "postgresql://u:@db/stitch", /* empty password: nothing to hide */
                "postgresql://db/stitch?password=",
                "postgresql:host=db user=stitch dbname=stitch",
                "no-scheme-at-all",
        };
        for (size_t i = 0; i < ELEMENTSOF(keep); i++)
                assert_redacts(keep[i], keep[i]);
}

static void test_userinfo(void **state) {
        assert_redacts("postgresql://u:s3cretpw@127.0.0.1/db", "postgresql://u:***@127.0.0.1/db");
        assert_redacts("postgres://stitch:pw@db.example.com:5432/stitch?sslmode=require",
                       "postgres://stitch:***@db.example.com:5432/stitch?sslmode=require");
        assert_redacts("postgresql://:pw@db/x", "postgresql://:***@db/x");
        assert_redacts("postgresql://u:a@b@db/x", "postgresql://u:***@db/x");     /* '@' in the password */
        assert_redacts("postgresql://u:p/w:x@db/x", "postgresql://u:***@db/x");   /* '/' and ':' too */
        assert_redacts("postgresql://u:p?w#x@db/x", "postgresql://u:***@db/x");   /* '?' and '#' too */
        assert_redacts("postgresql://u:p%40ss@db/x", "postgresql://u:***@db/x");  /* percent-encoded */
        assert_redacts("mysql://root:toor@[::1]:3306/x", "mysql://root:***@[::1]:3306/x");
}

static void test_parameters(void **state) {
        assert_redacts("postgresql://db/stitch?user=u&password=s3cretpw",
                       "postgresql://db/stitch?user=u&password=***");
        assert_redacts("postgresql://db/stitch?password=s3cretpw&sslmode=require",
                       "postgresql://db/stitch?password=***&sslmode=require");
        assert_redacts("postgresql://db/stitch?PassWord=x", "postgresql://db/stitch?PassWord=***");
        assert_redacts("postgresql://db/stitch?passfile=/root/.pgpass", "postgresql://db/stitch?passfile=***");
        assert_redacts("postgresql://db/stitch?sslpassword=k&sslkey=/etc/k.pem&sslcert=/etc/c.pem",
                       "postgresql://db/stitch?sslpassword=***&sslkey=***&sslcert=/etc/c.pem");
        assert_redacts("redis://cache/0?auth_token=t&client_secret=c&api_key=k&pwd=p&credentials=z",
                       "redis://cache/0?auth_token=***&client_secret=***&api_key=***&pwd=***&credentials=***");
        assert_redacts("postgresql://u:pw@db/stitch?password=pw2", "postgresql://u:***@db/stitch?password=***");
        /* libpq keyword/value strings, quoted values included. */
        assert_redacts("postgresql:host=db user=u password=s3cretpw dbname=stitch",
                       "postgresql:host=db user=u password=*** dbname=stitch");
        assert_redacts("postgresql:password=s3cretpw", "postgresql:password=***");
        assert_redacts("postgresql:host=db password='a b\\' c' dbname=stitch",
                       "postgresql:host=db password=*** dbname=stitch");
        assert_redacts("postgresql:host=db\tpassword=x\tdbname=d", "postgresql:host=db\tpassword=***\tdbname=d");
        assert_redacts("postgresql:password='unterminated", "postgresql:password=***");
        assert_redacts("sqlite:/var/lib/x.db?key=0123abcd", "sqlite:/var/lib/x.db?key=***");
}

static void test_never_leaks(void **state) {
        /* However the secret is placed, it is not in the output. */
        static const char *const leak[] = {
                "postgresql://u:SECRET@host/db",
                "postgresql://u:SECRET@host/db?application_name=a@b",
                "postgresql://u:xSECRETx@host/db#frag",
                "postgresql://host/db?password=SECRET",
                "postgresql://host/db?password=SECRET#frag",
                "postgresql://host/db?x=1&password=SECRET;y=2",
                "postgresql://host/db?x=1;password=SECRET",
                "postgresql://host/db?password=pre?SECRET",
                "postgresql://host/db?password=pre=SECRET",
                "postgresql://host/db?password=pre#SECRET",
                "postgresql:host=h password=SECRET",
                "postgresql:host=h password = SECRET",
                "postgresql:host=h password='x SECRET'",
                "postgresql:password=SECRET&password=SECRET",
                "a:b://u:SECRET@h",
        };
        for (size_t i = 0; i < ELEMENTSOF(leak); i++) {
                _cleanup_free_ char *out = stitch_redact_url(leak[i]);
                assert_non_null(out);
                if (strstr(out, "SECRET"))
                        fail_msg("\"%s\" became \"%s\"", leak[i], out);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_unchanged),
                cmocka_unit_test(test_userinfo),
                cmocka_unit_test(test_parameters),
                cmocka_unit_test(test_never_leaks),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
