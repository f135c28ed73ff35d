/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Human output (aligned tables, "Label: value" blocks, timestamps) and JSON
 * output. Every string that came from the daemon goes through a table, which
 * replaces control characters so data cannot drive the terminal. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

struct table;

/* A table with a header line of n_columns titles (given as const char *). */
struct table *table_new(size_t n_columns, ...);
/* A "Label: value" block: two columns, no header, labels aligned. */
struct table *table_new_kv(void);
struct table *table_free(struct table *t);
static inline void table_freep(struct table **t) {
        if (*t)
                table_free(*t);
}

/* Adds a row of n_columns cells (const char *; NULL prints as "-"). The
 * strings are copied and sanitised. Returns 0 or -ENOMEM. */
int table_add_row(struct table *t, ...);
/* A "Label: value" line. value NULL prints as "-". */
int table_add_kv(struct table *t, const char *label, const char *value);
/* A "Label: value" line for a JSON value: strings as they are, integers,
 * yes/no for booleans, "-" for null or absent, compact JSON otherwise. */
int table_add_kv_json(struct table *t, const char *label, const cJSON *value);
/* As table_add_kv_json, but a number is an epoch timestamp shown in ISO-8601 UTC. */
int table_add_kv_time(struct table *t, const char *label, const cJSON *value);
size_t table_rows(const struct table *t);
void table_print(const struct table *t, FILE *f);
/* The same with every line indented by 'indent' blanks. */
void table_print_indent(const struct table *t, FILE *f, size_t indent);

/* Prints obj as one JSON document on stdout: indented on a terminal, one
 * line otherwise. Returns an exit status. */
int output_json(const cJSON *obj);

/* A malloc'd copy of s with control characters (C0, DEL, C1) replaced by '?'
 * and invalid UTF-8 bytes by '?'. */
char *output_sanitize(const char *s);

#define FORMAT_TIMESTAMP_MAX 32
/* ISO-8601 UTC ("2026-01-02T03:04:05Z"); "-" for t <= 0. */
const char *format_timestamp(char buf[static FORMAT_TIMESTAMP_MAX], int64_t t);
/* The same for a JSON value; "-" if it is not a positive number. */
const char *format_json_timestamp(char buf[static FORMAT_TIMESTAMP_MAX], const cJSON *v);
#define FORMAT_DURATION_MAX 64
/* "3d 4h 5min 6s" */
const char *format_duration(char buf[static FORMAT_DURATION_MAX], int64_t seconds);

/* Case-sensitive lookups with type checks. */
const char *json_string(const cJSON *obj, const char *key);
bool json_int(const cJSON *obj, const char *key, int64_t *ret);
bool json_number_int(const cJSON *v, int64_t *ret);
/* yes/no/- for a boolean member. */
const char *json_yesno(const cJSON *obj, const char *key);
