/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The store contract test (stitchd/store/store.h), the registry and the
 * object helpers. It runs against the backend named by STITCH_TEST_STORE_SPEC
 * (or its older name STITCH_TEST_STORE), a store spec in which @DIR@ stands
 * for a fresh temp directory per test (default "sqlite:@DIR@/stitch.db"),
 * so a new backend runs the same suite unchanged:
 *
 *   STITCH_TEST_STORE_SPEC=postgresql://stitch@/stitch_test make check TESTS=tests/unit/test-store
 *
 * @NAME@ stands for a name unique to the test ("test_store_" and the temp
 * directory's random suffix), for a backend that keeps its rows on a server
 * (a database or schema per test); the suite never cleans a server itself.
 * The tests of
 * SQLite's own files, schema and migrations skip on other backends. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "store/store.h"

static const struct stitch_store_ops *ops; /* the backend under test */

#define T0 INT64_C(1700000000)

struct fixture {
        char dir[256];
        char path[512]; /* SQLite: the database file */
        char spec[1024];
        struct stitch_store *store;
};

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(p);
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        const char *tmp = getenv("TMPDIR");

        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "%s/test-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/stitch.db", f->dir);

        const char *t = getenv("STITCH_TEST_STORE_SPEC");
        if (!t || !*t)
                t = getenv("STITCH_TEST_STORE");
        if (!t || !*t)
                t = "sqlite:@DIR@/stitch.db";
        size_t n = 0;
        const char *suffix = strrchr(f->dir, '-') + 1;
        for (const char *c = t; *c && n + 1 < sizeof(f->spec);)
                if (strncmp(c, "@DIR@", 5) == 0) {
                        n += (size_t) snprintf(f->spec + n, sizeof(f->spec) - n, "%s", f->dir);
                        c += 5;
                } else if (strncmp(c, "@NAME@", 6) == 0) {
                        n += (size_t) snprintf(f->spec + n, sizeof(f->spec) - n, "test_store_%s", suffix);
                        c += 6;
                } else
                        f->spec[n++] = *c++;
        assert_true(n + 1 < sizeof(f->spec));
        f->spec[n] = 0;
        if (strncmp(f->spec, "sqlite:", 7) == 0)
                snprintf(f->path, sizeof(f->path), "%s", f->spec + 7);
        assert_int_equal(stitch_store_open(f->spec, &ops, &f->store), 0);
        *state = f;
        return 0;
}

/* The tests of SQLite's own files. */
#define SQLITE_ONLY()                                                           \
        do {                                                                   \
                if (ops != &stitch_store_sqlite) {                             \
                        print_message("skipped: not the SQLite backend\n");   \
                        skip();                                                \
                }                                                              \
        } while (0)

static int teardown(void **state) {
        struct fixture *f = *state;

        if (f->store)
                ops->close(f->store);
        (void) nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        free(f);
        return 0;
}

static void reopen(struct fixture *f) {
        ops->close(f->store);
        f->store = NULL;
        assert_int_equal(stitch_store_open(f->spec, &ops, &f->store), 0);
}

static void make_id(char dst[static STITCH_ID_LEN + 1], unsigned kind, unsigned n) {
        snprintf(dst, STITCH_ID_LEN + 1, "%08x%016x", kind, n);
}

static void make_hash(uint8_t h[static STITCH_HASH_LEN], unsigned kind, unsigned n) {
        memset(h, 0, STITCH_HASH_LEN);
        memcpy(h, &kind, sizeof(kind));
        memcpy(h + 8, &n, sizeof(n));
        h[31] = 0xa5;
}

/* A user with one identity of provider_type (and, for local-userpass, an email). */
static int create_user(struct stitch_store *s, unsigned n, const char *provider_type, const char *email,
                       const char *unix_name, int64_t created, int64_t last_auth) {
        struct stitch_identity ident = {
                .provider_type = (char *) provider_type,
                .provider_id = (char *) provider_type,
                .data_json = (char *) (email ? "{\"email\":\"x\"}" : NULL),
        };
        struct stitch_user u = {
                .type = (char *) "normal",
                .email = (char *) email,
                .unix_name = (char *) unix_name,
                .data_json = (char *) "{}",
                .creation_date = created,
                .last_authentication_date = last_auth,
                .identities = &ident,
                .n_identities = 1,
        };

        make_id(u.id, 1, n);
        make_id(ident.id, 2, n);
        return ops->user_create(s, &u, NULL);
}

static void user_id(char dst[static STITCH_ID_LEN + 1], unsigned n) {
        make_id(dst, 1, n);
}

/* Session n of user 'user'; with max_live, as session_create's limit. */
static int create_session_limited(struct stitch_store *s, unsigned n, unsigned user, int64_t created,
                                  int64_t refresh_expires, int64_t access_expires, unsigned max_live,
                                  char ***ret_ended) {
        struct stitch_session se = {
                .provider_type = (char *) "local-userpass",
                .service = (char *) "login",
                .creation_date = created,
                .refresh_expires = refresh_expires,
                .access_expires = access_expires,
                .last_used = created,
                .uid = -1,
        };

        make_id(se.id, 3, n);
        make_id(se.user_id, 1, user);
        make_id(se.device_id, 4, n);
        make_hash(se.refresh_hash, 3, n);
        return ops->session_create(s, &se, max_live, ret_ended);
}

static int create_session(struct stitch_store *s, unsigned n, unsigned user, int64_t created, int64_t refresh_expires,
                          int64_t access_expires) {
        return create_session_limited(s, n, user, created, refresh_expires, access_expires, 0, NULL);
}

static void session_id(char dst[static STITCH_ID_LEN + 1], unsigned n) {
        make_id(dst, 3, n);
}


/* ------------------------------------------------------------------------ */

static void test_open_new(void **state) {
        struct fixture *f = *state;
        _cleanup_(stitch_strv_freep) char **problems = NULL;
        char p[600];
        struct stat st;
        int version = -1;
        SQLITE_ONLY();

        assert_int_equal(lstat(f->path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);
        /* WAL mode is on and its files are private too. */
        snprintf(p, sizeof(p), "%s-wal", f->path);
        assert_int_equal(lstat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        snprintf(p, sizeof(p), "%s-shm", f->path);
        assert_int_equal(lstat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        assert_int_equal(ops->schema_version(f->store, &version), 0);
        assert_int_equal(version, 9);
        assert_int_equal(ops->integrity_check(f->store, &problems), 0);
        assert_int_equal(stitch_strv_length(problems), 0);
}

static void test_open_refusals(void **state) {
        struct fixture *f = *state;
        struct stitch_store *s = NULL;
        char p[600], q[700];
        SQLITE_ONLY();

        ops->close(f->store);
        f->store = NULL;

        /* Symlink to a good database. */
        snprintf(p, sizeof(p), "%s/link.db", f->dir);
        assert_int_equal(symlink(f->path, p), 0);
        assert_int_equal(ops->open(p, &s), -EPERM);
        assert_null(s);

        /* Group-readable. */
        assert_int_equal(chmod(f->path, 0640), 0);
        assert_int_equal(ops->open(f->path, &s), -EPERM);
        assert_int_equal(chmod(f->path, 0604), 0);
        assert_int_equal(ops->open(f->path, &s), -EPERM);
        assert_int_equal(chmod(f->path, 0600), 0);

        /* Owned by somebody else (needs root to arrange). */
        if (geteuid() == 0) {
                assert_int_equal(chown(f->path, 65534, 65534), 0);
                assert_int_equal(ops->open(f->path, &s), -EPERM);
                assert_int_equal(chown(f->path, 0, 0), 0);
        } else
                print_message("skipping the foreign-owner check: not running as root\n");

        /* Not a regular file. */
        snprintf(p, sizeof(p), "%s/dir.db", f->dir);
        assert_int_equal(mkdir(p, 0700), 0);
        assert_int_equal(ops->open(p, &s), -EPERM);

        /* Missing parent directory; relative path. */
        snprintf(p, sizeof(p), "%s/missing/stitch.db", f->dir);
        assert_int_equal(ops->open(p, &s), -ENOENT);
        assert_int_equal(ops->open("relative.db", &s), -EINVAL);

        /* A symlinked -wal is refused too. */
        snprintf(p, sizeof(p), "%s/other.db", f->dir);
        assert_int_equal(ops->open(p, &s), 0);
        ops->close(s);
        s = NULL;
        snprintf(q, sizeof(q), "%s-wal", p);
        (void) unlink(q);
        assert_int_equal(symlink("/dev/null", q), 0);
        assert_int_equal(ops->open(p, &s), -EPERM);
        assert_int_equal(unlink(q), 0);

        /* And it still opens when everything is right. */
        assert_int_equal(ops->open(f->path, &f->store), 0);
}

static void test_registry(void **state) {
        struct fixture *f = *state;
        const struct stitch_store_ops *o = NULL;
        struct stitch_store *s = NULL;
        char spec[600];
        SQLITE_ONLY();

        assert_int_equal(stitch_store_open("nosuch:/tmp/x", &o, &s), -EINVAL);
        assert_int_equal(stitch_store_open("/tmp/x", &o, &s), -EINVAL);
        assert_int_equal(stitch_store_open(":/tmp/x", &o, &s), -EINVAL);
        assert_int_equal(stitch_store_open("sqlite3:/tmp/x", &o, &s), -EINVAL);
        assert_null(o);
        assert_null(s);

        snprintf(spec, sizeof(spec), "sqlite:%s/reg.db", f->dir);
        assert_int_equal(stitch_store_open(spec, &o, &s), 0);
        assert_ptr_equal(o, &stitch_store_sqlite);
        assert_non_null(s);
        o->close(s);
}

/* Specs are judged by the backend their scheme names; a known scheme whose
 * backend is not built says so; nothing of a spec is ever quoted. */
static void test_spec_validation(void **state) {
        static const char *const good[] = {
                "sqlite:/var/lib/stitchd/stitch.db",
                "sqlite:/a",
        };
        static const char *const bad[] = {
                "", ":", "/var/lib/x.db", ":/x", "sqlite", "sqlite:", "sqlite:relative.db", "sqlite:/var/lib/",
                "sqlite:/", "sqlite3:/tmp/x", "nosuch:/tmp/x", "sqlite:/tmp/a\nb", "sqlite:/tmp/\x7f",
        };
        const char *error = NULL;
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                error = NULL;
                assert_int_equal(stitch_store_validate_spec(good[i], &error), 0);
                assert_null(error);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                error = NULL;
                assert_int_equal(stitch_store_validate_spec(bad[i], &error), -EINVAL);
                assert_non_null(error);
                assert_null(strstr(error, "/tmp"));
        }
        assert_int_equal(stitch_store_validate_spec("sqlite:/tmp/x", NULL), 0);
        assert_int_equal(stitch_store_validate_spec(NULL, &error), -EINVAL);

        /* The fleet store: a libpq URI, judged by the PostgreSQL backend;
         * a password in it is refused (a passfile holds it), and the
         * secret is never in the message. */
        static const char *const fleet[] = {
                "postgresql://stitch@db.example.com:5432/stitch?sslmode=verify-full",
                "postgres://stitch@db.example.com/stitch",
                "postgresql://stitch@/stitch?host=/run/postgresql&options=-csearch_path%3Dfleet",
        };
        for (size_t i = 0; i < ELEMENTSOF(fleet); i++) {
                error = NULL;
                assert_int_equal(stitch_store_validate_spec(fleet[i], &error), 0);
                assert_null(error);
        }
        static const char *const fleet_bad[] = {
                "postgresql://stitch:hunter2@db.example.com:5432/stitch?sslmode=verify-full",
                "postgres://stitch@db.example.com/stitch?sslmode=require&password=hunter2",
                "postgres://stitch@db.example.com/stitch?pass%77ord=hunter2",
                "postgresql:db.example.com", "postgresql://stitch@db.example.com/stitch\nhunter2",
        };
        for (size_t i = 0; i < ELEMENTSOF(fleet_bad); i++) {
                error = NULL;
                assert_int_equal(stitch_store_validate_spec(fleet_bad[i], &error), -EINVAL);
                assert_non_null(error);
                assert_null(strstr(error, "hunter2"));
                assert_int_equal(stitch_store_prepare(fleet_bad[i]), -EINVAL);
        }
        error = NULL;
        assert_int_equal(stitch_store_validate_spec(fleet_bad[0], &error), -EINVAL);
        assert_non_null(strstr(error, "passfile"));
        const struct stitch_store_ops *o = NULL;
        struct stitch_store *s = NULL;
        assert_int_equal(stitch_store_open(fleet_bad[0], &o, &s), -EINVAL);
        assert_null(s);
}

static void test_spec_describe(void **state) {
        (void) state;
        _cleanup_free_ char *pg = stitch_store_describe_spec(
                "postgresql://stitch:hunter2@db.example.com:5432/stitch?sslmode=verify-full&sslpassword=s3cret");
        assert_non_null(pg);
        assert_null(strstr(pg, "hunter2"));
        assert_null(strstr(pg, "s3cret"));
        /* What is not a secret stays, to say which store is meant. */
        assert_non_null(strstr(pg, "postgresql://stitch:"));
        assert_non_null(strstr(pg, "@db.example.com:5432/stitch?sslmode=verify-full"));

        _cleanup_free_ char *lite = stitch_store_describe_spec("sqlite:/var/lib/stitchd/stitch.db");
        assert_string_equal(lite, "sqlite:/var/lib/stitchd/stitch.db");
        _cleanup_free_ char *none = stitch_store_describe_spec(NULL);
        assert_non_null(none);
}

/* prepare() makes what open() needs (SQLite: the database's directory). */
static void test_spec_prepare(void **state) {
        struct fixture *f = *state;
        char spec[700], dir[600];
        struct stat st;
        SQLITE_ONLY();

        snprintf(dir, sizeof(dir), "%s/state", f->dir);
        snprintf(spec, sizeof(spec), "sqlite:%s/stitch.db", dir);
        assert_int_equal(stitch_store_prepare(spec), 0);
        assert_int_equal(stat(dir, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0700);
        assert_int_equal(stitch_store_prepare(spec), 0); /* again: there already */
        assert_int_equal(stitch_store_prepare("sqlite:relative"), -EINVAL);

        const struct stitch_store_ops *o = NULL;
        struct stitch_store *s = NULL;
        assert_int_equal(stitch_store_open(spec, &o, &s), 0);
        o->close(s);
}

static void test_reopen_keeps_data(void **state) {
        struct fixture *f = *state;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        char id[STITCH_ID_LEN + 1];
        int version = 0;

        assert_int_equal(create_user(f->store, 1, "local-userpass", "a@example.com", NULL, T0, 0), 0);
        reopen(f);
        reopen(f);
        user_id(id, 1);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, id, &u), 0);
        assert_int_equal(ops->schema_version(f->store, &version), 0);
        assert_true(version > 0);
        if (ops != &stitch_store_sqlite)
                return;
        assert_int_equal(version, 9);

        /* One schema_version row; the file stays in WAL mode. */
        ops->close(f->store);
        f->store = NULL;
        assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), max(version) FROM schema_version", -1, &st, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), 1);
        assert_int_equal(sqlite3_column_int(st, 1), 9);
        sqlite3_finalize(st);
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *) sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
        sqlite3_close(db);

        /* A database from the future is refused. */
        assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        assert_int_not_equal(ops->open(f->path, &f->store), 0);
        assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "UPDATE schema_version SET version = 8", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        f->store = NULL;
        assert_int_equal(ops->open(f->path, &f->store), 0);
}

static void test_users(void **state) {
        struct fixture *f = *state;
        struct stitch_identity idents[2] = {
                { .provider_type = (char *) "local-userpass", .provider_id = (char *) "local-userpass",
                  .data_json = (char *) "{\"email\":\"bob@example.com\"}" },
                { .provider_type = (char *) "api-key", .provider_id = (char *) "api-key" },
        };
        struct stitch_user u = {
                .type = (char *) "normal",
                .email = (char *) "bob@example.com",
                .name = (char *) "Bob",
                .unix_name = (char *) "bob",
                .data_json = (char *) "{\"email\":\"bob@example.com\"}",
                .creation_date = T0,
                .identities = idents,
                .n_identities = 2,
        };
        struct stitch_user *got = NULL;
        uint64_t count = 0;

        make_id(u.id, 1, 100);
        make_id(idents[0].id, 2, 100);
        make_id(idents[1].id, 2, 101);
        assert_int_equal(ops->user_create(f->store, &u, "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA"), 0);

        /* Look-ups by each key, identities in order. */
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, u.id, &got), 0);
        assert_string_equal(got->id, u.id);
        assert_string_equal(got->type, "normal");
        assert_string_equal(got->email, "bob@example.com");
        assert_string_equal(got->name, "Bob");
        assert_string_equal(got->unix_name, "bob");
        assert_string_equal(got->data_json, u.data_json);
        assert_false(got->disabled);
        assert_int_equal(got->creation_date, T0);
        assert_int_equal(got->last_authentication_date, 0);
        assert_int_equal(got->n_identities, 2);
        assert_string_equal(got->identities[0].id, idents[0].id);
        assert_string_equal(got->identities[0].provider_type, "local-userpass");
        assert_string_equal(got->identities[0].data_json, idents[0].data_json);
        assert_string_equal(got->identities[1].provider_type, "api-key");
        assert_null(got->identities[1].data_json);
        got = stitch_user_free(got);

        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_EMAIL, "bob@example.com", &got), 0);
        assert_string_equal(got->id, u.id);
        got = stitch_user_free(got);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_UNIX_NAME, "bob", &got), 0);
        assert_string_equal(got->id, u.id);
        assert_int_equal(got->n_identities, 2);
        got = stitch_user_free(got);

        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_EMAIL, "nobody@example.com", &got), -ENOENT);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_UNIX_NAME, "nobody", &got), -ENOENT);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, "000000000000000000000000", &got), -ENOENT);
        assert_null(got);

        /* By an identity's id (custom-token finds its users so), with the identities. */
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_IDENTITY, idents[1].id, &got), 0);
        assert_string_equal(got->id, u.id);
        assert_int_equal(got->n_identities, 2);
        got = stitch_user_free(got);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_IDENTITY, u.id, &got), -ENOENT); /* a user id is not one */
        assert_null(got);

        /* user_update writes the data of the identities it lists, and only theirs. */
        {
                struct stitch_identity changed[1] = {idents[1]};
                changed[0].data_json = (char *) "{\"name\":\"Bobby\"}";
                struct stitch_user v = u;
                v.identities = changed;
                v.n_identities = 1;
                assert_int_equal(ops->user_update(f->store, &v), 0);
                assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, u.id, &got), 0);
                assert_int_equal(got->n_identities, 2);
                assert_string_equal(got->identities[0].data_json, idents[0].data_json);
                assert_string_equal(got->identities[1].data_json, "{\"name\":\"Bobby\"}");
                got = stitch_user_free(got);
                /* and back, so that what follows sees what it made */
                changed[0].data_json = NULL;
                assert_int_equal(ops->user_update(f->store, &v), 0);
        }

        /* Conflicts: id, email, unix_name, identity id. Nothing half-created. */
        {
                struct stitch_user v = u;

                assert_int_equal(ops->user_create(f->store, &v, NULL), -EEXIST);
                make_id(v.id, 1, 200);
                make_id(idents[0].id, 2, 200);
                make_id(idents[1].id, 2, 201);
                assert_int_equal(ops->user_create(f->store, &v, NULL), -EEXIST); /* email */
                v.email = (char *) "bob2@example.com";
                assert_int_equal(ops->user_create(f->store, &v, NULL), -EEXIST); /* unix_name */
                v.unix_name = (char *) "bob2";
                make_id(idents[1].id, 2, 100); /* taken identity id */
                assert_int_equal(ops->user_create(f->store, &v, NULL), -EEXIST);
                assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, v.id, &got), -ENOENT);
                assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_EMAIL, "bob2@example.com", &got), -ENOENT);
                make_id(idents[1].id, 2, 201);
                assert_int_equal(ops->user_create(f->store, &v, NULL), 0);
                /* NULL email / unix_name never conflict. */
                make_id(v.id, 1, 300);
                make_id(idents[0].id, 2, 300);
                make_id(idents[1].id, 2, 301);
                v.email = v.unix_name = NULL;
                assert_int_equal(ops->user_create(f->store, &v, NULL), 0);
                make_id(v.id, 1, 301);
                make_id(idents[0].id, 2, 302);
                make_id(idents[1].id, 2, 303);
                assert_int_equal(ops->user_create(f->store, &v, NULL), 0);
        }
        assert_int_equal(ops->user_count(f->store, &count), 0);
        assert_int_equal(count, 4);

        /* Invalid arguments. */
        {
                struct stitch_user v = { .type = NULL };
                make_id(v.id, 1, 999);
                assert_int_equal(ops->user_create(f->store, &v, NULL), -EINVAL);
                assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, NULL, &got), -EINVAL);
        }

        /* Update. */
        {
                struct stitch_user v = u;
                v.email = (char *) "robert@example.com";
                v.name = NULL;
                v.unix_name = (char *) "robert";
                v.data_json = (char *) "{\"email\":\"robert@example.com\"}";
                assert_int_equal(ops->user_update(f->store, &v), 0);
                assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_EMAIL, "robert@example.com", &got), 0);
                assert_null(got->name);
                assert_string_equal(got->unix_name, "robert");
                assert_string_equal(got->data_json, v.data_json);
                got = stitch_user_free(got);
                assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_EMAIL, "bob@example.com", &got), -ENOENT);

                v.email = (char *) "bob2@example.com"; /* taken */
                assert_int_equal(ops->user_update(f->store, &v), -EEXIST);
                make_id(v.id, 1, 555);
                v.email = NULL;
                assert_int_equal(ops->user_update(f->store, &v), -ENOENT);
        }

        /* Touch. */
        assert_int_equal(ops->user_touch(f->store, u.id, T0 + 50), 0);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, u.id, &got), 0);
        assert_int_equal(got->last_authentication_date, T0 + 50);
        got = stitch_user_free(got);
        assert_int_equal(ops->user_touch(f->store, "000000000000000000000000", T0), -ENOENT);
}

static void test_user_list(void **state) {
        struct fixture *f = *state;
        struct stitch_user **a = NULL;
        char last[STITCH_ID_LEN + 1] = "";
        size_t n = 0, total = 0;
        uint64_t count = 0;

        /* Created in a scrambled order; listed in id order. */
        for (unsigned i = 0; i < 25; i++)
                assert_int_equal(create_user(f->store, (i * 7) % 25, "anon-user", NULL, NULL, T0, 0), 0);
        assert_int_equal(ops->user_count(f->store, &count), 0);
        assert_int_equal(count, 25);

        for (unsigned page = 0;; page++) {
                assert_int_equal(ops->user_list(f->store, page == 0 ? NULL : last, 10, &a, &n), 0);
                if (n == 0) {
                        stitch_user_array_free(a, n);
                        break;
                }
                assert_true(n <= 10);
                for (size_t i = 0; i < n; i++) {
                        char want[STITCH_ID_LEN + 1];

                        user_id(want, (unsigned) total);
                        assert_string_equal(a[i]->id, want);
                        assert_int_equal(a[i]->n_identities, 1);
                        assert_string_equal(a[i]->identities[0].provider_type, "anon-user");
                        total++;
                }
                memcpy(last, a[n - 1]->id, sizeof(last));
                stitch_user_array_free(a, n);
        }
        assert_int_equal(total, 25);

        assert_int_equal(ops->user_list(f->store, NULL, 0, &a, &n), 0);
        assert_int_equal(n, 0);
        stitch_user_array_free(a, n);
}

static void test_passwords(void **state) {
        struct fixture *f = *state;
        char id[STITCH_ID_LEN + 1];
        char *h = NULL;

        assert_int_equal(create_user(f->store, 1, "local-userpass", "p@example.com", NULL, T0, 0), 0);
        user_id(id, 1);
        assert_int_equal(ops->password_get(f->store, id, &h), -ENOENT);
        assert_int_equal(ops->password_set(f->store, id, "hash-1"), 0);
        assert_int_equal(ops->password_get(f->store, id, &h), 0);
        assert_string_equal(h, "hash-1");
        h = erase_and_free(h);
        assert_int_equal(ops->password_set(f->store, id, "hash-2"), 0);
        assert_int_equal(ops->password_get(f->store, id, &h), 0);
        assert_string_equal(h, "hash-2");
        h = erase_and_free(h);

        assert_int_equal(ops->password_set(f->store, "000000000000000000000000", "x"), -ENOENT);
        assert_int_equal(ops->password_get(f->store, "000000000000000000000000", &h), -ENOENT);
        assert_null(h);
}

/* A login's one read: the user with its password hash and live sessions. */
static void test_user_find_for_login(void **state) {
        struct fixture *f = *state;
        struct stitch_user *u = NULL;
        char id[STITCH_ID_LEN + 1];

        assert_int_equal(create_user(f->store, 1, "local-userpass", "l@example.com", "lee", T0, 0), 0);
        user_id(id, 1);

        /* No password, no session. */
        assert_int_equal(ops->user_find_for_login(f->store, STITCH_USER_BY_UNIX_NAME, "lee", T0 + 50, &u), 0);
        assert_string_equal(u->id, id);
        assert_int_equal(u->n_identities, 1);
        assert_true(u->login_read);
        assert_null(u->login_password_hash);
        assert_int_equal(u->login_live_sessions, 0);
        u = stitch_user_free(u);

        /* Live at T0 + 50: 0 and 1 (2's refresh token expired, 3 is revoked). */
        assert_int_equal(ops->password_set(f->store, id, "hash-1"), 0);
        assert_int_equal(create_session(f->store, 0, 1, T0, T0 + 1000, T0 + 100), 0);
        assert_int_equal(create_session(f->store, 1, 1, T0 + 1, T0 + 1000, T0 + 100), 0);
        assert_int_equal(create_session(f->store, 2, 1, T0 + 2, T0 + 10, T0 + 100), 0);
        assert_int_equal(create_session(f->store, 3, 1, T0 + 3, T0 + 1000, T0 + 100), 0);
        {
                char sid[STITCH_ID_LEN + 1];
                session_id(sid, 3);
                assert_int_equal(ops->session_revoke(f->store, sid, T0 + 4, "logout"), 1);
        }
        assert_int_equal(ops->user_find_for_login(f->store, STITCH_USER_BY_EMAIL, "l@example.com", T0 + 50, &u), 0);
        assert_string_equal(u->id, id);
        assert_string_equal(u->login_password_hash, "hash-1");
        assert_int_equal(u->login_live_sessions, 2);
        u = stitch_user_free(u);

        /* The plain look-up reads none of it. */
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, id, &u), 0);
        assert_false(u->login_read);
        assert_null(u->login_password_hash);
        u = stitch_user_free(u);

        assert_int_equal(ops->user_find_for_login(f->store, STITCH_USER_BY_UNIX_NAME, "nobody", T0, &u), -ENOENT);
        assert_null(u);
}

/* A session and its user in one read, by id or by refresh hash. */
static void test_session_find_with_user(void **state) {
        struct fixture *f = *state;
        struct stitch_session *se = NULL;
        struct stitch_user *u = NULL;
        char sid[STITCH_ID_LEN + 1], uid[STITCH_ID_LEN + 1];
        uint8_t h[STITCH_HASH_LEN];

        assert_int_equal(create_user(f->store, 1, "local-userpass", "w@example.com", "wim", T0, 0), 0);
        assert_int_equal(create_user(f->store, 2, "anon-user", NULL, NULL, T0, 0), 0);
        user_id(uid, 1);
        assert_int_equal(create_session(f->store, 0, 1, T0, T0 + 1000, T0 + 100), 0);
        assert_int_equal(create_session(f->store, 1, 2, T0 + 1, T0 + 1000, T0 + 100), 0);

        session_id(sid, 0);
        assert_int_equal(ops->session_find_with_user(f->store, sid, NULL, &se, &u), 0);
        assert_string_equal(se->id, sid);
        assert_string_equal(se->user_id, uid);
        assert_string_equal(se->provider_type, "local-userpass");
        assert_int_equal(se->refresh_expires, T0 + 1000);
        assert_non_null(u);
        assert_string_equal(u->id, uid);
        assert_string_equal(u->email, "w@example.com");
        assert_string_equal(u->unix_name, "wim");
        assert_string_equal(u->data_json, "{}");
        assert_false(u->disabled);
        assert_int_equal(u->n_identities, 0);
        se = stitch_session_free(se);
        u = stitch_user_free(u);

        make_hash(h, 3, 0);
        assert_int_equal(ops->session_find_with_user(f->store, NULL, h, &se, &u), 0);
        assert_string_equal(se->id, sid);
        assert_string_equal(u->id, uid);
        se = stitch_session_free(se);
        u = stitch_user_free(u);

        /* What the user row says is what user_find says. */
        assert_int_equal(ops->user_set_disabled(f->store, uid, true), 0);
        assert_int_equal(ops->session_find_with_user(f->store, NULL, h, &se, &u), 0);
        assert_true(u->disabled);
        se = stitch_session_free(se);
        u = stitch_user_free(u);

        /* A deleted user: the session, no user. */
        user_id(uid, 2);
        assert_int_equal(ops->user_delete(f->store, uid), 0);
        make_hash(h, 3, 1);
        assert_int_equal(ops->session_find_with_user(f->store, NULL, h, &se, &u), 0);
        assert_string_equal(se->user_id, uid);
        assert_null(u);
        se = stitch_session_free(se);

        make_hash(h, 3, 77);
        assert_int_equal(ops->session_find_with_user(f->store, NULL, h, &se, &u), -ENOENT);
        assert_int_equal(ops->session_find_with_user(f->store, "000000000000000000000000", NULL, &se, &u), -ENOENT);
        assert_int_equal(ops->session_find_with_user(f->store, sid, h, &se, &u), -EINVAL);
        assert_int_equal(ops->session_find_with_user(f->store, NULL, NULL, &se, &u), -EINVAL);
        assert_null(se);
        assert_null(u);
}

/* Giving the caches back loses nothing: the next reads read again. */
static void test_release_memory(void **state) {
        struct fixture *f = *state;
        struct stitch_user *u = NULL;

        if (!ops->release_memory)
                skip();
        for (unsigned i = 1; i <= 200; i++)
                assert_int_equal(create_user(f->store, i, "anon-user", NULL, NULL, T0, 0), 0);
        for (unsigned i = 1; i <= 200; i++) {
                char id[STITCH_ID_LEN + 1];
                user_id(id, i);
                assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, id, &u), 0);
                u = stitch_user_free(u);
        }
        assert_true(ops->release_memory(f->store) > 0);
        {
                char id[STITCH_ID_LEN + 1];
                user_id(id, 17);
                assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, id, &u), 0);
                assert_string_equal(u->id, id);
                u = stitch_user_free(u);
        }
}

static struct stitch_apikey make_key(unsigned n, unsigned user, const char *name) {
        struct stitch_apikey k = {
                .name = (char *) name,
                .creation_date = T0 + n,
        };
        make_id(k.id, 5, n);
        make_id(k.user_id, 1, user);
        make_hash(k.hash, 5, n);
        return k;
}

static void test_apikeys(void **state) {
        struct fixture *f = *state;
        struct stitch_apikey **a = NULL, *got = NULL;
        char name[32], uid1[STITCH_ID_LEN + 1];
        size_t n = 0;

        assert_int_equal(create_user(f->store, 1, "local-userpass", "k1@example.com", NULL, T0, 0), 0);
        assert_int_equal(create_user(f->store, 2, "local-userpass", "k2@example.com", NULL, T0, 0), 0);
        user_id(uid1, 1);

        for (unsigned i = 0; i < STITCH_MAX_USER_APIKEYS - 1; i++) {
                struct stitch_apikey k;
                snprintf(name, sizeof(name), "key-%u", i);
                k = make_key(i, 1, name);
                assert_int_equal(ops->apikey_create(f->store, &k), 0);
        }
        /* Name taken for this user; hash taken; id taken. */
        {
                struct stitch_apikey k = make_key(100, 1, "key-0");
                assert_int_equal(ops->apikey_create(f->store, &k), -EEXIST);
                k = make_key(100, 2, "key-0"); /* same name, other user: fine */
                assert_int_equal(ops->apikey_create(f->store, &k), 0);
                k = make_key(101, 2, "other");
                make_hash(k.hash, 5, 3); /* hash of key 3 of user 1 */
                assert_int_equal(ops->apikey_create(f->store, &k), -EEXIST);
                k = make_key(3, 2, "other2"); /* id of key 3 */
                make_hash(k.hash, 5, 103);
                assert_int_equal(ops->apikey_create(f->store, &k), -EEXIST);
                k = make_key(104, 77, "x"); /* no such user */
                assert_int_equal(ops->apikey_create(f->store, &k), -ENOENT);
        }
        /* The 20th key fits, the 21st does not. */
        {
                struct stitch_apikey k = make_key(19, 1, "key-19");
                assert_int_equal(ops->apikey_create(f->store, &k), 0);
                k = make_key(20, 1, "key-20");
                assert_int_equal(ops->apikey_create(f->store, &k), -EDQUOT);
        }

        /* Look-ups. */
        {
                uint8_t h[STITCH_HASH_LEN];
                make_hash(h, 5, 7);
                assert_int_equal(ops->apikey_find_by_hash(f->store, h, &got), 0);
                assert_string_equal(got->name, "key-7");
                assert_string_equal(got->user_id, uid1);
                assert_memory_equal(got->hash, h, STITCH_HASH_LEN);
                assert_false(got->disabled);
                assert_int_equal(got->creation_date, T0 + 7);
                got = stitch_apikey_free(got);
                make_hash(h, 5, 999);
                assert_int_equal(ops->apikey_find_by_hash(f->store, h, &got), -ENOENT);

                /* A login's read: the key and its user with the login extras. */
                struct stitch_user *owner = NULL;
                make_hash(h, 5, 7);
                assert_int_equal(create_session(f->store, 70, 1, T0, T0 + 1000, T0 + 100), 0);
                assert_int_equal(create_session(f->store, 71, 1, T0, T0 + 1000, T0 + 100), 0);
                assert_int_equal(create_session(f->store, 72, 1, T0 - 2000, T0 - 1000, T0 - 1900), 0);
                assert_int_equal(ops->apikey_find_for_login(f->store, h, T0 + 10, &got, &owner), 0);
                assert_string_equal(got->name, "key-7");
                assert_memory_equal(got->hash, h, STITCH_HASH_LEN);
                assert_false(got->disabled);
                assert_int_equal(got->creation_date, T0 + 7);
                assert_string_equal(owner->id, uid1);
                assert_true(owner->login_read);
                assert_int_equal(owner->login_live_sessions, 2); /* not the expired one */
                assert_null(owner->login_password_hash);
                assert_true(owner->n_identities >= 1);
                got = stitch_apikey_free(got);
                owner = stitch_user_free(owner);
                make_hash(h, 5, 999);
                assert_int_equal(ops->apikey_find_for_login(f->store, h, T0, &got, &owner), -ENOENT);
                assert_null(got);
                assert_null(owner);
                assert_int_equal(ops->apikey_find_for_login(f->store, NULL, T0, &got, &owner), -EINVAL);
        }
        {
                char kid[STITCH_ID_LEN + 1];
                make_id(kid, 5, 100);
                assert_int_equal(ops->apikey_get(f->store, kid, &got), 0);
                assert_string_equal(got->name, "key-0");
                got = stitch_apikey_free(got);
        }

        assert_int_equal(ops->apikey_list(f->store, uid1, &a, &n), 0);
        assert_int_equal(n, STITCH_MAX_USER_APIKEYS);
        for (size_t i = 0; i < n; i++) {
                snprintf(name, sizeof(name), "key-%zu", i);
                assert_string_equal(a[i]->name, name);
        }
        stitch_apikey_array_free(a, n);
        assert_int_equal(ops->apikey_list(f->store, NULL, &a, &n), 0);
        assert_int_equal(n, STITCH_MAX_USER_APIKEYS + 1);
        stitch_apikey_array_free(a, n);

        /* Disable, delete; a freed slot can be reused. */
        {
                char kid[STITCH_ID_LEN + 1];
                struct stitch_apikey k;

                make_id(kid, 5, 4);
                assert_int_equal(ops->apikey_set_disabled(f->store, kid, true), 0);
                assert_int_equal(ops->apikey_get(f->store, kid, &got), 0);
                assert_true(got->disabled);
                got = stitch_apikey_free(got);
                assert_int_equal(ops->apikey_set_disabled(f->store, kid, false), 0);
                assert_int_equal(ops->apikey_get(f->store, kid, &got), 0);
                assert_false(got->disabled);
                got = stitch_apikey_free(got);

                assert_int_equal(ops->apikey_delete(f->store, kid), 0);
                assert_int_equal(ops->apikey_delete(f->store, kid), -ENOENT);
                assert_int_equal(ops->apikey_get(f->store, kid, &got), -ENOENT);
                assert_int_equal(ops->apikey_set_disabled(f->store, kid, true), -ENOENT);
                k = make_key(20, 1, "key-20");
                assert_int_equal(ops->apikey_create(f->store, &k), 0);
        }

        /* Deleting the user takes its keys along. */
        assert_int_equal(ops->user_delete(f->store, uid1), 0);
        assert_int_equal(ops->apikey_list(f->store, uid1, &a, &n), 0);
        assert_int_equal(n, 0);
        stitch_apikey_array_free(a, n);
        assert_int_equal(ops->apikey_list(f->store, NULL, &a, &n), 0);
        assert_int_equal(n, 1);
        stitch_apikey_array_free(a, n);
}

static void test_sessions(void **state) {
        struct fixture *f = *state;
        struct stitch_session *got = NULL, **a = NULL;
        char sid[STITCH_ID_LEN + 1], uid[STITCH_ID_LEN + 1];
        uint8_t h[STITCH_HASH_LEN], old[STITCH_HASH_LEN];
        uint64_t count = 0;
        size_t n = 0;

        assert_int_equal(create_user(f->store, 1, "local-userpass", "s@example.com", NULL, T0, 0), 0);
        user_id(uid, 1);

        /* 0: live; 1: live; 2: refresh expired but access still live; 3: all dead. */
        assert_int_equal(create_session(f->store, 0, 1, T0, T0 + 1000, T0 + 100), 0);
        assert_int_equal(create_session(f->store, 1, 1, T0 + 1, T0 + 1000, T0 + 100), 0);
        assert_int_equal(create_session(f->store, 2, 1, T0 + 2, T0 + 10, T0 + 100), 0);
        assert_int_equal(create_session(f->store, 3, 1, T0 + 3, T0 + 10, T0 + 10), 0);

        /* Conflicts and a missing user. */
        assert_int_equal(create_session(f->store, 0, 1, T0, T0 + 1000, T0 + 100), -EEXIST);
        {
                struct stitch_session se = { .provider_type = (char *) "anon-user" };
                make_id(se.id, 3, 50);
                memcpy(se.user_id, uid, sizeof(uid));
                make_hash(se.refresh_hash, 3, 0); /* session 0's hash */
                assert_int_equal(ops->session_create(f->store, &se, 0, NULL), -EEXIST);
        }
        assert_int_equal(create_session(f->store, 60, 99, T0, T0 + 1000, T0 + 100), -ENOENT);
        /* Get and find. */
        session_id(sid, 0);
        assert_int_equal(ops->session_get(f->store, sid, &got), 0);
        assert_string_equal(got->id, sid);
        assert_string_equal(got->user_id, uid);
        assert_string_equal(got->provider_type, "local-userpass");
        assert_string_equal(got->service, "login");
        assert_null(got->rhost);
        assert_null(got->tty);
        assert_int_equal(got->creation_date, T0);
        assert_int_equal(got->refresh_expires, T0 + 1000);
        assert_int_equal(got->access_expires, T0 + 100);
        assert_false(got->revoked);
        assert_false(got->open);
        assert_int_equal(got->uid, -1);
        got = stitch_session_free(got);
        make_hash(h, 3, 1);
        assert_int_equal(ops->session_find_by_refresh_hash(f->store, h, &got), 0);
        session_id(sid, 1);
        assert_string_equal(got->id, sid);
        got = stitch_session_free(got);
        make_hash(h, 3, 77);
        assert_int_equal(ops->session_find_by_refresh_hash(f->store, h, &got), -ENOENT);
        assert_int_equal(ops->session_get(f->store, "000000000000000000000000", &got), -ENOENT);

        /* Lists at T0 + 50: live = 0, 1. */
        assert_int_equal(ops->session_list(f->store, uid, false, T0 + 50, &a, &n), 0);
        assert_int_equal(n, 2);
        session_id(sid, 0);
        assert_string_equal(a[0]->id, sid);
        stitch_session_array_free(a, n);
        assert_int_equal(ops->session_list(f->store, uid, true, T0 + 50, &a, &n), 0);
        assert_int_equal(n, 4);
        stitch_session_array_free(a, n);
        assert_int_equal(ops->session_list(f->store, NULL, true, T0 + 50, &a, &n), 0);
        assert_int_equal(n, 4);
        stitch_session_array_free(a, n);

        /* Refresh: access expiry only moves forward; rotation replaces the hash. */
        session_id(sid, 0);
        make_hash(old, 3, 0);
        make_hash(h, 6, 0);
        assert_int_equal(ops->session_refreshed(f->store, sid, T0 + 200, T0 + 60, old, h), 0);
        assert_int_equal(ops->session_refreshed(f->store, sid, T0 + 150, T0 + 70, NULL, NULL), 0);
        assert_int_equal(ops->session_get(f->store, sid, &got), 0);
        assert_int_equal(got->access_expires, T0 + 200);
        assert_int_equal(got->last_used, T0 + 70);
        assert_memory_equal(got->refresh_hash, h, STITCH_HASH_LEN);
        got = stitch_session_free(got);
        make_hash(h, 3, 0);
        assert_int_equal(ops->session_find_by_refresh_hash(f->store, h, &got), -ENOENT);
        make_hash(old, 6, 0);
        make_hash(h, 3, 1); /* rotating onto another session's hash */
        assert_int_equal(ops->session_refreshed(f->store, sid, T0 + 200, T0 + 60, old, h), -EEXIST);
        assert_int_equal(ops->session_refreshed(f->store, "000000000000000000000000", T0, T0, NULL, NULL), -ENOENT);

        /* Open bookkeeping. */
        assert_int_equal(ops->session_set_open(f->store, sid, true, 4242, 1000), 0);
        assert_int_equal(ops->session_get(f->store, sid, &got), 0);
        assert_true(got->open);
        assert_int_equal(got->leader_pid, 4242);
        assert_int_equal(got->uid, 1000);
        got = stitch_session_free(got);
        assert_int_equal(ops->session_set_open(f->store, "000000000000000000000000", true, 1, 1), -ENOENT);

        /* Revoke: 1 now, 0 again (revoked_at unchanged), -ENOENT unknown. */
        session_id(sid, 1);
        assert_int_equal(ops->session_revoke(f->store, sid, T0 + 80, "logout"), 1);
        assert_int_equal(ops->session_revoke(f->store, sid, T0 + 90, "revoke"), 0);
        assert_int_equal(ops->session_get(f->store, sid, &got), 0);
        assert_true(got->revoked);
        assert_int_equal(got->revoked_at, T0 + 80);
        assert_string_equal(got->revoked_reason, "logout");
        got = stitch_session_free(got);
        assert_int_equal(ops->session_revoke(f->store, "000000000000000000000000", T0, "x"), -ENOENT);
        assert_int_equal(ops->session_refreshed(f->store, sid, T0 + 300, T0 + 90, NULL, NULL), -ENOENT);

        assert_int_equal(ops->session_list(f->store, uid, false, T0 + 95, &a, &n), 0);
        assert_int_equal(n, 1);
        stitch_session_array_free(a, n);

        assert_int_equal(ops->session_count(f->store, &count), 0);
        assert_int_equal(count, 4);
        {
                /* The binding's hash comes back as stored; none stays none. */
                struct stitch_session se = { .provider_type = (char *) "local-userpass", .uid = -1,
                                             .has_binding = true };
                make_id(se.id, 3, 70);
                memcpy(se.user_id, uid, sizeof(uid));
                make_id(se.device_id, 4, 70);
                make_hash(se.refresh_hash, 3, 70);
                make_hash(se.binding_hash, 5, 70);
                assert_int_equal(ops->session_create(f->store, &se, 0, NULL), 0);
                assert_int_equal(ops->session_get(f->store, se.id, &got), 0);
                assert_true(got->has_binding);
                assert_memory_equal(got->binding_hash, se.binding_hash, STITCH_HASH_LEN);
                got = stitch_session_free(got);
                session_id(sid, 0);
                assert_int_equal(ops->session_get(f->store, sid, &got), 0);
                assert_false(got->has_binding);
                got = stitch_session_free(got);
        }
}

/* Rotation is a compare-and-swap (security review finding 9): two refreshes
 * that looked the session up by one token cannot both rotate it. */
static void test_session_refresh_swap(void **state) {
        struct fixture *f = *state;
        struct stitch_session *got = NULL;
        char sid[STITCH_ID_LEN + 1];
        uint8_t first[STITCH_HASH_LEN], second[STITCH_HASH_LEN], third[STITCH_HASH_LEN];

        assert_int_equal(create_user(f->store, 1, "local-userpass", "s@example.com", NULL, T0, 0), 0);
        assert_int_equal(create_session(f->store, 0, 1, T0, T0 + 1000, T0 + 100), 0);
        session_id(sid, 0);
        make_hash(first, 3, 0); /* session 0's hash at login */
        make_hash(second, 6, 1);
        make_hash(third, 6, 2);

        /* The right old hash: swapped, and the old one retired. */
        assert_int_equal(ops->session_refreshed(f->store, sid, T0 + 200, T0 + 60, first, second), 0);
        assert_int_equal(ops->session_find_by_refresh_hash(f->store, second, &got), 0);
        assert_string_equal(got->id, sid);
        got = stitch_session_free(got);
        assert_int_equal(ops->session_find_by_refresh_hash(f->store, first, &got), -ENOENT);
        assert_int_equal(ops->session_find_by_retired_refresh_hash(f->store, first, &got), 0);
        assert_string_equal(got->id, sid);
        got = stitch_session_free(got);

        /* The loser of the race still holds the first hash: -ESTALE, and
         * nothing changed (hash, expiry, last_used; nothing more retired). */
        assert_int_equal(ops->session_refreshed(f->store, sid, T0 + 500, T0 + 90, first, third), -ESTALE);
        assert_int_equal(ops->session_get(f->store, sid, &got), 0);
        assert_memory_equal(got->refresh_hash, second, STITCH_HASH_LEN);
        assert_int_equal(got->access_expires, T0 + 200);
        assert_int_equal(got->last_used, T0 + 60);
        assert_false(got->revoked);
        got = stitch_session_free(got);
        assert_int_equal(ops->session_find_by_refresh_hash(f->store, third, &got), -ENOENT);
        assert_int_equal(ops->session_find_by_retired_refresh_hash(f->store, third, &got), -ENOENT);
        assert_int_equal(ops->session_find_by_retired_refresh_hash(f->store, second, &got), -ENOENT);
        /* A stale hash without a rotation is refused the same way. */
        assert_int_equal(ops->session_refreshed(f->store, sid, T0 + 500, T0 + 90, first, NULL), -ESTALE);
        assert_int_equal(ops->session_get(f->store, sid, &got), 0);
        assert_int_equal(got->access_expires, T0 + 200);
        got = stitch_session_free(got);

        /* A rotation must say what it replaces. */
        assert_int_equal(ops->session_refreshed(f->store, sid, T0 + 500, T0 + 90, NULL, third), -EINVAL);

        /* The current hash swaps again; gone or revoked stay -ENOENT, not -ESTALE. */
        assert_int_equal(ops->session_refreshed(f->store, sid, T0 + 300, T0 + 70, second, third), 0);
        assert_int_equal(ops->session_refreshed(f->store, "000000000000000000000000", T0, T0, third, first),
                         -ENOENT);
        assert_int_equal(ops->session_revoke(f->store, sid, T0 + 80, "logout"), 1);
        assert_int_equal(ops->session_refreshed(f->store, sid, T0 + 400, T0 + 90, third, first), -ENOENT);
        assert_int_equal(ops->session_refreshed(f->store, sid, T0 + 400, T0 + 90, second, first), -ENOENT);
        assert_int_equal(ops->session_get(f->store, sid, &got), 0);
        assert_memory_equal(got->refresh_hash, third, STITCH_HASH_LEN);
        got = stitch_session_free(got);
}

struct collected {
        char *ids[16];
        int64_t expires[16];
        size_t n;
        int fail_at; /* return an error for this call (1-based), 0 = never */
};

static int collect_revoked(const char *id, int64_t access_expires, void *userdata) {
        struct collected *c = userdata;

        if (c->fail_at > 0 && (size_t) c->fail_at == c->n + 1)
                return -ECANCELED;
        assert_true(c->n < ELEMENTSOF(c->ids));
        c->ids[c->n] = strdup(id);
        c->expires[c->n] = access_expires;
        c->n++;
        return 0;
}

static int collect_open(const struct stitch_session *s, void *userdata) {
        return collect_revoked(s->id, s->access_expires, userdata);
}

static void collected_done(struct collected *c) {
        for (size_t i = 0; i < c->n; i++)
                free(c->ids[i]);
        *c = (struct collected) {};
}

static bool collected_has(const struct collected *c, const char *id) {
        for (size_t i = 0; i < c->n; i++)
                if (streq(c->ids[i], id))
                        return true;
        return false;
}

struct reentrant {
        struct stitch_store *store;
        size_t calls;
};

/* Callbacks may call back into the store: the lock is not held. */
static int reenter(const char *id, int64_t access_expires, void *userdata) {
        struct reentrant *r = userdata;
        struct stitch_session *s = NULL;

        (void) access_expires;
        assert_int_equal(ops->session_get(r->store, id, &s), 0);
        stitch_session_free(s);
        assert_int_equal(ops->session_revoke(r->store, id, T0, "again"), 0);
        r->calls++;
        return 0;
}

static void test_revocation_and_prune(void **state) {
        struct fixture *f = *state;
        struct collected c = {};
        char sid[STITCH_ID_LEN + 1], uid[STITCH_ID_LEN + 1];
        char **revoked = NULL;
        uint64_t count = 0;
        size_t n = 0;

        assert_int_equal(create_user(f->store, 1, "local-userpass", "r@example.com", NULL, T0, 0), 0);
        assert_int_equal(create_user(f->store, 2, "local-userpass", "r2@example.com", NULL, T0, 0), 0);
        user_id(uid, 1);

        /* User 1: 0 live; 1 live; 2 refresh dead, access live; 3 all dead. User 2: 4 live. */
        assert_int_equal(create_session(f->store, 0, 1, T0, T0 + 1000, T0 + 100), 0);
        assert_int_equal(create_session(f->store, 1, 1, T0 + 1, T0 + 1000, T0 + 200), 0);
        assert_int_equal(create_session(f->store, 2, 1, T0 + 2, T0 + 10, T0 + 100), 0);
        assert_int_equal(create_session(f->store, 3, 1, T0 + 3, T0 + 10, T0 + 10), 0);
        assert_int_equal(create_session(f->store, 4, 2, T0 + 4, T0 + 1000, T0 + 100), 0);

        /* revoke_user at T0 + 50 catches 0, 1, 2 (tokens may live) but not 3. */
        assert_int_equal(ops->session_revoke_user(f->store, uid, T0 + 50, "revoke", &revoked), 0);
        assert_int_equal(stitch_strv_length(revoked), 3);
        session_id(sid, 0);
        assert_true(stitch_strv_contains(revoked, sid));
        session_id(sid, 2);
        assert_true(stitch_strv_contains(revoked, sid));
        session_id(sid, 3);
        assert_false(stitch_strv_contains(revoked, sid));
        revoked = stitch_strv_free(revoked);
        /* Nothing left to revoke: an empty strv, not NULL. */
        assert_int_equal(ops->session_revoke_user(f->store, uid, T0 + 50, "revoke", &revoked), 0);
        assert_non_null(revoked);
        assert_int_equal(stitch_strv_length(revoked), 0);
        revoked = stitch_strv_free(revoked);

        /* foreach_revoked returns revoked sessions whose access tokens are not dead yet. */
        assert_int_equal(ops->session_foreach_revoked(f->store, T0 + 50, 0, collect_revoked, &c), 0);
        assert_int_equal(c.n, 3);
        collected_done(&c);
        assert_int_equal(ops->session_foreach_revoked(f->store, T0 + 150, 0, collect_revoked, &c), 0);
        assert_int_equal(c.n, 1);
        session_id(sid, 1);
        assert_string_equal(c.ids[0], sid);
        assert_int_equal(c.expires[0], T0 + 200);
        collected_done(&c);
        assert_int_equal(ops->session_foreach_revoked(f->store, T0 + 200, 0, collect_revoked, &c), 0);
        assert_int_equal(c.n, 0);
        /* A callback error stops the iteration and is returned. */
        c.fail_at = 2;
        assert_int_equal(ops->session_foreach_revoked(f->store, T0 + 50, 0, collect_revoked, &c), -ECANCELED);
        assert_int_equal(c.n, 1);
        collected_done(&c);
        /* Re-entrancy. */
        {
                struct reentrant r = { .store = f->store };
                assert_int_equal(ops->session_foreach_revoked(f->store, T0 + 50, 0, reenter, &r), 0);
                assert_int_equal(r.calls, 3);
        }

        /* foreach_open: only live, open sessions. */
        session_id(sid, 4);
        assert_int_equal(ops->session_set_open(f->store, sid, true, 10, 1000), 0);
        session_id(sid, 0); /* revoked */
        assert_int_equal(ops->session_set_open(f->store, sid, true, 11, 1000), 0);
        assert_int_equal(ops->session_foreach_open(f->store, T0 + 50, collect_open, &c), 0);
        assert_int_equal(c.n, 1);
        session_id(sid, 4);
        assert_true(collected_has(&c, sid));
        collected_done(&c);
        assert_int_equal(ops->session_foreach_open(f->store, T0 + 2000, collect_open, &c), 0); /* expired */
        assert_int_equal(c.n, 0);
        session_id(sid, 4);
        assert_int_equal(ops->session_set_open(f->store, sid, false, 0, 1000), 0);
        assert_int_equal(ops->session_foreach_open(f->store, T0 + 50, collect_open, &c), 0);
        assert_int_equal(c.n, 0);

        /* Prune at T0 + 150: 3 (all dead) goes; 0 and 2 (revoked, access dead) go;
         * 1 (revoked, access live until +200) stays; 4 (live) stays. */
        assert_int_equal(ops->session_prune(f->store, T0 + 150, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(ops->session_count(f->store, &count), 0);
        assert_int_equal(count, 2);
        assert_int_equal(ops->session_prune(f->store, T0 + 150, &n), 0);
        assert_int_equal(n, 0);
        /* Much later everything is dead. */
        assert_int_equal(ops->session_prune(f->store, T0 + 5000, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(ops->session_count(f->store, &count), 0);
        assert_int_equal(count, 0);
}

static void test_user_disable_delete(void **state) {
        struct fixture *f = *state;
        struct stitch_session *s = NULL;
        struct stitch_user *u = NULL;
        struct stitch_apikey *k = NULL;
        struct collected c = {};
        char sid[STITCH_ID_LEN + 1], uid[STITCH_ID_LEN + 1];
        char **revoked = NULL, *h = NULL;

        assert_int_equal(create_user(f->store, 1, "local-userpass", "d@example.com", "dave", T0, 0), 0);
        user_id(uid, 1);
        assert_int_equal(ops->password_set(f->store, uid, "hash"), 0);
        {
                struct stitch_apikey key = make_key(1, 1, "k");
                assert_int_equal(ops->apikey_create(f->store, &key), 0);
        }
        assert_int_equal(create_session(f->store, 0, 1, T0, T0 + 1000, T0 + 100), 0);
        assert_int_equal(create_session(f->store, 1, 1, T0, T0 + 1000, T0 + 100), 0);

        /* Disabling is the row alone: the sessions are the core's to end. */
        assert_int_equal(ops->user_set_disabled(f->store, uid, true), 0);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, uid, &u), 0);
        assert_true(u->disabled);
        u = stitch_user_free(u);
        session_id(sid, 0);
        assert_int_equal(ops->session_get(f->store, sid, &s), 0);
        assert_false(s->revoked);
        s = stitch_session_free(s);
        assert_int_equal(ops->user_set_disabled(f->store, uid, true), 0); /* idempotent */
        assert_int_equal(ops->user_set_disabled(f->store, uid, false), 0);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, uid, &u), 0);
        assert_false(u->disabled);
        u = stitch_user_free(u);
        assert_int_equal(ops->user_set_disabled(f->store, "000000000000000000000000", true), -ENOENT);

        /* What the core does on delete: end the live sessions, then the user. */
        assert_int_equal(create_session(f->store, 2, 1, T0 + 30, T0 + 1000, T0 + 130), 0);
        assert_int_equal(ops->session_revoke(f->store, sid, T0 + 35, "logout"), 1);
        assert_int_equal(ops->session_revoke_user(f->store, uid, T0 + 40, "delete", &revoked), 0);
        assert_int_equal(stitch_strv_length(revoked), 2); /* 1 and 2; 0 was already over */
        session_id(sid, 2);
        assert_true(stitch_strv_contains(revoked, sid));
        revoked = stitch_strv_free(revoked);
        assert_int_equal(ops->user_delete(f->store, uid), 0);

        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, uid, &u), -ENOENT);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_EMAIL, "d@example.com", &u), -ENOENT);
        assert_int_equal(ops->password_get(f->store, uid, &h), -ENOENT);
        {
                char kid[STITCH_ID_LEN + 1];
                make_id(kid, 5, 1);
                assert_int_equal(ops->apikey_get(f->store, kid, &k), -ENOENT);
        }
        /* The sessions stay (revoked): the revocation set is rebuilt from them. */
        assert_int_equal(ops->session_get(f->store, sid, &s), 0);
        assert_true(s->revoked);
        assert_string_equal(s->revoked_reason, "delete");
        assert_int_equal(s->revoked_at, T0 + 40);
        s = stitch_session_free(s);
        assert_int_equal(ops->session_foreach_revoked(f->store, T0 + 50, 0, collect_revoked, &c), 0);
        assert_int_equal(c.n, 3);
        assert_true(collected_has(&c, sid));
        collected_done(&c);

        /* A deleted user can't get new sessions; delete again is -ENOENT. */
        assert_int_equal(create_session(f->store, 3, 1, T0 + 60, T0 + 1000, T0 + 160), -ENOENT);
        assert_int_equal(ops->user_delete(f->store, uid), -ENOENT);

        /* The email and unix name are free again. */
        assert_int_equal(create_user(f->store, 9, "local-userpass", "d@example.com", "dave", T0, 0), 0);
}

static void test_idle_anonymous(void **state) {
        struct fixture *f = *state;
        struct stitch_user *u = NULL;
        struct stitch_session *s = NULL;
        char id[STITCH_ID_LEN + 1];
        uint64_t count = 0;
        size_t n = 99;

        /* 1: anon, idle since creation. 2: anon, logged in recently. 3: anon but
         * with a userpass identity too. 4: normal, old. 5: anon, old login, but a
         * live session used recently. 6: anon, old, with an old live session. */
        assert_int_equal(create_user(f->store, 1, "anon-user", NULL, NULL, T0 - 1000, 0), 0);
        assert_int_equal(create_user(f->store, 2, "anon-user", NULL, NULL, T0 - 1000, T0 + 10), 0);
        {
                struct stitch_identity idents[2] = {
                        { .provider_type = (char *) "anon-user", .provider_id = (char *) "anon-user" },
                        { .provider_type = (char *) "local-userpass", .provider_id = (char *) "local-userpass" },
                };
                struct stitch_user v = {
                        .type = (char *) "normal",
                        .data_json = (char *) "{}",
                        .creation_date = T0 - 1000,
                        .identities = idents,
                        .n_identities = 2,
                };
                make_id(v.id, 1, 3);
                make_id(idents[0].id, 2, 3);
                make_id(idents[1].id, 2, 33);
                assert_int_equal(ops->user_create(f->store, &v, NULL), 0);
        }
        assert_int_equal(create_user(f->store, 4, "local-userpass", "old@example.com", NULL, T0 - 1000, 0), 0);
        assert_int_equal(create_user(f->store, 5, "anon-user", NULL, NULL, T0 - 1000, T0 - 900), 0);
        assert_int_equal(create_session(f->store, 5, 5, T0 + 5, T0 + 1000, T0 + 100), 0);
        assert_int_equal(create_user(f->store, 6, "anon-user", NULL, NULL, T0 - 1000, T0 - 900), 0);
        assert_int_equal(create_session(f->store, 6, 6, T0 - 900, T0 + 1000, T0 - 800), 0);

        char **ids = NULL;
        assert_int_equal(ops->user_list_idle(f->store, "anon-user", T0, 100, &ids), 0);
        assert_int_equal(stitch_strv_length(ids), 2);
        user_id(id, 1);
        assert_string_equal(ids[0], id); /* ordered by id */
        user_id(id, 6);
        assert_string_equal(ids[1], id);
        ids = stitch_strv_free(ids);
        /* The limit pages; another provider's idle users are its own. */
        assert_int_equal(ops->user_list_idle(f->store, "anon-user", T0, 1, &ids), 0);
        assert_int_equal(stitch_strv_length(ids), 1);
        ids = stitch_strv_free(ids);
        assert_int_equal(ops->user_list_idle(f->store, "local-userpass", T0, 100, &ids), 0);
        assert_int_equal(stitch_strv_length(ids), 1);
        user_id(id, 4);
        assert_string_equal(ids[0], id);
        ids = stitch_strv_free(ids);
        assert_int_equal(ops->user_list_idle(f->store, "anon-user", T0 - 2000, 100, &ids), 0);
        assert_int_equal(stitch_strv_length(ids), 0);
        ids = stitch_strv_free(ids);
        assert_int_equal(ops->user_list_idle(f->store, "anon-user", T0, 0, &ids), -EINVAL);
        /* Listing changes nothing. */
        assert_int_equal(ops->user_count(f->store, &count), 0);
        assert_int_equal(count, 6);
        (void) u;
        (void) s;
        (void) n;
}

static void test_user_merge_and_unlink(void **state) {
        struct fixture *f = *state;
        struct stitch_user *u = NULL, *v = NULL;
        char a[STITCH_ID_LEN + 1], b[STITCH_ID_LEN + 1], *hash = NULL;

        /* 1: anonymous, logged in. 2: a registration (email, password, a key), never logged in. */
        assert_int_equal(create_user(f->store, 1, "anon-user", NULL, NULL, T0 - 100, T0 - 50), 0);
        assert_int_equal(create_user(f->store, 2, "local-userpass", "reg@example.com", NULL, T0 - 100, 0), 0);
        user_id(a, 1);
        user_id(b, 2);
        assert_int_equal(ops->password_set(f->store, b, "$argon2id$merge"), 0);
        struct stitch_apikey k = {.name = (char *) "k", .creation_date = T0};
        make_id(k.id, 5, 1);
        memcpy(k.user_id, b, sizeof(k.user_id));
        make_hash(k.hash, 5, 1);
        assert_int_equal(ops->apikey_create(f->store, &k), 0);

        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, a, &u), 0);
        u->email = strdup("reg@example.com");
        assert_int_equal(ops->user_merge(f->store, b, u), 0);
        assert_int_equal(ops->user_merge(f->store, b, u), -ENOENT); /* it is gone */
        u = stitch_user_free(u);

        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, b, &v), -ENOENT);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_EMAIL, "reg@example.com", &u), 0);
        assert_string_equal(u->id, a);
        assert_int_equal(u->n_identities, 2);
        /* Linked identities come after the user's own. */
        assert_string_equal(u->identities[0].provider_type, "anon-user");
        assert_string_equal(u->identities[1].provider_type, "local-userpass");
        assert_int_equal(ops->password_get(f->store, a, &hash), 0);
        assert_string_equal(hash, "$argon2id$merge");
        free(hash);
        hash = NULL;
        struct stitch_apikey *got = NULL;
        assert_int_equal(ops->apikey_get(f->store, k.id, &got), 0);
        assert_string_equal(got->user_id, a);
        got = stitch_apikey_free(got);

        /* Unlinking the email identity takes the email and the password. */
        char ident[STITCH_ID_LEN + 1];
        memcpy(ident, u->identities[1].id, sizeof(ident));
        free(u->email);
        u->email = NULL;
        assert_int_equal(ops->identity_remove(f->store, u, "000000000000000000000000", true, 2), -ENOENT);
        assert_int_equal(ops->identity_remove(f->store, u, ident, true, 3), -ESTALE); /* it has 2: changed nothing */
        assert_int_equal(ops->password_get(f->store, a, &hash), 0);
        free(hash);
        hash = NULL;
        assert_int_equal(ops->identity_remove(f->store, u, ident, true, 2), 0);
        assert_int_equal(ops->password_get(f->store, a, &hash), -ENOENT);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_EMAIL, "reg@example.com", &v), -ENOENT);
        memcpy(ident, u->identities[0].id, sizeof(ident));
        assert_int_equal(ops->identity_remove(f->store, u, ident, false, 2), -ESTALE); /* a stale count */
        u = stitch_user_free(u);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, a, &u), 0);
        assert_int_equal(u->n_identities, 1); /* the refused removal changed nothing */
        u = stitch_user_free(u);
}

/* R5 of the second review: a session records the API key that opened it;
 * revoking by key ends those, and the key sessions of the key's owner from
 * before sessions recorded it; a login racing the key's deletion inserts
 * nothing. */
static int create_key_session(struct stitch_store *s, unsigned n, unsigned user, const char *provider_type,
                              const char *apikey_id) {
        struct stitch_session se = {
                .provider_type = (char *) provider_type,
                .service = (char *) "http",
                .creation_date = T0,
                .refresh_expires = T0 + 1000,
                .access_expires = T0 + 100,
                .last_used = T0,
                .uid = -1,
        };

        make_id(se.id, 3, n);
        make_id(se.user_id, 1, user);
        make_id(se.device_id, 4, n);
        make_hash(se.refresh_hash, 3, n);
        if (apikey_id)
                memcpy(se.apikey_id, apikey_id, sizeof(se.apikey_id));
        return ops->session_create(s, &se, 0, NULL);
}

static void test_session_revoke_apikey(void **state) {
        struct fixture *f = *state;
        struct stitch_session *se = NULL;
        char **revoked = NULL, sid[STITCH_ID_LEN + 1];

        assert_int_equal(create_user(f->store, 1, "local-userpass", "a@example.com", NULL, T0, 0), 0);
        assert_int_equal(create_user(f->store, 2, "local-userpass", "b@example.com", NULL, T0, 0), 0);
        struct stitch_apikey k1 = make_key(1, 1, "one"), k2 = make_key(2, 1, "two"), k3 = make_key(3, 2, "three");
        assert_int_equal(ops->apikey_create(f->store, &k1), 0);
        assert_int_equal(ops->apikey_create(f->store, &k2), 0);
        assert_int_equal(ops->apikey_create(f->store, &k3), 0);

        /* 1, 2: by key 1; 3: by key 2; 4: a password; 5: a key session from
         * before (no key recorded); 6: user 2's by key 3, 7: user 2's from before. */
        assert_int_equal(create_key_session(f->store, 1, 1, "api-key", k1.id), 0);
        assert_int_equal(create_key_session(f->store, 2, 1, "api-key", k1.id), 0);
        assert_int_equal(create_key_session(f->store, 3, 1, "api-key", k2.id), 0);
        assert_int_equal(create_key_session(f->store, 4, 1, "local-userpass", NULL), 0);
        assert_int_equal(create_key_session(f->store, 5, 1, "api-key", NULL), 0);
        assert_int_equal(create_key_session(f->store, 6, 2, "api-key", k3.id), 0);
        assert_int_equal(create_key_session(f->store, 7, 2, "api-key", NULL), 0);
        session_id(sid, 1);
        assert_int_equal(ops->session_get(f->store, sid, &se), 0);
        assert_string_equal(se->apikey_id, k1.id);
        se = stitch_session_free(se);
        session_id(sid, 4);
        assert_int_equal(ops->session_get(f->store, sid, &se), 0);
        assert_string_equal(se->apikey_id, "");
        se = stitch_session_free(se);

        assert_int_equal(ops->session_revoke_apikey(f->store, k1.id, "api-key", T0 + 1, "apikey", &revoked), 0);
        assert_int_equal(stitch_strv_length(revoked), 3);
        for (unsigned n = 1; n <= 7; n++) {
                session_id(sid, n);
                assert_int_equal(ops->session_get(f->store, sid, &se), 0);
                assert_int_equal(se->revoked, n == 1 || n == 2 || n == 5);
                assert_int_equal(stitch_strv_contains(revoked, sid), se->revoked);
                if (se->revoked)
                        assert_string_equal(se->revoked_reason, "apikey");
                se = stitch_session_free(se);
        }
        revoked = stitch_strv_free(revoked);
        /* Nothing left to end; an unknown key ends nothing. */
        assert_int_equal(ops->session_revoke_apikey(f->store, k1.id, "api-key", T0 + 1, "apikey", &revoked), 0);
        assert_int_equal(stitch_strv_length(revoked), 0);
        revoked = stitch_strv_free(revoked);
        struct stitch_apikey none = make_key(9, 1, "none");
        assert_int_equal(ops->session_revoke_apikey(f->store, none.id, "api-key", T0 + 1, "apikey", NULL), 0);

        /* A login with a key that is disabled or gone by the time its
         * session is written: nothing is inserted. */
        assert_int_equal(ops->apikey_set_disabled(f->store, k2.id, true), 0);
        assert_int_equal(create_key_session(f->store, 8, 1, "api-key", k2.id), -ENOENT);
        assert_int_equal(ops->apikey_delete(f->store, k1.id), 0);
        assert_int_equal(create_key_session(f->store, 9, 1, "api-key", k1.id), -ENOENT);
        /* nor with another user's key */
        assert_int_equal(create_key_session(f->store, 10, 1, "api-key", k3.id), -ENOENT);
        session_id(sid, 8);
        assert_int_equal(ops->session_get(f->store, sid, &se), -ENOENT);
}

/* Closes the store and runs sql (an undo of migrations, and the version it
 * leaves) on its file: an older store to open again. */
static void downgrade(struct fixture *f, const char *sql) {
        sqlite3 *db = NULL;
        ops->close(f->store);
        f->store = NULL;
        assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
}

/* What schema N-1 -> N did, undone (sqlite3_exec text): a version N-1
 * database. 8 -> 9 remade the live-session index with the columns that
 * cover a login's reads; 7 -> 8 made it; 6 -> 7 added the feed. */
#define SCHEMA_9_UNDO                                                                          \
        "DROP INDEX sessions_live_of_user;"                                                    \
        "CREATE INDEX sessions_live_of_user ON sessions(user_id, creation_date, created_usec, id) WHERE revoked = 0;"
#define SCHEMA_8_UNDO "DROP INDEX sessions_live_of_user;"
#define SCHEMA_7_UNDO SCHEMA_8_UNDO "DROP TABLE events;"

#define SCHEMA_6_UNDO                                                                          \
        SCHEMA_7_UNDO                                                                          \
        "DROP TABLE email_tokens;"                                                             \
        "ALTER TABLE users DROP COLUMN self_registered;"                                       \
        "ALTER TABLE users DROP COLUMN pending;"

/* What schema 4 -> 5 added, undone (sqlite3_exec text): a version 4 database. */
#define SCHEMA_5_UNDO                                                                          \
        SCHEMA_6_UNDO                                                                          \
        "DROP TRIGGER users_delete_retire_unix_uid;"                                           \
        "DROP TABLE retired_unix_uids;"                                                        \
        "DROP INDEX users_unix_unassigned;"                                                    \
        "DROP INDEX users_unix_uid;"                                                           \
        "ALTER TABLE users DROP COLUMN unix_uid;"

/* Schema 4 -> 5: users from before have no uid; the ops that give and find them work on the
 * migrated database. */
static void test_migration_unix_uid(void **state) {
        struct fixture *f = *state;
        struct stitch_user *u = NULL;
        char **ids = NULL, id[STITCH_ID_LEN + 1];
        int64_t uid = 0;
        int version = 0;
        SQLITE_ONLY();

        assert_int_equal(create_user(f->store, 1, "local-userpass", "a@example.com", "ada", T0, 0), 0);
        downgrade(f, SCHEMA_5_UNDO "UPDATE schema_version SET version = 4;");
        assert_int_equal(stitch_store_open(f->spec, &ops, &f->store), 0);
        assert_int_equal(ops->schema_version(f->store, &version), 0);
        assert_int_equal(version, 9);

        user_id(id, 1);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, id, &u), 0);
        assert_int_equal(u->unix_uid, 0);
        u = stitch_user_free(u);
        assert_int_equal(ops->user_list_unix_unassigned(f->store, 10, &ids), 0);
        assert_int_equal(stitch_strv_length(ids), 1);
        assert_string_equal(ids[0], id);
        ids = stitch_strv_free(ids);
        assert_int_equal(ops->unix_uid_max(f->store, 1000, 2000, &uid), -ENOENT);
        assert_int_equal(ops->user_assign_unix_uid(f->store, id, 1000), 0);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_UNIX_UID, "1000", &u), 0);
        assert_string_equal(u->id, id);
        u = stitch_user_free(u);
}

/* Schema 5 -> 6: users from before are neither pending nor self-registered; tokens work on
 * the migrated database. */
static void test_migration_email_tokens(void **state) {
        struct fixture *f = *state;
        struct stitch_user *u = NULL;
        char id[STITCH_ID_LEN + 1];
        int version = 0;
        SQLITE_ONLY();

        assert_int_equal(create_user(f->store, 1, "local-userpass", "a@example.com", NULL, T0, 0), 0);
        downgrade(f, SCHEMA_6_UNDO "UPDATE schema_version SET version = 5;");
        assert_int_equal(stitch_store_open(f->spec, &ops, &f->store), 0);
        assert_int_equal(ops->schema_version(f->store, &version), 0);
        assert_int_equal(version, 9);

        user_id(id, 1);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, id, &u), 0);
        assert_false(u->pending);
        assert_false(u->self_registered);
        u = stitch_user_free(u);
        struct stitch_email_token t = {.kind = STITCH_EMAIL_TOKEN_CONFIRM, .expires = T0 + 60};
        char got[STITCH_ID_LEN + 1];
        make_id(t.id, 7, 1);
        memcpy(t.user_id, id, sizeof(t.user_id));
        make_hash(t.hash, 7, 1);
        assert_int_equal(ops->email_token_put(f->store, &t), 0);
        assert_int_equal(ops->email_token_take(f->store, t.id, t.kind, t.hash, T0, got), 0);
        assert_string_equal(got, id);
}

/* The query plan SQLite chooses for sql on the store's file, one line per step. */
static void query_plan(const char *path, const char *sql, char *out, size_t size) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        char q[1024];
        size_t len = 0;

        snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
        out[0] = 0;
        while (sqlite3_step(st) == SQLITE_ROW && len < size)
                len += (size_t) snprintf(out + len, size - len, "%s\n", (const char *) sqlite3_column_text(st, 3));
        sqlite3_finalize(st);
        sqlite3_close(db);
}

/* Schema 8 -> 9: the live-session index covers what a login reads of it,
 * so the count does not visit every live session's row; the counts stay
 * what they were. */
static void test_migration_live_index(void **state) {
        struct fixture *f = *state;
        struct stitch_user *u = NULL;
        char plan[1024], sid[STITCH_ID_LEN + 1];
        int version = 0;
        SQLITE_ONLY();
        /* The store's ST_SESSION_LIVE_COUNT_OF_USER and ST_SESSION_EXCESS_IDS. */
        static const char count[] =
                "SELECT count(*) FROM sessions WHERE user_id = ?1 AND revoked = 0 AND refresh_expires > ?2";
        static const char excess[] =
                "SELECT id FROM sessions WHERE user_id = ?1 AND revoked = 0 AND refresh_expires > ?2 "
                "ORDER BY creation_date DESC, created_usec DESC, id DESC LIMIT -1 OFFSET ?3";

        assert_int_equal(create_user(f->store, 1, "local-userpass", "a@example.com", "ada", T0, 0), 0);
        for (unsigned i = 0; i < 4; i++)
                assert_int_equal(create_session(f->store, i, 1, T0 + i, i == 2 ? T0 + 10 : T0 + 1000, T0 + 100), 0);
        session_id(sid, 3);
        assert_int_equal(ops->session_revoke(f->store, sid, T0 + 4, "logout"), 1);
        downgrade(f, SCHEMA_9_UNDO "UPDATE schema_version SET version = 8;");
        query_plan(f->path, count, plan, sizeof(plan));
        assert_null(strstr(plan, "COVERING INDEX"));

        assert_int_equal(stitch_store_open(f->spec, &ops, &f->store), 0);
        assert_int_equal(ops->schema_version(f->store, &version), 0);
        assert_int_equal(version, 9);
        query_plan(f->path, count, plan, sizeof(plan));
        assert_non_null(strstr(plan, "USING COVERING INDEX sessions_live_of_user"));
        query_plan(f->path, excess, plan, sizeof(plan));
        assert_non_null(strstr(plan, "USING COVERING INDEX sessions_live_of_user"));

        /* Live at T0 + 50: 0 and 1 (2's refresh token expired, 3 is revoked). */
        assert_int_equal(ops->user_find_for_login(f->store, STITCH_USER_BY_UNIX_NAME, "ada", T0 + 50, &u), 0);
        assert_int_equal(u->login_live_sessions, 2);
        u = stitch_user_free(u);
        /* A fifth session past MaxPerUser 2 ends the oldest live one (0). */
        _cleanup_(stitch_strv_freep) char **ended = NULL;
        assert_int_equal(create_session_limited(f->store, 4, 1, T0 + 50, T0 + 1000, T0 + 100, 2, &ended), 0);
        assert_int_equal(stitch_strv_length(ended), 1);
        session_id(sid, 0);
        assert_string_equal(ended[0], sid);
}

/* Schema 3 -> 4: key sessions from before do not say which key opened
 * them; revoking any key of their user ends them. */
static void test_migration_apikey_id(void **state) {
        struct fixture *f = *state;
        struct stitch_session *se = NULL;
        char **revoked = NULL, sid[STITCH_ID_LEN + 1];
        sqlite3 *db = NULL;
        SQLITE_ONLY();

        assert_int_equal(create_user(f->store, 1, "local-userpass", "a@example.com", NULL, T0, 0), 0);
        struct stitch_apikey k = make_key(1, 1, "one");
        assert_int_equal(ops->apikey_create(f->store, &k), 0);
        assert_int_equal(create_key_session(f->store, 1, 1, "api-key", k.id), 0);
        ops->close(f->store);
        f->store = NULL;
        /* Back to a version 3 database. */
        assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                                      SCHEMA_5_UNDO
                                      "DROP INDEX sessions_apikey_id;"
                                      "ALTER TABLE sessions DROP COLUMN apikey_id;"
                                      "UPDATE schema_version SET version = 3;",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
        assert_int_equal(stitch_store_open(f->spec, &ops, &f->store), 0);
        int version = 0;
        assert_int_equal(ops->schema_version(f->store, &version), 0);
        assert_int_equal(version, 9);
        session_id(sid, 1);
        assert_int_equal(ops->session_get(f->store, sid, &se), 0);
        assert_string_equal(se->apikey_id, "");
        se = stitch_session_free(se);
        assert_int_equal(ops->session_revoke_apikey(f->store, k.id, "api-key", T0 + 1, "apikey", &revoked), 0);
        assert_int_equal(stitch_strv_length(revoked), 1);
        assert_string_equal(revoked[0], sid);
        revoked = stitch_strv_free(revoked);
}

/* Pending and self-registered users; email tokens: single use, of one kind, until they expire,
 * superseded by a newer one of the same kind, gone with their user, pruned. */
static void test_email_tokens(void **state) {
        struct fixture *f = *state;
        struct stitch_user *u = NULL;
        char id[STITCH_ID_LEN + 1], other[STITCH_ID_LEN + 1], got[STITCH_ID_LEN + 1] = "";
        uint8_t forged[STITCH_HASH_LEN];
        size_t n = 99;

        /* user_create writes pending and self_registered; user_update writes neither */
        struct stitch_identity ident = {.provider_type = (char *) "local-userpass", .provider_id = (char *) "local-userpass"};
        struct stitch_user nu = {
                .type = (char *) "normal",
                .email = (char *) "r@example.com",
                .data_json = (char *) "{}",
                .pending = true,
                .self_registered = true,
                .creation_date = T0,
                .identities = &ident,
                .n_identities = 1,
        };
        make_id(nu.id, 1, 1);
        make_id(ident.id, 2, 1);
        assert_int_equal(ops->user_create(f->store, &nu, "hash"), 0);
        assert_int_equal(create_user(f->store, 2, "local-userpass", "b@example.com", NULL, T0, 0), 0);
        user_id(id, 1);
        user_id(other, 2);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_EMAIL, "r@example.com", &u), 0);
        assert_true(u->pending);
        assert_true(u->self_registered);
        free(u->unix_name);
        u->unix_name = strdup("rita");
        assert_int_equal(ops->user_update(f->store, u), 0);
        u = stitch_user_free(u);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_UNIX_NAME, "rita", &u), 0);
        assert_true(u->pending);
        assert_true(u->self_registered);
        u = stitch_user_free(u);
        assert_int_equal(ops->user_set_pending(f->store, id, false), 0);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, id, &u), 0);
        assert_false(u->pending);
        assert_true(u->self_registered);
        u = stitch_user_free(u);
        assert_int_equal(ops->user_set_pending(f->store, id, true), 0);
        make_id(got, 1, 99);
        assert_int_equal(ops->user_set_pending(f->store, got, true), -ENOENT);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, other, &u), 0);
        assert_false(u->pending);
        assert_false(u->self_registered);
        u = stitch_user_free(u);

        struct stitch_email_token c1 = {.kind = STITCH_EMAIL_TOKEN_CONFIRM, .expires = T0 + 100};
        make_id(c1.id, 7, 1);
        memcpy(c1.user_id, id, sizeof(c1.user_id));
        make_hash(c1.hash, 7, 1);
        assert_int_equal(ops->email_token_put(f->store, &c1), 0);
        /* again: it supersedes itself; its id for another user is taken */
        assert_int_equal(ops->email_token_put(f->store, &c1), 0);
        struct stitch_email_token clash = c1;
        memcpy(clash.user_id, other, sizeof(clash.user_id));
        assert_int_equal(ops->email_token_put(f->store, &clash), -EEXIST);
        /* an unknown user */
        struct stitch_email_token nobody = c1;
        make_id(nobody.id, 7, 50);
        make_id(nobody.user_id, 1, 99);
        assert_int_equal(ops->email_token_put(f->store, &nobody), -ENOENT);

        /* wrong kind, forged hash, expired, unknown id: -ENOENT, and the token stays */
        assert_int_equal(ops->email_token_take(f->store, c1.id, STITCH_EMAIL_TOKEN_RESET, c1.hash, T0, got), -ENOENT);
        memcpy(forged, c1.hash, sizeof(forged));
        forged[5] ^= 1;
        assert_int_equal(ops->email_token_take(f->store, c1.id, STITCH_EMAIL_TOKEN_CONFIRM, forged, T0, got), -ENOENT);
        assert_int_equal(ops->email_token_take(f->store, c1.id, STITCH_EMAIL_TOKEN_CONFIRM, c1.hash, T0 + 100, got),
                         -ENOENT);
        assert_int_equal(ops->email_token_take(f->store, nobody.id, STITCH_EMAIL_TOKEN_CONFIRM, c1.hash, T0, got),
                         -ENOENT);
        /* the right one, once */
        assert_int_equal(ops->email_token_take(f->store, c1.id, STITCH_EMAIL_TOKEN_CONFIRM, c1.hash, T0 + 99, got), 0);
        assert_string_equal(got, id);
        assert_int_equal(ops->email_token_take(f->store, c1.id, STITCH_EMAIL_TOKEN_CONFIRM, c1.hash, T0, got), -ENOENT);

        /* a newer token of the same kind supersedes; one of another kind or user does not */
        struct stitch_email_token c2 = c1, c3 = c1, r1 = c1, o1 = c1;
        make_id(c2.id, 7, 2);
        make_hash(c2.hash, 7, 2);
        make_id(c3.id, 7, 3);
        make_hash(c3.hash, 7, 3);
        make_id(r1.id, 7, 4);
        make_hash(r1.hash, 7, 4);
        r1.kind = STITCH_EMAIL_TOKEN_RESET;
        make_id(o1.id, 7, 5);
        make_hash(o1.hash, 7, 5);
        memcpy(o1.user_id, other, sizeof(o1.user_id));
        assert_int_equal(ops->email_token_put(f->store, &c2), 0);
        assert_int_equal(ops->email_token_put(f->store, &r1), 0);
        assert_int_equal(ops->email_token_put(f->store, &o1), 0);
        assert_int_equal(ops->email_token_put(f->store, &c3), 0);
        assert_int_equal(ops->email_token_take(f->store, c2.id, c2.kind, c2.hash, T0, got), -ENOENT);
        assert_int_equal(ops->email_token_take(f->store, c3.id, c3.kind, c3.hash, T0, got), 0);
        assert_int_equal(ops->email_token_take(f->store, r1.id, r1.kind, r1.hash, T0, got), 0);
        assert_string_equal(got, id);

        /* a deleted user's tokens go with it */
        assert_int_equal(ops->email_token_put(f->store, &c1), 0);
        assert_int_equal(ops->user_delete(f->store, id), 0);
        assert_int_equal(ops->email_token_take(f->store, c1.id, c1.kind, c1.hash, T0, got), -ENOENT);

        /* pruning takes the expired ones only */
        struct stitch_email_token o2 = o1;
        make_id(o2.id, 7, 6);
        o2.kind = STITCH_EMAIL_TOKEN_RESET;
        o2.expires = T0 + 1000;
        assert_int_equal(ops->email_token_put(f->store, &o2), 0);
        assert_int_equal(ops->email_token_prune(f->store, T0 + 100, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(ops->email_token_take(f->store, o1.id, o1.kind, o1.hash, T0, got), -ENOENT);
        assert_int_equal(ops->email_token_take(f->store, o2.id, o2.kind, o2.hash, T0, got), 0);
        assert_string_equal(got, other);
}

/* Unix uids: given once, unique, never again after a delete; found by uid; listed in uid
 * order for enumeration; the highest and the next free in a range. */
static void test_unix_uids(void **state) {
        struct fixture *f = *state;
        struct stitch_user *u = NULL, **a = NULL;
        char **ids = NULL, id[9][STITCH_ID_LEN + 1];
        size_t n = 0;
        int64_t uid = 0;

        /* 1..4 have unix names (created oldest first: 4, 3, 2, 1), 5 has none. */
        for (unsigned i = 1; i <= 5; i++) {
                char name[16];
                snprintf(name, sizeof(name), "user%u", i);
                assert_int_equal(create_user(f->store, i, "local-userpass", NULL, i == 5 ? NULL : name, T0 + 10 - i, 0), 0);
                user_id(id[i], i);
        }
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, id[1], &u), 0);
        assert_int_equal(u->unix_uid, 0); /* none */
        u = stitch_user_free(u);

        /* Those with a unix_name and no uid, oldest first. */
        assert_int_equal(ops->user_list_unix_unassigned(f->store, 10, &ids), 0);
        assert_int_equal(stitch_strv_length(ids), 4);
        assert_string_equal(ids[0], id[4]);
        assert_string_equal(ids[3], id[1]);
        ids = stitch_strv_free(ids);
        assert_int_equal(ops->user_list_unix_unassigned(f->store, 2, &ids), 0);
        assert_int_equal(stitch_strv_length(ids), 2);
        ids = stitch_strv_free(ids);

        assert_int_equal(ops->unix_uid_max(f->store, 20000, 59999, &uid), -ENOENT);
        assert_int_equal(ops->unix_uid_next_free(f->store, 20000, 59999, &uid), 0);
        assert_int_equal(uid, 20000);

        /* Given once: a user that has one, a uid that is taken, a user that is not there. */
        assert_int_equal(ops->user_assign_unix_uid(f->store, id[1], 20000), 0);
        assert_int_equal(ops->user_assign_unix_uid(f->store, id[1], 20001), -EALREADY);
        assert_int_equal(ops->user_assign_unix_uid(f->store, id[2], 20000), -EEXIST);
        assert_int_equal(ops->user_assign_unix_uid(f->store, "000000000000000000000000", 20005), -ENOENT);
        assert_int_equal(ops->user_assign_unix_uid(f->store, id[2], 0), -EINVAL);
        assert_int_equal(ops->user_assign_unix_uid(f->store, id[2], -5), -EINVAL);
        assert_int_equal(ops->user_assign_unix_uid(f->store, id[2], 20001), 0);
        assert_int_equal(ops->user_assign_unix_uid(f->store, id[3], 20003), 0);
        /* A user without a unix_name may hold one too: rows, not policy. */
        assert_int_equal(ops->user_assign_unix_uid(f->store, id[5], 30000), 0);

        /* Every read carries it, the look-up by uid too; user_update leaves it alone. */
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_UNIX_NAME, "user1", &u), 0);
        assert_int_equal(u->unix_uid, 20000);
        u->unix_uid = 20999;
        free(u->name);
        u->name = strdup("One");
        assert_int_equal(ops->user_update(f->store, u), 0);
        u = stitch_user_free(u);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_UNIX_UID, "20000", &u), 0);
        assert_string_equal(u->id, id[1]);
        assert_string_equal(u->name, "One");
        assert_int_equal(u->unix_uid, 20000);
        assert_int_equal(u->n_identities, 1);
        u = stitch_user_free(u);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_UNIX_UID, "20002", &u), -ENOENT);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_UNIX_UID, "20999", &u), -ENOENT);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_UNIX_UID, "abc", &u), -EINVAL);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_UNIX_UID, "-1", &u), -EINVAL);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_UNIX_UID, "", &u), -EINVAL);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_UNIX_UID, "99999999999", &u), -EINVAL);
        assert_null(u);
        assert_int_equal(ops->user_list(f->store, NULL, 10, &a, &n), 0);
        for (size_t i = 0; i < n; i++)
                if (streq(a[i]->id, id[3]))
                        assert_int_equal(a[i]->unix_uid, 20003);
        stitch_user_array_free(a, n);

        assert_int_equal(ops->user_list_unix_unassigned(f->store, 10, &ids), 0);
        assert_int_equal(stitch_strv_length(ids), 1);
        assert_string_equal(ids[0], id[4]);
        ids = stitch_strv_free(ids);

        /* The highest in a range, and the lowest free from a point. */
        assert_int_equal(ops->unix_uid_max(f->store, 20000, 29999, &uid), 0);
        assert_int_equal(uid, 20003);
        assert_int_equal(ops->unix_uid_max(f->store, 20000, 20002, &uid), 0);
        assert_int_equal(uid, 20001);
        assert_int_equal(ops->unix_uid_max(f->store, 20004, 29999, &uid), -ENOENT);
        assert_int_equal(ops->unix_uid_next_free(f->store, 20000, 29999, &uid), 0);
        assert_int_equal(uid, 20002);
        assert_int_equal(ops->unix_uid_next_free(f->store, 20003, 29999, &uid), 0);
        assert_int_equal(uid, 20004);
        assert_int_equal(ops->unix_uid_next_free(f->store, 20000, 20001, &uid), -ENOENT);
        assert_int_equal(ops->unix_uid_next_free(f->store, 30000, 30000, &uid), -ENOENT);
        assert_int_equal(ops->unix_uid_next_free(f->store, 20002, 20002, &uid), 0);
        assert_int_equal(uid, 20002);
        assert_int_equal(ops->unix_uid_next_free(f->store, 20005, 20000, &uid), -EINVAL);

        /* Enumeration: accounts (a unix_name and a uid) in uid order, page by page. */
        assert_int_equal(ops->user_list_unix(f->store, 0, 2, &a, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(a[0]->unix_uid, 20000);
        assert_string_equal(a[0]->unix_name, "user1");
        assert_int_equal(a[1]->unix_uid, 20001);
        int64_t last = a[1]->unix_uid;
        stitch_user_array_free(a, n);
        assert_int_equal(ops->user_list_unix(f->store, last, 2, &a, &n), 0);
        assert_int_equal(n, 1); /* user5 (30000) has no unix_name */
        assert_int_equal(a[0]->unix_uid, 20003);
        stitch_user_array_free(a, n);
        assert_int_equal(ops->user_list_unix(f->store, 20003, 2, &a, &n), 0);
        assert_int_equal(n, 0);
        stitch_user_array_free(a, n);

        /* A deleted user's uid is never given again, and still counts as the highest. */
        assert_int_equal(ops->user_delete(f->store, id[3]), 0);
        assert_int_equal(ops->user_assign_unix_uid(f->store, id[4], 20003), -EEXIST);
        assert_int_equal(ops->unix_uid_max(f->store, 20000, 29999, &uid), 0);
        assert_int_equal(uid, 20003);
        assert_int_equal(ops->unix_uid_next_free(f->store, 20003, 29999, &uid), 0);
        assert_int_equal(uid, 20004);
        assert_int_equal(ops->user_assign_unix_uid(f->store, id[4], 20002), 0);
        reopen(f);
        assert_int_equal(ops->unix_uid_next_free(f->store, 20000, 29999, &uid), 0);
        assert_int_equal(uid, 20004);

        /* Deleted users' uids, listed and marked (a store copy carries them). */
        int64_t *retired = NULL;
        size_t n_retired = 0;
        assert_int_equal(ops->unix_uid_list_retired(f->store, 0, 10, &retired, &n_retired), 0);
        assert_int_equal(n_retired, 1);
        assert_int_equal(retired[0], 20003);
        free(retired);
        retired = NULL;
        assert_int_equal(ops->unix_uid_retire(f->store, 20007), 0);
        assert_int_equal(ops->unix_uid_retire(f->store, 20007), 0); /* again: nothing more */
        assert_int_equal(ops->unix_uid_retire(f->store, 20000), -EEXIST); /* user1 holds it */
        assert_int_equal(ops->unix_uid_retire(f->store, 0), -EINVAL);
        assert_int_equal(ops->unix_uid_list_retired(f->store, 0, 10, &retired, &n_retired), 0);
        assert_int_equal(n_retired, 2);
        assert_int_equal(retired[0], 20003);
        assert_int_equal(retired[1], 20007);
        free(retired);
        retired = NULL;
        assert_int_equal(ops->unix_uid_list_retired(f->store, 20003, 1, &retired, &n_retired), 0);
        assert_int_equal(n_retired, 1);
        assert_int_equal(retired[0], 20007);
        free(retired);
        retired = NULL;
        assert_int_equal(ops->unix_uid_next_free(f->store, 20007, 29999, &uid), 0);
        assert_int_equal(uid, 20008);

        /* Inside a caller's transaction a refused assignment leaves nothing behind. */
        assert_int_equal(create_user(f->store, 6, "local-userpass", NULL, "user6", T0, 0), 0);
        user_id(id[6], 6);
        struct stitch_store *tx = NULL;
        assert_int_equal(ops->begin(f->store, &tx), 0);
        assert_int_equal(ops->user_assign_unix_uid(tx, id[6], 20000), -EEXIST);
        assert_int_equal(ops->user_assign_unix_uid(tx, id[6], 20010), 0);
        assert_int_equal(ops->user_find(tx, STITCH_USER_BY_UNIX_UID, "20010", &u), 0);
        u = stitch_user_free(u);
        ops->rollback(tx);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_UNIX_UID, "20010", &u), -ENOENT);
}

/* R9 of the second review (docs/security.md): the merge's own transaction
 * checks what made a link safe. A first login landing between the core's
 * "never logged in" check and the merge, or keys that do not fit, refuse
 * the merge; nothing moves and no key is lost. */
static void test_user_merge_guards(void **state) {
        struct fixture *f = *state;
        struct stitch_user *u = NULL, *v = NULL;
        struct stitch_apikey **keys = NULL;
        char a[STITCH_ID_LEN + 1], b[STITCH_ID_LEN + 1];
        size_t n = 0;

        assert_int_equal(create_user(f->store, 1, "anon-user", NULL, NULL, T0 - 100, T0 - 50), 0);
        assert_int_equal(create_user(f->store, 2, "local-userpass", "reg@example.com", NULL, T0 - 100, 0), 0);
        user_id(a, 1);
        user_id(b, 2);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, a, &u), 0);
        u->email = strdup("reg@example.com");

        /* The registration's first login commits just before the merge. */
        assert_int_equal(create_session(f->store, 1, 2, T0, T0 + 1000, T0 + 100), 0);
        assert_int_equal(ops->user_merge(f->store, b, u), -ENOTEMPTY);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, b, &v), 0);
        assert_int_equal(v->n_identities, 1); /* nothing moved */
        assert_string_equal(v->email, "reg@example.com");
        v = stitch_user_free(v);

        /* A session alone (login time not recorded) is enough; so is a disable. */
        assert_int_equal(create_user(f->store, 3, "local-userpass", "s@example.com", NULL, T0 - 100, 0), 0);
        assert_int_equal(create_session(f->store, 2, 3, T0, T0 + 1000, T0 + 100), 0);
        char c3[STITCH_ID_LEN + 1];
        user_id(c3, 3);
        assert_int_equal(ops->user_touch(f->store, c3, 0), 0);
        assert_int_equal(ops->user_merge(f->store, c3, u), -ENOTEMPTY);
        assert_int_equal(create_user(f->store, 4, "local-userpass", "d@example.com", NULL, T0 - 100, 0), 0);
        char c4[STITCH_ID_LEN + 1];
        user_id(c4, 4);
        assert_int_equal(ops->user_set_disabled(f->store, c4, true), 0);
        assert_int_equal(ops->user_merge(f->store, c4, u), -ENOTEMPTY);

        /* Keys: a name both have is refused (the old merge dropped the
         * unused account's key), and so is one key past the limit. */
        assert_int_equal(create_user(f->store, 5, "local-userpass", "k@example.com", NULL, T0 - 100, 0), 0);
        char c5[STITCH_ID_LEN + 1];
        user_id(c5, 5);
        free(u->email);
        u->email = strdup("k@example.com");
        struct stitch_apikey k = make_key(1, 1, "laptop");
        assert_int_equal(ops->apikey_create(f->store, &k), 0);
        k = make_key(2, 5, "laptop");
        assert_int_equal(ops->apikey_create(f->store, &k), 0);
        assert_int_equal(ops->user_merge(f->store, c5, u), -EEXIST);
        assert_int_equal(ops->apikey_list(f->store, c5, &keys, &n), 0);
        assert_int_equal(n, 1); /* still there */
        stitch_apikey_array_free(keys, n);
        assert_int_equal(ops->apikey_delete(f->store, k.id), 0);

        char name[16];
        for (unsigned i = 2; i <= STITCH_MAX_USER_APIKEYS; i++) {
                snprintf(name, sizeof(name), "a%u", i);
                k = make_key(100 + i, 1, name);
                assert_int_equal(ops->apikey_create(f->store, &k), 0);
        }
        k = make_key(3, 5, "server");
        assert_int_equal(ops->apikey_create(f->store, &k), 0);
        assert_int_equal(ops->user_merge(f->store, c5, u), -EDQUOT);
        assert_int_equal(ops->apikey_list(f->store, a, &keys, &n), 0);
        assert_int_equal(n, STITCH_MAX_USER_APIKEYS);
        stitch_apikey_array_free(keys, n);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, c5, &v), 0);
        v = stitch_user_free(v);

        /* With room, every key moves. */
        struct stitch_apikey gone = make_key(102, 1, "a2"), *got = NULL;
        assert_int_equal(ops->apikey_delete(f->store, gone.id), 0);
        assert_int_equal(ops->user_merge(f->store, c5, u), 0);
        assert_int_equal(ops->apikey_get(f->store, k.id, &got), 0);
        assert_string_equal(got->user_id, a);
        got = stitch_apikey_free(got);
        u = stitch_user_free(u);
}

static void test_signing_keys(void **state) {
        struct fixture *f = *state;
        struct stitch_signing_key **a = NULL;
        static const uint8_t secret1[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        static const uint8_t secret2[] = { 0x00, 0x01, 0xff, 0x00, 0x7f };
        struct stitch_signing_key k1 = {
                .kid = "key-1", .alg = (char *) "ES256", .secret = (uint8_t *) secret1,
                .secret_len = sizeof(secret1) - 1, .created = T0,
        };
        struct stitch_signing_key k2 = {
                .kid = "key-2", .alg = (char *) "HS256", .secret = (uint8_t *) secret2,
                .secret_len = sizeof(secret2), .created = T0 + 100,
        };
        size_t n = 0;

        assert_int_equal(ops->key_list(f->store, &a, &n), 0);
        assert_int_equal(n, 0);
        stitch_signing_key_array_free(a, n);

        assert_int_equal(ops->key_rotate(f->store, &k1), 0);
        assert_int_equal(ops->key_rotate(f->store, &k2), 0);

        assert_int_equal(ops->key_list(f->store, &a, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(a[0]->kid, "key-2");
        assert_string_equal(a[0]->alg, "HS256");
        assert_int_equal(a[0]->retired, 0);
        assert_int_equal(a[0]->secret_len, sizeof(secret2));
        assert_memory_equal(a[0]->secret, secret2, sizeof(secret2));
        assert_string_equal(a[1]->kid, "key-1");
        assert_int_equal(a[1]->retired, T0 + 100);
        assert_int_equal(a[1]->secret_len, sizeof(secret1) - 1);
        assert_memory_equal(a[1]->secret, secret1, sizeof(secret1) - 1);
        assert_int_equal(a[1]->secret[a[1]->secret_len], 0);
        stitch_signing_key_array_free(a, n);

        /* A duplicate kid changes nothing: key-2 stays active. */
        {
                struct stitch_signing_key k3 = k1;
                k3.created = T0 + 200;
                assert_int_equal(ops->key_rotate(f->store, &k3), -EEXIST);
                assert_int_equal(ops->key_list(f->store, &a, &n), 0);
                assert_int_equal(n, 2);
                assert_string_equal(a[0]->kid, "key-2");
                assert_int_equal(a[0]->retired, 0);
                stitch_signing_key_array_free(a, n);
                k3.secret = NULL;
                assert_int_equal(ops->key_rotate(f->store, &k3), -EINVAL);
        }

        /* Pruning only removes keys retired before the cutoff, never the active one. */
        assert_int_equal(ops->key_prune(f->store, T0 + 100, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(ops->key_prune(f->store, T0 + 101, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(ops->key_prune(f->store, INT64_MAX, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(ops->key_list(f->store, &a, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(a[0]->kid, "key-2");
        stitch_signing_key_array_free(a, n);
}

static bool file_contains(const char *path, const uint8_t *needle, size_t len) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0, n;
        FILE *fp;

        fp = fopen(path, "re");
        if (!fp)
                return false;
        buf = malloc(16 << 20);
        assert_non_null(buf);
        n = fread(buf, 1, 16 << 20, fp);
        fclose(fp);
        size = n;
        for (size_t i = 0; i + len <= size; i++)
                if (memcmp(buf + i, needle, len) == 0)
                        return true;
        return false;
}

static void test_secure_delete(void **state) {
        struct fixture *f = *state;
        struct stitch_apikey k;
        uint8_t pattern[STITCH_HASH_LEN];
        char kid[STITCH_ID_LEN + 1];
        SQLITE_ONLY();

        for (size_t i = 0; i < sizeof(pattern); i++)
                pattern[i] = (uint8_t) (0xc0 ^ (i * 37));
        assert_int_equal(create_user(f->store, 1, "local-userpass", "sd@example.com", NULL, T0, 0), 0);
        k = make_key(1, 1, "k");
        memcpy(k.hash, pattern, sizeof(pattern));
        assert_int_equal(ops->apikey_create(f->store, &k), 0);
        ops->close(f->store); /* checkpoints the WAL into the file */
        f->store = NULL;
        assert_true(file_contains(f->path, pattern, sizeof(pattern)));

        assert_int_equal(ops->open(f->path, &f->store), 0);
        make_id(kid, 5, 1);
        assert_int_equal(ops->apikey_delete(f->store, kid), 0);
        ops->close(f->store);
        f->store = NULL;
        assert_false(file_contains(f->path, pattern, sizeof(pattern)));
        assert_int_equal(ops->open(f->path, &f->store), 0);
}

/* Four writers create sessions while a reader keeps looking things up. */
#define WRITERS 4
#define PER_WRITER 150

struct concurrency {
        struct stitch_store *store;
        unsigned writer;
        int errors;
        volatile int *done;
        unsigned long reads;
};

static void *writer_thread(void *p) {
        struct concurrency *c = p;

        for (unsigned i = 0; i < PER_WRITER; i++) {
                unsigned n = c->writer * 100000 + i;
                char sid[STITCH_ID_LEN + 1];

                if (create_session(c->store, n, 1, T0 + i, T0 + 1000, T0 + 100) != 0)
                        c->errors++;
                session_id(sid, n);
                if (i % 3 == 0 && ops->session_refreshed(c->store, sid, T0 + 200, T0 + i, NULL, NULL) != 0)
                        c->errors++;
                if (i % 5 == 0 && ops->session_revoke(c->store, sid, T0 + i, "logout") != 1)
                        c->errors++;
        }
        return NULL;
}

static void *reader_thread(void *p) {
        struct concurrency *c = p;
        char uid[STITCH_ID_LEN + 1], sid[STITCH_ID_LEN + 1];

        user_id(uid, 1);
        session_id(sid, 0);
        while (!__atomic_load_n(c->done, __ATOMIC_ACQUIRE)) {
                struct stitch_user *u = NULL;
                struct stitch_session *s = NULL;
                uint8_t h[STITCH_HASH_LEN];
                int r;

                if (ops->user_find(c->store, STITCH_USER_BY_ID, uid, &u) != 0)
                        c->errors++;
                stitch_user_free(u);
                if (ops->session_get(c->store, sid, &s) != 0)
                        c->errors++;
                stitch_session_free(s);
                make_hash(h, 3, (unsigned) (c->reads % PER_WRITER));
                r = ops->session_find_by_refresh_hash(c->store, h, &s);
                if (r != 0 && r != -ENOENT)
                        c->errors++;
                if (r == 0)
                        stitch_session_free(s);
                c->reads++;
        }
        return NULL;
}

static void test_concurrency(void **state) {
        struct fixture *f = *state;
        struct concurrency w[WRITERS], rd;
        pthread_t wt[WRITERS], rt;
        volatile int done = 0;
        uint64_t count = 0;
        _cleanup_(stitch_strv_freep) char **problems = NULL;

        assert_int_equal(create_user(f->store, 1, "local-userpass", "c@example.com", NULL, T0, 0), 0);
        assert_int_equal(create_session(f->store, 0, 1, T0, T0 + 1000, T0 + 100), 0);

        rd = (struct concurrency) { .store = f->store, .done = &done };
        assert_int_equal(pthread_create(&rt, NULL, reader_thread, &rd), 0);
        for (unsigned i = 0; i < WRITERS; i++) {
                w[i] = (struct concurrency) { .store = f->store, .writer = i + 1, .done = &done };
                assert_int_equal(pthread_create(&wt[i], NULL, writer_thread, &w[i]), 0);
        }
        for (unsigned i = 0; i < WRITERS; i++) {
                assert_int_equal(pthread_join(wt[i], NULL), 0);
                assert_int_equal(w[i].errors, 0);
        }
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
        assert_int_equal(pthread_join(rt, NULL), 0);
        assert_int_equal(rd.errors, 0);
        assert_true(rd.reads > 0);

        assert_int_equal(ops->session_count(f->store, &count), 0);
        assert_int_equal(count, 1 + WRITERS * PER_WRITER);
        assert_int_equal(ops->integrity_check(f->store, &problems), 0);
        assert_int_equal(stitch_strv_length(problems), 0);
}

/* Group commit: many threads create sessions at once; some of them fail
 * (missing user, duplicate id) inside the same batch as others that succeed.
 * Each caller gets its own answer and exactly the successful rows exist. */
#define GC_THREADS 8
#define GC_PER_THREAD 40
struct group_commit_worker {
        struct stitch_store *store;
        unsigned thread;
        unsigned ok, enoent, eexist, other;
};

static void *group_commit_thread(void *userdata) {
        struct group_commit_worker *w = userdata;
        for (unsigned i = 0; i < GC_PER_THREAD; i++) {
                unsigned n = 1000 + w->thread * GC_PER_THREAD + i;
                int r;
                if (i % 7 == 3)
                        r = create_session(w->store, n, 99, T0, T0 + 1000, T0 + 100); /* no user 99 */
                else if (i % 11 == 5)
                        r = create_session(w->store, 0, 1, T0, T0 + 1000, T0 + 100); /* session 0 exists */
                else
                        r = create_session(w->store, n, 1, T0, T0 + 1000, T0 + 100);
                if (r == 0)
                        w->ok++;
                else if (r == -ENOENT)
                        w->enoent++;
                else if (r == -EEXIST)
                        w->eexist++;
                else
                        w->other++;
        }
        return NULL;
}

static void test_group_commit(void **state) {
        struct fixture *f = *state;
        struct group_commit_worker w[GC_THREADS];
        pthread_t t[GC_THREADS];
        unsigned ok = 0, enoent = 0, eexist = 0, want_enoent = 0, want_eexist = 0;
        uint64_t count = 0;
        _cleanup_(stitch_strv_freep) char **problems = NULL;

        assert_int_equal(create_user(f->store, 1, "local-userpass", "g@example.com", NULL, T0, 0), 0);
        assert_int_equal(create_session(f->store, 0, 1, T0, T0 + 1000, T0 + 100), 0);
        for (unsigned i = 0; i < GC_PER_THREAD; i++) {
                if (i % 7 == 3)
                        want_enoent++;
                else if (i % 11 == 5)
                        want_eexist++;
        }
        for (unsigned i = 0; i < GC_THREADS; i++) {
                w[i] = (struct group_commit_worker) {.store = f->store, .thread = i};
                assert_int_equal(pthread_create(&t[i], NULL, group_commit_thread, &w[i]), 0);
        }
        for (unsigned i = 0; i < GC_THREADS; i++) {
                assert_int_equal(pthread_join(t[i], NULL), 0);
                assert_int_equal(w[i].other, 0);
                ok += w[i].ok;
                enoent += w[i].enoent;
                eexist += w[i].eexist;
        }
        assert_int_equal(enoent, GC_THREADS * want_enoent);
        assert_int_equal(eexist, GC_THREADS * want_eexist);
        assert_int_equal(ok, GC_THREADS * (GC_PER_THREAD - want_enoent - want_eexist));
        assert_int_equal(ops->session_count(f->store, &count), 0);
        assert_int_equal(count, 1 + ok);
        for (unsigned i = 0; i < GC_THREADS; i++)
                for (unsigned k = 0; k < GC_PER_THREAD; k++) {
                        char sid[STITCH_ID_LEN + 1];
                        struct stitch_session *got = NULL;
                        session_id(sid, 1000 + i * GC_PER_THREAD + k);
                        int r = ops->session_get(f->store, sid, &got);
                        assert_int_equal(r, k % 7 == 3 || (k % 7 != 3 && k % 11 == 5) ? -ENOENT : 0);
                        stitch_session_free(got);
                }
        assert_int_equal(ops->integrity_check(f->store, &problems), 0);
        assert_int_equal(stitch_strv_length(problems), 0);
}

/* Transactions: a thread's ops between begin and commit are one unit;
 * rolled back, nothing of them stays; an op failing inside leaves nothing
 * and the transaction goes on; other threads' writes wait, their reads see
 * the state before it. */
struct tx_peer {
        struct stitch_store *store;
        bool write;
        int result;
};

static void *tx_peer_thread(void *p) {
        struct tx_peer *t = p;
        char id[STITCH_ID_LEN + 1];
        struct stitch_user *u = NULL;

        if (t->write)
                t->result = create_user(t->store, 20, "local-userpass", "race@example.com", NULL, T0, 0);
        else {
                user_id(id, 10);
                t->result = ops->user_find(t->store, STITCH_USER_BY_ID, id, &u);
                stitch_user_free(u);
        }
        return NULL;
}

static void test_transactions(void **state) {
        struct fixture *f = *state;
        struct stitch_user *u = NULL;
        struct stitch_session *se = NULL;
        struct stitch_store *tx = NULL, *tx2 = NULL;
        char id[STITCH_ID_LEN + 1], sid[STITCH_ID_LEN + 1];
        uint64_t count = 0;

        /* Rolled back: gone, though seen inside, and never seen outside. */
        assert_int_equal(ops->begin(f->store, &tx), 0);
        assert_non_null(tx);
        assert_int_equal(ops->begin(tx, &tx2), -EBUSY);        /* not nestable */
        assert_int_equal(ops->begin(f->store, &tx2), -EBUSY);  /* nor a second one on this thread */
        assert_null(tx2);
        assert_int_equal(create_user(tx, 1, "local-userpass", "t1@example.com", NULL, T0, 0), 0);
        assert_int_equal(create_session(tx, 1, 1, T0, T0 + 1000, T0 + 100), 0);
        user_id(id, 1);
        assert_int_equal(ops->user_find(tx, STITCH_USER_BY_ID, id, &u), 0);
        assert_int_equal(u->last_authentication_date, T0);
        u = stitch_user_free(u);
        session_id(sid, 1);
        assert_int_equal(ops->session_get(f->store, sid, &se), -ENOENT); /* a reader: not yet */
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, id, &u), -ENOENT);
        ops->rollback(tx);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, id, &u), -ENOENT);
        assert_int_equal(ops->session_get(f->store, sid, &se), -ENOENT);
        assert_int_equal(ops->commit(tx), -EINVAL); /* the handle died with the rollback */

        /* Committed: all there; the failed op in between left nothing and
         * did not poison the transaction. */
        assert_int_equal(ops->begin(f->store, &tx), 0);
        assert_int_equal(create_user(tx, 2, "local-userpass", "t2@example.com", NULL, T0, 0), 0);
        assert_int_equal(create_user(tx, 3, "local-userpass", "t2@example.com", NULL, T0, 0), -EEXIST);
        assert_int_equal(create_user(tx, 4, "local-userpass", "t4@example.com", NULL, T0, 0), 0);
        assert_int_equal(create_session(tx, 2, 2, T0, T0 + 1000, T0 + 100), 0);
        assert_int_equal(ops->session_revoke_user(tx, id, T0, "revoke", NULL), 0);
        user_id(id, 2);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, id, &u), -ENOENT); /* outside: not yet */
        assert_int_equal(ops->commit(tx), 0);
        reopen(f);
        assert_int_equal(ops->user_count(f->store, &count), 0);
        assert_int_equal(count, 2);
        user_id(id, 3);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, id, &u), -ENOENT);
        {
                /* Nothing of user 3's half-done create: its identity id is free. */
                assert_int_equal(create_user(f->store, 3, "local-userpass", "t3@example.com", NULL, T0, 0), 0);
        }
        session_id(sid, 2);
        assert_int_equal(ops->session_get(f->store, sid, &se), 0);
        se = stitch_session_free(se);

        /* Isolation from other threads. */
        for (int commit = 0; commit <= 1; commit++) {
                struct tx_peer reader = {.store = f->store}, writer = {.store = f->store, .write = true};
                pthread_t rt, wt;

                assert_int_equal(ops->begin(f->store, &tx), 0);
                assert_int_equal(create_user(tx, 10, "local-userpass", "race@example.com", NULL, T0, 0), 0);
                assert_int_equal(pthread_create(&rt, NULL, tx_peer_thread, &reader), 0);
                assert_int_equal(pthread_join(rt, NULL), 0);
                assert_int_equal(reader.result, -ENOENT); /* not yet */
                assert_int_equal(pthread_create(&wt, NULL, tx_peer_thread, &writer), 0);
                if (commit)
                        assert_int_equal(ops->commit(tx), 0);
                else
                        ops->rollback(tx);
                assert_int_equal(pthread_join(wt, NULL), 0);
                /* The writer waited: after a commit the email is taken, after a rollback free. */
                assert_int_equal(writer.result, commit ? -EEXIST : 0);
                if (!commit) {
                        user_id(id, 20);
                        assert_int_equal(ops->user_delete(f->store, id), 0);
                }
        }
        user_id(id, 10);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, id, &u), 0);
        u = stitch_user_free(u);
}

/* A handle belongs to no thread: one thread begins, another works in it
 * and commits. And two threads with a transaction each: both land, each
 * atomically (a single-writer backend runs them one after the other). */
struct tx_worker {
        struct stitch_store *store; /* the store, or a handle to work in */
        unsigned first;
        bool begin;
        int result;
};

static void *tx_worker_thread(void *p) {
        struct tx_worker *w = p;
        struct stitch_store *tx = w->store;
        char email[64];
        int r = 0;

        if (w->begin)
                r = ops->begin(w->store, &tx);
        for (unsigned i = 0; r >= 0 && i < 5; i++) {
                snprintf(email, sizeof(email), "w%u@example.com", w->first + i);
                r = create_user(tx, w->first + i, "local-userpass", email, NULL, T0, 0);
        }
        if (w->begin) {
                if (r >= 0)
                        r = ops->commit(tx);
                else
                        ops->rollback(tx);
        } else if (r >= 0)
                r = ops->commit(tx);
        w->result = r;
        return NULL;
}

static void test_transaction_handles(void **state) {
        struct fixture *f = *state;
        struct stitch_store *tx = NULL;
        uint64_t count = 0;
        pthread_t t[2];

        /* Handed over. */
        assert_int_equal(ops->begin(f->store, &tx), 0);
        struct tx_worker handed = {.store = tx, .first = 100};
        assert_int_equal(pthread_create(&t[0], NULL, tx_worker_thread, &handed), 0);
        assert_int_equal(pthread_join(t[0], NULL), 0);
        assert_int_equal(handed.result, 0);
        assert_int_equal(ops->user_count(f->store, &count), 0);
        assert_int_equal(count, 5);

        /* Two at once. */
        struct tx_worker w[2] = {
                {.store = f->store, .first = 200, .begin = true},
                {.store = f->store, .first = 300, .begin = true},
        };
        for (size_t i = 0; i < 2; i++)
                assert_int_equal(pthread_create(&t[i], NULL, tx_worker_thread, &w[i]), 0);
        for (size_t i = 0; i < 2; i++) {
                assert_int_equal(pthread_join(t[i], NULL), 0);
                assert_int_equal(w[i].result, 0);
        }
        assert_int_equal(ops->user_count(f->store, &count), 0);
        assert_int_equal(count, 15);
}

/* The change feed: the events since an id, in order. */
struct feed {
        struct stitch_store_event **a;
        size_t n;
};

static void feed_done(struct feed *fd) {
        stitch_store_event_array_free(fd->a, fd->n);
        *fd = (struct feed) {};
}

static void feed_read(struct stitch_store *s, int64_t after, struct feed *fd) {
        feed_done(fd);
        assert_int_equal(ops->events_since(s, after, 1000, &fd->a, &fd->n), 0);
        for (size_t i = 1; i < fd->n; i++)
                assert_true(fd->a[i]->id > fd->a[i - 1]->id);
}

static void assert_event(const struct stitch_store_event *e, enum stitch_store_event_kind kind, const char *subject) {
        assert_string_equal(stitch_store_event_kind_to_string(e->kind), stitch_store_event_kind_to_string(kind));
        assert_string_equal(e->subject, subject);
        assert_true(e->id > 0);
        assert_true(e->time > 0);
}

static int64_t last_event_id(struct stitch_store *s) {
        int64_t id = -1;
        assert_int_equal(ops->events_last_id(s, &id), 0);
        assert_true(id >= 0);
        return id;
}

/* session_create with max_live: the oldest live sessions beyond the limit
 * end in the same write, with their events; revoked or other users'
 * sessions do not count. */
static void test_session_limit(void **state) {
        struct fixture *f = *state;
        struct stitch_session **list = NULL;
        struct stitch_session *got = NULL;
        struct feed fd = {};
        char **ended = NULL;
        char sid[STITCH_ID_LEN + 1], other[STITCH_ID_LEN + 1];
        size_t n = 0;

        assert_int_equal(create_user(f->store, 1, "local-userpass", "l1@example.com", NULL, T0, 0), 0);
        assert_int_equal(create_user(f->store, 2, "local-userpass", "l2@example.com", NULL, T0, 0), 0);
        for (unsigned i = 0; i < 4; i++)
                assert_int_equal(create_session(f->store, i, 1, T0 + i, T0 + 1000, T0 + 100), 0);
        assert_int_equal(create_session(f->store, 4, 1, T0 + 4, T0 + 1000, T0 + 100), 0);
        session_id(sid, 4);
        assert_int_equal(ops->session_revoke(f->store, sid, T0 + 5, "logout"), 1);
        assert_int_equal(create_session(f->store, 5, 1, T0 - 2000, T0 - 1000, T0 - 1900), 0); /* expired */
        assert_int_equal(create_session(f->store, 6, 2, T0, T0 + 1000, T0 + 100), 0);
        int64_t after = last_event_id(f->store);

        /* A limit needs somewhere to say what it ended. */
        assert_int_equal(create_session_limited(f->store, 10, 1, T0 + 10, T0 + 1000, T0 + 100, 3, NULL), -EINVAL);
        /* Room enough: nothing ends, an empty list. */
        assert_int_equal(create_session_limited(f->store, 11, 1, T0 + 10, T0 + 1000, T0 + 100, 100, &ended), 0);
        assert_non_null(ended);
        assert_null(ended[0]);
        ended = stitch_strv_free(ended);
        /* Live: 0, 1, 2, 3, 11 and the new one; 3 stay: 0, 1 and 2 end. */
        assert_int_equal(create_session_limited(f->store, 12, 1, T0 + 11, T0 + 1000, T0 + 100, 3, &ended), 0);
        assert_non_null(ended);
        assert_int_equal(stitch_strv_length(ended), 3);
        for (unsigned i = 0; i < 3; i++) {
                session_id(sid, i);
                bool found = false;
                for (char **e = ended; *e; e++)
                        found = found || streq(*e, sid);
                assert_true(found);
        }
        ended = stitch_strv_free(ended);
        assert_int_equal(ops->session_list(f->store, NULL, false, T0 + 20, &list, &n), 0);
        assert_int_equal(n, 4); /* 3, 11, 12 of user 1, 6 of user 2 */
        stitch_session_array_free(list, n);
        session_id(sid, 0);
        assert_int_equal(ops->session_get(f->store, sid, &got), 0);
        assert_true(got->revoked);
        assert_string_equal(got->revoked_reason, "limit");
        got = stitch_session_free(got);
        session_id(sid, 4);
        assert_int_equal(ops->session_get(f->store, sid, &got), 0);
        assert_string_equal(got->revoked_reason, "logout"); /* already ended: untouched */
        got = stitch_session_free(got);
        session_id(other, 6);
        assert_int_equal(ops->session_get(f->store, other, &got), 0);
        assert_false(got->revoked);
        got = stitch_session_free(got);

        /* One event per ended session, as any other end writes. */
        feed_read(f->store, after, &fd);
        assert_int_equal(fd.n, 3);
        for (size_t i = 0; i < fd.n; i++) {
                assert_int_equal(fd.a[i]->kind, STITCH_STORE_EVENT_SESSION_ENDED);
                assert_non_null(fd.a[i]->data_json);
                assert_non_null(strstr(fd.a[i]->data_json, "\"limit\""));
        }
        feed_done(&fd);

        /* No such user: nothing in, nothing ended. */
        assert_int_equal(create_session_limited(f->store, 13, 9, T0 + 12, T0 + 1000, T0 + 100, 3, &ended), -ENOENT);
        assert_null(ended);
        session_id(sid, 13);
        assert_int_equal(ops->session_get(f->store, sid, &got), -ENOENT);
        /* Limit 1: only the new one stays. */
        assert_int_equal(create_session_limited(f->store, 14, 1, T0 + 13, T0 + 1000, T0 + 100, 1, &ended), 0);
        assert_int_equal(stitch_strv_length(ended), 3);
        ended = stitch_strv_free(ended);
        user_id(other, 1);
        assert_int_equal(ops->session_list(f->store, other, false, T0 + 20, &list, &n), 0);
        assert_int_equal(n, 1);
        session_id(sid, 14);
        assert_string_equal(list[0]->id, sid);
        stitch_session_array_free(list, n);
}

static void test_events(void **state) {
        struct fixture *f = *state;
        struct feed fd = {};
        char uid1[STITCH_ID_LEN + 1], uid2[STITCH_ID_LEN + 1], sid1[STITCH_ID_LEN + 1], sid2[STITCH_ID_LEN + 1],
                sid3[STITCH_ID_LEN + 1];
        static const uint8_t secret[] = {1, 2, 3, 4};
        struct stitch_signing_key key = {
                .kid = "kid-events", .alg = (char *) "HS256", .secret = (uint8_t *) secret,
                .secret_len = sizeof(secret), .created = T0,
        };

        assert_int_equal(last_event_id(f->store), 0);
        feed_read(f->store, 0, &fd);
        assert_int_equal(fd.n, 0);

        /* Creating users and sessions, logging in, refreshing: no events. */
        assert_int_equal(create_user(f->store, 1, "local-userpass", "e1@example.com", NULL, T0, 0), 0);
        assert_int_equal(create_user(f->store, 2, "local-userpass", "e2@example.com", NULL, T0, 0), 0);
        user_id(uid1, 1);
        user_id(uid2, 2);
        assert_int_equal(create_session(f->store, 1, 1, T0, T0 + 1000, T0 + 100), 0);
        assert_int_equal(create_session(f->store, 2, 1, T0, T0 + 1000, T0 + 200), 0);
        assert_int_equal(create_session(f->store, 3, 2, T0, T0 + 1000, T0 + 300), 0);
        session_id(sid1, 1);
        session_id(sid2, 2);
        session_id(sid3, 3);
        assert_int_equal(ops->session_refreshed(f->store, sid1, T0 + 150, T0 + 10, NULL, NULL), 0);
        assert_int_equal(ops->user_touch(f->store, uid1, T0 + 10), 0);
        assert_int_equal(last_event_id(f->store), 0);

        /* Each change, one event, in order. */
        assert_int_equal(ops->session_revoke(f->store, sid1, T0 + 20, "logout"), 1);
        assert_int_equal(ops->session_revoke(f->store, sid1, T0 + 21, "logout"), 0); /* again: nothing new */
        assert_int_equal(ops->user_set_disabled(f->store, uid1, true), 0);
        assert_int_equal(ops->session_revoke_user(f->store, uid1, T0 + 30, "disable", NULL), 0);
        assert_int_equal(ops->user_set_disabled(f->store, uid1, false), 0);
        assert_int_equal(ops->password_set(f->store, uid2, "$argon2id$new"), 0);
        struct stitch_apikey k = make_key(1, 2, "feed");
        assert_int_equal(ops->apikey_create(f->store, &k), 0);
        assert_int_equal(ops->apikey_set_disabled(f->store, k.id, true), 0);
        assert_int_equal(ops->apikey_set_disabled(f->store, k.id, false), 0);
        assert_int_equal(ops->apikey_delete(f->store, k.id), 0);
        assert_int_equal(ops->key_rotate(f->store, &key), 0);
        assert_int_equal(ops->user_delete(f->store, uid1), 0);

        /* A failed op writes none. */
        assert_int_equal(ops->user_set_disabled(f->store, "000000000000000000000000", true), -ENOENT);
        assert_int_equal(ops->apikey_delete(f->store, k.id), -ENOENT);

        feed_read(f->store, 0, &fd);
        assert_int_equal(fd.n, 11);
        assert_event(fd.a[0], STITCH_STORE_EVENT_SESSION_ENDED, sid1);
        assert_int_equal(fd.a[0]->time, T0 + 20);
        assert_non_null(fd.a[0]->data_json);
        assert_non_null(strstr(fd.a[0]->data_json, "\"access_expires\":1700000150"));
        assert_non_null(strstr(fd.a[0]->data_json, "\"reason\":\"logout\""));
        assert_event(fd.a[1], STITCH_STORE_EVENT_USER_DISABLED, uid1);
        assert_event(fd.a[2], STITCH_STORE_EVENT_SESSION_ENDED, sid2); /* sid1 was no longer live */
        assert_non_null(strstr(fd.a[2]->data_json, "\"access_expires\":1700000200"));
        assert_non_null(strstr(fd.a[2]->data_json, "\"reason\":\"disable\""));
        assert_event(fd.a[3], STITCH_STORE_EVENT_USER_ENABLED, uid1);
        assert_event(fd.a[4], STITCH_STORE_EVENT_USER_PASSWORD, uid2);
        assert_event(fd.a[5], STITCH_STORE_EVENT_APIKEY_CREATED, k.id);
        assert_non_null(strstr(fd.a[5]->data_json, uid2));
        assert_event(fd.a[6], STITCH_STORE_EVENT_APIKEY_DISABLED, k.id);
        assert_event(fd.a[7], STITCH_STORE_EVENT_APIKEY_ENABLED, k.id);
        assert_event(fd.a[8], STITCH_STORE_EVENT_APIKEY_DELETED, k.id);
        assert_event(fd.a[9], STITCH_STORE_EVENT_KEY_ROTATED, "kid-events");
        assert_event(fd.a[10], STITCH_STORE_EVENT_USER_DELETED, uid1);
        assert_null(fd.a[10]->data_json);
        assert_int_equal(last_event_id(f->store), fd.a[10]->id);
        int64_t mid = fd.a[4]->id;

        /* since() is strict, ordered, and honours its limit. */
        feed_done(&fd);
        assert_int_equal(ops->events_since(f->store, mid, 3, &fd.a, &fd.n), 0);
        assert_int_equal(fd.n, 3);
        assert_event(fd.a[0], STITCH_STORE_EVENT_APIKEY_CREATED, k.id);
        feed_done(&fd);
        feed_read(f->store, INT64_MAX, &fd);
        assert_int_equal(fd.n, 0);
        assert_int_equal(ops->events_since(f->store, 0, 0, &fd.a, &fd.n), -EINVAL);

        feed_done(&fd);
}

/* An event and its change are one: a transaction rolled back leaves
 * neither, a committed one both; a failed op inside leaves no event. The
 * feed outside sees nothing until the commit. */
static void test_events_atomic(void **state) {
        struct fixture *f = *state;
        struct stitch_store *tx = NULL;
        struct feed fd = {};
        char uid[STITCH_ID_LEN + 1], sid[STITCH_ID_LEN + 1];
        char **revoked = NULL;

        assert_int_equal(create_user(f->store, 1, "local-userpass", "a1@example.com", NULL, T0, 0), 0);
        assert_int_equal(create_session(f->store, 1, 1, T0, T0 + 1000, T0 + 100), 0);
        user_id(uid, 1);
        session_id(sid, 1);

        for (int commit = 0; commit <= 1; commit++) {
                assert_int_equal(ops->begin(f->store, &tx), 0);
                assert_int_equal(ops->session_revoke_user(tx, uid, T0 + 5, "disable", &revoked), 0);
                assert_int_equal(stitch_strv_length(revoked), 1);
                revoked = stitch_strv_free(revoked);
                assert_int_equal(ops->user_set_disabled(tx, uid, true), 0);
                assert_int_equal(ops->user_set_disabled(tx, "000000000000000000000000", true), -ENOENT);
                feed_read(tx, 0, &fd);
                assert_int_equal(fd.n, 2); /* inside: its own */
                feed_read(f->store, 0, &fd);
                assert_int_equal(fd.n, 0); /* outside: not yet */
                if (commit)
                        assert_int_equal(ops->commit(tx), 0);
                else
                        ops->rollback(tx);
                feed_read(f->store, 0, &fd);
                assert_int_equal(fd.n, commit ? 2 : 0);
        }
        assert_event(fd.a[0], STITCH_STORE_EVENT_SESSION_ENDED, sid);
        assert_event(fd.a[1], STITCH_STORE_EVENT_USER_DISABLED, uid);

        /* Pruned events leave their ids used: the next one is newer. */
        int64_t last = last_event_id(f->store);
        size_t n = 0;
        assert_int_equal(ops->events_prune(f->store, (int64_t) time(NULL) - 3600, &n), 0);
        assert_int_equal(n, 1); /* the session's, at T0; the user's is from now */
        assert_int_equal(ops->events_prune(f->store, INT64_MAX, &n), 0);
        assert_int_equal(n, 1);
        feed_read(f->store, 0, &fd);
        assert_int_equal(fd.n, 0);
        assert_int_equal(last_event_id(f->store), last);
        assert_int_equal(ops->user_set_disabled(f->store, uid, false), 0);
        feed_read(f->store, 0, &fd);
        assert_int_equal(fd.n, 1);
        assert_true(fd.a[0]->id > last);
        feed_done(&fd);
}

/* Schema 6 -> 7 on a database the previous stitchd made (a dump of it):
 * the rows stay, the feed starts empty and works. */
static void test_migration_events(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *sql = NULL;
        struct stitch_user *u = NULL;
        struct stitch_session *se = NULL;
        struct stitch_apikey *k = NULL;
        struct feed fd = {};
        sqlite3 *db = NULL;
        char path[1024];
        int version = 0;
        SQLITE_ONLY();

        ops->close(f->store);
        f->store = NULL;
        (void) nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        assert_int_equal(mkdir(f->dir, 0700), 0);

        snprintf(path, sizeof(path), "%s/store-schema-6.sql", STITCH_TEST_FIXTURES);
        FILE *in = fopen(path, "re");
        assert_non_null(in);
        size_t len = 0;
        assert_int_equal(getdelim(&sql, &len, '\0', in) > 0, 1);
        fclose(in);
        assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        assert_int_equal(chmod(f->path, 0600), 0);

        assert_int_equal(stitch_store_open(f->spec, &ops, &f->store), 0);
        assert_int_equal(ops->schema_version(f->store, &version), 0);
        assert_int_equal(version, 9);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_EMAIL, "old@example.com", &u), 0);
        assert_int_equal(u->n_identities, 1);
        assert_int_equal(ops->session_get(f->store, "000000020000000000000001", &se), 0);
        assert_string_equal(se->user_id, u->id);
        assert_int_equal(ops->apikey_get(f->store, "000000040000000000000001", &k), 0);
        assert_string_equal(k->name, "old-key");
        assert_int_equal(last_event_id(f->store), 0);

        assert_int_equal(ops->session_revoke_user(f->store, u->id, T0 + 1, "revoke", NULL), 0);
        feed_read(f->store, 0, &fd);
        assert_int_equal(fd.n, 1);
        assert_event(fd.a[0], STITCH_STORE_EVENT_SESSION_ENDED, "000000020000000000000001");
        assert_non_null(strstr(fd.a[0]->data_json, "\"access_expires\":1700001800"));

        _cleanup_(stitch_strv_freep) char **problems = NULL;
        assert_int_equal(ops->integrity_check(f->store, &problems), 0);
        assert_int_equal(stitch_strv_length(problems), 0);
        feed_done(&fd);
        stitch_user_free(u);
        stitch_session_free(se);
        stitch_apikey_free(k);
}

static void test_event_kinds(void **state) {
        (void) state;
        for (int k = 0; k < _STITCH_STORE_EVENT_KIND_MAX; k++) {
                const char *name = stitch_store_event_kind_to_string(k);
                assert_non_null(name);
                assert_int_equal(stitch_store_event_kind_from_string(name), k);
        }
        assert_null(stitch_store_event_kind_to_string(_STITCH_STORE_EVENT_KIND_MAX));
        assert_null(stitch_store_event_kind_to_string(-1));
        assert_int_equal(stitch_store_event_kind_from_string("session.exploded"), _STITCH_STORE_EVENT_KIND_INVALID);
        assert_int_equal(stitch_store_event_kind_from_string(NULL), _STITCH_STORE_EVENT_KIND_INVALID);
        assert_null(stitch_store_event_free(NULL));
        stitch_store_event_array_free(NULL, 0);
}

/* A row that cannot be read (here: an id longer than any the store writes)
 * fails its look-up or list with -EIO, and a list gives back nothing, the
 * rows read before it included (LeakSanitizer checks they are freed). */
static void test_malformed_rows(void **state) {
        struct fixture *f = *state;
        static const uint8_t secret[] = { 1, 2, 3, 4 };
        struct stitch_signing_key k1 = {
                .kid = "key-1", .alg = (char *) "HS256", .secret = (uint8_t *) secret,
                .secret_len = sizeof(secret), .created = T0,
        };
        struct stitch_signing_key k2 = k1;
        struct stitch_user **users = NULL, *u = NULL;
        struct stitch_apikey **keys = NULL;
        struct stitch_session **sessions = NULL, *se = NULL;
        struct stitch_signing_key **signing_keys = NULL;
        char id[STITCH_ID_LEN + 1], sql[512];
        size_t n = 0;
        sqlite3 *db = NULL;

        SQLITE_ONLY();

        for (unsigned i = 0; i < 3; i++) {
                char name[16];

                assert_int_equal(create_user(f->store, i, "anon-user", NULL, NULL, T0, 0), 0);
                assert_int_equal(create_session(f->store, i, 0, T0 + i, T0 + 1000, T0 + 100), 0);
                snprintf(name, sizeof(name), "key-%u", i);
                struct stitch_apikey k = make_key(i, 0, name);
                assert_int_equal(ops->apikey_create(f->store, &k), 0);
        }
        memcpy(k2.kid, "key-2", sizeof("key-2"));
        k2.created = T0 + 100;
        assert_int_equal(ops->key_rotate(f->store, &k1), 0);
        assert_int_equal(ops->key_rotate(f->store, &k2), 0);

        /* The last row of each list (in its order) goes bad. */
        assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        make_id(id, 2, 2);
        snprintf(sql, sizeof(sql), "UPDATE identities SET id = id || id WHERE id = '%s';", id);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        make_id(id, 3, 2);
        snprintf(sql, sizeof(sql), "UPDATE sessions SET device_id = device_id || device_id WHERE id = '%s';", id);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                                      "UPDATE api_keys SET id = id || id WHERE name = 'key-2';"
                                      "UPDATE signing_keys SET kid = printf('%100d', 1) WHERE kid = 'key-1';",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);

        assert_int_equal(ops->user_list(f->store, NULL, 10, &users, &n), -EIO);
        user_id(id, 2);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, id, &u), -EIO);
        user_id(id, 1);
        assert_int_equal(ops->user_find(f->store, STITCH_USER_BY_ID, id, &u), 0);
        u = stitch_user_free(u);

        user_id(id, 0);
        assert_int_equal(ops->apikey_list(f->store, id, &keys, &n), -EIO);
        assert_int_equal(ops->apikey_list(f->store, NULL, &keys, &n), -EIO);

        assert_int_equal(ops->session_list(f->store, NULL, true, T0, &sessions, &n), -EIO);
        assert_int_equal(ops->session_list(f->store, id, true, T0, &sessions, &n), -EIO);
        session_id(id, 2);
        assert_int_equal(ops->session_get(f->store, id, &se), -EIO);
        session_id(id, 1);
        assert_int_equal(ops->session_get(f->store, id, &se), 0);
        se = stitch_session_free(se);

        assert_int_equal(ops->key_list(f->store, &signing_keys, &n), -EIO);
}

static void test_objects_free_null(void **state) {
        (void) state;
        assert_null(stitch_user_free(NULL));
        assert_null(stitch_apikey_free(NULL));
        assert_null(stitch_session_free(NULL));
        assert_null(stitch_signing_key_free(NULL));
        assert_null(stitch_strv_free(NULL));
        stitch_identity_done(NULL);
        stitch_user_array_free(NULL, 0);
        stitch_apikey_array_free(NULL, 0);
        stitch_session_array_free(NULL, 0);
        stitch_signing_key_array_free(NULL, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_objects_free_null),
                cmocka_unit_test_setup_teardown(test_open_new, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_refusals, setup, teardown),
                cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
                cmocka_unit_test(test_spec_validation),
                cmocka_unit_test(test_spec_describe),
                cmocka_unit_test_setup_teardown(test_spec_prepare, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
                cmocka_unit_test_setup_teardown(test_users, setup, teardown),
                cmocka_unit_test_setup_teardown(test_user_list, setup, teardown),
                cmocka_unit_test_setup_teardown(test_passwords, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apikeys, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_user_find_for_login, setup, teardown),
                cmocka_unit_test_setup_teardown(test_session_find_with_user, setup, teardown),
                cmocka_unit_test_setup_teardown(test_release_memory, setup, teardown),
                cmocka_unit_test_setup_teardown(test_session_refresh_swap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_session_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_revocation_and_prune, setup, teardown),
                cmocka_unit_test_setup_teardown(test_user_disable_delete, setup, teardown),
                cmocka_unit_test_setup_teardown(test_idle_anonymous, setup, teardown),
                cmocka_unit_test_setup_teardown(test_user_merge_and_unlink, setup, teardown),
                cmocka_unit_test_setup_teardown(test_user_merge_guards, setup, teardown),
                cmocka_unit_test_setup_teardown(test_session_revoke_apikey, setup, teardown),
                cmocka_unit_test_setup_teardown(test_migration_apikey_id, setup, teardown),
                cmocka_unit_test_setup_teardown(test_migration_unix_uid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_migration_email_tokens, setup, teardown),
                cmocka_unit_test_setup_teardown(test_migration_live_index, setup, teardown),
                cmocka_unit_test_setup_teardown(test_email_tokens, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unix_uids, setup, teardown),
                cmocka_unit_test_setup_teardown(test_signing_keys, setup, teardown),
                cmocka_unit_test_setup_teardown(test_secure_delete, setup, teardown),
                cmocka_unit_test_setup_teardown(test_concurrency, setup, teardown),
                cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_transaction_handles, setup, teardown),
                cmocka_unit_test(test_event_kinds),
                cmocka_unit_test_setup_teardown(test_events, setup, teardown),
                cmocka_unit_test_setup_teardown(test_events_atomic, setup, teardown),
                cmocka_unit_test_setup_teardown(test_migration_events, setup, teardown),
                cmocka_unit_test_setup_teardown(test_malformed_rows, setup, teardown),
        };

        /* Refusals log errors by design; keep the output to warnings and up. */
        stitch_log_set_max_level(getenv("STITCH_TEST_LOG") ? LOG_DEBUG : LOG_CRIT);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
