/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "macro.h"
#include "wire.h"

#define MAXMSG STITCH_WIRE_MAX_MESSAGE

/* ---- helpers ---------------------------------------------------------------- */

static int parse_str(const char *s) {
        _cleanup_(cJSON_Deletep) cJSON *j = NULL;
        size_t n = strlen(s);
        /* An exactly-sized copy without NUL: ASan catches reads past the end. */
        _cleanup_free_ char *copy = malloc(n ? n : 1);
        int r;

        assert_non_null(copy);
        memcpy(copy, s, n);
        r = stitch_wire_parse(copy, n, &j);
        if (r >= 0)
                assert_non_null(j);
        return r;
}

static int parse_len(const char *m, size_t n) {
        _cleanup_(cJSON_Deletep) cJSON *j = NULL;

        return stitch_wire_parse(m, n, &j);
}

static int parse_call_str(const char *s) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *method = NULL;
        cJSON *params = NULL;

        return stitch_wire_parse_call(s, strlen(s), &root, &method, &params);
}

/* A message of exactly n bytes: {"a":"xxx..."} */
static char *make_message(size_t n) {
        char *m;

        assert_true(n >= 8);
        m = malloc(n + 1);
        assert_non_null(m);
        memcpy(m, "{\"a\":\"", 6);
        memset(m + 6, 'x', n - 8);
        memcpy(m + n - 2, "\"}", 2);
        m[n] = 0;
        return m;
}

static unsigned rng_state = 12345;
static unsigned rng(void) {
        rng_state = rng_state * 1103515245U + 12345U;
        return (rng_state >> 16) & 0x7fff;
}

/* ---- framing ---------------------------------------------------------------- */

static void test_reader_byte_by_byte(void **state) {
        struct stitch_wire_reader r;
        const char *in = "{\"method\":\"a.B\"}\0{\"x\":1}\0{\"par";
        size_t in_len = 17 + 8 + 5;
        const char *msg;
        size_t len;
        unsigned got = 0;

        stitch_wire_reader_init(&r);
        assert_false(stitch_wire_reader_has_partial(&r));
        assert_int_equal(stitch_wire_reader_next(&r, &msg, &len), 0);

        for (size_t i = 0; i < in_len; i++) {
                assert_int_equal(stitch_wire_reader_feed(&r, in + i, 1), 0);
                if (in[i] != 0) {
                        assert_true(stitch_wire_reader_has_partial(&r));
                        assert_int_equal(stitch_wire_reader_next(&r, &msg, &len), 0);
                        continue;
                }
                assert_false(stitch_wire_reader_has_partial(&r));
                assert_int_equal(stitch_wire_reader_next(&r, &msg, &len), 1);
                if (got == 0) {
                        assert_int_equal(len, 16);
                        assert_string_equal(msg, "{\"method\":\"a.B\"}");
                } else {
                        assert_int_equal(len, 7);
                        assert_string_equal(msg, "{\"x\":1}");
                }
                got++;
                assert_int_equal(stitch_wire_reader_next(&r, &msg, &len), 0);
        }
        assert_int_equal(got, 2);
        assert_true(stitch_wire_reader_has_partial(&r));
        stitch_wire_reader_done(&r);
}

static void test_reader_coalesced(void **state) {
        struct stitch_wire_reader r;
        _cleanup_free_ char *all = NULL;
        const unsigned n = 20000;
        size_t total = 0;
        const char *msg;
        size_t len;

        all = malloc(n * 16);
        assert_non_null(all);
        for (unsigned i = 0; i < n; i++) {
                int k = snprintf(all + total, 16, "{\"i\":%u}", i);
                assert_true(k > 0 && k < 16);
                total += (size_t) k + 1; /* keep the NUL */
        }

        stitch_wire_reader_init(&r);
        assert_int_equal(stitch_wire_reader_feed(&r, all, total), 0);
        assert_false(stitch_wire_reader_has_partial(&r));
        for (unsigned i = 0; i < n; i++) {
                char expect[16];

                snprintf(expect, sizeof(expect), "{\"i\":%u}", i);
                assert_int_equal(stitch_wire_reader_next(&r, &msg, &len), 1);
                assert_int_equal(len, strlen(expect));
                assert_string_equal(msg, expect);
        }
        assert_int_equal(stitch_wire_reader_next(&r, &msg, &len), 0);
        /* Fully drained: the reader starts over at the front, all wiped. */
        assert_int_equal(r.len, 0);
        for (size_t i = 0; i < r.cap; i++)
                assert_int_equal(r.buf[i], 0);
        stitch_wire_reader_done(&r);
}

/* Random chunking with reads interleaved, against the expected sequence: also
 * exercises compaction and growth. */
static void test_reader_random_chunks(void **state) {
        for (unsigned round = 0; round < 50; round++) {
                struct stitch_wire_reader r;
                _cleanup_free_ char *all = NULL;
                size_t total = 0, off = 0, cap = 1 << 20;
                unsigned n = 200 + rng() % 200, next_expected = 0;
                const char *msg;
                size_t len;

                all = malloc(cap);
                assert_non_null(all);
                for (unsigned i = 0; i < n; i++) {
                        size_t pad = rng() % (i % 7 == 0 ? 3000 : 40);
                        int k = snprintf(all + total, cap - total, "{\"i\":%u,\"p\":\"", i);
                        assert_true(k > 0);
                        total += (size_t) k;
                        memset(all + total, 'p', pad);
                        total += pad;
                        memcpy(all + total, "\"}", 3);
                        total += 3;
                }

                stitch_wire_reader_init(&r);
                while (off < total) {
                        size_t chunk = 1 + rng() % (rng() % 4 == 0 ? 5000 : 50);
                        chunk = MIN(chunk, total - off);
                        assert_int_equal(stitch_wire_reader_feed(&r, all + off, chunk), 0);
                        off += chunk;
                        while (rng() % 3 != 0) {
                                _cleanup_(cJSON_Deletep) cJSON *j = NULL;
                                int k = stitch_wire_reader_next(&r, &msg, &len);

                                if (k == 0)
                                        break;
                                assert_int_equal(k, 1);
                                assert_int_equal(strlen(msg), len);
                                assert_int_equal(stitch_wire_parse(msg, len, &j), 0);
                                assert_int_equal(cJSON_GetObjectItemCaseSensitive(j, "i")->valueint,
                                                 next_expected);
                                next_expected++;
                        }
                        assert_true(r.len - r.consumed <= total);
                }
                while (stitch_wire_reader_next(&r, &msg, &len) == 1) {
                        _cleanup_(cJSON_Deletep) cJSON *j = NULL;
                        assert_int_equal(stitch_wire_parse(msg, len, &j), 0);
                        assert_int_equal(cJSON_GetObjectItemCaseSensitive(j, "i")->valueint,
                                         next_expected);
                        next_expected++;
                }
                assert_int_equal(next_expected, n);
                assert_false(stitch_wire_reader_has_partial(&r));
                stitch_wire_reader_done(&r);
        }
}

static void test_reader_cap(void **state) {
        _cleanup_free_ char *m = make_message(MAXMSG), *big = make_message(MAXMSG + 1);
        struct stitch_wire_reader r;
        const char *msg;
        size_t len;

        /* Exactly the cap, in one feed (with its NUL). */
        stitch_wire_reader_init(&r);
        assert_int_equal(stitch_wire_reader_feed(&r, m, MAXMSG + 1), 0);
        assert_int_equal(stitch_wire_reader_next(&r, &msg, &len), 1);
        assert_int_equal(len, MAXMSG);
        assert_memory_equal(msg, m, MAXMSG);
        stitch_wire_reader_done(&r);

        /* Exactly the cap, byte by byte; the last byte before the NUL is still OK. */
        stitch_wire_reader_init(&r);
        for (size_t i = 0; i <= MAXMSG; i++)
                assert_int_equal(stitch_wire_reader_feed(&r, m + i, 1), 0);
        assert_int_equal(stitch_wire_reader_next(&r, &msg, &len), 1);
        assert_int_equal(len, MAXMSG);
        assert_int_equal(parse_len(msg, len), 0);
        stitch_wire_reader_done(&r);

        /* One byte over, complete in one feed. */
        stitch_wire_reader_init(&r);
        assert_int_equal(stitch_wire_reader_feed(&r, big, MAXMSG + 2), -EMSGSIZE);
        assert_int_equal(stitch_wire_reader_next(&r, &msg, &len), 0);
        stitch_wire_reader_done(&r);

        /* One byte over, unterminated: rejected as soon as byte MAXMSG+1 arrives. */
        stitch_wire_reader_init(&r);
        assert_int_equal(stitch_wire_reader_feed(&r, big, MAXMSG), 0);
        assert_int_equal(stitch_wire_reader_feed(&r, big + MAXMSG, 1), -EMSGSIZE);
        assert_true(r.len - r.partial <= MAXMSG);
        stitch_wire_reader_done(&r);

        /* A small complete message followed by an overlong one in one feed:
         * the feed is refused as a whole. */
        stitch_wire_reader_init(&r);
        {
                _cleanup_free_ char *both = malloc(3 + MAXMSG + 2);
                assert_non_null(both);
                memcpy(both, "{}", 3);
                memcpy(both + 3, big, MAXMSG + 2);
                assert_int_equal(stitch_wire_reader_feed(&r, both, 3 + MAXMSG + 2), -EMSGSIZE);
                assert_int_equal(stitch_wire_reader_next(&r, &msg, &len), 0);
        }
        stitch_wire_reader_done(&r);
}

static void test_reader_wipes(void **state) {
        struct stitch_wire_reader r;
        const char *msg;
        size_t len;
        const char in[] = "{\"password\":\"hunter2\"}\0{\"b\":2}\0{\"c\":3}";
        char *first;

        stitch_wire_reader_init(&r);
        assert_int_equal(stitch_wire_reader_feed(&r, in, sizeof(in) - 1), 0);
        assert_int_equal(stitch_wire_reader_next(&r, &msg, &len), 1);
        first = (char *) msg;
        assert_string_equal(first, "{\"password\":\"hunter2\"}");
        assert_int_equal(stitch_wire_reader_next(&r, &msg, &len), 1);
        /* The first message is gone from memory... */
        for (size_t i = 0; i < 23; i++)
                assert_int_equal(first[i], 0);
        /* ...and the second is intact. */
        assert_string_equal(msg, "{\"b\":2}");
        assert_int_equal(stitch_wire_reader_next(&r, &msg, &len), 0);
        for (size_t i = 0; i < r.consumed; i++)
                assert_int_equal(r.buf[i], 0);
        assert_true(stitch_wire_reader_has_partial(&r));
        stitch_wire_reader_done(&r);
        assert_null(r.buf);
}

static void test_reader_fill_and_eof(void **state) {
        struct stitch_wire_reader r;
        int sv[2];
        const char *msg;
        size_t len;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        stitch_wire_reader_init(&r);

        assert_int_equal(stitch_wire_reader_fill(&r, sv[0]), -EAGAIN);
        assert_int_equal(write(sv[1], "{\"a\":1}\0{\"b\"", 12), 12);
        assert_int_equal(stitch_wire_reader_fill(&r, sv[0]), 12);
        assert_int_equal(stitch_wire_reader_next(&r, &msg, &len), 1);
        assert_string_equal(msg, "{\"a\":1}");
        assert_int_equal(stitch_wire_reader_next(&r, &msg, &len), 0);
        assert_true(stitch_wire_reader_has_partial(&r));

        /* EOF in the middle of a message. */
        assert_int_equal(close(sv[1]), 0);
        assert_int_equal(stitch_wire_reader_fill(&r, sv[0]), 0);
        assert_int_equal(stitch_wire_reader_next(&r, &msg, &len), 0);
        assert_true(stitch_wire_reader_has_partial(&r));

        stitch_wire_reader_done(&r);
        assert_int_equal(close(sv[0]), 0);
}

/* fill() never takes more from the socket than the cap allows. */
static void test_reader_fill_cap(void **state) {
        _cleanup_free_ char *big = make_message(MAXMSG + 1000);
        struct stitch_wire_reader r;
        int sv[2], k, left = 0;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &(int) { 1 << 20 }, sizeof(int)), 0);
        assert_int_equal(write(sv[1], big, MAXMSG + 1000), (ssize_t) MAXMSG + 1000);

        stitch_wire_reader_init(&r);
        do
                k = stitch_wire_reader_fill(&r, sv[0]);
        while (k > 0);
        assert_int_equal(k, -EMSGSIZE);
        assert_int_equal(r.len - r.partial, MAXMSG + 1);
        /* Sticky. */
        assert_int_equal(stitch_wire_reader_fill(&r, sv[0]), -EMSGSIZE);
        assert_int_equal(ioctl(sv[0], FIONREAD, &left), 0);
        assert_int_equal(left, 1000 - 1);

        stitch_wire_reader_done(&r);
        close(sv[0]);
        close(sv[1]);
}

/* ---- parsing ---------------------------------------------------------------- */

static void test_parse_objects_only(void **state) {
        assert_int_equal(parse_str("{}"), 0);
        assert_int_equal(parse_str(" \t\r\n{ \"a\" : [ 1 , true , null , \"x\" ] } \n"), 0);
        assert_int_equal(parse_str("[]"), -EBADMSG);
        assert_int_equal(parse_str("\"x\""), -EBADMSG);
        assert_int_equal(parse_str("1"), -EBADMSG);
        assert_int_equal(parse_str("null"), -EBADMSG);
        assert_int_equal(parse_str(""), -EBADMSG);
        assert_int_equal(parse_str("   "), -EBADMSG);
        assert_int_equal(parse_str("\xEF\xBB\xBF{}"), -EBADMSG); /* BOM */
}

static void test_parse_malformed(void **state) {
        assert_int_equal(parse_str("{"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":1,}"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\"}"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":tru}"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":1]"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":\"x}"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":\"x\\"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":'x'}"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":\"\\x\"}"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":\"\\u12\"}"), -EBADMSG);
        /* trailing garbage */
        assert_int_equal(parse_str("{} x"), -EBADMSG);
        assert_int_equal(parse_str("{}{}"), -EBADMSG);
        assert_int_equal(parse_str("{}}"), -EBADMSG);
        /* raw control characters in strings */
        assert_int_equal(parse_str("{\"a\":\"x\ty\"}"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":\"x\\ty\"}"), 0);
}

static void test_parse_embedded_nul(void **state) {
        static const char m[] = "{\"a\":\"x\0y\"}";
        static const char m2[] = "{}\0";
        cJSON *j = NULL;

        assert_int_equal(stitch_wire_parse(m, sizeof(m) - 1, &j), -EBADMSG);
        assert_int_equal(stitch_wire_parse(m2, sizeof(m2) - 1, &j), -EBADMSG);
        assert_null(j);
}

static void test_parse_numbers(void **state) {
        assert_int_equal(parse_str("{\"a\":0}"), 0);
        assert_int_equal(parse_str("{\"a\":-0}"), 0);
        assert_int_equal(parse_str("{\"a\":-12.5e+3}"), 0);
        assert_int_equal(parse_str("{\"a\":1E2}"), 0);
        assert_int_equal(parse_str("{\"a\":01}"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":1.}"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":.5}"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":+1}"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":1e}"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":-}"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":0x10}"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":1e999}"), -EBADMSG); /* infinity */
        assert_int_equal(parse_str("{\"a\":[-1e999]}"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":NaN}"), -EBADMSG);
}

static void test_parse_depth(void **state) {
        char buf[512];
        size_t n = 0;

        /* 16 levels (the top-level object counts) are accepted... */
        buf[n++] = '{';
        memcpy(buf + n, "\"a\":", 4), n += 4;
        for (int i = 0; i < STITCH_WIRE_MAX_DEPTH - 1; i++)
                buf[n++] = '[';
        for (int i = 0; i < STITCH_WIRE_MAX_DEPTH - 1; i++)
                buf[n++] = ']';
        buf[n++] = '}';
        buf[n] = 0;
        assert_int_equal(parse_str(buf), 0);

        /* ...17 are not. */
        n = 0;
        buf[n++] = '{';
        memcpy(buf + n, "\"a\":", 4), n += 4;
        for (int i = 0; i < STITCH_WIRE_MAX_DEPTH; i++)
                buf[n++] = '[';
        for (int i = 0; i < STITCH_WIRE_MAX_DEPTH; i++)
                buf[n++] = ']';
        buf[n++] = '}';
        buf[n] = 0;
        assert_int_equal(parse_str(buf), -EBADMSG);

        /* Objects count too. */
        assert_int_equal(parse_str("{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
                                   "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}}}}}}}}}}}}"),
                         -EBADMSG);

        /* Brackets inside strings do not count, escaped quotes included. */
        n = 0;
        memcpy(buf + n, "{\"a\":\"\\\"", 8), n += 8;
        for (int i = 0; i < 100; i++)
                buf[n++] = '[';
        memcpy(buf + n, "\\\\\"}", 5), n += 5;
        assert_int_equal(parse_str(buf), 0);
}

static void test_parse_hostile_depth(void **state) {
        const size_t n = MAXMSG;
        _cleanup_free_ char *m = malloc(n);

        assert_non_null(m);
        m[0] = '{';
        memcpy(m + 1, "\"a\":", 4);
        memset(m + 5, '[', n - 5);
        assert_int_equal(parse_len(m, n), -EBADMSG);
        memset(m + 5, '{', n - 5);
        assert_int_equal(parse_len(m, n), -EBADMSG);
}

static void test_parse_too_long(void **state) {
        _cleanup_free_ char *m = make_message(MAXMSG), *big = make_message(MAXMSG + 1);
        _cleanup_(cJSON_Deletep) cJSON *j = NULL;

        assert_int_equal(stitch_wire_parse(m, MAXMSG, &j), 0);
        assert_int_equal(strlen(cJSON_GetObjectItemCaseSensitive(j, "a")->valuestring), MAXMSG - 8);
        assert_int_equal(parse_len(big, MAXMSG + 1), -EBADMSG);
}

static void test_parse_unicode(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *j = NULL;
        const char *m = "{\"a\":\"\\u00e9\\ud83d\\ude00\\u0001\",\"\xc3\xa9\":\"\xf0\x9f\x98\x80\"}";

        assert_int_equal(stitch_wire_parse(m, strlen(m), &j), 0);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "a")->valuestring,
                            "\xc3\xa9\xf0\x9f\x98\x80\x01");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "\xc3\xa9")->valuestring,
                            "\xf0\x9f\x98\x80");

        /* \u0000 would silently truncate, in values and keys. */
        assert_int_equal(parse_str("{\"a\":\"x\\u0000y\"}"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\\u0000b\":1}"), -EBADMSG);
        /* An escaped backslash followed by the text u0000 is fine. */
        assert_int_equal(parse_str("{\"a\":\"\\\\u0000\"}"), 0);

        /* Lone or reversed surrogates. */
        assert_int_equal(parse_str("{\"a\":\"\\ud800\"}"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":\"\\udc00\"}"), -EBADMSG);
        assert_int_equal(parse_str("{\"a\":\"\\ude00\\ud83d\"}"), -EBADMSG);
}

static void test_parse_invalid_utf8(void **state) {
        static const char *const bad[] = {
                "{\"a\":\"\xff\"}",             /* never valid */
                "{\"a\":\"\xc0\x80\"}",         /* overlong NUL */
                "{\"a\":\"\xe0\x80\xaf\"}",     /* overlong */
                "{\"a\":\"\xed\xa0\x80\"}",     /* UTF-16 surrogate */
                "{\"a\":\"\xf4\x90\x80\x80\"}", /* > U+10FFFF */
                "{\"a\":\"\xc3\"}",             /* truncated */
                "{\"a\":\"\xe2\x82\"}",         /* truncated */
                "{\"\x80\":1}",                 /* in a key */
                "{\"a\":1}\xc3",                /* outside strings */
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(parse_str(bad[i]), -EBADMSG);

        assert_true(stitch_utf8_is_valid("", 0));
        assert_true(stitch_utf8_is_valid("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 14));
        assert_false(stitch_utf8_is_valid("\xf8\x88\x80\x80\x80", 5));
        assert_false(stitch_utf8_is_valid("\xf0\x9f\x98", 3));
        assert_false(stitch_utf8_is_valid("\xe2\x28\xa1", 3));
}

static void test_parse_call(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *m = "{\"method\":\"io.stitch.Token.Verify\",\"parameters\":{\"access_token\":\"t\"}}";
        const char *method = NULL;
        cJSON *params = NULL;

        assert_int_equal(stitch_wire_parse_call(m, strlen(m), &root, &method, &params), 0);
        assert_string_equal(method, "io.stitch.Token.Verify");
        assert_true(cJSON_IsObject(params));
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(params, "access_token")->valuestring, "t");
        cJSON_Delete(TAKE_PTR(root));

        /* Missing parameters: an empty object. */
        m = "{\"method\":\"io.stitch.Admin.Status\"}";
        assert_int_equal(stitch_wire_parse_call(m, strlen(m), &root, &method, &params), 0);
        assert_true(cJSON_IsObject(params));
        assert_null(params->child);
        assert_ptr_equal(cJSON_GetObjectItemCaseSensitive(root, "parameters"), params);

        assert_int_equal(parse_call_str("{\"method\":\"a.B\",\"oneway\":true}"), 0);
        assert_int_equal(parse_call_str("{\"method\":\"a.B\",\"oneway\":1}"), -EBADMSG);
        /* "more" (several replies, as userdb's enumeration asks) is a bool,
         * and cannot go with "oneway". */
        assert_int_equal(parse_call_str("{\"method\":\"a.B\",\"more\":true}"), 0);
        assert_int_equal(parse_call_str("{\"method\":\"a.B\",\"more\":false,\"oneway\":true}"), 0);
        assert_int_equal(parse_call_str("{\"method\":\"a.B\",\"more\":\"yes\"}"), -EBADMSG);
        assert_int_equal(parse_call_str("{\"method\":\"a.B\",\"more\":true,\"oneway\":true}"), -EBADMSG);
        assert_int_equal(parse_call_str("{\"method\":\"a.B\",\"more\":true,\"more\":true}"), -EBADMSG);
        assert_int_equal(parse_call_str("{\"method\":\"a.B\",\"Parameters\":{}}"), -EBADMSG);
        assert_int_equal(parse_call_str("{\"Method\":\"a.B\"}"), -EBADMSG);
        assert_int_equal(parse_call_str("{\"parameters\":{}}"), -EBADMSG);
        assert_int_equal(parse_call_str("{\"method\":1}"), -EBADMSG);
        assert_int_equal(parse_call_str("{\"method\":\"\"}"), -EBADMSG);
        assert_int_equal(parse_call_str("{\"method\":\"a b\"}"), -EBADMSG);
        assert_int_equal(parse_call_str("{\"method\":\"a.B\",\"parameters\":[]}"), -EBADMSG);
        assert_int_equal(parse_call_str("{\"method\":\"a.B\",\"parameters\":null}"), -EBADMSG);
        assert_int_equal(parse_call_str("{\"method\":\"a.B\",\"method\":\"c.D\"}"), -EBADMSG);
        assert_int_equal(parse_call_str("{\"method\":\"a.B\",\"parameters\":{},\"parameters\":{}}"), -EBADMSG);
        assert_int_equal(parse_call_str("[\"method\"]"), -EBADMSG);
}

/* ---- encoding ---------------------------------------------------------------- */

static void test_encode_round_trip(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *call = NULL, *root = NULL;
        _cleanup_free_ char *buf = NULL;
        struct stitch_wire_reader r;
        cJSON *params, *parsed_params;
        const char *method, *msg;
        size_t n, len;

        params = cJSON_CreateObject();
        assert_non_null(params);
        assert_non_null(cJSON_AddStringToObject(params, "user", "alice"));
        assert_non_null(cJSON_AddStringToObject(params, "password", "p\"a\\s\ns\x01\xc3\xa9/\xf0\x9f\x98\x80"));
        assert_non_null(cJSON_AddNumberToObject(params, "n", -9007199254740992.0));
        assert_non_null(cJSON_AddNumberToObject(params, "f", 0.1));
        assert_non_null(cJSON_AddTrueToObject(params, "t"));
        assert_non_null(cJSON_AddNullToObject(params, "z"));
        assert_non_null(cJSON_AddArrayToObject(params, "list"));
        call = stitch_wire_call_new("io.stitch.Auth.Login", params);
        assert_non_null(call);

        assert_int_equal(stitch_wire_encode(call, &buf, &n), 0);
        assert_int_equal(buf[n - 1], 0);
        assert_int_equal(strlen(buf), n - 1);
        assert_null(strchr(buf, '\n')); /* compact */

        stitch_wire_reader_init(&r);
        assert_int_equal(stitch_wire_reader_feed(&r, buf, n), 0);
        assert_int_equal(stitch_wire_reader_next(&r, &msg, &len), 1);
        assert_int_equal(stitch_wire_parse_call(msg, len, &root, &method, &parsed_params), 0);
        assert_string_equal(method, "io.stitch.Auth.Login");
        assert_true(cJSON_Compare(call, root, true));
        stitch_wire_reader_done(&r);
}

static void test_encode_cap(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        _cleanup_free_ char *s = NULL, *buf = NULL;
        size_t n;

        /* {"a":"xxx"} is 8 bytes plus the string. */
        s = malloc(MAXMSG);
        assert_non_null(s);
        memset(s, 'x', MAXMSG - 8);
        s[MAXMSG - 8] = 0;
        o = cJSON_CreateObject();
        assert_non_null(cJSON_AddStringToObject(o, "a", s));
        assert_int_equal(stitch_wire_encode(o, &buf, &n), 0);
        assert_int_equal(n, MAXMSG + 1);
        free(TAKE_PTR(buf));
        cJSON_Delete(TAKE_PTR(o));

        s[MAXMSG - 8] = 'x';
        s[MAXMSG - 7] = 0;
        o = cJSON_CreateObject();
        assert_non_null(cJSON_AddStringToObject(o, "a", s));
        assert_int_equal(stitch_wire_encode(o, &buf, &n), -EMSGSIZE);
        assert_null(buf);
}

/* cJSON_Print() would write 2^53 as 9.00719925474099e+15. */
static void test_encode_numbers(void **state) {
        static const double numbers[] = {
                0, -0.0, 1, -1, 2147483648.0, 1e15 + 1, 9007199254740991.0, 9007199254740992.0,
                -9007199254740992.0, 9007199254740994.0, 1e300, -1e-300, 0.1, 1.0 / 3.0, 5e-324,
                1.7976931348623157e308,
        };
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject(), *back = NULL;
        _cleanup_free_ char *buf = NULL;
        cJSON *a = cJSON_AddArrayToObject(o, "n"), *i;
        size_t n, k = 0;

        assert_non_null(a);
        for (size_t j = 0; j < ELEMENTSOF(numbers); j++)
                cJSON_AddItemToArray(a, cJSON_CreateNumber(numbers[j]));
        assert_int_equal(stitch_wire_encode(o, &buf, &n), 0);
        assert_non_null(strstr(buf, "[0,0,1,-1,2147483648,1000000000000001,9007199254740991,"
                                    "9007199254740992,-9007199254740992,9007199254740994,1e+300,"));
        assert_int_equal(stitch_wire_parse(buf, n - 1, &back), 0);
        cJSON_ArrayForEach(i, cJSON_GetObjectItemCaseSensitive(back, "n")) {
                assert_true(i->valuedouble == numbers[k]);
                k++;
        }
        assert_int_equal(k, ELEMENTSOF(numbers));

        /* A decimal comma in the host program's locale does not leak out. */
        if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
                _cleanup_(cJSON_Deletep) cJSON *h = cJSON_CreateObject();
                _cleanup_free_ char *b2 = NULL;

                assert_non_null(cJSON_AddNumberToObject(h, "half", 0.5));
                assert_int_equal(stitch_wire_encode(h, &b2, &n), 0);
                assert_string_equal(b2, "{\"half\":0.5}");
                assert_non_null(setlocale(LC_NUMERIC, "C"));
        }
}

static void test_encode_invalid(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();
        cJSON *nested = o;
        char *buf = NULL;
        size_t n;

        assert_int_equal(stitch_wire_encode(NULL, &buf, &n), -EINVAL);
        assert_int_equal(stitch_wire_encode(arr, &buf, &n), -EINVAL);

        assert_non_null(cJSON_AddNumberToObject(o, "nan", NAN));
        assert_int_equal(stitch_wire_encode(o, &buf, &n), -EINVAL);
        cJSON_DeleteItemFromObject(o, "nan");
        assert_non_null(cJSON_AddNumberToObject(o, "inf", -INFINITY));
        assert_int_equal(stitch_wire_encode(o, &buf, &n), -EINVAL);
        cJSON_DeleteItemFromObject(o, "inf");

        assert_non_null(cJSON_AddStringToObject(o, "bad", "\xc3("));
        assert_int_equal(stitch_wire_encode(o, &buf, &n), -EINVAL);
        cJSON_DeleteItemFromObject(o, "bad");
        assert_non_null(cJSON_AddStringToObject(o, "\xff", "key"));
        assert_int_equal(stitch_wire_encode(o, &buf, &n), -EINVAL);
        cJSON_DeleteItemFromObject(o, "\xff");

        assert_non_null(cJSON_AddRawToObject(o, "raw", "{}"));
        assert_int_equal(stitch_wire_encode(o, &buf, &n), -EINVAL);
        cJSON_DeleteItemFromObject(o, "raw");

        /* Exactly the nesting the parser accepts, then one more. */
        for (int d = 1; d < STITCH_WIRE_MAX_DEPTH; d++)
                nested = cJSON_AddObjectToObject(nested, "x");
        assert_int_equal(stitch_wire_encode(o, &buf, &n), 0);
        assert_int_equal(parse_len(buf, n - 1), 0);
        free(buf);
        buf = NULL;
        assert_non_null(cJSON_AddObjectToObject(nested, "x"));
        assert_int_equal(stitch_wire_encode(o, &buf, &n), -EINVAL);
        assert_null(buf);
}

static void test_builders(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *a = NULL, *b = NULL, *c = NULL;
        _cleanup_free_ char *s1 = NULL, *s2 = NULL, *s3 = NULL;
        cJSON *p;
        size_t n;

        a = stitch_wire_reply_new(NULL);
        assert_non_null(a);
        assert_int_equal(stitch_wire_encode(a, &s1, &n), 0);
        assert_string_equal(s1, "{\"parameters\":{}}");

        p = cJSON_CreateObject();
        assert_non_null(cJSON_AddStringToObject(p, "user_id", "u"));
        b = stitch_wire_error_new("io.stitch.Error.NotFound", p);
        assert_non_null(b);
        assert_int_equal(stitch_wire_encode(b, &s2, &n), 0);
        assert_string_equal(s2, "{\"error\":\"io.stitch.Error.NotFound\",\"parameters\":{\"user_id\":\"u\"}}");

        c = stitch_wire_call_new("a.B", NULL);
        assert_non_null(c);
        assert_int_equal(stitch_wire_encode(c, &s3, &n), 0);
        assert_string_equal(s3, "{\"method\":\"a.B\",\"parameters\":{}}");
}

static void test_wipe(void **state) {
        cJSON *o, *inner, *keep;
        char *v1, *v2, *k1;
        static const char literal[] = "literal-value";

        o = cJSON_CreateObject();
        assert_non_null(o);
        assert_non_null(cJSON_AddStringToObject(o, "secret_key", "hunter2"));
        inner = cJSON_AddObjectToObject(o, "inner");
        assert_non_null(inner);
        assert_non_null(cJSON_AddStringToObject(inner, "token", "abcdef"));
        /* Constant keys and references must survive (they may be literals). */
        cJSON_AddItemToObjectCS(o, "const_key", cJSON_CreateString("v"));
        keep = cJSON_CreateStringReference(literal);
        cJSON_AddItemToObject(o, "ref", keep);

        v1 = cJSON_GetObjectItemCaseSensitive(o, "secret_key")->valuestring;
        k1 = cJSON_GetObjectItemCaseSensitive(o, "secret_key")->string;
        v2 = cJSON_GetObjectItemCaseSensitive(inner, "token")->valuestring;

        stitch_json_wipe(o);
        assert_int_equal(v1[0], 0);
        assert_int_equal(k1[0], 0);
        assert_int_equal(v2[0], 0);
        assert_memory_equal(v1, "\0\0\0\0\0\0\0", 7);
        assert_string_equal(literal, "literal-value");
        stitch_json_wipe_and_delete(o);
        stitch_json_wipe(NULL);
        stitch_json_wipe_and_delete(NULL);
}

/* ---- parameter decoding -------------------------------------------------------- */

struct login {
        const char *user;
        const char *short_str;
        const char *long_str;
        bool flag;
        int64_t n;
        const cJSON *obj;
        const cJSON *list;
};

static const struct stitch_param login_table[] = {
        { "user", STITCH_PARAM_STRING, offsetof(struct login, user), true, 0 },
        { "short", STITCH_PARAM_STRING, offsetof(struct login, short_str), false, 8 },
        { "long", STITCH_PARAM_STRING, offsetof(struct login, long_str), false, 0 },
        { "flag", STITCH_PARAM_BOOL, offsetof(struct login, flag), false, 0 },
        { "n", STITCH_PARAM_INT, offsetof(struct login, n), false, 0 },
        { "obj", STITCH_PARAM_OBJECT, offsetof(struct login, obj), false, 0 },
        { "list", STITCH_PARAM_ARRAY, offsetof(struct login, list), false, 0 },
};

/* Decodes the "parameters" of a JSON text; returns the result and the bad name. */
static int decode(const char *params_json, struct login *l, const char **bad) {
        _cleanup_(cJSON_Deletep) cJSON *j = NULL;
        static cJSON *keep = NULL; /* results point into the tree: keep the last one */
        int r;

        assert_int_equal(stitch_wire_parse(params_json, strlen(params_json), &j), 0);
        *l = (struct login) { .n = -1 };
        *bad = NULL;
        r = stitch_params_decode(j, login_table, ELEMENTSOF(login_table), l, bad);
        if (*bad) {
                /* Copy the name out before the tree goes. */
                static char name[64];
                snprintf(name, sizeof(name), "%s", *bad);
                *bad = name;
        }
        cJSON_Delete(keep);
        keep = TAKE_PTR(j);
        return r;
}

static void test_decode_ok(void **state) {
        struct login l;
        const char *bad;

        assert_int_equal(decode("{\"user\":\"alice\",\"short\":\"12345678\",\"flag\":true,\"n\":42,"
                                "\"obj\":{\"x\":1},\"list\":[1,2]}",
                                &l, &bad),
                         0);
        assert_string_equal(l.user, "alice");
        assert_string_equal(l.short_str, "12345678");
        assert_null(l.long_str);
        assert_true(l.flag);
        assert_int_equal(l.n, 42);
        assert_true(cJSON_IsObject(l.obj));
        assert_true(cJSON_IsArray(l.list));
        assert_null(bad);

        /* Absent and null optional keys keep their value. */
        assert_int_equal(decode("{\"user\":\"bob\",\"n\":null,\"short\":null}", &l, &bad), 0);
        assert_int_equal(l.n, -1);
        assert_null(l.short_str);
        assert_string_equal(l.user, "bob");

        /* Empty strings are strings. */
        assert_int_equal(decode("{\"user\":\"\"}", &l, &bad), 0);
        assert_string_equal(l.user, "");
}

static void test_decode_errors(void **state) {
        struct login l;
        const char *bad;

        assert_int_equal(decode("{\"user\":\"a\",\"nope\":1}", &l, &bad), -EINVAL);
        assert_string_equal(bad, "nope");
        /* Nothing was written on error. */
        assert_null(l.user);

        assert_int_equal(decode("{\"user\":\"a\",\"user\":\"b\"}", &l, &bad), -EINVAL);
        assert_string_equal(bad, "user");
        assert_int_equal(decode("{\"user\":\"a\",\"n\":1,\"n\":null}", &l, &bad), -EINVAL);
        assert_string_equal(bad, "n");

        assert_int_equal(decode("{\"User\":\"a\"}", &l, &bad), -EINVAL);
        assert_string_equal(bad, "User");

        assert_int_equal(decode("{}", &l, &bad), -EINVAL);
        assert_string_equal(bad, "user");
        assert_int_equal(decode("{\"flag\":true}", &l, &bad), -EINVAL);
        assert_string_equal(bad, "user");
        assert_int_equal(decode("{\"user\":null}", &l, &bad), -EINVAL);
        assert_string_equal(bad, "user");
}

static void test_decode_types(void **state) {
        static const char *const bad_values[] = {
                "{\"user\":1}",          "{\"user\":true}",     "{\"user\":[]}",
                "{\"user\":{}}",         "{\"user\":\"a\",\"flag\":1}", "{\"user\":\"a\",\"flag\":\"true\"}",
                "{\"user\":\"a\",\"n\":\"5\"}", "{\"user\":\"a\",\"n\":true}", "{\"user\":\"a\",\"n\":1.5}",
                "{\"user\":\"a\",\"obj\":[]}", "{\"user\":\"a\",\"list\":{}}", "{\"user\":\"a\",\"obj\":\"{}\"}",
        };
        struct login l;
        const char *bad;

        for (size_t i = 0; i < ELEMENTSOF(bad_values); i++) {
                assert_int_equal(decode(bad_values[i], &l, &bad), -EINVAL);
                assert_non_null(bad);
        }

        /* Not an object at all. */
        {
                _cleanup_(cJSON_Deletep) cJSON *a = cJSON_CreateArray();
                bad = "x";
                assert_int_equal(stitch_params_decode(a, login_table, ELEMENTSOF(login_table), &l, &bad), -EINVAL);
                assert_null(bad);
                assert_int_equal(stitch_params_decode(NULL, login_table, ELEMENTSOF(login_table), &l, NULL), -EINVAL);
        }
}

static void test_decode_int_range(void **state) {
        struct login l;
        const char *bad;

        assert_int_equal(decode("{\"user\":\"a\",\"n\":9007199254740992}", &l, &bad), 0);
        assert_int_equal(l.n, INT64_C(9007199254740992));
        assert_int_equal(decode("{\"user\":\"a\",\"n\":-9007199254740992}", &l, &bad), 0);
        assert_int_equal(l.n, -INT64_C(9007199254740992));
        assert_int_equal(decode("{\"user\":\"a\",\"n\":1e2}", &l, &bad), 0);
        assert_int_equal(l.n, 100);
        assert_int_equal(decode("{\"user\":\"a\",\"n\":-0}", &l, &bad), 0);
        assert_int_equal(l.n, 0);
        assert_int_equal(decode("{\"user\":\"a\",\"n\":9007199254740994}", &l, &bad), -EINVAL);
        assert_int_equal(decode("{\"user\":\"a\",\"n\":-9007199254740994}", &l, &bad), -EINVAL);
        assert_int_equal(decode("{\"user\":\"a\",\"n\":1e300}", &l, &bad), -EINVAL);
        assert_int_equal(decode("{\"user\":\"a\",\"n\":0.5}", &l, &bad), -EINVAL);
        assert_string_equal(bad, "n");
}

static void test_decode_max_len(void **state) {
        char buf[4096];
        struct login l;
        const char *bad;

        assert_int_equal(decode("{\"user\":\"a\",\"short\":\"123456789\"}", &l, &bad), -EINVAL);
        assert_string_equal(bad, "short");
        /* Multi-byte characters count in bytes: 4 x 2 bytes = 8 OK, 9 bytes not. */
        assert_int_equal(decode("{\"user\":\"a\",\"short\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", &l, &bad), 0);
        assert_int_equal(decode("{\"user\":\"a\",\"short\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x\"}", &l, &bad),
                         -EINVAL);

        /* Default maximum. */
        snprintf(buf, sizeof(buf), "{\"user\":\"a\",\"long\":\"%0*d\"}", STITCH_PARAM_DEFAULT_MAX, 0);
        assert_int_equal(decode(buf, &l, &bad), 0);
        assert_int_equal(strlen(l.long_str), STITCH_PARAM_DEFAULT_MAX);
        snprintf(buf, sizeof(buf), "{\"user\":\"a\",\"long\":\"%0*d\"}", STITCH_PARAM_DEFAULT_MAX + 1, 0);
        assert_int_equal(decode(buf, &l, &bad), -EINVAL);
        assert_string_equal(bad, "long");
}

/* Trees built in code, not parsed from the wire, are checked as well. */
static void test_decode_built_tree(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *p = cJSON_CreateObject();
        struct login l = {};
        const char *bad = NULL;

        assert_non_null(cJSON_AddStringToObject(p, "user", "\xff"));
        assert_int_equal(stitch_params_decode(p, login_table, ELEMENTSOF(login_table), &l, &bad), -EINVAL);
        assert_string_equal(bad, "user");
}

/* A table larger than the on-stack duplicate tracker. */
static void test_decode_big_table(void **state) {
        struct stitch_param table[100];
        char names[100][8];
        int64_t values[100] = {};
        _cleanup_(cJSON_Deletep) cJSON *p = cJSON_CreateObject();
        const char *bad = NULL;

        for (int i = 0; i < 100; i++) {
                snprintf(names[i], sizeof(names[i]), "k%d", i);
                table[i] = (struct stitch_param) { names[i], STITCH_PARAM_INT, sizeof(int64_t) * (size_t) i, false, 0 };
                assert_non_null(cJSON_AddNumberToObject(p, names[i], i));
        }
        assert_int_equal(stitch_params_decode(p, table, 100, values, &bad), 0);
        assert_int_equal(values[99], 99);
        assert_non_null(cJSON_AddNumberToObject(p, "k99", 1));
        assert_int_equal(stitch_params_decode(p, table, 100, values, &bad), -EINVAL);
        assert_string_equal(bad, "k99");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reader_byte_by_byte),
                cmocka_unit_test(test_reader_coalesced),
                cmocka_unit_test(test_reader_random_chunks),
                cmocka_unit_test(test_reader_cap),
                cmocka_unit_test(test_reader_wipes),
                cmocka_unit_test(test_reader_fill_and_eof),
                cmocka_unit_test(test_reader_fill_cap),
                cmocka_unit_test(test_parse_objects_only),
                cmocka_unit_test(test_parse_malformed),
                cmocka_unit_test(test_parse_embedded_nul),
                cmocka_unit_test(test_parse_numbers),
                cmocka_unit_test(test_parse_depth),
                cmocka_unit_test(test_parse_hostile_depth),
                cmocka_unit_test(test_parse_too_long),
                cmocka_unit_test(test_parse_unicode),
                cmocka_unit_test(test_parse_invalid_utf8),
                cmocka_unit_test(test_parse_call),
                cmocka_unit_test(test_encode_round_trip),
                cmocka_unit_test(test_encode_cap),
                cmocka_unit_test(test_encode_numbers),
                cmocka_unit_test(test_encode_invalid),
                cmocka_unit_test(test_builders),
                cmocka_unit_test(test_wipe),
                cmocka_unit_test(test_decode_ok),
                cmocka_unit_test(test_decode_errors),
                cmocka_unit_test(test_decode_types),
                cmocka_unit_test(test_decode_int_range),
                cmocka_unit_test(test_decode_max_len),
                cmocka_unit_test(test_decode_built_tree),
                cmocka_unit_test(test_decode_big_table),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
