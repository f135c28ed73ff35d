/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the wire codec: the input is a byte stream from a hostile peer. It
 * goes through the reader in chunks of varying size, every message through
 * parse_call and the parameter decoder, and the whole input through
 * stitch_wire_parse in an exactly-sized buffer (ASan sees over-reads). Parsed
 * messages must survive an encode/parse round trip unchanged. */

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                  \
        do {                      \
                if (!(x))         \
                        abort();  \
        } while (false)

struct login_parameters {
        const char *user;
        const char *service;
        const char *provider;
        const char *password;
        const char *key;
        const char *rhost;
        const char *tty;
        bool interactive;
        int64_t uid;
        const cJSON *data;
        const cJSON *identities;
};

static const struct stitch_param login_table[] = {
        { "user", STITCH_PARAM_STRING, offsetof(struct login_parameters, user), true, 256 },
        { "service", STITCH_PARAM_STRING, offsetof(struct login_parameters, service), false, 64 },
        { "provider", STITCH_PARAM_STRING, offsetof(struct login_parameters, provider), false, 0 },
        { "password", STITCH_PARAM_STRING, offsetof(struct login_parameters, password), false, 128 },
        { "key", STITCH_PARAM_STRING, offsetof(struct login_parameters, key), false, 0 },
        { "rhost", STITCH_PARAM_STRING, offsetof(struct login_parameters, rhost), false, 0 },
        { "tty", STITCH_PARAM_STRING, offsetof(struct login_parameters, tty), false, 0 },
        { "interactive", STITCH_PARAM_BOOL, offsetof(struct login_parameters, interactive), false, 0 },
        { "uid", STITCH_PARAM_INT, offsetof(struct login_parameters, uid), false, 0 },
        { "data", STITCH_PARAM_OBJECT, offsetof(struct login_parameters, data), false, 0 },
        { "identities", STITCH_PARAM_ARRAY, offsetof(struct login_parameters, identities), false, 0 },
};

static unsigned tree_depth(const cJSON *item) {
        unsigned max = 0;

        for (; item; item = item->next) {
                unsigned d = 0;

                CHECK(!item->string || stitch_utf8_is_valid(item->string, strlen(item->string)));
                if (cJSON_IsString(item))
                        CHECK(stitch_utf8_is_valid(item->valuestring, strlen(item->valuestring)));
                if (cJSON_IsObject(item) || cJSON_IsArray(item))
                        d = 1 + tree_depth(item->child);
                max = MAX(max, d);
        }
        return max;
}

/* Equal, member by member and in order. Not cJSON_Compare(): it looks keys
 * up by name, so it gets duplicate keys wrong, and is quadratic. */
static bool tree_equal(const cJSON *a, const cJSON *b) {
        for (; a && b; a = a->next, b = b->next) {
                if ((a->type & 0xFF) != (b->type & 0xFF))
                        return false;
                if (!streq_ptr(a->string, b->string))
                        return false;
                if (cJSON_IsString(a) && !streq(a->valuestring, b->valuestring))
                        return false;
                if (cJSON_IsNumber(a) && a->valuedouble != b->valuedouble)
                        return false;
                if (!tree_equal(a->child, b->child))
                        return false;
        }
        return !a && !b;
}

static void check_wiped(const cJSON *item) {
        for (; item; item = item->next) {
                CHECK(!item->string || item->string[0] == 0);
                CHECK(!item->valuestring || item->valuestring[0] == 0);
                check_wiped(item->child);
        }
}

static void check_decode(const cJSON *params) {
        struct login_parameters p = { .uid = -1 };
        const char *bad = NULL;
        int r;

        r = stitch_params_decode(params, login_table, ELEMENTSOF(login_table), &p, &bad);
        if (r < 0) {
                CHECK(r == -EINVAL);
                CHECK(bad);
                CHECK(!p.user); /* nothing written on error */
                return;
        }
        CHECK(p.user && strlen(p.user) <= 256);
        CHECK(!p.password || strlen(p.password) <= 128);
        CHECK(!p.key || strlen(p.key) <= STITCH_PARAM_DEFAULT_MAX);
        CHECK(p.uid >= -(INT64_C(1) << 53) && p.uid <= (INT64_C(1) << 53));
        CHECK(!p.data || cJSON_IsObject(p.data));
        CHECK(!p.identities || cJSON_IsArray(p.identities));
}

static void check_message(const char *msg, size_t len) {
        cJSON *root = NULL, *again = NULL, *params = NULL, *params2 = NULL;
        const char *method = NULL, *method2 = NULL;
        char *buf = NULL;
        size_t n;
        int r;

        CHECK(len <= STITCH_WIRE_MAX_MESSAGE);
        CHECK(msg[len] == 0);
        CHECK(!memchr(msg, 0, len));

        r = stitch_wire_parse_call(msg, len, &root, &method, &params);
        if (r < 0) {
                CHECK(r == -EBADMSG);
                return;
        }
        CHECK(cJSON_IsObject(root));
        CHECK(cJSON_IsObject(params));
        CHECK(method && *method);
        CHECK(tree_depth(root) <= STITCH_WIRE_MAX_DEPTH);

        check_decode(params);

        /* What we parsed, we can write, and it reads back the same. */
        r = stitch_wire_encode(root, &buf, &n);
        if (r >= 0) {
                CHECK(n >= 1 && buf[n - 1] == 0 && strlen(buf) == n - 1);
                CHECK(stitch_wire_parse_call(buf, n - 1, &again, &method2, &params2) == 0);
                CHECK(streq(method, method2));
                CHECK(tree_equal(root, again));
                explicit_bzero(buf, n);
                free(buf);
                stitch_json_wipe_and_delete(again);
        } else
                CHECK(r == -EMSGSIZE); /* "1e9" grows to "1000000000" */

        stitch_json_wipe(root);
        check_wiped(root);
        cJSON_Delete(root);
}

static uint32_t hash(const uint8_t *data, size_t size) {
        uint32_t h = 2166136261U; /* FNV-1a */

        for (size_t i = 0; i < size; i++)
                h = (h ^ data[i]) * 16777619U;
        return h;
}

/* Hands out every complete message; checks each handed-out message is wiped
 * by the following call. */
static void drain(struct stitch_wire_reader *r) {
        const char *msg, *prev = NULL;
        size_t len, prev_len = 0;
        int k;

        while ((k = stitch_wire_reader_next(r, &msg, &len)) > 0) {
                if (prev)
                        for (size_t i = 0; i <= prev_len; i++)
                                CHECK(prev[i] == 0);
                check_message(msg, len);
                prev = msg;
                prev_len = len;
        }
        CHECK(k == 0);
        CHECK(r->len - r->partial <= STITCH_WIRE_MAX_MESSAGE);
        CHECK(r->consumed <= r->partial && r->partial <= r->len && r->len <= r->cap);
}

/* Feeds the stream through feed() or, through a pipe, fill(). Returns false
 * if the reader refused an overlong message. */
static bool stream(const uint8_t *data, size_t size, uint32_t rnd, bool use_pipe,
                   struct stitch_wire_reader *r) {
        int fds[2] = { -1, -1 };
        bool ok = true;
        size_t off = 0;

        if (use_pipe) {
                CHECK(pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
        }

        while (off < size) {
                size_t chunk;
                int k;

                rnd = rnd * 1103515245U + 12345U;
                chunk = 1 + (rnd >> 16) % ((rnd >> 8) % 4 == 0 ? 8192 : 64);
                chunk = MIN(chunk, size - off);

                if (!use_pipe) {
                        k = stitch_wire_reader_feed(r, data + off, chunk);
                        if (k < 0) {
                                CHECK(k == -EMSGSIZE);
                                ok = false;
                                break;
                        }
                } else {
                        /* A pipe holds 64 KiB, chunks are at most 8 KiB and
                         * the pipe is emptied every round. */
                        CHECK(write(fds[1], data + off, chunk) == (ssize_t) chunk);
                        for (;;) {
                                k = stitch_wire_reader_fill(r, fds[0]);
                                if (k == -EAGAIN)
                                        break;
                                if (k < 0) {
                                        CHECK(k == -EMSGSIZE);
                                        CHECK(stitch_wire_reader_fill(r, fds[0]) == -EMSGSIZE);
                                        ok = false;
                                        goto finish;
                                }
                                CHECK(k > 0);
                                drain(r);
                        }
                }
                off += chunk;
                drain(r);
        }

finish:
        if (use_pipe) {
                close(fds[0]);
                close(fds[1]);
        }
        return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct stitch_wire_reader r;
        uint32_t h = hash(data, size);

        /* 1. The stream through the reader, chunked pseudo-randomly but
         *    reproducibly (the chunking depends only on the input). */
        stitch_wire_reader_init(&r);
        if (stream(data, size, h, h % 8 == 0, &r)) {
                /* Everything up to the last NUL was handed out; the rest is the partial. */
                const uint8_t *last = size > 0 ? memrchr(data, 0, size) : NULL;
                size_t tail = last ? size - (size_t) (last - data) - 1 : size;
                CHECK(stitch_wire_reader_has_partial(&r) == (tail > 0));
        }
        stitch_wire_reader_done(&r);

        /* 2. The whole input as one message, without a terminating NUL. */
        if (size <= STITCH_WIRE_MAX_MESSAGE) {
                char *copy = malloc(size > 0 ? size : 1);
                cJSON *j = NULL;

                CHECK(copy);
                memcpy(copy, data, size);
                if (stitch_wire_parse(copy, size, &j) == 0) {
                        CHECK(cJSON_IsObject(j));
                        CHECK(!memchr(copy, 0, size));
                        CHECK(stitch_utf8_is_valid(copy, size));
                        CHECK(tree_depth(j) <= STITCH_WIRE_MAX_DEPTH);
                        stitch_json_wipe_and_delete(j);
                }
                free(copy);
        }

        return 0;
}
