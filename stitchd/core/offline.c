/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/offline.h"
#include "core/password.h"
#include "log.h"
#include "macro.h"
#include "providers/userpass.h"

#define KEY_BYTES 32
#define PREHASH_HEX (32 * 2)

struct stitch_offline {
        pthread_mutex_t lock;
        sqlite3 *db;
        uint8_t key[KEY_BYTES];
};

static const char schema[] =
        "PRAGMA journal_mode = WAL;"
        "PRAGMA synchronous = NORMAL;"
        "CREATE TABLE IF NOT EXISTS offline_users ("
        "  unix_name TEXT PRIMARY KEY NOT NULL,"
        "  user_id TEXT NOT NULL,"
        "  verifier TEXT NOT NULL,"          /* argon2id PHC of HMAC(key, password) */
        "  store_hash_sha256 BLOB NOT NULL,"  /* of the store's hash when the verifier was made */
        "  last_online INTEGER NOT NULL,"     /* epoch seconds of the last online password login */
        "  disabled INTEGER NOT NULL DEFAULT 0"
        ");"
        "CREATE INDEX IF NOT EXISTS offline_users_user_id ON offline_users(user_id);";

/* A file of ours alone: regular, owned by us, no access for group or others. */
static int check_private(int fd, const char *path, const char *what) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return log_error_errno(errno, "Cannot stat the offline %s %s: %m", what, path);
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0077) != 0) {
                log_error("The offline %s %s must be a regular file of uid %u with mode 0600; refusing it.", what,
                          path, (unsigned) geteuid());
                return -EPERM;
        }
        return 0;
}

/* Opens path for reading (creating it empty, 0600, if create) without
 * following a symlink, and checks it. */
static int open_private(const char *path, bool create, const char *what) {
        int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0600);
        if (fd < 0)
                return log_error_errno(errno, "Cannot open the offline %s %s: %m", what, path);
        int r = check_private(fd, path, what);
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

static int load_key(struct stitch_offline *o, const char *path) {
        _cleanup_free_ char *key_path = NULL;
        if (asprintf(&key_path, "%s.key", path) < 0)
                return -ENOMEM;

        int fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
                /* New: random, durable before the first verifier uses it. */
                uint8_t k[KEY_BYTES];
                int r = stitch_random_bytes(k, sizeof(k));
                if (r >= 0 && (write(fd, k, sizeof(k)) != (ssize_t) sizeof(k) || fsync(fd) < 0))
                        r = log_error_errno(errno ? errno : EIO, "Cannot write the offline key %s: %m", key_path);
                explicit_bzero(k, sizeof(k));
                close(fd);
                if (r < 0) {
                        (void) unlink(key_path);
                        return r;
                }
                log_info("Made the offline login key %s.", key_path);
        } else if (errno != EEXIST)
                return log_error_errno(errno, "Cannot create the offline key %s: %m", key_path);

        fd = open_private(key_path, false, "key");
        if (fd < 0)
                return fd;
        ssize_t n = read(fd, o->key, sizeof(o->key));
        uint8_t extra;
        bool more = n == (ssize_t) sizeof(o->key) && read(fd, &extra, 1) != 0;
        close(fd);
        if (n != (ssize_t) sizeof(o->key) || more) {
                explicit_bzero(o->key, sizeof(o->key));
                log_error("The offline key %s is not %d bytes; refusing it.", key_path, KEY_BYTES);
                return -EBADMSG;
        }
        return 0;
}

int stitch_offline_open(const char *path, struct stitch_offline **ret) {
        int r;

        struct stitch_offline *o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        pthread_mutex_init(&o->lock, NULL);

        int fd = open_private(path, true, "cache");
        if (fd < 0) {
                stitch_offline_free(o);
                return fd;
        }
        close(fd);
        r = load_key(o, path);
        if (r < 0) {
                stitch_offline_free(o);
                return r;
        }
        if (sqlite3_open_v2(path, &o->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW, NULL) !=
                    SQLITE_OK ||
            sqlite3_exec(o->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
                log_error("Cannot open the offline cache %s: %s", path,
                          o->db ? sqlite3_errmsg(o->db) : "out of memory");
                stitch_offline_free(o);
                return -EIO;
        }
        (void) sqlite3_busy_timeout(o->db, 5000);
        *ret = o;
        return 0;
}

struct stitch_offline *stitch_offline_free(struct stitch_offline *o) {
        if (!o)
                return NULL;
        if (o->db)
                sqlite3_close_v2(o->db);
        explicit_bzero(o->key, sizeof(o->key));
        pthread_mutex_destroy(&o->lock);
        free(o);
        return NULL;
}

bool stitch_offline_store_unreachable(int error) {
        switch (-error) {
        case ENOTCONN:
        case ECONNREFUSED:
        case ECONNRESET:
        case ECONNABORTED:
        case ETIMEDOUT:
        case EHOSTUNREACH:
        case ENETUNREACH:
        case EHOSTDOWN:
        case EPIPE:
                return true;
        default:
                return false;
        }
}

/* HMAC-SHA256(key, password) in hex: what the verifier hashes. */
static int prehash(const struct stitch_offline *o, const char *password, char ret[static PREHASH_HEX + 1]) {
        uint8_t mac[32];
        size_t n = 0;
        if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, o->key, sizeof(o->key), (const uint8_t *) password,
                       strlen(password), mac, sizeof(mac), &n) ||
            n != sizeof(mac))
                return -EIO;
        for (size_t i = 0; i < sizeof(mac); i++)
                snprintf(ret + 2 * i, 3, "%02x", mac[i]);
        explicit_bzero(mac, sizeof(mac));
        return 0;
}

static int64_t max_age_sec(const struct stitch_core *core) {
        return (int64_t) (core->config.offline_max_age_usec / USEC_PER_SEC);
}

static int step_done(sqlite3 *db, sqlite3_stmt *st, const char *what) {
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
                log_warning("Offline cache: %s failed: %s", what, sqlite3_errmsg(db));
                return -EIO;
        }
        return 0;
}

int stitch_offline_remember(struct stitch_core *core, const char *unix_name, const char *user_id,
                            const char *password, const uint8_t store_hash_sha256[static 32], int64_t now) {
        struct stitch_offline *o = core->offline;
        _cleanup_free_ char *verifier = NULL;
        sqlite3_stmt *st = NULL;
        bool fresh = false;
        int r;

        if (!o)
                return 0;
        /* The same user with the same stored hash: the verifier still holds. */
        pthread_mutex_lock(&o->lock);
        if (sqlite3_prepare_v2(o->db,
                               "UPDATE offline_users SET last_online = ?3, disabled = 0 "
                               "WHERE unix_name = ?1 AND user_id = ?2 AND store_hash_sha256 = ?4",
                               -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, unix_name, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, user_id, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 3, now);
                sqlite3_bind_blob(st, 4, store_hash_sha256, 32, SQLITE_STATIC);
                r = step_done(o->db, st, "update");
                fresh = r >= 0 && sqlite3_changes(o->db) > 0;
        } else
                r = -EIO;
        pthread_mutex_unlock(&o->lock);
        if (fresh || r < 0)
                return r;

        /* New, or a new password: one hash, outside the lock. */
        char pre[PREHASH_HEX + 1];
        r = prehash(o, password, pre);
        if (r >= 0) {
                struct stitch_argon2_params params = stitch_userpass_password_hash(&core->config);
                r = stitch_password_hash(pre, &params, &verifier);
        }
        explicit_bzero(pre, sizeof(pre));
        if (r < 0)
                return log_warning_errno(r, "Cannot make the offline verifier of %s: %m", unix_name);

        pthread_mutex_lock(&o->lock);
        if (sqlite3_prepare_v2(o->db,
                               "INSERT OR REPLACE INTO offline_users "
                               "(unix_name, user_id, verifier, store_hash_sha256, last_online, disabled) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, 0)",
                               -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, unix_name, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, user_id, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 3, verifier, -1, SQLITE_STATIC);
                sqlite3_bind_blob(st, 4, store_hash_sha256, 32, SQLITE_STATIC);
                sqlite3_bind_int64(st, 5, now);
                r = step_done(o->db, st, "insert");
        } else
                r = -EIO;
        pthread_mutex_unlock(&o->lock);
        if (r >= 0)
                log_debug("Offline login of %s (user %s) is possible for %" PRIi64 "s from now.", unix_name, user_id,
                          max_age_sec(core));
        return r;
}

/* The fresh record of unix_name: 0 and its fields, -ENOENT if none. */
static int find(struct stitch_core *core, const char *unix_name, int64_t now,
                char ret_user_id[static STITCH_ID_LEN + 1], char **ret_verifier, bool *ret_disabled) {
        struct stitch_offline *o = core->offline;
        sqlite3_stmt *st = NULL;
        int r = -ENOENT;

        if (!o)
                return -ENOENT;
        pthread_mutex_lock(&o->lock);
        if (sqlite3_prepare_v2(o->db,
                               "SELECT user_id, verifier, disabled FROM offline_users "
                               "WHERE unix_name = ?1 AND last_online >= ?2",
                               -1, &st, NULL) != SQLITE_OK)
                r = -EIO;
        else {
                sqlite3_bind_text(st, 1, unix_name, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 2, now - max_age_sec(core));
                int rc = sqlite3_step(st);
                if (rc == SQLITE_ROW) {
                        const char *id = (const char *) sqlite3_column_text(st, 0);
                        const char *v = (const char *) sqlite3_column_text(st, 1);
                        if (id && v && strlen(id) == STITCH_ID_LEN) {
                                memcpy(ret_user_id, id, STITCH_ID_LEN + 1);
                                *ret_disabled = sqlite3_column_int(st, 2) != 0;
                                r = 0;
                                if (ret_verifier) {
                                        *ret_verifier = strdup(v);
                                        if (!*ret_verifier)
                                                r = -ENOMEM;
                                }
                        }
                } else if (rc != SQLITE_DONE)
                        r = -EIO;
                sqlite3_finalize(st);
        }
        pthread_mutex_unlock(&o->lock);
        return r;
}

int stitch_offline_lookup(struct stitch_core *core, const char *unix_name, int64_t now,
                          char ret_user_id[static STITCH_ID_LEN + 1], bool *ret_disabled) {
        return find(core, unix_name, now, ret_user_id, NULL, ret_disabled);
}

int stitch_offline_verify(struct stitch_core *core, const char *unix_name, const char *password, int64_t now,
                          char ret_user_id[static STITCH_ID_LEN + 1]) {
        _cleanup_free_ char *verifier = NULL;
        char pre[PREHASH_HEX + 1];
        bool disabled = false;

        int r = find(core, unix_name, now, ret_user_id, &verifier, &disabled);
        if (r < 0)
                return r;
        r = prehash(core->offline, password, pre);
        if (r >= 0)
                r = stitch_password_verify(verifier, pre);
        explicit_bzero(pre, sizeof(pre));
        __atomic_fetch_add(&core->password_verifications, 1, __ATOMIC_RELAXED);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || disabled)
                return -EACCES;
        return 0;
}

static int change_user(struct stitch_core *core, const char *sql, const char *user_id, int value, const char *what) {
        struct stitch_offline *o = core->offline;
        sqlite3_stmt *st = NULL;
        int r;

        if (!o)
                return 0;
        pthread_mutex_lock(&o->lock);
        if (sqlite3_prepare_v2(o->db, sql, -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, user_id, -1, SQLITE_STATIC);
                if (value >= 0)
                        sqlite3_bind_int(st, 2, value);
                r = step_done(o->db, st, what);
        } else
                r = -EIO;
        pthread_mutex_unlock(&o->lock);
        return r;
}

int stitch_offline_user_disabled(struct stitch_core *core, const char *user_id, bool disabled) {
        return change_user(core, "UPDATE offline_users SET disabled = ?2 WHERE user_id = ?1", user_id, disabled,
                           "disable");
}

int stitch_offline_forget_user(struct stitch_core *core, const char *user_id) {
        return change_user(core, "DELETE FROM offline_users WHERE user_id = ?1", user_id, -1, "forget");
}

int stitch_offline_prune(struct stitch_core *core, int64_t now, size_t *ret_n) {
        struct stitch_offline *o = core->offline;
        sqlite3_stmt *st = NULL;
        int r;

        if (ret_n)
                *ret_n = 0;
        if (!o)
                return 0;
        pthread_mutex_lock(&o->lock);
        if (sqlite3_prepare_v2(o->db, "DELETE FROM offline_users WHERE last_online < ?1", -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_int64(st, 1, now - max_age_sec(core));
                r = step_done(o->db, st, "prune");
                if (r >= 0 && ret_n)
                        *ret_n = (size_t) sqlite3_changes(o->db);
        } else
                r = -EIO;
        pthread_mutex_unlock(&o->lock);
        return r;
}
