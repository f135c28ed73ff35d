/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* MetadataFields=: which claims of a verified token become user metadata.
 *
 *   MetadataFields=  space separated CLAIM_PATH[=FIELD][!]
 *
 * CLAIM_PATH is a dot path into nested claims ("user_data.name"); "\."
 * is a literal dot and "\\" a backslash ("http://example\.com/id"), and
 * "\=" and "\!" the literal characters. FIELD is the name under which the
 * value is stored; it defaults to the last path component, as Stitch's
 * field_name does, and is 1..63 bytes of UTF-8 without control
 * characters (Stitch: under 64). A trailing "!" makes the claim required:
 * a token without it is refused. Limits: STITCH_METADATA_FIELDS_MAX specs,
 * STITCH_CLAIM_PATH_MAX_DEPTH components of at most
 * STITCH_CLAIM_PATH_COMPONENT_MAX bytes, values of at most
 * STITCH_METADATA_VALUE_MAX bytes of JSON text (Stitch: 4096). */

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define STITCH_METADATA_FIELDS_MAX 32
#define STITCH_METADATA_FIELD_NAME_MAX 63
#define STITCH_CLAIM_PATH_MAX_DEPTH 8
#define STITCH_CLAIM_PATH_COMPONENT_MAX 256
#define STITCH_METADATA_VALUE_MAX 4096
#define STITCH_METADATA_SPEC_TEXT_MAX 8192

struct stitch_metadata_field {
        char **path;     /* components, unescaped, NULL-terminated */
        char *name;      /* FIELD */
        char *spec;      /* the spec as configured, for messages */
        bool required;
};

struct stitch_metadata_fields {
        struct stitch_metadata_field *fields;
        size_t n;
};

/* Parses a MetadataFields= value (an empty or NULL one gives no fields).
 * On failure returns -EINVAL (-E2BIG past a limit, -ENOMEM) and writes a
 * message naming the offending spec to error (error_size bytes, may be 0),
 * for the caller to prefix with file:line. */
int stitch_metadata_fields_parse(const char *value, struct stitch_metadata_fields **ret, char *error,
                                 size_t error_size);
struct stitch_metadata_fields *stitch_metadata_fields_free(struct stitch_metadata_fields *f);
static inline void stitch_metadata_fields_freep(struct stitch_metadata_fields **p) {
        stitch_metadata_fields_free(*p);
}

/* Looks a path up in claims: the value, or NULL if a component is missing,
 * an intermediate is not an object, or the value is JSON null. */
const cJSON *stitch_claim_path_lookup(const cJSON *claims, char *const *path);

/* Maps the claims of a verified token to a new object of FIELD: value
 * (copies of strings, numbers, booleans, objects and arrays). A required
 * claim that is missing gives -ENOENT, a value over
 * STITCH_METADATA_VALUE_MAX -E2BIG; error then names the claim path and
 * field, never the value. */
int stitch_metadata_fields_apply(const struct stitch_metadata_fields *f, const cJSON *claims, cJSON **ret,
                                 char *error, size_t error_size);
