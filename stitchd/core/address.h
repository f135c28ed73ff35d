/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Client addresses as the keys of per-address limits.
 *
 * One client rarely owns one IPv6 address: a home or a cloud machine gets a
 * whole /64 (or more), and privacy addresses change by the hour. A limit
 * keyed on the full address gives such a client 2^64 budgets, so every
 * per-address limit (failed and anonymous app logins, HTTP connections)
 * keys on the address's prefix instead: [Http] AddressPrefixIPv6= (/64 by
 * default) and AddressPrefixIPv4= (/32). An IPv4-mapped IPv6 address
 * (::ffff:192.0.2.1) is the IPv4 address it maps. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include "core/config.h"
#include "siphash.h"

/* "2001:db8:1:2::/64", "192.0.2.0/24", or an address that is not numeric. */
#define STITCH_ADDRESS_PREFIX_MAX (INET6_ADDRSTRLEN + 4)

struct stitch_address {
        int family;        /* AF_INET or AF_INET6 */
        unsigned bits;     /* the prefix kept: 32 or 128 for a whole address */
        uint8_t bytes[16]; /* network order; AF_INET uses 4; bits past the prefix are 0 */
};

/* A numeric address (IPv4, or IPv6 without a zone). -EINVAL otherwise. */
int stitch_address_parse(const char *s, struct stitch_address *ret);
/* A socket address (AF_INET, AF_INET6). -EAFNOSUPPORT otherwise. */
int stitch_address_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct stitch_address *ret);
/* Keeps the first bits_ipv4 or bits_ipv6 bits, zeroes the rest. */
void stitch_address_mask(struct stitch_address *a, unsigned bits_ipv4, unsigned bits_ipv6);
/* Masks a as the config says ([Http] AddressPrefixIPv4= and AddressPrefixIPv6=). */
void stitch_address_mask_for_limits(struct stitch_address *a, const struct stitch_config *c);

bool stitch_address_equal(const struct stitch_address *a, const struct stitch_address *b);
uint64_t stitch_address_hash(const struct stitch_address *a, const uint8_t key[static STITCH_SIPHASH_KEY_SIZE]);
/* "2001:db8:1:2::/64"; a whole address without "/N". */
void stitch_address_to_string(const struct stitch_address *a, char ret[static STITCH_ADDRESS_PREFIX_MAX]);

/* The name a per-address limit counts address under: its prefix as text,
 * or, when address is not numeric (a PAM rhost that is a host name,
 * "unknown"), the address as it is (cut to fit). */
void stitch_address_limit_name(const struct stitch_config *c, const char *address,
                               char ret[static STITCH_ADDRESS_PREFIX_MAX]);
/* The same as a number for limiters keyed by one (never 0): SipHash-2-4 of
 * the name with a key drawn once per process, so that nobody can pick an
 * address that shares another client's budget. */
uint32_t stitch_address_limit_id(const struct stitch_config *c, const char *address);
