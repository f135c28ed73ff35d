/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A provider's secret kept in a file (an OAuth client secret, Facebook's
 * app secret or client token): one line of printable ASCII, at most
 * STITCH_SECRET_FILE_MAX bytes, in a regular file owned by root or by the
 * daemon, readable by nobody else (0600), under trusted directories. */

#define STITCH_SECRET_FILE_MAX 512

/* Reads it: 0 and *ret (erase_and_free it), or -errno having logged why
 * (prefixed with who, naming the file, never its content). */
int stitch_secret_file_read(const char *who, const char *what, const char *path, char **ret);
