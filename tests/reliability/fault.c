/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fault injection for tests/reliability/stitchd-fault: stitchd/daemon/main.c and
 * libstitchd-core linked with -Wl,--wrap=SYMBOL for every call below, so the
 * daemon's own calls (not those inside libc, SQLite or OpenSSL) come here.
 *
 *   STITCH_FAULT=KIND:N     fail the Nth call of KIND once
 *   STITCH_FAULT=KIND:N+    fail the Nth call of KIND and every later one
 *   STITCH_FAULT_REPORT=F   append "fired KIND N" for every injected failure,
 *                           and at exit "calls KIND COUNT" for every kind
 *
 * KIND is one of the names in the table below, or "any" (the Nth wrapped call
 * of whatever kind). Counting starts when the daemon announces READY=1 (the
 * sd_notify call is wrapped too) and stops at STOPPING=1, so N numbers the
 * calls made while serving: the test runs one operation and walks N over the
 * calls it makes. The "vfs-*" kinds are not --wrap'ed calls but an SQLite VFS
 * registered as the default, which fails SQLite's own reads, writes and
 * fsyncs of the database, journal and WAL files (real I/O errors, as a
 * failing disk gives them).
 *
 * Each fault returns what the real call returns on failure: NULL and ENOMEM,
 * -1 and an errno the call documents, SQLITE_IOERR / SQLITE_NOMEM, 0 from
 * OpenSSL, ARGON2_MEMORY_ALLOCATION_ERROR. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <argon2.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include "macro.h"

enum fault_kind {
        F_MALLOC,
        F_CALLOC,
        F_REALLOC,
        F_STRDUP,
        F_READ,
        F_SEND,
        F_SEND_SHORT,
        F_ACCEPT,
        F_SQLITE_STEP,
        F_SQLITE_EXEC,
        F_SQLITE_PREPARE,
        F_RAND,
        F_RAND_PRIV,
        F_SHA256,
        F_SIGN,
        F_VERIFY,
        F_MAC,
        F_ARGON2_HASH,
        F_ARGON2_VERIFY,
        F_VFS_READ,
        F_VFS_WRITE,
        F_VFS_SYNC,
        _F_MAX,
        F_ANY = _F_MAX,
};

static const char *const kind_names[_F_MAX] = {
        [F_MALLOC] = "malloc",
        [F_CALLOC] = "calloc",
        [F_REALLOC] = "realloc",
        [F_STRDUP] = "strdup",
        [F_READ] = "read",
        [F_SEND] = "send",
        [F_SEND_SHORT] = "send-short",
        [F_ACCEPT] = "accept",
        [F_SQLITE_STEP] = "sqlite3_step",
        [F_SQLITE_EXEC] = "sqlite3_exec",
        [F_SQLITE_PREPARE] = "sqlite3_prepare",
        [F_RAND] = "RAND_bytes",
        [F_RAND_PRIV] = "RAND_priv_bytes",
        [F_SHA256] = "SHA256",
        [F_SIGN] = "EVP_PKEY_sign",
        [F_VERIFY] = "EVP_PKEY_verify",
        [F_MAC] = "EVP_MAC_final",
        [F_ARGON2_HASH] = "argon2id_hash_encoded",
        [F_ARGON2_VERIFY] = "argon2id_verify",
        [F_VFS_READ] = "vfs-read",
        [F_VFS_WRITE] = "vfs-write",
        [F_VFS_SYNC] = "vfs-sync",
};

static int target_kind = -1;        /* -1: no fault configured */
static unsigned long target_n;
static bool target_sticky;           /* "N+": every call from the Nth on */
static atomic_bool armed;
static atomic_ulong counts[_F_MAX + 1];
static char report_path[4096];

/* Whether this call (of 'kind') fails. Counts only while armed. */
static bool fault(enum fault_kind kind) {
        unsigned long n, any;
        bool fire = false;

        if (!atomic_load_explicit(&armed, memory_order_relaxed))
                return false;
        n = atomic_fetch_add(&counts[kind], 1) + 1;
        any = atomic_fetch_add(&counts[F_ANY], 1) + 1;
        if (target_kind == (int) kind)
                fire = target_sticky ? n >= target_n : n == target_n;
        else if (target_kind == F_ANY)
                fire = target_sticky ? any >= target_n : any == target_n;

        if (fire && report_path[0]) {
                char line[128];
                int fd, len;

                /* No stdio, no malloc: this may run inside a failing malloc. */
                len = snprintf(line, sizeof(line), "fired %s %lu\n", kind_names[kind], n);
                fd = open(report_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
                if (fd >= 0) {
                        if (len > 0)
                                (void) !write(fd, line, (size_t) len);
                        close(fd);
                }
        }
        return fire;
}

static void report_counts(void) {
        int fd;

        if (!report_path[0])
                return;
        fd = open(report_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        for (int k = 0; k <= _F_MAX; k++) {
                char line[128];
                int len = snprintf(line, sizeof(line), "calls %s %lu\n", k == F_ANY ? "any" : kind_names[k],
                                   atomic_load(&counts[k]));
                if (len > 0)
                        (void) !write(fd, line, (size_t) len);
        }
        close(fd);
}

/* ---- libc ------------------------------------------------------------------ */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __real_send(int fd, const void *buf, size_t n, int flags);
int __real_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags);
int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

void *__wrap_malloc(size_t size) {
        if (fault(F_MALLOC)) {
                errno = ENOMEM;
                return NULL;
        }
        return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size) {
        if (fault(F_CALLOC)) {
                errno = ENOMEM;
                return NULL;
        }
        return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size) {
        if (fault(F_REALLOC)) {
                errno = ENOMEM;
                return NULL; /* p stays valid, as with the real failure */
        }
        return __real_realloc(p, size);
}

char *__wrap_strdup(const char *s) {
        if (fault(F_STRDUP)) {
                errno = ENOMEM;
                return NULL;
        }
        return __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n) {
        if (fault(F_STRDUP)) {
                errno = ENOMEM;
                return NULL;
        }
        return __real_strndup(s, n);
}

/* read() is the connection reader (lib/wire.c), the config file and the
 * eventfds; a peer that resets the connection is the realistic failure. */
ssize_t __wrap_read(int fd, void *buf, size_t n) {
        if (fault(F_READ)) {
                errno = ECONNRESET;
                return -1;
        }
        return __real_read(fd, buf, n);
}

/* send(): replies. Either the peer is gone, or the socket buffer takes only
 * one byte (a short write the server must finish later). */
ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags) {
        if (fault(F_SEND)) {
                errno = ECONNRESET;
                return -1;
        }
        if (n > 1 && fault(F_SEND_SHORT))
                return __real_send(fd, buf, 1, flags);
        return __real_send(fd, buf, n, flags);
}

int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
        if (fault(F_ACCEPT)) {
                errno = EMFILE;
                return -1;
        }
        return __real_accept4(fd, addr, len, flags);
}

/* ---- SQLite ------------------------------------------------------------------ */

int __real_sqlite3_step(sqlite3_stmt *st);
int __real_sqlite3_exec(sqlite3 *db, const char *sql, int (*cb)(void *, int, char **, char **), void *arg,
                        char **err);
int __real_sqlite3_prepare_v3(sqlite3 *db, const char *sql, int n, unsigned flags, sqlite3_stmt **st,
                              const char **tail);
int __wrap_sqlite3_step(sqlite3_stmt *st);
int __wrap_sqlite3_exec(sqlite3 *db, const char *sql, int (*cb)(void *, int, char **, char **), void *arg,
                        char **err);
int __wrap_sqlite3_prepare_v3(sqlite3 *db, const char *sql, int n, unsigned flags, sqlite3_stmt **st,
                              const char **tail);

int __wrap_sqlite3_step(sqlite3_stmt *st) {
        if (fault(F_SQLITE_STEP))
                return SQLITE_IOERR;
        return __real_sqlite3_step(st);
}

int __wrap_sqlite3_exec(sqlite3 *db, const char *sql, int (*cb)(void *, int, char **, char **), void *arg,
                        char **err) {
        if (fault(F_SQLITE_EXEC))
                return SQLITE_IOERR;
        return __real_sqlite3_exec(db, sql, cb, arg, err);
}

int __wrap_sqlite3_prepare_v3(sqlite3 *db, const char *sql, int n, unsigned flags, sqlite3_stmt **st,
                              const char **tail) {
        if (fault(F_SQLITE_PREPARE)) {
                if (st)
                        *st = NULL;
                return SQLITE_NOMEM;
        }
        return __real_sqlite3_prepare_v3(db, sql, n, flags, st, tail);
}

/* A VFS in front of the default one: fails xRead, xWrite and xSync. */
struct fault_file {
        sqlite3_file base;
        sqlite3_file *real; /* follows this struct in the same allocation */
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;
static sqlite3_io_methods fault_io;

#define REAL(f) (((struct fault_file *) (f))->real)

static int ff_close(sqlite3_file *f) {
        return REAL(f)->pMethods->xClose(REAL(f));
}
static int ff_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off) {
        if (fault(F_VFS_READ))
                return SQLITE_IOERR_READ;
        return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}
static int ff_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off) {
        if (fault(F_VFS_WRITE))
                return SQLITE_IOERR_WRITE;
        return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}
static int ff_truncate(sqlite3_file *f, sqlite3_int64 size) {
        return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int ff_sync(sqlite3_file *f, int flags) {
        if (fault(F_VFS_SYNC))
                return SQLITE_IOERR_FSYNC;
        return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int ff_file_size(sqlite3_file *f, sqlite3_int64 *size) {
        return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int ff_lock(sqlite3_file *f, int l) {
        return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int ff_unlock(sqlite3_file *f, int l) {
        return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int ff_check_reserved_lock(sqlite3_file *f, int *out) {
        return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int ff_file_control(sqlite3_file *f, int op, void *arg) {
        return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int ff_sector_size(sqlite3_file *f) {
        return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int ff_device_characteristics(sqlite3_file *f) {
        return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int ff_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **p) {
        return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, p);
}
static int ff_shm_lock(sqlite3_file *f, int offset, int n, int flags) {
        return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}
static void ff_shm_barrier(sqlite3_file *f) {
        REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int ff_shm_unmap(sqlite3_file *f, int del) {
        return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int ff_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp) {
        return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}
static int ff_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) {
        return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static int fv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags) {
        struct fault_file *ff = (struct fault_file *) file;
        int rc;

        ff->real = (sqlite3_file *) (ff + 1);
        rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
        if (rc != SQLITE_OK || !ff->real->pMethods) {
                ff->base.pMethods = NULL;
                return rc;
        }
        /* One method table for all files: the unix VFS uses the same
         * version for every file it opens. */
        fault_io.iVersion = ff->real->pMethods->iVersion;
        ff->base.pMethods = &fault_io;
        return SQLITE_OK;
}

static int fv_delete(sqlite3_vfs *vfs, const char *name, int sync) {
        return real_vfs->xDelete(real_vfs, name, sync);
}
static int fv_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
        return real_vfs->xAccess(real_vfs, name, flags, out);
}
static int fv_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out) {
        return real_vfs->xFullPathname(real_vfs, name, n, out);
}
static void *fv_dl_open(sqlite3_vfs *vfs, const char *name) {
        return real_vfs->xDlOpen(real_vfs, name);
}
static void fv_dl_error(sqlite3_vfs *vfs, int n, char *out) {
        real_vfs->xDlError(real_vfs, n, out);
}
static void (*fv_dl_sym(sqlite3_vfs *vfs, void *h, const char *sym))(void) {
        return real_vfs->xDlSym(real_vfs, h, sym);
}
static void fv_dl_close(sqlite3_vfs *vfs, void *h) {
        real_vfs->xDlClose(real_vfs, h);
}
static int fv_randomness(sqlite3_vfs *vfs, int n, char *out) {
        return real_vfs->xRandomness(real_vfs, n, out);
}
static int fv_sleep(sqlite3_vfs *vfs, int us) {
        return real_vfs->xSleep(real_vfs, us);
}
static int fv_current_time(sqlite3_vfs *vfs, double *out) {
        return real_vfs->xCurrentTime(real_vfs, out);
}
static int fv_get_last_error(sqlite3_vfs *vfs, int n, char *out) {
        return real_vfs->xGetLastError(real_vfs, n, out);
}
static int fv_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
        return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static int install_vfs(void) {
        real_vfs = sqlite3_vfs_find(NULL);
        if (!real_vfs)
                return -ENOENT;
        fault_io = (sqlite3_io_methods) {
                .iVersion = 3,
                .xClose = ff_close,
                .xRead = ff_read,
                .xWrite = ff_write,
                .xTruncate = ff_truncate,
                .xSync = ff_sync,
                .xFileSize = ff_file_size,
                .xLock = ff_lock,
                .xUnlock = ff_unlock,
                .xCheckReservedLock = ff_check_reserved_lock,
                .xFileControl = ff_file_control,
                .xSectorSize = ff_sector_size,
                .xDeviceCharacteristics = ff_device_characteristics,
                .xShmMap = ff_shm_map,
                .xShmLock = ff_shm_lock,
                .xShmBarrier = ff_shm_barrier,
                .xShmUnmap = ff_shm_unmap,
                .xFetch = ff_fetch,
                .xUnfetch = ff_unfetch,
        };
        fault_vfs = (sqlite3_vfs) {
                .iVersion = 2,
                .szOsFile = (int) sizeof(struct fault_file) + real_vfs->szOsFile,
                .mxPathname = real_vfs->mxPathname,
                .zName = "stitch-fault",
                .xOpen = fv_open,
                .xDelete = fv_delete,
                .xAccess = fv_access,
                .xFullPathname = fv_full_pathname,
                .xDlOpen = fv_dl_open,
                .xDlError = fv_dl_error,
                .xDlSym = fv_dl_sym,
                .xDlClose = fv_dl_close,
                .xRandomness = fv_randomness,
                .xSleep = fv_sleep,
                .xCurrentTime = fv_current_time,
                .xGetLastError = fv_get_last_error,
                .xCurrentTimeInt64 = fv_current_time_int64,
        };
        return sqlite3_vfs_register(&fault_vfs, 1) == SQLITE_OK ? 0 : -EIO;
}

/* ---- OpenSSL, argon2 ------------------------------------------------------------ */

int __real_RAND_bytes(unsigned char *buf, int n);
int __real_RAND_priv_bytes(unsigned char *buf, int n);
unsigned char *__real_SHA256(const unsigned char *d, size_t n, unsigned char *md);
int __real_EVP_PKEY_sign(EVP_PKEY_CTX *ctx, unsigned char *sig, size_t *siglen, const unsigned char *tbs,
                         size_t tbslen);
int __real_EVP_PKEY_verify(EVP_PKEY_CTX *ctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs,
                           size_t tbslen);
int __real_EVP_MAC_final(EVP_MAC_CTX *ctx, unsigned char *out, size_t *outl, size_t outsize);
int __real_argon2id_hash_encoded(uint32_t t, uint32_t m, uint32_t p, const void *pwd, size_t pwdlen,
                                 const void *salt, size_t saltlen, size_t hashlen, char *encoded,
                                 size_t encodedlen);
int __real_argon2id_verify(const char *encoded, const void *pwd, size_t pwdlen);
int __real_argon2id_ctx(argon2_context *context);
int __real_argon2id_verify_ctx(argon2_context *context, const char *hash);
int __wrap_RAND_bytes(unsigned char *buf, int n);
int __wrap_RAND_priv_bytes(unsigned char *buf, int n);
unsigned char *__wrap_SHA256(const unsigned char *d, size_t n, unsigned char *md);
int __wrap_EVP_PKEY_sign(EVP_PKEY_CTX *ctx, unsigned char *sig, size_t *siglen, const unsigned char *tbs,
                         size_t tbslen);
int __wrap_EVP_PKEY_verify(EVP_PKEY_CTX *ctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs,
                           size_t tbslen);
int __wrap_EVP_MAC_final(EVP_MAC_CTX *ctx, unsigned char *out, size_t *outl, size_t outsize);
int __wrap_argon2id_hash_encoded(uint32_t t, uint32_t m, uint32_t p, const void *pwd, size_t pwdlen,
                                 const void *salt, size_t saltlen, size_t hashlen, char *encoded,
                                 size_t encodedlen);
int __wrap_argon2id_verify(const char *encoded, const void *pwd, size_t pwdlen);
int __wrap_argon2id_ctx(argon2_context *context);
int __wrap_argon2id_verify_ctx(argon2_context *context, const char *hash);

int __wrap_RAND_bytes(unsigned char *buf, int n) {
        if (fault(F_RAND))
                return 0;
        return __real_RAND_bytes(buf, n);
}

int __wrap_RAND_priv_bytes(unsigned char *buf, int n) {
        if (fault(F_RAND_PRIV))
                return 0;
        return __real_RAND_priv_bytes(buf, n);
}

/* SHA256() returns NULL on failure and leaves md as it was. */
unsigned char *__wrap_SHA256(const unsigned char *d, size_t n, unsigned char *md) {
        if (fault(F_SHA256))
                return NULL;
        return __real_SHA256(d, n, md);
}

int __wrap_EVP_PKEY_sign(EVP_PKEY_CTX *ctx, unsigned char *sig, size_t *siglen, const unsigned char *tbs,
                         size_t tbslen) {
        if (sig && fault(F_SIGN)) /* not the size query (sig == NULL) */
                return 0;
        return __real_EVP_PKEY_sign(ctx, sig, siglen, tbs, tbslen);
}

/* -1: an error, not a mismatch (0); neither may verify a token. */
int __wrap_EVP_PKEY_verify(EVP_PKEY_CTX *ctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs,
                           size_t tbslen) {
        if (fault(F_VERIFY))
                return -1;
        return __real_EVP_PKEY_verify(ctx, sig, siglen, tbs, tbslen);
}

int __wrap_EVP_MAC_final(EVP_MAC_CTX *ctx, unsigned char *out, size_t *outl, size_t outsize) {
        if (fault(F_MAC))
                return 0;
        return __real_EVP_MAC_final(ctx, out, outl, outsize);
}

int __wrap_argon2id_hash_encoded(uint32_t t, uint32_t m, uint32_t p, const void *pwd, size_t pwdlen,
                                 const void *salt, size_t saltlen, size_t hashlen, char *encoded,
                                 size_t encodedlen) {
        if (fault(F_ARGON2_HASH))
                return ARGON2_MEMORY_ALLOCATION_ERROR;
        return __real_argon2id_hash_encoded(t, m, p, pwd, pwdlen, salt, saltlen, hashlen, encoded, encodedlen);
}

int __wrap_argon2id_verify(const char *encoded, const void *pwd, size_t pwdlen) {
        if (fault(F_ARGON2_VERIFY))
                return ARGON2_MEMORY_ALLOCATION_ERROR;
        return __real_argon2id_verify(encoded, pwd, pwdlen);
}

/* stitchd/password.c hashes and verifies through the context API (its hash
 * slots); these count as the same two kinds. */
int __wrap_argon2id_ctx(argon2_context *context) {
        if (fault(F_ARGON2_HASH))
                return ARGON2_MEMORY_ALLOCATION_ERROR;
        return __real_argon2id_ctx(context);
}

int __wrap_argon2id_verify_ctx(argon2_context *context, const char *hash) {
        if (fault(F_ARGON2_VERIFY))
                return ARGON2_MEMORY_ALLOCATION_ERROR;
        return __real_argon2id_verify_ctx(context, hash);
}

/* ---- arming ------------------------------------------------------------------------ */

int __real_sd_notify(int unset_environment, const char *state);
int __wrap_sd_notify(int unset_environment, const char *state);

int __wrap_sd_notify(int unset_environment, const char *state) {
        if (state && strstr(state, "STOPPING=1"))
                atomic_store(&armed, false);
        int r = __real_sd_notify(unset_environment, state);
        if (state && strstr(state, "READY=1") && target_kind >= 0)
                atomic_store(&armed, true);
        return r;
}

static int parse_spec(const char *spec) {
        const char *colon = strrchr(spec, ':');
        char *end = NULL;
        unsigned long n;
        size_t len;

        if (!colon)
                return -EINVAL;
        len = (size_t) (colon - spec);
        errno = 0;
        n = strtoul(colon + 1, &end, 10);
        if (errno != 0 || end == colon + 1 || n == 0)
                return -EINVAL;
        if (*end == '+') {
                target_sticky = true;
                end++;
        }
        if (*end)
                return -EINVAL;

        if (len == 3 && strncmp(spec, "any", 3) == 0)
                target_kind = F_ANY;
        else
                for (int k = 0; k < _F_MAX; k++)
                        if (strlen(kind_names[k]) == len && strncmp(spec, kind_names[k], len) == 0)
                                target_kind = k;
        if (target_kind < 0)
                return -EINVAL;
        target_n = n;
        return 0;
}

__attribute__((constructor)) static void fault_init(void) {
        const char *spec = getenv("STITCH_FAULT"), *report = getenv("STITCH_FAULT_REPORT");

        if (report && strlen(report) < sizeof(report_path))
                memcpy(report_path, report, strlen(report) + 1);
        if (spec && *spec && parse_spec(spec) < 0) {
                fprintf(stderr, "stitchd-fault: bad STITCH_FAULT=%s (KIND:N or KIND:N+; kinds:", spec);
                for (int k = 0; k < _F_MAX; k++)
                        fprintf(stderr, " %s", kind_names[k]);
                fprintf(stderr, " any)\n");
                _exit(2);
        }
        if (install_vfs() < 0) {
                fprintf(stderr, "stitchd-fault: cannot register the fault VFS\n");
                _exit(2);
        }
        atexit(report_counts);
}
