/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static void stderr_sink(int priority, int error, const char *file, int line, const char *func,
                        const char *message) {
        (void) priority;
        (void) error;
        (void) file;
        (void) line;
        (void) func;
        fprintf(stderr, "%s\n", message);
}

/* Length of the UTF-8 sequence at s (at most n bytes) if it is well formed
 * (no overlong forms, no surrogates, at most U+10FFFF) and not a C1 control
 * (U+0080..U+009F, which terminals act on like ESC); 0 otherwise. */
static size_t utf8_printable_len(const unsigned char *s, size_t n) {
        size_t len;
        uint32_t cp;

        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                len = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                len = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                len = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
                return 0;
        return len;
}

size_t stitch_log_escape(const char *message, char *buf, size_t size) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *s = (const unsigned char *) message;
        size_t n = strlen(message), j = 0;

        assert(buf && size > 0);
        for (size_t i = 0; i < n;) {
                char esc[4];
                const char *out = (const char *) s + i; /* what to write: the input itself, or esc */
                size_t in_len = 1, out_len = 1;
                size_t seq = s[i] >= 0x80 ? utf8_printable_len(s + i, n - i) : 0;

                if (seq > 0)
                        in_len = out_len = seq;
                else if (s[i] < 0x20 || s[i] >= 0x7f) {
                        out = esc;
                        esc[0] = '\\';
                        esc[1] = s[i] == '\n' ? 'n' : s[i] == '\r' ? 'r' : s[i] == '\t' ? 't' : 'x';
                        out_len = 2;
                        if (esc[1] == 'x') {
                                esc[2] = hex[s[i] >> 4];
                                esc[3] = hex[s[i] & 15];
                                out_len = 4;
                        }
                }
                if (j + out_len >= size) /* truncated, but never inside an escape or a character */
                        break;
                memcpy(buf + j, out, out_len);
                j += out_len;
                i += in_len;
        }
        buf[j] = 0;
        return j;
}

static stitch_log_sink_t current_sink = stderr_sink;
static int max_level = LOG_INFO;

void stitch_log_set_sink(stitch_log_sink_t sink) {
        current_sink = sink ? sink : stderr_sink;
}

void stitch_log_set_max_level(int priority) {
        max_level = priority;
}

int stitch_log_get_max_level(void) {
        return max_level;
}

int stitch_log_internal(int priority, int error, const char *file, int line, const char *func,
                        const char *format, ...) {
        int e = error < 0 ? -error : error;

        if (priority > max_level)
                return -e;

        /* Expand %m ourselves so it refers to 'error', not to the current errno. */
        char fmt[1024];
        size_t j = 0;
        for (size_t i = 0; format[i] && j + 1 < sizeof(fmt); i++) {
                if (format[i] == '%' && format[i + 1] == 'm') {
                        const char *s = strerror(e);
                        for (size_t k = 0; s[k] && j + 1 < sizeof(fmt); k++) {
                                if (s[k] == '%') {
                                        if (j + 2 >= sizeof(fmt))
                                                break;
                                        fmt[j++] = '%';
                                }
                                fmt[j++] = s[k];
                        }
                        i++;
                        continue;
                }
                if (format[i] == '%' && format[i + 1] == '%') {
                        if (j + 2 >= sizeof(fmt))
                                break;
                        fmt[j++] = '%';
                        fmt[j++] = '%';
                        i++;
                        continue;
                }
                fmt[j++] = format[i];
        }
        fmt[j] = 0;

        char message[2048];
        va_list ap;
        va_start(ap, format);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        vsnprintf(message, sizeof(message), fmt, ap);
#pragma GCC diagnostic pop
        va_end(ap);

        /* Messages carry names from the network (PAM_USER, rhost, service):
         * every sink gets exactly one line, with nothing a terminal acts on. */
        char escaped[sizeof(message) * 4];
        (void) stitch_log_escape(message, escaped, sizeof(escaped));
        current_sink(priority, e, file, line, func, escaped);
        return -e;
}
