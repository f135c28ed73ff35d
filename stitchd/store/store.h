/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The store: everything stitchd keeps durably, behind an ops table so that
 * other backends (PostgreSQL for fleets) slot in as one more file.
 *
 * Rows, not policy: each op reads or writes the rows it names (a user with
 * the rows it owns: identities, password, API keys). The rules belong to
 * the core, above every backend: what follows from a change (a disabled or
 * deleted user's sessions end: core/users.c, core/apikeys.c), who is idle
 * and when (core/users.c, from each provider's lifetime), that a user keeps
 * at least one identity (core/link.c), which refresh token is current and
 * what a rotated one presented again means (core/access.c). Where a rule
 * decides on rows that may change before the write, the op is a
 * compare-and-swap on what the core read (identity_remove,
 * session_refreshed, user_assign_unix_uid, email_token_take): the core
 * decides, the backend only refuses a stale decision.
 *
 * What a backend owes:
 * - Atomicity: each op is all or nothing, and so is each transaction
 *   (begin .. commit); an op that fails inside a transaction leaves nothing
 *   of itself and the transaction goes on (a savepoint per op, say).
 * - Isolation: each op sees one consistent state and its checks hold at
 *   its write: the compare-and-swap ops and the ops that check before they
 *   write (user_merge's guards, apikey_create's quota, email_token_put's
 *   supersession, user_assign_unix_uid) must not lose an update to a
 *   concurrent one. A backend with a single writer gets this for free; one
 *   with concurrent writers needs the checked rows locked (SELECT ... FOR UPDATE of the
 *   user or session row) or SERIALIZABLE with a retry, and an UPDATE whose
 *   WHERE carries the expected value (READ COMMITTED re-checks it against
 *   the newest row) for session_refreshed. Reads outside a transaction may
 *   be a moment old but never half of a write.
 * - Durability: every write returns only after the change is durable
 *   (on disk, fsynced; or COMMIT returned from a server that syncs
 *   before it answers). A return of 0 is an acknowledgement. The one
 *   exception is session_set_open, which must survive the daemon only. The
 *   ops called with a transaction's handle (begin()) are durable (or gone)
 *   together at commit(), so the caller decides whether to commit.
 * - The change feed: each op that records an event (see struct
 *   stitch_store_event) appends it in the same transaction as the change,
 *   so that a reader of the feed never sees one without the other.
 *
 * Threading: a store object is used from several threads at once (the event
 * loop, the CPU loops and the HTTP threads read; worker threads read and
 * write). A backend must not block readers behind a long write nor behind
 * each other (read connections apart from the writer, or a pool).
 *
 * Errors: 0 on success, -ENOENT not found, -EEXIST unique conflict, -EDQUOT
 * a per-user limit hit, -ESTALE a compare-and-swap lost, -ENOSPC disk full,
 * -EIO other store failure, -ENOMEM. Output parameters (ret_*) are written
 * only on success and owned by the caller (free with the matching *_free). */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strv.h" /* stitch_strv_free(), stitch_strv_freep(): the lists of ids below */
#include "validate.h" /* STITCH_ID_LEN */

#define STITCH_HASH_LEN 32        /* SHA-256 of a refresh token or API key */
#define STITCH_MAX_USER_APIKEYS 20

struct stitch_store; /* opaque, backend-defined */

struct stitch_identity {
        char id[STITCH_ID_LEN + 1];
        char *provider_type; /* "local-userpass", "api-key", "anon-user", ... */
        char *provider_id;   /* provider instance name; we use the provider_type */
        char *data_json;     /* metadata object as JSON text, e.g. {"email":"a@b"}; may be NULL */
};

#define STITCH_USER_TYPE_NORMAL "normal"
#define STITCH_USER_TYPE_SERVER "server" /* made for a server API key */

struct stitch_user {
        char id[STITCH_ID_LEN + 1];
        char *type;      /* STITCH_USER_TYPE_NORMAL or _SERVER */
        char *email;     /* NULL unless a local-userpass identity exists; unique */
        char *name;      /* display name or NULL */
        char *unix_name; /* NULL or a unique Unix login name */
        /* The Unix uid (and user-private gid) of the account unix_name names
         * (core/unix-accounts.c); 0 = none yet. Unique; once set it never
         * changes (user_update and user_create do not write it, only
         * user_assign_unix_uid does), and a deleted user's uid is never
         * handed out again. */
        int64_t unix_uid;
        char *data_json; /* Stitch "data" object as JSON text ({"email":...,"name":...}); never NULL */
        bool disabled;
        /* Registered (core/userpass-flows.c) and not confirmed yet: cannot
         * log in. Users an admin creates are never pending. Written by
         * user_create and user_set_pending only. */
        bool pending;
        /* Registered through the email flow (by anyone, with an address
         * nobody vouched for): never reached through [Pam] EmailDomain=,
         * only by a unix_name an admin gives it. Written by user_create only;
         * it never changes. */
        bool self_registered;
        int64_t creation_date;            /* epoch seconds */
        int64_t last_authentication_date; /* epoch seconds, 0 = never */
        struct stitch_identity *identities;
        size_t n_identities;

        /* What a login needs besides the row, read with it in one snapshot
         * by user_find_for_login only (else login_read is false and these
         * are NULL and 0): the password hash (a secret, wiped on free; NULL
         * if the user has none) and the number of live sessions (not
         * revoked, refresh_expires > now). */
        bool login_read;
        char *login_password_hash;
        uint64_t login_live_sessions;
};

struct stitch_apikey {
        char id[STITCH_ID_LEN + 1];
        char user_id[STITCH_ID_LEN + 1];
        char *name;                          /* [A-Za-z0-9_-]+ ; unique per user */
        uint8_t hash[STITCH_HASH_LEN];       /* SHA-256 of the key; unique */
        bool disabled;
        int64_t creation_date;
};

struct stitch_session {
        char id[STITCH_ID_LEN + 1];
        char user_id[STITCH_ID_LEN + 1];
        char device_id[STITCH_ID_LEN + 1];
        char *provider_type;
        char *service;   /* PAM service, or NULL */
        char *rhost;     /* or NULL */
        char *tty;       /* or NULL */
        uint8_t refresh_hash[STITCH_HASH_LEN]; /* SHA-256 of the current refresh token; unique */
        int64_t creation_date;
        int64_t refresh_expires;  /* epoch seconds: the refresh token dies then */
        int64_t access_expires;   /* latest 'exp' of any access token issued for it */
        int64_t last_used;        /* last login/refresh/verify-on-open activity */
        bool revoked;
        int64_t revoked_at;       /* 0 unless revoked */
        char *revoked_reason;     /* "logout", "revoke", "disable", "delete", "reuse", ... or NULL */
        /* Login bookkeeping for open PAM sessions (long-login refresher). */
        bool open;                /* between OpenSession and CloseSession */
        int64_t leader_pid;       /* 0 if none */
        int64_t uid;              /* Unix uid of the login, -1 if unknown */
        /* SHA-256 of the binding secret issued at login (OpenSession and
         * CloseSession present it); has_binding false for older sessions. */
        uint8_t binding_hash[STITCH_HASH_LEN];
        bool has_binding;
        int64_t created_usec;     /* CLOCK_REALTIME microseconds at creation (orders one second's sessions); 0 if older */
        /* The API key that opened it (deleting or disabling the key ends
         * it); "" for other sessions and for key sessions from before
         * sessions recorded their key. */
        char apikey_id[STITCH_ID_LEN + 1];
};

struct stitch_signing_key {
        char kid[64];        /* printable, unique */
        char *alg;           /* "ES256" or "HS256" */
        uint8_t *secret;     /* ES256: PEM private key; HS256: raw key bytes. Wiped on free. */
        size_t secret_len;
        int64_t created;
        int64_t retired;     /* 0 = the active signing key; else when it stopped signing */
};

/* The change feed: an append-only log of the changes other stitchd
 * instances on the same store must hear of (a fleet: a revocation must
 * reach every Verify). Each op below that makes one of these changes
 * appends its event in its own transaction; the core applies events
 * idempotently (core/store-events.c), so a feed read twice, or overlapping
 * a rebuild from the rows, does no harm. */
enum stitch_store_event_kind {
        STITCH_STORE_EVENT_SESSION_ENDED,  /* subject: session id; data {"access_expires":N,"reason":"..."} */
        STITCH_STORE_EVENT_USER_DISABLED,  /* subject: user id */
        STITCH_STORE_EVENT_USER_ENABLED,   /* subject: user id */
        STITCH_STORE_EVENT_USER_DELETED,   /* subject: user id; data {"merged_into":"..."} after a merge */
        STITCH_STORE_EVENT_USER_UPDATED,   /* subject: user id (email, names, identities, uid) */
        STITCH_STORE_EVENT_USER_PASSWORD,  /* subject: user id (its password was set) */
        STITCH_STORE_EVENT_APIKEY_CREATED, /* subject: key id; data {"user_id":"..."} */
        STITCH_STORE_EVENT_APIKEY_DISABLED,
        STITCH_STORE_EVENT_APIKEY_ENABLED,
        STITCH_STORE_EVENT_APIKEY_DELETED,
        STITCH_STORE_EVENT_KEY_ROTATED,    /* subject: the new active signing key's kid */
        _STITCH_STORE_EVENT_KIND_MAX,
        _STITCH_STORE_EVENT_KIND_INVALID = -EINVAL,
};

struct stitch_store_event {
        int64_t id;    /* > 0, increasing, never reused (not even after a prune) */
        int64_t time;  /* epoch seconds of the change */
        enum stitch_store_event_kind kind;
        char subject[64]; /* an id, or a kid: printable */
        char *data_json;  /* a JSON object, or NULL */
};

/* "session.ended", "user.disabled", ...: the store keeps the string. NULL
 * for a value outside the enum; the reverse gives _INVALID for an unknown
 * string (a newer stitchd's event: skip it). */
const char *stitch_store_event_kind_to_string(enum stitch_store_event_kind k);
enum stitch_store_event_kind stitch_store_event_kind_from_string(const char *s);

/* What an email token proves when it comes back (core/userpass-flows.c). */
enum stitch_email_token_kind {
        STITCH_EMAIL_TOKEN_CONFIRM, /* the address is the user's: confirms a pending user */
        STITCH_EMAIL_TOKEN_RESET,   /* the owner of the address may set a new password */
        _STITCH_EMAIL_TOKEN_KIND_MAX,
};

/* A confirmation or reset token: only its hash is kept. */
struct stitch_email_token {
        char id[STITCH_ID_LEN + 1];      /* random, unique (the link's tokenId) */
        char user_id[STITCH_ID_LEN + 1];
        enum stitch_email_token_kind kind;
        uint8_t hash[STITCH_HASH_LEN];   /* SHA-256 of the token */
        int64_t expires;                 /* epoch seconds */
};

enum stitch_user_key {
        STITCH_USER_BY_ID,
        STITCH_USER_BY_EMAIL,
        STITCH_USER_BY_UNIX_NAME,
        STITCH_USER_BY_UNIX_UID, /* the value is the uid in decimal ("20001"); -EINVAL if it is not one */
        /* The user one of whose identities has this id (identity ids are
         * unique across users); the caller checks the identity's
         * provider_type. */
        STITCH_USER_BY_IDENTITY,
};

/* Called for each revoked session whose access tokens might still be live. */
typedef int (*stitch_store_revocation_cb)(const char *session_id, int64_t access_expires,
                                          void *userdata);
/* Called for each open (PAM) session on start, for the refresher. */
typedef int (*stitch_store_session_cb)(const struct stitch_session *s, void *userdata);

struct stitch_store_ops {
        const char *scheme; /* "sqlite" for "sqlite:PATH" */
        /* Its ops are round trips to a server, which a lost network can
         * hold up to the connection's timeouts: the varlink front end runs
         * the calls that read the store on workers, never on an event loop
         * whose other calls (Verify) must not wait for them. */
        bool remote;

        /* Checks a location (what follows "scheme:") without touching
         * anything: 0, or -EINVAL with *ret_error (optional) set to a
         * static message fit to show next to the redacted spec; the
         * message never quotes the location, which may hold a secret. */
        int (*validate_location)(const char *location, const char **ret_error);
        /* Makes what the daemon must make before open() can work and that
         * a packaged install makes by itself (a file-based backend: its
         * directory, when there is no StateDirectory=). Optional (NULL:
         * nothing to make). */
        int (*prepare)(const char *location);
        /* Opens (creating and migrating as needed). 'location' is what
         * follows "scheme:". What a backend refuses to open (file modes,
         * owners, server certificates) is its own, documented with it;
         * such a refusal is -EPERM with a log line saying which rule. */
        int (*open)(const char *location, struct stitch_store **ret);
        void (*close)(struct stitch_store *s);
        /* The backend's own consistency check: *ret_problems (strv) lists
         * the problems it found, one a string; empty when the store is
         * sound. */
        int (*integrity_check)(struct stitch_store *s, char ***ret_problems);
        /* The backend's schema version (each backend counts its own). */
        int (*schema_version)(struct stitch_store *s, int *ret_version);

        /* transactions ------------------------------------------------------ */
        /* Opens a transaction and gives its handle: a store to pass to any
         * op in place of s, so that the op joins the transaction instead
         * of being one of its own. The ops called with the handle are one
         * atomic, isolated unit until commit() or rollback() of that handle,
         * after which the handle is dead. Reads through the handle see the
         * transaction's writes; other callers' reads never see them before
         * the commit (they see the state before it, or wait for it). Other
         * callers' writes may wait meanwhile (with a single writer every
         * write waits; a backend with row locks need only make the
         * conflicting ones wait). The handle belongs to no thread,
         * but is used by one at a time. Not nestable: -EBUSY for begin()
         * on a handle, and on a store from the thread whose transaction on
         * it is open, where a backend with a single writer would wait
         * forever. */
        int (*begin)(struct stitch_store *s, struct stitch_store **ret_tx);
        /* Durable on 0; on failure everything since begin() is gone. Either
         * way the transaction is over. -EINVAL if tx is not an open one. */
        int (*commit)(struct stitch_store *tx);
        void (*rollback)(struct stitch_store *tx);

        /* users ------------------------------------------------------------ */
        /* Inserts user, its identities and (if password_hash != NULL) its
         * password in one transaction. -EEXIST if id, email or unix_name is taken. */
        int (*user_create)(struct stitch_store *s, const struct stitch_user *u, const char *password_hash);
        /* Looks a user up (with identities). -ENOENT. */
        int (*user_find)(struct stitch_store *s, enum stitch_user_key by, const char *value,
                         struct stitch_user **ret);
        /* user_find() for a login: the user with its identities, its
         * password hash and its count of sessions live at 'now' (the
         * login_* fields), all in one read transaction. -ENOENT. */
        int (*user_find_for_login)(struct stitch_store *s, enum stitch_user_key by, const char *value, int64_t now,
                                   struct stitch_user **ret);
        /* Page through users ordered by id, starting after 'after_id' (NULL = from start),
         * at most 'limit'. */
        int (*user_list)(struct stitch_store *s, const char *after_id, size_t limit,
                         struct stitch_user ***ret, size_t *ret_n);
        int (*user_count)(struct stitch_store *s, uint64_t *ret);
        /* Sets disabled. -ENOENT. */
        int (*user_set_disabled)(struct stitch_store *s, const char *id, bool disabled);
        /* Updates email/name/unix_name/data_json of an existing user (all fields of u; not unix_uid),
         * and the data_json of those of its identities u lists (one gone meanwhile is skipped). */
        int (*user_update)(struct stitch_store *s, const struct stitch_user *u);
        /* Deletes the user with its identities, password and API keys. Its
         * sessions stay (they are not the user's rows: revoked ones are the
         * revocation set's source until their tokens are dead). -ENOENT. */
        int (*user_delete)(struct stitch_store *s, const char *id);
        /* Identity linking: moves every identity, the password and the API
         * keys of user from_id to into->id, deletes from_id, then writes
         * into's email/name/unix_name/data_json; one transaction, which
         * also checks what makes it safe (a check before it could race):
         * -ENOENT if either is gone; -ENOTEMPTY if from_id has been used
         * (logged in, has a session) or is disabled; -EEXIST if both have
         * an API key of the same name, -EDQUOT if together they have more
         * than STITCH_MAX_USER_APIKEYS (no key is ever dropped). */
        int (*user_merge)(struct stitch_store *s, const char *from_id, const struct stitch_user *into);
        /* Removes one identity of updated->id (and its password if
         * drop_password), then writes updated's fields; one transaction,
         * and a compare-and-swap: only if the user has expected_identities
         * identities (the removed one included) when it runs, the count
         * the caller decided on. Whether one may go (never the last: the
         * core's rule, core/link.c) is not the store's. -ENOENT no such
         * identity of that user, -ESTALE the count differs (a concurrent
         * link or unlink: read again and decide again). */
        int (*identity_remove)(struct stitch_store *s, const struct stitch_user *updated, const char *identity_id,
                               bool drop_password, size_t expected_identities);
        int (*user_touch)(struct stitch_store *s, const char *id, int64_t now);
        /* Sets or clears pending (a registration confirmed). -ENOENT. */
        int (*user_set_pending)(struct stitch_store *s, const char *id, bool pending);
        /* A filter, not a rule (who is idle, and when, is the core's:
         * core/users.c): ids (strv, ordered, at most 'limit') of users all
         * of whose identities are of provider_type, who have not logged in
         * since cutoff (last_authentication_date, or creation_date if
         * never) and have no live session used since cutoff. */
        int (*user_list_idle)(struct stitch_store *s, const char *provider_type, int64_t cutoff, size_t limit,
                              char ***ret_ids);

        /* Unix accounts (core/unix-accounts.c) ------------------------------- */
        /* Gives user_id the uid 'uid' (> 0), in one transaction that checks
         * what makes it safe: -ENOENT no such user, -EALREADY the user has a
         * uid already (a concurrent assignment won: read it), -EEXIST 'uid'
         * is taken (another user's, or a deleted user's), so the caller
         * tries the next candidate. */
        int (*user_assign_unix_uid)(struct stitch_store *s, const char *user_id, int64_t uid);
        /* Users with a unix_name and a unix_uid > after_uid, in uid order, at
         * most 'limit' (enumeration: pass the last uid of a page to get the
         * next). Without identities (n_identities = 0). */
        int (*user_list_unix)(struct stitch_store *s, int64_t after_uid, size_t limit, struct stitch_user ***ret,
                              size_t *ret_n);
        /* Ids (strv, oldest user first, at most 'limit') of users with a
         * unix_name and no unix_uid yet. */
        int (*user_list_unix_unassigned)(struct stitch_store *s, size_t limit, char ***ret_ids);
        /* The highest uid in [min, max] ever given to a user (deleted users'
         * included); -ENOENT if none. */
        int (*unix_uid_max)(struct stitch_store *s, int64_t min, int64_t max, int64_t *ret_uid);
        /* The lowest uid in [from, to] never given to a user; -ENOENT if none. */
        int (*unix_uid_next_free)(struct stitch_store *s, int64_t from, int64_t to, int64_t *ret_uid);
        /* The uids of deleted users (never given again), ascending, above
         * 'after', at most 'limit'; *ret is freed with free(). */
        int (*unix_uid_list_retired)(struct stitch_store *s, int64_t after, size_t limit, int64_t **ret,
                                     size_t *ret_n);
        /* Marks uid as a deleted user's (copying a store): 0, also if it
         * was already; -EEXIST if a user holds it. */
        int (*unix_uid_retire)(struct stitch_store *s, int64_t uid);

        /* passwords (local-userpass) -------------------------------------- */
        int (*password_get)(struct stitch_store *s, const char *user_id, char **ret_hash);
        int (*password_set)(struct stitch_store *s, const char *user_id, const char *hash);

        /* email tokens (confirmation and reset links) ------------------------ */
        /* Inserts t and, in the same transaction, deletes the user's other
         * tokens of t->kind (a newer link supersedes the older ones).
         * -ENOENT no such user, -EEXIST the id is taken. A deleted user's
         * tokens go with it. */
        int (*email_token_put)(struct stitch_store *s, const struct stitch_email_token *t);
        /* Single use: if token 'id' exists, is of 'kind', has not expired
         * (expires > now) and its hash is 'hash' (compared in constant
         * time), deletes it and returns 0 with its user's id; else -ENOENT
         * (expired, used, forged: the same). A forged hash leaves the token
         * in place. */
        int (*email_token_take)(struct stitch_store *s, const char *id, enum stitch_email_token_kind kind,
                                const uint8_t hash[STITCH_HASH_LEN], int64_t now,
                                char ret_user_id[static STITCH_ID_LEN + 1]);
        /* Deletes the tokens that expired at or before now. */
        int (*email_token_prune)(struct stitch_store *s, int64_t now, size_t *ret_n);

        /* API keys ----------------------------------------------------------- */
        /* -EDQUOT if the user already has STITCH_MAX_USER_APIKEYS keys;
         * -EEXIST if the name is taken for that user or the hash exists. */
        int (*apikey_create)(struct stitch_store *s, const struct stitch_apikey *k);
        int (*apikey_find_by_hash)(struct stitch_store *s, const uint8_t hash[STITCH_HASH_LEN],
                                   struct stitch_apikey **ret);
        /* An API-key login's read: the key with this hash and its user,
         * the user read as user_find_for_login reads it (login_* fields),
         * from one snapshot (on a server, one round trip). -ENOENT: no
         * such key, or its user is gone. */
        int (*apikey_find_for_login)(struct stitch_store *s, const uint8_t hash[STITCH_HASH_LEN], int64_t now,
                                     struct stitch_apikey **ret_key, struct stitch_user **ret_user);
        int (*apikey_get)(struct stitch_store *s, const char *id, struct stitch_apikey **ret);
        /* user_id NULL = all keys. Ordered by creation. */
        int (*apikey_list)(struct stitch_store *s, const char *user_id, struct stitch_apikey ***ret,
                           size_t *ret_n);
        int (*apikey_set_disabled)(struct stitch_store *s, const char *id, bool disabled);
        int (*apikey_delete)(struct stitch_store *s, const char *id);

        /* sessions ------------------------------------------------------------ */
        /* Also sets the user's last_authentication_date to creation_date (one
         * transaction). -ENOENT if the user is gone, or if apikey_id names a
         * key of the user that is gone or disabled (a login racing the key's
         * deletion either fails or is ended by it).
         * max_live > 0: the user keeps at most max_live live sessions
         * (session_list's live ones), this one included: the oldest beyond
         * that are revoked in the same transaction, reason "limit", with a
         * SESSION_ENDED event each, and their ids go to *ret_ended (a strv,
         * maybe empty; NULL on failure). So a login past [Sessions]
         * MaxPerUser is still one durable write. max_live 0: nothing ends;
         * ret_ended may be NULL. */
        int (*session_create)(struct stitch_store *s, const struct stitch_session *se, unsigned max_live,
                              char ***ret_ended);
        int (*session_get)(struct stitch_store *s, const char *id, struct stitch_session **ret);
        int (*session_find_by_refresh_hash)(struct stitch_store *s, const uint8_t hash[STITCH_HASH_LEN],
                                            struct stitch_session **ret);
        /* The session named by its id or (id NULL) by the hash of its
         * refresh token, and its user, in one statement: *ret_user is the
         * user without identities (n_identities 0), or NULL if the user is
         * gone. -ENOENT no such session. */
        int (*session_find_with_user)(struct stitch_store *s, const char *id, const uint8_t *refresh_hash,
                                      struct stitch_session **ret_session, struct stitch_user **ret_user);
        /* user_id NULL = all; include_revoked false = only live ones (not revoked,
         * refresh_expires > now). Ordered by creation time (creation_date, created_usec), oldest first. */
        int (*session_list)(struct stitch_store *s, const char *user_id, bool include_revoked,
                            int64_t now, struct stitch_session ***ret, size_t *ret_n);
        /* Marks revoked and no longer open (idempotent: -ENOENT only if the id does not exist;
         * returns 0 and leaves revoked_at unchanged if already revoked, 1 if it revoked now). */
        int (*session_revoke)(struct stitch_store *s, const char *id, int64_t now, const char *reason);
        /* Revokes every live session of the user; returns their ids (strv). */
        int (*session_revoke_user)(struct stitch_store *s, const char *user_id, int64_t now,
                                   const char *reason, char ***ret_revoked);
        /* Revokes every live session API key key_id opened, and the live
         * sessions of the key's user of provider_type that name no key
         * (from before sessions recorded it: any of the user's keys may
         * have opened them); returns their ids (strv). */
        int (*session_revoke_apikey)(struct stitch_store *s, const char *key_id, const char *provider_type,
                                     int64_t now, const char *reason, char ***ret_revoked);
        /* After a refresh: new access expiry and last_used. A rotation is a
         * compare-and-swap: new_refresh_hash replaces the refresh hash only if
         * it is still expected_refresh_hash (the hash the caller looked the
         * session up by), and the expected one is retired in the same
         * transaction (theft detection). Both NULL: no rotation; expected
         * alone: refresh only while that token is current; new alone: -EINVAL.
         * -ENOENT if gone or revoked, -ESTALE if the session is live but its
         * refresh hash is no longer the expected one (a concurrent rotation
         * won; nothing changed), -EEXIST if new_refresh_hash is taken. */
        int (*session_refreshed)(struct stitch_store *s, const char *id, int64_t access_expires,
                                 int64_t now, const uint8_t *expected_refresh_hash,
                                 const uint8_t *new_refresh_hash);
        /* The session whose refresh token was 'hash' before a rotation (theft detection). */
        int (*session_find_by_retired_refresh_hash)(struct stitch_store *s, const uint8_t hash[STITCH_HASH_LEN],
                                                    struct stitch_session **ret);
        /* OpenSession / CloseSession bookkeeping. */
        int (*session_set_open)(struct stitch_store *s, const char *id, bool open, int64_t leader_pid,
                                int64_t uid);
        /* Revoked sessions whose tokens may still be live: access_expires > now,
         * or revoked within the last 'lifetime' seconds (access_expires is not
         * rewritten on every refresh). Rebuilds the revocation set. */
        int (*session_foreach_revoked)(struct stitch_store *s, int64_t now, int64_t lifetime,
                                       stitch_store_revocation_cb cb, void *userdata);
        /* Live open sessions (for the refresher after a restart). */
        int (*session_foreach_open)(struct stitch_store *s, int64_t now, stitch_store_session_cb cb,
                                    void *userdata);
        /* Deletes sessions that are revoked or expired and whose tokens are all
         * dead (access_expires < now and (revoked or refresh_expires < now)). */
        int (*session_prune)(struct stitch_store *s, int64_t now, size_t *ret_n);
        int (*session_count)(struct stitch_store *s, uint64_t *ret);

        /* signing keys ---------------------------------------------------------- */
        /* All keys, newest first. */
        int (*key_list)(struct stitch_store *s, struct stitch_signing_key ***ret, size_t *ret_n);
        /* Inserts k as the active key and retires the previous active key
         * (retired = k->created) in one transaction. */
        int (*key_rotate)(struct stitch_store *s, const struct stitch_signing_key *k);
        /* Deletes retired keys retired before 'cutoff'. */
        int (*key_prune)(struct stitch_store *s, int64_t cutoff, size_t *ret_n);

        /* the change feed ------------------------------------------------------ */
        /* Events (see struct stitch_store_event) with id > after_id, oldest
         * first, at most 'limit'. Which ops write which event: the session
         * revoking ops one SESSION_ENDED per session they end (not
         * session_create nor the refresh ops, which end nothing);
         * user_set_disabled, user_delete (and user_merge for the merged-away
         * user), user_update, identity_remove, user_merge (the kept user),
         * user_assign_unix_uid, password_set; apikey_create,
         * apikey_set_disabled, apikey_delete; key_rotate. Ids follow commit
         * order in a backend with one writer; a server backend whose ids
         * come from a sequence need not (a smaller id may commit later), so
         * a follower there reads with an overlap and applies idempotently. */
        int (*events_since)(struct stitch_store *s, int64_t after_id, size_t limit,
                            struct stitch_store_event ***ret, size_t *ret_n);
        /* The highest event id ever given (0 if none): where a follower
         * that has just read the rows starts. */
        int (*events_last_id)(struct stitch_store *s, int64_t *ret_id);
        /* Deletes events older than 'before' (time < before). */
        int (*events_prune)(struct stitch_store *s, int64_t before, size_t *ret_n);
        /* Push: a backend that other hosts write to (a server) tells the
         * daemon when events may have arrived, so that it need not poll.
         * Optional (all three NULL: one host writes; nothing to hear).
         * feed_open() opens a connection of its own that listens for the
         * backend's notifications and gives its fd (to watch for reading;
         * the fd stays the backend's); -EBUSY if open already, errors of
         * open() otherwise. feed_drain() reads what the fd has: > 0 if a
         * notification (or more) arrived, 0 if none, -ENOTCONN if the
         * connection is lost (then feed_close() it and feed_open() later).
         * A notification says only "read events_since()": the events are
         * the truth; none is lost by a lost notification, only late.
         * feed_check() sends a round trip on the feed connection, to find
         * a dead peer: 0 if alive, -ENOTCONN. Called from one thread. */
        int (*feed_open)(struct stitch_store *s, int *ret_fd);
        int (*feed_drain)(struct stitch_store *s);
        int (*feed_check)(struct stitch_store *s);
        void (*feed_close)(struct stitch_store *s);

        /* memory ------------------------------------------------------------ */
        /* Gives back what the backend caches and can read again (page
         * caches), when the daemon is idle.
         * Optional (NULL). Returns the bytes freed, if known. */
        size_t (*release_memory)(struct stitch_store *s);
};

/* Backends and the registry (store/registry.c). */
extern const struct stitch_store_ops stitch_store_sqlite;
extern const struct stitch_store_ops stitch_store_postgresql; /* "postgresql://..." and "postgres://..." */

/* A store specification is "scheme:location" ("sqlite:/var/lib/stitchd/stitch.db",
 * "postgresql://user@host/db"): the registry picks the backend by the
 * scheme, the backend judges the rest. A spec may hold credentials: show
 * one only through stitch_store_describe_spec(). */

/* Checks spec (config parsing): 0, -EINVAL if it is malformed or names no
 * known backend, -EOPNOTSUPP if its scheme is a known one whose backend is
 * not built. *ret_error (optional) receives a static message that never
 * quotes the spec. Logs nothing. */
int stitch_store_validate_spec(const char *spec, const char **ret_error);
/* The backend's prepare() for spec (see the ops); logs what fails. */
int stitch_store_prepare(const char *spec);
/* Opens the store named by spec. *ret_ops receives the backend. */
int stitch_store_open(const char *spec, const struct stitch_store_ops **ret_ops, struct stitch_store **ret);
/* A copy of spec fit for logs and replies: passwords and secret parameters
 * masked (lib/redact.h). NULL only when out of memory: show STITCH_REDACTED. */
char *stitch_store_describe_spec(const char *spec);

/* Freeing helpers (store/objects.c). All accept NULL and return NULL. */
struct stitch_user *stitch_user_free(struct stitch_user *u);
struct stitch_apikey *stitch_apikey_free(struct stitch_apikey *k);
struct stitch_session *stitch_session_free(struct stitch_session *s);
struct stitch_signing_key *stitch_signing_key_free(struct stitch_signing_key *k);
struct stitch_store_event *stitch_store_event_free(struct stitch_store_event *e);
void stitch_identity_done(struct stitch_identity *i);
void stitch_user_array_free(struct stitch_user **a, size_t n);
void stitch_apikey_array_free(struct stitch_apikey **a, size_t n);
void stitch_session_array_free(struct stitch_session **a, size_t n);
void stitch_signing_key_array_free(struct stitch_signing_key **a, size_t n);
void stitch_store_event_array_free(struct stitch_store_event **a, size_t n);

static inline void stitch_user_freep(struct stitch_user **p) { stitch_user_free(*p); }
static inline void stitch_apikey_freep(struct stitch_apikey **p) { stitch_apikey_free(*p); }
static inline void stitch_session_freep(struct stitch_session **p) { stitch_session_free(*p); }
static inline void stitch_signing_key_freep(struct stitch_signing_key **p) { stitch_signing_key_free(*p); }
static inline void stitch_store_event_freep(struct stitch_store_event **p) { stitch_store_event_free(*p); }
