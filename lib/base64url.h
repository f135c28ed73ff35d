/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* base64url (RFC 4648 §5) without padding, as JWTs, JWKS and our secrets
 * use it. The decoder is strict: only the URL-safe alphabet, no padding, no
 * whitespace, and the unused low bits of the last character must be zero, so
 * that every byte string has exactly one accepted encoding. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Characters that n bytes encode to (without a terminator). */
#define STITCH_BASE64URL_ENCODED_LEN(n) (((n) / 3) * 4 + ((n) % 3 == 0 ? 0 : (n) % 3 + 1))

size_t stitch_base64url_encoded_len(size_t n);
/* Bytes that n characters of valid base64url decode to. */
size_t stitch_base64url_decoded_len(size_t n);

/* Whether c is one of the 64 characters of the URL-safe alphabet. */
bool stitch_base64url_is_char(char c);

/* Writes stitch_base64url_encoded_len(n) characters and a NUL to ret, which
 * must hold that plus one. Returns the number of characters. */
size_t stitch_base64url_encode(const void *data, size_t n, char *ret);

/* Decodes n characters of s into ret (size bytes). Returns the decoded
 * length, -EBADMSG for anything but canonical unpadded base64url, or
 * -ENOBUFS when size is less than stitch_base64url_decoded_len(n). On
 * failure the contents of ret are unspecified. */
ssize_t stitch_base64url_decode(const char *s, size_t n, void *ret, size_t size);
