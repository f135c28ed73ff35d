/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "file-stamp.h"
#include "core/core.h"
#include "core/events.h"
#include "core/unix-accounts.h"
#include "log.h"
#include "macro.h"
#include "strv.h"
#include "validate.h"
#include "wire.h"

/* Never handed out: nobody (65534) and the 16-bit (uid_t) -1 (65535). */
#define UID_NOBODY 65534
#define UID_INVALID16 65535
/* Users a collision was logged for, until the files change. */
#define LOGGED_MAX 1024
#define LIST_PAGE 256

/* ---- /etc/passwd and /etc/group, as files --------------------------------------------------- */

/* What stat says of a file; any difference means it changed (an edit in place moves mtime, a
 * replacing rename the inode). */
/* The names (field 1) and ids (field 3) of one file, each sorted for bsearch. */
struct id_file {
        char *path;
        struct stitch_file_stamp stamp;
        bool loaded;
        int error; /* of the last read; 0 = the tables are the file's */
        char **names;
        size_t n_names;
        uint32_t *ids;
        size_t n_ids;
};

enum { FILE_PASSWD, FILE_GROUP, _FILE_MAX };

struct stitch_unix_files {
        pthread_mutex_t lock;
        struct id_file files[_FILE_MAX];
        char **logged; /* user ids whose collision was logged since the last change */
        size_t n_logged;
};

static void id_file_clear(struct id_file *f) {
        for (size_t i = 0; i < f->n_names; i++)
                free(f->names[i]);
        free(f->names);
        free(f->ids);
        f->names = NULL;
        f->ids = NULL;
        f->n_names = f->n_ids = 0;
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int compare_ids(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

/* "name:password:ID:..." -> name and ID; false for lines that are not entries (NIS "+"/"-"
 * lines, comments, blank lines). An entry whose ID is not a number keeps its name. */
static bool parse_entry(char *line, char **ret_name, bool *ret_has_id, uint32_t *ret_id) {
        char *fields[3];
        size_t n = 0;

        line[strcspn(line, "\r\n")] = 0;
        if (!*line || strchr("+-#", *line))
                return false;
        for (char *s = line; n < ELEMENTSOF(fields);) {
                fields[n++] = s;
                s = strchr(s, ':');
                if (!s)
                        break;
                *s++ = 0;
        }
        if (n < 1 || !*fields[0])
                return false;
        *ret_name = fields[0];
        *ret_has_id = false;
        if (n == 3) {
                char *end = fields[2] + strcspn(fields[2], ":");
                *end = 0;
                uint64_t v = 0;
                bool ok = *fields[2] != 0;
                for (const char *c = fields[2]; ok && *c; c++) {
                        ok = *c >= '0' && *c <= '9' && v <= UINT32_MAX / 10;
                        v = v * 10 + (uint64_t) (*c - '0');
                }
                if (ok && v <= UINT32_MAX) {
                        *ret_has_id = true;
                        *ret_id = (uint32_t) v;
                }
        }
        return true;
}

static int grow(void **array, size_t *allocated, size_t need, size_t size) {
        if (need <= *allocated)
                return 0;
        size_t n = MAX(need, MAX(*allocated * 2, (size_t) 64));
        if (n > SIZE_MAX / size)
                return -ENOMEM;
        void *p = realloc(*array, n * size);
        if (!p)
                return -ENOMEM;
        *array = p;
        *allocated = n;
        return 0;
}

/* Parses f->path into f's tables. A missing file is an empty one. */
static int id_file_read(struct id_file *f) {
        _cleanup_free_ char *line = NULL;
        size_t line_size = 0, names_allocated = 0, ids_allocated = 0;
        FILE *in;
        int r = 0;

        id_file_clear(f);
        in = fopen(f->path, "re");
        if (!in)
                return errno == ENOENT ? 0 : -errno;
        for (;;) {
                errno = 0;
                ssize_t k = getline(&line, &line_size, in);
                if (k < 0) {
                        r = errno != 0 ? -errno : 0;
                        break;
                }
                char *name;
                bool has_id;
                uint32_t id = 0;
                if (!parse_entry(line, &name, &has_id, &id))
                        continue;
                r = grow((void **) &f->names, &names_allocated, f->n_names + 1, sizeof(char *));
                if (r < 0)
                        break;
                f->names[f->n_names] = strdup(name);
                if (!f->names[f->n_names]) {
                        r = -ENOMEM;
                        break;
                }
                f->n_names++;
                if (has_id) {
                        r = grow((void **) &f->ids, &ids_allocated, f->n_ids + 1, sizeof(uint32_t));
                        if (r < 0)
                                break;
                        f->ids[f->n_ids++] = id;
                }
        }
        fclose(in);
        if (r < 0) {
                id_file_clear(f);
                return r;
        }
        if (f->n_names > 0)
                qsort(f->names, f->n_names, sizeof(char *), compare_names);
        if (f->n_ids > 0)
                qsort(f->ids, f->n_ids, sizeof(uint32_t), compare_ids);
        return 0;
}

static void logged_clear(struct stitch_unix_files *u) {
        for (size_t i = 0; i < u->n_logged; i++)
                free(u->logged[i]);
        u->n_logged = 0;
        if (u->logged)
                u->logged[0] = NULL; /* still a (now empty) strv */
}

/* Under the lock: re-reads a file whose stat changed. Returns the first file's error, if any. */
static int files_refresh(struct stitch_unix_files *u) {
        int r = 0;

        for (size_t i = 0; i < _FILE_MAX; i++) {
                struct id_file *f = &u->files[i];
                struct stitch_file_stamp now;

                stitch_file_stamp_get(f->path, &now);
                if (f->loaded && f->error == 0 && stitch_file_stamp_equal(&now, &f->stamp))
                        continue;
                f->stamp = now;
                f->loaded = true;
                f->error = id_file_read(f);
                if (f->error < 0)
                        log_warning_errno(f->error, "Cannot read %s: %m", f->path);
                else
                        log_debug("Read %s: %zu names, %zu ids.", f->path, f->n_names, f->n_ids);
                logged_clear(u); /* a collision may be gone, or new */
                if (f->error < 0 && r == 0)
                        r = f->error;
        }
        return r;
}

static bool has_name(const struct id_file *f, const char *name) {
        return f->n_names > 0 && bsearch(&name, f->names, f->n_names, sizeof(char *), compare_names);
}

static bool has_id(const struct id_file *f, int64_t id) {
        if (id < 0 || id > UINT32_MAX)
                return false;
        uint32_t key = (uint32_t) id;
        return f->n_ids > 0 && bsearch(&key, f->ids, f->n_ids, sizeof(uint32_t), compare_ids);
}

/* 1 if the name (may be NULL) or the id (< 0: none) is in the files, 0 if not, -errno if a
 * file cannot be read. */
static int files_lookup(struct stitch_unix_files *u, const char *name, int64_t id) {
        pthread_mutex_lock(&u->lock);
        int r = files_refresh(u);
        if (r >= 0) {
                const struct id_file *p = &u->files[FILE_PASSWD], *g = &u->files[FILE_GROUP];
                r = (name && (has_name(p, name) || has_name(g, name))) || (id >= 0 && (has_id(p, id) || has_id(g, id)));
        }
        pthread_mutex_unlock(&u->lock);
        return r;
}

/* True the first time since the files changed that user_id's collision is to be logged. */
static bool files_first_report(struct stitch_unix_files *u, const char *user_id) {
        bool first = false;

        pthread_mutex_lock(&u->lock);
        if (!stitch_strv_contains(u->logged, user_id) && u->n_logged < LOGGED_MAX) {
                char **l = realloc(u->logged, (u->n_logged + 2) * sizeof(char *));
                if (l) {
                        u->logged = l;
                        l[u->n_logged] = strdup(user_id);
                        if (l[u->n_logged])
                                u->n_logged++;
                        l[u->n_logged] = NULL;
                }
                first = true;
        }
        pthread_mutex_unlock(&u->lock);
        return first;
}

int stitch_unix_files_new(const char *passwd_path, const char *group_path, struct stitch_unix_files **ret) {
        struct stitch_unix_files *u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        pthread_mutex_init(&u->lock, NULL);
        u->files[FILE_PASSWD].path = strdup(passwd_path ?: STITCH_UNIX_PASSWD);
        u->files[FILE_GROUP].path = strdup(group_path ?: STITCH_UNIX_GROUP);
        if (!u->files[FILE_PASSWD].path || !u->files[FILE_GROUP].path) {
                stitch_unix_files_free(u);
                return -ENOMEM;
        }
        *ret = u;
        return 0;
}

struct stitch_unix_files *stitch_unix_files_free(struct stitch_unix_files *u) {
        if (!u)
                return NULL;
        for (size_t i = 0; i < _FILE_MAX; i++) {
                id_file_clear(&u->files[i]);
                free(u->files[i].path);
        }
        logged_clear(u);
        free(u->logged);
        pthread_mutex_destroy(&u->lock);
        free(u);
        return NULL;
}

int stitch_unix_accounts_set_files(struct stitch_core *core, const char *passwd_path, const char *group_path) {
        struct stitch_unix_files *u = NULL;
        int r = stitch_unix_files_new(passwd_path, group_path, &u);
        if (r < 0)
                return r;
        stitch_unix_files_free(core->unix_files);
        core->unix_files = u;
        return 0;
}

bool stitch_unix_account_collides(struct stitch_core *core, const char *name, int64_t uid) {
        assert(core && core->unix_files);
        return files_lookup(core->unix_files, name, uid) != 0; /* unreadable files: withhold */
}

/* ---- allocation ----------------------------------------------------------------------------- */

/* 1 if the store's candidate c must not be used here, 0 if it may, -errno. */
static int uid_excluded(struct stitch_core *core, int64_t c) {
        if (c == UID_NOBODY || c == UID_INVALID16)
                return 1;
        return files_lookup(core->unix_files, NULL, c);
}

/* Tries the free uids of [lo, hi] from the lowest up. 0 assigned (*ret_uid), -ENOENT none fit,
 * -EALREADY the user got one meanwhile, else a store error. */
static int assign_in(struct stitch_core *core, const char *user_id, int64_t lo, int64_t hi, int64_t *ret_uid) {
        for (int64_t from = lo; from <= hi;) {
                int64_t c;
                int r = core->store_ops->unix_uid_next_free(core->store, from, hi, &c);
                if (r < 0)
                        return r;
                r = uid_excluded(core, c);
                if (r < 0)
                        return r;
                if (r == 0) {
                        r = core->store_ops->user_assign_unix_uid(core->store, user_id, c);
                        if (r >= 0) {
                                *ret_uid = c;
                                return 0;
                        }
                        if (r != -EEXIST) /* -EEXIST: taken meanwhile (another thread or host) */
                                return r;
                }
                from = c + 1;
        }
        return -ENOENT;
}

int stitch_unix_account_assign(struct stitch_core *core, const char *user_id, int64_t *ret_uid) {
        const struct stitch_uid_range *range = &core->config.accounts_uid_range;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        int64_t top = 0, start, uid = 0;
        int r;

        assert(core && user_id && ret_uid);
        r = core->store_ops->user_find(core->store, STITCH_USER_BY_ID, user_id, &u);
        if (r < 0)
                return r;
        if (!u->unix_name)
                return -ENODATA;
        if (u->unix_uid > 0) {
                *ret_uid = u->unix_uid;
                return 0;
        }

        /* The next above the highest ever given; past the top, the lowest free from the start. */
        r = core->store_ops->unix_uid_max(core->store, range->min, range->max, &top);
        if (r == -ENOENT)
                start = range->min;
        else if (r < 0)
                return r;
        else
                start = top >= range->max ? range->min : top + 1;

        r = assign_in(core, user_id, start, range->max, &uid);
        if (r == -ENOENT && start > range->min)
                r = assign_in(core, user_id, range->min, start - 1, &uid);
        if (r == -EALREADY) {
                /* A concurrent assignment won: that uid is the user's. */
                stitch_user_free(TAKE_PTR(u));
                r = core->store_ops->user_find(core->store, STITCH_USER_BY_ID, user_id, &u);
                if (r < 0)
                        return r;
                if (u->unix_uid <= 0)
                        return -EIO;
                *ret_uid = u->unix_uid;
                return 0;
        }
        if (r == -ENOENT)
                return log_error_errno(ENOSPC, "No free uid left in UIDRange=%" PRIu32 "-%" PRIu32
                                               " for Unix account %s (stitch user %s).",
                                       range->min, range->max, u->unix_name, user_id);
        if (r < 0)
                return log_warning_errno(r, "Cannot give Unix account %s (stitch user %s) a uid: %m", u->unix_name,
                                         user_id);

        log_info("Unix account %s (stitch user %s): uid and gid %" PRId64 ".", u->unix_name, user_id, uid);
        stitch_events_users_changed(&core->events);
        *ret_uid = uid;
        return 1;
}

#define ASSIGN_BATCH 100

int stitch_unix_accounts_assign_missing(struct stitch_core *core, size_t *ret_n) {
        size_t total = 0;
        int r = 0;

        assert(core && ret_n);
        for (;;) {
                _cleanup_(stitch_strv_freep) char **ids = NULL;
                size_t n = 0, progress = 0;

                r = core->store_ops->user_list_unix_unassigned(core->store, ASSIGN_BATCH, &ids);
                if (r < 0)
                        break;
                for (char **id = ids; *id; id++, n++) {
                        int64_t uid;
                        r = stitch_unix_account_assign(core, *id, &uid);
                        if (r == -ENOSPC || r == -EIO || r == -ENOMEM)
                                goto done;
                        if (r > 0) {
                                total++;
                                progress++;
                        }
                        r = 0; /* gone or renamed meanwhile: not ours to give */
                }
                /* A batch that gave nothing would come back the same. */
                if (n < ASSIGN_BATCH || progress == 0)
                        break;
        }
done:
        if (total > 0)
                log_info("Gave %zu Unix accounts a uid.", total);
        *ret_n = total;
        return r < 0 ? r : 0;
}

/* ---- records -------------------------------------------------------------------------------- */

/* systemd's valid_gecos(): valid UTF-8, no control characters, no ':' (a passwd field). */
static bool gecos_valid(const char *s) {
        if (isempty(s) || strlen(s) > 1024 || !stitch_utf8_is_valid(s, strlen(s)))
                return false;
        for (const unsigned char *c = (const unsigned char *) s; *c; c++)
                if (*c < 0x20 || *c == 0x7f || *c == ':')
                        return false;
        return true;
}

static bool is_account(const struct stitch_user *u) {
        return u && u->unix_name && u->unix_uid > 0 && u->unix_uid <= INT32_MAX;
}

int stitch_unix_account_user_record(struct stitch_core *core, const struct stitch_user *u, cJSON **ret) {
        const struct stitch_config *c = &core->config;
        _cleanup_(cJSON_Deletep) cJSON *j = NULL;
        _cleanup_free_ char *home = NULL;

        assert(ret);
        if (!is_account(u) || !c->accounts_home_base || !c->accounts_shell)
                return -EINVAL;
        if (asprintf(&home, "%s/%s", streq(c->accounts_home_base, "/") ? "" : c->accounts_home_base,
                     u->unix_name) < 0)
                return -ENOMEM;
        j = cJSON_CreateObject();
        if (!j || !cJSON_AddStringToObject(j, "userName", u->unix_name) ||
            !cJSON_AddNumberToObject(j, "uid", (double) u->unix_uid) ||
            !cJSON_AddNumberToObject(j, "gid", (double) u->unix_uid) ||
            !cJSON_AddStringToObject(j, "realName", gecos_valid(u->name) ? u->name : u->unix_name) ||
            !cJSON_AddStringToObject(j, "homeDirectory", home) ||
            !cJSON_AddStringToObject(j, "shell", c->accounts_shell) ||
            !cJSON_AddStringToObject(j, "disposition", "regular") ||
            !cJSON_AddStringToObject(j, "service", STITCH_USERDB_SERVICE) ||
            !cJSON_AddBoolToObject(j, "locked", u->disabled))
                return -ENOMEM;
        *ret = TAKE_PTR(j);
        return 0;
}

int stitch_unix_account_group_record(struct stitch_core *core, const struct stitch_user *u, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *j = NULL;

        (void) core;
        assert(ret);
        if (!is_account(u))
                return -EINVAL;
        j = cJSON_CreateObject();
        if (!j || !cJSON_AddStringToObject(j, "groupName", u->unix_name) ||
            !cJSON_AddNumberToObject(j, "gid", (double) u->unix_uid) ||
            !cJSON_AddStringToObject(j, "service", STITCH_USERDB_SERVICE))
                return -ENOMEM;
        *ret = TAKE_PTR(j);
        return 0;
}

/* ---- memberships ---------------------------------------------------------------------------- */

/* Appends the valid group names of u's data ("groups": ["dev", ...]) to b. */
static int add_data_groups(const struct stitch_user *u, struct stitch_strv_builder *b) {
        _cleanup_(cJSON_Deletep) cJSON *data = NULL;
        const cJSON *groups, *g;
        size_t n = 0;

        if (!u->data_json)
                return 0;
        data = cJSON_Parse(u->data_json);
        if (!data)
                return 0; /* not ours to judge here */
        groups = cJSON_GetObjectItemCaseSensitive(data, "groups");
        if (!cJSON_IsArray(groups))
                return 0;
        cJSON_ArrayForEach(g, groups) {
                if (n >= STITCH_UNIX_DATA_GROUPS_MAX)
                        break;
                if (!cJSON_IsString(g) || !stitch_unix_name_valid(g->valuestring) ||
                    streq(g->valuestring, u->unix_name) || stitch_strv_contains(b->l, g->valuestring))
                        continue;
                int r = stitch_strv_builder_add(b, g->valuestring);
                if (r < 0)
                        return r;
                n++;
        }
        return 0;
}

int stitch_unix_account_groups(struct stitch_core *core, const struct stitch_user *u, char ***ret_groups) {
        struct stitch_strv_builder b = {};
        int r = 0;

        assert(core && u && ret_groups);
        for (char **g = core->config.accounts_groups; r >= 0 && g && *g; g++)
                if (!streq_ptr(*g, u->unix_name) && !stitch_strv_contains(b.l, *g))
                        r = stitch_strv_builder_add(&b, *g);
        if (r >= 0)
                r = add_data_groups(u, &b);
        if (r < 0) {
                stitch_strv_builder_done(&b);
                return r;
        }
        *ret_groups = stitch_strv_builder_finish(&b);
        return *ret_groups ? 0 : -ENOMEM;
}

/* Whether an account is to be served; logs a collision once. */
static bool servable(struct stitch_core *core, const struct stitch_user *u) {
        if (!is_account(u))
                return false;
        if (!stitch_unix_account_collides(core, u->unix_name, u->unix_uid))
                return true;
        if (files_first_report(core->unix_files, u->id))
                log_warning("Unix account %s (uid %" PRId64 ", stitch user %s) clashes with %s or %s, or they "
                            "cannot be read: not served.",
                            u->unix_name, u->unix_uid, u->id, core->unix_files->files[FILE_PASSWD].path,
                            core->unix_files->files[FILE_GROUP].path);
        return false;
}

int stitch_unix_account_members(struct stitch_core *core, const char *group, char ***ret_user_names) {
        struct stitch_strv_builder b = {};
        bool everyone;
        int64_t after = 0;
        size_t n_members = 0;
        int r = 0;

        assert(core && ret_user_names);
        if (!stitch_unix_name_valid(group))
                return -EINVAL;
        everyone = stitch_strv_contains(core->config.accounts_groups, group);

        while (r >= 0 && n_members < STITCH_UNIX_MEMBERS_MAX) {
                struct stitch_user **a = NULL;
                size_t n = 0;

                r = core->store_ops->user_list_unix(core->store, after, LIST_PAGE, &a, &n);
                if (r < 0 || n == 0) {
                        stitch_user_array_free(a, n);
                        break;
                }
                after = a[n - 1]->unix_uid;
                for (size_t i = 0; r >= 0 && i < n && n_members < STITCH_UNIX_MEMBERS_MAX; i++) {
                        bool member = everyone;
                        if (!member && !streq(a[i]->unix_name, group)) {
                                _cleanup_(stitch_strv_freep) char **groups = NULL;
                                struct stitch_strv_builder g = {};
                                r = add_data_groups(a[i], &g);
                                groups = stitch_strv_builder_finish(&g);
                                if (r >= 0 && !groups)
                                        r = -ENOMEM;
                                member = r >= 0 && stitch_strv_contains(groups, group);
                        }
                        if (member && servable(core, a[i])) {
                                r = stitch_strv_builder_add(&b, a[i]->unix_name);
                                n_members++;
                        }
                }
                stitch_user_array_free(a, n);
                if (n < LIST_PAGE)
                        break;
        }
        if (r < 0) {
                stitch_strv_builder_done(&b);
                return r;
        }
        *ret_user_names = stitch_strv_builder_finish(&b);
        return *ret_user_names ? 0 : -ENOMEM;
}

/* ---- look-ups ------------------------------------------------------------------------------- */

static int find(struct stitch_core *core, enum stitch_user_key by, const char *value, struct stitch_user **ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        int r = core->store_ops->user_find(core->store, by, value, &u);
        if (r < 0)
                return r;
        if (!servable(core, u))
                return -ENOENT;
        *ret = TAKE_PTR(u);
        return 0;
}

int stitch_unix_account_find_by_name(struct stitch_core *core, const char *name, struct stitch_user **ret) {
        assert(core && ret);
        if (!stitch_unix_name_valid(name))
                return -EINVAL;
        return find(core, STITCH_USER_BY_UNIX_NAME, name, ret);
}

int stitch_unix_account_find_by_uid(struct stitch_core *core, int64_t uid, struct stitch_user **ret) {
        char text[24];

        assert(core && ret);
        if (uid <= 0 || uid > INT32_MAX)
                return -ENOENT;
        snprintf(text, sizeof(text), "%" PRId64, uid);
        return find(core, STITCH_USER_BY_UNIX_UID, text, ret);
}

typedef int (*record_fn)(struct stitch_core *core, const struct stitch_user *u, cJSON **ret);

static int record_of(struct stitch_core *core, int r, struct stitch_user *u, record_fn build, cJSON **ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *owned = u;
        if (r < 0)
                return r;
        return build(core, owned, ret);
}

int stitch_unix_account_user_by_name(struct stitch_core *core, const char *name, cJSON **ret) {
        struct stitch_user *u = NULL;
        int r = stitch_unix_account_find_by_name(core, name, &u);
        return record_of(core, r, u, stitch_unix_account_user_record, ret);
}

int stitch_unix_account_user_by_uid(struct stitch_core *core, int64_t uid, cJSON **ret) {
        struct stitch_user *u = NULL;
        int r = stitch_unix_account_find_by_uid(core, uid, &u);
        return record_of(core, r, u, stitch_unix_account_user_record, ret);
}

int stitch_unix_account_group_by_name(struct stitch_core *core, const char *name, cJSON **ret) {
        struct stitch_user *u = NULL;
        int r = stitch_unix_account_find_by_name(core, name, &u);
        return record_of(core, r, u, stitch_unix_account_group_record, ret);
}

int stitch_unix_account_group_by_gid(struct stitch_core *core, int64_t gid, cJSON **ret) {
        struct stitch_user *u = NULL;
        int r = stitch_unix_account_find_by_uid(core, gid, &u);
        return record_of(core, r, u, stitch_unix_account_group_record, ret);
}

int stitch_unix_accounts_list(struct stitch_core *core, int64_t after_uid, size_t limit, struct stitch_user ***ret,
                              size_t *ret_n, int64_t *ret_next_uid) {
        struct stitch_user **a = NULL;
        size_t n = 0, kept = 0;
        int64_t next = after_uid;

        assert(core && ret && ret_n && ret_next_uid);
        int r = core->store_ops->user_list_unix(core->store, after_uid, limit, &a, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                next = a[i]->unix_uid;
                if (servable(core, a[i]))
                        a[kept++] = a[i];
                else
                        stitch_user_free(a[i]);
        }
        *ret = a;
        *ret_n = kept;
        *ret_next_uid = next;
        return 0;
}
