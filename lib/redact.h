/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Store specifications ("sqlite:/path", and later database URLs such as
 * "postgresql://user:secret@host/db?sslpassword=...") are shown in the
 * startup log, in the status reply and in error messages. Show them only
 * through stitch_redact_url(). */

#define STITCH_REDACTED "***"

/* Returns a newly allocated copy of s fit to show: the password of URI
 * userinfo ("scheme://user:PASSWORD@host") and the value of every
 * password-like parameter ("password=", "passfile=", "sslpassword=",
 * "secret=", "token=", "...key=", in a URI query or as libpq-style
 * "key=value" words) are replaced by STITCH_REDACTED. Anything that is
 * not a password is kept, so the result still says which store is meant.
 * NULL only when out of memory: callers then show STITCH_REDACTED. */
char *stitch_redact_url(const char *s);
