/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libcurl, loaded the first time something needs it (dlopen): a daemon that
 * sends no mail maps none of libcurl and none of what it links (GnuTLS,
 * Kerberos, LDAP, SSH, IDN: ~3.5 MiB of resident pages at start). The
 * functions stitchd calls, through one table. */

#include <curl/curl.h>

struct stitch_curl {
        CURL *(*easy_init)(void);
        CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
        CURLcode (*easy_perform)(CURL *curl);
        CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
        void (*easy_cleanup)(CURL *curl);
        const char *(*easy_strerror)(CURLcode code);
        struct curl_slist *(*slist_append)(struct curl_slist *list, const char *string);
        void (*slist_free_all)(struct curl_slist *list);
};

/* Loads libcurl (once; later calls return the same table) and runs
 * curl_global_init. Thread-safe. Returns the table, or NULL with the reason
 * logged (libcurl not installed, a symbol missing, init failed). The library
 * stays loaded until the process ends. */
const struct stitch_curl *stitch_curl_load(void);
