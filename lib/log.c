/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
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

        current_sink(priority, e, file, line, func, message);
        return -e;
}
