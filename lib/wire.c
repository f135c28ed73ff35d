/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The wire codec: varlink framing, a strict front end for cJSON and the
 * table-driven parameter decoder. Depends on libc and cJSON only, and logs
 * nothing: it runs inside the PAM module, i.e. inside sshd or sudo. */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "wire.h"

#define READER_MIN_ALLOC 4096U
#define MAX_SAFE_INTEGER 9007199254740992.0 /* 2^53 */

/* ---- framing ------------------------------------------------------------ */

void stitch_wire_reader_init(struct stitch_wire_reader *r) {
        *r = (struct stitch_wire_reader) {};
}

void stitch_wire_reader_done(struct stitch_wire_reader *r) {
        if (r->buf) {
                explicit_bzero(r->buf, r->cap);
                free(r->buf);
        }
        stitch_wire_reader_init(r);
}

/* Wipes the message last handed out by _next(). It ends at 'consumed' (its NUL
 * is the byte before) and everything before it is already zero, so walk back
 * to the previous zero byte: O(length of that message). */
static void wipe_handed_out(struct stitch_wire_reader *r) {
        size_t start;

        if (r->consumed == 0)
                return;

        start = r->consumed - 1;
        while (start > 0 && r->buf[start - 1] != 0)
                start--;
        explicit_bzero(r->buf + start, r->consumed - start);
}

/* Makes room for 'n' more bytes. Moves the unconsumed bytes to the front only
 * when that costs no more than the space it frees, otherwise grows (which
 * compacts for free), so many small messages never cost O(n^2). Old copies
 * are wiped: they may hold secrets, hence no realloc(). */
static int reserve(struct stitch_wire_reader *r, size_t n) {
        size_t pending, need, new_cap;
        char *b;

        if (r->cap - r->len >= n)
                return 0;

        pending = r->len - r->consumed;
        if (n > SIZE_MAX / 4 - pending)
                return -ENOMEM;
        need = pending + n;

        if (r->consumed > 0 && r->consumed >= pending && r->cap >= need) {
                explicit_bzero(r->buf, r->consumed);
                memmove(r->buf, r->buf + r->consumed, pending);
                explicit_bzero(r->buf + pending, r->len - pending);
                r->partial -= r->consumed;
                r->len = pending;
                r->consumed = 0;
                return 0;
        }

        /* Always at least double, so the copy below is paid for by the
         * space it makes. */
        new_cap = r->cap > 0 ? r->cap * 2 : READER_MIN_ALLOC;
        while (new_cap < need)
                new_cap *= 2;

        b = malloc(new_cap);
        if (!b)
                return -ENOMEM;
        if (pending > 0)
                memcpy(b, r->buf + r->consumed, pending);
        memset(b + pending, 0, new_cap - pending);
        if (r->buf) {
                explicit_bzero(r->buf, r->cap);
                free(r->buf);
        }
        r->buf = b;
        r->cap = new_cap;
        r->partial -= r->consumed;
        r->len = pending;
        r->consumed = 0;
        return 0;
}

/* Accounts for the bytes appended at [start, len): finds the message
 * boundaries in them and checks every message against the cap. */
static int account(struct stitch_wire_reader *r, size_t start) {
        size_t partial = r->partial, i = start;

        for (;;) {
                const char *z = memchr(r->buf + i, 0, r->len - i);

                if (!z) {
                        if (r->len - partial > STITCH_WIRE_MAX_MESSAGE)
                                return -EMSGSIZE;
                        break;
                }
                if ((size_t) (z - r->buf) - partial > STITCH_WIRE_MAX_MESSAGE)
                        return -EMSGSIZE;
                i = (size_t) (z - r->buf) + 1;
                partial = i;
        }

        r->partial = partial;
        return 0;
}

int stitch_wire_reader_feed(struct stitch_wire_reader *r, const void *data, size_t n) {
        size_t old_len;
        int k;

        if (n == 0)
                return 0;

        k = reserve(r, n);
        if (k < 0)
                return k;

        old_len = r->len;
        memcpy(r->buf + r->len, data, n);
        r->len += n;

        k = account(r, old_len);
        if (k < 0) {
                /* Leave the reader as it was. */
                explicit_bzero(r->buf + old_len, n);
                r->len = old_len;
                return k;
        }
        return 0;
}

int stitch_wire_reader_fill(struct stitch_wire_reader *r, int fd) {
        size_t allowed, old_len;
        ssize_t l;
        int k;

        /* An earlier call found an overlong message: the stream is lost. */
        if (r->len - r->partial > STITCH_WIRE_MAX_MESSAGE)
                return -EMSGSIZE;

        /* Never read beyond what the pending message may still grow to: one
         * byte more than the cap makes an overlong message detectable. */
        allowed = STITCH_WIRE_MAX_MESSAGE + 1 - (r->len - r->partial);

        k = reserve(r, MIN(allowed, (size_t) READER_MIN_ALLOC));
        if (k < 0)
                return k;

        old_len = r->len;
        do
                l = read(fd, r->buf + r->len, MIN(allowed, r->cap - r->len));
        while (l < 0 && errno == EINTR);
        if (l < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        if (l == 0)
                return 0;

        r->len += (size_t) l;
        k = account(r, old_len);
        if (k < 0)
                return k;

        return (int) l;
}

int stitch_wire_reader_next(struct stitch_wire_reader *r, const char **ret_msg, size_t *ret_len) {
        const char *z;
        size_t start;

        wipe_handed_out(r);

        if (r->consumed == r->len) {
                /* Everything handed out and wiped: start over at the front. */
                r->len = r->consumed = r->partial = 0;
                return 0;
        }
        if (r->consumed >= r->partial)
                return 0;

        start = r->consumed;
        z = memchr(r->buf + start, 0, r->partial - start);
        /* account() guarantees a NUL before 'partial'. */
        if (!z)
                return -EBADMSG;

        r->consumed = (size_t) (z - r->buf) + 1;
        *ret_msg = r->buf + start;
        *ret_len = (size_t) (z - r->buf) - start;
        return 1;
}

bool stitch_wire_reader_has_partial(const struct stitch_wire_reader *r) {
        return r->len > r->partial;
}

/* ---- UTF-8 and the strict pre-scan ---------------------------------------- */

bool stitch_utf8_is_valid(const char *s, size_t n) {
        const uint8_t *p = (const uint8_t *) s;
        size_t i = 0;

        while (i < n) {
                uint8_t c = p[i];
                size_t k;
                uint8_t lo = 0x80, hi = 0xBF;

                if (c < 0x80) {
                        i++;
                        continue;
                }

                if (c >= 0xC2 && c <= 0xDF)
                        k = 1;
                else if (c >= 0xE0 && c <= 0xEF) {
                        k = 2;
                        if (c == 0xE0)
                                lo = 0xA0; /* overlong */
                        else if (c == 0xED)
                                hi = 0x9F; /* surrogates */
                } else if (c >= 0xF0 && c <= 0xF4) {
                        k = 3;
                        if (c == 0xF0)
                                lo = 0x90; /* overlong */
                        else if (c == 0xF4)
                                hi = 0x8F; /* > U+10FFFF */
                } else
                        return false;

                if (n - i <= k)
                        return false;
                if (p[i + 1] < lo || p[i + 1] > hi)
                        return false;
                for (size_t j = 2; j <= k; j++)
                        if (p[i + j] < 0x80 || p[i + j] > 0xBF)
                                return false;
                i += k + 1;
        }

        return true;
}

static bool is_ws(uint8_t c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_hex(uint8_t c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_digit(uint8_t c) {
        return c >= '0' && c <= '9';
}

/* Scans a string body starting after the opening quote. Returns the index
 * after the closing quote, or 0 on error (0 is never a valid result). */
static size_t scan_string(const uint8_t *p, size_t n, size_t i) {
        while (i < n) {
                uint8_t c = p[i];

                if (c == '"')
                        return i + 1;
                if (c < 0x20)
                        return 0; /* raw control characters are not JSON */
                if (c != '\\') {
                        i++;
                        continue;
                }

                if (n - i < 2)
                        return 0;
                switch (p[i + 1]) {
                case '"':
                case '\\':
                case '/':
                case 'b':
                case 'f':
                case 'n':
                case 'r':
                case 't':
                        i += 2;
                        break;
                case 'u':
                        if (n - i < 6)
                                return 0;
                        for (size_t j = 2; j < 6; j++)
                                if (!is_hex(p[i + j]))
                                        return 0;
                        /* cJSON would silently cut the string here. */
                        if (memcmp(p + i + 2, "0000", 4) == 0)
                                return 0;
                        i += 6;
                        break;
                default:
                        return 0;
                }
        }

        return 0;
}

/* Scans a number per RFC 8259 (cJSON alone accepts "01" or "1."). Returns the
 * index after it, or 0 on error. */
static size_t scan_number(const uint8_t *p, size_t n, size_t i) {
        if (i < n && p[i] == '-')
                i++;
        if (i >= n)
                return 0;
        if (p[i] == '0')
                i++;
        else if (p[i] >= '1' && p[i] <= '9')
                while (i < n && is_digit(p[i]))
                        i++;
        else
                return 0;

        if (i < n && p[i] == '.') {
                i++;
                if (i >= n || !is_digit(p[i]))
                        return 0;
                while (i < n && is_digit(p[i]))
                        i++;
        }

        if (i < n && (p[i] == 'e' || p[i] == 'E')) {
                i++;
                if (i < n && (p[i] == '+' || p[i] == '-'))
                        i++;
                if (i >= n || !is_digit(p[i]))
                        return 0;
                while (i < n && is_digit(p[i]))
                        i++;
        }

        /* A number runs into a delimiter, never into letters or a quote. */
        if (i < n && !is_ws(p[i]) && p[i] != ',' && p[i] != ']' && p[i] != '}')
                return 0;
        return i;
}

/* Checks what cJSON does not, before cJSON sees the bytes: one top-level
 * object, bounded nesting (counted outside strings, without recursion),
 * strict strings and numbers, no NUL bytes, nothing after the object. The
 * grammar itself (commas, colons, literals) is left to cJSON. */
static int prescan(const char *msg, size_t n) {
        const uint8_t *p = (const uint8_t *) msg;
        unsigned depth = 0;
        bool done = false;
        size_t i = 0;

        while (i < n) {
                uint8_t c = p[i];

                if (is_ws(c)) {
                        i++;
                        continue;
                }
                if (done)
                        return -EBADMSG; /* trailing garbage */
                if (depth == 0 && c != '{')
                        return -EBADMSG; /* not an object */

                switch (c) {
                case '{':
                case '[':
                        if (++depth > STITCH_WIRE_MAX_DEPTH)
                                return -EBADMSG;
                        i++;
                        break;
                case '}':
                case ']':
                        if (--depth == 0)
                                done = true;
                        i++;
                        break;
                case ',':
                case ':':
                        i++;
                        break;
                case '"':
                        i = scan_string(p, n, i + 1);
                        if (i == 0)
                                return -EBADMSG;
                        break;
                case '-':
                case '0' ... '9':
                        i = scan_number(p, n, i);
                        if (i == 0)
                                return -EBADMSG;
                        break;
                case 'a' ... 'z': /* true, false, null: cJSON checks the spelling */
                        i++;
                        break;
                default:
                        return -EBADMSG;
                }
        }

        return done ? 0 : -EBADMSG;
}

/* After parsing: cJSON turns 1e999 into an infinity, which has no JSON form. */
static bool tree_is_sane(const cJSON *item) {
        for (; item; item = item->next) {
                if (cJSON_IsNumber(item) && !isfinite(item->valuedouble))
                        return false;
                if ((cJSON_IsObject(item) || cJSON_IsArray(item)) && !tree_is_sane(item->child))
                        return false;
        }
        return true;
}

/* ---- messages ----------------------------------------------------------- */

int stitch_wire_parse(const char *msg, size_t len, cJSON **ret) {
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *root = NULL;
        const char *end = NULL;

        if (!msg || len == 0 || len > STITCH_WIRE_MAX_MESSAGE)
                return -EBADMSG;
        if (!stitch_utf8_is_valid(msg, len))
                return -EBADMSG;
        if (prescan(msg, len) < 0)
                return -EBADMSG;

        /* msg need not be NUL terminated, so instead of letting cJSON look for
         * the NUL (require_null_terminated) check the rest is whitespace. */
        root = cJSON_ParseWithLengthOpts(msg, len, &end, false);
        if (!root || !end || end < msg || end > msg + len)
                return -EBADMSG;
        for (; end < msg + len; end++)
                if (!is_ws((uint8_t) *end))
                        return -EBADMSG;

        if (!cJSON_IsObject(root) || !tree_is_sane(root->child))
                return -EBADMSG;

        *ret = TAKE_PTR(root);
        return 0;
}

static bool method_is_valid(const char *m) {
        size_t n = strlen(m);

        if (n == 0 || n > 255)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_", m[i]))
                        return false;
        return true;
}

int stitch_wire_parse_call(const char *msg, size_t len, cJSON **ret_root, const char **ret_method,
                           cJSON **ret_params) {
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *root = NULL;
        cJSON *method = NULL, *params = NULL, *oneway = NULL, *more = NULL, *i;

        if (stitch_wire_parse(msg, len, &root) < 0)
                return -EBADMSG;

        cJSON_ArrayForEach(i, root) {
                cJSON **slot;

                if (!i->string)
                        return -EBADMSG;
                if (streq(i->string, "method"))
                        slot = &method;
                else if (streq(i->string, "parameters"))
                        slot = &params;
                else if (streq(i->string, "oneway"))
                        slot = &oneway;
                else if (streq(i->string, "more"))
                        slot = &more;
                else
                        return -EBADMSG;
                if (*slot)
                        return -EBADMSG; /* duplicate */
                *slot = i;
        }

        if (!cJSON_IsString(method) || !method->valuestring || !method_is_valid(method->valuestring))
                return -EBADMSG;
        if ((oneway && !cJSON_IsBool(oneway)) || (more && !cJSON_IsBool(more)))
                return -EBADMSG;
        if (cJSON_IsTrue(oneway) && cJSON_IsTrue(more))
                return -EBADMSG; /* no reply, and several of them */
        if (params && !cJSON_IsObject(params))
                return -EBADMSG;
        if (!params) {
                params = cJSON_AddObjectToObject(root, "parameters");
                if (!params)
                        return -EBADMSG;
        }

        *ret_method = method->valuestring;
        *ret_params = params;
        *ret_root = TAKE_PTR(root);
        return 0;
}

/* The encoder is ours, not cJSON_Print(): cJSON 1.7 prints numbers with 15
 * significant digits whenever that is "close enough" (so 2^53 goes out as
 * 9.00719925474099e+15), and grows its buffer with realloc(), leaving copies
 * of secrets in freed memory. This one writes into a single buffer of the
 * maximum message size and round-trips every number exactly. */
struct encoder {
        char *buf;
        size_t len;
        bool overflow;
};

static void put(struct encoder *e, const char *s, size_t n) {
        if (e->overflow || n > STITCH_WIRE_MAX_MESSAGE - e->len) {
                e->overflow = true;
                return;
        }
        memcpy(e->buf + e->len, s, n);
        e->len += n;
}

static void put_char(struct encoder *e, char c) {
        put(e, &c, 1);
}

static int put_string(struct encoder *e, const char *s) {
        size_t n = strlen(s), run = 0;

        /* The peer rejects invalid UTF-8: catch it here, at the sender. */
        if (!stitch_utf8_is_valid(s, n))
                return -EINVAL;

        put_char(e, '"');
        for (size_t i = 0; i < n; i++) {
                uint8_t c = (uint8_t) s[i];
                char esc[7];

                if (c >= 0x20 && c != '"' && c != '\\') {
                        run++;
                        continue;
                }
                put(e, s + i - run, run);
                run = 0;
                switch (c) {
                case '"':  put(e, "\\\"", 2); break;
                case '\\': put(e, "\\\\", 2); break;
                case '\b': put(e, "\\b", 2); break;
                case '\f': put(e, "\\f", 2); break;
                case '\n': put(e, "\\n", 2); break;
                case '\r': put(e, "\\r", 2); break;
                case '\t': put(e, "\\t", 2); break;
                default:
                        (void) snprintf(esc, sizeof(esc), "\\u%04x", c);
                        put(e, esc, 6);
                }
        }
        put(e, s + n - run, run);
        put_char(e, '"');
        return 0;
}

static int put_number(struct encoder *e, double d) {
        const char *dp;
        char b[64];
        int k = 0;

        if (!isfinite(d))
                return -EINVAL; /* no JSON form */

        if (d >= -MAX_SAFE_INTEGER && d <= MAX_SAFE_INTEGER && (double) (int64_t) d == d)
                k = snprintf(b, sizeof(b), "%" PRId64, (int64_t) d);
        else
                /* The shortest of these that reads back as the same double. */
                for (int precision = 15; precision <= 17; precision++) {
                        k = snprintf(b, sizeof(b), "%.*g", precision, d);
                        if (strtod(b, NULL) == d)
                                break;
                }
        if (k <= 0 || (size_t) k >= sizeof(b))
                return -EINVAL;

        /* printf() follows the locale (we may run inside any program); JSON
         * wants a '.'. */
        dp = localeconv()->decimal_point;
        if (!isempty(dp) && !streq(dp, ".")) {
                char *at = strstr(b, dp);
                if (at) {
                        size_t l = strlen(dp);
                        *at = '.';
                        memmove(at + 1, at + l, strlen(at + l) + 1);
                }
        }

        put(e, b, strlen(b));
        return 0;
}

static int encode_value(struct encoder *e, const cJSON *item, unsigned depth) {
        const cJSON *c;
        int k;

        switch (item->type & 0xFF) {
        case cJSON_False:
                put(e, "false", 5);
                return 0;
        case cJSON_True:
                put(e, "true", 4);
                return 0;
        case cJSON_NULL:
                put(e, "null", 4);
                return 0;
        case cJSON_Number:
                return put_number(e, item->valuedouble);
        case cJSON_String:
                if (!item->valuestring)
                        return -EINVAL;
                return put_string(e, item->valuestring);
        case cJSON_Array:
        case cJSON_Object: {
                bool object = cJSON_IsObject(item);

                /* The peer would refuse it anyway. */
                if (depth >= STITCH_WIRE_MAX_DEPTH)
                        return -EINVAL;

                put_char(e, object ? '{' : '[');
                for (c = item->child; c; c = c->next) {
                        if (c != item->child)
                                put_char(e, ',');
                        if (object) {
                                if (!c->string)
                                        return -EINVAL;
                                k = put_string(e, c->string);
                                if (k < 0)
                                        return k;
                                put_char(e, ':');
                        }
                        k = encode_value(e, c, depth + 1);
                        if (k < 0)
                                return k;
                        if (e->overflow)
                                return -EMSGSIZE;
                }
                put_char(e, object ? '}' : ']');
                return 0;
        }
        default: /* cJSON_Raw and cJSON_Invalid: nothing we can vouch for */
                return -EINVAL;
        }
}

int stitch_wire_encode(const cJSON *obj, char **ret, size_t *ret_len) {
        struct encoder e = {};
        char *out;
        int k;

        if (!cJSON_IsObject(obj))
                return -EINVAL;

        e.buf = malloc(STITCH_WIRE_MAX_MESSAGE);
        if (!e.buf)
                return -ENOMEM;

        k = encode_value(&e, obj, 0);
        if (k >= 0 && e.overflow)
                k = -EMSGSIZE;
        if (k >= 0) {
                out = malloc(e.len + 1);
                if (!out)
                        k = -ENOMEM;
        }
        if (k < 0) {
                explicit_bzero(e.buf, e.len);
                free(e.buf);
                return k;
        }

        memcpy(out, e.buf, e.len);
        out[e.len] = 0;
        explicit_bzero(e.buf, e.len);
        free(e.buf);

        *ret = out;
        *ret_len = e.len + 1;
        return 0;
}

static cJSON *message_new(const char *key, const char *value, cJSON *parameters) {
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *p = parameters;
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;

        o = cJSON_CreateObject();
        if (!o)
                return NULL;
        if (key && !cJSON_AddStringToObject(o, key, value))
                return NULL;
        if (!p) {
                p = cJSON_CreateObject();
                if (!p)
                        return NULL;
        }
        if (!cJSON_AddItemToObject(o, "parameters", p))
                return NULL;
        TAKE_PTR(p);

        return TAKE_PTR(o);
}

cJSON *stitch_wire_call_new(const char *method, cJSON *parameters) {
        if (!method) {
                stitch_json_wipe_and_delete(parameters);
                return NULL;
        }
        return message_new("method", method, parameters);
}

cJSON *stitch_wire_reply_new(cJSON *parameters) {
        return message_new(NULL, NULL, parameters);
}

cJSON *stitch_wire_reply_continues_new(cJSON *parameters) {
        cJSON *m = message_new(NULL, NULL, parameters);
        if (m && !cJSON_AddTrueToObject(m, "continues")) {
                cJSON_Delete(m);
                return NULL;
        }
        return m;
}

cJSON *stitch_wire_error_new(const char *error, cJSON *parameters) {
        if (!error) {
                stitch_json_wipe_and_delete(parameters);
                return NULL;
        }
        return message_new("error", error, parameters);
}

/* The item and its descendants, not its siblings. */
static void wipe_item(cJSON *item) {
        /* Constant keys (cJSON_AddItemToObjectCS) may be literals, and the
         * values of references belong to someone else: leave both alone. */
        if (item->string && !(item->type & cJSON_StringIsConst))
                explicit_bzero(item->string, strlen(item->string));
        if (item->type & cJSON_IsReference)
                return;
        if (item->valuestring)
                explicit_bzero(item->valuestring, strlen(item->valuestring));
        for (cJSON *c = item->child; c; c = c->next)
                wipe_item(c);
}

void stitch_json_wipe(cJSON *item) {
        if (item)
                wipe_item(item);
}

void stitch_json_wipe_and_delete(cJSON *item) {
        /* cJSON_Delete() frees the siblings too. */
        for (cJSON *i = item; i; i = i->next)
                wipe_item(i);
        cJSON_Delete(item);
}

/* ---- parameter decoding -------------------------------------------------- */

/* Checks one value against its table entry and, if dest is non-NULL, stores it. */
static int decode_one(const cJSON *v, const struct stitch_param *p, void *dest) {
        uint8_t *field = dest ? (uint8_t *) dest + p->offset : NULL;

        switch (p->type) {
        case STITCH_PARAM_STRING: {
                size_t max = p->max_len > 0 ? p->max_len : STITCH_PARAM_DEFAULT_MAX, n;
                const char *s;

                if (!cJSON_IsString(v) || !v->valuestring)
                        return -EINVAL;
                s = v->valuestring;
                n = strnlen(s, max + 1);
                if (n > max || !stitch_utf8_is_valid(s, n))
                        return -EINVAL;
                if (field)
                        memcpy(field, &s, sizeof(s));
                return 0;
        }
        case STITCH_PARAM_BOOL: {
                bool b;

                if (!cJSON_IsBool(v))
                        return -EINVAL;
                b = cJSON_IsTrue(v);
                if (field)
                        memcpy(field, &b, sizeof(b));
                return 0;
        }
        case STITCH_PARAM_INT: {
                double d;
                int64_t i;

                if (!cJSON_IsNumber(v))
                        return -EINVAL;
                d = v->valuedouble;
                /* The range check also rejects NaN. */
                if (!(d >= -MAX_SAFE_INTEGER && d <= MAX_SAFE_INTEGER))
                        return -EINVAL;
                i = (int64_t) d;
                if ((double) i != d)
                        return -EINVAL;
                if (field)
                        memcpy(field, &i, sizeof(i));
                return 0;
        }
        case STITCH_PARAM_OBJECT:
        case STITCH_PARAM_ARRAY:
                if (p->type == STITCH_PARAM_OBJECT ? !cJSON_IsObject(v) : !cJSON_IsArray(v))
                        return -EINVAL;
                if (field)
                        memcpy(field, &v, sizeof(v));
                return 0;
        }

        return -EINVAL;
}

int stitch_params_decode(const cJSON *params, const struct stitch_param *table, size_t n_table,
                         void *dest, const char **ret_bad_name) {
        _cleanup_free_ bool *heap_seen = NULL;
        bool stack_seen[64] = {}, *seen = stack_seen;
        const char *bad = NULL;
        const cJSON *v;

        if (!cJSON_IsObject(params) || (n_table > 0 && !table))
                goto fail;

        if (n_table > ELEMENTSOF(stack_seen)) {
                heap_seen = calloc(n_table, sizeof(bool));
                if (!heap_seen)
                        goto fail;
                seen = heap_seen;
        }

        /* First pass validates everything, so dest is untouched on error.
         * cJSON keeps duplicate keys as separate children: walk them all. */
        cJSON_ArrayForEach(v, params) {
                size_t k;

                bad = v->string;
                if (!v->string)
                        goto fail;
                for (k = 0; k < n_table; k++)
                        if (streq(v->string, table[k].name))
                                break;
                if (k >= n_table || seen[k])
                        goto fail; /* unknown or duplicate */
                seen[k] = true;

                if (cJSON_IsNull(v)) {
                        if (table[k].required)
                                goto fail;
                        continue;
                }
                if (decode_one(v, &table[k], NULL) < 0)
                        goto fail;
        }

        for (size_t k = 0; k < n_table; k++)
                if (table[k].required && !seen[k]) {
                        bad = table[k].name;
                        goto fail;
                }

        cJSON_ArrayForEach(v, params) {
                size_t k;

                if (cJSON_IsNull(v))
                        continue;
                for (k = 0; k < n_table; k++)
                        if (streq(v->string, table[k].name))
                                break;
                (void) decode_one(v, &table[k], dest);
        }

        return 0;

fail:
        if (ret_bad_name)
                *ret_bad_name = bad;
        return -EINVAL;
}
