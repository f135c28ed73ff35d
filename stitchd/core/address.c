/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "core/address.h"
#include "log.h"

int stitch_address_parse(const char *s, struct stitch_address *ret) {
        struct in6_addr a6;
        struct in_addr a4;

        if (!s)
                return -EINVAL;
        if (inet_pton(AF_INET, s, &a4) == 1) {
                *ret = (struct stitch_address) {.family = AF_INET, .bits = 32};
                memcpy(ret->bytes, &a4, 4);
                return 0;
        }
        if (inet_pton(AF_INET6, s, &a6) != 1)
                return -EINVAL;
        if (IN6_IS_ADDR_V4MAPPED(&a6)) {
                *ret = (struct stitch_address) {.family = AF_INET, .bits = 32};
                memcpy(ret->bytes, &a6.s6_addr[12], 4);
                return 0;
        }
        *ret = (struct stitch_address) {.family = AF_INET6, .bits = 128};
        memcpy(ret->bytes, &a6, 16);
        return 0;
}

int stitch_address_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct stitch_address *ret) {
        if (!sa)
                return -EAFNOSUPPORT;
        if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
                *ret = (struct stitch_address) {.family = AF_INET, .bits = 32};
                memcpy(ret->bytes, &((const struct sockaddr_in *) sa)->sin_addr, 4);
                return 0;
        }
        if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
                const struct in6_addr *a6 = &((const struct sockaddr_in6 *) sa)->sin6_addr;
                if (IN6_IS_ADDR_V4MAPPED(a6)) {
                        *ret = (struct stitch_address) {.family = AF_INET, .bits = 32};
                        memcpy(ret->bytes, &a6->s6_addr[12], 4);
                } else {
                        *ret = (struct stitch_address) {.family = AF_INET6, .bits = 128};
                        memcpy(ret->bytes, a6, 16);
                }
                return 0;
        }
        return -EAFNOSUPPORT;
}

void stitch_address_mask(struct stitch_address *a, unsigned bits_ipv4, unsigned bits_ipv6) {
        unsigned width = a->family == AF_INET ? 32 : 128;
        unsigned bits = a->family == AF_INET ? bits_ipv4 : bits_ipv6;

        if (bits > width)
                bits = width;
        if (bits > a->bits)
                bits = a->bits; /* already shorter: nothing to restore */
        for (unsigned i = 0; i < width / 8; i++) {
                unsigned from = i * 8;
                if (from >= bits)
                        a->bytes[i] = 0;
                else if (bits - from < 8)
                        a->bytes[i] &= (uint8_t) (0xff << (8 - (bits - from)));
        }
        a->bits = bits;
}

void stitch_address_mask_for_limits(struct stitch_address *a, const struct stitch_config *c) {
        stitch_address_mask(a, c->http_address_prefix_ipv4, c->http_address_prefix_ipv6);
}

bool stitch_address_equal(const struct stitch_address *a, const struct stitch_address *b) {
        return a->family == b->family && a->bits == b->bits && memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}

uint64_t stitch_address_hash(const struct stitch_address *a, const uint8_t key[static STITCH_SIPHASH_KEY_SIZE]) {
        uint8_t buf[2 + sizeof(a->bytes)];
        buf[0] = (uint8_t) (a->family == AF_INET ? 4 : 6);
        buf[1] = (uint8_t) a->bits;
        memcpy(buf + 2, a->bytes, sizeof(a->bytes));
        return stitch_siphash24(buf, sizeof(buf), key);
}

void stitch_address_to_string(const struct stitch_address *a, char ret[static STITCH_ADDRESS_PREFIX_MAX]) {
        char text[INET6_ADDRSTRLEN];
        unsigned width = a->family == AF_INET ? 32 : 128;

        if (!inet_ntop(a->family, a->bytes, text, sizeof(text)))
                snprintf(text, sizeof(text), "invalid");
        if (a->bits < width)
                snprintf(ret, STITCH_ADDRESS_PREFIX_MAX, "%s/%u", text, a->bits);
        else
                snprintf(ret, STITCH_ADDRESS_PREFIX_MAX, "%s", text);
}

void stitch_address_limit_name(const struct stitch_config *c, const char *address,
                               char ret[static STITCH_ADDRESS_PREFIX_MAX]) {
        struct stitch_address a;

        if (stitch_address_parse(address, &a) < 0) {
                snprintf(ret, STITCH_ADDRESS_PREFIX_MAX, "%s", address ? address : "");
                return;
        }
        stitch_address_mask_for_limits(&a, c);
        stitch_address_to_string(&a, ret);
}

static uint8_t limit_key[STITCH_SIPHASH_KEY_SIZE];
static pthread_once_t limit_key_once = PTHREAD_ONCE_INIT;

static void limit_key_init(void) {
        size_t n = 0;
        while (n < sizeof(limit_key)) {
                ssize_t k = getrandom(limit_key + n, sizeof(limit_key) - n, 0);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        /* Without a secret key the ids are still spread out,
                         * but could be chosen to collide: say so. */
                        log_error_errno(k < 0 ? errno : EIO, "Cannot draw the address limiter's key: %m");
                        return;
                }
                n += (size_t) k;
        }
}

uint32_t stitch_address_limit_id(const struct stitch_config *c, const char *address) {
        char name[STITCH_ADDRESS_PREFIX_MAX];

        (void) pthread_once(&limit_key_once, limit_key_init);
        stitch_address_limit_name(c, address, name);
        uint32_t id = (uint32_t) stitch_siphash24(name, strlen(name), limit_key);
        return id ? id : 1;
}
