/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A QR code for a terminal: what a front end draws of a message the daemon
 * flags as one (a device login's verification URL), so that a phone's
 * camera opens it. Drawn with Unicode half blocks, two module rows a line:
 * light modules (and the quiet zone around the code) are the terminal's
 * foreground colour (U+2580 ▀, U+2584 ▄, U+2588 █), dark ones are spaces,
 * which reads right on a terminal with light text on a dark background (as
 * `qrencode -t UTF8` draws it); scanners also read the inverted code. */

#include <stddef.h>

#define STITCH_QR_QUIET_ZONE 2   /* modules of light margin around the code */
#define STITCH_QR_DATA_MAX 256   /* bytes encoded at most */

/* Draws data (UTF-8, 1..STITCH_QR_DATA_MAX bytes) at error correction
 * level L, the smallest version that holds it: lines ending in "\n",
 * (width + 2 * quiet zone) columns each. Returns 0 and a malloc'ed
 * string; -EINVAL (empty or too long), -ENOMEM, -EIO (libqrencode
 * failed). *ret_width gets the modules a line (if not NULL). */
int stitch_qr_text(const char *data, char **ret, size_t *ret_width);
