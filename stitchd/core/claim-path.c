/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/claim-path.h"
#include "macro.h"
#include "strv.h"
#include "wire.h"

_printf_(4, 5) static int fail(int r, char *error, size_t error_size, const char *fmt, ...) {
        if (error && error_size > 0) {
                va_list ap;
                va_start(ap, fmt);
                (void) vsnprintf(error, error_size, fmt, ap);
                va_end(ap);
        }
        return r;
}

static void field_done(struct stitch_metadata_field *f) {
        stitch_strv_free(f->path);
        free(f->name);
        free(f->spec);
}

struct stitch_metadata_fields *stitch_metadata_fields_free(struct stitch_metadata_fields *f) {
        if (!f)
                return NULL;
        for (size_t i = 0; i < f->n; i++)
                field_done(&f->fields[i]);
        free(f->fields);
        free(f);
        return NULL;
}

/* Names and path components: valid UTF-8, no control characters. */
static bool text_ok(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
                        return false;
        return stitch_utf8_is_valid(s, n);
}

/* One spec, s[0..n), no white space in it. */
static int spec_parse(const char *s, size_t n, struct stitch_metadata_field *ret, char *error, size_t error_size) {
        _cleanup_free_ char *text = NULL, *spec = strndup(s, n);
        _cleanup_free_ bool *escaped = NULL;
        _cleanup_(stitch_strv_freep) char **path = NULL;
        struct stitch_strv_builder b = {};
        size_t len = 0, eq = SIZE_MAX;
        bool required = false;
        int r;

        text = malloc(n + 1);
        escaped = calloc(n + 1, sizeof(bool));
        if (!spec || !text || !escaped)
                return -ENOMEM;

        /* Resolve the escapes, remembering which characters were escaped. */
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '\\') {
                        if (i + 1 >= n || !strchr(".\\=!", s[i + 1]))
                                return fail(-EINVAL, error, error_size,
                                            "MetadataFields: \"%s\": a backslash may only escape . \\ = or !", spec);
                        escaped[len] = true;
                        text[len++] = s[++i];
                } else
                        text[len++] = s[i];
        }
        text[len] = 0;

        if (len > 0 && text[len - 1] == '!' && !escaped[len - 1]) {
                required = true;
                len--;
        }
        for (size_t i = 0; i < len; i++) {
                if (escaped[i])
                        continue;
                if (text[i] == '!')
                        return fail(-EINVAL, error, error_size,
                                    "MetadataFields: \"%s\": \"!\" may only end a spec (write \\! for the character)",
                                    spec);
                if (text[i] == '=') {
                        if (eq != SIZE_MAX)
                                return fail(-EINVAL, error, error_size,
                                            "MetadataFields: \"%s\": more than one \"=\"", spec);
                        eq = i;
                }
        }
        size_t path_len = eq == SIZE_MAX ? len : eq;
        if (path_len == 0)
                return fail(-EINVAL, error, error_size, "MetadataFields: \"%s\": no claim path", spec);

        /* The path's components, split at unescaped dots. */
        size_t start = 0;
        for (size_t i = 0; i <= path_len; i++) {
                if (i < path_len && !(text[i] == '.' && !escaped[i]))
                        continue;
                size_t clen = i - start;
                if (clen == 0)
                        r = fail(-EINVAL, error, error_size, "MetadataFields: \"%s\": empty path component", spec);
                else if (clen > STITCH_CLAIM_PATH_COMPONENT_MAX)
                        r = fail(-E2BIG, error, error_size, "MetadataFields: \"%s\": path component too long", spec);
                else if (b.n >= STITCH_CLAIM_PATH_MAX_DEPTH)
                        r = fail(-E2BIG, error, error_size,
                                 "MetadataFields: \"%s\": claim path deeper than %d components", spec,
                                 STITCH_CLAIM_PATH_MAX_DEPTH);
                else if (!text_ok(text + start, clen))
                        r = fail(-EINVAL, error, error_size,
                                 "MetadataFields: \"%s\": path component is not valid UTF-8 text", spec);
                else {
                        char c = text[i];
                        text[i] = 0;
                        r = stitch_strv_builder_add(&b, text + start);
                        text[i] = c;
                }
                if (r < 0) {
                        stitch_strv_builder_done(&b);
                        return r;
                }
                start = i + 1;
        }
        path = stitch_strv_builder_finish(&b);
        if (!path)
                return -ENOMEM;

        /* FIELD, or the last component. */
        const char *name;
        size_t name_len;
        if (eq != SIZE_MAX) {
                name = text + eq + 1;
                name_len = len - eq - 1;
                if (name_len == 0)
                        return fail(-EINVAL, error, error_size, "MetadataFields: \"%s\": empty field name after \"=\"",
                                    spec);
        } else {
                size_t depth = stitch_strv_length(path);
                name = path[depth - 1];
                name_len = strlen(name);
        }
        if (name_len > STITCH_METADATA_FIELD_NAME_MAX)
                return fail(-EINVAL, error, error_size,
                            "MetadataFields: \"%s\": field name longer than %d bytes (give a shorter one with =FIELD)",
                            spec, STITCH_METADATA_FIELD_NAME_MAX);
        if (!text_ok(name, name_len))
                return fail(-EINVAL, error, error_size, "MetadataFields: \"%s\": field name is not valid UTF-8 text",
                            spec);

        ret->name = strndup(name, name_len);
        if (!ret->name)
                return -ENOMEM;
        ret->path = TAKE_PTR(path);
        ret->spec = TAKE_PTR(spec);
        ret->required = required;
        return 0;
}

int stitch_metadata_fields_parse(const char *value, struct stitch_metadata_fields **ret, char *error,
                                 size_t error_size) {
        _cleanup_(stitch_metadata_fields_freep) struct stitch_metadata_fields *f = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        if (error && error_size > 0)
                error[0] = 0;
        if (value && strlen(value) > STITCH_METADATA_SPEC_TEXT_MAX)
                return fail(-E2BIG, error, error_size, "MetadataFields: value longer than %d bytes",
                            STITCH_METADATA_SPEC_TEXT_MAX);

        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->fields = calloc(STITCH_METADATA_FIELDS_MAX, sizeof(struct stitch_metadata_field));
        if (!f->fields)
                return -ENOMEM;

        const char *p = value ? value : "";
        for (;;) {
                p += strspn(p, " \t");
                if (!*p)
                        break;
                /* A spec runs to the next white space; a backslash never escapes one. */
                size_t n = strcspn(p, " \t");
                if (f->n >= STITCH_METADATA_FIELDS_MAX)
                        return fail(-E2BIG, error, error_size, "MetadataFields: more than %d fields",
                                    STITCH_METADATA_FIELDS_MAX);
                r = spec_parse(p, n, &f->fields[f->n], error, error_size);
                if (r < 0)
                        return r;
                f->n++;
                for (size_t i = 0; i + 1 < f->n; i++)
                        if (streq(f->fields[i].name, f->fields[f->n - 1].name))
                                return fail(-EINVAL, error, error_size,
                                            "MetadataFields: \"%s\" and \"%s\" both map to field \"%s\"",
                                            f->fields[i].spec, f->fields[f->n - 1].spec, f->fields[i].name);
                p += n;
        }

        *ret = TAKE_PTR(f);
        return 0;
}

const cJSON *stitch_claim_path_lookup(const cJSON *claims, char *const *path) {
        const cJSON *c = claims;
        if (!path || !path[0])
                return NULL;
        for (char *const *k = path; *k; k++) {
                if (!cJSON_IsObject(c))
                        return NULL;
                c = cJSON_GetObjectItemCaseSensitive(c, *k);
        }
        return c && !cJSON_IsNull(c) ? c : NULL;
}

/* The value's size as JSON text: a string's bytes, or the printed text of anything else. */
static int value_size(const cJSON *v, size_t *ret) {
        if (cJSON_IsString(v)) {
                *ret = strlen(v->valuestring);
                return 0;
        }
        if (cJSON_IsNumber(v) || cJSON_IsBool(v)) {
                *ret = 0;
                return 0;
        }
        _cleanup_free_ char *text = cJSON_PrintUnformatted(v);
        if (!text)
                return -ENOMEM;
        *ret = strlen(text);
        return 0;
}

int stitch_metadata_fields_apply(const struct stitch_metadata_fields *f, const cJSON *claims, cJSON **ret,
                                 char *error, size_t error_size) {
        _cleanup_(cJSON_Deletep) cJSON *out = NULL;
        size_t size;
        int r;

        if (!ret || !cJSON_IsObject(claims))
                return -EINVAL;
        if (error && error_size > 0)
                error[0] = 0;

        out = cJSON_CreateObject();
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; f && i < f->n; i++) {
                const struct stitch_metadata_field *m = &f->fields[i];
                const cJSON *v = stitch_claim_path_lookup(claims, m->path);
                if (!v) {
                        if (m->required)
                                return fail(-ENOENT, error, error_size,
                                            "required claim \"%s\" (field \"%s\") is missing", m->spec, m->name);
                        continue;
                }
                if (!(cJSON_IsString(v) || cJSON_IsNumber(v) || cJSON_IsBool(v) || cJSON_IsObject(v) ||
                      cJSON_IsArray(v)))
                        return fail(-EINVAL, error, error_size, "claim \"%s\" (field \"%s\") has an unusable type",
                                    m->spec, m->name);
                r = value_size(v, &size);
                if (r < 0)
                        return r;
                if (size > STITCH_METADATA_VALUE_MAX)
                        return fail(-E2BIG, error, error_size,
                                    "claim \"%s\" (field \"%s\") is larger than %d bytes", m->spec, m->name,
                                    STITCH_METADATA_VALUE_MAX);
                cJSON *copy = cJSON_Duplicate(v, true);
                if (!copy || !cJSON_AddItemToObject(out, m->name, copy)) {
                        cJSON_Delete(copy);
                        return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(out);
        return 0;
}
