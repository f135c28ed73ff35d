/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for stitchd/core/address.c: parsing (IPv4, IPv6, IPv4-mapped),
 * prefixes at and around byte boundaries, the text form, and the limit
 * names and ids that group one client's /64. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "core/address.h"

static struct stitch_config config(unsigned v4, unsigned v6) {
        struct stitch_config c = {};
        c.http_address_prefix_ipv4 = v4;
        c.http_address_prefix_ipv6 = v6;
        return c;
}

static void limit_name_is(unsigned v4, unsigned v6, const char *address, const char *expected) {
        struct stitch_config c = config(v4, v6);
        char name[STITCH_ADDRESS_PREFIX_MAX];
        stitch_address_limit_name(&c, address, name);
        assert_string_equal(name, expected);
}

static void test_parse(void **state) {
        struct stitch_address a, b;
        (void) state;
        assert_int_equal(stitch_address_parse("192.0.2.1", &a), 0);
        assert_int_equal(a.family, AF_INET);
        assert_int_equal(a.bits, 32);
        assert_int_equal(stitch_address_parse("::ffff:192.0.2.1", &b), 0);
        assert_true(stitch_address_equal(&a, &b));
        assert_int_equal(stitch_address_parse("2001:db8::1", &a), 0);
        assert_int_equal(a.family, AF_INET6);
        assert_int_equal(a.bits, 128);
        assert_int_equal(stitch_address_parse("fe80::1%eth0", &a), -EINVAL);
        assert_int_equal(stitch_address_parse("example.com", &a), -EINVAL);
        assert_int_equal(stitch_address_parse("", &a), -EINVAL);
        assert_int_equal(stitch_address_parse(NULL, &a), -EINVAL);
}

static void test_prefixes(void **state) {
        (void) state;
        limit_name_is(32, 64, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64");
        limit_name_is(32, 64, "2001:db8:1:2::ffff", "2001:db8:1:2::/64");
        limit_name_is(32, 63, "2001:db8:1:3::1", "2001:db8:1:2::/63");
        limit_name_is(32, 65, "2001:db8:1:2:ffff::1", "2001:db8:1:2:8000::/65");
        limit_name_is(32, 1, "ffff::1", "8000::/1");
        limit_name_is(32, 128, "2001:db8::1", "2001:db8::1");
        limit_name_is(32, 64, "192.0.2.77", "192.0.2.77");
        limit_name_is(24, 64, "192.0.2.77", "192.0.2.0/24");
        limit_name_is(23, 64, "192.0.3.77", "192.0.2.0/23");
        limit_name_is(24, 64, "::ffff:192.0.2.77", "192.0.2.0/24");
        limit_name_is(1, 64, "200.1.1.1", "128.0.0.0/1");
        /* Not an address: taken as it is. */
        limit_name_is(32, 64, "unknown", "unknown");
        limit_name_is(32, 64, "host.example.com", "host.example.com");
}

static void test_mask_never_widens(void **state) {
        struct stitch_address a;
        (void) state;
        assert_int_equal(stitch_address_parse("2001:db8:1:2::1", &a), 0);
        stitch_address_mask(&a, 32, 48);
        stitch_address_mask(&a, 32, 64);
        assert_int_equal(a.bits, 48);
        char s[STITCH_ADDRESS_PREFIX_MAX];
        stitch_address_to_string(&a, s);
        assert_string_equal(s, "2001:db8:1::/48");
}

static void test_limit_ids(void **state) {
        struct stitch_config c = config(32, 64);
        (void) state;
        uint32_t one = stitch_address_limit_id(&c, "2001:db8:1:2::1");
        assert_int_not_equal(one, 0);
        assert_int_equal(stitch_address_limit_id(&c, "2001:db8:1:2:aaaa:bbbb:cccc:dddd"), one);
        assert_int_not_equal(stitch_address_limit_id(&c, "2001:db8:1:3::1"), one);
        assert_int_equal(stitch_address_limit_id(&c, "::ffff:10.0.0.1"), stitch_address_limit_id(&c, "10.0.0.1"));
        assert_int_not_equal(stitch_address_limit_id(&c, "10.0.0.2"), stitch_address_limit_id(&c, "10.0.0.1"));
        /* An IPv4 address and an IPv6 prefix that print alike stay apart. */
        struct stitch_address a, b;
        uint8_t key[STITCH_SIPHASH_KEY_SIZE] = {1};
        assert_int_equal(stitch_address_parse("10.0.0.1", &a), 0);
        assert_int_equal(stitch_address_parse("a00:1::", &b), 0);
        assert_false(stitch_address_equal(&a, &b));
        assert_int_not_equal(stitch_address_hash(&a, key), stitch_address_hash(&b, key));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_prefixes),
                cmocka_unit_test(test_mask_never_widens),
                cmocka_unit_test(test_limit_ids),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
