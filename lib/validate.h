/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a name or an id may look like: pure string checks, the one copy for
 * the configuration, the wire handlers, the token code and the fuzzers.
 * NULL is never valid. Locale-independent: ASCII only. */

#include <stdbool.h>

/* Ids: ObjectIds and session ids are this long (also in store/store.h). */
#define STITCH_ID_LEN 24

/* Unix user and group names, the relaxed rule of Debian's shadow-utils and
 * systemd: [a-z_][a-z0-9_.-]*, optionally ending in '$', at most 32
 * characters. The first character already keeps out ".", ".." and names of
 * digits only (which chown and friends would read as ids). */
#define STITCH_UNIX_NAME_MAX 32
bool stitch_unix_name_valid(const char *s);

/* Emails: 3..254 bytes, one '@' with text on both sides, no spaces or controls. */
bool stitch_email_valid(const char *s);

/* API key names: [A-Za-z0-9_-]{1,64}. */
bool stitch_apikey_name_valid(const char *s);

/* ObjectIds: STITCH_ID_LEN lowercase hex digits. */
bool stitch_objectid_valid(const char *s);

/* Session ids: STITCH_ID_LEN characters of [A-Za-z0-9] (new random ids,
 * and the ObjectIds of older sessions). */
bool stitch_session_id_valid(const char *s);
