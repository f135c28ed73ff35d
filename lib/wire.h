/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The wire codec: varlink framing (one JSON object + NUL per message) and a
 * table-driven parameter decoder. Shared by stitchd, stitchctl and the PAM
 * module; depends on libc and cJSON only. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define STITCH_WIRE_MAX_MESSAGE (64U * 1024U) /* bytes, excluding the NUL terminator */
#define STITCH_WIRE_MAX_DEPTH 16              /* JSON nesting accepted on the wire */
#define STITCH_PARAM_DEFAULT_MAX 1024         /* default max string length of a parameter */

/* ---- framing ------------------------------------------------------------ */

struct stitch_wire_reader {
        char *buf;       /* received bytes; wiped on consume/free (may hold secrets) */
        size_t len;      /* bytes in buf */
        size_t consumed; /* bytes at the front already handed out by _next() */
        size_t cap;      /* allocated size */
        size_t partial;  /* start of the unterminated tail (one past the last NUL seen) */
};

void stitch_wire_reader_init(struct stitch_wire_reader *r);
/* Wipes and frees the buffer. */
void stitch_wire_reader_done(struct stitch_wire_reader *r);

/* Append bytes (tests, fuzzers). Returns 0, or -EMSGSIZE when the pending,
 * unterminated message would exceed STITCH_WIRE_MAX_MESSAGE (or a complete
 * one in 'data' does), -ENOMEM. On error nothing is appended. */
int stitch_wire_reader_feed(struct stitch_wire_reader *r, const void *data, size_t n);

/* Read what is available from a non-blocking fd. Returns the number of bytes
 * read (>0), 0 at EOF, -EAGAIN if nothing was available, -EMSGSIZE when a
 * message exceeds the cap, or another -errno. Never reads more than the cap
 * allows for the pending message. -EMSGSIZE is sticky: the stream is lost. */
int stitch_wire_reader_fill(struct stitch_wire_reader *r, int fd);

/* Hands out the next complete message. Returns 1 and sets *ret_msg (NUL
 * terminated, valid until the next call on the reader) and *ret_len (without
 * the NUL); 0 if no complete message is buffered. Bytes of the previously
 * returned message are wiped on this call. */
int stitch_wire_reader_next(struct stitch_wire_reader *r, const char **ret_msg, size_t *ret_len);

/* True if a partial (unterminated) message is buffered. */
bool stitch_wire_reader_has_partial(const struct stitch_wire_reader *r);

/* ---- messages ----------------------------------------------------------- */

/* Parses one message: must be a JSON object, nesting <= STITCH_WIRE_MAX_DEPTH,
 * valid UTF-8, no "\u0000" escapes. Also strict RFC 8259 where cJSON is not:
 * no raw control characters in strings, no NUL bytes, numbers as in the RFC
 * ("01", "1." refused) and finite (1e999 refused), nothing but whitespace
 * after the object, at most STITCH_WIRE_MAX_MESSAGE bytes. msg need not be
 * NUL terminated. Returns 0 or -EBADMSG. */
int stitch_wire_parse(const char *msg, size_t len, cJSON **ret);

/* Parses a call {"method": "...", "parameters": {...}}. Keys other than
 * "method", "parameters", "oneway" and "more" (bools, not both true) are
 * rejected, and so are
 * duplicates; the method is 1-255 characters of [A-Za-z0-9._-]. A missing "parameters"
 * yields an empty object owned by *ret_root. *ret_method and *ret_params
 * point into *ret_root. Returns 0, -EBADMSG (not a valid call). */
int stitch_wire_parse_call(const char *msg, size_t len, cJSON **ret_root, const char **ret_method,
                           cJSON **ret_params);

/* Serialises obj (an object) compactly and appends the NUL terminator.
 * *ret_len counts the NUL. Numbers round-trip exactly (integers within
 * +-2^53 are written as integers). The caller wipes *ret if it holds secrets.
 * Returns 0, -EMSGSIZE if larger than the cap, -ENOMEM, -EINVAL if the tree
 * has no valid wire form (not an object, nesting > STITCH_WIRE_MAX_DEPTH,
 * invalid UTF-8, NaN/infinity, cJSON_Raw items). */
int stitch_wire_encode(const cJSON *obj, char **ret, size_t *ret_len);

/* Builders. They return NULL on OOM. 'parameters' is taken over (may be NULL). */
cJSON *stitch_wire_call_new(const char *method, cJSON *parameters);
cJSON *stitch_wire_reply_new(cJSON *parameters);
/* A reply that says more replies follow ("continues": true), for calls made
 * with "more": true. */
cJSON *stitch_wire_reply_continues_new(cJSON *parameters);
cJSON *stitch_wire_error_new(const char *error, cJSON *parameters);

/* Overwrites every string (keys and values) in the tree with zeros; call
 * before cJSON_Delete on anything that carried a secret. Constant keys
 * (cJSON_StringIsConst) and referenced items (cJSON_IsReference) are not
 * ours and are left alone. _wipe() covers item and its descendants;
 * _wipe_and_delete() also item's siblings, as cJSON_Delete frees those too. */
void stitch_json_wipe(cJSON *item);
void stitch_json_wipe_and_delete(cJSON *item);
static inline void stitch_json_wipe_and_deletep(cJSON **p) {
        if (*p)
                stitch_json_wipe_and_delete(*p);
}
static inline void cJSON_Deletep(cJSON **p) {
        if (*p)
                cJSON_Delete(*p);
}

bool stitch_utf8_is_valid(const char *s, size_t n);

/* ---- parameter decoding -------------------------------------------------- */

enum stitch_param_type {
        STITCH_PARAM_STRING, /* const char * into the cJSON tree; NUL-free, valid UTF-8, <= max_len */
        STITCH_PARAM_BOOL,   /* bool */
        STITCH_PARAM_INT,    /* int64_t; JSON number that is an integer within +-2^53 */
        STITCH_PARAM_OBJECT, /* const cJSON * (object) into the tree */
        STITCH_PARAM_ARRAY,  /* const cJSON * (array) into the tree */
};

struct stitch_param {
        const char *name;
        enum stitch_param_type type;
        size_t offset;  /* offsetof() of the field in the destination struct */
        bool required;
        size_t max_len; /* strings only; 0 = STITCH_PARAM_DEFAULT_MAX */
};

/* Decodes 'params' (a JSON object) into 'dest' following the table. Fields
 * not present keep their value (callers zero-initialise). Rejects unknown
 * keys, duplicate keys, wrong types, missing required keys; lookups are
 * case-sensitive. JSON null counts as absent for optional parameters.
 * On error returns -EINVAL and, if ret_bad_name is non-NULL, points it at the
 * offending key name (inside params or the table). */
int stitch_params_decode(const cJSON *params, const struct stitch_param *table, size_t n_table,
                         void *dest, const char **ret_bad_name);
