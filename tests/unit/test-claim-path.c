/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for stitchd/core/claim-path.c: MetadataFields= parsing and
 * mapping the claims of a verified token to user metadata. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/claim-path.h"
#include "macro.h"
#include "strv.h"

static struct stitch_metadata_fields *parse_ok(const char *value) {
        struct stitch_metadata_fields *f = NULL;
        char error[256];
        int r = stitch_metadata_fields_parse(value, &f, error, sizeof(error));
        if (r < 0)
                fail_msg("parse of '%s' failed: %s", value ? value : "(null)", error);
        return f;
}

static int parse_err(const char *value, char *error, size_t size) {
        struct stitch_metadata_fields *f = NULL;
        int r = stitch_metadata_fields_parse(value, &f, error, size);
        assert_true(r < 0);
        assert_null(f);
        return r;
}

static void assert_path(const struct stitch_metadata_field *m, const char *const *want) {
        size_t n = stitch_strv_length(m->path);
        size_t k = 0;
        while (want[k])
                k++;
        assert_int_equal(n, k);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(m->path[i], want[i]);
}

static void test_parse_simple(void **state) {
        struct stitch_metadata_fields *f = parse_ok("  email\tuser_data.name=fullName   groups! ");
        assert_int_equal(f->n, 3);
        assert_path(&f->fields[0], (const char *[]) { "email", NULL });
        assert_string_equal(f->fields[0].name, "email");
        assert_false(f->fields[0].required);
        assert_path(&f->fields[1], (const char *[]) { "user_data", "name", NULL });
        assert_string_equal(f->fields[1].name, "fullName");
        assert_path(&f->fields[2], (const char *[]) { "groups", NULL });
        assert_true(f->fields[2].required);
        stitch_metadata_fields_free(f);

        f = parse_ok("");
        assert_int_equal(f->n, 0);
        stitch_metadata_fields_free(f);
        f = parse_ok(NULL);
        assert_int_equal(f->n, 0);
        stitch_metadata_fields_free(f);
}

static void test_parse_default_name_is_last_component(void **state) {
        struct stitch_metadata_fields *f = parse_ok("a.b.c my_metadata.name=anotherName!");
        assert_string_equal(f->fields[0].name, "c");
        assert_string_equal(f->fields[1].name, "anotherName");
        assert_true(f->fields[1].required);
        stitch_metadata_fields_free(f);
}

static void test_parse_escapes(void **state) {
        struct stitch_metadata_fields *f = parse_ok("http://example\\.com/id a\\\\b.c\\=d x\\!=bang y\\!");
        assert_int_equal(f->n, 4);
        assert_path(&f->fields[0], (const char *[]) { "http://example.com/id", NULL });
        assert_string_equal(f->fields[0].name, "http://example.com/id");
        assert_path(&f->fields[1], (const char *[]) { "a\\b", "c=d", NULL });
        assert_string_equal(f->fields[1].name, "c=d");
        assert_path(&f->fields[2], (const char *[]) { "x!", NULL });
        assert_string_equal(f->fields[2].name, "bang");
        assert_false(f->fields[2].required);
        assert_path(&f->fields[3], (const char *[]) { "y!", NULL });
        assert_false(f->fields[3].required);
        stitch_metadata_fields_free(f);

        /* an escaped dot in FIELD is just a dot; "\\." keeps the backslash and splits */
        f = parse_ok("org\\.example.role=org.role a\\\\.b");
        assert_path(&f->fields[0], (const char *[]) { "org.example", "role", NULL });
        assert_string_equal(f->fields[0].name, "org.role");
        assert_path(&f->fields[1], (const char *[]) { "a\\", "b", NULL });
        stitch_metadata_fields_free(f);
}

static void test_parse_malformed(void **state) {
        char error[256];
        struct {
                const char *value, *message_part;
        } cases[] = {
                { "a..b", "empty path component" },
                { ".a", "empty path component" },
                { "a.", "empty path component" },
                { "=name", "no claim path" },
                { "!", "no claim path" },
                { "a=", "empty field name" },
                { "a=b=c", "more than one" },
                { "a!b", "may only end" },
                { "a!!", "may only end" },
                { "a\\x", "backslash" },
                { "a\\", "backslash" },
                { "a b a=b", "both map to field" },
                { "x.email email", "both map to field" },
                { "a\x01", "UTF-8" },
                { "a=\xff", "UTF-8" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                assert_int_equal(parse_err(cases[i].value, error, sizeof(error)), -EINVAL);
                if (!strstr(error, cases[i].message_part))
                        fail_msg("'%s': message '%s' lacks '%s'", cases[i].value, error, cases[i].message_part);
                assert_non_null(strstr(error, "MetadataFields"));
        }
        /* A message without a buffer is fine. */
        struct stitch_metadata_fields *f = NULL;
        assert_int_equal(stitch_metadata_fields_parse("a..b", &f, NULL, 0), -EINVAL);
}

static void test_parse_limits(void **state) {
        char error[256], buf[STITCH_METADATA_SPEC_TEXT_MAX + 64];
        size_t n = 0;

        /* field name: 63 bytes fine, 64 not (Stitch: under 64) */
        memset(buf, 'f', 64);
        buf[63] = 0;
        stitch_metadata_fields_free(parse_ok(buf));
        buf[63] = 'f';
        buf[64] = 0;
        assert_int_equal(parse_err(buf, error, sizeof(error)), -EINVAL);
        assert_non_null(strstr(error, "longer than 63"));
        /* but a long claim with a short FIELD is fine */
        snprintf(buf + 64, sizeof(buf) - 64, "=short");
        stitch_metadata_fields_free(parse_ok(buf));

        /* depth */
        stitch_metadata_fields_free(parse_ok("a.b.c.d.e.f.g.h"));
        assert_int_equal(parse_err("a.b.c.d.e.f.g.h.i", error, sizeof(error)), -E2BIG);

        /* count */
        n = 0;
        for (int i = 0; i <= STITCH_METADATA_FIELDS_MAX; i++)
                n += (size_t) snprintf(buf + n, sizeof(buf) - n, "f%d ", i);
        assert_int_equal(parse_err(buf, error, sizeof(error)), -E2BIG);

        /* whole value */
        memset(buf, 'a', STITCH_METADATA_SPEC_TEXT_MAX + 1);
        buf[STITCH_METADATA_SPEC_TEXT_MAX + 1] = 0;
        assert_int_equal(parse_err(buf, error, sizeof(error)), -E2BIG);
}

static const char claims_text[] =
        "{\"sub\":\"24601\",\"email\":\"j@example.com\",\"email_verified\":true,\"age\":42,"
        "\"user_data\":{\"name\":\"Jean\",\"address\":{\"city\":\"Digne\"},\"nothing\":null},"
        "\"http://example.com/id\":\"ext-1\",\"roles\":[\"a\",\"b\"],\"a.b\":\"dotted\"}";

static int apply(const char *spec, cJSON **ret, char *error, size_t size) {
        struct stitch_metadata_fields *f = parse_ok(spec);
        cJSON *claims = cJSON_Parse(claims_text);
        assert_non_null(claims);
        int r = stitch_metadata_fields_apply(f, claims, ret, error, size);
        cJSON_Delete(claims);
        stitch_metadata_fields_free(f);
        return r;
}

static void test_apply_nested_and_types(void **state) {
        cJSON *out = NULL;
        char error[256];
        assert_int_equal(apply("email! email_verified=verified age user_data.name=name user_data.address "
                               "http://example\\.com/id=extId roles a\\.b=dotted",
                               &out, error, sizeof(error)),
                         0);
        char *text = cJSON_PrintUnformatted(out);
        assert_string_equal(text, "{\"email\":\"j@example.com\",\"verified\":true,\"age\":42,\"name\":\"Jean\","
                                  "\"address\":{\"city\":\"Digne\"},\"extId\":\"ext-1\",\"roles\":[\"a\",\"b\"],"
                                  "\"dotted\":\"dotted\"}");
        free(text);
        cJSON_Delete(out);
}

static void test_apply_missing(void **state) {
        cJSON *out = NULL;
        char error[256];
        /* optional and missing: left out; null counts as missing; a path
         * through a non-object is missing */
        assert_int_equal(apply("phone user_data.nothing email.local user_data.name.first", &out, error, sizeof(error)), 0);
        assert_null(out->child);
        cJSON_Delete(out);

        out = NULL;
        assert_int_equal(apply("email user_data.phone=phone!", &out, error, sizeof(error)), -ENOENT);
        assert_null(out);
        assert_string_equal(error, "required claim \"user_data.phone=phone!\" (field \"phone\") is missing");
        assert_int_equal(apply("user_data.nothing!", &out, error, sizeof(error)), -ENOENT);
        /* the value never shows in a message */
        assert_int_equal(apply("email.x!", &out, error, sizeof(error)), -ENOENT);
        assert_null(strstr(error, "j@example.com"));
}

static void test_apply_size_cap(void **state) {
        char *big = malloc(STITCH_METADATA_VALUE_MAX + 64);
        int k = snprintf(big, 64, "{\"s\":\"");
        memset(big + k, 'x', STITCH_METADATA_VALUE_MAX + 1);
        snprintf(big + k + STITCH_METADATA_VALUE_MAX + 1, 8, "\"}");
        cJSON *claims = cJSON_Parse(big);
        assert_non_null(claims);
        struct stitch_metadata_fields *f = parse_ok("s");
        cJSON *out = NULL;
        char error[256];
        assert_int_equal(stitch_metadata_fields_apply(f, claims, &out, error, sizeof(error)), -E2BIG);
        assert_non_null(strstr(error, "larger than"));
        assert_null(strstr(error, "xxxx"));
        /* exactly at the cap */
        cJSON_Delete(claims);
        claims = cJSON_CreateObject();
        big[k + STITCH_METADATA_VALUE_MAX] = 0;
        cJSON_AddStringToObject(claims, "s", big + k);
        assert_int_equal(stitch_metadata_fields_apply(f, claims, &out, error, sizeof(error)), 0);
        cJSON_Delete(out);
        cJSON_Delete(claims);
        stitch_metadata_fields_free(f);
        free(big);
}

static void test_lookup(void **state) {
        cJSON *claims = cJSON_Parse(claims_text);
        char *p1[] = { (char *) "user_data", (char *) "address", (char *) "city", NULL };
        char *p2[] = { (char *) "roles", (char *) "0", NULL };
        char *p3[] = { NULL };
        assert_string_equal(stitch_claim_path_lookup(claims, p1)->valuestring, "Digne");
        assert_null(stitch_claim_path_lookup(claims, p2)); /* no indexing into arrays */
        assert_null(stitch_claim_path_lookup(claims, p3));
        assert_null(stitch_claim_path_lookup(claims, NULL));
        cJSON_Delete(claims);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_simple),
                cmocka_unit_test(test_parse_default_name_is_last_component),
                cmocka_unit_test(test_parse_escapes),
                cmocka_unit_test(test_parse_malformed),
                cmocka_unit_test(test_parse_limits),
                cmocka_unit_test(test_apply_nested_and_types),
                cmocka_unit_test(test_apply_missing),
                cmocka_unit_test(test_apply_size_cap),
                cmocka_unit_test(test_lookup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
