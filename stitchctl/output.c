/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "macro.h"
#include "output.h"
#include "stitchctl.h"

struct table {
        size_t n_columns;
        bool kv;         /* "Label: value" block */
        char **cells;    /* row-major; the header is row 0 unless kv */
        size_t n_cells;
        size_t n_allocated;
};

static struct table *table_alloc(size_t n_columns, bool kv) {
        struct table *t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        t->n_columns = n_columns;
        t->kv = kv;
        return t;
}

struct table *table_free(struct table *t) {
        if (!t)
                return NULL;
        /* cells may hold a key or a token shown once: wipe them all */
        for (size_t i = 0; i < t->n_cells; i++)
                erase_and_free(t->cells[i]);
        free(t->cells);
        free(t);
        return NULL;
}

static int table_add_cell(struct table *t, const char *s) {
        if (t->n_cells == t->n_allocated) {
                size_t n = t->n_allocated ? t->n_allocated * 2 : 16;
                char **c = reallocarray(t->cells, n, sizeof(char *));
                if (!c)
                        return -ENOMEM;
                t->cells = c;
                t->n_allocated = n;
        }
        char *copy = output_sanitize(s ? s : "-");
        if (!copy)
                return -ENOMEM;
        t->cells[t->n_cells++] = copy;
        return 0;
}

static int table_add_va(struct table *t, va_list ap) {
        for (size_t i = 0; i < t->n_columns; i++) {
                int r = table_add_cell(t, va_arg(ap, const char *));
                if (r < 0) {
                        /* drop the partial row so the table stays rectangular */
                        size_t keep = t->n_cells - t->n_cells % t->n_columns;
                        while (t->n_cells > keep)
                                erase_and_free(t->cells[--t->n_cells]);
                        return r;
                }
        }
        return 0;
}

struct table *table_new(size_t n_columns, ...) {
        _cleanup_(table_freep) struct table *t = table_alloc(n_columns, false);
        if (!t)
                return NULL;
        va_list ap;
        va_start(ap, n_columns);
        int r = table_add_va(t, ap);
        va_end(ap);
        if (r < 0)
                return NULL;
        return TAKE_PTR(t);
}

struct table *table_new_kv(void) {
        return table_alloc(2, true);
}

int table_add_row(struct table *t, ...) {
        va_list ap;
        va_start(ap, t);
        int r = table_add_va(t, ap);
        va_end(ap);
        return r;
}

int table_add_kv(struct table *t, const char *label, const char *value) {
        return table_add_row(t, label, value);
}

int table_add_kv_json(struct table *t, const char *label, const cJSON *v) {
        char num[32];
        int64_t i;

        if (!v || cJSON_IsNull(v))
                return table_add_kv(t, label, NULL);
        if (cJSON_IsString(v))
                return table_add_kv(t, label, v->valuestring);
        if (cJSON_IsBool(v))
                return table_add_kv(t, label, cJSON_IsTrue(v) ? "yes" : "no");
        if (json_number_int(v, &i)) {
                (void) snprintf(num, sizeof(num), "%" PRId64, i);
                return table_add_kv(t, label, num);
        }
        if (cJSON_IsNumber(v)) {
                (void) snprintf(num, sizeof(num), "%g", v->valuedouble);
                return table_add_kv(t, label, num);
        }
        _cleanup_free_ char *s = cJSON_PrintUnformatted(v);
        if (!s)
                return -ENOMEM;
        return table_add_kv(t, label, s);
}

int table_add_kv_time(struct table *t, const char *label, const cJSON *v) {
        char buf[FORMAT_TIMESTAMP_MAX];

        if (v && cJSON_IsNumber(v))
                return table_add_kv(t, label, format_json_timestamp(buf, v));
        return table_add_kv_json(t, label, v);
}

size_t table_rows(const struct table *t) {
        size_t rows = t->n_cells / t->n_columns;
        return t->kv ? rows : rows - 1;
}

/* Columns the string takes on a terminal. */
static size_t display_width(const char *s) {
        size_t w = 0;

        if (MB_CUR_MAX == 1) {
                /* C locale: count UTF-8 code points, the best guess for a terminal */
                for (; *s; s++)
                        if (((unsigned char) *s & 0xC0) != 0x80)
                                w++;
                return w;
        }

        mbstate_t st = {};
        size_t n = strlen(s);
        while (n > 0) {
                wchar_t wc;
                size_t k = mbrtowc(&wc, s, n, &st);
                if (k == (size_t) -1 || k == (size_t) -2) {
                        memset(&st, 0, sizeof(st));
                        k = 1;
                        w++;
                } else {
                        if (k == 0)
                                break;
                        int cw = wcwidth(wc);
                        w += cw < 0 ? 1 : (size_t) cw;
                }
                s += k;
                n -= k;
        }
        return w;
}

static void pad(FILE *f, size_t n) {
        while (n-- > 0)
                fputc(' ', f);
}

void table_print(const struct table *t, FILE *f) {
        table_print_indent(t, f, 0);
}

void table_print_indent(const struct table *t, FILE *f, size_t indent) {
        size_t n_rows = t->n_cells / t->n_columns;
        _cleanup_free_ size_t *widths = calloc(t->n_columns, sizeof(size_t));
        if (!widths)
                return;

        for (size_t row = 0; row < n_rows; row++)
                for (size_t col = 0; col < t->n_columns; col++) {
                        size_t w = display_width(t->cells[row * t->n_columns + col]);
                        widths[col] = MAX(widths[col], w);
                }

        for (size_t row = 0; row < n_rows; row++) {
                char **cells = t->cells + row * t->n_columns;

                pad(f, indent);
                if (t->kv) {
                        fputs(cells[0], f);
                        fputc(':', f);
                        pad(f, widths[0] - display_width(cells[0]) + 1);
                        fputs(cells[1], f);
                        fputc('\n', f);
                        continue;
                }

                /* the last column is not padded: no trailing blanks */
                size_t last = t->n_columns - 1;
                for (size_t col = 0; col < t->n_columns; col++) {
                        fputs(cells[col], f);
                        if (col < last)
                                pad(f, widths[col] - display_width(cells[col]) + 2);
                }
                fputc('\n', f);
        }
}

int output_json(const cJSON *obj) {
        char *s = isatty(STDOUT_FILENO) ? cJSON_Print(obj) : cJSON_PrintUnformatted(obj);
        if (!s)
                return stitchctl_oom();
        /* replies may hold tokens or keys: wipe our copy */
        (void) puts(s);
        erase_and_free(s);
        if (fflush(stdout) != 0)
                return stitchctl_fail(EXIT_REFUSED, "cannot write to standard output: %m");
        return EXIT_OK;
}

/* Length of the UTF-8 sequence starting at s (1..4), 0 if invalid. */
static size_t utf8_sequence(const unsigned char *s) {
        size_t n;
        uint32_t cp;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xC2 && s[0] <= 0xDF) {
                n = 2;
                cp = s[0] & 0x1F;
        } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
                n = 3;
                cp = s[0] & 0x0F;
        } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
                n = 4;
                cp = s[0] & 0x07;
        } else
                return 0;

        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3F);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
                return 0;
        if (cp >= 0x80 && cp <= 0x9F) /* C1 controls, e.g. CSI */
                return 0;
        return n;
}

char *output_sanitize(const char *s) {
        size_t len = strlen(s);
        char *out = malloc(len + 1);
        if (!out)
                return NULL;

        const unsigned char *p = (const unsigned char *) s;
        size_t j = 0;
        while (*p) {
                if (*p < 0x20 || *p == 0x7F) {
                        out[j++] = '?';
                        p++;
                        continue;
                }
                size_t n = utf8_sequence(p);
                if (n == 0) {
                        out[j++] = '?';
                        p++;
                        continue;
                }
                memcpy(out + j, p, n);
                j += n;
                p += n;
        }
        out[j] = 0;
        return out;
}

const char *format_timestamp(char buf[static FORMAT_TIMESTAMP_MAX], int64_t t) {
        struct tm tm;
        time_t tt = (time_t) t;

        if (t <= 0 || !gmtime_r(&tt, &tm) ||
            strftime(buf, FORMAT_TIMESTAMP_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return "-";
        return buf;
}

const char *format_json_timestamp(char buf[static FORMAT_TIMESTAMP_MAX], const cJSON *v) {
        int64_t t;

        if (!json_number_int(v, &t))
                return "-";
        return format_timestamp(buf, t);
}

const char *format_duration(char buf[static FORMAT_DURATION_MAX], int64_t seconds) {
        static const struct {
                const char *suffix;
                int64_t seconds;
        } units[] = {
                { "d", 86400 }, { "h", 3600 }, { "min", 60 }, { "s", 1 },
        };
        size_t j = 0;

        if (seconds < 0)
                return "-";
        if (seconds == 0)
                return "0s";
        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(units) && j < FORMAT_DURATION_MAX; i++) {
                int64_t n = seconds / units[i].seconds;
                if (n == 0)
                        continue;
                seconds %= units[i].seconds;
                int k = snprintf(buf + j, FORMAT_DURATION_MAX - j, "%s%" PRId64 "%s", j > 0 ? " " : "", n,
                                 units[i].suffix);
                if (k < 0)
                        return "-";
                j += (size_t) k;
        }
        return buf;
}

const char *json_string(const cJSON *obj, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool json_number_int(const cJSON *v, int64_t *ret) {
        if (!cJSON_IsNumber(v))
                return false;
        double d = v->valuedouble;
        /* written so that NaN fails too */
        if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0))
                return false;
        int64_t i = (int64_t) d;
        if ((double) i != d)
                return false;
        *ret = i;
        return true;
}

bool json_int(const cJSON *obj, const char *key, int64_t *ret) {
        return json_number_int(cJSON_GetObjectItemCaseSensitive(obj, key), ret);
}

const char *json_yesno(const cJSON *obj, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        if (!cJSON_IsBool(v))
                return "-";
        return cJSON_IsTrue(v) ? "yes" : "no";
}
