/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "store/copy.h"

#define PAGE 256

int stitch_store_count(const struct stitch_store_ops *ops, struct stitch_store *s, struct stitch_store_counts *ret) {
        struct stitch_store_counts c = {};
        _cleanup_free_ char *after = NULL;
        int r;

        for (;;) {
                struct stitch_user **users = NULL;
                size_t n = 0;
                r = ops->user_list(s, after, PAGE, &users, &n);
                if (r < 0)
                        return log_error_errno(r, "Cannot list users: %m");
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *hash = NULL;
                        c.users++;
                        c.identities += users[i]->n_identities;
                        r = ops->password_get(s, users[i]->id, &hash);
                        if (r >= 0) {
                                c.passwords++;
                                explicit_bzero(hash, strlen(hash));
                        } else if (r != -ENOENT) {
                                stitch_user_array_free(users, n);
                                return log_error_errno(r, "Cannot read a password: %m");
                        }
                }
                free(after);
                after = n > 0 ? strdup(users[n - 1]->id) : NULL;
                stitch_user_array_free(users, n);
                if (n < PAGE)
                        break;
                if (!after)
                        return log_oom();
        }

        for (int64_t uid = 0;;) {
                _cleanup_free_ int64_t *uids = NULL;
                size_t n = 0;
                r = ops->unix_uid_list_retired(s, uid, PAGE, &uids, &n);
                if (r < 0)
                        return log_error_errno(r, "Cannot list retired uids: %m");
                c.retired_uids += n;
                if (n < PAGE)
                        break;
                uid = uids[n - 1];
        }

        struct stitch_apikey **keys = NULL;
        size_t n_keys = 0;
        r = ops->apikey_list(s, NULL, &keys, &n_keys);
        if (r < 0)
                return log_error_errno(r, "Cannot list API keys: %m");
        stitch_apikey_array_free(keys, n_keys);
        c.apikeys = n_keys;

        r = ops->session_count(s, &c.sessions);
        if (r < 0)
                return log_error_errno(r, "Cannot count sessions: %m");

        struct stitch_signing_key **sk = NULL;
        size_t n_sk = 0;
        r = ops->key_list(s, &sk, &n_sk);
        if (r < 0)
                return log_error_errno(r, "Cannot list signing keys: %m");
        stitch_signing_key_array_free(sk, n_sk);
        c.signing_keys = n_sk;

        *ret = c;
        return 0;
}

/* Users, their passwords, uids and states; one page at a time. */
static int copy_users(const struct stitch_store_ops *from_ops, struct stitch_store *from,
                      const struct stitch_store_ops *to_ops, struct stitch_store *tx) {
        _cleanup_free_ char *after = NULL;
        int r;

        for (;;) {
                struct stitch_user **users = NULL;
                size_t n = 0;
                r = from_ops->user_list(from, after, PAGE, &users, &n);
                if (r < 0)
                        return log_error_errno(r, "Cannot list the source's users: %m");
                for (size_t i = 0; r >= 0 && i < n; i++) {
                        const struct stitch_user *u = users[i];
                        char *hash = NULL;

                        r = from_ops->password_get(from, u->id, &hash);
                        if (r < 0 && r != -ENOENT) {
                                log_error_errno(r, "Cannot read the password of user %s: %m", u->id);
                                break;
                        }
                        /* user_create writes disabled, pending, dates and
                         * identities; the uid has its own op. */
                        r = to_ops->user_create(tx, u, hash);
                        if (hash)
                                explicit_bzero(hash, strlen(hash));
                        free(hash);
                        if (r < 0) {
                                log_error_errno(r, "Cannot copy user %s: %m", u->id);
                                break;
                        }
                        if (u->unix_uid > 0) {
                                r = to_ops->user_assign_unix_uid(tx, u->id, u->unix_uid);
                                if (r < 0) {
                                        log_error_errno(r, "Cannot copy the uid of user %s: %m", u->id);
                                        break;
                                }
                        }
                }
                free(after);
                after = n > 0 ? strdup(users[n - 1]->id) : NULL;
                stitch_user_array_free(users, n);
                if (r < 0)
                        return r;
                if (n < PAGE)
                        return 0;
                if (!after)
                        return log_oom();
        }
}

static int copy_retired_uids(const struct stitch_store_ops *from_ops, struct stitch_store *from,
                             const struct stitch_store_ops *to_ops, struct stitch_store *tx) {
        for (int64_t after = 0;;) {
                _cleanup_free_ int64_t *uids = NULL;
                size_t n = 0;
                int r = from_ops->unix_uid_list_retired(from, after, PAGE, &uids, &n);
                if (r < 0)
                        return log_error_errno(r, "Cannot list the source's retired uids: %m");
                for (size_t i = 0; i < n; i++) {
                        r = to_ops->unix_uid_retire(tx, uids[i]);
                        if (r < 0)
                                return log_error_errno(r, "Cannot copy retired uid %" PRIi64 ": %m", uids[i]);
                }
                if (n < PAGE)
                        return 0;
                after = uids[n - 1];
        }
}

/* API keys, enabled at first: a key's sessions can only be written while
 * it is (the contract refuses a session of a disabled key). */
static int copy_apikeys(const struct stitch_store_ops *from_ops, struct stitch_store *from,
                        const struct stitch_store_ops *to_ops, struct stitch_store *tx,
                        struct stitch_apikey ***ret, size_t *ret_n) {
        struct stitch_apikey **keys = NULL;
        size_t n = 0;
        int r = from_ops->apikey_list(from, NULL, &keys, &n);
        if (r < 0)
                return log_error_errno(r, "Cannot list the source's API keys: %m");
        for (size_t i = 0; i < n; i++) {
                struct stitch_apikey k = *keys[i];
                k.disabled = false;
                r = to_ops->apikey_create(tx, &k);
                if (r < 0) {
                        log_error_errno(r, "Cannot copy API key %s: %m", k.id);
                        stitch_apikey_array_free(keys, n);
                        return r;
                }
        }
        *ret = keys;
        *ret_n = n;
        return 0;
}

static bool key_exists(struct stitch_apikey **keys, size_t n, const char *id) {
        for (size_t i = 0; i < n; i++)
                if (streq(keys[i]->id, id))
                        return true;
        return false;
}

static int copy_sessions(const struct stitch_store_ops *from_ops, struct stitch_store *from,
                         const struct stitch_store_ops *to_ops, struct stitch_store *tx,
                         struct stitch_apikey **keys, size_t n_keys) {
        struct stitch_session **a = NULL;
        size_t n = 0;
        int r = from_ops->session_list(from, NULL, true, 0, &a, &n);
        if (r < 0)
                return log_error_errno(r, "Cannot list the source's sessions: %m");
        for (size_t i = 0; i < n; i++) {
                struct stitch_session se = *a[i];
                /* An ended session of a key deleted since keeps its end and
                 * loses the link to the key, which no longer exists. */
                if (!isempty(se.apikey_id) && !key_exists(keys, n_keys, se.apikey_id))
                        se.apikey_id[0] = '\0';
                r = to_ops->session_create(tx, &se, 0, NULL);
                if (r < 0) {
                        log_error_errno(r, "Cannot copy session %s: %m", se.id);
                        break;
                }
        }
        stitch_session_array_free(a, n);
        return r < 0 ? r : 0;
}

static int copy_signing_keys(const struct stitch_store_ops *from_ops, struct stitch_store *from,
                             const struct stitch_store_ops *to_ops, struct stitch_store *tx) {
        struct stitch_signing_key **a = NULL;
        size_t n = 0;
        int r = from_ops->key_list(from, &a, &n);
        if (r < 0)
                return log_error_errno(r, "Cannot list the source's signing keys: %m");
        /* Newest first in the list: rotate in the oldest first, so each
         * retires the one before it as it did in the source. */
        for (size_t i = n; i > 0; i--) {
                r = to_ops->key_rotate(tx, a[i - 1]);
                if (r < 0) {
                        log_error_errno(r, "Cannot copy signing key %s: %m", a[i - 1]->kid);
                        break;
                }
        }
        stitch_signing_key_array_free(a, n);
        return r < 0 ? r : 0;
}

static int copy_all(const struct stitch_store_ops *from_ops, struct stitch_store *from,
                    const struct stitch_store_ops *to_ops, struct stitch_store *tx) {
        struct stitch_apikey **keys = NULL;
        size_t n_keys = 0;

        int r = copy_users(from_ops, from, to_ops, tx);
        if (r >= 0)
                r = copy_retired_uids(from_ops, from, to_ops, tx);
        if (r >= 0)
                r = copy_apikeys(from_ops, from, to_ops, tx, &keys, &n_keys);
        if (r >= 0)
                r = copy_sessions(from_ops, from, to_ops, tx, keys, n_keys);
        for (size_t i = 0; r >= 0 && i < n_keys; i++)
                if (keys[i]->disabled) {
                        r = to_ops->apikey_set_disabled(tx, keys[i]->id, true);
                        if (r < 0)
                                log_error_errno(r, "Cannot disable API key %s: %m", keys[i]->id);
                }
        stitch_apikey_array_free(keys, n_keys);
        if (r >= 0)
                r = copy_signing_keys(from_ops, from, to_ops, tx);
        return r;
}

static void log_counts(const char *what, const struct stitch_store_counts *c) {
        log_info("%s: %" PRIu64 " users, %" PRIu64 " identities, %" PRIu64 " passwords, %" PRIu64
                 " API keys, %" PRIu64 " sessions, %" PRIu64 " signing keys, %" PRIu64 " retired uids.",
                 what, c->users, c->identities, c->passwords, c->apikeys, c->sessions, c->signing_keys,
                 c->retired_uids);
}

int stitch_store_copy(const struct stitch_store_ops *from_ops, struct stitch_store *from,
                      const struct stitch_store_ops *to_ops, struct stitch_store *to,
                      struct stitch_store_counts *ret_from, struct stitch_store_counts *ret_to) {
        struct stitch_store_counts a, b;
        struct stitch_store *tx = NULL;
        int r;

        r = stitch_store_count(to_ops, to, &b);
        if (r < 0)
                return r;
        if (b.users > 0 || b.sessions > 0 || b.apikeys > 0 || b.signing_keys > 0) {
                log_error("The target store is not empty (%" PRIu64 " users, %" PRIu64 " sessions, %" PRIu64
                          " API keys, %" PRIu64 " signing keys): refusing to copy into it.",
                          b.users, b.sessions, b.apikeys, b.signing_keys);
                return -ENOTEMPTY;
        }
        r = stitch_store_count(from_ops, from, &a);
        if (r < 0)
                return r;
        log_counts("Source", &a);

        r = to_ops->begin(to, &tx);
        if (r < 0)
                return log_error_errno(r, "Cannot begin a transaction on the target: %m");
        r = copy_all(from_ops, from, to_ops, tx);
        if (r < 0) {
                to_ops->rollback(tx);
                return r;
        }
        r = to_ops->commit(tx);
        if (r < 0)
                return log_error_errno(r, "Cannot commit the copy: %m");

        r = stitch_store_count(to_ops, to, &b);
        if (r < 0)
                return r;
        log_counts("Target", &b);
        if (ret_from)
                *ret_from = a;
        if (ret_to)
                *ret_to = b;
        if (a.users != b.users || a.identities != b.identities || a.passwords != b.passwords ||
            a.apikeys != b.apikeys || a.sessions != b.sessions || a.signing_keys != b.signing_keys ||
            a.retired_uids != b.retired_uids) {
                log_error("The copy's counts differ from the source's.");
                return -EBADE;
        }
        return 0;
}
