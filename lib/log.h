/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <syslog.h>

#include "macro.h"

/* Logging. The daemon installs a sink (journal or stderr); the default
 * writes to stderr. Messages never contain secrets: callers log names,
 * ids and error codes, not passwords, keys or tokens. */

typedef void (*stitch_log_sink_t)(int priority, int error, const char *file, int line,
                                  const char *func, const char *message);

void stitch_log_set_sink(stitch_log_sink_t sink);
void stitch_log_set_max_level(int priority);
int stitch_log_get_max_level(void);

/* Writes message to buf (size bytes, NUL-terminated) as one printable line:
 * control characters (< 0x20, 0x7f), C1 controls and bytes that are not
 * well-formed UTF-8 become \n, \r, \t or \xNN; everything else, including
 * valid UTF-8, is kept. Output that does not fit is cut before the escape or
 * character that would not fit. Returns the length written. Every message
 * goes through this before it reaches a sink. */
size_t stitch_log_escape(const char *message, char *buf, size_t size);

/* Returns -abs(error) so callers can "return log_error_errno(r, ...)".
 * %m in the format expands to strerror(error). */
int stitch_log_internal(int priority, int error, const char *file, int line, const char *func,
                        const char *format, ...) _printf_(6, 7);

#define log_full_errno(prio, error, ...) \
        stitch_log_internal((prio), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_full(prio, ...) log_full_errno((prio), 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)
#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
