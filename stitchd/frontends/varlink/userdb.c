/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* io.systemd.UserDatabase: stitch users as Unix accounts for nss-systemd
 * (systemd's USER_GROUP_API.md; what nss-systemd 252 sends is in
 * docs/userdb.md). One listener, one interface, three methods, answered on
 * the event loop from the local store and /etc/passwd and /etc/group read
 * as files: every NSS lookup of a name not in /etc/passwd waits on this, so
 * nothing here waits on anything else. */
#include <stdlib.h>
#include <string.h>

#include "core/unix-accounts.h"
#include "frontends/varlink/call.h"
#include "frontends/varlink/userdb-request.h"
#include "log.h"
#include "strv.h"
#include "validate.h"
#include "wire.h"

#define USERDB_SOCKET "/run/systemd/userdb/" STITCH_USERDB_SERVICE
/* Records read per store query while enumerating. */
#define ENUMERATE_PAGE 256

static int error_reply(struct stitch_call *c, const char *error, const char *parameter) {
        cJSON *p = NULL;
        if (parameter) {
                p = cJSON_CreateObject();
                if (p)
                        cJSON_AddStringToObject(p, "parameter", parameter);
        }
        if (c->reply)
                stitch_json_wipe_and_delete(c->reply);
        c->reply = stitch_wire_error_new(error, p);
        return 0;
}

/* 0 and *ret filled, or an error reply set and -EINVAL. */
static int decode(struct stitch_call *c, struct stitch_userdb_request *ret) {
        const char *error = NULL, *parameter = NULL;
        int r = stitch_userdb_request_parse(c->method, c->params, STITCH_USERDB_SERVICE, ret, &error, &parameter);
        if (r == -EOPNOTSUPP)
                error = "org.varlink.service.MethodNotFound";
        if (r < 0) {
                error_reply(c, error, parameter);
                return -EINVAL;
        }
        return 0;
}

static bool serving(struct stitch_call *c) {
        return c->manager->core->config.accounts_userdb;
}

static cJSON *record_reply(cJSON *record) {
        cJSON *p = cJSON_CreateObject();
        if (!p || !cJSON_AddItemToObject(p, "record", record)) {
                cJSON_Delete(record);
                cJSON_Delete(p);
                return NULL;
        }
        if (!cJSON_AddFalseToObject(p, "incomplete")) {
                cJSON_Delete(p);
                return NULL;
        }
        return p;
}

/* Several replies: each one is held back until the next exists, so the last
 * goes out without "continues". */
struct replies {
        struct stitch_call *call;
        cJSON *held;
        size_t sent;
};

static int replies_add(struct replies *r, cJSON *params) {
        if (!params)
                return -ENOMEM;
        if (r->held) {
                int k = stitch_call_reply_continues(r->call, TAKE_PTR(r->held));
                if (k < 0) {
                        cJSON_Delete(params);
                        return k;
                }
                r->sent++;
        }
        r->held = params;
        return 0;
}

/* The last reply, or NoRecordFound when there was none. */
static int replies_finish(struct replies *r, int error) {
        if (error < 0) {
                cJSON_Delete(r->held);
                return error;
        }
        if (!r->held)
                return error_reply(r->call, STITCH_USERDB_ERROR_NO_RECORD, NULL);
        return stitch_call_reply(r->call, TAKE_PTR(r->held));
}

/* Calls fn for every account, in uid order, a page of the store at a time,
 * until fn fails. */
static int for_each_account(struct stitch_core *core, int (*fn)(struct stitch_user *u, void *userdata),
                            void *userdata) {
        int64_t after = -1;
        int r = 0;

        for (;;) {
                struct stitch_user **list = NULL;
                size_t n = 0;
                int64_t next = after;
                r = stitch_unix_accounts_list(core, after, ENUMERATE_PAGE, &list, &n, &next);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n && r >= 0; i++)
                        r = fn(list[i], userdata);
                stitch_user_array_free(list, n);
                if (r < 0 || next == after)
                        return r;
                after = next;
        }
}

struct enumeration {
        struct stitch_call *call;
        struct replies *out;
        bool groups;
};

static int add_record(struct stitch_user *u, void *userdata) {
        struct enumeration *e = userdata;
        struct stitch_core *core = e->call->manager->core;
        cJSON *rec = NULL;
        int r = e->groups ? stitch_unix_account_group_record(core, u, &rec)
                          : stitch_unix_account_user_record(core, u, &rec);
        return r < 0 ? r : replies_add(e->out, record_reply(rec));
}

/* Every account, in uid order, as user or as group records. */
static int enumerate_records(struct stitch_call *c, bool groups) {
        struct replies out = {.call = c};
        struct enumeration e = {.call = c, .out = &out, .groups = groups};
        return replies_finish(&out, for_each_account(c->manager->core, add_record, &e));
}

/* Lookups that fail for a reason other than "no such account" answer
 * ServiceNotAvailable: nss-systemd then goes on to the next source at once. */
static int lookup_failed(struct stitch_call *c, int r, const char *what) {
        if (r == -ENOENT || r == -EINVAL)
                return error_reply(c, STITCH_USERDB_ERROR_NO_RECORD, NULL);
        log_warning_errno(r, "userdb: cannot look up %s: %m", what);
        return error_reply(c, STITCH_USERDB_ERROR_NOT_AVAILABLE, NULL);
}

static bool enumeration_allowed(struct stitch_call *c) {
        return c->more && c->manager->core->config.accounts_enumerate;
}

static int get_record(struct stitch_call *c, bool groups) {
        struct stitch_core *core = c->manager->core;
        struct stitch_userdb_request q;
        cJSON *rec = NULL;
        int r;

        if (decode(c, &q) < 0)
                return 0;
        const char *name = groups ? q.group_name : q.user_name;
        if (!serving(c))
                return error_reply(c, STITCH_USERDB_ERROR_NO_RECORD, NULL);
        if (!q.has_id && !name) {
                if (!enumeration_allowed(c))
                        return error_reply(c, STITCH_USERDB_ERROR_NO_ENUMERATION, NULL);
                return enumerate_records(c, groups);
        }
        if (name)
                r = groups ? stitch_unix_account_group_by_name(core, name, &rec)
                           : stitch_unix_account_user_by_name(core, name, &rec);
        else
                r = groups ? stitch_unix_account_group_by_gid(core, q.id, &rec)
                           : stitch_unix_account_user_by_uid(core, q.id, &rec);
        if (r < 0)
                return lookup_failed(c, r, name ? name : "an id");
        if (name && q.has_id) {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, groups ? "gid" : "uid");
                if (!cJSON_IsNumber(id) || (int64_t) id->valuedouble != (int64_t) q.id) {
                        cJSON_Delete(rec);
                        return error_reply(c, STITCH_USERDB_ERROR_CONFLICT, NULL);
                }
        }
        cJSON *p = record_reply(rec);
        return p ? stitch_call_reply(c, p) : -ENOMEM;
}

static int method_get_user_record(struct stitch_call *c) {
        return get_record(c, false);
}

static int method_get_group_record(struct stitch_call *c) {
        return get_record(c, true);
}

static cJSON *membership(const char *user, const char *group) {
        cJSON *p = cJSON_CreateObject();
        if (p && (!cJSON_AddStringToObject(p, "userName", user) || !cJSON_AddStringToObject(p, "groupName", group))) {
                cJSON_Delete(p);
                return NULL;
        }
        return p;
}

/* The memberships of one account (its supplementary groups), optionally
 * only the one in 'only'. */
static int user_memberships(struct stitch_call *c, struct replies *out, const struct stitch_user *u,
                            const char *only) {
        _cleanup_(stitch_strv_freep) char **groups = NULL;
        int r = stitch_unix_account_groups(c->manager->core, u, &groups);
        for (char **g = groups; r >= 0 && g && *g; g++)
                if (!only || streq(*g, only))
                        r = replies_add(out, membership(u->unix_name, *g));
        return r;
}

static int add_memberships(struct stitch_user *u, void *userdata) {
        struct enumeration *e = userdata;
        return user_memberships(e->call, e->out, u, NULL);
}

static int method_get_memberships(struct stitch_call *c) {
        struct stitch_core *core = c->manager->core;
        struct replies out = {.call = c};
        struct stitch_userdb_request q;
        int r = 0;

        if (decode(c, &q) < 0)
                return 0;
        if (!serving(c))
                return error_reply(c, STITCH_USERDB_ERROR_NO_RECORD, NULL);
        /* Without "more" a caller gets the first membership, as varlink's
         * one-reply rule allows: replies_add() then sends nothing early. */
        if (q.user_name) {
                _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
                r = stitch_unix_account_find_by_name(core, q.user_name, &u);
                if (r < 0)
                        return lookup_failed(c, r, q.user_name);
                if (!c->more) {
                        _cleanup_(stitch_strv_freep) char **groups = NULL;
                        r = stitch_unix_account_groups(core, u, &groups);
                        for (char **g = groups; r >= 0 && g && *g; g++)
                                if (!q.group_name || streq(*g, q.group_name))
                                        return stitch_call_reply(c, membership(u->unix_name, *g));
                        return replies_finish(&out, r);
                }
                return replies_finish(&out, user_memberships(c, &out, u, q.group_name));
        }
        if (q.group_name) {
                _cleanup_(stitch_strv_freep) char **members = NULL;
                r = stitch_unix_account_members(core, q.group_name, &members);
                if (r < 0)
                        return lookup_failed(c, r, q.group_name);
                for (char **m = members; r >= 0 && m && *m; m++) {
                        if (!c->more)
                                return stitch_call_reply(c, membership(*m, q.group_name));
                        r = replies_add(&out, membership(*m, q.group_name));
                }
                return replies_finish(&out, r);
        }
        if (!enumeration_allowed(c))
                return error_reply(c, STITCH_USERDB_ERROR_NO_ENUMERATION, NULL);
        struct enumeration e = {.call = c, .out = &out};
        r = for_each_account(core, add_memberships, &e);
        return replies_finish(&out, r);
}

static const struct stitch_method userdb_methods[] = {
        {"io.systemd.UserDatabase.GetUserRecord", method_get_user_record, 0},
        {"io.systemd.UserDatabase.GetGroupRecord", method_get_group_record, 0},
        {"io.systemd.UserDatabase.GetMemberships", method_get_memberships, 0},
};

static const char *const userdb_errors[] = {
        STITCH_USERDB_ERROR_NO_RECORD,    STITCH_USERDB_ERROR_BAD_SERVICE,    STITCH_USERDB_ERROR_NOT_AVAILABLE,
        STITCH_USERDB_ERROR_CONFLICT,     STITCH_USERDB_ERROR_NO_ENUMERATION, STITCH_VARLINK_ERROR_INVALID_PARAMETER,
        NULL,
};

static const struct stitch_interface interface_userdb = {
        STITCH_USERDB_INTERFACE, userdb_methods, ELEMENTSOF(userdb_methods), userdb_errors,
};

static const char *userdb_socket_path(const struct stitch_config *c) {
        return c->accounts_userdb ? USERDB_SOCKET : NULL;
}

/* Every process looks users up: the socket is 0666, like systemd's own. */
const struct stitch_listener stitch_listener_userdb = {
        .name = STITCH_USERDB_SERVICE,
        .path = userdb_socket_path,
        .mode = 0666,
        .directory_mode = 0755,
        .create_parents = true,
        .max_output = 16U << 20, /* an enumeration: about 60,000 records unread at most */
        .interfaces = (const struct stitch_interface *const[]) {&interface_userdb},
        .n_interfaces = 1,
};
