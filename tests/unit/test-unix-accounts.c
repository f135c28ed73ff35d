/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Stitch users as Unix accounts (stitchd/core/unix-accounts.c) on a bare
 * core with a temp SQLite store and temp passwd/group files: uid allocation
 * (sequential, skipping 65534/65535 and local ids, wrapping, a full range,
 * stable), collisions with the local files, the records' JSON, the
 * memberships, and an admin's change of a Unix name (the uid stays). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "core/config.h"
#include "core/core.h"
#include "core/ids.h"
#include "core/unix-accounts.h"
#include "core/users.h"
#include "log.h"
#include "macro.h"
#include "strv.h"
#include "validate.h"
#include "wire.h"

struct fixture {
        char dir[256];
        char passwd[300], group[300];
        struct stitch_core *core;
};

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(p);
}

static void write_file(const char *path, const char *text) {
        /* A new inode each time, as vipw and useradd replace the files. */
        char tmp[400];
        snprintf(tmp, sizeof(tmp), "%s.new", path);
        FILE *f = fopen(tmp, "we");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(rename(tmp, path), 0);
}

static const char default_passwd[] =
        "root:x:0:0:root:/root:/bin/bash\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
        "+nis\n"
        "\n"
        "broken:x:notanumber:0::/:/bin/sh\n"
        "local:x:20002:20002::/home/local:/bin/sh\n";
static const char default_group[] =
        "root:x:0:\n"
        "users:x:100:\n"
        "devs:x:20004:alice\n"
        "nogroup:x:65534:\n";

/* A core on a fresh store with [Accounts] from 'accounts' (a config fragment), started. */
static struct fixture *fixture_new(const char *accounts) {
        struct fixture *f = calloc(1, sizeof(*f));
        struct stitch_config c;
        char text[2048];
        const char *tmp = getenv("TMPDIR");

        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "%s/test-unix-accounts-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->passwd, sizeof(f->passwd), "%s/passwd", f->dir);
        snprintf(f->group, sizeof(f->group), "%s/group", f->dir);
        write_file(f->passwd, default_passwd);
        write_file(f->group, default_group);

        int n = snprintf(text, sizeof(text),
                         "[Daemon]\nStore=sqlite:%s/stitch.db\nWorkers=1\n"
                         "[Provider.local-userpass]\nPasswordHash=argon2id:m=64,t=1,p=1\n"
                         "[Accounts]\nUserDB=yes\n%s",
                         f->dir, accounts ?: "");
        assert_true(n > 0 && (size_t) n < sizeof(text));
        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_int_equal(stitch_config_load_buffer(&c, "test", text, strlen(text), stderr), 0);
        assert_int_equal(stitch_core_new(&c, &f->core), 0);
        assert_int_equal(stitch_unix_accounts_set_files(f->core, f->passwd, f->group), 0);
        assert_int_equal(stitch_core_start(f->core), 0);
        return f;
}

static void fixture_free(struct fixture *f) {
        stitch_core_free(f->core);
        (void) nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        free(f);
}

static int setup(void **state) {
        *state = fixture_new("UIDRange=20000-20009\nGroups=users audio\n");
        return 0;
}

static int teardown(void **state) {
        fixture_free(*state);
        return 0;
}

/* A user with (optionally) a unix_name, a name and data. */
static void add_user_full(struct stitch_core *core, const char *unix_name, const char *name, const char *data,
                          char ret_id[static STITCH_ID_LEN + 1]) {
        struct stitch_identity ident = {
                .provider_type = (char *) "local-userpass",
                .provider_id = (char *) "local-userpass",
        };
        struct stitch_user u = {
                .type = (char *) "normal",
                .name = (char *) name,
                .unix_name = (char *) unix_name,
                .data_json = (char *) (data ?: "{}"),
                .creation_date = stitch_now(),
                .identities = &ident,
                .n_identities = 1,
        };

        assert_int_equal(stitch_objectid_new(u.id), 0);
        assert_int_equal(stitch_objectid_new(ident.id), 0);
        assert_int_equal(core->store_ops->user_create(core->store, &u, NULL), 0);
        memcpy(ret_id, u.id, STITCH_ID_LEN + 1);
}

static void add_user(struct stitch_core *core, const char *unix_name, char ret_id[static STITCH_ID_LEN + 1]) {
        add_user_full(core, unix_name, NULL, NULL, ret_id);
}

static int64_t assign(struct stitch_core *core, const char *id) {
        int64_t uid = -1;
        assert_int_equal(stitch_unix_account_assign(core, id, &uid), 1);
        return uid;
}

/* ---- log capture ---------------------------------------------------------------------------- */

static char captured[8192];

static void capture_sink(int priority, int error, const char *file, int line, const char *func, const char *message) {
        (void) priority, (void) error, (void) file, (void) line, (void) func;
        size_t n = strlen(captured);
        snprintf(captured + n, sizeof(captured) - n, "%s\n", message);
}

static void capture_start(void) {
        captured[0] = 0;
        stitch_log_set_sink(capture_sink);
}

static void capture_stop(void) {
        stitch_log_set_sink(NULL);
}

static size_t count_of(const char *haystack, const char *needle) {
        size_t n = 0;
        for (const char *p = strstr(haystack, needle); p; p = strstr(p + 1, needle))
                n++;
        return n;
}

/* ---- allocation ----------------------------------------------------------------------------- */

/* One after the other from the start of the range, around the ids the local files hold;
 * the same uid every time after; users-changed for each new one. */
static void test_allocation_sequential(void **state) {
        struct fixture *f = *state;
        char a[STITCH_ID_LEN + 1], b[STITCH_ID_LEN + 1], c[STITCH_ID_LEN + 1], d[STITCH_ID_LEN + 1],
                none[STITCH_ID_LEN + 1];
        int64_t uid = 0;

        add_user(f->core, "ann", a);
        add_user(f->core, "ben", b);
        add_user(f->core, "cat", c);
        add_user(f->core, "dan", d);
        add_user(f->core, NULL, none);

        uint64_t generation = f->core->users_generation;
        capture_start();
        assert_int_equal(assign(f->core, a), 20000);
        capture_stop();
        assert_non_null(strstr(captured, "Unix account ann"));
        assert_non_null(strstr(captured, "20000"));
        assert_true(f->core->users_generation > generation);
        assert_int_equal(assign(f->core, b), 20001);
        /* 20002 is a uid in passwd, 20004 a gid in group. */
        assert_int_equal(assign(f->core, c), 20003);
        assert_int_equal(assign(f->core, d), 20005);

        /* Stable: no new one, nothing logged, no event. */
        generation = f->core->users_generation;
        for (int i = 0; i < 3; i++) {
                assert_int_equal(stitch_unix_account_assign(f->core, c, &uid), 0);
                assert_int_equal(uid, 20003);
        }
        assert_int_equal(f->core->users_generation, generation);

        assert_int_equal(stitch_unix_account_assign(f->core, none, &uid), -ENODATA);
        assert_int_equal(stitch_unix_account_assign(f->core, "000000000000000000000000", &uid), -ENOENT);

        /* Kept in the store: another core on the same store sees the same. */
        struct stitch_user *u = NULL;
        assert_int_equal(f->core->store_ops->user_find(f->core->store, STITCH_USER_BY_ID, c, &u), 0);
        assert_int_equal(u->unix_uid, 20003);
        stitch_user_free(u);

        /* A uid that is now in passwd stays the account's (it is withheld, not moved). */
        write_file(f->passwd, "cat2:x:20003:20003::/:/bin/sh\n");
        assert_int_equal(stitch_unix_account_assign(f->core, c, &uid), 0);
        assert_int_equal(uid, 20003);
}

/* 65534 and 65535 are never given, nor ids the files hold; a full range is -ENOSPC, logged. */
static void test_skips_and_exhaustion(void **state) {
        struct fixture *f = fixture_new("UIDRange=65532-65537\n");
        char a[STITCH_ID_LEN + 1], b[STITCH_ID_LEN + 1], c[STITCH_ID_LEN + 1];
        int64_t uid = 0;
        (void) state;

        write_file(f->passwd, "old:x:65532:100::/:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n");
        write_file(f->group, "grp:x:65533:\n");
        add_user(f->core, "ann", a);
        add_user(f->core, "ben", b);
        add_user(f->core, "cat", c);
        assert_int_equal(assign(f->core, a), 65536);
        assert_int_equal(assign(f->core, b), 65537);

        capture_start();
        assert_int_equal(stitch_unix_account_assign(f->core, c, &uid), -ENOSPC);
        capture_stop();
        assert_non_null(strstr(captured, "No free uid left in UIDRange=65532-65537"));
        assert_non_null(strstr(captured, "cat"));

        /* Once an id leaves the files, it can be given. */
        write_file(f->group, "");
        assert_int_equal(assign(f->core, c), 65533);
        fixture_free(f);
}

/* Past the top of the range, the lowest free uid from its start. */
static void test_wrap_around(void **state) {
        struct fixture *f = fixture_new("UIDRange=30000-30004\n");
        char top[STITCH_ID_LEN + 1], a[STITCH_ID_LEN + 1], b[STITCH_ID_LEN + 1], c[STITCH_ID_LEN + 1];
        (void) state;

        add_user(f->core, "top", top);
        add_user(f->core, "ann", a);
        add_user(f->core, "ben", b);
        add_user(f->core, "cat", c);
        /* The top is taken (say by another host of a shared store, from an older range). */
        assert_int_equal(f->core->store_ops->user_assign_unix_uid(f->core->store, top, 30004), 0);
        assert_int_equal(f->core->store_ops->user_assign_unix_uid(f->core->store, b, 30001), 0);
        assert_int_equal(assign(f->core, a), 30000);
        assert_int_equal(assign(f->core, c), 30002);
        fixture_free(f);
}

/* A deleted user's uid is not given again. */
static void test_deleted_uid_not_reused(void **state) {
        struct fixture *f = *state;
        char a[STITCH_ID_LEN + 1], b[STITCH_ID_LEN + 1];

        add_user(f->core, "ann", a);
        assert_int_equal(assign(f->core, a), 20000);
        assert_int_equal(f->core->store_ops->user_delete(f->core->store, a), 0);
        add_user(f->core, "ann", b);
        assert_int_equal(assign(f->core, b), 20001);
}

/* At start and in the upkeep, every account without a uid gets one. */
static void test_assign_missing(void **state) {
        struct fixture *f = *state;
        char ids[5][STITCH_ID_LEN + 1], none[STITCH_ID_LEN + 1];
        size_t n = 99;
        const char *names[] = {"u0", "u1", "u2", "u3", "u4"};

        for (size_t i = 0; i < 3; i++)
                add_user(f->core, names[i], ids[i]);
        add_user(f->core, NULL, none);
        assert_int_equal(stitch_unix_accounts_assign_missing(f->core, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(stitch_unix_accounts_assign_missing(f->core, &n), 0);
        assert_int_equal(n, 0);

        for (size_t i = 3; i < 5; i++)
                add_user(f->core, names[i], ids[i]);
        stitch_core_maintain(f->core, stitch_now());
        for (size_t i = 0; i < 5; i++) {
                struct stitch_user *u = NULL;
                assert_int_equal(f->core->store_ops->user_find(f->core->store, STITCH_USER_BY_ID, ids[i], &u), 0);
                assert_true(u->unix_uid >= 20000 && u->unix_uid <= 20009);
                assert_true(u->unix_uid != 20002 && u->unix_uid != 20004);
                stitch_user_free(u);
        }

        /* A restart gives the ones made while the daemon was down. */
        struct stitch_config c;
        char text[1024], late[STITCH_ID_LEN + 1];
        struct stitch_user *u = NULL;
        add_user(f->core, "late", late);
        stitch_core_free(f->core);
        snprintf(text, sizeof(text), "[Daemon]\nStore=sqlite:%s/stitch.db\n"
                 "[Provider.local-userpass]\nPasswordHash=argon2id:m=64,t=1,p=1\n"
                 "[Accounts]\nUserDB=yes\nUIDRange=20000-20009\n", f->dir);
        assert_int_equal(stitch_config_init_defaults(&c), 0);
        assert_int_equal(stitch_config_load_buffer(&c, "test", text, strlen(text), stderr), 0);
        assert_int_equal(stitch_core_new(&c, &f->core), 0);
        assert_int_equal(stitch_unix_accounts_set_files(f->core, f->passwd, f->group), 0);
        assert_int_equal(stitch_core_start(f->core), 0);
        assert_int_equal(f->core->store_ops->user_find(f->core->store, STITCH_USER_BY_ID, late, &u), 0);
        assert_int_equal(u->unix_uid, 20007);
        stitch_user_free(u);
}

/* ---- collisions ----------------------------------------------------------------------------- */

static void test_collisions(void **state) {
        struct fixture *f = *state;
        char a[STITCH_ID_LEN + 1], b[STITCH_ID_LEN + 1];
        struct stitch_user *u = NULL;

        /* Names in either file, uids in passwd, gids in group. */
        assert_true(stitch_unix_account_collides(f->core, "alice", 99999));
        assert_true(stitch_unix_account_collides(f->core, "devs", 99999));
        assert_true(stitch_unix_account_collides(f->core, "broken", 99999));
        assert_true(stitch_unix_account_collides(f->core, "zed", 1000));
        assert_true(stitch_unix_account_collides(f->core, "zed", 20004));
        assert_true(stitch_unix_account_collides(f->core, "zed", 65534));
        assert_false(stitch_unix_account_collides(f->core, "zed", 20005));
        assert_false(stitch_unix_account_collides(f->core, "nis", 20005)); /* "+nis" is no entry */

        /* A file that changes is read again. */
        write_file(f->passwd, "zed:x:5:5::/:/bin/sh\n");
        assert_true(stitch_unix_account_collides(f->core, "zed", 20005));
        assert_false(stitch_unix_account_collides(f->core, "alice", 20005));
        write_file(f->passwd, default_passwd);
        assert_true(stitch_unix_account_collides(f->core, "alice", 99999));
        /* A missing file is an empty one. */
        assert_int_equal(unlink(f->group), 0);
        assert_false(stitch_unix_account_collides(f->core, "devs", 99999));
        write_file(f->group, default_group);

        /* A stitch account named like a local one is withheld, by name and by uid, logged once. */
        add_user(f->core, "alice", a);
        add_user(f->core, "bob", b);
        int64_t uid_a = assign(f->core, a), uid_b = assign(f->core, b);
        capture_start();
        assert_int_equal(stitch_unix_account_find_by_name(f->core, "alice", &u), -ENOENT);
        assert_int_equal(stitch_unix_account_find_by_uid(f->core, uid_a, &u), -ENOENT);
        cJSON *j = NULL;
        assert_int_equal(stitch_unix_account_user_by_name(f->core, "alice", &j), -ENOENT);
        assert_int_equal(stitch_unix_account_group_by_gid(f->core, uid_a, &j), -ENOENT);
        capture_stop();
        assert_int_equal(count_of(captured, "Unix account alice"), 1);
        assert_null(u);
        assert_null(j);

        assert_int_equal(stitch_unix_account_find_by_name(f->core, "bob", &u), 0);
        assert_int_equal(u->unix_uid, uid_b);
        u = stitch_user_free(u);
        /* ...until bob's uid turns up in group. */
        char text[256];
        snprintf(text, sizeof(text), "%sclash:x:%lld:\n", default_group, (long long) uid_b);
        write_file(f->group, text);
        assert_int_equal(stitch_unix_account_find_by_uid(f->core, uid_b, &u), -ENOENT);

        /* Names no account can have, and uids out of any range. */
        assert_int_equal(stitch_unix_account_find_by_name(f->core, "Bad Name", &u), -EINVAL);
        assert_int_equal(stitch_unix_account_find_by_name(f->core, "nobody2", &u), -ENOENT);
        assert_int_equal(stitch_unix_account_find_by_uid(f->core, 0, &u), -ENOENT);
        assert_int_equal(stitch_unix_account_find_by_uid(f->core, -1, &u), -ENOENT);
        assert_int_equal(stitch_unix_account_find_by_uid(f->core, INT64_C(1) << 40, &u), -ENOENT);
}

/* ---- records -------------------------------------------------------------------------------- */

static const char *json_string(const cJSON *j, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
        assert_true(cJSON_IsString(v));
        return v->valuestring;
}

static double json_number(const cJSON *j, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
        assert_true(cJSON_IsNumber(v));
        return v->valuedouble;
}

static void test_records(void **state) {
        struct fixture *f = *state;
        char a[STITCH_ID_LEN + 1], b[STITCH_ID_LEN + 1], c[STITCH_ID_LEN + 1];
        cJSON *j = NULL;

        add_user_full(f->core, "ann", "Ann Example", NULL, a);
        add_user_full(f->core, "ben", "Ben: the second", NULL, b); /* ':' is no GECOS */
        add_user_full(f->core, "cat", NULL, NULL, c);
        int64_t uid = assign(f->core, a);
        int64_t uid_b = assign(f->core, b);
        assert_int_equal(assign(f->core, c), uid_b + 2); /* 20002 is a uid in passwd */

        assert_int_equal(stitch_unix_account_user_by_name(f->core, "ann", &j), 0);
        assert_int_equal(cJSON_GetArraySize(j), 9);
        assert_string_equal(json_string(j, "userName"), "ann");
        assert_int_equal((int64_t) json_number(j, "uid"), uid);
        assert_int_equal((int64_t) json_number(j, "gid"), uid);
        assert_string_equal(json_string(j, "realName"), "Ann Example");
        assert_string_equal(json_string(j, "homeDirectory"), "/home/ann");
        assert_string_equal(json_string(j, "shell"), "/bin/bash");
        assert_string_equal(json_string(j, "disposition"), "regular");
        assert_string_equal(json_string(j, "service"), "io.stitch.UserDatabase");
        assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "locked")));
        cJSON_Delete(j);

        assert_int_equal(stitch_unix_account_user_by_uid(f->core, uid_b, &j), 0);
        assert_string_equal(json_string(j, "userName"), "ben");
        assert_string_equal(json_string(j, "realName"), "ben");
        cJSON_Delete(j);
        assert_int_equal(stitch_unix_account_user_by_name(f->core, "cat", &j), 0);
        assert_string_equal(json_string(j, "realName"), "cat");
        cJSON_Delete(j);

        /* The user-private group. */
        assert_int_equal(stitch_unix_account_group_by_name(f->core, "ann", &j), 0);
        assert_int_equal(cJSON_GetArraySize(j), 3);
        assert_string_equal(json_string(j, "groupName"), "ann");
        assert_int_equal((int64_t) json_number(j, "gid"), uid);
        assert_string_equal(json_string(j, "service"), STITCH_USERDB_SERVICE);
        cJSON_Delete(j);
        assert_int_equal(stitch_unix_account_group_by_gid(f->core, uid, &j), 0);
        assert_string_equal(json_string(j, "groupName"), "ann");
        cJSON_Delete(j);
        j = NULL;
        assert_int_equal(stitch_unix_account_group_by_gid(f->core, 20009, &j), -ENOENT);
        assert_int_equal(stitch_unix_account_group_by_name(f->core, "users", &j), -ENOENT);
        assert_null(j);

        /* A disabled stitch user is a locked account (still there: its files keep a name). */
        assert_int_equal(f->core->store_ops->user_set_disabled(f->core->store, a, true), 0);
        assert_int_equal(stitch_unix_account_user_by_uid(f->core, uid, &j), 0);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "locked")));
        cJSON_Delete(j);

        /* A user without a uid yet, or without a unix_name, is no record. */
        struct stitch_user bare = {.unix_name = (char *) "x"};
        assert_int_equal(stitch_unix_account_user_record(f->core, &bare, &j), -EINVAL);
        bare = (struct stitch_user) {.unix_uid = 20000};
        assert_int_equal(stitch_unix_account_group_record(f->core, &bare, &j), -EINVAL);
        char d[STITCH_ID_LEN + 1];
        add_user(f->core, "dan", d);
        assert_int_equal(stitch_unix_account_user_by_name(f->core, "dan", &j), -ENOENT);
}

/* HomeBase= and Shell= as configured; HomeBase=/ makes no "//". */
static void test_records_paths(void **state) {
        struct fixture *f = fixture_new("HomeBase=/\nShell=/usr/bin/zsh\n");
        char a[STITCH_ID_LEN + 1];
        cJSON *j = NULL;
        (void) state;

        add_user(f->core, "ann", a);
        assert_int_equal(assign(f->core, a), 20000);
        assert_int_equal(stitch_unix_account_user_by_name(f->core, "ann", &j), 0);
        assert_string_equal(json_string(j, "homeDirectory"), "/ann");
        assert_string_equal(json_string(j, "shell"), "/usr/bin/zsh");
        cJSON_Delete(j);
        fixture_free(f);
}

/* ---- memberships and enumeration ------------------------------------------------------------ */

static void assert_strv_is(char **l, const char *const *expected, size_t n) {
        assert_int_equal(stitch_strv_length(l), n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(l[i], expected[i]);
}

static void test_memberships(void **state) {
        struct fixture *f = *state;
        char a[STITCH_ID_LEN + 1], b[STITCH_ID_LEN + 1], c[STITCH_ID_LEN + 1];
        struct stitch_user *u = NULL;
        char **l = NULL;

        add_user_full(f->core, "ann", NULL,
                      "{\"groups\":[\"dev\",\"Bad Name\",\"dev\",5,\"ops\",\"users\",\"ann\",\"x:y\"]}", a);
        add_user_full(f->core, "ben", NULL, "{\"groups\":\"dev\"}", b);
        add_user_full(f->core, "cat", NULL, "{\"groups\":[\"ops\"]}", c);
        assign(f->core, a);
        assign(f->core, b);
        assign(f->core, c);

        /* Groups= first, then the valid names of the data, each once, not its own group. */
        assert_int_equal(stitch_unix_account_find_by_name(f->core, "ann", &u), 0);
        assert_int_equal(stitch_unix_account_groups(f->core, u, &l), 0);
        assert_strv_is(l, (const char *[]) {"users", "audio", "dev", "ops"}, 4);
        l = stitch_strv_free(l);
        u = stitch_user_free(u);
        assert_int_equal(stitch_unix_account_find_by_name(f->core, "ben", &u), 0);
        assert_int_equal(stitch_unix_account_groups(f->core, u, &l), 0);
        assert_strv_is(l, (const char *[]) {"users", "audio"}, 2);
        l = stitch_strv_free(l);
        u = stitch_user_free(u);

        /* Members: every account for a group of Groups=, else those whose data names it. */
        assert_int_equal(stitch_unix_account_members(f->core, "users", &l), 0);
        assert_strv_is(l, (const char *[]) {"ann", "ben", "cat"}, 3);
        l = stitch_strv_free(l);
        assert_int_equal(stitch_unix_account_members(f->core, "ops", &l), 0);
        assert_strv_is(l, (const char *[]) {"ann", "cat"}, 2);
        l = stitch_strv_free(l);
        assert_int_equal(stitch_unix_account_members(f->core, "dev", &l), 0);
        assert_strv_is(l, (const char *[]) {"ann"}, 1);
        l = stitch_strv_free(l);
        assert_int_equal(stitch_unix_account_members(f->core, "ann", &l), 0);
        assert_strv_is(l, NULL, 0);
        l = stitch_strv_free(l);
        assert_int_equal(stitch_unix_account_members(f->core, "nope", &l), 0);
        assert_strv_is(l, NULL, 0);
        l = stitch_strv_free(l);
        assert_int_equal(stitch_unix_account_members(f->core, "Bad Name", &l), -EINVAL);

        /* An account that clashes is nobody's member. */
        write_file(f->passwd, "cat:x:1:1::/:/bin/sh\n");
        assert_int_equal(stitch_unix_account_members(f->core, "ops", &l), 0);
        assert_strv_is(l, (const char *[]) {"ann"}, 1);
        l = stitch_strv_free(l);
}

static void test_enumeration(void **state) {
        struct fixture *f = *state;
        const char *names[] = {"u0", "u1", "u2", "u3", "u4"};
        char id[STITCH_ID_LEN + 1];
        struct stitch_user **a = NULL;
        size_t n = 0, total = 0;
        int64_t cursor = 0, next = 0;

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                add_user(f->core, names[i], id);
                assign(f->core, id);
        }
        add_user(f->core, "nouid", id);
        write_file(f->passwd, "u3:x:1:1::/:/bin/sh\n"); /* withheld */

        for (;;) {
                assert_int_equal(stitch_unix_accounts_list(f->core, cursor, 2, &a, &n, &next), 0);
                for (size_t i = 0; i < n; i++) {
                        assert_true(a[i]->unix_uid > cursor);
                        assert_string_not_equal(a[i]->unix_name, "u3");
                        total++;
                }
                stitch_user_array_free(a, n);
                if (next == cursor)
                        break;
                cursor = next;
        }
        assert_int_equal(total, 4);
}

/* ---- renames (core/users.c stitch_user_set_names) --------------------------------------------- */

static int64_t record_uid(const cJSON *rec, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);
        assert_true(cJSON_IsNumber(v));
        return (int64_t) v->valuedouble;
}

static void set_unix_name(struct stitch_core *core, const char *id, const char *unix_name, int expected) {
        const struct stitch_user_names n = {.set_unix_name = true, .unix_name = unix_name};
        char **revoked = NULL;
        assert_int_equal(stitch_user_set_names(core, id, &n, NULL, &revoked), expected);
        stitch_strv_free(revoked);
}

/* The uid stays with the user: served under the new name, the old one resolves no more; no
 * name, no account (the uid kept for a later name); a first name gets a uid at once. */
static void test_rename(void **state) {
        struct fixture *f = *state;
        char a[STITCH_ID_LEN + 1], b[STITCH_ID_LEN + 1], none[STITCH_ID_LEN + 1];
        cJSON *rec = NULL;

        add_user(f->core, "ann", a);
        add_user(f->core, "ben", b);
        add_user_full(f->core, NULL, NULL, "{\"email\":\"c@example.com\",\"picture\":\"p\"}", none);
        assert_int_equal(assign(f->core, a), 20000);
        assert_int_equal(assign(f->core, b), 20001);

        uint64_t generation = f->core->users_generation;
        set_unix_name(f->core, a, "anna", 0);
        assert_true(f->core->users_generation > generation);
        assert_int_equal(stitch_unix_account_user_by_name(f->core, "ann", &rec), -ENOENT);
        assert_int_equal(stitch_unix_account_user_by_name(f->core, "anna", &rec), 0);
        assert_int_equal(record_uid(rec, "uid"), 20000);
        cJSON_Delete(rec);
        assert_int_equal(stitch_unix_account_user_by_uid(f->core, 20000, &rec), 0);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(rec, "userName")->valuestring, "anna");
        cJSON_Delete(rec);
        assert_int_equal(stitch_unix_account_group_by_name(f->core, "anna", &rec), 0);
        assert_int_equal(record_uid(rec, "gid"), 20000);
        cJSON_Delete(rec);
        assert_int_equal(stitch_unix_account_group_by_name(f->core, "ann", &rec), -ENOENT);

        /* Refused: another user's name, an invalid one, no such user; nothing changes. */
        set_unix_name(f->core, a, "ben", -EEXIST);
        set_unix_name(f->core, a, "Anna", -EINVAL);
        set_unix_name(f->core, a, "an:na", -EINVAL);
        set_unix_name(f->core, "000000000000000000000000", "zed", -ENOENT);
        assert_int_equal(stitch_unix_account_user_by_name(f->core, "anna", &rec), 0);
        cJSON_Delete(rec);

        /* Removed: neither by name nor by uid; the uid stays the user's for a later name. */
        set_unix_name(f->core, a, NULL, 0);
        assert_int_equal(stitch_unix_account_user_by_uid(f->core, 20000, &rec), -ENOENT);
        assert_int_equal(stitch_unix_account_user_by_name(f->core, "anna", &rec), -ENOENT);
        set_unix_name(f->core, a, "ann2", 0);
        int64_t uid = 0;
        assert_int_equal(stitch_unix_account_assign(f->core, a, &uid), 0);
        assert_int_equal(uid, 20000);

        /* A first name: an account at once, with the next uid. */
        set_unix_name(f->core, none, "cid", 0);
        assert_int_equal(stitch_unix_account_user_by_name(f->core, "cid", &rec), 0);
        assert_int_equal(record_uid(rec, "uid"), 20003); /* 20002 is in passwd */
        cJSON_Delete(rec);

        /* A local account's name is stored (as a created user's is) but never served. */
        set_unix_name(f->core, none, "alice", 0);
        assert_int_equal(stitch_unix_account_user_by_name(f->core, "alice", &rec), -ENOENT);
        assert_int_equal(stitch_unix_account_user_by_uid(f->core, 20003, &rec), -ENOENT);

        /* The display name: user.name and data.name; the rest of data stays. */
        struct stitch_user *u = NULL;
        const struct stitch_user_names named = {.set_name = true, .name = "Cid"};
        char **revoked = NULL;
        assert_int_equal(stitch_user_set_names(f->core, none, &named, NULL, &revoked), 0);
        assert_null(revoked[0]);
        stitch_strv_free(revoked);
        assert_int_equal(f->core->store_ops->user_find(f->core->store, STITCH_USER_BY_ID, none, &u), 0);
        assert_string_equal(u->name, "Cid");
        assert_string_equal(u->unix_name, "alice");
        cJSON *d = cJSON_Parse(u->data_json);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(d, "name")->valuestring, "Cid");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(d, "email")->valuestring, "c@example.com");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(d, "picture")->valuestring, "p");
        cJSON_Delete(d);
        stitch_user_free(u);
        const struct stitch_user_names unnamed = {.set_name = true, .name = NULL};
        assert_int_equal(stitch_user_set_names(f->core, none, &unnamed, NULL, &revoked), 0);
        stitch_strv_free(revoked);
        assert_int_equal(f->core->store_ops->user_find(f->core->store, STITCH_USER_BY_ID, none, &u), 0);
        assert_null(u->name);
        d = cJSON_Parse(u->data_json);
        assert_null(cJSON_GetObjectItemCaseSensitive(d, "name"));
        assert_non_null(cJSON_GetObjectItemCaseSensitive(d, "email"));
        cJSON_Delete(d);
        stitch_user_free(u);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_allocation_sequential, setup, teardown),
                cmocka_unit_test(test_skips_and_exhaustion),
                cmocka_unit_test(test_wrap_around),
                cmocka_unit_test_setup_teardown(test_deleted_uid_not_reused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_assign_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_collisions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_records, setup, teardown),
                cmocka_unit_test(test_records_paths),
                cmocka_unit_test_setup_teardown(test_memberships, setup, teardown),
                cmocka_unit_test_setup_teardown(test_enumeration, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
        };
        stitch_log_set_max_level(LOG_INFO);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
